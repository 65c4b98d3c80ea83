/*
 * engine/exec.c - a request run to its end on the calling thread (see
 * exec.h): the body of the worker pools and of the blocking twins.
 */
#include "ctx.h"
#include "exec.h"
#include "fault.h"
#include "mmap/map/map_os.h"
#include "os.h"
#include "req.h"

/* MMapIO: one "call" is a copy to or from the mapping. */
static int64_t map_copy_all(struct mapio__fstate *fs, const struct mapio__seg *seg)
{
    if (!seg->vectored)
        return seg->write ? mapio_map_write(fs->map, seg->offset, seg->buf, seg->len)
                          : mapio_map_read(fs->map, seg->offset, seg->buf, seg->len);
    int64_t total = 0;
    uint64_t off = seg->offset;
    for (unsigned i = 0; i < seg->iovcnt; i++) {
        int64_t r = seg->write
                        ? mapio_map_write(fs->map, off, seg->iov[i].iov_base, seg->iov[i].iov_len)
                        : mapio_map_read(fs->map, off, seg->iov[i].iov_base, seg->iov[i].iov_len);
        if (r < 0)
            return total > 0 && !seg->write ? total : r;
        total += r;
        off += (uint64_t)r;
        if ((size_t)r < seg->iov[i].iov_len)
            break; /* the end of the mapping */
    }
    return total;
}

/* An MMapIO transfer. A write that must be durable when it completes (the
 * file's O_DSYNC, a write's MAPIO_WRITE_DSYNC) is a store into the page
 * cache like any other: its pages are written back and waited for here
 * (msync MS_SYNC, which syncs the range's data as fdatasync would), so
 * that its completion tells the truth. */
static int64_t map_copy(struct mapio__fstate *fs, const struct mapio__seg *seg, bool durable)
{
    int64_t r = map_copy_all(fs, seg);
    if (r > 0 && durable) {
        int err = mapio_map_flush(fs->map, seg->offset, (uint64_t)r);
        if (err != 0)
            return err;
    }
    return r;
}

static mapio_fd_t dirfd_of(const struct mapio__fstate *dir)
{
    return dir != NULL ? dir->fd : MAPIO_INVALID_FD;
}

/*
 * An open, run whole: the descriptor (unless io_uring's OPENAT made it: the
 * FINISH step), its size, then sizing, alignment and mapping. Whatever this
 * leaves behind on failure - an open descriptor, a grown file - the engine
 * undoes (open_cur, open_grown say what to put back).
 */
static int exec_open(struct mapio__fstate *fs, struct mapio__req_priv *rp)
{
    bool finish = rp->step == MAPIO__OPEN_FINISH;
    int err = finish ? 0 : mapio__os.open(dirfd_of(rp->dir), rp->path, fs->flags, &fs->fd);
    /* A block device's size is where seeking ends, which a stat cannot
     * tell: the backend that stat-ed it leaves open_cur unknown. */
    if (err == 0 && (fs->flags & MAPIO_OPEN_DIRECTORY))
        rp->open_cur = 0; /* no size to speak of */
    else if (err == 0 && (!finish || rp->open_cur == UINT64_MAX))
        err = mapio__os.size(fs->fd, &rp->open_cur);
    if (err != 0)
        return err;
    bool grown;
    err = mapio__file_set_up(fs, rp->arg, rp->open_cur, finish && fs->io_align != 0, &grown);
    rp->open_grown = grown;
    return err;
}

/* A directory by path: open it, sync it, close it. */
static int exec_sync_dir(const struct mapio__req_priv *rp)
{
    if (rp->path == NULL)
        return mapio__os.fsync(rp->dir->fd);
    mapio_fd_t fd;
    int err = mapio__os.open(dirfd_of(rp->dir), rp->path, MAPIO_OPEN_DIRECTORY, &fd);
    if (err != 0)
        return err;
    err = mapio__os.fsync(fd);
    int cerr = mapio__os.close(fd);
    return err != 0 ? err : cerr;
}

/* The lifecycle ops: one OS call each (an open, a few). */
static int64_t life_call(struct mapio__fstate *fs, mapio_req_t *req)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    switch (req->op) {
    case MAPIO_OP_OPEN:
        return exec_open(fs, rp);
    case MAPIO_OP_CLOSE:
        return mapio__os.close(fs->fd);
    case MAPIO_OP_STAT:
        return mapio__os.stat(fs->fd, rp->stat_out);
    case MAPIO_OP_TRUNCATE:
        return mapio__os.truncate(fs->fd, rp->arg);
    case MAPIO_OP_RENAME:
        return mapio__os.rename(dirfd_of(rp->dir), rp->path, dirfd_of(rp->dir2), rp->path2,
                                rp->arg_flags);
    case MAPIO_OP_UNLINK:
        return mapio__os.unlink(dirfd_of(rp->dir), rp->path, rp->arg_flags);
    case MAPIO_OP_MKDIR:
        return mapio__os.mkdir(dirfd_of(rp->dir), rp->path, rp->arg_flags);
    case MAPIO_OP_SYNC_DIR:
        return exec_sync_dir(rp);
    case MAPIO_OP_SYNC_RANGE:
        return mapio__os.sync_range(fs->fd, req->offset, req->len, rp->arg_flags);
    default:
        return MAPIO_EINVAL; /* TIMER never leaves the engine */
    }
}

/* One system call for the request's current segment, at most limit bytes. */
static int64_t os_call(struct mapio__fstate *fs, mapio_req_t *req, uint64_t limit)
{
    struct mapio__seg seg;
    switch (req->op) {
    case MAPIO_OP_NOP:
        return 0;
    case MAPIO_OP_FDATASYNC:
    case MAPIO_OP_FSYNC:
        if (fs->map != NULL && mapio__mapos_view_flush_before_sync) {
            /* MMapIO where the mapping's stores reach the file only through
             * its view (Windows): that first, then the file's own flush. */
            int err = mapio_map_flush_async(fs->map, 0, UINT64_MAX);
            if (err != 0)
                return err;
        }
        return req->op == MAPIO_OP_FDATASYNC ? mapio__os.fdatasync(fs->fd)
                                             : mapio__os.fsync(fs->fd);
    case MAPIO_OP_FALLOCATE:
        return mapio__os.fallocate(fs->fd, req->offset, req->len,
                                   (req->flags & MAPIO_FALLOCATE_KEEP_SIZE) != 0);
    default:
        if (!mapio__op_is_transfer(req->op))
            return life_call(fs, req);
        break;
    }
    mapio__req_seg_limit(req, limit, &seg);
    if (fs->map != NULL && mapio__op_is_plain_transfer(req->op))
        return map_copy(fs, &seg,
                        seg.write &&
                            ((req->flags & MAPIO_WRITE_DSYNC) || (fs->flags & MAPIO_OPEN_DSYNC)));
    if (seg.write && (req->flags & MAPIO_WRITE_DSYNC)) {
        mapio_iovec_t one = { .iov_base = seg.buf, .iov_len = seg.len };
        return seg.vectored ? mapio__os.pwritev_dsync(fs->fd, seg.iov, seg.iovcnt, seg.offset)
                            : mapio__os.pwritev_dsync(fs->fd, &one, 1, seg.offset);
    }
    if (seg.vectored)
        return seg.write ? mapio__os.pwritev(fs->fd, seg.iov, seg.iovcnt, seg.offset)
                         : mapio__os.preadv(fs->fd, seg.iov, seg.iovcnt, seg.offset);
    return seg.write ? mapio__os.pwrite(fs->fd, seg.buf, seg.len, seg.offset)
                     : mapio__os.pread(fs->fd, seg.buf, seg.len, seg.offset);
}

/* os_call through the engine's fault hooks, when it has any. */
static int64_t syscall_once(struct mapio__fstate *fs, mapio_req_t *req)
{
    struct mapio__faults *faults = &mapio__rp(req)->ctx->faults;
    if (!faults->on)
        return os_call(fs, req, UINT64_MAX);
    mapio_fault_call_t call;
    int64_t b = mapio__fault_before(faults, req, &call);
    if (b < 0 && b != MAPIO_FAULT_PASS) {
        /* A close is made even so, its error reported after it: an
         * injected failure must not leak the descriptor. */
        if (req->op == MAPIO_OP_CLOSE)
            os_call(fs, req, UINT64_MAX);
        return b;
    }
    int64_t r = os_call(fs, req, b == MAPIO_FAULT_PASS ? UINT64_MAX : (uint64_t)b);
    return mapio__fault_after(faults, req, r);
}

/* Same resumption rules as the engine's completion of one call at a time
 * (engine.c, commit.c), so a request finishes identically everywhere. */
int64_t mapio__exec(mapio_req_t *req)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    struct mapio__fstate *fs = rp->fs;
    struct mapio__ctx *ctx = rp->ctx;
    bool commit = req->op == MAPIO_OP_COMMIT;
    bool write = req->op == MAPIO_OP_WRITE || req->op == MAPIO_OP_WRITEV || commit;
    bool transfer = write || req->op == MAPIO_OP_READ || req->op == MAPIO_OP_READV;
    for (;;) {
        /* A commit with nothing (left) to write is done writing; a fused one
         * syncs right here, in the same job. */
        if (commit && rp->span.len == 0) {
            if (rp->fused) {
                mapio_req_t sreq;
                mapio__req_fill(&sreq, MAPIO_OP_FDATASYNC, req->file, NULL, 0, NULL, 0, 0, 0, NULL);
                mapio__rp(&sreq)->fs = fs;
                mapio__rp(&sreq)->ctx = ctx;
                do
                    rp->fused_sres = syscall_once(fs, &sreq);
                while (rp->fused_sres == MAPIO_EINTR || rp->fused_sres == MAPIO_EAGAIN);
            }
            return 0;
        }
        int64_t r = syscall_once(fs, req);
        /* Never a close again: on Linux the descriptor is gone after EINTR,
         * and its number may already be someone else's. */
        if ((r == MAPIO_EINTR || r == MAPIO_EAGAIN) && req->op != MAPIO_OP_CLOSE) {
            if (fs != NULL)
                MAPIO__COUNT(&fs->counters_mt, retries, 1);
            MAPIO__COUNT(&ctx->counters_mt, retries, 1);
            continue;
        }
        if (!transfer)
            return r;
        if (r > 0) {
            rp->done += (uint64_t)r;
            uint64_t want = commit ? rp->span.len : req->len;
            if (rp->done < want) {
                MAPIO__COUNT(&fs->counters_mt, short_io_resumed, 1);
                MAPIO__COUNT(&ctx->counters_mt, short_io_resumed, 1);
                continue;
            }
            if (!commit)
                return (int64_t)rp->done;
            /* Next piece of the merged batch, if any. */
            uint64_t from = rp->span.offset + rp->span.len;
            rp->commit_bytes += rp->span.len;
            rp->commit_pieces++;
            rp->done = 0;
            if (!mapio__merge_next(req->buf, req->iovcnt, from, &rp->span))
                rp->span.len = 0;
            continue;
        }
        if (r == 0)
            return write ? MAPIO_EIO : (int64_t)rp->done;
        return !write && rp->done > 0 ? (int64_t)rp->done : r;
    }
}

void mapio__exec_work(struct mapio__work *w)
{
    mapio_req_t *req = mapio__req_of_work(w);
    req->result = mapio__exec(req);
}
