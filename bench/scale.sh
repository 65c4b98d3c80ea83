#!/usr/bin/env bash
# bench/scale.sh - how the engine's cost per operation grows, side by side
# in one run: against queue depth, open files, committers and file size.
#
#   [JSON=rows.jsonl] bench/scale.sh [BUILD_DIR] [DIR] [RUNS]
#   SECS (default 3): the seconds of each run; BACKENDS (default "uring
#   epoll").
#
# Each row is one dimension on one backend; each cell the median CPU µs per
# operation (user + system of the whole process, workers included: the
# engine's cost and the kernel's) and, in brackets, its ratio to the row's
# first cell. fio's io_uring engine on the same reads is the peer row of the
# queue-depth and file-size tables: what the kernel's share does there. Reads are 4 KiB from the page cache (a 1 GiB file, warmed;
# the 16 GiB file is sparse, so its reads are of holes, never of the
# device); commits are 4 KiB records on a preallocated file. Nothing may
# grow faster than the work: a ratio well above 1 where the work per
# operation is the same is a defect.
set -euo pipefail
BUILD=${1:-build-rel}
DIR=${2:-/var/tmp}
RUNS=${3:-3}
SECS=${SECS:-3}
BACKENDS=${BACKENDS:-uring epoll}
BENCH="$BUILD/bench/mapio-bench"
FILE="$DIR/mapio-bench.dat"
. "$(dirname "$0")/lib.sh"
[ -x "$BENCH" ] || { echo "no $BENCH: build with meson first" >&2; exit 1; }
[ -f "$FILE" ] && [ "$(stat -c %s "$FILE")" -eq $((1 << 30)) ] || head -c $((1 << 30)) /dev/urandom >"$FILE"
cat "$FILE" >/dev/null
WORK=$(mktemp -d "$DIR/mapio-scale.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
SPARSE="$WORK/sparse16g.dat"
truncate -s 16G "$SPARSE"

QDS="1 32 1024 4096"
FILES="1 100 10000"
COMMITTERS="1 8 64 256 1024"
declare -A R
cpu() { get cpu_us_per_op "$1"; }
fio_cpu() { # NAME FILE IODEPTH: CPU µs per op of fio io_uring 4 KiB cached randread
    cpu "$(fio_run "$1" --name=s --filename="$2" --rw=randread --bs=4k --invalidate=0 \
        --norandommap --randrepeat=0 --time_based --runtime="$SECS" --ioengine=io_uring \
        --iodepth="$3")"
}
for run in $(seq 1 "$RUNS"); do
    for q in $QDS; do
        R[qd_fio_$q]+="$(fio_cpu "fio io_uring qd $q" "$FILE" "$q") "
    done
    R[size_fio_1]+="$(fio_cpu "fio io_uring 1 GiB" "$FILE" 32) "
    R[size_fio_16]+="$(fio_cpu "fio io_uring 16 GiB sparse" "$SPARSE" 32) "
    for be in $BACKENDS; do
        for q in $QDS; do
            R[qd_${be}_$q]+="$(cpu "$(mb "qd $q $be" randread "$FILE" --backend "$be" --qd "$q" --seconds "$SECS")") "
        done
        for n in $FILES; do
            R[files_${be}_$n]+="$(cpu "$(mb "files $n $be" randread "$FILE" --backend "$be" --qd 32 --files "$n" --seconds "$SECS")") "
        done
        for n in $COMMITTERS; do
            R[commit_${be}_$n]+="$(cpu "$(mb "commit $n $be" commit "$WORK/commit.dat" --backend "$be" --committers "$n" --prealloc-mib 256 --seconds "$SECS")") "
        done
        R[size_${be}_1]+="$(cpu "$(mb "1 GiB $be" randread "$FILE" --backend "$be" --qd 32 --seconds "$SECS")") "
        R[size_${be}_16]+="$(cpu "$(mb "16 GiB sparse $be" randread "$SPARSE" --backend "$be" --qd 32 --seconds "$SECS" --create 0)") "
    done
    echo "round $run done" >&2
done

m() { echo "${R[$1]}" | median; }
table() { # TITLE KEY "VALUES" LABEL-SUFFIX [PEER]: rows of BACKENDS, then PEER's
    local title=$1 key=$2 values=$3 suffix=$4 peer=${5:-} be v first
    printf '| %s |' "$title"
    for v in $values; do printf ' %s%s |' "$v" "$suffix"; done
    echo
    printf '|---|'
    for v in $values; do printf -- '---|'; done
    echo
    for be in $BACKENDS $peer; do
        printf '| %s |' "$([ "$be" = fio ] && echo "fio io_uring (peer)" || echo "$be")"
        first=""
        for v in $values; do
            local x
            x=$(m "${key}_${be}_$v")
            [ -n "$first" ] || first=$x
            printf ' %.2f (%.2f) |' "$x" "$(echo "$x / $first" | bc -l)"
        done
        echo
    done
    echo
}
table "CPU µs/op vs queue depth (4 KiB cached randread)" qd "$QDS" "" fio
table "vs open files (QD32, reads spread over them)" files "$FILES" " files"
table "vs group-commit committers (4 KiB records)" commit "$COMMITTERS" ""
table "vs file size (QD32)" size "1 16" " GiB" fio
