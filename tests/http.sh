#!/bin/bash
# http.sh HTTP_BINARY BUILD - examples/http.acx from the outside: curl for
# GET, keep-alive, 404, HEAD and 405; raw requests over bash's /dev/tcp
# for pipelining, HTTP/1.0, Connection: close, the header limit, a
# malformed request and the idle timeout; then SIGTERM must stop the
# server with status 0.  Also examples/echo --serve (beside HTTP_BINARY).
# Skipped (with a message) when curl is missing, except in CI (CI set),
# where that is a failure.
set -u
http=$1 build=$2
dir="$build/tests/http"
rm -rf "$dir"
mkdir -p "$dir"
pass=0 fail=0

if ! command -v curl >/dev/null 2>&1; then
    if [ -n "${CI:-}" ]; then
        echo "FAIL: http: curl is missing (CI installs it: .ci/run)" >&2
        exit 1
    fi
    echo "http: SKIPPED: curl not installed (apt-get install curl)"
    exit 0
fi

check() { # description command...
    local what=$1
    shift
    if "$@" >"$dir/last.out" 2>"$dir/last.err"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: http: $what" >&2
        head -c 600 "$dir/last.out" "$dir/last.err" >&2
        echo >&2
    fi
}

IDLE_MS=1500
"$http" --port 0 --idle-ms $IDLE_MS >"$dir/port" 2>"$dir/server.err" &
pid=$!
port=
for _ in $(seq 100); do
    read -r port 2>/dev/null <"$dir/port" && [ -n "$port" ] && break
    sleep 0.05
done
if [ -z "$port" ]; then
    echo "FAIL: http: the server did not print its port" >&2
    cat "$dir/server.err" >&2
    kill "$pid" 2>/dev/null
    exit 1
fi
url="http://127.0.0.1:$port"

# raw REQUEST [SECONDS]: send REQUEST (printf escapes) on a new connection
# and print everything the server sends until it closes; fails (124) when
# it has not closed within SECONDS (default 1.2, well under the idle
# timeout, so a connection wrongly kept open is caught).
raw() {
    (
        exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
        printf "$1" >&3
        timeout "${2:-1.2}" cat <&3
    )
}
# the status codes of the responses in raw's output, in order
statuses() { grep -a -o '^HTTP/1\.1 [0-9]*' | cut -d' ' -f2 | tr '\n' ' '; }

t_get() {
    [ "$(curl -s -o "$dir/body" -w '%{http_code}' "$url/")" = 200 ] &&
        [ "$(cat "$dir/body")" = "Hello from acx!" ]
}
t_keepalive() { # the second request reuses the first one's connection
    [ "$(curl -s -o /dev/null -o /dev/null -w '%{http_code}:%{num_connects} ' \
        "$url/" "$url/")" = "200:1 200:0 " ]
}
t_404() {
    [ "$(curl -s -o "$dir/body404" -w '%{http_code}' "$url/nope")" = 404 ] &&
        [ "$(cat "$dir/body404")" = "Not Found" ]
}
t_head() {
    curl -s -I "$url/" >"$dir/head" &&
        grep -q '^HTTP/1.1 200 OK' "$dir/head" &&
        grep -q '^Content-Length: 16' "$dir/head" &&
        [ "$(curl -s --head -o /dev/null -w '%{size_download}' "$url/")" = 0 ]
}
t_405() {
    curl -s -D "$dir/h405" -o /dev/null -X POST -d x "$url/" &&
        grep -q '^HTTP/1.1 405' "$dir/h405" && grep -q '^Allow: GET, HEAD' "$dir/h405"
}
t_pipelined() { # three requests in one write: three responses, in order
    raw 'GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\nHEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' >"$dir/pipe" &&
        [ "$(statuses <"$dir/pipe")" = "200 404 200 " ] &&
        [ "$(grep -c 'Hello from acx!' "$dir/pipe")" = 1 ] &&
        tail -c 21 "$dir/pipe" | grep -q 'Connection: close'
}
t_close() { # Connection: close is honoured (raw fails if it stays open)
    raw 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' >"$dir/close" &&
        [ "$(statuses <"$dir/close")" = "200 " ]
}
t_http10() { # HTTP/1.0: closed after one response unless keep-alive
    raw 'GET / HTTP/1.0\r\n\r\n' >"$dir/h10" && [ "$(statuses <"$dir/h10")" = "200 " ] &&
        raw 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /y HTTP/1.0\r\n\r\n' >"$dir/h10ka" &&
        [ "$(statuses <"$dir/h10ka")" = "200 404 " ]
}
t_limit() { # a request head over 8 KiB: 431, then close
    local big
    big=$(head -c 9000 /dev/zero | tr '\0' a)
    raw "GET / HTTP/1.1\r\nX-Big: $big\r\n\r\n" >"$dir/big" &&
        [ "$(statuses <"$dir/big")" = "431 " ]
}
t_bad() {
    raw 'BOGUS\r\n\r\n' >"$dir/bad" && [ "$(statuses <"$dir/bad")" = "400 " ]
}
t_strict() { # what could make client and server disagree on where a request ends: 400 and close
    local req
    for req in 'GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\n' \
        'GET / HTTP/1.1\r\nX: a\r\n Content-Length: 5\r\n\r\n' \
        'GET / HTTP/1.1\r\nContent-Length: 0, 5\r\n\r\n' \
        'GET / HTTP/1.1\r\nContent-Length: +5\r\n\r\n' \
        'GET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n' \
        'GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n' \
        'GET / HTTP/1.1\r\nX: a\nContent-Length: 5\r\n\r\n' \
        'GET / HTTP/1.1\r\nX: a\rb\r\n\r\n' \
        'GET /\001 HTTP/1.1\r\n\r\n' 'GET / HTTP/1.2\r\n\r\n' \
        'GET / HTTP/1.1 \r\n\r\n' 'G@T / HTTP/1.1\r\n\r\n'; do
        raw "$req" >"$dir/strict" || return 1
        [ "$(statuses <"$dir/strict")" = "400 " ] || { echo "not 400: $req"; return 1; }
    done
    # the same length twice, or a zero one, is fine and keeps the connection
    raw 'GET / HTTP/1.1\r\nContent-Length: 0\r\ncontent-length:  0 \r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n' >"$dir/strict" &&
        [ "$(statuses <"$dir/strict")" = "200 200 " ]
}
t_version() { # another major version: 505, then close
    raw 'GET / HTTP/2.0\r\n\r\n' >"$dir/v2" && grep -q '^HTTP/1.1 505 HTTP Version Not Supported' "$dir/v2"
}
t_headers() { # 100 header lines are fine, 101 are 431
    local h99
    h99=$(for i in $(seq 99); do printf 'X-%d: v\\r\\n' "$i"; done)
    raw "GET / HTTP/1.1\r\n${h99}Connection: close\r\n\r\n" >"$dir/h100" &&
        [ "$(statuses <"$dir/h100")" = "200 " ] &&
        raw "GET / HTTP/1.1\r\n${h99}X-100: v\r\nConnection: close\r\n\r\n" >"$dir/h101" &&
        [ "$(statuses <"$dir/h101")" = "431 " ]
}
t_idle() { # an idle keep-alive connection is closed after IDLE_MS
    local t0 t1
    t0=$(date +%s%N)
    raw 'GET / HTTP/1.1\r\nHost: a\r\n\r\n' 6 >"$dir/idle" || return 1
    t1=$(date +%s%N)
    local ms=$(((t1 - t0) / 1000000))
    echo "closed after $ms ms"
    [ "$(statuses <"$dir/idle")" = "200 " ] && ((ms >= IDLE_MS - 100 && ms < IDLE_MS + 3000))
}

check "GET / answers 200 with the body" t_get
check "keep-alive: two URLs, one connection (num_connects 1 then 0)" t_keepalive
check "another path answers 404" t_404
check "HEAD: the headers with Content-Length, no body" t_head
check "POST answers 405 with Allow" t_405
check "pipelined requests are answered in order" t_pipelined
check "Connection: close is honoured" t_close
check "HTTP/1.0 closes unless keep-alive" t_http10
check "a request head over 8 KiB gets 431 and a close" t_limit
check "a malformed request gets 400 and a close" t_bad
check "a smuggling-prone or malformed head gets 400 and a close" t_strict
check "HTTP/2.0 gets 505" t_version
check "more than 100 header lines get 431" t_headers
check "an idle keep-alive connection is closed" t_idle

t_sigterm() {
    kill -TERM "$pid" && wait "$pid" && grep -q 'requests on' "$dir/server.err"
}
check "SIGTERM: a clean exit with status 0" t_sigterm
t_duration() {
    timeout 10 "$http" --port 0 --duration 0.2 >/dev/null 2>&1
}
check "--duration: the server stops by itself with status 0" t_duration
t_usage() {
    "$http" --bogus 2>/dev/null
    [ $? = 2 ]
}
check "a bad option exits 2" t_usage
kill "$pid" 2>/dev/null

# examples/echo --serve, the acx server of bench section 14, lives beside
t_echo_serve() { # echoes, then SIGINT stops it with status 0
    local echo_bin epid eport=
    echo_bin="$(dirname "$http")/echo"
    "$echo_bin" --serve 0 >"$dir/echo.port" 2>"$dir/echo.err" &
    epid=$!
    for _ in $(seq 100); do
        read -r eport 2>/dev/null <"$dir/echo.port" && [ -n "$eport" ] && break
        sleep 0.05
    done
    [ -n "$eport" ] || { kill "$epid"; return 1; }
    local got
    got=$(
        exec 3<>"/dev/tcp/127.0.0.1/$eport" || exit 1
        printf 'ping\n' >&3
        timeout 2 head -1 <&3
    )
    kill -INT "$epid"
    wait "$epid" && [ "$got" = ping ]
}
check "examples/echo --serve: echoes; SIGINT stops it with status 0" t_echo_serve

echo "http: $pass passed, $fail failed"
[ $fail = 0 ]
