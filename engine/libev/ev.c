/*
 * engine/libev/ev.c - the libev adapter: an ev_io on the engine fd.
 *
 * Both io_uring's ring fd and the epoll backend's epoll fd are level-readable
 * while completions wait, and mapio_engine_poll(eng, 0) drains them, so a
 * plain level-triggered ev_io is all it takes. Once mapio_engine_fd() has been
 * called, the engine also makes the fd readable for submissions made outside
 * poll, so requests started from other watchers or threads are never stranded.
 */
#include "mapio/ev.h"

static void on_readable(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)loop;
    (void)revents;
    mapio_ev_t *w = (mapio_ev_t *)(void *)io; /* io is the first member */
    int r = mapio_engine_poll(w->eng, 0);
    if (r < 0 && r != MAPIO_EBUSY)
        w->last_error = r;
}

int mapio_ev_start(mapio_ev_t *w, struct ev_loop *loop, mapio_engine_t *eng)
{
    if (w == NULL || loop == NULL || eng == NULL)
        return MAPIO_EINVAL;
    int fd = mapio_engine_fd(eng);
    if (fd < 0)
        return fd;
    w->eng = eng;
    w->loop = loop;
    w->last_error = 0;
    ev_io_init(&w->io, on_readable, fd, EV_READ);
    ev_io_start(loop, &w->io);
    /* Work queued before the watcher existed may not have signalled the fd. */
    ev_feed_event(loop, &w->io, EV_READ);
    return 0;
}

int mapio_ev_stop(mapio_ev_t *w)
{
    if (w == NULL || w->loop == NULL)
        return 0;
    ev_io_stop(w->loop, &w->io);
    w->loop = NULL;
    return 0;
}
