/*
 * mmap/map/map.c - mapped files: the portable part.
 *
 * A map keeps two views: what the user asked for (data, len: any byte offset
 * and length) and what the OS mapped (raw, raw_len: whole pages). Every API
 * access is checked against the user view, so a bad offset is an error code,
 * never a fault; the OS calls always get page-aligned ranges.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine/os.h"
#include "map_os.h"

enum map_type { T_FILE, T_ANON, T_MEMORY, T_EMPTY };

struct mapio_map {
    enum map_type type;
    mapio_map_kind_t kind;
    unsigned flags;
    unsigned char *data; /* the user's view: byte offset `offset` of the file */
    uint64_t len;
    void *raw; /* the OS mapping (page-aligned), or the heap buffer */
    size_t raw_len;
    uint64_t offset;     /* file offset of data */
    uint64_t raw_offset; /* file offset of raw (page-aligned) */
    mapio_fd_t fd;
    uint64_t dev, ino; /* identity, for mapio_map_remove */
    char *path;
    bool frozen, poisoned, locked;
    bool borrowed; /* fd is its caller's (mapio__map_new_fd): never closed here */
};

uint64_t mapio_page_size(void)
{
    return mapio__mapos_page_size();
}

static uint64_t page_down(uint64_t v)
{
    return v & ~(mapio_page_size() - 1);
}

static mapio_map_t *new_map(enum map_type type)
{
    mapio_map_t *m = mapio__calloc(1, sizeof *m);
    if (m != NULL) {
        m->type = type;
        m->fd = MAPIO_INVALID_FD;
    }
    return m;
}

static bool writable_kind(mapio_map_kind_t k)
{
    return k == MAPIO_MAP_READ_WRITE || k == MAPIO_MAP_COPY_ON_WRITE;
}

/* Map [offset, offset + len) of m->fd into m (len may be 0: nothing mapped). */
static int map_range(mapio_map_t *m, uint64_t len)
{
    m->len = len;
    if (len == 0)
        return 0; /* zero-length never reaches mmap(2) */
    m->raw_offset = page_down(m->offset);
    uint64_t delta = m->offset - m->raw_offset;
    if (len > SIZE_MAX - delta)
        return MAPIO_ENOMEM;
    m->raw_len = (size_t)(delta + len);
    int err = mapio__mapos_map(m->fd, m->raw_offset, m->raw_len, m->kind, m->flags, &m->raw);
    if (err != 0)
        return err;
    m->data = (unsigned char *)m->raw + delta;
    return 0;
}

/*
 * Make the file (now size bytes) want bytes long with the blocks under
 * [off, off + len) reserved (mapio__mapos_reserve), or leave it as it was:
 * a full file system is MAPIO_ENOSPC here, never SIGBUS at a later store.
 */
static int size_file(mapio_fd_t fd, uint64_t size, uint64_t want, uint64_t off, uint64_t len)
{
    int err;
    if (want < size) {
        /* Reserve what stays before cutting: a failure then changes nothing. */
        err = mapio__mapos_reserve(fd, off, len, want);
        return err == 0 ? mapio__mapos_truncate(fd, want) : err;
    }
    err = want > size ? mapio__mapos_truncate(fd, want) : 0;
    if (err == 0)
        err = mapio__mapos_reserve(fd, off, len, size);
    if (err != 0 && want > size)
        mapio__mapos_truncate(fd, size); /* also frees what was reserved */
    return err;
}

static int validate(const mapio_map_opts_t *o)
{
    if ((unsigned)o->kind > MAPIO_MAP_EXEC || (unsigned)o->open > MAPIO_MAP_TRUNCATE ||
        (unsigned)o->size > MAPIO_MAP_SIZE_IF_THERE)
        return MAPIO_EINVAL;
    if (o->flags & ~(unsigned)(MAPIO_MAP_POPULATE | MAPIO_MAP_HUGE_PAGES | MAPIO_MAP_STACK |
                               MAPIO_MAP_LOCK_FILE | MAPIO_MAP_REMOVE_ON_FREE))
        return MAPIO_EINVAL;
    /* Permission bits only (the vector's rule): open(2) would pass higher
     * bits - file type bits, garbage - on to the kernel, which ignores them
     * on some systems and not on others. */
    if (o->mode > 07777)
        return MAPIO_EINVAL;
    if (!mapio__range_ok(o->offset, o->size == MAPIO_MAP_SIZE_FILE ? 0 : o->len,
                         (uint64_t)INT64_MAX))
        return MAPIO_EOVERFLOW;
    /* Only a shared read-write map may change the file. */
    bool changes_file = o->open == MAPIO_MAP_TRUNCATE || o->size == MAPIO_MAP_SIZE_EXACT ||
                        o->size == MAPIO_MAP_SIZE_AT_LEAST;
    if (changes_file && o->kind != MAPIO_MAP_READ_WRITE)
        return MAPIO_EINVAL;
    return 0;
}

/* Size and map m's open file as o says; on failure the file is as it was
 * (its descriptor still open: the caller's to close). */
static int map_file(mapio_map_t *m, const mapio_map_opts_t *opts)
{
    mapio_map_opts_t o = *opts;
    int err = 0;
    if (o.flags & MAPIO_MAP_LOCK_FILE) {
        /* A second writable handle on the same file fails here, clearly. */
        err = mapio__mapos_flock(m->fd, o.kind == MAPIO_MAP_READ_WRITE ? 2 : 1, true);
        m->locked = err == 0;
    }
    uint64_t size = 0, len = 0;
    if (err == 0)
        err = mapio__mapos_size(m->fd, &size);
    if (err == 0)
        err = mapio__mapos_identity(m->fd, &m->dev, &m->ino);
    uint64_t want = size; /* the file's size once open */
    if (err == 0) {
        uint64_t have = size > o.offset ? size - o.offset : 0;
        switch (o.size) {
        case MAPIO_MAP_SIZE_FILE:
            len = have;
            break;
        case MAPIO_MAP_SIZE_EXACT:
            len = o.len;
            want = o.offset + o.len;
            break;
        case MAPIO_MAP_SIZE_AT_LEAST:
            len = o.len;
            want = MAPIO__MAX(size, o.offset + o.len);
            break;
        case MAPIO_MAP_SIZE_AT_MOST:
            len = MAPIO__MIN(o.len, have);
            break;
        case MAPIO_MAP_SIZE_IF_THERE:
            len = o.len;
            if (have < o.len)
                err = MAPIO_ERANGE;
            break;
        }
    }
    /* Only a shared writable mapping needs blocks behind it: reading a hole
     * maps zeros, and private stores go to anonymous memory. */
    if (err == 0 && o.kind == MAPIO_MAP_READ_WRITE)
        err = size_file(m->fd, size, want, o.offset, len);
    bool sized = err == 0 && want != size;
    if (err == 0)
        err = map_range(m, len);
    if (err != 0 && sized && want > size)
        mapio__mapos_truncate(m->fd, size); /* give the space back */
    return err;
}

int mapio_map_new(mapio_map_t **out, const char *path, const mapio_map_opts_t *opts)
{
    if (out == NULL || path == NULL)
        return MAPIO_EINVAL;
    *out = NULL;
    mapio_map_opts_t o = opts != NULL ? *opts : (mapio_map_opts_t){ 0 };
    int err = validate(&o);
    if (err != 0)
        return err;
    mapio_map_t *m = new_map(T_FILE);
    if (m == NULL)
        return MAPIO_ENOMEM;
    m->kind = o.kind;
    m->flags = o.flags;
    m->offset = o.offset;
    m->path = mapio__strdup(path);
    if (m->path == NULL) {
        mapio__free(m);
        return MAPIO_ENOMEM;
    }
    err = mapio__mapos_open(path, o.open, o.kind == MAPIO_MAP_READ_WRITE, o.mode, &m->fd);
    if (err == 0) {
        err = map_file(m, &o);
        if (err != 0)
            mapio__mapos_close(m->fd);
    }
    if (err != 0) {
        mapio__free(m->path);
        mapio__free(m);
        return err;
    }
    *out = m;
    return 0;
}

int mapio__map_new_fd(mapio_map_t **out, mapio_fd_t fd, const mapio_map_opts_t *opts)
{
    mapio_map_opts_t o = *opts;
    /* Nothing here knows a path: no policy that opens, locks or removes. */
    if (o.flags & (MAPIO_MAP_LOCK_FILE | MAPIO_MAP_REMOVE_ON_FREE))
        return MAPIO_EINVAL;
    int err = validate(&o);
    if (err != 0)
        return err;
    mapio_map_t *m = new_map(T_FILE);
    if (m == NULL)
        return MAPIO_ENOMEM;
    m->kind = o.kind;
    m->flags = o.flags;
    m->offset = o.offset;
    m->fd = fd;
    m->borrowed = true;
    err = map_file(m, &o);
    if (err != 0) {
        mapio__free(m);
        return err;
    }
    *out = m;
    return 0;
}

int mapio_map_new_anon(mapio_map_t **out, uint64_t len, unsigned flags)
{
    if (out == NULL || len == 0 || len > SIZE_MAX ||
        (flags & ~(unsigned)(MAPIO_MAP_POPULATE | MAPIO_MAP_HUGE_PAGES | MAPIO_MAP_STACK)))
        return MAPIO_EINVAL;
    *out = NULL;
    mapio_map_t *m = new_map(T_ANON);
    if (m == NULL)
        return MAPIO_ENOMEM;
    m->kind = MAPIO_MAP_COPY_ON_WRITE;
    m->flags = flags;
    int err = map_range(m, len);
    if (err != 0) {
        mapio__free(m);
        return err;
    }
    *out = m;
    return 0;
}

int mapio_map_new_memory(mapio_map_t **out, uint64_t len)
{
    if (out == NULL || len == 0 || len > SIZE_MAX)
        return MAPIO_EINVAL;
    *out = NULL;
    mapio_map_t *m = new_map(T_MEMORY);
    if (m == NULL || (m->raw = mapio__calloc(1, (size_t)len)) == NULL) {
        mapio__free(m);
        return MAPIO_ENOMEM;
    }
    m->kind = MAPIO_MAP_READ_WRITE;
    m->data = m->raw;
    m->len = len;
    m->raw_len = (size_t)len;
    *out = m;
    return 0;
}

int mapio_map_new_empty(mapio_map_t **out)
{
    if (out == NULL)
        return MAPIO_EINVAL;
    *out = new_map(T_EMPTY);
    if (*out == NULL)
        return MAPIO_ENOMEM;
    (*out)->kind = MAPIO_MAP_READ_WRITE; /* nothing to write, but nothing forbidden */
    return 0;
}

/* ---- access ---------------------------------------------------------------- */

uint64_t mapio_map_len(const mapio_map_t *m)
{
    return m != NULL && !m->poisoned ? m->len : 0;
}

void *mapio_map_ptr(const mapio_map_t *m, uint64_t off)
{
    if (m == NULL || m->poisoned || off >= m->len)
        return NULL;
    return m->data + off;
}

/* The common check: 0, or why [off, off + n) is not inside the map. */
static int span(const mapio_map_t *m, uint64_t off, uint64_t n)
{
    if (m == NULL)
        return MAPIO_EINVAL;
    if (m->poisoned)
        return MAPIO_EIO;
    if (n > UINT64_MAX - off)
        return MAPIO_EOVERFLOW;
    return off + n <= m->len ? 0 : MAPIO_ERANGE;
}

int mapio_map_slice(const mapio_map_t *m, uint64_t off, uint64_t n, void **ptr)
{
    if (ptr == NULL)
        return MAPIO_EINVAL;
    int err = span(m, off, n);
    if (err == 0)
        *ptr = m->len > 0 ? m->data + off : NULL;
    return err;
}

int64_t mapio_map_read(const mapio_map_t *m, uint64_t off, void *buf, size_t n)
{
    if (m == NULL || (buf == NULL && n > 0) || n > MAPIO_MAX_IO)
        return MAPIO_EINVAL;
    if (m->poisoned)
        return MAPIO_EIO;
    if (n > UINT64_MAX - off)
        return MAPIO_EOVERFLOW;
    if (off >= m->len)
        return 0;
    size_t k = (size_t)MAPIO__MIN((uint64_t)n, m->len - off);
    memcpy(buf, m->data + off, k);
    return (int64_t)k;
}

static int writable(const mapio_map_t *m)
{
    return writable_kind(m->kind) && !m->frozen ? 0 : MAPIO_EACCES;
}

int64_t mapio_map_write(mapio_map_t *m, uint64_t off, const void *buf, size_t n)
{
    if (buf == NULL && n > 0)
        return MAPIO_EINVAL;
    int err = span(m, off, n);
    if (err == 0)
        err = writable(m);
    if (err != 0)
        return err;
    if (n > 0)
        memcpy(m->data + off, buf, n);
    return (int64_t)n;
}

int mapio_map_zero(mapio_map_t *m, uint64_t off, uint64_t n)
{
    int err = span(m, off, n);
    if (err == 0)
        err = writable(m);
    if (err == 0 && n > 0)
        memset(m->data + off, 0, (size_t)n);
    return err;
}

/* The pages under [off, off + n) (n = UINT64_MAX: to the end) as an OS range. */
static int pages(mapio_map_t *m, uint64_t off, uint64_t n, void **p, size_t *len,
                 uint64_t *file_off)
{
    if (n == UINT64_MAX && m != NULL && off <= m->len)
        n = m->len - off;
    int err = span(m, off, n);
    if (err != 0)
        return err;
    uint64_t delta = m->offset - m->raw_offset;
    uint64_t start = page_down(delta + off), end = delta + off + n;
    *p = (unsigned char *)m->raw + start;
    *len = (size_t)(end - start);
    *file_off = m->raw_offset + start;
    return 0;
}

static int flush(mapio_map_t *m, uint64_t off, uint64_t n, bool async)
{
    void *p;
    size_t len;
    uint64_t foff;
    int err = pages(m, off, n, &p, &len, &foff);
    if (err != 0 || len == 0 || m->type != T_FILE || m->kind == MAPIO_MAP_COPY_ON_WRITE)
        return err; /* nothing of a private or memory map reaches a file */
    return mapio__mapos_sync(p, len, m->fd, foff, async);
}

int mapio_map_flush(mapio_map_t *m, uint64_t off, uint64_t n)
{
    return flush(m, off, n, false);
}

int mapio_map_flush_async(mapio_map_t *m, uint64_t off, uint64_t n)
{
    return flush(m, off, n, true);
}

static int protect(mapio_map_t *m, bool frozen)
{
    int err = span(m, 0, 0);
    if (err != 0)
        return err;
    if (!frozen && !writable_kind(m->kind))
        return MAPIO_EACCES; /* thawing never grants more than the kind has */
    if ((m->type == T_FILE || m->type == T_ANON) && m->raw_len > 0)
        err = mapio__mapos_protect(m->raw, m->raw_len, m->kind, frozen);
    if (err == 0)
        m->frozen = frozen;
    return err;
}

int mapio_map_freeze(mapio_map_t *m)
{
    return protect(m, true);
}

int mapio_map_thaw(mapio_map_t *m)
{
    return protect(m, false);
}

static bool os_mapped(const mapio_map_t *m)
{
    return (m->type == T_FILE || m->type == T_ANON) && m->raw_len > 0;
}

int mapio_map_advise(mapio_map_t *m, uint64_t off, uint64_t n, mapio_advice_t a)
{
    if ((unsigned)a > MAPIO_ADVICE_DONTNEED)
        return MAPIO_EINVAL;
    void *p;
    size_t len;
    uint64_t foff;
    int err = pages(m, off, n, &p, &len, &foff);
    if (err != 0 || !os_mapped(m) || len == 0)
        return err;
    return mapio__mapos_advise(p, len, a);
}

static int mlock_range(mapio_map_t *m, uint64_t off, uint64_t n, bool lock)
{
    void *p;
    size_t len;
    uint64_t foff;
    int err = pages(m, off, n, &p, &len, &foff);
    if (err != 0 || !os_mapped(m) || len == 0)
        return err;
    return mapio__mapos_mlock(p, len, lock);
}

int mapio_map_mlock(mapio_map_t *m, uint64_t off, uint64_t n)
{
    return mlock_range(m, off, n, true);
}

int mapio_map_munlock(mapio_map_t *m, uint64_t off, uint64_t n)
{
    return mlock_range(m, off, n, false);
}

/* ---- resize, locks, close ----------------------------------------------------- */

int mapio_map_resize(mapio_map_t *m, uint64_t new_len)
{
    int err = span(m, 0, 0);
    if (err != 0)
        return err;
    if (m->type != T_FILE || new_len == 0)
        return MAPIO_EINVAL;
    if (m->kind != MAPIO_MAP_READ_WRITE || m->frozen)
        return MAPIO_EACCES;
    if (!mapio__range_ok(m->offset, new_len, (uint64_t)INT64_MAX))
        return MAPIO_EOVERFLOW;
    uint64_t delta = m->offset - m->raw_offset;
    if (new_len > SIZE_MAX - delta)
        return MAPIO_ENOMEM;
    size_t raw_new = (size_t)(delta + new_len);
    bool grow = new_len > m->len;
    /* Grow the file before the mapping, shrink it after: no page of the
     * mapping ever lies past the end of the file. */
    uint64_t size = 0;
    if (grow) {
        err = mapio__mapos_size(m->fd, &size);
        if (err == 0)
            err = size_file(m->fd, size, m->offset + new_len, m->offset + m->len, new_len - m->len);
        if (err != 0)
            return err; /* the file is as it was, and so is the map */
    }
    void *raw = m->raw;
    if (m->raw_len == 0) {
        /* Nothing was mapped (an empty file): map afresh. */
        err = map_range(m, new_len);
        if (err != 0)
            m->len = m->raw_len = 0; /* still the empty map */
    } else {
        err = mapio__mapos_remap(m->raw, m->raw_len, raw_new, m->fd, m->raw_offset, m->kind,
                                 m->flags, &raw);
        if (err == 0) {
            m->raw = raw;
            m->raw_len = raw_new;
            m->data = (unsigned char *)raw + delta;
            m->len = new_len;
        }
    }
    if (err != 0 && grow) {
        /* A mapping that cannot grow stays as it was (a new one is made
         * before the old goes); so does the file. */
        mapio__mapos_truncate(m->fd, size);
        return err;
    }
    if (err == 0 && !grow)
        err = mapio__mapos_truncate(m->fd, m->offset + new_len);
    if (err != 0)
        m->poisoned = true; /* the mapping may no longer match the file */
    return err;
}

int mapio_map_lock(mapio_map_t *m, unsigned flags)
{
    int err = span(m, 0, 0);
    if (err == 0 && (m->type != T_FILE ||
                     (flags & ~(unsigned)(MAPIO_MAP_LOCK_EXCLUSIVE | MAPIO_MAP_LOCK_NONBLOCK))))
        err = MAPIO_EINVAL;
    if (err == 0)
        err = mapio__mapos_flock(m->fd, (flags & MAPIO_MAP_LOCK_EXCLUSIVE) ? 2 : 1,
                                 (flags & MAPIO_MAP_LOCK_NONBLOCK) != 0);
    if (err == 0)
        m->locked = true;
    return err;
}

int mapio_map_unlock(mapio_map_t *m)
{
    int err = span(m, 0, 0);
    if (err == 0 && m->type != T_FILE)
        err = MAPIO_EINVAL;
    if (err == 0)
        err = mapio__mapos_flock(m->fd, 0, false);
    if (err == 0)
        m->locked = false;
    return err;
}

int mapio_map_remove(mapio_map_t *m)
{
    int err = span(m, 0, 0);
    if (err == 0 && (m->type != T_FILE || m->path == NULL))
        err = MAPIO_EINVAL;
    if (err == 0)
        err = mapio__mapos_remove(m->path, m->dev, m->ino);
    return err;
}

static int release(mapio_map_t *m)
{
    int err = 0;
    if (os_mapped(m) && !m->poisoned)
        err = mapio__mapos_unmap(m->raw, m->raw_len);
    else if (os_mapped(m))
        mapio__mapos_unmap(m->raw, m->raw_len); /* best effort on a poisoned map */
    if (m->type == T_MEMORY)
        mapio__free(m->raw);
    if (m->type == T_FILE) {
        if ((m->flags & MAPIO_MAP_REMOVE_ON_FREE) && !m->poisoned) {
            int r = mapio__mapos_remove(m->path, m->dev, m->ino);
            err = err != 0 ? err : r;
        }
        int r = m->borrowed ? 0 : mapio__mapos_close(m->fd); /* drops any flock too */
        err = err != 0 ? err : r;
    }
    mapio__free(m->path);
    mapio__free(m);
    return err;
}

int mapio_map_free(mapio_map_t *m)
{
    return m != NULL ? release(m) : 0;
}

int mapio_map_free_truncate(mapio_map_t *m, uint64_t size)
{
    int err = span(m, 0, 0);
    if (err != 0)
        return err;
    if (m->type != T_FILE || m->kind != MAPIO_MAP_READ_WRITE)
        return MAPIO_EACCES;
    err = mapio_map_flush(m, 0, UINT64_MAX);
    if (err == 0 && os_mapped(m)) {
        err = mapio__mapos_unmap(m->raw, m->raw_len);
        m->raw_len = 0;
    }
    if (err == 0)
        err = mapio__mapos_truncate(m->fd, size);
    if (err == 0)
        err = mapio__mapos_fsync(m->fd);
    if (err == 0 && m->path != NULL)
        err = mapio__mapos_sync_parent(m->path);
    int r = release(m);
    return err != 0 ? err : r;
}

int mapio_map_copy_to_file(const mapio_map_t *m, uint64_t off, uint64_t n, const char *path)
{
    void *src;
    if (path == NULL)
        return MAPIO_EINVAL;
    int err = mapio_map_slice(m, off, n, &src);
    if (err != 0)
        return err;
    mapio_fd_t fd;
    /* Exclusive: a copy never replaces what is already at path. */
    err = mapio__mapos_open(path, MAPIO_MAP_CREATE_NEW, true, 0644, &fd);
    if (err != 0)
        return err;
    /* Who we created, so that a failure removes that file and nothing else. */
    uint64_t dev = 0, ino = 0;
    int ierr = mapio__mapos_identity(fd, &dev, &ino);
    const unsigned char *p = src;
    for (uint64_t done = 0; err == 0 && done < n;) {
        int64_t w =
            mapio__os.pwrite(fd, p + done, (size_t)MAPIO__MIN(n - done, MAPIO__IO_CHUNK), done);
        if (w == MAPIO_EINTR)
            continue;
        if (w < 0)
            err = (int)w;
        else if (w == 0)
            err = MAPIO_ENOSPC; /* no progress: do not spin */
        else
            done += (uint64_t)w;
    }
    if (err == 0)
        err = mapio__mapos_fsync(fd);
    int cerr = mapio__mapos_close(fd);
    if (err == 0)
        err = cerr;
    if (err == 0)
        err = mapio__mapos_sync_parent(path);
    if (err != 0 && ierr == 0)
        mapio__mapos_remove(path, dev, ino);
    return err;
}
