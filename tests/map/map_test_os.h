/*
 * tests/map/map_test_os.h - what map_test.c needs of the OS beyond files:
 * child processes. map_test_posix.c forks; map_test_win.c starts the test
 * program again (Windows has no fork). Picked by meson by file name.
 */
#ifndef MAPIO_MAP_TEST_OS_H
#define MAPIO_MAP_TEST_OS_H

#include <stdint.h>

#include "mapio/map.h"

/* The argument that makes map_test a child running mt_child_store_into_frozen. */
#define MT_CHILD_ARG "--store-into-frozen"

/* 1 if a plain store into the first byte of the frozen map m (of the file
 * at path) kills a child process with an access violation, else 0. */
int mt_store_faults(mapio_map_t *m, const char *path);

/* The child's side where a child starts afresh: map path read-write,
 * freeze, store. Returns (exit status) 0 only if the store went through. */
int mt_child_store_into_frozen(const char *path);

/* Run fn(m) in a child process whose files may not grow past limit bytes
 * and return its exit status. Where the OS has no such limit nothing runs:
 * *why says so and the result is -1. */
int mt_with_file_size_limit(int (*fn)(mapio_map_t *), mapio_map_t *m, uint64_t limit,
                            const char **why);

#endif
