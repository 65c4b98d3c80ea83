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

/* Start the MMapIO copy pool if it is not running yet. Any thread. */
int mapio__engine_copy_pool_start(mapio_engine_t *eng);

/* A file was opened: the backend's attach, then the engine's list. */
int mapio__engine_attach(mapio_engine_t *eng, struct mapio__fstate *fs);
/* A reference on an open file, or NULL (closed, never opened). Any thread. */
struct mapio__fstate *mapio__engine_acquire(const mapio_file_t *file);
/* Drop one reference on fs; the last detaches and destroys it. Any thread. */
void mapio__engine_release(struct mapio__fstate *fs);

#endif
