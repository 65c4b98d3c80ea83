/*
 * engine/fault.c - the fault hooks, and the rule-based hook built on them.
 */
#include <string.h>

#include "internal.h"

int mapio_fault_set(mapio_engine_t *eng, const mapio_fault_hooks_t *hooks)
{
    if (eng == NULL)
        return MAPIO_EINVAL;
    if (atomic_load(&eng->inflight) != 0)
        return MAPIO_EBUSY;
    mapio__fault_free(eng);
    eng->has_faults = hooks != NULL && (hooks->before != NULL || hooks->after != NULL);
    if (eng->has_faults)
        eng->faults = *hooks;
    else
        memset(&eng->faults, 0, sizeof eng->faults);
    return 0;
}

void mapio__fault_describe(mapio_req_t *req, mapio_fault_call_t *call)
{
    memset(call, 0, sizeof *call);
    call->op = req->op == MAPIO_OP_COMMIT ? MAPIO_OP_WRITE : req->op;
    call->file = req->file;
    call->seq = mapio__rp(req)->fault_seq;
    call->flags = req->flags;
    switch (req->op) {
    case MAPIO_OP_FDATASYNC:
    case MAPIO_OP_FSYNC:
    case MAPIO_OP_NOP:
        return;
    case MAPIO_OP_FALLOCATE:
        call->offset = req->offset;
        call->len = req->len;
        return;
    default:
        break;
    }
    struct mapio__seg seg;
    mapio__req_seg(req, &seg);
    call->offset = seg.offset;
    call->len = seg.len;
    call->buf = seg.vectored ? NULL : seg.buf;
    call->iov = seg.iov;
    call->iovcnt = seg.iovcnt;
}

int64_t mapio__fault_before(mapio_engine_t *eng, mapio_req_t *req, mapio_fault_call_t *call)
{
    mapio__rp(req)->fault_seq = atomic_fetch_add(&eng->fault_seq, 1) + 1;
    mapio__fault_describe(req, call);
    if (eng->faults.before == NULL)
        return MAPIO_FAULT_PASS;
    int64_t r = eng->faults.before(eng->faults.ctx, call);
    /* A "limit" that is not a real shortening means: run it as it is. */
    if (r >= 0 && ((uint64_t)r >= call->len || r == 0))
        return MAPIO_FAULT_PASS;
    return r;
}

int64_t mapio__fault_after(mapio_engine_t *eng, mapio_req_t *req, int64_t res)
{
    if (eng->faults.after == NULL)
        return res;
    mapio_fault_call_t call;
    mapio__fault_describe(req, &call);
    return eng->faults.after(eng->faults.ctx, &call, res);
}

/* ---- rules ---------------------------------------------------------------- */

struct mapio__fault_rules {
    unsigned n;
    struct rule_state {
        mapio_fault_rule_t rule;
        _Atomic uint64_t matched; /* calls its ops mask matched */
        _Atomic uint64_t hits;    /* calls it changed */
    } r[];
};

/* Does this call land in the rule's window? Counts the call either way. */
static bool rule_hits(struct rule_state *st, const mapio_fault_call_t *call)
{
    if (st->rule.ops != 0 && !(st->rule.ops & (1u << call->op)))
        return false;
    uint64_t c = atomic_fetch_add(&st->matched, 1) + 1;
    if (c < st->rule.nth || (st->rule.times != 0 && c >= st->rule.nth + st->rule.times))
        return false;
    atomic_fetch_add(&st->hits, 1);
    return true;
}

static int64_t rules_before(void *ctx, const mapio_fault_call_t *call)
{
    struct mapio__fault_rules *rs = ctx;
    for (unsigned i = 0; i < rs->n; i++) {
        struct rule_state *st = &rs->r[i];
        if (st->rule.after_call || !rule_hits(st, call))
            continue;
        if (st->rule.error != 0)
            return st->rule.error;
        return call->len > st->rule.max_len ? (int64_t)st->rule.max_len : MAPIO_FAULT_PASS;
    }
    return MAPIO_FAULT_PASS;
}

static int64_t rules_after(void *ctx, const mapio_fault_call_t *call, int64_t res)
{
    struct mapio__fault_rules *rs = ctx;
    for (unsigned i = 0; i < rs->n; i++) {
        struct rule_state *st = &rs->r[i];
        if (st->rule.after_call && rule_hits(st, call))
            return st->rule.error;
    }
    return res;
}

int mapio_fault_rules(mapio_engine_t *eng, const mapio_fault_rule_t *rules, unsigned n)
{
    if (eng == NULL || (rules == NULL && n > 0))
        return MAPIO_EINVAL;
    for (unsigned i = 0; i < n; i++) {
        if (rules[i].error > 0 || (rules[i].error == 0 && rules[i].max_len == 0) ||
            (rules[i].after_call && rules[i].error == 0))
            return MAPIO_EINVAL;
    }
    if (atomic_load(&eng->inflight) != 0)
        return MAPIO_EBUSY;
    if (n == 0)
        return mapio_fault_set(eng, NULL);
    struct mapio__fault_rules *rs = mapio__calloc(1, sizeof *rs + n * sizeof rs->r[0]);
    if (rs == NULL)
        return MAPIO_ENOMEM;
    rs->n = n;
    for (unsigned i = 0; i < n; i++)
        rs->r[i].rule = rules[i];
    mapio_fault_hooks_t h = { .ctx = rs, .before = rules_before, .after = rules_after };
    int err = mapio_fault_set(eng, &h); /* frees any previous rules */
    if (err != 0) {
        mapio__free(rs);
        return err;
    }
    eng->rules = rs;
    return 0;
}

uint64_t mapio_fault_rule_hits(mapio_engine_t *eng, unsigned index)
{
    if (eng == NULL || eng->rules == NULL || index >= eng->rules->n)
        return 0;
    return atomic_load(&eng->rules->r[index].hits);
}

void mapio__fault_free(mapio_engine_t *eng)
{
    mapio__free(eng->rules);
    eng->rules = NULL;
}
