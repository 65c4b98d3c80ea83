/*
 * mmap/vec/vec.c - the disk-backed vector. Portable: file and mapping calls
 * go through mmap/map's OS interface, the rest through vec_os.h.
 *
 * The segment file is exactly as long as the mapping (capacity rounded up to
 * whole pages), so no page of the mapping ever lies past the end of the file.
 * A vector with capacity 0 has a file but no mapping: zero-length mappings
 * never reach mmap(2).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "mapio/vec.h"
#include "mmap/map/map_os.h"
#include "vec_os.h"

#define PATH_CAP 4096

struct mapio_vec {
    unsigned char *data; /* NULL while capacity is 0 */
    size_t map_len;      /* bytes mapped = file size */
    uint64_t len, cap;   /* elements */
    size_t elem;
    mapio_fd_t fd;
    mapio_vec_path_fn path_fn; /* how the segment was chosen (clone does the same) */
    void *ctx;
    char path[PATH_CAP];
};

static _Atomic uint64_t stat_active, stat_failed_truncates, stat_failed_maps, stat_failed_unmaps;

void mapio_vec_stats(mapio_vec_stats_t *out)
{
    if (out == NULL)
        return;
    out->active_mappings = atomic_load(&stat_active);
    out->failed_truncates = atomic_load(&stat_failed_truncates);
    out->failed_maps = atomic_load(&stat_failed_maps);
    out->failed_unmaps = atomic_load(&stat_failed_unmaps);
}

/* ---- segment files ---------------------------------------------------------- */

static int default_path(void *ctx, char *buf, size_t cap)
{
    (void)ctx;
    char dir[PATH_CAP];
    int err = mapio__vecos_default_dir(dir, sizeof dir);
    if (err != 0)
        return err;
    static _Atomic uint64_t counter;
    uint64_t x = mapio__vecos_entropy() ^ (atomic_fetch_add(&counter, 1) * 0x9e3779b97f4a7c15ull);
    int n = snprintf(buf, cap, "%s/mapio-vec-%016llx", dir, (unsigned long long)x);
    return n < 0 || (size_t)n >= cap ? MAPIO_ENAMETOOLONG : 0;
}

/* Create the segment file (exclusively; the default name retries on a
 * collision). */
static int create_segment(mapio_vec_t *v)
{
    for (int attempt = 0;; attempt++) {
        int err = v->path_fn(v->ctx, v->path, sizeof v->path);
        if (err == 0 && memchr(v->path, '\0', sizeof v->path) == NULL)
            err = MAPIO_ENAMETOOLONG;
        if (err == 0)
            err = mapio__mapos_open(v->path, MAPIO_MAP_CREATE_NEW, true, 0600, &v->fd);
        if (err == MAPIO_EEXIST && v->path_fn == default_path && attempt < 16)
            continue;
        return err;
    }
}

/* ---- growth -------------------------------------------------------------------- */

/* Bytes for cap elements rounded up to whole pages, or 0 on overflow. */
static size_t bytes_for(const mapio_vec_t *v, uint64_t cap)
{
    uint64_t page = mapio__mapos_page_size();
    if (cap > (uint64_t)INT64_MAX / v->elem)
        return 0;
    uint64_t b = cap * v->elem;
    if (b > (uint64_t)INT64_MAX - page || b + page - 1 > (uint64_t)SIZE_MAX)
        return 0;
    return (size_t)((b + page - 1) / page * page);
}

/* Make the capacity at least want; on any failure nothing has changed. */
static int grow_to(mapio_vec_t *v, uint64_t want)
{
    if (want <= v->cap)
        return 0;
    uint64_t target = v->cap > UINT64_MAX / 2 ? UINT64_MAX : v->cap * 2;
    if (target < want)
        target = want;
    size_t nbytes = bytes_for(v, target);
    if (nbytes == 0) {
        /* Doubling overflowed: try just what was asked for. */
        target = want;
        nbytes = bytes_for(v, target);
        if (nbytes == 0)
            return MAPIO_EOVERFLOW;
    }
    /* The file first: a mapping must never outrun it. */
    int err = mapio__mapos_truncate(v->fd, nbytes);
    if (err != 0) {
        atomic_fetch_add(&stat_failed_truncates, 1);
        return err;
    }
    void *p;
    if (v->data == NULL)
        err = mapio__mapos_map(v->fd, 0, nbytes, MAPIO_MAP_READ_WRITE, 0, &p);
    else
        err =
            mapio__mapos_remap(v->data, v->map_len, nbytes, v->fd, 0, MAPIO_MAP_READ_WRITE, 0, &p);
    if (err != 0) {
        atomic_fetch_add(&stat_failed_maps, 1);
        /* The old mapping is intact; give the file its old size back. */
        if (mapio__mapos_truncate(v->fd, v->map_len) != 0)
            atomic_fetch_add(&stat_failed_truncates, 1);
        return err;
    }
    if (v->data == NULL)
        atomic_fetch_add(&stat_active, 1);
    v->data = p;
    v->map_len = nbytes;
    v->cap = nbytes / v->elem; /* the whole pages are usable */
    return 0;
}

int mapio_vec_reserve(mapio_vec_t *v, uint64_t additional)
{
    if (v == NULL)
        return MAPIO_EINVAL;
    if (additional > UINT64_MAX - v->len)
        return MAPIO_EOVERFLOW;
    return grow_to(v, v->len + additional);
}

/* ---- life ------------------------------------------------------------------------ */

static void unmap(mapio_vec_t *v, int *err)
{
    if (v->data == NULL)
        return;
    int e = mapio__mapos_unmap(v->data, v->map_len);
    if (e != 0) {
        atomic_fetch_add(&stat_failed_unmaps, 1);
        if (*err == 0)
            *err = e;
    }
    atomic_fetch_sub(&stat_active, 1);
    v->data = NULL;
}

int mapio_vec_free(mapio_vec_t *v)
{
    if (v == NULL)
        return 0;
    int err = 0;
    unmap(v, &err);
    int e = mapio__mapos_close(v->fd);
    if (err == 0)
        err = e;
    e = mapio__vecos_unlink(v->path);
    if (err == 0)
        err = e;
    mapio__free(v);
    return err;
}

static int vec_make(mapio_vec_t **out, size_t elem_size, mapio_vec_path_fn fn, void *ctx,
                    uint64_t capacity)
{
    if (out == NULL || elem_size == 0)
        return MAPIO_EINVAL;
    mapio_vec_t *v = mapio__calloc(1, sizeof *v);
    if (v == NULL)
        return MAPIO_ENOMEM;
    v->elem = elem_size;
    v->fd = MAPIO_INVALID_FD;
    v->path_fn = fn != NULL ? fn : default_path;
    v->ctx = ctx;
    if (capacity > 0 && bytes_for(v, capacity) == 0) {
        mapio__free(v);
        return MAPIO_EOVERFLOW;
    }
    int err = create_segment(v);
    if (err != 0) {
        mapio__free(v);
        return err;
    }
    if (capacity > 0 && (err = grow_to(v, capacity)) != 0) {
        mapio_vec_free(v); /* removes the file it created */
        return err;
    }
    *out = v;
    return 0;
}

int mapio_vec_new(mapio_vec_t **out, size_t elem_size, const mapio_vec_opts_t *opts)
{
    return vec_make(out, elem_size, opts != NULL ? opts->path : NULL,
                    opts != NULL ? opts->ctx : NULL, opts != NULL ? opts->capacity : 0);
}

int mapio_vec_clone(mapio_vec_t **out, const mapio_vec_t *v)
{
    if (out == NULL || v == NULL)
        return MAPIO_EINVAL;
    mapio_vec_t *c;
    int err = vec_make(&c, v->elem, v->path_fn, v->ctx, v->len);
    if (err != 0)
        return err;
    if (v->len > 0)
        memcpy(c->data, v->data, (size_t)(v->len * v->elem));
    c->len = v->len;
    *out = c;
    return 0;
}

/* ---- access ------------------------------------------------------------------------ */

uint64_t mapio_vec_len(const mapio_vec_t *v)
{
    return v != NULL ? v->len : 0;
}

uint64_t mapio_vec_capacity(const mapio_vec_t *v)
{
    return v != NULL ? v->cap : 0;
}

size_t mapio_vec_elem_size(const mapio_vec_t *v)
{
    return v != NULL ? v->elem : 0;
}

const char *mapio_vec_path(const mapio_vec_t *v)
{
    return v != NULL ? v->path : NULL;
}

void *mapio_vec_at(const mapio_vec_t *v, uint64_t i)
{
    return v != NULL && i < v->len ? v->data + i * v->elem : NULL;
}

int mapio_vec_get(const mapio_vec_t *v, uint64_t i, void *out)
{
    if (v == NULL || out == NULL)
        return MAPIO_EINVAL;
    if (i >= v->len)
        return MAPIO_ERANGE;
    memcpy(out, v->data + i * v->elem, v->elem);
    return 0;
}

int mapio_vec_set(mapio_vec_t *v, uint64_t i, const void *elem)
{
    if (v == NULL || elem == NULL)
        return MAPIO_EINVAL;
    if (i >= v->len)
        return MAPIO_ERANGE;
    memcpy(v->data + i * v->elem, elem, v->elem);
    return 0;
}

int mapio_vec_push(mapio_vec_t *v, const void *elem)
{
    if (v == NULL || elem == NULL)
        return MAPIO_EINVAL;
    if (v->len == v->cap) {
        int err = grow_to(v, v->len + 1);
        if (err != 0)
            return err;
    }
    memcpy(v->data + v->len * v->elem, elem, v->elem);
    v->len++;
    return 0;
}

int mapio_vec_pop(mapio_vec_t *v, void *out)
{
    if (v == NULL)
        return MAPIO_EINVAL;
    if (v->len == 0)
        return MAPIO_ERANGE;
    v->len--;
    if (out != NULL)
        memcpy(out, v->data + v->len * v->elem, v->elem);
    return 0;
}

int mapio_vec_truncate(mapio_vec_t *v, uint64_t n)
{
    if (v == NULL)
        return MAPIO_EINVAL;
    if (n < v->len)
        v->len = n;
    return 0;
}

int mapio_vec_truncate_front(mapio_vec_t *v, uint64_t n)
{
    if (v == NULL)
        return MAPIO_EINVAL;
    if (n > v->len)
        return MAPIO_ERANGE;
    if (n > 0 && n < v->len)
        memmove(v->data, v->data + n * v->elem, (size_t)((v->len - n) * v->elem));
    v->len -= n;
    return 0;
}

void mapio_vec_clear(mapio_vec_t *v)
{
    if (v != NULL)
        v->len = 0;
}

/* The whole pages that hold elements [first, first + n). */
static int pages_of(const mapio_vec_t *v, uint64_t first, uint64_t n, unsigned char **p,
                    size_t *len)
{
    if (first > v->len || n > v->len - first)
        return MAPIO_ERANGE;
    uint64_t page = mapio__mapos_page_size();
    uint64_t start = first * v->elem / page * page;
    uint64_t end = ((first + n) * v->elem + page - 1) / page * page;
    if (end > v->map_len)
        end = v->map_len;
    *p = v->data + start;
    *len = (size_t)(end - start);
    return 0;
}

static int advise(mapio_vec_t *v, uint64_t first, uint64_t n, mapio_advice_t a)
{
    if (v == NULL)
        return MAPIO_EINVAL;
    unsigned char *p;
    size_t len;
    int err = pages_of(v, first, n, &p, &len);
    if (err != 0 || len == 0)
        return err;
    if (a == MAPIO_ADVICE_DONTNEED) {
        /* Written back first: dropping a shared page never loses it, but
         * the write-back then happens now, not at the kernel's leisure. */
        err = mapio__mapos_sync(p, len, v->fd, (uint64_t)(p - v->data), false);
        if (err != 0)
            return err;
    }
    return mapio__mapos_advise(p, len, a);
}

int mapio_vec_prefetch(mapio_vec_t *v)
{
    return advise(v, 0, v != NULL ? v->len : 0, MAPIO_ADVICE_WILLNEED);
}

int mapio_vec_prefetch_at(mapio_vec_t *v, uint64_t i)
{
    if (v != NULL && i >= v->len)
        return MAPIO_ERANGE;
    return advise(v, i, 1, MAPIO_ADVICE_WILLNEED);
}

int mapio_vec_evict(mapio_vec_t *v, uint64_t first, uint64_t n)
{
    return advise(v, first, n, MAPIO_ADVICE_DONTNEED);
}
