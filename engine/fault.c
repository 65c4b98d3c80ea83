/*
 * engine/fault.c - the fault hooks, and the rule-based hook built on them.
 */
#include <string.h>

#include "fault.h"

void mapio__fault_describe(mapio_req_t *req, mapio_fault_call_t *call)
{
    memset(call, 0, sizeof *call);
    call->op = req->op == MAPIO_OP_COMMIT ? MAPIO_OP_WRITE : req->op;
    call->file = req->file;
    call->seq = mapio__rp(req)->fault_seq;
    call->flags = req->flags;
    if (mapio__op_has_path(req->op)) {
        call->path = mapio__rp(req)->path;
        return;
    }
    if (!mapio__op_is_transfer(req->op)) {
        /* Syncs, fallocate, truncate, ...: the range, where there is one. */
        call->offset = req->offset;
        call->len = req->len;
        return;
    }
    struct mapio__seg seg;
    mapio__req_seg(req, &seg);
    call->offset = seg.offset;
    call->len = seg.len;
    call->buf = seg.vectored ? NULL : seg.buf;
    call->iov = seg.iov;
    call->iovcnt = seg.iovcnt;
}

int64_t mapio__fault_before(struct mapio__faults *f, mapio_req_t *req, mapio_fault_call_t *call)
{
    mapio__rp(req)->fault_seq = atomic_fetch_add(&f->seq, 1) + 1;
    mapio__fault_describe(req, call);
    if (f->hooks.before == NULL)
        return MAPIO_FAULT_PASS;
    int64_t r = f->hooks.before(f->hooks.ctx, call);
    /* A "limit" that is not a real shortening means: run it as it is. */
    if (r >= 0 && ((uint64_t)r >= call->len || r == 0))
        return MAPIO_FAULT_PASS;
    return r;
}

int64_t mapio__fault_after(struct mapio__faults *f, mapio_req_t *req, int64_t res)
{
    if (f->hooks.after == NULL)
        return res;
    mapio_fault_call_t call;
    mapio__fault_describe(req, &call);
    return f->hooks.after(f->hooks.ctx, &call, res);
}

void mapio__faults_set(struct mapio__faults *f, const mapio_fault_hooks_t *hooks)
{
    mapio__faults_free(f);
    f->on = hooks != NULL && (hooks->before != NULL || hooks->after != NULL);
    if (f->on)
        f->hooks = *hooks;
    else
        memset(&f->hooks, 0, sizeof f->hooks);
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

int mapio__faults_check_rules(const mapio_fault_rule_t *rules, unsigned n)
{
    if (rules == NULL && n > 0)
        return MAPIO_EINVAL;
    for (unsigned i = 0; i < n; i++) {
        if (rules[i].error > 0 || (rules[i].error == 0 && rules[i].max_len == 0) ||
            (rules[i].after_call && rules[i].error == 0))
            return MAPIO_EINVAL;
    }
    return 0;
}

int mapio__faults_rules(struct mapio__faults *f, const mapio_fault_rule_t *rules, unsigned n)
{
    int err = mapio__faults_check_rules(rules, n);
    if (err != 0)
        return err;
    if (n == 0) {
        mapio__faults_set(f, NULL);
        return 0;
    }
    struct mapio__fault_rules *rs = mapio__calloc(1, sizeof *rs + n * sizeof rs->r[0]);
    if (rs == NULL)
        return MAPIO_ENOMEM;
    rs->n = n;
    for (unsigned i = 0; i < n; i++)
        rs->r[i].rule = rules[i];
    mapio_fault_hooks_t h = { .ctx = rs, .before = rules_before, .after = rules_after };
    mapio__faults_set(f, &h); /* frees any previous rules */
    f->rules = rs;
    return 0;
}

uint64_t mapio__faults_rule_hits(const struct mapio__faults *f, unsigned index)
{
    if (f->rules == NULL || index >= f->rules->n)
        return 0;
    return atomic_load(&f->rules->r[index].hits);
}

void mapio__faults_free(struct mapio__faults *f)
{
    mapio__free(f->rules);
    f->rules = NULL;
}
