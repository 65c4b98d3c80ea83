/* tests/map/enospc_test_win.c - Windows has no small file system to mount
 * on the fly: enospc_test.c skips. */
#include "enospc_test_os.h"

const char *et_isolate(void)
{
    return "no private mount namespace on Windows";
}

const char *et_mount_small(const char *dir, unsigned kib)
{
    (void)dir;
    (void)kib;
    return "no small file system can be mounted on the fly on Windows";
}

void et_unmount(const char *dir, int mounted)
{
    (void)dir;
    (void)mounted;
}

const char *et_mount_shm(unsigned kib)
{
    (void)kib;
    return "rings are backed by the paging file on Windows";
}

const char *et_shm_dir(void)
{
    return "";
}

void et_unmount_shm(void) {}

int et_entries(const char *dir)
{
    (void)dir;
    return -1;
}

int64_t et_free_bytes(const char *path)
{
    (void)path;
    return -1;
}

int et_make_sparse(const char *path, uint64_t size)
{
    (void)path;
    (void)size;
    return -1;
}
