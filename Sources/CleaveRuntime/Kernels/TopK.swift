import CleaveIR

/// TopK, opsets 7–21: the k largest (or, with `largest = 0`, smallest)
/// elements of every slice along `axis` (default −1), and their int64
/// indices. k is the `k` attribute before opset 10 and input K (one value)
/// from 10; a k below 0 or above the axis's length is refused.
///
/// Equal elements come lower index first, as ONNX Runtime orders them; NaN
/// counts as larger than every number (NumPy's order: ONNX Runtime's is not
/// consistent). Results are always sorted, also for `sorted = 0`, whose
/// order ONNX leaves undefined. float32, float64, int64, int32, int8, uint8.
///
/// Complexity: O(n log n) per slice of n elements (a sort of the slice's
/// indices), O(n) for k = 1; slices run in parallel.
final class TopKKernel: Kernel {
    private let setup: KernelSetup
    private let axisAttribute: Int
    private let largest: Bool
    private let attributeK: Int?

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        axisAttribute = setup.node.int("axis") ?? -1
        largest = (setup.node.int("largest") ?? 1) != 0
        if setup.opset < 10 {
            guard let k = setup.node.int("k") else { throw setup.error("attribute 'k' is required before opset 10") }
            attributeK = k
        } else {
            attributeK = nil
        }
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let x = try setup.required(inputs, 0, "X")
        let axis = try setup.axis(axisAttribute, rank: x.shape.rank)
        let k: Int
        if let attributeK {
            k = attributeK
        } else {
            let tensor = try setup.required(inputs, 1, "K")
            let values = try setup.integers(tensor, "K")
            guard values.count == 1, tensor.shape.rank <= 1 else {
                throw setup.error("K must hold one integer, got shape \(tensor.shape)")
            }
            k = values[0]
        }
        let n = x.shape[axis]
        guard k >= 0, k <= n else { throw setup.error("k \(k) is out of range for axis \(axis) of \(x.shape) (\(n) elements)") }
        var dims = x.shape.dims
        dims[axis] = k
        let values = Tensor.uninitialized(x.dtype, Shape(dims))
        let indices = Tensor.uninitialized(.int64, Shape(dims))
        guard values.elementCount > 0 else { return [values, indices] }
        let layout = Layout(outer: dims[..<axis].reduce(1, *), n: n, inner: dims[(axis + 1)...].reduce(1, *), k: k)
        switch x.dtype {
        case .float: select(Float.self, x, values, indices, layout, context)
        case .double: select(Double.self, x, values, indices, layout, context)
        case .int64: select(Int64.self, x, values, indices, layout, context)
        case .int32: select(Int32.self, x, values, indices, layout, context)
        case .int8: select(Int8.self, x, values, indices, layout, context)
        case .uint8: select(UInt8.self, x, values, indices, layout, context)
        default: throw setup.error("dtype \(x.dtype.name) is not supported by TopK")
        }
        return [values, indices]
    }

    /// The input as [outer, n, inner] with k kept of each n.
    private struct Layout {
        var outer, n, inner, k: Int
    }

    private func select<T: TopKElement>(_: T.Type, _ x: Tensor, _ values: Tensor, _ indices: Tensor,
                                        _ p: Layout, _ context: KernelContext) {
        guard let source = x.rawBytes?.assumingMemoryBound(to: T.self),
              let valueOut = values.mutableRawBytes?.assumingMemoryBound(to: T.self),
              let indexOut = indices.mutableRawBytes?.assumingMemoryBound(to: Int64.self) else { return }
        let largest = self.largest
        let logN = Swift.max(1, Int.bitWidth - p.n.leadingZeroBitCount)
        context.parallelFor(p.outer * p.inner, itemWork: p.n * (p.k == 1 ? 1 : logN)) { range in
            var order = [Int](repeating: 0, count: p.n)
            for slice in range {
                let o = slice / p.inner, i = slice % p.inner
                let base = source + o * p.n * p.inner + i
                // Whether element a comes before element b in the result.
                func before(_ a: Int, _ b: Int) -> Bool {
                    let va = base[a * p.inner], vb = base[b * p.inner]
                    let (first, second) = largest ? (vb, va) : (va, vb)
                    if T.precedes(first, second) { return true }
                    return !T.precedes(second, first) && a < b
                }
                let outBase = o * p.k * p.inner + i
                if p.k == 1 {
                    var best = 0
                    for j in 1..<p.n where before(j, best) { best = j }
                    valueOut[outBase] = base[best * p.inner]
                    indexOut[outBase] = Int64(best)
                    continue
                }
                for j in 0..<p.n { order[j] = j }
                order.sort(by: before)
                for j in 0..<p.k {
                    valueOut[outBase + j * p.inner] = base[order[j] * p.inner]
                    indexOut[outBase + j * p.inner] = Int64(order[j])
                }
            }
        }
    }
}

/// An element type TopK orders totally: `precedes(a, b)` is a < b, with
/// NaN after every number and equal to NaN.
protocol TopKElement {
    static func precedes(_ a: Self, _ b: Self) -> Bool
}

extension Float: TopKElement {
    @inline(__always) static func precedes(_ a: Float, _ b: Float) -> Bool { a.isNaN ? false : (b.isNaN || a < b) }
}

extension Double: TopKElement {
    @inline(__always) static func precedes(_ a: Double, _ b: Double) -> Bool { a.isNaN ? false : (b.isNaN || a < b) }
}

extension Int64: TopKElement {
    @inline(__always) static func precedes(_ a: Int64, _ b: Int64) -> Bool { a < b }
}

extension Int32: TopKElement {
    @inline(__always) static func precedes(_ a: Int32, _ b: Int32) -> Bool { a < b }
}

extension Int8: TopKElement {
    @inline(__always) static func precedes(_ a: Int8, _ b: Int8) -> Bool { a < b }
}

extension UInt8: TopKElement {
    @inline(__always) static func precedes(_ a: UInt8, _ b: UInt8) -> Bool { a < b }
}
