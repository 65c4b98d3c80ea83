/*
 * engine/engine.c - the request queues, poll, cancel, completion dispatch,
 * the open files and shutdown (creation: setup.c; a file's life:
 * lifecycle.c; the MMapIO copy pool: copypool.c).
 *
 * Queues:
 *   pending  - requests accepted from any thread: a lock-free stack (one CAS
 *              per submission), taken whole by the polling thread.
 *   backlog  - polling thread only: taken from pending, resumed after a
 *              short transfer, or the engine's own (a group's sync), waiting
 *              for the backend to take them.
 *   done     - polling thread only: finished, callbacks not yet run.
 *   cancel   - requests someone asked to cancel (engine lock).
 * Every backend op but wake runs on the polling thread, so backends need no
 * locking of their own beyond what their worker threads share.
 */
#include "commit.h"
#include "engine.h"
#include "os.h"

/* ---- submission (any thread) ----------------------------------------------- */

void mapio__engine_push(mapio_engine_t *eng, mapio_req_t *req)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    mapio_req_t *head = atomic_load_explicit(&eng->pending, memory_order_relaxed);
    do
        rp->next = head;
    while (!atomic_compare_exchange_weak_explicit(&eng->pending, &head, req, memory_order_release,
                                                  memory_order_relaxed));
    /* Pairs with the fence in poll_once(): either the poller sees this request
     * before it sleeps, or this sees it sleeping and wakes it. When the engine
     * fd is embedded in someone else's loop and nobody polls, the first
     * submission makes that fd readable. */
    atomic_thread_fence(memory_order_seq_cst);
    if ((atomic_load_explicit(&eng->sleeping, memory_order_relaxed) ||
         (head == NULL && atomic_load_explicit(&eng->embedded, memory_order_relaxed) &&
          !atomic_load_explicit(&eng->polling, memory_order_relaxed))) &&
        !atomic_exchange(&eng->wake_sent, true))
        MAPIO__BE(eng, wake, eng->be);
}

/* The engine whose callbacks this thread is running (inside its poll), if
 * any: that thread owns the backlog, and needs no stack, fence or wake. */
static _Thread_local mapio_engine_t *tl_polling;

/* What a request is stamped with when it is accepted: now, or 0 when the
 * engine keeps no latencies (MAPIO_ENGINE_NO_LATENCY: no clock read). */
static uint64_t stamp(const mapio_engine_t *eng)
{
    return eng->ctx.no_latency ? 0 : mapio__os.now_ns();
}

/* Reset the engine's part of a request and queue it: straight into the
 * backlog from the engine's own callbacks, stamped with the time their
 * batch was collected (no clock read: a latency then includes the rest of
 * the callback that submitted it, never less than the truth); on the
 * pending stack from anywhere else. */
static void enqueue(mapio_engine_t *eng, mapio_req_t *req, bool carried, int64_t result)
{
    if (tl_polling == eng) {
        mapio__req_reset(req, eng, &eng->ctx, false, carried, result, eng->batch_ns);
        mapio__reqq_push(&eng->ctx.backlog, req);
        return;
    }
    mapio__req_reset(req, eng, &eng->ctx, false, carried, result, stamp(eng));
    mapio__engine_push(eng, req);
}

/* Room for one more accepted request? Counts it if so. */
static int admit(mapio_engine_t *eng)
{
    if (atomic_load_explicit(&eng->ctx.shutdown, memory_order_acquire))
        return MAPIO_ECANCELED;
    uint64_t n = atomic_fetch_add(&eng->ctx.inflight, 1);
    if (n >= eng->opts.max_inflight) {
        atomic_fetch_sub(&eng->ctx.inflight, 1);
        return MAPIO_EAGAIN;
    }
    return 0;
}

int mapio__engine_submit(mapio_engine_t *eng, mapio_req_t *req)
{
    int err = admit(eng);
    if (err == 0)
        enqueue(eng, req, false, 0);
    return err;
}

int mapio__engine_accept(mapio_engine_t *eng, mapio_req_t *req)
{
    int err = admit(eng);
    if (err == 0)
        mapio__req_reset(req, eng, &eng->ctx, false, false, 0, stamp(eng));
    return err;
}

void mapio__engine_unaccept(mapio_engine_t *eng, mapio_req_t *req)
{
    atomic_store(&mapio__rp(req)->state, MAPIO__REQ_DONE);
    atomic_fetch_sub(&eng->ctx.inflight, 1);
}

int mapio__engine_submit_carried(mapio_engine_t *eng, mapio_req_t *req, int64_t result)
{
    int err = admit(eng);
    if (err == 0)
        enqueue(eng, req, true, result);
    return err;
}

int mapio_nop(mapio_engine_t *eng, mapio_req_t *req, mapio_cb_t cb)
{
    if (eng == NULL || req == NULL || cb == NULL)
        return MAPIO_EINVAL;
    int err = mapio__req_check_idle(req);
    if (err != 0)
        return err;
    mapio__req_fill(req, MAPIO_OP_NOP, NULL, NULL, 0, NULL, 0, 0, 0, cb);
    mapio__rp(req)->fs = NULL;
    return mapio__engine_submit(eng, req);
}

/* ---- cancel (any thread) ---------------------------------------------------- */

int mapio_cancel(mapio_req_t *req)
{
    if (req == NULL)
        return MAPIO_EINVAL;
    struct mapio__req_priv *rp = mapio__rp(req);
    /* CARRIED: MMapIO copied it at submission, only the callback is left. */
    uint32_t st = atomic_load(&rp->state);
    if (!mapio__req_state_in_flight(st) || st == MAPIO__REQ_CARRIED)
        return MAPIO_ENOENT;
    mapio_engine_t *eng = mapio__req_eng(rp);
    bool wake = false;
    pthread_mutex_lock(&eng->lock);
    /* Announce first, then look (pairs with the fence in run_done()): either
     * this sees DONE, or the polling thread sees cancels_pending and takes
     * the list before running any callback that could free the request. */
    atomic_store(&eng->cancels_pending, true);
    st = atomic_load(&rp->state);
    if (!mapio__req_state_in_flight(st)) {
        pthread_mutex_unlock(&eng->lock);
        return MAPIO_ENOENT;
    }
    if (mapio__req_eng(rp) != eng) {
        /* Completed and resubmitted to another engine meanwhile: cancel
         * that life, under its own engine's lock. */
        pthread_mutex_unlock(&eng->lock);
        return mapio_cancel(req);
    }
    atomic_store(&rp->cancel, 1);
    if (!rp->cancel_queued) {
        rp->cancel_queued = 1;
        rp->cancel_next = eng->cancel_head;
        eng->cancel_head = req;
        wake = atomic_load(&eng->sleeping) && !atomic_exchange(&eng->wake_sent, true);
    }
    pthread_mutex_unlock(&eng->lock);
    if (wake)
        MAPIO__BE(eng, wake, eng->be);
    return 0;
}

/* ---- completion (polling thread) -------------------------------------------- */

void mapio__engine_finish(mapio_engine_t *eng, mapio_req_t *req, int64_t res)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    if (req->op == MAPIO_OP_OPEN && rp->fs != NULL && res != 0) {
        /* Ended before it finished (cancelled, late, shut down): the file
         * it was filling must read closed again, and free. */
        mapio__engine_open_done(req, res);
        return;
    }
    if (mapio__op_is_sync(req->op) && rp->fs != NULL)
        res = mapio__file_sync_result(rp->fs, res);
    if (res == MAPIO_ECANCELED && rp->timed_out)
        res = MAPIO_ETIMEDOUT; /* the engine cancelled it: its deadline passed */
    mapio__timers_remove(&eng->timers, req);
    mapio__req_finish(&eng->ctx.done, req, res);
}

int mapio__engine_watch_deadline(mapio_engine_t *eng, mapio_req_t *req)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    if (rp->deadline_ns == 0 || rp->timer_slot != MAPIO__NO_SLOT || mapio__req_started(rp))
        return 0;
    return mapio__timers_add(&eng->timers, req);
}

/* A deadline passed and it is still to start: the retry would be late. */
static bool too_late(const struct mapio__req_priv *rp)
{
    return rp->deadline_ns != 0 && !mapio__req_started(rp) && mapio__os.now_ns() >= rp->deadline_ns;
}

void mapio__complete(mapio_req_t *req, int64_t res)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    mapio_engine_t *eng = mapio__req_eng(rp);
    bool started = mapio__req_started(rp);
    if (req->op == MAPIO_OP_CLOSE) {
        mapio__engine_close_done(req, res); /* never retried: the descriptor is gone */
        return;
    }
    if (res == MAPIO_EINTR || res == MAPIO_EAGAIN) {
        /* Invisible to the caller: try again (counted). */
        MAPIO__COUNT1(&eng->ctx.counters, retries, 1);
        if (rp->fs != NULL)
            MAPIO__COUNT1(&rp->fs->counters, retries, 1);
        if (too_late(rp)) {
            res = MAPIO_ETIMEDOUT;
        } else if (!atomic_load_explicit(&eng->ctx.shutdown, memory_order_relaxed) || started) {
            mapio__req_requeue(&eng->ctx.backlog, req);
            return;
        } else {
            res = MAPIO_ECANCELED;
        }
    }
    if (res == MAPIO_ECANCELED && started) {
        /* The kernel stopped a later piece before it began (a cancel sent
         * for everything at shutdown): the earlier ones are in the file, so
         * the request goes on rather than claim it never ran. */
        mapio__req_requeue(&eng->ctx.backlog, req);
        return;
    }
    if (req->op == MAPIO_OP_COMMIT) {
        mapio__commit_piece_done(req, res);
        return;
    }
    if (req->op == MAPIO_OP_OPEN) {
        mapio__engine_open_step(req, res);
        return;
    }
    if (mapio__op_is_transfer(req->op)) {
        bool write = mapio__op_is_write(req->op);
        if (res > 0) {
            rp->done += (uint64_t)res;
            rp->started = 1;
            if (rp->done < req->len) {
                MAPIO__COUNT1(&eng->ctx.counters, short_io_resumed, 1);
                MAPIO__COUNT1(&rp->fs->counters, short_io_resumed, 1);
                /* Started: it runs to its end, even at shutdown. */
                mapio__req_requeue(&eng->ctx.backlog, req);
                return;
            }
            res = (int64_t)rp->done;
        } else if (res == 0) {
            /* End of file for a read; a write that moves nothing is an I/O
             * error rather than a reason to spin. */
            res = write ? MAPIO_EIO : (int64_t)rp->done;
        } else if (!write && rp->done > 0) {
            res = (int64_t)rp->done;
        }
    }
    mapio__engine_finish(eng, req, res);
}

void mapio__complete_whole(mapio_req_t *req, int64_t res)
{
    if (req->op == MAPIO_OP_COMMIT)
        mapio__commit_whole_done(req, res);
    else if (req->op == MAPIO_OP_OPEN)
        mapio__engine_open_done(req, res);
    else if (req->op == MAPIO_OP_CLOSE)
        mapio__engine_close_done(req, res);
    else
        mapio__engine_finish(mapio__req_eng(mapio__rp(req)), req, res);
}

void mapio__complete_work(struct mapio__work *w, bool cancelled)
{
    mapio_req_t *req = mapio__req_of_work(w);
    mapio__complete_whole(req, cancelled ? MAPIO_ECANCELED : req->result);
}

/* ---- the polling thread --------------------------------------------------- */

/* Ask whoever holds r, the backend or the copy pool, to cancel it. */
static void cancel_held(mapio_engine_t *eng, mapio_req_t *r)
{
    if (mapio__rp(r)->on_copy_pool)
        mapio__pool_cancel(atomic_load(&eng->copy_pool), &mapio__rp(r)->work);
    else
        MAPIO__BE(eng, cancel, eng->be, r);
}

/* Act on cancel requests (polling thread). DONE ones are past saving. */
static void take_cancels(mapio_engine_t *eng)
{
    if (!atomic_load(&eng->cancels_pending))
        return;
    pthread_mutex_lock(&eng->lock);
    mapio_req_t *cancels = eng->cancel_head;
    eng->cancel_head = NULL;
    atomic_store(&eng->cancels_pending, false);
    pthread_mutex_unlock(&eng->lock);

    while (cancels != NULL) {
        mapio_req_t *r = cancels;
        struct mapio__req_priv *rp = mapio__rp(r);
        /* Off the list under the lock, one at a time: once cancel_queued is
         * clear another mapio_cancel() may link r into the new list, which
         * rewrites cancel_next. At worst r is then looked at twice. */
        pthread_mutex_lock(&eng->lock);
        cancels = rp->cancel_next;
        rp->cancel_queued = 0;
        pthread_mutex_unlock(&eng->lock);
        /* QUEUED ones are dropped by flush (their cancel flag is set); a
         * started one runs to its end. */
        if (atomic_load(&rp->state) != MAPIO__REQ_BACKEND || mapio__req_started(rp))
            continue;
        if (r->op == MAPIO_OP_TIMER)
            mapio__engine_finish(eng, r, MAPIO_ECANCELED); /* only the engine holds it */
        else if (r->op == MAPIO_OP_CLOSE)
            continue; /* the descriptor is being closed: that completes it */
        else
            cancel_held(eng, r);
    }
}

/* Move pending into the backlog (in submission order) and act on cancels. */
static void take_shared(mapio_engine_t *eng)
{
    atomic_store_explicit(&eng->wake_sent, false, memory_order_relaxed);
    mapio_req_t *stack = atomic_exchange_explicit(&eng->pending, NULL, memory_order_acquire);
    struct mapio__reqq *q = &eng->ctx.backlog;
    mapio_req_t *list = NULL, *last = stack;
    while (stack != NULL) {
        mapio_req_t *next = mapio__rp(stack)->next;
        mapio__rp(stack)->next = list;
        list = stack;
        stack = next;
    }
    if (list != NULL) {
        if (q->tail != NULL)
            mapio__rp(q->tail)->next = list;
        else
            q->head = list;
        q->tail = last;
    }
    take_cancels(eng);
}

/* Take what the backend should not see: carried out already, cancelled
 * or late before it started, a timer, a close with nothing to close, or a
 * copy for the copy pool. True if r is for the backend, now BACKEND. */
static bool for_backend(mapio_engine_t *eng, mapio_req_t *r, struct mapio__copies *copies)
{
    struct mapio__req_priv *rp = mapio__rp(r);
    if (atomic_load_explicit(&rp->state, memory_order_relaxed) == MAPIO__REQ_CARRIED) {
        mapio__engine_finish(eng, r, rp->pre_result); /* done: too late to cancel */
        return false;
    }
    if (atomic_load_explicit(&rp->cancel, memory_order_relaxed) && !mapio__req_started(rp) &&
        r->op != MAPIO_OP_CLOSE) {
        mapio__engine_finish(eng, r, MAPIO_ECANCELED);
        return false;
    }
    if (r->op != MAPIO_OP_TIMER && too_late(rp)) {
        mapio__engine_finish(eng, r, MAPIO_ETIMEDOUT);
        return false;
    }
    if ((r->op == MAPIO_OP_TIMER || (rp->deadline_ns != 0 && rp->timer_slot == MAPIO__NO_SLOT &&
                                     !(eng->ops->caps & MAPIO_CAP_DEADLINES))) &&
        mapio__timers_add(&eng->timers, r) != 0) {
        mapio__engine_finish(eng, r, MAPIO_ENOMEM); /* not started: nothing to undo */
        return false;
    }
    atomic_store_explicit(&rp->state, MAPIO__REQ_BACKEND, memory_order_relaxed);
    if (r->op == MAPIO_OP_TIMER)
        return false;
    if (r->op == MAPIO_OP_CLOSE && rp->step == 0) {
        rp->step = 1; /* detached once, even if the backend asks it again */
        if (!mapio__engine_close_begins(r))
            return false;
    }
    if (copies != NULL && mapio__engine_copy_take(copies, r))
        return false;
    if (r->op == MAPIO_OP_COMMIT)
        mapio__commit_try_fuse(r);
    return true;
}

/* Hand the backlog to the backend in batches. */
static void flush(mapio_engine_t *eng)
{
    mapio_req_t *batch[64];
    struct mapio__reqq *q = &eng->ctx.backlog;
    bool pool = atomic_load_explicit(&eng->copy_pool, memory_order_acquire) != NULL;
    while (q->head != NULL) {
        unsigned n = 0;
        struct mapio__copies copies = { 0 };
        while (n < MAPIO__ARRAY_SIZE(batch) && q->head != NULL) {
            mapio_req_t *r = mapio__reqq_pop(q);
            if (for_backend(eng, r, pool ? &copies : NULL))
                batch[n++] = r;
        }
        mapio__engine_copies_push(eng, &copies);
        if (n == 0)
            continue;
        int took = MAPIO__BE(eng, submit, eng->be, batch, n);
        if (took < 0)
            took = 0;
        if ((unsigned)took < n) {
            /* The backend is full: keep the rest, in order, for the next round. */
            for (unsigned i = n; i-- > (unsigned)took;) {
                if (mapio__req_fused(batch[i]))
                    mapio__commit_unfuse(batch[i]);
                atomic_store_explicit(&mapio__rp(batch[i])->state, MAPIO__REQ_QUEUED,
                                      memory_order_relaxed);
                mapio__reqq_push_front(q, batch[i]);
            }
            break;
        }
    }
}

/* Drop what a finished request held: its file (an open's is the caller's
 * now), the directories its path was relative to. */
static void release_refs(mapio_req_t *r)
{
    struct mapio__req_priv *rp = mapio__rp(r);
    if (rp->fs != NULL)
        mapio__engine_release(rp->fs);
    if (!mapio__op_has_path(r->op))
        return;
    if (rp->dir != NULL)
        mapio__engine_release(rp->dir);
    if (r->op == MAPIO_OP_RENAME && rp->dir2 != NULL)
        mapio__engine_release(rp->dir2);
}

/* Count a finished request into the engine's and its file's metrics. */
static void account(mapio_engine_t *eng, mapio_req_t *r, uint64_t now)
{
    struct mapio__req_priv *rp = mapio__rp(r);
    /* Not stamped (MAPIO_ENGINE_NO_LATENCY): counted, not timed. */
    bool timed = rp->start_ns != 0;
    uint64_t ns = timed ? now - rp->start_ns : 0, us = ns / 1000;
    mapio__account(&eng->ctx.counters, r, us, true);
    if (timed)
        mapio__lat_account(&eng->ctx.lat, r, ns, true);
    if (rp->fs != NULL) {
        mapio__account(&rp->fs->counters, r, us, true);
        if (timed && rp->fs->lats != NULL)
            mapio__lat_account(rp->fs->lats, r, ns, false);
    }
}

/*
 * A callback just queued the backlog's last request: start it now rather
 * than with the batch, if it is device I/O (O_DIRECT). Completions of O_DIRECT reads come back in
 * bursts, and resubmitting the whole burst at the next poll keeps every
 * request of the queue in step: the device then sees its queue full and
 * empty by turns. One submission per request keeps it busy: measured on a
 * virtio disk at QD32, 64-68k/s resubmitting per poll against 82-97k/s for
 * fio submitting each I/O at once (bench/README.md). Buffered I/O, which
 * completes in the submitting call, keeps the batch (fewer system calls).
 */
static void start_device_io(mapio_engine_t *eng)
{
    const struct mapio__fstate *fs = mapio__rp(eng->ctx.backlog.tail)->fs;
    if (fs == NULL || !(fs->flags & MAPIO_OPEN_DIRECT))
        return;
    flush(eng);
    MAPIO__BE(eng, wait, eng->be, 0);
}

/* Run the callbacks of everything finished, including what finishes while
 * they run (a group sync's callback completes its waiters). */
static int run_done(mapio_engine_t *eng)
{
    int n = 0;
    struct mapio__reqq *done = &eng->ctx.done;
    while (done->head != NULL) {
        mapio_req_t *list = done->head;
        done->head = done->tail = NULL;

        /* Mark DONE, then take any cancel list before running a callback that
         * may free its request (pairs with mapio_cancel()). */
        for (mapio_req_t *r = list; r != NULL; r = mapio__rp(r)->next)
            atomic_store_explicit(&mapio__rp(r)->state, MAPIO__REQ_DONE, memory_order_relaxed);
        atomic_thread_fence(memory_order_seq_cst);
        take_cancels(eng);

        uint64_t now = stamp(eng);
        eng->batch_ns = now;
        while (list != NULL) {
            mapio_req_t *r = list;
            struct mapio__req_priv *rp = mapio__rp(r);
            list = rp->next;
            account(eng, r, now);
            release_refs(r);
            atomic_fetch_sub(&eng->ctx.inflight, 1);
            /* After the callback the request is the caller's again (it may be
             * freed or resubmitted): touch nothing of it from here on. */
            n += !rp->internal;
            mapio_req_t *queued = eng->ctx.backlog.tail;
            r->cb(r);
            if (eng->ctx.backlog.tail != queued && eng->ctx.backlog.tail != NULL)
                start_device_io(eng);
        }
    }
    return n;
}

/* Timers that are due complete; requests past their deadline are cancelled
 * (they then say MAPIO_ETIMEDOUT, or their real result if running).
 * Returns ms to the next one, or -1. */
static int expire(mapio_engine_t *eng)
{
    if (eng->timers.n == 0)
        return -1;
    uint64_t now = mapio__os.now_ns();
    mapio_req_t *r;
    while ((r = mapio__timers_due(&eng->timers, now)) != NULL) {
        struct mapio__req_priv *rp = mapio__rp(r);
        if (r->op == MAPIO_OP_TIMER) {
            mapio__engine_finish(eng, r, 0);
            continue;
        }
        rp->timed_out = 1;
        if (!mapio__req_started(rp))
            cancel_held(eng, r);
    }
    uint64_t next = mapio__timers_next(&eng->timers);
    if (next == UINT64_MAX)
        return -1;
    return (int)MAPIO__MIN((next - now + 999999u) / 1000000u, (uint64_t)INT32_MAX);
}

/* The sooner of two waits in ms (-1: forever). */
static int sooner(int a, int b)
{
    return b >= 0 && (a < 0 || b < a) ? b : a;
}

static int poll_once(mapio_engine_t *eng, int timeout_ms)
{
    take_shared(eng);
    flush(eng);
    int t = eng->ctx.done.head != NULL ? 0 : timeout_ms;
    int timer = mapio__commit_timers(&eng->ctx, false);
    t = sooner(sooner(t, timer), expire(eng));
    if (t != 0) {
        /* Pairs with the fence in enqueue(); mapio__engine_wait clears it. */
        atomic_store_explicit(&eng->sleeping, true, memory_order_relaxed);
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&eng->pending, memory_order_relaxed) != NULL ||
            atomic_load_explicit(&eng->cancels_pending, memory_order_relaxed))
            t = 0;
    }
    int r = mapio__engine_wait(eng, t);
    if (timer >= 0)
        mapio__commit_timers(&eng->ctx, false);
    expire(eng);
    return r == MAPIO_EINTR || r == MAPIO_ETIMEDOUT ? 0 : r;
}

/* Embedded in someone else's loop: start what callbacks queued now, so the
 * engine fd turns readable when it finishes instead of never. */
static void kick_embedded(mapio_engine_t *eng)
{
    take_shared(eng);
    if (eng->ctx.backlog.head == NULL)
        return;
    flush(eng);
    MAPIO__BE(eng, wait, eng->be, 0);
    if (eng->ctx.done.head != NULL || eng->ctx.backlog.head != NULL)
        MAPIO__BE(eng, wake, eng->be);
}

int mapio_engine_poll(mapio_engine_t *eng, int timeout_ms)
{
    if (eng == NULL)
        return MAPIO_EINVAL;
    if (atomic_exchange(&eng->polling, true))
        return MAPIO_EBUSY;
    mapio_engine_t *outer = tl_polling; /* a callback of another engine's */
    tl_polling = eng;
    uint64_t deadline = 0;
    if (timeout_ms > 0)
        deadline = mapio__os.now_ns() + (uint64_t)timeout_ms * 1000000u;
    int total = 0, err = 0;
    for (int round = 0;; round++) {
        err = poll_once(eng, timeout_ms);
        total += run_done(eng);
        if (err < 0 || total > 0)
            break;
        if (timeout_ms == 0) {
            /* Resumed transfers may need a few rounds; don't spin forever. */
            if (eng->ctx.backlog.head == NULL || round >= 4)
                break;
            continue;
        }
        if (timeout_ms > 0) {
            uint64_t now = mapio__os.now_ns();
            if (now >= deadline)
                break;
            timeout_ms = (int)MAPIO__MAX((deadline - now) / 1000000u, 1u);
        }
    }
    if (err == 0 && atomic_load_explicit(&eng->embedded, memory_order_relaxed))
        kick_embedded(eng);
    tl_polling = outer;
    atomic_store(&eng->polling, false);
    return err < 0 ? err : total;
}

int mapio_engine_run(mapio_engine_t *eng)
{
    if (eng == NULL)
        return MAPIO_EINVAL;
    /* Inside a callback, or beside another poller, even with nothing in
     * flight: the same answer mapio_engine_poll() gives. */
    if (atomic_load(&eng->polling))
        return MAPIO_EBUSY;
    int total = 0;
    while (atomic_load(&eng->ctx.inflight) > 0) {
        int n = mapio_engine_poll(eng, -1);
        if (n < 0)
            return n;
        total += n;
    }
    return total;
}

/* ---- shutdown ---------------------------------------------------------------- */

/* Cancel what the backend has not seen, except the engine's own syncs and
 * requests already partly in the file. */
static void cancel_backlog(mapio_engine_t *eng)
{
    struct mapio__reqq keep = { 0 };
    mapio_req_t *r;
    while ((r = mapio__reqq_pop(&eng->ctx.backlog)) != NULL) {
        if (mapio__rp(r)->internal || mapio__req_started(mapio__rp(r)))
            mapio__reqq_push(&keep, r);
        else
            mapio__engine_finish(eng, r, MAPIO_ECANCELED);
    }
    eng->ctx.backlog = keep;
}

/* Complete everything in flight: what no backend holds is cancelled, what
 * one holds is asked to cancel, then drained; group syncs still run. */
static void drain(mapio_engine_t *eng)
{
    take_shared(eng);
    cancel_backlog(eng);
    /* Timers end now; deadlines no longer matter (everything is cancelled). */
    mapio_req_t *t;
    while ((t = mapio__timers_due(&eng->timers, UINT64_MAX)) != NULL)
        if (t->op == MAPIO_OP_TIMER)
            mapio__engine_finish(eng, t, MAPIO_ECANCELED);
    MAPIO__BE(eng, cancel, eng->be, NULL);
    struct mapio__pool *pool = atomic_load(&eng->copy_pool);
    if (pool != NULL)
        mapio__pool_cancel(pool, NULL);
    run_done(eng);
    while (atomic_load(&eng->ctx.inflight) > 0) {
        /* Delays are cut short, so committers whose writes are done learn
         * whether they are durable. */
        mapio__commit_timers(&eng->ctx, true);
        take_shared(eng);
        cancel_backlog(eng);
        flush(eng);
        int r = mapio__engine_wait(eng, eng->ctx.done.head == NULL ? 100 : 0);
        run_done(eng);
        if (r < 0 && r != MAPIO_ETIMEDOUT && r != MAPIO_EINTR)
            break;
    }
    if (pool != NULL) {
        mapio__pool_free(pool); /* its queue is empty: nothing more to reap */
        run_done(eng);
    }
}

int mapio_engine_free(mapio_engine_t *eng)
{
    if (eng == NULL)
        return 0;
    /* From a callback (or beside a poller) the engine is in use: freeing it
     * would pull it from under the poll that runs the callback. */
    if (atomic_exchange(&eng->polling, true))
        return MAPIO_EBUSY;
    atomic_store_explicit(&eng->ctx.shutdown, true, memory_order_release);
    drain(eng);
    /* Files the caller left open: their open reference goes. */
    pthread_mutex_lock(&eng->lock);
    struct mapio__fstate *fs = eng->files;
    pthread_mutex_unlock(&eng->lock);
    int err = 0;
    while (fs != NULL) {
        pthread_mutex_lock(&eng->lock);
        struct mapio__fstate *next = fs->next;
        pthread_mutex_unlock(&eng->lock);
        int cerr = mapio__file_mark_closed(fs->handle) ? mapio__engine_release(fs) : 0;
        if (err == 0)
            err = cerr;
        fs = next;
    }
    MAPIO__BE(eng, destroy, eng->be);
    mapio__timers_free(&eng->timers);
    mapio__faults_free(&eng->ctx.faults);
    pthread_mutex_destroy(&eng->lock);
    mapio__free(eng->fallback_reason);
    mapio__free(eng);
    return err;
}
