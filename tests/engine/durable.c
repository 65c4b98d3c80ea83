/*
 * tests/engine/durable.c - group commit, sticky sync errors, fault injection,
 * O_DIRECT, O_DSYNC and fallocate. Runs once per backend (MAPIO_BACKEND).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mapio.h"
#include "engine/req.h"
#include "engine/os.h"
#include "testutil.h"

static const char *backend;

struct ctx {
    mapio_engine_t *eng;
    mapio_file_t file;
    char *path;
};

static int setup_opts(void **state, const mapio_engine_opts_t *extra)
{
    struct ctx *c = calloc(1, sizeof *c);
    mapio_engine_opts_t o = extra != NULL ? *extra : (mapio_engine_opts_t){ 0 };
    o.backend = backend;
    if (mapio_engine_new(&c->eng, &o) != 0)
        return -1;
    c->path = tu_path("durable");
    if (mapio_file_open_blocking(&c->file, c->eng, c->path, 0, 0) != 0)
        return -1;
    *state = c;
    return 0;
}

static int setup(void **state)
{
    return setup_opts(state, NULL);
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    mapio_file_close_blocking(&c->file);
    mapio_engine_free(c->eng);
    unlink(c->path);
    free(c->path);
    free(c);
    return 0;
}

struct rec {
    int calls;
    int64_t result;
};

static void rec_cb(mapio_req_t *req)
{
    struct rec *r = req->data;
    r->calls++;
    r->result = req->result;
}

static int64_t commit1(struct ctx *c, const void *buf, size_t len, uint64_t off)
{
    mapio_write_t w = { buf, len, off };
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    int err = mapio_commit(&c->file, &req, &w, 1, rec_cb);
    if (err != 0)
        return err;
    while (r.calls == 0)
        assert_true(mapio_engine_poll(c->eng, -1) >= 0);
    assert_int_equal(r.calls, 1);
    return r.result;
}

/* ---- merge ------------------------------------------------------------------ */

/* Apply the merged pieces to img; also check they are sorted and disjoint. */
static unsigned apply_merged(const mapio_write_t *w, unsigned n, unsigned char *img,
                             struct mapio__span *pieces, unsigned cap)
{
    unsigned count = 0;
    uint64_t from = 0, prev_end = 0;
    struct mapio__span sp;
    while (mapio__merge_next(w, n, from, &sp)) {
        assert_true(sp.len > 0);
        assert_true(count == 0 || sp.offset >= prev_end);
        memcpy(img + sp.offset, sp.src, sp.len);
        if (count < cap)
            pieces[count] = sp;
        count++;
        prev_end = from = sp.offset + sp.len;
    }
    return count;
}

/* The obvious reference: apply the writes in order. */
static void apply_naive(const mapio_write_t *w, unsigned n, unsigned char *img)
{
    for (unsigned i = 0; i < n; i++)
        memcpy(img + w[i].offset, w[i].buf, w[i].len);
}

static void check_merge(const mapio_write_t *w, unsigned n, unsigned expect_pieces)
{
    unsigned char a[256], b[256];
    struct mapio__span pieces[32];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    unsigned got = apply_merged(w, n, a, pieces, 32);
    apply_naive(w, n, b);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(got, expect_pieces);
}

static void merge_table(void **state)
{
    (void)state;
    static unsigned char A[100], B[100], C[100];
    memset(A, 'a', sizeof A);
    memset(B, 'b', sizeof B);
    memset(C, 'c', sizeof C);
    /* no writes */
    check_merge(NULL, 0, 0);
    /* one */
    check_merge((mapio_write_t[]){ { A, 10, 5 } }, 1, 1);
    /* disjoint, and out of order */
    check_merge((mapio_write_t[]){ { A, 10, 50 }, { B, 10, 0 } }, 2, 2);
    /* adjacent are not merged */
    check_merge((mapio_write_t[]){ { A, 10, 0 }, { B, 10, 10 } }, 2, 2);
    /* full overlap: the later replaces */
    check_merge((mapio_write_t[]){ { A, 20, 10 }, { B, 20, 10 } }, 2, 1);
    /* identical offsets, different lengths */
    check_merge((mapio_write_t[]){ { A, 30, 10 }, { B, 10, 10 } }, 2, 2);
    /* partial overlap at the start and at the end */
    check_merge((mapio_write_t[]){ { A, 20, 10 }, { B, 20, 0 } }, 2, 2);
    check_merge((mapio_write_t[]){ { A, 20, 10 }, { B, 20, 20 } }, 2, 2);
    /* later inside earlier: three pieces */
    check_merge((mapio_write_t[]){ { A, 60, 0 }, { B, 10, 20 } }, 2, 3);
    /* earlier inside later: one piece */
    check_merge((mapio_write_t[]){ { A, 10, 20 }, { B, 60, 0 } }, 2, 1);
    /* spanning several */
    check_merge((mapio_write_t[]){ { A, 10, 0 }, { B, 10, 20 }, { C, 40, 5 } }, 3, 2);
    /* zero length is ignored */
    check_merge((mapio_write_t[]){ { A, 0, 0 }, { B, 10, 3 }, { C, 0, 5 } }, 3, 1);
    /* alternating layers */
    check_merge((mapio_write_t[]){ { A, 50, 0 }, { B, 10, 10 }, { C, 10, 30 }, { A, 5, 12 } }, 4,
                7);
    /* later wins byte for byte: check the winner of a piece */
    struct mapio__span sp;
    mapio_write_t w2[] = { { A, 50, 0 }, { B, 10, 10 } };
    assert_true(mapio__merge_next(w2, 2, 12, &sp));
    assert_int_equal(sp.offset, 12);
    assert_int_equal(sp.len, 8);
    assert_int_equal(sp.src[0], 'b');
}

static void merge_fuzz(void **state)
{
    (void)state;
    uint64_t seed = 42;
    static unsigned char bufs[8][64];
    for (int i = 0; i < 8; i++)
        memset(bufs[i], 'A' + i, 64);
    for (int round = 0; round < 5000; round++) {
        mapio_write_t w[8];
        unsigned n = (unsigned)(tu_rand(&seed) % 9);
        for (unsigned i = 0; i < n; i++) {
            w[i].buf = bufs[i];
            w[i].len = tu_rand(&seed) % 40;
            w[i].offset = tu_rand(&seed) % 200;
        }
        unsigned char a[256] = { 0 }, b[256] = { 0 };
        struct mapio__span pieces[1];
        apply_merged(w, n, a, pieces, 0);
        apply_naive(w, n, b);
        assert_memory_equal(a, b, sizeof a);
    }
}

/* ---- group commit -------------------------------------------------------------- */

static void lone_committer(void **state)
{
    struct ctx *c = *state;
    char rec[4096];
    tu_fill(rec, sizeof rec, 1);
    assert_int_equal(commit1(c, rec, sizeof rec, 0), 0);
    char back[4096];
    assert_int_equal(mapio_read_at_blocking(&c->file, back, sizeof back, 0), 4096);
    assert_memory_equal(rec, back, sizeof rec);
    mapio_metrics_t m;
    assert_int_equal(mapio_file_metrics(&c->file, &m), 0);
    assert_int_equal(m.sync_background_loops, 1);
    assert_int_equal(m.sync, 1);
    assert_int_equal(m.sync_delayed, 1);
    assert_int_equal(m.write, 1); /* one merged piece */
    assert_int_equal(m.write_bytes, 4096);
    assert_int_equal(m.commit, 1);
    /* n = 0: a pure barrier still waits for a sync. */
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_commit(&c->file, &req, NULL, 0, rec_cb), 0);
    mapio_engine_run(c->eng);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.result, 0);
    assert_int_equal(mapio_file_metrics(&c->file, &m), 0);
    assert_int_equal(m.sync_background_loops, 2);
}

/* A disk's cache flush, 2 ms: how many committers a sync gathers depends
 * on how long it runs beside their writes, and tmpfs or a disk with a
 * write-back cache answers fdatasync in microseconds (then one sync
 * each is right, and the bound below would fail on such machines). */
static int64_t slow_flush(void *ctx, const mapio_fault_call_t *call)
{
    (void)ctx;
    if (call->op == MAPIO_OP_FDATASYNC)
        tu_sleep_ms(2);
    return MAPIO_FAULT_PASS;
}

#define COMMITTERS 128
static void many_committers_share_few_syncs(void **state)
{
    struct ctx *c = *state;
    mapio_fault_hooks_t hooks = { .before = slow_flush };
    assert_int_equal(mapio_fault_set(c->eng, &hooks), 0);
    static mapio_req_t reqs[COMMITTERS];
    static struct rec recs[COMMITTERS];
    static mapio_write_t w[COMMITTERS][2];
    static unsigned char data[COMMITTERS][512];
    memset(recs, 0, sizeof recs);
    for (int i = 0; i < COMMITTERS; i++) {
        tu_fill(data[i], sizeof data[i], (uint64_t)i);
        /* Two overlapping writes per batch: the second wins on its half. */
        w[i][0] = (mapio_write_t){ data[i], 512, (uint64_t)i * 512 };
        w[i][1] = (mapio_write_t){ data[i] + 256, 256, (uint64_t)i * 512 + 256 };
        reqs[i].data = &recs[i];
        assert_int_equal(mapio_commit(&c->file, &reqs[i], w[i], 2, rec_cb), 0);
    }
    assert_int_equal(mapio_engine_run(c->eng), COMMITTERS);
    for (int i = 0; i < COMMITTERS; i++) {
        assert_int_equal(recs[i].calls, 1);
        assert_int_equal(recs[i].result, 0);
    }
    mapio_metrics_t m;
    assert_int_equal(mapio_file_metrics(&c->file, &m), 0);
    assert_int_equal(m.commit, COMMITTERS);
    assert_int_equal(m.sync_delayed, 2 * COMMITTERS);
    assert_true(m.sync_background_loops >= 1);
    /* Shared: at least 8 committers a sync on average, not one each. How
     * many depends on how fast the writes come beside the syncs: on the
     * pool backends a sync runs in its own lane while writes go on. */
    print_message("%d committers, %llu syncs\n", COMMITTERS,
                  (unsigned long long)m.sync_background_loops);
    assert_true(m.sync_background_loops <= COMMITTERS / 8);
    assert_int_equal(m.sync, m.sync_background_loops);
    unsigned char back[512];
    for (int i = 0; i < COMMITTERS; i += 17) {
        assert_int_equal(mapio_read_at_blocking(&c->file, back, 512, (uint64_t)i * 512), 512);
        assert_memory_equal(back, data[i], 512);
    }
}

/* The order of events, recorded by the fault hooks: a commit is never
 * acknowledged by a sync that started before its writes completed. */
#define EV_MAX 20000
struct events {
    pthread_mutex_t lock;
    _Atomic uint64_t clock;
    uint64_t write_done[EV_MAX]; /* by record index (offset / 256) */
    int nsync;
    uint64_t sync_start[EV_MAX], sync_end[EV_MAX];
};
static struct events ev;

static int64_t ev_before(void *ctx, const mapio_fault_call_t *call)
{
    (void)ctx;
    if (call->op == MAPIO_OP_FDATASYNC) {
        pthread_mutex_lock(&ev.lock);
        ev.sync_start[ev.nsync] = atomic_fetch_add(&ev.clock, 1) + 1;
        ev.sync_end[ev.nsync] = UINT64_MAX;
        ev.nsync++;
        pthread_mutex_unlock(&ev.lock);
    }
    return MAPIO_FAULT_PASS;
}

static int64_t ev_after(void *ctx, const mapio_fault_call_t *call, int64_t res)
{
    (void)ctx;
    uint64_t t = atomic_fetch_add(&ev.clock, 1) + 1;
    pthread_mutex_lock(&ev.lock);
    if (call->op == MAPIO_OP_WRITE && call->offset / 256 < EV_MAX)
        ev.write_done[call->offset / 256] = t;
    if (call->op == MAPIO_OP_FDATASYNC) {
        /* The earliest still-open sync is the one ending (one runs at a time). */
        for (int i = 0; i < ev.nsync; i++)
            if (ev.sync_end[i] == UINT64_MAX) {
                ev.sync_end[i] = t;
                break;
            }
    }
    pthread_mutex_unlock(&ev.lock);
    return res;
}

struct acked {
    mapio_req_t req;
    mapio_write_t w;
    unsigned char buf[256];
    uint64_t ack;
    int calls;
};

static void ack_cb(mapio_req_t *req)
{
    struct acked *a = req->data;
    assert_int_equal(req->result, 0);
    a->ack = atomic_fetch_add(&ev.clock, 1) + 1;
    a->calls++;
}

static void acknowledged_only_after_a_later_sync(void **state)
{
    struct ctx *c = *state;
    memset(&ev, 0, sizeof ev);
    pthread_mutex_init(&ev.lock, NULL);
    mapio_fault_hooks_t h = { .before = ev_before, .after = ev_after };
    assert_int_equal(mapio_fault_set(c->eng, &h), 0);
    enum { N = 600 };
    static struct acked a[N];
    memset(a, 0, sizeof a);
    /* Waves of different sizes, submitted while earlier syncs are running. */
    int next = 0;
    uint64_t seed = 7;
    while (next < N || mapio_engine_inflight(c->eng) > 0) {
        int wave = (int)(tu_rand(&seed) % 40);
        for (int k = 0; k < wave && next < N; k++, next++) {
            a[next].req.data = &a[next];
            a[next].w = (mapio_write_t){ a[next].buf, sizeof a[next].buf, (uint64_t)next * 256 };
            assert_int_equal(mapio_commit(&c->file, &a[next].req, &a[next].w, 1, ack_cb), 0);
        }
        assert_true(mapio_engine_poll(c->eng, next < N ? 0 : -1) >= 0);
    }
    assert_int_equal(mapio_fault_set(c->eng, NULL), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(a[i].calls, 1);
        uint64_t wrote = ev.write_done[i];
        assert_true(wrote != 0 && wrote < a[i].ack);
        bool covered = false;
        for (int s = 0; s < ev.nsync && !covered; s++)
            covered = ev.sync_start[s] > wrote && ev.sync_end[s] < a[i].ack;
        if (!covered)
            fail_msg("record %d (written at %llu, acked at %llu) had no sync started after it", i,
                     (unsigned long long)wrote, (unsigned long long)a[i].ack);
    }
    print_message("%d committers, %d syncs\n", N, ev.nsync);
    assert_true(ev.nsync < N / 4); /* and syncs were shared */
    pthread_mutex_destroy(&ev.lock);
}

static int setup_delay(void **state)
{
    mapio_engine_opts_t o = { .commit_delay_us = 20000, .commit_max_batch = 4 };
    return setup_opts(state, &o);
}

static void delay_and_max_batch(void **state)
{
    struct ctx *c = *state;
    static mapio_req_t reqs[8];
    static struct rec recs[8];
    static mapio_write_t w[8];
    static char data[8][64];
    memset(recs, 0, sizeof recs);
    /* 4 = max_batch: the sync need not wait for the delay; 8 make two batches. */
    for (int i = 0; i < 8; i++) {
        w[i] = (mapio_write_t){ data[i], 64, (uint64_t)i * 64 };
        reqs[i].data = &recs[i];
        assert_int_equal(mapio_commit(&c->file, &reqs[i], &w[i], 1, rec_cb), 0);
    }
    assert_int_equal(mapio_engine_run(c->eng), 8);
    for (int i = 0; i < 8; i++)
        assert_int_equal(recs[i].result, 0);
    /* A lone committer with a delay still completes (the timer fires). */
    assert_int_equal(commit1(c, "x", 1, 4096), 0);
    mapio_metrics_t m;
    assert_int_equal(mapio_engine_metrics(c->eng, &m), 0);
    assert_int_equal(m.commit, 9);
    assert_true(m.sync_background_loops >= 3 && m.sync_background_loops <= 9);
}

/* ---- sticky sync errors ---------------------------------------------------- */

static void failed_sync_is_sticky(void **state)
{
    struct ctx *c = *state;
    assert_int_equal(commit1(c, "ok", 2, 0), 0);
    /* The next fdatasync runs but reports EIO (as a real failure would). */
    mapio_fault_rule_t rule = {
        .ops = 1u << MAPIO_OP_FDATASYNC, .nth = 1, .times = 1, .error = MAPIO_EIO, .after_call = 1
    };
    assert_int_equal(mapio_fault_rules(c->eng, &rule, 1), 0);
    static mapio_req_t reqs[16];
    static struct rec recs[16];
    static mapio_write_t w[16];
    static char data[16][32];
    memset(recs, 0, sizeof recs);
    for (int i = 0; i < 16; i++) {
        w[i] = (mapio_write_t){ data[i], 32, 100 + (uint64_t)i * 32 };
        reqs[i].data = &recs[i];
        assert_int_equal(mapio_commit(&c->file, &reqs[i], &w[i], 1, rec_cb), 0);
    }
    assert_int_equal(mapio_engine_run(c->eng), 16);
    for (int i = 0; i < 16; i++) {
        assert_int_equal(recs[i].calls, 1);
        assert_int_equal(recs[i].result, MAPIO_EIO); /* nobody told "durable" */
    }
    assert_int_equal(mapio_fault_rule_hits(c->eng, 0), 1);
    assert_int_equal(mapio_fault_rules(c->eng, NULL, 0), 0);
    /* From now on, every sync on this file fails, though the disk is fine. */
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    mapio_write_t one = { "z", 1, 0 };
    assert_int_equal(mapio_commit(&c->file, &req, &one, 1, rec_cb), MAPIO_EIO);
    assert_int_equal(mapio_sync_data(&c->file, &req, rec_cb), MAPIO_EIO);
    assert_int_equal(mapio_sync_all(&c->file, &req, rec_cb), MAPIO_EIO);
    assert_int_equal(mapio_sync_data_blocking(&c->file), MAPIO_EIO);
    assert_int_equal(r.calls, 0);
    /* Plain writes still work; durability claims do not. */
    assert_int_equal(mapio_write_at_blocking(&c->file, "w", 1, 0), 1);
    mapio_metrics_t m;
    assert_int_equal(mapio_file_metrics(&c->file, &m), 0);
    assert_int_equal(m.errors, 17); /* 16 commits + the failed sync */
    /* Closing and reopening starts afresh. */
    assert_int_equal(mapio_file_close_blocking(&c->file), 0);
    assert_int_equal(mapio_file_open_blocking(&c->file, c->eng, c->path, 0, 0), 0);
    assert_int_equal(commit1(c, "again", 5, 0), 0);
}

static void plain_sync_failure_is_sticky_too(void **state)
{
    struct ctx *c = *state;
    mapio_fault_rule_t rule = {
        .ops = 1u << MAPIO_OP_FDATASYNC, .nth = 1, .times = 1, .error = MAPIO_EIO
    };
    assert_int_equal(mapio_fault_rules(c->eng, &rule, 1), 0);
    assert_int_equal(mapio_sync_data_blocking(&c->file), MAPIO_EIO);
    assert_int_equal(mapio_fault_rules(c->eng, NULL, 0), 0);
    assert_int_equal(mapio_sync_data_blocking(&c->file), MAPIO_EIO);
    assert_int_equal(commit1(c, "x", 1, 0), MAPIO_EIO);
}

/* ---- faults are invisible when they should be ------------------------------- */

static void eintr_and_short_writes_are_resumed(void **state)
{
    struct ctx *c = *state;
    mapio_fault_rule_t rules[] = {
        { .ops = 1u << MAPIO_OP_WRITE, .nth = 2, .times = 3, .error = MAPIO_EINTR },
        { .ops = 1u << MAPIO_OP_WRITE, .nth = 1, .times = 0, .error = 0, .max_len = 1000 },
        { .ops = 1u << MAPIO_OP_READ, .nth = 1, .times = 0, .error = 0, .max_len = 777 },
    };
    assert_int_equal(mapio_fault_rules(c->eng, rules, 3), 0);
    static unsigned char data[10000], back[10000];
    tu_fill(data, sizeof data, 3);
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_write_at(&c->file, &req, data, sizeof data, 5, rec_cb), 0);
    mapio_engine_run(c->eng);
    assert_int_equal(r.result, 10000);
    memset(&r, 0, sizeof r);
    assert_int_equal(mapio_read_at(&c->file, &req, back, sizeof back, 5, rec_cb), 0);
    mapio_engine_run(c->eng);
    assert_int_equal(r.result, 10000);
    assert_memory_equal(data, back, sizeof data);
    /* Commits are resumed the same way. */
    assert_int_equal(commit1(c, data, 3000, 20000), 0);
    assert_int_equal(mapio_fault_rule_hits(c->eng, 0), 3);
    /* 10000 in pieces of 1000: 10 calls, 9 resumed; the read: 13 calls, 12 resumed;
     * the commit: 3 calls, 2 resumed. EINTRs: 3 retries. */
    mapio_metrics_t m;
    assert_int_equal(mapio_fault_rules(c->eng, NULL, 0), 0);
    assert_int_equal(mapio_engine_metrics(c->eng, &m), 0);
    assert_int_equal(m.short_io_resumed, 9 + 12 + 2);
    assert_int_equal(m.retries, 3);
    assert_int_equal(m.errors, 0);
}

static void enospc_reaches_the_caller(void **state)
{
    struct ctx *c = *state;
    mapio_fault_rule_t rule = {
        .ops = 1u << MAPIO_OP_WRITE, .nth = 1, .times = 1, .error = MAPIO_ENOSPC
    };
    assert_int_equal(mapio_fault_rules(c->eng, &rule, 1), 0);
    assert_int_equal(commit1(c, "abc", 3, 0), MAPIO_ENOSPC);
    mapio_metrics_t m;
    assert_int_equal(mapio_file_metrics(&c->file, &m), 0);
    assert_int_equal(m.sync, 0); /* the failed write never joined a sync */
    assert_int_equal(mapio_write_at_blocking(&c->file, "abc", 3, 0), 3);
    assert_int_equal(mapio_fault_rules(c->eng, NULL, 0), 0);
    assert_int_equal(commit1(c, "abc", 3, 0), 0); /* ENOSPC is not sticky */
    mapio_fault_rule_t bad = { .error = 0, .max_len = 0 };
    assert_int_equal(mapio_fault_rules(c->eng, &bad, 1), MAPIO_EINVAL);
    assert_int_equal(mapio_fault_rules(NULL, &bad, 1), MAPIO_EINVAL);
    assert_int_equal(mapio_fault_set(NULL, NULL), MAPIO_EINVAL);
}

static void commit_bad_arguments(void **state)
{
    struct ctx *c = *state;
    mapio_req_t req;
    char b[4];
    mapio_write_t w[2] = { { b, 4, 0 }, { NULL, 4, 8 } };
    assert_int_equal(mapio_commit(&c->file, &req, w, 2, rec_cb), MAPIO_EFAULT);
    mapio_write_t o = { b, 4, UINT64_MAX - 1 };
    assert_int_equal(mapio_commit(&c->file, &req, &o, 1, rec_cb), MAPIO_EOVERFLOW);
    assert_int_equal(mapio_commit(&c->file, &req, NULL, 1, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_commit(&c->file, &req, w, 1, NULL), MAPIO_EINVAL);
    assert_int_equal(mapio_commit(NULL, &req, w, 1, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_commit(&c->file, &req, w, MAPIO_IOV_MAX + 1, rec_cb), MAPIO_EINVAL);
    mapio_file_t ro;
    assert_int_equal(mapio_file_open_blocking(&ro, c->eng, c->path, 0, MAPIO_OPEN_READ_ONLY), 0);
    assert_int_equal(mapio_commit(&ro, &req, w, 1, rec_cb), MAPIO_EBADF);
    assert_int_equal(mapio_fallocate(&ro, &req, 0, 10, 0, rec_cb), MAPIO_EBADF);
    mapio_file_close_blocking(&ro);
    assert_int_equal(mapio_write_at_flags(&c->file, &req, b, 4, 0, 1u << 9, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_fallocate(&c->file, &req, 0, 10, 1u << 9, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_fallocate(&c->file, &req, 0, 0, 0, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_engine_inflight(c->eng), 0);
}

static void free_completes_waiting_commits(void **state)
{
    (void)state;
    mapio_engine_t *eng;
    mapio_engine_opts_t o = { .backend = backend, .commit_delay_us = 1000000 };
    assert_int_equal(mapio_engine_new(&eng, &o), 0);
    char *p = tu_path("freecommit");
    mapio_file_t f;
    assert_int_equal(mapio_file_open_blocking(&f, eng, p, 0, 0), 0);
    static mapio_req_t reqs[50];
    static struct rec recs[50];
    static mapio_write_t w[50];
    static char data[50][100];
    memset(recs, 0, sizeof recs);
    for (int i = 0; i < 50; i++) {
        w[i] = (mapio_write_t){ data[i], 100, (uint64_t)i * 100 };
        reqs[i].data = &recs[i];
        assert_int_equal(mapio_commit(&f, &reqs[i], &w[i], 1, rec_cb), 0);
        if (i == 25)
            mapio_engine_poll(eng, 0); /* some written and waiting on the 1 s delay */
    }
    mapio_engine_free(eng);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(recs[i].calls, 1);
        assert_true(recs[i].result == 0 || recs[i].result == MAPIO_ECANCELED);
    }
    unlink(p);
    free(p);
}

/* ---- O_DSYNC, fallocate, O_DIRECT ------------------------------------------- */

static void dsync_writes_and_fallocate(void **state)
{
    struct ctx *c = *state;
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    char data[5000];
    tu_fill(data, sizeof data, 11);
    assert_int_equal(
        mapio_write_at_flags(&c->file, &req, data, sizeof data, 3, MAPIO_WRITE_DSYNC, rec_cb), 0);
    mapio_engine_run(c->eng);
    assert_int_equal(r.result, 5000);
    char back[5000];
    assert_int_equal(mapio_read_at_blocking(&c->file, back, sizeof back, 3), 5000);
    assert_memory_equal(data, back, sizeof data);

    memset(&r, 0, sizeof r);
    assert_int_equal(mapio_fallocate(&c->file, &req, 0, 1 << 20, 0, rec_cb), 0);
    mapio_engine_run(c->eng);
    if (r.result == MAPIO_ENOTSUP) {
        skip();
        return;
    }
    assert_int_equal(r.result, 0);
    mapio_path_info_t st;
    assert_int_equal(mapio_path_info(c->path, 0, &st), 0);
    assert_int_equal(st.size, 1 << 20);
    memset(&r, 0, sizeof r);
    assert_int_equal(
        mapio_fallocate(&c->file, &req, 1 << 20, 1 << 20, MAPIO_FALLOCATE_KEEP_SIZE, rec_cb), 0);
    mapio_engine_run(c->eng);
    if (r.result == MAPIO_ENOTSUP) {
        /* Wine keeps no allocation size apart from the file size. */
        printf("skip: no preallocation past the end of file here (KEEP_SIZE: %s)\n",
               mapio_strerror((int)r.result));
        skip();
        return;
    }
    assert_int_equal(r.result, 0);
    assert_int_equal(mapio_path_info(c->path, 0, &st), 0);
    assert_int_equal(st.size, 1 << 20);
    assert_true(st.blocks * 512 >= 2 << 20);
}

static int os_calls;
static int64_t counting_pread(mapio_fd_t fd, void *buf, size_t len, uint64_t off)
{
    os_calls++;
    return mapio__os_default.pread(fd, buf, len, off);
}

static void direct_io_alignment(void **state)
{
    struct ctx *c = *state;
    char *p = tu_path("direct");
    mapio_file_t f;
    int err = mapio_file_open_blocking(&f, c->eng, p, 1 << 20, MAPIO_OPEN_DIRECT);
    if (err == MAPIO_EINVAL || err == MAPIO_ENOTSUP) {
        free(p);
        printf("skip: the test directory's file system has no O_DIRECT (%s)\n",
               mapio_strerror(err));
        skip();
        return;
    }
    assert_int_equal(err, 0);
    uint32_t mem = 0, io = 0;
    assert_int_equal(mapio_file_alignment(&f, &mem, &io), 0);
    assert_true(mem >= 1 && (mem & (mem - 1)) == 0);
    assert_true(io >= 512 && (io & (io - 1)) == 0);
    uint32_t bmem, bio;
    assert_int_equal(mapio_file_alignment(&c->file, &bmem, &bio), 0);
    assert_int_equal(bmem, 1);
    assert_int_equal(bio, 1);
    assert_int_equal(mapio_file_alignment(NULL, &bmem, &bio), MAPIO_EINVAL);

    unsigned char *buf = mapio_alloc_aligned(2 * io, 0);
    assert_non_null(buf);
    assert_int_equal((uintptr_t)buf % 4096, 0);
    assert_null(mapio_alloc_aligned(100, 3));
    assert_null(mapio_alloc_aligned(0, 4096));
    tu_fill(buf, 2 * io, 5);

    mapio__os.pread = counting_pread;
    os_calls = 0;
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    /* Misaligned buffer, offset and length: refused before submission. */
    assert_int_equal(mapio_read_at(&f, &req, buf + 1, io, 0, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_read_at(&f, &req, buf, io, 1, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_read_at(&f, &req, buf, io - 1, 0, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_write_at(&f, &req, buf, io, io / 2, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_read_at_blocking(&f, buf, io + 3, 0), MAPIO_EINVAL);
    mapio_iovec_t v[2] = { { buf, io }, { buf + io, 100 } };
    assert_int_equal(mapio_writev_at(&f, &req, v, 2, 0, rec_cb), MAPIO_EINVAL);
    mapio_write_t w = { buf + 8, io, 0 };
    assert_int_equal(mapio_commit(&f, &req, &w, 1, rec_cb), MAPIO_EINVAL);
    assert_int_equal(os_calls, 0);
    assert_int_equal(r.calls, 0);
    mapio__os = mapio__os_default;

    /* Aligned I/O works, group commit included. */
    assert_int_equal(mapio_write_at(&f, &req, buf, 2 * io, io, rec_cb), 0);
    mapio_engine_run(c->eng);
    assert_int_equal(r.result, 2 * io);
    w = (mapio_write_t){ buf, io, 4 * (uint64_t)io };
    memset(&r, 0, sizeof r);
    assert_int_equal(mapio_commit(&f, &req, &w, 1, rec_cb), 0);
    mapio_engine_run(c->eng);
    assert_int_equal(r.result, 0);
    unsigned char *back = mapio_alloc_aligned(2 * io, mem);
    assert_int_equal(mapio_read_at_blocking(&f, back, 2 * io, io), 2 * io);
    assert_memory_equal(buf, back, 2 * io);
    mapio_free_aligned(back);

    /* Many in flight at once (the epoll backend's native AIO path). */
    enum { DEPTH = 48 };
    unsigned char *big = mapio_alloc_aligned((size_t)DEPTH * io, mem);
    unsigned char *got = mapio_alloc_aligned((size_t)DEPTH * io, mem);
    tu_fill(big, (size_t)DEPTH * io, 77);
    assert_int_equal(mapio_write_at_blocking(&f, big, (size_t)DEPTH * io, 0), (int64_t)DEPTH * io);
    static mapio_req_t many[DEPTH];
    static struct rec mr[DEPTH];
    memset(mr, 0, sizeof mr);
    for (int i = 0; i < DEPTH; i++) {
        many[i].data = &mr[i];
        int k = (i * 7) % DEPTH; /* out of order */
        assert_int_equal(
            mapio_read_at(&f, &many[i], got + (size_t)k * io, io, (uint64_t)k * io, rec_cb), 0);
    }
    mapio_engine_run(c->eng);
    for (int i = 0; i < DEPTH; i++)
        assert_int_equal(mr[i].result, io);
    assert_memory_equal(big, got, (size_t)DEPTH * io);
    const char *why = mapio_engine_fallback_reason(c->eng);
    if (why != NULL)
        printf("note: %s\n", why); /* e.g. native AIO unavailable here */
    mapio_free_aligned(big);
    mapio_free_aligned(got);
    mapio_free_aligned(buf);
    mapio_free_aligned(NULL);
    assert_int_equal(mapio_file_close_blocking(&f), 0);
    unlink(p);
    free(p);
}

/* O_DIRECT reads resubmitted from their callbacks, which the engine starts
 * at once instead of with the next poll's batch: each comes back with the
 * bytes of its own block, every round, and nothing is left in flight. */
struct chain {
    mapio_file_t *f;
    unsigned char *buf, *want;
    uint32_t io;
    unsigned block, rounds, bad;
    int *busy;
};

static void chain_cb(mapio_req_t *req)
{
    struct chain *ch = req->data;
    if (req->result != ch->io || memcmp(ch->buf, ch->want + (size_t)ch->block * ch->io, ch->io))
        ch->bad++;
    if (--ch->rounds == 0) {
        (*ch->busy)--;
        return;
    }
    ch->block = (ch->block * 5 + 3) % 64;
    memset(ch->buf, 0, ch->io);
    if (mapio_read_at(ch->f, req, ch->buf, ch->io, (uint64_t)ch->block * ch->io, chain_cb) != 0) {
        ch->bad++;
        (*ch->busy)--;
    }
}

static void direct_reads_resubmitted_from_callbacks(void **state)
{
    struct ctx *c = *state;
    char *p = tu_path("direct-chain");
    mapio_file_t f;
    int err = mapio_file_open_blocking(&f, c->eng, p, 0, MAPIO_OPEN_DIRECT);
    if (err == MAPIO_EINVAL || err == MAPIO_ENOTSUP) {
        free(p);
        printf("skip: the test directory's file system has no O_DIRECT (%s)\n",
               mapio_strerror(err));
        skip();
        return;
    }
    assert_int_equal(err, 0);
    uint32_t mem = 0, io = 0;
    assert_int_equal(mapio_file_alignment(&f, &mem, &io), 0);
    unsigned char *want = mapio_alloc_aligned((size_t)64 * io, mem);
    tu_fill(want, (size_t)64 * io, 41);
    assert_int_equal(mapio_write_at_blocking(&f, want, (size_t)64 * io, 0), (int64_t)64 * io);
    enum { SLOTS = 16, ROUNDS = 40 };
    static struct chain ch[SLOTS];
    static mapio_req_t req[SLOTS];
    int busy = SLOTS;
    for (unsigned i = 0; i < SLOTS; i++) {
        ch[i] = (struct chain){ .f = &f,
                                .buf = mapio_alloc_aligned(io, mem),
                                .want = want,
                                .io = io,
                                .block = i,
                                .rounds = ROUNDS,
                                .busy = &busy };
        req[i].data = &ch[i];
        assert_int_equal(mapio_read_at(&f, &req[i], ch[i].buf, io, (uint64_t)i * io, chain_cb), 0);
    }
    while (busy > 0)
        assert_true(mapio_engine_poll(c->eng, -1) >= 0);
    for (unsigned i = 0; i < SLOTS; i++) {
        assert_int_equal(ch[i].bad, 0);
        assert_int_equal(ch[i].rounds, 0);
        mapio_free_aligned(ch[i].buf);
    }
    assert_int_equal(mapio_engine_inflight(c->eng), 0);
    mapio_metrics_t m;
    assert_int_equal(mapio_file_metrics(&f, &m), 0);
    assert_int_equal(m.read, (uint64_t)SLOTS * ROUNDS);
    mapio_free_aligned(want);
    assert_int_equal(mapio_file_close_blocking(&f), 0);
    unlink(p);
    free(p);
}

int main(void)
{
    backend = getenv("MAPIO_BACKEND");
    if (backend == NULL || backend[0] == '\0') {
        fprintf(stderr, "durable: set MAPIO_BACKEND to the backend under test\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(merge_table),
        cmocka_unit_test(merge_fuzz),
        cmocka_unit_test_setup_teardown(lone_committer, setup, teardown),
        cmocka_unit_test_setup_teardown(many_committers_share_few_syncs, setup, teardown),
        cmocka_unit_test_setup_teardown(acknowledged_only_after_a_later_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(delay_and_max_batch, setup_delay, teardown),
        cmocka_unit_test_setup_teardown(failed_sync_is_sticky, setup, teardown),
        cmocka_unit_test_setup_teardown(plain_sync_failure_is_sticky_too, setup, teardown),
        cmocka_unit_test_setup_teardown(eintr_and_short_writes_are_resumed, setup, teardown),
        cmocka_unit_test_setup_teardown(enospc_reaches_the_caller, setup, teardown),
        cmocka_unit_test_setup_teardown(commit_bad_arguments, setup, teardown),
        cmocka_unit_test(free_completes_waiting_commits),
        cmocka_unit_test_setup_teardown(dsync_writes_and_fallocate, setup, teardown),
        cmocka_unit_test_setup_teardown(direct_io_alignment, setup, teardown),
        cmocka_unit_test_setup_teardown(direct_reads_resubmitted_from_callbacks, setup, teardown),
    };
    return cmocka_run_group_tests_name(backend, tests, NULL, NULL);
}
