/*
 * tests/ring/ring_test.c - double-mapped rings, one thread: sizes and
 * rounding, the mirror (p[i] == p[i + len]), reads across the wrap, the
 * overwriting ring, bad input, a property test of both kinds against a
 * reference queue, and that creation leaves nothing behind - no descriptor,
 * no mapping, no shm name - whether it succeeds or fails at any step. The
 * whole suite runs once per way the OS half has of making the double
 * mapping (ring_test_os.h: one on POSIX, placeholders and the retry loop on
 * Windows). "Page" here is the rings' granularity: 64 KiB on Windows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/common.h"
#include "mapio/ring.h"
#include "mmap/ring/ring_os.h"
#include "ring_test_os.h"
#include "testutil.h"

static size_t page(void)
{
    return rt_granularity();
}

/* ---- sizes and the mirror ---------------------------------------------------- */

static void sizes_round_up_to_pages(void **state)
{
    (void)state;
    size_t pg = page();
    assert_int_equal(mapio_ring_granularity(), pg);
    const struct {
        size_t ask, want;
    } cases[] = {
        { 1, pg },
        { pg - 1, pg },
        { pg, pg },
        { pg + 1, 2 * pg },
        { 2 * pg + 1, 3 * pg },
        { 9 * pg - 1, 9 * pg },
        { 9 * pg + 1, 10 * pg },
    };
    for (size_t i = 0; i < MAPIO__ARRAY_SIZE(cases); i++) {
        for (unsigned flags = 0; flags <= MAPIO_RING_OVERWRITE; flags++) {
            mapio_ring_t *r;
            assert_int_equal(mapio_ring_new(&r, cases[i].ask, flags), 0);
            assert_int_equal(mapio_ring_capacity(r), cases[i].want);
            assert_int_equal(mapio_ring_flags(r), flags);
            assert_int_equal(mapio_ring_read_len(r), 0);
            assert_int_equal(mapio_ring_write_len(r), cases[i].want);
            assert_ptr_equal(mapio_ring_read_ptr(r), mapio_ring_write_ptr(r));
            assert_int_equal(mapio_ring_free(r), 0);
        }
    }
}

/* Every byte is visible at i and at i + len, whichever view it was stored
 * through; checked for sizes around page multiples (vmap's #22 was here). */
static void second_view_mirrors_the_first(void **state)
{
    (void)state;
    size_t pg = page();
    size_t sizes[] = { pg - 1, pg, pg + 1, 2 * pg + 1, 3 * pg, 7 * pg - 1 };
    for (size_t s = 0; s < MAPIO__ARRAY_SIZE(sizes); s++) {
        mapio_ring_t *r;
        assert_int_equal(mapio_ring_new(&r, sizes[s], 0), 0);
        size_t len = mapio_ring_capacity(r);
        unsigned char *p = mapio_ring_write_ptr(r);
        tu_pat_fill(p, 0, len);
        for (size_t i = 0; i < len; i++)
            assert_int_equal(p[i], p[i + len]);
        tu_pat_fill(p + len, 12345, len);
        for (size_t i = 0; i < len; i++)
            assert_int_equal(p[i], tu_pat(12345 + i));
        assert_int_equal(mapio_ring_free(r), 0);
    }
}

/* A write that crosses the end of the mapping reads back as one slice. */
static void wrapped_bytes_read_as_one_slice(void **state)
{
    (void)state;
    size_t pg = page();
    size_t sizes[] = { pg, pg + 1, 3 * pg };
    for (size_t s = 0; s < MAPIO__ARRAY_SIZE(sizes); s++) {
        mapio_ring_t *r;
        assert_int_equal(mapio_ring_new(&r, sizes[s], 0), 0);
        size_t cap = mapio_ring_capacity(r);
        unsigned char *base = mapio_ring_write_ptr(r);
        unsigned char *buf = malloc(cap);
        /* Park both positions 100 bytes before the end. */
        tu_pat_fill(buf, 0, cap - 100);
        assert_int_equal(mapio_ring_write(r, buf, cap - 100), (int64_t)(cap - 100));
        assert_int_equal(mapio_ring_consume(r, cap - 100), 0);
        /* Now the whole capacity, so it wraps. */
        tu_pat_fill(buf, cap - 100, cap);
        assert_int_equal(mapio_ring_write(r, buf, cap), (int64_t)cap);
        assert_int_equal(mapio_ring_write_len(r), 0);
        assert_int_equal(mapio_ring_write(r, buf, 1), 0); /* full */
        unsigned char *rp = mapio_ring_read_ptr(r);
        assert_ptr_equal(rp, base + cap - 100);
        assert_int_equal(mapio_ring_read_len(r), cap);
        assert_true(rp + cap > base + cap); /* it does cross the end */
        assert_memory_equal(rp, buf, cap);
        /* Read part of it: the rest is still one slice, from the start. */
        unsigned char out[200];
        assert_int_equal(mapio_ring_read(r, out, 200), 200);
        assert_memory_equal(out, buf, 200);
        assert_ptr_equal(mapio_ring_read_ptr(r), base + 100);
        assert_memory_equal(mapio_ring_read_ptr(r), buf + 200, cap - 200);
        /* The free space is one slice too, and it wraps as well. */
        assert_int_equal(mapio_ring_write_len(r), 200);
        assert_ptr_equal(mapio_ring_write_ptr(r), base + cap - 100);
        tu_pat_fill(mapio_ring_write_ptr(r), 2 * cap - 100, 200);
        assert_int_equal(mapio_ring_produce(r, 200), 0);
        assert_true(tu_pat_is(mapio_ring_read_ptr(r), cap + 100, cap));
        assert_int_equal(mapio_ring_read_pos(r), cap + 100);
        assert_int_equal(mapio_ring_write_pos(r), 2 * cap + 100);
        free(buf);
        assert_int_equal(mapio_ring_free(r), 0);
    }
}

/* ---- the overwriting ring ---------------------------------------------------- */

static void overwriting_ring_keeps_the_newest(void **state)
{
    (void)state;
    mapio_ring_t *r;
    assert_int_equal(mapio_ring_new(&r, page() + 1, MAPIO_RING_OVERWRITE), 0);
    size_t cap = mapio_ring_capacity(r);
    unsigned char *buf = malloc(3 * cap + 17);
    tu_pat_fill(buf, 0, 3 * cap + 17);
    /* One write of 3 x cap + 17: only the last cap bytes stay. */
    assert_int_equal(mapio_ring_write(r, buf, 3 * cap + 17), (int64_t)(3 * cap + 17));
    assert_int_equal(mapio_ring_read_len(r), cap);
    assert_int_equal(mapio_ring_write_len(r), cap);
    assert_true(tu_pat_is(mapio_ring_read_ptr(r), 2 * cap + 17, cap));
    assert_int_equal(mapio_ring_dropped(r), 2 * cap + 17);
    assert_int_equal(mapio_ring_read_pos(r), 2 * cap + 17);
    assert_int_equal(mapio_ring_write_pos(r), 3 * cap + 17);
    /* Read a little, then small writes push out the oldest bytes one by one. */
    unsigned char out[10];
    assert_int_equal(mapio_ring_read(r, out, 10), 10);
    assert_true(tu_pat_is(out, 2 * cap + 17, 10));
    assert_int_equal(mapio_ring_read_len(r), cap - 10);
    unsigned char more[25];
    tu_pat_fill(more, 3 * cap + 17, 25);
    assert_int_equal(mapio_ring_write(r, more, 25), 25);
    assert_int_equal(mapio_ring_read_len(r), cap);
    assert_true(tu_pat_is(mapio_ring_read_ptr(r), 2 * cap + 42, cap));
    assert_int_equal(mapio_ring_dropped(r), 2 * cap + 17 + 15);
    /* Producing through the pointer: up to cap at once, never more. */
    assert_int_equal(mapio_ring_produce(r, cap + 1), MAPIO_ERANGE);
    tu_pat_fill(mapio_ring_write_ptr(r), 3 * cap + 42, cap);
    assert_int_equal(mapio_ring_produce(r, cap), 0);
    assert_true(tu_pat_is(mapio_ring_read_ptr(r), 3 * cap + 42, cap));
    assert_int_equal(mapio_ring_clear(r), 0);
    assert_int_equal(mapio_ring_read_len(r), 0);
    assert_int_equal(mapio_ring_read(r, out, 10), 0);
    free(buf);
    assert_int_equal(mapio_ring_free(r), 0);
}

/* ---- bad input ------------------------------------------------------------------ */

static void bad_input_is_an_error_not_a_crash(void **state)
{
    (void)state;
    size_t pg = page();
    mapio_ring_t *r = (mapio_ring_t *)&r; /* must be reset to NULL on error */
    assert_int_equal(mapio_ring_new(NULL, pg, 0), MAPIO_EINVAL);
    assert_int_equal(mapio_ring_new(&r, 0, 0), MAPIO_EINVAL);
    assert_null(r);
    assert_int_equal(mapio_ring_new(&r, pg, 1u << 7), MAPIO_EINVAL);
    assert_int_equal(mapio_ring_new(&r, SIZE_MAX, 0), MAPIO_EOVERFLOW);
    assert_int_equal(mapio_ring_new(&r, SIZE_MAX - pg + 2, 0), MAPIO_EOVERFLOW); /* rounding */
    assert_int_equal(mapio_ring_new(&r, SIZE_MAX / 2, 0), MAPIO_EOVERFLOW);      /* doubling */
    assert_int_equal(mapio_ring_new(&r, (size_t)PTRDIFF_MAX / 2 + 1, 0), MAPIO_EOVERFLOW);
    /* Representable but far beyond the address space: the OS says no. */
    int err = mapio_ring_new(&r, SIZE_MAX / 8, 0);
    assert_true(err < 0);
    assert_null(r);
    /* NULL rings. */
    unsigned char b[8] = { 0 };
    assert_int_equal(mapio_ring_free(NULL), 0);
    assert_int_equal(mapio_ring_capacity(NULL), 0);
    assert_int_equal(mapio_ring_flags(NULL), 0);
    assert_null(mapio_ring_read_ptr(NULL));
    assert_null(mapio_ring_write_ptr(NULL));
    assert_int_equal(mapio_ring_read_len(NULL), 0);
    assert_int_equal(mapio_ring_write_len(NULL), 0);
    assert_int_equal(mapio_ring_produce(NULL, 1), MAPIO_EINVAL);
    assert_int_equal(mapio_ring_consume(NULL, 1), MAPIO_EINVAL);
    assert_int_equal(mapio_ring_read(NULL, b, 1), MAPIO_EINVAL);
    assert_int_equal(mapio_ring_write(NULL, b, 1), MAPIO_EINVAL);
    assert_int_equal(mapio_ring_clear(NULL), MAPIO_EINVAL);
    assert_int_equal(mapio_ring_read_pos(NULL), 0);
    assert_int_equal(mapio_ring_write_pos(NULL), 0);
    assert_int_equal(mapio_ring_dropped(NULL), 0);
    /* Beyond what is there: an error, and nothing changes. */
    assert_int_equal(mapio_ring_new(&r, pg, 0), 0);
    assert_int_equal(mapio_ring_write(r, NULL, 1), MAPIO_EINVAL);
    assert_int_equal(mapio_ring_read(r, NULL, 1), MAPIO_EINVAL);
    assert_int_equal(mapio_ring_write(r, NULL, 0), 0);
    assert_int_equal(mapio_ring_read(r, NULL, 0), 0);
    assert_int_equal(mapio_ring_write(r, b, (size_t)INT64_MAX + 1), MAPIO_EOVERFLOW);
    assert_int_equal(mapio_ring_consume(r, 1), MAPIO_ERANGE);
    assert_int_equal(mapio_ring_consume(r, SIZE_MAX), MAPIO_ERANGE);
    assert_int_equal(mapio_ring_produce(r, pg + 1), MAPIO_ERANGE);
    assert_int_equal(mapio_ring_produce(r, SIZE_MAX), MAPIO_ERANGE);
    assert_int_equal(mapio_ring_produce(r, 0), 0);
    assert_int_equal(mapio_ring_consume(r, 0), 0);
    assert_int_equal(mapio_ring_write_pos(r), 0);
    assert_int_equal(mapio_ring_write(r, "abcdefgh", 8), 8);
    assert_int_equal(mapio_ring_consume(r, 9), MAPIO_ERANGE);
    assert_int_equal(mapio_ring_produce(r, pg - 7), MAPIO_ERANGE);
    assert_int_equal(mapio_ring_read_len(r), 8);
    assert_int_equal(mapio_ring_write_pos(r), 8);
    assert_int_equal(mapio_ring_read_pos(r), 0);
    assert_memory_equal(mapio_ring_read_ptr(r), "abcdefgh", 8);
    assert_int_equal(mapio_ring_free(r), 0);
}

/* ---- property test against a reference queue -------------------------------- */

/*
 * The reference: every byte written is tu_pat(position), so the queue is just
 * two positions (and the dropped count). Random operations through both
 * APIs (copy and pointer), sizes biased to the edges, each result and the
 * whole readable content checked after every step.
 */
static void against_reference(size_t ask, unsigned flags, uint64_t seed, int steps)
{
    mapio_ring_t *r;
    assert_int_equal(mapio_ring_new(&r, ask, flags), 0);
    size_t cap = mapio_ring_capacity(r);
    int over = (flags & MAPIO_RING_OVERWRITE) != 0;
    uint64_t head = 0, tail = 0, dropped = 0;
    unsigned char *buf = malloc(3 * cap + 1);
    uint64_t rng = seed;
    for (int step = 0; step < steps; step++) {
        size_t len = (size_t)(head - tail);
        /* Sizes: small, near a limit, or anything up to 3 x capacity. */
        size_t n;
        switch (tu_rand(&rng) % 4) {
        case 0:
            n = (size_t)(tu_rand(&rng) % 65);
            break;
        case 1:
            n = len + (size_t)(tu_rand(&rng) % 3) - 1;
            break;
        case 2:
            n = cap - len + (size_t)(tu_rand(&rng) % 3) - 1;
            break;
        default:
            n = (size_t)(tu_rand(&rng) % (3 * cap + 1));
            break;
        }
        if (n > 3 * cap)
            n = 3 * cap;
        size_t room = over ? cap : cap - len;
        switch (tu_rand(&rng) % 9) {
        case 0:
        case 1: { /* copy in */
            tu_pat_fill(buf, head, n);
            size_t want = over ? n : MAPIO__MIN(n, room);
            assert_int_equal(mapio_ring_write(r, buf, n), (int64_t)want);
            head += want;
            break;
        }
        case 2:
        case 3: { /* write through the pointer, then produce */
            int ok = n <= room;
            if (ok) /* (an overwriting ring's free span holds unread bytes) */
                tu_pat_fill(mapio_ring_write_ptr(r), head, n);
            assert_int_equal(mapio_ring_produce(r, n), ok ? 0 : MAPIO_ERANGE);
            if (ok)
                head += n;
            break;
        }
        case 4:
        case 5: { /* copy out */
            size_t want = MAPIO__MIN(n, len);
            assert_int_equal(mapio_ring_read(r, buf, n), (int64_t)want);
            assert_true(tu_pat_is(buf, tail, want));
            tail += want;
            break;
        }
        case 6:
        case 7: { /* look through the pointer, then consume */
            int ok = n <= len;
            assert_true(tu_pat_is(mapio_ring_read_ptr(r), tail, MAPIO__MIN(n, len)));
            assert_int_equal(mapio_ring_consume(r, n), ok ? 0 : MAPIO_ERANGE);
            if (ok)
                tail += n;
            break;
        }
        default:
            if (tu_rand(&rng) % 8 == 0) {
                assert_int_equal(mapio_ring_clear(r), 0);
                tail = head;
            }
            break;
        }
        if (over && head - tail > cap) {
            dropped += head - cap - tail;
            tail = head - cap;
        }
        assert_int_equal(mapio_ring_read_len(r), head - tail);
        assert_int_equal(mapio_ring_write_len(r), over ? cap : cap - (head - tail));
        assert_int_equal(mapio_ring_read_pos(r), tail);
        assert_int_equal(mapio_ring_write_pos(r), head);
        assert_int_equal(mapio_ring_dropped(r), dropped);
        assert_true(tu_pat_is(mapio_ring_read_ptr(r), tail, (size_t)(head - tail)));
    }
    /* It did wrap, many times. */
    assert_true(head > 10 * cap);
    free(buf);
    assert_int_equal(mapio_ring_free(r), 0);
}

static void bounded_ring_matches_reference(void **state)
{
    (void)state;
    size_t pg = page();
    size_t sizes[] = { pg - 1, pg, pg + 1, 3 * pg, 5 * pg + 7 };
    for (size_t i = 0; i < MAPIO__ARRAY_SIZE(sizes); i++)
        against_reference(sizes[i], 0, 1000 + i, 4000);
}

static void overwriting_ring_matches_reference(void **state)
{
    (void)state;
    size_t pg = page();
    size_t sizes[] = { pg - 1, pg, pg + 1, 3 * pg, 5 * pg + 7 };
    for (size_t i = 0; i < MAPIO__ARRAY_SIZE(sizes); i++)
        against_reference(sizes[i], MAPIO_RING_OVERWRITE, 2000 + i, 4000);
}

/* ---- nothing left behind ----------------------------------------------------- */

static void no_descriptor_mapping_or_name_is_left(void **state)
{
    (void)state;
    int fds = rt_open_descriptors(), names = rt_shm_names(), views0, views, unused;
    assert_true(fds > 0);
    rt_count_maps(0, &views0, &unused);
    mapio_ring_t *r[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(mapio_ring_new(&r[i], page() * (size_t)(i + 1), (unsigned)i & 1), 0);
        assert_int_equal(rt_open_descriptors(), fds); /* closed right after mapping */
        assert_int_equal(rt_shm_names(), names);
    }
    rt_count_maps(0, &views, &unused);
    assert_int_equal(views, views0 + 8); /* two views each */
    for (int i = 0; i < 4; i++)
        assert_int_equal(mapio_ring_free(r[i]), 0);
    rt_count_maps(0, &views, &unused);
    assert_int_equal(views, views0);
    assert_int_equal(rt_open_descriptors(), fds);
    assert_int_equal(rt_shm_names(), names);
}

/* Creation fails at each OS step, and at the allocation: the error comes
 * back, and nothing is left behind. */
static void failed_creation_leaves_nothing(void **state)
{
    (void)state;
    size_t len = 37 * page(); /* an unusual size, to spot its reservation */
    int fds = rt_open_descriptors(), names = rt_shm_names(), views, reserved, views0, reserved0;
    rt_count_maps(2 * len, &views0, &reserved0);
    static const int errs[] = { 0,           MAPIO_EMFILE, MAPIO_ENOSPC, MAPIO_ENOMEM, MAPIO_EACCES,
                                MAPIO_ENOMEM };
    for (int step = 1; step <= 5; step++) {
        mapio_ring_t *r = (mapio_ring_t *)&r;
        mapio__ringos_fail_at(step, errs[step], 1);
        assert_int_equal(mapio_ring_new(&r, len, 0), errs[step]);
        assert_null(r);
        assert_int_equal(rt_open_descriptors(), fds);
        assert_int_equal(rt_shm_names(), names);
        rt_count_maps(2 * len, &views, &reserved);
        assert_int_equal(views, views0);
        assert_int_equal(reserved, reserved0);
    }
    /* The hook is one-shot: the next creation works. */
    mapio_ring_t *r;
    assert_int_equal(mapio_ring_new(&r, len, 0), 0);
    rt_count_maps(2 * len, &views, &reserved);
    assert_int_equal(views, views0 + 2);
    assert_int_equal(mapio_ring_free(r), 0);
    /* "Already there": a name (shm_open of a random name) or an address (the
     * Windows retry loop) another process or thread took. Where the step
     * retries, a failure fewer than its tries is invisible, as many is
     * MAPIO_EEXIST; elsewhere it is an error like any other. */
    for (int step = 1; step <= 5; step++) {
        int tries = rt_eexist_tries(step);
        if (tries > 1) {
            mapio__ringos_fail_at(step, MAPIO_EEXIST, tries - 1);
            assert_int_equal(mapio_ring_new(&r, len, 0), 0);
            assert_int_equal(mapio_ring_free(r), 0);
        }
        mapio__ringos_fail_at(step, MAPIO_EEXIST, tries);
        assert_int_equal(mapio_ring_new(&r, len, 0), MAPIO_EEXIST);
        mapio__ringos_fail_at(0, 0, 0);
        assert_int_equal(rt_open_descriptors(), fds);
        assert_int_equal(rt_shm_names(), names);
        rt_count_maps(2 * len, &views, &reserved);
        assert_int_equal(views, views0);
        assert_int_equal(reserved, reserved0);
    }
    /* The allocation of the ring itself. */
    mapio__alloc_fail_after(1);
    assert_int_equal(mapio_ring_new(&r, len, 0), MAPIO_ENOMEM);
    mapio__alloc_fail_after(0);
    assert_int_equal(rt_open_descriptors(), fds);
    rt_count_maps(2 * len, &views, &reserved);
    assert_int_equal(views, views0);
    assert_int_equal(reserved, reserved0);
}

/* A real OS failure: no descriptor left to create the memory object with. */
static void out_of_descriptors_is_reported(void **state)
{
    (void)state;
    int fds = rt_open_descriptors();
    const char *why;
    if (rt_use_up_descriptors(&why) != 0) {
        printf("skip (out-of-descriptors part): %s\n", why);
        skip();
        return;
    }
    mapio_ring_t *r;
    int err = mapio_ring_new(&r, page(), 0);
    assert_int_equal(err, rt_give_back_descriptors());
    assert_null(r);
    assert_int_equal(rt_open_descriptors(), fds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sizes_round_up_to_pages),
        cmocka_unit_test(second_view_mirrors_the_first),
        cmocka_unit_test(wrapped_bytes_read_as_one_slice),
        cmocka_unit_test(overwriting_ring_keeps_the_newest),
        cmocka_unit_test(bad_input_is_an_error_not_a_crash),
        cmocka_unit_test(bounded_ring_matches_reference),
        cmocka_unit_test(overwriting_ring_matches_reference),
        cmocka_unit_test(no_descriptor_mapping_or_name_is_left),
        cmocka_unit_test(failed_creation_leaves_nothing),
        cmocka_unit_test(out_of_descriptors_is_reported),
    };
    const char *missing;
    int methods = rt_methods(&missing), rc = 0;
    if (missing != NULL)
        printf("skip (a way of mapping): %s\n", missing);
    for (int i = 0; i < methods; i++)
        rc |= cmocka_run_group_tests_name(rt_use_method(i), tests, NULL, NULL);
    return rc;
}
