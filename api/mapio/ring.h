/* mapio/ring.h - placeholder, filled in by the ring part of the mmap toolkit. */
#ifndef MAPIO_RING_H
#define MAPIO_RING_H
#include "errno.h"
#endif
