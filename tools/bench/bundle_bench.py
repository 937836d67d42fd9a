"""Cutting and verifying bundles: cleave next to Python onnx and openssl, in one run.

Usage: .venv/bin/python tools/bench/bundle_bench.py [--cleave .build/release/cleave]
           [--model .models/light/vgg19.onnx] [--at r23] [--repeats 5]
- cut: `cleave cut MODEL --at T -o OUT` (two bundles, SHA-256 included) vs
  onnx.utils.Extractor extracting the same edge and cloud halves and saving both.
- verify: `cleave verify EDGE CLOUD` vs `openssl dgst -sha256` over the same files.
Wall time is the median of the repeats (Python once: it is slow), peak RSS the
largest child ru_maxrss. Prints a table with ratios.
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time

parser = argparse.ArgumentParser()
parser.add_argument("--cleave", default=".build/release/cleave")
parser.add_argument("--model", default=".models/light/vgg19.onnx")
parser.add_argument("--at", default="r23")
parser.add_argument("--repeats", type=int, default=5)
args = parser.parse_args()
size = os.path.getsize(args.model)


def measure(command, repeats, before=None):
    times, peak = [], 0
    for _ in range(repeats):
        if before:
            before()
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - start)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"{' '.join(command)} failed: {proc.stderr.read().decode()}")
        peak = max(peak, usage.ru_maxrss * 1024)
    return statistics.median(times), peak


tmp = tempfile.mkdtemp(prefix="cleave-bench-", dir=os.path.dirname(os.path.abspath(args.model)))
try:
    out = os.path.join(tmp, "out")
    cut = measure([args.cleave, "cut", args.model, "--at", args.at, "-o", out], args.repeats,
                  before=lambda: shutil.rmtree(out, ignore_errors=True))
    edge_manifest = json.load(open(os.path.join(out, "edge", "manifest.json")))
    cloud_manifest = json.load(open(os.path.join(out, "cloud", "manifest.json")))
    boundary = [b["name"] for b in edge_manifest["boundary"]]
    inputs = [i["name"] for i in edge_manifest["inputs"]]
    outputs = [o["name"] for o in cloud_manifest["outputs"]]
    script = f"""
import onnx, onnx.utils
model = onnx.shape_inference.infer_shapes(onnx.load({args.model!r}))
extractor = onnx.utils.Extractor(model)
onnx.save(extractor.extract_model({inputs!r}, {boundary!r}), {os.path.join(tmp, 'edge.onnx')!r})
onnx.save(extractor.extract_model({boundary!r}, {outputs!r}), {os.path.join(tmp, 'cloud.onnx')!r})
"""
    python = measure([sys.executable, "-c", script], 1)
    verify = measure([args.cleave, "verify", os.path.join(out, "edge"), os.path.join(out, "cloud")], args.repeats)
    files = [os.path.join(out, side, f) for side in ("edge", "cloud") for f in ("manifest.json", "model.onnx", "weights.bin")]
    openssl = measure(["openssl", "dgst", "-sha256"] + files, args.repeats)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

print(f"model: {args.model} ({size / 1e6:.1f} MB), cut at {args.at}, median of {args.repeats} (Python: 1 run)")
print(f"{'command':<34} {'time s':>8} {'peak RSS MB':>12} {'RSS/size':>9}")
for name, (seconds, peak) in [("cleave cut (2 bundles + sha256)", cut), ("python onnx.utils.Extractor + save", python),
                              ("cleave verify EDGE CLOUD", verify), ("openssl dgst -sha256 (same files)", openssl)]:
    print(f"{name:<34} {seconds:>8.3f} {peak / 1e6:>12.1f} {peak / size:>9.2f}")
print(f"cut: {python[0] / cut[0]:.1f}x faster than Python; verify: {verify[0] / openssl[0]:.2f}x openssl's time")
