/*
 * tests/engine/crash_os.h - the committer child of crash.c's kill_9 test.
 * crash_posix.c forks it and kills it with SIGKILL; crash_win.c starts the
 * test program again (Windows has no fork) and ends it with
 * TerminateProcess. Picked by meson by file name.
 */
#ifndef MAPIO_CRASH_OS_H
#define MAPIO_CRASH_OS_H

#include <stddef.h>

/* The arguments that make crash a committer child: CT_CHILD_ARG path. */
#define CT_CHILD_ARG "--commit-forever"

typedef struct ct_child ct_child_t;

/* Start a child that runs body(path, fd), fd being the write end of a pipe
 * whose read end the parent keeps. NULL if it cannot be started. */
ct_child_t *ct_start(const char *path, void (*body)(const char *path, int fd));

/* Read exactly n bytes from the child's pipe: 1, or 0 at its end. */
int ct_read(ct_child_t *c, void *buf, size_t n);

/* Kill the child outright, as a power switch would (SIGKILL,
 * TerminateProcess). 0, or -1. */
int ct_kill(ct_child_t *c);

/* Reap the child after ct_kill: 1 if it died of that kill, else 0. Frees c. */
int ct_reaped_killed(ct_child_t *c);

/* In a child started afresh (CT_CHILD_ARG): the descriptor to write to. */
int ct_child_fd(void);

/* Write n bytes to fd: 0, or -1. */
int ct_write(int fd, const void *buf, size_t n);

#endif
