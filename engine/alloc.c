/*
 * engine/alloc.c - the library's one door to the heap.
 *
 * Counting here (relaxed atomics: the counter is a statistic, not a lock) is
 * what lets tests prove that reads, writes and syncs allocate nothing.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static atomic_uint_fast64_t alloc_count;
static atomic_uint_fast64_t fail_countdown;

static int should_fail(void)
{
    uint_fast64_t n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    while (n != 0) {
        if (atomic_compare_exchange_weak_explicit(&fail_countdown, &n, n - 1, memory_order_relaxed,
                                                  memory_order_relaxed))
            return n == 1;
    }
    return 0;
}

static void *counted(void *p)
{
    if (p != NULL)
        atomic_fetch_add_explicit(&alloc_count, 1, memory_order_relaxed);
    return p;
}

void *mapio__malloc(size_t size)
{
    return should_fail() ? NULL : counted(malloc(size));
}

void *mapio__calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : counted(calloc(n, size));
}

void *mapio__realloc(void *p, size_t size)
{
    return should_fail() ? NULL : counted(realloc(p, size));
}

void mapio__free(void *p)
{
    free(p);
}

char *mapio__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = mapio__malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

uint64_t mapio__alloc_count(void)
{
    return atomic_load_explicit(&alloc_count, memory_order_relaxed);
}

void mapio__alloc_fail_after(uint64_t n)
{
    atomic_store_explicit(&fail_countdown, n, memory_order_relaxed);
}
