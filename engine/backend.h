/*
 * engine/backend.h - the backend trait: one X-macro list is the contract.
 *
 * MAPIO_BACKEND_OPS(X) lists every required op as X(name, params, args). From
 * that one list this header generates:
 *   - struct mapio__backend_ops: name, capability bits, one pointer per op;
 *   - MAPIO__BACKEND_DECLARE(be): prototypes of the backend's static functions
 *     (<be>_be_init, <be>_be_submit, ...), so a wrong signature is a compile error;
 *   - MAPIO__BACKEND_DEFINE(be, caps): the backend's ops table with designated
 *     initializers naming every required op (a missing one is "used but never
 *     defined": a hard error, the build passes -pedantic-errors), plus one
 *     direct entry point per op, mapio__<be>_<op>, for single-backend builds;
 *   - MAPIO__BE(eng, op, ...): the engine's call site. With one backend
 *     compiled it is a direct call; with several it goes through eng->ops.
 * Every op returns int (0 / a count or a negative errno) so that the direct
 * entry points can be generated uniformly.
 *
 * Threading: every op except wake runs on the polling thread (or in
 * mapio_engine_new/free), so backends need no lock around their own queues
 * unless they share them with threads of their own (the worker pool).
 * Contracts of each op are in docs/backend-trait.md.
 */
#ifndef MAPIO_BACKEND_H
#define MAPIO_BACKEND_H

#include "common.h"
#include "mapio/engine.h"

struct mapio__fstate;

/* Capability bits: the engine branches on these, never on a backend's name. */
enum {
    /* The backend completes I/O itself (io_uring, IOCP): no worker threads. */
    MAPIO_CAP_NATIVE_ASYNC = 1u << 0,
    /* cancel can stop an operation the kernel has already started. */
    MAPIO_CAP_CANCEL_INFLIGHT = 1u << 1,
    /* fd returns a pollable descriptor for embedding. */
    MAPIO_CAP_POLLABLE_FD = 1u << 2,
    /* One wait both submits and reaps (io_uring's submit_and_wait). */
    MAPIO_CAP_SUBMIT_IN_WAIT = 1u << 3,
    /* The backend keeps request deadlines itself (io_uring's linked
     * timeouts); otherwise the engine does, cancelling at expiry. */
    MAPIO_CAP_DEADLINES = 1u << 4,
};

/* clang-format off */
#define MAPIO_BACKEND_OPS(X)                                                                       \
    /* Create backend state in *state. May fail; then nothing is left behind. */                  \
    X(init, (mapio_engine_t *eng, const mapio_engine_opts_t *opts, void **state),                  \
            (eng, opts, state))                                                                    \
    /* Cancel or finish everything still inside, then free the state. */                          \
    X(destroy, (void *state), (state))                                                             \
    /* A file was opened: associate it (IOCP port, io_uring fixed file). */                       \
    X(attach, (void *state, struct mapio__fstate *f), (state, f))                                  \
    /* The file's last request completed and it is about to be closed. */                        \
    X(detach, (void *state, struct mapio__fstate *f), (state, f))                                  \
    /* Take up to n requests; returns how many were taken (the rest stay queued). */              \
    X(submit, (void *state, mapio_req_t **reqs, unsigned n), (state, reqs, n))                     \
    /* Wait up to timeout_ms for completions; hand each to mapio__complete(). */                  \
    X(wait, (void *state, int timeout_ms), (state, timeout_ms))                                    \
    /* Try to cancel a request the backend holds. 0 if attempted. */                              \
    X(cancel, (void *state, mapio_req_t *req), (state, req))                                       \
    /* Make a wait in progress return soon. Any thread. */                                        \
    X(wake, (void *state), (state))                                                                \
    /* A descriptor readable when wait has something to do, or -ENOTSUP. */                      \
    X(fd, (void *state), (state))                                                                  \
    /* Pin buffers for the kernel (io_uring fixed buffers); others: 0, nothing to do. */         \
    X(register_buffers, (void *state, const mapio_iovec_t *iov, unsigned n), (state, iov, n))
/* clang-format on */

struct mapio__backend_ops {
    const char *name;
    unsigned caps;
#define MAPIO__OPS_FIELD(op, params, args) int(*op) params;
    MAPIO_BACKEND_OPS(MAPIO__OPS_FIELD)
#undef MAPIO__OPS_FIELD
};

/*
 * In a backend's translation unit:
 *     #define MAPIO__BE_PREFIX epoll
 *     #include "engine/backend.h"
 *     MAPIO__BACKEND_DECLARE()
 *     static int epoll_be_init(...) { ... }   ... one per op ...
 *     MAPIO__BACKEND_DEFINE(MAPIO_CAP_...);
 */
#define MAPIO__BACKEND_DECLARE() MAPIO_BACKEND_OPS(MAPIO__PROTO_X)
#define MAPIO__PROTO_X(op, params, args) MAPIO__PROTO_Y(MAPIO__BE_PREFIX, op, params)
#define MAPIO__PROTO_Y(be, op, params) MAPIO__PROTO_Z(be, op, params)
#define MAPIO__PROTO_Z(be, op, params) static int be##_be_##op params;

#define MAPIO__BACKEND_DEFINE(caps_)                                                               \
    MAPIO_BACKEND_OPS(MAPIO__DIRECT_X)                                                             \
    const struct mapio__backend_ops MAPIO__OPS_NAME(MAPIO__BE_PREFIX) = {                          \
        .name = MAPIO__STR(MAPIO__BE_PREFIX), .caps = (caps_), MAPIO_BACKEND_OPS(MAPIO__INIT_X)    \
    }
#define MAPIO__STR(x) MAPIO__STR_(x)
#define MAPIO__STR_(x) #x
#define MAPIO__OPS_NAME(be) MAPIO__OPS_NAME_(be)
#define MAPIO__OPS_NAME_(be) mapio__##be##_ops
#define MAPIO__INIT_X(op, params, args) MAPIO__INIT_Y(MAPIO__BE_PREFIX, op)
#define MAPIO__INIT_Y(be, op) MAPIO__INIT_Z(be, op)
#define MAPIO__INIT_Z(be, op) .op = be##_be_##op,
/* The direct entry is the static function itself once the compiler inlines it. */
#define MAPIO__DIRECT_X(op, params, args) MAPIO__DIRECT_Y(MAPIO__BE_PREFIX, op, params, args)
#define MAPIO__DIRECT_Y(be, op, params, args) MAPIO__DIRECT_Z(be, op, params, args)
#define MAPIO__DIRECT_Z(be, op, params, args)                                                      \
    int mapio__##be##_##op params;                                                                 \
    int mapio__##be##_##op params                                                                  \
    {                                                                                              \
        return be##_be_##op args;                                                                  \
    }

/*
 * For backends with nothing to do when a file comes or goes (attach,
 * detach) or for registered buffers: the ops that do nothing, defined once.
 */
#define MAPIO__BACKEND_NO_FILE_STATE()                                                             \
    MAPIO__NOOP_Y(MAPIO__BE_PREFIX, attach, (void *state, struct mapio__fstate *f))                \
    MAPIO__NOOP_Y(MAPIO__BE_PREFIX, detach, (void *state, struct mapio__fstate *f))
#define MAPIO__BACKEND_NO_BUFFERS()                                                                \
    MAPIO__NOOP_Y(MAPIO__BE_PREFIX, register_buffers,                                              \
                  (void *state, const mapio_iovec_t *iov, unsigned n))
#define MAPIO__NOOP_Y(be, op, params) MAPIO__NOOP_Z(be, op, params)
#define MAPIO__NOOP_Z(be, op, params)                                                              \
    static int be##_be_##op params                                                                 \
    {                                                                                              \
        return 0;                                                                                  \
    }

/*
 * The engine's call site. MAPIO_SINGLE_BACKEND (from meson) names the only
 * backend; then MAPIO__BE is a direct call the compiler can see through.
 */
#if defined(MAPIO_SINGLE_BACKEND)
#define MAPIO__BE(eng, op, ...) MAPIO__BE_DIRECT(MAPIO_SINGLE_BACKEND, op)(__VA_ARGS__)
#define MAPIO__BE_DIRECT(be, op) MAPIO__BE_DIRECT_(be, op)
#define MAPIO__BE_DIRECT_(be, op) mapio__##be##_##op
#define MAPIO__ENTRY_DECL_X(op, params, args) int MAPIO__BE_DIRECT(MAPIO_SINGLE_BACKEND, op) params;
MAPIO_BACKEND_OPS(MAPIO__ENTRY_DECL_X)
#else
#define MAPIO__BE(eng, op, ...) ((eng)->ops->op(__VA_ARGS__))
#endif

#endif
