#!/usr/bin/env bash
# bench/durable.sh - group commit and O_DIRECT against their peers, side by side.
#
#   bench/durable.sh [BUILD_DIR] [DIR] [RUNS]
#
# Per round: a write+fdatasync-per-record loop (mapio-bench sync-each, no mapio),
# fio --fdatasync=1, and mapio group commit with 1, 8, 32, 128 committers of
# 4 KiB records on each backend; then O_DIRECT 4 KiB random reads at QD32 on a
# 1 GiB file: fio io_uring vs the io_uring backend, fio libaio vs the epoll
# backend. Medians of RUNS (default 3) rounds, as markdown tables.
set -euo pipefail
BUILD=${1:-build-rel}
DIR=${2:-/var/tmp}
RUNS=${3:-3}
SECS=${SECS:-3}
BENCH="$BUILD/bench/mapio-bench"
WAL="$DIR/mapio-wal.dat"
BIG="$DIR/mapio-bench.dat"
[ -x "$BENCH" ] || { echo "no $BENCH" >&2; exit 1; }
[ -f "$BIG" ] && [ "$(stat -c %s "$BIG")" -eq $((1 << 30)) ] || head -c $((1 << 30)) /dev/urandom >"$BIG"

field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
declare -A R

for run in $(seq 1 "$RUNS"); do
    out=$("$BENCH" sync-each "$WAL" --seconds "$SECS")
    R[each]+="$(echo "$out" | field records_per_s) "; R[each_p50]+="$(echo "$out" | field p50_us) "
    R[fio_fds]+="$(fio --name=w --filename="$WAL" --rw=write --bs=4k --size=256m --fdatasync=1 \
        --time_based --runtime="$SECS" --output-format=terse --terse-version=3 | awk -F';' '{print $49}') "
    for be in uring epoll; do
        for n in 1 8 32 128; do
            out=$("$BENCH" commit "$WAL" --backend $be --committers $n --seconds "$SECS")
            R[${be}_$n]+="$(echo "$out" | field commits_per_s) "
            R[${be}_${n}_p50]+="$(echo "$out" | field p50_us) "
            R[${be}_${n}_ps]+="$(echo "$out" | field per_sync) "
        done
    done
    R[fio_direct_uring]+="$(fio --name=d --filename="$BIG" --rw=randread --bs=4k --direct=1 --ioengine=io_uring \
        --iodepth=32 --norandommap --randrepeat=0 --time_based --runtime="$SECS" --output-format=terse \
        --terse-version=3 | awk -F';' '{print $8}') "
    R[mapio_direct_uring]+="$("$BENCH" randread "$BIG" --backend uring --qd 32 --direct 1 --seconds "$SECS" | field iops) "
    R[fio_direct_aio]+="$(fio --name=d --filename="$BIG" --rw=randread --bs=4k --direct=1 --ioengine=libaio \
        --iodepth=32 --norandommap --randrepeat=0 --time_based --runtime="$SECS" --output-format=terse \
        --terse-version=3 | awk -F';' '{print $8}') "
    R[mapio_direct_epoll]+="$("$BENCH" randread "$BIG" --backend epoll --qd 32 --direct 1 --seconds "$SECS" | field iops) "
    echo "round $run done" >&2
done

m() { echo "${R[$1]}" | median; }
ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }
each=$(m each)
echo "| writer | per-round commits/s | median | vs write+fdatasync each ($each/s) | records per fdatasync | p50 µs |"
echo "|---|---|---|---|---|---|"
printf '| fio --fdatasync=1 (write IOPS) | %s | %s | %s | 1 | |\n' "${R[fio_fds]}" "$(m fio_fds)" "$(ratio "$(m fio_fds)" "$each")"
for be in uring epoll; do
    for n in 1 8 32 128; do
        printf '| %s, %s committers | %s | %s | %s | %s | %s |\n' "$be" "$n" "${R[${be}_$n]}" \
            "$(m ${be}_$n)" "$(ratio "$(m ${be}_$n)" "$each")" "$(m ${be}_${n}_ps)" "$(m ${be}_${n}_p50)"
    done
done
echo
echo "Lone committer: p50 latency vs one write+fdatasync (p50 $(m each_p50) µs):"
echo "uring $(m uring_1_p50) µs = $(ratio "$(m uring_1_p50)" "$(m each_p50)")x; epoll $(m epoll_1_p50) µs = $(ratio "$(m epoll_1_p50)" "$(m each_p50)")x (target ≤ 1.2)"
echo
echo "| O_DIRECT 4 KiB randread QD32 | per-round mapio / peer | mapio | peer | ratio |"
echo "|---|---|---|---|---|"
printf '| io_uring backend vs fio io_uring | %s/ %s | %s | %s | %s |\n' "${R[mapio_direct_uring]}" "${R[fio_direct_uring]}" \
    "$(m mapio_direct_uring)" "$(m fio_direct_uring)" "$(ratio "$(m mapio_direct_uring)" "$(m fio_direct_uring)")"
printf '| epoll backend (native AIO) vs fio libaio | %s/ %s | %s | %s | %s |\n' "${R[mapio_direct_epoll]}" "${R[fio_direct_aio]}" \
    "$(m mapio_direct_epoll)" "$(m fio_direct_aio)" "$(ratio "$(m mapio_direct_epoll)" "$(m fio_direct_aio)")"
