"""An MLServer custom runtime that runs an ONNX model (a cleave cloud half) with ONNX Runtime.

Used by tools/interop_servers.py, which writes settings.json and
model-settings.json (`"implementation": "mlserver_onnx.CloudHalf"`,
`"parameters": {"uri": MODEL.onnx}`, the inputs and outputs as metadata) and
starts `.venv-mlserver/bin/mlserver start DIR` with this folder on PYTHONPATH.
MLServer's REST API reads and writes JSON tensor data only.
"""
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse

import onnx_metadata


class CloudHalf(MLModel):
    async def load(self) -> bool:
        self.session = onnx_metadata.session(self.settings.parameters.uri)
        self.output_names = [o.name for o in self.session.get_outputs()]
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        feeds = {tensor.name: NumpyCodec.decode_input(tensor) for tensor in payload.inputs}
        results = self.session.run(self.output_names, feeds)
        outputs = [NumpyCodec.encode_output(name=name, payload=value) for name, value in zip(self.output_names, results)]
        return InferenceResponse(model_name=self.name, id=payload.id, outputs=outputs)
