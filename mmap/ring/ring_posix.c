/*
 * mmap/ring/ring_posix.c - the POSIX half of the rings: the double mapping
 * and the buffered reader's and writer's read(2)/write(2).
 *
 * The shared memory object comes from memfd_create where meson found it
 * (MAPIO_HAVE_MEMFD_CREATE); elsewhere from shm_open(SHM_ANON) where the
 * system has it (FreeBSD), else from shm_open of a random name that is
 * unlinked at once. The -Dportable=true build forces the shm_open path so it
 * is tested on Linux too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mmap/map/map_os.h"
#include "ring_os.h"

/* Largest count handed to one read(2)/write(2) (Linux caps at 0x7ffff000). */
#define RING_IO_CHUNK ((size_t)0x7ffff000)

/* How many random shm names to try before giving up with MAPIO_EEXIST. */
#define SHM_NAME_TRIES 64

size_t mapio__ringos_granularity(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

/*
 * Only a named shm_open object lives on a file system with a size of its own
 * (Linux: the tmpfs on /dev/shm, often small): a page that one cannot give is
 * SIGBUS at the first store, so its pages are reserved at creation and a full
 * one is MAPIO_ENOSPC. Where it cannot reserve nothing is written (fresh =
 * len): some systems cannot write(2) to shared memory at all. A memfd or an
 * SHM_ANON object has no such limit (a page it cannot get is the OOM killer's
 * business, not SIGBUS), and reserving there would commit the whole ring at
 * creation with nothing to stop it short of exhausting memory.
 */
#if MAPIO_HAVE_MEMFD_CREATE || defined(SHM_ANON)
#define RING_RESERVE_PAGES 0
#else
#define RING_RESERVE_PAGES 1
#endif

#if !MAPIO_HAVE_MEMFD_CREATE && !defined(SHM_ANON)
/* A name nobody else is likely to pick: 64 bits from the clock, the pid, a
 * counter and an address, mixed (splitmix64). Kept short: macOS allows 31
 * characters in a shm name. */
static void random_name(char *name, size_t size)
{
    static atomic_uint_fast64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t z = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 40) ^
                 (uint64_t)(uintptr_t)name ^
                 (atomic_fetch_add(&counter, 1) * 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    snprintf(name, size, "/mapio-r%016llx", (unsigned long long)z);
}
#endif

/* A new shared memory object with no name left in any namespace. */
static int open_object(int *out)
{
    int fd, err;
#if MAPIO_HAVE_MEMFD_CREATE
    if ((err = mapio__ringos_injected(1)) != 0)
        return err;
    fd = memfd_create("mapio-ring", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
#elif defined(SHM_ANON)
    if ((err = mapio__ringos_injected(1)) != 0)
        return err;
    fd = shm_open(SHM_ANON, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return -errno;
#else
    char name[32];
    int tries = 0;
    do {
        random_name(name, sizeof name);
        if ((err = mapio__ringos_injected(1)) != 0) { /* per attempt, so EEXIST tests the retry */
            errno = -err;
            fd = -1;
        } else {
            fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
        }
    } while (fd < 0 && (errno == EEXIST || errno == EINTR) && ++tries < SHM_NAME_TRIES);
    if (fd < 0)
        return -errno;
    /* Only the descriptor - and then only the mappings - keep it alive. */
    if (shm_unlink(name) != 0) {
        err = -errno;
        close(fd);
        return err;
    }
    /* shm_open sets FD_CLOEXEC by POSIX; say so anyway for older systems. */
    fcntl(fd, F_SETFD, FD_CLOEXEC);
#endif
    *out = fd;
    return 0;
}

static int map_view(void *at, size_t len, int fd, int step)
{
    int err = mapio__ringos_injected(step);
    if (err != 0)
        return err;
    void *p = mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    return 0;
}

int mapio__ringos_create(size_t len, void **base)
{
    int fd = -1;
    int err = open_object(&fd);
    if (err != 0)
        return err;
    err = mapio__ringos_injected(2);
    if (err == 0) {
        int r;
        do
            r = ftruncate(fd, (off_t)len);
        while (r != 0 && errno == EINTR);
        err = r == 0 ? 0 : -errno;
    }
    /* Reserve both halves at once, inaccessible, so that nothing else can be
     * mapped between the two views; MAP_FIXED then replaces each half. */
    void *p = MAP_FAILED;
    if (err == 0)
        err = mapio__ringos_injected(3);
    if (err == 0) {
        p = mmap(NULL, 2 * len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            err = -errno;
    }
    /* After the address space (a size that cannot be mapped fails there,
     * before any memory is touched), before the views. */
    if (err == 0 && RING_RESERVE_PAGES)
        err = mapio__mapos_reserve(fd, 0, len, len);
    if (err == 0)
        err = map_view(p, len, fd, 4);
    if (err == 0)
        err = map_view((unsigned char *)p + len, len, fd, 5);
    /* The mappings keep the object alive: the descriptor is not needed. */
    close(fd);
    if (err != 0) {
        if (p != MAP_FAILED)
            munmap(p, 2 * len);
        return err;
    }
    *base = p;
    return 0;
}

int mapio__ringos_destroy(void *base, size_t len)
{
    return munmap(base, 2 * len) == 0 ? 0 : -errno;
}

/* ---- buffered reader / writer I/O -------------------------------------- */

static int64_t os_read(mapio_fd_t fd, void *buf, size_t n)
{
    ssize_t r = read(fd, buf, MAPIO__MIN(n, RING_IO_CHUNK));
    return r < 0 ? -errno : (int64_t)r;
}

static int64_t os_write(mapio_fd_t fd, const void *buf, size_t n)
{
    ssize_t r = write(fd, buf, MAPIO__MIN(n, RING_IO_CHUNK));
    return r < 0 ? -errno : (int64_t)r;
}

const struct mapio__ringos_io mapio__ringos_io_default = {
    .read = os_read,
    .write = os_write,
};

struct mapio__ringos_io mapio__ringos_io = {
    .read = os_read,
    .write = os_write,
};
