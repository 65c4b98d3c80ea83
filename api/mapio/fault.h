/*
 * mapio/fault.h - deterministic fault injection, for mapio's tests and for
 * users testing their own storage engines on top of it.
 *
 * Every operation the engine hands to the OS - each read, write, sync or
 * fallocate, and each resumed part of one; each open, close, stat,
 * truncate, rename, unlink, mkdir, directory sync and sync_range - passes
 * two hooks: before() may fail it without calling the OS or shorten it (a
 * real short transfer), and after() may replace its result. The hooks run
 * on every backend: on the worker threads of the pool backends and the
 * threads of the blocking twins (around each system call), and on the
 * polling thread for io_uring's reads, writes and syncs (when the SQE is
 * prepared and when its completion is reaped; while hooks are installed,
 * io_uring runs the lifecycle calls on its worker pool, so a hook may block
 * in one of those without stalling the ring). So they must be thread-safe.
 * An open is one call to the hooks (op MAPIO_OP_OPEN, the path), whatever
 * it takes inside. No linker tricks are involved; it works the same on
 * Windows.
 */
#ifndef MAPIO_FAULT_H
#define MAPIO_FAULT_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stdint.h>

#include "platform.h"

struct mapio_engine;
struct mapio_file;

/* One call to the OS, as the hooks see it. */
typedef struct mapio_fault_call {
    int op;                        /* a mapio_op_t: MAPIO_OP_READ, ..._FDATASYNC, ... */
    const struct mapio_file *file; /* the file (NULL for the blocking twins' own calls: never) */
    uint64_t offset;               /* for transfers and fallocate */
    uint64_t len;                  /* bytes this call asks for */
    const void *buf;               /* single-buffer transfers; NULL when vectored */
    const mapio_iovec_t *iov;      /* vectored transfers */
    unsigned iovcnt;
    uint64_t seq;     /* engine-wide call number, from 1, in before() order */
    unsigned flags;   /* the request's MAPIO_WRITE_* flags */
    const char *path; /* OPEN, RENAME (the old name), UNLINK, MKDIR, SYNC_DIR: the path */
} mapio_fault_call_t;

/* before() returns this to let the call run unchanged. */
#define MAPIO_FAULT_PASS INT64_MIN

typedef struct mapio_fault_hooks {
    void *ctx;
    /* MAPIO_FAULT_PASS; a negative errno to fail the call without making it
     * (EINTR and EAGAIN are retried by the engine, invisibly; a CLOSE is
     * made all the same and then reports the error, since a descriptor
     * left open would leak); or n with
     * 0 < n < call->len to make the call with only n bytes (a real short
     * transfer, which the engine resumes). May be NULL. */
    int64_t (*before)(void *ctx, const mapio_fault_call_t *call);
    /* The result to report for a call that was made: result itself, or an
     * error in its place. May be NULL. */
    int64_t (*after)(void *ctx, const mapio_fault_call_t *call, int64_t result);
} mapio_fault_hooks_t;

/*
 * mapio_fault_set - install hooks on an engine (NULL removes them). The
 * struct is copied. Returns 0, MAPIO_EINVAL (NULL engine) or MAPIO_EBUSY if
 * requests are in flight: install them while the engine is idle.
 * Not thread-safe with respect to other calls on the engine.
 */
MAPIO_EXTERN int mapio_fault_set(struct mapio_engine *eng, const mapio_fault_hooks_t *hooks);

/* A ready-made hook: deterministic rules. */
typedef struct mapio_fault_rule {
    unsigned ops;     /* mask of (1u << MAPIO_OP_x) this rule watches; 0 = all */
    uint64_t nth;     /* first matching call it hits, counting from 1 */
    uint64_t times;   /* consecutive matching calls it hits; 0 = all from nth on */
    int error;        /* negative errno to inject, or 0 to shorten the call */
    uint64_t max_len; /* with error 0: bytes the call may move (>= 1) */
    int after_call;   /* with an error: make the call, then report the error
                         (a sync that ran but "failed", as fsyncgate needs) */
} mapio_fault_rule_t;

/*
 * mapio_fault_rules - install hooks that apply rules (the first rule that
 * matches a call decides; each rule counts the calls its ops mask matches).
 * n = 0 removes them. Returns 0, MAPIO_EINVAL (NULL engine, NULL rules with
 * n > 0, max_len 0 with error 0, error >= 0 with after_call), MAPIO_EBUSY
 * (requests in flight) or MAPIO_ENOMEM. The rules are copied.
 * Not thread-safe with respect to other calls on the engine: install them
 * while it is idle.
 */
MAPIO_EXTERN int mapio_fault_rules(struct mapio_engine *eng, const mapio_fault_rule_t *rules,
                                   unsigned n);

/* How many calls each installed rule has hit so far (for tests). Returns the
 * count, or 0 for an index out of range. Thread-safe. */
MAPIO_EXTERN uint64_t mapio_fault_rule_hits(struct mapio_engine *eng, unsigned index);

/* ---- simulated power loss --------------------------------------------- */

typedef struct mapio_powerloss mapio_powerloss_t;

/*
 * mapio_powerloss_new - record every write and sync the engine makes on
 * file (installs fault hooks on the engine, which must be idle). The file's
 * current content, read now, is taken as durable. Only data covered by a
 * completed sync - one that started after the write completed - is
 * guaranteed to survive; writes with MAPIO_WRITE_DSYNC count as synced.
 * Returns 0, MAPIO_EINVAL, MAPIO_EBUSY (requests in flight), MAPIO_ENOMEM or
 * a read error. Not thread-safe with respect to other calls on the engine.
 */
MAPIO_EXTERN int mapio_powerloss_new(mapio_powerloss_t **out, struct mapio_engine *eng,
                                     struct mapio_file *file);

/*
 * mapio_powerloss_image - write to path the file as a power cut at this
 * moment could leave it: the durable content, then each write not yet covered
 * by a sync either lost, kept, or torn (a random subset of its 512-byte
 * sectors kept), chosen by seed. Returns 0 or a negative errno. Thread-safe
 * (it copies the state under the recorder's lock).
 */
MAPIO_EXTERN int mapio_powerloss_image(mapio_powerloss_t *pl, uint64_t seed, const char *path);

/* mapio_powerloss_counts - for tests: *pending = the writes recorded and not
 * yet durable, *durable = the writes made durable. Either pointer may be
 * NULL; a NULL pl sets neither. Thread-safe (under the recorder's lock). */
MAPIO_EXTERN void mapio_powerloss_counts(mapio_powerloss_t *pl, uint64_t *pending,
                                         uint64_t *durable);

/* Remove the hooks and free the recorder. Returns 0, or MAPIO_EBUSY (and
 * changes nothing) while requests are in flight: the hooks use the
 * recorder. NULL: 0. Not thread-safe with respect to other calls on the
 * engine. */
MAPIO_EXTERN int mapio_powerloss_free(mapio_powerloss_t *pl);

#ifdef __cplusplus
}
#endif

#endif
