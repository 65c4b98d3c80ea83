/*
 * tests/kqueue-emu/kqueue_emu.c - TEST SUPPORT ONLY, NEVER INSTALLED: the
 * kqueue emulation described in sys/event.h, over epoll + one eventfd per
 * EVFILT_USER event.
 *
 * The kqueue descriptor is the epoll descriptor, so it is pollable like a
 * real one (readable while an event is pending). Registrations live in a
 * process-wide table under one mutex; a thread blocked in kevent() waits in
 * epoll_wait without holding it, so another thread can NOTE_TRIGGER. A real
 * kqueue is freed by close(); the emulation cannot see that close, so it
 * frees a descriptor's registrations when kqueue() hands the same number out
 * again (the old one must have been closed by then).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "sys/event.h"

struct knote {
    uintptr_t ident;
    int16_t filter;
    uint16_t flags;
    void *udata;
    int efd; /* EVFILT_USER: its eventfd */
    bool live;
    struct knote *next;
};

struct kq {
    int epfd;
    struct knote *notes; /* kept until the kqueue dies: a waiter may hold one */
    struct kq *next;
};

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kq *table;

static void free_kq(struct kq *q)
{
    while (q->notes != NULL) {
        struct knote *n = q->notes;
        q->notes = n->next;
        if (n->efd >= 0)
            close(n->efd);
        free(n);
    }
    free(q);
}

int mapio__kqemu_kqueue(void)
{
    struct kq *q = calloc(1, sizeof *q);
    if (q == NULL) {
        errno = ENOMEM;
        return -1;
    }
    q->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (q->epfd < 0) {
        int e = errno;
        free(q);
        errno = e;
        return -1;
    }
    pthread_mutex_lock(&table_lock);
    for (struct kq **p = &table; *p != NULL; p = &(*p)->next) {
        if ((*p)->epfd == q->epfd) { /* the number was closed and reused */
            struct kq *old = *p;
            *p = old->next;
            free_kq(old);
            break;
        }
    }
    q->next = table;
    table = q;
    pthread_mutex_unlock(&table_lock);
    return q->epfd;
}

static struct kq *find_kq(int fd)
{
    for (struct kq *q = table; q != NULL; q = q->next)
        if (q->epfd == fd)
            return q;
    return NULL;
}

static struct knote *find_note(struct kq *q, uintptr_t ident, int16_t filter)
{
    for (struct knote *n = q->notes; n != NULL; n = n->next)
        if (n->live && n->ident == ident && n->filter == filter)
            return n;
    return NULL;
}

static void kill_note(struct kq *q, struct knote *n)
{
    epoll_ctl(q->epfd, EPOLL_CTL_DEL, n->filter == EVFILT_USER ? n->efd : (int)n->ident, NULL);
    if (n->efd >= 0)
        close(n->efd);
    n->efd = -1;
    n->live = false;
}

/* Apply one change; 0 or an errno. table_lock held. */
static int apply(struct kq *q, const struct kevent *c)
{
    if (c->filter != EVFILT_USER && c->filter != EVFILT_READ)
        return EINVAL;
    struct knote *n = find_note(q, c->ident, c->filter);
    if (c->flags & EV_DELETE) {
        if (n == NULL)
            return ENOENT;
        kill_note(q, n);
        return 0;
    }
    if (c->flags & EV_ADD) {
        if (n == NULL) {
            n = calloc(1, sizeof *n);
            if (n == NULL)
                return ENOMEM;
            n->ident = c->ident;
            n->filter = c->filter;
            n->efd = -1;
            struct epoll_event ev = { .events = EPOLLIN, .data.ptr = n };
            int fd = (int)c->ident;
            if (c->filter == EVFILT_USER) {
                n->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
                fd = n->efd;
            } else {
                ev.events |= (c->flags & EV_CLEAR ? EPOLLET : 0u) |
                             (c->flags & EV_ONESHOT ? EPOLLONESHOT : 0u);
            }
            if (fd < 0 || epoll_ctl(q->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
                int e = errno;
                if (n->efd >= 0)
                    close(n->efd);
                free(n);
                return e;
            }
            n->live = true;
            n->next = q->notes;
            q->notes = n;
        }
        n->flags = c->flags & (EV_CLEAR | EV_ONESHOT);
        n->udata = c->udata;
    } else if (n == NULL) {
        return ENOENT;
    }
    if (c->filter == EVFILT_USER && (c->fflags & NOTE_TRIGGER)) {
        uint64_t one = 1;
        /* EAGAIN: the counter is already non-zero, the event already pending. */
        if (write(n->efd, &one, sizeof one) < 0 && errno != EAGAIN)
            return errno;
    }
    return 0;
}

int mapio__kqemu_kevent(int kq, const struct kevent *changes, int nchanges, struct kevent *events,
                        int nevents, const struct timespec *timeout)
{
    pthread_mutex_lock(&table_lock);
    struct kq *q = find_kq(kq);
    int err = q == NULL ? EBADF : 0;
    for (int i = 0; err == 0 && i < nchanges; i++)
        err = apply(q, &changes[i]);
    pthread_mutex_unlock(&table_lock);
    if (err != 0) {
        errno = err;
        return -1;
    }
    if (nevents <= 0)
        return 0;

    int ms = -1;
    if (timeout != NULL) {
        long long t = (long long)timeout->tv_sec * 1000 + (timeout->tv_nsec + 999999) / 1000000;
        ms = t > 0x7fffffff ? 0x7fffffff : (int)t;
    }
    struct epoll_event evs[64];
    int got = epoll_wait(kq, evs, nevents < 64 ? nevents : 64, ms);
    if (got < 0)
        return -1; /* errno from epoll_wait (EINTR as kevent reports it) */

    int out = 0;
    pthread_mutex_lock(&table_lock);
    for (int i = 0; i < got; i++) {
        struct knote *n = evs[i].data.ptr;
        if (!n->live)
            continue; /* deleted by another thread meanwhile */
        struct kevent *e = &events[out++];
        e->ident = n->ident;
        e->filter = n->filter;
        e->flags = n->flags;
        e->fflags = 0;
        e->data = 0;
        e->udata = n->udata;
        if (n->filter == EVFILT_USER) {
            /* EV_CLEAR: delivering the event resets it. Without it, it stays
             * triggered (the eventfd stays readable). */
            uint64_t v;
            if (n->flags & EV_CLEAR)
                while (read(n->efd, &v, sizeof v) < 0 && errno == EINTR)
                    ;
        } else {
            int avail = 0;
            if (ioctl((int)n->ident, FIONREAD, &avail) == 0)
                e->data = avail;
            if (evs[i].events & (EPOLLHUP | EPOLLRDHUP))
                e->flags |= EV_EOF;
            if (n->flags & EV_ONESHOT)
                kill_note(q, n);
        }
    }
    pthread_mutex_unlock(&table_lock);
    return out;
}
