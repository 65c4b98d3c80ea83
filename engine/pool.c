/*
 * engine/pool.c - worker threads that run blocking file calls.
 *
 * Two lists, each with its own mutex so that submitting and completing do
 * not contend: the work queue (polling thread pushes, workers pop) and the
 * done list (workers push, polling thread drains). A worker never holds both.
 */
#include "pool.h"

struct mapio__pool {
    pthread_mutex_t qlock;
    pthread_cond_t qcond;
    mapio_req_t *qhead, *qtail; /* qlock */
    unsigned idle;              /* workers waiting on qcond (qlock) */
    bool stop;                  /* qlock */

    pthread_mutex_t dlock;
    mapio_req_t *dhead, *dtail; /* dlock */
    _Atomic bool signalled;     /* notify() sent since the last reap */

    mapio__pool_notify_fn notify;
    void *arg;
    unsigned nthreads;
    pthread_t threads[];
};

static void push(mapio_req_t **head, mapio_req_t **tail, mapio_req_t *r)
{
    mapio__rp(r)->next = NULL;
    if (*tail != NULL)
        mapio__rp(*tail)->next = r;
    else
        *head = r;
    *tail = r;
}

static void done(struct mapio__pool *p, mapio_req_t *r)
{
    pthread_mutex_lock(&p->dlock);
    push(&p->dhead, &p->dtail, r);
    pthread_mutex_unlock(&p->dlock);
    if (!atomic_exchange(&p->signalled, true))
        p->notify(p->arg);
}

static void *worker(void *arg)
{
    struct mapio__pool *p = arg;
    mapio__os_block_signals();
    pthread_mutex_lock(&p->qlock);
    for (;;) {
        while (p->qhead == NULL && !p->stop) {
            p->idle++;
            pthread_cond_wait(&p->qcond, &p->qlock);
            p->idle--;
        }
        if (p->qhead == NULL)
            break;
        mapio_req_t *r = p->qhead;
        p->qhead = mapio__rp(r)->next;
        if (p->qhead == NULL)
            p->qtail = NULL;
        pthread_mutex_unlock(&p->qlock);

        r->result = mapio__do_sync(mapio__rp(r)->fs, r);
        done(p, r);

        pthread_mutex_lock(&p->qlock);
    }
    pthread_mutex_unlock(&p->qlock);
    return NULL;
}

int mapio__pool_new(struct mapio__pool **out, unsigned workers, mapio__pool_notify_fn notify,
                    void *arg)
{
    struct mapio__pool *p = mapio__calloc(1, sizeof *p + workers * sizeof(pthread_t));
    if (p == NULL)
        return MAPIO_ENOMEM;
    p->notify = notify;
    p->arg = arg;
    if (pthread_mutex_init(&p->qlock, NULL) != 0)
        goto fail_q;
    if (pthread_cond_init(&p->qcond, NULL) != 0)
        goto fail_c;
    if (pthread_mutex_init(&p->dlock, NULL) != 0)
        goto fail_d;
    for (; p->nthreads < workers; p->nthreads++) {
        int err = pthread_create(&p->threads[p->nthreads], NULL, worker, p);
        if (err != 0) {
            mapio__pool_free(p);
            return -err;
        }
    }
    *out = p;
    return 0;
fail_d:
    pthread_cond_destroy(&p->qcond);
fail_c:
    pthread_mutex_destroy(&p->qlock);
fail_q:
    mapio__free(p);
    return MAPIO_ENOMEM;
}

void mapio__pool_free(struct mapio__pool *p)
{
    if (p == NULL)
        return;
    mapio__pool_cancel(p, NULL);
    pthread_mutex_lock(&p->qlock);
    p->stop = true;
    pthread_cond_broadcast(&p->qcond);
    pthread_mutex_unlock(&p->qlock);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    mapio__pool_reap(p);
    pthread_mutex_destroy(&p->dlock);
    pthread_cond_destroy(&p->qcond);
    pthread_mutex_destroy(&p->qlock);
    mapio__free(p);
}

void mapio__pool_push(struct mapio__pool *p, mapio_req_t *r)
{
    pthread_mutex_lock(&p->qlock);
    push(&p->qhead, &p->qtail, r);
    /* Signalling a condition nobody waits on still costs; skip it when every
     * worker is busy - one of them will find this request on its way back. */
    if (p->idle > 0)
        pthread_cond_signal(&p->qcond);
    pthread_mutex_unlock(&p->qlock);
}

int mapio__pool_cancel(struct mapio__pool *p, mapio_req_t *req)
{
    mapio_req_t *cancelled = NULL, *ctail = NULL;
    pthread_mutex_lock(&p->qlock);
    mapio_req_t **link = &p->qhead, *prev = NULL;
    while (*link != NULL) {
        mapio_req_t *r = *link;
        if (req == NULL || r == req) {
            *link = mapio__rp(r)->next;
            if (p->qtail == r)
                p->qtail = prev;
            push(&cancelled, &ctail, r);
            if (req != NULL)
                break;
        } else {
            prev = r;
            link = &mapio__rp(r)->next;
        }
    }
    pthread_mutex_unlock(&p->qlock);
    while (cancelled != NULL) {
        mapio_req_t *r = cancelled;
        cancelled = mapio__rp(r)->next;
        r->result = MAPIO_ECANCELED;
        done(p, r);
    }
    return 0;
}

unsigned mapio__pool_reap(struct mapio__pool *p)
{
    /* Clear the flag before draining: a completion that lands after the
     * drain then notifies again, so none is left unannounced. */
    atomic_store(&p->signalled, false);
    pthread_mutex_lock(&p->dlock);
    mapio_req_t *list = p->dhead;
    p->dhead = p->dtail = NULL;
    pthread_mutex_unlock(&p->dlock);
    unsigned n = 0;
    while (list != NULL) {
        mapio_req_t *r = list;
        list = mapio__rp(r)->next;
        mapio__complete_whole(r, r->result);
        n++;
    }
    return n;
}
