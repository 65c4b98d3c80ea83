/*
 * engine/metrics.h - counters and latency accounting of engines and files,
 * and their JSON form.
 *
 * Statistics, not synchronisation: relaxed atomics are enough. Each engine
 * and file keeps two sets: one written only by the polling thread (a plain
 * load and store, no locked instruction on the hot path) and one any thread
 * may add to (worker pool, blocking twins). Snapshots add them up.
 * Never installed.
 */
#ifndef MAPIO_METRICS_H
#define MAPIO_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>

#include "latency.h"
#include "mapio/engine.h"

struct mapio__counters {
#define MAPIO__COUNTER_ATOMIC(name) _Atomic uint64_t name;
    MAPIO_COUNTER_MAP(MAPIO__COUNTER_ATOMIC)
#undef MAPIO__COUNTER_ATOMIC
};

/* Any thread: one atomic add. */
#define MAPIO__COUNT(c, field, n) atomic_fetch_add_explicit(&(c)->field, (n), memory_order_relaxed)
/* The set's only writer: a plain load and store. */
#define MAPIO__COUNT1(c, field, n)                                                                 \
    atomic_store_explicit(&(c)->field,                                                             \
                          atomic_load_explicit(&(c)->field, memory_order_relaxed) + (n),           \
                          memory_order_relaxed)

/* out = a + b, field by field. */
void mapio__counters_read(const struct mapio__counters *a, const struct mapio__counters *b,
                          mapio_metrics_t *out);

/* Count one finished request (its result, and its latency in us) into the
 * polling thread's set (single_writer) or a shared set. */
void mapio__account(struct mapio__counters *c, const mapio_req_t *req, uint64_t us,
                    bool single_writer);

/* Record one finished request's latency (ns) in the histogram its op feeds. */
void mapio__lat_account(struct mapio__lats *l, const mapio_req_t *req, uint64_t ns,
                        bool single_writer);

#endif
