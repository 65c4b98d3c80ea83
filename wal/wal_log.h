/*
 * wal/wal_log.h - the log's insides, shared by wal.c (appends, the
 * acknowledgement order, segments), wal_open.c (recovery, mapio_wal_new and
 * _free) and wal_iter.c. Never installed; docs/wal.md has the design.
 *
 * Reservations. Appenders reserve their frame's bytes with one atomic add
 * on vpos, a virtual position that grows by exactly the bytes reserved. The
 * virtual space is cut into entries: entry e maps [e->vbase, next->vbase)
 * onto the frame area of segment e->segno, byte for byte from its first
 * frame. The reservation that first runs past an entry's room (the
 * crosser) publishes the next entry starting at its own position: its frame
 * opens the next segment and it writes the PAD that closes this one. So
 * the mapping is decided by the add alone, and the only lock is taken once
 * per segment. A segment that cannot be made (a full disk) kills its entry
 * and those after it; a reset entry then maps what is reserved from then on
 * onto the same segment again, so no LSN is skipped.
 *
 * Acknowledgement. Frames complete in any order; the polling thread keeps
 * the completed ones sorted by virtual position and acknowledges them only
 * as a contiguous prefix grows (LSN order), which is also what the durable
 * LSN, the next frames' watermark, follows.
 */
#ifndef MAPIO_WAL_LOG_H
#define MAPIO_WAL_LOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "engine/common.h"
#include "mapio/map.h"
#include "mapio/wal.h"
#include "wal_recover.h"

/* File names: "%016llx.wal", the same with ".tmp" while being made, and
 * ".free" for a truncated segment kept for reuse. */
#define MAPIO__WAL_NAME_MAX 32
#define MAPIO__WAL_MAX_SPARES 64u
#define MAPIO__WAL_LOCK_NAME "LOCK"

/* An entry's park word: a stack of ops waiting for it to become usable,
 * or one of these. */
#define MAPIO__WAL_PARK_EMPTY ((uintptr_t)0)
#define MAPIO__WAL_PARK_ACTIVE ((uintptr_t)1)
#define MAPIO__WAL_PARK_DEAD ((uintptr_t)2)

enum mapio__wal_op_kind {
    MAPIO__WAL_OP_BATCH, /* a user's batch */
    MAPIO__WAL_OP_SYNC,  /* a user's append of no records: a barrier */
    MAPIO__WAL_OP_MARK,  /* the log's watermark-only frame */
    MAPIO__WAL_OP_PAD,   /* the PAD a crosser writes (lives in its entry) */
};

struct mapio__wal_seg;
struct mapio__wal_entry;

/* One frame on its way to the disk (or a barrier). Allocated with its
 * frame by the append; freed once acknowledged. */
struct mapio__wal_op {
    struct mapio_wal *wal;
    mapio_wal_req_t *user;       /* NULL: the log's own */
    struct mapio__wal_op *owner; /* PAD: the crosser it belongs to */
    struct mapio__wal_seg *seg;  /* where it is written (a reference held while in flight) */
    uint64_t v, s;               /* its reservation */
    uint64_t lsn, end_lsn;       /* its frame; end_lsn normalised past a segment's end */
    uint64_t len;                /* bytes written (a PAD's: 32 or a block) */
    int64_t result;
    int64_t pad_result; /* a crosser's PAD (the polling thread writes it) */
    uint8_t kind, parts, soft, retry, pad_soft;
    struct mapio__wal_op *link;        /* park stack, inbox */
    struct mapio__wal_op *prev, *next; /* completed, waiting for the prefix */
    unsigned char *frame;
    void *mem; /* what to free */
    mapio_write_t w;
    mapio_req_t ereq;
};

/* One stretch of virtual space mapped onto one segment. Published under
 * lock_pub; read without a lock by appenders, who find theirs by walking
 * prev from the newest (entries are freed oldest first, and only when
 * every reservation in them has registered, so the walk never meets a
 * freed one). */
struct mapio__wal_entry {
    uint64_t segno, vbase;
    struct mapio__wal_seg *seg; /* set (under lock_pub) before the entry turns ACTIVE */
    struct mapio__wal_entry *prev, *next;
    bool reset_start; /* made by a reset: it follows the last ACTIVE entry, not its prev */
    bool soft;        /* DEAD for a transient reason: its space is mapped again */
    int err;          /* why it is DEAD (set before the park word says so) */
    _Atomic int pad_busy;
    _Atomic uintptr_t park;
    _Atomic uint64_t registered; /* bytes of the reservations done with it (+1: a crosser's PAD) */
    _Atomic uint64_t expected; /* what registered reaches; UINT64_MAX until the next is published */
    struct mapio__wal_op pad;  /* the PAD its crosser writes */
    unsigned char *pad_frame;
};

enum mapio__wal_seg_state {
    MAPIO__WAL_SEG_OLD,      /* on disk, holds log below the writer; file not open */
    MAPIO__WAL_SEG_NEW,      /* wanted, not started */
    MAPIO__WAL_SEG_CREATING, /* being made (a job) */
    MAPIO__WAL_SEG_READY,    /* header and name durable; file open */
    MAPIO__WAL_SEG_CLOSING,  /* its file is being closed */
    MAPIO__WAL_SEG_FAILED,   /* could not be made (err) */
};

struct mapio__wal_seg {
    struct mapio_wal *wal;
    uint64_t segno;
    int state, err, step;
    bool file_open;
    bool renamed;     /* has its final name */
    bool from_pool;   /* being made from a recycled file */
    uint64_t pool_no; /* its ".free" name */
    uint64_t zeroed;  /* bytes of zeros written while it is made */
    _Atomic int refs; /* frames in flight on it */
    mapio_file_t file;
    mapio_req_t req;             /* the job's steps */
    unsigned char *blk;          /* MAPIO__WAL_SEGHDR_SIZE bytes, aligned: the header */
    struct mapio__wal_seg *next; /* wal->segs, by segno */
};

enum mapio__wal_job {
    MAPIO__WAL_JOB_NONE,
    MAPIO__WAL_JOB_CREATE,   /* seg */
    MAPIO__WAL_JOB_TRUNCATE, /* trunc_segs */
    MAPIO__WAL_JOB_CLOSE,    /* seg's file */
};

/* The zeros a new segment is written with, per write. */
#define MAPIO__WAL_ZERO_CHUNK ((size_t)1 << 20)

struct mapio_wal {
    mapio_engine_t *eng;
    void *zeros; /* MAPIO__WAL_ZERO_CHUNK zero bytes, aligned (wal.c, zeros()) */
    mapio__wal_fmt_t fmt;
    char *path;
    mapio_file_t dir;
    bool dir_open;
    mapio_map_t *lockmap;
    unsigned flags, policy, spares, max_inflight;
    uint64_t idle_ns;
    uint32_t mem_align; /* frame buffers (O_DIRECT) */
    uint32_t max_records;
    bool recycle;

    /* Appenders (any thread). */
    _Alignas(64) _Atomic uint64_t vpos;
    _Alignas(64) _Atomic(struct mapio__wal_entry *) latest;
    _Atomic int barrier;       /* a reset is remapping: wait */
    _Atomic int pub_failed;    /* a crosser could not publish: the log failed */
    _Atomic uint64_t durable;  /* the durable LSN: the next frames' watermark */
    _Atomic unsigned inflight; /* user requests accepted and not completed */
    _Atomic int sticky;        /* 0, or the error that failed the log */
    _Atomic int cause;         /* the first batch's error in LSN order (polling thread) */
    _Atomic int closing;
    _Atomic(struct mapio__wal_op *) inbox; /* for the polling thread */
    _Atomic int kick;                      /* 1: the kick nop is in flight */
    _Atomic int kick_lost;                 /* a kick could not be submitted (queue full) */
    _Atomic uint64_t appends;              /* accepted so far: idleness */
    _Atomic uint64_t acked;                /* batches acknowledged */

    pthread_mutex_t lock_pub; /* publication, wal->segs, the pool */
    struct mapio__wal_seg *segs;

    /* Polling thread only. */
    mapio_req_t kick_req;
    struct mapio__wal_entry *oldest;   /* the oldest entry not freed */
    struct mapio__wal_entry *resolved; /* the newest ACTIVE or DEAD one (all before it are) */
    uint64_t done_v;                   /* the acknowledged prefix ends here */
    struct mapio__wal_op *done_head, *done_tail;
    struct mapio__wal_op *retry;     /* submissions the engine's queue refused */
    bool poison;                     /* a hole: nothing after it can be acknowledged */
    bool last_is_mark, marked_since; /* what the newest acknowledged frame is */
    _Atomic unsigned marks;          /* marks in flight */
    bool in_tick, ready;
    bool dirty; /* the entries or the jobs need a look */
    struct mapio__wal_entry *seen_latest;
    int seen_sticky;
    _Atomic int job;
    struct mapio__wal_seg *job_seg;
    char job_old[MAPIO__WAL_NAME_MAX], job_new[MAPIO__WAL_NAME_MAX]; /* the job's paths */
    uint64_t spare_backoff; /* no spare after a failed one until the log moves past */
    _Atomic bool timer_armed;
    uint64_t timer_appends;
    mapio_req_t timer_req;
    /* Truncation: requests waiting, the target, and the job's work. */
    mapio_wal_req_t *trunc_head, *trunc_tail;
    uint64_t trunc_lsn;
    struct mapio__wal_seg *trunc_list; /* being removed (unlinked from segs) */
    mapio_wal_req_t *trunc_doing;      /* the requests the running job answers */
    int trunc_err, trunc_step;
    bool trunc_to_pool;
    mapio_req_t trunc_req;
    /* The recycling pool: ".free" files by their old number. */
    uint64_t *pool;
    unsigned npool, cap_pool;
    uint64_t first_segno; /* the oldest segment kept */
    _Atomic uint64_t first_lsn;

    /* Iterators: what they pin. */
    pthread_mutex_t lock_iter;
    struct mapio_wal_iter *iters;

    /* mapio_wal_new / _free waiting on another poller. */
    pthread_mutex_t wait_lock;
    pthread_cond_t wait_cv;
    _Atomic int waiters;

    mapio_wal_info_t rec; /* what recovery found */
};

struct mapio_wal_iter {
    struct mapio_wal *wal;
    struct mapio_wal_iter *next_iter;
    _Atomic uint64_t pin; /* the segment it reads (truncation keeps it) */
    uint64_t from;        /* records below it are skipped */
    uint64_t pos;         /* the next frame's LSN */
    uint64_t segno;
    mapio_map_t *map;
    const unsigned char *buf;
    size_t n;
    uint32_t align;
    mapio__wal_rec_iter_t rit;
    mapio__wal_frame_t fr;
    uint32_t index;
    bool in_frame;
};

/* ---- wal.c ----------------------------------------------------------------------- */

/* The log's own append of a watermark-only frame (poll thread). */
void mapio__wal_mark(struct mapio_wal *wal, bool closing);
/* Everything the polling thread does after a callback of the log. */
void mapio__wal_tick(struct mapio_wal *wal);
/* The error to report for a failed log (info, free): the first failed
 * batch's in LSN order, else the first error seen. Any thread. */
int mapio__wal_error(const struct mapio_wal *wal);
/* Fail the log with err (the first error wins). Any thread. */
void mapio__wal_fail(struct mapio_wal *wal, int err);
/* A segment object for segno (not in any list). NULL: out of memory. */
struct mapio__wal_seg *mapio__wal_seg_new(struct mapio_wal *wal, uint64_t segno, int state);
void mapio__wal_seg_free(struct mapio__wal_seg *seg);
/* Insert seg into wal->segs by number (lock_pub held). */
void mapio__wal_seg_insert(struct mapio_wal *wal, struct mapio__wal_seg *seg);
/* The first entry, mapping virtual 0 onto segment seg from off (open). */
int mapio__wal_first_entry(struct mapio_wal *wal, struct mapio__wal_seg *seg, uint64_t off);
/* Start making seg (a job); its state becomes READY or FAILED. */
void mapio__wal_create(struct mapio_wal *wal, struct mapio__wal_seg *seg);
/* Free every entry and op left (mapio_wal_free, after everything completed). */
void mapio__wal_release(struct mapio_wal *wal);
/* The names of segment segno ("%016llx.wal") and with a suffix. */
void mapio__wal_name(char *dst, uint64_t segno, const char *suffix);
/* The lowest segment an iterator pins (UINT64_MAX: none). */
uint64_t mapio__wal_pin_min(struct mapio_wal *wal);
/* Wake mapio_wal_new / _free waiting on another thread's polls. */
void mapio__wal_wake(struct mapio_wal *wal);

/* ---- wal_open.c -------------------------------------------------------------------- */

/* Poll wal->eng until done() is true (mapio_wal_new and _free). Returns 0,
 * or the poll's error. */
int mapio__wal_wait(struct mapio_wal *wal, bool (*done)(struct mapio_wal *, void *), void *arg);

/* ---- wal_dir_posix.c / wal_dir_win.c ----------------------------------------------- */

/* Call each(ctx, name) for every entry of directory path (not "." or "..").
 * Returns 0, each's first non-zero return, or the OS error. */
int mapio__wal_list_dir(const char *path, int (*each)(void *ctx, const char *name), void *ctx);
/* Let another thread run (a reservation waits for the crosser's entry). */
void mapio__wal_yield(void);

#endif
