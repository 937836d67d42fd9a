"""Inference latency: cleave's runtime next to ONNX Runtime, same model, input and threads.

Usage: .venv/bin/python tools/bench/runtime_bench.py [--cleave .build/release/cleave]
           [--models vgg19,resnet50,alexnet,squeezenet] [--threads 1,2] [--repeats 7]
Models come from .models/light (tools/light_models.py). ONNX Runtime uses the
CPU provider with intra_op_num_threads = threads; both take the median of
--repeats runs after one warm-up run. Also checks that outputs agree
(rtol 1e-3, atol 1e-4). Prints a table with both medians and the ratio.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time
import numpy as np
import onnxruntime as ort

parser = argparse.ArgumentParser()
parser.add_argument("--cleave", default=".build/release/cleave")
parser.add_argument("--models", default="vgg19,resnet50,alexnet,squeezenet")
parser.add_argument("--threads", default="1,2")
parser.add_argument("--repeats", type=int, default=7)
parser.add_argument("--dir", default=".models/light")
args = parser.parse_args()

rows = []
for name in args.models.split(","):
    path = os.path.join(args.dir, name + ".onnx")
    if not os.path.exists(path):
        sys.exit(f"{path} is missing: run .venv/bin/python tools/light_models.py --only {name}")
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
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            session.run(None, inputs)
            times.append((time.perf_counter() - start) * 1000)
        ort_ms = statistics.median(times)
        del session

        with tempfile.TemporaryDirectory() as tmp:
            command = [args.cleave, "run", path, "--threads", str(threads), "--repeat", str(args.repeats + 1),
                       "--output-dir", tmp, "--json"]
            for input_name, value in inputs.items():
                file = os.path.join(tmp, "in_" + str(len(command)) + ".npy")
                np.save(file, value)
                command += ["--input", f"{input_name}={file}"]
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                sys.exit(f"cleave failed on {name}: {result.stderr.strip()}")
            report = json.loads(result.stdout)
            runs = report["latency_ms"]["runs"][1:]  # the first run is the warm-up
            cleave_ms = statistics.median(runs)
            agree = all(np.allclose(np.load(o["file"]), e, rtol=1e-3, atol=1e-4)
                        for o, e in zip(report["outputs"], expected))
        rows.append((name, threads, ort_ms, cleave_ms, agree))
        print(f"  {name} @{threads}: ORT {ort_ms:.1f} ms, cleave {cleave_ms:.1f} ms", file=sys.stderr)

print(f"{'model':<12} {'threads':>7} {'ORT ms':>9} {'cleave ms':>10} {'ratio':>6}  outputs")
for name, threads, ort_ms, cleave_ms, agree in rows:
    print(f"{name:<12} {threads:>7} {ort_ms:>9.1f} {cleave_ms:>10.1f} {cleave_ms / ort_ms:>6.2f}  {'match' if agree else 'DIFFER'}")
