/*
 * engine/os.h - the engine's one door to the operating system.
 *
 * Every system call the engine and the worker pool make goes through the
 * table mapio__os (SQLite's aSyscall idea). Tests - and users testing their
 * own storage engines - replace entries to inject EIO, ENOSPC, EINTR, short
 * transfers or failed syncs deterministically, with no linker tricks (which
 * mingw cannot do). engine/os_posix.c and engine/os_win.c fill it; nothing
 * else in engine/ knows which OS it runs on.
 *
 * Every entry returns a count or 0 on success and a negative errno on failure.
 * Entries must be safe to call from any thread.
 */
#ifndef MAPIO_OS_H
#define MAPIO_OS_H

#include "common.h"
#include "mapio/engine.h"
#include "mapio/platform.h"

struct mapio__os {
    /* Open path, relative to the directory dir (MAPIO_INVALID_FD: the
     * current one), with MAPIO_OPEN_* flags (translated here; with
     * MAPIO_OPEN_DIRECTORY it must be a directory, without it must not). */
    int (*open)(mapio_fd_t dir, const char *path, unsigned flags, mapio_fd_t *out);
    int (*close)(mapio_fd_t fd);
    int64_t (*pread)(mapio_fd_t fd, void *buf, size_t len, uint64_t off);
    int64_t (*pwrite)(mapio_fd_t fd, const void *buf, size_t len, uint64_t off);
    int64_t (*preadv)(mapio_fd_t fd, const mapio_iovec_t *iov, unsigned n, uint64_t off);
    int64_t (*pwritev)(mapio_fd_t fd, const mapio_iovec_t *iov, unsigned n, uint64_t off);
    /* preadv that never waits for the device: only what the page cache
     * holds already (Linux: preadv2 with RWF_NOWAIT). A count (short: the
     * page after it is not cached), 0 at the end of the file, MAPIO_EAGAIN
     * when the first page is not cached (a read of it may have been
     * started), MAPIO_ENOTSUP where the OS or this file cannot tell. */
    int64_t (*preadv_nowait)(mapio_fd_t fd, const mapio_iovec_t *iov, unsigned n, uint64_t off);
    int (*fdatasync)(mapio_fd_t fd);
    int (*fsync)(mapio_fd_t fd);
    /* Size of a regular file, or of a block device (whose st_size is 0). */
    int (*size)(mapio_fd_t fd, uint64_t *out);
    int (*truncate)(mapio_fd_t fd, uint64_t size);
    /* A write that is durable when it returns (RWF_DSYNC, else write + fdatasync). */
    int64_t (*pwritev_dsync)(mapio_fd_t fd, const mapio_iovec_t *iov, unsigned n, uint64_t off);
    /* Allocate blocks for [off, off + len); keep_size leaves the size alone. */
    int (*fallocate)(mapio_fd_t fd, uint64_t off, uint64_t len, int keep_size);
    /* What O_DIRECT needs of buffers and of offsets/lengths on this file. */
    int (*dio_align)(mapio_fd_t fd, uint32_t *mem, uint32_t *io);
    /* Metadata of an open file. */
    int (*stat)(mapio_fd_t fd, mapio_stat_t *out);
    /* What an existing descriptor allows: MAPIO_OPEN_READ_ONLY, _DIRECT,
     * _DSYNC and _DIRECTORY bits (mapio_file_adopt). */
    int (*fd_flags)(mapio_fd_t fd, unsigned *flags);
    /* renameat2 with MAPIO_RENAME_* flags; unlinkat (MAPIO_UNLINK_DIR: a
     * directory); mkdirat. Directories as for open. */
    int (*rename)(mapio_fd_t olddir, const char *oldpath, mapio_fd_t newdir, const char *newpath,
                  unsigned flags);
    int (*unlink)(mapio_fd_t dir, const char *path, unsigned flags);
    int (*mkdir)(mapio_fd_t dir, const char *path, unsigned mode);
    /* Write-back of a range, MAPIO_SYNC_RANGE_* flags (len 0: to the end). */
    int (*sync_range)(mapio_fd_t fd, uint64_t off, uint64_t len, unsigned flags);
    /* Monotonic nanoseconds. */
    uint64_t (*now_ns)(void);
};

/* The live table. Replace entries only while no I/O is in flight. */
extern struct mapio__os mapio__os;
/* The platform's own entries, to restore or to call from a wrapper. */
extern const struct mapio__os mapio__os_default;

/* getenv that returns NULL in set-uid/set-gid programs. */
const char *mapio__os_getenv(const char *name);

/* Called first thing by the library's own threads, so that the application's
 * signals are delivered to the application's threads. */
void mapio__os_block_signals(void);

/* Largest count handed to one system call (Linux caps at 0x7ffff000). */
#define MAPIO__IO_CHUNK ((size_t)0x7ffff000)

#endif
