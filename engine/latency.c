/* engine/latency.c - log-linear latency histograms (see latency.h). */
#include "latency.h"

static unsigned bucket_of(uint64_t v)
{
    if (v < MAPIO__LAT_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* octave: 2^e <= v < 2^(e+1) */
    if (e >= 40)
        return MAPIO__LAT_BUCKETS - 1;
    unsigned sub = (unsigned)(v >> (e - 6)) & (MAPIO__LAT_SUB - 1);
    return MAPIO__LAT_SUB + (e - 6) * MAPIO__LAT_SUB + sub;
}

/* The midpoint of bucket i: within 1/128 of anything recorded in it. */
static uint64_t value_of(unsigned i)
{
    if (i < MAPIO__LAT_SUB)
        return i;
    unsigned e = (i - MAPIO__LAT_SUB) / MAPIO__LAT_SUB + 6;
    uint64_t sub = (i - MAPIO__LAT_SUB) % MAPIO__LAT_SUB;
    uint64_t width = (uint64_t)1 << (e - 6);
    return ((uint64_t)1 << e) + sub * width + width / 2;
}

void mapio__lat_record(struct mapio__lat *h, uint64_t ns, bool single_writer)
{
    _Atomic uint64_t *b = &h->bucket[bucket_of(ns)];
    if (single_writer) {
        atomic_store_explicit(b, atomic_load_explicit(b, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        if (ns > atomic_load_explicit(&h->max, memory_order_relaxed))
            atomic_store_explicit(&h->max, ns, memory_order_relaxed);
        return;
    }
    atomic_fetch_add_explicit(b, 1, memory_order_relaxed);
    uint64_t m = atomic_load_explicit(&h->max, memory_order_relaxed);
    while (ns > m && !atomic_compare_exchange_weak_explicit(&h->max, &m, ns, memory_order_relaxed,
                                                            memory_order_relaxed))
        ;
}

static uint64_t count_at(const struct mapio__lat *a, const struct mapio__lat *b, unsigned i)
{
    uint64_t n = atomic_load_explicit(&a->bucket[i], memory_order_relaxed);
    return b != NULL ? n + atomic_load_explicit(&b->bucket[i], memory_order_relaxed) : n;
}

void mapio__lat_read(const struct mapio__lat *a, const struct mapio__lat *b, mapio_latency_t *out)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < MAPIO__LAT_BUCKETS; i++)
        total += count_at(a, b, i);
    out->count = total;
    out->max_ns = atomic_load_explicit(&a->max, memory_order_relaxed);
    if (b != NULL)
        out->max_ns = MAPIO__MAX(out->max_ns, atomic_load_explicit(&b->max, memory_order_relaxed));
    out->p50_ns = out->p99_ns = out->p999_ns = 0;
    if (total == 0)
        return;
    /* The value at rank ceil(q * total), for each q, in one pass. */
    const uint64_t ranks[3] = { (total * 500 + 999) / 1000, (total * 990 + 999) / 1000,
                                (total * 999 + 999) / 1000 };
    uint64_t *dst[3] = { &out->p50_ns, &out->p99_ns, &out->p999_ns };
    uint64_t seen = 0;
    unsigned k = 0;
    for (unsigned i = 0; i < MAPIO__LAT_BUCKETS && k < 3; i++) {
        seen += count_at(a, b, i);
        while (k < 3 && seen >= MAPIO__MAX(ranks[k], 1u)) {
            /* Never report past the true maximum (the top bucket is open). */
            *dst[k++] = MAPIO__MIN(value_of(i), out->max_ns);
        }
    }
}
