/*
 * tests/engine/metrics_test.c - latency histograms (accuracy, edges, merge,
 * many writers) and the JSON writer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mapio.h"
#include "engine/latency.h"
#include "testutil.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t exact(uint64_t *v, size_t n, double q)
{
    size_t rank = (size_t)ceil(q * (double)n);
    return v[(rank == 0 ? 1 : rank) - 1];
}

static void within_1pct(uint64_t got, uint64_t want)
{
    double err = fabs((double)got - (double)want) / (double)(want ? want : 1);
    if (want >= 64 && err > 0.01)
        fail_msg("percentile %llu vs exact %llu: %.3f %% off", (unsigned long long)got,
                 (unsigned long long)want, err * 100);
    if (want < 64)
        assert_int_equal(got, want); /* below 64 ns every value has its own bucket */
}

static void check_distribution(uint64_t (*gen)(uint64_t *), const char *name)
{
    enum { N = 200000 };
    static uint64_t v[N];
    static struct mapio__lat h;
    memset(&h, 0, sizeof h);
    uint64_t seed = 1;
    for (size_t i = 0; i < N; i++) {
        v[i] = gen(&seed);
        mapio__lat_record(&h, v[i], true);
    }
    qsort(v, N, sizeof *v, cmp_u64);
    mapio_latency_t l;
    mapio__lat_read(&h, NULL, &l);
    assert_int_equal(l.count, N);
    assert_int_equal(l.max_ns, v[N - 1]);
    printf("%s: p50 %llu/%llu p99 %llu/%llu p999 %llu/%llu\n", name, (unsigned long long)l.p50_ns,
           (unsigned long long)exact(v, N, 0.5), (unsigned long long)l.p99_ns,
           (unsigned long long)exact(v, N, 0.99), (unsigned long long)l.p999_ns,
           (unsigned long long)exact(v, N, 0.999));
    within_1pct(l.p50_ns, exact(v, N, 0.5));
    within_1pct(l.p99_ns, exact(v, N, 0.99));
    within_1pct(l.p999_ns, exact(v, N, 0.999));
}

static uint64_t gen_const(uint64_t *s)
{
    (void)s;
    return 123456;
}
static uint64_t gen_uniform(uint64_t *s)
{
    return 1000 + tu_rand(s) % 10000000; /* 1 us .. 10 ms */
}
static uint64_t gen_exp(uint64_t *s)
{
    double u = ((double)(tu_rand(s) >> 11) + 1) / 9007199254740993.0;
    return (uint64_t)(-log(u) * 300000.0); /* mean 300 us */
}
static uint64_t gen_bimodal(uint64_t *s)
{
    uint64_t r = tu_rand(s);
    return (r & 1) ? 2000 + r % 500 : 5000000 + r % 1000000; /* cached hits and disk */
}
static uint64_t gen_small(uint64_t *s)
{
    return tu_rand(s) % 200;
}

static void distributions_within_one_percent(void **state)
{
    (void)state;
    check_distribution(gen_const, "constant");
    check_distribution(gen_uniform, "uniform");
    check_distribution(gen_exp, "exponential");
    check_distribution(gen_bimodal, "bimodal");
    check_distribution(gen_small, "small");
}

static void edges_and_merge(void **state)
{
    (void)state;
    static struct mapio__lat a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    mapio_latency_t l;
    mapio__lat_read(&a, &b, &l);
    assert_int_equal(l.count, 0);
    assert_int_equal(l.p50_ns, 0);
    mapio__lat_record(&a, 0, true);
    mapio__lat_record(&a, 1, true);
    mapio__lat_record(&a, ((uint64_t)1 << 40) - 1, true);
    mapio__lat_record(&b, (uint64_t)1 << 50, false);
    mapio__lat_read(&a, &b, &l);
    assert_int_equal(l.count, 4);
    assert_int_equal(l.max_ns, (uint64_t)1 << 50);
    assert_true(l.p999_ns <= (uint64_t)1 << 50);
    mapio__lat_read(&a, NULL, &l);
    assert_int_equal(l.count, 3);
    assert_int_equal(l.p50_ns, 1);
    assert_int_equal(l.max_ns, ((uint64_t)1 << 40) - 1);
}

static struct mapio__lat shared;
static void *writer(void *arg)
{
    uint64_t seed = (uint64_t)(uintptr_t)arg;
    for (int i = 0; i < 100000; i++)
        mapio__lat_record(&shared, tu_rand(&seed) % 1000000, false);
    return NULL;
}

static void many_writers_count_exactly(void **state)
{
    (void)state;
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, writer, (void *)(i + 1)), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    mapio_latency_t l;
    mapio__lat_read(&shared, NULL, &l);
    assert_int_equal(l.count, 400000);
}

static void engine_latencies_count_operations(void **state)
{
    (void)state;
    mapio_engine_t *eng;
    assert_int_equal(mapio_engine_new(&eng, NULL), 0);
    char *p = tu_path("lat");
    mapio_file_t f, g;
    assert_int_equal(mapio_file_open_blocking(&f, eng, p, 0, MAPIO_OPEN_HISTOGRAMS), 0);
    assert_int_equal(mapio_file_open_blocking(&g, eng, p, 0, 0), 0);
    char b[100] = { 0 };
    for (int i = 0; i < 10; i++)
        assert_int_equal(mapio_write_at_blocking(&f, b, sizeof b, 0), 100);
    for (int i = 0; i < 7; i++)
        assert_int_equal(mapio_read_at_blocking(&f, b, sizeof b, 0), 100);
    assert_int_equal(mapio_sync_data_blocking(&f), 0);
    assert_int_equal(mapio_read_at_blocking(&g, b, sizeof b, 0), 100);
    mapio_metrics_t m;
    assert_int_equal(mapio_file_metrics(&f, &m), 0);
    assert_int_equal(m.write_latency.count, 10);
    assert_int_equal(m.read_latency.count, 7);
    assert_int_equal(m.sync_latency.count, 1);
    assert_true(m.sync_latency.p50_ns > 0);
    assert_int_equal(mapio_file_metrics(&g, &m), 0);
    assert_int_equal(m.read_latency.count, 0); /* no histograms asked for */
    assert_int_equal(mapio_engine_metrics(eng, &m), 0);
    assert_int_equal(m.read_latency.count, 8);
    assert_int_equal(m.write_latency.count, 10);
    mapio_file_close_blocking(&f);
    mapio_file_close_blocking(&g);
    mapio_engine_free(eng);
    unlink(p);
    free(p);
}

static int done_count;
static void count_done(mapio_req_t *req)
{
    assert_true(req->result >= 0);
    done_count++;
}

/* MAPIO_ENGINE_NO_LATENCY: every operation counted, none timed (no clock
 * read), on the async paths (callbacks, group commit) and the twins. */
static void no_latency_counts_without_timing(void **state)
{
    (void)state;
    mapio_engine_t *eng;
    mapio_engine_opts_t o = { .flags = MAPIO_ENGINE_NO_LATENCY };
    assert_int_equal(mapio_engine_new(&eng, &o), 0);
    char *p = tu_path("nolat");
    mapio_file_t f;
    assert_int_equal(mapio_file_open_blocking(&f, eng, p, 0, MAPIO_OPEN_HISTOGRAMS), 0);
    char b[100] = { 0 };
    for (int i = 0; i < 4; i++)
        assert_int_equal(mapio_write_at_blocking(&f, b, sizeof b, 0), 100);
    assert_int_equal(mapio_read_at_blocking(&f, b, sizeof b, 0), 100);
    mapio_req_t r[4];
    mapio_write_t w = { b, sizeof b, 100 };
    done_count = 0;
    assert_int_equal(mapio_write_at(&f, &r[0], b, sizeof b, 0, count_done), 0);
    assert_int_equal(mapio_read_at(&f, &r[1], b, sizeof b, 0, count_done), 0);
    assert_int_equal(mapio_commit(&f, &r[2], &w, 1, count_done), 0);
    assert_int_equal(mapio_nop(eng, &r[3], count_done), 0);
    while (done_count < 4)
        assert_true(mapio_engine_poll(eng, -1) >= 0);
    mapio_metrics_t m;
    assert_int_equal(mapio_engine_metrics(eng, &m), 0);
    assert_int_equal(m.write, 6); /* the commit writes too */
    assert_int_equal(m.read, 2);
    assert_int_equal(m.commit, 1);
    assert_true(m.sync >= 1);
    assert_int_equal(m.write_us + m.read_us + m.sync_us, 0);
    assert_int_equal(m.write_latency.count + m.read_latency.count + m.sync_latency.count +
                         m.commit_latency.count,
                     0);
    assert_int_equal(mapio_file_metrics(&f, &m), 0);
    assert_int_equal(m.write, 6); /* the commit writes too */
    assert_int_equal(m.read_latency.count + m.write_latency.count, 0);
    assert_int_equal(mapio_file_close_blocking(&f), 0);
    assert_int_equal(mapio_engine_free(eng), 0);
    /* An unknown flag beside it is still refused. */
    o.flags = MAPIO_ENGINE_NO_LATENCY | (1u << 30);
    assert_int_equal(mapio_engine_new(&eng, &o), MAPIO_EINVAL);
    unlink(p);
    free(p);
}

static void json_has_everything(void **state)
{
    (void)state;
    mapio_metrics_t m;
    memset(&m, 0, sizeof m);
    m.write = 42;
    m.commit_latency.p99_ns = 777;
    m.backend = "uring";
    m.fallback_reason = "say \"why\"\\ \n now";
    char buf[4096];
    int n = mapio_metrics_json(&m, buf, sizeof buf);
    assert_true(n > 0 && (size_t)n < sizeof buf);
    assert_int_equal(strlen(buf), (size_t)n);
#define HAS(name) assert_non_null(strstr(buf, "\"" #name "\":"));
    MAPIO_COUNTER_MAP(HAS)
#undef HAS
    assert_non_null(strstr(buf, "\"write\":42"));
    assert_non_null(strstr(buf, "\"commit_latency\":{\"count\":0,\"p50_ns\":0,\"p99_ns\":777"));
    assert_non_null(strstr(buf, "\"backend\":\"uring\""));
    assert_non_null(strstr(buf, "\"fallback_reason\":\"say \\\"why\\\"\\\\ \\u000a now\""));
    assert_int_equal(buf[0], '{');
    assert_int_equal(buf[n - 1], '}');
    /* Cut short: NUL-terminated, same length reported. */
    char small[16];
    assert_int_equal(mapio_metrics_json(&m, small, sizeof small), n);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_int_equal(mapio_metrics_json(&m, NULL, 0), n);
    m.backend = NULL;
    m.fallback_reason = NULL;
    n = mapio_metrics_json(&m, buf, sizeof buf);
    assert_non_null(strstr(buf, "\"backend\":null,\"fallback_reason\":null}"));
    assert_int_equal(mapio_metrics_json(NULL, buf, sizeof buf), MAPIO_EINVAL);
    assert_int_equal(mapio_metrics_json(&m, NULL, 5), MAPIO_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(distributions_within_one_percent),
        cmocka_unit_test(edges_and_merge),
        cmocka_unit_test(many_writers_count_exactly),
        cmocka_unit_test(engine_latencies_count_operations),
        cmocka_unit_test(no_latency_counts_without_timing),
        cmocka_unit_test(json_has_everything),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
