#!/usr/bin/env bash
# run.sh - the two commands of the README.
#   ./run.sh demo   install what is missing, build, run examples/records on a temp file
#   ./run.sh test   install what is missing, then build and run every test suite:
#                   ASan+UBSan (uring+epoll), TSan (threaded suites), the
#                   single-backend epoll build, the kqueue backend on its Linux
#                   emulation with the portable mmap paths, a clang -Werror
#                   build with the WAL scanner's libFuzzer run (30 s), the install (meson install --destdir, then consumers
#                   built outside the tree through pkg-config, CMake and a meson
#                   subproject: tools/check-install.sh), format and
#                   exported-symbol checks, fio's verify through mapio's fio
#                   engine (bench/fio/verify.sh), then the Windows build
#                   (mingw-w64) and its suites under Wine
#                   (cross/windows-test.sh). Every build also runs the ABI and
#                   man-page tests (suite abi).
set -euo pipefail
cd "$(dirname "$0")"

PKGS=(meson ninja-build pkg-config gcc libc6-dev liburing-dev libcmocka-dev libev-dev libaio-dev
      clang-format binutils clang libclang-rt-dev g++ cmake groff-base man-db gnuplot-nox)

install_deps() {
    local missing=()
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "== installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

setup() { # dir, meson options...
    local dir=$1; shift
    local log; log=$(mktemp)
    if [ -d "$dir" ]; then set -- --reconfigure "$@"; fi
    if ! meson setup "$dir" "$@" >"$log" 2>&1 || ! ninja -C "$dir" >>"$log" 2>&1; then
        echo "build of $dir failed:"; tail -40 "$log"; rm -f "$log"; return 1
    fi
    rm -f "$log"
}

PASSED=0; FAILED=0; SKIPPED=0
# Every failure, named with the end of its log, printed again last: a CI
# service may keep only the tail of a long run.
FAILURES=$(mktemp)
trap 'rm -f "$FAILURES"' EXIT
failures() { # stage, build dir: the failed tests of its last meson test run
    python3 tools/test-failures.py "$1" "$2" >>"$FAILURES" 2>&1 || echo "$1: (could not read $2's test log)" >>"$FAILURES"
}
# The tests' timeouts catch hangs; they are no speed limits. CI machines
# of one kind differ in speed by 3x, so they get twice the room.
TIMEOUTS=2
mtest() { # dir, meson test options...
    local dir=$1; shift
    local out rc=0
    out=$(meson test -C "$dir" --print-errorlogs --timeout-multiplier "$TIMEOUTS" "$@" 2>&1) || rc=$?
    echo "$out" | grep -E '^ *[0-9]+/[0-9]+ ' || true
    local ok xf fail skip to up
    ok=$(echo "$out" | awk '/^Ok:/{print $2}'); xf=$(echo "$out" | awk '/^Expected Fail:/{print $3}')
    fail=$(echo "$out" | awk '/^Fail:/{print $2}'); skip=$(echo "$out" | awk '/^Skipped:/{print $2}')
    to=$(echo "$out" | awk '/^Timeout:/{print $2}'); up=$(echo "$out" | awk '/^Unexpected Pass:/{print $3}')
    PASSED=$((PASSED + ${ok:-0} + ${xf:-0})); SKIPPED=$((SKIPPED + ${skip:-0}))
    FAILED=$((FAILED + ${fail:-0} + ${to:-0} + ${up:-0}))
    if [ $rc -ne 0 ]; then
        echo "$out" | sed -n '/Summary of Failures/,$p'
        if [ "${fail:-0}${to:-0}${up:-0}" = "000" ]; then FAILED=$((FAILED + 1)); fi
        failures "$dir" "$dir"
    fi
    return 0
}

check_format() {
    local bad
    bad=$(git ls-files '*.c' '*.h' 2>/dev/null | while read -r f; do
        clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || echo "$f"; done)
    if [ -n "$bad" ]; then echo "clang-format would change:"; echo "$bad"; FAILED=$((FAILED + 1)); else PASSED=$((PASSED + 1)); echo "format: ok"; fi
}

check_symbols() { # only mapio_ names may leave the shared library
    local leaked
    leaked=$(nm -D --defined-only "$1/libmapio.so" | awk '$2 ~ /[TDBR]/ {print $3}' | grep -v '^mapio_' || true)
    if [ -n "$leaked" ]; then echo "exported non-mapio symbols:"; echo "$leaked"; FAILED=$((FAILED + 1)); else PASSED=$((PASSED + 1)); echo "symbols: only mapio_* exported"; fi
}

case "${1:-}" in
demo)
    install_deps
    setup build -Dbuildtype=release
    ./build/examples/records "${@:2}"
    ;;
test)
    install_deps
    echo "== ASan+UBSan build, io_uring + epoll"
    setup build-ci -Dwerror=true -Db_sanitize=address,undefined
    mtest build-ci
    check_symbols build-ci
    echo "== single-backend build (-Dbackends=epoll: direct calls, no ops table)"
    setup build-ci-epoll -Dwerror=true -Dbackends=epoll -Db_sanitize=address,undefined
    mtest build-ci-epoll
    # What a BSD/macOS build looks like, as far as Linux can show it: the kqueue
    # backend over the emulation in tests/kqueue-emu, and the mmap toolkit's
    # portable paths (no mremap, memfd, MAP_POPULATE, sync_file_range).
    echo "== kqueue backend (emulated) + portable mmap paths (-Dbackends=kqueue -Dportable=true)"
    setup build-ci-kqueue -Dwerror=true -Dbackends=kqueue -Dportable=true -Db_sanitize=address,undefined
    mtest build-ci-kqueue
    echo "== TSan, threaded suites"
    # kqueue too (over its emulation): its trigger/collect protocol is threaded.
    setup build-ci-tsan -Dwerror=true -Db_sanitize=thread -Db_lundef=false -Dbackends=uring,epoll,kqueue
    # TSan's shadow memory needs the older mmap layout on kernels with large ASLR entropy.
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" setarch "$(uname -m)" -R \
        meson test -C build-ci-tsan --suite threads --print-errorlogs --timeout-multiplier "$TIMEOUTS" \
        >build-ci-tsan/tsan.log 2>&1 && tsan_rc=0 || tsan_rc=$?
    grep -E '^ *[0-9]+/[0-9]+ ' build-ci-tsan/tsan.log || true
    ok=$(awk '/^Ok:/{print $2}' build-ci-tsan/tsan.log); fail=$(awk '/^Fail:/{print $2}' build-ci-tsan/tsan.log)
    PASSED=$((PASSED + ${ok:-0})); FAILED=$((FAILED + ${fail:-0}))
    if [ "$tsan_rc" -ne 0 ]; then
        sed -n '/Summary of Failures/,$p' build-ci-tsan/tsan.log
        [ "${fail:-0}" != 0 ] || FAILED=$((FAILED + 1))
        failures build-ci-tsan build-ci-tsan
    fi
    # With the WAL scanner's libFuzzer target: its suite runs it for
    # fuzz_seconds (30) from a fresh seed corpus (tests/wal/wal_fuzz.sh).
    echo "== clang build (CC=clang -Dwerror=true -Dfuzz=true), every suite, the WAL fuzzer for 30 s"
    CC=clang setup build-ci-clang -Dwerror=true -Dfuzz=true
    mtest build-ci-clang
    echo "== install: meson install --destdir, consumers through pkg-config, CMake, a meson subproject"
    # The clang build, installed into a temporary root; the consumers are
    # built with gcc, clang and g++ (tools/check-install.sh says what it checks).
    inst_rc=0
    tools/check-install.sh build-ci-clang >build-ci-clang/install.log 2>&1 || inst_rc=$?
    # One line per check, with the log's tail under a failed one.
    grep -vE '^install: [0-9]+ passed' build-ci-clang/install.log || true
    line=$(grep -E '^install: [0-9]+ passed' build-ci-clang/install.log | tail -1 || true)
    ip=$(echo "$line" | awk '{print $2}'); if_=$(echo "$line" | awk '{print $4}'); is=$(echo "$line" | awk '{print $6}')
    PASSED=$((PASSED + ${ip:-0})); FAILED=$((FAILED + ${if_:-0})); SKIPPED=$((SKIPPED + ${is:-0}))
    if [ "$inst_rc" -ne 0 ] && [ "${if_:-0}" = 0 ]; then
        tail -40 build-ci-clang/install.log; FAILED=$((FAILED + 1))
    fi
    [ "$inst_rc" -eq 0 ] || { echo "install:"; grep -A12 -E ': FAIL' build-ci-clang/install.log | tail -40 | sed 's/^/    /'; } >>"$FAILURES"
    echo "== style"
    check_format
    # fio's verify=crc32c as a third-party integrity check of every Linux
    # backend and file mode, through the fio engine (bench/fio/README.md).
    # verify.sh installs fio and fetches fio's source through apt itself
    # (cached in /var/cache/mapio-fio, never in the repository).
    echo "== fio: fio's verify through mapio's fio engine (bench/fio/verify.sh)"
    fio_rc=0
    mkdir -p build-ci-fio
    BUILD=build-ci-fio bench/fio/verify.sh >build-ci-fio/verify.log 2>&1 || fio_rc=$?
    grep -E '^(fio-verify: |    )' build-ci-fio/verify.log | grep -vE '^fio-verify: [0-9]+ passed' || true
    line=$(grep -E '^fio-verify: [0-9]+ passed' build-ci-fio/verify.log | tail -1 || true)
    fp=$(echo "$line" | awk '{print $2}'); ff=$(echo "$line" | awk '{print $4}'); fs=$(echo "$line" | awk '{print $6}')
    PASSED=$((PASSED + ${fp:-0})); FAILED=$((FAILED + ${ff:-0})); SKIPPED=$((SKIPPED + ${fs:-0}))
    if [ "$fio_rc" -ne 0 ] && [ "${ff:-0}" = 0 ]; then
        [ -n "$line" ] || tail -40 build-ci-fio/verify.log
        FAILED=$((FAILED + 1))
    fi
    [ "$fio_rc" -eq 0 ] || { echo "fio-verify:"; grep -A12 -E ': FAIL' build-ci-fio/verify.log | tail -40 | sed 's/^/    /'; } >>"$FAILURES"
    # Last, so that a Linux failure is reported before the long install of
    # mingw-w64 and Wine on a fresh machine.
    echo "== Windows: mingw-w64 cross build, suites under Wine (cross/windows-test.sh)"
    win_rc=0
    mkdir -p build-ci-win
    BUILD=build-ci-win cross/windows-test.sh >build-ci-win/windows-test.log 2>&1 || win_rc=$?
    grep -E '^(== | *[0-9]+/[0-9]+ |  skip|windows: )' build-ci-win/windows-test.log || true
    line=$(grep -E '^windows: ' build-ci-win/windows-test.log | tail -1 || true)
    wp=$(echo "$line" | awk '{print $2}'); wf=$(echo "$line" | awk '{print $4}'); ws=$(echo "$line" | awk '{print $6}')
    PASSED=$((PASSED + ${wp:-0})); FAILED=$((FAILED + ${wf:-0})); SKIPPED=$((SKIPPED + ${ws:-0}))
    if [ "$win_rc" -ne 0 ]; then
        sed -n '/Summary of Failures/,$p' build-ci-win/windows-test.log
        [ -n "$line" ] || tail -40 build-ci-win/windows-test.log
        [ "${wf:-0}" != 0 ] || FAILED=$((FAILED + 1))
        failures windows build-ci-win
    fi
    echo
    if [ -s "$FAILURES" ]; then
        echo "== failures (each failed test, the end of its log; the stage is its build directory)"
        cat "$FAILURES"
        echo
    fi
    echo "tests: $PASSED passed, $FAILED failed, $SKIPPED skipped"
    [ "$FAILED" -eq 0 ]
    ;;
*)
    echo "usage: $0 demo [path count record-size queue-depth] | test" >&2
    exit 2
    ;;
esac
