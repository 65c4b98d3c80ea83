/* mapio/vec.h - placeholder, filled in by the vec part of the mmap toolkit. */
#ifndef MAPIO_VEC_H
#define MAPIO_VEC_H
#include "errno.h"
#endif
