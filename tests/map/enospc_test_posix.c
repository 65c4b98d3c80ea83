/*
 * tests/map/enospc_test_posix.c - a 1 MiB tmpfs for enospc_test.c, mounted
 * where no other process can see it: in a mount namespace of the test
 * process's own (Linux: unshare(CLONE_NEWNS), every mount made private
 * first). The namespace dies with the process, crash or not, so nothing is
 * ever mounted in, or unmounted from, the namespace the machine runs in.
 * Where the system has no such namespaces (ET_HAVE_PRIVATE_MOUNTS 0, found by
 * meson: the BSDs, macOS) every test skips: mounting in the shared namespace
 * is what this file exists to avoid.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#if ET_HAVE_PRIVATE_MOUNTS
#include <sched.h>
#include <sys/mount.h>
#endif

#include "engine/common.h" /* mapio_config.h: how this build makes rings */
#include "enospc_test_os.h"

static char why[512];
/* Why et_mount_small must not mount: NULL once et_isolate succeeded. */
static const char *not_isolated = "et_isolate was not called";

const char *et_isolate(void)
{
#if ET_HAVE_PRIVATE_MOUNTS
    if (unshare(CLONE_NEWNS) != 0) {
        snprintf(why, sizeof why, "unshare(CLONE_NEWNS): %s (needs root or CAP_SYS_ADMIN)",
                 strerror(errno));
        return not_isolated = why;
    }
    /* A copied namespace keeps the propagation of the original: a mount
     * under a shared mount point would appear in the machine's namespace
     * too. Made private, nothing crosses either way. Without that, mount
     * nothing. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        snprintf(why, sizeof why, "making the mounts private: %s", strerror(errno));
        return not_isolated = why;
    }
    return not_isolated = NULL;
#else
    return not_isolated =
               "no private mount namespace on this system: nothing is mounted in the shared one";
#endif
}

const char *et_mount_small(const char *dir, unsigned kib)
{
    if (not_isolated != NULL)
        return not_isolated;
#if ET_HAVE_PRIVATE_MOUNTS
    if (mkdir(dir, 0700) != 0) {
        snprintf(why, sizeof why, "mkdir %s: %s", dir, strerror(errno));
        return why;
    }
    char opts[64];
    snprintf(opts, sizeof opts, "size=%uk,mode=0700", kib);
    if (mount("mapio-enospc", dir, "tmpfs", 0, opts) != 0) {
        snprintf(why, sizeof why, "mount tmpfs on %s: %s", dir, strerror(errno));
        rmdir(dir);
        return why;
    }
    return NULL;
#else
    (void)dir;
    (void)kib;
    return not_isolated;
#endif
}

void et_unmount(const char *dir, int mounted)
{
#if ET_HAVE_PRIVATE_MOUNTS
    /* Only ever in the private namespace, and never lazily or by force: if
     * something still holds the file system (a test that failed with a map
     * open) it stays mounted until the process exits. */
    if (mounted && not_isolated == NULL && umount2(dir, 0) != 0) {
        fprintf(stderr, "enospc_test: %s stays mounted until exit: %s\n", dir, strerror(errno));
        return;
    }
#else
    (void)mounted;
#endif
    rmdir(dir);
}

static int shm_mounted;

const char *et_mount_shm(unsigned kib)
{
#if MAPIO_HAVE_MEMFD_CREATE || defined(SHM_ANON)
    (void)kib;
    return "this build's rings use memfd_create or SHM_ANON: their memory is on no "
           "file system that can be filled (the -Dportable=true build tests this)";
#elif ET_HAVE_PRIVATE_MOUNTS
    if (not_isolated != NULL)
        return not_isolated;
    /* Over the machine's /dev/shm, but only in this process's namespace:
     * no other process sees the small one, and its own stays untouched. */
    char opts[64];
    snprintf(opts, sizeof opts, "size=%uk,mode=01777", kib);
    if (mount("mapio-enospc-shm", "/dev/shm", "tmpfs", 0, opts) != 0) {
        snprintf(why, sizeof why, "mount tmpfs on /dev/shm: %s", strerror(errno));
        return why;
    }
    shm_mounted = 1;
    return NULL;
#else
    (void)kib;
    return not_isolated;
#endif
}

const char *et_shm_dir(void)
{
    return "/dev/shm";
}

void et_unmount_shm(void)
{
#if ET_HAVE_PRIVATE_MOUNTS
    /* As et_unmount: the private namespace only, never lazily or by force. */
    if (shm_mounted && not_isolated == NULL && umount2("/dev/shm", 0) != 0)
        fprintf(stderr, "enospc_test: /dev/shm stays small until exit: %s\n", strerror(errno));
#endif
    shm_mounted = 0;
}

int et_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

int64_t et_free_bytes(const char *path)
{
    struct statvfs s;
    if (statvfs(path, &s) != 0)
        return -1;
    return (int64_t)s.f_bavail * (int64_t)s.f_frsize;
}

int et_make_sparse(const char *path, uint64_t size)
{
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int ok = ftruncate(fd, (off_t)size) == 0;
    return close(fd) == 0 && ok ? 0 : -1;
}
