/*
 * engine/io.c - the public file API: opening and closing, what a handle
 * tells, every request submission, and the blocking twins.
 *
 * Everything is validated here, before any system call: a call that
 * returns an error never reaches the backend, and never runs its callback.
 */
#include <string.h>

#include "engine.h"
#include "exec.h"
#include "mmap/map/map_os.h"
#include "os.h"

/* ---- open / close ------------------------------------------------------------ */

static int check_open_flags(uint64_t size, unsigned flags)
{
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
    return 0;
}

/* Make file ours to fill: it reads as closed until fully set up. */
static int claim_handle(mapio_file_t *file)
{
    /* A handle still open, or closed with requests that still hold it, is
     * not the caller's to reuse yet: wiping it would free it under them. */
    struct mapio__file_priv *fp = mapio__fp(file);
    if (fp->magic == MAPIO__FILE_MAGIC && atomic_load(&fp->refs) != 0)
        return MAPIO_EBUSY;
    memset(&file->priv, 0, sizeof file->priv); /* data is the caller's */
    fp->magic = MAPIO__FILE_MAGIC;
    atomic_store(&fp->state, MAPIO__FILE_CLOSED);
    return 0;
}

/*
 * Size the open descriptor as asked, discover its O_DIRECT alignment, and
 * map it for MMapIO. *grown says whether this grew the file (from *cur), to
 * be put back if the open fails later.
 */
static int set_up(struct mapio__fstate *fs, const char *path, uint64_t size, uint64_t *cur,
                  bool *grown)
{
    unsigned flags = fs->flags;
    int err = mapio__os.size(fs->fd, cur);
    if (err == 0 && size != 0 && !(flags & MAPIO_OPEN_READ_ONLY) &&
        ((flags & MAPIO_OPEN_TRUNCATE) ? *cur != size : *cur < size)) {
        err = mapio__os.truncate(fs->fd, size);
        *grown = err == 0 && size > *cur;
    } else if (err == 0 && size == 0 && (flags & MAPIO_OPEN_TRUNCATE) && *cur != 0) {
        err = mapio__os.truncate(fs->fd, 0);
    }
    if (err != 0)
        return err;
    if (flags & MAPIO_OPEN_READ_ONLY)
        fs->size = size != 0 && size < *cur ? size : *cur; /* never beyond the file */
    else
        fs->size = size != 0 ? size : ((flags & MAPIO_OPEN_TRUNCATE) ? 0 : *cur);
    fs->mem_align = fs->io_align = 1;
    if (flags & MAPIO_OPEN_DIRECT)
        err = mapio__os.dio_align(fs->fd, &fs->mem_align, &fs->io_align);
    if (err != 0 || !(flags & MAPIO_OPEN_MMAP))
        return err;
    /* MMapIO stores into the mapping, where a missing block is SIGBUS, not
     * an error: the grown part gets its blocks here (the map reserves the
     * rest when it opens), so a full disk is MAPIO_ENOSPC from this call. */
    if (*grown)
        err = mapio__mapos_reserve(fs->fd, *cur, size - *cur, *cur);
    if (err != 0)
        return err;
    if (fs->size == 0) {
        /* Nothing to map, but still MMapIO: reads end at once, writes are
         * out of range - never a silent fall back to pread/pwrite. */
        return mapio_map_new_empty(&fs->map);
    }
    /* Exactly `size` bytes: the file has at least that many by now. */
    mapio_map_opts_t mo = {
        .kind = (flags & MAPIO_OPEN_READ_ONLY) ? MAPIO_MAP_READ_ONLY : MAPIO_MAP_READ_WRITE,
        .size = MAPIO_MAP_SIZE_IF_THERE,
        .len = fs->size,
    };
    return mapio_map_new(&fs->map, path, &mo);
}

int mapio_file_open_blocking(mapio_file_t *file, mapio_engine_t *eng, const char *path,
                             uint64_t size, unsigned flags)
{
    if (eng == NULL || path == NULL || file == NULL)
        return MAPIO_EINVAL;
    int err = check_open_flags(size, flags);
    if (err != 0)
        return err;
    if (atomic_load(&eng->ctx.shutdown))
        return MAPIO_ECANCELED;
    if ((err = claim_handle(file)) != 0)
        return err;
    struct mapio__fstate *fs = mapio__calloc(1, sizeof *fs);
    if (fs == NULL)
        return MAPIO_ENOMEM;
    fs->eng = eng;
    fs->ctx = &eng->ctx;
    fs->flags = flags;
    fs->fixed_index = -1;
    fs->handle = file;
    if ((flags & MAPIO_OPEN_HISTOGRAMS) &&
        (fs->lats = mapio__calloc(1, sizeof *fs->lats)) == NULL) {
        mapio__free(fs);
        return MAPIO_ENOMEM;
    }
    if ((err = mapio__os.open(path, flags, &fs->fd)) != 0) {
        mapio__free(fs->lats);
        mapio__free(fs);
        return err;
    }
    uint64_t cur = 0;
    bool grown = false;
    err = set_up(fs, path, size, &cur, &grown);
    if (err == 0 && (flags & MAPIO_OPEN_MMAP_ON_POOL))
        err = mapio__engine_copy_pool_start(eng);
    if (err == 0)
        err = mapio__engine_attach(eng, fs);
    if (err != 0) {
        if (grown)
            mapio__os.truncate(fs->fd, cur); /* also frees what was reserved */
        mapio__file_destroy(fs);
        return err;
    }
    struct mapio__file_priv *fp = mapio__fp(file);
    fp->fs = fs;
    atomic_store(&fp->refs, 1);
    atomic_store(&fp->state, MAPIO__FILE_OPEN);
    return 0;
}

int mapio_file_close_blocking(mapio_file_t *file)
{
    if (file == NULL)
        return MAPIO_EINVAL;
    if (mapio__fp(file)->magic != MAPIO__FILE_MAGIC || !mapio__file_mark_closed(file))
        return MAPIO_EBADF;
    mapio__engine_release(mapio__fp(file)->fs);
    return 0;
}

/* ---- what a handle tells ------------------------------------------------------ */

void *mapio_file_ptr(const mapio_file_t *file, uint64_t off)
{
    struct mapio__fstate *fs = mapio__engine_acquire(file);
    if (fs == NULL)
        return NULL;
    void *p = fs->map != NULL ? mapio_map_ptr(fs->map, off) : NULL;
    mapio__engine_release(fs);
    return p;
}

uint64_t mapio_file_size(const mapio_file_t *file)
{
    struct mapio__fstate *fs = mapio__engine_acquire(file);
    if (fs == NULL)
        return 0;
    uint64_t size = fs->size;
    mapio__engine_release(fs);
    return size;
}

int mapio_file_metrics(const mapio_file_t *file, mapio_metrics_t *out)
{
    if (file == NULL || out == NULL)
        return MAPIO_EINVAL;
    struct mapio__fstate *fs = mapio__engine_acquire(file);
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
    mapio__engine_release(fs);
    return 0;
}

int mapio_file_alignment(const mapio_file_t *file, uint32_t *mem, uint32_t *io)
{
    if (file == NULL)
        return MAPIO_EINVAL;
    struct mapio__fstate *fs = mapio__engine_acquire(file);
    if (fs == NULL)
        return MAPIO_EBADF;
    if (mem != NULL)
        *mem = fs->mem_align;
    if (io != NULL)
        *io = fs->io_align;
    mapio__engine_release(fs);
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
                  const mapio_iovec_t *iov, unsigned iovcnt, uint64_t offset, unsigned flags,
                  mapio_cb_t cb)
{
    int err = mapio__req_check_idle(req);
    if (err != 0)
        return err;
    struct mapio__fstate *fs = mapio__engine_acquire(file);
    if (fs == NULL)
        return MAPIO_EBADF;
    bool write = mapio__op_is_write(op) || op == MAPIO_OP_FALLOCATE;
    bool syncs = mapio__op_is_sync(op) || op == MAPIO_OP_COMMIT;
    if (write && (fs->flags & MAPIO_OPEN_READ_ONLY))
        err = MAPIO_EBADF;
    else if (syncs && atomic_load(&fs->sticky) != 0)
        err = MAPIO_EIO;
    else if ((fs->flags & MAPIO_OPEN_DIRECT) && op != MAPIO_OP_FALLOCATE &&
             op != MAPIO_OP_COMMIT && /* its writes are checked one by one */
             (iov != NULL ? mapio__file_misaligned_iov(fs, iov, iovcnt, offset)
                          : buf != NULL && mapio__file_misaligned(fs, buf, len, offset)))
        err = MAPIO_EINVAL;
    if (err != 0) {
        mapio__engine_release(fs);
        return err;
    }
    mapio__req_fill(req, op, file, buf, len, iov, iovcnt, offset, flags, cb);
    mapio__rp(req)->fs = fs;
    if (fs->map != NULL && mapio__op_is_plain_transfer(op) &&
        !(fs->flags & MAPIO_OPEN_MMAP_ON_POOL)) {
        /* MMapIO: the memcpy happens here, on the submitting thread (with
         * MAPIO_OPEN_MMAP_ON_POOL the engine hands it to its copy pool). */
        mapio__rp(req)->done = 0;
        err = mapio__engine_submit_carried(fs->eng, req, mapio__exec(fs, req));
    } else {
        err = mapio__engine_submit(fs->eng, req);
    }
    if (err != 0)
        mapio__engine_release(fs);
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
    struct mapio__fstate *fs = mapio__engine_acquire(file);
    if (fs == NULL)
        return MAPIO_EBADF;
    bool direct = (fs->flags & MAPIO_OPEN_DIRECT) != 0;
    bool bad = false;
    for (unsigned i = 0; direct && i < n; i++)
        bad |= writes[i].len != 0 &&
               mapio__file_misaligned(fs, writes[i].buf, writes[i].len, writes[i].offset);
    mapio__engine_release(fs);
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

/* ---- the blocking twins --------------------------------------------------------- */

static int64_t blocking(mapio_file_t *file, mapio_op_t op, void *buf, size_t len, uint64_t offset)
{
    if (file == NULL)
        return MAPIO_EINVAL;
    bool sync = mapio__op_is_sync(op);
    if (!sync) {
        int err = check_span(len, offset);
        if (err != 0)
            return err;
        if (buf == NULL)
            return MAPIO_EFAULT;
    }
    struct mapio__fstate *fs = mapio__engine_acquire(file);
    if (fs == NULL)
        return MAPIO_EBADF;
    int64_t err = 0;
    if (op == MAPIO_OP_WRITE && (fs->flags & MAPIO_OPEN_READ_ONLY))
        err = MAPIO_EBADF;
    else if (sync && atomic_load(&fs->sticky) != 0)
        err = MAPIO_EIO;
    else if (!sync && (fs->flags & MAPIO_OPEN_DIRECT) &&
             mapio__file_misaligned(fs, buf, len, offset))
        err = MAPIO_EINVAL;
    if (err != 0) {
        mapio__engine_release(fs);
        return err;
    }
    /* A request on the stack, never queued: the twins share the pool's body. */
    mapio_req_t req;
    mapio__req_fill(&req, op, file, buf, len, NULL, 0, offset, 0, NULL);
    mapio__rp(&req)->done = 0;
    mapio__rp(&req)->fs = fs;
    uint64_t t0 = mapio__os.now_ns();
    req.result = mapio__exec(fs, &req);
    if (sync)
        req.result = mapio__file_sync_result(fs, req.result);
    uint64_t ns = mapio__os.now_ns() - t0;
    mapio__account(&fs->ctx->counters_mt, &req, ns / 1000, false);
    mapio__account(&fs->counters_mt, &req, ns / 1000, false);
    mapio__lat_account(&fs->ctx->lat_mt, &req, ns, false);
    if (fs->lats != NULL)
        mapio__lat_account(fs->lats, &req, ns, false);
    mapio__engine_release(fs);
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
