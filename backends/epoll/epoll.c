/*
 * backends/epoll/epoll.c - epoll + worker threads.
 *
 * Notes about epoll and regular files: a regular file is always "ready" (epoll
 * refuses it with EPERM), so readiness tells nothing about file I/O. A read
 * the page cache holds completes in submit, on the polling thread
 * (preadv2 RWF_NOWAIT: engine/pooled.h); the rest of the work runs as
 * blocking pread/pwrite/fdatasync on the shared worker pool
 * (engine/pool.c); epoll only watches one eventfd that the pool writes when a
 * batch of completions waits and that wake() writes for cross-thread
 * submissions. The epoll descriptor itself is the engine fd for embedding: it
 * is readable exactly when that eventfd is.
 *
 * Notes about Linux native AIO: for O_DIRECT files, reads and writes go to
 * the device through io_submit instead (real asynchronous I/O, no thread per
 * request), completions signalled by io_set_eventfd on a second eventfd that
 * the same epoll descriptor watches. Native AIO blocks on buffered files, so
 * those keep the pool; so do syncs, fallocate and commits (which must run
 * their sync after their writes), and everything while fault hooks are
 * installed (they must see each call). If io_setup fails (fs.aio-max-nr
 * exhausted, say) O_DIRECT uses the pool and the engine's fallback reason
 * says why.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MAPIO__BE_PREFIX epoll
#include "engine/readiness.h"

#if MAPIO_HAVE_LIBAIO
#include <libaio.h>
_Static_assert(sizeof(struct iocb) <= MAPIO__REQ_BACKEND_SPACE,
               "a request's backend area must hold an iocb");
#define AIO_EVENTS 1024
#endif

MAPIO__BACKEND_DECLARE()

struct epoll_state {
    struct mapio__readiness r; /* first: the shared ops take the state as one;
                                  r.fd is the epoll descriptor */
    int efd;                   /* the signal: completions or a wake wait */
    mapio_engine_t *eng;
#if MAPIO_HAVE_LIBAIO
    io_context_t aio;  /* 0 when native AIO is unavailable */
    int aio_efd;       /* signalled by completed iocbs */
    unsigned aio_busy; /* iocbs submitted, not yet reaped */
#endif
};
_Static_assert(offsetof(struct epoll_state, r) == 0,
               "the readiness ops take the state as its first member");

static void signal_efd(struct mapio__readiness *r)
{
    struct epoll_state *s = (struct epoll_state *)r;
    uint64_t one = 1;
    /* EAGAIN means the counter is already non-zero: the loop will wake anyway. */
    while (write(s->efd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

static void drain_efd(struct mapio__readiness *r)
{
    struct epoll_state *s = (struct epoll_state *)r;
    uint64_t v;
    while (read(s->efd, &v, sizeof v) < 0 && errno == EINTR)
        ;
}

#if MAPIO_HAVE_LIBAIO
static void aio_setup(struct epoll_state *s, const mapio_engine_opts_t *opts)
{
    s->aio_efd = -1;
    unsigned events = MAPIO__MIN(opts->max_inflight, (unsigned)AIO_EVENTS);
    int err = io_setup((int)events, &s->aio); /* libaio returns -errno */
    if (err == 0) {
        s->aio_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 1 };
        if (s->aio_efd < 0 || epoll_ctl(s->r.fd, EPOLL_CTL_ADD, s->aio_efd, &ev) != 0)
            err = -errno;
    }
    if (err != 0) {
        mapio__engine_note(s->eng,
                           "native AIO unavailable (io_setup: %s%s); O_DIRECT uses the "
                           "worker pool",
                           mapio_strerror(err), err == MAPIO_EAGAIN ? ", see fs.aio-max-nr" : "");
        if (s->aio_efd >= 0)
            close(s->aio_efd);
        if (s->aio != 0)
            io_destroy(s->aio);
        s->aio = 0;
        s->aio_efd = -1;
    }
}

static void aio_teardown(struct epoll_state *s)
{
    if (s->aio == 0)
        return;
    io_destroy(s->aio);
    close(s->aio_efd);
}

/* O_DIRECT reads and writes only: native AIO would block on anything else. */
static bool aio_fits(const struct epoll_state *s, mapio_req_t *req)
{
    const struct mapio__fstate *fs = mapio__rp(req)->fs;
    return s->aio != 0 && fs != NULL && (fs->flags & MAPIO_OPEN_DIRECT) && !s->eng->ctx.faults.on &&
           !(req->flags & MAPIO_WRITE_DSYNC) && mapio__op_is_plain_transfer(req->op);
}

/* Submit as many as the kernel takes; the rest go to the pool. */
static void aio_submit(struct epoll_state *s, mapio_req_t **reqs, unsigned n)
{
    struct iocb *cbs[64];
    unsigned done = 0;
    while (done < n) {
        unsigned k = 0;
        for (; k < 64 && done + k < n; k++) {
            mapio_req_t *req = reqs[done + k];
            struct iocb *cb = (struct iocb *)(void *)mapio__rp(req)->backend.bytes;
            struct mapio__seg seg;
            int fd = mapio__rp(req)->fs->fd;
            mapio__req_seg(req, &seg);
            if (seg.vectored && seg.write)
                io_prep_pwritev(cb, fd, seg.iov, (int)seg.iovcnt, (long long)seg.offset);
            else if (seg.vectored)
                io_prep_preadv(cb, fd, seg.iov, (int)seg.iovcnt, (long long)seg.offset);
            else if (seg.write)
                io_prep_pwrite(cb, fd, seg.buf, seg.len, (long long)seg.offset);
            else
                io_prep_pread(cb, fd, seg.buf, seg.len, (long long)seg.offset);
            io_set_eventfd(cb, s->aio_efd);
            cb->data = req;
            cbs[k] = cb;
        }
        int r = io_submit(s->aio, (long)k, cbs);
        unsigned took = r > 0 ? (unsigned)r : 0;
        s->aio_busy += took;
        if (took < k) {
            /* EAGAIN (queue full) or an error for the first one not taken:
             * the pool can always run them. */
            mapio__pooled_push(s->r.pool, reqs + done + took, k - took);
        }
        done += k;
    }
}

/* Collect finished iocbs without waiting. Returns how many. */
static unsigned aio_reap(struct epoll_state *s)
{
    if (s->aio_busy == 0)
        return 0;
    struct io_event ev[64];
    struct timespec zero = { 0, 0 };
    unsigned total = 0;
    for (;;) {
        int n = io_getevents(s->aio, 0, 64, ev, &zero);
        if (n <= 0)
            break;
        for (int i = 0; i < n; i++) {
            /* res is the byte count or a negative errno, as one syscall's. */
            mapio__complete(ev[i].data, (int64_t)(long)ev[i].res);
        }
        s->aio_busy -= (unsigned)n;
        total += (unsigned)n;
        if (n < 64)
            break;
    }
    return total;
}

static void aio_drain_efd(struct epoll_state *s)
{
    uint64_t v;
    if (s->aio_efd >= 0)
        while (read(s->aio_efd, &v, sizeof v) < 0 && errno == EINTR)
            ;
}
#else
static void aio_setup(struct epoll_state *s, const mapio_engine_opts_t *opts) {}
static void aio_teardown(struct epoll_state *s) {}
static bool aio_fits(const struct epoll_state *s, mapio_req_t *req)
{
    return false;
}
static void aio_submit(struct epoll_state *s, mapio_req_t **reqs, unsigned n) {}
static unsigned aio_reap(struct epoll_state *s)
{
    return 0;
}
static void aio_drain_efd(struct epoll_state *s) {}
#endif

static int epoll_be_init(mapio_engine_t *eng, const mapio_engine_opts_t *opts, void **state)
{
    struct epoll_state *s = mapio__calloc(1, sizeof *s);
    if (s == NULL)
        return MAPIO_ENOMEM;
    s->r.raise = signal_efd;
    s->r.lower = drain_efd;
    s->efd = -1;
    s->r.fd = epoll_create1(EPOLL_CLOEXEC);
    int err = 0;
    if (s->r.fd < 0) {
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
    if (epoll_ctl(s->r.fd, EPOLL_CTL_ADD, s->efd, &ev) != 0) {
        err = -errno;
        goto fail;
    }
    err = mapio__readiness_start(&s->r, opts);
    if (err != 0)
        goto fail;
    s->eng = eng;
    aio_setup(s, opts);
    *state = s;
    return 0;
fail:
    if (s->efd >= 0)
        close(s->efd);
    if (s->r.fd >= 0)
        close(s->r.fd);
    mapio__free(s);
    return err;
}

static int epoll_be_destroy(void *state)
{
    struct epoll_state *s = state;
    mapio__readiness_stop(&s->r);
    aio_teardown(s);
    close(s->efd);
    mapio__free(s);
    return 0;
}

MAPIO__BACKEND_READINESS_OPS()

static int epoll_be_submit(void *state, mapio_req_t **reqs, unsigned n)
{
    struct epoll_state *s = state;
    unsigned from = 0;
    for (unsigned i = 0; i < n; i++) {
        if (!aio_fits(s, reqs[i]))
            continue;
        /* Not for the pool; keep the pool's ones in order around it. */
        mapio__readiness_submit(&s->r, reqs + from, i - from);
        aio_submit(s, &reqs[i], 1);
        from = i + 1;
    }
    mapio__readiness_submit(&s->r, reqs + from, n - from);
    return (int)n;
}

static int block(void *arg, int timeout_ms)
{
    struct epoll_state *s = arg;
    struct epoll_event ev[4];
    int n = epoll_wait(s->r.fd, ev, 4, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        if (ev[i].data.u64 == 1) {
            aio_drain_efd(s);
        } else {
            atomic_store(&s->r.raised, false);
            drain_efd(&s->r);
        }
    }
    return 0;
}

static int epoll_be_wait(void *state, int timeout_ms)
{
    struct epoll_state *s = state;
    unsigned got = aio_reap(s);
    int r = mapio__readiness_wait(&s->r, timeout_ms, got > 0, block, s);
    aio_reap(s);
    return r;
}

MAPIO__BACKEND_DEFINE(MAPIO_CAP_POLLABLE_FD);
