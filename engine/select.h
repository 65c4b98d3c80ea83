/*
 * engine/select.h - which backends are compiled in, and picking one: the
 * first that initialises, falling back past those blocked here (io_uring
 * under seccomp, an old kernel), with the reason kept.
 * Never installed.
 */
#ifndef MAPIO_SELECT_H
#define MAPIO_SELECT_H

#include "backend.h"

/* What a backend's init says about itself (mapio__engine_detail, _note). */
struct mapio__backend_report {
    char detail[192]; /* why init failed ("io_uring_setup: EPERM") */
    char note[192];   /* what part is missing although init succeeded */
};

/* The compiled backend named name, or NULL. */
const struct mapio__backend_ops *mapio__backend_find(const char *name);

/*
 * Initialise a backend for eng: the one named want, or else the first in
 * build order whose init does not fail with a "not available here" error
 * (ENOSYS, EPERM, EINVAL, ENOTSUP). forced_by_env names MAPIO_BACKEND when
 * it chose want. On success *ops and *state are set, and *reason is NULL or
 * a heap string saying why this is not the first-choice backend (or what it
 * runs without). report is where the backends' init writes its explanations.
 * Returns 0, MAPIO_ENOMEM, or the failing backend's error.
 */
int mapio__backend_select(mapio_engine_t *eng, const mapio_engine_opts_t *opts, const char *want,
                          const char *forced_by_env, struct mapio__backend_report *report,
                          const struct mapio__backend_ops **ops, void **state, char **reason);

#endif
