#!/bin/sh
# soak.sh BUILD MINUTES CONNS [SAMPLE_MS [SOAK_LOAD OPTIONS...]] - run soak_server, load it with
# soak_load for MINUTES (a decimal is fine), then stop it with SIGTERM.
# soak_load prints the report and fails on a violation; this script also
# fails when the server does not exit 0 after SIGTERM within 30 s, or
# leaves a process of its own behind (its pool's workers, found as its
# descendants before the SIGTERM).
set -u
build=$1 minutes=$2 conns=$3 sample_ms=${4:-5000}
shift 3; [ $# -gt 0 ] && shift
seconds=$(awk -v m="$minutes" 'BEGIN { printf "%g", m * 60 }')
dir=$(mktemp -d "${TMPDIR:-/tmp}/acx-soak.XXXXXX")
trap 'kill $spid 2>/dev/null; rm -rf "$dir"' EXIT

mkfifo "$dir/port"
"$build/tests/soak/soak_server" >"$dir/port" 2>"$dir/server.err" &
spid=$!
read -r port <"$dir/port" || { echo "soak: server did not start"; cat "$dir/server.err"; exit 1; }
echo "soak: server pid $spid port $port; load: $conns connections for $seconds s; $(uptime)"

"$build/tests/soak/soak_load" --port "$port" --pid "$spid" --conns "$conns" \
    --seconds "$seconds" --sample-ms "$sample_ms" "$@"
rc=$?

# the server's descendants now (zygote, forkserver, pool workers): none
# may outlive it
desc=$(ps -eo pid=,ppid= | awk -v root="$spid" '
    { parent[$1] = $2 }
    END { for (p in parent) for (q = parent[p]; q > 1; q = parent[q])
              if (q == root) { print p; break } }')
kill -TERM "$spid"
i=0
while kill -0 "$spid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$spid" 2>/dev/null; then
    echo "soak: FAIL: the server did not exit within 30 s of SIGTERM"; rc=1
else
    wait "$spid"; src=$?
    [ $src -eq 0 ] || { echo "soak: FAIL: the server exited with $src"; rc=1; }
fi
# they notice the server's exit on their own: give them 5 s
i=0
while :; do
    left=""
    for p in $desc; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
    [ -z "$left" ] || [ $i -ge 50 ] && break
    sleep 0.1; i=$((i + 1))
done
[ -z "$left" ] || { echo "soak: FAIL: process(es) of the server outlived it by 5 s:"; ps -o pid,ppid,stat,comm -p $left; rc=1; }
echo "soak: the server's descendants at the end: $(echo $desc | wc -w), gone $((i * 100)) ms after it; its last words:"
sed 's/^/  /' "$dir/server.err" | tr '\n' ' ' | fold -w 76 -s; echo
echo "soak: $(uptime)"
exit $rc
