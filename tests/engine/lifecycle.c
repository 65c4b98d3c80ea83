/*
 * tests/engine/lifecycle.c - a file's life through the engine, on every
 * backend: opening and closing without blocking, adopting a descriptor,
 * stat and truncate, the names around a file (rename, unlink, mkdir,
 * directory sync, all relative to a directory handle), write-behind,
 * timers and deadlines - each with its bad inputs and its OS errors.
 *
 * meson runs it once per compiled backend with MAPIO_BACKEND set.
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

#include "mapio.h"
#include "testutil.h"

static const char *backend;

/* ---- small drivers ------------------------------------------------------------- */

struct rec {
    int calls;
    int64_t result;
    int order; /* when it completed, among the recs of one test */
};

static int completed;

static void rec_cb(mapio_req_t *req)
{
    struct rec *r = req->data;
    r->calls++;
    r->result = req->result;
    r->order = ++completed;
}

static mapio_engine_t *engine(unsigned workers)
{
    mapio_engine_t *eng;
    mapio_engine_opts_t o = { .backend = backend, .workers = workers };
    assert_int_equal(mapio_engine_new(&eng, &o), 0);
    assert_string_equal(mapio_engine_backend(eng), backend);
    completed = 0;
    return eng;
}

static int64_t wait_rec(mapio_engine_t *eng, struct rec *r)
{
    while (r->calls == 0)
        assert_true(mapio_engine_poll(eng, -1) >= 0);
    assert_int_equal(r->calls, 1);
    return r->result;
}

/* A refused call never runs its callback: poll, and look. */
static void assert_never_ran(mapio_engine_t *eng, const struct rec *r)
{
    assert_true(mapio_engine_poll(eng, 0) >= 0);
    assert_int_equal(r->calls, 0);
}

/* Each runs one request to its end and returns its result. */
static int64_t op_open(mapio_engine_t *eng, mapio_file_t *f, const mapio_file_t *dir,
                       const char *path, uint64_t size, unsigned flags)
{
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_file_open(f, eng, &req, dir, path, size, flags, rec_cb), 0);
    return wait_rec(eng, &r);
}

static int64_t op_close(mapio_engine_t *eng, mapio_file_t *f)
{
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_file_close(f, &req, rec_cb), 0);
    return wait_rec(eng, &r);
}

static int64_t op_stat(mapio_engine_t *eng, mapio_file_t *f, mapio_stat_t *st)
{
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_file_stat(f, &req, st, rec_cb), 0);
    return wait_rec(eng, &r);
}

static int64_t op_truncate(mapio_engine_t *eng, mapio_file_t *f, uint64_t size)
{
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_file_truncate(f, &req, size, rec_cb), 0);
    return wait_rec(eng, &r);
}

static int64_t op_rename(mapio_engine_t *eng, const mapio_file_t *od, const char *op,
                         const mapio_file_t *nd, const char *np, unsigned flags)
{
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_rename(eng, &req, od, op, nd, np, flags, rec_cb), 0);
    return wait_rec(eng, &r);
}

static int64_t op_unlink(mapio_engine_t *eng, const mapio_file_t *dir, const char *path,
                         unsigned flags)
{
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_unlink(eng, &req, dir, path, flags, rec_cb), 0);
    return wait_rec(eng, &r);
}

static int64_t op_mkdir(mapio_engine_t *eng, const mapio_file_t *dir, const char *path)
{
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_mkdir(eng, &req, dir, path, 0, rec_cb), 0);
    return wait_rec(eng, &r);
}

static int64_t op_sync_dir(mapio_engine_t *eng, const mapio_file_t *dir, const char *path)
{
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_sync_dir(eng, &req, dir, path, rec_cb), 0);
    return wait_rec(eng, &r);
}

static int64_t op_sync_range(mapio_engine_t *eng, mapio_file_t *f, uint64_t off, uint64_t len,
                             unsigned flags)
{
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_sync_range(f, &req, off, len, flags, rec_cb), 0);
    return wait_rec(eng, &r);
}

static int64_t op_write(mapio_engine_t *eng, mapio_file_t *f, const void *buf, size_t len,
                        uint64_t off)
{
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_write_at(f, &req, buf, len, off, rec_cb), 0);
    return wait_rec(eng, &r);
}

/* dir/name, for the checks made straight through the OS. */
static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* A fresh directory, and a handle on it. */
static char *open_dir(mapio_engine_t *eng, mapio_file_t *d)
{
    char *path = tu_path("dir");
    assert_int_equal(tu_mkdir(path), 0);
    assert_int_equal(op_open(eng, d, NULL, path, 0, MAPIO_OPEN_DIRECTORY), 0);
    return path;
}

#define S_TYPE(mode) ((mode)&0170000u)
#define S_REGULAR 0100000u
#define S_DIRECTORY 0040000u

/* ---- opening and closing ----------------------------------------------------------- */

static void open_and_close_without_blocking(void **state)
{
    (void)state;
    mapio_engine_t *eng = engine(0);
    char *path = tu_path("open");
    mapio_file_t f;
    assert_int_equal(op_open(eng, &f, NULL, path, 4096, 0), 0);
    assert_int_equal(mapio_file_size(&f), 4096);
    assert_int_equal(tu_file_size(path), 4096);
    assert_int_equal(op_write(eng, &f, "hello", 5, 0), 5);
    assert_int_equal(op_close(eng, &f), 0);

    /* Closed: every call says so, and a second close is refused. */
    char buf[8];
    assert_int_equal(mapio_read_at_blocking(&f, buf, 5, 0), MAPIO_EBADF);
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_file_close(&f, &req, rec_cb), MAPIO_EBADF);
    assert_never_ran(eng, &r);

    /* The same handle opens again; what was written is there. */
    assert_int_equal(op_open(eng, &f, NULL, path, 0, MAPIO_OPEN_NO_CREATE), 0);
    assert_int_equal(mapio_file_size(&f), 4096);
    assert_int_equal(mapio_read_at_blocking(&f, buf, 5, 0), 5);
    assert_memory_equal(buf, "hello", 5);
    /* Truncated at open, as the blocking open would. */
    assert_int_equal(mapio_file_close_blocking(&f), 0);
    assert_int_equal(op_open(eng, &f, NULL, path, 100, MAPIO_OPEN_TRUNCATE), 0);
    assert_int_equal(tu_file_size(path), 100);
    assert_int_equal(op_close(eng, &f), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(path);
}

static void open_reports_os_errors_in_its_callback(void **state)
{
    (void)state;
    mapio_engine_t *eng = engine(0);
    char *missing = tu_path("missing");
    char *file = tu_path("plain");
    char *dir = tu_path("adir");
    assert_int_equal(tu_write_file(file, "x", 1), 0);
    assert_int_equal(tu_mkdir(dir), 0);
    char *under_file = join(file, "x");
    mapio_file_t f;

    assert_int_equal(op_open(eng, &f, NULL, missing, 0, MAPIO_OPEN_NO_CREATE), MAPIO_ENOENT);
    assert_int_equal(tu_exists(missing), 0);
    /* A failed open leaves a closed handle, which can be opened again. */
    assert_int_equal(mapio_write_at_blocking(&f, "x", 1, 0), MAPIO_EBADF);
    assert_int_equal(op_open(eng, &f, NULL, missing, 0, MAPIO_OPEN_READ_ONLY), MAPIO_ENOENT);
    assert_int_equal(op_open(eng, &f, NULL, file, 0, MAPIO_OPEN_CREATE_NEW), MAPIO_EEXIST);
    assert_int_equal(op_open(eng, &f, NULL, under_file, 0, 0), MAPIO_ENOTDIR);
    assert_int_equal(op_open(eng, &f, NULL, dir, 0, 0), MAPIO_EISDIR);
    assert_int_equal(op_open(eng, &f, NULL, dir, 0, MAPIO_OPEN_READ_ONLY), MAPIO_EISDIR);
    assert_int_equal(op_open(eng, &f, NULL, file, 0, MAPIO_OPEN_DIRECTORY), MAPIO_ENOTDIR);
    assert_int_equal(op_open(eng, &f, NULL, missing, 0, MAPIO_OPEN_DIRECTORY), MAPIO_ENOENT);
    /* The blocking open says the same. */
    assert_int_equal(mapio_file_open_blocking(&f, eng, dir, 0, 0), MAPIO_EISDIR);
    assert_int_equal(mapio_file_open_blocking(&f, eng, file, 0, MAPIO_OPEN_DIRECTORY),
                     MAPIO_ENOTDIR);
    /* ... and after all that the handle still works. */
    assert_int_equal(op_open(eng, &f, NULL, file, 0, MAPIO_OPEN_NO_CREATE), 0);
    assert_int_equal(op_close(eng, &f), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(missing);
    free(file);
    free(dir);
    free(under_file);
}

static void open_refuses_bad_arguments_before_any_call(void **state)
{
    (void)state;
    mapio_engine_t *eng = engine(0);
    char *path = tu_path("early");
    char *long_path = malloc(MAPIO_PATH_MAX + 2);
    memset(long_path, 'a', MAPIO_PATH_MAX + 1);
    long_path[MAPIO_PATH_MAX + 1] = '\0';
    mapio_file_t f, other, d;
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;

    assert_int_equal(mapio_file_open(&f, eng, &req, NULL, NULL, 0, 0, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_file_open(&f, eng, &req, NULL, "", 0, 0, rec_cb), MAPIO_ENOENT);
    assert_int_equal(mapio_file_open(&f, eng, &req, NULL, long_path, 0, 0, rec_cb),
                     MAPIO_ENAMETOOLONG);
    assert_int_equal(mapio_file_open(&f, eng, &req, NULL, path, 0, 1u << 30, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_file_open(&f, eng, &req, NULL, path, 10, MAPIO_OPEN_DIRECTORY, rec_cb),
                     MAPIO_EINVAL);
    assert_int_equal(mapio_file_open(&f, eng, &req, NULL, path, 0,
                                     MAPIO_OPEN_DIRECTORY | MAPIO_OPEN_TRUNCATE, rec_cb),
                     MAPIO_EINVAL);
    assert_int_equal(mapio_file_open(&f, eng, &req, NULL, path, 0, MAPIO_OPEN_ADOPT_CLOSE, rec_cb),
                     MAPIO_EINVAL);
    assert_int_equal(mapio_file_open(&f, eng, NULL, NULL, path, 0, 0, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_file_open(&f, eng, &req, NULL, path, 0, 0, NULL), MAPIO_EINVAL);
    assert_int_equal(mapio_file_open(NULL, eng, &req, NULL, path, 0, 0, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_file_open(&f, NULL, &req, NULL, path, 0, 0, rec_cb), MAPIO_EINVAL);
    assert_int_equal(tu_exists(path), 0);

    /* A path relative to something that is not an open directory. */
    assert_int_equal(mapio_file_open_blocking(&other, eng, path, 0, 0), 0);
    assert_int_equal(mapio_file_open(&f, eng, &req, &other, "x", 0, 0, rec_cb), MAPIO_ENOTDIR);
    char *dpath = open_dir(eng, &d);
    assert_int_equal(mapio_file_close_blocking(&d), 0);
    assert_int_equal(mapio_file_open(&f, eng, &req, &d, "x", 0, 0, rec_cb), MAPIO_EBADF);

    /* An open handle is not overwritten: it stays open, its data intact. */
    assert_int_equal(mapio_write_at_blocking(&other, "keep", 4, 0), 4);
    assert_int_equal(mapio_file_open(&other, eng, &req, NULL, path, 0, 0, rec_cb), MAPIO_EBUSY);
    char buf[4];
    assert_int_equal(mapio_read_at_blocking(&other, buf, 4, 0), 4);
    assert_memory_equal(buf, "keep", 4);

    /* A request still in flight is not reused. */
    assert_int_equal(mapio_timer(eng, &req, 10ull * 1000000000u, rec_cb), 0);
    assert_int_equal(mapio_file_open(&f, eng, &req, NULL, path, 0, 0, rec_cb), MAPIO_EBUSY);
    assert_int_equal(mapio_cancel(&req), 0);
    assert_int_equal(wait_rec(eng, &r), MAPIO_ECANCELED);

    assert_int_equal(mapio_file_close_blocking(&other), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(path);
    free(long_path);
    free(dpath);
}

/* Only a handle in use is refused, never bytes that look like one: the
 * caller need not initialise a handle, and the stack slot of one keeps a
 * dead handle's bytes (here: an open one's, copied). */
static void stale_handle_bytes_do_not_block_an_open(void **state)
{
    (void)state;
    mapio_engine_t *eng = engine(0);
    char *path = tu_path("stale");
    mapio_file_t live, *stale = malloc(sizeof *stale);
    assert_int_equal(mapio_file_open_blocking(&live, eng, path, 0, 0), 0);
    memcpy(stale, &live, sizeof live);
    assert_int_equal(mapio_file_open_blocking(stale, eng, path, 0, 0), 0);
    assert_int_equal(mapio_file_open_blocking(&live, eng, path, 0, 0), MAPIO_EBUSY);
    assert_int_equal(mapio_file_close_blocking(stale), 0);
    assert_int_equal(mapio_file_close_blocking(&live), 0);
    memset(stale, 0xa5, sizeof *stale);
    assert_int_equal(op_open(eng, stale, NULL, path, 0, 0), 0);
    assert_int_equal(op_close(eng, stale), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(stale);
    free(path);
}

static void many_opens_at_once(void **state)
{
    (void)state;
    enum { N = 200 }; /* more than io_uring's statx slots: some wait for one */
    mapio_engine_t *eng = engine(0);
    mapio_file_t *files = calloc(N, sizeof *files);
    mapio_req_t *reqs = calloc(N, sizeof *reqs);
    struct rec *recs = calloc(N, sizeof *recs);
    mapio_stat_t *st = calloc(N, sizeof *st);
    char **paths = calloc(N, sizeof *paths);
    for (int i = 0; i < N; i++) {
        paths[i] = tu_path("many");
        reqs[i].data = &recs[i];
        assert_int_equal(mapio_file_open(&files[i], eng, &reqs[i], NULL, paths[i],
                                         (uint64_t)i * 10 + 1, 0, rec_cb),
                         0);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(wait_rec(eng, &recs[i]), 0);
    memset(recs, 0, N * sizeof *recs);
    for (int i = 0; i < N; i++)
        assert_int_equal(mapio_file_stat(&files[i], &reqs[i], &st[i], rec_cb), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(wait_rec(eng, &recs[i]), 0);
        assert_int_equal(st[i].size, (uint64_t)i * 10 + 1);
    }
    memset(recs, 0, N * sizeof *recs);
    for (int i = 0; i < N; i++)
        assert_int_equal(mapio_file_close(&files[i], &reqs[i], rec_cb), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(wait_rec(eng, &recs[i]), 0);
        assert_int_equal(tu_file_size(paths[i]), i * 10 + 1);
        free(paths[i]);
    }
    assert_int_equal(mapio_engine_free(eng), 0);
    free(files);
    free(reqs);
    free(recs);
    free(st);
    free(paths);
}

static void open_in_mmap_mode(void **state)
{
    (void)state;
    mapio_engine_t *eng = engine(0);
    char *path = tu_path("mapped");
    mapio_file_t f;
    assert_int_equal(op_open(eng, &f, NULL, path, 8192, MAPIO_OPEN_MMAP), 0);
    assert_int_equal(op_write(eng, &f, "mapped", 6, 8000), 6);
    char buf[6];
    assert_int_equal(mapio_read_at_blocking(&f, buf, 6, 8000), 6);
    assert_memory_equal(buf, "mapped", 6);
    /* Its mapping has the size it was opened with. */
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_file_truncate(&f, &req, 100, rec_cb), MAPIO_ENOTSUP);
    assert_int_equal(mapio_file_truncate_blocking(&f, 100), MAPIO_ENOTSUP);
    assert_never_ran(eng, &r);
    assert_int_equal(mapio_sync_data_blocking(&f), 0);
    assert_int_equal(op_close(eng, &f), 0);
    assert_int_equal(tu_read_file_at(path, buf, 6, 8000), 6);
    assert_memory_equal(buf, "mapped", 6);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(path);
}

/* A close waits for what was accepted before it, and only then closes. */
static void close_waits_for_accepted_requests(void **state)
{
    (void)state;
    enum { N = 16 };
    mapio_engine_t *eng = engine(0);
    char *path = tu_path("closing");
    mapio_file_t f;
    assert_int_equal(op_open(eng, &f, NULL, path, 0, 0), 0);
    static char bufs[N][512];
    mapio_req_t reqs[N + 1];
    struct rec recs[N + 1] = { { 0 } };
    for (int i = 0; i < N; i++) {
        memset(bufs[i], 'a' + i, sizeof bufs[i]);
        reqs[i].data = &recs[i];
        assert_int_equal(mapio_write_at(&f, &reqs[i], bufs[i], 512, (uint64_t)i * 512, rec_cb), 0);
    }
    reqs[N].data = &recs[N];
    assert_int_equal(mapio_file_close(&f, &reqs[N], rec_cb), 0);
    /* Nothing more is accepted once the close is. */
    mapio_req_t late;
    struct rec lr = { 0 };
    late.data = &lr;
    assert_int_equal(mapio_write_at(&f, &late, "x", 1, 0, rec_cb), MAPIO_EBADF);
    assert_int_equal(wait_rec(eng, &recs[N]), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(recs[i].calls, 1);
        assert_int_equal(recs[i].result, 512);
        assert_true(recs[i].order < recs[N].order);
    }
    assert_int_equal(tu_file_size(path), N * 512);
    assert_never_ran(eng, &lr);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(path);
}

/* ---- adopting a descriptor -------------------------------------------------------- */

static void adopt_a_descriptor(void **state)
{
    (void)state;
    mapio_engine_t *eng = engine(0);
    char *path = tu_path("adopt");
    mapio_fd_t fd, got;
    mapio_file_t f, g;
    assert_int_equal(tu_open_fd(path, 0, &fd), 0);

    /* The caller keeps it: closing the file leaves the descriptor open. */
    assert_int_equal(mapio_file_adopt(&f, eng, fd, 0), 0);
    assert_int_equal(mapio_file_fd(&f, &got), 0);
    assert_true(got == fd);
    assert_int_equal(op_write(eng, &f, "adopted", 7, 100), 7);
    assert_int_equal(mapio_sync_data_blocking(&f), 0);
    char buf[7];
    assert_int_equal(tu_read_file_at(path, buf, 7, 100), 7);
    assert_memory_equal(buf, "adopted", 7);
    /* An open handle is not adopted over. */
    assert_int_equal(mapio_file_adopt(&f, eng, fd, 0), MAPIO_EBUSY);
    assert_int_equal(op_close(eng, &f), 0);
    assert_int_equal(mapio_file_fd(&f, &got), MAPIO_EBADF);
    assert_int_equal(tu_fd_is_open(fd), 1);

    /* Adopted with what it was opened with: an MMapIO file of its size. */
    assert_int_equal(mapio_file_adopt(&f, eng, fd, MAPIO_OPEN_MMAP), 0);
    assert_int_equal(mapio_file_size(&f), 107);
    assert_int_equal(mapio_read_at_blocking(&f, buf, 7, 100), 7);
    assert_memory_equal(buf, "adopted", 7);
    assert_int_equal(mapio_file_close_blocking(&f), 0);
    assert_int_equal(tu_fd_is_open(fd), 1);

    /* The engine owns it: closing the file closes it. */
    assert_int_equal(mapio_file_adopt(&g, eng, fd, MAPIO_OPEN_ADOPT_CLOSE), 0);
    assert_int_equal(op_close(eng, &g), 0);
    assert_int_equal(tu_fd_is_open(fd), 0);

    /* A read-only descriptor makes a read-only file. */
    assert_int_equal(tu_open_fd(path, 1, &fd), 0);
    assert_int_equal(mapio_file_adopt(&g, eng, fd, MAPIO_OPEN_ADOPT_CLOSE), 0);
    assert_int_equal(mapio_read_at_blocking(&g, buf, 7, 100), 7);
    assert_int_equal(mapio_write_at_blocking(&g, "x", 1, 0), MAPIO_EBADF);
    assert_int_equal(mapio_file_close_blocking(&g), 0);

    /* Bad inputs, and a failed adopt never closes the caller's descriptor. */
    assert_int_equal(tu_open_fd(path, 0, &fd), 0);
    assert_int_equal(mapio_file_adopt(&g, eng, MAPIO_INVALID_FD, 0), MAPIO_EINVAL);
    assert_int_equal(mapio_file_adopt(&g, eng, tu_bad_fd(), 0), MAPIO_EBADF);
    assert_int_equal(mapio_file_adopt(&g, eng, fd, MAPIO_OPEN_TRUNCATE), MAPIO_EINVAL);
    assert_int_equal(mapio_file_adopt(&g, eng, fd, MAPIO_OPEN_DIRECTORY | MAPIO_OPEN_ADOPT_CLOSE),
                     MAPIO_ENOTDIR);
    assert_int_equal(mapio_file_adopt(NULL, eng, fd, 0), MAPIO_EINVAL);
    assert_int_equal(mapio_file_adopt(&g, NULL, fd, 0), MAPIO_EINVAL);
    assert_int_equal(mapio_file_fd(NULL, &got), MAPIO_EINVAL);
    assert_int_equal(tu_fd_is_open(fd), 1);
    tu_close_fd(fd);

    /* An open descriptor the engine cannot use (on Windows one that is not
     * overlapped) is refused, and stays the caller's. */
    const char *none = tu_open_fd_unusable(path, &fd);
    if (none == NULL) {
        assert_int_equal(mapio_file_adopt(&g, eng, fd, MAPIO_OPEN_ADOPT_CLOSE), MAPIO_EBADF);
        assert_int_equal(tu_fd_is_open(fd), 1);
        tu_close_fd(fd);
    } else {
        print_message("skip (unusable descriptor): %s\n", none);
    }
    assert_int_equal(mapio_engine_free(eng), 0);
    free(path);
}

/* ---- stat, truncate, write-behind -------------------------------------------------- */

static void stat_and_truncate(void **state)
{
    (void)state;
    mapio_engine_t *eng = engine(0);
    char *path = tu_path("stat");
    mapio_file_t f, ro;
    assert_int_equal(op_open(eng, &f, NULL, path, 0, 0), 0);
    static char data[10000];
    tu_fill(data, sizeof data, 7);
    assert_int_equal(op_write(eng, &f, data, sizeof data, 0), (int64_t)sizeof data);

    mapio_stat_t st, st2;
    memset(&st, 0xff, sizeof st);
    assert_int_equal(op_stat(eng, &f, &st), 0);
    assert_int_equal(st.size, sizeof data);
    assert_int_equal(st.nlink, 1);
    assert_int_equal(S_TYPE(st.mode), S_REGULAR);
    assert_true(st.mtime_ns > 0);
    assert_true(st.blksize > 0);
    uint64_t dev, ino;
    assert_int_equal(tu_identity(path, &dev, &ino), 0);
    assert_int_equal(st.ino, ino);
    assert_int_equal(mapio_file_stat_blocking(&f, &st2), 0);
    assert_int_equal(st2.size, st.size);
    assert_int_equal(st2.ino, st.ino);
    assert_int_equal(st2.dev, st.dev);

    assert_int_equal(op_truncate(eng, &f, 100), 0);
    assert_int_equal(tu_file_size(path), 100);
    assert_int_equal(op_stat(eng, &f, &st), 0);
    assert_int_equal(st.size, 100);
    assert_int_equal(mapio_file_truncate_blocking(&f, 5000), 0);
    assert_int_equal(tu_file_size(path), 5000);

    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_file_truncate(&f, &req, (uint64_t)INT64_MAX + 1, rec_cb),
                     MAPIO_EOVERFLOW);
    assert_int_equal(mapio_file_truncate_blocking(&f, UINT64_MAX), MAPIO_EOVERFLOW);
    assert_int_equal(mapio_file_stat(&f, &req, NULL, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_file_stat_blocking(&f, NULL), MAPIO_EINVAL);
    assert_int_equal(mapio_file_stat(&f, &req, &st, NULL), MAPIO_EINVAL);
    assert_int_equal(mapio_file_open_blocking(&ro, eng, path, 0, MAPIO_OPEN_READ_ONLY), 0);
    assert_int_equal(mapio_file_truncate(&ro, &req, 1, rec_cb), MAPIO_EBADF);
    assert_int_equal(mapio_file_truncate_blocking(&ro, 1), MAPIO_EBADF);
    assert_int_equal(op_stat(eng, &ro, &st), 0); /* a stat is no write */
    assert_int_equal(st.size, 5000);
    assert_never_ran(eng, &r);
    assert_int_equal(mapio_file_close_blocking(&ro), 0);
    assert_int_equal(mapio_file_close_blocking(&f), 0);
    assert_int_equal(mapio_file_stat(&f, &req, &st, rec_cb), MAPIO_EBADF);
    assert_int_equal(mapio_file_truncate_blocking(&f, 1), MAPIO_EBADF);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(path);
}

static void sync_range_writes_behind(void **state)
{
    (void)state;
    mapio_engine_t *eng = engine(0);
    char *path = tu_path("behind");
    mapio_file_t f;
    assert_int_equal(op_open(eng, &f, NULL, path, 0, 0), 0);
    enum { LEN = 1 << 20 };
    unsigned char *data = malloc(LEN), *back = malloc(LEN);
    tu_pat_fill(data, 0, LEN);
    assert_int_equal(op_write(eng, &f, data, LEN, 0), LEN);
    assert_int_equal(op_sync_range(eng, &f, 0, 0, MAPIO_SYNC_RANGE_WRITE), 0);
    assert_int_equal(op_sync_range(eng, &f, 0, LEN,
                                   MAPIO_SYNC_RANGE_WAIT_BEFORE | MAPIO_SYNC_RANGE_WRITE |
                                       MAPIO_SYNC_RANGE_WAIT_AFTER),
                     0);
    /* Longer than 32 bits (an io_uring SQE's length), and past the end. */
    assert_int_equal(op_sync_range(eng, &f, 4096, 5ull << 30, MAPIO_SYNC_RANGE_WRITE), 0);
    assert_int_equal(mapio_read_at_blocking(&f, back, LEN, 0), LEN);
    assert_true(tu_pat_is(back, 0, LEN));

    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_sync_range(&f, &req, 0, 0, 0, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_sync_range(&f, &req, 0, 0, 1u << 3, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_sync_range(&f, &req, UINT64_MAX - 1, 10, MAPIO_SYNC_RANGE_WRITE, rec_cb),
                     MAPIO_EOVERFLOW);
    assert_int_equal(mapio_sync_range(&f, &req, 0, 0, MAPIO_SYNC_RANGE_WRITE, NULL), MAPIO_EINVAL);
    assert_never_ran(eng, &r);
    assert_int_equal(mapio_file_close_blocking(&f), 0);
    assert_int_equal(mapio_sync_range(&f, &req, 0, 0, MAPIO_SYNC_RANGE_WRITE, rec_cb), MAPIO_EBADF);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(data);
    free(back);
    free(path);
}

/* ---- names, relative to a directory ------------------------------------------------- */

static void names_relative_to_a_directory(void **state)
{
    (void)state;
    mapio_engine_t *eng = engine(0);
    mapio_file_t d, f, g;
    char *dpath = open_dir(eng, &d);
    char *a = join(dpath, "a.log"), *b = join(dpath, "b.log"), *c = join(dpath, "c.log");
    char *sub = join(dpath, "sub");
    assert_int_equal(mapio_file_size(&d), 0);

    assert_int_equal(op_open(eng, &f, &d, "a.log", 100, 0), 0);
    assert_int_equal(tu_file_size(a), 100);
    assert_int_equal(op_write(eng, &f, "data", 4, 0), 4);

    /* Rename under an open file: the file goes on, under its new name. */
    assert_int_equal(op_rename(eng, &d, "a.log", &d, "b.log", 0), 0);
    assert_int_equal(tu_exists(a), 0);
    assert_int_equal(tu_file_size(b), 100);
    char buf[4];
    assert_int_equal(mapio_read_at_blocking(&f, buf, 4, 0), 4);
    assert_memory_equal(buf, "data", 4);

    assert_int_equal(op_open(eng, &g, &d, "c.log", 0, 0), 0);
    assert_int_equal(op_close(eng, &g), 0);
    int64_t r = op_rename(eng, &d, "b.log", &d, "c.log", MAPIO_RENAME_NOREPLACE);
    const char *no_exchange = tu_no_rename_exchange();
    if (r == MAPIO_ENOTSUP) {
        print_message("skip (rename flags): no renameat2 here: NOREPLACE and EXCHANGE are "
                      "MAPIO_ENOTSUP\n");
        assert_int_equal(op_rename(eng, &d, "b.log", &d, "c.log", MAPIO_RENAME_EXCHANGE),
                         MAPIO_ENOTSUP);
    } else if (no_exchange != NULL) {
        assert_int_equal(r, MAPIO_EEXIST);
        print_message("skip (rename exchange): %s: EXCHANGE is MAPIO_ENOTSUP\n", no_exchange);
        assert_int_equal(op_rename(eng, &d, "b.log", &d, "c.log", MAPIO_RENAME_EXCHANGE),
                         MAPIO_ENOTSUP);
        assert_int_equal(tu_file_size(c), 0); /* and nothing moved */
    } else {
        assert_int_equal(r, MAPIO_EEXIST);
        assert_int_equal(op_rename(eng, &d, "b.log", &d, "c.log", MAPIO_RENAME_EXCHANGE), 0);
        assert_int_equal(tu_file_size(b), 0);
        assert_int_equal(tu_file_size(c), 100);
        assert_int_equal(op_rename(eng, &d, "c.log", &d, "b.log", MAPIO_RENAME_EXCHANGE), 0);
    }
    assert_int_equal(tu_file_size(b), 100);
    assert_int_equal(op_rename(eng, &d, "nothing", &d, "x", 0), MAPIO_ENOENT);
    assert_int_equal(op_rename(eng, NULL, b, NULL, a, 0), 0); /* absolute paths need no dir */
    assert_int_equal(op_rename(eng, &d, "a.log", &d, "b.log", 0), 0);

    /* Directory syncs: the handle itself, a path, and a missing one. */
    assert_int_equal(op_sync_dir(eng, &d, NULL), 0);
    assert_int_equal(op_sync_dir(eng, NULL, dpath), 0);
    assert_int_equal(op_sync_dir(eng, &d, "."), 0);
    assert_int_equal(op_sync_dir(eng, &d, "missing"), MAPIO_ENOENT);
    assert_int_equal(mapio_sync_data_blocking(&d), 0);
    mapio_stat_t st;
    assert_int_equal(op_stat(eng, &d, &st), 0);
    assert_int_equal(S_TYPE(st.mode), S_DIRECTORY);

    /* A directory is synced, stat'ed and closed, and nothing else. */
    mapio_req_t req;
    struct rec rr = { 0 };
    req.data = &rr;
    assert_int_equal(mapio_read_at(&d, &req, buf, 4, 0, rec_cb), MAPIO_EISDIR);
    assert_int_equal(mapio_write_at(&d, &req, buf, 4, 0, rec_cb), MAPIO_EISDIR);
    assert_int_equal(mapio_file_truncate(&d, &req, 0, rec_cb), MAPIO_EISDIR);
    assert_int_equal(mapio_read_at_blocking(&d, buf, 4, 0), MAPIO_EISDIR);

    assert_int_equal(op_mkdir(eng, &d, "sub"), 0);
    assert_int_equal(tu_is_dir(sub), 1);
    assert_int_equal(op_mkdir(eng, &d, "sub"), MAPIO_EEXIST);
    assert_int_equal(op_mkdir(eng, &d, "nope/sub"), MAPIO_ENOENT);
    assert_int_equal(mapio_mkdir(eng, &req, &d, "bad", 010000, rec_cb), MAPIO_EINVAL);
    assert_int_equal(op_open(eng, &g, &d, "sub/x", 0, 0), 0);
    assert_int_equal(op_close(eng, &g), 0);

    /* ".." climbs out of a directory, as with openat(2). */
    char *up = join(dpath, "up.log"), *up2 = join(dpath, "up2.log");
    assert_int_equal(op_open(eng, &g, &d, "sub/../up.log", 0, 0), 0);
    assert_int_equal(op_close(eng, &g), 0);
    assert_int_equal(tu_exists(up), 1);
    assert_int_equal(op_sync_dir(eng, &d, "sub/.."), 0);
    assert_int_equal(op_rename(eng, &d, "sub/../up.log", &d, "sub/../up2.log", 0), 0);
    assert_int_equal(tu_exists(up), 0);
    assert_int_equal(op_unlink(eng, &d, "sub/../up2.log", 0), 0);
    assert_int_equal(tu_exists(up2), 0);
    free(up);
    free(up2);

    r = op_unlink(eng, &d, "sub", MAPIO_UNLINK_DIR);
    assert_true(r == MAPIO_ENOTEMPTY || r == MAPIO_EEXIST); /* POSIX allows either */
    r = op_unlink(eng, &d, "sub", 0);
    assert_true(r == MAPIO_EISDIR || r == MAPIO_EPERM || r == MAPIO_EACCES);
    assert_int_equal(op_unlink(eng, &d, "sub/x", MAPIO_UNLINK_DIR), MAPIO_ENOTDIR);
    assert_int_equal(op_unlink(eng, &d, "sub/x", 0), 0);
    assert_int_equal(op_unlink(eng, &d, "sub", MAPIO_UNLINK_DIR), 0);
    assert_int_equal(tu_exists(sub), 0);
    assert_int_equal(op_unlink(eng, &d, "sub", MAPIO_UNLINK_DIR), MAPIO_ENOENT);
    assert_int_equal(op_unlink(eng, &d, "c.log", 0), 0);
    assert_int_equal(tu_exists(c), 0);

    /* Across file systems a rename is EXDEV, never a copy. */
    const char *other = tu_other_fs_dir();
    if (other != NULL) {
        mapio_file_t o;
        assert_int_equal(op_open(eng, &o, NULL, other, 0, MAPIO_OPEN_DIRECTORY), 0);
        assert_int_equal(op_rename(eng, &d, "b.log", &o, "mapio-lifecycle-xdev", 0), MAPIO_EXDEV);
        assert_int_equal(op_close(eng, &o), 0);
    } else {
        print_message("skip (EXDEV): no second file system here\n");
    }

    /* Bad inputs: refused before anything runs. */
    assert_int_equal(mapio_rename(eng, &req, &d, "b.log", &d, "x", 4, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_rename(eng, &req, &d, "b.log", &d, "x",
                                  MAPIO_RENAME_NOREPLACE | MAPIO_RENAME_EXCHANGE, rec_cb),
                     MAPIO_EINVAL);
    assert_int_equal(mapio_rename(eng, &req, &d, "", &d, "x", 0, rec_cb), MAPIO_ENOENT);
    assert_int_equal(mapio_rename(eng, &req, &d, "b.log", &d, NULL, 0, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_rename(eng, &req, &f, "b.log", &d, "x", 0, rec_cb), MAPIO_ENOTDIR);
    assert_int_equal(mapio_unlink(eng, &req, &d, "b.log", 2, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_unlink(eng, &req, &d, NULL, 0, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_unlink(NULL, &req, &d, "b.log", 0, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_sync_dir(eng, &req, NULL, NULL, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_mkdir(eng, &req, &d, "x", 0, NULL), MAPIO_EINVAL);
    assert_never_ran(eng, &rr);
    assert_int_equal(tu_file_size(b), 100);

    assert_int_equal(op_close(eng, &f), 0);
    assert_int_equal(op_close(eng, &d), 0);
    assert_int_equal(mapio_unlink(eng, &req, &d, "b.log", 0, rec_cb), MAPIO_EBADF);
    assert_never_ran(eng, &rr);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(dpath);
    free(a);
    free(b);
    free(c);
    free(sub);
}

/* A directory handle names the directory, not its path: after the directory
 * is renamed, names relative to the handle are found in its new place. */
static void names_follow_a_renamed_directory(void **state)
{
    (void)state;
    mapio_engine_t *eng = engine(0);
    mapio_file_t d, f;
    char *dpath = open_dir(eng, &d);
    char *moved = tu_path("moved");
    assert_int_equal(tu_rename_over(dpath, moved), 0);
    char *inside = join(moved, "inside.log"), *again = join(moved, "again.log");
    assert_int_equal(op_open(eng, &f, &d, "inside.log", 10, 0), 0);
    assert_int_equal(op_close(eng, &f), 0);
    assert_int_equal(tu_file_size(inside), 10);
    assert_int_equal(tu_exists(dpath), 0);
    assert_int_equal(op_sync_dir(eng, &d, NULL), 0);
    /* ... also for the calls on names, and through "..". */
    const char *base = moved;
    for (const char *p = moved; *p != '\0'; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    char *up = malloc(strlen(base) + 16);
    sprintf(up, "../%s/again.log", base);
    const char *no_names = tu_no_names_in_moved_dir();
    if (no_names == NULL) {
        assert_int_equal(op_rename(eng, &d, "inside.log", &d, up, 0), 0);
        assert_int_equal(tu_file_size(again), 10);
        assert_int_equal(op_unlink(eng, &d, "again.log", 0), 0);
        assert_int_equal(tu_exists(again), 0);
    } else {
        print_message("skip (names in a moved directory): %s\n", no_names);
    }
    assert_int_equal(op_close(eng, &d), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(dpath);
    free(moved);
    free(inside);
    free(again);
    free(up);
}

/* ---- fault hooks on the lifecycle ------------------------------------------------------ */

struct seen {
    _Atomic int mkdir_calls;
    char path[64];
};

static int64_t seeing_before(void *ctx, const mapio_fault_call_t *call)
{
    struct seen *s = ctx;
    if (call->op == MAPIO_OP_MKDIR) {
        snprintf(s->path, sizeof s->path, "%s", call->path);
        atomic_fetch_add(&s->mkdir_calls, 1);
    }
    return MAPIO_FAULT_PASS;
}

static void fault_hooks_see_the_lifecycle(void **state)
{
    (void)state;
    mapio_engine_t *eng = engine(0);
    mapio_file_t d, f;
    mapio_fd_t fd;
    char *dpath = open_dir(eng, &d);

    struct seen seen = { 0 };
    mapio_fault_hooks_t hooks = { .ctx = &seen, .before = seeing_before };
    assert_int_equal(mapio_fault_set(eng, &hooks), 0);
    assert_int_equal(op_mkdir(eng, &d, "seen"), 0);
    assert_int_equal(atomic_load(&seen.mkdir_calls), 1);
    assert_string_equal(seen.path, "seen");
    assert_int_equal(mapio_fault_set(eng, NULL), 0);

    /* A directory sync that fails: the names may be lost, and it says so. */
    mapio_fault_rule_t dir_eio = {
        .ops = 1u << MAPIO_OP_SYNC_DIR, .nth = 1, .times = 1, .error = MAPIO_EIO
    };
    assert_int_equal(mapio_fault_rules(eng, &dir_eio, 1), 0);
    assert_int_equal(op_sync_dir(eng, &d, NULL), MAPIO_EIO);
    assert_int_equal(op_sync_dir(eng, &d, NULL), 0);
    assert_int_equal(mapio_fault_rule_hits(eng, 0), 1);

    /* An open, a rename and an unlink that fail leave nothing behind. */
    mapio_fault_rule_t names[] = {
        { .ops = 1u << MAPIO_OP_OPEN, .nth = 1, .times = 1, .error = MAPIO_ENOSPC },
        { .ops = 1u << MAPIO_OP_RENAME, .nth = 1, .times = 1, .error = MAPIO_EIO },
    };
    assert_int_equal(mapio_fault_rules(eng, names, 2), 0);
    assert_int_equal(op_open(eng, &f, &d, "new.log", 0, 0), MAPIO_ENOSPC);
    char *newp = join(dpath, "new.log");
    assert_int_equal(tu_exists(newp), 0);
    assert_int_equal(op_open(eng, &f, &d, "new.log", 0, 0), 0);
    assert_int_equal(op_rename(eng, &d, "new.log", &d, "renamed.log", 0), MAPIO_EIO);
    assert_int_equal(tu_exists(newp), 1);
    assert_int_equal(op_close(eng, &f), 0);

    /* A close that fails still closes: the descriptor is never leaked. */
    char *cpath = tu_path("closefail");
    assert_int_equal(tu_open_fd(cpath, 0, &fd), 0);
    mapio_fault_rule_t close_eio = {
        .ops = 1u << MAPIO_OP_CLOSE, .nth = 1, .times = 1, .error = MAPIO_EIO
    };
    assert_int_equal(mapio_fault_rules(eng, &close_eio, 1), 0);
    assert_int_equal(mapio_file_adopt(&f, eng, fd, MAPIO_OPEN_ADOPT_CLOSE), 0);
    assert_int_equal(op_close(eng, &f), MAPIO_EIO);
    assert_int_equal(tu_fd_is_open(fd), 0);
    assert_int_equal(mapio_file_fd(&f, &fd), MAPIO_EBADF);
    assert_int_equal(mapio_fault_rules(eng, NULL, 0), 0);

    assert_int_equal(op_close(eng, &d), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(dpath);
    free(newp);
    free(cpath);
}

/* ---- a slow call on a worker does not hold up the rest ----------------------------------- */

/* A before() hook that holds every OPEN of a path with "slow" in it (or
 * MKDIR, with mkdir_ms) until let_go, on whatever thread runs it. */
struct gate {
    _Atomic int entered, let_go;
    unsigned mkdir_ms;
};

static int64_t gate_before(void *ctx, const mapio_fault_call_t *call)
{
    struct gate *g = ctx;
    if (call->op == MAPIO_OP_OPEN && call->path != NULL && strstr(call->path, "slow") != NULL) {
        atomic_store(&g->entered, 1);
        for (int i = 0; i < 10000 && !atomic_load(&g->let_go); i++)
            tu_sleep_ms(1); /* at most ~10 s: a broken engine fails, never hangs */
    }
    if (call->op == MAPIO_OP_MKDIR && g->mkdir_ms != 0) {
        atomic_store(&g->entered, 1);
        tu_sleep_ms(g->mkdir_ms);
    }
    return MAPIO_FAULT_PASS;
}

static void wait_entered(mapio_engine_t *eng, struct gate *g)
{
    while (!atomic_load(&g->entered))
        assert_true(mapio_engine_poll(eng, 1) >= 0);
}

static void slow_open_does_not_block_io(void **state)
{
    (void)state;
    mapio_engine_t *eng = engine(2);
    char *path = tu_path("busy"), *slow = tu_path("slow");
    mapio_file_t f, s;
    assert_int_equal(mapio_file_open_blocking(&f, eng, path, 0, 0), 0);
    struct gate g = { 0 };
    mapio_fault_hooks_t hooks = { .ctx = &g, .before = gate_before };
    assert_int_equal(mapio_fault_set(eng, &hooks), 0);

    mapio_req_t oreq;
    struct rec orec = { 0 };
    oreq.data = &orec;
    assert_int_equal(mapio_file_open(&s, eng, &oreq, NULL, slow, 0, 0, rec_cb), 0);
    wait_entered(eng, &g);
    /* The open sits in its system call; the loop and the other file go on. */
    for (int i = 0; i < 20; i++)
        assert_int_equal(op_write(eng, &f, "abcd", 4, (uint64_t)i * 4), 4);
    mapio_req_t nreq;
    struct rec nrec = { 0 };
    nreq.data = &nrec;
    assert_int_equal(mapio_nop(eng, &nreq, rec_cb), 0);
    assert_int_equal(wait_rec(eng, &nrec), 0);
    assert_int_equal(orec.calls, 0);
    atomic_store(&g.let_go, 1);
    assert_int_equal(wait_rec(eng, &orec), 0);
    assert_int_equal(op_close(eng, &s), 0);
    assert_int_equal(mapio_file_close_blocking(&f), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(path);
    free(slow);
}

/* Cancelled while queued behind a busy worker: ECANCELED, nothing made. */
static void cancel_queued_lifecycle_requests(void **state)
{
    (void)state;
    mapio_engine_t *eng = engine(1);
    mapio_file_t d, s, f;
    char *dpath = open_dir(eng, &d);
    char *never = join(dpath, "never"), *gone = join(dpath, "gone");
    assert_int_equal(tu_write_file(gone, "x", 1), 0);
    struct gate g = { 0 };
    mapio_fault_hooks_t hooks = { .ctx = &g, .before = gate_before };
    assert_int_equal(mapio_fault_set(eng, &hooks), 0);

    mapio_req_t oreq, reqs[3];
    struct rec orec = { 0 }, recs[3] = { { 0 } };
    oreq.data = &orec;
    for (int i = 0; i < 3; i++)
        reqs[i].data = &recs[i];
    assert_int_equal(mapio_file_open(&s, eng, &oreq, &d, "slow", 0, 0, rec_cb), 0);
    wait_entered(eng, &g);
    assert_int_equal(mapio_file_open(&f, eng, &reqs[0], &d, "never", 0, 0, rec_cb), 0);
    assert_int_equal(mapio_unlink(eng, &reqs[1], &d, "gone", 0, rec_cb), 0);
    assert_int_equal(mapio_mkdir(eng, &reqs[2], &d, "never.d", 0, rec_cb), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(mapio_cancel(&reqs[i]), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(wait_rec(eng, &recs[i]), MAPIO_ECANCELED);
    atomic_store(&g.let_go, 1);
    assert_int_equal(wait_rec(eng, &orec), 0);
    assert_int_equal(tu_exists(never), 0);
    assert_int_equal(tu_exists(gone), 1);
    /* The cancelled open left a closed handle, free to use again. */
    assert_int_equal(mapio_write_at_blocking(&f, "x", 1, 0), MAPIO_EBADF);
    assert_int_equal(op_open(eng, &f, &d, "never", 0, 0), 0);
    assert_int_equal(op_close(eng, &f), 0);
    /* A close is never cancelled: the descriptor would be left half-owned. */
    mapio_req_t creq;
    struct rec crec = { 0 };
    creq.data = &crec;
    assert_int_equal(mapio_file_close(&s, &creq, rec_cb), 0);
    assert_int_equal(mapio_cancel(&creq), 0);
    assert_int_equal(wait_rec(eng, &crec), 0);
    assert_int_equal(mapio_fault_set(eng, NULL), 0);
    assert_int_equal(op_close(eng, &d), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(dpath);
    free(never);
    free(gone);
}

/* Freeing the engine with the lifecycle in flight: every callback once,
 * each with its real result or ECANCELED; files its opens made are closed
 * with the engine. */
static void engine_free_with_lifecycle_in_flight(void **state)
{
    (void)state;
    enum { N = 64 };
    mapio_engine_t *eng = engine(0);
    mapio_file_t *files = calloc(N, sizeof *files), d;
    mapio_req_t *reqs = calloc(2 * N, sizeof *reqs);
    struct rec *recs = calloc(2 * N, sizeof *recs);
    char *dpath = open_dir(eng, &d);
    char name[32];
    for (int i = 0; i < N; i++) {
        reqs[i].data = &recs[i];
        reqs[N + i].data = &recs[N + i];
        snprintf(name, sizeof name, "f%d", i);
        assert_int_equal(mapio_file_open(&files[i], eng, &reqs[i], &d, name, 512, 0, rec_cb), 0);
        snprintf(name, sizeof name, "d%d", i);
        assert_int_equal(mapio_mkdir(eng, &reqs[N + i], &d, name, 0, rec_cb), 0);
    }
    mapio_req_t t;
    struct rec tr = { 0 };
    t.data = &tr;
    assert_int_equal(mapio_timer(eng, &t, 3600ull * 1000000000u, rec_cb), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    assert_int_equal(tr.calls, 1);
    assert_int_equal(tr.result, MAPIO_ECANCELED);
    for (int i = 0; i < 2 * N; i++) {
        assert_int_equal(recs[i].calls, 1);
        assert_true(recs[i].result == 0 || recs[i].result == MAPIO_ECANCELED);
    }
    for (int i = 0; i < N; i++) {
        /* Opened or not, the handle is closed now. */
        assert_int_equal(mapio_write_at_blocking(&files[i], "x", 1, 0), MAPIO_EBADF);
        snprintf(name, sizeof name, "f%d", i);
        char *p = join(dpath, name);
        if (recs[i].result == 0)
            assert_int_equal(tu_file_size(p), 512);
        free(p);
    }
    free(files);
    free(reqs);
    free(recs);
    free(dpath);
}

/* ---- timers and deadlines ------------------------------------------------------------------ */

static void timers_fire_in_order(void **state)
{
    (void)state;
    mapio_engine_t *eng = engine(0);
    mapio_req_t a, b, c;
    struct rec ra = { 0 }, rb = { 0 }, rc = { 0 };
    a.data = &ra;
    b.data = &rb;
    c.data = &rc;
    uint64_t t0 = tu_now_ns();
    assert_int_equal(mapio_timer(eng, &a, 60 * 1000000ull, rec_cb), 0);
    assert_int_equal(mapio_timer(eng, &b, 20 * 1000000ull, rec_cb), 0);
    assert_int_equal(mapio_timer(eng, &c, 0, rec_cb), 0);
    assert_int_equal(wait_rec(eng, &ra), 0);
    assert_true(tu_now_ns() - t0 >= 60 * 1000000ull); /* never early */
    assert_int_equal(wait_rec(eng, &rb), 0);
    assert_int_equal(wait_rec(eng, &rc), 0);
    assert_true(rc.order < rb.order && rb.order < ra.order);

    /* Cancelled, a timer ends at once. */
    memset(&ra, 0, sizeof ra);
    t0 = tu_now_ns();
    assert_int_equal(mapio_timer(eng, &a, 3600ull * 1000000000u, rec_cb), 0);
    assert_int_equal(mapio_timer(eng, &a, 1, rec_cb), MAPIO_EBUSY);
    assert_int_equal(mapio_cancel(&a), 0);
    assert_int_equal(wait_rec(eng, &ra), MAPIO_ECANCELED);

    /* Bad inputs. */
    memset(&ra, 0, sizeof ra);
    assert_int_equal(mapio_timer(NULL, &a, 1, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_timer(eng, NULL, 1, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_timer(eng, &a, 1, NULL), MAPIO_EINVAL);
    assert_never_ran(eng, &ra);

    /* Freeing the engine ends the timers still waiting. */
    assert_int_equal(mapio_timer(eng, &a, 3600ull * 1000000000u, rec_cb), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    assert_int_equal(ra.calls, 1);
    assert_int_equal(ra.result, MAPIO_ECANCELED);
}

static void deadlines_are_per_submission(void **state)
{
    (void)state;
    mapio_engine_t *eng = engine(0);
    char *path = tu_path("deadline");
    mapio_file_t f;
    assert_int_equal(mapio_file_open_blocking(&f, eng, path, 4096, 0), 0);
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;

    /* A deadline long passed before the request could start: ETIMEDOUT. */
    assert_int_equal(mapio_req_set_timeout(&req, 1), 0);
    assert_int_equal(mapio_nop(eng, &req, rec_cb), 0);
    tu_sleep_ms(2);
    assert_int_equal(wait_rec(eng, &r), MAPIO_ETIMEDOUT);
    /* It was the last submission's: the next one has none. */
    memset(&r, 0, sizeof r);
    assert_int_equal(mapio_nop(eng, &req, rec_cb), 0);
    tu_sleep_ms(2);
    assert_int_equal(wait_rec(eng, &r), 0);

    /* A generous deadline changes nothing (io_uring: a linked timeout that
     * comes back cancelled). */
    char buf[64];
    for (int i = 0; i < 50; i++) {
        memset(&r, 0, sizeof r);
        assert_int_equal(mapio_req_set_timeout(&req, 10ull * 1000000000u), 0);
        assert_int_equal(mapio_read_at(&f, &req, buf, sizeof buf, (uint64_t)i * 64, rec_cb), 0);
        assert_int_equal(wait_rec(eng, &r), (int64_t)sizeof buf);
        memset(&r, 0, sizeof r);
        assert_int_equal(mapio_req_set_timeout(&req, 10ull * 1000000000u), 0);
        assert_int_equal(mapio_write_at(&f, &req, buf, sizeof buf, (uint64_t)i * 64, rec_cb), 0);
        assert_int_equal(wait_rec(eng, &r), (int64_t)sizeof buf);
    }
    memset(&r, 0, sizeof r);
    assert_int_equal(mapio_req_set_timeout(&req, 10ull * 1000000000u), 0);
    mapio_stat_t st;
    assert_int_equal(mapio_file_stat(&f, &req, &st, rec_cb), 0);
    assert_int_equal(wait_rec(eng, &r), 0);
    assert_int_equal(st.size, 4096);

    /* Refused: a group commit (its sync is shared), NULL, in flight. */
    memset(&r, 0, sizeof r);
    assert_int_equal(mapio_req_set_timeout(&req, 1000000), 0);
    mapio_write_t w = { .buf = buf, .len = 8, .offset = 0 };
    assert_int_equal(mapio_commit(&f, &req, &w, 1, rec_cb), MAPIO_EINVAL);
    assert_int_equal(mapio_req_set_timeout(&req, 0), 0);
    assert_int_equal(mapio_req_set_timeout(NULL, 1), MAPIO_EINVAL);
    assert_int_equal(mapio_timer(eng, &req, 3600ull * 1000000000u, rec_cb), 0);
    assert_int_equal(mapio_req_set_timeout(&req, 1), MAPIO_EBUSY);
    assert_int_equal(mapio_cancel(&req), 0);
    assert_int_equal(wait_rec(eng, &r), MAPIO_ECANCELED);

    assert_int_equal(mapio_file_close_blocking(&f), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(path);
}

/* One worker, held by a slow open: a request queued behind it with a short
 * deadline never runs (ETIMEDOUT, nothing made); one already running when
 * its deadline passes finishes, with its real result. */
static void queued_requests_time_out(void **state)
{
    (void)state;
    mapio_engine_t *eng = engine(1);
    mapio_file_t d, s;
    char *dpath = open_dir(eng, &d);
    char *made = join(dpath, "late"), *ran = join(dpath, "ran");
    struct gate g = { 0 };
    mapio_fault_hooks_t hooks = { .ctx = &g, .before = gate_before };
    assert_int_equal(mapio_fault_set(eng, &hooks), 0);

    mapio_req_t oreq, req;
    struct rec orec = { 0 }, r = { 0 };
    oreq.data = &orec;
    req.data = &r;
    assert_int_equal(mapio_file_open(&s, eng, &oreq, &d, "slow", 0, 0, rec_cb), 0);
    wait_entered(eng, &g);
    assert_int_equal(mapio_req_set_timeout(&req, 20 * 1000000ull), 0);
    assert_int_equal(mapio_mkdir(eng, &req, &d, "late", 0, rec_cb), 0);
    assert_int_equal(wait_rec(eng, &r), MAPIO_ETIMEDOUT);
    assert_int_equal(orec.calls, 0); /* the worker was busy all along */
    atomic_store(&g.let_go, 1);
    assert_int_equal(wait_rec(eng, &orec), 0);
    assert_int_equal(tu_exists(made), 0);

    /* Started before its deadline: it runs to its end, and says so. */
    g.entered = 0;
    g.mkdir_ms = 100;
    memset(&r, 0, sizeof r);
    assert_int_equal(mapio_req_set_timeout(&req, 10 * 1000000ull), 0);
    assert_int_equal(mapio_mkdir(eng, &req, &d, "ran", 0, rec_cb), 0);
    int64_t res = wait_rec(eng, &r);
    if (atomic_load(&g.entered))
        assert_int_equal(res, 0); /* it ran: the real result */
    else
        assert_int_equal(res, MAPIO_ETIMEDOUT); /* a slow machine: it never started */
    assert_int_equal(tu_is_dir(ran), res == 0);

    assert_int_equal(mapio_fault_set(eng, NULL), 0);
    assert_int_equal(op_close(eng, &s), 0);
    assert_int_equal(op_close(eng, &d), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(dpath);
    free(made);
    free(ran);
}

int main(void)
{
    backend = getenv("MAPIO_BACKEND");
    if (backend == NULL) {
        fprintf(stderr, "set MAPIO_BACKEND (one of %s)\n", mapio_backends_compiled());
        return 2;
    }
    print_message("lifecycle on %s\n", backend);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(open_and_close_without_blocking),
        cmocka_unit_test(open_reports_os_errors_in_its_callback),
        cmocka_unit_test(open_refuses_bad_arguments_before_any_call),
        cmocka_unit_test(stale_handle_bytes_do_not_block_an_open),
        cmocka_unit_test(many_opens_at_once),
        cmocka_unit_test(open_in_mmap_mode),
        cmocka_unit_test(close_waits_for_accepted_requests),
        cmocka_unit_test(adopt_a_descriptor),
        cmocka_unit_test(stat_and_truncate),
        cmocka_unit_test(sync_range_writes_behind),
        cmocka_unit_test(names_relative_to_a_directory),
        cmocka_unit_test(names_follow_a_renamed_directory),
        cmocka_unit_test(fault_hooks_see_the_lifecycle),
        cmocka_unit_test(slow_open_does_not_block_io),
        cmocka_unit_test(cancel_queued_lifecycle_requests),
        cmocka_unit_test(engine_free_with_lifecycle_in_flight),
        cmocka_unit_test(timers_fire_in_order),
        cmocka_unit_test(deadlines_are_per_submission),
        cmocka_unit_test(queued_requests_time_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
