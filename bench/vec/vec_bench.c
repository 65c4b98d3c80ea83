/*
 * bench/vec/vec_bench.c - push throughput of the disk-backed vector against a
 * heap vector that doubles with realloc, side by side; medians of ROUNDS.
 *
 *   vec-bench [COUNT] [ELEM_SIZE] [ROUNDS]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mapio/vec.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

int main(int argc, char **argv)
{
    uint64_t count = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
    size_t elem = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 24;
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    if (count == 0 || elem == 0 || elem > 65536 || rounds < 1 || rounds > 99) {
        fprintf(stderr, "usage: vec-bench [COUNT] [ELEM_SIZE<=65536] [ROUNDS<100]\n");
        return 2;
    }
    unsigned char e[65536];
    memset(e, 0xab, elem);
    double heap[100], mapped[100];
    for (int r = 0; r < rounds; r++) {
        double t0 = now_s();
        unsigned char *h = NULL;
        uint64_t len = 0, cap = 0;
        for (uint64_t i = 0; i < count; i++) {
            if (len == cap) {
                cap = cap ? cap * 2 : 16;
                unsigned char *n = realloc(h, cap * elem);
                if (n == NULL)
                    return 1;
                h = n;
            }
            memcpy(h + len++ * elem, e, elem);
        }
        heap[r] = now_s() - t0;
        free(h);

        t0 = now_s();
        mapio_vec_t *v;
        if (mapio_vec_new(&v, elem, NULL) != 0)
            return 1;
        for (uint64_t i = 0; i < count; i++)
            if (mapio_vec_push(v, e) != 0)
                return 1;
        mapped[r] = now_s() - t0;
        mapio_vec_free(v);
    }
    qsort(heap, (size_t)rounds, sizeof *heap, cmp_d);
    qsort(mapped, (size_t)rounds, sizeof *mapped, cmp_d);
    double hm = heap[rounds / 2], mm = mapped[rounds / 2];
    printf("count=%" PRIu64 " elem=%zu rounds=%d\n", count, elem, rounds);
    printf("heap realloc vector: median %.0f Mpush/s\n", (double)count / hm / 1e6);
    printf("mapio_vec:           median %.0f Mpush/s\n", (double)count / mm / 1e6);
    printf("ratio mapio_vec / heap = %.2f\n", hm / mm);
    return 0;
}
