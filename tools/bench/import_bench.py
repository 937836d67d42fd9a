"""Import speed and memory: `cleave inspect` / `cleave convert` next to Python `onnx.load`.

Usage: .venv/bin/python tools/bench/import_bench.py [--cleave .build/release/cleave]
                                                   [--model .models/light/vgg19.onnx] [--repeats 5]
Each command runs in its own process; wall time is the median of the repeats,
peak RSS the largest seen (ru_maxrss of the child). Prints a table with ratios.
"""
import argparse, os, resource, statistics, subprocess, sys, tempfile, time

parser = argparse.ArgumentParser()
parser.add_argument("--cleave", default=".build/release/cleave")
parser.add_argument("--model", default=".models/light/vgg19.onnx")
parser.add_argument("--repeats", type=int, default=5)
args = parser.parse_args()
if not os.path.exists(args.model):
    sys.exit(f"{args.model} is missing: run .venv/bin/python tools/light_models.py --only vgg19")
size = os.path.getsize(args.model)


def measure(command):
    """Median wall seconds and peak RSS bytes of `command` over the repeats."""
    times, peaks = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, _, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        if proc.returncode not in (0, None) and usage is None:
            sys.exit(f"{command} failed")
        times.append(elapsed)
        peaks.append(usage.ru_maxrss * 1024)
    return statistics.median(times), max(peaks)


python = sys.executable
with tempfile.TemporaryDirectory() as tmp:
    rows = [
        ("cleave inspect", measure([args.cleave, "inspect", args.model])),
        ("cleave inspect --json", measure([args.cleave, "inspect", args.model, "--json"])),
        ("python onnx.load", measure([python, "-c", f"import onnx; onnx.load({args.model!r})"])),
        ("cleave convert", measure([args.cleave, "convert", args.model, "-o", os.path.join(tmp, "c.onnx")])),
        ("python onnx.load+save", measure([python, "-c", f"import onnx; onnx.save(onnx.load({args.model!r}), {os.path.join(tmp, 'p.onnx')!r})"])),
    ]

print(f"model: {args.model} ({size / 1e6:.1f} MB), {args.repeats} repeats, median wall time, peak RSS")
print(f"{'command':<24} {'time s':>8} {'peak RSS MB':>12} {'RSS/size':>9}")
for name, (seconds, peak) in rows:
    print(f"{name:<24} {seconds:>8.3f} {peak / 1e6:>12.1f} {peak / size:>9.2f}")
load = dict(rows)["python onnx.load"][0]
print(f"inspect vs onnx.load: {load / dict(rows)['cleave inspect'][0]:.1f}x faster")
save = dict(rows)["python onnx.load+save"][0]
print(f"convert vs onnx.load+save: {save / dict(rows)['cleave convert'][0]:.1f}x faster")
