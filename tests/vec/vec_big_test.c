/*
 * tests/vec/vec_big_test.c - a vector much larger than the memory it is
 * allowed to use: 1 GiB of 4 KiB elements (MAPIO_VEC_BIG_MIB to change it),
 * filled by plain pushes, then read back in full, while resident memory
 * stays under a quarter of it.
 *
 * How it is measured, and why that is honest:
 * - The limit is not imposed with RLIMIT_AS (ASan reserves terabytes of
 *   address space) nor a cgroup (not available everywhere). Instead the
 *   writer does what the API offers a writer of a larger-than-RAM vector:
 *   mapio_vec_evict behind itself, every 32 MiB.
 * - The peak is the kernel's own high-water mark of this process's resident
 *   set (getrusage ru_maxrss, updated before every unmap or DONTNEED;
 *   Windows: PeakWorkingSetSize), not a sample: a moment of 1 GiB resident between two samples
 * cannot hide. The test runs in its own process so the peak is its own.
 * - The data really live in the file: every element is read back and
 *   compared after its pages were dropped - dropped anonymous memory would
 *   come back as zeros - and the file's allocated blocks cover the data.
 * - Without eviction and without memory pressure the kernel has no reason to
 *   drop file pages, so resident memory would grow to the vector's size even
 *   though all of it is reclaimable; that case is not what is asserted.
 * The data go through the page cache to the disk under the test directory:
 * on a tmpfs they would stay in RAM whatever this process does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapio/vec.h"
#include "testutil.h"
#include "vec_test_os.h"

#define ELEM 4096
#define WINDOW (32u << 20) /* bytes written between evictions */

/* The high-water mark of the resident set, in bytes. */
static uint64_t rss_peak(void)
{
    int64_t p = vt_resident_peak();
    assert_true(p >= 0);
    return (uint64_t)p;
}

/* Element i: its index in every 8 bytes, mixed with the position. */
static void fill(uint64_t *e, size_t i)
{
    for (size_t k = 0; k < ELEM / 8; k++)
        e[k] = ((uint64_t)i << 20) ^ k ^ 0x5a5a5a5a00000000ull;
}

/* Evict the elements pushed or read since the last call, once a window's
 * worth has gathered (or at the end). The vector's resident file pages are
 * at their highest right before that: that is when they are sampled. */
struct window {
    size_t done, per_window;
    int64_t file_peak;
};

static void behind(mapio_vec_t *v, struct window *w, size_t upto, int last)
{
    if (upto - w->done < w->per_window && !last)
        return;
    const char *why;
    int64_t file = vt_resident_file(&why);
    if (file > w->file_peak)
        w->file_peak = file;
    assert_int_equal(mapio_vec_evict(v, w->done, upto - w->done), 0);
    w->done = upto;
}

static void test_fill_larger_than_memory_bound(void **state)
{
    (void)state;
    const char *env = getenv("MAPIO_VEC_BIG_MIB"), *smaller = NULL;
    uint64_t mib = env != NULL ? strtoull(env, NULL, 10) : vt_big_default_mib(&smaller);
    if (env == NULL && smaller != NULL)
        printf("skip (full 1 GiB): %s; %llu MiB instead\n", smaller, (unsigned long long)mib);
    if (mib < 256)
        mib = 256;
    size_t n = (size_t)(mib << 20) / ELEM;
    uint64_t size = (uint64_t)n * ELEM, bound = size / 4;
#if defined(__SANITIZE_ADDRESS__)
    bound += size / 8; /* ASan shadows every byte of the mapping it touches */
#endif

    mapio_vec_opts_t o = { .path_fn = mapio_vec_path_in_dir,
                           .path_ctx = (void *)tu_dir(),
                           .flags = MAPIO_VEC_KEEP_NAME };
    mapio_vec_t *v;
    assert_int_equal(mapio_vec_new(&v, ELEM, &o), 0);
    uint64_t *e = malloc(ELEM), *got = malloc(ELEM);
    int64_t base = vt_resident();
    uint64_t peak0 = rss_peak();
    double t0 = vt_now();

    struct window w = { .per_window = WINDOW / ELEM, .file_peak = -1 };
    for (size_t i = 0; i < n; i++) {
        fill(e, i);
        assert_int_equal(mapio_vec_push(v, e), 0);
        behind(v, &w, i + 1, i + 1 == n);
    }
    double t1 = vt_now();
    uint64_t peak_fill = rss_peak();

    /* The pages are in the file: its blocks cover what was written. */
    assert_true(tu_file_size(mapio_vec_path(v)) >= (int64_t)size);
    assert_true(vt_allocated(mapio_vec_path(v)) >= (int64_t)(size - size / 16));

    /* Read everything back, dropping it again behind the reader. */
    w.done = 0;
    for (size_t i = 0; i < n; i++) {
        fill(e, i);
        assert_int_equal(mapio_vec_get(v, i, got), 0);
        if (memcmp(e, got, ELEM) != 0)
            fail_msg("element %zu differs after eviction", i);
        behind(v, &w, i + 1, i + 1 == n);
    }
    double t2 = vt_now();
    uint64_t peak = rss_peak();

    print_message("vector %llu MiB, evicted every %u MiB: vector pages resident at most %lld MiB; "
                  "process peak +%llu MiB after the fill, +%llu MiB after the read-back "
                  "(bound %llu MiB; ASan's shadow adds 1/8 of the vector); "
                  "fill %.1f s, read %.1f s\n",
                  (unsigned long long)(size >> 20), WINDOW >> 20, (long long)(w.file_peak >> 20),
                  (unsigned long long)((peak_fill - peak0) >> 20),
                  (unsigned long long)((peak - peak0) >> 20), (unsigned long long)(bound >> 20),
                  t1 - t0, t2 - t1);
    /* The vector's own resident pages: one window, plus what else of the
     * process is file-backed (the executable, libraries). */
    if (w.file_peak < 0) {
        const char *why;
        vt_resident_file(&why);
        printf("skip (vector pages resident): %s; only the total is checked\n", why);
    } else
        assert_true((uint64_t)w.file_peak < 2 * (uint64_t)WINDOW + (64u << 20));
    /* Everything resident, sanitizer included: ru_maxrss counts from the
     * process's start, so the fill and the read may add at most the bound
     * to what the process had before them. */
    uint64_t before = base > 0 && (uint64_t)base > peak0 ? (uint64_t)base : peak0;
    const char *unbounded = vt_eviction_unresident();
    if (unbounded != NULL)
        printf("skip (resident bound): %s; the data were still read back in full\n", unbounded);
    else
        assert_true(peak < before + bound);

    free(e);
    free(got);
    assert_int_equal(mapio_vec_free(v), 0);
    mapio_vec_stats_t s;
    assert_int_equal(mapio_vec_stats(&s), 0);
    assert_int_equal(s.active_mappings, 0);
    assert_int_equal(s.ftruncate_failed + s.map_failed + s.unmap_failed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fill_larger_than_memory_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
