/*
 * tests/engine/pool_stress.c - lost wake-ups between the poller, the worker
 * pools and other threads, under CPU contention.
 *
 * A wake that the backend's wait swallows before it sleeps hangs the loop
 * until something else happens - with nothing else in flight, forever. Such
 * a window is a few hundred nanoseconds wide, so it takes many round trips
 * and a loaded machine to hit: this runs the MMapIO copy pool and the
 * backend at QD1 and QD32, with submissions from the polling thread and
 * from another one, beside threads that burn CPU. A watchdog turns a stall
 * into a quick failure instead of a test timeout.
 *
 * MAPIO_STRESS_SECONDS sets the length of each phase (default 2; run it
 * with 60 by hand for a longer soak).
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
#include <time.h>

#include "mapio.h"
#include "testutil.h"

#define FILE_SIZE (1u << 20)
#define QD 32
#define STALL_SECONDS 20

static const char *backend;
static double phase_seconds = 2;
static _Atomic uint64_t progress; /* completions so far, all phases */
static _Atomic int stop_burn, stop_watch;
static const char *_Atomic phase = "setup";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *burn(void *arg)
{
    (void)arg;
    volatile uint64_t x = 0;
    while (!atomic_load_explicit(&stop_burn, memory_order_relaxed))
        for (int i = 0; i < 100000; i++)
            x += (uint64_t)i;
    (void)x; /* only burns the CPU; clang's -Wunused-but-set-variable */
    return NULL;
}

static void *watchdog(void *arg)
{
    (void)arg;
    uint64_t last = atomic_load(&progress);
    int still = 0;
    while (!atomic_load(&stop_watch)) {
        struct timespec ts = { 0, 100000000 };
        nanosleep(&ts, NULL);
        uint64_t p = atomic_load(&progress);
        still = p == last ? still + 1 : 0;
        last = p;
        if (still >= STALL_SECONDS * 10) {
            fprintf(stderr,
                    "pool_stress: no completion for %d s in phase %s (%llu so far): lost "
                    "wake-up\n",
                    STALL_SECONDS, atomic_load(&phase), (unsigned long long)p);
            fflush(stderr);
            _Exit(1);
        }
    }
    return NULL;
}

struct run {
    mapio_engine_t *eng;
    mapio_file_t file;
    char *path;
    unsigned char bufs[QD][4096];
    mapio_req_t reqs[QD];
    double until;
    _Atomic int inflight;
};

static void resubmit_cb(mapio_req_t *req)
{
    struct run *r = req->data;
    assert_true(req->result == 4096 || req->result == 512);
    atomic_fetch_add(&progress, 1);
    if (now_s() < r->until) {
        /* Each slot keeps to its own part of the file: concurrent copies
         * into one place would be the caller's race, not the engine's. */
        unsigned i = (unsigned)(req - r->reqs);
        uint64_t part = FILE_SIZE / QD;
        uint64_t off = i * part + ((uint64_t)atomic_load(&progress) * 4096) % part;
        int rc = (i & 1) ? mapio_write_at(&r->file, req, r->bufs[i], 512, off, resubmit_cb)
                         : mapio_read_at(&r->file, req, r->bufs[i], 4096, off, resubmit_cb);
        assert_int_equal(rc, 0);
        return;
    }
    atomic_fetch_sub(&r->inflight, 1);
}

/* depth requests resubmitted from their callbacks, the loop asleep in
 * mapio_engine_poll(-1) whenever nothing is ready. */
static void from_the_loop(struct run *r, int depth, const char *name)
{
    atomic_store(&phase, name);
    r->until = now_s() + phase_seconds;
    atomic_store(&r->inflight, depth);
    for (int i = 0; i < depth; i++) {
        r->reqs[i].data = r;
        assert_int_equal(
            mapio_read_at(&r->file, &r->reqs[i], r->bufs[i], 4096, (uint64_t)i * 4096, resubmit_cb),
            0);
    }
    while (atomic_load(&r->inflight) > 0)
        assert_true(mapio_engine_poll(r->eng, -1) >= 0);
}

/* Another thread submits one request at a time and waits for it; the loop
 * sleeps in mapio_engine_poll(-1) and only ever learns of a submission
 * through a wake-up. The last one is a no-op that ends the phase, so a lost
 * wake-up anywhere stalls it for good. */
struct remote {
    struct run *r;
    mapio_req_t last;
    _Atomic int done_flag;
    _Atomic int finished;
};

static void remote_cb(mapio_req_t *req)
{
    struct remote *rm = req->data;
    assert_int_equal(req->result, 4096);
    atomic_fetch_add(&progress, 1);
    atomic_store_explicit(&rm->done_flag, 1, memory_order_release);
}

static void remote_last_cb(mapio_req_t *req)
{
    struct remote *rm = req->data;
    atomic_store(&rm->finished, 1);
}

static void *remote_submitter(void *arg)
{
    struct remote *rm = arg;
    struct run *r = rm->r;
    uint64_t i = 0;
    while (now_s() < r->until) {
        atomic_store(&rm->done_flag, 0);
        r->reqs[0].data = rm;
        assert_int_equal(mapio_read_at(&r->file, &r->reqs[0], r->bufs[0], 4096,
                                       (i++ * 4096) % FILE_SIZE, remote_cb),
                         0);
        while (!atomic_load_explicit(&rm->done_flag, memory_order_acquire))
            ;
    }
    rm->last.data = rm;
    assert_int_equal(mapio_nop(r->eng, &rm->last, remote_last_cb), 0);
    return NULL;
}

static void from_another_thread(struct run *r, const char *name)
{
    atomic_store(&phase, name);
    r->until = now_s() + phase_seconds;
    struct remote *rm = calloc(1, sizeof *rm);
    rm->r = r;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, remote_submitter, rm), 0);
    while (!atomic_load(&rm->finished))
        assert_true(mapio_engine_poll(r->eng, -1) >= 0);
    pthread_join(th, NULL);
    free(rm);
}

static void stress(unsigned open_flags, const char *label)
{
    struct run *r = calloc(1, sizeof *r);
    mapio_engine_opts_t o = { .backend = backend, .workers = 2 };
    assert_int_equal(mapio_engine_new(&r->eng, &o), 0);
    r->path = tu_path("stress");
    assert_int_equal(mapio_file_open_blocking(&r->file, r->eng, r->path, FILE_SIZE, open_flags), 0);
    char name[64];
    snprintf(name, sizeof name, "%s qd1", label);
    from_the_loop(r, 1, name);
    snprintf(name, sizeof name, "%s qd32", label);
    from_the_loop(r, QD, name);
    snprintf(name, sizeof name, "%s other thread", label);
    from_another_thread(r, name);
    assert_int_equal(mapio_file_close_blocking(&r->file), 0);
    mapio_engine_free(r->eng);
    tu_unlink(r->path);
    free(r->path);
    free(r);
}

static void copy_pool_under_contention(void **state)
{
    (void)state;
    stress(MAPIO_OPEN_MMAP | MAPIO_OPEN_MMAP_ON_POOL, "mmap-pool");
}

static void backend_under_contention(void **state)
{
    (void)state;
    stress(0, "plain");
}

int main(void)
{
    backend = getenv("MAPIO_BACKEND");
    if (backend == NULL || backend[0] == '\0') {
        fprintf(stderr, "pool_stress: set MAPIO_BACKEND to the backend under test\n");
        return 1;
    }
    const char *secs = getenv("MAPIO_STRESS_SECONDS");
    if (secs != NULL && atof(secs) > 0)
        phase_seconds = atof(secs);
    pthread_t burners[2], dog;
    for (int i = 0; i < 2; i++)
        pthread_create(&burners[i], NULL, burn, NULL);
    pthread_create(&dog, NULL, watchdog, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(copy_pool_under_contention),
        cmocka_unit_test(backend_under_contention),
    };
    int rc = cmocka_run_group_tests_name(backend, tests, NULL, NULL);
    atomic_store(&stop_burn, 1);
    atomic_store(&stop_watch, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(burners[i], NULL);
    pthread_join(dog, NULL);
    return rc;
}
