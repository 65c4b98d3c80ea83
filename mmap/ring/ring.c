/*
 * mmap/ring/ring.c - boundary-free rings: the portable part.
 *
 * The OS half (ring_os.h) maps cap bytes twice, back to back, so the span at
 * any offset < cap of length <= cap is contiguous. Positions are 64-bit byte
 * counts that only grow: head = bytes produced, tail = bytes consumed (plus,
 * when overwriting, dropped). head - tail is what is readable, whatever the
 * capacity - no power-of-two mask (the vmap seed's bug #22 came from one);
 * the offset in the mapping is pos % cap.
 *
 * SPSC: only the producer stores head, only the consumer stores tail, each
 * with release; each side reads the other's with acquire. So the consumer
 * sees the bytes before the head that covers them, and the producer never
 * reuses bytes before the consumer's tail has passed them.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "mapio/ring.h"
#include "ring_os.h"

/* Producer and consumer each write their own cache line; the fields both
 * only read sit on a third. (Padding, not _Alignas: the struct comes from
 * mapio__malloc, which promises only malloc's alignment.) */
struct mapio_ring {
    unsigned char *base;
    size_t cap;
    unsigned flags;
    uint64_t dropped; /* overwriting rings only: one thread, no atomics needed */
    char pad0[64];
    _Atomic uint64_t head;
    char pad1[64];
    _Atomic uint64_t tail;
    char pad2[64];
};

static bool overwriting(const mapio_ring_t *r)
{
    return (r->flags & MAPIO_RING_OVERWRITE) != 0;
}

static unsigned char *at(const mapio_ring_t *r, uint64_t pos)
{
    return r->base + (size_t)(pos % r->cap);
}

size_t mapio_ring_granularity(void)
{
    return mapio__ringos_granularity();
}

int mapio_ring_new(mapio_ring_t **out, size_t size, unsigned flags)
{
    if (out == NULL)
        return MAPIO_EINVAL;
    *out = NULL;
    if (size == 0 || (flags & ~(unsigned)MAPIO_RING_OVERWRITE) != 0)
        return MAPIO_EINVAL;
    size_t g = mapio__ringos_granularity();
    if (size > SIZE_MAX - (g - 1))
        return MAPIO_EOVERFLOW;
    size_t len = (size + g - 1) & ~(g - 1);
    /* Both views must fit, and any pointer difference inside them. */
    if (len > PTRDIFF_MAX / 2)
        return MAPIO_EOVERFLOW;
    mapio_ring_t *r = mapio__calloc(1, sizeof *r);
    if (r == NULL)
        return MAPIO_ENOMEM;
    void *base;
    int err = mapio__ringos_create(len, &base);
    if (err != 0) {
        mapio__free(r);
        return err;
    }
    r->base = base;
    r->cap = len;
    r->flags = flags;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    *out = r;
    return 0;
}

int mapio_ring_free(mapio_ring_t *r)
{
    if (r == NULL)
        return 0;
    int err = mapio__ringos_destroy(r->base, r->cap);
    mapio__free(r);
    return err;
}

size_t mapio_ring_capacity(const mapio_ring_t *r)
{
    return r != NULL ? r->cap : 0;
}

unsigned mapio_ring_flags(const mapio_ring_t *r)
{
    return r != NULL ? r->flags : 0;
}

/* ---- consumer side -------------------------------------------------------- */

/* What the consumer may read: its own tail (relaxed) against the producer's
 * head (acquire: the bytes below head are visible). */
static size_t readable(const mapio_ring_t *r, uint64_t *tail)
{
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
    *tail = t;
    return (size_t)(h - t);
}

void *mapio_ring_read_ptr(const mapio_ring_t *r)
{
    if (r == NULL)
        return NULL;
    return at(r, atomic_load_explicit(&r->tail, memory_order_relaxed));
}

size_t mapio_ring_read_len(const mapio_ring_t *r)
{
    uint64_t t;
    return r != NULL ? readable(r, &t) : 0;
}

int mapio_ring_consume(mapio_ring_t *r, size_t n)
{
    if (r == NULL)
        return MAPIO_EINVAL;
    uint64_t t;
    if (n > readable(r, &t))
        return MAPIO_ERANGE;
    /* Release: our reads of these bytes are done before the producer may
     * overwrite them. */
    atomic_store_explicit(&r->tail, t + n, memory_order_release);
    return 0;
}

int64_t mapio_ring_read(mapio_ring_t *r, void *buf, size_t n)
{
    if (r == NULL || (buf == NULL && n > 0))
        return MAPIO_EINVAL;
    uint64_t t;
    size_t have = readable(r, &t); /* once: MAPIO__MIN evaluates twice, and head moves */
    size_t m = MAPIO__MIN(n, have);
    if (m == 0)
        return 0;
    memcpy(buf, at(r, t), m);
    atomic_store_explicit(&r->tail, t + m, memory_order_release);
    return (int64_t)m;
}

int mapio_ring_clear(mapio_ring_t *r)
{
    if (r == NULL)
        return MAPIO_EINVAL;
    uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
    atomic_store_explicit(&r->tail, h, memory_order_release);
    return 0;
}

uint64_t mapio_ring_read_pos(const mapio_ring_t *r)
{
    return r != NULL ? atomic_load_explicit(&r->tail, memory_order_acquire) : 0;
}

/* ---- producer side -------------------------------------------------------- */

/* What the producer may write: its own head (relaxed) against the
 * consumer's tail (acquire: the consumer is done with the bytes below it). */
static size_t writable(const mapio_ring_t *r, uint64_t *head)
{
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    *head = h;
    if (overwriting(r))
        return r->cap;
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
    return r->cap - (size_t)(h - t);
}

void *mapio_ring_write_ptr(const mapio_ring_t *r)
{
    if (r == NULL)
        return NULL;
    return at(r, atomic_load_explicit(&r->head, memory_order_relaxed));
}

size_t mapio_ring_write_len(const mapio_ring_t *r)
{
    uint64_t h;
    return r != NULL ? writable(r, &h) : 0;
}

/* Move head from h to h + n (n <= capacity). An overwriting ring first
 * drops what no longer fits. Release: the bytes are written before the
 * consumer can see the head that covers them. */
static void advance(mapio_ring_t *r, uint64_t h, uint64_t n)
{
    h += n;
    if (overwriting(r)) {
        uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
        if (h - t > r->cap) {
            r->dropped += h - r->cap - t;
            atomic_store_explicit(&r->tail, h - r->cap, memory_order_release);
        }
    }
    atomic_store_explicit(&r->head, h, memory_order_release);
}

int mapio_ring_produce(mapio_ring_t *r, size_t n)
{
    if (r == NULL)
        return MAPIO_EINVAL;
    uint64_t h;
    if (n > writable(r, &h))
        return MAPIO_ERANGE;
    if (n > 0)
        advance(r, h, n);
    return 0;
}

int64_t mapio_ring_write(mapio_ring_t *r, const void *buf, size_t n)
{
    if (r == NULL || (buf == NULL && n > 0))
        return MAPIO_EINVAL;
    if ((uint64_t)n > (uint64_t)INT64_MAX)
        return MAPIO_EOVERFLOW;
    uint64_t h;
    size_t room = writable(r, &h);
    const unsigned char *src = buf;
    size_t m = MAPIO__MIN(n, room);
    if (n > room && overwriting(r)) {
        /* Only the last capacity bytes can stay: the ones before them count
         * as written and dropped (advance counts them: they end up below
         * the new tail), as if they had been overwritten. */
        size_t skip = n - r->cap;
        src += skip;
        h += skip;
        m = r->cap;
    }
    if (m == 0)
        return 0;
    memcpy(at(r, h), src, m);
    advance(r, h, m);
    return overwriting(r) ? (int64_t)n : (int64_t)m;
}

uint64_t mapio_ring_write_pos(const mapio_ring_t *r)
{
    return r != NULL ? atomic_load_explicit(&r->head, memory_order_acquire) : 0;
}

uint64_t mapio_ring_dropped(const mapio_ring_t *r)
{
    return r != NULL ? r->dropped : 0;
}

/* ---- failure injection (ring_os.h) ---------------------------------------- */

static atomic_int fail_step, fail_err, fail_times;

void mapio__ringos_fail_at(int step, int err, int times)
{
    /* Disarmed while the error and count change, so a creation racing with
     * the test never sees half an arming. */
    atomic_store(&fail_step, 0);
    atomic_store(&fail_err, err);
    atomic_store(&fail_times, times);
    atomic_store(&fail_step, times > 0 ? step : 0);
}

int mapio__ringos_injected(int step)
{
    if (atomic_load_explicit(&fail_step, memory_order_relaxed) != step)
        return 0;
    int left = atomic_fetch_sub(&fail_times, 1);
    if (left <= 0)
        return 0;
    if (left == 1)
        atomic_store(&fail_step, 0);
    return atomic_load(&fail_err);
}
