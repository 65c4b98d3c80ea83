/*
 * engine/commit.h - the delayed data-sync loop (group commit) and fused
 * commits. Everything here runs on the polling thread. Never installed.
 */
#ifndef MAPIO_COMMIT_H
#define MAPIO_COMMIT_H

#include <stdbool.h>

#include "ctx.h"

/* One piece of a commit is back from the backend (res: that call's result,
 * EINTR/EAGAIN already retried): the next piece, the group, or an error. */
void mapio__commit_piece_done(mapio_req_t *req, int64_t res);

/* A commit run to its end by the executor is back (res: 0 or its error). */
void mapio__commit_whole_done(mapio_req_t *req, int64_t res);

/* About to hand a commit to the backend: fuse it with a sync of its own if
 * the file's group is idle (sets rp->fused and takes the group's sync slot). */
void mapio__commit_try_fuse(mapio_req_t *req);
/* Give the group's sync slot back (the fused pair could not go as one). */
void mapio__commit_unfuse(mapio_req_t *req);
/* io_uring: one half of a fused commit is back (is_sync: the fsync CQE). */
void mapio__commit_fused_half(mapio_req_t *req, bool is_sync, int64_t res);

/* Start syncs whose delay ran out (all of them with flush_all); returns ms
 * to the next deadline, or -1. */
int mapio__commit_timers(struct mapio__ctx *ctx, bool flush_all);

#endif
