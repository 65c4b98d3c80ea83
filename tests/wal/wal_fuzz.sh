#!/bin/sh
# tests/wal/wal_fuzz.sh - run the WAL scanner's libFuzzer target for a
# bounded time from a freshly generated seed corpus (meson test --suite fuzz;
# build with CC=clang meson setup -Dfuzz=true).
#
#   wal_fuzz.sh FUZZER REGRESS [SECONDS] [WORKDIR]
#
# FUZZER is the libFuzzer binary (wal_fuzz), REGRESS the plain build of the
# same target (wal_fuzz_regress), which writes the seeds. The corpus grows
# in WORKDIR/corpus (default: a temporary directory, removed at the end);
# a crash leaves its input in WORKDIR/artifacts, which is kept, and makes
# the script fail. Rerun a crash with: REGRESS WORKDIR/artifacts/crash-...
set -eu
fuzzer=$1
regress=$2
secs=${3:-30}
if [ $# -ge 4 ]; then
    work=$4
    keep=1
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/wal-fuzz.XXXXXX")
    keep=0
fi
mkdir -p "$work/corpus" "$work/seeds" "$work/artifacts"
"$regress" --write-seeds "$work/seeds"
rc=0
"$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=140000 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
    "$work/corpus" "$work/seeds" || rc=$?
if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$work/artifacts")" ]; then
    echo "wal_fuzz.sh: the fuzzer failed (exit $rc); inputs kept in $work/artifacts" >&2
    exit 1
fi
[ "$keep" -eq 1 ] || rm -rf "$work"
echo "wal_fuzz.sh: ${secs}s, no crash"
