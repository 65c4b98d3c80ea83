/*
 * tests/vec/vec_threads_test.c - vectors are independent: threads that each
 * own vectors grow, shrink, clone and free them at the same time, while
 * another thread reads the process-wide statistics. Meant for TSan (suite
 * threads): the counters and the default path's random names are the only
 * state the vectors share.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "mapio/vec.h"
#include "testutil.h"

#define THREADS 4
#define ROUNDS 12

static atomic_int running;
static atomic_int errors;
static char names[THREADS][ROUNDS][MAPIO_VEC_PATH_MAX];
static const char *dir; /* tu_dir() is not thread-safe: read once, before the threads */

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            atomic_fetch_add(&errors, 1);                                                          \
    } while (0)

static void *owner(void *arg)
{
    size_t t = (size_t)(uintptr_t)arg;
    const size_t sizes[THREADS] = { 1, 24, 4097, 8192 };
    size_t es = sizes[t], n = 3 * 4096 / es + 200;
    unsigned char *e = malloc(es), *got = malloc(es);
    mapio_vec_opts_t o = { .path_fn = mapio_vec_path_in_dir, .path_ctx = (void *)dir };
    for (int r = 0; r < ROUNDS; r++) {
        mapio_vec_t *v, *c;
        CHECK(mapio_vec_new(&v, es, &o) == 0);
        strcpy(names[t][r], mapio_vec_path(v));
        for (size_t i = 0; i < n; i++) {
            tu_fill(e, es, t * 1000003u + i);
            CHECK(mapio_vec_push(v, e) == 0);
        }
        CHECK(mapio_vec_clone(&c, v, NULL) == 0);
        CHECK(mapio_vec_truncate_front(v, n / 2) == 0);
        CHECK(mapio_vec_shrink_to_fit(v) == 0);
        for (size_t i = 0; i < n; i++) {
            tu_fill(e, es, t * 1000003u + i);
            CHECK(mapio_vec_get(c, i, got) == 0 && memcmp(e, got, es) == 0);
            if (i >= n / 2)
                CHECK(mapio_vec_get(v, i - n / 2, got) == 0 && memcmp(e, got, es) == 0);
        }
        CHECK(mapio_vec_free(c) == 0);
        CHECK(mapio_vec_free(v) == 0);
    }
    free(e);
    free(got);
    atomic_fetch_sub(&running, 1);
    return NULL;
}

static void test_independent_vectors(void **state)
{
    (void)state;
    pthread_t th[THREADS];
    dir = tu_dir();
    atomic_store(&running, THREADS);
    for (size_t t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, owner, (void *)(uintptr_t)t), 0);
    /* Each owner has at most its vector, its clone and, on the portable
     * path, a second mapping for a moment while growing. */
    uint64_t most = 0;
    while (atomic_load(&running) > 0) {
        mapio_vec_stats_t s;
        assert_int_equal(mapio_vec_stats(&s), 0);
        assert_true(s.active_mappings <= 3 * THREADS);
        most = s.active_mappings > most ? s.active_mappings : most;
    }
    for (size_t t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    assert_int_equal(atomic_load(&errors), 0);
    print_message("at most %llu mappings alive at once\n", (unsigned long long)most);

    mapio_vec_stats_t s;
    assert_int_equal(mapio_vec_stats(&s), 0);
    assert_int_equal(s.active_mappings, 0);
    assert_int_equal(s.ftruncate_failed + s.map_failed + s.unmap_failed, 0);
    /* Random names drawn concurrently never collided. */
    for (size_t a = 0; a < THREADS * ROUNDS; a++)
        for (size_t b = a + 1; b < THREADS * ROUNDS; b++)
            assert_string_not_equal(names[a / ROUNDS][a % ROUNDS], names[b / ROUNDS][b % ROUNDS]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_independent_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
