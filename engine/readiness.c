/*
 * engine/readiness.c - the readiness backends' signal, wait, cancel and fd
 * (see readiness.h).
 */
#include <unistd.h>

#include "readiness.h"

int mapio__readiness_start(struct mapio__readiness *r, const mapio_engine_opts_t *opts)
{
    r->inline_reads = !(opts->flags & MAPIO_ENGINE_NO_INLINE_READS);
    return mapio__pooled_new(&r->pool, opts->workers, mapio__readiness_signal, r);
}

void mapio__readiness_submit(struct mapio__readiness *r, mapio_req_t *const *reqs, unsigned n)
{
    if (r->inline_reads)
        mapio__pooled_submit(r->pool, reqs, n);
    else
        mapio__pooled_push(r->pool, reqs, n);
}

void mapio__readiness_signal(void *arg)
{
    struct mapio__readiness *r = arg;
    r->raise(r);
    atomic_store(&r->raised, true);
}

int mapio__readiness_wait(struct mapio__readiness *r, int timeout_ms, bool ready,
                          int (*block)(void *arg, int timeout_ms), void *arg)
{
    /* A signal taken here was meant for this wait: a wake for a submission,
     * or the copy pool's completions, which only the engine collects.
     * Sleeping after swallowing it would lose it. */
    bool signalled = atomic_exchange(&r->raised, false);
    if (signalled)
        r->lower(r);
    return mapio__pooled_wait(r->pool, timeout_ms, signalled || ready, block, arg);
}

void mapio__readiness_stop(struct mapio__readiness *r)
{
    mapio__pool_free(r->pool);
    close(r->fd);
}

int mapio__readiness_cancel(struct mapio__readiness *r, mapio_req_t *req)
{
    return mapio__pooled_cancel(r->pool, req);
}

int mapio__readiness_fd(struct mapio__readiness *r)
{
    mapio__pool_always_notify(r->pool);
    return r->fd;
}
