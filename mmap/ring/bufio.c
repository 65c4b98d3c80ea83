/*
 * mmap/ring/bufio.c - buffered reader and writer over a descriptor: the
 * portable part (the OS calls are in ring_os.h's table).
 *
 * Both sit on a bounded ring rather than a plain buffer. A plain buffer has
 * to move the bytes left over to its front - the reader when it tops up at
 * the low-water mark, the writer after a partial write(2) - or else split
 * the next transfer in two at its end. On the ring a partial transfer only
 * advances a position, the free space and the buffered bytes are each one
 * span (one read(2) or write(2), never two), and after a failed flush the
 * unwritten bytes are already one span for the caller to take. The cost is
 * at creation only (a shared-memory object and three mappings instead of a
 * malloc) and a capacity rounded up to whole pages.
 */
#include <stdbool.h>
#include <string.h>

#include "mapio/ring.h"
#include "ring_os.h"

/* What the reader and the writer both are: a ring over a descriptor. */
struct bufio {
    mapio_ring_t *ring;
    mapio_fd_t fd;
};

struct mapio_bufreader {
    struct bufio io;
    size_t lowat;
};

struct mapio_bufwriter {
    struct bufio io;
};

/* The checks and the ring of both creates: *obj (size bytes, starting with
 * its struct bufio) is allocated here, or NULL on failure. */
static int bufio_create(void **obj, size_t size, mapio_fd_t fd, size_t capacity)
{
    *obj = NULL;
    if (capacity == 0 || fd == MAPIO_INVALID_FD)
        return MAPIO_EINVAL;
    struct bufio *b = mapio__calloc(1, size);
    if (b == NULL)
        return MAPIO_ENOMEM;
    int err = mapio_ring_new(&b->ring, capacity, 0);
    if (err != 0) {
        mapio__free(b);
        return err;
    }
    b->fd = fd;
    *obj = b;
    return 0;
}

/* One read(2) of at most n bytes, EINTR retried; a count above n (only a
 * broken hook could return one) is MAPIO_EIO. */
static int64_t read_some(mapio_fd_t fd, void *buf, size_t n)
{
    int64_t r;
    do
        r = mapio__ringos_io.read(fd, buf, n);
    while (r == MAPIO_EINTR);
    return r > 0 && (uint64_t)r > (uint64_t)n ? MAPIO_EIO : r;
}

/* One write(2) of at most n bytes, EINTR retried; 0 bytes written for n > 0
 * is MAPIO_ENOSPC, so no caller can spin on it. */
static int64_t write_some(mapio_fd_t fd, const void *buf, size_t n)
{
    int64_t r;
    do
        r = mapio__ringos_io.write(fd, buf, n);
    while (r == MAPIO_EINTR);
    if (r == 0)
        return MAPIO_ENOSPC;
    return r > 0 && (uint64_t)r > (uint64_t)n ? MAPIO_EIO : r;
}

/* ---- reader ---------------------------------------------------------------- */

int mapio_bufreader_new(mapio_bufreader_t **out, mapio_fd_t fd, size_t capacity)
{
    if (out == NULL)
        return MAPIO_EINVAL;
    void *obj;
    int err = bufio_create(&obj, sizeof **out, fd, capacity);
    *out = obj;
    return err;
}

int mapio_bufreader_free(mapio_bufreader_t *br)
{
    if (br == NULL)
        return 0;
    int err = mapio_ring_free(br->io.ring);
    mapio__free(br);
    return err;
}

size_t mapio_bufreader_capacity(const mapio_bufreader_t *br)
{
    return br != NULL ? mapio_ring_capacity(br->io.ring) : 0;
}

mapio_fd_t mapio_bufreader_fd(const mapio_bufreader_t *br)
{
    return br != NULL ? br->io.fd : MAPIO_INVALID_FD;
}

int mapio_bufreader_set_lowat(mapio_bufreader_t *br, size_t lowat)
{
    if (br == NULL)
        return MAPIO_EINVAL;
    br->lowat = lowat;
    return 0;
}

size_t mapio_bufreader_lowat(const mapio_bufreader_t *br)
{
    return br != NULL ? br->lowat : 0;
}

/* Top up if at or below the low-water mark; returns what is buffered then,
 * or the error when nothing is. */
static int64_t refill(mapio_bufreader_t *br)
{
    size_t have = mapio_ring_read_len(br->io.ring);
    size_t room = mapio_ring_write_len(br->io.ring);
    if (have > br->lowat || room == 0)
        return (int64_t)have;
    int64_t got = read_some(br->io.fd, mapio_ring_write_ptr(br->io.ring), room);
    if (got > 0) {
        mapio_ring_produce(br->io.ring, (size_t)got);
        return (int64_t)have + got;
    }
    /* End of file, or an error: deliver what is buffered first. */
    return have > 0 || got == 0 ? (int64_t)have : got;
}

int64_t mapio_bufreader_read(mapio_bufreader_t *br, void *buf, size_t n)
{
    if (br == NULL || buf == NULL || n == 0)
        return MAPIO_EINVAL;
    if ((uint64_t)n > (uint64_t)INT64_MAX)
        return MAPIO_EOVERFLOW;
    if (mapio_ring_read_len(br->io.ring) == 0 && n >= mapio_ring_capacity(br->io.ring))
        return read_some(br->io.fd, buf, n); /* large read, nothing buffered: no copy */
    int64_t have = refill(br);
    if (have <= 0)
        return have;
    return mapio_ring_read(br->io.ring, buf, MAPIO__MIN(n, (size_t)have));
}

int64_t mapio_bufreader_fill(mapio_bufreader_t *br, const void **ptr)
{
    if (br == NULL || ptr == NULL)
        return MAPIO_EINVAL;
    int64_t have = refill(br);
    *ptr = mapio_ring_read_ptr(br->io.ring);
    return have;
}

size_t mapio_bufreader_buffered(const mapio_bufreader_t *br, const void **ptr)
{
    if (br == NULL)
        return 0;
    if (ptr != NULL)
        *ptr = mapio_ring_read_ptr(br->io.ring);
    return mapio_ring_read_len(br->io.ring);
}

int mapio_bufreader_consume(mapio_bufreader_t *br, size_t n)
{
    return br != NULL ? mapio_ring_consume(br->io.ring, n) : MAPIO_EINVAL;
}

/* ---- writer ---------------------------------------------------------------- */

int mapio_bufwriter_new(mapio_bufwriter_t **out, mapio_fd_t fd, size_t capacity)
{
    if (out == NULL)
        return MAPIO_EINVAL;
    void *obj;
    int err = bufio_create(&obj, sizeof **out, fd, capacity);
    *out = obj;
    return err;
}

int mapio_bufwriter_flush(mapio_bufwriter_t *w)
{
    if (w == NULL)
        return MAPIO_EINVAL;
    size_t len;
    while ((len = mapio_ring_read_len(w->io.ring)) > 0) {
        int64_t r = write_some(w->io.fd, mapio_ring_read_ptr(w->io.ring), len);
        if (r < 0)
            return (int)r; /* what was not written stays pending */
        mapio_ring_consume(w->io.ring, (size_t)r);
    }
    return 0;
}

int mapio_bufwriter_free(mapio_bufwriter_t *w)
{
    if (w == NULL)
        return 0;
    int err = mapio_bufwriter_flush(w);
    int uerr = mapio_ring_free(w->io.ring);
    mapio__free(w);
    return err != 0 ? err : uerr;
}

size_t mapio_bufwriter_capacity(const mapio_bufwriter_t *w)
{
    return w != NULL ? mapio_ring_capacity(w->io.ring) : 0;
}

mapio_fd_t mapio_bufwriter_fd(const mapio_bufwriter_t *w)
{
    return w != NULL ? w->io.fd : MAPIO_INVALID_FD;
}

int64_t mapio_bufwriter_write(mapio_bufwriter_t *w, const void *buf, size_t n)
{
    if (w == NULL || buf == NULL || n == 0)
        return MAPIO_EINVAL;
    if ((uint64_t)n > (uint64_t)INT64_MAX)
        return MAPIO_EOVERFLOW;
    if (n > mapio_ring_write_len(w->io.ring)) {
        /* Make room - or, for a large write, keep the order: what is pending
         * goes first. On failure nothing of buf has been taken. */
        int err = mapio_bufwriter_flush(w);
        if (err != 0)
            return err;
    }
    if (n >= mapio_ring_capacity(w->io.ring)) {
        const unsigned char *p = buf;
        size_t done = 0;
        while (done < n) {
            int64_t r = write_some(w->io.fd, p + done, n - done);
            if (r < 0)
                return done > 0 ? (int64_t)done : r;
            done += (size_t)r;
        }
        return (int64_t)n;
    }
    memcpy(mapio_ring_write_ptr(w->io.ring), buf, n);
    mapio_ring_produce(w->io.ring, n);
    return (int64_t)n;
}

size_t mapio_bufwriter_pending(const mapio_bufwriter_t *w, const void **ptr)
{
    if (w == NULL)
        return 0;
    if (ptr != NULL)
        *ptr = mapio_ring_read_ptr(w->io.ring);
    return mapio_ring_read_len(w->io.ring);
}

int mapio_bufwriter_discard(mapio_bufwriter_t *w)
{
    return w != NULL ? mapio_ring_clear(w->io.ring) : MAPIO_EINVAL;
}
