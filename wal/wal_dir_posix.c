/* wal/wal_dir_posix.c - the log's directory listing and yield, POSIX. */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "wal_log.h"

int mapio__wal_list_dir(const char *path, int (*each)(void *ctx, const char *name), void *ctx)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return -errno;
    int err = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (de == NULL) {
            err = -errno;
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if ((err = each(ctx, de->d_name)) != 0)
            break;
    }
    closedir(d);
    return err;
}

void mapio__wal_yield(void)
{
    sched_yield();
}
