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

/*
 * The readiness backends (epoll, kqueue): a regular file is always "ready",
 * so their loop watches one signal - an eventfd write, an EVFILT_USER
 * trigger - that the pool's completions and a wake both raise, and the
 * descriptor an outside loop polls is readable exactly while it is raised.
 * Their state begins with this struct.
 */
struct mapio__readiness {
    struct mapio__pool *pool;
    int fd;                                    /* what mapio_engine_fd() hands out */
    void (*raise)(struct mapio__readiness *r); /* make fd readable; any thread */
    void (*lower)(struct mapio__readiness *r); /* take the signal off it */
    _Atomic bool raised; /* since the last lower: a wait lowers only what was raised */
};

/* Start the pool (workers threads) with raise as its notify. */
int mapio__readiness_start(struct mapio__readiness *r, unsigned workers);
/* Raise the signal (a wake, or the pool's notify). Any thread. */
void mapio__readiness_signal(void *r);
/*
 * The backend's wait: lower a raised signal - which was meant for this
 * wait, so it ends it rather than be lost - then mapio__pooled_wait().
 * ready: the backend found completions of its own.
 */
int mapio__readiness_wait(struct mapio__readiness *r, int timeout_ms, bool ready,
                          int (*block)(void *arg, int timeout_ms), void *arg);
int mapio__readiness_cancel(struct mapio__readiness *r, mapio_req_t *req);
int mapio__readiness_fd(struct mapio__readiness *r);

/* Join the pool and close r->fd. */
void mapio__readiness_stop(struct mapio__readiness *r);

/* A readiness backend's cancel, wake and fd ops, and the ones it has
 * nothing to do for (attach, detach, registered buffers), defined once; its
 * state must begin with struct mapio__readiness. */
#define MAPIO__BACKEND_READINESS_OPS()                                                             \
    MAPIO__BACKEND_NO_FILE_STATE()                                                                 \
    MAPIO__BACKEND_NO_BUFFERS()                                                                    \
    MAPIO__READINESS_Y(MAPIO__BE_PREFIX)
#define MAPIO__READINESS_Y(be) MAPIO__READINESS_Z(be)
#define MAPIO__READINESS_Z(be)                                                                     \
    static int be##_be_cancel(void *state, mapio_req_t *req)                                       \
    {                                                                                              \
        return mapio__readiness_cancel(state, req);                                                \
    }                                                                                              \
    static int be##_be_wake(void *state)                                                           \
    {                                                                                              \
        mapio__readiness_signal(state);                                                            \
        return 0;                                                                                  \
    }                                                                                              \
    static int be##_be_fd(void *state)                                                             \
    {                                                                                              \
        return mapio__readiness_fd(state);                                                         \
    }

#endif
