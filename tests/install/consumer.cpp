/*
 * tests/install/consumer.cpp - the installed headers and library from C++:
 * every header through the umbrella, an async write and read on the engine,
 * a group commit, the blocking twins. MAPIO_BACKEND is checked as by
 * consumer.c (exit 77 when the backend cannot run here).
 */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

#include <mapio.h>

namespace
{

int completed = 0;

extern "C" void on_done(mapio_req_t *req)
{
    if (req->result < 0) {
        std::fprintf(stderr, "consumer-cpp: %s: %s\n", mapio_op_name(req->op),
                     mapio_strerror(static_cast<int>(req->result)));
        std::exit(1);
    }
    completed++;
}

void check(long long r, const char *what)
{
    if (r < 0) {
        std::fprintf(stderr, "consumer-cpp: %s: %s\n", what, mapio_strerror(static_cast<int>(r)));
        std::exit(1);
    }
}

} // namespace

int main(int argc, char **argv)
{
    const char *want = std::getenv("MAPIO_BACKEND");
    mapio_engine_t *eng = nullptr;
    int err = mapio_engine_new(&eng, nullptr);
    if (err != 0 && want != nullptr) {
        std::printf("skip: backend %s unavailable here: %s\n", want, mapio_strerror(err));
        return 77;
    }
    check(err, "mapio_engine_new");
    std::string got = mapio_engine_backend(eng);
    if (want != nullptr && got != want) {
        std::fprintf(stderr, "consumer-cpp: asked for %s, got %s\n", want, got.c_str());
        return 1;
    }
    std::string path = std::string(argc > 1 ? argv[1] : "/tmp") + "/consumer-cpp-" +
                       std::to_string(static_cast<long>(getpid())) + ".dat";
    mapio_file_t file;
    check(mapio_file_open_blocking(&file, eng, path.c_str(), 0, MAPIO_OPEN_TRUNCATE), "open");
    std::vector<unsigned char> data(8192, 0x5a), back(8192);
    mapio_req_t w, c, r;
    check(mapio_write_at(&file, &w, data.data(), data.size(), 0, on_done), "write_at");
    check(mapio_engine_run(eng), "run");
    mapio_write_t batch = { data.data(), 100, 8192 };
    check(mapio_commit(&file, &c, &batch, 1, on_done), "commit");
    check(mapio_read_at(&file, &r, back.data(), back.size(), 0, on_done), "read_at");
    check(mapio_engine_run(eng), "run");
    if (completed != 3 || back != data ||
        mapio_read_at_blocking(&file, back.data(), 100, 8192) != 100) {
        std::fprintf(stderr, "consumer-cpp: wrong data back\n");
        return 1;
    }
    check(mapio_file_close_blocking(&file), "close");
    check(mapio_engine_free(eng), "engine_free");
    unlink(path.c_str());
    std::printf("consumer-cpp: ok on %s (crc32c %08x)\n", got.c_str(),
                static_cast<unsigned>(mapio_crc32c(0, "123456789", 9)));
    return 0;
}
