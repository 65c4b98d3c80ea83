/*
 * wal/wal_format.c - geometry, the segment header and the frame encoder.
 */
#include "wal_format.h"

#include "mapio/crc32c.h"
#include "mapio/errno.h"

static unsigned log2_exact(uint64_t x)
{
    unsigned s = 0;
    while (((uint64_t)1 << s) < x)
        s++;
    return s;
}

static int seg_size_ok(uint64_t s)
{
    return s >= ((uint64_t)1 << MAPIO__WAL_MIN_SEG_SHIFT) &&
           s <= ((uint64_t)1 << MAPIO__WAL_MAX_SEG_SHIFT) && (s & (s - 1)) == 0;
}

/* The last segment number whose end (k + 1) * S still fits in 64 bits, so
 * every position and every frame end is an LSN and nothing wraps. */
static uint64_t max_segno(unsigned shift)
{
    return (UINT64_MAX >> shift) - 1;
}

int mapio__wal_fmt_init(mapio__wal_fmt_t *f, uint64_t log_id, uint64_t seg_size,
                        uint32_t block_size)
{
    if (f == NULL || !seg_size_ok(seg_size) || !mapio__wal_block_ok(block_size))
        return MAPIO_EINVAL;
    unsigned shift = log2_exact(seg_size);
    *f = (mapio__wal_fmt_t){
        .log_id = log_id,
        .seg_size = seg_size,
        .max_segno = max_segno(shift),
        .max_payload = (uint32_t)(seg_size - MAPIO__WAL_SEGHDR_SIZE - MAPIO__WAL_FRAME_HDR),
        .block_size = block_size,
        .align = mapio__wal_align_of(block_size),
        .seed = mapio__wal_seed(log_id),
        .seg_shift = shift,
    };
    return 0;
}

/* ---- segment header ------------------------------------------------------------ */

const char *mapio__wal_hdr_err_name(int err)
{
    switch (err) {
    case MAPIO__WAL_HDR_OK:
        return "ok";
    case MAPIO__WAL_HDR_SHORT:
        return "short";
    case MAPIO__WAL_HDR_MAGIC:
        return "magic";
    case MAPIO__WAL_HDR_VERSION:
        return "version";
    case MAPIO__WAL_HDR_CRC:
        return "crc";
    case MAPIO__WAL_HDR_RESERVED:
        return "reserved";
    case MAPIO__WAL_HDR_SEG_SIZE:
        return "segment size";
    case MAPIO__WAL_HDR_BLOCK_SIZE:
        return "block size";
    case MAPIO__WAL_HDR_SEGNO:
        return "segment number";
    case MAPIO__WAL_HDR_LOG_ID:
        return "log id";
    }
    return "unknown";
}

/* The CRC of the 60 header bytes around the CRC field, unseeded: the log's
 * id is among them. */
static uint32_t seghdr_crc(const unsigned char *p)
{
    uint32_t crc = mapio_crc32c(0, p, MAPIO__WAL_SH_CRC);
    return mapio_crc32c(crc, p + MAPIO__WAL_SH_LOG_ID,
                        MAPIO__WAL_SEGHDR_USED - MAPIO__WAL_SH_LOG_ID);
}

int mapio__wal_seghdr_encode(void *dst, const mapio__wal_seghdr_t *h)
{
    if (dst == NULL || h == NULL || !seg_size_ok(h->seg_size) ||
        !mapio__wal_block_ok(h->block_size) || h->segno > max_segno(log2_exact(h->seg_size)))
        return MAPIO_EINVAL;
    unsigned char *p = dst;
    memset(p, 0, MAPIO__WAL_SEGHDR_SIZE);
    memcpy(p + MAPIO__WAL_SH_MAGIC, MAPIO__WAL_MAGIC, 8);
    mapio__wal_put32(p + MAPIO__WAL_SH_VERSION, MAPIO__WAL_VERSION);
    mapio__wal_put64(p + MAPIO__WAL_SH_LOG_ID, h->log_id);
    mapio__wal_put64(p + MAPIO__WAL_SH_SEGNO, h->segno);
    mapio__wal_put64(p + MAPIO__WAL_SH_SEG_SIZE, h->seg_size);
    mapio__wal_put32(p + MAPIO__WAL_SH_BLOCK_SIZE, h->block_size);
    mapio__wal_put32(p + MAPIO__WAL_SH_CRC, seghdr_crc(p));
    return 0;
}

mapio__wal_hdr_err_t mapio__wal_seghdr_decode(const void *buf, size_t len, mapio__wal_seghdr_t *out)
{
    const unsigned char *p = buf;
    if (p == NULL || len < MAPIO__WAL_SEGHDR_USED)
        return MAPIO__WAL_HDR_SHORT;
    if (memcmp(p + MAPIO__WAL_SH_MAGIC, MAPIO__WAL_MAGIC, 8) != 0)
        return MAPIO__WAL_HDR_MAGIC;
    /* Before the CRC: a later version may lay the rest out differently, and
     * should be named as such rather than as damage. */
    if (mapio__wal_get32(p + MAPIO__WAL_SH_VERSION) != MAPIO__WAL_VERSION)
        return MAPIO__WAL_HDR_VERSION;
    if (mapio__wal_get32(p + MAPIO__WAL_SH_CRC) != seghdr_crc(p))
        return MAPIO__WAL_HDR_CRC;
    for (unsigned i = MAPIO__WAL_SH_RESERVED; i < MAPIO__WAL_SEGHDR_USED; i++)
        if (p[i] != 0)
            return MAPIO__WAL_HDR_RESERVED;
    mapio__wal_seghdr_t h = {
        .log_id = mapio__wal_get64(p + MAPIO__WAL_SH_LOG_ID),
        .segno = mapio__wal_get64(p + MAPIO__WAL_SH_SEGNO),
        .seg_size = mapio__wal_get64(p + MAPIO__WAL_SH_SEG_SIZE),
        .block_size = mapio__wal_get32(p + MAPIO__WAL_SH_BLOCK_SIZE),
    };
    if (!seg_size_ok(h.seg_size))
        return MAPIO__WAL_HDR_SEG_SIZE;
    if (!mapio__wal_block_ok(h.block_size))
        return MAPIO__WAL_HDR_BLOCK_SIZE;
    if (h.segno > max_segno(log2_exact(h.seg_size)))
        return MAPIO__WAL_HDR_SEGNO;
    if (out != NULL)
        *out = h;
    return MAPIO__WAL_HDR_OK;
}

mapio__wal_hdr_err_t mapio__wal_seghdr_check(const mapio__wal_fmt_t *f, const void *buf, size_t len,
                                             uint64_t segno, uint32_t *align)
{
    mapio__wal_seghdr_t h;
    mapio__wal_hdr_err_t err = mapio__wal_seghdr_decode(buf, len, &h);
    if (err != MAPIO__WAL_HDR_OK)
        return err;
    if (h.seg_size != f->seg_size)
        return MAPIO__WAL_HDR_SEG_SIZE;
    if (h.segno != segno)
        return MAPIO__WAL_HDR_SEGNO;
    if (h.log_id != f->log_id)
        return MAPIO__WAL_HDR_LOG_ID;
    if (align != NULL)
        *align = mapio__wal_align_of(h.block_size);
    return MAPIO__WAL_HDR_OK;
}

/* ---- frames -------------------------------------------------------------------- */

uint32_t mapio__wal_frame_crc(uint32_t seed, const unsigned char *hdr, uint32_t len)
{
    return mapio_crc32c(seed, hdr + MAPIO__WAL_FH_LEN,
                        (size_t)(MAPIO__WAL_FRAME_HDR - MAPIO__WAL_FH_LEN) + len);
}

uint64_t mapio__wal_batch_payload(const mapio_iovec_t *rec, size_t n)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t l = (uint64_t)rec[i].iov_len;
        if (l > UINT32_MAX - MAPIO__WAL_REC_HDR)
            return UINT64_MAX;
        sum += MAPIO__WAL_REC_HDR + l;
        if (sum > UINT32_MAX) /* > any max_payload: stop before it can wrap */
            return UINT64_MAX;
    }
    return sum;
}

/* lsn is a frame position of f: aligned, in a segment's frame area, with at
 * least a frame header before the segment end, in a usable segment. */
static int frame_pos_ok(const mapio__wal_fmt_t *f, uint64_t lsn)
{
    uint64_t off = mapio__wal_seg_off(f, lsn);
    return (lsn & (f->align - 1)) == 0 && off >= MAPIO__WAL_SEGHDR_SIZE &&
           f->seg_size - off >= MAPIO__WAL_FRAME_HDR && mapio__wal_segno(f, lsn) <= f->max_segno;
}

static void put_header(unsigned char *h, uint32_t len, uint64_t lsn, uint64_t watermark,
                       uint32_t count, uint16_t type)
{
    mapio__wal_put32(h + MAPIO__WAL_FH_LEN, len);
    mapio__wal_put64(h + MAPIO__WAL_FH_LSN, lsn);
    mapio__wal_put64(h + MAPIO__WAL_FH_WATERMARK, watermark);
    mapio__wal_put32(h + MAPIO__WAL_FH_COUNT, count);
    mapio__wal_put16(h + MAPIO__WAL_FH_TYPE, type);
    mapio__wal_put16(h + MAPIO__WAL_FH_FLAGS, 0);
}

int64_t mapio__wal_encode_batch(const mapio__wal_fmt_t *f, void *dst, size_t cap, uint64_t lsn,
                                uint64_t watermark, const mapio_iovec_t *rec, size_t n)
{
    if (f == NULL || dst == NULL || (rec == NULL && n > 0) || !frame_pos_ok(f, lsn) ||
        watermark > lsn)
        return MAPIO_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (rec[i].iov_base == NULL && rec[i].iov_len > 0)
            return MAPIO_EINVAL;
    uint64_t payload = mapio__wal_batch_payload(rec, n);
    uint64_t size = payload == UINT64_MAX ? 0 : mapio__wal_frame_size(f, payload);
    if (size == 0)
        return MAPIO_EFBIG;
    if (size > f->seg_size - mapio__wal_seg_off(f, lsn))
        return MAPIO_ERANGE;
    if (size > cap)
        return MAPIO_ENOSPC;
    unsigned char *h = dst, *p = h + MAPIO__WAL_FRAME_HDR;
    put_header(h, (uint32_t)payload, lsn, watermark, (uint32_t)n, MAPIO__WAL_TYPE_BATCH);
    for (size_t i = 0; i < n; i++) {
        uint32_t l = (uint32_t)rec[i].iov_len;
        mapio__wal_put32(p, l);
        if (l > 0)
            memcpy(p + MAPIO__WAL_REC_HDR, rec[i].iov_base, l);
        p += MAPIO__WAL_REC_HDR + l;
    }
    memset(p, 0, (size_t)(size - MAPIO__WAL_FRAME_HDR - payload));
    mapio__wal_put32(h + MAPIO__WAL_FH_CRC, mapio__wal_frame_crc(f->seed, h, (uint32_t)payload));
    return (int64_t)size;
}

int64_t mapio__wal_encode_pad(const mapio__wal_fmt_t *f, void *dst, size_t cap, uint64_t lsn,
                              uint64_t watermark)
{
    if (f == NULL || dst == NULL || !frame_pos_ok(f, lsn) || watermark > lsn)
        return MAPIO_EINVAL;
    uint64_t size = mapio__wal_round_up(MAPIO__WAL_FRAME_HDR, f->align);
    if (size > cap)
        return MAPIO_ENOSPC;
    unsigned char *h = dst;
    uint32_t len = (uint32_t)(f->seg_size - mapio__wal_seg_off(f, lsn) - MAPIO__WAL_FRAME_HDR);
    memset(h, 0, (size_t)size);
    put_header(h, len, lsn, watermark, 0, MAPIO__WAL_TYPE_PAD);
    mapio__wal_put32(h + MAPIO__WAL_FH_CRC, mapio__wal_frame_crc(f->seed, h, 0));
    return (int64_t)size;
}

int mapio__wal_place(const mapio__wal_fmt_t *f, uint64_t lsn, uint64_t size,
                     mapio__wal_place_t *out)
{
    if (f == NULL || out == NULL || size < MAPIO__WAL_FRAME_HDR ||
        size > f->seg_size - MAPIO__WAL_SEGHDR_SIZE || (size & (f->align - 1)) != 0 ||
        (lsn & (f->align - 1)) != 0)
        return MAPIO_EINVAL;
    uint64_t k = mapio__wal_segno(f, lsn), off = mapio__wal_seg_off(f, lsn);
    if (k > f->max_segno)
        return MAPIO_EOVERFLOW;
    if (off == 0)
        off = MAPIO__WAL_SEGHDR_SIZE;
    else if (off < MAPIO__WAL_SEGHDR_SIZE)
        return MAPIO_EINVAL;
    uint64_t base = mapio__wal_seg_base(f, k);
    if (size <= f->seg_size - off) {
        *out = (mapio__wal_place_t){ base + off, 0, base + off + size };
        return 0;
    }
    if (k == f->max_segno)
        return MAPIO_EOVERFLOW;
    uint64_t pad = f->seg_size - off >= MAPIO__WAL_FRAME_HDR ? base + off : 0;
    uint64_t next = mapio__wal_first_lsn(f, k + 1);
    *out = (mapio__wal_place_t){ next, pad, next + size };
    return 0;
}
