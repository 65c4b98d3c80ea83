/*
 * mapio/ranges.h - many threads writing disjoint ranges of one fixed-size
 * mapped file, with no lock and no system call on the write path.
 *
 * A downloader, a parallel loader or a block writer knows the file's size up
 * front. mapio_ranged_new() maps it once; an allocator hands each writer
 * page-aligned ranges (the sequential one for a single owner, the atomic one
 * for many threads: one fetch-add per range); each writer memcpys into its
 * range and gets a receipt, the only thing that can flush that range.
 *
 * Unlike the ranged_mmap seed, every write checks at run time that the data
 * fills its range exactly and that the range lies inside the file (the seed
 * checks only in debug builds, so a long buffer there silently overwrites a
 * neighbour). mapio_ranged_write_unchecked() skips the checks and says so.
 *
 * Ranges are plain values: nothing stops a program from handing the same
 * range to two threads. What mapio guarantees is that each allocator never
 * hands out overlapping ranges, and that no write leaves its range.
 */
#ifndef MAPIO_RANGES_H
#define MAPIO_RANGES_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "errno.h"
#include "map.h"
#include "platform.h"

/* The half-open byte range [start, end) of a file. */
typedef struct mapio_range {
    uint64_t start, end;
} mapio_range_t;

/* mapio_range_len - the length of r. Returns the bytes in r (0 if it is
 * empty or malformed). Thread-safe. */
static inline uint64_t mapio_range_len(mapio_range_t r)
{
    return r.end > r.start ? r.end - r.start : 0;
}

/* ---- splitting at an aligned position ----------------------------------- */

typedef enum mapio_split {
    MAPIO_SPLIT = 0,          /* *low = [start, p), *high = [p, end) */
    MAPIO_SPLIT_LOW,          /* p reached the end: the whole range is *low */
    MAPIO_SPLIT_HIGH,         /* p fell to the start: the whole range is *high */
    MAPIO_SPLIT_OUT_OF_BOUNDS /* pos > the range's length: nothing written */
} mapio_split_t;

/*
 * mapio_range_split_up / mapio_range_split_down - split r at an aligned
 * position: start + pos rounded up (split_up) or down (split_down) to a
 * multiple of align (0: the runtime page size; otherwise any power of two,
 * 1 to 2^63), so both halves stay page-aligned for the flushes of their
 * writers. An align beyond the range rounds the point to 0 or past the end:
 * HIGH or LOW. The half that is not produced is set to the empty range {end,
 * end} (LOW) or {start, start} (HIGH). Returns the outcome;
 * MAPIO_SPLIT_OUT_OF_BOUNDS also for a malformed range (start > end, or end
 * above MAPIO_RANGE_MAX_TOTAL) or an align that is not a power of two.
 * Thread-safe.
 */
MAPIO_EXTERN mapio_split_t mapio_range_split_up(mapio_range_t r, uint64_t pos, uint64_t align,
                                                mapio_range_t *low, mapio_range_t *high);
MAPIO_EXTERN mapio_split_t mapio_range_split_down(mapio_range_t r, uint64_t pos, uint64_t align,
                                                  mapio_range_t *low, mapio_range_t *high);

/* ---- allocators ----------------------------------------------------------- */

/*
 * What an allocator has handed out, to save and resume it (a download that
 * continues after a restart): next is where the next range starts.
 */
typedef struct mapio_range_state {
    uint64_t next, total, align;
} mapio_range_state_t;

/* The largest total an allocator accepts (4 PiB). The bound keeps the atomic
 * allocator's counter from wrapping however long callers keep asking after
 * it ran dry (see mapio_range_atomic_alloc). */
#define MAPIO_RANGE_MAX_TOTAL (UINT64_C(1) << 52)

/*
 * The sequential allocator: a bump pointer for one owner (not thread-safe;
 * use the atomic one to share). Caller-allocated; the fields are private.
 */
typedef struct mapio_range_seq {
    mapio_range_state_t s;
} mapio_range_seq_t;

/*
 * mapio_range_seq_init - a sequential allocator that hands out [0, total) in
 * ranges aligned to align (0: the runtime page size, otherwise a power of two
 * up to MAPIO_RANGE_MAX_TOTAL: a rounded request must fit the int64_t count).
 * Returns 0, MAPIO_EINVAL (NULL, align not a power of two) or
 * MAPIO_EOVERFLOW (total or align above MAPIO_RANGE_MAX_TOTAL).
 * Not thread-safe: one owner per sequential allocator.
 */
MAPIO_EXTERN int mapio_range_seq_init(mapio_range_seq_t *a, uint64_t total, uint64_t align);

/*
 * mapio_range_seq_alloc - the next range: n bytes rounded up to the
 * alignment, clipped to total (so the last range may be shorter and end on an
 * unaligned file size). Returns 0 and sets *out, MAPIO_ENOSPC once
 * everything is handed out, MAPIO_EINVAL (NULL, n = 0) or MAPIO_EOVERFLOW (n
 * larger than the allocator's total). Not thread-safe: one owner per
 * sequential allocator (mapio_range_atomic_alloc is the shared one).
 */
MAPIO_EXTERN int mapio_range_seq_alloc(mapio_range_seq_t *a, uint64_t n, mapio_range_t *out);

/* mapio_range_seq_remaining - returns the bytes not yet handed out. Not
 * thread-safe: one owner per sequential allocator. */
MAPIO_EXTERN uint64_t mapio_range_seq_remaining(const mapio_range_seq_t *a);

/* mapio_range_seq_save / mapio_range_seq_restore - save the state of a
 * sequential allocator, and resume one from a saved state, which restore
 * validates first. Returns the state (save); 0, MAPIO_EINVAL (NULL, align
 * not a power of two, next not aligned and not total) or MAPIO_EOVERFLOW (as
 * mapio_range_seq_init) (restore). Not thread-safe: one owner per sequential
 * allocator. */
MAPIO_EXTERN mapio_range_state_t mapio_range_seq_save(const mapio_range_seq_t *a);
MAPIO_EXTERN int mapio_range_seq_restore(mapio_range_seq_t *a, const mapio_range_state_t *st);

/*
 * The atomic allocator: any number of threads allocate concurrently with one
 * atomic fetch-add each (lock-free, no retry loop). Heap-allocated because it
 * holds a C11 atomic.
 */
typedef struct mapio_range_atomic mapio_range_atomic_t;

/* mapio_range_atomic_new - create an atomic allocator over [0, total).
 * Arguments as mapio_range_seq_init. Returns 0 and sets *out, an error as
 * mapio_range_seq_init, or MAPIO_ENOMEM. Thread-safe. */
MAPIO_EXTERN int mapio_range_atomic_new(mapio_range_atomic_t **out, uint64_t total, uint64_t align);
/* mapio_range_atomic_restore - create an atomic allocator that resumes a
 * saved state. Returns 0 and sets *out, an error as mapio_range_seq_restore,
 * or MAPIO_ENOMEM. Thread-safe. */
MAPIO_EXTERN int mapio_range_atomic_restore(mapio_range_atomic_t **out,
                                            const mapio_range_state_t *st);
/* mapio_range_atomic_free - free an atomic allocator. Returns 0 (NULL is
 * fine). Must not run concurrently with any other call on a. */
MAPIO_EXTERN int mapio_range_atomic_free(mapio_range_atomic_t *a);

/*
 * mapio_range_atomic_alloc - the next range, as mapio_range_seq_alloc.
 * Returns as mapio_range_seq_alloc. Thread-safe and lock-free. Callers that
 * find it exhausted pull the counter back to total, so it never wraps around
 * into ranges already handed out (the seed's counter grows without bound).
 */
MAPIO_EXTERN int mapio_range_atomic_alloc(mapio_range_atomic_t *a, uint64_t n, mapio_range_t *out);

/* mapio_range_atomic_remaining - returns the bytes not yet handed out (a
 * snapshot). Thread-safe. */
MAPIO_EXTERN uint64_t mapio_range_atomic_remaining(const mapio_range_atomic_t *a);

/* mapio_range_atomic_save - returns a snapshot of the state (consistent when
 * no allocation runs), for mapio_range_atomic_restore. Thread-safe. */
MAPIO_EXTERN mapio_range_state_t mapio_range_atomic_save(const mapio_range_atomic_t *a);

/* ---- the file ------------------------------------------------------------- */

typedef struct mapio_ranged mapio_ranged_t;

/* Proof that [start, end) of one particular open file was written; the only
 * way to flush a range. A receipt of another file is refused. */
typedef struct mapio_receipt {
    uint64_t start, end;
    uint64_t owner; /* private: which open file wrote it */
} mapio_receipt_t;

/*
 * mapio_ranged_new - create path (or empty an existing file) with exactly
 * size bytes and map it read-write, shared. The blocks are reserved here (see
 * mapio_map_new), so a file system without room says MAPIO_ENOSPC now, not
 * SIGBUS in a writer; the file is then left empty. Returns 0 and sets *out,
 * MAPIO_EINVAL (NULL, size 0),
 * MAPIO_EOVERFLOW (size above MAPIO_RANGE_MAX_TOTAL or not mappable here),
 * MAPIO_ENOSPC, or the open / truncate / mmap error. Thread-safe.
 */
MAPIO_EXTERN int mapio_ranged_new(mapio_ranged_t **out, const char *path, uint64_t size);

/* mapio_ranged_new_existing - map an existing file whole (its holes
 * reserved, as mapio_ranged_new does). Returns as mapio_ranged_new, and
 * MAPIO_EINVAL for an empty file (there is nothing to write into).
 * Thread-safe. */
MAPIO_EXTERN int mapio_ranged_new_existing(mapio_ranged_t **out, const char *path);

/* mapio_ranged_free - unmap and close. Writes already made stay in the page
 * cache (and reach the file); call mapio_ranged_sync first to make them
 * durable. Returns 0 (also for NULL, as every destructor) or the first
 * error of unmap / close (f is freed either way). Must not run concurrently
 * with any other call on f. */
MAPIO_EXTERN int mapio_ranged_free(mapio_ranged_t *f);

/* mapio_ranged_size - returns the file's size (0 for NULL). Thread-safe. */
MAPIO_EXTERN uint64_t mapio_ranged_size(const mapio_ranged_t *f);

/* mapio_ranged_map - the underlying map, for everything else (read, zero,
 * advise, lock). Returns it (NULL for NULL); it lives until
 * mapio_ranged_free. Thread-safe. */
MAPIO_EXTERN mapio_map_t *mapio_ranged_map(mapio_ranged_t *f);

/*
 * mapio_ranged_write - copy len bytes into range r: a memcpy into the
 * mapping, no lock, no system call. len must equal r's length and r must lie
 * inside the file. Fills *receipt (may be NULL). Returns 0, MAPIO_EINVAL
 * (NULL, len differs from the range, a malformed range) or MAPIO_ERANGE (past
 * the end of the file). Thread-safe for disjoint ranges.
 */
MAPIO_EXTERN int mapio_ranged_write(mapio_ranged_t *f, mapio_range_t r, const void *data,
                                    size_t len, mapio_receipt_t *receipt);

/*
 * mapio_ranged_write_part - copy len bytes at offset off inside r (a writer
 * filling its range piece by piece); the receipt covers just those bytes.
 * Returns as mapio_ranged_write, and MAPIO_ERANGE if [off, off + len) leaves
 * the range. Thread-safe for disjoint ranges.
 */
MAPIO_EXTERN int mapio_ranged_write_part(mapio_ranged_t *f, mapio_range_t r, uint64_t off,
                                         const void *data, size_t len, mapio_receipt_t *receipt);

/* mapio_ranged_write_unchecked - the fast variant of mapio_ranged_write: no
 * check of anything, no receipt. Writing outside the file is undefined
 * behaviour (a fault or a neighbour overwritten). Thread-safe for disjoint
 * ranges. */
MAPIO_EXTERN void mapio_ranged_write_unchecked(mapio_ranged_t *f, uint64_t off, const void *data,
                                               size_t len);

/*
 * mapio_ranged_read - copy range r out into buf (cap bytes). Returns r's
 * length, MAPIO_EINVAL (NULL, buf too small, malformed range) or MAPIO_ERANGE
 * (past the end). Thread-safe; concurrent with a writer of r it sees some
 * mix of old and new bytes.
 */
MAPIO_EXTERN int64_t mapio_ranged_read(const mapio_ranged_t *f, mapio_range_t r, void *buf,
                                       size_t cap);

/* mapio_ranged_flush flags. */
enum {
    MAPIO_RANGED_FLUSH_ASYNC = 1u << 0, /* start the write-back, do not wait */
};

/*
 * mapio_ranged_flush - write the receipt's bytes back to the file:
 * synchronously (durable when it returns, msync MS_SYNC on the pages) or,
 * with MAPIO_RANGED_FLUSH_ASYNC, only started (sync_file_range on Linux;
 * MS_ASYNC is a no-op there). Returns 0, MAPIO_EINVAL (NULL, a receipt of
 * another file, a forged range, unknown flags) or the OS error. Thread-safe.
 */
MAPIO_EXTERN int mapio_ranged_flush(mapio_ranged_t *f, const mapio_receipt_t *receipt,
                                    unsigned flags);

/* mapio_ranged_sync - make the whole file durable (every range written so
 * far). Returns 0, MAPIO_EINVAL (NULL) or the OS error. Thread-safe; writes
 * racing with it may or may not be included. */
MAPIO_EXTERN int mapio_ranged_sync(mapio_ranged_t *f);

#ifdef __cplusplus
}
#endif

#endif
