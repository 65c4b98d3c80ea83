/*
 * engine/req.c - filling and resetting requests, their segments, and the
 * merged pieces of a group commit.
 *
 * Merging: the later write wins byte for byte; adjacent writes stay separate
 * pieces. Instead of building a merged list (which would need memory per
 * call), the engine asks for one piece at a time: the first piece at or after
 * a cursor. That is O(n) per piece and O(n * pieces) per batch - nothing for
 * the few records of a typical commit - and it needs no state but the cursor.
 */
#include "req.h"
#include "os.h"

void mapio__req_fill(mapio_req_t *req, mapio_op_t op, mapio_file_t *file, void *buf, size_t len,
                     const mapio_iovec_t *iov, unsigned iovcnt, uint64_t offset, unsigned flags,
                     mapio_cb_t cb)
{
    req->op = op;
    req->cb = cb;
    req->file = file;
    req->offset = offset;
    req->buf = buf;
    req->len = len;
    req->iov = iov;
    req->iovcnt = iovcnt;
    req->flags = flags;
}

void mapio__req_reset(mapio_req_t *req, mapio_engine_t *eng, struct mapio__ctx *ctx, bool internal,
                      bool carried, int64_t result, uint64_t now_ns)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    rp->ctx = ctx;
    rp->pre_result = result;
    atomic_store_explicit(&rp->eng, eng, memory_order_relaxed);
    rp->done = 0;
    rp->started = 0;
    rp->cancel_queued = 0;
    rp->internal = internal;
    rp->on_copy_pool = 0;
    rp->start_ns = now_ns;
    rp->timed_out = 0;
    rp->step = 0;
    rp->timer_slot = MAPIO__NO_SLOT;
    rp->deadline_ns = 0;
    if (rp->arm_tag == MAPIO__ARM_TAG && rp->arm_timeout_ns != 0)
        rp->deadline_ns = now_ns + rp->arm_timeout_ns;
    rp->arm_tag = 0; /* one submission only */
    req->result = 0;
    /* The op's own fields share a union: a commit's are reset here, the
     * others' were set by the submitting call. */
    if (req->op == MAPIO_OP_COMMIT) {
        rp->commit_bytes = 0;
        rp->commit_pieces = 0;
        rp->fused = 0;
        if (!mapio__merge_next(req->buf, req->iovcnt, 0, &rp->span))
            rp->span = (struct mapio__span){ 0 }; /* nothing to write: straight to the sync */
    }
    atomic_store_explicit(&rp->cancel, 0, memory_order_relaxed);
    /* Release: a mapio_cancel() that sees this state also sees rp->eng. */
    atomic_store_explicit(&rp->state, carried ? MAPIO__REQ_CARRIED : MAPIO__REQ_QUEUED,
                          memory_order_release);
}

void mapio__req_seg(mapio_req_t *req, struct mapio__seg *seg)
{
    struct mapio__req_priv *rp = mapio__rp(req);
    seg->write = mapio__op_is_write(req->op);
    seg->offset = req->offset + rp->done;
    seg->iov = NULL;
    seg->iovcnt = 0;
    if (req->op == MAPIO_OP_COMMIT) {
        seg->vectored = false;
        seg->offset = rp->span.offset + rp->done;
        seg->buf = (void *)(uintptr_t)(rp->span.src + rp->done);
        seg->len = (size_t)MAPIO__MIN(rp->span.len - rp->done, MAPIO__IO_CHUNK);
        return;
    }
    if (req->op == MAPIO_OP_READ || req->op == MAPIO_OP_WRITE) {
        seg->vectored = false;
        seg->buf = (char *)req->buf + rp->done;
        seg->len = MAPIO__MIN(req->len - (size_t)rp->done, MAPIO__IO_CHUNK);
        return;
    }
    if (rp->done == 0) {
        seg->vectored = true;
        seg->iov = req->iov;
        seg->iovcnt = req->iovcnt;
        seg->buf = NULL;
        seg->len = req->len;
        return;
    }
    /* Resumed vector: continue inside the iovec where the transfer stopped. */
    uint64_t skip = rp->done;
    unsigned i = 0;
    while (i < req->iovcnt && skip >= req->iov[i].iov_len)
        skip -= req->iov[i++].iov_len;
    seg->vectored = false;
    if (i == req->iovcnt) {
        seg->buf = NULL;
        seg->len = 0;
        return;
    }
    seg->buf = (char *)req->iov[i].iov_base + skip;
    seg->len = MAPIO__MIN(req->iov[i].iov_len - (size_t)skip, MAPIO__IO_CHUNK);
}

void mapio__req_seg_limit(mapio_req_t *req, uint64_t limit, struct mapio__seg *seg)
{
    mapio__req_seg(req, seg);
    if (seg->vectored && limit < seg->len) {
        /* A shortened vector: its first buffer, or as much of it as allowed. */
        seg->vectored = false;
        seg->buf = seg->iov[0].iov_base;
        seg->len = seg->iov[0].iov_len;
    }
    if (limit < seg->len)
        seg->len = (size_t)limit;
}

bool mapio__merge_next(const mapio_write_t *w, unsigned n, uint64_t from, struct mapio__span *out)
{
    /* Where the next covered byte is. */
    uint64_t p = UINT64_MAX;
    for (unsigned i = 0; i < n; i++) {
        if (w[i].len == 0 || w[i].offset + w[i].len <= from)
            continue;
        uint64_t start = MAPIO__MAX(w[i].offset, from);
        if (start < p)
            p = start;
    }
    if (p == UINT64_MAX)
        return false;
    /* Who owns it: the latest write covering p. */
    unsigned win = 0;
    for (unsigned i = n; i-- > 0;) {
        if (w[i].len != 0 && w[i].offset <= p && p < w[i].offset + w[i].len) {
            win = i;
            break;
        }
    }
    /* Until its end, or until a later write starts and takes over. */
    uint64_t end = w[win].offset + w[win].len;
    for (unsigned j = win + 1; j < n; j++)
        if (w[j].len != 0 && w[j].offset > p && w[j].offset < end)
            end = w[j].offset;
    out->offset = p;
    out->len = end - p;
    out->src = (const unsigned char *)w[win].buf + (p - w[win].offset);
    return true;
}
