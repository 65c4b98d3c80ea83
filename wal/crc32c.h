/*
 * wal/crc32c.h - CRC-32C internals shared by the portable part (crc32c.c:
 * tables, dispatch, the stream-combining driver) and the CPU part meson picks
 * for the host architecture (crc32c_x86.c, crc32c_arm.c, crc32c_none.c).
 * Never installed.
 *
 * The functions named like the public one take and return the finished CRC
 * (inverted before and after, chainable from 0). The "raw" ones work on the
 * register itself, without the inversions, which is what the CPU instructions
 * compute and what lets independent streams be combined by XOR.
 */
#ifndef MAPIO_WAL_CRC32C_H
#define MAPIO_WAL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The portable slicing-by-8 path: the fallback, and the reference the tests
 * hold the CPU path to. Same contract as mapio_crc32c. */
uint32_t mapio__crc32c_table(uint32_t crc, const void *buf, size_t len);

/* One bit at a time, straight from the definition: what the table path
 * falls back on while another thread is still building the tables. Same
 * contract as mapio_crc32c. */
uint32_t mapio__crc32c_bitwise(uint32_t crc, const void *buf, size_t len);

/* The CPU's instructions, same contract as mapio_crc32c. Only valid when
 * mapio__crc32c_hw_probe() is not NULL (else it may trap); in a build for an
 * architecture without any it is the table. */
uint32_t mapio__crc32c_hw(uint32_t crc, const void *buf, size_t len);

/* The name of mapio__crc32c_hw's implementation ("sse4.2", "armv8") if this
 * CPU and build have one, else NULL. Cheap, any thread. */
const char *mapio__crc32c_hw_probe(void);

/* mapio__crc32c_hw without interleaving: one stream, one instruction after
 * the other. Only for the bench, to show what interleaving buys. */
uint32_t mapio__crc32c_hw_1way(uint32_t crc, const void *buf, size_t len);

/* ---- for the CPU files ------------------------------------------------------ */

/* Raw CRC of n bytes from register st, one stream. */
typedef uint32_t (*mapio__crc32c_serial_fn)(uint32_t st, const unsigned char *p, size_t n);

/* Raw CRCs of three adjacent streams of stride bytes each (p, p + stride,
 * p + 2 * stride; stride a multiple of 8, p 8-byte aligned), from registers
 * st[0..2], results back in st. Interleaving them hides the latency of the
 * CRC instruction: its throughput is about three times its latency. */
typedef void (*mapio__crc32c_streams3_fn)(uint32_t st[3], const unsigned char *p, size_t stride);

/* Raw CRC of n bytes from register st: cuts the buffer into three-stream
 * blocks, combines each block's streams with shift tables and runs the rest
 * through serial. */
uint32_t mapio__crc32c_interleave(uint32_t st, const unsigned char *p, size_t n,
                                  mapio__crc32c_serial_fn serial,
                                  mapio__crc32c_streams3_fn streams3);

/* Below this many bytes mapio__crc32c_interleave only calls serial, so a CPU
 * file may call serial itself and skip the driver. */
#define MAPIO__CRC32C_INTERLEAVE_MIN (3 * 128)

#endif
