/*
 * tests/ring/ring_spsc_test.c - one producer thread and one consumer thread
 * on a bounded ring (suite threads: run it under TSan). 64 MiB stream
 * through a small ring of a capacity that is not a power of two and through
 * a 1 MiB one, in random chunk sizes, through both the pointer and the copy
 * API on each side. The consumer checks every byte where it belongs and
 * both sides keep an order-sensitive checksum (FNV-1a), compared at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapio/ring.h"
#include "testutil.h"

#define STREAM_BYTES (64ull << 20)
#define SRC_LEN 1000003 /* prime: the stream never lines up with the ring */

static unsigned char *src;

struct side {
    mapio_ring_t *ring;
    size_t max_chunk;
    uint64_t seed;
    uint64_t sum;
    uint64_t mismatches;
    uint64_t errors;  /* unexpected results (cmocka asserts only on the test's thread) */
    atomic_int *stop; /* set by either side on its first error: fail, don't hang */
    uint64_t waits;
};

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void *producer(void *arg)
{
    struct side *s = arg;
    uint64_t rng = s->seed, pos = 0;
    unsigned char *scratch = malloc(s->max_chunk);
    while (pos < STREAM_BYTES && !atomic_load_explicit(s->stop, memory_order_relaxed)) {
        size_t room = mapio_ring_write_len(s->ring);
        if (room == 0) {
            s->waits++;
            sched_yield();
            continue;
        }
        size_t n = 1 + (size_t)(tu_rand(&rng) % s->max_chunk);
        n = n < room ? n : room;
        if (n > STREAM_BYTES - pos)
            n = (size_t)(STREAM_BYTES - pos);
        size_t off = (size_t)(pos % SRC_LEN);
        size_t first = n < SRC_LEN - off ? n : SRC_LEN - off;
        s->sum = fnv(fnv(s->sum, src + off, first), src, n - first);
        if (tu_rand(&rng) & 1) {
            unsigned char *w = mapio_ring_write_ptr(s->ring);
            memcpy(w, src + off, first);
            memcpy(w + first, src, n - first);
            s->errors += mapio_ring_produce(s->ring, n) != 0;
        } else {
            memcpy(scratch, src + off, first);
            memcpy(scratch + first, src, n - first);
            s->errors += mapio_ring_write(s->ring, scratch, n) != (int64_t)n;
        }
        pos += n;
        s->errors += mapio_ring_write_pos(s->ring) != pos;
        if (s->errors != 0)
            atomic_store(s->stop, 1);
    }
    free(scratch);
    return NULL;
}

static void *consumer(void *arg)
{
    struct side *s = arg;
    uint64_t rng = s->seed, pos = 0;
    unsigned char *scratch = malloc(s->max_chunk);
    while (pos < STREAM_BYTES && !atomic_load_explicit(s->stop, memory_order_relaxed)) {
        size_t avail = mapio_ring_read_len(s->ring);
        if (avail == 0) {
            s->waits++;
            sched_yield();
            continue;
        }
        size_t n = 1 + (size_t)(tu_rand(&rng) % s->max_chunk);
        n = n < avail ? n : avail;
        const unsigned char *p;
        if (tu_rand(&rng) & 1) {
            p = mapio_ring_read_ptr(s->ring);
        } else {
            s->errors += mapio_ring_read(s->ring, scratch, n) != (int64_t)n;
            p = scratch;
        }
        size_t off = (size_t)(pos % SRC_LEN);
        size_t first = n < SRC_LEN - off ? n : SRC_LEN - off;
        if (memcmp(p, src + off, first) != 0 || memcmp(p + first, src, n - first) != 0)
            s->mismatches++;
        s->sum = fnv(s->sum, p, n);
        if (p != scratch)
            s->errors += mapio_ring_consume(s->ring, n) != 0;
        pos += n;
        s->errors += mapio_ring_read_pos(s->ring) != pos;
        if (s->errors != 0 || s->mismatches != 0)
            atomic_store(s->stop, 1);
    }
    free(scratch);
    return NULL;
}

static void stream_through(size_t ring_size, size_t max_chunk)
{
    mapio_ring_t *r;
    assert_int_equal(mapio_ring_new(&r, ring_size, 0), 0);
    atomic_int stop = 0;
    struct side prod = {
        .ring = r, .max_chunk = max_chunk, .seed = 11, .sum = 0xcbf29ce484222325ull, .stop = &stop
    };
    struct side cons = {
        .ring = r, .max_chunk = max_chunk, .seed = 12, .sum = 0xcbf29ce484222325ull, .stop = &stop
    };
    pthread_t tp, tc;
    assert_int_equal(pthread_create(&tc, NULL, consumer, &cons), 0);
    assert_int_equal(pthread_create(&tp, NULL, producer, &prod), 0);
    assert_int_equal(pthread_join(tp, NULL), 0);
    assert_int_equal(pthread_join(tc, NULL), 0);
    assert_int_equal(cons.mismatches, 0);
    assert_int_equal(prod.errors, 0);
    assert_int_equal(cons.errors, 0);
    assert_int_equal(atomic_load(&stop), 0);
    assert_true(prod.sum == cons.sum);
    assert_int_equal(mapio_ring_read_len(r), 0);
    assert_int_equal(mapio_ring_write_pos(r), STREAM_BYTES);
    printf("# ring %zu B, chunks <= %zu B: producer waited %llu times, consumer %llu\n",
           mapio_ring_capacity(r), max_chunk, (unsigned long long)prod.waits,
           (unsigned long long)cons.waits);
    assert_int_equal(mapio_ring_free(r), 0);
}

static void spsc_small_odd_ring(void **state)
{
    (void)state;
    size_t pg = mapio_ring_granularity();
    /* 5 pages (64 KiB units on Windows): not a power of two; chunks up to
     * twice the capacity, so the ring runs full and empty all the time. */
    stream_through(5 * pg - 3, 10 * pg);
}

static void spsc_one_mib_ring(void **state)
{
    (void)state;
    stream_through(1u << 20, 256u << 10);
}

int main(void)
{
    src = malloc(SRC_LEN);
    tu_fill(src, SRC_LEN, 77);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spsc_small_odd_ring),
        cmocka_unit_test(spsc_one_mib_ring),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(src);
    return rc;
}
