/*
 * tests/support/testutil.h - helpers shared by every test suite.
 */
#ifndef MAPIO_TESTUTIL_H
#define MAPIO_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/*
 * A fresh directory for this test process (under $MAPIO_TEST_DIR, else
 * $TMPDIR, else /tmp), removed with everything in it at exit.
 */
const char *tu_dir(void);

/* A path inside tu_dir(); each call returns a new, unused name. Caller frees. */
char *tu_path(const char *stem);

/* Fill buf with a deterministic pattern derived from seed. */
void tu_fill(void *buf, size_t len, uint64_t seed);

/* A small deterministic PRNG (splitmix64). */
uint64_t tu_rand(uint64_t *state);

#endif
