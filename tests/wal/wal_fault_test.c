/*
 * tests/wal/wal_fault_test.c - the log's failures reach its caller as
 * mapio/wal.h says, on the backend MAPIO_BACKEND names. Fault hooks
 * (mapio_fault_set) installed on an idle engine and armed at the moment
 * each test wants:
 *
 * - EIO (and ENOSPC) from a data sync: every waiter of that sync gets its
 *   error, every batch after it MAPIO_EIO, later appends are refused with
 *   MAPIO_EIO, mapio_wal_free reports it; what was acknowledged before is
 *   all there after reopening;
 * - EIO from a directory sync, making a segment or truncating: the log
 *   fails the same way;
 * - EIO from a write: a hole; the same;
 * - ENOSPC from the preallocation: the appends that needed the segment get
 *   MAPIO_ENOSPC, the log goes on once there is room, and none of them is
 *   found later;
 * - short writes: resumed by the engine, nothing seen by the log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "walog.h"

#define SEG ((uint64_t)64 << 10)

/* ---- the hooks ------------------------------------------------------------------------------ */

static _Atomic int arm_op = -1; /* the op to fail */
static _Atomic int arm_err;
static _Atomic int arm_after;      /* make the call, then report the error */
static _Atomic int64_t arm_skip;   /* matching calls to let through first */
static _Atomic int64_t arm_times;  /* then fail this many (-1: all) */
static _Atomic uint64_t short_max; /* writes move at most this much per call */
static _Atomic uint64_t hits, shortened;

static void disarm(void)
{
    atomic_store(&arm_op, -1);
    atomic_store(&short_max, 0);
}

static void arm(int op, int err, int after, int64_t skip, int64_t times)
{
    atomic_store(&arm_err, err);
    atomic_store(&arm_after, after);
    atomic_store(&arm_skip, skip);
    atomic_store(&arm_times, times);
    atomic_store(&hits, 0);
    atomic_store(&arm_op, op);
}

static bool take(const mapio_fault_call_t *call, int after)
{
    if (call->op != atomic_load(&arm_op) || atomic_load(&arm_after) != after)
        return false;
    if (atomic_fetch_sub(&arm_skip, 1) > 0)
        return false;
    int64_t t = atomic_load(&arm_times);
    if (t == 0)
        return false;
    if (t > 0)
        atomic_fetch_sub(&arm_times, 1);
    atomic_fetch_add(&hits, 1);
    return true;
}

static int64_t before(void *ctx, const mapio_fault_call_t *call)
{
    (void)ctx;
    if (take(call, 0))
        return atomic_load(&arm_err);
    uint64_t m = atomic_load(&short_max);
    if (m != 0 && call->op == MAPIO_OP_WRITE && call->len > m) {
        atomic_fetch_add(&shortened, 1);
        return (int64_t)m;
    }
    return MAPIO_FAULT_PASS;
}

static int64_t after(void *ctx, const mapio_fault_call_t *call, int64_t result)
{
    (void)ctx;
    if (result >= 0 && take(call, 1))
        return atomic_load(&arm_err);
    return result;
}

static mapio_engine_t *hooked_engine(void)
{
    mapio_engine_t *eng = wl_engine();
    disarm();
    mapio_fault_hooks_t h = { .before = before, .after = after };
    assert_int_equal(mapio_fault_set(eng, &h), 0);
    return eng;
}

/* ---- appending --------------------------------------------------------------------------------
 */

struct pending {
    mapio_wal_req_t req;
    wl_batch_t b;
    int done;
    int64_t result;
};

static void on_done(mapio_wal_req_t *req)
{
    struct pending *p = req->data;
    p->result = req->result;
    p->done = 1;
}

static mapio_wal_t *open_log_seg(mapio_engine_t *eng, const char *dir, uint64_t seg)
{
    mapio_wal_t *wal;
    mapio_wal_opts_t o = { .segment_size = seg,
                           .flags = MAPIO_WAL_CREATE | MAPIO_WAL_NO_IDLE_MARK };
    assert_int_equal(mapio_wal_new(&wal, eng, dir, &o), 0);
    return wal;
}

static mapio_wal_t *open_log(mapio_engine_t *eng, const char *dir)
{
    return open_log_seg(eng, dir, SEG);
}

/* Append batches from..to-1 of p without polling between them (so that
 * they share syncs), then wait for all. Returns the first append error. */
static int wave(mapio_engine_t *eng, mapio_wal_t *wal, struct pending *p, int from, int to,
                uint64_t *seed)
{
    for (int i = from; i < to; i++) {
        wl_batch(&p[i].b, (uint64_t)i + 1, 3, 500, seed);
        p[i].req.data = &p[i];
        p[i].done = 0;
        int err = mapio_wal_append(wal, &p[i].req, p[i].b.rec, p[i].b.n, on_done);
        if (err != 0) {
            for (int k = from; k < i; k++)
                wl_poll_until(eng, &p[k].done);
            return err;
        }
    }
    for (int i = from; i < to; i++)
        wl_poll_until(eng, &p[i].done);
    return 0;
}

/* Wait until the engine is idle (spares made). */
static void settle(mapio_engine_t *eng)
{
    assert_true(mapio_engine_run(eng) >= 0);
}

/* The batches acknowledged are in the reopened log, in order; those that
 * failed with a preallocation error are not. */
static void check_reopened(const char *dir, const struct pending *p, int n, bool enospc_absent)
{
    disarm();
    wl_seen_t s;
    wl_scan(dir, NULL, (uint64_t)n, &s);
    assert_int_equal(s.open_err, 0);
    assert_int_equal(s.iter_err, 0);
    assert_false(s.bad_order);
    assert_true(wl_no_partial(&s));
    for (int i = 0; i < n; i++) {
        if (p[i].done && p[i].result == 0)
            assert_true(wl_has(&s, (uint64_t)i + 1, p[i].b.n, p[i].req.lsn));
        if (enospc_absent && p[i].done && p[i].result == MAPIO_ENOSPC)
            assert_int_equal(s.recs[i + 1], 0);
    }
    wl_seen_free(&s);
}

/* After a failure at batch `first_bad`: none after it succeeded, and the
 * log refuses appends. */
static void check_failed(mapio_wal_t *wal, const struct pending *p, int from, int to, int err)
{
    int first_bad = -1;
    for (int i = from; i < to; i++) {
        if (first_bad < 0 && p[i].result != 0)
            first_bad = i;
        if (first_bad >= 0)
            assert_true(p[i].result == err || p[i].result == MAPIO_EIO);
    }
    assert_true(first_bad >= 0);
    mapio_wal_req_t r;
    unsigned char b[32] = { 0 };
    mapio_iovec_t iov = { b, sizeof b };
    assert_int_equal(mapio_wal_append(wal, &r, &iov, 1, on_done), MAPIO_EIO);
    mapio_wal_info_t info;
    assert_int_equal(mapio_wal_info(wal, &info), 0);
    assert_true(info.error == err || info.error == MAPIO_EIO);
}

/* ---- data syncs ---------------------------------------------------------------------------------
 */

static void data_sync(void **state, int err)
{
    (void)state;
    char *dir = tu_path("dsync");
    mapio_engine_t *eng = hooked_engine();
    /* Big enough that the batches stay in one segment: the data syncs that
     * fail are theirs, not those of a segment being made. */
    mapio_wal_t *wal = open_log_seg(eng, dir, (uint64_t)4 << 20);
    static struct pending p[400];
    memset(p, 0, sizeof p);
    uint64_t seed = 1;
    assert_int_equal(wave(eng, wal, p, 0, 100, &seed), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(p[i].result, 0);
    settle(eng);
    /* The second data sync from now "fails" after running (fsyncgate). */
    arm(MAPIO_OP_FDATASYNC, err, 1, 1, 1);
    assert_int_equal(wave(eng, wal, p, 100, 300, &seed), 0);
    assert_int_equal(atomic_load(&hits), 1);
    /* Its waiters have its error (the first failed batch had it). */
    int first = 100;
    while (p[first].result == 0)
        first++;
    assert_int_equal(p[first].result, err);
    check_failed(wal, p, 100, 300, err);
    assert_int_equal(mapio_wal_free(wal), err);
    assert_int_equal(mapio_engine_free(eng), 0);
    check_reopened(dir, p, 300, false);
    free(dir);
}

static void eio_data_sync(void **state)
{
    data_sync(state, MAPIO_EIO);
}

/* Another error, to tell the sync's own waiters from the later batches. */
static void enospc_data_sync(void **state)
{
    data_sync(state, MAPIO_ENOSPC);
}

/* ---- writes ------------------------------------------------------------------------------------
 */

static void eio_write(void **state)
{
    (void)state;
    char *dir = tu_path("write");
    mapio_engine_t *eng = hooked_engine();
    mapio_wal_t *wal = open_log(eng, dir);
    static struct pending p[300];
    memset(p, 0, sizeof p);
    uint64_t seed = 2;
    assert_int_equal(wave(eng, wal, p, 0, 100, &seed), 0);
    settle(eng);
    arm(MAPIO_OP_WRITE, MAPIO_EIO, 0, 30, 1);
    assert_int_equal(wave(eng, wal, p, 100, 300, &seed), 0);
    assert_int_equal(atomic_load(&hits), 1);
    check_failed(wal, p, 100, 300, MAPIO_EIO);
    assert_int_equal(mapio_wal_free(wal), MAPIO_EIO);
    assert_int_equal(mapio_engine_free(eng), 0);
    check_reopened(dir, p, 300, false);
    free(dir);
}

/* ---- short writes
 * -------------------------------------------------------------------------------- */

static void short_writes(void **state)
{
    (void)state;
    char *dir = tu_path("short");
    mapio_engine_t *eng = hooked_engine();
    mapio_wal_t *wal = open_log(eng, dir);
    static struct pending p[300];
    memset(p, 0, sizeof p);
    uint64_t seed = 3;
    atomic_store(&shortened, 0);
    atomic_store(&short_max, 97);
    assert_int_equal(wave(eng, wal, p, 0, 300, &seed), 0);
    for (int i = 0; i < 300; i++)
        assert_int_equal(p[i].result, 0);
    assert_true(atomic_load(&shortened) > 100);
    atomic_store(&short_max, 0);
    assert_int_equal(mapio_wal_free(wal), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    check_reopened(dir, p, 300, false);
    free(dir);
}

/* ---- directory syncs
 * ------------------------------------------------------------------------------ */

/* Making the next segment (the spare the log makes ahead) fails. */
static void eio_dir_sync_rotation(void **state)
{
    (void)state;
    char *dir = tu_path("dirsync");
    mapio_engine_t *eng = hooked_engine();
    arm(MAPIO_OP_SYNC_DIR, MAPIO_EIO, 1, 0, -1);
    /* mapio_wal_new's own first segment would fail: let it through. */
    atomic_store(&arm_skip, 1);
    mapio_wal_t *wal = open_log(eng, dir);
    static struct pending p[600];
    memset(p, 0, sizeof p);
    uint64_t seed = 4;
    /* Enough to need segments 1 and 2: the spare's directory sync fails. */
    int err = 0, n = 0;
    for (int w = 0; w < 6 && err == 0; w++, n += 100)
        err = wave(eng, wal, p, n, n + 100, &seed);
    assert_int_equal(err, MAPIO_EIO);
    assert_true(atomic_load(&hits) >= 1);
    /* Nothing after the first failure succeeded: the appends that needed
     * the segment failed with the error; then the log refused more. */
    bool bad = false;
    for (int i = 0; i < n + 100; i++) {
        if (p[i].done && p[i].result != 0)
            bad = true;
        if (bad && p[i].done)
            assert_int_equal(p[i].result, MAPIO_EIO);
    }
    mapio_wal_req_t r;
    unsigned char b[32] = { 0 };
    mapio_iovec_t iov = { b, sizeof b };
    assert_int_equal(mapio_wal_append(wal, &r, &iov, 1, on_done), MAPIO_EIO);
    mapio_wal_info_t info;
    assert_int_equal(mapio_wal_info(wal, &info), 0);
    assert_int_equal(info.error, MAPIO_EIO);
    assert_int_equal(mapio_wal_free(wal), MAPIO_EIO);
    assert_int_equal(mapio_engine_free(eng), 0);
    check_reopened(dir, p, n + 100, false);
    free(dir);
}

static int trunc_done;
static int64_t trunc_result;

static void on_truncated(mapio_wal_req_t *req)
{
    trunc_result = req->result;
    trunc_done = 1;
}

/* The directory sync that makes a truncation durable fails. */
static void eio_dir_sync_truncate(void **state)
{
    (void)state;
    char *dir = tu_path("dirsync-trunc");
    mapio_engine_t *eng = hooked_engine();
    mapio_wal_t *wal = open_log(eng, dir);
    static struct pending p[400];
    memset(p, 0, sizeof p);
    uint64_t seed = 5;
    for (int w = 0; w < 4; w++)
        assert_int_equal(wave(eng, wal, p, w * 100, w * 100 + 100, &seed), 0);
    settle(eng);
    arm(MAPIO_OP_SYNC_DIR, MAPIO_EIO, 1, 0, 1);
    mapio_wal_req_t tr;
    trunc_done = 0;
    assert_int_equal(mapio_wal_truncate_before(wal, &tr, p[399].req.lsn, on_truncated), 0);
    wl_poll_until(eng, &trunc_done);
    assert_int_equal(trunc_result, MAPIO_EIO);
    mapio_wal_req_t r;
    unsigned char b[32] = { 0 };
    mapio_iovec_t iov = { b, sizeof b };
    assert_int_equal(mapio_wal_append(wal, &r, &iov, 1, on_done), MAPIO_EIO);
    assert_int_equal(mapio_wal_truncate_before(wal, &tr, 1, on_truncated), MAPIO_EIO);
    assert_int_equal(mapio_wal_free(wal), MAPIO_EIO);
    assert_int_equal(mapio_engine_free(eng), 0);
    /* Truncated or not, what is left is consistent. */
    disarm();
    wl_seen_t s;
    wl_scan(dir, NULL, 400, &s);
    assert_int_equal(s.open_err, 0);
    assert_int_equal(s.iter_err, 0);
    assert_true(wl_has(&s, 400, p[399].b.n, p[399].req.lsn));
    wl_seen_free(&s);
    free(dir);
}

/* ---- a full disk at preallocation
 * ---------------------------------------------------------------- */

static void enospc_prealloc(void **state)
{
    (void)state;
    char *dir = tu_path("enospc");
    mapio_engine_t *eng = hooked_engine();
    mapio_wal_t *wal = open_log(eng, dir);
    /* Every preallocation from now on finds the disk full (the spare's
     * too, before it is made). */
    arm(MAPIO_OP_FALLOCATE, MAPIO_ENOSPC, 0, 0, -1);
    static struct pending p[1200];
    memset(p, 0, sizeof p);
    uint64_t seed = 6;
    int n = 0;
    for (int w = 0; w < 4; w++, n += 100)
        assert_int_equal(wave(eng, wal, p, n, n + 100, &seed), 0);
    assert_true(atomic_load(&hits) >= 1);
    int ok = 0, full = 0;
    for (int i = 0; i < n; i++) {
        assert_true(p[i].result == 0 || p[i].result == MAPIO_ENOSPC);
        ok += p[i].result == 0;
        full += p[i].result == MAPIO_ENOSPC;
        /* A full disk is not a hole: nothing after a refused batch fails
         * for that reason alone; but everything that needed the missing
         * segment did. */
    }
    assert_true(ok > 0 && full > 0);
    mapio_wal_info_t info;
    assert_int_equal(mapio_wal_info(wal, &info), 0);
    assert_int_equal(info.error, 0);
    /* Room again: the log goes on where it stopped. */
    disarm();
    for (int w = 0; w < 6; w++, n += 100)
        assert_int_equal(wave(eng, wal, p, n, n + 100, &seed), 0);
    for (int i = n - 600; i < n; i++)
        assert_int_equal(p[i].result, 0);
    assert_int_equal(mapio_wal_info(wal, &info), 0);
    assert_int_equal(info.error, 0);
    assert_true(info.segments >= 3);
    assert_int_equal(mapio_wal_free(wal), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    check_reopened(dir, p, n, true);
    free(dir);
}

int main(void)
{
    if (wl_backend() == NULL) {
        fprintf(stderr, "wal-fault: set MAPIO_BACKEND to the backend under test\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eio_data_sync),
        cmocka_unit_test(enospc_data_sync),
        cmocka_unit_test(eio_write),
        cmocka_unit_test(short_writes),
        cmocka_unit_test(eio_dir_sync_rotation),
        cmocka_unit_test(eio_dir_sync_truncate),
        cmocka_unit_test(enospc_prealloc),
    };
    return cmocka_run_group_tests_name(wl_backend(), tests, NULL, NULL);
}
