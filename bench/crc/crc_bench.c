/*
 * bench/crc/crc_bench.c - CRC-32C throughput: the implementation
 * mapio_crc32c chose, the same CPU instructions on one stream (what the
 * three-stream interleaving buys) and the portable table, side by side.
 *
 *   crc-bench [MiB]      MiB hashed per measurement, default 64
 *
 * For each buffer size (64 B, 4 KiB, 64 KiB, 1 MiB) it hashes the same
 * in-cache buffer over and over until MiB have passed. Rounds rotate the
 * order of the variants; it prints the median of 5 rounds in GB/s (1e9
 * bytes per second) and chosen / table.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "mapio/crc32c.h"
#include "crc32c.h"

#define ROUNDS 5
#define V 3

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static const size_t sizes[] = { 64, 4096, 65536, 1 << 20 };
#define SIZES (sizeof sizes / sizeof sizes[0])
static volatile uint32_t sink;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v)
{
    qsort(v, ROUNDS, sizeof *v, cmp_double);
    return v[ROUNDS / 2];
}

/* GB/s of f over buf[0..size) repeated until total bytes have passed. */
static double run(crc_fn f, const unsigned char *buf, size_t size, uint64_t total)
{
    uint32_t crc = 0;
    uint64_t n = total / size + 1;
    double t0 = now();
    for (uint64_t i = 0; i < n; i++)
        crc = f(crc, buf, size);
    double t = now() - t0;
    sink = crc;
    return (double)(n * size) / t / 1e9;
}

int main(int argc, char **argv)
{
    uint64_t mib = 64;
    const struct cli_arg args[] = {
        { "--mib", CLI_U64, &mib, "MiB hashed per measurement", .min = 1, .max = 65536, .pos = 1 },
    };
    char about[128];
    snprintf(about, sizeof about,
             "CRC-32C GB/s for 64 B, 4 KiB, 64 KiB and 1 MiB buffers, median of %d rounds.",
             ROUNDS);
    const struct cli cli = {
        .prog = "crc-bench", .about = about, .args = args, .nargs = sizeof args / sizeof *args
    };
    cli_parse(&cli, argc, argv);
    const char *impl = mapio_crc32c_impl();
    const char *names[V] = { impl, "1-stream", "table" };
    crc_fn fns[V] = { mapio_crc32c, mapio__crc32c_hw_1way, mapio__crc32c_table };
    int variants = mapio__crc32c_hw_probe() != NULL ? V : 1; /* no CPU path: table only */
    if (variants == 1)
        fns[0] = mapio__crc32c_table;
    unsigned char *buf = malloc(sizes[SIZES - 1]);
    if (buf == NULL)
        return 1;
    for (size_t i = 0; i < sizes[SIZES - 1]; i++)
        buf[i] = (unsigned char)(i * 2654435761u >> 13);
    uint64_t total = (uint64_t)mib << 20;

    printf("crc-bench: %s, %llu MiB per measurement, median of %d rounds, GB/s\n", impl,
           (unsigned long long)mib, ROUNDS);
    printf("%8s %10s %10s %10s %9s\n", "size", names[0], variants > 1 ? names[1] : "-",
           variants > 1 ? names[2] : "-", "vs table");
    for (size_t s = 0; s < SIZES; s++) {
        double g[V][ROUNDS] = { { 0 } };
        for (int r = 0; r < ROUNDS; r++)
            for (int k = 0; k < variants; k++) {
                int v = (k + r) % variants;
                g[v][r] = run(fns[v], buf, sizes[s], total);
            }
        double m[V] = { median(g[0]), median(g[1]), median(g[2]) };
        if (variants > 1)
            printf("%8zu %10.2f %10.2f %10.2f %8.2fx\n", sizes[s], m[0], m[1], m[2], m[0] / m[2]);
        else
            printf("%8zu %10.2f %10s %10s %9s\n", sizes[s], m[0], "-", "-", "-");
    }
    free(buf);
    return 0;
}
