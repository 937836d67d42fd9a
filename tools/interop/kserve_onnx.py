"""KServe's own Python model server running an ONNX model (a cleave cloud half) with ONNX Runtime.

Usage: .venv-kserve/bin/python tools/interop/kserve_onnx.py MODEL.onnx --name NAME --port PORT

A `kserve.Model` whose metadata lists the model's inputs and outputs and whose
predict runs them through ONNX Runtime, answering in binary when the request
asks for binary outputs (`binary_data_output`) and in JSON otherwise. KServe
binds its REST server to 0.0.0.0 unconditionally; this launcher makes it bind
127.0.0.1 instead, and turns gRPC off.
"""
import argparse, os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser()
parser.add_argument("model")
parser.add_argument("--name", required=True)
parser.add_argument("--port", type=int, required=True)
args = parser.parse_args()
sys.argv = sys.argv[:1]  # kserve.model_server parses sys.argv when it is imported

import uvicorn  # noqa: E402

_Config = uvicorn.Config


class LoopbackConfig(_Config):
    def __init__(self, *positional, **named):
        named["host"] = "127.0.0.1"
        super().__init__(*positional, **named)


uvicorn.Config = LoopbackConfig

import kserve  # noqa: E402
from kserve import InferOutput, InferRequest, InferResponse  # noqa: E402

import onnx_metadata  # noqa: E402


class CloudHalf(kserve.Model):
    def __init__(self, name, path):
        super().__init__(name)
        self.session = onnx_metadata.session(path)
        self.inputs = onnx_metadata.tensors(self.session.get_inputs())
        self.outputs = onnx_metadata.tensors(self.session.get_outputs())
        self.ready = True

    def get_input_types(self):
        return self.inputs

    def get_output_types(self):
        return self.outputs

    def predict(self, payload: InferRequest, headers=None, response_headers=None) -> InferResponse:
        feeds = {tensor.name: tensor.as_numpy() for tensor in payload.inputs}
        results = self.session.run([o["name"] for o in self.outputs], feeds)
        binary = payload.use_binary_outputs
        outputs = []
        for spec, value in zip(self.outputs, results):
            output = InferOutput(name=spec["name"], shape=list(value.shape), datatype=spec["datatype"])
            output.set_data_from_numpy(value, binary_data=binary)
            outputs.append(output)
        return InferResponse(response_id=payload.id, model_name=self.name, infer_outputs=outputs, use_binary_outputs=binary)


if __name__ == "__main__":
    kserve.ModelServer(http_port=args.port, enable_grpc=False, workers=1).start([CloudHalf(args.name, args.model)])
