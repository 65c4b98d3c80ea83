#!/usr/bin/env bash
# cross/windows-test.sh - build mapio for 64-bit Windows with mingw-w64 and run
# its test suite under Wine. Debian 12; run as root or with sudo.
#
#   cross/windows-test.sh            install what is missing, build, test
#   BUILD=build-x cross/windows-test.sh   another build directory
#
# What it does, each step skipped when already done:
#   1. installs mingw-w64, wine64 (and wine), cmake, dpkg-dev, meson, ninja;
#   2. cmocka for Windows: Debian packages none, so it adds a deb-src entry
#      beside /etc/apt/sources.list.d/debian.sources, fetches Debian's own
#      cmocka source with `apt-get source cmocka` into $MAPIO_WIN_CACHE
#      (default /var/cache/mapio-win, never the repository) and cross-builds
#      it there with cmake, as a static library;
#   3. meson setup with cross/x86_64-w64-mingw32.txt plus a generated cross
#      file that points pkg-config at that cmocka;
#   4. meson test under Wine (the cross file's exe_wrapper), in a Wine prefix
#      of its own under the cache, with one wineserver kept alive for the run.
# Exits non-zero if anything fails. See docs/windows.md.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build-win}
SUDO=""  # for apt and /etc/apt only: the cache belongs to whoever runs this
if [ "$(id -u)" -eq 0 ]; then
    CACHE=${MAPIO_WIN_CACHE:-/var/cache/mapio-win}
else
    SUDO="sudo"
    CACHE=${MAPIO_WIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mapio-win}
fi
PREFIX=$CACHE/cmocka
T0=$(date +%s)
say() { echo "== $* ($(($(date +%s) - T0)) s)"; }

# ---- 1. packages ---------------------------------------------------------------
PKGS=(mingw-w64 wine wine64 cmake dpkg-dev meson ninja-build pkg-config)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
APT_UPDATED=0
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    $SUDO apt-get update -qq
    APT_UPDATED=1
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

# ---- 2. cmocka, cross-built from Debian's source package -------------------------
build_cmocka() {
    local src_list=/etc/apt/sources.list.d/debian-src.sources
    if ! grep -rqs --include='*.sources' '^Types:.*deb-src' /etc/apt/sources.list.d/ &&
        ! grep -rqs --include='*.list' '^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        # The same archives and suites as the binary entries, for sources:
        # deb822 (debian.sources, Debian 12's default) or the one-line format.
        if [ -f /etc/apt/sources.list.d/debian.sources ]; then
            say "adding a deb-src entry ($src_list)"
            sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
                $SUDO tee "$src_list" >/dev/null
        else
            src_list=/etc/apt/sources.list.d/debian-src.list
            say "adding deb-src lines ($src_list)"
            grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
                sed 's/^deb /deb-src /' | $SUDO tee "$src_list" >/dev/null
            [ -s "$src_list" ] || { echo "no Debian archive found in the apt sources" >&2; return 1; }
        fi
        APT_UPDATED=0
    fi
    if [ "$APT_UPDATED" -eq 0 ]; then
        $SUDO apt-get update -qq
    fi
    mkdir -p "$CACHE"
    local work=$CACHE/src
    rm -rf "$work" "$PREFIX" "$CACHE/cmocka-build"
    mkdir -p "$work"
    say "apt-get source cmocka"
    # As root, apt's download user must be able to write there.
    [ "$(id -u)" -ne 0 ] || chown _apt "$work" 2>/dev/null || true
    (cd "$work" && apt-get source -qq cmocka >/dev/null 2>&1) || {
        echo "apt-get source cmocka failed" >&2
        return 1
    }
    local dir
    dir=$(find "$work" -maxdepth 1 -type d -name 'cmocka-*' | head -1)
    say "cross-building $(basename "$dir") with cmake"
    # __USE_MINGW_ANSI_STDIO: cmocka prints C99 formats (%zu) as mapio's tests
    # expect, instead of msvcrt's dialect.
    cmake -S "$dir" -B "$CACHE/cmocka-build" -G Ninja \
        -DCMAKE_SYSTEM_NAME=Windows \
        -DCMAKE_C_COMPILER=x86_64-w64-mingw32-gcc \
        -DCMAKE_RC_COMPILER=x86_64-w64-mingw32-windres \
        -DCMAKE_FIND_ROOT_PATH=/usr/x86_64-w64-mingw32 \
        -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_FLAGS=-D__USE_MINGW_ANSI_STDIO=1 \
        -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF \
        -DCMAKE_INSTALL_PREFIX="$PREFIX" >"$CACHE/cmocka-cmake.log" 2>&1 || {
        tail -30 "$CACHE/cmocka-cmake.log"
        return 1
    }
    ninja -C "$CACHE/cmocka-build" install >"$CACHE/cmocka-build.log" 2>&1 || {
        tail -30 "$CACHE/cmocka-build.log"
        return 1
    }
    # Link the static library: test programs then need no DLL path under Wine.
    sed -i 's/-lcmocka$/-lcmocka-static/' "$PREFIX/lib/pkgconfig/cmocka.pc"
    # With __USE_MINGW_ANSI_STDIO, GCC's "printf" format archetype on mingw is
    # Microsoft's; cmocka's printing is C99 now, so its header must say so.
    sed -i 's/(__format__ (__printf__, a, b))/(__format__ (__gnu_printf__, a, b))/' \
        "$PREFIX/include/cmocka.h"
    basename "$dir" >"$PREFIX/.built-from"
}
if [ ! -f "$PREFIX/.built-from" ] || [ ! -f "$PREFIX/lib/libcmocka-static.a" ]; then
    build_cmocka
else
    say "cmocka for Windows: $(cat "$PREFIX/.built-from") in $PREFIX (cached)"
fi

# The machine-specific half of the cross setup: where that cmocka is.
OVERLAY=$CACHE/cmocka-cross.txt
printf "[properties]\npkg_config_libdir = ['%s']\n" "$PREFIX/lib/pkgconfig" >"$OVERLAY"

# ---- 3. build --------------------------------------------------------------------
say "meson setup $BUILD"
SETUP_ARGS=(--cross-file cross/x86_64-w64-mingw32.txt --cross-file "$OVERLAY"
    -Dwerror=true -Dbench=false)
log=$(mktemp)
if [ -d "$BUILD" ] && [ -f "$BUILD/build.ninja" ]; then
    meson setup --reconfigure "$BUILD" "${SETUP_ARGS[@]}" >"$log" 2>&1 ||
        meson setup --wipe "$BUILD" "${SETUP_ARGS[@]}" >"$log" 2>&1 || { tail -40 "$log"; exit 1; }
else
    meson setup "$BUILD" "${SETUP_ARGS[@]}" >"$log" 2>&1 || { tail -40 "$log"; exit 1; }
fi
say "ninja -C $BUILD"
ninja -C "$BUILD" >"$log" 2>&1 || { grep -E 'error|FAILED' "$log" | head -40; rm -f "$log"; exit 1; }
rm -f "$log"

# ---- 4. test under Wine ------------------------------------------------------------
export WINEPREFIX=${WINEPREFIX:-$CACHE/wine}
export WINEDEBUG=${WINEDEBUG:--all}
export WINEARCH=win64
# No Mono or Gecko prompts while the prefix is made: the tests need neither.
export WINEDLLOVERRIDES="mscoree,mshtml="
mkdir -p "$WINEPREFIX"
# A wineserver that stays for the whole run (else each test program pays for
# one starting), started with no terminal: a wineserver started by the first
# test would keep that test's output pipe open and stall meson.
say "starting wineserver ($WINEPREFIX)"
wineserver -p </dev/null >/dev/null 2>&1 || true
wineboot --init </dev/null >/dev/null 2>&1 || true
stop_wine() { wineserver -k </dev/null >/dev/null 2>&1 || true; }
trap stop_wine EXIT

say "meson test -C $BUILD (under Wine)"
rc=0
out=$(meson test -C "$BUILD" --print-errorlogs "$@" 2>&1) || rc=$?
echo "$out" | grep -E '^ *[0-9]+/[0-9]+ ' || true
[ $rc -eq 0 ] || echo "$out" | sed -n '/Summary of Failures/,$p'
ok=$(echo "$out" | awk '/^Ok:/{print $2}'); xf=$(echo "$out" | awk '/^Expected Fail:/{print $3}')
fail=$(echo "$out" | awk '/^Fail:/{print $2}'); skip=$(echo "$out" | awk '/^Skipped:/{print $2}')
to=$(echo "$out" | awk '/^Timeout:/{print $2}'); up=$(echo "$out" | awk '/^Unexpected Pass:/{print $3}')
passed=$((${ok:-0} + ${xf:-0})); failed=$((${fail:-0} + ${to:-0} + ${up:-0}))
[ $rc -eq 0 ] || [ $failed -gt 0 ] || failed=1
# What was skipped, and why: each skip says so in its own output.
echo "skipped here, with the reasons the tests gave:"
grep -hE '^skip' "$BUILD/meson-logs/testlog.txt" 2>/dev/null | sort -u | sed 's/^/  /' || true
say "done"
echo "windows: $passed passed, $failed failed, ${skip:-0} skipped"
exit $((failed > 0))
