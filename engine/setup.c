/*
 * engine/setup.c - creating an engine, what it tells about itself, and what
 * may change only while it is idle (registered buffers, fault hooks).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "os.h"

void mapio__engine_detail(mapio_engine_t *eng, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(eng->report.detail, sizeof eng->report.detail, fmt, ap);
    va_end(ap);
}

void mapio__engine_note(mapio_engine_t *eng, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(eng->report.note, sizeof eng->report.note, fmt, ap);
    va_end(ap);
}

static int check_opts(mapio_engine_opts_t *o)
{
    if (o->max_inflight == 0)
        o->max_inflight = 4096;
    if (o->ring_entries == 0)
        o->ring_entries = 256;
    if (o->workers == 0)
        o->workers = 2;
    if (o->sq_thread_idle_ms == 0)
        o->sq_thread_idle_ms = 1000;
    if (o->workers > 1024 || o->ring_entries > 32768 || o->max_inflight > (1u << 30) ||
        (o->flags & ~(unsigned)(MAPIO_ENGINE_SQPOLL | MAPIO_ENGINE_REGISTER_FILES |
                                MAPIO_ENGINE_NO_INLINE_READS | MAPIO_ENGINE_NO_LATENCY)))
        return MAPIO_EINVAL;
    return 0;
}

int mapio_engine_new(mapio_engine_t **out, const mapio_engine_opts_t *opts)
{
    if (out == NULL)
        return MAPIO_EINVAL;
    *out = NULL;
    mapio_engine_opts_t o = { 0 };
    if (opts != NULL)
        o = *opts;
    if (check_opts(&o) != 0)
        return MAPIO_EINVAL;
    const char *forced_by_env = NULL;
    if (o.backend == NULL) {
        forced_by_env = mapio__os_getenv("MAPIO_BACKEND");
        if (forced_by_env != NULL && forced_by_env[0] == '\0')
            forced_by_env = NULL;
    }
    const char *want = o.backend != NULL ? o.backend : forced_by_env;
    if (want != NULL && mapio__backend_find(want) == NULL)
        return MAPIO_EINVAL;
    o.backend = NULL; /* the caller's string need not outlive this call */

    mapio_engine_t *eng = mapio__calloc(1, sizeof *eng);
    if (eng == NULL)
        return MAPIO_ENOMEM;
    eng->opts = o;
    eng->ctx.commit_delay_us = o.commit_delay_us;
    eng->ctx.commit_max_batch = o.commit_max_batch;
    eng->ctx.no_latency = (o.flags & MAPIO_ENGINE_NO_LATENCY) != 0;
    if (pthread_mutex_init(&eng->lock, NULL) != 0) {
        mapio__free(eng);
        return MAPIO_ENOMEM;
    }
    int err = mapio__backend_select(eng, &eng->opts, want, forced_by_env, &eng->report, &eng->ops,
                                    &eng->be, &eng->fallback_reason);
    if (err != 0) {
        pthread_mutex_destroy(&eng->lock);
        mapio__free(eng);
        return err;
    }
    *out = eng;
    return 0;
}

const char *mapio_engine_backend(const mapio_engine_t *eng)
{
    return eng != NULL ? eng->ops->name : "none";
}

const char *mapio_engine_fallback_reason(const mapio_engine_t *eng)
{
    return eng != NULL ? eng->fallback_reason : NULL;
}

uint64_t mapio_engine_inflight(const mapio_engine_t *eng)
{
    return eng != NULL ? atomic_load(&eng->ctx.inflight) : 0;
}

int mapio_engine_metrics(const mapio_engine_t *eng, mapio_metrics_t *out)
{
    if (eng == NULL || out == NULL)
        return MAPIO_EINVAL;
    const struct mapio__ctx *c = &eng->ctx;
    memset(out, 0, sizeof *out);
    mapio__counters_read(&c->counters, &c->counters_mt, out);
    mapio__lat_read(&c->lat.read, &c->lat_mt.read, &out->read_latency);
    mapio__lat_read(&c->lat.write, &c->lat_mt.write, &out->write_latency);
    mapio__lat_read(&c->lat.sync, &c->lat_mt.sync, &out->sync_latency);
    mapio__lat_read(&c->lat.commit, &c->lat_mt.commit, &out->commit_latency);
    out->backend = eng->ops->name;
    out->fallback_reason = eng->fallback_reason;
    return 0;
}

int mapio_engine_register_buffers(mapio_engine_t *eng, const mapio_iovec_t *iov, unsigned n)
{
    if (eng == NULL || (iov == NULL && n > 0) || n > MAPIO_IOV_MAX)
        return MAPIO_EINVAL;
    if (atomic_load(&eng->ctx.inflight) != 0)
        return MAPIO_EBUSY;
    return MAPIO__BE(eng, register_buffers, eng->be, iov, n);
}

int mapio_engine_fd(mapio_engine_t *eng)
{
    if (eng == NULL)
        return MAPIO_EINVAL;
    int fd = MAPIO__BE(eng, fd, eng->be);
    if (fd >= 0) {
        pthread_mutex_lock(&eng->lock);
        atomic_store(&eng->embedded, true);
        struct mapio__pool *pool = atomic_load(&eng->copy_pool);
        if (pool != NULL)
            mapio__pool_always_notify(pool);
        pthread_mutex_unlock(&eng->lock);
    }
    return fd;
}

/* ---- fault hooks (mapio/fault.h): changed only while idle ---------------- */

int mapio_fault_set(mapio_engine_t *eng, const mapio_fault_hooks_t *hooks)
{
    if (eng == NULL)
        return MAPIO_EINVAL;
    if (atomic_load(&eng->ctx.inflight) != 0)
        return MAPIO_EBUSY;
    mapio__faults_set(&eng->ctx.faults, hooks);
    return 0;
}

int mapio_fault_rules(mapio_engine_t *eng, const mapio_fault_rule_t *rules, unsigned n)
{
    if (eng == NULL)
        return MAPIO_EINVAL;
    int err = mapio__faults_check_rules(rules, n);
    if (err == 0 && atomic_load(&eng->ctx.inflight) != 0)
        err = MAPIO_EBUSY;
    return err != 0 ? err : mapio__faults_rules(&eng->ctx.faults, rules, n);
}

uint64_t mapio_fault_rule_hits(mapio_engine_t *eng, unsigned index)
{
    return eng != NULL ? mapio__faults_rule_hits(&eng->ctx.faults, index) : 0;
}
