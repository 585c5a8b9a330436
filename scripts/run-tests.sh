#!/bin/bash
# run-tests.sh MODE ACXC LIBACX SANFLAGS BUILD - the generator's test runners.
#
#   run     tests/run/NAME.acx (or a directory NAME/ of .acx and .c files):
#           generated with acxc, compiled with gcc and clang under
#           -Wall -Wextra -Werror (plus SANFLAGS), run; stdout must equal
#           NAME.out (NAME/expected.out) and the exit status NAME.rc (0).
#           A first line "// acxc-flags: ..." passes options to acxc,
#           "// cc-flags: ..." to the C compiler, "// compilers: gcc" limits
#           the compilers.  RUN_DIR=DIR runs DIR's programs instead
#           (make check-docs-examples: the guides' examples, docs/examples).
#   diag    tests/diag/NAME.acx: acxc's stderr must equal NAME.err; with an
#           error in it acxc must exit 1 and leave no output file, else 0.
#   ccerr   tests/ccerr/NAME.acx: acxc accepts it but the C compiler
#           rejects it; gcc's and clang's messages must name the .acx line
#           given in NAME.expect (a "file:line:" prefix), proving #line.
#   golden  tests/golden/NAME.acx: the generated code (from acxc's marker
#           on, --no-line) must equal NAME.golden (UPDATE=1 rewrites).
#
# Ends with "N passed, N failed" and fails when anything failed.
set -u
mode=$1 acxc=$2 lib=$3 san=$4 build=$5
root=$(pwd)
rundir=${RUN_DIR:-tests/run}
if [ -n "${RUN_DIR:-}" ]; then out="$build/$RUN_DIR"; else out="$build/tests/$mode"; fi
mkdir -p "$out"
pass=0 fail=0
failed=()

ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    failed+=("$1")
    echo "FAIL: $1: $2" >&2
}

flags_of() { # file key
    sed -n "1,3s|^// $2: *||p" "$1"
}

run_one() { # name acx-files... (first is the main one)
    local name=$1; shift
    local main=$1 dir="$out/$name" expected rcfile want=0
    if [ -d "$rundir/$name" ]; then
        expected="$rundir/$name/expected.out"
        rcfile="$rundir/$name/expected.rc"
    else
        expected="$rundir/$name.out"
        rcfile="$rundir/$name.rc"
    fi
    [ -f "$rcfile" ] && want=$(cat "$rcfile")
    local acxflags ccflags compilers
    acxflags=$(flags_of "$main" acxc-flags)
    ccflags=$(flags_of "$main" cc-flags)
    compilers=$(flags_of "$main" compilers)
    [ -n "$compilers" ] || compilers="gcc clang"
    mkdir -p "$dir"
    for cc in $compilers; do
        local srcs=() f base
        for f in "$@"; do
            base=$(basename "$f" .acx)
            # shellcheck disable=SC2086
            if ! "$acxc" --cc "$cc" $acxflags -Iruntime -I"$dir" \
                    --header "$dir/$base.h" -o "$dir/$base.$cc.c" "$f" \
                    2>"$dir/acxc.$cc.err"; then
                bad "$name [$cc]" "acxc failed: $(head -5 "$dir/acxc.$cc.err")"
                return
            fi
            srcs+=("$dir/$base.$cc.c")
        done
        if [ -d "$rundir/$name" ]; then
            for f in "$rundir/$name"/*.c; do
                [ -f "$f" ] && srcs+=("$f")
            done
        fi
        # shellcheck disable=SC2086
        if ! $cc -std=gnu11 -g -O1 -Wall -Wextra -Werror $san $ccflags \
                -Iruntime -I"$dir" -o "$dir/prog.$cc" "${srcs[@]}" "$lib" \
                -lpthread 2>"$dir/cc.$cc.err"; then
            bad "$name [$cc]" "compile failed: $(head -8 "$dir/cc.$cc.err")"
            return
        fi
        local rc=0
        (cd "$dir" && timeout 60 "./prog.$cc" >"stdout.$cc" 2>"stderr.$cc")
        rc=$?
        if [ "$rc" != "$want" ]; then
            bad "$name [$cc]" "exit status $rc, want $want: $(head -5 "$dir/stderr.$cc")"
            return
        fi
        if ! diff -u "$expected" "$dir/stdout.$cc" >"$dir/diff.$cc"; then
            bad "$name [$cc]" "output differs:
$(head -20 "$dir/diff.$cc")"
            return
        fi
    done
    ok
}

case $mode in
run)
    for t in "$rundir"/*; do
        case $t in
        *.acx) run_one "$(basename "$t" .acx)" "$t" ;;
        *.out|*.rc) ;;
        *)  [ -d "$t" ] || continue
            mains=("$t"/*.acx)
            run_one "$(basename "$t")" "${mains[@]}" ;;
        esac
    done ;;
diag)
    for t in tests/diag/*.acx; do
        name=$(basename "$t" .acx)
        o="$out/$name.c"
        rm -f "$o"
        "$acxc" -Iruntime -o "$o" "$t" 2>"$out/$name.err"
        rc=$?
        if grep -q "error:" "tests/diag/$name.err"; then want=1; else want=0; fi
        if [ $rc != $want ]; then
            bad "$name" "exit status $rc, want $want"
            continue
        fi
        if [ $want = 1 ] && [ -e "$o" ]; then
            bad "$name" "output file left behind after an error"
            continue
        fi
        if ! diff -u "tests/diag/$name.err" "$out/$name.err" >"$out/$name.diff"; then
            bad "$name" "diagnostics differ:
$(cat "$out/$name.diff")"
            continue
        fi
        ok
    done ;;
ccerr)
    for t in tests/ccerr/*.acx; do
        name=$(basename "$t" .acx)
        want=$(cat "tests/ccerr/$name.expect")
        good=1
        for cc in gcc clang; do
            if ! "$acxc" --cc "$cc" -Iruntime -o "$out/$name.$cc.c" "$t"; then
                bad "$name [$cc]" "acxc failed"; good=0; break
            fi
            if $cc -std=gnu11 -Wall -Wextra -Iruntime -c -o /dev/null \
                    "$out/$name.$cc.c" 2>"$out/$name.$cc.err"; then
                bad "$name [$cc]" "the C compiler accepted it"; good=0; break
            fi
            if ! grep -q "^$want" "$out/$name.$cc.err"; then
                bad "$name [$cc]" "no message at $want:
$(head -5 "$out/$name.$cc.err")"
                good=0; break
            fi
        done
        [ $good = 1 ] && ok
    done ;;
golden)
    for t in tests/golden/*.acx; do
        name=$(basename "$t" .acx)
        "$acxc" --no-line -Iruntime -o "$out/$name.c" "$t" || {
            bad "$name" "acxc failed"; continue; }
        sed -n '/acxc: generated code follows/,$p' "$out/$name.c" \
            >"$out/$name.golden"
        if [ "${UPDATE:-}" = 1 ]; then
            cp "$out/$name.golden" "tests/golden/$name.golden"
        fi
        if ! diff -u "tests/golden/$name.golden" "$out/$name.golden" \
                >"$out/$name.diff"; then
            bad "$name" "generated code differs:
$(head -30 "$out/$name.diff")"
            continue
        fi
        ok
    done ;;
*)
    echo "usage: $0 run|diag|golden|ccerr ACXC LIBACX SANFLAGS BUILD" >&2
    exit 2 ;;
esac

echo "$mode: $pass passed, $fail failed"
[ $fail = 0 ] || { printf '  failed: %s\n' "${failed[@]}" >&2; exit 1; }
[ $pass -gt 0 ] || { echo "$mode: no test ran" >&2; exit 1; }
exit 0
