/*
 * tests/install/consumer.c - a program built against an installed mapio with
 * nothing but what pkg-config (or CMake, or a meson subproject) gives it.
 *
 *   consumer [scratch-dir]
 *
 * It touches every part of the library once - the engine (async write,
 * group commit, read back, blocking twins, metrics), CRC-32C, a map with its
 * number helpers, a ring, a vector, the range allocators - so a static link
 * that misses a dependency fails to link, and a shared one that misses an
 * export fails to load. MAPIO_BACKEND=uring or =epoll picks the backend, and
 * the program checks it got that one: exit 77 (a skip) if the requested
 * backend cannot run on this machine, 1 on any failure.
 *
 * Built with -DMAPIO_EXPECT_VERSION="x.y.z" (pkg-config --modversion), it also
 * checks that the header's version macros are the installed package's.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mapio.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "consumer: %s:%d: %s failed\n", __FILE__, __LINE__, #cond);            \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)
#define CHECK_OK(call)                                                                             \
    do {                                                                                           \
        int64_t r_ = (call);                                                                       \
        if (r_ < 0) {                                                                              \
            fprintf(stderr, "consumer: %s:%d: %s: %s\n", __FILE__, __LINE__, #call,                \
                    mapio_strerror((int)r_));                                                      \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static int done;

static void on_done(mapio_req_t *req)
{
    CHECK(req->result >= 0);
    done++;
}

static void engine_part(const char *dir)
{
    const char *want = getenv("MAPIO_BACKEND");
    mapio_engine_t *eng;
    int err = mapio_engine_new(&eng, NULL);
    if (err != 0 && want != NULL) {
        printf("skip: backend %s unavailable here: %s\n", want, mapio_strerror(err));
        exit(77);
    }
    CHECK_OK(err);
    const char *got = mapio_engine_backend(eng);
    if (want != NULL && strcmp(want, got) != 0) {
        fprintf(stderr, "consumer: asked for %s, got %s\n", want, got);
        exit(1);
    }

    char path[4096];
    snprintf(path, sizeof path, "%s/consumer-%ld.dat", dir, (long)getpid());
    mapio_file_t f;
    CHECK_OK(mapio_file_open_blocking(&f, eng, path, 0, MAPIO_OPEN_TRUNCATE));
    static char buf[4096], back[4096];
    memset(buf, 'm', sizeof buf);
    mapio_req_t w, c, r;
    CHECK_OK(mapio_write_at(&f, &w, buf, sizeof buf, 0, on_done));
    CHECK_OK(mapio_engine_run(eng));
    mapio_write_t batch = { buf, 512, 4096 };
    CHECK_OK(mapio_commit(&f, &c, &batch, 1, on_done));
    CHECK_OK(mapio_read_at(&f, &r, back, sizeof back, 0, on_done));
    CHECK_OK(mapio_engine_run(eng));
    CHECK(done == 3 && r.result == (int64_t)sizeof back && memcmp(buf, back, sizeof back) == 0);
    CHECK(mapio_read_at_blocking(&f, back, 512, 4096) == 512);
    CHECK_OK(mapio_sync_data_blocking(&f));
    mapio_metrics_t m;
    CHECK_OK(mapio_engine_metrics(eng, &m));
    char json[4096];
    CHECK(mapio_metrics_json(&m, json, sizeof json) > 0);
    CHECK(m.write >= 2 && m.commit == 1);
    CHECK_OK(mapio_file_close_blocking(&f));
    CHECK_OK(mapio_engine_free(eng));
    unlink(path);
    printf("consumer: engine ok on %s\n", got);
}

static void toolkit_part(void)
{
    CHECK(mapio_crc32c(0, "123456789", 9) == 0xE3069283u);

    mapio_map_t *map;
    CHECK_OK(mapio_map_new_memory(&map, 64));
    uint32_t v = 0;
    CHECK_OK(mapio_map_put_u32_be(map, 3, 0x01020304u));
    CHECK_OK(mapio_map_get_u32_be(map, 3, &v));
    CHECK(v == 0x01020304u);
    CHECK_OK(mapio_map_free(map));

    mapio_ring_t *ring;
    CHECK_OK(mapio_ring_new(&ring, 1, 0));
    char out[5];
    CHECK(mapio_ring_write(ring, "hello", 5) == 5);
    CHECK(mapio_ring_read(ring, out, 5) == 5 && memcmp(out, "hello", 5) == 0);
    CHECK_OK(mapio_ring_free(ring));

    mapio_vec_t *vec;
    CHECK_OK(mapio_vec_new(&vec, sizeof(uint64_t), NULL));
    for (uint64_t i = 0; i < 1000; i++)
        CHECK_OK(mapio_vec_push(vec, &i));
    CHECK(mapio_vec_len(vec) == 1000 && *(uint64_t *)mapio_vec_at(vec, 999) == 999);
    CHECK_OK(mapio_vec_free(vec));

    mapio_range_seq_t seq;
    mapio_range_t range;
    CHECK_OK(mapio_range_seq_init(&seq, 10000, 0));
    CHECK_OK(mapio_range_seq_alloc(&seq, 1, &range));
    CHECK(range.start == 0 && mapio_range_len(range) == mapio_page_size());
    printf("consumer: toolkit ok (crc32c %s)\n", mapio_crc32c_impl());
}

int main(int argc, char **argv)
{
#ifdef MAPIO_EXPECT_VERSION
    char version[64];
    snprintf(version, sizeof version, "%d.%d.%d", MAPIO_VERSION_MAJOR, MAPIO_VERSION_MINOR,
             MAPIO_VERSION_PATCH);
    if (strcmp(version, MAPIO_EXPECT_VERSION) != 0) {
        fprintf(stderr, "consumer: mapio.h says %s, the package %s\n", version,
                MAPIO_EXPECT_VERSION);
        return 1;
    }
#endif
    const char *dir = argc > 1 ? argv[1] : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    engine_part(dir);
    toolkit_part();
    return 0;
}
