/*
 * engine/req.h - a request's private part, and what every module does with
 * one: its states, the segment it moves next, the merged pieces of a group
 * commit, the lists requests wait on, filling and resetting.
 *
 * Depends on nothing of the engine but the pool's work item (a request is
 * one). Never installed.
 */
#ifndef MAPIO_REQ_H
#define MAPIO_REQ_H

#include <stdatomic.h>
#include <stdbool.h>

#include "common.h"
#include "mapio/engine.h"
#include "pool.h"

struct mapio__ctx;
struct mapio__fstate;

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

/* mapio_req_set_timeout()'s mark on the next submission. */
#define MAPIO__ARM_TAG 0x6d71746fu /* "mqto" */

/* No slot in the engine's deadline heap. */
#define MAPIO__NO_SLOT UINT32_MAX

/* Steps of an open: the pool backends run them all as one (ALL); io_uring
 * opens and stats in the kernel, then finishes inline or on its pool. */
enum { MAPIO__OPEN_ALL = 0, MAPIO__OPEN_OPENAT, MAPIO__OPEN_STATX, MAPIO__OPEN_FINISH };

/* Bytes of mapio_req_t.priv a backend may use for itself (aligned to 8):
 * an iocb (64), IOCP's OVERLAPPED and links (80). */
#define MAPIO__REQ_BACKEND_SPACE 80

/* One piece of a merged group-commit batch. */
struct mapio__span {
    uint64_t offset;
    uint64_t len;
    const unsigned char *src;
};

struct mapio__req_priv {
    mapio_req_t *next;        /* engine queues, or a backend's own queue */
    mapio_req_t *cancel_next; /* engine cancel list (engine lock) */
    struct mapio__work work;  /* on a worker pool */
    /* Atomic: mapio_cancel() reads it from any thread, perhaps while the
     * request completes and is resubmitted (then it checks again, locked). */
    _Atomic(mapio_engine_t *) eng;
    struct mapio__ctx *ctx;   /* eng's shared part (the executor's way to it) */
    struct mapio__fstate *fs; /* the target file; NULL for NOP, TIMER and path ops */
    uint64_t done;            /* bytes transferred so far */
    uint64_t start_ns;        /* accepted at */
    _Atomic uint32_t state;   /* MAPIO__REQ_* */
    _Atomic uint32_t cancel;  /* cancel asked for */
    uint32_t cancel_queued;   /* on the cancel list (engine lock) */
    uint8_t internal;         /* the engine's own request (group-commit sync) */
    uint8_t on_copy_pool;     /* MMapIO copy handed to the engine's copy pool */
    uint8_t started;          /* a piece came back with progress (polling thread) */
    uint8_t timed_out;        /* its deadline passed: a cancel says ETIMEDOUT */
    uint64_t fault_seq;       /* the fault hooks' number for the call in flight */
    int64_t pre_result;       /* a CARRIED request's result */
    uint64_t deadline_ns;     /* 0: none */
    uint32_t timer_slot;      /* in the engine's deadline heap, or MAPIO__NO_SLOT */
    uint32_t step;            /* multi-step ops (OPEN): which step is next */
    /* mapio_req_set_timeout() for the next submission: armed while the tag
     * is there (the memory need not be initialised, so a tag, not a flag). */
    uint32_t arm_tag;
    uint64_t arm_timeout_ns;
    union {                          /* what one kind of op needs */
        struct {                     /* COMMIT */
            struct mapio__span span; /* the piece being written (done counts in it) */
            uint64_t commit_bytes;   /* bytes of the merged pieces written */
            uint32_t commit_pieces;  /* merged pieces written */
            /* Fused with its own fdatasync (the group was idle): the backend
             * runs write then sync back to back, and reports both results. */
            uint8_t fused, fused_write_seen, fused_sync_seen;
            int64_t fused_wres, fused_sres;
        };
        struct {                        /* the lifecycle ops */
            const char *path, *path2;   /* OPEN, RENAME, UNLINK, MKDIR, SYNC_DIR */
            struct mapio__fstate *dir;  /* referenced directory handles, or NULL */
            struct mapio__fstate *dir2; /* RENAME's new directory */
            uint64_t arg;               /* OPEN: size; TRUNCATE: size; TIMER: ns */
            uint64_t open_cur;          /* OPEN: the file's size before (put back on failure) */
            unsigned arg_flags;         /* OPEN/RENAME/UNLINK/SYNC_RANGE: flags; MKDIR: mode */
            uint8_t open_grown;         /* OPEN: this open grew the file */
            mapio_stat_t *stat_out;     /* STAT */
        };
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

static inline const struct mapio__req_priv *mapio__rp_const(const mapio_req_t *r)
{
    return (const struct mapio__req_priv *)(const void *)&r->priv;
}

/* The request a pool work item belongs to. */
static inline mapio_req_t *mapio__req_of_work(struct mapio__work *w)
{
    struct mapio__req_priv *rp = MAPIO__CONTAINER_OF(w, struct mapio__req_priv, work);
    return MAPIO__CONTAINER_OF((void *)rp, mapio_req_t, priv);
}

/* The engine that accepted it. */
static inline mapio_engine_t *mapio__req_eng(const struct mapio__req_priv *rp)
{
    return atomic_load_explicit(&((struct mapio__req_priv *)rp)->eng, memory_order_relaxed);
}

/*
 * Has part of the request reached the OS? Then it runs to its end, cancel
 * or shutdown notwithstanding: MAPIO_ECANCELED would claim nothing of it is
 * in the file. Only requests the engine moves one call at a time (io_uring,
 * IOCP) can be between pieces; a worker runs the others to their end. Set
 * and read by the polling thread alone, never a worker's rp->done.
 */
static inline bool mapio__req_started(const struct mapio__req_priv *rp)
{
    return rp->started != 0;
}

/* MAPIO_EBUSY if req is still in flight (submitted, callback not yet run). */
static inline int mapio__req_check_idle(mapio_req_t *req)
{
    uint32_t st = atomic_load_explicit(&mapio__rp(req)->state, memory_order_acquire);
    return mapio__req_state_in_flight(st) ? MAPIO_EBUSY : 0;
}

/* A commit fused with its own sync (the union holds other ops' fields). */
static inline bool mapio__req_fused(mapio_req_t *req)
{
    return req->op == MAPIO_OP_COMMIT && mapio__rp(req)->fused;
}

/* ---- what an op is ---------------------------------------------------------- */

static inline bool mapio__op_is_plain_transfer(mapio_op_t op)
{
    return op == MAPIO_OP_READ || op == MAPIO_OP_WRITE || op == MAPIO_OP_READV ||
           op == MAPIO_OP_WRITEV;
}

/* Moves bytes (a group commit's pieces count). */
static inline bool mapio__op_is_transfer(mapio_op_t op)
{
    return mapio__op_is_plain_transfer(op) || op == MAPIO_OP_COMMIT;
}

static inline bool mapio__op_is_write(mapio_op_t op)
{
    return op == MAPIO_OP_WRITE || op == MAPIO_OP_WRITEV || op == MAPIO_OP_COMMIT;
}

static inline bool mapio__op_is_sync(mapio_op_t op)
{
    return op == MAPIO_OP_FDATASYNC || op == MAPIO_OP_FSYNC;
}

/* Names a path (and perhaps directory handles) rather than, or besides, a file. */
static inline bool mapio__op_has_path(mapio_op_t op)
{
    return op == MAPIO_OP_OPEN || op == MAPIO_OP_RENAME || op == MAPIO_OP_UNLINK ||
           op == MAPIO_OP_MKDIR || op == MAPIO_OP_SYNC_DIR;
}

/* ---- filling and resetting --------------------------------------------------- */

/* Set every public field a submission fills (data is the caller's). */
void mapio__req_fill(mapio_req_t *req, mapio_op_t op, mapio_file_t *file, void *buf, size_t len,
                     const mapio_iovec_t *iov, unsigned iovcnt, uint64_t offset, unsigned flags,
                     mapio_cb_t cb);

/*
 * Reset the engine's part for a new life: accepted by eng at now_ns, the
 * engine's own request or not, carried out already (result) or QUEUED. The
 * state is stored last, with release: whoever sees it sees the rest.
 */
void mapio__req_reset(mapio_req_t *req, mapio_engine_t *eng, struct mapio__ctx *ctx, bool internal,
                      bool carried, int64_t result, uint64_t now_ns);

/* ---- lists ---------------------------------------------------------------- */

/* A FIFO of requests linked through priv.next (one thread at a time). */
struct mapio__reqq {
    mapio_req_t *head, *tail;
};

static inline void mapio__reqq_push(struct mapio__reqq *q, mapio_req_t *r)
{
    mapio__rp(r)->next = NULL;
    if (q->tail != NULL)
        mapio__rp(q->tail)->next = r;
    else
        q->head = r;
    q->tail = r;
}

static inline void mapio__reqq_push_front(struct mapio__reqq *q, mapio_req_t *r)
{
    mapio__rp(r)->next = q->head;
    q->head = r;
    if (q->tail == NULL)
        q->tail = r;
}

static inline mapio_req_t *mapio__reqq_pop(struct mapio__reqq *q)
{
    mapio_req_t *r = q->head;
    if (r != NULL) {
        q->head = mapio__rp(r)->next;
        if (q->head == NULL)
            q->tail = NULL;
    }
    return r;
}

/* Back in the queue for its next piece or a retry: QUEUED again. */
static inline void mapio__req_requeue(struct mapio__reqq *backlog, mapio_req_t *r)
{
    atomic_store_explicit(&mapio__rp(r)->state, MAPIO__REQ_QUEUED, memory_order_relaxed);
    mapio__reqq_push(backlog, r);
}

/* Finished with res: onto the list whose callbacks run next. */
static inline void mapio__req_finish(struct mapio__reqq *done, mapio_req_t *r, int64_t res)
{
    r->result = res;
    mapio__reqq_push(done, r);
}

/* ---- segments ------------------------------------------------------------- */

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

/*
 * The first piece at or after `from` of the merged batch w[0..n) (the later
 * write wins byte for byte; adjacent writes stay separate); false if none.
 */
bool mapio__merge_next(const mapio_write_t *w, unsigned n, uint64_t from, struct mapio__span *out);

#endif
