/*
 * mapio/ev.h - run mapio's completions inside a libev loop.
 *
 * Installed with the optional mapio-ev library (built when libev is found).
 * The adapter is one ev_io watcher on mapio_engine_fd(): when it fires, it
 * calls mapio_engine_poll(eng, 0), so every mapio callback runs on the thread
 * running ev_run, between your other watchers' callbacks.
 */
#ifndef MAPIO_EV_H
#define MAPIO_EV_H

#ifdef __cplusplus
extern "C" {
#endif

#include <ev.h>

#include "../mapio.h"

/* Caller-allocated; keep it alive while started. Fields are private. */
typedef struct mapio_ev {
    ev_io io;
    mapio_engine_t *eng;
    struct ev_loop *loop;
    int last_error; /* a mapio_engine_poll() error, if one happened; else 0 */
} mapio_ev_t;

/*
 * mapio_ev_start - watch eng from loop. The watcher stays active (and so
 * keeps ev_run running) until mapio_ev_stop. Returns 0, MAPIO_EINVAL (a NULL
 * argument) or MAPIO_ENOTSUP (the engine's backend has no pollable fd).
 * Call from the loop's thread, which then is the engine's polling thread.
 */
MAPIO_EXTERN int mapio_ev_start(mapio_ev_t *w, struct ev_loop *loop, mapio_engine_t *eng);

/* mapio_ev_stop - stop watching. Requests in flight stay in flight: poll the
 * engine yourself or free it. Returns 0; NULL or a stopped watcher is a
 * no-op. Call from the loop's thread. */
MAPIO_EXTERN int mapio_ev_stop(mapio_ev_t *w);

#ifdef __cplusplus
}
#endif

#endif
