/*
 * examples/records.c - mapio's main job in a hundred lines: write records
 * through the engine, make them durable, read them back and check them.
 *
 *   records [path] [count] [record-size] [queue-depth]
 *
 * Without a path it uses a temporary file and removes it afterwards. Prints
 * the backend in use (and why, if it fell back), throughput and p50/p99
 * latency of the writes and the reads.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mapio.h"

struct slot {
    mapio_req_t req;
    unsigned char *buf;
    uint64_t index;
    uint64_t start_ns;
};

struct job {
    mapio_file_t file;
    struct slot *slots;
    uint64_t next, count, done, bad;
    size_t size;
    uint64_t *lat_ns;
    int reading;
    int failed;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Record i: its index, then bytes derived from it, so a reader can check it. */
static void fill(unsigned char *b, size_t n, uint64_t i)
{
    memcpy(b, &i, sizeof i);
    for (size_t k = sizeof i; k < n; k++)
        b[k] = (unsigned char)(i * 131 + k * 7);
}

static int check(const unsigned char *b, size_t n, uint64_t i)
{
    uint64_t got;
    memcpy(&got, b, sizeof got);
    if (got != i)
        return 0;
    for (size_t k = sizeof i; k < n; k++)
        if (b[k] != (unsigned char)(i * 131 + k * 7))
            return 0;
    return 1;
}

static void on_done(mapio_req_t *req);

static void issue(struct job *j, struct slot *s)
{
    s->index = j->next++;
    s->start_ns = now_ns();
    s->req.data = j;
    uint64_t off = s->index * j->size;
    int err;
    if (j->reading) {
        err = mapio_read_at(&j->file, &s->req, s->buf, j->size, off, on_done);
    } else {
        fill(s->buf, j->size, s->index);
        err = mapio_write_at(&j->file, &s->req, s->buf, j->size, off, on_done);
    }
    if (err != 0) {
        fprintf(stderr, "submit: %s\n", mapio_strerror(err));
        j->failed = 1;
    }
}

static void on_done(mapio_req_t *req)
{
    struct job *j = req->data;
    struct slot *s = (struct slot *)(void *)req; /* req is the slot's first member */
    if (req->result != (int64_t)j->size) {
        fprintf(stderr, "record %" PRIu64 ": %s\n", s->index,
                req->result < 0 ? mapio_strerror((int)req->result) : "short");
        j->failed = 1;
        return;
    }
    if (j->reading && !check(s->buf, j->size, s->index))
        j->bad++;
    j->lat_ns[j->done++] = now_ns() - s->start_ns;
    if (j->next < j->count && !j->failed)
        issue(j, s);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int run_phase(mapio_engine_t *eng, struct job *j, unsigned depth, const char *name)
{
    j->next = j->done = 0;
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < depth && j->next < j->count; i++)
        issue(j, &j->slots[i]);
    int r = mapio_engine_run(eng);
    if (r < 0 || j->failed) {
        fprintf(stderr, "%s: %s\n", name, r < 0 ? mapio_strerror(r) : "failed");
        return 1;
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    qsort(j->lat_ns, j->done, sizeof *j->lat_ns, cmp_u64);
    printf("%-6s %8" PRIu64 " records  %10.0f ops/s  %8.1f MiB/s  p50 %7.1f us  p99 %7.1f us\n",
           name, j->done, (double)j->done / secs,
           (double)j->done * (double)j->size / secs / (1 << 20),
           (double)j->lat_ns[j->done / 2] / 1e3, (double)j->lat_ns[j->done * 99 / 100] / 1e3);
    return 0;
}

int main(int argc, char **argv)
{
    char tmp[] = "/tmp/mapio-records-XXXXXX";
    const char *path = argc > 1 ? argv[1] : NULL;
    uint64_t count = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;
    size_t size = argc > 3 ? strtoul(argv[3], NULL, 10) : 4096;
    unsigned depth = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 32;
    if (count == 0 || size < 8 || depth == 0 || depth > 4096) {
        fprintf(stderr, "usage: records [path] [count>0] [record-size>=8] [queue-depth 1..4096]\n");
        return 2;
    }
    if (path == NULL) {
        int fd = mkstemp(tmp);
        if (fd < 0) {
            perror("mkstemp");
            return 1;
        }
        close(fd);
        path = tmp;
    }

    mapio_engine_t *eng;
    int err = mapio_engine_new(&eng, NULL);
    if (err != 0) {
        fprintf(stderr, "mapio_engine_new: %s\n", mapio_strerror(err));
        return 1;
    }
    const char *why = mapio_engine_fallback_reason(eng);
    printf("mapio %d.%d.%d  backend: %s\n", MAPIO_VERSION_MAJOR, MAPIO_VERSION_MINOR,
           MAPIO_VERSION_PATCH, mapio_engine_backend(eng));
    if (why != NULL)
        printf("fallback: %s\n", why);
    printf("file: %s  records: %" PRIu64 " x %zu bytes  queue depth: %u\n", path, count, size,
           depth);

    struct job j = { .count = count, .size = size };
    j.slots = calloc(depth, sizeof *j.slots);
    j.lat_ns = calloc(count, sizeof *j.lat_ns);
    int rc = j.slots == NULL || j.lat_ns == NULL;
    for (unsigned i = 0; !rc && i < depth; i++)
        rc = (j.slots[i].buf = malloc(size)) == NULL;
    if (!rc && (err = mapio_file_open_blocking(&j.file, eng, path, 0, MAPIO_OPEN_TRUNCATE)) != 0) {
        fprintf(stderr, "mapio_file_open_blocking %s: %s\n", path, mapio_strerror(err));
        rc = 1;
    }
    if (!rc)
        rc = run_phase(eng, &j, depth, "write");
    if (!rc) {
        uint64_t t0 = now_ns();
        err = mapio_sync_data_blocking(&j.file);
        printf("sync   fdatasync %s in %.1f ms\n", mapio_strerror(err),
               (double)(now_ns() - t0) / 1e6);
        rc = err != 0;
    }
    if (!rc) {
        j.reading = 1;
        rc = run_phase(eng, &j, depth, "read");
    }
    if (!rc && j.bad != 0) {
        fprintf(stderr, "%" PRIu64 " records read back wrong\n", j.bad);
        rc = 1;
    }
    if (!rc)
        printf("verify all %" PRIu64 " records read back intact\n", count);
    mapio_file_close_blocking(&j.file);
    mapio_engine_free(eng);
    for (unsigned i = 0; j.slots != NULL && i < depth; i++)
        free(j.slots[i].buf);
    free(j.slots);
    free(j.lat_ns);
    if (path == tmp)
        unlink(tmp);
    return rc;
}
