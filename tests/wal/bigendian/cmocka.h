/*
 * tests/wal/bigendian/cmocka.h - the part of cmocka's API the WAL tests
 * use, for tests/wal/bigendian.sh: Debian has no cmocka for the big-endian
 * cross target, and these tests need nothing more than a failing assert
 * that names the line. Never used by the meson build.
 */
#ifndef WAL_CMOCKA_SHIM_H
#define WAL_CMOCKA_SHIM_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct CMUnitTest {
    const char *name;
    void (*fn)(void **state);
};

#define cmocka_unit_test(f)                                                                        \
    {                                                                                              \
#f, f                                                                                      \
    }

static inline void shim_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: failed: %s\n", file, line, what);
    exit(1);
}

#define SHIM_CHECK(c, what)                                                                        \
    do {                                                                                           \
        if (!(c))                                                                                  \
            shim_fail(__FILE__, __LINE__, what);                                                   \
    } while (0)
#define assert_true(c) SHIM_CHECK((c), #c)
#define assert_false(c) SHIM_CHECK(!(c), "!(" #c ")")
#define assert_int_equal(a, b) SHIM_CHECK((intmax_t)(a) == (intmax_t)(b), #a " == " #b)
#define assert_int_not_equal(a, b) SHIM_CHECK((intmax_t)(a) != (intmax_t)(b), #a " != " #b)
#define assert_ptr_equal(a, b) SHIM_CHECK((const void *)(a) == (const void *)(b), #a " == " #b)
#define assert_non_null(p) SHIM_CHECK((p) != NULL, #p " != NULL")
#define assert_memory_equal(a, b, n) SHIM_CHECK(memcmp((a), (b), (n)) == 0, "memory " #a " == " #b)
#define assert_string_not_equal(a, b) SHIM_CHECK(strcmp((a), (b)) != 0, #a " != " #b)
#define print_message(...) printf(__VA_ARGS__)
#define print_error(...) fprintf(stderr, __VA_ARGS__)
#define skip() return

static inline int shim_run(const struct CMUnitTest *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        printf("[ RUN      ] %s\n", t[i].name);
        t[i].fn(NULL);
        printf("[       OK ] %s\n", t[i].name);
    }
    printf("[  PASSED  ] %zu test(s).\n", n);
    return 0;
}

#define cmocka_run_group_tests(t, setup, teardown) shim_run((t), sizeof(t) / sizeof((t)[0]))

#endif
