/*
 * engine/common.h - internal helpers shared by engine/, backends/ and mmap/.
 * Never installed. Internal non-static names carry the mapio__ prefix.
 */
#ifndef MAPIO_COMMON_H
#define MAPIO_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "mapio_config.h"
#include "mapio/errno.h"

#define MAPIO__MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAPIO__MAX(a, b) ((a) > (b) ? (a) : (b))
#define MAPIO__ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MAPIO__CONTAINER_OF(ptr, type, member)                                                     \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#if defined(__GNUC__)
#define MAPIO__LIKELY(x) __builtin_expect(!!(x), 1)
#define MAPIO__UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define MAPIO__LIKELY(x) (x)
#define MAPIO__UNLIKELY(x) (x)
#endif

/* A hint to the CPU inside a spin-wait loop (x86 PAUSE, Arm YIELD): it
 * saves power and the sibling hyper-thread's cycles, and gives the core
 * to no other thread (sched_yield would, and on a busy machine the thread
 * waited for may then wait a whole time slice). */
static inline void mapio__cpu_relax(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_ia32_pause();
#elif defined(__GNUC__) && (defined(__aarch64__) || defined(__arm__))
    __asm__ __volatile__("yield");
#endif
}

/*
 * Every heap allocation the library makes goes through these, so a test can
 * count them (the "no allocation per operation" proof) and a fault test can
 * make them fail. They behave like malloc/calloc/realloc/free.
 */
void *mapio__malloc(size_t size);
void *mapio__calloc(size_t n, size_t size);
void *mapio__realloc(void *p, size_t size);
void mapio__free(void *p);
char *mapio__strdup(const char *s);

/* Number of successful allocations since the process started (tests). */
uint64_t mapio__alloc_count(void);
/* Make the n-th allocation from now fail (1 = the next one); 0 disarms. */
void mapio__alloc_fail_after(uint64_t n);

/* True when [off, off + len) does not wrap and ends at or before limit. */
static inline int mapio__range_ok(uint64_t off, uint64_t len, uint64_t limit)
{
    return off <= limit && len <= limit - off;
}

#endif
