/*
 * engine/pooled.h - what the backends that run file calls on the worker
 * pool share (epoll and kqueue for everything, IOCP for the calls with no
 * overlapped form): the pool set up with the executor and the engine's
 * completion, requests pushed in order, cancel, and the shape of a wait.
 * Never installed.
 */
#ifndef MAPIO_POOLED_H
#define MAPIO_POOLED_H

#include "engine.h"

/* A pool whose workers run requests with the executor and hand them back
 * to the engine. notify(arg) as for mapio__pool_new. */
int mapio__pooled_new(struct mapio__pool **out, unsigned workers, void (*notify)(void *arg),
                      void *arg);

/* Queue requests on the pool, in order. A no-op completes at once: there
 * is nothing for a worker to do. */
void mapio__pooled_push(struct mapio__pool *pool, mapio_req_t *const *reqs, unsigned n);

/* Take req off the pool's queue if no worker has it yet (NULL: all). */
int mapio__pooled_cancel(struct mapio__pool *pool, mapio_req_t *req);

/*
 * The wait of a pool backend: collect what the pool finished (no system
 * call when there is some), and only when nothing is there and the caller
 * saw no signal of its own (signalled: a wake or a completion signal it
 * just drained, which must end this wait rather than be lost) sleep in
 * block(arg, timeout_ms), the backend's own blocking call. Returns block's
 * result, or 0.
 */
int mapio__pooled_wait(struct mapio__pool *pool, int timeout_ms, bool signalled,
                       int (*block)(void *arg, int timeout_ms), void *arg);

#endif
