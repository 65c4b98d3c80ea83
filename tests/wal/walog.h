/*
 * tests/wal/walog.h - helpers of the log's tests (mapio/wal.h): the engine
 * under test, batches whose records say who they are, a scan of a log
 * directory that checks what it finds, and directory copies for crash
 * images.
 */
#ifndef MAPIO_TESTS_WALOG_H
#define MAPIO_TESTS_WALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mapio.h"

/* The backend under test (MAPIO_BACKEND, which must be set). */
const char *wl_backend(void);
mapio_engine_t *wl_engine(void);

/* ---- records that say who they are ---------------------------------------------------------- */

#define WL_REC_MIN 16u /* id u64, index u32, len u32, then a pattern */

/* Record index of batch id, len >= WL_REC_MIN bytes, at p. */
void wl_rec_fill(unsigned char *p, uint32_t len, uint64_t id, uint32_t index);
/* 1 if the len bytes at p are such a record (*id, *index set), else 0. */
int wl_rec_check(const void *p, uint32_t len, uint64_t *id, uint32_t *index);

#define WL_MAX_RECS 8
typedef struct wl_batch {
    uint64_t id;
    unsigned n;
    mapio_iovec_t rec[WL_MAX_RECS];
    unsigned char store[WL_MAX_RECS * 600];
} wl_batch_t;

/* A batch of 1..maxn records of WL_REC_MIN..maxlen bytes (<= 600). */
void wl_batch(wl_batch_t *b, uint64_t id, unsigned maxn, uint32_t maxlen, uint64_t *seed);

/* ---- what a log holds ---------------------------------------------------------------------------
 */

typedef struct wl_seen {
    uint64_t max_id; /* ids 1..max_id are tracked */
    uint32_t *recs;  /* records seen per id */
    uint32_t *count; /* the batch's count as its records say */
    uint64_t *lsn;   /* the batch's LSN */
    uint64_t batches, records, foreign;
    int bad_order; /* LSNs went backwards, or a batch's records were apart */
    int open_err, iter_err;
    mapio_wal_info_t info;
} wl_seen_t;

/* Open the log in dir with opts (no CREATE needed) on a new engine, read
 * every record, close it. Fills *s (wl_seen_free it). */
void wl_scan(const char *dir, const mapio_wal_opts_t *opts, uint64_t max_id, wl_seen_t *s);
void wl_seen_free(wl_seen_t *s);
/* Batch id is there whole (n records, at lsn when lsn != 0). */
bool wl_has(const wl_seen_t *s, uint64_t id, unsigned n, uint64_t lsn);
/* No batch is there in part. */
bool wl_no_partial(const wl_seen_t *s);

/* ---- files --------------------------------------------------------------------------------------
 */

/* The names in dir (up to max, sorted); returns how many. Free each. */
size_t wl_list(const char *dir, char **names, size_t max);
/* How many names in dir end with suffix. */
size_t wl_count(const char *dir, const char *suffix);
/* dir/name (caller frees). */
char *wl_join(const char *dir, const char *name);
/* Copy every file of src into the new directory dst. */
void wl_copy_dir(const char *src, const char *dst);
/* Read a whole file (caller frees); *n its size. */
unsigned char *wl_slurp(const char *path, size_t *n);

/* Poll eng until *flag is set (a callback sets it). */
void wl_poll_until(mapio_engine_t *eng, volatile int *flag);

#endif
