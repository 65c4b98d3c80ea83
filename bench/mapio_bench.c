/*
 * bench/mapio_bench.c - the bench CLI: the engine against its peers.
 *
 *   mapio-bench MODE FILE [options]     (mapio-bench --help lists them all)
 *
 * MODE is randread, roundtrip or raw-uring (reading FILE, which must exist),
 * commit or sync-each (writing it). Each prints one line "name=value ..." with
 * ops/s, so a script can compare it with fio or with the raw loop measured in
 * the same run (bench/compare.sh, bench/durable.sh).
 */
#include <errno.h>
#include <inttypes.h>
#include <liburing.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
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
    mapio_engine_opts_t eo = { .backend = o->backend,
                               .workers = o->workers,
                               .commit_delay_us = o->delay_us };
    mapio_engine_t *eng;
    int err = mapio_engine_new(&eng, &eo);
    if (err != 0)
        cli_die("engine on %s: %s", o->backend ? o->backend : "the default backend",
                mapio_strerror(err));
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
        mapio_file_open_blocking(&rr.file, eng, o->file, 0,
                                 MAPIO_OPEN_READ_ONLY | (o->direct ? MAPIO_OPEN_DIRECT : 0) | mode);
    if (err != 0)
        cli_die("open %s: %s", o->file, mapio_strerror(err));
    rr.blocks = mapio_file_size(&rr.file) / o->bs; /* >= 1: main checked */
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
    mapio_file_close_blocking(&rr.file);
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
    int err = mapio_file_open_blocking(&f, eng, o->file, 0, MAPIO_OPEN_READ_ONLY);
    if (err != 0)
        cli_die("open %s: %s", o->file, mapio_strerror(err));
    int read1 = strcmp(o->op, "read1") == 0;
    unsigned char b[1];
    mapio_req_t req;
    uint64_t done = 0;
    req.data = &done;
    uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)(o->seconds * 1e9);
    while ((done & 1023) != 0 || now_ns() < deadline) {
        err = read1 ? mapio_read_at(&f, &req, b, 1, 0, rt_done) : mapio_nop(eng, &req, rt_done);
        if (err != 0 || (err = mapio_engine_poll(eng, -1)) != 1)
            cli_die("%s: %s", o->op, err < 0 ? mapio_strerror(err) : "no completion");
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    printf("mode=roundtrip backend=%s op=%s ops=%" PRIu64 " ops_per_s=%.0f\n",
           mapio_engine_backend(eng), o->op, done, (double)done / secs);
    mapio_file_close_blocking(&f);
    mapio_engine_free(eng);
    return 0;
}

/* ---- the peer: the same round trip on bare liburing ----------------------- */

static int raw_uring(const struct opts *o)
{
    struct io_uring ring;
    int err = io_uring_queue_init(256, &ring, 0);
    if (err != 0)
        cli_die("io_uring_queue_init: %s", strerror(-err));
    int fd = open(o->file, O_RDONLY);
    if (fd < 0)
        cli_die("open %s: %s", o->file, strerror(errno));
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
        if (io_uring_submit_and_wait(&ring, 1) < 0 || io_uring_peek_cqe(&ring, &cqe) != 0)
            cli_die("io_uring: no completion");
        if (cqe->res < 0)
            cli_die("%s: %s", o->op, strerror(-cqe->res));
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
    if (mapio_commit(&j->file, &s->req, &s->w, 1, gc_done) != 0)
        j->failed = 1;
}

static int commit_bench(const struct opts *o)
{
    mapio_engine_t *eng = engine(o);
    struct gc_job j = { .bs = o->bs };
    j.lat = malloc(MAX_SAMPLES * sizeof *j.lat);
    int err = mapio_file_open_blocking(&j.file, eng, o->file, 0, MAPIO_OPEN_TRUNCATE);
    if (err != 0)
        cli_die("open %s: %s", o->file, mapio_strerror(err));
    if (o->prealloc) {
        /* Preallocate and write zeros once: commits then overwrite in place,
         * with no size change or extent allocation for fdatasync to journal. */
        uint64_t size = (uint64_t)o->prealloc << 20;
        unsigned char *zero = calloc(1, 1 << 20);
        for (uint64_t off = 0; off < size; off += 1 << 20)
            if (mapio_write_at_blocking(&j.file, zero, 1 << 20, off) != 1 << 20)
                cli_die("--prealloc-mib: writing zeros to %s failed", o->file);
        free(zero);
        if (mapio_sync_data_blocking(&j.file) != 0)
            cli_die("--prealloc-mib: fdatasync of %s failed", o->file);
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
    mapio_file_close_blocking(&j.file);
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
        cli_die("open %s: %s", o->file, strerror(errno));
    unsigned char *buf = malloc(o->bs);
    memset(buf, 7, o->bs);
    uint64_t *lat = malloc(MAX_SAMPLES * sizeof *lat), n = 0, off = 0;
    uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)(o->seconds * 1e9);
    for (;;) {
        uint64_t t = now_ns();
        if (t >= deadline)
            break;
        if (pwrite(fd, buf, o->bs, (off_t)off) != (ssize_t)o->bs || fdatasync(fd) != 0)
            cli_die("write + fdatasync of %s: %s", o->file, strerror(errno));
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

/* The read modes read FILE: say how to make one rather than fail later. */
static void check_input(const struct opts *o)
{
    int fd = open(o->file, O_RDONLY);
    struct stat st;
    if (fd < 0)
        cli_bad("FILE", "cannot read %s (%s); make one with: head -c 1G /dev/urandom >%s", o->file,
                strerror(errno), o->file);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        cli_bad("FILE", "%s is not a regular file", o->file);
    close(fd);
    int is_rand = strcmp(o->mode, "randread") == 0;
    uint64_t need = is_rand ? o->bs : strcmp(o->op, "read1") == 0;
    if ((uint64_t)st.st_size < need)
        cli_bad("FILE",
                "%s holds %lld bytes, fewer than %s (%" PRIu64 "); make it bigger with: "
                "head -c 1G /dev/urandom >%s",
                o->file, (long long)st.st_size, is_rand ? "--bs" : "--op read1 reads", need,
                o->file);
}

static const char notes[] =
    "Modes (each prints one line of name=value, see bench/README.md):\n"
    "  randread   random --bs reads of FILE through the engine, --qd in flight\n"
    "  roundtrip  QD1 round trips through the engine: --op nop, or read1 (1 byte of FILE)\n"
    "  raw-uring  the same round trip on bare liburing, no mapio (the peer)\n"
    "  commit     --committers appending --bs records to FILE through group commit\n"
    "  sync-each  pwrite + fdatasync per --bs record to FILE, no mapio (the peer)\n"
    "FILE must exist for randread, roundtrip and raw-uring (e.g. head -c 1G /dev/urandom >FILE);\n"
    "commit and sync-each create or truncate it.\n";

int main(int argc, char **argv)
{
    struct opts o = {
        .qd = 32, .bs = 4096, .workers = 2, .seconds = 5, .op = "nop", .committers = 1
    };
    const struct cli_arg args[] = {
        { "--mode", CLI_STR, &o.mode, "what to measure (see Modes below)", "MODE",
          .choices = "randread|roundtrip|raw-uring|commit|sync-each", .pos = 1, .required = 1 },
        { "--file", CLI_STR, &o.file, "the file read or written", "FILE", .pos = 1, .required = 1 },
        { "--backend", CLI_STR, &o.backend, "engine backend (not raw-uring, sync-each)", "B",
          .choices = mapio_backends_compiled(), .def = "the first that initialises" },
        { "--seconds", CLI_DOUBLE, &o.seconds, "how long to run", "S", .min = 0.001, .max = 1e6 },
        { "--qd", CLI_UINT, &o.qd, "randread: requests in flight", .min = 1, .max = 1 << 16 },
        { "--bs", CLI_UINT, &o.bs, "randread, commit, sync-each: bytes per read or record",
          .min = 1, .max = 1 << 26 },
        { "--workers", CLI_UINT, &o.workers,
          "engine pool threads (epoll/kqueue backends, MMapIO copy pool); 0 = 2", .max = 1024 },
        { "--direct", CLI_UINT, &o.direct, "randread: 1 = open FILE with O_DIRECT", "0|1",
          .max = 1 },
        { "--mmap", CLI_UINT, &o.mmap,
          "randread: 1 = MMapIO (copy on the caller), 2 = MMapIO on the copy pool", "0|1|2",
          .max = 2 },
        { "--op", CLI_STR, &o.op, "roundtrip, raw-uring: the request timed", "nop|read1",
          .choices = "nop|read1" },
        { "--committers", CLI_UINT, &o.committers, "commit: records in flight", .min = 1,
          .max = 1 << 16 },
        { "--delay", CLI_UINT, &o.delay_us,
          "commit: commit_delay_us, how long a sync waits for more committers", "US",
          .max = 1000000 },
        { "--prealloc-mib", CLI_UINT, &o.prealloc,
          "commit: write this many MiB of zeros first, then overwrite them (0 = append)",
          .max = 1 << 20 },
    };
    const struct cli cli = { .prog = "mapio-bench",
                             .about = "The engine against its peers, one mode per run.",
                             .notes = notes,
                             .args = args,
                             .nargs = sizeof args / sizeof *args };
    cli_parse(&cli, argc, argv);
    if (strcmp(o.mode, "randread") == 0 || strcmp(o.mode, "roundtrip") == 0 ||
        strcmp(o.mode, "raw-uring") == 0)
        check_input(&o);
    if (strcmp(o.mode, "randread") == 0)
        return randread(&o);
    if (strcmp(o.mode, "roundtrip") == 0)
        return roundtrip(&o);
    if (strcmp(o.mode, "raw-uring") == 0)
        return raw_uring(&o);
    if (strcmp(o.mode, "commit") == 0)
        return commit_bench(&o);
    return sync_each(&o);
}
