import CleaveIR

/// Per-tensor asymmetric 8-bit quantisation, as ONNX's QuantizeLinear with a
/// `uint8` zero point: `q = saturate(round(x / scale) + zero_point)`,
/// `x' = (q − zero_point) × scale`, rounding half to even.
///
/// The range is widened to include 0 so that zero — what ReLU and padding
/// emit most — is exact; any other element is off by at most `scale`
/// (`scale / 2` away from the ends of the range, where rounding the zero
/// point can clamp). `cleave run --remote` sends boundary tensors this way,
/// and the QuantizeLinear/DequantizeLinear pair `cleave cut` inserts uses the
/// same parameters, so both agree on what an int8 boundary is.
public struct Quantization: Sendable, Equatable {
    public var scale: Float
    public var zeroPoint: Int

    public init(scale: Float, zeroPoint: Int) {
        self.scale = scale
        self.zeroPoint = zeroPoint
    }

    /// The parameters for `values`' range.
    /// - Parameter name: the tensor's name, for the error.
    /// - Throws: `CleaveError.badInput` naming the tensor when a value is NaN
    ///   or infinite, which no 8-bit range can hold.
    public init(covering values: UnsafeBufferPointer<Float>, name: String) throws {
        self.init(covering: try Quantization.range(of: values, name: name))
    }

    /// The parameters for values in `range`, widened to include 0. The bounds
    /// must be finite, as `range(of:name:)` returns them.
    public init(covering range: ClosedRange<Float>) {
        let low = Swift.min(range.lowerBound, 0), high = Swift.max(range.upperBound, 0)
        // Divided before subtracting so that no finite range overflows.
        let scale = high / 255 - low / 255
        guard scale > 0, scale.isFinite else {
            // All zeros: any scale represents them exactly. Non-finite bounds
            // land here too rather than trap.
            self.init(scale: 1, zeroPoint: 0)
            return
        }
        let zero = (-low / scale).rounded(.toNearestOrEven)
        self.init(scale: scale, zeroPoint: Int(Swift.min(Swift.max(zero, 0), 255)))
    }

    /// The smallest and largest of `values`, widened to include 0, so that
    /// ranges of several batches can be merged before choosing the parameters.
    /// - Throws: `CleaveError.badInput` naming the tensor for a NaN or infinity.
    public static func range(of values: UnsafeBufferPointer<Float>, name: String) throws -> ClosedRange<Float> {
        var low: Float = 0, high: Float = 0
        for v in values {
            guard v.isFinite else { throw CleaveError.badInput("boundary tensor '\(name)' holds \(v); the int8 codec needs finite values") }
            low = Swift.min(low, v)
            high = Swift.max(high, v)
        }
        return low...high
    }

    /// Writes `values` quantised into `output` (same count).
    public func quantize(_ values: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<UInt8>) {
        let zero = Float(zeroPoint)
        for i in 0..<Swift.min(values.count, output.count) {
            let q = (values[i] / scale).rounded(.toNearestOrEven) + zero
            output[i] = UInt8(Swift.min(Swift.max(q, 0), 255))
        }
    }

    /// Writes `codes` dequantised into `output` (same count).
    public func dequantize(_ codes: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<Float>) {
        for i in 0..<Swift.min(codes.count, output.count) {
            output[i] = Float(Int(codes[i]) - zeroPoint) * scale
        }
    }
}

// MARK: tensors

extension Quantization {
    /// `tensor` (float32) as `uint8` codes of the same shape, with the
    /// parameters for its range.
    /// - Throws: `CleaveError.badInput` naming `name` when a value is NaN or infinite.
    public static func quantized(_ tensor: Tensor, name: String) throws -> (codes: Tensor, quantization: Quantization) {
        let codes = Tensor.uninitialized(.uint8, tensor.shape)
        let quantization = try tensor.withUnsafeBufferPointer(as: Float.self) { values in
            let q = try Quantization(covering: values, name: name)
            codes.withUnsafeMutableBufferPointer(as: UInt8.self) { q.quantize(values, into: $0) }
            return q
        }
        return (codes, quantization)
    }

    /// The float32 tensor that `codes` (`uint8`, any shape) stand for.
    public func dequantized(_ codes: Tensor) -> Tensor {
        let output = Tensor.uninitialized(.float, codes.shape)
        output.withUnsafeMutableBufferPointer(as: Float.self) { dequantize(codes.storage.bytes, into: $0) }
        return output
    }
}
