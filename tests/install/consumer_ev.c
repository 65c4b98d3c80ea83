/*
 * tests/install/consumer_ev.c - the libev adapter from an installed
 * mapio-ev: reads complete inside ev_run, on the loop's thread, beside a
 * timer. MAPIO_BACKEND is checked as by consumer.c (exit 77 when the backend
 * cannot run here).
 *
 *   consumer_ev [scratch-dir]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mapio/ev.h>

enum { READS = 64 };

static mapio_ev_t watcher;
static mapio_file_t file;
static mapio_req_t reqs[READS];
static char bufs[READS][512];
static int completed, failed;

static void on_read(mapio_req_t *req)
{
    if (req->result != 512)
        failed = 1;
    if (++completed == READS)
        mapio_ev_stop(&watcher);
}

static void on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)revents;
    (void)t;
    fprintf(stderr, "consumer-ev: timed out with %d of %d reads done\n", completed, READS);
    failed = 1;
    ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
    const char *want = getenv("MAPIO_BACKEND");
    mapio_engine_t *eng;
    int err = mapio_engine_new(&eng, NULL);
    if (err != 0 && want != NULL) {
        printf("skip: backend %s unavailable here: %s\n", want, mapio_strerror(err));
        return 77;
    }
    if (err != 0 || (want != NULL && strcmp(want, mapio_engine_backend(eng)) != 0)) {
        fprintf(stderr, "consumer-ev: engine: %s\n", err ? mapio_strerror(err) : "wrong backend");
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/consumer-ev-%ld.dat", argc > 1 ? argv[1] : "/tmp",
             (long)getpid());
    err = mapio_file_open_blocking(&file, eng, path, READS * 512, MAPIO_OPEN_TRUNCATE);
    if (err != 0) {
        fprintf(stderr, "consumer-ev: open: %s\n", mapio_strerror(err));
        return 1;
    }
    struct ev_loop *loop = ev_default_loop(0);
    err = mapio_ev_start(&watcher, loop, eng);
    for (int i = 0; err == 0 && i < READS; i++)
        err = mapio_read_at(&file, &reqs[i], bufs[i], 512, (uint64_t)i * 512, on_read);
    if (err != 0) {
        fprintf(stderr, "consumer-ev: %s\n", mapio_strerror(err));
        return 1;
    }
    ev_timer timer;
    ev_timer_init(&timer, on_timer, 10.0, 0.);
    ev_timer_start(loop, &timer);
    ev_unref(loop); /* the timer alone does not keep ev_run going */
    ev_run(loop, 0);
    mapio_file_close_blocking(&file);
    mapio_engine_free(eng);
    unlink(path);
    if (failed || completed != READS || watcher.last_error != 0)
        return 1;
    printf("consumer-ev: %d reads in ev_run on %s\n", completed, want ? want : "the default");
    return 0;
}
