/*
 * engine/internal.h - the engine's private structures, shared by the engine sources
 * and the backends. Never installed.
 */
#ifndef MAPIO_INTERNAL_H
#define MAPIO_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "backend.h"
#include "latency.h"
#include "os.h"

/* ---- Counters ------------------------------------------------------------ */

struct mapio__counters {
#define MAPIO__COUNTER_ATOMIC(name) _Atomic uint64_t name;
    MAPIO_COUNTER_MAP(MAPIO__COUNTER_ATOMIC)
#undef MAPIO__COUNTER_ATOMIC
};

/*
 * Statistics, not synchronisation: relaxed is enough. Each engine and file
 * keeps two sets: one written only by the polling thread (a plain load and
 * store, no locked instruction on the hot path) and one any thread may add
 * to (worker pool, blocking twins). Snapshots add them up.
 */
#define MAPIO__COUNT(c, field, n) atomic_fetch_add_explicit(&(c)->field, (n), memory_order_relaxed)
#define MAPIO__COUNT1(c, field, n)                                                                 \
    atomic_store_explicit(&(c)->field,                                                             \
                          atomic_load_explicit(&(c)->field, memory_order_relaxed) + (n),           \
                          memory_order_relaxed)

/* out = a + b, field by field. */
void mapio__counters_read(const struct mapio__counters *a, const struct mapio__counters *b,
                          mapio_metrics_t *out);
/* Record one finished request's latency (ns) in the histogram its op feeds. */
void mapio__lat_account(struct mapio__lats *l, const mapio_req_t *req, uint64_t ns,
                        bool single_writer);
/* Count one finished request (its result and latency) into the polling
 * thread's set (single_writer) or a shared set. */
void mapio__account(struct mapio__counters *c, const mapio_req_t *req, uint64_t us,
                    bool single_writer);

/* ---- Files ----------------------------------------------------------------- */

/* Group commit state of one file (polling thread only). */
struct mapio__gc {
    mapio_req_t *next_head, *next_tail; /* writes done; wait for a sync not yet started */
    unsigned next_count;
    uint64_t next_first_ns, next_last_ns; /* when the earliest / latest of them arrived */
    mapio_req_t *cur_head;                /* covered by the sync in flight */
    bool syncing;
    bool timer_armed;
    uint64_t deadline_ns;
    struct mapio__fstate *timer_next; /* engine's list of armed timers */
};

/* Per-file state on the heap: lives from mapio_file_open_blocking to the last reference. */
struct mapio__fstate {
    mapio_engine_t *eng;
    mapio_fd_t fd;
    unsigned flags;     /* MAPIO_OPEN_* */
    uint64_t size;      /* as given to / found by mapio_file_open_blocking */
    int fixed_index;    /* io_uring registered-file slot, or -1 */
    void *backend;      /* backend's per-file data, if any */
    uint32_t mem_align; /* O_DIRECT buffer alignment (1 when buffered) */
    uint32_t io_align;  /* O_DIRECT offset/length alignment (1 when buffered) */
    _Atomic int sticky; /* first failed sync's error; then every sync fails */
    struct mapio__gc gc;
    mapio_req_t sync_req;               /* the group commit's own fdatasync */
    struct mapio__counters counters;    /* polling thread */
    struct mapio__counters counters_mt; /* any thread */
    struct mapio__fstate *prev, *next;  /* engine's list of open files (engine lock) */
    struct mapio__lats *lats;           /* MAPIO_OPEN_HISTOGRAMS only (any thread, atomic) */
    mapio_map_t *map;                   /* MAPIO_OPEN_MMAP only */
    mapio_file_t *handle;
};

enum { MAPIO__FILE_MAGIC = 0x6d617066u /* "mapf" */ };
enum { MAPIO__FILE_OPEN = 1, MAPIO__FILE_CLOSED = 2 };

/*
 * The engine's part of mapio_file_t. refs counts the open reference plus one
 * per request or blocking call in progress; at zero the descriptor is closed
 * and fs freed, and refs never rises again, so a stale handle reads CLOSED.
 */
struct mapio__file_priv {
    uint32_t magic;
    _Atomic uint32_t state;
    _Atomic uint64_t refs;
    struct mapio__fstate *fs;
};

static inline struct mapio__file_priv *mapio__fp(const mapio_file_t *f)
{
    return (struct mapio__file_priv *)(void *)&((mapio_file_t *)f)->priv;
}

/* Take a reference on an open file; returns its state or NULL (closed/invalid). */
struct mapio__fstate *mapio__file_acquire(const mapio_file_t *f);
/* Drop one; the last one closes the descriptor. */
void mapio__file_release(const mapio_file_t *f);

/* ---- Requests -------------------------------------------------------------- */

/*
 * QUEUED: pending/backlog. BACKEND: the backend holds it. SYNCWAIT: a
 * commit whose writes are done, waiting for its sync. CARRIED: carried out
 * on the submitting thread (MMapIO), only its callback is due. DONE: its
 * callback runs (or ran): the request is the caller's again.
 *
 * The in-flight states carry a tag in their high half, because a request's
 * memory need not be initialised: a submission refuses a request whose
 * state says "in flight" (MAPIO_EBUSY), and leftover bytes are not taken
 * for that unless they hold the tag.
 */
enum {
    MAPIO__REQ_TAG = 0x6d710000u, /* "mq" */
    MAPIO__REQ_QUEUED = MAPIO__REQ_TAG | 1u,
    MAPIO__REQ_BACKEND = MAPIO__REQ_TAG | 2u,
    MAPIO__REQ_SYNCWAIT = MAPIO__REQ_TAG | 3u,
    MAPIO__REQ_CARRIED = MAPIO__REQ_TAG | 4u,
    MAPIO__REQ_DONE = 5u,
};

static inline bool mapio__req_state_in_flight(uint32_t state)
{
    return (state & 0xffff0000u) == MAPIO__REQ_TAG;
}

/* Bytes of mapio_req_t.priv a backend may use for itself (aligned to 8). */
#define MAPIO__REQ_BACKEND_SPACE 112

/* One piece of a merged delayed-sync batch. */
struct mapio__span {
    uint64_t offset;
    uint64_t len;
    const unsigned char *src;
};

struct mapio__req_priv {
    mapio_req_t *next;        /* engine queues, or a backend's own queue */
    mapio_req_t *cancel_next; /* engine cancel list */
    mapio_engine_t *eng;
    struct mapio__fstate *fs; /* NULL for NOP */
    uint64_t done;            /* bytes transferred so far */
    uint64_t start_ns;        /* accepted at */
    _Atomic uint32_t state;   /* MAPIO__REQ_* */
    _Atomic uint32_t cancel;  /* cancel asked for */
    uint32_t cancel_queued;   /* on the cancel list (engine lock) */
    uint32_t internal;        /* the engine's own request (group-commit sync) */
    uint32_t retries;
    struct mapio__span span; /* COMMIT: the piece being written (done counts in it) */
    uint64_t fault_seq;      /* the fault hooks' number for the call in flight */
    uint64_t commit_bytes;   /* COMMIT: bytes of the merged pieces written */
    uint32_t commit_pieces;  /* COMMIT: merged pieces written */
    uint8_t on_copy_pool;    /* MMapIO copy handed to the engine's copy pool */
    /* COMMIT fused with its own fdatasync (the group was idle): the backend
     * runs write then sync back to back, and reports both results. */
    uint8_t fused, fused_write_seen, fused_sync_seen;
    union {
        struct {
            int64_t fused_wres, fused_sres;
        };
        int64_t pre_result; /* a CARRIED request's result */
    };
    union {
        uint64_t align;
        unsigned char bytes[MAPIO__REQ_BACKEND_SPACE];
    } backend;
};

_Static_assert(sizeof(struct mapio__req_priv) <= sizeof(((mapio_req_t *)0)->priv),
               "mapio_req_t.priv too small for the engine's private part");

static inline struct mapio__req_priv *mapio__rp(mapio_req_t *r)
{
    return (struct mapio__req_priv *)(void *)&r->priv;
}

/* Has part of the request reached the OS? Then it runs to its end, cancel
 * or shutdown notwithstanding: MAPIO_ECANCELED would claim nothing of it is
 * in the file. (Polling thread, or the worker running it.) */
static inline bool mapio__req_started(const struct mapio__req_priv *rp)
{
    return rp->done != 0 || rp->commit_pieces != 0;
}

/* MAPIO_EBUSY if req is still in flight (submitted, callback not yet run). */
static inline int mapio__req_check_idle(mapio_req_t *req)
{
    uint32_t st = atomic_load_explicit(&mapio__rp(req)->state, memory_order_acquire);
    return mapio__req_state_in_flight(st) ? MAPIO_EBUSY : 0;
}

/*
 * The part of a request still to transfer. A fresh vectored request goes as
 * its whole vector; a resumed one (after a short transfer) continues with the
 * rest of the current iovec as a single buffer.
 */
struct mapio__seg {
    bool vectored;
    bool write;
    void *buf;
    size_t len;
    const mapio_iovec_t *iov;
    unsigned iovcnt;
    uint64_t offset;
};

void mapio__req_seg(mapio_req_t *req, struct mapio__seg *seg);
/* The same, moving at most limit bytes (the fault hooks' short transfers). */
void mapio__req_seg_limit(mapio_req_t *req, uint64_t limit, struct mapio__seg *seg);

/* The first piece at or after `from` of the merged batch w[0..n); false if none. */
bool mapio__merge_next(const mapio_write_t *w, unsigned n, uint64_t from, struct mapio__span *out);

/*
 * A backend hands every finished operation here, on the polling thread (or in
 * destroy). res is the syscall-style result: a count or a negative errno.
 * Short transfers and EINTR/EAGAIN are requeued; everything else is queued for
 * its callback.
 */
void mapio__complete(mapio_req_t *req, int64_t res);

/* The same, for a request the backend already ran to its end with
 * mapio__do_sync() (short transfers resumed and counted there). */
void mapio__complete_whole(mapio_req_t *req, int64_t res);

/* Run one request synchronously on the calling thread (pool workers, twins). */
int64_t mapio__do_sync(struct mapio__fstate *fs, mapio_req_t *req);

/* ---- Engine ---------------------------------------------------------------- */

struct mapio__pool;

struct mapio_engine {
    const struct mapio__backend_ops *ops;
    void *be;
    mapio_engine_opts_t opts;
    char *fallback_reason;
    char init_detail[192]; /* a backend's explanation of a failed init */
    char init_note[192];   /* a backend's note on a partial init (joins the reason) */

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
    _Atomic bool shutdown;
    _Atomic uint64_t inflight;

    /* Polling thread only. */
    mapio_req_t *backlog_head, *backlog_tail; /* to submit (taken, or resumed) */
    mapio_req_t *done_head, *done_tail;       /* callbacks to run */

    struct mapio__counters counters;    /* polling thread */
    struct mapio__counters counters_mt; /* any thread */
    struct mapio__lats lat;             /* polling thread */
    struct mapio__lats lat_mt;          /* any thread */

    /* Fault injection (set while idle; read by every thread doing I/O). */
    bool has_faults;
    mapio_fault_hooks_t faults;
    _Atomic uint64_t fault_seq;
    struct mapio__fault_rules *rules;

    struct mapio__fstate *gc_timers; /* files whose group sync waits on a delay */

    /* MMapIO copies off the submitting thread (MAPIO_OPEN_MMAP_ON_POOL):
     * started by the first such open (under lock), read by the poller. */
    _Atomic(struct mapio__pool *) copy_pool;
};

/* ---- fault hooks (engine/fault.c) ---------------------------------------- */

/* Describe the OS call req is about to make (its current segment). */
void mapio__fault_describe(mapio_req_t *req, mapio_fault_call_t *call);
/* before(): MAPIO_FAULT_PASS, an error to report instead, or a byte limit. */
int64_t mapio__fault_before(mapio_engine_t *eng, mapio_req_t *req, mapio_fault_call_t *call);
int64_t mapio__fault_after(mapio_engine_t *eng, mapio_req_t *req, int64_t res);
void mapio__fault_free(mapio_engine_t *eng);

/* ---- group commit (engine/commit.c) ------------------------------------- */

/* A commit's writes are all done (res >= 0) or one failed: wait for a sync
 * or finish with the error. Polling thread. */
void mapio__commit_written(mapio_req_t *req, int64_t res);
/* About to hand a COMMIT to the backend: fuse it with a sync of its own if
 * the file's group is idle (sets rp->fused and takes the group's sync slot). */
void mapio__commit_try_fuse(mapio_req_t *req);
/* Give the group's sync slot back (the fused pair could not go as one). */
void mapio__commit_unfuse(mapio_req_t *req);
/* io_uring: one half of a fused commit is back (is_sync: the fsync CQE). */
void mapio__complete_fused(mapio_req_t *req, bool is_sync, int64_t res);
/* A fused commit's write and sync are both back: finish it. */
void mapio__commit_fused_done(mapio_req_t *req, int64_t wres, int64_t sres);
/* Start syncs whose delay ran out; returns ms to the next deadline, or -1. */
int mapio__commit_timers(mapio_engine_t *eng, bool flush_all);
/* Record a sync result for stickiness; returns the result to report. */
int64_t mapio__sync_result(struct mapio__fstate *fs, int64_t res);
/* Queue a finished request for its callback (polling thread). */
void mapio__finish(mapio_req_t *req, int64_t res);
/* Accept a request from the engine itself (not refused at shutdown, not
 * counted against max_inflight). */
void mapio__engine_submit_internal(mapio_engine_t *eng, mapio_req_t *req);

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

/* Accept a validated request (it has fs, op and buffers set). */
int mapio__engine_submit(mapio_engine_t *eng, mapio_req_t *req);
/* Accept a request already carried out on the submitting thread (MMapIO):
 * it only waits for its callback. Same errors as mapio__engine_submit. */
int mapio__engine_submit_done(mapio_engine_t *eng, mapio_req_t *req, int64_t result);

/* Start the MMapIO copy pool if it is not running yet. Any thread. */
int mapio__engine_copy_pool_start(mapio_engine_t *eng);

/* Backend hooks for files (open/close paths). */
int mapio__engine_attach(mapio_engine_t *eng, struct mapio__fstate *fs);
void mapio__engine_forget(mapio_engine_t *eng, struct mapio__fstate *fs);

#endif
