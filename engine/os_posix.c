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
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "os.h"
#include "os_posix.h"
#include "mapio.h"

/* A directory handle, or the current directory. */
static int at(mapio_fd_t dir)
{
    return dir == MAPIO_INVALID_FD ? AT_FDCWD : dir;
}

int mapio__posix_oflags(unsigned flags)
{
    int oflags = O_CLOEXEC;
    if (flags & MAPIO_OPEN_DIRECTORY) {
        oflags |= O_RDONLY | O_DIRECTORY;
    } else if (flags & MAPIO_OPEN_READ_ONLY) {
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
#elif !MAPIO_HAVE_F_NOCACHE
    if (flags & MAPIO_OPEN_DIRECT)
        return -ENOTSUP;
#endif
    return oflags;
}

static int posix_open(mapio_fd_t dir, const char *path, unsigned flags, mapio_fd_t *out)
{
    int oflags = mapio__posix_oflags(flags);
    if (oflags < 0)
        return oflags;
    int fd;
    do
        fd = openat(at(dir), path, oflags, 0666);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -errno;
    struct stat st;
    int err = fstat(fd, &st) != 0 ? -errno : 0;
    if (err == 0 && S_ISDIR(st.st_mode) && !(flags & MAPIO_OPEN_DIRECTORY))
        err = -EISDIR; /* a file was asked for */
    if (err != 0) {
        close(fd);
        return err;
    }
#if !defined(O_DIRECT) && MAPIO_HAVE_F_NOCACHE
    /* macOS has no O_DIRECT; F_NOCACHE keeps the data out of the cache. */
    if ((flags & MAPIO_OPEN_DIRECT) && fcntl(fd, F_NOCACHE, 1) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
#endif
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

static int64_t posix_preadv_nowait(mapio_fd_t fd, const mapio_iovec_t *iov, unsigned n,
                                   uint64_t off)
{
#if MAPIO_HAVE_RWF_NOWAIT
    ssize_t r = preadv2(fd, iov, (int)n, (off_t)off, RWF_NOWAIT);
    if (r >= 0)
        return r;
    /* EOPNOTSUPP: a file system without FMODE_NOWAIT; ENOSYS: a kernel
     * before preadv2 (EOPNOTSUPP too, before RWF_NOWAIT). */
    return errno == EOPNOTSUPP || errno == ENOSYS ? -ENOTSUP : -errno;
#else
    (void)fd;
    (void)iov;
    (void)n;
    (void)off;
    return -ENOTSUP;
#endif
}

/*
 * Where the OS has them, the fcntl flushes that reach the medium come first:
 * on macOS fsync only hands the data to the drive, whose cache may lose it,
 * so F_FULLFSYNC, then F_BARRIERFSYNC (ordering, cheaper), then plain fsync.
 * Only "not supported here" falls through; a real error (EIO) is the answer.
 */
static int drive_flush(mapio_fd_t fd)
{
    static const int strongest_first[] = {
#if MAPIO_HAVE_F_FULLFSYNC
        F_FULLFSYNC,
#endif
#if MAPIO_HAVE_F_BARRIERFSYNC
        F_BARRIERFSYNC,
#endif
        -1,
    };
    for (size_t i = 0; strongest_first[i] != -1; i++) {
        if (fcntl(fd, strongest_first[i]) == 0)
            return 0;
        if (errno != ENOTTY && errno != ENOTSUP && errno != EINVAL)
            return -errno;
    }
    return 1; /* nothing stronger than fsync here */
}

static int posix_fdatasync(mapio_fd_t fd)
{
    int r = drive_flush(fd);
    if (r <= 0)
        return r;
#if MAPIO_HAVE_FDATASYNC
    return fdatasync(fd) == 0 ? 0 : -errno;
#else
    return fsync(fd) == 0 ? 0 : -errno;
#endif
}

static int posix_fsync(mapio_fd_t fd)
{
    int r = drive_flush(fd);
    if (r <= 0)
        return r;
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

static int64_t posix_pwritev_dsync(mapio_fd_t fd, const mapio_iovec_t *iov, unsigned n,
                                   uint64_t off)
{
#if MAPIO_HAVE_PWRITEV2
    ssize_t r = pwritev2(fd, iov, (int)n, (off_t)off, RWF_DSYNC);
    if (r >= 0 || errno != EOPNOTSUPP)
        return r >= 0 ? r : -errno;
#endif
    ssize_t w = pwritev(fd, iov, (int)n, (off_t)off);
    if (w < 0)
        return -errno;
    int err = posix_fdatasync(fd);
    return err != 0 ? err : w;
}

static int posix_fallocate_range(mapio_fd_t fd, uint64_t off, uint64_t len, int keep_size)
{
#if MAPIO_HAVE_FALLOCATE
    if (fallocate(fd, keep_size ? FALLOC_FL_KEEP_SIZE : 0, (off_t)off, (off_t)len) == 0)
        return 0;
    return -errno;
#else
    if (keep_size)
        return -ENOTSUP;
    int err = posix_fallocate(fd, (off_t)off, (off_t)len);
    return -err;
#endif
}

/* The logical block size of the device under a file, from sysfs, or 0. */
static uint32_t device_block_size(dev_t dev)
{
    char path[96];
    for (int partition = 0; partition < 2; partition++) {
        /* A partition's queue/ lives in its parent's directory. */
        snprintf(path, sizeof path, "/sys/dev/block/%u:%u/%squeue/logical_block_size", major(dev),
                 minor(dev), partition ? "../" : "");
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        unsigned v = 0;
        int ok = fscanf(f, "%u", &v) == 1;
        fclose(f);
        if (ok && v != 0 && (v & (v - 1)) == 0)
            return v;
    }
    return 0;
}

static int posix_dio_align(mapio_fd_t fd, uint32_t *mem, uint32_t *io)
{
#if MAPIO_HAVE_STATX_DIOALIGN
    struct statx stx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
        (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align != 0) {
        *mem = stx.stx_dio_mem_align;
        *io = stx.stx_dio_offset_align;
        return 0;
    }
#endif
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    uint32_t bs = device_block_size(S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev);
    *mem = *io = bs != 0 ? bs : 4096;
    return 0;
}

static int64_t ts_ns(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int posix_stat(mapio_fd_t fd, mapio_stat_t *out)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    *out = (mapio_stat_t){
        .size = (uint64_t)st.st_size,
        .allocated = (uint64_t)st.st_blocks * 512, /* st_blocks counts 512-byte units */
        .dev = (uint64_t)st.st_dev,
        .ino = (uint64_t)st.st_ino,
        .nlink = (uint64_t)st.st_nlink,
        .mode = (uint32_t)st.st_mode,
        .blksize = (uint32_t)st.st_blksize,
        .mtime_ns = ts_ns(st.st_mtim),
        .ctime_ns = ts_ns(st.st_ctim),
    };
    return 0;
}

static int posix_fd_flags(mapio_fd_t fd, unsigned *flags)
{
    int fl = fcntl(fd, F_GETFL);
    struct stat st;
    if (fl < 0 || fstat(fd, &st) != 0)
        return -errno;
    unsigned f = 0;
    if ((fl & O_ACCMODE) == O_RDONLY)
        f |= MAPIO_OPEN_READ_ONLY;
#if defined(O_DIRECT)
    if (fl & O_DIRECT)
        f |= MAPIO_OPEN_DIRECT;
#endif
    if (fl & (O_DSYNC | O_SYNC))
        f |= MAPIO_OPEN_DSYNC;
    if (S_ISDIR(st.st_mode))
        f |= MAPIO_OPEN_DIRECTORY;
    *flags = f;
    return 0;
}

static int posix_rename(mapio_fd_t olddir, const char *oldpath, mapio_fd_t newdir,
                        const char *newpath, unsigned flags)
{
    int r;
    if (flags == 0) {
        r = renameat(at(olddir), oldpath, at(newdir), newpath);
    } else {
#if MAPIO_HAVE_RENAMEAT2
        unsigned how = (flags & MAPIO_RENAME_NOREPLACE) ? RENAME_NOREPLACE : RENAME_EXCHANGE;
        r = renameat2(at(olddir), oldpath, at(newdir), newpath, how);
#else
        /* No atomic form here; emulating one would race (rename_np is not
         * relative to directories on every system that has it). */
        return -ENOTSUP;
#endif
    }
    return r == 0 ? 0 : -errno;
}

static int posix_unlink(mapio_fd_t dir, const char *path, unsigned flags)
{
    int how = (flags & MAPIO_UNLINK_DIR) ? AT_REMOVEDIR : 0;
    return unlinkat(at(dir), path, how) == 0 ? 0 : -errno;
}

static int posix_mkdir(mapio_fd_t dir, const char *path, unsigned mode)
{
    return mkdirat(at(dir), path, (mode_t)mode) == 0 ? 0 : -errno;
}

static int posix_sync_range(mapio_fd_t fd, uint64_t off, uint64_t len, unsigned flags)
{
#if MAPIO_HAVE_SYNC_FILE_RANGE
    unsigned how = 0;
    if (flags & MAPIO_SYNC_RANGE_WAIT_BEFORE)
        how |= SYNC_FILE_RANGE_WAIT_BEFORE;
    if (flags & MAPIO_SYNC_RANGE_WRITE)
        how |= SYNC_FILE_RANGE_WRITE;
    if (flags & MAPIO_SYNC_RANGE_WAIT_AFTER)
        how |= SYNC_FILE_RANGE_WAIT_AFTER;
    return sync_file_range(fd, (off_t)off, (off_t)len, how) == 0 ? 0 : -errno;
#else
    /* Nothing starts write-back alone here; waiting for it is a data sync. */
    (void)off;
    (void)len;
    if (flags & (MAPIO_SYNC_RANGE_WAIT_BEFORE | MAPIO_SYNC_RANGE_WAIT_AFTER))
        return posix_fdatasync(fd);
    return 0;
#endif
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
        .pwritev_dsync = posix_pwritev_dsync, .fallocate = posix_fallocate_range,                  \
        .dio_align = posix_dio_align, .now_ns = posix_now_ns, .stat = posix_stat,                  \
        .fd_flags = posix_fd_flags, .rename = posix_rename, .unlink = posix_unlink,                \
        .mkdir = posix_mkdir, .sync_range = posix_sync_range,                                      \
        .preadv_nowait = posix_preadv_nowait,                                                      \
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

void *mapio_alloc_aligned(size_t size, size_t align)
{
    if (align == 0)
        align = 4096;
    if (size == 0 || (align & (align - 1)) != 0 || align < sizeof(void *))
        return NULL;
    void *p = NULL;
    return posix_memalign(&p, align, size) == 0 ? p : NULL;
}

void mapio_free_aligned(void *p)
{
    free(p);
}
