#!/usr/bin/env python3
"""Vision transformers at their published sizes, with seeded random weights.

Usage: .venv/bin/python tools/transformer_models.py [--out .models/transformers] [--only deit_tiny,vit_b16]

Writes <out>/<name>.onnx and <out>/<name>/input_0.npy (one 1x3x224x224 image of
seeded uniform noise). The graphs are written with onnx.helper in the form
PyTorch's exporter emits at opset 20: a 16x16 stride-16 Conv patch embedding, a
class token Concat, a position-embedding Add, then per block LayerNormalization,
one QKV MatMul by a constant, Reshape/Transpose into heads, MatMul, Softmax,
MatMul, Transpose/Reshape back, the output projection, a residual Add,
LayerNormalization, an MLP with Gelu and a second residual; a final
LayerNormalization, the class token Gather and a Gemm head.

The weights are random (normal, std 0.02, seed per model): these models are for
coverage and speed only, never for compression or split gains.

    deit_tiny   DeiT-tiny/16: 12 blocks, width 192, 3 heads, MLP 768 (5.7 M params)
    vit_b16     ViT-B/16:     12 blocks, width 768, 12 heads, MLP 3072 (86 M params)
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = {"deit_tiny": (12, 192, 3, 768), "vit_b16": (12, 768, 12, 3072)}


def build(name, depth, width, heads, mlp, image=224, patch=16, classes=1000):
    rng = np.random.default_rng(sum(map(ord, name)))  # a seed per model, stable across runs
    nodes, inits = [], []

    def const(label, array):
        inits.append(numpy_helper.from_array(np.asarray(array), label))
        return label

    def weight(label, *shape):
        return const(label, (rng.standard_normal(shape) * 0.02).astype(np.float32))

    def op(kind, inputs, output, **attributes):
        nodes.append(helper.make_node(kind, inputs, [output], name=output.rsplit("_output", 1)[0], **attributes))
        return output

    tokens = (image // patch) ** 2 + 1
    head_dim = width // heads
    x = op("Conv", ["pixel_values", weight("patch.weight", width, 3, patch, patch), weight("patch.bias", width)],
           "/patch/Conv_output_0", kernel_shape=[patch, patch], strides=[patch, patch])
    x = op("Reshape", [x, const("flat_shape", np.array([1, width, tokens - 1], np.int64))], "/patch/Reshape_output_0")
    x = op("Transpose", [x], "/patch/Transpose_output_0", perm=[0, 2, 1])
    x = op("Concat", [weight("cls_token", 1, 1, width), x], "/Concat_output_0", axis=1)
    x = op("Add", [x, weight("pos_embed", 1, tokens, width)], "/pos/Add_output_0")
    heads_shape = const("heads_shape", np.array([1, tokens, 3, heads, head_dim], np.int64))
    merge_shape = const("merge_shape", np.array([1, tokens, width], np.int64))
    scale = const("scale", np.array(head_dim ** -0.5, np.float32))
    for b in range(depth):
        p = f"/blocks.{b}"
        h = op("LayerNormalization", [x, const(f"{p}.ln1.w", np.ones(width, np.float32)), const(f"{p}.ln1.b", np.zeros(width, np.float32))],
               f"{p}/norm1/LayerNormalization_output_0", axis=-1, epsilon=1e-6)
        qkv = op("MatMul", [h, weight(f"{p}.qkv.w", width, 3 * width)], f"{p}/attn/qkv/MatMul_output_0")
        qkv = op("Add", [qkv, weight(f"{p}.qkv.b", 3 * width)], f"{p}/attn/qkv/Add_output_0")
        qkv = op("Reshape", [qkv, heads_shape], f"{p}/attn/Reshape_output_0")
        qkv = op("Transpose", [qkv], f"{p}/attn/Transpose_output_0", perm=[2, 0, 3, 1, 4])
        q, k, v = (f"{p}/attn/Split_output_{i}" for i in range(3))
        nodes.append(helper.make_node("Split", [qkv], [q, k, v], name=f"{p}/attn/Split", axis=0, num_outputs=3))
        q, k, v = (op("Squeeze", [t, const(f"{p}.axis0.{i}", np.array([0], np.int64))], f"{p}/attn/Squeeze_{i}_output_0")
                   for i, t in enumerate((q, k, v)))
        kt = op("Transpose", [k], f"{p}/attn/Transpose_1_output_0", perm=[0, 1, 3, 2])
        a = op("MatMul", [q, kt], f"{p}/attn/MatMul_output_0")
        a = op("Mul", [a, scale], f"{p}/attn/Mul_output_0")
        a = op("Softmax", [a], f"{p}/attn/Softmax_output_0", axis=-1)
        a = op("MatMul", [a, v], f"{p}/attn/MatMul_1_output_0")
        a = op("Transpose", [a], f"{p}/attn/Transpose_2_output_0", perm=[0, 2, 1, 3])
        a = op("Reshape", [a, merge_shape], f"{p}/attn/Reshape_1_output_0")
        a = op("MatMul", [a, weight(f"{p}.proj.w", width, width)], f"{p}/attn/proj/MatMul_output_0")
        a = op("Add", [a, weight(f"{p}.proj.b", width)], f"{p}/attn/proj/Add_output_0")
        x = op("Add", [x, a], f"{p}/Add_output_0")
        h = op("LayerNormalization", [x, const(f"{p}.ln2.w", np.ones(width, np.float32)), const(f"{p}.ln2.b", np.zeros(width, np.float32))],
               f"{p}/norm2/LayerNormalization_output_0", axis=-1, epsilon=1e-6)
        h = op("MatMul", [h, weight(f"{p}.fc1.w", width, mlp)], f"{p}/mlp/fc1/MatMul_output_0")
        h = op("Add", [h, weight(f"{p}.fc1.b", mlp)], f"{p}/mlp/fc1/Add_output_0")
        h = op("Gelu", [h], f"{p}/mlp/act/Gelu_output_0")
        h = op("MatMul", [h, weight(f"{p}.fc2.w", mlp, width)], f"{p}/mlp/fc2/MatMul_output_0")
        h = op("Add", [h, weight(f"{p}.fc2.b", width)], f"{p}/mlp/fc2/Add_output_0")
        x = op("Add", [x, h], f"{p}/Add_1_output_0")
    x = op("LayerNormalization", [x, const("norm.w", np.ones(width, np.float32)), const("norm.b", np.zeros(width, np.float32))],
           "/norm/LayerNormalization_output_0", axis=-1, epsilon=1e-6)
    x = op("Gather", [x, const("cls_index", np.array(0, np.int64))], "/Gather_output_0", axis=1)
    op("Gemm", [x, weight("head.w", classes, width), weight("head.b", classes)], "logits", transB=1)
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, [1, 3, image, image])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, classes])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=9,
                              producer_name="cleave tools/transformer_models.py")
    onnx.checker.check_model(model)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(ROOT, ".models", "transformers"))
    parser.add_argument("--only", default=",".join(SIZES))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name in args.only.split(","):
        model = build(name, *SIZES[name])
        path = os.path.join(args.out, name + ".onnx")
        onnx.save(model, path)
        os.makedirs(os.path.join(args.out, name), exist_ok=True)
        image = np.random.default_rng(7).random((1, 3, 224, 224), dtype=np.float32)
        np.save(os.path.join(args.out, name, "input_0.npy"), image)
        print(f"{name}: {path} ({os.path.getsize(path) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
