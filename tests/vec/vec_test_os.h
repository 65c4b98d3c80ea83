/*
 * tests/vec/vec_test_os.h - what the vector tests need of the OS beyond
 * tests/support/testutil.h: directories, the environment the default
 * segment directory comes from, memory counters, a file size limit.
 * vec_test_posix.c and vec_test_win.c implement it (picked by meson).
 * Where something has no meaning on an OS the function says why in *why.
 */
#ifndef MAPIO_VEC_TEST_OS_H
#define MAPIO_VEC_TEST_OS_H

#include <stddef.h>
#include <stdint.h>

/* Before the tests: a known umask (POSIX), so permission checks hold. */
void vt_init(void);

/* A monotonic clock, in seconds. */
double vt_now(void);

/* Make a directory only its owner may use. 0, or -1. */
int vt_mkdir(const char *path);

/* Names in dir. live: leave out files that are gone but for a handle still
 * open (Windows without POSIX delete semantics keeps them, renamed aside,
 * until their last handle closes); else every name. */
int vt_entries(const char *dir, int live);

/* Bytes of disk allocated to path, or -1. */
int64_t vt_allocated(const char *path);

/* NULL where a vector's grown file has all its blocks (POSIX: mapio reserves
 * them; Windows: setting the end of file allocates them), else why not. */
const char *vt_growth_unallocated(void);

/* NULL if path is a directory private to its owner, else what is wrong. */
const char *vt_private_dir(const char *path);

/* The environment variable the default directory is looked for in first
 * (the cache), and the one that moves the temporary directory. */
extern const char *const vt_cache_env, *const vt_temp_env;
/* The directory the vector makes in a cache directory (malloc'd). */
char *vt_cache_subdir(const char *cache);
/* Where the temporary directory is now, the temp variable being unset or
 * empty (malloc'd). */
char *vt_temp_default(void);
/* The environment as the library sees it. setenv(NULL) unsets. */
char *vt_getenv(const char *name); /* malloc'd, or NULL */
int vt_setenv(const char *name, const char *value);

/* Is a descriptor of this process open on the deleted file path? 1 or 0;
 * -1 (and why) where that cannot be seen. */
int vt_open_as_deleted(const char *path, const char **why);

/* Mappings of this process that name a vector segment, or -1 (and why). */
int vt_segment_maps(const char **why);

/* Can a file with a view be deleted (POSIX: always; Windows: only with
 * POSIX delete semantics, which Wine and FAT lack)? */
extern const int vt_mapped_files_deletable;

/* Can a file with a view be cut to a size the view does not reach (not
 * under Wine)? And the error for creating a file under a regular file
 * (ENOTDIR; Windows says the path is not found). */
extern const int vt_mapped_files_cuttable, vt_under_file_err;

/* Unmap what a vector leaked (its whole mapping). 0, or -1. */
int vt_unmap(void *p, size_t len);

/* Make growing files past limit bytes fail (EFBIG) until vt_file_limit_off:
 * 0; 1 if a lower limit is already in place; -1 where the OS has none. */
int vt_file_limit_on(uint64_t limit, const char **why);
void vt_file_limit_off(void);

/* Resident memory of the process: now, and its peak so far; and of that,
 * file pages now. -1 (and why) where not known. */
int64_t vt_resident(void);
int64_t vt_resident_peak(void);
int64_t vt_resident_file(const char **why);
/* NULL where evicting a vector's pages takes them out of the resident set
 * (so a bound on it can be asserted), else why it does not. */
const char *vt_eviction_unresident(void);

/* The size vec-big fills by default, in MiB, and why if not 1024. */
uint64_t vt_big_default_mib(const char **why);

#endif
