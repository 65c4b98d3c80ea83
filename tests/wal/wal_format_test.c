/*
 * tests/wal/wal_format_test.c - the WAL's on-disk format and one segment's
 * scanner: the bytes of a header and a frame pinned field by field, round
 * trips of every record size and many records per frame at alignment 8 and
 * 4096, every single-byte corruption of a frame, every torn write (any
 * byte, any subset of 512-byte sectors), stale and foreign frames, garbage
 * lengths, the three ways a segment ends, and the encoder's refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "mapio/errno.h"
#include "testutil.h"
#include "walt.h"

#define LOG_ID 0x0123456789abcdefull
#define H MAPIO__WAL_SEGHDR_SIZE
#define FH MAPIO__WAL_FRAME_HDR

static const uint32_t blocks[] = { 0, 4096 }; /* alignment 8 and 4096 */

/* ---- geometry ---------------------------------------------------------------------- */

static void fmt_rejects_bad_geometry(void **state)
{
    (void)state;
    mapio__wal_fmt_t f;
    assert_int_equal(mapio__wal_fmt_init(&f, 1, 1 << 15, 0), MAPIO_EINVAL);
    assert_int_equal(mapio__wal_fmt_init(&f, 1, (1 << 16) + 8, 0), MAPIO_EINVAL);
    assert_int_equal(mapio__wal_fmt_init(&f, 1, (uint64_t)1 << 33, 0), MAPIO_EINVAL);
    assert_int_equal(mapio__wal_fmt_init(&f, 1, 1 << 16, 256), MAPIO_EINVAL);
    assert_int_equal(mapio__wal_fmt_init(&f, 1, 1 << 16, 8192), MAPIO_EINVAL);
    assert_int_equal(mapio__wal_fmt_init(&f, 1, 1 << 16, 1000), MAPIO_EINVAL);
    assert_int_equal(mapio__wal_fmt_init(NULL, 1, 1 << 16, 0), MAPIO_EINVAL);
    assert_int_equal(mapio__wal_fmt_init(&f, 1, (uint64_t)1 << 32, 512), 0);
    assert_int_equal(f.align, 512);
    assert_int_equal(f.seg_shift, 32);
    assert_int_equal(f.max_payload, (uint32_t)(((uint64_t)1 << 32) - H - FH));
    assert_true(f.max_segno == (UINT64_MAX >> 32) - 1);
    assert_int_equal(mapio__wal_fmt_init(&f, 1, 64 << 20, 0), 0);
    assert_int_equal(f.align, 8);
}

static void lsn_arithmetic(void **state)
{
    (void)state;
    mapio__wal_fmt_t f = walt_fmt(LOG_ID, 64 << 20, 0);
    uint64_t S = 64 << 20;
    assert_true(mapio__wal_segno(&f, 0) == 0);
    assert_true(mapio__wal_segno(&f, S - 1) == 0);
    assert_true(mapio__wal_segno(&f, S) == 1);
    assert_true(mapio__wal_seg_off(&f, 5 * S + 77) == 77);
    assert_true(mapio__wal_seg_base(&f, 5) == 5 * S);
    assert_true(mapio__wal_first_lsn(&f, 5) == 5 * S + H);
    /* The last segment's end is still an LSN. */
    uint64_t end = mapio__wal_seg_base(&f, f.max_segno) + S;
    assert_true(end > mapio__wal_seg_base(&f, f.max_segno));
    assert_true(mapio__wal_seed(0x1122334455667788ull) == (0x55667788u ^ 0x11223344u));
}

/* ---- the bytes on disk, field by field ------------------------------------------------ */

static void le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void seghdr_bytes_are_the_format(void **state)
{
    (void)state;
    unsigned char want[H], got[H];
    memset(want, 0, sizeof want);
    memcpy(want, "mapiowal", 8);
    le32(want + 8, 1);
    le64(want + 16, LOG_ID);
    le64(want + 24, 7);
    le64(want + 32, 1 << 20);
    le32(want + 40, 4096);
    uint32_t crc = walt_crc(walt_crc(0, want, 12), want + 16, 48);
    le32(want + 12, crc);
    mapio__wal_seghdr_t h = { LOG_ID, 7, 1 << 20, 4096 };
    memset(got, 0xee, sizeof got);
    assert_int_equal(mapio__wal_seghdr_encode(got, &h), 0);
    assert_memory_equal(got, want, H);
    mapio__wal_seghdr_t back;
    assert_int_equal(mapio__wal_seghdr_decode(got, H, &back), MAPIO__WAL_HDR_OK);
    assert_true(back.log_id == LOG_ID && back.segno == 7 && back.seg_size == 1 << 20);
    assert_int_equal(back.block_size, 4096);
}

static void frame_bytes_are_the_format(void **state)
{
    (void)state;
    mapio__wal_fmt_t f = walt_fmt(LOG_ID, WALT_SEG, 0);
    uint64_t lsn = 3 * WALT_SEG + H + 64, wm = 3 * WALT_SEG + H;
    const char *a = "hello", *b = "";
    const char *c = "write-ahead";
    mapio_iovec_t rec[3] = { { (void *)a, 5 }, { (void *)b, 0 }, { (void *)c, 11 } };
    uint32_t len = 4 + 5 + 4 + 0 + 4 + 11;
    unsigned char want[64], got[64];
    memset(want, 0, sizeof want);
    le32(want + 4, len);
    le64(want + 8, lsn);
    le64(want + 16, wm);
    le32(want + 24, 3);
    want[28] = 1; /* BATCH, flags 0 */
    le32(want + 32, 5);
    memcpy(want + 36, "hello", 5);
    le32(want + 41, 0);
    le32(want + 45, 11);
    memcpy(want + 49, "write-ahead", 11);
    le32(want, walt_crc(mapio__wal_seed(LOG_ID), want + 4, 28 + len));
    memset(got, 0xee, sizeof got);
    assert_int_equal(mapio__wal_encode_batch(&f, got, sizeof got, lsn, wm, rec, 3), 64);
    assert_memory_equal(got, want, 64); /* 60 bytes rounded up to 8 with zeros */

    /* A PAD: len to the segment end, count 0, CRC over the header alone. */
    uint64_t pad = 3 * WALT_SEG + WALT_SEG - 96;
    memset(want, 0, sizeof want);
    le32(want + 4, 96 - 32);
    le64(want + 8, pad);
    le64(want + 16, wm);
    want[28] = 2;
    le32(want, walt_crc(mapio__wal_seed(LOG_ID), want + 4, 28));
    memset(got, 0xee, sizeof got);
    assert_int_equal(mapio__wal_encode_pad(&f, got, sizeof got, pad, wm), 32);
    assert_memory_equal(got, want, 32);
}

/* ---- segment header ----------------------------------------------------------------------- */

static void seghdr_every_field_checked(void **state)
{
    (void)state;
    mapio__wal_fmt_t f = walt_fmt(LOG_ID, WALT_SEG, 512);
    unsigned char *seg = walt_segment(&f, 9);
    uint32_t align = 0;
    assert_int_equal(mapio__wal_seghdr_check(&f, seg, H, 9, &align), MAPIO__WAL_HDR_OK);
    assert_int_equal(align, 512);
    assert_int_equal(mapio__wal_seghdr_check(&f, seg, 63, 9, NULL), MAPIO__WAL_HDR_SHORT);
    assert_int_equal(mapio__wal_seghdr_decode(NULL, 64, NULL), MAPIO__WAL_HDR_SHORT);
    assert_int_equal(mapio__wal_seghdr_check(&f, seg, 64, 9, NULL), MAPIO__WAL_HDR_OK);
    assert_int_equal(mapio__wal_seghdr_check(&f, seg, H, 8, NULL), MAPIO__WAL_HDR_SEGNO);
    mapio__wal_fmt_t other = walt_fmt(LOG_ID + 1, WALT_SEG, 512);
    assert_int_equal(mapio__wal_seghdr_check(&other, seg, H, 9, NULL), MAPIO__WAL_HDR_LOG_ID);
    mapio__wal_fmt_t big = walt_fmt(LOG_ID, 2 * WALT_SEG, 512);
    assert_int_equal(mapio__wal_seghdr_check(&big, seg, H, 9, NULL), MAPIO__WAL_HDR_SEG_SIZE);

    /* Each field wrong, with the CRC made to hold, so the field's own
     * check is what refuses it. */
    struct {
        unsigned off, width;
        uint64_t value;
        int want;
    } cases[] = {
        { 8, 4, 2, MAPIO__WAL_HDR_VERSION },
        { 32, 8, WALT_SEG + 8, MAPIO__WAL_HDR_SEG_SIZE },
        { 32, 8, 1 << 15, MAPIO__WAL_HDR_SEG_SIZE },
        { 32, 8, (uint64_t)1 << 33, MAPIO__WAL_HDR_SEG_SIZE },
        { 40, 4, 8, MAPIO__WAL_HDR_BLOCK_SIZE },
        { 40, 4, 8192, MAPIO__WAL_HDR_BLOCK_SIZE },
        { 40, 4, 1536, MAPIO__WAL_HDR_BLOCK_SIZE },
        { 24, 8, UINT64_MAX, MAPIO__WAL_HDR_SEGNO },
        { 44, 4, 1, MAPIO__WAL_HDR_RESERVED },
        { 60, 4, 1u << 31, MAPIO__WAL_HDR_RESERVED },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char h[H];
        memcpy(h, seg, H);
        if (cases[i].width == 4)
            le32(h + cases[i].off, (uint32_t)cases[i].value);
        else
            le64(h + cases[i].off, cases[i].value);
        le32(h + 12, walt_crc(walt_crc(0, h, 12), h + 16, 48));
        assert_int_equal(mapio__wal_seghdr_decode(h, H, NULL), cases[i].want);
    }
    /* Every single-byte change in the 64 bytes is refused; the zeros after
     * them are not read. */
    for (unsigned i = 0; i < 64; i++)
        for (int x = 1; x < 256; x <<= 1) {
            seg[i] ^= (unsigned char)x;
            assert_int_not_equal(mapio__wal_seghdr_check(&f, seg, H, 9, NULL), MAPIO__WAL_HDR_OK);
            seg[i] ^= (unsigned char)x;
        }
    memset(seg, 0, 8);
    assert_int_equal(mapio__wal_seghdr_decode(seg, H, NULL), MAPIO__WAL_HDR_MAGIC);
    free(seg);
    seg = walt_segment(&f, 9);
    seg[100] = 1;
    assert_int_equal(mapio__wal_seghdr_check(&f, seg, H, 9, NULL), MAPIO__WAL_HDR_OK);
    mapio__wal_seghdr_t bad = { LOG_ID, 0, WALT_SEG, 100 };
    assert_int_equal(mapio__wal_seghdr_encode(seg, &bad), MAPIO_EINVAL);
    bad = (mapio__wal_seghdr_t){ LOG_ID, 0, 1000, 0 };
    assert_int_equal(mapio__wal_seghdr_encode(seg, &bad), MAPIO_EINVAL);
    for (int e = 0; e <= MAPIO__WAL_HDR_LOG_ID; e++)
        assert_string_not_equal(mapio__wal_hdr_err_name(e), "unknown");
    free(seg);
}

/* ---- round trips ------------------------------------------------------------------------- */

/* One record of every length 0..1100, then lengths up to a frame that fills
 * the segment, at both alignments: what comes back is what went in, at the
 * right LSN, with the size the writer reserved. */
static void round_trip_every_size(void **state)
{
    (void)state;
    for (size_t b = 0; b < 2; b++) {
        mapio__wal_fmt_t f = walt_fmt(LOG_ID, WALT_SEG, blocks[b]);
        unsigned char *seg = walt_segment(&f, 2);
        uint64_t first = mapio__wal_first_lsn(&f, 2);
        uint32_t max_one = f.max_payload - 4;
        static uint32_t sizes[1200];
        size_t nsizes = 0;
        for (uint32_t len = 0; len <= 1100; len++)
            sizes[nsizes++] = len;
        for (uint32_t len = 1500; len < max_one; len = len * 2 + 7)
            sizes[nsizes++] = len;
        sizes[nsizes++] = max_one - 1;
        sizes[nsizes++] = max_one; /* the largest record a frame holds */
        for (size_t i = 0; i < nsizes; i++) {
            uint32_t len = sizes[i];
            memset(seg + H, 0, (size_t)(WALT_SEG - H));
            uint32_t sz = walt_put(&f, seg, first, 0, &len, 1);
            assert_int_equal(sz, mapio__wal_frame_size(&f, 4 + (uint64_t)len));
            assert_int_equal(sz % f.align, 0);
            mapio__wal_frame_t fr;
            mapio__wal_scan_t s;
            assert_int_equal(walt_scan(&f, 2, f.align, seg, WALT_SEG, H, &fr, 1, &s), 1);
            assert_true(fr.lsn == first);
            assert_int_equal(fr.size, sz);
            assert_int_equal(fr.len, 4 + len);
            assert_true(walt_frame_is(&fr, &len, 1));
            if (sz == WALT_SEG - H) {
                assert_int_equal(s.end, MAPIO__WAL_END_CLEAN);
                assert_int_equal(s.why, MAPIO__WAL_CLEAN_END);
            } else {
                assert_int_equal(s.end, MAPIO__WAL_END_ZEROS);
                assert_true(s.off == H + sz);
            }
        }
        /* One byte more than fits is refused by the encoder. */
        uint32_t too = max_one + 1;
        unsigned char *big = calloc(1, too);
        mapio_iovec_t r = { big, too };
        assert_int_equal(mapio__wal_encode_batch(&f, seg + H, WALT_SEG - H, first, 0, &r, 1),
                         MAPIO_EFBIG);
        free(big);
        free(seg);
    }
}

/* Many records per frame: 2..1000 of random lengths (zero among them), and
 * a frame of only empty records, as many as fit. */
static void round_trip_many_records(void **state)
{
    (void)state;
    uint64_t rng = 11;
    for (size_t b = 0; b < 2; b++) {
        mapio__wal_fmt_t f = walt_fmt(LOG_ID, WALT_SEG, blocks[b]);
        unsigned char *seg = walt_segment(&f, 0);
        uint64_t first = mapio__wal_first_lsn(&f, 0);
        static uint32_t lens[16384];
        size_t counts[] = { 2, 3, 17, 100, 1000 };
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            for (size_t r = 0; r < counts[c]; r++)
                lens[r] = (uint32_t)(tu_rand(&rng) % 5 == 0 ? 0 : tu_rand(&rng) % 48);
            memset(seg + H, 0, (size_t)(WALT_SEG - H));
            walt_put(&f, seg, first, 0, lens, counts[c]);
            mapio__wal_frame_t fr;
            mapio__wal_scan_t s;
            assert_int_equal(walt_scan(&f, 0, f.align, seg, WALT_SEG, H, &fr, 1, &s), 1);
            assert_true(walt_frame_is(&fr, lens, counts[c]));
        }
        size_t n = f.max_payload / 4;
        assert_true(n <= sizeof lens / sizeof lens[0]);
        memset(lens, 0, n * sizeof lens[0]);
        memset(seg + H, 0, (size_t)(WALT_SEG - H));
        assert_int_equal(walt_put(&f, seg, first, 0, lens, n), WALT_SEG - H);
        mapio__wal_frame_t fr;
        mapio__wal_scan_t s;
        assert_int_equal(walt_scan(&f, 0, f.align, seg, WALT_SEG, H, &fr, 1, &s), 1);
        assert_true(walt_frame_is(&fr, lens, n));
        assert_int_equal(s.end, MAPIO__WAL_END_CLEAN);
        free(seg);
    }
}

/* A segment filled the way a writer fills it (mapio__wal_place decides
 * where each frame goes, a PAD or a short zero tail closes the segment),
 * then scanned from its start and from every frame boundary. */
static void fill_segment_then_scan(void **state)
{
    (void)state;
    uint64_t rng = 12;
    for (size_t b = 0; b < 2; b++)
        for (int round = 0; round < 40; round++) {
            mapio__wal_fmt_t f = walt_fmt(LOG_ID, WALT_SEG, blocks[b]);
            unsigned char *seg = walt_segment(&f, 4);
            enum { MAXF = 2048 };
            static uint32_t lens[MAXF][4];
            static size_t nrec[MAXF];
            static uint64_t at[MAXF];
            size_t nf = 0;
            uint64_t next = mapio__wal_seg_base(&f, 4), end_of_seg = next + WALT_SEG;
            int closed = 0;
            while (!closed && nf < MAXF) {
                size_t n = (size_t)(tu_rand(&rng) % 4);
                uint64_t payload = 0;
                for (size_t r = 0; r < n; r++) {
                    lens[nf][r] = (uint32_t)(tu_rand(&rng) % (round < 20 ? 40 : 3000));
                    payload += 4 + lens[nf][r];
                }
                mapio__wal_place_t pl;
                assert_int_equal(
                    mapio__wal_place(&f, next, mapio__wal_frame_size(&f, payload), &pl), 0);
                if (pl.frame_lsn >= end_of_seg) { /* the segment is full */
                    if (pl.pad_lsn != 0) {
                        uint64_t o = mapio__wal_seg_off(&f, pl.pad_lsn);
                        assert_int_equal(mapio__wal_encode_pad(&f, seg + o, WALT_SEG - o,
                                                               pl.pad_lsn, pl.pad_lsn),
                                         mapio__wal_round_up(FH, f.align));
                    }
                    closed = 1;
                    break;
                }
                nrec[nf] = n;
                at[nf] = pl.frame_lsn;
                walt_put(&f, seg, pl.frame_lsn, next, lens[nf], n);
                next = pl.next_lsn;
                nf++;
            }
            assert_true(closed);
            static mapio__wal_frame_t got[MAXF];
            mapio__wal_scan_t s;
            for (size_t from = 0; from <= nf; from += (from < 8 ? 1 : 37)) {
                uint64_t start =
                    from < nf ? mapio__wal_seg_off(&f, at[from]) : mapio__wal_seg_off(&f, next);
                if (from == nf && start == 0)
                    start = WALT_SEG; /* the last frame ended exactly at the end */
                size_t k = walt_scan(&f, 4, f.align, seg, WALT_SEG, start, got, MAXF, &s);
                assert_int_equal(k, nf - from);
                for (size_t i = 0; i < k; i++) {
                    assert_true(got[i].lsn == at[from + i]);
                    assert_true(walt_frame_is(&got[i], lens[from + i], nrec[from + i]));
                }
                assert_int_equal(s.end, MAPIO__WAL_END_CLEAN);
            }
            free(seg);
        }
}

/* ---- corruption --------------------------------------------------------------------- */

/* Three frames A, B, C; every byte of B's header and payload changed in
 * turn (by 8 single-bit flips and by 0xff): the scan returns A alone and
 * ends INVALID at B. A change in B's padding changes nothing. */
static void every_single_byte_corruption_detected(void **state)
{
    (void)state;
    for (size_t b = 0; b < 2; b++) {
        mapio__wal_fmt_t f = walt_fmt(LOG_ID, WALT_SEG, blocks[b]);
        unsigned char *seg = walt_segment(&f, 1);
        uint32_t la[] = { 10, 20 }, lb[] = { 0, 300, 7, 150 }, lc[] = { 64 };
        uint64_t a = mapio__wal_first_lsn(&f, 1);
        uint64_t bb = a + walt_put(&f, seg, a, 0, la, 2);
        uint32_t bsize = walt_put(&f, seg, bb, a, lb, 4);
        uint64_t c = bb + bsize;
        walt_put(&f, seg, c, bb, lc, 1);
        uint64_t boff = mapio__wal_seg_off(&f, bb);
        uint32_t blen = 4 * 4 + 0 + 300 + 7 + 150;
        mapio__wal_frame_t got[3];
        mapio__wal_scan_t s;
        assert_int_equal(walt_scan(&f, 1, f.align, seg, WALT_SEG, H, got, 3, &s), 3);
        for (uint32_t i = 0; i < bsize; i++)
            for (int x = 0; x < 9; x++) {
                unsigned char flip = x < 8 ? (unsigned char)(1u << x) : 0xff;
                seg[boff + i] ^= flip;
                size_t k = walt_scan(&f, 1, f.align, seg, WALT_SEG, H, got, 3, &s);
                if (i < FH + blen) {
                    assert_int_equal(k, 1);
                    assert_true(walt_frame_is(&got[0], la, 2));
                    assert_int_equal(s.end, MAPIO__WAL_END_INVALID);
                    assert_true(s.off == boff);
                } else { /* padding */
                    assert_int_equal(k, 3);
                    assert_true(walt_frame_is(&got[1], lb, 4));
                }
                seg[boff + i] ^= flip;
            }
        free(seg);
    }
}

/* ---- torn writes -------------------------------------------------------------------- */

/* Frame B cut after every byte: followed by zeros, by the file's end (a
 * short buffer, exactly sized so a read past it is caught by ASan), by
 * stale bytes of a recycled segment, and with a later frame C already on
 * disk. The scan never returns B unless all of it is there, never anything
 * after a B that is not, and always returns A. */
static void torn_write_at_every_byte(void **state)
{
    (void)state;
    for (size_t b = 0; b < 2; b++) {
        mapio__wal_fmt_t f = walt_fmt(LOG_ID, WALT_SEG, blocks[b]);
        unsigned char *full = walt_segment(&f, 3);
        uint32_t la[] = { 33 }, lb[] = { 500, 0, 611 }, lc[] = { 5, 5 };
        uint64_t a = mapio__wal_first_lsn(&f, 3);
        uint64_t bb = a + walt_put(&f, full, a, 0, la, 1);
        uint32_t bsize = walt_put(&f, full, bb, a, lb, 3);
        uint64_t c = bb + bsize;
        uint32_t csize = walt_put(&f, full, c, bb, lc, 2);
        uint64_t boff = mapio__wal_seg_off(&f, bb), coff = boff + bsize;
        uint32_t bused = FH + 4 * 3 + 500 + 611;
        unsigned char *img = malloc(WALT_SEG), *stale = malloc(WALT_SEG);
        assert_non_null(img);
        assert_non_null(stale);
        tu_fill(stale, WALT_SEG, 99);
        mapio__wal_frame_t got[3];
        mapio__wal_scan_t s;
        for (uint32_t t = 0; t <= bsize; t++)
            for (int variant = 0; variant < 4; variant++) {
                memcpy(img, full, (size_t)(boff + t));
                if (variant == 2) /* stale bytes where B was not written */
                    memcpy(img + boff + t, stale + boff + t, (size_t)(WALT_SEG - boff - t));
                else
                    memset(img + boff + t, 0, (size_t)(WALT_SEG - boff - t));
                if (variant == 3) /* C landed, B did not (all of it) */
                    memcpy(img + coff, full + coff, csize);
                size_t n = WALT_SEG;
                unsigned char *buf = img;
                if (variant == 1) { /* the file ends after t bytes of B */
                    n = (size_t)(boff + t);
                    buf = malloc(n);
                    assert_non_null(buf);
                    memcpy(buf, img, n);
                }
                size_t k = walt_scan(&f, 3, f.align, buf, n, H, got, 3, &s);
                int whole = t >= bused;
                assert_true(k >= 1);
                assert_true(walt_frame_is(&got[0], la, 1));
                if (whole) {
                    assert_true(k >= 2);
                    assert_true(walt_frame_is(&got[1], lb, 3));
                    if (k == 3)
                        assert_true(variant == 3 && walt_frame_is(&got[2], lc, 2));
                } else {
                    assert_int_equal(k, 1);
                    assert_true(s.off == boff);
                    assert_int_not_equal(s.end, MAPIO__WAL_END_CLEAN);
                    /* ZEROS only where nothing of B's header is there. */
                    if (s.end == MAPIO__WAL_END_ZEROS)
                        for (uint32_t i = 0; i < t && i < FH; i++)
                            assert_int_equal(full[boff + i], 0);
                    if (t == 0 && variant != 2)
                        assert_int_equal(s.end, MAPIO__WAL_END_ZEROS);
                }
                if (buf != img)
                    free(buf);
            }
        free(img);
        free(stale);
        free(full);
    }
}

/* Frames spanning several 512-byte sectors, written with a random subset
 * of their sectors (the others keep what was there before: zeros, or the
 * earlier frame's bytes in a sector the two share). A frame is returned
 * only if every sector that holds its header or payload was written; the
 * earlier frame always survives. */
static void torn_write_sector_subsets(void **state)
{
    (void)state;
    uint64_t rng = 13;
    for (size_t b = 0; b < 2; b++) {
        mapio__wal_fmt_t f = walt_fmt(LOG_ID, WALT_SEG, blocks[b]);
        for (int round = 0; round < 3000; round++) {
            unsigned char *old = walt_segment(&f, 6);
            uint32_t la[1] = { (uint32_t)(tu_rand(&rng) % 900) };
            uint32_t lb[3];
            for (int r = 0; r < 3; r++)
                lb[r] = (uint32_t)(tu_rand(&rng) % 1500);
            uint64_t a = mapio__wal_first_lsn(&f, 6);
            uint64_t bb = a + walt_put(&f, old, a, 0, la, 1);
            unsigned char *neu = malloc(WALT_SEG);
            assert_non_null(neu);
            memcpy(neu, old, WALT_SEG);
            uint32_t bsize = walt_put(&f, neu, bb, a, lb, 3);
            uint64_t boff = mapio__wal_seg_off(&f, bb), bused = FH + 12 + lb[0] + lb[1] + lb[2];
            uint64_t s0 = boff / 512, s1 = (boff + bsize - 1) / 512;
            for (uint64_t sec = s0; sec <= s1; sec++)
                if (round % 7 == 0 || tu_rand(&rng) % 4 != 0) /* written; sometimes all */
                    memcpy(old + sec * 512, neu + sec * 512, 512);
            /* What decides: whether every byte of B's header and payload is
             * the new one (a sector left out may hold the same bytes). */
            int complete = memcmp(old + boff, neu + boff, (size_t)bused) == 0;
            mapio__wal_frame_t got[2];
            mapio__wal_scan_t s;
            size_t k = walt_scan(&f, 6, f.align, old, WALT_SEG, H, got, 2, &s);
            assert_true(walt_frame_is(&got[0], la, 1));
            assert_int_equal(k, complete ? 2 : 1);
            if (complete)
                assert_true(walt_frame_is(&got[1], lb, 3));
            else
                assert_true(s.off == boff);
            free(neu);
            free(old);
        }
    }
}

/* ---- stale and foreign frames ---------------------------------------------------------- */

static void stale_and_foreign_frames_rejected(void **state)
{
    (void)state;
    mapio__wal_fmt_t f = walt_fmt(LOG_ID, WALT_SEG, 0);
    uint32_t l[] = { 100 };
    uint64_t first = mapio__wal_first_lsn(&f, 5);
    mapio__wal_frame_t fr;
    mapio__wal_scan_t s;

    /* A valid frame of this log, copied to another position. */
    unsigned char *seg = walt_segment(&f, 5);
    uint32_t sz = walt_put(&f, seg, first, 0, l, 1);
    memmove(seg + H + 64, seg + H, sz);
    memset(seg + H, 0, 64);
    assert_int_equal(walt_scan(&f, 5, 8, seg, WALT_SEG, H + 64, &fr, 1, &s), 0);
    assert_int_equal(s.end, MAPIO__WAL_END_INVALID);
    assert_int_equal(s.why, MAPIO__WAL_FRAME_LSN);
    free(seg);

    /* A recycled segment: renamed and given segment 9's header, its old
     * frames say segment 5. */
    seg = walt_segment(&f, 5);
    walt_put(&f, seg, first, 0, l, 1);
    mapio__wal_seghdr_t h = { LOG_ID, 9, WALT_SEG, 0 };
    assert_int_equal(mapio__wal_seghdr_encode(seg, &h), 0);
    assert_int_equal(walt_scan(&f, 9, 8, seg, WALT_SEG, H, &fr, 1, &s), 0);
    /* Nothing was written there in segment 9's life: the end of a clean
     * log, as zeros would be, not a torn tail. */
    assert_int_equal(s.end, MAPIO__WAL_END_ZEROS);
    assert_int_equal(s.why, MAPIO__WAL_FRAME_STALE);
    assert_true(s.off == H);
    /* The same old frame with one payload byte flipped: a write cut short
     * over it, so invalid again. */
    seg[H + 32 + 8] ^= 1;
    assert_int_equal(walt_scan(&f, 9, 8, seg, WALT_SEG, H, &fr, 1, &s), 0);
    assert_int_equal(s.end, MAPIO__WAL_END_INVALID);
    assert_int_equal(s.why, MAPIO__WAL_FRAME_LSN);
    free(seg);

    /* The same frame written by another log (another id, so another seed). */
    mapio__wal_fmt_t other = walt_fmt(LOG_ID ^ 0x10000, WALT_SEG, 0);
    seg = walt_segment(&f, 5);
    walt_put(&other, seg, first, 0, l, 1);
    assert_int_equal(walt_scan(&f, 5, 8, seg, WALT_SEG, H, &fr, 1, &s), 0);
    assert_int_equal(s.why, MAPIO__WAL_FRAME_CRC);
    assert_int_equal(walt_scan(&other, 5, 8, seg, WALT_SEG, H, &fr, 1, &s), 1);
    free(seg);
}

/* Headers with the right lsn and a wrong field: each check refuses it, and
 * the ones that bound the CRC's length do so before any CRC (shown here by
 * buffers cut exactly at the header: a CRC over the claimed length would
 * read past them, which ASan reports). */
static void garbage_fields_refused(void **state)
{
    (void)state;
    mapio__wal_fmt_t f = walt_fmt(LOG_ID, WALT_SEG, 0);
    uint64_t first = mapio__wal_first_lsn(&f, 0);
    struct {
        uint32_t len, count;
        uint64_t wm;
        uint16_t type, flags;
        int want;
    } cases[] = {
        { 0xffffffffu, 1, 0, 1, 0, MAPIO__WAL_FRAME_LEN },
        { WALT_SEG - H - FH + 1, 1, 0, 1, 0, MAPIO__WAL_FRAME_LEN },
        { 100, 26, 0, 1, 0, MAPIO__WAL_FRAME_COUNT },
        { 100, 0xffffffffu, 0, 1, 0, MAPIO__WAL_FRAME_COUNT },
        { 4, 0, 0, 1, 0, MAPIO__WAL_FRAME_COUNT },
        { 100, 1, 0, 3, 0, MAPIO__WAL_FRAME_TYPE },
        { 100, 1, 0, 0, 0, MAPIO__WAL_FRAME_TYPE },
        { 100, 1, 0, 1, 1, MAPIO__WAL_FRAME_FLAGS },
        { 100, 1, first + 8, 1, 0, MAPIO__WAL_FRAME_WATERMARK },
        { 100, 0, 0, 2, 0, MAPIO__WAL_FRAME_LEN },
        { WALT_SEG - H - FH, 1, 0, 2, 0, MAPIO__WAL_FRAME_COUNT },
        { 100, 1, 0, 1, 0, MAPIO__WAL_FRAME_TRUNCATED },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char *seg = malloc(H + FH);
        assert_non_null(seg);
        memset(seg, 0, H + FH);
        unsigned char *p = seg + H;
        le32(p + 4, cases[i].len);
        le64(p + 8, first);
        le64(p + 16, cases[i].wm);
        le32(p + 24, cases[i].count);
        p[28] = (unsigned char)cases[i].type;
        p[30] = (unsigned char)cases[i].flags;
        le32(p, walt_crc(f.seed, p + 4, 28));
        mapio__wal_frame_t fr;
        mapio__wal_scan_t s;
        assert_int_equal(walt_scan(&f, 0, 8, seg, H + FH, H, &fr, 1, &s), 0);
        assert_int_equal(s.end, MAPIO__WAL_END_INVALID);
        assert_int_equal(s.why, cases[i].want);
        free(seg);
    }

    /* Record lengths that do not add up, under a CRC that holds. */
    struct {
        uint32_t count;
        uint32_t rl[3];
        uint32_t len;
    } recs[] = {
        { 1, { 10 }, 4 + 11 }, /* one byte too many */
        { 1, { 12 }, 4 + 11 }, /* past the payload */
        { 2, { 3, 0 }, 4 + 3 + 4 + 1 }, { 2, { 0xfffffff0u, 0 }, 16 },
        { 3, { 4, 0, 0 }, 12 }, /* no room left for the third length */
    };
    for (size_t i = 0; i < sizeof recs / sizeof recs[0]; i++) {
        unsigned char *seg = walt_segment(&f, 0);
        unsigned char *p = seg + H;
        le32(p + 4, recs[i].len);
        le64(p + 8, first);
        le32(p + 24, recs[i].count);
        p[28] = 1;
        uint32_t pos = FH;
        for (uint32_t r = 0; r < recs[i].count && pos + 4 <= FH + recs[i].len; r++) {
            le32(p + pos, recs[i].rl[r]);
            pos += 4 + (recs[i].rl[r] < 64 ? recs[i].rl[r] : 0);
        }
        le32(p, walt_crc(f.seed, p + 4, 28 + recs[i].len));
        mapio__wal_frame_t fr;
        mapio__wal_scan_t s;
        assert_int_equal(walt_scan(&f, 0, 8, seg, WALT_SEG, H, &fr, 1, &s), 0);
        assert_int_equal(s.why, MAPIO__WAL_FRAME_RECORDS);
        free(seg);
    }
    for (int e = 0; e <= MAPIO__WAL_FRAME_STALE; e++)
        assert_string_not_equal(mapio__wal_frame_err_name(e), "unknown");
}

/* ---- how a segment ends ------------------------------------------------------------- */

static void segment_ends(void **state)
{
    (void)state;
    mapio__wal_fmt_t f = walt_fmt(LOG_ID, WALT_SEG, 0);
    mapio__wal_frame_t fr;
    mapio__wal_scan_t s;
    unsigned char *seg = walt_segment(&f, 0);

    /* Never written: zeros at the first frame. */
    assert_int_equal(walt_scan(&f, 0, 8, seg, WALT_SEG, H, &fr, 1, &s), 0);
    assert_int_equal(s.end, MAPIO__WAL_END_ZEROS);
    assert_int_equal(s.why, MAPIO__WAL_FRAME_ZERO);
    assert_true(mapio__wal_scan_end_lsn(&s) == H);
    /* A file that ends at the header, or inside a zero frame header. */
    assert_int_equal(walt_scan(&f, 0, 8, seg, H, H, &fr, 1, &s), 0);
    assert_int_equal(s.end, MAPIO__WAL_END_ZEROS);
    assert_int_equal(walt_scan(&f, 0, 8, seg, H + 20, H, &fr, 1, &s), 0);
    assert_int_equal(s.end, MAPIO__WAL_END_ZEROS);
    seg[H + 3] = 1;
    assert_int_equal(walt_scan(&f, 0, 8, seg, H + 20, H, &fr, 1, &s), 0);
    assert_int_equal(s.end, MAPIO__WAL_END_INVALID);
    assert_int_equal(s.why, MAPIO__WAL_FRAME_TRUNCATED);
    seg[H + 3] = 0;

    /* A frame that leaves 8, 16 or 24 bytes: no PAD fits, the tail is
     * ignored (even if not zero), the segment is complete. */
    for (uint32_t left = 8; left < 32; left += 8) {
        memset(seg + H, 0, (size_t)(WALT_SEG - H));
        uint32_t len = (uint32_t)(WALT_SEG - H - FH - left - 4);
        assert_int_equal(walt_put(&f, seg, H, 0, &len, 1), WALT_SEG - H - left);
        seg[WALT_SEG - 1] = 0x5a;
        assert_int_equal(walt_scan(&f, 0, 8, seg, WALT_SEG, H, &fr, 1, &s), 1);
        assert_int_equal(s.end, MAPIO__WAL_END_CLEAN);
        assert_int_equal(s.why, MAPIO__WAL_CLEAN_TAIL);
        assert_true(s.off == WALT_SEG - left);
    }
    /* A PAD closes the segment; what lies after it is never read. */
    memset(seg + H, 0xa5, (size_t)(WALT_SEG - H));
    uint32_t l = 50;
    uint32_t sz = walt_put(&f, seg, H, 0, &l, 1);
    assert_int_equal(mapio__wal_encode_pad(&f, seg + H + sz, 32, H + sz, H), 32);
    assert_int_equal(walt_scan(&f, 0, 8, seg, WALT_SEG, H, &fr, 1, &s), 1);
    assert_int_equal(s.end, MAPIO__WAL_END_CLEAN);
    assert_int_equal(s.why, MAPIO__WAL_CLEAN_PAD);
    assert_true(s.off == H + sz);
    /* A PAD is checked like any frame. */
    seg[H + sz + 1] ^= 1; /* its CRC */
    assert_int_equal(walt_scan(&f, 0, 8, seg, WALT_SEG, H, &fr, 1, &s), 1);
    assert_int_equal(s.end, MAPIO__WAL_END_INVALID);
    assert_int_equal(s.why, MAPIO__WAL_FRAME_CRC);
    /* Starting at the segment's end or in its tail. */
    assert_int_equal(walt_scan(&f, 0, 8, seg, WALT_SEG, WALT_SEG, &fr, 1, &s), 0);
    assert_int_equal(s.why, MAPIO__WAL_CLEAN_END);
    assert_int_equal(walt_scan(&f, 0, 8, seg, WALT_SEG, WALT_SEG - 16, &fr, 1, &s), 0);
    assert_int_equal(s.why, MAPIO__WAL_CLEAN_TAIL);
    free(seg);
}

static void scan_init_refuses_bad_arguments(void **state)
{
    (void)state;
    mapio__wal_fmt_t f = walt_fmt(LOG_ID, WALT_SEG, 0);
    unsigned char *seg = walt_segment(&f, 0);
    mapio__wal_scan_t s;
    assert_int_equal(mapio__wal_scan_init(&s, &f, 0, 8, seg, WALT_SEG, H), 0);
    assert_int_equal(mapio__wal_scan_init(&s, &f, 0, 8, NULL, 0, H), 0);
    assert_int_equal(mapio__wal_scan_init(&s, &f, 0, 8, seg, WALT_SEG + 1, H), MAPIO_EINVAL);
    assert_int_equal(mapio__wal_scan_init(&s, &f, 0, 8, seg, WALT_SEG, H - 8), MAPIO_EINVAL);
    assert_int_equal(mapio__wal_scan_init(&s, &f, 0, 8, seg, WALT_SEG, H + 4), MAPIO_EINVAL);
    assert_int_equal(mapio__wal_scan_init(&s, &f, 0, 8, seg, WALT_SEG, WALT_SEG + 8), MAPIO_EINVAL);
    assert_int_equal(mapio__wal_scan_init(&s, &f, 0, 4096, seg, WALT_SEG, H + 512), MAPIO_EINVAL);
    assert_int_equal(mapio__wal_scan_init(&s, &f, 0, 16, seg, WALT_SEG, H), MAPIO_EINVAL);
    assert_int_equal(mapio__wal_scan_init(&s, &f, 0, 0, seg, WALT_SEG, H), MAPIO_EINVAL);
    assert_int_equal(mapio__wal_scan_init(&s, &f, f.max_segno + 1, 8, seg, WALT_SEG, H),
                     MAPIO_EINVAL);
    assert_int_equal(mapio__wal_scan_init(&s, &f, 0, 8, NULL, 10, H), MAPIO_EINVAL);
    free(seg);
}

/* ---- encoder ---------------------------------------------------------------------------- */

static void encoder_refusals(void **state)
{
    (void)state;
    mapio__wal_fmt_t f = walt_fmt(LOG_ID, WALT_SEG, 4096);
    unsigned char *buf = calloc(1, WALT_SEG);
    assert_non_null(buf);
    char x = 'x';
    mapio_iovec_t r = { &x, 1 };
    uint64_t first = mapio__wal_first_lsn(&f, 1);
    assert_int_equal(mapio__wal_encode_batch(&f, buf, WALT_SEG, first, 0, &r, 1), 4096);
    assert_int_equal(mapio__wal_encode_batch(&f, buf, WALT_SEG, first + 8, 0, &r, 1),
                     MAPIO_EINVAL); /* not block-aligned */
    assert_int_equal(mapio__wal_encode_batch(&f, buf, WALT_SEG, WALT_SEG, 0, &r, 1),
                     MAPIO_EINVAL); /* the segment header's place */
    assert_int_equal(mapio__wal_encode_batch(&f, buf, WALT_SEG, first, first + 1, &r, 1),
                     MAPIO_EINVAL); /* watermark > lsn */
    assert_int_equal(mapio__wal_encode_batch(&f, buf, 4095, first, 0, &r, 1), MAPIO_ENOSPC);
    assert_int_equal(mapio__wal_encode_batch(&f, NULL, 4096, first, 0, &r, 1), MAPIO_EINVAL);
    assert_int_equal(mapio__wal_encode_batch(&f, buf, 4096, first, 0, NULL, 1), MAPIO_EINVAL);
    mapio_iovec_t nul = { NULL, 3 };
    assert_int_equal(mapio__wal_encode_batch(&f, buf, 4096, first, 0, &nul, 1), MAPIO_EINVAL);
    mapio_iovec_t empty = { NULL, 0 };
    assert_int_equal(mapio__wal_encode_batch(&f, buf, 4096, first, 0, &empty, 1), 4096);
    /* A watermark-only frame (no records) and its scan. */
    assert_int_equal(mapio__wal_encode_batch(&f, buf, 4096, first, first, NULL, 0), 4096);
    /* Room left before the segment end. */
    uint64_t last = mapio__wal_seg_base(&f, 2) - 4096;
    assert_int_equal(mapio__wal_encode_batch(&f, buf, WALT_SEG, last, 0, &r, 1), 4096);
    unsigned char big[5000];
    mapio_iovec_t rb = { big, sizeof big };
    assert_int_equal(mapio__wal_encode_batch(&f, buf, WALT_SEG, last, 0, &rb, 1), MAPIO_ERANGE);
    assert_int_equal(mapio__wal_encode_pad(&f, buf, 4096, last, 0), 4096);
    assert_int_equal(mapio__wal_encode_pad(&f, buf, 4095, last, 0), MAPIO_ENOSPC);
    assert_int_equal(mapio__wal_encode_pad(&f, buf, 4096, last, last + 1), MAPIO_EINVAL);
    /* Record lengths that overflow. */
    mapio_iovec_t huge[2] = { { big, (size_t)UINT32_MAX }, { big, 1 } };
    assert_true(mapio__wal_batch_payload(huge, 1) == UINT64_MAX);
    huge[0].iov_len = UINT32_MAX / 2;
    huge[1].iov_len = UINT32_MAX / 2;
    assert_true(mapio__wal_batch_payload(huge, 2) == UINT64_MAX);
    assert_true(mapio__wal_frame_size(&f, f.max_payload + 1) == 0);
    free(buf);
}

static void place_frames(void **state)
{
    (void)state;
    mapio__wal_fmt_t f = walt_fmt(LOG_ID, WALT_SEG, 0);
    mapio__wal_place_t p;
    uint64_t S = WALT_SEG;
    assert_int_equal(mapio__wal_place(&f, 0, 64, &p), 0); /* byte 0: the first frame */
    assert_true(p.frame_lsn == H && p.pad_lsn == 0 && p.next_lsn == H + 64);
    assert_int_equal(mapio__wal_place(&f, S - 64, 64, &p), 0); /* exactly fits */
    assert_true(p.frame_lsn == S - 64 && p.next_lsn == S);
    assert_int_equal(mapio__wal_place(&f, S, 64, &p), 0);
    assert_true(p.frame_lsn == S + H);
    assert_int_equal(mapio__wal_place(&f, S - 64, 72, &p), 0); /* PAD, next segment */
    assert_true(p.pad_lsn == S - 64 && p.frame_lsn == S + H && p.next_lsn == S + H + 72);
    assert_int_equal(mapio__wal_place(&f, S - 24, 32, &p), 0); /* too little for a PAD */
    assert_true(p.pad_lsn == 0 && p.frame_lsn == S + H);
    assert_int_equal(mapio__wal_place(&f, 8, 64, &p), MAPIO_EINVAL);
    assert_int_equal(mapio__wal_place(&f, H + 4, 64, &p), MAPIO_EINVAL);
    assert_int_equal(mapio__wal_place(&f, H, 60, &p), MAPIO_EINVAL);
    assert_int_equal(mapio__wal_place(&f, H, S - H + 8, &p), MAPIO_EINVAL);
    assert_int_equal(mapio__wal_place(&f, H, S - H, &p), 0);
    uint64_t last = mapio__wal_seg_base(&f, f.max_segno);
    assert_int_equal(mapio__wal_place(&f, last + S - 64, 72, &p), MAPIO_EOVERFLOW);
    assert_int_equal(mapio__wal_place(&f, last + S, 72, &p), MAPIO_EOVERFLOW);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fmt_rejects_bad_geometry),
        cmocka_unit_test(lsn_arithmetic),
        cmocka_unit_test(seghdr_bytes_are_the_format),
        cmocka_unit_test(frame_bytes_are_the_format),
        cmocka_unit_test(seghdr_every_field_checked),
        cmocka_unit_test(round_trip_every_size),
        cmocka_unit_test(round_trip_many_records),
        cmocka_unit_test(fill_segment_then_scan),
        cmocka_unit_test(every_single_byte_corruption_detected),
        cmocka_unit_test(torn_write_at_every_byte),
        cmocka_unit_test(torn_write_sector_subsets),
        cmocka_unit_test(stale_and_foreign_frames_rejected),
        cmocka_unit_test(garbage_fields_refused),
        cmocka_unit_test(segment_ends),
        cmocka_unit_test(scan_init_refuses_bad_arguments),
        cmocka_unit_test(encoder_refusals),
        cmocka_unit_test(place_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
