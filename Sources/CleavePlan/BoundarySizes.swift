import CleaveIR
import CleaveRuntime

/// Bytes boundary tensors take on the wire under a `BoundaryCodec`: what
/// `cleave run --remote` sends in the request's binary section, predicted
/// from a tensor's type or measured on its values with the same
/// `Quantization` and `Zlib` the sender uses. The JSON header that names each
/// tensor (and carries an int8 tensor's scale and zero point) is not counted,
/// under any codec.
public enum BoundarySizes {
    /// The bytes a tensor of `type` takes under `.none` or `.int8` (one per
    /// float32 element); nil for `.int8Zlib`, whose size depends on the values
    /// (use `measure`).
    public static func predicted(_ type: TensorType, codec: BoundaryCodec) -> Int? {
        switch codec {
        case .none: return type.byteCount
        case .int8: return codec.quantizes(type.dtype) ? type.shape.elementCount : type.byteCount
        case .int8Zlib: return nil
        }
    }

    /// The bytes `tensor` takes under `codec`: its raw bytes or, for float32
    /// under the int8 codecs, its codes; under `.int8Zlib` those deflated as
    /// one stream per tensor (the sender deflates the whole body as one, so a
    /// cut of several tensors may travel a little smaller than counted).
    /// - Throws: `CleaveError.badInput` naming `name` when a float32 tensor
    ///   holds NaN or infinity, which the int8 codecs cannot send.
    public static func measured(_ tensor: Tensor, name: String, codec: BoundaryCodec) throws -> Int {
        let wire = codec.quantizes(tensor.dtype) ? try Quantization.quantized(tensor, name: name).codes : tensor
        guard codec.deflates else { return wire.byteCount }
        return try withExtendedLifetime(wire) {
            try Zlib.deflate(wire.storage.bytes, level: BoundaryCodec.deflateLevel).count
        }
    }

    /// The bytes every runtime input and every node output of `graph` takes
    /// on the wire under `codec` (`measured`), on the values a run on `inputs`
    /// produces (every activation is kept, so peak memory is the sum of all
    /// activations). A float32 tensor holding NaN or infinity has no entry
    /// under the int8 codecs: the sender would refuse it.
    /// - Parameter inputs: a tensor per runtime input (calibration data);
    ///   missing inputs get `syntheticInput`.
    /// - Throws: `CleaveError` if the model cannot run on the inputs.
    public static func measure(graph: Graph, analysis: Analysis, inputs: [String: Tensor] = [:],
                               codec: BoundaryCodec, threads: Int? = nil) throws -> [String: Int] {
        var feeds = inputs
        for input in graph.runtimeInputs where feeds[input.name] == nil {
            guard let type = analysis.types[input.name] else { continue }
            feeds[input.name] = syntheticInput(type, seed: UInt64(feeds.count + 1))
        }
        var probe = graph
        let constants = Set(graph.constants.keys)
        var names: [String] = []
        for node in graph.nodes where node.op != .constant {
            names += node.outputs.filter { !$0.isEmpty && !constants.contains($0) && analysis.types[$0] != nil }
        }
        let declared = Set(graph.outputs.map(\.name))
        probe.outputs += names.filter { !declared.contains($0) }.map { ValueInfo(name: $0, dtype: nil, dims: nil) }
        let session = try Session(graph: probe, options: SessionOptions(threads: threads))
        let values = try session.run(feeds)
        var sizes: [String: Int] = [:]
        for (name, tensor) in feeds.merging(values, uniquingKeysWith: { _, computed in computed }) {
            do {
                sizes[name] = try measured(tensor, name: name, codec: codec)
            } catch let error as CleaveError where error.kind == .badInput {
                // A tensor with NaN or infinity cannot cross quantised; left
                // out, it is charged its raw size rather than failing the
                // whole plan over a tensor that may never be a cut.
                continue
            }
        }
        return sizes
    }

    /// A deterministic stand-in for real data: uniform in [−1, 1) for float
    /// inputs (roughly a normalised image), zeros for every other dtype.
    public static func syntheticInput(_ type: TensorType, seed: UInt64) -> Tensor {
        guard type.dtype == .float else { return Tensor(zeros: type.dtype, type.shape) }
        var random = SplitMix64(seed: seed)
        let values = (0..<type.shape.elementCount).map { _ in Float(random.next() >> 40) / Float(1 << 23) - 1 }
        return Tensor(type.shape, floats: values)
    }
}
