/* tests/wal/walog.c - helpers of the log's tests (walog.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "wal_log.h"
#include "walog.h"

const char *wl_backend(void)
{
    const char *b = getenv("MAPIO_BACKEND");
    return b != NULL && b[0] != '\0' ? b : NULL;
}

mapio_engine_t *wl_engine(void)
{
    mapio_engine_t *eng;
    mapio_engine_opts_t o = { .backend = wl_backend(), .max_inflight = 8192 };
    assert_int_equal(mapio_engine_new(&eng, &o), 0);
    return eng;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void wl_rec_fill(unsigned char *p, uint32_t len, uint64_t id, uint32_t index)
{
    put32(p, (uint32_t)id);
    put32(p + 4, (uint32_t)(id >> 32));
    put32(p + 8, index);
    put32(p + 12, len);
    tu_fill(p + WL_REC_MIN, len - WL_REC_MIN, id * 1000003u + index);
}

int wl_rec_check(const void *data, uint32_t len, uint64_t *id, uint32_t *index)
{
    const unsigned char *p = data;
    if (len < WL_REC_MIN || get32(p + 12) != len)
        return 0;
    *id = (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
    *index = get32(p + 8);
    unsigned char want[600];
    if (len > sizeof want)
        return 0;
    tu_fill(want, len - WL_REC_MIN, *id * 1000003u + *index);
    return memcmp(p + WL_REC_MIN, want, len - WL_REC_MIN) == 0;
}

void wl_batch(wl_batch_t *b, uint64_t id, unsigned maxn, uint32_t maxlen, uint64_t *seed)
{
    b->id = id;
    b->n = 1 + (unsigned)(tu_rand(seed) % maxn);
    unsigned char *p = b->store;
    for (unsigned i = 0; i < b->n; i++) {
        uint32_t len = WL_REC_MIN + (uint32_t)(tu_rand(seed) % (maxlen - WL_REC_MIN + 1));
        wl_rec_fill(p, len, id, i);
        b->rec[i].iov_base = p;
        b->rec[i].iov_len = len;
        p += len;
    }
}

void wl_scan(const char *dir, const mapio_wal_opts_t *opts, uint64_t max_id, wl_seen_t *s)
{
    memset(s, 0, sizeof *s);
    s->max_id = max_id;
    s->recs = calloc(max_id + 1, sizeof *s->recs);
    s->count = calloc(max_id + 1, sizeof *s->count);
    s->lsn = calloc(max_id + 1, sizeof *s->lsn);
    mapio_engine_t *eng = wl_engine();
    mapio_wal_t *wal;
    mapio_wal_opts_t o = opts != NULL ? *opts : (mapio_wal_opts_t){ 0 };
    o.flags &= ~(unsigned)MAPIO_WAL_CREATE;
    s->open_err = mapio_wal_new(&wal, eng, dir, &o);
    if (s->open_err == 0) {
        mapio_wal_info(wal, &s->info);
        mapio_wal_iter_t *it;
        assert_int_equal(mapio_wal_iter_new(&it, wal, 0), 0);
        mapio_wal_record_t r;
        uint64_t last_lsn = 0, cur_id = 0;
        uint32_t next_index = 0;
        int rc;
        while ((rc = mapio_wal_iter_next(it, &r)) == 1) {
            s->records++;
            if (r.lsn <= last_lsn && last_lsn != 0)
                s->bad_order = 1;
            last_lsn = r.lsn;
            uint64_t id;
            uint32_t index;
            if (!wl_rec_check(r.data, r.len, &id, &index) || id == 0 || id > max_id) {
                s->foreign++;
                continue;
            }
            if (index != r.index || (index == 0) != (cur_id != id))
                s->bad_order = 1;
            if (index == 0) {
                s->batches++;
                s->lsn[id] = r.batch_lsn;
                cur_id = id;
            } else if (index != next_index) {
                s->bad_order = 1;
            }
            next_index = index + 1;
            s->recs[id]++;
            s->count[id] = r.count;
        }
        s->iter_err = rc;
        mapio_wal_iter_free(it);
        assert_int_equal(mapio_wal_free(wal), 0);
    }
    assert_int_equal(mapio_engine_free(eng), 0);
}

void wl_seen_free(wl_seen_t *s)
{
    free(s->recs);
    free(s->count);
    free(s->lsn);
}

bool wl_has(const wl_seen_t *s, uint64_t id, unsigned n, uint64_t lsn)
{
    return id <= s->max_id && s->recs[id] == n && s->count[id] == n &&
           (lsn == 0 || s->lsn[id] == lsn);
}

bool wl_no_partial(const wl_seen_t *s)
{
    for (uint64_t id = 1; id <= s->max_id; id++)
        if (s->recs[id] != 0 && s->recs[id] != s->count[id])
            return false;
    return true;
}

struct names {
    char **v;
    size_t n, max;
};

static int add_name(void *ctx, const char *name)
{
    struct names *ns = ctx;
    if (ns->n < ns->max)
        ns->v[ns->n++] = strdup(name);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t wl_list(const char *dir, char **names, size_t max)
{
    struct names ns = { names, 0, max };
    assert_int_equal(mapio__wal_list_dir(dir, add_name, &ns), 0);
    qsort(names, ns.n, sizeof *names, cmp_str);
    return ns.n;
}

size_t wl_count(const char *dir, const char *suffix)
{
    char *names[512];
    size_t n = wl_list(dir, names, 512), k = 0, sl = strlen(suffix);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(names[i]);
        k += l >= sl && strcmp(names[i] + l - sl, suffix) == 0;
        free(names[i]);
    }
    return k;
}

char *wl_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

unsigned char *wl_slurp(const char *path, size_t *n)
{
    int64_t size = tu_file_size(path);
    assert_true(size >= 0);
    unsigned char *buf = malloc(size > 0 ? (size_t)size : 1);
    assert_int_equal(tu_read_file_at(path, buf, (size_t)size, 0), size);
    *n = (size_t)size;
    return buf;
}

void wl_copy_dir(const char *src, const char *dst)
{
    assert_int_equal(tu_mkdir(dst), 0);
    char *names[512];
    size_t n = wl_list(src, names, 512);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "LOCK") != 0) {
            char *from = wl_join(src, names[i]), *to = wl_join(dst, names[i]);
            size_t len;
            unsigned char *data = wl_slurp(from, &len);
            assert_int_equal(tu_write_file(to, data, len), 0);
            free(data);
            free(from);
            free(to);
        }
        free(names[i]);
    }
}

void wl_poll_until(mapio_engine_t *eng, volatile int *flag)
{
    while (!*flag)
        assert_true(mapio_engine_poll(eng, 100) >= 0);
}
