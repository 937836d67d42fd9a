#!/usr/bin/env python3
"""Train a small CNN on scikit-learn's handwritten digits and commit it as a fixture.

Run from the repository root (after tools/setup.sh):

    .venv/bin/python tools/train_digits.py

The model is the real, trained network that `cleave compress` is measured on
(README, "Results"): its accuracy on held-out digits is what compression must
keep. Training is plain NumPy (im2col convolutions, hand-written backward
passes, Adam), so nothing beyond numpy and scikit-learn (for the data) is
needed, and everything is seeded: the split is fixed (random_state 0,
stratified, 25 % test) and so is the initialisation and the batch order.

Network (input "image", float32 [batch, 1, 8, 8], pixels scaled to 0..1):

    Conv 3x3 1->32 pad 1, Relu          8x8
    Conv 3x3 32->64 pad 1, Relu         8x8
    MaxPool 2x2                         4x4
    Conv 3x3 64->128 pad 1, Relu        4x4
    MaxPool 2x2                         2x2
    Flatten, Gemm 512->128, Relu
    Gemm 128->10                        -> "logits" [batch, 10]

It is about as wide as small image CNNs usually are (2.4 M MACs), which is
what makes low-rank compression meaningful: a network with no spare channels
has nothing to compress.

Writes fixtures/digits/ in the layout of the other fixtures (model.onnx,
inputs/, outputs/ with the ONNX Runtime reference, fixture.json) plus
test_images.npy [450, 1, 8, 8] float32, test_labels.npy [450] int64 and
calibration.npy (256 training images, for `cleave compress --calibration`;
calibrating on training data keeps the test accuracy honest). fixture.json
records the test accuracy of the ONNX model under ONNX Runtime.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_fixtures import FIXTURES, ai_onnx_opset, file_safe, io_entry, reset_dir, run_ort, write_json  # noqa: E402

SEED = 0
EPOCHS = 20
BATCH = 32
LEARNING_RATE = 2e-3
WEIGHT_DECAY = 1e-4
CALIBRATION_IMAGES = 256


# --------------------------------------------------------------------------
# layers: forward returns (output, cache); backward takes (grad, cache)
# --------------------------------------------------------------------------

def im2col(x: np.ndarray) -> np.ndarray:
    """[B, C, H, W] -> [B, C*9, H*W] columns of a 3x3 window, padding 1, stride 1."""
    b, c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.empty((b, c, 3, 3, h, w), dtype=x.dtype)
    for i in range(3):
        for j in range(3):
            cols[:, :, i, j] = padded[:, :, i:i + h, j:j + w]
    return cols.reshape(b, c * 9, h * w)


def col2im(cols: np.ndarray, shape) -> np.ndarray:
    """The adjoint of im2col: sums each column entry back into its pixel."""
    b, c, h, w = shape
    cols = cols.reshape(b, c, 3, 3, h, w)
    padded = np.zeros((b, c, h + 2, w + 2), dtype=cols.dtype)
    for i in range(3):
        for j in range(3):
            padded[:, :, i:i + h, j:j + w] += cols[:, :, i, j]
    return padded[:, :, 1:-1, 1:-1]


def conv_forward(x, w, bias):
    cols = im2col(x)
    out = np.einsum("nk,bkp->bnp", w.reshape(w.shape[0], -1), cols) + bias[None, :, None]
    return out.reshape(x.shape[0], w.shape[0], x.shape[2], x.shape[3]), (x.shape, cols)


def conv_backward(grad, cache, w):
    shape, cols = cache
    g = grad.reshape(grad.shape[0], grad.shape[1], -1)
    dw = np.einsum("bnp,bkp->nk", g, cols).reshape(w.shape)
    db = g.sum(axis=(0, 2))
    dcols = np.einsum("nk,bnp->bkp", w.reshape(w.shape[0], -1), g)
    return col2im(dcols, shape), dw, db


def pool_forward(x):
    b, c, h, w = x.shape
    windows = x.reshape(b, c, h // 2, 2, w // 2, 2)
    out = windows.max(axis=(3, 5))
    mask = windows == out[:, :, :, None, :, None]
    # Ties: send the gradient to one element only, as frameworks do.
    first = np.cumsum(np.cumsum(mask, axis=3), axis=5) == 1
    return out, (mask & first, x.shape)


def pool_backward(grad, cache):
    mask, shape = cache
    return (mask * grad[:, :, :, None, :, None]).reshape(shape)


# --------------------------------------------------------------------------
# the network
# --------------------------------------------------------------------------

def init_params(rng) -> dict[str, np.ndarray]:
    def he(shape, fan_in):
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    return {
        "conv1.w": he((32, 1, 3, 3), 9), "conv1.b": np.zeros(32, np.float32),
        "conv2.w": he((64, 32, 3, 3), 288), "conv2.b": np.zeros(64, np.float32),
        "conv3.w": he((128, 64, 3, 3), 576), "conv3.b": np.zeros(128, np.float32),
        "fc1.w": he((128, 512), 512), "fc1.b": np.zeros(128, np.float32),
        "fc2.w": he((10, 128), 128), "fc2.b": np.zeros(10, np.float32),
    }


def forward(p, x, keep=False):
    caches = {}
    h, caches["c1"] = conv_forward(x, p["conv1.w"], p["conv1.b"])
    h = np.maximum(h, 0); caches["r1"] = h
    h, caches["c2"] = conv_forward(h, p["conv2.w"], p["conv2.b"])
    h = np.maximum(h, 0); caches["r2"] = h
    h, caches["pool"] = pool_forward(h)
    h, caches["c3"] = conv_forward(h, p["conv3.w"], p["conv3.b"])
    h = np.maximum(h, 0); caches["r3"] = h
    h, caches["pool2"] = pool_forward(h)
    flat = h.reshape(h.shape[0], -1); caches["flat"] = flat
    f = flat @ p["fc1.w"].T + p["fc1.b"]
    f = np.maximum(f, 0); caches["f1"] = f
    logits = f @ p["fc2.w"].T + p["fc2.b"]
    return (logits, caches) if keep else logits


def backward(p, caches, dlogits):
    g = {}
    f = caches["f1"]
    g["fc2.w"] = dlogits.T @ f
    g["fc2.b"] = dlogits.sum(0)
    df = (dlogits @ p["fc2.w"]) * (f > 0)
    g["fc1.w"] = df.T @ caches["flat"]
    g["fc1.b"] = df.sum(0)
    dh = (df @ p["fc1.w"]).reshape(caches["pool2"][1][0], 128, 2, 2)
    dh = pool_backward(dh, caches["pool2"]) * (caches["r3"] > 0)
    dh, g["conv3.w"], g["conv3.b"] = conv_backward(dh, caches["c3"], p["conv3.w"])
    dh = pool_backward(dh, caches["pool"]) * (caches["r2"] > 0)
    dh, g["conv2.w"], g["conv2.b"] = conv_backward(dh, caches["c2"], p["conv2.w"])
    dh = dh * (caches["r1"] > 0)
    _, g["conv1.w"], g["conv1.b"] = conv_backward(dh, caches["c1"], p["conv1.w"])
    return g


def softmax_cross_entropy(logits, labels):
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.log(probs[np.arange(len(labels)), labels] + 1e-12).mean()
    grad = probs
    grad[np.arange(len(labels)), labels] -= 1
    return loss, grad / len(labels)


def train(x_train, y_train, rng):
    p = init_params(rng)
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(val) for k, val in p.items()}
    step = 0
    for epoch in range(EPOCHS):
        order = rng.permutation(len(x_train))
        lr = LEARNING_RATE * 0.5 * (1 + np.cos(np.pi * epoch / EPOCHS))  # cosine decay
        total = 0.0
        for start in range(0, len(order), BATCH):
            idx = order[start:start + BATCH]
            logits, caches = forward(p, x_train[idx], keep=True)
            loss, dlogits = softmax_cross_entropy(logits, y_train[idx])
            total += loss * len(idx)
            grads = backward(p, caches, dlogits)
            step += 1
            for k in p:  # Adam with decoupled weight decay
                m[k] = 0.9 * m[k] + 0.1 * grads[k]
                v[k] = 0.999 * v[k] + 0.001 * grads[k] ** 2
                mhat = m[k] / (1 - 0.9 ** step)
                vhat = v[k] / (1 - 0.999 ** step)
                p[k] = (p[k] - lr * (mhat / (np.sqrt(vhat) + 1e-8) + WEIGHT_DECAY * p[k])).astype(np.float32)
        if epoch % 10 == 9 or epoch == EPOCHS - 1:
            acc = (forward(p, x_train).argmax(1) == y_train).mean()
            print(f"epoch {epoch + 1:3d}  loss {total / len(order):.4f}  train accuracy {acc:.4f}")
    return p


# --------------------------------------------------------------------------
# ONNX export
# --------------------------------------------------------------------------

def export(p) -> onnx.ModelProto:
    inits, nodes = [], []

    def init(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr, dtype=np.float32), name))
        return name

    def conv(scope, x, layer):
        w, b = init(f"{layer}.weight", p[f"{layer}.w"]), init(f"{layer}.bias", p[f"{layer}.b"])
        out = f"/{scope}/Conv_output_0"
        nodes.append(helper.make_node("Conv", [x, w, b], [out], name=f"/{scope}/Conv",
                                      kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1], dilations=[1, 1], group=1))
        return relu(scope, out)

    def relu(scope, x):
        out = f"/{scope}/Relu_output_0"
        nodes.append(helper.make_node("Relu", [x], [out], name=f"/{scope}/Relu"))
        return out

    h = conv("conv1", "image", "conv1")
    h = conv("conv2", h, "conv2")
    nodes.append(helper.make_node("MaxPool", [h], ["/pool/MaxPool_output_0"], name="/pool/MaxPool",
                                  kernel_shape=[2, 2], strides=[2, 2]))
    h = conv("conv3", "/pool/MaxPool_output_0", "conv3")
    nodes.append(helper.make_node("MaxPool", [h], ["/pool2/MaxPool_output_0"], name="/pool2/MaxPool",
                                  kernel_shape=[2, 2], strides=[2, 2]))
    nodes.append(helper.make_node("Flatten", ["/pool2/MaxPool_output_0"], ["/flatten/Flatten_output_0"], name="/flatten/Flatten", axis=1))
    nodes.append(helper.make_node("Gemm", ["/flatten/Flatten_output_0", init("fc1.weight", p["fc1.w"]), init("fc1.bias", p["fc1.b"])],
                                  ["/fc1/Gemm_output_0"], name="/fc1/Gemm", alpha=1.0, beta=1.0, transB=1))
    h = relu("fc1", "/fc1/Gemm_output_0")
    nodes.append(helper.make_node("Gemm", [h, init("fc2.weight", p["fc2.w"]), init("fc2.bias", p["fc2.b"])],
                                  ["logits"], name="/fc2/Gemm", alpha=1.0, beta=1.0, transB=1))
    graph = helper.make_graph(
        nodes, "digits_cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        inits)
    model = helper.make_model(graph, producer_name="cleave-train-digits", producer_version="1",
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def main() -> int:
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    labels = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=0.25, random_state=SEED, stratify=labels)
    rng = np.random.default_rng(SEED)
    params = train(x_train, y_train, rng)
    numpy_accuracy = float((forward(params, x_test).argmax(1) == y_test).mean())

    fdir = FIXTURES / "digits"
    reset_dir(fdir)
    model = export(params)
    onnx.save_model(model, str(fdir / "model.onnx"))

    logits = run_ort(fdir / "model.onnx", {"image": x_test})["logits"]
    accuracy = float((logits.argmax(1) == y_test).mean())
    if abs(accuracy - numpy_accuracy) > 1e-9:
        raise SystemExit(f"ONNX Runtime accuracy {accuracy} differs from NumPy's {numpy_accuracy}")

    feeds = {"image": np.ascontiguousarray(x_test[:1])}
    outputs = run_ort(fdir / "model.onnx", feeds)
    (fdir / "inputs").mkdir()
    (fdir / "outputs").mkdir()
    for k, v in feeds.items():
        np.save(fdir / "inputs" / f"{file_safe(k)}.npy", v)
    for k, v in outputs.items():
        np.save(fdir / "outputs" / f"{file_safe(k)}.npy", v)
    np.save(fdir / "test_images.npy", np.ascontiguousarray(x_test))
    np.save(fdir / "test_labels.npy", np.ascontiguousarray(y_test))
    calibration = x_train[np.random.default_rng(SEED + 1).choice(len(x_train), CALIBRATION_IMAGES, replace=False)]
    np.save(fdir / "calibration.npy", np.ascontiguousarray(calibration))

    write_json(fdir / "fixture.json", {
        "name": "digits",
        "style": "numpy",
        "opset": ai_onnx_opset(model),
        "ir_version": model.ir_version,
        "description": "a small CNN trained with NumPy on scikit-learn's 8x8 handwritten digits "
                       "(tools/train_digits.py): three 3x3 Conv+Relu (32, 64, 128 channels), two MaxPool, Flatten, two Gemm; "
                       "test_images.npy/test_labels.npy are the held-out split, calibration.npy "
                       "256 training images",
        "inputs": [io_entry(k, "inputs", v) for k, v in feeds.items()],
        "outputs": [io_entry(k, "outputs", v) for k, v in outputs.items()],
        "input_shape_args": [],
        "accuracy": {
            "test": accuracy,
            "test_images": int(len(y_test)),
            "train_images": int(len(y_train)),
            "split": "sklearn.model_selection.train_test_split(test_size=0.25, random_state=0, stratify=labels)",
        },
    })
    size = sum(f.stat().st_size for f in fdir.rglob("*") if f.is_file())
    print(f"test accuracy {accuracy:.4f} on {len(y_test)} images; fixtures/digits is {size / 1024:.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
