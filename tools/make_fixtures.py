#!/usr/bin/env python3
"""Build cleave's ONNX test fixtures and their ONNX Runtime reference outputs.

Run from the repository root:

    .venv/bin/python tools/make_fixtures.py

Everything is written under fixtures/ (see fixtures/README.md). The script is
deterministic: fixed seeds, single-threaded ONNX Runtime with graph
optimisations switched off, so re-running it rewrites byte-identical files.

Each good fixture imitates what one real exporter emits (names, attribute
spelling, opset, IR version, initializers vs Constant nodes, ...), so the
Swift importer meets the same shapes of graph it will meet in the wild.
fixtures/bad/ holds malformed inputs the importer must reject (exit 65).
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from google.protobuf.message import DecodeError
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"

FLOAT = TensorProto.FLOAT
INT64 = TensorProto.INT64


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------

def file_safe(name: str) -> str:
    """The file name cleave and the fixtures use for a tensor name."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


# np.array(..., order="C") rather than np.ascontiguousarray: the latter turns
# 0-d scalars into shape [1], and scalar-ness matters here (Gather indices, Clip).
def f32(a) -> np.ndarray:
    return np.array(a, dtype=np.float32, order="C")


def i64(a) -> np.ndarray:
    return np.array(a, dtype=np.int64, order="C")


def tensor(name: str, arr: np.ndarray) -> TensorProto:
    """An initializer / Constant value with its payload in raw_data."""
    return numpy_helper.from_array(np.array(arr, order="C"), name)


def value_info(name: str, elem_type: int, dims) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem_type, dims)


class Builder:
    """Collects nodes and initializers in the order an exporter would write them."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[TensorProto] = []

    def init(self, name: str, arr: np.ndarray) -> str:
        self.inits.append(tensor(name, arr))
        return name

    def const(self, node_name: str, out: str, arr: np.ndarray) -> str:
        """A weight carried by a Constant node instead of an initializer."""
        self.nodes.append(helper.make_node("Constant", [], [out], name=node_name,
                                           value=tensor("", arr)))
        return out

    def op(self, op_type: str, inputs, outputs, name: str = "", **attrs):
        outputs = [outputs] if isinstance(outputs, str) else list(outputs)
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs, name=name, **attrs))
        return outputs[0] if len(outputs) == 1 else outputs


def ort_session(model_path: Path, optimized: bool = False) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimized
                                   else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    return ort.InferenceSession(str(model_path), so, providers=["CPUExecutionProvider"])


def run_ort(model_path: Path, feeds: dict[str, np.ndarray], optimized: bool = False):
    sess = ort_session(model_path, optimized)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feeds)))


def reset_dir(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


def write_json(path: Path, obj) -> None:
    text = json.dumps(obj, indent=2)
    # keep shapes on one line: [1, 3, 32, 32] rather than one number per line
    text = re.sub(r"\[\s*(-?\d+(?:,\s*-?\d+)*)\s*\]",
                  lambda m: "[" + ", ".join(re.split(r",\s*", m.group(1))) + "]", text)
    path.write_text(text + "\n")


def ai_onnx_opset(model: onnx.ModelProto) -> int:
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def io_entry(name: str, sub: str, arr: np.ndarray) -> dict:
    return {"name": name, "file": f"{sub}/{file_safe(name)}.npy",
            "dtype": str(arr.dtype), "shape": list(arr.shape)}


def write_fixture(name: str, style: str, description: str, model: onnx.ModelProto,
                  feeds: dict[str, np.ndarray], input_shape_args: list[str],
                  external_data: bool = False) -> None:
    """Check and save one model, run ORT on it, write inputs/outputs/fixture.json."""
    onnx.checker.check_model(model, full_check=True)
    fdir = FIXTURES / name
    reset_dir(fdir)
    model_path = fdir / "model.onnx"
    if external_data:
        onnx.save_model(model, str(model_path), save_as_external_data=True,
                        all_tensors_to_one_file=True, location="weights.data",
                        size_threshold=0)
        onnx.checker.check_model(str(model_path), full_check=True)
    else:
        onnx.save_model(model, str(model_path))

    outputs = run_ort(model_path, feeds)
    # Sanity: the optimised ORT graph must agree with the literal one.
    fused = run_ort(model_path, feeds, optimized=True)
    for k, v in outputs.items():
        if v.dtype.kind == "f" and not np.allclose(v, fused[k], rtol=1e-4, atol=1e-5):
            raise SystemExit(f"{name}: output {k} differs between ORT optimisation levels")

    (fdir / "inputs").mkdir()
    (fdir / "outputs").mkdir()
    entries_in, entries_out = [], []
    for k, v in feeds.items():
        np.save(fdir / "inputs" / f"{file_safe(k)}.npy", np.array(v, order="C"))
        entries_in.append(io_entry(k, "inputs", v))
    for k, v in outputs.items():
        np.save(fdir / "outputs" / f"{file_safe(k)}.npy", np.array(v, order="C"))
        entries_out.append(io_entry(k, "outputs", v))
    write_json(fdir / "fixture.json", {
        "name": name,
        "style": style,
        "opset": ai_onnx_opset(model),
        "ir_version": model.ir_version,
        "description": description,
        "inputs": entries_in,
        "outputs": entries_out,
        "input_shape_args": input_shape_args,
    })
    size = sum(p.stat().st_size for p in fdir.rglob("*") if p.is_file())
    print(f"{name:15s} opset {ai_onnx_opset(model):2d} ir {model.ir_version} "
          f"{len(model.graph.node):3d} nodes  {size / 1024:7.1f} KiB")


# --------------------------------------------------------------------------
# pytorch_style: torch.onnx.export (TorchScript exporter) of a tiny ResNet
# --------------------------------------------------------------------------

def conv_weight(rng, cout, cin, k):
    fan_in = cin * k * k
    return f32(rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / fan_in))


def bn_params(rng, c):
    return (f32(rng.uniform(0.5, 1.5, c)), f32(rng.normal(0.0, 0.1, c)),
            f32(rng.normal(0.0, 0.1, c)), f32(rng.uniform(0.5, 1.5, c)))


def build_pytorch_style() -> onnx.ModelProto:
    rng = np.random.default_rng(17)
    b = Builder()

    def conv(scope, x, weight, cout, cin, k, stride, pad, bias=None):
        ins = [x, b.init(weight, conv_weight(rng, cout, cin, k))]
        if bias is not None:
            ins.append(b.init(bias, f32(rng.normal(0.0, 0.1, cout))))
        return b.op("Conv", ins, f"{scope}/Conv_output_0", name=f"{scope}/Conv",
                    dilations=[1, 1], group=1, kernel_shape=[k, k],
                    pads=[pad] * 4, strides=[stride, stride])

    def bn(scope, x, prefix, c):
        w, bias, mean, var = bn_params(rng, c)
        ins = [x, b.init(f"{prefix}.weight", w), b.init(f"{prefix}.bias", bias),
               b.init(f"{prefix}.running_mean", mean), b.init(f"{prefix}.running_var", var)]
        return b.op("BatchNormalization", ins, f"{scope}/BatchNormalization_output_0",
                    name=f"{scope}/BatchNormalization", epsilon=1e-5, momentum=0.9)

    def relu(scope, x):
        return b.op("Relu", [x], f"{scope}/Relu_output_0", name=f"{scope}/Relu")

    # stem
    x = conv("/conv1", "input", "conv1.weight", 8, 3, 3, 1, 1)
    x = bn("/bn1", x, "bn1", 8)
    x = relu("/relu", x)
    x = b.op("MaxPool", [x], "/maxpool/MaxPool_output_0", name="/maxpool/MaxPool",
             ceil_mode=0, kernel_shape=[2, 2], pads=[0, 0, 0, 0], strides=[2, 2])
    identity = x
    # layer1.0: BasicBlock with explicit BatchNormalization nodes
    s = "/layer1/layer1.0"
    x = conv(f"{s}/conv1", x, "layer1.0.conv1.weight", 8, 8, 3, 1, 1)
    x = bn(f"{s}/bn1", x, "layer1.0.bn1", 8)
    x = relu(f"{s}/relu", x)
    x = conv(f"{s}/conv2", x, "layer1.0.conv2.weight", 8, 8, 3, 1, 1)
    x = bn(f"{s}/bn2", x, "layer1.0.bn2", 8)
    x = b.op("Add", [x, identity], f"{s}/Add_output_0", name=f"{s}/Add")
    x = relu(f"{s}/relu_1", x)
    # layer2.0.conv1 with its BatchNormalization folded in by the exporter's
    # constant folding: weight and bias become anonymous onnx::Conv_NNN tensors.
    s = "/layer2/layer2.0"
    x = conv(f"{s}/conv1", x, "onnx::Conv_123", 16, 8, 1, 2, 0, bias="onnx::Conv_124")
    x = relu(f"{s}/relu", x)
    # head
    x = b.op("GlobalAveragePool", [x], "/avgpool/GlobalAveragePool_output_0",
             name="/avgpool/GlobalAveragePool")
    x = b.op("Flatten", [x], "/Flatten_output_0", name="/Flatten", axis=1)
    fc_w = f32(rng.standard_normal((10, 16)) * 0.25)
    fc_b = f32(rng.normal(0.0, 0.1, 10))
    b.op("Gemm", [x, b.init("fc.weight", fc_w), b.init("fc.bias", fc_b)], "output",
         name="/fc/Gemm", alpha=1.0, beta=1.0, transB=1)

    graph = helper.make_graph(
        b.nodes, "main_graph",
        [value_info("input", FLOAT, ["batch_size", 3, 32, 32])],
        [value_info("output", FLOAT, ["batch_size", 10])],
        initializer=b.inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                             ir_version=8, producer_name="pytorch", producer_version="2.1.0")


# --------------------------------------------------------------------------
# tf2onnx_style: a Keras functional model converted by tf2onnx (NHWC input)
# --------------------------------------------------------------------------

def build_tf2onnx_style() -> onnx.ModelProto:
    rng = np.random.default_rng(13)
    b = Builder()
    m = "StatefulPartitionedCall/model"

    x = b.op("Transpose", ["input_1:0"], f"{m}/conv2d/BiasAdd__6:0",
             name=f"{m}/conv2d/BiasAdd__6", perm=[0, 3, 1, 2])
    # Keras HWIO kernel, transposed to OIHW by tf2onnx's constant folding.
    kernel_hwio = f32(rng.standard_normal((3, 3, 3, 4)) * np.sqrt(2.0 / 27))
    b.init("const_fold_opt__17", kernel_hwio.transpose(3, 2, 0, 1))
    b.init(f"{m}/conv2d/BiasAdd/ReadVariableOp:0", f32(rng.normal(0.0, 0.1, 4)))
    x = b.op("Conv", [x, "const_fold_opt__17", f"{m}/conv2d/BiasAdd/ReadVariableOp:0"],
             f"{m}/conv2d/BiasAdd:0", name=f"{m}/conv2d/Conv2D",
             dilations=[1, 1], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1])
    x = b.op("Relu", [x], f"{m}/conv2d/Relu:0", name=f"{m}/conv2d/Relu")
    x = b.op("MaxPool", [x], f"{m}/max_pooling2d/MaxPool__20:0",
             name=f"{m}/max_pooling2d/MaxPool", kernel_shape=[4, 4], strides=[4, 4])
    x = b.op("Transpose", [x], f"{m}/max_pooling2d/MaxPool:0",
             name=f"{m}/max_pooling2d/MaxPool__22", perm=[0, 2, 3, 1])
    # tf.reshape(x, [tf.shape(x)[0], -1]) as tf2onnx writes it
    shape = b.op("Shape", [x], f"{m}/flatten/Shape:0", name=f"{m}/flatten/Shape")
    b.init("const_gather__24", i64(0))
    n = b.op("Gather", [shape, "const_gather__24"], f"{m}/flatten/strided_slice:0",
             name=f"{m}/flatten/strided_slice", axis=0)
    b.init("const_axes__25", i64([0]))
    n = b.op("Unsqueeze", [n, "const_axes__25"], f"{m}/flatten/Reshape/shape_Unsqueeze__26:0",
             name=f"{m}/flatten/Reshape/shape_Unsqueeze__26")
    b.init("const_fold_opt__28", i64([-1]))
    new_shape = b.op("Concat", [n, "const_fold_opt__28"], f"{m}/flatten/Reshape/shape_Concat__27:0",
                     name=f"{m}/flatten/Reshape/shape_Concat__27", axis=0)
    x = b.op("Reshape", [x, new_shape], f"{m}/flatten/Reshape:0", name=f"{m}/flatten/Reshape")

    def dense(layer, x, din, dout):
        w = b.init(f"{m}/{layer}/MatMul/ReadVariableOp:0",
                   f32(rng.standard_normal((din, dout)) * np.sqrt(2.0 / din)))
        bias = b.init(f"{m}/{layer}/BiasAdd/ReadVariableOp:0", f32(rng.normal(0.0, 0.1, dout)))
        y = b.op("MatMul", [x, w], f"{m}/{layer}/MatMul:0", name=f"{m}/{layer}/MatMul")
        return b.op("Add", [y, bias], f"{m}/{layer}/BiasAdd:0", name=f"{m}/{layer}/BiasAdd")

    x = dense("dense", x, 256, 32)
    x = b.op("Relu", [x], f"{m}/dense/Relu:0", name=f"{m}/dense/Relu")
    x = dense("dense_1", x, 32, 10)
    b.op("Softmax", [x], "Identity:0", name=f"{m}/dense_1/Softmax")

    graph = helper.make_graph(
        b.nodes, "tf2onnx",
        [value_info("input_1:0", FLOAT, ["unk__12", 32, 32, 3])],
        [value_info("Identity:0", FLOAT, ["unk__13", 10])],
        initializer=b.inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                             ir_version=7, producer_name="tf2onnx", producer_version="1.16.1")


# --------------------------------------------------------------------------
# paddle_style: paddle2onnx output, every weight in a Constant node
# --------------------------------------------------------------------------

def build_paddle_style() -> onnx.ModelProto:
    rng = np.random.default_rng(14)
    b = Builder()
    counters: dict[str, int] = {}

    def name(op: str) -> str:
        i = counters.get(op, 0)
        counters[op] = i + 1
        return f"p2o.{op}.{i}"

    def const(out, arr):
        return b.const(name("Constant"), out, arr)

    def conv(x, layer, cout, cin, k, stride, pad, group=1, bias=False):
        w = const(f"{layer}.w_0", conv_weight(rng, cout, cin // group, k))
        ins = [x, w]
        if bias:
            ins.append(const(f"{layer}.b_0", f32(rng.normal(0.0, 0.1, cout))))
        return b.op("Conv", ins, f"{layer}.tmp_{1 if bias else 0}", name=name("Conv"),
                    dilations=[1, 1], group=group, kernel_shape=[k, k],
                    pads=[pad] * 4, strides=[stride, stride])

    # stem: conv without bias + elementwise_add of a [1,C,1,1] bias, hardswish
    x = conv("x", "conv2d_0", 8, 3, 3, 2, 1)
    bias0 = const("conv2d_0.b_0", f32(rng.normal(0.0, 0.1, (1, 8, 1, 1))))
    x = b.op("Add", [x, bias0], "conv2d_0.tmp_1", name=name("Add"))
    stem = b.op("HardSwish", [x], "hardswish_0.tmp_0", name=name("HardSwish"))
    # depthwise conv + relu6 (Clip with min/max as inputs)
    x = conv(stem, "conv2d_1", 8, 8, 3, 1, 1, group=8)
    lo = const("p2o.helper.constant.0", f32(0.0))
    hi = const("p2o.helper.constant.1", f32(6.0))
    dw = b.op("Clip", [x, lo, hi], "relu6_0.tmp_0", name=name("Clip"))
    # squeeze-and-excitation gate
    s = b.op("GlobalAveragePool", [dw], "pool2d_0.tmp_0", name=name("GlobalAveragePool"))
    s = conv(s, "conv2d_2", 4, 8, 1, 1, 0, bias=True)
    s = b.op("Relu", [s], "relu_0.tmp_0", name=name("Relu"))
    s = conv(s, "conv2d_3", 8, 4, 1, 1, 0, bias=True)
    s = b.op("HardSigmoid", [s], "hardsigmoid_0.tmp_0", name=name("HardSigmoid"),
             alpha=0.1666667, beta=0.5)
    x = b.op("Mul", [dw, s], "tmp_0", name=name("Mul"))
    # pointwise projection + residual
    x = conv(x, "conv2d_4", 8, 8, 1, 1, 0)
    x = b.op("Add", [x, stem], "tmp_1", name=name("Add"))
    x = b.op("HardSwish", [x], "hardswish_1.tmp_0", name=name("HardSwish"))
    # head
    x = b.op("GlobalAveragePool", [x], "pool2d_1.tmp_0", name=name("GlobalAveragePool"))
    x = b.op("Flatten", [x], "flatten_0.tmp_0", name=name("Flatten"), axis=1)
    w = const("linear_0.w_0", f32(rng.standard_normal((8, 10)) * 0.35))
    x = b.op("MatMul", [x, w], "linear_0.tmp_0", name=name("MatMul"))
    bias = const("linear_0.b_0", f32(rng.normal(0.0, 0.1, 10)))
    b.op("Add", [x, bias], "save_infer_model/scale_0.tmp_1", name=name("Add"))

    graph = helper.make_graph(
        b.nodes, "paddle-onnx",
        # paddle2onnx writes -1 (older versions) or the dim_param "?" for each dynamic dim.
        [value_info("x", FLOAT, [-1, 3, "?", "?"])],
        [value_info("save_infer_model/scale_0.tmp_1", FLOAT, [-1, 10])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)],
                             ir_version=8, producer_name="PaddlePaddle")


# --------------------------------------------------------------------------
# caffe2_style: onnx-caffe2 export, IR 3 (initializers repeated in graph.input)
# --------------------------------------------------------------------------

def build_caffe2_style() -> onnx.ModelProto:
    rng = np.random.default_rng(15)
    b = Builder()

    def conv(x, layer, cout, cin, k, stride, pad, group=1):
        w = b.init(f"{layer}_w_0", conv_weight(rng, cout, cin // group, k))
        bias = b.init(f"{layer}_b_0", f32(rng.normal(0.0, 0.1, cout)))
        attrs = dict(strides=[stride, stride], pads=[pad] * 4, kernel_shape=[k, k])
        if group != 1:
            attrs = dict(group=group, **attrs)
        return b.op("Conv", [x, w, bias], f"{layer}_1", **attrs)

    # onnx-caffe2 leaves node names empty; tensors are <blob>_<version>.
    x = conv("data_0", "conv1", 8, 3, 5, 2, 2)
    x = b.op("Relu", [x], "conv1_2")
    x = b.op("LRN", [x], "norm1_1", size=5, alpha=9.999999747378752e-05, beta=0.75, bias=1.0)
    x = b.op("MaxPool", [x], "pool1_1", strides=[2, 2], pads=[0, 0, 1, 1], kernel_shape=[3, 3])
    x = conv(x, "conv2", 16, 8, 3, 1, 1, group=2)
    x = b.op("Relu", [x], "conv2_2")
    x, _ = b.op("Dropout", [x], ["_conv2_2_dropout_1", "_conv2_2_mask_1"], ratio=0.5)
    b.init("OC2_DUMMY_1", i64([1, 16 * 8 * 8]))
    x = b.op("Reshape", [x, "OC2_DUMMY_1"], "OC2_DUMMY_0")
    w = b.init("fc3_w_0", f32(rng.standard_normal((10, 1024)) * np.sqrt(1.0 / 1024)))
    bias = b.init("fc3_b_0", f32(rng.normal(0.0, 0.1, 10)))
    x = b.op("Gemm", [x, w, bias], "fc3_1", transB=1)
    b.op("Softmax", [x], "prob_1")

    inputs = [value_info("data_0", FLOAT, [1, 3, 32, 32])]
    inputs += [value_info(t.name, t.data_type, list(t.dims)) for t in b.inits]
    graph = helper.make_graph(b.nodes, "alexnet_tiny", inputs,
                              [value_info("prob_1", FLOAT, [1, 10])], initializer=b.inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 9)],
                             ir_version=3, producer_name="onnx-caffe2")


# --------------------------------------------------------------------------
# mixed_ops: one opset-18 graph touching many operators, many outputs
# --------------------------------------------------------------------------

def build_mixed_ops():
    rng = np.random.default_rng(18)
    b = Builder()
    outs: list[tuple[str, int]] = []

    def out(name, op_type, inputs, elem=FLOAT, **attrs):
        b.op(op_type, inputs, name, name=f"{name}_node", **attrs)
        outs.append((name, elem))
        return name

    def op(op_type, inputs, name, **attrs):
        return b.op(op_type, inputs, name, name=f"{name}_node", **attrs)

    b.init("one", f32(1.0))
    b.init("half", f32(0.5))
    sig = op("Sigmoid", ["x"], "sigmoid")
    th = op("Tanh", ["x"], "tanh")
    elu = op("Elu", ["x"], "elu", alpha=0.8)
    lrelu = op("LeakyRelu", ["x"], "leaky_relu", alpha=0.1)
    b.init("prelu_slope", f32(rng.uniform(0.05, 0.3, (4, 1, 1))))
    prelu = op("PRelu", ["x", "prelu_slope"], "prelu")
    erf = op("Erf", ["x"], "erf")
    out("act_sum", "Sum", [sig, th, elu])
    mx = op("Max", [lrelu, prelu, erf], "max3")
    mn = op("Min", [lrelu, erf], "min2")
    me = op("Mean", [sig, th], "mean2")
    den = op("Add", [sig, "one"], "sig_plus_one")
    q = op("Div", [me, den], "mean_div")
    t = op("Sub", [mx, mn], "max_minus_min")
    out("max_min_mean", "Add", [t, q])

    absx = op("Abs", ["x"], "abs")
    pos = op("Add", [absx, "half"], "positive")
    b.init("pow_exponent", f32(1.5))
    parts = [op("Sqrt", [pos], "sqrt"), op("Log", [pos], "log"),
             op("Pow", [pos, "pow_exponent"], "pow"),
             op("Exp", [op("Neg", [absx], "neg_abs")], "exp")]
    out("unary", "Concat", parts, axis=1)

    out("softmax", "Softmax", ["x"], axis=1)
    out("logsoftmax", "LogSoftmax", ["x"])
    out("avgpool", "AveragePool", ["x"], kernel_shape=[3, 3], strides=[2, 2],
        pads=[1, 1, 1, 1], count_include_pad=1, ceil_mode=1)
    b.init("pad_pads", i64([0, 0, 1, 2, 0, 0, 2, 1]))
    b.init("pad_value", f32(0.5))
    out("pad", "Pad", ["x", "pad_pads", "pad_value"], mode="constant")
    b.init("resize_scales", f32([1, 1, 2, 2]))
    out("resize_nearest", "Resize", ["x", "", "resize_scales"], mode="nearest")
    b.init("resize_sizes", i64([1, 4, 12, 12]))
    out("resize_linear", "Resize", ["x", "", "", "resize_sizes"], mode="linear")

    cat = op("Concat", [sig, th, erf], "concat3", axis=1)
    b.init("split_sizes", i64([2, 4, 6]))
    b.op("Split", [cat, "split_sizes"], ["split_0", "split_1", "split_2"], name="split_node", axis=1)
    outs += [("split_0", FLOAT), ("split_1", FLOAT), ("split_2", FLOAT)]

    b.init("slice_starts", i64([1, 6]))
    b.init("slice_ends", i64([100, -100]))
    b.init("slice_axes", i64([2, -1]))
    b.init("slice_steps", i64([2, -2]))
    out("slice", "Slice", ["x", "slice_starts", "slice_ends", "slice_axes", "slice_steps"])

    b.init("hw_axes", i64([2, 3]))
    rm = op("ReduceMean", ["x", "hw_axes"], "reduce_mean", keepdims=1)
    sq = op("Squeeze", [rm, "hw_axes"], "squeezed")
    b.init("unsqueeze_axes", i64([1]))
    un = op("Unsqueeze", [sq, "unsqueeze_axes"], "unsqueezed")
    b.init("expand_shape", i64([2, 3, 4]))
    out("expand", "Expand", [un, "expand_shape"])
    b.init("channel_axis", i64([1]))
    out("reduce_sum", "ReduceSum", ["x", "channel_axis"], keepdims=0)
    b.init("last_axis", i64([-1]))
    out("reduce_max", "ReduceMax", ["x", "last_axis"], keepdims=1)
    out("transpose", "Transpose", ["x"], perm=[0, 2, 3, 1])

    b.init("in_scale", f32(rng.uniform(0.5, 1.5, 4)))
    b.init("in_bias", f32(rng.normal(0.0, 0.1, 4)))
    out("instnorm", "InstanceNormalization", ["x", "in_scale", "in_bias"], epsilon=1e-5)
    b.init("deconv_w", f32(rng.standard_normal((4, 2, 3, 3)) * 0.3))
    b.init("deconv_b", f32(rng.normal(0.0, 0.1, 2)))
    out("convtranspose", "ConvTranspose", ["x", "deconv_w", "deconv_b"], kernel_shape=[3, 3],
        strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])

    b.init("ten", f32(10.0))
    scaled = op("Mul", ["x", "ten"], "times_ten")
    out("cast_int32", "Cast", [scaled], elem=TensorProto.INT32, to=TensorProto.INT32)

    shape = op("Shape", ["x"], "x_shape")
    fill = op("ConstantOfShape", [shape], "quarters", value=tensor("", f32([0.25])))
    added = op("Add", ["x", fill], "x_plus_quarter")
    out("const_add", "Identity", [added])

    b.init("q_scale", f32(0.02))
    b.init("q_zero", np.asarray(128, dtype=np.uint8))
    out("quant_u8", "QuantizeLinear", ["x", "q_scale", "q_zero"], elem=TensorProto.UINT8)
    out("dequant", "DequantizeLinear", ["quant_u8", "q_scale", "q_zero"])
    b.init("qc_scale", f32([0.01, 0.02, 0.03, 0.05]))
    b.init("qc_zero", np.asarray([0, -3, 5, 10], dtype=np.int8))
    qc = op("QuantizeLinear", ["x", "qc_scale", "qc_zero"], "quant_i8_axis", axis=1)
    out("dequant_axis", "DequantizeLinear", [qc, "qc_scale", "qc_zero"], axis=1)

    return b, outs


def mixed_ops_model(b: Builder, outs, shapes=None) -> onnx.ModelProto:
    outputs = [value_info(n, e, None if shapes is None else shapes[n]) for n, e in outs]
    graph = helper.make_graph(b.nodes, "mixed_ops", [value_info("x", FLOAT, [1, 4, 8, 8])],
                              outputs, initializer=b.inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)],
                             ir_version=8, producer_name="cleave-fixtures")


# --------------------------------------------------------------------------
# malformed inputs
# --------------------------------------------------------------------------

def tiny_model(nodes=None, opset=17, inits=None, outputs=None) -> onnx.ModelProto:
    """x[1,4] + w[4] -> y: the valid base the graph-level bad cases start from."""
    if nodes is None:
        nodes = [helper.make_node("Add", ["x", "w"], ["y"], name="add")]
    if inits is None:
        inits = [tensor("w", f32([1, 2, 3, 4]))]
    if outputs is None:
        outputs = [value_info("y", FLOAT, [1, 4])]
    graph = helper.make_graph(nodes, "bad", [value_info("x", FLOAT, [1, 4])], outputs,
                              initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                             ir_version=8, producer_name="cleave-fixtures")


def external_tensor(name: str, dims, location: str, offset: int, length: int) -> TensorProto:
    t = TensorProto()
    t.name = name
    t.data_type = FLOAT
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", str(offset)), ("length", str(length))):
        entry = t.external_data.add()
        entry.key = k
        entry.value = v
    return t


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)  # 2x2 RGB, 8 bit
    rows = b"".join(b"\x00" + bytes([255, 0, 0, 0, 255, 0]) for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 9))
            + chunk(b"IEND", b""))


def write_bad_cases(truncate_source: onnx.ModelProto) -> None:
    bad = FIXTURES / "bad"
    reset_dir(bad)
    cases = []

    def case(file, data: bytes, problem: str, expect: str):
        path = bad / file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        cases.append({"file": file, "problem": problem, "expect": expect})

    case("empty.onnx", b"", "zero-byte file", "empty")

    # Cut a real model in the middle of an initializer's raw_data payload.
    blob = truncate_source.SerializeToString()
    victim = next(t for t in truncate_source.graph.initializer if t.name == "layer1.0.conv1.weight")
    start = blob.find(victim.raw_data)
    assert start > 0 and blob.find(victim.raw_data, start + 1) < 0
    case("truncated.onnx", blob[: start + len(victim.raw_data) // 2],
         "valid pytorch_style model cut off halfway through the raw_data of "
         "initializer 'layer1.0.conv1.weight'", "truncated")

    random_bytes = np.random.default_rng(4096).bytes(4096)
    try:
        onnx.ModelProto.FromString(random_bytes)
        raise SystemExit("random bytes unexpectedly parse as a ModelProto; pick another seed")
    except DecodeError:
        pass
    case("random_bytes.onnx", random_bytes, "4 KiB of seeded random bytes, not a protobuf message",
         "protobuf")

    case("png_renamed.onnx", tiny_png(), "a 2x2 PNG image renamed to .onnx", "png")
    case("json_renamed.onnx",
         (json.dumps({"name": "model", "format": "json", "layers": [{"op": "Conv"}]}, indent=2)
          + "\n").encode(),
         "a JSON text file renamed to .onnx", "json")

    m = tiny_model()
    m.graph.initializer[0].raw_data = m.graph.initializer[0].raw_data[:12]
    case("raw_data_length.onnx", m.SerializeToString(),
         "initializer 'w' has dims [4] (float, 16 bytes) but 12 bytes of raw_data", "raw_data")

    m = tiny_model()
    del m.graph.initializer[0].dims[:]
    m.graph.initializer[0].dims.extend([2, -2])
    case("negative_dim.onnx", m.SerializeToString(),
         "initializer 'w' has dims [2, -2]", "negative")

    m = tiny_model()
    del m.graph.initializer[0].dims[:]
    m.graph.initializer[0].dims.extend([1 << 40, 1 << 40])
    case("dim_overflow.onnx", m.SerializeToString(),
         "initializer 'w' has dims [2^40, 2^40]: the element count overflows int64", "overflow")

    m = tiny_model(nodes=[helper.make_node("Add", ["x", "ghost"], ["y"], name="add")])
    case("undefined_input.onnx", m.SerializeToString(),
         "node 'add' reads tensor 'ghost' that no input, initializer or node defines", "undefined")

    m = tiny_model(nodes=[helper.make_node("Add", ["x", "t2"], ["t1"], name="first"),
                          helper.make_node("Relu", ["t1"], ["t2"], name="second"),
                          helper.make_node("Add", ["t2", "w"], ["y"], name="last")])
    case("cycle.onnx", m.SerializeToString(),
         "nodes 'first' and 'second' read each other's outputs (t1 -> t2 -> t1)", "cycle")

    m = tiny_model(nodes=[helper.make_node("Relu", ["x"], ["t"], name="relu"),
                          helper.make_node("Neg", ["x"], ["t"], name="neg"),
                          helper.make_node("Add", ["t", "w"], ["y"], name="add")])
    case("duplicate_output.onnx", m.SerializeToString(),
         "nodes 'relu' and 'neg' both write tensor 't'", "duplicate")

    payload = f32([1, 2, 3, 4]).tobytes()
    m = tiny_model(inits=[external_tensor("w", [4], "../outside.bin", 0, 16)])
    case("escape/model.onnx", m.SerializeToString(),
         "external data location '../outside.bin' leaves the model's folder "
         "(the file exists: fixtures/bad/outside.bin)", "outside")
    (bad / "outside.bin").write_bytes(payload)

    m = tiny_model(inits=[external_tensor("w", [4], "/etc/passwd", 0, 16)])
    case("external_absolute.onnx", m.SerializeToString(),
         "external data location is the absolute path '/etc/passwd'", "absolute")

    m = tiny_model(inits=[external_tensor("w", [4], "external_past_end.bin", 8, 16)])
    case("external_past_end.onnx", m.SerializeToString(),
         "external data offset 8 + length 16 runs past the end of the 16-byte "
         "file external_past_end.bin", "past the end")
    (bad / "external_past_end.bin").write_bytes(payload)

    m = tiny_model(opset=99)
    case("opset_99.onnx", m.SerializeToString(),
         "imports the default (ai.onnx) domain at opset version 99", "opset")

    m = tiny_model(nodes=[], inits=[])
    case("no_nodes.onnx", m.SerializeToString(),
         "graph has no nodes and declares output 'y' that nothing produces", "undefined")

    write_json(bad / "cases.json", cases)
    print(f"bad            {len(cases)} cases")


# --------------------------------------------------------------------------

def main() -> int:
    FIXTURES.mkdir(exist_ok=True)

    torch_model = build_pytorch_style()
    rng = np.random.default_rng(1017)
    torch_input = {"input": f32(rng.standard_normal((1, 3, 32, 32)))}
    write_fixture("pytorch_style", "pytorch",
                  "torch.onnx.export of a tiny ResNet: Conv+BN+Relu stem, MaxPool, one "
                  "BasicBlock with explicit BatchNormalization, a BN-folded 1x1 conv "
                  "(onnx::Conv_* weights), GlobalAveragePool, Flatten, Gemm(transB=1); "
                  "dynamic batch_size", torch_model, torch_input, [])

    rng = np.random.default_rng(1013)
    write_fixture("tf2onnx_style", "tf2onnx",
                  "tf2onnx conversion of a Keras model with NHWC input: Transpose to NCHW, "
                  "Conv(+bias), Relu, MaxPool, Transpose back, Shape/Gather/Unsqueeze/Concat/"
                  "Reshape flatten, MatMul+Add dense layers, Softmax; dynamic batch unk__12",
                  build_tf2onnx_style(),
                  {"input_1:0": f32(rng.standard_normal((1, 32, 32, 3)))}, [])

    rng = np.random.default_rng(1014)
    write_fixture("paddle_style", "paddle",
                  "paddle2onnx style MobileNetV3-like block: all weights in Constant nodes, "
                  "Conv, Add bias, HardSwish, depthwise Conv, Clip(min/max inputs), SE gate "
                  "(GlobalAveragePool/Conv/Relu/Conv/HardSigmoid/Mul), residual Add, "
                  "GlobalAveragePool, Flatten, MatMul; dynamic batch, H, W written as -1, ?, ?",
                  build_paddle_style(),
                  {"x": f32(rng.standard_normal((1, 3, 24, 24)))}, ["x=1,3,24,24"])

    rng = np.random.default_rng(1015)
    write_fixture("caffe2_style", "caffe2",
                  "onnx-caffe2 style AlexNet-like net, IR 3 with initializers repeated in "
                  "graph.input and unnamed nodes: Conv, Relu, LRN, MaxPool, grouped Conv, Relu, "
                  "Dropout (opset 9 ratio form), Reshape by shape initializer, Gemm, Softmax",
                  build_caffe2_style(),
                  {"data_0": f32(rng.standard_normal((1, 3, 32, 32)))}, [])

    write_fixture("external_data", "pytorch",
                  "pytorch_style (same weights, same input, so the same outputs) saved with "
                  "every initializer in one external file weights.data",
                  build_pytorch_style(), torch_input, [], external_data=True)

    b, outs = build_mixed_ops()
    rng = np.random.default_rng(1018)
    x = {"x": f32(rng.standard_normal((1, 4, 8, 8)))}
    # Learn the output shapes from ORT once, then declare them in the graph.
    probe_dir = FIXTURES / "mixed_ops"
    reset_dir(probe_dir)
    probe = mixed_ops_model(b, outs)
    onnx.save_model(probe, str(probe_dir / "model.onnx"))
    shapes = {k: list(v.shape) for k, v in run_ort(probe_dir / "model.onnx", x).items()}
    write_fixture("mixed_ops", "mixed",
                  "opset 18 graph exercising many operators (activations, variadic "
                  "Sum/Max/Min/Mean, elementwise math, pooling with ceil_mode and "
                  "count_include_pad, Pad, Resize nearest/linear, Split/Slice/Squeeze/Unsqueeze/"
                  "Expand with tensor inputs, reductions, InstanceNormalization, ConvTranspose, "
                  "Cast, ConstantOfShape, Quantize/DequantizeLinear per tensor and per axis)",
                  mixed_ops_model(b, outs, shapes), x, [])

    write_bad_cases(torch_model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
