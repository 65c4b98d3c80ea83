/*
 * backends/kqueue/kqueue.c - kqueue + worker threads (FreeBSD, macOS, the
 * other BSDs).
 *
 * kqueue, like epoll, calls a regular file always readable, so file I/O runs
 * as blocking calls on the shared worker pool (engine/pool.c, the same one the
 * epoll backend uses), but for cached reads where the OS can tell them
 * without waiting (engine/pooled.h: none of the BSDs nor macOS can). kqueue is the loop: the pool
 * signals a batch of completions with an EVFILT_USER event (NOTE_TRIGGER, EV_CLEAR so delivery
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
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

#define MAPIO__BE_PREFIX kqueue
#include "engine/readiness.h"

MAPIO__BACKEND_DECLARE()

/* The one EVFILT_USER event: "completions (or a wake-up) are waiting". */
#define KQ_WAKE_IDENT 1

struct kqueue_state {
    struct mapio__readiness r; /* first: the shared ops take the state as one */
};
_Static_assert(offsetof(struct kqueue_state, r) == 0,
               "the readiness ops take the state as its first member");

static void trigger(struct mapio__readiness *r)
{
    struct kevent ev;
    EV_SET(&ev, KQ_WAKE_IDENT, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
    while (kevent(r->fd, &ev, 1, NULL, 0, NULL) < 0 && errno == EINTR)
        ;
}

/* Take a pending trigger off the queue without waiting. */
static void collect(struct mapio__readiness *r)
{
    struct kevent ev[4];
    struct timespec zero = { 0, 0 };
    while (kevent(r->fd, NULL, 0, ev, 4, &zero) < 0 && errno == EINTR)
        ;
}

static int kqueue_be_init(mapio_engine_t *eng, const mapio_engine_opts_t *opts, void **state)
{
    struct kqueue_state *s = mapio__calloc(1, sizeof *s);
    if (s == NULL)
        return MAPIO_ENOMEM;
    s->r.raise = trigger;
    s->r.lower = collect;
    int err = 0;
    s->r.fd = kqueue();
    if (s->r.fd < 0) {
        err = -errno;
        mapio__engine_detail(eng, "kqueue: %s", mapio_strerror(err));
        mapio__free(s);
        return err;
    }
    struct kevent ev;
    EV_SET(&ev, KQ_WAKE_IDENT, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL);
    if (kevent(s->r.fd, &ev, 1, NULL, 0, NULL) < 0) {
        err = -errno;
        mapio__engine_detail(eng, "kevent(EVFILT_USER): %s", mapio_strerror(err));
        goto fail;
    }
    err = mapio__readiness_start(&s->r, opts);
    if (err != 0)
        goto fail;
    *state = s;
    return 0;
fail:
    close(s->r.fd);
    mapio__free(s);
    return err;
}

static int kqueue_be_destroy(void *state)
{
    struct kqueue_state *s = state;
    mapio__readiness_stop(&s->r);
    mapio__free(s);
    return 0;
}

MAPIO__BACKEND_READINESS_OPS()

static int kqueue_be_submit(void *state, mapio_req_t **reqs, unsigned n)
{
    struct kqueue_state *s = state;
    mapio__readiness_submit(&s->r, reqs, n);
    return (int)n;
}

static int block(void *arg, int timeout_ms)
{
    struct kqueue_state *s = arg;
    struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
    struct kevent ev[4];
    int n = kevent(s->r.fd, NULL, 0, ev, 4, timeout_ms < 0 ? NULL : &ts);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    if (n > 0)
        atomic_store(&s->r.raised, false); /* EV_CLEAR: delivering it reset it */
    return 0;
}

static int kqueue_be_wait(void *state, int timeout_ms)
{
    return mapio__readiness_wait(state, timeout_ms, false, block, state);
}

MAPIO__BACKEND_DEFINE(MAPIO_CAP_POLLABLE_FD);
