/* mapio/map.h - placeholder, filled in by the map part of the mmap toolkit. */
#ifndef MAPIO_MAP_H
#define MAPIO_MAP_H
#include "errno.h"
#endif
