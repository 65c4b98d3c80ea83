/* tests/engine/crash_win.c - crash.c's committer child on Windows: no fork(), so the test program
 * starts again with CT_CHILD_ARG and a pipe as its standard output, and TerminateProcess plays
 * SIGKILL. */
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <windows.h>

#include "crash_os.h"

/* The exit code TerminateProcess gives the child: SIGKILL's 128 + 9. */
#define KILLED 137

struct ct_child {
    HANDLE proc;
    HANDLE rd;
};

ct_child_t *ct_start(const char *path, void (*body)(const char *path, int fd))
{
    (void)body; /* the child runs it from main(), see CT_CHILD_ARG */
    char exe[MAX_PATH], cmd[3 * MAX_PATH];
    DWORD n = GetModuleFileNameA(NULL, exe, sizeof exe);
    if (n == 0 || n >= sizeof exe)
        return NULL;
    snprintf(cmd, sizeof cmd, "\"%s\" %s \"%s\"", exe, CT_CHILD_ARG, path);
    SECURITY_ATTRIBUTES sa = { .nLength = sizeof sa, .bInheritHandle = TRUE };
    HANDLE rd, wr;
    if (!CreatePipe(&rd, &wr, &sa, 1 << 16))
        return NULL;
    SetHandleInformation(rd, HANDLE_FLAG_INHERIT, 0); /* only the write end goes over */
    STARTUPINFOA si = { .cb = sizeof si, .dwFlags = STARTF_USESTDHANDLES };
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = wr;
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    PROCESS_INFORMATION pi;
    fflush(NULL);
    BOOL ok = CreateProcessA(exe, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi);
    CloseHandle(wr); /* the child's copy is the only one left: its death ends the pipe */
    ct_child_t *c = ok ? malloc(sizeof *c) : NULL;
    if (c == NULL) {
        if (ok) {
            TerminateProcess(pi.hProcess, KILLED);
            CloseHandle(pi.hProcess);
            CloseHandle(pi.hThread);
        }
        CloseHandle(rd);
        return NULL;
    }
    CloseHandle(pi.hThread);
    c->proc = pi.hProcess;
    c->rd = rd;
    return c;
}

int ct_read(ct_child_t *c, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        DWORD r = 0;
        if (!ReadFile(c->rd, (char *)buf + got, (DWORD)(n - got), &r, NULL) || r == 0)
            return 0; /* ERROR_BROKEN_PIPE: the child is gone */
        got += r;
    }
    return 1;
}

int ct_kill(ct_child_t *c)
{
    return TerminateProcess(c->proc, KILLED) ? 0 : -1;
}

int ct_reaped_killed(ct_child_t *c)
{
    DWORD code = 0;
    WaitForSingleObject(c->proc, 60000);
    int ok = GetExitCodeProcess(c->proc, &code) && code == KILLED;
    CloseHandle(c->proc);
    CloseHandle(c->rd);
    free(c);
    return ok;
}

int ct_child_fd(void)
{
    _setmode(1, _O_BINARY); /* acknowledgements are binary records */
    return 1;
}

int ct_write(int fd, const void *buf, size_t n)
{
    return _write(fd, buf, (unsigned)n) == (int)n ? 0 : -1;
}
