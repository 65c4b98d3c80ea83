/*
 * engine/pooled.c - the worker-pool backends' shared part (see pooled.h).
 */
#include "exec.h"
#include "os.h"
#include "pooled.h"

int mapio__pooled_new(struct mapio__pool **out, unsigned workers, void (*notify)(void *arg),
                      void *arg)
{
    struct mapio__pool_cfg cfg = { .threads = workers,
                                   .slow_threads = MAPIO__MAX(workers / 2, 1u),
                                   .run = mapio__exec_work,
                                   .done = mapio__complete_work,
                                   .notify = notify,
                                   .arg = arg };
    return mapio__pool_new(out, &cfg);
}

/* A cached read, answered here: true if it completed (or the part the
 * page cache held did, and the rest was requeued). */
static bool read_inline(mapio_req_t *req)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    struct mapio__fstate *fs = rp->fs;
    /* done != 0: the part before came back short, so the page after it
     * was not cached: the pool's. */
    if ((req->op != MAPIO_OP_READ && req->op != MAPIO_OP_READV) || rp->done != 0 ||
        req->len > MAPIO__INLINE_READ_MAX || fs->map != NULL || (fs->flags & MAPIO_OPEN_DIRECT) ||
        fs->nowait_refused || rp->ctx->faults.on)
        return false;
    struct mapio__seg seg;
    mapio__req_seg(req, &seg);
    mapio_iovec_t one = { .iov_base = seg.buf, .iov_len = seg.len };
    int64_t r = seg.vectored ? mapio__os.preadv_nowait(fs->fd, seg.iov, seg.iovcnt, seg.offset)
                             : mapio__os.preadv_nowait(fs->fd, &one, 1, seg.offset);
    if (r < 0) {
        /* Not cached, or the call failed: the pool makes the real one,
         * which reports a real error. */
        if (r == MAPIO_ENOTSUP)
            fs->nowait_refused = true;
        return false;
    }
    if (r == 0 || (uint64_t)r >= req->len) {
        MAPIO__COUNT1(&rp->ctx->counters, read_inline, 1);
        MAPIO__COUNT1(&fs->counters, read_inline, 1);
    }
    mapio__complete(req, r); /* short: requeued for the rest */
    return true;
}

/* Syncs, preallocation and the lifecycle calls take milliseconds on a busy
 * file: the slow lane's. A commit's own work is a write, unless it is fused
 * with its sync. */
static bool slow_op(mapio_req_t *req)
{
    switch (req->op) {
    case MAPIO_OP_READ:
    case MAPIO_OP_WRITE:
    case MAPIO_OP_READV:
    case MAPIO_OP_WRITEV:
    case MAPIO_OP_NOP:
    case MAPIO_OP_TIMER:
        return false;
    case MAPIO_OP_COMMIT:
        return mapio__req_fused(req);
    default:
        return true;
    }
}

static void push(struct mapio__pool *pool, mapio_req_t *const *reqs, unsigned n, bool try_inline)
{
    struct mapio__work *head = NULL, *tail = NULL;
    unsigned count = 0;
    for (unsigned i = 0; i < n; i++) {
        if (reqs[i]->op == MAPIO_OP_NOP) {
            mapio__complete(reqs[i], 0);
            continue;
        }
        if (try_inline && read_inline(reqs[i]))
            continue;
        struct mapio__work *w = &mapio__rp(reqs[i])->work;
        w->slow = slow_op(reqs[i]);
        if (tail != NULL)
            tail->next = w;
        else
            head = w;
        tail = w;
        count++;
    }
    if (count > 0)
        mapio__pool_push(pool, head, tail, count);
}

void mapio__pooled_push(struct mapio__pool *pool, mapio_req_t *const *reqs, unsigned n)
{
    push(pool, reqs, n, false);
}

void mapio__pooled_submit(struct mapio__pool *pool, mapio_req_t *const *reqs, unsigned n)
{
    push(pool, reqs, n, true);
}

int mapio__pooled_cancel(struct mapio__pool *pool, mapio_req_t *req)
{
    return mapio__pool_cancel(pool, req != NULL ? &mapio__rp(req)->work : NULL);
}

int mapio__pooled_wait(struct mapio__pool *pool, int timeout_ms, bool signalled,
                       int (*block)(void *arg, int timeout_ms), void *arg)
{
    /* Completions already waiting need no system call to collect. */
    if (mapio__pool_reap(pool) > 0 || timeout_ms == 0 || signalled)
        return 0;
    if (!mapio__pool_sleep(pool)) {
        mapio__pool_reap(pool);
        return 0;
    }
    int r = block(arg, timeout_ms);
    mapio__pool_awake(pool);
    mapio__pool_reap(pool);
    return r;
}
