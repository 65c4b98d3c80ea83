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

/* A stream pattern: the byte at stream position p, position-dependent and
 * not periodic in any buffer size, so a byte read from the wrong place is
 * caught. tu_pat_fill writes bytes [pos, pos + n) of it; tu_pat_is says
 * whether p holds them. */
unsigned char tu_pat(uint64_t p);
void tu_pat_fill(unsigned char *dst, uint64_t pos, size_t n);
int tu_pat_is(const unsigned char *p, uint64_t pos, size_t n);

/* A small deterministic PRNG (splitmix64). */
uint64_t tu_rand(uint64_t *state);

#endif
