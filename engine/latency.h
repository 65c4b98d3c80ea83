/*
 * engine/latency.h - log-linear latency histograms.
 *
 * 64 sub-buckets per power of two over nanoseconds: values below 64 ns are
 * exact, larger ones land in a bucket 1/64 of their octave wide, and are
 * reported at the bucket's midpoint, so every percentile is within 1/128
 * (0.8 %) of a value actually recorded. 2^40 ns (18 minutes) and above share
 * the top bucket; the true maximum is kept separately. 17.5 KiB each.
 */
#ifndef MAPIO_LATENCY_H
#define MAPIO_LATENCY_H

#include <stdatomic.h>
#include <stdbool.h>

#include "common.h"
#include "mapio/engine.h"

#define MAPIO__LAT_SUB 64u
#define MAPIO__LAT_BUCKETS (MAPIO__LAT_SUB + (40u - 6u) * MAPIO__LAT_SUB)

struct mapio__lat {
    _Atomic uint64_t bucket[MAPIO__LAT_BUCKETS];
    _Atomic uint64_t max;
};

/* Record one value: single_writer for the polling thread (plain load and
 * store), else an atomic add any thread may make. */
void mapio__lat_record(struct mapio__lat *h, uint64_t ns, bool single_writer);

/* count and percentiles of a and b together (b may be NULL). Thread-safe. */
void mapio__lat_read(const struct mapio__lat *a, const struct mapio__lat *b, mapio_latency_t *out);

/* The read, write, sync and commit histograms of an engine or a file. */
struct mapio__lats {
    struct mapio__lat read, write, sync, commit;
};

#endif
