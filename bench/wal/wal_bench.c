/*
 * bench/wal/wal_bench.c - how fast the WAL scanner validates a segment held
 * in memory: frame checks, the CRC of every frame and the walk over its
 * record lengths (what recovery and replay pay per byte of log).
 *
 *   wal-bench [--seg-mib N] [--record BYTES] [--per-frame N]
 *
 * It fills a segment of N MiB (default 64) with BATCH frames, as a writer
 * would (a PAD closes it), then scans it from the first frame to the end,
 * 5 rounds, and prints the median in MB/s of log scanned (1e6 bytes of
 * frames, headers and padding included, per second), frames/s and
 * records/s: once for the scan alone and once with every record also read
 * through the record iterator, as a replay would; beside them, the peer:
 * one mapio_crc32c call over the same bytes (the fastest single pass over
 * them) and scan / peer. By default it runs the
 * shapes the target is set for, 128-byte and 4 KiB records, one and many
 * per frame, buffered and O_DIRECT-aligned; --record picks one shape.
 * Then the look-ahead over an all-zero segment (what recovery pays for
 * each preallocated segment past the end), with the CRC over it for scale.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "mapio/crc32c.h"
#include "wal_scan.h"

#define ROUNDS 5

static volatile uint64_t sink;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v)
{
    qsort(v, ROUNDS, sizeof *v, cmp_double);
    return v[ROUNDS / 2];
}

/* Fill seg with frames of per records of rec bytes; returns the frames. */
static uint64_t fill(const mapio__wal_fmt_t *f, unsigned char *seg, uint32_t rec, uint32_t per)
{
    mapio__wal_seghdr_t h = { f->log_id, 0, f->seg_size, f->block_size };
    if (mapio__wal_seghdr_encode(seg, &h) != 0)
        cli_die("bad geometry");
    unsigned char *data = malloc(rec + 1);
    mapio_iovec_t *iov = malloc(per * sizeof *iov);
    if (data == NULL || iov == NULL)
        cli_die("out of memory");
    for (uint32_t i = 0; i < rec; i++)
        data[i] = (unsigned char)(i * 131 + 7);
    for (uint32_t r = 0; r < per; r++)
        iov[r] = (mapio_iovec_t){ data, rec };
    uint64_t size = mapio__wal_frame_size(f, (uint64_t)per * (4 + rec));
    if (size == 0)
        cli_bad("--per-frame", "%u records of %u bytes do not fit one frame", per, rec);
    uint64_t lsn = MAPIO__WAL_SEGHDR_SIZE, frames = 0;
    for (;;) {
        mapio__wal_place_t pl;
        if (mapio__wal_place(f, lsn, size, &pl) != 0)
            cli_die("place failed");
        if (pl.frame_lsn >= f->seg_size) {
            if (pl.pad_lsn != 0 &&
                mapio__wal_encode_pad(f, seg + pl.pad_lsn, f->seg_size - pl.pad_lsn, pl.pad_lsn,
                                      pl.pad_lsn) < 0)
                cli_die("pad failed");
            break;
        }
        if (mapio__wal_encode_batch(f, seg + lsn, f->seg_size - lsn, lsn, lsn, iov, per) !=
            (int64_t)size)
            cli_die("encode failed");
        lsn = pl.next_lsn;
        frames++;
    }
    free(data);
    free(iov);
    return frames;
}

typedef struct result {
    uint64_t frames, records, bytes; /* bytes: of log, header to the end */
} result_t;

static double scan(const mapio__wal_fmt_t *f, const unsigned char *seg, int read_records,
                   result_t *res)
{
    double t0 = now();
    mapio__wal_scan_t s;
    if (mapio__wal_scan_init(&s, f, 0, f->align, seg, f->seg_size, MAPIO__WAL_SEGHDR_SIZE) != 0)
        cli_die("scan_init failed");
    mapio__wal_frame_t fr;
    uint64_t frames = 0, records = 0, sum = 0;
    while (mapio__wal_scan_next(&s, &fr)) {
        frames++;
        records += fr.count;
        if (read_records) {
            mapio__wal_rec_iter_t it;
            mapio__wal_rec_begin(&it, &fr);
            const void *d;
            uint32_t len;
            while (mapio__wal_rec_next(&it, &d, &len, NULL))
                sum += len + *(const unsigned char *)d;
        }
    }
    double t = now() - t0;
    if (s.end != MAPIO__WAL_END_CLEAN)
        cli_die("the scan ended early: %s at %llu", mapio__wal_frame_err_name(s.why),
                (unsigned long long)s.off);
    sink = sum;
    *res = (result_t){ frames, records, s.off - MAPIO__WAL_SEGHDR_SIZE };
    return t;
}

/* The peer: one mapio_crc32c call over the same bytes, the fastest single
 * pass over them there is; the scan can only approach it. */
static double crc_pass(const unsigned char *seg, uint64_t bytes)
{
    double t0 = now();
    sink = mapio_crc32c(0, seg + MAPIO__WAL_SEGHDR_SIZE, bytes);
    return now() - t0;
}

static void shape(uint64_t seg_size, uint32_t block, uint32_t rec, uint32_t per)
{
    mapio__wal_fmt_t f;
    if (mapio__wal_fmt_init(&f, 0x0123456789abcdefull, seg_size, block) != 0)
        cli_die("bad geometry");
    unsigned char *seg = calloc(1, seg_size);
    if (seg == NULL)
        cli_die("out of memory");
    fill(&f, seg, rec, per);
    result_t res = { 0 };
    scan(&f, seg, 0, &res); /* warm-up, and the byte count */
    double mb[3][ROUNDS];
    for (int r = 0; r < ROUNDS; r++)
        for (int v = 0; v < 3; v++) {
            int which = (v + r) % 3; /* rotate the order */
            double t = which == 2 ? crc_pass(seg, res.bytes) : scan(&f, seg, which, &res);
            mb[which][r] = (double)res.bytes / t / 1e6;
        }
    double m[3] = { median(mb[0]), median(mb[1]), median(mb[2]) };
    for (int v = 0; v < 2; v++) {
        double secs = (double)res.bytes / 1e6 / m[v];
        printf("%8u %6u %6s %-13s %9.0f %12.0f %12.0f %9.0f %6.2f\n", rec, per,
               block ? "4096" : "8", v ? "scan+records" : "scan", m[v], (double)res.frames / secs,
               (double)res.records / secs, m[2], m[v] / m[2]);
    }
    free(seg);
}

int main(int argc, char **argv)
{
    uint64_t seg_mib = 64;
    unsigned rec = 0, per = 1;
    const struct cli_arg args[] = {
        { "--seg-mib", CLI_U64, &seg_mib, "segment size in MiB (a power of two)", .min = 1,
          .max = 4096 },
        { "--record", CLI_UINT, &rec, "record bytes; 0 = the default shapes", .max = 1 << 24 },
        { "--per-frame", CLI_UINT, &per, "records per frame (with --record)", .min = 1,
          .max = 1 << 20 },
    };
    char about[160];
    snprintf(about, sizeof about,
             "WAL segment scan (frame checks + CRC + record walk) in memory, median of %d rounds.",
             ROUNDS);
    const struct cli cli = { "wal-bench", about, NULL, args, sizeof args / sizeof *args, NULL, 0 };
    cli_parse(&cli, argc, argv);
    if ((seg_mib & (seg_mib - 1)) != 0)
        cli_bad("--seg-mib", "must be a power of two (got %llu)", (unsigned long long)seg_mib);
    uint64_t seg_size = seg_mib << 20;

    printf("wal-bench: %llu MiB segment, crc32c %s, median of %d rounds\n",
           (unsigned long long)seg_mib, mapio_crc32c_impl(), ROUNDS);
    printf("%8s %6s %6s %-13s %9s %12s %12s %9s %6s\n", "record", "/frame", "align", "pass", "MB/s",
           "frames/s", "records/s", "crc MB/s", "ratio");
    if (rec != 0) {
        shape(seg_size, 0, rec, per);
    } else {
        static const struct {
            uint32_t block, rec, per;
        } shapes[] = {
            { 0, 128, 1 }, { 0, 128, 32 }, { 0, 4096, 1 }, { 0, 4096, 16 }, { 4096, 4096, 1 },
        };
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
            shape(seg_size, shapes[i].block, shapes[i].rec, shapes[i].per);
    }

    /* The look-ahead over a preallocated (zero) segment, and the CRC alone. */
    mapio__wal_fmt_t f;
    if (mapio__wal_fmt_init(&f, 1, seg_size, 0) != 0)
        cli_die("bad geometry");
    unsigned char *zero = calloc(1, seg_size);
    if (zero == NULL)
        cli_die("out of memory");
    double la[ROUNDS], crc[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        mapio__wal_seen_t seen = { 0 };
        double t0 = now();
        mapio__wal_lookahead(&f, 0, 8, zero, seg_size, MAPIO__WAL_SEGHDR_SIZE, &seen);
        la[r] = (double)seg_size / (now() - t0) / 1e6;
        t0 = now();
        sink = mapio_crc32c(0, zero, seg_size);
        crc[r] = (double)seg_size / (now() - t0) / 1e6;
    }
    printf("look-ahead over a zero segment, alignment 8: %.0f MB/s\n", median(la));
    printf("mapio_crc32c over the same bytes:             %.0f MB/s\n", median(crc));
    free(zero);
    return 0;
}
