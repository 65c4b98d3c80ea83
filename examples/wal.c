/*
 * examples/wal.c - a write-ahead log with mapio/wal.h.
 *
 *   wal [dir] [threads] [transfers-per-thread] [crash]
 *
 * A bank's log: each transfer is one batch of two records, the debit and
 * the credit, which a crash keeps together or drops together. Threads
 * commit transfers as a database would - append, then wait until the log
 * says the batch is durable - while one thread drives the engine. A
 * thread appends its transfer n + 1 only once n was acknowledged.
 *
 * Every run first recovers the log in dir (created if missing, in 64 KiB
 * segments so that it rotates) and replays it: each thread's transfers
 * must run without a hole up to its last, and every transfer must have
 * both halves. Then it appends, checkpoints (mapio_wal_truncate_before:
 * the segments before this run's first transfer go), closes, and replays
 * again. With "crash" it ends abruptly halfway, as kill -9 would: run it
 * again on the same dir to see the next run recover what was
 * acknowledged (kill -9 it yourself at any moment for the same).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mapio.h"

#define MAX_THREADS 256

/* A record: which thread, which of its transfers, debit or credit. */
struct rec {
    uint32_t thread, half; /* 0: debit, 1: credit */
    uint64_t seq, cents;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- replay ------------------------------------------------------------------------------- */

struct replay {
    uint64_t last[MAX_THREADS]; /* each thread's last transfer */
    uint64_t transfers;
    int bad;
};

/* Read the whole durable log back: every transfer whole, each thread's
 * numbers without a hole. Returns 0, or the error of the iterator. */
static int replay(mapio_wal_t *wal, struct replay *r)
{
    memset(r, 0, sizeof *r);
    mapio_wal_iter_t *it;
    int err = mapio_wal_iter_new(&it, wal, 0);
    if (err != 0)
        return err;
    mapio_wal_record_t rec;
    struct rec debit = { 0 };
    while ((err = mapio_wal_iter_next(it, &rec)) == 1) {
        struct rec x;
        if (rec.len != sizeof x || rec.count != 2) {
            r->bad = 1;
            continue;
        }
        memcpy(&x, rec.data, sizeof x);
        if (x.thread >= MAX_THREADS || x.half != rec.index) {
            r->bad = 1;
            continue;
        }
        if (x.half == 0) {
            debit = x;
            continue;
        }
        /* Both halves of one transfer, and the next of its thread (a log
         * truncated by a checkpoint may start anywhere). */
        if (debit.thread != x.thread || debit.seq != x.seq || debit.cents != x.cents ||
            (r->last[x.thread] != 0 && x.seq != r->last[x.thread] + 1))
            r->bad = 1;
        r->last[x.thread] = x.seq;
        r->transfers++;
    }
    mapio_wal_iter_free(it);
    return err;
}

/* ---- committing ------------------------------------------------------------------------------ */

struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    int64_t result;
};

static void durable(mapio_wal_req_t *req)
{
    struct waiter *w = req->data;
    pthread_mutex_lock(&w->lock);
    w->done = 1;
    w->result = req->result;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static _Atomic int running; /* teller threads not done yet */

struct teller {
    mapio_wal_t *wal;
    uint32_t id;
    uint64_t first, count;
    uint64_t *lat, first_lsn;
    int failed;
    volatile int *crash_at_half;
};

/* Commit one transfer: append both halves as one batch and wait until it
 * is durable. Returns 0 or the error. */
static int commit(struct teller *t, uint64_t seq, uint64_t *lsn)
{
    struct rec debit = { t->id, 0, seq, 100 + seq % 900 }, credit = debit;
    credit.half = 1;
    mapio_iovec_t batch[2] = { { &debit, sizeof debit }, { &credit, sizeof credit } };
    struct waiter w = { .done = 0 };
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    mapio_wal_req_t req;
    req.data = &w;
    int err;
    while ((err = mapio_wal_append(t->wal, &req, batch, 2, durable)) == MAPIO_EAGAIN) {
        struct timespec ms = { 0, 1000000 }; /* the log is full: back off */
        nanosleep(&ms, NULL);
    }
    /* The records are copied: debit and credit could go now. req.lsn is the
     * batch's place in the log from here on, before it is durable. */
    if (err == 0) {
        *lsn = req.lsn;
        pthread_mutex_lock(&w.lock);
        while (!w.done)
            pthread_cond_wait(&w.cond, &w.lock);
        pthread_mutex_unlock(&w.lock);
        err = (int)w.result;
    }
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.lock);
    return err;
}

static void *teller_thread(void *arg)
{
    struct teller *t = arg;
    for (uint64_t i = 0; i < t->count; i++) {
        uint64_t t0 = now_ns(), lsn = 0;
        int err = commit(t, t->first + i, &lsn);
        t->lat[i] = now_ns() - t0;
        if (err != 0) {
            fprintf(stderr, "teller %u: %s\n", (unsigned)t->id, mapio_strerror(err));
            t->failed = 1;
            break;
        }
        if (i == 0)
            t->first_lsn = lsn;
        if (t->crash_at_half != NULL && *t->crash_at_half && i == t->count / 2) {
            /* The end a power switch or kill -9 gives: nothing of this
             * process runs after it (no close, no flush). */
            printf("crashing now, with transfers still in flight\n");
            fflush(stdout);
            _Exit(137);
        }
    }
    atomic_fetch_sub(&running, 1);
    return NULL;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static mapio_wal_t *open_log(mapio_engine_t *eng, const char *dir)
{
    mapio_wal_t *wal;
    /* 64 KiB segments, the smallest, so that even a short run rotates; a
     * real log wants the default (64 MiB) or more. */
    mapio_wal_opts_t opts = { .segment_size = 64 << 10, .flags = MAPIO_WAL_CREATE };
    int err = mapio_wal_new(&wal, eng, dir, &opts);
    if (err != 0) {
        fprintf(stderr, "wal: opening %s: %s\n", dir, mapio_strerror(err));
        exit(1);
    }
    mapio_wal_info_t info;
    mapio_wal_info(wal, &info);
    static const char *ends[] = { "clean", "torn tail (unacknowledged batches dropped)",
                                  "corrupt" };
    printf("log %s: %s end at LSN %" PRIu64 ", %" PRIu64 " batches from LSN %" PRIu64 ", %" PRIu64
           " bytes erased\n",
           dir, ends[info.recovered], info.recovered_lsn, info.recovered_batches, info.first_lsn,
           info.erased_bytes);
    return wal;
}

static int truncated_done;
static void truncated(mapio_wal_req_t *req)
{
    if (req->result != 0)
        fprintf(stderr, "checkpoint: %s\n", mapio_strerror((int)req->result));
    truncated_done = 1;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp/mapio-example.wal";
    unsigned threads = argc > 2 ? (unsigned)atoi(argv[2]) : 16;
    unsigned per = argc > 3 ? (unsigned)atoi(argv[3]) : 2000;
    volatile int crash = argc > 4 && strcmp(argv[4], "crash") == 0;
    if (threads == 0 || threads > MAX_THREADS || per == 0) {
        fprintf(stderr, "usage: wal [dir] [threads 1..%d] [transfers-per-thread > 0] [crash]\n",
                MAX_THREADS);
        return 2;
    }
    mapio_engine_t *eng;
    int err = mapio_engine_new(&eng, NULL);
    if (err != 0) {
        fprintf(stderr, "wal: %s\n", mapio_strerror(err));
        return 1;
    }
    mapio_wal_t *wal = open_log(eng, dir);
    struct replay before;
    if ((err = replay(wal, &before)) != 0 || before.bad) {
        fprintf(stderr, "replay: %s\n", err ? mapio_strerror(err) : "a hole or half a transfer");
        return 1;
    }
    printf("backend %s; replayed %" PRIu64 " transfers\n", mapio_engine_backend(eng),
           before.transfers);

    struct teller *t = calloc(threads, sizeof *t);
    pthread_t *tid = calloc(threads, sizeof *tid);
    atomic_store(&running, (int)threads);
    uint64_t t0 = now_ns();
    for (unsigned i = 0; i < threads; i++) {
        t[i] = (struct teller){ .wal = wal,
                                .id = i,
                                .first = before.last[i] + 1,
                                .count = per,
                                .lat = calloc(per, sizeof(uint64_t)),
                                .crash_at_half = &crash };
        pthread_create(&tid[i], NULL, teller_thread, &t[i]);
    }
    /* This thread drives the engine: the callbacks (durable()) run here. */
    while (atomic_load(&running) > 0)
        mapio_engine_poll(eng, 10);
    int failed = 0;
    uint64_t first_lsn = UINT64_MAX;
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        failed |= t[i].failed;
        if (t[i].first_lsn < first_lsn)
            first_lsn = t[i].first_lsn;
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    uint64_t n = (uint64_t)threads * per, k = 0;
    uint64_t *all = malloc(n * sizeof *all);
    for (unsigned i = 0; i < threads; i++) {
        memcpy(all + k, t[i].lat, per * sizeof *all);
        k += per;
        free(t[i].lat);
    }
    qsort(all, n, sizeof *all, cmp_u64);
    mapio_metrics_t m;
    mapio_engine_metrics(eng, &m);
    mapio_wal_info_t info;
    mapio_wal_info(wal, &info);
    printf("committed %" PRIu64 " transfers from %u threads: %.0f/s, %" PRIu64
           " fdatasyncs (%.1f transfers each), commit p50 %.0f us p99 %.0f us, "
           "%u segments\n",
           n, threads, (double)n / secs, m.sync, m.sync ? (double)n / (double)m.sync : 0.0,
           (double)all[n / 2] / 1e3, (double)all[n * 99 / 100] / 1e3, info.segments);
    free(all);

    /* A checkpoint: what came before this run is applied elsewhere (say);
     * the segments holding only that go, or wait to be reused. */
    mapio_wal_req_t tr;
    if (!failed && mapio_wal_truncate_before(wal, &tr, first_lsn, truncated) == 0)
        while (!truncated_done)
            mapio_engine_poll(eng, 100);
    if ((err = mapio_wal_free(wal)) != 0) {
        fprintf(stderr, "closing the log: %s\n", mapio_strerror(err));
        failed = 1;
    }

    /* Reopen and replay: every acknowledged transfer must be there. */
    wal = open_log(eng, dir);
    struct replay after;
    err = replay(wal, &after);
    int missing = 0;
    for (unsigned i = 0; i < threads; i++)
        missing |= after.last[i] != t[i].first + per - 1;
    printf("replayed %" PRIu64 " transfers after reopening: %s\n", after.transfers,
           err == 0 && !after.bad && !missing && !failed ? "every acknowledged transfer is there"
                                                         : "MISSING OR BROKEN TRANSFERS");
    mapio_wal_free(wal);
    mapio_engine_free(eng);
    free(t);
    free(tid);
    return err == 0 && !after.bad && !missing && !failed ? 0 : 1;
}
