/*
 * tests/engine/config_test.c - what the build found, against what the
 * platform is known to have.
 *
 * A feature check that fails for the wrong reason (compiled without the
 * feature-test macro the code uses) silently swaps a call for its slower or
 * weaker fallback: fdatasync once became fsync on every sync this way. On
 * Linux (Debian 12 and later), everything below exists; meson says which
 * parts this build asked for (MAPIO_TEST_*).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "mapio_config.h"

struct feature {
    const char *name;
    int found;
    int wanted;
};

#define WANT_ALWAYS MAPIO_TEST_LINUX
#define WANT_UNLESS_PORTABLE (MAPIO_TEST_LINUX && !MAPIO_TEST_PORTABLE)

static const struct feature features[] = {
    { "fdatasync", MAPIO_HAVE_FDATASYNC, WANT_ALWAYS },
    { "pwritev2 + RWF_DSYNC", MAPIO_HAVE_PWRITEV2, WANT_ALWAYS },
    { "fallocate", MAPIO_HAVE_FALLOCATE, WANT_ALWAYS },
    { "posix_fallocate", MAPIO_HAVE_POSIX_FALLOCATE, WANT_ALWAYS },
    { "statx STATX_DIOALIGN", MAPIO_HAVE_STATX_DIOALIGN, WANT_ALWAYS },
    { "sync_file_range", MAPIO_HAVE_SYNC_FILE_RANGE, WANT_UNLESS_PORTABLE },
    { "memfd_create", MAPIO_HAVE_MEMFD_CREATE, WANT_UNLESS_PORTABLE },
    { "mremap", MAPIO_HAVE_MREMAP, WANT_UNLESS_PORTABLE },
    { "MAP_POPULATE", MAPIO_HAVE_MAP_POPULATE, WANT_UNLESS_PORTABLE },
    { "renameat2", MAPIO_HAVE_RENAMEAT2, WANT_UNLESS_PORTABLE },
    { "preadv2 + RWF_NOWAIT (inline cached reads)", MAPIO_HAVE_RWF_NOWAIT, WANT_UNLESS_PORTABLE },
    { "libaio (epoll backend's O_DIRECT path)", MAPIO_HAVE_LIBAIO,
      MAPIO_TEST_LINUX &&MAPIO_TEST_WANT_EPOLL },
    { "liburing (io_uring backend)", MAPIO_TEST_HAVE_URING,
      MAPIO_TEST_LINUX &&MAPIO_TEST_WANT_URING },
};

static void every_expected_feature_was_found(void **state)
{
    (void)state;
    int missing = 0;
    for (size_t i = 0; i < sizeof features / sizeof features[0]; i++) {
        printf("%-40s %s%s\n", features[i].name, features[i].found ? "found" : "not found",
               features[i].wanted && !features[i].found ? "  <-- expected here" : "");
        missing += features[i].wanted && !features[i].found;
    }
    assert_int_equal(missing, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_expected_feature_was_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
