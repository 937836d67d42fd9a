#!/usr/bin/env python3
"""Single-node cases for the attribute and input forms of older opsets,
with ONNX Runtime's outputs as the reference.

ONNX's node suite (tools/node_cases.py) tests each op at its newest opset
only; models in the wild use opsets 7-21, whose forms differ (Clip bounds as
attributes before 11, Pad pads as attributes before 11, Squeeze axes as
attributes before 13, Softmax's 2-D coercion before 13, Resize-10 and
Upsample, ...). This writes one case per form, in the folder layout and
index.json format of node_cases.py, so NodeCaseTests runs them too. It also
covers the forms of LSTM, GRU and RNN that ONNX's suite leaves out; where ONNX
Runtime cannot run a form (layout 1, float64), the expected outputs are its
outputs for the equivalent model (see `case`'s reference):

    .venv/bin/python tools/ort_cases.py [-o .models/ort-cases]
    CLEAVE_NODE_CASES=$PWD/.models/ort-cases swift test --filter NodeCaseTests
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IR_FOR_OPSET = {1: 3, 7: 3, 8: 3, 9: 4, 10: 5, 11: 6, 12: 7, 13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10, 22: 10}

rng = np.random.default_rng(20240611)


def floats(*shape, low=-3.0, high=3.0):
    return rng.uniform(low, high, size=shape).astype(np.float32)


def ints(*values, dtype=np.int64):
    return np.array(values, dtype=dtype)


def scalar(value, dtype=np.float32):
    return np.array(value, dtype=dtype)


CASES = []


def case(name, op, opset, inputs, outputs=1, reference=None, **attrs):
    """inputs: list of (name, array) with None for an omitted optional input.

    outputs: how many outputs (named y, y1, ...), or their names with "" for
    an omitted optional output. reference: a function of (op, opset, inputs,
    outputs, attrs) that returns the expected outputs, for forms ONNX Runtime
    does not run itself but computes through an equivalent model; by default
    ONNX Runtime runs the node."""
    CASES.append((name, op, opset, inputs, outputs, attrs, reference))


def image(*shape):
    return np.arange(np.prod(shape), dtype=np.float32).reshape(shape) * 0.37 - 2.0


# MARK: element-wise
x = floats(2, 3, 4)
case("clip7_attributes", "Clip", 7, [("x", x)], min=-0.5, max=0.7)
case("clip7_no_bounds", "Clip", 7, [("x", x)])
case("clip11_inputs", "Clip", 11, [("x", x), ("lo", scalar(-1.0)), ("hi", scalar(0.25))])
case("clip11_max_only", "Clip", 11, [("x", x), ("", None), ("hi", scalar(0.25))])
case("clip13_int8", "Clip", 13, [("x", ints(-100, -5, 0, 7, 120, dtype=np.int8)), ("lo", scalar(-6, np.int8)), ("hi", scalar(8, np.int8))])
case("clip12_int64", "Clip", 12, [("x", ints(-100, -5, 0, 7, 120)), ("lo", scalar(-6, np.int64))])
case("leakyrelu7_alpha", "LeakyRelu", 7, [("x", x)], alpha=0.2)
case("elu7", "Elu", 7, [("x", x)], alpha=0.5)
case("hardsigmoid7", "HardSigmoid", 7, [("x", x)], alpha=0.3, beta=0.4)
case("hardswish14", "HardSwish", 14, [("x", floats(3, 50, low=-5, high=5))])
case("sigmoid13_wide", "Sigmoid", 13, [("x", floats(4, 1000, low=-30, high=30))])
case("tanh13_wide", "Tanh", 13, [("x", floats(4, 1000, low=-12, high=12))])
case("tanh13_small", "Tanh", 13, [("x", floats(2, 500, low=-0.2, high=0.2))])
case("exp13_wide", "Exp", 13, [("x", floats(4, 1000, low=-80, high=80))])
case("erf13", "Erf", 13, [("x", floats(3, 100, low=-4, high=4))])
case("log13", "Log", 13, [("x", floats(3, 7, low=0.01, high=50))])
case("sqrt13", "Sqrt", 13, [("x", floats(3, 7, low=0, high=50))])
case("neg13_int64", "Neg", 13, [("x", ints(-3, 0, 5))])
case("abs13_int32", "Abs", 13, [("x", ints(-3, 0, 5, dtype=np.int32))])
case("relu14_int8", "Relu", 14, [("x", ints(-3, 0, 5, dtype=np.int8))])
case("prelu9_channel", "PRelu", 9, [("x", floats(2, 3, 4, 5)), ("slope", floats(3, 1, 1))])
case("prelu16_scalar", "PRelu", 16, [("x", floats(2, 3, 4, 5)), ("slope", floats(1))])
case("add7_broadcast", "Add", 7, [("a", floats(2, 3, 1, 5)), ("b", floats(4, 1))])
case("add14_per_channel", "Add", 14, [("a", floats(2, 3, 4, 5)), ("b", floats(1, 3, 1, 1))])
case("sub14_scalar_left", "Sub", 14, [("a", floats()), ("b", floats(2, 3, 4))])
case("mul14_rows", "Mul", 14, [("a", floats(2, 3, 4, 5)), ("b", floats(2, 1, 4, 1))])
case("div14", "Div", 14, [("a", floats(3, 4)), ("b", floats(3, 4, low=0.5, high=2))])
case("add14_int64", "Add", 14, [("a", ints(1, 2, 3)), ("b", ints(10))])
case("div14_int64_trunc", "Div", 14, [("a", ints(-7, 7, -7, 7, 9)), ("b", ints(2, 2, -2, -2, 3))])
case("mul14_int32", "Mul", 14, [("a", ints(-7, 7, 3, dtype=np.int32)), ("b", ints(3, dtype=np.int32))])
case("pow7", "Pow", 7, [("a", floats(2, 3, low=0.1, high=3)), ("b", floats(2, 3, low=-2, high=2))])
case("pow12_square", "Pow", 12, [("a", floats(2, 3)), ("b", scalar(2.0))])
case("pow12_sqrt", "Pow", 12, [("a", floats(2, 3, low=0, high=4)), ("b", scalar(0.5))])
case("pow12_int64_exponent", "Pow", 12, [("a", floats(2, 3)), ("b", ints(3))])
case("pow15_int32", "Pow", 15, [("a", ints(2, -3, 4, dtype=np.int32)), ("b", ints(3, 3, 0, dtype=np.int32))])
case("sum8_three", "Sum", 8, [("a", floats(2, 3)), ("b", floats(3)), ("c", floats(2, 1))])
case("mean8_three", "Mean", 8, [("a", floats(2, 3)), ("b", floats(3)), ("c", floats(2, 1))])
case("max8_three", "Max", 8, [("a", floats(2, 3)), ("b", floats(3)), ("c", floats(2, 1))])
case("min13_int64", "Min", 13, [("a", ints(1, 5, -3)), ("b", ints(2))])
case("sum13_one", "Sum", 13, [("a", floats(2, 3))])
case("reciprocal13", "Reciprocal", 13, [("x", floats(3, 7, low=0.1, high=5) * np.where(floats(3, 7) > 0, 1, -1).astype(np.float32))])

# MARK: comparisons, logic, Where, Range, Size
c = floats(2, 3, 4)
c[0, 0, :2] = np.nan
b = np.array(rng.integers(0, 2, (3, 1)), dtype=bool)
case("equal13_int32_one_hot", "Equal", 13, [("a", rng.integers(0, 5, (2, 6, 1), dtype=np.int32)), ("b", np.arange(5, dtype=np.int32))])
case("equal11_bool", "Equal", 11, [("a", b), ("b", np.array([True]))])
case("less13_nan_broadcast", "Less", 13, [("a", c), ("b", floats(4))])
case("greater13_int64", "Greater", 13, [("a", ints(-3, 0, 5, 9)), ("b", ints(0))])
case("lessorequal16_uint8", "LessOrEqual", 16, [("a", rng.integers(0, 9, (4, 5), dtype=np.uint8)), ("b", rng.integers(0, 9, (1, 5), dtype=np.uint8))])
case("greaterorequal16_float", "GreaterOrEqual", 16, [("a", c), ("b", c[:, :1, :])])
case("and7_broadcast", "And", 7, [("a", b), ("b", np.array(rng.integers(0, 2, (2, 3, 4)), dtype=bool))])
case("or7_broadcast", "Or", 7, [("a", b), ("b", np.array([False, True, True, False]))])
case("xor7_broadcast", "Xor", 7, [("a", b), ("b", np.array([False, True, True, False]))])
case("not1", "Not", 1, [("x", np.array(rng.integers(0, 2, (3, 4)), dtype=bool))])
case("where9_float", "Where", 9, [("c", b), ("x", floats(2, 3, 4)), ("z", floats(4))])
case("where16_attention_mask", "Where", 16, [("c", np.array(rng.integers(0, 2, (1, 1, 5, 7)), dtype=bool)), ("x", floats(2, 3, 5, 7)), ("z", scalar(-1e9))])
case("where16_int64", "Where", 16, [("c", np.array([True, False, True])), ("x", ints(1, 2, 3)), ("z", ints(-1))])
case("range11_float_fraction", "Range", 11, [("s", scalar(-1.5)), ("l", scalar(2.9)), ("d", scalar(0.3))])
case("range11_float_negative", "Range", 11, [("s", scalar(3.0)), ("l", scalar(-1.0)), ("d", scalar(-0.7))])
case("range11_int32", "Range", 11, [("s", scalar(7, np.int32)), ("l", scalar(-8, np.int32)), ("d", scalar(-4, np.int32))])
case("range11_int64_empty", "Range", 11, [("s", scalar(4, np.int64)), ("l", scalar(4, np.int64)), ("d", scalar(1, np.int64))])
case("size13", "Size", 13, [("x", floats(2, 3, 4))])

# MARK: casts and quantisation
mixed = np.array([-2.7, -1.5, -0.4, 0.0, 0.5, 1.5, 2.5, 100.9], dtype=np.float32)
for to, dt in [("int32", 6), ("int64", 7), ("int8", 3), ("uint8_in_range", 2), ("bool", 9), ("float16", 10), ("double", 11)]:
    data = np.abs(mixed) if to == "uint8_in_range" else mixed
    case(f"cast13_float_to_{to}", "Cast", 13, [("x", data)], to=dt)
case("cast13_int64_to_float", "Cast", 13, [("x", ints(-5, 0, 7, 123456789))], to=1)
case("cast13_bool_to_float", "Cast", 13, [("x", np.array([True, False, True]))], to=1)
case("cast13_int32_to_int64", "Cast", 13, [("x", ints(-5, 0, 7, dtype=np.int32))], to=7)
case("cast9_float16_to_float", "Cast", 9, [("x", mixed.astype(np.float16))], to=1)
q = floats(2, 3, 4, low=-10, high=10)
case("quantize10_uint8", "QuantizeLinear", 10, [("x", q), ("s", scalar(0.1)), ("z", scalar(128, np.uint8))])
case("quantize10_no_zero_point", "QuantizeLinear", 10, [("x", q), ("s", scalar(0.05))])
case("quantize13_int8_per_axis", "QuantizeLinear", 13, [("x", q), ("s", np.array([0.05, 0.1, 0.2], np.float32)), ("z", ints(-3, 0, 4, dtype=np.int8))], axis=1)
case("quantize13_ties", "QuantizeLinear", 13, [("x", np.array([0.5, 1.5, 2.5, -0.5, -1.5, 300, -300], np.float32)), ("s", scalar(1.0)), ("z", scalar(0, np.int8))])
case("dequantize10_uint8", "DequantizeLinear", 10, [("x", rng.integers(0, 255, (2, 3, 4), dtype=np.uint8)), ("s", scalar(0.1)), ("z", scalar(128, np.uint8))])
case("dequantize13_int8_per_axis", "DequantizeLinear", 13, [("x", rng.integers(-128, 127, (2, 4, 3), dtype=np.int8)), ("s", np.array([0.05, 0.1, 0.2], np.float32)), ("z", ints(-3, 0, 4, dtype=np.int8))], axis=2)
case("dequantize13_int32", "DequantizeLinear", 13, [("x", ints(-1000, 0, 5000, dtype=np.int32)), ("s", scalar(0.01))])

# MARK: softmax and reductions
s = floats(2, 3, 4)
for axis in [0, 1, 2, -1]:
    case(f"softmax11_axis_{axis}", "Softmax", 11, [("x", s)], axis=axis)
    case(f"softmax13_axis_{axis}", "Softmax", 13, [("x", s)], axis=axis)
    case(f"logsoftmax11_axis_{axis}", "LogSoftmax", 11, [("x", s)], axis=axis)
    case(f"logsoftmax13_axis_{axis}", "LogSoftmax", 13, [("x", s)], axis=axis)
case("softmax11_default", "Softmax", 11, [("x", s)])
case("softmax13_default", "Softmax", 13, [("x", s)])
case("softmax13_wide_inner", "Softmax", 13, [("x", floats(2, 7, 1500, low=-20, high=20))], axis=1)
tk = (np.arange(2 * 7 * 9) * 13 % 10).astype(np.float32).reshape(2, 7, 9)  # many ties
case("topk10_axis_default_ties", "TopK", 10, [("x", tk), ("k", ints(4))], outputs=2)
case("topk11_smallest_axis1_ties", "TopK", 11, [("x", tk), ("k", ints(3))], outputs=2, axis=1, largest=0)
case("topk11_largest_axis0_all", "TopK", 11, [("x", tk), ("k", ints(2))], outputs=2, axis=0)
case("topk11_k1_int64", "TopK", 11, [("x", (tk * 3).astype(np.int64)), ("k", ints(1))], outputs=2, axis=-1)
case("topk11_int32_k_full", "TopK", 11, [("x", tk.astype(np.int32)), ("k", ints(9))], outputs=2, largest=0)
case("topk11_double_wide", "TopK", 11, [("x", floats(3, 1000).astype(np.float64)), ("k", ints(50))], outputs=2)
case("topk7_attribute", "TopK", 7, [("x", tk)], outputs=2, k=5, axis=2)
r = floats(2, 3, 4, 5)
case("reducemean11_axes", "ReduceMean", 11, [("x", r)], axes=[1], keepdims=0)
case("reducemean13_two_axes", "ReduceMean", 13, [("x", r)], axes=[0, 2])
case("reducemean13_all", "ReduceMean", 13, [("x", r)], keepdims=0)
case("reducemean18_input", "ReduceMean", 18, [("x", r), ("axes", ints(-1, -2))])
case("reducemean18_no_axes", "ReduceMean", 18, [("x", r)])
case("reducemean18_noop", "ReduceMean", 18, [("x", r), ("axes", np.array([], np.int64))], noop_with_empty_axes=1)
case("reducesum11_axes", "ReduceSum", 11, [("x", r)], axes=[3], keepdims=1)
case("reducesum13_input", "ReduceSum", 13, [("x", r), ("axes", ints(1, 3))], keepdims=0)
case("reducesum13_noop", "ReduceSum", 13, [("x", r), ("axes", np.array([], np.int64))], noop_with_empty_axes=1)
case("reducesum13_int64", "ReduceSum", 13, [("x", np.arange(24, dtype=np.int64).reshape(2, 3, 4)), ("axes", ints(1))])
case("reducemax11_axes", "ReduceMax", 11, [("x", r)], axes=[1, 2])
case("reducemax13_int32", "ReduceMax", 13, [("x", np.arange(24, dtype=np.int32).reshape(2, 3, 4))], axes=[0])
case("reducemax18_input", "ReduceMax", 18, [("x", r), ("axes", ints(0, 3))], keepdims=0)
for op in ["ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp"]:
    tag = op[len("Reduce"):].lower()
    data = floats(2, 3, 4, 5, low=0.5, high=1.5) if op == "ReduceProd" else r
    case(f"reduce{tag}11_axes_attribute", op, 11, [("x", data)], axes=[1, 3], keepdims=0)
    case(f"reduce{tag}13_all", op, 13, [("x", data)])
    case(f"reduce{tag}18_input_negative", op, 18, [("x", data), ("axes", ints(-2))])
    case(f"reduce{tag}18_noop", op, 18, [("x", data), ("axes", np.array([], np.int64))], noop_with_empty_axes=1)
case("reducelogsumexp18_large", "ReduceLogSumExp", 18, [("x", floats(3, 40, low=80, high=120)), ("axes", ints(1))])
case("reducemin18_int32", "ReduceMin", 18, [("x", np.arange(24, dtype=np.int32).reshape(2, 3, 4) % 7), ("axes", ints(2))])
case("reduceprod18_int64", "ReduceProd", 18, [("x", ints(2, -3, 4, 5, 1, -1).reshape(2, 3)), ("axes", ints(0))])
case("reducel1_18_int64", "ReduceL1", 18, [("x", ints(2, -3, 4, 5, 1, -1).reshape(2, 3)), ("axes", ints(1))])
case("reducesumsquare18_double", "ReduceSumSquare", 18, [("x", floats(3, 4).astype(np.float64)), ("axes", ints(0))])
case("reducel2_18_double", "ReduceL2", 18, [("x", floats(3, 4).astype(np.float64))], keepdims=0)
ties = (np.arange(120) * 37 % 7).astype(np.float32).reshape(2, 3, 4, 5)
case("argmax11_axis2_ties", "ArgMax", 11, [("x", ties)], axis=2)
case("argmin11_no_keepdims", "ArgMin", 11, [("x", ties)], axis=-1, keepdims=0)
case("argmax12_select_last", "ArgMax", 12, [("x", ties)], axis=1, select_last_index=1)
case("argmin13_select_last_int32", "ArgMin", 13, [("x", ties.astype(np.int32))], axis=3, select_last_index=1)
case("argmax13_int64", "ArgMax", 13, [("x", ints(3, 9, -1, 9))])
case("argmax13_double", "ArgMax", 13, [("x", floats(3, 7).astype(np.float64))], axis=1, keepdims=0)
case("argmin13_uint8", "ArgMin", 13, [("x", rng.integers(0, 255, (4, 6), dtype=np.uint8))], axis=0)
case("cumsum11_axis1_reverse_exclusive", "CumSum", 11, [("x", floats(2, 5, 3)), ("a", scalar(1, np.int64))], exclusive=1, reverse=1)
case("cumsum14_int32_axis_negative", "CumSum", 14, [("x", floats(3, 4, 5)), ("a", scalar(-1, np.int32))], reverse=1)
case("cumsum14_long_row", "CumSum", 14, [("x", floats(2, 5000, low=0, high=1)), ("a", ints(1))])
case("cumsum14_int64_exclusive", "CumSum", 14, [("x", ints(5, -3, 8, 1, 0, 2)), ("a", scalar(0, np.int64))], exclusive=1)

# MARK: normalization and activations of transformers
ln = floats(3, 5, 8)
case("layernorm17_no_bias_three_outputs", "LayerNormalization", 17, [("x", ln), ("s", floats(8))], outputs=3)
case("layernorm17_axis1_y_only", "LayerNormalization", 17, [("x", ln), ("s", floats(5, 8)), ("b", floats(5, 8))], axis=1, epsilon=1e-3)
case("layernorm17_broadcast_scale", "LayerNormalization", 17, [("x", ln), ("s", floats(1, 8)), ("b", floats(8))], axis=-2)
case("layernorm17_wide_offset_rows", "LayerNormalization", 17, [("x", floats(4, 768, low=100, high=103)), ("s", floats(768)), ("b", floats(768))], outputs=3)
case("gelu20_erf_wide", "Gelu", 20, [("x", floats(4, 500, low=-8, high=8))])
case("gelu20_tanh_wide", "Gelu", 20, [("x", floats(4, 500, low=-8, high=8))], approximate="tanh")

# MARK: einsum (the forms exporters emit)
for name, eq, shapes in [
    ("attention_scores", "bhid,bhjd->bhij", [(2, 3, 5, 8), (2, 3, 7, 8)]),
    ("attention_values", "bhij,bhjd->bhid", [(2, 3, 5, 7), (2, 3, 7, 8)]),
    ("batch_matmul_spaces", "bij, bjk -> bik", [(4, 3, 5), (4, 5, 6)]),
    ("ellipsis_matmul", "...ij,...jk->...ik", [(2, 3, 4, 5), (2, 3, 5, 6)]),
    ("ellipsis_broadcast", "...ij,...jk->...ik", [(2, 1, 4, 5), (1, 3, 5, 6)]),
    ("linear_no_batch", "bid,jd->bij", [(2, 5, 8), (6, 8)]),
    ("implicit_matmul", "ij,jk", [(3, 4), (4, 5)]),
    ("transpose", "bij->bji", [(2, 3, 4)]),
    ("permute_heads", "bhid->bihd", [(2, 3, 4, 5)]),
    ("row_sums", "ij->i", [(3, 40)]),
    ("total", "ijk->", [(2, 3, 4)]),
    ("outer", "i,j->ij", [(3,), (4,)]),
    ("inner", "i,i", [(7,), (7,)]),
    ("chain", "ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("bilinear", "bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ("diagonal", "ii->i", [(4, 4)]),
    ("trace", "ii", [(4, 4)]),
    ("batch_diagonal_sum", "bii->b", [(3, 4, 4)]),
    ("hadamard_broadcast", "ij,ij->ij", [(1, 4), (3, 4)]),
    ("sum_one_operand_then_product", "ijk,kl->il", [(2, 3, 4), (4, 5)]),
    ("matrix_vector", "bij,bj->bi", [(3, 4, 5), (3, 5)]),
]:
    case(f"einsum12_{name}", "Einsum", 12, [(f"x{i}", floats(*sh)) for i, sh in enumerate(shapes)], equation=eq)
case("einsum12_float64", "Einsum", 12, [("a", floats(2, 3, 4).astype(np.float64)), ("b", floats(2, 4, 5).astype(np.float64))], equation="bij,bjk->bik")
case("einsum12_large_attention", "Einsum", 12, [("q", floats(1, 4, 64, 32)), ("k", floats(1, 4, 64, 32))], equation="bhid,bhjd->bhij")

# MARK: data movement
d = floats(2, 6, 4)
case("concat11_negative_axis", "Concat", 11, [("a", floats(2, 3, 4)), ("b", floats(2, 1, 4)), ("c", floats(2, 2, 4))], axis=-2)
case("concat7_axis_0_int64", "Concat", 7, [("a", ints(1, 2)), ("b", ints(3))], axis=0)
case("split11_attribute", "Split", 11, [("x", d)], outputs=3, axis=1, split=[1, 2, 3])
case("split11_equal", "Split", 11, [("x", d)], outputs=3, axis=1)
case("split13_input", "Split", 13, [("x", d), ("split", ints(4, 2))], outputs=2, axis=1)
case("split13_equal_last", "Split", 13, [("x", d)], outputs=2, axis=-1)
case("split18_num_outputs_uneven", "Split", 18, [("x", floats(2, 5))], outputs=3, axis=1, num_outputs=3)
case("slice9_attributes", "Slice", 9, [("x", d)], starts=[1, 0], ends=[5, 3], axes=[1, 2])
case("slice9_no_axes", "Slice", 9, [("x", d)], starts=[0, 1, -3], ends=[1, 1000, -1])
case("slice10_inputs", "Slice", 10, [("x", d), ("s", ints(1)), ("e", ints(-1)), ("a", ints(1))])
case("slice13_negative_steps", "Slice", 13, [("x", d), ("s", ints(-1, 3)), ("e", ints(-1000, 0)), ("a", ints(1, 2)), ("st", ints(-2, -1))])
case("slice13_clamped", "Slice", 13, [("x", d), ("s", ints(-100, 2)), ("e", ints(2**63 - 1, 2**63 - 1)), ("a", ints(-2, -1)), ("st", ints(3, 1))])
case("slice13_empty", "Slice", 13, [("x", d), ("s", ints(5)), ("e", ints(2)), ("a", ints(1))])
case("gather13_axis1_negative", "Gather", 13, [("x", d), ("i", ints(-1, 0, 3, -6))], axis=1)
case("gather13_int32_matrix", "Gather", 13, [("x", d), ("i", np.array([[0, 1], [1, 0]], np.int32))], axis=0)
case("gather13_scalar_index", "Gather", 13, [("x", d), ("i", scalar(2, np.int64))], axis=2)
case("gather13_int64_data", "Gather", 13, [("x", ints(10, 20, 30, 40)), ("i", ints(3, 0))])
case("gatherelements11_axis2_negative", "GatherElements", 11, [("x", d), ("i", np.array([[[-1, 0], [2, -4]], [[3, 1], [0, -2]]], np.int64))], axis=2)
case("gatherelements13_int32_indices_longer_axis", "GatherElements", 13, [("x", d), ("i", rng.integers(-6, 6, (1, 9, 2)).astype(np.int32))], axis=1)
case("gatherelements13_int64_data", "GatherElements", 13, [("x", ints(10, 20, 30, 40).reshape(2, 2)), ("i", ints(1, 0, 0, 0, 1, 1).reshape(3, 2))])
sd = floats(4, 3, 5)
case("scatternd11_rows", "ScatterND", 11, [("x", sd), ("i", ints(2, 0).reshape(2, 1)), ("u", floats(2, 3, 5))])
case("scatternd13_elements_negative", "ScatterND", 13, [("x", sd), ("i", ints(-1, 2, 4, 0, -3, 1).reshape(2, 3)), ("u", floats(2))])
case("scatternd16_add_repeated", "ScatterND", 16, [("x", sd), ("i", ints(1, 1, 1, 1, 3, 2).reshape(3, 2)), ("u", floats(3, 5))], reduction="add")
case("scatternd16_mul_int64", "ScatterND", 16, [("x", ints(*range(1, 13)).reshape(3, 4)), ("i", ints(0, 2, 0).reshape(3, 1)), ("u", ints(*range(2, 14)).reshape(3, 4))], reduction="mul")
case("scatternd18_max", "ScatterND", 18, [("x", sd), ("i", ints(0, 0, 3).reshape(3, 1)), ("u", floats(3, 3, 5))], reduction="max")
case("scatternd18_min_batched_indices", "ScatterND", 18, [("x", sd), ("i", ints(0, 1, 2, 2, 3, 0, 0, 1).reshape(2, 2, 2)), ("u", floats(2, 2, 5))], reduction="min")
case("transpose7_default", "Transpose", 7, [("x", floats(2, 3, 4, 5))])
case("transpose13_nhwc", "Transpose", 13, [("x", floats(2, 3, 4, 5))], perm=[0, 2, 3, 1])
case("transpose13_uint8", "Transpose", 13, [("x", rng.integers(0, 255, (3, 4, 5), dtype=np.uint8))], perm=[2, 0, 1])
case("expand8", "Expand", 8, [("x", floats(3, 1)), ("shape", ints(2, 1, 4))])
case("expand13_keep_dims", "Expand", 13, [("x", floats(2, 1, 3)), ("shape", ints(1, 4, 1))])
case("tile7_int64", "Tile", 7, [("x", ints(1, 2, 3)), ("r", ints(3))])
case("tile13_unit_dims", "Tile", 13, [("x", floats(1, 3, 1)), ("r", ints(2, 1, 5))])
case("tile13_bool", "Tile", 13, [("x", np.array([[True, False]])), ("r", ints(2, 2))])
case("pad7_constant_value", "Pad", 7, [("x", floats(2, 3))], pads=[1, 2, 0, 1], value=1.5)
case("pad7_reflect", "Pad", 7, [("x", floats(1, 2, 4, 5))], mode="reflect", pads=[0, 0, 2, 3, 0, 0, 1, 2])
case("pad7_edge", "Pad", 7, [("x", floats(1, 2, 4, 5))], mode="edge", pads=[0, 0, 2, 3, 0, 0, 1, 2])
case("pad11_constant_input", "Pad", 11, [("x", floats(2, 3)), ("p", ints(1, 2, 0, 1)), ("v", scalar(-2.5))])
case("pad11_crop", "Pad", 11, [("x", floats(3, 5)), ("p", ints(-1, 2, 1, -2))])
case("pad13_int64_data", "Pad", 13, [("x", ints(1, 2, 3)), ("p", ints(2, 1)), ("v", scalar(9, np.int64))])
case("pad18_axes", "Pad", 18, [("x", floats(2, 3, 4)), ("p", ints(1, 2, 0, 1)), ("v", scalar(0.5)), ("a", ints(-1, 0))])
case("pad19_wrap", "Pad", 19, [("x", floats(2, 3, 4)), ("p", ints(0, 1, 2, 0, 2, 1))], mode="wrap")
case("reshape7_zero_and_minus_one", "Reshape", 7, [("x", floats(2, 3, 4)), ("shape", ints(0, -1))])
case("reshape14_allowzero", "Reshape", 14, [("x", np.zeros((0, 3), np.float32)), ("shape", ints(3, 0))], allowzero=1)
case("flatten9_axis_0", "Flatten", 9, [("x", floats(2, 3, 4))], axis=0)
case("flatten11_negative_axis", "Flatten", 11, [("x", floats(2, 3, 4))], axis=-1)
case("squeeze11_attribute", "Squeeze", 11, [("x", floats(1, 3, 1, 4))], axes=[0, -2])
case("squeeze11_all", "Squeeze", 11, [("x", floats(1, 3, 1, 4))])
case("squeeze13_input", "Squeeze", 13, [("x", floats(1, 3, 1, 4)), ("a", ints(2))])
case("unsqueeze11_attribute", "Unsqueeze", 11, [("x", floats(3, 4))], axes=[0, 3])
case("unsqueeze13_negative", "Unsqueeze", 13, [("x", floats(3, 4)), ("a", ints(-1, 1))])
case("shape13", "Shape", 13, [("x", floats(2, 3, 4))])
case("shape15_start_end", "Shape", 15, [("x", floats(2, 3, 4, 5))], start=1, end=-1)
case("constantofshape9_int64", "ConstantOfShape", 9, [("s", ints(2, 3))], value=helper.make_tensor("v", onnx.TensorProto.INT64, [1], [7]))
case("constantofshape9_default", "ConstantOfShape", 9, [("s", ints(3))])
case("identity13", "Identity", 13, [("x", floats(2, 3))])
case("dropout7_mask", "Dropout", 7, [("x", floats(2, 3))], outputs=2, ratio=0.3)
case("dropout10_mask", "Dropout", 10, [("x", floats(2, 3))], outputs=2)
case("dropout12_ratio_input", "Dropout", 12, [("x", floats(2, 3)), ("r", scalar(0.2))], outputs=2)

# MARK: resize and upsample
img = image(1, 2, 4, 6)
case("upsample7_nearest", "Upsample", 7, [("x", img)], scales=[1.0, 1.0, 2.0, 3.0])
case("upsample7_linear", "Upsample", 7, [("x", img)], mode="linear", scales=[1.0, 1.0, 2.0, 1.5])
case("upsample9_nearest_input", "Upsample", 9, [("x", img), ("s", np.array([1, 1, 1.5, 2.5], np.float32))])
case("upsample9_linear_input", "Upsample", 9, [("x", img), ("s", np.array([1, 1, 2, 2], np.float32))], mode="linear")
for scales in ([1, 1, 0.6, 0.75], [1, 1, 1.7, 2.3]):
    tag = "down" if scales[2] < 1 else "up"
    sc = np.array(scales, np.float32)
    case(f"resize10_nearest_{tag}", "Resize", 10, [("x", img), ("s", sc)])
    case(f"resize10_linear_{tag}", "Resize", 10, [("x", img), ("s", sc)], mode="linear")
coordinate_modes = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn"]
nearest_modes = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]
no_roi = np.array([], np.float32)
for scales in ([1, 1, 0.6, 0.75], [1, 1, 1.7, 2.5]):
    tag = "down" if scales[2] < 1 else "up"
    sc = np.array(scales, np.float32)
    for cm in coordinate_modes:
        for nm in nearest_modes:
            case(f"resize11_nearest_{tag}_{cm}_{nm}", "Resize", 11, [("x", img), ("roi", no_roi), ("s", sc)],
                 coordinate_transformation_mode=cm, nearest_mode=nm)
        if cm != "tf_half_pixel_for_nn":
            case(f"resize11_linear_{tag}_{cm}", "Resize", 11, [("x", img), ("roi", no_roi), ("s", sc)],
                 mode="linear", coordinate_transformation_mode=cm)
            case(f"resize11_cubic_{tag}_{cm}", "Resize", 11, [("x", img), ("roi", no_roi), ("s", sc)],
                 mode="cubic", coordinate_transformation_mode=cm)
for sizes in ([1, 2, 3, 4], [1, 2, 7, 9], [1, 2, 1, 1]):
    tag = "x".join(map(str, sizes[2:]))
    sz = np.array(sizes, np.int64)
    for cm in ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"]:
        case(f"resize13_sizes_{tag}_linear_{cm}", "Resize", 13, [("x", img), ("", None), ("", None), ("sz", sz)],
             mode="linear", coordinate_transformation_mode=cm)
        case(f"resize13_sizes_{tag}_nearest_{cm}", "Resize", 13, [("x", img), ("", None), ("", None), ("sz", sz)],
             coordinate_transformation_mode=cm)
    case(f"resize13_sizes_{tag}_cubic_exclude_outside", "Resize", 13, [("x", img), ("", None), ("", None), ("sz", sz)],
         mode="cubic", exclude_outside=1, cubic_coeff_a=-0.5)
roi = np.array([0, 0, 0.2, 0.1, 1, 1, 0.9, 1.3], np.float32)
case("resize11_tf_crop_and_resize_linear", "Resize", 11, [("x", img), ("roi", roi), ("s", no_roi), ("sz", np.array([1, 2, 3, 5], np.int64))],
     mode="linear", coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=-7.0)
case("resize11_tf_crop_and_resize_nearest", "Resize", 11, [("x", img), ("roi", roi), ("s", no_roi), ("sz", np.array([1, 2, 3, 5], np.int64))],
     coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=-7.0)
case("resize13_uint8_nearest", "Resize", 13, [("x", (np.arange(48) % 251).astype(np.uint8).reshape(1, 2, 4, 6)), ("", None), ("s", np.array([1, 1, 2, 0.5], np.float32))])
case("resize13_nhwc_linear", "Resize", 13, [("x", image(1, 4, 6, 3)), ("", None), ("s", np.array([1, 2, 2, 1], np.float32))], mode="linear")
big = image(1, 1, 12, 17)
for mode in ["linear", "cubic"]:
    case(f"resize18_antialias_{mode}_scales", "Resize", 18, [("x", big), ("", None), ("s", np.array([1, 1, 0.4, 0.3], np.float32))], mode=mode, antialias=1)
    case(f"resize18_antialias_{mode}_sizes", "Resize", 18, [("x", big), ("", None), ("", None), ("sz", np.array([1, 1, 5, 7], np.int64))], mode=mode, antialias=1)
case("resize18_axes_scales", "Resize", 18, [("x", img), ("", None), ("s", np.array([2, 0.5], np.float32))], mode="linear", axes=[2, 3])
case("resize18_axes_sizes_reversed", "Resize", 18, [("x", img), ("", None), ("", None), ("sz", np.array([9, 3], np.int64))], axes=[3, 2])
for policy in ["not_larger", "not_smaller"]:
    case(f"resize18_keep_aspect_{policy}", "Resize", 18, [("x", img), ("", None), ("", None), ("sz", np.array([7, 7], np.int64))],
         mode="linear", axes=[2, 3], keep_aspect_ratio_policy=policy)
case("resize19_half_pixel_symmetric", "Resize", 19, [("x", img), ("", None), ("s", np.array([1, 1, 1.7, 0.6], np.float32))],
     mode="linear", coordinate_transformation_mode="half_pixel_symmetric")


# MARK: recurrent layers
# The forms ONNX's node suite leaves out: reverse and bidirectional,
# sequence_lens of unequal lengths, initial states, peepholes, clip,
# input_forget, GRU's linear_before_reset 0 and 1, every activation function,
# omitted outputs, layout 1 and float64. ONNX Runtime runs neither layout 1
# nor float64, so those expectations are its results for the equivalent
# layout-0 (inputs and outputs transposed) or float32 model.
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def transposed_layout(op, opset, inputs, outputs, attrs):
    """ORT on the layout-0 model: X and the initial states transposed in, Y, Y_h and Y_c back out."""
    swap = {"x": (1, 0, 2), "h0": (1, 0, 2), "c0": (1, 0, 2)}
    moved = [(n, None if a is None else np.ascontiguousarray(a.transpose(swap[n])) if n in swap else a) for n, a in inputs]
    plain = {k: v for k, v in attrs.items() if k != "layout"}
    results = run_ort(op, opset, moved, outputs, plain)
    back = [(2, 0, 1, 3) if o == "y" else (1, 0, 2) for o in outputs if o]
    return [np.ascontiguousarray(r.transpose(perm)) for r, perm in zip(results, back)]


def float32_model(op, opset, inputs, outputs, attrs):
    """ORT on the float32 model, widened back to float64."""
    narrow = [(n, a.astype(np.float32) if a is not None and a.dtype == np.float64 else a) for n, a in inputs]
    return [r.astype(np.float64) for r in run_ort(op, opset, narrow, outputs, attrs)]


def recurrent(name, op, opset, seq=5, batch=3, size=4, hidden=6, direction=None, bias=True, lengths=None,
              initial=False, peepholes=False, layout=0, outputs=None, dtype=np.float32, **attrs):
    """A case of LSTM, GRU or RNN with inputs drawn for these sizes; weights in [-1, 1]."""
    g, dirs = GATES[op], 2 if direction == "bidirectional" else 1
    state = (dirs, batch, hidden) if layout == 0 else (batch, dirs, hidden)

    def weights(*shape):
        return floats(*shape, low=-1, high=1).astype(dtype)

    inputs = [("x", floats(*((seq, batch, size) if layout == 0 else (batch, seq, size))).astype(dtype)),
              ("w", weights(dirs, g * hidden, size)), ("r", weights(dirs, g * hidden, hidden)),
              ("b", weights(dirs, 2 * g * hidden)) if bias else ("", None),
              ("lens", np.array(lengths, np.int32)) if lengths is not None else ("", None),
              ("h0", weights(*state)) if initial else ("", None)]
    if op == "LSTM":
        inputs += [("c0", weights(*state)) if initial else ("", None),
                   ("p", weights(dirs, 3 * hidden)) if peepholes else ("", None)]
    if direction is not None:
        attrs["direction"] = direction
    if layout:
        attrs["layout"] = layout
    reference = transposed_layout if layout else float32_model if dtype == np.float64 else None
    names = outputs or (["y", "y_h", "y_c"] if op == "LSTM" else ["y", "y_h"])
    case(name, op, opset, inputs, names, reference=reference, hidden_size=hidden, **attrs)


for op, opset in [("LSTM", 7), ("GRU", 7), ("RNN", 7)]:
    low = op.lower()
    recurrent(f"{low}{opset}_forward_bias", op, opset)
    recurrent(f"{low}{opset}_no_bias_initial_h", op, opset, bias=False, initial=True)
    recurrent(f"{low}14_reverse", op, 14, direction="reverse", initial=True)
    recurrent(f"{low}14_bidirectional", op, 14, direction="bidirectional", initial=True)
    # Lengths below seq_length, unequal: outputs past a length are 0, the reverse direction starts at its end.
    recurrent(f"{low}14_bidirectional_sequence_lens", op, 14, seq=6, batch=4, direction="bidirectional",
              lengths=[6, 3, 1, 4], initial=True)
    recurrent(f"{low}14_reverse_sequence_lens", op, 14, seq=6, batch=3, direction="reverse", lengths=[2, 6, 5])
    recurrent(f"{low}14_clip", op, 14, direction="bidirectional", clip=0.8, initial=True)
    recurrent(f"{low}14_layout1_bidirectional", op, 14, seq=4, batch=3, direction="bidirectional",
              lengths=[4, 2, 3], initial=True, layout=1)
    recurrent(f"{low}14_only_y_h", op, 14, direction="bidirectional", lengths=[5, 3, 4], outputs=["", "y_h"])
    recurrent(f"{low}14_only_y", op, 14, direction="reverse", lengths=[5, 3, 4], outputs=["y"])
    # At batch 1 each step's product is a matrix-vector one.
    recurrent(f"{low}14_batch1_long", op, 14, seq=40, batch=1, size=10, hidden=16, direction="bidirectional")
    # Large enough that the runtime splits the input projection across threads.
    recurrent(f"{low}14_large", op, 14, seq=16, batch=4, size=128, hidden=64, initial=True)
    recurrent(f"{low}22_forward", op, 22, initial=True)
    recurrent(f"{low}22_float64", op, 22, direction="bidirectional", lengths=[5, 2, 4], initial=True, dtype=np.float64)

# LSTM: peepholes, input_forget, Y_c alone, a sequence of length 0 (ONNX Runtime's Y_h, Y_c: 0).
recurrent("lstm7_peepholes", "LSTM", 7, peepholes=True, initial=True)
recurrent("lstm14_bidirectional_peepholes_sequence_lens", "LSTM", 14, direction="bidirectional", peepholes=True,
          lengths=[5, 1, 3], initial=True)
recurrent("lstm14_input_forget", "LSTM", 14, input_forget=1, peepholes=True, initial=True)
recurrent("lstm14_peepholes_clip", "LSTM", 14, peepholes=True, clip=0.5, initial=True)
recurrent("lstm14_only_y_c", "LSTM", 14, direction="reverse", lengths=[2, 5, 4], outputs=["", "", "y_c"])
recurrent("lstm14_zero_length", "LSTM", 14, direction="bidirectional", lengths=[0, 5, 2], initial=True)
recurrent("lstm14_layout1_peepholes", "LSTM", 14, direction="reverse", peepholes=True, initial=True, layout=1)
# GRU: linear_before_reset 1 (the form PyTorch exports) and 0.
for lbr in (0, 1):
    recurrent(f"gru14_linear_before_reset_{lbr}", "GRU", 14, linear_before_reset=lbr, initial=True)
    recurrent(f"gru14_linear_before_reset_{lbr}_bidirectional_sequence_lens", "GRU", 14, direction="bidirectional",
              linear_before_reset=lbr, lengths=[5, 2, 4], initial=True)
    recurrent(f"gru14_linear_before_reset_{lbr}_no_bias", "GRU", 14, bias=False, linear_before_reset=lbr)
recurrent("gru14_zero_length", "GRU", 14, lengths=[3, 0, 5], initial=True, linear_before_reset=1)
recurrent("gru14_layout1_linear_before_reset", "GRU", 14, linear_before_reset=1, lengths=[5, 4, 2], initial=True, layout=1)

# Every activation function, each at least once with explicit alpha/beta, and
# the defaults where ONNX Runtime takes the spec's (LeakyRelu 0.01,
# HardSigmoid 0.2/0.5, Elu 1). alpha/beta are consumed in order by the
# functions that take them.
recurrent("lstm14_activations_defaults", "LSTM", 14, activations=["HardSigmoid", "LeakyRelu", "Elu"], initial=True)
recurrent("lstm14_activations_bidirectional", "LSTM", 14, direction="bidirectional", initial=True,
          activations=["HardSigmoid", "Affine", "ScaledTanh", "Sigmoid", "Softsign", "Softplus"],
          activation_alpha=[0.3, 0.6, 0.9], activation_beta=[0.4, -0.2, 1.3])
recurrent("lstm14_activations_thresholded", "LSTM", 14, activations=["Sigmoid", "ThresholdedRelu", "Relu"],
          activation_alpha=[0.4], initial=True)
recurrent("gru14_activations_bidirectional", "GRU", 14, direction="bidirectional", linear_before_reset=1,
          activations=["HardSigmoid", "Softsign", "Sigmoid", "Elu"], activation_alpha=[0.25, 0.7], activation_beta=[0.45])
recurrent("gru14_activations_leaky_affine", "GRU", 14, activations=["Sigmoid", "LeakyRelu"], activation_alpha=[0.1])
for kind, alpha, beta in [("Relu", None, None), ("Sigmoid", None, None), ("Affine", 0.5, 0.2), ("LeakyRelu", 0.2, None),
                          ("ThresholdedRelu", 0.3, None), ("ScaledTanh", 0.8, 1.5), ("HardSigmoid", 0.3, 0.4),
                          ("Elu", 0.7, None), ("Softsign", None, None), ("Softplus", None, None)]:
    extra = {"activation_alpha": [alpha]} if alpha is not None else {}
    if beta is not None:
        extra["activation_beta"] = [beta]
    recurrent(f"rnn14_activation_{kind.lower()}", "RNN", 14, activations=[kind], initial=True, **extra)
recurrent("rnn14_activations_bidirectional", "RNN", 14, direction="bidirectional", activations=["Elu", "LeakyRelu"],
          activation_alpha=[0.5, 0.3], lengths=[5, 2, 4], initial=True)
recurrent("rnn14_activations_default_leakyrelu", "RNN", 14, activations=["LeakyRelu"])
# The schema's default lists two functions; a one-direction RNN uses the first.
recurrent("rnn14_two_activations_one_direction", "RNN", 14, activations=["Relu", "Tanh"], initial=True)


def build(name, op, opset, inputs, outputs, attrs):
    node_inputs = [n for n, _ in inputs]
    while node_inputs and node_inputs[-1] == "":
        node_inputs.pop()
    output_names = list(outputs) if isinstance(outputs, (list, tuple)) else ["y"] + [f"y{i}" for i in range(1, outputs)]
    node = helper.make_node(op, node_inputs, output_names, **attrs)
    graph_inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
                    for n, a in inputs if a is not None]
    graph_outputs = [onnx.ValueInfoProto(name=o) for o in output_names if o]
    graph = helper.make_graph([node], name, graph_inputs, graph_outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = IR_FOR_OPSET[opset]
    return model


def run_ort(op, opset, inputs, outputs, attrs):
    """ONNX Runtime's outputs of the single-node model."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    model = build(op, op, opset, inputs, outputs, attrs)
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, {n: a for n, a in inputs if a is not None})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", default=os.path.join(ROOT, ".models/ort-cases"))
    args = parser.parse_args()
    if os.path.exists(args.output):
        shutil.rmtree(args.output)
    os.makedirs(args.output)
    index = []
    for name, op, opset, inputs, outputs, attrs, reference in CASES:
        model = build(name, op, opset, inputs, outputs, attrs)
        try:
            results = (reference or run_ort)(op, opset, inputs, outputs, attrs)
        except Exception as error:  # noqa: BLE001 - report which case ORT rejects, then stop
            print(f"{name}: ONNX Runtime failed: {error}", file=sys.stderr)
            return 1
        folder = os.path.join(args.output, name)
        os.makedirs(folder)
        onnx.save(model, os.path.join(folder, "model.onnx"))
        entry = {"name": name, "ops": [op], "opset": opset, "inputs": [], "outputs": []}
        for j, (n, a) in enumerate((n, a) for n, a in inputs if a is not None):
            np.save(os.path.join(folder, f"input_{j}.npy"), np.asarray(a, order="C"))
            entry["inputs"].append({"name": n, "file": f"input_{j}.npy", "dtype": str(a.dtype)})
        for j, (o, a) in enumerate(zip(model.graph.output, results)):
            np.save(os.path.join(folder, f"output_{j}.npy"), np.asarray(a, order="C"))
            entry["outputs"].append({"name": o.name, "file": f"output_{j}.npy", "dtype": str(a.dtype)})
        index.append(entry)
    with open(os.path.join(args.output, "index.json"), "w", encoding="utf-8") as f:
        json.dump({"cases": index}, f, indent=1, sort_keys=True)
    print(f"{len(index)} cases written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
