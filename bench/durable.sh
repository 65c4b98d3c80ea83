#!/usr/bin/env bash
# bench/durable.sh - group commit and O_DIRECT against their peers, side by side.
#
#   [JSON=rows.jsonl] bench/durable.sh [BUILD_DIR] [DIR] [RUNS]
#   SECS (default 3): the seconds of each run; COMMITTERS (default
#   "1 8 32 128"): the committer counts.
#
# Per round: a write+fdatasync-per-record loop (mapio-bench sync-each, no mapio),
# fio --fdatasync=1, and mapio group commit with each committer count of
# 4 KiB records on each backend; then O_DIRECT 4 KiB random reads at QD32 on a
# 1 GiB file: fio io_uring vs the io_uring backend, fio libaio vs the epoll
# backend. Medians of RUNS (default 3) rounds, as markdown tables. With JSON
# set, every measured row is appended to that file (JSON lines, bench/plot).
set -euo pipefail
BUILD=${1:-build-rel}
DIR=${2:-/var/tmp}
RUNS=${3:-3}
SECS=${SECS:-3}
COMMITTERS=${COMMITTERS:-1 8 32 128}
BENCH="$BUILD/bench/mapio-bench"
WAL="$DIR/mapio-wal.dat"
BIG="$DIR/mapio-bench.dat"
. "$(dirname "$0")/lib.sh"
[ -x "$BENCH" ] || { echo "no $BENCH" >&2; exit 1; }
[ -f "$BIG" ] && [ "$(stat -c %s "$BIG")" -eq $((1 << 30)) ] || head -c $((1 << 30)) /dev/urandom >"$BIG"

fio_direct() { # NAME ioengine -> IOPS of O_DIRECT 4 KiB random reads at QD32
    iops "$(fio_run "$1" --name=d --filename="$BIG" --rw=randread --bs=4k --direct=1 \
        --ioengine="$2" --iodepth=32 --norandommap --randrepeat=0 --time_based --runtime="$SECS")"
}
declare -A R

for run in $(seq 1 "$RUNS"); do
    out=$(mb "write+fdatasync each" sync-each "$WAL" --seconds "$SECS")
    R[each]+="$(iops "$out") "; R[each_p50]+="$(get p50_us "$out") "
    out=$(fio_run "fio fdatasync=1" --name=w --filename="$WAL" --rw=write --bs=4k --size=256m \
        --fdatasync=1 --time_based --runtime="$SECS")
    R[fio_fds]+="$(iops "$out") "
    for be in uring epoll; do
        for n in $COMMITTERS; do
            out=$(mb "mapio $be commit x$n" commit "$WAL" --backend $be --committers $n --seconds "$SECS")
            R[${be}_$n]+="$(iops "$out") "
            R[${be}_${n}_p50]+="$(get p50_us "$out") "
            R[${be}_${n}_ps]+="$(get records_per_sync "$out") "
        done
    done
    R[fio_direct_uring]+="$(fio_direct "fio io_uring O_DIRECT QD32" io_uring) "
    R[mapio_direct_uring]+="$(iops "$(mb "mapio uring O_DIRECT QD32" randread "$BIG" --backend uring --qd 32 --direct 1 --seconds "$SECS")") "
    R[fio_direct_aio]+="$(fio_direct "fio libaio O_DIRECT QD32" libaio) "
    R[mapio_direct_epoll]+="$(iops "$(mb "mapio epoll O_DIRECT QD32" randread "$BIG" --backend epoll --qd 32 --direct 1 --seconds "$SECS")") "
    echo "round $run done" >&2
done

m() { echo "${R[$1]}" | median; }
each=$(m each)
echo "| writer | per-round commits/s | median | vs write+fdatasync each ($each/s) | records per fdatasync | p50 µs |"
echo "|---|---|---|---|---|---|"
printf '| fio --fdatasync=1 (write IOPS) | %s | %s | %s | 1 | |\n' "${R[fio_fds]}" "$(m fio_fds)" "$(ratio "$(m fio_fds)" "$each")"
for be in uring epoll; do
    for n in $COMMITTERS; do
        printf '| %s, %s committers | %s | %s | %s | %.1f | %.1f |\n' "$be" "$n" "${R[${be}_$n]}" \
            "$(m ${be}_$n)" "$(ratio "$(m ${be}_$n)" "$each")" "$(m ${be}_${n}_ps)" "$(m ${be}_${n}_p50)"
    done
done
echo
echo "Lone committer: p50 latency vs one write+fdatasync (p50 $(m each_p50) µs):"
echo "uring $(m uring_1_p50) µs = $(ratio "$(m uring_1_p50)" "$(m each_p50)")x; epoll $(m epoll_1_p50) µs = $(ratio "$(m epoll_1_p50)" "$(m each_p50)")x (target ≤ 1.1)"
echo
echo "| O_DIRECT 4 KiB randread QD32 | per-round mapio / peer | mapio | peer | ratio |"
echo "|---|---|---|---|---|"
printf '| io_uring backend vs fio io_uring | %s/ %s | %s | %s | %s |\n' "${R[mapio_direct_uring]}" "${R[fio_direct_uring]}" \
    "$(m mapio_direct_uring)" "$(m fio_direct_uring)" "$(ratio "$(m mapio_direct_uring)" "$(m fio_direct_uring)")"
printf '| epoll backend (native AIO) vs fio libaio | %s/ %s | %s | %s | %s |\n' "${R[mapio_direct_epoll]}" "${R[fio_direct_aio]}" \
    "$(m mapio_direct_epoll)" "$(m fio_direct_aio)" "$(ratio "$(m mapio_direct_epoll)" "$(m fio_direct_aio)")"
