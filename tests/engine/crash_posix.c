/* tests/engine/crash_posix.c - crash.c's committer child, by fork(), killed with SIGKILL. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crash_os.h"

struct ct_child {
    pid_t pid;
    int rfd;
};

ct_child_t *ct_start(const char *path, void (*body)(const char *path, int fd))
{
    int p[2];
    ct_child_t *c = malloc(sizeof *c);
    if (c == NULL || pipe(p) != 0) {
        free(c);
        return NULL;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        body(path, p[1]);
        _exit(0);
    }
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        free(c);
        return NULL;
    }
    c->pid = pid;
    c->rfd = p[0];
    return c;
}

int ct_read(ct_child_t *c, void *buf, size_t n)
{
    ssize_t r = read(c->rfd, buf, n);
    return r == (ssize_t)n;
}

int ct_kill(ct_child_t *c)
{
    return kill(c->pid, SIGKILL);
}

int ct_reaped_killed(ct_child_t *c)
{
    int status;
    int ok =
        waitpid(c->pid, &status, 0) == c->pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    close(c->rfd);
    free(c);
    return ok;
}

int ct_child_fd(void)
{
    return 1; /* not used: the forked child gets its pipe from ct_start */
}

int ct_write(int fd, const void *buf, size_t n)
{
    return write(fd, buf, n) == (ssize_t)n ? 0 : -1;
}
