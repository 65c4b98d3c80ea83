/*
 * mmap/vec/vec_os.h - what the vector needs from the OS beyond mmap/map's
 * interface (map_os.h: open, truncate, map, remap, unmap, sync, advise):
 * where segment files go by default, random names, and removing a file.
 * vec_posix.c implements it (vec_win.c will come with the Windows issue).
 * Every function returns 0 or a negative errno.
 */
#ifndef MAPIO_VEC_OS_H
#define MAPIO_VEC_OS_H

#include <stddef.h>

#include "engine/common.h"
#include "mapio/platform.h"

/* The default segment directory into buf (cap bytes, NUL-terminated),
 * created if the platform's convention says so. */
int mapio__vecos_default_dir(char *buf, size_t cap);

/* n random bytes: the system's generator, else (it cannot be opened) a mix
 * of clock, process id and a counter - unique, not unpredictable; the O_EXCL
 * create still refuses an existing file. Never fails. */
void mapio__vecos_random(void *buf, size_t n);

/* Remove path, but only if it still names the file open as fd (a regular
 * file, same device and inode, not a symlink): else MAPIO_ESTALE. */
int mapio__vecos_remove(const char *path, mapio_fd_t fd);

/*
 * Test hook: let the next `skip` calls of one kind through, then make the
 * `times` after them fail with err (a negative errno) without reaching the
 * OS. op: resizing the segment file, mapping or remapping it, unmapping (the
 * mapping then stays, exactly as after a real failure). Each kind is armed
 * on its own; times 0 disarms it. Injected failures count in the statistics
 * like real ones. Arm it only while no vector call runs.
 */
enum { MAPIO__VEC_FAIL_TRUNCATE, MAPIO__VEC_FAIL_MAP, MAPIO__VEC_FAIL_UNMAP, MAPIO__VEC_FAIL_OPS };
void mapio__vec_fail_next(int op, int err, int skip, int times);

#endif
