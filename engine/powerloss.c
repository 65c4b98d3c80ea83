/*
 * engine/powerloss.c - simulated power loss, built on the fault hooks.
 *
 * The recorder keeps two things: the durable image (the file as a power cut
 * is guaranteed to leave it) and the log of writes completed since, with
 * their data. A sync that succeeds makes durable exactly the writes that had
 * completed when it started (its before() hook notes that point); writes that
 * complete while it runs stay in the log. An image is the durable content
 * with each logged write dropped, kept or torn at random - any of which a
 * real disk may do with data it was never told to persist.
 */
#include <string.h>

#include "engine.h"
#include "os.h"

#define SECTOR 512u
#define MAX_SYNCS 64

struct pl_write {
    uint64_t offset, len;
    uint64_t tick; /* completion order */
    unsigned char *data;
};

struct mapio_powerloss {
    mapio_engine_t *eng;
    const mapio_file_t *file;
    pthread_mutex_t lock;
    unsigned char *image; /* durable content */
    uint64_t image_len;
    struct pl_write *log;
    size_t nlog, caplog;
    uint64_t tick;
    uint64_t durable_writes;
    struct {
        uint64_t seq, tick;
    } syncs[MAX_SYNCS]; /* syncs in flight: the write tick they started at */
    unsigned nsyncs;
};

static int grow_image(struct mapio_powerloss *pl, uint64_t end)
{
    if (end <= pl->image_len)
        return 0;
    if (end > SIZE_MAX)
        return MAPIO_ENOMEM;
    unsigned char *p = mapio__realloc(pl->image, (size_t)end);
    if (p == NULL)
        return MAPIO_ENOMEM;
    memset(p + pl->image_len, 0, (size_t)(end - pl->image_len));
    pl->image = p;
    pl->image_len = end;
    return 0;
}

static void apply(struct mapio_powerloss *pl, const struct pl_write *w)
{
    if (grow_image(pl, w->offset + w->len) == 0)
        memcpy(pl->image + w->offset, w->data, (size_t)w->len);
}

/* Copy the first n bytes a call moved out of its buffer or vector. */
static void gather(const mapio_fault_call_t *call, unsigned char *dst, uint64_t n)
{
    if (call->buf != NULL) {
        memcpy(dst, call->buf, (size_t)n);
        return;
    }
    for (unsigned i = 0; i < call->iovcnt && n > 0; i++) {
        size_t k = (size_t)MAPIO__MIN(n, call->iov[i].iov_len);
        memcpy(dst, call->iov[i].iov_base, k);
        dst += k;
        n -= k;
    }
}

static bool is_sync(int op)
{
    return op == MAPIO_OP_FDATASYNC || op == MAPIO_OP_FSYNC;
}

static int64_t pl_before(void *ctx, const mapio_fault_call_t *call)
{
    struct mapio_powerloss *pl = ctx;
    if (call->file != pl->file || !is_sync(call->op))
        return MAPIO_FAULT_PASS;
    pthread_mutex_lock(&pl->lock);
    if (pl->nsyncs < MAX_SYNCS) {
        pl->syncs[pl->nsyncs].seq = call->seq;
        pl->syncs[pl->nsyncs].tick = pl->tick;
        pl->nsyncs++;
    }
    pthread_mutex_unlock(&pl->lock);
    return MAPIO_FAULT_PASS;
}

static void record_write(struct mapio_powerloss *pl, const mapio_fault_call_t *call, uint64_t n)
{
    unsigned char *data = mapio__malloc((size_t)n);
    if (data == NULL)
        return; /* the image then under-reports: never claims more than was written */
    gather(call, data, n);
    struct pl_write w = { call->offset, n, pl->tick++, data };
    if (call->flags & MAPIO_WRITE_DSYNC) {
        apply(pl, &w);
        pl->durable_writes++;
        mapio__free(data);
        return;
    }
    if (pl->nlog == pl->caplog) {
        size_t cap = pl->caplog ? 2 * pl->caplog : 64;
        struct pl_write *log = mapio__realloc(pl->log, cap * sizeof *log);
        if (log == NULL) {
            mapio__free(data);
            return;
        }
        pl->log = log;
        pl->caplog = cap;
    }
    pl->log[pl->nlog++] = w;
}

static void sync_succeeded(struct mapio_powerloss *pl, uint64_t start_tick)
{
    size_t keep = 0;
    for (size_t i = 0; i < pl->nlog; i++) {
        if (pl->log[i].tick < start_tick) {
            apply(pl, &pl->log[i]);
            pl->durable_writes++;
            mapio__free(pl->log[i].data);
        } else {
            pl->log[keep++] = pl->log[i];
        }
    }
    pl->nlog = keep;
}

static int64_t pl_after(void *ctx, const mapio_fault_call_t *call, int64_t res)
{
    struct mapio_powerloss *pl = ctx;
    if (call->file != pl->file)
        return res;
    pthread_mutex_lock(&pl->lock);
    if (call->op == MAPIO_OP_WRITE || call->op == MAPIO_OP_WRITEV) {
        if (res > 0)
            record_write(pl, call, (uint64_t)res);
    } else if (is_sync(call->op)) {
        for (unsigned i = 0; i < pl->nsyncs; i++) {
            if (pl->syncs[i].seq != call->seq)
                continue;
            if (res == 0)
                sync_succeeded(pl, pl->syncs[i].tick);
            pl->syncs[i] = pl->syncs[--pl->nsyncs];
            break;
        }
    }
    pthread_mutex_unlock(&pl->lock);
    return res;
}

int mapio_powerloss_new(mapio_powerloss_t **out, mapio_engine_t *eng, mapio_file_t *file)
{
    if (eng == NULL || file == NULL || out == NULL)
        return MAPIO_EINVAL;
    if (atomic_load(&eng->ctx.inflight) != 0)
        return MAPIO_EBUSY;
    struct mapio__fstate *fs = mapio__engine_acquire(file);
    if (fs == NULL)
        return MAPIO_EBADF;
    struct mapio_powerloss *pl = mapio__calloc(1, sizeof *pl);
    int err = pl != NULL ? 0 : MAPIO_ENOMEM;
    uint64_t size = 0;
    if (err == 0)
        err = mapio__os.size(fs->fd, &size);
    if (err == 0)
        err = grow_image(pl, size);
    for (uint64_t off = 0; err == 0 && off < size;) {
        int64_t n = mapio__os.pread(fs->fd, pl->image + off, (size_t)(size - off), off);
        if (n <= 0)
            err = n < 0 && n != MAPIO_EINTR ? (int)n : (n == 0 ? MAPIO_EIO : 0);
        else
            off += (uint64_t)n;
    }
    mapio__engine_release(fs);
    if (err == 0 && pthread_mutex_init(&pl->lock, NULL) != 0)
        err = MAPIO_ENOMEM;
    if (err == 0) {
        pl->eng = eng;
        pl->file = file;
        mapio_fault_hooks_t h = { .ctx = pl, .before = pl_before, .after = pl_after };
        err = mapio_fault_set(eng, &h);
        if (err != 0)
            pthread_mutex_destroy(&pl->lock);
    }
    if (err != 0) {
        if (pl != NULL)
            mapio__free(pl->image);
        mapio__free(pl);
        return err;
    }
    *out = pl;
    return 0;
}

static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int mapio_powerloss_image(mapio_powerloss_t *pl, uint64_t seed, const char *path)
{
    if (pl == NULL || path == NULL)
        return MAPIO_EINVAL;
    pthread_mutex_lock(&pl->lock);
    uint64_t len = pl->image_len;
    for (size_t i = 0; i < pl->nlog; i++)
        len = MAPIO__MAX(len, pl->log[i].offset + pl->log[i].len);
    unsigned char *img = len > 0 ? mapio__calloc(1, (size_t)len) : NULL;
    if (len > 0 && img == NULL) {
        pthread_mutex_unlock(&pl->lock);
        return MAPIO_ENOMEM;
    }
    if (pl->image_len > 0)
        memcpy(img, pl->image, (size_t)pl->image_len);
    uint64_t rnd = seed;
    for (size_t i = 0; i < pl->nlog; i++) {
        const struct pl_write *w = &pl->log[i];
        uint64_t fate = next_rand(&rnd) % 3; /* lost, kept, torn */
        uint64_t done = 0;
        while (fate != 0 && done < w->len) {
            /* Sectors follow the file's 512-byte grid, as a disk's do. */
            uint64_t at = w->offset + done;
            uint64_t n = MAPIO__MIN((at / SECTOR + 1) * SECTOR - at, w->len - done);
            if (fate == 1 || (next_rand(&rnd) & 1))
                memcpy(img + at, w->data + done, (size_t)n);
            done += n;
        }
    }
    pthread_mutex_unlock(&pl->lock);

    mapio_fd_t fd;
    int err = mapio__os.open(MAPIO_INVALID_FD, path, 0, &fd);
    if (err != 0) {
        mapio__free(img);
        return err;
    }
    err = mapio__os.truncate(fd, 0);
    for (uint64_t off = 0; err == 0 && off < len;) {
        int64_t n = mapio__os.pwrite(fd, img + off, (size_t)(len - off), off);
        if (n < 0 && n != MAPIO_EINTR)
            err = (int)n;
        else if (n > 0)
            off += (uint64_t)n;
    }
    mapio__os.close(fd);
    mapio__free(img);
    return err;
}

void mapio_powerloss_counts(mapio_powerloss_t *pl, uint64_t *pending, uint64_t *durable)
{
    if (pl == NULL)
        return;
    pthread_mutex_lock(&pl->lock);
    if (pending != NULL)
        *pending = pl->nlog;
    if (durable != NULL)
        *durable = pl->durable_writes;
    pthread_mutex_unlock(&pl->lock);
}

int mapio_powerloss_free(mapio_powerloss_t *pl)
{
    if (pl == NULL)
        return 0;
    /* The hooks point at pl: it may only go once they are gone. */
    int err = mapio_fault_set(pl->eng, NULL);
    if (err != 0)
        return err;
    for (size_t i = 0; i < pl->nlog; i++)
        mapio__free(pl->log[i].data);
    mapio__free(pl->log);
    mapio__free(pl->image);
    pthread_mutex_destroy(&pl->lock);
    mapio__free(pl);
    return 0;
}
