/*
 * examples/wal.c - a small write-ahead log on mapio's group commit.
 *
 *   wal [path] [threads] [records-per-thread]
 *
 * Many threads append checksummed records; each waits until its record is
 * durable (mapio_commit), as a database commit would. One
 * thread drives the engine. Then the log is reopened and recovered: every
 * acknowledged record must be found. Run it twice on the same path to see
 * recovery pick up where the last run stopped.
 *
 * Record layout (little-endian, 8-byte aligned): magic u32 "WAL1", payload
 * length u32, sequence number u64, CRC-32 u32 of (seq, length, payload),
 * reserved u32, then the payload. Appenders reserve space with one atomic
 * add, so records can complete out of order; recovery therefore scans the
 * whole file, stepping over holes a crash may leave between records.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mapio.h"

#define MAGIC 0x314c4157u /* "WAL1" */

struct hdr {
    uint32_t magic, len;
    uint64_t seq;
    uint32_t crc, reserved;
};

struct wal {
    mapio_engine_t *eng;
    mapio_file_t file;
    _Atomic uint64_t tail; /* next free byte */
    _Atomic uint64_t seq;
    _Atomic int running; /* appender threads still going */
};

static uint32_t crc32(uint32_t crc, const void *data, size_t n)
{
    const unsigned char *p = data;
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

static uint32_t record_crc(const struct hdr *h, const void *payload)
{
    return crc32(crc32(crc32(0, &h->seq, 8), &h->len, 4), payload, h->len);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- recovery ------------------------------------------------------------- */

/* Scan the log: count intact records, find the end of the last one. */
static int recover(struct wal *w, uint64_t *records, uint64_t *max_seq)
{
    uint64_t size = mapio_file_size(&w->file), off = 0, end = 0;
    *records = *max_seq = 0;
    unsigned char *payload = malloc(1 << 20);
    if (payload == NULL)
        return MAPIO_ENOMEM;
    while (off + sizeof(struct hdr) <= size) {
        struct hdr h;
        int64_t n = mapio_read_at_blocking(&w->file, &h, sizeof h, off);
        if (n < 0) {
            free(payload);
            return (int)n;
        }
        if (h.magic == MAGIC && h.len <= (1u << 20) && off + sizeof h + h.len <= size &&
            mapio_read_at_blocking(&w->file, payload, h.len ? h.len : 1, off + sizeof h) >= h.len &&
            record_crc(&h, payload) == h.crc) {
            (*records)++;
            if (h.seq > *max_seq)
                *max_seq = h.seq;
            off += (sizeof h + h.len + 7) & ~(uint64_t)7;
            end = off;
        } else {
            off += 8; /* a hole or a torn record: look further */
        }
    }
    free(payload);
    atomic_store(&w->tail, end);
    atomic_store(&w->seq, *max_seq);
    return 0;
}

/* ---- appending ----------------------------------------------------------- */

struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    int64_t result;
};

static void durable(mapio_req_t *req)
{
    struct waiter *wt = req->data;
    pthread_mutex_lock(&wt->lock);
    wt->done = 1;
    wt->result = req->result;
    pthread_cond_signal(&wt->cond);
    pthread_mutex_unlock(&wt->lock);
}

/* Append one record and return once it is durable (0) or failed (< 0). */
static int wal_append(struct wal *w, const void *payload, uint32_t len, uint64_t *lat_ns)
{
    struct hdr h = { .magic = MAGIC, .len = len, .seq = atomic_fetch_add(&w->seq, 1) + 1 };
    h.crc = record_crc(&h, payload);
    uint64_t off = atomic_fetch_add(&w->tail, (sizeof h + len + 7) & ~(uint64_t)7);
    /* Header and payload go as two writes of one batch: one commit. */
    mapio_write_t batch[2] = { { &h, sizeof h, off }, { payload, len, off + sizeof h } };
    struct waiter wt = { .done = 0 };
    pthread_mutex_init(&wt.lock, NULL);
    pthread_cond_init(&wt.cond, NULL);
    mapio_req_t req;
    req.data = &wt;
    uint64_t t0 = now_ns();
    int err;
    while ((err = mapio_commit(&w->file, &req, batch, 2, durable)) == MAPIO_EAGAIN)
        sched_yield(); /* the engine's queue is full: back off */
    if (err == 0) {
        pthread_mutex_lock(&wt.lock);
        while (!wt.done)
            pthread_cond_wait(&wt.cond, &wt.lock);
        pthread_mutex_unlock(&wt.lock);
        err = (int)wt.result;
    }
    *lat_ns = now_ns() - t0;
    pthread_cond_destroy(&wt.cond);
    pthread_mutex_destroy(&wt.lock);
    return err;
}

struct appender {
    struct wal *w;
    unsigned id, count;
    uint64_t *lat;
    int failed;
};

static void *append_thread(void *arg)
{
    struct appender *a = arg;
    unsigned char payload[512];
    for (unsigned i = 0; i < a->count; i++) {
        uint32_t len = 64 + (a->id * 131 + i * 17) % (sizeof payload - 64);
        memset(payload, (int)(a->id + i), len);
        if (wal_append(a->w, payload, len, &a->lat[i]) != 0) {
            a->failed = 1;
            break;
        }
    }
    atomic_fetch_sub(&a->w->running, 1);
    return NULL;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/tmp/mapio-example.wal";
    unsigned threads = argc > 2 ? (unsigned)atoi(argv[2]) : 16;
    unsigned per = argc > 3 ? (unsigned)atoi(argv[3]) : 2000;
    if (threads == 0 || threads > 1024 || per == 0) {
        fprintf(stderr, "usage: wal [path] [threads 1..1024] [records-per-thread > 0]\n");
        return 2;
    }
    struct wal w = { 0 };
    int err = mapio_engine_new(&w.eng, NULL);
    if (err == 0)
        err = mapio_file_open_blocking(&w.file, w.eng, path, 0, 0);
    if (err != 0) {
        fprintf(stderr, "wal: %s\n", mapio_strerror(err));
        return 1;
    }
    uint64_t before, max_seq;
    if ((err = recover(&w, &before, &max_seq)) != 0) {
        fprintf(stderr, "recover: %s\n", mapio_strerror(err));
        return 1;
    }
    printf("backend %s; recovered %" PRIu64 " records (last seq %" PRIu64 ")\n",
           mapio_engine_backend(w.eng), before, max_seq);

    struct appender *a = calloc(threads, sizeof *a);
    pthread_t *t = calloc(threads, sizeof *t);
    atomic_store(&w.running, (int)threads);
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < threads; i++) {
        a[i] = (struct appender){ &w, i, per, calloc(per, sizeof(uint64_t)), 0 };
        pthread_create(&t[i], NULL, append_thread, &a[i]);
    }
    /* This thread drives the engine: callbacks (durable()) run here. */
    while (atomic_load(&w.running) > 0 || mapio_engine_inflight(w.eng) > 0)
        mapio_engine_poll(w.eng, 10);
    int failed = 0;
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        failed |= a[i].failed;
    }
    double secs = (double)(now_ns() - t0) / 1e9;

    uint64_t n = (uint64_t)threads * per, k = 0;
    uint64_t *all = malloc(n * sizeof *all);
    for (unsigned i = 0; i < threads; i++) {
        memcpy(all + k, a[i].lat, per * sizeof *all);
        k += per;
        free(a[i].lat);
    }
    qsort(all, n, sizeof *all, cmp_u64);
    mapio_metrics_t m;
    mapio_engine_metrics(w.eng, &m);
    printf("appended %" PRIu64 " records from %u threads: %.0f commits/s, %" PRIu64
           " fdatasyncs (%.1f records each), commit p50 %.0f us p99 %.0f us\n",
           n, threads, (double)n / secs, m.sync, m.sync ? (double)m.commit / (double)m.sync : 0.0,
           (double)all[n / 2] / 1e3, (double)all[n * 99 / 100] / 1e3);
    free(all);
    free(a);
    free(t);

    /* Reopen and recover: everything acknowledged must be there. */
    mapio_file_close_blocking(&w.file);
    uint64_t after;
    if (mapio_file_open_blocking(&w.file, w.eng, path, 0, MAPIO_OPEN_NO_CREATE) != 0 ||
        recover(&w, &after, &max_seq) != 0) {
        fprintf(stderr, "reopen failed\n");
        return 1;
    }
    printf("recovered %" PRIu64 " records after reopening (%s)\n", after,
           after == before + n && !failed ? "all acknowledged records present" : "MISSING RECORDS");
    mapio_file_close_blocking(&w.file);
    mapio_engine_free(w.eng);
    return after == before + n && !failed ? 0 : 1;
}
