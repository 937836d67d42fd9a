/* One convolution layer on oneDNN (Debian's libdnnl-dev), for tools/bench/conv_kernels.py.
 *
 * Usage: onednn_conv CIN COUT H W K STRIDE PAD GROUPS REPS
 * Threads: OMP_NUM_THREADS (oneDNN's CPU runtime here is OpenMP).
 *
 * Input, weights and bias follow conv_case.h's formulas, which the driver
 * repeats in NumPy to check the output against ONNX Runtime.
 * The convolution uses dnnl_convolution_auto (oneDNN picks direct or Winograd)
 * with every memory format `any`; the weights are reordered into the chosen
 * layout once, before timing, as a session would at build time. Two timings,
 * medians of REPS runs after 3 warm-ups:
 *   blocked: the primitive alone, input and output in its own layout (a run of
 *            oneDNN ops keeps that layout between them);
 *   nchw:    reorder the NCHW input in, convolve, reorder the output back (a
 *            lone oneDNN op among NCHW kernels).
 * Prints one JSON line: {"blocked_ms", "nchw_ms", "sum", "sum_squares", "impl"}.
 */
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conv_case.h"

#define CHECK(call) do { dnnl_status_t s = (call); if (s != dnnl_success) { fprintf(stderr, "%s failed: %d\n", #call, (int)s); exit(1); } } while (0)

/* A memory object in `md`, filled from `data` (given in `plain`'s layout) through a reorder when the layouts differ. */
static dnnl_memory_t filled(dnnl_engine_t engine, dnnl_stream_t stream, const dnnl_memory_desc_t *md, const dnnl_memory_desc_t *plain, float *data) {
    dnnl_memory_t user, mem;
    CHECK(dnnl_memory_create(&user, plain, engine, data));
    if (dnnl_memory_desc_equal(md, plain)) return user;
    CHECK(dnnl_memory_create(&mem, md, engine, DNNL_MEMORY_ALLOCATE));
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t reorder;
    CHECK(dnnl_reorder_primitive_desc_create(&rpd, plain, engine, md, engine, NULL));
    CHECK(dnnl_primitive_create(&reorder, rpd));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, mem}};
    CHECK(dnnl_primitive_execute(reorder, stream, 2, args));
    CHECK(dnnl_stream_wait(stream));
    dnnl_primitive_destroy(reorder);
    dnnl_primitive_desc_destroy(rpd);
    dnnl_memory_destroy(user);
    return mem;
}

int main(int argc, char **argv) {
    if (argc != 10) {
        fprintf(stderr, "usage: %s CIN COUT H W K STRIDE PAD GROUPS REPS\n", argv[0]);
        return 64;
    }
    long cin = atol(argv[1]), cout = atol(argv[2]), h = atol(argv[3]), w = atol(argv[4]), k = atol(argv[5]);
    long stride = atol(argv[6]), pad = atol(argv[7]), groups = atol(argv[8]);
    int reps = atoi(argv[9]);
    long oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;

    dnnl_engine_t engine;
    dnnl_stream_t stream;
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));

    dnnl_dims_t src_dims = {1, cin, h, w}, dst_dims = {1, cout, oh, ow}, bias_dims = {cout};
    dnnl_dims_t weight_dims = {groups, cout / groups, cin / groups, k, k};
    dnnl_dims_t strides = {stride, stride}, padding = {pad, pad};
    dnnl_dims_t plain_weight_dims = {cout, cin, k, k};
    dnnl_memory_desc_t src_any, w_any, b_md, dst_any, src_plain, w_plain, dst_plain;
    CHECK(dnnl_memory_desc_init_by_tag(&src_any, 4, src_dims, dnnl_f32, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&dst_any, 4, dst_dims, dnnl_f32, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&b_md, 1, bias_dims, dnnl_f32, dnnl_x));
    CHECK(dnnl_memory_desc_init_by_tag(&src_plain, 4, src_dims, dnnl_f32, dnnl_nchw));
    CHECK(dnnl_memory_desc_init_by_tag(&dst_plain, 4, dst_dims, dnnl_f32, dnnl_nchw));
    if (groups > 1) {
        CHECK(dnnl_memory_desc_init_by_tag(&w_any, 5, weight_dims, dnnl_f32, dnnl_format_tag_any));
        CHECK(dnnl_memory_desc_init_by_tag(&w_plain, 5, weight_dims, dnnl_f32, dnnl_goihw));
    } else {
        CHECK(dnnl_memory_desc_init_by_tag(&w_any, 4, plain_weight_dims, dnnl_f32, dnnl_format_tag_any));
        CHECK(dnnl_memory_desc_init_by_tag(&w_plain, 4, plain_weight_dims, dnnl_f32, dnnl_oihw));
    }

    dnnl_convolution_desc_t desc;
    CHECK(dnnl_convolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_convolution_auto, &src_any, &w_any, &b_md,
                                             &dst_any, strides, padding, padding));
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_primitive_desc_create(&pd, &desc, NULL, engine, NULL));
    const char *impl = NULL;
    CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    const dnnl_memory_desc_t *src_md = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *w_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    dnnl_primitive_t conv;
    CHECK(dnnl_primitive_create(&conv, pd));

    long nx = cin * h * w, nw = cout * (cin / groups) * k * k, ny = cout * oh * ow;
    float *x = malloc(nx * sizeof(float)), *wt = malloc(nw * sizeof(float)), *b = malloc(cout * sizeof(float));
    float *y = malloc(ny * sizeof(float));
    fill_case(x, nx, wt, nw, b, cout);

    dnnl_memory_t weights = filled(engine, stream, w_md, &w_plain, wt);  /* once, as at session build */
    dnnl_memory_t bias;
    CHECK(dnnl_memory_create(&bias, &b_md, engine, b));
    dnnl_memory_t src = filled(engine, stream, src_md, &src_plain, x);
    dnnl_memory_t dst, user_src, user_dst;
    CHECK(dnnl_memory_create(&dst, dst_md, engine, DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_memory_create(&user_src, &src_plain, engine, x));
    CHECK(dnnl_memory_create(&user_dst, &dst_plain, engine, y));
    int src_blocked = !dnnl_memory_desc_equal(src_md, &src_plain), dst_blocked = !dnnl_memory_desc_equal(dst_md, &dst_plain);
    dnnl_primitive_t to_src = NULL, from_dst = NULL;
    dnnl_primitive_desc_t rpd;
    if (src_blocked) {
        CHECK(dnnl_reorder_primitive_desc_create(&rpd, &src_plain, engine, src_md, engine, NULL));
        CHECK(dnnl_primitive_create(&to_src, rpd));
    }
    if (dst_blocked) {
        CHECK(dnnl_reorder_primitive_desc_create(&rpd, dst_md, engine, &dst_plain, engine, NULL));
        CHECK(dnnl_primitive_create(&from_dst, rpd));
    }
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}};
    dnnl_exec_arg_t in_args[2] = {{DNNL_ARG_FROM, user_src}, {DNNL_ARG_TO, src}};
    dnnl_exec_arg_t out_args[2] = {{DNNL_ARG_FROM, dst}, {DNNL_ARG_TO, user_dst}};
    if (!dst_blocked) out_args[0].memory = dst, args[3].memory = user_dst;

    double *blocked = malloc(reps * sizeof(double)), *plain = malloc(reps * sizeof(double));
    for (int r = -3; r < reps; r++) {
        double t0 = now();
        CHECK(dnnl_primitive_execute(conv, stream, 4, args));
        CHECK(dnnl_stream_wait(stream));
        double t1 = now();
        if (to_src) CHECK(dnnl_primitive_execute(to_src, stream, 2, in_args));
        CHECK(dnnl_primitive_execute(conv, stream, 4, args));
        if (from_dst) CHECK(dnnl_primitive_execute(from_dst, stream, 2, out_args));
        CHECK(dnnl_stream_wait(stream));
        double t2 = now();
        if (r >= 0) {
            blocked[r] = (t1 - t0) * 1000;
            plain[r] = (t2 - t1) * 1000;
        }
    }
    double sum, squares;
    sums(y, ny, &sum, &squares);
    printf("{\"blocked_ms\": %.6f, \"nchw_ms\": %.6f, \"sum\": %.9g, \"sum_squares\": %.9g, \"impl\": \"%s\"}\n",
           median(blocked, reps), median(plain, reps), sum, squares, impl ? impl : "?");
    return 0;
}
