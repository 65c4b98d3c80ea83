/*
 * engine/os_win.h - what the Windows platform files share (engine/os_win.c,
 * backends/iocp/iocp.c, mmap/map/map_win.c). Included only by Windows-only
 * sources, so it may use Windows types freely.
 */
#ifndef MAPIO_OS_WIN_H
#define MAPIO_OS_WIN_H

#include <stdbool.h>
#include <windows.h>

#include "common.h"

/*
 * The one place where a Windows error code (GetLastError()) becomes the
 * library's negative errno. The raw code is kept per thread for diagnostics
 * (mapio__win_last_error), because several Windows codes share one errno.
 */
int mapio__win_err(DWORD code);

/* The same for GetLastError() right now. */
int mapio__win_last(void);

/* The raw code of the last translation on this thread (0 if none). */
DWORD mapio__win_last_error(void);

/*
 * A UTF-8 path as the UTF-16 string the W functions take, in *out (free it
 * with mapio__free). Long paths (MAX_PATH and beyond) become absolute
 * "\\?\" paths, so they work without the process opting in to long paths.
 * Returns 0, MAPIO_EINVAL (not UTF-8), MAPIO_ENAMETOOLONG or MAPIO_ENOMEM.
 */
int mapio__win_path(const char *utf8, wchar_t **out);

/* An OVERLAPPED at off for a call that mapio__win_ov_finish waits for. */
void mapio__win_ov_init(OVERLAPPED *ov, uint64_t off);

/*
 * Wait for an overlapped call on h that was started with mapio__win_ov_init
 * (an event whose low bit is set, so the completion port of h never sees it)
 * and return its byte count, or a negative errno. ok and err are what the
 * starting call returned and GetLastError() said.
 */
int64_t mapio__win_ov_finish(HANDLE h, OVERLAPPED *ov, BOOL ok, DWORD err);

/*
 * A function that not every supported Windows (or Wine) has, looked up at
 * run time so that the library still loads without it: name in the system
 * DLL dll (loaded from System32 if not loaded yet). Copies the address into
 * *fn (a function pointer of the caller's type) and returns true, or returns
 * false and leaves *fn alone.
 */
bool mapio__win_proc(const wchar_t *dll, const char *name, void *fn);

/*
 * ntdll's NtSetInformationFile: set information class cls (a
 * FILE_INFORMATION_CLASS, some of which no SDK header names) of h from the
 * len bytes at info. Returns the NTSTATUS - STATUS_NOT_IMPLEMENTED
 * (0xC0000002) where ntdll has no such call.
 */
long mapio__win_nt_set_file(HANDLE h, void *info, unsigned long len, int cls);

#endif
