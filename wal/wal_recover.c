/*
 * wal/wal_recover.c - the end of the log and its classification.
 */
#include "wal_recover.h"

#include "mapio/errno.h"

const char *mapio__wal_verdict_name(int verdict)
{
    switch (verdict) {
    case MAPIO__WAL_CLEAN:
        return "clean";
    case MAPIO__WAL_TORN:
        return "torn";
    case MAPIO__WAL_CORRUPT:
        return "corrupt";
    }
    return "unknown";
}

const char *mapio__wal_stop_name(int stop)
{
    switch (stop) {
    case MAPIO__WAL_STOP_ZEROS:
        return "zeros";
    case MAPIO__WAL_STOP_MISSING:
        return "missing";
    case MAPIO__WAL_STOP_INVALID:
        return "invalid";
    case MAPIO__WAL_STOP_HEADER:
        return "header";
    }
    return "unknown";
}

mapio__wal_verdict_t mapio__wal_classify(mapio__wal_stop_t stop, uint64_t end_lsn,
                                         const mapio__wal_seen_t *later)
{
    /* A watermark is a frame boundary and end_lsn is one too (the start of
     * the frame that should be there), so watermark > end_lsn means that
     * frame had ended at or below the durable LSN: acknowledged. */
    if (later->frames > 0 && later->max_wm > end_lsn)
        return MAPIO__WAL_CORRUPT;
    if (later->frames > 0)
        return MAPIO__WAL_TORN; /* frames in flight at the crash landed past a hole */
    if (stop == MAPIO__WAL_STOP_ZEROS || stop == MAPIO__WAL_STOP_MISSING)
        return MAPIO__WAL_CLEAN;
    return MAPIO__WAL_TORN; /* bytes that are not a frame: a write cut short */
}

int mapio__wal_policy_check(mapio__wal_policy_t policy, mapio__wal_verdict_t verdict)
{
    switch (policy) {
    case MAPIO__WAL_TOLERATE_TAIL:
        return verdict == MAPIO__WAL_CORRUPT ? MAPIO__WAL_EBADMSG : 0;
    case MAPIO__WAL_POINT_IN_TIME:
        return 0;
    case MAPIO__WAL_ABSOLUTE:
        return verdict == MAPIO__WAL_CLEAN ? 0 : MAPIO__WAL_EBADMSG;
    }
    return MAPIO__WAL_EBADMSG;
}

/* The frame alignment segment s declares, or 0 if its header is not a good
 * header of this log's segment s->segno. */
static uint32_t seg_align(const mapio__wal_fmt_t *f, const mapio__wal_seg_in_t *s, int *why)
{
    uint32_t align = 0;
    int err = (int)mapio__wal_seghdr_check(f, s->buf, s->len, s->segno, &align);
    if (why != NULL)
        *why = err;
    return err == MAPIO__WAL_HDR_OK ? align : 0;
}

static int args_ok(const mapio__wal_fmt_t *f, const mapio__wal_seg_in_t *segs, size_t nsegs,
                   mapio__wal_policy_t policy)
{
    if (f == NULL || (segs == NULL && nsegs > 0) || (unsigned)policy > MAPIO__WAL_ABSOLUTE)
        return 0;
    for (size_t i = 0; i < nsegs; i++) {
        if (segs[i].segno > f->max_segno || (uint64_t)segs[i].len > f->seg_size ||
            (segs[i].buf == NULL && segs[i].len > 0))
            return 0;
        if (i > 0 && segs[i].segno <= segs[i - 1].segno)
            return 0;
    }
    return 1;
}

int mapio__wal_recover(const mapio__wal_fmt_t *f, const mapio__wal_seg_in_t *segs, size_t nsegs,
                       uint64_t start_lsn, mapio__wal_policy_t policy, mapio__wal_recovery_t *out)
{
    if (out == NULL || !args_ok(f, segs, nsegs, policy))
        return MAPIO_EINVAL;
    uint64_t k = mapio__wal_segno(f, start_lsn), off = mapio__wal_seg_off(f, start_lsn);
    if (off == 0)
        off = MAPIO__WAL_SEGHDR_SIZE;
    if (k > f->max_segno || off < MAPIO__WAL_SEGHDR_SIZE ||
        (off & (MAPIO__WAL_BUFFERED_ALIGN - 1)) != 0)
        return MAPIO_EINVAL;
    size_t i = 0;
    while (i < nsegs && segs[i].segno < k)
        i++;

    mapio__wal_recovery_t r = { 0 };
    uint32_t align = 0;
    /* Walk: each segment that ends CLEAN hands over to the next one's
     * first frame. */
    for (;;) {
        if (i == nsegs || segs[i].segno != k) {
            r.stop = MAPIO__WAL_STOP_MISSING;
            break;
        }
        align = seg_align(f, &segs[i], &r.why);
        if (align == 0) {
            r.stop = MAPIO__WAL_STOP_HEADER;
            break;
        }
        r.why = 0;
        mapio__wal_scan_t s;
        if (mapio__wal_scan_init(&s, f, k, align, segs[i].buf, segs[i].len, off) != 0)
            return MAPIO_EINVAL; /* start_lsn is not aligned for its segment */
        mapio__wal_frame_t fr;
        while (mapio__wal_scan_next(&s, &fr)) {
            r.frames++;
            r.records += fr.count;
        }
        off = s.off;
        if (s.end != MAPIO__WAL_END_CLEAN) {
            r.stop =
                s.end == MAPIO__WAL_END_ZEROS ? MAPIO__WAL_STOP_ZEROS : MAPIO__WAL_STOP_INVALID;
            r.why = s.end == MAPIO__WAL_END_ZEROS ? 0 : s.why;
            break;
        }
        if (k == f->max_segno) { /* the address space is full: nowhere to go on */
            off = f->seg_size;
            r.stop = MAPIO__WAL_STOP_MISSING;
            break;
        }
        k++;
        i++;
        off = MAPIO__WAL_SEGHDR_SIZE;
    }
    uint64_t p = mapio__wal_seg_base(f, k) + off;

    /* Look ahead: the rest of p's segment, then every later one. */
    if (r.stop == MAPIO__WAL_STOP_ZEROS || r.stop == MAPIO__WAL_STOP_INVALID)
        mapio__wal_lookahead(f, k, align, segs[i].buf, segs[i].len, off + align, &r.later);
    else if (r.stop == MAPIO__WAL_STOP_HEADER) /* the frame at p itself may be intact */
        mapio__wal_lookahead(f, k, 0, segs[i].buf, segs[i].len, off, &r.later);
    for (size_t j = i; j < nsegs; j++)
        if (segs[j].segno > k)
            mapio__wal_lookahead(f, segs[j].segno, seg_align(f, &segs[j], NULL), segs[j].buf,
                                 segs[j].len, MAPIO__WAL_SEGHDR_SIZE, &r.later);

    r.end_lsn = p;
    r.verdict = mapio__wal_classify(r.stop, p, &r.later);
    r.erase_lo = p;
    r.erase_hi = r.later.last_end > p ? r.later.last_end : p;
    *out = r;
    return mapio__wal_policy_check(policy, r.verdict);
}
