/*
 * mmap/map/map_win.c - the Windows half of mapped files.
 *
 * A map is a view (MapViewOfFile) of a section (CreateFileMapping) sized to
 * exactly the end of the view, so that shrinking the file later is not
 * refused for a section reaching past the new end. The section handle is
 * closed at once: the view keeps it alive. Views start at multiples of the
 * allocation granularity (64 KiB), which is why mapio_page_size() is that
 * granularity here. Anonymous maps are VirtualAlloc'd memory.
 *
 * flush = FlushViewOfFile (dirty pages to the file) + FlushFileBuffers (the
 * file to the disk); the async flush is the first half. Freeze is
 * VirtualProtect. Locks are LockFileEx on one byte far past any real data,
 * so they behave like flock: advisory, and never in the way of reads and
 * writes through other handles (a Windows lock on the data itself would be
 * mandatory).
 */
#include <stdbool.h>
#include <string.h>
#include <wchar.h>

#include "map_os.h"
#include "engine/os_win.h"

#include <winioctl.h>

/* The lock byte: the largest offset a file can have (2^63 - 2). */
#define LOCK_OFFSET_HIGH 0x7fffffffu
#define LOCK_OFFSET_LOW 0xfffffffeu

/* Windows' POSIX-compatible mode bits, for mapio_path_info. */
#define MODE_DIR 0040000u
#define MODE_REG 0100000u
#define MODE_LNK 0120000u

/* Views of file sections need their file; the engine needs the same to see
 * a mapped file's dirty pages before FlushFileBuffers. */
const bool mapio__mapos_view_flush_before_sync = true;

static const DWORD share_all = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;

static int open_w(const char *path, DWORD access, DWORD disp, DWORD attrs, HANDLE *out)
{
    wchar_t *w;
    int err = mapio__win_path(path, &w);
    if (err != 0)
        return err;
    HANDLE h = CreateFileW(w, access, share_all, NULL, disp, attrs, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD code = GetLastError();
        DWORD a = GetFileAttributesW(w);
        err = code == ERROR_ACCESS_DENIED && a != INVALID_FILE_ATTRIBUTES &&
                      (a & FILE_ATTRIBUTE_DIRECTORY) && !(attrs & FILE_FLAG_BACKUP_SEMANTICS)
                  ? MAPIO_EISDIR
                  : mapio__win_err(code);
    }
    mapio__free(w);
    *out = h;
    return err;
}

int mapio__mapos_open(const char *path, mapio_map_open_t policy, bool writable, unsigned mode,
                      mapio_fd_t *fd)
{
    DWORD disp = OPEN_EXISTING;
    switch (policy) {
    case MAPIO_MAP_OPEN_EXISTING:
        break;
    case MAPIO_MAP_OPEN_OR_CREATE:
        disp = OPEN_ALWAYS;
        break;
    case MAPIO_MAP_CREATE_NEW:
        disp = CREATE_NEW;
        break;
    case MAPIO_MAP_TRUNCATE:
        disp = CREATE_ALWAYS;
        break;
    }
    /* The only permission bit Windows keeps is "read-only". */
    DWORD attrs = FILE_ATTRIBUTE_NORMAL;
    if (mode != 0 && !(mode & 0200))
        attrs = FILE_ATTRIBUTE_READONLY;
    DWORD access = GENERIC_READ | (writable ? GENERIC_WRITE : 0);
    /* Execute access lets the file be mapped executable (MAPIO_MAP_EXEC);
     * delete access lets close finish a removal the mapping held up (see
     * mapio__mapos_remove). Where they are refused the map works without. */
    int err = open_w(path, access | FILE_EXECUTE | DELETE, disp, attrs, fd);
    if (err == MAPIO_EACCES)
        err = open_w(path, access, disp, attrs, fd);
    return err;
}

/* The hidden name a removal gives a file it could not delete at once. */
static const wchar_t removed_prefix[] = L".mapio-removed-";

/* Was the file open as h renamed aside by mapio__mapos_remove? */
static bool removed_aside(HANDLE h)
{
    union {
        FILE_NAME_INFO info;
        unsigned char bytes[sizeof(FILE_NAME_INFO) + 1024 * sizeof(wchar_t)];
    } u;
    if (!GetFileInformationByHandleEx(h, FileNameInfo, &u, sizeof u))
        return false;
    size_t n = u.info.FileNameLength / sizeof(wchar_t), start = n;
    while (start > 0 && u.info.FileName[start - 1] != L'\\' && u.info.FileName[start - 1] != L'/')
        start--;
    size_t plen = MAPIO__ARRAY_SIZE(removed_prefix) - 1;
    return n - start >= plen && memcmp(u.info.FileName + start, removed_prefix, plen * 2) == 0;
}

int mapio__mapos_close(mapio_fd_t fd)
{
    /* A removal that the file's own view held up: the view is gone by now
     * (maps unmap before they close), so the file can go with this handle. */
    if (removed_aside(fd)) {
        FILE_DISPOSITION_INFO di = { .DeleteFile = TRUE };
        SetFileInformationByHandle(fd, FileDispositionInfo, &di, sizeof di);
    }
    return CloseHandle(fd) ? 0 : mapio__win_last();
}

int mapio__mapos_size(mapio_fd_t fd, uint64_t *size)
{
    LARGE_INTEGER sz;
    if (GetFileSizeEx(fd, &sz)) {
        *size = (uint64_t)sz.QuadPart;
        return 0;
    }
    int err = mapio__win_last();
    GET_LENGTH_INFORMATION gl; /* a disk or volume */
    DWORD n;
    if (!DeviceIoControl(fd, IOCTL_DISK_GET_LENGTH_INFO, NULL, 0, &gl, sizeof gl, &n, NULL))
        return err;
    *size = (uint64_t)gl.Length.QuadPart;
    return 0;
}

int mapio__mapos_truncate(mapio_fd_t fd, uint64_t size)
{
    /* Already that size: nothing to ask, and a file with a view cannot be
     * "truncated" even to its own size on some systems (Wine). */
    LARGE_INTEGER cur;
    if (GetFileSizeEx(fd, &cur) && (uint64_t)cur.QuadPart == size)
        return 0;
    FILE_END_OF_FILE_INFO eof = { .EndOfFile.QuadPart = (LONGLONG)size };
    if (SetFileInformationByHandle(fd, FileEndOfFileInfo, &eof, sizeof eof))
        return 0;
    DWORD code = GetLastError();
    /* A size the file system cannot hold is EFBIG, as ftruncate says it. */
    if (code == ERROR_DISK_FULL && size > ((uint64_t)1 << 44))
        code = ERROR_FILE_TOO_LARGE;
    return mapio__win_err(code);
}

bool mapio__mapos_reserve_by_writing;
bool mapio__mapos_reserve_unchecked;

/*
 * Nothing to do: NTFS, ReFS and FAT allocate the clusters of a file that is
 * not sparse when its end of file is set (mapio__mapos_truncate), and fail
 * that with ERROR_DISK_FULL (MAPIO_ENOSPC) when the volume is full; the
 * bytes between the valid data length and the end read as zeros without
 * being written. Only a sparse file (FSCTL_SET_SPARSE, which mapio never
 * sets) keeps holes that a store through a view can find unbacked.
 */
int mapio__mapos_reserve(mapio_fd_t fd, uint64_t off, uint64_t len, uint64_t fresh)
{
    return 0;
}

int mapio__mapos_fsync(mapio_fd_t fd)
{
    return FlushFileBuffers(fd) ? 0 : mapio__win_last();
}

int mapio__mapos_identity(mapio_fd_t fd, uint64_t *dev, uint64_t *ino)
{
    BY_HANDLE_FILE_INFORMATION fi;
    if (!GetFileInformationByHandle(fd, &fi))
        return mapio__win_last();
    *dev = fi.dwVolumeSerialNumber;
    *ino = ((uint64_t)fi.nFileIndexHigh << 32) | fi.nFileIndexLow;
    return 0;
}

static DWORD page_prot(mapio_map_kind_t kind, bool frozen, bool anon)
{
    if (anon)
        return frozen ? PAGE_READONLY : PAGE_READWRITE;
    switch (kind) {
    case MAPIO_MAP_READ_ONLY:
        return PAGE_READONLY;
    case MAPIO_MAP_EXEC:
        return PAGE_EXECUTE_READ;
    case MAPIO_MAP_COPY_ON_WRITE:
        return frozen ? PAGE_READONLY : PAGE_WRITECOPY;
    default:
        return frozen ? PAGE_READONLY : PAGE_READWRITE;
    }
}

/* PrefetchVirtualMemory (Windows 8) is looked up, not linked: older systems
 * and Wine builds without it still load the library. */
typedef BOOL(WINAPI *prefetch_fn)(HANDLE, ULONG_PTR, PWIN32_MEMORY_RANGE_ENTRY, ULONG);

static void prefetch(void *p, size_t len)
{
    prefetch_fn fn;
    if (!mapio__win_proc(L"kernel32.dll", "PrefetchVirtualMemory", &fn))
        return;
    WIN32_MEMORY_RANGE_ENTRY r = { .VirtualAddress = p, .NumberOfBytes = len };
    fn(GetCurrentProcess(), 1, &r, 0); /* a hint: failure changes nothing */
}

int mapio__mapos_map(mapio_fd_t fd, uint64_t off, size_t len, mapio_map_kind_t kind, unsigned flags,
                     void **out)
{
    if (fd == MAPIO_INVALID_FD) {
        /* Huge pages need SeLockMemoryPrivilege; like THP elsewhere, a hint. */
        void *p = VirtualAlloc(NULL, len, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        if (p == NULL)
            return mapio__win_last();
        *out = p;
        return 0;
    }
    DWORD prot = page_prot(kind, false, false);
    DWORD access = kind == MAPIO_MAP_READ_WRITE      ? FILE_MAP_WRITE
                   : kind == MAPIO_MAP_COPY_ON_WRITE ? FILE_MAP_COPY
                   : kind == MAPIO_MAP_EXEC          ? FILE_MAP_READ | FILE_MAP_EXECUTE
                                                     : FILE_MAP_READ;
    uint64_t end = off + len;
    HANDLE sec = CreateFileMappingW(fd, NULL, prot, (DWORD)(end >> 32), (DWORD)end, NULL);
    if (sec == NULL)
        return mapio__win_last();
    void *p = MapViewOfFile(sec, access, (DWORD)(off >> 32), (DWORD)off, len);
    int err = p == NULL ? mapio__win_last() : 0;
    CloseHandle(sec);
    if (err != 0)
        return err;
    if (flags & MAPIO_MAP_POPULATE)
        prefetch(p, len);
    *out = p;
    return 0;
}

/* Is p inside a view of a file (else VirtualAlloc'd memory)? */
static bool is_view(void *p)
{
    MEMORY_BASIC_INFORMATION mi;
    return VirtualQuery(p, &mi, sizeof mi) == sizeof mi && mi.Type == MEM_MAPPED;
}

int mapio__mapos_unmap(void *p, size_t len)
{
    (void)len;
    BOOL ok = is_view(p) ? UnmapViewOfFile(p) : VirtualFree(p, 0, MEM_RELEASE);
    return ok ? 0 : mapio__win_last();
}

int mapio__mapos_remap(void *p, size_t old_len, size_t new_len, mapio_fd_t fd, uint64_t off,
                       mapio_map_kind_t kind, unsigned flags, void **out)
{
    void *q;
    if (new_len < old_len && kind == MAPIO_MAP_READ_WRITE) {
        /* Windows refuses to shrink a file while any view of it exists
         * (ERROR_USER_MAPPED_FILE), so a shrinking resize unmaps, cuts the
         * file to the new end itself, and maps again; the caller's own
         * truncate to that size is then a no-op. If the new view cannot be
         * made, the old one is gone: the caller poisons the map. */
        int err = mapio__mapos_unmap(p, old_len);
        if (err == 0)
            err = mapio__mapos_truncate(fd, off + new_len);
        if (err == 0)
            err = mapio__mapos_map(fd, off, new_len, kind, flags, &q);
        if (err == 0)
            *out = q;
        return err;
    }
    /* No mremap: the new view first, so a failure leaves the old one intact. */
    int err = mapio__mapos_map(fd, off, new_len, kind, flags, &q);
    if (err != 0)
        return err;
    mapio__mapos_unmap(p, old_len);
    *out = q;
    return 0;
}

int mapio__mapos_protect(void *p, size_t len, mapio_map_kind_t kind, bool frozen)
{
    DWORD old;
    return VirtualProtect(p, len, page_prot(kind, frozen, !is_view(p)), &old) ? 0
                                                                              : mapio__win_last();
}

int mapio__mapos_sync(void *p, size_t len, mapio_fd_t fd, uint64_t off, bool async)
{
    (void)off;
    if (!FlushViewOfFile(p, len))
        return mapio__win_last();
    if (async)
        return 0; /* written to the file system; the disk may lag */
    return FlushFileBuffers(fd) ? 0 : mapio__win_last();
}

int mapio__mapos_advise(void *p, size_t len, mapio_advice_t advice)
{
    switch (advice) {
    case MAPIO_ADVICE_WILLNEED:
        prefetch(p, len);
        return 0;
    case MAPIO_ADVICE_DONTNEED:
        if (!is_view(p)) {
            /* Private memory: like MADV_DONTNEED, the pages come back zeroed. */
            if (VirtualFree(p, len, MEM_DECOMMIT) &&
                VirtualAlloc(p, len, MEM_COMMIT, PAGE_READWRITE) != NULL)
                return 0;
            return mapio__win_last();
        }
        /* A view: drop the pages from the working set; they are re-read from
         * the file (or the cache) on the next touch. VirtualUnlock on
         * unlocked pages does exactly that, and reports ERROR_NOT_LOCKED. */
        VirtualUnlock(p, len);
        return 0;
    default:
        return 0; /* no sequential/random hints for mapped views on Windows */
    }
}

int mapio__mapos_mlock(void *p, size_t len, bool lock)
{
    BOOL ok = lock ? VirtualLock(p, len) : VirtualUnlock(p, len);
    return ok ? 0 : mapio__win_last();
}

int mapio__mapos_flock(mapio_fd_t fd, int how, bool try_only)
{
    OVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    ov.Offset = LOCK_OFFSET_LOW;
    ov.OffsetHigh = LOCK_OFFSET_HIGH;
    /* flock replaces the lock a handle holds; Windows stacks them (and an
     * exclusive lock would conflict with the handle's own shared one), so
     * drop ours first. Not holding one is fine. */
    if (!UnlockFileEx(fd, 0, 1, 0, &ov) && GetLastError() != ERROR_NOT_LOCKED && how == 0)
        return mapio__win_last();
    if (how == 0)
        return 0;
    DWORD fl =
        (how == 2 ? LOCKFILE_EXCLUSIVE_LOCK : 0) | (try_only ? LOCKFILE_FAIL_IMMEDIATELY : 0);
    if (LockFileEx(fd, fl, 0, 1, 0, &ov))
        return 0;
    DWORD code = GetLastError();
    if (code == ERROR_LOCK_VIOLATION || code == ERROR_IO_PENDING) {
        mapio__win_err(code); /* keep the raw code */
        return MAPIO_EAGAIN;  /* flock's EWOULDBLOCK */
    }
    return mapio__win_err(code);
}

/* The directory part of path ("." when there is none), allocated. */
static char *parent_of(const char *path)
{
    size_t n = strlen(path), cut = n;
    while (cut > 0 && path[cut - 1] != '/' && path[cut - 1] != '\\')
        cut--;
    if (cut == 0)
        return mapio__strdup(".");
    /* Keep the separator of a root ("C:\", "/") but no other trailing one. */
    size_t keep = cut;
    if (keep > 1 && !(keep == 3 && path[1] == ':'))
        keep--;
    char *d = mapio__malloc(keep + 1);
    if (d != NULL) {
        memcpy(d, path, keep);
        d[keep] = '\0';
    }
    return d;
}

/*
 * Flush a directory. NTFS journals directory changes and flushes a
 * directory handle only when opened for writing, which plain users may be
 * refused; where the flush is refused or not supported, the file's own
 * flush (which also commits its metadata) is what Windows offers, so that
 * is not an error.
 */
static int sync_dir_w(const char *dir, bool check_dir)
{
    HANDLE h;
    int err =
        open_w(dir, GENERIC_READ | GENERIC_WRITE, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, &h);
    if (err == MAPIO_EACCES)
        err = open_w(dir, GENERIC_READ, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, &h);
    if (err != 0)
        return err;
    BY_HANDLE_FILE_INFORMATION fi;
    if (check_dir && GetFileInformationByHandle(h, &fi) &&
        !(fi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)) {
        CloseHandle(h);
        return MAPIO_ENOTDIR;
    }
    if (!FlushFileBuffers(h)) {
        DWORD code = GetLastError();
        if (code != ERROR_ACCESS_DENIED && code != ERROR_INVALID_FUNCTION &&
            code != ERROR_NOT_SUPPORTED && code != ERROR_INVALID_HANDLE)
            err = mapio__win_err(code);
    }
    CloseHandle(h);
    return err;
}

int mapio__mapos_sync_parent(const char *path)
{
    char *dir = parent_of(path);
    if (dir == NULL)
        return MAPIO_ENOMEM;
    int err = sync_dir_w(dir, false);
    mapio__free(dir);
    return err;
}

/* FILE_DISPOSITION_INFO_EX (Windows 10 1709), spelled out: older headers lack it. */
#define DISPOSITION_INFO_EX_CLASS ((FILE_INFO_BY_HANDLE_CLASS)21)
#define DISPOSITION_DELETE 0x1u
#define DISPOSITION_POSIX_SEMANTICS 0x2u

/* Rename the file open as h to a hidden, unique name in its own directory
 * (a name without a path renames in place). True if it was. */
static bool rename_aside(HANDLE h, uint64_t ino)
{
    static volatile LONG seq;
    wchar_t name[80];
    int n =
        swprintf(name, 80, L"%ls%lx-%llx-%lx", removed_prefix, (unsigned long)GetCurrentProcessId(),
                 (unsigned long long)ino, (unsigned long)InterlockedIncrement(&seq));
    if (n <= 0)
        return false;
    size_t bytes = (size_t)n * sizeof(wchar_t);
    FILE_RENAME_INFO *ri = mapio__calloc(1, sizeof *ri + bytes);
    if (ri == NULL)
        return false;
    ri->ReplaceIfExists = FALSE;
    ri->FileNameLength = (DWORD)bytes;
    memcpy(ri->FileName, name, bytes);
    BOOL ok = SetFileInformationByHandle(h, FileRenameInfo, ri, (DWORD)(sizeof *ri + bytes));
    mapio__free(ri);
    return ok;
}

int mapio__mapos_remove(const char *path, uint64_t dev, uint64_t ino)
{
    HANDLE h;
    /* The link itself (no following), so a symlink at the path is seen as one. */
    int err = open_w(path, DELETE | FILE_READ_ATTRIBUTES, OPEN_EXISTING,
                     FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_BACKUP_SEMANTICS, &h);
    if (err != 0)
        return err;
    BY_HANDLE_FILE_INFORMATION fi;
    if (!GetFileInformationByHandle(h, &fi)) {
        err = mapio__win_last();
    } else if ((fi.dwFileAttributes & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT)) ||
               fi.dwVolumeSerialNumber != dev ||
               (((uint64_t)fi.nFileIndexHigh << 32) | fi.nFileIndexLow) != ino) {
        err = MAPIO_ESTALE;
    } else {
        /* POSIX semantics: the name goes now, even while the map (or anyone)
         * keeps the file open. Without them (before Windows 10, FAT, Wine) a
         * file goes when its last handle closes, so it is first renamed out
         * of the way, through this same handle (no race on the path), to a
         * hidden name in its directory: the path is free at once, as unlink
         * leaves it. */
        ULONG ex = DISPOSITION_DELETE | DISPOSITION_POSIX_SEMANTICS;
        FILE_DISPOSITION_INFO di = { .DeleteFile = TRUE };
        if (!SetFileInformationByHandle(h, DISPOSITION_INFO_EX_CLASS, &ex, sizeof ex)) {
            bool aside = rename_aside(h, ino);
            /* A file with a mapped view cannot be marked for deletion
             * (ERROR_ACCESS_DENIED): once renamed aside, the map's close
             * marks it (mapio__mapos_close). */
            if (!SetFileInformationByHandle(h, FileDispositionInfo, &di, sizeof di) &&
                !(aside && GetLastError() == ERROR_ACCESS_DENIED))
                err = mapio__win_last();
        }
    }
    CloseHandle(h);
    if (err == 0)
        err = mapio__mapos_sync_parent(path);
    return err;
}

uint64_t mapio__mapos_page_size(void)
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    /* Views start at multiples of the allocation granularity (64 KiB), not
     * of the page size: that is the alignment callers must see. */
    uint64_t g = si.dwAllocationGranularity;
    return g >= 4096 && (g & (g - 1)) == 0 ? g : 65536;
}

/* ---- public file utilities --------------------------------------------------- */

int mapio_path_sync_dir(const char *dir)
{
    if (dir == NULL)
        return MAPIO_EINVAL;
    if (dir[0] == '\0')
        return MAPIO_ENOENT; /* as on POSIX: an empty path names nothing */
    return sync_dir_w(dir, true);
}

int mapio_path_sync_parent(const char *path)
{
    if (path == NULL)
        return MAPIO_EINVAL;
    /* The parent of "" would be "." - a 0 for syncing a directory the
     * caller never named. An empty path names no file, so none has a
     * parent: ENOENT, as mapio_path_sync_dir("") and open(2) say. */
    if (path[0] == '\0')
        return MAPIO_ENOENT;
    return mapio__mapos_sync_parent(path);
}

/* FILETIME-style 100 ns ticks since 1601 to ns since 1970. */
static int64_t ticks_ns(LARGE_INTEGER t)
{
    return (t.QuadPart - 116444736000000000LL) * 100;
}

int mapio_path_info(const char *path, unsigned flags, mapio_path_info_t *out)
{
    if (path == NULL || out == NULL || (flags & ~(unsigned)MAPIO_PATH_NOFOLLOW))
        return MAPIO_EINVAL;
    HANDLE h;
    DWORD reparse = (flags & MAPIO_PATH_NOFOLLOW) ? FILE_FLAG_OPEN_REPARSE_POINT : 0;
    int err =
        open_w(path, FILE_READ_ATTRIBUTES, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | reparse, &h);
    if (err != 0)
        return err;
    BY_HANDLE_FILE_INFORMATION fi;
    FILE_BASIC_INFO bi;
    FILE_STANDARD_INFO si;
    if (!GetFileInformationByHandle(h, &fi) ||
        !GetFileInformationByHandleEx(h, FileBasicInfo, &bi, sizeof bi) ||
        !GetFileInformationByHandleEx(h, FileStandardInfo, &si, sizeof si)) {
        err = mapio__win_last();
        CloseHandle(h);
        return err;
    }
    CloseHandle(h);
    uint32_t mode;
    if (reparse != 0 && (fi.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT))
        mode = MODE_LNK | 0777;
    else if (fi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
        mode = MODE_DIR | 0755;
    else
        mode = MODE_REG | ((fi.dwFileAttributes & FILE_ATTRIBUTE_READONLY) ? 0444 : 0644);
    *out = (mapio_path_info_t){
        .size = ((uint64_t)fi.nFileSizeHigh << 32) | fi.nFileSizeLow,
        .dev = fi.dwVolumeSerialNumber,
        .ino = ((uint64_t)fi.nFileIndexHigh << 32) | fi.nFileIndexLow,
        .nlink = fi.nNumberOfLinks,
        .blocks = ((uint64_t)si.AllocationSize.QuadPart + 511) / 512,
        .blksize = 4096,
        .mode = mode,
        .atime_ns = ticks_ns(bi.LastAccessTime),
        .mtime_ns = ticks_ns(bi.LastWriteTime),
        .ctime_ns = ticks_ns(bi.ChangeTime),
    };
    return 0;
}

int mapio_path_device_size(const char *path, uint64_t *out)
{
    if (path == NULL || out == NULL)
        return MAPIO_EINVAL;
    HANDLE h;
    int err = open_w(path, GENERIC_READ, OPEN_EXISTING, 0, &h);
    if (err != 0)
        return err;
    err = mapio__mapos_size(h, out);
    CloseHandle(h);
    return err;
}
