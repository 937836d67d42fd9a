"""Convolution layers on four kernel paths, side by side: cleave's runtime, ONNX Runtime, oneDNN, XNNPACK.

Usage: .venv/bin/python tools/bench/conv_kernels.py [--cleave .build/release/cleave] [--threads 1,2]
           [--repeats 30] [--rounds 3] [--layers vgg3x3_112,...]

Issue 17 asks which kernel library to build the runtime on, chosen by
measurement per layer kind. For each layer (the shapes below: 3x3 convolutions
of VGG and ResNet, ResNet's 1x1 projections, depthwise 3x3 of MobileNet-style
networks, AlexNet/ResNet stems) a one-node ONNX model (Conv with bias) is
written and timed by
- cleave: `cleave run MODEL --repeat N --threads T --json` (im2col + OpenBLAS
  sgemm, or its pointwise / depthwise paths), median of the runs;
- ONNX Runtime: InferenceSession, intra-op threads T, median of N runs;
- oneDNN (Debian's libdnnl-dev, tools/bench/onednn_conv.c compiled here):
  convolution_auto with weights reordered once; "blocked" times the primitive
  with input and output in its own layout (what a run of oneDNN ops sees),
  "nchw" adds the reorders from and to NCHW (a lone oneDNN op among NCHW kernels);
- XNNPACK (Debian's libxnnpack-dev, tools/bench/xnnpack_conv.c): the NHWC
  convolution with weights packed at creation; "nhwc" times the operator
  alone, "nchw" adds the transposes in and out.
The contenders alternate within each round; each figure is the median over
--rounds rounds. Every output is checked against ONNX Runtime's (cleave: max
|diff| ≤ 1e-3 relative to the output's scale; oneDNN and XNNPACK: sum and sum
of squares within 1e-4 relative). Ratios are each path's time over ONNX Runtime's.
"""
import argparse, json, os, subprocess, sys, tempfile, time

import numpy as np
import onnx
from onnx import TensorProto, helper
import onnxruntime as ort

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# name: (C_in, C_out, H, W, kernel, stride, pad, groups)
LAYERS = {
    "alexnet_stem_11x11": (3, 64, 224, 224, 11, 4, 2, 1),
    "resnet_stem_7x7": (3, 64, 224, 224, 7, 2, 3, 1),
    "vgg3x3_112": (64, 128, 112, 112, 3, 1, 1, 1),
    "vgg3x3_28": (256, 512, 28, 28, 3, 1, 1, 1),
    "resnet3x3_56": (64, 64, 56, 56, 3, 1, 1, 1),
    "resnet3x3_14": (256, 256, 14, 14, 3, 1, 1, 1),
    "resnet1x1_56": (64, 256, 56, 56, 1, 1, 0, 1),
    "resnet1x1_14": (1024, 256, 14, 14, 1, 1, 0, 1),
    "depthwise3x3_112": (32, 32, 112, 112, 3, 1, 1, 32),
    "depthwise3x3_14": (512, 512, 14, 14, 3, 1, 1, 512),
}

parser = argparse.ArgumentParser()
parser.add_argument("--cleave", default=os.path.join(root, ".build/release/cleave"))
parser.add_argument("--threads", default="1,2")
parser.add_argument("--repeats", type=int, default=30)
parser.add_argument("--rounds", type=int, default=3)
parser.add_argument("--layers", default=",".join(LAYERS))
args = parser.parse_args()


def formula_data(cin, cout, h, w, k, groups):
    """The input, weights and bias of tools/bench/conv_case.h."""
    i = np.arange(cin * h * w, dtype=np.int64)
    x = (((i * 7919) % 1000) / 1000.0 - 0.5).astype(np.float32).reshape(1, cin, h, w)
    j = np.arange(cout * (cin // groups) * k * k, dtype=np.int64)
    weights = ((((j * 104729) % 1000) / 1000.0 - 0.5) / 20.0).astype(np.float32).reshape(cout, cin // groups, k, k)
    bias = (np.arange(cout) / 100.0).astype(np.float32)
    return x, weights, bias


def write_model(path, spec):
    cin, cout, h, w, k, stride, pad, groups = spec
    x, weights, bias = formula_data(cin, cout, h, w, k, groups)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[k, k], strides=[stride, stride],
                            pads=[pad] * 4, group=groups)
    graph = helper.make_graph([node], "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [onnx.numpy_helper.from_array(weights, "w"), onnx.numpy_helper.from_array(bias, "b")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), path)
    return x


def main():
    work = tempfile.mkdtemp(prefix="conv-kernels-")
    binaries = {}
    for name, libraries in (("onednn_conv", ["-ldnnl"]), ("xnnpack_conv", ["-lXNNPACK", "-lpthreadpool", "-lm"])):
        binaries[name] = os.path.join(work, name)
        build = subprocess.run(["gcc", "-O2", "-o", binaries[name], os.path.join(root, "tools/bench", name + ".c"), *libraries],
                               capture_output=True, text=True)
        if build.returncode != 0:
            sys.exit(f"cannot build {name}.c (tools/setup.sh installs libdnnl-dev, libxnnpack-dev and libpthreadpool-dev): {build.stderr.strip()}")
    rows = []
    for name in args.layers.split(","):
        spec = LAYERS[name]
        model = os.path.join(work, name + ".onnx")
        x = write_model(model, spec)
        x_path = os.path.join(work, name + "-x.npy")
        np.save(x_path, x)
        reference = ort.InferenceSession(model).run(None, {"x": x})[0]
        for threads in [int(t) for t in args.threads.split(",")]:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            session = ort.InferenceSession(model, options)
            times = {"cleave": [], "ort": [], "onednn_blocked": [], "onednn_nchw": [], "xnnpack_nhwc": [], "xnnpack_nchw": []}
            impl = "?"
            for _ in range(args.rounds):
                out = os.path.join(work, "out")
                run = subprocess.run([args.cleave, "run", model, "--input", f"x={x_path}", "--threads", str(threads),
                                      "--repeat", str(args.repeats), "--json", "--output-dir", out], capture_output=True, text=True)
                if run.returncode != 0:
                    sys.exit(f"cleave run {name}: {run.stderr.strip()}")
                times["cleave"].append(json.loads(run.stdout)["latency_ms"]["median"])
                y = np.load(os.path.join(out, "y.npy"))
                scale = float(np.abs(reference).max())
                if float(np.abs(y - reference).max()) > 1e-3 * max(scale, 1e-6):
                    sys.exit(f"{name}: cleave's output differs from ONNX Runtime's")

                runs = []
                for _ in range(3):
                    session.run(None, {"x": x})
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    session.run(None, {"x": x})
                    runs.append((time.perf_counter() - start) * 1000)
                times["ort"].append(sorted(runs)[len(runs) // 2])

                env = dict(os.environ, OMP_NUM_THREADS=str(threads))
                for library, command in (("onednn", [binaries["onednn_conv"], *map(str, spec), str(args.repeats)]),
                                         ("xnnpack", [binaries["xnnpack_conv"], *map(str, spec), str(args.repeats), str(threads)])):
                    done = subprocess.run(command, capture_output=True, text=True, env=env)
                    if done.returncode != 0:
                        sys.exit(f"{library} {name}: {done.stderr.strip()}")
                    result = json.loads(done.stdout)
                    for key, expected in (("sum", float(reference.astype(np.float64).sum())),
                                          ("sum_squares", float((reference.astype(np.float64) ** 2).sum()))):
                        if abs(result[key] - expected) > 1e-4 * max(abs(expected), 1.0):
                            sys.exit(f"{name}: {library}'s {key} {result[key]} differs from ONNX Runtime's {expected}")
                    if library == "onednn":
                        impl = result["impl"]
                        times["onednn_blocked"].append(result["blocked_ms"])
                        times["onednn_nchw"].append(result["nchw_ms"])
                    else:
                        times["xnnpack_nhwc"].append(result["nhwc_ms"])
                        times["xnnpack_nchw"].append(result["nchw_ms"])
            medians = {key: sorted(v)[len(v) // 2] for key, v in times.items()}
            rows.append((name, threads, medians, impl))
            print(f"{name} at {threads} thread(s): " + ", ".join(f"{k} {v:.3f} ms" for k, v in medians.items()) + f" ({impl})",
                  file=sys.stderr)

    print("| layer | threads | ONNX Runtime ms | cleave | oneDNN (blocked) | oneDNN (NCHW in/out) | XNNPACK (NHWC) | XNNPACK (NCHW in/out) | oneDNN kernel |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, threads, m, impl in rows:
        ort_ms = m["ort"]
        cells = [m[key] / ort_ms for key in ("cleave", "onednn_blocked", "onednn_nchw", "xnnpack_nhwc", "xnnpack_nchw")]
        print(f"| {name} | {threads} | {ort_ms:.3f} | " + " | ".join(f"{c:.2f}×" for c in cells) + f" | {impl} |")


main()
