/*
 * wal/wal_scan.h - reading one segment's frames out of a byte buffer: the
 * frame check, the scanner that walks a segment and says where and why its
 * valid part ends, the record iterator, and the look-ahead search recovery
 * uses past that end. Zero-copy, no allocation, no I/O: the log reads or
 * maps a segment and hands the bytes in. Never installed.
 *
 * Guarantees (docs/wal.md, "What the scanner guarantees"): every access
 * stays inside [buf, buf + n); a frame's lengths and count are checked
 * against the room left in the segment before any CRC is computed, so a
 * garbage length costs nothing; every frame returned has lsn == its
 * position, an intact CRC seeded from the log, and records whose lengths
 * add up to exactly its payload.
 */
#ifndef MAPIO_WAL_SCAN_H
#define MAPIO_WAL_SCAN_H

#include "wal_format.h"

/* A frame in the caller's buffer. */
typedef struct mapio__wal_frame {
    const unsigned char *hdr;     /* its first byte, inside the buffer */
    const unsigned char *payload; /* hdr + 32: len bytes */
    uint64_t lsn;                 /* == the position it was found at */
    uint64_t watermark;           /* the log's durable LSN when it was written */
    uint32_t len;                 /* payload bytes */
    uint32_t count;               /* records (0 for a PAD) */
    uint32_t size;                /* bytes it takes in the segment, padding included */
    uint16_t type;                /* MAPIO__WAL_TYPE_BATCH or _PAD */
} mapio__wal_frame_t;

/* What is wrong with the bytes at a frame position, in the order the checks
 * run (cheap ones first; CRC and record walk last). */
typedef enum mapio__wal_frame_err {
    MAPIO__WAL_FRAME_OK = 0,
    MAPIO__WAL_FRAME_ZERO,      /* the header is all zero: never written */
    MAPIO__WAL_FRAME_LSN,       /* lsn != position: stale, misdirected, or garbage */
    MAPIO__WAL_FRAME_FLAGS,     /* reserved flags not 0 */
    MAPIO__WAL_FRAME_TYPE,      /* neither BATCH nor PAD */
    MAPIO__WAL_FRAME_LEN,       /* len past the segment end (a PAD's not exactly to it) */
    MAPIO__WAL_FRAME_COUNT,     /* count cannot fit len (>= 4 bytes a record), or a PAD's != 0 */
    MAPIO__WAL_FRAME_WATERMARK, /* watermark > lsn: no frame is durable before it is written */
    MAPIO__WAL_FRAME_TRUNCATED, /* the frame runs past the bytes given (a short file) */
    MAPIO__WAL_FRAME_CRC,       /* the CRC does not hold */
    MAPIO__WAL_FRAME_RECORDS,   /* the record lengths do not add up to len */
    MAPIO__WAL_FRAME_STALE,     /* (scanner only) a whole frame of this segment's earlier life */
} mapio__wal_frame_err_t;

/* "crc", "lsn", ...: a static string, never NULL. */
const char *mapio__wal_frame_err_name(int err);

/*
 * mapio__wal_frame_check - is there a valid frame at offset off of the
 * segment whose byte 0 is LSN base? seg holds the segment's first n bytes
 * (n <= seg_size), off is a multiple of align with off + 32 <= seg_size and
 * off + 32 <= n (the caller handles positions nearer the end). On success
 * fills *out and returns MAPIO__WAL_FRAME_OK.
 */
mapio__wal_frame_err_t mapio__wal_frame_check(const unsigned char *seg, size_t n, uint64_t seg_size,
                                              uint64_t base, uint64_t off, uint32_t align,
                                              uint32_t seed, mapio__wal_frame_t *out);

/* ---- the scanner ------------------------------------------------------------------ */

/* Why a segment's valid part ended. */
typedef enum mapio__wal_end {
    MAPIO__WAL_END_NONE = 0, /* still scanning */
    MAPIO__WAL_END_CLEAN,    /* the segment is complete: a PAD, its exact end, or a tail
                                too short for a frame header; the log goes on in the next */
    MAPIO__WAL_END_ZEROS,    /* nothing was written here: a zero header, or the buffer
                                ends at a frame boundary (a file shorter than S) */
    MAPIO__WAL_END_INVALID,  /* a frame that does not check out: see why */
} mapio__wal_end_t;

/* For MAPIO__WAL_END_CLEAN, why says which. */
#define MAPIO__WAL_CLEAN_PAD 1  /* a PAD frame at off */
#define MAPIO__WAL_CLEAN_TAIL 2 /* fewer than 32 bytes left at off (ignored, written zero) */
#define MAPIO__WAL_CLEAN_END 3  /* off == seg_size */

/* The scanner's state: the caller's struct, a few words, no allocation.
 * Read end, why and off (the end's offset) once next returns 0. */
typedef struct mapio__wal_scan {
    const unsigned char *buf;
    size_t n;            /* bytes of the segment given */
    uint64_t seg_size;   /* S */
    uint64_t base;       /* LSN of the segment's byte 0 */
    uint64_t off;        /* offset of the next frame; at the end, of the end */
    uint64_t prefetched; /* memory asked for up to here */
    uint32_t align;      /* of this segment's frames, from its header */
    uint32_t seed;       /* the frame CRC seed */
    mapio__wal_end_t end;
    int why; /* END_INVALID: a mapio__wal_frame_err_t; END_ZEROS: FRAME_ZERO,
                FRAME_TRUNCATED (the buffer ends) or FRAME_STALE (a recycled
                segment's old frame); END_CLEAN: MAPIO__WAL_CLEAN_* */
} mapio__wal_scan_t;

/*
 * mapio__wal_scan_init - scan the n bytes at buf as the start of segment
 * segno of f's log (n <= S: a file may be shorter than S), starting at
 * offset start_off (>= H, a multiple of align, <= S), with frames aligned
 * to align (the segment header's: 8, or its block size). buf may be NULL
 * when n is 0. Returns 0 or MAPIO_EINVAL.
 */
int mapio__wal_scan_init(mapio__wal_scan_t *s, const mapio__wal_fmt_t *f, uint64_t segno,
                         uint32_t align, const void *buf, size_t n, uint64_t start_off);

/*
 * mapio__wal_scan_next - the next frame: 1 with *fr filled (a BATCH: PADs
 * end the scan), or 0 at the end, with s->end, s->why and s->off saying
 * where and why. Calls after the end return 0 again.
 */
int mapio__wal_scan_next(mapio__wal_scan_t *s, mapio__wal_frame_t *fr);

/* The LSN where the valid part ended (valid once next has returned 0). */
static inline uint64_t mapio__wal_scan_end_lsn(const mapio__wal_scan_t *s)
{
    return s->base + s->off;
}

/* ---- records ------------------------------------------------------------------------ */

typedef struct mapio__wal_rec_iter {
    const unsigned char *p, *end;
    uint64_t lsn; /* of the next record's length field */
} mapio__wal_rec_iter_t;

/* Iterate the records of a frame the scanner returned. */
static inline void mapio__wal_rec_begin(mapio__wal_rec_iter_t *it, const mapio__wal_frame_t *fr)
{
    it->p = fr->payload;
    it->end = fr->payload + (fr->type == MAPIO__WAL_TYPE_BATCH ? fr->len : 0);
    it->lsn = fr->lsn + MAPIO__WAL_FRAME_HDR;
}

/* The next record: 1 with its bytes, length and LSN (frame lsn + 32 + the
 * offset of its length field), or 0 after the last. The bounds are checked
 * again (two compares), so even a frame that did not come from the scanner
 * is never read past its payload. */
static inline int mapio__wal_rec_next(mapio__wal_rec_iter_t *it, const void **data, uint32_t *len,
                                      uint64_t *lsn)
{
    size_t left = (size_t)(it->end - it->p);
    if (left < MAPIO__WAL_REC_HDR)
        return 0;
    uint32_t l = mapio__wal_get32(it->p);
    if (l > left - MAPIO__WAL_REC_HDR)
        return 0;
    *data = it->p + MAPIO__WAL_REC_HDR;
    *len = l;
    if (lsn != NULL)
        *lsn = it->lsn;
    it->p += MAPIO__WAL_REC_HDR + l;
    it->lsn += MAPIO__WAL_REC_HDR + l;
    return 1;
}

/* ---- look-ahead ---------------------------------------------------------------------- */

/* What a search past the end of the valid log found. Zero it before the
 * first search; searches accumulate. */
typedef struct mapio__wal_seen {
    uint64_t frames;     /* valid frames (BATCH or PAD) found */
    uint64_t max_wm;     /* the highest watermark among them */
    uint64_t max_wm_lsn; /* the frame that carries it (0: none found) */
    uint64_t last_end;   /* the end of the last bytes a found frame wrote (0: none) */
} mapio__wal_seen_t;

/*
 * mapio__wal_lookahead - search segment segno's bytes [from_off, n) for
 * valid frames, at every multiple of align (0: the header is unreadable, try
 * every 8 bytes, which covers any alignment). A cheap pre-filter (the lsn
 * field must equal the position) rejects almost every position before its
 * CRC is computed; a frame found is skipped whole, so nothing inside its
 * payload is taken for a frame. A PAD ends the search in that segment.
 * Adds what it finds to *acc.
 */
void mapio__wal_lookahead(const mapio__wal_fmt_t *f, uint64_t segno, uint32_t align,
                          const void *buf, size_t n, uint64_t from_off, mapio__wal_seen_t *acc);

#endif
