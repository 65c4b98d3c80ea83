/* tests/ring/ring_test_win.c - ring_test.c's view of Windows: handles
 * (GetProcessHandleCount, or probing handle values where that is a stub, as
 * in Wine 8), mappings (VirtualQuery over the address space), and both ways
 * ring_win.c has to make the double mapping. */
#include <stdio.h>
#include <windows.h>

#include "engine/common.h"
#include "mmap/ring/ring_win.h"
#include "ring_test_os.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <cmocka.h>

size_t rt_granularity(void)
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwAllocationGranularity;
}

/* Handle values this process has ever been seen to use, doubled: a probe
 * of every value up to the table's real end would take seconds under Wine. */
static ULONG_PTR probe_end = 0x800;

int rt_open_descriptors(void)
{
    DWORD n = 0;
    if (GetProcessHandleCount(GetCurrentProcess(), &n) && n > 0)
        return (int)n;
    /* Handle values are multiples of 4; one is open if it has flags. */
    int open = 0;
    ULONG_PTR top = 0;
    for (ULONG_PTR v = 4; v < probe_end; v += 4) {
        DWORD flags;
        if (GetHandleInformation((HANDLE)v, &flags)) {
            open++;
            top = v;
        }
    }
    if (2 * top > probe_end)
        probe_end = 2 * top;
    return open;
}

int rt_shm_names(void)
{
    return 0; /* the sections have no name */
}

void rt_count_maps(size_t len, int *ring_views, int *reserved)
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    *ring_views = 0;
    *reserved = 0;
    MEMORY_BASIC_INFORMATION mbi;
    for (const unsigned char *p = si.lpMinimumApplicationAddress;
         p < (const unsigned char *)si.lpMaximumApplicationAddress; p += mbi.RegionSize) {
        if (VirtualQuery(p, &mbi, sizeof mbi) != sizeof mbi)
            break;
        /* One region per view or reservation: count each where it starts. */
        if (mbi.BaseAddress != mbi.AllocationBase)
            continue;
        if (mbi.State == MEM_COMMIT && mbi.Type == MEM_MAPPED)
            (*ring_views)++; /* (the system's own mapped files too: constant) */
        if (len != 0 && mbi.State == MEM_RESERVE &&
            (mbi.RegionSize == len || mbi.RegionSize == len / 2))
            (*reserved)++;
    }
}

int rt_eexist_tries(int step)
{
    /* Only the retry loop retries: a view's address taken by another thread. */
    if ((step == 4 || step == 5) && !mapio__ringos_win_placeholders(-1))
        return 32;
    return 1;
}

/* Whether the system has them, whatever the hook says now. */
static int have_placeholders(void)
{
    int now = mapio__ringos_win_placeholders(-1);
    int have = mapio__ringos_win_placeholders(1);
    mapio__ringos_win_placeholders(now);
    return have;
}

int rt_methods(const char **missing)
{
    *missing = NULL;
    if (have_placeholders())
        return 2;
    *missing = "placeholder views: VirtualAlloc2 refuses MEM_RESERVE_PLACEHOLDER here (Wine 8 "
               "exports it without placeholder support), so only the retry loop runs";
    return 1;
}

const char *rt_use_method(int i)
{
    /* The last one leaves the default (placeholders where they work). */
    if (i == 0 && have_placeholders()) {
        mapio__ringos_win_placeholders(0);
        return "retry loop (placeholders turned off)";
    }
    return mapio__ringos_win_placeholders(1) ? "placeholder views" : "retry loop";
}

int rt_use_up_descriptors(const char **why)
{
    *why = "Windows has no per-process handle limit a test can lower (RLIMIT_NOFILE); its "
           "ceiling is some 16 million handles";
    return -1;
}

int rt_give_back_descriptors(void)
{
    return MAPIO_EMFILE;
}
