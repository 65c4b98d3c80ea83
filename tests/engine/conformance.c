/*
 * tests/engine/conformance.c - the semantics every backend must meet.
 *
 * One body; meson registers it once per compiled backend with MAPIO_BACKEND
 * set (conformance-uring, conformance-epoll, ...). Each test checks that the
 * engine really runs on that backend.
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
#include <time.h>
#include <unistd.h>

#include "mapio.h"
#include "engine/engine.h"
#include "engine/os.h"
#include "testutil.h"

static const char *backend;
/* MAPIO_TEST_OPEN=mmap or mmap-pool runs the whole body in MMapIO mode: the
 * fixture file is then mapped, with a fixed size (writes past it fail). */
static unsigned open_mode;
static uint64_t open_size;
#define MAPPED_SIZE (4u << 20)

struct ctx {
    mapio_engine_t *eng;
    mapio_file_t file;
    char *path;
};

/* ---- a callback that records ------------------------------------------------ */

struct rec {
    int calls;
    int64_t result;
    pthread_t thread;
};

static void rec_cb(mapio_req_t *req)
{
    struct rec *r = req->data;
    r->calls++;
    r->result = req->result;
    r->thread = pthread_self();
}

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof *c);
    mapio_engine_opts_t o = { .backend = backend };
    if (mapio_engine_new(&c->eng, &o) != 0)
        return -1;
    c->path = tu_path("conf");
    if (mapio_file_open_blocking(&c->file, c->eng, c->path, open_size, open_mode) != 0)
        return -1;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    mapio_file_close_blocking(&c->file); /* may already be closed by the test */
    mapio_engine_free(c->eng);
    unlink(c->path);
    free(c->path);
    free(c);
    return 0;
}

static int64_t wait_one(mapio_engine_t *eng, struct rec *r)
{
    while (r->calls == 0)
        assert_true(mapio_engine_poll(eng, -1) >= 0);
    assert_int_equal(r->calls, 1);
    return r->result;
}

static int64_t do_write(struct ctx *c, const void *buf, size_t len, uint64_t off)
{
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_write_at(&c->file, &req, buf, len, off, rec_cb), 0);
    return wait_one(c->eng, &r);
}

static int64_t do_read(struct ctx *c, void *buf, size_t len, uint64_t off)
{
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_read_at(&c->file, &req, buf, len, off, rec_cb), 0);
    return wait_one(c->eng, &r);
}

/* ---- tests --------------------------------------------------------------------- */

static void backend_is_the_one_asked_for(void **state)
{
    struct ctx *c = *state;
    assert_string_equal(mapio_engine_backend(c->eng), backend);
    assert_null(mapio_engine_fallback_reason(c->eng));
}

static void roundtrip_sizes(void **state)
{
    struct ctx *c = *state;
    static const size_t sizes[] = { 1, 7, 4096, 4097, 12345, 65536 + 3, 1 << 20 };
    static const uint64_t offsets[] = { 0, 1, 4095, 4096, 1000003 };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        for (size_t j = 0; j < sizeof offsets / sizeof *offsets; j++) {
            size_t n = sizes[i];
            unsigned char *w = malloc(n), *rd = malloc(n);
            tu_fill(w, n, i * 31 + j);
            memset(rd, 0xEE, n);
            assert_int_equal(do_write(c, w, n, offsets[j]), (int64_t)n);
            assert_int_equal(do_read(c, rd, n, offsets[j]), (int64_t)n);
            assert_memory_equal(w, rd, n);
            free(w);
            free(rd);
        }
    }
}

static void vectored_roundtrip(void **state)
{
    struct ctx *c = *state;
    unsigned char a[3], b[4096], d[5000], ra[3], rb[4096], rd[5000];
    tu_fill(a, sizeof a, 1);
    tu_fill(b, sizeof b, 2);
    tu_fill(d, sizeof d, 3);
    mapio_iovec_t wv[3] = { { a, sizeof a }, { b, sizeof b }, { d, sizeof d } };
    mapio_iovec_t rv[3] = { { ra, sizeof ra }, { rb, sizeof rb }, { rd, sizeof rd } };
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_writev_at(&c->file, &req, wv, 3, 777, rec_cb), 0);
    assert_int_equal(wait_one(c->eng, &r), (int64_t)(sizeof a + sizeof b + sizeof d));
    memset(&r, 0, sizeof r);
    assert_int_equal(mapio_readv_at(&c->file, &req, rv, 3, 777, rec_cb), 0);
    assert_int_equal(wait_one(c->eng, &r), (int64_t)(sizeof a + sizeof b + sizeof d));
    assert_memory_equal(a, ra, sizeof a);
    assert_memory_equal(b, rb, sizeof b);
    assert_memory_equal(d, rd, sizeof d);
    /* The blocking twin sees the same bytes. */
    unsigned char all[sizeof a + sizeof b + sizeof d];
    assert_int_equal(mapio_read_at_blocking(&c->file, all, sizeof all, 777), (int64_t)sizeof all);
    assert_memory_equal(all, a, sizeof a);
    assert_memory_equal(all + sizeof a + sizeof b, d, sizeof d);
}

static void read_at_eof_is_short(void **state)
{
    struct ctx *c = *state;
    unsigned char w[1000], rd[4096];
    tu_fill(w, sizeof w, 9);
    /* A mapped file ends at its mapped size; a plain one grows. */
    uint64_t base = open_mode != 0 ? open_size - 1000 : 0;
    assert_int_equal(do_write(c, w, sizeof w, base), 1000);
    assert_int_equal(do_read(c, rd, sizeof rd, base), 1000);
    assert_memory_equal(w, rd, sizeof w);
    assert_int_equal(do_read(c, rd, sizeof rd, base + 600), 400);
    assert_int_equal(do_read(c, rd, sizeof rd, base + 1000), 0);
    assert_int_equal(do_read(c, rd, sizeof rd, 1u << 30), 0);
    if (open_mode != 0)
        assert_int_equal(do_write(c, w, sizeof w, base + 1), MAPIO_ERANGE);
}

/* Every bad argument is refused before anything reaches the OS or backend. */
static int os_calls;
static int64_t counting_pread(mapio_fd_t fd, void *buf, size_t len, uint64_t off)
{
    os_calls++;
    return mapio__os_default.pread(fd, buf, len, off);
}
static int64_t counting_pwrite(mapio_fd_t fd, const void *buf, size_t len, uint64_t off)
{
    os_calls++;
    return mapio__os_default.pwrite(fd, buf, len, off);
}

static void bad_arguments_fail_early(void **state)
{
    struct ctx *c = *state;
    char buf[16] = { 0 };
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    mapio__os.pread = counting_pread;
    mapio__os.pwrite = counting_pwrite;
    os_calls = 0;

    assert_int_equal(mapio_read_at(&c->file, &req, buf, 16, UINT64_MAX - 4, rec_cb),
                     MAPIO_EOVERFLOW);
    assert_int_equal(mapio_write_at(&c->file, &req, buf, 16, (uint64_t)INT64_MAX - 8, rec_cb),
                     MAPIO_EOVERFLOW);
    assert_int_equal(mapio_read_at(&c->file, &req, buf, (size_t)MAPIO_MAX_IO + 1, 0, rec_cb),
                     MAPIO_EINVAL);
    assert_int_equal(mapio_read_at(&c->file, &req, NULL, 16, 0, rec_cb), MAPIO_EFAULT);
    assert_int_equal(mapio_write_at(&c->file, &req, NULL, 16, 0, rec_cb), MAPIO_EFAULT);
    assert_int_equal(mapio_read_at(&c->file, &req, buf, 0, 0, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_read_at(&c->file, &req, buf, 16, 0, NULL), MAPIO_EINVAL);
    assert_int_equal(mapio_read_at(&c->file, NULL, buf, 16, 0, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_read_at(NULL, &req, buf, 16, 0, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_sync_data(&c->file, &req, NULL), MAPIO_EINVAL);

    mapio_iovec_t v[2] = { { buf, 8 }, { NULL, 8 } };
    assert_int_equal(mapio_readv_at(&c->file, &req, v, 2, 0, rec_cb), MAPIO_EFAULT);
    assert_int_equal(mapio_readv_at(&c->file, &req, v, 0, 0, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_readv_at(&c->file, &req, v, MAPIO_IOV_MAX + 1, 0, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_writev_at(&c->file, &req, NULL, 1, 0, rec_cb), MAPIO_EINVAL);
    mapio_iovec_t z[1] = { { buf, 0 } };
    assert_int_equal(mapio_writev_at(&c->file, &req, z, 1, 0, rec_cb), MAPIO_EINVAL);
    mapio_iovec_t o[1] = { { buf, 16 } };
    assert_int_equal(mapio_writev_at(&c->file, &req, o, 1, UINT64_MAX - 1, rec_cb),
                     MAPIO_EOVERFLOW);

    /* Blocking twins validate the same way. */
    assert_int_equal(mapio_read_at_blocking(&c->file, buf, 16, UINT64_MAX - 4), MAPIO_EOVERFLOW);
    assert_int_equal(mapio_read_at_blocking(&c->file, NULL, 16, 0), MAPIO_EFAULT);
    assert_int_equal(mapio_write_at_blocking(&c->file, buf, 0, 0), MAPIO_EINVAL);
    assert_int_equal(mapio_write_at_blocking(NULL, buf, 1, 0), MAPIO_EINVAL);

    /* A read-only file refuses writes. */
    mapio_file_t ro;
    assert_int_equal(
        mapio_file_open_blocking(&ro, c->eng, c->path, 0, open_mode | MAPIO_OPEN_READ_ONLY), 0);
    assert_int_equal(mapio_write_at(&ro, &req, buf, 16, 0, rec_cb), MAPIO_EBADF);
    assert_int_equal(mapio_write_at_blocking(&ro, buf, 16, 0), MAPIO_EBADF);
    mapio_iovec_t w1[1] = { { buf, 16 } };
    assert_int_equal(mapio_writev_at(&ro, &req, w1, 1, 0, rec_cb), MAPIO_EBADF);
    assert_int_equal(mapio_file_close_blocking(&ro), 0);

    /* A closed file refuses everything, and closing twice is an error. */
    assert_int_equal(mapio_file_close_blocking(&c->file), 0);
    assert_int_equal(mapio_file_close_blocking(&c->file), MAPIO_EBADF);
    assert_int_equal(mapio_read_at(&c->file, &req, buf, 16, 0, rec_cb), MAPIO_EBADF);
    assert_int_equal(mapio_write_at(&c->file, &req, buf, 16, 0, rec_cb), MAPIO_EBADF);
    assert_int_equal(mapio_sync_data(&c->file, &req, rec_cb), MAPIO_EBADF);
    assert_int_equal(mapio_read_at_blocking(&c->file, buf, 16, 0), MAPIO_EBADF);
    assert_int_equal(mapio_sync_data_blocking(&c->file), MAPIO_EBADF);

    assert_int_equal(mapio_engine_poll(c->eng, 0), 0);
    mapio__os = mapio__os_default;
    assert_int_equal(os_calls, 0);
    assert_int_equal(r.calls, 0);
    assert_int_equal(mapio_engine_inflight(c->eng), 0);
    mapio_metrics_t m;
    assert_int_equal(mapio_engine_metrics(c->eng, &m), 0);
    assert_int_equal(m.read + m.write + m.sync + m.errors, 0);
}

static void bad_open_arguments(void **state)
{
    struct ctx *c = *state;
    mapio_file_t f;
    assert_int_equal(mapio_file_open_blocking(&f, NULL, c->path, 0, 0), MAPIO_EINVAL);
    assert_int_equal(mapio_file_open_blocking(&f, c->eng, NULL, 0, 0), MAPIO_EINVAL);
    assert_int_equal(mapio_file_open_blocking(NULL, c->eng, c->path, 0, 0), MAPIO_EINVAL);
    assert_int_equal(mapio_file_open_blocking(&f, c->eng, c->path, 0, 1u << 20), MAPIO_EINVAL);
    assert_int_equal(mapio_file_open_blocking(&f, c->eng, c->path, 0,
                                              MAPIO_OPEN_READ_ONLY | MAPIO_OPEN_TRUNCATE),
                     MAPIO_EINVAL);
    assert_int_equal(mapio_file_open_blocking(&f, c->eng, c->path, 0,
                                              MAPIO_OPEN_NO_CREATE | MAPIO_OPEN_CREATE_NEW),
                     MAPIO_EINVAL);
    assert_int_equal(mapio_file_open_blocking(&f, c->eng, c->path, UINT64_MAX, 0), MAPIO_EOVERFLOW);
    assert_int_equal(mapio_file_open_blocking(&f, c->eng, c->path, 0, MAPIO_OPEN_CREATE_NEW),
                     MAPIO_EEXIST);
    char *missing = tu_path("missing");
    assert_int_equal(mapio_file_open_blocking(&f, c->eng, missing, 0, MAPIO_OPEN_NO_CREATE),
                     MAPIO_ENOENT);
    assert_int_equal(mapio_file_open_blocking(&f, c->eng, missing, 0, MAPIO_OPEN_READ_ONLY),
                     MAPIO_ENOENT);
    free(missing);
    assert_int_equal(mapio_file_open_blocking(&f, c->eng, tu_dir(), 0, MAPIO_OPEN_READ_ONLY),
                     MAPIO_EISDIR);
    /* A handle whose open failed reads as closed. */
    mapio_req_t req;
    char b[4];
    assert_int_equal(mapio_read_at(&f, &req, b, 4, 0, rec_cb), MAPIO_EBADF);
}

/* Paths are UTF-8 on every system: the name the OS shows is the one asked
 * for (testutil reads it back with the OS's own calls - on Windows the W
 * functions, so a path passed through the ANSI code page would not match). */
static void utf8_paths(void **state)
{
    struct ctx *c = *state;
    char *p = tu_path("caf\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac-\xf0\x9f\x93\x9d");
    mapio_file_t f;
    assert_int_equal(mapio_file_open_blocking(&f, c->eng, p, 0, MAPIO_OPEN_CREATE_NEW), 0);
    assert_int_equal(mapio_write_at_blocking(&f, "unicode", 7, 0), 7);
    assert_int_equal(mapio_file_close_blocking(&f), 0);
    assert_int_equal(tu_exists(p), 1);
    char b[7];
    assert_int_equal(tu_read_file_at(p, b, 7, 0), 7);
    assert_memory_equal(b, "unicode", 7);
    assert_int_equal(mapio_file_open_blocking(&f, c->eng, p, 0, MAPIO_OPEN_CREATE_NEW),
                     MAPIO_EEXIST);
    assert_int_equal(tu_unlink(p), 0);
    assert_int_equal(mapio_file_open_blocking(&f, c->eng, p, 0, MAPIO_OPEN_NO_CREATE),
                     MAPIO_ENOENT);
    free(p);
}

static void open_sizes_and_truncate(void **state)
{
    struct ctx *c = *state;
    char *p = tu_path("size");
    mapio_file_t f;
    assert_int_equal(mapio_file_open_blocking(&f, c->eng, p, 8192, 0), 0);
    assert_int_equal(mapio_file_size(&f), 8192);
    assert_int_equal(mapio_write_at_blocking(&f, "abc", 3, 100), 3);
    assert_int_equal(mapio_file_close_blocking(&f), 0);
    assert_int_equal(mapio_file_size(&f), 0); /* closed */
    /* Reopen with size 0: stat it; never truncates. */
    assert_int_equal(mapio_file_open_blocking(&f, c->eng, p, 0, MAPIO_OPEN_NO_CREATE), 0);
    assert_int_equal(mapio_file_size(&f), 8192);
    char b[3];
    assert_int_equal(mapio_read_at_blocking(&f, b, 3, 100), 3);
    assert_memory_equal(b, "abc", 3);
    assert_int_equal(mapio_file_close_blocking(&f), 0);
    /* A smaller size never shrinks without TRUNCATE. */
    assert_int_equal(mapio_file_open_blocking(&f, c->eng, p, 10, 0), 0);
    assert_int_equal(mapio_read_at_blocking(&f, b, 3, 100), 3);
    assert_int_equal(mapio_file_close_blocking(&f), 0);
    assert_int_equal(mapio_file_open_blocking(&f, c->eng, p, 50, MAPIO_OPEN_TRUNCATE), 0);
    assert_int_equal(mapio_file_size(&f), 50);
    assert_int_equal(mapio_read_at_blocking(&f, b, 3, 100), 0);
    assert_int_equal(mapio_file_close_blocking(&f), 0);
    assert_int_equal(mapio_file_open_blocking(&f, c->eng, p, 0, MAPIO_OPEN_TRUNCATE), 0);
    assert_int_equal(mapio_file_size(&f), 0);
    assert_int_equal(mapio_file_close_blocking(&f), 0);
    unlink(p);
    free(p);
}

static void syncs_complete(void **state)
{
    struct ctx *c = *state;
    assert_int_equal(do_write(c, "x", 1, 0), 1);
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_sync_data(&c->file, &req, rec_cb), 0);
    assert_int_equal(wait_one(c->eng, &r), 0);
    memset(&r, 0, sizeof r);
    assert_int_equal(mapio_sync_all(&c->file, &req, rec_cb), 0);
    assert_int_equal(wait_one(c->eng, &r), 0);
    assert_int_equal(mapio_sync_data_blocking(&c->file), 0);
    mapio_metrics_t m;
    assert_int_equal(mapio_file_metrics(&c->file, &m), 0);
    assert_int_equal(m.sync, 3);
    assert_int_equal(m.write, 1);
    assert_int_equal(m.write_bytes, 1);
}

/* Many requests in flight: each completes exactly once, on this thread. */
#define MANY 2000
static void exactly_once_on_poll_thread(void **state)
{
    struct ctx *c = *state;
    static mapio_req_t reqs[MANY];
    static struct rec recs[MANY];
    static unsigned char bufs[MANY][64];
    memset(recs, 0, sizeof recs);
    for (int i = 0; i < MANY; i++) {
        memset(bufs[i], i & 0xff, 64);
        reqs[i].data = &recs[i];
        assert_int_equal(mapio_write_at(&c->file, &reqs[i], bufs[i], 64, (uint64_t)i * 64, rec_cb),
                         0);
    }
    assert_int_equal(mapio_engine_inflight(c->eng), MANY);
    assert_int_equal(mapio_engine_run(c->eng), MANY);
    assert_int_equal(mapio_engine_inflight(c->eng), 0);
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(recs[i].calls, 1);
        assert_int_equal(recs[i].result, 64);
        assert_true(pthread_equal(recs[i].thread, pthread_self()));
    }
    unsigned char check[64];
    for (int i = 0; i < MANY; i += 97) {
        assert_int_equal(mapio_read_at_blocking(&c->file, check, 64, (uint64_t)i * 64), 64);
        assert_int_equal(check[0], i & 0xff);
        assert_int_equal(check[63], i & 0xff);
    }
    mapio_metrics_t m;
    assert_int_equal(mapio_engine_metrics(c->eng, &m), 0);
    assert_int_equal(m.write, MANY);
    assert_int_equal(m.write_bytes, MANY * 64);
    assert_int_equal(m.read, 21); /* the checks above: i = 0, 97, ..., 1940 */
    assert_int_equal(m.errors, 0);
}

static void max_inflight_gives_eagain(void **state)
{
    (void)state;
    mapio_engine_t *eng;
    mapio_engine_opts_t o = { .backend = backend, .max_inflight = 8 };
    assert_int_equal(mapio_engine_new(&eng, &o), 0);
    mapio_req_t reqs[9];
    struct rec recs[9] = { { 0 } };
    for (int i = 0; i < 8; i++) {
        reqs[i].data = &recs[i];
        assert_int_equal(mapio_nop(eng, &reqs[i], rec_cb), 0);
    }
    reqs[8].data = &recs[8];
    assert_int_equal(mapio_nop(eng, &reqs[8], rec_cb), MAPIO_EAGAIN);
    assert_int_equal(mapio_engine_run(eng), 8);
    assert_int_equal(recs[8].calls, 0);
    assert_int_equal(mapio_nop(eng, &reqs[8], rec_cb), 0);
    assert_int_equal(mapio_engine_run(eng), 1);
    assert_int_equal(recs[8].calls, 1);
    mapio_engine_free(eng);
}

static void cancel_everything_completes_once(void **state)
{
    struct ctx *c = *state;
    static mapio_req_t reqs[256];
    static struct rec recs[256];
    static unsigned char buf[256][512];
    memset(recs, 0, sizeof recs);
    for (int i = 0; i < 256; i++) {
        reqs[i].data = &recs[i];
        assert_int_equal(mapio_write_at(&c->file, &reqs[i], buf[i], 512, (uint64_t)i * 512, rec_cb),
                         0);
    }
    int accepted = 0;
    for (int i = 0; i < 256; i++) {
        int r = mapio_cancel(&reqs[i]);
        assert_true(r == 0 || r == MAPIO_ENOENT);
        accepted += r == 0;
    }
    /* Nothing ran yet: nobody polled - except MMapIO's copies on the
     * submitting thread, which are done at submission and say so. */
    int expect = (open_mode & MAPIO_OPEN_MMAP) && !(open_mode & MAPIO_OPEN_MMAP_ON_POOL) ? 0 : 256;
    assert_int_equal(accepted, expect);
    assert_int_equal(mapio_engine_run(c->eng), 256);
    int cancelled = 0;
    for (int i = 0; i < 256; i++) {
        assert_int_equal(recs[i].calls, 1);
        assert_true(recs[i].result == 512 || recs[i].result == MAPIO_ECANCELED);
        cancelled += recs[i].result == MAPIO_ECANCELED;
        /* Cancelling a completed request says so. */
        assert_int_equal(mapio_cancel(&reqs[i]), MAPIO_ENOENT);
    }
    assert_int_equal(cancelled, expect);
    mapio_metrics_t m;
    assert_int_equal(mapio_engine_metrics(c->eng, &m), 0);
    assert_int_equal(m.cancelled, expect);
    assert_int_equal(mapio_cancel(NULL), MAPIO_EINVAL);
}

/* Cancel while the backend holds the requests: exactly once either way. */
static void cancel_in_flight(void **state)
{
    struct ctx *c = *state;
    static mapio_req_t reqs[128];
    static struct rec recs[128];
    static unsigned char buf[128][4096];
    memset(recs, 0, sizeof recs);
    for (int i = 0; i < 128; i++) {
        reqs[i].data = &recs[i];
        assert_int_equal(
            mapio_read_at(&c->file, &reqs[i], buf[i], 4096, (uint64_t)i * 4096, rec_cb), 0);
    }
    /* Hand them to the backend without waiting, then cancel. */
    assert_true(mapio_engine_poll(c->eng, 0) >= 0);
    for (int i = 0; i < 128; i++) {
        int r = mapio_cancel(&reqs[i]);
        assert_true(r == 0 || r == MAPIO_ENOENT);
    }
    mapio_engine_run(c->eng);
    for (int i = 0; i < 128; i++) {
        assert_int_equal(recs[i].calls, 1);
        assert_true(recs[i].result >= 0 || recs[i].result == MAPIO_ECANCELED);
    }
}

static void close_with_requests_in_flight(void **state)
{
    struct ctx *c = *state;
    static mapio_req_t reqs[100];
    static struct rec recs[100];
    static unsigned char buf[100][100];
    memset(recs, 0, sizeof recs);
    for (int i = 0; i < 100; i++) {
        reqs[i].data = &recs[i];
        memset(buf[i], i, 100);
        assert_int_equal(mapio_write_at(&c->file, &reqs[i], buf[i], 100, (uint64_t)i * 100, rec_cb),
                         0);
    }
    assert_int_equal(mapio_file_close_blocking(&c->file), 0);
    mapio_req_t late;
    assert_int_equal(mapio_write_at(&c->file, &late, buf[0], 100, 0, rec_cb), MAPIO_EBADF);
    assert_int_equal(mapio_engine_run(c->eng), 100);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(recs[i].calls, 1);
        assert_int_equal(recs[i].result, 100);
    }
    /* The data landed before the descriptor closed. */
    mapio_file_t f;
    assert_int_equal(
        mapio_file_open_blocking(&f, c->eng, c->path, 0, open_mode | MAPIO_OPEN_READ_ONLY), 0);
    unsigned char b[100];
    assert_int_equal(mapio_read_at_blocking(&f, b, 100, 99 * 100), 100);
    assert_int_equal(b[0], 99);
    assert_int_equal(mapio_file_close_blocking(&f), 0);
}

static int refused;
static int again_accepted;
static struct rec again_rec;
static mapio_req_t again[300];
static void free_cb(mapio_req_t *req)
{
    struct rec *r = req->data;
    r->calls++;
    r->result = req->result;
    /* Submitting from a callback: accepted while the engine runs, refused
     * (never lost) once mapio_engine_free has begun. */
    static char b[1];
    int idx = again_accepted + refused;
    again[idx].data = &again_rec;
    int err = mapio_read_at(req->file, &again[idx], b, 1, 0, rec_cb);
    if (err == 0)
        again_accepted++;
    else if (err == MAPIO_ECANCELED || err == MAPIO_EBADF)
        refused++;
}

static void engine_free_with_requests_in_flight(void **state)
{
    (void)state;
    mapio_engine_t *eng;
    mapio_engine_opts_t o = { .backend = backend };
    assert_int_equal(mapio_engine_new(&eng, &o), 0);
    char *p = tu_path("free");
    mapio_file_t f;
    assert_int_equal(mapio_file_open_blocking(&f, eng, p, 2 << 20, open_mode), 0);
    static mapio_req_t reqs[300];
    static struct rec recs[300];
    static unsigned char buf[300][4096];
    memset(recs, 0, sizeof recs);
    refused = again_accepted = 0;
    memset(&again_rec, 0, sizeof again_rec);
    for (int i = 0; i < 300; i++) {
        reqs[i].data = &recs[i];
        assert_int_equal(mapio_read_at(&f, &reqs[i], buf[i], 4096, (uint64_t)i * 4096, free_cb), 0);
        if (i == 150)
            mapio_engine_poll(eng, 0); /* half in the backend, half queued */
    }
    mapio_engine_free(eng); /* also closes f */
    for (int i = 0; i < 300; i++) {
        assert_int_equal(recs[i].calls, 1);
        assert_true(recs[i].result >= 0 || recs[i].result == MAPIO_ECANCELED);
    }
    assert_int_equal(refused + again_accepted, 300);
    assert_true(refused > 0);
    assert_int_equal(again_rec.calls, again_accepted); /* each exactly once */
    assert_int_equal(mapio_file_close_blocking(&f), MAPIO_EBADF);
    unlink(p);
    free(p);
}

static void nop_roundtrip(void **state)
{
    struct ctx *c = *state;
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(mapio_nop(c->eng, &req, rec_cb), 0);
        assert_int_equal(mapio_engine_poll(c->eng, -1), 1);
    }
    assert_int_equal(r.calls, 1000);
    assert_int_equal(r.result, 0);
    assert_int_equal(mapio_nop(NULL, &req, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_nop(c->eng, &req, NULL), MAPIO_EINVAL);
}

static int nested_poll_result;
static void nested_cb(mapio_req_t *req)
{
    nested_poll_result = mapio_engine_poll(req->data, 0);
}

static void poll_inside_callback_is_busy(void **state)
{
    struct ctx *c = *state;
    mapio_req_t req;
    req.data = c->eng;
    assert_int_equal(mapio_nop(c->eng, &req, nested_cb), 0);
    assert_int_equal(mapio_engine_run(c->eng), 1);
    assert_int_equal(nested_poll_result, MAPIO_EBUSY);
    assert_int_equal(mapio_engine_poll(NULL, 0), MAPIO_EINVAL);
    assert_int_equal(mapio_engine_poll(c->eng, 0), 0);
    assert_int_equal(mapio_engine_poll(c->eng, 20), 0); /* timeout with nothing to do */
}

static void engine_fd_becomes_readable(void **state)
{
    struct ctx *c = *state;
    int fd = mapio_engine_fd(c->eng);
    if (fd == MAPIO_ENOTSUP) {
        /* IOCP: a completion port is not a descriptor another loop can poll. */
        printf("skip: the %s backend has no pollable descriptor (mapio_engine_fd: %s)\n", backend,
               mapio_strerror(fd));
        skip();
        return;
    }
    assert_true(fd >= 0);
    unsigned char b[512];
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    /* Submitted outside poll: the fd alone must tell the host loop to poll. */
    assert_int_equal(mapio_write_at(&c->file, &req, b, sizeof b, 0, rec_cb), 0);
    int rounds = 0;
    while (r.calls == 0) {
        assert_int_equal(tu_poll_readable(fd, 5000), 1);
        assert_true(mapio_engine_poll(c->eng, 0) >= 0);
        assert_true(++rounds < 100);
    }
    assert_int_equal(r.result, 512);
}

/* Submitting from other threads while this one polls. */
struct submitter {
    struct ctx *c;
    int id;
    _Atomic int *done;
};
#define THREADS 4
#define PER_THREAD 500
static _Atomic int thread_calls;
static void count_cb(mapio_req_t *req)
{
    assert_int_equal(req->result, 32);
    atomic_fetch_add(&thread_calls, 1);
}

static void *submit_thread(void *arg)
{
    struct submitter *s = arg;
    static mapio_req_t reqs[THREADS][PER_THREAD];
    static unsigned char bufs[THREADS][PER_THREAD][32];
    for (int i = 0; i < PER_THREAD; i++) {
        memset(bufs[s->id][i], s->id, 32);
        uint64_t off = ((uint64_t)s->id * PER_THREAD + (uint64_t)i) * 32;
        int r;
        while ((r = mapio_write_at(&s->c->file, &reqs[s->id][i], bufs[s->id][i], 32, off,
                                   count_cb)) == MAPIO_EAGAIN)
            sched_yield();
        assert_int_equal(r, 0);
    }
    atomic_fetch_add(s->done, 1);
    return NULL;
}

static void submit_from_many_threads(void **state)
{
    struct ctx *c = *state;
    pthread_t t[THREADS];
    struct submitter s[THREADS];
    _Atomic int done = 0;
    thread_calls = 0;
    for (int i = 0; i < THREADS; i++) {
        s[i] = (struct submitter){ c, i, &done };
        assert_int_equal(pthread_create(&t[i], NULL, submit_thread, &s[i]), 0);
    }
    while (atomic_load(&thread_calls) < THREADS * PER_THREAD)
        assert_true(mapio_engine_poll(c->eng, 100) >= 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&thread_calls), THREADS * PER_THREAD);
    unsigned char b[32];
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(
            mapio_read_at_blocking(&c->file, b, 32, ((uint64_t)i * PER_THREAD + 7) * 32), 32);
        assert_int_equal(b[31], i);
    }
}

/* Blocking twins from many threads on one file. */
struct twin_arg {
    mapio_file_t *f;
    int id;
};
static void *twin_thread(void *arg)
{
    struct twin_arg *a = arg;
    unsigned char w[1000], rd[1000];
    for (int i = 0; i < 200; i++) {
        uint64_t off = ((uint64_t)a->id * 200 + (uint64_t)i) * 1000;
        tu_fill(w, sizeof w, off);
        if (mapio_write_at_blocking(a->f, w, sizeof w, off) != 1000)
            return (void *)1;
        if (mapio_read_at_blocking(a->f, rd, sizeof rd, off) != 1000 || memcmp(w, rd, sizeof w))
            return (void *)1;
        if (i % 50 == 0 && mapio_sync_data_blocking(a->f) != 0)
            return (void *)1;
    }
    return NULL;
}

static void blocking_twins_from_many_threads(void **state)
{
    struct ctx *c = *state;
    pthread_t t[THREADS];
    struct twin_arg a[THREADS];
    for (int i = 0; i < THREADS; i++) {
        a[i] = (struct twin_arg){ &c->file, i };
        assert_int_equal(pthread_create(&t[i], NULL, twin_thread, &a[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        assert_null(ret);
    }
    mapio_metrics_t m;
    assert_int_equal(mapio_file_metrics(&c->file, &m), 0);
    assert_int_equal(m.write, THREADS * 200);
    assert_int_equal(m.read, THREADS * 200);
    assert_int_equal(m.sync, THREADS * 4);
}

/* No heap allocation per operation: 100 000 of them, counted. */
static void counting_cb(mapio_req_t *req)
{
    (*(int *)req->data)++;
}

static void no_allocation_per_operation(void **state)
{
    struct ctx *c = *state;
    enum { DEPTH = 32, TOTAL = 100000 };
    static mapio_req_t reqs[DEPTH];
    static unsigned char bufs[DEPTH][4096];
    int done = 0;
    /* Warm up: first use may set up lazily-created state. */
    for (int i = 0; i < DEPTH; i++) {
        reqs[i].data = &done;
        assert_int_equal(
            mapio_write_at(&c->file, &reqs[i], bufs[i], 4096, (uint64_t)i * 4096, counting_cb), 0);
    }
    mapio_engine_run(c->eng);
    uint64_t before = mapio__alloc_count();
    int submitted = 0;
    done = 0;
    while (done < TOTAL) {
        for (int i = 0; i < DEPTH && submitted < TOTAL; i++) {
            int r;
            mapio_op_t kind = (mapio_op_t)(submitted % 3);
            if (kind == 0)
                r = mapio_read_at(&c->file, &reqs[i], bufs[i], 4096, (uint64_t)i * 4096,
                                  counting_cb);
            else if (kind == 1)
                r = mapio_write_at(&c->file, &reqs[i], bufs[i], 4096, (uint64_t)i * 4096,
                                   counting_cb);
            else
                r = mapio_nop(c->eng, &reqs[i], counting_cb);
            assert_int_equal(r, 0);
            submitted++;
        }
        assert_true(mapio_engine_run(c->eng) > 0);
        if (submitted % 9600 == 0)
            assert_int_equal(mapio_sync_data_blocking(&c->file), 0);
    }
    assert_int_equal(done, TOTAL);
    assert_int_equal(mapio__alloc_count() - before, 0);
}

/* The opt-in io_uring features: SQPOLL, fixed files, fixed buffers. Other
 * backends accept register_buffers and ignore the flags' io_uring meaning. */
static void opt_in_features(void **state)
{
    (void)state;
    static const unsigned flag_sets[] = { 0, MAPIO_ENGINE_SQPOLL, MAPIO_ENGINE_REGISTER_FILES,
                                          MAPIO_ENGINE_SQPOLL | MAPIO_ENGINE_REGISTER_FILES };
    for (size_t k = 0; k < sizeof flag_sets / sizeof *flag_sets; k++) {
        mapio_engine_t *eng;
        mapio_engine_opts_t o = { .backend = backend, .flags = flag_sets[k] };
        int err = mapio_engine_new(&eng, &o);
        if (err == MAPIO_EPERM || err == MAPIO_ENOMEM) {
            printf("skip flags %#x: %s\n", flag_sets[k], mapio_strerror(err));
            continue;
        }
        assert_int_equal(err, 0);
        static unsigned char pool[2][65536];
        mapio_iovec_t bufs[2] = { { pool[0], sizeof pool[0] }, { pool[1], sizeof pool[1] } };
        assert_int_equal(mapio_engine_register_buffers(eng, bufs, 2), 0);
        char *p = tu_path("opts");
        mapio_file_t f;
        assert_int_equal(mapio_file_open_blocking(&f, eng, p, 0, 0), 0);
        static unsigned char outside[3000];
        for (int i = 0; i < 20; i++) {
            /* Inside a registered buffer (fixed I/O) and outside one (plain). */
            unsigned char *w = i % 2 ? pool[0] + 100 : outside;
            unsigned char *r = pool[1] + 7;
            tu_fill(w, 3000, (uint64_t)i);
            mapio_req_t req;
            struct rec rr = { 0 };
            req.data = &rr;
            assert_int_equal(mapio_write_at(&f, &req, w, 3000, (uint64_t)i * 3000, rec_cb), 0);
            assert_int_equal(mapio_engine_run(eng), 1);
            assert_int_equal(rr.result, 3000);
            memset(&rr, 0, sizeof rr);
            assert_int_equal(mapio_read_at(&f, &req, r, 3000, (uint64_t)i * 3000, rec_cb), 0);
            assert_int_equal(mapio_engine_run(eng), 1);
            assert_int_equal(rr.result, 3000);
            assert_memory_equal(w, r, 3000);
        }
        assert_int_equal(mapio_engine_register_buffers(eng, NULL, 1), MAPIO_EINVAL);
        assert_int_equal(mapio_engine_register_buffers(eng, NULL, 0), 0);
        assert_int_equal(mapio_file_close_blocking(&f), 0);
        mapio_engine_free(eng);
        unlink(p);
        free(p);
    }
}

static void strerror_covers_every_code(void **state)
{
    (void)state;
#define CHECK_CODE(name, text)                                                                     \
    assert_string_equal(mapio_strerror(MAPIO_##name), text);                                       \
    assert_string_equal(mapio_strerror(name), text);                                               \
    assert_string_equal(mapio_err_name(MAPIO_##name), #name);
    MAPIO_ERRNO_MAP(CHECK_CODE)
#undef CHECK_CODE
    assert_string_equal(mapio_strerror(0), "success");
    assert_string_equal(mapio_strerror(-99999), "unknown error");
    assert_string_equal(mapio_err_name(-99999), "UNKNOWN");
    assert_string_equal(mapio_op_name(MAPIO_OP_READ), "read");
    assert_string_equal(mapio_op_name(MAPIO_OP_COUNT), "unknown");
}

static void engine_options_are_checked(void **state)
{
    (void)state;
    mapio_engine_t *eng = (mapio_engine_t *)1;
    assert_int_equal(mapio_engine_new(NULL, NULL), MAPIO_EINVAL);
    mapio_engine_opts_t o = { .backend = "no-such-backend" };
    assert_int_equal(mapio_engine_new(&eng, &o), MAPIO_EINVAL);
    assert_null(eng);
    o = (mapio_engine_opts_t){ .backend = backend, .flags = 1u << 30 };
    assert_int_equal(mapio_engine_new(&eng, &o), MAPIO_EINVAL);
    o = (mapio_engine_opts_t){ .backend = backend, .workers = 100000 };
    assert_int_equal(mapio_engine_new(&eng, &o), MAPIO_EINVAL);
    mapio_engine_free(NULL);
    assert_string_equal(mapio_engine_backend(NULL), "none");
    assert_null(mapio_engine_fallback_reason(NULL));
    mapio_metrics_t m;
    assert_int_equal(mapio_engine_metrics(NULL, &m), MAPIO_EINVAL);
}

/* ---- contracts found broken from outside (issue 13) -------------------------- */

/*
 * A cancel that lands between two pieces of a request - after a short first
 * piece reached the OS - must not turn into MAPIO_ECANCELED: part of the
 * request is in the file, so it completes with its real result. The fault
 * hooks shorten the first call and cancel from its after() hook, which is
 * exactly "between pieces" on every backend (the pool backends finish the
 * request in one job, so there the cancel finds nothing to stop).
 */
struct split_ctx {
    mapio_req_t *target;
    _Atomic int calls;
    _Atomic int cancel_rc;
};

static int64_t split_before(void *ctx, const mapio_fault_call_t *call)
{
    struct split_ctx *s = ctx;
    if (call->op == MAPIO_OP_FDATASYNC || call->op == MAPIO_OP_FSYNC || call->len < 2)
        return MAPIO_FAULT_PASS;
    return atomic_load(&s->calls) == 0 ? (int64_t)(call->len / 2) : MAPIO_FAULT_PASS;
}

static int64_t split_after(void *ctx, const mapio_fault_call_t *call, int64_t res)
{
    struct split_ctx *s = ctx;
    if (call->op != MAPIO_OP_FDATASYNC && call->op != MAPIO_OP_FSYNC &&
        atomic_fetch_add(&s->calls, 1) == 0)
        atomic_store(&s->cancel_rc, mapio_cancel(s->target));
    return res;
}

enum split_kind { SPLIT_WRITE, SPLIT_WRITEV, SPLIT_DSYNC, SPLIT_COMMIT, SPLIT_READ };

static void cancel_between_pieces(struct ctx *c, enum split_kind kind)
{
    static unsigned char a[8192], b[8192], got[8192];
    tu_fill(a, sizeof a, 40 + kind);
    tu_fill(b, sizeof b, 50 + kind);
    mapio_req_t req;
    memset(&req, 0, sizeof req);
    struct rec r = { 0 };
    req.data = &r;
    if (kind == SPLIT_READ)
        assert_int_equal(mapio_write_at_blocking(&c->file, a, sizeof a, 0), (int64_t)sizeof a);
    struct split_ctx s = { .target = &req };
    mapio_fault_hooks_t h = { .ctx = &s, .before = split_before, .after = split_after };
    assert_int_equal(mapio_fault_set(c->eng, &h), 0);
    mapio_iovec_t iov[2] = { { a, 4096 }, { a + 4096, 4096 } };
    mapio_write_t batch[2] = { { a, 4096, 0 }, { b, 4096, 65536 } };
    int rc = 0;
    int64_t want = sizeof a;
    switch (kind) {
    case SPLIT_WRITE:
        rc = mapio_write_at(&c->file, &req, a, sizeof a, 0, rec_cb);
        break;
    case SPLIT_WRITEV:
        rc = mapio_writev_at(&c->file, &req, iov, 2, 0, rec_cb);
        break;
    case SPLIT_DSYNC:
        rc = mapio_write_at_flags(&c->file, &req, a, sizeof a, 0, MAPIO_WRITE_DSYNC, rec_cb);
        break;
    case SPLIT_COMMIT:
        rc = mapio_commit(&c->file, &req, batch, 2, rec_cb);
        want = 0;
        break;
    case SPLIT_READ:
        rc = mapio_read_at(&c->file, &req, got, sizeof got, 0, rec_cb);
        break;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(wait_one(c->eng, &r), want);
    assert_true(atomic_load(&s.calls) >= 2); /* it really went in pieces */
    int crc = atomic_load(&s.cancel_rc);
    assert_true(crc == 0 || crc == MAPIO_ENOENT);
    assert_int_equal(mapio_fault_set(c->eng, NULL), 0);
    if (kind == SPLIT_READ) {
        assert_memory_equal(got, a, sizeof a);
    } else {
        assert_int_equal(mapio_read_at_blocking(&c->file, got, 4096, 0), 4096);
        assert_memory_equal(got, a, 4096);
        assert_int_equal(
            mapio_read_at_blocking(&c->file, got, 4096, kind == SPLIT_COMMIT ? 65536 : 4096), 4096);
        assert_memory_equal(got, kind == SPLIT_COMMIT ? b : a + 4096, 4096);
    }
}

static void cancel_after_partial_progress_reports_real_result(void **state)
{
    struct ctx *c = *state;
    cancel_between_pieces(c, SPLIT_WRITE);
    cancel_between_pieces(c, SPLIT_WRITEV);
    cancel_between_pieces(c, SPLIT_DSYNC);
    cancel_between_pieces(c, SPLIT_COMMIT);
    cancel_between_pieces(c, SPLIT_READ);
}

/* Resubmitting a request that is still in flight is refused, on every
 * submitting call, and the callback of the first submission runs once. */
static void resubmit_in_flight_is_busy(void **state)
{
    struct ctx *c = *state;
    static unsigned char buf[4096];
    mapio_req_t req;
    memset(&req, 0, sizeof req);
    struct rec r = { 0 };
    req.data = &r;
    mapio_iovec_t iov = { buf, sizeof buf };
    mapio_write_t w = { buf, sizeof buf, 0 };
    for (int round = 0; round < 2; round++) {
        memset(&r, 0, sizeof r);
        assert_int_equal(mapio_write_at(&c->file, &req, buf, sizeof buf, 0, rec_cb), 0);
        if (round == 1)
            assert_true(mapio_engine_poll(c->eng, 0) >= 0); /* now the backend may hold it */
        if (r.calls == 0) {
            assert_int_equal(mapio_read_at(&c->file, &req, buf, 1, 0, rec_cb), MAPIO_EBUSY);
            assert_int_equal(mapio_write_at(&c->file, &req, buf, 1, 0, rec_cb), MAPIO_EBUSY);
            assert_int_equal(mapio_readv_at(&c->file, &req, &iov, 1, 0, rec_cb), MAPIO_EBUSY);
            assert_int_equal(mapio_writev_at(&c->file, &req, &iov, 1, 0, rec_cb), MAPIO_EBUSY);
            assert_int_equal(
                mapio_write_at_flags(&c->file, &req, buf, 1, 0, MAPIO_WRITE_DSYNC, rec_cb),
                MAPIO_EBUSY);
            assert_int_equal(mapio_sync_data(&c->file, &req, rec_cb), MAPIO_EBUSY);
            assert_int_equal(mapio_sync_all(&c->file, &req, rec_cb), MAPIO_EBUSY);
            assert_int_equal(mapio_commit(&c->file, &req, &w, 1, rec_cb), MAPIO_EBUSY);
            assert_int_equal(mapio_fallocate(&c->file, &req, 0, 4096, 0, rec_cb), MAPIO_EBUSY);
            assert_int_equal(mapio_nop(c->eng, &req, rec_cb), MAPIO_EBUSY);
        }
        /* Read before the run: the order in which arguments are evaluated is
         * unspecified (clang runs mapio_engine_run first). */
        int expect = r.calls == 0 ? 1 : 0;
        assert_int_equal(mapio_engine_run(c->eng), expect);
        assert_int_equal(r.calls, 1);
        assert_int_equal(r.result, (int64_t)sizeof buf);
        assert_int_equal(mapio_engine_inflight(c->eng), 0);
    }
    /* Once its callback has run the request is the caller's again. */
    memset(&r, 0, sizeof r);
    assert_int_equal(mapio_nop(c->eng, &req, rec_cb), 0);
    assert_int_equal(mapio_engine_run(c->eng), 1);
    assert_int_equal(r.calls, 1);
}

/* mapio_file_open_blocking refuses a handle that is open, or closed but still referenced
 * by requests in flight; it keeps the caller's data field. */
static void open_into_busy_handle_is_refused(void **state)
{
    struct ctx *c = *state;
    static unsigned char buf[512];
    int tag = 7;
    c->file.data = &tag;
    assert_int_equal(mapio_file_open_blocking(&c->file, c->eng, c->path, open_size, open_mode),
                     MAPIO_EBUSY);
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_write_at(&c->file, &req, buf, sizeof buf, 0, rec_cb), 0);
    assert_int_equal(mapio_file_close_blocking(&c->file), 0);
    /* Closed, but its request still holds it. */
    int rc = mapio_file_open_blocking(&c->file, c->eng, c->path, open_size, open_mode);
    assert_int_equal(rc, MAPIO_EBUSY);
    assert_int_equal(mapio_engine_run(c->eng), 1);
    assert_int_equal(r.result, (int64_t)sizeof buf);
    assert_int_equal(mapio_file_open_blocking(&c->file, c->eng, c->path, open_size, open_mode), 0);
    assert_ptr_equal(c->file.data, &tag);
    mapio_file_t fresh;
    fresh.data = &tag;
    assert_int_equal(mapio_file_open_blocking(&fresh, c->eng, c->path, open_size, open_mode), 0);
    assert_ptr_equal(fresh.data, &tag);
    assert_int_equal(mapio_file_close_blocking(&fresh), 0);
}

/* mapio_cancel is thread-safe: several threads cancelling the same requests,
 * while they complete and are resubmitted, lose nothing and race on nothing
 * (run under TSan in CI). */
#define CC_REQS 64
#define CC_ROUNDS 40
#define CC_THREADS 3
struct cc_state {
    struct ctx *c;
    mapio_req_t reqs[CC_REQS];
    struct rec recs[CC_REQS];
    unsigned char bufs[CC_REQS][512];
    _Atomic int stop;
    _Atomic long cancels;
};

static void *cc_canceller(void *arg)
{
    struct cc_state *st = arg;
    while (!atomic_load(&st->stop)) {
        for (int i = 0; i < CC_REQS; i++) {
            int rc = mapio_cancel(&st->reqs[i]);
            assert_true(rc == 0 || rc == MAPIO_ENOENT);
            atomic_fetch_add(&st->cancels, rc == 0);
        }
    }
    return NULL;
}

static void concurrent_cancels_of_the_same_requests(void **state)
{
    struct ctx *c = *state;
    struct cc_state *st = calloc(1, sizeof *st);
    st->c = c;
    pthread_t th[CC_THREADS];
    for (int i = 0; i < CC_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, cc_canceller, st), 0);
    long completed = 0;
    for (int round = 0; round < CC_ROUNDS; round++) {
        for (int i = 0; i < CC_REQS; i++) {
            st->reqs[i].data = &st->recs[i];
            int rc = (i & 1) ? mapio_write_at(&c->file, &st->reqs[i], st->bufs[i], 512,
                                              (uint64_t)i * 512, rec_cb)
                             : mapio_read_at(&c->file, &st->reqs[i], st->bufs[i], 512,
                                             (uint64_t)i * 512, rec_cb);
            assert_int_equal(rc, 0);
        }
        int n = mapio_engine_run(c->eng);
        assert_int_equal(n, CC_REQS);
        completed += n;
        for (int i = 0; i < CC_REQS; i++) {
            assert_int_equal(st->recs[i].calls, round + 1);
            int64_t res = st->recs[i].result;
            assert_true(res == MAPIO_ECANCELED || ((i & 1) ? res == 512 : res >= 0));
        }
    }
    atomic_store(&st->stop, 1);
    for (int i = 0; i < CC_THREADS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(completed, (long)CC_REQS * CC_ROUNDS);
    assert_int_equal(mapio_engine_inflight(c->eng), 0);
    free(st);
}

/*
 * A wake that arrives after the poller decided to sleep but before the
 * backend's wait blocks must end that wait (a submission from another
 * thread, or the MMapIO copy pool's completions, rely on it). Call the
 * backend ops directly: wake, then wait forever; a watchdog turns the old
 * behaviour - the wait swallowed the wake and slept - into a failure.
 */
static _Atomic int wait_returned;
static void *wake_watchdog(void *arg)
{
    (void)arg;
    for (int i = 0; i < 300 && !atomic_load(&wait_returned); i++) {
        struct timespec ts = { 0, 100000000 };
        nanosleep(&ts, NULL);
    }
    if (!atomic_load(&wait_returned)) {
        fprintf(stderr, "wake_before_wait_ends_it: the backend's wait swallowed a wake\n");
        fflush(stderr);
        _Exit(1);
    }
    return NULL;
}

static void wake_before_wait_ends_it(void **state)
{
    struct ctx *c = *state;
    atomic_store(&wait_returned, 0);
    pthread_t dog;
    assert_int_equal(pthread_create(&dog, NULL, wake_watchdog, NULL), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(MAPIO__BE(c->eng, wake, c->eng->be), 0);
        assert_true(MAPIO__BE(c->eng, wait, c->eng->be, -1) >= 0);
    }
    atomic_store(&wait_returned, 1);
    pthread_join(dog, NULL);
    /* The engine still works afterwards. */
    assert_int_equal(do_write(c, "w", 1, 0), 1);
}

/*
 * mapio_sync_data reaches fdatasync and mapio_sync_all fsync, on every
 * backend: the fault hooks see which sync each call is, and the OS table
 * sees the ones made through it (everything but io_uring's own syncs, which
 * the kernel makes from the opcode the hooks saw).
 */
static _Atomic int hook_ops[MAPIO_OP_COUNT];
static _Atomic int os_fdatasyncs, os_fsyncs;
static int64_t op_counting_before(void *ctx, const mapio_fault_call_t *call)
{
    (void)ctx;
    if (call->op >= 0 && call->op < MAPIO_OP_COUNT)
        atomic_fetch_add(&hook_ops[call->op], 1);
    return MAPIO_FAULT_PASS;
}
static int counting_fdatasync(mapio_fd_t fd)
{
    atomic_fetch_add(&os_fdatasyncs, 1);
    return mapio__os_default.fdatasync(fd);
}
static int counting_fsync(mapio_fd_t fd)
{
    atomic_fetch_add(&os_fsyncs, 1);
    return mapio__os_default.fsync(fd);
}

static void syncs_reach_the_right_call(void **state)
{
    struct ctx *c = *state;
    for (int i = 0; i < MAPIO_OP_COUNT; i++)
        atomic_store(&hook_ops[i], 0);
    atomic_store(&os_fdatasyncs, 0);
    atomic_store(&os_fsyncs, 0);
    mapio_fault_hooks_t h = { .before = op_counting_before };
    assert_int_equal(mapio_fault_set(c->eng, &h), 0);
    mapio__os.fdatasync = counting_fdatasync;
    mapio__os.fsync = counting_fsync;

    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_sync_data(&c->file, &req, rec_cb), 0);
    assert_int_equal(wait_one(c->eng, &r), 0);
    memset(&r, 0, sizeof r);
    assert_int_equal(mapio_sync_all(&c->file, &req, rec_cb), 0);
    assert_int_equal(wait_one(c->eng, &r), 0);
    memset(&r, 0, sizeof r);
    mapio_write_t w = { "c", 1, 0 };
    assert_int_equal(mapio_commit(&c->file, &req, &w, 1, rec_cb), 0);
    assert_int_equal(wait_one(c->eng, &r), 0);
    assert_int_equal(mapio_sync_data_blocking(&c->file), 0);
    assert_int_equal(mapio_sync_all_blocking(&c->file), 0);

    mapio__os.fdatasync = mapio__os_default.fdatasync;
    mapio__os.fsync = mapio__os_default.fsync;
    assert_int_equal(mapio_fault_set(c->eng, NULL), 0);
    /* sync_data, the commit's group sync and the twin; sync_all and its twin. */
    assert_int_equal(atomic_load(&hook_ops[MAPIO_OP_FDATASYNC]), 3);
    assert_int_equal(atomic_load(&hook_ops[MAPIO_OP_FSYNC]), 2);
    bool kernel_syncs = strcmp(backend, "uring") == 0;
    assert_int_equal(atomic_load(&os_fdatasyncs), kernel_syncs ? 1 : 3);
    assert_int_equal(atomic_load(&os_fsyncs), kernel_syncs ? 1 : 2);
}

/* Small contracts (issue 13, item 8). */
static int run_inside_result, free_inside_result;
static void run_inside_cb(mapio_req_t *req)
{
    run_inside_result = mapio_engine_run(req->data);
    free_inside_result = mapio_engine_free(req->data);
}

static void small_contracts_hold(void **state)
{
    struct ctx *c = *state;
    /* mapio_engine_run from a callback is MAPIO_EBUSY, as poll is, even
     * when nothing else is in flight. */
    mapio_req_t req;
    req.data = c->eng;
    run_inside_result = 1;
    assert_int_equal(mapio_nop(c->eng, &req, run_inside_cb), 0);
    assert_int_equal(mapio_engine_run(c->eng), 1);
    assert_int_equal(run_inside_result, MAPIO_EBUSY);
    /* Freeing the engine under the poll that runs the callback: refused. */
    assert_int_equal(free_inside_result, MAPIO_EBUSY);

    /* An empty file opened with size 0 stays in its mode: in MMapIO, a
     * write past the (empty) mapping is MAPIO_ERANGE, never a pwrite. */
    char *p = tu_path("empty");
    mapio_file_t f;
    assert_int_equal(mapio_file_open_blocking(&f, c->eng, p, 0, open_mode), 0);
    assert_int_equal(mapio_file_size(&f), 0);
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_write_at(&f, &req, "abc", 3, 0, rec_cb), 0);
    assert_int_equal(wait_one(c->eng, &r), open_mode != 0 ? MAPIO_ERANGE : 3);
    assert_int_equal(tu_file_size(p), open_mode != 0 ? 0 : 3);
    char b[8];
    memset(&r, 0, sizeof r);
    assert_int_equal(mapio_read_at(&f, &req, b, sizeof b, 0, rec_cb), 0);
    assert_int_equal(wait_one(c->eng, &r), open_mode != 0 ? 0 : 3);
    assert_int_equal(mapio_file_close_blocking(&f), 0);

    /* A read-only open never reports more than the file has. */
    assert_int_equal(tu_write_file(p, "0123456789", 10), 0);
    assert_int_equal(
        mapio_file_open_blocking(&f, c->eng, p, 4096, open_mode | MAPIO_OPEN_READ_ONLY), 0);
    assert_int_equal(mapio_file_size(&f), 10);
    memset(&r, 0, sizeof r);
    assert_int_equal(mapio_read_at(&f, &req, b, sizeof b, 4, rec_cb), 0);
    assert_int_equal(wait_one(c->eng, &r), 6);
    assert_memory_equal(b, "456789", 6);
    assert_int_equal(mapio_file_close_blocking(&f), 0);
    assert_int_equal(mapio_file_open_blocking(&f, c->eng, p, 4, open_mode | MAPIO_OPEN_READ_ONLY),
                     0);
    assert_int_equal(mapio_file_size(&f), 4);
    assert_int_equal(mapio_file_close_blocking(&f), 0);
    assert_int_equal(tu_file_size(p), 10);
    tu_unlink(p);
    free(p);
}

int main(void)
{
    backend = getenv("MAPIO_BACKEND");
    if (backend == NULL || backend[0] == '\0') {
        fprintf(stderr, "conformance: set MAPIO_BACKEND to the backend under test\n");
        return 1;
    }
    const char *mode = getenv("MAPIO_TEST_OPEN");
    if (mode != NULL && strcmp(mode, "mmap") == 0)
        open_mode = MAPIO_OPEN_MMAP;
    else if (mode != NULL && strcmp(mode, "mmap-pool") == 0)
        open_mode = MAPIO_OPEN_MMAP | MAPIO_OPEN_MMAP_ON_POOL;
    else if (mode != NULL && mode[0] != '\0') {
        fprintf(stderr, "conformance: MAPIO_TEST_OPEN is mmap, mmap-pool or empty\n");
        return 1;
    }
    open_size = open_mode != 0 ? MAPPED_SIZE : 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(backend_is_the_one_asked_for, setup, teardown),
        cmocka_unit_test_setup_teardown(roundtrip_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(utf8_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(vectored_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(read_at_eof_is_short, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_arguments_fail_early, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_open_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(open_sizes_and_truncate, setup, teardown),
        cmocka_unit_test_setup_teardown(syncs_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(exactly_once_on_poll_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(max_inflight_gives_eagain, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_everything_completes_once, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(close_with_requests_in_flight, setup, teardown),
        cmocka_unit_test(engine_free_with_requests_in_flight),
        cmocka_unit_test_setup_teardown(nop_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(poll_inside_callback_is_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(engine_fd_becomes_readable, setup, teardown),
        cmocka_unit_test_setup_teardown(submit_from_many_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(blocking_twins_from_many_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(no_allocation_per_operation, setup, teardown),
        cmocka_unit_test(opt_in_features),
        cmocka_unit_test(strerror_covers_every_code),
        cmocka_unit_test(engine_options_are_checked),
        cmocka_unit_test_setup_teardown(cancel_after_partial_progress_reports_real_result, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(resubmit_in_flight_is_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(open_into_busy_handle_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_cancels_of_the_same_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(wake_before_wait_ends_it, setup, teardown),
        cmocka_unit_test_setup_teardown(syncs_reach_the_right_call, setup, teardown),
        cmocka_unit_test_setup_teardown(small_contracts_hold, setup, teardown),
    };
    char name[64];
    snprintf(name, sizeof name, "%s%s%s", backend, mode != NULL && mode[0] ? "-" : "",
             mode != NULL ? mode : "");
    return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}
