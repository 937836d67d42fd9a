"""The v2 metadata of an ONNX model's inputs and outputs, as ONNX Runtime reads them.

Shared by the KServe and MLServer launchers (each runs in its own venv: the
two packages pin incompatible Starlette versions).
"""
import onnxruntime as ort

DATATYPES = {
    "tensor(float)": "FP32", "tensor(float16)": "FP16", "tensor(double)": "FP64",
    "tensor(int8)": "INT8", "tensor(int16)": "INT16", "tensor(int32)": "INT32", "tensor(int64)": "INT64",
    "tensor(uint8)": "UINT8", "tensor(uint16)": "UINT16", "tensor(uint32)": "UINT32", "tensor(uint64)": "UINT64",
    "tensor(bool)": "BOOL",
}


def session(path):
    """One ONNX Runtime session on the CPU with its default threads (all cores)."""
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"])


def tensors(args):
    """[{"name", "datatype", "shape"}] for session.get_inputs() or get_outputs(); -1 for a symbolic dim."""
    return [{"name": a.name, "datatype": DATATYPES[a.type],
             "shape": [d if isinstance(d, int) else -1 for d in a.shape]} for a in args]
