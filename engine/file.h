/*
 * engine/file.h - a file's state inside the engine: the handle's private
 * part, references, the sticky sync error, O_DIRECT alignment checks.
 *
 * A handle (mapio_file_t, caller memory) points to its state (heap), which
 * lives from open to the last reference: the open one plus one per request
 * or blocking call in progress. Whoever drops the last reference tears the
 * file down - the engine (mapio__engine_release), which also has to detach
 * it from the backend. Never installed.
 */
#ifndef MAPIO_FILE_H
#define MAPIO_FILE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "latency.h"
#include "mapio/engine.h"
#include "mapio/map.h"
#include "metrics.h"

struct mapio__ctx;

/* Group-commit queue of one file: commit.c's (polling thread only). */
struct mapio__gc {
    mapio_req_t *next_head, *next_tail; /* writes done; wait for a sync not yet started */
    unsigned next_count;
    uint64_t next_first_ns, next_last_ns; /* when the earliest / latest of them arrived */
    mapio_req_t *cur_head;                /* covered by the sync in flight */
    bool syncing;
    bool timer_armed;
    uint64_t deadline_ns;
    struct mapio__fstate *timer_next; /* the engine's list of armed timers */
};

struct mapio__fstate {
    mapio_engine_t *eng;
    struct mapio__ctx *ctx; /* eng's shared part */
    mapio_fd_t fd;
    unsigned flags;     /* MAPIO_OPEN_* */
    uint64_t size;      /* as given to / found by the open */
    int fixed_index;    /* io_uring registered-file slot, or -1 */
    void *backend;      /* backend's per-file data, if any */
    bool stat_inline;   /* io_uring: a stat of it never waits (see uring.c) */
    uint32_t mem_align; /* O_DIRECT buffer alignment (1 when buffered) */
    uint32_t io_align;  /* O_DIRECT offset/length alignment (1 when buffered) */
    _Atomic int sticky; /* first failed sync's error; then every sync fails */
    /* Pool backends: its file system cannot tell a cached read (no
     * RWF_NOWAIT), so none is tried inline. Polling thread. */
    bool nowait_refused;
    struct mapio__gc gc;
    mapio_req_t sync_req;               /* the group commit's own fdatasync */
    struct mapio__counters counters;    /* polling thread */
    struct mapio__counters counters_mt; /* any thread */
    struct mapio__fstate *prev, *next;  /* engine's list of open files (engine lock) */
    struct mapio__lats *lats;           /* MAPIO_OPEN_HISTOGRAMS only (any thread, atomic) */
    mapio_map_t *map;                   /* MAPIO_OPEN_MMAP only */
    mapio_file_t *handle;
    bool owns_fd; /* close it at the end (false: adopted, and the caller keeps it) */
    bool gone;    /* a CLOSE request closed and detached it: nothing left to undo */
    /* mapio_file_close's request, parked until every other reference is
     * gone; close_go makes sure exactly one thread then starts it. */
    _Atomic(mapio_req_t *) closer;
    _Atomic bool close_go;
};

enum { MAPIO__FILE_MAGIC = 0x6d617066u /* "mapf" */ };
/* OPENING: claimed by an open still in flight (not usable, not reusable). */
enum { MAPIO__FILE_OPEN = 1, MAPIO__FILE_CLOSED = 2, MAPIO__FILE_OPENING = 3 };

/* The engine's part of mapio_file_t. At refs 0 the state is gone for good
 * and refs never rises again, so a stale handle reads CLOSED. */
struct mapio__file_priv {
    uint32_t magic;
    _Atomic uint32_t state;
    _Atomic uint64_t refs;
    struct mapio__fstate *fs;
};

_Static_assert(sizeof(struct mapio__file_priv) <= sizeof(((mapio_file_t *)0)->priv),
               "mapio_file_t.priv too small for the engine's private part");

static inline struct mapio__file_priv *mapio__fp(const mapio_file_t *f)
{
    return (struct mapio__file_priv *)(void *)&((mapio_file_t *)f)->priv;
}

/*
 * Claim a handle for an open: MAPIO_EBUSY if it is in use (being opened,
 * open, or closed with requests still holding it), else it is wiped (data
 * kept), OPENING, and in use until mapio__file_unclaim() - which the file's
 * destruction does. In use is kept in a process-wide set of addresses, not
 * in the handle: callers need not initialise a handle, and stack memory
 * that once held one keeps its magic under whatever was written after it.
 * Returns 0, MAPIO_EBUSY or MAPIO_ENOMEM. Any thread.
 */
int mapio__file_claim(mapio_file_t *f);
void mapio__file_unclaim(const mapio_file_t *f);

/* A reference on the file's state while it still exists (open, or closed
 * with requests in flight), or NULL. Dropping it may be the last reference:
 * use mapio__engine_acquire() / mapio__engine_release(), which tear down. */
struct mapio__fstate *mapio__file_get(const mapio_file_t *f);
/* Not closed yet. */
bool mapio__file_is_open(const mapio_file_t *f);
/* Close the handle to new work; true if it was open (its open reference is
 * then the caller's to drop). */
bool mapio__file_mark_closed(mapio_file_t *f);
/* One more reference on a file known to be referenced (its group sync). */
void mapio__file_ref(struct mapio__fstate *fs);
/* Drop a reference. Returns how many are left: 0, and the caller tears
 * down; 1 with a closer parked, and the caller starts it. */
uint64_t mapio__file_unref(struct mapio__fstate *fs);
/* Unmap, close the descriptor (if the file owns it and it is still open),
 * free the state, unclaim the handle. Returns close's error (0 otherwise). */
int mapio__file_destroy(struct mapio__fstate *fs);

/*
 * Once the descriptor is open and its size cur known: size the file as
 * size and the open flags ask, discover the O_DIRECT alignment (unless
 * align_known: a statx said), map it for MMapIO. *grown says whether this
 * grew the file, which the caller cuts back to cur if the open fails after
 * all. mapio__file_set_up_calls() says whether that takes a system call, or
 * only arithmetic.
 */
int mapio__file_set_up(struct mapio__fstate *fs, uint64_t size, uint64_t cur, bool align_known,
                       bool *grown);
bool mapio__file_set_up_calls(const struct mapio__fstate *fs, uint64_t size, uint64_t cur,
                              bool align_known);

/* A sync's result, with the sticky rule: the first failure is remembered,
 * and every later sync of the file reports MAPIO_EIO. */
int64_t mapio__file_sync_result(struct mapio__fstate *fs, int64_t res);

/* O_DIRECT: the engine's own check, because some platforms (and Wine) do
 * not reject misaligned unbuffered I/O themselves. */
bool mapio__file_misaligned(const struct mapio__fstate *fs, const void *buf, uint64_t len,
                            uint64_t offset);
bool mapio__file_misaligned_iov(const struct mapio__fstate *fs, const mapio_iovec_t *iov,
                                unsigned n, uint64_t offset);

#endif
