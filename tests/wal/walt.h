/*
 * tests/wal/walt.h - helpers shared by the WAL format tests: segments in
 * memory, records with checkable contents, a scan that collects frames, and
 * a CRC-32C written from the definition so the tests never check the
 * library against itself.
 */
#ifndef MAPIO_TESTS_WALT_H
#define MAPIO_TESTS_WALT_H

#include <stddef.h>
#include <stdint.h>

#include "wal_recover.h"

#define WALT_SEG ((uint64_t)64 << 10) /* the smallest segment: many of them fit */

/* CRC-32C one bit at a time (chainable like mapio_crc32c). */
uint32_t walt_crc(uint32_t crc, const void *buf, size_t len);

/* A geometry, asserting it is valid. */
mapio__wal_fmt_t walt_fmt(uint64_t log_id, uint64_t seg_size, uint32_t block_size);

/* A zeroed segment of f->seg_size bytes with segment segno's header (free()). */
unsigned char *walt_segment(const mapio__wal_fmt_t *f, uint64_t segno);

/* Byte i of record r of a frame at lsn: contents that differ between
 * records, frames and positions, so a record read from the wrong place or a
 * stale frame is caught. */
unsigned char walt_byte(uint64_t lsn, uint32_t r, uint32_t i);

/* A batch of n records at lsn with these lengths, contents walt_byte: fills
 * rec[] (pointing into store, which needs the sum of the lengths). */
void walt_batch(uint64_t lsn, const uint32_t *lens, size_t n, unsigned char *store,
                mapio_iovec_t *rec);

/* Encode that batch into seg (segment segno of f) at lsn with watermark
 * wm; asserts success and returns the frame size. */
uint32_t walt_put(const mapio__wal_fmt_t *f, unsigned char *seg, uint64_t lsn, uint64_t wm,
                  const uint32_t *lens, size_t n);

/* Whether frame fr holds exactly the batch walt_put wrote with those lengths
 * (its records read back through the record iterator). */
int walt_frame_is(const mapio__wal_frame_t *fr, const uint32_t *lens, size_t n);

/* Scan a segment from start_off: up to max frames into out (may be NULL),
 * the scanner's final state in *s. Returns the number of frames. */
size_t walt_scan(const mapio__wal_fmt_t *f, uint64_t segno, uint32_t align,
                 const unsigned char *buf, size_t n, uint64_t start_off, mapio__wal_frame_t *out,
                 size_t max, mapio__wal_scan_t *s);

/* ---- a log in memory ------------------------------------------------------------------ */

#define WALT_MAXSEG 64

/* Segments 0 .. nseg-1 of WALT_SEG bytes, appended to as a writer does. */
typedef struct walt_log {
    mapio__wal_fmt_t f;
    unsigned char *seg[WALT_MAXSEG];
    uint64_t nseg;
    uint64_t next; /* the next free LSN */
} walt_log_t;

void walt_log_init(walt_log_t *l, uint64_t log_id, uint32_t block_size);
void walt_log_free(walt_log_t *l);

/* Append a batch with watermark wm (UINT64_MAX: the frame's own LSN, i.e.
 * everything before it durable). A frame that does not fit closes the
 * segment with a PAD (watermark min(wm, its LSN)) and opens the next.
 * Returns the frame's LSN, its size in *size (may be NULL). */
uint64_t walt_log_append(walt_log_t *l, uint64_t wm, const uint32_t *lens, size_t n,
                         uint32_t *size);

/* The byte at lsn (in an existing segment). */
unsigned char *walt_log_at(walt_log_t *l, uint64_t lsn);

/* The segments as recovery takes them (all nseg of them). */
size_t walt_log_segs(const walt_log_t *l, mapio__wal_seg_in_t *out);

#endif
