/*
 * tests/wal/wal_model_test.c - recovery against a model of the writer.
 *
 * A simulated log with concurrent committers: frames are reserved in LSN
 * order (a PAD closes a segment a frame does not fit), then encoded (each
 * takes the durable LSN of that moment as its watermark), copied to the
 * page cache and synced in any order; a sync makes the whole cache durable
 * and acknowledges the longest run of written frames. A crash keeps the
 * durable image, lets any in-flight frame reach the cache or not, and any
 * 512-byte sector that differs from the durable image land or not (sectors
 * are atomic; frames that share a sector in buffered mode are covered).
 *
 * After each crash, recovery under TOLERATE_TAIL must succeed, never call
 * a crash-only image corrupt, end at or after everything acknowledged, and
 * hand back only frames that were written, byte for byte. Then the log
 * erases what recovery said, appends again from the end, crashes again:
 * several lives per run, so a frame left from an earlier life that came
 * back would be caught. A second test damages one byte of an acknowledged
 * frame in the crash image: recovery must stop there and call it
 * corruption exactly when an intact later frame carries a watermark past
 * it.
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

#define NSEG 12
#define S WALT_SEG
#define IMG (NSEG * S)
#define SECTOR 512
#define MAX_IN_FLIGHT 6

enum { RESERVED, ENCODED, WRITTEN };

typedef struct sim_frame {
    uint64_t lsn;
    uint64_t wm;
    uint32_t size; /* its extent in the log (a PAD: to the segment end) */
    uint32_t wlen; /* bytes the writer writes */
    uint32_t used; /* bytes that must be intact: header and payload (a PAD: header) */
    uint32_t nrec, lens[4];
    int pad, state;
    unsigned char *bytes; /* wlen bytes once encoded */
} sim_frame_t;

typedef struct sim {
    mapio__wal_fmt_t f;
    unsigned char *disk, *cache, *img, *tmp;
    sim_frame_t *fr;
    size_t nfr, cap;
    size_t done;      /* frames [0, done) are written (the durable run's candidates) */
    uint64_t next;    /* next free LSN */
    uint64_t durable; /* acknowledged up to here */
    uint64_t rng;
} sim_t;

static uint64_t rnd(sim_t *s, uint64_t n)
{
    return tu_rand(&s->rng) % n;
}

static void sim_init(sim_t *s, uint32_t block, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->rng = seed;
    s->f = walt_fmt(0x5eed0000ull + seed, S, block);
    s->disk = calloc(1, IMG);
    s->cache = malloc(IMG);
    s->img = malloc(IMG);
    s->tmp = malloc(IMG);
    assert_true(s->disk && s->cache && s->img && s->tmp);
    for (uint64_t k = 0; k < NSEG; k++) { /* preallocated segments */
        mapio__wal_seghdr_t h = { s->f.log_id, k, S, block };
        assert_int_equal(mapio__wal_seghdr_encode(s->disk + k * S, &h), 0);
    }
    memcpy(s->cache, s->disk, IMG);
    s->next = s->durable = mapio__wal_first_lsn(&s->f, 0);
}

static void sim_free(sim_t *s)
{
    for (size_t i = 0; i < s->nfr; i++)
        free(s->fr[i].bytes);
    free(s->fr);
    free(s->disk);
    free(s->cache);
    free(s->img);
    free(s->tmp);
}

static sim_frame_t *push(sim_t *s)
{
    if (s->nfr == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->fr = realloc(s->fr, s->cap * sizeof *s->fr);
        assert_non_null(s->fr);
    }
    sim_frame_t *f = &s->fr[s->nfr++];
    memset(f, 0, sizeof *f);
    return f;
}

/* Reserve the next frame (and the PAD before it, if it opens a segment).
 * 0 when the log's NSEG segments are full. */
static int sim_reserve(sim_t *s)
{
    uint32_t nrec = (uint32_t)rnd(s, 4), lens[4];
    uint64_t payload = 0;
    for (uint32_t r = 0; r < nrec; r++) {
        lens[r] = (uint32_t)(rnd(s, 8) == 0 ? rnd(s, 20000) : rnd(s, 200));
        payload += 4 + lens[r];
    }
    uint64_t size = mapio__wal_frame_size(&s->f, payload);
    mapio__wal_place_t pl;
    assert_int_equal(mapio__wal_place(&s->f, s->next, size, &pl), 0);
    if (mapio__wal_segno(&s->f, pl.frame_lsn) >= NSEG)
        return 0;
    if (pl.pad_lsn != 0) {
        sim_frame_t *p = push(s);
        p->lsn = pl.pad_lsn;
        p->pad = 1;
        p->size = (uint32_t)(S - mapio__wal_seg_off(&s->f, pl.pad_lsn));
        p->wlen = (uint32_t)mapio__wal_round_up(MAPIO__WAL_FRAME_HDR, s->f.align);
        p->used = MAPIO__WAL_FRAME_HDR;
    }
    sim_frame_t *b = push(s);
    b->lsn = pl.frame_lsn;
    b->size = b->wlen = (uint32_t)size;
    b->used = (uint32_t)(MAPIO__WAL_FRAME_HDR + payload);
    b->nrec = nrec;
    memcpy(b->lens, lens, sizeof lens);
    s->next = pl.next_lsn;
    return 1;
}

static void sim_encode(sim_t *s, sim_frame_t *f)
{
    f->wm = s->durable;
    f->bytes = malloc(f->wlen);
    assert_non_null(f->bytes);
    int64_t n;
    if (f->pad) {
        n = mapio__wal_encode_pad(&s->f, f->bytes, f->wlen, f->lsn, f->wm);
    } else {
        unsigned char store[3 * 20000];
        mapio_iovec_t rec[4];
        walt_batch(f->lsn, f->lens, f->nrec, store, rec);
        n = mapio__wal_encode_batch(&s->f, f->bytes, f->wlen, f->lsn, f->wm, rec, f->nrec);
    }
    assert_int_equal(n, f->wlen);
    f->state = ENCODED;
}

/* fdatasync: the cache becomes the disk; the run of written frames from
 * the durable point is acknowledged. */
static void sim_sync(sim_t *s)
{
    memcpy(s->disk, s->cache, IMG);
    while (s->done < s->nfr && s->fr[s->done].state == WRITTEN) {
        s->durable = s->fr[s->done].lsn + s->fr[s->done].size;
        s->done++;
    }
}

/* Run the committers until the log is full or steps run out. */
static void sim_run(sim_t *s, int steps)
{
    size_t first_pending = s->done;
    for (int i = 0; i < steps; i++) {
        size_t pending = 0;
        for (size_t j = first_pending; j < s->nfr; j++)
            pending += s->fr[j].state != WRITTEN;
        uint64_t op = rnd(s, 10);
        if (op < 3 && pending < MAX_IN_FLIGHT) {
            if (!sim_reserve(s))
                return;
        } else if (op < 9 && pending > 0) {
            /* a random frame not yet written moves one step */
            size_t pick = (size_t)rnd(s, pending);
            for (size_t j = first_pending; j < s->nfr; j++)
                if (s->fr[j].state != WRITTEN && pick-- == 0) {
                    if (s->fr[j].state == RESERVED) {
                        sim_encode(s, &s->fr[j]);
                    } else {
                        memcpy(s->cache + s->fr[j].lsn, s->fr[j].bytes, s->fr[j].wlen);
                        s->fr[j].state = WRITTEN;
                    }
                    break;
                }
        } else {
            sim_sync(s);
            first_pending = s->done;
        }
    }
}

/* The crash image: the disk, plus any sector of what was on its way. */
static void sim_crash(sim_t *s)
{
    memcpy(s->tmp, s->cache, IMG);
    for (size_t j = s->done; j < s->nfr; j++)
        if (s->fr[j].state == ENCODED && rnd(s, 2))
            memcpy(s->tmp + s->fr[j].lsn, s->fr[j].bytes, s->fr[j].wlen);
    memcpy(s->img, s->disk, IMG);
    for (size_t i = 0; i < IMG; i += SECTOR)
        if (memcmp(s->tmp + i, s->disk + i, SECTOR) != 0 && rnd(s, 2))
            memcpy(s->img + i, s->tmp + i, SECTOR);
}

static int recover(sim_t *s, mapio__wal_policy_t policy, mapio__wal_recovery_t *r)
{
    mapio__wal_seg_in_t segs[NSEG];
    for (uint64_t k = 0; k < NSEG; k++)
        segs[k] = (mapio__wal_seg_in_t){ k, s->img + k * S, S };
    return mapio__wal_recover(&s->f, segs, NSEG, mapio__wal_first_lsn(&s->f, 0), policy, r);
}

static sim_frame_t *find(sim_t *s, uint64_t lsn)
{
    size_t lo = 0, hi = s->nfr;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->fr[mid].lsn < lsn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->nfr && s->fr[lo].lsn == lsn ? &s->fr[lo] : NULL;
}

/* Replay [first frame, end) of the image as the log would: every frame is
 * one the writer encoded, byte for byte, and the scan stops exactly at end
 * (or hands over to the segment end is the first frame of). Returns how
 * many frames. */
static size_t replay(sim_t *s, uint64_t end)
{
    size_t n = 0;
    for (uint64_t k = 0; mapio__wal_first_lsn(&s->f, k) < end; k++) {
        uint32_t align = 0;
        assert_int_equal(mapio__wal_seghdr_check(&s->f, s->img + k * S, S, k, &align), 0);
        mapio__wal_scan_t sc;
        assert_int_equal(
            mapio__wal_scan_init(&sc, &s->f, k, align, s->img + k * S, S, MAPIO__WAL_SEGHDR_SIZE),
            0);
        mapio__wal_frame_t fr;
        while (mapio__wal_scan_next(&sc, &fr)) {
            assert_true(fr.lsn < end);
            sim_frame_t *w = find(s, fr.lsn);
            assert_non_null(w);
            assert_false(w->pad);
            assert_int_not_equal(w->state, RESERVED);
            assert_int_equal(fr.size, w->size);
            assert_memory_equal(fr.hdr, w->bytes, w->used);
            assert_true(walt_frame_is(&fr, w->lens, w->nrec));
            n++;
        }
        if (sc.end != MAPIO__WAL_END_CLEAN) {
            assert_true(mapio__wal_scan_end_lsn(&sc) == end);
            break;
        }
    }
    return n;
}

/* The log's next life after recovery r: the range erased (frame areas
 * only: segment headers stay), the image durable, appending at the end. */
static void sim_restart(sim_t *s, const mapio__wal_recovery_t *r)
{
    for (uint64_t lsn = r->erase_lo; lsn < r->erase_hi;) {
        uint64_t off = mapio__wal_seg_off(&s->f, lsn);
        if (off < MAPIO__WAL_SEGHDR_SIZE) {
            lsn += MAPIO__WAL_SEGHDR_SIZE - off;
            continue;
        }
        uint64_t seg_end = lsn - off + S, stop = r->erase_hi < seg_end ? r->erase_hi : seg_end;
        memset(s->img + lsn, 0, (size_t)(stop - lsn));
        lsn = stop;
    }
    memcpy(s->disk, s->img, IMG);
    memcpy(s->cache, s->img, IMG);
    size_t keep = 0;
    while (keep < s->nfr && s->fr[keep].lsn < r->end_lsn)
        keep++;
    for (size_t j = keep; j < s->nfr; j++)
        free(s->fr[j].bytes);
    for (size_t j = 0; j < keep; j++)
        s->fr[j].state = WRITTEN;
    s->nfr = s->done = keep;
    s->next = s->durable = r->end_lsn;
}

static void crash_recovery_never_loses_an_acknowledged_frame(void **state)
{
    (void)state;
    uint64_t torn = 0, clean = 0, lives = 0, frames = 0, past_hole = 0;
    for (uint32_t block = 0; block <= 4096; block += 4096)
        for (uint64_t seed = 1; seed <= 150; seed++) {
            sim_t s;
            sim_init(&s, block, seed * 2 + (block != 0));
            for (int life = 0; life < 4; life++) {
                sim_run(&s, 40 + (int)rnd(&s, 400));
                uint64_t acked = s.durable;
                sim_crash(&s);
                mapio__wal_recovery_t r;
                int rc = recover(&s, MAPIO__WAL_TOLERATE_TAIL, &r);
                if (rc != 0 || r.end_lsn < acked)
                    print_error(
                        "seed %llu block %u life %d: rc %d verdict %s end %llu acked %llu\n",
                        (unsigned long long)seed, block, life, rc,
                        mapio__wal_verdict_name(r.verdict), (unsigned long long)r.end_lsn,
                        (unsigned long long)acked);
                assert_int_equal(rc, 0);
                assert_int_not_equal(r.verdict, MAPIO__WAL_CORRUPT);
                assert_true(r.end_lsn >= acked);
                assert_true(r.erase_lo == r.end_lsn && r.erase_hi >= r.erase_lo);
                assert_true(r.later.frames == 0 || r.later.max_wm <= r.end_lsn);
                size_t n = replay(&s, r.end_lsn);
                assert_true(n == r.frames);
                frames += n;
                torn += r.verdict == MAPIO__WAL_TORN;
                clean += r.verdict == MAPIO__WAL_CLEAN;
                past_hole += r.later.frames > 0;
                lives++;
                /* The same image under the other policies. */
                mapio__wal_recovery_t r2;
                assert_int_equal(recover(&s, MAPIO__WAL_POINT_IN_TIME, &r2), 0);
                assert_true(r2.end_lsn == r.end_lsn);
                assert_int_equal(recover(&s, MAPIO__WAL_ABSOLUTE, &r2),
                                 r.verdict == MAPIO__WAL_CLEAN ? 0 : MAPIO__WAL_EBADMSG);
                sim_restart(&s, &r);
            }
            sim_free(&s);
        }
    print_message("model: %llu lives, %llu torn (%llu with frames past the end), %llu clean, "
                  "%llu frames replayed\n",
                  (unsigned long long)lives, (unsigned long long)torn,
                  (unsigned long long)past_hole, (unsigned long long)clean,
                  (unsigned long long)frames);
    /* Every kind was exercised. */
    assert_true(torn > lives / 4 && clean > 0 && past_hole > lives / 10);
}

static void damaged_acknowledged_frame_is_found(void **state)
{
    (void)state;
    uint64_t corrupt = 0, runs = 0;
    for (uint32_t block = 0; block <= 4096; block += 4096)
        for (uint64_t seed = 1; seed <= 300; seed++) {
            sim_t s;
            sim_init(&s, block, 1000 + seed * 2 + (block != 0));
            sim_run(&s, 100 + (int)rnd(&s, 400));
            sim_crash(&s);
            if (s.done == 0) {
                sim_free(&s);
                continue;
            }
            /* One byte of an acknowledged frame's header or payload. */
            size_t vi = (size_t)rnd(&s, s.done);
            sim_frame_t *v = &s.fr[vi];
            s.img[v->lsn + rnd(&s, v->used)] ^= (unsigned char)(1 + rnd(&s, 255));
            int proof = 0;
            for (size_t j = vi + 1; j < s.nfr; j++) {
                sim_frame_t *g = &s.fr[j];
                if (g->state != RESERVED && g->wm > v->lsn &&
                    memcmp(s.img + g->lsn, g->bytes, g->used) == 0)
                    proof = 1;
            }
            mapio__wal_recovery_t r;
            int rc = recover(&s, MAPIO__WAL_TOLERATE_TAIL, &r);
            assert_true(r.end_lsn == v->lsn);
            assert_int_equal(r.verdict, proof ? MAPIO__WAL_CORRUPT : MAPIO__WAL_TORN);
            assert_int_equal(rc, proof ? MAPIO__WAL_EBADMSG : 0);
            assert_int_equal(recover(&s, MAPIO__WAL_POINT_IN_TIME, &r), 0);
            assert_true(r.end_lsn == v->lsn);
            assert_int_equal(recover(&s, MAPIO__WAL_ABSOLUTE, &r), MAPIO__WAL_EBADMSG);
            size_t batches = 0;
            for (size_t j = 0; j < vi; j++)
                batches += !s.fr[j].pad;
            assert_true(replay(&s, r.end_lsn) == batches && r.frames == batches);
            corrupt += proof;
            runs++;
            sim_free(&s);
        }
    print_message("model: %llu damaged images, %llu proved corrupt\n", (unsigned long long)runs,
                  (unsigned long long)corrupt);
    assert_true(corrupt > runs / 2); /* the usual case: later frames vouch for it */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crash_recovery_never_loses_an_acknowledged_frame),
        cmocka_unit_test(damaged_acknowledged_frame_is_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
