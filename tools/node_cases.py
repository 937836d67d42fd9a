#!/usr/bin/env python3
"""Extract ONNX's own node test cases that cleave can run, as .npy files.

For every case of the ONNX backend node suite whose model uses only ops
cleave supports (the raw values of `enum Op` in Sources/CleaveIR/Op.swift),
and, with --ops, at least one of the listed ops, this writes

    OUT/<case>/model.onnx
    OUT/<case>/input_<j>.npy, output_<j>.npy      (test data set 0)
    OUT/index.json                                 (every case, see below)

Cases come from onnx/backend/test/data/node when the installed wheel ships
it, else they are generated from the wheel's case definitions
(onnx.backend.test.case.node), which is how ONNX builds that folder. With
--suites the wheel's other stored suites (pytorch-converted,
pytorch-operator, simple) can be added.

A generated case is stamped with the opset where its op was last changed,
which for many ops is newer than the opsets cleave targets (7-21) only
because new element types were added. Such a case is rewritten to opset 21
(and IR 10) when the ONNX checker accepts it there and ONNX Runtime, run on
the rewritten model, reproduces the expected outputs; the index records the
original opset. A case that cannot be moved keeps its opset.

tools/node_case_exclusions.txt lists cases left out on purpose, one
`pattern  # reason` per line (fnmatch patterns); they are still written,
marked "excluded" in the index, and NodeCaseTests skips them.

Usage: .venv/bin/python tools/node_cases.py [-o .models/node-cases] [--ops Relu,Add] [--suites node,simple]
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import sys
import warnings

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_OPSET = 21
TARGET_IR = 10


def supported_ops() -> set[str]:
    text = open(os.path.join(ROOT, "Sources/CleaveIR/Op.swift"), encoding="utf-8").read()
    body = text[text.index("public enum Op"):]
    body = body[: body.index("\n}")]
    return set(re.findall(r'case `?\w+`? = "(\w+)"', body))


def exclusions() -> list[tuple[str, str]]:
    path = os.path.join(ROOT, "tools/node_case_exclusions.txt")
    rules = []
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pattern, _, reason = line.partition("#")
        rules.append((pattern.strip(), reason.strip()))
    return rules


def read_folder_cases(data_dir):
    """Cases stored as <case>/model.onnx + test_data_set_0/{input,output}_<j>.pb."""
    for name in sorted(os.listdir(data_dir)):
        folder = os.path.join(data_dir, name)
        data = os.path.join(folder, "test_data_set_0")
        if not os.path.isfile(os.path.join(folder, "model.onnx")) or not os.path.isdir(data):
            continue
        model = onnx.load(os.path.join(folder, "model.onnx"))

        def read(prefix):
            files = [f for f in os.listdir(data) if f.startswith(prefix + "_") and f.endswith(".pb")]
            files.sort(key=lambda f: int(f[len(prefix) + 1 : -3]))
            protos = []
            for f in files:
                t = onnx.TensorProto()
                t.ParseFromString(open(os.path.join(data, f), "rb").read())
                protos.append(t)
            return protos

        yield name, model, read("input"), read("output")


def load_cases(suites):
    """Yields (name, model, inputs, outputs) with numpy arrays or TensorProtos."""
    data_root = os.path.join(os.path.dirname(onnx.__file__), "backend/test/data")
    for suite in suites:
        data_dir = os.path.join(data_root, suite)
        if os.path.isdir(data_dir):
            yield from read_folder_cases(data_dir)
        elif suite == "node":
            import onnx.backend.test.case.node as node_cases

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cases = node_cases.collect_testcases()
            for case in cases:
                inputs, outputs = case.data_sets[0]
                yield case.name, case.model, list(inputs), list(outputs)
        else:
            raise SystemExit(f"no suite {suite!r} under {data_root}")
def to_array(value):
    if isinstance(value, onnx.TensorProto):
        return numpy_helper.to_array(value)
    if isinstance(value, np.ndarray) or np.isscalar(value):
        return np.asarray(value)
    raise TypeError(f"{type(value).__name__} is not a tensor")


def ai_onnx_opset(model) -> int:
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return o.version
    return 0


def lowered(model, inputs, outputs):
    """The model rewritten to TARGET_OPSET if that keeps it valid and ORT agrees; else None."""
    candidate = onnx.ModelProto()
    candidate.CopyFrom(model)
    for o in candidate.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = TARGET_OPSET
    candidate.ir_version = TARGET_IR
    try:
        onnx.checker.check_model(candidate, full_check=True)
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(candidate.SerializeToString(), options, providers=["CPUExecutionProvider"])
        feeds = {i.name: a for i, a in zip(candidate.graph.input, inputs)}
        got = session.run(None, feeds)
    except Exception:  # noqa: BLE001 - any failure means "keep the original opset"
        return None
    for g, e in zip(got, outputs):
        if g.shape != e.shape or g.dtype != e.dtype:
            return None
        if np.issubdtype(e.dtype, np.floating):
            if not np.allclose(g, e, rtol=1e-3, atol=1e-4, equal_nan=True):
                return None
        elif not np.array_equal(g, e):
            return None
    return candidate


def write_arrays(folder, prefix, arrays, names):
    """Saves arrays as <prefix>_<j>.npy; ValueError for dtypes .npy cannot hold without pickling."""
    written = []
    for j, array in enumerate(arrays):
        if array.dtype.kind not in "biuf":
            raise ValueError(f"{prefix} {j} has dtype {array.dtype}, which .npy cannot hold portably")
        file = f"{prefix}_{j}.npy"
        # C order: cleave's .npy reader (like most) rejects Fortran-order arrays.
        np.save(os.path.join(folder, file), np.asarray(array, order="C"), allow_pickle=False)
        written.append({"name": names[j], "file": file, "dtype": str(array.dtype)})
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", default=os.path.join(ROOT, ".models/node-cases"))
    parser.add_argument("--ops", default="", help="comma-separated op types; default: every supported op")
    parser.add_argument("--suites", default="node",
                        help="comma-separated suites under onnx/backend/test/data: node (default), "
                             "pytorch-converted, pytorch-operator, simple")
    args = parser.parse_args()

    supported = supported_ops()
    wanted = {o for o in args.ops.split(",") if o} or supported
    unknown = wanted - supported
    if unknown:
        print(f"not supported by cleave: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 64
    rules = exclusions()

    if os.path.exists(args.output):
        shutil.rmtree(args.output)
    os.makedirs(args.output)
    index = []
    for name, model, raw_inputs, raw_outputs in load_cases(args.suites.split(",")):
        used = {n.op_type for n in model.graph.node}
        if any(n.domain not in ("", "ai.onnx") for n in model.graph.node) or not used <= supported:
            continue
        if not used & wanted:
            continue
        if any(e["name"] == name for e in index):
            print(f"skipping a second case named {name}", file=sys.stderr)
            continue
        entry = {"name": name, "ops": sorted(used), "opset": ai_onnx_opset(model)}
        reason = next((r for p, r in rules if fnmatch.fnmatchcase(name, p)), None)
        if reason is not None:
            entry["excluded"] = reason
        try:
            inputs = [to_array(v) for v in raw_inputs]
            outputs = [to_array(v) for v in raw_outputs]
        except TypeError as error:
            entry["unwritable"] = str(error)
            index.append(entry)
            continue
        if entry["opset"] > TARGET_OPSET:
            moved = lowered(model, inputs, outputs)
            if moved is not None:
                entry["source_opset"] = entry["opset"]
                entry["opset"] = TARGET_OPSET
                model = moved
        folder = os.path.join(args.output, name)
        os.makedirs(folder)
        onnx.save(model, os.path.join(folder, "model.onnx"))
        try:
            entry["inputs"] = write_arrays(folder, "input", inputs, [i.name for i in model.graph.input])
            entry["outputs"] = write_arrays(folder, "output", outputs, [o.name for o in model.graph.output])
        except ValueError as error:
            entry["unwritable"] = str(error)
        index.append(entry)

    with open(os.path.join(args.output, "index.json"), "w", encoding="utf-8") as f:
        json.dump({"cases": index}, f, indent=1, sort_keys=True)
    excluded = sum(1 for e in index if "excluded" in e)
    moved = sum(1 for e in index if "source_opset" in e)
    print(f"{len(index)} cases written to {args.output} ({excluded} excluded, {moved} moved to opset {TARGET_OPSET})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
