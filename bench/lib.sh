# bench/lib.sh - what bench/compare.sh and bench/durable.sh share (sourced).
#
# Every measurement is one row (mapio-bench --json, or fio's JSON through
# bench/fio_row): appended to the file $JSON when it is set (JSON lines, for
# bench/plot), and printed for the script to pick figures out of with `get`.
# Needs BENCH (the mapio-bench binary) set before mb is called.
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

keep() { # ROW: append it to $JSON (if set) and print it
    [ -z "${JSON:-}" ] || printf '%s\n' "$1" >>"$JSON"
    printf '%s\n' "$1"
}

mb() { # NAME MODE FILE OPTIONS...: one mapio-bench run, as a row
    local name=$1 row
    shift
    row=$("$BENCH" "$@" --json --name "$name") || { echo "failed: $BENCH $*" >&2; return 1; }
    keep "$row"
}

fio_run() { # NAME FIO-OPTIONS...: one fio run, as a row
    local name=$1 row
    shift
    row=$(fio --output-format=json "$@" | python3 "$BENCH_DIR/fio_row" --name "$name") ||
        { echo "failed: fio $*" >&2; return 1; }
    keep "$row"
}

get() { # FIELD ROW: one top-level field of a row (p50_us: p50_ns in µs)
    python3 -c '
import json, sys
r = json.loads(sys.argv[2])
f = sys.argv[1]
print(r[f] if f in r else r[f[:-3] + "_ns"] / 1e3)' "$1" "$2"
}

median() { # numbers on stdin, separated by blanks
    tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'
}

ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }

iops() { printf '%.0f' "$(get iops "$1")"; } # ROW: its ops/s, whole
