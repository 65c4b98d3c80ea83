/*
 * tests/map/cursor_test.c - cursors, endian numbers at unaligned offsets, and
 * the file utilities.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/os.h"
#include "mapio/map.h"
#include "testutil.h"

static void cursors_stay_in_their_range(void **state)
{
    (void)state;
    mapio_map_t *m;
    assert_int_equal(mapio_map_new_memory(&m, 100), 0);
    mapio_cursor_t c;
    assert_int_equal(mapio_cursor_init(&c, m, 10, 20), 0);
    assert_int_equal(mapio_cursor_write(&c, "0123456789", 10), 10);
    assert_int_equal(mapio_cursor_write(&c, "0123456789ab", 12), MAPIO_ERANGE); /* all or nothing */
    assert_int_equal(mapio_cursor_seek(&c, 0, MAPIO_SEEK_CUR), 10);
    assert_int_equal(mapio_cursor_seek(&c, 0, MAPIO_SEEK_SET), 0);
    char buf[64];
    assert_int_equal(mapio_cursor_read(&c, buf, 64), 20); /* stops at the range's end */
    assert_memory_equal(buf, "0123456789", 10);
    assert_int_equal(mapio_cursor_read(&c, buf, 64), 0);
    assert_int_equal(mapio_cursor_seek(&c, -5, MAPIO_SEEK_END), 15);
    assert_int_equal(mapio_cursor_seek(&c, 1, MAPIO_SEEK_END), MAPIO_ERANGE);
    assert_int_equal(mapio_cursor_seek(&c, -16, MAPIO_SEEK_CUR), MAPIO_ERANGE);
    assert_int_equal(mapio_cursor_seek(&c, INT64_MAX, MAPIO_SEEK_CUR), MAPIO_ERANGE);
    assert_int_equal(mapio_cursor_seek(&c, 0, 42), MAPIO_EINVAL);
    assert_int_equal(mapio_cursor_seek(&c, 0, MAPIO_SEEK_CUR), 15); /* unchanged by failures */
    assert_int_equal(mapio_cursor_init(&c, m, 90, 20), MAPIO_ERANGE);
    assert_int_equal(mapio_cursor_init(&c, m, 1, UINT64_MAX - 0), 0); /* to the end */
    assert_int_equal(c.len, 99);
    assert_int_equal(mapio_cursor_init(&c, m, 2, UINT64_MAX - 1), MAPIO_EOVERFLOW);
    assert_int_equal(mapio_cursor_init(NULL, m, 0, 1), MAPIO_EINVAL);
    assert_int_equal(mapio_map_free(m), 0);
}

static void numbers_every_width_both_orders(void **state)
{
    (void)state;
    mapio_map_t *m;
    assert_int_equal(mapio_map_new_memory(&m, 64), 0);
    unsigned char *p = mapio_map_ptr(m, 0);
    for (uint64_t off = 1; off < 8; off++) { /* unaligned on purpose */
        assert_int_equal(mapio_map_put_u32_be(m, off, 0x01020304u), 0);
        assert_memory_equal(p + off, "\x01\x02\x03\x04", 4);
        assert_int_equal(mapio_map_put_u32_le(m, off, 0x01020304u), 0);
        assert_memory_equal(p + off, "\x04\x03\x02\x01", 4);
        assert_int_equal(mapio_map_put_u24_be(m, off, 0xabcdefu), 0);
        assert_memory_equal(p + off, "\xab\xcd\xef", 3);
        uint32_t u24;
        assert_int_equal(mapio_map_get_u24_le(m, off, &u24), 0);
        assert_int_equal(u24, 0xefcdabu);
        int32_t i24;
        assert_int_equal(mapio_map_put_i24_le(m, off, -2), 0);
        assert_int_equal(mapio_map_get_i24_le(m, off, &i24), 0);
        assert_int_equal(i24, -2);
    }
#define ROUND_TRIP(name, type, bytes, is_signed)                                                   \
    do {                                                                                           \
        type v = (type)(is_signed ? -123 : 0xa5);                                                  \
        type back;                                                                                 \
        assert_int_equal(mapio_map_put_##name##_le(m, 3, v), 0);                                   \
        assert_int_equal(mapio_map_get_##name##_le(m, 3, &back), 0);                               \
        assert_true(back == v);                                                                    \
        assert_int_equal(mapio_map_put_##name##_be(m, 5, v), 0);                                   \
        assert_int_equal(mapio_map_get_##name##_be(m, 5, &back), 0);                               \
        assert_true(back == v);                                                                    \
        /* At the very end: the last byte fits, one more does not. */                              \
        assert_int_equal(mapio_map_put_##name##_le(m, 64 - bytes, v), 0);                          \
        assert_int_equal(mapio_map_get_##name##_be(m, 64 - bytes + 1, &back), MAPIO_ERANGE);       \
        assert_int_equal(mapio_map_put_##name##_be(m, 64 - bytes + 1, v), MAPIO_ERANGE);           \
        assert_int_equal(mapio_map_get_##name##_le(m, UINT64_MAX, &back), MAPIO_EOVERFLOW);        \
        assert_int_equal(mapio_map_get_##name##_le(m, 0, NULL), MAPIO_EINVAL);                     \
    } while (0);
    MAPIO_NUMBER_MAP(ROUND_TRIP)
#undef ROUND_TRIP
    mapio_u128_t big = { 0x0102030405060708ull, 0x090a0b0c0d0e0f10ull }, b2;
    assert_int_equal(mapio_map_put_u128_be(m, 1, big), 0);
    assert_memory_equal(p + 1, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10",
                        16);
    assert_int_equal(mapio_map_get_u128_be(m, 1, &b2), 0);
    assert_true(b2.hi == big.hi && b2.lo == big.lo);
    assert_int_equal(mapio_map_put_u128_le(m, 7, big), 0);
    assert_int_equal(p[7], 0x10);
    assert_int_equal(mapio_map_get_u128_le(m, 7, &b2), 0);
    assert_true(b2.hi == big.hi && b2.lo == big.lo);
    assert_int_equal(mapio_map_get_u128_le(m, 49, &b2), MAPIO_ERANGE);
    double d;
    float f;
    assert_int_equal(mapio_map_put_f64_be(m, 3, 3.25), 0);
    assert_int_equal(mapio_map_get_f64_be(m, 3, &d), 0);
    assert_true(d == 3.25);
    assert_int_equal(p[3], 0x40); /* 3.25 = 0x400A000000000000 */
    assert_int_equal(mapio_map_put_f32_le(m, 9, -1.5f), 0);
    assert_int_equal(mapio_map_get_f32_le(m, 9, &f), 0);
    assert_true(f == -1.5f);
    /* A read-only map refuses puts without faulting. */
    assert_int_equal(mapio_map_freeze(m), 0);
    assert_int_equal(mapio_map_put_u8_le(m, 0, 1), MAPIO_EACCES);
    assert_int_equal(mapio_map_free(m), 0);
}

/* The copy's writes, through the OS table: short, then failing. */
static int copy_writes;
static int64_t short_pwrite(mapio_fd_t fd, const void *buf, size_t len, uint64_t off)
{
    copy_writes++;
    return mapio__os_default.pwrite(fd, buf, len > 5 ? 5 : len, off);
}
static int64_t failing_pwrite(mapio_fd_t fd, const void *buf, size_t len, uint64_t off)
{
    (void)fd, (void)buf, (void)len, (void)off;
    copy_writes++;
    return copy_writes == 1 ? MAPIO_EINTR : MAPIO_EIO;
}

static void file_utilities(void **state)
{
    (void)state;
    assert_int_equal(mapio_path_sync_dir(tu_dir()), 0);
    /* An empty path names nothing: no directory, no parent (not ".", which
     * "" would be by dirname's rule). NULL is a caller's bug. */
    assert_int_equal(mapio_path_sync_dir(""), MAPIO_ENOENT);
    assert_int_equal(mapio_path_sync_parent(""), MAPIO_ENOENT);
    assert_int_equal(mapio_path_sync_dir(NULL), MAPIO_EINVAL);
    assert_int_equal(mapio_path_sync_parent(NULL), MAPIO_EINVAL);
    /* A bare name's parent is the current directory. */
    assert_int_equal(mapio_path_sync_parent("no-such-name-needed"), 0);
    char *p = tu_path("util");
    mapio_map_t *m;
    mapio_map_opts_t o = { .kind = MAPIO_MAP_READ_WRITE,
                           .open = MAPIO_MAP_CREATE_NEW,
                           .size = MAPIO_MAP_SIZE_EXACT,
                           .len = 10000,
                           .mode = 0640 };
    assert_int_equal(mapio_map_new(&m, p, &o), 0);
    assert_int_equal(mapio_path_sync_dir(p), MAPIO_ENOTDIR);
    assert_int_equal(mapio_path_sync_parent(p), 0);
    mapio_path_info_t fi;
    assert_int_equal(mapio_path_info(p, 0, &fi), 0);
    uint64_t dev, ino;
    assert_int_equal(tu_identity(p, &dev, &ino), 0);
    assert_int_equal(fi.size, 10000);
    assert_int_equal(fi.ino, ino);
    assert_int_equal(fi.dev, dev);
    assert_int_equal(fi.mode & 0777, tu_perm_kept(0640));
    assert_int_equal(fi.nlink, 1);
    assert_true(fi.mtime_ns > 0);
    uint64_t size;
    assert_int_equal(mapio_path_device_size(p, &size), 0);
    assert_int_equal(size, 10000);
    /* Copy a range out to a new file; never over an existing one. */
    assert_int_equal(mapio_map_write(m, 500, "copied bytes", 12), 12);
    char *dst = tu_path("copy");
    assert_int_equal(mapio_map_copy_to_file(m, 500, 12, dst), 0);
    char back[12];
    assert_int_equal(tu_read_file_at(dst, back, 12, 0), 12);
    assert_memory_equal(back, "copied bytes", 12);
    assert_int_equal(mapio_map_copy_to_file(m, 500, 12, dst), MAPIO_EEXIST);
    char *dst2 = tu_path("copy2");
    assert_int_equal(mapio_map_copy_to_file(m, 9999, 2, dst2), MAPIO_ERANGE);
    assert_int_equal(tu_exists(dst2), 0);
    /* Short writes are resumed; EINTR is retried; a failure removes the file. */
    char *dst3 = tu_path("copy3");
    mapio__os.pwrite = short_pwrite;
    copy_writes = 0;
    assert_int_equal(mapio_map_copy_to_file(m, 500, 12, dst3), 0);
    assert_int_equal(copy_writes, 3);
    assert_int_equal(tu_read_file_at(dst3, back, 12, 0), 12);
    assert_memory_equal(back, "copied bytes", 12);
    mapio__os.pwrite = failing_pwrite;
    copy_writes = 0;
    assert_int_equal(mapio_map_copy_to_file(m, 500, 12, dst2), MAPIO_EIO);
    mapio__os = mapio__os_default;
    assert_int_equal(copy_writes, 2);
    assert_int_equal(tu_exists(dst2), 0);
    assert_int_equal(tu_unlink(dst3), 0);
    free(dst3);
    assert_int_equal(mapio_path_info(dst2, 0, &fi), MAPIO_ENOENT);
    assert_int_equal(mapio_path_info(NULL, 0, &fi), MAPIO_EINVAL);
    assert_int_equal(mapio_path_device_size(dst2, &size), MAPIO_ENOENT);
    assert_int_equal(mapio_map_free(m), 0);
    unlink(p);
    unlink(dst);
    free(p);
    free(dst);
    free(dst2);
}

/* st_size of a block device is 0; the size must come from the device. Uses
 * the first readable block device whose size sysfs reports. */
static void device_size_of_a_block_device(void **state)
{
    (void)state;
    DIR *d = opendir("/sys/class/block");
    if (d == NULL) {
        print_message("skipped: no /sys/class/block on this machine\n");
        skip();
    }
    int checked = 0;
    for (struct dirent *e; checked == 0 && (e = readdir(d)) != NULL;) {
        char path[512];
        unsigned long long sectors = 0;
        snprintf(path, sizeof path, "/sys/class/block/%s/size", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        int ok = fscanf(f, "%llu", &sectors) == 1;
        fclose(f);
        snprintf(path, sizeof path, "/dev/%s", e->d_name);
        if (!ok || sectors == 0 || access(path, R_OK) != 0)
            continue;
        mapio_path_info_t fi;
        assert_int_equal(mapio_path_info(path, 0, &fi), 0);
        assert_true(S_ISBLK(fi.mode));
        uint64_t size = 0;
        int err = mapio_path_device_size(path, &size);
        if (err == MAPIO_EPERM || err == MAPIO_EACCES)
            continue; /* a container's device policy may refuse the open */
        assert_int_equal(err, 0);
        assert_int_equal(size, sectors * 512); /* sysfs counts 512-byte sectors */
        checked = 1;
    }
    closedir(d);
    if (!checked) {
        print_message("skipped: no block device this process may open\n");
        skip();
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cursors_stay_in_their_range),
        cmocka_unit_test(numbers_every_width_both_orders),
        cmocka_unit_test(file_utilities),
        cmocka_unit_test(device_size_of_a_block_device),
    };
    return cmocka_run_group_tests_name("cursor", tests, NULL, NULL);
}
