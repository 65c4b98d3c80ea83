/*
 * bench/ring/ring_bench.c - ring throughput against plain memcpy, side by
 * side in the same run.
 *
 *   ring-bench [--total-mib N] [--ring-kib N] [--runs N]   (or bare: 1024 1024 5)
 *
 * For each chunk size (4 KiB, 64 KiB) it streams total bytes through a
 * ring: copy a chunk in at write_ptr + produce, copy it out from read_ptr +
 * consume. The peer does the same two memcpys through a plain buffer of the
 * ring's size (offset cycling through it). Source and destination are the
 * same ring-sized buffers for both. Rounds alternate ring / memcpy, after
 * one warm-up round each; it prints every round, the medians (GB/s) and
 * ring / memcpy. Then, for information, the same stream with the producer
 * and the consumer on two threads (no peer).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "mapio/ring.h"

static unsigned char *src, *dst;
static size_t buf_len;
static volatile unsigned char sink;

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

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Seconds to stream total bytes through the ring, chunk at a time. */
static double run_ring(mapio_ring_t *r, uint64_t total, size_t chunk)
{
    size_t off = 0;
    double t0 = now();
    for (uint64_t done = 0; done < total; done += chunk) {
        memcpy(mapio_ring_write_ptr(r), src + off, chunk);
        if (mapio_ring_produce(r, chunk) != 0)
            abort();
        memcpy(dst + off, mapio_ring_read_ptr(r), chunk);
        if (mapio_ring_consume(r, chunk) != 0)
            abort();
        off += chunk;
        if (off + chunk > buf_len)
            off = 0;
    }
    double t = now() - t0;
    sink = dst[0];
    return t;
}

/* The peer: the same copies through a plain buffer. */
static double run_memcpy(unsigned char *buf, uint64_t total, size_t chunk)
{
    size_t off = 0, boff = 0;
    double t0 = now();
    for (uint64_t done = 0; done < total; done += chunk) {
        memcpy(buf + boff, src + off, chunk);
        memcpy(dst + off, buf + boff, chunk);
        boff += chunk;
        if (boff + chunk > buf_len)
            boff = 0;
        off += chunk;
        if (off + chunk > buf_len)
            off = 0;
    }
    double t = now() - t0;
    sink = dst[0];
    return t;
}

/* ---- two threads ------------------------------------------------------------ */

struct spsc {
    mapio_ring_t *r;
    uint64_t total;
    size_t chunk;
};

static void *spsc_producer(void *arg)
{
    struct spsc *s = arg;
    size_t off = 0;
    for (uint64_t done = 0; done < s->total;) {
        size_t room = mapio_ring_write_len(s->r);
        if (room < s->chunk)
            continue; /* spin: both threads have a core each */
        memcpy(mapio_ring_write_ptr(s->r), src + off, s->chunk);
        mapio_ring_produce(s->r, s->chunk);
        done += s->chunk;
        off += s->chunk;
        if (off + s->chunk > buf_len)
            off = 0;
    }
    return NULL;
}

static double run_spsc(mapio_ring_t *r, uint64_t total, size_t chunk)
{
    struct spsc s = { r, total, chunk };
    pthread_t t;
    double t0 = now();
    if (pthread_create(&t, NULL, spsc_producer, &s) != 0)
        abort();
    size_t off = 0;
    for (uint64_t done = 0; done < total;) {
        size_t have = mapio_ring_read_len(r);
        if (have < chunk)
            continue;
        memcpy(dst + off, mapio_ring_read_ptr(r), chunk);
        mapio_ring_consume(r, chunk);
        done += chunk;
        off += chunk;
        if (off + chunk > buf_len)
            off = 0;
    }
    pthread_join(t, NULL);
    double el = now() - t0;
    sink = dst[0];
    return el;
}

int main(int argc, char **argv)
{
    uint64_t total_mib = 1024, ring_kib = 1024;
    unsigned uruns = 5;
    const struct cli_arg args[] = {
        { "--total-mib", CLI_U64, &total_mib, "MiB streamed per round", .min = 1, .max = 1 << 20,
          .pos = 1 },
        { "--ring-kib", CLI_U64, &ring_kib, "ring size in KiB (rounded up to pages)", .min = 1,
          .max = 1 << 22, .pos = 1 },
        { "--runs", CLI_UINT, &uruns, "timed rounds per chunk size", .min = 1, .max = 99,
          .pos = 1 },
    };
    const struct cli cli = { .prog = "ring-bench",
                             .about = "Ring produce/consume against plain memcpy.",
                             .args = args,
                             .nargs = sizeof args / sizeof *args };
    cli_parse(&cli, argc, argv);
    uint64_t total = total_mib << 20;
    int runs = (int)uruns;
    mapio_ring_t *r;
    int err = mapio_ring_new(&r, (size_t)ring_kib << 10, 0);
    if (err != 0)
        cli_die("mapio_ring_new(%llu KiB): %s", (unsigned long long)ring_kib, mapio_strerror(err));
    buf_len = mapio_ring_capacity(r);
    /* Page-aligned like the ring: malloc's 16-byte offset would put the
     * ring's copies at a different relative alignment than the peer's. */
    src = aligned_alloc(4096, buf_len);
    dst = aligned_alloc(4096, buf_len);
    unsigned char *plain = aligned_alloc(4096, buf_len);
    if (src == NULL || dst == NULL || plain == NULL)
        return 1;
    for (size_t i = 0; i < buf_len; i++)
        src[i] = (unsigned char)(i * 131 + 7);
    memset(dst, 0, buf_len);
    memset(plain, 0, buf_len);
    printf("ring-bench: %llu MiB per round, ring %zu KiB, %d rounds (GB/s = 1e9 B/s)\n",
           (unsigned long long)(total >> 20), buf_len >> 10, runs);
    static const size_t chunks[] = { 4096, 65536 };
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        size_t chunk = chunks[c];
        if (chunk > buf_len)
            continue;
        double gr[99], gm[99];
        run_ring(r, total / 4, chunk); /* warm-up: fault everything in */
        run_memcpy(plain, total / 4, chunk);
        for (int i = 0; i < runs; i++) {
            gr[i] = (double)total / run_ring(r, total, chunk) / 1e9;
            gm[i] = (double)total / run_memcpy(plain, total, chunk) / 1e9;
        }
        printf("chunk %6zu B  ring  ", chunk);
        for (int i = 0; i < runs; i++)
            printf(" %6.2f", gr[i]);
        printf("\n               memcpy");
        for (int i = 0; i < runs; i++)
            printf(" %6.2f", gm[i]);
        double mr = median(gr, runs), mm = median(gm, runs);
        printf("\n               median ring %.2f GB/s, memcpy %.2f GB/s, ratio %.2f\n", mr, mm,
               mr / mm);
    }
    double gs[99];
    for (int i = 0; i < runs; i++)
        gs[i] = (double)total / run_spsc(r, total, 65536) / 1e9;
    printf("spsc 2 threads, chunk 65536 B:");
    for (int i = 0; i < runs; i++)
        printf(" %6.2f", gs[i]);
    printf("  median %.2f GB/s (no peer)\n", median(gs, runs));
    mapio_ring_free(r);
    free(src);
    free(dst);
    free(plain);
    return 0;
}
