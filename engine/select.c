/*
 * engine/select.c - the compiled backends, in priority order, and the
 * fallback from one that is blocked to the next.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "select.h"

#define MAPIO__OPS_EXTERN(be) extern const struct mapio__backend_ops mapio__##be##_ops;
MAPIO_BACKEND_LIST(MAPIO__OPS_EXTERN)
#undef MAPIO__OPS_EXTERN

#define MAPIO__OPS_REF(be) &mapio__##be##_ops,
static const struct mapio__backend_ops *const compiled[] = { MAPIO_BACKEND_LIST(MAPIO__OPS_REF) };
#undef MAPIO__OPS_REF

const char *mapio_backends_compiled(void)
{
    return MAPIO_BACKEND_LIST_STR;
}

const struct mapio__backend_ops *mapio__backend_find(const char *name)
{
    for (size_t i = 0; i < MAPIO__ARRAY_SIZE(compiled); i++)
        if (strcmp(compiled[i]->name, name) == 0)
            return compiled[i];
    return NULL;
}

/* Errors that mean "this backend is blocked or too old here" rather than a
 * problem the user must see (ENOMEM from io_uring's memlock limit is reported). */
static bool falls_back(int err)
{
    return err == MAPIO_ENOSYS || err == MAPIO_EPERM || err == MAPIO_EINVAL || err == MAPIO_ENOTSUP;
}

int mapio__backend_select(mapio_engine_t *eng, const mapio_engine_opts_t *opts, const char *want,
                          const char *forced_by_env, struct mapio__backend_report *report,
                          const struct mapio__backend_ops **ops_out, void **state,
                          char **reason_out)
{
    int err = MAPIO_ENOSYS;
    const struct mapio__backend_ops *ops = NULL;
    const char *first_failed = NULL;
    char first_detail[sizeof report->detail] = "";
    *reason_out = NULL;
    report->note[0] = '\0';
    for (size_t i = 0; i < MAPIO__ARRAY_SIZE(compiled); i++) {
        if (want != NULL && strcmp(compiled[i]->name, want) != 0)
            continue;
        report->detail[0] = '\0';
        err = compiled[i]->init(eng, opts, state);
        if (err == 0) {
            ops = compiled[i];
            break;
        }
        if (!falls_back(err) || want != NULL)
            break;
        if (first_failed == NULL) {
            first_failed = compiled[i]->name;
            snprintf(first_detail, sizeof first_detail, "%s",
                     report->detail[0] ? report->detail : mapio_strerror(err));
        }
    }
    if (err != 0)
        return err;
    char reason[600] = "";
    if (forced_by_env != NULL && compiled[0] != ops)
        snprintf(reason, sizeof reason, "forced by MAPIO_BACKEND=%s", forced_by_env);
    else if (first_failed != NULL)
        snprintf(reason, sizeof reason, "%s unavailable (%s); fell back to %s", first_failed,
                 first_detail, ops->name);
    if (report->note[0] != '\0') {
        /* A backend that runs, but without part of what it should have. */
        size_t len = strlen(reason);
        snprintf(reason + len, sizeof reason - len, "%s%s", len ? "; " : "", report->note);
    }
    if (reason[0] != '\0' && (*reason_out = mapio__strdup(reason)) == NULL) {
        ops->destroy(*state);
        return MAPIO_ENOMEM;
    }
    *ops_out = ops;
    return 0;
}
