/* What onednn_conv.c and xnnpack_conv.c share: the clock, medians, and the
 * input/weight/bias formulas tools/bench/conv_kernels.py repeats in NumPy to
 * check their outputs against ONNX Runtime:
 *   x[i] = ((i * 7919) % 1000) / 1000 - 0.5,  w[i] = (((i * 104729) % 1000) / 1000 - 0.5) / 20,  b[o] = o / 100
 * (x in NCHW, w in OIHW order). */
#ifndef CONV_CASE_H
#define CONV_CASE_H
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of `count` timings (sorts them). */
static double median(double *values, int count) {
    qsort(values, count, sizeof(double), compare_doubles);
    return values[count / 2];
}

static void fill_case(float *x, long nx, float *w, long nw, float *b, long cout) {
    for (long i = 0; i < nx; i++) x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    for (long i = 0; i < nw; i++) w[i] = ((float)((i * 104729) % 1000) / 1000.0f - 0.5f) / 20.0f;
    for (long o = 0; o < cout; o++) b[o] = (float)o / 100.0f;
}

/* Sum and sum of squares of the output: what the driver compares, whatever the layout. */
static void sums(const float *y, long n, double *sum, double *squares) {
    *sum = 0;
    *squares = 0;
    for (long i = 0; i < n; i++) {
        *sum += y[i];
        *squares += (double)y[i] * y[i];
    }
}
#endif
