/*
 * tests/ring/bufio_test.c - buffered reader and writer over pipes and files:
 * short reads (a writer thread dribbling into a pipe), the low-water mark,
 * large transfers bypassing the buffer, EOF, EINTR - a real signal delivered
 * while the reader blocks on an empty pipe, and injected ones - short and
 * zero-length writes, errors that leave the pending bytes recoverable.
 * Faults are injected through the ring's I/O table (ring_os.h). Uses threads:
 * suite threads. The file tests run twice: on a descriptor the OS opened
 * plainly and on one the engine opened (on Windows the first kind is not
 * overlapped, the second is, and the I/O table must serve both). The OS's
 * own calls are in bufio_test_os.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bufio_test_os.h"
#include "engine/common.h"
#include "engine/os.h"
#include "mapio.h"
#include "mapio/ring.h"
#include "mmap/ring/ring_os.h"
#include "testutil.h"

static size_t page(void)
{
    return bt_page();
}

/* Who opens a test's files: the OS's plain open, or the engine's. */
enum { PLAIN, ENGINE };

/* A file of n pattern bytes, opened read-only. */
static mapio_fd_t pattern_file(size_t n, int opener)
{
    char *path = tu_path("bufio");
    unsigned char *b = malloc(n);
    tu_pat_fill(b, 0, n);
    assert_int_equal(tu_write_file(path, b, n), 0);
    free(b);
    mapio_fd_t fd;
    if (opener == ENGINE)
        assert_int_equal(mapio__os.open(MAPIO_INVALID_FD, path, MAPIO_OPEN_READ_ONLY, &fd), 0);
    else
        fd = bt_open_read(path);
    free(path);
    return fd;
}

/* A fresh file to write to; *path for reading it back. */
static mapio_fd_t out_file(char **path, int opener)
{
    *path = tu_path("bufout");
    mapio_fd_t fd;
    if (opener == ENGINE)
        assert_int_equal(mapio__os.open(MAPIO_INVALID_FD, *path, MAPIO_OPEN_CREATE_NEW, &fd), 0);
    else
        fd = bt_open_write(*path);
    return fd;
}

/* The file at path holds exactly the n bytes at want. */
static void assert_file_holds(const char *path, const void *want, size_t n)
{
    assert_int_equal(tu_file_size(path), (int64_t)n);
    unsigned char *b = malloc(n + 1);
    assert_int_equal(tu_read_file_at(path, b, n, 0), (int64_t)n);
    assert_memory_equal(b, want, n);
    free(b);
}

/* A file test, once per opener. */
#define ON_BOTH(f)                                                                                 \
    static void f##_plain(void **state)                                                            \
    {                                                                                              \
        (void)state;                                                                               \
        f(PLAIN);                                                                                  \
    }                                                                                              \
    static void f##_engine(void **state)                                                           \
    {                                                                                              \
        (void)state;                                                                               \
        f(ENGINE);                                                                                 \
    }

/* ---- the injection table -------------------------------------------------------- */

static struct {
    atomic_int reads, writes; /* calls that reached the hooks */
    atomic_int eintr_seen;    /* real read(2)s that came back with EINTR */
    const void *last_buf;     /* the buffer of the last call */
    int eintr_every;          /* inject MAPIO_EINTR on every k-th call (0: never) */
    size_t max_len;           /* shorten each call to this (0: no limit) */
    int fail_from;            /* from this call on (1-based; 0: never) ... */
    int fail_err;             /* ... return this (0: a zero-length transfer) */
} hk;

static int64_t hook_read(mapio_fd_t fd, void *buf, size_t n)
{
    int call = atomic_fetch_add(&hk.reads, 1) + 1;
    hk.last_buf = buf;
    if (hk.eintr_every > 0 && call % hk.eintr_every == 0)
        return MAPIO_EINTR;
    if (hk.fail_from > 0 && call >= hk.fail_from)
        return hk.fail_err;
    if (hk.max_len > 0 && n > hk.max_len)
        n = hk.max_len;
    int64_t r = mapio__ringos_io_default.read(fd, buf, n);
    if (r == MAPIO_EINTR)
        atomic_fetch_add(&hk.eintr_seen, 1);
    return r;
}

static int64_t hook_write(mapio_fd_t fd, const void *buf, size_t n)
{
    int call = atomic_fetch_add(&hk.writes, 1) + 1;
    hk.last_buf = buf;
    if (hk.eintr_every > 0 && call % hk.eintr_every == 0)
        return MAPIO_EINTR;
    if (hk.fail_from > 0 && call >= hk.fail_from)
        return hk.fail_err;
    if (hk.max_len > 0 && n > hk.max_len)
        n = hk.max_len;
    return mapio__ringos_io_default.write(fd, buf, n);
}

static void hook_reset(void)
{
    atomic_store(&hk.reads, 0);
    atomic_store(&hk.writes, 0);
    atomic_store(&hk.eintr_seen, 0);
    hk.last_buf = NULL;
    hk.eintr_every = 0;
    hk.max_len = 0;
    hk.fail_from = 0;
    hk.fail_err = 0;
}

static int hooks_on(void **state)
{
    (void)state;
    hook_reset();
    mapio__ringos_io.read = hook_read;
    mapio__ringos_io.write = hook_write;
    return 0;
}

static int hooks_off(void **state)
{
    (void)state;
    mapio__ringos_io = mapio__ringos_io_default;
    return 0;
}

/* ---- reader ---------------------------------------------------------------------- */

static void reader_bad_input(void **state)
{
    (void)state;
    mapio_fd_t p[2];
    bt_pipe(p);
    mapio_bufreader_t *br = (mapio_bufreader_t *)&br;
    assert_int_equal(mapio_bufreader_new(NULL, p[0], 100), MAPIO_EINVAL);
    assert_int_equal(mapio_bufreader_new(&br, p[0], 0), MAPIO_EINVAL);
    assert_null(br);
    assert_int_equal(mapio_bufreader_new(&br, MAPIO_INVALID_FD, 100), MAPIO_EINVAL);
    assert_int_equal(mapio_bufreader_new(&br, p[0], SIZE_MAX), MAPIO_EOVERFLOW);
    assert_null(br);
    for (uint64_t nth = 1; nth <= 2; nth++) { /* the reader, then its ring */
        mapio__alloc_fail_after(nth);
        assert_int_equal(mapio_bufreader_new(&br, p[0], 100), MAPIO_ENOMEM);
        mapio__alloc_fail_after(0);
        assert_null(br);
    }
    assert_int_equal(mapio_bufreader_new(&br, p[0], 100), 0);
    assert_int_equal(mapio_bufreader_capacity(br), page());
    assert_true(mapio_bufreader_fd(br) == p[0]);
    unsigned char b[8];
    const void *ptr;
    assert_int_equal(mapio_bufreader_read(br, b, 0), MAPIO_EINVAL); /* zero-length request */
    assert_int_equal(mapio_bufreader_read(br, NULL, 8), MAPIO_EINVAL);
    assert_int_equal(mapio_bufreader_read(br, b, (size_t)INT64_MAX + 1), MAPIO_EOVERFLOW);
    assert_int_equal(mapio_bufreader_fill(br, NULL), MAPIO_EINVAL);
    assert_int_equal(mapio_bufreader_consume(br, 1), MAPIO_ERANGE);
    assert_int_equal(mapio_bufreader_buffered(br, &ptr), 0);
    assert_int_equal(atomic_load(&hk.reads), 0); /* none of that reached the OS */
    assert_int_equal(mapio_bufreader_read(NULL, b, 8), MAPIO_EINVAL);
    assert_int_equal(mapio_bufreader_fill(NULL, &ptr), MAPIO_EINVAL);
    assert_int_equal(mapio_bufreader_consume(NULL, 0), MAPIO_EINVAL);
    assert_int_equal(mapio_bufreader_set_lowat(NULL, 1), MAPIO_EINVAL);
    assert_int_equal(mapio_bufreader_buffered(NULL, &ptr), 0);
    assert_int_equal(mapio_bufreader_capacity(NULL), 0);
    assert_int_equal(mapio_bufreader_lowat(NULL), 0);
    assert_int_equal(mapio_bufreader_fd(NULL), MAPIO_INVALID_FD);
    assert_int_equal(mapio_bufreader_free(NULL), 0);
    assert_int_equal(mapio_bufreader_free(br), 0);
    /* The descriptor is not the reader's: still open. */
    assert_true(bt_is_open(p[0]));
    bt_close(p[0]);
    bt_close(p[1]);
}

/* Random read sizes, some larger than the buffer, over a pipe that already
 * holds everything; then end of file, twice. */
static void reader_delivers_the_stream_then_eof(void **state)
{
    (void)state;
    mapio_fd_t p[2];
    bt_pipe(p);
    size_t total = 40000; /* fits in the pipe */
    unsigned char *data = malloc(total);
    tu_pat_fill(data, 0, total);
    assert_int_equal(bt_write(p[1], data, total), (int64_t)total);
    bt_close(p[1]);
    mapio_bufreader_t *br;
    assert_int_equal(mapio_bufreader_new(&br, p[0], 1), 0);
    size_t cap = mapio_bufreader_capacity(br);
    unsigned char *out = malloc(3 * cap);
    uint64_t rng = 5, pos = 0;
    while (pos < total) {
        size_t n = 1 + (size_t)(tu_rand(&rng) % (3 * cap));
        int64_t got = mapio_bufreader_read(br, out, n);
        assert_true(got > 0 && (size_t)got <= n);
        assert_true(tu_pat_is(out, pos, (size_t)got));
        pos += (uint64_t)got;
    }
    assert_int_equal(pos, total);
    assert_int_equal(mapio_bufreader_read(br, out, 10), 0);
    assert_int_equal(mapio_bufreader_read(br, out, 3 * cap), 0);
    const void *ptr;
    assert_int_equal(mapio_bufreader_fill(br, &ptr), 0);
    assert_int_equal(mapio_bufreader_free(br), 0);
    bt_close(p[0]);
    free(out);
    free(data);
}

static void reader_refills_at_the_low_water_mark(int opener)
{
    size_t pg = page();
    mapio_fd_t fd = pattern_file(20 * pg, opener);
    mapio_bufreader_t *br;
    assert_int_equal(mapio_bufreader_new(&br, fd, pg), 0);
    unsigned char b;
    const void *ptr;
    /* lowat 0: one refill per buffer. */
    for (size_t i = 0; i < 3 * pg; i++) {
        assert_int_equal(mapio_bufreader_read(br, &b, 1), 1);
        assert_int_equal(b, tu_pat(i));
    }
    assert_int_equal(atomic_load(&hk.reads), 3);
    assert_int_equal(mapio_bufreader_buffered(br, &ptr), 0);
    /* lowat 100: refilled when 100 or fewer are left, not before. */
    assert_int_equal(mapio_bufreader_set_lowat(br, 100), 0);
    assert_int_equal(mapio_bufreader_lowat(br), 100);
    uint64_t pos = 3 * pg;
    assert_int_equal(mapio_bufreader_read(br, &b, 1), 1); /* empty: fill */
    pos++;
    while (mapio_bufreader_buffered(br, NULL) > 100) {
        assert_int_equal(mapio_bufreader_read(br, &b, 1), 1);
        assert_int_equal(b, tu_pat(pos++));
    }
    assert_int_equal(atomic_load(&hk.reads), 4);
    assert_int_equal(mapio_bufreader_buffered(br, NULL), 100);
    assert_int_equal(mapio_bufreader_read(br, &b, 1), 1); /* tops up to full, then takes 1 */
    assert_int_equal(b, tu_pat(pos++));
    assert_int_equal(atomic_load(&hk.reads), 5);
    assert_int_equal(mapio_bufreader_buffered(br, &ptr), pg - 1);
    assert_true(tu_pat_is(ptr, pos, pg - 1)); /* one span, across the wrap */
    /* lowat >= capacity: every call tops up whatever room there is. */
    assert_int_equal(mapio_bufreader_set_lowat(br, SIZE_MAX), 0);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(mapio_bufreader_read(br, &b, 1), 1);
        assert_int_equal(b, tu_pat(pos++));
        assert_int_equal(mapio_bufreader_buffered(br, NULL), pg - 1);
    }
    assert_int_equal(atomic_load(&hk.reads), 15);
    assert_int_equal(mapio_bufreader_free(br), 0);
    bt_close(fd);
}
ON_BOTH(reader_refills_at_the_low_water_mark)

static void reader_large_reads_bypass_the_buffer(int opener)
{
    size_t pg = page();
    mapio_fd_t fd = pattern_file(10 * pg, opener);
    mapio_bufreader_t *br;
    assert_int_equal(mapio_bufreader_new(&br, fd, pg), 0);
    unsigned char *big = malloc(4 * pg);
    /* Empty and n >= capacity: straight into the caller's buffer. */
    assert_int_equal(mapio_bufreader_read(br, big, 4 * pg), (int64_t)(4 * pg));
    assert_ptr_equal(hk.last_buf, big);
    assert_true(tu_pat_is(big, 0, 4 * pg));
    assert_int_equal(mapio_bufreader_read(br, big, pg), (int64_t)pg);
    assert_ptr_equal(hk.last_buf, big);
    assert_true(tu_pat_is(big, 4 * pg, pg));
    /* Something buffered: a large read takes only that, without blocking. */
    assert_int_equal(mapio_bufreader_read(br, big, 10), 10);
    assert_ptr_not_equal(hk.last_buf, big);
    int reads = atomic_load(&hk.reads);
    assert_int_equal(mapio_bufreader_read(br, big, 4 * pg), (int64_t)(pg - 10));
    assert_int_equal(atomic_load(&hk.reads), reads);
    assert_true(tu_pat_is(big, 5 * pg + 10, pg - 10));
    assert_int_equal(mapio_bufreader_free(br), 0);
    bt_close(fd);
    free(big);
}
ON_BOTH(reader_large_reads_bypass_the_buffer)

/* fill + consume as a line parser: with lowat >= capacity each fill tops the
 * buffer up, and a line that crosses the end of the mapping is one span. */
static void reader_fill_gives_one_span_across_the_wrap(void **state)
{
    (void)state;
    mapio_fd_t p[2];
    bt_pipe(p);
    char text[20000];
    size_t len = 0;
    int lines = 0;
    uint64_t rng = 9;
    while (len < sizeof text - 200) {
        size_t n = 1 + (size_t)(tu_rand(&rng) % 150);
        for (size_t i = 0; i < n; i++)
            text[len++] = (char)('a' + (lines + i) % 26);
        text[len++] = '\n';
        lines++;
    }
    assert_int_equal(bt_write(p[1], text, len), (int64_t)len);
    bt_close(p[1]);
    mapio_bufreader_t *br;
    assert_int_equal(mapio_bufreader_new(&br, p[0], 256), 0);
    assert_int_equal(mapio_bufreader_set_lowat(br, SIZE_MAX), 0);
    size_t pos = 0;
    int got_lines = 0;
    for (;;) {
        const void *ptr;
        int64_t have = mapio_bufreader_fill(br, &ptr);
        assert_true(have >= 0);
        if (have == 0)
            break;
        const char *nl = memchr(ptr, '\n', (size_t)have);
        assert_non_null(nl); /* lines are shorter than the buffer */
        size_t n = (size_t)(nl - (const char *)ptr) + 1;
        assert_memory_equal(ptr, text + pos, n);
        pos += n;
        got_lines++;
        assert_int_equal(mapio_bufreader_consume(br, n), 0);
    }
    assert_int_equal(pos, len);
    assert_int_equal(got_lines, lines);
    assert_int_equal(mapio_bufreader_free(br), 0);
    bt_close(p[0]);
}

/* A writer thread dribbles the stream into a pipe in small pieces: the
 * reader sees short reads of every size and still the whole stream. */
struct dribble {
    mapio_fd_t fd;
    size_t total, max_piece;
    uint64_t seed;
};

static void *dribbler(void *arg)
{
    struct dribble *d = arg;
    uint64_t rng = d->seed, pos = 0;
    unsigned char buf[4096];
    while (pos < d->total) {
        size_t n = 1 + (size_t)(tu_rand(&rng) % d->max_piece);
        if (n > d->total - pos)
            n = (size_t)(d->total - pos);
        tu_pat_fill(buf, pos, n);
        int64_t w = bt_write(d->fd, buf, n);
        if (w <= 0)
            break;
        pos += (uint64_t)w;
        if (tu_rand(&rng) % 16 == 0)
            bt_sleep_ms(1);
        else
            sched_yield();
    }
    bt_close(d->fd);
    return NULL;
}

static void reader_short_reads_from_a_pipe(void **state)
{
    (void)state;
    mapio_fd_t p[2];
    bt_pipe(p);
    struct dribble d = { .fd = p[1], .total = 1u << 20, .max_piece = 700, .seed = 3 };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, dribbler, &d), 0);
    mapio_bufreader_t *br;
    assert_int_equal(mapio_bufreader_new(&br, p[0], 2 * page()), 0);
    size_t cap = mapio_bufreader_capacity(br);
    unsigned char *out = malloc(2 * cap);
    uint64_t rng = 4, pos = 0;
    int shorts = 0;
    for (;;) {
        size_t n = 1 + (size_t)(tu_rand(&rng) % (2 * cap));
        int64_t got = mapio_bufreader_read(br, out, n);
        assert_true(got >= 0);
        if (got == 0)
            break;
        shorts += (size_t)got < n;
        assert_true(tu_pat_is(out, pos, (size_t)got));
        pos += (uint64_t)got;
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(pos, d.total);
    assert_true(shorts > 0);
    assert_int_equal(mapio_bufreader_free(br), 0);
    bt_close(p[0]);
    free(out);
}

/* A signal without SA_RESTART interrupts the reader blocked on an empty
 * pipe; it must retry, and then deliver the right bytes. */
struct kicker {
    pthread_t target;
    mapio_fd_t fd;
};

static void *kicker(void *arg)
{
    struct kicker *k = arg;
    /* Signal until the reader has been interrupted in read(2) a few times
     * (or 5 s have passed), then send the data. */
    for (int i = 0; i < 500 && atomic_load(&hk.eintr_seen) < 3; i++) {
        bt_sleep_ms(10);
        bt_interrupt(k->target);
    }
    unsigned char b[100];
    tu_pat_fill(b, 0, sizeof b);
    if (bt_write(k->fd, b, sizeof b) != (int64_t)sizeof b)
        abort();
    return NULL;
}

static void reader_retries_after_a_real_eintr(void **state)
{
    (void)state;
    const char *why = bt_interrupts_begin();
    if (why != NULL) {
        printf("skip (eintr part): %s\n", why);
        skip();
        return;
    }
    mapio_fd_t p[2];
    bt_pipe(p);
    mapio_bufreader_t *br;
    assert_int_equal(mapio_bufreader_new(&br, p[0], page()), 0);
    struct kicker k = { .target = pthread_self(), .fd = p[1] };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, kicker, &k), 0);
    unsigned char out[100];
    int64_t got = mapio_bufreader_read(br, out, sizeof out);
    assert_int_equal(pthread_join(t, NULL), 0);
    int signals = bt_interrupts_end();
    assert_int_equal(got, 100);
    assert_true(tu_pat_is(out, 0, 100));
    assert_true(signals > 0);
    assert_true(atomic_load(&hk.eintr_seen) >= 1);
    assert_int_equal(mapio_bufreader_free(br), 0);
    bt_close(p[0]);
    bt_close(p[1]);
}

/* Injected EINTR on every other call, short reads of 3 bytes. */
static void reader_survives_injected_eintr_and_short_reads(int opener)
{
    size_t pg = page();
    mapio_fd_t fd = pattern_file(5 * pg + 123, opener);
    hk.eintr_every = 2;
    hk.max_len = 3;
    mapio_bufreader_t *br;
    assert_int_equal(mapio_bufreader_new(&br, fd, pg), 0);
    unsigned char *out = malloc(2 * pg);
    uint64_t rng = 8, pos = 0;
    for (;;) {
        size_t n = 1 + (size_t)(tu_rand(&rng) % (2 * pg));
        int64_t got = mapio_bufreader_read(br, out, n);
        assert_true(got >= 0 && got <= 3);
        if (got == 0)
            break;
        assert_true(tu_pat_is(out, pos, (size_t)got));
        pos += (uint64_t)got;
    }
    assert_int_equal(pos, 5 * pg + 123);
    assert_int_equal(mapio_bufreader_free(br), 0);
    bt_close(fd);
    free(out);
}
ON_BOTH(reader_survives_injected_eintr_and_short_reads)

static void reader_reports_errors(void **state)
{
    (void)state;
    size_t pg = page();
    unsigned char b[16];
    mapio_bufreader_t *br;
    /* A descriptor that is not open. */
    mapio_fd_t p[2];
    bt_pipe(p);
    bt_close(p[0]);
    bt_close(p[1]);
    assert_int_equal(mapio_bufreader_new(&br, p[0], pg), 0);
    assert_int_equal(mapio_bufreader_read(br, b, sizeof b), MAPIO_EBADF);
    assert_int_equal(mapio_bufreader_free(br), 0);
    /* Non-blocking and empty. */
    bt_pipe(p);
    const char *why = bt_make_nonblocking(p[0]);
    if (why != NULL) {
        printf("skip (non-blocking part): %s\n", why);
        bt_close(p[0]);
        bt_close(p[1]);
        return;
    }
    assert_int_equal(mapio_bufreader_new(&br, p[0], pg), 0);
    assert_int_equal(mapio_bufreader_read(br, b, sizeof b), MAPIO_EAGAIN);
    /* A refill that fails while bytes are buffered: the bytes come first. */
    assert_int_equal(bt_write(p[1], "0123456789", 10), 10);
    assert_int_equal(mapio_bufreader_set_lowat(br, SIZE_MAX), 0);
    assert_int_equal(mapio_bufreader_read(br, b, 4), 4);      /* reads 10, takes 4 */
    assert_int_equal(mapio_bufreader_read(br, b + 4, 16), 6); /* EAGAIN hidden */
    assert_memory_equal(b, "0123456789", 10);
    assert_int_equal(mapio_bufreader_read(br, b, 16), MAPIO_EAGAIN); /* now it shows */
    hk.fail_from = atomic_load(&hk.reads) + 2;
    hk.fail_err = MAPIO_EIO;
    assert_int_equal(bt_write(p[1], "abcdef", 6), 6);
    assert_int_equal(mapio_bufreader_read(br, b, 2), 2);
    assert_int_equal(mapio_bufreader_read(br, b + 2, 2), 2); /* refill fails: EIO hidden */
    assert_int_equal(mapio_bufreader_read(br, b + 4, 16), 2);
    assert_memory_equal(b, "abcdef", 6);
    assert_int_equal(mapio_bufreader_read(br, b, 16), MAPIO_EIO);
    const void *ptr;
    assert_int_equal(mapio_bufreader_fill(br, &ptr), MAPIO_EIO);
    assert_int_equal(mapio_bufreader_free(br), 0);
    bt_close(p[0]);
    bt_close(p[1]);
}

/* ---- writer ---------------------------------------------------------------------- */

static void writer_bad_input(void **state)
{
    (void)state;
    char *path;
    mapio_fd_t fd = out_file(&path, PLAIN);
    mapio_bufwriter_t *w = (mapio_bufwriter_t *)&w;
    assert_int_equal(mapio_bufwriter_new(NULL, fd, 100), MAPIO_EINVAL);
    assert_int_equal(mapio_bufwriter_new(&w, fd, 0), MAPIO_EINVAL);
    assert_null(w);
    assert_int_equal(mapio_bufwriter_new(&w, MAPIO_INVALID_FD, 100), MAPIO_EINVAL);
    assert_int_equal(mapio_bufwriter_new(&w, fd, SIZE_MAX), MAPIO_EOVERFLOW);
    for (uint64_t nth = 1; nth <= 2; nth++) { /* the writer, then its ring */
        mapio__alloc_fail_after(nth);
        assert_int_equal(mapio_bufwriter_new(&w, fd, 100), MAPIO_ENOMEM);
        mapio__alloc_fail_after(0);
        assert_null(w);
    }
    assert_int_equal(mapio_bufwriter_new(&w, fd, 100), 0);
    assert_int_equal(mapio_bufwriter_capacity(w), page());
    assert_true(mapio_bufwriter_fd(w) == fd);
    assert_int_equal(mapio_bufwriter_write(w, "x", 0), MAPIO_EINVAL); /* zero-length request */
    assert_int_equal(mapio_bufwriter_write(w, NULL, 1), MAPIO_EINVAL);
    assert_int_equal(mapio_bufwriter_write(w, "x", (size_t)INT64_MAX + 1), MAPIO_EOVERFLOW);
    assert_int_equal(mapio_bufwriter_pending(w, NULL), 0);
    assert_int_equal(mapio_bufwriter_write(NULL, "x", 1), MAPIO_EINVAL);
    assert_int_equal(mapio_bufwriter_flush(NULL), MAPIO_EINVAL);
    assert_int_equal(mapio_bufwriter_discard(NULL), MAPIO_EINVAL);
    assert_int_equal(mapio_bufwriter_pending(NULL, NULL), 0);
    assert_int_equal(mapio_bufwriter_capacity(NULL), 0);
    assert_int_equal(mapio_bufwriter_fd(NULL), MAPIO_INVALID_FD);
    assert_int_equal(mapio_bufwriter_free(NULL), 0);
    assert_int_equal(mapio_bufwriter_flush(w), 0); /* nothing pending: no call */
    assert_int_equal(atomic_load(&hk.writes), 0);
    assert_int_equal(mapio_bufwriter_free(w), 0);
    assert_int_equal(atomic_load(&hk.writes), 0);
    bt_close(fd);
    free(path);
}

static void writer_buffers_small_and_bypasses_large(int opener)
{
    size_t pg = page();
    char *path;
    mapio_fd_t fd = out_file(&path, opener);
    mapio_bufwriter_t *w;
    assert_int_equal(mapio_bufwriter_new(&w, fd, pg), 0);
    size_t total = 20 * pg;
    unsigned char *data = malloc(total);
    tu_pat_fill(data, 0, total);
    /* Small writes are buffered: no call until the buffer is full. */
    size_t pos = 0;
    while (pos + 100 <= pg) {
        assert_int_equal(mapio_bufwriter_write(w, data + pos, 100), 100);
        pos += 100;
    }
    assert_int_equal(atomic_load(&hk.writes), 0);
    const void *ptr;
    assert_int_equal(mapio_bufwriter_pending(w, &ptr), pos);
    assert_memory_equal(ptr, data, pos);
    assert_int_equal(mapio_bufwriter_write(w, data + pos, 100), 100); /* flush, then buffer */
    assert_int_equal(atomic_load(&hk.writes), 1);
    pos += 100;
    assert_int_equal(mapio_bufwriter_pending(w, NULL), 100);
    /* A large write: the pending bytes go first, then the caller's buffer
     * straight to the descriptor. */
    assert_int_equal(mapio_bufwriter_write(w, data + pos, 3 * pg), (int64_t)(3 * pg));
    assert_int_equal(atomic_load(&hk.writes), 3);
    assert_ptr_equal(hk.last_buf, data + pos);
    pos += 3 * pg;
    assert_int_equal(mapio_bufwriter_pending(w, NULL), 0);
    /* Exactly the capacity with nothing pending: also direct. */
    assert_int_equal(mapio_bufwriter_write(w, data + pos, pg), (int64_t)pg);
    assert_ptr_equal(hk.last_buf, data + pos);
    pos += pg;
    /* The rest in random sizes. */
    uint64_t rng = 1;
    while (pos < total) {
        size_t n = 1 + (size_t)(tu_rand(&rng) % (2 * pg));
        if (n > total - pos)
            n = total - pos;
        assert_int_equal(mapio_bufwriter_write(w, data + pos, n), (int64_t)n);
        pos += n;
    }
    assert_int_equal(mapio_bufwriter_free(w), 0); /* flushes */
    bt_close(fd);
    assert_file_holds(path, data, total);
    free(data);
    free(path);
}

static void writer_continues_short_writes_and_eintr(int opener)
{
    size_t pg = page();
    char *path;
    mapio_fd_t fd = out_file(&path, opener);
    hk.max_len = 7;
    hk.eintr_every = 3;
    mapio_bufwriter_t *w;
    assert_int_equal(mapio_bufwriter_new(&w, fd, pg), 0);
    size_t total = 6 * pg + 11;
    unsigned char *data = malloc(total);
    tu_pat_fill(data, 0, total);
    uint64_t rng = 2;
    for (size_t pos = 0; pos < total;) {
        size_t n = 1 + (size_t)(tu_rand(&rng) % (2 * pg));
        if (n > total - pos)
            n = total - pos;
        assert_int_equal(mapio_bufwriter_write(w, data + pos, n), (int64_t)n);
        pos += n;
    }
    assert_int_equal(mapio_bufwriter_flush(w), 0);
    assert_int_equal(mapio_bufwriter_pending(w, NULL), 0);
    assert_true(atomic_load(&hk.writes) > (int)(total / 7));
    assert_int_equal(mapio_bufwriter_free(w), 0);
    bt_close(fd);
    assert_file_holds(path, data, total);
    free(data);
    free(path);
}

ON_BOTH(writer_buffers_small_and_bypasses_large)
ON_BOTH(writer_continues_short_writes_and_eintr)

/* The OS writes nothing: an error, once - not a spin - and the bytes stay. */
static void writer_zero_length_os_write_is_an_error(int opener)
{
    size_t pg = page();
    char *path;
    mapio_fd_t fd = out_file(&path, opener);
    mapio_bufwriter_t *w;
    assert_int_equal(mapio_bufwriter_new(&w, fd, pg), 0);
    unsigned char data[300];
    tu_pat_fill(data, 0, sizeof data);
    assert_int_equal(mapio_bufwriter_write(w, data, 200), 200);
    hk.fail_from = 1;
    hk.fail_err = 0;
    assert_int_equal(mapio_bufwriter_flush(w), MAPIO_ENOSPC);
    assert_int_equal(atomic_load(&hk.writes), 1);
    const void *ptr;
    assert_int_equal(mapio_bufwriter_pending(w, &ptr), 200);
    assert_memory_equal(ptr, data, 200);
    /* A write that needs room fails the same way and takes nothing. */
    unsigned char *big = malloc(pg);
    assert_int_equal(mapio_bufwriter_write(w, big, pg), MAPIO_ENOSPC);
    assert_int_equal(mapio_bufwriter_pending(w, NULL), 200);
    free(big);
    /* A direct write that makes no progress at all. */
    assert_int_equal(mapio_bufwriter_discard(w), 0);
    big = malloc(2 * pg);
    assert_int_equal(mapio_bufwriter_write(w, big, 2 * pg), MAPIO_ENOSPC);
    free(big);
    /* The device is back: the same writer carries on. */
    hk.fail_from = 0;
    assert_int_equal(mapio_bufwriter_write(w, data, 200), 200);
    assert_int_equal(mapio_bufwriter_write(w, data + 200, 100), 100);
    assert_int_equal(mapio_bufwriter_free(w), 0);
    bt_close(fd);
    assert_file_holds(path, data, 300);
    free(path);
}

ON_BOTH(writer_zero_length_os_write_is_an_error)

/* A flush fails part-way: what was not written is still pending, as one
 * span, for the caller to take; discard then lets free succeed. */
static void writer_keeps_unwritten_bytes_after_a_failure(int opener)
{
    size_t pg = page();
    char *path;
    mapio_fd_t fd = out_file(&path, opener);
    mapio_bufwriter_t *w;
    assert_int_equal(mapio_bufwriter_new(&w, fd, pg), 0);
    unsigned char data[1000];
    tu_pat_fill(data, 0, sizeof data);
    assert_int_equal(mapio_bufwriter_write(w, data, sizeof data), (int64_t)sizeof data);
    hk.max_len = 10; /* the first call writes 10 bytes ... */
    hk.fail_from = 2;
    hk.fail_err = MAPIO_EIO; /* ... the second fails */
    assert_int_equal(mapio_bufwriter_flush(w), MAPIO_EIO);
    const void *ptr;
    assert_int_equal(mapio_bufwriter_pending(w, &ptr), sizeof data - 10);
    assert_memory_equal(ptr, data + 10, sizeof data - 10);
    /* Still failing: free reports it (and frees). Recover first instead. */
    unsigned char saved[1000];
    size_t n = mapio_bufwriter_pending(w, &ptr);
    memcpy(saved, ptr, n);
    assert_int_equal(mapio_bufwriter_discard(w), 0);
    assert_int_equal(mapio_bufwriter_pending(w, NULL), 0);
    assert_int_equal(mapio_bufwriter_free(w), 0);
    assert_memory_equal(saved, data + 10, n);
    /* A direct write that fails part-way reports what reached the file. */
    hook_reset();
    assert_int_equal(mapio_bufwriter_new(&w, fd, pg), 0);
    unsigned char *big = malloc(3 * pg);
    tu_pat_fill(big, 10, 3 * pg);
    hk.max_len = 100;
    hk.fail_from = 4;
    hk.fail_err = MAPIO_EIO;
    assert_int_equal(mapio_bufwriter_write(w, big, 3 * pg), 300);
    assert_int_equal(mapio_bufwriter_write(w, big + 300, 3 * pg - 300), MAPIO_EIO);
    assert_int_equal(mapio_bufwriter_pending(w, NULL), 0);
    /* free with something pending and a failing descriptor: error, freed. */
    assert_int_equal(mapio_bufwriter_write(w, "x", 1), 1);
    assert_int_equal(mapio_bufwriter_free(w), MAPIO_EIO);
    free(big);
    bt_close(fd);
    unsigned char want[310];
    tu_pat_fill(want, 0, sizeof want);
    assert_file_holds(path, want, sizeof want);
    free(path);
}

ON_BOTH(writer_keeps_unwritten_bytes_after_a_failure)

/* A real error: the pipe's reader is gone (SIGPIPE ignored). */
static void writer_reports_a_broken_pipe(void **state)
{
    (void)state;
    bt_survive_broken_pipes(1);
    mapio_fd_t p[2];
    bt_pipe(p);
    bt_close(p[0]);
    mapio_bufwriter_t *w;
    assert_int_equal(mapio_bufwriter_new(&w, p[1], page()), 0);
    assert_int_equal(mapio_bufwriter_write(w, "hello", 5), 5); /* buffered: fine */
    assert_int_equal(mapio_bufwriter_flush(w), MAPIO_EPIPE);
    const void *ptr;
    assert_int_equal(mapio_bufwriter_pending(w, &ptr), 5);
    assert_memory_equal(ptr, "hello", 5);
    assert_int_equal(mapio_bufwriter_free(w), MAPIO_EPIPE);
    bt_close(p[1]);
    bt_survive_broken_pipes(0);
}

/* End to end: a thread writes through a buffered writer into a pipe, the
 * test reads through a buffered reader; random sizes on both sides. */
struct feeder {
    mapio_fd_t fd;
    size_t total;
    int err;
};

static void *feeder(void *arg)
{
    struct feeder *f = arg;
    mapio_bufwriter_t *w;
    f->err = mapio_bufwriter_new(&w, f->fd, 3 * page());
    if (f->err != 0) {
        bt_close(f->fd);
        return NULL;
    }
    unsigned char buf[5 * 4096];
    uint64_t rng = 21, pos = 0;
    while (pos < f->total && f->err == 0) {
        size_t n = 1 + (size_t)(tu_rand(&rng) % sizeof buf);
        if (n > f->total - pos)
            n = (size_t)(f->total - pos);
        tu_pat_fill(buf, pos, n);
        int64_t r = mapio_bufwriter_write(w, buf, n);
        if (r != (int64_t)n)
            f->err = r < 0 ? (int)r : MAPIO_EIO;
        pos += n;
    }
    int err = mapio_bufwriter_free(w);
    if (f->err == 0)
        f->err = err;
    bt_close(f->fd);
    return NULL;
}

static void writer_to_reader_through_a_pipe(void **state)
{
    (void)state;
    mapio_fd_t p[2];
    bt_pipe(p);
    struct feeder f = { .fd = p[1], .total = 8u << 20 };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, feeder, &f), 0);
    mapio_bufreader_t *br;
    assert_int_equal(mapio_bufreader_new(&br, p[0], 2 * page()), 0);
    unsigned char *out = malloc(20000);
    uint64_t rng = 22, pos = 0;
    for (;;) {
        size_t n = 1 + (size_t)(tu_rand(&rng) % 20000);
        int64_t got = mapio_bufreader_read(br, out, n);
        assert_true(got >= 0);
        if (got == 0)
            break;
        assert_true(tu_pat_is(out, pos, (size_t)got));
        pos += (uint64_t)got;
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(f.err, 0);
    assert_int_equal(pos, f.total);
    assert_int_equal(mapio_bufreader_free(br), 0);
    bt_close(p[0]);
    free(out);
}

#define T(f) cmocka_unit_test_setup_teardown(f, hooks_on, hooks_off)
#define T2(f) T(f##_plain), T(f##_engine)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(reader_bad_input),
        T(reader_delivers_the_stream_then_eof),
        T2(reader_refills_at_the_low_water_mark),
        T2(reader_large_reads_bypass_the_buffer),
        T(reader_fill_gives_one_span_across_the_wrap),
        cmocka_unit_test(reader_short_reads_from_a_pipe),
        T(reader_retries_after_a_real_eintr),
        T2(reader_survives_injected_eintr_and_short_reads),
        T(reader_reports_errors),
        T(writer_bad_input),
        T2(writer_buffers_small_and_bypasses_large),
        T2(writer_continues_short_writes_and_eintr),
        T2(writer_zero_length_os_write_is_an_error),
        T2(writer_keeps_unwritten_bytes_after_a_failure),
        T(writer_reports_a_broken_pipe),
        cmocka_unit_test(writer_to_reader_through_a_pipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
