/*
 * mmap/vec/vec_os.h - what the vector needs beyond mmap/map's OS interface:
 * where segment files go, and removing them. vec_posix.c implements it.
 */
#ifndef MAPIO_VEC_OS_H
#define MAPIO_VEC_OS_H

#include <stddef.h>
#include <stdint.h>

/* Write the default segment directory into buf, creating it if missing:
 * $XDG_CACHE_HOME/mapio, else $TMPDIR, else /tmp. 0 or a negative errno. */
int mapio__vecos_default_dir(char *buf, size_t cap);
/* Unique-ish bits for a file name (collisions are caught by O_EXCL). */
uint64_t mapio__vecos_entropy(void);
int mapio__vecos_unlink(const char *path);

#endif
