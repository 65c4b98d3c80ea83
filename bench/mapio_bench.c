/*
 * bench/mapio_bench.c - the bench CLI.
 *
 *   mapio-bench randread  FILE [--backend B] [--qd N] [--bs N] [--seconds S] [--workers N]
 *                              [--direct 1]
 *   mapio-bench roundtrip FILE [--backend B] [--seconds S] [--op nop|read1]
 *   mapio-bench raw-uring FILE [--seconds S] [--op nop|read1]   (the peer: liburing, no mapio)
 *   mapio-bench commit    FILE [--backend B] [--committers N] [--bs N] [--seconds S] [--delay US]
 *                              [--prealloc-mib N]   (overwrite a zeroed file instead of appending)
 *   mapio-bench sync-each FILE [--bs N] [--seconds S]   (the peer: pwrite + fdatasync per record)
 *
 * Each prints one line "name=value ..." with ops/s, so a script can compare
 * it with fio or with the raw loop measured in the same run (bench/compare.sh).
 */
#include <inttypes.h>
#include <liburing.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mapio.h"

#define MAPIO__BENCH_MIN(a, b) ((a) < (b) ? (a) : (b))

struct opts {
    const char *mode, *file, *backend, *op;
    unsigned qd, bs, workers, committers, delay_us, direct, prealloc, mmap;
    double seconds;
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Latencies: sort and print p50/p99 in microseconds. */
static void print_lat(uint64_t *lat, uint64_t n)
{
    if (n == 0) {
        printf(" p50_us=0 p99_us=0\n");
        return;
    }
    qsort(lat, n, sizeof *lat, cmp_u64);
    printf(" p50_us=%.1f p99_us=%.1f\n", (double)lat[n / 2] / 1e3, (double)lat[n * 99 / 100] / 1e3);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* ---- random reads through the engine ------------------------------------- */

struct rr {
    mapio_file_t file;
    uint64_t blocks, seed, done, deadline;
    unsigned bs;
    int stop, failed;
};

struct rr_slot {
    mapio_req_t req;
    struct rr *rr;
    unsigned char *buf;
};

static void rr_issue(struct rr_slot *s);

static void rr_done(mapio_req_t *req)
{
    struct rr_slot *s = req->data;
    struct rr *rr = s->rr;
    if (req->result != (int64_t)rr->bs)
        rr->failed = 1;
    rr->done++;
    if ((rr->done & 1023) == 0 && now_ns() >= rr->deadline)
        rr->stop = 1;
    if (!rr->stop && !rr->failed)
        rr_issue(s);
}

static void rr_issue(struct rr_slot *s)
{
    struct rr *rr = s->rr;
    uint64_t off = (rng(&rr->seed) % rr->blocks) * rr->bs;
    s->req.data = s;
    if (mapio_read_at(&rr->file, &s->req, s->buf, rr->bs, off, rr_done) != 0)
        rr->failed = 1;
}

static mapio_engine_t *engine(const struct opts *o)
{
    mapio_engine_opts_t eo = { .backend = o->backend, .workers = o->workers };
    mapio_engine_t *eng;
    int err = mapio_engine_new(&eng, &eo);
    if (err != 0) {
        fprintf(stderr, "engine: %s\n", mapio_strerror(err));
        exit(1);
    }
    return eng;
}

static int randread(const struct opts *o)
{
    mapio_engine_t *eng = engine(o);
    struct rr rr = { .bs = o->bs, .seed = 0x9e3779b97f4a7c15ull };
    /* --mmap 1: MMapIO, copies on this thread; --mmap 2: on the copy pool. */
    unsigned mode = o->mmap == 0   ? 0
                    : o->mmap == 1 ? MAPIO_OPEN_MMAP
                                   : MAPIO_OPEN_MMAP | MAPIO_OPEN_MMAP_ON_POOL;
    int err =
        mapio_open(eng, o->file, 0,
                   MAPIO_OPEN_READ_ONLY | (o->direct ? MAPIO_OPEN_DIRECT : 0) | mode, &rr.file);
    if (err != 0) {
        fprintf(stderr, "open %s: %s\n", o->file, mapio_strerror(err));
        return 1;
    }
    rr.blocks = mapio_file_size(&rr.file) / o->bs;
    if (rr.blocks == 0) {
        fprintf(stderr, "file smaller than one block\n");
        return 1;
    }
    struct rr_slot *slots = calloc(o->qd, sizeof *slots);
    for (unsigned i = 0; i < o->qd; i++) {
        slots[i].rr = &rr;
        slots[i].buf = aligned_alloc(4096, o->bs);
    }
    uint64_t t0 = now_ns();
    rr.deadline = t0 + (uint64_t)(o->seconds * 1e9);
    for (unsigned i = 0; i < o->qd; i++)
        rr_issue(&slots[i]);
    mapio_engine_run(eng);
    double secs = (double)(now_ns() - t0) / 1e9;
    printf("mode=randread backend=%s qd=%u bs=%u direct=%u mmap=%u ops=%" PRIu64
           " iops=%.0f failed=%d\n",
           mapio_engine_backend(eng), o->qd, o->bs, o->direct, o->mmap, rr.done,
           (double)rr.done / secs, rr.failed);
    mapio_close(&rr.file);
    mapio_engine_free(eng);
    for (unsigned i = 0; i < o->qd; i++)
        free(slots[i].buf);
    free(slots);
    return rr.failed;
}

/* ---- QD1 round trip through the engine ------------------------------------ */

static void rt_done(mapio_req_t *req)
{
    (*(uint64_t *)req->data)++;
}

static int roundtrip(const struct opts *o)
{
    mapio_engine_t *eng = engine(o);
    mapio_file_t f;
    if (mapio_open(eng, o->file, 0, MAPIO_OPEN_READ_ONLY, &f) != 0)
        return 1;
    int read1 = strcmp(o->op, "read1") == 0;
    unsigned char b[1];
    mapio_req_t req;
    uint64_t done = 0;
    req.data = &done;
    uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)(o->seconds * 1e9);
    while ((done & 1023) != 0 || now_ns() < deadline) {
        int err = read1 ? mapio_read_at(&f, &req, b, 1, 0, rt_done) : mapio_nop(eng, &req, rt_done);
        if (err != 0 || mapio_engine_poll(eng, -1) != 1)
            return 1;
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    printf("mode=roundtrip backend=%s op=%s ops=%" PRIu64 " ops_per_s=%.0f\n",
           mapio_engine_backend(eng), o->op, done, (double)done / secs);
    mapio_close(&f);
    mapio_engine_free(eng);
    return 0;
}

/* ---- the peer: the same round trip on bare liburing ----------------------- */

static int raw_uring(const struct opts *o)
{
    struct io_uring ring;
    if (io_uring_queue_init(256, &ring, 0) != 0)
        return 1;
    int fd = open(o->file, O_RDONLY);
    if (fd < 0)
        return 1;
    int read1 = strcmp(o->op, "read1") == 0;
    unsigned char b[1];
    uint64_t done = 0;
    uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)(o->seconds * 1e9);
    while ((done & 1023) != 0 || now_ns() < deadline) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
        if (read1)
            io_uring_prep_read(sqe, fd, b, 1, 0);
        else
            io_uring_prep_nop(sqe);
        struct io_uring_cqe *cqe;
        if (io_uring_submit_and_wait(&ring, 1) < 0 || io_uring_peek_cqe(&ring, &cqe) != 0 ||
            cqe->res < 0)
            return 1;
        io_uring_cqe_seen(&ring, cqe);
        done++;
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    printf("mode=raw-uring op=%s ops=%" PRIu64 " ops_per_s=%.0f\n", o->op, done,
           (double)done / secs);
    close(fd);
    io_uring_queue_exit(&ring);
    return 0;
}

/* ---- group commit: N committers appending records ------------------------ */

#define MAX_SAMPLES 4000000u

struct gc_job {
    mapio_file_t file;
    uint64_t tail, done, deadline, *lat;
    unsigned bs;
    int stop, failed;
};

struct gc_slot {
    mapio_req_t req;
    mapio_write_t w;
    struct gc_job *job;
    unsigned char *buf;
    uint64_t start;
};

static void gc_issue(struct gc_slot *s);

static void gc_done(mapio_req_t *req)
{
    struct gc_slot *s = req->data;
    struct gc_job *j = s->job;
    if (req->result != 0)
        j->failed = 1;
    uint64_t now = now_ns();
    if (j->done < MAX_SAMPLES)
        j->lat[j->done] = now - s->start;
    j->done++;
    if (now >= j->deadline)
        j->stop = 1;
    if (!j->stop && !j->failed)
        gc_issue(s);
}

static void gc_issue(struct gc_slot *s)
{
    struct gc_job *j = s->job;
    s->w = (mapio_write_t){ s->buf, j->bs, j->tail };
    j->tail += j->bs;
    s->req.data = s;
    s->start = now_ns();
    if (mapio_write_at_delayed_sync(&j->file, &s->req, &s->w, 1, gc_done) != 0)
        j->failed = 1;
}

static int commit_bench(const struct opts *o)
{
    mapio_engine_opts_t eo = { .backend = o->backend, .commit_delay_us = o->delay_us };
    mapio_engine_t *eng;
    if (mapio_engine_new(&eng, &eo) != 0)
        return 1;
    struct gc_job j = { .bs = o->bs };
    j.lat = malloc(MAX_SAMPLES * sizeof *j.lat);
    if (mapio_open(eng, o->file, 0, MAPIO_OPEN_TRUNCATE, &j.file) != 0)
        return 1;
    if (o->prealloc) {
        /* Preallocate and write zeros once: commits then overwrite in place,
         * with no size change or extent allocation for fdatasync to journal. */
        uint64_t size = (uint64_t)o->prealloc << 20;
        unsigned char *zero = calloc(1, 1 << 20);
        for (uint64_t off = 0; off < size; off += 1 << 20)
            if (mapio_write_at_sync(&j.file, zero, 1 << 20, off) != 1 << 20)
                return 1;
        free(zero);
        if (mapio_sync_data_sync(&j.file) != 0)
            return 1;
    }
    struct gc_slot *slots = calloc(o->committers, sizeof *slots);
    for (unsigned i = 0; i < o->committers; i++) {
        slots[i].job = &j;
        slots[i].buf = malloc(o->bs);
        memset(slots[i].buf, (int)i, o->bs);
    }
    uint64_t t0 = now_ns();
    j.deadline = t0 + (uint64_t)(o->seconds * 1e9);
    for (unsigned i = 0; i < o->committers; i++)
        gc_issue(&slots[i]);
    mapio_engine_run(eng);
    double secs = (double)(now_ns() - t0) / 1e9;
    mapio_metrics_t m;
    mapio_engine_metrics(eng, &m);
    printf("mode=commit backend=%s committers=%u bs=%u delay_us=%u commits=%" PRIu64
           " commits_per_s=%.0f syncs=%" PRIu64 " per_sync=%.1f failed=%d",
           mapio_engine_backend(eng), o->committers, o->bs, o->delay_us, j.done,
           (double)j.done / secs, m.sync_background_loops,
           m.sync_background_loops ? (double)j.done / (double)m.sync_background_loops : 0.0,
           j.failed);
    print_lat(j.lat, MAPIO__BENCH_MIN(j.done, MAX_SAMPLES));
    mapio_close(&j.file);
    mapio_engine_free(eng);
    for (unsigned i = 0; i < o->committers; i++)
        free(slots[i].buf);
    free(slots);
    free(j.lat);
    return j.failed;
}

/* The peer: append a record and fdatasync it, one at a time, no mapio. */
static int sync_each(const struct opts *o)
{
    int fd = open(o->file, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return 1;
    unsigned char *buf = malloc(o->bs);
    memset(buf, 7, o->bs);
    uint64_t *lat = malloc(MAX_SAMPLES * sizeof *lat), n = 0, off = 0;
    uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)(o->seconds * 1e9);
    for (;;) {
        uint64_t t = now_ns();
        if (t >= deadline)
            break;
        if (pwrite(fd, buf, o->bs, (off_t)off) != (ssize_t)o->bs || fdatasync(fd) != 0)
            return 1;
        off += o->bs;
        if (n < MAX_SAMPLES)
            lat[n] = now_ns() - t;
        n++;
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    printf("mode=sync-each bs=%u records=%" PRIu64 " records_per_s=%.0f", o->bs, n,
           (double)n / secs);
    print_lat(lat, MAPIO__BENCH_MIN(n, MAX_SAMPLES));
    close(fd);
    free(buf);
    free(lat);
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = {
        .qd = 32, .bs = 4096, .workers = 2, .seconds = 5, .op = "nop", .committers = 1
    };
    if (argc < 3) {
        fprintf(stderr, "usage: mapio-bench randread|roundtrip|raw-uring|commit|sync-each FILE "
                        "[--backend B] [--qd N] [--bs N] [--seconds S] [--workers N] "
                        "[--op nop|read1] [--committers N] [--delay US] [--mmap 0|1|2]\n");
        return 2;
    }
    o.mode = argv[1];
    o.file = argv[2];
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--backend") == 0)
            o.backend = argv[i + 1];
        else if (strcmp(argv[i], "--qd") == 0)
            o.qd = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--bs") == 0)
            o.bs = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--workers") == 0)
            o.workers = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--seconds") == 0)
            o.seconds = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--op") == 0)
            o.op = argv[i + 1];
        else if (strcmp(argv[i], "--committers") == 0)
            o.committers = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--delay") == 0)
            o.delay_us = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--mmap") == 0)
            o.mmap = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--direct") == 0)
            o.direct = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--prealloc-mib") == 0)
            o.prealloc = (unsigned)atoi(argv[i + 1]);
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (o.qd == 0 || o.bs == 0 || o.seconds <= 0)
        return 2;
    if (strcmp(o.mode, "randread") == 0)
        return randread(&o);
    if (strcmp(o.mode, "roundtrip") == 0)
        return roundtrip(&o);
    if (strcmp(o.mode, "raw-uring") == 0)
        return raw_uring(&o);
    if (strcmp(o.mode, "commit") == 0 && o.committers > 0)
        return commit_bench(&o);
    if (strcmp(o.mode, "sync-each") == 0)
        return sync_each(&o);
    fprintf(stderr, "unknown mode %s\n", o.mode);
    return 2;
}
