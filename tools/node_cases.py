#!/usr/bin/env python3
"""Write ONNX's node test cases for a set of ops as model + .npy files.

The onnx wheel ships the generators of its node tests (onnx.backend.test.case)
but not their data, plus the pytorch-converted / pytorch-operator cases as
files. This script materialises every case whose graph uses only the chosen
ops, so a Swift test can run them through cleave's Session:

    <out>/<case>/model.onnx
    <out>/<case>/inputs/<i>.npy     graph inputs in order (data set 0)
    <out>/<case>/outputs/<i>.npy    expected outputs in order
    <out>/<case>/case.json          {"inputs": [names], "outputs": [names], "rtol", "atol"}

Usage (from the repository root):

    .venv/bin/python tools/node_cases.py --out /tmp/node_cases \
        --ops Conv,ConvTranspose,Gemm,MatMul,BatchNormalization,...
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.test.case import node as node_cases

DATA = Path(onnx.__file__).resolve().parent / "backend" / "test" / "data"


def write_case(out: Path, name: str, model: onnx.ModelProto, inputs, outputs, rtol, atol) -> None:
    folder = out / name
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "inputs").mkdir(parents=True)
    (folder / "outputs").mkdir()
    onnx.save(model, folder / "model.onnx")
    initializers = {i.name for i in model.graph.initializer}
    input_names = [i.name for i in model.graph.input if i.name not in initializers]
    output_names = [o.name for o in model.graph.output]
    for i, value in enumerate(inputs):
        np.save(folder / "inputs" / f"{i}.npy", np.asarray(value))
    for i, value in enumerate(outputs):
        np.save(folder / "outputs" / f"{i}.npy", np.asarray(value))
    (folder / "case.json").write_text(json.dumps(
        {"inputs": input_names[: len(inputs)], "outputs": output_names[: len(outputs)],
         "rtol": rtol, "atol": atol}, indent=1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--ops", required=True, help="comma-separated op types a case may use")
    args = parser.parse_args()
    ops = set(args.ops.split(","))
    args.out.mkdir(parents=True, exist_ok=True)
    written = 0

    for case in node_cases.collect_testcases(None):
        used = {n.op_type for n in case.model.graph.node}
        if not used or not used <= ops or not case.data_sets:
            continue
        inputs, outputs = case.data_sets[0]
        write_case(args.out, case.name, case.model, inputs, outputs, case.rtol, case.atol)
        written += 1

    for kind in ("pytorch-converted", "pytorch-operator"):
        for folder in sorted((DATA / kind).iterdir()):
            model = onnx.load(folder / "model.onnx")
            used = {n.op_type for n in model.graph.node}
            data = folder / "test_data_set_0"
            if not used or not used <= ops or not data.exists():
                continue

            def tensors(prefix: str):
                files = sorted(data.glob(f"{prefix}_*.pb"), key=lambda p: int(p.stem.split("_")[1]))
                result = []
                for f in files:
                    t = onnx.TensorProto()
                    t.ParseFromString(f.read_bytes())
                    result.append(numpy_helper.to_array(t))
                return result

            write_case(args.out, folder.name, model, tensors("input"), tensors("output"), 1e-3, 1e-7)
            written += 1

    print(f"wrote {written} cases to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
