/*
 * engine/engine.c - backend selection, the request queues, poll, cancel and
 * shutdown.
 *
 * Queues:
 *   pending  - requests accepted from any thread: a lock-free stack (one CAS
 *              per submission), taken whole by the polling thread.
 *   backlog  - polling thread only: taken from pending, or resumed after a
 *              short transfer, waiting for the backend to take them.
 *   done     - polling thread only: finished, callbacks not yet run.
 *   cancel   - requests someone asked to cancel (engine lock).
 * A request is QUEUED (pending/backlog), BACKEND (the backend holds it) or
 * DONE. Every backend op but wake runs on the polling thread, so backends
 * need no locking of their own beyond what their worker threads share.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "pool.h"

#define MAPIO__OPS_EXTERN(be) extern const struct mapio__backend_ops mapio__##be##_ops;
MAPIO_BACKEND_LIST(MAPIO__OPS_EXTERN)
#undef MAPIO__OPS_EXTERN

#define MAPIO__OPS_REF(be) &mapio__##be##_ops,
static const struct mapio__backend_ops *const compiled[] = { MAPIO_BACKEND_LIST(MAPIO__OPS_REF) };
#undef MAPIO__OPS_REF

/* ---- small list helpers (singly linked through priv.next) --------------- */

static void list_push(mapio_req_t **head, mapio_req_t **tail, mapio_req_t *r)
{
    mapio__rp(r)->next = NULL;
    if (*tail != NULL)
        mapio__rp(*tail)->next = r;
    else
        *head = r;
    *tail = r;
}

static void list_push_front(mapio_req_t **head, mapio_req_t **tail, mapio_req_t *r)
{
    mapio__rp(r)->next = *head;
    *head = r;
    if (*tail == NULL)
        *tail = r;
}

static mapio_req_t *list_pop(mapio_req_t **head, mapio_req_t **tail)
{
    mapio_req_t *r = *head;
    if (r != NULL) {
        *head = mapio__rp(r)->next;
        if (*head == NULL)
            *tail = NULL;
    }
    return r;
}

/* ---- metrics -------------------------------------------------------------- */

void mapio__counters_read(const struct mapio__counters *a, const struct mapio__counters *b,
                          mapio_metrics_t *out)
{
#define MAPIO__COUNTER_LOAD(name)                                                                  \
    out->name = atomic_load_explicit(&a->name, memory_order_relaxed) +                             \
                atomic_load_explicit(&b->name, memory_order_relaxed);
    MAPIO_COUNTER_MAP(MAPIO__COUNTER_LOAD)
#undef MAPIO__COUNTER_LOAD
}

int mapio_engine_metrics(const mapio_engine_t *eng, mapio_metrics_t *out)
{
    if (eng == NULL || out == NULL)
        return MAPIO_EINVAL;
    memset(out, 0, sizeof *out);
    mapio__counters_read(&eng->counters, &eng->counters_mt, out);
    mapio__lat_read(&eng->lat.read, &eng->lat_mt.read, &out->read_latency);
    mapio__lat_read(&eng->lat.write, &eng->lat_mt.write, &out->write_latency);
    mapio__lat_read(&eng->lat.sync, &eng->lat_mt.sync, &out->sync_latency);
    mapio__lat_read(&eng->lat.commit, &eng->lat_mt.commit, &out->commit_latency);
    out->backend = eng->ops->name;
    out->fallback_reason = eng->fallback_reason;
    return 0;
}

void mapio__account(struct mapio__counters *c, const mapio_req_t *req, uint64_t us,
                    bool single_writer)
{
#define ADD(field, n)                                                                              \
    do {                                                                                           \
        if (single_writer)                                                                         \
            MAPIO__COUNT1(c, field, n);                                                            \
        else                                                                                       \
            MAPIO__COUNT(c, field, n);                                                             \
    } while (0)
    int64_t res = req->result;
    if (res < 0) {
        ADD(errors, 1);
        if (res == MAPIO_ECANCELED)
            ADD(cancelled, 1);
        return;
    }
    switch (req->op) {
    case MAPIO_OP_READ:
    case MAPIO_OP_READV:
        ADD(read, 1);
        ADD(read_bytes, (uint64_t)res);
        ADD(read_us, us);
        break;
    case MAPIO_OP_WRITE:
    case MAPIO_OP_WRITEV:
        ADD(write, 1);
        ADD(write_bytes, (uint64_t)res);
        ADD(write_us, us);
        break;
    case MAPIO_OP_FDATASYNC:
    case MAPIO_OP_FSYNC:
        ADD(sync, 1);
        ADD(sync_us, us);
        break;
    case MAPIO_OP_COMMIT: {
        const struct mapio__req_priv *rp = (const struct mapio__req_priv *)(const void *)&req->priv;
        ADD(commit, 1);
        ADD(write, rp->commit_pieces);
        ADD(write_bytes, rp->commit_bytes);
        break;
    }
    default:
        break;
    }
#undef ADD
}

void mapio__lat_account(struct mapio__lats *l, const mapio_req_t *req, uint64_t ns,
                        bool single_writer)
{
    if (req->result < 0)
        return;
    switch (req->op) {
    case MAPIO_OP_READ:
    case MAPIO_OP_READV:
        mapio__lat_record(&l->read, ns, single_writer);
        break;
    case MAPIO_OP_WRITE:
    case MAPIO_OP_WRITEV:
        mapio__lat_record(&l->write, ns, single_writer);
        break;
    case MAPIO_OP_FDATASYNC:
    case MAPIO_OP_FSYNC:
        mapio__lat_record(&l->sync, ns, single_writer);
        break;
    case MAPIO_OP_COMMIT:
        mapio__lat_record(&l->commit, ns, single_writer);
        break;
    default:
        break;
    }
}

const char *mapio_op_name(mapio_op_t op)
{
    switch (op) {
#define MAPIO__OP_NAME(name, text)                                                                 \
    case MAPIO_OP_##name:                                                                          \
        return text;
        MAPIO_OP_MAP(MAPIO__OP_NAME)
#undef MAPIO__OP_NAME
    default:
        return "unknown";
    }
}

/* ---- creation and selection ------------------------------------------------ */

void mapio__engine_detail(mapio_engine_t *eng, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(eng->init_detail, sizeof eng->init_detail, fmt, ap);
    va_end(ap);
}

void mapio__engine_note(mapio_engine_t *eng, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(eng->init_note, sizeof eng->init_note, fmt, ap);
    va_end(ap);
}

const char *mapio_backends_compiled(void)
{
    return MAPIO_BACKEND_LIST_STR;
}

static const struct mapio__backend_ops *find_backend(const char *name)
{
    for (size_t i = 0; i < MAPIO__ARRAY_SIZE(compiled); i++)
        if (strcmp(compiled[i]->name, name) == 0)
            return compiled[i];
    return NULL;
}

/* Errors that mean "this backend is blocked or too old here" rather than a
 * problem the user must see (ENOMEM from io_uring's memlock limit is reported). */
static bool falls_back(int err)
{
    return err == MAPIO_ENOSYS || err == MAPIO_EPERM || err == MAPIO_EINVAL || err == MAPIO_ENOTSUP;
}

static int set_reason(mapio_engine_t *eng, const char *reason)
{
    eng->fallback_reason = mapio__strdup(reason);
    return eng->fallback_reason != NULL ? 0 : MAPIO_ENOMEM;
}

int mapio_engine_new(mapio_engine_t **out, const mapio_engine_opts_t *opts)
{
    if (out == NULL)
        return MAPIO_EINVAL;
    *out = NULL;
    mapio_engine_opts_t o = { 0 };
    if (opts != NULL)
        o = *opts;
    if (o.max_inflight == 0)
        o.max_inflight = 4096;
    if (o.ring_entries == 0)
        o.ring_entries = 256;
    if (o.workers == 0)
        o.workers = 2;
    if (o.sq_thread_idle_ms == 0)
        o.sq_thread_idle_ms = 1000;
    if (o.workers > 1024 || o.ring_entries > 32768 || o.max_inflight > (1u << 30) ||
        (o.flags & ~(unsigned)(MAPIO_ENGINE_SQPOLL | MAPIO_ENGINE_REGISTER_FILES)))
        return MAPIO_EINVAL;

    const char *forced_by_env = NULL;
    if (o.backend == NULL) {
        forced_by_env = mapio__os_getenv("MAPIO_BACKEND");
        if (forced_by_env != NULL && forced_by_env[0] == '\0')
            forced_by_env = NULL;
    }
    const char *want = o.backend != NULL ? o.backend : forced_by_env;
    if (want != NULL && find_backend(want) == NULL)
        return MAPIO_EINVAL;
    o.backend = NULL; /* the caller's string need not outlive this call */

    mapio_engine_t *eng = mapio__calloc(1, sizeof *eng);
    if (eng == NULL)
        return MAPIO_ENOMEM;
    eng->opts = o;
    if (pthread_mutex_init(&eng->lock, NULL) != 0) {
        mapio__free(eng);
        return MAPIO_ENOMEM;
    }

    int err = MAPIO_ENOSYS;
    const char *first_failed = NULL;
    char first_detail[sizeof eng->init_detail] = "";
    for (size_t i = 0; i < MAPIO__ARRAY_SIZE(compiled); i++) {
        const struct mapio__backend_ops *ops = compiled[i];
        if (want != NULL && strcmp(ops->name, want) != 0)
            continue;
        eng->init_detail[0] = '\0';
        eng->ops = ops;
        err = ops->init(eng, &eng->opts, &eng->be);
        if (err == 0)
            break;
        eng->ops = NULL;
        if (!falls_back(err) || want != NULL)
            break;
        if (first_failed == NULL) {
            first_failed = ops->name;
            snprintf(first_detail, sizeof first_detail, "%s",
                     eng->init_detail[0] ? eng->init_detail : mapio_strerror(err));
        }
    }
    char reason[600] = "";
    if (err == 0 && forced_by_env != NULL && compiled[0] != eng->ops)
        snprintf(reason, sizeof reason, "forced by MAPIO_BACKEND=%s", forced_by_env);
    else if (err == 0 && first_failed != NULL)
        snprintf(reason, sizeof reason, "%s unavailable (%s); fell back to %s", first_failed,
                 first_detail, eng->ops->name);
    if (err == 0 && eng->init_note[0] != '\0') {
        /* A backend that runs, but without part of what it should have. */
        size_t len = strlen(reason);
        snprintf(reason + len, sizeof reason - len, "%s%s", len ? "; " : "", eng->init_note);
    }
    if (err == 0 && reason[0] != '\0')
        err = set_reason(eng, reason);
    if (err != 0) {
        if (eng->ops != NULL)
            eng->ops->destroy(eng->be);
        pthread_mutex_destroy(&eng->lock);
        mapio__free(eng->fallback_reason);
        mapio__free(eng);
        return err;
    }
    *out = eng;
    return 0;
}

const char *mapio_engine_backend(const mapio_engine_t *eng)
{
    return eng != NULL ? eng->ops->name : "none";
}

const char *mapio_engine_fallback_reason(const mapio_engine_t *eng)
{
    return eng != NULL ? eng->fallback_reason : NULL;
}

uint64_t mapio_engine_inflight(const mapio_engine_t *eng)
{
    return eng != NULL ? atomic_load(&eng->inflight) : 0;
}

int mapio_engine_register_buffers(mapio_engine_t *eng, const mapio_iovec_t *iov, unsigned n)
{
    if (eng == NULL || (iov == NULL && n > 0) || n > MAPIO_IOV_MAX)
        return MAPIO_EINVAL;
    if (atomic_load(&eng->inflight) != 0)
        return MAPIO_EBUSY;
    return MAPIO__BE(eng, register_buffers, eng->be, iov, n);
}

int mapio_engine_fd(mapio_engine_t *eng)
{
    if (eng == NULL)
        return MAPIO_EINVAL;
    int fd = MAPIO__BE(eng, fd, eng->be);
    if (fd >= 0) {
        pthread_mutex_lock(&eng->lock);
        atomic_store(&eng->embedded, true);
        struct mapio__pool *pool = atomic_load(&eng->copy_pool);
        if (pool != NULL)
            mapio__pool_always_notify(pool);
        pthread_mutex_unlock(&eng->lock);
    }
    return fd;
}

/* ---- the MMapIO copy pool ------------------------------------------------------ */

/* A copy finished while the poller may sleep in the backend's wait. */
static void copy_pool_notify(void *arg)
{
    mapio_engine_t *eng = arg;
    MAPIO__BE(eng, wake, eng->be);
}

int mapio__engine_copy_pool_start(mapio_engine_t *eng)
{
    if (atomic_load_explicit(&eng->copy_pool, memory_order_acquire) != NULL)
        return 0;
    int err = 0;
    pthread_mutex_lock(&eng->lock);
    if (atomic_load(&eng->copy_pool) == NULL) {
        struct mapio__pool *pool;
        err = mapio__pool_new(&pool, eng->opts.workers, copy_pool_notify, eng);
        if (err == 0) {
            /* An outside loop only learns of completions through the fd. */
            if (atomic_load(&eng->embedded))
                mapio__pool_always_notify(pool);
            atomic_store_explicit(&eng->copy_pool, pool, memory_order_release);
        }
    }
    pthread_mutex_unlock(&eng->lock);
    return err;
}

static bool goes_to_copy_pool(mapio_req_t *req)
{
    const struct mapio__fstate *fs = mapio__rp(req)->fs;
    return fs != NULL && fs->map != NULL && (fs->flags & MAPIO_OPEN_MMAP_ON_POOL) &&
           (req->op == MAPIO_OP_READ || req->op == MAPIO_OP_WRITE || req->op == MAPIO_OP_READV ||
            req->op == MAPIO_OP_WRITEV);
}

/* ---- submission (any thread) ----------------------------------------------- */

/* Reset the engine's part of a request and push it on the pending stack. */
static void enqueue(mapio_engine_t *eng, mapio_req_t *req, bool internal, bool done, int64_t result)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    rp->pre_result = result;
    rp->eng = eng;
    rp->done = 0;
    rp->retries = 0;
    rp->cancel_queued = 0;
    rp->internal = internal;
    rp->span.len = 0;
    rp->span.offset = 0;
    rp->commit_bytes = 0;
    rp->commit_pieces = 0;
    rp->fused = 0;
    rp->on_copy_pool = 0;
    rp->start_ns = mapio__os.now_ns();
    req->result = 0;
    if (req->op == MAPIO_OP_COMMIT && !mapio__merge_next(req->buf, req->iovcnt, 0, &rp->span))
        rp->span.len = 0; /* nothing to write: straight to the sync */
    atomic_store_explicit(&rp->cancel, 0, memory_order_relaxed);
    /* Release: a mapio_cancel() that sees this state also sees rp->eng. */
    atomic_store_explicit(&rp->state, done ? MAPIO__REQ_CARRIED : MAPIO__REQ_QUEUED,
                          memory_order_release);

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

/* Room for one more accepted request? Counts it if so. */
static int admit(mapio_engine_t *eng)
{
    if (atomic_load_explicit(&eng->shutdown, memory_order_acquire))
        return MAPIO_ECANCELED;
    uint64_t n = atomic_fetch_add(&eng->inflight, 1);
    if (n >= eng->opts.max_inflight) {
        atomic_fetch_sub(&eng->inflight, 1);
        return MAPIO_EAGAIN;
    }
    return 0;
}

int mapio__engine_submit(mapio_engine_t *eng, mapio_req_t *req)
{
    int err = admit(eng);
    if (err == 0)
        enqueue(eng, req, false, false, 0);
    return err;
}

int mapio__engine_submit_done(mapio_engine_t *eng, mapio_req_t *req, int64_t result)
{
    int err = admit(eng);
    if (err == 0)
        enqueue(eng, req, false, true, result);
    return err;
}

void mapio__engine_submit_internal(mapio_engine_t *eng, mapio_req_t *req)
{
    atomic_fetch_add(&eng->inflight, 1);
    enqueue(eng, req, true, false, 0);
}

int mapio_nop(mapio_engine_t *eng, mapio_req_t *req, mapio_cb_t cb)
{
    if (eng == NULL || req == NULL || cb == NULL)
        return MAPIO_EINVAL;
    int err = mapio__req_check_idle(req);
    if (err != 0)
        return err;
    req->op = MAPIO_OP_NOP;
    req->cb = cb;
    req->file = NULL;
    req->offset = 0;
    req->buf = NULL;
    req->len = 0;
    req->iov = NULL;
    req->iovcnt = 0;
    req->flags = 0;
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
    mapio_engine_t *eng = rp->eng;
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

static bool is_transfer(mapio_op_t op)
{
    return op == MAPIO_OP_READ || op == MAPIO_OP_WRITE || op == MAPIO_OP_READV ||
           op == MAPIO_OP_WRITEV || op == MAPIO_OP_COMMIT;
}

static bool is_write(mapio_op_t op)
{
    return op == MAPIO_OP_WRITE || op == MAPIO_OP_WRITEV || op == MAPIO_OP_COMMIT;
}

void mapio__finish(mapio_req_t *req, int64_t res)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    if ((req->op == MAPIO_OP_FDATASYNC || req->op == MAPIO_OP_FSYNC) && rp->fs != NULL)
        res = mapio__sync_result(rp->fs, res);
    req->result = res;
    list_push(&rp->eng->done_head, &rp->eng->done_tail, req);
}

static void finish(mapio_engine_t *eng, mapio_req_t *req, int64_t res)
{
    (void)eng;
    mapio__finish(req, res);
}

static void requeue(mapio_engine_t *eng, mapio_req_t *req)
{
    atomic_store_explicit(&mapio__rp(req)->state, MAPIO__REQ_QUEUED, memory_order_relaxed);
    list_push(&eng->backlog_head, &eng->backlog_tail, req);
}

void mapio__complete_whole(mapio_req_t *req, int64_t res)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    if (req->op == MAPIO_OP_COMMIT && rp->fused)
        mapio__commit_fused_done(req, res, rp->fused_sres);
    else if (req->op == MAPIO_OP_COMMIT)
        mapio__commit_written(req, res);
    else
        mapio__finish(req, res);
}

void mapio__complete_fused(mapio_req_t *req, bool is_sync, int64_t res)
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
    if (w == MAPIO_EINTR || w == MAPIO_EAGAIN || (w >= 0 && (uint64_t)w < rp->span.len)) {
        /* A short or retried write broke the link: finish it alone, then
         * join the group like any commit. */
        mapio__commit_unfuse(req);
        mapio__complete(req, w);
        return;
    }
    if (w > 0) {
        rp->commit_bytes += (uint64_t)w;
        rp->commit_pieces++;
    }
    mapio__commit_fused_done(req, w, rp->fused_sres);
}

void mapio__complete(mapio_req_t *req, int64_t res)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    mapio_engine_t *eng = rp->eng;
    bool stopping = atomic_load_explicit(&eng->shutdown, memory_order_relaxed);
    struct mapio__counters *fc = rp->fs != NULL ? &rp->fs->counters : NULL;

    bool started = mapio__req_started(rp);
    if (res == MAPIO_EINTR || res == MAPIO_EAGAIN) {
        /* Invisible to the caller: try again (counted). */
        MAPIO__COUNT1(&eng->counters, retries, 1);
        if (fc != NULL)
            MAPIO__COUNT1(fc, retries, 1);
        if (!stopping || started) {
            requeue(eng, req);
            return;
        }
        res = MAPIO_ECANCELED;
    }
    if (res == MAPIO_ECANCELED && started) {
        /* The kernel stopped a later piece before it began (a cancel sent
         * for everything at shutdown): the earlier ones are in the file, so
         * the request goes on rather than claim it never ran. */
        requeue(eng, req);
        return;
    }
    if (req->op == MAPIO_OP_COMMIT) {
        /* One piece of the merged batch at a time; then the group sync. */
        if (res > 0 || (res == 0 && rp->span.len == 0)) {
            rp->done += (uint64_t)res;
            if (rp->done < rp->span.len) {
                MAPIO__COUNT1(&eng->counters, short_io_resumed, 1);
                MAPIO__COUNT1(fc, short_io_resumed, 1);
                requeue(eng, req);
                return;
            }
            uint64_t next_from = rp->span.offset + rp->span.len;
            rp->commit_bytes += rp->span.len;
            rp->commit_pieces += rp->span.len != 0;
            if (rp->span.len != 0 &&
                mapio__merge_next(req->buf, req->iovcnt, next_from, &rp->span)) {
                rp->done = 0;
                requeue(eng, req);
                return;
            }
            mapio__commit_written(req, 0);
        } else {
            mapio__commit_written(req, res == 0 ? MAPIO_EIO : res);
        }
        return;
    }
    if (is_transfer(req->op)) {
        bool write = is_write(req->op);
        if (res > 0) {
            rp->done += (uint64_t)res;
            if (rp->done < req->len) {
                MAPIO__COUNT1(&eng->counters, short_io_resumed, 1);
                if (fc != NULL)
                    MAPIO__COUNT1(fc, short_io_resumed, 1);
                requeue(eng, req); /* started: it runs to its end, even at shutdown */
                return;
            } else {
                res = (int64_t)rp->done;
            }
        } else if (res == 0) {
            /* End of file for a read; a write that moves nothing is an I/O
             * error rather than a reason to spin. */
            res = write ? MAPIO_EIO : (int64_t)rp->done;
        } else if (!write && rp->done > 0) {
            res = (int64_t)rp->done;
        }
    }
    finish(eng, req, res);
}

void mapio__req_seg(mapio_req_t *req, struct mapio__seg *seg)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    seg->write = is_write(req->op);
    seg->offset = req->offset + rp->done;
    seg->iov = NULL;
    seg->iovcnt = 0;
    if (req->op == MAPIO_OP_COMMIT) {
        seg->vectored = false;
        seg->offset = rp->span.offset + rp->done;
        seg->buf = (void *)(uintptr_t)(rp->span.src + rp->done);
        seg->len = (size_t)MAPIO__MIN(rp->span.len - rp->done, MAPIO__IO_CHUNK);
        return;
    }
    if (req->op == MAPIO_OP_READ || req->op == MAPIO_OP_WRITE) {
        seg->vectored = false;
        seg->buf = (char *)req->buf + rp->done;
        seg->len = MAPIO__MIN(req->len - (size_t)rp->done, MAPIO__IO_CHUNK);
        return;
    }
    if (rp->done == 0) {
        seg->vectored = true;
        seg->iov = req->iov;
        seg->iovcnt = req->iovcnt;
        seg->buf = NULL;
        seg->len = req->len;
        return;
    }
    /* Resumed vector: continue inside the iovec where the transfer stopped. */
    uint64_t skip = rp->done;
    unsigned i = 0;
    while (i < req->iovcnt && skip >= req->iov[i].iov_len)
        skip -= req->iov[i++].iov_len;
    seg->vectored = false;
    if (i == req->iovcnt) {
        seg->buf = NULL;
        seg->len = 0;
        return;
    }
    seg->buf = (char *)req->iov[i].iov_base + skip;
    seg->len = MAPIO__MIN(req->iov[i].iov_len - (size_t)skip, MAPIO__IO_CHUNK);
}

void mapio__req_seg_limit(mapio_req_t *req, uint64_t limit, struct mapio__seg *seg)
{
    mapio__req_seg(req, seg);
    if (seg->vectored && limit < seg->len) {
        /* A shortened vector: its first buffer, or as much of it as allowed. */
        seg->vectored = false;
        seg->buf = seg->iov[0].iov_base;
        seg->len = seg->iov[0].iov_len;
    }
    if (limit < seg->len)
        seg->len = (size_t)limit;
}

/* ---- the polling thread --------------------------------------------------- */

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
        /* Off the list under the lock, one at a time: once cancel_queued is
         * clear another mapio_cancel() may link r into the new list, which
         * rewrites cancel_next. At worst r is then looked at twice. */
        pthread_mutex_lock(&eng->lock);
        cancels = mapio__rp(r)->cancel_next;
        mapio__rp(r)->cancel_queued = 0;
        pthread_mutex_unlock(&eng->lock);
        /* QUEUED ones are dropped by flush (their cancel flag is set); a
         * started one runs to its end. */
        if (atomic_load(&mapio__rp(r)->state) != MAPIO__REQ_BACKEND ||
            mapio__req_started(mapio__rp(r)))
            continue;
        if (mapio__rp(r)->on_copy_pool)
            mapio__pool_cancel(atomic_load(&eng->copy_pool), r);
        else
            MAPIO__BE(eng, cancel, eng->be, r);
    }
}

/* Move pending into the backlog (in submission order) and act on cancels. */
static void take_shared(mapio_engine_t *eng)
{
    atomic_store_explicit(&eng->wake_sent, false, memory_order_relaxed);
    mapio_req_t *stack = atomic_exchange_explicit(&eng->pending, NULL, memory_order_acquire);
    mapio_req_t *list = NULL, *last = stack;
    while (stack != NULL) {
        mapio_req_t *next = mapio__rp(stack)->next;
        mapio__rp(stack)->next = list;
        list = stack;
        stack = next;
    }
    if (list != NULL) {
        if (eng->backlog_tail != NULL)
            mapio__rp(eng->backlog_tail)->next = list;
        else
            eng->backlog_head = list;
        eng->backlog_tail = last;
    }
    take_cancels(eng);
}

/* Hand the backlog to the backend in batches. */
static void flush(mapio_engine_t *eng)
{
    mapio_req_t *batch[64], *copies[64];
    struct mapio__pool *pool = atomic_load_explicit(&eng->copy_pool, memory_order_acquire);
    while (eng->backlog_head != NULL) {
        unsigned n = 0, ncopies = 0;
        while (n < MAPIO__ARRAY_SIZE(batch) && eng->backlog_head != NULL) {
            mapio_req_t *r = list_pop(&eng->backlog_head, &eng->backlog_tail);
            struct mapio__req_priv *rp = mapio__rp(r);
            if (atomic_load_explicit(&rp->state, memory_order_relaxed) == MAPIO__REQ_CARRIED) {
                finish(eng, r, rp->pre_result); /* done: too late to cancel */
                continue;
            }
            if (atomic_load_explicit(&rp->cancel, memory_order_relaxed) &&
                !mapio__req_started(rp)) {
                finish(eng, r, MAPIO_ECANCELED);
                continue;
            }
            atomic_store_explicit(&mapio__rp(r)->state, MAPIO__REQ_BACKEND, memory_order_relaxed);
            if (pool != NULL && goes_to_copy_pool(r)) {
                mapio__rp(r)->on_copy_pool = 1;
                copies[ncopies++] = r;
                if (ncopies == MAPIO__ARRAY_SIZE(copies)) {
                    mapio__pool_push(pool, copies, ncopies);
                    ncopies = 0;
                }
                continue;
            }
            if (r->op == MAPIO_OP_COMMIT)
                mapio__commit_try_fuse(r);
            batch[n++] = r;
        }
        if (ncopies > 0)
            mapio__pool_push(pool, copies, ncopies);
        if (n == 0)
            break;
        int took = MAPIO__BE(eng, submit, eng->be, batch, n);
        if (took < 0)
            took = 0;
        if ((unsigned)took < n) {
            /* The backend is full: keep the rest, in order, for the next round. */
            for (unsigned i = n; i-- > (unsigned)took;) {
                if (mapio__rp(batch[i])->fused)
                    mapio__commit_unfuse(batch[i]);
                atomic_store_explicit(&mapio__rp(batch[i])->state, MAPIO__REQ_QUEUED,
                                      memory_order_relaxed);
                list_push_front(&eng->backlog_head, &eng->backlog_tail, batch[i]);
            }
            break;
        }
    }
}

/* Run the callbacks of everything finished, including what finishes while
 * they run (a group sync's callback completes its waiters). */
static int run_done(mapio_engine_t *eng)
{
    int n = 0;
    while (eng->done_head != NULL) {
        mapio_req_t *list = eng->done_head;
        eng->done_head = eng->done_tail = NULL;

        /* Mark DONE, then take any cancel list before running a callback that
         * may free its request (pairs with mapio_cancel()). */
        for (mapio_req_t *r = list; r != NULL; r = mapio__rp(r)->next)
            atomic_store_explicit(&mapio__rp(r)->state, MAPIO__REQ_DONE, memory_order_relaxed);
        atomic_thread_fence(memory_order_seq_cst);
        take_cancels(eng);

        uint64_t now = mapio__os.now_ns();
        while (list != NULL) {
            mapio_req_t *r = list;
            struct mapio__req_priv *rp = mapio__rp(r);
            list = rp->next;
            uint64_t ns = now - rp->start_ns, us = ns / 1000;
            mapio__account(&eng->counters, r, us, true);
            mapio__lat_account(&eng->lat, r, ns, true);
            if (rp->fs != NULL) {
                mapio__account(&rp->fs->counters, r, us, true);
                if (rp->fs->lats != NULL)
                    mapio__lat_account(rp->fs->lats, r, ns, false);
                mapio__file_release(r->file);
            }
            atomic_fetch_sub(&eng->inflight, 1);
            /* After the callback the request is the caller's again (it may be
             * freed or resubmitted): touch nothing of it from here on. */
            n += !rp->internal;
            r->cb(r);
        }
    }
    return n;
}

static int poll_once(mapio_engine_t *eng, int timeout_ms)
{
    take_shared(eng);
    flush(eng);
    int t = eng->done_head != NULL ? 0 : timeout_ms;
    int timer = mapio__commit_timers(eng, false);
    if (timer >= 0 && (t < 0 || timer < t))
        t = timer;
    struct mapio__pool *pool = atomic_load_explicit(&eng->copy_pool, memory_order_acquire);
    bool pool_waiting = false;
    if (t != 0) {
        /* Pairs with the fence in mapio__engine_submit(). */
        atomic_store_explicit(&eng->sleeping, true, memory_order_relaxed);
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&eng->pending, memory_order_relaxed) != NULL ||
            atomic_load_explicit(&eng->cancels_pending, memory_order_relaxed))
            t = 0;
        else if (pool != NULL && !(pool_waiting = mapio__pool_sleep(pool)))
            t = 0; /* copies are back: no sleeping */
    }
    int r = MAPIO__BE(eng, wait, eng->be, t);
    atomic_store_explicit(&eng->sleeping, false, memory_order_relaxed);
    if (pool != NULL) {
        if (pool_waiting)
            mapio__pool_awake(pool);
        mapio__pool_reap(pool);
    }
    if (timer >= 0)
        mapio__commit_timers(eng, false);
    return r == MAPIO_EINTR || r == MAPIO_ETIMEDOUT ? 0 : r;
}

int mapio_engine_poll(mapio_engine_t *eng, int timeout_ms)
{
    if (eng == NULL)
        return MAPIO_EINVAL;
    if (atomic_exchange(&eng->polling, true))
        return MAPIO_EBUSY;
    uint64_t deadline = 0;
    if (timeout_ms > 0)
        deadline = mapio__os.now_ns() + (uint64_t)timeout_ms * 1000000u;
    int total = 0, err = 0;
    for (int round = 0;; round++) {
        err = poll_once(eng, timeout_ms);
        int n = run_done(eng);
        total += n;
        if (err < 0 || total > 0)
            break;
        if (timeout_ms == 0) {
            /* Resumed transfers may need a few rounds; don't spin forever. */
            if (eng->backlog_head == NULL || round >= 4)
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
    /* Embedded in someone else's loop: start what callbacks queued now, so the
     * engine fd turns readable when it finishes instead of never. */
    if (err == 0 && atomic_load_explicit(&eng->embedded, memory_order_relaxed)) {
        take_shared(eng);
        if (eng->backlog_head != NULL) {
            flush(eng);
            MAPIO__BE(eng, wait, eng->be, 0);
            if (eng->done_head != NULL || eng->backlog_head != NULL)
                MAPIO__BE(eng, wake, eng->be);
        }
    }
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
    while (atomic_load(&eng->inflight) > 0) {
        int n = mapio_engine_poll(eng, -1);
        if (n < 0)
            return n;
        total += n;
    }
    return total;
}

/* ---- files ------------------------------------------------------------------- */

int mapio__engine_attach(mapio_engine_t *eng, struct mapio__fstate *fs)
{
    int err = MAPIO__BE(eng, attach, eng->be, fs);
    if (err != 0)
        return err;
    pthread_mutex_lock(&eng->lock);
    fs->prev = NULL;
    fs->next = eng->files;
    if (eng->files != NULL)
        eng->files->prev = fs;
    eng->files = fs;
    pthread_mutex_unlock(&eng->lock);
    return 0;
}

void mapio__engine_forget(mapio_engine_t *eng, struct mapio__fstate *fs)
{
    pthread_mutex_lock(&eng->lock);
    if (fs->prev != NULL)
        fs->prev->next = fs->next;
    else
        eng->files = fs->next;
    if (fs->next != NULL)
        fs->next->prev = fs->prev;
    pthread_mutex_unlock(&eng->lock);
    MAPIO__BE(eng, detach, eng->be, fs);
}

/* ---- shutdown ---------------------------------------------------------------- */

/* Cancel what the backend has not seen, except the engine's own syncs and
 * requests already partly in the file. */
static void cancel_backlog(mapio_engine_t *eng)
{
    mapio_req_t *keep = NULL, *keep_tail = NULL;
    while (eng->backlog_head != NULL) {
        mapio_req_t *r = list_pop(&eng->backlog_head, &eng->backlog_tail);
        if (mapio__rp(r)->internal || mapio__req_started(mapio__rp(r)))
            list_push(&keep, &keep_tail, r);
        else
            mapio__finish(r, MAPIO_ECANCELED);
    }
    eng->backlog_head = keep;
    eng->backlog_tail = keep_tail;
}

int mapio_engine_free(mapio_engine_t *eng)
{
    if (eng == NULL)
        return 0;
    /* From a callback (or beside a poller) the engine is in use: freeing it
     * would pull it from under the poll that runs the callback. */
    if (atomic_exchange(&eng->polling, true))
        return MAPIO_EBUSY;
    atomic_store_explicit(&eng->shutdown, true, memory_order_release);

    /* Everything not yet in the backend is cancelled outright; what the
     * backend holds is asked to cancel, then drained. */
    take_shared(eng);
    cancel_backlog(eng);
    MAPIO__BE(eng, cancel, eng->be, NULL);
    struct mapio__pool *pool = atomic_load(&eng->copy_pool);
    if (pool != NULL)
        mapio__pool_cancel(pool, NULL);
    run_done(eng);
    while (atomic_load(&eng->inflight) > 0) {
        /* Group syncs still start (and delays are cut short), so committers
         * whose writes are done learn whether they are durable. */
        mapio__commit_timers(eng, true);
        take_shared(eng);
        cancel_backlog(eng);
        flush(eng);
        int r = 0;
        if (eng->done_head == NULL) {
            bool may_sleep = pool == NULL || mapio__pool_sleep(pool);
            r = MAPIO__BE(eng, wait, eng->be, may_sleep ? 100 : 0);
            if (pool != NULL && may_sleep)
                mapio__pool_awake(pool);
        }
        if (pool != NULL)
            mapio__pool_reap(pool);
        run_done(eng);
        if (r < 0 && r != MAPIO_ETIMEDOUT && r != MAPIO_EINTR)
            break;
    }
    if (pool != NULL) {
        mapio__pool_free(pool); /* its queue is empty: nothing more to reap */
        run_done(eng);
    }

    /* Files the caller left open. */
    for (;;) {
        pthread_mutex_lock(&eng->lock);
        struct mapio__fstate *fs = eng->files;
        pthread_mutex_unlock(&eng->lock);
        if (fs == NULL)
            break;
        mapio_file_close_blocking(fs->handle);
    }
    MAPIO__BE(eng, destroy, eng->be);
    mapio__fault_free(eng);
    pthread_mutex_destroy(&eng->lock);
    mapio__free(eng->fallback_reason);
    mapio__free(eng);
    return 0;
}
