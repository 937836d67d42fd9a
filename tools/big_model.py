"""Writes a VGG-style model whose weights exceed protobuf's 2 GB limit.

Usage: .venv/bin/python tools/big_model.py OUT_DIR [--gigabytes 2.2]
Writes OUT_DIR/model.onnx (a few KB) and OUT_DIR/weights.bin (the weights, as
ONNX external data): a small conv stem, then fully-connected layers wide
enough that the weights pass the requested size. Values are a cheap
deterministic pattern, not random, so generation takes seconds.
"""
import argparse, os
import numpy as np
import onnx
from onnx import TensorProto, helper

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--gigabytes", type=float, default=2.2)
args = parser.parse_args()
os.makedirs(args.out, exist_ok=True)

weights_path = os.path.join(args.out, "weights.bin")
initializers, offset = [], 0


def add_weight(name, array):
    """Appends `array` to weights.bin and returns an external-data TensorProto."""
    global offset
    array = np.ascontiguousarray(array, dtype=np.float32)
    with open(weights_path, "ab") as f:
        array.tofile(f)
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(array.shape),
                         data_location=TensorProto.EXTERNAL)
    for key, value in (("location", "weights.bin"), ("offset", str(offset)), ("length", str(array.nbytes))):
        entry = tensor.external_data.add(); entry.key = key; entry.value = value
    offset += array.nbytes
    initializers.append(tensor)


if os.path.exists(weights_path):
    os.remove(weights_path)
nodes = []
# Stem: 3→16 conv, relu, pool to 16×8×8 = 1024 features.
add_weight("conv_w", (np.arange(16 * 3 * 3 * 3) % 7 - 3).reshape(16, 3, 3, 3) / 50)
add_weight("conv_b", np.zeros(16))
nodes += [helper.make_node("Conv", ["x", "conv_w", "conv_b"], ["c1"], name="conv", pads=[1, 1, 1, 1]),
          helper.make_node("Relu", ["c1"], ["r1"], name="relu"),
          helper.make_node("MaxPool", ["r1"], ["p1"], name="pool", kernel_shape=[4, 4], strides=[4, 4]),
          helper.make_node("Flatten", ["p1"], ["f1"], name="flatten")]
width, previous, layer = 1024, "f1", 0
target = int(args.gigabytes * 1e9)
hidden = 16384
while offset < target:
    rows = np.arange(width, dtype=np.float32)[:, None]
    cols = np.arange(hidden, dtype=np.float32)[None, :]
    add_weight(f"fc{layer}_w", ((rows * 31 + cols * 17) % 101 - 50) / (50.0 * width))
    add_weight(f"fc{layer}_b", np.zeros(hidden))
    nodes += [helper.make_node("Gemm", [previous, f"fc{layer}_w", f"fc{layer}_b"], [f"fc{layer}"], name=f"fc{layer}"),
              helper.make_node("Relu", [f"fc{layer}"], [f"relu{layer}"], name=f"fc{layer}_relu")]
    previous, width, layer = f"relu{layer}", hidden, layer + 1
add_weight("head_w", (np.arange(width * 10) % 11 - 5).reshape(width, 10) / (5.0 * width))
nodes.append(helper.make_node("Gemm", [previous, "head_w"], ["logits"], name="head"))
nodes.append(helper.make_node("Softmax", ["logits"], ["prob"], name="softmax", axis=1))

graph = helper.make_graph(nodes, "big_vgg_style",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
                          [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 10])], initializer=initializers)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8, producer_name="tools/big_model.py")
with open(os.path.join(args.out, "model.onnx"), "wb") as f:
    f.write(model.SerializeToString())
print(f"wrote {args.out}/model.onnx with {offset / 1e9:.2f} GB of weights in weights.bin ({layer} wide layers)")
