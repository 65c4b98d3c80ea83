/*
 * mmap/ranges/ranges.c - range allocators, aligned splits and the ranged
 * file. Portable: the OS work is mmap/map's (mapping, flush, sync).
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "engine/common.h"
#include "mapio/ranges.h"

static bool is_pow2(uint64_t a)
{
    return a != 0 && (a & (a - 1)) == 0;
}

/* 0 means the runtime page size (never a compile-time 4096: 16 KiB and
 * 64 KiB pages exist). */
static uint64_t pick_align(uint64_t align)
{
    return align == 0 ? mapio_page_size() : align;
}

/* x rounded up to a (a power of two); x <= MAPIO_RANGE_MAX_TOTAL keeps it
 * exact for any a up to 2^63. */
static uint64_t align_up(uint64_t x, uint64_t a)
{
    return (x + a - 1) & ~(a - 1);
}

static uint64_t align_down(uint64_t x, uint64_t a)
{
    return x & ~(a - 1);
}

/* ---- splits ------------------------------------------------------------------- */

static mapio_split_t split_at(mapio_range_t r, uint64_t p, mapio_range_t *low, mapio_range_t *high)
{
    mapio_split_t res;
    if (p >= r.end) {
        res = MAPIO_SPLIT_LOW;
        p = r.end;
    } else if (p <= r.start) {
        res = MAPIO_SPLIT_HIGH;
        p = r.start;
    } else {
        res = MAPIO_SPLIT;
    }
    if (low != NULL)
        *low = (mapio_range_t){ r.start, p };
    if (high != NULL)
        *high = (mapio_range_t){ p, r.end };
    return res;
}

/* Any power of two is an alignment, up to 2^63. The point start + pos is at
 * most MAPIO_RANGE_MAX_TOTAL (2^52), so rounding it up adds at most 2^63 - 1
 * and cannot wrap; an alignment above the range's end rounds to 0 (HIGH) or
 * to the alignment itself, past the end (LOW). */
static bool split_args_ok(mapio_range_t r, uint64_t pos, uint64_t align)
{
    return r.start <= r.end && r.end <= MAPIO_RANGE_MAX_TOTAL && pos <= r.end - r.start &&
           is_pow2(pick_align(align));
}

mapio_split_t mapio_range_split_up(mapio_range_t r, uint64_t pos, uint64_t align,
                                   mapio_range_t *low, mapio_range_t *high)
{
    if (!split_args_ok(r, pos, align))
        return MAPIO_SPLIT_OUT_OF_BOUNDS;
    return split_at(r, align_up(r.start + pos, pick_align(align)), low, high);
}

mapio_split_t mapio_range_split_down(mapio_range_t r, uint64_t pos, uint64_t align,
                                     mapio_range_t *low, mapio_range_t *high)
{
    if (!split_args_ok(r, pos, align))
        return MAPIO_SPLIT_OUT_OF_BOUNDS;
    return split_at(r, align_down(r.start + pos, pick_align(align)), low, high);
}

/* ---- allocators ------------------------------------------------------------- */

static int state_check(const mapio_range_state_t *st)
{
    if (!is_pow2(st->align))
        return MAPIO_EINVAL;
    if (st->total > MAPIO_RANGE_MAX_TOTAL || st->align > MAPIO_RANGE_MAX_TOTAL)
        return MAPIO_EOVERFLOW;
    /* Every range but the clipped last one ends aligned, so a genuine state
     * has next aligned, or at total. */
    if (st->next > st->total || (st->next != st->total && st->next % st->align != 0))
        return MAPIO_EINVAL;
    return 0;
}

/* The rounded size of a request, or an error. */
static int64_t rounded(const mapio_range_state_t *st, uint64_t n)
{
    if (n == 0)
        return MAPIO_EINVAL;
    if (n > st->total)
        return MAPIO_EOVERFLOW;
    return (int64_t)align_up(n, st->align); /* <= 2 * MAPIO_RANGE_MAX_TOTAL: no wrap */
}

int mapio_range_seq_init(mapio_range_seq_t *a, uint64_t total, uint64_t align)
{
    if (a == NULL)
        return MAPIO_EINVAL;
    mapio_range_state_t st = { 0, total, pick_align(align) };
    return mapio_range_seq_restore(a, &st);
}

int mapio_range_seq_restore(mapio_range_seq_t *a, const mapio_range_state_t *st)
{
    if (a == NULL || st == NULL)
        return MAPIO_EINVAL;
    int err = state_check(st);
    if (err == 0)
        a->s = *st;
    return err;
}

mapio_range_state_t mapio_range_seq_save(const mapio_range_seq_t *a)
{
    return a->s;
}

int mapio_range_seq_alloc(mapio_range_seq_t *a, uint64_t n, mapio_range_t *out)
{
    if (a == NULL || out == NULL)
        return MAPIO_EINVAL;
    int64_t size = rounded(&a->s, n);
    if (size < 0)
        return (int)size;
    if (a->s.next >= a->s.total)
        return MAPIO_ENOSPC;
    out->start = a->s.next;
    out->end = MAPIO__MIN(a->s.next + (uint64_t)size, a->s.total);
    a->s.next = out->end;
    return 0;
}

uint64_t mapio_range_seq_remaining(const mapio_range_seq_t *a)
{
    return a->s.total - a->s.next;
}

struct mapio_range_atomic {
    _Atomic uint64_t next;
    uint64_t total, align;
};

int mapio_range_atomic_restore(mapio_range_atomic_t **out, const mapio_range_state_t *st)
{
    if (out == NULL || st == NULL)
        return MAPIO_EINVAL;
    int err = state_check(st);
    if (err != 0)
        return err;
    mapio_range_atomic_t *a = mapio__malloc(sizeof *a);
    if (a == NULL)
        return MAPIO_ENOMEM;
    atomic_init(&a->next, st->next);
    a->total = st->total;
    a->align = st->align;
    *out = a;
    return 0;
}

int mapio_range_atomic_new(mapio_range_atomic_t **out, uint64_t total, uint64_t align)
{
    mapio_range_state_t st = { 0, total, pick_align(align) };
    return mapio_range_atomic_restore(out, &st);
}

int mapio_range_atomic_free(mapio_range_atomic_t *a)
{
    mapio__free(a);
    return 0;
}

int mapio_range_atomic_alloc(mapio_range_atomic_t *a, uint64_t n, mapio_range_t *out)
{
    if (a == NULL || out == NULL)
        return MAPIO_EINVAL;
    mapio_range_state_t st = { 0, a->total, a->align };
    int64_t size = rounded(&st, n);
    if (size < 0)
        return (int)size;
    /* Relaxed is enough: the counter only partitions offsets; the bytes
     * written into a range are published by whatever hands the work over. */
    uint64_t start = atomic_fetch_add_explicit(&a->next, (uint64_t)size, memory_order_relaxed);
    if (start >= a->total) {
        /* Exhausted. Pull the counter back to total so that callers who keep
         * asking cannot wrap it into ranges already handed out: between two
         * pull-backs it only grows by what the callers in flight added, each
         * at most 2 * MAPIO_RANGE_MAX_TOTAL (2^53), far from 2^64. */
        uint64_t cur = atomic_load_explicit(&a->next, memory_order_relaxed);
        while (cur > a->total &&
               !atomic_compare_exchange_weak_explicit(&a->next, &cur, a->total,
                                                      memory_order_relaxed, memory_order_relaxed)) {
        }
        return MAPIO_ENOSPC;
    }
    out->start = start;
    out->end = MAPIO__MIN(start + (uint64_t)size, a->total);
    return 0;
}

uint64_t mapio_range_atomic_remaining(const mapio_range_atomic_t *a)
{
    uint64_t next = atomic_load_explicit(&((mapio_range_atomic_t *)a)->next, memory_order_relaxed);
    return next >= a->total ? 0 : a->total - next;
}

mapio_range_state_t mapio_range_atomic_save(const mapio_range_atomic_t *a)
{
    uint64_t next = atomic_load_explicit(&((mapio_range_atomic_t *)a)->next, memory_order_relaxed);
    return (mapio_range_state_t){ MAPIO__MIN(next, a->total), a->total, a->align };
}

/* ---- the ranged file -------------------------------------------------------- */

struct mapio_ranged {
    mapio_map_t *map;
    unsigned char *base;
    uint64_t size;
    uint64_t owner; /* stamped on receipts: which open file wrote them */
};

/* Receipts of different open files never match, even at the same address. */
static _Atomic uint64_t next_owner = 1;

static int ranged_map(mapio_ranged_t **out, const char *path, const mapio_map_opts_t *o)
{
    mapio_ranged_t *f = mapio__calloc(1, sizeof *f);
    if (f == NULL)
        return MAPIO_ENOMEM;
    int err = mapio_map_new(&f->map, path, o);
    if (err == 0 && mapio_map_len(f->map) == 0)
        err = MAPIO_EINVAL; /* an empty file has nothing to write into */
    if (err == 0 && mapio_map_len(f->map) > MAPIO_RANGE_MAX_TOTAL)
        err = MAPIO_EOVERFLOW;
    if (err != 0) {
        if (f->map != NULL)
            mapio_map_free(f->map);
        mapio__free(f);
        return err;
    }
    f->size = mapio_map_len(f->map);
    f->base = mapio_map_ptr(f->map, 0);
    f->owner = atomic_fetch_add_explicit(&next_owner, 1, memory_order_relaxed);
    *out = f;
    return 0;
}

int mapio_ranged_new(mapio_ranged_t **out, const char *path, uint64_t size)
{
    if (out == NULL || path == NULL || size == 0)
        return MAPIO_EINVAL;
    if (size > MAPIO_RANGE_MAX_TOTAL)
        return MAPIO_EOVERFLOW;
    mapio_map_opts_t o = { .kind = MAPIO_MAP_READ_WRITE,
                           .open = MAPIO_MAP_TRUNCATE,
                           .size = MAPIO_MAP_SIZE_EXACT,
                           .len = size };
    return ranged_map(out, path, &o);
}

int mapio_ranged_new_existing(mapio_ranged_t **out, const char *path)
{
    if (out == NULL || path == NULL)
        return MAPIO_EINVAL;
    mapio_map_opts_t o = { .kind = MAPIO_MAP_READ_WRITE,
                           .open = MAPIO_MAP_OPEN_EXISTING,
                           .size = MAPIO_MAP_SIZE_FILE };
    return ranged_map(out, path, &o);
}

int mapio_ranged_free(mapio_ranged_t *f)
{
    if (f == NULL)
        return 0;
    int err = mapio_map_free(f->map);
    mapio__free(f);
    return err;
}

uint64_t mapio_ranged_size(const mapio_ranged_t *f)
{
    return f != NULL ? f->size : 0;
}

mapio_map_t *mapio_ranged_map(mapio_ranged_t *f)
{
    return f != NULL ? f->map : NULL;
}

/* r is well formed and inside the file. */
static int range_check(const mapio_ranged_t *f, mapio_range_t r)
{
    if (r.start > r.end)
        return MAPIO_EINVAL;
    return r.end <= f->size ? 0 : MAPIO_ERANGE;
}

int mapio_ranged_write_part(mapio_ranged_t *f, mapio_range_t r, uint64_t off, const void *data,
                            size_t len, mapio_receipt_t *receipt)
{
    if (f == NULL || (data == NULL && len > 0))
        return MAPIO_EINVAL;
    int err = range_check(f, r);
    if (err != 0)
        return err;
    if (!mapio__range_ok(off, len, r.end - r.start))
        return MAPIO_ERANGE;
    if (len > 0)
        memcpy(f->base + r.start + off, data, len);
    if (receipt != NULL)
        *receipt = (mapio_receipt_t){ r.start + off, r.start + off + len, f->owner };
    return 0;
}

int mapio_ranged_write(mapio_ranged_t *f, mapio_range_t r, const void *data, size_t len,
                       mapio_receipt_t *receipt)
{
    if (f == NULL || r.start > r.end || len != r.end - r.start)
        return MAPIO_EINVAL; /* the data must fill its range: no more, no less */
    return mapio_ranged_write_part(f, r, 0, data, len, receipt);
}

void mapio_ranged_write_unchecked(mapio_ranged_t *f, uint64_t off, const void *data, size_t len)
{
    memcpy(f->base + off, data, len);
}

int64_t mapio_ranged_read(const mapio_ranged_t *f, mapio_range_t r, void *buf, size_t cap)
{
    if (f == NULL || buf == NULL)
        return MAPIO_EINVAL;
    int err = range_check(f, r);
    if (err != 0)
        return err;
    if (cap < r.end - r.start)
        return MAPIO_EINVAL;
    memcpy(buf, f->base + r.start, (size_t)(r.end - r.start));
    return (int64_t)(r.end - r.start);
}

int mapio_ranged_flush(mapio_ranged_t *f, const mapio_receipt_t *receipt, unsigned flags)
{
    if (f == NULL || receipt == NULL || receipt->owner != f->owner ||
        receipt->start > receipt->end || receipt->end > f->size ||
        (flags & ~(unsigned)MAPIO_RANGED_FLUSH_ASYNC))
        return MAPIO_EINVAL;
    if (receipt->start == receipt->end)
        return 0;
    uint64_t n = receipt->end - receipt->start;
    return (flags & MAPIO_RANGED_FLUSH_ASYNC) ? mapio_map_flush_async(f->map, receipt->start, n)
                                              : mapio_map_flush(f->map, receipt->start, n);
}

int mapio_ranged_sync(mapio_ranged_t *f)
{
    if (f == NULL)
        return MAPIO_EINVAL;
    return mapio_map_flush(f->map, 0, UINT64_MAX);
}
