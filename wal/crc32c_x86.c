/*
 * wal/crc32c_x86.c - CRC-32C with the SSE4.2 crc32 instruction (x86-64).
 * meson builds this file for x86-64 hosts whose compiler takes the target
 * attribute; the rest of the library stays baseline x86-64, and the
 * instruction only runs after the CPU has said it has it.
 */
#include <nmmintrin.h>
#include <string.h>

#include "crc32c.h"

#define SSE42 __attribute__((target("sse4.2")))

static uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

SSE42 static uint32_t serial(uint32_t st, const unsigned char *p, size_t n)
{
    for (; n > 0 && ((uintptr_t)p & 7) != 0; n--)
        st = _mm_crc32_u8(st, *p++);
    uint64_t st64 = st;
    for (; n >= 8; p += 8, n -= 8)
        st64 = _mm_crc32_u64(st64, load64(p));
    st = (uint32_t)st64;
    for (; n > 0; n--)
        st = _mm_crc32_u8(st, *p++);
    return st;
}

SSE42 static void streams3(uint32_t st[3], const unsigned char *p, size_t stride)
{
    uint64_t a = st[0], b = st[1], c = st[2];
    const unsigned char *q = p + stride, *r = p + 2 * stride;
    for (size_t i = 0; i < stride; i += 8) {
        a = _mm_crc32_u64(a, load64(p + i));
        b = _mm_crc32_u64(b, load64(q + i));
        c = _mm_crc32_u64(c, load64(r + i));
    }
    st[0] = (uint32_t)a;
    st[1] = (uint32_t)b;
    st[2] = (uint32_t)c;
}

uint32_t mapio__crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
    if (len < MAPIO__CRC32C_INTERLEAVE_MIN)
        return len == 0 ? crc : ~serial(~crc, buf, len);
    return ~mapio__crc32c_interleave(~crc, buf, len, serial, streams3);
}

uint32_t mapio__crc32c_hw_1way(uint32_t crc, const void *buf, size_t len)
{
    return len == 0 ? crc : ~serial(~crc, buf, len);
}

const char *mapio__crc32c_hw_probe(void)
{
    /* Harmless once libgcc's constructor has run; needed before it. */
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") ? "sse4.2" : NULL;
}
