/* engine/errno.c - mapio_strerror and mapio_err_name, generated from MAPIO_ERRNO_MAP. */
#include "common.h"

const char *mapio_strerror(int err)
{
    if (err == 0)
        return "success";
    if (err > 0)
        err = -err;
    switch (err) {
#define MAPIO__ERRNO_TEXT(name, text)                                                              \
    case MAPIO_##name:                                                                             \
        return text;
        MAPIO_ERRNO_MAP(MAPIO__ERRNO_TEXT)
#undef MAPIO__ERRNO_TEXT
    default:
        return "unknown error";
    }
}

const char *mapio_err_name(int err)
{
    if (err == 0)
        return "OK";
    if (err > 0)
        err = -err;
    switch (err) {
#define MAPIO__ERRNO_NAME(name, text)                                                              \
    case MAPIO_##name:                                                                             \
        return #name;
        MAPIO_ERRNO_MAP(MAPIO__ERRNO_NAME)
#undef MAPIO__ERRNO_NAME
    default:
        return "UNKNOWN";
    }
}
