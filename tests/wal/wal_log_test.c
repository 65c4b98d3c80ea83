/*
 * tests/wal/wal_log_test.c - the log (mapio/wal.h) at work, on the backend
 * MAPIO_BACKEND names: batches appended and read back after reopening,
 * concurrent appenders acknowledged in LSN order, rotation across many
 * segments, truncation (deleted and recycled segments), the iterator on a
 * live log, O_DIRECT and a switch between modes, the recovery policies on
 * damaged logs, the idle watermark frame, and bad arguments to every call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "walog.h"

#define SEG ((uint64_t)64 << 10)

struct pending {
    mapio_wal_req_t req;
    wl_batch_t b;
    uint64_t lsn;
    int done;
    int64_t result;
};

static uint64_t last_acked_lsn;
static int out_of_order;

static void on_durable(mapio_wal_req_t *req)
{
    struct pending *p = req->data;
    p->result = req->result;
    p->done = 1;
    if (req->result == 0) {
        if (req->lsn <= last_acked_lsn)
            out_of_order = 1;
        last_acked_lsn = req->lsn;
    }
}

static mapio_wal_t *open_log(mapio_engine_t *eng, const char *dir, unsigned flags)
{
    mapio_wal_t *wal;
    mapio_wal_opts_t o = { .segment_size = SEG, .flags = flags | MAPIO_WAL_CREATE };
    assert_int_equal(mapio_wal_new(&wal, eng, dir, &o), 0);
    return wal;
}

/* Append p's batch, polling while the log is full. */
static void append(mapio_engine_t *eng, mapio_wal_t *wal, struct pending *p)
{
    p->req.data = p;
    p->done = 0;
    int err;
    while ((err = mapio_wal_append(wal, &p->req, p->b.rec, p->b.n, on_durable)) == MAPIO_EAGAIN)
        assert_true(mapio_engine_poll(eng, 1) >= 0);
    assert_int_equal(err, 0);
    p->lsn = p->req.lsn;
    assert_true(p->lsn != 0);
}

/* ---- appended, reopened, read back ---------------------------------------------------------- */

static void roundtrip(void **state)
{
    (void)state;
    char *dir = tu_path("log");
    enum { N = 3000 };
    static struct pending p[N];
    uint64_t seed = 7;
    last_acked_lsn = 0;
    out_of_order = 0;
    for (int life = 0; life < 2; life++) {
        mapio_engine_t *eng = wl_engine();
        mapio_wal_t *wal = open_log(eng, dir, 0);
        mapio_wal_info_t info;
        assert_int_equal(mapio_wal_info(wal, &info), 0);
        assert_int_equal(info.recovered, MAPIO_WAL_END_CLEAN);
        assert_int_equal(info.segment_size, SEG);
        int from = life * (N / 2), to = from + N / 2;
        for (int i = from; i < to; i++) {
            wl_batch(&p[i].b, (uint64_t)i + 1, 4, 300, &seed);
            append(eng, wal, &p[i]);
            /* The ticket is the frame's LSN; records follow its header. */
            assert_true(i == 0 || p[i].lsn > p[i - 1].lsn);
            if (i % 16 == 0)
                assert_true(mapio_engine_poll(eng, 0) >= 0);
        }
        for (int i = from; i < to; i++)
            wl_poll_until(eng, &p[i].done);
        for (int i = from; i < to; i++)
            assert_int_equal(p[i].result, 0);
        assert_false(out_of_order);
        assert_int_equal(mapio_wal_info(wal, &info), 0);
        assert_true(info.durable_lsn > p[to - 1].lsn);
        assert_int_equal(info.appended, (uint64_t)(to - from));
        assert_true(info.segments > 3); /* 64 KiB segments: it rotated */
        assert_int_equal(mapio_wal_free(wal), 0);
        assert_int_equal(mapio_engine_free(eng), 0);
    }
    wl_seen_t s;
    wl_scan(dir, NULL, N, &s);
    assert_int_equal(s.open_err, 0);
    assert_int_equal(s.iter_err, 0);
    assert_int_equal(s.info.recovered, MAPIO_WAL_END_CLEAN);
    assert_false(s.bad_order);
    assert_int_equal(s.foreign, 0);
    for (int i = 0; i < N; i++)
        assert_true(wl_has(&s, (uint64_t)i + 1, p[i].b.n, p[i].lsn));
    wl_seen_free(&s);
    free(dir);
}

/* Record i of a batch is at lsn + 32 + the sum over j < i of 4 + len_j. */
static void record_lsns(void **state)
{
    (void)state;
    char *dir = tu_path("lsns");
    mapio_engine_t *eng = wl_engine();
    mapio_wal_t *wal = open_log(eng, dir, 0);
    struct pending p;
    uint64_t seed = 3;
    wl_batch(&p.b, 1, 8, 100, &seed);
    p.b.n = 5;
    append(eng, wal, &p);
    wl_poll_until(eng, &p.done);
    assert_int_equal(p.result, 0);
    mapio_wal_iter_t *it;
    assert_int_equal(mapio_wal_iter_new(&it, wal, 0), 0);
    uint64_t want = p.lsn + 32;
    mapio_wal_record_t r;
    for (unsigned i = 0; i < p.b.n; i++) {
        assert_int_equal(mapio_wal_iter_next(it, &r), 1);
        assert_int_equal(r.lsn, want);
        assert_int_equal(r.batch_lsn, p.lsn);
        assert_int_equal(r.index, i);
        assert_int_equal(r.count, p.b.n);
        assert_int_equal(r.next_lsn, p.req.end_lsn);
        assert_int_equal(r.len, p.b.rec[i].iov_len);
        assert_memory_equal(r.data, p.b.rec[i].iov_base, r.len);
        want += 4 + r.len;
    }
    assert_int_equal(mapio_wal_iter_next(it, &r), 0);
    mapio_wal_iter_free(it);
    /* From a record's LSN: that record first. */
    uint64_t third = p.lsn + 32 + 8 + p.b.rec[0].iov_len + p.b.rec[1].iov_len;
    assert_int_equal(mapio_wal_iter_new(&it, wal, third), 0);
    assert_int_equal(mapio_wal_iter_next(it, &r), 1);
    assert_int_equal(r.index, 2);
    mapio_wal_iter_free(it);
    assert_int_equal(mapio_wal_free(wal), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(dir);
}

/* ---- many appending threads ----------------------------------------------------------------- */

#define THREADS 8
#define PER 400

struct appender {
    mapio_wal_t *wal;
    unsigned id;
    struct pending *p;
    _Atomic int *left;
};

static void *append_thread(void *arg)
{
    struct appender *a = arg;
    uint64_t seed = a->id * 77 + 1;
    for (unsigned i = 0; i < PER; i++) {
        struct pending *p = &a->p[i];
        wl_batch(&p->b, (uint64_t)a->id * PER + i + 1, 3, 200, &seed);
        p->req.data = p;
        int err;
        while ((err = mapio_wal_append(a->wal, &p->req, p->b.rec, p->b.n, on_durable)) ==
               MAPIO_EAGAIN)
            tu_sleep_ms(1);
        assert_int_equal(err, 0);
        p->lsn = p->req.lsn;
    }
    atomic_fetch_sub(a->left, 1);
    return NULL;
}

static void threads(void **state)
{
    (void)state;
    char *dir = tu_path("threads");
    mapio_engine_t *eng = wl_engine();
    mapio_wal_t *wal = open_log(eng, dir, 0);
    static struct pending p[THREADS * PER];
    memset(p, 0, sizeof p);
    last_acked_lsn = 0;
    out_of_order = 0;
    struct appender a[THREADS];
    pthread_t t[THREADS];
    _Atomic int left = THREADS;
    for (unsigned i = 0; i < THREADS; i++) {
        a[i] = (struct appender){ wal, i, p + i * PER, &left };
        assert_int_equal(pthread_create(&t[i], NULL, append_thread, &a[i]), 0);
    }
    /* This thread polls: callbacks run here, so on_durable needs no lock. */
    while (atomic_load(&left) > 0)
        assert_true(mapio_engine_poll(eng, 1) >= 0);
    for (unsigned i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (unsigned i = 0; i < THREADS * PER; i++)
        wl_poll_until(eng, &p[i].done);
    for (unsigned i = 0; i < THREADS * PER; i++)
        assert_int_equal(p[i].result, 0);
    assert_false(out_of_order);
    /* Tickets are distinct. */
    mapio_metrics_t m;
    assert_int_equal(mapio_engine_metrics(eng, &m), 0);
    assert_int_equal(mapio_wal_free(wal), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    wl_seen_t s;
    wl_scan(dir, NULL, THREADS * PER, &s);
    assert_int_equal(s.open_err, 0);
    assert_int_equal(s.iter_err, 0);
    assert_false(s.bad_order);
    for (unsigned i = 0; i < THREADS * PER; i++)
        assert_true(wl_has(&s, i + 1, p[i].b.n, p[i].lsn));
    wl_seen_free(&s);
    /* Fewer syncs than batches: they were shared. */
    print_message("%u batches, %llu syncs\n", THREADS * PER, (unsigned long long)m.sync);
    free(dir);
}

/* ---- truncation --------------------------------------------------------------------------- */

static int trunc_done;
static int64_t trunc_result;

static void on_truncated(mapio_wal_req_t *req)
{
    trunc_result = req->result;
    trunc_done = 1;
}

static void truncate_recycle(void **state)
{
    (void)state;
    char *dir = tu_path("trunc");
    mapio_engine_t *eng = wl_engine();
    mapio_wal_t *wal;
    mapio_wal_opts_t o = { .segment_size = SEG, .flags = MAPIO_WAL_CREATE, .spares = 2 };
    assert_int_equal(mapio_wal_new(&wal, eng, dir, &o), 0);
    enum { N = 1500 };
    static struct pending p[N];
    uint64_t seed = 11;
    for (int i = 0; i < N; i++) {
        wl_batch(&p[i].b, (uint64_t)i + 1, 2, 400, &seed);
        append(eng, wal, &p[i]);
        if (i % 8 == 0)
            assert_true(mapio_engine_poll(eng, 0) >= 0);
    }
    for (int i = 0; i < N; i++)
        wl_poll_until(eng, &p[i].done);
    size_t before = wl_count(dir, ".wal");
    assert_true(before > 8);
    /* Everything below batch 1000 is checkpointed. */
    uint64_t cut = p[1000].lsn;
    mapio_wal_req_t tr;
    trunc_done = 0;
    assert_int_equal(mapio_wal_truncate_before(wal, &tr, cut, on_truncated), 0);
    wl_poll_until(eng, &trunc_done);
    assert_int_equal(trunc_result, 0);
    mapio_wal_info_t info;
    assert_int_equal(mapio_wal_info(wal, &info), 0);
    assert_true(info.first_lsn <= cut);
    assert_true(info.first_lsn > p[0].lsn);
    assert_int_equal(wl_count(dir, ".wal.free"), 2); /* kept for reuse: spares = 2 */
    assert_true(wl_count(dir, ".wal") < before);
    /* Below the kept log: gone. */
    mapio_wal_iter_t *it;
    assert_int_equal(mapio_wal_iter_new(&it, wal, p[0].lsn), MAPIO_ENOENT);
    /* From 0: the first kept batch is the oldest one left. */
    assert_int_equal(mapio_wal_iter_new(&it, wal, 0), 0);
    mapio_wal_record_t r;
    assert_int_equal(mapio_wal_iter_next(it, &r), 1);
    assert_true(r.batch_lsn >= info.first_lsn && r.batch_lsn <= cut);
    /* An iterator keeps its segment: truncating past it leaves it there. */
    trunc_done = 0;
    assert_int_equal(mapio_wal_truncate_before(wal, &tr, p[N - 1].lsn, on_truncated), 0);
    wl_poll_until(eng, &trunc_done);
    assert_int_equal(trunc_result, 0);
    mapio_wal_info_t info2;
    assert_int_equal(mapio_wal_info(wal, &info2), 0);
    assert_true(info2.first_lsn <= r.batch_lsn);
    assert_int_equal(mapio_wal_iter_free(it), 0);
    /* Appending goes on; the recycled segments are used again. */
    for (int i = 0; i < 300; i++) {
        append(eng, wal, &p[i]);
        if (i % 8 == 0)
            assert_true(mapio_engine_poll(eng, 0) >= 0);
    }
    for (int i = 0; i < 300; i++)
        wl_poll_until(eng, &p[i].done);
    assert_true(wl_count(dir, ".wal.free") < 2);
    trunc_done = 0;
    assert_int_equal(mapio_wal_truncate_before(wal, &tr, p[299].lsn, on_truncated), 0);
    wl_poll_until(eng, &trunc_done);
    assert_int_equal(trunc_result, 0);
    assert_int_equal(mapio_wal_info(wal, &info), 0);
    assert_int_equal(mapio_wal_free(wal), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    /* Reopened: it starts at the oldest segment left. */
    wl_seen_t s;
    wl_scan(dir, NULL, N, &s);
    assert_int_equal(s.open_err, 0);
    assert_int_equal(s.iter_err, 0);
    assert_int_equal(s.info.first_lsn, info.first_lsn);
    assert_true(wl_has(&s, 300, p[299].b.n, p[299].lsn));
    wl_seen_free(&s);
    free(dir);
}

/* A log closed inside a recycled segment ends before the segment's old
 * frames: a clean end, which even ABSOLUTE accepts (it once read as a torn
 * tail, so ABSOLUTE refused every log that recycles). */
static void recycled_tail_is_clean(void **state)
{
    (void)state;
    char *dir = tu_path("recycled-tail");
    mapio_engine_t *eng = wl_engine();
    mapio_wal_t *wal;
    mapio_wal_opts_t o = { .segment_size = SEG, .flags = MAPIO_WAL_CREATE, .spares = 1 };
    assert_int_equal(mapio_wal_new(&wal, eng, dir, &o), 0);
    enum { N = 3000 };
    static struct pending p[N];
    uint64_t seed = 5;
    int i = 0;
    /* Four segments of batches, all checkpointed but the last: the oldest
     * goes to the recycle pool. */
    for (; i < N && p[i > 0 ? i - 1 : 0].req.end_lsn < 4 * SEG; i++) {
        wl_batch(&p[i].b, (uint64_t)i + 1, 2, 500, &seed);
        append(eng, wal, &p[i]);
        wl_poll_until(eng, &p[i].done);
    }
    mapio_wal_req_t tr;
    trunc_done = 0;
    assert_int_equal(mapio_wal_truncate_before(wal, &tr, p[i - 1].lsn, on_truncated), 0);
    wl_poll_until(eng, &trunc_done);
    assert_int_equal(trunc_result, 0);
    assert_true(i < N);
    assert_int_equal(wl_count(dir, ".wal.free"), 1);
    /* On until the recycled segment is in use as the one written (the
     * spare made ahead goes first), a few batches into it. */
    uint64_t into = p[i - 1].req.end_lsn / SEG + 2;
    int in_it = 0;
    for (; i < N && in_it < 3; i++) {
        wl_batch(&p[i].b, (uint64_t)i + 1, 2, 500, &seed);
        append(eng, wal, &p[i]);
        wl_poll_until(eng, &p[i].done);
        assert_int_equal(p[i].result, 0);
        in_it += p[i].lsn / SEG == into;
    }
    assert_int_equal(in_it, 3);
    assert_int_equal(wl_count(dir, ".wal.free"), 0);
    assert_int_equal(mapio_wal_free(wal), 0);

    mapio_wal_opts_t ab = { .recovery = MAPIO_WAL_ABSOLUTE };
    assert_int_equal(mapio_wal_new(&wal, eng, dir, &ab), 0);
    mapio_wal_info_t info;
    assert_int_equal(mapio_wal_info(wal, &info), 0);
    assert_int_equal(info.recovered, MAPIO_WAL_END_CLEAN);
    assert_int_equal(info.erased_bytes, 0);
    assert_true(info.recovered_lsn >= p[i - 1].req.end_lsn);
    assert_int_equal(mapio_wal_free(wal), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(dir);
}

/* Without recycling, truncated segments are deleted. */
static void truncate_delete(void **state)
{
    (void)state;
    char *dir = tu_path("trunc-del");
    mapio_engine_t *eng = wl_engine();
    mapio_wal_t *wal = open_log(eng, dir, MAPIO_WAL_NO_RECYCLE);
    enum { N = 600 };
    static struct pending p[N];
    uint64_t seed = 12;
    for (int i = 0; i < N; i++) {
        wl_batch(&p[i].b, (uint64_t)i + 1, 2, 400, &seed);
        append(eng, wal, &p[i]);
    }
    for (int i = 0; i < N; i++)
        wl_poll_until(eng, &p[i].done);
    mapio_wal_req_t tr;
    trunc_done = 0;
    assert_int_equal(mapio_wal_truncate_before(wal, &tr, p[N - 1].lsn, on_truncated), 0);
    wl_poll_until(eng, &trunc_done);
    assert_int_equal(trunc_result, 0);
    assert_int_equal(wl_count(dir, ".wal.free"), 0);
    assert_true(wl_count(dir, ".wal") <= 3); /* the last, its spare, maybe one more */
    assert_int_equal(mapio_wal_free(wal), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(dir);
}

/* ---- the iterator on a live log ------------------------------------------------------------ */

static void iterator_tails(void **state)
{
    (void)state;
    char *dir = tu_path("tail");
    mapio_engine_t *eng = wl_engine();
    mapio_wal_t *wal = open_log(eng, dir, 0);
    mapio_wal_iter_t *it;
    assert_int_equal(mapio_wal_iter_new(&it, wal, 0), 0);
    mapio_wal_record_t r;
    assert_int_equal(mapio_wal_iter_next(it, &r), 0);
    static struct pending p[400];
    uint64_t seed = 5, seen = 0;
    for (int round = 0; round < 20; round++) {
        for (int k = 0; k < 20; k++) {
            struct pending *q = &p[round * 20 + k];
            wl_batch(&q->b, (uint64_t)(round * 20 + k) + 1, 1, 500, &seed);
            append(eng, wal, q);
        }
        for (int k = 0; k < 20; k++)
            wl_poll_until(eng, &p[round * 20 + k].done);
        int rc;
        while ((rc = mapio_wal_iter_next(it, &r)) == 1) {
            uint64_t id;
            uint32_t index;
            assert_true(wl_rec_check(r.data, r.len, &id, &index));
            assert_int_equal(id, seen + 1);
            seen++;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(seen, (uint64_t)(round + 1) * 20);
    }
    /* Resuming after a batch: next_lsn. */
    mapio_wal_iter_t *it2;
    assert_int_equal(mapio_wal_iter_new(&it2, wal, p[199].req.end_lsn), 0);
    assert_int_equal(mapio_wal_iter_next(it2, &r), 1);
    assert_int_equal(r.batch_lsn, p[200].lsn);
    assert_int_equal(mapio_wal_iter_free(it2), 0);
    /* The log cannot be freed under an iterator. */
    assert_int_equal(mapio_wal_free(wal), MAPIO_EBUSY);
    assert_int_equal(mapio_wal_iter_free(it), 0);
    assert_int_equal(mapio_wal_free(wal), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(dir);
}

/* ---- barriers ----------------------------------------------------------------------------- */

static void barrier(void **state)
{
    (void)state;
    char *dir = tu_path("barrier");
    mapio_engine_t *eng = wl_engine();
    mapio_wal_t *wal = open_log(eng, dir, 0);
    static struct pending p[50];
    uint64_t seed = 9;
    for (int i = 0; i < 50; i++) {
        wl_batch(&p[i].b, (uint64_t)i + 1, 2, 100, &seed);
        append(eng, wal, &p[i]);
    }
    struct pending b = { 0 };
    b.req.data = &b;
    assert_int_equal(mapio_wal_append(wal, &b.req, NULL, 0, on_durable), 0);
    wl_poll_until(eng, &b.done);
    assert_int_equal(b.result, 0);
    /* Every batch before it is durable. */
    for (int i = 0; i < 50; i++)
        assert_true(p[i].done && p[i].result == 0);
    assert_true(b.req.lsn >= p[49].req.end_lsn);
    assert_int_equal(b.req.end_lsn, 0);
    /* On an idle log too. */
    b.done = 0;
    assert_int_equal(mapio_wal_append(wal, &b.req, NULL, 0, on_durable), 0);
    wl_poll_until(eng, &b.done);
    assert_int_equal(b.result, 0);
    assert_int_equal(mapio_wal_free(wal), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(dir);
}

/* ---- O_DIRECT, and switching modes ---------------------------------------------------------- */

static void direct_and_switch(void **state)
{
    (void)state;
    char *dir = tu_path("direct");
    static struct pending p[900];
    uint64_t seed = 13;
    unsigned modes[3] = { MAPIO_WAL_DIRECT, 0, MAPIO_WAL_DIRECT };
    for (int life = 0; life < 3; life++) {
        mapio_engine_t *eng = wl_engine();
        mapio_wal_t *wal;
        mapio_wal_opts_t o = { .segment_size = SEG, .flags = MAPIO_WAL_CREATE | modes[life] };
        int err = mapio_wal_new(&wal, eng, dir, &o);
        if (err == MAPIO_EINVAL && life == 0) {
            /* A file system without O_DIRECT (tmpfs). */
            assert_int_equal(mapio_engine_free(eng), 0);
            free(dir);
            skip();
        }
        assert_int_equal(err, 0);
        mapio_wal_info_t info;
        assert_int_equal(mapio_wal_info(wal, &info), 0);
        assert_true(modes[life] ? info.block_size >= 512 : info.block_size == 0);
        for (int i = life * 300; i < life * 300 + 300; i++) {
            wl_batch(&p[i].b, (uint64_t)i + 1, 3, 300, &seed);
            append(eng, wal, &p[i]);
            /* O_DIRECT: every batch starts on a block of its own. */
            if (modes[life])
                assert_int_equal(p[i].lsn % info.block_size, 0);
        }
        for (int i = life * 300; i < life * 300 + 300; i++) {
            wl_poll_until(eng, &p[i].done);
            assert_int_equal(p[i].result, 0);
        }
        assert_int_equal(mapio_wal_free(wal), 0);
        assert_int_equal(mapio_engine_free(eng), 0);
    }
    wl_seen_t s;
    wl_scan(dir, NULL, 900, &s);
    assert_int_equal(s.open_err, 0);
    assert_int_equal(s.iter_err, 0);
    assert_false(s.bad_order);
    for (int i = 0; i < 900; i++)
        assert_true(wl_has(&s, (uint64_t)i + 1, p[i].b.n, p[i].lsn));
    wl_seen_free(&s);
    free(dir);
}

/* ---- recovery on damaged logs ---------------------------------------------------------------- */

/* A log of n batches in small segments; returns their LSNs in lsn[]. */
static void make_log(const char *dir, int n, uint64_t *lsn, unsigned flags)
{
    mapio_engine_t *eng = wl_engine();
    mapio_wal_t *wal = open_log(eng, dir, flags);
    struct pending *p = calloc((size_t)n, sizeof *p);
    uint64_t seed = 21;
    for (int i = 0; i < n; i++) {
        wl_batch(&p[i].b, (uint64_t)i + 1, 2, 300, &seed);
        append(eng, wal, &p[i]);
    }
    for (int i = 0; i < n; i++) {
        wl_poll_until(eng, &p[i].done);
        assert_int_equal(p[i].result, 0);
        lsn[i] = p[i].lsn;
    }
    assert_int_equal(mapio_wal_free(wal), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(p);
}

static char *seg_path(const char *dir, uint64_t lsn)
{
    char name[40];
    snprintf(name, sizeof name, "%016llx.wal", (unsigned long long)(lsn / SEG));
    return wl_join(dir, name);
}

/* Flip one byte at LSN lsn + k in place. */
static void flip(const char *dir, uint64_t lsn, uint64_t k)
{
    char *path = seg_path(dir, lsn);
    size_t n;
    unsigned char *img = wl_slurp(path, &n);
    img[(lsn % SEG) + k] ^= 0x40;
    assert_int_equal(tu_write_file(path, img, n), 0);
    free(img);
    free(path);
}

static int open_with(const char *dir, unsigned policy, mapio_wal_info_t *info)
{
    mapio_engine_t *eng = wl_engine();
    mapio_wal_t *wal;
    mapio_wal_opts_t o = { .recovery = policy };
    int err = mapio_wal_new(&wal, eng, dir, &o);
    if (err == 0) {
        assert_int_equal(mapio_wal_info(wal, info), 0);
        assert_int_equal(mapio_wal_free(wal), 0);
    }
    assert_int_equal(mapio_engine_free(eng), 0);
    return err;
}

static void corruption_policies(void **state)
{
    (void)state;
    enum { N = 400 };
    uint64_t lsn[N];
    char *dir = tu_path("corrupt");
    make_log(dir, N, lsn, 0);
    /* Damage an acknowledged batch in the middle: later frames vouch for it. */
    flip(dir, lsn[200], 40);
    char *copy = tu_path("corrupt-pit");
    wl_copy_dir(dir, copy);
    mapio_wal_info_t info;
    assert_int_equal(open_with(dir, MAPIO_WAL_TOLERATE_TAIL, &info), MAPIO_EBADMSG);
    assert_int_equal(open_with(dir, MAPIO_WAL_ABSOLUTE, &info), MAPIO_EBADMSG);
    /* The refusals changed nothing: point-in-time then ends the log there. */
    assert_int_equal(open_with(copy, MAPIO_WAL_POINT_IN_TIME, &info), 0);
    assert_int_equal(info.recovered, MAPIO_WAL_END_CORRUPT);
    assert_int_equal(info.recovered_lsn, lsn[200]);
    assert_true(info.erased_bytes > 0);
    /* ... and durably so: reopened, the end is clean. */
    assert_int_equal(open_with(copy, MAPIO_WAL_TOLERATE_TAIL, &info), 0);
    assert_int_equal(info.recovered, MAPIO_WAL_END_CLEAN);
    wl_seen_t s;
    wl_scan(copy, NULL, N, &s);
    assert_int_equal(s.iter_err, 0);
    for (int i = 0; i < N; i++)
        assert_true(wl_has(&s, (uint64_t)i + 1, i < 200 ? s.count[i + 1] : 0, 0) &&
                    (i < 200) == (s.recs[i + 1] > 0));
    wl_seen_free(&s);
    free(dir);
    free(copy);
}

static void torn_tail(void **state)
{
    (void)state;
    enum { N = 300 };
    uint64_t lsn[N];
    char *dir = tu_path("torn");
    make_log(dir, N, lsn, MAPIO_WAL_NO_IDLE_MARK);
    /* The last batch and the closing mark after it, torn: no later frame
     * vouches for either. */
    flip(dir, lsn[N - 1], 3);
    char *copy = tu_path("torn-abs");
    wl_copy_dir(dir, copy);
    mapio_wal_info_t info;
    assert_int_equal(open_with(copy, MAPIO_WAL_ABSOLUTE, &info), MAPIO_EBADMSG);
    free(copy);
    /* Without the closing mark the last batch would look torn; with it the
     * damage is proved: corruption. */
    assert_int_equal(open_with(dir, MAPIO_WAL_TOLERATE_TAIL, &info), MAPIO_EBADMSG);
    free(dir);

    /* A real torn tail: garbage where an unacknowledged batch was going. */
    dir = tu_path("torn2");
    make_log(dir, N, lsn, MAPIO_WAL_NO_IDLE_MARK);
    assert_int_equal(open_with(dir, MAPIO_WAL_TOLERATE_TAIL, &info), 0);
    uint64_t end = info.recovered_lsn;
    char *path = seg_path(dir, end);
    size_t n;
    unsigned char *img = wl_slurp(path, &n);
    memset(img + end % SEG, 0x5a, 100);
    assert_int_equal(tu_write_file(path, img, n), 0);
    free(img);
    free(path);
    copy = tu_path("torn2-abs");
    wl_copy_dir(dir, copy);
    assert_int_equal(open_with(copy, MAPIO_WAL_ABSOLUTE, &info), MAPIO_EBADMSG);
    free(copy);
    assert_int_equal(open_with(dir, MAPIO_WAL_TOLERATE_TAIL, &info), 0);
    assert_int_equal(info.recovered, MAPIO_WAL_END_TORN);
    assert_int_equal(info.recovered_lsn, end);
    assert_true(info.erased_bytes >= 32);
    /* Erased: clean from now on, and every batch is still there. */
    assert_int_equal(open_with(dir, MAPIO_WAL_ABSOLUTE, &info), 0);
    wl_seen_t s;
    wl_scan(dir, NULL, N, &s);
    for (int i = 0; i < N; i++)
        assert_true(s.recs[i + 1] > 0);
    wl_seen_free(&s);
    free(dir);
}

/* ---- the idle watermark frame -----------------------------------------------------------------
 */

static void idle_mark(void **state)
{
    (void)state;
    char *dir = tu_path("idle");
    mapio_engine_t *eng = wl_engine();
    mapio_wal_t *wal;
    mapio_wal_opts_t o = { .segment_size = SEG, .flags = MAPIO_WAL_CREATE, .idle_mark_ms = 20 };
    assert_int_equal(mapio_wal_new(&wal, eng, dir, &o), 0);
    struct pending p;
    uint64_t seed = 1;
    wl_batch(&p.b, 1, 1, 64, &seed);
    append(eng, wal, &p);
    wl_poll_until(eng, &p.done);
    mapio_wal_info_t a, b;
    assert_int_equal(mapio_wal_info(wal, &a), 0);
    /* Idle: a watermark-only frame follows, by itself. */
    uint64_t t0 = tu_now_ns();
    do {
        assert_true(mapio_engine_poll(eng, 10) >= 0);
        assert_int_equal(mapio_wal_info(wal, &b), 0);
    } while (b.durable_lsn == a.durable_lsn && tu_now_ns() - t0 < 5000000000ull);
    assert_int_equal(b.durable_lsn, a.durable_lsn + 32);
    /* Once: nothing more follows it. */
    tu_sleep_ms(60);
    assert_true(mapio_engine_poll(eng, 10) >= 0);
    assert_int_equal(mapio_wal_info(wal, &a), 0);
    assert_int_equal(a.durable_lsn, b.durable_lsn);
    assert_int_equal(mapio_engine_inflight(eng), 0);
    assert_int_equal(mapio_wal_free(wal), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(dir);
}

/* ---- bad arguments --------------------------------------------------------------------------- */

static void noop_cb(mapio_wal_req_t *req)
{
    (void)req;
}

static int busy_free_result = 1;

static void free_from_cb(mapio_wal_req_t *req)
{
    busy_free_result = mapio_wal_free(req->wal);
}

struct poller {
    mapio_engine_t *eng;
    _Atomic int stop;
};

static void *poll_thread(void *arg)
{
    struct poller *pl = arg;
    while (!atomic_load(&pl->stop))
        mapio_engine_poll(pl->eng, 5);
    return NULL;
}

static void bad_args(void **state)
{
    (void)state;
    mapio_engine_t *eng = wl_engine();
    char *dir = tu_path("bad");
    mapio_wal_t *wal = NULL;
    mapio_wal_opts_t o = { .flags = MAPIO_WAL_CREATE };
    /* mapio_wal_new */
    assert_int_equal(mapio_wal_new(NULL, eng, dir, &o), MAPIO_EINVAL);
    assert_int_equal(mapio_wal_new(&wal, NULL, dir, &o), MAPIO_EINVAL);
    assert_int_equal(mapio_wal_new(&wal, eng, NULL, &o), MAPIO_EINVAL);
    assert_int_equal(mapio_wal_new(&wal, eng, "", &o), MAPIO_ENOENT);
    assert_null(wal);
    mapio_wal_opts_t bad[] = {
        { .segment_size = 4096 },
        { .segment_size = (uint64_t)96 << 10 },
        { .segment_size = (uint64_t)8 << 30 },
        { .flags = 1u << 20 },
        { .recovery = 3 },
        { .spares = 65 },
        { .block_size = 1000 },
        { .block_size = 256 },
        { .block_size = 8192 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bad[i].flags |= MAPIO_WAL_CREATE;
        assert_int_equal(mapio_wal_new(&wal, eng, dir, &bad[i]), MAPIO_EINVAL);
    }
    char *missing = tu_path("missing");
    assert_int_equal(mapio_wal_new(&wal, eng, missing, NULL), MAPIO_ENOENT);
    assert_false(tu_exists(missing));
    /* An empty directory without MAPIO_WAL_CREATE: no log. */
    assert_int_equal(tu_mkdir(missing), 0);
    assert_int_equal(mapio_wal_new(&wal, eng, missing, NULL), MAPIO_ENOENT);
    char *longp = malloc(MAPIO_PATH_MAX + 10);
    memset(longp, 'a', MAPIO_PATH_MAX + 9);
    longp[MAPIO_PATH_MAX + 9] = '\0';
    assert_int_equal(mapio_wal_new(&wal, eng, longp, &o), MAPIO_ENAMETOOLONG);
    free(longp);

    assert_int_equal(mapio_wal_new(&wal, eng, dir, &o), 0);
    /* One handle at a time. */
    mapio_wal_t *two;
    assert_int_equal(mapio_wal_new(&two, eng, dir, &o), MAPIO_EBUSY);
    /* Another segment size for an existing log. */
    mapio_wal_opts_t other = { .segment_size = SEG };
    assert_int_equal(mapio_wal_free(wal), 0);
    assert_int_equal(mapio_wal_new(&two, eng, dir, &other), MAPIO_EINVAL);
    assert_int_equal(mapio_wal_new(&wal, eng, dir, NULL), 0);

    /* mapio_wal_append */
    mapio_wal_req_t req;
    unsigned char rec[64] = { 0 };
    mapio_iovec_t iov = { rec, sizeof rec }, nul = { NULL, 5 };
    assert_int_equal(mapio_wal_append(NULL, &req, &iov, 1, noop_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_wal_append(wal, NULL, &iov, 1, noop_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_wal_append(wal, &req, &iov, 1, NULL), MAPIO_EINVAL);
    assert_int_equal(mapio_wal_append(wal, &req, NULL, 1, noop_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_wal_append(wal, &req, &nul, 1, noop_cb), MAPIO_EFAULT);
    assert_int_equal(mapio_wal_append(wal, &req, &iov, 1u << 30, noop_cb), MAPIO_EINVAL);
    mapio_iovec_t huge = { rec, (size_t)64 << 20 }; /* bigger than a segment */
    assert_int_equal(mapio_wal_append(wal, &req, &huge, 1, noop_cb), MAPIO_EFBIG);
    /* In flight: refused until its callback ran. */
    assert_int_equal(mapio_wal_append(wal, &req, &iov, 1, noop_cb), 0);
    assert_int_equal(mapio_wal_append(wal, &req, &iov, 1, noop_cb), MAPIO_EBUSY);
    assert_true(mapio_engine_run(eng) >= 1);
    /* mapio_wal_free from a callback of the log: refused. */
    assert_int_equal(mapio_wal_append(wal, &req, &iov, 1, free_from_cb), 0);
    assert_true(mapio_engine_run(eng) >= 1);
    assert_int_equal(busy_free_result, MAPIO_EBUSY);
    /* mapio_wal_truncate_before, _info, iterators */
    assert_int_equal(mapio_wal_truncate_before(NULL, &req, 1, noop_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_wal_truncate_before(wal, NULL, 1, noop_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_wal_truncate_before(wal, &req, 1, NULL), MAPIO_EINVAL);
    mapio_wal_info_t info;
    assert_int_equal(mapio_wal_info(NULL, &info), MAPIO_EINVAL);
    assert_int_equal(mapio_wal_info(wal, NULL), MAPIO_EINVAL);
    mapio_wal_iter_t *it;
    mapio_wal_record_t r;
    assert_int_equal(mapio_wal_iter_new(NULL, wal, 0), MAPIO_EINVAL);
    assert_int_equal(mapio_wal_iter_new(&it, NULL, 0), MAPIO_EINVAL);
    assert_int_equal(mapio_wal_iter_new(&it, wal, 1), MAPIO_ENOENT);
    assert_int_equal(mapio_wal_iter_next(NULL, &r), MAPIO_EINVAL);
    assert_int_equal(mapio_wal_iter_new(&it, wal, 0), 0);
    assert_int_equal(mapio_wal_iter_next(it, NULL), MAPIO_EINVAL);
    assert_int_equal(mapio_wal_iter_free(it), 0);
    assert_int_equal(mapio_wal_iter_free(NULL), 0);

    /* The log's appends when max_inflight are in flight. */
    assert_int_equal(mapio_wal_free(wal), 0);
    mapio_wal_opts_t one = { .max_inflight = 1 };
    assert_int_equal(mapio_wal_new(&wal, eng, dir, &one), 0);
    mapio_wal_req_t r2;
    assert_int_equal(mapio_wal_append(wal, &req, &iov, 1, noop_cb), 0);
    assert_int_equal(mapio_wal_append(wal, &r2, &iov, 1, noop_cb), MAPIO_EAGAIN);
    assert_true(mapio_engine_run(eng) >= 1);

    /* new and free while another thread polls: refused. */
    struct poller pl = { eng, 0 };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, poll_thread, &pl), 0);
    int e1 = 0, e2 = 0;
    for (int i = 0; i < 200 && (e1 != MAPIO_EBUSY || e2 != MAPIO_EBUSY); i++) {
        e1 = mapio_wal_free(wal);
        if (e1 == 0)
            break; /* the poller was between polls: fine, reopen below */
        e2 = mapio_wal_new(&two, eng, missing, &o);
        if (e2 == 0)
            assert_int_equal(mapio_wal_free(two), 0);
        tu_sleep_ms(1);
    }
    atomic_store(&pl.stop, 1);
    pthread_join(t, NULL);
    if (e1 != 0) {
        assert_int_equal(e1, MAPIO_EBUSY);
        assert_int_equal(mapio_wal_free(wal), 0);
    }
    assert_int_equal(mapio_wal_free(NULL), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(missing);
    free(dir);
}

int main(void)
{
    if (wl_backend() == NULL) {
        fprintf(stderr, "wal-log: set MAPIO_BACKEND to the backend under test\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roundtrip),
        cmocka_unit_test(record_lsns),
        cmocka_unit_test(threads),
        cmocka_unit_test(truncate_recycle),
        cmocka_unit_test(recycled_tail_is_clean),
        cmocka_unit_test(truncate_delete),
        cmocka_unit_test(iterator_tails),
        cmocka_unit_test(barrier),
        cmocka_unit_test(direct_and_switch),
        cmocka_unit_test(corruption_policies),
        cmocka_unit_test(torn_tail),
        cmocka_unit_test(idle_mark),
        cmocka_unit_test(bad_args),
    };
    return cmocka_run_group_tests_name(wl_backend(), tests, NULL, NULL);
}
