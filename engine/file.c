/*
 * engine/file.c - a file's references, its sticky sync error and its
 * O_DIRECT alignment (see file.h).
 */
#include "file.h"
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

bool mapio__file_unref(struct mapio__fstate *fs)
{
    return atomic_fetch_sub(&mapio__fp(fs->handle)->refs, 1) == 1;
}

void mapio__file_destroy(struct mapio__fstate *fs)
{
    mapio_map_free(fs->map);
    mapio__os.close(fs->fd);
    mapio__free(fs->lats);
    mapio__free(fs);
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
