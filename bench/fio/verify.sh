#!/usr/bin/env bash
# bench/fio/verify.sh - fio's verify (crc32c) as a third-party integrity check
# of mapio, through the fio engine, on every Linux backend and file mode.
#
#   bench/fio/verify.sh                       build the engine if needed, run all
#   MAPIO_FIO_ENGINE=/abs/libfio-mapio.so bench/fio/verify.sh   use that engine
#   BACKENDS="epoll" MODES="plain" bench/fio/verify.sh          a subset
#   MAPIO_FIO_DIR=/mnt/x bench/fio/verify.sh  where the test files go (default
#                                             /var/tmp: O_DIRECT needs a real
#                                             file system, not tmpfs)
#   FIO_TIMEOUT=60 bench/fio/verify.sh        seconds before a fio is killed
#
# Per backend (uring, epoll) and mode (plain, mmap, mmap-pool), short jobs:
#   randwrite    4 KiB random writes with verify=crc32c, then fio's read-back
#   readback     the same file verified again by a fresh fio (--verify_only),
#                after fio dropped it from the page cache
#   direct       randwrite + read-back with direct=1 (plain only: a mapping
#                always goes through the page cache)
#   direct-readback  --verify_only with direct=1 (plain only)
#   randrw       rw=randrw, bsrange=512-64k, buffered
#   numjobs2     numjobs=2 --thread: two mapio engines in one process
#   commit       mapio_commit=1: every write through group commit
#   sync         fsync=16, fdatasync=4 and end_fsync=1: fio's syncs drained
#                and sent through mapio (its counters must show them)
#   dsync        sync=dsync (plain only: O_DSYNC on fio's descriptor, which
#                mapio adopts)
#   range        sync_file_range=write:8 (mapio_sync_range), end_fsync=1
#   corrupt      negative control: one block of a verified file overwritten,
#                --verify_only must report it - proof that the verify reads
#                really go through mapio
# and once per backend:
#   trim         rw=randtrim must be refused with the engine's message
# Every job runs with verify_fatal=1 and mapio_metrics=1; a job passes only if
# fio reports no error, mapio ran the backend asked for (no silent fallback),
# mapio's own counters show the reads (the verify phase went through it) and
# fio recorded submission latencies (the engine's issue times: slat).
# Prints `fio-verify: <name>: ok|FAIL` per job and
# `fio-verify: N passed, M failed, K skipped`; exits non-zero if any failed.
# A backend the machine cannot run (io_uring blocked by seccomp or
# kernel.io_uring_disabled) is reported as skipped, with mapio's reason, and
# counts its jobs as skipped.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

T0=$(date +%s)
BACKENDS=${BACKENDS:-"uring epoll"}
MODES=${MODES:-"plain mmap mmap-pool"}
BASE=${MAPIO_FIO_DIR:-/var/tmp}
DIR=$(mktemp -d "$BASE/mapio-fio-verify.XXXXXX")
trap 'rm -rf "$DIR"' EXIT

ENGINE=${MAPIO_FIO_ENGINE:-}
if [ -z "$ENGINE" ]; then
    # apt-get source and a first mapio build take a while, never forever.
    if ! timeout -s KILL 600 bench/fio/build.sh >"$DIR/build.log" 2>&1; then
        echo "fio-verify: build: FAIL"
        tail -20 "$DIR/build.log"
        echo "fio-verify: 0 passed, 1 failed"
        exit 1
    fi
    ENGINE=$(tail -1 "$DIR/build.log")
fi

# Every fio is killed if it runs far past its size (each takes ~1 s): a hang
# becomes a FAIL line, never a stuck CI stage.
FIO_TIMEOUT=${FIO_TIMEOUT:-60}
FIO="timeout -s KILL $FIO_TIMEOUT fio"

PASS=0
FAIL=0
SKIP=0
SKIPPED=()

# check_fio JSON STDERR BACKEND EXPECT VERIFY_ONLY: EXPECT "ok" wants every job error-free,
# with slat samples (the engine's issue times); "sync" that too and as many
# syncs counted by mapio as fio issued; "verify-error" wants fio to have failed
# on a verify error. These want mapio's metrics lines on stderr to name
# BACKEND and to count reads. "refused:TEXT" wants no I/O at all and TEXT in
# fio's stderr.
check_fio() {
    python3 - "$@" <<'EOF'
import json, re, sys
out, err, backend, expect, verify_only = sys.argv[1:6]
text = open(out, errors="replace").read()
errtext = open(err, errors="replace").read()
# fio may print messages (verify errors) before its JSON report.
start = text.find("\n{")
start = 0 if text.startswith("{") else start + 1
try:
    jobs = json.loads(text[start:])["jobs"] if start >= 0 else []
except ValueError:
    jobs = []
metrics = [json.loads(m) for m in re.findall(r"^mapio_metrics [^:]*: (\{.*\})$", errtext, re.M)]
problems = []
if expect.startswith("refused:"):
    want = expect[len("refused:"):]
    if want not in errtext:
        problems.append("fio's stderr does not say %r" % want)
    for j in jobs:
        if j["write"]["io_bytes"] or j["read"]["io_bytes"] or j["trim"]["io_bytes"]:
            problems.append("job %s did I/O" % j.get("jobname"))
    for p in problems:
        print("    " + p)
    sys.exit(1 if problems else 0)
if not metrics:
    problems.append("no mapio metrics (did the job run through the engine?)")
for m in metrics:
    if m.get("backend") != backend:
        problems.append("mapio ran %s, not %s (%s)" % (m.get("backend"), backend,
                                                       m.get("fallback_reason")))
    if m.get("read", 0) == 0:
        problems.append("mapio counted no reads: the verify did not go through it")
if expect == "sync":
    fio_syncs = sum(j["sync"]["lat_ns"]["N"] for j in jobs)
    mapio_syncs = sum(m.get("sync", 0) for m in metrics)
    if fio_syncs == 0 or mapio_syncs < fio_syncs:
        problems.append("fio issued %d syncs, mapio ran %d" % (fio_syncs, mapio_syncs))
if expect in ("ok", "sync"):
    if not jobs:
        problems.append("no fio report")
    for j in jobs:
        if j.get("error"):
            problems.append("job %s: error %d" % (j.get("jobname"), j["error"]))
        if j["write"]["io_bytes"] == 0 and j["read"]["io_bytes"] == 0:
            problems.append("job %s did no I/O" % j.get("jobname"))
        # --verify_only counts the writes it skips, never issued.
        dirs = ("read",) if verify_only == "1" else ("read", "write")
        for d in dirs:
            if j[d]["clat_ns"]["N"] > 0 and j[d]["slat_ns"]["N"] == 0:
                problems.append("job %s: no %s slat samples (issue times not set)"
                                % (j.get("jobname"), d))
else:
    both = text + errtext
    if not re.search(r"verify: (bad|.*crc|.*mismatch)", both):
        problems.append("no verify error reported for the corrupted block")
for p in problems:
    print("    " + p)
sys.exit(1 if problems else 0)
EOF
}

# job NAME BACKEND EXPECT [fio args...]
job() {
    local name=$1 backend=$2 expect=$3
    shift 3
    local log=$DIR/${name//\//_}
    local t0=$SECONDS
    $FIO --output-format=json --output="$log.json" "$@" 2>"$log.err"
    local rc=$?
    local took=$((SECONDS - t0))
    local a verify_only=0
    for a in "$@"; do [ "$a" != --verify_only ] || verify_only=1; done
    local ok=1
    case $expect in
    verify-error | refused:*) [ $rc -ne 0 ] || ok=0 ;;
    *) [ $rc -eq 0 ] || ok=0 ;;
    esac
    if ! check_fio "$log.json" "$log.err" "$backend" "$expect" "$verify_only" >"$log.why"; then
        ok=0
    fi
    if [ $ok -eq 1 ]; then
        echo "fio-verify: $name: ok (${took} s)"
        PASS=$((PASS + 1))
    else
        if [ $rc -eq 137 ]; then
            echo "fio-verify: $name: FAIL (killed after ${FIO_TIMEOUT}s: hung?)"
        else
            echo "fio-verify: $name: FAIL (fio exit $rc)"
        fi
        cat "$log.why"
        grep -hv '^mapio_metrics ' "$log.err" | tail -5 | sed 's/^/    /'
        FAIL=$((FAIL + 1))
    fi
}

# Can this machine run the backend at all? A tiny job through the engine.
backend_usable() {
    local b=$1
    $FIO --name=probe --ioengine=external:"$ENGINE" --mapio_backend="$b" \
        --filename="$DIR/probe" --size=64k --rw=read --bs=4k \
        --output="$DIR/probe.out" 2>"$DIR/probe.err" && return 0
    if grep -q 'mapio_engine_new' "$DIR/probe.err"; then
        SKIPPED+=("$b: $(grep -h 'mapio_engine_new' "$DIR/probe.err" | head -1)")
        return 1
    fi
    return 0 # some other failure: let the jobs show it
}

# The jobs per backend: 8 per mode, 3 more in plain mode, 1 per backend.
jobs_per_backend() {
    local n=1 m
    for m in $MODES; do
        n=$((n + 8))
        [ "$m" != plain ] || n=$((n + 3))
    done
    echo $n
}

for b in $BACKENDS; do
    if ! backend_usable "$b"; then
        echo "fio-verify: $b/*: skipped (${SKIPPED[-1]#*: })"
        SKIP=$((SKIP + $(jobs_per_backend)))
        continue
    fi
    job "$b/trim" "$b" "refused:TRIM is not supported" --name=trim \
        --ioengine=external:"$ENGINE" --mapio_backend="$b" --filename="$DIR/$b.trim" \
        --size=1m --rw=randtrim --bs=4k
    for m in $MODES; do
        E=(--ioengine=external:"$ENGINE" --mapio_backend="$b" --mapio_mode="$m" --mapio_metrics=1
            --verify=crc32c --verify_fatal=1 --verify_state_save=0 --iodepth=16)
        f=$DIR/$b-$m

        job "$b/$m/randwrite" "$b" ok --name=randwrite "${E[@]}" --filename="$f.rw" \
            --size=32m --rw=randwrite --bs=4k
        job "$b/$m/readback" "$b" ok --name=readback "${E[@]}" --filename="$f.rw" \
            --size=32m --rw=randwrite --bs=4k --verify_only

        if [ "$m" = plain ]; then
            job "$b/$m/direct" "$b" ok --name=direct "${E[@]}" --filename="$f.direct" \
                --size=32m --rw=randwrite --bs=4k --direct=1
            job "$b/$m/direct-readback" "$b" ok --name=direct-readback "${E[@]}" \
                --filename="$f.direct" --size=32m --rw=randwrite --bs=4k --direct=1 --verify_only
        fi

        job "$b/$m/randrw" "$b" ok --name=randrw "${E[@]}" --filename="$f.randrw" \
            --size=32m --rw=randrw --bsrange=512-64k

        mkdir -p "$f.nj"
        job "$b/$m/numjobs2" "$b" ok --name=numjobs2 "${E[@]}" --directory="$f.nj" \
            --size=16m --rw=randwrite --bs=4k --numjobs=2 --thread

        job "$b/$m/commit" "$b" ok --name=commit "${E[@]}" --mapio_commit=1 \
            --filename="$f.commit" --size=4m --rw=randwrite --bs=4k

        job "$b/$m/sync" "$b" sync --name=sync "${E[@]}" --filename="$f.sync" \
            --size=4m --rw=randwrite --bs=4k --fsync=16 --fdatasync=4 --end_fsync=1

        if [ "$m" = plain ]; then
            job "$b/$m/dsync" "$b" ok --name=dsync "${E[@]}" --filename="$f.dsync" \
                --size=4m --rw=randwrite --bs=4k --sync=dsync
        fi

        job "$b/$m/range" "$b" ok --name=range "${E[@]}" --filename="$f.range" \
            --size=8m --rw=write --bs=16k --sync_file_range=write:8 --end_fsync=1

        # Negative control: a verified file, one 4 KiB block overwritten with
        # random bytes (its verify header with it), then --verify_only.
        C=(--name=corrupt "${E[@]}" --filename="$f.corrupt" --size=4m --rw=randwrite --bs=4k)
        if $FIO "${C[@]/--mapio_metrics=1/--mapio_metrics=0}" --output="$DIR/corrupt.out" \
            2>"$DIR/corrupt.err"; then
            dd if=/dev/urandom of="$f.corrupt" bs=4096 seek=517 count=1 conv=notrunc status=none
            job "$b/$m/corrupt" "$b" verify-error "${C[@]}" --verify_only
        else
            echo "fio-verify: $b/$m/corrupt: FAIL (writing the file to corrupt failed)"
            tail -5 "$DIR/corrupt.err" | sed 's/^/    /'
            FAIL=$((FAIL + 1))
        fi
    done
done

echo "fio-verify: took $(($(date +%s) - T0)) s${SKIPPED[*]:+; skipped: ${SKIPPED[*]}}"
echo "fio-verify: $PASS passed, $FAIL failed, $SKIP skipped"
[ $FAIL -eq 0 ] && [ $PASS -gt 0 ]
