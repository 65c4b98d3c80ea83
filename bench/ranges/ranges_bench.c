/*
 * bench/ranges/ranges_bench.c - concurrent ranged writes: 2 writer threads vs
 * 1 on disjoint ranges of one mapping, and vs the same chunks written with
 * pwrite(2) by the same number of threads. Same file size, same chunks, side
 * by side in one run; medians of ROUNDS.
 *
 *   ranges-bench [--dir DIR] [--mib N] [--chunk-kib N] [--rounds N]
 *                (or bare, in that order: /var/tmp 512 12288 5)
 *
 * Two shapes: "fresh" (a new sparse file every round: each first touch of a
 * page faults, allocates and zeroes it - the downloader's case) and "warm"
 * (overwrite pages already in the page cache: memcpy alone).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "mapio/ranges.h"

struct job {
    mapio_ranged_t *f;
    mapio_range_atomic_t *a;
    int fd; /* >= 0: pwrite instead */
    unsigned char *buf;
    uint64_t chunk;
    int err;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *worker(void *p)
{
    struct job *j = p;
    mapio_range_t r;
    while (mapio_range_atomic_alloc(j->a, j->chunk, &r) == 0) {
        size_t n = (size_t)mapio_range_len(r);
        if (j->fd < 0) {
            if (mapio_ranged_write(j->f, r, j->buf, n, NULL) != 0)
                j->err = 1;
        } else {
            for (size_t done = 0; done < n;) {
                ssize_t w = pwrite(j->fd, j->buf + done, n - done, (off_t)(r.start + done));
                if (w <= 0) {
                    j->err = 1;
                    break;
                }
                done += (size_t)w;
            }
        }
    }
    return NULL;
}

/* Fill size bytes with `threads` writers; returns the seconds it took. */
static double run(const char *path, uint64_t size, uint64_t chunk, int threads, int use_pwrite,
                  int fresh, unsigned char **bufs)
{
    if (fresh)
        unlink(path);
    mapio_ranged_t *f = NULL;
    int fd = -1;
    if (use_pwrite) {
        fd = open(path, O_RDWR | O_CREAT, 0644);
        if (fd < 0 || ftruncate(fd, (off_t)size) != 0)
            cli_die("%s: %s", path, strerror(errno));
    } else {
        int err = fresh ? mapio_ranged_new(&f, path, size) : mapio_ranged_new_existing(&f, path);
        if (err != 0)
            cli_die("mapio_ranged_%s %s: %s", fresh ? "create" : "open", path, mapio_strerror(err));
    }
    mapio_range_atomic_t *a;
    if (mapio_range_atomic_new(&a, size, 0) != 0)
        cli_die("mapio_range_atomic_new failed");
    struct job jobs[8];
    pthread_t t[8];
    sync(); /* no writeback of the previous round running under this one */
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct job){ f, a, fd, bufs[i], chunk, 0 };
        pthread_create(&t[i], NULL, worker, &jobs[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        if (jobs[i].err)
            cli_die("%s to %s failed", use_pwrite ? "pwrite" : "mapio_ranged_write", path);
    }
    double secs = now_s() - t0;
    mapio_range_atomic_free(a);
    if (f != NULL)
        mapio_ranged_free(f);
    if (fd >= 0)
        close(fd);
    return secs;
}

static int cmp_d(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    const char *dir = "/var/tmp";
    uint64_t mib = 512, chunk_kib = 12 * 1024;
    unsigned urounds = 5;
    const struct cli_arg args[] = {
        { "--dir", CLI_STR, &dir, "directory of the scratch file (removed at the end)", "DIR",
          .pos = 1 },
        { "--mib", CLI_U64, &mib, "file size in MiB", .min = 1, .max = 1 << 20, .pos = 1 },
        { "--chunk-kib", CLI_U64, &chunk_kib, "range handed to a writer at a time, in KiB",
          .min = 1, .max = 1 << 20, .pos = 1 },
        { "--rounds", CLI_UINT, &urounds, "rounds (medians are printed)", .min = 1, .max = 99,
          .pos = 1 },
    };
    const struct cli cli = { .prog = "ranges-bench",
                             .about = "Ranged writes: 2 writer threads vs 1, and vs pwrite(2).",
                             .args = args,
                             .nargs = sizeof args / sizeof *args };
    cli_parse(&cli, argc, argv);
    cli_need_dir("--dir", dir);
    uint64_t size = mib << 20, chunk = chunk_kib << 10;
    int rounds = (int)urounds;
    char path[512];
    snprintf(path, sizeof path, "%s/mapio-ranges-bench.%d", dir, (int)getpid());
    unsigned char *bufs[2];
    for (int i = 0; i < 2; i++) {
        bufs[i] = malloc(chunk);
        if (bufs[i] == NULL)
            cli_die("--chunk-kib: cannot allocate %llu KiB", (unsigned long long)chunk_kib);
        memset(bufs[i], 0x5a + i, chunk);
    }
    static const struct {
        const char *name;
        int threads, pwrite, fresh;
    } cfg[] = {
        { "fresh mmap 1 thread", 1, 0, 1 },    { "fresh mmap 2 threads", 2, 0, 1 },
        { "fresh pwrite 2 threads", 2, 1, 1 }, { "warm mmap 1 thread", 1, 0, 0 },
        { "warm mmap 2 threads", 2, 0, 0 },    { "warm pwrite 2 threads", 2, 1, 0 },
    };
    enum { N = sizeof cfg / sizeof *cfg };
    double secs[N][100], med[N];
    for (int r = 0; r < rounds; r++)
        for (int c = 0; c < N; c++) /* interleaved: noise hits every shape alike */
            secs[c][r] = run(path, size, chunk, cfg[c].threads, cfg[c].pwrite, cfg[c].fresh, bufs);
    unlink(path);
    printf("size=%" PRIu64 "MiB chunk=%" PRIu64 "KiB rounds=%d\n", size >> 20, chunk >> 10, rounds);
    for (int c = 0; c < N; c++) {
        printf("%-24s", cfg[c].name);
        for (int r = 0; r < rounds; r++)
            printf(" %.0f", (double)size / (1 << 20) / secs[c][r]);
        med[c] = median(secs[c], rounds);
        printf("  median %.0f MiB/s\n", (double)size / (1 << 20) / med[c]);
    }
    printf("fresh: 2 threads / 1 thread = %.2f (target >= 1.8); mmap / pwrite, 2 threads = %.2f\n",
           med[0] / med[1], med[2] / med[1]);
    printf("warm:  2 threads / 1 thread = %.2f (target >= 1.8); mmap / pwrite, 2 threads = %.2f\n",
           med[3] / med[4], med[5] / med[4]);
    for (int i = 0; i < 2; i++)
        free(bufs[i]);
    return 0;
}
