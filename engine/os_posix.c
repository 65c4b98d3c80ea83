/*
 * engine/os_posix.c - the POSIX half of the engine's OS table.
 *
 * Chosen by meson for every non-Windows target. Feature differences between
 * POSIX systems are decided by meson's checks (mapio_config.h), not by OS name.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "os.h"
#include "mapio.h"

static int posix_open(const char *path, unsigned flags, mapio_fd_t *out)
{
    int oflags = O_CLOEXEC;
    if (flags & MAPIO_OPEN_READ_ONLY) {
        oflags |= O_RDONLY;
    } else {
        oflags |= O_RDWR;
        if (flags & MAPIO_OPEN_CREATE_NEW)
            oflags |= O_CREAT | O_EXCL;
        else if (!(flags & MAPIO_OPEN_NO_CREATE))
            oflags |= O_CREAT;
    }
    if (flags & MAPIO_OPEN_DSYNC)
        oflags |= O_DSYNC;
#if defined(O_DIRECT)
    if (flags & MAPIO_OPEN_DIRECT)
        oflags |= O_DIRECT;
#else
    if (flags & MAPIO_OPEN_DIRECT)
        return -ENOTSUP;
#endif
    int fd;
    do
        fd = open(path, oflags, 0666);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        int err = S_ISDIR(st.st_mode) ? -EISDIR : -errno;
        close(fd);
        return err;
    }
    *out = fd;
    return 0;
}

static int posix_close(mapio_fd_t fd)
{
    /* Never retry close on EINTR: the descriptor is gone either way on Linux. */
    return close(fd) == 0 ? 0 : -errno;
}

static int64_t posix_pread(mapio_fd_t fd, void *buf, size_t len, uint64_t off)
{
    ssize_t n = pread(fd, buf, MAPIO__MIN(len, MAPIO__IO_CHUNK), (off_t)off);
    return n >= 0 ? n : -errno;
}

static int64_t posix_pwrite(mapio_fd_t fd, const void *buf, size_t len, uint64_t off)
{
    ssize_t n = pwrite(fd, buf, MAPIO__MIN(len, MAPIO__IO_CHUNK), (off_t)off);
    return n >= 0 ? n : -errno;
}

static int64_t posix_preadv(mapio_fd_t fd, const mapio_iovec_t *iov, unsigned n, uint64_t off)
{
    ssize_t r = preadv(fd, iov, (int)n, (off_t)off);
    return r >= 0 ? r : -errno;
}

static int64_t posix_pwritev(mapio_fd_t fd, const mapio_iovec_t *iov, unsigned n, uint64_t off)
{
    ssize_t r = pwritev(fd, iov, (int)n, (off_t)off);
    return r >= 0 ? r : -errno;
}

static int posix_fdatasync(mapio_fd_t fd)
{
#if MAPIO_HAVE_FDATASYNC
    return fdatasync(fd) == 0 ? 0 : -errno;
#else
    return fsync(fd) == 0 ? 0 : -errno;
#endif
}

static int posix_fsync(mapio_fd_t fd)
{
    return fsync(fd) == 0 ? 0 : -errno;
}

static int posix_size(mapio_fd_t fd, uint64_t *out)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    if (S_ISREG(st.st_mode)) {
        *out = (uint64_t)st.st_size;
        return 0;
    }
    /* Block devices report st_size 0; seeking to the end works everywhere. */
    off_t end = lseek(fd, 0, SEEK_END);
    if (end < 0)
        return -errno;
    *out = (uint64_t)end;
    return 0;
}

static int posix_truncate(mapio_fd_t fd, uint64_t size)
{
    int r;
    do
        r = ftruncate(fd, (off_t)size);
    while (r != 0 && errno == EINTR);
    return r == 0 ? 0 : -errno;
}

static uint64_t posix_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One initializer for both tables, so they cannot drift apart. */
#define POSIX_OS_TABLE                                                                             \
    {                                                                                              \
        .open = posix_open, .close = posix_close, .pread = posix_pread, .pwrite = posix_pwrite,    \
        .preadv = posix_preadv, .pwritev = posix_pwritev, .fdatasync = posix_fdatasync,            \
        .fsync = posix_fsync, .size = posix_size, .truncate = posix_truncate,                      \
        .now_ns = posix_now_ns,                                                                    \
    }

const struct mapio__os mapio__os_default = POSIX_OS_TABLE;
struct mapio__os mapio__os = POSIX_OS_TABLE;

const char *mapio__os_getenv(const char *name)
{
    if (getuid() != geteuid() || getgid() != getegid())
        return NULL;
    return getenv(name);
}

void mapio__os_block_signals(void)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
}
