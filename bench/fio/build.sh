#!/usr/bin/env bash
# bench/fio/build.sh - build the fio external engine (libfio-mapio.so).
# Debian 12; run as root or with sudo (for apt only).
#
#   bench/fio/build.sh                 install what is missing, build
#   BUILD=build-x bench/fio/build.sh   another build directory (default build-fio)
#   BACKENDS=epoll bench/fio/build.sh  mapio's -Dbackends (default: auto)
#
# What it does, each step skipped when already done:
#   1. installs fio, dpkg-dev, meson, ninja, liburing-dev, libaio-dev;
#   2. fio's source: no fio headers are packaged, so it adds a deb-src entry
#      beside /etc/apt/sources.list.d/debian.sources (as cross/windows-test.sh
#      does for cmocka) and fetches Debian's source of exactly the installed
#      fio version with `apt-get source` into $MAPIO_FIO_CACHE (default
#      /var/cache/mapio-fio, never the repository), then runs fio's
#      ./configure --disable-native there (config-host.h; no fio build);
#   3. checks that `fio --version` is the version of that source: the engine
#      reaches into fio's structures, which only fio's own headers describe;
#   4. builds mapio (release, static, PIC) in $BUILD/mapio;
#   5. compiles the engine against fio's tree and links libmapio.a into it:
#      $BUILD/libfio-mapio.so needs no LD_LIBRARY_PATH.
# Prints the engine's path last. Exits non-zero if anything fails.
# See bench/fio/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD

BUILD=${BUILD:-build-fio}
case $BUILD in /*) ;; *) BUILD=$REPO/$BUILD ;; esac
SUDO=""
if [ "$(id -u)" -eq 0 ]; then
    CACHE=${MAPIO_FIO_CACHE:-/var/cache/mapio-fio}
else
    SUDO="sudo"
    CACHE=${MAPIO_FIO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mapio-fio}
fi
CC=${CC:-cc}
T0=$(date +%s)
say() { echo "== $* ($(($(date +%s) - T0)) s)"; }

# ---- 1. packages ---------------------------------------------------------------
PKGS=(fio dpkg-dev meson ninja-build pkg-config gcc liburing-dev libaio-dev)
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

# ---- 2. fio's source, the installed version exactly ---------------------------------
FIO_PKG_VERSION=$(dpkg-query -W -f='${Version}' fio)   # e.g. 3.33-3
FIO_UPSTREAM=${FIO_PKG_VERSION#*:}
FIO_UPSTREAM=${FIO_UPSTREAM%-*}                          # e.g. 3.33
FIO_SRC=$CACHE/src/fio-$FIO_UPSTREAM

add_deb_src() {
    local src_list=/etc/apt/sources.list.d/debian-src.sources
    if grep -rqs --include='*.sources' '^Types:.*deb-src' /etc/apt/sources.list.d/ ||
        grep -rqs --include='*.list' '^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        return 0
    fi
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
}

fetch_fio_source() {
    add_deb_src
    local work=$CACHE/src
    rm -rf "$work"
    mkdir -p "$work"
    # As root, apt's download user must be able to write there.
    [ "$(id -u)" -ne 0 ] || chown _apt "$work" 2>/dev/null || true
    say "apt-get source fio=$FIO_PKG_VERSION"
    if ! (cd "$work" && apt-get source -qq "fio=$FIO_PKG_VERSION" >/dev/null 2>&1); then
        # The source index may be missing or stale: refresh once.
        if [ "$APT_UPDATED" -eq 0 ]; then
            $SUDO apt-get update -qq
            APT_UPDATED=1
        fi
        (cd "$work" && apt-get source -qq "fio=$FIO_PKG_VERSION" >/dev/null 2>&1) || {
            echo "apt-get source fio=$FIO_PKG_VERSION failed" >&2
            return 1
        }
    fi
    [ -d "$FIO_SRC" ] || { echo "no $FIO_SRC after apt-get source" >&2; return 1; }
    say "configuring fio $FIO_PKG_VERSION (config-host.h only, no fio build)"
    # --disable-native: nothing of this tree is compiled for this CPU. The
    # headers' structure layouts do not depend on configure's optional
    # libraries except io_u's trailing union, which fio allocates, not us.
    (cd "$FIO_SRC" && ./configure --disable-native) >"$CACHE/fio-configure.log" 2>&1 || {
        tail -30 "$CACHE/fio-configure.log"
        return 1
    }
    echo "$FIO_PKG_VERSION" >"$FIO_SRC/.mapio-configured"
}

if [ ! -f "$FIO_SRC/.mapio-configured" ] ||
    [ "$(cat "$FIO_SRC/.mapio-configured")" != "$FIO_PKG_VERSION" ] ||
    [ ! -f "$FIO_SRC/config-host.h" ]; then
    fetch_fio_source
else
    say "fio source $FIO_PKG_VERSION in $FIO_SRC (cached)"
fi

# ---- 3. the running fio is the one the headers describe ---------------------------
SRC_PKG_VERSION=$(cd "$FIO_SRC" && dpkg-parsechangelog -S Version)
SRC_FIO_VERSION=$(sed -n 's/^DEF_VER=//p' "$FIO_SRC/FIO-VERSION-GEN")
BIN_FIO_VERSION=$(fio --version)
if [ "$SRC_PKG_VERSION" != "$FIO_PKG_VERSION" ] || [ "$SRC_FIO_VERSION" != "$BIN_FIO_VERSION" ]; then
    echo "fio version mismatch: installed package $FIO_PKG_VERSION ($BIN_FIO_VERSION)," \
        "source $SRC_PKG_VERSION ($SRC_FIO_VERSION)" >&2
    exit 1
fi
IOOPS=$(sed -n 's/^#define FIO_IOOPS_VERSION[[:space:]]*//p' "$FIO_SRC/ioengines.h")
say "fio $BIN_FIO_VERSION (package $FIO_PKG_VERSION, FIO_IOOPS_VERSION $IOOPS)"

# ---- 4. mapio: release, static, position-independent --------------------------------
MAPIO_BUILD=$BUILD/mapio
mkdir -p "$BUILD"
MESON_OPTS=(-Dbuildtype=release -Db_staticpic=true -Dwerror=true -Dtests=false -Dbench=false
    -Dexamples=false -Dlibev=disabled -Dbackends="${BACKENDS:-auto}")
if [ ! -f "$MAPIO_BUILD/build.ninja" ]; then
    say "meson setup $MAPIO_BUILD"
    meson setup "$MAPIO_BUILD" "${MESON_OPTS[@]}" >"$BUILD/mapio-setup.log" 2>&1 || {
        tail -30 "$BUILD/mapio-setup.log"
        exit 1
    }
elif [ -n "${BACKENDS:-}" ]; then
    meson configure "$MAPIO_BUILD" -Dbackends="$BACKENDS" >/dev/null
fi
say "building libmapio.a"
ninja -C "$MAPIO_BUILD" libmapio.a >"$BUILD/mapio-build.log" 2>&1 || {
    tail -30 "$BUILD/mapio-build.log"
    exit 1
}

# ---- 5. the engine ---------------------------------------------------------------------
# What a static libmapio needs (-luring, -laio, -pthread), from the .pc file
# meson writes for the uninstalled build: the engine uses mapio as any
# outside user of its installed headers does.
export PKG_CONFIG_PATH=$MAPIO_BUILD/meson-uninstalled${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
LIBS=()
for l in $(pkg-config --static --libs-only-l --libs-only-other mapio); do
    [ "$l" = -lmapio ] || LIBS+=("$l")
done

# mapio's own warning set (meson.build), as errors. Only mapio's public
# headers (api/): nothing of engine/ or of the build's generated config.
COMMON=(-O2 -g -fPIC -Wall -Wextra -Werror -Wshadow -Wvla -Wformat=2 -Wundef
    -Wstrict-prototypes -Wmissing-prototypes -D_GNU_SOURCE -I"$REPO/api")
OBJ=$BUILD/fio-engine
mkdir -p "$OBJ"
say "compiling the engine"
# gnu11: fio's headers are GNU C (typeof, statement expressions). -isystem:
# warnings inside fio's headers (unused parameters of its inline stubs) are
# fio's, not ours; every warning in our code stays an error.
$CC -std=gnu11 "${COMMON[@]}" -include "$FIO_SRC/config-host.h" -isystem "$FIO_SRC" \
    -DMAPIO_FIO_BUILT_FOR="\"$BIN_FIO_VERSION\"" \
    -c bench/fio/mapio_fio.c -o "$OBJ/mapio_fio.o"
# fio's helpers (generic_open_file, io_u_queued, ...) stay undefined here:
# /usr/bin/fio is linked with -rdynamic and provides them at dlopen. The
# version script exports `ioengine` only, so mapio's symbols never meet fio's.
$CC -shared -o "$BUILD/libfio-mapio.so" "$OBJ/mapio_fio.o" "$MAPIO_BUILD/libmapio.a" \
    ${LIBS[@]+"${LIBS[@]}"} -Wl,--version-script=bench/fio/engine.map -Wl,-z,now
exported=$(nm -D --defined-only "$BUILD/libfio-mapio.so" | awk '$2 != "A" { print $3 }' | sort | tr '\n' ' ')
if [ "$exported" != "ioengine " ]; then
    echo "libfio-mapio.so exports more than ioengine: $exported" >&2
    exit 1
fi
if ldd "$BUILD/libfio-mapio.so" | grep -q 'libmapio'; then
    echo "libfio-mapio.so needs a shared libmapio: it must link libmapio.a" >&2
    exit 1
fi
# Load it the way a job does (dlopen with -z now: every fio helper it calls
# must be exported by this fio binary).
fio --enghelp="$BUILD/libfio-mapio.so" >"$BUILD/enghelp.txt" 2>&1 || {
    cat "$BUILD/enghelp.txt" >&2
    exit 1
}
say "built $BUILD/libfio-mapio.so (mapio backends: $(sed -n 's/^mapio_backend *: mapio backend (compiled into this engine: \(.*\))$/\1/p' "$BUILD/enghelp.txt"))"
echo "$BUILD/libfio-mapio.so"
