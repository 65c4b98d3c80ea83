/*
 * engine/pool.h - worker threads that run blocking calls.
 *
 * Generic, as libuv's threadpool is: the pool knows nothing of files,
 * requests or completion. Its user gives it a run() that a worker calls on
 * each work item, a done() that the polling thread calls on each finished
 * (or cancelled) one from mapio__pool_reap(), and a notify() for when a batch
 * of them waits and the loop may be asleep. The readiness backends (epoll,
 * kqueue) run every file call this way, IOCP the calls with no overlapped
 * form, and the engine its MMapIO copies.
 *
 * notify() runs at most once per reap, and only while the loop is about to
 * sleep or an outside loop watches the descriptor (mapio__pool_always_notify):
 * a busy loop finds completions by itself and is never signalled at all.
 * The queue needs no bound of its own: the engine's max_inflight bounds it.
 * Never installed.
 */
#ifndef MAPIO_POOL_H
#define MAPIO_POOL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "common.h"

/* One item of work, embedded in whatever its user queues. */
struct mapio__work {
    struct mapio__work *next;
    bool cancelled; /* taken off the queue before a worker ran it */
    bool slow;      /* for the slow lane (set by the pool's user before a push) */
};

struct mapio__pool;

struct mapio__pool_cfg {
    unsigned threads;
    /* Workers of the slow lane, besides those: they run only the items
     * pushed with slow set (syncs, metadata calls), and the others only
     * the rest, so slow items never take every worker and no more than
     * slow_threads of them run at once. 0 = one lane, slow ignored. */
    unsigned slow_threads;
    void (*run)(struct mapio__work *w);                  /* on a worker */
    void (*done)(struct mapio__work *w, bool cancelled); /* on the polling thread */
    void (*notify)(void *arg);                           /* any thread */
    void *arg;
};

/* Start cfg->threads + cfg->slow_threads workers. Returns 0, MAPIO_ENOMEM or the thread error. */
int mapio__pool_new(struct mapio__pool **out, const struct mapio__pool_cfg *cfg);

/* Join the workers; queued items are cancelled, and done() runs for every
 * item still unreaped, here. NULL is a no-op. */
void mapio__pool_free(struct mapio__pool *pool);

/* Queue the n items linked from head through next (tail's next is ignored),
 * in order within each lane, under one lock. Polling thread. */
void mapio__pool_push(struct mapio__pool *pool, struct mapio__work *head, struct mapio__work *tail,
                      unsigned n);

/* Take w (NULL: every item) off the queue if no worker has it yet; it then
 * goes to done() as cancelled at the next reap. Returns 0. Polling thread. */
int mapio__pool_cancel(struct mapio__pool *pool, struct mapio__work *w);

/*
 * Around a blocking wait of the polling thread: mapio__pool_sleep() returns
 * true if the loop may sleep (nothing finished; from now on completions
 * notify), false if completions already wait (reap them instead). Call
 * mapio__pool_awake() after a sleep.
 *
 * Before saying "sleep" it spins a while if items are out (a cached read
 * comes back in microseconds; a futex wake-up costs more on a small VM).
 * How long adapts to what the spins find, as the workers' own spin does
 * (pool.c).
 */
bool mapio__pool_sleep(struct mapio__pool *pool);
void mapio__pool_awake(struct mapio__pool *pool);

/* From now on every batch of completions notifies: an outside loop is
 * watching the descriptor rather than calling the backend's wait. */
void mapio__pool_always_notify(struct mapio__pool *pool);

/* Hand finished items to done() (polling thread). Returns how many. */
unsigned mapio__pool_reap(struct mapio__pool *pool);

#endif
