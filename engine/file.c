/*
 * engine/file.c - opening and closing files, validating requests before any
 * system call, and the blocking twins.
 */
#include <string.h>

#include "internal.h"
#include "mmap/map/map_os.h"

/* ---- references ------------------------------------------------------------ */

struct mapio__fstate *mapio__file_acquire(const mapio_file_t *f)
{
    if (f == NULL)
        return NULL;
    struct mapio__file_priv *fp = mapio__fp(f);
    if (fp->magic != MAPIO__FILE_MAGIC)
        return NULL;
    /* Only take a reference while one is held: at zero the file is gone for
     * good and must stay so, however late a stale caller arrives. */
    uint64_t r = atomic_load(&fp->refs);
    do {
        if (r == 0)
            return NULL;
    } while (!atomic_compare_exchange_weak(&fp->refs, &r, r + 1));
    if (atomic_load(&fp->state) != MAPIO__FILE_OPEN) {
        mapio__file_release(f);
        return NULL;
    }
    return fp->fs;
}

void mapio__file_release(const mapio_file_t *f)
{
    struct mapio__file_priv *fp = mapio__fp(f);
    if (atomic_fetch_sub(&fp->refs, 1) != 1)
        return;
    struct mapio__fstate *fs = fp->fs;
    mapio__engine_forget(fs->eng, fs);
    mapio_map_free(fs->map);
    mapio__os.close(fs->fd);
    mapio__free(fs->lats);
    mapio__free(fs);
}

/* ---- open / close ------------------------------------------------------------ */

int mapio_file_open_blocking(mapio_file_t *file, mapio_engine_t *eng, const char *path,
                             uint64_t size, unsigned flags)
{
    if (eng == NULL || path == NULL || file == NULL)
        return MAPIO_EINVAL;
    const unsigned known = MAPIO_OPEN_READ_ONLY | MAPIO_OPEN_NO_CREATE | MAPIO_OPEN_CREATE_NEW |
                           MAPIO_OPEN_TRUNCATE | MAPIO_OPEN_DIRECT | MAPIO_OPEN_DSYNC |
                           MAPIO_OPEN_HISTOGRAMS | MAPIO_OPEN_MMAP | MAPIO_OPEN_MMAP_ON_POOL;
    if ((flags & ~known) != 0)
        return MAPIO_EINVAL;
    if ((flags & MAPIO_OPEN_READ_ONLY) &&
        (flags & (MAPIO_OPEN_CREATE_NEW | MAPIO_OPEN_TRUNCATE | MAPIO_OPEN_DSYNC)))
        return MAPIO_EINVAL;
    if ((flags & MAPIO_OPEN_MMAP) && (flags & MAPIO_OPEN_DIRECT))
        return MAPIO_EINVAL; /* a mapping always goes through the page cache */
    if ((flags & MAPIO_OPEN_MMAP_ON_POOL) && !(flags & MAPIO_OPEN_MMAP))
        return MAPIO_EINVAL;
    if ((flags & MAPIO_OPEN_NO_CREATE) && (flags & MAPIO_OPEN_CREATE_NEW))
        return MAPIO_EINVAL;
    if (size > (uint64_t)INT64_MAX)
        return MAPIO_EOVERFLOW;
    if (atomic_load(&eng->shutdown))
        return MAPIO_ECANCELED;

    /* A handle still open, or closed with requests that still hold it, is
     * not the caller's to reuse yet: wiping it would free it under them. */
    struct mapio__file_priv *fp = mapio__fp(file);
    if (fp->magic == MAPIO__FILE_MAGIC && atomic_load(&fp->refs) != 0)
        return MAPIO_EBUSY;
    /* The handle reads as closed until it is fully set up; data is yours. */
    memset(&file->priv, 0, sizeof file->priv);
    fp->magic = MAPIO__FILE_MAGIC;
    atomic_store(&fp->state, MAPIO__FILE_CLOSED);

    struct mapio__fstate *fs = mapio__calloc(1, sizeof *fs);
    if (fs == NULL)
        return MAPIO_ENOMEM;
    fs->eng = eng;
    fs->flags = flags;
    fs->fixed_index = -1;
    if ((flags & MAPIO_OPEN_HISTOGRAMS) &&
        (fs->lats = mapio__calloc(1, sizeof *fs->lats)) == NULL) {
        mapio__free(fs);
        return MAPIO_ENOMEM;
    }
    fs->handle = file;
    int err = mapio__os.open(path, flags, &fs->fd);
    if (err != 0) {
        mapio__free(fs);
        return err;
    }
    uint64_t cur = 0;
    bool grown = false; /* by this call: put back if it fails */
    err = mapio__os.size(fs->fd, &cur);
    if (err == 0 && size != 0 && !(flags & MAPIO_OPEN_READ_ONLY) &&
        ((flags & MAPIO_OPEN_TRUNCATE) ? cur != size : cur < size)) {
        err = mapio__os.truncate(fs->fd, size);
        grown = err == 0 && size > cur;
    } else if (err == 0 && size == 0 && (flags & MAPIO_OPEN_TRUNCATE) && cur != 0) {
        err = mapio__os.truncate(fs->fd, 0);
    }
    if (err == 0 && (flags & MAPIO_OPEN_READ_ONLY))
        fs->size = size != 0 && size < cur ? size : cur; /* never beyond the file */
    else if (err == 0)
        fs->size = size != 0 ? size : ((flags & MAPIO_OPEN_TRUNCATE) ? 0 : cur);
    fs->mem_align = fs->io_align = 1;
    if (err == 0 && (flags & MAPIO_OPEN_DIRECT))
        err = mapio__os.dio_align(fs->fd, &fs->mem_align, &fs->io_align);
    /* MMapIO stores into the mapping, where a missing block is SIGBUS, not
     * an error: the grown part gets its blocks here (the map reserves the
     * rest when it opens), so a full disk is MAPIO_ENOSPC from this call. */
    if (err == 0 && grown && (flags & MAPIO_OPEN_MMAP))
        err = mapio__mapos_reserve(fs->fd, cur, size - cur, cur);
    if (err == 0 && (flags & MAPIO_OPEN_MMAP) && fs->size == 0) {
        /* Nothing to map, but still MMapIO: reads end at once, writes are
         * out of range - never a silent fall back to pread/pwrite. */
        err = mapio_map_new_empty(&fs->map);
    } else if (err == 0 && (flags & MAPIO_OPEN_MMAP)) {
        /* Exactly `size` bytes: the file has at least that many by now. */
        mapio_map_opts_t mo = {
            .kind = (flags & MAPIO_OPEN_READ_ONLY) ? MAPIO_MAP_READ_ONLY : MAPIO_MAP_READ_WRITE,
            .size = MAPIO_MAP_SIZE_IF_THERE,
            .len = fs->size,
        };
        err = mapio_map_new(&fs->map, path, &mo);
    }
    if (err == 0 && (flags & MAPIO_OPEN_MMAP_ON_POOL))
        err = mapio__engine_copy_pool_start(eng);
    if (err == 0)
        err = mapio__engine_attach(eng, fs);
    if (err != 0) {
        mapio_map_free(fs->map);
        if (grown)
            mapio__os.truncate(fs->fd, cur); /* also frees what was reserved */
        mapio__os.close(fs->fd);
        mapio__free(fs->lats);
        mapio__free(fs);
        return err;
    }
    fp->fs = fs;
    atomic_store(&fp->refs, 1);
    atomic_store(&fp->state, MAPIO__FILE_OPEN);
    return 0;
}

int mapio_file_close_blocking(mapio_file_t *file)
{
    if (file == NULL)
        return MAPIO_EINVAL;
    struct mapio__file_priv *fp = mapio__fp(file);
    if (fp->magic != MAPIO__FILE_MAGIC)
        return MAPIO_EBADF;
    uint32_t open = MAPIO__FILE_OPEN;
    if (!atomic_compare_exchange_strong(&fp->state, &open, MAPIO__FILE_CLOSED))
        return MAPIO_EBADF;
    mapio__file_release(file);
    return 0;
}

void *mapio_file_ptr(const mapio_file_t *file, uint64_t off)
{
    struct mapio__fstate *fs = mapio__file_acquire(file);
    if (fs == NULL)
        return NULL;
    void *p = fs->map != NULL ? mapio_map_ptr(fs->map, off) : NULL;
    mapio__file_release(file);
    return p;
}

uint64_t mapio_file_size(const mapio_file_t *file)
{
    struct mapio__fstate *fs = mapio__file_acquire(file);
    if (fs == NULL)
        return 0;
    uint64_t size = fs->size;
    mapio__file_release(file);
    return size;
}

int mapio_file_metrics(const mapio_file_t *file, mapio_metrics_t *out)
{
    if (file == NULL || out == NULL)
        return MAPIO_EINVAL;
    struct mapio__fstate *fs = mapio__file_acquire(file);
    if (fs == NULL)
        return MAPIO_EBADF;
    memset(out, 0, sizeof *out);
    mapio__counters_read(&fs->counters, &fs->counters_mt, out);
    if (fs->lats != NULL) {
        mapio__lat_read(&fs->lats->read, NULL, &out->read_latency);
        mapio__lat_read(&fs->lats->write, NULL, &out->write_latency);
        mapio__lat_read(&fs->lats->sync, NULL, &out->sync_latency);
        mapio__lat_read(&fs->lats->commit, NULL, &out->commit_latency);
    }
    out->backend = mapio_engine_backend(fs->eng);
    mapio__file_release(file);
    return 0;
}

int mapio_file_alignment(const mapio_file_t *file, uint32_t *mem, uint32_t *io)
{
    if (file == NULL)
        return MAPIO_EINVAL;
    struct mapio__fstate *fs = mapio__file_acquire(file);
    if (fs == NULL)
        return MAPIO_EBADF;
    if (mem != NULL)
        *mem = fs->mem_align;
    if (io != NULL)
        *io = fs->io_align;
    mapio__file_release(file);
    return 0;
}

/* ---- validation (before any system call) ------------------------------------- */

/* O_DIRECT: the engine's own check, because some platforms (and Wine) do not
 * reject misaligned unbuffered I/O themselves. */
static bool misaligned(const struct mapio__fstate *fs, const void *buf, uint64_t len,
                       uint64_t offset)
{
    return ((uintptr_t)buf & (fs->mem_align - 1)) != 0 || (len & (fs->io_align - 1)) != 0 ||
           (offset & (fs->io_align - 1)) != 0;
}

static bool misaligned_iov(const struct mapio__fstate *fs, const mapio_iovec_t *iov, unsigned n,
                           uint64_t offset)
{
    for (unsigned i = 0; i < n; i++)
        if (misaligned(fs, iov[i].iov_base, iov[i].iov_len, offset))
            return true;
    return false;
}

static int check_span(uint64_t len, uint64_t offset)
{
    if (len == 0 || len > MAPIO_MAX_IO)
        return MAPIO_EINVAL;
    if (!mapio__range_ok(offset, len, (uint64_t)INT64_MAX))
        return MAPIO_EOVERFLOW;
    return 0;
}

static int check_iov(const mapio_iovec_t *iov, unsigned iovcnt, size_t *total)
{
    if (iov == NULL || iovcnt == 0 || iovcnt > MAPIO_IOV_MAX)
        return MAPIO_EINVAL;
    uint64_t sum = 0;
    for (unsigned i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len != 0 && iov[i].iov_base == NULL)
            return MAPIO_EFAULT;
        if (iov[i].iov_len > MAPIO_MAX_IO - sum)
            return MAPIO_EINVAL;
        sum += iov[i].iov_len;
    }
    if (sum == 0 || sum > SIZE_MAX)
        return MAPIO_EINVAL;
    *total = (size_t)sum;
    return 0;
}

static bool is_plain_transfer(mapio_op_t op)
{
    return op == MAPIO_OP_READ || op == MAPIO_OP_WRITE || op == MAPIO_OP_READV ||
           op == MAPIO_OP_WRITEV;
}

/* MMapIO: one "call" is a copy to or from the mapping. */
static int64_t map_copy(struct mapio__fstate *fs, const struct mapio__seg *seg)
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

/* Fill the request and hand it to the engine; on error the file ref is dropped. */
static int submit(mapio_file_t *file, mapio_req_t *req, mapio_op_t op, void *buf, size_t len,
                  const mapio_iovec_t *iov, unsigned iovcnt, uint64_t offset, unsigned flags,
                  mapio_cb_t cb)
{
    int err = mapio__req_check_idle(req);
    if (err != 0)
        return err;
    struct mapio__fstate *fs = mapio__file_acquire(file);
    if (fs == NULL)
        return MAPIO_EBADF;
    bool write = op == MAPIO_OP_WRITE || op == MAPIO_OP_WRITEV || op == MAPIO_OP_COMMIT ||
                 op == MAPIO_OP_FALLOCATE;
    bool syncs = op == MAPIO_OP_FDATASYNC || op == MAPIO_OP_FSYNC || op == MAPIO_OP_COMMIT;
    if (write && (fs->flags & MAPIO_OPEN_READ_ONLY))
        err = MAPIO_EBADF;
    else if (syncs && atomic_load(&fs->sticky) != 0)
        err = MAPIO_EIO;
    else if ((fs->flags & MAPIO_OPEN_DIRECT) && op != MAPIO_OP_FALLOCATE &&
             op != MAPIO_OP_COMMIT && /* its writes are checked one by one */
             (iov != NULL ? misaligned_iov(fs, iov, iovcnt, offset)
                          : buf != NULL && misaligned(fs, buf, len, offset)))
        err = MAPIO_EINVAL;
    if (err != 0) {
        mapio__file_release(file);
        return err;
    }
    req->op = op;
    req->cb = cb;
    req->file = file;
    req->offset = offset;
    req->buf = buf;
    req->len = len;
    req->iov = iov;
    req->iovcnt = iovcnt;
    req->flags = flags;
    mapio__rp(req)->fs = fs;
    if (fs->map != NULL && is_plain_transfer(op) && !(fs->flags & MAPIO_OPEN_MMAP_ON_POOL)) {
        /* MMapIO: the memcpy happens here, on the submitting thread (with
         * MAPIO_OPEN_MMAP_ON_POOL the engine hands it to its copy pool). */
        mapio__rp(req)->done = 0;
        err = mapio__engine_submit_done(fs->eng, req, mapio__do_sync(fs, req));
    } else {
        err = mapio__engine_submit(fs->eng, req);
    }
    if (err != 0)
        mapio__file_release(file);
    return err;
}

static int rw_at(mapio_file_t *file, mapio_req_t *req, mapio_op_t op, void *buf, size_t len,
                 uint64_t offset, unsigned flags, mapio_cb_t cb)
{
    if (file == NULL || req == NULL || cb == NULL || (flags & ~(unsigned)MAPIO_WRITE_DSYNC))
        return MAPIO_EINVAL;
    int err = check_span(len, offset);
    if (err != 0)
        return err;
    if (buf == NULL)
        return MAPIO_EFAULT;
    return submit(file, req, op, buf, len, NULL, 0, offset, flags, cb);
}

int mapio_read_at(mapio_file_t *file, mapio_req_t *req, void *buf, size_t len, uint64_t offset,
                  mapio_cb_t cb)
{
    return rw_at(file, req, MAPIO_OP_READ, buf, len, offset, 0, cb);
}

int mapio_write_at(mapio_file_t *file, mapio_req_t *req, const void *buf, size_t len,
                   uint64_t offset, mapio_cb_t cb)
{
    /* The engine never writes through buf; the cast only shares one field. */
    return rw_at(file, req, MAPIO_OP_WRITE, (void *)(uintptr_t)buf, len, offset, 0, cb);
}

int mapio_write_at_flags(mapio_file_t *file, mapio_req_t *req, const void *buf, size_t len,
                         uint64_t offset, unsigned flags, mapio_cb_t cb)
{
    return rw_at(file, req, MAPIO_OP_WRITE, (void *)(uintptr_t)buf, len, offset, flags, cb);
}

static int rwv_at(mapio_file_t *file, mapio_req_t *req, mapio_op_t op, const mapio_iovec_t *iov,
                  unsigned iovcnt, uint64_t offset, mapio_cb_t cb)
{
    if (file == NULL || req == NULL || cb == NULL)
        return MAPIO_EINVAL;
    size_t total = 0;
    int err = check_iov(iov, iovcnt, &total);
    if (err == 0)
        err = check_span(total, offset);
    if (err != 0)
        return err;
    return submit(file, req, op, NULL, total, iov, iovcnt, offset, 0, cb);
}

int mapio_readv_at(mapio_file_t *file, mapio_req_t *req, const mapio_iovec_t *iov, unsigned iovcnt,
                   uint64_t offset, mapio_cb_t cb)
{
    return rwv_at(file, req, MAPIO_OP_READV, iov, iovcnt, offset, cb);
}

int mapio_writev_at(mapio_file_t *file, mapio_req_t *req, const mapio_iovec_t *iov, unsigned iovcnt,
                    uint64_t offset, mapio_cb_t cb)
{
    return rwv_at(file, req, MAPIO_OP_WRITEV, iov, iovcnt, offset, cb);
}

static int sync_op(mapio_file_t *file, mapio_req_t *req, mapio_op_t op, mapio_cb_t cb)
{
    if (file == NULL || req == NULL || cb == NULL)
        return MAPIO_EINVAL;
    return submit(file, req, op, NULL, 0, NULL, 0, 0, 0, cb);
}

int mapio_sync_data(mapio_file_t *file, mapio_req_t *req, mapio_cb_t cb)
{
    return sync_op(file, req, MAPIO_OP_FDATASYNC, cb);
}

int mapio_sync_all(mapio_file_t *file, mapio_req_t *req, mapio_cb_t cb)
{
    return sync_op(file, req, MAPIO_OP_FSYNC, cb);
}

int mapio_commit(mapio_file_t *file, mapio_req_t *req, const mapio_write_t *writes, unsigned n,
                 mapio_cb_t cb)
{
    if (file == NULL || req == NULL || cb == NULL || (writes == NULL && n > 0) || n > MAPIO_IOV_MAX)
        return MAPIO_EINVAL;
    for (unsigned i = 0; i < n; i++) {
        if (writes[i].len == 0)
            continue;
        if (writes[i].buf == NULL)
            return MAPIO_EFAULT;
        if (writes[i].len > MAPIO_MAX_IO ||
            !mapio__range_ok(writes[i].offset, writes[i].len, (uint64_t)INT64_MAX))
            return MAPIO_EOVERFLOW;
    }
    struct mapio__fstate *fs = mapio__file_acquire(file);
    if (fs == NULL)
        return MAPIO_EBADF;
    bool direct = (fs->flags & MAPIO_OPEN_DIRECT) != 0;
    bool bad = false;
    for (unsigned i = 0; direct && i < n; i++)
        bad |= writes[i].len != 0 && misaligned(fs, writes[i].buf, writes[i].len, writes[i].offset);
    mapio__file_release(file);
    if (bad)
        return MAPIO_EINVAL;
    /* The batch travels in buf/iovcnt; the engine walks its merged pieces. */
    return submit(file, req, MAPIO_OP_COMMIT, (void *)(uintptr_t)writes, 0, NULL, n, 0, 0, cb);
}

int mapio_fallocate(mapio_file_t *file, mapio_req_t *req, uint64_t offset, uint64_t len,
                    unsigned flags, mapio_cb_t cb)
{
    if (file == NULL || req == NULL || cb == NULL || (flags & ~(unsigned)MAPIO_FALLOCATE_KEEP_SIZE))
        return MAPIO_EINVAL;
    int err = check_span(len, offset);
    if (err != 0)
        return err;
    return submit(file, req, MAPIO_OP_FALLOCATE, NULL, (size_t)len, NULL, 0, offset, flags, cb);
}

/* ---- synchronous execution ---------------------------------------------------- */

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
        break;
    }
    mapio__req_seg_limit(req, limit, &seg);
    if (fs->map != NULL && is_plain_transfer(req->op))
        return map_copy(fs, &seg);
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
    mapio_engine_t *eng = fs->eng;
    if (!eng->has_faults)
        return os_call(fs, req, UINT64_MAX);
    mapio_fault_call_t call;
    int64_t b = mapio__fault_before(eng, req, &call);
    if (b < 0 && b != MAPIO_FAULT_PASS)
        return b;
    int64_t r = os_call(fs, req, b == MAPIO_FAULT_PASS ? UINT64_MAX : (uint64_t)b);
    return mapio__fault_after(eng, req, r);
}

/*
 * Run a request to its end on this thread: the worker pool's body, and the
 * blocking twins'. Same resumption rules as mapio__complete(), so a request
 * finishes identically on every backend.
 */
int64_t mapio__do_sync(struct mapio__fstate *fs, mapio_req_t *req)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    bool commit = req->op == MAPIO_OP_COMMIT;
    bool write = req->op == MAPIO_OP_WRITE || req->op == MAPIO_OP_WRITEV || commit;
    bool transfer = write || req->op == MAPIO_OP_READ || req->op == MAPIO_OP_READV;
    for (;;) {
        /* A commit with nothing (left) to write is done writing; a fused one
         * syncs right here, in the same job. */
        if (commit && rp->span.len == 0) {
            if (rp->fused) {
                mapio_req_t sreq;
                sreq.op = MAPIO_OP_FDATASYNC;
                sreq.file = req->file;
                sreq.flags = 0;
                mapio__rp(&sreq)->fs = fs;
                do
                    rp->fused_sres = syscall_once(fs, &sreq);
                while (rp->fused_sres == MAPIO_EINTR || rp->fused_sres == MAPIO_EAGAIN);
            }
            return 0;
        }
        int64_t r = syscall_once(fs, req);
        if (r == MAPIO_EINTR || r == MAPIO_EAGAIN) {
            MAPIO__COUNT(&fs->counters_mt, retries, 1);
            MAPIO__COUNT(&fs->eng->counters_mt, retries, 1);
            continue;
        }
        if (!transfer)
            return r;
        if (r > 0) {
            rp->done += (uint64_t)r;
            uint64_t want = commit ? rp->span.len : req->len;
            if (rp->done < want) {
                MAPIO__COUNT(&fs->counters_mt, short_io_resumed, 1);
                MAPIO__COUNT(&fs->eng->counters_mt, short_io_resumed, 1);
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

static int64_t blocking(mapio_file_t *file, mapio_op_t op, void *buf, size_t len, uint64_t offset)
{
    if (file == NULL)
        return MAPIO_EINVAL;
    bool sync = op == MAPIO_OP_FDATASYNC || op == MAPIO_OP_FSYNC;
    if (!sync) {
        int err = check_span(len, offset);
        if (err != 0)
            return err;
        if (buf == NULL)
            return MAPIO_EFAULT;
    }
    struct mapio__fstate *fs = mapio__file_acquire(file);
    if (fs == NULL)
        return MAPIO_EBADF;
    int64_t err = 0;
    if (op == MAPIO_OP_WRITE && (fs->flags & MAPIO_OPEN_READ_ONLY))
        err = MAPIO_EBADF;
    else if (sync && atomic_load(&fs->sticky) != 0)
        err = MAPIO_EIO;
    else if (!sync && (fs->flags & MAPIO_OPEN_DIRECT) && misaligned(fs, buf, len, offset))
        err = MAPIO_EINVAL;
    if (err != 0) {
        mapio__file_release(file);
        return err;
    }
    /* A request on the stack, never queued: the twins share the pool's body. */
    mapio_req_t req;
    req.op = op;
    req.file = file;
    req.buf = buf;
    req.len = len;
    req.offset = offset;
    req.iov = NULL;
    req.iovcnt = 0;
    req.flags = 0;
    mapio__rp(&req)->done = 0;
    mapio__rp(&req)->fs = fs;
    uint64_t t0 = mapio__os.now_ns();
    req.result = mapio__do_sync(fs, &req);
    if (sync)
        req.result = mapio__sync_result(fs, req.result);
    uint64_t ns = mapio__os.now_ns() - t0;
    mapio__account(&fs->eng->counters_mt, &req, ns / 1000, false);
    mapio__account(&fs->counters_mt, &req, ns / 1000, false);
    mapio__lat_account(&fs->eng->lat_mt, &req, ns, false);
    if (fs->lats != NULL)
        mapio__lat_account(fs->lats, &req, ns, false);
    mapio__file_release(file);
    return req.result;
}

int64_t mapio_read_at_blocking(mapio_file_t *file, void *buf, size_t len, uint64_t offset)
{
    return blocking(file, MAPIO_OP_READ, buf, len, offset);
}

int64_t mapio_write_at_blocking(mapio_file_t *file, const void *buf, size_t len, uint64_t offset)
{
    return blocking(file, MAPIO_OP_WRITE, (void *)(uintptr_t)buf, len, offset);
}

int mapio_sync_data_blocking(mapio_file_t *file)
{
    return (int)blocking(file, MAPIO_OP_FDATASYNC, NULL, 0, 0);
}

int mapio_sync_all_blocking(mapio_file_t *file)
{
    return (int)blocking(file, MAPIO_OP_FSYNC, NULL, 0, 0);
}
