/*
 * engine/metrics.c - counting finished requests, op names, and a metrics
 * snapshot as JSON (generated from the counter list, so a new counter needs
 * no code here).
 */
#include <stdarg.h>
#include <stdio.h>

#include "metrics.h"
#include "req.h"

void mapio__counters_read(const struct mapio__counters *a, const struct mapio__counters *b,
                          mapio_metrics_t *out)
{
#define MAPIO__COUNTER_LOAD(name)                                                                  \
    out->name = atomic_load_explicit(&a->name, memory_order_relaxed) +                             \
                atomic_load_explicit(&b->name, memory_order_relaxed);
    MAPIO_COUNTER_MAP(MAPIO__COUNTER_LOAD)
#undef MAPIO__COUNTER_LOAD
}

void mapio__account(struct mapio__counters *c, const mapio_req_t *req, uint64_t us,
                    bool single_writer)
{
#define ADD(field, n)                                                                              \
    do {                                                                                           \
        if (single_writer)                                                                         \
            MAPIO__COUNT1(c, field, n);                                                            \
        else                                                                                       \
            MAPIO__COUNT(c, field, n);                                                             \
    } while (0)
    int64_t res = req->result;
    if (res < 0) {
        ADD(errors, 1);
        if (res == MAPIO_ECANCELED)
            ADD(cancelled, 1);
        return;
    }
    if (req->op == MAPIO_OP_COMMIT) {
        const struct mapio__req_priv *rp = mapio__rp_const(req);
        ADD(commit, 1);
        ADD(write, rp->commit_pieces);
        ADD(write_bytes, rp->commit_bytes);
    } else if (mapio__op_is_sync(req->op)) {
        ADD(sync, 1);
        ADD(sync_us, us);
    } else if (mapio__op_is_plain_transfer(req->op) && mapio__op_is_write(req->op)) {
        ADD(write, 1);
        ADD(write_bytes, (uint64_t)res);
        ADD(write_us, us);
    } else if (mapio__op_is_plain_transfer(req->op)) {
        ADD(read, 1);
        ADD(read_bytes, (uint64_t)res);
        ADD(read_us, us);
    }
#undef ADD
}

void mapio__lat_account(struct mapio__lats *l, const mapio_req_t *req, uint64_t ns,
                        bool single_writer)
{
    if (req->result < 0)
        return;
    switch (req->op) {
    case MAPIO_OP_READ:
    case MAPIO_OP_READV:
        mapio__lat_record(&l->read, ns, single_writer);
        break;
    case MAPIO_OP_WRITE:
    case MAPIO_OP_WRITEV:
        mapio__lat_record(&l->write, ns, single_writer);
        break;
    case MAPIO_OP_FDATASYNC:
    case MAPIO_OP_FSYNC:
        mapio__lat_record(&l->sync, ns, single_writer);
        break;
    case MAPIO_OP_COMMIT:
        mapio__lat_record(&l->commit, ns, single_writer);
        break;
    default:
        break;
    }
}

const char *mapio_op_name(mapio_op_t op)
{
    switch (op) {
#define MAPIO__OP_NAME(name, text)                                                                 \
    case MAPIO_OP_##name:                                                                          \
        return text;
        MAPIO_OP_MAP(MAPIO__OP_NAME)
#undef MAPIO__OP_NAME
    default:
        return "unknown";
    }
}

struct out {
    char *buf;
    size_t cap, len;
};

static void put(struct out *o, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *at = o->len < o->cap ? o->buf + o->len : NULL;
    int n = vsnprintf(at, at != NULL ? o->cap - o->len : 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

static void put_string(struct out *o, const char *s)
{
    if (s == NULL) {
        put(o, "null");
        return;
    }
    put(o, "\"");
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            put(o, "\\%c", c);
        else if (c < 0x20)
            put(o, "\\u%04x", c);
        else
            put(o, "%c", c);
    }
    put(o, "\"");
}

static void put_latency(struct out *o, const char *name, const mapio_latency_t *l)
{
    put(o,
        ",\"%s\":{\"count\":%llu,\"p50_ns\":%llu,\"p99_ns\":%llu,\"p999_ns\":%llu,\"max_ns\":%llu}",
        name, (unsigned long long)l->count, (unsigned long long)l->p50_ns,
        (unsigned long long)l->p99_ns, (unsigned long long)l->p999_ns,
        (unsigned long long)l->max_ns);
}

int mapio_metrics_json(const mapio_metrics_t *m, char *buf, size_t cap)
{
    if (m == NULL || (buf == NULL && cap > 0))
        return MAPIO_EINVAL;
    struct out o = { buf, cap, 0 };
    if (cap > 0)
        buf[0] = '\0';
    const char *sep = "{";
#define MAPIO__JSON_COUNTER(name)                                                                  \
    put(&o, "%s\"" #name "\":%llu", sep, (unsigned long long)m->name);                             \
    sep = ",";
    MAPIO_COUNTER_MAP(MAPIO__JSON_COUNTER)
#undef MAPIO__JSON_COUNTER
    put_latency(&o, "read_latency", &m->read_latency);
    put_latency(&o, "write_latency", &m->write_latency);
    put_latency(&o, "sync_latency", &m->sync_latency);
    put_latency(&o, "commit_latency", &m->commit_latency);
    put(&o, ",\"backend\":");
    put_string(&o, m->backend);
    put(&o, ",\"fallback_reason\":");
    put_string(&o, m->fallback_reason);
    put(&o, "}");
    return o.len > (size_t)INT32_MAX ? MAPIO_EOVERFLOW : (int)o.len;
}
