#!/usr/bin/env bash
# bench/wal.sh - the log (mapio/wal.h) against the group commit under it,
# side by side in one run.
#
#   [JSON=rows.jsonl] bench/wal.sh [BUILD_DIR] [DIR] [RUNS]
#   SECS (default 3): the seconds of each run; COMMITTERS (default
#   "1 8 32 128"); SIZES (default "128 4096"): record bytes; BACKENDS
#   (default "uring epoll").
#
# Per round, for every backend, record size and committer count: mapio-bench
# commit on a file preallocated with zeros (--prealloc-mib 512: the log's
# appends are overwrites of preallocated segments too, so the disk sees the
# same kind of write) and mapio-bench wal with as many appenders; for the
# lone appender also one write+fdatasync per record (sync-each, no mapio).
# Then recovery of a 1 GiB log of 4 KiB records from the page cache (scan,
# CRC included, and the iterator's replay), the CRC-32C bench and the
# in-memory segment scan bench. Medians of RUNS (default 3), markdown tables.
set -euo pipefail
BUILD=${1:-build-rel}
DIR=${2:-/var/tmp}
RUNS=${3:-3}
SECS=${SECS:-3}
COMMITTERS=${COMMITTERS:-1 8 32 128}
SIZES=${SIZES:-128 4096}
BACKENDS=${BACKENDS:-uring epoll}
BENCH="$BUILD/bench/mapio-bench"
. "$(dirname "$0")/lib.sh"
[ -x "$BENCH" ] || { echo "no $BENCH: build with meson first" >&2; exit 1; }
WORK=$(mktemp -d "$DIR/mapio-wal-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

declare -A R
for run in $(seq 1 "$RUNS"); do
    for be in $BACKENDS; do
        for bs in $SIZES; do
            for n in $COMMITTERS; do
                out=$(mb "commit $be $bs B x$n" commit "$WORK/commit.dat" --backend "$be" --bs "$bs" \
                    --committers "$n" --prealloc-mib 512 --seconds "$SECS")
                R[c_${be}_${bs}_$n]+="$(iops "$out") "
                out=$(mb "wal $be $bs B x$n" wal "$WORK/log" --backend "$be" --bs "$bs" \
                    --committers "$n" --seconds "$SECS")
                R[w_${be}_${bs}_$n]+="$(iops "$out") "
                R[w_${be}_${bs}_${n}_p50]+="$(get p50_us "$out") "
                R[w_${be}_${bs}_${n}_ps]+="$(get records_per_sync "$out") "
            done
            out=$(mb "sync-each $bs B" sync-each "$WORK/each.dat" --bs "$bs" --prealloc-mib 512 \
                --seconds "$SECS")
            R[e_${be}_${bs}_p50]+="$(get p50_us "$out") "
        done
    done
    out=$(mb "recovery 1 GiB of 4 KiB" recovery "$WORK/rec" --bs 4096 --size-mib 1024)
    R[scan]+="$(get scan_mb_per_s "$out") "
    R[iter]+="$(get iter_mb_per_s "$out") "
    echo "round $run done" >&2
done

m() { echo "${R[$1]}" | median; }
echo "| backend | record | appenders | commit/s per round | log/s per round | commit median | log median | log / commit | records per sync (log) | log p50 µs |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for be in $BACKENDS; do
    for bs in $SIZES; do
        for n in $COMMITTERS; do
            k=${be}_${bs}_$n
            printf '| %s | %s B | %s | %s| %s| %s | %s | %s | %.1f | %.0f |\n' "$be" "$bs" "$n" \
                "${R[c_$k]}" "${R[w_$k]}" "$(m "c_$k")" "$(m "w_$k")" \
                "$(ratio "$(m "w_$k")" "$(m "c_$k")")" "$(m "w_${k}_ps")" "$(m "w_${k}_p50")"
        done
    done
done
echo
echo "| backend | record | lone appender p50 µs (log) | write+fdatasync p50 µs | ratio |"
echo "|---|---|---|---|---|"
for be in $BACKENDS; do
    for bs in $SIZES; do
        a=$(m "w_${be}_${bs}_1_p50"); b=$(m "e_${be}_${bs}_p50")
        printf '| %s | %s B | %.0f | %.0f | %s |\n' "$be" "$bs" "$a" "$b" "$(ratio "$a" "$b")"
    done
done
echo
printf 'recovery of 1 GiB from the page cache: scan %s MB/s (rounds: %s), iterator replay %s MB/s (rounds: %s)\n' \
    "$(m scan)" "${R[scan]}" "$(m iter)" "${R[iter]}"
echo
"$BUILD/bench/crc/crc-bench"
echo
"$BUILD/bench/wal/wal-bench"
