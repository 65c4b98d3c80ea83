/* tests/support/testutil_win.c - the Windows half of the test helpers: the temporary directory
 * and the OS's own file calls (Win32, so that nothing goes through mapio or the C runtime's
 * text mode). Paths are UTF-8, as in mapio's API: the helpers convert them and call the W
 * functions, so a test can check what name mapio really gave a file. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

/* Windows 10 1703; older SDK headers lack the name. */
#ifndef SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE
#define SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE 0x2
#endif

static char dir_path[4 * MAX_PATH];

/* A UTF-8 path as UTF-16 (malloc'd), or NULL. */
static wchar_t *wide(const char *utf8)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, NULL, 0);
    wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
    if (w != NULL)
        MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, w, n);
    return w;
}

static void remove_tree_w(const wchar_t *path)
{
    wchar_t pattern[2 * MAX_PATH];
    _snwprintf(pattern, 2 * MAX_PATH, L"%ls\\*", path);
    WIN32_FIND_DATAW fd;
    HANDLE h = FindFirstFileW(pattern, &fd);
    if (h != INVALID_HANDLE_VALUE) {
        do {
            if (wcscmp(fd.cFileName, L".") == 0 || wcscmp(fd.cFileName, L"..") == 0)
                continue;
            wchar_t child[2 * MAX_PATH];
            _snwprintf(child, 2 * MAX_PATH, L"%ls\\%ls", path, fd.cFileName);
            if ((fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) &&
                !(fd.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT)) {
                remove_tree_w(child);
            } else {
                SetFileAttributesW(child, FILE_ATTRIBUTE_NORMAL); /* read-only ones too */
                DeleteFileW(child);
            }
        } while (FindNextFileW(h, &fd));
        FindClose(h);
    }
    RemoveDirectoryW(path);
}

static void remove_tree(const char *path)
{
    wchar_t *w = wide(path);
    if (w != NULL)
        remove_tree_w(w);
    free(w);
}

static void cleanup(void)
{
    if (dir_path[0] != '\0' && getenv("MAPIO_TEST_KEEP") == NULL)
        remove_tree(dir_path);
}

const char *tu_dir(void)
{
    if (dir_path[0] != '\0')
        return dir_path;
    char tmp[3 * MAX_PATH];
    const char *base = getenv("MAPIO_TEST_DIR");
    if (base == NULL) {
        /* As UTF-8, like every path the tests hand around. */
        wchar_t w[MAX_PATH + 1];
        DWORD n = GetTempPathW(MAX_PATH + 1, w);
        if (n > 0 && n <= MAX_PATH && w[n - 1] == L'\\')
            w[n - 1] = L'\0';
        if (n == 0 || n > MAX_PATH ||
            WideCharToMultiByte(CP_UTF8, 0, w, -1, tmp, sizeof tmp, NULL, NULL) == 0)
            strcpy(tmp, ".");
        base = tmp;
    }
    for (unsigned attempt = 0; attempt < 1000; attempt++) {
        snprintf(dir_path, sizeof dir_path, "%s\\mapio-test-%lu-%u", base,
                 (unsigned long)GetCurrentProcessId(), attempt);
        wchar_t *w = wide(dir_path);
        BOOL made = w != NULL && CreateDirectoryW(w, NULL);
        free(w);
        if (made) {
            atexit(cleanup);
            return dir_path;
        }
    }
    fprintf(stderr, "testutil: cannot create a temporary directory under %s\n", base);
    abort();
}

static HANDLE open_a(const char *path, DWORD access, DWORD disp)
{
    wchar_t *w = wide(path);
    HANDLE h =
        w == NULL
            ? INVALID_HANDLE_VALUE
            : CreateFileW(w, access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                          disp, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_BACKUP_SEMANTICS, NULL);
    free(w);
    return h;
}

/* GetFileAttributesW of a UTF-8 path. */
static DWORD attributes(const char *path)
{
    wchar_t *w = wide(path);
    DWORD a = w != NULL ? GetFileAttributesW(w) : INVALID_FILE_ATTRIBUTES;
    free(w);
    return a;
}

int tu_write_file(const char *path, const void *data, size_t n)
{
    HANDLE h = open_a(path, GENERIC_WRITE, CREATE_ALWAYS);
    if (h == INVALID_HANDLE_VALUE)
        return -1;
    DWORD w = 0;
    BOOL ok = WriteFile(h, data, (DWORD)n, &w, NULL) && w == n;
    return CloseHandle(h) && ok ? 0 : -1;
}

int64_t tu_read_file_at(const char *path, void *buf, size_t n, uint64_t off)
{
    HANDLE h = open_a(path, GENERIC_READ, OPEN_EXISTING);
    if (h == INVALID_HANDLE_VALUE)
        return -1;
    OVERLAPPED ov = { .Offset = (DWORD)off, .OffsetHigh = (DWORD)(off >> 32) };
    DWORD r = 0;
    BOOL ok = ReadFile(h, buf, (DWORD)n, &r, &ov);
    if (!ok && GetLastError() == ERROR_HANDLE_EOF) {
        ok = TRUE;
        r = 0;
    }
    CloseHandle(h);
    return ok ? (int64_t)r : -1;
}

int64_t tu_file_size(const char *path)
{
    WIN32_FILE_ATTRIBUTE_DATA a;
    wchar_t *w = wide(path);
    BOOL ok = w != NULL && GetFileAttributesExW(w, GetFileExInfoStandard, &a);
    free(w);
    if (!ok)
        return -1;
    return (int64_t)(((uint64_t)a.nFileSizeHigh << 32) | a.nFileSizeLow);
}

int tu_exists(const char *path)
{
    return attributes(path) != INVALID_FILE_ATTRIBUTES;
}

int tu_unlink(const char *path)
{
    wchar_t *w = wide(path);
    BOOL ok = w != NULL && DeleteFileW(w);
    free(w);
    return ok ? 0 : -1;
}

int tu_identity(const char *path, uint64_t *dev, uint64_t *ino)
{
    HANDLE h = open_a(path, FILE_READ_ATTRIBUTES, OPEN_EXISTING);
    if (h == INVALID_HANDLE_VALUE)
        return -1;
    BY_HANDLE_FILE_INFORMATION fi;
    BOOL ok = GetFileInformationByHandle(h, &fi);
    CloseHandle(h);
    if (!ok)
        return -1;
    *dev = fi.dwVolumeSerialNumber;
    *ino = ((uint64_t)fi.nFileIndexHigh << 32) | fi.nFileIndexLow;
    return 0;
}

int tu_file_perm(const char *path)
{
    DWORD a = attributes(path);
    if (a == INVALID_FILE_ATTRIBUTES)
        return -1;
    return (a & FILE_ATTRIBUTE_READONLY) ? 0444 : 0644;
}

unsigned tu_perm_kept(unsigned mode)
{
    /* Windows keeps one bit: the read-only attribute. */
    return (mode & 0200) ? 0644 : 0444;
}

int tu_rename_over(const char *from, const char *to)
{
    wchar_t *wf = wide(from), *wt = wide(to);
    BOOL ok = wf != NULL && wt != NULL && MoveFileExW(wf, wt, MOVEFILE_REPLACE_EXISTING);
    free(wf);
    free(wt);
    return ok ? 0 : -1;
}

const char *tu_symlink(const char *target, const char *link)
{
    /* Unprivileged symlinks need Windows 10's developer mode; Wine may lack
     * them altogether. The caller then skips the part that needs one. */
    static char why[96];
    wchar_t *wl = wide(link), *wt = wide(target);
    BOOL made = wl != NULL && wt != NULL &&
                CreateSymbolicLinkW(wl, wt, SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE);
    free(wl);
    free(wt);
    if (made) {
        DWORD a = attributes(link);
        if (a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_REPARSE_POINT))
            return NULL;
        return "CreateSymbolicLink reported success but made no link (a stub, as in Wine)";
    }
    snprintf(why, sizeof why, "CreateSymbolicLink failed (Windows error %lu)",
             (unsigned long)GetLastError());
    return why;
}

const char *tu_no_rename_exchange(void)
{
    /* MoveFileEx and FileRenameInformation move one name; nothing swaps two. */
    return "Windows has no atomic exchange of two names";
}

long long tu_write_syscalls(void)
{
    return -1; /* no such counter (under Wine /proc/self/io counts Wine's own calls) */
}

int tu_poll_readable(int fd, int timeout_ms)
{
    (void)fd;
    (void)timeout_ms;
    return -1; /* no pollable descriptors here (the IOCP backend has none) */
}

int tu_mkdir(const char *path)
{
    wchar_t *w = wide(path);
    BOOL ok = w != NULL && CreateDirectoryW(w, NULL);
    free(w);
    return ok ? 0 : -1;
}

int tu_is_dir(const char *path)
{
    DWORD a = attributes(path);
    return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY);
}

const char *tu_other_fs_dir(void)
{
    return NULL; /* no second volume to count on */
}

int tu_open_fd(const char *path, int read_only, mapio_fd_t *out)
{
    wchar_t *w = wide(path);
    HANDLE h = w == NULL ? INVALID_HANDLE_VALUE
                         : CreateFileW(w, read_only ? GENERIC_READ : GENERIC_READ | GENERIC_WRITE,
                                       FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                                       read_only ? OPEN_EXISTING : OPEN_ALWAYS,
                                       FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED, NULL);
    free(w);
    if (h == INVALID_HANDLE_VALUE)
        return -1;
    *out = h;
    return 0;
}

const char *tu_no_names_in_moved_dir(void)
{
    /* Windows renames and deletes through the handles' file objects; Wine
     * by the Unix path each handle was opened at, which the move left
     * behind (opens relative to the directory do work: openat). */
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    if (ntdll != NULL && GetProcAddress(ntdll, "wine_get_version") != NULL)
        return "Wine renames and deletes by the path a directory was opened at, not by its "
               "handle";
    return NULL;
}

const char *tu_open_fd_unusable(const char *path, mapio_fd_t *out)
{
    wchar_t *w = wide(path);
    HANDLE h = w == NULL ? INVALID_HANDLE_VALUE
                         : CreateFileW(w, GENERIC_READ | GENERIC_WRITE,
                                       FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                                       OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    free(w);
    if (h == INVALID_HANDLE_VALUE)
        return "CreateFileW failed";
    *out = h; /* synchronous: no FILE_FLAG_OVERLAPPED */
    return NULL;
}

int tu_fd_is_open(mapio_fd_t fd)
{
    DWORD flags;
    return GetHandleInformation(fd, &flags) != 0;
}

void tu_close_fd(mapio_fd_t fd)
{
    CloseHandle(fd);
}

mapio_fd_t tu_bad_fd(void)
{
    return (mapio_fd_t)(intptr_t)0x7ffffff0; /* a multiple of 4 no table holds */
}

uint64_t tu_now_ns(void)
{
    LARGE_INTEGER f, c;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    return (uint64_t)((double)c.QuadPart * 1e9 / (double)f.QuadPart);
}

void tu_sleep_ms(unsigned ms)
{
    Sleep(ms);
}

long long tu_dirty_pages(const char *path)
{
    (void)path;
    return -1; /* no such question to ask */
}
