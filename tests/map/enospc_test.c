/*
 * tests/map/enospc_test.c - a full file system is MAPIO_ENOSPC from the call
 * that sizes a writable shared mapping, never SIGBUS on a later store, for
 * every writer that maps: mapio_map_new / mapio_map_resize, mapio_vec's
 * growth, mapio_ranged_new, the engine's MMapIO mode, and mapio_ring_new
 * where rings come from /dev/shm. After the error the file has its old size
 * and the map, vector or file is as it was.
 *
 * Each test gets a fresh 1 MiB tmpfs, mounted in a mount namespace private
 * to this process (enospc_test_posix.c: Linux, root only; otherwise every
 * test skips, saying why), so that nothing is mounted where another process
 * can see it and nothing outlives the process, even if it crashes. Where a
 * sizing call wrongly succeeds, the test then stores into every page as a
 * program would - that store is the SIGBUS the fix exists for - before it
 * fails.
 *
 * Every file test runs four ways: with the platform's reservation
 * (fallocate) and with the fallback for file systems that cannot reserve
 * (zeros written into the grown part of the file), each with the free-space
 * check that refuses a growth larger than the free space up front, and
 * without it (-unchecked), where fallocate or the zeros run out of space
 * themselves. Test hooks force the fallback and skip the check. The ring
 * test runs once: rings have no fallback (see docs/ring.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapio.h"
#include "mapio/map.h"
#include "mapio/ranges.h"
#include "mapio/ring.h"
#include "mapio/vec.h"
#include "mmap/map/map_os.h"
#include "enospc_test_os.h"
#include "testutil.h"

#define FS_KIB 1024u               /* the file system */
#define BIG ((uint64_t)4 << 20)    /* more than it holds */
#define FITS ((uint64_t)256 << 10) /* what does fit */
#define OLD ((size_t)64 << 10)     /* an existing file's contents */

struct fixture {
    bool fallback;  /* force the zero-writing fallback */
    bool unchecked; /* skip the free-space check: the file system finds out */
    char *dir;      /* the mount point */
    const char *why_not;
};

static int mount_fs(void **state)
{
    struct fixture *fx = *state;
    static unsigned n;
    char name[32];
    snprintf(name, sizeof name, "%s/fs%u", tu_dir(), n++);
    fx->dir = strdup(name);
    if (fx->dir == NULL)
        return -1;
    fx->why_not = et_mount_small(fx->dir, FS_KIB);
    mapio__mapos_reserve_by_writing = fx->fallback;
    mapio__mapos_reserve_unchecked = fx->unchecked;
    return 0;
}

static int unmount_fs(void **state)
{
    struct fixture *fx = *state;
    mapio__mapos_reserve_by_writing = false;
    mapio__mapos_reserve_unchecked = false;
    et_unmount(fx->dir, fx->why_not == NULL);
    free(fx->dir);
    fx->dir = NULL;
    return 0;
}

/* The fixture, or a skip (with the reason) where there is no small fs. */
static struct fixture *fs_or_skip(void **state)
{
    struct fixture *fx = *state;
    if (fx->why_not != NULL) {
        printf("skip: %s\n", fx->why_not);
        skip();
    }
    return fx;
}

static char *in(const struct fixture *fx, const char *name)
{
    size_t n = strlen(fx->dir) + strlen(name) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", fx->dir, name);
    return p;
}

static int64_t free_bytes(const struct fixture *fx)
{
    int64_t f = et_free_bytes(fx->dir);
    assert_true(f >= 0);
    return f;
}

static uint64_t size_of(const char *path)
{
    int64_t n = tu_file_size(path);
    assert_true(n >= 0);
    return (uint64_t)n;
}

/* A sizing call succeeded that must not have: store into every page as its
 * caller would (the SIGBUS, without the fix), then fail the test. */
static void store_everywhere(unsigned char *p, uint64_t len)
{
    for (uint64_t off = 0; off < len; off += 4096)
        p[off] = 1;
    fail_msg("sizing %llu bytes on a %u KiB file system succeeded", (unsigned long long)len,
             FS_KIB);
}

static void write_old_file(const char *path, unsigned char *old)
{
    tu_fill(old, OLD, 7);
    assert_int_equal(tu_write_file(path, old, OLD), 0);
}

static void old_file_intact(const char *path, const unsigned char *old)
{
    assert_int_equal(size_of(path), OLD);
    unsigned char *back = malloc(OLD);
    assert_non_null(back);
    assert_int_equal(tu_read_file_at(path, back, OLD, 0), (int64_t)OLD);
    assert_memory_equal(back, old, OLD);
    free(back);
}

/* ---- mapio_map_new and mapio_map_resize --------------------------------- */

static int map_rw(mapio_map_t **m, const char *path, mapio_map_open_t open, mapio_map_size_t size,
                  uint64_t offset, uint64_t len)
{
    mapio_map_opts_t o = {
        .kind = MAPIO_MAP_READ_WRITE, .open = open, .size = size, .offset = offset, .len = len
    };
    return mapio_map_new(m, path, &o);
}

/* map_rw where it must fail for want of space. */
static int map_rw_full(const char *path, mapio_map_open_t open, mapio_map_size_t size,
                       uint64_t offset, uint64_t len)
{
    mapio_map_t *m;
    int err = map_rw(&m, path, open, size, offset, len);
    if (err == 0)
        store_everywhere(mapio_map_ptr(m, 0), mapio_map_len(m));
    return err;
}

static void map_sizing(void **state)
{
    struct fixture *fx = fs_or_skip(state);
    char *p = in(fx, "map");
    unsigned char *old = malloc(OLD), *buf = malloc(2 * FITS);
    assert_non_null(old);
    assert_non_null(buf);
    mapio_map_t *m;

    /* A new file sized past the file system: the file stays empty. */
    int64_t free0 = free_bytes(fx);
    assert_int_equal(map_rw_full(p, MAPIO_MAP_CREATE_NEW, MAPIO_MAP_SIZE_EXACT, 0, BIG),
                     MAPIO_ENOSPC);
    assert_int_equal(size_of(p), 0);
    assert_int_equal(free_bytes(fx), free0);

    /* An existing file: its size and bytes stay, whatever the policy. */
    write_old_file(p, old);
    free0 = free_bytes(fx);
    assert_int_equal(map_rw_full(p, MAPIO_MAP_OPEN_EXISTING, MAPIO_MAP_SIZE_AT_LEAST, 0, BIG),
                     MAPIO_ENOSPC);
    old_file_intact(p, old);
    assert_int_equal(map_rw_full(p, MAPIO_MAP_OPEN_OR_CREATE, MAPIO_MAP_SIZE_EXACT, 12345, BIG),
                     MAPIO_ENOSPC);
    old_file_intact(p, old);
    assert_int_equal(free_bytes(fx), free0);

    /* What fits works, to the last byte. */
    assert_int_equal(map_rw(&m, p, MAPIO_MAP_OPEN_EXISTING, MAPIO_MAP_SIZE_AT_LEAST, 0, FITS), 0);
    assert_int_equal(mapio_map_len(m), FITS);
    tu_fill(buf, FITS, 9);
    assert_int_equal(mapio_map_write(m, 0, buf, FITS), (int64_t)FITS);

    /* A resize past the file system: MAPIO_ENOSPC, and the map carries on
     * (not poisoned) over the file's old size. */
    free0 = free_bytes(fx);
    int err = mapio_map_resize(m, BIG);
    if (err == 0)
        store_everywhere(mapio_map_ptr(m, 0), BIG);
    assert_int_equal(err, MAPIO_ENOSPC);
    assert_int_equal(mapio_map_len(m), FITS);
    assert_int_equal(size_of(p), FITS);
    assert_int_equal(free_bytes(fx), free0);
    unsigned char *back = malloc(FITS);
    assert_non_null(back);
    assert_int_equal(mapio_map_read(m, 0, back, FITS), (int64_t)FITS);
    assert_memory_equal(back, buf, FITS);
    assert_int_equal(mapio_map_write(m, FITS - 1, "z", 1), 1);
    assert_int_equal(mapio_map_flush(m, 0, UINT64_MAX), 0);

    /* A resize that fits, written to its end. */
    assert_int_equal(mapio_map_resize(m, 2 * FITS), 0);
    tu_fill(buf, 2 * FITS, 10);
    assert_int_equal(mapio_map_write(m, 0, buf, 2 * FITS), (int64_t)(2 * FITS));
    assert_int_equal(mapio_map_free(m), 0);
    assert_int_equal(size_of(p), 2 * FITS);
    tu_unlink(p);

    /* An existing sparse file opened read-write: its holes are reserved
     * too - except by the fallback, which writes only where the file grows
     * (it cannot tell a hole from zeros someone wrote). */
    assert_int_equal(et_make_sparse(p, BIG), 0);
    if (fx->fallback) {
        assert_int_equal(map_rw(&m, p, MAPIO_MAP_OPEN_EXISTING, MAPIO_MAP_SIZE_FILE, 0, 0), 0);
        assert_int_equal(mapio_map_free(m), 0);
    } else {
        assert_int_equal(map_rw_full(p, MAPIO_MAP_OPEN_EXISTING, MAPIO_MAP_SIZE_FILE, 0, 0),
                         MAPIO_ENOSPC);
    }
    assert_int_equal(size_of(p), BIG);
    /* Read-only and private maps need no blocks. */
    mapio_map_opts_t ro = { .kind = MAPIO_MAP_READ_ONLY };
    assert_int_equal(mapio_map_new(&m, p, &ro), 0);
    assert_int_equal(mapio_map_len(m), BIG);
    assert_int_equal(mapio_map_free(m), 0);
    mapio_map_opts_t cow = { .kind = MAPIO_MAP_COPY_ON_WRITE };
    assert_int_equal(mapio_map_new(&m, p, &cow), 0);
    assert_int_equal(mapio_map_write(m, BIG - 4, "priv", 4), 4);
    assert_int_equal(mapio_map_free(m), 0);

    tu_unlink(p);
    free(back);
    free(buf);
    free(old);
    free(p);
}

/* ---- mapio_vec ------------------------------------------------------------- */

#define ELEM 1000 /* elements straddle pages */

static void elem(unsigned char *e, size_t i)
{
    tu_fill(e, ELEM, i + 1);
}

static void vec_intact(mapio_vec_t *v, size_t len)
{
    assert_int_equal(mapio_vec_len(v), len);
    unsigned char want[ELEM];
    for (size_t i = 0; i < len; i++) {
        elem(want, i);
        assert_memory_equal(mapio_vec_at(v, i), want, ELEM);
    }
}

static void vec_growth(void **state)
{
    struct fixture *fx = fs_or_skip(state);
    char *filler = in(fx, "filler");
    unsigned char *junk = calloc(1, FITS);
    assert_non_null(junk);
    assert_int_equal(tu_write_file(filler, junk, FITS), 0);
    free(junk);

    mapio_vec_opts_t o = { .path_fn = mapio_vec_path_in_dir,
                           .path_ctx = fx->dir,
                           .flags = MAPIO_VEC_KEEP_NAME };
    mapio_vec_t *v;
    assert_int_equal(mapio_vec_new(&v, ELEM, &o), 0);
    unsigned char e[ELEM];
    int err = 0;
    size_t n = 0;
    void *data = NULL;
    size_t cap = 0;
    uint64_t disk = 0;
    int64_t free0 = 0;
    /* Push until the file system is full: the push that cannot grow says
     * MAPIO_ENOSPC (without the fix: a store into a page with no block
     * behind it, SIGBUS). */
    for (; n < (size_t)(BIG / ELEM); n++) {
        data = mapio_vec_data(v);
        cap = mapio_vec_capacity(v);
        disk = mapio_vec_disk_size(v);
        free0 = free_bytes(fx);
        elem(e, n);
        if ((err = mapio_vec_push(v, e)) != 0)
            break;
    }
    assert_int_equal(err, MAPIO_ENOSPC);
    assert_true(n > 0);
    /* Unchanged: same elements, capacity, mapping, file size, free space. */
    vec_intact(v, n);
    assert_int_equal(n, cap);
    assert_ptr_equal(mapio_vec_data(v), data);
    assert_int_equal(mapio_vec_capacity(v), cap);
    assert_int_equal(mapio_vec_disk_size(v), disk);
    assert_int_equal(size_of(mapio_vec_path(v)), disk);
    assert_int_equal(free_bytes(fx), free0);
    /* The other growing calls say the same and change nothing either. */
    assert_int_equal(mapio_vec_reserve(v, 1), MAPIO_ENOSPC);
    assert_int_equal(mapio_vec_resize(v, (size_t)(BIG / ELEM)), MAPIO_ENOSPC);
    assert_int_equal(mapio_vec_push_n(v, mapio_vec_data(v), n), MAPIO_ENOSPC);
    vec_intact(v, n);
    assert_int_equal(size_of(mapio_vec_path(v)), disk);

    /* Still usable: within its capacity, and after space is freed. */
    assert_int_equal(mapio_vec_push_within_capacity(v, e), MAPIO_ENOSPC);
    assert_int_equal(mapio_vec_pop(v, NULL), 0);
    elem(e, n - 1);
    assert_int_equal(mapio_vec_push_within_capacity(v, e), 0);
    vec_intact(v, n);
    assert_int_equal(tu_unlink(filler), 0);
    assert_int_equal(mapio_vec_reserve_exact(v, 10), 0);
    for (size_t i = n; i < n + 10; i++) {
        elem(e, i);
        assert_int_equal(mapio_vec_push(v, e), 0);
    }
    vec_intact(v, n + 10);
    assert_int_equal(mapio_vec_free(v), 0);

    /* A vector born too big leaves nothing behind. */
    free0 = free_bytes(fx);
    assert_int_equal(mapio_vec_new_with_capacity(&v, ELEM, (size_t)(BIG / ELEM), &o), MAPIO_ENOSPC);
    assert_null(v);
    assert_int_equal(free_bytes(fx), free0);
    assert_int_equal(et_entries(fx->dir), 0);
    free(filler);
}

/* ---- mapio_ranged ------------------------------------------------------------ */

static void ranged_create(void **state)
{
    struct fixture *fx = fs_or_skip(state);
    char *p = in(fx, "ranged");
    int64_t free0 = free_bytes(fx);
    mapio_ranged_t *f;
    int err = mapio_ranged_new(&f, p, BIG);
    if (err == 0)
        store_everywhere(mapio_map_ptr(mapio_ranged_map(f), 0), BIG);
    assert_int_equal(err, MAPIO_ENOSPC);
    assert_int_equal(size_of(p), 0); /* created empty, and left so */
    assert_int_equal(free_bytes(fx), free0);

    /* What fits: every range written, read back and flushed. */
    assert_int_equal(mapio_ranged_new(&f, p, FITS), 0);
    mapio_range_seq_t a;
    assert_int_equal(mapio_range_seq_init(&a, FITS, 0), 0);
    unsigned char chunk[16384], back[16384];
    mapio_range_t r;
    uint64_t seed = 1;
    while (mapio_range_seq_alloc(&a, sizeof chunk, &r) == 0) {
        size_t len = (size_t)mapio_range_len(r);
        tu_fill(chunk, len, seed++);
        mapio_receipt_t rc;
        assert_int_equal(mapio_ranged_write(f, r, chunk, len, &rc), 0);
        assert_int_equal(mapio_ranged_flush(f, &rc, 0), 0);
        assert_int_equal(mapio_ranged_read(f, r, back, sizeof back), (int64_t)len);
        assert_memory_equal(back, chunk, len);
    }
    assert_int_equal(mapio_ranged_free(f), 0);
    assert_int_equal(size_of(p), FITS);
    tu_unlink(p);
    free(p);
}

/* ---- MMapIO mode ------------------------------------------------------------- */

/* mapio_file_open_blocking in MMapIO mode where it must fail for want of space. */
static int mmapio_open_full(mapio_engine_t *eng, const char *path, uint64_t size)
{
    mapio_file_t f;
    int err = mapio_file_open_blocking(&f, eng, path, size, MAPIO_OPEN_MMAP);
    if (err == 0) {
        static const unsigned char one = 1;
        for (uint64_t off = 0; off < mapio_file_size(&f); off += 4096)
            mapio_write_at_blocking(&f, &one, 1, off);
        fail_msg("mapio_file_open_blocking of %llu bytes on a %u KiB file system succeeded",
                 (unsigned long long)mapio_file_size(&f), FS_KIB);
    }
    return err;
}

static void mmapio_sizing(void **state)
{
    struct fixture *fx = fs_or_skip(state);
    char *p = in(fx, "mmapio");
    unsigned char *old = malloc(OLD), *buf = malloc(FITS), *back = malloc(FITS);
    assert_non_null(old);
    assert_non_null(buf);
    assert_non_null(back);
    mapio_engine_t *eng;
    mapio_engine_opts_t eo = { 0 };
    assert_int_equal(mapio_engine_new(&eng, &eo), 0);
    mapio_file_t f;

    int64_t free0 = free_bytes(fx);
    assert_int_equal(mmapio_open_full(eng, p, BIG), MAPIO_ENOSPC);
    assert_int_equal(size_of(p), 0);
    assert_int_equal(free_bytes(fx), free0);

    write_old_file(p, old);
    free0 = free_bytes(fx);
    assert_int_equal(mmapio_open_full(eng, p, BIG), MAPIO_ENOSPC);
    old_file_intact(p, old);
    assert_int_equal(free_bytes(fx), free0);

    /* A size that fits: every byte written and read back through the map. */
    assert_int_equal(mapio_file_open_blocking(&f, eng, p, FITS, MAPIO_OPEN_MMAP), 0);
    assert_non_null(mapio_file_ptr(&f, FITS - 1));
    tu_fill(buf, FITS, 11);
    assert_int_equal(mapio_write_at_blocking(&f, buf, FITS, 0), (int64_t)FITS);
    assert_int_equal(mapio_read_at_blocking(&f, back, FITS, 0), (int64_t)FITS);
    assert_memory_equal(back, buf, FITS);
    assert_int_equal(mapio_file_close_blocking(&f), 0);
    assert_int_equal(size_of(p), FITS);
    tu_unlink(p);

    /* A sparse file mapped at its own size (0): its holes are reserved
     * (not by the fallback: see map_sizing). */
    assert_int_equal(et_make_sparse(p, BIG), 0);
    if (fx->fallback) {
        assert_int_equal(mapio_file_open_blocking(&f, eng, p, 0, MAPIO_OPEN_MMAP), 0);
        assert_int_equal(mapio_file_close_blocking(&f), 0);
    } else {
        assert_int_equal(mmapio_open_full(eng, p, 0), MAPIO_ENOSPC);
    }
    assert_int_equal(size_of(p), BIG);

    mapio_engine_free(eng);
    tu_unlink(p);
    free(back);
    free(buf);
    free(old);
    free(p);
}

/* ---- mapio_ring -------------------------------------------------------------- */

static int mount_shm(void **state)
{
    struct fixture *fx = *state;
    fx->dir = NULL;
    fx->why_not = et_mount_shm(FS_KIB);
    return 0;
}

static int unmount_shm(void **state)
{
    (void)state;
    et_unmount_shm();
    return 0;
}

/* The ring's shared memory comes from shm_open, i.e. a tmpfs (/dev/shm,
 * here the small one): a ring larger than it is MAPIO_ENOSPC from the
 * create, and leaves neither a name nor used space behind. */
static void ring_create(void **state)
{
    struct fixture *fx = fs_or_skip(state);
    const char *shm = et_shm_dir();
    int64_t free0 = et_free_bytes(shm);
    assert_true(free0 >= 0);
    mapio_ring_t *r;
    int err = mapio_ring_new(&r, (size_t)BIG, 0);
    if (err == 0)
        store_everywhere(mapio_ring_write_ptr(r), mapio_ring_capacity(r));
    assert_int_equal(err, MAPIO_ENOSPC);
    assert_null(r);
    assert_int_equal(et_free_bytes(shm), free0);
    assert_int_equal(et_entries(shm), 0);

    /* What fits: filled to capacity, across the wrap, and read back. */
    assert_int_equal(mapio_ring_new(&r, (size_t)FITS, 0), 0);
    size_t cap = mapio_ring_capacity(r);
    unsigned char *buf = malloc(cap), *back = malloc(cap);
    assert_non_null(buf);
    assert_non_null(back);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        tu_fill(buf, cap, seed);
        assert_int_equal(mapio_ring_write(r, buf, cap), (int64_t)cap);
        assert_int_equal(mapio_ring_read(r, back, cap), (int64_t)cap);
        assert_memory_equal(back, buf, cap);
        assert_int_equal(mapio_ring_write(r, buf, cap / 3), (int64_t)(cap / 3));
        assert_int_equal(mapio_ring_consume(r, cap / 3), 0);
    }
    assert_int_equal(mapio_ring_free(r), 0);
    assert_int_equal(et_free_bytes(shm), free0);
    (void)fx;
    free(back);
    free(buf);
}

int main(void)
{
    /* First, while the process has one thread (the engine starts more). */
    const char *why_not = et_isolate();
    static struct fixture native = { .fallback = false }, fallback = { .fallback = true },
                          native_u = { .unchecked = true },
                          fallback_u = { .fallback = true, .unchecked = true },
                          ring = { .fallback = false };
    const struct CMUnitTest tests[] = {
        { "map_sizing", map_sizing, mount_fs, unmount_fs, &native },
        { "map_sizing-unchecked", map_sizing, mount_fs, unmount_fs, &native_u },
        { "map_sizing-fallback", map_sizing, mount_fs, unmount_fs, &fallback },
        { "map_sizing-fallback-unchecked", map_sizing, mount_fs, unmount_fs, &fallback_u },
        { "vec_growth", vec_growth, mount_fs, unmount_fs, &native },
        { "vec_growth-unchecked", vec_growth, mount_fs, unmount_fs, &native_u },
        { "vec_growth-fallback", vec_growth, mount_fs, unmount_fs, &fallback },
        { "vec_growth-fallback-unchecked", vec_growth, mount_fs, unmount_fs, &fallback_u },
        { "ranged_create", ranged_create, mount_fs, unmount_fs, &native },
        { "ranged_create-unchecked", ranged_create, mount_fs, unmount_fs, &native_u },
        { "ranged_create-fallback", ranged_create, mount_fs, unmount_fs, &fallback },
        { "ranged_create-fallback-unchecked", ranged_create, mount_fs, unmount_fs, &fallback_u },
        { "mmapio_sizing", mmapio_sizing, mount_fs, unmount_fs, &native },
        { "mmapio_sizing-unchecked", mmapio_sizing, mount_fs, unmount_fs, &native_u },
        { "mmapio_sizing-fallback", mmapio_sizing, mount_fs, unmount_fs, &fallback },
        { "mmapio_sizing-fallback-unchecked", mmapio_sizing, mount_fs, unmount_fs, &fallback_u },
        { "ring_create", ring_create, mount_shm, unmount_shm, &ring },
    };
    if (why_not != NULL)
        printf("enospc_test: every test skips: %s\n", why_not);
    return cmocka_run_group_tests_name("enospc", tests, NULL, NULL);
}
