/*
 * mmap/map/cursor.c - bounded cursors over a map, and numbers of every width
 * in either byte order at any offset. Byte-by-byte, so alignment and the
 * host's byte order never matter; every access checks the range first, so
 * nothing is read past the end of a map.
 */
#include <string.h>

#include "map_os.h"

int mapio_cursor_init(mapio_cursor_t *c, mapio_map_t *m, uint64_t off, uint64_t len)
{
    if (c == NULL || m == NULL)
        return MAPIO_EINVAL;
    uint64_t total = mapio_map_len(m);
    if (len == UINT64_MAX)
        len = off <= total ? total - off : 0;
    void *p;
    int err = mapio_map_slice(m, off, len, &p);
    if (err != 0)
        return err;
    *c = (mapio_cursor_t){ .map = m, .start = off, .len = len, .pos = 0 };
    return 0;
}

int64_t mapio_cursor_read(mapio_cursor_t *c, void *buf, size_t n)
{
    if (c == NULL || c->map == NULL)
        return MAPIO_EINVAL;
    size_t k = (size_t)MAPIO__MIN((uint64_t)n, c->len - c->pos);
    int64_t r = mapio_map_read(c->map, c->start + c->pos, buf, k);
    if (r > 0)
        c->pos += (uint64_t)r;
    return r;
}

int64_t mapio_cursor_write(mapio_cursor_t *c, const void *buf, size_t n)
{
    if (c == NULL || c->map == NULL)
        return MAPIO_EINVAL;
    if ((uint64_t)n > c->len - c->pos)
        return MAPIO_ERANGE;
    int64_t r = mapio_map_write(c->map, c->start + c->pos, buf, n);
    if (r > 0)
        c->pos += (uint64_t)r;
    return r;
}

int64_t mapio_cursor_seek(mapio_cursor_t *c, int64_t delta, int whence)
{
    if (c == NULL || c->map == NULL)
        return MAPIO_EINVAL;
    int64_t base;
    switch (whence) {
    case MAPIO_SEEK_SET:
        base = 0;
        break;
    case MAPIO_SEEK_CUR:
        base = (int64_t)c->pos;
        break;
    case MAPIO_SEEK_END:
        base = (int64_t)c->len;
        break;
    default:
        return MAPIO_EINVAL;
    }
    if ((delta > 0 && base > INT64_MAX - delta) || base + delta < 0 ||
        (uint64_t)(base + delta) > c->len)
        return MAPIO_ERANGE;
    c->pos = (uint64_t)(base + delta);
    return (int64_t)c->pos;
}

/* ---- numbers --------------------------------------------------------------- */

/* The n bytes at off as an unsigned value, little- or big-endian. */
static int get_bytes(const mapio_map_t *m, uint64_t off, unsigned n, bool big, uint64_t *v)
{
    void *p;
    int err = mapio_map_slice(m, off, n, &p);
    if (err != 0)
        return err;
    const unsigned char *b = p;
    uint64_t x = 0;
    for (unsigned i = 0; i < n; i++)
        x |= (uint64_t)b[big ? i : n - 1 - i] << (8 * (n - 1 - i));
    *v = x;
    return 0;
}

static int put_bytes(mapio_map_t *m, uint64_t off, unsigned n, bool big, uint64_t x)
{
    unsigned char b[8];
    for (unsigned i = 0; i < n; i++)
        b[big ? n - 1 - i : i] = (unsigned char)(x >> (8 * i));
    int64_t r = mapio_map_write(m, off, b, n);
    return r < 0 ? (int)r : 0;
}

/* Sign-extend the low n bytes of x. */
static int64_t sign_extend(uint64_t x, unsigned n)
{
    unsigned shift = 64 - 8 * n;
    return (int64_t)(x << shift) >> shift;
}

#define MAPIO__NUMBER_DEF_ORDER(name, type, bytes, is_signed, suffix, big)                         \
    int mapio_map_get_##name##_##suffix(const mapio_map_t *m, uint64_t off, type *v)               \
    {                                                                                              \
        uint64_t x;                                                                                \
        if (v == NULL)                                                                             \
            return MAPIO_EINVAL;                                                                   \
        int err = get_bytes(m, off, bytes, big, &x);                                               \
        if (err == 0)                                                                              \
            *v = is_signed ? (type)sign_extend(x, bytes) : (type)x;                                \
        return err;                                                                                \
    }                                                                                              \
    int mapio_map_put_##name##_##suffix(mapio_map_t *m, uint64_t off, type v)                      \
    {                                                                                              \
        return put_bytes(m, off, bytes, big, (uint64_t)v);                                         \
    }
#define MAPIO__NUMBER_DEF(name, type, bytes, is_signed)                                            \
    MAPIO__NUMBER_DEF_ORDER(name, type, bytes, is_signed, le, false)                               \
    MAPIO__NUMBER_DEF_ORDER(name, type, bytes, is_signed, be, true)
MAPIO_NUMBER_MAP(MAPIO__NUMBER_DEF)

/* 128-bit: two 64-bit halves, most significant first in big-endian order. */
static int get128(const mapio_map_t *m, uint64_t off, bool big, mapio_u128_t *v)
{
    uint64_t a, b;
    if (v == NULL)
        return MAPIO_EINVAL;
    if (off > UINT64_MAX - 16)
        return MAPIO_EOVERFLOW;
    void *p;
    int err = mapio_map_slice(m, off, 16, &p); /* all 16 bytes or none */
    if (err == 0)
        err = get_bytes(m, off, 8, big, &a);
    if (err == 0)
        err = get_bytes(m, off + 8, 8, big, &b);
    if (err == 0)
        *v = big ? (mapio_u128_t){ a, b } : (mapio_u128_t){ b, a };
    return err;
}

static int put128(mapio_map_t *m, uint64_t off, bool big, mapio_u128_t v)
{
    void *p;
    int err = mapio_map_slice(m, off, 16, &p);
    if (err == 0)
        err = put_bytes(m, off, 8, big, big ? v.hi : v.lo);
    if (err == 0)
        err = put_bytes(m, off + 8, 8, big, big ? v.lo : v.hi);
    return err;
}

int mapio_map_get_u128_le(const mapio_map_t *m, uint64_t off, mapio_u128_t *v)
{
    return get128(m, off, false, v);
}
int mapio_map_get_u128_be(const mapio_map_t *m, uint64_t off, mapio_u128_t *v)
{
    return get128(m, off, true, v);
}
int mapio_map_put_u128_le(mapio_map_t *m, uint64_t off, mapio_u128_t v)
{
    return put128(m, off, false, v);
}
int mapio_map_put_u128_be(mapio_map_t *m, uint64_t off, mapio_u128_t v)
{
    return put128(m, off, true, v);
}

/* Floats travel as their IEEE-754 bit patterns. */
#define MAPIO__FLOAT_DEF(name, type, bits, suffix)                                                 \
    int mapio_map_get_##name##_##suffix(const mapio_map_t *m, uint64_t off, type *v)               \
    {                                                                                              \
        uint##bits##_t x;                                                                          \
        if (v == NULL)                                                                             \
            return MAPIO_EINVAL;                                                                   \
        int err = mapio_map_get_u##bits##_##suffix(m, off, &x);                                    \
        if (err == 0)                                                                              \
            memcpy(v, &x, sizeof x);                                                               \
        return err;                                                                                \
    }                                                                                              \
    int mapio_map_put_##name##_##suffix(mapio_map_t *m, uint64_t off, type v)                      \
    {                                                                                              \
        uint##bits##_t x;                                                                          \
        memcpy(&x, &v, sizeof x);                                                                  \
        return mapio_map_put_u##bits##_##suffix(m, off, x);                                        \
    }
MAPIO__FLOAT_DEF(f32, float, 32, le)
MAPIO__FLOAT_DEF(f32, float, 32, be)
MAPIO__FLOAT_DEF(f64, double, 64, le)
MAPIO__FLOAT_DEF(f64, double, 64, be)
