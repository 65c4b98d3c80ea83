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
 * to the engine: `workers` threads for reads and writes, and a slow lane of
 * max(1, workers / 2) more for syncs, preallocation, fused commits and the
 * lifecycle calls (which never take a read's worker, and of which no more
 * run at once). notify(arg) as for mapio__pool_new. */
int mapio__pooled_new(struct mapio__pool **out, unsigned workers, void (*notify)(void *arg),
                      void *arg);

/* Queue requests on the pool, in order. A no-op completes at once: there
 * is nothing for a worker to do. */
void mapio__pooled_push(struct mapio__pool *pool, mapio_req_t *const *reqs, unsigned n);

/*
 * The same, but a read the page cache holds completes here, on the polling
 * thread, with no hand-off: a buffered read or readv of at most
 * MAPIO__INLINE_READ_MAX bytes, not O_DIRECT, not MMapIO, nothing of it
 * read yet, and no fault hooks installed (they see every call on a
 * worker). It is tried with the OS table's preadv_nowait; a miss
 * (MAPIO_EAGAIN), an error or a file system that cannot tell goes to the
 * pool as before, and a short answer completes that part and the rest
 * follows on the pool (its next page was not cached). Completed ones count
 * in read_inline.
 */
void mapio__pooled_submit(struct mapio__pool *pool, mapio_req_t *const *reqs, unsigned n);

/* Past this a read's copy would hold the loop longer than a hand-off costs. */
#define MAPIO__INLINE_READ_MAX ((size_t)64 * 1024)

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
