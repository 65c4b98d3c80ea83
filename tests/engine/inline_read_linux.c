/*
 * tests/engine/inline_read_linux.c - cached reads on the pool backends
 * (epoll, kqueue: MAPIO_BACKEND) complete on the polling thread; a cold
 * one goes to a worker, and the loop keeps serving meanwhile.
 *
 * Which path served a read is observable: the read_inline counter, and
 * the OS table, whose pread/preadv only a worker calls for a read (the
 * polling thread's attempt is preadv_nowait). The cold read is made slow
 * deterministically by holding its pread on the worker until the test
 * lets it go. Nothing here is timed.
 *
 * Linux only: the page cache is dropped for the file with
 * posix_fadvise(POSIX_FADV_DONTNEED) after fdatasync, and mincore() on a
 * mapping says whether that worked (a file system that keeps the pages
 * skips the cold-read test rather than fail it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mapio.h"
#include "mapio_config.h"
#include "engine/os.h"
#include "testutil.h"

/* 8 MiB: the cold block and the warm one lie in different 2 MiB folios
 * (ext4 caches large folios: warming one page can bring in its neighbours). */
enum { BS = 4096, BLOCKS = 2048 };

static const char *backend;

/* ---- the OS table, watched ------------------------------------------------- */

static _Atomic int worker_reads;   /* pread/preadv calls (only workers make them) */
static _Atomic uint64_t hold_off;  /* a pread at this offset waits for release (UINT64_MAX: none) */
static _Atomic int held;           /* that pread has begun and is waiting */
static _Atomic int release;        /* let it go */
static _Atomic int64_t nowait_res; /* preadv_nowait's answer at hold_off */
static _Atomic int nowait_calls;

static int64_t watched_pread(mapio_fd_t fd, void *buf, size_t len, uint64_t off)
{
    atomic_fetch_add(&worker_reads, 1);
    if (off == atomic_load(&hold_off)) {
        atomic_store(&held, 1);
        while (!atomic_load(&release))
            tu_sleep_ms(1);
    }
    return mapio__os_default.pread(fd, buf, len, off);
}

static int64_t watched_preadv(mapio_fd_t fd, const mapio_iovec_t *iov, unsigned n, uint64_t off)
{
    atomic_fetch_add(&worker_reads, 1);
    return mapio__os_default.preadv(fd, iov, n, off);
}

static int64_t watched_nowait(mapio_fd_t fd, const mapio_iovec_t *iov, unsigned n, uint64_t off)
{
    int64_t r = mapio__os_default.preadv_nowait(fd, iov, n, off);
    atomic_fetch_add(&nowait_calls, 1);
    if (off == atomic_load(&hold_off))
        atomic_store(&nowait_res, r);
    return r;
}

static void watch_os(void)
{
    atomic_store(&worker_reads, 0);
    atomic_store(&hold_off, UINT64_MAX);
    atomic_store(&held, 0);
    atomic_store(&release, 0);
    atomic_store(&nowait_res, 1);
    atomic_store(&nowait_calls, 0);
    mapio__os.pread = watched_pread;
    mapio__os.preadv = watched_preadv;
    mapio__os.preadv_nowait = watched_nowait;
}

/* ---- fixture ------------------------------------------------------------------ */

struct ctx {
    mapio_engine_t *eng;
    mapio_file_t file;
    char *path;
    unsigned char *data; /* what the file holds */
    /* The file system answers RWF_NOWAIT (tmpfs refuses it: EOPNOTSUPP);
     * without it every read is rightly the pool's. */
    bool nowait;
};

static bool nowait_answered(mapio_file_t *file)
{
    mapio_fd_t fd;
    unsigned char b[16];
    mapio_iovec_t v = { b, sizeof b };
    assert_int_equal(mapio_file_fd(file, &fd), 0);
    int64_t r = mapio__os_default.preadv_nowait(fd, &v, 1, 0);
    if (r == MAPIO_ENOTSUP)
        print_message("this file system refuses RWF_NOWAIT: every read is the pool's\n");
    return r != MAPIO_ENOTSUP;
}

static int setup_flags(void **state, unsigned flags)
{
    struct ctx *c = calloc(1, sizeof *c);
    mapio_engine_opts_t o = { .backend = backend, .workers = 2, .flags = flags };
    if (mapio_engine_new(&c->eng, &o) != 0)
        return -1;
    c->path = tu_path("inline");
    c->data = malloc((size_t)BS * BLOCKS);
    tu_fill(c->data, (size_t)BS * BLOCKS, 18);
    if (tu_write_file(c->path, c->data, (size_t)BS * BLOCKS) != 0)
        return -1;
    if (mapio_file_open_blocking(&c->file, c->eng, c->path, 0, 0) != 0)
        return -1;
    c->nowait = MAPIO_HAVE_RWF_NOWAIT && nowait_answered(&c->file);
    watch_os();
    *state = c;
    return 0;
}

static int setup(void **state)
{
    return setup_flags(state, 0);
}

static int setup_no_inline(void **state)
{
    return setup_flags(state, MAPIO_ENGINE_NO_INLINE_READS);
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    atomic_store(&release, 1);
    mapio__os = mapio__os_default;
    mapio_file_close_blocking(&c->file);
    mapio_engine_free(c->eng);
    tu_unlink(c->path);
    free(c->path);
    free(c->data);
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

static uint64_t engine_inline(struct ctx *c)
{
    mapio_metrics_t m;
    assert_int_equal(mapio_engine_metrics(c->eng, &m), 0);
    return m.read_inline;
}

static uint64_t file_inline(struct ctx *c)
{
    mapio_metrics_t m;
    assert_int_equal(mapio_file_metrics(&c->file, &m), 0);
    return m.read_inline;
}

/* Read len bytes at off through the engine; its result. */
static int64_t read_one(struct ctx *c, void *buf, size_t len, uint64_t off)
{
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_read_at(&c->file, &req, buf, len, off, rec_cb), 0);
    assert_int_equal(mapio_engine_run(c->eng), 1);
    assert_int_equal(r.calls, 1);
    return r.result;
}

/* ---- cached reads ------------------------------------------------------------ */

static void cached_reads_complete_inline(void **state)
{
    struct ctx *c = *state;
    unsigned char buf[3 * BS];
    /* The file was just written: every page is in the cache. */
    assert_int_equal(read_one(c, buf, BS, 5 * BS), BS);
    assert_memory_equal(buf, c->data + 5 * BS, BS);
    mapio_iovec_t v[2] = { { buf, 100 }, { buf + 100, 2 * BS } };
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_readv_at(&c->file, &req, v, 2, 7 * BS + 3, rec_cb), 0);
    assert_int_equal(mapio_engine_run(c->eng), 1);
    assert_int_equal(r.result, 100 + 2 * BS);
    assert_memory_equal(buf, c->data + 7 * BS + 3, 100 + 2 * BS);
    /* At the end of the file: nothing to read, known without waiting. */
    assert_int_equal(read_one(c, buf, BS, (uint64_t)BS * BLOCKS), 0);
    if (c->nowait) {
        assert_int_equal(engine_inline(c), 3);
        assert_int_equal(file_inline(c), 3);
        assert_int_equal(atomic_load(&worker_reads), 0);
    } else {
        /* No way to tell a cached read here: every read is the pool's. */
        assert_int_equal(engine_inline(c), 0);
        assert_int_equal(file_inline(c), 0);
        assert_int_equal(atomic_load(&worker_reads), 3);
    }
    mapio_metrics_t m;
    assert_int_equal(mapio_engine_metrics(c->eng, &m), 0);
    assert_int_equal(m.read, 3);
    assert_int_equal(m.read_bytes, BS + 100 + 2 * BS);
}

/* A read across the end of the file: the cached part, then the rest
 * (nothing) from the pool, which says where the file ends. */
static void a_read_past_the_end_resumes_on_the_pool(void **state)
{
    struct ctx *c = *state;
    unsigned char buf[2 * BS];
    uint64_t off = (uint64_t)BS * BLOCKS - 1000;
    assert_int_equal(read_one(c, buf, sizeof buf, off), 1000);
    assert_memory_equal(buf, c->data + off, 1000);
    assert_int_equal(engine_inline(c), 0);
    if (c->nowait) {
        assert_int_equal(atomic_load(&worker_reads), 1);
        mapio_metrics_t m;
        assert_int_equal(mapio_engine_metrics(c->eng, &m), 0);
        assert_int_equal(m.short_io_resumed, 1);
    }
}

static void told_not_to_every_read_goes_to_the_pool(void **state)
{
    struct ctx *c = *state;
    unsigned char buf[BS];
    assert_int_equal(read_one(c, buf, BS, 0), BS);
    assert_memory_equal(buf, c->data, BS);
    assert_int_equal(engine_inline(c), 0);
    assert_int_equal(atomic_load(&nowait_calls), 0);
    assert_int_equal(atomic_load(&worker_reads), 1);
}

static int64_t hook_before(void *arg, const mapio_fault_call_t *call)
{
    atomic_fetch_add((_Atomic int *)arg, call->op == MAPIO_OP_READ);
    return MAPIO_FAULT_PASS;
}

/* The fault hooks see every call, on a worker: none is made inline. */
static void fault_hooks_see_every_read(void **state)
{
    struct ctx *c = *state;
    _Atomic int seen = 0;
    mapio_fault_hooks_t hooks = { .ctx = (void *)&seen, .before = hook_before };
    assert_int_equal(mapio_fault_set(c->eng, &hooks), 0);
    unsigned char buf[BS];
    assert_int_equal(read_one(c, buf, BS, BS), BS);
    assert_memory_equal(buf, c->data + BS, BS);
    assert_int_equal(atomic_load(&seen), 1);
    assert_int_equal(engine_inline(c), 0);
    assert_int_equal(atomic_load(&nowait_calls), 0);
    assert_int_equal(mapio_fault_set(c->eng, NULL), 0);
}

/* ---- a cold read --------------------------------------------------------------- */

/* Drop the file's pages from the cache; true if mincore says they went. */
static int drop_cache(const char *path)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(fdatasync(fd), 0);
    assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    void *p = mmap(NULL, (size_t)BS * BLOCKS, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(p != MAP_FAILED);
    unsigned char vec[(size_t)BS * BLOCKS / 4096];
    int dropped = mincore(p, (size_t)BS * BLOCKS, vec) == 0;
    for (size_t i = 0; dropped && i < sizeof vec; i++)
        dropped = !(vec[i] & 1);
    munmap(p, (size_t)BS * BLOCKS);
    close(fd);
    return dropped;
}

/* Drop the file's pages, warm the last block again, and read the first
 * through the engine with its worker's pread held. Returns 1 once a worker
 * holds it, 0 if the polling thread found the block cached after all
 * (something brought it back between the drop and the read: the read then
 * completed inline, and the caller tries again). */
static int read_cold(struct ctx *c, mapio_req_t *creq, struct rec *cr, unsigned char *cold)
{
    /* Warm one block again, the last: readahead runs forward from it, and
     * its folio is nowhere near the cold block. */
    unsigned char hot[BS];
    assert_int_equal(tu_read_file_at(c->path, hot, BS, (uint64_t)BS * (BLOCKS - 1)), BS);
    atomic_store(&hold_off, 0);
    atomic_store(&nowait_res, 1);
    memset(cr, 0, sizeof *cr);
    creq->data = cr;
    memset(cold, 0, BS);
    assert_int_equal(mapio_read_at(&c->file, creq, cold, BS, 0, rec_cb), 0);
    /* Poll until a worker has it (bounded only so a bug cannot hang). */
    for (int i = 0; i < 100000 && !atomic_load(&held) && cr->calls == 0; i++)
        assert_true(mapio_engine_poll(c->eng, 1) >= 0);
    if (atomic_load(&held))
        return 1;
    /* Completed without a worker: only because the page cache had it. */
    assert_int_equal(cr->calls, 1);
    assert_int_equal(cr->result, BS);
    assert_true(atomic_load(&nowait_res) == BS);
    atomic_store(&hold_off, UINT64_MAX);
    return 0;
}

static void a_cold_read_waits_on_a_worker_while_the_loop_serves(void **state)
{
    struct ctx *c = *state;
    unsigned char cold[BS], other[BS];
    uint64_t hot_off = (uint64_t)BS * (BLOCKS - 1), cold_off = 0;
    mapio_req_t creq;
    struct rec cr;
    /* Readahead or another reader can bring the cold block back between the
     * drop and the read (seen once in about eight runs under TSan): the
     * read is then rightly served inline; try again, a few times. */
    int cold_seen = 0;
    for (int attempt = 0; attempt < 5 && !cold_seen; attempt++) {
        if (!drop_cache(c->path)) {
            skip(); /* this file system keeps its pages (tmpfs): nothing is cold */
            return;
        }
        cold_seen = read_cold(c, &creq, &cr, cold);
    }
    if (!cold_seen) {
        print_message("skip: the first block was cached again after every drop\n");
        skip();
        return;
    }
    assert_int_equal(cr.calls, 0);
    if (c->nowait) /* the loop asked first and heard "not cached" */
        assert_int_equal(atomic_load(&nowait_res), MAPIO_EAGAIN);
    uint64_t inline0 = engine_inline(c); /* reads of blocks found cached on earlier tries */
    if (!c->nowait)
        assert_int_equal(inline0, 0); /* no way to tell a cached read here: none is inline */

    /* Meanwhile: a cached read, a no-op and a write, each completed by a
     * poll of its own while the cold read still waits on its worker. */
    mapio_req_t req;
    struct rec r = { 0 };
    req.data = &r;
    assert_int_equal(mapio_read_at(&c->file, &req, other, BS, hot_off, rec_cb), 0);
    while (r.calls == 0)
        assert_true(mapio_engine_poll(c->eng, -1) >= 0);
    assert_int_equal(r.result, BS);
    assert_memory_equal(other, c->data + hot_off, BS);
    assert_int_equal(engine_inline(c), inline0 + c->nowait);
    r.calls = 0;
    assert_int_equal(mapio_nop(c->eng, &req, rec_cb), 0);
    while (r.calls == 0)
        assert_true(mapio_engine_poll(c->eng, -1) >= 0);
    assert_int_equal(r.result, 0);
    r.calls = 0;
    assert_int_equal(mapio_write_at(&c->file, &req, other, BS, 2 * BS, rec_cb), 0);
    while (r.calls == 0)
        assert_true(mapio_engine_poll(c->eng, -1) >= 0);
    assert_int_equal(r.result, BS);
    assert_int_equal(cr.calls, 0); /* still on its worker */

    atomic_store(&release, 1);
    while (cr.calls == 0)
        assert_true(mapio_engine_poll(c->eng, -1) >= 0);
    assert_int_equal(cr.result, BS);
    assert_memory_equal(cold, c->data + cold_off, BS);
    /* The hot read's, not the cold one's. */
    assert_int_equal(engine_inline(c), inline0 + c->nowait);
    assert_int_equal(mapio_engine_inflight(c->eng), 0);
}

int main(void)
{
    backend = getenv("MAPIO_BACKEND");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(cached_reads_complete_inline, setup, teardown),
        cmocka_unit_test_setup_teardown(a_read_past_the_end_resumes_on_the_pool, setup, teardown),
        cmocka_unit_test_setup_teardown(told_not_to_every_read_goes_to_the_pool, setup_no_inline,
                                        teardown),
        cmocka_unit_test_setup_teardown(fault_hooks_see_every_read, setup, teardown),
        cmocka_unit_test_setup_teardown(a_cold_read_waits_on_a_worker_while_the_loop_serves, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
