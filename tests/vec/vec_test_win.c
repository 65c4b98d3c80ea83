/* tests/vec/vec_test_win.c - the Windows half of vec_test_os.h: Win32 calls straight, so the
 * tests see what Windows did, not what mapio says it did. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>
#include <psapi.h>

#include "vec_test_os.h"
#include "mapio/vec.h"

void vt_init(void) {}

double vt_now(void)
{
    LARGE_INTEGER t, f;
    QueryPerformanceCounter(&t);
    QueryPerformanceFrequency(&f);
    return (double)t.QuadPart / (double)f.QuadPart;
}

int vt_mkdir(const char *path)
{
    /* The new directory inherits the ACL of the per-user test directory. */
    return CreateDirectoryA(path, NULL) ? 0 : -1;
}

/* A name whose file is waiting for its last handle to close: Windows then
 * refuses every open (STATUS_DELETE_PENDING, reported as access denied). */
static int delete_pending(const char *path)
{
    HANDLE h = CreateFileA(
        path, FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
        OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
    if (h != INVALID_HANDLE_VALUE) {
        CloseHandle(h);
        return 0;
    }
    DWORD e = GetLastError();
    return e == ERROR_ACCESS_DENIED || e == ERROR_DELETE_PENDING;
}

int vt_entries(const char *dir, int live)
{
    char pattern[MAX_PATH + 4];
    snprintf(pattern, sizeof pattern, "%s\\*", dir);
    WIN32_FIND_DATAA fd;
    HANDLE h = FindFirstFileA(pattern, &fd);
    if (h == INVALID_HANDLE_VALUE)
        return -1;
    int n = 0;
    do {
        if (strcmp(fd.cFileName, ".") == 0 || strcmp(fd.cFileName, "..") == 0)
            continue;
        char child[2 * MAX_PATH];
        snprintf(child, sizeof child, "%s\\%s", dir, fd.cFileName);
        n += !(live && delete_pending(child));
    } while (FindNextFileA(h, &fd));
    FindClose(h);
    return n;
}

int64_t vt_allocated(const char *path)
{
    HANDLE h = CreateFileA(path, FILE_READ_ATTRIBUTES,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                           OPEN_EXISTING, 0, NULL);
    if (h == INVALID_HANDLE_VALUE)
        return -1;
    FILE_STANDARD_INFO si;
    BOOL ok = GetFileInformationByHandleEx(h, FileStandardInfo, &si, sizeof si);
    CloseHandle(h);
    return ok ? (int64_t)si.AllocationSize.QuadPart : -1;
}

const char *vt_growth_unallocated(void)
{
    /* NTFS allocates a file's clusters when its end of file is set; Wine
     * sets it with ftruncate, which leaves the Linux file sparse. */
    HMODULE ntdll = GetModuleHandleA("ntdll.dll");
    if (ntdll != NULL && GetProcAddress(ntdll, "wine_get_version") != NULL)
        return "Wine leaves a grown file sparse (ftruncate); NTFS allocates it";
    return NULL;
}

const char *vt_private_dir(const char *path)
{
    /* No mode bits: a directory made in %LOCALAPPDATA% inherits its
     * per-user ACL, which is what makes it private. */
    DWORD a = GetFileAttributesA(path);
    return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY) ? NULL
                                                                          : "not a directory";
}

const char *const vt_cache_env = "LOCALAPPDATA", *const vt_temp_env = "TMP";

char *vt_cache_subdir(const char *cache)
{
    size_t n = strlen(cache) + 8;
    char *p = malloc(n);
    snprintf(p, n, "%s\\mapio", cache);
    return p;
}

char *vt_temp_default(void)
{
    char buf[MAX_PATH + 1];
    DWORD n = GetTempPathA(sizeof buf, buf);
    if (n == 0 || n >= sizeof buf)
        return NULL;
    if (n > 3 && buf[n - 1] == '\\')
        buf[n - 1] = '\0';
    return _strdup(buf);
}

char *vt_getenv(const char *name)
{
    char buf[2 * MAX_PATH];
    DWORD n = GetEnvironmentVariableA(name, buf, sizeof buf);
    return n > 0 && n < sizeof buf ? _strdup(buf) : NULL;
}

int vt_setenv(const char *name, const char *value)
{
    return SetEnvironmentVariableA(name, value) ? 0 : -1;
}

int vt_open_as_deleted(const char *path, const char **why)
{
    (void)path;
    *why = "Windows has no /proc/self/fd; the name's absence is checked instead";
    return -1;
}

int vt_segment_maps(const char **why)
{
    *why = "Windows has no /proc/self/maps; the statistics alone are checked";
    return -1;
}

const int vt_mapped_files_deletable = 0;

const int vt_mapped_files_cuttable = 0, vt_under_file_err = MAPIO_ENOENT;

int vt_unmap(void *p, size_t len)
{
    (void)len; /* a view goes whole */
    return UnmapViewOfFile(p) ? 0 : -1;
}

int vt_file_limit_on(uint64_t limit, const char **why)
{
    (void)limit;
    *why = "Windows has no per-process file size limit (RLIMIT_FSIZE) to make a growth fail; "
           "the injected failures cover it";
    return -1;
}

void vt_file_limit_off(void) {}

static int memory(PROCESS_MEMORY_COUNTERS *pmc)
{
    return GetProcessMemoryInfo(GetCurrentProcess(), pmc, sizeof *pmc) ? 0 : -1;
}

int64_t vt_resident(void)
{
    PROCESS_MEMORY_COUNTERS pmc;
    return memory(&pmc) == 0 ? (int64_t)pmc.WorkingSetSize : -1;
}

int64_t vt_resident_peak(void)
{
    PROCESS_MEMORY_COUNTERS pmc;
    return memory(&pmc) == 0 ? (int64_t)pmc.PeakWorkingSetSize : -1;
}

int64_t vt_resident_file(const char **why)
{
    *why = "Windows reports no file-backed share of the working set";
    return -1;
}

const char *vt_eviction_unresident(void)
{
    /* Windows takes unlocked pages out of the working set (the eviction's
     * VirtualUnlock); Wine keeps every page of a view resident. */
    HMODULE ntdll = GetModuleHandleA("ntdll.dll");
    if (ntdll != NULL && GetProcAddress(ntdll, "wine_get_version") != NULL)
        return "Wine keeps a view's pages in the working set after an eviction";
    return NULL;
}

uint64_t vt_big_default_mib(const char **why)
{
    *why = NULL;
    return 1024;
}
