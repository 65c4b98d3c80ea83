/*
 * backends/iocp/iocp.c - Windows I/O completion ports.
 *
 * Files are opened by the engine (engine/os_win.c), always overlapped,
 * and associated with the engine's port in attach, the file's state as the
 * completion key. Reads and writes are overlapped ReadFile/WriteFile at the
 * request's offset, the OVERLAPPED kept in the request's backend area; wait
 * is GetQueuedCompletionStatusEx, which hands back that OVERLAPPED, and so
 * the request.
 *
 * Exactly once: FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is not used, so a call
 * that returns TRUE or ERROR_IO_PENDING always queues one packet, and the
 * request completes from that packet only; a call that fails at once queues
 * none, and the request completes right there. (Wine, like Windows, answers
 * a read at end of file either way: at once with ERROR_HANDLE_EOF, or with a
 * packet whose status is STATUS_END_OF_FILE. Both are a 0-byte result.)
 *
 * What has no overlapped form - FlushFileBuffers for the syncs, the
 * allocation size for fallocate - runs on the shared worker pool
 * (engine/pool.c, engine/pooled.c), whose notify posts a packet with KEY_POOL. So do group
 * commits (their sync must follow their writes, which the pool's job does in
 * order), O_DSYNC writes (write, then flush), and everything while fault
 * hooks are installed (they must see each call, which the pool's body does).
 *
 * A vectored request has no positional overlapped form either (ReadFileScatter
 * wants whole unbuffered pages): its buffers go one at a time, each started
 * when the one before completes in full, and the engine sees one result.
 *
 * Cancel is CancelIoEx on the request's OVERLAPPED (ERROR_OPERATION_ABORTED
 * becomes MAPIO_ECANCELED), or the pool's own cancel. Wake posts KEY_WAKE.
 * There is no descriptor to poll: fd is MAPIO_ENOTSUP.
 *
 * The file lifecycle - open, close, stat, truncate, the calls on names,
 * directory syncs - has no overlapped form either and runs on the pool. A
 * close there ends the handle's association with the port by itself; the
 * port is never touched for a handle that is gone.
 *
 * An adopted HANDLE the caller keeps (no MAPIO_OPEN_ADOPT_CLOSE) must come
 * back as it was: it is associated only where the association can be
 * undone at close (FileReplaceCompletionInformation, Windows 8.1), and is
 * never told to skip signalling itself (that cannot be undone). Elsewhere
 * (Wine), and for any handle the port cannot take (one associated with the
 * caller's own port already), the file's I/O goes to the pool instead:
 * slower, never wrong. f->backend says which: the state when associated.
 */
#include "engine/os.h"
#include "engine/os_win.h"

#define MAPIO__BE_PREFIX iocp
#include "engine/pooled.h"

MAPIO__BACKEND_DECLARE()

/* Completion keys of the port's own packets; files use their fstate pointer. */
#define KEY_WAKE ((ULONG_PTR)1)
#define KEY_POOL ((ULONG_PTR)2)
/* Packets taken per GetQueuedCompletionStatusEx. */
#define BATCH 64

/* A request's backend area while the backend holds it. */
struct iocp_req {
    OVERLAPPED ov;
    mapio_req_t *req;
    struct iocp_req *prev, *next; /* overlapped calls in flight (polling thread) */
    uint64_t vdone;               /* vectored: bytes of earlier buffers done */
    uint32_t vidx;                /* vectored: the buffer in flight */
    uint32_t issued;              /* bytes asked for by the call in flight */
    uint8_t vectored;
    uint8_t in_flight; /* an overlapped call is out: its packet will come */
};

_Static_assert(sizeof(struct iocp_req) <= MAPIO__REQ_BACKEND_SPACE,
               "a request's backend area must hold the IOCP state (OVERLAPPED and links)");
_Static_assert(sizeof(struct mapio__req_priv) <= sizeof(((mapio_req_t *)0)->priv),
               "request private area too small for IOCP");

struct iocp_state {
    HANDLE port;
    mapio_engine_t *eng;
    struct mapio__pool *pool;
    struct iocp_req *calls; /* in flight (polling thread) */
    bool can_leave;         /* a handle's association can be undone */
};

/* FileReplaceCompletionInformation (Windows 8.1) and its argument. */
#define REPLACE_COMPLETION_CLASS 61
struct completion_info {
    HANDLE port;
    void *key;
};

/*
 * Can this system undo a handle's association? Asked without a handle: a
 * system that knows the class checks the handle next and says
 * STATUS_INVALID_HANDLE; one that does not says so first
 * (STATUS_INVALID_INFO_CLASS, Wine's STATUS_NOT_IMPLEMENTED). Anything
 * unexpected counts as no: the pool is the safe answer.
 */
static bool can_leave_port(void)
{
    struct completion_info none = { NULL, NULL };
    return mapio__win_nt_set_file(NULL, &none, sizeof none, REPLACE_COMPLETION_CLASS) ==
           (long)0xC0000008L; /* STATUS_INVALID_HANDLE */
}

static struct iocp_req *ir_of(mapio_req_t *req)
{
    return (struct iocp_req *)(void *)mapio__rp(req)->backend.bytes;
}

static void post(struct iocp_state *s, ULONG_PTR key)
{
    /* Fails only when the system is out of nonpaged memory; the loop then
     * finds the work on its next timed wait or its next poll. */
    PostQueuedCompletionStatus(s->port, 0, key, NULL);
}

static void pool_notify(void *arg)
{
    post(arg, KEY_POOL);
}

static int iocp_be_init(mapio_engine_t *eng, const mapio_engine_opts_t *opts, void **state)
{
    struct iocp_state *s = mapio__calloc(1, sizeof *s);
    if (s == NULL)
        return MAPIO_ENOMEM;
    s->eng = eng;
    /* One thread (the polling one) dequeues. */
    s->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
    if (s->port == NULL) {
        int err = mapio__win_last();
        mapio__engine_detail(eng, "CreateIoCompletionPort: %s (Windows error %lu)",
                             mapio_strerror(err), (unsigned long)mapio__win_last_error());
        mapio__free(s);
        return err;
    }
    int err = mapio__pooled_new(&s->pool, opts->workers, pool_notify, s);
    if (err != 0) {
        mapio__engine_detail(eng, "worker pool: %s", mapio_strerror(err));
        CloseHandle(s->port);
        mapio__free(s);
        return err;
    }
    s->can_leave = can_leave_port();
    *state = s;
    return 0;
}

static unsigned dequeue(struct iocp_state *s, DWORD timeout_ms, int *err);

static int iocp_be_destroy(void *state)
{
    struct iocp_state *s = state;
    /* The engine calls this once every request has completed; should a call
     * still be out (the engine gave up on a failing wait), stop it and take
     * its packet, so the kernel never writes into a request handed back. */
    for (int round = 0; s->calls != NULL && round < 100; round++) {
        for (struct iocp_req *c = s->calls; c != NULL; c = c->next)
            CancelIoEx(mapio__rp(c->req)->fs->fd, &c->ov);
        int err = 0;
        dequeue(s, 100, &err);
    }
    mapio__pool_free(s->pool);
    CloseHandle(s->port);
    mapio__free(s);
    return 0;
}

static int iocp_be_attach(void *state, struct mapio__fstate *f)
{
    struct iocp_state *s = state;
    f->backend = NULL;
    if (f->flags & MAPIO_OPEN_DIRECTORY)
        return 0; /* nothing on it is overlapped: the port has no use for it */
    if (!f->owns_fd && !s->can_leave)
        return 0; /* it would stay ours after the close: the pool's */
    if (CreateIoCompletionPort(f->fd, s->port, (ULONG_PTR)f, 0) == NULL)
        return 0; /* on another port already (adopted), or no memory: the pool's */
    f->backend = s;
    /* Nobody waits on the file handle itself: don't signal it per call -
     * unless it goes back to the caller, who may. */
    if (f->owns_fd)
        SetFileCompletionNotificationModes(f->fd, FILE_SKIP_SET_EVENT_ON_HANDLE);
    return 0;
}

static int iocp_be_detach(void *state, struct mapio__fstate *f)
{
    /* A handle of ours ends its association when it is closed (and may be
     * closed already): nothing to do. One the caller keeps goes back
     * without it, which can_leave said this system can do. */
    if (f->backend != NULL && !f->owns_fd) {
        struct completion_info none = { NULL, NULL };
        mapio__win_nt_set_file(f->fd, &none, sizeof none, REPLACE_COMPLETION_CLASS);
    }
    f->backend = NULL;
    return 0;
}

static void track(struct iocp_state *s, struct iocp_req *ir)
{
    ir->prev = NULL;
    ir->next = s->calls;
    if (s->calls != NULL)
        s->calls->prev = ir;
    s->calls = ir;
    ir->in_flight = 1;
}

static void untrack(struct iocp_state *s, struct iocp_req *ir)
{
    if (ir->prev != NULL)
        ir->prev->next = ir->next;
    else
        s->calls = ir->next;
    if (ir->next != NULL)
        ir->next->prev = ir->prev;
    ir->in_flight = 0;
}

/*
 * Start the overlapped call for ir's current piece. Returns 1 if a packet
 * will come, else the result to report now: 0 (end of file, or no buffer
 * left) or a negative errno (a shortage of system resources among them,
 * which the caller may route to the pool).
 */
static int64_t start(struct iocp_state *s, struct iocp_req *ir)
{
    mapio_req_t *req = ir->req;
    HANDLE h = mapio__rp(req)->fs->fd;
    struct mapio__seg seg;
    mapio__req_seg(req, &seg);
    void *buf = seg.buf;
    size_t len = seg.len;
    uint64_t off = seg.offset;
    if (ir->vectored) {
        while (ir->vidx < seg.iovcnt && seg.iov[ir->vidx].iov_len == 0)
            ir->vidx++;
        if (ir->vidx == seg.iovcnt)
            return 0;
        buf = seg.iov[ir->vidx].iov_base;
        len = MAPIO__MIN(seg.iov[ir->vidx].iov_len, MAPIO__IO_CHUNK);
        off += ir->vdone;
    }
    memset(&ir->ov, 0, sizeof ir->ov);
    ir->ov.Offset = (DWORD)off;
    ir->ov.OffsetHigh = (DWORD)(off >> 32);
    ir->issued = (uint32_t)len;
    track(s, ir);
    BOOL ok = seg.write ? WriteFile(h, buf, (DWORD)len, NULL, &ir->ov)
                        : ReadFile(h, buf, (DWORD)len, NULL, &ir->ov);
    DWORD code = ok ? ERROR_SUCCESS : GetLastError();
    if (ok || code == ERROR_IO_PENDING)
        return 1;
    untrack(s, ir); /* failed at once: no packet will come */
    if (code == ERROR_HANDLE_EOF)
        return 0;
    return mapio__win_err(code);
}

/* Too many overlapped calls for the system right now: the pool can run it. */
static bool shortage(int64_t r)
{
    DWORD raw = mapio__win_last_error();
    return r == MAPIO_ENOMEM || (r == MAPIO_EFAULT && raw == ERROR_INVALID_USER_BUFFER);
}

/* What the engine hears after a vectored request stopped at this piece. */
static int64_t vec_result(const struct iocp_req *ir, int64_t res)
{
    /* Bytes already moved are a short transfer, which the engine resumes
     * (and which then meets the error again, if it lasts). */
    if (ir->vectored && ir->vdone > 0)
        return (int64_t)ir->vdone + (res > 0 ? res : 0);
    return res;
}

static bool to_pool(const struct iocp_state *s, mapio_req_t *req)
{
    const struct mapio__fstate *fs = mapio__rp(req)->fs;
    /* The hooks see each call; calls on names have no file; MMapIO copies
     * are the pool's body; a file off the port has the pool for all. */
    if (s->eng->ctx.faults.on || fs == NULL || fs->map != NULL || fs->backend == NULL)
        return true;
    switch (req->op) {
    case MAPIO_OP_READ:
    case MAPIO_OP_READV:
        return false;
    case MAPIO_OP_WRITE:
    case MAPIO_OP_WRITEV:
        return (req->flags & MAPIO_WRITE_DSYNC) != 0;
    default:
        return true; /* syncs, fallocate, commits, the lifecycle */
    }
}

static int iocp_be_submit(void *state, mapio_req_t **reqs, unsigned n)
{
    struct iocp_state *s = state;
    unsigned from = 0;
    for (unsigned i = 0; i < n; i++) {
        mapio_req_t *req = reqs[i];
        ir_of(req)->in_flight = 0;
        if (req->op == MAPIO_OP_NOP || to_pool(s, req))
            continue; /* the pool's (no-ops complete there at once) */
        /* Not for the pool; keep the pool's ones in order around it. */
        mapio__pooled_push(s->pool, reqs + from, i - from);
        from = i + 1;
        struct iocp_req *ir = ir_of(req);
        struct mapio__seg seg;
        mapio__req_seg(req, &seg);
        ir->req = req;
        ir->vectored = seg.vectored;
        ir->vidx = 0;
        ir->vdone = 0;
        int64_t r = start(s, ir);
        if (r == 1)
            continue;
        if (shortage(r))
            mapio__pooled_push(s->pool, &req, 1);
        else
            mapio__complete(req, r);
    }
    mapio__pooled_push(s->pool, reqs + from, n - from);
    return (int)n;
}

/* One packet of an overlapped call: go on with the next buffer or report. */
static void finished(struct iocp_state *s, OVERLAPPED *ov)
{
    struct iocp_req *ir = MAPIO__CONTAINER_OF(ov, struct iocp_req, ov);
    mapio_req_t *req = ir->req;
    untrack(s, ir);
    DWORD got = 0;
    int64_t res;
    /* The packet is here, so the call is over: this only reads its status. */
    if (GetOverlappedResult(mapio__rp(req)->fs->fd, ov, &got, FALSE))
        res = (int64_t)got;
    else if (GetLastError() == ERROR_HANDLE_EOF)
        res = 0;
    else
        res = mapio__win_last();
    if (ir->vectored && res == (int64_t)ir->issued && res > 0) {
        struct mapio__seg seg;
        mapio__req_seg(req, &seg);
        bool whole = (size_t)res == seg.iov[ir->vidx].iov_len;
        ir->vdone += (uint64_t)res;
        /* A started request runs to its end, cancel or not (engine.c). */
        if (whole && ir->vidx + 1 < seg.iovcnt) {
            ir->vidx++;
            int64_t r = start(s, ir);
            if (r == 1)
                return;
            res = r < 0 && ir->vdone == 0 ? r : (r > 0 ? r : 0);
        } else {
            res = 0;
        }
    }
    mapio__complete(req, vec_result(ir, res));
}

/* Take up to BATCH packets, waiting up to timeout_ms for the first. Returns
 * how many packets there were (of any kind: a wake counts, so it is never
 * swallowed by a wait that then sleeps). */
static unsigned dequeue(struct iocp_state *s, DWORD timeout_ms, int *err)
{
    OVERLAPPED_ENTRY e[BATCH];
    ULONG n = 0;
    if (!GetQueuedCompletionStatusEx(s->port, e, BATCH, &n, timeout_ms, FALSE)) {
        DWORD code = GetLastError();
        if (code != WAIT_TIMEOUT && code != WAIT_IO_COMPLETION)
            *err = mapio__win_err(code);
        return 0;
    }
    for (ULONG i = 0; i < n; i++)
        if (e[i].lpCompletionKey != KEY_WAKE && e[i].lpCompletionKey != KEY_POOL &&
            e[i].lpOverlapped != NULL)
            finished(s, e[i].lpOverlapped);
    return (unsigned)n;
}

/* The blocking part of a wait: packets, a wake among them. */
static int block(void *arg, int timeout_ms)
{
    struct iocp_state *s = arg;
    int err = 0;
    dequeue(s, timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms, &err);
    return err;
}

static int iocp_be_wait(void *state, int timeout_ms)
{
    struct iocp_state *s = state;
    int err = 0;
    /* What is already there needs no sleep: page-cache reads complete
     * inside ReadFile, and their packets wait in the port. */
    unsigned got = 0, k;
    do
        got += k = dequeue(s, 0, &err);
    while (k == BATCH && err == 0);
    if (err != 0)
        return err;
    return mapio__pooled_wait(s->pool, timeout_ms, got > 0, block, s);
}

static int iocp_be_cancel(void *state, mapio_req_t *req)
{
    struct iocp_state *s = state;
    if (req == NULL) {
        /* Shutdown: every call out, and everything the pool has not begun. */
        for (struct iocp_req *c = s->calls; c != NULL; c = c->next)
            CancelIoEx(mapio__rp(c->req)->fs->fd, &c->ov);
        return mapio__pooled_cancel(s->pool, NULL);
    }
    struct iocp_req *ir = ir_of(req);
    if (ir->in_flight) {
        /* ERROR_NOT_FOUND: it finished already; its packet tells how. */
        CancelIoEx(mapio__rp(req)->fs->fd, &ir->ov);
        return 0;
    }
    return mapio__pooled_cancel(s->pool, req);
}

static int iocp_be_wake(void *state)
{
    post(state, KEY_WAKE);
    return 0;
}

static int iocp_be_fd(void *state)
{
    return MAPIO_ENOTSUP; /* a completion port is not a pollable descriptor */
}

MAPIO__BACKEND_NO_BUFFERS() /* nothing to pin ahead of time */

MAPIO__BACKEND_DEFINE(MAPIO_CAP_NATIVE_ASYNC | MAPIO_CAP_CANCEL_INFLIGHT);
