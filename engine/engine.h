/*
 * engine/engine.h - the engine itself: what it owns, and what its backends
 * and the public file API above it call.
 *
 * engine.c keeps the request queues, poll, cancel, completion dispatch,
 * the list of open files and shutdown; the modules below it (req, metrics,
 * fault, pool, file, exec, commit, select) know nothing of it beyond
 * struct mapio__ctx. Never installed.
 */
#ifndef MAPIO_ENGINE_INTERNAL_H
#define MAPIO_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "backend.h"
#include "ctx.h"
#include "file.h"
#include "pool.h"
#include "select.h"
#include "timer.h"

struct mapio_engine {
    struct mapio__ctx ctx; /* what the modules below share */
    const struct mapio__backend_ops *ops;
    void *be;
    mapio_engine_opts_t opts;
    char *fallback_reason;
    struct mapio__backend_report report; /* the backend's words at init */

    /* Accepted from any thread, newest first: one CAS to submit. */
    _Atomic(mapio_req_t *) pending;
    _Atomic bool sleeping;        /* the poller is about to block in wait */
    _Atomic bool wake_sent;       /* a wake is on its way */
    _Atomic bool cancels_pending; /* the cancel list may hold requests */

    pthread_mutex_t lock;
    mapio_req_t *cancel_head;    /* cancel asked for (lock) */
    struct mapio__fstate *files; /* open files (lock) */

    _Atomic bool embedded; /* the engine fd was handed out */
    _Atomic bool polling;

    /* MMapIO copies off the submitting thread (MAPIO_OPEN_MMAP_ON_POOL):
     * started by the first such open (under lock), read by the poller. */
    _Atomic(struct mapio__pool *) copy_pool;

    /* Timer requests, and deadlines the backend does not keep itself
     * (polling thread). */
    struct mapio__timers timers;

    /* When the callbacks now running were collected (polling thread): what
     * a request submitted from one of them is stamped with. */
    uint64_t batch_ns;
};

/*
 * A backend hands every finished operation here, on the polling thread (or
 * in destroy). res is the syscall-style result: a count or a negative errno.
 * Short transfers and EINTR/EAGAIN are requeued; everything else is queued
 * for its callback.
 */
void mapio__complete(mapio_req_t *req, int64_t res);

/* The same, for a request the executor already ran to its end. */
void mapio__complete_whole(mapio_req_t *req, int64_t res);

/* The pools' done(): a request the executor ran (or that was cancelled in
 * the pool's queue). */
void mapio__complete_work(struct mapio__work *w, bool cancelled);

/* Let a backend's init explain a failure ("io_uring_setup: EPERM"). */
void mapio__engine_detail(mapio_engine_t *eng, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Let a backend that initialised without part of its machinery say so; the
 * note becomes (part of) mapio_engine_fallback_reason(). */
void mapio__engine_note(mapio_engine_t *eng, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Accept a validated request (op, file state and buffers set). Returns 0,
 * MAPIO_ECANCELED (shutting down) or MAPIO_EAGAIN (max_inflight). */
int mapio__engine_submit(mapio_engine_t *eng, mapio_req_t *req);
/* Accept a request already carried out on the submitting thread (MMapIO):
 * it only waits for its callback. Same errors. */
int mapio__engine_submit_carried(mapio_engine_t *eng, mapio_req_t *req, int64_t result);
/* Accept a request that waits elsewhere before it is queued (a parked
 * close): counted and reset, not pushed. Same errors. unaccept undoes it
 * (the request is the caller's again). */
int mapio__engine_accept(mapio_engine_t *eng, mapio_req_t *req);
void mapio__engine_unaccept(mapio_engine_t *eng, mapio_req_t *req);

/* ---- the MMapIO copy pool (copypool.c) ---- */

/* Start the copy pool if it is not running yet. Returns 0 or the pool's
 * error (MAPIO_ENOMEM, a thread's). Any thread. */
int mapio__engine_copy_pool_start(mapio_engine_t *eng);

/* Copies gathered by one round of the backlog, pushed to the pool at once. */
struct mapio__copies {
    struct mapio__work *head, *tail;
    unsigned n;
};
/* Take req into c if it is a copy for the pool (a plain transfer on a file
 * mapped with MAPIO_OPEN_MMAP_ON_POOL): true if taken. Polling thread. */
bool mapio__engine_copy_take(struct mapio__copies *c, mapio_req_t *req);
/* Hand c's copies to the pool (none: no-op). Polling thread. */
void mapio__engine_copies_push(mapio_engine_t *eng, struct mapio__copies *c);
/* The backend's wait for up to timeout_ms, cut to none while copies are
 * back, which it then takes (they complete). Returns the wait's result.
 * Polling thread. */
int mapio__engine_wait(mapio_engine_t *eng, int timeout_ms);

/* Queue a finished request for its callback: a sync's result through its
 * file's sticky rule, a cancel forced by a deadline as MAPIO_ETIMEDOUT.
 * Polling thread. */
void mapio__engine_finish(mapio_engine_t *eng, mapio_req_t *req, int64_t res);
/* Hand an accepted request (reset already) to the polling thread. Any thread. */
void mapio__engine_push(mapio_engine_t *eng, mapio_req_t *req);
/* A backend with MAPIO_CAP_DEADLINES hands req's deadline back to the
 * engine (it runs req where its own timeouts cannot reach): the engine
 * cancels it through the backend when it passes. No-op without one, or
 * if watched already. Returns 0 or MAPIO_ENOMEM. Polling thread. */
int mapio__engine_watch_deadline(mapio_engine_t *eng, mapio_req_t *req);

/* ---- the file lifecycle (lifecycle.c) ---- */

/* Claim file for an open (OPENING: MAPIO_EBUSY for anyone else) and make
 * its state. Returns 0, MAPIO_EBUSY, MAPIO_ENOMEM or MAPIO_ECANCELED. */
int mapio__engine_new_file(mapio_engine_t *eng, mapio_file_t *file, unsigned flags,
                           struct mapio__fstate **out);
/* An open succeeded: the copy pool if it needs one, the backend's attach,
 * the list of open files, and the handle OPEN with one reference. */
int mapio__engine_publish(struct mapio__fstate *fs);
/* An open failed: cut back what it grew (from cur), close what it opened,
 * free the state; the handle reads CLOSED. */
void mapio__engine_discard(struct mapio__fstate *fs, uint64_t cur, bool grown);
/* An OPEN request is back: run whole (res 0 or the error), or one io_uring
 * step of it (its next step, or the end). Polling thread. */
void mapio__engine_open_done(mapio_req_t *req, int64_t res);
void mapio__engine_open_step(mapio_req_t *req, int64_t res);

/* A reference on an open file, or NULL (closed, never opened). Any thread. */
struct mapio__fstate *mapio__engine_acquire(const mapio_file_t *file);
/* Drop one reference on fs; the last detaches and destroys it (returning
 * close's error), the one before it starts a parked close. Any thread. */
int mapio__engine_release(struct mapio__fstate *fs);

/* mapio_file_close: req (accepted) takes over the open reference and waits
 * until it is the only one left. Any thread. */
void mapio__engine_park_close(struct mapio__fstate *fs, mapio_req_t *req);
/* A CLOSE is about to go to the backend: detach the file first. False if
 * there is nothing to close (an adopted descriptor the caller keeps): then
 * it is finished already. Polling thread. */
bool mapio__engine_close_begins(mapio_req_t *req);
/* The close is back with close(2)'s result. Polling thread. */
void mapio__engine_close_done(mapio_req_t *req, int64_t res);

#endif
