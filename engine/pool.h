/*
 * engine/pool.h - the worker pool shared by the readiness backends (epoll,
 * kqueue) and by IOCP for calls with no overlapped form.
 *
 * Regular files are always "ready" to epoll and kqueue, so their reads,
 * writes and syncs run as blocking calls on a few threads. Finished requests
 * wait in a list the polling thread drains with mapio__pool_reap(); the first
 * completion after each drain calls notify() (an eventfd write, EVFILT_USER,
 * PostQueuedCompletionStatus) so a sleeping loop wakes once per batch, not
 * once per request.
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

/* Queue a request (polling thread). */
void mapio__pool_push(struct mapio__pool *pool, mapio_req_t *req);

/* Remove req (NULL: every request) from the queue if no worker has it yet;
 * it then completes with MAPIO_ECANCELED at the next reap. Returns 0. */
int mapio__pool_cancel(struct mapio__pool *pool, mapio_req_t *req);

/* Hand finished requests to the engine (polling thread). Returns how many. */
unsigned mapio__pool_reap(struct mapio__pool *pool);

#endif
