/*
 * tests/vec/vec_test.c - the disk-backed vector: growth, element sizes,
 * segment location and removal, failures that leave it intact, statistics,
 * and a vector much larger than the memory it keeps resident.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mapio/vec.h"
#include "testutil.h"

static void fill_elem(unsigned char *e, size_t size, uint64_t i)
{
    tu_fill(e, size, i * 7919 + size);
}

static void push_check(size_t size, uint64_t count)
{
    mapio_vec_t *v;
    assert_int_equal(mapio_vec_new(&v, size, NULL), 0);
    assert_int_equal(mapio_vec_len(v), 0);
    assert_int_equal(mapio_vec_capacity(v), 0);
    assert_null(mapio_vec_at(v, 0));
    unsigned char *e = malloc(size), *back = malloc(size);
    uint64_t grows = 0, cap = 0;
    for (uint64_t i = 0; i < count; i++) {
        fill_elem(e, size, i);
        assert_int_equal(mapio_vec_push(v, e), 0);
        if (mapio_vec_capacity(v) != cap) {
            assert_true(mapio_vec_capacity(v) >= 2 * cap); /* doubling */
            cap = mapio_vec_capacity(v);
            grows++;
        }
    }
    assert_int_equal(mapio_vec_len(v), count);
    /* Everything survived every growth (and every move of the mapping). */
    for (uint64_t i = 0; i < count; i++) {
        fill_elem(e, size, i);
        assert_int_equal(mapio_vec_get(v, i, back), 0);
        if (memcmp(e, back, size) != 0)
            fail_msg("size %zu: element %llu differs", size, (unsigned long long)i);
        assert_memory_equal(mapio_vec_at(v, i), e, size);
    }
    assert_true(grows <= 64);
    assert_int_equal(mapio_vec_get(v, count, back), MAPIO_ERANGE);
    assert_int_equal(mapio_vec_free(v), 0);
    free(e);
    free(back);
}

static void element_sizes_and_growth(void **state)
{
    (void)state;
    push_check(1, 100000);
    push_check(24, 100000);
    push_check(4096, 3000);
    push_check(4097, 2000); /* larger than a page, not a multiple of one */
    push_check(8192, 2000);
    mapio_vec_stats_t s;
    mapio_vec_stats(&s);
    assert_int_equal(s.active_mappings, 0);
}

static void editing(void **state)
{
    (void)state;
    mapio_vec_t *v, *c;
    mapio_vec_opts_t o = { .capacity = 10 };
    assert_int_equal(mapio_vec_new(&v, sizeof(uint32_t), &o), 0);
    assert_true(mapio_vec_capacity(v) >= 10);
    assert_int_equal(mapio_vec_elem_size(v), 4);
    for (uint32_t i = 0; i < 10; i++)
        assert_int_equal(mapio_vec_push(v, &i), 0);
    uint32_t x;
    assert_int_equal(mapio_vec_pop(v, &x), 0);
    assert_int_equal(x, 9);
    assert_int_equal(mapio_vec_truncate_front(v, 3), 0); /* 3..8 */
    assert_int_equal(mapio_vec_len(v), 6);
    assert_int_equal(mapio_vec_get(v, 0, &x), 0);
    assert_int_equal(x, 3);
    assert_int_equal(mapio_vec_truncate(v, 4), 0); /* 3..6 */
    assert_int_equal(mapio_vec_truncate(v, 100), 0);
    assert_int_equal(mapio_vec_len(v), 4);
    x = 42;
    assert_int_equal(mapio_vec_set(v, 3, &x), 0);
    assert_int_equal(mapio_vec_set(v, 4, &x), MAPIO_ERANGE);
    assert_int_equal(mapio_vec_truncate_front(v, 5), MAPIO_ERANGE);

    /* A clone has its own segment and its own bytes. */
    assert_int_equal(mapio_vec_clone(&c, v), 0);
    assert_string_not_equal(mapio_vec_path(c), mapio_vec_path(v));
    assert_int_equal(mapio_vec_len(c), 4);
    assert_int_equal(mapio_vec_get(c, 3, &x), 0);
    assert_int_equal(x, 42);
    x = 7;
    assert_int_equal(mapio_vec_set(c, 0, &x), 0);
    assert_int_equal(mapio_vec_get(v, 0, &x), 0);
    assert_int_equal(x, 3);

    assert_int_equal(mapio_vec_free(c), 0);
    uint64_t cap = mapio_vec_capacity(v);
    mapio_vec_clear(v);
    assert_int_equal(mapio_vec_len(v), 0);
    assert_int_equal(mapio_vec_capacity(v), cap);
    assert_int_equal(mapio_vec_pop(v, &x), MAPIO_ERANGE);
    assert_int_equal(mapio_vec_truncate_front(v, 0), 0);
    assert_int_equal(mapio_vec_reserve(v, 1000), 0);
    assert_true(mapio_vec_capacity(v) >= 1000);
    assert_int_equal(mapio_vec_reserve(v, UINT64_MAX), MAPIO_EOVERFLOW);
    assert_int_equal(mapio_vec_prefetch(v), 0);
    x = 7;
    assert_int_equal(mapio_vec_push(v, &x), 0);
    assert_int_equal(mapio_vec_prefetch_at(v, 0), 0);
    assert_int_equal(mapio_vec_prefetch_at(v, 1), MAPIO_ERANGE);
    assert_int_equal(mapio_vec_evict(v, 0, 1), 0);
    assert_int_equal(mapio_vec_get(v, 0, &x), 0); /* it comes back from the file */
    assert_int_equal(x, 7);
    assert_int_equal(mapio_vec_evict(v, 1, 1), MAPIO_ERANGE);

    /* Bad input. */
    assert_int_equal(mapio_vec_new(&c, 0, NULL), MAPIO_EINVAL);
    assert_int_equal(mapio_vec_new(NULL, 4, NULL), MAPIO_EINVAL);
    mapio_vec_opts_t huge = { .capacity = UINT64_MAX / 2 };
    assert_int_equal(mapio_vec_new(&c, 8, &huge), MAPIO_EOVERFLOW);
    assert_int_equal(mapio_vec_push(v, NULL), MAPIO_EINVAL);
    assert_int_equal(mapio_vec_push(NULL, &x), MAPIO_EINVAL);
    assert_int_equal(mapio_vec_get(v, 0, NULL), MAPIO_EINVAL);
    assert_null(mapio_vec_at(NULL, 0));
    assert_int_equal(mapio_vec_free(NULL), 0);
    assert_int_equal(mapio_vec_free(v), 0);
}

/* ---- where segments live ------------------------------------------------------ */

struct place {
    char *path;
    int calls;
    int fail;
};

static int place_cb(void *ctx, char *buf, size_t cap)
{
    struct place *p = ctx;
    p->calls++;
    if (p->fail)
        return MAPIO_EACCES;
    snprintf(buf, cap, "%s", p->path);
    return 0;
}

static void segment_location(void **state)
{
    (void)state;
    struct place pl = { tu_path("segment"), 0, 0 };
    mapio_vec_opts_t o = { .path = place_cb, .ctx = &pl, .capacity = 1 };
    mapio_vec_t *v, *w;
    assert_int_equal(mapio_vec_new(&v, 16, &o), 0);
    assert_string_equal(mapio_vec_path(v), pl.path);
    assert_int_equal(access(pl.path, F_OK), 0);
    /* The file must be new: a second vector on the same path is refused. */
    assert_int_equal(mapio_vec_new(&w, 16, &o), MAPIO_EEXIST);
    assert_int_equal(mapio_vec_free(v), 0);
    assert_int_equal(access(pl.path, F_OK), -1); /* removed */
    pl.fail = 1;
    assert_int_equal(mapio_vec_new(&v, 16, &o), MAPIO_EACCES);

    /* The default: $XDG_CACHE_HOME/mapio (created), else $TMPDIR. */
    char *cache = tu_path("cache");
    char *old_xdg = getenv("XDG_CACHE_HOME") ? strdup(getenv("XDG_CACHE_HOME")) : NULL;
    char *old_tmp = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    assert_int_equal(mkdir(cache, 0700), 0);
    setenv("XDG_CACHE_HOME", cache, 1);
    assert_int_equal(mapio_vec_new(&v, 8, NULL), 0);
    char want[1024];
    snprintf(want, sizeof want, "%s/mapio/mapio-vec-", cache);
    assert_int_equal(strncmp(mapio_vec_path(v), want, strlen(want)), 0);
    assert_int_equal(mapio_vec_new(&w, 8, NULL), 0); /* random names differ */
    assert_string_not_equal(mapio_vec_path(v), mapio_vec_path(w));
    assert_int_equal(mapio_vec_free(w), 0);
    char path[1024];
    snprintf(path, sizeof path, "%s", mapio_vec_path(v));
    assert_int_equal(mapio_vec_free(v), 0);
    assert_int_equal(access(path, F_OK), -1);
    unsetenv("XDG_CACHE_HOME");
    setenv("TMPDIR", tu_dir(), 1);
    assert_int_equal(mapio_vec_new(&v, 8, NULL), 0);
    assert_int_equal(strncmp(mapio_vec_path(v), tu_dir(), strlen(tu_dir())), 0);
    assert_int_equal(mapio_vec_free(v), 0);
    if (old_xdg != NULL)
        setenv("XDG_CACHE_HOME", old_xdg, 1);
    if (old_tmp != NULL)
        setenv("TMPDIR", old_tmp, 1);
    else
        unsetenv("TMPDIR");
    free(old_xdg);
    free(old_tmp);
    free(cache);
    free(pl.path);
}

/* A growth that fails (the file may not get bigger) leaves the vector as it
 * was, counted in the statistics. */
static void failed_growth_leaves_it_intact(void **state)
{
    (void)state;
    mapio_vec_t *v;
    assert_int_equal(mapio_vec_new(&v, 1024, NULL), 0);
    unsigned char e[1024];
    for (int i = 0; i < 64; i++) {
        fill_elem(e, sizeof e, (uint64_t)i);
        assert_int_equal(mapio_vec_push(v, e), 0);
    }
    mapio_vec_stats_t before, after;
    mapio_vec_stats(&before);
    assert_int_equal(before.active_mappings, 1);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 128 * 1024;
    signal(SIGXFSZ, SIG_IGN); /* EFBIG instead of death */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    uint64_t len = mapio_vec_len(v), cap = mapio_vec_capacity(v);
    int err = mapio_vec_reserve(v, 1000);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_DFL);
    assert_int_equal(err, MAPIO_EFBIG);
    mapio_vec_stats(&after);
    assert_int_equal(after.failed_truncates, before.failed_truncates + 1);
    assert_int_equal(mapio_vec_len(v), len);
    assert_int_equal(mapio_vec_capacity(v), cap);
    for (int i = 0; i < 64; i++) {
        fill_elem(e, sizeof e, (uint64_t)i);
        assert_memory_equal(mapio_vec_at(v, (uint64_t)i), e, sizeof e);
    }
    assert_int_equal(mapio_vec_push(v, e), 0); /* and it still grows afterwards */
    assert_int_equal(mapio_vec_free(v), 0);
    mapio_vec_stats(&after);
    assert_int_equal(after.active_mappings, 0);
}

#if defined(__SANITIZE_ADDRESS__)
static const int asan = 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
static const int asan = 1;
#else
static const int asan = 0;
#endif
#else
static const int asan = 0;
#endif

/* Resident memory of this process, in bytes (0 if unknown). */
static uint64_t resident(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size, rss;
    if (f == NULL)
        return 0;
    int ok = fscanf(f, "%llu %llu", &size, &rss) == 2;
    fclose(f);
    return ok ? (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

/* A 1 GiB vector filled while keeping under 64 MiB of it resident: a writer
 * evicts behind itself. There is no memory cgroup to set a hard limit in CI,
 * so the test measures what a limit would: resident memory. */
static void larger_than_what_it_keeps_resident(void **state)
{
    (void)state;
    enum { ELEM = 4096, WINDOW = 8192 }; /* 32 MiB between evictions */
    const uint64_t total = (UINT64_C(1) << 30) / ELEM;
    mapio_vec_t *v;
    assert_int_equal(mapio_vec_new(&v, ELEM, NULL), 0);
    static unsigned char e[ELEM];
    uint64_t base = resident(), peak = 0;
    for (uint64_t i = 0; i < total; i++) {
        memset(e, (int)(i & 0xff), 16);
        assert_int_equal(mapio_vec_push(v, e), 0);
        if ((i + 1) % WINDOW == 0) {
            assert_int_equal(mapio_vec_evict(v, i + 1 - WINDOW, WINDOW), 0);
            uint64_t r = resident();
            if (r > peak)
                peak = r;
        }
    }
    assert_int_equal(mapio_vec_len(v), total);
    if (base == 0) {
        print_message("note: /proc/self/statm unreadable, resident memory not checked\n");
    } else {
        print_message("1 GiB vector: resident grew by %llu MiB at most\n",
                      (unsigned long long)((peak > base ? peak - base : 0) >> 20));
        /* ASan keeps one shadow byte per 8 bytes it sees copied into. */
        uint64_t limit = (UINT64_C(64) << 20) + (asan ? (total * ELEM) / 8 : 0);
        assert_true(peak < base + limit);
    }
    /* Spot checks: the evicted elements come back from the file. */
    for (uint64_t i = 0; i < total; i += 9973)
        assert_int_equal(((unsigned char *)mapio_vec_at(v, i))[15], i & 0xff);
    assert_int_equal(mapio_vec_free(v), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(element_sizes_and_growth),
        cmocka_unit_test(editing),
        cmocka_unit_test(segment_location),
        cmocka_unit_test(failed_growth_leaves_it_intact),
        cmocka_unit_test(larger_than_what_it_keeps_resident),
    };
    return cmocka_run_group_tests_name("vec", tests, NULL, NULL);
}
