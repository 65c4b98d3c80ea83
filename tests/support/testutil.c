/* tests/support/testutil.c - temp directories, patterns, a PRNG. POSIX (the Windows build gets its
 * own half). */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir_path[512];
static unsigned counter;

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        remove(path);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[1024];
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        struct stat st;
        if (stat(child, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(child);
        else
            remove(child);
    }
    closedir(d);
    rmdir(path);
}

static void cleanup(void)
{
    if (dir_path[0] != '\0' && getenv("MAPIO_TEST_KEEP") == NULL)
        remove_tree(dir_path);
}

const char *tu_dir(void)
{
    if (dir_path[0] != '\0')
        return dir_path;
    const char *base = getenv("MAPIO_TEST_DIR");
    if (base == NULL)
        base = getenv("TMPDIR");
    if (base == NULL)
        base = "/tmp";
    for (unsigned attempt = 0; attempt < 1000; attempt++) {
        snprintf(dir_path, sizeof dir_path, "%s/mapio-test-%ld-%u", base, (long)getpid(), attempt);
        if (mkdir(dir_path, 0700) == 0) {
            atexit(cleanup);
            return dir_path;
        }
    }
    fprintf(stderr, "testutil: cannot create a temporary directory under %s\n", base);
    abort();
}

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
