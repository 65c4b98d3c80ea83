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
 * - The file lifecycle runs in the kernel where the running kernel's probe
 *   has the opcode: OPENAT, CLOSE, STATX, FTRUNCATE (6.9), RENAMEAT,
 *   UNLINKAT, MKDIRAT (5.15), SYNC_FILE_RANGE. What it lacks - and a
 *   directory sync by path, an open that must size or map its file,
 *   anything while fault hooks are installed (they must see each call on a
 *   worker) - runs on a worker pool started at the first such request; the
 *   engine's fallback reason names the missing opcodes.
 * - STATX is the one opcode io_uring always hands to an io-wq worker
 *   (REQ_F_FORCE_ASYNC): a thread wake-up and two context switches, more
 *   than the call itself; on two cores a QD32 loop of open + stat + close
 *   ran at half the speed of a plain one. So a stat that cannot wait is
 *   made right here, with statx(2) on the descriptor: the open's (type,
 *   size, O_DIRECT alignment) with AT_STATX_DONT_SYNC, which never asks a
 *   file server (and right after an open, close-to-open consistency has
 *   just refreshed what it keeps); and mapio_file_stat's of a file on a
 *   file system over a block device (stx_dev_major != 0: ext4, XFS, f2fs,
 *   ...), whose getattr reads the in-memory inode. A file elsewhere (NFS,
 *   FUSE, CIFS, overlayfs, tmpfs, btrfs: anonymous devices, major 0) is
 *   stat'ed with STATX, which writes a struct statx: each such request
 *   borrows one of a fixed set, and waits for one when none is free.
 * - Deadlines are linked timeouts (IOSQE_IO_LINK + LINK_TIMEOUT) on a
 *   request's first piece; a request the timeout cancelled says
 *   MAPIO_ETIMEDOUT. Its CQE and the timeout's come in either order: the
 *   request completes when both are back.
 */
#include <errno.h>
#include <liburing.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MAPIO__BE_PREFIX uring
#include "engine/commit.h"
#include "engine/engine.h"
#include "engine/os.h"
#include "engine/os_posix.h"
#include "engine/pooled.h"

MAPIO__BACKEND_DECLARE()

/* user_data of the ring's own SQEs; requests are 8-aligned pointers. */
#define TAG_WAKE 1u
#define TAG_CANCEL 3u
#define TAG_FUSED_SYNC 2u /* or-ed into a request pointer: its linked fsync */
#define TAG_TIMEOUT 4u    /* or-ed into a request pointer: its linked timeout */
#define RESERVE 16u       /* CQ room kept for wake and cancel completions */
#define FIXED_SLOTS 1024u
#define STATX_SLOTS 64u

/* Not in the headers of every liburing the build may meet (Linux 6.9). */
#define MAPIO__IORING_OP_FTRUNCATE 55

/* A request's backend area while the ring holds it. */
struct uring_req {
    struct __kernel_timespec ts; /* its linked timeout (read at submission) */
    int64_t stashed;             /* its result, held until the timeout's CQE */
    uint32_t stx;                /* the statx slot it borrowed, or NO_STX */
    uint8_t on_pool;             /* run by the pool instead */
    uint8_t tmo_armed, tmo_back, req_back, tmo_fired;
};
#define NO_STX UINT32_MAX

_Static_assert(sizeof(struct uring_req) <= MAPIO__REQ_BACKEND_SPACE,
               "a request's backend area must hold io_uring's per-request state");

static struct uring_req *ur(mapio_req_t *req)
{
    return (struct uring_req *)(void *)mapio__rp(req)->backend.bytes;
}

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
    unsigned native;          /* (1u << MAPIO_OP_x): lifecycle ops the kernel runs */
    unsigned workers;         /* for the pool, when it starts */
    struct mapio__pool *pool; /* what the ring does not run (polling thread) */
    struct statx stx[STATX_SLOTS];
    uint32_t stx_free[STATX_SLOTS];
    unsigned stx_nfree;
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
        { IORING_OP_LINK_TIMEOUT, "LINK_TIMEOUT" },
    };
    int err = 0;
    for (size_t i = 0; i < MAPIO__ARRAY_SIZE(needed); i++) {
        if (!io_uring_opcode_supported(probe, needed[i].op)) {
            mapio__engine_detail(s->eng, "io_uring lacks IORING_OP_%s", needed[i].name);
            err = MAPIO_ENOTSUP;
            break;
        }
    }
    /* The lifecycle: in the kernel what it has, the rest on the pool. */
    static const struct {
        mapio_op_t op;
        int need1, need2;
        const char *name;
    } life[] = {
        { MAPIO_OP_OPEN, IORING_OP_OPENAT, IORING_OP_STATX, "OPENAT/STATX" },
        { MAPIO_OP_CLOSE, IORING_OP_CLOSE, IORING_OP_CLOSE, "CLOSE" },
        { MAPIO_OP_STAT, IORING_OP_STATX, IORING_OP_STATX, "STATX" },
        { MAPIO_OP_TRUNCATE, MAPIO__IORING_OP_FTRUNCATE, MAPIO__IORING_OP_FTRUNCATE, "FTRUNCATE" },
        { MAPIO_OP_RENAME, IORING_OP_RENAMEAT, IORING_OP_RENAMEAT, "RENAMEAT" },
        { MAPIO_OP_UNLINK, IORING_OP_UNLINKAT, IORING_OP_UNLINKAT, "UNLINKAT" },
        { MAPIO_OP_MKDIR, IORING_OP_MKDIRAT, IORING_OP_MKDIRAT, "MKDIRAT" },
        { MAPIO_OP_SYNC_RANGE, IORING_OP_SYNC_FILE_RANGE, IORING_OP_SYNC_FILE_RANGE,
          "SYNC_FILE_RANGE" },
    };
    char missing[160] = "";
    for (size_t i = 0; err == 0 && i < MAPIO__ARRAY_SIZE(life); i++) {
        if (io_uring_opcode_supported(probe, life[i].need1) &&
            io_uring_opcode_supported(probe, life[i].need2)) {
            s->native |= 1u << life[i].op;
            continue;
        }
        size_t len = strlen(missing);
        snprintf(missing + len, sizeof missing - len, "%s%s", len ? ", " : "", life[i].name);
    }
    if (missing[0] != '\0')
        mapio__engine_note(s->eng, "io_uring lacks IORING_OP_%s: those run on the worker pool",
                           missing);
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
    s->workers = opts->workers;
    for (unsigned i = 0; i < STATX_SLOTS; i++)
        s->stx_free[s->stx_nfree++] = STATX_SLOTS - 1 - i;
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
    mapio__pool_free(s->pool); /* the engine drained it: nothing left to reap */
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

/* ---- the file lifecycle ------------------------------------------------------ */

static int dirfd_of(const struct mapio__fstate *dir)
{
    return dir != NULL ? dir->fd : AT_FDCWD;
}

static int64_t ts_ns(struct statx_timestamp t)
{
    return t.tv_sec * 1000000000 + t.tv_nsec;
}

static void stat_from_statx(mapio_stat_t *out, const struct statx *x)
{
    *out = (mapio_stat_t){
        .size = x->stx_size,
        .allocated = x->stx_blocks * 512,                   /* 512-byte units, as st_blocks */
        .dev = makedev(x->stx_dev_major, x->stx_dev_minor), /* as stat(2) has it */
        .ino = x->stx_ino,
        .nlink = x->stx_nlink,
        .mode = x->stx_mode,
        .blksize = x->stx_blksize,
        .mtime_ns = ts_ns(x->stx_mtime),
        .ctime_ns = ts_ns(x->stx_ctime),
    };
}

/* Does the ring run this one itself, or the pool? */
static bool for_pool(const struct uring_state *s, mapio_req_t *req)
{
    mapio_op_t op = req->op;
    if (mapio__op_is_transfer(op) || mapio__op_is_sync(op) || op == MAPIO_OP_NOP ||
        op == MAPIO_OP_FALLOCATE)
        return false;
    struct mapio__req_priv *rp = mapio__rp(req);
    if (op == MAPIO_OP_OPEN && rp->step != MAPIO__OPEN_ALL)
        return rp->step == MAPIO__OPEN_FINISH; /* an open the ring began, it sizes */
    if (s->eng->ctx.faults.on || !(s->native & (1u << op)) || op == MAPIO_OP_SYNC_DIR)
        return true;
    if (op == MAPIO_OP_OPEN)
        return mapio__posix_oflags(rp->fs->flags) < 0;
    if (op == MAPIO_OP_SYNC_RANGE)
        return req->len > UINT32_MAX; /* the SQE's length is 32 bits */
    return false;
}

/* Needs a statx to lend, and none is free? It waits for one to come back. */
static bool waits_for_stx(const struct uring_state *s, mapio_req_t *req)
{
    return s->stx_nfree == 0 && req->op == MAPIO_OP_STAT;
}

/* The ring's STATX writes here until its CQE (for_pool saw one free). */
static struct statx *borrow_stx(struct uring_state *s, mapio_req_t *req)
{
    ur(req)->stx = s->stx_free[--s->stx_nfree];
    return &s->stx[ur(req)->stx];
}

static struct statx *give_back_stx(struct uring_state *s, mapio_req_t *req)
{
    uint32_t i = ur(req)->stx;
    ur(req)->stx = NO_STX;
    s->stx_free[s->stx_nfree++] = i;
    return &s->stx[i];
}

/* Prepare a lifecycle op for the ring. */
static void prep_life(struct uring_state *s, struct io_uring_sqe *sqe, mapio_req_t *req)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    struct mapio__fstate *fs = rp->fs;
    switch (req->op) {
    case MAPIO_OP_OPEN:
        rp->step = MAPIO__OPEN_OPENAT;
        io_uring_prep_openat(sqe, dirfd_of(rp->dir), rp->path, mapio__posix_oflags(fs->flags),
                             0666);
        break;
    case MAPIO_OP_STAT:
        io_uring_prep_statx(sqe, fs->fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, borrow_stx(s, req));
        break;
    case MAPIO_OP_CLOSE:
        io_uring_prep_close(sqe, fs->fd);
        break;
    case MAPIO_OP_TRUNCATE:
        io_uring_prep_rw(MAPIO__IORING_OP_FTRUNCATE, sqe, fs->fd, NULL, 0, rp->arg);
        break;
    case MAPIO_OP_RENAME: {
        unsigned how = (rp->arg_flags & MAPIO_RENAME_NOREPLACE)  ? RENAME_NOREPLACE
                       : (rp->arg_flags & MAPIO_RENAME_EXCHANGE) ? RENAME_EXCHANGE
                                                                 : 0;
        io_uring_prep_renameat(sqe, dirfd_of(rp->dir), rp->path, dirfd_of(rp->dir2), rp->path2,
                               (int)how);
        break;
    }
    case MAPIO_OP_UNLINK:
        io_uring_prep_unlinkat(sqe, dirfd_of(rp->dir), rp->path,
                               (rp->arg_flags & MAPIO_UNLINK_DIR) ? AT_REMOVEDIR : 0);
        break;
    case MAPIO_OP_MKDIR:
        io_uring_prep_mkdirat(sqe, dirfd_of(rp->dir), rp->path, (mode_t)rp->arg_flags);
        break;
    case MAPIO_OP_SYNC_RANGE: {
        unsigned how = 0;
        if (rp->arg_flags & MAPIO_SYNC_RANGE_WAIT_BEFORE)
            how |= SYNC_FILE_RANGE_WAIT_BEFORE;
        if (rp->arg_flags & MAPIO_SYNC_RANGE_WRITE)
            how |= SYNC_FILE_RANGE_WRITE;
        if (rp->arg_flags & MAPIO_SYNC_RANGE_WAIT_AFTER)
            how |= SYNC_FILE_RANGE_WAIT_AFTER;
        io_uring_prep_sync_file_range(sqe, fs->fd, (unsigned)req->len, req->offset, (int)how);
        break;
    }
    default:
        io_uring_prep_nop(sqe); /* nothing else reaches the ring */
        break;
    }
    io_uring_sqe_set_data(sqe, req);
}

/* What a statx says of a file just opened (the OPEN's STATX step): its
 * type checked, its size and O_DIRECT alignment where the engine wants them. */
static int64_t opened_statx(mapio_req_t *req, const struct statx *x)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    struct mapio__fstate *fs = rp->fs;
    bool dir = S_ISDIR(x->stx_mode);
    if (dir != ((fs->flags & MAPIO_OPEN_DIRECTORY) != 0))
        return dir ? MAPIO_EISDIR : MAPIO_ENOTDIR;
    /* Only a regular file's size is stx_size; a device's is where seeking
     * ends, and a FIFO has none: the pool seeks, and fails as it would. A
     * directory has no size to speak of: 0, everywhere. */
    rp->open_cur = dir ? 0 : S_ISREG(x->stx_mode) ? x->stx_size : UINT64_MAX;
    if ((x->stx_mask & STATX_DIOALIGN) && x->stx_dio_offset_align != 0) {
        fs->mem_align = x->stx_dio_mem_align;
        fs->io_align = x->stx_dio_offset_align;
    }
    fs->stat_inline = x->stx_dev_major != 0;
    return 0;
}

/* The stats that cannot wait, made on this thread (see the top of the
 * file). True if req was one, and is complete. */
static bool stat_inline(mapio_req_t *req)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    bool open = req->op == MAPIO_OP_OPEN && rp->step == MAPIO__OPEN_STATX;
    if (!open && !(req->op == MAPIO_OP_STAT && rp->fs->stat_inline))
        return false;
    struct statx x;
    int r = statx(rp->fs->fd, "", AT_EMPTY_PATH | (open ? AT_STATX_DONT_SYNC : 0),
                  STATX_BASIC_STATS | (open ? STATX_DIOALIGN : 0), &x);
    int64_t res = r == 0 ? 0 : -errno;
    if (res == 0 && open)
        res = opened_statx(req, &x);
    else if (res == 0)
        stat_from_statx(rp->stat_out, &x);
    mapio__complete(req, res);
    return true;
}

/* A STATX is back (mapio_file_stat): what it says, where the caller wants it. */
static int64_t statx_done(struct uring_state *s, mapio_req_t *req, int64_t res)
{
    const struct statx *x = give_back_stx(s, req);
    if (res == 0)
        stat_from_statx(mapio__rp(req)->stat_out, x);
    return res;
}

/* A lifecycle op's CQE: turn what came back into the result the engine
 * expects of it. */
static int64_t life_done(struct uring_state *s, mapio_req_t *req, int64_t res)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    if (req->op == MAPIO_OP_STAT)
        return statx_done(s, req, res);
    if (req->op == MAPIO_OP_OPEN && rp->step == MAPIO__OPEN_OPENAT && res >= 0) {
        rp->fs->fd = (int)res;
        rp->started = 1; /* a descriptor exists: the open runs to its end */
        return 0;
    }
    return res;
}

/* ---- reads, writes, syncs ------------------------------------------------------ */

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

/* Link a timeout for what is left of req's deadline to the SQE just made. */
static void link_timeout(struct uring_state *s, struct io_uring_sqe *sqe, mapio_req_t *req)
{
    struct uring_req *u = ur(req);
    uint64_t now = mapio__os.now_ns(), end = mapio__rp(req)->deadline_ns;
    uint64_t left = end > now ? end - now : 1;
    u->ts.tv_sec = (long long)(left / 1000000000u);
    u->ts.tv_nsec = (long long)(left % 1000000000u);
    u->tmo_armed = 1;
    u->tmo_back = u->req_back = u->tmo_fired = 0;
    sqe->flags |= IOSQE_IO_LINK;
    struct io_uring_sqe *t = io_uring_get_sqe(&s->ring);
    io_uring_prep_link_timeout(t, &u->ts, 0);
    io_uring_sqe_set_data64(t, (uint64_t)(uintptr_t)req | TAG_TIMEOUT);
    s->in_ring++;
}

/* Requests for the pool, gathered in submission order. */
static void to_pool(struct uring_state *s, mapio_req_t *req, mapio_req_t **list, unsigned *n)
{
    ur(req)->on_pool = 1;
    list[(*n)++] = req;
}

/* Can n more SQEs be had without the ring filling in between? */
static bool room_for(struct uring_state *s, unsigned n)
{
    if (io_uring_sq_space_left(&s->ring) >= n)
        return true;
    io_uring_submit(&s->ring);
    return io_uring_sq_space_left(&s->ring) >= n;
}

/* The pool, started for the first request that needs it. */
static void uring_pool_notify(void *arg)
{
    struct uring_state *s = arg;
    uint64_t one = 1;
    while (write(s->wake_fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

static int push_pool(struct uring_state *s, mapio_req_t **list, unsigned n)
{
    if (n == 0)
        return 0;
    if (s->pool == NULL) {
        int err = mapio__pooled_new(&s->pool, s->workers, uring_pool_notify, s);
        if (err != 0)
            return err;
        /* Always told: the ring's waits do not go through the pool's sleep,
         * and the wake eventfd ends them (or an outside loop's poll). These
         * are a file's opens and closes, not its reads: one eventfd write
         * per batch costs nothing that matters. */
        mapio__pool_always_notify(s->pool);
    }
    mapio__pooled_push(s->pool, list, n);
    return 0;
}

static int uring_be_submit(void *state, mapio_req_t **reqs, unsigned n)
{
    struct uring_state *s = state;
    unsigned i, npool = 0;
    mapio_req_t *pool[64];
    mapio_engine_t *eng = s->eng;
    for (i = 0; i < n && s->in_ring + 2 < s->cap; i++) {
        ur(reqs[i])->on_pool = 0;
        ur(reqs[i])->tmo_armed = 0;
        ur(reqs[i])->stx = NO_STX;
        if (for_pool(s, reqs[i])) {
            if (npool == MAPIO__ARRAY_SIZE(pool))
                break; /* the rest next round */
            /* The ring's linked timeouts cannot reach a worker: the engine
             * keeps this deadline, and cancels it off the pool's queue. */
            if (mapio__engine_watch_deadline(eng, reqs[i]) != 0) {
                mapio__complete(reqs[i], MAPIO_ENOMEM);
                continue;
            }
            to_pool(s, reqs[i], pool, &npool);
            continue;
        }
        if (stat_inline(reqs[i]))
            continue;
        if (waits_for_stx(s, reqs[i]))
            break; /* until a STATX in the ring comes back */
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
        bool fused = mapio__req_fused(reqs[i]);
        bool timed =
            mapio__rp(reqs[i])->deadline_ns != 0 && !mapio__req_started(mapio__rp(reqs[i]));
        if ((fused || timed) && !room_for(s, 2)) {
            if (!fused)
                break;                     /* the timeout must go with it: next round */
            mapio__commit_unfuse(reqs[i]); /* no room to link: the group path instead */
            fused = false;
        }
        struct io_uring_sqe *sqe = get_sqe(s);
        if (sqe == NULL)
            break;
        if (mapio__op_is_transfer(reqs[i]->op) || mapio__op_is_sync(reqs[i]->op) ||
            reqs[i]->op == MAPIO_OP_NOP || reqs[i]->op == MAPIO_OP_FALLOCATE)
            prep(s, sqe, reqs[i], limit);
        else
            prep_life(s, sqe, reqs[i]);
        s->in_ring++;
        if (timed)
            link_timeout(s, sqe, reqs[i]);
        if (fused) {
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
    if (push_pool(s, pool, npool) != 0) {
        /* No pool (no memory, no thread): those fail as they stand. */
        for (unsigned k = 0; k < npool; k++)
            mapio__complete(pool[k], MAPIO_ENOMEM);
    }
    return (int)i;
}

/* A request's CQE is here: held while its linked timeout's is to come. */
static void request_back(struct uring_state *s, mapio_req_t *req, int64_t res)
{
    struct uring_req *u = ur(req);
    if (u->tmo_armed && !u->tmo_back) {
        u->stashed = res;
        u->req_back = 1;
        return;
    }
    if (u->tmo_armed)
        mapio__rp(req)->timed_out |= u->tmo_fired; /* its ECANCELED says ETIMEDOUT */
    if (!mapio__op_is_transfer(req->op) && !mapio__op_is_sync(req->op) && req->op != MAPIO_OP_NOP &&
        req->op != MAPIO_OP_FALLOCATE)
        res = life_done(s, req, res);
    if (s->eng->ctx.faults.on)
        res = mapio__fault_after(&s->eng->ctx.faults, req, res);
    mapio__complete(req, res);
}

/* The linked timeout's CQE: -ETIME if it fired (and cancelled the request). */
static void timeout_back(struct uring_state *s, mapio_req_t *req, int64_t res)
{
    struct uring_req *u = ur(req);
    u->tmo_back = 1;
    u->tmo_fired = res == -ETIME;
    if (u->req_back)
        request_back(s, req, u->stashed);
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
            else if (tag & TAG_TIMEOUT)
                timeout_back(s, req, res);
            else if (mapio__req_fused(req))
                mapio__commit_fused_half(req, false, res);
            else
                request_back(s, req, res);
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
    if (s->pool != NULL)
        mapio__pool_reap(s->pool);
    if (r >= 0 || r == -EAGAIN || r == -ETIME || r == -EINTR || r == -EBUSY)
        return 0;
    return r;
}

static int uring_be_cancel(void *state, mapio_req_t *req)
{
    struct uring_state *s = state;
    if (s->pool != NULL && (req == NULL || ur(req)->on_pool)) {
        mapio__pooled_cancel(s->pool, req);
        if (req != NULL)
            return 0;
    }
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
                      MAPIO_CAP_SUBMIT_IN_WAIT | MAPIO_CAP_DEADLINES);
