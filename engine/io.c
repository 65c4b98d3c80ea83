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

/* ---- paths and directory handles ---------------------------------------------- */

static int check_path(const char *path)
{
    if (path == NULL)
        return MAPIO_EINVAL;
    if (path[0] == '\0')
        return MAPIO_ENOENT; /* what open(2) says of an empty name */
    if (strnlen(path, MAPIO_PATH_MAX + 1) > MAPIO_PATH_MAX)
        return MAPIO_ENAMETOOLONG;
    return 0;
}

/* A reference on the directory handle a path is relative to (*out NULL: the
 * current directory). Returns 0, MAPIO_EBADF (closed) or MAPIO_ENOTDIR. */
static int acquire_dir(const mapio_file_t *dir, struct mapio__fstate **out)
{
    *out = NULL;
    if (dir == NULL)
        return 0;
    struct mapio__fstate *fs = mapio__engine_acquire(dir);
    if (fs == NULL)
        return MAPIO_EBADF;
    if (!(fs->flags & MAPIO_OPEN_DIRECTORY)) {
        mapio__engine_release(fs);
        return MAPIO_ENOTDIR;
    }
    *out = fs;
    return 0;
}

static void release_dir(struct mapio__fstate *dir)
{
    if (dir != NULL)
        mapio__engine_release(dir);
}

/* ---- open / close ------------------------------------------------------------ */

static int check_open_flags(uint64_t size, unsigned flags)
{
    const unsigned known = MAPIO_OPEN_READ_ONLY | MAPIO_OPEN_NO_CREATE | MAPIO_OPEN_CREATE_NEW |
                           MAPIO_OPEN_TRUNCATE | MAPIO_OPEN_DIRECT | MAPIO_OPEN_DSYNC |
                           MAPIO_OPEN_HISTOGRAMS | MAPIO_OPEN_MMAP | MAPIO_OPEN_MMAP_ON_POOL |
                           MAPIO_OPEN_DIRECTORY;
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
    /* A directory is opened as it is: nothing to create, size or map. */
    if ((flags & MAPIO_OPEN_DIRECTORY) &&
        ((flags & ~(unsigned)(MAPIO_OPEN_DIRECTORY | MAPIO_OPEN_READ_ONLY | MAPIO_OPEN_NO_CREATE |
                              MAPIO_OPEN_HISTOGRAMS)) ||
         size != 0))
        return MAPIO_EINVAL;
    if (size > (uint64_t)INT64_MAX)
        return MAPIO_EOVERFLOW;
    return 0;
}

/* An OPEN request's own fields: where, how large, with what flags. */
static void open_fields(mapio_req_t *req, struct mapio__fstate *fs, struct mapio__fstate *dir,
                        const char *path, uint64_t size)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    rp->fs = fs;
    rp->ctx = fs->ctx;
    rp->dir = dir;
    rp->path = path;
    rp->arg = size;
    rp->open_cur = 0;
    rp->open_grown = 0;
    rp->step = MAPIO__OPEN_ALL;
}

int mapio_file_open_blocking(mapio_file_t *file, mapio_engine_t *eng, const char *path,
                             uint64_t size, unsigned flags)
{
    if (eng == NULL || file == NULL)
        return MAPIO_EINVAL;
    int err = check_path(path);
    if (err == 0)
        err = check_open_flags(size, flags);
    struct mapio__fstate *fs;
    if (err == 0)
        err = mapio__engine_new_file(eng, file, flags, &fs);
    if (err != 0)
        return err;
    /* The pool's body, on a request on the stack that is never queued. */
    mapio_req_t req;
    mapio__req_fill(&req, MAPIO_OP_OPEN, file, NULL, 0, NULL, 0, 0, flags, NULL);
    open_fields(&req, fs, NULL, path, size);
    err = (int)mapio__exec(&req);
    if (err == 0)
        err = mapio__engine_publish(fs);
    if (err != 0)
        mapio__engine_discard(fs, mapio__rp(&req)->open_cur, mapio__rp(&req)->open_grown);
    return err;
}

int mapio_file_open(mapio_file_t *file, mapio_engine_t *eng, mapio_req_t *req,
                    const mapio_file_t *dir, const char *path, uint64_t size, unsigned flags,
                    mapio_cb_t cb)
{
    if (eng == NULL || file == NULL || req == NULL || cb == NULL)
        return MAPIO_EINVAL;
    int err = check_path(path);
    if (err == 0)
        err = check_open_flags(size, flags);
    if (err == 0)
        err = mapio__req_check_idle(req);
    struct mapio__fstate *d = NULL, *fs = NULL;
    if (err == 0)
        err = acquire_dir(dir, &d);
    if (err == 0 && (err = mapio__engine_new_file(eng, file, flags, &fs)) != 0)
        release_dir(d);
    if (err != 0)
        return err;
    mapio__req_fill(req, MAPIO_OP_OPEN, file, NULL, 0, NULL, 0, 0, flags, cb);
    open_fields(req, fs, d, path, size);
    err = mapio__engine_submit(eng, req);
    if (err != 0) {
        release_dir(d);
        mapio__engine_discard(fs, 0, false); /* nothing opened yet */
    }
    return err;
}

int mapio_file_close_blocking(mapio_file_t *file)
{
    if (file == NULL)
        return MAPIO_EINVAL;
    if (mapio__fp(file)->magic != MAPIO__FILE_MAGIC || !mapio__file_mark_closed(file))
        return MAPIO_EBADF;
    return mapio__engine_release(mapio__fp(file)->fs);
}

/* The state of an open file, held, for a call that reads it: MAPIO_EINVAL
 * without a file or a place for the answer, MAPIO_EBADF if it is not open. */
static int hold(const mapio_file_t *file, bool has_out, struct mapio__fstate **fs)
{
    if (file == NULL || !has_out)
        return MAPIO_EINVAL;
    *fs = mapio__engine_acquire(file);
    return *fs != NULL ? 0 : MAPIO_EBADF;
}

/* The same for a request on the file, which must be idle (MAPIO_EBUSY). */
static int hold_for(const mapio_file_t *file, mapio_req_t *req, struct mapio__fstate **fs)
{
    int err = mapio__req_check_idle(req);
    return err != 0 ? err : hold(file, true, fs);
}

int mapio_file_close(mapio_file_t *file, mapio_req_t *req, mapio_cb_t cb)
{
    if (file == NULL || req == NULL || cb == NULL)
        return MAPIO_EINVAL;
    struct mapio__fstate *fs;
    int err = hold_for(file, req, &fs);
    if (err != 0)
        return err;
    /* Accepted first (max_inflight), closed second: a refused close leaves
     * the file open. Our reference keeps fs while we look. */
    mapio__req_fill(req, MAPIO_OP_CLOSE, file, NULL, 0, NULL, 0, 0, 0, cb);
    mapio__rp(req)->fs = fs;
    mapio__rp(req)->step = 0;
    err = mapio__engine_accept(fs->eng, req);
    if (err == 0 && !mapio__file_mark_closed(file)) {
        mapio__engine_unaccept(fs->eng, req);
        err = MAPIO_EBADF; /* someone else closed it meanwhile */
    }
    if (err != 0) {
        mapio__engine_release(fs);
        return err;
    }
    /* The close owns the open reference now; ours goes, perhaps starting it. */
    mapio__engine_park_close(fs, req);
    mapio__engine_release(fs);
    return 0;
}

int mapio_file_adopt(mapio_file_t *file, mapio_engine_t *eng, mapio_fd_t fd, unsigned flags)
{
    const unsigned allowed = MAPIO_OPEN_HISTOGRAMS | MAPIO_OPEN_MMAP | MAPIO_OPEN_MMAP_ON_POOL |
                             MAPIO_OPEN_DIRECTORY | MAPIO_OPEN_ADOPT_CLOSE;
    if (file == NULL || eng == NULL || fd == MAPIO_INVALID_FD || (flags & ~allowed))
        return MAPIO_EINVAL;
    unsigned has;
    int err = mapio__os.fd_flags(fd, &has);
    if (err != 0)
        return err == MAPIO_EINVAL ? MAPIO_EBADF : err;
    if ((flags & MAPIO_OPEN_DIRECTORY) != (has & MAPIO_OPEN_DIRECTORY))
        return (has & MAPIO_OPEN_DIRECTORY) ? MAPIO_EISDIR : MAPIO_ENOTDIR;
    unsigned all = (flags & ~(unsigned)MAPIO_OPEN_ADOPT_CLOSE) | has | MAPIO_OPEN_NO_CREATE;
    if ((err = check_open_flags(0, all)) != 0)
        return err;
    struct mapio__fstate *fs;
    if ((err = mapio__engine_new_file(eng, file, all, &fs)) != 0)
        return err;
    fs->fd = fd;
    fs->owns_fd = (flags & MAPIO_OPEN_ADOPT_CLOSE) != 0;
    uint64_t cur = 0;
    bool grown;
    if (!(all & MAPIO_OPEN_DIRECTORY))
        err = mapio__os.size(fd, &cur);
    if (err == 0)
        err = mapio__file_set_up(fs, 0, cur, false, &grown);
    if (err == 0)
        err = mapio__engine_publish(fs);
    if (err != 0) {
        fs->owns_fd = false; /* a failed adopt never closes the caller's descriptor */
        mapio__engine_discard(fs, cur, false);
    }
    return err;
}

int mapio_file_fd(const mapio_file_t *file, mapio_fd_t *out)
{
    struct mapio__fstate *fs;
    int err = hold(file, out != NULL, &fs);
    if (err != 0)
        return err;
    *out = fs->fd;
    mapio__engine_release(fs);
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
    struct mapio__fstate *fs;
    int err = hold(file, out != NULL, &fs);
    if (err != 0)
        return err;
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
    struct mapio__fstate *fs;
    int err = hold(file, true, &fs); /* either answer may be left out */
    if (err != 0)
        return err;
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
    struct mapio__fstate *fs;
    int err = hold_for(file, req, &fs);
    if (err != 0)
        return err;
    bool write = mapio__op_is_write(op) || op == MAPIO_OP_FALLOCATE || op == MAPIO_OP_TRUNCATE;
    bool syncs = mapio__op_is_sync(op) || op == MAPIO_OP_COMMIT;
    bool on_dir = (fs->flags & MAPIO_OPEN_DIRECTORY) != 0;
    if (on_dir && !mapio__op_is_sync(op) && op != MAPIO_OP_STAT)
        err = MAPIO_EISDIR; /* a directory is synced, stat'ed and closed, no more */
    else if (write && (fs->flags & MAPIO_OPEN_READ_ONLY))
        err = MAPIO_EBADF;
    else if (op == MAPIO_OP_TRUNCATE && fs->map != NULL)
        err = MAPIO_ENOTSUP; /* the mapping keeps the size it was opened with */
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
        mapio__rp(req)->ctx = fs->ctx;
        err = mapio__engine_submit_carried(fs->eng, req, mapio__exec(req));
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
    /* Its sync is shared: one commit's deadline cannot cancel it. */
    if (mapio__req_check_idle(req) == 0 && mapio__rp(req)->arm_tag == MAPIO__ARM_TAG)
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

/* ---- the lifecycle of files and names -------------------------------------------- */

int mapio_file_stat(mapio_file_t *file, mapio_req_t *req, mapio_stat_t *out, mapio_cb_t cb)
{
    if (file == NULL || req == NULL || out == NULL || cb == NULL)
        return MAPIO_EINVAL;
    int err = mapio__req_check_idle(req);
    if (err != 0)
        return err;
    mapio__rp(req)->stat_out = out;
    return submit(file, req, MAPIO_OP_STAT, NULL, 0, NULL, 0, 0, 0, cb);
}

int mapio_file_truncate(mapio_file_t *file, mapio_req_t *req, uint64_t size, mapio_cb_t cb)
{
    if (file == NULL || req == NULL || cb == NULL)
        return MAPIO_EINVAL;
    if (size > (uint64_t)INT64_MAX)
        return MAPIO_EOVERFLOW;
    int err = mapio__req_check_idle(req);
    if (err != 0)
        return err;
    mapio__rp(req)->arg = size;
    return submit(file, req, MAPIO_OP_TRUNCATE, NULL, 0, NULL, 0, 0, 0, cb);
}

int mapio_sync_range(mapio_file_t *file, mapio_req_t *req, uint64_t offset, uint64_t len,
                     unsigned flags, mapio_cb_t cb)
{
    const unsigned known =
        MAPIO_SYNC_RANGE_WAIT_BEFORE | MAPIO_SYNC_RANGE_WRITE | MAPIO_SYNC_RANGE_WAIT_AFTER;
    if (file == NULL || req == NULL || cb == NULL || flags == 0 || (flags & ~known))
        return MAPIO_EINVAL;
    if (!mapio__range_ok(offset, len, (uint64_t)INT64_MAX))
        return MAPIO_EOVERFLOW;
    int err = mapio__req_check_idle(req);
    if (err != 0)
        return err;
    mapio__rp(req)->arg_flags = flags;
    return submit(file, req, MAPIO_OP_SYNC_RANGE, NULL, (size_t)len, NULL, 0, offset, 0, cb);
}

/*
 * A request on names, not on an open file: the paths checked, the
 * directories they are relative to referenced until it completes.
 */
static int submit_path(mapio_engine_t *eng, mapio_req_t *req, mapio_op_t op,
                       const mapio_file_t *dir, const char *path, const mapio_file_t *dir2,
                       const char *path2, unsigned flags, mapio_cb_t cb)
{
    if (eng == NULL || req == NULL || cb == NULL)
        return MAPIO_EINVAL;
    int err = op == MAPIO_OP_SYNC_DIR && path == NULL && dir != NULL ? 0 : check_path(path);
    if (err == 0 && op == MAPIO_OP_RENAME)
        err = check_path(path2);
    if (err == 0)
        err = mapio__req_check_idle(req);
    struct mapio__fstate *d = NULL, *d2 = NULL;
    if (err == 0)
        err = acquire_dir(dir, &d);
    if (err == 0 && (err = acquire_dir(dir2, &d2)) != 0)
        release_dir(d);
    if (err != 0)
        return err;
    mapio__req_fill(req, op, NULL, NULL, 0, NULL, 0, 0, 0, cb);
    struct mapio__req_priv *rp = mapio__rp(req);
    rp->fs = NULL;
    rp->dir = d;
    rp->dir2 = d2;
    rp->path = path;
    rp->path2 = path2;
    rp->arg_flags = flags;
    err = mapio__engine_submit(eng, req);
    if (err != 0) {
        release_dir(d);
        release_dir(d2);
    }
    return err;
}

int mapio_rename(mapio_engine_t *eng, mapio_req_t *req, const mapio_file_t *olddir,
                 const char *oldpath, const mapio_file_t *newdir, const char *newpath,
                 unsigned flags, mapio_cb_t cb)
{
    if (flags & ~(unsigned)(MAPIO_RENAME_NOREPLACE | MAPIO_RENAME_EXCHANGE) ||
        flags == (MAPIO_RENAME_NOREPLACE | MAPIO_RENAME_EXCHANGE))
        return MAPIO_EINVAL;
    return submit_path(eng, req, MAPIO_OP_RENAME, olddir, oldpath, newdir, newpath, flags, cb);
}

int mapio_unlink(mapio_engine_t *eng, mapio_req_t *req, const mapio_file_t *dir, const char *path,
                 unsigned flags, mapio_cb_t cb)
{
    if (flags & ~(unsigned)MAPIO_UNLINK_DIR)
        return MAPIO_EINVAL;
    return submit_path(eng, req, MAPIO_OP_UNLINK, dir, path, NULL, NULL, flags, cb);
}

int mapio_mkdir(mapio_engine_t *eng, mapio_req_t *req, const mapio_file_t *dir, const char *path,
                unsigned mode, mapio_cb_t cb)
{
    if (mode > 07777)
        return MAPIO_EINVAL;
    return submit_path(eng, req, MAPIO_OP_MKDIR, dir, path, NULL, NULL, mode != 0 ? mode : 0755,
                       cb);
}

int mapio_sync_dir(mapio_engine_t *eng, mapio_req_t *req, const mapio_file_t *dir, const char *path,
                   mapio_cb_t cb)
{
    return submit_path(eng, req, MAPIO_OP_SYNC_DIR, dir, path, NULL, NULL, 0, cb);
}

/* ---- time --------------------------------------------------------------------- */

int mapio_timer(mapio_engine_t *eng, mapio_req_t *req, uint64_t timeout_ns, mapio_cb_t cb)
{
    if (eng == NULL || req == NULL || cb == NULL)
        return MAPIO_EINVAL;
    int err = mapio__req_check_idle(req);
    if (err != 0)
        return err;
    mapio__req_fill(req, MAPIO_OP_TIMER, NULL, NULL, 0, NULL, 0, 0, 0, cb);
    mapio__rp(req)->fs = NULL;
    /* A timer is a deadline with nothing to do before it. */
    mapio__rp(req)->arm_tag = MAPIO__ARM_TAG;
    mapio__rp(req)->arm_timeout_ns = timeout_ns != 0 ? timeout_ns : 1;
    return mapio__engine_submit(eng, req);
}

int mapio_req_set_timeout(mapio_req_t *req, uint64_t timeout_ns)
{
    if (req == NULL)
        return MAPIO_EINVAL;
    int err = mapio__req_check_idle(req);
    if (err != 0)
        return err;
    mapio__rp(req)->arm_tag = timeout_ns != 0 ? MAPIO__ARM_TAG : 0;
    mapio__rp(req)->arm_timeout_ns = timeout_ns;
    return 0;
}

/* ---- the blocking twins --------------------------------------------------------- */

/* The checks a blocking twin makes before its one call; a reference on the
 * file if they pass. */
static int64_t check_blocking(mapio_file_t *file, mapio_op_t op, void *buf, size_t len,
                              uint64_t offset, struct mapio__fstate **out)
{
    bool transfer = mapio__op_is_transfer(op);
    if (transfer) {
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
    bool write = op == MAPIO_OP_WRITE || op == MAPIO_OP_TRUNCATE;
    if ((fs->flags & MAPIO_OPEN_DIRECTORY) && !mapio__op_is_sync(op) && op != MAPIO_OP_STAT)
        err = MAPIO_EISDIR;
    else if (write && (fs->flags & MAPIO_OPEN_READ_ONLY))
        err = MAPIO_EBADF;
    else if (op == MAPIO_OP_TRUNCATE && fs->map != NULL)
        err = MAPIO_ENOTSUP;
    else if (mapio__op_is_sync(op) && atomic_load(&fs->sticky) != 0)
        err = MAPIO_EIO;
    else if (transfer && (fs->flags & MAPIO_OPEN_DIRECT) &&
             mapio__file_misaligned(fs, buf, len, offset))
        err = MAPIO_EINVAL;
    if (err != 0) {
        mapio__engine_release(fs);
        return err;
    }
    *out = fs;
    return 0;
}

/* Run a twin's request (on the stack, never queued: the twins share the
 * pools' body) and count it as any thread's. */
static int64_t run_blocking(struct mapio__fstate *fs, mapio_req_t *req)
{
    mapio__rp(req)->done = 0;
    mapio__rp(req)->fs = fs;
    mapio__rp(req)->ctx = fs->ctx;
    bool timed = !fs->ctx->no_latency;
    uint64_t t0 = timed ? mapio__os.now_ns() : 0;
    req->result = mapio__exec(req);
    if (mapio__op_is_sync(req->op))
        req->result = mapio__file_sync_result(fs, req->result);
    uint64_t ns = timed ? mapio__os.now_ns() - t0 : 0;
    mapio__account(&fs->ctx->counters_mt, req, ns / 1000, false);
    mapio__account(&fs->counters_mt, req, ns / 1000, false);
    if (timed) {
        mapio__lat_account(&fs->ctx->lat_mt, req, ns, false);
        if (fs->lats != NULL)
            mapio__lat_account(fs->lats, req, ns, false);
    }
    mapio__engine_release(fs);
    return req->result;
}

static int64_t blocking(mapio_file_t *file, mapio_op_t op, void *buf, size_t len, uint64_t offset)
{
    if (file == NULL)
        return MAPIO_EINVAL;
    struct mapio__fstate *fs;
    int64_t err = check_blocking(file, op, buf, len, offset, &fs);
    if (err != 0)
        return err;
    mapio_req_t req;
    mapio__req_fill(&req, op, file, buf, len, NULL, 0, offset, 0, NULL);
    return run_blocking(fs, &req);
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

/* A blocking call on the file that moves no data: a stat (out) or a
 * truncate (size). */
static int blocking_meta(mapio_file_t *file, mapio_op_t op, mapio_stat_t *out, uint64_t size)
{
    struct mapio__fstate *fs;
    int err = (int)check_blocking(file, op, NULL, 0, 0, &fs);
    if (err != 0)
        return err;
    mapio_req_t req;
    mapio__req_fill(&req, op, file, NULL, 0, NULL, 0, 0, 0, NULL);
    if (op == MAPIO_OP_STAT)
        mapio__rp(&req)->stat_out = out;
    else
        mapio__rp(&req)->arg = size;
    return (int)run_blocking(fs, &req);
}

int mapio_file_stat_blocking(mapio_file_t *file, mapio_stat_t *out)
{
    if (file == NULL || out == NULL)
        return MAPIO_EINVAL;
    return blocking_meta(file, MAPIO_OP_STAT, out, 0);
}

int mapio_file_truncate_blocking(mapio_file_t *file, uint64_t size)
{
    if (file == NULL)
        return MAPIO_EINVAL;
    if (size > (uint64_t)INT64_MAX)
        return MAPIO_EOVERFLOW;
    return blocking_meta(file, MAPIO_OP_TRUNCATE, NULL, size);
}
