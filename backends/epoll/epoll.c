/*
 * backends/epoll/epoll.c - epoll + worker threads.
 *
 * Notes about epoll and regular files: a regular file is always "ready" (epoll
 * refuses it with EPERM), so readiness tells nothing about file I/O. The work
 * runs as blocking pread/pwrite/fdatasync on the shared worker pool
 * (engine/pool.c); epoll only watches one eventfd that the pool writes when a
 * batch of completions waits and that wake() writes for cross-thread
 * submissions. The epoll descriptor itself is the engine fd for embedding: it
 * is readable exactly when that eventfd is.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MAPIO__BE_PREFIX epoll
#include "engine/pool.h"

MAPIO__BACKEND_DECLARE()

struct epoll_state {
    int epfd;
    int efd;
    struct mapio__pool *pool;
    /* Set after each write to efd: a wait drains efd only when it was written,
     * so the engine fd is readable exactly while there is work to collect. */
    _Atomic bool written;
};

static void signal_efd(void *arg)
{
    struct epoll_state *s = arg;
    uint64_t one = 1;
    /* EAGAIN means the counter is already non-zero: the loop will wake anyway. */
    while (write(s->efd, &one, sizeof one) < 0 && errno == EINTR)
        ;
    atomic_store(&s->written, true);
}

static void drain_efd(struct epoll_state *s)
{
    uint64_t v;
    while (read(s->efd, &v, sizeof v) < 0 && errno == EINTR)
        ;
}

static int epoll_be_init(mapio_engine_t *eng, const mapio_engine_opts_t *opts, void **state)
{
    struct epoll_state *s = mapio__calloc(1, sizeof *s);
    if (s == NULL)
        return MAPIO_ENOMEM;
    s->efd = -1;
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    int err = 0;
    if (s->epfd < 0) {
        err = -errno;
        mapio__engine_detail(eng, "epoll_create1: %s", mapio_strerror(err));
        goto fail;
    }
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->efd < 0) {
        err = -errno;
        mapio__engine_detail(eng, "eventfd: %s", mapio_strerror(err));
        goto fail;
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0 };
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->efd, &ev) != 0) {
        err = -errno;
        goto fail;
    }
    err = mapio__pool_new(&s->pool, opts->workers, signal_efd, s);
    if (err != 0)
        goto fail;
    *state = s;
    return 0;
fail:
    if (s->efd >= 0)
        close(s->efd);
    if (s->epfd >= 0)
        close(s->epfd);
    mapio__free(s);
    return err;
}

static int epoll_be_destroy(void *state)
{
    struct epoll_state *s = state;
    mapio__pool_free(s->pool);
    close(s->efd);
    close(s->epfd);
    mapio__free(s);
    return 0;
}

static int epoll_be_attach(void *state, struct mapio__fstate *f)
{
    return 0;
}

static int epoll_be_detach(void *state, struct mapio__fstate *f)
{
    return 0;
}

static int epoll_be_submit(void *state, mapio_req_t **reqs, unsigned n)
{
    struct epoll_state *s = state;
    unsigned from = 0;
    for (unsigned i = 0; i < n; i++) {
        if (reqs[i]->op != MAPIO_OP_NOP)
            continue;
        /* Nothing for a worker to do; keep the others in order around it. */
        mapio__pool_push(s->pool, reqs + from, i - from);
        mapio__complete(reqs[i], 0);
        from = i + 1;
    }
    mapio__pool_push(s->pool, reqs + from, n - from);
    return (int)n;
}

static int epoll_be_wait(void *state, int timeout_ms)
{
    struct epoll_state *s = state;
    if (atomic_exchange(&s->written, false))
        drain_efd(s);
    /* Completions already waiting need no system call to collect. */
    if (mapio__pool_reap(s->pool) > 0 || timeout_ms == 0)
        return 0;
    if (!mapio__pool_sleep(s->pool)) {
        mapio__pool_reap(s->pool);
        return 0;
    }
    struct epoll_event ev[4];
    int n = epoll_wait(s->epfd, ev, 4, timeout_ms);
    mapio__pool_awake(s->pool);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    if (n > 0) {
        atomic_store(&s->written, false);
        drain_efd(s);
    }
    mapio__pool_reap(s->pool);
    return 0;
}

static int epoll_be_cancel(void *state, mapio_req_t *req)
{
    struct epoll_state *s = state;
    return mapio__pool_cancel(s->pool, req);
}

static int epoll_be_wake(void *state)
{
    signal_efd(state);
    return 0;
}

static int epoll_be_fd(void *state)
{
    struct epoll_state *s = state;
    mapio__pool_always_notify(s->pool);
    return s->epfd;
}

static int epoll_be_register_buffers(void *state, const mapio_iovec_t *iov, unsigned n)
{
    return 0; /* blocking calls pin nothing ahead of time */
}

MAPIO__BACKEND_DEFINE(MAPIO_CAP_POLLABLE_FD);
