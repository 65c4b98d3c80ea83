/* tests/ring/bufio_test_win.c - bufio_test.c's OS on Windows: CreatePipe
 * (neither end overlapped), CreateFileA without FILE_FLAG_OVERLAPPED (the
 * engine's opens, which bufio_test.c uses too, are the overlapped kind),
 * PIPE_NOWAIT, and no signals. */
#include <windows.h>

#include "bufio_test_os.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

size_t bt_page(void)
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwAllocationGranularity;
}

void bt_sleep_ms(long ms)
{
    Sleep((DWORD)ms);
}

void bt_pipe(mapio_fd_t p[2])
{
    HANDLE r, w;
    /* 1 MiB: the tests write up to 40000 bytes before anything reads. */
    assert_true(CreatePipe(&r, &w, NULL, 1u << 20));
    p[0] = r;
    p[1] = w;
}

void bt_close(mapio_fd_t fd)
{
    CloseHandle(fd);
}

int bt_is_open(mapio_fd_t fd)
{
    DWORD flags;
    return GetHandleInformation(fd, &flags) != 0;
}

int64_t bt_write(mapio_fd_t fd, const void *buf, size_t n)
{
    DWORD done = 0;
    return WriteFile(fd, buf, (DWORD)n, &done, NULL) ? (int64_t)done : -1;
}

static mapio_fd_t open_a(const char *path, DWORD access, DWORD disp)
{
    HANDLE h = CreateFileA(path, access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           NULL, disp, FILE_ATTRIBUTE_NORMAL, NULL);
    assert_true(h != INVALID_HANDLE_VALUE);
    return h;
}

mapio_fd_t bt_open_read(const char *path)
{
    return open_a(path, GENERIC_READ, OPEN_EXISTING);
}

mapio_fd_t bt_open_write(const char *path)
{
    return open_a(path, GENERIC_WRITE, CREATE_ALWAYS);
}

const char *bt_make_nonblocking(mapio_fd_t fd)
{
    /* Anonymous pipes are named pipes: PIPE_NOWAIT makes an empty one fail
     * ReadFile with ERROR_NO_DATA at once. */
    DWORD mode = PIPE_READMODE_BYTE | PIPE_NOWAIT;
    return SetNamedPipeHandleState(fd, &mode, NULL, NULL) ? NULL : "SetNamedPipeHandleState failed";
}

void bt_survive_broken_pipes(int on)
{
    (void)on; /* WriteFile just fails: there is no SIGPIPE */
}

const char *bt_interrupts_begin(void)
{
    return "Windows has no signals that interrupt ReadFile (no EINTR; CancelSynchronousIo "
           "cancels, it does not ask for a retry)";
}

void bt_interrupt(pthread_t target)
{
    (void)target;
}

int bt_interrupts_end(void)
{
    return 0;
}
