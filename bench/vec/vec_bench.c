/*
 * bench/vec/vec_bench.c - push throughput of the disk-backed vector against
 * a heap vector that doubles with realloc, in the same run.
 *
 *   vec-bench [--count N] [--elem-size N] [--dir DIR]
 *             (or bare, in that order; defaults: 10000000 24, the vector's own directory)
 *
 * Each of 5 rounds runs every variant once (the order rotates from round to
 * round) and the medians are printed with the ratio to the heap vector.
 *
 * Cold - a fresh vector each time: growth and first-touch page faults
 * included, i.e. what filling a new vector costs:
 *   heap        malloc/realloc doubling, push inlined (the peer)
 *   push        mapio_vec_push from an empty vector (grows by doubling)
 *   reserved    mapio_vec_new_with_capacity(count) first, then mapio_vec_push
 *   push_n      mapio_vec_push_n in batches of 4096 elements
 * Warm - the same vector filled once, emptied, then timed refilling: no
 * growth, no page faults, the per-push cost alone:
 *   heap, push
 *
 * Cold times depend on what a first touch of a page costs, which differs
 * between anonymous memory and the page cache, and a lot between machines
 * (on a VM whose host takes freed guest memory back, anonymous first
 * touches are several times dearer). "+free" adds freeing the vector (for
 * mapio: unmapping and dropping the file's pages). A checksum of the
 * contents keeps the work from being optimised away and shows that every
 * variant holds the same elements.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "mapio/vec.h"

#define ROUNDS 5
#define BATCH 4096

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v)
{
    double s[ROUNDS];
    memcpy(s, v, sizeof s);
    qsort(s, ROUNDS, sizeof *s, cmp);
    return s[ROUNDS / 2];
}

/* Element number i: its index in the first bytes, its low byte elsewhere. */
static void make(unsigned char *e, size_t es, uint64_t i)
{
    memset(e, (int)(i & 0xff), es);
    memcpy(e, &i, es < 8 ? es : 8);
}

/* A byte of about every page, and the last one. */
static uint64_t checksum(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i += 4093)
        h = (h ^ p[i]) * 1099511628211ull;
    return h ^ p[n - 1];
}

/* ---- the peer: a heap vector --------------------------------------------------- */

struct heap_vec {
    unsigned char *data;
    size_t len, cap, es;
};

static inline void heap_push(struct heap_vec *h, const void *e)
{
    if (h->len == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 16;
        void *p = realloc(h->data, cap * h->es);
        if (p == NULL) {
            fprintf(stderr, "realloc failed\n");
            exit(1);
        }
        h->data = p;
        h->cap = cap;
    }
    memcpy(h->data + h->len++ * h->es, e, h->es);
}

static void heap_fill(struct heap_vec *h, size_t n, unsigned char *e)
{
    for (size_t i = 0; i < n; i++) {
        make(e, h->es, i);
        heap_push(h, e);
    }
}

static double run_heap(int warm, size_t n, size_t es, double *with_free, uint64_t *sum)
{
    struct heap_vec h = { .es = es };
    unsigned char *e = malloc(es * BATCH); /* as the mapio runs: same addresses' luck */
    if (warm) {
        heap_fill(&h, n, e);
        h.len = 0;
    }
    double t0 = now();
    heap_fill(&h, n, e);
    double t1 = now();
    *sum = checksum(h.data, n * es);
    double t2 = now();
    free(h.data);
    *with_free = t1 - t0 + (now() - t2);
    free(e);
    return t1 - t0;
}

/* ---- mapio -------------------------------------------------------------------------- */

enum how { PUSH, RESERVED, PUSH_N, WARM };

static void vec_fill(mapio_vec_t *v, int batched, size_t n, size_t es, unsigned char *e)
{
    int err = 0;
    if (batched) {
        for (size_t i = 0; i < n && err == 0; i += BATCH) {
            size_t k = n - i < BATCH ? n - i : BATCH;
            for (size_t j = 0; j < k; j++)
                make(e + j * es, es, i + j);
            err = mapio_vec_push_n(v, e, k);
        }
    } else {
        for (size_t i = 0; i < n && err == 0; i++) {
            make(e, es, i);
            err = mapio_vec_push(v, e);
        }
    }
    if (err != 0) {
        fprintf(stderr, "push: %s\n", mapio_strerror(err));
        exit(1);
    }
}

static double run_vec(enum how how, size_t n, size_t es, const mapio_vec_opts_t *o,
                      double *with_free, uint64_t *sum)
{
    mapio_vec_t *v;
    int err =
        how == RESERVED ? mapio_vec_new_with_capacity(&v, es, n, o) : mapio_vec_new(&v, es, o);
    if (err != 0) {
        fprintf(stderr, "mapio_vec_new: %s\n", mapio_strerror(err));
        exit(1);
    }
    unsigned char *e = malloc(es * BATCH);
    if (how == WARM) {
        vec_fill(v, 0, n, es, e);
        mapio_vec_clear(v);
    }
    double t0 = now();
    vec_fill(v, how == PUSH_N, n, es, e);
    double t1 = now();
    *sum = checksum(mapio_vec_data(v), n * es);
    double t2 = now();
    mapio_vec_free(v);
    *with_free = t1 - t0 + (now() - t2);
    free(e);
    return t1 - t0;
}

/* ---- main ------------------------------------------------------------------------------- */

enum { V = 6 };
static const char *const names[V] = {
    "cold: heap (realloc x2)", "cold: mapio_vec_push", "cold: push, reserved",
    "cold: push_n (4096)",     "warm: heap",           "warm: mapio_vec_push",
};

static double run(int i, size_t n, size_t es, const mapio_vec_opts_t *o, double *with_free,
                  uint64_t *sum)
{
    switch (i) {
    case 0:
        return run_heap(0, n, es, with_free, sum);
    case 1:
        return run_vec(PUSH, n, es, o, with_free, sum);
    case 2:
        return run_vec(RESERVED, n, es, o, with_free, sum);
    case 3:
        return run_vec(PUSH_N, n, es, o, with_free, sum);
    case 4:
        return run_heap(1, n, es, with_free, sum);
    default:
        return run_vec(WARM, n, es, o, with_free, sum);
    }
}

int main(int argc, char **argv)
{
    uint64_t count = 10000000, elem_size = 24;
    const char *dir = NULL;
    const struct cli_arg args[] = {
        { "--count", CLI_U64, &count, "elements pushed per variant and round", .min = 1,
          .max = 1e12, .pos = 1 },
        { "--elem-size", CLI_U64, &elem_size, "bytes per element", .min = 1, .max = 1 << 20,
          .pos = 1 },
        { "--dir", CLI_STR, &dir, "directory of the vector's segment file", "DIR",
          .def = "mapio_vec_default_path's", .pos = 1 },
    };
    const struct cli cli = {
        .prog = "vec-bench",
        .about = "Disk-backed vector pushes against a realloc-doubling heap vector.",
        .args = args,
        .nargs = sizeof args / sizeof *args
    };
    cli_parse(&cli, argc, argv);
    size_t n = (size_t)count, es = (size_t)elem_size;
    mapio_vec_opts_t o = { 0 };
    if (dir != NULL) {
        cli_need_dir("--dir", dir);
        o.path_fn = mapio_vec_path_in_dir;
        o.path_ctx = (void *)dir;
    }
    char where[MAPIO_VEC_PATH_MAX] = "?";
    mapio_vec_path_fn fn = o.path_fn != NULL ? o.path_fn : mapio_vec_default_path;
    if (fn(o.path_ctx, where, sizeof where) == 0 && strrchr(where, '/') != NULL)
        *strrchr(where, '/') = '\0';

    double t[V][ROUNDS], tf[V][ROUNDS];
    uint64_t sums[V];
    for (int r = 0; r < ROUNDS; r++) {
        for (int k = 0; k < V; k++) {
            int i = (k + r) % V;
            t[i][r] = run(i, n, es, &o, &tf[i][r], &sums[i]);
        }
        for (int i = 1; i < V; i++)
            if (sums[i] != sums[0]) {
                fprintf(stderr, "checksum mismatch: %s\n", names[i]);
                return 1;
            }
    }
    printf("%zu pushes of %zu-byte elements (%.0f MB), segment in %s, median of %d\n", n, es,
           (double)n * (double)es / 1e6, where, ROUNDS);
    printf("%-24s %9s %9s %8s %10s %8s\n", "variant", "ms", "Mpush/s", "vs heap", "ms +free",
           "vs heap");
    for (int i = 0; i < V; i++) {
        int peer = i < 4 ? 0 : 4;
        double m = median(t[i]), mf = median(tf[i]);
        double h = median(t[peer]), hf = median(tf[peer]);
        printf("%-24s %9.1f %9.1f %7.2fx %10.1f %7.2fx\n", names[i], m * 1e3, (double)n / m / 1e6,
               h / m, mf * 1e3, hf / mf);
    }
    return 0;
}
