/* tests/wal/walt.c - see walt.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "walt.h"

uint32_t walt_crc(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

mapio__wal_fmt_t walt_fmt(uint64_t log_id, uint64_t seg_size, uint32_t block_size)
{
    mapio__wal_fmt_t f;
    assert_int_equal(mapio__wal_fmt_init(&f, log_id, seg_size, block_size), 0);
    return f;
}

unsigned char *walt_segment(const mapio__wal_fmt_t *f, uint64_t segno)
{
    unsigned char *p = calloc(1, (size_t)f->seg_size);
    assert_non_null(p);
    mapio__wal_seghdr_t h = { f->log_id, segno, f->seg_size, f->block_size };
    assert_int_equal(mapio__wal_seghdr_encode(p, &h), 0);
    return p;
}

unsigned char walt_byte(uint64_t lsn, uint32_t r, uint32_t i)
{
    uint64_t x = (lsn * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)r << 32 | i);
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    return (unsigned char)(x >> 56);
}

void walt_batch(uint64_t lsn, const uint32_t *lens, size_t n, unsigned char *store,
                mapio_iovec_t *rec)
{
    for (size_t r = 0; r < n; r++) {
        for (uint32_t i = 0; i < lens[r]; i++)
            store[i] = walt_byte(lsn, (uint32_t)r, i);
        rec[r].iov_base = store;
        rec[r].iov_len = lens[r];
        store += lens[r];
    }
}

uint32_t walt_put(const mapio__wal_fmt_t *f, unsigned char *seg, uint64_t lsn, uint64_t wm,
                  const uint32_t *lens, size_t n)
{
    size_t total = 0;
    for (size_t r = 0; r < n; r++)
        total += lens[r];
    unsigned char *store = malloc(total + 1);
    mapio_iovec_t *rec = malloc((n + 1) * sizeof *rec);
    assert_non_null(store);
    assert_non_null(rec);
    walt_batch(lsn, lens, n, store, rec);
    uint64_t off = mapio__wal_seg_off(f, lsn);
    int64_t sz =
        mapio__wal_encode_batch(f, seg + off, (size_t)(f->seg_size - off), lsn, wm, rec, n);
    assert_true(sz > 0);
    free(store);
    free(rec);
    return (uint32_t)sz;
}

int walt_frame_is(const mapio__wal_frame_t *fr, const uint32_t *lens, size_t n)
{
    if (fr->type != MAPIO__WAL_TYPE_BATCH || fr->count != n)
        return 0;
    mapio__wal_rec_iter_t it;
    mapio__wal_rec_begin(&it, fr);
    const void *data;
    uint32_t len;
    uint64_t lsn, want_lsn = fr->lsn + MAPIO__WAL_FRAME_HDR;
    for (size_t r = 0; r < n; r++) {
        if (!mapio__wal_rec_next(&it, &data, &len, &lsn) || len != lens[r] || lsn != want_lsn)
            return 0;
        const unsigned char *d = data;
        for (uint32_t i = 0; i < len; i++)
            if (d[i] != walt_byte(fr->lsn, (uint32_t)r, i))
                return 0;
        want_lsn += MAPIO__WAL_REC_HDR + len;
    }
    return !mapio__wal_rec_next(&it, &data, &len, &lsn);
}

size_t walt_scan(const mapio__wal_fmt_t *f, uint64_t segno, uint32_t align,
                 const unsigned char *buf, size_t n, uint64_t start_off, mapio__wal_frame_t *out,
                 size_t max, mapio__wal_scan_t *s)
{
    assert_int_equal(mapio__wal_scan_init(s, f, segno, align, buf, n, start_off), 0);
    size_t k = 0;
    mapio__wal_frame_t fr;
    while (mapio__wal_scan_next(s, &fr)) {
        assert_ptr_equal(fr.hdr, buf + (fr.lsn - mapio__wal_seg_base(f, segno)));
        if (out != NULL && k < max)
            out[k] = fr;
        k++;
    }
    assert_int_equal(mapio__wal_scan_next(s, &fr), 0); /* the end stays the end */
    assert_int_not_equal(s->end, MAPIO__WAL_END_NONE);
    return k;
}

void walt_log_init(walt_log_t *l, uint64_t log_id, uint32_t block_size)
{
    memset(l, 0, sizeof *l);
    l->f = walt_fmt(log_id, WALT_SEG, block_size);
    l->seg[0] = walt_segment(&l->f, 0);
    l->nseg = 1;
    l->next = mapio__wal_first_lsn(&l->f, 0);
}

void walt_log_free(walt_log_t *l)
{
    for (uint64_t k = 0; k < l->nseg; k++)
        free(l->seg[k]);
    memset(l, 0, sizeof *l);
}

unsigned char *walt_log_at(walt_log_t *l, uint64_t lsn)
{
    uint64_t k = mapio__wal_segno(&l->f, lsn);
    assert_true(k < l->nseg);
    return l->seg[k] + mapio__wal_seg_off(&l->f, lsn);
}

uint64_t walt_log_append(walt_log_t *l, uint64_t wm, const uint32_t *lens, size_t n, uint32_t *size)
{
    uint64_t payload = 0;
    for (size_t r = 0; r < n; r++)
        payload += 4 + (uint64_t)lens[r];
    mapio__wal_place_t pl;
    assert_int_equal(mapio__wal_place(&l->f, l->next, mapio__wal_frame_size(&l->f, payload), &pl),
                     0);
    if (pl.pad_lsn != 0) {
        uint64_t pwm = wm < pl.pad_lsn ? wm : pl.pad_lsn;
        uint64_t off = mapio__wal_seg_off(&l->f, pl.pad_lsn);
        assert_true(mapio__wal_encode_pad(&l->f, walt_log_at(l, pl.pad_lsn),
                                          (size_t)(WALT_SEG - off), pl.pad_lsn, pwm) > 0);
    }
    uint64_t k = mapio__wal_segno(&l->f, pl.frame_lsn);
    assert_true(k < WALT_MAXSEG);
    while (l->nseg <= k) {
        l->seg[l->nseg] = walt_segment(&l->f, l->nseg);
        l->nseg++;
    }
    uint32_t sz =
        walt_put(&l->f, l->seg[k], pl.frame_lsn, wm < pl.frame_lsn ? wm : pl.frame_lsn, lens, n);
    if (size != NULL)
        *size = sz;
    l->next = pl.next_lsn;
    return pl.frame_lsn;
}

size_t walt_log_segs(const walt_log_t *l, mapio__wal_seg_in_t *out)
{
    for (uint64_t k = 0; k < l->nseg; k++)
        out[k] = (mapio__wal_seg_in_t){ k, l->seg[k], (size_t)WALT_SEG };
    return (size_t)l->nseg;
}
