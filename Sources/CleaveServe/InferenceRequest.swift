import CleaveBundle
import CleaveIR
import CleaveRuntime

/// An inference request, decoded and checked against the served model: every
/// model input given once with the model's datatype and shape, the outputs
/// to return and how.
struct InferenceRequest {
    struct Output {
        var name: String
        var binary: Bool
    }

    var id: JSON?
    var inputs: [String: Tensor]
    var outputs: [Output]

    /// Decodes a (decompressed) body.
    /// - Parameters:
    ///   - headerLength: the `Inference-Header-Content-Length` value, if sent.
    /// - Throws: `ServeError` 400 naming the input or field at fault.
    init(body: UnsafeRawBufferPointer, headerLength field: String?, model: ServedModel) throws {
        let headerLength = try InferenceProtocol.headerLength(field, bodyCount: body.count)
        let header = try InferenceProtocol.parseHeader(body, length: headerLength)
        id = header["id"]

        var binaryOutput = false
        if let parameters = header["parameters"] {
            guard parameters.objectValue != nil else { throw ServeError.badRequest("'parameters' must be an object") }
            if let flag = parameters["binary_data_output"] {
                guard let b = flag.boolValue else { throw ServeError.badRequest("'binary_data_output' must be true or false") }
                binaryOutput = b
            }
        }

        guard let entries = header["inputs"]?.arrayValue else { throw ServeError.badRequest("the request has no 'inputs' array") }
        var binary = InferenceProtocol.BinaryCursor(body: body, start: headerLength)
        var inputs: [String: Tensor] = [:]
        for entry in entries {
            let wire = try InferenceProtocol.readTensor(entry, role: "input", binary: &binary)
            guard let spec = model.inputs.first(where: { $0.name == wire.name }) else {
                throw ServeError.badRequest("input '\(wire.name)' is not an input of model '\(model.name)' (inputs: \(model.inputs.map(\.name).joined(separator: ", ")))")
            }
            guard inputs[wire.name] == nil else { throw ServeError.badRequest("input '\(wire.name)' is given twice") }
            inputs[wire.name] = try InferenceRequest.conform(wire, to: spec)
        }
        if let missing = model.inputs.first(where: { inputs[$0.name] == nil }) {
            throw ServeError.badRequest("input '\(missing.name)' is missing (expected \(missing.dtype.kserveName ?? missing.dtype.name)\(missing.shape.dims))")
        }
        guard binary.remaining == 0 else {
            throw ServeError.badRequest("the body has \(binary.remaining) bytes of binary data that no input claims")
        }
        self.inputs = inputs

        if let requested = header["outputs"] {
            guard let list = requested.arrayValue else { throw ServeError.badRequest("'outputs' must be an array") }
            var outputs: [Output] = []
            for item in list {
                guard let name = item["name"]?.stringValue else { throw ServeError.badRequest("each requested output needs a string 'name'") }
                guard model.outputs.contains(where: { $0.name == name }) else {
                    throw ServeError.badRequest("output '\(name)' is not an output of model '\(model.name)' (outputs: \(model.outputs.map(\.name).joined(separator: ", ")))")
                }
                guard !outputs.contains(where: { $0.name == name }) else { throw ServeError.badRequest("output '\(name)' is requested twice") }
                var asBinary = binaryOutput
                if let parameters = item["parameters"] {
                    if let flag = parameters["binary_data"] {
                        guard let b = flag.boolValue else { throw ServeError.badRequest("output '\(name)': 'binary_data' must be true or false") }
                        asBinary = b
                    }
                    if let classes = parameters["classification"], classes.intValue != 0 {
                        throw ServeError.badRequest("output '\(name)': the classification extension is not supported")
                    }
                }
                outputs.append(Output(name: name, binary: asBinary))
            }
            self.outputs = outputs
        } else {
            outputs = model.outputs.map { Output(name: $0.name, binary: binaryOutput) }
        }
    }

    /// Checks a sent tensor against the model's input; dequantises a `UINT8`
    /// tensor sent for an FP32 input with `scale` and `zero_point` parameters
    /// (`cleave run --remote --boundary-codec int8`).
    static func conform(_ wire: InferenceProtocol.WireTensor, to spec: Manifest.TensorSpec) throws -> Tensor {
        let sent = wire.tensor
        func name(_ dtype: DType) -> String { dtype.kserveName ?? dtype.name }
        guard sent.shape == spec.shape else {
            throw ServeError.badRequest("input '\(spec.name)': shape \(sent.shape.dims) does not match the model's \(spec.shape.dims)")
        }
        if sent.dtype == spec.dtype { return sent }
        guard spec.dtype == .float, sent.dtype == .uint8, let quantization = try quantization(of: wire) else {
            throw ServeError.badRequest("input '\(spec.name)': datatype \(name(sent.dtype)) does not match the model's \(name(spec.dtype))")
        }
        return quantization.dequantized(sent)
    }

    /// The `scale` / `zero_point` pair of a quantised tensor; nil when neither is given.
    static func quantization(of wire: InferenceProtocol.WireTensor) throws -> Quantization? {
        let scale = wire.parameter("scale"), zeroPoint = wire.parameter("zero_point")
        if scale == nil && zeroPoint == nil { return nil }
        guard let s = scale?.doubleValue, s.isFinite, s > 0, Float(s).isNormal else {
            throw ServeError.badRequest("input '\(wire.name)': parameter 'scale' must be a positive finite number")
        }
        guard case .int(let z)? = zeroPoint, (0...255).contains(z) else {
            throw ServeError.badRequest("input '\(wire.name)': parameter 'zero_point' must be an integer in 0...255")
        }
        return Quantization(scale: Float(s), zeroPoint: z)
    }
}
