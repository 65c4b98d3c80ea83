/*
 * engine/pool.c - worker threads that run blocking calls (see pool.h).
 *
 * The work queue is a mutex-protected FIFO (polling thread pushes, workers
 * pop); the done list is a lock-free stack (workers push with one CAS, the
 * polling thread takes it whole with one exchange and reverses it).
 *
 * Spinning. On small virtual machines a futex wake-up and the context
 * switches around it cost more than the pread they surround, so neither
 * side goes to sleep at once:
 *
 *   - a worker that finds nothing to take polls `ready` a while before it
 *     waits on the condition - but only one worker at a time (`spinning`),
 *     and a push wakes a sleeper only for items the spinner cannot take.
 *     Before, every push with a worker asleep woke it, though the other
 *     was spinning and took the item: QD1 with 2 workers paid a futex wake
 *     and a wasted wake-up for most requests and ran at a fifth of the rate
 *     of 1 worker;
 *   - the loop, about to sleep while items are out, polls `done`.
 *
 * A spin polls with a CPU pause hint and yields the CPU only every
 * SPIN_YIELD_NS: a yield is a system call, and on a loaded machine it
 * hands the CPU to another process for a time slice; but the thread waited
 * for may be queued behind the spinner on its own CPU.
 *
 * Each side's limit adapts to what its spins find. A spin that finds work
 * after t keeps the limit at least 4t. One that finds nothing learns, when
 * it is woken, how long the gap really was: just past the limit (within
 * 2x), the limit doubles, since a little more spinning would have saved the
 * wake-up; far past it (the pool went idle, or the work is slow - a cold
 * read, a sync), it halves. So a QD1 stream never sleeps, an idle pool
 * spins a few microseconds, and a loop waiting on slow reads stops
 * spinning for them.
 *
 * Lanes. With cfg.slow_threads, items pushed with `slow` (syncs and
 * metadata calls: milliseconds each on a busy file) queue apart and only
 * the slow lane's own workers take them, while the other workers take only
 * the rest: however many syncs wait, reads and writes have every fast
 * worker, and no more than slow_threads syncs run at once. Slow workers
 * never spin (their items are too slow for a spin to pay), and the loop
 * spins only while fast items are out.
 */
#include <pthread.h>
#include <sched.h>

#include "os.h"
#include "pool.h"

/* Limits of an adaptive spin, and where it starts. */
#define SPIN_MIN_NS 2000u
#define SPIN_MAX_NS 100000u
#define SPIN_START_NS 20000u
/* Polls (each with a CPU pause hint) between two looks at the clock. */
#define SPIN_POLLS 32
/* Spinning between two yields of the CPU (maybe_yield). */
#define SPIN_YIELD_NS 5000u

/* The spins' clock: the platform's own, never an entry a test swapped
 * into mapio__os (idle workers spin while tests may swap them). */
static uint64_t clock_ns(void)
{
    return mapio__os_default.now_ns();
}

struct spin {
    uint64_t limit_ns;
};

/* A spin found what it waited for after t. */
static void spin_found(struct spin *s, uint64_t t)
{
    uint64_t want = MAPIO__MIN(4 * t, (uint64_t)SPIN_MAX_NS);
    if (want > s->limit_ns)
        s->limit_ns = want;
}

/* A spin of limit_ns found nothing; what it waited for came gap after it began. */
static void spin_missed(struct spin *s, uint64_t gap)
{
    if (gap <= 2 * s->limit_ns)
        s->limit_ns = MAPIO__MIN(2 * s->limit_ns, (uint64_t)SPIN_MAX_NS);
    else
        s->limit_ns = MAPIO__MAX(s->limit_ns / 2, (uint64_t)SPIN_MIN_NS);
}

struct mapio__pool {
    pthread_mutex_t qlock;
    pthread_cond_t qcond;
    struct mapio__work *qhead, *qtail; /* qlock */
    unsigned queued;                   /* items in the queue (qlock) */
    unsigned idle;                     /* workers waiting on qcond (qlock) */
    unsigned spinning;                 /* workers polling `ready` (qlock): at most one */
    struct spin wspin;                 /* the workers' spin (qlock) */
    uint64_t woken_ns;                 /* when a push last woke a sleeper (qlock) */
    bool stop;                         /* qlock */
    /* The slow lane (qlock): its queue and its idle workers. */
    struct mapio__work *shead, *stail;
    unsigned sidle;
    pthread_cond_t scond;
    _Atomic unsigned ready; /* items a worker may take now: the spinner's signal */

    _Atomic(struct mapio__work *) done; /* finished, newest first */
    _Atomic bool signalled;             /* notify() sent since the last reap */
    /* The loop is about to sleep (or an outside loop watches the fd): only
     * then is a notify() needed. A busy loop finds completions by itself,
     * which saves an eventfd write and read per request. */
    _Atomic bool loop_waiting;
    _Atomic bool always_notify;
    _Atomic uint64_t notified_ns; /* when a worker last notified the loop */

    /* Polling thread only. */
    unsigned out;      /* fast items pushed, not yet reaped */
    struct spin lspin; /* the loop's spin */
    uint64_t lspin_t0; /* a spin that found nothing began then (0: none pending) */

    struct mapio__pool_cfg cfg;
    unsigned nthreads;
    pthread_t threads[];
};

/* What a worker may take now (qlock). */
static void publish(struct mapio__pool *p)
{
    atomic_store_explicit(&p->ready, p->queued, memory_order_relaxed);
}

/* The next item for a worker (qlock), or NULL. */
static struct mapio__work *take(struct mapio__pool *p)
{
    struct mapio__work *w = p->qhead;
    if (w == NULL)
        return NULL;
    p->qhead = w->next;
    if (p->qhead == NULL)
        p->qtail = NULL;
    p->queued--;
    publish(p);
    return w;
}

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
        !atomic_exchange(&p->signalled, true)) {
        atomic_store_explicit(&p->notified_ns, clock_ns(), memory_order_relaxed);
        p->cfg.notify(p->cfg.arg);
    }
}

/*
 * Every SPIN_YIELD_NS of spinning, give the CPU away once: the thread
 * waited for may be queued on this very CPU. Not sooner: a yield is a
 * system call (2 us on a small VM), and on a loaded machine it hands the
 * CPU to another process for a whole time slice.
 */
static void maybe_yield(uint64_t *next, uint64_t now)
{
    if (now < *next)
        return;
    sched_yield();
    *next = now + SPIN_YIELD_NS;
}

/* Poll `ready` for up to limit ns from t0: true once there is work (*took:
 * how long that took). */
static bool worker_spin(struct mapio__pool *p, uint64_t t0, uint64_t limit, uint64_t *took)
{
    uint64_t next_yield = t0 + SPIN_YIELD_NS;
    for (;;) {
        for (int i = 0; i < SPIN_POLLS; i++) {
            if (atomic_load_explicit(&p->ready, memory_order_relaxed) != 0) {
                *took = clock_ns() - t0;
                return true;
            }
            mapio__cpu_relax();
        }
        uint64_t now = clock_ns();
        if (now - t0 >= limit)
            return false;
        maybe_yield(&next_yield, now);
    }
}

/* A worker of the slow lane: takes only slow items, never spins. */
static void *slow_worker(void *arg)
{
    struct mapio__pool *p = arg;
    mapio__os_block_signals();
    pthread_mutex_lock(&p->qlock);
    for (;;) {
        struct mapio__work *w = p->shead;
        if (w != NULL) {
            p->shead = w->next;
            if (p->shead == NULL)
                p->stail = NULL;
            pthread_mutex_unlock(&p->qlock);
            p->cfg.run(w);
            done(p, w);
            pthread_mutex_lock(&p->qlock);
            continue;
        }
        if (p->stop)
            break;
        p->sidle++;
        pthread_cond_wait(&p->scond, &p->qlock);
        p->sidle--;
    }
    pthread_mutex_unlock(&p->qlock);
    return NULL;
}

static void *worker(void *arg)
{
    struct mapio__pool *p = arg;
    mapio__os_block_signals();
    uint64_t missed_t0 = 0; /* this worker's last spin found nothing; it began then */
    pthread_mutex_lock(&p->qlock);
    for (;;) {
        struct mapio__work *w = take(p);
        if (w != NULL) {
            pthread_mutex_unlock(&p->qlock);
            p->cfg.run(w);
            done(p, w);
            pthread_mutex_lock(&p->qlock);
            missed_t0 = 0;
            continue;
        }
        if (p->stop)
            break;
        if (missed_t0 == 0 && p->spinning == 0) {
            p->spinning++;
            uint64_t limit = p->wspin.limit_ns, t0 = clock_ns(), took;
            pthread_mutex_unlock(&p->qlock);
            bool found = worker_spin(p, t0, limit, &took);
            pthread_mutex_lock(&p->qlock);
            p->spinning--;
            if (found)
                spin_found(&p->wspin, took);
            else
                missed_t0 = t0; /* sleep now; the wake-up says how far off it was */
            continue;
        }
        p->idle++;
        pthread_cond_wait(&p->qcond, &p->qlock);
        p->idle--;
        /* The gap is up to the push that woke it, not to this wake-up,
         * which comes later by the cost spinning would have saved. */
        if (missed_t0 != 0 && !p->stop && p->woken_ns > missed_t0)
            spin_missed(&p->wspin, p->woken_ns - missed_t0);
        missed_t0 = 0;
    }
    pthread_mutex_unlock(&p->qlock);
    return NULL;
}

int mapio__pool_new(struct mapio__pool **out, const struct mapio__pool_cfg *cfg)
{
    unsigned workers = cfg->threads + cfg->slow_threads;
    struct mapio__pool *p = mapio__calloc(1, sizeof *p + workers * sizeof(pthread_t));
    if (p == NULL)
        return MAPIO_ENOMEM;
    p->cfg = *cfg;
    p->wspin.limit_ns = p->lspin.limit_ns = SPIN_START_NS;
    if (pthread_mutex_init(&p->qlock, NULL) != 0)
        goto fail_q;
    if (pthread_cond_init(&p->qcond, NULL) != 0)
        goto fail_c;
    if (pthread_cond_init(&p->scond, NULL) != 0)
        goto fail_s;
    for (; p->nthreads < workers; p->nthreads++) {
        int err = pthread_create(&p->threads[p->nthreads], NULL,
                                 p->nthreads < cfg->threads ? worker : slow_worker, p);
        if (err != 0) {
            mapio__pool_free(p);
            return -err;
        }
    }
    *out = p;
    return 0;
fail_s:
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
    pthread_cond_broadcast(&p->scond);
    pthread_mutex_unlock(&p->qlock);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    mapio__pool_reap(p);
    pthread_cond_destroy(&p->scond);
    pthread_cond_destroy(&p->qcond);
    pthread_mutex_destroy(&p->qlock);
    mapio__free(p);
}

void mapio__pool_push(struct mapio__pool *p, struct mapio__work *head, struct mapio__work *tail,
                      unsigned n)
{
    if (n == 0)
        return;
    /* Split into the lanes, each in order (one lane: everything fast). */
    struct mapio__work *fhead = NULL, **ftail = &fhead, *shead = NULL, **stail = &shead;
    struct mapio__work *flast = NULL, *slast = NULL;
    unsigned nfast = 0, nslow = 0;
    bool lanes = p->cfg.slow_threads > 0;
    for (struct mapio__work *w = head, *next;; w = next) {
        bool last = w == tail;
        next = w->next;
        w->cancelled = false;
        w->slow = lanes && w->slow;
        if (w->slow) {
            *stail = w;
            stail = &w->next;
            slast = w;
            nslow++;
        } else {
            *ftail = w;
            ftail = &w->next;
            flast = w;
            nfast++;
        }
        if (last)
            break;
    }
    *ftail = NULL;
    *stail = NULL;
    p->out += nfast;
    pthread_mutex_lock(&p->qlock);
    if (nslow > 0) {
        if (p->stail != NULL)
            p->stail->next = shead;
        else
            p->shead = shead;
        p->stail = slast;
    }
    unsigned swake = MAPIO__MIN(nslow, p->sidle);
    if (nfast > 0) {
        if (p->qtail != NULL)
            p->qtail->next = fhead;
        else
            p->qhead = fhead;
        p->qtail = flast;
        p->queued += nfast;
        publish(p);
    }
    /* The spinner takes one; wake sleepers for the rest, if any sleep.
     * Busy workers find the others on their way back. */
    unsigned wake =
        nfast > 0 && p->queued > p->spinning ? MAPIO__MIN(p->queued - p->spinning, p->idle) : 0;
    if (wake > 0)
        p->woken_ns = clock_ns();
    pthread_mutex_unlock(&p->qlock);
    if (wake > 1)
        pthread_cond_broadcast(&p->qcond);
    else if (wake == 1)
        pthread_cond_signal(&p->qcond);
    if (swake > 1)
        pthread_cond_broadcast(&p->scond);
    else if (swake == 1)
        pthread_cond_signal(&p->scond);
}

/* Take which (NULL: every item) off one lane's queue onto *cancelled;
 * returns how many (qlock). */
static unsigned cancel_in(struct mapio__work **headp, struct mapio__work **tailp,
                          struct mapio__work *which, struct mapio__work **cancelled)
{
    unsigned n = 0;
    struct mapio__work **link = headp, *prev = NULL;
    while (*link != NULL) {
        struct mapio__work *w = *link;
        if (which == NULL || w == which) {
            *link = w->next;
            if (*tailp == w)
                *tailp = prev;
            w->next = *cancelled; /* order no longer matters: none of them ran */
            *cancelled = w;
            n++;
            if (which != NULL)
                break;
        } else {
            prev = w;
            link = &w->next;
        }
    }
    return n;
}

int mapio__pool_cancel(struct mapio__pool *p, struct mapio__work *which)
{
    struct mapio__work *cancelled = NULL;
    pthread_mutex_lock(&p->qlock);
    p->queued -= cancel_in(&p->qhead, &p->qtail, which, &cancelled);
    if (which == NULL || cancelled == NULL)
        cancel_in(&p->shead, &p->stail, which, &cancelled);
    publish(p);
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
    unsigned n = 0, fast = 0;
    while (list != NULL) {
        struct mapio__work *w = list;
        list = w->next;
        fast += !w->slow; /* before done(), which may push it again */
        p->cfg.done(w, w->cancelled);
        n++;
    }
    p->out -= fast;
    return n;
}

bool mapio__pool_sleep(struct mapio__pool *p)
{
    /* Work is out and will finish soon: look again a while first. */
    if (p->out != 0) {
        uint64_t t0 = clock_ns(), limit = p->lspin.limit_ns, next_yield = t0 + SPIN_YIELD_NS;
        for (;;) {
            for (int i = 0; i < SPIN_POLLS; i++) {
                if (atomic_load_explicit(&p->done, memory_order_relaxed) != NULL) {
                    spin_found(&p->lspin, clock_ns() - t0);
                    return false;
                }
                mapio__cpu_relax();
            }
            uint64_t now = clock_ns();
            if (now - t0 >= limit)
                break;
            maybe_yield(&next_yield, now);
        }
        p->lspin_t0 = t0;
    }
    atomic_store_explicit(&p->loop_waiting, true, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    bool empty = atomic_load_explicit(&p->done, memory_order_relaxed) == NULL;
    if (!empty) {
        atomic_store_explicit(&p->loop_waiting, false, memory_order_relaxed);
        p->lspin_t0 = 0; /* no sleep follows, hence no awake() */
    }
    return empty;
}

void mapio__pool_awake(struct mapio__pool *p)
{
    atomic_store_explicit(&p->loop_waiting, false, memory_order_relaxed);
    /* Woken by a completion after a spin that gave up: how far off was it?
     * (Woken by anything else, the spin learns nothing.) */
    uint64_t at = atomic_load_explicit(&p->notified_ns, memory_order_relaxed);
    if (p->lspin_t0 != 0 && at > p->lspin_t0 &&
        atomic_load_explicit(&p->done, memory_order_relaxed) != NULL)
        spin_missed(&p->lspin, at - p->lspin_t0);
    p->lspin_t0 = 0;
}

void mapio__pool_always_notify(struct mapio__pool *p)
{
    atomic_store(&p->always_notify, true);
}
