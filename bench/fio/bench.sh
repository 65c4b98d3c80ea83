#!/usr/bin/env bash
# bench/fio/bench.sh - mapio's fio engine beside fio's own engines, side by
# side: each job file of bench/fio/jobs runs every engine one after another on
# the same file in one fio invocation, RUNS times; the table gives medians.
#
#   bench/fio/bench.sh [WORKLOAD...]   cached direct seqwrite durable (default: all)
#
# Environment (defaults in brackets):
#   MAPIO_FIO_ENGINE  the engine [built by bench/fio/build.sh]
#   RUNS              rounds per workload [3]
#   RUNTIME           seconds per job [5]
#   DIR               where the files go [/var/tmp]; a real file system
#                     (O_DIRECT), not tmpfs
#   FILE, SIZE        the read file [$DIR/mapio-bench.dat, 1g: bench/compare.sh's]
#   DSIZE             durable: the region each committer writes [4g, sparse]
#   OUT               fio's JSON and stderr per round [a fresh $DIR/mapio-fio-bench.*]
# Smoke run: RUNS=1 RUNTIME=1 SIZE=128m DSIZE=256m bench/fio/bench.sh
#
# Per workload and job: ops/s (median, and each round's), MiB/s, latency
# p50/p99/p99.9 in us (fio's total latency, lat_ns = slat + clat: from the
# io_u's start to its completion; median of the rounds' percentiles),
# fdatasync p50/p99 where fio issued syncs, for mapio's group commit the
# records per fdatasync (mapio_metrics), and for mapio rows the ratio of
# medians to the peer in the same run (mapio-uring: io_uring with the same
# batching; mapio-epoll: libaio; mapio-mmap*: mmap; durable: psync
# fdatasync=1 with as many committers). Then the issue's targets: on every
# randread row the io_uring backend (best of fio's default and batched
# submission) against fio's io_uring (best of the same two), and group commit
# at 128 committers against fio fdatasync=1 at numjobs=1 and 128.
# Machines are noisy: only ratios within one run mean much.
# Every fio runs under `timeout -s KILL`; a job with an error is marked.
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-3}
RUNTIME=${RUNTIME:-5}
DIR=${DIR:-/var/tmp}
FILE=${FILE:-$DIR/mapio-bench.dat}
SIZE=${SIZE:-1g}
DSIZE=${DSIZE:-4g}
OUT=${OUT:-$(mktemp -d "$DIR/mapio-fio-bench.XXXXXX")}
WORKLOADS=("$@")
[ ${#WORKLOADS[@]} -gt 0 ] || WORKLOADS=(cached direct seqwrite durable)
mkdir -p "$OUT"

if [ -z "${MAPIO_FIO_ENGINE:-}" ]; then
    bench/fio/build.sh >"$OUT/build.log" 2>&1 || {
        tail -20 "$OUT/build.log" >&2
        exit 1
    }
    MAPIO_FIO_ENGINE=$(tail -1 "$OUT/build.log")
fi
export MAPIO_FIO_ENGINE MAPIO_FIO_FILE=$FILE MAPIO_FIO_SIZE=$SIZE MAPIO_FIO_RUNTIME=$RUNTIME
export MAPIO_FIO_WFILE=$DIR/mapio-fio-write.dat MAPIO_FIO_DFILE=$DIR/mapio-fio-durable.dat
export MAPIO_FIO_DSIZE=$DSIZE

bytes() { numfmt --from=iec "$(echo "$1" | tr '[:lower:]' '[:upper:]')"; }
# The read file: random bytes (compressible data would flatter nothing here,
# but it is what bench/compare.sh uses, so both can share it).
if [ ! -f "$FILE" ] || [ "$(stat -c %s "$FILE")" -ne "$(bytes "$SIZE")" ]; then
    echo "== making $FILE ($SIZE)" >&2
    head -c "$(bytes "$SIZE")" /dev/urandom >"$FILE"
fi

for w in "${WORKLOADS[@]}"; do
    case $w in
    cached) job=randread-cached ;;
    direct) job=randread-direct ;;
    seqwrite) job=seqwrite ;;
    durable) job=durable ;;
    *)
        echo "unknown workload $w (cached direct seqwrite durable)" >&2
        exit 2
        ;;
    esac
    jobfile=bench/fio/jobs/$job.fio
    njobs=$(grep -c '^\[[^g]' "$jobfile")
    # Each job: its runtime, layout and teardown; a hung fio is killed.
    budget=$((njobs * (RUNTIME + 20) + 60))
    for r in $(seq 1 "$RUNS"); do
        echo "== $w round $r/$RUNS ($njobs jobs, ${RUNTIME}s each)" >&2
        [ "$w" != cached ] || cat "$FILE" >/dev/null # warm: reads from the page cache
        rm -f "$MAPIO_FIO_DFILE"
        if ! timeout -s KILL "$budget" fio --output-format=json --output="$OUT/$w.$r.json" \
            "$jobfile" 2>"$OUT/$w.$r.err"; then
            echo "== $w round $r: fio failed (see $OUT/$w.$r.err)" >&2
            tail -5 "$OUT/$w.$r.err" >&2
        fi
    done
done
rm -f "$MAPIO_FIO_WFILE" "$MAPIO_FIO_DFILE"

python3 - "$OUT" "$RUNS" "${WORKLOADS[@]}" <<'EOF'
import json, re, statistics, sys

out, runs, workloads = sys.argv[1], int(sys.argv[2]), sys.argv[3:]

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

def pct(lat, p):
    v = (lat or {}).get("percentile", {}).get(p)
    return v / 1000.0 if v else None

def peer(name):
    """The fio engine a mapio job is compared with, in the same run."""
    m = re.match(r"(direct-)?mapio-(uring|epoll)-(qd\d+)(-batch)?$", name)
    if m:
        return "%s%s-%s%s" % (m[1] or "", "io_uring" if m[2] == "uring" else "libaio", m[3],
                              m[4] or "")
    if name.startswith("mapio-mmap"):
        return "mmap-qd1"
    m = re.match(r"mapio-commit-\w+-d(\d+)$", name)
    if m:
        return "psync-fdatasync1-j" + m[1]
    if name == "mapio-fdatasync1-j1":
        return "psync-fdatasync1-j1"
    return None

def fmt(v, nd=0):
    if v is None:
        return "-"
    return ("%%.%df" % nd) % v

medians = {}  # workload -> job -> median ops/s
per_cpu = {}  # workload -> job -> median ops per CPU-second of the job thread
for w in workloads:
    rows, order = {}, []
    for r in range(1, runs + 1):
        try:
            text = open("%s/%s.%d.json" % (out, w, r), errors="replace").read()
            jobs = json.loads(text[text.find("{"):])["jobs"]
        except (OSError, ValueError):
            continue
        err = open("%s/%s.%d.err" % (out, w, r), errors="replace").read()
        metrics = {n: json.loads(j) for n, j in
                   re.findall(r"^mapio_metrics (\S+): (\{.*\})$", err, re.M)}
        for j in jobs:
            name = j["jobname"]
            if name not in rows:
                rows[name] = []
                order.append(name)
            d = "write" if j["write"]["io_bytes"] > 0 else "read"
            s = j.get("sync", {}).get("lat_ns", {})
            m = metrics.get(name, {})
            rows[name].append({
                "err": j.get("error", 0),
                "iops": j[d]["iops"],
                # fio's CPU figures are the job thread's (RUSAGE_THREAD):
                # ops per CPU-second of it, a figure the other tenants of a
                # shared machine disturb less than ops per wall second.
                "per_cpu": j[d]["iops"] * 100.0 / (j["usr_cpu"] + j["sys_cpu"])
                           if j["usr_cpu"] + j["sys_cpu"] > 0 else None,
                "mib": j[d]["bw_bytes"] / 1048576.0,
                "p50": pct(j[d].get("lat_ns"), "50.000000"),
                "p99": pct(j[d].get("lat_ns"), "99.000000"),
                "p999": pct(j[d].get("lat_ns"), "99.900000"),
                "s50": pct(s, "50.000000") if s.get("N") else None,
                "s99": pct(s, "99.000000") if s.get("N") else None,
                "per_sync": (m["commit"] / m["sync_background_loops"])
                            if m.get("commit") and m.get("sync_background_loops") else None,
            })
    print("\n### %s (%d round%s)\n" % (w, runs, "" if runs == 1 else "s"))
    print("| job | ops/s | MiB/s | p50 µs | p99 µs | p99.9 µs | fdatasync p50/p99 µs "
          "| records/sync | vs peer | ops per thread-CPU-s | ops/s per round |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    med_w = medians[w] = {n: med([x["iops"] for x in rows[n]]) for n in order}
    cpu_w = per_cpu[w] = {n: med([x["per_cpu"] for x in rows[n]]) for n in order}
    for n in order:
        xs = rows[n]
        g = lambda k: med([x[k] for x in xs])
        p = peer(n)
        ratio = (med_w[n] / med_w[p]) if p in med_w and med_w[p] else None
        errs = sorted({x["err"] for x in xs if x["err"]})
        print("| %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            n, " **error %s**" % ",".join(map(str, errs)) if errs else "",
            fmt(med_w[n]), fmt(g("mib"), 1), fmt(g("p50"), 1), fmt(g("p99"), 1),
            fmt(g("p999"), 1),
            "%s / %s" % (fmt(g("s50"), 1), fmt(g("s99"), 1)) if g("s50") else "-",
            fmt(g("per_sync"), 1),
            "%.2f (%s)" % (ratio, p) if ratio else "-",
            fmt(cpu_w[n]),
            " ".join(fmt(x["iops"]) for x in xs)))

# The issue's targets, from the medians above.
targets = []
def best(w, names):
    vals = [(medians[w].get(n), n) for n in names if medians[w].get(n)]
    return max(vals) if vals else (None, None)
for w in ("cached", "direct"):
    if w not in medians:
        continue
    for qd in (1, 32, 128):
        names = ["-qd%d" % qd] + (["-qd%d-batch" % qd] if qd > 1 else [])
        mv, mn = best(w, ["mapio-uring" + s for s in names])
        fv, fn = best(w, ["io_uring" + s for s in names])
        targets.append(("4 KiB randread %s QD%d: io_uring backend vs fio io_uring, each "
                        "the best of %s" % (w, qd, " and ".join(names)),
                        mv, mn, fv, fn, 1.0, w))
if "durable" in medians:
    for b in ("uring", "epoll"):
        mn = "mapio-commit-%s-d128" % b
        for pn, t in (("psync-fdatasync1-j1", 30.0), ("psync-fdatasync1-j128", 3.0)):
            targets.append(("durable 4 KiB: mapio_commit=1 (%s) 128 committers vs fio "
                            "fdatasync=1 numjobs=%s" % (b, pn.rsplit("j", 1)[1]),
                            medians["durable"].get(mn), mn, medians["durable"].get(pn), pn, t,
                            None))
if targets:
    print("\n### Targets (ratios of medians, same run)\n")
    print("| comparison | mapio ops/s (job) | peer ops/s (job) | ratio | target | "
          "| same jobs, ops per thread-CPU-s ratio |")
    print("|---|---|---|---|---|---|---|")
    for what, mv, mn, pv, pn, t, w in targets:
        ratio = mv / pv if mv and pv else None
        cr = None
        if w is not None and per_cpu[w].get(mn) and per_cpu[w].get(pn):
            cr = per_cpu[w][mn] / per_cpu[w][pn]
        print("| %s | %s (%s) | %s (%s) | %s | ≥ %g | %s | %s |" % (
            what, fmt(mv), mn or "-", fmt(pv), pn or "-", fmt(ratio, 2), t,
            "-" if ratio is None else ("met" if ratio >= t else "**missed**"), fmt(cr, 2)))
print("\nfio output: %s" % out)
EOF
