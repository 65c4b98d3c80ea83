/*
 * bench/report.h - what a measured run prints, the same way in every mode:
 * one text row "name=value ..." or, with --json, one JSON object per run on
 * stdout (bench/README.md lists its fields); the CPU and wall time of the
 * measured phase; a latency histogram for the loops the engine does not
 * time; and a progress line on stderr while a run lasts.
 */
#ifndef MAPIO_BENCH_REPORT_H
#define MAPIO_BENCH_REPORT_H

#include <stdint.h>
#include <sys/resource.h>

#include "cli.h"
#include "mapio.h"

uint64_t now_ns(void); /* CLOCK_MONOTONIC */

/* Latencies in ns, log-linear: exact below 128 ns, then 64 buckets per
 * octave, each reported at its midpoint (within 0.8 %). 18 KiB. */
#define HIST_BUCKETS (36 * 64)
struct hist {
    uint64_t n[HIST_BUCKETS];
    uint64_t max;
};
void hist_add(struct hist *h, uint64_t ns);
/* count, p50, p99, p99.9 and max of h. */
void hist_get(const struct hist *h, mapio_latency_t *out);

/* Wall time and the process's CPU time (every thread: getrusage(RUSAGE_SELF))
 * between meter_start and meter_stop. */
struct meter {
    uint64_t t0_ns, wall_ns;
    struct rusage ru0;
    double user_us, sys_us;
};
void meter_start(struct meter *m);
void meter_stop(struct meter *m);

/*
 * The progress line: on stderr, only when it is a terminal, from the run's
 * second second on, redrawn in place four times a second ("label: 1.02M
 * ops/s, 3.0 s left") and erased by progress_end. A run of `seconds` ends at
 * a known time; with seconds 0, `total` units are done and the time left is
 * estimated from the rate so far.
 */
struct progress {
    const char *label, *unit;
    uint64_t t0, end, next, total;
    int on, drawn;
};
void progress_start(struct progress *p, const char *label, const char *unit, double seconds,
                    uint64_t total);
void progress_draw(struct progress *p, uint64_t now, uint64_t done);
static inline void progress_tick(struct progress *p, uint64_t now, uint64_t done)
{
    if (p->on && now >= p->next)
        progress_draw(p, now, done);
}
void progress_end(struct progress *p);

/* One measured run. */
struct row {
    const char *name;               /* --name, or made from the mode and backend */
    const char *mode;               /* the MODE measured */
    const char *backend;            /* the engine's backend in use, or what the peer runs on */
    int peer;                       /* 1: no mapio in the loop (raw-uring, sync-each) */
    uint64_t ops;                   /* operations completed in the measured phase */
    uint64_t bytes_per_op;          /* 0 where an operation moves no data (nop) */
    struct meter meter;             /* the measured phase */
    mapio_latency_t lat;            /* per operation */
    const char *lat_source;         /* "engine read_latency", "bench" (this program's clock) */
    const mapio_metrics_t *metrics; /* the engine's, after the run; NULL for a peer */
    int failed;
    struct {
        const char *name;
        double value;
    } extra[2]; /* mode-specific figures (commit: syncs, records_per_sync) */
    int nextra;
};

/* Print r: as one JSON object on one line (json) or as a text row. The
 * options come from c's table: those that mode uses, with their values. */
void report_row(const struct row *r, const struct cli *c, const char *mode, int json);

#endif
