/* mapio/ranges.h - placeholder, filled in by the ranges part of the mmap toolkit. */
#ifndef MAPIO_RANGES_H
#define MAPIO_RANGES_H
#include "errno.h"
#endif
