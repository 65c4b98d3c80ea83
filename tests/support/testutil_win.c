/* tests/support/testutil_win.c - the Windows half of the test helpers: the temporary directory
 * and the OS's own file calls (Win32, so that nothing goes through mapio or the C runtime's
 * text mode). Paths are UTF-8 in the tests; these helpers only ever see ASCII ones. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

/* Windows 10 1703; older SDK headers lack the name. */
#ifndef SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE
#define SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE 0x2
#endif

static char dir_path[MAX_PATH];

static void remove_tree(const char *path)
{
    char pattern[MAX_PATH + 4];
    snprintf(pattern, sizeof pattern, "%s\\*", path);
    WIN32_FIND_DATAA fd;
    HANDLE h = FindFirstFileA(pattern, &fd);
    if (h != INVALID_HANDLE_VALUE) {
        do {
            if (strcmp(fd.cFileName, ".") == 0 || strcmp(fd.cFileName, "..") == 0)
                continue;
            char child[2 * MAX_PATH];
            snprintf(child, sizeof child, "%s\\%s", path, fd.cFileName);
            if ((fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) &&
                !(fd.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT)) {
                remove_tree(child);
            } else {
                SetFileAttributesA(child, FILE_ATTRIBUTE_NORMAL); /* read-only ones too */
                DeleteFileA(child);
            }
        } while (FindNextFileA(h, &fd));
        FindClose(h);
    }
    RemoveDirectoryA(path);
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
    char tmp[MAX_PATH];
    const char *base = getenv("MAPIO_TEST_DIR");
    if (base == NULL) {
        DWORD n = GetTempPathA(sizeof tmp, tmp);
        if (n == 0 || n >= sizeof tmp)
            strcpy(tmp, ".");
        else if (tmp[n - 1] == '\\')
            tmp[n - 1] = '\0';
        base = tmp;
    }
    for (unsigned attempt = 0; attempt < 1000; attempt++) {
        snprintf(dir_path, sizeof dir_path, "%s\\mapio-test-%lu-%u", base,
                 (unsigned long)GetCurrentProcessId(), attempt);
        if (CreateDirectoryA(dir_path, NULL)) {
            atexit(cleanup);
            return dir_path;
        }
    }
    fprintf(stderr, "testutil: cannot create a temporary directory under %s\n", base);
    abort();
}

static HANDLE open_a(const char *path, DWORD access, DWORD disp)
{
    return CreateFileA(path, access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                       disp, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_BACKUP_SEMANTICS, NULL);
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
    if (!GetFileAttributesExA(path, GetFileExInfoStandard, &a))
        return -1;
    return (int64_t)(((uint64_t)a.nFileSizeHigh << 32) | a.nFileSizeLow);
}

int tu_exists(const char *path)
{
    return GetFileAttributesA(path) != INVALID_FILE_ATTRIBUTES;
}

int tu_unlink(const char *path)
{
    return DeleteFileA(path) ? 0 : -1;
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
    DWORD a = GetFileAttributesA(path);
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
    return MoveFileExA(from, to, MOVEFILE_REPLACE_EXISTING) ? 0 : -1;
}

const char *tu_symlink(const char *target, const char *link)
{
    /* Unprivileged symlinks need Windows 10's developer mode; Wine may lack
     * them altogether. The caller then skips the part that needs one. */
    static char why[96];
    if (CreateSymbolicLinkA(link, target, SYMBOLIC_LINK_FLAG_ALLOW_UNPRIVILEGED_CREATE)) {
        DWORD a = GetFileAttributesA(link);
        if (a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_REPARSE_POINT))
            return NULL;
        return "CreateSymbolicLink reported success but made no link (a stub, as in Wine)";
    }
    snprintf(why, sizeof why, "CreateSymbolicLink failed (Windows error %lu)",
             (unsigned long)GetLastError());
    return why;
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
