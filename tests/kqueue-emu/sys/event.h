/*
 * tests/kqueue-emu/sys/event.h - TEST SUPPORT ONLY, NEVER INSTALLED.
 *
 * Just enough of the BSD/macOS kqueue API, emulated over epoll + eventfd, for
 * backends/kqueue to compile and run its conformance suite on a Linux CI
 * machine (no BSD or macOS machine is available). It implements EVFILT_USER
 * (EV_ADD, EV_DELETE, EV_CLEAR, NOTE_TRIGGER) and EVFILT_READ (EV_ADD,
 * EV_DELETE, EV_CLEAR, EV_ONESHOT) - what the backend uses - and nothing
 * else. It says nothing about how a real kqueue behaves under load; see
 * docs/bsd-macos.md for what to run on a real machine.
 *
 * The symbols are renamed into mapio's internal namespace so that the test
 * build of libmapio exports nothing named kqueue or kevent.
 */
#ifndef MAPIO_KQUEUE_EMU_EVENT_H
#define MAPIO_KQUEUE_EMU_EVENT_H

#include <stdint.h>
#include <time.h>

struct kevent {
    uintptr_t ident;
    int16_t filter;
    uint16_t flags;
    uint32_t fflags;
    intptr_t data;
    void *udata;
};

#define EVFILT_READ (-1)
#define EVFILT_USER (-11)

#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_ENABLE 0x0004
#define EV_DISABLE 0x0008
#define EV_ONESHOT 0x0010
#define EV_CLEAR 0x0020
#define EV_ERROR 0x4000
#define EV_EOF 0x8000

#define NOTE_TRIGGER 0x01000000u

#define EV_SET(kevp, a, b, c, d, e, f)                                                             \
    do {                                                                                           \
        struct kevent *ev_set_p_ = (kevp);                                                         \
        ev_set_p_->ident = (a);                                                                    \
        ev_set_p_->filter = (b);                                                                   \
        ev_set_p_->flags = (c);                                                                    \
        ev_set_p_->fflags = (d);                                                                   \
        ev_set_p_->data = (e);                                                                     \
        ev_set_p_->udata = (f);                                                                    \
    } while (0)

int mapio__kqemu_kqueue(void);
int mapio__kqemu_kevent(int kq, const struct kevent *changes, int nchanges, struct kevent *events,
                        int nevents, const struct timespec *timeout);

#define kqueue() mapio__kqemu_kqueue()
#define kevent(...) mapio__kqemu_kevent(__VA_ARGS__)

#endif
