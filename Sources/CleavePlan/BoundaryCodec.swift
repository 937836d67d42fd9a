import CZlib
import CleaveIR
import CleaveRuntime

/// How boundary tensors are encoded for the trip from the edge to the cloud.
public enum BoundaryCodecKind: String, CaseIterable, Sendable {
    /// The raw tensor bytes.
    case none
    /// Float tensors as one byte per element, affine over the tensor's
    /// [min, max], plus an 8-byte header (scale and minimum as float32);
    /// other dtypes raw.
    case int8
    /// `int8`, then the bytes deflated with zlib (level 6). Its size depends on
    /// the values, so the planner measures it on real activations.
    case int8zlib = "int8+zlib"
}

/// Encodes boundary tensors and counts their bytes.
///
/// Encoded layout for a float tensor under `int8` and `int8+zlib`:
/// `scale: float32 LE`, `minimum: float32 LE`, then one byte per element,
/// `q = round((x − minimum) / scale)` clamped to 0…255, decoded as
/// `minimum + q·scale` (error ≤ scale/2). Under `int8+zlib` the element
/// bytes (not the header) are a zlib stream. A constant tensor has scale 0.
/// Non-float tensors (shapes, indices) are sent raw under every codec.
public enum BoundaryCodec {
    /// Bytes of the header in front of a quantised tensor.
    public static let headerBytes = 8

    /// Bytes `type` takes on the wire under `.none` or `.int8`; nil for
    /// `.int8zlib`, whose size depends on the values (use `encode`).
    public static func predictedBytes(_ type: TensorType, codec: BoundaryCodecKind) -> Int? {
        switch codec {
        case .none: return type.byteCount
        case .int8: return quantizes(type.dtype) ? headerBytes + type.shape.elementCount : type.byteCount
        case .int8zlib: return nil
        }
    }

    /// Whether the codecs quantise tensors of `dtype`.
    public static func quantizes(_ dtype: DType) -> Bool { dtype == .float }

    /// The bytes `tensor` takes on the wire under `codec`.
    public static func encode(_ tensor: Tensor, codec: BoundaryCodecKind) -> [UInt8] {
        guard codec != .none, quantizes(tensor.dtype) else { return Array(tensor.storage.bytes) }
        let (header, codes) = quantize(tensor)
        if codec == .int8 { return header + codes }
        return header + deflate(codes)
    }

    /// The tensor `bytes` encode, given its type.
    /// - Throws: `CleaveError.badInput` if the bytes do not fit the type or
    ///   the zlib stream is corrupt.
    public static func decode(_ bytes: [UInt8], type: TensorType, codec: BoundaryCodecKind) throws -> Tensor {
        let count = type.shape.elementCount
        guard codec != .none, quantizes(type.dtype) else {
            guard bytes.count == type.byteCount else {
                throw CleaveError.badInput("boundary tensor: \(bytes.count) bytes, expected \(type.byteCount) for \(type)")
            }
            return Tensor(dtype: type.dtype, shape: type.shape, storage: bytes.withUnsafeBytes { TensorStorage(copying: $0) })
        }
        guard bytes.count >= headerBytes else { throw CleaveError.badInput("boundary tensor: \(bytes.count) bytes, shorter than the \(headerBytes)-byte header") }
        let scale = float(bytes, at: 0), minimum = float(bytes, at: 4)
        let body = Array(bytes[headerBytes...])
        let codes = codec == .int8 ? body : try inflate(body, expected: count)
        guard codes.count == count else {
            throw CleaveError.badInput("boundary tensor: \(codes.count) quantised elements, expected \(count) for \(type)")
        }
        return Tensor(type.shape, floats: codes.map { minimum + Float($0) * scale })
    }

    // MARK: quantisation

    private static func quantize(_ tensor: Tensor) -> (header: [UInt8], codes: [UInt8]) {
        tensor.withUnsafeBufferPointer(as: Float.self) { values in
            var low = Float.infinity, high = -Float.infinity
            for v in values where v.isFinite {
                low = Swift.min(low, v)
                high = Swift.max(high, v)
            }
            if low > high { low = 0; high = 0 }
            let scale = (high - low) / 255
            let inverse = scale > 0 ? 1 / scale : 0
            var codes = [UInt8](repeating: 0, count: values.count)
            for i in values.indices {
                let q = ((values[i] - low) * inverse).rounded()
                codes[i] = q.isNaN ? 0 : UInt8(Swift.max(0, Swift.min(255, q)))
            }
            return (bytes(of: scale) + bytes(of: low), codes)
        }
    }

    private static func bytes(of value: Float) -> [UInt8] {
        withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) }
    }

    private static func float(_ bytes: [UInt8], at offset: Int) -> Float {
        var bits: UInt32 = 0
        for i in 0..<4 { bits |= UInt32(bytes[offset + i]) << (8 * i) }
        return Float(bitPattern: bits)
    }

    // MARK: zlib

    /// `bytes` as a zlib stream at level 6 (zlib's default trade-off).
    static func deflate(_ bytes: [UInt8]) -> [UInt8] {
        var capacity = compressBound(uLong(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(capacity))
        let status = out.withUnsafeMutableBufferPointer { destination in
            bytes.withUnsafeBufferPointer { source in
                compress2(destination.baseAddress, &capacity, source.baseAddress, uLong(source.count), 6)
            }
        }
        // compress2 cannot fail with a compressBound-sized buffer; keep the raw codes if it ever does.
        guard status == Z_OK else { return bytes }
        out.removeSubrange(Int(capacity)...)
        return out
    }

    static func inflate(_ bytes: [UInt8], expected: Int) throws -> [UInt8] {
        var length = uLongf(expected)
        var out = [UInt8](repeating: 0, count: Swift.max(1, expected))
        let status = out.withUnsafeMutableBufferPointer { destination in
            bytes.withUnsafeBufferPointer { source in
                uncompress(destination.baseAddress, &length, source.baseAddress, uLong(source.count))
            }
        }
        guard status == Z_OK else { throw CleaveError.badInput("boundary tensor: corrupt zlib stream (zlib status \(status))") }
        out.removeSubrange(Int(length)...)
        return out
    }
}

/// Encoded sizes of a model's tensors, measured by running it.
public enum BoundarySizes {
    /// The bytes every runtime input and every node output of `graph` takes
    /// on the wire under `codec`, measured on the values a run on `inputs`
    /// produces (every activation is kept, so peak memory is the sum of all
    /// activations).
    /// - Parameter inputs: a tensor per runtime input (calibration data);
    ///   missing inputs get `syntheticInput`.
    /// - Throws: `CleaveError` if the model cannot run on the inputs.
    public static func measure(graph: Graph, analysis: Analysis, inputs: [String: Tensor] = [:],
                               codec: BoundaryCodecKind, threads: Int? = nil) throws -> [String: Int] {
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
        for (name, tensor) in feeds { sizes[name] = BoundaryCodec.encode(tensor, codec: codec).count }
        for (name, tensor) in values { sizes[name] = BoundaryCodec.encode(tensor, codec: codec).count }
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
