/*
 * mmap/vec/vec_posix.c - the POSIX half of the disk-backed vector.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/common.h"
#include "vec_os.h"

int mapio__vecos_default_dir(char *buf, size_t cap)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    if (xdg != NULL && xdg[0] == '/') { /* the spec says: relative ones are invalid */
        int n = snprintf(buf, cap, "%s/mapio", xdg);
        if (n < 0 || (size_t)n >= cap)
            return MAPIO_ENAMETOOLONG;
        if (mkdir(buf, 0700) == 0 || errno == EEXIST)
            return 0;
        /* An unusable cache directory is not fatal: fall through to TMPDIR. */
    }
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    int n = snprintf(buf, cap, "%s", tmp);
    return n < 0 || (size_t)n >= cap ? MAPIO_ENAMETOOLONG : 0;
}

uint64_t mapio__vecos_entropy(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)getpid() << 32 ^ (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 20;
}

int mapio__vecos_unlink(const char *path)
{
    return unlink(path) == 0 ? 0 : -errno;
}
