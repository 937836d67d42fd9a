import CleaveIR

// Comparisons, logical ops and Where: what attention masks, one-hot
// encodings and detection heads are built from. Bool tensors hold one byte
// per element; any non-zero byte (as a file may hold) reads as true.

// MARK: - Element functions

struct EqualFunction<T: Equatable>: BinaryFunction {
    @inline(__always) func callAsFunction(_ a: T, _ b: T) -> UInt8 { a == b ? 1 : 0 }
}

struct LessFunction<T: Comparable>: BinaryFunction {
    @inline(__always) func callAsFunction(_ a: T, _ b: T) -> UInt8 { a < b ? 1 : 0 }
}

struct LessOrEqualFunction<T: Comparable>: BinaryFunction {
    @inline(__always) func callAsFunction(_ a: T, _ b: T) -> UInt8 { a <= b ? 1 : 0 }
}

struct AndFunction: BinaryFunction {
    @inline(__always) func callAsFunction(_ a: UInt8, _ b: UInt8) -> UInt8 { a != 0 && b != 0 ? 1 : 0 }
}

struct OrFunction: BinaryFunction {
    @inline(__always) func callAsFunction(_ a: UInt8, _ b: UInt8) -> UInt8 { a != 0 || b != 0 ? 1 : 0 }
}

struct XorFunction: BinaryFunction {
    @inline(__always) func callAsFunction(_ a: UInt8, _ b: UInt8) -> UInt8 { (a != 0) != (b != 0) ? 1 : 0 }
}

struct NotFunction: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: UInt8) -> UInt8 { x == 0 ? 1 : 0 }
}

// MARK: - Kernels

/// Equal, Less, LessOrEqual, Greater and GreaterOrEqual with multidirectional
/// broadcasting, into bool (float32, float64, float16, int64, int32, int8,
/// uint8; Equal also bool). A comparison with NaN is false, as in IEEE 754.
/// Greater is Less with the operands swapped, so each order has one loop.
final class ComparisonKernel: Kernel {
    private let setup: KernelSetup
    private let op: Op

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        op = setup.op
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        var a = try setup.required(inputs, 0, "A")
        var b = try setup.required(inputs, 1, "B")
        guard a.dtype == b.dtype else {
            throw setup.error("operands have different dtypes (\(a.dtype.name) and \(b.dtype.name))")
        }
        if op == .greater || op == .greaterOrEqual { swap(&a, &b) }
        let plan = try setup.broadcastPlan(a, b)
        switch a.dtype {
        case .float: return [compare(Float.self, a, b, plan, context)]
        case .double: return [compare(Double.self, a, b, plan, context)]
        case .float16: return [compare(Float16.self, a, b, plan, context)]
        case .int64: return [compare(Int64.self, a, b, plan, context)]
        case .int32: return [compare(Int32.self, a, b, plan, context)]
        case .int8: return [compare(Int8.self, a, b, plan, context)]
        case .uint8: return [compare(UInt8.self, a, b, plan, context)]
        case .bool where op == .equal: return [compare(UInt8.self, a, b, plan, context)]
        default:
            throw setup.error("dtype \(a.dtype.name) is not supported (float32, float64, float16, int64, int32, int8, uint8)")
        }
    }

    private func compare<T: Comparable>(
        _ type: T.Type, _ a: Tensor, _ b: Tensor, _ plan: BroadcastPlan, _ context: KernelContext
    ) -> Tensor {
        switch op {
        case .equal: return broadcastBinary(EqualFunction<T>(), a, b, plan: plan, as: .bool, context)
        case .less, .greater: return broadcastBinary(LessFunction<T>(), a, b, plan: plan, as: .bool, context)
        default: return broadcastBinary(LessOrEqualFunction<T>(), a, b, plan: plan, as: .bool, context)
        }
    }
}

/// And, Or, Xor on bool with multidirectional broadcasting, and Not.
final class LogicalKernel: Kernel {
    private let setup: KernelSetup
    private let op: Op

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        op = setup.op
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let a = try setup.required(inputs, 0, op == .not ? "X" : "A")
        guard a.dtype == .bool else { throw setup.error("input 0 must be bool, got \(a.dtype.name)") }
        if op == .not { return [mapElements(NotFunction(), a, context)] }
        let b = try setup.required(inputs, 1, "B")
        guard b.dtype == .bool else { throw setup.error("input 1 must be bool, got \(b.dtype.name)") }
        let plan = try setup.broadcastPlan(a, b)
        switch op {
        case .and: return [broadcastBinary(AndFunction(), a, b, plan: plan, as: .bool, context)]
        case .or: return [broadcastBinary(OrFunction(), a, b, plan: plan, as: .bool, context)]
        default: return [broadcastBinary(XorFunction(), a, b, plan: plan, as: .bool, context)]
        }
    }
}

/// Where(condition, X, Y): X where the condition holds, else Y, all three
/// broadcast together; any dtype with a fixed element size, moved as bits.
final class WhereKernel: Kernel {
    private let setup: KernelSetup

    init(_ setup: KernelSetup) throws { self.setup = setup }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let condition = try setup.required(inputs, 0, "condition")
        let x = try setup.required(inputs, 1, "X")
        let y = try setup.required(inputs, 2, "Y")
        guard condition.dtype == .bool else { throw setup.error("condition must be bool, got \(condition.dtype.name)") }
        guard x.dtype == y.dtype else {
            throw setup.error("X and Y have different dtypes (\(x.dtype.name) and \(y.dtype.name))")
        }
        let shape: Shape
        do {
            shape = try broadcast(broadcast(condition.shape, x.shape), y.shape)
        } catch let failure as CleaveError {
            throw setup.error(failure.message)
        }
        switch try setup.elementSize(x, "X") {
        case 1: return [select(UInt8.self, condition, x, y, shape, context)]
        case 2: return [select(UInt16.self, condition, x, y, shape, context)]
        case 4: return [select(UInt32.self, condition, x, y, shape, context)]
        case 8: return [select(UInt64.self, condition, x, y, shape, context)]
        case let size: throw setup.error("X has \(size)-byte elements; Where moves 1, 2, 4 or 8")
        }
    }

    /// One pass over the output; the innermost dim is a straight loop over
    /// operands that either advance with it or stay put (broadcast).
    private func select<T: FixedWidthInteger>(
        _ type: T.Type, _ condition: Tensor, _ x: Tensor, _ y: Tensor, _ shape: Shape, _ context: KernelContext
    ) -> Tensor {
        let output = Tensor.uninitialized(x.dtype, shape)
        guard shape.elementCount > 0, let rc = condition.rawBytes, let rx = x.rawBytes, let ry = y.rawBytes,
              let ro = output.mutableRawBytes else { return output }
        let pc = rc.assumingMemoryBound(to: UInt8.self)
        let px = rx.assumingMemoryBound(to: T.self), py = ry.assumingMemoryBound(to: T.self)
        let po = ro.assumingMemoryBound(to: T.self)
        let rank = Swift.max(shape.rank, 1)
        let dims = shape.rank == 0 ? [1] : shape.dims
        let strides = [condition.shape, x.shape, y.shape].map { broadcastStrides(of: $0, rank: rank) }
        let inner = dims[rank - 1]
        let rows = shape.elementCount / Swift.max(inner, 1)
        context.parallelFor(rows, itemWork: inner) { range in
            for row in range {
                var rest = row
                var offsets = [0, 0, 0]
                for axis in (0..<(rank - 1)).reversed() {
                    let i = rest % dims[axis]
                    rest /= dims[axis]
                    for k in 0..<3 { offsets[k] += i * strides[k][axis] }
                }
                let (c, xs, ys) = (pc + offsets[0], px + offsets[1], py + offsets[2])
                let (sc, sx, sy) = (strides[0][rank - 1], strides[1][rank - 1], strides[2][rank - 1])
                let out = po + row * inner
                for i in 0..<inner { out[i] = c[i * sc] != 0 ? xs[i * sx] : ys[i * sy] }
            }
        }
        return output
    }
}
