import CleaveIR

/// How `cleave run --remote` sends boundary tensors to the cloud half.
///
/// - `none`: the FP32 bytes as they are (little-endian); the cloud half computes
///   exactly what a local pair run computes.
/// - `int8`: each FP32 tensor is quantised per tensor to 8 bits and sent as
///   `UINT8` with `scale` and `zero_point` in the input's `parameters` object;
///   the server dequantises before running. A quarter of the bytes, approximate.
/// - `int8+zlib`: as `int8`, and the whole request body is deflated
///   (`Content-Encoding: deflate`), which shrinks the zero runs that ReLU leaves.
public enum BoundaryCodec: String, CaseIterable, Sendable {
    case none
    case int8
    case int8Zlib = "int8+zlib"

    /// True when FP32 tensors travel quantised.
    public var quantizes: Bool { self != .none }
    /// True when the request body is deflated.
    public var deflates: Bool { self == .int8Zlib }
}

/// Per-tensor asymmetric 8-bit quantisation, as ONNX's QuantizeLinear with a
/// `uint8` zero point: `q = saturate(round(x / scale) + zero_point)`,
/// `x' = (q - zero_point) × scale`, rounding half to even.
///
/// The range is widened to include 0 so that zero — what ReLU emits most —
/// is exact; any other element is off by at most `scale` (`scale / 2` away
/// from the ends of the range, where rounding the zero point can clamp).
public struct Quantization: Sendable, Equatable {
    public var scale: Float
    public var zeroPoint: Int

    /// The parameters for `values`' range.
    /// - Throws: `CleaveError.badInput` when a value is NaN or infinite, which
    ///   no 8-bit range can hold.
    public init(covering values: UnsafeBufferPointer<Float>, name: String) throws {
        var low: Float = 0, high: Float = 0
        for v in values {
            guard v.isFinite else { throw CleaveError.badInput("boundary tensor '\(name)' holds \(v); the int8 codec needs finite values") }
            low = Swift.min(low, v)
            high = Swift.max(high, v)
        }
        // Divided before subtracting so that no finite range overflows.
        let scale = high / 255 - low / 255
        guard scale > 0 else {
            // All zeros: any scale represents them exactly.
            self.init(scale: 1, zeroPoint: 0)
            return
        }
        self.init(scale: scale, zeroPoint: Int((-low / scale).rounded(.toNearestOrEven)).clamped(to: 0...255))
    }

    public init(scale: Float, zeroPoint: Int) {
        self.scale = scale
        self.zeroPoint = zeroPoint
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

extension Comparable {
    func clamped(to range: ClosedRange<Self>) -> Self { Swift.min(Swift.max(self, range.lowerBound), range.upperBound) }
}
