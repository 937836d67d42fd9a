"""A Triton Python-backend model that runs an ONNX model (a cleave cloud half) with ONNX Runtime.

PyTriton's wheel, the only Triton server PyPI has, carries the Python backend
but not the ONNX Runtime one; tools/interop_servers.py serves export-triton's
config.pbtxt through this model instead (backend "python", the ONNX file in
the `onnx_model` parameter), so Triton's own HTTP front end, metadata and
binary tensor data are what `cleave run --remote` talks to. The backend's stub
runs the system's libpython without the venv (and ignores PYTHONPATH), so the
`site_packages` parameter names where ONNX Runtime and NumPy are, and every
import that needs them waits for `initialize`.
"""
import json, sys


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        sys.path.insert(0, config["parameters"]["site_packages"]["string_value"])
        import onnxruntime as ort
        import triton_python_backend_utils as pb_utils

        self.pb = pb_utils

        path = config["parameters"]["onnx_model"]["string_value"]
        self.session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        self.inputs = [i["name"] for i in config["input"]]
        self.outputs = [o["name"] for o in config["output"]]

    def execute(self, requests):
        responses = []
        for request in requests:
            feeds = {name: self.pb.get_input_tensor_by_name(request, name).as_numpy() for name in self.inputs}
            results = self.session.run(self.outputs, feeds)
            responses.append(self.pb.InferenceResponse([self.pb.Tensor(n, r) for n, r in zip(self.outputs, results)]))
        return responses
