import CleaveIR

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A function of one element, applied by `mapElements`; each conforming
/// struct gets its own specialised loop.
protocol UnaryFunction {
    associatedtype Element
    func callAsFunction(_ x: Element) -> Element
}

/// `f` over every element of `input` into a new tensor of the same type.
/// Complexity: one pass, split across threads in chunks of `KernelContext.minimumThreadWork`.
func mapElements<F: UnaryFunction>(_ f: F, _ input: Tensor, _ context: KernelContext) -> Tensor {
    let output = Tensor.uninitialized(input.dtype, input.shape)
    guard let source = input.rawBytes, let target = output.mutableRawBytes else { return output }
    let x = source.assumingMemoryBound(to: F.Element.self)
    let y = target.assumingMemoryBound(to: F.Element.self)
    context.parallelFor(input.elementCount, itemWork: 1) { range in
        for i in range { y[i] = f(x[i]) }
    }
    return output
}

// MARK: - Activations and math functions (float32)

struct ReluFunction: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x > 0 ? x : 0 }
}

struct LeakyReluFunction: UnaryFunction {
    let alpha: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x < 0 ? alpha * x : x }
}

struct EluFunction: UnaryFunction {
    let alpha: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x < 0 ? alpha * (FastMath.exp(x) - 1) : x }
}

struct SigmoidFunction: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { FastMath.sigmoid(x) }
}

struct HardSigmoidFunction: UnaryFunction {
    let alpha: Float, beta: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { Swift.min(Swift.max(alpha * x + beta, 0), 1) }
}

/// x · HardSigmoid(x) with alpha 1/6, beta 1/2 (ONNX HardSwish).
struct HardSwishFunction: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float {
        x * Swift.min(Swift.max(x * (1 / 6) + 0.5, 0), 1)
    }
}

struct TanhFunction: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { FastMath.tanh(x) }
}

struct ErfFunction: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { FastMath.erf(x) }
}

/// x·Φ(x) = x/2·(1 + erf(x/√2)): ONNX Gelu with `approximate = "none"`.
struct GeluFunction: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float {
        0.5 * x * (1 + FastMath.erf(x * 0.70710678118654752))
    }
}

/// x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³))): ONNX Gelu with `approximate = "tanh"`.
struct GeluTanhFunction: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float {
        0.5 * x * (1 + FastMath.tanh(0.79788456080286536 * (x + 0.044715 * x * x * x)))
    }
}

struct SqrtFunction: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x.squareRoot() }
}

struct ExpFunction: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { FastMath.exp(x) }
}

struct LogFunction: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { logf(x) }
}

struct ReciprocalFunction: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { 1 / x }
}

struct NegateFunction<T: SignedNumeric>: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: T) -> T { 0 - x }
}

struct WrappingNegateFunction<T: FixedWidthInteger & SignedInteger>: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: T) -> T { 0 &- x }
}

struct AbsFunction: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { Swift.abs(x) }
}

/// |x| that wraps for the most negative integer instead of trapping, as C does.
struct WrappingAbsFunction<T: FixedWidthInteger & SignedInteger>: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: T) -> T { x < 0 ? 0 &- x : x }
}

struct IntegerReluFunction<T: FixedWidthInteger & SignedInteger>: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: T) -> T { x > 0 ? x : 0 }
}

/// Relu, LeakyRelu, Elu, Sigmoid, HardSigmoid, HardSwish, Tanh, Erf, Gelu,
/// Sqrt, Exp, Log, Neg, Abs and Reciprocal on float32; Relu, Neg and Abs also
/// on int64, int32 and int8.
///
/// Exp, Sigmoid, Tanh, Elu, Erf and Gelu use `FastMath` (vectorised, within
/// a few ulp; Erf within 5e-7 relative); Log calls Glibc. Gelu (opset 20)
/// takes `approximate` "none" (the erf form) or "tanh"; any other value is
/// refused when the kernel is built.
final class UnaryKernel: Kernel {
    private let setup: KernelSetup
    private let op: Op
    private let alpha: Float
    private let beta: Float
    /// Gelu's `approximate = "tanh"`.
    private let tanhApproximation: Bool

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        op = setup.op
        let approximate = op == .gelu ? setup.node.string("approximate") ?? "none" : "none"
        guard approximate == "none" || approximate == "tanh" else {
            throw setup.error("approximate '\(approximate)' is not one of 'none', 'tanh'")
        }
        tanhApproximation = approximate == "tanh"
        switch op {
        case .leakyRelu:
            alpha = setup.node.float("alpha") ?? 0.01
            beta = 0
        case .elu:
            alpha = setup.node.float("alpha") ?? 1
            beta = 0
        case .hardSigmoid:
            alpha = setup.node.float("alpha") ?? 0.2
            beta = setup.node.float("beta") ?? 0.5
        default:
            alpha = 0
            beta = 0
        }
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let x = try setup.required(inputs, 0, "X")
        switch x.dtype {
        case .float: return [try floats(x, context)]
        case .int64: return [try integers(x, Int64.self, context)]
        case .int32: return [try integers(x, Int32.self, context)]
        case .int8: return [try integers(x, Int8.self, context)]
        default: throw setup.error("input must be float32, got \(x.dtype.name)")
        }
    }

    private func floats(_ x: Tensor, _ context: KernelContext) throws -> Tensor {
        switch op {
        case .relu: return mapElements(ReluFunction(), x, context)
        case .leakyRelu: return mapElements(LeakyReluFunction(alpha: alpha), x, context)
        case .elu: return mapElements(EluFunction(alpha: alpha), x, context)
        case .sigmoid: return mapElements(SigmoidFunction(), x, context)
        case .hardSigmoid: return mapElements(HardSigmoidFunction(alpha: alpha, beta: beta), x, context)
        case .hardSwish: return mapElements(HardSwishFunction(), x, context)
        case .tanh: return mapElements(TanhFunction(), x, context)
        case .erf: return mapElements(ErfFunction(), x, context)
        case .gelu:
            return tanhApproximation ? mapElements(GeluTanhFunction(), x, context) : mapElements(GeluFunction(), x, context)
        case .sqrt: return mapElements(SqrtFunction(), x, context)
        case .exp: return mapElements(ExpFunction(), x, context)
        case .log: return mapElements(LogFunction(), x, context)
        case .neg: return mapElements(NegateFunction<Float>(), x, context)
        case .abs: return mapElements(AbsFunction(), x, context)
        case .reciprocal: return mapElements(ReciprocalFunction(), x, context)
        default: throw setup.error("is not a unary op")
        }
    }

    private func integers<T: FixedWidthInteger & SignedInteger>(
        _ x: Tensor, _ type: T.Type, _ context: KernelContext
    ) throws -> Tensor {
        switch op {
        case .relu: return mapElements(IntegerReluFunction<T>(), x, context)
        case .neg: return mapElements(WrappingNegateFunction<T>(), x, context)
        case .abs: return mapElements(WrappingAbsFunction<T>(), x, context)
        default: throw setup.error("input must be float32, got \(x.dtype.name)")
        }
    }
}

// MARK: - Clip

struct ClipFunction<T: Comparable>: UnaryFunction {
    let low: T, high: T
    /// min(max(x, low), high): when low > high every element becomes high, as ONNX specifies.
    @inline(__always) func callAsFunction(_ x: T) -> T { Swift.min(Swift.max(x, low), high) }
}

/// Clip: bounds as attributes `min`/`max` before opset 11, as optional scalar
/// inputs 1 and 2 from opset 11; float32, and from opset 12 also int64, int32,
/// int8 and uint8.
final class ClipKernel: Kernel {
    private let setup: KernelSetup
    private let attributeLow: Float
    private let attributeHigh: Float

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        attributeLow = setup.node.float("min") ?? -.infinity
        attributeHigh = setup.node.float("max") ?? .infinity
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let x = try setup.required(inputs, 0, "input")
        let lowTensor = setup.opset >= 11 ? setup.optional(inputs, 1) : nil
        let highTensor = setup.opset >= 11 ? setup.optional(inputs, 2) : nil
        for (bound, what) in [(lowTensor, "min"), (highTensor, "max")] {
            guard let bound else { continue }
            guard bound.dtype == x.dtype, bound.elementCount == 1 else {
                throw setup.error("\(what) must be one \(x.dtype.name) value, got \(bound.dtype.name)\(bound.shape)")
            }
        }
        func bounds<T: Comparable>(_ type: T.Type, _ lowest: T, _ highest: T) -> ClipFunction<T> {
            let low = lowTensor.map { $0.withUnsafeBufferPointer(as: T.self) { $0[0] } } ?? lowest
            let high = highTensor.map { $0.withUnsafeBufferPointer(as: T.self) { $0[0] } } ?? highest
            return ClipFunction(low: low, high: high)
        }
        switch x.dtype {
        case .float:
            return [mapElements(bounds(Float.self, attributeLow, attributeHigh), x, context)]
        case .int64: return [mapElements(bounds(Int64.self, .min, .max), x, context)]
        case .int32: return [mapElements(bounds(Int32.self, .min, .max), x, context)]
        case .int8: return [mapElements(bounds(Int8.self, .min, .max), x, context)]
        case .uint8: return [mapElements(bounds(UInt8.self, .min, .max), x, context)]
        default: throw setup.error("input must be float32 or an integer type, got \(x.dtype.name)")
        }
    }
}
