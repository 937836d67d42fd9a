import CleaveBundle
import CleaveIR

/// A Triton model configuration (Triton's `ModelConfig` protobuf) for one
/// bundle run by the onnxruntime backend: the same facts go into
/// config.pbtxt (`cleave export-triton`) and into the JSON of
/// `GET /v2/models/{name}/config` (`cleave serve`).
///
/// Bundle shapes are fixed, batch dimension included, so `max_batch_size` is
/// written explicitly as 0: Triton then takes `dims` as the full shape and
/// never adds a batch dimension of its own.
public struct TritonModelConfig: Sendable {
    public struct TensorConfig: Sendable {
        public var name: String
        /// `TYPE_FP32`, …
        public var dataType: String
        /// The full shape; `[1]` for a scalar, which `reshape` then maps back to rank 0.
        public var dims: [Int]
        /// True for a rank-0 tensor: Triton needs at least one dim.
        public var isScalar: Bool
    }

    public var name: String
    public var platform = "onnxruntime_onnx"
    public var backend = "onnxruntime"
    public var maxBatchSize = 0
    /// The file (here: folder) in each version directory Triton loads.
    public var defaultModelFilename = "model.onnx"
    public var inputs: [TensorConfig]
    public var outputs: [TensorConfig]

    /// The configuration for `manifest`'s inputs and outputs, served as `name`.
    /// - Throws: `CleaveError.badInput` for a tensor whose dtype Triton has no type for.
    public init(name: String, manifest: Manifest) throws {
        func tensor(_ spec: Manifest.TensorSpec) throws -> TensorConfig {
            guard let type = spec.dtype.tritonName else {
                throw CleaveError.badInput("tensor '\(spec.name)': dtype \(spec.dtype.name) has no Triton data type")
            }
            let scalar = spec.shape.rank == 0
            return TensorConfig(name: spec.name, dataType: type, dims: scalar ? [1] : spec.shape.dims, isScalar: scalar)
        }
        self.name = name
        inputs = try manifest.inputs.map(tensor)
        outputs = try manifest.outputs.map(tensor)
    }

    /// The configuration in protobuf text format, as Triton reads config.pbtxt.
    public var text: String {
        func block(_ field: String, _ tensors: [TensorConfig]) -> String {
            let entries = tensors.map { t in
                var lines = [
                    "    name: \(quoted(t.name))",
                    "    data_type: \(t.dataType)",
                    "    dims: [ \(t.dims.map(String.init).joined(separator: ", ")) ]",
                ]
                if t.isScalar { lines.append("    reshape: { shape: [ ] }") }
                return "  {\n" + lines.joined(separator: "\n") + "\n  }"
            }
            return "\(field) [\n" + entries.joined(separator: ",\n") + "\n]\n"
        }
        return """
            name: \(quoted(name))
            platform: \(quoted(platform))
            backend: \(quoted(backend))
            max_batch_size: \(maxBatchSize)
            default_model_filename: \(quoted(defaultModelFilename))

            """ + block("input", inputs) + block("output", outputs)
    }

    /// The configuration as Triton's `GET /v2/models/{name}/config` returns it
    /// (the protobuf's JSON form with the .proto field names).
    public var json: JSON {
        func tensor(_ t: TensorConfig) -> JSON {
            var members: [(String, JSON)] = [
                ("name", .string(t.name)), ("data_type", .string(t.dataType)), ("dims", .array(t.dims.map { .int($0) })),
            ]
            if t.isScalar { members.append(("reshape", .object([("shape", .array([]))]))) }
            return .object(members)
        }
        return .object([
            ("name", .string(name)),
            ("platform", .string(platform)),
            ("backend", .string(backend)),
            ("max_batch_size", .int(maxBatchSize)),
            ("default_model_filename", .string(defaultModelFilename)),
            ("input", .array(inputs.map(tensor))),
            ("output", .array(outputs.map(tensor))),
        ])
    }

    /// A protobuf text-format string literal: quotes, backslashes and every
    /// byte outside printable ASCII escaped (octal), which every parser reads.
    func quoted(_ s: String) -> String {
        var out = "\""
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += "\\\""
            case UInt8(ascii: "\\"): out += "\\\\"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let octal = String(byte, radix: 8)
                out += "\\" + String(repeating: "0", count: 3 - octal.count) + octal
            }
        }
        return out + "\""
    }
}
