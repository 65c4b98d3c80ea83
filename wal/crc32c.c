/*
 * wal/crc32c.c - CRC-32C: the portable part.
 *
 * Representation: the reflected one every CRC-32C user shares, bit 31 of the
 * register is the coefficient of x^0 and bit 0 that of x^31, so feeding one
 * zero bit is a right shift that folds bit 0 back in as the polynomial.
 *
 * The tables are built on first use rather than written out, so there is
 * nothing here to get wrong by hand or to copy: 8 KiB for slicing-by-8 and
 * 4 KiB per interleave level for the shift that combines three streams.
 */
#include <stdatomic.h>

#include "mapio/crc32c.h"
#include "crc32c.h"

#define POLY UINT32_C(0x82F63B78)
#define X0 (UINT32_C(1) << 31) /* the polynomial 1 */

/* Bytes per stream of each interleave level, longest first. Long streams
 * make the combining cost (two table shifts) vanish; the shorter levels pick
 * up what is left so that little runs through one stream at a third of the
 * speed. */
static const size_t level_len[] = { 8192, 1024, 128 };
#define LEVELS (sizeof level_len / sizeof level_len[0])

struct tables {
    uint32_t slice[8][256];         /* slice[k][b]: byte b followed by k zero bytes */
    uint32_t shift[LEVELS][4][256]; /* shift[l][k][b]: (b << 8k) times x^(8 level_len[l]) */
};

static struct tables tables;
static atomic_int tables_state; /* 0 not built, 1 being built, 2 ready */

/* a * b mod P, both in the reflected representation. */
static uint32_t gf_mul(uint32_t a, uint32_t b)
{
    uint32_t product = 0;
    for (uint32_t m = X0; m != 0 && a != 0; m >>= 1) {
        if (a & m) {
            product ^= b;
            a ^= m;
        }
        b = (b & 1) ? (b >> 1) ^ POLY : b >> 1; /* b *= x */
    }
    return product;
}

/* x^e mod P: what a register is multiplied by when e zero bits pass. */
static uint32_t gf_x_pow(uint64_t e)
{
    uint32_t result = X0, base = X0 >> 1; /* base = x */
    for (; e != 0; e >>= 1) {
        if (e & 1)
            result = gf_mul(result, base);
        base = gf_mul(base, base);
    }
    return result;
}

/* t[b] = (b << shift) times m for every byte b. Multiplication is linear, so
 * eight products give the rest as XORs: t[b] = t[b without its lowest bit]
 * ^ t[that bit]. */
static void fill_times(uint32_t t[256], int shift, uint32_t m)
{
    t[0] = 0;
    for (int i = 0; i < 8; i++)
        t[1 << i] = gf_mul(UINT32_C(1) << (shift + i), m);
    for (unsigned b = 1; b < 256; b++)
        t[b] = t[b & (b - 1)] ^ t[b & (0u - b)];
}

static void build_tables(struct tables *t)
{
    fill_times(t->slice[0], 0, gf_x_pow(8)); /* b in the register's last byte, 8 bits pass */
    for (int k = 1; k < 8; k++)
        for (int b = 0; b < 256; b++) {
            uint32_t prev = t->slice[k - 1][b];
            t->slice[k][b] = (prev >> 8) ^ t->slice[0][prev & 0xff];
        }
    for (size_t l = 0; l < LEVELS; l++) {
        uint32_t xn = gf_x_pow(8 * (uint64_t)level_len[l]);
        for (int k = 0; k < 4; k++)
            fill_times(t->shift[l][k], 8 * k, xn);
    }
}

/* The tables, or NULL while another thread is building them: the first
 * caller builds, and a caller that comes meanwhile (for the about 20
 * microseconds that takes) computes without them rather than wait, so no
 * thread ever spins on one that was descheduled. No constructor, no lock,
 * no OS call: the same in a static or shared library on every platform. */
static const struct tables *get_tables(void)
{
    int state = atomic_load_explicit(&tables_state, memory_order_acquire);
    if (state == 2)
        return &tables;
    if (state == 0 && atomic_compare_exchange_strong_explicit(
                          &tables_state, &state, 1, memory_order_relaxed, memory_order_relaxed)) {
        build_tables(&tables);
        atomic_store_explicit(&tables_state, 2, memory_order_release);
        return &tables;
    }
    return NULL;
}

/* ---- table path -------------------------------------------------------------- */

/* Little-endian load, whatever the host: slicing-by-8 consumes the register
 * low byte first. Compilers turn it into one load on little-endian hosts. */
static uint32_t load32le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t table_bytes(const struct tables *t, uint32_t st, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        st = (st >> 8) ^ t->slice[0][(st ^ p[i]) & 0xff];
    return st;
}

/* The four lookups on the high word do not wait for the register, so they
 * are summed apart from the four that do: the loop then waits only for one
 * load and two XORs per 8 bytes. */
static uint32_t table_raw(const struct tables *t, uint32_t st, const unsigned char *p, size_t n)
{
    for (; n >= 8; p += 8, n -= 8) {
        uint32_t lo = st ^ load32le(p), hi = load32le(p + 4);
        uint32_t h = (t->slice[3][hi & 0xff] ^ t->slice[2][(hi >> 8) & 0xff]) ^
                     (t->slice[1][(hi >> 16) & 0xff] ^ t->slice[0][hi >> 24]);
        uint32_t l = (t->slice[7][lo & 0xff] ^ t->slice[6][(lo >> 8) & 0xff]) ^
                     (t->slice[5][(lo >> 16) & 0xff] ^ t->slice[4][lo >> 24]);
        st = h ^ l;
    }
    return table_bytes(t, st, p, n);
}

uint32_t mapio__crc32c_bitwise(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint32_t st = ~crc;
    for (size_t i = 0; i < len; i++) {
        st ^= p[i];
        for (int b = 0; b < 8; b++)
            st = (st & 1) ? (st >> 1) ^ POLY : st >> 1;
    }
    return ~st;
}

uint32_t mapio__crc32c_table(uint32_t crc, const void *buf, size_t len)
{
    if (len == 0)
        return crc;
    const struct tables *t = get_tables();
    if (t == NULL) /* another thread is building them */
        return mapio__crc32c_bitwise(crc, buf, len);
    return ~table_raw(t, ~crc, buf, len);
}

/* ---- three-stream driver for the CPU files ------------------------------------ */

/* Register st as if level_len[l] zero bytes had passed through it. */
static uint32_t shift(const uint32_t sh[4][256], uint32_t st)
{
    return sh[0][st & 0xff] ^ sh[1][(st >> 8) & 0xff] ^ sh[2][(st >> 16) & 0xff] ^ sh[3][st >> 24];
}

/*
 * The CRC is linear: the register after A || B from st is the register after
 * A from st, shifted past |B| zero bytes, XOR the register after B from 0.
 * So the three streams of a block run independently (the first from st, the
 * others from 0) and two shifts put them back together.
 */
uint32_t mapio__crc32c_interleave(uint32_t st, const unsigned char *p, size_t n,
                                  mapio__crc32c_serial_fn serial,
                                  mapio__crc32c_streams3_fn streams3)
{
    if (n < MAPIO__CRC32C_INTERLEAVE_MIN)
        return serial(st, p, n);
    size_t head = (size_t)(-(uintptr_t)p & 7);
    st = serial(st, p, head);
    p += head;
    n -= head;
    const struct tables *t = get_tables();
    if (t == NULL) /* another thread is building them */
        return serial(st, p, n);
    for (size_t l = 0; l < LEVELS; l++) {
        size_t stride = level_len[l];
        for (; n >= 3 * stride; p += 3 * stride, n -= 3 * stride) {
            uint32_t s[3] = { st, 0, 0 };
            streams3(s, p, stride);
            st = shift(t->shift[l], shift(t->shift[l], s[0]) ^ s[1]) ^ s[2];
        }
    }
    return serial(st, p, n);
}

/* ---- dispatch ------------------------------------------------------------------- */

typedef uint32_t (*crc_fn)(uint32_t crc, const void *buf, size_t len);

static uint32_t first_call(uint32_t crc, const void *buf, size_t len);

/* What mapio_crc32c calls: first_call until the choice is made, then the
 * implementation itself, so a call costs one load and one indirect jump (a
 * flag tested before a direct call measured about 20% slower on 64 bytes).
 * Relaxed is enough: the pointer publishes no data (the tables have their
 * own release/acquire) and every thread that races to choose stores the
 * same value. */
static _Atomic(crc_fn) impl = first_call;

static crc_fn choose(void)
{
    crc_fn f = mapio__crc32c_hw_probe() != NULL ? mapio__crc32c_hw : mapio__crc32c_table;
    atomic_store_explicit(&impl, f, memory_order_relaxed);
    return f;
}

static uint32_t first_call(uint32_t crc, const void *buf, size_t len)
{
    return choose()(crc, buf, len);
}

uint32_t mapio_crc32c(uint32_t crc, const void *buf, size_t len)
{
    return atomic_load_explicit(&impl, memory_order_relaxed)(crc, buf, len);
}

const char *mapio_crc32c_impl(void)
{
    crc_fn f = atomic_load_explicit(&impl, memory_order_relaxed);
    if (f == first_call)
        f = choose();
    return f == mapio__crc32c_hw ? mapio__crc32c_hw_probe() : "table";
}
