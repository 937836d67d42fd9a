#!/usr/bin/env python3
"""Materialise the nine "light" model-zoo architectures shipped inside the onnx package.

onnx ships onnx/backend/test/data/light/light_<model>.onnx: real architectures
(AlexNet, VGG-19, ResNet-50, ...) exported by onnx-caffe2, IR 3, opset 9, whose
weights were replaced by ConstantOfShape nodes so each file is a few KiB. Every
one of those nodes reads an int64 shape initializer (<weight>__SHAPE) and fills
it with the float32 constant from its `value` attribute (0.02 in all nine).

This script turns each ConstantOfShape into a real initializer holding exactly
the tensor the node computes (same name, shape, dtype and values), drops the
now unused shape initializers, and keeps the IR 3 rule that every initializer
is also listed in graph.input. The result is a full-size model the Swift side
can load, with reference data:

    <out>/<short>.onnx
    <out>/<short>/input_0.npy       the input onnx's backend test runner uses:
                                    arange(n) / n reshaped to the input shape,
                                    computed in float64, cast to float32
    <out>/<short>/output_0.npy      the reference output onnx ships
                                    (light_<model>_output_0.pb)
    <out>/<short>/ort_output_0.npy  ONNX Runtime's output on <short>.onnx

It also runs ONNX Runtime on the original light file and requires the two
outputs to be bit-identical (same values in, same kernels, same result).

Caveat: with every weight equal, each model's final output is the same for
any input (a softmax of 1000 equal logits is 0.001 everywhere; densenet121's
fc6 is 0.46095502 everywhere), so the shipped output cannot confirm the
input recipe; that comes from onnx's runner (generate_dummy_data with
random=False). Intermediate tensors do depend on the input.

Usage (from the repository root):

    .venv/bin/python tools/light_models.py [--only NAME[,NAME]] [--out DIR] [--force]

Default output is .models/light (gitignored). Models already generated are
skipped unless --force. One line per model: file size and the largest absolute
difference between ORT's output and the shipped one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
LIGHT_DIR = Path(onnx.__file__).resolve().parent / "backend" / "test" / "data" / "light"

# short name -> name in light_<name>.onnx
MODELS = {
    "alexnet": "bvlc_alexnet",
    "vgg19": "vgg19",
    "resnet50": "resnet50",
    "squeezenet": "squeezenet",
    "densenet121": "densenet121",
    "inception_v1": "inception_v1",
    "inception_v2": "inception_v2",
    "shufflenet": "shufflenet",
    "zfnet512": "zfnet512",
}


def constant_of_shape_value(node: onnx.NodeProto) -> np.ndarray:
    """The one-element fill tensor of a ConstantOfShape node (default: float32 0)."""
    for attr in node.attribute:
        if attr.name == "value":
            value = numpy_helper.to_array(attr.t)
            if value.size != 1:
                raise ValueError(f"ConstantOfShape {node.output[0]!r}: value has {value.size} elements")
            return value.reshape(1)
    return np.zeros(1, dtype=np.float32)


def materialise(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """Replace every ConstantOfShape fed by a constant shape with an initializer, in place."""
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}

    # ConstantOfShape output -> new initializer; grouped by the shape tensor it came from
    made: dict[str, list[TensorProto]] = {}
    kept_nodes = []
    for node in graph.node:
        if node.op_type == "ConstantOfShape" and node.domain in ("", "ai.onnx") \
                and node.input and node.input[0] in inits:
            shape = numpy_helper.to_array(inits[node.input[0]]).astype(np.int64)
            fill = constant_of_shape_value(node)
            arr = np.full(tuple(int(d) for d in shape), fill[0], dtype=fill.dtype)
            t = TensorProto()
            t.name = node.output[0]
            t.data_type = helper.np_dtype_to_tensor_dtype(arr.dtype)
            t.dims.extend(arr.shape)
            t.raw_data = arr.tobytes()
            del arr
            made.setdefault(node.input[0], []).append(t)
        else:
            kept_nodes.append(node)
    count = sum(len(v) for v in made.values())
    if count == 0:
        return model, 0

    still_used = {name for node in kept_nodes for name in node.input}
    still_used |= {o.name for o in graph.output}
    dropped = {name for name in made if name not in still_used}

    # Put each new weight where its shape tensor was, in initializer and input lists.
    new_inits = []
    for t in graph.initializer:
        if t.name not in dropped:
            new_inits.append(t)
        new_inits.extend(made.get(t.name, []))
    listed_as_input = {vi.name for vi in graph.input}
    needs_input = model.ir_version < 4  # IR 3: every initializer is a graph input
    new_inputs = []
    placed = set()
    for vi in graph.input:
        if vi.name not in dropped:
            new_inputs.append(vi)
        if needs_input and vi.name in made:
            for t in made[vi.name]:
                new_inputs.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
                placed.add(t.name)
    if needs_input:
        for tensors in made.values():
            for t in tensors:
                if t.name not in placed and t.name not in listed_as_input:
                    new_inputs.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))

    del graph.node[:]
    graph.node.extend(kept_nodes)
    del graph.initializer[:]
    graph.initializer.extend(new_inits)
    del graph.input[:]
    graph.input.extend(new_inputs)
    return model, count


def data_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    inits = {t.name for t in model.graph.initializer}
    return [vi for vi in model.graph.input if vi.name not in inits]


def reference_input(vi: onnx.ValueInfoProto) -> np.ndarray:
    """The input onnx's backend runner feeds light models (generate_dummy_data, random=False)."""
    shape = tuple(d.dim_value if d.HasField("dim_value") else 1
                  for d in vi.type.tensor_type.shape.dim)
    n = int(np.prod(shape))
    return (np.arange(n).reshape(shape) / n).astype(np.float32)


def run_ort(path: Path, feeds: dict[str, np.ndarray]) -> np.ndarray:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return sess.run([sess.get_outputs()[0].name], feeds)[0]


def save_npy(path: Path, arr: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.save(f, np.array(arr, order="C"))
    os.replace(tmp, path)


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def build(short: str, out: Path, force: bool) -> str:
    light = LIGHT_DIR / f"light_{MODELS[short]}.onnx"
    shipped_pb = LIGHT_DIR / f"light_{MODELS[short]}_output_0.pb"
    model_path = out / f"{short}.onnx"
    data_dir = out / short
    files = [model_path, data_dir / "input_0.npy", data_dir / "output_0.npy",
             data_dir / "ort_output_0.npy"]

    if not force and all(p.exists() for p in files):
        diff = max_abs_diff(np.load(files[3]), np.load(files[2]))
        size = model_path.stat().st_size
        return f"{short:13s} {size / 2**20:8.1f} MiB  max|ORT-shipped| {diff:.3g}  (exists, skipped)"

    start = time.monotonic()
    data_dir.mkdir(parents=True, exist_ok=True)
    model = onnx.load(str(light))
    (vi,) = data_inputs(model)
    x = reference_input(vi)
    shipped = numpy_helper.to_array(onnx.load_tensor(str(shipped_pb)))

    model, replaced = materialise(model)
    tmp = model_path.with_name(model_path.name + ".tmp")
    onnx.save_model(model, str(tmp))
    del model
    onnx.checker.check_model(str(tmp))

    feeds = {vi.name: x}
    got = run_ort(tmp, feeds)
    original = run_ort(light, feeds)
    if got.dtype != original.dtype or got.shape != original.shape \
            or got.tobytes() != original.tobytes():
        raise SystemExit(f"{short}: ORT output of the materialised model is not bit-identical "
                         f"to the light file's (max diff {max_abs_diff(got, original):.3g})")
    if got.shape != shipped.shape:
        raise SystemExit(f"{short}: ORT output shape {got.shape} != shipped {shipped.shape}")

    save_npy(data_dir / "input_0.npy", x)
    save_npy(data_dir / "output_0.npy", shipped)
    save_npy(data_dir / "ort_output_0.npy", got)
    os.replace(tmp, model_path)
    size = model_path.stat().st_size
    return (f"{short:13s} {size / 2**20:8.1f} MiB  max|ORT-shipped| {max_abs_diff(got, shipped):.3g}"
            f"  ({replaced} weights, bit-identical to light file, {time.monotonic() - start:.0f}s)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="comma-separated short names: " + ", ".join(MODELS))
    ap.add_argument("--out", type=Path, default=ROOT / ".models" / "light",
                    help="output folder (default: .models/light)")
    ap.add_argument("--force", action="store_true", help="rebuild models that already exist")
    args = ap.parse_args(argv)

    names = list(MODELS)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in MODELS]
        if unknown:
            ap.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    for name in names:
        print(build(name, args.out, args.force), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
