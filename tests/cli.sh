#!/bin/bash
# cli.sh ACXC BUILD [SANFLAGS] - acxc's command line: options, dependencies, headers,
# exit status and the promise that an error leaves no output behind.
set -u
acxc=$1 build=$2 san=${3:-}
dir="$build/tests/cli"
rm -rf "$dir"
mkdir -p "$dir"
pass=0 fail=0

check() { # description command...
    local what=$1; shift
    if "$@" >"$dir/last.out" 2>"$dir/last.err"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $what" >&2
        head -5 "$dir/last.out" "$dir/last.err" >&2
    fi
}

cat >"$dir/lib.h" <<'EOF'
#define BASE 40
EOF
cat >"$dir/ok.acx" <<'EOF'
#include "lib.h"
#include <acx.h>
async int answer(int plus) { await acx_yield(); return BASE + plus; }
static async int hidden(void) { return 1; }
async int use(void) { return await answer(2) + await hidden() - 1; }
EOF
printf 'async int f(void) { return 1 }\n' >"$dir/bad.acx"

check "--version prints the version" \
    bash -c "'$acxc' --version | grep -q '^acxc [0-9]'"
check "--help prints usage and exits 0" \
    bash -c "'$acxc' --help | grep -q 'usage: acxc'"
check "an unknown option is an error" \
    bash -c "! '$acxc' --frobnicate '$dir/ok.acx' 2>/dev/null"
check "no input file is an error" \
    bash -c "! '$acxc' 2>/dev/null"
check "-o missing its argument is an error" \
    bash -c "! '$acxc' '$dir/ok.acx' -o 2>/dev/null"
check "a missing input is an error with no output" \
    bash -c "! '$acxc' -o '$dir/none.c' '$dir/none.acx' 2>/dev/null && [ ! -e '$dir/none.c' ]"
check "-I and -MD: dependencies name the header" \
    bash -c "'$acxc' -Iruntime -I'$dir' -MD -o '$dir/ok.c' '$dir/ok.acx' &&
             grep -q 'lib.h' '$dir/ok.d' && grep -q '^$dir/ok.c:' '$dir/ok.d'"
check "-MF chooses the dependency file" \
    bash -c "'$acxc' -Iruntime -I'$dir' -MD -MF '$dir/deps.mk' -o '$dir/ok2.c' '$dir/ok.acx' &&
             grep -q 'ok.acx' '$dir/deps.mk'"
check "default output is the input with .c" \
    bash -c "cp '$dir/ok.acx' '$dir/dflt.acx' && '$acxc' -Iruntime -I'$dir' '$dir/dflt.acx' && [ -s '$dir/dflt.c' ]"
check "-D reaches the preprocessor" \
    bash -c "printf 'int v = VALUE;\n' >'$dir/d.acx' && '$acxc' -DVALUE=1234 -o '$dir/d.c' '$dir/d.acx' && grep -q 1234 '$dir/d.c'"
check "--header declares extern async functions for acxc and for C" \
    bash -c "'$acxc' -Iruntime -I'$dir' --header '$dir/ok_gen.h' -o '$dir/ok3.c' '$dir/ok.acx' &&
             grep -q '__acx_async int answer(int plus);' '$dir/ok_gen.h' &&
             grep -q 'acx_coro \*answer(int plus);' '$dir/ok_gen.h' &&
             ! grep -q hidden '$dir/ok_gen.h'"
check "the header compiles as plain C" \
    bash -c "printf '#include \"ok_gen.h\"\nint main(void){ return acx_run(answer(2)) == 42 ? 0 : 1; }\n' >'$dir/user.c' &&
             cc -std=gnu11 $san -Wall -Wextra -Werror -Iruntime -I'$dir' -c -o '$dir/user.o' '$dir/user.c'"
check "the output and a plain C caller link and run" \
    bash -c "cc -std=gnu11 $san -Wall -Wextra -Werror -Iruntime -c -o '$dir/ok3.o' '$dir/ok3.c' &&
             cc $san -o '$dir/user' '$dir/user.o' '$dir/ok3.o' '$build/libacx.a' -lpthread && '$dir/user'"
check "--no-line leaves no #line directives" \
    bash -c "'$acxc' --no-line -Iruntime -I'$dir' -o '$dir/nl.c' '$dir/ok.acx' && ! grep -Eq '^#(line| [0-9])' '$dir/nl.c'"
check "output is reproducible" \
    bash -c "'$acxc' -Iruntime -I'$dir' -o '$dir/r.c' '$dir/ok.acx' && cp '$dir/r.c' '$dir/r1.c' && '$acxc' -Iruntime -I'$dir' -o '$dir/r.c' '$dir/ok.acx' && cmp -s '$dir/r.c' '$dir/r1.c'"
check "an error exits 1 and leaves no output, no deps and no temporary" \
    bash -c "touch '$dir/bad.c'; rm '$dir/bad.c'; ! '$acxc' -MD -o '$dir/bad.c' '$dir/bad.acx' 2>'$dir/bad.err';
             [ \$? = 0 ] && [ ! -e '$dir/bad.c' ] && [ ! -e '$dir/bad.d' ] &&
             ! ls '$dir'/bad.c.tmp* >/dev/null 2>&1 && grep -q 'bad.acx:1:30: error: expected' '$dir/bad.err'"
check "an error keeps an older output untouched" \
    bash -c "echo old >'$dir/keep.c'; ! '$acxc' -o '$dir/keep.c' '$dir/bad.acx' 2>/dev/null; grep -q '^old$' '$dir/keep.c'"
check "exit status 1 exactly on error" \
    bash -c "'$acxc' -o '$dir/x.c' '$dir/bad.acx' 2>/dev/null; [ \$? = 1 ]"
check "--json diagnostics" \
    bash -c "'$acxc' --json -o '$dir/x.c' '$dir/bad.acx' 2>&1 | grep -q '\"line\":1,\"column\":30,\"severity\":\"error\"'"
check "--json: one JSON line, no source line or caret" \
    bash -c "'$acxc' --json -o '$dir/x.c' '$dir/bad.acx' 2>&1 | wc -l | grep -qx 1"
check "the source line and a caret under the token, as gcc prints them" \
    bash -c "'$acxc' -o '$dir/x.c' '$dir/bad.acx' 2>&1 | sed -n 2,3p >'$dir/caret.txt';
             printf '    1 | async int f(void) { return 1 }\n      |                              ^\n' | cmp - '$dir/caret.txt'"
check "-fno-diagnostics-show-caret: the message line alone" \
    bash -c "'$acxc' -fno-diagnostics-show-caret -o '$dir/x.c' '$dir/bad.acx' 2>&1 | wc -l | grep -qx 1"
check "-fdiagnostics-color=always: gcc's colours" \
    bash -c "'$acxc' -fdiagnostics-color=always -o '$dir/x.c' '$dir/bad.acx' 2>&1 | grep -q \$'\\033\\[01;31merror:'"
check "colour is off by default when stderr is not a terminal" \
    bash -c "! '$acxc' -o '$dir/x.c' '$dir/bad.acx' 2>&1 | grep -q \$'\\033'"
check "colour is on by default on a terminal (auto)" \
    bash -c "TERM=xterm script -qec \"'$acxc' -o '$dir/x.c' '$dir/bad.acx'\" /dev/null | grep -q \$'\\033\\[01;31merror:'"
check "NO_COLOR and -fdiagnostics-color=never turn it off on a terminal" \
    bash -c "TERM=xterm NO_COLOR=1 script -qec \"'$acxc' -o '$dir/x.c' '$dir/bad.acx'\" /dev/null | grep -q 'error:' &&
             ! TERM=xterm NO_COLOR=1 script -qec \"'$acxc' -o '$dir/x.c' '$dir/bad.acx'\" /dev/null | grep -q \$'\\033' &&
             ! TERM=xterm script -qec \"'$acxc' -fdiagnostics-color=never -o '$dir/x.c' '$dir/bad.acx'\" /dev/null | grep -q \$'\\033'"
check "a bad -fdiagnostics-color value is a usage error" \
    bash -c "'$acxc' -fdiagnostics-color=sometimes '$dir/ok.acx' 2>&1 | grep -q 'unknown colour option'; [ \${PIPESTATUS[0]} = 1 ]"
check "-Werror turns a warning into failure" \
    bash -c "printf '#include <acx.h>\nasync int f(void){ return 1; }\nvoid g(void){ f(); }\n' >'$dir/w.acx' &&
             '$acxc' -o '$dir/w.c' '$dir/w.acx' 2>/dev/null && ! '$acxc' -Werror -o '$dir/w2.c' '$dir/w.acx' 2>/dev/null && [ ! -e '$dir/w2.c' ]"
check "the output would overwrite the input" \
    bash -c "cp '$dir/ok.acx' '$dir/same.c'; ! '$acxc' -o '$dir/same.c' '$dir/same.c' 2>/dev/null"
check "a preprocessor failure is reported and exits 1" \
    bash -c "printf '#include \"nonexistent.h\"\n' >'$dir/pp.acx'; ! '$acxc' -o '$dir/pp.c' '$dir/pp.acx' 2>'$dir/pp.err'; grep -q 'nonexistent.h' '$dir/pp.err' && [ ! -e '$dir/pp.c' ]"

# Generated code must come back unchanged from clang-format (any style):
# reformatting it would move lines under the #line directives.
if command -v clang-format >/dev/null 2>&1; then
    printf '#include <acx.h>\n#include <stdio.h>\n// clang-format on\n/* clang-format on */\nasync int f(void)\n{\n    await acx_yield(); puts("// clang-format on");\n    return 1;\n}\n' >"$dir/cfon.acx"
    for f in examples/*.acx tests/golden/*.acx "$dir/cfon.acx"; do
        base=$(basename "$f" .acx)
        check "clang-format leaves $base's generated C and header unchanged" \
            bash -c "'$acxc' -Iruntime -I'$dir' --header '$dir/cf_$base.h' -o '$dir/cf_$base.c' '$f' &&
                     for g in '$dir/cf_$base.c' '$dir/cf_$base.h'; do
                         clang-format \"\$g\" | cmp -s - \"\$g\" &&
                         clang-format --style='{BasedOnStyle: GNU, ColumnLimit: 60}' \"\$g\" | cmp -s - \"\$g\" || exit 1
                     done"
    done
    check "a 'clang-format on' comment is neutralised, a string is not touched" \
        bash -c "grep -q '^// clang-format_on' '$dir/cf_cfon.c' && grep -q 'puts(\"// clang-format on\")' '$dir/cf_cfon.c'"
else
    echo "cli: clang-format not installed: formatting stability not checked" >&2
fi

echo "cli: $pass passed, $fail failed"
[ $fail = 0 ]
