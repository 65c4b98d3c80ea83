/*
 * tests/engine/fallback_linux.c - io_uring blocked for real.
 *
 * A forked child installs a seccomp filter that makes io_uring_setup fail with
 * EPERM (what Docker's default profile does), then creates an engine: it must
 * come up on epoll, say why, and do I/O. Another child sets MAPIO_BACKEND=epoll
 * and checks the forced fallback. Children report through their exit status
 * (0 = pass, else the number of the failed check) so that cmocka in the
 * parent sees one clean result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mapio.h"
#include "testutil.h"

static int block_io_uring_setup(void)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = sizeof filter / sizeof *filter, .filter = filter };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static void count_cb(mapio_req_t *req)
{
    *(int64_t *)req->data = req->result;
}

/* Write through the engine, read back, compare. 0 if all is well. */
static int io_works(mapio_engine_t *eng)
{
    char *p = tu_path("fb");
    mapio_file_t f;
    if (mapio_file_open_blocking(&f, eng, p, 0, 0) != 0)
        return 20;
    char w[3000], r[3000];
    tu_fill(w, sizeof w, 5);
    mapio_req_t req;
    int64_t res = -1;
    req.data = &res;
    if (mapio_write_at(&f, &req, w, sizeof w, 10, count_cb) != 0)
        return 21;
    if (mapio_engine_run(eng) != 1 || res != (int64_t)sizeof w)
        return 22;
    res = -1;
    if (mapio_read_at(&f, &req, r, sizeof r, 10, count_cb) != 0)
        return 23;
    if (mapio_engine_run(eng) != 1 || res != (int64_t)sizeof r || memcmp(w, r, sizeof w) != 0)
        return 24;
    mapio_file_close_blocking(&f);
    unlink(p);
    free(p);
    return 0;
}

static int child_seccomp(void)
{
    unsetenv("MAPIO_BACKEND");
    if (block_io_uring_setup() != 0)
        return 2;
    /* The filter really blocks it. */
    if (syscall(__NR_io_uring_setup, 8, NULL) != -1 || errno != EPERM)
        return 3;
    mapio_engine_t *eng;
    if (mapio_engine_new(&eng, NULL) != 0)
        return 4;
    if (strcmp(mapio_engine_backend(eng), "epoll") != 0)
        return 5;
    const char *why = mapio_engine_fallback_reason(eng);
    if (why == NULL || strstr(why, "uring") == NULL || strstr(why, "not permitted") == NULL)
        return 6;
    mapio_metrics_t m;
    if (mapio_engine_metrics(eng, &m) != 0 || m.fallback_reason != why ||
        strcmp(m.backend, "epoll") != 0)
        return 7;
    int err = io_works(eng);
    mapio_engine_free(eng);
    if (err != 0)
        return err;
    /* Asking for io_uring by name reports the error instead of falling back. */
    mapio_engine_opts_t o = { .backend = "uring" };
    if (mapio_engine_new(&eng, &o) != MAPIO_EPERM)
        return 8;
    return 0;
}

static int child_env(void)
{
    setenv("MAPIO_BACKEND", "epoll", 1);
    mapio_engine_t *eng;
    if (mapio_engine_new(&eng, NULL) != 0)
        return 2;
    if (strcmp(mapio_engine_backend(eng), "epoll") != 0)
        return 3;
    const char *why = mapio_engine_fallback_reason(eng);
    if (why == NULL || strstr(why, "MAPIO_BACKEND=epoll") == NULL)
        return 4;
    int err = io_works(eng);
    mapio_engine_free(eng);
    if (err != 0)
        return err;
    setenv("MAPIO_BACKEND", "nonsense", 1);
    if (mapio_engine_new(&eng, NULL) != MAPIO_EINVAL)
        return 5;
    unsetenv("MAPIO_BACKEND");
    /* Unblocked, the first choice wins and no reason is given. */
    if (mapio_engine_new(&eng, NULL) != 0)
        return 6;
    int ok = strcmp(mapio_engine_backend(eng), "uring") == 0 &&
             mapio_engine_fallback_reason(eng) == NULL;
    mapio_engine_free(eng);
    return ok ? 0 : 7;
}

static int run_child(int (*fn)(void))
{
    tu_dir(); /* create it in the parent, so the child's exit does not remove it */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(fn());
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static void seccomp_blocked_uring_falls_back_to_epoll(void **state)
{
    (void)state;
    assert_int_equal(run_child(child_seccomp), 0);
}

static void env_forces_epoll(void **state)
{
    (void)state;
    assert_int_equal(run_child(child_env), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seccomp_blocked_uring_falls_back_to_epoll),
        cmocka_unit_test(env_forces_epoll),
    };
    return cmocka_run_group_tests_name("fallback", tests, NULL, NULL);
}
