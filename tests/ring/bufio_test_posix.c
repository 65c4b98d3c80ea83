/* tests/ring/bufio_test_posix.c - bufio_test.c's OS: pipe(2), open(2),
 * O_NONBLOCK, SIGPIPE and SIGUSR1. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bufio_test_os.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

size_t bt_page(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

void bt_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void bt_pipe(mapio_fd_t p[2])
{
    assert_int_equal(pipe(p), 0);
}

void bt_close(mapio_fd_t fd)
{
    close(fd);
}

int bt_is_open(mapio_fd_t fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

int64_t bt_write(mapio_fd_t fd, const void *buf, size_t n)
{
    return write(fd, buf, n);
}

mapio_fd_t bt_open_read(const char *path)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    return fd;
}

mapio_fd_t bt_open_write(const char *path)
{
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    assert_true(fd >= 0);
    return fd;
}

const char *bt_make_nonblocking(mapio_fd_t fd)
{
    return fcntl(fd, F_SETFL, O_NONBLOCK) == 0 ? NULL : strerror(errno);
}

void bt_survive_broken_pipes(int on)
{
    static void (*old)(int);
    if (on)
        old = signal(SIGPIPE, SIG_IGN);
    else
        signal(SIGPIPE, old);
}

static volatile sig_atomic_t signals;
static struct sigaction old_usr1;

static void on_signal(int sig)
{
    (void)sig;
    signals++;
}

const char *bt_interrupts_begin(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: read(2) fails with EINTR */
    sigemptyset(&sa.sa_mask);
    signals = 0;
    assert_int_equal(sigaction(SIGUSR1, &sa, &old_usr1), 0);
    return NULL;
}

void bt_interrupt(pthread_t target)
{
    pthread_kill(target, SIGUSR1);
}

int bt_interrupts_end(void)
{
    assert_int_equal(sigaction(SIGUSR1, &old_usr1, NULL), 0);
    return (int)signals;
}
