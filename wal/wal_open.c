/*
 * wal/wal_open.c - opening a log (finding its segments, recovering, making
 * the log durable and ready to append) and closing it. Both block the
 * caller, which polls the engine for the requests they make.
 *
 * What recovery must do before the first append (docs/wal.md, "What the log
 * must do"): zero the erase range durably; sync every segment of the valid
 * log, because after a process crash the page cache may hold frames that
 * were never synced and that the scan took as valid - a new frame whose
 * watermark vouched for them would turn their loss at a later power cut
 * into corruption; rewrite a bad header at the end; close a segment written
 * in the other mode (buffered / O_DIRECT) with a PAD.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/os.h"
#include "wal_log.h"

/* ---- waiting for the engine ---------------------------------------------------------------- */

int mapio__wal_wait(struct mapio_wal *wal, bool (*done)(struct mapio_wal *, void *), void *arg)
{
    while (!done(wal, arg)) {
        int r = mapio_engine_poll(wal->eng, 10);
        if (r == MAPIO_EBUSY) {
            /* Another thread polls now: the log's callbacks run there and
             * wake this one. */
            atomic_fetch_add(&wal->waiters, 1);
            pthread_mutex_lock(&wal->wait_lock);
            if (!done(wal, arg)) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 10 * 1000 * 1000;
                if (ts.tv_nsec >= 1000000000L) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&wal->wait_cv, &wal->wait_lock, &ts);
            }
            pthread_mutex_unlock(&wal->wait_lock);
            atomic_fetch_sub(&wal->waiters, 1);
        } else if (r < 0) {
            return r;
        }
    }
    return 0;
}

/* One engine request, waited for. */
struct one {
    mapio_req_t req;
    struct mapio_wal *wal;
    _Atomic int done;
    int64_t result;
};

static void one_cb(mapio_req_t *req)
{
    struct one *o = req->data;
    o->result = req->result;
    atomic_store(&o->done, 1);
    mapio__wal_wake(o->wal);
}

static bool one_done(struct mapio_wal *wal, void *arg)
{
    (void)wal;
    return atomic_load(&((struct one *)arg)->done) != 0;
}

static void one_init(struct one *o, struct mapio_wal *wal)
{
    memset(o, 0, sizeof *o);
    o->wal = wal;
    o->req.data = o;
}

/* Wait for o, submitted with result err. Returns its result. */
static int one_wait(struct one *o, int err)
{
    if (err != 0)
        return err;
    int r = mapio__wal_wait(o->wal, one_done, o);
    return r != 0 ? r : (int)o->result;
}

static int sync_dir(struct mapio_wal *wal)
{
    struct one o;
    one_init(&o, wal);
    return one_wait(&o, mapio_sync_dir(wal->eng, &o.req, &wal->dir, NULL, one_cb));
}

static int unlink_name(struct mapio_wal *wal, const char *name)
{
    struct one o;
    one_init(&o, wal);
    int err = one_wait(&o, mapio_unlink(wal->eng, &o.req, &wal->dir, name, 0, one_cb));
    return err == MAPIO_ENOENT ? 0 : err;
}

static bool seg_made(struct mapio_wal *wal, void *arg)
{
    (void)wal;
    struct mapio__wal_seg *seg = arg;
    pthread_mutex_lock(&wal->lock_pub);
    bool made = seg->state != MAPIO__WAL_SEG_CREATING;
    pthread_mutex_unlock(&wal->lock_pub);
    return made;
}

/* ---- what the directory holds ------------------------------------------------------------- */

struct found {
    uint64_t *segs, *pool, *tmps;
    size_t nsegs, npool, ntmps, cap_segs, cap_pool, cap_tmps;
};

static int push(uint64_t **a, size_t *n, size_t *cap, uint64_t v)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        uint64_t *p = mapio__realloc(*a, c * sizeof *p);
        if (p == NULL)
            return MAPIO_ENOMEM;
        *a = p;
        *cap = c;
    }
    (*a)[(*n)++] = v;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int each_name(void *ctx, const char *name)
{
    struct found *f = ctx;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        int h = hexval(name[i]);
        if (h < 0)
            return 0;
        v = v << 4 | (uint64_t)h;
    }
    const char *rest = name + 16;
    if (strcmp(rest, ".wal") == 0)
        return push(&f->segs, &f->nsegs, &f->cap_segs, v);
    if (strcmp(rest, ".wal.free") == 0)
        return push(&f->pool, &f->npool, &f->cap_pool, v);
    if (strcmp(rest, ".wal.tmp") == 0)
        return push(&f->tmps, &f->ntmps, &f->cap_tmps, v);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void found_free(struct found *f)
{
    mapio__free(f->segs);
    mapio__free(f->pool);
    mapio__free(f->tmps);
}

/* ---- helpers -------------------------------------------------------------------------------- */

static char *join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = mapio__malloc(a + b + 2);
    if (p == NULL)
        return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

static uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A new log's id: it only has to differ from other logs' (a frame copied
 * between logs then fails its CRC), so the clocks and a few addresses do. */
static uint64_t new_log_id(const struct mapio_wal *wal)
{
    uint64_t local = 0;
    uint64_t z = mix((uint64_t)time(NULL)) ^ mix(mapio__os.now_ns()) ^ mix((uintptr_t)wal) ^
                 mix((uintptr_t)&local) ^ mix((uint64_t)clock());
    z = mix(z);
    return z != 0 ? z : 1;
}

/* Write zeros over [from, to) of an open file, then sync it. */
static int zero_range(mapio_file_t *f, uint64_t from, uint64_t to)
{
    static const unsigned char zeros[65536];
    while (from < to) {
        size_t n = (size_t)MAPIO__MIN(to - from, (uint64_t)sizeof zeros);
        int64_t w = mapio_write_at_blocking(f, zeros, n, from);
        if (w < 0)
            return (int)w;
        from += (uint64_t)w;
    }
    return 0;
}

static int open_seg_file(struct mapio_wal *wal, mapio_file_t *f, uint64_t segno, unsigned flags)
{
    char name[MAPIO__WAL_NAME_MAX];
    mapio__wal_name(name, segno, ".wal");
    char *path = join(wal->path, name);
    if (path == NULL)
        return MAPIO_ENOMEM;
    int err = mapio_file_open_blocking(f, wal->eng, path, 0, flags | MAPIO_OPEN_NO_CREATE);
    mapio__free(path);
    return err;
}

/* Make segment segno as the log runs would, and wait. */
static int create_seg(struct mapio_wal *wal, uint64_t segno, struct mapio__wal_seg **out)
{
    struct mapio__wal_seg *seg = mapio__wal_seg_new(wal, segno, MAPIO__WAL_SEG_NEW);
    if (seg == NULL)
        return MAPIO_ENOMEM;
    pthread_mutex_lock(&wal->lock_pub);
    mapio__wal_seg_insert(wal, seg);
    pthread_mutex_unlock(&wal->lock_pub);
    mapio__wal_create(wal, seg);
    int err = mapio__wal_wait(wal, seg_made, seg);
    if (err == 0 && seg->state != MAPIO__WAL_SEG_READY)
        err = seg->err != 0 ? seg->err : MAPIO_EIO;
    *out = seg;
    return err;
}

/* ---- recovery ----------------------------------------------------------------------------- */

struct mapped {
    mapio_map_t **maps;
    mapio__wal_seg_in_t *in;
    size_t n;
};

static void unmap_all(struct mapped *m)
{
    for (size_t i = 0; i < m->n; i++)
        mapio_map_free(m->maps[i]);
    mapio__free(m->maps);
    mapio__free(m->in);
    memset(m, 0, sizeof *m);
}

static int map_segs(struct mapio_wal *wal, const uint64_t *segs, size_t n, struct mapped *m)
{
    m->maps = mapio__calloc(n ? n : 1, sizeof *m->maps);
    m->in = mapio__calloc(n ? n : 1, sizeof *m->in);
    if (m->maps == NULL || m->in == NULL)
        return MAPIO_ENOMEM;
    mapio_map_opts_t mo = { .kind = MAPIO_MAP_READ_ONLY };
    for (size_t i = 0; i < n; i++) {
        char name[MAPIO__WAL_NAME_MAX];
        mapio__wal_name(name, segs[i], ".wal");
        char *path = join(wal->path, name);
        if (path == NULL)
            return MAPIO_ENOMEM;
        int err = mapio_map_new(&m->maps[m->n], path, &mo);
        mapio__free(path);
        if (err != 0)
            return err;
        uint64_t len = mapio_map_len(m->maps[m->n]);
        m->in[m->n].segno = segs[i];
        m->in[m->n].buf = len != 0 ? mapio_map_ptr(m->maps[m->n], 0) : NULL;
        m->in[m->n].len = (size_t)MAPIO__MIN(len, wal->fmt.seg_size);
        m->n++;
    }
    return 0;
}

/* The header of segment segno, decoded (MAPIO__WAL_HDR_* on failure). */
static int read_header(struct mapio_wal *wal, uint64_t segno, mapio__wal_seghdr_t *h)
{
    mapio_file_t f;
    unsigned char buf[MAPIO__WAL_SEGHDR_USED];
    int err = open_seg_file(wal, &f, segno, MAPIO_OPEN_READ_ONLY);
    if (err != 0)
        return MAPIO__WAL_HDR_SHORT;
    int64_t n = mapio_read_at_blocking(&f, buf, sizeof buf, 0);
    mapio_file_close_blocking(&f);
    if (n < 0)
        return MAPIO__WAL_HDR_SHORT;
    return (int)mapio__wal_seghdr_decode(buf, (size_t)n, h);
}

static uint32_t verdict_public(mapio__wal_verdict_t v)
{
    return v == MAPIO__WAL_CLEAN  ? MAPIO_WAL_END_CLEAN
           : v == MAPIO__WAL_TORN ? MAPIO_WAL_END_TORN
                                  : MAPIO_WAL_END_CORRUPT;
}

/*
 * The existing log in f->segs: recover, clean up, and leave wal ready to
 * append (its first entry made). Segments below the start stay as OLD ones
 * (truncation removes them); those past the end become spares.
 */
static int recover_log(struct mapio_wal *wal, const mapio_wal_opts_t *o, struct found *f,
                       uint32_t block)
{
    /* Where to start: the caller's checkpoint, or the oldest segment of
     * the last run of consecutive numbers (a segment whose removal did not
     * reach the disk before a crash can come back below a gap). */
    size_t first = 0;
    if (o->start_lsn == 0) {
        for (size_t i = 1; i < f->nsegs; i++)
            if (f->segs[i] != f->segs[i - 1] + 1)
                first = i;
    }
    /* The log's geometry, from the first readable header there. */
    mapio__wal_seghdr_t h;
    size_t hdr_at = first;
    while (hdr_at < f->nsegs && read_header(wal, f->segs[hdr_at], &h) != MAPIO__WAL_HDR_OK)
        hdr_at++;
    if (hdr_at == f->nsegs)
        return MAPIO_EBADMSG;
    if (o->segment_size != 0 && o->segment_size != h.seg_size)
        return MAPIO_EINVAL;
    int err = mapio__wal_fmt_init(&wal->fmt, h.log_id, h.seg_size, block);
    if (err != 0)
        return err;
    wal->max_records = (uint32_t)((h.seg_size - MAPIO__WAL_SEGHDR_SIZE - MAPIO__WAL_FRAME_HDR) /
                                  MAPIO__WAL_REC_HDR);
    uint64_t start =
        o->start_lsn != 0 ? o->start_lsn : mapio__wal_first_lsn(&wal->fmt, f->segs[first]);
    uint64_t s0 = mapio__wal_segno(&wal->fmt, start);
    if (o->start_lsn != 0) {
        while (first < f->nsegs && f->segs[first] < s0)
            first++;
        if (first == f->nsegs || f->segs[first] != s0)
            return MAPIO_ENOENT;
    }

    struct mapped m = { 0 };
    err = map_segs(wal, f->segs + first, f->nsegs - first, &m);
    mapio__wal_recovery_t rec;
    if (err == 0)
        err =
            mapio__wal_recover(&wal->fmt, m.in, m.n, start, (mapio__wal_policy_t)wal->policy, &rec);
    /* What the segment at the end says of its own alignment. */
    uint64_t pseg = mapio__wal_segno(&wal->fmt, err == 0 ? rec.end_lsn : 0);
    uint32_t pblock = wal->fmt.block_size;
    bool have_p = false;
    for (size_t i = 0; err == 0 && i < m.n; i++) {
        if (m.in[i].segno != pseg)
            continue;
        mapio__wal_seghdr_t ph;
        have_p = true;
        if (mapio__wal_seghdr_decode(m.in[i].buf, m.in[i].len, &ph) == MAPIO__WAL_HDR_OK) {
            pblock = ph.block_size;
        }
    }
    unmap_all(&m);
    if (err != 0)
        return err;
    /* The range to zero: what recovery says, and the invalid frame at the
     * end itself (unacknowledged, or given up), so that the next recovery
     * finds zeros there and not a torn tail that ABSOLUTE would refuse. */
    uint64_t zlo = rec.erase_lo, zhi = rec.erase_hi;
    if (rec.stop == MAPIO__WAL_STOP_INVALID) {
        uint64_t t =
            rec.end_lsn + mapio__wal_round_up(MAPIO__WAL_FRAME_HDR, mapio__wal_align_of(pblock));
        t = MAPIO__MIN(t, mapio__wal_seg_base(&wal->fmt, pseg) + wal->fmt.seg_size);
        zlo = rec.end_lsn;
        zhi = MAPIO__MAX(zhi, t);
    }
    wal->rec.recovered = verdict_public(rec.verdict);
    wal->rec.recovered_lsn = rec.end_lsn;
    wal->rec.recovered_batches = rec.frames;
    wal->rec.recovered_records = rec.records;
    wal->rec.erased_bytes = zhi - zlo;

    /* Durable before anything is appended: every segment of the valid log
     * synced, the erase range zeroed and synced, a bad header rewritten. */
    uint64_t ehi_seg = zhi > zlo ? mapio__wal_segno(&wal->fmt, zhi - 1) : pseg;
    for (size_t i = first; i < f->nsegs; i++) {
        uint64_t sn = f->segs[i];
        if (sn > pseg && sn > ehi_seg)
            break;
        mapio_file_t sf;
        err = open_seg_file(wal, &sf, sn, 0);
        if (err != 0)
            return err;
        uint64_t base = mapio__wal_seg_base(&wal->fmt, sn);
        uint64_t lo = MAPIO__MAX(zlo, base + MAPIO__WAL_SEGHDR_SIZE);
        uint64_t hi = MAPIO__MIN(zhi, base + wal->fmt.seg_size);
        if (lo < hi)
            err = zero_range(&sf, lo - base, hi - base);
        if (err == 0 && sn == pseg && rec.stop == MAPIO__WAL_STOP_HEADER) {
            mapio__wal_seghdr_t nh = { wal->fmt.log_id, sn, wal->fmt.seg_size, block };
            unsigned char *hb = mapio_alloc_aligned(MAPIO__WAL_SEGHDR_SIZE, 4096);
            err = hb == NULL ? MAPIO_ENOMEM : mapio__wal_seghdr_encode(hb, &nh);
            if (err == 0) {
                int64_t w = mapio_write_at_blocking(&sf, hb, MAPIO__WAL_SEGHDR_SIZE, 0);
                err = w < 0 ? (int)w : 0;
            }
            mapio_free_aligned(hb);
            pblock = block;
        }
        if (err == 0)
            err = mapio_sync_data_blocking(&sf);
        int cerr = mapio_file_close_blocking(&sf);
        if (err == 0)
            err = cerr;
        if (err != 0)
            return err;
    }

    /* A segment written in the other mode is closed with a PAD at the end
     * (frames of two alignments never share a segment), and the log goes
     * on in the next. */
    uint64_t p = rec.end_lsn;
    if (have_p && rec.stop != MAPIO__WAL_STOP_MISSING && pblock != block) {
        mapio__wal_fmt_t old;
        err = mapio__wal_fmt_init(&old, wal->fmt.log_id, wal->fmt.seg_size, pblock);
        uint64_t off = mapio__wal_seg_off(&wal->fmt, p);
        if (err == 0 && wal->fmt.seg_size - off >= MAPIO__WAL_FRAME_HDR) {
            unsigned char *pb = mapio_alloc_aligned(MAPIO__WAL_MAX_BLOCK, 4096);
            int64_t n = pb == NULL ? MAPIO_ENOMEM
                                   : mapio__wal_encode_pad(&old, pb, MAPIO__WAL_MAX_BLOCK, p, p);
            mapio_file_t sf;
            err = n < 0 ? (int)n : open_seg_file(wal, &sf, pseg, 0);
            if (err == 0) {
                int64_t w = mapio_write_at_blocking(&sf, pb, (size_t)n, off);
                err = w < 0 ? (int)w : mapio_sync_data_blocking(&sf);
                int cerr = mapio_file_close_blocking(&sf);
                if (err == 0)
                    err = cerr;
            }
            mapio_free_aligned(pb);
        }
        if (err != 0)
            return err;
        pseg++;
        p = mapio__wal_first_lsn(&wal->fmt, pseg);
        have_p = false;
        for (size_t i = 0; i < f->nsegs; i++)
            have_p |= f->segs[i] == pseg;
    }

    /* The segments: old ones, the one the writer goes on in, spares. */
    bool dir_changed = false;
    for (size_t i = 0; i < f->nsegs; i++) {
        uint64_t sn = f->segs[i];
        if (sn == pseg)
            continue;
        if (sn > pseg) {
            /* A spare, if it has this log's header for this mode. */
            mapio__wal_seghdr_t sh;
            if (read_header(wal, sn, &sh) != MAPIO__WAL_HDR_OK || sh.log_id != wal->fmt.log_id ||
                sh.seg_size != wal->fmt.seg_size || sh.segno != sn || sh.block_size != block) {
                char name[MAPIO__WAL_NAME_MAX];
                mapio__wal_name(name, sn, ".wal");
                if ((err = unlink_name(wal, name)) != 0)
                    return err;
                dir_changed = true;
                continue;
            }
        }
        struct mapio__wal_seg *seg =
            mapio__wal_seg_new(wal, sn, sn < pseg ? MAPIO__WAL_SEG_OLD : MAPIO__WAL_SEG_READY);
        if (seg == NULL)
            return MAPIO_ENOMEM;
        if (sn > pseg) {
            err = open_seg_file(wal, &seg->file, sn, block != 0 ? MAPIO_OPEN_DIRECT : 0);
            if (err != 0) {
                mapio__wal_seg_free(seg);
                return err;
            }
            seg->file_open = true;
        }
        pthread_mutex_lock(&wal->lock_pub);
        mapio__wal_seg_insert(wal, seg);
        pthread_mutex_unlock(&wal->lock_pub);
    }
    if (dir_changed && (err = sync_dir(wal)) != 0)
        return err;

    /* An empty segment the writer starts in (a spare, or the one after a
     * mode switch) must say this mode in its header. */
    if (have_p && p == mapio__wal_first_lsn(&wal->fmt, pseg)) {
        mapio__wal_seghdr_t ch;
        if (read_header(wal, pseg, &ch) != MAPIO__WAL_HDR_OK || ch.block_size != block ||
            ch.log_id != wal->fmt.log_id || ch.segno != pseg || ch.seg_size != wal->fmt.seg_size) {
            mapio_file_t sf;
            mapio__wal_seghdr_t nh = { wal->fmt.log_id, pseg, wal->fmt.seg_size, block };
            unsigned char *hb = mapio_alloc_aligned(MAPIO__WAL_SEGHDR_SIZE, 4096);
            err = hb == NULL ? MAPIO_ENOMEM : mapio__wal_seghdr_encode(hb, &nh);
            if (err == 0)
                err = open_seg_file(wal, &sf, pseg, 0);
            if (err == 0) {
                int64_t w = mapio_write_at_blocking(&sf, hb, MAPIO__WAL_SEGHDR_SIZE, 0);
                err = w < 0 ? (int)w : mapio_sync_data_blocking(&sf);
                int cerr = mapio_file_close_blocking(&sf);
                if (err == 0)
                    err = cerr;
            }
            mapio_free_aligned(hb);
            if (err != 0)
                return err;
        }
    }
    struct mapio__wal_seg *cur = NULL;
    if (!have_p) {
        if ((err = create_seg(wal, pseg, &cur)) != 0)
            return err;
    } else {
        cur = mapio__wal_seg_new(wal, pseg, MAPIO__WAL_SEG_READY);
        if (cur == NULL)
            return MAPIO_ENOMEM;
        err = open_seg_file(wal, &cur->file, pseg, block != 0 ? MAPIO_OPEN_DIRECT : 0);
        if (err != 0) {
            mapio__wal_seg_free(cur);
            return err;
        }
        cur->file_open = true;
        pthread_mutex_lock(&wal->lock_pub);
        mapio__wal_seg_insert(wal, cur);
        pthread_mutex_unlock(&wal->lock_pub);
    }
    wal->first_segno = f->segs[0];
    atomic_store(&wal->first_lsn, start);
    atomic_store(&wal->durable, p);
    return mapio__wal_first_entry(wal, cur, p - mapio__wal_first_lsn(&wal->fmt, pseg));
}

static int new_log(struct mapio_wal *wal, const mapio_wal_opts_t *o, uint32_t block)
{
    uint64_t size = o->segment_size != 0 ? o->segment_size : (uint64_t)64 << 20;
    int err = mapio__wal_fmt_init(&wal->fmt, new_log_id(wal), size, block);
    if (err != 0)
        return err;
    wal->max_records =
        (uint32_t)((size - MAPIO__WAL_SEGHDR_SIZE - MAPIO__WAL_FRAME_HDR) / MAPIO__WAL_REC_HDR);
    struct mapio__wal_seg *seg;
    if ((err = create_seg(wal, 0, &seg)) != 0)
        return err;
    uint64_t p = mapio__wal_first_lsn(&wal->fmt, 0);
    wal->first_segno = 0;
    atomic_store(&wal->first_lsn, p);
    atomic_store(&wal->durable, p);
    wal->rec.recovered = MAPIO_WAL_END_CLEAN;
    wal->rec.recovered_lsn = p;
    return mapio__wal_first_entry(wal, seg, 0);
}

/* ---- mapio_wal_new ------------------------------------------------------------------------------
 */

static int check_opts(const mapio_wal_opts_t *o)
{
    uint64_t s = o->segment_size;
    if (s != 0 && (s < ((uint64_t)1 << MAPIO__WAL_MIN_SEG_SHIFT) ||
                   s > ((uint64_t)1 << MAPIO__WAL_MAX_SEG_SHIFT) || (s & (s - 1)) != 0))
        return MAPIO_EINVAL;
    if (o->flags & ~(unsigned)(MAPIO_WAL_CREATE | MAPIO_WAL_DIRECT | MAPIO_WAL_NO_RECYCLE |
                               MAPIO_WAL_NO_IDLE_MARK))
        return MAPIO_EINVAL;
    if (o->recovery > MAPIO_WAL_ABSOLUTE || o->spares > MAPIO__WAL_MAX_SPARES)
        return MAPIO_EINVAL;
    if (o->block_size != 0 &&
        (o->block_size < MAPIO__WAL_MIN_BLOCK || o->block_size > MAPIO__WAL_MAX_BLOCK ||
         (o->block_size & (o->block_size - 1)) != 0))
        return MAPIO_EINVAL;
    return 0;
}

/* The O_DIRECT block and buffer alignment, from the lock file. */
static int probe_direct(struct mapio_wal *wal, const char *lockpath, uint32_t want, uint32_t *block)
{
    mapio_file_t pf;
    int err = mapio_file_open_blocking(&pf, wal->eng, lockpath, 0, MAPIO_OPEN_DIRECT);
    if (err != 0)
        return err;
    uint32_t mem = 1, io = 1;
    err = mapio_file_alignment(&pf, &mem, &io);
    mapio_file_close_blocking(&pf);
    if (err != 0)
        return err;
    uint32_t b = want != 0 ? want : MAPIO__MAX(io, MAPIO__WAL_MIN_BLOCK);
    if (b < io || b > MAPIO__WAL_MAX_BLOCK || (b & (b - 1)) != 0)
        return MAPIO_EINVAL;
    *block = b;
    wal->mem_align = MAPIO__MAX(MAPIO__MAX(mem, b), (uint32_t)sizeof(void *));
    return 0;
}

static int open_log(struct mapio_wal *wal, const char *dir, const mapio_wal_opts_t *o)
{
    int err;
    if (o->flags & MAPIO_WAL_CREATE) {
        struct one mk;
        one_init(&mk, wal);
        err = one_wait(&mk, mapio_mkdir(wal->eng, &mk.req, NULL, dir, 0755, one_cb));
        if (err == 0)
            err = mapio_path_sync_parent(dir); /* the new directory's own name */
        else if (err == MAPIO_EEXIST)
            err = 0;
        if (err != 0)
            return err;
    }
    err = mapio_file_open_blocking(&wal->dir, wal->eng, dir, 0, MAPIO_OPEN_DIRECTORY);
    if (err != 0)
        return err;
    wal->dir_open = true;
    char *lockpath = join(dir, MAPIO__WAL_LOCK_NAME);
    if (lockpath == NULL)
        return MAPIO_ENOMEM;
    mapio_map_opts_t lo = { .kind = MAPIO_MAP_READ_WRITE,
                            .open = MAPIO_MAP_OPEN_OR_CREATE,
                            .size = MAPIO_MAP_SIZE_FILE,
                            .flags = MAPIO_MAP_LOCK_FILE };
    err = mapio_map_new(&wal->lockmap, lockpath, &lo);
    if (err == MAPIO_EAGAIN)
        err = MAPIO_EBUSY;
    uint32_t block = 0;
    if (err == 0 && (o->flags & MAPIO_WAL_DIRECT))
        err = probe_direct(wal, lockpath, o->block_size, &block);
    mapio__free(lockpath);
    if (err != 0)
        return err;

    struct found f = { 0 };
    err = mapio__wal_list_dir(dir, each_name, &f);
    if (err == 0 && f.nsegs > 1)
        qsort(f.segs, f.nsegs, sizeof *f.segs, cmp_u64);
    /* Half-made segments of a crash go; the pool is kept if it is used. */
    bool changed = false;
    for (size_t i = 0; err == 0 && i < f.ntmps; i++) {
        char name[MAPIO__WAL_NAME_MAX];
        mapio__wal_name(name, f.tmps[i], ".wal.tmp");
        err = unlink_name(wal, name);
        changed = true;
    }
    for (size_t i = 0; err == 0 && i < f.npool; i++) {
        if (wal->recycle && wal->npool < wal->spares) {
            wal->pool[wal->npool++] = f.pool[i];
            continue;
        }
        char name[MAPIO__WAL_NAME_MAX];
        mapio__wal_name(name, f.pool[i], ".wal.free");
        err = unlink_name(wal, name);
        changed = true;
    }
    if (err == 0 && changed)
        err = sync_dir(wal);
    if (err == 0) {
        if (f.nsegs == 0)
            err = (o->flags & MAPIO_WAL_CREATE) ? new_log(wal, o, block) : MAPIO_ENOENT;
        else
            err = recover_log(wal, o, &f, block);
    }
    found_free(&f);
    return err;
}

static bool quiet(struct mapio_wal *wal, void *arg)
{
    (void)arg;
    return atomic_load(&wal->inflight) == 0 && atomic_load(&wal->marks) == 0 &&
           atomic_load(&wal->job) == MAPIO__WAL_JOB_NONE && atomic_load(&wal->kick) == 0 &&
           atomic_load(&wal->inbox) == NULL && !atomic_load(&wal->timer_armed);
}

static void destroy(struct mapio_wal *wal)
{
    mapio__wal_release(wal);
    if (wal->dir_open)
        mapio_file_close_blocking(&wal->dir);
    mapio_map_free(wal->lockmap);
    pthread_mutex_destroy(&wal->lock_pub);
    pthread_mutex_destroy(&wal->lock_iter);
    pthread_mutex_destroy(&wal->wait_lock);
    pthread_cond_destroy(&wal->wait_cv);
    mapio_free_aligned(wal->zeros);
    mapio__free(wal->pool);
    mapio__free(wal->path);
    mapio__free(wal);
}

int mapio_wal_new(mapio_wal_t **out, mapio_engine_t *eng, const char *dir,
                  const mapio_wal_opts_t *opts)
{
    if (out == NULL || eng == NULL || dir == NULL)
        return MAPIO_EINVAL;
    *out = NULL;
    mapio_wal_opts_t o = opts != NULL ? *opts : (mapio_wal_opts_t){ 0 };
    int err = check_opts(&o);
    if (err != 0)
        return err;
    if (dir[0] == '\0')
        return MAPIO_ENOENT;
    if (strlen(dir) + 1 + MAPIO__WAL_NAME_MAX > MAPIO_PATH_MAX)
        return MAPIO_ENAMETOOLONG;
    /* It polls eng: refused at once when it could not. */
    int r = mapio_engine_poll(eng, 0);
    if (r == MAPIO_EBUSY)
        return MAPIO_EBUSY;
    struct mapio_wal *wal = mapio__calloc(1, sizeof *wal);
    if (wal == NULL)
        return MAPIO_ENOMEM;
    wal->eng = eng;
    wal->flags = o.flags;
    wal->policy = o.recovery;
    wal->spares = o.spares != 0 ? o.spares : 1;
    wal->max_inflight = o.max_inflight != 0 ? o.max_inflight : 1024;
    wal->idle_ns = (uint64_t)(o.idle_mark_ms != 0 ? o.idle_mark_ms : 100) * 1000000u;
    wal->recycle = !(o.flags & MAPIO_WAL_NO_RECYCLE) && o.recovery != MAPIO_WAL_ABSOLUTE;
    wal->mem_align = 8;
    wal->last_is_mark = true;
    wal->cap_pool = wal->spares;
    wal->pool = mapio__calloc(wal->cap_pool, sizeof *wal->pool);
    wal->path = mapio__strdup(dir);
    bool locks = pthread_mutex_init(&wal->lock_pub, NULL) == 0;
    locks &= pthread_mutex_init(&wal->lock_iter, NULL) == 0;
    locks &= pthread_mutex_init(&wal->wait_lock, NULL) == 0;
    locks &= pthread_cond_init(&wal->wait_cv, NULL) == 0;
    if (wal->pool == NULL || wal->path == NULL || !locks) {
        destroy(wal);
        return MAPIO_ENOMEM;
    }
    err = open_log(wal, dir, &o);
    if (err != 0) {
        /* Nothing of it may be in flight when it goes. */
        mapio__wal_wait(wal, quiet, NULL);
        destroy(wal);
        return err;
    }
    /* The spares are made as the engine is polled from now on. */
    wal->ready = true;
    wal->dirty = true;
    mapio__wal_tick(wal);
    *out = wal;
    return 0;
}

/* ---- mapio_wal_free -------------------------------------------------------------------------- */

int mapio_wal_free(mapio_wal_t *wal)
{
    if (wal == NULL)
        return 0;
    pthread_mutex_lock(&wal->lock_iter);
    bool iters = wal->iters != NULL;
    pthread_mutex_unlock(&wal->lock_iter);
    if (iters)
        return MAPIO_EBUSY;
    int r = mapio_engine_poll(wal->eng, 0);
    if (r == MAPIO_EBUSY)
        return MAPIO_EBUSY;
    atomic_store(&wal->closing, 1);
    int err = mapio__wal_wait(wal, quiet, NULL);
    /* The last frame, vouched for by a watermark-only frame after it, and
     * zeros after that (even after an idle mark): a log closed here
     * reopens with a clean end. Untouched since open, the end is as
     * recovery left it, zeroed. */
    if (err == 0 && atomic_load(&wal->sticky) == 0 && atomic_load(&wal->appends) != 0) {
        mapio__wal_mark(wal, true);
        err = mapio__wal_wait(wal, quiet, NULL);
    }
    if (err == 0 && atomic_load(&wal->timer_armed)) {
        mapio_cancel(&wal->timer_req);
        err = mapio__wal_wait(wal, quiet, NULL);
    }
    int sticky = mapio__wal_error(wal);
    int cerr = 0;
    for (struct mapio__wal_seg *s = wal->segs; s != NULL; s = s->next) {
        if (s->file_open) {
            int e = mapio_file_close_blocking(&s->file);
            s->file_open = false;
            if (cerr == 0)
                cerr = e;
        }
    }
    destroy(wal);
    return sticky != 0 ? sticky : err != 0 ? err : cerr;
}
