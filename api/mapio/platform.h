/*
 * mapio/platform.h - the one place that knows which OS it is built for.
 *
 * Everything else in api/ and engine/ talks in terms of mapio_fd_t and
 * mapio_iovec_t, so no portable code assumes that a file is an int.
 */
#ifndef MAPIO_PLATFORM_H
#define MAPIO_PLATFORM_H

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define MAPIO_OS_WINDOWS 1
#include <errno.h>
/* mingw-w64's errno.h has every POSIX name mapio uses but ESTALE; give it a
 * value no other code there has, so MAPIO_ESTALE stays distinct. */
#if !defined(ESTALE)
#define ESTALE 151
#endif
/* A Windows HANDLE, kept as a pointer so that this header needs no windows.h. */
typedef void *mapio_fd_t;
#define MAPIO_INVALID_FD ((mapio_fd_t)(intptr_t)-1)
/* Same member names as POSIX struct iovec, so code reads the same. */
typedef struct mapio_iovec {
    void *iov_base;
    size_t iov_len;
} mapio_iovec_t;
#else
#define MAPIO_OS_WINDOWS 0
#include <sys/uio.h>
typedef int mapio_fd_t;
#define MAPIO_INVALID_FD (-1)
typedef struct iovec mapio_iovec_t;
#endif

/* Largest count one read or write may ask for (SSIZE_MAX on every target). */
#define MAPIO_MAX_IO ((uint64_t)INT64_MAX)

#if defined(_WIN32)
#if defined(MAPIO_BUILDING)
#define MAPIO_EXTERN __declspec(dllexport)
#else
#define MAPIO_EXTERN
#endif
#elif defined(__GNUC__)
#define MAPIO_EXTERN __attribute__((visibility("default")))
#else
#define MAPIO_EXTERN
#endif

#ifdef __cplusplus
}
#endif

#endif
