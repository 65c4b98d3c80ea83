/*
 * bench/mapio_bench.c - the bench CLI: the engine against its peers.
 *
 *   mapio-bench MODE FILE [options]     (mapio-bench [MODE] --help lists them)
 *
 * MODE is randread, roundtrip or raw-uring (reading FILE, created and filled
 * when missing), commit or sync-each (writing it). Each run prints one row -
 * "name=value ...", or one JSON object with --json (report.h) - with ops/s,
 * latency percentiles and CPU time per operation, so that a script can put it
 * next to fio or the raw loop measured in the same run (bench/compare.sh,
 * bench/durable.sh).
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "mapio.h"
#include "report.h"

struct opts {
    const char *mode, *file, *backend, *op, *name, *commit_file;
    unsigned qd, bs, workers, committers, delay_us, direct, prealloc, mmap, create, size_mib,
        seg_mib, latency, files;
    unsigned engines, beside, inline_reads;
    double seconds;
    int json;
};

#define MAPIO__BENCH_MIN(a, b) ((a) < (b) ? (a) : (b))

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static mapio_engine_t *engine(const struct opts *o)
{
    mapio_engine_opts_t eo = { .backend = o->backend,
                               .workers = o->workers,
                               .flags = (o->inline_reads ? 0 : MAPIO_ENGINE_NO_INLINE_READS) |
                                        (o->latency ? 0 : MAPIO_ENGINE_NO_LATENCY),
                               .commit_delay_us = o->delay_us };
    mapio_engine_t *eng;
    int err = mapio_engine_new(&eng, &eo);
    if (err != 0)
        cli_die("engine on %s: %s", o->backend ? o->backend : "the default backend",
                mapio_strerror(err));
    return eng;
}

/* ---- random reads through the engine ------------------------------------- */

struct rr {
    mapio_file_t *files; /* --files handles of FILE: each read picks one */
    unsigned nfiles;
    uint64_t blocks, seed, done, deadline;
    struct progress progress;
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
    if ((rr->done & 1023) == 0) {
        uint64_t now = now_ns();
        rr->stop = now >= rr->deadline;
        progress_tick(&rr->progress, now, rr->done);
    }
    if (!rr->stop && !rr->failed)
        rr_issue(s);
}

static void rr_issue(struct rr_slot *s)
{
    struct rr *rr = s->rr;
    uint64_t r = rng(&rr->seed), off = (r % rr->blocks) * rr->bs;
    mapio_file_t *f = &rr->files[rr->nfiles > 1 ? (r >> 40) % rr->nfiles : 0];
    s->req.data = s;
    if (mapio_read_at(f, &s->req, s->buf, rr->bs, off, rr_done) != 0)
        rr->failed = 1;
}

/* --committers-beside: group committers beside the reads (defined with
 * group commit, below). */
struct beside;
static struct beside *beside_open(const struct opts *o, mapio_engine_t *eng);
static void beside_start(struct beside *b, uint64_t deadline);
static void beside_close(struct beside *b, struct row *row);

/* One engine's reads: --qd in flight on its own thread (--engines). */
struct reader {
    const struct opts *o;
    mapio_engine_t *eng;
    struct rr rr;
    struct rr_slot *slots;
    struct beside *beside; /* the first engine's committers, or NULL */
    pthread_barrier_t *start;
    uint64_t t0;
    mapio_latency_t lat;
    pthread_t thread;
};

static void reader_open(struct reader *r, unsigned index)
{
    const struct opts *o = r->o;
    /* --mmap 1: MMapIO, copies on this thread; --mmap 2: on the copy pool. */
    unsigned mode = o->mmap == 0   ? 0
                    : o->mmap == 1 ? MAPIO_OPEN_MMAP
                                   : MAPIO_OPEN_MMAP | MAPIO_OPEN_MMAP_ON_POOL;
    r->rr = (struct rr){ .bs = o->bs, .seed = 0x9e3779b97f4a7c15ull + index, .nfiles = o->files };
    /* --files N: N descriptors of FILE per engine, the soft limit raised. */
    rlim_t want = (rlim_t)o->files * o->engines + 64;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want && rl.rlim_max >= want) {
        rl.rlim_cur = want;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    r->rr.files = calloc(o->files, sizeof *r->rr.files);
    for (unsigned i = 0; i < o->files; i++) {
        int err = mapio_file_open_blocking(&r->rr.files[i], r->eng, o->file, 0,
                                           MAPIO_OPEN_READ_ONLY |
                                               (o->direct ? MAPIO_OPEN_DIRECT : 0) | mode);
        if (err != 0)
            cli_die("open %s (handle %u of --files %u): %s", o->file, i + 1, o->files,
                    mapio_strerror(err));
    }
    r->rr.blocks = mapio_file_size(&r->rr.files[0]) / o->bs; /* >= 1: main checked */
    r->slots = calloc(o->qd, sizeof *r->slots);
    for (unsigned i = 0; i < o->qd; i++) {
        r->slots[i].rr = &r->rr;
        r->slots[i].buf = aligned_alloc(4096, o->bs);
    }
    r->beside = index == 0 && o->beside > 0 ? beside_open(o, r->eng) : NULL;
}

/* Everything in flight until the deadline, then drained. */
static void reader_run(struct reader *r)
{
    r->rr.deadline = r->t0 + (uint64_t)(r->o->seconds * 1e9);
    if (r->beside != NULL)
        beside_start(r->beside, r->rr.deadline);
    for (unsigned i = 0; i < r->o->qd; i++)
        rr_issue(&r->slots[i]);
    mapio_engine_run(r->eng);
    mapio_metrics_t m;
    mapio_engine_metrics(r->eng, &m);
    r->lat = m.read_latency;
}

static void reader_close(struct reader *r)
{
    for (unsigned i = 0; i < r->rr.nfiles; i++)
        mapio_file_close_blocking(&r->rr.files[i]);
    free(r->rr.files);
    for (unsigned i = 0; i < r->o->qd; i++)
        free(r->slots[i].buf);
    free(r->slots);
}

static void *reader_thread(void *arg)
{
    struct reader *r = arg;
    pthread_barrier_wait(r->start); /* every engine is set up */
    pthread_barrier_wait(r->start); /* and the clock read: r->t0 */
    reader_run(r);
    return NULL;
}

static void randread(const struct opts *o, struct row *row, mapio_engine_t *eng)
{
    unsigned n = o->engines;
    struct reader *rd = calloc(n, sizeof *rd);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, n);
    for (unsigned i = 0; i < n; i++) {
        rd[i].o = o;
        rd[i].eng = i == 0 ? eng : engine(o);
        rd[i].start = &start;
        reader_open(&rd[i], i);
        if (i > 0 && pthread_create(&rd[i].thread, NULL, reader_thread, &rd[i]) != 0)
            cli_die("--engines: cannot start a thread");
    }
    pthread_barrier_wait(&start);
    progress_start(&rd[0].rr.progress, row->name, "ops", o->seconds, 0);
    meter_start(&row->meter);
    for (unsigned i = 0; i < n; i++)
        rd[i].t0 = row->meter.t0_ns;
    pthread_barrier_wait(&start);
    reader_run(&rd[0]);
    for (unsigned i = 1; i < n; i++)
        pthread_join(rd[i].thread, NULL);
    meter_stop(&row->meter);
    progress_end(&rd[0].rr.progress);
    /* Every engine's reads; the latency of the one that fared worst. */
    row->lat = rd[0].lat;
    for (unsigned i = 0; i < n; i++) {
        row->ops += rd[i].rr.done;
        row->failed |= rd[i].rr.failed;
        if (rd[i].lat.p99_ns > row->lat.p99_ns)
            row->lat = rd[i].lat;
    }
    row->lat_source = !o->latency ? "none (--latency 0)"
                      : n > 1     ? "engine read_latency (the worst engine's)"
                                  : "engine read_latency";
    row->bytes_per_op = o->bs;
    if (rd[0].beside != NULL)
        beside_close(rd[0].beside, row);
    for (unsigned i = 0; i < n; i++) {
        reader_close(&rd[i]);
        if (i > 0)
            mapio_engine_free(rd[i].eng);
    }
    pthread_barrier_destroy(&start);
    free(rd);
}

/* ---- QD1 loops: one request at a time, back to back ------------------------ */

/*
 * Run op(ctx) for o->seconds, the same way for the engine's round trip and
 * for its peers. The clock is read around one operation in SAMPLE (its
 * latency goes into the histogram) and at the end of each run of SAMPLE:
 * a clock read per operation would add the same ~20-60 ns to both sides
 * and make their ratio look closer to 1 than it is. Operations slower than
 * 10 us are all timed.
 */
#define SAMPLE 64
static void qd1_loop(const struct opts *o, struct row *row, void (*op)(void *), void *ctx)
{
    struct hist *h = calloc(1, sizeof *h);
    struct progress p;
    progress_start(&p, row->name, "ops", o->seconds, 0);
    meter_start(&row->meter);
    uint64_t t = row->meter.t0_ns, end = t + (uint64_t)(o->seconds * 1e9);
    unsigned run = SAMPLE;
    while (t < end) {
        uint64_t t0 = now_ns();
        op(ctx);
        uint64_t t1 = now_ns();
        hist_add(h, t1 - t0);
        /* Slow operations (a sync) are all timed: beside them the clock
         * costs nothing, and a sample would leave too few for a p99. */
        if (t1 - t0 > 10000)
            run = 1;
        for (unsigned i = 1; i < run; i++)
            op(ctx);
        t = run == 1 ? t1 : now_ns();
        row->ops += run;
        progress_tick(&p, t, row->ops);
    }
    meter_stop(&row->meter);
    progress_end(&p);
    hist_get(h, &row->lat);
    row->lat_source = run == 1 ? "bench" : "bench, 1 op in 64";
    free(h);
}

struct rt {
    mapio_engine_t *eng;
    mapio_file_t file;
    mapio_req_t req;
    const char *op;
    int read1;
    unsigned char b[1];
};

static void rt_done(mapio_req_t *req)
{
    (void)req;
}

static void rt_op(void *ctx)
{
    struct rt *rt = ctx;
    int err = rt->read1 ? mapio_read_at(&rt->file, &rt->req, rt->b, 1, 0, rt_done)
                        : mapio_nop(rt->eng, &rt->req, rt_done);
    if (err != 0 || (err = mapio_engine_poll(rt->eng, -1)) != 1)
        cli_die("%s: %s", rt->op, err < 0 ? mapio_strerror(err) : "no completion");
}

static void roundtrip(const struct opts *o, struct row *row, mapio_engine_t *eng)
{
    struct rt rt = { .eng = eng, .op = o->op, .read1 = strcmp(o->op, "read1") == 0 };
    int err = mapio_file_open_blocking(&rt.file, eng, o->file, 0, MAPIO_OPEN_READ_ONLY);
    if (err != 0)
        cli_die("open %s: %s", o->file, mapio_strerror(err));
    row->bytes_per_op = (uint64_t)rt.read1;
    qd1_loop(o, row, rt_op, &rt);
    mapio_file_close_blocking(&rt.file);
}

/* The peer: the same round trip on bare liburing. */
struct raw {
    struct io_uring ring;
    const char *op;
    int fd, read1;
    unsigned char b[1];
};

static void raw_op(void *ctx)
{
    struct raw *r = ctx;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    if (r->read1)
        io_uring_prep_read(sqe, r->fd, r->b, 1, 0);
    else
        io_uring_prep_nop(sqe);
    struct io_uring_cqe *cqe;
    if (io_uring_submit_and_wait(&r->ring, 1) < 0 || io_uring_peek_cqe(&r->ring, &cqe) != 0)
        cli_die("io_uring: no completion");
    if (cqe->res < 0)
        cli_die("%s: %s", r->op, strerror(-cqe->res));
    io_uring_cqe_seen(&r->ring, cqe);
}

static void raw_uring(const struct opts *o, struct row *row)
{
    struct raw r = { .op = o->op, .read1 = strcmp(o->op, "read1") == 0 };
    int err = io_uring_queue_init(256, &r.ring, 0);
    if (err != 0)
        cli_die("io_uring_queue_init: %s", strerror(-err));
    r.fd = open(o->file, O_RDONLY);
    if (r.fd < 0)
        cli_die("open %s: %s", o->file, strerror(errno));
    row->bytes_per_op = (uint64_t)r.read1;
    qd1_loop(o, row, raw_op, &r);
    close(r.fd);
    io_uring_queue_exit(&r.ring);
}

/* The peer of group commit: append a record and fdatasync it, no mapio. */
struct each {
    const struct opts *o;
    unsigned char *buf;
    uint64_t off;
    int fd;
};

static void each_op(void *ctx)
{
    struct each *e = ctx;
    if (pwrite(e->fd, e->buf, e->o->bs, (off_t)e->off) != (ssize_t)e->o->bs || fdatasync(e->fd))
        cli_die("write + fdatasync of %s: %s", e->o->file, strerror(errno));
    e->off += e->o->bs;
}

static void sync_each(const struct opts *o, struct row *row)
{
    struct each e = { .o = o, .fd = open(o->file, O_RDWR | O_CREAT | O_TRUNC, 0644) };
    if (e.fd < 0)
        cli_die("open %s: %s", o->file, strerror(errno));
    /* --prealloc-mib as for commit, with plain pwrite: the same overwrite in
     * place that a preallocated log segment gets. */
    unsigned char *zero = calloc(1, 1 << 20);
    for (uint64_t off = 0; off < ((uint64_t)o->prealloc << 20); off += 1 << 20)
        if (pwrite(e.fd, zero, 1 << 20, (off_t)off) != 1 << 20)
            cli_die("--prealloc-mib: writing zeros to %s: %s", o->file, strerror(errno));
    free(zero);
    if (o->prealloc && fdatasync(e.fd) != 0)
        cli_die("--prealloc-mib: fdatasync of %s: %s", o->file, strerror(errno));
    e.buf = malloc(o->bs);
    memset(e.buf, 7, o->bs);
    row->bytes_per_op = o->bs;
    qd1_loop(o, row, each_op, &e);
    close(e.fd);
    free(e.buf);
}

/* ---- group commit: N committers appending records ------------------------ */

struct gc_job {
    mapio_file_t file;
    uint64_t tail, done, deadline;
    struct progress progress;
    unsigned bs;
    int stop, failed;
};

struct gc_slot {
    mapio_req_t req;
    mapio_write_t w;
    struct gc_job *job;
    unsigned char *buf;
};

static void gc_issue(struct gc_slot *s);

static void gc_done(mapio_req_t *req)
{
    struct gc_slot *s = req->data;
    struct gc_job *j = s->job;
    if (req->result != 0)
        j->failed = 1;
    uint64_t now = now_ns();
    j->done++;
    j->stop = now >= j->deadline;
    progress_tick(&j->progress, now, j->done);
    if (!j->stop && !j->failed)
        gc_issue(s);
}

static void gc_issue(struct gc_slot *s)
{
    struct gc_job *j = s->job;
    s->w = (mapio_write_t){ s->buf, j->bs, j->tail };
    j->tail += j->bs;
    s->req.data = s;
    if (mapio_commit(&j->file, &s->req, &s->w, 1, gc_done) != 0)
        j->failed = 1;
}

static void prealloc(mapio_file_t *f, const struct opts *o)
{
    /* Write zeros once: commits then overwrite in place, with no size change
     * or extent allocation for fdatasync to journal. */
    uint64_t size = (uint64_t)o->prealloc << 20;
    unsigned char *zero = calloc(1, 1 << 20);
    for (uint64_t off = 0; off < size; off += 1 << 20)
        if (mapio_write_at_blocking(f, zero, 1 << 20, off) != 1 << 20)
            cli_die("--prealloc-mib: writing zeros to %s failed", o->file);
    free(zero);
    if (mapio_sync_data_blocking(f) != 0)
        cli_die("--prealloc-mib: fdatasync of %s failed", o->file);
}

static void commit_bench(const struct opts *o, struct row *row, mapio_engine_t *eng)
{
    struct gc_job j = { .bs = o->bs };
    int err = mapio_file_open_blocking(&j.file, eng, o->file, 0, MAPIO_OPEN_TRUNCATE);
    if (err != 0)
        cli_die("open %s: %s", o->file, mapio_strerror(err));
    if (o->prealloc)
        prealloc(&j.file, o);
    struct gc_slot *slots = calloc(o->committers, sizeof *slots);
    for (unsigned i = 0; i < o->committers; i++) {
        slots[i].job = &j;
        slots[i].buf = malloc(o->bs);
        memset(slots[i].buf, (int)i, o->bs);
    }
    mapio_metrics_t before;
    mapio_engine_metrics(eng, &before);
    progress_start(&j.progress, row->name, "commits", o->seconds, 0);
    meter_start(&row->meter);
    j.deadline = row->meter.t0_ns + (uint64_t)(o->seconds * 1e9);
    for (unsigned i = 0; i < o->committers; i++)
        gc_issue(&slots[i]);
    mapio_engine_run(eng);
    meter_stop(&row->meter);
    progress_end(&j.progress);
    mapio_metrics_t m;
    mapio_engine_metrics(eng, &m);
    double syncs = (double)(m.sync_background_loops - before.sync_background_loops);
    row->ops = j.done;
    row->bytes_per_op = o->bs;
    row->failed = j.failed;
    row->extra[0].name = "syncs";
    row->extra[0].value = syncs;
    row->extra[1].name = "records_per_sync";
    row->extra[1].value = syncs > 0 ? (double)j.done / syncs : 0;
    row->nextra = 2;
    mapio_file_close_blocking(&j.file);
    for (unsigned i = 0; i < o->committers; i++)
        free(slots[i].buf);
    free(slots);
}

/* --committers-beside N: N committers appending --bs records to
 * --commit-file, on the engine whose reads are measured. */
struct beside {
    struct gc_job job;
    unsigned n;
    struct gc_slot slots[];
};

static struct beside *beside_open(const struct opts *o, mapio_engine_t *eng)
{
    struct beside *b = calloc(1, sizeof *b + o->beside * sizeof *b->slots);
    b->job.bs = o->bs;
    b->n = o->beside;
    int err = mapio_file_open_blocking(&b->job.file, eng, o->commit_file, 0, MAPIO_OPEN_TRUNCATE);
    if (err != 0)
        cli_die("open %s: %s", o->commit_file, mapio_strerror(err));
    for (unsigned i = 0; i < b->n; i++) {
        b->slots[i].job = &b->job;
        b->slots[i].buf = malloc(o->bs);
        memset(b->slots[i].buf, (int)i, o->bs);
    }
    return b;
}

static void beside_start(struct beside *b, uint64_t deadline)
{
    b->job.deadline = deadline;
    for (unsigned i = 0; i < b->n; i++)
        gc_issue(&b->slots[i]);
}

/* Its figures into the row's extras; then close and free. */
static void beside_close(struct beside *b, struct row *row)
{
    double secs = (double)row->meter.wall_ns / 1e9;
    row->extra[0].name = "commits";
    row->extra[0].value = (double)b->job.done;
    row->extra[1].name = "commits_per_s";
    row->extra[1].value = secs > 0 ? (double)b->job.done / secs : 0;
    row->nextra = 2;
    row->failed |= b->job.failed;
    mapio_file_close_blocking(&b->job.file);
    for (unsigned i = 0; i < b->n; i++)
        free(b->slots[i].buf);
    free(b);
}

/* ---- the write-ahead log (mapio/wal.h) ------------------------------------------ */

/* FILE is the log's directory: made if missing; a log already there is
 * removed first (its files only: *.wal, *.wal.tmp, *.wal.free, LOCK). */
static void wal_fresh_dir(const char *dir)
{
    mkdir(dir, 0755);
    DIR *d = opendir(dir);
    if (d == NULL)
        cli_die("open %s: %s", dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        size_t l = strlen(n);
        int ours = strcmp(n, "LOCK") == 0 || (l > 4 && strcmp(n + l - 4, ".wal") == 0) ||
                   (l > 8 && strcmp(n + l - 8, ".wal.tmp") == 0) ||
                   (l > 9 && strcmp(n + l - 9, ".wal.free") == 0);
        if (ours) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, n);
            unlink(path);
        }
    }
    closedir(d);
}

static mapio_wal_t *wal_open(const struct opts *o, mapio_engine_t *eng, unsigned flags)
{
    mapio_wal_t *wal;
    mapio_wal_opts_t wo = { .segment_size = (uint64_t)o->seg_mib << 20,
                            .flags = flags | (o->direct ? MAPIO_WAL_DIRECT : 0),
                            .max_inflight = o->committers + 16 };
    int err = mapio_wal_new(&wal, eng, o->file, &wo);
    if (err != 0)
        cli_die("mapio_wal_new %s: %s", o->file, mapio_strerror(err));
    return wal;
}

struct wal_job {
    mapio_wal_t *wal;
    uint64_t done, deadline;
    struct progress progress;
    struct hist *lat;
    unsigned bs;
    int stop, failed;
};

struct wal_slot {
    mapio_wal_req_t req;
    struct wal_job *job;
    unsigned char *buf;
    uint64_t t0;
};

static void wal_issue(struct wal_slot *s);

static void wal_done(mapio_wal_req_t *req)
{
    struct wal_slot *s = req->data;
    struct wal_job *j = s->job;
    if (req->result != 0)
        j->failed = 1;
    uint64_t now = now_ns();
    hist_add(j->lat, now - s->t0);
    j->done++;
    j->stop = now >= j->deadline;
    progress_tick(&j->progress, now, j->done);
    if (!j->stop && !j->failed)
        wal_issue(s);
}

static void wal_issue(struct wal_slot *s)
{
    struct wal_job *j = s->job;
    mapio_iovec_t rec = { s->buf, j->bs };
    s->req.data = s;
    s->t0 = now_ns();
    if (mapio_wal_append(j->wal, &s->req, &rec, 1, wal_done) != 0)
        j->failed = 1;
}

/* The peer is commit at the same --committers and --bs: the log adds its
 * frame (32 bytes, and 4 for the record's length) to the same record. */
static void wal_bench(const struct opts *o, struct row *row, mapio_engine_t *eng)
{
    wal_fresh_dir(o->file);
    struct wal_job j = { .bs = o->bs, .lat = calloc(1, sizeof(struct hist)) };
    j.wal = wal_open(o, eng, MAPIO_WAL_CREATE | MAPIO_WAL_NO_IDLE_MARK);
    mapio_engine_run(eng); /* the spare is made before the clock starts */
    struct wal_slot *slots = calloc(o->committers, sizeof *slots);
    for (unsigned i = 0; i < o->committers; i++) {
        slots[i].job = &j;
        slots[i].buf = malloc(o->bs);
        memset(slots[i].buf, (int)i, o->bs);
    }
    mapio_metrics_t before;
    mapio_engine_metrics(eng, &before);
    progress_start(&j.progress, row->name, "appends", o->seconds, 0);
    meter_start(&row->meter);
    j.deadline = row->meter.t0_ns + (uint64_t)(o->seconds * 1e9);
    for (unsigned i = 0; i < o->committers; i++)
        wal_issue(&slots[i]);
    while (mapio_engine_inflight(eng) > 0 && !j.failed)
        mapio_engine_poll(eng, -1);
    meter_stop(&row->meter);
    progress_end(&j.progress);
    mapio_metrics_t m;
    mapio_engine_metrics(eng, &m);
    double syncs = (double)(m.sync_background_loops - before.sync_background_loops);
    row->ops = j.done;
    row->bytes_per_op = o->bs;
    row->failed = j.failed;
    hist_get(j.lat, &row->lat);
    row->lat_source = "bench";
    row->extra[0].name = "syncs";
    row->extra[0].value = syncs;
    row->extra[1].name = "records_per_sync";
    row->extra[1].value = syncs > 0 ? (double)j.done / syncs : 0;
    row->nextra = 2;
    if (mapio_wal_free(j.wal) != 0)
        row->failed = 1;
    for (unsigned i = 0; i < o->committers; i++)
        free(slots[i].buf);
    free(slots);
    free(j.lat);
}

/* Recovery: a log of --size-mib MiB of --bs records is written (not
 * timed), closed, and opened again from the page cache, three times (the
 * median is the row's): the scan of every frame (CRC included), the
 * look-ahead past the end and a sync of each segment. Then one iterator
 * pass over every record. */
struct fill {
    int inflight, failed;
};

static void fill_done(mapio_wal_req_t *req)
{
    struct fill *f = req->data;
    f->inflight--;
    if (req->result != 0)
        f->failed = 1;
}

static void wal_recover_bench(const struct opts *o, struct row *row, mapio_engine_t *eng)
{
    wal_fresh_dir(o->file);
    mapio_wal_t *wal = wal_open(o, eng, MAPIO_WAL_CREATE | MAPIO_WAL_NO_IDLE_MARK);
    /* Filled in batches of many records (few syncs): the scan's cost is
     * per frame and per record, both counted below. */
    uint64_t seg = (uint64_t)o->seg_mib << 20;
    uint64_t per = MAPIO__BENCH_MIN((256u << 10) / (o->bs + 4u), (seg - 8192) / (o->bs + 4u));
    if (per == 0)
        cli_bad("--bs", "records of %u bytes do not fit a segment of %u MiB", o->bs, o->seg_mib);
    unsigned char *buf = malloc(o->bs);
    memset(buf, 0x5a, o->bs);
    mapio_iovec_t *recs = malloc(per * sizeof *recs);
    for (uint64_t i = 0; i < per; i++)
        recs[i] = (mapio_iovec_t){ buf, o->bs };
    enum { DEPTH = 16 };
    mapio_wal_req_t reqs[DEPTH];
    struct fill f = { 0 };
    uint64_t want = (uint64_t)o->size_mib << 20, put = 0, k = 0;
    while ((put < want || f.inflight > 0) && !f.failed) {
        while (put < want && f.inflight < DEPTH) {
            reqs[k % DEPTH].data = &f;
            if (mapio_wal_append(wal, &reqs[k % DEPTH], recs, (unsigned)per, fill_done) != 0)
                cli_die("filling the log failed");
            f.inflight++;
            put += per * (o->bs + 4u);
            k++;
        }
        mapio_engine_poll(eng, -1);
    }
    if (f.failed || mapio_wal_free(wal) != 0)
        cli_die("filling the log failed");

    /* Three opens, the median reported: the first after the fill also pays
     * for the pages just written settling in the page cache. */
    uint64_t t[3];
    for (int round = 0; round < 3; round++) {
        meter_start(&row->meter);
        wal = wal_open(o, eng, 0);
        meter_stop(&row->meter);
        t[round] = row->meter.wall_ns;
        if (round < 2 && mapio_wal_free(wal) != 0)
            cli_die("closing the log failed");
    }
    uint64_t med = t[0] > t[1] ? (t[1] > t[2] ? t[1] : (t[0] > t[2] ? t[2] : t[0]))
                               : (t[0] > t[2] ? t[0] : (t[1] > t[2] ? t[2] : t[1]));
    row->meter.wall_ns = med;
    /* One operation timed: the open. */
    row->lat = (mapio_latency_t){ 1, med, med, med, med };
    row->lat_source = "bench";
    mapio_wal_info_t info;
    mapio_wal_info(wal, &info);
    double secs = (double)row->meter.wall_ns / 1e9;
    double bytes = (double)(info.recovered_lsn - info.first_lsn);
    row->ops = info.recovered_records;
    row->bytes_per_op = o->bs;
    row->extra[0].name = "scan_mb_per_s";
    row->extra[0].value = secs > 0 ? bytes / secs / 1e6 : 0;

    mapio_wal_iter_t *it;
    mapio_wal_record_t r;
    uint64_t t0 = now_ns(), nrec = 0, sum = 0;
    if (mapio_wal_iter_new(&it, wal, 0) != 0)
        cli_die("mapio_wal_iter_new failed");
    int rc;
    while ((rc = mapio_wal_iter_next(it, &r)) == 1) {
        nrec++;
        sum += ((const unsigned char *)r.data)[0];
    }
    double isecs = (double)(now_ns() - t0) / 1e9;
    mapio_wal_iter_free(it);
    row->failed = rc != 0 || nrec != info.recovered_records || sum == 0;
    row->extra[1].name = "iter_mb_per_s";
    row->extra[1].value = isecs > 0 ? bytes / isecs / 1e6 : 0;
    row->nextra = 2;
    if (mapio_wal_free(wal) != 0)
        row->failed = 1;
    free(recs);
    free(buf);
}

/* ---- input files ------------------------------------------------------------ */

/* Fill a new FILE with o->size_mib MiB of pseudo-random data. */
static void create_input(const struct opts *o)
{
    int fd = open(o->file, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0)
        cli_bad("FILE", "cannot create %s: %s", o->file, strerror(errno));
    fprintf(stderr, "mapio-bench: creating %s: %u MiB of random data (--create 0: don't)\n",
            o->file, o->size_mib);
    uint64_t *buf = malloc(1 << 20), seed = 0x2545f4914f6cdd1dull;
    struct progress p;
    progress_start(&p, "creating", "MiB", 0, o->size_mib);
    for (unsigned mib = 0; mib < o->size_mib; mib++) {
        for (size_t i = 0; i < (1 << 20) / sizeof *buf; i++)
            buf[i] = rng(&seed);
        if (pwrite(fd, buf, 1 << 20, (off_t)mib << 20) != 1 << 20)
            cli_die("writing %s: %s", o->file, errno ? strerror(errno) : "short write");
        progress_tick(&p, now_ns(), mib + 1);
    }
    progress_end(&p);
    free(buf);
    if (close(fd) != 0)
        cli_die("writing %s: %s", o->file, strerror(errno));
}

/* The read modes read FILE: create it if missing, else check it is big enough. */
static void check_input(const struct opts *o)
{
    int fd = open(o->file, O_RDONLY);
    if (fd < 0 && errno == ENOENT && o->create) {
        create_input(o);
        fd = open(o->file, O_RDONLY);
    }
    struct stat st;
    if (fd < 0 && errno == ENOENT)
        cli_bad("FILE",
                "cannot read %s (%s); leave out --create 0 to have it made, or make one "
                "with: head -c 1G /dev/urandom >%s",
                o->file, strerror(errno), o->file);
    if (fd < 0)
        cli_bad("FILE", "cannot read %s: %s", o->file, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        cli_bad("FILE", "%s is not a regular file", o->file);
    close(fd);
    int is_rand = strcmp(o->mode, "randread") == 0;
    uint64_t need = is_rand ? o->bs : strcmp(o->op, "read1") == 0;
    if ((uint64_t)st.st_size < need)
        cli_bad("FILE",
                "%s holds %lld bytes, fewer than %s (%llu); make it bigger with: "
                "head -c 1G /dev/urandom >%s",
                o->file, (long long)st.st_size, is_rand ? "--bs" : "--op read1 reads",
                (unsigned long long)need, o->file);
}

/* The write modes create or truncate FILE: its folder must be there. */
static void check_output(const struct opts *o)
{
    struct stat st;
    if (stat(o->file, &st) == 0 && !S_ISREG(st.st_mode))
        cli_bad("FILE", "%s is not a regular file", o->file);
    char *dir = strdup(o->file), *slash = strrchr(dir, '/');
    if (slash != NULL) {
        slash[slash == dir] = '\0'; /* "/x" -> "/" */
        cli_need_dir("FILE", dir);
    }
    free(dir);
}

/* The log's modes take a directory: its parent must be there, and it must
 * be a directory if it is there; the segment size a power of two. */
static void check_log_dir(const struct opts *o)
{
    struct stat st;
    if (stat(o->file, &st) == 0 && !S_ISDIR(st.st_mode))
        cli_bad("FILE", "%s is not a directory", o->file);
    char *dir = strdup(o->file), *slash = strrchr(dir, '/');
    if (slash != NULL) {
        slash[slash == dir] = '\0';
        cli_need_dir("FILE", dir);
    }
    free(dir);
    if ((o->seg_mib & (o->seg_mib - 1)) != 0)
        cli_bad("--seg-mib", "must be a power of two (got %u)", o->seg_mib);
}

/* ---- the command line ------------------------------------------------------- */

#define READS "randread|roundtrip|raw-uring"
#define ENGINE "randread|roundtrip|commit|wal|recovery"
#define WAL "wal|recovery"

static const struct cli_mode modes[] = {
    { "randread", "Random --bs reads of FILE through the engine, --qd in flight." },
    { "roundtrip", "QD1 round trips through the engine: --op nop, or read1 (1 byte of FILE)." },
    { "raw-uring", "The same round trip on bare liburing, no mapio (roundtrip's peer)." },
    { "commit", "--committers appending --bs records to FILE through group commit." },
    { "sync-each", "pwrite + fdatasync per --bs record to FILE, no mapio (commit's peer)." },
    { "wal", "--committers appending --bs records to the log in directory FILE (mapio/wal.h)." },
    { "recovery",
      "Recovery of a --size-mib MiB log of --bs records in directory FILE, then one replay." },
};

static const char notes[] =
    "FILE: randread, roundtrip and raw-uring read it; when it is missing they create it\n"
    "(--size-mib MiB of random data, with a message), unless --create 0. commit and\n"
    "sync-each create or truncate it. wal and recovery take a directory (made if missing)\n"
    "and empty it of an earlier log's files (*.wal, *.wal.tmp, *.wal.free, LOCK) first.\n"
    "Output: one row per run on stdout, name=value words, or one JSON object with --json\n"
    "(fields: bench/README.md). While a run lasts over a second and stderr is a terminal,\n"
    "a progress line is redrawn there.\n";

int main(int argc, char **argv)
{
    struct opts o = { .qd = 32,
                      .bs = 4096,
                      .workers = 2,
                      .seconds = 5,
                      .op = "nop",
                      .committers = 1,
                      .create = 1,
                      .size_mib = 1024,
                      .seg_mib = 64,
                      .engines = 1,
                      .inline_reads = 1,
                      .latency = 1,
                      .files = 1 };
    const struct cli_arg args[] = {
        { "--mode", CLI_MODE, &o.mode, "what to measure (see Modes below)", "MODE", .pos = 1,
          .required = 1 },
        { "--file", CLI_STR, &o.file,
          "the file read or written (wal, recovery: the log's directory)", "FILE", .pos = 1,
          .required = 1 },
        { "--backend", CLI_STR, &o.backend, "engine backend", "B",
          .choices = mapio_backends_compiled(), .def = "the first that initialises",
          .modes = ENGINE },
        { "--seconds", CLI_DOUBLE, &o.seconds, "how long to run", "S", .min = 0.001, .max = 1e6 },
        { "--json", CLI_FLAG, &o.json, "print one JSON object per run instead of a text row",
          .modes = NULL /* every mode */ },
        { "--name", CLI_STR, &o.name, "the row's name in the output", "S",
          .def = "the mode, op and backend" },
        { "--qd", CLI_UINT, &o.qd, "requests in flight", .min = 1, .max = 1 << 16,
          .modes = "randread" },
        { "--bs", CLI_UINT, &o.bs, "bytes per read or record", .min = 1, .max = 1 << 26,
          .modes = "randread|commit|sync-each|wal|recovery" },
        { "--workers", CLI_UINT, &o.workers,
          "engine pool threads (epoll/kqueue backends, MMapIO copy pool); 0 = 2", .max = 1024,
          .modes = ENGINE },
        { "--direct", CLI_UINT, &o.direct, "1 = open FILE with O_DIRECT (wal: MAPIO_WAL_DIRECT)",
          "0|1", .max = 1, .modes = "randread|wal|recovery" },
        { "--mmap", CLI_UINT, &o.mmap,
          "1 = MMapIO (copy on the caller), 2 = MMapIO on the copy pool", "0|1|2", .max = 2,
          .modes = "randread" },
        { "--op", CLI_STR, &o.op, "the request timed", "nop|read1", .choices = "nop|read1",
          .modes = "roundtrip|raw-uring" },
        { "--committers", CLI_UINT, &o.committers, "records in flight", .min = 1, .max = 1 << 16,
          .modes = "commit|wal" },
        { "--seg-mib", CLI_UINT, &o.seg_mib, "segment size of the log, MiB (a power of two)",
          .min = 1, .max = 4096, .modes = WAL },
        { "--delay", CLI_UINT, &o.delay_us,
          "commit_delay_us, how long a sync waits for more committers", "US", .max = 1000000,
          .modes = "commit" },
        { "--prealloc-mib", CLI_UINT, &o.prealloc,
          "write this many MiB of zeros first, then overwrite them (0 = append)", .max = 1 << 20,
          .modes = "commit|sync-each" },
        { "--inline-reads", CLI_UINT, &o.inline_reads,
          "epoll/kqueue: 1 = cached reads complete on the polling thread, 0 = every read to a "
          "worker (MAPIO_ENGINE_NO_INLINE_READS)",
          "0|1", .max = 1, .modes = ENGINE },
        { "--engines", CLI_UINT, &o.engines,
          "engines, each on its own thread with --qd reads in flight (thread per core)", .min = 1,
          .max = 64, .modes = "randread" },
        { "--committers-beside", CLI_UINT, &o.beside,
          "group committers appending --bs records to --commit-file beside the reads (first "
          "engine)",
          .max = 1 << 16, .modes = "randread" },
        { "--commit-file", CLI_STR, &o.commit_file,
          "the file --committers-beside write (created or truncated)", "FILE",
          .def = "FILE.commits", .modes = "randread" },
        { "--files", CLI_UINT, &o.files,
          "descriptors of FILE opened, the reads spread over them at random", .min = 1,
          .max = 1000000, .modes = "randread" },
        { "--latency", CLI_UINT, &o.latency,
          "0 = the engine keeps no latencies (MAPIO_ENGINE_NO_LATENCY: no clock read per request)",
          "0|1", .max = 1, .modes = "roundtrip|randread" },
        { "--create", CLI_UINT, &o.create, "1 = create a missing FILE, 0 = fail", "0|1", .max = 1,
          .modes = READS },
        { "--size-mib", CLI_UINT, &o.size_mib, "size of a FILE created (recovery: of the log)",
          .min = 1, .max = 1 << 24, .modes = READS "|recovery" },
    };
    const struct cli cli = { "mapio-bench",
                             "The engine against its peers, one mode per run.",
                             notes,
                             args,
                             sizeof args / sizeof *args,
                             modes,
                             sizeof modes / sizeof *modes };
    cli_parse(&cli, argc, argv);
    /* o.mode is one of modes[]: no mode is a part of another's name */
    int is_engine = strstr(ENGINE, o.mode) != NULL,
        is_qd1 = strstr("roundtrip|raw-uring", o.mode) != NULL;
    if (strstr(READS, o.mode) != NULL)
        check_input(&o);
    else if (strstr(WAL, o.mode) != NULL)
        check_log_dir(&o);
    else
        check_output(&o);
    char commit_file[4096];
    if (o.beside > 0 && o.commit_file == NULL) {
        snprintf(commit_file, sizeof commit_file, "%s.commits", o.file);
        o.commit_file = commit_file;
    }
    mapio_engine_t *eng = is_engine ? engine(&o) : NULL;
    char name[96];
    struct row row = { .mode = o.mode, .peer = !is_engine, .lat_source = "bench" };
    if (is_engine)
        row.backend = mapio_engine_backend(eng);
    else
        row.backend = strcmp(o.mode, "raw-uring") == 0 ? "liburing" : "posix";
    snprintf(name, sizeof name, "%s%s%s %s", o.mode, is_qd1 ? " " : "", is_qd1 ? o.op : "",
             row.backend);
    row.name = o.name != NULL ? o.name : name;

    if (strcmp(o.mode, "randread") == 0)
        randread(&o, &row, eng);
    else if (strcmp(o.mode, "roundtrip") == 0)
        roundtrip(&o, &row, eng);
    else if (strcmp(o.mode, "raw-uring") == 0)
        raw_uring(&o, &row);
    else if (strcmp(o.mode, "commit") == 0)
        commit_bench(&o, &row, eng);
    else if (strcmp(o.mode, "wal") == 0)
        wal_bench(&o, &row, eng);
    else if (strcmp(o.mode, "recovery") == 0)
        wal_recover_bench(&o, &row, eng);
    else
        sync_each(&o, &row);

    mapio_metrics_t m;
    if (eng != NULL) {
        mapio_engine_metrics(eng, &m);
        row.metrics = &m;
        /* The engine's own histogram of the operation, where it keeps one
         * (randread took its engines' read_latency already). */
        if (strcmp(o.mode, "commit") == 0) {
            row.lat = m.commit_latency;
            row.lat_source = "engine commit_latency";
        }
    }
    report_row(&row, &cli, o.mode, o.json);
    mapio_engine_free(eng);
    return row.failed;
}
