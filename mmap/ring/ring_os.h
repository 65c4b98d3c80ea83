/*
 * mmap/ring/ring_os.h - what the portable ring and buffered-I/O code needs
 * from the OS. ring_posix.c and ring_win.c implement it (meson picks one by
 * name); nothing else in mmap/ring is OS-specific.
 * Every function returns 0 or a count on success and a negative errno on
 * failure.
 */
#ifndef MAPIO_RING_OS_H
#define MAPIO_RING_OS_H

#include <stddef.h>

#include "engine/common.h"
#include "mapio/platform.h"

/* The unit a ring's capacity is rounded up to: the page size on POSIX, the
 * allocation granularity (64 KiB) on Windows. A power of two. */
size_t mapio__ringos_granularity(void);

/*
 * Make len bytes (a multiple of the granularity, 2 * len fits in a size_t)
 * of shared memory visible twice, at *base and at *base + len, so that byte
 * i and byte i + len are the same byte. No descriptor or handle stays open
 * afterwards. On failure nothing is left behind (no mapping, no descriptor,
 * no name in the shared-memory namespace).
 */
int mapio__ringos_create(size_t len, void **base);

/* Undo mapio__ringos_create. */
int mapio__ringos_destroy(void *base, size_t len);

/*
 * Test hook: make the next `times` passes through step `step` of
 * mapio__ringos_create fail with err (a negative errno) without calling the
 * OS. Steps: 1 create the shared-memory object (each attempt at a random
 * name counts: -EEXIST there exercises the retry), 2 size it, 3 reserve the
 * address range, 4 map the first view, 5 map the second view. times 0
 * disarms. Windows (ring_win.c says more): 1 is CreateFileMappingW, which has
 * no name to retry on and takes the size itself, so 2 fails with the section
 * made and nothing called; where the views are placed by the retry loop,
 * each attempt passes 3, 4 and 5 again, and -EEXIST at 4 or 5 (the address
 * was taken) exercises the retry.
 */
void mapio__ringos_fail_at(int step, int err, int times);

/* The platform halves ask at each step: the error to fail it with, or 0.
 * (The hook itself is portable, in ring.c.) */
int mapio__ringos_injected(int step);

/*
 * The buffered reader's and writer's door to the OS (SQLite's aSyscall idea,
 * like engine/os.h): one read(2) or write(2) of at most n bytes, returning
 * the count (0: end of file for read) or a negative errno - MAPIO_EINTR
 * included: the callers retry it. Tests replace the entries to inject EINTR,
 * short transfers, zero-length writes and errors; replace them only while no
 * buffered reader or writer is in a call.
 */
struct mapio__ringos_io {
    int64_t (*read)(mapio_fd_t fd, void *buf, size_t n);
    int64_t (*write)(mapio_fd_t fd, const void *buf, size_t n);
};

/* The live table, and the platform's own entries (to restore or to wrap). */
extern struct mapio__ringos_io mapio__ringos_io;
extern const struct mapio__ringos_io mapio__ringos_io_default;

#endif
