/*
 * wal/crc32c_none.c - CRC-32C on an architecture (or compiler) for which
 * mapio has no CPU path: the table does everything.
 */
#include "crc32c.h"

uint32_t mapio__crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
    return mapio__crc32c_table(crc, buf, len);
}

const char *mapio__crc32c_hw_probe(void)
{
    return NULL;
}

uint32_t mapio__crc32c_hw_1way(uint32_t crc, const void *buf, size_t len)
{
    return mapio__crc32c_table(crc, buf, len);
}
