/* One convolution layer on XNNPACK (Debian's libxnnpack-dev), for tools/bench/conv_kernels.py.
 *
 * Usage: xnnpack_conv CIN COUT H W K STRIDE PAD GROUPS REPS THREADS
 *
 * Input, weights and bias from conv_case.h's formulas (given in NCHW/OIHW
 * order, transposed here to XNNPACK's NHWC and per-group OHWI once, as a
 * session would at build time). Two timings, medians of REPS runs after 3
 * warm-ups:
 *   nhwc: the operator alone on NHWC input and output (a run of XNNPACK ops);
 *   nchw: transpose the NCHW input in, convolve, transpose the output back.
 * Prints one JSON line: {"nhwc_ms", "nchw_ms", "sum", "sum_squares"}.
 */
#include <math.h>
#include <pthreadpool.h>
#include <stdio.h>
#include <stdlib.h>
#include "conv_case.h"
#include <xnnpack.h>

int main(int argc, char **argv) {
    if (argc != 11) {
        fprintf(stderr, "usage: %s CIN COUT H W K STRIDE PAD GROUPS REPS THREADS\n", argv[0]);
        return 64;
    }
    long cin = atol(argv[1]), cout = atol(argv[2]), h = atol(argv[3]), w = atol(argv[4]), k = atol(argv[5]);
    long stride = atol(argv[6]), pad = atol(argv[7]), groups = atol(argv[8]);
    int reps = atoi(argv[9]), threads = atoi(argv[10]);
    long oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
    long gin = cin / groups, gout = cout / groups;
    if (xnn_initialize(NULL) != xnn_status_success) { fprintf(stderr, "xnn_initialize failed\n"); return 1; }

    long nx = cin * h * w, nw = cout * gin * k * k, ny = cout * oh * ow;
    float *x = malloc(nx * sizeof(float)), *wt = malloc(nw * sizeof(float)), *b = malloc(cout * sizeof(float));
    float *x_nhwc = malloc(nx * sizeof(float)), *w_ohwi = malloc(nw * sizeof(float));
    float *y_nhwc = malloc(ny * sizeof(float)), *y = malloc(ny * sizeof(float));
    fill_case(x, nx, wt, nw, b, cout);
    /* OIHW (O = groups × gout) → per group O,H,W,I. */
    for (long o = 0; o < cout; o++)
        for (long i = 0; i < gin; i++)
            for (long r = 0; r < k * k; r++) w_ohwi[(o * k * k + r) * gin + i] = wt[(o * gin + i) * k * k + r];

    xnn_operator_t op;
    if (xnn_create_convolution2d_nhwc_f32(pad, pad, pad, pad, k, k, stride, stride, 1, 1, groups, gin, gout, cin, cout,
                                          w_ohwi, b, -INFINITY, INFINITY, 0, &op) != xnn_status_success) {
        fprintf(stderr, "xnn_create_convolution2d_nhwc_f32 failed\n");
        return 1;
    }
    pthreadpool_t pool = threads > 1 ? pthreadpool_create(threads) : NULL;
    if (xnn_setup_convolution2d_nhwc_f32(op, 1, h, w, x_nhwc, y_nhwc, pool) != xnn_status_success) {
        fprintf(stderr, "xnn_setup_convolution2d_nhwc_f32 failed\n");
        return 1;
    }
    double *alone = malloc(reps * sizeof(double)), *plain = malloc(reps * sizeof(double));
    for (int r = -3; r < reps; r++) {
        double t0 = now();
        xnn_run_operator(op, pool);
        double t1 = now();
        for (long c = 0; c < cin; c++)
            for (long p = 0; p < h * w; p++) x_nhwc[p * cin + c] = x[c * h * w + p];
        xnn_run_operator(op, pool);
        for (long c = 0; c < cout; c++)
            for (long p = 0; p < oh * ow; p++) y[c * oh * ow + p] = y_nhwc[p * cout + c];
        double t2 = now();
        if (r >= 0) {
            alone[r] = (t1 - t0) * 1000;
            plain[r] = (t2 - t1) * 1000;
        }
    }
    double sum, squares;
    sums(y, ny, &sum, &squares);
    printf("{\"nhwc_ms\": %.6f, \"nchw_ms\": %.6f, \"sum\": %.9g, \"sum_squares\": %.9g}\n", median(alone, reps), median(plain, reps), sum, squares);
    return 0;
}
