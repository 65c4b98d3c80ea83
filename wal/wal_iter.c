/*
 * wal/wal_iter.c - reading the durable log back, record by record, for
 * replay and replication: the segments through read-only mappings, the
 * frames checked by the scanner's frame check, never past the durable LSN
 * (everything below it was acknowledged, so an invalid frame there is
 * damage, not a tail).
 */
#include <string.h>

#include "wal_log.h"

static void unmap(struct mapio_wal_iter *it)
{
    mapio_map_free(it->map);
    it->map = NULL;
    it->buf = NULL;
    it->n = 0;
}

/* Map segment segno and check its header. */
static int map_seg(struct mapio_wal_iter *it, uint64_t segno)
{
    struct mapio_wal *wal = it->wal;
    unmap(it);
    atomic_store(&it->pin, segno);
    char name[MAPIO__WAL_NAME_MAX];
    mapio__wal_name(name, segno, ".wal");
    size_t a = strlen(wal->path);
    char *path = mapio__malloc(a + sizeof name + 2);
    if (path == NULL)
        return MAPIO_ENOMEM;
    memcpy(path, wal->path, a);
    path[a] = '/';
    memcpy(path + a + 1, name, sizeof name);
    mapio_map_opts_t mo = { .kind = MAPIO_MAP_READ_ONLY };
    int err = mapio_map_new(&it->map, path, &mo);
    mapio__free(path);
    if (err != 0)
        return err;
    uint64_t len = mapio_map_len(it->map);
    it->buf = len != 0 ? mapio_map_ptr(it->map, 0) : NULL;
    it->n = (size_t)MAPIO__MIN(len, wal->fmt.seg_size);
    it->segno = segno;
    if (mapio__wal_seghdr_check(&wal->fmt, it->buf, it->n, segno, &it->align) !=
        MAPIO__WAL_HDR_OK) {
        unmap(it);
        return MAPIO_EBADMSG;
    }
    return 0;
}

int mapio_wal_iter_new(mapio_wal_iter_t **out, mapio_wal_t *wal, uint64_t from_lsn)
{
    if (out == NULL || wal == NULL)
        return MAPIO_EINVAL;
    *out = NULL;
    struct mapio_wal_iter *it = mapio__calloc(1, sizeof *it);
    if (it == NULL)
        return MAPIO_ENOMEM;
    it->wal = wal;
    it->from = from_lsn;
    /* Registered and checked under one lock with the truncation's cut:
     * either the cut sees the pin, or this sees the cut. */
    pthread_mutex_lock(&wal->lock_iter);
    uint64_t first = atomic_load(&wal->first_lsn);
    if (from_lsn != 0 && from_lsn < first) {
        pthread_mutex_unlock(&wal->lock_iter);
        mapio__free(it);
        return MAPIO_ENOENT;
    }
    uint64_t seg = mapio__wal_segno(&wal->fmt, from_lsn);
    it->pos = from_lsn <= first || seg == mapio__wal_segno(&wal->fmt, first)
                  ? first
                  : mapio__wal_first_lsn(&wal->fmt, seg);
    atomic_init(&it->pin, mapio__wal_segno(&wal->fmt, it->pos));
    it->next_iter = wal->iters;
    wal->iters = it;
    pthread_mutex_unlock(&wal->lock_iter);
    *out = it;
    return 0;
}

int mapio_wal_iter_next(mapio_wal_iter_t *it, mapio_wal_record_t *rec)
{
    if (it == NULL || rec == NULL)
        return MAPIO_EINVAL;
    struct mapio_wal *wal = it->wal;
    for (;;) {
        if (it->in_frame) {
            const void *data;
            uint32_t len;
            uint64_t lsn;
            while (mapio__wal_rec_next(&it->rit, &data, &len, &lsn)) {
                uint32_t index = it->index++;
                if (lsn < it->from)
                    continue;
                rec->data = data;
                rec->len = len;
                rec->lsn = lsn;
                rec->batch_lsn = it->fr.lsn;
                rec->next_lsn = it->pos;
                rec->index = index;
                rec->count = it->fr.count;
                rec->reserved = 0;
                return 1;
            }
            it->in_frame = false;
        }
        uint64_t durable = atomic_load_explicit(&wal->durable, memory_order_acquire);
        if (it->pos >= durable)
            return 0;
        uint64_t segno = mapio__wal_segno(&wal->fmt, it->pos);
        if (it->map == NULL || it->segno != segno) {
            int err = map_seg(it, segno);
            if (err != 0)
                return err;
        }
        uint64_t off = mapio__wal_seg_off(&wal->fmt, it->pos);
        if (off + MAPIO__WAL_FRAME_HDR > wal->fmt.seg_size) {
            it->pos = mapio__wal_first_lsn(&wal->fmt, segno + 1); /* a short tail */
            continue;
        }
        if (off + MAPIO__WAL_FRAME_HDR > it->n)
            return MAPIO_EBADMSG; /* the file is shorter than the durable log */
        mapio__wal_frame_t fr;
        mapio__wal_frame_err_t e = mapio__wal_frame_check(it->buf, it->n, wal->fmt.seg_size,
                                                          mapio__wal_seg_base(&wal->fmt, segno),
                                                          off, it->align, wal->fmt.seed, &fr);
        if (e != MAPIO__WAL_FRAME_OK)
            return MAPIO_EBADMSG;
        if (fr.type == MAPIO__WAL_TYPE_PAD) {
            it->pos = mapio__wal_first_lsn(&wal->fmt, segno + 1);
            continue;
        }
        uint64_t end = fr.lsn + fr.size;
        it->pos = mapio__wal_seg_off(&wal->fmt, end) == 0 ? end + MAPIO__WAL_SEGHDR_SIZE : end;
        it->fr = fr;
        it->index = 0;
        mapio__wal_rec_begin(&it->rit, &it->fr);
        it->in_frame = true;
    }
}

int mapio_wal_iter_free(mapio_wal_iter_t *it)
{
    if (it == NULL)
        return 0;
    struct mapio_wal *wal = it->wal;
    pthread_mutex_lock(&wal->lock_iter);
    for (struct mapio_wal_iter **link = &wal->iters; *link != NULL; link = &(*link)->next_iter)
        if (*link == it) {
            *link = it->next_iter;
            break;
        }
    pthread_mutex_unlock(&wal->lock_iter);
    unmap(it);
    mapio__free(it);
    /* A truncation held back for it may go now. */
    return 0;
}
