/* tests/ring/ring_test_posix.c - ring_test.c's view of a POSIX system: /proc
 * for descriptors and mappings, /dev/shm for names, RLIMIT_NOFILE. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "engine/common.h"
#include "ring_test_os.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <cmocka.h>

size_t rt_granularity(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

static int count_dir(const char *path, const char *prefix)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

/* The one opendir itself uses included: the same every time. */
int rt_open_descriptors(void)
{
    return count_dir("/proc/self/fd", "");
}

/* Names the portable path might have left in /dev/shm. */
int rt_shm_names(void)
{
    int n = count_dir("/dev/shm", "mapio-r");
    return n < 0 ? 0 : n;
}

/* The rings' views show as memfd:mapio-ring or /dev/shm/mapio-r... */
void rt_count_maps(size_t len, int *ring_views, int *reserved)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[1024];
    *ring_views = 0;
    *reserved = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long long lo, hi;
        if (strstr(line, "mapio-r") != NULL)
            (*ring_views)++;
        if (len != 0 && sscanf(line, "%llx-%llx", &lo, &hi) == 2 && hi - lo == len)
            (*reserved)++;
    }
    fclose(f);
}

int rt_eexist_tries(int step)
{
    /* Only shm_open of a random name can collide; it tries 64 names. */
#if MAPIO_HAVE_MEMFD_CREATE || defined(SHM_ANON)
    (void)step;
    return 1;
#else
    return step == 1 ? 64 : 1;
#endif
}

int rt_methods(const char **missing)
{
    *missing = NULL;
    return 1; /* chosen when the library is built */
}

const char *rt_use_method(int i)
{
    (void)i;
#if MAPIO_HAVE_MEMFD_CREATE
    return "memfd_create";
#elif defined(SHM_ANON)
    return "shm_open(SHM_ANON)";
#else
    return "shm_open of a random name";
#endif
}

static struct rlimit saved;
static int held[256], nheld;

int rt_use_up_descriptors(const char **why)
{
    *why = NULL;
    if (rt_open_descriptors() > 200) {
        *why = "too many inherited descriptors to lower the limit safely";
        return -1;
    }
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    struct rlimit low = saved;
    low.rlim_cur = 256;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    nheld = 0;
    while (nheld < 256 && (held[nheld] = dup(2)) >= 0)
        nheld++;
    assert_true(nheld < 256);
    return 0;
}

int rt_give_back_descriptors(void)
{
    for (int i = 0; i < nheld; i++)
        close(held[i]);
    nheld = 0;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
    return MAPIO_EMFILE;
}
