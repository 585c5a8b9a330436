#!/bin/bash
# docfrag.sh PAGE... - every ```c block of the guides must be cut from a
# real program: its lines, in order and contiguous, must appear in one of
# docs/examples/*.acx or tests/run/ (programs make check compiles and
# runs).  So the code a page shows cannot drift from code that works.
# And every public name a page mentions (acx_*, ACX_*) must exist: acx_
# names in the public headers, ACX_ macros and variables in the sources
# (the runtime, the generator, the tests and the Makefile).
set -u
missing=0
for n in $(grep -ohE '\bacx_[a-z0-9][a-z0-9_]*\b' "$@" | grep -v '_$' | sort -u); do
    grep -qw -- "$n" runtime/acx*.h ||
        { echo "FAIL: $n is named in the guides but declared nowhere"; missing=1; }
done
for n in $(grep -ohE '\bACX_[A-Z0-9][A-Z0-9_]*\b' "$@" | grep -v '_$' | sort -u); do
    grep -rqw -- "$n" runtime gen tests Makefile ||
        { echo "FAIL: $n is named in the guides but defined nowhere"; missing=1; }
done
srcs=(docs/examples/*.acx tests/run/*.acx tests/run/*/*.acx)
awk -v nsrc="${#srcs[@]}" '
    FNR == 1 { file++ }
    file <= nsrc {                     # the programs: one string each
        text[file] = text[file] $0 "\n"
        next
    }
    /^```c$/ { inblock = 1; block = ""; start = FNR; next }
    inblock && /^```$/ {
        inblock = 0
        found = 0
        for (i = 1; i <= nsrc; i++)
            if (index(text[i], block)) { found = 1; break }
        if (!found) {
            printf "FAIL: %s:%d: a code block not found in any program\n",
                   FILENAME, start
            bad++
        }
        blocks++
        next
    }
    inblock { block = block $0 "\n" }
    END {
        printf "doc fragments: %d blocks, %d not from a program\n", blocks, bad
        exit bad > 0
    }
' "${srcs[@]}" "$@" || exit 1
exit $missing
