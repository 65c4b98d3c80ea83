/*
 * mmap/ring/ring_win.h - what only the Windows half of the rings has: the
 * choice between its two ways of making the double mapping, for tests.
 * Included only by Windows-only sources (ring_win.c, the tests' _win.c files).
 */
#ifndef MAPIO_RING_WIN_H
#define MAPIO_RING_WIN_H

/*
 * Test hook. allow 0: mapio__ringos_create uses the retry loop (reserve,
 * release, map both views at the address, again if another thread took it)
 * even where placeholder views work; allow 1: the default, placeholders
 * where the system has them; allow < 0: no change. Returns 1 if creations
 * will now use placeholders, else 0. Change it only while no ring is being
 * created.
 */
int mapio__ringos_win_placeholders(int allow);

#endif
