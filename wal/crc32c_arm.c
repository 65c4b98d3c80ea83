/*
 * wal/crc32c_arm.c - CRC-32C with the ARMv8 CRC extension (AArch64).
 * meson builds this file for AArch64 hosts whose compiler takes the target
 * attribute; the instructions only run after the CPU has said it has them.
 */
#include <arm_acle.h>
#include <string.h>

#include "mapio_config.h"
#include "crc32c.h"

#if MAPIO_HAVE_GETAUXVAL
#include <sys/auxv.h>
#if !defined(HWCAP_CRC32)
#define HWCAP_CRC32 (1UL << 7) /* the kernel's AArch64 hwcap bit, older headers lack it */
#endif
#endif

/* clang's arm_acle.h declares the intrinsics only when the whole unit targets
 * +crc, so take its builtins; GCC's declares them always. */
#if defined(__clang__)
#define CRC __attribute__((target("crc")))
#define CRC_U8(st, v) __builtin_arm_crc32cb((st), (v))
#define CRC_U64(st, v) __builtin_arm_crc32cd((st), (v))
#else
#define CRC __attribute__((target("+crc")))
#define CRC_U8(st, v) __crc32cb((st), (v))
#define CRC_U64(st, v) __crc32cd((st), (v))
#endif

static uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The instructions take the data little-endian, as the reflected CRC wants;
 * AArch64 as mapio builds it is little-endian. */
CRC static uint32_t serial(uint32_t st, const unsigned char *p, size_t n)
{
    for (; n > 0 && ((uintptr_t)p & 7) != 0; n--)
        st = CRC_U8(st, *p++);
    for (; n >= 8; p += 8, n -= 8)
        st = CRC_U64(st, load64(p));
    for (; n > 0; n--)
        st = CRC_U8(st, *p++);
    return st;
}

CRC static void streams3(uint32_t st[3], const unsigned char *p, size_t stride)
{
    uint32_t a = st[0], b = st[1], c = st[2];
    const unsigned char *q = p + stride, *r = p + 2 * stride;
    for (size_t i = 0; i < stride; i += 8) {
        a = CRC_U64(a, load64(p + i));
        b = CRC_U64(b, load64(q + i));
        c = CRC_U64(c, load64(r + i));
    }
    st[0] = a;
    st[1] = b;
    st[2] = c;
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

/* Where the C library reports the kernel's hwcaps (getauxval: glibc, musl,
 * bionic) ask it; otherwise only a build that already targets +crc (as
 * Apple's arm64 does) can count on the instructions. */
const char *mapio__crc32c_hw_probe(void)
{
#if MAPIO_HAVE_GETAUXVAL
    return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0 ? "armv8" : NULL;
#elif defined(__ARM_FEATURE_CRC32)
    return "armv8";
#else
    return NULL;
#endif
}
