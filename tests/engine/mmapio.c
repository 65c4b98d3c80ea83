/*
 * tests/engine/mmapio.c - MMapIO mode: read_at/write_at served from a
 * mapping of exactly `size` bytes, on every backend (MAPIO_BACKEND).
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
#include "mapio/fault.h"
#include "engine/common.h"
#include "testutil.h"

static const char *backend;

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

static int64_t run1(mapio_engine_t *eng, int err, struct rec *r)
{
    assert_int_equal(err, 0);
    while (r->calls == 0)
        assert_true(mapio_engine_poll(eng, -1) >= 0);
    assert_int_equal(r->calls, 1);
    return r->result;
}

static void served_from_the_mapping(void **state)
{
    unsigned mode = *(unsigned *)*state; /* MAPIO_OPEN_MMAP, maybe | _ON_POOL */
    mapio_engine_t *eng;
    mapio_engine_opts_t o = { .backend = backend };
    assert_int_equal(mapio_engine_new(&eng, &o), 0);
    char *p = tu_path("mmapio");
    mapio_file_t f;
    enum { SIZE = 1 << 20 };
    assert_int_equal(mapio_file_open_blocking(&f, eng, p, SIZE, mode), 0);
    assert_int_equal(mapio_file_size(&f), SIZE);
    unsigned char *base = mapio_file_ptr(&f, 0);
    assert_non_null(base);
    assert_ptr_equal(mapio_file_ptr(&f, SIZE - 1), base + SIZE - 1);
    assert_null(mapio_file_ptr(&f, SIZE));

    unsigned char w[5000], r[5000];
    tu_fill(w, sizeof w, 1);
    mapio_req_t req;
    struct rec rr = { 0 };
    req.data = &rr;
    assert_int_equal(run1(eng, mapio_write_at(&f, &req, w, sizeof w, 100, rec_cb), &rr), 5000);
    assert_memory_equal(base + 100, w, sizeof w); /* the memcpy went into the mapping */
    memset(&rr, 0, sizeof rr);
    assert_int_equal(run1(eng, mapio_read_at(&f, &req, r, sizeof r, 100, rec_cb), &rr), 5000);
    assert_memory_equal(r, w, sizeof w);
    /* Reads stop at the mapped size; writes past it fail. */
    memset(&rr, 0, sizeof rr);
    assert_int_equal(run1(eng, mapio_read_at(&f, &req, r, 100, SIZE - 40, rec_cb), &rr), 40);
    memset(&rr, 0, sizeof rr);
    assert_int_equal(run1(eng, mapio_write_at(&f, &req, w, 100, SIZE - 40, rec_cb), &rr),
                     MAPIO_ERANGE);
    /* Vectored, and the blocking twins. */
    mapio_iovec_t v[2] = { { w, 10 }, { w + 10, 20 } };
    memset(&rr, 0, sizeof rr);
    assert_int_equal(run1(eng, mapio_writev_at(&f, &req, v, 2, 7000, rec_cb), &rr), 30);
    assert_memory_equal(base + 7000, w, 30);
    assert_int_equal(mapio_write_at_blocking(&f, "twin", 4, 9000), 4);
    assert_memory_equal(base + 9000, "twin", 4);
    char t[4];
    assert_int_equal(mapio_read_at_blocking(&f, t, 4, 9000), 4);
    assert_int_equal(mapio_read_at_blocking(&f, t, 4, SIZE), 0);
    /* Group commit on a mapped file, then a plain sync. */
    mapio_write_t batch = { "commit", 6, 20000 };
    memset(&rr, 0, sizeof rr);
    assert_int_equal(run1(eng, mapio_commit(&f, &req, &batch, 1, rec_cb), &rr), 0);
    assert_memory_equal(base + 20000, "commit", 6);
    memset(&rr, 0, sizeof rr);
    assert_int_equal(run1(eng, mapio_sync_data(&f, &req, rec_cb), &rr), 0);
    /* No allocation per operation here either. */
    uint64_t before = mapio__alloc_count();
    for (int i = 0; i < 10000; i++) {
        memset(&rr, 0, sizeof rr);
        assert_int_equal(run1(eng, mapio_read_at(&f, &req, r, 64, (uint64_t)i * 64, rec_cb), &rr),
                         64);
    }
    assert_int_equal(mapio__alloc_count(), before);
    mapio_metrics_t m;
    assert_int_equal(mapio_file_metrics(&f, &m), 0);
    assert_int_equal(m.read, 10000 + 4); /* and 2 async + 2 blocking reads above */
    assert_int_equal(m.errors, 1);
    assert_int_equal(mapio_file_close_blocking(&f), 0);
    assert_null(mapio_file_ptr(&f, 0));

    /* The bytes are in the file. */
    unsigned char back[6];
    assert_int_equal(tu_read_file_at(p, back, 6, 20000), 6);
    assert_memory_equal(back, "commit", 6);

    /* Size 0 maps what the file has; read-only refuses writes. */
    assert_int_equal(mapio_file_open_blocking(&f, eng, p, 0, mode | MAPIO_OPEN_READ_ONLY), 0);
    assert_int_equal(mapio_file_size(&f), SIZE);
    assert_memory_equal((unsigned char *)mapio_file_ptr(&f, 0) + 9000, "twin", 4);
    assert_int_equal(mapio_write_at(&f, &req, w, 10, 0, rec_cb), MAPIO_EBADF);
    assert_int_equal(mapio_file_close_blocking(&f), 0);
    assert_int_equal(mapio_file_open_blocking(&f, eng, p, 0, mode | MAPIO_OPEN_DIRECT),
                     MAPIO_EINVAL);
    assert_int_equal(mapio_file_open_blocking(&f, eng, p, 0, MAPIO_OPEN_MMAP_ON_POOL),
                     MAPIO_EINVAL);
    /* A plain file has no mapping to point into. */
    assert_int_equal(mapio_file_open_blocking(&f, eng, p, 0, 0), 0);
    assert_null(mapio_file_ptr(&f, 0));
    assert_int_equal(mapio_file_close_blocking(&f), 0);
    mapio_engine_free(eng);
    unlink(p);
    free(p);
}

/* ---- where the memcpy runs ----------------------------------------------- */

/* The fault hooks see every copy, on the thread that makes it. */
struct where {
    pthread_mutex_t lock;
    int copies, on_caller;
    pthread_t caller;
};

static int64_t where_before(void *ctx, const mapio_fault_call_t *call)
{
    struct where *w = ctx;
    if (call->op == MAPIO_OP_READ || call->op == MAPIO_OP_WRITE) {
        pthread_mutex_lock(&w->lock);
        w->copies++;
        w->on_caller += pthread_equal(pthread_self(), w->caller) != 0;
        pthread_mutex_unlock(&w->lock);
    }
    return MAPIO_FAULT_PASS;
}

/* A write that must be durable (O_DSYNC file, MAPIO_WRITE_DSYNC) is not
 * left as dirty pages of the mapping when it completes: cachestat(2) sees
 * none dirty or under write-back afterwards; a plain write leaves some. */
static void durable_writes_leave_nothing_dirty(void **state)
{
    unsigned mode = *(unsigned *)*state;
    mapio_engine_t *eng;
    mapio_engine_opts_t o = { .backend = backend };
    assert_int_equal(mapio_engine_new(&eng, &o), 0);
    char *p = tu_path("mmapio-dsync");
    mapio_file_t f;
    enum { SIZE = 1 << 16 };
    assert_int_equal(mapio_file_open_blocking(&f, eng, p, SIZE, mode), 0);
    assert_int_equal(mapio_sync_data_blocking(&f), 0);
    if (tu_dirty_pages(p) < 0) {
        print_message("no count of dirty pages here (no cachestat(2), or no write-back): "
                      "not checked\n");
        goto out;
    }
    static unsigned char buf[8192];
    memset(buf, 0x5a, sizeof buf);
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(run1(eng, mapio_write_at(&f, &req, buf, sizeof buf, 4096, rec_cb), &r),
                     sizeof buf);
    assert_true(tu_dirty_pages(p) > 0); /* a plain store: dirty until synced */
    assert_int_equal(mapio_sync_data_blocking(&f), 0);
    assert_int_equal(tu_dirty_pages(p), 0);
    memset(&r, 0, sizeof r);
    assert_int_equal(
        run1(eng, mapio_write_at_flags(&f, &req, buf, sizeof buf, 20000, MAPIO_WRITE_DSYNC, rec_cb),
             &r),
        sizeof buf);
    assert_int_equal(tu_dirty_pages(p), 0);
    assert_int_equal(mapio_file_close_blocking(&f), 0);

    /* The file's own O_DSYNC: every write. */
    assert_int_equal(mapio_file_open_blocking(&f, eng, p, SIZE, mode | MAPIO_OPEN_DSYNC), 0);
    memset(&r, 0, sizeof r);
    assert_int_equal(run1(eng, mapio_write_at(&f, &req, buf, 100, 50000, rec_cb), &r), 100);
    assert_int_equal(tu_dirty_pages(p), 0);
    assert_int_equal(mapio_write_at_blocking(&f, buf, 100, 60000), 100);
    assert_int_equal(tu_dirty_pages(p), 0);
out:
    assert_int_equal(mapio_file_close_blocking(&f), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    tu_unlink(p);
    free(p);
}

static void copy_runs_where_asked(void **state)
{
    unsigned mode = *(unsigned *)*state;
    mapio_engine_t *eng;
    mapio_engine_opts_t o = { .backend = backend };
    assert_int_equal(mapio_engine_new(&eng, &o), 0);
    struct where w = { .caller = pthread_self() };
    pthread_mutex_init(&w.lock, NULL);
    mapio_fault_hooks_t h = { .ctx = &w, .before = where_before };
    assert_int_equal(mapio_fault_set(eng, &h), 0);
    char *p = tu_path("where");
    mapio_file_t f;
    assert_int_equal(mapio_file_open_blocking(&f, eng, p, 1 << 16, mode), 0);
    char buf[512] = "x";
    for (int i = 0; i < 100; i++) {
        mapio_req_t req;
        struct rec rr = { 0 };
        req.data = &rr;
        int err = (i & 1) ? mapio_read_at(&f, &req, buf, sizeof buf, (uint64_t)i * 512, rec_cb)
                          : mapio_write_at(&f, &req, buf, sizeof buf, (uint64_t)i * 512, rec_cb);
        assert_int_equal(run1(eng, err, &rr), (int64_t)sizeof buf);
    }
    assert_int_equal(w.copies, 100);
    /* The caller submits and polls: with the pool it never copies. */
    assert_int_equal(w.on_caller, (mode & MAPIO_OPEN_MMAP_ON_POOL) ? 0 : 100);
    assert_int_equal(mapio_file_close_blocking(&f), 0);
    assert_int_equal(mapio_fault_set(eng, NULL), 0);
    mapio_engine_free(eng);
    pthread_mutex_destroy(&w.lock);
    unlink(p);
    free(p);
}

/* Copies queued on the pool are cancelled or complete, each exactly once,
 * whether the caller cancels them or frees the engine under them. */
static void pool_copies_complete_once(void **state)
{
    (void)state;
    enum { N = 256 };
    for (int how = 0; how < 2; how++) {
        mapio_engine_t *eng;
        mapio_engine_opts_t o = { .backend = backend, .workers = 1 };
        assert_int_equal(mapio_engine_new(&eng, &o), 0);
        char *p = tu_path("poolcancel");
        mapio_file_t f;
        assert_int_equal(mapio_file_open_blocking(&f, eng, p, 1 << 20,
                                                  MAPIO_OPEN_MMAP | MAPIO_OPEN_MMAP_ON_POOL),
                         0);
        static char bufs[N][4096];
        mapio_req_t reqs[N];
        struct rec recs[N];
        memset(recs, 0, sizeof recs);
        for (int i = 0; i < N; i++) {
            reqs[i].data = &recs[i];
            assert_int_equal(mapio_read_at(&f, &reqs[i], bufs[i], 4096, (uint64_t)i * 4096, rec_cb),
                             0);
        }
        if (how == 0) {
            assert_int_equal(mapio_engine_poll(eng, 0) >= 0, 1); /* hand them to the pool */
            for (int i = 0; i < N; i++)
                (void)mapio_cancel(&reqs[i]);
            while (mapio_engine_inflight(eng) > 0)
                assert_true(mapio_engine_poll(eng, -1) >= 0);
        } else {
            assert_int_equal(mapio_engine_poll(eng, 0) >= 0, 1);
            assert_int_equal(mapio_file_close_blocking(&f), 0);
            mapio_engine_free(eng);
        }
        for (int i = 0; i < N; i++) {
            assert_int_equal(recs[i].calls, 1);
            assert_true(recs[i].result == 4096 || recs[i].result == MAPIO_ECANCELED);
        }
        if (how == 0) {
            assert_int_equal(mapio_file_close_blocking(&f), 0);
            mapio_engine_free(eng);
        }
        unlink(p);
        free(p);
    }
}

int main(void)
{
    backend = getenv("MAPIO_BACKEND");
    if (backend == NULL || backend[0] == '\0') {
        fprintf(stderr, "mmapio: set MAPIO_BACKEND to the backend under test\n");
        return 1;
    }
    static unsigned caller = MAPIO_OPEN_MMAP, pool = MAPIO_OPEN_MMAP | MAPIO_OPEN_MMAP_ON_POOL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate(served_from_the_mapping, &caller),
        cmocka_unit_test_prestate(served_from_the_mapping, &pool),
        cmocka_unit_test_prestate(durable_writes_leave_nothing_dirty, &caller),
        cmocka_unit_test_prestate(durable_writes_leave_nothing_dirty, &pool),
        cmocka_unit_test_prestate(copy_runs_where_asked, &caller),
        cmocka_unit_test_prestate(copy_runs_where_asked, &pool),
        cmocka_unit_test(pool_copies_complete_once),
    };
    return cmocka_run_group_tests_name(backend, tests, NULL, NULL);
}
