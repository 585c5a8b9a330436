#!/bin/sh
# deps.sh - make sure the build tools acx needs are present.
# Installs the missing Debian packages when run as root; otherwise prints
# the exact command to run and fails, so the build stops with a clear reason.
set -eu

missing=""
command -v re2c >/dev/null 2>&1 || missing="$missing re2c"
command -v lemon >/dev/null 2>&1 || missing="$missing lemon"
[ -f /usr/include/CUnit/CUnit.h ] || missing="$missing libcunit1-dev"
command -v clang >/dev/null 2>&1 || missing="$missing clang"
[ -n "${ACX_EXTRA_DEPS:-}" ] && for p in $ACX_EXTRA_DEPS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "deps: installing$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 || true
    # shellcheck disable=SC2086
    apt-get install -y -qq $missing >&2
    exit 0
fi

echo "acx needs these Debian packages:$missing" >&2
echo "install them with:  sudo apt-get install -y$missing" >&2
exit 1
