import CleaveIR

/// An element type Cast converts between. Integer sources convert through
/// Int64 and float sources through Double, so each target has exactly two
/// conversions to define and every pair is correctly rounded once (except
/// int64 → float16, which goes through float32; float16 tops out at 65504).
protocol CastElement: BitwiseCopyable {
    static var isInteger: Bool { get }
    var doubleValue: Double { get }
    var int64Value: Int64 { get }
    init(double: Double)
    init(int64: Int64)
}

extension CastElement where Self: BinaryFloatingPoint {
    static var isInteger: Bool { false }
    var doubleValue: Double { Double(self) }
    var int64Value: Int64 { Conversion.truncated(Double(self)) }
    init(double: Double) { self.init(double) }
}

extension Float: CastElement { init(int64: Int64) { self.init(int64) } }
extension Double: CastElement { init(int64: Int64) { self.init(int64) } }
extension Float16: CastElement { init(int64: Int64) { self.init(Float(int64)) } }

/// Integers wrap when narrowed (C semantics, as NumPy and ONNX Runtime do);
/// floats are truncated toward zero first, NaN becoming 0 rather than trapping.
extension CastElement where Self: FixedWidthInteger {
    static var isInteger: Bool { true }
    var doubleValue: Double { Double(self) }
    var int64Value: Int64 { Int64(truncatingIfNeeded: self) }
    init(double: Double) { self.init(truncatingIfNeeded: Conversion.truncated(double)) }
    init(int64: Int64) { self.init(truncatingIfNeeded: int64) }
}

extension Int64: CastElement {}
extension Int32: CastElement {}
extension Int16: CastElement {}
extension Int8: CastElement {}
extension UInt64: CastElement {}
extension UInt32: CastElement {}
extension UInt16: CastElement {}
extension UInt8: CastElement {}

/// A bool element as its byte: any non-zero byte reads as true, and true is
/// written as 1 (a Swift `Bool` may only ever hold 0 or 1, which bytes from
/// a file do not promise).
struct BoolByte: CastElement {
    var raw: UInt8
    static var isInteger: Bool { true }
    var doubleValue: Double { raw == 0 ? 0 : 1 }
    var int64Value: Int64 { raw == 0 ? 0 : 1 }
    init(double: Double) { raw = double == 0 ? 0 : 1 }
    init(int64: Int64) { raw = int64 == 0 ? 0 : 1 }
}

enum Conversion {
    /// Double → Int64 toward zero, saturating at the ends, NaN → 0.
    @inline(__always)
    static func truncated(_ value: Double) -> Int64 {
        if value.isNaN { return 0 }
        if value >= 0x1p63 { return .max }
        if value <= -0x1p63 { return .min }
        return Int64(value)
    }

    /// The dtypes Cast converts between.
    static let supported: [DType] = [.float, .float16, .double, .int64, .int32, .int16, .int8,
                                     .uint64, .uint32, .uint16, .uint8, .bool]

    /// `tensor` converted to `dtype` (a new tensor, or `tensor` itself when the dtype matches).
    /// - Throws: `CleaveError.badInput` (naming the node) for dtypes outside `supported`.
    static func convert(_ tensor: Tensor, to dtype: DType, _ setup: KernelSetup) throws -> Tensor {
        guard dtype != tensor.dtype else { return tensor }
        guard supported.contains(tensor.dtype), supported.contains(dtype) else {
            let list = supported.map(\.name).joined(separator: ", ")
            throw setup.error("cannot cast \(tensor.dtype.name) to \(dtype.name) (supported: \(list))")
        }
        let output = Tensor.uninitialized(dtype, tensor.shape)
        dispatchSource(tensor, output)
        return output
    }

    private static func dispatchSource(_ input: Tensor, _ output: Tensor) {
        switch input.dtype {
        case .float: dispatchTarget(Float.self, input, output)
        case .float16: dispatchTarget(Float16.self, input, output)
        case .double: dispatchTarget(Double.self, input, output)
        case .int64: dispatchTarget(Int64.self, input, output)
        case .int32: dispatchTarget(Int32.self, input, output)
        case .int16: dispatchTarget(Int16.self, input, output)
        case .int8: dispatchTarget(Int8.self, input, output)
        case .uint64: dispatchTarget(UInt64.self, input, output)
        case .uint32: dispatchTarget(UInt32.self, input, output)
        case .uint16: dispatchTarget(UInt16.self, input, output)
        case .uint8: dispatchTarget(UInt8.self, input, output)
        default: dispatchTarget(BoolByte.self, input, output)
        }
    }

    private static func dispatchTarget<S: CastElement>(_ source: S.Type, _ input: Tensor, _ output: Tensor) {
        switch output.dtype {
        case .float: copy(S.self, Float.self, input, output)
        case .float16: copy(S.self, Float16.self, input, output)
        case .double: copy(S.self, Double.self, input, output)
        case .int64: copy(S.self, Int64.self, input, output)
        case .int32: copy(S.self, Int32.self, input, output)
        case .int16: copy(S.self, Int16.self, input, output)
        case .int8: copy(S.self, Int8.self, input, output)
        case .uint64: copy(S.self, UInt64.self, input, output)
        case .uint32: copy(S.self, UInt32.self, input, output)
        case .uint16: copy(S.self, UInt16.self, input, output)
        case .uint8: copy(S.self, UInt8.self, input, output)
        default: copy(S.self, BoolByte.self, input, output)
        }
    }

    private static func copy<S: CastElement, D: CastElement>(_ s: S.Type, _ d: D.Type, _ input: Tensor, _ output: Tensor) {
        guard let from = input.rawBytes, let to = output.mutableRawBytes else { return }
        let x = from.assumingMemoryBound(to: S.self)
        let y = to.assumingMemoryBound(to: D.self)
        for i in 0..<input.elementCount {
            y[i] = S.isInteger ? D(int64: x[i].int64Value) : D(double: x[i].doubleValue)
        }
    }
}

/// Cast to the dtype in attribute `to` (float32, float16, float64, the
/// 8–64-bit integer types and bool). Float → integer truncates toward zero.
final class CastKernel: Kernel {
    private let setup: KernelSetup
    private let target: DType

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        guard let to = setup.node.int("to") else { throw setup.error("attribute 'to' is missing") }
        guard let dtype = Int32(exactly: to).flatMap(DType.init(rawValue:)) else {
            throw setup.error("attribute 'to' = \(to) is not an ONNX data type")
        }
        target = dtype
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let x = try setup.required(inputs, 0, "input")
        return [try Conversion.convert(x, to: target, setup)]
    }
}
