/*
 * engine/os_posix.h - what the POSIX half of the OS table shares with the
 * POSIX backends (io_uring opens files in the kernel, with the same flags).
 * Never installed.
 */
#ifndef MAPIO_OS_POSIX_H
#define MAPIO_OS_POSIX_H

/* open(2) flags for MAPIO_OPEN_* flags (O_CLOEXEC included), or -ENOTSUP
 * (O_DIRECT asked where there is none and no F_NOCACHE either). */
int mapio__posix_oflags(unsigned flags);

#endif
