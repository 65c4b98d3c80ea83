/*
 * engine/pool.c - worker threads that run blocking calls (see pool.h).
 *
 * The work queue is a mutex-protected FIFO (polling thread pushes, workers
 * pop); the done list is a lock-free stack (workers push with one CAS, the
 * polling thread takes it whole with one exchange and reverses it).
 *
 * On small virtual machines a context switch costs more than the pread it
 * surrounds, so neither side goes to sleep at once: a worker that finds the
 * queue empty, and a loop that finds nothing finished while work is out,
 * first spin briefly (yielding the CPU), since the next item is usually a
 * microsecond away.
 */
#include <pthread.h>
#include <sched.h>

#include "os.h"
#include "pool.h"

/* Spin rounds before sleeping; each polls a while, then yields the CPU. */
#define SPIN_ROUNDS 16
#define SPIN_POLLS 256

/* True once *flag (read with relaxed loads) is non-zero, or after a short spin. */
static bool spin_until(_Atomic unsigned *flag)
{
    for (int i = 0; i < SPIN_POLLS; i++)
        if (atomic_load_explicit(flag, memory_order_relaxed) != 0)
            return true;
    return false;
}

struct mapio__pool {
    pthread_mutex_t qlock;
    pthread_cond_t qcond;
    struct mapio__work *qhead, *qtail; /* qlock */
    unsigned idle;                     /* workers waiting on qcond (qlock) */
    bool stop;                         /* qlock */

    _Atomic(struct mapio__work *) done; /* finished, newest first */
    _Atomic unsigned queued;            /* requests in the work queue */
    _Atomic unsigned outstanding;       /* pushed, not yet reaped */
    _Atomic bool signalled;             /* notify() sent since the last reap */
    /* The loop is about to sleep (or an outside loop watches the fd): only
     * then is a notify() needed. A busy loop finds completions by itself,
     * which saves an eventfd write and read per request. */
    _Atomic bool loop_waiting;
    _Atomic bool always_notify;

    struct mapio__pool_cfg cfg;
    unsigned nthreads;
    pthread_t threads[];
};

static void done(struct mapio__pool *p, struct mapio__work *w)
{
    struct mapio__work *head = atomic_load_explicit(&p->done, memory_order_relaxed);
    do
        w->next = head;
    while (!atomic_compare_exchange_weak_explicit(&p->done, &head, w, memory_order_release,
                                                  memory_order_relaxed));
    /* Pairs with the fence in mapio__pool_sleep(): either the loop sees this
     * request before sleeping, or this sees loop_waiting and wakes it. */
    atomic_thread_fence(memory_order_seq_cst);
    if ((atomic_load_explicit(&p->loop_waiting, memory_order_relaxed) ||
         atomic_load_explicit(&p->always_notify, memory_order_relaxed)) &&
        !atomic_exchange(&p->signalled, true))
        p->cfg.notify(p->cfg.arg);
}

static void *worker(void *arg)
{
    struct mapio__pool *p = arg;
    mapio__os_block_signals();
    pthread_mutex_lock(&p->qlock);
    for (;;) {
        for (int spin = 0; p->qhead == NULL && !p->stop && spin < SPIN_ROUNDS; spin++) {
            pthread_mutex_unlock(&p->qlock);
            while (!spin_until(&p->queued) && spin++ < SPIN_ROUNDS)
                sched_yield();
            pthread_mutex_lock(&p->qlock);
        }
        while (p->qhead == NULL && !p->stop) {
            p->idle++;
            pthread_cond_wait(&p->qcond, &p->qlock);
            p->idle--;
        }
        if (p->qhead == NULL)
            break;
        struct mapio__work *w = p->qhead;
        p->qhead = w->next;
        if (p->qhead == NULL)
            p->qtail = NULL;
        atomic_fetch_sub_explicit(&p->queued, 1, memory_order_relaxed);
        pthread_mutex_unlock(&p->qlock);

        p->cfg.run(w);
        done(p, w);

        pthread_mutex_lock(&p->qlock);
    }
    pthread_mutex_unlock(&p->qlock);
    return NULL;
}

int mapio__pool_new(struct mapio__pool **out, const struct mapio__pool_cfg *cfg)
{
    unsigned workers = cfg->threads;
    struct mapio__pool *p = mapio__calloc(1, sizeof *p + workers * sizeof(pthread_t));
    if (p == NULL)
        return MAPIO_ENOMEM;
    p->cfg = *cfg;
    if (pthread_mutex_init(&p->qlock, NULL) != 0)
        goto fail_q;
    if (pthread_cond_init(&p->qcond, NULL) != 0)
        goto fail_c;
    for (; p->nthreads < workers; p->nthreads++) {
        int err = pthread_create(&p->threads[p->nthreads], NULL, worker, p);
        if (err != 0) {
            mapio__pool_free(p);
            return -err;
        }
    }
    *out = p;
    return 0;
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
    pthread_cond_destroy(&p->qcond);
    pthread_mutex_destroy(&p->qlock);
    mapio__free(p);
}

void mapio__pool_push(struct mapio__pool *p, struct mapio__work *head, struct mapio__work *tail,
                      unsigned n)
{
    if (n == 0)
        return;
    for (struct mapio__work *w = head;; w = w->next) {
        w->cancelled = false;
        if (w == tail)
            break;
    }
    tail->next = NULL;
    atomic_fetch_add_explicit(&p->outstanding, n, memory_order_relaxed);
    pthread_mutex_lock(&p->qlock);
    if (p->qtail != NULL)
        p->qtail->next = head;
    else
        p->qhead = head;
    p->qtail = tail;
    atomic_fetch_add_explicit(&p->queued, n, memory_order_relaxed);
    /* Signalling a condition nobody waits on still costs; skip it when every
     * worker is busy - one of them will find this request on its way back. */
    if (p->idle > 0)
        n > 1 ? pthread_cond_broadcast(&p->qcond) : pthread_cond_signal(&p->qcond);
    pthread_mutex_unlock(&p->qlock);
}

int mapio__pool_cancel(struct mapio__pool *p, struct mapio__work *which)
{
    struct mapio__work *cancelled = NULL;
    pthread_mutex_lock(&p->qlock);
    struct mapio__work **link = &p->qhead, *prev = NULL;
    while (*link != NULL) {
        struct mapio__work *w = *link;
        if (which == NULL || w == which) {
            *link = w->next;
            if (p->qtail == w)
                p->qtail = prev;
            atomic_fetch_sub_explicit(&p->queued, 1, memory_order_relaxed);
            w->next = cancelled; /* order no longer matters: none of them ran */
            cancelled = w;
            if (which != NULL)
                break;
        } else {
            prev = w;
            link = &w->next;
        }
    }
    pthread_mutex_unlock(&p->qlock);
    while (cancelled != NULL) {
        struct mapio__work *w = cancelled;
        cancelled = w->next;
        w->cancelled = true;
        done(p, w);
    }
    return 0;
}

unsigned mapio__pool_reap(struct mapio__pool *p)
{
    /* Clear the flag before draining: a completion that lands after the
     * drain then notifies again, so none is left unannounced. */
    atomic_store(&p->signalled, false);
    struct mapio__work *stack = atomic_exchange_explicit(&p->done, NULL, memory_order_acquire);
    /* Newest first: reverse, so callbacks run in completion order. */
    struct mapio__work *list = NULL;
    while (stack != NULL) {
        struct mapio__work *next = stack->next;
        stack->next = list;
        list = stack;
        stack = next;
    }
    unsigned n = 0;
    while (list != NULL) {
        struct mapio__work *w = list;
        list = w->next;
        p->cfg.done(w, w->cancelled);
        n++;
    }
    atomic_fetch_sub_explicit(&p->outstanding, n, memory_order_relaxed);
    return n;
}

bool mapio__pool_sleep(struct mapio__pool *p)
{
    /* Work is out and will finish soon: look again a few times first. */
    for (int spin = 0;
         spin < SPIN_ROUNDS && atomic_load_explicit(&p->outstanding, memory_order_relaxed) != 0;
         spin++) {
        for (int i = 0; i < SPIN_POLLS; i++)
            if (atomic_load_explicit(&p->done, memory_order_relaxed) != NULL)
                return false;
        sched_yield();
    }
    atomic_store_explicit(&p->loop_waiting, true, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    bool empty = atomic_load_explicit(&p->done, memory_order_relaxed) == NULL;
    if (!empty)
        atomic_store_explicit(&p->loop_waiting, false, memory_order_relaxed);
    return empty;
}

void mapio__pool_awake(struct mapio__pool *p)
{
    atomic_store_explicit(&p->loop_waiting, false, memory_order_relaxed);
}

void mapio__pool_always_notify(struct mapio__pool *p)
{
    atomic_store(&p->always_notify, true);
}
