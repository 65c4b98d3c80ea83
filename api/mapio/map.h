/*
 * mapio/map.h - mapped files (the fmmap / vmap seeds), usable without the
 * engine.
 *
 * One handle type for every kind of map: a file mapped read-only, read-write
 * (shared), copy-on-write or executable; anonymous memory; a heap buffer
 * ("memory") and an empty map, so code - and tests - can run unchanged over
 * each. Every access through the API is bounds-checked (offset + length
 * overflow included): nothing here faults on the library's own bounds, and
 * a zero-length file never reaches mmap(2).
 *
 * Threading: a map may be read and written from many threads at once through
 * mapio_map_read/write/ptr (the caller orders overlapping accesses); calls
 * that change the mapping itself (resize, freeze, thaw, close) must not run
 * concurrently with any other call on the same map.
 */
#ifndef MAPIO_MAP_H
#define MAPIO_MAP_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#include "errno.h"
#include "platform.h"

typedef struct mapio_map mapio_map_t;

typedef enum mapio_map_kind {
    MAPIO_MAP_READ_ONLY = 0, /* shared, PROT_READ */
    MAPIO_MAP_READ_WRITE,    /* shared: stores reach the file */
    MAPIO_MAP_COPY_ON_WRITE, /* private: stores stay in this process */
    MAPIO_MAP_EXEC,          /* shared, PROT_READ | PROT_EXEC */
} mapio_map_kind_t;

/* How to open the file. */
typedef enum mapio_map_new {
    MAPIO_MAP_OPEN_EXISTING = 0, /* fail with MAPIO_ENOENT if missing */
    MAPIO_MAP_OPEN_OR_CREATE,    /* create if missing */
    MAPIO_MAP_CREATE_NEW,        /* fail with MAPIO_EEXIST if present */
    MAPIO_MAP_TRUNCATE,          /* create if missing, empty it if present */
} mapio_map_open_t;

/* How the file's size relates to len. */
typedef enum mapio_map_size {
    MAPIO_MAP_SIZE_FILE = 0, /* map what the file has from offset (len ignored) */
    MAPIO_MAP_SIZE_EXACT,    /* make the file exactly offset + len */
    MAPIO_MAP_SIZE_AT_LEAST, /* grow the file to offset + len if smaller */
    MAPIO_MAP_SIZE_AT_MOST,  /* map min(len, what the file has) */
    MAPIO_MAP_SIZE_IF_THERE, /* map len only if the file has it, else MAPIO_ERANGE */
} mapio_map_size_t;

enum {
    MAPIO_MAP_POPULATE = 1u << 0,       /* prefault the pages now */
    MAPIO_MAP_HUGE_PAGES = 1u << 1,     /* ask for transparent huge pages */
    MAPIO_MAP_STACK = 1u << 2,          /* anonymous: a stack-style mapping */
    MAPIO_MAP_LOCK_FILE = 1u << 3,      /* take an advisory lock at open: exclusive
                                           for writable maps, shared otherwise */
    MAPIO_MAP_REMOVE_ON_FREE = 1u << 4, /* unlink the file when the map is closed */
};

typedef struct mapio_map_opts {
    mapio_map_kind_t kind;
    mapio_map_open_t open;
    mapio_map_size_t size;
    uint64_t offset; /* any byte offset: page alignment is handled inside */
    uint64_t len;
    unsigned flags; /* MAPIO_MAP_* */
    unsigned mode;  /* permission bits for a created file (<= 07777); 0 = 0644 */
} mapio_map_opts_t;

/*
 * mapio_map_new - map path as opts say (NULL opts: read-only, whole file).
 * Validation happens before anything touches the file: a bad option never
 * truncates it. Returns 0 and sets *out, or MAPIO_EINVAL (bad option; mode
 * above 07777, as mapio_vec_new; a read-only kind with a size policy that
 * writes; TRUNCATE on a read-only kind), MAPIO_EOVERFLOW (offset + len),
 * MAPIO_ERANGE (SIZE_IF_THERE and the file is shorter), MAPIO_EAGAIN
 * (MAPIO_MAP_LOCK_FILE and another handle holds a conflicting lock),
 * MAPIO_ENOSPC (a read-write map whose blocks the file system cannot
 * provide), the OS error (MAPIO_ENOENT, MAPIO_EEXIST, MAPIO_EACCES,
 * MAPIO_EFBIG, ...), or MAPIO_ENOMEM. A file with nothing to map gives an
 * empty map. Thread-safe: maps are independent (two maps of one file share
 * its pages, as mmap(2) does).
 *
 * A read-write map is backed by allocated blocks: the mapped range is
 * reserved (fallocate) when the map is opened, so a full file system is
 * MAPIO_ENOSPC here, never SIGBUS at a later store. A file this call grew
 * gets its old size back on any failure (a TRUNCATE open has emptied it by
 * then). Read-only, exec and copy-on-write maps reserve nothing. Where the
 * file system cannot reserve, zeros are written into the part the call grows
 * (holes the file already had stay holes). What remains possible is the OS
 * contract: another process that truncates the file or punches a hole in it
 * can still make a store or a load fault. See docs/map.md.
 */
MAPIO_EXTERN int mapio_map_new(mapio_map_t **out, const char *path, const mapio_map_opts_t *opts);

/* mapio_map_new_anon - anonymous private memory of len bytes
 * (MAPIO_MAP_POPULATE, _STACK and _HUGE_PAGES apply). Returns 0 and sets
 * *out, or MAPIO_EINVAL (len 0, NULL out, unknown flags) or MAPIO_ENOMEM.
 * Thread-safe. */
MAPIO_EXTERN int mapio_map_new_anon(mapio_map_t **out, uint64_t len, unsigned flags);

/* mapio_map_new_memory - a heap buffer of len zero bytes behind the same API
 * (flush, mlock and advise succeed and do nothing). Returns 0 and sets
 * *out, MAPIO_EINVAL or MAPIO_ENOMEM. Thread-safe. */
MAPIO_EXTERN int mapio_map_new_memory(mapio_map_t **out, uint64_t len);

/* mapio_map_new_empty - an empty map: length 0, every access out of range.
 * Returns 0 and sets *out, MAPIO_EINVAL (NULL out) or MAPIO_ENOMEM.
 * Thread-safe. */
MAPIO_EXTERN int mapio_map_new_empty(mapio_map_t **out);

/* mapio_map_len - the length of the map. Returns the bytes mapped (0 for an
 * empty or poisoned map, and for NULL). Thread-safe (the caller orders
 * overlapping accesses), but not while a call that changes the mapping
 * (resize, freeze, thaw, free) runs on m. */
MAPIO_EXTERN uint64_t mapio_map_len(const mapio_map_t *m);

/* mapio_map_ptr - the checked accessor. Returns a pointer to byte off, or
 * NULL if off >= len (and for a NULL or poisoned map). The pointer is valid
 * until the map is resized or freed. Thread-safe (the caller orders
 * overlapping accesses), but not while a call that changes the mapping
 * (resize, freeze, thaw, free) runs on m. */
MAPIO_EXTERN void *mapio_map_ptr(const mapio_map_t *m, uint64_t off);

/* mapio_map_slice - *ptr = the span [off, off + n) (n may be 0). Returns 0,
 * MAPIO_EOVERFLOW (off + n wraps), MAPIO_ERANGE (past the end), MAPIO_EINVAL
 * (NULL) or MAPIO_EIO (poisoned). Thread-safe (the caller orders overlapping
 * accesses), but not while a call that changes the mapping (resize, freeze,
 * thaw, free) runs on m. */
MAPIO_EXTERN int mapio_map_slice(const mapio_map_t *m, uint64_t off, uint64_t n, void **ptr);

/* mapio_map_read - copy out up to n bytes at off. Returns the count (short at
 * the end, 0 past it), or MAPIO_EINVAL (NULL map, NULL buf with n > 0, n >
 * MAPIO_MAX_IO), MAPIO_EOVERFLOW or MAPIO_EIO (poisoned). Thread-safe (the
 * caller orders overlapping accesses), but not while a call that changes the
 * mapping (resize, freeze, thaw, free) runs on m. */
MAPIO_EXTERN int64_t mapio_map_read(const mapio_map_t *m, uint64_t off, void *buf, size_t n);

/* mapio_map_write - copy n bytes in at off: all or nothing. Returns n, or
 * MAPIO_ERANGE (past the end), MAPIO_EOVERFLOW, MAPIO_EACCES (read-only, exec
 * or frozen map), MAPIO_EINVAL, MAPIO_EIO (poisoned). Thread-safe (the caller
 * orders overlapping accesses), but not while a call that changes the mapping
 * (resize, freeze, thaw, free) runs on m. */
MAPIO_EXTERN int64_t mapio_map_write(mapio_map_t *m, uint64_t off, const void *buf, size_t n);

/* mapio_map_zero - zero [off, off + n). Returns 0, or an error as
 * mapio_map_write. Thread-safe (the caller orders overlapping accesses), but
 * not while a call that changes the mapping (resize, freeze, thaw, free) runs
 * on m. */
MAPIO_EXTERN int mapio_map_zero(mapio_map_t *m, uint64_t off, uint64_t n);

/* mapio_map_flush - write the dirty pages of [off, off + n) back and wait
 * (n = UINT64_MAX: to the end). Unaligned ranges are rounded out to pages.
 * No-op for private, anon, memory and empty maps. Returns 0, MAPIO_ERANGE,
 * MAPIO_EOVERFLOW, MAPIO_EINVAL (NULL), MAPIO_EIO (poisoned) or the OS error.
 * Thread-safe (the caller orders overlapping accesses), but not while a call
 * that changes the mapping (resize, freeze, thaw, free) runs on m. */
MAPIO_EXTERN int mapio_map_flush(mapio_map_t *m, uint64_t off, uint64_t n);

/* mapio_map_flush_async - start writing [off, off + n) back without waiting
 * (on Linux sync_file_range(SYNC_FILE_RANGE_WRITE): MS_ASYNC does nothing
 * there). Returns as mapio_map_flush. Thread-safe (the caller orders
 * overlapping accesses), but not while a call that changes the mapping
 * (resize, freeze, thaw, free) runs on m. */
MAPIO_EXTERN int mapio_map_flush_async(mapio_map_t *m, uint64_t off, uint64_t n);

/* mapio_map_freeze / mapio_map_thaw - make the pages really read-only (a
 * store then faults; mapio_map_write says MAPIO_EACCES), and back. Returns 0,
 * MAPIO_EACCES (thaw of a read-only kind), MAPIO_EINVAL (NULL), MAPIO_EIO
 * (poisoned) or the OS error. Must not run concurrently with any other call
 * on the same map. */
MAPIO_EXTERN int mapio_map_freeze(mapio_map_t *m);
MAPIO_EXTERN int mapio_map_thaw(mapio_map_t *m);

typedef enum mapio_advice {
    MAPIO_ADVICE_NORMAL,
    MAPIO_ADVICE_SEQUENTIAL,
    MAPIO_ADVICE_RANDOM,
    MAPIO_ADVICE_WILLNEED,
    MAPIO_ADVICE_DONTNEED,
} mapio_advice_t;

/* mapio_map_advise - advise the kernel about [off, off + n) (n = UINT64_MAX:
 * to the end). Returns 0, a range error (MAPIO_ERANGE, MAPIO_EOVERFLOW),
 * MAPIO_EINVAL (NULL, unknown advice) or the OS error. Thread-safe (the
 * caller orders overlapping accesses), but not while a call that changes the
 * mapping (resize, freeze, thaw, free) runs on m. */
MAPIO_EXTERN int mapio_map_advise(mapio_map_t *m, uint64_t off, uint64_t n, mapio_advice_t a);

/* mapio_map_mlock / mapio_map_munlock - lock [off, off + n) in RAM, and
 * unlock it. Returns 0, a range error (MAPIO_ERANGE, MAPIO_EOVERFLOW),
 * MAPIO_EINVAL (NULL), or the OS error (MAPIO_EPERM / MAPIO_ENOMEM:
 * RLIMIT_MEMLOCK). Thread-safe (the caller orders overlapping accesses), but
 * not while a call that changes the mapping (resize, freeze, thaw, free) runs
 * on m. */
MAPIO_EXTERN int mapio_map_mlock(mapio_map_t *m, uint64_t off, uint64_t n);
MAPIO_EXTERN int mapio_map_munlock(mapio_map_t *m, uint64_t off, uint64_t n);

/*
 * mapio_map_resize - change a file map's length (and the file's size, for
 * writable shared maps) to new_len. Pointers into the map may move. Growing
 * reserves the new blocks as mapio_map_new does; if the file cannot grow or
 * get them (MAPIO_ENOSPC, MAPIO_EFBIG) or the mapping cannot grow
 * (MAPIO_ENOMEM), the file gets its old size back and the map is unchanged
 * and usable. If a shrink fails the map is poisoned: every later call but
 * close fails with MAPIO_EIO, because its pages may no longer match the file.
 * Returns 0, MAPIO_EINVAL (memory, empty or anonymous kinds; 0), MAPIO_EACCES
 * (read-only kinds), or the OS error. Must not run concurrently with any
 * other call on the same map.
 */
MAPIO_EXTERN int mapio_map_resize(mapio_map_t *m, uint64_t new_len);

/* mapio_map_lock flags. */
enum {
    MAPIO_MAP_LOCK_EXCLUSIVE = 1u << 0, /* one holder; default: shared */
    MAPIO_MAP_LOCK_NONBLOCK = 1u << 1,  /* MAPIO_EAGAIN instead of waiting */
};

/* mapio_map_lock / mapio_map_unlock - advisory whole-file locks (flock),
 * shared unless MAPIO_MAP_LOCK_EXCLUSIVE. Returns 0, MAPIO_EAGAIN (held
 * elsewhere, with MAPIO_MAP_LOCK_NONBLOCK), MAPIO_EINVAL (NULL, not a file
 * map, unknown flags), MAPIO_EIO (poisoned) or the OS error. One thread at a
 * time per map (the map records whether it holds the lock); reads and
 * writes through the map may run beside it. */
MAPIO_EXTERN int mapio_map_lock(mapio_map_t *m, unsigned flags);
MAPIO_EXTERN int mapio_map_unlock(mapio_map_t *m);

/* mapio_map_free - unmap and release. With MAPIO_MAP_REMOVE_ON_FREE the file
 * is unlinked. Returns 0 or the first error met (the map is freed either
 * way); 0 for NULL. Must not run concurrently with any other call on the
 * same map. */
MAPIO_EXTERN int mapio_map_free(mapio_map_t *m);

/* mapio_map_free_truncate - flush, unmap, set the file's size to size, fsync
 * it and its directory, free the map. For writable shared file maps only.
 * Returns 0; MAPIO_EACCES (another kind), MAPIO_EINVAL (NULL) or MAPIO_EIO
 * (a poisoned map: free it with mapio_map_free), the map then kept; or the
 * first error of flushing, truncating or syncing, the map freed anyway.
 * Must not run concurrently with any other call on the same map. */
MAPIO_EXTERN int mapio_map_free_truncate(mapio_map_t *m, uint64_t size);

/*
 * mapio_map_remove - unlink the mapped file durably: refuse with MAPIO_ESTALE
 * if its path now names another file or a symlink (checked by device and
 * inode), unlink it, fsync the directory. The map stays usable. Returns 0,
 * MAPIO_ESTALE, MAPIO_EINVAL (NULL, not a file map), MAPIO_EIO (poisoned) or
 * the OS error. Thread-safe (the caller orders overlapping accesses), but not
 * while a call that changes the mapping (resize, freeze, thaw, free) runs on
 * m.
 */
MAPIO_EXTERN int mapio_map_remove(mapio_map_t *m);

/* ---- cursors ----------------------------------------------------------- */

/* A position inside [start, start + len) of a map; caller-allocated. */
typedef struct mapio_cursor {
    mapio_map_t *map;
    uint64_t start, len, pos; /* pos is relative to start */
} mapio_cursor_t;

enum { MAPIO_SEEK_SET, MAPIO_SEEK_CUR, MAPIO_SEEK_END };

/* mapio_cursor_init - bind c to [off, off + len) of m (len UINT64_MAX: to
 * the end), at position 0. Returns 0, MAPIO_EINVAL, MAPIO_EOVERFLOW,
 * MAPIO_ERANGE or MAPIO_EIO (poisoned map). One thread at a time per cursor;
 * cursors on one map follow the map's rules (mapio_map_read). */
MAPIO_EXTERN int mapio_cursor_init(mapio_cursor_t *c, mapio_map_t *m, uint64_t off, uint64_t len);

/* mapio_cursor_read - read up to n bytes and advance. Returns the count (0
 * at the end), MAPIO_EINVAL (NULL or unbound cursor) or mapio_map_read's
 * errors. One thread at a time per cursor. */
MAPIO_EXTERN int64_t mapio_cursor_read(mapio_cursor_t *c, void *buf, size_t n);

/* mapio_cursor_write - write n bytes and advance, all or nothing. Returns n,
 * or MAPIO_ERANGE (past the cursor's range), MAPIO_EINVAL (NULL or unbound
 * cursor) or mapio_map_write's errors. One thread at a time per cursor. */
MAPIO_EXTERN int64_t mapio_cursor_write(mapio_cursor_t *c, const void *buf, size_t n);

/* mapio_cursor_seek - move to whence (MAPIO_SEEK_SET, _CUR, _END) + delta.
 * Returns the new position, or MAPIO_ERANGE for a position outside [0, len]
 * (the cursor stays put) or MAPIO_EINVAL (NULL cursor, unknown whence). One
 * thread at a time per cursor. */
MAPIO_EXTERN int64_t mapio_cursor_seek(mapio_cursor_t *c, int64_t delta, int whence);

/* ---- numbers at any offset, either byte order --------------------------- */

typedef struct mapio_u128 {
    uint64_t hi, lo;
} mapio_u128_t;

/* X(name, C type, bytes, is_signed): the integer widths the seeds offer
 * (24-bit values live in the low bits of a 32-bit type; signed ones are
 * sign-extended). */
#define MAPIO_NUMBER_MAP(X)                                                                        \
    X(u8, uint8_t, 1, 0)                                                                           \
    X(i8, int8_t, 1, 1)                                                                            \
    X(u16, uint16_t, 2, 0)                                                                         \
    X(i16, int16_t, 2, 1)                                                                          \
    X(u24, uint32_t, 3, 0)                                                                         \
    X(i24, int32_t, 3, 1)                                                                          \
    X(u32, uint32_t, 4, 0)                                                                         \
    X(i32, int32_t, 4, 1)                                                                          \
    X(u64, uint64_t, 8, 0)                                                                         \
    X(i64, int64_t, 8, 1)

/*
 * mapio_map_get_<name>_le / _be, mapio_map_put_<name>_le / _be - read or
 * write one number at any (unaligned) offset, little- or big-endian: get(m,
 * off, &v), put(m, off, v), for <name> u8, i8, u16, i16, u24, i24, u32, i32,
 * u64, i64, u128, f32 and f64 (u128: mapio_u128_t, high half first in
 * big-endian order). Return 0, MAPIO_ERANGE (it would cross the end: nothing
 * is read past it), MAPIO_EOVERFLOW, MAPIO_EINVAL (NULL), or
 * mapio_map_write's errors. Thread-safe (the caller orders overlapping
 * accesses), but not while a call that changes the mapping (resize, freeze,
 * thaw, free) runs on m.
 */
#define MAPIO__NUMBER_DECL(name, type, bytes, is_signed)                                           \
    MAPIO_EXTERN int mapio_map_get_##name##_le(const mapio_map_t *m, uint64_t off, type *v);       \
    MAPIO_EXTERN int mapio_map_get_##name##_be(const mapio_map_t *m, uint64_t off, type *v);       \
    MAPIO_EXTERN int mapio_map_put_##name##_le(mapio_map_t *m, uint64_t off, type v);              \
    MAPIO_EXTERN int mapio_map_put_##name##_be(mapio_map_t *m, uint64_t off, type v);
MAPIO_NUMBER_MAP(MAPIO__NUMBER_DECL)
MAPIO__NUMBER_DECL(u128, mapio_u128_t, 16, 0)
MAPIO__NUMBER_DECL(f32, float, 4, 1)
MAPIO__NUMBER_DECL(f64, double, 8, 1)
#undef MAPIO__NUMBER_DECL

/* ---- file utilities ----------------------------------------------------- */

typedef struct mapio_path_info {
    uint64_t size, dev, ino, rdev, nlink, blocks, blksize;
    uint32_t mode, uid, gid;
    int64_t atime_ns, mtime_ns, ctime_ns;
} mapio_path_info_t;

/* fsync a directory, or the directory holding path (a name without a
 * directory: the current one). Return 0, MAPIO_EINVAL (NULL), MAPIO_ENOENT
 * (an empty string, which names no file and so has no parent, as open(2)
 * says), MAPIO_ENOTDIR (sync_dir of a non-directory) or the OS error.
 * Thread-safe. */
MAPIO_EXTERN int mapio_path_sync_dir(const char *dir);
MAPIO_EXTERN int mapio_path_sync_parent(const char *path);

/* mapio_path_info flags. */
enum {
    MAPIO_PATH_NOFOLLOW = 1u << 0, /* a final symlink itself, not what it names */
};

/* Metadata of the file path names (with MAPIO_PATH_NOFOLLOW: of a final
 * symlink itself). Returns 0, MAPIO_EINVAL (NULL, unknown flags) or the OS
 * error. Thread-safe. */
MAPIO_EXTERN int mapio_path_info(const char *path, unsigned flags, mapio_path_info_t *out);

/* The size of a file or a block device (whose st_size is 0). Returns 0 or
 * the OS error. Thread-safe. */
MAPIO_EXTERN int mapio_path_device_size(const char *path, uint64_t *out);

/* mapio_map_copy_to_file - copy [off, off + n) of m into a new file at path
 * (created exclusively, fsynced with its directory). Returns 0, MAPIO_EEXIST,
 * MAPIO_EINVAL (NULL), a range error (MAPIO_ERANGE, MAPIO_EOVERFLOW) or the
 * OS error (a partly written file is removed). Thread-safe (the caller orders
 * overlapping accesses), but not while a call that changes the mapping
 * (resize, freeze, thaw, free) runs on m. */
MAPIO_EXTERN int mapio_map_copy_to_file(const mapio_map_t *m, uint64_t off, uint64_t n,
                                        const char *path);

/* mapio_page_size - the unit mappings are aligned to. Returns the runtime
 * page size (on Windows the allocation granularity, usually 64 KiB).
 * Thread-safe. */
MAPIO_EXTERN uint64_t mapio_page_size(void);

#ifdef __cplusplus
}
#endif

#endif
