import CleaveIR

/// How two operands line up under ONNX multidirectional (NumPy) broadcasting,
/// with output dims merged wherever neither operand changes its stride
/// pattern, so the innermost loop is as long as possible.
///
/// After merging, the innermost stride of each operand is 1 (it has that dim)
/// or 0 (it is broadcast along it). So same-shape operands become one run,
/// a scalar operand a run with step 0, and a per-channel operand such as
/// `[1, C, 1, 1]` against `[N, C, H, W]` runs of `H·W` with a constant.
struct BroadcastPlan {
    /// The output shape.
    let shape: Shape
    /// Merged output dims, innermost last; never empty.
    let dims: [Int]
    /// Element strides of each operand over `dims` (0 where broadcast).
    let aStrides: [Int]
    let bStrides: [Int]

    /// - Throws: `CleaveError.badInput` when the shapes do not broadcast.
    init(_ a: Shape, _ b: Shape) throws {
        shape = try broadcast(a, b)
        let rank = shape.rank
        let sa = broadcastStrides(of: a, rank: rank), sb = broadcastStrides(of: b, rank: rank)
        var dims: [Int] = [], aStrides: [Int] = [], bStrides: [Int] = []
        for axis in 0..<rank where shape[axis] != 1 {
            if let last = dims.indices.last,
               aStrides[last] == sa[axis] * shape[axis], bStrides[last] == sb[axis] * shape[axis] {
                dims[last] *= shape[axis]
                aStrides[last] = sa[axis]
                bStrides[last] = sb[axis]
            } else {
                dims.append(shape[axis])
                aStrides.append(sa[axis])
                bStrides.append(sb[axis])
            }
        }
        if dims.isEmpty {
            dims = [1]
            aStrides = [0]
            bStrides = [0]
        }
        self.dims = dims
        self.aStrides = aStrides
        self.bStrides = bStrides
    }

    var count: Int { shape.elementCount }

    /// Calls `row(aOffset, aStep, bOffset, bStep, outOffset, length)` for every
    /// run along the innermost merged dim (runs may be cut where threads split
    /// the output), on up to `context.threads` threads.
    func forEachRun(_ context: KernelContext, _ row: (Int, Int, Int, Int, Int, Int) -> Void) {
        let n = dims.count
        let inner = dims[n - 1], innerA = aStrides[n - 1], innerB = bStrides[n - 1]
        context.parallelFor(count, itemWork: 1) { range in
            var counters = [Int](repeating: 0, count: n)
            var rest = range.lowerBound
            var aOffset = 0, bOffset = 0
            for d in (0..<n).reversed() {
                counters[d] = rest % dims[d]
                rest /= dims[d]
                aOffset += counters[d] * aStrides[d]
                bOffset += counters[d] * bStrides[d]
            }
            var out = range.lowerBound
            while out < range.upperBound {
                let length = Swift.min(inner - counters[n - 1], range.upperBound - out)
                row(aOffset, innerA, bOffset, innerB, out, length)
                out += length
                counters[n - 1] += length
                aOffset += length * innerA
                bOffset += length * innerB
                guard counters[n - 1] == inner else { continue }
                counters[n - 1] = 0
                aOffset -= inner * innerA
                bOffset -= inner * innerB
                var d = n - 2
                while d >= 0 {
                    counters[d] += 1
                    aOffset += aStrides[d]
                    bOffset += bStrides[d]
                    if counters[d] < dims[d] { break }
                    aOffset -= dims[d] * aStrides[d]
                    bOffset -= dims[d] * bStrides[d]
                    counters[d] = 0
                    d -= 1
                }
            }
        }
    }
}

/// Element strides of an operand over a broadcast output of `rank` dims
/// (right-aligned, as NumPy broadcasts): 0 along the axes it is broadcast on.
func broadcastStrides(of operand: Shape, rank: Int) -> [Int] {
    let own = operand.strides
    return (0..<rank).map { axis in
        let i = axis - (rank - operand.rank)
        return i < 0 || operand[i] == 1 ? 0 : own[i]
    }
}

/// A function of two elements, applied by `broadcastBinary`. Each conforming
/// struct gets its own specialised, inlined loop.
protocol BinaryFunction {
    associatedtype Element
    associatedtype Output
    func callAsFunction(_ a: Element, _ b: Element) -> Output
}

/// `f` over the broadcast of `a` and `b`, into a new tensor of `dtype`
/// (whose Swift type must be `F.Output`; the operands' must be `F.Element`).
///
/// Complexity: one pass over the output; runs of the innermost merged dim are
/// straight loops the compiler vectorises.
func broadcastBinary<F: BinaryFunction>(
    _ f: F, _ a: Tensor, _ b: Tensor, plan: BroadcastPlan, as dtype: DType, _ context: KernelContext
) -> Tensor {
    let output = Tensor.uninitialized(dtype, plan.shape)
    guard plan.count > 0, let ra = a.rawBytes, let rb = b.rawBytes, let ro = output.mutableRawBytes else {
        return output
    }
    let pa = ra.assumingMemoryBound(to: F.Element.self)
    let pb = rb.assumingMemoryBound(to: F.Element.self)
    let po = ro.assumingMemoryBound(to: F.Output.self)
    plan.forEachRun(context) { aOffset, aStep, bOffset, bStep, outOffset, length in
        binaryRun(f, pa + aOffset, aStep, pb + bOffset, bStep, po + outOffset, length)
    }
    return output
}

/// One run: each operand either advances with the output (step 1) or is a
/// constant (step 0); the four cases are separate loops so each vectorises.
@inline(__always)
func binaryRun<F: BinaryFunction>(
    _ f: F, _ a: UnsafePointer<F.Element>, _ aStep: Int, _ b: UnsafePointer<F.Element>, _ bStep: Int,
    _ out: UnsafeMutablePointer<F.Output>, _ count: Int
) {
    switch (aStep, bStep) {
    case (1, 1):
        for i in 0..<count { out[i] = f(a[i], b[i]) }
    case (1, _):
        let s = b[0]
        for i in 0..<count { out[i] = f(a[i], s) }
    case (_, 1):
        let s = a[0]
        for i in 0..<count { out[i] = f(s, b[i]) }
    default:
        let v = f(a[0], b[0])
        for i in 0..<count { out[i] = v }
    }
}
