#!/usr/bin/env bash
# bench/compare.sh - the engine against its peers, side by side in one run.
#
#   bench/compare.sh [BUILD_DIR] [FILE] [RUNS]
#   WHAT=engine|mmap|all (default all) picks the rows.
#
# Builds nothing: point it at a release build (meson setup build-rel
# -Dbuildtype=release && ninja -C build-rel). Makes a 1 GiB file (FILE,
# default /var/tmp/mapio-bench.dat), warms it into the page cache, then for
# each of RUNS (default 3) rounds runs every pair back to back and prints the
# per-round figures and the medians and ratios, as a markdown table.
set -euo pipefail
BUILD=${1:-build-rel}
FILE=${2:-/var/tmp/mapio-bench.dat}
RUNS=${3:-3}
SECS=${SECS:-5}
WHAT=${WHAT:-all}
BENCH="$BUILD/bench/mapio-bench"
command -v fio >/dev/null || { echo "fio is needed: apt-get install fio" >&2; exit 1; }
[ -x "$BENCH" ] || { echo "no $BENCH: build with meson first" >&2; exit 1; }

if [ ! -f "$FILE" ] || [ "$(stat -c %s "$FILE")" -ne $((1 << 30)) ]; then
    head -c $((1 << 30)) /dev/urandom >"$FILE"
fi
cat "$FILE" >/dev/null # warm: every run below reads from the page cache

fio_iops() { # fio options... -> IOPS
    fio --name=b --filename="$FILE" --rw=randread --bs=4k --invalidate=0 --norandommap \
        --randrepeat=0 --time_based --runtime="$SECS" --group_reporting --output-format=terse \
        --terse-version=3 "$@" | awk -F';' '{print $8}'
}
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

declare -A R
engine_round() {
    R[fio_uring]+="$(fio_iops --ioengine=io_uring --iodepth=32) "
    R[fio_uring_b]+="$(fio_iops --ioengine=io_uring --iodepth=32 --iodepth_batch_submit=32 --iodepth_batch_complete_min=1 --iodepth_batch_complete_max=32) "
    R[mapio_uring]+="$("$BENCH" randread "$FILE" --backend uring --qd 32 --seconds "$SECS" | field iops) "
    R[fio_psync2]+="$(fio_iops --ioengine=psync --numjobs=2) "
    R[mapio_epoll]+="$("$BENCH" randread "$FILE" --backend epoll --workers 2 --qd 32 --seconds "$SECS" | field iops) "
    R[raw_nop]+="$("$BENCH" raw-uring "$FILE" --op nop --seconds "$SECS" | field ops_per_s) "
    R[mapio_nop]+="$("$BENCH" roundtrip "$FILE" --backend uring --op nop --seconds "$SECS" | field ops_per_s) "
    R[raw_read1]+="$("$BENCH" raw-uring "$FILE" --op read1 --seconds "$SECS" | field ops_per_s) "
    R[mapio_read1]+="$("$BENCH" roundtrip "$FILE" --backend uring --op read1 --seconds "$SECS" | field ops_per_s) "
}
# MMapIO: fio's mmap engine is one synchronous thread doing a memcpy per I/O;
# the engine in MMapIO mode copies on the submitting thread (QD1 is the same
# shape), or on its copy pool.
mmap_round() {
    R[fio_mmap]+="$(fio_iops --ioengine=mmap) "
    R[mapio_mmap]+="$("$BENCH" randread "$FILE" --backend uring --qd 1 --mmap 1 --seconds "$SECS" | field iops) "
    R[mapio_mmap_pool]+="$("$BENCH" randread "$FILE" --backend uring --qd 32 --mmap 2 --workers 2 --seconds "$SECS" | field iops) "
    R[mapio_mmap_pool1]+="$("$BENCH" randread "$FILE" --backend uring --qd 1 --mmap 2 --workers 1 --seconds "$SECS" | field iops) "
}
for run in $(seq 1 "$RUNS"); do
    [ "$WHAT" = mmap ] || engine_round
    [ "$WHAT" = engine ] || mmap_round
    echo "round $run done" >&2
done

med() { echo "${R[$1]}" | tr ' ' '\n' | grep . | median; }
row() { # label, ours, peer, target
    local a b
    a=$(med "$2"); b=$(med "$3")
    printf '| %s | %s | %.0f | %.0f | %.2f | %s |\n' "$1" "${R[$2]}/ ${R[$3]}" "$a" "$b" \
        "$(echo "$a / $b" | bc -l)" "$4"
}
echo "| workload | per-round figures (mapio / peer) | mapio median | peer median | ratio | target |"
echo "|---|---|---|---|---|---|"
if [ "$WHAT" != mmap ]; then
row "4 KiB randread QD32, io_uring backend vs fio io_uring iodepth=32" mapio_uring fio_uring "≥ 1.0"
row "same, vs fio io_uring iodepth=32 batched (iodepth_batch_submit=32)" mapio_uring fio_uring_b "≥ 1.0"
row "4 KiB randread, epoll+2 workers QD32 vs fio psync numjobs=2" mapio_epoll fio_psync2 "≥ 0.9"
row "QD1 round trip, nop: engine vs raw liburing loop" mapio_nop raw_nop "≥ 0.9"
row "QD1 round trip, 1-byte cached read: engine vs raw liburing" mapio_read1 raw_read1 "≥ 0.9"
fi
if [ "$WHAT" != engine ]; then
row "4 KiB randread, MMapIO (copy on the caller) vs fio mmap" mapio_mmap fio_mmap "≥ 0.9"
row "same, MMapIO copy pool (2 workers, QD32) vs fio mmap" mapio_mmap_pool fio_mmap "-"
row "same, MMapIO copy pool (1 worker, QD1) vs fio mmap" mapio_mmap_pool1 fio_mmap "-"
fi
