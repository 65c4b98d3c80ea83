/*
 * engine/timer.h - the engine's deadlines: timer requests, and the
 * deadlines (mapio_req_set_timeout) of requests on backends that do not
 * keep them themselves.
 *
 * A binary min-heap of requests by rp->deadline_ns, each request knowing its
 * slot (rp->timer_slot) so that one completing early leaves in O(log n).
 * Its array doubles when full (max_inflight bounds it), so it costs no
 * allocation per request. Polling thread only. Never installed.
 */
#ifndef MAPIO_TIMER_H
#define MAPIO_TIMER_H

#include "req.h"

struct mapio__timers {
    mapio_req_t **heap;
    uint32_t n, cap;
};

void mapio__timers_free(struct mapio__timers *t);

/* Track req until its rp->deadline_ns (it has no slot yet). Returns 0, or
 * MAPIO_ENOMEM (the heap could not grow; req is not tracked). */
int mapio__timers_add(struct mapio__timers *t, mapio_req_t *req);
/* Stop tracking req (nothing if it is not tracked). */
void mapio__timers_remove(struct mapio__timers *t, mapio_req_t *req);
/* The tracked request due first if it is due at now (it leaves the heap),
 * else NULL. */
mapio_req_t *mapio__timers_due(struct mapio__timers *t, uint64_t now);
/* When the first is due (UINT64_MAX: none). */
uint64_t mapio__timers_next(const struct mapio__timers *t);

#endif
