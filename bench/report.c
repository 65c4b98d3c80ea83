/* bench/report.c - see report.h. */
#include "report.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- latency histogram ---------------------------------------------------- */

/* Bucket i < 128 holds the value i; above, the top 7 bits of a value and how
 * far they were shifted name its bucket: shift * 64 + (ns >> shift). */
static unsigned hist_index(uint64_t ns)
{
    if (ns < 128)
        return (unsigned)ns;
    unsigned shift = 57u - (unsigned)__builtin_clzll(ns);
    if (shift * 64 + 127 >= HIST_BUCKETS)
        return HIST_BUCKETS - 1;
    return shift * 64 + (unsigned)(ns >> shift);
}

static uint64_t hist_value(unsigned i)
{
    if (i < 128)
        return i;
    unsigned shift = i / 64 - 1;
    uint64_t top = i - shift * 64;
    return (top << shift) + ((uint64_t)1 << shift) / 2;
}

void hist_add(struct hist *h, uint64_t ns)
{
    h->n[hist_index(ns)]++;
    if (ns > h->max)
        h->max = ns;
}

void hist_get(const struct hist *h, mapio_latency_t *out)
{
    static const unsigned permille[3] = { 500, 990, 999 };
    uint64_t *dst[3] = { &out->p50_ns, &out->p99_ns, &out->p999_ns };
    uint64_t total = 0, seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        total += h->n[i];
    *out = (mapio_latency_t){ .count = total, .max_ns = h->max };
    unsigned k = 0;
    for (unsigned i = 0; i < HIST_BUCKETS && k < 3 && total > 0; i++) {
        seen += h->n[i];
        /* the value of rank ceil(q * total), never past the true maximum */
        while (k < 3 && seen * 1000 >= total * permille[k]) {
            uint64_t v = hist_value(i);
            *dst[k++] = v < h->max ? v : h->max;
        }
    }
}

/* ---- CPU and wall time ------------------------------------------------------ */

static double tv_us(struct timeval a, struct timeval b)
{
    return (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_usec - a.tv_usec);
}

void meter_start(struct meter *m)
{
    getrusage(RUSAGE_SELF, &m->ru0);
    m->t0_ns = now_ns();
}

void meter_stop(struct meter *m)
{
    m->wall_ns = now_ns() - m->t0_ns;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    m->user_us = tv_us(m->ru0.ru_utime, ru.ru_utime);
    m->sys_us = tv_us(m->ru0.ru_stime, ru.ru_stime);
}

/* ---- progress line ---------------------------------------------------------- */

#define PROGRESS_FIRST_NS 1000000000u /* nothing during the first second */
#define PROGRESS_EVERY_NS 250000000u

void progress_start(struct progress *p, const char *label, const char *unit, double seconds,
                    uint64_t total)
{
    uint64_t t0 = now_ns();
    *p = (struct progress){ .label = label,
                            .unit = unit,
                            .t0 = t0,
                            .end = seconds > 0 ? t0 + (uint64_t)(seconds * 1e9) : 0,
                            .next = t0 + PROGRESS_FIRST_NS,
                            .total = total,
                            .on = isatty(STDERR_FILENO) };
    /* A timed run that ends within its first second draws nothing. */
    if (seconds > 0 && seconds <= 1)
        p->on = 0;
}

/* 1234567 -> "1.23M" */
static const char *human(char *buf, size_t cap, double v)
{
    static const char suffix[] = " kMGT";
    int i = 0;
    while (v >= 1000 && i < 4) {
        v /= 1000;
        i++;
    }
    snprintf(buf, cap, i ? "%.3g%c" : "%.3g", v, suffix[i]);
    return buf;
}

void progress_draw(struct progress *p, uint64_t now, uint64_t done)
{
    double secs = (double)(now - p->t0) / 1e9, rate = (double)done / secs, left;
    if (p->end != 0)
        left = now < p->end ? (double)(p->end - now) / 1e9 : 0;
    else
        left = rate > 0 && done < p->total ? (double)(p->total - done) / rate : 0;
    char r[16];
    fprintf(stderr, "\r%s: %s %s/s, %.1f s left\033[K", p->label, human(r, sizeof r, rate), p->unit,
            left);
    fflush(stderr);
    p->drawn = 1;
    p->next = now + PROGRESS_EVERY_NS;
}

void progress_end(struct progress *p)
{
    if (p->drawn)
        fprintf(stderr, "\r\033[K");
    fflush(stderr);
    p->drawn = 0;
}

/* ---- the row ---------------------------------------------------------------- */

static void put_str(const char *s)
{
    if (s == NULL) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
        if (*c == '"' || *c == '\\')
            printf("\\%c", *c);
        else if (*c < 0x20)
            printf("\\u%04x", *c);
        else
            putchar(*c);
    }
    putchar('"');
}

/* A JSON number (NaN and infinities have none: null). */
static void put_num(double v)
{
    if (isfinite(v))
        printf("%.10g", v);
    else
        fputs("null", stdout);
}

/* "--prealloc-mib" -> "prealloc_mib" */
static void key_of(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s", name + strspn(name, "-"));
    for (char *p = buf; *p != '\0'; p++)
        if (*p == '-')
            *p = '_';
}

/* The options mode uses: a JSON object, or (text) the numbers and choices. */
static void put_options(const struct cli *c, const char *mode, int json)
{
    const char *sep = "";
    if (json)
        putchar('{');
    for (int i = 0; i < c->nargs; i++) {
        const struct cli_arg *a = &c->args[i];
        char key[32];
        key_of(key, sizeof key, a->name);
        int is_str = a->type == CLI_STR || a->type == CLI_MODE;
        /* text: whole numbers and choices; the row names the mode, the
         * backend in use and the seconds measured itself */
        if (!cli_uses(a, mode) ||
            (!json && (a->type == CLI_FLAG || a->type == CLI_MODE || a->type == CLI_DOUBLE ||
                       (is_str && (a->choices == NULL || strcmp(key, "backend") == 0)))))
            continue;
        if (json)
            printf("%s\"%s\":", sep, key);
        else
            printf(" %s=", key);
        sep = ",";
        if (a->type == CLI_UINT)
            printf("%u", *(unsigned *)a->dst);
        else if (a->type == CLI_U64)
            printf("%" PRIu64, *(uint64_t *)a->dst);
        else if (a->type == CLI_DOUBLE)
            put_num(*(double *)a->dst);
        else if (a->type == CLI_FLAG)
            fputs(*(int *)a->dst ? "true" : "false", stdout);
        else if (json)
            put_str(*(const char **)a->dst);
        else
            fputs(*(const char **)a->dst, stdout);
    }
    if (json)
        putchar('}');
}

static void put_metrics(const mapio_metrics_t *m)
{
    int n = m != NULL ? mapio_metrics_json(m, NULL, 0) : -1;
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf != NULL && mapio_metrics_json(m, buf, (size_t)n + 1) == n)
        fputs(buf, stdout);
    else
        fputs("null", stdout);
    free(buf);
}

static void row_json(const struct row *r, const struct cli *c, const char *mode, double secs,
                     double iops, double cpu)
{
    const mapio_latency_t *l = &r->lat;
    fputs("{\"name\":", stdout);
    put_str(r->name);
    printf(",\"tool\":\"%s\",\"mode\":", c->prog);
    put_str(r->mode);
    fputs(",\"backend\":", stdout);
    put_str(r->backend);
    printf(",\"peer\":%s,\"options\":", r->peer ? "true" : "false");
    put_options(c, mode, 1);
    printf(",\"ops\":%" PRIu64 ",\"seconds\":", r->ops);
    put_num(secs);
    fputs(",\"iops\":", stdout);
    put_num(iops);
    printf(",\"bytes_per_op\":%" PRIu64 ",\"mib_per_s\":", r->bytes_per_op);
    put_num(iops * (double)r->bytes_per_op / (1 << 20));
    fputs(",\"lat_source\":", stdout);
    put_str(r->lat_source);
    printf(",\"lat_count\":%" PRIu64 ",\"p50_ns\":%" PRIu64 ",\"p99_ns\":%" PRIu64
           ",\"p999_ns\":%" PRIu64 ",\"max_ns\":%" PRIu64 ",\"cpu_user_us\":",
           l->count, l->p50_ns, l->p99_ns, l->p999_ns, l->max_ns);
    put_num(r->meter.user_us);
    fputs(",\"cpu_sys_us\":", stdout);
    put_num(r->meter.sys_us);
    fputs(",\"cpu_us_per_op\":", stdout);
    put_num(cpu);
    for (int i = 0; i < r->nextra; i++) {
        printf(",\"%s\":", r->extra[i].name);
        put_num(r->extra[i].value);
    }
    printf(",\"failed\":%s,\"metrics\":", r->failed ? "true" : "false");
    put_metrics(r->metrics);
    puts("}");
}

void report_row(const struct row *r, const struct cli *c, const char *mode, int json)
{
    double secs = (double)r->meter.wall_ns / 1e9;
    double iops = secs > 0 ? (double)r->ops / secs : NAN;
    double cpu = r->ops > 0 ? (r->meter.user_us + r->meter.sys_us) / (double)r->ops : NAN;
    if (json) {
        row_json(r, c, mode, secs, iops, cpu);
    } else {
        printf("mode=%s backend=%s", r->mode, r->backend);
        put_options(c, mode, 0);
        printf(" ops=%" PRIu64 " seconds=%.3f iops=%.0f", r->ops, secs, iops);
        if (r->bytes_per_op != 0)
            printf(" mib_per_s=%.1f", iops * (double)r->bytes_per_op / (1 << 20));
        for (int i = 0; i < r->nextra; i++)
            printf(" %s=%.6g", r->extra[i].name, r->extra[i].value);
        printf(" p50_us=%.2f p99_us=%.2f p999_us=%.2f cpu_us_per_op=%.3f failed=%d\n",
               (double)r->lat.p50_ns / 1e3, (double)r->lat.p99_ns / 1e3,
               (double)r->lat.p999_ns / 1e3, cpu, r->failed);
    }
    fflush(stdout);
}
