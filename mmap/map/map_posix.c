/*
 * mmap/map/map_posix.c - the POSIX half of mapped files.
 *
 * Linux-only calls (mremap, MAP_POPULATE, sync_file_range) are chosen by
 * meson's feature checks (mapio_config.h), each with its portable path; the
 * -Dportable=true build forces the portable paths so they are tested too.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "map_os.h"

/* One page cache: fdatasync on the descriptor covers the mapping's stores. */
const bool mapio__mapos_view_flush_before_sync = false;

int mapio__mapos_open(const char *path, mapio_map_open_t policy, bool writable, unsigned mode,
                      mapio_fd_t *fd)
{
    int flags = O_CLOEXEC | (writable ? O_RDWR : O_RDONLY);
    switch (policy) {
    case MAPIO_MAP_OPEN_EXISTING:
        break;
    case MAPIO_MAP_OPEN_OR_CREATE:
        flags |= O_CREAT;
        break;
    case MAPIO_MAP_CREATE_NEW:
        flags |= O_CREAT | O_EXCL;
        break;
    case MAPIO_MAP_TRUNCATE:
        flags |= O_CREAT | O_TRUNC;
        break;
    }
    int r;
    do
        r = open(path, flags, mode != 0 ? (mode_t)mode : 0644);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    struct stat st;
    if (fstat(r, &st) != 0 || S_ISDIR(st.st_mode)) {
        int err = S_ISDIR(st.st_mode) ? -EISDIR : -errno;
        close(r);
        return err;
    }
    *fd = r;
    return 0;
}

int mapio__mapos_close(mapio_fd_t fd)
{
    return close(fd) == 0 ? 0 : -errno;
}

int mapio__mapos_size(mapio_fd_t fd, uint64_t *size)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    if (S_ISREG(st.st_mode)) {
        *size = (uint64_t)st.st_size;
        return 0;
    }
    off_t end = lseek(fd, 0, SEEK_END); /* block devices report st_size 0 */
    if (end < 0)
        return -errno;
    *size = (uint64_t)end;
    return 0;
}

int mapio__mapos_truncate(mapio_fd_t fd, uint64_t size)
{
    int r;
    do
        r = ftruncate(fd, (off_t)size);
    while (r != 0 && errno == EINTR);
    return r == 0 ? 0 : -errno;
}

bool mapio__mapos_reserve_by_writing;
bool mapio__mapos_reserve_unchecked;

/* The system's own reservation: 0, -EOPNOTSUPP where the file system
 * (or the system) has none, or the error. */
static int allocate(int fd, uint64_t off, uint64_t len)
{
    if (mapio__mapos_reserve_by_writing)
        return -EOPNOTSUPP;
    int err;
#if MAPIO_HAVE_FALLOCATE
    /* Mode 0 allocates (unwritten extents: no data is written) and never
     * cuts the file. */
    do
        err = fallocate(fd, 0, (off_t)off, (off_t)len) == 0 ? 0 : -errno;
    while (err == -EINTR);
#elif MAPIO_HAVE_POSIX_FALLOCATE
    do
        err = -posix_fallocate(fd, (off_t)off, (off_t)len);
    while (err == -EINTR);
#else
    /* macOS: F_PREALLOCATE allocates from the physical end of the file, not
     * a range, and not into holes; writing zeros is what is sure. */
    err = -EOPNOTSUPP;
#endif
    /* What file systems without the operation say: EOPNOTSUPP (ext4 without
     * extents, NFSv3, FUSE), EINVAL (ZFS), ENODEV (not a regular file). */
    if (err == -EOPNOTSUPP || err == -ENOTSUP || err == -EINVAL || err == -ENODEV || err == -ENOSYS)
        return -EOPNOTSUPP;
    return err;
}

/* Zeros over [from, to): a write allocates the blocks under it, or fails
 * with ENOSPC now. */
static int write_zeros(int fd, uint64_t from, uint64_t to)
{
    static const unsigned char zeros[64 * 1024];
    while (from < to) {
        ssize_t w = pwrite(fd, zeros, (size_t)MAPIO__MIN(to - from, sizeof zeros), (off_t)from);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        if (w == 0)
            return -ENOSPC; /* no progress: do not spin */
        from += (uint64_t)w;
    }
    return 0;
}

/* -ENOSPC if the file system has fewer free bytes than need, which it must
 * find: fallocate (ext4, XFS) and the zeros alike allocate as they go, so a
 * growth that cannot fit would first fill the disk - for every other process
 * on it too - and only then fail. 0 where it may fit or nobody can say. */
static int may_fit(int fd, uint64_t need)
{
    struct statvfs s;
    if (need == 0 || mapio__mapos_reserve_unchecked || fstatvfs(fd, &s) != 0 || s.f_frsize == 0)
        return 0;
    /* f_bfree, not f_bavail: blocks kept for root are not refused to root. */
    uint64_t bfree = (uint64_t)s.f_bfree;
    return bfree < need / s.f_frsize ? -ENOSPC : 0;
}

int mapio__mapos_reserve(mapio_fd_t fd, uint64_t off, uint64_t len, uint64_t fresh)
{
    if (len == 0)
        return 0;
    /* The part past fresh is new: it has no blocks yet, whatever the rest. */
    uint64_t from = MAPIO__MAX(off, fresh);
    int err = from < off + len ? may_fit(fd, off + len - from) : 0;
    if (err == 0)
        err = allocate(fd, off, len);
    if (err != -EOPNOTSUPP)
        return err;
    return from < off + len ? write_zeros(fd, from, off + len) : 0;
}

int mapio__mapos_fsync(mapio_fd_t fd)
{
    return fsync(fd) == 0 ? 0 : -errno;
}

int mapio__mapos_identity(mapio_fd_t fd, uint64_t *dev, uint64_t *ino)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    *dev = (uint64_t)st.st_dev;
    *ino = (uint64_t)st.st_ino;
    return 0;
}

static int prot_of(mapio_map_kind_t kind, bool frozen)
{
    switch (kind) {
    case MAPIO_MAP_READ_ONLY:
        return PROT_READ;
    case MAPIO_MAP_EXEC:
        return PROT_READ | PROT_EXEC;
    default:
        return frozen ? PROT_READ : PROT_READ | PROT_WRITE;
    }
}

int mapio__mapos_map(mapio_fd_t fd, uint64_t off, size_t len, mapio_map_kind_t kind, unsigned flags,
                     void **out)
{
    int mflags = fd < 0 ? MAP_PRIVATE | MAP_ANONYMOUS
                        : (kind == MAPIO_MAP_COPY_ON_WRITE ? MAP_PRIVATE : MAP_SHARED);
#if MAPIO_HAVE_MAP_POPULATE
    if (flags & MAPIO_MAP_POPULATE)
        mflags |= MAP_POPULATE;
#endif
#if defined(MAP_STACK)
    if ((flags & MAPIO_MAP_STACK) && fd < 0)
        mflags |= MAP_STACK;
#endif
    int prot = fd < 0 ? PROT_READ | PROT_WRITE : prot_of(kind, false);
    void *p = mmap(NULL, len, prot, mflags, fd, (off_t)off);
    if (p == MAP_FAILED)
        return -errno;
#if !MAPIO_HAVE_MAP_POPULATE
    if (flags & MAPIO_MAP_POPULATE)
        madvise(p, len, MADV_WILLNEED); /* a hint where MAP_POPULATE is missing */
#endif
#if defined(MADV_HUGEPAGE)
    if (flags & MAPIO_MAP_HUGE_PAGES)
        madvise(p, len, MADV_HUGEPAGE); /* a hint: ignored where THP is off */
#endif
    *out = p;
    return 0;
}

int mapio__mapos_unmap(void *p, size_t len)
{
    return munmap(p, len) == 0 ? 0 : -errno;
}

int mapio__mapos_remap(void *p, size_t old_len, size_t new_len, mapio_fd_t fd, uint64_t off,
                       mapio_map_kind_t kind, unsigned flags, void **out)
{
#if MAPIO_HAVE_MREMAP
    void *q = mremap(p, old_len, new_len, MREMAP_MAYMOVE);
    if (q == MAP_FAILED)
        return -errno;
    *out = q;
    return 0;
#else
    /* Map the new length first, so a failure leaves the old mapping intact. */
    void *q;
    int err = mapio__mapos_map(fd, off, new_len, kind, flags, &q);
    if (err != 0)
        return err;
    munmap(p, old_len);
    *out = q;
    return 0;
#endif
}

int mapio__mapos_protect(void *p, size_t len, mapio_map_kind_t kind, bool frozen)
{
    return mprotect(p, len, prot_of(kind, frozen)) == 0 ? 0 : -errno;
}

int mapio__mapos_sync(void *p, size_t len, mapio_fd_t fd, uint64_t off, bool async)
{
    if (async) {
#if MAPIO_HAVE_SYNC_FILE_RANGE
        /* MS_ASYNC is a no-op on Linux: start the writeback ourselves. */
        return sync_file_range(fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE) == 0 ? 0 : -errno;
#else
        return msync(p, len, MS_ASYNC) == 0 ? 0 : -errno;
#endif
    }
    return msync(p, len, MS_SYNC) == 0 ? 0 : -errno;
}

int mapio__mapos_advise(void *p, size_t len, mapio_advice_t advice)
{
    static const int native[] = {
        [MAPIO_ADVICE_NORMAL] = MADV_NORMAL,     [MAPIO_ADVICE_SEQUENTIAL] = MADV_SEQUENTIAL,
        [MAPIO_ADVICE_RANDOM] = MADV_RANDOM,     [MAPIO_ADVICE_WILLNEED] = MADV_WILLNEED,
        [MAPIO_ADVICE_DONTNEED] = MADV_DONTNEED,
    };
    return madvise(p, len, native[advice]) == 0 ? 0 : -errno;
}

int mapio__mapos_mlock(void *p, size_t len, bool lock)
{
    int r = lock ? mlock(p, len) : munlock(p, len);
    return r == 0 ? 0 : -errno;
}

int mapio__mapos_flock(mapio_fd_t fd, int how, bool try_only)
{
    int op = how == 0 ? LOCK_UN : how == 1 ? LOCK_SH : LOCK_EX;
    if (try_only)
        op |= LOCK_NB;
    int r;
    do
        r = flock(fd, op);
    while (r != 0 && errno == EINTR);
    if (r == 0)
        return 0;
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
}

/* The directory of path, opened for fsync. */
static int open_parent(const char *path, int *dfd)
{
    char *copy = strdup(path);
    if (copy == NULL)
        return -ENOMEM;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int err = fd < 0 ? -errno : 0;
    free(copy);
    *dfd = fd;
    return err;
}

int mapio__mapos_sync_parent(const char *path)
{
    int dfd;
    int err = open_parent(path, &dfd);
    if (err != 0)
        return err;
    err = fsync(dfd) == 0 ? 0 : -errno;
    close(dfd);
    return err;
}

int mapio__mapos_remove(const char *path, uint64_t dev, uint64_t ino)
{
    int dfd;
    int err = open_parent(path, &dfd);
    if (err != 0)
        return err;
    char *copy = strdup(path);
    if (copy == NULL) {
        close(dfd);
        return -ENOMEM;
    }
    const char *name = basename(copy);
    struct stat st;
    /* Same directory handle for the check and the unlink: no path race on
     * the directory itself; the name is checked right before it goes. */
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        err = -errno;
    else if (!S_ISREG(st.st_mode) || (uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino)
        err = -ESTALE;
    else if (unlinkat(dfd, name, 0) != 0)
        err = -errno;
    else if (fsync(dfd) != 0)
        err = -errno;
    free(copy);
    close(dfd);
    return err;
}

uint64_t mapio__mapos_page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (uint64_t)p : 4096;
}

/* ---- public file utilities --------------------------------------------------- */

int mapio_path_sync_dir(const char *dir)
{
    if (dir == NULL)
        return MAPIO_EINVAL;
    if (dir[0] == '\0')
        return MAPIO_ENOENT; /* what open(2) says: an empty path names nothing */
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int err = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return err;
}

int mapio_path_sync_parent(const char *path)
{
    if (path == NULL)
        return MAPIO_EINVAL;
    /* The parent of "" would be "." - a 0 for syncing a directory the
     * caller never named. An empty path names no file, so none has a
     * parent: ENOENT, as mapio_path_sync_dir("") and open(2) say. */
    if (path[0] == '\0')
        return MAPIO_ENOENT;
    return mapio__mapos_sync_parent(path);
}

static int64_t ts_ns(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int mapio_path_info(const char *path, unsigned flags, mapio_path_info_t *out)
{
    if (path == NULL || out == NULL || (flags & ~(unsigned)MAPIO_PATH_NOFOLLOW))
        return MAPIO_EINVAL;
    struct stat st;
    if (((flags & MAPIO_PATH_NOFOLLOW) ? lstat(path, &st) : stat(path, &st)) != 0)
        return -errno;
    *out = (mapio_path_info_t){
        .size = (uint64_t)st.st_size,
        .dev = (uint64_t)st.st_dev,
        .ino = (uint64_t)st.st_ino,
        .rdev = (uint64_t)st.st_rdev,
        .nlink = (uint64_t)st.st_nlink,
        .blocks = (uint64_t)st.st_blocks,
        .blksize = (uint64_t)st.st_blksize,
        .mode = (uint32_t)st.st_mode,
        .uid = (uint32_t)st.st_uid,
        .gid = (uint32_t)st.st_gid,
        .atime_ns = ts_ns(st.st_atim),
        .mtime_ns = ts_ns(st.st_mtim),
        .ctime_ns = ts_ns(st.st_ctim),
    };
    return 0;
}

int mapio_path_device_size(const char *path, uint64_t *out)
{
    if (path == NULL || out == NULL)
        return MAPIO_EINVAL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int err = mapio__mapos_size(fd, out);
    close(fd);
    return err;
}
