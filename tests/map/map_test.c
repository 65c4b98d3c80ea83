/*
 * tests/map/map_test.c - mapped files. The access body runs against a file
 * map, a memory map and an empty map; then the file-only features.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapio/map.h"
#include "map_test_os.h"
#include "testutil.h"

static void write_file(const char *path, const void *data, size_t n)
{
    assert_int_equal(tu_write_file(path, data, n), 0);
}

static uint64_t file_size(const char *path)
{
    int64_t n = tu_file_size(path);
    assert_true(n >= 0);
    return (uint64_t)n;
}

/* ---- one body, three variants -------------------------------------------- */

struct variant {
    const char *name;
    mapio_map_t *m;
    char *path;
    uint64_t len;
};

static int setup_file(void **state)
{
    struct variant *v = calloc(1, sizeof *v);
    v->name = "file";
    v->path = tu_path("map");
    v->len = 3 * mapio_page_size() + 5;
    mapio_map_opts_t o = { .kind = MAPIO_MAP_READ_WRITE,
                           .open = MAPIO_MAP_OPEN_OR_CREATE,
                           .size = MAPIO_MAP_SIZE_EXACT,
                           .len = v->len };
    if (mapio_map_new(&v->m, v->path, &o) != 0)
        return -1;
    *state = v;
    return 0;
}

static int setup_memory(void **state)
{
    struct variant *v = calloc(1, sizeof *v);
    v->name = "memory";
    v->len = 3 * mapio_page_size() + 5;
    if (mapio_map_new_memory(&v->m, v->len) != 0)
        return -1;
    *state = v;
    return 0;
}

static int setup_empty(void **state)
{
    struct variant *v = calloc(1, sizeof *v);
    v->name = "empty";
    if (mapio_map_new_empty(&v->m) != 0)
        return -1;
    *state = v;
    return 0;
}

static int teardown_variant(void **state)
{
    struct variant *v = *state;
    assert_int_equal(mapio_map_free(v->m), 0);
    if (v->path != NULL)
        tu_unlink(v->path);
    free(v->path);
    free(v);
    return 0;
}

static void access_is_bounded(void **state)
{
    struct variant *v = *state;
    mapio_map_t *m = v->m;
    assert_int_equal(mapio_map_len(m), v->len);
    unsigned char buf[64], back[64];
    tu_fill(buf, sizeof buf, 3);
    if (v->len > 0) {
        /* Round trips at the edges, unaligned. */
        uint64_t offs[] = { 0, 1, mapio_page_size() - 1, v->len - 64 };
        for (size_t i = 0; i < 4; i++) {
            assert_int_equal(mapio_map_write(m, offs[i], buf, 64), 64);
            assert_int_equal(mapio_map_read(m, offs[i], back, 64), 64);
            assert_memory_equal(buf, back, 64);
            assert_memory_equal(mapio_map_ptr(m, offs[i]), buf, 64);
        }
        /* Reads are short at the end and empty past it. */
        assert_int_equal(mapio_map_read(m, v->len - 10, back, 64), 10);
        void *p;
        assert_int_equal(mapio_map_slice(m, 5, 10, &p), 0);
        assert_ptr_equal(p, (char *)mapio_map_ptr(m, 0) + 5);
        assert_int_equal(mapio_map_zero(m, 0, 64), 0);
        assert_int_equal(mapio_map_read(m, 0, back, 64), 64);
        assert_int_equal(back[0] | back[63], 0);
    }
    assert_int_equal(mapio_map_read(m, v->len, back, 64), 0);
    assert_int_equal(mapio_map_read(m, UINT64_MAX - 3, back, 64), MAPIO_EOVERFLOW);
    assert_null(mapio_map_ptr(m, v->len));
    /* Writes are all or nothing, never past the end. */
    assert_int_equal(mapio_map_write(m, v->len - (v->len ? 1 : 0), buf, 2), MAPIO_ERANGE);
    assert_int_equal(mapio_map_write(m, UINT64_MAX - 1, buf, 8), MAPIO_EOVERFLOW);
    assert_int_equal(mapio_map_write(m, 0, NULL, 8), MAPIO_EINVAL);
    assert_int_equal(mapio_map_zero(m, v->len, 1), MAPIO_ERANGE);
    void *p;
    assert_int_equal(mapio_map_slice(m, v->len, 1, &p), MAPIO_ERANGE);
    assert_int_equal(mapio_map_slice(m, 1, UINT64_MAX, &p), MAPIO_EOVERFLOW);
    assert_int_equal(mapio_map_slice(m, 0, 0, NULL), MAPIO_EINVAL);
    /* Flush, advise and lock the whole thing: fine on every variant. */
    assert_int_equal(mapio_map_flush(m, 0, UINT64_MAX), 0);
    assert_int_equal(mapio_map_flush_async(m, 0, v->len), 0);
    assert_int_equal(mapio_map_flush(m, v->len, 1), MAPIO_ERANGE);
    assert_int_equal(mapio_map_advise(m, 0, v->len, MAPIO_ADVICE_SEQUENTIAL), 0);
    assert_int_equal(mapio_map_advise(m, 0, v->len, (mapio_advice_t)99), MAPIO_EINVAL);
    if (v->len > 0) {
        int r = mapio_map_mlock(m, 1, 10);
        assert_true(r == 0 || r == MAPIO_EPERM || r == MAPIO_ENOMEM);
        if (r == 0)
            assert_int_equal(mapio_map_munlock(m, 1, 10), 0);
    }
    /* NULL is an error, not a crash. */
    assert_int_equal(mapio_map_len(NULL), 0);
    assert_null(mapio_map_ptr(NULL, 0));
    assert_int_equal(mapio_map_read(NULL, 0, back, 1), MAPIO_EINVAL);
    assert_int_equal(mapio_map_write(NULL, 0, buf, 1), MAPIO_EINVAL);
}

static void freeze_makes_writes_fail(void **state)
{
    struct variant *v = *state;
    unsigned char b[4] = { 1, 2, 3, 4 };
    assert_int_equal(mapio_map_freeze(v->m), 0);
    if (v->len > 0)
        assert_int_equal(mapio_map_write(v->m, 0, b, 4), MAPIO_EACCES);
    assert_int_equal(mapio_map_thaw(v->m), 0);
    if (v->len > 0)
        assert_int_equal(mapio_map_write(v->m, 0, b, 4), 4);
}

/* ---- file maps ------------------------------------------------------------------ */

static void open_policies_and_sizes(void **state)
{
    (void)state;
    char *p = tu_path("policy");
    mapio_map_t *m;
    mapio_map_opts_t o = { .kind = MAPIO_MAP_READ_ONLY };
    assert_int_equal(mapio_map_new(&m, p, &o), MAPIO_ENOENT);
    o = (mapio_map_opts_t){ .kind = MAPIO_MAP_READ_WRITE,
                            .open = MAPIO_MAP_CREATE_NEW,
                            .size = MAPIO_MAP_SIZE_AT_LEAST,
                            .len = 100,
                            .mode = 0600 };
    assert_int_equal(mapio_map_new(&m, p, &o), 0);
    assert_int_equal(mapio_map_len(m), 100);
    assert_int_equal(file_size(p), 100);
    assert_int_equal(tu_file_perm(p), (int)tu_perm_kept(0600));
    assert_int_equal(mapio_map_write(m, 0, "hello", 5), 5);
    assert_int_equal(mapio_map_free(m), 0);
    assert_int_equal(mapio_map_new(&m, p, &o), MAPIO_EEXIST);
    /* Whole file, read-only: the bytes written through the shared map. */
    assert_int_equal(mapio_map_new(&m, p, NULL), 0);
    assert_int_equal(mapio_map_len(m), 100);
    assert_memory_equal(mapio_map_ptr(m, 0), "hello", 5);
    assert_int_equal(mapio_map_write(m, 0, "x", 1), MAPIO_EACCES); /* no SIGSEGV */
    assert_int_equal(mapio_map_resize(m, 10), MAPIO_EACCES);
    assert_int_equal(mapio_map_free(m), 0);
    /* At most / if there / exact shrink. */
    o = (mapio_map_opts_t){ .kind = MAPIO_MAP_READ_ONLY,
                            .size = MAPIO_MAP_SIZE_AT_MOST,
                            .len = 1000 };
    assert_int_equal(mapio_map_new(&m, p, &o), 0);
    assert_int_equal(mapio_map_len(m), 100);
    mapio_map_free(m);
    o.size = MAPIO_MAP_SIZE_IF_THERE;
    assert_int_equal(mapio_map_new(&m, p, &o), MAPIO_ERANGE);
    o.len = 50;
    assert_int_equal(mapio_map_new(&m, p, &o), 0);
    assert_int_equal(mapio_map_len(m), 50);
    mapio_map_free(m);
    /* A bad option never touches the file. */
    o = (mapio_map_opts_t){ .kind = MAPIO_MAP_READ_ONLY, .open = MAPIO_MAP_TRUNCATE };
    assert_int_equal(mapio_map_new(&m, p, &o), MAPIO_EINVAL);
    o = (mapio_map_opts_t){ .kind = MAPIO_MAP_READ_WRITE,
                            .size = MAPIO_MAP_SIZE_EXACT,
                            .offset = UINT64_MAX - 5,
                            .len = 10,
                            .open = MAPIO_MAP_TRUNCATE };
    assert_int_equal(mapio_map_new(&m, p, &o), MAPIO_EOVERFLOW);
    o = (mapio_map_opts_t){ .kind = (mapio_map_kind_t)9 };
    assert_int_equal(mapio_map_new(&m, p, &o), MAPIO_EINVAL);
    o = (mapio_map_opts_t){ .flags = 1u << 20 };
    assert_int_equal(mapio_map_new(&m, p, &o), MAPIO_EINVAL);
    assert_int_equal(file_size(p), 100);
    /* Permission bits only, as the vector: above 07777 is refused before
     * anything is created; 07777 itself is a mode. */
    char *q = tu_path("mode");
    static const unsigned bad_modes[] = { 010000, 0100644, 0777777, UINT_MAX };
    for (size_t i = 0; i < sizeof bad_modes / sizeof bad_modes[0]; i++) {
        o = (mapio_map_opts_t){ .kind = MAPIO_MAP_READ_WRITE,
                                .open = MAPIO_MAP_OPEN_OR_CREATE,
                                .size = MAPIO_MAP_SIZE_EXACT,
                                .len = 10,
                                .mode = bad_modes[i] };
        assert_int_equal(mapio_map_new(&m, q, &o), MAPIO_EINVAL);
        assert_false(tu_exists(q));
    }
    o.mode = 07777;
    assert_int_equal(mapio_map_new(&m, q, &o), 0);
    assert_int_equal(mapio_map_free(m), 0);
    assert_true(tu_exists(q));
    tu_unlink(q);
    free(q);
    assert_int_equal(mapio_map_new(NULL, p, NULL), MAPIO_EINVAL);
    assert_int_equal(mapio_map_new(&m, NULL, NULL), MAPIO_EINVAL);
    assert_int_equal(mapio_map_new(&m, tu_dir(), NULL), MAPIO_EISDIR);
    /* Truncate on open empties it; a zero-length file is an empty map. */
    o = (mapio_map_opts_t){ .kind = MAPIO_MAP_READ_WRITE, .open = MAPIO_MAP_TRUNCATE };
    assert_int_equal(mapio_map_new(&m, p, &o), 0);
    assert_int_equal(mapio_map_len(m), 0);
    assert_int_equal(file_size(p), 0);
    assert_int_equal(mapio_map_write(m, 0, "x", 1), MAPIO_ERANGE);
    /* ... which can grow. */
    assert_int_equal(mapio_map_resize(m, 10), 0);
    assert_int_equal(mapio_map_write(m, 9, "x", 1), 1);
    assert_int_equal(mapio_map_free(m), 0);
    assert_int_equal(file_size(p), 10);
    tu_unlink(p);
    free(p);
}

static void byte_offsets_and_copy_on_write(void **state)
{
    (void)state;
    uint64_t page = mapio_page_size();
    size_t n = (size_t)(3 * page);
    unsigned char *data = malloc(n);
    tu_fill(data, n, 9);
    char *p = tu_path("offsets");
    write_file(p, data, n);
    uint64_t offs[] = { 0, 1, page - 1, page + 1 };
    for (size_t i = 0; i < 4; i++) {
        mapio_map_t *m;
        mapio_map_opts_t o = { .kind = MAPIO_MAP_COPY_ON_WRITE, .offset = offs[i] };
        assert_int_equal(mapio_map_new(&m, p, &o), 0);
        assert_int_equal(mapio_map_len(m), n - offs[i]);
        assert_memory_equal(mapio_map_ptr(m, 0), data + offs[i], 16);
        /* Copy-on-write: stores stay here, the file keeps its bytes. */
        assert_int_equal(mapio_map_write(m, 0, "zzzz", 4), 4);
        assert_int_equal(mapio_map_flush(m, 0, UINT64_MAX), 0);
        assert_int_equal(mapio_map_resize(m, 10), MAPIO_EACCES);
        assert_int_equal(mapio_map_free(m), 0);
    }
    unsigned char back[16];
    assert_int_equal(tu_read_file_at(p, back, 16, 0), 16);
    assert_memory_equal(back, data, 16);
    /* Shared writes reach the file (seen through another descriptor). */
    mapio_map_t *m;
    mapio_map_opts_t o = {
        .kind = MAPIO_MAP_READ_WRITE, .offset = page + 3, .size = MAPIO_MAP_SIZE_AT_MOST, .len = 100
    };
    assert_int_equal(mapio_map_new(&m, p, &o), 0);
    assert_int_equal(mapio_map_write(m, 0, "ABCD", 4), 4);
    assert_int_equal(mapio_map_flush(m, 1, 2), 0); /* unaligned range: rounded */
    assert_int_equal(tu_read_file_at(p, back, 4, page + 3), 4);
    assert_memory_equal(back, "ABCD", 4);
    assert_int_equal(mapio_map_free(m), 0);
    free(data);
    tu_unlink(p);
    free(p);
}

static void frozen_map_really_is_read_only(void **state)
{
    (void)state;
    char *p = tu_path("frozen");
    mapio_map_t *m;
    mapio_map_opts_t o = { .kind = MAPIO_MAP_READ_WRITE,
                           .open = MAPIO_MAP_OPEN_OR_CREATE,
                           .size = MAPIO_MAP_SIZE_EXACT,
                           .len = 4096 };
    assert_int_equal(mapio_map_new(&m, p, &o), 0);
    assert_int_equal(mapio_map_freeze(m), 0);
    /* Bypass the API on purpose: the pages themselves must refuse. */
    assert_int_equal(mt_store_faults(m, p), 1);
    assert_int_equal(mapio_map_thaw(m), 0);
    *(volatile unsigned char *)mapio_map_ptr(m, 0) = 1;
    assert_int_equal(mapio_map_free(m), 0);
    /* A read-only kind cannot be thawed into writing. */
    assert_int_equal(mapio_map_new(&m, p, NULL), 0);
    assert_int_equal(mapio_map_freeze(m), 0);
    assert_int_equal(mapio_map_thaw(m), MAPIO_EACCES);
    assert_int_equal(mapio_map_free(m), 0);
    tu_unlink(p);
    free(p);
}

/* In a child whose files may not grow past 1 MiB: the resize fails, and the
 * map (100 bytes) and its file stay as they were and usable. Returns the
 * child's exit status (0: as expected). */
static int resize_past_limit(mapio_map_t *m)
{
    int r = mapio_map_resize(m, 8 << 20);
    if (r != MAPIO_EFBIG)
        return 1;
    unsigned char back[100], want[100];
    tu_fill(want, sizeof want, 4);
    if (mapio_map_len(m) != 100 || mapio_map_read(m, 0, back, 100) != 100 ||
        memcmp(back, want, 100) != 0 || mapio_map_write(m, 99, "y", 1) != 1 ||
        mapio_map_flush(m, 0, UINT64_MAX) != 0)
        return 2;
    if (mapio_map_resize(m, 8192) != 0 || mapio_map_write(m, 8191, "z", 1) != 1 ||
        mapio_map_resize(m, 100) != 0)
        return 3;
    return 0;
}

static void resize_keeps_data_and_survives_failure(void **state)
{
    (void)state;
    char *p = tu_path("resize");
    mapio_map_t *m;
    mapio_map_opts_t o = { .kind = MAPIO_MAP_READ_WRITE,
                           .open = MAPIO_MAP_OPEN_OR_CREATE,
                           .size = MAPIO_MAP_SIZE_EXACT,
                           .len = 4096 };
    assert_int_equal(mapio_map_new(&m, p, &o), 0);
    unsigned char data[4096], back[4096];
    tu_fill(data, sizeof data, 4);
    assert_int_equal(mapio_map_write(m, 0, data, sizeof data), 4096);
    assert_int_equal(mapio_map_resize(m, 64 << 20), 0);
    assert_int_equal(mapio_map_len(m), 64 << 20);
    assert_int_equal(file_size(p), 64 << 20);
    assert_int_equal(mapio_map_read(m, 0, back, sizeof back), 4096);
    assert_memory_equal(data, back, sizeof data);
    assert_int_equal(mapio_map_write(m, (64 << 20) - 4, "tail", 4), 4);
    assert_int_equal(mapio_map_resize(m, 100), 0);
    assert_int_equal(file_size(p), 100);
    assert_int_equal(mapio_map_write(m, 100, "x", 1), MAPIO_ERANGE); /* no SIGBUS */
    assert_int_equal(mapio_map_read(m, 0, back, 100), 100);
    assert_memory_equal(data, back, 100);
    assert_int_equal(mapio_map_resize(m, 0), MAPIO_EINVAL);

    /* A resize the file system refuses (RLIMIT_FSIZE: EFBIG) changes
     * nothing: the map carries on, not poisoned. */
    const char *why = NULL;
    int status = mt_with_file_size_limit(resize_past_limit, m, 1 << 20, &why);
    if (why != NULL)
        printf("skip (refused resize): %s\n", why);
    else
        assert_int_equal(status, 0);
    assert_int_equal(file_size(p), 100);
    assert_int_equal(mapio_map_read(m, 0, back, 100), 100);
    assert_memory_equal(data, back, 99);
    assert_int_equal(mapio_map_free(m), 0);
    tu_unlink(p);
    free(p);
}

static void close_truncate_and_removal(void **state)
{
    (void)state;
    char *p = tu_path("closing");
    mapio_map_t *m;
    mapio_map_opts_t o = { .kind = MAPIO_MAP_READ_WRITE,
                           .open = MAPIO_MAP_OPEN_OR_CREATE,
                           .size = MAPIO_MAP_SIZE_EXACT,
                           .len = 8192 };
    assert_int_equal(mapio_map_new(&m, p, &o), 0);
    assert_int_equal(mapio_map_write(m, 0, "keep", 4), 4);
    assert_int_equal(mapio_map_free_truncate(m, 4), 0);
    assert_int_equal(file_size(p), 4);
    /* Read-only maps cannot truncate; the map stays open. */
    assert_int_equal(mapio_map_new(&m, p, NULL), 0);
    assert_int_equal(mapio_map_free_truncate(m, 0), MAPIO_EACCES);
    assert_int_equal(mapio_map_free(m), 0);
    assert_int_equal(file_size(p), 4);

    /* Remove on close. */
    o.flags = MAPIO_MAP_REMOVE_ON_FREE;
    assert_int_equal(mapio_map_new(&m, p, &o), 0);
    assert_int_equal(mapio_map_free(m), 0);
    assert_int_equal(tu_exists(p), 0);

    /* Identity-checked removal refuses another file or a symlink at the path. */
    o.flags = 0;
    assert_int_equal(mapio_map_new(&m, p, &o), 0);
    char *other = tu_path("other");
    write_file(other, "x", 1);
    /* The path now names another file. (Moved aside first: Windows will not
     * replace a file that is open, and the map holds this one open.) */
    char *aside = tu_path("aside");
    assert_int_equal(tu_rename_over(p, aside), 0);
    assert_int_equal(tu_rename_over(other, p), 0);
    assert_int_equal(mapio_map_remove(m), MAPIO_ESTALE);
    assert_int_equal(tu_exists(p), 1);
    assert_int_equal(mapio_map_free(m), 0);
    assert_int_equal(mapio_map_new(&m, p, &o), 0);
    char *real = tu_path("real");
    assert_int_equal(tu_rename_over(p, real), 0);
    const char *no_link = tu_symlink(real, p);
    if (no_link == NULL) {
        assert_int_equal(mapio_map_remove(m), MAPIO_ESTALE);
        tu_unlink(p);
    } else {
        printf("skip (symlink part): %s\n", no_link);
    }
    assert_int_equal(tu_rename_over(real, p), 0);
    assert_int_equal(mapio_map_remove(m), 0);
    assert_int_equal(tu_exists(p), 0);
    assert_int_equal(mapio_map_write(m, 0, "still", 5), 5); /* the map lives on */
    assert_int_equal(mapio_map_free(m), 0);
    assert_int_equal(mapio_map_free(NULL), 0);
    free(real);
    free(aside);
    free(other);
    free(p);
}

static void locks_and_auto_lock(void **state)
{
    (void)state;
    char *p = tu_path("locks");
    mapio_map_t *a, *b;
    mapio_map_opts_t o = { .kind = MAPIO_MAP_READ_WRITE,
                           .open = MAPIO_MAP_OPEN_OR_CREATE,
                           .size = MAPIO_MAP_SIZE_AT_LEAST,
                           .len = 10,
                           .flags = MAPIO_MAP_LOCK_FILE };
    assert_int_equal(mapio_map_new(&a, p, &o), 0);
    /* A second writable open of the same file fails clearly. */
    assert_int_equal(mapio_map_new(&b, p, &o), MAPIO_EAGAIN);
    mapio_map_opts_t ro = { .kind = MAPIO_MAP_READ_ONLY, .flags = MAPIO_MAP_LOCK_FILE };
    assert_int_equal(mapio_map_new(&b, p, &ro), MAPIO_EAGAIN);
    assert_int_equal(mapio_map_unlock(a), 0);
    assert_int_equal(mapio_map_new(&b, p, &ro), 0); /* shared */
    assert_int_equal(mapio_map_lock(a, MAPIO_MAP_LOCK_EXCLUSIVE | MAPIO_MAP_LOCK_NONBLOCK),
                     MAPIO_EAGAIN);
    assert_int_equal(mapio_map_lock(a, MAPIO_MAP_LOCK_NONBLOCK), 0); /* shared with b */
    assert_int_equal(mapio_map_free(b), 0);
    assert_int_equal(mapio_map_lock(a, MAPIO_MAP_LOCK_EXCLUSIVE | MAPIO_MAP_LOCK_NONBLOCK), 0);
    mapio_map_t *mem;
    assert_int_equal(mapio_map_new_memory(&mem, 10), 0);
    assert_int_equal(mapio_map_lock(mem, MAPIO_MAP_LOCK_EXCLUSIVE | MAPIO_MAP_LOCK_NONBLOCK),
                     MAPIO_EINVAL);
    assert_int_equal(mapio_map_remove(mem), MAPIO_EINVAL);
    assert_int_equal(mapio_map_resize(mem, 20), MAPIO_EINVAL);
    assert_int_equal(mapio_map_free(mem), 0);
    assert_int_equal(mapio_map_free(a), 0);
    tu_unlink(p);
    free(p);
}

static void anonymous_maps(void **state)
{
    (void)state;
    mapio_map_t *m;
    assert_int_equal(mapio_map_new_anon(&m, 1 << 20, MAPIO_MAP_POPULATE | MAPIO_MAP_HUGE_PAGES), 0);
    assert_int_equal(mapio_map_len(m), 1 << 20);
    unsigned char *p = mapio_map_ptr(m, 0);
    for (size_t i = 0; i < (1 << 20); i += 4096)
        assert_int_equal(p[i], 0);
    assert_int_equal(mapio_map_write(m, 12345, "anon", 4), 4);
    assert_int_equal(mapio_map_advise(m, 0, 1 << 20, MAPIO_ADVICE_DONTNEED), 0);
    assert_int_equal(p[12345], 0); /* DONTNEED on private anonymous memory re-zeroes */
    assert_int_equal(mapio_map_free(m), 0);
    assert_int_equal(mapio_map_new_anon(&m, 4096, MAPIO_MAP_STACK), 0);
    assert_int_equal(mapio_map_free(m), 0);
    assert_int_equal(mapio_map_new_anon(&m, 0, 0), MAPIO_EINVAL);
    assert_int_equal(mapio_map_new_anon(&m, 10, MAPIO_MAP_LOCK_FILE), MAPIO_EINVAL);
    assert_int_equal(mapio_map_new_memory(&m, 0), MAPIO_EINVAL);
    assert_int_equal(mapio_map_new_empty(NULL), MAPIO_EINVAL);
    assert_true(mapio_page_size() >= 4096 && (mapio_page_size() & (mapio_page_size() - 1)) == 0);
}

int main(int argc, char **argv)
{
    /* The child that mt_store_faults() starts where there is no fork(). */
    if (argc == 3 && strcmp(argv[1], MT_CHILD_ARG) == 0)
        return mt_child_store_into_frozen(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(access_is_bounded, setup_file, teardown_variant),
        cmocka_unit_test_setup_teardown(access_is_bounded, setup_memory, teardown_variant),
        cmocka_unit_test_setup_teardown(access_is_bounded, setup_empty, teardown_variant),
        cmocka_unit_test_setup_teardown(freeze_makes_writes_fail, setup_file, teardown_variant),
        cmocka_unit_test_setup_teardown(freeze_makes_writes_fail, setup_memory, teardown_variant),
        cmocka_unit_test_setup_teardown(freeze_makes_writes_fail, setup_empty, teardown_variant),
        cmocka_unit_test(open_policies_and_sizes),
        cmocka_unit_test(byte_offsets_and_copy_on_write),
        cmocka_unit_test(frozen_map_really_is_read_only),
        cmocka_unit_test(resize_keeps_data_and_survives_failure),
        cmocka_unit_test(close_truncate_and_removal),
        cmocka_unit_test(locks_and_auto_lock),
        cmocka_unit_test(anonymous_maps),
    };
    return cmocka_run_group_tests_name("map", tests, NULL, NULL);
}
