import CleaveIR

/// The element types Gemm and MatMul take: float32 and float64 go to BLAS
/// directly; float16 is widened to float32 (exactly), multiplied, and rounded
/// back once, which is at least as accurate as accumulating in half precision.
private enum ProductType {
    case float, double, half

    init(_ setup: KernelSetup, _ tensors: [Tensor], names: [String]) throws {
        let dtype = tensors[0].dtype
        for (tensor, name) in zip(tensors, names) where tensor.dtype != dtype {
            throw setup.error("\(name) is \(tensor.dtype.name) but \(names[0]) is \(dtype.name); they must match")
        }
        switch dtype {
        case .float: self = .float
        case .double: self = .double
        case .float16: self = .half
        default: throw setup.error("\(names[0]) is \(dtype.name); supported: float32, float64, float16")
        }
    }
}

/// Gemm, opsets 7–13: `Y = alpha·op(A)·op(B) + beta·C` with `C` broadcast
/// one-way to `[M, N]` (required before opset 11, optional since).
final class GemmKernel: Kernel {
    private let setup: KernelSetup
    private let alpha: Float
    private let beta: Float
    private let transA: Bool
    private let transB: Bool

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        alpha = setup.node.float("alpha") ?? 1
        beta = setup.node.float("beta") ?? 1
        transA = (setup.node.int("transA") ?? 0) != 0
        transB = (setup.node.int("transB") ?? 0) != 0
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        guard inputs.count >= 2, let a = inputs[0], let b = inputs[1] else { throw setup.error("inputs A and B are required") }
        let c = inputs.count > 2 ? inputs[2] : nil
        let type = try ProductType(setup, [a, b] + (c.map { [$0] } ?? []), names: ["A", "B", "C"])
        guard a.shape.rank == 2, b.shape.rank == 2 else {
            throw setup.error("A \(a.shape) and B \(b.shape) must both be matrices")
        }
        let (m, k) = transA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let (kb, n) = transB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        guard k == kb else {
            throw setup.error("A \(a.shape) (transA=\(transA ? 1 : 0)) and B \(b.shape) (transB=\(transB ? 1 : 0)) disagree on the inner dim")
        }
        guard BLAS.fits(m, n, k) else { throw setup.error("A \(a.shape) and B \(b.shape) exceed the 32-bit sizes BLAS takes") }
        // C broadcasts one way: right-aligned, each of its dims 1 or equal to [M, N]'s.
        if let c {
            let dims = c.shape.dims
            let rows = dims.count == 2 ? dims[0] : 1, columns = dims.last ?? 1
            guard dims.count <= 2, rows == 1 || rows == m, columns == 1 || columns == n else {
                throw setup.error("C \(c.shape) does not broadcast to [\(m), \(n)]")
            }
        }
        let shape = try setup.shape([m, n], "output Y")
        switch type {
        case .float: return [product(Float.self, a, b, c, shape, k: k, context)]
        case .double: return [product(Double.self, a, b, c, shape, k: k, context)]
        case .half:
            let wide = try ([a, b] + (c.map { [$0] } ?? [])).map { try Conversion.convert($0, to: .float, setup) }
            let y = product(Float.self, wide[0], wide[1], wide.count > 2 ? wide[2] : nil, shape, k: k, context)
            return [try Conversion.convert(y, to: .float16, setup)]
        }
    }

    /// - Complexity: O(m·n·k).
    private func product<T: BLASElement>(_: T.Type, _ a: Tensor, _ b: Tensor, _ c: Tensor?,
                                         _ shape: Shape, k: Int, _ context: KernelContext) -> Tensor {
        let m = shape[0], n = shape[1]
        let y = Tensor.uninitialized(a.dtype, shape)
        guard m > 0, n > 0 else { return y }
        let alpha = T(self.alpha), beta = T(self.beta)
        let useC = c != nil && beta != 0
        a.withUnsafeBufferPointer(as: T.self) { ab in
            b.withUnsafeBufferPointer(as: T.self) { bb in
                y.withUnsafeMutableBufferPointer(as: T.self) { yb in
                    guard let yp = yb.baseAddress else { return }
                    if useC, let c {
                        let cRows = c.shape.rank == 2 ? c.shape[0] : 1, cColumns = c.shape.dims.last ?? 1
                        c.withUnsafeBufferPointer(as: T.self) { cb in
                            guard let cp = cb.baseAddress else { return }
                            for i in 0..<m {
                                let row = yp + i * n, source = cp + (cRows == 1 ? 0 : i * cColumns)
                                if cColumns == 1 {
                                    row.update(repeating: beta * source[0], count: n)
                                } else {
                                    for j in 0..<n { row[j] = beta * source[j] }
                                }
                            }
                        }
                    }
                    guard let ap = ab.baseAddress, let bp = bb.baseAddress else {
                        // K = 0: the product is empty.
                        if !useC { yp.update(repeating: 0, count: m * n) }
                        return
                    }
                    BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                              a: ap, lda: a.shape[1], b: bp, ldb: b.shape[1],
                              beta: useC ? 1 : 0, c: yp, ldc: n, context)
                }
            }
        }
        return y
    }
}

/// MatMul, opsets 1–13: NumPy `matmul` semantics — batch dims broadcast, a
/// 1-D A is a row vector and a 1-D B a column vector, whose unit dim is then
/// dropped from the result.
final class MatMulKernel: Kernel {
    private let setup: KernelSetup

    init(_ setup: KernelSetup) throws { self.setup = setup }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        guard inputs.count >= 2, let a = inputs[0], let b = inputs[1] else { throw setup.error("inputs A and B are required") }
        let type = try ProductType(setup, [a, b], names: ["A", "B"])
        guard a.shape.rank >= 1, b.shape.rank >= 1 else {
            throw setup.error("A \(a.shape) and B \(b.shape) must have at least one dim (scalars are not matrices)")
        }
        let aDims = a.shape.rank == 1 ? [1, a.shape[0]] : a.shape.dims
        let bDims = b.shape.rank == 1 ? [b.shape[0], 1] : b.shape.dims
        let m = aDims[aDims.count - 2], k = aDims[aDims.count - 1]
        let n = bDims[bDims.count - 1]
        guard bDims[bDims.count - 2] == k else {
            throw setup.error("A \(a.shape) and B \(b.shape) disagree on the inner dim (\(k) vs \(bDims[bDims.count - 2]))")
        }
        let aBatch = Shape(Array(aDims.dropLast(2))), bBatch = Shape(Array(bDims.dropLast(2)))
        let batch: Shape
        do { batch = try broadcast(aBatch, bBatch) } catch {
            throw setup.error("batch dims of A \(a.shape) and B \(b.shape) do not broadcast")
        }
        guard BLAS.fits(m, n, k) else { throw setup.error("A \(a.shape) and B \(b.shape) exceed the 32-bit sizes BLAS takes") }
        var outDims = batch.dims
        if a.shape.rank > 1 { outDims.append(m) }
        if b.shape.rank > 1 { outDims.append(n) }
        let plan = Plan(m: m, n: n, k: k, aBatch: aBatch, bBatch: bBatch, batch: batch, output: try setup.shape(outDims, "output"))
        switch type {
        case .float: return [product(Float.self, a, b, plan, context)]
        case .double: return [product(Double.self, a, b, plan, context)]
        case .half:
            let y = product(Float.self, try Conversion.convert(a, to: .float, setup),
                            try Conversion.convert(b, to: .float, setup), plan, context)
            return [try Conversion.convert(y, to: .float16, setup)]
        }
    }

    private struct Plan {
        var m, n, k: Int
        var aBatch, bBatch, batch: Shape
        var output: Shape
    }

    /// - Complexity: O(batch·m·n·k).
    private func product<T: BLASElement>(_: T.Type, _ a: Tensor, _ b: Tensor, _ p: Plan,
                                         _ context: KernelContext) -> Tensor {
        let y = Tensor.uninitialized(a.dtype, p.output)
        guard y.elementCount > 0 else { return y }
        a.withUnsafeBufferPointer(as: T.self) { ab in
            b.withUnsafeBufferPointer(as: T.self) { bb in
                y.withUnsafeMutableBufferPointer(as: T.self) { yb in
                    guard let yp = yb.baseAddress else { return }
                    guard let ap = ab.baseAddress, let bp = bb.baseAddress else {
                        yp.update(repeating: 0, count: y.elementCount)  // K = 0
                        return
                    }
                    if p.bBatch.elementCount == 1 && p.aBatch.dims == p.batch.dims {
                        // One B for every batch: stack A's matrices into one tall product.
                        BLAS.gemm(transA: false, transB: false, m: p.batch.elementCount * p.m, n: p.n, k: p.k,
                                  alpha: 1, a: ap, lda: p.k, b: bp, ldb: p.n, beta: 0, c: yp, ldc: p.n, context)
                        return
                    }
                    let aOffsets = MatMulKernel.offsets(of: p.aBatch, in: p.batch, matrix: p.m * p.k)
                    let bOffsets = MatMulKernel.offsets(of: p.bBatch, in: p.batch, matrix: p.k * p.n)
                    for index in 0..<p.batch.elementCount {
                        BLAS.gemm(transA: false, transB: false, m: p.m, n: p.n, k: p.k, alpha: 1,
                                  a: ap + aOffsets[index], lda: p.k, b: bp + bOffsets[index], ldb: p.n,
                                  beta: 0, c: yp + index * p.m * p.n, ldc: p.n, context)
                    }
                }
            }
        }
        return y
    }

    /// Element offset of the matrix each output batch index reads from an
    /// operand with batch dims `own`, broadcast to `batch`.
    static func offsets(of own: Shape, in batch: Shape, matrix: Int) -> [Int] {
        let rank = batch.rank
        let padded = [Int](repeating: 1, count: rank - own.rank) + own.dims
        let ownStrides = Shape(padded).strides
        var result = [Int](repeating: 0, count: batch.elementCount)
        var coordinate = [Int](repeating: 0, count: rank)
        for index in 0..<result.count {
            var offset = 0
            for d in 0..<rank where padded[d] != 1 { offset += coordinate[d] * ownStrides[d] }
            result[index] = offset * matrix
            var d = rank - 1
            while d >= 0 {
                coordinate[d] += 1
                if coordinate[d] < batch[d] { break }
                coordinate[d] = 0
                d -= 1
            }
        }
        return result
    }
}
