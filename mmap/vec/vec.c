/*
 * mmap/vec/vec.c - the disk-backed vector: the portable part. Files and
 * mappings go through mmap/map's OS interface (map_os.h), the rest through
 * vec_os.h.
 *
 * Layout: one segment file, mapped shared from offset 0. The mapping is
 * always whole pages (map_len) and never longer than the file, so no page of
 * it lies past the end of the file (no SIGBUS); the capacity is what fits in
 * it, map_len / elem_size - with elements larger than a page that is simply a
 * smaller number, never a division by zero. A vector with capacity 0 has its
 * file but no mapping: zero-length mappings never reach mmap(2).
 *
 * Every change of size is ordered so that a failure leaves the vector as it
 * was: growing resizes the file first, reserves its new blocks, then grows
 * the mapping (and puts the file back if either fails); shrinking unmaps the
 * tail first, then cuts the file.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mapio/vec.h"
#include "mmap/map/map_os.h"
#include "vec_os.h"

struct mapio_vec {
    unsigned char *data; /* the mapping; NULL while map_len is 0 */
    size_t map_len;      /* bytes mapped: whole pages, <= file_size */
    size_t len, cap;     /* elements */
    size_t elem_size;
    uint64_t file_size; /* bytes the file has */
    /* Bytes [0, dirty) of the file may hold old elements (left by pop,
     * truncate, clear); past it the file reads as zeros. resize() zeroes
     * only what it must, so growing into never-written space stays a hole. */
    size_t dirty;
    mapio_fd_t fd;
    bool named; /* path still names the file (MAPIO_VEC_KEEP_NAME) */
    char *path;
    mapio_vec_opts_t opts; /* as given: clone chooses its segment the same way */
};

/* ---- statistics and the test hook ---------------------------------------- */

static _Atomic uint64_t st_active, st_truncate_failed, st_map_failed, st_unmap_failed;

int mapio_vec_stats(mapio_vec_stats_t *out)
{
    if (out == NULL)
        return MAPIO_EINVAL;
    out->active_mappings = atomic_load_explicit(&st_active, memory_order_relaxed);
    out->ftruncate_failed = atomic_load_explicit(&st_truncate_failed, memory_order_relaxed);
    out->map_failed = atomic_load_explicit(&st_map_failed, memory_order_relaxed);
    out->unmap_failed = atomic_load_explicit(&st_unmap_failed, memory_order_relaxed);
    return 0;
}

static void count(_Atomic uint64_t *c, int delta)
{
    if (delta > 0)
        atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
    else
        atomic_fetch_sub_explicit(c, 1, memory_order_relaxed);
}

/* Per kind of call: calls still to let through, then calls to fail. */
static struct {
    atomic_int skip, times, err;
} fail[MAPIO__VEC_FAIL_OPS];

void mapio__vec_fail_next(int op, int err, int skip, int times)
{
    if (op < 0 || op >= MAPIO__VEC_FAIL_OPS)
        return;
    atomic_store(&fail[op].times, 0);
    atomic_store(&fail[op].err, err);
    atomic_store(&fail[op].skip, skip);
    atomic_store(&fail[op].times, times);
}

/* The injected error for this call of kind op, or 0. */
static int injected(int op)
{
    if (MAPIO__LIKELY(atomic_load_explicit(&fail[op].times, memory_order_relaxed) <= 0))
        return 0;
    if (atomic_fetch_sub(&fail[op].skip, 1) > 0)
        return 0;
    return atomic_fetch_sub(&fail[op].times, 1) > 0 ? atomic_load(&fail[op].err) : 0;
}

/* ---- the OS calls, counted -------------------------------------------------- */

static int os_truncate(mapio_vec_t *v, uint64_t size)
{
    int err = injected(MAPIO__VEC_FAIL_TRUNCATE);
    if (err == 0)
        err = mapio__mapos_truncate(v->fd, size);
    if (err != 0) {
        count(&st_truncate_failed, 1);
        return err;
    }
    v->file_size = size;
    return 0;
}

/* Reserve the blocks under [off, off + len); the file was old_size bytes
 * before this growth (see mapio__mapos_reserve). Counted as a failed resize:
 * the file could not get the size with its blocks. */
static int os_reserve(mapio_vec_t *v, uint64_t off, uint64_t len, uint64_t old_size)
{
    int err = injected(MAPIO__VEC_FAIL_RESERVE);
    if (err == 0)
        err = mapio__mapos_reserve(v->fd, off, len, old_size);
    if (err != 0)
        count(&st_truncate_failed, 1);
    return err;
}

static int os_map(mapio_vec_t *v, size_t len, void **p)
{
    int err = injected(MAPIO__VEC_FAIL_MAP);
    if (err == 0)
        err = mapio__mapos_map(v->fd, 0, len, MAPIO_MAP_READ_WRITE, 0, p);
    count(err == 0 ? &st_active : &st_map_failed, 1);
    return err;
}

/* Unmap the whole mapping [p, p + len). */
static int os_unmap(void *p, size_t len)
{
    int err = injected(MAPIO__VEC_FAIL_UNMAP);
    if (err == 0)
        err = mapio__mapos_unmap(p, len);
    if (err != 0)
        count(&st_unmap_failed, 1);
    else
        count(&st_active, -1);
    return err;
}

/* Cut the mapping to its first len bytes (0 < len < map_len): an unmap of
 * its tail, as far as the hook and the statistics are concerned. */
static int os_shrink(mapio_vec_t *v, size_t len, void **p)
{
    int err = injected(MAPIO__VEC_FAIL_UNMAP);
    if (err == 0)
        err = mapio__vecos_shrink_view(v->data, v->map_len, len, v->fd, p);
    if (err != 0)
        count(&st_unmap_failed, 1);
    return err;
}

/* Grow the mapping from v->map_len to len bytes (the file is already that
 * long); it may move. On failure the old mapping is untouched.
 *
 * TSan (GCC 12's libtsan) sees mmap and munmap but not mremap: it would keep
 * the state of a range the kernel moved away from and report a race between
 * this thread's old mapping and another thread's later one at the same
 * address. Under TSan the vector grows the portable way, which it sees; the
 * mremap path is covered by the other builds. */
static int os_extend(mapio_vec_t *v, size_t len, void **p)
{
    if (v->map_len == 0)
        return os_map(v, len, p);
#if MAPIO_HAVE_MREMAP && !defined(__SANITIZE_THREAD__)
    int err = injected(MAPIO__VEC_FAIL_MAP);
    if (err == 0)
        err = mapio__mapos_remap(v->data, v->map_len, len, v->fd, 0, MAPIO_MAP_READ_WRITE, 0, p);
    if (err != 0)
        count(&st_map_failed, 1);
    return err;
#else
    /* A second mapping of the whole file, then the old one goes: the pages
     * are the same page-cache pages, so nothing is copied. If the old one
     * cannot be unmapped it is counted and stays, but the vector has grown. */
    int err = os_map(v, len, p);
    if (err == 0)
        os_unmap(v->data, v->map_len);
    return err;
#endif
}

/* ---- sizes -------------------------------------------------------------------- */

static size_t page_size(void)
{
    return (size_t)mapio__mapos_page_size();
}

/* The largest mapping: a size_t, and a file offset (off_t is signed). */
static size_t max_bytes(void)
{
    uint64_t lim = MAPIO__MIN((uint64_t)SIZE_MAX, (uint64_t)INT64_MAX);
    return (size_t)(lim & ~((uint64_t)page_size() - 1));
}

/* *bytes = n elements rounded up to whole pages, or MAPIO_EOVERFLOW. */
static int bytes_for(const mapio_vec_t *v, size_t n, size_t *bytes)
{
    size_t page = page_size();
    if (n > max_bytes() / v->elem_size)
        return MAPIO_EOVERFLOW;
    size_t b = n * v->elem_size; /* <= max_bytes, a page multiple: no wrap below */
    *bytes = (b + page - 1) & ~(page - 1);
    return 0;
}

/* Make the mapping (and file) exactly len bytes, len > map_len. */
static int grow_bytes(mapio_vec_t *v, size_t len)
{
    uint64_t old_size = v->file_size;
    int err = os_truncate(v, len);
    if (err != 0)
        return err;
    /* Blocks behind every new page before any store can reach one: a full
     * disk is MAPIO_ENOSPC here, not SIGBUS in the push that follows. */
    err = os_reserve(v, v->map_len, len - v->map_len, old_size);
    void *p;
    if (err == 0)
        err = os_extend(v, len, &p);
    if (err != 0) {
        os_truncate(v, old_size); /* best effort: a longer file does no harm */
        return err;
    }
    v->data = p;
    v->map_len = len;
    v->cap = len / v->elem_size;
    return 0;
}

/* Make room for at least need elements; exact: no doubling. */
static int grow(mapio_vec_t *v, size_t need, bool exact)
{
    if (need <= v->cap)
        return 0;
    size_t len;
    int err = bytes_for(v, need, &len);
    if (err != 0)
        return err;
    /* Doubling keeps pushes amortised O(1); where it would not fit, just
     * what is needed. */
    if (!exact && v->map_len <= max_bytes() / 2 && len < 2 * v->map_len)
        len = 2 * v->map_len;
    return grow_bytes(v, len);
}

/* Remember that the elements [n, len) are about to be given up: their bytes
 * stay in the file. */
static void giving_up(mapio_vec_t *v)
{
    size_t end = v->len * v->elem_size;
    if (end > v->dirty)
        v->dirty = end;
}

/* Remove the segment's name (see mapio__vecos_remove). */
static int os_remove(mapio_vec_t *v)
{
    int err = injected(MAPIO__VEC_FAIL_REMOVE);
    return err != 0 ? err : mapio__vecos_remove(v->path, v->fd);
}

/* ---- life ----------------------------------------------------------------------- */

/* Try the path callback until a fresh file is created (or 8 names existed). */
static int create_segment(mapio_vec_t *v)
{
    char *buf = mapio__malloc(MAPIO_VEC_PATH_MAX);
    if (buf == NULL)
        return MAPIO_ENOMEM;
    mapio_vec_path_fn fn = v->opts.path_fn != NULL ? v->opts.path_fn : mapio_vec_default_path;
    unsigned mode = v->opts.mode != 0 ? v->opts.mode : 0600;
    int err = MAPIO_EEXIST;
    for (int attempt = 0; attempt < 8 && err == MAPIO_EEXIST; attempt++) {
        buf[0] = '\0';
        err = fn(v->opts.path_ctx, buf, MAPIO_VEC_PATH_MAX);
        if (err > 0)
            err = MAPIO_EINVAL; /* not a negative errno: a broken callback */
        else if (err == 0 && memchr(buf, '\0', MAPIO_VEC_PATH_MAX) == NULL)
            err = MAPIO_ENAMETOOLONG;
        else if (err == 0 && buf[0] == '\0')
            err = MAPIO_EINVAL;
        if (err == 0)
            err = mapio__mapos_open(buf, MAPIO_MAP_CREATE_NEW, true, mode, &v->fd);
    }
    if (err == 0) {
        v->path = mapio__strdup(buf);
        if (v->path == NULL) {
            mapio__vecos_remove(buf, v->fd);
            mapio__mapos_close(v->fd);
            v->fd = MAPIO_INVALID_FD;
            err = MAPIO_ENOMEM;
        }
    }
    mapio__free(buf);
    if (err != 0)
        return err;
    /* Unlinked now, the file lives exactly as long as the descriptor and the
     * mapping: a crash cannot leak it and nobody can open it by name. If the
     * unlink fails it keeps its name and free removes it. */
    v->named = (v->opts.flags & MAPIO_VEC_KEEP_NAME) || os_remove(v) != 0;
    return 0;
}

/* Release everything v holds; the first error is returned. */
static int destroy(mapio_vec_t *v)
{
    int err = 0;
    if (v->map_len > 0)
        err = os_unmap(v->data, v->map_len);
    if (v->named) {
        int r = os_remove(v);
        err = err != 0 ? err : r;
    }
    if (v->fd != MAPIO_INVALID_FD) {
        int r = mapio__mapos_close(v->fd);
        err = err != 0 ? err : r;
    }
    mapio__free(v->path);
    mapio__free(v);
    return err;
}

static int make(mapio_vec_t **out, size_t elem_size, const mapio_vec_opts_t *opts, size_t cap)
{
    if (out == NULL)
        return MAPIO_EINVAL;
    *out = NULL;
    if (elem_size == 0 ||
        (opts != NULL && ((opts->flags & ~(unsigned)MAPIO_VEC_KEEP_NAME) || opts->mode > 07777)))
        return MAPIO_EINVAL;
    mapio_vec_t *v = mapio__calloc(1, sizeof *v);
    if (v == NULL)
        return MAPIO_ENOMEM;
    v->elem_size = elem_size;
    v->fd = MAPIO_INVALID_FD;
    if (opts != NULL)
        v->opts = *opts;
    size_t bytes = 0;
    int err = bytes_for(v, cap, &bytes); /* before the file exists: nothing to undo */
    if (err == 0)
        err = create_segment(v);
    if (err == 0 && cap > 0)
        err = grow_bytes(v, bytes);
    if (err != 0) {
        destroy(v); /* removes a file it created */
        return err;
    }
    *out = v;
    return 0;
}

int mapio_vec_new(mapio_vec_t **out, size_t elem_size, const mapio_vec_opts_t *opts)
{
    return make(out, elem_size, opts, 0);
}

int mapio_vec_new_with_capacity(mapio_vec_t **out, size_t elem_size, size_t capacity,
                                const mapio_vec_opts_t *opts)
{
    return make(out, elem_size, opts, capacity);
}

int mapio_vec_clone(mapio_vec_t **out, const mapio_vec_t *v, const mapio_vec_opts_t *opts)
{
    if (v == NULL || out == NULL)
        return MAPIO_EINVAL;
    int err = make(out, v->elem_size, opts != NULL ? opts : &v->opts, v->len);
    if (err != 0)
        return err;
    mapio_vec_t *c = *out;
    if (v->len > 0)
        memcpy(c->data, v->data, v->len * v->elem_size);
    c->len = v->len;
    return 0;
}

int mapio_vec_free(mapio_vec_t *v)
{
    return v != NULL ? destroy(v) : 0;
}

/* ---- paths -------------------------------------------------------------------------- */

/* splitmix64: spreads a seed that changes little between calls. */
static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* n random bytes: the system's generator, else a mix of clock, process id
 * and a counter - unique, not unpredictable; the O_EXCL create still refuses
 * an existing file. */
static void random_bytes(unsigned char *out, size_t n)
{
    if (mapio__vecos_random(out, n))
        return;
    static _Atomic uint64_t counter;
    uint64_t s = mapio__vecos_seed() ^ atomic_fetch_add(&counter, 1) * 0xd6e8feb86659fd93ull;
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)mix(&s);
}

/* dir + separator + "mapio-vec-" + 32 random hex digits. Windows takes
 * either separator; its own reads better in its paths. */
static int random_name(const char *dir, char *buf, size_t cap)
{
    if (dir == NULL || dir[0] == '\0' || buf == NULL)
        return MAPIO_EINVAL;
    unsigned char r[16];
    char hex[2 * sizeof r + 1];
    random_bytes(r, sizeof r);
    for (size_t i = 0; i < sizeof r; i++) {
        hex[2 * i] = "0123456789abcdef"[r[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[r[i] & 15];
    }
    hex[2 * sizeof r] = '\0';
    size_t dl = strlen(dir);
    bool has_sep = dir[dl - 1] == '/' || (MAPIO_OS_WINDOWS && dir[dl - 1] == '\\');
    const char *sep = has_sep ? "" : MAPIO_OS_WINDOWS ? "\\" : "/";
    int n = snprintf(buf, cap, "%s%smapio-vec-%s", dir, sep, hex);
    return n > 0 && (size_t)n < cap ? 0 : MAPIO_ENAMETOOLONG;
}

int mapio_vec_path_in_dir(void *ctx, char *buf, size_t cap)
{
    return random_name(ctx, buf, cap);
}

int mapio_vec_default_path(void *ctx, char *buf, size_t cap)
{
    (void)ctx;
    char dir[MAPIO_VEC_PATH_MAX];
    int err = mapio__vecos_default_dir(dir, sizeof dir);
    return err != 0 ? err : random_name(dir, buf, cap);
}

/* ---- access ---------------------------------------------------------------------------- */

size_t mapio_vec_len(const mapio_vec_t *v)
{
    return v != NULL ? v->len : 0;
}

size_t mapio_vec_capacity(const mapio_vec_t *v)
{
    return v != NULL ? v->cap : 0;
}

size_t mapio_vec_elem_size(const mapio_vec_t *v)
{
    return v != NULL ? v->elem_size : 0;
}

uint64_t mapio_vec_disk_size(const mapio_vec_t *v)
{
    return v != NULL ? v->file_size : 0;
}

const char *mapio_vec_path(const mapio_vec_t *v)
{
    return v != NULL ? v->path : NULL;
}

void *mapio_vec_data(const mapio_vec_t *v)
{
    return v != NULL ? v->data : NULL;
}

void *mapio_vec_at(const mapio_vec_t *v, size_t i)
{
    return v != NULL && i < v->len ? v->data + i * v->elem_size : NULL;
}

int mapio_vec_ptr(const mapio_vec_t *v, size_t i, void **ptr)
{
    if (v == NULL || ptr == NULL)
        return MAPIO_EINVAL;
    if (i >= v->len)
        return MAPIO_ERANGE;
    *ptr = v->data + i * v->elem_size;
    return 0;
}

int mapio_vec_get(const mapio_vec_t *v, size_t i, void *out)
{
    if (v == NULL || out == NULL)
        return MAPIO_EINVAL;
    if (i >= v->len)
        return MAPIO_ERANGE;
    memmove(out, v->data + i * v->elem_size, v->elem_size);
    return 0;
}

int mapio_vec_set(mapio_vec_t *v, size_t i, const void *elem)
{
    if (v == NULL || elem == NULL)
        return MAPIO_EINVAL;
    if (i >= v->len)
        return MAPIO_ERANGE;
    memmove(v->data + i * v->elem_size, elem, v->elem_size);
    return 0;
}

/* ---- changing it ----------------------------------------------------------------------- */

/* Where src lies inside v's mapping: its offset, or SIZE_MAX if outside.
 * Compared as integers: the pointers may belong to different objects. */
static size_t inside(const mapio_vec_t *v, const void *src)
{
    uintptr_t s = (uintptr_t)src, b = (uintptr_t)v->data;
    return v->map_len > 0 && s >= b && s - b < v->map_len ? (size_t)(s - b) : SIZE_MAX;
}

/* Append n elements from src, growing (amortised) if needed. */
static int append(mapio_vec_t *v, const void *src, size_t n)
{
    if (n > v->cap - v->len) {
        if (n > SIZE_MAX - v->len)
            return MAPIO_EOVERFLOW;
        size_t off = inside(v, src); /* the mapping may move under src */
        int err = grow(v, v->len + n, false);
        if (err != 0)
            return err;
        if (off != SIZE_MAX)
            src = v->data + off;
    }
    memmove(v->data + v->len * v->elem_size, src, n * v->elem_size);
    v->len += n;
    return 0;
}

int mapio_vec_push(mapio_vec_t *v, const void *elem)
{
    if (MAPIO__UNLIKELY(v == NULL || elem == NULL))
        return MAPIO_EINVAL;
    if (MAPIO__LIKELY(v->len < v->cap)) {
        memcpy(v->data + v->len * v->elem_size, elem, v->elem_size);
        v->len++;
        return 0;
    }
    return append(v, elem, 1);
}

int mapio_vec_push_n(mapio_vec_t *v, const void *elems, size_t n)
{
    if (v == NULL || (elems == NULL && n > 0))
        return MAPIO_EINVAL;
    return n > 0 ? append(v, elems, n) : 0;
}

int mapio_vec_push_within_capacity(mapio_vec_t *v, const void *elem)
{
    if (v == NULL || elem == NULL)
        return MAPIO_EINVAL;
    if (v->len == v->cap)
        return MAPIO_ENOSPC;
    return append(v, elem, 1);
}

int mapio_vec_pop(mapio_vec_t *v, void *out)
{
    if (v == NULL)
        return MAPIO_EINVAL;
    if (v->len == 0)
        return MAPIO_ERANGE;
    giving_up(v);
    v->len--;
    if (out != NULL)
        memmove(out, v->data + v->len * v->elem_size, v->elem_size);
    return 0;
}

int mapio_vec_truncate(mapio_vec_t *v, size_t n)
{
    if (v == NULL)
        return MAPIO_EINVAL;
    if (n < v->len) {
        giving_up(v);
        v->len = n;
    }
    return 0;
}

int mapio_vec_truncate_front(mapio_vec_t *v, size_t n)
{
    if (v == NULL)
        return MAPIO_EINVAL;
    if (n > v->len)
        return MAPIO_ERANGE;
    if (n == 0)
        return 0;
    giving_up(v);
    size_t keep = v->len - n;
    if (keep > 0)
        memmove(v->data, v->data + n * v->elem_size, keep * v->elem_size);
    v->len = keep;
    return 0;
}

int mapio_vec_clear(mapio_vec_t *v)
{
    return mapio_vec_truncate(v, 0);
}

int mapio_vec_resize(mapio_vec_t *v, size_t n)
{
    if (v == NULL)
        return MAPIO_EINVAL;
    if (n <= v->len)
        return mapio_vec_truncate(v, n);
    int err = grow(v, n, false);
    if (err != 0)
        return err;
    /* Only bytes an earlier element left behind need zeroing; the rest of
     * the file was never written and reads as zeros. */
    size_t from = v->len * v->elem_size, to = MAPIO__MIN(n * v->elem_size, v->dirty);
    if (to > from)
        memset(v->data + from, 0, to - from);
    v->len = n;
    return 0;
}

static int reserve(mapio_vec_t *v, size_t additional, bool exact)
{
    if (v == NULL)
        return MAPIO_EINVAL;
    if (additional > SIZE_MAX - v->len)
        return MAPIO_EOVERFLOW;
    return grow(v, v->len + additional, exact);
}

int mapio_vec_reserve(mapio_vec_t *v, size_t additional)
{
    return reserve(v, additional, false);
}

int mapio_vec_reserve_exact(mapio_vec_t *v, size_t additional)
{
    return reserve(v, additional, true);
}

int mapio_vec_shrink_to_fit(mapio_vec_t *v)
{
    if (v == NULL)
        return MAPIO_EINVAL;
    size_t len;
    int err = bytes_for(v, v->len, &len); /* cannot fail: len <= cap */
    if (err == 0 && len < v->map_len) {
        /* The tail goes in place (munmap of part of a mapping): what stays
         * does not move (on Windows, unless another thread takes its
         * address in the moment the view is remade; see vec_win.c). */
        void *p = v->data;
        err = len == 0 ? os_unmap(v->data, v->map_len) : os_shrink(v, len, &p);
        if (err != 0 && p == NULL) {
            /* The view went and none came back (Windows only): no
             * mapping, so no elements - they stay in the file, unreachable. */
            count(&st_active, -1);
            v->data = NULL;
            v->map_len = v->cap = v->len = 0;
        }
        if (err != 0)
            return err;
        if (len == 0)
            p = NULL;
        v->data = p;
        v->map_len = len;
        v->cap = len / v->elem_size;
    }
    /* Also a file left longer by an earlier failed growth or shrink. */
    if (err == 0 && v->file_size > len) {
        err = os_truncate(v, len);
        if (err == 0 && v->dirty > len)
            v->dirty = len; /* cut off: growing again reads zeros there */
    }
    return err;
}

/* ---- memory hints ------------------------------------------------------------------------ */

/* The whole pages under elements [first, first + n) (n may be 0). */
static int pages_of(const mapio_vec_t *v, size_t first, size_t n, unsigned char **p, size_t *len)
{
    if (n > SIZE_MAX - first)
        return MAPIO_EOVERFLOW;
    if (first + n > v->len)
        return MAPIO_ERANGE;
    size_t page = page_size();
    size_t start = first * v->elem_size & ~(page - 1);
    size_t end = (first + n) * v->elem_size;
    end = MAPIO__MIN((end + page - 1) & ~(page - 1), v->map_len);
    *p = v->data + start;
    *len = n > 0 ? end - start : 0;
    return 0;
}

int mapio_vec_prefetch(mapio_vec_t *v)
{
    if (v == NULL)
        return MAPIO_EINVAL;
    unsigned char *p;
    size_t len;
    int err = pages_of(v, 0, v->len, &p, &len);
    if (err == 0 && len > 0)
        err = mapio__mapos_advise(p, len, MAPIO_ADVICE_WILLNEED);
    return err;
}

int mapio_vec_prefetch_at(mapio_vec_t *v, size_t i)
{
    if (v == NULL)
        return MAPIO_EINVAL;
    if (i >= v->len)
        return MAPIO_ERANGE;
    unsigned char *p;
    size_t len;
    int err = pages_of(v, i, 1, &p, &len);
    if (err == 0)
        err = mapio__mapos_advise(p, len, MAPIO_ADVICE_WILLNEED);
    return err;
}

int mapio_vec_evict(mapio_vec_t *v, size_t first, size_t n)
{
    if (v == NULL)
        return MAPIO_EINVAL;
    unsigned char *p;
    size_t len;
    int err = pages_of(v, first, n, &p, &len);
    if (err != 0 || len == 0)
        return err;
    /* Writeback first (not waited for), so that the pages we drop are
     * clean - and cheap for the kernel to reclaim - soon, not 30 s from now. */
    err = mapio__mapos_sync(p, len, v->fd, (uint64_t)(p - v->data), true);
    if (err == 0)
        err = mapio__mapos_advise(p, len, MAPIO_ADVICE_DONTNEED);
    return err;
}
