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
 *
 * Names relative to a directory handle (openat and its kin): Windows has no
 * Win32 call for them, but its native layer has had them all along - every
 * NtCreateFile takes a RootDirectory - and so does the rename
 * (FILE_RENAME_INFORMATION.RootDirectory). So every path call here is one
 * of ntdll's (looked up at run time, mapio__win_proc): the name is resolved
 * against the directory *handle*, which a rename of the directory, or of
 * any parent, cannot change under us - the race openat exists to close.
 * Building "<directory's current name>\<path>" instead
 * (GetFinalPathNameByHandleW) would reopen it: the directory may move
 * between reading its name and using it. Only a relative path that climbs
 * out with ".." is resolved that way, because the native layer knows no
 * "..". Absolute paths and paths relative to the current directory become
 * NT paths as CreateFileW makes them (RtlDosPathNameToNtPathName), so all
 * paths take the same calls, with the same flags and errors.
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
#include <winternl.h>

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
    case 336: /* ERROR_DIRECTORY_NOT_SUPPORTED, missing from older headers */
        return MAPIO_EISDIR;
    case ERROR_DIR_NOT_EMPTY:
        return MAPIO_ENOTEMPTY;
    case ERROR_CURRENT_DIRECTORY: /* rmdir of a process's current directory */
        return MAPIO_EBUSY;
    case ERROR_CANT_ACCESS_FILE:
    case ERROR_FILE_READ_ONLY:
        return MAPIO_EACCES;
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
    case 681: /* ERROR_STOPPED_ON_SYMLINK */
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

/* ---- ntdll --------------------------------------------------------------------- */

/* NTSTATUS values this file tells apart (ntstatus.h clashes with winnt.h). */
#define ST_NOT_IMPLEMENTED ((NTSTATUS)0xC0000002L)
#define ST_INVALID_INFO_CLASS ((NTSTATUS)0xC0000003L)
#define ST_INVALID_PARAMETER ((NTSTATUS)0xC000000DL)
#define ST_OBJECT_NAME_NOT_FOUND ((NTSTATUS)0xC0000034L)
#define ST_OBJECT_PATH_NOT_FOUND ((NTSTATUS)0xC000003AL)
#define ST_FILE_IS_A_DIRECTORY ((NTSTATUS)0xC00000BAL)
#define ST_NOT_SUPPORTED ((NTSTATUS)0xC00000BBL)

/* Information classes the headers of older SDKs lack. */
enum {
    NT_FILE_ACCESS = 8,
    NT_FILE_RENAME = 10,
    NT_FILE_DISPOSITION = 13,
    NT_FILE_MODE = 16,
    NT_FILE_DISPOSITION_EX = 64, /* Windows 10 */
    NT_FILE_RENAME_EX = 65,      /* Windows 10 */
    NT_FS_SIZE = 3,
};

typedef NTSTATUS(NTAPI *nt_create_fn)(HANDLE *h, ACCESS_MASK access, OBJECT_ATTRIBUTES *oa,
                                      IO_STATUS_BLOCK *io, LARGE_INTEGER *alloc, ULONG attrs,
                                      ULONG share, ULONG disp, ULONG options, void *ea,
                                      ULONG ea_len);
typedef NTSTATUS(NTAPI *nt_info_fn)(HANDLE h, IO_STATUS_BLOCK *io, void *info, ULONG len, int cls);
typedef NTSTATUS(NTAPI *nt_attrs_fn)(OBJECT_ATTRIBUTES *oa, FILE_BASIC_INFORMATION *out);
typedef ULONG(NTAPI *nt_to_dos_fn)(NTSTATUS st);
typedef NTSTATUS(NTAPI *nt_dos_path_fn)(const wchar_t *dos, UNICODE_STRING *nt,
                                        const wchar_t **part, void *relative);
typedef void(NTAPI *nt_free_fn)(UNICODE_STRING *s);

/* Every Windows (and Wine) has these; looked up so that no import library
 * for ntdll is needed. */
static struct {
    nt_create_fn create;
    nt_info_fn query, set, volume;
    nt_attrs_fn attrs;
    nt_to_dos_fn to_dos;
    nt_dos_path_fn dos_path;
    nt_free_fn free_str;
    bool ok;
} nt;
static INIT_ONCE nt_once = INIT_ONCE_STATIC_INIT;

static BOOL CALLBACK nt_setup(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    (void)once;
    (void)param;
    (void)ctx;
    const wchar_t *dll = L"ntdll.dll";
    nt.ok = mapio__win_proc(dll, "NtCreateFile", &nt.create) &&
            mapio__win_proc(dll, "NtQueryInformationFile", &nt.query) &&
            mapio__win_proc(dll, "NtSetInformationFile", &nt.set) &&
            mapio__win_proc(dll, "NtQueryVolumeInformationFile", &nt.volume) &&
            mapio__win_proc(dll, "NtQueryAttributesFile", &nt.attrs) &&
            mapio__win_proc(dll, "RtlNtStatusToDosError", &nt.to_dos) &&
            mapio__win_proc(dll, "RtlDosPathNameToNtPathName_U_WithStatus", &nt.dos_path) &&
            mapio__win_proc(dll, "RtlFreeUnicodeString", &nt.free_str);
    return TRUE;
}

static bool nt_ready(void)
{
    InitOnceExecuteOnce(&nt_once, nt_setup, NULL, NULL);
    return nt.ok;
}

/* An NTSTATUS as the library's errno (the Win32 code kept, as always). */
static int nt_err(NTSTATUS st)
{
    int err = mapio__win_err(nt.to_dos(st));
    /* Win32 says "access denied" for it, which hides what open(2) says. */
    return st == ST_FILE_IS_A_DIRECTORY ? MAPIO_EISDIR : err;
}

/* The class is not there (older Windows, another file system, Wine): the
 * caller has an older one to fall back on. */
static bool nt_unsupported(NTSTATUS st)
{
    return st == ST_NOT_IMPLEMENTED || st == ST_INVALID_INFO_CLASS || st == ST_INVALID_PARAMETER ||
           st == ST_NOT_SUPPORTED;
}

long mapio__win_nt_set_file(HANDLE h, void *info, unsigned long len, int cls)
{
    if (!nt_ready())
        return ST_NOT_IMPLEMENTED;
    IO_STATUS_BLOCK io;
    return nt.set(h, &io, info, len, cls);
}

/* ---- paths ------------------------------------------------------------------- */

/* UTF-8 as UTF-16, in *out (mapio__malloc'd). */
static int utf16(const char *utf8, wchar_t **out)
{
    *out = NULL;
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, NULL, 0);
    if (n <= 0)
        return MAPIO_EINVAL;
    wchar_t *w = mapio__malloc((size_t)n * sizeof *w);
    if (w == NULL)
        return MAPIO_ENOMEM;
    MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, w, n);
    *out = w;
    return 0;
}

/* mapio__win_path's second half, on a UTF-16 path it takes over. */
static int long_path(wchar_t *w, wchar_t **out)
{
    size_t n = wcslen(w) + 1;
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

int mapio__win_path(const char *utf8, wchar_t **out)
{
    wchar_t *w;
    int err = utf16(utf8, &w);
    return err != 0 ? err : long_path(w, out);
}

/*
 * A name as the native calls take it: relative to root (a directory
 * handle), or absolute (root NULL: "\??\C:\...", made by ntdll, whose
 * buffer it is). The first `fixed` characters are the volume's root, which
 * the ENOTDIR check never looks at.
 */
struct nt_name {
    HANDLE root;
    UNICODE_STRING str;
    wchar_t *own; /* str.Buffer when ours */
    size_t fixed;
};

static void nt_name_free(struct nt_name *n)
{
    if (n->own != NULL)
        mapio__free(n->own);
    else if (n->str.Buffer != NULL)
        nt.free_str(&n->str);
    n->str.Buffer = n->own = NULL;
}

static bool is_sep(wchar_t c)
{
    return c == L'/' || c == L'\\';
}

/* "C:\x", "\\server\x", "\x" (this drive's root), "C:x" (drive C's
 * current directory): none of them is relative to a directory handle. */
static bool not_relative(const wchar_t *w)
{
    return is_sep(w[0]) || (w[0] != L'\0' && w[1] == L':');
}

/*
 * w relative to root, as a native name: backslashes, no empty or "."
 * parts ("." alone is the directory itself: an empty name). Returns 0, 1
 * if a ".." climbs out (the native layer has no ".."), or an error.
 */
static int relative_name(const wchar_t *w, struct nt_name *out)
{
    size_t n = wcslen(w);
    wchar_t *r = mapio__malloc((n + 1) * sizeof *r);
    if (r == NULL)
        return MAPIO_ENOMEM;
    size_t len = 0;
    for (size_t i = 0; i < n;) {
        size_t end = i;
        while (end < n && !is_sep(w[end]))
            end++;
        size_t part = end - i;
        if (part == 2 && w[i] == L'.' && w[i + 1] == L'.') {
            mapio__free(r);
            return 1;
        }
        if (part > 0 && !(part == 1 && w[i] == L'.')) {
            if (len > 0)
                r[len++] = L'\\';
            memcpy(r + len, w + i, part * sizeof *r);
            len += part;
        }
        i = end + 1;
    }
    if (len * sizeof *r > 0xfffe) {
        mapio__free(r);
        return MAPIO_ENAMETOOLONG;
    }
    out->own = out->str.Buffer = r;
    out->str.Length = out->str.MaximumLength = (USHORT)(len * sizeof *r);
    return 0;
}

/* "<the directory's current name>\<rel>", as a Win32 path. */
static int dir_join(HANDLE dir, const wchar_t *rel, wchar_t **out)
{
    *out = NULL;
    DWORD n = GetFinalPathNameByHandleW(dir, NULL, 0, FILE_NAME_NORMALIZED | VOLUME_NAME_DOS);
    size_t rlen = wcslen(rel);
    wchar_t *p = n != 0 ? mapio__malloc(((size_t)n + rlen + 2) * sizeof *p) : NULL;
    DWORD got = p != NULL
                    ? GetFinalPathNameByHandleW(dir, p, n, FILE_NAME_NORMALIZED | VOLUME_NAME_DOS)
                    : 0;
    if (got == 0 || got >= n) {
        /* got >= n: renamed to a longer name meanwhile; the engine retries. */
        int err = n != 0 && p == NULL ? MAPIO_ENOMEM : got != 0 ? MAPIO_EAGAIN : mapio__win_last();
        mapio__free(p);
        return err != 0 ? err : MAPIO_EIO;
    }
    /* "\\?\C:\d" or "\\?\UNC\srv\share\d": drop the prefix, which would
     * stop the ".." from being resolved. */
    size_t skip = 0;
    if (wcsncmp(p, L"\\\\?\\UNC\\", 8) == 0) {
        skip = 6;
        p[6] = L'\\';
    } else if (wcsncmp(p, L"\\\\?\\", 4) == 0) {
        skip = 4;
    }
    memmove(p, p + skip, ((size_t)got - skip) * sizeof *p);
    size_t len = (size_t)got - skip;
    p[len++] = L'\\';
    memcpy(p + len, rel, (rlen + 1) * sizeof *p);
    *out = p;
    return 0;
}

/* Where an absolute native name's volume root ends ("\??\C:",
 * "\??\UNC\srv\share"). */
static size_t volume_root(const UNICODE_STRING *s)
{
    size_t n = s->Length / sizeof(wchar_t), i = 0, parts = 1;
    const wchar_t *b = s->Buffer;
    if (n < 4 || wcsncmp(b, L"\\??\\", 4) != 0)
        return n;
    i = 4;
    if (n >= 8 && _wcsnicmp(b + 4, L"UNC\\", 4) == 0) {
        i = 8;
        parts = 2;
    }
    for (; parts > 0; parts--) {
        while (i < n && b[i] != L'\\')
            i++;
        if (parts > 1 && i < n)
            i++;
    }
    return i;
}

/* path (UTF-8) relative to dir (MAPIO_INVALID_FD: the current directory). */
static int nt_name_of(mapio_fd_t dir, const char *path, struct nt_name *out)
{
    memset(out, 0, sizeof *out);
    if (!nt_ready())
        return MAPIO_ENOSYS;
    wchar_t *w;
    int err = utf16(path, &w);
    if (err != 0)
        return err;
    if (dir != MAPIO_INVALID_FD && !not_relative(w)) {
        err = relative_name(w, out);
        if (err == 0)
            out->root = dir;
        if (err != 1) {
            mapio__free(w);
            return err;
        }
        wchar_t *joined;
        err = dir_join(dir, w, &joined);
        mapio__free(w);
        if (err != 0)
            return err;
        w = joined;
    }
    wchar_t *full;
    if ((err = long_path(w, &full)) != 0)
        return err;
    NTSTATUS st = nt.dos_path(full, &out->str, NULL, NULL);
    mapio__free(full);
    if (!NT_SUCCESS(st)) {
        out->str.Buffer = NULL;
        return nt_err(st);
    }
    out->fixed = volume_root(&out->str);
    return 0;
}

static void nt_attrs_of(OBJECT_ATTRIBUTES *oa, struct nt_name *n)
{
    InitializeObjectAttributes(oa, &n->str, OBJ_CASE_INSENSITIVE, n->root, NULL);
}

/*
 * A part of the path was missing - or was a file, which Windows reports the
 * same way: say ENOTDIR for the second, as POSIX does. The longest leading
 * part that exists decides (looked at only on this error path).
 */
static int missing_part(struct nt_name *n)
{
    int err = MAPIO_ENOENT;
    UNICODE_STRING whole = n->str;
    for (size_t i = whole.Length / sizeof(wchar_t); i-- > n->fixed + 1;) {
        if (whole.Buffer[i] != L'\\')
            continue;
        n->str.Length = n->str.MaximumLength = (USHORT)(i * sizeof(wchar_t));
        OBJECT_ATTRIBUTES oa;
        nt_attrs_of(&oa, n);
        FILE_BASIC_INFORMATION bi;
        NTSTATUS st = nt.attrs(&oa, &bi);
        if (st == ST_OBJECT_NAME_NOT_FOUND || st == ST_OBJECT_PATH_NOT_FOUND)
            continue;
        if (NT_SUCCESS(st) && !(bi.FileAttributes & FILE_ATTRIBUTE_DIRECTORY))
            err = MAPIO_ENOTDIR;
        break;
    }
    n->str = whole;
    return err;
}

static int nt_path_err(struct nt_name *n, NTSTATUS st)
{
    int err = nt_err(st);
    return st == ST_OBJECT_PATH_NOT_FOUND ? missing_part(n) : err;
}

static const ULONG share_all = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;

/* NtCreateFile of a resolved name. Never FILE_SYNCHRONOUS_IO_*: the handle
 * is overlapped, as CreateFileW's with FILE_FLAG_OVERLAPPED. Sharing is
 * everything, as on POSIX: a second handle (MMapIO's mapping, a reader
 * elsewhere) and renames and deletes of the open file all work. */
static int nt_open_name(struct nt_name *n, ACCESS_MASK access, ULONG disp, ULONG options,
                        HANDLE *out)
{
    OBJECT_ATTRIBUTES oa;
    nt_attrs_of(&oa, n);
    IO_STATUS_BLOCK io;
    NTSTATUS st = nt.create(out, access | SYNCHRONIZE | FILE_READ_ATTRIBUTES, &oa, &io, NULL,
                            FILE_ATTRIBUTE_NORMAL, share_all, disp, options, NULL, 0);
    return NT_SUCCESS(st) ? 0 : nt_path_err(n, st);
}

static int nt_open_at(mapio_fd_t dir, const char *path, ACCESS_MASK access, ULONG disp,
                      ULONG options, HANDLE *out)
{
    struct nt_name n;
    int err = nt_name_of(dir, path, &n);
    if (err == 0)
        err = nt_open_name(&n, access, disp, options, out);
    nt_name_free(&n);
    return err;
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

static int win_open(mapio_fd_t dir, const char *path, unsigned flags, mapio_fd_t *out)
{
    bool is_dir = (flags & MAPIO_OPEN_DIRECTORY) != 0;
    bool ro = is_dir || (flags & MAPIO_OPEN_READ_ONLY);
    ULONG disp = FILE_OPEN;
    if (!ro && (flags & MAPIO_OPEN_CREATE_NEW))
        disp = FILE_CREATE;
    else if (!ro && !(flags & MAPIO_OPEN_NO_CREATE))
        disp = FILE_OPEN_IF;
    /* The kind asked for, checked by the open itself: a directory where a
     * file was asked for is EISDIR, a file where a directory was ENOTDIR. */
    ULONG options = is_dir ? FILE_DIRECTORY_FILE : FILE_NON_DIRECTORY_FILE;
    if (flags & MAPIO_OPEN_DIRECT)
        options |= FILE_NO_INTERMEDIATE_BUFFERING;
    if (flags & MAPIO_OPEN_DSYNC)
        options |= FILE_WRITE_THROUGH;
    return nt_open_at(dir, path, GENERIC_READ | (ro ? 0 : GENERIC_WRITE), disp, options, out);
}

static int win_close(mapio_fd_t fd)
{
    return CloseHandle(fd) ? 0 : mapio__win_last();
}

static bool is_directory(HANDLE h)
{
    FILE_ATTRIBUTE_TAG_INFO ti;
    return GetFileInformationByHandleEx(h, FileAttributeTagInfo, &ti, sizeof ti) &&
           (ti.FileAttributes & FILE_ATTRIBUTE_DIRECTORY);
}

/* What a directory flush may say where the file system has none to give
 * (or gives it only to administrators). */
static bool dir_flush_refused(DWORD code)
{
    return code == ERROR_ACCESS_DENIED || code == ERROR_INVALID_FUNCTION ||
           code == ERROR_NOT_SUPPORTED || code == ERROR_INVALID_PARAMETER;
}

/*
 * FlushFileBuffers needs write access, which fsync(2) does not: a handle
 * without it is flushed through a second, writable one on the same file.
 *
 * A directory (mapio_sync_dir, or a sync of a MAPIO_OPEN_DIRECTORY handle)
 * is flushed the same way where the file system allows it: NTFS writes the
 * directory's metadata for a writable directory handle, which it may give
 * only to an elevated process. Where it refuses, or has no such flush (FAT,
 * network shares), there is nothing more to do, and that is no error: NTFS
 * journals its metadata, so a created or renamed name is not torn, and the
 * flush of the file itself commits the journal up to its own changes.
 * Real failures (ERROR_IO_DEVICE, ...) are reported as for files.
 */
static int win_flush(mapio_fd_t fd)
{
    if (FlushFileBuffers(fd))
        return 0;
    DWORD code = GetLastError();
    bool dir = is_directory(fd);
    if (code != ERROR_ACCESS_DENIED)
        return dir && dir_flush_refused(code) ? 0 : mapio__win_err(code);
    HANDLE w = ReOpenFile(fd, GENERIC_WRITE, share_all,
                          FILE_FLAG_OVERLAPPED | (dir ? FILE_FLAG_BACKUP_SEMANTICS : 0));
    if (w == INVALID_HANDLE_VALUE) {
        DWORD again = GetLastError();
        return dir && dir_flush_refused(again) ? 0 : mapio__win_err(code);
    }
    int err = 0;
    if (!FlushFileBuffers(w)) {
        code = GetLastError();
        err = dir && dir_flush_refused(code) ? 0 : mapio__win_err(code);
    }
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

/* ---- metadata -------------------------------------------------------------------- */

/* 100 ns ticks since 1601 as ns since 1970. */
static int64_t ticks_ns(LARGE_INTEGER t)
{
    return (t.QuadPart - 116444736000000000LL) * 100;
}

static int win_stat(mapio_fd_t fd, mapio_stat_t *out)
{
    BY_HANDLE_FILE_INFORMATION fi;
    FILE_BASIC_INFO bi;
    FILE_STANDARD_INFO si;
    if (!GetFileInformationByHandle(fd, &fi) ||
        !GetFileInformationByHandleEx(fd, FileBasicInfo, &bi, sizeof bi) ||
        !GetFileInformationByHandleEx(fd, FileStandardInfo, &si, sizeof si))
        return mapio__win_last();
    /* The preferred I/O size is the cluster, as st_blksize is the block. */
    struct {
        LARGE_INTEGER total, avail;
        ULONG sectors_per_cluster, bytes_per_sector;
    } fs;
    IO_STATUS_BLOCK io;
    uint64_t cluster = 0;
    if (nt_ready() && NT_SUCCESS(nt.volume(fd, &io, &fs, sizeof fs, NT_FS_SIZE)))
        cluster = (uint64_t)fs.sectors_per_cluster * fs.bytes_per_sector;
    /* POSIX bits as Windows can tell them (mapio_path_info's): the type,
     * and whether the read-only attribute forbids writing. */
    uint32_t mode;
    if (fi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
        mode = 0040000u | 0755;
    else
        mode = 0100000u | ((fi.dwFileAttributes & FILE_ATTRIBUTE_READONLY) ? 0444 : 0644);
    *out = (mapio_stat_t){
        .size = (uint64_t)si.EndOfFile.QuadPart,
        .allocated = (uint64_t)si.AllocationSize.QuadPart,
        .dev = fi.dwVolumeSerialNumber,
        .ino = ((uint64_t)fi.nFileIndexHigh << 32) | fi.nFileIndexLow,
        .nlink = fi.nNumberOfLinks,
        .mode = mode,
        .blksize = cluster >= 512 && cluster <= UINT32_MAX ? (uint32_t)cluster : 4096,
        .mtime_ns = ticks_ns(bi.LastWriteTime),
        .ctime_ns = ticks_ns(bi.ChangeTime),
    };
    return 0;
}

/*
 * An adopted HANDLE: what it was opened with, from the file object (its
 * granted access, its mode) - and only an overlapped one will do. A
 * synchronous handle (no FILE_FLAG_OVERLAPPED) serializes every call on it
 * in the kernel and can never complete through a port: MAPIO_EBADF, as the
 * contract says.
 */
static int win_fd_flags(mapio_fd_t fd, unsigned *flags)
{
    if (!nt_ready())
        return MAPIO_ENOSYS;
    IO_STATUS_BLOCK io;
    ULONG mode = 0;
    ACCESS_MASK access = 0;
    NTSTATUS st = nt.query(fd, &io, &mode, sizeof mode, NT_FILE_MODE);
    if (NT_SUCCESS(st))
        st = nt.query(fd, &io, &access, sizeof access, NT_FILE_ACCESS);
    if (!NT_SUCCESS(st))
        return nt_err(st); /* not a handle, or not a file's: MAPIO_EBADF */
    if (mode & (FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT))
        return MAPIO_EBADF;
    unsigned f = 0;
    if (!(access & FILE_WRITE_DATA))
        f |= MAPIO_OPEN_READ_ONLY;
    if (is_directory(fd)) {
        f |= MAPIO_OPEN_DIRECTORY;
    } else {
        if (mode & FILE_NO_INTERMEDIATE_BUFFERING)
            f |= MAPIO_OPEN_DIRECT;
        if (mode & FILE_WRITE_THROUGH)
            f |= MAPIO_OPEN_DSYNC;
    }
    *flags = f;
    return 0;
}

/* ---- names: rename, unlink, mkdir -------------------------------------------------- */

/* FILE_RENAME_INFORMATION, either form (the Ex one has flags where the
 * other has its BOOLEAN). */
struct rename_info {
    union {
        BOOLEAN replace;
        ULONG flags;
    } how;
    HANDLE root;
    ULONG name_len;
    WCHAR name[];
};

#define RENAME_REPLACE_IF_EXISTS 0x1u
#define RENAME_POSIX_SEMANTICS 0x2u
#define RENAME_IGNORE_READONLY 0x40u
#define DISPOSITION_DELETE 0x1u
#define DISPOSITION_POSIX_SEMANTICS 0x2u
#define DISPOSITION_IGNORE_READONLY 0x10u

/*
 * The source is opened (not followed, if a link) and renamed through its
 * handle, to a name relative to newdir's handle: no path is looked up twice.
 * POSIX semantics first (Windows 10 1809, NTFS): a target another handle
 * holds open, or marked read-only, is replaced all the same, as rename(2)
 * does. Without them (older systems, FAT, Wine) such a target makes it
 * fail (MAPIO_EACCES). There is no atomic exchange of two names on
 * Windows, and no emulation is atomic: MAPIO_RENAME_EXCHANGE is
 * MAPIO_ENOTSUP, before any call.
 */
static int win_rename(mapio_fd_t olddir, const char *oldpath, mapio_fd_t newdir,
                      const char *newpath, unsigned flags)
{
    if (flags & MAPIO_RENAME_EXCHANGE)
        return MAPIO_ENOTSUP;
    bool replace = !(flags & MAPIO_RENAME_NOREPLACE);
    HANDLE h;
    int err = nt_open_at(olddir, oldpath, DELETE, FILE_OPEN, FILE_OPEN_REPARSE_POINT, &h);
    if (err != 0)
        return err;
    struct nt_name to;
    struct rename_info *ri = NULL;
    if ((err = nt_name_of(newdir, newpath, &to)) == 0 &&
        (ri = mapio__calloc(1, sizeof *ri + to.str.Length)) == NULL)
        err = MAPIO_ENOMEM;
    if (err == 0) {
        ri->root = to.root;
        ri->name_len = to.str.Length;
        memcpy(ri->name, to.str.Buffer, to.str.Length);
        ULONG len = (ULONG)(sizeof *ri + to.str.Length);
        IO_STATUS_BLOCK io;
        ri->how.flags = RENAME_POSIX_SEMANTICS | RENAME_IGNORE_READONLY |
                        (replace ? RENAME_REPLACE_IF_EXISTS : 0);
        NTSTATUS st = nt.set(h, &io, ri, len, NT_FILE_RENAME_EX);
        if (nt_unsupported(st)) {
            ri->how.flags = 0;
            ri->how.replace = replace;
            st = nt.set(h, &io, ri, len, NT_FILE_RENAME);
        }
        if (!NT_SUCCESS(st))
            err = nt_path_err(&to, st);
    }
    mapio__free(ri);
    nt_name_free(&to);
    CloseHandle(h);
    return err;
}

/*
 * Open the name for deletion (a link itself, never its target) and mark
 * it. The open checks the kind: a directory without MAPIO_UNLINK_DIR is
 * EISDIR, a file with it ENOTDIR. POSIX semantics first, so that the name
 * goes now even while another handle keeps the file open, and a read-only
 * file goes as unlink(2) lets it (Windows 10 1809, NTFS); without them
 * (older systems, FAT, Wine) the name stays until that last handle is
 * closed, as Windows always did, and a read-only file stays (MAPIO_EACCES).
 */
static int win_unlink(mapio_fd_t dir, const char *path, unsigned flags)
{
    ULONG kind = (flags & MAPIO_UNLINK_DIR) ? FILE_DIRECTORY_FILE : FILE_NON_DIRECTORY_FILE;
    HANDLE h;
    int err = nt_open_at(dir, path, DELETE, FILE_OPEN, kind | FILE_OPEN_REPARSE_POINT, &h);
    if (err != 0)
        return err;
    IO_STATUS_BLOCK io;
    ULONG ex = DISPOSITION_DELETE | DISPOSITION_POSIX_SEMANTICS | DISPOSITION_IGNORE_READONLY;
    NTSTATUS st = nt.set(h, &io, &ex, sizeof ex, NT_FILE_DISPOSITION_EX);
    if (nt_unsupported(st)) {
        BOOLEAN del = TRUE;
        st = nt.set(h, &io, &del, sizeof del, NT_FILE_DISPOSITION);
    }
    CloseHandle(h);
    return NT_SUCCESS(st) ? 0 : nt_err(st); /* a directory not empty: MAPIO_ENOTEMPTY */
}

/* Windows keeps no permission bits for a directory (its ACL is inherited
 * from its parent): mode is not used. */
static int win_mkdir(mapio_fd_t dir, const char *path, unsigned mode)
{
    (void)mode;
    HANDLE h;
    int err = nt_open_at(dir, path, FILE_LIST_DIRECTORY, FILE_CREATE, FILE_DIRECTORY_FILE, &h);
    if (err == 0)
        CloseHandle(h);
    return err;
}

/* No write-behind on Windows (the cache manager decides when dirty pages
 * go): starting it does nothing; waiting for it is a data sync, which is
 * more than was asked but never less. */
static int win_sync_range(mapio_fd_t fd, uint64_t off, uint64_t len, unsigned flags)
{
    (void)off;
    (void)len;
    if (flags & (MAPIO_SYNC_RANGE_WAIT_BEFORE | MAPIO_SYNC_RANGE_WAIT_AFTER))
        return win_flush(fd);
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
        .dio_align = win_dio_align, .now_ns = win_now_ns, .stat = win_stat,                        \
        .fd_flags = win_fd_flags, .rename = win_rename, .unlink = win_unlink, .mkdir = win_mkdir,  \
        .sync_range = win_sync_range, .preadv_nowait = win_preadv_nowait,                          \
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
