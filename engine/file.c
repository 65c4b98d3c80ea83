/*
 * engine/file.c - a file's references, its sticky sync error and its
 * O_DIRECT alignment (see file.h).
 */
#include "file.h"
#include "mmap/map/map_os.h"
#include "os.h"

struct mapio__fstate *mapio__file_get(const mapio_file_t *f)
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
    return fp->fs;
}

bool mapio__file_is_open(const mapio_file_t *f)
{
    return atomic_load(&mapio__fp(f)->state) == MAPIO__FILE_OPEN;
}

bool mapio__file_mark_closed(mapio_file_t *f)
{
    uint32_t open = MAPIO__FILE_OPEN;
    return atomic_compare_exchange_strong(&mapio__fp(f)->state, &open, MAPIO__FILE_CLOSED);
}

void mapio__file_ref(struct mapio__fstate *fs)
{
    atomic_fetch_add(&mapio__fp(fs->handle)->refs, 1);
}

uint64_t mapio__file_unref(struct mapio__fstate *fs)
{
    return atomic_fetch_sub(&mapio__fp(fs->handle)->refs, 1) - 1;
}

int mapio__file_destroy(struct mapio__fstate *fs)
{
    mapio_map_free(fs->map);
    int err = 0;
    if (fs->owns_fd && !fs->gone && fs->fd != MAPIO_INVALID_FD)
        err = mapio__os.close(fs->fd);
    mapio__free(fs->lats);
    mapio__free(fs);
    return err;
}

int64_t mapio__file_sync_result(struct mapio__fstate *fs, int64_t res)
{
    if (res < 0 && res != MAPIO_ECANCELED) {
        int none = 0;
        atomic_compare_exchange_strong(&fs->sticky, &none, (int)res);
        return res;
    }
    if (res >= 0 && atomic_load(&fs->sticky) != 0)
        return MAPIO_EIO;
    return res;
}

bool mapio__file_misaligned(const struct mapio__fstate *fs, const void *buf, uint64_t len,
                            uint64_t offset)
{
    return ((uintptr_t)buf & (fs->mem_align - 1)) != 0 || (len & (fs->io_align - 1)) != 0 ||
           (offset & (fs->io_align - 1)) != 0;
}

bool mapio__file_misaligned_iov(const struct mapio__fstate *fs, const mapio_iovec_t *iov,
                                unsigned n, uint64_t offset)
{
    for (unsigned i = 0; i < n; i++)
        if (mapio__file_misaligned(fs, iov[i].iov_base, iov[i].iov_len, offset))
            return true;
    return false;
}

/* Will the size asked for change the file? */
static bool resizes(const struct mapio__fstate *fs, uint64_t size, uint64_t cur)
{
    if (fs->flags & (MAPIO_OPEN_READ_ONLY | MAPIO_OPEN_DIRECTORY))
        return false;
    if (size != 0)
        return (fs->flags & MAPIO_OPEN_TRUNCATE) ? cur != size : cur < size;
    return (fs->flags & MAPIO_OPEN_TRUNCATE) && cur != 0;
}

bool mapio__file_set_up_calls(const struct mapio__fstate *fs, uint64_t size, uint64_t cur,
                              bool align_known)
{
    return resizes(fs, size, cur) || (fs->flags & MAPIO_OPEN_MMAP) ||
           ((fs->flags & MAPIO_OPEN_DIRECT) && !align_known);
}

int mapio__file_set_up(struct mapio__fstate *fs, uint64_t size, uint64_t cur, bool align_known,
                       bool *grown)
{
    unsigned flags = fs->flags;
    int err = 0;
    *grown = false;
    if (resizes(fs, size, cur)) {
        err = mapio__os.truncate(fs->fd, size);
        *grown = err == 0 && size > cur;
    }
    if (err != 0)
        return err;
    if (flags & (MAPIO_OPEN_READ_ONLY | MAPIO_OPEN_DIRECTORY))
        fs->size = size != 0 && size < cur ? size : cur; /* never beyond the file */
    else
        fs->size = size != 0 ? size : ((flags & MAPIO_OPEN_TRUNCATE) ? 0 : cur);
    if (!align_known)
        fs->mem_align = fs->io_align = 1;
    if ((flags & MAPIO_OPEN_DIRECT) && !align_known)
        err = mapio__os.dio_align(fs->fd, &fs->mem_align, &fs->io_align);
    if (err != 0 || !(flags & MAPIO_OPEN_MMAP))
        return err;
    /* MMapIO stores into the mapping, where a missing block is SIGBUS, not
     * an error: the grown part gets its blocks here (the map reserves the
     * rest when it is made), so a full disk is MAPIO_ENOSPC from the open. */
    if (*grown)
        err = mapio__mapos_reserve(fs->fd, cur, size - cur, cur);
    if (err != 0)
        return err;
    if (fs->size == 0) {
        /* Nothing to map, but still MMapIO: reads end at once, writes are
         * out of range - never a silent fall back to pread/pwrite. */
        return mapio_map_new_empty(&fs->map);
    }
    /* Exactly `size` bytes: the file has at least that many by now. The map
     * borrows the file's own descriptor (which may have been opened
     * relative to a directory, or adopted). */
    mapio_map_opts_t mo = {
        .kind = (flags & MAPIO_OPEN_READ_ONLY) ? MAPIO_MAP_READ_ONLY : MAPIO_MAP_READ_WRITE,
        .size = MAPIO_MAP_SIZE_IF_THERE,
        .len = fs->size,
    };
    return mapio__map_new_fd(&fs->map, fs->fd, &mo);
}
