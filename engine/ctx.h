/*
 * engine/ctx.h - the part of an engine its modules share.
 *
 * The executor, group commit and the backends work on what one engine owns:
 * its queues, counters, fault hooks and shutdown flag. They reach it through
 * this struct (a file's fs->ctx, the engine's eng->ctx), so that none of
 * them depends on the engine module above them. Data only; engine.c owns it.
 * Never installed.
 */
#ifndef MAPIO_CTX_H
#define MAPIO_CTX_H

#include <stdatomic.h>
#include <stdbool.h>

#include "fault.h"
#include "latency.h"
#include "metrics.h"
#include "req.h"

struct mapio__fstate;

struct mapio__ctx {
    /* Polling thread only. */
    struct mapio__reqq backlog;      /* to hand to the backend: taken, resumed, or our own */
    struct mapio__reqq done;         /* finished: callbacks to run */
    struct mapio__fstate *gc_timers; /* files whose group sync waits on a delay */
    struct mapio__counters counters;
    struct mapio__lats lat;

    /* Any thread. */
    struct mapio__counters counters_mt;
    struct mapio__lats lat_mt;
    struct mapio__faults faults; /* changed only while idle */
    _Atomic uint64_t inflight;   /* accepted, callback not yet run */
    _Atomic bool shutdown;

    /* Options, fixed at creation. */
    unsigned commit_delay_us, commit_max_batch;
    bool no_latency; /* MAPIO_ENGINE_NO_LATENCY: read no clock to time requests */
};

#endif
