/* engine/metrics_json.c - mapio_metrics_t as JSON, generated from the counter list. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

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
