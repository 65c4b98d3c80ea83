/*
 * mapio/vec.h - a growable array of fixed-size elements kept in a mapped file
 * (the mmap-vec seed): a scratch vector that can be far larger than RAM,
 * because its pages are file pages the kernel can write back and drop,
 * instead of anonymous memory it would have to swap.
 *
 * Growth. When a push finds the vector full, the capacity doubles (in bytes,
 * rounded up to whole pages; at least one page): the file grows with
 * ftruncate, its new blocks are reserved (fallocate: allocated, not written;
 * see docs/map.md), and the mapping grows with mremap where the system has
 * it, else a new mapping of the whole file replaces the old one. mapio copies
 * no element either way - both mappings share the page cache - but THE
 * MAPPING MAY MOVE: a pointer from mapio_vec_at / mapio_vec_ptr /
 * mapio_vec_data is valid only until the next call that can grow or shrink
 * the vector (push, push_n, resize, reserve, shrink_to_fit) or free. Within
 * the capacity nothing moves: after mapio_vec_reserve(v, n), n pushes keep
 * every pointer valid. Elements of any size work, including ones larger than
 * a page (the seed divides by zero there).
 *
 * A failed growth (the file cannot grow or get its blocks, the mapping cannot
 * be made) returns the OS error - a full disk is MAPIO_ENOSPC from the push,
 * never SIGBUS on a store - and leaves the vector exactly as it was: same
 * elements, same capacity, same file size, still usable.
 *
 * The segment file is created exclusively (O_EXCL, mode 0600) at a path a
 * callback chooses - by default a random name under $XDG_CACHE_HOME/mapio,
 * else $TMPDIR, else /tmp - and, unless MAPIO_VEC_KEEP_NAME is set, unlinked
 * at once: the open descriptor keeps the data alive, and a crash leaves
 * nothing behind on disk. See docs/vec.md.
 *
 * Threading: a vector is a plain data structure - calls that change it
 * (everything but the read-only accessors) need the caller's exclusion;
 * reading elements from many threads at once is fine while nobody changes the
 * vector. Different vectors are independent. The statistics and the path
 * callbacks below are thread-safe.
 *
 * Element counts and indexes are size_t: a vector lives in the address space,
 * so they always fit.
 */
#ifndef MAPIO_VEC_H
#define MAPIO_VEC_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "errno.h"
#include "platform.h"

typedef struct mapio_vec mapio_vec_t;

/* The buffer size a path callback gets, terminating NUL included. */
#define MAPIO_VEC_PATH_MAX 4096

/*
 * Chooses where a segment file goes: write a NUL-terminated path into buf
 * (cap bytes) and return 0, or return a negative errno - the vector is then
 * not created and nothing is left behind. The file must not exist: it is
 * created with O_EXCL. If it does exist, the callback is asked again (up to
 * 8 times in all) before init fails with MAPIO_EEXIST, so a callback that
 * makes names up can simply make up another one. Called on the thread that
 * creates the vector.
 */
typedef int (*mapio_vec_path_fn)(void *ctx, char *buf, size_t cap);

enum {
    /* Keep the segment's name until mapio_vec_free (which removes it) instead
     * of unlinking it right after creation: `ls` and `du` then see it, and it
     * is left behind if the process dies. */
    MAPIO_VEC_KEEP_NAME = 1u << 0,
};

typedef struct mapio_vec_opts {
    mapio_vec_path_fn path_fn; /* NULL: mapio_vec_default_path */
    void *path_ctx;            /* handed to path_fn */
    unsigned flags;            /* MAPIO_VEC_* */
    unsigned mode;             /* permission bits of the file (<= 07777); 0 = 0600 */
} mapio_vec_opts_t;

/*
 * mapio_vec_default_path - the default path callback (ctx is ignored): a
 * random 128-bit name, "mapio-vec-<32 hex digits>", in $XDG_CACHE_HOME/mapio
 * (an absolute XDG_CACHE_HOME only, as the XDG spec says; the directories are
 * created with mode 0700 if missing; if that fails the next choice is used),
 * else in $TMPDIR, else in /tmp. The variables are ignored in set-uid and
 * set-gid programs. Returns 0 or MAPIO_ENAMETOOLONG / MAPIO_EINVAL.
 * Thread-safe (it reads the environment: do not setenv concurrently).
 * Mind that /tmp is a tmpfs (RAM and swap) on many systems: point
 * XDG_CACHE_HOME or TMPDIR at a disk for vectors larger than RAM.
 */
MAPIO_EXTERN int mapio_vec_default_path(void *ctx, char *buf, size_t cap);

/*
 * mapio_vec_path_in_dir - a ready-made callback: a random name as above in
 * the directory ctx (a const char *, which must exist). Returns 0,
 * MAPIO_EINVAL (NULL or empty ctx) or MAPIO_ENAMETOOLONG. Thread-safe.
 */
MAPIO_EXTERN int mapio_vec_path_in_dir(void *ctx, char *buf, size_t cap);

/*
 * mapio_vec_new - create an empty vector of elements of elem_size bytes (any
 * size >= 1) with its segment file (opts may be NULL: the defaults). No
 * mapping is made until the first element needs one. Returns 0 and sets *out,
 * or MAPIO_EINVAL (NULL out, elem_size 0, unknown flags, mode > 07777), the
 * path callback's error, MAPIO_ENAMETOOLONG (the callback wrote no NUL),
 * MAPIO_EEXIST (8 paths in a row existed), the OS error of creating the file
 * (MAPIO_ENOENT, MAPIO_EACCES, ...), or MAPIO_ENOMEM. On failure no file is
 * left behind and *out is NULL. Thread-safe.
 */
MAPIO_EXTERN int mapio_vec_new(mapio_vec_t **out, size_t elem_size, const mapio_vec_opts_t *opts);

/*
 * mapio_vec_new_with_capacity - mapio_vec_new, then room for capacity
 * elements (exactly that, rounded up to whole pages: no doubling). Returns as
 * mapio_vec_new, plus MAPIO_EOVERFLOW (capacity * elem_size does not fit a
 * file or the address space) and the OS error of sizing or mapping the file
 * (MAPIO_EFBIG, MAPIO_ENOSPC, MAPIO_ENOMEM, ...). Thread-safe.
 */
MAPIO_EXTERN int mapio_vec_new_with_capacity(mapio_vec_t **out, size_t elem_size, size_t capacity,
                                             const mapio_vec_opts_t *opts);

/*
 * mapio_vec_clone - a new vector, in a segment file of its own, with v's
 * element size and a copy of its elements (capacity: its length, rounded up
 * to pages). opts NULL: v's own options (same callback and context - which
 * must still be valid - and flags). O(len): every byte is copied. Returns 0
 * and sets *out, or as mapio_vec_new_with_capacity. Thread-safe while no call
 * changes v: v is only read, so concurrent readers of v are fine.
 */
MAPIO_EXTERN int mapio_vec_clone(mapio_vec_t **out, const mapio_vec_t *v,
                                 const mapio_vec_opts_t *opts);

/*
 * mapio_vec_free - unmap, close and (if it still has its name) remove the
 * segment file, then free v. NULL is fine. Returns 0 or the first error met
 * (v is freed either way; a failed unmap is counted in the statistics and
 * the mapping stays). A named file is removed only if its path still names
 * it (same device and inode): otherwise MAPIO_ESTALE and the other file is
 * left alone. Not thread-safe: the caller excludes every other call on v.
 */
MAPIO_EXTERN int mapio_vec_free(mapio_vec_t *v);

/* ---- size and access ------------------------------------------------------ */

/* mapio_vec_len - returns the number of elements in v (0 for NULL).
 * Thread-safe while no call changes v (see the top of mapio/vec.h). */
MAPIO_EXTERN size_t mapio_vec_len(const mapio_vec_t *v);

/* mapio_vec_capacity - returns the elements v holds before it must grow (0
 * for NULL). Thread-safe while no call changes v (see the top of
 * mapio/vec.h). */
MAPIO_EXTERN size_t mapio_vec_capacity(const mapio_vec_t *v);

/* mapio_vec_elem_size - returns the element size given at creation (0 for
 * NULL). Thread-safe while no call changes v (see the top of mapio/vec.h). */
MAPIO_EXTERN size_t mapio_vec_elem_size(const mapio_vec_t *v);

/* mapio_vec_disk_size - returns the segment file's size in bytes (0 for
 * NULL): capacity * elem_size rounded up to pages. Its blocks are reserved as
 * it grows, so this is also the disk space (on a tmpfs: the memory) the
 * vector holds. Thread-safe while no call changes v (see the top of
 * mapio/vec.h). */
MAPIO_EXTERN uint64_t mapio_vec_disk_size(const mapio_vec_t *v);

/* mapio_vec_path - returns the path the segment was created at (valid until
 * mapio_vec_free; NULL for NULL). Without MAPIO_VEC_KEEP_NAME that name is
 * already gone. Thread-safe while no call changes v (see the top of
 * mapio/vec.h). */
MAPIO_EXTERN const char *mapio_vec_path(const mapio_vec_t *v);

/* mapio_vec_data - the elements as one array. Returns element 0, or NULL
 * while the capacity is 0 (and for NULL). Only [0, len) may be used. Valid
 * until the next growing/shrinking call. Thread-safe while no call changes v
 * (see the top of mapio/vec.h). */
MAPIO_EXTERN void *mapio_vec_data(const mapio_vec_t *v);

/* mapio_vec_at - returns a pointer to element i, or NULL if i >= len (or v is
 * NULL). Valid as mapio_vec_data. Thread-safe while no call changes v (see
 * the top of mapio/vec.h). */
MAPIO_EXTERN void *mapio_vec_at(const mapio_vec_t *v, size_t i);

/* mapio_vec_ptr - *ptr = a pointer to element i. Returns 0, MAPIO_ERANGE (i
 * >= len) or MAPIO_EINVAL (NULL). Thread-safe while no call changes v (see
 * the top of mapio/vec.h). */
MAPIO_EXTERN int mapio_vec_ptr(const mapio_vec_t *v, size_t i, void **ptr);

/* mapio_vec_get / mapio_vec_set - copy element i (elem_size bytes) out to
 * `out`, or in from `elem`. Return 0, MAPIO_ERANGE (i >= len) or
 * MAPIO_EINVAL (NULL). Thread-safe while no call changes v - and set is a
 * change: the caller excludes other calls on v around it. */
MAPIO_EXTERN int mapio_vec_get(const mapio_vec_t *v, size_t i, void *out);
MAPIO_EXTERN int mapio_vec_set(mapio_vec_t *v, size_t i, const void *elem);

/* ---- changing it ------------------------------------------------------------ */

/*
 * mapio_vec_push - append a copy of elem_size bytes at elem, growing if full.
 * elem may point into v itself (it is read before the mapping moves). Returns
 * 0, MAPIO_EINVAL (NULL), MAPIO_EOVERFLOW, or a growth error (see
 * mapio_vec_reserve: v is then unchanged). Amortised O(1). Not thread-safe:
 * the caller excludes every other call on v.
 */
MAPIO_EXTERN int mapio_vec_push(mapio_vec_t *v, const void *elem);

/* mapio_vec_push_n - append n elements from elems (n * elem_size bytes; may
 * point into v; NULL is fine when n is 0). All or nothing. Returns as
 * mapio_vec_push. Not thread-safe: the caller excludes every other call on v.
 */
MAPIO_EXTERN int mapio_vec_push_n(mapio_vec_t *v, const void *elems, size_t n);

/* mapio_vec_push_within_capacity - append without growing, so no pointer
 * ever moves. Returns 0, MAPIO_ENOSPC (full) or MAPIO_EINVAL (NULL).
 * Not thread-safe: the caller excludes every other call on v. */
MAPIO_EXTERN int mapio_vec_push_within_capacity(mapio_vec_t *v, const void *elem);

/* mapio_vec_pop - remove the last element, copying it to out (NULL: just drop
 * it). Never shrinks the file. Returns 0, MAPIO_ERANGE (empty) or
 * MAPIO_EINVAL (NULL v). Not thread-safe: the caller excludes every other
 * call on v. */
MAPIO_EXTERN int mapio_vec_pop(mapio_vec_t *v, void *out);

/* mapio_vec_truncate - keep the first n elements (n >= len: no change). The
 * capacity and the file stay (mapio_vec_shrink_to_fit gives the space back).
 * Returns 0 or MAPIO_EINVAL (NULL). Not thread-safe: the caller excludes
 * every other call on v. */
MAPIO_EXTERN int mapio_vec_truncate(mapio_vec_t *v, size_t n);

/* mapio_vec_truncate_front - drop the first n elements and move the rest to
 * the front (memmove: O(len - n), and it touches those pages). Returns 0,
 * MAPIO_ERANGE (n > len) or MAPIO_EINVAL (NULL). Not thread-safe: the caller
 * excludes every other call on v. */
MAPIO_EXTERN int mapio_vec_truncate_front(mapio_vec_t *v, size_t n);

/* mapio_vec_clear - len = 0; capacity and file stay. Returns 0 or
 * MAPIO_EINVAL (NULL). Not thread-safe: the caller excludes every other call
 * on v. */
MAPIO_EXTERN int mapio_vec_clear(mapio_vec_t *v);

/*
 * mapio_vec_resize - set the length to n: truncates, or appends zero-filled
 * elements. Appending writes nothing for space never written before (its
 * blocks are reserved, which reads as zeros), so resize + mapio_vec_set fills
 * a huge vector without writing it twice. Returns 0, MAPIO_EINVAL,
 * MAPIO_EOVERFLOW or a growth error (v unchanged). Not thread-safe: the
 * caller excludes every other call on v.
 */
MAPIO_EXTERN int mapio_vec_resize(mapio_vec_t *v, size_t n);

/*
 * mapio_vec_reserve - make room for at least `additional` more elements, so
 * that they can be pushed without any pointer moving. Grows like push does
 * (to at least double the bytes), so calling it before every push stays
 * amortised O(1). Returns 0, MAPIO_EINVAL, MAPIO_EOVERFLOW (len + additional
 * elements do not fit a file or the address space) or the OS error of growing
 * the file (MAPIO_EFBIG, MAPIO_ENOSPC, ...) or the mapping (MAPIO_ENOMEM) - v
 * is then unchanged and usable. Not thread-safe: the caller excludes every
 * other call on v.
 */
MAPIO_EXTERN int mapio_vec_reserve(mapio_vec_t *v, size_t additional);

/* mapio_vec_reserve_exact - as mapio_vec_reserve, but exactly len +
 * additional elements (rounded up to whole pages), no doubling. Returns as
 * mapio_vec_reserve. Not thread-safe: the caller excludes every other call on
 * v. */
MAPIO_EXTERN int mapio_vec_reserve_exact(mapio_vec_t *v, size_t additional);

/*
 * mapio_vec_shrink_to_fit - give back the capacity beyond len: the tail of
 * the mapping is unmapped in place (what stays does not move) and the file is
 * cut to len * elem_size rounded up to pages (len 0: no mapping, an empty
 * file). Returns 0, MAPIO_EINVAL or the OS error: if the unmap fails nothing
 * changed; if cutting the file fails the capacity is already smaller and the
 * file keeps its size (harmless; mapio_vec_disk_size says so). Not
 * thread-safe: the caller excludes every other call on v.
 */
MAPIO_EXTERN int mapio_vec_shrink_to_fit(mapio_vec_t *v);

/* ---- memory hints --------------------------------------------------------------- */

/* mapio_vec_prefetch - ask the kernel to read ahead the pages of every
 * element (madvise WILLNEED). Returns 0 (also when empty), MAPIO_EINVAL
 * (NULL) or the OS error. Thread-safe while no call changes v (see the top of
 * mapio/vec.h). */
MAPIO_EXTERN int mapio_vec_prefetch(mapio_vec_t *v);

/* mapio_vec_prefetch_at - read ahead the page or pages holding element i (all
 * of them for an element larger than a page). Returns 0, MAPIO_ERANGE (i >=
 * len), MAPIO_EINVAL (NULL) or the OS error. Thread-safe while no call
 * changes v (see the top of mapio/vec.h). */
MAPIO_EXTERN int mapio_vec_prefetch_at(mapio_vec_t *v, size_t i);

/*
 * mapio_vec_evict - let go of the memory of elements [first, first + n):
 * start writing their pages back (sync_file_range on Linux, MS_ASYNC
 * elsewhere) and drop them from this process (madvise DONTNEED, which for a
 * shared file mapping loses nothing: the next access reads them back). Pages
 * are whole, so neighbours sharing a page go too. A writer filling a vector
 * larger than RAM calls it behind itself to keep its resident memory, and its
 * dirty page cache, bounded. Returns 0, MAPIO_ERANGE / MAPIO_EOVERFLOW (past
 * len), MAPIO_EINVAL (NULL) or the OS error. Thread-safe while no call
 * changes v: it changes no element, and pages it dropped are read back on
 * the next access.
 */
MAPIO_EXTERN int mapio_vec_evict(mapio_vec_t *v, size_t first, size_t n);

/* ---- statistics ------------------------------------------------------------------ */

/* Process-wide, over every vector (relaxed atomics: each counter is exact,
 * a snapshot of several is not atomic). */
typedef struct mapio_vec_stats {
    uint64_t active_mappings;  /* vector mappings alive now (vm.max_map_count) */
    uint64_t ftruncate_failed; /* the segment file could not be resized */
    uint64_t map_failed;       /* mmap or mremap failed */
    uint64_t unmap_failed;     /* munmap failed (that mapping stays) */
} mapio_vec_stats_t;

/* Fill *out. Returns 0 or MAPIO_EINVAL (NULL). Thread-safe. */
MAPIO_EXTERN int mapio_vec_stats(mapio_vec_stats_t *out);

#ifdef __cplusplus
}
#endif

#endif
