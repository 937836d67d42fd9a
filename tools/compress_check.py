#!/usr/bin/env python3
"""ONNX Runtime oracle for `cleave compress`: compressed models are standard ONNX.

Usage: .venv/bin/python tools/compress_check.py [.build/debug/cleave]

For each case (a fixture and a set of compress options: BN folding, low-rank
with and without calibration data, pruning, fp16 and int8 weights, and
combinations, over every exporter style) it runs `cleave compress`, then
checks that the output
  - passes onnx.checker (full_check, with shape inference),
  - loads and runs in ONNX Runtime (CPU provider, graph optimisations off, so
    every node runs as written),
  - gives the same outputs in cleave's runtime (`cleave run`) as in ONNX
    Runtime: |a - b| <= 1e-4 + 1e-3 |b|, element-wise,
  - keeps the `cleave.bottlenecks` metadata pointing at tensors the model computes,
and prints how far each compressed model's outputs are from the original's
(relative L2, ONNX Runtime on both). Exits 1 if any check fails.
"""
import json, subprocess, sys, tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
CLEAVE = str(Path(sys.argv[1]).resolve()) if len(sys.argv) > 1 else str(ROOT / ".build/debug/cleave")
DIGITS_CALIBRATION = "image=fixtures/digits/calibration.npy"  # commands run from the repository root

CASES = [
    ("digits", []),
    ("digits", ["--rank-ratio", "0.25", "--layers", "conv2|conv3|fc1", "--calibration", DIGITS_CALIBRATION]),
    ("digits", ["--rank-energy", "0.7"]),
    ("digits", ["--prune-ratio", "0.5", "--calibration", DIGITS_CALIBRATION]),
    ("digits", ["--prune-ratio", "0.25", "--rank-ratio", "0.3", "--layers", "conv2|conv3|fc1", "--weights", "int8",
                "--calibration", DIGITS_CALIBRATION]),
    ("digits", ["--weights", "fp16"]),
    ("pytorch_style", []),
    ("pytorch_style", ["--rank-ratio", "0.5"]),
    ("pytorch_style", ["--prune-ratio", "0.5"]),
    ("pytorch_style", ["--prune-ratio", "0.3", "--rank-energy", "0.9", "--weights", "int8"]),
    ("pytorch_style", ["--weights", "fp16", "--no-fold-batch-norm"]),
    ("external_data", ["--rank-ratio", "0.5"]),
    ("tf2onnx_style", ["--rank-ratio", "0.5"]),
    ("tf2onnx_style", ["--weights", "int8"]),
    ("paddle_style", ["--input-shape", "x=1,3,24,24", "--rank-ratio", "0.5"]),
    ("paddle_style", ["--input-shape", "x=1,3,24,24", "--prune-ratio", "0.3", "--weights", "int8"]),
    ("caffe2_style", ["--rank-ratio", "0.5"]),
    ("caffe2_style", ["--weights", "int8"]),
    ("caffe2_style", ["--weights", "fp16"]),
    ("mixed_ops", ["--weights", "int8"]),
]


def ort_run(path, feeds):
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))


def file_safe(name):
    return "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)


def main():
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for number, (fixture, options) in enumerate(CASES):
            label = f"{fixture} {' '.join(o if ' ' not in o else repr(o) for o in options) or '(BN folding only)'}"
            spec = json.loads((FIXTURES / fixture / "fixture.json").read_text())
            feeds = {i["name"]: np.load(FIXTURES / fixture / i["file"]) for i in spec["inputs"]}
            out = tmp / f"case{number}.onnx"
            result = subprocess.run([CLEAVE, "compress", str(FIXTURES / fixture / "model.onnx"), "-o", str(out), "--json"]
                                    + options, capture_output=True, text=True, cwd=ROOT)
            if result.returncode != 0:
                failures.append(f"{label}: cleave compress exited {result.returncode}: {result.stderr.strip()}")
                continue
            report = json.loads(result.stdout)
            try:
                model = onnx.load(str(out))
                onnx.checker.check_model(model, full_check=True)
                compressed = ort_run(out, feeds)
            except Exception as error:  # noqa: BLE001 - any failure to load or run is the finding
                failures.append(f"{label}: ONNX Runtime cannot load or run the output: {error}")
                continue
            computed = {o for n in model.graph.node for o in n.output}
            marked = [p.value for p in model.metadata_props if p.key == "cleave.bottlenecks"]
            listed = [t for v in marked for t in v.split(",") if t]
            if sorted(listed) != sorted(report["bottlenecks"]) or any(t not in computed for t in listed):
                failures.append(f"{label}: cleave.bottlenecks metadata {listed} does not match the report {report['bottlenecks']}")

            run_dir = tmp / f"run{number}"
            command = [CLEAVE, "run", str(out), "--output-dir", str(run_dir)]
            for name in feeds:
                command += ["--input", f"{name}={FIXTURES / fixture / 'inputs' / (file_safe(name) + '.npy')}"]
            ran = subprocess.run(command, capture_output=True, text=True)
            if ran.returncode != 0:
                failures.append(f"{label}: cleave run exited {ran.returncode}: {ran.stderr.strip()}")
                continue
            worst = 0.0
            for name, expected in compressed.items():
                actual = np.load(run_dir / (file_safe(name) + ".npy"))
                if actual.shape != expected.shape:
                    failures.append(f"{label}: output {name} is {actual.shape} in cleave, {expected.shape} in ONNX Runtime")
                    continue
                if expected.dtype.kind == "f":
                    excess = np.abs(actual - expected) - (1e-4 + 1e-3 * np.abs(expected))
                    worst = max(worst, float(np.abs(actual - expected).max(initial=0)))
                    if (excess > 0).any():
                        failures.append(f"{label}: output {name}: cleave and ONNX Runtime differ by up to {worst:.3g}")
                elif not np.array_equal(actual, expected):
                    failures.append(f"{label}: output {name} differs between cleave and ONNX Runtime")
            original = ort_run(FIXTURES / fixture / "model.onnx", feeds)
            num = sum(float(((compressed[k] - v) ** 2).sum()) for k, v in original.items() if v.dtype.kind == "f")
            den = sum(float((v ** 2).sum()) for v in original.values() if v.dtype.kind == "f")
            m = report["model"]
            print(f"{label:<75} MACs {m['macs_before']:>9} -> {m['macs_after']:>9}  "
                  f"vs original {np.sqrt(num / max(den, 1e-30)):8.2e}  cleave vs ORT max |d| {worst:.1e}")
    for failure in failures:
        print("FAIL", failure)
    failed = len({f.split(':')[0] for f in failures})
    print(f"compress: {len(CASES) - failed} passed, {failed} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
