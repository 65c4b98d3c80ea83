/*
 * engine/pool.c - worker threads that run blocking file calls.
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
#include <sched.h>

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
    mapio_req_t *qhead, *qtail; /* qlock */
    unsigned idle;              /* workers waiting on qcond (qlock) */
    bool stop;                  /* qlock */

    _Atomic(mapio_req_t *) done;  /* finished, newest first */
    _Atomic unsigned queued;      /* requests in the work queue */
    _Atomic unsigned outstanding; /* pushed, not yet reaped */
    _Atomic bool signalled;       /* notify() sent since the last reap */
    /* The loop is about to sleep (or an outside loop watches the fd): only
     * then is a notify() needed. A busy loop finds completions by itself,
     * which saves an eventfd write and read per request. */
    _Atomic bool loop_waiting;
    _Atomic bool always_notify;

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
    mapio_req_t *head = atomic_load_explicit(&p->done, memory_order_relaxed);
    do
        mapio__rp(r)->next = head;
    while (!atomic_compare_exchange_weak_explicit(&p->done, &head, r, memory_order_release,
                                                  memory_order_relaxed));
    /* Pairs with the fence in mapio__pool_sleep(): either the loop sees this
     * request before sleeping, or this sees loop_waiting and wakes it. */
    atomic_thread_fence(memory_order_seq_cst);
    if ((atomic_load_explicit(&p->loop_waiting, memory_order_relaxed) ||
         atomic_load_explicit(&p->always_notify, memory_order_relaxed)) &&
        !atomic_exchange(&p->signalled, true))
        p->notify(p->arg);
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
        mapio_req_t *r = p->qhead;
        p->qhead = mapio__rp(r)->next;
        if (p->qhead == NULL)
            p->qtail = NULL;
        atomic_fetch_sub_explicit(&p->queued, 1, memory_order_relaxed);
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

void mapio__pool_push(struct mapio__pool *p, mapio_req_t *const *reqs, unsigned n)
{
    if (n == 0)
        return;
    atomic_fetch_add_explicit(&p->outstanding, n, memory_order_relaxed);
    pthread_mutex_lock(&p->qlock);
    for (unsigned i = 0; i < n; i++)
        push(&p->qhead, &p->qtail, reqs[i]);
    atomic_fetch_add_explicit(&p->queued, n, memory_order_relaxed);
    /* Signalling a condition nobody waits on still costs; skip it when every
     * worker is busy - one of them will find this request on its way back. */
    if (p->idle > 0)
        n > 1 ? pthread_cond_broadcast(&p->qcond) : pthread_cond_signal(&p->qcond);
    pthread_mutex_unlock(&p->qlock);
}

void mapio__pool_submit(struct mapio__pool *p, mapio_req_t **reqs, unsigned n)
{
    unsigned from = 0;
    for (unsigned i = 0; i < n; i++) {
        if (reqs[i]->op != MAPIO_OP_NOP)
            continue;
        /* Keep the workers' requests in order around a no-op. */
        mapio__pool_push(p, reqs + from, i - from);
        mapio__complete(reqs[i], 0);
        from = i + 1;
    }
    mapio__pool_push(p, reqs + from, n - from);
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
            atomic_fetch_sub_explicit(&p->queued, 1, memory_order_relaxed);
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
    mapio_req_t *stack = atomic_exchange_explicit(&p->done, NULL, memory_order_acquire);
    /* Newest first: reverse, so callbacks run in completion order. */
    mapio_req_t *list = NULL;
    while (stack != NULL) {
        mapio_req_t *next = mapio__rp(stack)->next;
        mapio__rp(stack)->next = list;
        list = stack;
        stack = next;
    }
    unsigned n = 0;
    while (list != NULL) {
        mapio_req_t *r = list;
        list = mapio__rp(r)->next;
        mapio__complete_whole(r, r->result);
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
