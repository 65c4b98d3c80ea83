/*
 * tests/trait/fake_backend.c - a backend for the trait's compile test.
 *
 * Compiled twice by meson: as is it must compile; with -DLEAVE_OUT_CANCEL it
 * lacks one required op and must NOT compile (the test expects failure). That
 * proves the X-macro list really is a contract, not a convention.
 */
#define MAPIO__BE_PREFIX fake
#include "engine/backend.h"

MAPIO__BACKEND_DECLARE()

static int fake_be_init(mapio_engine_t *eng, const mapio_engine_opts_t *opts, void **state)
{
    *state = NULL;
    return 0;
}

static int fake_be_destroy(void *state)
{
    return 0;
}

static int fake_be_attach(void *state, struct mapio__fstate *f)
{
    return 0;
}

static int fake_be_detach(void *state, struct mapio__fstate *f)
{
    return 0;
}

static int fake_be_submit(void *state, mapio_req_t **reqs, unsigned n)
{
    return 0;
}

static int fake_be_wait(void *state, int timeout_ms)
{
    return 0;
}

#if !defined(LEAVE_OUT_CANCEL)
static int fake_be_cancel(void *state, mapio_req_t *req)
{
    return 0;
}
#endif

static int fake_be_wake(void *state)
{
    return 0;
}

static int fake_be_fd(void *state)
{
    return MAPIO_ENOTSUP;
}

static int fake_be_register_buffers(void *state, const mapio_iovec_t *iov, unsigned n)
{
    return 0;
}

MAPIO__BACKEND_DEFINE(0);
