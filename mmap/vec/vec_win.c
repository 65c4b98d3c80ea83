/*
 * mmap/vec/vec_win.c - the Windows half of the disk-backed vector: the
 * default segment directory, random names, identity-checked removal and
 * shrinking a view in place. Files and mappings themselves go through
 * mmap/map's map_win.c.
 */
#include <stdbool.h>
#include <string.h>
#include <wchar.h>

#include "engine/os_win.h"
#include "mmap/map/map_os.h"
#include "vec_os.h"

/* A wide string as UTF-8 into buf (cap bytes, NUL-terminated). */
static int to_utf8(const wchar_t *w, char *buf, size_t cap)
{
    int want = WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, w, -1, NULL, 0, NULL, NULL);
    if (want <= 0)
        return MAPIO_EINVAL; /* unpaired surrogates: no UTF-8 spelling */
    if ((size_t)want > cap)
        return MAPIO_ENAMETOOLONG;
    WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, w, -1, buf, (int)cap, NULL, NULL);
    return 0;
}

static bool is_sep(wchar_t c)
{
    return c == L'\\' || c == L'/';
}

/* "X:\..." or "\\server\..." (which includes "\\?\"): a drive-relative
 * "X:foo" or a rooted "\foo" would depend on the current drive. */
static bool is_absolute(const wchar_t *p)
{
    if (is_sep(p[0]) && is_sep(p[1]))
        return true;
    return ((p[0] >= L'A' && p[0] <= L'Z') || (p[0] >= L'a' && p[0] <= L'z')) && p[1] == L':' &&
           is_sep(p[2]);
}

static bool is_dir(const wchar_t *p)
{
    DWORD a = GetFileAttributesW(p);
    return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY);
}

/* Create p and its missing parents (p is absolute). p is modified in place
 * while it works and restored. */
static bool make_dirs(wchar_t *p)
{
    if (is_dir(p))
        return true;
    /* Past the root: "X:\" or "\\server\share\" cannot be created. */
    wchar_t *s = p + 3;
    if (is_sep(p[0])) {
        int seps = 0;
        for (s = p + 2; *s != L'\0' && seps < 2; s++)
            seps += is_sep(*s);
    }
    for (;; s++) {
        if (!is_sep(*s) && *s != L'\0')
            continue;
        wchar_t c = *s;
        *s = L'\0';
        bool ok = CreateDirectoryW(p, NULL) || is_dir(p);
        *s = c;
        if (!ok || c == L'\0')
            return ok;
    }
}

/* Drop trailing separators, but not the one of a root ("C:\"). */
static void strip_seps(wchar_t *p)
{
    size_t n = wcslen(p);
    while (n > 3 && is_sep(p[n - 1]))
        p[--n] = L'\0';
}

int mapio__vecos_default_dir(char *buf, size_t cap)
{
    /* %LOCALAPPDATA% is the per-user, non-roaming place for caches: what
     * XDG_CACHE_HOME is on POSIX. Read as UTF-16: the C runtime's getenv
     * speaks the ANSI code page. If it is unset, relative or cannot hold
     * the directory, fall back rather than fail. */
    wchar_t w[MAX_PATH + 8];
    DWORD n = GetEnvironmentVariableW(L"LOCALAPPDATA", w, MAX_PATH);
    if (n > 0 && n < MAX_PATH && is_absolute(w)) {
        strip_seps(w);
        wcscat(w, L"\\mapio");
        if (make_dirs(w) && to_utf8(w, buf, cap) == 0)
            return 0;
    }
    /* GetTempPathW: TMP, TEMP, USERPROFILE or the Windows directory. It is
     * per-user already, so the file goes straight in, as in $TMPDIR. */
    n = GetTempPathW(MAX_PATH + 1, w);
    if (n == 0 || n > MAX_PATH)
        return n == 0 ? mapio__win_last() : MAPIO_ENAMETOOLONG;
    strip_seps(w);
    return to_utf8(w, buf, cap);
}

/* RtlGenRandom, exported by advapi32 as SystemFunction036: looked up, not
 * linked (BCryptGenRandom would add a library to every program linking
 * mapio). Resolved once; NULL if it is not there. */
typedef BOOLEAN(WINAPI *gen_random_fn)(void *, ULONG);
static gen_random_fn gen_random;
static INIT_ONCE gen_random_once = INIT_ONCE_STATIC_INIT;

static BOOL CALLBACK find_gen_random(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    (void)once;
    (void)param;
    (void)ctx;
    mapio__win_proc(L"advapi32.dll", "SystemFunction036", &gen_random);
    return TRUE;
}

bool mapio__vecos_random(void *buf, size_t n)
{
    InitOnceExecuteOnce(&gen_random_once, find_gen_random, NULL, NULL);
    unsigned char *out = buf;
    bool ok = gen_random != NULL;
    for (size_t got = 0; ok && got < n;) {
        ULONG part = (ULONG)MAPIO__MIN(n - got, (size_t)1 << 20);
        ok = gen_random(out + got, part);
        got += part;
    }
    return ok;
}

uint64_t mapio__vecos_seed(void)
{
    LARGE_INTEGER t;
    QueryPerformanceCounter(&t);
    return (uint64_t)t.QuadPart ^ (uint64_t)GetCurrentProcessId() << 32;
}

int mapio__vecos_remove(const char *path, mapio_fd_t fd)
{
    /* mmap/map's removal does the identity check on a handle opened on the
     * link itself, and knows Windows' deletion rules: POSIX semantics where
     * the file system has them, else the file is renamed aside and goes with
     * its last handle - the vector's own, at free. */
    uint64_t dev, ino;
    int err = mapio__mapos_identity(fd, &dev, &ino);
    return err != 0 ? err : mapio__mapos_remove(path, dev, ino);
}

int mapio__vecos_shrink_view(void *p, size_t old_len, size_t new_len, mapio_fd_t fd, void **out)
{
    /* UnmapViewOfFile takes a whole view, whatever address inside it is
     * given, and Windows refuses to cut a file while any view of it exists
     * (ERROR_USER_MAPPED_FILE) - Wine even one that ends before the cut. So
     * the view goes, the file is cut here (the caller's truncate to the same
     * size is then a no-op; if this one fails, the caller's reports it), and
     * the new length is mapped again at the old address, where nothing can
     * have appeared unless another thread mapped or allocated in this
     * instant; then anywhere. If no view can be made at all, *out is NULL:
     * the elements are still in the file, but the vector has no mapping. */
    *out = NULL;
    int err = mapio__mapos_unmap(p, old_len);
    if (err != 0)
        return err;
    mapio__mapos_truncate(fd, new_len);
    HANDLE sec = CreateFileMappingW(fd, NULL, PAGE_READWRITE, (DWORD)((uint64_t)new_len >> 32),
                                    (DWORD)new_len, NULL);
    void *back = sec != NULL ? MapViewOfFileEx(sec, FILE_MAP_WRITE, 0, 0, new_len, p) : NULL;
    if (sec != NULL)
        CloseHandle(sec);
    if (back != NULL) {
        *out = back;
        return 0;
    }
    return mapio__mapos_map(fd, 0, new_len, MAPIO_MAP_READ_WRITE, 0, out);
}
