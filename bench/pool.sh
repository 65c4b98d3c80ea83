#!/usr/bin/env bash
# bench/pool.sh - the pool backends (issue 18, sections 3 and 4), side by
# side in one run: cached reads against fio psync, the MMapIO copy pool at
# QD1, and reads beside group commit.
#
#   [JSON=rows.jsonl] bench/pool.sh [BUILD_DIR] [FILE] [RUNS]
#   SECS (default 3) sets the seconds of each run; WHAT=reads|lanes|all
#   (default all) picks the rows.
#
# Builds nothing: point it at a release build (meson setup build-rel
# -Dbuildtype=release && ninja -C build-rel). Makes a 1 GiB file (FILE,
# default /var/tmp/mapio-bench.dat) and warms it; the committers write
# FILE.commits. Each of RUNS (default 3) rounds runs every row once, the
# pairs back to back; the tables give the per-round figures, the medians and
# the ratios, and CPU us per operation (user + system, every thread).
set -euo pipefail
BUILD=${1:-build-rel}
FILE=${2:-/var/tmp/mapio-bench.dat}
RUNS=${3:-3}
SECS=${SECS:-3}
WHAT=${WHAT:-all}
BENCH="$BUILD/bench/mapio-bench"
. "$(dirname "$0")/lib.sh"
[ "$WHAT" = lanes ] || command -v fio >/dev/null ||
    { echo "fio is needed (or WHAT=lanes): apt-get install fio" >&2; exit 1; }
[ -x "$BENCH" ] || { echo "no $BENCH: build with meson first" >&2; exit 1; }

if [ ! -f "$FILE" ] || [ "$(stat -c %s "$FILE")" -ne $((1 << 30)) ]; then
    head -c $((1 << 30)) /dev/urandom >"$FILE"
fi
cat "$FILE" >/dev/null # warm: every read below is a page-cache hit

declare -A R C P # ops/s, CPU us per op, p99 us; per row, one figure per round
put() { # KEY ROW
    R[$1]+="$(iops "$2") "
    C[$1]+="$(printf '%.2f' "$(get cpu_us_per_op "$2")") "
    P[$1]+="$(printf '%.0f' "$(get p99_us "$2")") "
}
fio_rr() { # KEY NAME fio-options...
    put "$1" "$(fio_run "$2" --name=b --filename="$FILE" --rw=randread --bs=4k --size=1G \
        --invalidate=0 --time_based --runtime="$SECS" --group_reporting "${@:3}")"
}
mb_rr() { # KEY NAME mapio-bench randread options...
    put "$1" "$(mb "$2" randread "$FILE" --seconds "$SECS" "${@:3}")"
}

reads_round() {
    fio_rr fio1 "fio psync QD1" --ioengine=psync --iodepth=1
    mb_rr epoll1 "mapio epoll QD1" --backend epoll --qd 1
    mb_rr epoll1_pool "mapio epoll QD1, every read to a worker" --backend epoll --qd 1 --inline-reads 0
    fio_rr fio2 "fio psync x2" --ioengine=psync --iodepth=1 --numjobs=2
    mb_rr epoll2e "mapio epoll, 2 engines on 2 threads, QD1 each" --backend epoll --qd 1 --engines 2
    mb_rr mmap_w1 "mapio MMapIO copy pool QD1, 1 worker" --backend epoll --mmap 2 --qd 1 --workers 1
    mb_rr mmap_w2 "mapio MMapIO copy pool QD1, 2 workers" --backend epoll --mmap 2 --qd 1 --workers 2
}
lanes_round() {
    local be
    for be in epoll uring; do
        mb_rr "${be}_alone" "mapio $be QD32 reads" --backend "$be" --qd 32
        mb_rr "${be}_beside" "mapio $be QD32 reads, 32 committers beside" --backend "$be" --qd 32 \
            --committers-beside 32
    done
    mb_rr epoll_pool_alone "mapio epoll QD32 reads on the pool" --backend epoll --qd 32 \
        --inline-reads 0
    mb_rr epoll_pool_beside "mapio epoll QD32 reads on the pool, 32 committers beside" \
        --backend epoll --qd 32 --inline-reads 0 --committers-beside 32
}
for run in $(seq 1 "$RUNS"); do
    [ "$WHAT" = lanes ] || reads_round
    [ "$WHAT" = reads ] || lanes_round
    echo "round $run done" >&2
done

med() { # ARRAY KEY
    local -n a=$1
    echo "${a[$2]}" | median
}
row() { # label, ours, peer, target: ops/s ratio and CPU per op
    printf '| %s | %s/ %s | %.0f | %.0f | %.2f | %s | %s / %s |\n' "$1" "${R[$2]}" "${R[$3]}" \
        "$(med R "$2")" "$(med R "$3")" "$(echo "$(med R "$2") / $(med R "$3")" | bc -l)" "$4" \
        "$(med C "$2")" "$(med C "$3")"
}
p99row() { # label, with, without: p99 ratio
    printf '| %s | %s/ %s | %.0f | %.0f | %.2f | ≤ 2 | %.0f / %.0f |\n' "$1" "${P[$2]}" "${P[$3]}" \
        "$(med P "$2")" "$(med P "$3")" "$(echo "$(med P "$2") / $(med P "$3")" | bc -l)" \
        "$(med R "$2")" "$(med R "$3")"
}
if [ "$WHAT" != lanes ]; then
    echo "| workload | per-round ops/s (mapio / peer) | mapio | peer | ratio | target | CPU us/op (mapio / peer) |"
    echo "|---|---|---|---|---|---|---|"
    row "4 KiB cached randread QD1: epoll vs fio psync" epoll1 fio1 "≥ 0.9"
    row "same, epoll with every read on a worker (--inline-reads 0) vs fio psync" epoll1_pool fio1 "-"
    row "2 engines on 2 threads, QD1 each, epoll vs fio psync numjobs=2" epoll2e fio2 "≥ 0.95"
    row "MMapIO copy pool QD1: 2 workers vs 1 worker" mmap_w2 mmap_w1 "no collapse"
    echo
fi
if [ "$WHAT" != reads ]; then
    echo "| 4 KiB cached randread QD32, read p99 | per-round p99 us (beside / alone) | beside | alone | ratio | target | reads/s (beside / alone) |"
    echo "|---|---|---|---|---|---|---|"
    p99row "epoll, 32 committers beside vs none" epoll_beside epoll_alone
    p99row "epoll, reads on the pool (--inline-reads 0)" epoll_pool_beside epoll_pool_alone
    p99row "io_uring, 32 committers beside vs none" uring_beside uring_alone
fi
