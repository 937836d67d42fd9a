import CleaveIR

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Element functions

struct PlusFunction<T: FloatingPoint>: BinaryFunction {
    @inline(__always) func callAsFunction(_ a: T, _ b: T) -> T { a + b }
}

struct MinusFunction<T: FloatingPoint>: BinaryFunction {
    @inline(__always) func callAsFunction(_ a: T, _ b: T) -> T { a - b }
}

struct TimesFunction<T: FloatingPoint>: BinaryFunction {
    @inline(__always) func callAsFunction(_ a: T, _ b: T) -> T { a * b }
}

struct DivideFunction<T: FloatingPoint>: BinaryFunction {
    @inline(__always) func callAsFunction(_ a: T, _ b: T) -> T { a / b }
}

/// Integer arithmetic wraps on overflow and truncates division toward zero,
/// as C and ONNX Runtime do; division by zero gives 0 instead of a trap.
struct WrappingPlusFunction<T: FixedWidthInteger>: BinaryFunction {
    @inline(__always) func callAsFunction(_ a: T, _ b: T) -> T { a &+ b }
}

struct WrappingMinusFunction<T: FixedWidthInteger>: BinaryFunction {
    @inline(__always) func callAsFunction(_ a: T, _ b: T) -> T { a &- b }
}

struct WrappingTimesFunction<T: FixedWidthInteger>: BinaryFunction {
    @inline(__always) func callAsFunction(_ a: T, _ b: T) -> T { a &* b }
}

struct TruncatingDivideFunction<T: FixedWidthInteger>: BinaryFunction {
    @inline(__always) func callAsFunction(_ a: T, _ b: T) -> T {
        b == 0 ? 0 : a.dividedReportingOverflow(by: b).partialValue
    }
}

struct MaximumFunction<T: Comparable>: BinaryFunction {
    @inline(__always) func callAsFunction(_ a: T, _ b: T) -> T { a < b ? b : a }
}

struct MinimumFunction<T: Comparable>: BinaryFunction {
    @inline(__always) func callAsFunction(_ a: T, _ b: T) -> T { b < a ? b : a }
}

struct PowerFunction: BinaryFunction {
    @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { powf(a, b) }
}

/// Integer base and exponent: exact by squaring, wrapping on overflow; a
/// negative exponent truncates 1/base^|e| toward zero as ONNX Runtime does.
struct IntegerPowerFunction<T: FixedWidthInteger & SignedInteger>: BinaryFunction {
    @inline(__always) func callAsFunction(_ base: T, _ exponent: T) -> T {
        if exponent < 0 {
            if base == 1 { return 1 }
            if base == -1 { return exponent & 1 == 0 ? 1 : -1 }
            return 0
        }
        var result: T = 1, factor = base, e = exponent
        while e > 0 {
            if e & 1 == 1 { result = result &* factor }
            factor = factor &* factor
            e >>= 1
        }
        return result
    }
}

/// x where x ≥ 0, slope · x elsewhere.
struct PReluFunction: BinaryFunction {
    @inline(__always) func callAsFunction(_ x: Float, _ slope: Float) -> Float { x < 0 ? x * slope : x }
}

extension KernelSetup {
    /// The broadcast plan of two operands, with errors naming this node.
    func broadcastPlan(_ a: Tensor, _ b: Tensor) throws -> BroadcastPlan {
        do {
            return try BroadcastPlan(a.shape, b.shape)
        } catch let failure as CleaveError {
            throw error(failure.message)
        }
    }
}

// MARK: - Arithmetic shared by Add/Sub/Mul/Div and Sum/Mean/Max/Min

/// The arithmetic of one op over any dtype cleave computes in.
enum Arithmetic {
    case add, subtract, multiply, divide, maximum, minimum

    /// `a op b` with broadcasting.
    /// - Throws: `CleaveError.badInput` (via `setup`) for mismatched or unsupported dtypes.
    func apply(_ a: Tensor, _ b: Tensor, _ setup: KernelSetup, _ context: KernelContext) throws -> Tensor {
        guard a.dtype == b.dtype else {
            throw setup.error("operands have different dtypes (\(a.dtype.name) and \(b.dtype.name))")
        }
        let plan = try setup.broadcastPlan(a, b)
        switch a.dtype {
        case .float: return floating(Float.self, a, b, plan, context)
        case .double: return floating(Double.self, a, b, plan, context)
        case .float16: return floating(Float16.self, a, b, plan, context)
        case .int64: return integer(Int64.self, a, b, plan, context)
        case .int32: return integer(Int32.self, a, b, plan, context)
        case .int8: return integer(Int8.self, a, b, plan, context)
        case .uint8: return integer(UInt8.self, a, b, plan, context)
        default:
            throw setup.error("dtype \(a.dtype.name) is not supported (float32, float64, float16, int64, int32, int8, uint8)")
        }
    }

    private func floating<T: FloatingPoint>(
        _ type: T.Type, _ a: Tensor, _ b: Tensor, _ plan: BroadcastPlan, _ context: KernelContext
    ) -> Tensor {
        switch self {
        case .add: return broadcastBinary(PlusFunction<T>(), a, b, plan: plan, as: a.dtype, context)
        case .subtract: return broadcastBinary(MinusFunction<T>(), a, b, plan: plan, as: a.dtype, context)
        case .multiply: return broadcastBinary(TimesFunction<T>(), a, b, plan: plan, as: a.dtype, context)
        case .divide: return broadcastBinary(DivideFunction<T>(), a, b, plan: plan, as: a.dtype, context)
        case .maximum: return broadcastBinary(MaximumFunction<T>(), a, b, plan: plan, as: a.dtype, context)
        case .minimum: return broadcastBinary(MinimumFunction<T>(), a, b, plan: plan, as: a.dtype, context)
        }
    }

    private func integer<T: FixedWidthInteger>(
        _ type: T.Type, _ a: Tensor, _ b: Tensor, _ plan: BroadcastPlan, _ context: KernelContext
    ) -> Tensor {
        switch self {
        case .add: return broadcastBinary(WrappingPlusFunction<T>(), a, b, plan: plan, as: a.dtype, context)
        case .subtract: return broadcastBinary(WrappingMinusFunction<T>(), a, b, plan: plan, as: a.dtype, context)
        case .multiply: return broadcastBinary(WrappingTimesFunction<T>(), a, b, plan: plan, as: a.dtype, context)
        case .divide: return broadcastBinary(TruncatingDivideFunction<T>(), a, b, plan: plan, as: a.dtype, context)
        case .maximum: return broadcastBinary(MaximumFunction<T>(), a, b, plan: plan, as: a.dtype, context)
        case .minimum: return broadcastBinary(MinimumFunction<T>(), a, b, plan: plan, as: a.dtype, context)
        }
    }
}

// MARK: - Kernels

/// Add, Sub, Mul, Div (float32, float64, float16, int64, int32, int8, uint8)
/// and Pow (float32 base with a float or integer exponent; int64/int32 base),
/// with multidirectional broadcasting.
final class BinaryKernel: Kernel {
    private let setup: KernelSetup
    private let op: Op

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        op = setup.op
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let a = try setup.required(inputs, 0, "A")
        let b = try setup.required(inputs, 1, "B")
        switch op {
        case .add: return [try Arithmetic.add.apply(a, b, setup, context)]
        case .sub: return [try Arithmetic.subtract.apply(a, b, setup, context)]
        case .mul: return [try Arithmetic.multiply.apply(a, b, setup, context)]
        case .div: return [try Arithmetic.divide.apply(a, b, setup, context)]
        case .pow: return [try power(a, b, context)]
        default: throw setup.error("is not a binary op")
        }
    }

    private func power(_ base: Tensor, _ exponent: Tensor, _ context: KernelContext) throws -> Tensor {
        switch base.dtype {
        case .float:
            let e = try floatExponent(exponent)
            if e.elementCount == 1, let fast = try scalarPower(base, e.floats[0], context) { return fast }
            return broadcastBinary(PowerFunction(), base, e, plan: try setup.broadcastPlan(base, e), as: .float, context)
        case .int64: return try integerPower(Int64.self, base, exponent, context)
        case .int32: return try integerPower(Int32.self, base, exponent, context)
        default:
            throw setup.error("base must be float32, int64 or int32, got \(base.dtype.name)")
        }
    }

    /// The exponent as float32 (Pow allows any numeric exponent type).
    private func floatExponent(_ e: Tensor) throws -> Tensor {
        switch e.dtype {
        case .float: return e
        case .double: return Tensor(e.shape, floats: e.elements(as: Double.self).map { Float($0) })
        case .int64, .int32: return Tensor(e.shape, floats: (e.integerValues ?? []).map { Float($0) })
        default: throw setup.error("exponent must be float or integer, got \(e.dtype.name)")
        }
    }

    /// Exponents models use all the time (x², √x) without calling powf.
    private func scalarPower(_ base: Tensor, _ e: Float, _ context: KernelContext) throws -> Tensor? {
        guard powerWithoutPowf(exponent: e) else { return nil }
        let shape = try setup.broadcastPlan(base, Tensor([], floats: [e])).shape
        guard shape == base.shape else { return nil }
        switch e {
        case 1: return base
        case 2: return mapElements(SquareFunction(), base, context)
        case 3: return mapElements(CubeFunction(), base, context)
        case 0.5: return mapElements(SqrtFunction(), base, context)
        default: return nil
        }
    }

    private func integerPower<T: FixedWidthInteger & SignedInteger & BitwiseCopyable>(
        _ type: T.Type, _ base: Tensor, _ exponent: Tensor, _ context: KernelContext
    ) throws -> Tensor {
        if exponent.dtype.isFloatingPoint {
            // Integer base, float exponent: computed in double and truncated, as ONNX Runtime does.
            let floatBase = Tensor(base.shape, floats: (base.integerValues ?? []).map { Float($0) })
            let e = try floatExponent(exponent)
            let result = broadcastBinary(PowerFunction(), floatBase, e, plan: try setup.broadcastPlan(floatBase, e), as: .float, context)
            return try Conversion.convert(result, to: base.dtype, setup)
        }
        guard let values = exponent.integerValues else {
            throw setup.error("exponent must be float or integer, got \(exponent.dtype.name)")
        }
        let converted: [T] = values.map { T(truncatingIfNeeded: $0) }
        let e = Tensor(base.dtype, exponent.shape, converted)
        return broadcastBinary(IntegerPowerFunction<T>(), base, e, plan: try setup.broadcastPlan(base, e), as: base.dtype, context)
    }
}

/// Whether a float Pow with this one exponent maps each element by
/// multiplications or a square root instead of calling powf, which costs
/// several times more per element (the planner predicts the two apart).
package func powerWithoutPowf(exponent: Float) -> Bool {
    [1, 2, 3, 0.5].contains(exponent)
}

struct SquareFunction: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x * x }
}

struct CubeFunction: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x * x * x }
}

/// Sum, Mean (float types) and Max, Min (float and integer types) over one
/// or more inputs with multidirectional broadcasting, folded left to right.
final class VariadicKernel: Kernel {
    private let setup: KernelSetup
    private let op: Op

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        op = setup.op
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let operands = inputs.compactMap { $0 }
        guard var result = operands.first else { throw setup.error("needs at least one input") }
        let arithmetic: Arithmetic
        switch op {
        case .sum, .mean: arithmetic = .add
        case .max: arithmetic = .maximum
        case .min: arithmetic = .minimum
        default: throw setup.error("is not a variadic op")
        }
        if op == .sum || op == .mean {
            guard result.dtype.isFloatingPoint else {
                throw setup.error("inputs must be float32, float64 or float16, got \(result.dtype.name)")
            }
        }
        for operand in operands.dropFirst() {
            result = try arithmetic.apply(result, operand, setup, context)
        }
        if op == .mean && operands.count > 1 {
            let n = operands.count
            let divisor: Tensor
            switch result.dtype {
            case .double: divisor = Tensor(.double, [], [Double(n)])
            case .float16: divisor = Tensor(.float16, [], [Float16(n)])
            default: divisor = Tensor([], floats: [Float(n)])
            }
            result = try Arithmetic.divide.apply(result, divisor, setup, context)
        }
        return [result]
    }
}

/// PRelu: x where x ≥ 0, slope · x elsewhere, slope broadcast to x (float32).
/// Before opset 7 a 1-D slope of length C applied per channel (dim 1), as
/// old PyTorch exports use it; that form is still accepted.
final class PReluKernel: Kernel {
    private let setup: KernelSetup

    init(_ setup: KernelSetup) throws { self.setup = setup }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let x = try setup.required(inputs, 0, "X")
        var slope = try setup.required(inputs, 1, "slope")
        try setup.requireFloat(x, "X")
        try setup.requireFloat(slope, "slope")
        if setup.opset < 7, slope.shape.rank == 1, x.shape.rank >= 2, slope.shape[0] == x.shape[1], slope.elementCount > 1 {
            slope = slope.reshaped(Shape([x.shape[1]] + [Int](repeating: 1, count: x.shape.rank - 2)))
        }
        let plan = try setup.broadcastPlan(x, slope)
        return [broadcastBinary(PReluFunction(), x, slope, plan: plan, as: .float, context)]
    }
}
