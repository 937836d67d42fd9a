import CleaveIR

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
        let a = try setup.float32Input(inputs, 0, "A")
        let b = try setup.float32Input(inputs, 1, "B")
        let c = try setup.optionalFloat32Input(inputs, 2, "C")
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
        var cRows = 1, cColumns = 1
        if let c {
            let dims = c.shape.dims
            cColumns = dims.last ?? 1
            cRows = dims.count == 2 ? dims[0] : 1
            guard dims.count <= 2, cRows == 1 || cRows == m, cColumns == 1 || cColumns == n else {
                throw setup.error("C \(c.shape) does not broadcast to [\(m), \(n)]")
            }
        }
        let y = Tensor.uninitialized(.float, [m, n])
        guard m > 0, n > 0 else { return [y] }
        let useC = c != nil && beta != 0
        a.withUnsafeBufferPointer(as: Float.self) { ab in
            b.withUnsafeBufferPointer(as: Float.self) { bb in
                y.withUnsafeMutableBufferPointer(as: Float.self) { yb in
                    guard let yp = yb.baseAddress else { return }
                    if useC, let c {
                        c.withUnsafeBufferPointer(as: Float.self) { cb in
                            for i in 0..<m {
                                let row = yp + i * n
                                let source = cb.baseAddress.map { $0 + (cRows == 1 ? 0 : i * cColumns) }
                                if let source {
                                    if cColumns == 1 {
                                        row.update(repeating: beta * source[0], count: n)
                                    } else {
                                        for j in 0..<n { row[j] = beta * source[j] }
                                    }
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
                              beta: useC ? 1 : 0, c: yp, ldc: n)
                }
            }
        }
        return [y]
    }
}

/// MatMul, opsets 1–13: NumPy `matmul` semantics — batch dims broadcast, a
/// 1-D A is a row vector and a 1-D B a column vector, whose unit dim is then
/// dropped from the result.
final class MatMulKernel: Kernel {
    private let setup: KernelSetup

    init(_ setup: KernelSetup) throws { self.setup = setup }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let a = try setup.float32Input(inputs, 0, "A")
        let b = try setup.float32Input(inputs, 1, "B")
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
        let y = Tensor.uninitialized(.float, Shape(outDims))
        guard y.elementCount > 0 else { return [y] }

        a.withUnsafeBufferPointer(as: Float.self) { ab in
            b.withUnsafeBufferPointer(as: Float.self) { bb in
                y.withUnsafeMutableBufferPointer(as: Float.self) { yb in
                    guard let yp = yb.baseAddress else { return }
                    guard let ap = ab.baseAddress, let bp = bb.baseAddress else {
                        yp.update(repeating: 0, count: y.elementCount)  // K = 0
                        return
                    }
                    if bBatch.elementCount == 1 && aBatch.dims == batch.dims {
                        // One B for every batch: stack A's matrices into one tall product.
                        BLAS.gemm(transA: false, transB: false, m: batch.elementCount * m, n: n, k: k, alpha: 1,
                                  a: ap, lda: k, b: bp, ldb: n, beta: 0, c: yp, ldc: n)
                        return
                    }
                    let aOffsets = MatMulKernel.offsets(of: aBatch, in: batch, matrix: m * k)
                    let bOffsets = MatMulKernel.offsets(of: bBatch, in: batch, matrix: k * n)
                    for index in 0..<batch.elementCount {
                        BLAS.gemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1,
                                  a: ap + aOffsets[index], lda: k, b: bp + bOffsets[index], ldb: n,
                                  beta: 0, c: yp + index * m * n, ldc: n)
                    }
                }
            }
        }
        return [y]
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
