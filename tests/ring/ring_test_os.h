/*
 * tests/ring/ring_test_os.h - what ring_test.c needs to see of the OS: the
 * granularity as the OS states it, the process's open descriptors (handles)
 * and mappings, the ways this build makes the double mapping, and a real
 * shortage of descriptors. ring_test_posix.c reads /proc and /dev/shm;
 * ring_test_win.c asks Windows (handles, VirtualQuery). Picked by meson by
 * file name.
 */
#ifndef MAPIO_RING_TEST_OS_H
#define MAPIO_RING_TEST_OS_H

#include <stddef.h>

/* The unit ring capacities round to, asked of the OS directly: the page
 * size, the allocation granularity on Windows. */
size_t rt_granularity(void);

/* Open descriptors (handles) of this process; the same every call while
 * nothing is opened or closed. */
int rt_open_descriptors(void);

/* Names a ring could have left in a shared-memory namespace (0 where the
 * rings use none). */
int rt_shm_names(void);

/* Views of the rings' memory in this process, and - with len != 0 -
 * reservations of len bytes (the range both views go into, or its halves
 * where it is split). Counts of the whole process: compare before/after. */
void rt_count_maps(size_t len, int *ring_views, int *reserved);

/* How many attempts ring creation makes at this step (see
 * mapio__ringos_fail_at) when each fails with MAPIO_EEXIST: 1 where
 * nothing is retried, else the bound of the retry loop. Depends on the
 * method in use. */
int rt_eexist_tries(int step);

/* The ways this build has to make the double mapping on this system; the
 * whole suite runs once with each. *missing: NULL, or why a way the build
 * has cannot run here. rt_use_method(i), i < rt_methods(), switches to the
 * i-th and returns its name; the last one leaves the default. */
int rt_methods(const char **missing);
const char *rt_use_method(int i);

/* Use up the descriptors this process may open, so that creating a ring
 * fails for want of one: 0, then rt_give_back_descriptors() undoes it and
 * returns the error a shortage of descriptors must give. Where no such
 * limit can be reached -1, and *why says why. */
int rt_use_up_descriptors(const char **why);
int rt_give_back_descriptors(void);

#endif
