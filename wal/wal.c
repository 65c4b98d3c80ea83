/*
 * wal/wal.c - the log at run time: appends (reservation, placement,
 * encoding, submission), the acknowledgement order, the entries that map
 * reservations onto segments, and the jobs that make, close, recycle and
 * remove segments through the engine's lifecycle requests, so that a
 * rotation never blocks the loop. wal_log.h says how it fits together;
 * docs/wal.md why each rule is there.
 *
 * Threads. Appends run on the caller's thread and touch shared state only
 * through atomics, except the crosser, which publishes the next entry under
 * lock_pub. Everything else - completions, acknowledgements, entry
 * activation, the jobs - runs on the polling thread, inside the callbacks
 * of the log's engine requests, each of which ends with mapio__wal_tick.
 */
#include <string.h>

#include "wal_log.h"

#define PARK_EMPTY MAPIO__WAL_PARK_EMPTY
#define PARK_ACTIVE MAPIO__WAL_PARK_ACTIVE
#define PARK_DEAD MAPIO__WAL_PARK_DEAD

/* What the public request's private part holds. The memory need not be
 * initialised: "in flight" is a tagged value, which leftover bytes are not
 * taken for unless they hold the tag (the engine's rule for its requests). */
#define WAL_REQ_BUSY 0x6d770001u /* "mw" */
struct wal_req_priv {
    _Atomic uint32_t state;
    struct mapio__wal_op *op;
    mapio_wal_req_t *next; /* truncations waiting */
};
_Static_assert(sizeof(struct wal_req_priv) <= sizeof(((mapio_wal_req_t *)0)->priv),
               "mapio_wal_req_t.priv too small");

static struct wal_req_priv *rpriv(mapio_wal_req_t *req)
{
    return (struct wal_req_priv *)(void *)&req->priv;
}

/* Bytes of frames one segment holds. */
static uint64_t room(const struct mapio_wal *wal)
{
    return wal->fmt.seg_size - MAPIO__WAL_SEGHDR_SIZE;
}

/* A frame that ends exactly at its segment's end is followed by the next
 * segment's first frame: that, not the next segment's byte 0 (a header
 * position), is the durable end it leaves. */
static uint64_t norm_end(const struct mapio_wal *wal, uint64_t end)
{
    if (mapio__wal_seg_off(&wal->fmt, end) == 0)
        return end + MAPIO__WAL_SEGHDR_SIZE;
    return end;
}

/* Errors after which a segment may be tried again later: the disk or a
 * table was full. Anything else fails the log. */
static bool transient(int err)
{
    return err == MAPIO_ENOSPC || err == MAPIO_EMFILE || err == MAPIO_ENFILE || err == MAPIO_ENOMEM;
}

void mapio__wal_name(char *dst, uint64_t segno, const char *suffix)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++)
        dst[i] = hex[(segno >> (60 - 4 * i)) & 15];
    size_t n = strlen(suffix);
    memcpy(dst + 16, suffix, n + 1);
}

void mapio__wal_wake(struct mapio_wal *wal)
{
    if (atomic_load_explicit(&wal->waiters, memory_order_acquire) == 0)
        return;
    pthread_mutex_lock(&wal->wait_lock);
    pthread_cond_broadcast(&wal->wait_cv);
    pthread_mutex_unlock(&wal->wait_lock);
}

void mapio__wal_fail(struct mapio_wal *wal, int err)
{
    int zero = 0;
    atomic_compare_exchange_strong(&wal->sticky, &zero, err);
}

int mapio__wal_error(const struct mapio_wal *wal)
{
    int cause = atomic_load(&wal->cause);
    return cause != 0 ? cause : atomic_load(&wal->sticky);
}

/* ---- memory ------------------------------------------------------------------------- */

static void *alloc_buf(struct mapio_wal *wal, size_t n)
{
    if (wal->fmt.block_size != 0)
        return mapio_alloc_aligned(n, wal->mem_align);
    return mapio__malloc(n);
}

static void free_buf(struct mapio_wal *wal, void *p)
{
    if (wal->fmt.block_size != 0)
        mapio_free_aligned(p);
    else
        mapio__free(p);
}

/* An op with room for a frame of frame_bytes in front of it (aligned for
 * O_DIRECT): one allocation per append. */
static struct mapio__wal_op *op_alloc(struct mapio_wal *wal, uint64_t frame_bytes, int kind)
{
    size_t at = ((size_t)frame_bytes + 63) & ~(size_t)63;
    unsigned char *mem = alloc_buf(wal, at + sizeof(struct mapio__wal_op));
    if (mem == NULL)
        return NULL;
    struct mapio__wal_op *op = (struct mapio__wal_op *)(void *)(mem + at);
    memset(op, 0, offsetof(struct mapio__wal_op, w));
    op->wal = wal;
    op->mem = mem;
    op->frame = frame_bytes != 0 ? mem : NULL;
    op->len = frame_bytes;
    op->s = frame_bytes;
    op->kind = (uint8_t)kind;
    op->parts = 1;
    return op;
}

static void op_free(struct mapio_wal *wal, struct mapio__wal_op *op)
{
    free_buf(wal, op->mem);
}

static struct mapio__wal_entry *entry_new(struct mapio_wal *wal)
{
    struct mapio__wal_entry *e = mapio__calloc(1, sizeof *e);
    if (e == NULL)
        return NULL;
    uint32_t b = wal->fmt.align > MAPIO__WAL_FRAME_HDR ? wal->fmt.align : MAPIO__WAL_FRAME_HDR;
    e->pad_frame = alloc_buf(wal, b);
    if (e->pad_frame == NULL) {
        mapio__free(e);
        return NULL;
    }
    atomic_init(&e->park, PARK_EMPTY);
    atomic_init(&e->registered, 0);
    atomic_init(&e->expected, UINT64_MAX);
    atomic_init(&e->pad_busy, 0);
    e->pad.wal = wal;
    e->pad.kind = MAPIO__WAL_OP_PAD;
    e->pad.frame = e->pad_frame;
    e->pad.parts = 1;
    return e;
}

static void entry_free(struct mapio_wal *wal, struct mapio__wal_entry *e)
{
    free_buf(wal, e->pad_frame);
    mapio__free(e);
}

struct mapio__wal_seg *mapio__wal_seg_new(struct mapio_wal *wal, uint64_t segno, int state)
{
    struct mapio__wal_seg *seg = mapio__calloc(1, sizeof *seg);
    if (seg == NULL)
        return NULL;
    seg->blk = mapio_alloc_aligned(MAPIO__WAL_SEGHDR_SIZE, 4096);
    if (seg->blk == NULL) {
        mapio__free(seg);
        return NULL;
    }
    seg->wal = wal;
    seg->segno = segno;
    seg->state = state;
    atomic_init(&seg->refs, 0);
    return seg;
}

void mapio__wal_seg_free(struct mapio__wal_seg *seg)
{
    if (seg == NULL)
        return;
    if (seg->file_open)
        mapio_file_close_blocking(&seg->file);
    mapio_free_aligned(seg->blk);
    mapio__free(seg);
}

void mapio__wal_seg_insert(struct mapio_wal *wal, struct mapio__wal_seg *seg)
{
    struct mapio__wal_seg **link = &wal->segs;
    while (*link != NULL && (*link)->segno < seg->segno)
        link = &(*link)->next;
    seg->next = *link;
    *link = seg;
}

/* The usable segment object for segno (lock_pub held). */
static struct mapio__wal_seg *find_seg(struct mapio_wal *wal, uint64_t segno)
{
    for (struct mapio__wal_seg *s = wal->segs; s != NULL && s->segno <= segno; s = s->next)
        if (s->segno == segno &&
            (s->state == MAPIO__WAL_SEG_NEW || s->state == MAPIO__WAL_SEG_CREATING ||
             s->state == MAPIO__WAL_SEG_READY))
            return s;
    return NULL;
}

int mapio__wal_first_entry(struct mapio_wal *wal, struct mapio__wal_seg *seg, uint64_t off)
{
    struct mapio__wal_entry *e = entry_new(wal);
    if (e == NULL)
        return MAPIO_ENOMEM;
    e->segno = seg->segno;
    e->vbase = 0;
    e->seg = seg;
    atomic_store(&e->park, PARK_ACTIVE);
    atomic_store(&wal->latest, e);
    atomic_store(&wal->vpos, off);
    wal->oldest = wal->resolved = e;
    wal->done_v = off;
    return 0;
}

/* ---- getting work to the polling thread ------------------------------------------- */

static void kick_cb(mapio_req_t *req)
{
    struct mapio_wal *wal = req->data;
    atomic_store(&wal->kick, 0);
    wal->dirty = true;
    mapio__wal_tick(wal);
}

/* Make the polling thread tick soon: one nop, unless one is on its way. */
static void kick(struct mapio_wal *wal)
{
    if (atomic_exchange(&wal->kick, 1) != 0)
        return;
    wal->kick_req.data = wal;
    if (mapio_nop(wal->eng, &wal->kick_req, kick_cb) != 0) {
        /* The engine's queue is full: the next append or callback of the
         * log ticks instead. */
        atomic_store(&wal->kick, 0);
        atomic_store(&wal->kick_lost, 1);
    }
}

static void inbox_push(struct mapio_wal *wal, struct mapio__wal_op *op)
{
    struct mapio__wal_op *head = atomic_load_explicit(&wal->inbox, memory_order_relaxed);
    do
        op->link = head;
    while (!atomic_compare_exchange_weak_explicit(&wal->inbox, &head, op, memory_order_release,
                                                  memory_order_relaxed));
    kick(wal);
}

/* ---- submission (any thread) -------------------------------------------------------- */

static void commit_cb(mapio_req_t *req);

static void submit(struct mapio_wal *wal, struct mapio__wal_op *op)
{
    op->w.buf = op->frame;
    op->w.offset = mapio__wal_seg_off(&wal->fmt, op->lsn);
    /* A closing mark's zeros stop at the segment's end. */
    op->w.len = (size_t)MAPIO__MIN(op->len, wal->fmt.seg_size - op->w.offset);
    op->ereq.data = op;
    int r = mapio_commit(&op->seg->file, &op->ereq, &op->w, 1, commit_cb);
    if (r == 0)
        return;
    if (r == MAPIO_EAGAIN) {
        op->retry = 1; /* the polling thread submits it again */
    } else {
        /* Its bytes will never be written: a hole, which fails the log. */
        op->result = r;
        mapio__wal_fail(wal, r);
        atomic_fetch_sub(&op->seg->refs, 1);
        op->seg = NULL;
    }
    inbox_push(wal, op);
}

/* Done with e: the poll thread may free it once every reservation in it
 * has registered. Nothing of e may be touched after this. */
static void register_in(struct mapio__wal_entry *e, uint64_t n)
{
    atomic_fetch_add_explicit(&e->registered, n, memory_order_acq_rel);
}

/* Write op through e's segment once e is usable, or fail it with e. */
static void park_or_submit(struct mapio_wal *wal, struct mapio__wal_entry *e,
                           struct mapio__wal_op *op, uint64_t reg)
{
    uintptr_t p = atomic_load_explicit(&e->park, memory_order_acquire);
    for (;;) {
        if (p == PARK_ACTIVE) {
            struct mapio__wal_seg *seg = e->seg;
            atomic_fetch_add(&seg->refs, 1);
            op->seg = seg;
            register_in(e, reg);
            submit(wal, op);
            return;
        }
        if (p == PARK_DEAD) {
            op->result = e->err;
            op->soft = (uint8_t)e->soft;
            register_in(e, reg);
            inbox_push(wal, op);
            return;
        }
        op->link = (struct mapio__wal_op *)p;
        if (atomic_compare_exchange_weak_explicit(&e->park, &p, (uintptr_t)op, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            register_in(e, reg);
            kick(wal);
            return;
        }
    }
}

/* op's frame at offset off of e's frame area. */
static void in_entry(struct mapio_wal *wal, struct mapio__wal_op *op, struct mapio__wal_entry *e,
                     uint64_t off, const mapio_iovec_t *recs, unsigned n)
{
    uintptr_t p = atomic_load_explicit(&e->park, memory_order_acquire);
    if (p == PARK_DEAD || off + op->s > room(wal)) {
        /* A dead entry, or past the room of one a reset is killing: the
         * space is mapped again from the reset on, nothing is written. */
        op->result = p == PARK_DEAD ? e->err : MAPIO_ENOSPC;
        op->soft = p == PARK_DEAD ? (uint8_t)e->soft : 1;
        register_in(e, op->s);
        inbox_push(wal, op);
        return;
    }
    op->lsn = mapio__wal_first_lsn(&wal->fmt, e->segno) + off;
    op->end_lsn = norm_end(wal, op->lsn + op->s);
    if (op->user != NULL) {
        op->user->lsn = op->lsn;
        op->user->end_lsn = op->end_lsn;
    }
    /* The watermark: the durable LSN now, always a frame's end, never
     * ahead of a completed sync, and at most this frame's lsn because this
     * frame is not durable yet. */
    uint64_t wm = atomic_load_explicit(&wal->durable, memory_order_acquire);
    int64_t r =
        mapio__wal_encode_batch(&wal->fmt, op->frame, (size_t)op->len, op->lsn, wm, recs, n);
    if (r < 0) {
        op->result = r;
        mapio__wal_fail(wal, (int)r);
        register_in(e, op->s);
        inbox_push(wal, op);
        return;
    }
    park_or_submit(wal, e, op, op->s);
}

/*
 * op runs past e's room: publish the next entry at op's position (op's
 * frame opens the next segment), write the PAD that closes e's segment.
 * false: another entry was published meanwhile (a reset); look again.
 */
static bool cross(struct mapio_wal *wal, struct mapio__wal_op *op, struct mapio__wal_entry *e,
                  uint64_t off, const mapio_iovec_t *recs, unsigned n)
{
    pthread_mutex_lock(&wal->lock_pub);
    if (atomic_load(&wal->latest) != e) {
        pthread_mutex_unlock(&wal->lock_pub);
        return false;
    }
    uint64_t segno = e->segno + 1;
    struct mapio__wal_entry *ne = segno > wal->fmt.max_segno ? NULL : entry_new(wal);
    if (ne == NULL) {
        int err = segno > wal->fmt.max_segno ? MAPIO_EOVERFLOW : MAPIO_ENOMEM;
        atomic_store(&wal->pub_failed, 1);
        pthread_mutex_unlock(&wal->lock_pub);
        mapio__wal_fail(wal, err);
        op->result = err;
        inbox_push(wal, op);
        return true;
    }
    ne->segno = segno;
    ne->vbase = op->v;
    ne->prev = e;
    ne->seg = find_seg(wal, segno);
    /* Usable at once when its segment is ready and e is: the common case,
     * the spare made ahead. */
    bool active = ne->seg != NULL && ne->seg->state == MAPIO__WAL_SEG_READY &&
                  atomic_load(&e->park) == PARK_ACTIVE;
    atomic_store(&ne->park, active ? PARK_ACTIVE : PARK_EMPTY);
    e->next = ne;
    /* e maps [vbase, op->v); +1 for the PAD (or its absence) below. */
    atomic_store(&e->expected, off + 1);
    atomic_store(&wal->latest, ne);
    pthread_mutex_unlock(&wal->lock_pub);
    kick(wal); /* the next spare, and ne if it is not active */

    uint64_t left = room(wal) - off;
    if (left >= MAPIO__WAL_FRAME_HDR) {
        struct mapio__wal_op *pad = &e->pad;
        pad->owner = op;
        pad->result = 0;
        pad->soft = 0;
        pad->retry = 0;
        pad->lsn = mapio__wal_first_lsn(&wal->fmt, e->segno) + off;
        uint64_t wm = atomic_load_explicit(&wal->durable, memory_order_acquire);
        int64_t r =
            mapio__wal_encode_pad(&wal->fmt, e->pad_frame,
                                  MAPIO__MAX(wal->fmt.align, MAPIO__WAL_FRAME_HDR), pad->lsn, wm);
        op->parts = 2;
        atomic_store(&e->pad_busy, 1);
        if (r < 0) {
            pad->result = r;
            mapio__wal_fail(wal, (int)r);
            register_in(e, 1);
            inbox_push(wal, pad);
        } else {
            pad->len = (uint64_t)r;
            park_or_submit(wal, e, pad, 1);
        }
    } else {
        register_in(e, 1); /* 8 to 24 bytes left: they stay zero */
    }
    in_entry(wal, op, ne, 0, recs, n);
    return true;
}

/* Reserve op's bytes and send its frame on its way. */
static void place(struct mapio_wal *wal, struct mapio__wal_op *op, const mapio_iovec_t *recs,
                  unsigned n)
{
    op->v = atomic_fetch_add(&wal->vpos, op->s);
    if (op->kind == MAPIO__WAL_OP_SYNC) {
        inbox_push(wal, op); /* it only waits for what came before it */
        return;
    }
    uint64_t u = room(wal);
    for (;;) {
        /* A reset maps positions from some point on anew: until it has
         * published, a position cannot be placed. */
        while (atomic_load(&wal->barrier))
            mapio__wal_yield();
        struct mapio__wal_entry *latest = atomic_load(&wal->latest), *e = latest;
        while (e->vbase > op->v)
            e = e->prev;
        uint64_t off = op->v - e->vbase;
        if (e != latest || off + op->s <= u) {
            in_entry(wal, op, e, off, recs, n);
            return;
        }
        if (off <= u) {
            if (cross(wal, op, e, off, recs, n))
                return;
            continue;
        }
        /* Past the crosser, which has not published yet. */
        if (atomic_load(&wal->pub_failed)) {
            op->result = atomic_load(&wal->sticky);
            inbox_push(wal, op);
            return;
        }
        mapio__wal_yield();
    }
}

/* ---- appending ------------------------------------------------------------------------ */

int mapio_wal_append(mapio_wal_t *wal, mapio_wal_req_t *req, const mapio_iovec_t *records,
                     unsigned n, mapio_wal_cb_t cb)
{
    if (wal == NULL || req == NULL || cb == NULL || (records == NULL && n > 0) ||
        n > wal->max_records)
        return MAPIO_EINVAL;
    for (unsigned i = 0; i < n; i++)
        if (records[i].iov_base == NULL && records[i].iov_len > 0)
            return MAPIO_EFAULT;
    uint64_t size = 0;
    if (n > 0) {
        uint64_t payload = mapio__wal_batch_payload(records, n);
        size = payload == UINT64_MAX ? 0 : mapio__wal_frame_size(&wal->fmt, payload);
        if (size == 0)
            return MAPIO_EFBIG;
    }
    if (atomic_load(&wal->closing))
        return MAPIO_ECANCELED;
    if (atomic_load(&wal->sticky) != 0)
        return MAPIO_EIO;
    struct wal_req_priv *rp = rpriv(req);
    if (atomic_load(&rp->state) == WAL_REQ_BUSY)
        return MAPIO_EBUSY;
    if (atomic_fetch_add(&wal->inflight, 1) >= wal->max_inflight) {
        atomic_fetch_sub(&wal->inflight, 1);
        return MAPIO_EAGAIN;
    }
    struct mapio__wal_op *op =
        op_alloc(wal, size, n > 0 ? MAPIO__WAL_OP_BATCH : MAPIO__WAL_OP_SYNC);
    if (op == NULL) {
        atomic_fetch_sub(&wal->inflight, 1);
        return MAPIO_ENOMEM;
    }
    if (atomic_exchange(&wal->kick_lost, 0))
        kick(wal);
    op->user = req;
    req->cb = cb;
    req->result = 0;
    req->lsn = 0;
    req->end_lsn = 0;
    req->wal = wal;
    rp->op = op;
    atomic_store(&rp->state, WAL_REQ_BUSY);
    atomic_fetch_add_explicit(&wal->appends, 1, memory_order_relaxed);
    place(wal, op, records, n);
    return 0;
}

void mapio__wal_mark(struct mapio_wal *wal, bool closing)
{
    uint64_t size = mapio__wal_frame_size(&wal->fmt, 0);
    /* The closing mark also zeroes the frame header after it: past the end
     * of a recycled segment lie its old bytes, which recovery could only
     * call a torn tail (and ABSOLUTE refuse). Nothing is appended after
     * it, so no frame can be overwritten; an idle mark cannot do this. */
    uint64_t zeros = closing ? MAPIO__MAX(wal->fmt.align, MAPIO__WAL_FRAME_HDR) : 0;
    struct mapio__wal_op *op = op_alloc(wal, size + zeros, MAPIO__WAL_OP_MARK);
    if (op == NULL)
        return; /* it only adds protection: without it nothing is lost */
    memset(op->frame + size, 0, (size_t)zeros);
    op->s = size; /* the reservation: the zeros are not the log's */
    atomic_fetch_add(&wal->marks, 1);
    place(wal, op, NULL, 0);
}

/* ---- acknowledgement (polling thread) ---------------------------------------------------- */

static void deliver(struct mapio_wal *wal, struct mapio__wal_op *op)
{
    int64_t res = op->result;
    if (wal->poison)
        res = res < 0 ? res : MAPIO_EIO;
    else if (res < 0 && !op->soft) {
        wal->poison = true; /* a hole at op: nothing after it can be recovered */
        /* The error the log reports: the first in LSN order. sticky is the
         * first one anyone saw, which can be a consequence (an appender's
         * commit refused with EIO by the file's failed sync, before the
         * failed batch's own callback ran). */
        atomic_store(&wal->cause, (int)res);
    }
    if (res == 0 && op->kind != MAPIO__WAL_OP_SYNC) {
        atomic_store_explicit(&wal->durable, op->end_lsn, memory_order_release);
        wal->last_is_mark = op->kind == MAPIO__WAL_OP_MARK;
    }
    if (op->kind == MAPIO__WAL_OP_MARK) {
        atomic_fetch_sub(&wal->marks, 1);
        op_free(wal, op);
        return;
    }
    mapio_wal_req_t *req = op->user;
    req->result = res;
    if (op->kind == MAPIO__WAL_OP_SYNC)
        req->lsn = atomic_load(&wal->durable);
    else if (res == 0)
        atomic_fetch_add_explicit(&wal->acked, 1, memory_order_relaxed);
    op_free(wal, op);
    struct wal_req_priv *rp = rpriv(req);
    rp->op = NULL;
    atomic_store(&rp->state, 0);
    atomic_fetch_sub(&wal->inflight, 1);
    req->cb(req);
}

/* Sorted by position; at one position a barrier (no bytes) goes first:
 * it waits only for what was reserved before it. */
static bool goes_before(const struct mapio__wal_op *a, const struct mapio__wal_op *b)
{
    return a->v < b->v || (a->v == b->v && a->s == 0 && b->s != 0);
}

static void frontier_insert(struct mapio_wal *wal, struct mapio__wal_op *op)
{
    /* Completions come nearly in order: search from the tail. */
    struct mapio__wal_op *p = wal->done_tail;
    while (p != NULL && goes_before(op, p))
        p = p->prev;
    op->prev = p;
    op->next = p != NULL ? p->next : wal->done_head;
    if (op->next != NULL)
        op->next->prev = op;
    else
        wal->done_tail = op;
    if (p != NULL)
        p->next = op;
    else
        wal->done_head = op;
}

static void frontier_advance(struct mapio_wal *wal)
{
    struct mapio__wal_op *op;
    while ((op = wal->done_head) != NULL) {
        if (op->s == 0 ? op->v > wal->done_v : op->v != wal->done_v)
            break;
        wal->done_head = op->next;
        if (op->next != NULL)
            op->next->prev = NULL;
        else
            wal->done_tail = NULL;
        if (op->s != 0)
            wal->done_v = op->v + op->s; /* a barrier may come after the prefix passed it */
        deliver(wal, op);
    }
}

static void part_done(struct mapio_wal *wal, struct mapio__wal_op *op)
{
    if (op->kind == MAPIO__WAL_OP_PAD) {
        /* The crosser's thread may still be writing its own fields: the
         * PAD's outcome waits in fields only this thread writes. */
        struct mapio__wal_op *owner = op->owner;
        owner->pad_result = op->result;
        owner->pad_soft = op->soft;
        /* The entry holding the PAD may go now. */
        struct mapio__wal_entry *e = MAPIO__CONTAINER_OF(op, struct mapio__wal_entry, pad);
        atomic_store(&e->pad_busy, 0);
        op = owner;
    }
    if (--op->parts != 0)
        return;
    if (op->pad_result < 0 && (op->result >= 0 || op->soft)) {
        op->result = op->pad_result;
        op->soft = op->pad_soft;
    }
    frontier_insert(wal, op);
    frontier_advance(wal);
}

static void commit_cb(mapio_req_t *req)
{
    struct mapio__wal_op *op = req->data;
    struct mapio_wal *wal = op->wal;
    atomic_fetch_sub(&op->seg->refs, 1);
    if (req->result < 0) {
        /* A failed write or sync: the frame may be lost although later ones
         * are not. Its waiters get the error; the log fails. */
        op->result = req->result;
        op->soft = 0;
        mapio__wal_fail(wal, (int)req->result);
    }
    part_done(wal, op);
    mapio__wal_tick(wal);
}

/* ---- entries: activation, death, resets (polling thread, lock_pub held) ------------------ */

struct oplist {
    struct mapio__wal_op *head, *tail;
};

static void oplist_add(struct oplist *l, struct mapio__wal_op *op)
{
    op->link = NULL;
    if (l->tail != NULL)
        l->tail->link = op;
    else
        l->head = op;
    l->tail = op;
}

/* The ops parked on an entry, oldest first. */
static void take_parked(uintptr_t p, struct oplist *l, void (*each)(struct mapio__wal_op *, void *),
                        void *arg)
{
    if (p == PARK_EMPTY || p == PARK_ACTIVE || p == PARK_DEAD)
        return;
    struct mapio__wal_op *rev = NULL, *op = (struct mapio__wal_op *)p;
    while (op != NULL) {
        struct mapio__wal_op *next = op->link;
        op->link = rev;
        rev = op;
        op = next;
    }
    while (rev != NULL) {
        struct mapio__wal_op *next = rev->link;
        each(rev, arg);
        oplist_add(l, rev);
        rev = next;
    }
}

struct kill_arg {
    int err;
    bool soft;
};

static void kill_each(struct mapio__wal_op *op, void *arg)
{
    const struct kill_arg *k = arg;
    op->result = k->err;
    op->soft = k->soft;
}

static void kill_entry(struct mapio__wal_entry *e, int err, bool soft, struct oplist *failed)
{
    e->err = err;
    e->soft = soft;
    uintptr_t p = atomic_exchange(&e->park, PARK_DEAD);
    struct kill_arg k = { err, soft };
    take_parked(p, failed, kill_each, &k);
}

static void activate_each(struct mapio__wal_op *op, void *arg)
{
    struct mapio__wal_seg *seg = arg;
    atomic_fetch_add(&seg->refs, 1);
    op->seg = seg;
}

static void activate_entry(struct mapio__wal_entry *e, struct oplist *go)
{
    uintptr_t p = atomic_exchange(&e->park, PARK_ACTIVE);
    take_parked(p, go, activate_each, e->seg);
}

/*
 * e's segment cannot be made for now (err: transient). Kill e and every
 * entry after it, and map what is reserved from now on onto e's segment
 * again, by a new entry at the position one atomic add reads: every
 * reservation is before it (and dies) or after it (and lives).
 */
static void reset_at(struct mapio_wal *wal, struct mapio__wal_entry *e, int err,
                     struct oplist *failed)
{
    atomic_store(&wal->barrier, 1);
    uint64_t x = atomic_fetch_add(&wal->vpos, 0);
    struct mapio__wal_entry *latest = atomic_load(&wal->latest);
    struct mapio__wal_entry *m = entry_new(wal);
    if (m == NULL) {
        atomic_store(&wal->pub_failed, 1);
        atomic_store(&wal->barrier, 0);
        mapio__wal_fail(wal, MAPIO_ENOMEM);
        for (struct mapio__wal_entry *x2 = e; x2 != NULL; x2 = x2->next)
            kill_entry(x2, MAPIO_ENOMEM, false, failed);
        wal->resolved = latest;
        return;
    }
    m->segno = e->segno;
    m->vbase = x;
    m->reset_start = true;
    m->prev = latest;
    for (struct mapio__wal_entry *d = e; d != NULL; d = d->next)
        kill_entry(d, err, true, failed);
    latest->next = m;
    atomic_store(&latest->expected, x - latest->vbase);
    atomic_store(&wal->latest, m);
    atomic_store(&wal->barrier, 0);
    wal->resolved = latest;
}

/* Resolve entries in order: each becomes ACTIVE (its segment is ready and
 * the one before is ACTIVE) or DEAD. Collects what to submit and to fail. */
static void resolve(struct mapio_wal *wal, struct oplist *go, struct oplist *failed)
{
    for (;;) {
        struct mapio__wal_entry *prev = wal->resolved, *e = prev->next;
        if (e == NULL)
            return;
        uintptr_t p = atomic_load(&e->park);
        if (p == PARK_ACTIVE || p == PARK_DEAD) {
            wal->resolved = e;
            continue;
        }
        int sticky = atomic_load(&wal->sticky);
        if (sticky != 0) {
            kill_entry(e, sticky, false, failed);
            wal->resolved = e;
            continue;
        }
        if (!e->reset_start && atomic_load(&prev->park) == PARK_DEAD) {
            kill_entry(e, prev->err, prev->soft, failed);
            wal->resolved = e;
            continue;
        }
        if (e->seg == NULL) {
            e->seg = find_seg(wal, e->segno);
            if (e->seg == NULL) {
                e->seg = mapio__wal_seg_new(wal, e->segno, MAPIO__WAL_SEG_NEW);
                if (e->seg == NULL) {
                    reset_at(wal, e, MAPIO_ENOMEM, failed);
                    continue;
                }
                mapio__wal_seg_insert(wal, e->seg);
            }
        }
        struct mapio__wal_seg *seg = e->seg;
        if (seg->state == MAPIO__WAL_SEG_READY) {
            activate_entry(e, go);
            wal->resolved = e;
            continue;
        }
        if (seg->state == MAPIO__WAL_SEG_FAILED) {
            int err = seg->err;
            e->seg = NULL;
            if (transient(err)) {
                reset_at(wal, e, err, failed);
            } else {
                mapio__wal_fail(wal, err);
                kill_entry(e, err, false, failed);
                wal->resolved = e;
            }
            continue;
        }
        return; /* NEW or CREATING: a job makes it */
    }
}

/* Entries nobody can reach any more: every reservation in them has
 * registered, and they are resolved and not the newest. */
static void free_entries(struct mapio_wal *wal)
{
    while (wal->oldest != wal->resolved) {
        struct mapio__wal_entry *e = wal->oldest;
        if (atomic_load(&e->registered) != atomic_load(&e->expected) || atomic_load(&e->pad_busy))
            return;
        wal->oldest = e->next;
        entry_free(wal, e);
    }
}

/* Is seg still named by a live entry? (lock_pub held) */
static bool seg_in_use(struct mapio_wal *wal, const struct mapio__wal_seg *seg)
{
    for (struct mapio__wal_entry *e = wal->oldest; e != NULL; e = e->next)
        if (e->seg == seg)
            return true;
    return false;
}

/* ---- jobs: one lifecycle chain at a time (polling thread) --------------------------------- */

enum {
    C_POOL_RENAME,
    C_OPEN,
    C_ALLOC,
    C_TRUNCATE,
    C_ZERO,
    C_HEADER,
    C_SYNC,
    C_RENAME,
    C_RENAME_PLAIN,
    C_SYNC_DIR,
    C_DONE,
    C_ERR_CLOSE,
    C_ERR_UNLINK,
    C_FAILED,
};

static void create_cb(mapio_req_t *req);

static void names(const struct mapio__wal_seg *seg, char *final, char *tmp)
{
    mapio__wal_name(final, seg->segno, ".wal");
    mapio__wal_name(tmp, seg->segno, ".wal.tmp");
}

/*
 * The zeros a new segment is written with before its header. fallocate
 * alone leaves unwritten extents on ext4 and XFS: the first write of each
 * block then changes metadata, and the fdatasync of every append commits
 * the journal (measured: a lone appender at half the rate of group commit
 * overwriting a zero-filled file). Written once, in the background, the
 * segment takes appends as plain overwrites, as PostgreSQL fills its WAL
 * segments. Aligned for O_DIRECT; made on first use.
 */
static const void *zeros(struct mapio_wal *wal)
{
    if (wal->zeros == NULL) {
        wal->zeros = mapio_alloc_aligned(MAPIO__WAL_ZERO_CHUNK, 4096);
        if (wal->zeros != NULL)
            memset(wal->zeros, 0, MAPIO__WAL_ZERO_CHUNK);
    }
    return wal->zeros;
}

/* Submit step seg->step. Returns 0, or the error that ends it at once. */
static int create_submit(struct mapio__wal_seg *seg)
{
    struct mapio_wal *wal = seg->wal;
    char final[MAPIO__WAL_NAME_MAX], tmp[MAPIO__WAL_NAME_MAX], pool[MAPIO__WAL_NAME_MAX];
    names(seg, final, tmp);
    /* The engine needs the paths until the callback: they live in the
     * segment while it is made (only one is made at a time). */
    char *p1 = wal->job_old, *p2 = wal->job_new;
    mapio_req_t *r = &seg->req;
    r->data = seg;
    unsigned direct = wal->fmt.block_size != 0 ? MAPIO_OPEN_DIRECT : 0;
    switch (seg->step) {
    case C_POOL_RENAME:
        mapio__wal_name(pool, seg->pool_no, ".wal.free");
        memcpy(p1, pool, sizeof pool);
        memcpy(p2, tmp, sizeof tmp);
        return mapio_rename(wal->eng, r, &wal->dir, p1, &wal->dir, p2, 0, create_cb);
    case C_OPEN:
        memcpy(p1, tmp, sizeof tmp);
        return mapio_file_open(
            &seg->file, wal->eng, r, &wal->dir, p1, 0,
            (seg->from_pool ? MAPIO_OPEN_NO_CREATE : MAPIO_OPEN_TRUNCATE) | direct, create_cb);
    case C_ALLOC:
        return mapio_fallocate(&seg->file, r, 0, wal->fmt.seg_size, 0, create_cb);
    case C_TRUNCATE:
        return mapio_file_truncate(&seg->file, r, wal->fmt.seg_size, create_cb);
    case C_ZERO: {
        uint64_t n = MAPIO__MIN(wal->fmt.seg_size - seg->zeroed, MAPIO__WAL_ZERO_CHUNK);
        return mapio_write_at(&seg->file, r, wal->zeros, (size_t)n, seg->zeroed, create_cb);
    }
    case C_HEADER: {
        mapio__wal_seghdr_t h = { wal->fmt.log_id, seg->segno, wal->fmt.seg_size,
                                  wal->fmt.block_size };
        int err = mapio__wal_seghdr_encode(seg->blk, &h);
        if (err != 0)
            return err;
        return mapio_write_at(&seg->file, r, seg->blk, MAPIO__WAL_SEGHDR_SIZE, 0, create_cb);
    }
    case C_SYNC:
        return mapio_sync_data(&seg->file, r, create_cb);
    case C_RENAME:
    case C_RENAME_PLAIN:
        memcpy(p1, tmp, sizeof tmp);
        memcpy(p2, final, sizeof final);
        return mapio_rename(wal->eng, r, &wal->dir, p1, &wal->dir, p2,
                            seg->step == C_RENAME ? MAPIO_RENAME_NOREPLACE : 0, create_cb);
    case C_SYNC_DIR:
        return mapio_sync_dir(wal->eng, r, &wal->dir, NULL, create_cb);
    case C_ERR_CLOSE:
        return mapio_file_close(&seg->file, r, create_cb);
    case C_ERR_UNLINK:
        /* Renamed already (a failed directory sync): the final name goes. */
        memcpy(p1, seg->renamed ? final : tmp, sizeof tmp);
        return mapio_unlink(wal->eng, r, &wal->dir, p1, 0, create_cb);
    }
    return MAPIO_EINVAL;
}

/* The step that follows st when it succeeded. */
static int create_after(int st)
{
    switch (st) {
    case C_POOL_RENAME:
        return C_OPEN;
    case C_ALLOC:
    case C_TRUNCATE:
        return C_ZERO;
    case C_RENAME:
    case C_RENAME_PLAIN:
        return C_SYNC_DIR;
    default:
        return st + 1;
    }
}

/* The step seg->step finished with res: on to the next. */
static void create_next(struct mapio__wal_seg *seg, int64_t res)
{
    struct mapio_wal *wal = seg->wal;
    for (;;) {
        int st = seg->step;
        if (st == C_ERR_CLOSE) {
            seg->file_open = false;
            seg->step = C_ERR_UNLINK;
        } else if (st == C_ERR_UNLINK) {
            seg->step = C_FAILED;
        } else if (res < 0 && st == C_ALLOC && (res == MAPIO_ENOTSUP || res == MAPIO_EINVAL)) {
            seg->step = C_TRUNCATE; /* no preallocation here: at least the size */
        } else if (res < 0 && st == C_RENAME && (res == MAPIO_ENOTSUP || res == MAPIO_EINVAL)) {
            /* No renameat2 flags here; the directory is ours (locked), so
             * nothing else can have taken the name. */
            seg->step = C_RENAME_PLAIN;
        } else if (res < 0) {
            seg->err = (int)res;
            if (!transient(seg->err))
                mapio__wal_fail(wal, seg->err);
            /* Leave no file behind that a later try would trip over (a
             * pool file that could not be renamed keeps its name). */
            seg->step = seg->file_open        ? C_ERR_CLOSE
                        : st == C_POOL_RENAME ? C_FAILED
                                              : C_ERR_UNLINK;
        } else {
            if (st == C_OPEN)
                seg->file_open = true;
            if (st == C_RENAME || st == C_RENAME_PLAIN)
                seg->renamed = true;
            if (st == C_ZERO)
                seg->zeroed += (uint64_t)res;
            seg->step = st == C_ZERO && seg->zeroed < wal->fmt.seg_size ? C_ZERO : create_after(st);
            /* A recycled file is written all over already; without the
             * buffer of zeros (no memory) the segment stays as allocated. */
            if (seg->step == C_ZERO && (seg->from_pool || zeros(wal) == NULL))
                seg->step = C_HEADER;
        }
        if (seg->step == C_DONE || seg->step == C_FAILED) {
            pthread_mutex_lock(&wal->lock_pub);
            seg->state = seg->step == C_DONE ? MAPIO__WAL_SEG_READY : MAPIO__WAL_SEG_FAILED;
            if (seg->step == C_FAILED && seg->err == 0)
                seg->err = MAPIO_EIO;
            pthread_mutex_unlock(&wal->lock_pub);
            wal->job = MAPIO__WAL_JOB_NONE;
            wal->job_seg = NULL;
            return;
        }
        int err = create_submit(seg);
        if (err == 0)
            return;
        res = err;
    }
}

static void create_cb(mapio_req_t *req)
{
    struct mapio__wal_seg *seg = req->data;
    struct mapio_wal *wal = seg->wal;
    create_next(seg, req->result);
    wal->dirty = true;
    mapio__wal_tick(wal);
}

void mapio__wal_create(struct mapio_wal *wal, struct mapio__wal_seg *seg)
{
    pthread_mutex_lock(&wal->lock_pub);
    seg->state = MAPIO__WAL_SEG_CREATING;
    seg->err = 0;
    if (wal->recycle && wal->npool > 0) {
        seg->from_pool = true;
        seg->pool_no = wal->pool[--wal->npool];
    }
    pthread_mutex_unlock(&wal->lock_pub);
    wal->job = MAPIO__WAL_JOB_CREATE;
    wal->job_seg = seg;
    seg->step = seg->from_pool ? C_POOL_RENAME : C_OPEN;
    seg->zeroed = 0;
    int err = create_submit(seg);
    if (err != 0)
        create_next(seg, err);
}

static void close_cb(mapio_req_t *req)
{
    struct mapio__wal_seg *seg = req->data;
    struct mapio_wal *wal = seg->wal;
    pthread_mutex_lock(&wal->lock_pub);
    seg->file_open = false;
    seg->state = MAPIO__WAL_SEG_OLD;
    pthread_mutex_unlock(&wal->lock_pub);
    wal->job = MAPIO__WAL_JOB_NONE;
    wal->dirty = true;
    mapio__wal_tick(wal);
}

/* ---- truncation ----------------------------------------------------------------------- */

enum { T_CLOSE, T_REMOVE, T_SYNC_DIR };

static void trunc_cb(mapio_req_t *req);

static void trunc_finish(struct mapio_wal *wal)
{
    mapio_wal_req_t *r = wal->trunc_doing;
    wal->trunc_doing = NULL;
    wal->job = MAPIO__WAL_JOB_NONE;
    while (r != NULL) {
        struct wal_req_priv *rp = rpriv(r);
        mapio_wal_req_t *next = rp->next;
        rp->next = NULL;
        r->result = wal->trunc_err;
        atomic_store(&rp->state, 0);
        atomic_fetch_sub(&wal->inflight, 1);
        r->cb(r);
        r = next;
    }
}

/* Submit the next step of the truncation job; 0 or the error of one that
 * could not start. */
static int trunc_submit(struct mapio_wal *wal)
{
    struct mapio__wal_seg *seg = wal->trunc_list;
    mapio_req_t *r = &wal->trunc_req;
    r->data = wal;
    if (seg == NULL) {
        wal->trunc_step = T_SYNC_DIR;
        return mapio_sync_dir(wal->eng, r, &wal->dir, NULL, trunc_cb);
    }
    if (seg->file_open) {
        wal->trunc_step = T_CLOSE;
        return mapio_file_close(&seg->file, r, trunc_cb);
    }
    wal->trunc_step = T_REMOVE;
    mapio__wal_name(wal->job_old, seg->segno, ".wal");
    if (wal->recycle && wal->npool < wal->spares) {
        mapio__wal_name(wal->job_new, seg->segno, ".wal.free");
        wal->trunc_to_pool = true;
        return mapio_rename(wal->eng, r, &wal->dir, wal->job_old, &wal->dir, wal->job_new, 0,
                            trunc_cb);
    }
    wal->trunc_to_pool = false;
    return mapio_unlink(wal->eng, r, &wal->dir, wal->job_old, 0, trunc_cb);
}

static void trunc_next(struct mapio_wal *wal, int64_t res)
{
    for (;;) {
        struct mapio__wal_seg *seg = wal->trunc_list;
        if (wal->trunc_step == T_SYNC_DIR) {
            if (res < 0) {
                /* The names may come back after a crash: harmless to the
                 * log, but the directory no longer tells what is durable. */
                mapio__wal_fail(wal, (int)res);
                if (wal->trunc_err == 0)
                    wal->trunc_err = (int)res;
            }
            trunc_finish(wal);
            return;
        }
        if (wal->trunc_step == T_CLOSE) {
            seg->file_open = false;
        } else {
            if (res == 0 && wal->trunc_to_pool) {
                pthread_mutex_lock(&wal->lock_pub);
                if (wal->npool < wal->cap_pool)
                    wal->pool[wal->npool++] = seg->segno;
                pthread_mutex_unlock(&wal->lock_pub);
            } else if (res < 0 && res != MAPIO_ENOENT && wal->trunc_err == 0) {
                wal->trunc_err = (int)res;
            }
            wal->trunc_list = seg->next;
            mapio__wal_seg_free(seg);
        }
        int err = trunc_submit(wal);
        if (err == 0)
            return;
        res = err;
    }
}

static void trunc_cb(mapio_req_t *req)
{
    struct mapio_wal *wal = req->data;
    trunc_next(wal, req->result);
    wal->dirty = true;
    mapio__wal_tick(wal);
}

/* Start removing what the pending truncations allow. */
static void trunc_start(struct mapio_wal *wal)
{
    uint64_t cut = mapio__wal_segno(&wal->fmt, wal->trunc_lsn);
    uint64_t durable = atomic_load(&wal->durable);
    cut = MAPIO__MIN(cut, mapio__wal_segno(&wal->fmt, durable));
    /* Under lock_iter throughout: an iterator being made either pins its
     * segment before the cut is taken or sees the new first_lsn. */
    pthread_mutex_lock(&wal->lock_iter);
    for (struct mapio_wal_iter *it = wal->iters; it != NULL; it = it->next_iter)
        cut = MAPIO__MIN(cut, atomic_load(&it->pin));
    pthread_mutex_lock(&wal->lock_pub);
    struct mapio__wal_seg **tail = &wal->trunc_list, **link = &wal->segs;
    while (*link != NULL && (*link)->segno < cut) {
        struct mapio__wal_seg *s = *link;
        bool idle = s->state == MAPIO__WAL_SEG_OLD ||
                    (s->state == MAPIO__WAL_SEG_READY && atomic_load(&s->refs) == 0);
        if (!idle || seg_in_use(wal, s))
            break; /* in order: what is left goes at a later call */
        *link = s->next;
        s->next = NULL;
        *tail = s;
        tail = &s->next;
    }
    uint64_t first = *link != NULL ? (*link)->segno : cut;
    if (wal->trunc_list != NULL && first > wal->first_segno) {
        wal->first_segno = first;
        uint64_t fl = mapio__wal_first_lsn(&wal->fmt, first);
        if (fl > atomic_load(&wal->first_lsn))
            atomic_store(&wal->first_lsn, fl);
    }
    pthread_mutex_unlock(&wal->lock_pub);
    pthread_mutex_unlock(&wal->lock_iter);
    wal->trunc_doing = wal->trunc_head;
    wal->trunc_head = wal->trunc_tail = NULL;
    wal->trunc_err = 0;
    wal->job = MAPIO__WAL_JOB_TRUNCATE;
    if (wal->trunc_list == NULL) {
        trunc_finish(wal); /* nothing to remove (now) */
        return;
    }
    int err = trunc_submit(wal);
    if (err != 0)
        trunc_next(wal, err);
}

int mapio_wal_truncate_before(mapio_wal_t *wal, mapio_wal_req_t *req, uint64_t lsn,
                              mapio_wal_cb_t cb)
{
    if (wal == NULL || req == NULL || cb == NULL)
        return MAPIO_EINVAL;
    if (atomic_load(&wal->closing))
        return MAPIO_ECANCELED;
    if (atomic_load(&wal->sticky) != 0)
        return MAPIO_EIO;
    struct wal_req_priv *rp = rpriv(req);
    if (atomic_load(&rp->state) == WAL_REQ_BUSY)
        return MAPIO_EBUSY;
    struct mapio__wal_op *op = op_alloc(wal, 0, MAPIO__WAL_OP_SYNC);
    if (op == NULL)
        return MAPIO_ENOMEM;
    req->cb = cb;
    req->result = 0;
    req->lsn = lsn;
    req->end_lsn = 0;
    req->wal = wal;
    atomic_store(&rp->state, WAL_REQ_BUSY);
    rp->op = NULL;
    rp->next = NULL;
    atomic_fetch_add(&wal->inflight, 1);
    /* Through the inbox as a request with no position. */
    op->user = req;
    op->retry = 2;
    inbox_push(wal, op);
    return 0;
}

/* ---- the tick ------------------------------------------------------------------------- */

static void timer_cb(mapio_req_t *req)
{
    struct mapio_wal *wal = req->data;
    wal->timer_armed = false;
    if (req->result == 0 && !atomic_load(&wal->closing) && atomic_load(&wal->inflight) == 0 &&
        atomic_load(&wal->appends) == wal->timer_appends && !wal->last_is_mark &&
        atomic_load(&wal->marks) == 0 && atomic_load(&wal->sticky) == 0)
        mapio__wal_mark(wal, false);
    wal->dirty = true;
    mapio__wal_tick(wal);
}

static void drain_inbox(struct mapio_wal *wal)
{
    struct mapio__wal_op *op = atomic_exchange_explicit(&wal->inbox, NULL, memory_order_acquire);
    struct mapio__wal_op *rev = NULL;
    while (op != NULL) {
        struct mapio__wal_op *next = op->link;
        op->link = rev;
        rev = op;
        op = next;
    }
    while (rev != NULL) {
        op = rev;
        rev = rev->link;
        if (op->retry == 2) {
            /* A truncation request. */
            mapio_wal_req_t *req = op->user;
            op_free(wal, op);
            if (req->lsn > wal->trunc_lsn)
                wal->trunc_lsn = req->lsn;
            if (wal->trunc_tail != NULL)
                rpriv(wal->trunc_tail)->next = req;
            else
                wal->trunc_head = req;
            wal->trunc_tail = req;
            wal->dirty = true;
        } else if (op->retry == 1) {
            op->link = wal->retry;
            wal->retry = op;
        } else {
            part_done(wal, op);
        }
    }
}

static void retry_submissions(struct mapio_wal *wal)
{
    struct mapio__wal_op *op = wal->retry;
    wal->retry = NULL;
    while (op != NULL) {
        struct mapio__wal_op *next = op->link;
        op->retry = 0;
        submit(wal, op); /* refused again: back through the inbox */
        op = next;
    }
}

/* The next job, if none runs. */
static void jobs(struct mapio_wal *wal)
{
    if (wal->job != MAPIO__WAL_JOB_NONE)
        return;
    bool closing = atomic_load(&wal->closing) != 0;
    if (wal->trunc_head != NULL) {
        trunc_start(wal);
        return;
    }
    if (atomic_load(&wal->sticky) != 0)
        return;
    pthread_mutex_lock(&wal->lock_pub);
    struct mapio__wal_seg *todo = NULL;
    int job = MAPIO__WAL_JOB_NONE;
    /* A segment an entry waits for. */
    struct mapio__wal_entry *e = wal->resolved->next;
    if (e != NULL && e->seg != NULL && e->seg->state == MAPIO__WAL_SEG_NEW &&
        atomic_load(&e->park) != PARK_EMPTY) {
        todo = e->seg;
        job = MAPIO__WAL_JOB_CREATE;
    }
    /* Spares ahead of the newest entry, unless the last try found no
     * room and the log has not moved on since. */
    struct mapio__wal_entry *latest = atomic_load(&wal->latest);
    if (job == MAPIO__WAL_JOB_NONE && !closing && latest->segno != wal->spare_backoff) {
        uint64_t want = latest->segno + 1;
        unsigned have = 0;
        for (struct mapio__wal_seg *s = wal->segs; s != NULL; s = s->next) {
            if (s->segno <= latest->segno || s->state == MAPIO__WAL_SEG_FAILED)
                continue;
            if (s->segno == want)
                want++;
            have++;
        }
        if (have < wal->spares && want <= wal->fmt.max_segno) {
            todo = mapio__wal_seg_new(wal, want, MAPIO__WAL_SEG_NEW);
            if (todo != NULL) {
                mapio__wal_seg_insert(wal, todo);
                job = MAPIO__WAL_JOB_CREATE;
            }
        }
    }
    /* Files of segments the writer has left. */
    if (job == MAPIO__WAL_JOB_NONE) {
        for (struct mapio__wal_seg *s = wal->segs; s != NULL && s->segno < latest->segno;
             s = s->next) {
            if (s->state == MAPIO__WAL_SEG_READY && s->file_open && atomic_load(&s->refs) == 0 &&
                !seg_in_use(wal, s)) {
                s->state = MAPIO__WAL_SEG_CLOSING;
                todo = s;
                job = MAPIO__WAL_JOB_CLOSE;
                break;
            }
        }
    }
    /* Failed spares go (the entry's own are handled by resolve). */
    for (struct mapio__wal_seg **link = &wal->segs; *link != NULL;) {
        struct mapio__wal_seg *s = *link;
        if (s->state == MAPIO__WAL_SEG_FAILED && !seg_in_use(wal, s)) {
            *link = s->next;
            wal->spare_backoff = latest->segno;
            mapio__wal_seg_free(s);
        } else {
            link = &s->next;
        }
    }
    pthread_mutex_unlock(&wal->lock_pub);
    if (job == MAPIO__WAL_JOB_CREATE) {
        mapio__wal_create(wal, todo);
    } else if (job == MAPIO__WAL_JOB_CLOSE) {
        wal->job = MAPIO__WAL_JOB_CLOSE;
        todo->req.data = todo;
        if (mapio_file_close(&todo->file, &todo->req, close_cb) != 0) {
            pthread_mutex_lock(&wal->lock_pub);
            todo->state = MAPIO__WAL_SEG_READY;
            pthread_mutex_unlock(&wal->lock_pub);
            wal->job = MAPIO__WAL_JOB_NONE;
        }
    }
}

static void idle(struct mapio_wal *wal)
{
    if (atomic_load_explicit(&wal->inflight, memory_order_relaxed) != 0 || wal->last_is_mark ||
        (wal->flags & MAPIO_WAL_NO_IDLE_MARK) || wal->timer_armed ||
        atomic_load(&wal->marks) != 0 || atomic_load(&wal->closing) ||
        atomic_load(&wal->sticky) != 0 || atomic_load(&wal->inflight) != 0)
        return;
    wal->timer_appends = atomic_load(&wal->appends);
    wal->timer_req.data = wal;
    if (mapio_timer(wal->eng, &wal->timer_req, wal->idle_ns, timer_cb) == 0)
        wal->timer_armed = true;
}

void mapio__wal_tick(struct mapio_wal *wal)
{
    if (wal->in_tick || !wal->ready)
        return; /* (not ready: mapio_wal_new is still making the log) */
    wal->in_tick = true;
    if (atomic_load_explicit(&wal->kick_lost, memory_order_relaxed))
        atomic_store(&wal->kick_lost, 0);
    if (atomic_load_explicit(&wal->inbox, memory_order_relaxed) != NULL)
        drain_inbox(wal);
    if (wal->retry != NULL)
        retry_submissions(wal);
    /* Most ticks follow a completed append and change nothing else: the
     * entries and the jobs are looked at when something happened to them
     * (a new entry, a job's step, a kick, a failure). */
    struct mapio__wal_entry *latest = atomic_load(&wal->latest);
    bool dirty = wal->dirty || latest != wal->seen_latest ||
                 atomic_load_explicit(&wal->sticky, memory_order_relaxed) != wal->seen_sticky;
    if (!dirty) {
        idle(wal);
        wal->in_tick = false;
        mapio__wal_wake(wal);
        return;
    }
    wal->dirty = false;
    wal->seen_latest = latest;
    wal->seen_sticky = atomic_load(&wal->sticky);
    struct oplist go = { NULL, NULL }, failed = { NULL, NULL };
    pthread_mutex_lock(&wal->lock_pub);
    resolve(wal, &go, &failed);
    free_entries(wal);
    pthread_mutex_unlock(&wal->lock_pub);
    for (struct mapio__wal_op *op = go.head, *next; op != NULL; op = next) {
        next = op->link;
        submit(wal, op);
    }
    for (struct mapio__wal_op *op = failed.head, *next; op != NULL; op = next) {
        next = op->link;
        part_done(wal, op);
    }
    jobs(wal);
    idle(wal);
    wal->in_tick = false;
    mapio__wal_wake(wal);
}

/* ---- information, teardown ---------------------------------------------------------------- */

uint64_t mapio__wal_pin_min(struct mapio_wal *wal)
{
    uint64_t m = UINT64_MAX;
    pthread_mutex_lock(&wal->lock_iter);
    for (struct mapio_wal_iter *it = wal->iters; it != NULL; it = it->next_iter)
        m = MAPIO__MIN(m, atomic_load(&it->pin));
    pthread_mutex_unlock(&wal->lock_iter);
    return m;
}

int mapio_wal_info(const mapio_wal_t *cwal, mapio_wal_info_t *out)
{
    if (cwal == NULL || out == NULL)
        return MAPIO_EINVAL;
    mapio_wal_t *wal = (mapio_wal_t *)cwal; /* the locks; nothing is changed */
    *out = wal->rec;
    out->log_id = wal->fmt.log_id;
    out->segment_size = wal->fmt.seg_size;
    out->block_size = wal->fmt.block_size;
    out->durable_lsn = atomic_load(&wal->durable);
    out->first_lsn = atomic_load(&wal->first_lsn);
    out->appended = atomic_load(&wal->acked);
    out->error = mapio__wal_error(wal);
    pthread_mutex_lock(&wal->lock_pub);
    struct mapio__wal_entry *latest = atomic_load(&wal->latest);
    uint32_t segs = 0, spares = 0;
    for (struct mapio__wal_seg *s = wal->segs; s != NULL; s = s->next) {
        if (s->segno <= latest->segno && s->state != MAPIO__WAL_SEG_FAILED)
            segs++;
        else if (s->state == MAPIO__WAL_SEG_READY)
            spares++;
    }
    out->segments = segs;
    out->spares = spares;
    out->recycle = wal->npool;
    pthread_mutex_unlock(&wal->lock_pub);
    return 0;
}

void mapio__wal_release(struct mapio_wal *wal)
{
    for (struct mapio__wal_entry *e = wal->oldest, *next; e != NULL; e = next) {
        next = e->next;
        entry_free(wal, e);
    }
    wal->oldest = wal->resolved = NULL;
    for (struct mapio__wal_op *op = wal->done_head, *next; op != NULL; op = next) {
        next = op->next;
        op_free(wal, op);
    }
    wal->done_head = wal->done_tail = NULL;
    for (struct mapio__wal_seg *s = wal->segs, *next; s != NULL; s = next) {
        next = s->next;
        mapio__wal_seg_free(s);
    }
    wal->segs = NULL;
}
