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
#include "commit.h"
#include "file.h"
#include "os.h"

static void fail_list(struct mapio__ctx *ctx, mapio_req_t *head, int64_t err)
{
    while (head != NULL) {
        mapio_req_t *r = head;
        head = mapio__rp(r)->next;
        mapio__req_finish(&ctx->done, r, err);
    }
}

static void disarm(struct mapio__ctx *ctx, struct mapio__fstate *fs)
{
    if (!fs->gc.timer_armed)
        return;
    struct mapio__fstate **link = &ctx->gc_timers;
    while (*link != fs)
        link = &(*link)->gc.timer_next;
    *link = fs->gc.timer_next;
    fs->gc.timer_armed = false;
}

static void sync_done(mapio_req_t *sreq);

/* Count into the file's and the engine's polling-thread sets. */
#define COUNT_BOTH(fs, field, n)                                                                   \
    do {                                                                                           \
        MAPIO__COUNT1(&(fs)->counters, field, n);                                                  \
        MAPIO__COUNT1(&(fs)->ctx->counters, field, n);                                             \
    } while (0)

static void start_sync(struct mapio__fstate *fs)
{
    struct mapio__ctx *ctx = fs->ctx;
    struct mapio__gc *gc = &fs->gc;
    disarm(ctx, fs);
    uint64_t now = mapio__os.now_ns();
    COUNT_BOTH(fs, sync_background_loops, 1);
    COUNT_BOTH(fs, sync_longest_delay_us, (now - gc->next_first_ns) / 1000);
    COUNT_BOTH(fs, sync_shortest_delay_us, (now - gc->next_last_ns) / 1000);
    gc->cur_head = gc->next_head;
    gc->next_head = gc->next_tail = NULL;
    gc->next_count = 0;
    gc->syncing = true;

    /* The file stays open while its sync runs: the waiters hold references,
     * so one more cannot race with the last close. */
    mapio__file_ref(fs);
    mapio_req_t *s = &fs->sync_req;
    mapio__req_fill(s, MAPIO_OP_FDATASYNC, fs->handle, NULL, 0, NULL, 0, 0, 0, sync_done);
    s->data = fs;
    mapio__rp(s)->fs = fs;
    /* Straight into the backlog: this runs on the polling thread, which
     * hands the backlog to the backend before it next waits. The engine's
     * own request is in flight like any (shutdown waits for it) but never
     * refused for it. */
    mapio__req_reset(s, fs->eng, ctx, true, false, 0, now);
    atomic_fetch_add(&ctx->inflight, 1);
    mapio__reqq_push(&ctx->backlog, s);
}

static void maybe_start(struct mapio__fstate *fs, bool now_anyway)
{
    struct mapio__ctx *ctx = fs->ctx;
    struct mapio__gc *gc = &fs->gc;
    if (gc->syncing || gc->next_head == NULL)
        return;
    unsigned delay = ctx->commit_delay_us, batch = ctx->commit_max_batch;
    if (now_anyway || delay == 0 || (batch != 0 && gc->next_count >= batch) ||
        atomic_load_explicit(&ctx->shutdown, memory_order_relaxed)) {
        start_sync(fs);
        return;
    }
    if (!gc->timer_armed) {
        gc->deadline_ns = gc->next_first_ns + (uint64_t)delay * 1000u;
        gc->timer_armed = true;
        gc->timer_next = ctx->gc_timers;
        ctx->gc_timers = fs;
    }
}

/* Those that came after a failed sync cannot be made durable either. */
static void fail_next(struct mapio__fstate *fs)
{
    mapio_req_t *next = fs->gc.next_head;
    fs->gc.next_head = fs->gc.next_tail = NULL;
    fs->gc.next_count = 0;
    disarm(fs->ctx, fs);
    fail_list(fs->ctx, next, MAPIO_EIO);
}

static void sync_done(mapio_req_t *sreq)
{
    struct mapio__fstate *fs = sreq->data;
    struct mapio__gc *gc = &fs->gc;
    int64_t res = sreq->result; /* already through the sticky rule */
    mapio_req_t *cur = gc->cur_head;
    gc->cur_head = NULL;
    gc->syncing = false;
    fail_list(fs->ctx, cur, res < 0 ? res : 0);
    if (res < 0 && res != MAPIO_ECANCELED) {
        fail_next(fs);
        return;
    }
    maybe_start(fs, false);
}

/* A commit's writes are all done (res >= 0) or one failed: wait for a sync
 * or finish with the error. */
static void written(mapio_req_t *req, int64_t res)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    struct mapio__fstate *fs = rp->fs;
    if (res < 0 || atomic_load(&fs->sticky) != 0) {
        mapio__req_finish(&fs->ctx->done, req, res < 0 ? res : MAPIO_EIO);
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
    COUNT_BOTH(fs, sync_delayed, req->iovcnt);
    maybe_start(fs, false);
}

void mapio__commit_piece_done(mapio_req_t *req, int64_t res)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    struct mapio__fstate *fs = rp->fs;
    /* One piece of the merged batch at a time; then the group sync. */
    if (res < 0 || (res == 0 && rp->span.len != 0)) {
        written(req, res == 0 ? MAPIO_EIO : res); /* a write that moves nothing */
        return;
    }
    rp->done += (uint64_t)res;
    rp->started |= res > 0;
    if (rp->done < rp->span.len) {
        COUNT_BOTH(fs, short_io_resumed, 1);
        mapio__req_requeue(&fs->ctx->backlog, req);
        return;
    }
    uint64_t next_from = rp->span.offset + rp->span.len;
    rp->commit_bytes += rp->span.len;
    rp->commit_pieces += rp->span.len != 0;
    if (rp->span.len != 0 && mapio__merge_next(req->buf, req->iovcnt, next_from, &rp->span)) {
        rp->done = 0;
        mapio__req_requeue(&fs->ctx->backlog, req);
        return;
    }
    written(req, 0);
}

void mapio__commit_try_fuse(mapio_req_t *req)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    struct mapio__fstate *fs = rp->fs;
    struct mapio__gc *gc = &fs->gc;
    struct mapio__span more;
    rp->fused = 0;
    /* Only a fresh, single-piece batch on an idle group, with no delay asked
     * for and no fault hooks (they must see the sync start after the write). */
    if (rp->done != 0 || rp->commit_pieces != 0 || rp->span.len == 0 || gc->syncing ||
        gc->next_head != NULL || gc->timer_armed || fs->ctx->commit_delay_us != 0 ||
        fs->ctx->faults.on || atomic_load(&fs->sticky) != 0 ||
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

/* A fused commit's write and sync are both back: finish it. */
static void fused_done(mapio_req_t *req, int64_t wres, int64_t sres)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    struct mapio__fstate *fs = rp->fs;
    struct mapio__ctx *ctx = fs->ctx;
    rp->fused = 0;
    fs->gc.syncing = false;
    if (wres < 0) {
        mapio__req_finish(&ctx->done, req, wres); /* the sync never ran: the link was broken */
        maybe_start(fs, false);
        return;
    }
    if (sres == MAPIO_ECANCELED) {
        /* The write is in the file but its sync was cut short (the cancel
         * of everything at shutdown): the group's own sync covers it. */
        written(req, 0);
        return;
    }
    COUNT_BOTH(fs, sync_background_loops, 1);
    COUNT_BOTH(fs, sync_delayed, req->iovcnt);
    uint64_t ns = rp->start_ns != 0 ? mapio__os.now_ns() - rp->start_ns : 0, us = ns / 1000;
    if (rp->start_ns != 0) { /* 0: MAPIO_ENGINE_NO_LATENCY */
        mapio__lat_record(&ctx->lat.sync, ns, true);
        if (fs->lats != NULL)
            mapio__lat_record(&fs->lats->sync, ns, false);
    }
    COUNT_BOTH(fs, sync, 1);
    COUNT_BOTH(fs, sync_us, us);
    sres = mapio__file_sync_result(fs, sres);
    mapio__req_finish(&ctx->done, req, sres < 0 ? sres : 0);
    if (sres < 0 && sres != MAPIO_ECANCELED) {
        fail_next(fs);
        return;
    }
    maybe_start(fs, false);
}

void mapio__commit_whole_done(mapio_req_t *req, int64_t res)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    if (rp->fused)
        fused_done(req, res, rp->fused_sres);
    else
        written(req, res);
}

void mapio__commit_fused_half(mapio_req_t *req, bool is_sync, int64_t res)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    if (is_sync) {
        rp->fused_sres = res;
        rp->fused_sync_seen = 1;
    } else {
        rp->fused_wres = res;
        rp->fused_write_seen = 1;
    }
    if (!rp->fused_sync_seen || !rp->fused_write_seen)
        return;
    int64_t w = rp->fused_wres;
    if (w == MAPIO_EINTR || w == MAPIO_EAGAIN) {
        /* The write is to be retried and the link broke: alone, then the
         * group like any commit. */
        mapio__commit_unfuse(req);
        COUNT_BOTH(rp->fs, retries, 1);
        mapio__req_requeue(&rp->fs->ctx->backlog, req);
        return;
    }
    if (w >= 0 && (uint64_t)w < rp->span.len) {
        mapio__commit_unfuse(req); /* short: the rest alone, then the group */
        mapio__commit_piece_done(req, w);
        return;
    }
    if (w > 0) {
        rp->commit_bytes += (uint64_t)w;
        rp->commit_pieces++;
    }
    fused_done(req, w, rp->fused_sres);
}

int mapio__commit_timers(struct mapio__ctx *ctx, bool flush_all)
{
    if (ctx->gc_timers == NULL)
        return -1;
    uint64_t now = mapio__os.now_ns(), next = UINT64_MAX;
    struct mapio__fstate *fs = ctx->gc_timers;
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
