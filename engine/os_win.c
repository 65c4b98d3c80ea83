/*
 * engine/os_win.c - the Windows half of the engine's OS table, and the
 * helpers every Windows platform file shares (engine/os_win.h): the one
 * Windows-error translation, UTF-8 paths, overlapped calls made blocking.
 *
 * Chosen by meson for Windows targets (mapio_platform = 'win').
 *
 * Every file the engine opens is overlapped (FILE_FLAG_OVERLAPPED), because
 * the IOCP backend needs that - and a handle's mode is fixed when it is
 * opened. So the blocking entries here (the worker pool's and the blocking
 * twins') also issue overlapped calls, each with an event whose low bit is
 * set: then the completion goes to that event only, never to the port the
 * handle is associated with, and the call simply waits for it.
 */
#include <malloc.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "os.h"
#include "os_win.h"
#include "mapio.h"

#include <winioctl.h>

/* ---- errors ------------------------------------------------------------------ */

/* The raw code of the last translation, per thread (TLS: no allocation). */
static _Thread_local DWORD last_raw;

int mapio__win_err(DWORD code)
{
    last_raw = code;
    switch (code) {
    case ERROR_SUCCESS:
        return 0;
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_DRIVE:
    case ERROR_INVALID_NAME:
    case ERROR_BAD_PATHNAME:
    case ERROR_BAD_NETPATH:
    case ERROR_BAD_NET_NAME:
    case ERROR_MOD_NOT_FOUND:
        return MAPIO_ENOENT;
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
    case ERROR_NETWORK_ACCESS_DENIED:
    case ERROR_CANNOT_MAKE:
    case ERROR_DELETE_PENDING:
        return MAPIO_EACCES;
    case ERROR_PRIVILEGE_NOT_HELD:
        return MAPIO_EPERM;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
        return MAPIO_EEXIST;
    case ERROR_INVALID_HANDLE:
        return MAPIO_EBADF;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_COMMITMENT_LIMIT:
    case ERROR_NOT_ENOUGH_QUOTA:
    case ERROR_NO_SYSTEM_RESOURCES:
    case ERROR_NONPAGED_SYSTEM_RESOURCES:
    case ERROR_PAGED_SYSTEM_RESOURCES:
    case ERROR_WORKING_SET_QUOTA:
    case ERROR_PAGEFILE_QUOTA:
        return MAPIO_ENOMEM;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
    case 1295: /* ERROR_DISK_QUOTA_EXCEEDED, missing from older headers */
        return MAPIO_ENOSPC;
    case ERROR_TOO_MANY_OPEN_FILES:
        return MAPIO_EMFILE;
    case ERROR_DIRECTORY:
        return MAPIO_ENOTDIR;
    case ERROR_WRITE_PROTECT:
        return MAPIO_EROFS;
    case ERROR_OPERATION_ABORTED:
        return MAPIO_ECANCELED;
    case ERROR_FILENAME_EXCED_RANGE:
    case ERROR_BUFFER_OVERFLOW:
        return MAPIO_ENAMETOOLONG;
    case ERROR_NOT_SAME_DEVICE:
        return MAPIO_EXDEV;
    case ERROR_BROKEN_PIPE:
    case ERROR_NO_DATA:
        return MAPIO_EPIPE;
    case ERROR_CANT_RESOLVE_FILENAME:
        return MAPIO_ELOOP;
    case ERROR_BUSY:
    case ERROR_USER_MAPPED_FILE:
    case ERROR_PIPE_BUSY:
        return MAPIO_EBUSY;
    case ERROR_SEM_TIMEOUT:
    case WAIT_TIMEOUT:
        return MAPIO_ETIMEDOUT;
    case ERROR_FILE_TOO_LARGE:
        return MAPIO_EFBIG;
    case ERROR_ARITHMETIC_OVERFLOW:
        return MAPIO_EOVERFLOW;
    case ERROR_NOACCESS:
    case ERROR_INVALID_USER_BUFFER:
        return MAPIO_EFAULT;
    case ERROR_DEV_NOT_EXIST:
    case ERROR_BAD_UNIT:
        return MAPIO_ENODEV;
    case ERROR_SEEK:
    case ERROR_NEGATIVE_SEEK:
        return MAPIO_ESPIPE;
    case ERROR_INVALID_PARAMETER:
    case ERROR_INVALID_FLAGS:
    case ERROR_NOT_LOCKED:
    case ERROR_INVALID_ADDRESS:
        return MAPIO_EINVAL;
    case ERROR_INVALID_FUNCTION:
    case ERROR_NOT_SUPPORTED:
        return MAPIO_ENOTSUP;
    case ERROR_CALL_NOT_IMPLEMENTED:
    case ERROR_PROC_NOT_FOUND:
        return MAPIO_ENOSYS;
    case ERROR_IO_PENDING:
        return MAPIO_EALREADY;
    default:
        /* ERROR_CRC, ERROR_READ_FAULT, ERROR_GEN_FAILURE, ERROR_IO_DEVICE,
         * ERROR_NOT_READY, ... and anything unknown: the raw code says which. */
        return MAPIO_EIO;
    }
}

bool mapio__win_proc(const wchar_t *dll, const char *name, void *fn)
{
    HMODULE m = GetModuleHandleW(dll);
    if (m == NULL)
        m = LoadLibraryExW(dll, NULL, LOAD_LIBRARY_SEARCH_SYSTEM32); /* stays loaded */
    FARPROC f = m != NULL ? GetProcAddress(m, name) : NULL;
    if (f != NULL)
        memcpy(fn, &f, sizeof f); /* function pointer types differ; ISO C allows the copy */
    return f != NULL;
}

int mapio__win_last(void)
{
    return mapio__win_err(GetLastError());
}

DWORD mapio__win_last_error(void)
{
    return last_raw;
}

/* ---- paths ------------------------------------------------------------------- */

int mapio__win_path(const char *utf8, wchar_t **out)
{
    *out = NULL;
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, NULL, 0);
    if (n <= 0)
        return MAPIO_EINVAL;
    wchar_t *w = mapio__malloc((size_t)n * sizeof *w);
    if (w == NULL)
        return MAPIO_ENOMEM;
    MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, w, n);
    if (n < MAX_PATH - 12 || wcsncmp(w, L"\\\\?\\", 4) == 0) {
        *out = w;
        return 0;
    }
    /* Long: the "\\?\" form lifts the MAX_PATH limit but takes only absolute
     * paths with backslashes, which GetFullPathNameW produces. */
    DWORD full = GetFullPathNameW(w, 0, NULL, NULL);
    wchar_t *p = full != 0 ? mapio__malloc(((size_t)full + 8) * sizeof *p) : NULL;
    int err = full == 0 ? mapio__win_last() : p == NULL ? MAPIO_ENOMEM : 0;
    if (err == 0) {
        bool unc = false;
        wchar_t *body = p + 4;
        if (GetFullPathNameW(w, full, body, NULL) == 0) {
            err = mapio__win_last();
        } else if (wcsncmp(body, L"\\\\", 2) == 0) {
            /* \\server\share\x -> \\?\UNC\server\share\x */
            unc = true;
            memmove(p + 8, body + 2, (wcslen(body + 2) + 1) * sizeof *p);
            memcpy(p, L"\\\\?\\UNC\\", 8 * sizeof *p);
        }
        if (err == 0 && !unc)
            memcpy(p, L"\\\\?\\", 4 * sizeof *p);
    }
    mapio__free(w);
    if (err != 0) {
        mapio__free(p);
        return err;
    }
    *out = p;
    return 0;
}

/* ---- overlapped calls, waited for --------------------------------------------- */

/*
 * One manual-reset event per thread, made on first use and closed when the
 * thread exits (fiber-local storage calls close_event then), so a blocking
 * call costs no CreateEvent. ReadFile/WriteFile reset it when they start.
 */
static DWORD fls_index = FLS_OUT_OF_INDEXES;
static INIT_ONCE fls_once = INIT_ONCE_STATIC_INIT;

static void WINAPI close_event(void *p)
{
    if (p != NULL)
        CloseHandle(p);
}

static BOOL CALLBACK fls_setup(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    (void)once;
    (void)param;
    (void)ctx;
    fls_index = FlsAlloc(close_event);
    return TRUE;
}

/* Unloading the DLL must not leave a callback behind for threads still to exit. */
__attribute__((destructor)) static void fls_teardown(void)
{
    if (fls_index != FLS_OUT_OF_INDEXES)
        FlsFree(fls_index);
}

static HANDLE thread_event(void)
{
    InitOnceExecuteOnce(&fls_once, fls_setup, NULL, NULL);
    if (fls_index == FLS_OUT_OF_INDEXES)
        return NULL;
    HANDLE e = FlsGetValue(fls_index);
    if (e == NULL) {
        e = CreateEventW(NULL, TRUE, FALSE, NULL);
        if (e != NULL && !FlsSetValue(fls_index, e)) {
            CloseHandle(e);
            e = NULL;
        }
    }
    return e;
}

void mapio__win_ov_init(OVERLAPPED *ov, uint64_t off)
{
    memset(ov, 0, sizeof *ov);
    ov->Offset = (DWORD)off;
    ov->OffsetHigh = (DWORD)(off >> 32);
    HANDLE e = thread_event();
    /* The low bit keeps the completion away from the handle's port. Without
     * an event (none could be made) the call waits on the handle itself,
     * which is only right while nothing else is in flight: rare enough. */
    ov->hEvent = e != NULL ? (HANDLE)((uintptr_t)e | 1) : NULL;
}

int64_t mapio__win_ov_finish(HANDLE h, OVERLAPPED *ov, BOOL ok, DWORD err)
{
    if (!ok && err != ERROR_IO_PENDING)
        return err == ERROR_HANDLE_EOF ? 0 : mapio__win_err(err);
    DWORD n = 0;
    if (!GetOverlappedResult(h, ov, &n, TRUE)) {
        DWORD e = GetLastError();
        return e == ERROR_HANDLE_EOF ? 0 : mapio__win_err(e);
    }
    return (int64_t)n;
}

static int64_t win_pread(mapio_fd_t fd, void *buf, size_t len, uint64_t off)
{
    OVERLAPPED ov;
    mapio__win_ov_init(&ov, off);
    BOOL ok = ReadFile(fd, buf, (DWORD)MAPIO__MIN(len, MAPIO__IO_CHUNK), NULL, &ov);
    return mapio__win_ov_finish(fd, &ov, ok, ok ? 0 : GetLastError());
}

static int64_t win_pwrite(mapio_fd_t fd, const void *buf, size_t len, uint64_t off)
{
    OVERLAPPED ov;
    mapio__win_ov_init(&ov, off);
    BOOL ok = WriteFile(fd, buf, (DWORD)MAPIO__MIN(len, MAPIO__IO_CHUNK), NULL, &ov);
    return mapio__win_ov_finish(fd, &ov, ok, ok ? 0 : GetLastError());
}

/* No positional vectored call on Windows for ordinary buffers (the scatter/
 * gather calls want page-sized unbuffered pages): one call per buffer, with
 * preadv's result - a short count ends it, an error after progress is the
 * progress. */
static int64_t rw_vec(mapio_fd_t fd, const mapio_iovec_t *iov, unsigned n, uint64_t off, bool write)
{
    int64_t total = 0;
    for (unsigned i = 0; i < n; i++) {
        if (iov[i].iov_len == 0)
            continue;
        int64_t r = write ? win_pwrite(fd, iov[i].iov_base, iov[i].iov_len, off)
                          : win_pread(fd, iov[i].iov_base, iov[i].iov_len, off);
        if (r < 0)
            return total > 0 ? total : r;
        total += r;
        off += (uint64_t)r;
        if ((size_t)r < iov[i].iov_len)
            break;
    }
    return total;
}

static int64_t win_preadv(mapio_fd_t fd, const mapio_iovec_t *iov, unsigned n, uint64_t off)
{
    return rw_vec(fd, iov, n, off, false);
}

static int64_t win_pwritev(mapio_fd_t fd, const mapio_iovec_t *iov, unsigned n, uint64_t off)
{
    return rw_vec(fd, iov, n, off, true);
}

/* Windows cannot say whether a read would wait for the device. */
static int64_t win_preadv_nowait(mapio_fd_t fd, const mapio_iovec_t *iov, unsigned n, uint64_t off)
{
    (void)fd;
    (void)iov;
    (void)n;
    (void)off;
    return MAPIO_ENOTSUP;
}

/* ---- open, close, size ------------------------------------------------------------ */

static int win_open(const char *path, unsigned flags, mapio_fd_t *out)
{
    wchar_t *w;
    int err = mapio__win_path(path, &w);
    if (err != 0)
        return err;
    bool ro = (flags & MAPIO_OPEN_READ_ONLY) != 0;
    DWORD access = GENERIC_READ | (ro ? 0 : GENERIC_WRITE);
    DWORD disp = OPEN_EXISTING;
    if (!ro && (flags & MAPIO_OPEN_CREATE_NEW))
        disp = CREATE_NEW;
    else if (!ro && !(flags & MAPIO_OPEN_NO_CREATE))
        disp = OPEN_ALWAYS;
    DWORD attrs = FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED;
    if (flags & MAPIO_OPEN_DIRECT)
        attrs |= FILE_FLAG_NO_BUFFERING;
    if (flags & MAPIO_OPEN_DSYNC)
        attrs |= FILE_FLAG_WRITE_THROUGH;
    /* Share everything, as POSIX does: a second handle (MMapIO's mapping, a
     * reader elsewhere) and renames/deletes of the open file all work. */
    HANDLE h = CreateFileW(w, access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                           disp, attrs, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD code = GetLastError();
        DWORD a = GetFileAttributesW(w);
        /* A directory opens only with FILE_FLAG_BACKUP_SEMANTICS: say what it is. */
        err = code == ERROR_ACCESS_DENIED && a != INVALID_FILE_ATTRIBUTES &&
                      (a & FILE_ATTRIBUTE_DIRECTORY)
                  ? MAPIO_EISDIR
                  : mapio__win_err(code);
        mapio__free(w);
        return err;
    }
    mapio__free(w);
    *out = h;
    return 0;
}

static int win_close(mapio_fd_t fd)
{
    return CloseHandle(fd) ? 0 : mapio__win_last();
}

static int win_flush(mapio_fd_t fd)
{
    if (FlushFileBuffers(fd))
        return 0;
    DWORD code = GetLastError();
    if (code != ERROR_ACCESS_DENIED)
        return mapio__win_err(code);
    /* FlushFileBuffers needs write access, which fsync(2) does not: flush
     * through a second, writable handle on the same file. */
    HANDLE w =
        ReOpenFile(fd, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, 0);
    if (w == INVALID_HANDLE_VALUE)
        return mapio__win_err(code);
    int err = FlushFileBuffers(w) ? 0 : mapio__win_last();
    CloseHandle(w);
    return err;
}

/* Windows has one flush: it writes data and metadata alike. */
static int win_fdatasync(mapio_fd_t fd)
{
    return win_flush(fd);
}

static int win_fsync(mapio_fd_t fd)
{
    return win_flush(fd);
}

static int win_size(mapio_fd_t fd, uint64_t *out)
{
    LARGE_INTEGER sz;
    if (GetFileSizeEx(fd, &sz)) {
        *out = (uint64_t)sz.QuadPart;
        return 0;
    }
    int err = mapio__win_last();
    /* A disk or volume handle: its length comes from the device. */
    GET_LENGTH_INFORMATION gl;
    OVERLAPPED ov;
    mapio__win_ov_init(&ov, 0);
    BOOL ok = DeviceIoControl(fd, IOCTL_DISK_GET_LENGTH_INFO, NULL, 0, &gl, sizeof gl, NULL, &ov);
    if (mapio__win_ov_finish(fd, &ov, ok, ok ? 0 : GetLastError()) < 0)
        return err;
    *out = (uint64_t)gl.Length.QuadPart;
    return 0;
}

static int set_eof(mapio_fd_t fd, uint64_t size)
{
    FILE_END_OF_FILE_INFO eof = { .EndOfFile.QuadPart = (LONGLONG)size };
    return SetFileInformationByHandle(fd, FileEndOfFileInfo, &eof, sizeof eof) ? 0
                                                                               : mapio__win_last();
}

static int win_truncate(mapio_fd_t fd, uint64_t size)
{
    return set_eof(fd, size);
}

static int64_t win_pwritev_dsync(mapio_fd_t fd, const mapio_iovec_t *iov, unsigned n, uint64_t off)
{
    /* No per-call write-through on Windows (FILE_FLAG_WRITE_THROUGH is per
     * handle): write, then flush. */
    int64_t w = win_pwritev(fd, iov, n, off);
    if (w < 0)
        return w;
    int err = win_flush(fd);
    return err != 0 ? err : w;
}

/*
 * fallocate: the allocation size reserves clusters without moving the end of
 * file (KEEP_SIZE); without KEEP_SIZE the end of file moves too. Allocation
 * only ever grows here: setting it below the end of file would truncate. NTFS
 * gives back clusters past the end of file when the last handle closes.
 */
static int win_fallocate(mapio_fd_t fd, uint64_t off, uint64_t len, int keep_size)
{
    uint64_t end = off + len;
    FILE_STANDARD_INFO si;
    if (!GetFileInformationByHandleEx(fd, FileStandardInfo, &si, sizeof si))
        return mapio__win_last();
    if (!keep_size && (uint64_t)si.EndOfFile.QuadPart < end) {
        int err = set_eof(fd, end);
        if (err != 0)
            return err;
    }
    if ((uint64_t)si.AllocationSize.QuadPart >= end)
        return 0;
    FILE_ALLOCATION_INFO ai = { .AllocationSize.QuadPart = (LONGLONG)end };
    if (SetFileInformationByHandle(fd, FileAllocationInfo, &ai, sizeof ai))
        return 0;
    int err = mapio__win_last();
    /* No allocation apart from the size here (Wine has none): without
     * KEEP_SIZE the extended file is all the preallocation there is; with
     * it, the caller learns it is not supported. */
    if (err == MAPIO_EINVAL || err == MAPIO_ENOTSUP || err == MAPIO_ENOSYS)
        return keep_size ? MAPIO_ENOTSUP : 0;
    return err;
}

static int win_dio_align(mapio_fd_t fd, uint32_t *mem, uint32_t *io)
{
    /* Unbuffered I/O wants buffers, offsets and lengths in whole logical
     * sectors. Without FileStorageInfo (older systems, Wine) 4096 is safe on
     * 512-byte and 4Kn disks alike. */
    FILE_STORAGE_INFO st;
    uint32_t bs = 4096;
    if (GetFileInformationByHandleEx(fd, FileStorageInfo, &st, sizeof st) &&
        st.LogicalBytesPerSector >= 512 &&
        (st.LogicalBytesPerSector & (st.LogicalBytesPerSector - 1)) == 0)
        bs = (uint32_t)st.LogicalBytesPerSector;
    *mem = *io = bs;
    return 0;
}

static uint64_t win_now_ns(void)
{
    static LARGE_INTEGER freq; /* constant since boot; a racing first read is harmless */
    LARGE_INTEGER c;
    if (freq.QuadPart == 0)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&c);
    uint64_t f = (uint64_t)freq.QuadPart, t = (uint64_t)c.QuadPart;
    /* Split so that t * 1e9 cannot overflow. */
    return t / f * 1000000000u + t % f * 1000000000u / f;
}

/* One initializer for both tables, so they cannot drift apart. */
#define WIN_OS_TABLE                                                                               \
    {                                                                                              \
        .open = win_open, .close = win_close, .pread = win_pread, .pwrite = win_pwrite,            \
        .preadv = win_preadv, .pwritev = win_pwritev, .fdatasync = win_fdatasync,                  \
        .fsync = win_fsync, .size = win_size, .truncate = win_truncate,                            \
        .pwritev_dsync = win_pwritev_dsync, .fallocate = win_fallocate,                            \
        .dio_align = win_dio_align, .now_ns = win_now_ns, .preadv_nowait = win_preadv_nowait,      \
    }

const struct mapio__os mapio__os_default = WIN_OS_TABLE;
struct mapio__os mapio__os = WIN_OS_TABLE;

const char *mapio__os_getenv(const char *name)
{
    return getenv(name);
}

void mapio__os_block_signals(void)
{
    /* Windows delivers no asynchronous signals to arbitrary threads. */
}

void *mapio_alloc_aligned(size_t size, size_t align)
{
    if (align == 0)
        align = 4096;
    if (size == 0 || (align & (align - 1)) != 0 || align < sizeof(void *))
        return NULL;
    return _aligned_malloc(size, align);
}

void mapio_free_aligned(void *p)
{
    _aligned_free(p);
}
