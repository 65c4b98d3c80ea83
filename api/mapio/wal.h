/*
 * mapio/wal.h - a segmented write-ahead log on the engine's group commit.
 *
 * A log is a directory of segment files of one size, preallocated ahead of
 * the writer so that appends overwrite in place. Any thread appends a batch
 * of records and gets its LSN (log sequence number: a byte position in the
 * log) at once; the callback runs once the batch is durable, in LSN order.
 * Batches are atomic: after a crash a batch is there whole or not at all.
 * Underneath, each append is one mapio_commit: concurrent appenders share
 * fdatasyncs, with no timer. docs/wal.md has the format, the recovery rule
 * and the durability contract.
 *
 * Conventions, as for the engine (mapio/engine.h): calls return 0 or a
 * count, or a negative errno; a call that takes a callback and fails never
 * runs it; every accepted request completes exactly once; callbacks run
 * only inside mapio_engine_poll (or run, or the log's own new and free), on
 * the polling thread. A log uses one engine, which must outlive it.
 */
#ifndef MAPIO_WAL_H
#define MAPIO_WAL_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "errno.h"
#include "platform.h"

typedef struct mapio_wal mapio_wal_t;
typedef struct mapio_wal_iter mapio_wal_iter_t;

/* mapio_wal_opts_t.flags. */
enum {
    /* Create the directory, and a new log in it, when there is none.
     * Without it a directory with no segment is MAPIO_ENOENT. */
    MAPIO_WAL_CREATE = 1u << 0,
    /* O_DIRECT segments: every batch is padded to whole blocks, so no block
     * that holds an acknowledged batch is ever written again. */
    MAPIO_WAL_DIRECT = 1u << 1,
    /* Delete the segments mapio_wal_truncate_before frees instead of
     * keeping up to `spares` of them for reuse (reuse skips making a new
     * segment: its fallocate and its writing with zeros). */
    MAPIO_WAL_NO_RECYCLE = 1u << 2,
    /* Never write the watermark-only batch an idle log otherwise writes
     * idle_mark_ms after its last append (docs/wal.md, "The last frame"):
     * the last batches before a pause are then protected only from
     * mapio_wal_free on. */
    MAPIO_WAL_NO_IDLE_MARK = 1u << 3,
};

/* What recovery accepts (mapio_wal_opts_t.recovery): RocksDB's WAL
 * recovery modes, with a proof instead of a guess (docs/wal.md). */
typedef enum mapio_wal_recovery {
    /* A torn tail (batches in flight at the crash) ends the log; damage to
     * an acknowledged batch is MAPIO_EBADMSG. The default. */
    MAPIO_WAL_TOLERATE_TAIL = 0,
    /* The first invalid batch ends the log, whatever follows it. */
    MAPIO_WAL_POINT_IN_TIME = 1,
    /* Anything but a clean end is MAPIO_EBADMSG, a torn tail too.
     * Truncated segments are then deleted, never reused (their stale bytes
     * would read as a torn tail). */
    MAPIO_WAL_ABSOLUTE = 2,
} mapio_wal_recovery_t;

/* Options of mapio_wal_new; all zero is a fine start. */
typedef struct mapio_wal_opts {
    /* Bytes per segment for a new log: a power of two from 64 KiB to 4 GiB;
     * 0 = 64 MiB. An existing log keeps its own (another non-zero value is
     * MAPIO_EINVAL). */
    uint64_t segment_size;
    /* Recover from this LSN (a batch's, or a segment's first byte: what a
     * checkpoint kept); 0 = from the oldest segment. */
    uint64_t start_lsn;
    unsigned flags;    /* MAPIO_WAL_* */
    unsigned recovery; /* mapio_wal_recovery_t */
    /* Segments kept preallocated ahead of the one being written, and at
     * most this many truncated ones kept for reuse; 0 = 1, at most 64. */
    unsigned spares;
    /* Appends accepted and not yet completed; beyond it mapio_wal_append
     * returns MAPIO_EAGAIN. 0 = 1024. The engine's own max_inflight must
     * leave room for them (each holds one engine request). */
    unsigned max_inflight;
    /* MAPIO_WAL_DIRECT: the block batches are padded to, a power of two
     * from 512 to 4096 and at least the file system's O_DIRECT alignment;
     * 0 = that alignment (512 at least). Ignored without the flag. */
    uint32_t block_size;
    /* How long the log waits after its last append before it writes the
     * watermark-only batch; 0 = 100 ms. */
    unsigned idle_mark_ms;
} mapio_wal_opts_t;

typedef struct mapio_wal_req mapio_wal_req_t;
typedef void (*mapio_wal_cb_t)(mapio_wal_req_t *req);

/*
 * A request of the log: an append or a truncation. Caller-allocated, need
 * not be initialised; the submitting call fills the public fields. It must
 * stay valid until its callback has run, and may be resubmitted from it.
 * ABI: its size (80 bytes, 8-aligned, on 64-bit targets) and field offsets
 * are pinned by tests/install/abi_layout.h.
 */
struct mapio_wal_req {
    void *data;        /* yours */
    mapio_wal_cb_t cb; /* runs once, inside mapio_engine_poll */
    int64_t result;    /* 0 (durable; truncated), or a negative errno */
    /* Append: the batch's LSN, set before mapio_wal_append returns. Record
     * i of the batch is at lsn + 32 + the sum over j < i of 4 + its
     * length (the LSNs the iterator reports). An append of no records:
     * set when it completes, to the durable end of the log. Truncation:
     * the lsn asked for. */
    uint64_t lsn;
    /* Append: the LSN just past the batch (a later batch's LSN is at least
     * this); 0 for no records. */
    uint64_t end_lsn;
    mapio_wal_t *wal; /* the log */
    union {
        uint64_t align;
        void *ptr;
        unsigned char bytes[32];
    } priv; /* the log's */
};

/* What mapio_wal_info tells. */
typedef struct mapio_wal_info {
    uint64_t log_id;       /* chosen when the log was created; in every segment */
    uint64_t segment_size; /* bytes per segment */
    uint32_t block_size;   /* 0 (buffered: batches 8-aligned) or the O_DIRECT block */
    uint32_t segments;     /* segment files holding the log (spares excluded) */
    uint32_t spares;       /* preallocated segments ahead of the writer */
    uint32_t recycle;      /* truncated segments kept for reuse */
    uint64_t first_lsn;    /* where the kept log begins (iterators start no lower) */
    uint64_t durable_lsn;  /* every batch below it is durable and acknowledged */
    uint64_t appended;     /* batches acknowledged since the log was opened */
    int error;             /* 0, or the error that failed the log (see mapio_wal_append) */
    /* What the recovery at open found: MAPIO_WAL_END_CLEAN, _TORN or
     * _CORRUPT (accepted only by MAPIO_WAL_POINT_IN_TIME). */
    uint32_t recovered;
    uint64_t recovered_lsn;     /* where the valid log ended: appending went on there */
    uint64_t recovered_batches; /* batches from start_lsn (or the oldest segment) to it */
    uint64_t recovered_records; /* their records */
    uint64_t erased_bytes;      /* bytes past it zeroed (a torn tail's in-flight batches) */
} mapio_wal_info_t;

/* mapio_wal_info_t.recovered. */
enum {
    MAPIO_WAL_END_CLEAN = 0,   /* nothing valid after the end */
    MAPIO_WAL_END_TORN = 1,    /* a torn tail: batches in flight at a crash, never acknowledged */
    MAPIO_WAL_END_CORRUPT = 2, /* an acknowledged batch was damaged */
};

/* A record, as the iterator hands it out. */
typedef struct mapio_wal_record {
    const void *data;   /* its bytes, in the segment's mapping: valid until the next call */
    uint64_t lsn;       /* its LSN */
    uint64_t batch_lsn; /* its batch's LSN */
    uint64_t next_lsn;  /* just past its batch: start an iterator here to resume after it */
    uint32_t len;       /* bytes */
    uint32_t index;     /* its place in the batch, from 0 */
    uint32_t count;     /* records in the batch */
    uint32_t reserved;  /* 0 */
} mapio_wal_record_t;

/*
 * mapio_wal_new - open the log in directory dir (created with
 * MAPIO_WAL_CREATE) on eng, recover it and get it ready to append.
 * Recovery finds the segments, scans the log from opts->start_lsn (or the
 * oldest segment) to its first invalid batch, decides by opts->recovery
 * whether that is a torn tail or corruption (docs/wal.md), zeroes what lies
 * past the end, makes the log durable, and appending goes on at its end.
 * The directory is locked (its file LOCK) while the log is open. This call
 * blocks: it reads the log and polls eng for the engine requests it makes,
 * running the callbacks of other requests of eng as mapio_engine_poll
 * would; the spares are created afterwards, as the engine is polled.
 * Returns 0 and sets *out, or MAPIO_EINVAL (NULL argument, a bad option, a
 * segment_size other than the log's), MAPIO_ENOENT (no log and no
 * MAPIO_WAL_CREATE; start_lsn's segment is gone), MAPIO_EBADMSG (the policy
 * refuses what recovery found, or the segments belong to different logs),
 * MAPIO_EBUSY (another handle has the log open; eng is being polled by
 * another thread, or this is one of its callbacks), MAPIO_ENOMEM, or the
 * error of an engine request or of the file system (MAPIO_EACCES,
 * MAPIO_ENOSPC, MAPIO_EIO, ...). On error nothing is left open.
 * Call from a thread that may poll eng: not from inside one of its
 * callbacks, and not while another thread polls it.
 */
MAPIO_EXTERN int mapio_wal_new(mapio_wal_t **out, mapio_engine_t *eng, const char *dir,
                               const mapio_wal_opts_t *opts);

/*
 * mapio_wal_free - close the log: wait for the requests accepted to
 * complete (their callbacks run on this thread), write and sync a
 * watermark-only batch that vouches for the last one (docs/wal.md), with
 * zeros after it so that the log reopens with a clean end (recycled
 * segments included), close the segments and the directory and release
 * everything. No append may be
 * submitted once it has been called. Returns 0 (also for NULL), the error
 * that failed the log if one did, or the first error met while closing
 * (everything is released all the same); MAPIO_EBUSY (nothing done) when
 * called from inside a callback of the log's engine or while another thread
 * polls it. Must not run concurrently with any other call on the log.
 */
MAPIO_EXTERN int mapio_wal_free(mapio_wal_t *wal);

/*
 * mapio_wal_append - append the n records as one batch: all of them survive
 * a crash or none does. The records are copied before the call returns (the
 * buffers may be reused at once); req->lsn is the batch's LSN from then on.
 * cb runs once the batch and every batch before it are durable, in LSN
 * order. n = 0 appends nothing: cb runs once every batch appended before
 * the call is durable, with req->lsn the log's durable end.
 * Result: 0 once durable; MAPIO_ENOSPC (the segment it needed could not be
 * preallocated: the log goes on, the next append tries again); the error of
 * a failed write or sync (for every waiter of that sync) or MAPIO_EIO (the
 * batches after it): a failure of a write, a data sync or a directory sync
 * fails the log, and every later append returns MAPIO_EIO until it is
 * closed and reopened (a failed fdatasync may have dropped written data);
 * MAPIO_ECANCELED (the engine is being freed).
 * Returns 0 if accepted, else (cb never runs): MAPIO_EINVAL (NULL wal, req
 * or cb; NULL records with n > 0; n above what a segment holds),
 * MAPIO_EFAULT (a NULL record with a length), MAPIO_EFBIG (the batch does
 * not fit one segment), MAPIO_EAGAIN (max_inflight appends in flight),
 * MAPIO_EIO (the log has failed), MAPIO_ENOMEM, MAPIO_ECANCELED (the log is
 * being freed).
 * Thread-safe: any number of threads append at once (the space is reserved
 * with one atomic add; no lock unless a segment fills up).
 */
MAPIO_EXTERN int mapio_wal_append(mapio_wal_t *wal, mapio_wal_req_t *req,
                                  const mapio_iovec_t *records, unsigned n, mapio_wal_cb_t cb);

/*
 * mapio_wal_truncate_before - the caller's checkpoint: the records below
 * lsn are no longer needed. Every segment that holds only LSNs below lsn,
 * the durable end and the segments iterators are reading, is deleted, or
 * renamed for reuse (up to `spares` of them, unless MAPIO_WAL_NO_RECYCLE or
 * MAPIO_WAL_ABSOLUTE), and the directory is synced; cb runs then. Segments
 * kept for an iterator go at a later call. A reopened log starts at the
 * oldest segment left. Result: 0, or the error of an unlink, a rename or the
 * directory sync (which fails the log, as a failed sync does).
 * Returns 0 if accepted, else (cb never runs) MAPIO_EINVAL (NULL wal, req
 * or cb), MAPIO_EIO (the log has failed), MAPIO_ECANCELED (being freed).
 * Thread-safe.
 */
MAPIO_EXTERN int mapio_wal_truncate_before(mapio_wal_t *wal, mapio_wal_req_t *req, uint64_t lsn,
                                           mapio_wal_cb_t cb);

/* mapio_wal_info - a snapshot of the log into *out. Returns 0 or
 * MAPIO_EINVAL (NULL). Thread-safe; the fields are read one by one. */
MAPIO_EXTERN int mapio_wal_info(const mapio_wal_t *wal, mapio_wal_info_t *out);

/*
 * mapio_wal_iter_new - an iterator over the durable records of wal, from
 * the first whose LSN is at least from_lsn (0: the first kept), for replay
 * and replication. It reads the segments through read-only mappings, and
 * keeps mapio_wal_truncate_before from removing the one it is in.
 * Returns 0 and sets *out, or MAPIO_EINVAL (NULL), MAPIO_ENOENT (from_lsn is
 * below the kept log: truncated) or MAPIO_ENOMEM. Thread-safe; an iterator
 * is used by one thread at a time, and freed before its log.
 */
MAPIO_EXTERN int mapio_wal_iter_new(mapio_wal_iter_t **out, mapio_wal_t *wal, uint64_t from_lsn);

/*
 * mapio_wal_iter_next - the next durable record into *rec: its bytes point
 * into the mapping and stay valid until the next call on it. At the durable
 * end it returns 0; a later call goes on with what has become durable since
 * (a replica tails the log this way). Returns 1 (a record), 0 (none now),
 * MAPIO_EINVAL (NULL), MAPIO_EBADMSG (a batch below the durable end does not
 * check out: the log was damaged after it was written), or the error of
 * mapping a segment. One thread at a time per iterator; any thread.
 */
MAPIO_EXTERN int mapio_wal_iter_next(mapio_wal_iter_t *it, mapio_wal_record_t *rec);

/* mapio_wal_iter_free - release an iterator and its mapping (NULL is fine).
 * Returns 0. One thread at a time per iterator; any thread. */
MAPIO_EXTERN int mapio_wal_iter_free(mapio_wal_iter_t *it);

#ifdef __cplusplus
}
#endif

#endif
