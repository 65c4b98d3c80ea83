#!/usr/bin/env bash
# tools/check-install.sh - install a built mapio into a temporary root and use
# it from outside the tree the way its users do: only pkg-config, CMake's
# find_package, or a meson subproject, never the source tree's headers.
#
#   tools/check-install.sh BUILD_DIR [WORK_DIR]
#
# BUILD_DIR is a configured and built mapio (Linux, default prefix /usr/local).
# WORK_DIR (default: a new temporary directory, removed at the end) gets the
# install root, the consumer builds and their scratch files.
#
# One line per check: "install: <check>: ok", "... FAIL" (then what failed),
# or "... skip (<why>)"; the last line is
#   install: N passed, M failed, K skipped
# and the exit status is 0 only if nothing failed. What is checked:
#   - meson install --destdir puts every public header there (and only those:
#     api/, plus mapio/ev.h with the libev adapter), every header includes
#     only installed headers or the system's, and the libraries, mapio.pc,
#     mapio-ev.pc, the CMake package and the man pages are there;
#   - each installed header compiles alone against the install, as C11 with
#     gcc and clang and as C++17 with g++ (-Wall -Wextra -pedantic -Werror);
#   - consumers (tests/install/consumer*.c, .cpp) build with pkg-config alone:
#     C with gcc and clang, C++ with g++, shared and --static, for mapio and
#     mapio-ev; each runs on both Linux backends (MAPIO_BACKEND=uring, =epoll)
#     against the installed library (ldd must resolve it there);
#   - the examples (records, wal, libev_loop) build the same way, copied out of
#     the tree, and run on both backends;
#   - a CMake project (tests/install/cmake-consumer): find_package(mapio
#     CONFIG COMPONENTS ev), mapio::mapio, -static, mapio::mapio-ev, and
#     pkg_check_modules; its programs run;
#   - a meson project taking this tree as a subproject
#     (tests/install/meson-consumer): dependency('mapio') and ('mapio-ev');
#   - the ABI check (tools/mapio-api.py check-abi) on the installed .so files;
#   - man: `man mapio_read_at` (and an alias, and mapio(7)) through MANPATH,
#     groff -man -ww -z silent on every installed page, a page for every
#     exported symbol.
set -uo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:?usage: $0 BUILD_DIR [WORK_DIR]}
BUILD=$(cd "$BUILD" && pwd)
if [ -n "${2:-}" ]; then
    WORK=$2
    rm -rf "$WORK"
    mkdir -p "$WORK"
    KEEP=1
else
    WORK=$(mktemp -d /tmp/mapio-install.XXXXXX)
    KEEP=0
fi
WORK=$(cd "$WORK" && pwd)
ROOT=$WORK/root
LOG=$WORK/log
mkdir -p "$LOG" "$WORK/scratch"
cleanup() { [ "$KEEP" = 1 ] || rm -rf "$WORK"; }
trap cleanup EXIT

PASSED=0; FAILED=0; SKIPPED=0
ok() { echo "install: $1: ok${2:+ ($2)}"; PASSED=$((PASSED + 1)); }
skip() { echo "install: $1: skip ($2)"; SKIPPED=$((SKIPPED + 1)); }
fail() { # check, log file or message
    echo "install: $1: FAIL"
    if [ -f "${2:-}" ]; then tail -25 "$2" | sed 's/^/    /'; elif [ -n "${2:-}" ]; then echo "    $2"; fi
    FAILED=$((FAILED + 1))
}
# run NAME LOGNAME cmd...: one check from one command.
run() {
    local name=$1 log=$LOG/$2; shift 2
    if "$@" >"$log" 2>&1; then ok "$name"; else fail "$name" "$log"; fi
}
finish() {
    echo "install: $PASSED passed, $FAILED failed, $SKIPPED skipped"
    [ "$FAILED" -eq 0 ]
    exit $?
}

# ---- install ---------------------------------------------------------------------
if ! meson install -C "$BUILD" --destdir "$ROOT" --no-rebuild >"$LOG/install" 2>&1; then
    fail "meson install --destdir" "$LOG/install"
    finish
fi
PREFIX=$(meson introspect "$BUILD" --buildoptions | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
print(o["prefix"]); print(o["libdir"]); print(o["includedir"]); print(o["mandir"])')
LIBDIR_REL=$(echo "$PREFIX" | sed -n 2p); INCDIR_REL=$(echo "$PREFIX" | sed -n 3p)
MANDIR_REL=$(echo "$PREFIX" | sed -n 4p); PREFIX=$(echo "$PREFIX" | sed -n 1p)
abs() { case $1 in /*) echo "$ROOT$1" ;; *) echo "$ROOT$PREFIX/$1" ;; esac; }
LIBDIR=$(abs "$LIBDIR_REL"); INCDIR=$(abs "$INCDIR_REL"); MANDIR=$(abs "$MANDIR_REL")
ok "meson install --destdir" "$ROOT$PREFIX"

HAVE_EV=0
[ -e "$LIBDIR/libmapio-ev.so" ] && HAVE_EV=1

# ---- what was installed ------------------------------------------------------------
check_files() {
    local want got bad=0
    want=$(cd "$SRC/api" && { echo mapio.h; ls mapio/*.h; } | { if [ $HAVE_EV = 1 ]; then cat; else grep -v '^mapio/ev.h$'; fi; } | sort)
    got=$(cd "$INCDIR" && find . -type f | sed 's|^\./||' | sort)
    if [ "$want" != "$got" ]; then
        echo "installed headers differ from api/ (< api, > installed):"
        diff <(echo "$want") <(echo "$got")
        bad=1
    fi
    # Every quoted include of an installed header is an installed header.
    local h inc
    while read -r h; do
        while read -r inc; do
            [ -f "$(dirname "$INCDIR/$h")/$inc" ] || { echo "$h includes \"$inc\", which is not installed"; bad=1; }
        done < <(sed -n 's/^#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$INCDIR/$h")
    done <<<"$got"
    local f
    for f in "$LIBDIR/libmapio.so.0" "$LIBDIR/libmapio.so" "$LIBDIR/libmapio.a" \
        "$LIBDIR/pkgconfig/mapio.pc" "$LIBDIR/cmake/mapio/mapioConfig.cmake" \
        "$LIBDIR/cmake/mapio/mapioConfigVersion.cmake" "$MANDIR/man3/mapio_read_at.3" \
        "$MANDIR/man7/mapio.7"; do
        [ -e "$f" ] || { echo "missing: ${f#"$ROOT"}"; bad=1; }
    done
    if [ $HAVE_EV = 1 ]; then
        for f in "$LIBDIR/libmapio-ev.so.0" "$LIBDIR/libmapio-ev.a" "$LIBDIR/pkgconfig/mapio-ev.pc"; do
            [ -e "$f" ] || { echo "missing: ${f#"$ROOT"}"; bad=1; }
        done
    fi
    # Nothing internal: no mapio__ symbol, no header outside api/ (above).
    if nm -D --defined-only "$LIBDIR/libmapio.so" | grep -q ' mapio__'; then
        echo "libmapio.so exports internal mapio__ names"; bad=1
    fi
    return $bad
}
nheaders=$(find "$INCDIR" -type f -name '*.h' | wc -l)
nman=$(find "$MANDIR" -type f -name '*.[37]' | wc -l)
if check_files >"$LOG/files" 2>&1; then
    ok "installed files" "$nheaders headers, libraries, .pc, CMake package, $nman man pages"
else
    fail "installed files" "$LOG/files"
fi

# ---- pkg-config, against the install only ----------------------------------------------
# PKG_CONFIG_SYSROOT_DIR puts the destdir in front of the .pc files' paths;
# the system's .pc directories stay (liburing is mapio.pc's Requires.private).
# The system directories stay system directories under the sysroot, so that
# pkg-config still drops them (CMake refuses a -I to a directory that is not
# there).
export PKG_CONFIG_PATH=$LIBDIR/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$ROOT
export PKG_CONFIG_SYSTEM_INCLUDE_PATH=$ROOT/usr/include:/usr/include
export PKG_CONFIG_SYSTEM_LIBRARY_PATH=$ROOT/usr/lib/$(gcc -print-multiarch 2>/dev/null):$ROOT/usr/lib:$ROOT/lib:/usr/lib/$(gcc -print-multiarch 2>/dev/null):/usr/lib:/lib
export LD_LIBRARY_PATH=$LIBDIR
VERSION=$(pkg-config --modversion mapio 2>"$LOG/pc")
pcs=mapio
[ $HAVE_EV = 1 ] && pcs="mapio mapio-ev"
# shellcheck disable=SC2086
if [ -n "$VERSION" ] && pkg-config --exists $pcs 2>>"$LOG/pc"; then
    ok "pkg-config $pcs" "$VERSION: $(pkg-config --cflags --libs mapio | sed "s|$ROOT|<destdir>|g")"
else
    fail "pkg-config" "$LOG/pc"
    finish
fi
CFLAGS_MAPIO=$(pkg-config --cflags mapio)

# ---- each header alone, against the install ----------------------------------------------
headers=$(cd "$INCDIR" && find . -type f -name '*.h' | sed 's|^\./||' | sort)
header_alone() { # compiler flags... ; ext
    local ext=$1; shift
    local h tu rc=0
    for h in $headers; do
        tu=$WORK/alone.$ext
        printf '#include <%s>\ntypedef int mapio_alone_t;\n' "$h" >"$tu"
        if ! "$@" $CFLAGS_MAPIO -fsyntax-only "$tu"; then
            echo "^ $h alone"
            rc=1
        fi
    done
    return $rc
}
n=$(echo "$headers" | wc -l)
for cc in gcc clang; do
    if command -v $cc >/dev/null; then
        run "headers alone ($n), $cc -std=c11 -pedantic -Werror" "alone-$cc" \
            header_alone c $cc -std=c11 -Wall -Wextra -pedantic -Werror
    else
        skip "headers alone, $cc" "$cc not installed"
    fi
done
if command -v g++ >/dev/null; then
    run "headers alone ($n), g++ -std=c++17 -pedantic -Werror" alone-gxx \
        header_alone cc g++ -std=c++17 -Wall -Wextra -pedantic -Werror
else
    skip "headers alone, g++" "g++ not installed"
fi

# ---- consumers through pkg-config -------------------------------------------------------
T=$SRC/tests/install
B=$WORK/bin
mkdir -p "$B"
WARN=(-Wall -Wextra -Werror)
# build NAME OUT COMPILER SOURCE pkg-config-args... [-- extra link flags]
build() {
    local name=$1 out=$2 cc=$3 src=$4; shift 4
    local pc=() extra=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do pc+=("$1"); shift; done
    [ "${1:-}" = -- ] && shift && extra=("$@")
    local std=-std=c11
    case $src in *.cpp) std=-std=c++17 ;; esac
    # shellcheck disable=SC2046
    run "build $name" "build-$out" $cc $std "${WARN[@]}" "-DMAPIO_EXPECT_VERSION=\"$VERSION\"" \
        -o "$B/$out" "$src" $(pkg-config --cflags --libs "${pc[@]}") "${extra[@]}"
}
# run_both NAME BINARY args...: run it on each Linux backend.
run_both() {
    local name=$1 bin=$2; shift 2
    [ -x "$B/$bin" ] || { skip "run $name" "not built"; return; }
    # A shared consumer must load the installed library, not another copy.
    local elsewhere
    elsewhere=$(ldd "$B/$bin" 2>/dev/null | grep -E 'libmapio(-ev)?\.so' | grep -v "=> $LIBDIR/")
    if [ -n "$elsewhere" ]; then
        fail "run $name" "loads mapio from elsewhere: $elsewhere"
        return
    fi
    local be rc
    for be in uring epoll; do
        MAPIO_BACKEND=$be "$B/$bin" "$@" >"$LOG/run-$bin-$be" 2>&1
        rc=$?
        if [ $rc -eq 0 ]; then ok "run $name, MAPIO_BACKEND=$be"
        elif [ $rc -eq 77 ]; then skip "run $name, MAPIO_BACKEND=$be" "$(grep -m1 '^skip' "$LOG/run-$bin-$be")"
        else fail "run $name, MAPIO_BACKEND=$be (exit $rc)" "$LOG/run-$bin-$be"
        fi
    done
}
S=$WORK/scratch
if command -v gcc >/dev/null; then
    build "consumer, gcc, shared" c-gcc gcc "$T/consumer.c" mapio
    run_both "consumer (gcc, shared)" c-gcc "$S"
    build "consumer, gcc, --static" c-gcc-static gcc "$T/consumer.c" --static mapio -- -static
    run_both "consumer (gcc, static)" c-gcc-static "$S"
fi
if command -v clang >/dev/null; then
    build "consumer, clang, shared" c-clang clang "$T/consumer.c" mapio
    run_both "consumer (clang, shared)" c-clang "$S"
    build "consumer, clang, --static" c-clang-static clang "$T/consumer.c" --static mapio -- -static
    run_both "consumer (clang, static)" c-clang-static "$S"
else
    skip "consumer, clang" "clang not installed"
fi
if command -v g++ >/dev/null; then
    build "consumer, g++, shared" cxx g++ "$T/consumer.cpp" mapio
    run_both "consumer (g++, shared)" cxx "$S"
    build "consumer, g++, --static" cxx-static g++ "$T/consumer.cpp" --static mapio -- -static
    run_both "consumer (g++, static)" cxx-static "$S"
fi
if [ $HAVE_EV = 1 ]; then
    build "consumer-ev, gcc, shared" ev-gcc gcc "$T/consumer_ev.c" mapio-ev
    run_both "consumer-ev (gcc, shared)" ev-gcc "$S"
    build "consumer-ev, gcc, --static" ev-gcc-static gcc "$T/consumer_ev.c" --static mapio-ev -- -static
    run_both "consumer-ev (gcc, static)" ev-gcc-static "$S"
    build "consumer-ev, clang, shared" ev-clang clang "$T/consumer_ev.c" mapio-ev
    run_both "consumer-ev (clang, shared)" ev-clang "$S"
else
    skip "consumer-ev" "mapio-ev not installed (no libev at build time)"
fi

# ---- the examples, out of the tree, against the install ---------------------------------------
mkdir -p "$WORK/examples"
cp "$SRC"/examples/*.c "$WORK/examples/"
E=$WORK/examples
# -std=c11 hides POSIX (clock_gettime, mkstemp) unless a feature-test macro
# asks for it; the tree's build has -D_GNU_SOURCE. That is libc, not mapio.
POSIX=-D_POSIX_C_SOURCE=200809L
build "example records" records gcc "$E/records.c" mapio -- $POSIX
run_both "example records" records "$S/records.dat" 2000
build "example wal" wal gcc "$E/wal.c" mapio -- -pthread $POSIX
run_both "example wal" wal "$S/example.wal" 4 200
if [ $HAVE_EV = 1 ]; then
    build "example libev_loop" libev_loop gcc "$E/libev_loop.c" mapio-ev -- $POSIX
    run_both "example libev_loop" libev_loop "$S/libev.dat"
fi

# ---- CMake: find_package(mapio CONFIG) ------------------------------------------------------
if command -v cmake >/dev/null && [ -e "$LIBDIR/cmake/mapio/mapioConfig.cmake" ]; then
    C=$WORK/cmake
    if cmake -S "$T/cmake-consumer" -B "$C" -DCMAKE_PREFIX_PATH="$ROOT$PREFIX" \
        -DCMAKE_C_FLAGS="-DMAPIO_EXPECT_VERSION=\\\"$VERSION\\\"" >"$LOG/cmake" 2>&1 &&
        cmake --build "$C" -j 2 >>"$LOG/cmake" 2>&1; then
        ok "cmake find_package(mapio CONFIG COMPONENTS ev) + pkg_check_modules" \
            "$(grep -o 'mapio [0-9.]* from .*' "$LOG/cmake" | sed "s|$ROOT||")"
        rc=0
        for p in consumer consumer_static consumer_cpp consumer_ev consumer_ev_static consumer_pc; do
            for be in uring epoll; do
                MAPIO_BACKEND=$be "$C/$p" "$S" >>"$LOG/cmake-run" 2>&1
                r=$?
                [ $r -eq 0 ] || [ $r -eq 77 ] || { echo "$p on $be: exit $r" >>"$LOG/cmake-run"; rc=1; }
            done
        done
        if [ $rc -eq 0 ]; then ok "run cmake consumers (6 programs x 2 backends)"
        else fail "run cmake consumers" "$LOG/cmake-run"; fi
    else
        fail "cmake find_package(mapio CONFIG)" "$LOG/cmake"
    fi
else
    skip "cmake consumer" "no cmake, or no CMake package installed"
fi

# ---- meson: mapio as a subproject ---------------------------------------------------------
M=$WORK/meson-consumer
mkdir -p "$M/subprojects"
cp "$T/meson-consumer/meson.build" "$T/consumer.c" "$T/consumer_ev.c" "$M/"
ln -s "$SRC" "$M/subprojects/mapio"
if (unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR LD_LIBRARY_PATH
    meson setup "$M/build" "$M" && ninja -C "$M/build") >"$LOG/meson-sub" 2>&1; then
    ok "meson subproject: dependency('mapio'), dependency('mapio-ev')"
    rc=0
    for p in consumer consumer_ev; do
        [ -x "$M/build/$p" ] || continue
        for be in uring epoll; do
            MAPIO_BACKEND=$be "$M/build/$p" "$S" >>"$LOG/meson-sub-run" 2>&1
            r=$?
            [ $r -eq 0 ] || [ $r -eq 77 ] || { echo "$p on $be: exit $r" >>"$LOG/meson-sub-run"; rc=1; }
        done
    done
    if [ $rc -eq 0 ]; then ok "run meson subproject consumers"
    else fail "run meson subproject consumers" "$LOG/meson-sub-run"; fi
else
    fail "meson subproject" "$LOG/meson-sub"
fi

# ---- ABI of what was installed --------------------------------------------------------
api_headers=$(cd "$SRC/api" && ls mapio.h mapio/*.h | grep -v '^mapio/ev.h$' | sed "s|^|$SRC/api/|")
run "abi: installed libmapio.so vs api/libmapio.map vs headers" abi \
    python3 "$SRC/tools/mapio-api.py" check-abi --require-versions --lib "$LIBDIR/libmapio.so" \
    --map "$SRC/api/libmapio.map" $api_headers
if [ $HAVE_EV = 1 ]; then
    run "abi: installed libmapio-ev.so vs api/libmapio-ev.map" abi-ev \
        python3 "$SRC/tools/mapio-api.py" check-abi --require-versions --lib "$LIBDIR/libmapio-ev.so" \
        --map "$SRC/api/libmapio-ev.map" "$SRC/api/mapio/ev.h"
fi

# ---- man pages -----------------------------------------------------------------------
man_shows() { # page [section]: man finds it through MANPATH and prints its NAME line
    local out
    out=$(MANPATH=$MANDIR MANWIDTH=100 man -P cat ${2:+"$2"} "$1" 2>&1) || { echo "$out"; return 1; }
    echo "$out" | grep -q "^NAME" && echo "$out" | grep -A2 '^NAME' | grep -q "$1" ||
        { echo "$out" | head -20; return 1; }
}
if command -v man >/dev/null; then
    run "man mapio_read_at (MANPATH=<destdir>)" man1 man_shows mapio_read_at
    run "man mapio_write_at (a .so alias)" man2 man_shows mapio_write_at
    run "man 7 mapio" man3 man_shows mapio 7
else
    skip "man" "man-db not installed"
fi
lib_args=(--lib "$LIBDIR/libmapio.so")
groff_args=()
command -v groff >/dev/null && groff_args=(--groff "$(command -v groff)")
ev_header=()
[ $HAVE_EV = 1 ] && ev_header=("$SRC/api/mapio/ev.h")
run "man pages: one per function and exported symbol, groff -man -ww -z silent" man-check \
    python3 "$SRC/tools/mapio-api.py" check-man --mandir "$MANDIR" "${lib_args[@]}" "${groff_args[@]}" \
    $api_headers "${ev_header[@]}"
[ ${#groff_args[@]} -gt 0 ] || skip "groff lint" "groff not installed"

finish
