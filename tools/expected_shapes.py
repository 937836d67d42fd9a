#!/usr/bin/env python3
"""Write the shape expectations cleave's analysis tests compare against.

Run from the repository root (after tools/setup.sh and with fixtures/ in place):

    .venv/bin/python tools/expected_shapes.py

Writes two files under Tests/CleaveIRTests/Data/:

fixture_shapes.json
    For every fixture in fixtures/*/fixture.json: the dtype and shape ONNX's
    own shape inference (onnx.shape_inference.infer_shapes with data_prop=True)
    gives every value of the graph once the inputs have the concrete shapes the
    fixture was run with. Values whose shape ONNX cannot make concrete are left out.

node_cases.json
    ONNX's node conformance cases (onnx.backend.test.case.node) whose nodes all
    use operators cleave supports, described so the Swift test can build each
    graph by hand: opset, nodes with attributes, inputs (with their values when
    small, so the test can make them constants) and ONNX Runtime-checked
    expected outputs (dtype, shape, and values when small). The outputs are the
    arrays the ONNX project ships with each case, which ONNX Runtime's own
    conformance runs check.

The script is deterministic: same onnx version, same files.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "CleaveIRTests" / "Data"

# cleave's `enum Op` (Sources/CleaveIR/Op.swift).
SUPPORTED = {
    "Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "InstanceNormalization", "LRN",
    "Relu", "LeakyRelu", "PRelu", "Elu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Erf",
    "Softmax", "LogSoftmax", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
    "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Exp", "Log", "Neg", "Abs", "Sum", "Max", "Min", "Mean",
    "ReduceMean", "ReduceSum", "ReduceMax", "Concat", "Split", "Slice", "Gather", "Reshape", "Flatten",
    "Transpose", "Squeeze", "Unsqueeze", "Expand", "Pad", "Resize", "Upsample", "Shape", "Cast",
    "Constant", "ConstantOfShape", "Identity", "Dropout", "QuantizeLinear", "DequantizeLinear",
    "LayerNormalization", "Gelu", "Tile", "ArgMax", "ArgMin", "CumSum", "ReduceMin", "ReduceProd", "ReduceL1",
    "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp", "GatherElements", "ScatterND", "TopK", "Einsum",
}

# Element types the test can build tensors of (ONNX TensorProto codes).
VALUE_DTYPES = {1, 2, 3, 5, 6, 7, 9, 11}   # float, uint8, int8, int16, int32, int64, bool, double
MAX_DTYPE = 23  # float4e2m1, the last element type cleave's DType knows
SMALL = 64  # integer tensors up to this many elements carry their values
SMALL_FLOAT = 16  # float tensors up to this many elements carry their values
CASE_LIMIT = 4000  # characters of JSON per case: drops the longest expanded function bodies


def type_of(value_info) -> dict | None:
    t = value_info.type.tensor_type
    if not value_info.type.HasField("tensor_type") or not t.HasField("shape"):
        return None
    dims = []
    for d in t.shape.dim:
        if not d.HasField("dim_value"):
            return None
        dims.append(int(d.dim_value))
    return {"dtype": int(t.elem_type), "shape": dims}


def fixture_shapes() -> dict:
    result = {}
    for spec_path in sorted((ROOT / "fixtures").glob("*/fixture.json")):
        spec = json.loads(spec_path.read_text())
        model = onnx.load(str(spec_path.parent / "model.onnx"), load_external_data=False)
        run_shapes = {i["name"]: i["shape"] for i in spec["inputs"]}
        for inp in model.graph.input:
            if inp.name in run_shapes:
                dims = inp.type.tensor_type.shape.dim
                for d, v in zip(dims, run_shapes[inp.name]):
                    d.Clear()
                    d.dim_value = v
        # Declared intermediate types would be echoed back, not inferred.
        del model.graph.value_info[:]
        for out in model.graph.output:
            out.type.tensor_type.ClearField("shape")
        inferred = shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
        values = {}
        for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
            t = type_of(vi)
            if t is not None:
                values[vi.name] = t
        result[spec["name"]] = {
            "input_shapes": {name: shape for name, shape in run_shapes.items()},
            "values": dict(sorted(values.items())),
        }
    return result


def encode_array(a, with_values: bool, limit: int | None = None) -> dict | None:
    """dtype, shape and (small, plain-typed) values of an array or a TensorProto;
    None for element types cleave's DType does not have."""
    if isinstance(a, onnx.TensorProto):
        # Cases for exotic types (float8, int4, ...) keep their data as TensorProto.
        entry = {"dtype": int(a.data_type), "shape": [int(d) for d in a.dims]}
        return entry if entry["dtype"] <= MAX_DTYPE else None
    a = np.asarray(a)
    if a.dtype == object:
        return None
    entry = {"dtype": int(helper.np_dtype_to_tensor_dtype(a.dtype)), "shape": [int(d) for d in a.shape]}
    if entry["dtype"] > MAX_DTYPE:
        return None
    if limit is None:
        limit = SMALL_FLOAT if a.dtype.kind == "f" else SMALL
    if with_values and a.size <= limit and entry["dtype"] in VALUE_DTYPES:
        flat = a.reshape(-1)
        if a.dtype.kind == "f":
            if not np.all(np.isfinite(flat)):
                return entry
            # The shortest decimal that reads back as the same float32 (or float64).
            entry["values"] = [float(str(x)) for x in flat]
        else:
            entry["values"] = [int(x) for x in flat]
    return entry


def encode_attribute(attr) -> dict | None:
    kind = attr.type
    A = onnx.AttributeProto
    if kind == A.INT:
        return {"int": int(attr.i)}
    if kind == A.INTS:
        return {"ints": [int(x) for x in attr.ints]}
    if kind == A.FLOAT:
        return {"float": float(attr.f)}
    if kind == A.FLOATS:
        return {"floats": [float(x) for x in attr.floats]}
    if kind == A.STRING:
        return {"string": attr.s.decode()}
    if kind == A.TENSOR:
        entry = encode_array(numpy_helper.to_array(attr.t), True, limit=1024)
        if entry is None or "values" not in entry:
            return None
        return {"tensor": entry}
    return None


def node_cases() -> list:
    from onnx.backend.test.case import node as node_cases_module

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = node_cases_module.collect_testcases(None)
    result = []
    for case in sorted(cases, key=lambda c: c.name):
        graph = case.model.graph
        if not graph.node or any(n.op_type not in SUPPORTED or n.domain not in ("", "ai.onnx") for n in graph.node):
            continue
        if graph.initializer or not case.data_sets:
            continue
        opset = next((o.version for o in case.model.opset_import if o.domain in ("", "ai.onnx")), None)
        if opset is None:
            continue
        nodes = []
        ok = True
        for n in graph.node:
            attributes = {}
            for attr in n.attribute:
                encoded = encode_attribute(attr)
                if encoded is None:
                    ok = False
                    break
                attributes[attr.name] = encoded
            nodes.append({"op": n.op_type, "name": n.name, "inputs": list(n.input),
                          "outputs": list(n.output), "attributes": attributes})
        inputs_data, outputs_data = case.data_sets[0]
        if not ok or len(inputs_data) != len(graph.input) or len(outputs_data) != len(graph.output):
            continue
        inputs = []
        for vi, a in zip(graph.input, inputs_data):
            entry = encode_array(a, True)
            if entry is None:
                ok = False
                break
            entry["name"] = vi.name
            inputs.append(entry)
        outputs = []
        for vi, a in zip(graph.output, outputs_data):
            entry = encode_array(a, True)
            if entry is None:
                ok = False
                break
            entry["name"] = vi.name
            outputs.append(entry)
        if not ok:
            continue
        entry = {"name": case.name, "opset": int(opset), "nodes": nodes, "inputs": inputs, "outputs": outputs}
        if len(json.dumps(entry, separators=(",", ":"))) <= CASE_LIMIT:
            result.append(entry)
    return result


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    shapes = fixture_shapes()
    lines = ["{"]
    for i, (fixture, entry) in enumerate(shapes.items()):
        lines.append(f" {json.dumps(fixture)}: {{")
        lines.append(f'  "input_shapes": {json.dumps(entry["input_shapes"], sort_keys=True)},')
        lines.append('  "values": {')
        items = list(entry["values"].items())
        for j, (name, t) in enumerate(items):
            lines.append(f"   {json.dumps(name)}: {json.dumps(t)}" + ("," if j + 1 < len(items) else ""))
        lines.append("  }")
        lines.append(" }" + ("," if i + 1 < len(shapes) else ""))
    lines.append("}")
    (OUT / "fixture_shapes.json").write_text("\n".join(lines) + "\n")
    cases = node_cases()
    (OUT / "node_cases.json").write_text(json.dumps(cases, separators=(",", ":")) .replace('},{"name"', '},\n{"name"') + "\n")
    print(f"expected_shapes: {len(shapes)} fixtures, {len(cases)} node cases", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
