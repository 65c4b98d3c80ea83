/*
 * mapio/engine.h - the engine: asynchronous file I/O over one backend
 * (io_uring, epoll + worker threads, kqueue, IOCP) chosen at build time.
 *
 * Conventions, for every function below:
 * - Calls returning int or int64_t: success is 0 or a count; failure is a
 *   negative errno (MAPIO_EINVAL, ...), see mapio/errno.h. Pointer getters
 *   return NULL on failure; size, name and void calls cannot fail (each says
 *   what it returns for NULL). Nothing aborts on an OS error.
 * - A call that takes a callback and returns an error never runs the callback.
 *   Every accepted request completes exactly once: with its result, an error,
 *   or MAPIO_ECANCELED after mapio_cancel() or mapio_engine_free().
 * - Callbacks run only inside mapio_engine_poll(), mapio_engine_run() or
 *   mapio_engine_free(), on the thread that called it; never on a worker.
 * - Requests and files are caller-allocated: the engine allocates nothing per
 *   read, write or sync.
 */
#ifndef MAPIO_ENGINE_H
#define MAPIO_ENGINE_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "errno.h"
#include "platform.h"

/* ---- Engine ------------------------------------------------------------- */

typedef struct mapio_engine mapio_engine_t;

/* Engine flags (mapio_engine_opts_t.flags). All are opt-in. */
enum {
    /* io_uring: a kernel thread polls the submission queue (SQPOLL). Costs a
     * core while busy; rarely a win on small machines. */
    MAPIO_ENGINE_SQPOLL = 1u << 0,
    /* io_uring: register every opened file with the ring (fixed files). */
    MAPIO_ENGINE_REGISTER_FILES = 1u << 1,
    /* epoll, kqueue: hand every read to a worker. By default a buffered
     * read of up to 64 KiB is first tried on the polling thread with a call
     * that never waits for the device (preadv2 RWF_NOWAIT, where the OS has
     * it): the page cache answers it there, a miss goes to the pool. */
    MAPIO_ENGINE_NO_INLINE_READS = 1u << 2,
    /* Keep no latencies: no clock is read per request or per batch, the
     * latency histograms and the *_us sums stay 0 (operation counts are
     * kept). Two clock reads a round trip are most of the engine's own
     * cost at QD1 on a fast machine (bench/README.md). */
    MAPIO_ENGINE_NO_LATENCY = 1u << 3,
};

typedef struct mapio_engine_opts {
    /* Backend to use: "uring", "epoll", "kqueue", "iocp", or NULL for the
     * first that works in build order. The environment variable MAPIO_BACKEND
     * overrides NULL (ignored in set-uid programs). */
    const char *backend;
    /* Requests accepted but not yet completed; beyond it submission returns
     * MAPIO_EAGAIN. 0 = 4096. */
    unsigned max_inflight;
    /* io_uring submission queue entries. 0 = 256. */
    unsigned ring_entries;
    /* Worker threads of the epoll/kqueue pool, of the IOCP backend's pool
     * (the calls with no overlapped form: syncs, preallocation, group
     * commits, O_DSYNC writes), and of the MMapIO copy pool
     * (MAPIO_OPEN_MMAP_ON_POOL) on every backend. 0 = 2, at most 1024.
     * The backends' pools run syncs and metadata calls on max(1,
     * workers / 2) threads more, so reads and writes always have these
     * (docs/engine.md "Lanes"). */
    unsigned workers;
    /* MAPIO_ENGINE_* flags. */
    unsigned flags;
    /* SQPOLL idle time before the kernel thread sleeps, in ms. 0 = 1000. */
    unsigned sq_thread_idle_ms;
    /* Group commit (mapio_commit): with 0, a sync starts as
     * soon as none is running - a lone committer waits for one fdatasync,
     * never for a timer. Otherwise a sync waits up to commit_delay_us after
     * its first waiter for more to gather (PostgreSQL's commit_delay), unless
     * commit_max_batch waiters are already there (0 = no limit). */
    unsigned commit_delay_us;
    unsigned commit_max_batch;
} mapio_engine_opts_t;

/*
 * mapio_engine_new - create an engine on the first backend that initialises.
 * opts may be NULL for defaults. When io_uring is compiled in but blocked
 * or too old (seccomp, kernel.io_uring_disabled, a kernel without the opcodes
 * mapio needs: ENOSYS, EPERM, EINVAL, ENOTSUP), the engine falls back to the
 * next backend and mapio_engine_fallback_reason() says why. Returns 0 and
 * sets *out, or MAPIO_EINVAL (bad option or unknown backend name),
 * MAPIO_ENOMEM (including io_uring's locked-memory limit, which is reported
 * rather than hidden), or the backend's own error.
 * Thread-safe (engines are independent).
 */
MAPIO_EXTERN int mapio_engine_new(mapio_engine_t **out, const mapio_engine_opts_t *opts);

/*
 * mapio_engine_free - complete every outstanding request (MAPIO_ECANCELED where
 * it could still be cancelled, its real result otherwise), running their
 * callbacks on this thread; close files still open; release everything.
 * Submissions made from those callbacks fail with MAPIO_ECANCELED. An
 * open that completes here hands over a file that is then closed with
 * the rest. Returns 0 (also for NULL), the first error close(2) reported
 * for a file it closed (everything is freed all the same), or MAPIO_EBUSY
 * (nothing freed) when called from one of the engine's callbacks or while
 * another thread polls it. Must not run concurrently with any other call
 * on this engine.
 */
MAPIO_EXTERN int mapio_engine_free(mapio_engine_t *eng);

/* mapio_engine_backend - the backend in use. Returns its name ("uring",
 * "epoll", "kqueue" or "iocp"; "none" for a NULL eng), never NULL.
 * Thread-safe. */
MAPIO_EXTERN const char *mapio_engine_backend(const mapio_engine_t *eng);

/* mapio_engine_fallback_reason - why the engine is not on its first-choice
 * backend. Returns the reason, or NULL if it is on it (and for a NULL eng).
 * The string lives as long as the engine. Thread-safe. */
MAPIO_EXTERN const char *mapio_engine_fallback_reason(const mapio_engine_t *eng);

/* mapio_backends_compiled - the backends compiled into this library.
 * Returns their names, comma-separated, in priority order ("uring,epoll"):
 * a static string, never NULL. Any thread. */
MAPIO_EXTERN const char *mapio_backends_compiled(void);

/*
 * mapio_engine_fd - a descriptor that becomes readable when the engine has
 * work for mapio_engine_poll() (completions, or submissions from other
 * threads). Add it to your own epoll/kqueue/libev loop and call
 * mapio_engine_poll(eng, 0) when it fires. After the first call, submissions
 * made outside mapio_engine_poll() also make it readable. Returns the
 * descriptor (>= 0), or MAPIO_ENOTSUP on backends with no pollable descriptor
 * (IOCP). Do not close or read it. Thread-safe.
 */
MAPIO_EXTERN int mapio_engine_fd(mapio_engine_t *eng);

/*
 * mapio_engine_poll - submit what is queued (one system call for the whole
 * batch where the backend allows), wait up to timeout_ms (-1 = forever, 0 =
 * don't block) for completions, and run their callbacks. Returns the number
 * of callbacks run (0 on timeout), MAPIO_EBUSY if another thread is polling
 * this engine or it is called from inside a callback, or a backend error.
 * One thread polls at a time; any thread may be that thread.
 */
MAPIO_EXTERN int mapio_engine_poll(mapio_engine_t *eng, int timeout_ms);

/*
 * mapio_engine_run - poll until no request is in flight. Returns the number of
 * callbacks run, or an error as mapio_engine_poll(). Same threading rule.
 */
MAPIO_EXTERN int mapio_engine_run(mapio_engine_t *eng);

/*
 * mapio_engine_register_buffers - opt in to registered (fixed) buffers: on
 * io_uring, reads and writes whose buffer lies inside one of these n buffers
 * skip the kernel's per-I/O page pinning. Replaces any earlier set; n = 0
 * unregisters. Other backends accept it and change nothing. The buffers must
 * stay valid until unregistered or the engine is freed. Returns 0,
 * MAPIO_EINVAL (NULL iov with n > 0, n > MAPIO_IOV_MAX), MAPIO_EBUSY
 * (requests in flight), or the kernel's error (MAPIO_ENOMEM: RLIMIT_MEMLOCK).
 * Must not run concurrently with other calls on the engine.
 */
MAPIO_EXTERN int mapio_engine_register_buffers(mapio_engine_t *eng, const mapio_iovec_t *iov,
                                               unsigned n);

/* mapio_engine_inflight - the requests in flight. Returns how many were
 * accepted and have not completed yet (callback not yet run); 0 for NULL.
 * Thread-safe. */
MAPIO_EXTERN uint64_t mapio_engine_inflight(const mapio_engine_t *eng);

/* ---- Files -------------------------------------------------------------- */

/* mapio_file_open_blocking flags. The default is read-write, create if missing, never truncate. */
enum {
    MAPIO_OPEN_READ_ONLY = 1u << 0,  /* no writes; never creates */
    MAPIO_OPEN_NO_CREATE = 1u << 1,  /* fail with MAPIO_ENOENT if missing */
    MAPIO_OPEN_CREATE_NEW = 1u << 2, /* fail with MAPIO_EEXIST if present */
    MAPIO_OPEN_TRUNCATE = 1u << 3,   /* truncate to size (0 = empty) */
    MAPIO_OPEN_DIRECT = 1u << 4,     /* bypass the page cache (O_DIRECT) */
    MAPIO_OPEN_DSYNC = 1u << 5,      /* every write durable on completion */
    /* Keep latency histograms for this file too (the engine always has its
     * own): 70 KiB per file, hence opt-in. */
    MAPIO_OPEN_HISTOGRAMS = 1u << 6,
    /* MMapIO mode: map exactly `size` bytes (0: the file's size) and serve
     * read_at/write_at (and their twins) by memcpy on the mapping, on the
     * submitting thread - which a page fault then blocks; the callback still
     * runs in mapio_engine_poll. Reads stop at the mapped size, writes past
     * it fail with MAPIO_ERANGE. Syncs are fdatasync (on Linux it writes back
     * the mapped dirty pages). Group commit works the same. A writable
     * mapping's blocks are reserved by mapio_file_open_blocking (see
     * mapio_map_new), so a full disk is MAPIO_ENOSPC from the open, never
     * SIGBUS in a write. */
    MAPIO_OPEN_MMAP = 1u << 7,
    /* With MAPIO_OPEN_MMAP: do the memcpy of read_at/write_at on the engine's
     * copy workers (opts.workers threads, started by the first such open)
     * instead of the submitting thread, so a page fault on a cold mapping
     * blocks a worker, never the loop. Costs a thread hand-off per request:
     * worth it when the mapping may not be resident. The blocking twins still
     * copy on their caller's thread. */
    MAPIO_OPEN_MMAP_ON_POOL = 1u << 8,
    /* A directory (never created; size must be 0): it can be synced
     * (mapio_sync_data, mapio_sync_all), stat'ed and closed, and is the base
     * the path calls (mapio_file_open, mapio_rename, ...) resolve against.
     * Reads and writes on it fail with MAPIO_EISDIR. */
    MAPIO_OPEN_DIRECTORY = 1u << 9,
    /* mapio_file_adopt: the engine owns the descriptor from now on and
     * closes it with the file. Without it the caller keeps it. */
    MAPIO_OPEN_ADOPT_CLOSE = 1u << 10,
};

/*
 * A file handle. Caller-allocated (on the stack, in a struct, anywhere; it
 * need not be initialised) and filled by mapio_file_open_blocking(),
 * mapio_file_open() or mapio_file_adopt(); it must stay valid until
 * mapio_file_close_blocking() has returned and every request on it has
 * completed. After mapio_file_close_blocking() every call on it fails with
 * MAPIO_EBADF, so a closed handle is safe to pass by mistake. ABI: callers
 * allocate it, so its size (136 bytes, 8-aligned, on 64-bit targets: Linux,
 * the BSDs, macOS, Windows; 132 on i386) and the offsets of its fields are
 * part of libmapio.so.0's ABI, pinned by tests/install/abi_layout.h; see
 * docs/abi.md.
 */
typedef struct mapio_file {
    void *data; /* yours */
    union {
        uint64_t align;
        void *ptr;
        unsigned char bytes[128];
    } priv; /* the engine's */
} mapio_file_t;

/*
 * mapio_file_open_blocking - open (and by default create) path through eng's
 * backend. size: 0 = use the file's current size (devices: discovered by
 * seeking to the end); otherwise the file is extended to at least size bytes
 * (exactly size with MAPIO_OPEN_TRUNCATE). The engine opens the file itself
 * because some backends need special handles (IOCP: overlapped, associated
 * with the port). Returns 0, or MAPIO_EINVAL (NULL argument, contradictory
 * flags), the open(2) error (MAPIO_ENOENT, MAPIO_EACCES, MAPIO_EEXIST, ...),
 * the error of sizing (MAPIO_EFBIG; MAPIO_ENOSPC in MMapIO mode), or
 * MAPIO_ENOMEM. A file this call grew gets its old size back when it fails (a
 * file it created stays, empty). Thread-safe.
 */
MAPIO_EXTERN int mapio_file_open_blocking(mapio_file_t *file, mapio_engine_t *eng, const char *path,
                                          uint64_t size, unsigned flags);

/*
 * mapio_file_close_blocking - stop accepting requests on file. Requests
 * already accepted still complete normally; the descriptor is closed when the
 * last one has (here, if none is in flight). Returns 0, close(2)'s error
 * when it closed the descriptor itself (MAPIO_EIO: writes may be lost; the
 * file is closed all the same), or MAPIO_EBADF if already closed. A close
 * that has to wait for requests cannot report: use mapio_file_close, whose
 * callback has close(2)'s result. Thread-safe.
 */
MAPIO_EXTERN int mapio_file_close_blocking(mapio_file_t *file);

/*
 * mapio_file_ptr - MMapIO mode: the mapping's address of byte off. Returns
 * it, or NULL (off past the mapped size, a file not opened with
 * MAPIO_OPEN_MMAP, a NULL or closed file). The pointer is valid until
 * mapio_file_close_blocking. Thread-safe.
 */
MAPIO_EXTERN void *mapio_file_ptr(const mapio_file_t *file, uint64_t off);

/* mapio_file_size - the size given to (or found by) mapio_file_open_blocking.
 * Returns it, or 0 for a NULL or closed file. Thread-safe. */
MAPIO_EXTERN uint64_t mapio_file_size(const mapio_file_t *file);

/* ---- Requests ----------------------------------------------------------- */

#define MAPIO_OP_MAP(X)                                                                            \
    X(NOP, "nop")                                                                                  \
    X(READ, "read")                                                                                \
    X(WRITE, "write")                                                                              \
    X(READV, "readv")                                                                              \
    X(WRITEV, "writev")                                                                            \
    X(FDATASYNC, "fdatasync")                                                                      \
    X(FSYNC, "fsync")                                                                              \
    X(FALLOCATE, "fallocate")                                                                      \
    X(COMMIT, "commit")                                                                            \
    X(OPEN, "open")                                                                                \
    X(CLOSE, "close")                                                                              \
    X(STAT, "stat")                                                                                \
    X(TRUNCATE, "truncate")                                                                        \
    X(RENAME, "rename")                                                                            \
    X(UNLINK, "unlink")                                                                            \
    X(MKDIR, "mkdir")                                                                              \
    X(SYNC_DIR, "sync_dir")                                                                        \
    X(SYNC_RANGE, "sync_range")                                                                    \
    X(TIMER, "timer")

typedef enum mapio_op {
#define MAPIO__OP_ENUM(name, text) MAPIO_OP_##name,
    MAPIO_OP_MAP(MAPIO__OP_ENUM)
#undef MAPIO__OP_ENUM
        MAPIO_OP_COUNT
} mapio_op_t;

typedef struct mapio_req mapio_req_t;
typedef void (*mapio_cb_t)(mapio_req_t *req);

/*
 * A request. Caller-allocated; the submitting call fills every public field,
 * so the memory need not be initialised. It must stay valid and must not be
 * resubmitted until its callback has run (resubmitting from the callback is
 * fine). Read the public fields; do not write them while it is in flight.
 * ABI: callers allocate it, so its size (400 bytes, 8-aligned, on 64-bit
 * targets: Linux, the BSDs, macOS, Windows; 372 on i386, 376 on other 32-bit
 * ones) and the offsets of its public fields are part of libmapio.so.0's ABI,
 * pinned by tests/install/abi_layout.h: priv never grows within a soname.
 * See docs/abi.md.
 */
struct mapio_req {
    void *data;               /* yours */
    mapio_cb_t cb;            /* runs once, in mapio_engine_poll() */
    int64_t result;           /* bytes transferred, 0, or a negative errno */
    mapio_op_t op;            /* what it does */
    mapio_file_t *file;       /* target */
    uint64_t offset;          /* file offset */
    void *buf;                /* READ/WRITE buffer */
    size_t len;               /* READ/WRITE length, or total of iov */
    const mapio_iovec_t *iov; /* READV/WRITEV vector */
    unsigned iovcnt;          /* READV/WRITEV count */
    unsigned flags;           /* reserved, 0 */
    union {
        uint64_t align;
        void *ptr;
        unsigned char bytes[320];
    } priv; /* the engine's and the backend's */
};

/* Longest vector a READV/WRITEV may carry. */
#define MAPIO_IOV_MAX 1024

/*
 * mapio_read_at / mapio_write_at - queue a positional read/write of len bytes.
 * The result is the byte count: for reads it is short only at end of file
 * (short transfers before that are resumed inside the engine and counted);
 * for writes it is len. A failure after partial progress reports the error
 * for writes (the caller must not assume anything was written) and the bytes
 * read so far for reads.
 * Returns 0 if accepted, else (callback never runs): MAPIO_EINVAL (NULL req,
 * file or cb; len 0; len > MAPIO_MAX_IO; buf, len or offset misaligned on a
 * MAPIO_OPEN_DIRECT file), MAPIO_EFAULT (NULL buf), MAPIO_EOVERFLOW (offset +
 * len wraps or exceeds INT64_MAX), MAPIO_EBADF (closed file; write on a
 * read-only file), MAPIO_EBUSY (req is still in flight), MAPIO_EAGAIN
 * (max_inflight reached), MAPIO_ECANCELED (engine shutting down).
 * Thread-safe: any thread may submit. Submission is lock-free (one
 * compare-and-swap onto the engine's queue) plus, if the poller is asleep,
 * one wakeup.
 */
MAPIO_EXTERN int mapio_read_at(mapio_file_t *file, mapio_req_t *req, void *buf, size_t len,
                               uint64_t offset, mapio_cb_t cb);
MAPIO_EXTERN int mapio_write_at(mapio_file_t *file, mapio_req_t *req, const void *buf, size_t len,
                                uint64_t offset, mapio_cb_t cb);

/*
 * mapio_readv_at / mapio_writev_at - vectored versions. The vector (not the
 * iovec array itself, which must stay valid until completion) is validated as
 * above: iovcnt 0 or > MAPIO_IOV_MAX is MAPIO_EINVAL, a NULL base with a
 * non-zero length is MAPIO_EFAULT, a total of 0 is MAPIO_EINVAL.
 * Returns 0 if accepted, else (callback never runs) an error as
 * mapio_read_at; the results are those of mapio_read_at too.
 * Thread-safe: any thread may submit, as for mapio_read_at.
 */
MAPIO_EXTERN int mapio_readv_at(mapio_file_t *file, mapio_req_t *req, const mapio_iovec_t *iov,
                                unsigned iovcnt, uint64_t offset, mapio_cb_t cb);
MAPIO_EXTERN int mapio_writev_at(mapio_file_t *file, mapio_req_t *req, const mapio_iovec_t *iov,
                                 unsigned iovcnt, uint64_t offset, mapio_cb_t cb);

/*
 * mapio_sync_data (fdatasync) / mapio_sync_all (fsync) - queue a sync of
 * writes that have completed before it was submitted. Result 0 or an error
 * (MAPIO_EIO for every sync after one of the file failed). Returns 0 if
 * accepted, else (callback never runs) an error as mapio_read_at (minus the
 * buffer ones), or MAPIO_EIO once a sync of the file has failed.
 * Thread-safe: any thread may submit.
 */
MAPIO_EXTERN int mapio_sync_data(mapio_file_t *file, mapio_req_t *req, mapio_cb_t cb);
MAPIO_EXTERN int mapio_sync_all(mapio_file_t *file, mapio_req_t *req, mapio_cb_t cb);

/* Per-write flags (mapio_write_at_flags). */
enum {
    /* The write is durable when it completes: RWF_DSYNC where the backend has
     * it (io_uring, pwritev2), else the write followed by fdatasync. */
    MAPIO_WRITE_DSYNC = 1u << 0,
};

/*
 * mapio_write_at_flags - mapio_write_at with MAPIO_WRITE_* flags.
 * Returns and results as mapio_write_at, plus MAPIO_EINVAL for unknown
 * flags. Thread-safe: any thread may submit.
 */
MAPIO_EXTERN int mapio_write_at_flags(mapio_file_t *file, mapio_req_t *req, const void *buf,
                                      size_t len, uint64_t offset, unsigned flags, mapio_cb_t cb);

/* One write of a delayed-sync batch. */
typedef struct mapio_write {
    const void *buf;
    size_t len;
    uint64_t offset;
} mapio_write_t;

/*
 * mapio_commit - group commit. Apply the n writes (overlaps
 * within the batch merged first, the later write winning byte for byte), then
 * run cb only after an fdatasync that *started after the writes completed* has
 * succeeded. Syncs are shared: one covers every batch whose writes completed
 * before it started, so many concurrent committers cost a handful of syncs.
 * With commit_delay_us 0 (the default) a sync starts at once when none is
 * running; batches that finish while one runs wait for the next, which starts
 * as soon as the current one ends.
 * writes (and every buffer in it) must stay valid until cb runs. n may be 0
 * (wait for everything completed so far to be durable).
 * Result: 0 once durable; a write's error; the failed sync's error for every
 * batch that sync covered; MAPIO_EIO for every later sync or delayed-sync write
 * on the file, until it is closed and reopened (a failed fdatasync may have
 * dropped dirty pages: nothing written before it can be called durable).
 * Returns 0 if accepted, else (cb never runs) MAPIO_EINVAL (NULL file, req or
 * cb; NULL writes with n > 0; n > MAPIO_IOV_MAX), MAPIO_EFAULT (NULL buffer
 * with a length), MAPIO_EOVERFLOW (a write's offset + len), MAPIO_EBADF (closed
 * or read-only file), MAPIO_EIO (the file's sync already failed), MAPIO_EAGAIN,
 * MAPIO_ECANCELED. Thread-safe.
 */
MAPIO_EXTERN int mapio_commit(mapio_file_t *file, mapio_req_t *req, const mapio_write_t *writes,
                              unsigned n, mapio_cb_t cb);

/* mapio_fallocate flags. */
enum {
    MAPIO_FALLOCATE_KEEP_SIZE = 1u << 0, /* allocate blocks, leave the size alone */
};

/*
 * mapio_fallocate - queue a preallocation of [offset, offset + len). Without
 * MAPIO_FALLOCATE_KEEP_SIZE the file grows to cover it. Overwriting
 * preallocated blocks in place is much cheaper to fdatasync than appending
 * (no metadata to journal). Result 0 or an error (MAPIO_ENOTSUP where the
 * file system cannot). Returns 0 if accepted, else (callback never runs) an
 * error as mapio_write_at, or MAPIO_EINVAL for unknown flags. Thread-safe:
 * any thread may submit.
 */
MAPIO_EXTERN int mapio_fallocate(mapio_file_t *file, mapio_req_t *req, uint64_t offset,
                                 uint64_t len, unsigned flags, mapio_cb_t cb);

/*
 * mapio_file_alignment - what O_DIRECT (MAPIO_OPEN_DIRECT) requires of this
 * file's buffers (*mem) and offsets and lengths (*io), discovered at open from
 * statx(STATX_DIOALIGN), else the device's logical block size, else 4096; both
 * 1 for a buffered file. Misaligned requests on a direct file fail with
 * MAPIO_EINVAL before submission. Either pointer may be NULL. Returns 0,
 * MAPIO_EINVAL or MAPIO_EBADF. Thread-safe.
 */
MAPIO_EXTERN int mapio_file_alignment(const mapio_file_t *file, uint32_t *mem, uint32_t *io);

/*
 * mapio_alloc_aligned / mapio_free_aligned - size bytes aligned to align (a
 * power of two; 0 means 4096), suitable for O_DIRECT, and their release.
 * Returns the memory, or NULL on failure or bad arguments (size 0; align not
 * a power of two, or smaller than a pointer). Free it with
 * mapio_free_aligned, which is free(3) for this memory (NULL is fine).
 * Thread-safe.
 */
MAPIO_EXTERN void *mapio_alloc_aligned(size_t size, size_t align);
MAPIO_EXTERN void mapio_free_aligned(void *p);

/*
 * mapio_nop - queue a request that does nothing but travel through the
 * backend: for measuring the engine's own round-trip cost. Result 0.
 * Returns 0 if accepted, else (callback never runs) MAPIO_EINVAL (NULL eng,
 * req or cb), MAPIO_EBUSY (req is still in flight), MAPIO_EAGAIN
 * (max_inflight reached) or MAPIO_ECANCELED (engine shutting down).
 * Thread-safe: any thread may submit.
 */
MAPIO_EXTERN int mapio_nop(mapio_engine_t *eng, mapio_req_t *req, mapio_cb_t cb);

/*
 * mapio_cancel - ask for req to be cancelled. It still completes exactly once:
 * with MAPIO_ECANCELED if it had not started, else with its real result
 * (a page-cache read is usually done before a cancel can reach it).
 * Returns 0 if the request was in flight, MAPIO_ENOENT if it was not (already
 * completed, never accepted, or an MMapIO copy already made on the submitting
 * thread that only waits for its callback), MAPIO_EINVAL for NULL. Thread-safe.
 */
MAPIO_EXTERN int mapio_cancel(mapio_req_t *req);

/*
 * mapio_req_set_timeout - give the next submission of req a deadline,
 * timeout_ns from when it is accepted (0: none). A request not finished by
 * then completes with MAPIO_ETIMEDOUT - if nothing of it has reached the OS:
 * one already running completes with its real result, because its buffer is
 * in use until it does (exactly once and the buffer's lifetime do not bend).
 * io_uring arms a linked timeout with the request; the pool backends drop
 * it from their queue unstarted. Call it before the submitting call, which
 * consumes it (the setting does not carry over to later submissions).
 * Returns 0, MAPIO_EINVAL (NULL) or MAPIO_EBUSY (req is in flight). Not for
 * group commits (their sync is shared): mapio_commit then fails with
 * MAPIO_EINVAL. Thread-safe as the submitting calls are.
 */
MAPIO_EXTERN int mapio_req_set_timeout(mapio_req_t *req, uint64_t timeout_ns);

/*
 * mapio_timer - complete req after timeout_ns with result 0 (or
 * MAPIO_ECANCELED after mapio_cancel, MAPIO_ECANCELED at mapio_engine_free).
 * Returns 0, or MAPIO_EINVAL (NULL argument), MAPIO_EBUSY, MAPIO_EAGAIN,
 * MAPIO_ECANCELED (engine shutting down). Thread-safe.
 */
MAPIO_EXTERN int mapio_timer(mapio_engine_t *eng, mapio_req_t *req, uint64_t timeout_ns,
                             mapio_cb_t cb);

/* ---- The file lifecycle ------------------------------------------------ */

/*
 * Paths. Every call below that takes a path takes a directory handle too
 * (a file opened with MAPIO_OPEN_DIRECTORY, or NULL for the current
 * directory); a relative path is resolved against it, as openat(2) does,
 * so a log can create, sync and rename inside its own directory with no
 * race against a renamed parent. Paths are UTF-8 and must stay valid until
 * the callback has run. An empty path is MAPIO_ENOENT, a path longer than
 * MAPIO_PATH_MAX bytes MAPIO_ENAMETOOLONG, both before any system call.
 */
#define MAPIO_PATH_MAX 4096

/*
 * mapio_file_open - open (and by default create) path as mapio_file_open_blocking
 * does - same flags, sizing, O_DIRECT alignment discovery, MMapIO mapping
 * and errors - without blocking the caller: req completes with 0 once file
 * is open (it may then be used from the callback on), or with the error
 * (file stays closed). io_uring opens and stats with IORING_OP_OPENAT and
 * STATX; a size to change or a mapping to make finishes on the worker pool;
 * the pool backends run it all there. file must not be in use: an open or
 * still referenced handle is MAPIO_EBUSY (as are all errors here: the
 * callback never runs). Result 0 or the error of mapio_file_open_blocking.
 * Returns 0, or MAPIO_EINVAL, MAPIO_ENOENT / MAPIO_ENAMETOOLONG (the path),
 * MAPIO_EBADF (dir is closed), MAPIO_ENOTDIR (dir is a file, not a
 * directory), MAPIO_EBUSY, MAPIO_ENOMEM, MAPIO_EAGAIN, MAPIO_ECANCELED.
 * Thread-safe.
 */
MAPIO_EXTERN int mapio_file_open(mapio_file_t *file, mapio_engine_t *eng, mapio_req_t *req,
                                 const mapio_file_t *dir, const char *path, uint64_t size,
                                 unsigned flags, mapio_cb_t cb);

/*
 * mapio_file_close - stop accepting requests on file and close it once the
 * requests already accepted have completed; req completes then, with
 * close(2)'s result (0, or MAPIO_EIO and the like: a failed close can mean
 * lost writes on NFS). An adopted descriptor the caller kept is not closed
 * (result 0). Returns 0, or MAPIO_EINVAL, MAPIO_EBADF (closed already),
 * MAPIO_EBUSY (req in flight), MAPIO_EAGAIN (max_inflight; the file stays
 * open). Thread-safe.
 */
MAPIO_EXTERN int mapio_file_close(mapio_file_t *file, mapio_req_t *req, mapio_cb_t cb);

/*
 * mapio_file_adopt - make an open descriptor (a HANDLE on Windows) a file
 * of eng, without opening anything: for embedders, and for tools that open
 * their own files (fio). The access mode, O_DIRECT and O_DSYNC are read
 * from the descriptor; flags may add MAPIO_OPEN_HISTOGRAMS, MAPIO_OPEN_MMAP
 * (+ _ON_POOL: maps the file's current size), MAPIO_OPEN_DIRECTORY (it must
 * be one) and MAPIO_OPEN_ADOPT_CLOSE (the engine closes it). While the
 * engine uses it the caller may read, write and stat it, fadvise it, and
 * hand it to others for that (mapio does positional I/O only, never moves
 * the offset); it must not close it (unless it kept ownership and the file
 * is closed), change its flags (O_APPEND, O_DIRECT, O_NONBLOCK) or dup2 over
 * it. On Windows it must have been opened with FILE_FLAG_OVERLAPPED, and
 * while the engine has it the caller's own overlapped calls on it must set
 * the low bit of their OVERLAPPED's hEvent, so that their completions stay
 * off the engine's completion port. A handle the caller keeps is given back
 * as it came, off that port (Windows 8.1 and later; elsewhere the engine
 * does its I/O on its worker pool instead). Returns 0, or MAPIO_EINVAL,
 * MAPIO_EBADF (not an open descriptor, or not overlapped), MAPIO_EBUSY
 * (file in use), MAPIO_ENOMEM, MAPIO_ECANCELED. Thread-safe.
 */
MAPIO_EXTERN int mapio_file_adopt(mapio_file_t *file, mapio_engine_t *eng, mapio_fd_t fd,
                                  unsigned flags);

/* mapio_file_fd - the descriptor (HANDLE) of an open file into *out, on the
 * terms of mapio_file_adopt. Returns 0, MAPIO_EINVAL or MAPIO_EBADF (closed).
 * Thread-safe. */
MAPIO_EXTERN int mapio_file_fd(const mapio_file_t *file, mapio_fd_t *out);

/* What mapio_file_stat tells (statx where the OS has it). */
typedef struct mapio_stat {
    uint64_t size;      /* bytes, now (mapio_file_size is the size at open) */
    uint64_t allocated; /* bytes of storage allocated (holes excluded) */
    uint64_t dev, ino;  /* identity */
    uint64_t nlink;
    uint32_t mode;    /* POSIX type and permission bits (Windows: emulated) */
    uint32_t blksize; /* preferred I/O size */
    int64_t mtime_ns; /* last modification, ns since the epoch */
    int64_t ctime_ns; /* last status change (Windows: change time) */
} mapio_stat_t;

/*
 * mapio_file_stat - fill *out with file's current metadata when req
 * completes (result 0 or the OS error). io_uring: IORING_OP_STATX; the pool
 * backends: fstat/statx on a worker. *out must stay valid until then.
 * Returns 0, or MAPIO_EINVAL, MAPIO_EBADF, MAPIO_EBUSY, MAPIO_EAGAIN,
 * MAPIO_ECANCELED. Thread-safe.
 */
MAPIO_EXTERN int mapio_file_stat(mapio_file_t *file, mapio_req_t *req, mapio_stat_t *out,
                                 mapio_cb_t cb);

/*
 * mapio_file_truncate - set file's size (ftruncate). io_uring:
 * IORING_OP_FTRUNCATE where the running kernel has it (6.9 and later), else
 * the pool. A file opened in MMapIO mode is refused with MAPIO_ENOTSUP: its
 * mapping has the size it was opened with (close and reopen). Result 0 or
 * the OS error (MAPIO_EFBIG, ...). Returns 0, or MAPIO_EINVAL, MAPIO_EBADF
 * (closed or read-only), MAPIO_ENOTSUP, MAPIO_EOVERFLOW (size above
 * INT64_MAX), MAPIO_EBUSY, MAPIO_EAGAIN, MAPIO_ECANCELED. Thread-safe.
 */
MAPIO_EXTERN int mapio_file_truncate(mapio_file_t *file, mapio_req_t *req, uint64_t size,
                                     mapio_cb_t cb);

/* mapio_rename flags. */
enum {
    MAPIO_RENAME_NOREPLACE = 1u << 0, /* fail with MAPIO_EEXIST if newpath exists */
    MAPIO_RENAME_EXCHANGE = 1u << 1,  /* swap the two names, atomically */
};

/*
 * mapio_rename - rename oldpath (relative to olddir) to newpath (relative
 * to newdir), replacing newpath unless MAPIO_RENAME_NOREPLACE (renameat2;
 * where the OS has no such flag: MAPIO_ENOTSUP, never a racy emulation).
 * Durable only once the directories are synced (mapio_sync_dir). Result 0
 * or the OS error (MAPIO_ENOENT, MAPIO_EEXIST, MAPIO_EXDEV, MAPIO_ENOTDIR,
 * MAPIO_EISDIR, ...). Returns 0, or MAPIO_EINVAL (NULL, unknown or both
 * flags), the path errors above, MAPIO_EBADF (a dir is closed),
 * MAPIO_ENOTDIR (a dir is a file), MAPIO_EBUSY, MAPIO_EAGAIN,
 * MAPIO_ECANCELED. Thread-safe.
 */
MAPIO_EXTERN int mapio_rename(mapio_engine_t *eng, mapio_req_t *req, const mapio_file_t *olddir,
                              const char *oldpath, const mapio_file_t *newdir, const char *newpath,
                              unsigned flags, mapio_cb_t cb);

/* mapio_unlink flags. */
enum {
    MAPIO_UNLINK_DIR = 1u << 0, /* remove an empty directory (rmdir) */
};

/*
 * mapio_unlink - remove path (relative to dir): a file, or with
 * MAPIO_UNLINK_DIR an empty directory. Durable once the directory is synced.
 * Result 0 or the OS error (MAPIO_ENOENT, MAPIO_EISDIR, MAPIO_ENOTDIR,
 * MAPIO_ENOTEMPTY, ...). Returns as mapio_rename. Thread-safe.
 */
MAPIO_EXTERN int mapio_unlink(mapio_engine_t *eng, mapio_req_t *req, const mapio_file_t *dir,
                              const char *path, unsigned flags, mapio_cb_t cb);

/*
 * mapio_mkdir - create directory path (relative to dir) with permission
 * bits mode (<= 07777; 0 = 0755), before the umask. Result 0 or the OS
 * error (MAPIO_EEXIST, MAPIO_ENOENT, ...). Returns as mapio_rename, and
 * MAPIO_EINVAL for a mode above 07777. Thread-safe.
 */
MAPIO_EXTERN int mapio_mkdir(mapio_engine_t *eng, mapio_req_t *req, const mapio_file_t *dir,
                             const char *path, unsigned mode, mapio_cb_t cb);

/*
 * mapio_sync_dir - make the directory path names (relative to dir; NULL:
 * dir itself) durable: its entries, so that a file created or renamed in
 * it survives a power cut (fsync on the directory; Windows flushes the
 * directory handle where the file system allows it, else there is nothing
 * to do: NTFS journals its metadata). Runs on the worker pool on every
 * backend. Result 0 or the error (MAPIO_EIO: the names may be lost).
 * Returns as mapio_rename (path may be NULL with a dir). Thread-safe.
 */
MAPIO_EXTERN int mapio_sync_dir(mapio_engine_t *eng, mapio_req_t *req, const mapio_file_t *dir,
                                const char *path, mapio_cb_t cb);

/* mapio_sync_range flags: sync_file_range(2)'s, by the same names. */
enum {
    MAPIO_SYNC_RANGE_WAIT_BEFORE = 1u << 0, /* wait for write-back already under way */
    MAPIO_SYNC_RANGE_WRITE = 1u << 1,       /* start write-back of dirty pages */
    MAPIO_SYNC_RANGE_WAIT_AFTER = 1u << 2,  /* wait for it to finish */
};

/*
 * mapio_sync_range - write-behind: start (and with the WAIT flags wait
 * for) write-back of [offset, offset + len) (len 0: to the end of the
 * file), so a big sequential writer keeps the dirty pages few and its final
 * fdatasync short (RocksDB's bytes_per_sync). It does NOT make data
 * durable: only mapio_sync_data does (it writes no metadata and flushes no
 * drive cache). io_uring: IORING_OP_SYNC_FILE_RANGE; Linux pool backends:
 * sync_file_range(2); where the OS has none (BSD, macOS, Windows) starting
 * write-back does nothing and waiting is a full data sync of the file.
 * Result 0 or the OS error. Returns 0, or MAPIO_EINVAL (NULL, no or unknown
 * flags), MAPIO_EOVERFLOW, MAPIO_EBADF, MAPIO_EBUSY, MAPIO_EAGAIN,
 * MAPIO_ECANCELED. Thread-safe.
 */
MAPIO_EXTERN int mapio_sync_range(mapio_file_t *file, mapio_req_t *req, uint64_t offset,
                                  uint64_t len, unsigned flags, mapio_cb_t cb);

/* ---- Blocking twins ----------------------------------------------------- */

/*
 * mapio_read_at_blocking / mapio_write_at_blocking - do the I/O on the
 * calling thread, bypassing the engine's queue, with the validation and the
 * short-I/O resumption of the async versions. Returns what their result would
 * be: the byte count (for reads short only at end of file), or a negative
 * errno (the validation errors of mapio_read_at, or the OS error). Safe to
 * call from many threads at once on one file, and concurrently with async
 * requests and mapio_file_close_blocking() (the descriptor stays open until
 * the call returns).
 */
MAPIO_EXTERN int64_t mapio_read_at_blocking(mapio_file_t *file, void *buf, size_t len,
                                            uint64_t offset);
MAPIO_EXTERN int64_t mapio_write_at_blocking(mapio_file_t *file, const void *buf, size_t len,
                                             uint64_t offset);

/* mapio_sync_data_blocking / mapio_sync_all_blocking - fdatasync / fsync on
 * the calling thread, with the sticky-error rule of the async syncs.
 * Returns 0 or a negative errno (MAPIO_EINVAL, MAPIO_EBADF, MAPIO_EIO once a
 * sync of the file failed, the OS error). Thread-safe. */
MAPIO_EXTERN int mapio_sync_data_blocking(mapio_file_t *file);
MAPIO_EXTERN int mapio_sync_all_blocking(mapio_file_t *file);

/* mapio_file_stat_blocking / mapio_file_truncate_blocking - mapio_file_stat
 * and mapio_file_truncate on the calling thread. Returns 0 or a negative
 * errno: the submitting call's errors (but never MAPIO_EBUSY or
 * MAPIO_EAGAIN), else the OS error. Thread-safe. */
MAPIO_EXTERN int mapio_file_stat_blocking(mapio_file_t *file, mapio_stat_t *out);
MAPIO_EXTERN int mapio_file_truncate_blocking(mapio_file_t *file, uint64_t size);

/* ---- Metrics ------------------------------------------------------------ */

/* Counters kept per engine and per file (relaxed atomics: cheap, not a lock).
 * The first nine are seekable-async-file's, with the same meaning. */
#define MAPIO_COUNTER_MAP(X)                                                                       \
    X(sync_background_loops)  /* group-commit syncs started */                                     \
    X(sync)                   /* fdatasync/fsync calls completed (all kinds) */                    \
    X(sync_delayed)           /* writes whose sync was deferred to a group commit */               \
    X(sync_longest_delay_us)  /* sum over group syncs: start - earliest waiter */                  \
    X(sync_shortest_delay_us) /* sum over group syncs: start - latest waiter */                    \
    X(sync_us)                /* total time of the syncs */                                        \
    X(write_bytes)            /* bytes written */                                                  \
    X(write)                  /* writes completed */                                               \
    X(write_us)               /* total submit-to-completion time of writes */                      \
    X(read)                   /* reads completed */                                                \
    X(read_bytes)             /* bytes read */                                                     \
    X(read_us)                /* total submit-to-completion time of reads */                       \
    X(commit)                 /* group commits acknowledged (delayed-sync writes) */               \
    X(errors)                 /* requests completed with an error */                               \
    X(short_io_resumed)       /* short transfers resumed inside the engine */                      \
    X(retries)                /* EINTR/EAGAIN retried inside the engine */                         \
    X(cancelled)              /* requests completed with MAPIO_ECANCELED */                        \
    X(read_inline)            /* reads the page cache answered inline (epoll, kqueue) */

/* Latency percentiles from a log-linear histogram (<= 1 % relative error). */
typedef struct mapio_latency {
    uint64_t count;
    uint64_t p50_ns, p99_ns, p999_ns, max_ns;
} mapio_latency_t;

typedef struct mapio_metrics {
#define MAPIO__COUNTER_FIELD(name) uint64_t name;
    MAPIO_COUNTER_MAP(MAPIO__COUNTER_FIELD)
#undef MAPIO__COUNTER_FIELD
    mapio_latency_t read_latency;   /* submit to completion */
    mapio_latency_t write_latency;  /* submit to completion */
    mapio_latency_t sync_latency;   /* one fdatasync/fsync */
    mapio_latency_t commit_latency; /* delayed-sync write: submit to "durable" */
    const char *backend;            /* engine only: backend in use */
    const char *fallback_reason;    /* engine only: NULL unless it fell back */
} mapio_metrics_t;

/* Snapshot of the engine's counters (every file together). Returns 0 or
 * MAPIO_EINVAL. Thread-safe; counters are read one by one, not atomically. */
MAPIO_EXTERN int mapio_engine_metrics(const mapio_engine_t *eng, mapio_metrics_t *out);

/* Snapshot of one file's counters (its latencies only with
 * MAPIO_OPEN_HISTOGRAMS). Returns 0, MAPIO_EINVAL (NULL) or MAPIO_EBADF
 * (closed file). Thread-safe; counters are read one by one. */
MAPIO_EXTERN int mapio_file_metrics(const mapio_file_t *file, mapio_metrics_t *out);

/*
 * mapio_metrics_json - m as one JSON object: every counter by name, the four
 * latency objects (count, p50_ns, p99_ns, p999_ns, max_ns), backend and
 * fallback_reason (null when absent). Writes at most cap bytes, the
 * terminating NUL included. Returns the length the whole object needs (like
 * snprintf: a result >= cap means it was cut), or MAPIO_EINVAL for a NULL m,
 * or a NULL buf with cap > 0 (MAPIO_EOVERFLOW if the length would not fit
 * an int). Thread-safe.
 */
MAPIO_EXTERN int mapio_metrics_json(const mapio_metrics_t *m, char *buf, size_t cap);

/* mapio_op_name - the name of a request's op. Returns a static string
 * ("read" for MAPIO_OP_READ; "unknown" for a value outside mapio_op_t),
 * never NULL. Any thread. */
MAPIO_EXTERN const char *mapio_op_name(mapio_op_t op);

#ifdef __cplusplus
}
#endif

#endif
