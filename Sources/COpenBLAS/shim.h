#ifndef CLEAVE_OPENBLAS_SHIM_H
#define CLEAVE_OPENBLAS_SHIM_H
#include <cblas.h>
// Not declared by every cblas.h; part of OpenBLAS's exported API.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
#endif
