/*
 * mapio.h - async file I/O for storage engines, log writers and WALs.
 *
 * Everything in one include: the engine (mapio/engine.h), fault injection
 * and simulated power loss (mapio/fault.h), CRC-32C (mapio/crc32c.h), the
 * write-ahead log on group commit (mapio/wal.h) and the
 * memory-mapping toolkit (mapio/map.h, mapio/ranges.h, mapio/ring.h,
 * mapio/vec.h), each of which also stands alone. The libev adapter is
 * mapio/ev.h, in its own library (mapio-ev).
 */
#ifndef MAPIO_H
#define MAPIO_H

#define MAPIO_VERSION_MAJOR 0
#define MAPIO_VERSION_MINOR 1
#define MAPIO_VERSION_PATCH 0

#include "mapio/platform.h"
#include "mapio/errno.h"
#include "mapio/engine.h"
#include "mapio/fault.h"
#include "mapio/crc32c.h"
#include "mapio/wal.h"
#include "mapio/map.h"
#include "mapio/ranges.h"
#include "mapio/ring.h"
#include "mapio/vec.h"

#endif
