#ifndef CLEAVE_ZLIB_SHIM_H
#define CLEAVE_ZLIB_SHIM_H
#include <zlib.h>
#endif
