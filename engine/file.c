/*
 * engine/file.c - opening and closing files, validating requests before any
 * system call, and the blocking twins.
 */
#include <string.h>

#include "internal.h"

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
    mapio__os.close(fs->fd);
    mapio__free(fs);
}

/* ---- open / close ------------------------------------------------------------ */

int mapio_open(mapio_engine_t *eng, const char *path, uint64_t size, unsigned flags,
               mapio_file_t *file)
{
    if (eng == NULL || path == NULL || file == NULL)
        return MAPIO_EINVAL;
    const unsigned known = MAPIO_OPEN_READ_ONLY | MAPIO_OPEN_NO_CREATE | MAPIO_OPEN_CREATE_NEW |
                           MAPIO_OPEN_TRUNCATE | MAPIO_OPEN_DIRECT | MAPIO_OPEN_DSYNC;
    if ((flags & ~known) != 0)
        return MAPIO_EINVAL;
    if ((flags & MAPIO_OPEN_READ_ONLY) &&
        (flags & (MAPIO_OPEN_CREATE_NEW | MAPIO_OPEN_TRUNCATE | MAPIO_OPEN_DSYNC)))
        return MAPIO_EINVAL;
    if ((flags & MAPIO_OPEN_NO_CREATE) && (flags & MAPIO_OPEN_CREATE_NEW))
        return MAPIO_EINVAL;
    if (size > (uint64_t)INT64_MAX)
        return MAPIO_EOVERFLOW;
    if (atomic_load(&eng->shutdown))
        return MAPIO_ECANCELED;

    /* The handle reads as closed until it is fully set up. */
    struct mapio__file_priv *fp = mapio__fp(file);
    memset(file, 0, sizeof *file);
    fp->magic = MAPIO__FILE_MAGIC;
    atomic_store(&fp->state, MAPIO__FILE_CLOSED);

    struct mapio__fstate *fs = mapio__calloc(1, sizeof *fs);
    if (fs == NULL)
        return MAPIO_ENOMEM;
    fs->eng = eng;
    fs->flags = flags;
    fs->fixed_index = -1;
    fs->handle = file;
    int err = mapio__os.open(path, flags, &fs->fd);
    if (err != 0) {
        mapio__free(fs);
        return err;
    }
    uint64_t cur = 0;
    err = mapio__os.size(fs->fd, &cur);
    if (err == 0 && size != 0 && !(flags & MAPIO_OPEN_READ_ONLY) &&
        ((flags & MAPIO_OPEN_TRUNCATE) ? cur != size : cur < size))
        err = mapio__os.truncate(fs->fd, size);
    else if (err == 0 && size == 0 && (flags & MAPIO_OPEN_TRUNCATE) && cur != 0)
        err = mapio__os.truncate(fs->fd, 0);
    if (err == 0)
        fs->size = size != 0 ? size : ((flags & MAPIO_OPEN_TRUNCATE) ? 0 : cur);
    if (err == 0)
        err = mapio__engine_attach(eng, fs);
    if (err != 0) {
        mapio__os.close(fs->fd);
        mapio__free(fs);
        return err;
    }
    fp->fs = fs;
    atomic_store(&fp->refs, 1);
    atomic_store(&fp->state, MAPIO__FILE_OPEN);
    return 0;
}

int mapio_close(mapio_file_t *file)
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
    out->backend = mapio_engine_backend(fs->eng);
    mapio__file_release(file);
    return 0;
}

/* ---- validation (before any system call) ------------------------------------- */

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

/* Fill the request and hand it to the engine; on error the file ref is dropped. */
static int submit(mapio_file_t *file, mapio_req_t *req, mapio_op_t op, void *buf, size_t len,
                  const mapio_iovec_t *iov, unsigned iovcnt, uint64_t offset, mapio_cb_t cb)
{
    struct mapio__fstate *fs = mapio__file_acquire(file);
    if (fs == NULL)
        return MAPIO_EBADF;
    bool write = op == MAPIO_OP_WRITE || op == MAPIO_OP_WRITEV;
    if (write && (fs->flags & MAPIO_OPEN_READ_ONLY)) {
        mapio__file_release(file);
        return MAPIO_EBADF;
    }
    req->op = op;
    req->cb = cb;
    req->file = file;
    req->offset = offset;
    req->buf = buf;
    req->len = len;
    req->iov = iov;
    req->iovcnt = iovcnt;
    req->flags = 0;
    mapio__rp(req)->fs = fs;
    int err = mapio__engine_submit(fs->eng, req);
    if (err != 0)
        mapio__file_release(file);
    return err;
}

static int rw_at(mapio_file_t *file, mapio_req_t *req, mapio_op_t op, void *buf, size_t len,
                 uint64_t offset, mapio_cb_t cb)
{
    if (file == NULL || req == NULL || cb == NULL)
        return MAPIO_EINVAL;
    int err = check_span(len, offset);
    if (err != 0)
        return err;
    if (buf == NULL)
        return MAPIO_EFAULT;
    return submit(file, req, op, buf, len, NULL, 0, offset, cb);
}

int mapio_read_at(mapio_file_t *file, mapio_req_t *req, void *buf, size_t len, uint64_t offset,
                  mapio_cb_t cb)
{
    return rw_at(file, req, MAPIO_OP_READ, buf, len, offset, cb);
}

int mapio_write_at(mapio_file_t *file, mapio_req_t *req, const void *buf, size_t len,
                   uint64_t offset, mapio_cb_t cb)
{
    /* The engine never writes through buf; the cast only shares one field. */
    return rw_at(file, req, MAPIO_OP_WRITE, (void *)(uintptr_t)buf, len, offset, cb);
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
    return submit(file, req, op, NULL, total, iov, iovcnt, offset, cb);
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
    return submit(file, req, op, NULL, 0, NULL, 0, 0, cb);
}

int mapio_sync_data(mapio_file_t *file, mapio_req_t *req, mapio_cb_t cb)
{
    return sync_op(file, req, MAPIO_OP_FDATASYNC, cb);
}

int mapio_sync_all(mapio_file_t *file, mapio_req_t *req, mapio_cb_t cb)
{
    return sync_op(file, req, MAPIO_OP_FSYNC, cb);
}

/* ---- synchronous execution ---------------------------------------------------- */

/* One system call for the request's current segment. */
static int64_t syscall_once(struct mapio__fstate *fs, mapio_req_t *req)
{
    struct mapio__seg seg;
    switch (req->op) {
    case MAPIO_OP_NOP:
        return 0;
    case MAPIO_OP_FDATASYNC:
        return mapio__os.fdatasync(fs->fd);
    case MAPIO_OP_FSYNC:
        return mapio__os.fsync(fs->fd);
    default:
        break;
    }
    mapio__req_seg(req, &seg);
    if (seg.vectored)
        return seg.write ? mapio__os.pwritev(fs->fd, seg.iov, seg.iovcnt, seg.offset)
                         : mapio__os.preadv(fs->fd, seg.iov, seg.iovcnt, seg.offset);
    return seg.write ? mapio__os.pwrite(fs->fd, seg.buf, seg.len, seg.offset)
                     : mapio__os.pread(fs->fd, seg.buf, seg.len, seg.offset);
}

/*
 * Run a request to its end on this thread: the worker pool's body, and the
 * blocking twins'. Same resumption rules as mapio__complete(), so a request
 * finishes identically on every backend.
 */
int64_t mapio__do_sync(struct mapio__fstate *fs, mapio_req_t *req)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    bool write = req->op == MAPIO_OP_WRITE || req->op == MAPIO_OP_WRITEV;
    bool transfer = write || req->op == MAPIO_OP_READ || req->op == MAPIO_OP_READV;
    for (;;) {
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
            if (rp->done >= req->len)
                return (int64_t)rp->done;
            MAPIO__COUNT(&fs->counters_mt, short_io_resumed, 1);
            MAPIO__COUNT(&fs->eng->counters_mt, short_io_resumed, 1);
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
    if (op != MAPIO_OP_FDATASYNC) {
        int err = check_span(len, offset);
        if (err != 0)
            return err;
        if (buf == NULL)
            return MAPIO_EFAULT;
    }
    struct mapio__fstate *fs = mapio__file_acquire(file);
    if (fs == NULL)
        return MAPIO_EBADF;
    if (op == MAPIO_OP_WRITE && (fs->flags & MAPIO_OPEN_READ_ONLY)) {
        mapio__file_release(file);
        return MAPIO_EBADF;
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
    mapio__rp(&req)->done = 0;
    uint64_t t0 = mapio__os.now_ns();
    req.result = mapio__do_sync(fs, &req);
    uint64_t us = (mapio__os.now_ns() - t0) / 1000;
    mapio__account(&fs->eng->counters_mt, &req, us, false);
    mapio__account(&fs->counters_mt, &req, us, false);
    mapio__file_release(file);
    return req.result;
}

int64_t mapio_read_at_sync(mapio_file_t *file, void *buf, size_t len, uint64_t offset)
{
    return blocking(file, MAPIO_OP_READ, buf, len, offset);
}

int64_t mapio_write_at_sync(mapio_file_t *file, const void *buf, size_t len, uint64_t offset)
{
    return blocking(file, MAPIO_OP_WRITE, (void *)(uintptr_t)buf, len, offset);
}

int mapio_sync_data_sync(mapio_file_t *file)
{
    return (int)blocking(file, MAPIO_OP_FDATASYNC, NULL, 0, 0);
}
