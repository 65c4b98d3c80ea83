/* mapio.h - placeholder umbrella, the engine API follows. */
#ifndef MAPIO_H
#define MAPIO_H
#include "mapio/platform.h"
#include "mapio/errno.h"
#include "mapio/map.h"
#include "mapio/ranges.h"
#include "mapio/ring.h"
#include "mapio/vec.h"
#endif
