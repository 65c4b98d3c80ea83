/*
 * tests/wal/wal_crash_test.c - every acknowledged batch survives a crash,
 * whole and in LSN order, no batch is half there, and nothing that was
 * never acknowledged makes recovery call the log corrupt. On the backend
 * MAPIO_BACKEND names.
 *
 * power_cuts: mapio_powerloss on the segment being written (a log of big
 *   segments, so it stays in one); at random moments, images of the file
 *   as a power cut could leave it (unsynced writes lost, kept or torn at
 *   512-byte sectors), several seeds each, recovered and checked.
 * dir_power_cuts: the same across segment rotations and truncations, with
 *   a recorder of every file and of the directory built on the fault hooks:
 *   each file's durable bytes and pending writes (as mapio_powerloss keeps
 *   them, per inode), and the directory as its last successful sync left it
 *   or as it is now (a rename or unlink not yet synced may or may not
 *   survive).
 * kill_9: a child process appends across rotations and truncations and
 *   reports each acknowledgement through a pipe; the parent kills it with
 *   SIGKILL (TerminateProcess on Windows) and recovers the directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/crash_os.h"
#include "testutil.h"
#include "wal_log.h"
#include "walog.h"

#define SEG ((uint64_t)64 << 10)

/* ---- batches and what was acknowledged ----------------------------------------------------- */

#define MAXB 6000

struct pending {
    mapio_wal_req_t req;
    wl_batch_t b;
    uint64_t lsn;
    int done, acked;
};

static struct pending *pb;

static void on_done(mapio_wal_req_t *req)
{
    struct pending *p = req->data;
    p->done = 1;
    p->acked = req->result == 0;
    assert_int_equal(req->result, 0);
}

/* A wave of 0..23 batches appended without polling in between. */
static int wave(mapio_wal_t *wal, int next, int max, uint64_t *seed)
{
    int n = (int)(tu_rand(seed) % 24);
    for (int k = 0; k < n && next < max; k++, next++) {
        struct pending *p = &pb[next];
        wl_batch(&p->b, (uint64_t)next + 1, 3, 400, seed);
        p->req.data = p;
        int err = mapio_wal_append(wal, &p->req, p->b.rec, p->b.n, on_done);
        if (err == MAPIO_EAGAIN)
            break;
        assert_int_equal(err, 0);
        p->lsn = p->req.lsn;
    }
    return next;
}

/* What recovery of the image in dir must show: acked[i] batches whole at
 * their LSNs (unless below keep_from: truncated), nothing partial, no
 * corruption. Sets *lost if a batch that had been written is missing. */
static void check_image(const char *dir, const unsigned char *acked, int n, uint64_t keep_from,
                        int *lost)
{
    wl_seen_t s;
    wl_scan(dir, NULL, (uint64_t)n, &s);
    if (s.open_err != 0)
        fail_msg("recovery of a power-cut image failed: %s", mapio_strerror(s.open_err));
    assert_int_equal(s.iter_err, 0);
    assert_false(s.bad_order);
    assert_int_equal(s.foreign, 0);
    assert_true(wl_no_partial(&s));
    for (int i = 0; i < n; i++) {
        if (pb[i].lsn < keep_from)
            continue;
        if (acked[i] && !wl_has(&s, (uint64_t)i + 1, pb[i].b.n, pb[i].lsn))
            fail_msg("acknowledged batch %d (lsn %llx) lost after a power cut", i + 1,
                     (unsigned long long)pb[i].lsn);
        if (!acked[i] && pb[i].lsn != 0 && s.recs[i + 1] == 0)
            *lost = 1;
        /* What is there is where its ticket said. */
        if (s.recs[i + 1] != 0)
            assert_int_equal(s.lsn[i + 1], pb[i].lsn);
    }
    wl_seen_free(&s);
}

/* ---- mapio_powerloss on one segment
 * --------------------------------------------------------------- */

static void power_cuts(void **state)
{
    (void)state;
    char *dir = tu_path("pl");
    memset(pb, 0, MAXB * sizeof *pb);
    mapio_engine_t *eng = wl_engine();
    mapio_wal_t *wal;
    mapio_wal_opts_t o = { .segment_size = (uint64_t)4 << 20,
                           .flags = MAPIO_WAL_CREATE | MAPIO_WAL_NO_IDLE_MARK };
    assert_int_equal(mapio_wal_new(&wal, eng, dir, &o), 0);
    /* The spare is made; then the segment the log writes is watched. */
    assert_true(mapio_engine_run(eng) >= 0);
    struct mapio__wal_entry *e = atomic_load(&wal->latest);
    char segname[40];
    mapio__wal_name(segname, e->segno, ".wal");
    mapio_powerloss_t *pl;
    assert_int_equal(mapio_powerloss_new(&pl, eng, &e->seg->file), 0);

    enum { N = 2500 };
    static unsigned char acked[N];
    uint64_t seed = 2026;
    int next = 0, cuts = 0, lost = 0;
    while (next < N || mapio_engine_inflight(eng) > 0) {
        next = wave(wal, next, N, &seed);
        assert_true(mapio_engine_poll(eng, next < N ? 0 : -1) >= 0);
        if (tu_rand(&seed) % 10 != 0)
            continue;
        for (int i = 0; i < N; i++)
            acked[i] = (unsigned char)pb[i].acked;
        for (uint64_t k = 0; k < 3; k++) {
            char *img = tu_path("pl-img");
            wl_copy_dir(dir, img);
            char *seg = wl_join(img, segname);
            assert_int_equal(mapio_powerloss_image(pl, seed + k, seg), 0);
            /* The image is as short as what was written: a preallocated
             * segment is the size it was made. */
            if (tu_file_size(seg) < (int64_t)o.segment_size) {
                size_t n;
                unsigned char *b = wl_slurp(seg, &n);
                b = realloc(b, o.segment_size);
                memset(b + n, 0, o.segment_size - n);
                assert_int_equal(tu_write_file(seg, b, o.segment_size), 0);
                free(b);
            }
            check_image(img, acked, N, 0, &lost);
            free(seg);
            free(img);
        }
        cuts++;
    }
    for (int i = 0; i < N; i++)
        assert_true(pb[i].acked);
    print_message("%d power cuts\n", cuts);
    assert_true(cuts >= 10);
    assert_true(lost); /* the simulator does drop what was never synced */
    assert_int_equal(mapio_powerloss_free(pl), 0);
    assert_int_equal(mapio_wal_free(wal), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    free(dir);
}

/* ---- a recorder of the whole directory ----------------------------------------------------------
 */

struct pw {
    uint64_t off, len, tick;
    unsigned char *data;
};

struct inode {
    uint64_t dev, ino;
    unsigned char *dur;
    uint64_t dur_len;
    struct pw *log;
    size_t nlog, cap;
};

struct dent {
    char name[40];
    int inode;
};

#define MAXI 1024
#define MAXF 1024
#define MAXD 128
#define MAXSYNC 64

static struct rec {
    pthread_mutex_t lock;
    const char *dir;
    struct inode in[MAXI];
    int nin;
    struct {
        const mapio_file_t *f;
        int inode;
    } files[MAXF];
    int nfiles;
    struct dent durable[MAXD]; /* the directory at its last sync */
    int ndurable;
    uint64_t tick;
    struct {
        uint64_t seq, tick;
        int inode;
    } syncs[MAXSYNC];
    int nsyncs;
} R;

static int inode_of(uint64_t dev, uint64_t ino)
{
    for (int i = 0; i < R.nin; i++)
        if (R.in[i].dev == dev && R.in[i].ino == ino)
            return i;
    assert_true(R.nin < MAXI);
    R.in[R.nin] = (struct inode){ .dev = dev, .ino = ino };
    return R.nin++;
}

static int file_inode(const mapio_file_t *f)
{
    for (int i = 0; i < R.nfiles; i++)
        if (R.files[i].f == f)
            return R.files[i].inode;
    return -1;
}

static char *abs_path(const char *path)
{
    return path[0] == '/' ? strdup(path) : wl_join(R.dir, path);
}

/* The directory now: every segment-like name with its inode. */
static int list_now(struct dent *out)
{
    char *names[MAXD];
    size_t n = wl_list(R.dir, names, MAXD);
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t dev, ino;
        char *p = wl_join(R.dir, names[i]);
        if (strcmp(names[i], "LOCK") != 0 && strlen(names[i]) < sizeof out->name &&
            tu_identity(p, &dev, &ino) == 0) {
            strcpy(out[k].name, names[i]);
            out[k].inode = inode_of(dev, ino);
            k++;
        }
        free(p);
        free(names[i]);
    }
    return k;
}

static void grow(struct inode *in, uint64_t end)
{
    if (end <= in->dur_len)
        return;
    in->dur = realloc(in->dur, end);
    memset(in->dur + in->dur_len, 0, end - in->dur_len);
    in->dur_len = end;
}

static int64_t rec_before(void *ctx, const mapio_fault_call_t *call)
{
    (void)ctx;
    if (call->op != MAPIO_OP_FDATASYNC && call->op != MAPIO_OP_FSYNC)
        return MAPIO_FAULT_PASS;
    pthread_mutex_lock(&R.lock);
    int in = file_inode(call->file);
    if (in >= 0 && R.nsyncs < MAXSYNC) {
        R.syncs[R.nsyncs].seq = call->seq;
        R.syncs[R.nsyncs].tick = R.tick;
        R.syncs[R.nsyncs].inode = in;
        R.nsyncs++;
    }
    pthread_mutex_unlock(&R.lock);
    return MAPIO_FAULT_PASS;
}

static int64_t rec_after(void *ctx, const mapio_fault_call_t *call, int64_t res)
{
    (void)ctx;
    pthread_mutex_lock(&R.lock);
    if (call->op == MAPIO_OP_OPEN && res == 0 && call->path != NULL) {
        char *p = abs_path(call->path);
        uint64_t dev, ino;
        if (tu_identity(p, &dev, &ino) == 0) {
            int in = inode_of(dev, ino), i = 0;
            while (i < R.nfiles && R.files[i].f != call->file)
                i++;
            assert_true(i < MAXF);
            R.files[i].f = call->file;
            R.files[i].inode = in;
            if (i == R.nfiles)
                R.nfiles++;
        }
        free(p);
    } else if (call->op == MAPIO_OP_WRITE && res > 0) {
        int in = file_inode(call->file);
        if (in >= 0) {
            struct inode *d = &R.in[in];
            if (d->nlog == d->cap) {
                d->cap = d->cap ? 2 * d->cap : 64;
                d->log = realloc(d->log, d->cap * sizeof *d->log);
            }
            struct pw *w = &d->log[d->nlog++];
            w->off = call->offset;
            w->len = (uint64_t)res;
            w->tick = R.tick++;
            w->data = malloc((size_t)res);
            uint64_t left = (uint64_t)res;
            if (call->buf != NULL) {
                memcpy(w->data, call->buf, (size_t)res);
            } else {
                unsigned char *q = w->data;
                for (unsigned i = 0; i < call->iovcnt && left > 0; i++) {
                    size_t k = (size_t)(left < call->iov[i].iov_len ? left : call->iov[i].iov_len);
                    memcpy(q, call->iov[i].iov_base, k);
                    q += k;
                    left -= k;
                }
            }
        }
    } else if (call->op == MAPIO_OP_FDATASYNC || call->op == MAPIO_OP_FSYNC) {
        for (int i = 0; i < R.nsyncs; i++) {
            if (R.syncs[i].seq != call->seq)
                continue;
            if (res == 0) {
                struct inode *d = &R.in[R.syncs[i].inode];
                size_t keep = 0;
                for (size_t k = 0; k < d->nlog; k++) {
                    struct pw *w = &d->log[k];
                    if (w->tick < R.syncs[i].tick) {
                        grow(d, w->off + w->len);
                        memcpy(d->dur + w->off, w->data, (size_t)w->len);
                        free(w->data);
                    } else {
                        d->log[keep++] = *w;
                    }
                }
                d->nlog = keep;
            }
            R.syncs[i] = R.syncs[--R.nsyncs];
            break;
        }
    } else if (call->op == MAPIO_OP_SYNC_DIR && res == 0) {
        R.ndurable = list_now(R.durable);
    }
    pthread_mutex_unlock(&R.lock);
    return res;
}

/* Write into img the directory as a power cut now could leave it. */
static void rec_image(const char *img, uint64_t seed)
{
    pthread_mutex_lock(&R.lock);
    struct dent now[MAXD];
    int nnow = list_now(now);
    uint64_t rnd = seed;
    bool synced = tu_rand(&rnd) & 1;
    const struct dent *d = synced ? R.durable : now;
    int nd = synced ? R.ndurable : nnow;
    assert_int_equal(tu_mkdir(img), 0);
    for (int k = 0; k < nd; k++) {
        const struct inode *in = &R.in[d[k].inode];
        uint64_t len = in->dur_len > SEG ? in->dur_len : SEG;
        for (size_t i = 0; i < in->nlog; i++)
            if (in->log[i].off + in->log[i].len > len)
                len = in->log[i].off + in->log[i].len;
        unsigned char *b = calloc(1, len);
        if (in->dur_len)
            memcpy(b, in->dur, in->dur_len);
        for (size_t i = 0; i < in->nlog; i++) {
            const struct pw *w = &in->log[i];
            uint64_t fate = tu_rand(&rnd) % 3; /* lost, kept, torn */
            for (uint64_t done = 0; fate != 0 && done < w->len;) {
                uint64_t at = w->off + done;
                uint64_t n = (at / 512 + 1) * 512 - at;
                if (n > w->len - done)
                    n = w->len - done;
                if (fate == 1 || (tu_rand(&rnd) & 1))
                    memcpy(b + at, w->data + done, (size_t)n);
                done += n;
            }
        }
        char *p = wl_join(img, d[k].name);
        assert_int_equal(tu_write_file(p, b, (size_t)len), 0);
        free(p);
        free(b);
    }
    pthread_mutex_unlock(&R.lock);
}

static void rec_free(void)
{
    for (int i = 0; i < R.nin; i++) {
        for (size_t k = 0; k < R.in[i].nlog; k++)
            free(R.in[i].log[k].data);
        free(R.in[i].log);
        free(R.in[i].dur);
    }
    pthread_mutex_destroy(&R.lock);
    memset(&R, 0, sizeof R);
}

static int trunc_done;
static void on_truncated(mapio_wal_req_t *req)
{
    assert_int_equal(req->result, 0);
    trunc_done = 1;
}

static void dir_power_cuts(void **state)
{
    (void)state;
    char *dir = tu_path("dpl");
    memset(pb, 0, MAXB * sizeof *pb);
    memset(&R, 0, sizeof R);
    pthread_mutex_init(&R.lock, NULL);
    R.dir = dir;
    mapio_engine_t *eng = wl_engine();
    mapio_fault_hooks_t h = { .before = rec_before, .after = rec_after };
    assert_int_equal(mapio_fault_set(eng, &h), 0);
    mapio_wal_t *wal;
    mapio_wal_opts_t o = { .segment_size = SEG,
                           .flags = MAPIO_WAL_CREATE | MAPIO_WAL_NO_IDLE_MARK,
                           .spares = 2 };
    assert_int_equal(mapio_wal_new(&wal, eng, dir, &o), 0);

    enum { N = 2500 };
    static unsigned char acked[N];
    uint64_t seed = 77, keep_from = 0, trunc_req = 0;
    int next = 0, cuts = 0, lost = 0, truncs = 0;
    mapio_wal_req_t tr;
    trunc_done = 1;
    while (next < N || mapio_engine_inflight(eng) > 0) {
        next = wave(wal, next, N, &seed);
        assert_true(mapio_engine_poll(eng, next < N ? 0 : -1) >= 0);
        /* Now and then a checkpoint: the batches below it may go. */
        if (trunc_done && next > 400 && tu_rand(&seed) % 40 == 0) {
            trunc_req = pb[next - 300].lsn;
            if (trunc_req > keep_from)
                keep_from = trunc_req;
            trunc_done = 0;
            truncs++;
            assert_int_equal(mapio_wal_truncate_before(wal, &tr, trunc_req, on_truncated), 0);
        }
        if (tu_rand(&seed) % 10 != 0)
            continue;
        for (int i = 0; i < N; i++)
            acked[i] = (unsigned char)pb[i].acked;
        for (uint64_t k = 0; k < 2; k++) {
            char *img = tu_path("dpl-img");
            rec_image(img, seed * 31 + k);
            check_image(img, acked, N, keep_from, &lost);
            free(img);
        }
        cuts++;
    }
    wl_poll_until(eng, &trunc_done);
    for (int i = 0; i < N; i++)
        assert_true(pb[i].acked);
    print_message("%d power cuts, %d truncations\n", cuts, truncs);
    assert_true(cuts >= 10);
    assert_true(truncs >= 2);
    assert_true(lost);
    mapio_wal_info_t info;
    assert_int_equal(mapio_wal_info(wal, &info), 0);
    assert_true(mapio__wal_segno(&wal->fmt, info.durable_lsn) > 10); /* it rotated */
    assert_int_equal(mapio_wal_free(wal), 0);
    assert_int_equal(mapio_fault_set(eng, NULL), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    rec_free();
    free(dir);
}

/* ---- kill -9 ----------------------------------------------------------------------------------
 */

struct ack_msg {
    uint64_t id, lsn, n; /* id 0: a truncation request below lsn */
};

struct child_state {
    mapio_wal_t *wal;
    int fd;
    uint64_t next_id, acks, trunc_at;
    mapio_wal_req_t tr;
    int trunc_busy;
    uint64_t lsn_hist[512];
};

static struct child_state *cs;

static void child_acked(mapio_wal_req_t *req)
{
    struct pending *p = req->data;
    if (req->result != 0)
        _Exit(3);
    struct ack_msg m = { p->b.id, req->lsn, p->b.n };
    if (ct_write(cs->fd, &m, sizeof m) != 0)
        _Exit(4);
    cs->lsn_hist[cs->acks++ % 512] = req->lsn;
    p->done = 0;
}

static void child_truncated(mapio_wal_req_t *req)
{
    if (req->result != 0)
        _Exit(7);
    cs->trunc_busy = 0;
}

static void child_append_forever(const char *path, int fd)
{
    mapio_engine_t *eng;
    mapio_engine_opts_t eo = { .backend = wl_backend() };
    if (mapio_engine_new(&eng, &eo) != 0)
        _Exit(2);
    static struct child_state st;
    cs = &st;
    st.fd = fd;
    mapio_wal_opts_t o = { .segment_size = SEG, .flags = MAPIO_WAL_CREATE, .spares = 2 };
    if (mapio_wal_new(&st.wal, eng, path, &o) != 0)
        _Exit(2);
    /* Replay, as a database would: go on after the last batch there. */
    mapio_wal_iter_t *it;
    if (mapio_wal_iter_new(&it, st.wal, 0) != 0)
        _Exit(2);
    mapio_wal_record_t r;
    while (mapio_wal_iter_next(it, &r) == 1) {
        uint64_t id;
        uint32_t index;
        if (!wl_rec_check(r.data, r.len, &id, &index))
            _Exit(8);
        if (id > st.next_id)
            st.next_id = id;
    }
    mapio_wal_iter_free(it);
    enum { DEPTH = 24 };
    static struct pending slots[DEPTH];
    uint64_t seed = 99;
    for (;;) {
        for (int i = 0; i < DEPTH; i++) {
            struct pending *p = &slots[i];
            if (p->done)
                continue;
            wl_batch(&p->b, ++st.next_id, 3, 500, &seed);
            p->req.data = p;
            p->done = 1; /* in flight */
            if (mapio_wal_append(st.wal, &p->req, p->b.rec, p->b.n, child_acked) != 0)
                _Exit(5);
        }
        /* A checkpoint every few hundred acknowledgements. */
        if (!st.trunc_busy && st.acks > 600 && st.acks - st.trunc_at > 300) {
            st.trunc_at = st.acks;
            uint64_t lsn = st.lsn_hist[(st.acks - 400) % 512];
            struct ack_msg m = { 0, lsn, 0 };
            if (ct_write(fd, &m, sizeof m) != 0)
                _Exit(4);
            st.trunc_busy = 1;
            if (mapio_wal_truncate_before(st.wal, &st.tr, lsn, child_truncated) != 0)
                _Exit(6);
        }
        if (mapio_engine_poll(eng, -1) < 0)
            _Exit(6);
    }
}

static void kill_9(void **state)
{
    (void)state;
    char *dir = tu_path("killed");
    static struct ack_msg acks[400000];
    size_t nacks = 0;
    /* Killed twice: the second child recovers what the first left, goes on
     * after it, and is killed in turn. */
    for (int round = 0; round < 2; round++) {
        ct_child_t *child = ct_start(dir, child_append_forever);
        assert_non_null(child);
        size_t want = nacks + 2500;
        while (nacks < want) {
            assert_true(ct_read(child, &acks[nacks], sizeof acks[0]));
            nacks++;
        }
        assert_int_equal(ct_kill(child), 0);
        while (nacks + 1 < sizeof acks / sizeof acks[0] &&
               ct_read(child, &acks[nacks], sizeof acks[0]))
            nacks++;
        assert_true(ct_reaped_killed(child));
        uint64_t keep_from = 0, max_id = 0, max_lsn = 0;
        for (size_t i = 0; i < nacks; i++) {
            if (acks[i].id == 0 && acks[i].lsn > keep_from)
                keep_from = acks[i].lsn;
            if (acks[i].id > max_id)
                max_id = acks[i].id;
            if (acks[i].lsn > max_lsn)
                max_lsn = acks[i].lsn;
        }
        assert_true(max_lsn / SEG > 5); /* several rotations */
        wl_seen_t s;
        wl_scan(dir, NULL, max_id + 64, &s);
        if (s.open_err != 0)
            fail_msg("recovery after kill -9 failed: %s", mapio_strerror(s.open_err));
        assert_int_equal(s.iter_err, 0);
        assert_false(s.bad_order);
        assert_true(wl_no_partial(&s));
        for (size_t i = 0; i < nacks; i++)
            if (acks[i].id != 0 && acks[i].lsn >= keep_from &&
                !wl_has(&s, acks[i].id, (unsigned)acks[i].n, acks[i].lsn))
                fail_msg("acknowledged batch %llu (lsn %llx) missing after kill -9",
                         (unsigned long long)acks[i].id, (unsigned long long)acks[i].lsn);
        wl_seen_free(&s);
    }
    free(dir);
}

int main(int argc, char **argv)
{
    if (wl_backend() == NULL) {
        fprintf(stderr, "wal-crash: set MAPIO_BACKEND to the backend under test\n");
        return 1;
    }
    /* The appending child, where it cannot be forked (tests/engine/crash_os.h). */
    if (argc == 3 && strcmp(argv[1], CT_CHILD_ARG) == 0)
        child_append_forever(argv[2], ct_child_fd());
    pb = calloc(MAXB, sizeof *pb);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(power_cuts),
        cmocka_unit_test(dir_power_cuts),
        cmocka_unit_test(kill_9),
    };
    int rc = cmocka_run_group_tests_name(wl_backend(), tests, NULL, NULL);
    free(pb);
    return rc;
}
