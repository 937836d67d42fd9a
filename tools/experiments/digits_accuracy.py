#!/usr/bin/env python3
"""Accuracy against MACs on the trained digits model (README, "Results").

Usage: .venv/bin/python tools/experiments/digits_accuracy.py [.build/release/cleave]

Compresses fixtures/digits/model.onnx at several ranks, data-free (truncated
SVD of the weights) and data-driven (--calibration with 256 training images,
of which compress fits on 192 and holds 64 back to score the fit; response PCA), plus channel pruning with least-squares refit, always on the
layers that carry the MACs (--layers 'conv2|conv3|fc1': the 9-tap first conv
and the 10-way classifier are too narrow to decompose). Each compressed model
runs on the 450 held-out test images in cleave's runtime (`cleave run`), and
its top-1 accuracy is printed next to the original's as a Markdown table.
"""
import json, subprocess, sys, tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent.parent
CLEAVE = str(Path(sys.argv[1]).resolve()) if len(sys.argv) > 1 else str(ROOT / ".build/release/cleave")
DIGITS = ROOT / "fixtures" / "digits"
LAYERS = ["--layers", "conv2|conv3|fc1"]
CALIBRATION = ["--calibration", "image=fixtures/digits/calibration.npy"]

CASES = [("original", [])]
for ratio in ["0.1", "0.15", "0.2", "0.25", "0.3", "0.4"]:
    CASES.append((f"rank ratio {ratio}, data-free", ["--rank-ratio", ratio] + LAYERS))
    CASES.append((f"rank ratio {ratio}, data-driven", ["--rank-ratio", ratio] + LAYERS + CALIBRATION))
for energy in ["0.9", "0.95", "0.98"]:
    CASES.append((f"rank energy {energy}, data-driven", ["--rank-energy", energy] + LAYERS + CALIBRATION))
for ratio in ["0.25", "0.5"]:
    CASES.append((f"prune ratio {ratio}, refit", ["--prune-ratio", ratio] + CALIBRATION))
CASES.append(("prune 0.25 + rank ratio 0.3 + int8, data-driven",
              ["--prune-ratio", "0.25", "--rank-ratio", "0.3", "--weights", "int8"] + LAYERS + CALIBRATION))


def accuracy(model, tmp):
    out = Path(tmp) / "out"
    result = subprocess.run([CLEAVE, "run", str(model), "--input", f"image={DIGITS / 'test_images.npy'}", "--output-dir", str(out)],
                            capture_output=True, text=True, cwd=ROOT)
    if result.returncode != 0:
        sys.exit(f"cleave run {model}: {result.stderr.strip()}")
    labels = np.load(DIGITS / "test_labels.npy")
    return float((np.load(out / "logits.npy").argmax(1) == labels).mean())


def main():
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, options in CASES:
            model = DIGITS / "model.onnx"
            ranks, macs, reduction = "", None, 1.0
            if options:
                model = Path(tmp) / "compressed.onnx"
                result = subprocess.run([CLEAVE, "compress", str(DIGITS / "model.onnx"), "-o", str(model), "--json"] + options,
                                        capture_output=True, text=True, cwd=ROOT)
                if result.returncode != 0:
                    sys.exit(f"cleave compress {options}: {result.stderr.strip()}")
                report = json.loads(result.stdout)
                ranks = ", ".join(f"{l['rank']}" if l["rank"] is not None else f"{l['kept_channels']}/{l['channels']}"
                                  for l in report["layers"] if l["kind"] in ("low_rank", "pruned"))
                macs, reduction = report["model"]["macs_after"], report["model"]["macs_reduction"]
            else:
                probe = subprocess.run([CLEAVE, "inspect", str(model), "--json"], capture_output=True, text=True)
                macs = json.loads(probe.stdout)["totals"]["macs"]
            rows.append((label, ranks, macs, reduction, accuracy(model, tmp)))
            print(f"  {label}: {macs} MACs, accuracy {rows[-1][-1]:.4f}", file=sys.stderr)
    base = rows[0][-1]
    print("| compression | ranks / kept channels | MACs | fewer MACs | test accuracy | change |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for label, ranks, macs, reduction, acc in rows:
        print(f"| {label} | {ranks or '-'} | {macs / 1e6:.2f} M | {reduction:.2f}× | {acc * 100:.2f} % | {(acc - base) * 100:+.2f} |")


if __name__ == "__main__":
    main()
