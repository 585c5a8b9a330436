#!/bin/bash
# debug.sh ACXC LIBACX BUILD - the .acx source is what tools show: gdb
# breaks and steps on .acx lines inside async functions, and sanitizer
# reports name the .acx line of the faulty statement.
set -u
acxc=$1 lib=$2 build=$3
dir="$build/tests/debug"
mkdir -p "$dir"
pass=0 fail=0
src=tests/debug/overflow.acx

check() { # description command...
    local what=$1; shift
    if "$@" >"$dir/last.out" 2>&1; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $what" >&2
        head -20 "$dir/last.out" >&2
    fi
}

"$acxc" --cc gcc -Iruntime -o "$dir/overflow.c" "$src" || exit 1

if command -v gdb >/dev/null 2>&1; then
    gcc -std=gnu11 -g -O0 -Iruntime -o "$dir/prog" "$dir/overflow.c" \
        runtime/*.c -lpthread || exit 1
    # line 8 is `int doubled = i * 2;` after an await in step()
    check "gdb breaks on an .acx line inside an async function, after an await" \
        bash -c "gdb -nx -batch -ex 'break overflow.acx:8' -ex run -ex bt \
                 '$dir/prog' 2>&1 | grep -q '^#0 .*acx__body_step .*overflow.acx:8'"
    check "gdb's next steps from .acx line to .acx line" \
        bash -c "gdb -nx -batch -ex 'break overflow.acx:8' -ex run -ex next \
                 -ex 'info line' '$dir/prog' 2>&1 | grep -q 'Line 9 of \".*overflow.acx\"'"
    check "a breakpoint on an await line is reached in its caller" \
        bash -c "gdb -nx -batch -ex 'break overflow.acx:16' -ex run -ex bt \
                 '$dir/prog' 2>&1 | grep -q 'acx__body_main_task .*overflow.acx:16'"
    # the generated tables, init and constructor map to the .c file: no
    # .acx line of a body is claimed twice
    for line in 7 8 12 14 16; do
        check "a breakpoint on overflow.acx:$line has one location" \
            bash -c "gdb -nx -batch -ex 'break overflow.acx:$line' '$dir/prog' 2>&1 |
                     grep '^Breakpoint 1' | grep -vq 'locations'"
    done
else
    echo "debug: gdb missing, gdb checks skipped" >&2
fi

gcc -std=gnu11 -g -O1 -fsanitize=address -fno-omit-frame-pointer -Iruntime \
    -o "$dir/asan" "$dir/overflow.c" runtime/*.c -lpthread || exit 1
check "AddressSanitizer names the .acx line of the overflow" \
    bash -c "'$dir/asan' 2>&1 | grep -q '#0 .* in acx__body_main_task .*overflow.acx:18'"

echo "debug: $pass passed, $fail failed"
[ $fail = 0 ]
