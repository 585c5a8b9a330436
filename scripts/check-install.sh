#!/bin/bash
# check-install.sh BUILD - `make install` into a scratch DESTDIR (PREFIX=/usr)
# and use the result as a user would, away from the source tree:
#   a) examples/hello.acx built with the installed acxc and
#      `pkg-config --cflags --libs acx`, linked statically and shared
#   b) tests/install/make: acx.mk; changing a header the .acx includes
#      regenerates the C
#   c) tests/install/cmake: find_package(acx) and acx_add_sources()
#   d) the man pages render without warnings and list every option
#   e) `make uninstall` leaves no file behind
# and, first, that each installed header compiles on its own (C and C++).
# Run by `make check-install` (not by `make check`: it needs cmake).
set -uo pipefail
build=$1
root=$(pwd)
make=${MAKE:-make}
work=$(mktemp -d "${TMPDIR:-/tmp}/acx-check-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
dest=$work/dest
pass=0 fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { # description command... (output kept in $work/last.log)
    local what=$1; shift
    if "$@" >"$work/last.log" 2>&1; then ok; else
        bad "$what"; tail -20 "$work/last.log" >&2; fi
}
# The out-of-tree projects get a clean make: no flags or variables of
# the make that runs this script.
umake() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make "$@"; }

if ! "$make" --no-print-directory BUILD="$build" DESTDIR="$dest" PREFIX=/usr \
        install >"$work/install.log" 2>&1; then
    tail -30 "$work/install.log" >&2
    echo "FAIL: make install" >&2
    exit 1
fi

# pkg-config sees only the scratch install, with its paths under $dest.
export PKG_CONFIG_LIBDIR=$dest/usr/lib/pkgconfig PKG_CONFIG_PATH=
export PKG_CONFIG_SYSROOT_DIR=$dest
cc=${CC:-cc}
warn="-std=gnu11 -Wall -Wextra -Werror"

# ---- layout
for f in usr/bin/acxc usr/lib/libacx.a usr/lib/libacx.so.0.1.0 \
         usr/include/acx/acx.h usr/lib/pkgconfig/acx.pc \
         usr/share/acx/acx.mk usr/lib/cmake/acx/acxConfig.cmake \
         usr/lib/cmake/acx/acxConfigVersion.cmake \
         usr/share/man/man1/acxc.1 usr/share/man/man3/libacx.3; do
    check "installed: /$f" test -f "$dest/$f"
done
check "libacx.so -> libacx.so.0 -> libacx.so.0.1.0" bash -c "
    [ \"\$(readlink '$dest/usr/lib/libacx.so')\" = libacx.so.0 ] &&
    [ \"\$(readlink '$dest/usr/lib/libacx.so.0')\" = libacx.so.0.1.0 ]"
check "the shared library's soname is libacx.so.0" bash -c \
    "readelf -d '$dest/usr/lib/libacx.so.0.1.0' | grep -q 'SONAME.*\[libacx\.so\.0\]'"
check "no internal header is installed" bash -c \
    "! ls '$dest/usr/include/acx' | grep -q internal"
check "pkg-config: version and flags" bash -c "
    [ \"\$(pkg-config --modversion acx)\" = \"\$(sed -n 's/^VERSION *:= *//p' Makefile)\" ] &&
    [ \"\$(echo \$(pkg-config --cflags acx))\" = '-I$dest/usr/include/acx' ] &&
    pkg-config --libs acx | grep -q -- '-L$dest/usr/lib -lacx' &&
    pkg-config --static --libs acx | grep -q -- -lpthread"

# Each installed header alone (a user may include acx_pool.h and nothing
# else), as C and as C++ (the declarations are extern "C").
for h in "$dest"/usr/include/acx/*.h; do
    name=$(basename "$h")
    check "$name compiles on its own (C)" bash -c "echo '#include <$name>' |
        $cc $warn -fsyntax-only -I'$dest/usr/include/acx' -x c -"
    if command -v c++ >/dev/null; then
        check "$name compiles on its own (C++)" bash -c "
            echo '#include <$name>
int main(void) { return 0; }' |
            c++ -Wall -Wextra -Werror -fsyntax-only \
                -I'$dest/usr/include/acx' -x c++ -"
    fi
done

# ---- a) hello, out of tree, with the installed acxc and pkg-config
a=$work/a
mkdir -p "$a"
cp examples/hello.acx "$a/"
acxc=$(pkg-config --variable=acxc acx)
check "pkg-config's acxc variable is the installed acxc" \
    test "$acxc" = "$dest/usr/bin/acxc"
check "acxc --help names the installed include dir" bash -c \
    "'$acxc' --help | grep -qx '  $dest/usr/include/acx'"
check "installed acxc generates hello.c" \
    "$acxc" --cc "$cc" -MD -MF "$a/hello.acx.d" -o "$a/hello.c" "$a/hello.acx"
check "installed acxc reads the installed acx.h, not the source tree's" bash -c "
    grep -q '$dest/usr/include/acx/acx.h' '$a/hello.acx.d' &&
    ! grep -q '$root/runtime' '$a/hello.acx.d'"
libs_static=$(pkg-config --static --libs acx)
check "hello links statically" bash -c "cd '$a' && $cc $warn \
    \$(pkg-config --cflags acx) -o hello-static hello.c ${libs_static/-lacx/-l:libacx.a}"
check "hello links against libacx.so" bash -c "cd '$a' && $cc $warn \
    \$(pkg-config --cflags acx) -o hello-shared hello.c \$(pkg-config --libs acx)"
check "the static hello needs no libacx.so" bash -c \
    "! readelf -d '$a/hello-static' | grep -q 'NEEDED.*libacx'"
check "the shared hello needs libacx.so.0" bash -c \
    "readelf -d '$a/hello-shared' | grep -q 'NEEDED.*\[libacx\.so\.0\]'"
for kind in static shared; do
    check "hello ($kind) runs and greets 6 times" bash -c "
        out=\$(LD_LIBRARY_PATH='$dest/usr/lib' timeout 20 '$a/hello-$kind') &&
        [ \"\$(grep -c '^hello from task [ab] ([0-2])\$' <<<\"\$out\")\" = 6 ] &&
        [ \"\$(tail -1 <<<\"\$out\")\" = '6 greetings' ]"
done

# ---- b) a make project with acx.mk
b=$work/b
cp -r tests/install/make "$b"
mk=(-C "$b" ACX_MK="$(pkg-config --variable=acx_mk acx)" CC="$cc")
export PATH="$dest/usr/bin:$PATH"
check "acx.mk: the project builds" umake "${mk[@]}"
check "acx.mk: it runs" bash -c "
    [ \"\$(LD_LIBRARY_PATH='$dest/usr/lib' '$b/greet')\" = \"\$(printf 'hello, make\nhello, acx.mk')\" ]"
check "acx.mk: the generated .c is kept" test -f "$b/greet.c"
check "acx.mk: the dependencies name the local header" \
    grep -q 'greeting\.h' "$b/greet.acx.d"
check "acx.mk: then it is up to date" umake -q "${mk[@]}"
touch -d '-1 minute' "$b/greet.c" # older than any edit from here on
sed -i 's/"hello"/"hi"/' "$b/greeting.h"
check "acx.mk: a changed header makes it out of date" bash -c \
    "! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -q ${mk[*]@Q}"
check "acx.mk: the rebuild regenerates the .c" bash -c \
    "out=\$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make ${mk[*]@Q}) &&
     grep -q 'acxc.*greet\.acx' <<<\"\$out\" &&
     [ ! '$b/greeting.h' -nt '$b/greet.c' ]"
check "acx.mk: the program shows the new header" bash -c "
    LD_LIBRARY_PATH='$dest/usr/lib' '$b/greet' | head -1 | grep -qx 'hi, make'"
rm "$b/greeting.h"
sed -i 's/#include "greeting.h"/#define GREETING "bye"/' "$b/greet.acx"
check "acx.mk: a deleted header does not stop make (-MP)" umake "${mk[@]}"
# Without acxc on PATH the fragment asks pkg-config (unless the system
# has an acxc of its own in /usr/bin or /bin).
if ! PATH=/usr/bin:/bin command -v acxc >/dev/null 2>&1; then
    check "acx.mk: ACXC falls back to pkg-config's acxc" bash -c "
        [ \"\$(PATH=/usr/bin:/bin env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
            make -s ${mk[*]@Q} print-ACXC)\" = '$dest/usr/bin/acxc' ]"
fi

# ---- c) a CMake project with find_package(acx): the Makefile generator
# with the shared and with the static library, and Ninja when present
c=$work/c
cp -r tests/install/cmake "$c"
configs="shared static"
command -v ninja >/dev/null 2>&1 && configs="$configs ninja"
for cfg in $configs; do
    static=OFF gen="Unix Makefiles"
    [ "$cfg" = static ] && static=ON
    [ "$cfg" = ninja ] && gen=Ninja
    bd=$c/build-$cfg
    check "cmake ($cfg): configures without warnings" bash -c "
        cmake -G '$gen' -S '$c' -B '$bd' -DCMAKE_PREFIX_PATH='$dest/usr' \
            -DCMAKE_C_COMPILER='$cc' -DACX_USE_STATIC_LIBS=$static \
            -DCMAKE_C_FLAGS='$warn' >'$work/cmake-$cfg.log' 2>&1 &&
        ! grep -q 'CMake Warning' '$work/cmake-$cfg.log' || { cat '$work/cmake-$cfg.log'; false; }"
    check "cmake ($cfg): builds" env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
        cmake --build "$bd"
    check "cmake ($cfg): acx_add_sources() runs" bash -c "
        [ \"\$(LD_LIBRARY_PATH='$dest/usr/lib' '$bd/count')\" = 'counted 3' ]"
    check "cmake ($cfg): acx_generate() runs" bash -c "
        [ \"\$(LD_LIBRARY_PATH='$dest/usr/lib' '$bd/ping')\" = 'pong' ]"
done
check "cmake (static): no libacx.so needed" bash -c \
    "! readelf -d '$c/build-static/count' | grep -q 'NEEDED.*libacx'"
check "cmake (shared): libacx.so.0 needed" bash -c \
    "readelf -d '$c/build-shared/count' | grep -q 'NEEDED.*libacx\.so\.0'"
# DEPFILE (CMake 3.20+): a changed header regenerates the C.
if cmake --version | awk 'NR==1 { split($3, v, "."); exit !(v[1] > 3 || v[2] >= 20) }'; then
    sed -i 's/COUNT_STEP 1/COUNT_STEP 2/' "$c/include/count.h"
    for cfg in $configs; do
        [ "$cfg" = static ] && continue
        check "cmake ($cfg): a changed header regenerates the C (DEPFILE)" bash -c "
            env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL cmake --build '$c/build-$cfg' >/dev/null &&
            [ \"\$(LD_LIBRARY_PATH='$dest/usr/lib' '$c/build-$cfg/count')\" = 'counted 6' ]"
    done
fi
check "cmake: a version the install cannot satisfy is refused" bash -c "
    mkdir -p '$c/v' && sed 's/find_package(acx 0.1/find_package(acx 9.0/' \
        '$c/CMakeLists.txt' > '$c/v/CMakeLists.txt' && cp -r '$c/include' '$c'/*.c '$c'/*.acx '$c/v/' &&
    ! cmake -S '$c/v' -B '$c/v/build' -DCMAKE_PREFIX_PATH='$dest/usr'"

# ---- d) the man pages
for page in docs/man/acxc.1 docs/man/libacx.3; do
    check "$page renders without warnings (groff -ww)" bash -c "
        [ -z \"\$(groff -ww -z -man '$page' 2>&1)\" ]"
    if command -v man >/dev/null 2>&1; then
        check "$page: man -l renders without warnings" bash -c "
            [ -z \"\$(MANWIDTH=80 man --warnings -l '$page' 2>&1 >/dev/null)\" ]"
    fi
    check "$page names the version" grep -q "\"acx $(sed -n 's/^VERSION *:= *//p' Makefile)\"" "$page"
done
# Every option `acxc --help` lists is in acxc(1).
groff -man -Tascii -P-cbou docs/man/acxc.1 2>/dev/null > "$work/acxc.txt"
for opt in $("$acxc" --help | grep -o -- '^  -[^ ,]*\|, -[-a-zA-Z]*\|^  --[a-z-]*' |
             sed 's/^[ ,]*//; s/,$//; s/=.*//; s/\[.*//' | sort -u); do
    check "acxc(1) documents $opt" grep -qF -- "$opt" "$work/acxc.txt"
done

# ---- e) uninstall
check "make uninstall" "$make" --no-print-directory BUILD="$build" \
    DESTDIR="$dest" PREFIX=/usr uninstall
check "nothing is left but empty directories" bash -c "
    [ -z \"\$(find '$dest' ! -type d)\" ] || { find '$dest' ! -type d; false; }"

echo "check-install: $pass passed, $fail failed"
[ "$fail" = 0 ]
