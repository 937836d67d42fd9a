"""Compression speed and what it buys: `cleave compress` time, then original vs compressed latency.

Usage: .venv/bin/python tools/bench/compress_bench.py [--cleave .build/release/cleave]
           [--models vgg19] [--rank-ratio 0.25] [--threads 1] [--repeats 5]

For each model (from .models/light, see tools/light_models.py):
  1. times one `cleave compress MODEL --rank-ratio R` (data-free, as the
     compress command runs for a user: import, decomposition, fidelity run of
     both models on a synthetic input, writing the output);
  2. runs the original and the compressed model side by side in cleave's
     runtime (`cleave run --threads T` on the model's input), alternating
     between them N times, each time timing the run after a warm-up run, and
     takes the median of each model's N runs;
  3. prints the compress time, both medians and the speedup.
The light models' weights are all 0.02, so their outputs say nothing about
accuracy (see the digits results in README.md for that); this measures time.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

parser = argparse.ArgumentParser()
parser.add_argument("--cleave", default=".build/release/cleave")
parser.add_argument("--models", default="vgg19")
parser.add_argument("--rank-ratio", default="0.25")
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--repeats", type=int, default=5)
parser.add_argument("--dir", default=".models/light")
args = parser.parse_args()


def latencies(models, input_arguments):
    """Median latency per model. Runs alternate between the models (one
    process each: a warm-up run, then the timed one), so that both see the
    same machine load, which on a shared machine drifts over a minute."""
    samples = {model: [] for model in models}
    for _ in range(args.repeats):
        for model in models:
            command = [args.cleave, "run", model, "--threads", str(args.threads), "--repeat", "2", "--json"]
            result = subprocess.run(command + input_arguments, capture_output=True, text=True)
            if result.returncode != 0:
                sys.exit(f"cleave run {model} failed: {result.stderr.strip()}")
            samples[model].append(json.loads(result.stdout)["latency_ms"]["runs"][1])
    return [statistics.median(samples[model]) for model in models]


rows = []
with tempfile.TemporaryDirectory() as tmp:
    for name in args.models.split(","):
        path = os.path.join(args.dir, name + ".onnx")
        folder = os.path.join(args.dir, name)
        if not os.path.exists(path):
            sys.exit(f"{path} is missing: run .venv/bin/python tools/light_models.py --only {name}")
        compressed = os.path.join(tmp, name + "_compressed.onnx")
        start = time.perf_counter()
        result = subprocess.run([args.cleave, "compress", path, "-o", compressed, "--rank-ratio", args.rank_ratio, "--json"],
                                capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(f"cleave compress {name} failed: {result.stderr.strip()}")
        report = json.loads(result.stdout)["model"]
        # The light model's input, under whatever name the model gives it.
        probe = subprocess.run([args.cleave, "inspect", path, "--json"], capture_output=True, text=True)
        input_name = json.loads(probe.stdout)["inputs"][0]["name"]
        inputs = ["--input", f"{input_name}={os.path.join(folder, 'input_0.npy')}"]
        original_ms, compressed_ms = latencies([path, compressed], inputs)
        rows.append((name, seconds, report["macs_before"], report["macs_after"], original_ms, compressed_ms,
                     os.path.getsize(path), os.path.getsize(compressed)))
        print(f"  {name}: compress {seconds:.1f} s, original {original_ms:.0f} ms, compressed {compressed_ms:.0f} ms",
              file=sys.stderr)

print(f"rank ratio {args.rank_ratio}, data-free; latency = median of {args.repeats} alternating runs at {args.threads} thread(s)")
print(f"{'model':<12} {'compress s':>10} {'GMACs':>13} {'MB':>13} {'original ms':>12} {'compressed ms':>14} {'speedup':>8}")
for name, seconds, before, after, original_ms, compressed_ms, size_before, size_after in rows:
    print(f"{name:<12} {seconds:>10.1f} {before / 1e9:>6.2f}→{after / 1e9:<6.2f} {size_before / 1e6:>6.0f}→{size_after / 1e6:<6.0f}"
          f" {original_ms:>12.0f} {compressed_ms:>14.0f} {original_ms / compressed_ms:>7.2f}x")
