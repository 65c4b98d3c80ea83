/* wal/wal_dir_win.c - the log's directory listing and yield, Windows. */
#include <string.h>

#include "engine/os_win.h"
#include "wal_log.h"

int mapio__wal_list_dir(const char *path, int (*each)(void *ctx, const char *name), void *ctx)
{
    size_t n = strlen(path);
    char *pat = mapio__malloc(n + 3);
    if (pat == NULL)
        return MAPIO_ENOMEM;
    memcpy(pat, path, n);
    memcpy(pat + n, "\\*", 3);
    wchar_t *w;
    int err = mapio__win_path(pat, &w);
    mapio__free(pat);
    if (err != 0)
        return err;
    WIN32_FIND_DATAW fd;
    HANDLE h = FindFirstFileW(w, &fd);
    mapio__free(w);
    if (h == INVALID_HANDLE_VALUE)
        return GetLastError() == ERROR_FILE_NOT_FOUND ? 0 : mapio__win_last();
    do {
        char name[4 * MAX_PATH];
        if (WideCharToMultiByte(CP_UTF8, 0, fd.cFileName, -1, name, (int)sizeof name, NULL, NULL) <=
            0)
            continue; /* not a name the log writes */
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        if ((err = each(ctx, name)) != 0)
            break;
    } while (FindNextFileW(h, &fd));
    if (err == 0 && GetLastError() != ERROR_NO_MORE_FILES)
        err = mapio__win_last();
    FindClose(h);
    return err;
}

void mapio__wal_yield(void)
{
    SwitchToThread();
}
