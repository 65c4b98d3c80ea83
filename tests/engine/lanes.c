/*
 * tests/engine/lanes.c - on the pool backends (epoll, kqueue: MAPIO_BACKEND),
 * syncs never take every worker: reads and writes still complete while
 * syncs are stuck, and no more syncs run at once than the slow lane allows
 * (max(1, workers / 2), docs/engine.md "Threads").
 *
 * A sync is made slow deterministically by holding it in the OS table's
 * fdatasync until the test lets it go; reads go to the pool
 * (MAPIO_ENGINE_NO_INLINE_READS), so they need a worker. Nothing is timed:
 * waits are bounded only so that a bug fails instead of hanging.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "mapio.h"
#include "engine/os.h"
#include "testutil.h"

enum { FILES = 4, BS = 4096 };

static const char *backend;

static _Atomic int in_sync; /* fdatasync calls under way */
static _Atomic int most;    /* the most ever under way at once */
static _Atomic int release; /* let them go */
static _Atomic int in_stat; /* stat calls held */

static int held_fdatasync(mapio_fd_t fd)
{
    int now = atomic_fetch_add(&in_sync, 1) + 1;
    int m = atomic_load(&most);
    while (now > m && !atomic_compare_exchange_weak(&most, &m, now))
        ;
    while (!atomic_load(&release))
        tu_sleep_ms(1);
    atomic_fetch_sub(&in_sync, 1);
    return mapio__os_default.fdatasync(fd);
}

static int held_stat(mapio_fd_t fd, mapio_stat_t *out)
{
    atomic_fetch_add(&in_stat, 1);
    while (!atomic_load(&release))
        tu_sleep_ms(1);
    return mapio__os_default.stat(fd, out);
}

struct ctx {
    mapio_engine_t *eng;
    unsigned workers;
    mapio_file_t f[FILES];
    char *path[FILES];
};

static int setup_workers(void **state, unsigned workers)
{
    struct ctx *c = calloc(1, sizeof *c);
    c->workers = workers;
    mapio_engine_opts_t o = { .backend = backend,
                              .workers = workers,
                              .flags = MAPIO_ENGINE_NO_INLINE_READS };
    if (mapio_engine_new(&c->eng, &o) != 0)
        return -1;
    unsigned char block[BS];
    tu_fill(block, sizeof block, 4);
    for (int i = 0; i < FILES; i++) {
        c->path[i] = tu_path("lanes");
        if (tu_write_file(c->path[i], block, sizeof block) != 0 ||
            mapio_file_open_blocking(&c->f[i], c->eng, c->path[i], 0, 0) != 0)
            return -1;
    }
    atomic_store(&in_sync, 0);
    atomic_store(&most, 0);
    atomic_store(&release, 0);
    atomic_store(&in_stat, 0);
    mapio__os.fdatasync = held_fdatasync;
    mapio__os.stat = held_stat;
    *state = c;
    return 0;
}

static int setup2(void **state)
{
    return setup_workers(state, 2);
}

static int setup1(void **state)
{
    return setup_workers(state, 1);
}

static int setup4(void **state)
{
    return setup_workers(state, 4);
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    atomic_store(&release, 1);
    mapio_engine_run(c->eng);
    mapio__os = mapio__os_default;
    for (int i = 0; i < FILES; i++) {
        mapio_file_close_blocking(&c->f[i]);
        tu_unlink(c->path[i]);
        free(c->path[i]);
    }
    mapio_engine_free(c->eng);
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

/* Poll until *flag reaches want (bounded: a bug fails, it does not hang). */
static void poll_until(struct ctx *c, _Atomic int *flag, int want)
{
    for (int i = 0; i < 30000 && atomic_load(flag) < want; i++)
        assert_true(mapio_engine_poll(c->eng, 1) >= 0);
    assert_int_equal(atomic_load(flag), want);
}

/* A read and a write, each to its end, while the syncs stay stuck. */
static void reads_and_writes_complete(struct ctx *c)
{
    unsigned char buf[BS];
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_read_at(&c->f[0], &req, buf, BS, 0, rec_cb), 0);
    for (int i = 0; i < 30000 && r.calls == 0; i++)
        assert_true(mapio_engine_poll(c->eng, 1) >= 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.result, BS);
    r.calls = 0;
    assert_int_equal(mapio_write_at(&c->f[1], &req, buf, BS, BS, rec_cb), 0);
    for (int i = 0; i < 30000 && r.calls == 0; i++)
        assert_true(mapio_engine_poll(c->eng, 1) >= 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.result, BS);
}

/* One sync per file, all stuck: the lane holds as many as it may, the
 * rest wait, and a read and a write still find a worker. */
static void syncs_leave_a_worker_to_reads(void **state)
{
    struct ctx *c = *state;
    int lane = (int)(c->workers / 2 > 0 ? c->workers / 2 : 1);
    mapio_req_t s[FILES];
    struct rec sr[FILES] = { { 0 } };
    for (int i = 0; i < FILES; i++) {
        s[i].data = &sr[i];
        assert_int_equal(mapio_sync_data(&c->f[i], &s[i], rec_cb), 0);
    }
    poll_until(c, &in_sync, lane);
    reads_and_writes_complete(c);
    assert_int_equal(atomic_load(&in_sync), lane);
    for (int i = 0; i < FILES; i++)
        assert_int_equal(sr[i].calls, 0);

    atomic_store(&release, 1);
    assert_true(mapio_engine_run(c->eng) >= 0);
    for (int i = 0; i < FILES; i++) {
        assert_int_equal(sr[i].calls, 1);
        assert_int_equal(sr[i].result, 0);
    }
    assert_int_equal(atomic_load(&most), lane);
}

/* Group commits' syncs are syncs too; a stat (a lifecycle call) shares
 * their lane, and still the fast lane serves. */
static void commits_and_lifecycle_calls_share_the_slow_lane(void **state)
{
    struct ctx *c = *state;
    unsigned char rec[64];
    tu_fill(rec, sizeof rec, 9);
    mapio_write_t w[FILES];
    mapio_req_t cm[FILES], st;
    struct rec cr[FILES] = { { 0 } }, sr = { 0 };
    for (int i = 0; i < FILES; i++) {
        w[i] = (mapio_write_t){ rec, sizeof rec, 2 * BS };
        cm[i].data = &cr[i];
        assert_int_equal(mapio_commit(&c->f[i], &cm[i], &w[i], 1, rec_cb), 0);
    }
    mapio_stat_t info;
    st.data = &sr;
    assert_int_equal(mapio_file_stat(&c->f[0], &st, &info, rec_cb), 0);
    /* The lane fills with syncs or the stat, whichever a worker took. */
    int lane = (int)(c->workers / 2 > 0 ? c->workers / 2 : 1);
    for (int i = 0; i < 30000 && atomic_load(&in_sync) + atomic_load(&in_stat) < lane; i++)
        assert_true(mapio_engine_poll(c->eng, 1) >= 0);
    assert_int_equal(atomic_load(&in_sync) + atomic_load(&in_stat), lane);
    reads_and_writes_complete(c);
    assert_int_equal(atomic_load(&in_sync) + atomic_load(&in_stat), lane);

    atomic_store(&release, 1);
    assert_true(mapio_engine_run(c->eng) >= 0);
    for (int i = 0; i < FILES; i++) {
        assert_int_equal(cr[i].calls, 1);
        assert_int_equal(cr[i].result, 0);
    }
    assert_int_equal(sr.calls, 1);
    assert_int_equal(sr.result, 0);
    assert_true(atomic_load(&most) <= lane);
}

int main(void)
{
    backend = getenv("MAPIO_BACKEND");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(syncs_leave_a_worker_to_reads, setup1, teardown),
        cmocka_unit_test_setup_teardown(syncs_leave_a_worker_to_reads, setup2, teardown),
        cmocka_unit_test_setup_teardown(syncs_leave_a_worker_to_reads, setup4, teardown),
        cmocka_unit_test_setup_teardown(commits_and_lifecycle_calls_share_the_slow_lane, setup2,
                                        teardown),
        cmocka_unit_test_setup_teardown(commits_and_lifecycle_calls_share_the_slow_lane, setup4,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
