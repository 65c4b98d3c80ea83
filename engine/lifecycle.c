/*
 * engine/lifecycle.c - the engine's side of a file's life: a handle claimed
 * for an open, the open published (attached to the backend, on the list of
 * open files), references, the close that waits for the last request, and
 * the teardown when the last reference goes.
 */
#include <string.h>

#include "engine.h"
#include "os.h"

/* ---- opening ------------------------------------------------------------------ */

int mapio__engine_new_file(mapio_engine_t *eng, mapio_file_t *file, unsigned flags,
                           struct mapio__fstate **out)
{
    if (atomic_load(&eng->ctx.shutdown))
        return MAPIO_ECANCELED;
    /* OPENING from here: neither usable nor reusable until the open is
     * published or discarded. */
    int err = mapio__file_claim(file);
    if (err != 0)
        return err;
    struct mapio__fstate *fs = mapio__calloc(1, sizeof *fs);
    if (fs != NULL && (flags & MAPIO_OPEN_HISTOGRAMS) &&
        (fs->lats = mapio__calloc(1, sizeof *fs->lats)) == NULL) {
        mapio__free(fs);
        fs = NULL;
    }
    if (fs == NULL) {
        atomic_store(&mapio__fp(file)->state, MAPIO__FILE_CLOSED);
        mapio__file_unclaim(file);
        return MAPIO_ENOMEM;
    }
    fs->eng = eng;
    fs->ctx = &eng->ctx;
    fs->flags = flags;
    fs->fixed_index = -1;
    fs->handle = file;
    fs->fd = MAPIO_INVALID_FD;
    fs->owns_fd = true;
    *out = fs;
    return 0;
}

static void attach_list(mapio_engine_t *eng, struct mapio__fstate *fs)
{
    pthread_mutex_lock(&eng->lock);
    fs->prev = NULL;
    fs->next = eng->files;
    if (eng->files != NULL)
        eng->files->prev = fs;
    eng->files = fs;
    pthread_mutex_unlock(&eng->lock);
}

static void detach_list(mapio_engine_t *eng, struct mapio__fstate *fs)
{
    pthread_mutex_lock(&eng->lock);
    if (fs->prev != NULL)
        fs->prev->next = fs->next;
    else
        eng->files = fs->next;
    if (fs->next != NULL)
        fs->next->prev = fs->prev;
    pthread_mutex_unlock(&eng->lock);
}

int mapio__engine_publish(struct mapio__fstate *fs)
{
    mapio_engine_t *eng = fs->eng;
    int err = 0;
    if (fs->flags & MAPIO_OPEN_MMAP_ON_POOL)
        err = mapio__engine_copy_pool_start(eng);
    if (err == 0)
        err = MAPIO__BE(eng, attach, eng->be, fs);
    if (err != 0)
        return err;
    attach_list(eng, fs);
    struct mapio__file_priv *fp = mapio__fp(fs->handle);
    fp->fs = fs;
    atomic_store(&fp->refs, 1);
    atomic_store(&fp->state, MAPIO__FILE_OPEN);
    return 0;
}

void mapio__engine_discard(struct mapio__fstate *fs, uint64_t cur, bool grown)
{
    if (grown && fs->fd != MAPIO_INVALID_FD)
        mapio__os.truncate(fs->fd, cur); /* also frees what was reserved */
    atomic_store(&mapio__fp(fs->handle)->state, MAPIO__FILE_CLOSED);
    mapio__file_destroy(fs);
}

void mapio__engine_open_done(mapio_req_t *req, int64_t res)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    struct mapio__fstate *fs = rp->fs;
    if (res == 0)
        res = mapio__engine_publish(fs);
    if (res != 0)
        mapio__engine_discard(fs, rp->open_cur, rp->open_grown);
    /* The file is the caller's now (or gone): the request holds nothing of
     * it, and its completion must not touch it. */
    rp->fs = NULL;
    mapio__engine_finish(mapio__req_eng(rp), req, res);
}

void mapio__engine_open_step(mapio_req_t *req, int64_t res)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    struct mapio__fstate *fs = rp->fs;
    if (res < 0 || rp->step == MAPIO__OPEN_ALL || rp->step == MAPIO__OPEN_FINISH) {
        mapio__engine_open_done(req, res < 0 ? res : 0);
        return;
    }
    if (rp->step == MAPIO__OPEN_OPENAT) {
        /* The backend put OPENAT's descriptor in fs->fd; now its size. */
        rp->step = MAPIO__OPEN_STATX;
        mapio__req_requeue(&fs->ctx->backlog, req);
        return;
    }
    /* STATX told the size (and perhaps the alignment, io_align != 0): the
     * rest is arithmetic, done here, or system calls, for the pool. */
    bool known = fs->io_align != 0;
    if (rp->open_cur == UINT64_MAX || mapio__file_set_up_calls(fs, rp->arg, rp->open_cur, known)) {
        rp->step = MAPIO__OPEN_FINISH;
        mapio__req_requeue(&fs->ctx->backlog, req);
        return;
    }
    bool grown;
    int err = mapio__file_set_up(fs, rp->arg, rp->open_cur, known, &grown);
    rp->open_grown = grown;
    mapio__engine_open_done(req, err);
}

/* ---- references ------------------------------------------------------------ */

struct mapio__fstate *mapio__engine_acquire(const mapio_file_t *file)
{
    struct mapio__fstate *fs = mapio__file_get(file);
    if (fs != NULL && !mapio__file_is_open(file)) {
        mapio__engine_release(fs); /* closed meanwhile: perhaps the last reference */
        return NULL;
    }
    return fs;
}

/* Start a parked close, once (any thread). */
static void close_go(struct mapio__fstate *fs)
{
    mapio_req_t *closer = atomic_load(&fs->closer);
    if (closer != NULL && !atomic_exchange(&fs->close_go, true))
        mapio__engine_push(fs->eng, closer);
}

int mapio__engine_release(struct mapio__fstate *fs)
{
    uint64_t left = mapio__file_unref(fs);
    if (left == 1)
        close_go(fs); /* only the close's own reference is left */
    if (left != 0)
        return 0;
    if (!fs->gone) {
        detach_list(fs->eng, fs);
        MAPIO__BE(fs->eng, detach, fs->eng->be, fs);
    }
    return mapio__file_destroy(fs);
}

/* ---- closing ------------------------------------------------------------------ */

void mapio__engine_park_close(struct mapio__fstate *fs, mapio_req_t *req)
{
    /* The close takes over the open reference: when it is the only one
     * left, every request accepted before has completed. */
    atomic_store(&fs->closer, req);
    if (atomic_load(&mapio__fp(fs->handle)->refs) == 1)
        close_go(fs);
}

bool mapio__engine_close_begins(mapio_req_t *req)
{
    struct mapio__fstate *fs = mapio__rp(req)->fs;
    mapio_engine_t *eng = fs->eng;
    /* Out of the backend and the list first: a registered io_uring file
     * would otherwise keep it open past the close. */
    detach_list(eng, fs);
    MAPIO__BE(eng, detach, eng->be, fs);
    if (fs->owns_fd)
        return true;
    fs->gone = true; /* the caller keeps its descriptor: nothing to close */
    mapio__engine_finish(eng, req, 0);
    return false;
}

void mapio__engine_close_done(mapio_req_t *req, int64_t res)
{
    struct mapio__fstate *fs = mapio__rp(req)->fs;
    /* Closed, whatever close said: on Linux the descriptor is gone even
     * after EINTR or EIO, so it must never be closed again. */
    fs->gone = true;
    fs->fd = MAPIO_INVALID_FD;
    mapio__engine_finish(mapio__req_eng(mapio__rp(req)), req, res == MAPIO_EINTR ? 0 : res);
}
