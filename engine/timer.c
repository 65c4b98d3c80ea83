/*
 * engine/timer.c - a min-heap of requests by deadline (see timer.h).
 */
#include "timer.h"

void mapio__timers_free(struct mapio__timers *t)
{
    mapio__free(t->heap);
    t->heap = NULL;
    t->n = t->cap = 0;
}

static uint64_t key(const struct mapio__timers *t, uint32_t i)
{
    return mapio__rp(t->heap[i])->deadline_ns;
}

static void place(struct mapio__timers *t, uint32_t i, mapio_req_t *r)
{
    t->heap[i] = r;
    mapio__rp(r)->timer_slot = i;
}

static void sift_up(struct mapio__timers *t, uint32_t i)
{
    mapio_req_t *r = t->heap[i];
    uint64_t k = mapio__rp(r)->deadline_ns;
    while (i > 0 && key(t, (i - 1) / 2) > k) {
        place(t, i, t->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    place(t, i, r);
}

static void sift_down(struct mapio__timers *t, uint32_t i)
{
    mapio_req_t *r = t->heap[i];
    uint64_t k = mapio__rp(r)->deadline_ns;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= t->n)
            break;
        if (c + 1 < t->n && key(t, c + 1) < key(t, c))
            c++;
        if (key(t, c) >= k)
            break;
        place(t, i, t->heap[c]);
        i = c;
    }
    place(t, i, r);
}

int mapio__timers_add(struct mapio__timers *t, mapio_req_t *req)
{
    if (t->n == t->cap) {
        uint32_t cap = t->cap != 0 ? 2 * t->cap : 64;
        mapio_req_t **heap = mapio__realloc(t->heap, cap * sizeof *heap);
        if (heap == NULL)
            return MAPIO_ENOMEM;
        t->heap = heap;
        t->cap = cap;
    }
    place(t, t->n, req);
    sift_up(t, t->n++);
    return 0;
}

void mapio__timers_remove(struct mapio__timers *t, mapio_req_t *req)
{
    uint32_t i = mapio__rp(req)->timer_slot;
    if (i == MAPIO__NO_SLOT)
        return;
    mapio__rp(req)->timer_slot = MAPIO__NO_SLOT;
    mapio_req_t *last = t->heap[--t->n];
    if (i == t->n)
        return;
    place(t, i, last);
    if (i > 0 && key(t, (i - 1) / 2) > key(t, i))
        sift_up(t, i);
    else
        sift_down(t, i);
}

mapio_req_t *mapio__timers_due(struct mapio__timers *t, uint64_t now)
{
    if (t->n == 0 || key(t, 0) > now)
        return NULL;
    mapio_req_t *r = t->heap[0];
    mapio__timers_remove(t, r);
    return r;
}

uint64_t mapio__timers_next(const struct mapio__timers *t)
{
    return t->n > 0 ? key(t, 0) : UINT64_MAX;
}
