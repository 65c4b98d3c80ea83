/*
 * engine/commit.c - the delayed data-sync loop (group commit) and sticky
 * sync errors.
 *
 * A commit request first writes its merged batch (as op COMMIT, one piece at
 * a time, through the backend like any write). When the last piece has
 * completed, the request joins its file's "next" list. A file has at most one
 * group sync in flight; when none runs, the next list's waiters become the
 * "current" ones and one fdatasync is submitted for them. Because a waiter
 * joins only after its writes completed, and the sync is submitted only after
 * that, every sync that acknowledges a commit started after the commit's
 * writes completed. (On io_uring this is how the fsync is ordered after the
 * writes: it is submitted after their completions, not linked to them.)
 * Waiters that arrive while a sync runs wait for the next one, which starts
 * the moment the current one ends - never after an idle timer - unless the
 * user asked for a commit_delay_us.
 *
 * Everything here runs on the polling thread.
 *
 * Sticky errors: after a failed fdatasync Linux may have dropped the dirty
 * pages and a retry can "succeed" with the data gone (PostgreSQL's fsyncgate).
 * So the first failure is remembered on the file: every waiter of that sync
 * gets the error, every waiter of a later one and every later sync gets
 * MAPIO_EIO, until the file is closed and reopened.
 */
#include "internal.h"

int64_t mapio__sync_result(struct mapio__fstate *fs, int64_t res)
{
    if (res < 0 && res != MAPIO_ECANCELED) {
        int none = 0;
        atomic_compare_exchange_strong(&fs->sticky, &none, (int)res);
        return res;
    }
    if (res >= 0 && atomic_load(&fs->sticky) != 0)
        return MAPIO_EIO;
    return res;
}

static void fail_list(mapio_req_t *head, int64_t err)
{
    while (head != NULL) {
        mapio_req_t *r = head;
        head = mapio__rp(r)->next;
        mapio__finish(r, err);
    }
}

static void disarm(mapio_engine_t *eng, struct mapio__fstate *fs)
{
    if (!fs->gc.timer_armed)
        return;
    struct mapio__fstate **link = &eng->gc_timers;
    while (*link != fs)
        link = &(*link)->gc.timer_next;
    *link = fs->gc.timer_next;
    fs->gc.timer_armed = false;
}

static void sync_done(mapio_req_t *sreq);

static void start_sync(struct mapio__fstate *fs)
{
    mapio_engine_t *eng = fs->eng;
    struct mapio__gc *gc = &fs->gc;
    disarm(eng, fs);
    uint64_t now = mapio__os.now_ns();
    MAPIO__COUNT1(&fs->counters, sync_background_loops, 1);
    MAPIO__COUNT1(&eng->counters, sync_background_loops, 1);
    MAPIO__COUNT1(&fs->counters, sync_longest_delay_us, (now - gc->next_first_ns) / 1000);
    MAPIO__COUNT1(&eng->counters, sync_longest_delay_us, (now - gc->next_first_ns) / 1000);
    MAPIO__COUNT1(&fs->counters, sync_shortest_delay_us, (now - gc->next_last_ns) / 1000);
    MAPIO__COUNT1(&eng->counters, sync_shortest_delay_us, (now - gc->next_last_ns) / 1000);
    gc->cur_head = gc->next_head;
    gc->next_head = gc->next_tail = NULL;
    gc->next_count = 0;
    gc->syncing = true;

    /* The file stays open while its sync runs: the waiters hold references,
     * so one more cannot race with the last close. */
    atomic_fetch_add(&mapio__fp(fs->handle)->refs, 1);
    mapio_req_t *s = &fs->sync_req;
    s->op = MAPIO_OP_FDATASYNC;
    s->cb = sync_done;
    s->data = fs;
    s->file = fs->handle;
    s->offset = 0;
    s->buf = NULL;
    s->len = 0;
    s->iov = NULL;
    s->iovcnt = 0;
    s->flags = 0;
    mapio__rp(s)->fs = fs;
    mapio__engine_submit_internal(eng, s);
}

static void maybe_start(struct mapio__fstate *fs, bool now_anyway)
{
    mapio_engine_t *eng = fs->eng;
    struct mapio__gc *gc = &fs->gc;
    if (gc->syncing || gc->next_head == NULL)
        return;
    unsigned delay = eng->opts.commit_delay_us, batch = eng->opts.commit_max_batch;
    if (now_anyway || delay == 0 || (batch != 0 && gc->next_count >= batch) ||
        atomic_load_explicit(&eng->shutdown, memory_order_relaxed)) {
        start_sync(fs);
        return;
    }
    if (!gc->timer_armed) {
        gc->deadline_ns = gc->next_first_ns + (uint64_t)delay * 1000u;
        gc->timer_armed = true;
        gc->timer_next = eng->gc_timers;
        eng->gc_timers = fs;
    }
}

static void sync_done(mapio_req_t *sreq)
{
    struct mapio__fstate *fs = sreq->data;
    struct mapio__gc *gc = &fs->gc;
    int64_t res = sreq->result; /* already through mapio__sync_result */
    mapio_req_t *cur = gc->cur_head;
    gc->cur_head = NULL;
    gc->syncing = false;
    fail_list(cur, res < 0 ? res : 0);
    if (res < 0 && res != MAPIO_ECANCELED) {
        /* Those that came after a failed sync cannot be made durable either. */
        mapio_req_t *next = gc->next_head;
        gc->next_head = gc->next_tail = NULL;
        gc->next_count = 0;
        disarm(fs->eng, fs);
        fail_list(next, MAPIO_EIO);
        return;
    }
    maybe_start(fs, false);
}

void mapio__commit_written(mapio_req_t *req, int64_t res)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    struct mapio__fstate *fs = rp->fs;
    if (res < 0) {
        mapio__finish(req, res);
        return;
    }
    if (atomic_load(&fs->sticky) != 0) {
        mapio__finish(req, MAPIO_EIO);
        return;
    }
    struct mapio__gc *gc = &fs->gc;
    uint64_t now = mapio__os.now_ns();
    atomic_store_explicit(&rp->state, MAPIO__REQ_SYNCWAIT, memory_order_relaxed);
    rp->next = NULL;
    if (gc->next_tail != NULL)
        mapio__rp(gc->next_tail)->next = req;
    else {
        gc->next_head = req;
        gc->next_first_ns = now;
    }
    gc->next_tail = req;
    gc->next_last_ns = now;
    gc->next_count++;
    MAPIO__COUNT1(&fs->counters, sync_delayed, req->iovcnt);
    MAPIO__COUNT1(&fs->eng->counters, sync_delayed, req->iovcnt);
    maybe_start(fs, false);
}

void mapio__commit_try_fuse(mapio_req_t *req)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    struct mapio__fstate *fs = rp->fs;
    mapio_engine_t *eng = fs->eng;
    struct mapio__gc *gc = &fs->gc;
    struct mapio__span more;
    rp->fused = 0;
    /* Only a fresh, single-piece batch on an idle group, with no delay asked
     * for and no fault hooks (they must see the sync start after the write). */
    if (rp->done != 0 || rp->commit_pieces != 0 || rp->span.len == 0 || gc->syncing ||
        gc->next_head != NULL || gc->timer_armed || eng->opts.commit_delay_us != 0 ||
        eng->has_faults || atomic_load(&fs->sticky) != 0 ||
        mapio__merge_next(req->buf, req->iovcnt, rp->span.offset + rp->span.len, &more))
        return;
    rp->fused = 1;
    rp->fused_write_seen = rp->fused_sync_seen = 0;
    gc->syncing = true;
}

void mapio__commit_unfuse(mapio_req_t *req)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    rp->fused = 0;
    rp->fs->gc.syncing = false;
    maybe_start(rp->fs, false);
}

void mapio__commit_fused_done(mapio_req_t *req, int64_t wres, int64_t sres)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    struct mapio__fstate *fs = rp->fs;
    mapio_engine_t *eng = fs->eng;
    rp->fused = 0;
    fs->gc.syncing = false;
    if (wres < 0) {
        mapio__finish(req, wres); /* the sync never ran: the link was broken */
        maybe_start(fs, false);
        return;
    }
    if (sres == MAPIO_ECANCELED) {
        /* The write is in the file but its sync was cut short (the cancel
         * of everything at shutdown): the group's own sync covers it. */
        mapio__commit_written(req, 0);
        return;
    }
    MAPIO__COUNT1(&fs->counters, sync_background_loops, 1);
    MAPIO__COUNT1(&eng->counters, sync_background_loops, 1);
    MAPIO__COUNT1(&fs->counters, sync_delayed, req->iovcnt);
    MAPIO__COUNT1(&eng->counters, sync_delayed, req->iovcnt);
    uint64_t ns = mapio__os.now_ns() - rp->start_ns, us = ns / 1000;
    mapio__lat_record(&eng->lat.sync, ns, true);
    if (fs->lats != NULL)
        mapio__lat_record(&fs->lats->sync, ns, false);
    MAPIO__COUNT1(&fs->counters, sync, 1);
    MAPIO__COUNT1(&eng->counters, sync, 1);
    MAPIO__COUNT1(&fs->counters, sync_us, us);
    MAPIO__COUNT1(&eng->counters, sync_us, us);
    sres = mapio__sync_result(fs, sres);
    mapio__finish(req, sres < 0 ? sres : 0);
    if (sres < 0 && sres != MAPIO_ECANCELED) {
        mapio_req_t *next = fs->gc.next_head;
        fs->gc.next_head = fs->gc.next_tail = NULL;
        fs->gc.next_count = 0;
        disarm(eng, fs);
        fail_list(next, MAPIO_EIO);
        return;
    }
    maybe_start(fs, false);
}

int mapio__commit_timers(mapio_engine_t *eng, bool flush_all)
{
    if (eng->gc_timers == NULL)
        return -1;
    uint64_t now = mapio__os.now_ns(), next = UINT64_MAX;
    struct mapio__fstate *fs = eng->gc_timers;
    while (fs != NULL) {
        struct mapio__fstate *following = fs->gc.timer_next;
        if (flush_all || fs->gc.deadline_ns <= now)
            maybe_start(fs, true);
        else if (fs->gc.deadline_ns < next)
            next = fs->gc.deadline_ns;
        fs = following;
    }
    if (next == UINT64_MAX)
        return -1;
    return (int)MAPIO__MIN((next - now + 999999u) / 1000000u, (uint64_t)INT32_MAX);
}
