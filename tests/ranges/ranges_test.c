/*
 * tests/ranges/ranges_test.c - allocators, aligned splits, the ranged file and
 * many threads writing disjoint ranges of one mapping.
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
#include <unistd.h>

#include "mapio/ranges.h"
#include "testutil.h"

#define K4 UINT64_C(4096)

static mapio_range_t R(uint64_t s, uint64_t e)
{
    return (mapio_range_t){ s, e };
}

#define assert_range(r, s, e)                                                                      \
    do {                                                                                           \
        assert_int_equal((r).start, (s));                                                          \
        assert_int_equal((r).end, (e));                                                            \
    } while (0)

/* ---- splits ------------------------------------------------------------------ */

static void split_table(void **state)
{
    (void)state;
    static const struct {
        uint64_t start, end, pos;
        int up; /* 1 split_up, 0 split_down */
        mapio_split_t want;
        uint64_t point; /* where low ends and high starts */
    } cases[] = {
        /* up: rounds the split point up */
        { 0, 3 * K4, 100, 1, MAPIO_SPLIT, K4 },
        { 0, 3 * K4, K4, 1, MAPIO_SPLIT, K4 },                 /* already aligned */
        { 0, 3 * K4, 2 * K4 + 1, 1, MAPIO_SPLIT_LOW, 3 * K4 }, /* rounds to the end */
        { 0, 3 * K4, 3 * K4, 1, MAPIO_SPLIT_LOW, 3 * K4 },     /* pos == len */
        { 0, 3 * K4, 0, 1, MAPIO_SPLIT_HIGH, 0 },              /* pos 0: nothing below */
        { 0, 3 * K4, 3 * K4 + 1, 1, MAPIO_SPLIT_OUT_OF_BOUNDS, 0 },
        { K4, 4 * K4, 1, 1, MAPIO_SPLIT, 2 * K4 },       /* non-zero start */
        { K4, K4 + 10, 5, 1, MAPIO_SPLIT_LOW, K4 + 10 }, /* unaligned (clipped) last range */
        /* down: rounds the split point down */
        { 0, 3 * K4, 100, 0, MAPIO_SPLIT_HIGH, 0 },
        { 0, 3 * K4, K4 + 100, 0, MAPIO_SPLIT, K4 },
        { 0, 3 * K4, 2 * K4, 0, MAPIO_SPLIT, 2 * K4 },
        { 0, 3 * K4, 3 * K4, 0, MAPIO_SPLIT_LOW, 3 * K4 }, /* the point is the end */
        { 0, 3 * K4, 3 * K4 + 1, 0, MAPIO_SPLIT_OUT_OF_BOUNDS, 0 },
        { K4, 4 * K4, 2 * K4 + 7, 0, MAPIO_SPLIT, 3 * K4 },
        { 2 * K4, 2 * K4 + 10, 10, 0, MAPIO_SPLIT_HIGH, 2 * K4 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mapio_range_t lo = R(7, 7), hi = R(7, 7), r = R(cases[i].start, cases[i].end);
        mapio_split_t got = cases[i].up ? mapio_range_split_up(r, cases[i].pos, K4, &lo, &hi)
                                        : mapio_range_split_down(r, cases[i].pos, K4, &lo, &hi);
        if (got != cases[i].want)
            fail_msg("case %zu: got %d want %d", i, got, cases[i].want);
        if (got == MAPIO_SPLIT_OUT_OF_BOUNDS) {
            assert_range(lo, 7, 7); /* untouched */
            continue;
        }
        assert_range(lo, cases[i].start, cases[i].point);
        assert_range(hi, cases[i].point, cases[i].end);
        assert_int_equal(mapio_range_len(lo) + mapio_range_len(hi), mapio_range_len(r));
    }
    mapio_range_t lo, hi;
    assert_int_equal(mapio_range_split_up(R(5, 1), 0, K4, &lo, &hi), MAPIO_SPLIT_OUT_OF_BOUNDS);
    assert_int_equal(mapio_range_split_up(R(0, K4), 1, 3000, &lo, &hi), MAPIO_SPLIT_OUT_OF_BOUNDS);
    assert_int_equal(mapio_range_split_down(R(0, UINT64_MAX), 1, K4, &lo, &hi),
                     MAPIO_SPLIT_OUT_OF_BOUNDS);
    /* Any power of two up to 2^63 aligns, though ranges end by 2^52: a
     * point rounded beyond the range is LOW, rounded to 0 is HIGH. */
    const uint64_t max = MAPIO_RANGE_MAX_TOTAL, p52 = UINT64_C(1) << 52, p53 = UINT64_C(1) << 53,
                   p63 = UINT64_C(1) << 63;
    assert_int_equal(mapio_range_split_up(R(0, max), 1, p52 >> 1, &lo, &hi), MAPIO_SPLIT);
    assert_range(lo, 0, p52 >> 1);
    assert_range(hi, p52 >> 1, max);
    static const uint64_t big[] = { UINT64_C(1) << 52, UINT64_C(1) << 53, UINT64_C(1) << 63 };
    for (size_t i = 0; i < sizeof big / sizeof *big; i++) {
        assert_int_equal(mapio_range_split_up(R(0, max), max / 2, big[i], &lo, &hi),
                         MAPIO_SPLIT_LOW);
        assert_range(lo, 0, max);
        assert_range(hi, max, max);
        assert_int_equal(mapio_range_split_up(R(0, max), max, big[i], &lo, &hi), MAPIO_SPLIT_LOW);
        assert_int_equal(mapio_range_split_up(R(0, max), 0, big[i], &lo, &hi), MAPIO_SPLIT_HIGH);
        assert_range(lo, 0, 0);
        assert_range(hi, 0, max);
        assert_int_equal(mapio_range_split_down(R(0, max), max / 2, big[i], &lo, &hi),
                         MAPIO_SPLIT_HIGH);
        assert_int_equal(mapio_range_split_up(R(K4, 2 * K4), 1, big[i], &lo, &hi), MAPIO_SPLIT_LOW);
        assert_range(lo, K4, 2 * K4);
        assert_int_equal(mapio_range_split_down(R(K4, 2 * K4), K4, big[i], &lo, &hi),
                         MAPIO_SPLIT_HIGH);
        assert_range(lo, K4, K4);
        assert_range(hi, K4, 2 * K4);
    }
    /* ... the range's own end at 2^52 is exact: max aligns to itself. */
    assert_int_equal(mapio_range_split_down(R(0, max), max, p52, &lo, &hi), MAPIO_SPLIT_LOW);
    assert_int_equal(mapio_range_split_up(R(0, max), 1, p53 | p63, &lo, &hi),
                     MAPIO_SPLIT_OUT_OF_BOUNDS); /* not a power of two */
    assert_int_equal(mapio_range_split_up(R(0, max), 1, UINT64_MAX, &lo, &hi),
                     MAPIO_SPLIT_OUT_OF_BOUNDS);
    /* The allocators keep their bound: a rounded request is an int64_t. */
    mapio_range_seq_t sa;
    assert_int_equal(mapio_range_seq_init(&sa, K4, p52), 0);
    assert_int_equal(mapio_range_seq_init(&sa, K4, p53), MAPIO_EOVERFLOW);
    assert_int_equal(mapio_range_seq_init(&sa, K4, p63), MAPIO_EOVERFLOW);
    /* align 0 is the runtime page size; NULL halves are allowed. */
    uint64_t pg = mapio_page_size();
    assert_int_equal(mapio_range_split_up(R(0, 4 * pg), 1, 0, &lo, NULL), MAPIO_SPLIT);
    assert_range(lo, 0, pg);
    assert_int_equal(mapio_range_len(R(9, 3)), 0);
}

/* ---- the sequential allocator ---------------------------------------------- */

static void sequential_allocator(void **state)
{
    (void)state;
    mapio_range_seq_t a;
    mapio_range_t r;
    assert_int_equal(mapio_range_seq_init(&a, 10 * K4 + 100, K4), 0);
    assert_int_equal(mapio_range_seq_alloc(&a, 1, &r), 0);
    assert_range(r, 0, K4); /* rounded up */
    assert_int_equal(mapio_range_seq_alloc(&a, 2 * K4, &r), 0);
    assert_range(r, K4, 3 * K4); /* exact */
    assert_int_equal(mapio_range_seq_alloc(&a, K4 + 1, &r), 0);
    assert_range(r, 3 * K4, 5 * K4);
    assert_int_equal(mapio_range_seq_remaining(&a), 5 * K4 + 100);
    /* Save, then resume in a fresh allocator: no overlap with what was given. */
    mapio_range_state_t st = mapio_range_seq_save(&a);
    assert_int_equal(st.next, 5 * K4);
    mapio_range_seq_t b;
    assert_int_equal(mapio_range_seq_restore(&b, &st), 0);
    assert_int_equal(mapio_range_seq_alloc(&b, 6 * K4, &r), 0);
    assert_range(r, 5 * K4, 10 * K4 + 100); /* clipped to the file's end */
    assert_int_equal(mapio_range_seq_remaining(&b), 0);
    assert_int_equal(mapio_range_seq_alloc(&b, 1, &r), MAPIO_ENOSPC);
    assert_int_equal(mapio_range_seq_alloc(&b, 1, &r), MAPIO_ENOSPC); /* stays exhausted */
    /* A state at total resumes as exhausted. */
    st = mapio_range_seq_save(&b);
    assert_int_equal(mapio_range_seq_restore(&a, &st), 0);
    assert_int_equal(mapio_range_seq_alloc(&a, 1, &r), MAPIO_ENOSPC);

    /* Bad input. */
    assert_int_equal(mapio_range_seq_alloc(&a, 0, &r), MAPIO_EINVAL);
    assert_int_equal(mapio_range_seq_alloc(&a, 1, NULL), MAPIO_EINVAL);
    assert_int_equal(mapio_range_seq_alloc(NULL, 1, &r), MAPIO_EINVAL);
    assert_int_equal(mapio_range_seq_init(&a, K4, K4), 0);
    assert_int_equal(mapio_range_seq_alloc(&a, K4 + 1, &r), MAPIO_EOVERFLOW);
    assert_int_equal(mapio_range_seq_alloc(&a, UINT64_MAX, &r), MAPIO_EOVERFLOW);
    assert_int_equal(mapio_range_seq_init(&a, K4, 3000), MAPIO_EINVAL);
    assert_int_equal(mapio_range_seq_init(&a, MAPIO_RANGE_MAX_TOTAL + 1, K4), MAPIO_EOVERFLOW);
    assert_int_equal(mapio_range_seq_init(&a, UINT64_MAX, K4), MAPIO_EOVERFLOW);
    assert_int_equal(mapio_range_seq_init(NULL, K4, K4), MAPIO_EINVAL);
    mapio_range_state_t bad[] = {
        { 100, 10 * K4, K4 },     /* next not aligned */
        { 11 * K4, 10 * K4, K4 }, /* next past total */
        { 0, 10 * K4, 0 },        /* no alignment */
        { 0, 10 * K4, 5000 },     /* not a power of two */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(mapio_range_seq_restore(&a, &bad[i]), MAPIO_EINVAL);
    /* An empty allocator hands out nothing. */
    assert_int_equal(mapio_range_seq_init(&a, 0, 0), 0);
    assert_int_equal(mapio_range_seq_alloc(&a, 1, &r), MAPIO_EOVERFLOW);
    /* The default alignment is the runtime page size. */
    uint64_t pg = mapio_page_size();
    assert_int_equal(mapio_range_seq_init(&a, 3 * pg, 0), 0);
    assert_int_equal(mapio_range_seq_alloc(&a, 1, &r), 0);
    assert_range(r, 0, pg);
}

/* ---- the atomic allocator ---------------------------------------------------- */

static void atomic_allocator_single_thread(void **state)
{
    (void)state;
    mapio_range_atomic_t *a;
    mapio_range_t r;
    assert_int_equal(mapio_range_atomic_new(&a, 3 * K4 + 5, K4), 0);
    assert_int_equal(mapio_range_atomic_alloc(a, 10, &r), 0);
    assert_range(r, 0, K4);
    assert_int_equal(mapio_range_atomic_alloc(a, 2 * K4 + 1, &r), 0);
    assert_range(r, K4, 3 * K4 + 5); /* rounded to 3 pages, clipped */
    assert_int_equal(mapio_range_atomic_remaining(a), 0);
    assert_int_equal(mapio_range_atomic_alloc(a, 1, &r), MAPIO_ENOSPC);
    assert_int_equal(mapio_range_atomic_alloc(a, 0, &r), MAPIO_EINVAL);
    assert_int_equal(mapio_range_atomic_alloc(a, 4 * K4, &r), MAPIO_EOVERFLOW);
    assert_int_equal(mapio_range_atomic_alloc(NULL, 1, &r), MAPIO_EINVAL);
    mapio_range_state_t st = mapio_range_atomic_save(a);
    assert_int_equal(st.next, st.total);
    mapio_range_atomic_free(a);

    /* Resume a saved state; refuse a forged one. */
    st = (mapio_range_state_t){ 2 * K4, 8 * K4, K4 };
    assert_int_equal(mapio_range_atomic_restore(&a, &st), 0);
    assert_int_equal(mapio_range_atomic_alloc(a, K4, &r), 0);
    assert_range(r, 2 * K4, 3 * K4);
    mapio_range_atomic_free(a);
    st.next = 1;
    assert_int_equal(mapio_range_atomic_restore(&a, &st), MAPIO_EINVAL);
    assert_int_equal(mapio_range_atomic_new(&a, K4, 6), MAPIO_EINVAL);
    assert_int_equal(mapio_range_atomic_new(NULL, K4, K4), MAPIO_EINVAL);
    mapio_range_atomic_free(NULL);
}

/* Callers that keep asking after exhaustion never wrap the counter around
 * into ranges already handed out (the seed's counter only grows). */
static void atomic_allocator_never_wraps(void **state)
{
    (void)state;
    mapio_range_atomic_t *a;
    mapio_range_t r;
    assert_int_equal(mapio_range_atomic_new(&a, MAPIO_RANGE_MAX_TOTAL, K4), 0);
    assert_int_equal(mapio_range_atomic_alloc(a, MAPIO_RANGE_MAX_TOTAL, &r), 0);
    /* Without the pull-back 2^12 such calls reach 2^64 and start at 0 again. */
    for (int i = 0; i < 100000; i++)
        assert_int_equal(mapio_range_atomic_alloc(a, MAPIO_RANGE_MAX_TOTAL, &r), MAPIO_ENOSPC);
    assert_int_equal(mapio_range_atomic_save(a).next, MAPIO_RANGE_MAX_TOTAL);
    assert_int_equal(mapio_range_atomic_remaining(a), 0);
    mapio_range_atomic_free(a);
}

#define ALLOC_THREADS 8
struct alloc_arg {
    mapio_range_atomic_t *a;
    mapio_range_t *got;
    size_t n, cap;
    uint64_t seed;
};

static void *alloc_until_dry(void *p)
{
    struct alloc_arg *arg = p;
    mapio_range_t r;
    for (;;) {
        uint64_t want = 1 + tu_rand(&arg->seed) % (5 * K4);
        int err = mapio_range_atomic_alloc(arg->a, want, &r);
        if (err == MAPIO_ENOSPC)
            break;
        if (err != 0 || arg->n == arg->cap)
            return (void *)1;
        arg->got[arg->n++] = r;
    }
    /* Keep hammering the empty allocator: it must stay empty. */
    for (int i = 0; i < 1000; i++)
        if (mapio_range_atomic_alloc(arg->a, K4, &r) != MAPIO_ENOSPC)
            return (void *)1;
    return NULL;
}

static int by_start(const void *x, const void *y)
{
    const mapio_range_t *a = x, *b = y;
    return a->start < b->start ? -1 : a->start > b->start;
}

static void atomic_allocator_threads_partition_the_file(void **state)
{
    (void)state;
    const uint64_t total = 64 * 1024 * K4 + 123; /* 256 MiB and a ragged tail */
    for (int round = 0; round < 3; round++) {
        mapio_range_atomic_t *a;
        assert_int_equal(mapio_range_atomic_new(&a, total, K4), 0);
        pthread_t t[ALLOC_THREADS];
        struct alloc_arg args[ALLOC_THREADS];
        size_t cap = (size_t)(total / K4) + 1;
        for (int i = 0; i < ALLOC_THREADS; i++) {
            args[i] = (struct alloc_arg){ a, calloc(cap, sizeof(mapio_range_t)), 0, cap,
                                          (uint64_t)(round * 100 + i + 1) };
            assert_int_equal(pthread_create(&t[i], NULL, alloc_until_dry, &args[i]), 0);
        }
        size_t n = 0;
        mapio_range_t *all = calloc(cap, sizeof *all);
        for (int i = 0; i < ALLOC_THREADS; i++) {
            void *ret;
            pthread_join(t[i], &ret);
            assert_null(ret);
            memcpy(all + n, args[i].got, args[i].n * sizeof *all);
            n += args[i].n;
            free(args[i].got);
        }
        /* Sorted by start, the ranges must tile [0, total) exactly. */
        qsort(all, n, sizeof *all, by_start);
        uint64_t at = 0;
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(all[i].start, at);
            assert_true(all[i].end > all[i].start);
            assert_true(all[i].start % K4 == 0);
            at = all[i].end;
        }
        assert_int_equal(at, total);
        free(all);
        mapio_range_atomic_free(a);
    }
}

/* ---- the ranged file ------------------------------------------------------------ */

static void ranged_file_checks_everything(void **state)
{
    (void)state;
    char *p = tu_path("ranged");
    mapio_ranged_t *f, *g;
    assert_int_equal(mapio_ranged_new(&f, p, 0), MAPIO_EINVAL);
    assert_int_equal(mapio_ranged_new(&f, p, UINT64_MAX), MAPIO_EOVERFLOW);
    assert_int_equal(mapio_ranged_new(NULL, p, 10), MAPIO_EINVAL);
    assert_int_equal(mapio_ranged_new(&f, p, 4 * K4 + 10), 0);
    assert_int_equal(mapio_ranged_size(f), 4 * K4 + 10);
    assert_non_null(mapio_ranged_map(f));

    unsigned char data[2 * K4], back[2 * K4];
    tu_fill(data, sizeof data, 5);
    mapio_receipt_t rc;
    assert_int_equal(mapio_ranged_write(f, R(0, K4), data, K4, &rc), 0);
    assert_int_equal(rc.start, 0);
    assert_int_equal(rc.end, K4);
    /* The data must fill the range exactly: in every build, not only debug. */
    assert_int_equal(mapio_ranged_write(f, R(K4, 2 * K4), data, K4 + 1, &rc), MAPIO_EINVAL);
    assert_int_equal(mapio_ranged_write(f, R(K4, 2 * K4), data, K4 - 1, &rc), MAPIO_EINVAL);
    assert_int_equal(mapio_ranged_write(f, R(4 * K4, 5 * K4), data, K4, &rc), MAPIO_ERANGE);
    assert_int_equal(mapio_ranged_write(f, R(2, 1), data, 0, &rc), MAPIO_EINVAL);
    assert_int_equal(mapio_ranged_write(f, R(0, 1), NULL, 1, &rc), MAPIO_EINVAL);
    assert_int_equal(mapio_ranged_write(NULL, R(0, 1), data, 1, &rc), MAPIO_EINVAL);
    /* The clipped last range: 10 bytes. */
    assert_int_equal(mapio_ranged_write(f, R(4 * K4, 4 * K4 + 10), data, 10, NULL), 0);
    /* Pieces inside a range. */
    assert_int_equal(mapio_ranged_write_part(f, R(K4, 3 * K4), 100, data, 50, &rc), 0);
    assert_int_equal(rc.start, K4 + 100);
    assert_int_equal(rc.end, K4 + 150);
    assert_int_equal(mapio_ranged_write_part(f, R(K4, 3 * K4), 2 * K4 - 49, data, 50, &rc),
                     MAPIO_ERANGE);
    assert_int_equal(mapio_ranged_write_part(f, R(K4, 3 * K4), UINT64_MAX, data, 2, &rc),
                     MAPIO_ERANGE);
    mapio_ranged_write_unchecked(f, 3 * K4, data, 16);

    assert_int_equal(mapio_ranged_read(f, R(0, K4), back, sizeof back), (int64_t)K4);
    assert_memory_equal(back, data, K4);
    assert_int_equal(mapio_ranged_read(f, R(K4 + 100, K4 + 150), back, 50), 50);
    assert_memory_equal(back, data, 50);
    assert_int_equal(mapio_ranged_read(f, R(3 * K4, 3 * K4 + 16), back, 16), 16);
    assert_memory_equal(back, data, 16);
    assert_int_equal(mapio_ranged_read(f, R(0, K4), back, K4 - 1), MAPIO_EINVAL); /* too small */
    assert_int_equal(mapio_ranged_read(f, R(0, 5 * K4), back, sizeof back), MAPIO_ERANGE);
    assert_int_equal(mapio_ranged_read(f, R(0, K4), NULL, K4), MAPIO_EINVAL);

    /* Receipts flush their own bytes, synchronously or not; nothing else. */
    assert_int_equal(mapio_ranged_write(f, R(0, K4), data, K4, &rc), 0);
    assert_int_equal(mapio_ranged_flush(f, &rc, 0), 0);
    assert_int_equal(mapio_ranged_flush(f, &rc, MAPIO_RANGED_FLUSH_ASYNC), 0);
    mapio_receipt_t forged = rc;
    forged.end = 5 * K4;
    assert_int_equal(mapio_ranged_flush(f, &forged, 0), MAPIO_EINVAL);
    forged = rc;
    forged.owner++;
    assert_int_equal(mapio_ranged_flush(f, &forged, 0), MAPIO_EINVAL);
    assert_int_equal(mapio_ranged_flush(f, NULL, 0), MAPIO_EINVAL);
    char *q = tu_path("other");
    assert_int_equal(mapio_ranged_new(&g, q, 4 * K4 + 10), 0);
    mapio_receipt_t theirs;
    assert_int_equal(mapio_ranged_write(g, R(0, K4), data, K4, &theirs), 0);
    assert_int_equal(mapio_ranged_flush(f, &theirs, 0), MAPIO_EINVAL); /* foreign */
    assert_int_equal(mapio_ranged_flush(g, &theirs, 0), 0);
    assert_int_equal(mapio_ranged_free(g), 0);
    assert_int_equal(mapio_ranged_sync(f), 0);
    assert_int_equal(mapio_ranged_free(f), 0);

    /* The bytes are in the file; a receipt does not outlive its handle. */
    assert_int_equal(tu_read_file_at(p, back, 10, 4 * K4), 10);
    assert_memory_equal(back, data, 10);
    assert_int_equal(mapio_ranged_new_existing(&f, p), 0);
    assert_int_equal(mapio_ranged_size(f), 4 * K4 + 10);
    assert_int_equal(mapio_ranged_flush(f, &rc, 0), MAPIO_EINVAL);
    assert_int_equal(mapio_ranged_free(f), 0);

    /* Open refuses what it cannot write into. */
    char *e = tu_path("empty");
    assert_int_equal(tu_write_file(e, "", 0), 0);
    assert_int_equal(mapio_ranged_new_existing(&f, e), MAPIO_EINVAL);
    char *missing = tu_path("missing");
    assert_int_equal(mapio_ranged_new_existing(&f, missing), MAPIO_ENOENT);
    assert_int_equal(mapio_ranged_new_existing(NULL, p), MAPIO_EINVAL);
    assert_int_equal(mapio_ranged_free(NULL), 0); /* NULL is 0, as for every destructor */
    free(p);
    free(q);
    free(e);
    free(missing);
}

/* ---- 12 threads, 12 MiB chunks, 512 MiB -------------------------------------- */

#define W_THREADS 12
#define CHUNK (UINT64_C(12) << 20)
#define FILE_SIZE (UINT64_C(512) << 20)

struct writer {
    mapio_ranged_t *f;
    mapio_range_atomic_t *a;
    unsigned char *buf;
    uint64_t bytes;
    int err;
};

/* A range's bytes are a pure function of where it starts, so any thread can
 * check any range afterwards. */
static void fill_for(unsigned char *buf, size_t n, uint64_t start)
{
    tu_fill(buf, n, start * 2654435761u + 1);
}

static void *writer_thread(void *p)
{
    struct writer *w = p;
    mapio_range_t r;
    int err;
    while ((err = mapio_range_atomic_alloc(w->a, CHUNK, &r)) == 0) {
        size_t n = (size_t)mapio_range_len(r);
        fill_for(w->buf, n, r.start);
        mapio_receipt_t rc;
        if ((err = mapio_ranged_write(w->f, r, w->buf, n, &rc)) != 0)
            break;
        w->bytes += n;
    }
    w->err = err == MAPIO_ENOSPC ? 0 : err;
    return NULL;
}

/* Write system calls made by this process so far (-1: not available). */
static long long write_syscalls(void)
{
    return tu_write_syscalls();
}

static void twelve_threads_fill_512_mib(void **state)
{
    (void)state;
    char *p = tu_path("big");
    mapio_ranged_t *f;
    mapio_range_atomic_t *a;
    assert_int_equal(mapio_ranged_new(&f, p, FILE_SIZE), 0);
    assert_int_equal(mapio_range_atomic_new(&a, FILE_SIZE, 0), 0);
    struct writer w[W_THREADS];
    pthread_t t[W_THREADS];
    long long before = write_syscalls();
    for (int i = 0; i < W_THREADS; i++) {
        w[i] = (struct writer){ f, a, malloc(CHUNK), 0, 0 };
        assert_int_equal(pthread_create(&t[i], NULL, writer_thread, &w[i]), 0);
    }
    uint64_t bytes = 0;
    for (int i = 0; i < W_THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].err, 0);
        bytes += w[i].bytes;
    }
    long long after = write_syscalls();
    assert_int_equal(bytes, FILE_SIZE);
    if (before >= 0 && after >= 0)
        assert_int_equal(after - before, 0); /* memcpy only: no write(2) on the way */
    else
        print_message("note: /proc/self/io unreadable, system calls not counted\n");
    assert_int_equal(mapio_ranged_sync(f), 0);
    assert_int_equal(mapio_ranged_free(f), 0);

    /* Read it back through the file, not the mapping. */
    unsigned char *want = w[0].buf, *got = w[1].buf;
    for (uint64_t off = 0; off < FILE_SIZE; off += CHUNK) {
        size_t n = (size_t)(FILE_SIZE - off < CHUNK ? FILE_SIZE - off : CHUNK);
        fill_for(want, n, off);
        assert_int_equal(tu_read_file_at(p, got, n, off), (int64_t)n);
        if (memcmp(want, got, n) != 0)
            fail_msg("chunk at %llu differs", (unsigned long long)off);
    }
    for (int i = 0; i < W_THREADS; i++)
        free(w[i].buf);
    mapio_range_atomic_free(a);
    unlink(p);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(split_table),
        cmocka_unit_test(sequential_allocator),
        cmocka_unit_test(atomic_allocator_single_thread),
        cmocka_unit_test(atomic_allocator_never_wraps),
        cmocka_unit_test(atomic_allocator_threads_partition_the_file),
        cmocka_unit_test(ranged_file_checks_everything),
        cmocka_unit_test(twelve_threads_fill_512_mib),
    };
    return cmocka_run_group_tests_name("ranges", tests, NULL, NULL);
}
