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

/* Entries in the directory dir (without . and ..), or -1. */
int et_entries(const char *dir);

/* Bytes the file system holding path can still allocate, or -1. */
int64_t et_free_bytes(const char *path);

/* Create (or cut) path to size bytes without writing any: a sparse file.
 * 0, or -1. */
int et_make_sparse(const char *path, uint64_t size);

#endif
