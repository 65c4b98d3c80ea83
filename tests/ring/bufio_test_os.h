/*
 * tests/ring/bufio_test_os.h - what bufio_test.c needs of the OS beyond the
 * library: pipes, plain file opens, raw writes, a non-blocking pipe, and
 * signals that interrupt a blocked read. bufio_test_posix.c uses pipe(2),
 * open(2) and SIGUSR1; bufio_test_win.c CreatePipe, CreateFileA (not
 * overlapped: the engine's opens give the overlapped kind) and says that
 * there are no such signals. Picked by meson by file name.
 */
#ifndef MAPIO_BUFIO_TEST_OS_H
#define MAPIO_BUFIO_TEST_OS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "mapio/platform.h"

/* The unit ring capacities round to, asked of the OS directly. */
size_t bt_page(void);

void bt_sleep_ms(long ms);

/* A blocking pipe, p[0] to read, p[1] to write, able to hold at least
 * 40000 bytes before anyone reads. Asserts that it worked. */
void bt_pipe(mapio_fd_t p[2]);

void bt_close(mapio_fd_t fd);

/* 1 if fd is an open descriptor, else 0. */
int bt_is_open(mapio_fd_t fd);

/* One write straight to the OS: the count, or -1. */
int64_t bt_write(mapio_fd_t fd, const void *buf, size_t n);

/* path opened the OS's own plain way: to read, or to write (created and
 * emptied). Asserts that it worked. */
mapio_fd_t bt_open_read(const char *path);
mapio_fd_t bt_open_write(const char *path);

/* Make a pipe's read end non-blocking (an empty pipe: MAPIO_EAGAIN). NULL,
 * or why it cannot be done here. */
const char *bt_make_nonblocking(mapio_fd_t fd);

/* Writes to a pipe whose reader is gone: on, the process survives them
 * (SIGPIPE ignored); off, as before. */
void bt_survive_broken_pipes(int on);

/* A signal that interrupts a blocked read (EINTR, no SA_RESTART): begin
 * installs its handler (NULL, or why there is no such thing here), kick
 * sends it to a thread, end restores and returns how many arrived. */
const char *bt_interrupts_begin(void);
void bt_interrupt(pthread_t target);
int bt_interrupts_end(void);

#endif
