#!/usr/bin/env bash
# bench/compare.sh - the engine against its peers, side by side in one run.
#
#   [JSON=rows.jsonl] bench/compare.sh [BUILD_DIR] [FILE] [RUNS]
#   WHAT=engine|mmap|all (default all) picks the rows; SECS (default 5) the
#   seconds of each.
#
# Builds nothing: point it at a release build (meson setup build-rel
# -Dbuildtype=release && ninja -C build-rel). Makes a 1 GiB file (FILE,
# default /var/tmp/mapio-bench.dat), warms it into the page cache, then for
# each of RUNS (default 3) rounds runs every pair back to back and prints the
# per-round figures and the medians and ratios, as a markdown table. With
# JSON set, every measured row (mapio and peers) is appended to that file as
# one JSON object a line: bench/plot draws them.
set -euo pipefail
BUILD=${1:-build-rel}
FILE=${2:-/var/tmp/mapio-bench.dat}
RUNS=${3:-3}
SECS=${SECS:-5}
WHAT=${WHAT:-all}
BENCH="$BUILD/bench/mapio-bench"
. "$(dirname "$0")/lib.sh"
command -v fio >/dev/null || { echo "fio is needed: apt-get install fio" >&2; exit 1; }
[ -x "$BENCH" ] || { echo "no $BENCH: build with meson first" >&2; exit 1; }

if [ ! -f "$FILE" ] || [ "$(stat -c %s "$FILE")" -ne $((1 << 30)) ]; then
    head -c $((1 << 30)) /dev/urandom >"$FILE"
fi
cat "$FILE" >/dev/null # warm: every run below reads from the page cache

fio_rr() { # KEY NAME fio options...: 4 KiB random reads of FILE, into R[KEY]
    take "$1" "$(fio_run "$2" --name=b --filename="$FILE" --rw=randread --bs=4k --invalidate=0 \
        --norandommap --randrepeat=0 --time_based --runtime="$SECS" --group_reporting "${@:3}")"
}
mb_ops() { # KEY NAME mapio-bench arguments...: into R[KEY]
    take "$1" "$(mb "${@:2}" --seconds "$SECS")"
}

declare -A R
take() { # KEY ROW: its ops/s into R[KEY], its CPU µs per op into R[KEY_cpu]
    R[$1]+="$(iops "$2") "
    R[${1}_cpu]+="$(get cpu_us_per_op "$2") "
}
engine_round() {
    fio_rr fio_uring "fio io_uring QD32" --ioengine=io_uring --iodepth=32
    fio_rr fio_uring_b "fio io_uring QD32 batched" --ioengine=io_uring --iodepth=32 --iodepth_batch_submit=32 --iodepth_batch_complete_min=1 --iodepth_batch_complete_max=32
    mb_ops mapio_uring "mapio uring QD32" randread "$FILE" --backend uring --qd 32
    fio_rr fio_psync2 "fio psync x2" --ioengine=psync --numjobs=2
    mb_ops mapio_epoll "mapio epoll QD32" randread "$FILE" --backend epoll --workers 2 --qd 32
    fio_rr fio_psync1 "fio psync QD1" --ioengine=psync
    mb_ops mapio_epoll1 "mapio epoll QD1" randread "$FILE" --backend epoll --qd 1
    mb_ops raw_nop "raw liburing nop" raw-uring "$FILE" --op nop
    mb_ops mapio_nop "mapio uring nop" roundtrip "$FILE" --backend uring --op nop
    mb_ops mapio_nop_nolat "mapio uring nop, no latency" roundtrip "$FILE" --backend uring --op nop --latency 0
    mb_ops raw_read1 "raw liburing read1" raw-uring "$FILE" --op read1
    mb_ops mapio_read1 "mapio uring read1" roundtrip "$FILE" --backend uring --op read1
    mb_ops mapio_read1_nolat "mapio uring read1, no latency" roundtrip "$FILE" --backend uring --op read1 --latency 0
}
# MMapIO: fio's mmap engine is one synchronous thread doing a memcpy per I/O;
# the engine in MMapIO mode copies on the submitting thread (QD1 is the same
# shape), or on its copy pool.
mmap_round() {
    fio_rr fio_mmap "fio mmap" --ioengine=mmap
    mb_ops mapio_mmap "mapio MMapIO QD1" randread "$FILE" --backend uring --qd 1 --mmap 1
    mb_ops mapio_mmap_pool "mapio MMapIO pool QD32" randread "$FILE" --backend uring --qd 32 --mmap 2 --workers 2
    mb_ops mapio_mmap_pool1 "mapio MMapIO pool QD1 1 worker" randread "$FILE" --backend uring --qd 1 --mmap 2 --workers 1
    mb_ops mapio_mmap_pool12 "mapio MMapIO pool QD1 2 workers" randread "$FILE" --backend uring --qd 1 --mmap 2 --workers 2
}
for run in $(seq 1 "$RUNS"); do
    [ "$WHAT" = mmap ] || engine_round
    [ "$WHAT" = engine ] || mmap_round
    echo "round $run done" >&2
done

med() { echo "${R[$1]}" | median; }
row() { # label, ours, peer, target: ops/s and their ratio, CPU µs per op and theirs
    local a b ca cb
    a=$(med "$2"); b=$(med "$3"); ca=$(med "${2}_cpu"); cb=$(med "${3}_cpu")
    printf '| %s | %s | %.0f | %.0f | %.2f | %s | %.2f / %.2f = %.2f |\n' "$1" "${R[$2]}/ ${R[$3]}" \
        "$a" "$b" "$(echo "$a / $b" | bc -l)" "$4" "$ca" "$cb" "$(echo "$ca / $cb" | bc -l)"
}
echo "| workload | per-round figures (mapio / peer) | mapio median | peer median | ratio | target | CPU µs/op mapio / peer |"
echo "|---|---|---|---|---|---|---|"
if [ "$WHAT" != mmap ]; then
row "4 KiB randread QD32, io_uring backend vs fio io_uring iodepth=32" mapio_uring fio_uring "≥ 1.0"
row "same, vs fio io_uring iodepth=32 batched (iodepth_batch_submit=32)" mapio_uring fio_uring_b "≥ 1.0"
row "4 KiB randread, epoll+2 workers QD32 vs fio psync numjobs=2" mapio_epoll fio_psync2 "≥ 0.9"
row "4 KiB randread, epoll QD1 (inline cached reads) vs fio psync QD1" mapio_epoll1 fio_psync1 "≥ 0.9"
row "QD1 round trip, nop: engine vs raw liburing loop" mapio_nop raw_nop "≥ 0.9"
row "QD1 round trip, 1-byte cached read: engine vs raw liburing" mapio_read1 raw_read1 "≥ 0.9"
row "QD1 nop, latency accounting off (MAPIO_ENGINE_NO_LATENCY) vs raw liburing" mapio_nop_nolat raw_nop "-"
row "QD1 1-byte read, latency accounting off vs raw liburing" mapio_read1_nolat raw_read1 "-"
row "what latency accounting costs: QD1 nop, on vs off" mapio_nop mapio_nop_nolat "≥ 0.97"
fi
if [ "$WHAT" != engine ]; then
row "4 KiB randread, MMapIO (copy on the caller) vs fio mmap" mapio_mmap fio_mmap "≥ 0.9"
row "same, MMapIO copy pool (2 workers, QD32) vs fio mmap" mapio_mmap_pool fio_mmap "-"
row "same, MMapIO copy pool (1 worker, QD1) vs fio mmap" mapio_mmap_pool1 fio_mmap "-"
row "same, MMapIO copy pool (2 workers, QD1) vs fio mmap" mapio_mmap_pool12 fio_mmap "-"
fi
