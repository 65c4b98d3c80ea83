/*
 * bench/life/life_bench.c - the file lifecycle against its peers.
 *
 *   life-bench MODE DIR [options]     (life-bench [MODE] --help lists them)
 *
 * files:        open + stat + close of --files existing files in DIR (made
 *               when missing), --qd at once, through the engine
 *               (mapio_file_open relative to a directory handle,
 *               mapio_file_stat, mapio_file_close), over and over for
 *               --seconds.
 * files-loop:   the same on one thread with openat/fstat/close, no mapio
 *               (files' peer).
 * write-behind: --total-mib of sequential --bs writes to DIR/write-behind,
 *               buffered, then one fdatasync; with --range-mib R, after
 *               each R MiB, write-back started of the range just written
 *               (mapio_sync_range WRITE, as RocksDB's bytes_per_sync) and
 *               waited for on the range before it (WAIT_BEFORE | WRITE |
 *               WAIT_AFTER), so at most two ranges are ever dirty. The
 *               figure is the final sync's latency; --range-mib 0 is the
 *               peer.
 *
 * Each run prints one row (report.h): ops/s and latency per operation (a
 * file's open+stat+close; the final sync), CPU per operation.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "mapio.h"
#include "report.h"

struct opts {
    const char *mode, *dir, *backend, *name;
    unsigned qd, files, workers, bs, total_mib, range_mib;
    double seconds;
    int json;
};

static void file_name(char *buf, size_t n, unsigned i)
{
    snprintf(buf, n, "f%06u", i);
}

/* DIR/f000000 ... with 4 KiB each: made once, then reused (a warm dentry
 * cache is what the comparison is about). */
static void make_files(const struct opts *o)
{
    int dfd = open(o->dir, O_RDONLY | O_DIRECTORY);
    if (dfd < 0)
        cli_bad("DIR", "cannot open %s: %s", o->dir, strerror(errno));
    static char block[4096];
    char name[32];
    unsigned made = 0;
    for (unsigned i = 0; i < o->files; i++) {
        file_name(name, sizeof name, i);
        int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd < 0 || pwrite(fd, block, sizeof block, 0) != (ssize_t)sizeof block)
            cli_die("making %s/%s: %s", o->dir, name, strerror(errno));
        close(fd);
        made++;
    }
    if (made > 0)
        fprintf(stderr, "life-bench: made %u files of 4 KiB in %s\n", made, o->dir);
    close(dfd);
}

/* ---- files through the engine --------------------------------------------- */

struct fjob {
    mapio_engine_t *eng;
    mapio_file_t dir;
    unsigned files, next;
    uint64_t done, deadline;
    struct hist *hist;
    struct progress progress;
    int stop, failed;
};

enum { OPEN, STAT, CLOSE };

struct fslot {
    struct fjob *job;
    mapio_file_t file;
    mapio_req_t req;
    mapio_stat_t st;
    uint64_t t0;
    int step;
    char name[32];
};

static void f_step(mapio_req_t *req);

static void f_start(struct fslot *s)
{
    struct fjob *j = s->job;
    file_name(s->name, sizeof s->name, j->next);
    j->next = (j->next + 1) % j->files;
    s->step = OPEN;
    s->t0 = now_ns();
    s->req.data = s;
    if (mapio_file_open(&s->file, j->eng, &s->req, &j->dir, s->name, 0,
                        MAPIO_OPEN_READ_ONLY | MAPIO_OPEN_NO_CREATE, f_step) != 0)
        j->failed = 1;
}

static void f_step(mapio_req_t *req)
{
    struct fslot *s = req->data;
    struct fjob *j = s->job;
    if (req->result != 0) {
        j->failed = 1;
        return;
    }
    int err = 0;
    switch (s->step++) {
    case OPEN:
        err = mapio_file_stat(&s->file, &s->req, &s->st, f_step);
        break;
    case STAT:
        if (s->st.size != 4096)
            j->failed = 1;
        err = mapio_file_close(&s->file, &s->req, f_step);
        break;
    default: {
        uint64_t now = now_ns();
        hist_add(j->hist, now - s->t0);
        j->done++;
        progress_tick(&j->progress, now, j->done);
        j->stop = now >= j->deadline;
        if (!j->stop && !j->failed)
            f_start(s);
        return;
    }
    }
    if (err != 0)
        j->failed = 1;
}

static void files(const struct opts *o, struct row *row, mapio_engine_t *eng)
{
    struct fjob j = { .eng = eng, .files = o->files, .hist = calloc(1, sizeof(struct hist)) };
    int err = mapio_file_open_blocking(&j.dir, eng, o->dir, 0, MAPIO_OPEN_DIRECTORY);
    if (err != 0)
        cli_die("open %s: %s", o->dir, mapio_strerror(err));
    struct fslot *slots = calloc(o->qd, sizeof *slots);
    progress_start(&j.progress, row->name, "files", o->seconds, 0);
    meter_start(&row->meter);
    j.deadline = row->meter.t0_ns + (uint64_t)(o->seconds * 1e9);
    for (unsigned i = 0; i < o->qd; i++) {
        slots[i].job = &j;
        f_start(&slots[i]);
    }
    mapio_engine_run(eng);
    meter_stop(&row->meter);
    progress_end(&j.progress);
    hist_get(j.hist, &row->lat);
    row->ops = j.done;
    row->failed = j.failed;
    mapio_file_close_blocking(&j.dir);
    free(slots);
    free(j.hist);
}

/* The peer: one thread, openat + fstat + close. */
static void files_loop(const struct opts *o, struct row *row)
{
    int dfd = open(o->dir, O_RDONLY | O_DIRECTORY);
    if (dfd < 0)
        cli_die("open %s: %s", o->dir, strerror(errno));
    struct hist *h = calloc(1, sizeof *h);
    struct progress p;
    char name[32];
    unsigned next = 0;
    progress_start(&p, row->name, "files", o->seconds, 0);
    meter_start(&row->meter);
    uint64_t prev = row->meter.t0_ns, end = prev + (uint64_t)(o->seconds * 1e9);
    while (prev < end) {
        file_name(name, sizeof name, next);
        next = (next + 1) % o->files;
        struct stat st;
        int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) != 0 || st.st_size != 4096 || close(fd) != 0) {
            row->failed = 1;
            break;
        }
        uint64_t t = now_ns();
        hist_add(h, t - prev);
        prev = t;
        row->ops++;
        progress_tick(&p, t, row->ops);
    }
    meter_stop(&row->meter);
    progress_end(&p);
    hist_get(h, &row->lat);
    free(h);
    close(dfd);
}

/* ---- write-behind -------------------------------------------------------------- */

struct wb {
    int writes, ranges, failed;
    int64_t sync_result;
    int synced;
};

static void wb_write_done(mapio_req_t *req)
{
    struct wb *w = req->data;
    w->writes--;
    w->failed |= req->result < 0;
}

static void wb_range_done(mapio_req_t *req)
{
    struct wb *w = req->data;
    w->ranges--;
    w->failed |= req->result != 0;
    free(req);
}

static void wb_sync_done(mapio_req_t *req)
{
    struct wb *w = req->data;
    w->synced = 1;
    w->sync_result = req->result;
}

static void range_req(mapio_file_t *f, struct wb *w, uint64_t off, uint64_t len, unsigned how)
{
    mapio_req_t *r = malloc(sizeof *r);
    r->data = w;
    w->ranges++;
    if (mapio_sync_range(f, r, off, len, how, wb_range_done) != 0)
        cli_die("sync_range failed");
}

static void write_behind(const struct opts *o, struct row *row, mapio_engine_t *eng)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/write-behind", o->dir);
    mapio_file_t f;
    int err = mapio_file_open_blocking(&f, eng, path, 0, MAPIO_OPEN_TRUNCATE);
    if (err != 0)
        cli_die("open %s: %s", path, mapio_strerror(err));
    unsigned char *buf = malloc(o->bs);
    for (unsigned i = 0; i < o->bs; i++)
        buf[i] = (unsigned char)(i * 31 + 7);
    uint64_t total = (uint64_t)o->total_mib << 20, range = (uint64_t)o->range_mib << 20;
    uint64_t behind = 0, prev = 0; /* write-back started up to behind, waited for up to prev */
    struct wb w = { 0 };
    mapio_req_t wreq;
    wreq.data = &w;
    struct progress p;
    progress_start(&p, row->name, "MiB", 0, o->total_mib);
    meter_start(&row->meter);
    for (uint64_t off = 0; off < total && !w.failed; off += o->bs) {
        w.writes++;
        size_t len = (size_t)(total - off < o->bs ? total - off : o->bs);
        if (mapio_write_at(&f, &wreq, buf, len, off, wb_write_done) != 0)
            cli_die("write_at failed");
        while (w.writes > 0)
            mapio_engine_poll(eng, -1);
        if (range != 0 && off + len - behind >= range) {
            /* Start write-back of the range just written, and wait for the
             * one before it (the classic pairing: at most two ranges dirty,
             * the writer held to the disk's pace). */
            if (behind > 0) {
                while (w.ranges > 0)
                    mapio_engine_poll(eng, -1); /* the previous wait */
                range_req(&f, &w, prev, behind - prev,
                          MAPIO_SYNC_RANGE_WAIT_BEFORE | MAPIO_SYNC_RANGE_WRITE |
                              MAPIO_SYNC_RANGE_WAIT_AFTER);
            }
            range_req(&f, &w, behind, off + len - behind, MAPIO_SYNC_RANGE_WRITE);
            prev = behind;
            behind = off + len;
        }
        progress_tick(&p, now_ns(), (off + len) >> 20);
    }
    while (w.ranges > 0)
        mapio_engine_poll(eng, -1);
    double write_s = (double)(now_ns() - row->meter.t0_ns) / 1e9;
    mapio_req_t sreq;
    sreq.data = &w;
    uint64_t t0 = now_ns();
    if (mapio_sync_data(&f, &sreq, wb_sync_done) != 0)
        cli_die("sync_data failed");
    while (!w.synced)
        mapio_engine_poll(eng, -1);
    uint64_t sync_ns = now_ns() - t0;
    meter_stop(&row->meter);
    progress_end(&p);
    struct hist *h = calloc(1, sizeof *h);
    hist_add(h, sync_ns);
    hist_get(h, &row->lat);
    free(h);
    row->ops = 1;
    row->bytes_per_op = total;
    row->failed = w.failed || w.sync_result != 0;
    row->extra[0].name = "final_sync_ms";
    row->extra[0].value = (double)sync_ns / 1e6;
    row->extra[1].name = "write_mb_s";
    row->extra[1].value = write_s > 0 ? (double)total / 1e6 / write_s : 0;
    row->nextra = 2;
    mapio_file_close_blocking(&f);
    unlink(path);
    free(buf);
}

/* ---- the command line ------------------------------------------------------- */

static const struct cli_mode modes[] = {
    { "files", "open + stat + close of --files files in DIR, --qd at once, through the engine." },
    { "files-loop", "The same with openat/fstat/close on one thread, no mapio (files' peer)." },
    { "write-behind", "--total-mib written, then one fdatasync; --range-mib R writes behind." },
};

static const char notes[] =
    "DIR: files and files-loop use DIR/f000000.. (made when missing, 4 KiB each, then\n"
    "reused); write-behind writes DIR/write-behind and removes it.\n"
    "Output: one row per run (bench/README.md); files: an operation is one file's\n"
    "open + stat + close; write-behind: the final fdatasync (final_sync_ms).\n";

int main(int argc, char **argv)
{
    struct opts o = { .qd = 32,
                      .files = 10000,
                      .workers = 2,
                      .bs = 1 << 20,
                      .total_mib = 1024,
                      .range_mib = 1,
                      .seconds = 3 };
    const struct cli_arg args[] = {
        { "--mode", CLI_MODE, &o.mode, "what to measure (see Modes below)", "MODE", .pos = 1,
          .required = 1 },
        { "--dir", CLI_STR, &o.dir, "the directory worked in", "DIR", .pos = 1, .required = 1 },
        { "--backend", CLI_STR, &o.backend, "engine backend", "B",
          .choices = mapio_backends_compiled(), .def = "the first that initialises",
          .modes = "files|write-behind" },
        { "--seconds", CLI_DOUBLE, &o.seconds, "how long to run", "S", .min = 0.001, .max = 1e6,
          .modes = "files|files-loop" },
        { "--json", CLI_FLAG, &o.json, "print one JSON object per run instead of a text row",
          .modes = NULL },
        { "--name", CLI_STR, &o.name, "the row's name in the output", "S",
          .def = "the mode and backend" },
        { "--qd", CLI_UINT, &o.qd, "files in flight", .min = 1, .max = 1 << 12, .modes = "files" },
        { "--files", CLI_UINT, &o.files, "files cycled through", .min = 1, .max = 1000000,
          .modes = "files|files-loop" },
        { "--workers", CLI_UINT, &o.workers, "engine pool threads; 0 = 2", .max = 1024,
          .modes = "files|write-behind" },
        { "--bs", CLI_UINT, &o.bs, "bytes per write", .min = 4096, .max = 1 << 26,
          .modes = "write-behind" },
        { "--total-mib", CLI_UINT, &o.total_mib, "MiB written", .min = 1, .max = 1 << 20,
          .modes = "write-behind" },
        { "--range-mib", CLI_UINT, &o.range_mib, "write behind every this many MiB; 0 = never",
          .max = 1 << 20, .modes = "write-behind" },
    };
    const struct cli cli = { "life-bench",
                             "The file lifecycle against its peers, one mode per run.",
                             notes,
                             args,
                             sizeof args / sizeof *args,
                             modes,
                             sizeof modes / sizeof *modes };
    cli_parse(&cli, argc, argv);
    cli_need_dir("DIR", o.dir);
    int peer = strcmp(o.mode, "files-loop") == 0;
    if (strcmp(o.mode, "write-behind") != 0)
        make_files(&o);
    mapio_engine_t *eng = NULL;
    if (!peer) {
        mapio_engine_opts_t eo = { .backend = o.backend, .workers = o.workers };
        int err = mapio_engine_new(&eng, &eo);
        if (err != 0)
            cli_die("engine: %s", mapio_strerror(err));
    }
    char name[96];
    struct row row = { .mode = o.mode, .peer = peer, .lat_source = "bench" };
    row.backend = eng != NULL ? mapio_engine_backend(eng) : "posix";
    snprintf(name, sizeof name, "%s %s", o.mode, row.backend);
    row.name = o.name != NULL ? o.name : name;
    if (strcmp(o.mode, "files") == 0)
        files(&o, &row, eng);
    else if (peer)
        files_loop(&o, &row);
    else
        write_behind(&o, &row, eng);
    mapio_metrics_t m;
    if (eng != NULL) {
        mapio_engine_metrics(eng, &m);
        row.metrics = &m;
    }
    report_row(&row, &cli, o.mode, o.json);
    mapio_engine_free(eng);
    return row.failed;
}
