/*
 * tests/wal/wal_fuzz.c - the WAL scanner and recovery on arbitrary bytes.
 *
 * One source, two programs. Built with -Dfuzz=true (clang) it is a
 * libFuzzer target, the wal sources compiled into it with coverage and
 * ASan/UBSan. Built without (any compiler, always) it is wal_fuzz_regress:
 *
 *   wal_fuzz_regress                  run the built-in seeds
 *   wal_fuzz_regress FILE|DIR...      run these inputs (a corpus, a crash)
 *   wal_fuzz_regress --write-seeds DIR   write the seed corpus there
 *
 * An input is one segment, or two consecutive ones, of a log with a fixed
 * id and 64 KiB segments:
 *
 *   byte 0     bit 0: two segments; bit 1: O_DIRECT (block 4096) headers;
 *              bit 2: the headers' first 64 bytes come from the input
 *              (else valid ones are made); bit 3: start at the offset
 *              below (else at the first frame); bit 4: make every frame's
 *              lsn and CRC right (so the fuzzer reaches the checks behind
 *              the CRC: counts, record lengths, PAD fields)
 *   bytes 1-2  (LE) with two segments: the first one's frame-area length / 8
 *   bytes 3-4  (LE) with bit 3: the start's offset past the header / 8
 *   [64 bytes] per segment if bit 2: its header
 *   the rest   the frame areas (the bytes after each 4096-byte header)
 *
 * Each segment is a heap block of exactly the size given, so any read past
 * it is an ASan report. For every frame the scanner returns, the target
 * checks that it lies inside the buffer at the LSN it claims, recomputes its
 * CRC with its own code, walks its records itself, and re-encodes them: the
 * encoder must give back the same bytes. Recovery runs under every policy,
 * and its answer is checked for consistency.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapio/errno.h"
#include "wal_recover.h"

#define FUZZ_LOG_ID 0x6d6170696f57414cull /* "LAWoipam" */
#define FUZZ_SEG ((uint64_t)64 << 10)
#define FUZZ_SEGNO 5
#define H MAPIO__WAL_SEGHDR_SIZE
#define FH MAPIO__WAL_FRAME_HDR

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failed property: print and abort, which both libFuzzer and the
 * regression driver report. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ---- the target's own reading of the format, shared with nothing -------------------- */

static uint32_t crc_table[256];

static uint32_t ref_crc(uint32_t crc, const unsigned char *p, size_t n)
{
    if (crc_table[1] == 0)
        for (uint32_t b = 0; b < 256; b++) {
            uint32_t c = b;
            for (int k = 0; k < 8; k++)
                c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            crc_table[b] = c;
        }
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = (crc >> 8) ^ crc_table[(crc ^ p[i]) & 0xff];
    return ~crc;
}

static uint64_t ref_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Give the frames of a segment, walked as the writer laid them out, their
 * right lsn and CRC: whatever lengths and records the input has then get
 * past the CRC. */
static void fixup(unsigned char *seg, size_t n, uint64_t base, uint32_t align, uint32_t seed)
{
    for (uint64_t off = H; off + FH <= n;) {
        unsigned char *h = seg + off;
        uint64_t lsn = base + off, len = ref_le(h + 4, 4), room = FUZZ_SEG - off - FH;
        for (int i = 0; i < 8; i++)
            h[8 + i] = (unsigned char)(lsn >> (8 * i));
        int pad = ref_le(h + 28, 2) == MAPIO__WAL_TYPE_PAD;
        uint64_t covered = pad ? 0 : len;
        if (covered > room || off + FH + covered > n)
            return;
        uint32_t crc = ref_crc(seed, h + 4, 28 + (size_t)covered);
        for (int i = 0; i < 4; i++)
            h[i] = (unsigned char)(crc >> (8 * i));
        if (pad)
            return;
        off += (FH + len + align - 1) & ~(uint64_t)(align - 1);
    }
}

/* ---- one segment ------------------------------------------------------------------------- */

typedef struct seg {
    unsigned char *buf;
    size_t n;
    uint64_t segno;
} seg_t;

static mapio_iovec_t recs[(FUZZ_SEG / 4) + 1];
static unsigned char scratch[FUZZ_SEG];

/* Everything the scanner returns from s, from start_off, holds up. Returns
 * how many frames. */
static uint64_t check_scan(const mapio__wal_fmt_t *f, const seg_t *s, uint32_t align,
                           uint64_t start_off)
{
    mapio__wal_scan_t sc;
    if (mapio__wal_scan_init(&sc, f, s->segno, align, s->buf, s->n, start_off) != 0) {
        CHECK(start_off % align != 0);
        return 0;
    }
    uint64_t base = mapio__wal_seg_base(f, s->segno), frames = 0, expect_off = start_off;
    mapio__wal_frame_t fr;
    while (mapio__wal_scan_next(&sc, &fr)) {
        /* Inside the buffer, where it says it is, right after the last. */
        CHECK(fr.hdr >= s->buf && fr.hdr + FH <= s->buf + s->n);
        uint64_t off = (uint64_t)(fr.hdr - s->buf);
        CHECK(off == expect_off && off % align == 0 && off >= H);
        CHECK(fr.lsn == base + off && ref_le(fr.hdr + 8, 8) == fr.lsn);
        CHECK(fr.payload == fr.hdr + FH && fr.len <= s->n - off - FH);
        CHECK(fr.type == MAPIO__WAL_TYPE_BATCH && fr.watermark <= fr.lsn);
        CHECK(fr.size % align == 0 && fr.size >= FH + fr.len && off + fr.size <= FUZZ_SEG);
        /* Its CRC, computed here. */
        uint32_t crc = ref_crc(f->seed, fr.hdr + 4, 28 + (size_t)fr.len);
        CHECK(crc == (uint32_t)ref_le(fr.hdr, 4));
        /* Its records, walked here and through the iterator. */
        mapio__wal_rec_iter_t it;
        mapio__wal_rec_begin(&it, &fr);
        const unsigned char *p = fr.payload, *end = fr.payload + fr.len;
        const void *d;
        uint32_t len;
        uint64_t rlsn;
        for (uint32_t r = 0; r < fr.count; r++) {
            CHECK(end - p >= 4);
            uint32_t l = (uint32_t)ref_le(p, 4);
            CHECK(l <= (size_t)(end - p - 4));
            CHECK(mapio__wal_rec_next(&it, &d, &len, &rlsn));
            CHECK(d == p + 4 && len == l && rlsn == fr.lsn + (uint64_t)(p - fr.hdr));
            recs[r].iov_base = (void *)(uintptr_t)d;
            recs[r].iov_len = len;
            p += 4 + l;
        }
        CHECK(p == end && !mapio__wal_rec_next(&it, &d, &len, &rlsn));
        /* The encoder gives back the same bytes. */
        mapio__wal_fmt_t g = *f;
        g.align = align;
        g.block_size = align == 8 ? 0 : align;
        int64_t sz = mapio__wal_encode_batch(&g, scratch, sizeof scratch, fr.lsn, fr.watermark,
                                             recs, fr.count);
        CHECK(sz == (int64_t)fr.size);
        CHECK(memcmp(scratch, fr.hdr, FH + (size_t)fr.len) == 0);
        expect_off = off + fr.size;
        frames++;
    }
    CHECK(!mapio__wal_scan_next(&sc, &fr));
    CHECK(sc.off == expect_off);
    switch (sc.end) {
    case MAPIO__WAL_END_CLEAN:
        if (sc.why == MAPIO__WAL_CLEAN_PAD) {
            const unsigned char *h = s->buf + sc.off;
            CHECK(sc.off + FH <= s->n);
            CHECK(ref_crc(f->seed, h + 4, 28) == (uint32_t)ref_le(h, 4));
            CHECK(ref_le(h + 4, 4) == FUZZ_SEG - sc.off - FH && ref_le(h + 28, 2) == 2);
        } else {
            CHECK(FUZZ_SEG - sc.off < FH);
        }
        break;
    case MAPIO__WAL_END_ZEROS: /* a zero header, zeros up to the buffer's end, or stale */
        if (sc.why == MAPIO__WAL_FRAME_STALE) {
            /* A frame of an earlier life at this offset: an LSN below the
             * segment's, at the same offset, and its CRC holds. */
            const unsigned char *h = s->buf + sc.off;
            uint64_t lsn = ref_le(h + 8, 8), len = ref_le(h + 4, 4);
            CHECK(sc.off + FH <= s->n && lsn < base && lsn % FUZZ_SEG == sc.off);
            CHECK(ref_le(h + 28, 2) == MAPIO__WAL_TYPE_PAD || len <= s->n - sc.off - FH);
            size_t covered = ref_le(h + 28, 2) == MAPIO__WAL_TYPE_PAD ? 0 : (size_t)len;
            CHECK(ref_crc(f->seed, h + 4, 28 + covered) == (uint32_t)ref_le(h, 4));
            break;
        }
        if (sc.off < s->n) {
            size_t k = sc.off + FH <= s->n ? FH : (size_t)(s->n - sc.off);
            for (size_t i = 0; i < k; i++)
                CHECK(s->buf[sc.off + i] == 0);
        }
        CHECK(sc.why == (sc.off + FH <= s->n ? MAPIO__WAL_FRAME_ZERO : MAPIO__WAL_FRAME_TRUNCATED));
        break;
    case MAPIO__WAL_END_INVALID:
        CHECK(sc.why > MAPIO__WAL_FRAME_ZERO && sc.why <= MAPIO__WAL_FRAME_RECORDS);
        break;
    default:
        CHECK(0);
    }
    return frames;
}

static void check_lookahead(const mapio__wal_fmt_t *f, const seg_t *s, uint32_t align)
{
    mapio__wal_seen_t seen = { 0 };
    mapio__wal_lookahead(f, s->segno, align, s->buf, s->n, H, &seen);
    uint64_t base = mapio__wal_seg_base(f, s->segno);
    if (seen.frames == 0) {
        CHECK(seen.max_wm_lsn == 0 && seen.last_end == 0);
        return;
    }
    CHECK(seen.max_wm_lsn >= base + H && seen.max_wm_lsn + FH <= base + s->n);
    CHECK(seen.max_wm <= seen.max_wm_lsn && seen.last_end <= base + FUZZ_SEG);
    const unsigned char *h = s->buf + (seen.max_wm_lsn - base);
    CHECK(ref_le(h + 8, 8) == seen.max_wm_lsn && ref_le(h + 16, 8) == seen.max_wm);
}

static void check_recover(const mapio__wal_fmt_t *f, const seg_t *segs, size_t n, uint64_t start)
{
    mapio__wal_seg_in_t in[2];
    for (size_t i = 0; i < n; i++)
        in[i] = (mapio__wal_seg_in_t){ segs[i].segno, segs[i].buf, segs[i].n };
    mapio__wal_recovery_t first = { 0 };
    for (int p = MAPIO__WAL_TOLERATE_TAIL; p <= MAPIO__WAL_ABSOLUTE; p++) {
        mapio__wal_recovery_t r;
        int rc = mapio__wal_recover(f, in, n, start, (mapio__wal_policy_t)p, &r);
        if (rc == MAPIO_EINVAL) { /* start misaligned for its segment's block size */
            CHECK(mapio__wal_seg_off(f, start) % 4096 != 0);
            return;
        }
        CHECK(rc == mapio__wal_policy_check((mapio__wal_policy_t)p, r.verdict));
        CHECK(r.end_lsn >= start && r.erase_lo == r.end_lsn && r.erase_hi >= r.erase_lo);
        CHECK(r.end_lsn <= mapio__wal_first_lsn(f, FUZZ_SEGNO + n));
        CHECK(r.erase_hi == r.end_lsn || r.erase_hi <= mapio__wal_seg_base(f, FUZZ_SEGNO + n));
        CHECK(r.verdict == mapio__wal_classify(r.stop, r.end_lsn, &r.later));
        CHECK(r.later.frames == 0 || r.later.max_wm_lsn >= r.end_lsn);
        if (p == MAPIO__WAL_TOLERATE_TAIL) {
            first = r;
        } else {
            CHECK(r.end_lsn == first.end_lsn && r.verdict == first.verdict);
            CHECK(r.frames == first.frames && r.erase_hi == first.erase_hi);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    unsigned flags = data[0];
    size_t nseg = (flags & 1) ? 2 : 1;
    uint32_t block = (flags & 2) ? 4096 : 0;
    int raw = (flags & 4) != 0;
    uint64_t split = 8 * ref_le(data + 1, 2);
    uint64_t start_off = H + ((flags & 8) ? (8 * ref_le(data + 3, 2)) % (FUZZ_SEG - H + 8) : 0);
    data += 5;
    size -= 5;
    unsigned char raw_hdr[2][MAPIO__WAL_SEGHDR_USED];
    if (raw) {
        if (size < nseg * sizeof raw_hdr[0])
            return 0;
        memcpy(raw_hdr, data, nseg * sizeof raw_hdr[0]);
        data += nseg * sizeof raw_hdr[0];
        size -= nseg * sizeof raw_hdr[0];
    }
    mapio__wal_fmt_t f;
    CHECK(mapio__wal_fmt_init(&f, FUZZ_LOG_ID, FUZZ_SEG, block) == 0);

    seg_t segs[2];
    size_t area[2];
    area[0] = nseg == 1 ? size : (size_t)(split < size ? split : size);
    area[1] = nseg == 1 ? 0 : size - area[0];
    for (size_t i = 0; i < nseg; i++) {
        if (area[i] > FUZZ_SEG - H)
            area[i] = FUZZ_SEG - H;
        segs[i].segno = FUZZ_SEGNO + i;
        segs[i].n = H + area[i];
        segs[i].buf = malloc(segs[i].n);
        CHECK(segs[i].buf != NULL);
        mapio__wal_seghdr_t h = { FUZZ_LOG_ID, segs[i].segno, FUZZ_SEG, block };
        CHECK(mapio__wal_seghdr_encode(segs[i].buf, &h) == 0);
        if (raw)
            memcpy(segs[i].buf, raw_hdr[i], sizeof raw_hdr[i]);
        memcpy(segs[i].buf + H, data + (i == 0 ? 0 : area[0]), area[i]);
        if (flags & 16)
            fixup(segs[i].buf, segs[i].n, mapio__wal_seg_base(&f, segs[i].segno),
                  mapio__wal_align_of(block), f.seed);
    }

    for (size_t i = 0; i < nseg; i++) {
        uint32_t align = 0;
        int herr = mapio__wal_seghdr_check(&f, segs[i].buf, segs[i].n, segs[i].segno, &align);
        CHECK((herr == MAPIO__WAL_HDR_OK) == (align != 0));
        if (!raw)
            CHECK(herr == MAPIO__WAL_HDR_OK);
        /* The scan takes any valid alignment, whatever the header says. */
        uint32_t aligns[] = { align, 8, 4096 };
        for (size_t a = align != 0 ? 0 : 1; a < 3; a++) {
            check_scan(&f, &segs[i], aligns[a], i == 0 ? start_off : H);
            check_lookahead(&f, &segs[i], aligns[a]);
        }
        check_lookahead(&f, &segs[i], 0);
    }
    check_recover(&f, segs, nseg, mapio__wal_seg_base(&f, FUZZ_SEGNO) + start_off);
    for (size_t i = 0; i < nseg; i++)
        free(segs[i].buf);
    return 0;
}

/* ---- the regression driver and the seed corpus ------------------------------------------- */

#ifdef WAL_FUZZ_MAIN

#include <dirent.h>
#include <sys/stat.h>

typedef struct input {
    unsigned char *p;
    size_t n, cap;
} input_t;

static void put(input_t *in, const void *p, size_t n)
{
    if (in->n + n > in->cap) {
        in->cap = (in->n + n) * 2;
        in->p = realloc(in->p, in->cap);
        CHECK(in->p != NULL);
    }
    memcpy(in->p + in->n, p, n);
    in->n += n;
}

/* A segment's frame area as a writer leaves it: frames of nrec records
 * (lengths from a fixed pattern), each with its own LSN as watermark,
 * until limit bytes; then a PAD if pad (the area is then the whole
 * segment). Returns the area's length. */
static size_t make_area(unsigned char *area, uint64_t segno, uint32_t block, size_t limit,
                        uint32_t nrec, uint32_t maxlen, int pad)
{
    mapio__wal_fmt_t f;
    CHECK(mapio__wal_fmt_init(&f, FUZZ_LOG_ID, FUZZ_SEG, block) == 0);
    memset(area, 0, FUZZ_SEG - H);
    uint64_t base = mapio__wal_seg_base(&f, segno), lsn = base + H;
    static unsigned char bytes[FUZZ_SEG];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (unsigned char)(i * 7 + 3);
    mapio_iovec_t rec[64];
    for (uint32_t k = 0;; k++) {
        uint64_t payload = 0;
        for (uint32_t r = 0; r < nrec && r < 64; r++) {
            rec[r].iov_base = bytes;
            rec[r].iov_len = (k * 31 + r * 17) % (maxlen + 1);
            payload += 4 + rec[r].iov_len;
        }
        uint64_t fsize = mapio__wal_frame_size(&f, payload);
        uint64_t off = lsn - base;
        if (off + fsize > H + limit || off + fsize > FUZZ_SEG) {
            if (pad && FUZZ_SEG - off >= FH)
                CHECK(mapio__wal_encode_pad(&f, area + off - H, FUZZ_SEG - off, lsn, lsn) > 0);
            return (size_t)(pad ? FUZZ_SEG - H : off - H);
        }
        CHECK(mapio__wal_encode_batch(&f, area + off - H, FUZZ_SEG - off, lsn, lsn, rec, nrec) ==
              (int64_t)fsize);
        lsn += fsize;
    }
}

/* The seeds: valid segments of each kind, a torn tail with a later frame,
 * a flipped bit, a short file, two segments, a raw header. */
static size_t make_seeds(input_t *seeds, size_t max)
{
    static unsigned char a[FUZZ_SEG], b[FUZZ_SEG];
    size_t n = 0;
    struct {
        unsigned flags;
        size_t limit0, limit1;
        uint32_t nrec, maxlen;
        int pad, damage;
    } kinds[] = {
        { 0, 2000, 0, 3, 40, 0, 0 },      /* a few small frames, then zeros */
        { 0, 60000, 0, 1, 900, 1, 0 },    /* a full segment closed by a PAD */
        { 2, 30000, 0, 2, 3000, 0, 0 },   /* O_DIRECT */
        { 1, 61440, 4000, 4, 300, 1, 0 }, /* two segments */
        { 3, 61440, 9000, 2, 2000, 1, 0 },
        { 0, 3000, 0, 2, 100, 0, 1 },        /* a flipped bit in the middle */
        { 0, 3000, 0, 2, 100, 0, 2 },        /* a hole, a later frame past it */
        { 0, 1500, 0, 3, 200, 0, 3 },        /* a short file, cut in a frame */
        { 4, 2000, 0, 2, 50, 0, 0 },         /* raw header */
        { 1 | 8, 61440, 3000, 1, 64, 1, 0 }, /* a later start */
        { 16, 3000, 0, 3, 100, 0, 1 },       /* CRCs fixed up: the flip reaches the records */
        { 16 | 2, 20000, 0, 5, 500, 0, 0 },
        { 16 | 1, 61440, 2000, 2, 300, 1, 0 },
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0] && n < max; k++) {
        uint32_t block = (kinds[k].flags & 2) ? 4096 : 0;
        size_t la = make_area(a, FUZZ_SEGNO, block, kinds[k].limit0, kinds[k].nrec, kinds[k].maxlen,
                              kinds[k].pad);
        size_t lb = 0;
        if (kinds[k].flags & 1)
            lb = make_area(b, FUZZ_SEGNO + 1, block, kinds[k].limit1, kinds[k].nrec,
                           kinds[k].maxlen, 0);
        if (kinds[k].damage == 1)
            a[la / 2] ^= 0x20;
        if (kinds[k].damage == 2)
            memset(a + la / 3, 0, 200);
        if (kinds[k].damage == 3)
            la = la * 2 / 3 + 5;
        input_t *in = &seeds[n++];
        memset(in, 0, sizeof *in);
        /* flags, split (the first area's length / 8), start (/ 8) */
        unsigned start = (kinds[k].flags & 8) ? 8 * 64 / 8 : 0;
        unsigned char head[5] = { (unsigned char)kinds[k].flags, (unsigned char)(la / 8),
                                  (unsigned char)(la / 8 >> 8), (unsigned char)start,
                                  (unsigned char)(start >> 8) };
        put(in, head, sizeof head);
        if (kinds[k].flags & 4) {
            unsigned char h[H];
            mapio__wal_seghdr_t sh = { FUZZ_LOG_ID, FUZZ_SEGNO, FUZZ_SEG, block };
            CHECK(mapio__wal_seghdr_encode(h, &sh) == 0);
            put(in, h, MAPIO__WAL_SEGHDR_USED);
        }
        put(in, a, la);
        put(in, b, lb);
    }
    return n;
}

static int run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        perror(path);
        return 1;
    }
    input_t in = { 0 };
    unsigned char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, fp)) > 0)
        put(&in, buf, k);
    fclose(fp);
    LLVMFuzzerTestOneInput(in.p, in.n);
    free(in.p);
    return 0;
}

static int run_path(const char *path, int *count)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*count)++;
        return run_file(path);
    }
    DIR *d = opendir(path);
    if (d == NULL) {
        perror(path);
        return 1;
    }
    int err = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        char *p = malloc(len);
        CHECK(p != NULL);
        snprintf(p, len, "%s/%s", path, e->d_name);
        err |= run_path(p, count);
        free(p);
    }
    closedir(d);
    return err;
}

int main(int argc, char **argv)
{
    input_t seeds[32];
    size_t n = make_seeds(seeds, 32);
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0) {
        for (size_t i = 0; i < n; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/seed-%02zu", argv[2], i);
            FILE *fp = fopen(path, "wb");
            if (fp == NULL || fwrite(seeds[i].p, 1, seeds[i].n, fp) != seeds[i].n ||
                fclose(fp) != 0) {
                perror(path);
                return 1;
            }
        }
        printf("wal_fuzz_regress: %zu seeds written to %s\n", n, argv[2]);
        return 0;
    }
    int count = 0, err = 0;
    if (argc == 1) {
        /* The seeds, and every truncation and single-byte change of each
         * seed's first 600 bytes past the head, as a quick sweep. */
        for (size_t i = 0; i < n; i++) {
            LLVMFuzzerTestOneInput(seeds[i].p, seeds[i].n);
            count++;
            for (size_t cut = 0; cut < seeds[i].n; cut += 1 + cut / 8, count++)
                LLVMFuzzerTestOneInput(seeds[i].p, cut);
            for (size_t j = 5; j < seeds[i].n && j < 600; j += 7, count++) {
                seeds[i].p[j] ^= 0x41;
                LLVMFuzzerTestOneInput(seeds[i].p, seeds[i].n);
                seeds[i].p[j] ^= 0x41;
            }
        }
    }
    for (int i = 1; i < argc; i++)
        err |= run_path(argv[i], &count);
    for (size_t i = 0; i < n; i++)
        free(seeds[i].p);
    printf("wal_fuzz_regress: %d inputs, %s\n", count, err ? "errors" : "all properties held");
    return err;
}

#endif
