/*
 * backends/kqueue/kqueue.c - kqueue + worker threads (FreeBSD, macOS, the
 * other BSDs).
 *
 * kqueue, like epoll, calls a regular file always readable, so file I/O runs
 * as blocking calls on the shared worker pool (engine/pool.c, the same one the
 * epoll backend uses). kqueue is the loop: the pool signals a batch of
 * completions with an EVFILT_USER event (NOTE_TRIGGER, EV_CLEAR so delivery
 * resets it), wake() triggers the same event, and kevent() with a timeout is
 * the wait. The kqueue descriptor is the engine fd for embedding: it is
 * readable while the user event is pending.
 *
 * What each OS needs for durability (F_FULLFSYNC on macOS, where fsync leaves
 * data in the drive's cache) and for O_DIRECT (F_NOCACHE on macOS) lives in the
 * engine's POSIX OS table, chosen by meson feature checks.
 *
 * On Linux this file builds against tests/kqueue-emu (test support only), so
 * CI runs the conformance suite on it; see docs/bsd-macos.md.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

#define MAPIO__BE_PREFIX kqueue
#include "engine/pool.h"

MAPIO__BACKEND_DECLARE()

/* The one EVFILT_USER event: "completions (or a wake-up) are waiting". */
#define KQ_WAKE_IDENT 1

struct kqueue_state {
    int kq;
    struct mapio__pool *pool;
    /* Set after each trigger: a wait collects the event only when it was
     * triggered, so the engine fd is readable exactly while work waits. */
    _Atomic bool triggered;
};

static void trigger(void *arg)
{
    struct kqueue_state *s = arg;
    struct kevent ev;
    EV_SET(&ev, KQ_WAKE_IDENT, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
    while (kevent(s->kq, &ev, 1, NULL, 0, NULL) < 0 && errno == EINTR)
        ;
    atomic_store(&s->triggered, true);
}

/* Take a pending trigger off the queue without waiting. */
static void collect(struct kqueue_state *s)
{
    struct kevent ev[4];
    struct timespec zero = { 0, 0 };
    while (kevent(s->kq, NULL, 0, ev, 4, &zero) < 0 && errno == EINTR)
        ;
}

static int kqueue_be_init(mapio_engine_t *eng, const mapio_engine_opts_t *opts, void **state)
{
    struct kqueue_state *s = mapio__calloc(1, sizeof *s);
    if (s == NULL)
        return MAPIO_ENOMEM;
    int err = 0;
    s->kq = kqueue();
    if (s->kq < 0) {
        err = -errno;
        mapio__engine_detail(eng, "kqueue: %s", mapio_strerror(err));
        mapio__free(s);
        return err;
    }
    struct kevent ev;
    EV_SET(&ev, KQ_WAKE_IDENT, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL);
    if (kevent(s->kq, &ev, 1, NULL, 0, NULL) < 0) {
        err = -errno;
        mapio__engine_detail(eng, "kevent(EVFILT_USER): %s", mapio_strerror(err));
        goto fail;
    }
    err = mapio__pool_new(&s->pool, opts->workers, trigger, s);
    if (err != 0)
        goto fail;
    *state = s;
    return 0;
fail:
    close(s->kq);
    mapio__free(s);
    return err;
}

static int kqueue_be_destroy(void *state)
{
    struct kqueue_state *s = state;
    mapio__pool_free(s->pool);
    close(s->kq);
    mapio__free(s);
    return 0;
}

static int kqueue_be_attach(void *state, struct mapio__fstate *f)
{
    return 0;
}

static int kqueue_be_detach(void *state, struct mapio__fstate *f)
{
    return 0;
}

static int kqueue_be_submit(void *state, mapio_req_t **reqs, unsigned n)
{
    struct kqueue_state *s = state;
    mapio__pool_submit(s->pool, reqs, n);
    return (int)n;
}

static int kqueue_be_wait(void *state, int timeout_ms)
{
    struct kqueue_state *s = state;
    /* A trigger collected here was meant for this wait (see epoll.c): it
     * ends the wait rather than be lost. */
    bool triggered = atomic_exchange(&s->triggered, false);
    if (triggered)
        collect(s);
    /* Completions already waiting need no system call to collect. */
    if (mapio__pool_reap(s->pool) > 0 || timeout_ms == 0 || triggered)
        return 0;
    if (!mapio__pool_sleep(s->pool)) {
        mapio__pool_reap(s->pool);
        return 0;
    }
    struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
    struct kevent ev[4];
    int n = kevent(s->kq, NULL, 0, ev, 4, timeout_ms < 0 ? NULL : &ts);
    mapio__pool_awake(s->pool);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    if (n > 0)
        atomic_store(&s->triggered, false); /* EV_CLEAR: delivering it reset it */
    mapio__pool_reap(s->pool);
    return 0;
}

static int kqueue_be_cancel(void *state, mapio_req_t *req)
{
    struct kqueue_state *s = state;
    return mapio__pool_cancel(s->pool, req);
}

static int kqueue_be_wake(void *state)
{
    trigger(state);
    return 0;
}

static int kqueue_be_fd(void *state)
{
    struct kqueue_state *s = state;
    mapio__pool_always_notify(s->pool);
    return s->kq;
}

static int kqueue_be_register_buffers(void *state, const mapio_iovec_t *iov, unsigned n)
{
    return 0; /* blocking calls pin nothing ahead of time */
}

MAPIO__BACKEND_DEFINE(MAPIO_CAP_POLLABLE_FD);
