/*
 * wal/wal_format.h - the write-ahead log's on-disk format: geometry and LSN
 * arithmetic, the segment header, and the frame encoder. Pure: no file I/O,
 * no allocation, no global state; every function works on caller buffers.
 * Never installed. docs/wal.md describes the format field by field.
 *
 * The log's address space is LSNs, byte positions: segment k holds LSNs
 * [k * S, (k + 1) * S) for a fixed power-of-two segment size S. Each segment
 * starts with a MAPIO__WAL_SEGHDR_SIZE-byte header; frames (one append batch
 * each) follow, aligned to 8 bytes, or to the block size of an O_DIRECT log.
 *
 * Multi-byte fields are little-endian on every host, read and written through
 * the helpers below, so the code is right on big-endian machines and never
 * makes an unaligned access.
 */
#ifndef MAPIO_WAL_FORMAT_H
#define MAPIO_WAL_FORMAT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mapio/errno.h"
#include "mapio/platform.h"

/* The error a recovery policy refuses a log with (a corrupt frame before
 * the tail; under MAPIO__WAL_ABSOLUTE any invalid frame): what ext4 returns
 * for a metadata checksum mismatch. */
#define MAPIO__WAL_EBADMSG MAPIO_EBADMSG

/* ---- constants --------------------------------------------------------------- */

#define MAPIO__WAL_MAGIC "mapiowal" /* 8 bytes, no terminator on disk */
#define MAPIO__WAL_VERSION 1u
#define MAPIO__WAL_SEGHDR_SIZE 4096u /* H: the first frame stays O_DIRECT-aligned */
#define MAPIO__WAL_SEGHDR_USED 64u   /* the header's fields; bytes up to H are zero */
#define MAPIO__WAL_FRAME_HDR 32u     /* every frame's header */
#define MAPIO__WAL_REC_HDR 4u        /* a record's length field */
#define MAPIO__WAL_BUFFERED_ALIGN 8u /* frame alignment without O_DIRECT */
#define MAPIO__WAL_MIN_SEG_SHIFT 16u /* S >= 64 KiB */
#define MAPIO__WAL_MAX_SEG_SHIFT 32u /* S <= 4 GiB: a PAD's u32 len reaches the end */
#define MAPIO__WAL_MIN_BLOCK 512u    /* O_DIRECT block sizes: powers of two ... */
#define MAPIO__WAL_MAX_BLOCK 4096u   /* ... that divide H */

/* Frame types (u16 at offset 28). */
#define MAPIO__WAL_TYPE_BATCH 1u /* count records */
#define MAPIO__WAL_TYPE_PAD 2u   /* the rest of the segment is unused */

/* ---- little-endian fields ------------------------------------------------------ */

/* memcpy keeps the access legal at any alignment and compiles to one load
 * or store; on a big-endian host (or one that does not say) the bytes are
 * assembled one by one, which is right everywhere. MAPIO__WAL_PORTABLE_LE
 * forces that path so a little-endian build can test it. */
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && !defined(MAPIO__WAL_PORTABLE_LE)
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define MAPIO__WAL_HOST_LE 1
#endif
#endif

static inline uint16_t mapio__wal_get16(const unsigned char *p)
{
#ifdef MAPIO__WAL_HOST_LE
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
#else
    return (uint16_t)(p[0] | p[1] << 8);
#endif
}

static inline uint32_t mapio__wal_get32(const unsigned char *p)
{
#ifdef MAPIO__WAL_HOST_LE
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
#else
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
#endif
}

static inline uint64_t mapio__wal_get64(const unsigned char *p)
{
#ifdef MAPIO__WAL_HOST_LE
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
#else
    return (uint64_t)mapio__wal_get32(p) | (uint64_t)mapio__wal_get32(p + 4) << 32;
#endif
}

static inline void mapio__wal_put16(unsigned char *p, uint16_t v)
{
#ifdef MAPIO__WAL_HOST_LE
    memcpy(p, &v, sizeof v);
#else
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
#endif
}

static inline void mapio__wal_put32(unsigned char *p, uint32_t v)
{
#ifdef MAPIO__WAL_HOST_LE
    memcpy(p, &v, sizeof v);
#else
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
#endif
}

static inline void mapio__wal_put64(unsigned char *p, uint64_t v)
{
    mapio__wal_put32(p, (uint32_t)v);
    mapio__wal_put32(p + 4, (uint32_t)(v >> 32));
}

/* ---- geometry --------------------------------------------------------------------- */

/*
 * One log's constants, derived once by mapio__wal_fmt_init and passed to
 * everything else. align and block_size describe how this writer places new
 * frames; a reader takes each segment's alignment from that segment's
 * header instead (a log may be reopened with or without O_DIRECT).
 */
typedef struct mapio__wal_fmt {
    uint64_t log_id;      /* random, chosen when the log is created */
    uint64_t seg_size;    /* S */
    uint64_t max_segno;   /* the last segment whose end, (k + 1) * S, is an LSN */
    uint32_t max_payload; /* S - H - 32: one frame filling a segment */
    uint32_t block_size;  /* 0 buffered, else the O_DIRECT block */
    uint32_t align;       /* frames: block_size, or 8 when buffered */
    uint32_t seed;        /* the frame CRC's initial value, from log_id */
    unsigned seg_shift;   /* log2(S) */
} mapio__wal_fmt_t;

/* The frame CRC's seed: folds the log's id in, so a frame copied from
 * another log fails its CRC without a field of its own. */
static inline uint32_t mapio__wal_seed(uint64_t log_id)
{
    return (uint32_t)(log_id ^ (log_id >> 32));
}

/*
 * mapio__wal_fmt_init - the geometry of a log with this id, segment size
 * (a power of two in [64 KiB, 4 GiB]) and block size (0, or a power of two
 * in [512, 4096]). Returns 0 or MAPIO_EINVAL (*f untouched).
 */
int mapio__wal_fmt_init(mapio__wal_fmt_t *f, uint64_t log_id, uint64_t seg_size,
                        uint32_t block_size);

/* 1 if b is a valid segment-header block size (0 or a power of two in
 * [512, 4096]), else 0; mapio__wal_align_of gives the frame alignment. */
static inline int mapio__wal_block_ok(uint32_t b)
{
    return b == 0 || (b >= MAPIO__WAL_MIN_BLOCK && b <= MAPIO__WAL_MAX_BLOCK && (b & (b - 1)) == 0);
}

static inline uint32_t mapio__wal_align_of(uint32_t block_size)
{
    return block_size != 0 ? block_size : MAPIO__WAL_BUFFERED_ALIGN;
}

/* The segment that holds lsn, and lsn's offset inside it. */
static inline uint64_t mapio__wal_segno(const mapio__wal_fmt_t *f, uint64_t lsn)
{
    return lsn >> f->seg_shift;
}

static inline uint64_t mapio__wal_seg_off(const mapio__wal_fmt_t *f, uint64_t lsn)
{
    return lsn & (f->seg_size - 1);
}

/* The LSN of segment k's byte 0, and of its first frame (k <= max_segno). */
static inline uint64_t mapio__wal_seg_base(const mapio__wal_fmt_t *f, uint64_t k)
{
    return k << f->seg_shift;
}

static inline uint64_t mapio__wal_first_lsn(const mapio__wal_fmt_t *f, uint64_t k)
{
    return (k << f->seg_shift) + MAPIO__WAL_SEGHDR_SIZE;
}

/* x rounded up to a (a power of two); x + a must not overflow. */
static inline uint64_t mapio__wal_round_up(uint64_t x, uint64_t a)
{
    return (x + a - 1) & ~(a - 1);
}

/* ---- segment header ------------------------------------------------------------------ */

/* Offsets inside the header (docs/wal.md has the table). */
#define MAPIO__WAL_SH_MAGIC 0
#define MAPIO__WAL_SH_VERSION 8
#define MAPIO__WAL_SH_CRC 12
#define MAPIO__WAL_SH_LOG_ID 16
#define MAPIO__WAL_SH_SEGNO 24
#define MAPIO__WAL_SH_SEG_SIZE 32
#define MAPIO__WAL_SH_BLOCK_SIZE 40
#define MAPIO__WAL_SH_RESERVED 44 /* to 64: zero */

typedef struct mapio__wal_seghdr {
    uint64_t log_id;
    uint64_t segno;
    uint64_t seg_size;
    uint32_t block_size; /* 0: buffered, frames 8-aligned */
} mapio__wal_seghdr_t;

/* What is wrong with a segment header, in the order the checks run. */
typedef enum mapio__wal_hdr_err {
    MAPIO__WAL_HDR_OK = 0,
    MAPIO__WAL_HDR_SHORT,      /* fewer than 64 bytes */
    MAPIO__WAL_HDR_MAGIC,      /* not "mapiowal" (a zeroed or foreign file) */
    MAPIO__WAL_HDR_VERSION,    /* a version this code does not read */
    MAPIO__WAL_HDR_CRC,        /* the header CRC does not hold */
    MAPIO__WAL_HDR_RESERVED,   /* bytes 44..63 are not zero */
    MAPIO__WAL_HDR_SEG_SIZE,   /* not a power of two in [64 KiB, 4 GiB], or not this log's */
    MAPIO__WAL_HDR_BLOCK_SIZE, /* not 0 or a power of two in [512, 4096] */
    MAPIO__WAL_HDR_SEGNO,      /* beyond the last usable segment, or not the expected one */
    MAPIO__WAL_HDR_LOG_ID,     /* another log's segment */
} mapio__wal_hdr_err_t;

/* "magic", "crc", ...: a static string for logs and tests, never NULL. */
const char *mapio__wal_hdr_err_name(int err);

/*
 * mapio__wal_seghdr_encode - write a whole MAPIO__WAL_SEGHDR_SIZE-byte
 * header for h at dst (the fields, their CRC, zeros to the end). Returns 0,
 * or MAPIO_EINVAL if h has a field decode would refuse (nothing written).
 */
int mapio__wal_seghdr_encode(void *dst, const mapio__wal_seghdr_t *h);

/*
 * mapio__wal_seghdr_decode - validate the header in the first len bytes of
 * buf and fill *out (when not NULL) if it is intact. Only the first 64
 * bytes are read; the zeros after them are not checked (the CRC does not
 * cover them and they carry nothing). Returns MAPIO__WAL_HDR_OK or the
 * first check that failed.
 */
mapio__wal_hdr_err_t mapio__wal_seghdr_decode(const void *buf, size_t len,
                                              mapio__wal_seghdr_t *out);

/*
 * mapio__wal_seghdr_check - decode, then require the header to be segment
 * segno of the log f describes (its id and segment size). On success
 * *align (when not NULL) is the alignment of the segment's frames.
 */
mapio__wal_hdr_err_t mapio__wal_seghdr_check(const mapio__wal_fmt_t *f, const void *buf, size_t len,
                                             uint64_t segno, uint32_t *align);

/* ---- frames ------------------------------------------------------------------------- */

/* Offsets inside a frame header. The CRC covers bytes [4, 32) and then the
 * payload, which follows at 32: one contiguous run. */
#define MAPIO__WAL_FH_CRC 0
#define MAPIO__WAL_FH_LEN 4
#define MAPIO__WAL_FH_LSN 8
#define MAPIO__WAL_FH_WATERMARK 16
#define MAPIO__WAL_FH_COUNT 24
#define MAPIO__WAL_FH_TYPE 28
#define MAPIO__WAL_FH_FLAGS 30

/* The frame CRC over the contiguous bytes from header offset 4 to the end of
 * the payload (28 + len bytes at hdr + 4), seeded from the log. */
uint32_t mapio__wal_frame_crc(uint32_t seed, const unsigned char *hdr, uint32_t len);

/* The payload bytes of a BATCH of n records: the sum of 4 + rec[i].iov_len.
 * UINT64_MAX if a record is longer than 4 GiB - 1 or the sum overflows. */
uint64_t mapio__wal_batch_payload(const mapio_iovec_t *rec, size_t n);

/* The bytes a frame with payload bytes of payload takes in the segment:
 * header and payload rounded up to f's alignment. 0 if it can never fit a
 * segment (payload > f->max_payload). What a writer reserves. */
static inline uint64_t mapio__wal_frame_size(const mapio__wal_fmt_t *f, uint64_t payload)
{
    if (payload > f->max_payload)
        return 0;
    return mapio__wal_round_up(MAPIO__WAL_FRAME_HDR + payload, f->align);
}

/*
 * mapio__wal_encode_batch - write one BATCH frame of the n records at dst:
 * the header (lsn, watermark, CRC seeded from f->log_id), each record as
 * u32 length then its bytes, and zeros to the frame size. n may be 0 (a
 * frame that carries only a watermark, see docs/wal.md); records may be
 * empty. lsn must be an f->align-aligned position in a segment's frame area
 * with room for the whole frame before the segment end, watermark <= lsn.
 * Returns the frame size (== mapio__wal_frame_size of the payload), or
 * MAPIO_EINVAL (a bad lsn, watermark, or record pointer), MAPIO_EFBIG (the
 * records never fit one frame), MAPIO_ERANGE (the frame does not fit
 * between lsn and its segment's end: see mapio__wal_place), MAPIO_ENOSPC
 * (cap is smaller than the frame). Nothing is written on error.
 */
int64_t mapio__wal_encode_batch(const mapio__wal_fmt_t *f, void *dst, size_t cap, uint64_t lsn,
                                uint64_t watermark, const mapio_iovec_t *rec, size_t n);

/*
 * mapio__wal_encode_pad - write the PAD frame that closes lsn's segment
 * (its len reaches the segment end; its CRC covers the header alone), then
 * zeros up to f->align, so the result is one O_DIRECT-writable block.
 * Needs lsn aligned and at least 32 bytes before the segment end, watermark
 * <= lsn. Returns the bytes to write (32 rounded up to f->align), or
 * MAPIO_EINVAL / MAPIO_ENOSPC as above.
 */
int64_t mapio__wal_encode_pad(const mapio__wal_fmt_t *f, void *dst, size_t cap, uint64_t lsn,
                              uint64_t watermark);

/*
 * Where a frame of size bytes goes if the log's next free LSN is lsn: at lsn
 * if it fits before the segment end; else a PAD closes the segment at
 * pad_lsn (0 when fewer than 32 bytes are left: they stay zero) and the
 * frame opens the next segment. next_lsn is the new next free LSN. An lsn at
 * a segment's byte 0 means that segment's first frame.
 */
typedef struct mapio__wal_place {
    uint64_t frame_lsn;
    uint64_t pad_lsn; /* 0: no PAD needed */
    uint64_t next_lsn;
} mapio__wal_place_t;

/* Returns 0, MAPIO_EINVAL (lsn inside a header or misaligned, size not a
 * frame size of f), MAPIO_EOVERFLOW (past the last segment). */
int mapio__wal_place(const mapio__wal_fmt_t *f, uint64_t lsn, uint64_t size,
                     mapio__wal_place_t *out);

#endif
