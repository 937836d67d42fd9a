#!/usr/bin/env python3
"""Single-node cases for Conv, ConvTranspose, the pools, Gemm, MatMul and the
normalisations, with ONNX Runtime's outputs as the reference.

ONNX's node suite (tools/node_cases.py) has a few dozen cases for these ops,
mostly at default attributes. This adds randomized attribute combinations
(pads, auto_pad, strides, dilations, groups, depthwise, ceil_mode,
count_include_pad, output_shape, output_padding, transposes, broadcasting)
and the older opset forms (Gemm-7 with required C, BatchNormalization-7's
`spatial`, MaxPool-8's storage_order), written in node_cases.py's folder
layout and index.json format so NodeCaseTests runs them:

    .venv/bin/python tools/ort_window_cases.py [-o .models/ort-window-cases] [--seed N] [--count N]
    CLEAVE_NODE_CASES=$PWD/.models/ort-window-cases swift test --filter NodeCaseTests

A random combination ONNX Runtime itself refuses is skipped (and counted).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IR_FOR_OPSET = {1: 3, 6: 3, 7: 3, 8: 3, 9: 4, 10: 5, 11: 6, 12: 7, 13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10}


def cases(rng: random.Random, count: int):
    """Yields (name, op, opset, [(input name, array or None)], output count, attributes)."""
    R = rng.randint
    nrng = np.random.default_rng(rng.randrange(1 << 30))

    def rnd(*shape, dtype=np.float32):
        return nrng.uniform(-1, 1, shape).astype(dtype)

    def window(rank, kmax=3, smax=3, dmax=2):
        k = [R(1, kmax) for _ in range(rank)]
        return k, [R(1, smax) for _ in range(rank)], [R(1, dmax) for _ in range(rank)]

    for t in range(count):
        rank = rng.choice([1, 2, 2, 3])
        op = rng.choice(["MaxPool", "AveragePool"])
        k, s, d = window(rank)
        ins = [R((kk - 1) * dd + 1, (kk - 1) * dd + 7) for kk, dd in zip(k, d)]
        attrs = dict(kernel_shape=k, strides=s, dilations=d, ceil_mode=R(0, 1))
        if R(0, 1):
            attrs["auto_pad"] = rng.choice(["SAME_UPPER", "SAME_LOWER", "VALID"])
        else:
            attrs["pads"] = [R(0, kk - 1) for kk in k] + [R(0, kk - 1) for kk in k]
        outputs = 1
        if op == "AveragePool":
            attrs["count_include_pad"] = R(0, 1)
        elif R(0, 1):
            outputs = 2
            attrs["storage_order"] = R(0, 1)
        yield f"pool_{t}", op, 19, [("x", rnd(R(1, 2), R(1, 3), *ins))], outputs, attrs

    for t in range(count):
        rank = rng.choice([1, 2, 2, 2, 3])
        group = rng.choice([1, 1, 2, 3])
        depthwise = R(0, 3) == 0
        channels = group * (1 if depthwise else R(1, 3))
        outputs = group * R(1, 3)
        k, s, d = window(rank)
        ins = [R((kk - 1) * dd + 1, (kk - 1) * dd + (4 if rank == 3 else 9)) for kk, dd in zip(k, d)]
        attrs = dict(strides=s, dilations=d, group=group)
        if R(0, 2) == 0:
            attrs["auto_pad"] = rng.choice(["SAME_UPPER", "SAME_LOWER", "VALID"])
        else:
            attrs["pads"] = [R(0, 2) for _ in range(2 * rank)]
        bias = rnd(outputs) if R(0, 1) else None
        yield (f"conv_{t}", "Conv", rng.choice([7, 11, 13, 21]),
               [("x", rnd(R(1, 2), channels, *ins)), ("w", rnd(outputs, channels // group, *k)), ("b", bias)], 1, attrs)

    for t in range(count * 2 // 3):
        rank = rng.choice([1, 2, 2, 3])
        group = rng.choice([1, 1, 2])
        channels, per_group = group * R(1, 3), R(1, 3)
        k, s, d = window(rank)
        ins = [R(1, 5) for _ in range(rank)]
        attrs = dict(strides=s, dilations=d, group=group)
        mode = R(0, 3)
        if mode == 0:
            attrs["output_shape"] = [max(1, ss * (i - 1) + (kk - 1) * dd + 1 + R(-2, 2)) for ss, i, kk, dd in zip(s, ins, k, d)]
        elif mode == 1:
            attrs["auto_pad"] = rng.choice(["SAME_UPPER", "SAME_LOWER"])
            if R(0, 1):
                attrs["output_padding"] = [R(0, ss - 1) for ss in s]
        else:
            attrs["output_padding"] = [R(0, ss - 1) for ss in s]
            attrs["pads"] = [R(0, 1) for _ in range(2 * rank)]
        bias = rnd(per_group * group) if R(0, 1) else None
        yield (f"convtranspose_{t}", "ConvTranspose", rng.choice([11, 21]),
               [("x", rnd(R(1, 2), channels, *ins)), ("w", rnd(channels, per_group, *k)), ("b", bias)], 1, attrs)

    for t in range(count // 3):
        m, n, kk = R(1, 9), R(1, 9), R(1, 40)
        ta, tb = R(0, 1), R(0, 1)
        opset = rng.choice([7, 9, 11, 13])
        c = rng.choice(([None] if opset >= 11 else []) + [(), (n,), (1, n), (m, 1), (m, n)])
        a = rnd(*((kk, m) if ta else (m, kk)))
        b = rnd(*((n, kk) if tb else (kk, n)))
        yield (f"gemm{opset}_{t}", "Gemm", opset, [("a", a), ("b", b), ("c", None if c is None else rnd(*c))], 1,
               dict(alpha=rng.uniform(-2, 2), beta=rng.uniform(-2, 2), transA=ta, transB=tb))

    for t in range(count // 3):
        batch = [R(1, 3) for _ in range(R(0, 2))]
        m, n, kk = R(1, 6), R(1, 6), R(1, 20)
        a_dims = ([rng.choice([1, x]) for x in batch] if R(0, 1) else batch[R(0, len(batch)):]) + [m, kk]
        b_dims = ([rng.choice([1, x]) for x in batch] if R(0, 1) else batch[R(0, len(batch)):]) + [kk, n]
        if R(0, 4) == 0:
            a_dims = [kk]
        if R(0, 4) == 0:
            b_dims = [kk]
        yield f"matmul_{t}", "MatMul", 13, [("a", rnd(*a_dims)), ("b", rnd(*b_dims))], 1, {}

    for t in range(count // 6):
        dims = [R(1, 2), R(1, 6)] + [R(1, 5) for _ in range(R(0, 3))]
        size = R(1, 6)
        yield (f"lrn_{t}", "LRN", 13, [("x", rnd(*dims))], 1,
               dict(size=size, alpha=rng.uniform(1e-4, 1), beta=rng.uniform(0.1, 1.5), bias=rng.uniform(0.5, 3)))
        dims = [R(1, 2), R(1, 4)] + [R(1, 6) for _ in range(R(1, 3))]
        yield (f"instancenorm_{t}", "InstanceNormalization", 6,
               [("x", rnd(*dims)), ("scale", rnd(dims[1])), ("b", rnd(dims[1]))], 1, dict(epsilon=rng.uniform(1e-5, 0.1)))
        op = rng.choice(["GlobalAveragePool", "GlobalMaxPool"])
        yield f"global_{t}", op, 1, [("x", rnd(*dims))], 1, {}

    # Forms by opset rather than at random.
    x = rnd(2, 3, 4, 5)

    def statistics(*shape):
        return [("scale", rnd(*shape)), ("bias", rnd(*shape)), ("mean", rnd(*shape)),
                ("var", (np.abs(rnd(*shape)) + 0.1).astype(np.float32))]

    yield "batchnorm7_spatial", "BatchNormalization", 7, [("x", x)] + statistics(3), 1, dict(epsilon=1e-3)
    yield "batchnorm7_per_position", "BatchNormalization", 7, [("x", x)] + statistics(3, 4, 5), 1, dict(spatial=0)
    yield "batchnorm9", "BatchNormalization", 9, [("x", x)] + statistics(3), 1, {}
    yield "batchnorm9_rank2", "BatchNormalization", 9, [("x", rnd(4, 3))] + statistics(3), 1, {}
    yield "batchnorm15", "BatchNormalization", 15, [("x", x)] + statistics(3), 1, dict(epsilon=0.01)
    yield "maxpool8_indices_column_major", "MaxPool", 8, [("x", x)], 2, dict(kernel_shape=[2, 2], storage_order=1)
    yield "maxpool12_uint8", "MaxPool", 12, [("x", (nrng.integers(0, 255, (1, 2, 5, 5))).astype(np.uint8))], 1, dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    yield "maxpool12_int8", "MaxPool", 12, [("x", (nrng.integers(-128, 127, (1, 2, 5, 5))).astype(np.int8))], 1, dict(kernel_shape=[2, 2], strides=[2, 2])
    yield "averagepool7_count_include_pad", "AveragePool", 7, [("x", x)], 1, dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1)
    yield "averagepool10_ceil", "AveragePool", 10, [("x", x)], 1, dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    yield "matmul13_double", "MatMul", 13, [("a", rnd(2, 3, 4, dtype=np.float64)), ("b", rnd(4, 5, dtype=np.float64))], 1, {}
    yield "gemm13_double", "Gemm", 13, [("a", rnd(3, 4, dtype=np.float64)), ("b", rnd(5, 4, dtype=np.float64)), ("c", rnd(5, dtype=np.float64))], 1, dict(transB=1, alpha=0.5)
    yield "matmul13_float16", "MatMul", 13, [("a", rnd(3, 8, dtype=np.float16)), ("b", rnd(8, 2, dtype=np.float16))], 1, {}


def build(name, op, opset, inputs, outputs, attrs):
    node_inputs = [n if a is not None else "" for n, a in inputs]
    while node_inputs and node_inputs[-1] == "":
        node_inputs.pop()
    output_names = ["y"] + [f"y{i}" for i in range(1, outputs)]
    node = helper.make_node(op, node_inputs, output_names, **attrs)
    graph_inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
                    for n, a in inputs if a is not None]
    graph_outputs = [onnx.ValueInfoProto(name=o) for o in output_names]
    graph = helper.make_graph([node], name, graph_inputs, graph_outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = IR_FOR_OPSET[opset]
    return model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", default=os.path.join(ROOT, ".models/ort-window-cases"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--count", type=int, default=120, help="random cases per window op (fewer for the others)")
    args = parser.parse_args()
    if os.path.exists(args.output):
        shutil.rmtree(args.output)
    os.makedirs(args.output)
    options = ort.SessionOptions()
    options.log_severity_level = 4
    index, refused = [], 0
    for name, op, opset, inputs, outputs, attrs in cases(random.Random(args.seed), args.count):
        model = build(name, op, opset, inputs, outputs, attrs)
        feeds = {n: a for n, a in inputs if a is not None}
        try:
            session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
            results = session.run(None, feeds)
        except Exception:  # noqa: BLE001 - ONNX Runtime refuses some random combinations; leave them out
            refused += 1
            continue
        folder = os.path.join(args.output, name)
        os.makedirs(folder)
        onnx.save(model, os.path.join(folder, "model.onnx"))
        entry = {"name": name, "ops": [op], "opset": opset, "inputs": [], "outputs": []}
        for j, (n, a) in enumerate(feeds.items()):
            np.save(os.path.join(folder, f"input_{j}.npy"), np.asarray(a, order="C"))
            entry["inputs"].append({"name": n, "file": f"input_{j}.npy", "dtype": str(a.dtype)})
        for j, (o, a) in enumerate(zip(model.graph.output, results)):
            np.save(os.path.join(folder, f"output_{j}.npy"), np.asarray(a, order="C"))
            entry["outputs"].append({"name": o.name, "file": f"output_{j}.npy", "dtype": str(a.dtype)})
        index.append(entry)
    with open(os.path.join(args.output, "index.json"), "w", encoding="utf-8") as f:
        json.dump({"cases": index}, f, indent=1, sort_keys=True)
    print(f"{len(index)} cases written to {args.output} ({refused} combinations ONNX Runtime refused, left out)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
