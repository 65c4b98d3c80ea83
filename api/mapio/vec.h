/*
 * mapio/vec.h - a growable array of fixed-size elements kept in a mapped file
 * (the mmap-vec seed): as easy as a heap vector, but its bytes live in the
 * page cache, so a vector far larger than RAM can be filled and the kernel
 * writes cold parts back instead of swapping.
 *
 * Growth doubles the capacity by growing the file and the mapping (mremap on
 * Linux, map-new-then-unmap elsewhere) - no element is copied by mapio, but
 * the mapping may move: a pointer from mapio_vec_at() is valid only until the
 * next call that can grow (push, reserve). Elements of any size work,
 * including ones larger than a page (the seed divides by zero there).
 *
 * A vector is not thread-safe: one thread at a time (or your own lock). The
 * process-wide statistics are.
 */
#ifndef MAPIO_VEC_H
#define MAPIO_VEC_H

#include <stddef.h>
#include <stdint.h>

#include "errno.h"
#include "platform.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mapio_vec mapio_vec_t;

/*
 * Choose the segment file's path: write a NUL-terminated path of at most cap
 * bytes into buf and return 0, or a negative errno (the vector is then not
 * created). The file must not exist yet; it is created exclusively and
 * removed when the vector is freed.
 */
typedef int (*mapio_vec_path_fn)(void *ctx, char *buf, size_t cap);

typedef struct mapio_vec_opts {
    /* NULL: a random name under $XDG_CACHE_HOME/mapio, else $TMPDIR, else
     * /tmp (the directory is created if missing). */
    mapio_vec_path_fn path;
    void *ctx;
    uint64_t capacity; /* elements to reserve at once (0: none, no mapping) */
} mapio_vec_opts_t;

/*
 * Create an empty vector of elements of elem_size bytes (opts may be NULL).
 * Returns 0, MAPIO_EINVAL (NULL out, elem_size 0), MAPIO_EOVERFLOW (the
 * capacity in bytes overflows), MAPIO_ENAMETOOLONG, the path callback's
 * error, or the OS error of creating / sizing / mapping the file (nothing is
 * left behind). Thread-safe.
 */
MAPIO_EXTERN int mapio_vec_new(mapio_vec_t **out, size_t elem_size, const mapio_vec_opts_t *opts);

/* Unmap, close and remove the segment file. NULL is fine. Returns 0 or the
 * first OS error (the vector is freed either way). */
MAPIO_EXTERN int mapio_vec_free(mapio_vec_t *v);

/* A new vector with the same elements, in a segment of its own, chosen the
 * way v's was. Returns as mapio_vec_new. */
MAPIO_EXTERN int mapio_vec_clone(mapio_vec_t **out, const mapio_vec_t *v);

MAPIO_EXTERN uint64_t mapio_vec_len(const mapio_vec_t *v);
MAPIO_EXTERN uint64_t mapio_vec_capacity(const mapio_vec_t *v);
MAPIO_EXTERN size_t mapio_vec_elem_size(const mapio_vec_t *v);
/* The segment file's path (valid until free). */
MAPIO_EXTERN const char *mapio_vec_path(const mapio_vec_t *v);

/* Element i, or NULL if i >= len. Valid until the next push or reserve. */
MAPIO_EXTERN void *mapio_vec_at(const mapio_vec_t *v, uint64_t i);

/* Copy element i out / in. Return 0, MAPIO_ERANGE (i >= len), MAPIO_EINVAL. */
MAPIO_EXTERN int mapio_vec_get(const mapio_vec_t *v, uint64_t i, void *out);
MAPIO_EXTERN int mapio_vec_set(mapio_vec_t *v, uint64_t i, const void *elem);

/* Append a copy of elem, growing if full. Returns 0, MAPIO_EINVAL, or a
 * growth error (as mapio_vec_reserve: the vector is then unchanged). */
MAPIO_EXTERN int mapio_vec_push(mapio_vec_t *v, const void *elem);

/* Remove the last element, copying it to out (may be NULL). Returns 0,
 * MAPIO_ERANGE (empty) or MAPIO_EINVAL. */
MAPIO_EXTERN int mapio_vec_pop(mapio_vec_t *v, void *out);

/* Keep the first n elements (n >= len: nothing happens). The capacity and
 * the file stay. Returns 0 or MAPIO_EINVAL. */
MAPIO_EXTERN int mapio_vec_truncate(mapio_vec_t *v, uint64_t n);

/* Drop the first n elements, moving the rest to the front. Returns 0,
 * MAPIO_ERANGE (n > len) or MAPIO_EINVAL. */
MAPIO_EXTERN int mapio_vec_truncate_front(mapio_vec_t *v, uint64_t n);

/* len = 0 (capacity and file stay). */
MAPIO_EXTERN void mapio_vec_clear(mapio_vec_t *v);

/*
 * Make room for at least `additional` more elements: the capacity at least
 * doubles (rounded up to whole pages). Returns 0, MAPIO_EINVAL,
 * MAPIO_EOVERFLOW, or the OS error of growing the file or the mapping - the
 * vector is then unchanged and still usable.
 */
MAPIO_EXTERN int mapio_vec_reserve(mapio_vec_t *v, uint64_t additional);

/* Ask the kernel to read ahead all of it, or the page(s) of element i.
 * Returns 0, MAPIO_ERANGE (i >= len) or the OS error. */
MAPIO_EXTERN int mapio_vec_prefetch(mapio_vec_t *v);
MAPIO_EXTERN int mapio_vec_prefetch_at(mapio_vec_t *v, uint64_t i);

/*
 * Let go of the memory of elements [first, first + n): written back and
 * dropped from this process (they stay in the file and come back on the next
 * access). A writer filling a vector larger than RAM calls it behind itself.
 * Returns 0, MAPIO_ERANGE or the OS error.
 */
MAPIO_EXTERN int mapio_vec_evict(mapio_vec_t *v, uint64_t first, uint64_t n);

/* Process-wide counters, over every vector. Thread-safe. */
typedef struct mapio_vec_stats {
    uint64_t active_mappings;  /* vectors with a live mapping */
    uint64_t failed_truncates; /* growing or creating a segment file failed */
    uint64_t failed_maps;      /* mmap / mremap failed */
    uint64_t failed_unmaps;    /* munmap failed */
} mapio_vec_stats_t;

MAPIO_EXTERN void mapio_vec_stats(mapio_vec_stats_t *out);

#ifdef __cplusplus
}
#endif

#endif
