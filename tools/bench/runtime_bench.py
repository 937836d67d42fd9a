"""Inference latency: cleave's runtime next to ONNX Runtime, same model, input and threads.

Usage: .venv/bin/python tools/bench/runtime_bench.py [--cleave .build/release/cleave]
           [--models vgg19,resnet50,alexnet,squeezenet] [--threads 1,2] [--repeats 7] [--warmup 10]
Models come from --dir (.models/light, tools/light_models.py; .models/transformers,
tools/transformer_models.py), or are given as paths ending in .onnx. ONNX Runtime uses the
CPU provider with intra_op_num_threads = threads; both take the median of
--repeats runs after --warmup untimed runs (a fresh process needs a few
runs before its latency settles: page faults, heap growth, clock ramp-up;
at 2 threads on the reference VM, up to ten runs of a 6 ms model take 2-4x
as long, in ONNX Runtime and cleave alike). Also checks that outputs agree
(rtol 1e-3, atol 1e-4). Prints a table with both medians and the ratio, then
peak RSS of a single-thread run next to weights + 2x the largest set of live
activations, after subtracting the process's fixed cost measured on a tiny model.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time
import numpy as np
import onnxruntime as ort

parser = argparse.ArgumentParser()
parser.add_argument("--cleave", default=".build/release/cleave")
parser.add_argument("--models", default="vgg19,resnet50,alexnet,squeezenet")
parser.add_argument("--threads", default="1,2")
parser.add_argument("--repeats", type=int, default=7)
parser.add_argument("--warmup", type=int, default=10)
parser.add_argument("--dir", default=".models/light")
args = parser.parse_args()

def live_activation_peak(model_path):
    """Largest total bytes of activations alive at once under cleave's memory
    plan (a tensor lives from its producer until its last consumer), from
    `cleave inspect --json`."""
    report = json.loads(subprocess.run([args.cleave, "inspect", model_path, "--json"], capture_output=True, text=True, check=True).stdout)
    sizes, last_use = {}, {}
    for i in report["inputs"]:
        sizes[i["name"]] = int(np.prod(i["shape"])) * 4
    for index, node in enumerate(report["nodes"]):
        for name in node["inputs"]:
            last_use[name] = index
        for o in node["outputs"]:
            sizes[o["name"]] = int(np.prod(o["shape"])) * (8 if o["dtype"] == "int64" else 4)
    outputs = {o["name"] for o in report["outputs"]}
    live, peak = {n: sizes[n] for n in sizes if n in {i["name"] for i in report["inputs"]}}, 0
    for index, node in enumerate(report["nodes"]):
        for o in node["outputs"]:
            live[o["name"]] = sizes[o["name"]]
        peak = max(peak, sum(live.values()))
        for name in list(live):
            if last_use.get(name, -1) <= index and name not in outputs:
                del live[name]
    return peak, report["totals"]["weight_bytes"]


def peak_rss(command):
    """Peak RSS in bytes of `command`, measured by GNU time: a child forked from
    this (large) Python process would report Python's pages as its own."""
    result = subprocess.run(["/usr/bin/time", "-f", "%M"] + command, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    return int(result.stderr.strip().splitlines()[-1]) * 1024


rows, memory = [], []
for name in args.models.split(","):
    path = name if name.endswith(".onnx") else os.path.join(args.dir, name + ".onnx")
    if not os.path.exists(path):
        sys.exit(f"{path} is missing: run .venv/bin/python tools/light_models.py --only {name} "
                 "(or tools/transformer_models.py with --dir .models/transformers)")
    name = os.path.basename(path)[:-len(".onnx")] if name.endswith(".onnx") else name
    for threads in [int(t) for t in args.threads.split(",")]:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        inputs = {}
        for i in session.get_inputs():
            shape = [d if isinstance(d, int) else 1 for d in i.shape]
            n = int(np.prod(shape))
            inputs[i.name] = (np.arange(n, dtype=np.float64).reshape(shape) / n).astype(np.float32)
        expected = session.run(None, inputs)
        for _ in range(args.warmup - 1):
            session.run(None, inputs)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            session.run(None, inputs)
            times.append((time.perf_counter() - start) * 1000)
        ort_ms = statistics.median(times)
        del session

        with tempfile.TemporaryDirectory() as tmp:
            command = [args.cleave, "run", path, "--threads", str(threads), "--repeat", str(args.repeats + args.warmup),
                       "--output-dir", tmp, "--json"]
            for input_name, value in inputs.items():
                file = os.path.join(tmp, "in_" + str(len(command)) + ".npy")
                np.save(file, value)
                command += ["--input", f"{input_name}={file}"]
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            stdout, stderr = proc.communicate()
            if proc.returncode != 0:
                sys.exit(f"cleave failed on {name}: {stderr.strip()}")
            report = json.loads(stdout)
            runs = report["latency_ms"]["runs"][args.warmup:]
            cleave_ms = statistics.median(runs)
            agree = all(np.allclose(np.load(o["file"]), e, rtol=1e-3, atol=1e-4)
                        for o, e in zip(report["outputs"], expected))
        rows.append((name, threads, ort_ms, cleave_ms, agree))
        if threads == 1:
            # Peak memory of one plain run (no --json timings), next to the bound.
            run = [args.cleave, "run", path, "--threads", "1"]
            with tempfile.TemporaryDirectory() as tmp:
                for input_name, value in inputs.items():
                    file = os.path.join(tmp, f"in{len(run)}.npy"); np.save(file, value)
                    run += ["--input", f"{input_name}={file}"]
                rss = peak_rss(run)
            activations, weights = live_activation_peak(path)
            memory.append((name, rss, weights, activations))
        print(f"  {name} @{threads}: ORT {ort_ms:.1f} ms, cleave {cleave_ms:.1f} ms", file=sys.stderr)

print(f"{'model':<12} {'threads':>7} {'ORT ms':>9} {'cleave ms':>10} {'ratio':>6}  outputs")
for name, threads, ort_ms, cleave_ms, agree in rows:
    print(f"{name:<12} {threads:>7} {ort_ms:>9.1f} {cleave_ms:>10.1f} {cleave_ms / ort_ms:>6.2f}  {'match' if agree else 'DIFFER'}")

# The process's fixed cost (binary, Swift runtime, OpenBLAS thread buffers),
# measured on a model with almost no weights or activations.
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
tiny = os.path.join(root, "fixtures", "tf2onnx_style")
baseline = peak_rss([args.cleave, "run", os.path.join(tiny, "model.onnx"), "--threads", "1",
                     "--input", f"input_1:0={os.path.join(tiny, 'inputs', 'input_1_0.npy')}"])
print()
print(f"fixed process cost (tiny model): {baseline / 1e6:.1f} MB")
print(f"{'model':<12} {'peak RSS MB':>12} {'- fixed MB':>11} {'weights MB':>11} {'live act. MB':>13} {'bound MB':>9}  within")
for name, rss, weights, activations in memory:
    bound = weights + 2 * activations
    print(f"{name:<12} {rss / 1e6:>12.1f} {(rss - baseline) / 1e6:>11.1f} {weights / 1e6:>11.1f} {activations / 1e6:>13.1f} "
          f"{bound / 1e6:>9.1f}  {'yes' if rss - baseline <= bound else 'NO'}")
