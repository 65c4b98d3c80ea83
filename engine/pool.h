/*
 * engine/pool.h - the worker pool shared by the readiness backends (epoll,
 * kqueue) and by IOCP for calls with no overlapped form.
 *
 * Regular files are always "ready" to epoll and kqueue, so their reads,
 * writes and syncs run as blocking calls on a few threads. Finished requests
 * wait in a list the polling thread drains with mapio__pool_reap(); the first
 * completion after each drain calls notify() (an eventfd write, EVFILT_USER,
 * PostQueuedCompletionStatus) - but only when the loop is about to sleep or an
 * outside loop watches the descriptor - so a loop wakes once per batch, not
 * once per request, and a busy loop is never signalled at all.
 *
 * The queue needs no bound of its own: the engine's max_inflight bounds it.
 */
#ifndef MAPIO_POOL_H
#define MAPIO_POOL_H

#include "internal.h"

struct mapio__pool;

typedef void (*mapio__pool_notify_fn)(void *arg);

/* Start workers threads. Returns 0, MAPIO_ENOMEM or the thread error. */
int mapio__pool_new(struct mapio__pool **out, unsigned workers, mapio__pool_notify_fn notify,
                    void *arg);

/* Join the workers; queued requests complete with MAPIO_ECANCELED (reaped here). */
void mapio__pool_free(struct mapio__pool *pool);

/* Queue n requests, in order, under one lock (polling thread). */
void mapio__pool_push(struct mapio__pool *pool, mapio_req_t *const *reqs, unsigned n);

/* Queue n requests for the workers, in order, except no-ops, which complete
 * at once (nothing for a worker to do). Polling thread. */
void mapio__pool_submit(struct mapio__pool *pool, mapio_req_t **reqs, unsigned n);

/* Remove req (NULL: every request) from the queue if no worker has it yet;
 * it then completes with MAPIO_ECANCELED at the next reap. Returns 0. */
int mapio__pool_cancel(struct mapio__pool *pool, mapio_req_t *req);

/*
 * Around a blocking wait of the polling thread: mapio__pool_sleep() returns
 * true if the loop may sleep (nothing finished; from now on completions
 * notify), false if completions already wait (reap them instead). Call
 * mapio__pool_awake() after a sleep.
 */
bool mapio__pool_sleep(struct mapio__pool *pool);
void mapio__pool_awake(struct mapio__pool *pool);

/* From now on every batch of completions notifies: an outside loop is
 * watching the descriptor rather than calling the backend's wait. */
void mapio__pool_always_notify(struct mapio__pool *pool);

/* Hand finished requests to the engine (polling thread). Returns how many. */
unsigned mapio__pool_reap(struct mapio__pool *pool);

#endif
