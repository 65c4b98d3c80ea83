/*
 * mmap/map/map_os.h - what the portable map code needs from the OS.
 * map_posix.c implements it (map_win.c will); nothing else is OS-specific.
 * Every function returns 0 or a negative errno.
 */
#ifndef MAPIO_MAP_OS_H
#define MAPIO_MAP_OS_H

#include <stdbool.h>

#include "engine/common.h"
#include "mapio/map.h"

/* Open path for a map: writable for shared read-write maps and for policies
 * that create or resize. */
int mapio__mapos_open(const char *path, mapio_map_open_t policy, bool writable, unsigned mode,
                      mapio_fd_t *fd);
int mapio__mapos_close(mapio_fd_t fd);

/* A map of fd, which stays the caller's (never closed by the map): the
 * engine's MMapIO mode maps the descriptor it opened or adopted. opts as
 * for mapio_map_new, minus what needs a path (LOCK_FILE, REMOVE_ON_FREE:
 * MAPIO_EINVAL); opts->open is ignored. */
int mapio__map_new_fd(mapio_map_t **out, mapio_fd_t fd, const mapio_map_opts_t *opts);
int mapio__mapos_size(mapio_fd_t fd, uint64_t *size);
int mapio__mapos_truncate(mapio_fd_t fd, uint64_t size);

/*
 * Back [off, off + len) of fd, which is at least off + len long, with
 * allocated blocks, so that a store through a shared mapping of it cannot
 * fault for want of space: a full file system is MAPIO_ENOSPC here instead
 * of SIGBUS later. Blocks already there cost an extent walk. A growth
 * (past fresh) larger than the free space is MAPIO_ENOSPC before anything is
 * allocated, where the system says how much is free. Where the file
 * system cannot reserve, zeros are written over [fresh, off + len) instead -
 * the part the caller has just added by growing the file, which holds no
 * data yet (fresh >= off + len: nothing to write); holes before fresh stay,
 * because writing zeros there could overwrite what another writer stores
 * meanwhile. On failure some blocks may be allocated: the caller cuts the
 * file back to the size it had.
 */
int mapio__mapos_reserve(mapio_fd_t fd, uint64_t off, uint64_t len, uint64_t fresh);

/* Test hooks. by_writing makes mapio__mapos_reserve act as on a file system
 * that cannot reserve (it writes zeros), so the fallback is tested where the
 * reservation works; unchecked skips the free-space check in front of it, so
 * that fallocate's and the zeros' own ENOSPC are tested too. Set them only
 * while no map, vector or ring is sized. */
extern bool mapio__mapos_reserve_by_writing;
extern bool mapio__mapos_reserve_unchecked;
int mapio__mapos_fsync(mapio_fd_t fd);
int mapio__mapos_identity(mapio_fd_t fd, uint64_t *dev, uint64_t *ino);

/* Map len bytes of fd at a page-aligned offset (fd MAPIO_INVALID_FD: anonymous). */
int mapio__mapos_map(mapio_fd_t fd, uint64_t off, size_t len, mapio_map_kind_t kind, unsigned flags,
                     void **out);
int mapio__mapos_unmap(void *p, size_t len);
/* Change a mapping's length; it may move (*out). A growing remap that fails
 * leaves the old mapping as it was; a shrinking one may not (Windows). */
int mapio__mapos_remap(void *p, size_t old_len, size_t new_len, mapio_fd_t fd, uint64_t off,
                       mapio_map_kind_t kind, unsigned flags, void **out);
/* Page protection: the kind's own, or read-only when frozen. */
int mapio__mapos_protect(void *p, size_t len, mapio_map_kind_t kind, bool frozen);
/* Write back [p, p + len) (page-aligned) which maps fd at file offset off. */
int mapio__mapos_sync(void *p, size_t len, mapio_fd_t fd, uint64_t off, bool async);
int mapio__mapos_advise(void *p, size_t len, mapio_advice_t advice);
int mapio__mapos_mlock(void *p, size_t len, bool lock);
/* how: 0 unlock, 1 shared, 2 exclusive. */
int mapio__mapos_flock(mapio_fd_t fd, int how, bool try_only);
/* Unlink path if it still names (dev, ino) and is not a symlink; fsync its directory. */
int mapio__mapos_remove(const char *path, uint64_t dev, uint64_t ino);
/* fsync the directory that holds path. */
int mapio__mapos_sync_parent(const char *path);
uint64_t mapio__mapos_page_size(void);

/* True where stores through a file's mapping reach the file only through a
 * flush of the view (Windows: FlushViewOfFile before FlushFileBuffers), so a
 * sync of the file must flush its view first; false where the page cache is
 * shared and fdatasync on any descriptor covers them (POSIX). */
extern const bool mapio__mapos_view_flush_before_sync;

#endif
