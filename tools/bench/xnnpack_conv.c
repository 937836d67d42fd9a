/* One convolution layer on XNNPACK (Debian's libxnnpack-dev), for tools/bench/conv_kernels.py.
 *
 * Usage: xnnpack_conv CIN COUT H W K STRIDE PAD GROUPS REPS THREADS
 *
 * Same input, weights and bias formulas as onednn_conv.c (given in NCHW/OIHW
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
#include <time.h>
#include <xnnpack.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

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
    for (long i = 0; i < nx; i++) x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
    for (long i = 0; i < nw; i++) wt[i] = ((float)((i * 104729) % 1000) / 1000.0f - 0.5f) / 20.0f;
    for (long o = 0; o < cout; o++) b[o] = (float)o / 100.0f;
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
    qsort(alone, reps, sizeof(double), compare);
    qsort(plain, reps, sizeof(double), compare);
    double sum = 0, squares = 0;
    for (long i = 0; i < ny; i++) {
        sum += y[i];
        squares += (double)y[i] * y[i];
    }
    printf("{\"nhwc_ms\": %.6f, \"nchw_ms\": %.6f, \"sum\": %.9g, \"sum_squares\": %.9g}\n", alone[reps / 2], plain[reps / 2], sum, squares);
    return 0;
}
