/*
 * mmap/ring/ring_win.c - the Windows half of the rings: the double mapping
 * and the buffered reader's and writer's ReadFile/WriteFile.
 *
 * The memory is a pagefile-backed section (CreateFileMappingW on
 * INVALID_HANDLE_VALUE): it has no name, so unlike POSIX shm there is nothing
 * to collide on or to remove, and it is sized when it is made. Its two views
 * must sit back to back, which Windows can promise in one of two ways:
 *
 *  - Placeholders (Windows 10 1803+): VirtualAlloc2 reserves 2 * len as a
 *    placeholder, VirtualFree(MEM_PRESERVE_PLACEHOLDER) splits it in two and
 *    MapViewOfFile3(MEM_REPLACE_PLACEHOLDER) puts a view into each half. The
 *    range is never free in between, so no other thread can take it.
 *  - Elsewhere, the retry loop: reserve 2 * len to find a free range, release
 *    it, map the views at its start and middle (MapViewOfFileEx). Another
 *    thread may map something there in between; the views then fail with
 *    ERROR_INVALID_ADDRESS and the whole attempt is made again, a bounded
 *    number of times.
 *
 * VirtualAlloc2 and MapViewOfFile3 are looked up at run time (kernelbase.dll,
 * then kernel32.dll), so the library still loads where they are missing. And
 * having them is not enough: Wine 8 exports both but refuses
 * MEM_RESERVE_PLACEHOLDER, so a one-time probe decides.
 *
 * The steps of mapio__ringos_fail_at on Windows: 1 CreateFileMappingW; 2 the
 * size, which Windows takes (and charges to the commit limit) in that same
 * call, so step 2 is only an injection point with the section made - it
 * checks that a failure after step 1 closes the section; 3 the reservation
 * (the placeholder and its split, or the probing VirtualAlloc - once per
 * attempt of the retry loop); 4 and 5 the two views. An injected MAPIO_EEXIST
 * at step 4 or 5 stands for "another thread took the address": the retry
 * loop retries it, as ERROR_INVALID_ADDRESS; placeholder views cannot lose
 * that race, so there it is an error like any other.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "ring_os.h"
#include "ring_win.h"
#include "engine/os_win.h"

/* Largest count handed to one ReadFile/WriteFile (a DWORD; the engine's cap). */
#define RING_IO_CHUNK ((size_t)0x7ffff000)

/* Attempts of the retry loop before the lost race is the error. */
#define MAP_TRIES 32

/* Older SDK headers (mingw-w64 10) lack the placeholder flags. */
#ifndef MEM_RESERVE_PLACEHOLDER
#define MEM_RESERVE_PLACEHOLDER 0x00040000
#endif
#ifndef MEM_REPLACE_PLACEHOLDER
#define MEM_REPLACE_PLACEHOLDER 0x00004000
#endif
#ifndef MEM_PRESERVE_PLACEHOLDER
#define MEM_PRESERVE_PLACEHOLDER 0x00000002
#endif

/* The extended parameters are never used: void * spares the SDK version. */
typedef PVOID(WINAPI *virtual_alloc2_fn)(HANDLE, PVOID, SIZE_T, ULONG, ULONG, void *, ULONG);
typedef PVOID(WINAPI *map_view3_fn)(HANDLE, HANDLE, PVOID, ULONG64, SIZE_T, ULONG, ULONG, void *,
                                    ULONG);

size_t mapio__ringos_granularity(void)
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    size_t g = si.dwAllocationGranularity;
    /* Views start at multiples of it; anything odd would break the rounding. */
    return g >= 4096 && (g & (g - 1)) == 0 ? g : 65536;
}

/* ---- placeholders: looked up and probed once ------------------------------- */

static virtual_alloc2_fn virtual_alloc2;
static map_view3_fn map_view3;
static bool placeholders_work;
static atomic_int placeholders_allowed = 1;
static INIT_ONCE placeholder_once = INIT_ONCE_STATIC_INIT;

static BOOL CALLBACK placeholder_setup(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    (void)once;
    (void)param;
    (void)ctx;
    /* kernelbase.dll on Windows 10; kernel32.dll forwards to it elsewhere. */
    bool va = mapio__win_proc(L"kernelbase.dll", "VirtualAlloc2", &virtual_alloc2) ||
              mapio__win_proc(L"kernel32.dll", "VirtualAlloc2", &virtual_alloc2);
    bool mv = mapio__win_proc(L"kernelbase.dll", "MapViewOfFile3", &map_view3) ||
              mapio__win_proc(L"kernel32.dll", "MapViewOfFile3", &map_view3);
    if (!va || !mv)
        return TRUE;
    /* Exported is not supported (Wine 8): ask for a small placeholder. */
    size_t g = mapio__ringos_granularity();
    void *p = virtual_alloc2(NULL, NULL, 2 * g, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER,
                             PAGE_NOACCESS, NULL, 0);
    if (p != NULL) {
        placeholders_work = VirtualFree(p, g, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER) != 0;
        VirtualFree(p, 0, MEM_RELEASE);
        if (placeholders_work)
            VirtualFree((unsigned char *)p + g, 0, MEM_RELEASE);
    }
    return TRUE;
}

static bool use_placeholders(void)
{
    InitOnceExecuteOnce(&placeholder_once, placeholder_setup, NULL, NULL);
    return placeholders_work && atomic_load(&placeholders_allowed);
}

int mapio__ringos_win_placeholders(int allow)
{
    if (allow >= 0)
        atomic_store(&placeholders_allowed, allow != 0);
    return use_placeholders();
}

/* ---- the double mapping ------------------------------------------------------ */

/* Both views into a split placeholder at p. */
static int map_into_placeholders(HANDLE section, unsigned char *p, size_t len)
{
    int err = mapio__ringos_injected(4);
    if (err == 0 && map_view3(section, GetCurrentProcess(), p, 0, len, MEM_REPLACE_PLACEHOLDER,
                              PAGE_READWRITE, NULL, 0) == NULL)
        err = mapio__win_last();
    if (err != 0) {
        VirtualFree(p, 0, MEM_RELEASE);
        VirtualFree(p + len, 0, MEM_RELEASE);
        return err;
    }
    err = mapio__ringos_injected(5);
    if (err == 0 && map_view3(section, GetCurrentProcess(), p + len, 0, len,
                              MEM_REPLACE_PLACEHOLDER, PAGE_READWRITE, NULL, 0) == NULL)
        err = mapio__win_last();
    if (err != 0) {
        UnmapViewOfFile(p);
        VirtualFree(p + len, 0, MEM_RELEASE);
    }
    return err;
}

static int create_with_placeholders(HANDLE section, size_t len, void **base)
{
    int err = mapio__ringos_injected(3);
    if (err != 0)
        return err;
    unsigned char *p = virtual_alloc2(NULL, NULL, 2 * len, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER,
                                      PAGE_NOACCESS, NULL, 0);
    if (p == NULL)
        return mapio__win_last();
    /* Split it: each view replaces one whole placeholder. */
    if (!VirtualFree(p, len, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER)) {
        err = mapio__win_last();
        VirtualFree(p, 0, MEM_RELEASE);
        return err;
    }
    err = map_into_placeholders(section, p, len);
    if (err == 0)
        *base = p;
    return err;
}

/* One view at exactly at. *taken: the address was no longer free. */
static int map_at(HANDLE section, unsigned char *at, size_t len, int step, bool *taken)
{
    int err = mapio__ringos_injected(step);
    if (err != 0) {
        *taken = err == MAPIO_EEXIST;
        return err;
    }
    if (MapViewOfFileEx(section, FILE_MAP_WRITE, 0, 0, len, at) != NULL)
        return 0;
    DWORD code = GetLastError();
    *taken = code == ERROR_INVALID_ADDRESS;
    return mapio__win_err(code);
}

static int create_with_retries(HANDLE section, size_t len, void **base)
{
    int err = 0;
    for (int attempt = 1; attempt <= MAP_TRIES; attempt++) {
        if ((err = mapio__ringos_injected(3)) != 0)
            return err;
        /* Only to find a free range: it is released before the views go in. */
        unsigned char *p = VirtualAlloc(NULL, 2 * len, MEM_RESERVE, PAGE_NOACCESS);
        if (p == NULL)
            return mapio__win_last();
        VirtualFree(p, 0, MEM_RELEASE);
        bool taken = false;
        err = map_at(section, p, len, 4, &taken);
        if (err == 0) {
            err = map_at(section, p + len, len, 5, &taken);
            if (err == 0) {
                *base = p;
                return 0;
            }
            UnmapViewOfFile(p);
        }
        if (!taken)
            return err;
    }
    return err;
}

int mapio__ringos_create(size_t len, void **base)
{
    int err = mapio__ringos_injected(1);
    if (err != 0)
        return err;
    uint64_t size = len;
    HANDLE section = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE,
                                        (DWORD)(size >> 32), (DWORD)size, NULL);
    if (section == NULL)
        return mapio__win_last();
    err = mapio__ringos_injected(2);
    if (err == 0)
        err = use_placeholders() ? create_with_placeholders(section, len, base)
                                 : create_with_retries(section, len, base);
    /* The views keep the section alive: the handle is not needed. */
    CloseHandle(section);
    return err;
}

int mapio__ringos_destroy(void *base, size_t len)
{
    int err = UnmapViewOfFile(base) ? 0 : mapio__win_last();
    if (!UnmapViewOfFile((unsigned char *)base + len) && err == 0)
        err = mapio__win_last();
    return err;
}

/* ---- buffered reader / writer I/O -------------------------------------------- */

/*
 * read(2) and write(2) on a HANDLE, which may be either kind: a handle opened
 * for overlapped I/O (every file the engine opens) or not (CreatePipe's pipes,
 * the standard handles, most files others open). The mode cannot be asked
 * without ntdll, so each call is made so that it works for both:
 *
 *  - Not a disk file (pipe, console, character device): there is no position,
 *    so the call carries an OVERLAPPED with the per-thread event whose low bit
 *    is set (mapio__win_ov_init), which a non-overlapped handle simply
 *    completes before returning and an overlapped one completes on the event -
 *    never on the handle's completion port.
 *  - A disk file: a handle opened for synchronous I/O gets the plain call,
 *    which is exactly read(2): at the file pointer, which it moves
 *    (atomically, appending where the handle appends). An overlapped handle
 *    must be given an offset - without one ReadFile may even report a call
 *    still in flight as done - so there the call is made at the file
 *    pointer, through the OVERLAPPED, and the pointer moved past what was
 *    transferred; unlike the native one, this move is not atomic against
 *    another thread using the same handle's pointer. Which kind a handle is
 *    comes from NtQueryInformationFile(FileModeInformation), looked up in
 *    ntdll at run time; where that cannot answer, the second way, which
 *    works for both kinds.
 *
 * Errors: a pipe whose writer is gone (ERROR_BROKEN_PIPE) is end of file on
 * read; an empty PIPE_NOWAIT pipe (ERROR_NO_DATA on read) is MAPIO_EAGAIN;
 * everything else goes through mapio__win_err (a pipe whose reader is gone is
 * MAPIO_EPIPE on write). Nothing here makes MAPIO_EINTR: Windows has no
 * signals that interrupt a ReadFile.
 */
static int64_t rw_overlapped(HANDLE h, void *buf, DWORD n, uint64_t off, bool write)
{
    OVERLAPPED ov;
    mapio__win_ov_init(&ov, off);
    BOOL ok = write ? WriteFile(h, buf, n, NULL, &ov) : ReadFile(h, buf, n, NULL, &ov);
    return mapio__win_ov_finish(h, &ov, ok, ok ? 0 : GetLastError());
}

static int64_t rw_at_pointer(HANDLE h, void *buf, DWORD n, bool write)
{
    LARGE_INTEGER zero = { .QuadPart = 0 }, pos;
    if (!SetFilePointerEx(h, zero, &pos, FILE_CURRENT))
        return mapio__win_last();
    int64_t r = rw_overlapped(h, buf, n, (uint64_t)pos.QuadPart, write);
    if (r > 0) {
        /* Cannot fail for an offset just read back; and the bytes have moved
         * either way, so they are what to report. */
        pos.QuadPart += r;
        SetFilePointerEx(h, pos, NULL, FILE_BEGIN);
    }
    return r;
}

/* NtQueryInformationFile's I/O status block and FileModeInformation flags:
 * ntdll's, spelled out here (winternl.h is not in every SDK; the flags are
 * in winnt.h in some). */
struct io_status {
    union {
        LONG status;
        void *pointer;
    } u;
    ULONG_PTR information;
};
typedef LONG(WINAPI *nt_query_file_fn)(HANDLE, struct io_status *, void *, ULONG, int);
#define FILE_MODE_INFORMATION 16
#ifndef FILE_SYNCHRONOUS_IO_ALERT
#define FILE_SYNCHRONOUS_IO_ALERT 0x10
#endif
#ifndef FILE_SYNCHRONOUS_IO_NONALERT
#define FILE_SYNCHRONOUS_IO_NONALERT 0x20
#endif

static nt_query_file_fn nt_query_file;
static INIT_ONCE nt_query_once = INIT_ONCE_STATIC_INIT;

static BOOL CALLBACK find_nt_query(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    (void)once;
    (void)param;
    (void)ctx;
    mapio__win_proc(L"ntdll.dll", "NtQueryInformationFile", &nt_query_file);
    return TRUE;
}

/* h was opened for synchronous I/O (false: overlapped, or not known). */
static bool synchronous(HANDLE h)
{
    InitOnceExecuteOnce(&nt_query_once, find_nt_query, NULL, NULL);
    struct io_status iosb;
    ULONG mode = 0;
    if (nt_query_file == NULL ||
        nt_query_file(h, &iosb, &mode, sizeof mode, FILE_MODE_INFORMATION) < 0)
        return false;
    return (mode & (FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT)) != 0;
}

static int64_t rw(mapio_fd_t fd, void *buf, size_t len, bool write)
{
    HANDLE h = fd;
    DWORD n = (DWORD)MAPIO__MIN(len, RING_IO_CHUNK), done = 0;
    int64_t r;
    if (GetFileType(h) != FILE_TYPE_DISK) {
        r = rw_overlapped(h, buf, n, 0, write);
    } else if (synchronous(h)) {
        BOOL ok = write ? WriteFile(h, buf, n, &done, NULL) : ReadFile(h, buf, n, &done, NULL);
        DWORD code = ok ? 0 : GetLastError();
        r = ok ? (int64_t)done : code == ERROR_HANDLE_EOF ? 0 : mapio__win_err(code);
    } else {
        r = rw_at_pointer(h, buf, n, write);
    }
    if (r < 0 && !write) {
        DWORD code = mapio__win_last_error();
        if (code == ERROR_BROKEN_PIPE)
            return 0;
        if (code == ERROR_NO_DATA)
            return MAPIO_EAGAIN;
    }
    return r;
}

static int64_t os_read(mapio_fd_t fd, void *buf, size_t n)
{
    return rw(fd, buf, n, false);
}

static int64_t os_write(mapio_fd_t fd, const void *buf, size_t n)
{
    /* WriteFile takes a const buffer; the cast only shares rw's signature. */
    return rw(fd, (void *)(uintptr_t)buf, n, true);
}

const struct mapio__ringos_io mapio__ringos_io_default = {
    .read = os_read,
    .write = os_write,
};

struct mapio__ringos_io mapio__ringos_io = {
    .read = os_read,
    .write = os_write,
};
