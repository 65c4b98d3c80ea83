/*
 * examples/libev_loop.c - mapio inside your own libev loop.
 *
 * A timer ticks every 100 ms while 10 000 reads of a scratch file complete in
 * the same loop: mapio callbacks and your other watchers share one thread.
 *   libev_loop [path]
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mapio/ev.h"

enum { DEPTH = 16, TOTAL = 10000, SIZE = 4096 };

static mapio_file_t file;
static mapio_req_t reqs[DEPTH];
static unsigned char bufs[DEPTH][SIZE];
static int issued, done;

static void on_read(mapio_req_t *req);

static void issue(int slot)
{
    uint64_t off = (uint64_t)(issued++ % 256) * SIZE;
    reqs[slot].data = (void *)(intptr_t)slot;
    if (mapio_read_at(&file, &reqs[slot], bufs[slot], SIZE, off, on_read) != 0)
        issued--;
}

static void on_read(mapio_req_t *req)
{
    done++;
    if (issued < TOTAL)
        issue((int)(intptr_t)req->data);
}

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)revents;
    printf("tick: %d of %d reads done\n", done, TOTAL);
    if (done == TOTAL)
        ev_break(loop, EVBREAK_ALL);
    (void)t;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/tmp/mapio-libev-example.dat";
    mapio_engine_t *eng;
    int err = mapio_engine_new(&eng, NULL);
    if (err == 0)
        err = mapio_file_open_blocking(&file, eng, path, 256 * SIZE, 0);
    if (err != 0) {
        fprintf(stderr, "%s\n", mapio_strerror(err));
        return 1;
    }
    struct ev_loop *loop = EV_DEFAULT;
    mapio_ev_t watcher;
    if ((err = mapio_ev_start(&watcher, loop, eng)) != 0) {
        fprintf(stderr, "mapio_ev_start: %s\n", mapio_strerror(err));
        return 1;
    }
    ev_timer tick;
    ev_timer_init(&tick, on_tick, 0.1, 0.1);
    ev_timer_start(loop, &tick);

    for (int i = 0; i < DEPTH; i++)
        issue(i);
    ev_run(loop, 0);

    printf("%d reads on %s, all inside the libev loop\n", done, mapio_engine_backend(eng));
    mapio_ev_stop(&watcher);
    mapio_file_close_blocking(&file);
    mapio_engine_free(eng);
    unlink(path);
    return done == TOTAL ? 0 : 1;
}
