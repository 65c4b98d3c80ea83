/*
 * engine/copypool.c - the engine's MMapIO copy pool: the copies of files
 * opened with MAPIO_OPEN_MMAP_ON_POOL run on worker threads instead of the
 * submitting thread, and the polling thread takes them back around its
 * waits. Part of the engine (engine.h); the pool itself is generic (pool.c).
 */
#include "engine.h"
#include "exec.h"

/* A copy finished while the poller may sleep in the backend's wait. */
static void copy_pool_notify(void *arg)
{
    mapio_engine_t *eng = arg;
    MAPIO__BE(eng, wake, eng->be);
}

int mapio__engine_copy_pool_start(mapio_engine_t *eng)
{
    if (atomic_load_explicit(&eng->copy_pool, memory_order_acquire) != NULL)
        return 0;
    int err = 0;
    pthread_mutex_lock(&eng->lock);
    if (atomic_load(&eng->copy_pool) == NULL) {
        struct mapio__pool *pool;
        struct mapio__pool_cfg cfg = { .threads = eng->opts.workers,
                                       .run = mapio__exec_work,
                                       .done = mapio__complete_work,
                                       .notify = copy_pool_notify,
                                       .arg = eng };
        err = mapio__pool_new(&pool, &cfg);
        if (err == 0) {
            /* An outside loop only learns of completions through the fd. */
            if (atomic_load(&eng->embedded))
                mapio__pool_always_notify(pool);
            atomic_store_explicit(&eng->copy_pool, pool, memory_order_release);
        }
    }
    pthread_mutex_unlock(&eng->lock);
    return err;
}

bool mapio__engine_copy_take(struct mapio__copies *c, mapio_req_t *req)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    const struct mapio__fstate *fs = rp->fs;
    if (fs == NULL || fs->map == NULL || !(fs->flags & MAPIO_OPEN_MMAP_ON_POOL) ||
        !mapio__op_is_plain_transfer(req->op))
        return false;
    rp->on_copy_pool = 1;
    struct mapio__work *w = &rp->work;
    if (c->tail != NULL)
        c->tail->next = w;
    else
        c->head = w;
    c->tail = w;
    c->n++;
    return true;
}

void mapio__engine_copies_push(mapio_engine_t *eng, struct mapio__copies *c)
{
    if (c->n > 0)
        mapio__pool_push(atomic_load_explicit(&eng->copy_pool, memory_order_acquire), c->head,
                         c->tail, c->n);
}

int mapio__engine_wait(mapio_engine_t *eng, int timeout_ms)
{
    struct mapio__pool *pool = atomic_load_explicit(&eng->copy_pool, memory_order_acquire);
    bool pool_waiting = false;
    if (timeout_ms != 0 && pool != NULL && !(pool_waiting = mapio__pool_sleep(pool)))
        timeout_ms = 0; /* copies are back: no sleeping */
    int r = MAPIO__BE(eng, wait, eng->be, timeout_ms);
    atomic_store_explicit(&eng->sleeping, false, memory_order_relaxed);
    if (pool != NULL) {
        if (pool_waiting)
            mapio__pool_awake(pool);
        mapio__pool_reap(pool);
    }
    return r;
}
