/*
 * tests/libev/libev_test.c - mapio completions inside a libev loop, on every
 * backend (MAPIO_BACKEND).
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
#include <unistd.h>

#include "mapio/ev.h"
#include "testutil.h"

static const char *backend;
static int in_ev_run;

#define N 1000

struct op {
    mapio_req_t req;
    unsigned char buf[256];
    int calls;
    int64_t result;
};

static struct op ops[2 * N];
static mapio_file_t file;
static _Atomic int completed;

static void read_back(mapio_req_t *req);

static void written(mapio_req_t *req)
{
    struct op *o = req->data;
    assert_true(in_ev_run); /* never outside the libev loop */
    o->calls++;
    o->result = req->result;
    atomic_fetch_add(&completed, 1);
    /* Chain a read from inside the callback. */
    size_t i = (size_t)(o - ops);
    if (i % 3 == 0) {
        struct op *r = &ops[N + i];
        r->req.data = r;
        assert_int_equal(mapio_read_at(&file, &r->req, r->buf, sizeof r->buf,
                                       (uint64_t)i * sizeof r->buf, read_back),
                         0);
    }
}

static void read_back(mapio_req_t *req)
{
    struct op *r = req->data;
    assert_true(in_ev_run);
    r->calls++;
    r->result = req->result;
    size_t i = (size_t)(r - ops) - N;
    assert_int_equal(req->result, sizeof r->buf);
    assert_memory_equal(r->buf, ops[i].buf, sizeof r->buf);
    atomic_fetch_add(&completed, 1);
}

static void run_until(struct ev_loop *loop, int target)
{
    while (atomic_load(&completed) < target) {
        in_ev_run = 1;
        ev_run(loop, EVRUN_ONCE);
        in_ev_run = 0;
    }
}

struct thread_arg {
    int from, to;
};

static void *submit_from_thread(void *arg)
{
    struct thread_arg *t = arg;
    for (int i = t->from; i < t->to; i++) {
        int err;
        while ((err = mapio_write_at(&file, &ops[i].req, ops[i].buf, sizeof ops[i].buf,
                                     (uint64_t)i * sizeof ops[i].buf, written)) == MAPIO_EAGAIN)
            sched_yield();
        if (err != 0)
            return (void *)1;
    }
    return NULL;
}

static void completions_run_in_the_libev_loop(void **state)
{
    (void)state;
    mapio_engine_t *eng;
    mapio_engine_opts_t o = { .backend = backend };
    assert_int_equal(mapio_engine_new(&eng, &o), 0);
    char *path = tu_path("ev");
    assert_int_equal(mapio_file_open_blocking(&file, eng, path, 0, 0), 0);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    assert_non_null(loop);
    mapio_ev_t w;
    assert_int_equal(mapio_ev_start(&w, loop, eng), 0);
    memset(ops, 0, sizeof ops);
    completed = 0;

    /* Half submitted from this thread before the loop runs... */
    int reads = 0;
    for (int i = 0; i < N / 2; i++) {
        tu_fill(ops[i].buf, sizeof ops[i].buf, (uint64_t)i);
        ops[i].req.data = &ops[i];
        assert_int_equal(mapio_write_at(&file, &ops[i].req, ops[i].buf, sizeof ops[i].buf,
                                        (uint64_t)i * sizeof ops[i].buf, written),
                         0);
        reads += i % 3 == 0;
    }
    /* ...and half from another thread while ev_run blocks. */
    for (int i = N / 2; i < N; i++) {
        tu_fill(ops[i].buf, sizeof ops[i].buf, (uint64_t)i);
        ops[i].req.data = &ops[i];
        reads += i % 3 == 0;
    }
    pthread_t t;
    struct thread_arg ta = { N / 2, N };
    assert_int_equal(pthread_create(&t, NULL, submit_from_thread, &ta), 0);
    run_until(loop, N + reads);
    void *ret;
    pthread_join(t, &ret);
    assert_null(ret);
    for (int i = 0; i < N; i++) {
        assert_int_equal(ops[i].calls, 1);
        assert_int_equal(ops[i].result, sizeof ops[i].buf);
        if (i % 3 == 0)
            assert_int_equal(ops[N + i].calls, 1);
    }
    assert_int_equal(w.last_error, 0);
    mapio_ev_stop(&w);
    mapio_ev_stop(&w);
    assert_int_equal(mapio_engine_inflight(eng), 0);
    assert_int_equal(mapio_ev_start(NULL, loop, eng), MAPIO_EINVAL);
    assert_int_equal(mapio_ev_start(&w, NULL, eng), MAPIO_EINVAL);
    assert_int_equal(mapio_ev_start(&w, loop, NULL), MAPIO_EINVAL);
    mapio_file_close_blocking(&file);
    mapio_engine_free(eng);
    ev_loop_destroy(loop);
    unlink(path);
    free(path);
}

int main(void)
{
    backend = getenv("MAPIO_BACKEND");
    if (backend == NULL || backend[0] == '\0') {
        fprintf(stderr, "libev: set MAPIO_BACKEND to the backend under test\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(completions_run_in_the_libev_loop),
    };
    return cmocka_run_group_tests_name(backend, tests, NULL, NULL);
}
