/*
 * mapio/errno.h - the error namespace.
 *
 * Every mapio call that returns int or int64_t returns 0 or a count on success
 * and a negative errno on failure. One list generates the MAPIO_E* constants and
 * mapio_strerror(), so a code and its text cannot drift apart. On every target
 * MAPIO_Ex == -Ex (mingw's errno.h has the POSIX names); Windows system errors
 * are translated to these in one place, mapio__win_err() in engine/os_win.c
 * (used by the OS table, the IOCP backend and the Windows mmap code), which
 * keeps the raw code for diagnostics.
 */
#ifndef MAPIO_ERRNO_H
#define MAPIO_ERRNO_H

#ifdef __cplusplus
extern "C" {
#endif

#include <errno.h>

#include "platform.h"

#define MAPIO_ERRNO_MAP(X)                                                                         \
    X(EPERM, "operation not permitted")                                                            \
    X(ENOENT, "no such file or directory")                                                         \
    X(EINTR, "interrupted system call")                                                            \
    X(EIO, "input/output error")                                                                   \
    X(EBADF, "bad file descriptor (closed, or not open for this access)")                          \
    X(EAGAIN, "resource temporarily unavailable (queue full)")                                     \
    X(ENOMEM, "out of memory")                                                                     \
    X(EACCES, "permission denied")                                                                 \
    X(EFAULT, "bad address (NULL buffer)")                                                         \
    X(EBUSY, "device or resource busy")                                                            \
    X(EEXIST, "file exists")                                                                       \
    X(ENODEV, "no such device")                                                                    \
    X(ENOTDIR, "not a directory")                                                                  \
    X(EISDIR, "is a directory")                                                                    \
    X(EINVAL, "invalid argument")                                                                  \
    X(ENFILE, "too many open files in system")                                                     \
    X(EMFILE, "too many open files")                                                               \
    X(EFBIG, "file too large")                                                                     \
    X(ENOSPC, "no space left on device")                                                           \
    X(ESPIPE, "illegal seek")                                                                      \
    X(EROFS, "read-only file system")                                                              \
    X(EPIPE, "broken pipe")                                                                        \
    X(ERANGE, "result out of range")                                                               \
    X(ENAMETOOLONG, "file name too long")                                                          \
    X(ENOSYS, "function not implemented")                                                          \
    X(ELOOP, "too many levels of symbolic links")                                                  \
    X(ENOTEMPTY, "directory not empty")                                                            \
    X(EOVERFLOW, "value too large (offset + length overflows)")                                    \
    X(ENOTSUP, "operation not supported")                                                          \
    X(EALREADY, "operation already in progress")                                                   \
    X(ETIMEDOUT, "timed out")                                                                      \
    X(ECANCELED, "operation canceled")                                                             \
    X(EXDEV, "invalid cross-device link")                                                          \
    X(ESTALE, "stale handle (the path now names another file)")                                    \
    X(EBADMSG, "bad message (corrupt data: a checksum does not hold)")

enum {
#define MAPIO__ERRNO_ENUM(name, text) MAPIO_##name = -name,
    MAPIO_ERRNO_MAP(MAPIO__ERRNO_ENUM)
#undef MAPIO__ERRNO_ENUM
};

/*
 * mapio_strerror - a static, human-readable text for a mapio error code.
 * Accepts negative codes (as returned by mapio) and positive errno values.
 * Returns "success" for 0 and "unknown error" for codes outside the list.
 * Never NULL. Thread-safe.
 */
MAPIO_EXTERN const char *mapio_strerror(int err);

/*
 * mapio_err_name - the symbolic name of a mapio error code. Accepts negative
 * codes and positive errno values, as mapio_strerror. Returns a static
 * string: "EIO" for MAPIO_EIO, "OK" for 0, "UNKNOWN" for codes outside the
 * list; never NULL. Thread-safe.
 */
MAPIO_EXTERN const char *mapio_err_name(int err);

#ifdef __cplusplus
}
#endif

#endif
