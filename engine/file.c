/*
 * engine/file.c - a file's references, its sticky sync error and its
 * O_DIRECT alignment (see file.h).
 */
#include "file.h"

#include <pthread.h>
#include <string.h>

#include "common.h"
#include "mmap/map/map_os.h"
#include "os.h"

/* ---- handles in use -------------------------------------------------------------- */

/* An open-addressing set of handle addresses (linear probing, deletion by
 * backward shift), only touched by opens and last closes. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static const void **live;
static size_t live_cap, live_n; /* live_cap: 0 or a power of two */

static size_t live_home(const void *p, size_t cap)
{
    return (size_t)(((uint64_t)(uintptr_t)p >> 3) * 0x9e3779b97f4a7c15u >> 20) & (cap - 1);
}

static bool live_find(const void *p, size_t *at)
{
    if (live_cap == 0)
        return false;
    for (size_t i = live_home(p, live_cap);; i = (i + 1) & (live_cap - 1)) {
        if (live[i] == NULL)
            return false;
        if (live[i] == p) {
            *at = i;
            return true;
        }
    }
}

static void live_put(const void **slots, size_t cap, const void *p)
{
    size_t i = live_home(p, cap);
    while (slots[i] != NULL)
        i = (i + 1) & (cap - 1);
    slots[i] = p;
}

/* Room for one more at a load of at most a half. */
static int live_reserve(void)
{
    if (2 * (live_n + 1) <= live_cap)
        return 0;
    size_t cap = live_cap != 0 ? 2 * live_cap : 64;
    const void **slots = mapio__calloc(cap, sizeof *slots);
    if (slots == NULL)
        return MAPIO_ENOMEM;
    for (size_t i = 0; i < live_cap; i++)
        if (live[i] != NULL)
            live_put(slots, cap, live[i]);
    mapio__free((void *)live);
    live = slots;
    live_cap = cap;
    return 0;
}

int mapio__file_claim(mapio_file_t *f)
{
    size_t at;
    pthread_mutex_lock(&live_lock);
    int err = live_find(f, &at) ? MAPIO_EBUSY : live_reserve();
    if (err == 0) {
        live_put(live, live_cap, f);
        live_n++;
    }
    pthread_mutex_unlock(&live_lock);
    if (err != 0)
        return err;
    struct mapio__file_priv *fp = mapio__fp(f);
    memset(&f->priv, 0, sizeof f->priv); /* data is the caller's */
    fp->magic = MAPIO__FILE_MAGIC;
    atomic_store(&fp->state, MAPIO__FILE_OPENING);
    return 0;
}

void mapio__file_unclaim(const mapio_file_t *f)
{
    size_t i;
    pthread_mutex_lock(&live_lock);
    if (live_find(f, &i)) {
        /* Pull later members of the run back over the hole, so every one
         * stays reachable from its home without tombstones. */
        for (size_t j = (i + 1) & (live_cap - 1); live[j] != NULL; j = (j + 1) & (live_cap - 1)) {
            size_t h = live_home(live[j], live_cap);
            if (((j - h) & (live_cap - 1)) >= ((j - i) & (live_cap - 1))) {
                live[i] = live[j];
                i = j;
            }
        }
        live[i] = NULL;
        if (--live_n == 0) {
            mapio__free((void *)live); /* nothing open: nothing kept */
            live = NULL;
            live_cap = 0;
        }
    }
    pthread_mutex_unlock(&live_lock);
}

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
    mapio__file_unclaim(fs->handle);
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
