/*
 * tests/support/testutil.h - helpers shared by every test suite.
 *
 * testutil.c is portable; testutil_posix.c and testutil_win.c (picked by
 * meson) hold what needs the OS. The file helpers below go straight to the
 * OS, never through mapio, so a test can check what mapio did independently.
 */
#ifndef MAPIO_TESTUTIL_H
#define MAPIO_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "mapio/platform.h" /* mapio_fd_t */

/*
 * A fresh directory for this test process (under $MAPIO_TEST_DIR, else
 * $TMPDIR, else /tmp; on Windows else %TEMP%), removed with everything in it
 * at exit.
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

/* A monotonic clock in ns, and a sleep (for lower bounds and for letting a
 * worker get somewhere: never for upper bounds, which a busy machine
 * breaks). */
uint64_t tu_now_ns(void);
void tu_sleep_ms(unsigned ms);

/* A small deterministic PRNG (splitmix64). */
uint64_t tu_rand(uint64_t *state);

/* ---- the OS's own file calls ---------------------------------------------- */

/* Create (or empty) path and write n bytes. 0, or -1. */
int tu_write_file(const char *path, const void *data, size_t n);
/* Read up to n bytes at off through a new descriptor. The count, or -1. */
int64_t tu_read_file_at(const char *path, void *buf, size_t n, uint64_t off);
/* The size of path, or -1. */
int64_t tu_file_size(const char *path);
/* 1 if path names something, else 0. */
int tu_exists(const char *path);
/* Remove a file. 0, or -1. */
int tu_unlink(const char *path);
/* The device and file number the OS reports for path. 0, or -1. */
int tu_identity(const char *path, uint64_t *dev, uint64_t *ino);
/* The permission bits (mode & 0777) the OS reports for path, or -1. */
int tu_file_perm(const char *path);
/* What this OS keeps of permission bits asked for at creation (POSIX: all
 * of them; Windows: only whether the owner may write). */
unsigned tu_perm_kept(unsigned mode);
/* Put from at to, replacing what to names (rename(2)). 0, or -1. */
int tu_rename_over(const char *from, const char *to);
/* Make link a symbolic link to target. NULL, or why it cannot be done here. */
const char *tu_symlink(const char *target, const char *link);
/* NULL where the OS can swap two names atomically once it can rename without
 * replacing (renameat2's RENAME_EXCHANGE beside RENAME_NOREPLACE), else why
 * not: mapio's MAPIO_RENAME_EXCHANGE is then MAPIO_ENOTSUP. */
const char *tu_no_rename_exchange(void);

/* Make a directory (0700). 0, or -1. */
int tu_mkdir(const char *path);
/* 1 if path is a directory, else 0. */
int tu_is_dir(const char *path);
/* A directory on another file system than tu_dir() (a rename between the
 * two is EXDEV), or NULL where there is none to be had. */
const char *tu_other_fs_dir(void);

/* Open path (created if missing unless read_only) as an embedder would:
 * close-on-exec; on Windows overlapped, as mapio_file_adopt wants it.
 * 0, or -1. */
int tu_open_fd(const char *path, int read_only, mapio_fd_t *out);
/* NULL where a rename or removal relative to a directory handle finds the
 * directory after it was moved (as openat's kin do), else why not. */
const char *tu_no_names_in_moved_dir(void);
/* Open path (which exists) as a descriptor mapio_file_adopt must refuse
 * although it is open: on Windows a HANDLE without FILE_FLAG_OVERLAPPED.
 * NULL, or why there is no such descriptor here. */
const char *tu_open_fd_unusable(const char *path, mapio_fd_t *out);
/* A value of mapio_fd_t that names no open descriptor (HANDLE). */
mapio_fd_t tu_bad_fd(void);
/* 1 if fd is still an open descriptor (HANDLE), else 0. */
int tu_fd_is_open(mapio_fd_t fd);
void tu_close_fd(mapio_fd_t fd);

/* Pages of path's page cache that are dirty or under write-back (Linux's
 * cachestat(2)), or -1 where that cannot be asked or means nothing (a
 * file system with no write-back: tmpfs, ramfs). */
long long tu_dirty_pages(const char *path);

/* Write system calls this process has made so far (Linux: /proc/self/io), or
 * -1 where the OS does not count them. */
long long tu_write_syscalls(void);

/* poll(2) one descriptor for readability: 1, 0 on timeout, -1 on error (or
 * where descriptors cannot be polled). */
int tu_poll_readable(int fd, int timeout_ms);

#endif
