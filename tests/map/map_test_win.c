/* tests/map/map_test_win.c - child processes for map_test.c: Windows has no fork(), so the test
 * program starts itself again with MT_CHILD_ARG and the file's path. */
#include <stdio.h>
#include <windows.h>

#include "map_test_os.h"

int mt_store_faults(mapio_map_t *m, const char *path)
{
    (void)m; /* the child maps the same file afresh */
    char exe[MAX_PATH], cmd[3 * MAX_PATH];
    DWORD n = GetModuleFileNameA(NULL, exe, sizeof exe);
    if (n == 0 || n >= sizeof exe)
        return 0;
    snprintf(cmd, sizeof cmd, "\"%s\" %s \"%s\"", exe, MT_CHILD_ARG, path);
    STARTUPINFOA si = { .cb = sizeof si };
    PROCESS_INFORMATION pi;
    fflush(NULL);
    if (!CreateProcessA(exe, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi))
        return 0;
    WaitForSingleObject(pi.hProcess, 60000);
    DWORD code = 0;
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
    return code == (DWORD)EXCEPTION_ACCESS_VIOLATION;
}

/* End the child with the exception's code at once: no error box, no debugger. */
static LONG CALLBACK die_of_it(EXCEPTION_POINTERS *e)
{
    if (e->ExceptionRecord->ExceptionCode == EXCEPTION_ACCESS_VIOLATION)
        TerminateProcess(GetCurrentProcess(), (UINT)EXCEPTION_ACCESS_VIOLATION);
    return EXCEPTION_CONTINUE_SEARCH;
}

int mt_child_store_into_frozen(const char *path)
{
    SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
    AddVectoredExceptionHandler(1, die_of_it);
    mapio_map_t *m;
    if (mapio_map_new(&m, path, &(mapio_map_opts_t){ .kind = MAPIO_MAP_READ_WRITE }) != 0 ||
        mapio_map_freeze(m) != 0)
        return 2;
    *(volatile unsigned char *)mapio_map_ptr(m, 0) = 1;
    return 0;
}

int mt_with_file_size_limit(int (*fn)(mapio_map_t *), mapio_map_t *m, uint64_t limit,
                            const char **why)
{
    (void)fn;
    (void)m;
    (void)limit;
    *why = "Windows has no per-process file size limit (RLIMIT_FSIZE) to make a resize fail";
    return -1;
}
