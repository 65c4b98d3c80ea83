/* tests/support/testutil.c - the portable helpers: names, patterns, a PRNG. The OS half is in
 * testutil_posix.c / testutil_win.c. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned counter;

char *tu_path(const char *stem)
{
    const char *d = tu_dir();
    size_t n = strlen(d) + strlen(stem) + 32;
    char *p = malloc(n);
    if (p == NULL)
        abort();
    snprintf(p, n, "%s/%s-%u", d, stem, counter++);
    return p;
}

uint64_t tu_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void tu_fill(void *buf, size_t len, uint64_t seed)
{
    unsigned char *p = buf;
    uint64_t s = seed;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t r = tu_rand(&s);
        for (size_t j = 0; j < 8 && i + j < len; j++)
            p[i + j] = (unsigned char)(r >> (8 * j));
    }
}

unsigned char tu_pat(uint64_t p)
{
    return (unsigned char)(((p + 1) * 0x9e3779b97f4a7c15ull) >> 56);
}

void tu_pat_fill(unsigned char *dst, uint64_t pos, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = tu_pat(pos + i);
}

int tu_pat_is(const unsigned char *p, uint64_t pos, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != tu_pat(pos + i))
            return 0;
    return 1;
}
