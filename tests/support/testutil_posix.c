/* tests/support/testutil_posix.c - the POSIX half of the test helpers: the temporary directory and
 * the OS's own file calls. */
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#if defined(__linux__)
#include <sys/vfs.h>
#endif
#include <time.h>
#include <unistd.h>

static char dir_path[512];

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        remove(path);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[1024];
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        struct stat st;
        if (stat(child, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(child);
        else
            remove(child);
    }
    closedir(d);
    rmdir(path);
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
    const char *base = getenv("MAPIO_TEST_DIR");
    if (base == NULL)
        base = getenv("TMPDIR");
    if (base == NULL)
        base = "/tmp";
    for (unsigned attempt = 0; attempt < 1000; attempt++) {
        snprintf(dir_path, sizeof dir_path, "%s/mapio-test-%ld-%u", base, (long)getpid(), attempt);
        if (mkdir(dir_path, 0700) == 0) {
            atexit(cleanup);
            return dir_path;
        }
    }
    fprintf(stderr, "testutil: cannot create a temporary directory under %s\n", base);
    abort();
}

int tu_write_file(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int ok = write(fd, data, n) == (ssize_t)n;
    return close(fd) == 0 && ok ? 0 : -1;
}

int64_t tu_read_file_at(const char *path, void *buf, size_t n, uint64_t off)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t r = pread(fd, buf, n, (off_t)off);
    close(fd);
    return r;
}

int64_t tu_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

int tu_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

int tu_unlink(const char *path)
{
    return unlink(path);
}

int tu_identity(const char *path, uint64_t *dev, uint64_t *ino)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    *dev = (uint64_t)st.st_dev;
    *ino = (uint64_t)st.st_ino;
    return 0;
}

int tu_file_perm(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int)(st.st_mode & 0777) : -1;
}

unsigned tu_perm_kept(unsigned mode)
{
    return mode & 0777;
}

int tu_rename_over(const char *from, const char *to)
{
    return rename(from, to);
}

const char *tu_symlink(const char *target, const char *link)
{
    return symlink(target, link) == 0 ? NULL : "symlink(2) failed";
}

const char *tu_no_rename_exchange(void)
{
    return NULL; /* renameat2 has both flags, or neither (then NOREPLACE says so) */
}

long long tu_write_syscalls(void)
{
    FILE *fp = fopen("/proc/self/io", "r");
    if (fp == NULL)
        return -1;
    char line[128];
    long long v = -1;
    while (fgets(line, sizeof line, fp) != NULL)
        if (sscanf(line, "syscw: %lld", &v) == 1)
            break;
    fclose(fp);
    return v;
}

int tu_poll_readable(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, timeout_ms);
}

int tu_mkdir(const char *path)
{
    return mkdir(path, 0700) == 0 ? 0 : -1;
}

int tu_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *tu_other_fs_dir(void)
{
    /* tmpfs, where Linux has one; the test directory is rarely there. */
    static const char *const candidates[] = { "/dev/shm" };
    struct stat here, there;
    if (stat(tu_dir(), &here) != 0)
        return NULL;
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        if (stat(candidates[i], &there) == 0 && S_ISDIR(there.st_mode) &&
            there.st_dev != here.st_dev && access(candidates[i], W_OK) == 0)
            return candidates[i];
    }
    return NULL;
}

int tu_open_fd(const char *path, int read_only, mapio_fd_t *out)
{
    int fd = open(path, read_only ? O_RDONLY | O_CLOEXEC : O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    *out = fd;
    return 0;
}

const char *tu_no_names_in_moved_dir(void)
{
    return NULL; /* the *at calls resolve against the directory's inode */
}

const char *tu_open_fd_unusable(const char *path, mapio_fd_t *out)
{
    (void)path;
    (void)out;
    return "every open descriptor can be adopted here (its calls say what it cannot do)";
}

int tu_fd_is_open(mapio_fd_t fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

void tu_close_fd(mapio_fd_t fd)
{
    close(fd);
}

mapio_fd_t tu_bad_fd(void)
{
    return 1 << 30; /* above any RLIMIT_NOFILE */
}

uint64_t tu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void tu_sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

long long tu_dirty_pages(const char *path)
{
#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
    /* cachestat(2), Linux 6.5: number 451 on both; not in every libc's
     * headers yet. */
    struct {
        uint64_t off, len;
    } range = { 0, 0 };
    struct {
        uint64_t cache, dirty, writeback, evicted, recently_evicted;
    } cs;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    /* tmpfs and ramfs have no disk to write back to: their pages stay
     * dirty whatever is synced, so the count tells nothing there. */
    struct statfs sf;
    unsigned long type = fstatfs(fd, &sf) == 0 ? (unsigned long)sf.f_type : 0;
    if (type == 0 || type == 0x01021994UL /* TMPFS_MAGIC */ || type == 0x858458f6UL /* RAMFS */) {
        close(fd);
        return -1;
    }
    long r = syscall(451, fd, &range, &cs, 0);
    close(fd);
    return r == 0 ? (long long)(cs.dirty + cs.writeback) : -1;
#else
    (void)path;
    return -1;
#endif
}
