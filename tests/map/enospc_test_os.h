/*
 * tests/map/enospc_test_os.h - what enospc_test.c needs of the OS: a small
 * file system of its own to fill. enospc_test_posix.c mounts a tmpfs in a
 * private mount namespace (Linux, root only); enospc_test_win.c has none to
 * offer. Picked by meson by file name.
 */
#ifndef MAPIO_ENOSPC_TEST_OS_H
#define MAPIO_ENOSPC_TEST_OS_H

#include <stdint.h>

/* Move this process into a mount namespace of its own whose mounts
 * propagate nowhere, so that what et_mount_small mounts is seen by no other
 * process and goes away when this one exits, however it exits. Call it
 * first in main, while the process has one thread. NULL on success, else
 * why not (not root, no such namespaces): et_mount_small then refuses. */
const char *et_isolate(void);

/* Create the directory dir and mount a file system of kib KiB on it, in the
 * private namespace only. NULL on success, else why it cannot be done here:
 * the caller skips. */
const char *et_mount_small(const char *dir, unsigned kib);

/* Unmount dir if mounted (never lazily or by force: if something still
 * holds it, it stays mounted until the process exits), then remove the
 * directory. */
void et_unmount(const char *dir, int mounted);

/* Mount a file system of kib KiB over the directory where this build's rings
 * get their shared memory (/dev/shm, for shm_open of a name), in the private
 * namespace only. NULL on success, else why not - also where the rings' memory
 * is on no file system a test can fill (memfd_create, SHM_ANON). */
const char *et_mount_shm(unsigned kib);
/* That directory (while et_mount_shm holds), for et_free_bytes/et_entries. */
const char *et_shm_dir(void);
/* Unmount what et_mount_shm mounted (as et_unmount, leaving the directory). */
void et_unmount_shm(void);

/* Entries in the directory dir (without . and ..), or -1. */
int et_entries(const char *dir);

/* Bytes the file system holding path can still allocate, or -1. */
int64_t et_free_bytes(const char *path);

/* Create (or cut) path to size bytes without writing any: a sparse file.
 * 0, or -1. */
int et_make_sparse(const char *path, uint64_t size);

#endif
