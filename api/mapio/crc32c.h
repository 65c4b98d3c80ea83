/*
 * mapio/crc32c.h - CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of iSCSI, ext4, LevelDB and RocksDB, and of mapio's write-ahead
 * log records. Usable without the engine.
 *
 * The implementation is picked once, on first use, from what the CPU offers:
 * the SSE4.2 crc32 instruction on x86-64, the CRC extension on ARMv8, else a
 * portable table (slicing-by-8). All give the same values.
 */
#ifndef MAPIO_CRC32C_H
#define MAPIO_CRC32C_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "platform.h"

/*
 * mapio_crc32c - the CRC-32C of len bytes at buf, continuing from crc: pass 0
 * to start, or the value a previous call returned to go on, so that
 * mapio_crc32c(mapio_crc32c(0, a, na), b, nb) == mapio_crc32c(0, a || b,
 * na + nb). The usual pre- and post-inversion happen inside. Returns the
 * standard CRC-32C ("123456789" gives 0xE3069283). buf may be NULL when len
 * is 0 (crc is then returned as it is). No errors. Any thread, any number at
 * once: no state but the implementation chosen on the first call.
 */
MAPIO_EXTERN uint32_t mapio_crc32c(uint32_t crc, const void *buf, size_t len);

/*
 * mapio_crc32c_impl - the name of the implementation mapio_crc32c uses on
 * this CPU. Returns "sse4.2", "armv8" or "table": a static string, never
 * NULL, the same for the life of the process. No errors. Any thread.
 */
MAPIO_EXTERN const char *mapio_crc32c_impl(void);

#ifdef __cplusplus
}
#endif

#endif
