/*
 * tests/wal/crc32c_test.c - CRC-32C: the RFC 3720 vectors, the CPU path
 * against the table on every short length and alignment and on long buffers
 * that cross every interleave level, the table against a bit-at-a-time
 * reference written from the definition, chaining, and the lazy setup under
 * concurrent first use.
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

#include "mapio/crc32c.h"
#include "crc32c.h"
#include "testutil.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

/* The definition, one bit at a time, sharing nothing with the library. */
static uint32_t crc_bitwise(uint32_t crc, const unsigned char *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

static int have_hw(void)
{
    return mapio__crc32c_hw_probe() != NULL;
}

static unsigned char *random_buf(size_t n, uint64_t seed)
{
    unsigned char *p = malloc(n);
    assert_non_null(p);
    tu_fill(p, n, seed);
    return p;
}

/* ---- first use from many threads (runs first: the setup happens once) ------- */

#define RACERS 8

static atomic_int go;

/* Each racer hashes one buffer through the table and through the chosen
 * path, all starting together, so that some of them come while the first
 * is still building the tables and take the way round them. */
static void *race(void *arg)
{
    const unsigned char *buf = arg;
    uint32_t *out = malloc(2 * sizeof *out);
    while (atomic_load(&go) == 0)
        ;
    if (out == NULL)
        return NULL;
    out[0] = mapio__crc32c_table(0, buf, 4096);
    out[1] = mapio_crc32c(0, buf, 4096);
    return out;
}

static void first_use_from_threads(void **state)
{
    (void)state;
    unsigned char *buf = random_buf(4096, 1);
    uint32_t want = crc_bitwise(0, buf, 4096);
    pthread_t t[RACERS];
    for (int i = 0; i < RACERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race, buf), 0);
    atomic_store(&go, 1); /* then wait in join, leaving the CPUs to them */
    for (int i = 0; i < RACERS; i++) {
        void *res;
        assert_int_equal(pthread_join(t[i], &res), 0);
        uint32_t *got = res;
        assert_non_null(got);
        assert_int_equal(got[0], want);
        assert_int_equal(got[1], want);
        free(got);
    }
    free(buf);
}

/* ---- known values -------------------------------------------------------------- */

static void check_vectors(crc_fn f)
{
    unsigned char zeros[32], ones[32], inc[32], dec[32];
    memset(zeros, 0, sizeof zeros);
    memset(ones, 0xff, sizeof ones);
    for (int i = 0; i < 32; i++) {
        inc[i] = (unsigned char)i;
        dec[i] = (unsigned char)(31 - i);
    }
    assert_int_equal(f(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(f(0, zeros, 32), 0x8A9136AAu);
    assert_int_equal(f(0, ones, 32), 0x62A8AB43u);
    assert_int_equal(f(0, inc, 32), 0x46DD794Eu);
    assert_int_equal(f(0, dec, 32), 0x113FDB5Cu);
}

static uint32_t bitwise_fn(uint32_t crc, const void *p, size_t n)
{
    return crc_bitwise(crc, p, n);
}

static void rfc3720_vectors(void **state)
{
    (void)state;
    check_vectors(bitwise_fn);
    check_vectors(mapio__crc32c_bitwise);
    check_vectors(mapio__crc32c_table);
    check_vectors(mapio_crc32c);
    if (have_hw())
        check_vectors(mapio__crc32c_hw);
}

static void impl_name_matches_the_cpu(void **state)
{
    (void)state;
    const char *impl = mapio_crc32c_impl();
    assert_non_null(impl);
    const char *hw = mapio__crc32c_hw_probe();
    assert_string_equal(impl, hw != NULL ? hw : "table");
    assert_true(strcmp(impl, "sse4.2") == 0 || strcmp(impl, "armv8") == 0 ||
                strcmp(impl, "table") == 0);
    assert_ptr_equal(mapio_crc32c_impl(), impl); /* chosen once */
}

static void null_buffer_with_zero_length(void **state)
{
    (void)state;
    crc_fn fns[] = { mapio_crc32c, mapio__crc32c_table, mapio__crc32c_hw };
    for (int i = 0; i < (have_hw() ? 3 : 2); i++) {
        assert_int_equal(fns[i](0, NULL, 0), 0);
        assert_int_equal(fns[i](0xE3069283u, NULL, 0), 0xE3069283u);
    }
}

/* ---- the table against the definition ---------------------------------------------- */

static void table_matches_bitwise(void **state)
{
    (void)state;
    enum { N = 4096 + 16 };
    unsigned char *buf = random_buf(N, 2);
    uint64_t rng = 3;
    for (size_t len = 0; len <= 300; len++)
        for (size_t off = 0; off < 8; off++) {
            uint32_t seed = (uint32_t)tu_rand(&rng);
            uint32_t want = crc_bitwise(seed, buf + off, len);
            assert_int_equal(mapio__crc32c_table(seed, buf + off, len), want);
            assert_int_equal(mapio__crc32c_bitwise(seed, buf + off, len), want);
        }
    for (int i = 0; i < 200; i++) {
        size_t off = tu_rand(&rng) % 16, len = tu_rand(&rng) % (N - 16);
        assert_int_equal(mapio__crc32c_table(0, buf + off, len), crc_bitwise(0, buf + off, len));
    }
    free(buf);
}

/* ---- the CPU path against the table ---------------------------------------------- */

static void hw_matches_table_short(void **state)
{
    (void)state;
    if (!have_hw())
        skip();
    enum { MAXLEN = 1024, OFFS = 64 };
    unsigned char *buf = random_buf(MAXLEN + OFFS, 4);
    uint64_t rng = 5;
    for (size_t len = 0; len <= MAXLEN; len++)
        for (int i = 0; i < 24; i++) {
            /* Every offset mod 8 early on, then random ones. */
            size_t off = i < 8 ? (size_t)i : tu_rand(&rng) % OFFS;
            uint32_t seed = i == 0 ? 0 : (uint32_t)tu_rand(&rng);
            uint32_t want = mapio__crc32c_table(seed, buf + off, len);
            assert_int_equal(mapio__crc32c_hw(seed, buf + off, len), want);
            assert_int_equal(mapio_crc32c(seed, buf + off, len), want);
        }
    free(buf);
}

static void hw_matches_table_long(void **state)
{
    (void)state;
    if (!have_hw())
        skip();
    enum { MIB = 1 << 20 };
    unsigned char *buf = random_buf(MIB + 16, 6);
    /* Lengths around every level's block (3 streams of 8192, 1024 and 128
     * bytes) and their sums, then random ones. */
    size_t lens[64] = { MIB,
                        MIB - 1,
                        3 * 8192,
                        3 * 8192 - 1,
                        3 * 8192 + 1,
                        3 * 1024 + 3 * 128,
                        2 * 3 * 8192 + 3 * 1024 + 3 * 128 + 7,
                        3 * 1024 - 8,
                        65536,
                        4096 };
    uint64_t rng = 7;
    for (size_t i = 10; i < 64; i++)
        lens[i] = tu_rand(&rng) % (MIB + 1);
    for (size_t i = 0; i < 64; i++)
        for (size_t off = 0; off < 16; off += 5) {
            uint32_t want = mapio__crc32c_table(0, buf + off, lens[i]);
            assert_int_equal(mapio__crc32c_hw(0, buf + off, lens[i]), want);
        }
    free(buf);
}

/* ---- chaining ------------------------------------------------------------------------ */

static void chaining_equals_one_pass(void **state)
{
    (void)state;
    enum { N = 200000 };
    unsigned char *buf = random_buf(N, 8);
    crc_fn fns[] = { mapio_crc32c, mapio__crc32c_table, mapio__crc32c_hw };
    uint64_t rng = 9;
    for (int f = 0; f < (have_hw() ? 3 : 2); f++) {
        uint32_t whole = fns[f](0, buf, N);
        for (int round = 0; round < 20; round++) {
            uint32_t crc = 0;
            for (size_t pos = 0; pos < N;) {
                size_t step = round == 0 ? 1 : tu_rand(&rng) % (round < 10 ? 64 : 40000);
                step = step > N - pos ? N - pos : step;
                crc = fns[f](crc, buf + pos, step);
                pos += step;
            }
            assert_int_equal(crc, whole);
        }
    }
    assert_int_equal(mapio_crc32c(mapio_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_use_from_threads),    cmocka_unit_test(rfc3720_vectors),
        cmocka_unit_test(impl_name_matches_the_cpu), cmocka_unit_test(null_buffer_with_zero_length),
        cmocka_unit_test(table_matches_bitwise),     cmocka_unit_test(hw_matches_table_short),
        cmocka_unit_test(hw_matches_table_long),     cmocka_unit_test(chaining_equals_one_pass),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
