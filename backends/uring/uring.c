/*
 * backends/uring/uring.c - io_uring through liburing.
 *
 * Notes about io_uring:
 * - Probe, don't guess: ring setup fails with ENOSYS (old kernel), EPERM
 *   (seccomp - Docker's default profile - or kernel.io_uring_disabled) or
 *   EINVAL (unsupported setup flags); those make the engine fall back to the
 *   next backend, with the reason kept. ENOMEM (RLIMIT_MEMLOCK on kernels
 *   before 5.12) is returned to the caller: falling back would hide a
 *   misconfiguration the user can fix.
 * - One io_uring_enter per wait submits everything prepared and waits
 *   (submit_and_wait[_timeout]); page-cache hits usually complete inside it.
 * - The completion queue cannot overflow: at most cq_entries - RESERVE
 *   requests are in the ring; the engine keeps the rest queued. Kernels with
 *   IORING_FEAT_NODROP would not lose overflowed CQEs anyway, but never
 *   getting there keeps the fast path free of the overflow flush.
 * - Cross-thread wake: an eventfd with a multishot poll in the ring; a write
 *   to it completes that poll and so ends a blocked io_uring_enter. The ring
 *   fd itself is the engine fd (it polls readable while CQEs wait).
 * - Ordering: io_uring does not order an fsync after writes submitted before
 *   it (without IOSQE_IO_DRAIN/LINK). mapio_sync_data() promises to cover the
 *   writes that *completed* before it was submitted, which holds here.
 */
#include <errno.h>
#include <liburing.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MAPIO__BE_PREFIX uring
#include "engine/commit.h"
#include "engine/engine.h"

MAPIO__BACKEND_DECLARE()

/* user_data of the ring's own SQEs; requests are 8-aligned pointers. */
#define TAG_WAKE 1u
#define TAG_CANCEL 3u
#define TAG_FUSED_SYNC 2u /* or-ed into a request pointer: its linked fsync */
#define RESERVE 16u       /* CQ room kept for wake and cancel completions */
#define FIXED_SLOTS 1024u

struct uring_state {
    struct io_uring ring;
    mapio_engine_t *eng;
    int wake_fd;
    unsigned in_ring; /* SQEs whose CQE is still to come (requests and cancels) */
    unsigned cap;     /* most requests the CQ can take at once */
    bool stopping;
    bool fixed_files;
    pthread_mutex_t slot_lock; /* attach/detach come from any thread */
    mapio_iovec_t *bufs;       /* registered (fixed) buffers */
    unsigned nbufs;
    unsigned nfree;
    int free_slots[FIXED_SLOTS];
};

static bool arm_wake(struct uring_state *s)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
    if (sqe == NULL) {
        io_uring_submit(&s->ring);
        sqe = io_uring_get_sqe(&s->ring);
        if (sqe == NULL)
            return false;
    }
    io_uring_prep_poll_multishot(sqe, s->wake_fd, POLLIN);
    io_uring_sqe_set_data64(sqe, TAG_WAKE);
    /* Into the kernel now: a wake must work before the next enter. */
    return io_uring_submit(&s->ring) >= 0;
}

static int setup(struct uring_state *s, const mapio_engine_opts_t *opts)
{
    struct io_uring_params p;
    unsigned base = IORING_SETUP_CLAMP;
    /* Newest first; each step drops what an older kernel rejects with EINVAL.
     * Not COOP_TASKRUN: it defers completions until this task enters the
     * kernel, which a host loop sleeping on the ring fd would never do. */
    const unsigned extra[] = { IORING_SETUP_SUBMIT_ALL, 0 };
    if (opts->flags & MAPIO_ENGINE_SQPOLL)
        base |= IORING_SETUP_SQPOLL;
    int err = MAPIO_EINVAL;
    for (size_t i = 0; i < MAPIO__ARRAY_SIZE(extra); i++) {
        memset(&p, 0, sizeof p);
        p.flags = base | extra[i];
        p.sq_thread_idle = opts->sq_thread_idle_ms;
        err = io_uring_queue_init_params(opts->ring_entries, &s->ring, &p);
        if (err != MAPIO_EINVAL)
            break;
    }
    if (err != 0)
        return err;
    s->cap = p.cq_entries > 2 * RESERVE ? p.cq_entries - RESERVE : p.cq_entries / 2;
    return 0;
}

static int check_probe(struct uring_state *s)
{
    struct io_uring_probe *probe = io_uring_get_probe_ring(&s->ring);
    if (probe == NULL) {
        mapio__engine_detail(s->eng, "io_uring opcode probe unavailable (kernel older than 5.6)");
        return MAPIO_ENOTSUP;
    }
    static const struct {
        int op;
        const char *name;
    } needed[] = {
        { IORING_OP_NOP, "NOP" },
        { IORING_OP_READ, "READ" },
        { IORING_OP_WRITE, "WRITE" },
        { IORING_OP_READV, "READV" },
        { IORING_OP_WRITEV, "WRITEV" },
        { IORING_OP_FSYNC, "FSYNC" },
        { IORING_OP_POLL_ADD, "POLL_ADD" },
        { IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL" },
        { IORING_OP_FALLOCATE, "FALLOCATE" },
    };
    int err = 0;
    for (size_t i = 0; i < MAPIO__ARRAY_SIZE(needed); i++) {
        if (!io_uring_opcode_supported(probe, needed[i].op)) {
            mapio__engine_detail(s->eng, "io_uring lacks IORING_OP_%s", needed[i].name);
            err = MAPIO_ENOTSUP;
            break;
        }
    }
    io_uring_free_probe(probe);
    return err;
}

static int uring_be_init(mapio_engine_t *eng, const mapio_engine_opts_t *opts, void **state)
{
    struct uring_state *s = mapio__calloc(1, sizeof *s);
    if (s == NULL)
        return MAPIO_ENOMEM;
    s->eng = eng;
    s->wake_fd = -1;
    int err = setup(s, opts);
    if (err != 0) {
        const char *why = err == MAPIO_EPERM    ? " (seccomp filter or kernel.io_uring_disabled)"
                          : err == MAPIO_ENOSYS ? " (kernel without io_uring)"
                          : err == MAPIO_ENOMEM ? " (locked-memory limit: raise RLIMIT_MEMLOCK)"
                                                : "";
        mapio__engine_detail(eng, "io_uring_setup: %s%s", mapio_strerror(err), why);
        mapio__free(s);
        return err;
    }
    err = check_probe(s);
    if (err == 0) {
        s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (s->wake_fd < 0)
            err = -errno;
    }
    if (err == 0 && !arm_wake(s))
        err = MAPIO_ENOMEM;
    if (err == 0 && (opts->flags & MAPIO_ENGINE_REGISTER_FILES)) {
        err = io_uring_register_files_sparse(&s->ring, FIXED_SLOTS);
        if (err != 0)
            mapio__engine_detail(eng, "io_uring_register_files_sparse: %s", mapio_strerror(err));
        s->fixed_files = err == 0;
        for (unsigned i = 0; i < FIXED_SLOTS; i++)
            s->free_slots[i] = (int)(FIXED_SLOTS - 1 - i);
        s->nfree = FIXED_SLOTS;
    }
    if (err == 0 && pthread_mutex_init(&s->slot_lock, NULL) != 0)
        err = MAPIO_ENOMEM;
    if (err != 0) {
        if (s->wake_fd >= 0)
            close(s->wake_fd);
        io_uring_queue_exit(&s->ring);
        mapio__free(s);
        return err;
    }
    *state = s;
    return 0;
}

static int uring_be_destroy(void *state)
{
    struct uring_state *s = state;
    mapio__free(s->bufs);
    io_uring_queue_exit(&s->ring);
    close(s->wake_fd);
    pthread_mutex_destroy(&s->slot_lock);
    mapio__free(s);
    return 0;
}

static int uring_be_attach(void *state, struct mapio__fstate *f)
{
    struct uring_state *s = state;
    if (!s->fixed_files)
        return 0;
    pthread_mutex_lock(&s->slot_lock);
    int slot = s->nfree > 0 ? s->free_slots[--s->nfree] : -1;
    pthread_mutex_unlock(&s->slot_lock);
    if (slot < 0)
        return 0; /* table full: this file goes by descriptor, which always works */
    int fd = f->fd;
    int r = io_uring_register_files_update(&s->ring, (unsigned)slot, &fd, 1);
    if (r != 1) {
        pthread_mutex_lock(&s->slot_lock);
        s->free_slots[s->nfree++] = slot;
        pthread_mutex_unlock(&s->slot_lock);
        return 0;
    }
    f->fixed_index = slot;
    return 0;
}

static int uring_be_detach(void *state, struct mapio__fstate *f)
{
    struct uring_state *s = state;
    if (f->fixed_index < 0)
        return 0;
    int none = -1;
    io_uring_register_files_update(&s->ring, (unsigned)f->fixed_index, &none, 1);
    pthread_mutex_lock(&s->slot_lock);
    s->free_slots[s->nfree++] = f->fixed_index;
    pthread_mutex_unlock(&s->slot_lock);
    f->fixed_index = -1;
    return 0;
}

static struct io_uring_sqe *get_sqe(struct uring_state *s)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
    if (sqe == NULL) {
        /* SQ full: push what is prepared to the kernel and take a slot again. */
        io_uring_submit(&s->ring);
        sqe = io_uring_get_sqe(&s->ring);
    }
    return sqe;
}

/* The registered buffer that holds [p, p + len), or -1. */
static int fixed_buffer(const struct uring_state *s, const void *p, size_t len)
{
    uintptr_t a = (uintptr_t)p;
    for (unsigned i = 0; i < s->nbufs; i++) {
        uintptr_t b = (uintptr_t)s->bufs[i].iov_base;
        if (a >= b && len <= s->bufs[i].iov_len && a - b <= s->bufs[i].iov_len - len)
            return (int)i;
    }
    return -1;
}

/* limit: bytes the fault hooks allow this call to move (UINT64_MAX: all). */
static void prep(struct uring_state *s, struct io_uring_sqe *sqe, mapio_req_t *req, uint64_t limit)
{
    struct mapio__fstate *fs = mapio__rp(req)->fs;
    int fd = fs != NULL ? fs->fd : -1;
    int idx = -1;
    struct mapio__seg seg;
    switch (req->op) {
    case MAPIO_OP_NOP:
        io_uring_prep_nop(sqe);
        break;
    case MAPIO_OP_FALLOCATE:
        io_uring_prep_fallocate(sqe, fd,
                                (req->flags & MAPIO_FALLOCATE_KEEP_SIZE) ? FALLOC_FL_KEEP_SIZE : 0,
                                req->offset, req->len);
        break;
    case MAPIO_OP_FDATASYNC:
        io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
        break;
    case MAPIO_OP_FSYNC:
        io_uring_prep_fsync(sqe, fd, 0);
        break;
    default:
        mapio__req_seg_limit(req, limit, &seg);
        if (!seg.vectored && s->nbufs > 0)
            idx = fixed_buffer(s, seg.buf, seg.len);
        if (seg.len == 0 && !seg.vectored)
            io_uring_prep_nop(sqe); /* a commit with nothing to write */
        else if (seg.vectored && seg.write)
            io_uring_prep_writev(sqe, fd, seg.iov, seg.iovcnt, seg.offset);
        else if (seg.vectored)
            io_uring_prep_readv(sqe, fd, seg.iov, seg.iovcnt, seg.offset);
        else if (idx >= 0 && seg.write)
            io_uring_prep_write_fixed(sqe, fd, seg.buf, (unsigned)seg.len, seg.offset, idx);
        else if (idx >= 0)
            io_uring_prep_read_fixed(sqe, fd, seg.buf, (unsigned)seg.len, seg.offset, idx);
        else if (seg.write)
            io_uring_prep_write(sqe, fd, seg.buf, (unsigned)seg.len, seg.offset);
        else
            io_uring_prep_read(sqe, fd, seg.buf, (unsigned)seg.len, seg.offset);
        if (seg.write && (req->flags & MAPIO_WRITE_DSYNC))
            sqe->rw_flags = RWF_DSYNC; /* durable on completion, no separate sync */
        break;
    }
    if (fs != NULL && fs->fixed_index >= 0) {
        sqe->fd = fs->fixed_index;
        sqe->flags |= IOSQE_FIXED_FILE;
    }
    io_uring_sqe_set_data(sqe, req);
}

/* Can n more SQEs be had without the ring filling in between? */
static bool room_for(struct uring_state *s, unsigned n)
{
    if (io_uring_sq_space_left(&s->ring) >= n)
        return true;
    io_uring_submit(&s->ring);
    return io_uring_sq_space_left(&s->ring) >= n;
}

static int uring_be_submit(void *state, mapio_req_t **reqs, unsigned n)
{
    struct uring_state *s = state;
    unsigned i;
    mapio_engine_t *eng = s->eng;
    for (i = 0; i < n && s->in_ring < s->cap; i++) {
        uint64_t limit = UINT64_MAX;
        if (eng->ctx.faults.on) {
            mapio_fault_call_t call;
            int64_t b = mapio__fault_before(&eng->ctx.faults, reqs[i], &call);
            if (b < 0 && b != MAPIO_FAULT_PASS) {
                mapio__complete(reqs[i], b); /* failed without reaching the kernel */
                continue;
            }
            if (b != MAPIO_FAULT_PASS)
                limit = (uint64_t)b;
        }
        struct mapio__req_priv *rp = mapio__rp(reqs[i]);
        if (rp->fused && (s->in_ring + 2 > s->cap || !room_for(s, 2))) {
            mapio__commit_unfuse(reqs[i]); /* no room to link: the group path instead */
        }
        struct io_uring_sqe *sqe = get_sqe(s);
        if (sqe == NULL)
            break;
        prep(s, sqe, reqs[i], limit);
        s->in_ring++;
        if (rp->fused) {
            /* Write, then - only once it has completed in full - fdatasync:
             * IOSQE_IO_LINK orders them; a short or failed write cancels the
             * sync, and the engine then takes the ordinary group path. */
            sqe->flags |= IOSQE_IO_LINK;
            struct io_uring_sqe *sync = io_uring_get_sqe(&s->ring);
            io_uring_prep_fsync(sync, sqe->fd, IORING_FSYNC_DATASYNC);
            sync->flags |= sqe->flags & IOSQE_FIXED_FILE;
            io_uring_sqe_set_data64(sync, (uint64_t)(uintptr_t)reqs[i] | TAG_FUSED_SYNC);
            s->in_ring++;
        }
    }
    return (int)i;
}

static void reap(struct uring_state *s)
{
    struct io_uring_cqe *cqe;
    unsigned head, seen;
    do {
        seen = 0;
        io_uring_for_each_cqe(&s->ring, head, cqe)
        {
            uint64_t tag = io_uring_cqe_get_data64(cqe);
            seen++;
            if (tag == TAG_WAKE) {
                uint64_t v;
                while (read(s->wake_fd, &v, sizeof v) < 0 && errno == EINTR)
                    ;
                if (!(cqe->flags & IORING_CQE_F_MORE) && !s->stopping)
                    arm_wake(s);
                continue;
            }
            s->in_ring--;
            if (tag == TAG_CANCEL)
                continue;
            mapio_req_t *req = (mapio_req_t *)(uintptr_t)(tag & ~(uint64_t)7);
            int64_t res = cqe->res;
            if (tag & TAG_FUSED_SYNC)
                mapio__commit_fused_half(req, true, res);
            else if (mapio__rp(req)->fused)
                mapio__commit_fused_half(req, false, res);
            else if (s->eng->ctx.faults.on)
                mapio__complete(req, mapio__fault_after(&s->eng->ctx.faults, req, res));
            else
                mapio__complete(req, res);
        }
        io_uring_cq_advance(&s->ring, seen);
    } while (seen > 0);
}

static int uring_be_wait(void *state, int timeout_ms)
{
    struct uring_state *s = state;
    struct io_uring_cqe *cqe;
    int r;
    if (timeout_ms == 0 || io_uring_cq_ready(&s->ring) > 0) {
        r = io_uring_submit(&s->ring);
        /* Deferred task work or an overflow backlog needs one more enter. */
        if (r >= 0 && io_uring_cq_ready(&s->ring) == 0)
            r = io_uring_peek_cqe(&s->ring, &cqe);
    } else if (timeout_ms < 0) {
        r = io_uring_submit_and_wait(&s->ring, 1);
    } else {
        struct __kernel_timespec ts = { .tv_sec = timeout_ms / 1000,
                                        .tv_nsec = (long long)(timeout_ms % 1000) * 1000000 };
        r = io_uring_submit_and_wait_timeout(&s->ring, &cqe, 1, &ts, NULL);
    }
    reap(s);
    if (r >= 0 || r == -EAGAIN || r == -ETIME || r == -EINTR || r == -EBUSY)
        return 0;
    return r;
}

static int uring_be_cancel(void *state, mapio_req_t *req)
{
    struct uring_state *s = state;
    struct io_uring_sqe *sqe = get_sqe(s);
    if (sqe == NULL)
        return MAPIO_EAGAIN;
    if (req != NULL) {
        io_uring_prep_cancel(sqe, req, 0);
    } else {
        /* Shutdown: everything, the wake poll included (not re-armed). */
        s->stopping = true;
        io_uring_prep_cancel(sqe, NULL, IORING_ASYNC_CANCEL_ANY);
    }
    io_uring_sqe_set_data64(sqe, TAG_CANCEL);
    s->in_ring++;
    io_uring_submit(&s->ring);
    return 0;
}

static int uring_be_wake(void *state)
{
    struct uring_state *s = state;
    uint64_t one = 1;
    while (write(s->wake_fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
    return 0;
}

static int uring_be_fd(void *state)
{
    struct uring_state *s = state;
    return s->ring.ring_fd;
}

static int uring_be_register_buffers(void *state, const mapio_iovec_t *iov, unsigned n)
{
    struct uring_state *s = state;
    if (s->nbufs > 0) {
        io_uring_unregister_buffers(&s->ring);
        mapio__free(s->bufs);
        s->bufs = NULL;
        s->nbufs = 0;
    }
    if (n == 0)
        return 0;
    mapio_iovec_t *copy = mapio__malloc(n * sizeof *copy);
    if (copy == NULL)
        return MAPIO_ENOMEM;
    for (unsigned i = 0; i < n; i++)
        copy[i] = iov[i];
    int err = io_uring_register_buffers(&s->ring, copy, n);
    if (err != 0) {
        mapio__free(copy);
        return err;
    }
    s->bufs = copy;
    s->nbufs = n;
    return 0;
}

/* The backend's private request area is unused, but must exist everywhere. */
_Static_assert(sizeof(struct mapio__req_priv) <= sizeof(((mapio_req_t *)0)->priv),
               "request private area too small for io_uring");

MAPIO__BACKEND_DEFINE(MAPIO_CAP_NATIVE_ASYNC | MAPIO_CAP_CANCEL_INFLIGHT | MAPIO_CAP_POLLABLE_FD |
                      MAPIO_CAP_SUBMIT_IN_WAIT);
