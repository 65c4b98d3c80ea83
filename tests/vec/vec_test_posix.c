/* tests/vec/vec_test_posix.c - the POSIX half of vec_test_os.h: /proc for what the kernel
 * says about this process, RLIMIT_FSIZE for a real failed growth. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vec_test_os.h"
#include "mapio/vec.h"

void vt_init(void)
{
    umask(022);
}

double vt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int vt_mkdir(const char *path)
{
    return mkdir(path, 0700);
}

int vt_entries(const char *dir, int live)
{
    (void)live; /* an unlinked file has no name left here */
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

int64_t vt_allocated(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_blocks * 512 : -1;
}

const char *vt_growth_unallocated(void)
{
    return NULL;
}

const char *vt_private_dir(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return "not a directory";
    return (st.st_mode & 0777) == 0700 ? NULL : "mode is not 0700";
}

const char *const vt_cache_env = "XDG_CACHE_HOME", *const vt_temp_env = "TMPDIR";

char *vt_cache_subdir(const char *cache)
{
    size_t n = strlen(cache) + 8;
    char *p = malloc(n);
    snprintf(p, n, "%s/mapio", cache);
    return p;
}

char *vt_temp_default(void)
{
    return strdup("/tmp");
}

char *vt_getenv(const char *name)
{
    const char *v = getenv(name);
    return v != NULL ? strdup(v) : NULL;
}

int vt_setenv(const char *name, const char *value)
{
    return value != NULL ? setenv(name, value, 1) : unsetenv(name);
}

int vt_open_as_deleted(const char *path, const char **why)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) {
        *why = "no /proc/self/fd to see descriptors in";
        return -1;
    }
    char want[MAPIO_VEC_PATH_MAX + 16];
    snprintf(want, sizeof want, "%s (deleted)", path);
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char link[300], target[MAPIO_VEC_PATH_MAX + 16];
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n > 0) {
            target[n] = '\0';
            found |= strcmp(target, want) == 0;
        }
    }
    closedir(d);
    return found;
}

int vt_segment_maps(const char **why)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL) {
        *why = "no /proc/self/maps";
        return -1;
    }
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f) != NULL)
        n += strstr(line, "/mapio-vec-") != NULL;
    fclose(f);
    return n;
}

const int vt_mapped_files_deletable = 1;

const int vt_mapped_files_cuttable = 1, vt_under_file_err = MAPIO_ENOTDIR;

int vt_unmap(void *p, size_t len)
{
    return munmap(p, len);
}

static struct rlimit old_limit;
static void (*old_sig)(int);

int vt_file_limit_on(uint64_t limit, const char **why)
{
    static char msg[80];
    if (getrlimit(RLIMIT_FSIZE, &old_limit) != 0) {
        *why = "getrlimit(RLIMIT_FSIZE) failed";
        return -1;
    }
    if (old_limit.rlim_cur != RLIM_INFINITY && old_limit.rlim_cur < 8 * limit) {
        snprintf(msg, sizeof msg, "RLIMIT_FSIZE is already %llu",
                 (unsigned long long)old_limit.rlim_cur);
        *why = msg;
        return 1;
    }
    /* SIGXFSZ ignored, as a storage engine would: the call fails instead. */
    old_sig = signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = { .rlim_cur = (rlim_t)limit, .rlim_max = old_limit.rlim_max };
    return setrlimit(RLIMIT_FSIZE, &lim) == 0 ? 0 : -1;
}

void vt_file_limit_off(void)
{
    setrlimit(RLIMIT_FSIZE, &old_limit);
    signal(SIGXFSZ, old_sig);
}

/* A "Name:  <n> kB" line of /proc/self/status, in bytes; -1 if missing. */
static int64_t status_kb(const char *name)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    int64_t v = -1;
    size_t n = strlen(name);
    while (v < 0 && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, name, n) == 0 && line[n] == ':')
            v = strtoll(line + n + 1, NULL, 10) * 1024;
    fclose(f);
    return v;
}

int64_t vt_resident(void)
{
    return status_kb("VmRSS");
}

int64_t vt_resident_peak(void)
{
    /* The kernel's own high-water mark (updated before every unmap or
     * DONTNEED), not a sample. */
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return (int64_t)ru.ru_maxrss * 1024; /* KiB on Linux */
}

int64_t vt_resident_file(const char **why)
{
    int64_t v = status_kb("RssFile");
    if (v < 0)
        *why = "no RssFile in /proc/self/status";
    return v;
}

uint64_t vt_big_default_mib(const char **why)
{
    *why = NULL;
    return 1024;
}

const char *vt_eviction_unresident(void)
{
    return NULL; /* madvise(MADV_DONTNEED) unmaps the pages from the process */
}
