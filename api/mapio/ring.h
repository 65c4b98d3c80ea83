/*
 * mapio/ring.h - boundary-free ring buffers (the vmap seed's Ring and
 * InfiniteRing) and the buffered reader and writer built on them. Usable
 * without the engine.
 *
 * A ring of capacity len maps the same len bytes of shared memory twice, back
 * to back, so byte i and byte i + len are one byte: whatever is readable (or
 * writable) is always one contiguous span, even across the wrap, and can be
 * handed to memcpy, a parser or read(2)/write(2) in one piece. Positions are
 * 64-bit byte counts that only grow (at 10 GB/s they wrap after 58 years).
 *
 * Threading. A bounded ring is safe for one producer thread and one consumer
 * thread at once (SPSC): the producer owns the write position and the
 * consumer the read position, each published with a release store and read
 * with an acquire load, so bytes are visible before the count that covers
 * them, and are not overwritten before the consumer has released them.
 * Producer calls: write_ptr, write_len, produce, write, write_pos.
 * Consumer calls: read_ptr, read_len, consume, read, clear, read_pos.
 * Either side: capacity, dropped. An overwriting ring (MAPIO_RING_OVERWRITE)
 * is NOT safe for a concurrent producer and consumer: a write moves the read
 * position too, so both sides must be one thread or share a lock. Create and
 * free never run concurrently with anything on the same ring.
 */
#ifndef MAPIO_RING_H
#define MAPIO_RING_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "errno.h"
#include "platform.h"

typedef struct mapio_ring mapio_ring_t;

enum {
    /* An InfiniteRing: writes always succeed and overwrite the oldest bytes;
     * readers see the newest <= capacity bytes. */
    MAPIO_RING_OVERWRITE = 1u << 0,
};

/*
 * mapio_ring_new - a ring of at least size bytes: size is rounded up to
 * the allocation granularity (mapio_ring_granularity()). No file descriptor
 * or handle stays open and nothing is left in any namespace. Returns 0 and
 * sets *out, or MAPIO_EINVAL (NULL out, size 0, unknown flags),
 * MAPIO_EOVERFLOW (size cannot be rounded up or mapped twice in the address
 * space), MAPIO_ENOMEM, MAPIO_ENOSPC (where rings come from shm_open of a
 * name - no memfd_create or SHM_ANON, or -Dportable=true - their pages are
 * reserved here, and a full /dev/shm says so; see docs/ring.md), or the OS
 * error (MAPIO_EMFILE, ...). On error *out is NULL. Any thread: rings share
 * no state.
 */
MAPIO_EXTERN int mapio_ring_new(mapio_ring_t **out, size_t size, unsigned flags);

/* mapio_ring_free - unmap and release. Returns 0 or the OS error of the
 * unmapping (the ring is freed either way); 0 for NULL. Must not run
 * concurrently with any other call on r: its memory goes away. */
MAPIO_EXTERN int mapio_ring_free(mapio_ring_t *r);

/* mapio_ring_granularity - the unit capacities are rounded up to. Returns
 * the page size on POSIX, the allocation granularity (64 KiB) on Windows.
 * Thread-safe. */
MAPIO_EXTERN size_t mapio_ring_granularity(void);

/* mapio_ring_capacity - returns the capacity in bytes (0 for NULL). Any
 * thread: it is fixed at creation. */
MAPIO_EXTERN size_t mapio_ring_capacity(const mapio_ring_t *r);

/* mapio_ring_flags - returns the flags given at creation (0 for NULL). Any
 * thread: they are fixed at creation. */
MAPIO_EXTERN unsigned mapio_ring_flags(const mapio_ring_t *r);

/* ---- consumer side ------------------------------------------------------ */
/* Call these from the one consumer thread: it alone stores the read
 * position, so a second consumer would race with it (use a lock). They may
 * run while the producer calls the producer side. */

/* mapio_ring_read_ptr - the oldest unread byte: read_len bytes from here are
 * one contiguous span, valid until they are consumed (or, for an overwriting
 * ring, until the next write). Returns it (NULL for NULL). Call from the
 * consumer thread (see the top of mapio/ring.h). */
MAPIO_EXTERN void *mapio_ring_read_ptr(const mapio_ring_t *r);

/* mapio_ring_read_len - returns the bytes readable now (0 for NULL). In SPSC
 * use it can only grow until the consumer consumes. Call from the consumer
 * thread (see the top of mapio/ring.h). */
MAPIO_EXTERN size_t mapio_ring_read_len(const mapio_ring_t *r);

/* mapio_ring_consume - release the first n readable bytes. n 0 is a no-op.
 * Returns 0, MAPIO_ERANGE (n > read_len: nothing changes) or MAPIO_EINVAL
 * (NULL). Call from the consumer thread (see the top of mapio/ring.h). */
MAPIO_EXTERN int mapio_ring_consume(mapio_ring_t *r, size_t n);

/* mapio_ring_read - copy out up to n readable bytes and consume them. Returns
 * the count (0 when empty or n is 0), or MAPIO_EINVAL (NULL ring, NULL buf
 * with n > 0). Call from the consumer thread (see the top of mapio/ring.h). */
MAPIO_EXTERN int64_t mapio_ring_read(mapio_ring_t *r, void *buf, size_t n);

/* mapio_ring_clear - consume everything readable now. Returns 0 or
 * MAPIO_EINVAL (NULL). Call from the consumer thread (see the top of
 * mapio/ring.h). */
MAPIO_EXTERN int mapio_ring_clear(mapio_ring_t *r);

/* mapio_ring_read_pos - the stream position of read_ptr[0]. Returns the
 * bytes consumed, plus, for an overwriting ring, the bytes dropped (0 for
 * NULL). Call from the consumer thread (see the top of mapio/ring.h). */
MAPIO_EXTERN uint64_t mapio_ring_read_pos(const mapio_ring_t *r);

/* ---- producer side ------------------------------------------------------ */
/* Call these from the one producer thread: it alone stores the write
 * position. On a bounded ring they may run while the consumer calls the
 * consumer side; on an overwriting ring they move the read position too, so
 * nothing else may run on it at the same time. */

/* mapio_ring_write_ptr - where the next byte goes: write_len bytes from here
 * are one contiguous span. Returns it (NULL for NULL). Call from the producer
 * thread (see the top of mapio/ring.h). */
MAPIO_EXTERN void *mapio_ring_write_ptr(const mapio_ring_t *r);

/* mapio_ring_write_len - returns the bytes writable now: capacity - read_len
 * for a bounded ring, capacity for an overwriting one (what is written past
 * the free space replaces the oldest bytes); 0 for NULL. Call from the
 * producer thread (see the top of mapio/ring.h). */
MAPIO_EXTERN size_t mapio_ring_write_len(const mapio_ring_t *r);

/* mapio_ring_produce - publish the next n bytes written at write_ptr. n 0 is
 * a no-op. On an overwriting ring the oldest bytes beyond capacity are
 * dropped. Returns 0, MAPIO_ERANGE (n > write_len: nothing changes) or
 * MAPIO_EINVAL (NULL). Call from the producer thread (see the top of
 * mapio/ring.h). */
MAPIO_EXTERN int mapio_ring_produce(mapio_ring_t *r, size_t n);

/*
 * mapio_ring_write - copy buf in. A bounded ring takes what fits and returns
 * that count (short when it fills up, 0 when full). An overwriting ring takes
 * all n bytes and returns n: when n > capacity only the last capacity bytes
 * stay, and every older byte not yet read is dropped. Returns the count, or
 * MAPIO_EINVAL (NULL ring, NULL buf with n > 0) or MAPIO_EOVERFLOW (n >
 * INT64_MAX). Call from the producer thread (see the top of mapio/ring.h).
 */
MAPIO_EXTERN int64_t mapio_ring_write(mapio_ring_t *r, const void *buf, size_t n);

/* mapio_ring_write_pos - the stream position of write_ptr[0]. Returns the
 * bytes produced so far (0 for NULL). Call from the producer thread (see the
 * top of mapio/ring.h). */
MAPIO_EXTERN uint64_t mapio_ring_write_pos(const mapio_ring_t *r);

/* mapio_ring_dropped - returns the bytes an overwriting ring dropped before
 * they were read (0 for a bounded ring, and for NULL). Same thread rules as
 * the overwriting ring: one thread, or a lock shared by both sides. */
MAPIO_EXTERN uint64_t mapio_ring_dropped(const mapio_ring_t *r);

/* ---- buffered reader ---------------------------------------------------- */

/*
 * A buffered reader over any readable descriptor (file, pipe, socket,
 * terminal), backed by a ring: refilling never moves the buffered bytes, and
 * whatever is buffered is always one span (mapio_bufreader_fill). The reader
 * never owns the descriptor: free does not close it. One thread at a time:
 * a buffered stream has one order, and its positions are not synchronised.
 */
typedef struct mapio_bufreader mapio_bufreader_t;

/* mapio_bufreader_new - a reader over fd with a buffer of at least capacity
 * bytes (rounded up like a ring) and a low-water mark of 0. Returns 0 and
 * sets *out, MAPIO_EINVAL (NULL out, capacity 0, MAPIO_INVALID_FD), or
 * mapio_ring_new's errors. Thread-safe: readers are independent. */
MAPIO_EXTERN int mapio_bufreader_new(mapio_bufreader_t **out, mapio_fd_t fd, size_t capacity);

/* mapio_bufreader_free - release the reader (not the descriptor); buffered
 * bytes are dropped. Returns 0 or the OS error of the unmapping (freed
 * either way); 0 for NULL. One thread at a time per reader. */
MAPIO_EXTERN int mapio_bufreader_free(mapio_bufreader_t *br);

/* mapio_bufreader_capacity - returns the buffer's capacity (0 for NULL). Any
 * thread: it is fixed at creation. */
MAPIO_EXTERN size_t mapio_bufreader_capacity(const mapio_bufreader_t *br);

/* mapio_bufreader_fd - returns the descriptor (MAPIO_INVALID_FD for NULL).
 * Any thread: it is fixed at creation. */
MAPIO_EXTERN mapio_fd_t mapio_bufreader_fd(const mapio_bufreader_t *br);

/* mapio_bufreader_set_lowat / mapio_bufreader_lowat - set and get the
 * low-water mark: the buffer is refilled when it holds <= lowat bytes (0, the
 * default: only when empty; >= capacity: whenever there is room). Note that
 * a refill blocks on a blocking descriptor even if bytes are buffered.
 * Returns 0 or MAPIO_EINVAL for NULL (set_lowat), the mark, 0 for NULL
 * (lowat). One thread at a time per reader. */
MAPIO_EXTERN int mapio_bufreader_set_lowat(mapio_bufreader_t *br, size_t lowat);
MAPIO_EXTERN size_t mapio_bufreader_lowat(const mapio_bufreader_t *br);

/*
 * mapio_bufreader_read - copy up to n bytes into buf, making at most one
 * read(2): from the buffer (refilled first if it holds <= lowat bytes), or,
 * when the buffer is empty and n >= capacity, straight into buf (no copy).
 * Returns the count (short is normal), 0 at end of file, or MAPIO_EINVAL
 * (NULL, or n 0: a zero-length request would be indistinguishable from end
 * of file), MAPIO_EOVERFLOW (n > INT64_MAX) or the OS error (MAPIO_EAGAIN on
 * a non-blocking descriptor with nothing buffered, ...). EINTR is retried.
 * When a refill fails but bytes are buffered, those are returned and the
 * error is reported once they are gone (if the OS still reports it).
 * One thread at a time per reader.
 */
MAPIO_EXTERN int64_t mapio_bufreader_read(mapio_bufreader_t *br, void *buf, size_t n);

/*
 * mapio_bufreader_fill - refill if the buffer holds <= lowat bytes, then
 * point *ptr at everything buffered (one span). Returns the buffered count (0
 * at end of file), MAPIO_EINVAL or the OS error (only when nothing is
 * buffered). Pair with mapio_bufreader_consume. One thread at a time per
 * reader.
 */
MAPIO_EXTERN int64_t mapio_bufreader_fill(mapio_bufreader_t *br, const void **ptr);

/* mapio_bufreader_buffered - what is buffered, without any I/O. Returns the
 * count (0 for NULL) and points *ptr at it (ptr may be NULL). One thread at a
 * time per reader. */
MAPIO_EXTERN size_t mapio_bufreader_buffered(const mapio_bufreader_t *br, const void **ptr);

/* mapio_bufreader_consume - drop the first n buffered bytes. Returns 0,
 * MAPIO_ERANGE (more than buffered: nothing changes) or MAPIO_EINVAL
 * (NULL). One thread at a time per reader. */
MAPIO_EXTERN int mapio_bufreader_consume(mapio_bufreader_t *br, size_t n);

/* ---- buffered writer ---------------------------------------------------- */

/*
 * A buffered writer over any writable descriptor, backed by a ring: a
 * partial write(2) only advances a position (no memmove), the pending bytes
 * are always one span (one write(2) per flush attempt), and after a failure
 * they stay in place for the caller to recover (mapio_bufwriter_pending).
 * The writer never owns the descriptor. One thread at a time, as the reader.
 * Writing to a pipe or socket whose reader is gone raises SIGPIPE unless the
 * application ignores it (the library never changes signal dispositions).
 */
typedef struct mapio_bufwriter mapio_bufwriter_t;

/* mapio_bufwriter_new - a writer over fd with a buffer of at least capacity
 * bytes. Returns 0 and sets *out, MAPIO_EINVAL (NULL out, capacity 0,
 * MAPIO_INVALID_FD), or mapio_ring_new's errors. Thread-safe: writers are
 * independent. */
MAPIO_EXTERN int mapio_bufwriter_new(mapio_bufwriter_t **out, mapio_fd_t fd, size_t capacity);

/*
 * mapio_bufwriter_free - flush what is pending, then release the writer
 * (not the descriptor). Returns 0 or the flush error; the writer is freed
 * either way and bytes that could not be written are lost - to keep them,
 * call mapio_bufwriter_flush first, take them with mapio_bufwriter_pending,
 * then mapio_bufwriter_discard. 0 for NULL. One thread at a time per writer.
 */
MAPIO_EXTERN int mapio_bufwriter_free(mapio_bufwriter_t *w);

/* mapio_bufwriter_capacity - returns the buffer's capacity (0 for NULL). Any
 * thread: it is fixed at creation. */
MAPIO_EXTERN size_t mapio_bufwriter_capacity(const mapio_bufwriter_t *w);

/* mapio_bufwriter_fd - returns the descriptor (MAPIO_INVALID_FD for NULL).
 * Any thread: it is fixed at creation. */
MAPIO_EXTERN mapio_fd_t mapio_bufwriter_fd(const mapio_bufwriter_t *w);

/*
 * mapio_bufwriter_write - take n bytes. If they do not fit in the free space,
 * the pending bytes are flushed first; n >= capacity then goes straight to
 * the descriptor (no copy), anything smaller is buffered. Short writes are
 * continued and EINTR is retried. Returns n; or a negative error with no
 * byte of buf taken (the pending bytes stay pending): MAPIO_EINVAL (NULL, or
 * n 0: the issue makes a zero-length request an error), MAPIO_EOVERFLOW (n >
 * INT64_MAX), MAPIO_ENOSPC (the OS wrote 0 bytes: reported, never spun on),
 * or the OS error (MAPIO_EAGAIN, MAPIO_EPIPE, MAPIO_EIO, ...); or, only when
 * a direct write fails part-way, the count that reached the descriptor
 * (0 < count < n), the error then being reported by the next call if the OS
 * still has it - as write(2) does. One thread at a time per writer.
 */
MAPIO_EXTERN int64_t mapio_bufwriter_write(mapio_bufwriter_t *w, const void *buf, size_t n);

/* mapio_bufwriter_flush - write every pending byte to the descriptor (no
 * fsync). Returns 0, or MAPIO_ENOSPC (the OS wrote 0 bytes) or the OS error,
 * with the bytes not written still pending; MAPIO_EINVAL for NULL.
 * One thread at a time per writer. */
MAPIO_EXTERN int mapio_bufwriter_flush(mapio_bufwriter_t *w);

/* mapio_bufwriter_pending - the bytes taken but not yet written, as one
 * span. Returns the count (0 for NULL) and points *ptr at them (ptr may be
 * NULL), valid until the next call on w. One thread at a time per writer. */
MAPIO_EXTERN size_t mapio_bufwriter_pending(const mapio_bufwriter_t *w, const void **ptr);

/* mapio_bufwriter_discard - drop every pending byte without writing it
 * (after recovering them with mapio_bufwriter_pending). Returns 0 or
 * MAPIO_EINVAL (NULL). One thread at a time per writer. */
MAPIO_EXTERN int mapio_bufwriter_discard(mapio_bufwriter_t *w);

#ifdef __cplusplus
}
#endif

#endif
