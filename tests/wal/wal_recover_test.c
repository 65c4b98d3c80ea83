/*
 * tests/wal/wal_recover_test.c - where a log ends and what kind of end it
 * is: clean ends (zeros, a segment boundary, the last file), torn tails
 * with and without in-flight frames past them, corruption proved by a later
 * watermark (in the same segment, a later one, past a lost write, a missing
 * file, a bad segment header), the three policies, start positions, the
 * erase range and why it is needed, and bad arguments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "mapio/errno.h"
#include "walt.h"

#define LOG_ID 0xfeedface12345678ull
#define H MAPIO__WAL_SEGHDR_SIZE

static const mapio__wal_policy_t policies[] = { MAPIO__WAL_TOLERATE_TAIL, MAPIO__WAL_POINT_IN_TIME,
                                                MAPIO__WAL_ABSOLUTE };

/* Recover l from its first frame under policy; returns what recover did. */
static int recover(walt_log_t *l, mapio__wal_policy_t policy, mapio__wal_recovery_t *r)
{
    mapio__wal_seg_in_t segs[WALT_MAXSEG];
    size_t n = walt_log_segs(l, segs);
    memset(r, 0xa5, sizeof *r); /* every field must be set */
    return mapio__wal_recover(&l->f, segs, n, mapio__wal_first_lsn(&l->f, 0), policy, r);
}

/* The return each policy gives a verdict. */
static int expected_rc(mapio__wal_policy_t policy, mapio__wal_verdict_t v)
{
    if (policy == MAPIO__WAL_POINT_IN_TIME)
        return 0;
    if (policy == MAPIO__WAL_TOLERATE_TAIL)
        return v == MAPIO__WAL_CORRUPT ? MAPIO__WAL_EBADMSG : 0;
    return v == MAPIO__WAL_CLEAN ? 0 : MAPIO__WAL_EBADMSG;
}

/* Every policy agrees on the end and the verdict; each returns its rc. */
static void expect(walt_log_t *l, mapio__wal_verdict_t v, mapio__wal_stop_t stop, uint64_t end,
                   uint64_t erase_hi)
{
    for (size_t i = 0; i < 3; i++) {
        mapio__wal_recovery_t r;
        assert_int_equal(recover(l, policies[i], &r), expected_rc(policies[i], v));
        assert_int_equal(r.verdict, v);
        assert_int_equal(r.stop, stop);
        assert_true(r.end_lsn == end);
        assert_true(r.erase_lo == end);
        assert_true(r.erase_hi == erase_hi);
    }
}

/* n frames of one small record each, each with watermark = its own LSN
 * (written one after the other, each durable before the next). */
static void append_durable(walt_log_t *l, size_t n, uint64_t *lsn, uint32_t *size)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t len = (uint32_t)(20 + i % 50);
        lsn[i] = walt_log_append(l, UINT64_MAX, &len, 1, &size[i]);
    }
}

/* ---- the rule ------------------------------------------------------------------------- */

static void classify_and_policies(void **state)
{
    (void)state;
    mapio__wal_seen_t none = { 0 }, low = { 2, 100, 500, 600 }, high = { 3, 101, 700, 800 };
    for (int st = MAPIO__WAL_STOP_ZEROS; st <= MAPIO__WAL_STOP_HEADER; st++) {
        int nothing_there = st == MAPIO__WAL_STOP_ZEROS || st == MAPIO__WAL_STOP_MISSING;
        assert_int_equal(mapio__wal_classify(st, 100, &none),
                         nothing_there ? MAPIO__WAL_CLEAN : MAPIO__WAL_TORN);
        assert_int_equal(mapio__wal_classify(st, 100, &low), MAPIO__WAL_TORN); /* wm == p */
        assert_int_equal(mapio__wal_classify(st, 100, &high), MAPIO__WAL_CORRUPT);
        assert_string_not_equal(mapio__wal_stop_name(st), "unknown");
    }
    for (int v = MAPIO__WAL_CLEAN; v <= MAPIO__WAL_CORRUPT; v++) {
        for (size_t i = 0; i < 3; i++)
            assert_int_equal(mapio__wal_policy_check(policies[i], v), expected_rc(policies[i], v));
        assert_string_not_equal(mapio__wal_verdict_name(v), "unknown");
    }
    assert_int_equal(mapio__wal_policy_check(7, MAPIO__WAL_CLEAN), MAPIO__WAL_EBADMSG);
    assert_int_equal(MAPIO__WAL_EBADMSG, -EBADMSG);
}

/* ---- clean ends ------------------------------------------------------------------------- */

static void clean_end_in_zeros(void **state)
{
    (void)state;
    walt_log_t l;
    walt_log_init(&l, LOG_ID, 0);
    uint64_t lsn[5];
    uint32_t size[5];
    append_durable(&l, 5, lsn, size);
    expect(&l, MAPIO__WAL_CLEAN, MAPIO__WAL_STOP_ZEROS, lsn[4] + size[4], lsn[4] + size[4]);
    mapio__wal_recovery_t r;
    assert_int_equal(recover(&l, MAPIO__WAL_TOLERATE_TAIL, &r), 0);
    assert_true(r.frames == 5 && r.records == 5 && r.later.frames == 0);
    walt_log_free(&l);

    /* A log never written: its end is its first frame. */
    walt_log_init(&l, LOG_ID, 0);
    expect(&l, MAPIO__WAL_CLEAN, MAPIO__WAL_STOP_ZEROS, H, H);
    /* No segment at all: the same. */
    mapio__wal_recovery_t r0;
    assert_int_equal(mapio__wal_recover(&l.f, NULL, 0, 0, MAPIO__WAL_ABSOLUTE, &r0), 0);
    assert_int_equal(r0.stop, MAPIO__WAL_STOP_MISSING);
    assert_true(r0.end_lsn == H && r0.verdict == MAPIO__WAL_CLEAN);
    walt_log_free(&l);
}

/* Frames over several segments (PADs and short tails between them), a
 * preallocated empty segment after the last: the end is in the last used
 * one; with no file after a full segment, the next segment's first frame. */
static void clean_end_across_segments(void **state)
{
    (void)state;
    for (uint32_t block = 0; block <= 4096; block += 4096) {
        walt_log_t l;
        walt_log_init(&l, LOG_ID, block);
        uint64_t lsn[400];
        uint32_t size[400];
        size_t n = 0;
        while (l.nseg < 4) {
            uint32_t len = (uint32_t)(100 + (n * 977) % 3000);
            lsn[n] = walt_log_append(&l, UINT64_MAX, &len, 1, &size[n]);
            n++;
        }
        uint64_t end = lsn[n - 1] + size[n - 1];
        expect(&l, MAPIO__WAL_CLEAN, MAPIO__WAL_STOP_ZEROS, end, end);
        mapio__wal_recovery_t r;
        assert_int_equal(recover(&l, MAPIO__WAL_ABSOLUTE, &r), 0);
        assert_true(r.frames == n);

        /* Preallocated segments ahead of the end change nothing. */
        l.seg[l.nseg] = walt_segment(&l.f, l.nseg);
        l.nseg++;
        expect(&l, MAPIO__WAL_CLEAN, MAPIO__WAL_STOP_ZEROS, end, end);
        walt_log_free(&l);
    }

    /* The last frame ends exactly at the end of the last file. */
    walt_log_t l;
    walt_log_init(&l, LOG_ID, 0);
    uint32_t len = (uint32_t)(WALT_SEG - H - 32 - 4);
    walt_log_append(&l, UINT64_MAX, &len, 1, NULL);
    uint64_t next = mapio__wal_first_lsn(&l.f, 1);
    expect(&l, MAPIO__WAL_CLEAN, MAPIO__WAL_STOP_MISSING, next, next);
    walt_log_free(&l);
}

/* ---- torn tails --------------------------------------------------------------------------- */

/* Frames 0..5 durable; 6..9 were in flight (their watermark: frame 6's
 * LSN at best). 6 never landed, 7..9 did: a torn tail, and 7..9 must be
 * erased. With 6 half-written and nothing after: a torn tail too. */
static void torn_tail_with_in_flight_frames(void **state)
{
    (void)state;
    for (uint32_t block = 0; block <= 4096; block += 4096) {
        walt_log_t l;
        walt_log_init(&l, LOG_ID, block);
        uint64_t lsn[10];
        uint32_t size[10];
        append_durable(&l, 6, lsn, size);
        uint64_t durable = lsn[5] + size[5];
        for (size_t i = 6; i < 10; i++) {
            uint32_t len = 300;
            lsn[i] = walt_log_append(&l, i == 9 ? durable : lsn[3], &len, 1, &size[i]);
        }
        memset(walt_log_at(&l, lsn[6]), 0, size[6]);
        expect(&l, MAPIO__WAL_TORN, MAPIO__WAL_STOP_ZEROS, lsn[6], lsn[9] + size[9]);
        mapio__wal_recovery_t r;
        recover(&l, MAPIO__WAL_TOLERATE_TAIL, &r);
        assert_true(r.later.frames == 3 && r.later.max_wm == durable && r.frames == 6);
        assert_true(r.later.max_wm_lsn == lsn[9]);

        /* Half of 6 written, 7..9 not. */
        memset(walt_log_at(&l, lsn[6]), 0, (size_t)(lsn[9] + size[9] - lsn[6]));
        uint32_t len = 300;
        walt_put(&l.f, l.seg[0], lsn[6], durable, &len, 1);
        memset(walt_log_at(&l, lsn[6]) + 150, 0, size[6] - 150);
        expect(&l, MAPIO__WAL_TORN, MAPIO__WAL_STOP_INVALID, lsn[6], lsn[6]);
        recover(&l, MAPIO__WAL_TOLERATE_TAIL, &r);
        assert_int_equal(r.why, MAPIO__WAL_FRAME_CRC);
        walt_log_free(&l);
    }
}

/* A segment cut short (its file is shorter than S, ending inside a frame). */
static void torn_tail_in_a_short_file(void **state)
{
    (void)state;
    walt_log_t l;
    walt_log_init(&l, LOG_ID, 0);
    uint64_t lsn[4];
    uint32_t size[4];
    append_durable(&l, 4, lsn, size);
    mapio__wal_seg_in_t seg = { 0, l.seg[0], (size_t)(lsn[3] + size[3] / 2) };
    mapio__wal_recovery_t r;
    assert_int_equal(
        mapio__wal_recover(&l.f, &seg, 1, mapio__wal_first_lsn(&l.f, 0), MAPIO__WAL_ABSOLUTE, &r),
        MAPIO__WAL_EBADMSG);
    assert_true(r.end_lsn == lsn[3] && r.verdict == MAPIO__WAL_TORN);
    assert_int_equal(r.why, MAPIO__WAL_FRAME_TRUNCATED);
    seg.len = (size_t)lsn[3];
    assert_int_equal(
        mapio__wal_recover(&l.f, &seg, 1, mapio__wal_first_lsn(&l.f, 0), MAPIO__WAL_ABSOLUTE, &r),
        0);
    assert_true(r.end_lsn == lsn[3] && r.verdict == MAPIO__WAL_CLEAN);
    walt_log_free(&l);
}

/* ---- corruption before the tail ------------------------------------------------------------- */

/* One flipped bit in frame 3 of 8 durable ones: frames 4..7 carry
 * watermarks past it. TOLERATE_TAIL and ABSOLUTE refuse the log;
 * POINT_IN_TIME ends it at frame 3 and erases the rest. */
static void flipped_bit_before_the_tail(void **state)
{
    (void)state;
    for (uint32_t block = 0; block <= 4096; block += 4096) {
        walt_log_t l;
        walt_log_init(&l, LOG_ID, block);
        uint64_t lsn[8];
        uint32_t size[8];
        append_durable(&l, 8, lsn, size);
        walt_log_at(&l, lsn[3])[40] ^= 0x10;
        expect(&l, MAPIO__WAL_CORRUPT, MAPIO__WAL_STOP_INVALID, lsn[3], lsn[7] + size[7]);
        mapio__wal_recovery_t r;
        recover(&l, MAPIO__WAL_TOLERATE_TAIL, &r);
        assert_true(r.later.max_wm == lsn[7] && r.later.max_wm_lsn == lsn[7]);
        assert_true(r.later.frames == 4 && r.frames == 3);
        walt_log_free(&l);
    }
}

/* The damaged frame is the last of its segment, the evidence in the next. */
static void corruption_proved_by_a_later_segment(void **state)
{
    (void)state;
    walt_log_t l;
    walt_log_init(&l, LOG_ID, 0);
    uint64_t lsn[200];
    uint32_t size[200];
    size_t n = 0;
    while (l.nseg < 2) {
        uint32_t len = 1000;
        lsn[n] = walt_log_append(&l, UINT64_MAX, &len, 1, &size[n]);
        n++;
    }
    size_t last0 = n - 2; /* the last frame of segment 0 */
    assert_true(mapio__wal_segno(&l.f, lsn[last0]) == 0 && mapio__wal_segno(&l.f, lsn[n - 1]) == 1);
    walt_log_at(&l, lsn[last0])[100] ^= 1;
    expect(&l, MAPIO__WAL_CORRUPT, MAPIO__WAL_STOP_INVALID, lsn[last0], lsn[n - 1] + size[n - 1]);
    walt_log_free(&l);
}

/* A durable frame lost (zeros where it was: the device dropped the write),
 * later frames say it had been acknowledged. */
static void lost_write_is_corruption(void **state)
{
    (void)state;
    walt_log_t l;
    walt_log_init(&l, LOG_ID, 0);
    uint64_t lsn[6];
    uint32_t size[6];
    append_durable(&l, 6, lsn, size);
    memset(walt_log_at(&l, lsn[2]), 0, size[2]);
    expect(&l, MAPIO__WAL_CORRUPT, MAPIO__WAL_STOP_ZEROS, lsn[2], lsn[5] + size[5]);
    walt_log_free(&l);
}

/* The watermark is a frame boundary: a later frame with watermark == p
 * (the frame at p not yet durable when it was written) proves nothing. */
static void watermark_equal_to_p_is_torn(void **state)
{
    (void)state;
    walt_log_t l;
    walt_log_init(&l, LOG_ID, 0);
    uint64_t lsn[4];
    uint32_t size[4];
    append_durable(&l, 3, lsn, size);
    uint32_t len = 10;
    lsn[3] = walt_log_append(&l, lsn[2], &len, 1, &size[3]); /* wm = p exactly */
    walt_log_at(&l, lsn[2])[0] ^= 1;
    expect(&l, MAPIO__WAL_TORN, MAPIO__WAL_STOP_INVALID, lsn[2], lsn[3] + size[3]);
    walt_log_free(&l);
}

/* The last frame before an idle period has no later frame to vouch for it;
 * a frame with no records, written once its sync is done, does (see
 * docs/wal.md, "The last frame"). */
static void watermark_only_frame_protects_the_last_frame(void **state)
{
    (void)state;
    walt_log_t l;
    walt_log_init(&l, LOG_ID, 0);
    uint64_t lsn[5];
    uint32_t size[5];
    append_durable(&l, 4, lsn, size);
    walt_log_at(&l, lsn[3])[36] ^= 4;
    expect(&l, MAPIO__WAL_TORN, MAPIO__WAL_STOP_INVALID, lsn[3], lsn[3]); /* indistinguishable */
    walt_log_at(&l, lsn[3])[36] ^= 4;
    lsn[4] = walt_log_append(&l, lsn[3] + size[3], NULL, 0, &size[4]);
    assert_int_equal(size[4], 32);
    walt_log_at(&l, lsn[3])[36] ^= 4;
    expect(&l, MAPIO__WAL_CORRUPT, MAPIO__WAL_STOP_INVALID, lsn[3], lsn[4] + 32);
    walt_log_free(&l);
}

/* A segment file missing from the middle: later segments decide. */
static void missing_segment(void **state)
{
    (void)state;
    for (int acked = 0; acked < 2; acked++) {
        walt_log_t l;
        walt_log_init(&l, LOG_ID, 0);
        uint64_t lsn[400], last = 0;
        uint32_t size[400];
        size_t n = 0;
        uint64_t p = mapio__wal_first_lsn(&l.f, 2);
        while (l.nseg < 4) {
            uint32_t len = 2000;
            /* Frames in segment 3 carry watermark p (only what is before
             * segment 2 durable) or their own LSN. */
            uint64_t wm = !acked && mapio__wal_segno(&l.f, l.next) >= 2 ? p - 4096 : UINT64_MAX;
            lsn[n] = walt_log_append(&l, wm, &len, 1, &size[n]);
            last = lsn[n] + size[n];
            n++;
        }
        mapio__wal_seg_in_t segs[4];
        walt_log_segs(&l, segs);
        segs[2] = segs[3]; /* segment 2 is gone */
        mapio__wal_recovery_t r;
        int rc = mapio__wal_recover(&l.f, segs, 3, H, MAPIO__WAL_TOLERATE_TAIL, &r);
        assert_int_equal(r.stop, MAPIO__WAL_STOP_MISSING);
        assert_true(r.end_lsn == p && r.erase_hi == last);
        assert_int_equal(r.verdict, acked ? MAPIO__WAL_CORRUPT : MAPIO__WAL_TORN);
        assert_int_equal(rc, acked ? MAPIO__WAL_EBADMSG : 0);
        walt_log_free(&l);
    }
}

/* Segment 1's header damaged. Its frames (found at every 8 bytes, as the
 * alignment is unknown, though they are 4096-aligned) and segment 2's
 * watermarks prove segment 1 was in use: corruption. A bad header with
 * nothing valid after it is a torn tail. */
static void bad_segment_header(void **state)
{
    (void)state;
    walt_log_t l;
    walt_log_init(&l, LOG_ID, 4096);
    uint64_t lsn[100];
    uint32_t size[100];
    size_t n = 0;
    while (l.nseg < 3) {
        uint32_t len = 5000;
        lsn[n] = walt_log_append(&l, UINT64_MAX, &len, 1, &size[n]);
        n++;
    }
    l.seg[1][30] ^= 1;
    uint64_t p = mapio__wal_first_lsn(&l.f, 1);
    expect(&l, MAPIO__WAL_CORRUPT, MAPIO__WAL_STOP_HEADER, p, lsn[n - 1] + size[n - 1]);
    mapio__wal_recovery_t r;
    recover(&l, MAPIO__WAL_POINT_IN_TIME, &r);
    assert_int_equal(r.why, MAPIO__WAL_HDR_CRC);
    /* Every frame of segments 1 and 2 found, in spite of the header, and
     * the PAD that closes segment 1. */
    size_t in1 = 0;
    for (size_t i = 0; i < n; i++)
        in1 += mapio__wal_segno(&l.f, lsn[i]) >= 1;
    assert_true(r.later.frames == in1 + 1);

    /* Only a header, nothing in it: a cut that did not finish. */
    walt_log_t m;
    walt_log_init(&m, LOG_ID, 0);
    append_durable(&m, 3, lsn, size);
    m.seg[1] = walt_segment(&m.f, 1);
    m.nseg = 2;
    memset(m.seg[1], 0, 64);
    expect(&m, MAPIO__WAL_CLEAN, MAPIO__WAL_STOP_ZEROS, lsn[2] + size[2], lsn[2] + size[2]);
    uint32_t len = (uint32_t)(WALT_SEG - 3 * 4096); /* fill segment 0 to close it */
    walt_log_free(&m);
    walt_log_init(&m, LOG_ID, 0);
    walt_log_append(&m, UINT64_MAX, &len, 1, NULL);
    walt_log_append(&m, UINT64_MAX, &len, 1, NULL); /* PAD, opens segment 1 */
    memset(walt_log_at(&m, mapio__wal_first_lsn(&m.f, 1)), 0, 32 + 4 + len);
    m.seg[1][0] ^= 1; /* magic */
    p = mapio__wal_first_lsn(&m.f, 1);
    expect(&m, MAPIO__WAL_TORN, MAPIO__WAL_STOP_HEADER, p, p);
    walt_log_free(&l);
    walt_log_free(&m);
}

/* A record whose bytes are a frame image valid at its own position (with a
 * watermark far past the end): the look-ahead skips whole frames, so it is
 * never taken for a frame, and the torn tail stays a torn tail. */
static void frame_image_inside_a_record_is_not_a_frame(void **state)
{
    (void)state;
    walt_log_t l;
    walt_log_init(&l, LOG_ID, 0);
    uint64_t lsn[2];
    uint32_t size[2];
    append_durable(&l, 2, lsn, size);
    uint64_t p = l.next;
    uint32_t lost = 64;
    walt_log_append(&l, p, &lost, 1, NULL); /* in flight at the crash, lost below */
    uint64_t g = l.next;
    uint64_t q = g + 32 + 4 + 4; /* an 8-aligned position inside G's record */
    unsigned char rec[4 + 256];
    memset(rec, 0, 4);
    char junk[100];
    memset(junk, 'j', sizeof junk);
    mapio_iovec_t fake_rec = { junk, sizeof junk };
    assert_true(mapio__wal_encode_batch(&l.f, rec + 4, 256, q, q, &fake_rec, 1) > 0);
    mapio_iovec_t grec = { rec, sizeof rec };
    uint64_t goff = mapio__wal_seg_off(&l.f, g);
    int64_t gsize =
        mapio__wal_encode_batch(&l.f, l.seg[0] + goff, (size_t)(WALT_SEG - goff), g, p, &grec, 1);
    assert_true(gsize > 0);
    memset(walt_log_at(&l, p), 0, (size_t)(g - p)); /* the frame at p never landed */
    expect(&l, MAPIO__WAL_TORN, MAPIO__WAL_STOP_ZEROS, p, g + (uint64_t)gsize);
    mapio__wal_recovery_t r;
    recover(&l, MAPIO__WAL_TOLERATE_TAIL, &r);
    assert_true(r.later.frames == 1 && r.later.max_wm == p);
    walt_log_free(&l);
}

/* An in-flight PAD past a hole: found, and only its header is erased. */
static void in_flight_pad_past_the_end(void **state)
{
    (void)state;
    walt_log_t l;
    walt_log_init(&l, LOG_ID, 0);
    uint64_t lsn[2];
    uint32_t size[2];
    append_durable(&l, 1, lsn, size);
    uint64_t p = l.next;
    uint32_t len = 100;
    lsn[1] = walt_log_append(&l, p, &len, 1, &size[1]); /* lost */
    uint64_t pad = l.next;
    uint64_t off = mapio__wal_seg_off(&l.f, pad);
    assert_int_equal(
        mapio__wal_encode_pad(&l.f, walt_log_at(&l, pad), (size_t)(WALT_SEG - off), pad, p), 32);
    memset(walt_log_at(&l, lsn[1]), 0, size[1]);
    expect(&l, MAPIO__WAL_TORN, MAPIO__WAL_STOP_ZEROS, p, pad + 32);
    walt_log_free(&l);
}

/* ---- the erase
 * ----------------------------------------------------------------------------------- */

/* Why the range past the end must be zeroed: a torn tail at p with an
 * in-flight frame Q at q that landed. If appending resumes at p without the
 * erase and the new frames happen to end exactly at q, a later recovery
 * reads Q as if it were part of the new log: a write never acknowledged,
 * and dropped once, comes back. Zeroing [erase_lo, erase_hi) first stops
 * that. */
static void erase_prevents_resurrection(void **state)
{
    (void)state;
    for (int erase = 0; erase < 2; erase++) {
        walt_log_t l;
        walt_log_init(&l, LOG_ID, 0);
        uint64_t lsn[3];
        uint32_t size[3];
        append_durable(&l, 1, lsn, size);
        uint32_t len = 200;
        lsn[1] = walt_log_append(&l, lsn[1 - 1] + size[0], &len, 1, &size[1]); /* lost */
        lsn[2] = walt_log_append(&l, lsn[0] + size[0], &len, 1, &size[2]);     /* Q: landed */
        memset(walt_log_at(&l, lsn[1]), 0, size[1]);
        mapio__wal_recovery_t r;
        assert_int_equal(recover(&l, MAPIO__WAL_TOLERATE_TAIL, &r), 0);
        assert_int_equal(r.verdict, MAPIO__WAL_TORN);
        assert_true(r.end_lsn == lsn[1] && r.erase_hi == lsn[2] + size[2]);
        if (erase)
            memset(walt_log_at(&l, r.erase_lo), 0, (size_t)(r.erase_hi - r.erase_lo));
        /* The new life of the log: one frame exactly where the lost one
         * was, of the same size, durable; then a crash. */
        l.next = r.end_lsn;
        uint32_t other = 200;
        uint64_t again = walt_log_append(&l, r.end_lsn, &other, 1, NULL);
        assert_true(again == lsn[1] && l.next == lsn[2]);
        assert_int_equal(recover(&l, MAPIO__WAL_TOLERATE_TAIL, &r), 0);
        /* Without the erase, Q is back as the log's third frame. */
        assert_true(r.frames == (erase ? 2u : 3u));
        assert_true(r.end_lsn == (erase ? lsn[2] : lsn[2] + size[2]));
        walt_log_free(&l);
    }
}

/* ---- where recovery starts
 * ------------------------------------------------------------------------ */

static void start_positions(void **state)
{
    (void)state;
    walt_log_t l;
    walt_log_init(&l, LOG_ID, 0);
    uint64_t lsn[300];
    uint32_t size[300];
    size_t n = 0;
    while (l.nseg < 3) {
        uint32_t len = 1500;
        lsn[n] = walt_log_append(&l, UINT64_MAX, &len, 1, &size[n]);
        n++;
    }
    uint64_t end = lsn[n - 1] + size[n - 1];
    mapio__wal_seg_in_t segs[3];
    walt_log_segs(&l, segs);
    mapio__wal_recovery_t r;
    /* From every frame (a checkpoint), from a segment's byte 0. */
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(mapio__wal_recover(&l.f, segs, 3, lsn[i], MAPIO__WAL_ABSOLUTE, &r), 0);
        assert_true(r.end_lsn == end && r.frames == n - i);
    }
    assert_int_equal(
        mapio__wal_recover(&l.f, segs, 3, mapio__wal_seg_base(&l.f, 1), MAPIO__WAL_ABSOLUTE, &r),
        0);
    assert_true(r.end_lsn == end);
    /* Earlier segments passed along are skipped; from a later one alone. */
    assert_int_equal(mapio__wal_recover(&l.f, segs + 2, 1, mapio__wal_seg_base(&l.f, 2),
                                        MAPIO__WAL_ABSOLUTE, &r),
                     0);
    assert_true(r.end_lsn == end);
    /* The start's segment missing. */
    assert_int_equal(mapio__wal_recover(&l.f, segs + 1, 2, lsn[0], MAPIO__WAL_TOLERATE_TAIL, &r),
                     MAPIO__WAL_EBADMSG);
    assert_int_equal(r.stop, MAPIO__WAL_STOP_MISSING);
    assert_true(r.end_lsn == lsn[0] && r.verdict == MAPIO__WAL_CORRUPT); /* 1 and 2 say so */
    /* Inside a header, misaligned. */
    assert_int_equal(mapio__wal_recover(&l.f, segs, 3, 8, MAPIO__WAL_ABSOLUTE, &r), MAPIO_EINVAL);
    assert_int_equal(mapio__wal_recover(&l.f, segs, 3, H + 4, MAPIO__WAL_ABSOLUTE, &r),
                     MAPIO_EINVAL);
    walt_log_free(&l);

    walt_log_init(&l, LOG_ID, 4096);
    walt_log_segs(&l, segs);
    assert_int_equal(mapio__wal_recover(&l.f, segs, 1, H + 8, MAPIO__WAL_ABSOLUTE, &r),
                     MAPIO_EINVAL); /* not block-aligned */
    walt_log_free(&l);
}

static void bad_arguments(void **state)
{
    (void)state;
    walt_log_t l;
    walt_log_init(&l, LOG_ID, 0);
    uint32_t len = 5;
    while (l.nseg < 2)
        walt_log_append(&l, UINT64_MAX, &len, 1, NULL);
    mapio__wal_seg_in_t segs[2], swapped[2];
    walt_log_segs(&l, segs);
    mapio__wal_recovery_t r;
    swapped[0] = segs[1];
    swapped[1] = segs[0];
    assert_int_equal(mapio__wal_recover(&l.f, swapped, 2, H, 0, &r), MAPIO_EINVAL);
    swapped[1] = segs[1];
    assert_int_equal(mapio__wal_recover(&l.f, swapped, 2, H, 0, &r), MAPIO_EINVAL);
    segs[0].len = WALT_SEG + 1;
    assert_int_equal(mapio__wal_recover(&l.f, segs, 2, H, 0, &r), MAPIO_EINVAL);
    segs[0].len = WALT_SEG;
    assert_int_equal(mapio__wal_recover(&l.f, segs, 2, H, 3, &r), MAPIO_EINVAL);
    assert_int_equal(mapio__wal_recover(&l.f, segs, 2, H, 0, NULL), MAPIO_EINVAL);
    assert_int_equal(mapio__wal_recover(NULL, segs, 2, H, 0, &r), MAPIO_EINVAL);
    assert_int_equal(mapio__wal_recover(&l.f, NULL, 2, H, 0, &r), MAPIO_EINVAL);
    segs[1].segno = l.f.max_segno + 1;
    assert_int_equal(mapio__wal_recover(&l.f, segs, 2, H, 0, &r), MAPIO_EINVAL);
    /* A segment of another log or size among ours: its header is bad. */
    walt_log_segs(&l, segs);
    mapio__wal_fmt_t other = walt_fmt(LOG_ID + 1, WALT_SEG, 0);
    unsigned char *foreign = walt_segment(&other, 1);
    segs[1].buf = foreign;
    assert_int_equal(mapio__wal_recover(&l.f, segs, 2, H, MAPIO__WAL_ABSOLUTE, &r),
                     MAPIO__WAL_EBADMSG);
    assert_int_equal(r.stop, MAPIO__WAL_STOP_HEADER);
    assert_int_equal(r.why, MAPIO__WAL_HDR_LOG_ID);
    free(foreign);
    walt_log_free(&l);
}

/* Segments of a log reopened with and without O_DIRECT: each is read with
 * the alignment its own header gives. A writer in another mode than the
 * current segment's closes it with a PAD and goes on in a new segment. */
static void mixed_alignment_segments(void **state)
{
    (void)state;
    walt_log_t l;
    walt_log_init(&l, LOG_ID, 4096);
    uint32_t len = 3000;
    while (l.nseg < 2)
        walt_log_append(&l, UINT64_MAX, &len, 1, NULL);
    uint64_t off = mapio__wal_seg_off(&l.f, l.next);
    assert_true(mapio__wal_encode_pad(&l.f, walt_log_at(&l, l.next), (size_t)(WALT_SEG - off),
                                      l.next, l.next) > 0);
    l.next = mapio__wal_seg_base(&l.f, 2);
    l.f = walt_fmt(LOG_ID, WALT_SEG, 0); /* the writer comes back buffered */
    uint64_t last = 0;
    uint32_t size = 0;
    for (int i = 0; i < 30; i++)
        last = walt_log_append(&l, UINT64_MAX, &len, 1, &size);
    assert_true(l.nseg == 4);
    assert_true(last % 4096 != 0 || size % 4096 != 0);
    expect(&l, MAPIO__WAL_CLEAN, MAPIO__WAL_STOP_ZEROS, last + size, last + size);
    mapio__wal_recovery_t r;
    recover(&l, MAPIO__WAL_ABSOLUTE, &r);
    assert_true(r.frames == 30 + 16);
    walt_log_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classify_and_policies),
        cmocka_unit_test(clean_end_in_zeros),
        cmocka_unit_test(clean_end_across_segments),
        cmocka_unit_test(torn_tail_with_in_flight_frames),
        cmocka_unit_test(torn_tail_in_a_short_file),
        cmocka_unit_test(flipped_bit_before_the_tail),
        cmocka_unit_test(corruption_proved_by_a_later_segment),
        cmocka_unit_test(lost_write_is_corruption),
        cmocka_unit_test(watermark_equal_to_p_is_torn),
        cmocka_unit_test(watermark_only_frame_protects_the_last_frame),
        cmocka_unit_test(missing_segment),
        cmocka_unit_test(bad_segment_header),
        cmocka_unit_test(frame_image_inside_a_record_is_not_a_frame),
        cmocka_unit_test(in_flight_pad_past_the_end),
        cmocka_unit_test(erase_prevents_resurrection),
        cmocka_unit_test(start_positions),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(mixed_alignment_segments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
