/*
 * engine/exec.h - the blocking executor: a request run to its end on the
 * calling thread.
 *
 * One OS call at a time through the OS table, each passed through the
 * engine's fault hooks; short transfers and EINTR/EAGAIN resumed in place;
 * a group commit's merged pieces one after the other (and, when fused, its
 * fdatasync); MMapIO copies instead of calls. The worker pools run requests
 * with it, the blocking twins call it directly, so a request finishes the
 * same way on every backend. Never installed.
 */
#ifndef MAPIO_EXEC_H
#define MAPIO_EXEC_H

#include "file.h"
#include "pool.h"

/* Run req (its file rp->fs, its engine's rp->ctx) to its end. Returns the
 * count or a negative errno. */
int64_t mapio__exec(mapio_req_t *req);

/* The pools' run(): mapio__exec() a request, its result into req->result. */
void mapio__exec_work(struct mapio__work *w);

#endif
