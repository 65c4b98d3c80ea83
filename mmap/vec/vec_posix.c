/*
 * mmap/vec/vec_posix.c - the POSIX half of the disk-backed vector: the
 * default segment directory, random names, identity-checked removal,
 * shrinking a view in place. Files
 * and mappings themselves go through mmap/map's map_posix.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/os.h"
#include "mmap/map/map_os.h"
#include "vec_os.h"

/* mkdir -p with mode for every directory it creates. path is modified in
 * place while it works and restored. */
static int make_dirs(char *path, mode_t mode)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        int err = mkdir(path, mode) == 0 || errno == EEXIST ? 0 : -errno;
        if (err == 0 && (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)))
            err = -ENOTDIR;
        *p = c;
        if (err != 0 || c == '\0')
            return err;
    }
}

/* An environment variable that names an absolute directory, or NULL. */
static const char *env_dir(const char *name)
{
    const char *v = mapio__os_getenv(name);
    return v != NULL && v[0] == '/' ? v : NULL;
}

int mapio__vecos_default_dir(char *buf, size_t cap)
{
    /* XDG: a cache is what this is. Relative values are invalid per the
     * spec. If the directory cannot be made, fall back rather than fail: a
     * scratch vector should not depend on $HOME being writable. */
    const char *xdg = env_dir("XDG_CACHE_HOME");
    if (xdg != NULL) {
        int n = snprintf(buf, cap, "%s/mapio", xdg);
        if (n > 0 && (size_t)n < cap && make_dirs(buf, 0700) == 0)
            return 0;
    }
    /* Straight into TMPDIR or /tmp: a fixed subdirectory of a shared /tmp
     * could be planted by another user. O_EXCL protects the file itself. */
    const char *tmp = env_dir("TMPDIR");
    int n = snprintf(buf, cap, "%s", tmp != NULL ? tmp : "/tmp");
    return n > 0 && (size_t)n < cap ? 0 : MAPIO_ENAMETOOLONG;
}

bool mapio__vecos_random(void *buf, size_t n)
{
    unsigned char *out = buf;
    size_t got = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    while (fd >= 0 && got < n) {
        ssize_t r = read(fd, out + got, n - got);
        if (r > 0)
            got += (size_t)r;
        else if (r == 0 || errno != EINTR)
            break;
    }
    if (fd >= 0)
        close(fd);
    return got == n;
}

uint64_t mapio__vecos_seed(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^ (uint64_t)getpid() << 32;
}

int mapio__vecos_remove(const char *path, mapio_fd_t fd)
{
    struct stat mine, named;
    if (fstat(fd, &mine) != 0)
        return -errno;
    if (lstat(path, &named) != 0)
        return -errno;
    if (!S_ISREG(named.st_mode) || named.st_dev != mine.st_dev || named.st_ino != mine.st_ino)
        return -ESTALE;
    return unlink(path) == 0 ? 0 : -errno;
}

int mapio__vecos_shrink_view(void *p, size_t old_len, size_t new_len, mapio_fd_t fd, void **out)
{
    (void)fd;
    /* munmap of the tail alone: what stays does not move. */
    int err = mapio__mapos_unmap((unsigned char *)p + new_len, old_len - new_len);
    if (err == 0)
        *out = p;
    return err;
}
