/*
 * engine/pooled.c - the worker-pool backends' shared part (see pooled.h).
 */
#include "exec.h"
#include "pooled.h"

int mapio__pooled_new(struct mapio__pool **out, unsigned workers, void (*notify)(void *arg),
                      void *arg)
{
    struct mapio__pool_cfg cfg = { .threads = workers,
                                   .run = mapio__exec_work,
                                   .done = mapio__complete_work,
                                   .notify = notify,
                                   .arg = arg };
    return mapio__pool_new(out, &cfg);
}

void mapio__pooled_push(struct mapio__pool *pool, mapio_req_t *const *reqs, unsigned n)
{
    struct mapio__work *head = NULL, *tail = NULL;
    unsigned count = 0;
    for (unsigned i = 0; i < n; i++) {
        if (reqs[i]->op == MAPIO_OP_NOP) {
            mapio__complete(reqs[i], 0);
            continue;
        }
        struct mapio__work *w = &mapio__rp(reqs[i])->work;
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
