/*
 * mmap/vec/vec_os.h - what the vector needs from the OS beyond mmap/map's
 * interface (map_os.h: open, truncate, map, remap, unmap, sync, advise):
 * where segment files go by default, random names, and removing a file.
 * vec_posix.c and vec_win.c implement it.
 * Every function returns 0 or a negative errno.
 */
#ifndef MAPIO_VEC_OS_H
#define MAPIO_VEC_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/common.h"
#include "mapio/platform.h"

/* The default segment directory into buf (cap bytes, NUL-terminated),
 * created if the platform's convention says so. */
int mapio__vecos_default_dir(char *buf, size_t cap);

/* n bytes from the system's random generator: true, or false where it
 * cannot be had (vec.c then makes names from mapio__vecos_seed). */
bool mapio__vecos_random(void *buf, size_t n);

/* A value that differs between processes and between calls (a clock and the
 * process id): the seed of names when there is no random generator. */
uint64_t mapio__vecos_seed(void);

/* Remove path, but only if it still names the file open as fd (a regular
 * file, same device and inode, not a symlink): else MAPIO_ESTALE. Where a
 * file cannot lose its name while open (Windows without POSIX delete
 * semantics) it is renamed aside and goes when fd is closed. */
int mapio__vecos_remove(const char *path, mapio_fd_t fd);

/* Cut the read-write view p of fd (old_len bytes from offset 0) to its first
 * new_len bytes (0 < new_len < old_len, whole pages), keeping them where
 * they are (*out = p) where the OS can unmap part of a view. Where it cannot
 * (Windows) the view is made anew - at p unless another thread took the
 * address meanwhile - and the file is cut on the way; if no view can be made
 * the error comes with *out NULL: the old view is gone too. */
int mapio__vecos_shrink_view(void *p, size_t old_len, size_t new_len, mapio_fd_t fd, void **out);

/*
 * Test hook: let the next `skip` calls of one kind through, then make the
 * `times` after them fail with err (a negative errno) without reaching the
 * OS. op: resizing the segment file, reserving its new blocks, mapping or
 * remapping it, unmapping (the mapping then stays, exactly as after a real
 * failure), removing the name (at creation: the vector then keeps it and
 * free removes it). Each kind is armed
 * on its own; times 0 disarms it. Injected failures count in the statistics
 * like real ones. Arm it only while no vector call runs.
 */
enum {
    MAPIO__VEC_FAIL_TRUNCATE,
    MAPIO__VEC_FAIL_MAP,
    MAPIO__VEC_FAIL_UNMAP,
    MAPIO__VEC_FAIL_REMOVE,
    MAPIO__VEC_FAIL_RESERVE,
    MAPIO__VEC_FAIL_OPS
};
void mapio__vec_fail_next(int op, int err, int skip, int times);

#endif
