/*
 * tests/engine/crash.c - "is my record durable?" answered truthfully.
 *
 * power_cuts: committers append checksummed records of random sizes through
 * the delayed data sync while the power-loss recorder watches; at random
 * moments the test takes images of the file as a power cut could leave it
 * (several seeds each) and checks that every record acknowledged by then is
 * present and intact.
 *
 * kill_9: a child process commits records and reports each acknowledgement
 * through a pipe; the parent kills it with SIGKILL mid-run and checks every
 * acknowledged record in the file.
 *
 * Runs once per backend (MAPIO_BACKEND).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crash_os.h"
#include "mapio.h"
#include "testutil.h"

static const char *backend;

#define MAGIC 0x4d415052u /* "MAPR" */

struct hdr {
    uint32_t magic;
    uint32_t len; /* payload bytes */
    uint64_t id;
    uint32_t crc; /* over id, len and payload */
    uint32_t pad;
};

static uint32_t crc32_update(uint32_t crc, const void *data, size_t n)
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

static uint32_t record_crc(const struct hdr *h, const unsigned char *payload)
{
    uint32_t c = crc32_update(0, &h->id, sizeof h->id);
    c = crc32_update(c, &h->len, sizeof h->len);
    return crc32_update(c, payload, h->len);
}

static void make_record(struct hdr *h, unsigned char *payload, uint64_t id, uint32_t len)
{
    tu_fill(payload, len, id * 7919);
    h->magic = MAGIC;
    h->len = len;
    h->id = id;
    h->pad = 0;
    h->crc = record_crc(h, payload);
}

/* Is record id intact at off in img[0..size)? */
static bool record_ok(const unsigned char *img, uint64_t size, uint64_t off, uint64_t id)
{
    struct hdr h;
    if (off + sizeof h > size)
        return false;
    memcpy(&h, img + off, sizeof h);
    if (h.magic != MAGIC || h.id != id || off + sizeof h + h.len > size)
        return false;
    return record_crc(&h, img + off + sizeof h) == h.crc;
}

static unsigned char *slurp(const char *path, uint64_t *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (uint64_t)n;
    return buf;
}

/* ---- simulated power cuts --------------------------------------------------- */

#define RECORDS 1500

struct committer {
    mapio_req_t req;
    mapio_write_t w[2]; /* header and payload: two adjacent writes */
    struct hdr h;
    unsigned char payload[3000];
    uint64_t id, off;
    int acked;
};

static struct committer cm[RECORDS];

static void acked_cb(mapio_req_t *req)
{
    struct committer *c = req->data;
    if (req->result == 0)
        c->acked = 1;
    else
        fail_msg("commit %llu failed: %s", (unsigned long long)c->id,
                 mapio_strerror((int)req->result));
}

static void check_image(mapio_powerloss_t *pl, uint64_t seed, int acked_now[], int *lost_any)
{
    char *img_path = tu_path("image");
    assert_int_equal(mapio_powerloss_image(pl, seed, img_path), 0);
    uint64_t size;
    unsigned char *img = slurp(img_path, &size);
    for (int i = 0; i < RECORDS; i++) {
        if (acked_now[i] && !record_ok(img, size, cm[i].off, cm[i].id))
            fail_msg("acknowledged record %d (offset %llu) lost after a power cut", i,
                     (unsigned long long)cm[i].off);
        if (!acked_now[i] && cm[i].off + sizeof(struct hdr) <= size &&
            !record_ok(img, size, cm[i].off, cm[i].id))
            *lost_any = 1;
    }
    free(img);
    tu_unlink(img_path);
    free(img_path);
}

static void power_cuts(void **state)
{
    (void)state;
    mapio_engine_t *eng;
    mapio_engine_opts_t o = { .backend = backend };
    assert_int_equal(mapio_engine_new(&eng, &o), 0);
    char *path = tu_path("wal");
    mapio_file_t f;
    assert_int_equal(mapio_file_open_blocking(&f, eng, path, 0, MAPIO_OPEN_TRUNCATE), 0);
    mapio_powerloss_t *pl;
    assert_int_equal(mapio_powerloss_new(&pl, eng, &f), 0);

    static int acked_now[RECORDS];
    uint64_t seed = 2026, tail = 0;
    int next = 0, cuts = 0, lost_any = 0;
    while (next < RECORDS || mapio_engine_inflight(eng) > 0) {
        int wave = (int)(tu_rand(&seed) % 24);
        for (int k = 0; k < wave && next < RECORDS; k++, next++) {
            struct committer *c = &cm[next];
            uint32_t len = 16 + (uint32_t)(tu_rand(&seed) % (sizeof c->payload - 16));
            c->id = (uint64_t)next + 1;
            c->off = tail;
            tail += (sizeof c->h + len + 7) & ~(uint64_t)7;
            make_record(&c->h, c->payload, c->id, len);
            c->w[0] = (mapio_write_t){ &c->h, sizeof c->h, c->off };
            c->w[1] = (mapio_write_t){ c->payload, len, c->off + sizeof c->h };
            c->req.data = c;
            assert_int_equal(mapio_commit(&f, &c->req, c->w, 2, acked_cb), 0);
        }
        assert_true(mapio_engine_poll(eng, next < RECORDS ? 0 : -1) >= 0);
        if (tu_rand(&seed) % 8 == 0) {
            /* Power cut now: what has been acknowledged must be there. */
            for (int i = 0; i < RECORDS; i++)
                acked_now[i] = cm[i].acked;
            for (uint64_t s = 0; s < 3; s++)
                check_image(pl, seed + s, acked_now, &lost_any);
            cuts++;
        }
    }
    for (int i = 0; i < RECORDS; i++)
        assert_int_equal(cm[i].acked, 1);
    uint64_t pending, durable;
    mapio_powerloss_counts(pl, &pending, &durable);
    assert_true(durable > 0);
    /* Its hooks are in use while a request is in flight: refused, kept. */
    mapio_req_t busy;
    struct committer *b = &cm[0];
    busy.data = b;
    assert_int_equal(mapio_commit(&f, &busy, b->w, 2, acked_cb), 0);
    assert_int_equal(mapio_powerloss_free(pl), MAPIO_EBUSY);
    assert_true(mapio_engine_run(eng) >= 1);
    assert_int_equal(mapio_powerloss_free(pl), 0);
    assert_true(cuts >= 10);
    /* The simulator does drop what was never synced (or this test proves nothing). */
    assert_true(lost_any);
    assert_int_equal(mapio_powerloss_new(&pl, NULL, &f), MAPIO_EINVAL);
    assert_int_equal(mapio_powerloss_image(NULL, 1, "x"), MAPIO_EINVAL);
    mapio_file_close_blocking(&f);
    mapio_engine_free(eng);
    tu_unlink(path);
    free(path);
}

/* ---- kill -9 -------------------------------------------------------------------- */

struct ack_msg {
    uint64_t id, off;
};

struct child_rec {
    mapio_req_t req;
    mapio_write_t w[2];
    struct hdr h;
    unsigned char payload[2048];
    uint64_t off;
    int fd;
    int busy;
};

static void child_ack(mapio_req_t *req)
{
    struct child_rec *c = req->data;
    c->busy = 0;
    if (req->result != 0)
        _Exit(3);
    struct ack_msg m = { c->h.id, c->off };
    if (ct_write(c->fd, &m, sizeof m) != 0)
        _Exit(4);
}

static void child_commit_forever(const char *path, int fd)
{
    mapio_engine_t *eng;
    mapio_engine_opts_t o = { .backend = backend };
    if (mapio_engine_new(&eng, &o) != 0)
        _Exit(2);
    mapio_file_t f;
    if (mapio_file_open_blocking(&f, eng, path, 0, MAPIO_OPEN_TRUNCATE) != 0)
        _Exit(2);
    enum { DEPTH = 16 };
    static struct child_rec recs[DEPTH];
    uint64_t seed = 99, tail = 0, id = 0;
    for (;;) {
        for (int i = 0; i < DEPTH; i++) {
            struct child_rec *c = &recs[i];
            if (c->busy)
                continue;
            uint32_t len = 8 + (uint32_t)(tu_rand(&seed) % (sizeof c->payload - 8));
            c->off = tail;
            tail += (sizeof c->h + len + 7) & ~(uint64_t)7;
            make_record(&c->h, c->payload, ++id, len);
            c->w[0] = (mapio_write_t){ &c->h, sizeof c->h, c->off };
            c->w[1] = (mapio_write_t){ c->payload, len, c->off + sizeof c->h };
            c->req.data = c;
            c->fd = fd;
            c->busy = 1;
            if (mapio_commit(&f, &c->req, c->w, 2, child_ack) != 0)
                _Exit(5);
        }
        if (mapio_engine_poll(eng, -1) < 0)
            _Exit(6);
    }
}

static void kill_9(void **state)
{
    (void)state;
    char *path = tu_path("killed");
    /* The child: a fork() of this process, or (Windows) this program again. */
    ct_child_t *child = ct_start(path, child_commit_forever);
    assert_non_null(child);
    static struct ack_msg acks[200000];
    size_t nacks = 0;
    /* Let it get well into its stride, then kill it mid-flight. */
    while (nacks < 400) {
        assert_true(ct_read(child, &acks[nacks], sizeof acks[0]));
        nacks++;
    }
    assert_int_equal(ct_kill(child), 0);
    while (ct_read(child, &acks[nacks], sizeof acks[0]))
        if (nacks + 1 < sizeof acks / sizeof acks[0])
            nacks++;
    assert_true(ct_reaped_killed(child));
    uint64_t size;
    unsigned char *img = slurp(path, &size);
    for (size_t i = 0; i < nacks; i++)
        if (!record_ok(img, size, acks[i].off, acks[i].id))
            fail_msg("acknowledged record %llu missing after kill -9",
                     (unsigned long long)acks[i].id);
    free(img);
    tu_unlink(path);
    free(path);
}

int main(int argc, char **argv)
{
    backend = getenv("MAPIO_BACKEND");
    if (backend == NULL || backend[0] == '\0') {
        fprintf(stderr, "crash: set MAPIO_BACKEND to the backend under test\n");
        return 1;
    }
    /* The committer child, where it cannot be forked (see crash_os.h). */
    if (argc == 3 && strcmp(argv[1], CT_CHILD_ARG) == 0)
        child_commit_forever(argv[2], ct_child_fd());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(power_cuts),
        cmocka_unit_test(kill_9),
    };
    return cmocka_run_group_tests_name(backend, tests, NULL, NULL);
}
