#!/bin/sh
# bench/json_test.sh - mapio-bench --json and what reads it (meson test, suite bench).
#
#   bench/json_test.sh [--plot] MAPIO_BENCH BENCH_SOURCE_DIR
#
# Short runs of every mode with --json (roundtrip and raw-uring for 0.05 s,
# randread on a 1 MiB file it creates in a temp folder, commit and sync-each
# on a file there, wal and recovery on a log in a folder there), plus bench/fio_row on two saved fio outputs: every line
# must parse as JSON and hold the fields bench/README.md documents, with
# sane values. With --plot, bench/plot then draws those rows and each PNG it
# names must be a PNG under 100 KiB (skipped, exit 77, without gnuplot).
set -u
PLOT=0
[ "${1:-}" = --plot ] && { PLOT=1; shift; }
BENCH=$1
SRC=$2
if [ "$PLOT" = 1 ] && ! command -v gnuplot >/dev/null; then
    echo "skip: no gnuplot (apt-get install gnuplot-nox)"
    exit 77
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
ROWS=$TMP/rows.jsonl
FAILS=0
fail() {
    echo "FAIL: $*"
    FAILS=$((FAILS + 1))
}
row() { # mapio-bench arguments...: one run, its stdout appended to ROWS
    if ! "$BENCH" "$@" --json >>"$ROWS" 2>"$TMP/err"; then
        fail "mapio-bench $* exited $?: $(cat "$TMP/err")"
    fi
}

row roundtrip "$TMP/data" --size-mib 1 --seconds 0.05 --op nop
row roundtrip "$TMP/data" --seconds 0.05 --op=read1 --name "named row"
row raw-uring "$TMP/data" --seconds 0.05 --op read1
row randread "$TMP/data" --seconds 0.05 --qd 4
row commit "$TMP/wal" --seconds 0.05 --committers 1
row commit "$TMP/wal" --seconds 0.05 --committers 4
row sync-each "$TMP/wal" --seconds 0.05
row wal "$TMP/log" --seconds 0.05 --committers 1 --seg-mib 1
row wal "$TMP/log" --seconds 0.05 --committers 4 --bs 128 --seg-mib 1
row recovery "$TMP/log" --size-mib 2 --seg-mib 1
for f in fio-psync2 fio-fdatasync; do
    python3 "$SRC/fio_row" --name "$f" <"$SRC/testdata/$f.json" >>"$ROWS" ||
        fail "fio_row on testdata/$f.json"
done

python3 - "$ROWS" <<'PY' || FAILS=$((FAILS + 1))
import json, sys

NUM = (int, float)
# field: type(s), for every row (bench/README.md, "JSON rows")
FIELDS = {
    "name": str, "tool": str, "mode": str, "backend": str, "peer": bool, "options": dict,
    "ops": int, "seconds": NUM, "iops": NUM, "bytes_per_op": int, "mib_per_s": NUM,
    "lat_source": str, "lat_count": int, "p50_ns": int, "p99_ns": int, "p999_ns": int,
    "max_ns": int, "cpu_user_us": NUM, "cpu_sys_us": NUM, "cpu_us_per_op": NUM,
    "failed": bool, "metrics": (dict, type(None)),
}
METRICS = ["read", "write", "sync", "commit", "read_latency", "commit_latency", "backend"]
bad = 0
rows = [json.loads(line) for line in open(sys.argv[1])]  # every line parses
if len(rows) != 12:
    print("FAIL: %d rows, want 12" % len(rows))
    bad += 1
for r in rows:
    def no(why):
        global bad
        print("FAIL: row %r: %s" % (r.get("name"), why))
        bad += 1
    for k, t in FIELDS.items():
        if k not in r:
            no("no field " + k)
        elif not isinstance(r[k], t) or (t is int and isinstance(r[k], bool)):
            no("%s is %r" % (k, r[k]))
    if any(k not in r for k in FIELDS):
        continue
    if r["ops"] <= 0 or r["iops"] <= 0 or r["seconds"] <= 0 or r["failed"]:
        no("ops %r, iops %r, seconds %r, failed %r" % (r["ops"], r["iops"], r["seconds"], r["failed"]))
    if not 0 < r["p50_ns"] <= r["p99_ns"] <= r["p999_ns"] <= r["max_ns"]:
        no("percentiles out of order: %r" % [r[k] for k in ("p50_ns", "p99_ns", "p999_ns", "max_ns")])
    if r["cpu_us_per_op"] < 0 or r["lat_count"] <= 0:
        no("cpu_us_per_op %r, lat_count %r" % (r["cpu_us_per_op"], r["lat_count"]))
    if r["tool"] == "fio":
        continue
    o = r["options"]
    if r["tool"] != "mapio-bench" or o.get("mode") != r["mode"] or "file" not in o:
        no("tool %r, options %r" % (r["tool"], o))
    if r["peer"] != (r["mode"] in ("raw-uring", "sync-each")):
        no("peer %r for mode %s" % (r["peer"], r["mode"]))
    if r["peer"] != (r["metrics"] is None):
        no("metrics %r for peer %r" % (type(r["metrics"]), r["peer"]))
    if r["metrics"] is not None and any(k not in r["metrics"] for k in METRICS):
        no("metrics lack some of %s" % METRICS)
    if r["mode"] == "commit":
        if o.get("committers") not in (1, 4) or r["lat_source"] != "engine commit_latency":
            no("commit: committers %r, lat_source %r" % (o.get("committers"), r["lat_source"]))
        if not r.get("syncs", 0) > 0 or not r.get("records_per_sync", 0) >= 1:
            no("commit: syncs %r, records_per_sync %r" % (r.get("syncs"), r.get("records_per_sync")))
        if r["metrics"]["commit_latency"]["count"] < r["ops"]:
            no("commit_latency counts %r of %r" % (r["metrics"]["commit_latency"]["count"], r["ops"]))
    if r["mode"] == "randread" and (o.get("qd") != 4 or r["bytes_per_op"] != 4096):
        no("randread: qd %r, bytes_per_op %r" % (o.get("qd"), r["bytes_per_op"]))
names = [r["name"] for r in rows]
if "named row" not in names or "roundtrip nop " + rows[0]["backend"] not in names:
    print("FAIL: names %r" % names)
    bad += 1
print("%d rows checked" % len(rows))
sys.exit(1 if bad else 0)
PY

if [ "$PLOT" = 1 ]; then
    if ! python3 "$SRC/plot" -o "$TMP/png" --title test "$ROWS" >"$TMP/pngs" 2>"$TMP/err"; then
        fail "plot: $(cat "$TMP/err")"
    fi
    for want in throughput latency cpu commit; do
        grep -q "/$want.png\$" "$TMP/pngs" || fail "plot made no $want.png"
    done
    while read -r png; do
        size=$(stat -c %s "$png")
        [ "$(head -c 4 "$png" | tail -c 3)" = PNG ] || fail "$png is not a PNG"
        [ "$size" -lt 102400 ] || fail "$png is $size bytes"
    done <"$TMP/pngs"
fi
[ "$FAILS" -eq 0 ] && echo "ok"
[ "$FAILS" -eq 0 ]
