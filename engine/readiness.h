/*
 * engine/readiness.h - what the readiness backends (epoll, kqueue) share on
 * top of the worker pool. Built only with one of them. Never installed.
 */
#ifndef MAPIO_READINESS_H
#define MAPIO_READINESS_H

#include "pooled.h"

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
    bool inline_reads;   /* cached reads complete in submit (no MAPIO_ENGINE_NO_INLINE_READS) */
};

/* Start the pool (opts->workers threads) with raise as its notify. */
int mapio__readiness_start(struct mapio__readiness *r, const mapio_engine_opts_t *opts);
/* Hand requests to the pool in order, cached reads answered here first
 * (mapio__pooled_submit) unless the engine was told not to. */
void mapio__readiness_submit(struct mapio__readiness *r, mapio_req_t *const *reqs, unsigned n);
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
