/* tests/map/map_test_posix.c - child processes for map_test.c, by fork(). */
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "map_test_os.h"

int mt_store_faults(mapio_map_t *m, const char *path)
{
    (void)path; /* the child inherits the map itself */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* cmocka catches SIGSEGV; this child must really die of it. */
        signal(SIGSEGV, SIG_DFL);
        volatile unsigned char *raw = mapio_map_ptr(m, 0);
        raw[0] = 1;
        _exit(0);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return 0;
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
}

int mt_child_store_into_frozen(const char *path)
{
    mapio_map_t *m;
    if (mapio_map_new(&m, path, &(mapio_map_opts_t){ .kind = MAPIO_MAP_READ_WRITE }) != 0 ||
        mapio_map_freeze(m) != 0)
        return 2;
    signal(SIGSEGV, SIG_DFL);
    *(volatile unsigned char *)mapio_map_ptr(m, 0) = 1;
    return 0;
}

int mt_with_file_size_limit(int (*fn)(mapio_map_t *), mapio_map_t *m, uint64_t limit,
                            const char **why)
{
    *why = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = { (rlim_t)limit, (rlim_t)limit };
        setrlimit(RLIMIT_FSIZE, &rl);
        _exit(fn(m));
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}
