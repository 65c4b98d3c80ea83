/*
 * mapio_fio.c - a fio external ioengine that does its I/O through mapio.
 *
 *   fio --ioengine=external:/path/libfio-mapio.so --mapio_backend=uring ...
 *
 * One mapio engine per fio job thread, created in init (after fio's fork, so
 * mapio's threads and rings belong to the job process). fio's queue/commit/
 * getevents/event map onto mapio like this:
 *
 *   queue     -> mapio_read_at / mapio_write_at / mapio_sync_* (accepted, not
 *                yet started; MAPIO_EAGAIN -> FIO_Q_BUSY)
 *   commit    -> the issue time of everything queued since the last commit,
 *                then mapio_engine_poll(eng, 0), which hands the batch to the
 *                backend (one io_uring_enter on uring)
 *   getevents -> mapio_engine_poll until `min` callbacks have run; callbacks
 *                only push their io_u on a ring, which event() reads
 *
 * Sync semantics: fio's fsync=/fdatasync=/end_fsync/sync_file_range= arrive as
 * DDIR_SYNC / DDIR_DATASYNC / DDIR_SYNC_FILE_RANGE io_us. A mapio sync covers
 * the writes that completed before it was submitted, so a sync is only
 * accepted once nothing else is in flight (FIO_Q_BUSY until then: fio reaps
 * and asks again), as fio's libaio engine does. mapio_commit=1 instead sends
 * every write through group commit (mapio_commit): it completes only once
 * durable.
 *
 * Files: fio opens each file itself (generic_open_file: O_DIRECT, O_SYNC /
 * O_DSYNC, O_RDONLY, ... from its own options) and the engine adopts that
 * descriptor (mapio_file_adopt; fio keeps ownership and closes it), so fio's
 * cache invalidation and fadvise act on the descriptor mapio does I/O on.
 *
 * Built against fio's configured source tree (bench/fio/build.sh); see
 * bench/fio/README.md.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fio.h"
#include "optgroup.h"

#include <mapio.h>

/* The fio this engine was compiled against (build.sh passes it); checked
 * against the running binary in init, beyond fio's own FIO_IOOPS_VERSION. */
#ifndef MAPIO_FIO_BUILT_FOR
#error "build with -DMAPIO_FIO_BUILT_FOR='\"fio-X.Y\"' (bench/fio/build.sh does)"
#endif

extern struct ioengine_ops ioengine;

/* ---- options ------------------------------------------------------------------ */

enum { MFIO_MODE_PLAIN, MFIO_MODE_MMAP, MFIO_MODE_MMAP_POOL };

/* Backend names by option value; 0 (auto) lets mapio pick, with fallback. */
static const char *const backend_names[] = { NULL, "uring", "epoll", "kqueue" };
#define MFIO_NBACKENDS (sizeof(backend_names) / sizeof(backend_names[0]))

struct mfio_options {
    void *pad; /* fio reads an option stored at offset 0 as "not set" */
    unsigned int backend;
    unsigned int mode;
    unsigned int commit;
    unsigned int workers;
    unsigned int sqpoll;
    unsigned int metrics;
};

/* Filled in when the engine is loaded (mfio_load): the backends this copy of
 * mapio has. */
static char backend_help[160] = "mapio backend";

static struct fio_option options[] = {
    {
        .name = "mapio_backend",
        .lname = "mapio backend",
        .type = FIO_OPT_STR,
        .off1 = offsetof(struct mfio_options, backend),
        .help = backend_help,
        .def = "auto",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
        /* mfio_load drops the ones not compiled in. */
        .posval =
            {
                { .ival = "auto",
                  .oval = 0,
                  .help = "the first that initialises, with mapio's fallback (io_uring "
                          "blocked: epoll; the reason is printed)" },
                { .ival = "uring", .oval = 1, .help = "io_uring" },
                { .ival = "epoll",
                  .oval = 2,
                  .help = "epoll + worker threads (mapio_workers); O_DIRECT through native AIO" },
                { .ival = "kqueue", .oval = 3, .help = "kqueue + worker threads (mapio_workers)" },
            },
    },
    {
        .name = "mapio_mode",
        .lname = "mapio file mode",
        .type = FIO_OPT_STR,
        .off1 = offsetof(struct mfio_options, mode),
        .help = "How mapio serves reads and writes",
        .def = "plain",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
        .posval =
            {
                { .ival = "plain",
                  .oval = MFIO_MODE_PLAIN,
                  .help = "system calls through the backend" },
                { .ival = "mmap",
                  .oval = MFIO_MODE_MMAP,
                  .help = "MMapIO: memcpy on a mapping, on fio's thread (no direct=1, no sync=)" },
                { .ival = "mmap-pool",
                  .oval = MFIO_MODE_MMAP_POOL,
                  .help = "MMapIO, memcpy on mapio's copy workers (no direct=1, no sync=)" },
            },
    },
    {
        .name = "mapio_commit",
        .lname = "mapio group commit",
        .type = FIO_OPT_BOOL,
        .off1 = offsetof(struct mfio_options, commit),
        .help = "Each write through mapio's group commit (mapio_commit): it completes only "
                "once an fdatasync started after it has succeeded; concurrent writes share "
                "fdatasyncs",
        .def = "0",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "mapio_workers",
        .lname = "mapio worker threads",
        .type = FIO_OPT_INT,
        .off1 = offsetof(struct mfio_options, workers),
        .help = "Worker threads of the epoll/kqueue pool and of the mmap-pool copy workers "
                "(0: mapio's default, 2)",
        .def = "0",
        .minval = 0,
        .maxval = 1024,
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "mapio_sqpoll",
        .lname = "mapio io_uring SQPOLL",
        .type = FIO_OPT_BOOL,
        .off1 = offsetof(struct mfio_options, sqpoll),
        .help = "io_uring: a kernel thread polls the submission queue (costs a core)",
        .def = "0",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = "mapio_metrics",
        .lname = "mapio metrics",
        .type = FIO_OPT_BOOL,
        .off1 = offsetof(struct mfio_options, metrics),
        .help = "At the end of the job print mapio's metrics as one JSON line on stderr "
                "(mapio_metrics <job>: {...})",
        .def = "0",
        .category = FIO_OPT_C_ENGINE,
        .group = FIO_OPT_G_INVALID,
    },
    {
        .name = NULL,
    },
};

/* Whether name is one of mapio_backends_compiled()'s comma-separated names. */
static bool backend_compiled(const char *name)
{
    size_t n = strlen(name);
    for (const char *p = mapio_backends_compiled(); *p != '\0';) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0)
            return true;
        if (end == NULL)
            break;
        p = end + 1;
    }
    return false;
}

/* When fio loads the engine (for a job or --enghelp): mapio_backend lists
 * only what this build of mapio has, and says so. */
__attribute__((constructor)) static void mfio_load(void)
{
    struct value_pair *vp = options[0].posval;
    unsigned out = 0;
    for (unsigned i = 0; i < PARSE_MAX_VP && vp[i].ival != NULL; i++) {
        if (vp[i].oval == 0 || backend_compiled(vp[i].ival))
            vp[out++] = vp[i];
    }
    for (unsigned i = out; i < PARSE_MAX_VP && vp[i].ival != NULL; i++)
        memset(&vp[i], 0, sizeof(vp[i]));
    snprintf(backend_help, sizeof(backend_help), "mapio backend (compiled into this engine: %s)",
             mapio_backends_compiled());
}

/* ---- state ---------------------------------------------------------------------- */

struct mfio;

/* One per io_u (io_u_init), so queue allocates nothing. */
struct mfio_io {
    mapio_req_t req;
    mapio_write_t w; /* mapio_commit: the one write of the batch */
    struct io_u *io_u;
    struct mfio *d;
};

/* One per open fio_file (FILE_ENG_DATA), from open_file to close_file. */
struct mfio_file {
    mapio_file_t mf;
};

struct mfio {
    mapio_engine_t *eng;
    const struct mfio_options *o;
    /* Completions waiting for fio: io_us in [head, tail); the last getevents
     * handed out [base, head). Callbacks write, getevents/event read. */
    struct io_u **done;
    unsigned mask, base, head, tail;
    /* Accepted by mapio since the last commit: their issue time is set there. */
    struct io_u **queued;
    unsigned nqueued;
    /* Accepted by mapio and callback not yet run (syncs wait for 0). */
    unsigned accepted;
    /* The memcpy of plain MMapIO happens inside the submitting call. */
    bool inline_copy;
};

/* ---- completion ------------------------------------------------------------------ */

static void mfio_done(mapio_req_t *req)
{
    struct mfio_io *io = req->data;
    struct io_u *io_u = io->io_u;
    struct mfio *d = io->d;

    if (req->result < 0) {
        io_u->error = (unsigned int)-req->result;
    } else if (io_u->ddir == DDIR_READ || io_u->ddir == DDIR_WRITE) {
        /* Reads are short only at end of file; a commit reports 0. */
        uint64_t n = (uint64_t)req->result;
        if (req->op == MAPIO_OP_COMMIT)
            n = io_u->xfer_buflen;
        io_u->resid = n < io_u->xfer_buflen ? io_u->xfer_buflen - n : 0;
    }
    d->accepted--;
    /* At most iodepth io_us exist: the ring (2 x iodepth) cannot overrun the
     * batch getevents last handed out. */
    assert(d->tail - d->base <= d->mask);
    d->done[d->tail++ & d->mask] = io_u;
}

/* ---- queue / commit / getevents / event ------------------------------------------- */

static void mfio_set_issue_time(struct thread_data *td, struct io_u *io_u)
{
    fio_gettime(&io_u->issue_time, NULL);
    if (td->o.read_iolog_file)
        memcpy(&td->last_issue, &io_u->issue_time, sizeof(io_u->issue_time));
}

/* fio's sync_file_range= bits (sync_file_range(2)'s) as mapio's. */
static unsigned mfio_range_flags(unsigned fio_flags)
{
    unsigned flags = 0;
    if (fio_flags & SYNC_FILE_RANGE_WAIT_BEFORE)
        flags |= MAPIO_SYNC_RANGE_WAIT_BEFORE;
    if (fio_flags & SYNC_FILE_RANGE_WRITE)
        flags |= MAPIO_SYNC_RANGE_WRITE;
    if (fio_flags & SYNC_FILE_RANGE_WAIT_AFTER)
        flags |= MAPIO_SYNC_RANGE_WAIT_AFTER;
    return flags;
}

static enum fio_q_status mfio_queue(struct thread_data *td, struct io_u *io_u)
{
    struct mfio *d = td->io_ops_data;
    struct mfio_io *io = io_u->engine_data;
    struct fio_file *f = io_u->file;
    struct mfio_file *ff = FILE_ENG_DATA(f);
    mapio_file_t *mf = &ff->mf;
    int err;

    fio_ro_check(td, io_u);

    if (ddir_sync(io_u->ddir) && d->accepted > 0) {
        /* A mapio sync covers completed writes only: drain first, as fio's
         * libaio engine does. Collect what is done now: fio's own end_fsync
         * loop answers FIO_Q_BUSY with a commit that is a no-op when nothing
         * is queued, so progress must not depend on fio reaping. */
        int r = mapio_engine_poll(d->eng, 0);
        if (r < 0) {
            io_u->error = (unsigned int)-r;
            return FIO_Q_COMPLETED;
        }
        if (d->accepted > 0)
            return FIO_Q_BUSY; /* fio reaps, then queues the sync again */
    }

    /* Plain MMapIO copies inside the submitting call: it is issued now. */
    if (d->inline_copy && fio_fill_issue_time(td))
        mfio_set_issue_time(td, io_u);
    io->req.data = io;

    switch (io_u->ddir) {
    case DDIR_READ:
        err =
            mapio_read_at(mf, &io->req, io_u->xfer_buf, io_u->xfer_buflen, io_u->offset, mfio_done);
        break;
    case DDIR_WRITE:
        if (d->o->commit) {
            io->w.buf = io_u->xfer_buf;
            io->w.len = io_u->xfer_buflen;
            io->w.offset = io_u->offset;
            err = mapio_commit(mf, &io->req, &io->w, 1, mfio_done);
        } else {
            err = mapio_write_at(mf, &io->req, io_u->xfer_buf, io_u->xfer_buflen, io_u->offset,
                                 mfio_done);
        }
        break;
    case DDIR_SYNC:
        err = mapio_sync_all(mf, &io->req, mfio_done);
        break;
    case DDIR_DATASYNC:
        err = mapio_sync_data(mf, &io->req, mfio_done);
        break;
    case DDIR_SYNC_FILE_RANGE:
        /* What fio's own helper covers: the span written since the file was
         * opened (nothing written: nothing to do). */
        if (f->first_write == -1ULL || f->last_write <= f->first_write) {
            if (fio_fill_issue_time(td))
                mfio_set_issue_time(td, io_u);
            return FIO_Q_COMPLETED;
        }
        err = mapio_sync_range(mf, &io->req, f->first_write, f->last_write - f->first_write,
                               mfio_range_flags(td->o.sync_file_range), mfio_done);
        break;
    default:
        /* TRIM is refused in init; nothing else reaches an engine. */
        log_err("mapio: %s: TRIM is not supported\n", td->o.name);
        io_u->error = EOPNOTSUPP;
        return FIO_Q_COMPLETED;
    }

    if (err == MAPIO_EAGAIN && d->accepted > 0)
        return FIO_Q_BUSY; /* max_inflight: fio reaps, then queues it again */
    if (err < 0) {
        io_u->error = (unsigned int)-err;
        return FIO_Q_COMPLETED;
    }
    d->accepted++;
    d->queued[d->nqueued++] = io_u;
    return FIO_Q_QUEUED;
}

static int mfio_commit(struct thread_data *td)
{
    struct mfio *d = td->io_ops_data;

    if (d->nqueued > 0) {
        /* The backend starts the batch in the poll below: that is the issue
         * time (FIO_ASYNCIO_SETS_ISSUE_TIME), so slat is queue -> submission
         * and clat submission -> completion, as for fio's own engines. */
        if (fio_fill_issue_time(td)) {
            struct timespec now;
            if (!d->inline_copy)
                fio_gettime(&now, NULL);
            for (unsigned i = 0; i < d->nqueued; i++) {
                struct io_u *io_u = d->queued[i];
                if (!d->inline_copy)
                    io_u->issue_time = now;
                io_u_queued(td, io_u);
            }
            if (td->o.read_iolog_file && !d->inline_copy)
                memcpy(&td->last_issue, &now, sizeof(now));
        }
        io_u_mark_submit(td, d->nqueued);
        d->nqueued = 0;
    }
    int r = mapio_engine_poll(d->eng, 0);
    return r < 0 ? r : 0;
}

static int mfio_getevents(struct thread_data *td, unsigned int min, unsigned int max,
                          const struct timespec *t)
{
    struct mfio *d = td->io_ops_data;
    uint64_t deadline = 0;
    int timeout_ms = -1;
    struct timespec start;

    d->base = d->head;
    if (t != NULL) {
        uint64_t ms = (uint64_t)t->tv_sec * 1000u + ((uint64_t)t->tv_nsec + 999999u) / 1000000u;
        timeout_ms = ms > INT_MAX ? INT_MAX : (int)ms;
        deadline = ms;
        fio_gettime(&start, NULL);
    }

    /* Collect what is already done, then block until `min` are. */
    if (d->tail - d->head < max && d->accepted > 0) {
        int r = mapio_engine_poll(d->eng, 0);
        if (r < 0)
            return r;
    }
    /* Nothing in flight cannot complete: return short rather than sleep
     * forever on a miscount. */
    while (d->tail - d->head < min && d->accepted > 0) {
        int r = mapio_engine_poll(d->eng, timeout_ms);
        if (r < 0)
            return r;
        if (t != NULL) {
            uint64_t spent = mtime_since_now(&start);
            if (spent >= deadline)
                break;
            timeout_ms = (int)(deadline - spent);
        }
    }
    unsigned n = d->tail - d->head;
    if (n > max)
        n = max;
    d->head += n;
    return (int)n;
}

static struct io_u *mfio_event(struct thread_data *td, int event)
{
    struct mfio *d = td->io_ops_data;
    return d->done[(d->base + (unsigned)event) & d->mask];
}

/* ---- files ----------------------------------------------------------------------- */

/* The verror of a mapio call on f. */
static int mfio_file_error(struct thread_data *td, struct fio_file *f, const char *call, int err)
{
    char what[FIO_VERROR_SIZE];
    snprintf(what, sizeof(what), "mapio: %s(%s): %s", call, f->file_name, mapio_strerror(err));
    td_verror(td, -err, what);
    return 1;
}

/*
 * MMapIO maps the file's size at the time of adoption: a writing job needs
 * the whole region it uses there first (fio's own mmap engine extends the
 * file the same way). The descriptor is adopted without a mapping to ask
 * mapio for the size and to grow it, then released again (fio keeps it).
 */
static int mfio_size_for_map(struct thread_data *td, struct fio_file *f)
{
    struct mfio *d = td->io_ops_data;
    uint64_t need = f->file_offset + f->io_size;
    mapio_file_t probe;
    mapio_stat_t st;

    int err = mapio_file_adopt(&probe, d->eng, f->fd, 0);
    if (err < 0)
        return mfio_file_error(td, f, "mapio_file_adopt", err);
    err = mapio_file_stat_blocking(&probe, &st);
    if (err == 0 && st.size < need)
        err = mapio_file_truncate_blocking(&probe, need);
    int cerr = mapio_file_close_blocking(&probe);
    if (err < 0)
        return mfio_file_error(td, f, "sizing for the mapping", err);
    if (cerr < 0)
        return mfio_file_error(td, f, "mapio_file_close_blocking", cerr);
    return 0;
}

static void mfio_closed(mapio_req_t *req)
{
    *(int *)req->data = req->result < 0 ? (int)req->result : 1;
}

/* Hand f's descriptor back: once this returns mapio no longer touches it. */
static int mfio_release(struct thread_data *td, struct fio_file *f, struct mfio_file *ff)
{
    struct mfio *d = td->io_ops_data;
    mapio_req_t req;
    int state = 0;

    memset(&req, 0, sizeof(req)); /* no stale state from the stack */
    req.data = &state;
    int err = mapio_file_close(&ff->mf, &req, mfio_closed);
    if (err == MAPIO_EAGAIN) {
        /* No request slot: fio closes a file only with nothing in flight on
         * it, so the blocking close lets go of the descriptor at once. */
        err = mapio_file_close_blocking(&ff->mf);
    } else if (err == 0) {
        /* Completions of other files that arrive meanwhile wait in the ring
         * for the next getevents, as any others do. */
        while (state == 0) {
            int r = mapio_engine_poll(d->eng, -1);
            if (r < 0) {
                err = r;
                break;
            }
        }
        if (state < 0)
            err = state;
    }
    return err < 0 ? mfio_file_error(td, f, "mapio_file_close", err) : 0;
}

/* A failed open_file closes fio's descriptor again; the error that made it
 * fail is td's already, and a close error would only hide it. */
static int mfio_open_failed(struct thread_data *td, struct fio_file *f)
{
    int err = generic_close_file(td, f);
    (void)err;
    return 1;
}

static int mfio_open_file(struct thread_data *td, struct fio_file *f)
{
    struct mfio *d = td->io_ops_data;

    /* fio's own open, with its flags: O_DIRECT (direct=1), O_SYNC or O_DSYNC
     * (sync=), O_RDONLY, O_CREAT, O_NOATIME where allowed. */
    if (generic_open_file(td, f))
        return 1;
    /* fio's parent lays files out before any job's init: nothing to adopt. */
    if (d == NULL)
        return 0;

    unsigned flags = 0;
    if (d->o->mode != MFIO_MODE_PLAIN) {
        flags |= MAPIO_OPEN_MMAP;
        if (d->o->mode == MFIO_MODE_MMAP_POOL)
            flags |= MAPIO_OPEN_MMAP_ON_POOL;
        if (td_write(td) && mfio_size_for_map(td, f))
            return mfio_open_failed(td, f);
    }

    struct mfio_file *ff = calloc(1, sizeof(*ff));
    if (ff == NULL) {
        td_verror(td, ENOMEM, "mapio file");
        return mfio_open_failed(td, f);
    }
    /* The access mode, O_DIRECT and O_DSYNC come with the descriptor. */
    int err = mapio_file_adopt(&ff->mf, d->eng, f->fd, flags);
    if (err < 0) {
        free(ff);
        mfio_file_error(td, f, "mapio_file_adopt", err);
        return mfio_open_failed(td, f);
    }
    FILE_SET_ENG_DATA(f, ff);
    return 0;
}

static int mfio_close_file(struct thread_data *td, struct fio_file *f)
{
    struct mfio_file *ff = FILE_ENG_DATA(f);
    int ret = 0;

    if (ff != NULL) {
        ret = mfio_release(td, f, ff);
        FILE_SET_ENG_DATA(f, NULL);
        free(ff);
    }
    int cret = generic_close_file(td, f);
    return ret != 0 ? ret : cret;
}

/* ---- setup / teardown --------------------------------------------------------------- */

static void mfio_print_metrics(struct thread_data *td, struct mfio *d)
{
    mapio_metrics_t m;
    if (mapio_engine_metrics(d->eng, &m) != 0)
        return;
    char small[4096], *buf = small;
    int n = mapio_metrics_json(&m, small, sizeof(small));
    if (n >= (int)sizeof(small) && (buf = malloc((size_t)n + 1)) != NULL)
        n = mapio_metrics_json(&m, buf, (size_t)n + 1);
    /* stderr: with --output=file fio's stdout is its report, which must stay
     * parseable (--output-format=json). */
    if (n >= 0 && buf != NULL)
        fprintf(stderr, "mapio_metrics %s: %s\n", td->o.name, buf);
    if (buf != small)
        free(buf);
}

static void mfio_free(struct mfio *d)
{
    free(d->done);
    free(d->queued);
    free(d);
}

static void mfio_cleanup(struct thread_data *td)
{
    struct mfio *d = td->io_ops_data;

    if (d == NULL)
        return;
    if (d->o->metrics)
        mfio_print_metrics(td, d);
    /* fio closed every file before (close_and_free_files), so nothing is in
     * flight and no descriptor of fio's is adopted any more. */
    int err = mapio_engine_free(d->eng);
    if (err < 0)
        log_err("mapio: %s: mapio_engine_free: %s\n", td->o.name, mapio_strerror(err));
    mfio_free(d);
    td->io_ops_data = NULL;
}

/* Job options the engine cannot honour, refused before anything runs. */
static bool mfio_refused(struct thread_data *td, const struct mfio_options *o)
{
    if (td_trim(td) || td->o.trim_percentage) {
        log_err("mapio: %s: TRIM is not supported (mapio has no discard request): use an "
                "rw= without trim and no trim_percentage=\n",
                td->o.name);
        return true;
    }
    if (o->mode != MFIO_MODE_PLAIN) {
        const char *mode = o->mode == MFIO_MODE_MMAP ? "mmap" : "mmap-pool";
        if (td->o.odirect) {
            log_err("mapio: %s: mapio_mode=%s goes through the page cache and cannot do "
                    "direct=1: use mapio_mode=plain\n",
                    td->o.name, mode);
            return true;
        }
        if (td->o.sync_io) {
            log_err("mapio: %s: mapio_mode=%s copies into a mapping, which sync= (O_SYNC / "
                    "O_DSYNC) does not cover: use mapio_mode=plain, or mapio_commit=1\n",
                    td->o.name, mode);
            return true;
        }
    }
    if (o->backend >= MFIO_NBACKENDS) {
        log_err("mapio: %s: bad mapio_backend\n", td->o.name);
        return true;
    }
    return false;
}

static int mfio_init(struct thread_data *td)
{
    const struct mfio_options *o = td->eo;

    /* Compiled against another fio than the one running: fio checks only
     * FIO_IOOPS_VERSION, the structure layouts would silently differ. */
    if (strcmp(fio_version_string, MAPIO_FIO_BUILT_FOR) != 0) {
        log_err("mapio: engine built for %s, running under %s: rebuild it (bench/fio/build.sh)\n",
                MAPIO_FIO_BUILT_FOR, fio_version_string);
        return 1;
    }
    if (td->io_ops != &ioengine || td->o.iodepth == 0) {
        log_err("mapio: fio's thread_data does not match the headers this engine was built "
                "with\n");
        return 1;
    }
    if (mfio_refused(td, o))
        return 1;

    struct mfio *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return 1;
    d->o = o;
    d->inline_copy = o->mode == MFIO_MODE_MMAP;
    /* Each io_u completes at most once between two getevents, and the slots
     * of the last batch handed out stay readable: twice the depth is room. */
    unsigned cap = 1;
    while (cap < 2 * td->o.iodepth)
        cap <<= 1;
    d->mask = cap - 1;
    d->done = calloc(cap, sizeof(*d->done));
    d->queued = calloc(td->o.iodepth, sizeof(*d->queued));
    if (d->done == NULL || d->queued == NULL) {
        mfio_free(d);
        return 1;
    }

    mapio_engine_opts_t eo = {
        .backend = backend_names[o->backend],
        /* fio's depth, plus per file one group-commit sync of the engine's
         * own and a close: MAPIO_EAGAIN (FIO_Q_BUSY) stays a safety net. */
        .max_inflight = td->o.iodepth + 2 * td->o.nr_files + 1,
        /* A fused commit takes two submission entries. */
        .ring_entries = 2 * td->o.iodepth > 256 ? 2 * td->o.iodepth : 0,
        .workers = o->workers,
        .flags = o->sqpoll ? MAPIO_ENGINE_SQPOLL : 0,
    };
    int err = mapio_engine_new(&d->eng, &eo);
    if (err < 0) {
        log_err("mapio: %s: mapio_engine_new(backend=%s): %s (compiled: %s)\n", td->o.name,
                eo.backend ? eo.backend : "auto", mapio_strerror(err), mapio_backends_compiled());
        mfio_free(d);
        return 1;
    }
    const char *why = mapio_engine_fallback_reason(d->eng);
    if (why != NULL)
        log_info("mapio: %s: %s\n", td->o.name, why);
    td->io_ops_data = d;
    return 0;
}

static int mfio_io_u_init(struct thread_data *td, struct io_u *io_u)
{
    struct mfio_io *io = calloc(1, sizeof(*io));
    if (io == NULL)
        return 1;
    io->io_u = io_u;
    io->d = td->io_ops_data;
    io_u->engine_data = io;
    return 0;
}

static void mfio_io_u_free(struct thread_data *td, struct io_u *io_u)
{
    (void)td;
    free(io_u->engine_data);
    io_u->engine_data = NULL;
}

/* fio finds the engine by this symbol (dlsym "ioengine"); the only export. */
struct ioengine_ops ioengine = {
    .name = "mapio",
    .version = FIO_IOOPS_VERSION,
    .flags = FIO_ASYNCIO_SETS_ISSUE_TIME | FIO_NO_OFFLOAD,
    .init = mfio_init,
    .io_u_init = mfio_io_u_init,
    .io_u_free = mfio_io_u_free,
    .queue = mfio_queue,
    .commit = mfio_commit,
    .getevents = mfio_getevents,
    .event = mfio_event,
    .cleanup = mfio_cleanup,
    .open_file = mfio_open_file,
    .close_file = mfio_close_file,
    .get_file_size = generic_get_file_size,
    .options = options,
    .option_struct_size = sizeof(struct mfio_options),
};
