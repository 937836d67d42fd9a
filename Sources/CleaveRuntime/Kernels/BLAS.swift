import COpenBLAS

/// The one place that calls cblas: row-major matrix products in single or
/// double precision.
///
/// Callers pass plain pointers and leading dimensions; shapes were checked at
/// the kernel's entry, so nothing here validates beyond what BLAS needs.
enum BLAS {
    /// The largest dimension or leading dimension cblas takes (its ints are 32-bit).
    static let largestDimension = Int(Int32.max)

    /// True when every value fits cblas's 32-bit integers.
    static func fits(_ values: Int...) -> Bool {
        values.allSatisfy { $0 >= 0 && $0 <= largestDimension }
    }

    /// Products of fewer multiply-adds than this per thread run on one: a
    /// vectorised step does about 16, so this is `minimumThreadWork` steps.
    static let minimumThreadMACs = 16 * KernelContext.minimumThreadWork
    /// A split product's parts are whole blocks of this many rows or columns.
    static let splitBlock = 16

    /// Whether `gemm` splits C[m×n] = op(A)[m×k]·op(B)[k×n] across `threads` threads.
    static func splits(m: Int, n: Int, k: Int, threads: Int) -> Bool {
        threads > 1 && Swift.max(m, n) > splitBlock && m * n * k >= 2 * minimumThreadMACs
    }

    /// `C[m×n] = alpha·op(A)·op(B) + beta·C`, all row-major, on up to
    /// `context.threads` threads.
    ///
    /// OpenBLAS runs single-threaded inside a session (`Session`): a large
    /// product is split here, over C's longer side in blocks of 16, onto the
    /// session's workers. OpenBLAS's own threads would spin on the second core
    /// for a while after every product, slowing whatever runs next there.
    /// - Complexity: O(m·n·k).
    static func gemm<T: BLASElement>(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                     alpha: T, a: UnsafePointer<T>, lda: Int,
                                     b: UnsafePointer<T>, ldb: Int,
                                     beta: T, c: UnsafeMutablePointer<T>, ldc: Int, _ context: KernelContext) {
        guard splits(m: m, n: n, k: k, threads: context.threads) else {
            gemmInline(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                       b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        let block = splitBlock, splitColumns = n >= m
        let blocks = ((splitColumns ? n : m) + block - 1) / block
        let blockMACs = block * (splitColumns ? m : n) * k
        context.parallelFor(blocks, grain: Swift.max(1, minimumThreadMACs / Swift.max(1, blockMACs))) { part in
            let first = part.lowerBound * block
            if splitColumns {
                let columns = Swift.min(n, part.upperBound * block) - first
                gemmInline(transA: transA, transB: transB, m: m, n: columns, k: k, alpha: alpha, a: a, lda: lda,
                           b: transB ? b + first * ldb : b + first, ldb: ldb, beta: beta, c: c + first, ldc: ldc)
            } else {
                let rows = Swift.min(m, part.upperBound * block) - first
                gemmInline(transA: transA, transB: transB, m: rows, n: n, k: k, alpha: alpha,
                           a: transA ? a + first : a + first * lda, lda: lda,
                           b: b, ldb: ldb, beta: beta, c: c + first * ldc, ldc: ldc)
            }
        }
    }

    /// One thread's `gemm`.
    ///
    /// When `m` or `n` is 1 the product is a matrix-vector one and goes to
    /// gemv: OpenBLAS 0.3.21's gemm packs the whole of B even for one row of
    /// A, which for a fully connected layer at batch 1 copies the weight matrix
    /// on every call. `C` is not read when `beta` is 0.
    private static func gemmInline<T: BLASElement>(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                                   alpha: T, a: UnsafePointer<T>, lda: Int,
                                                   b: UnsafePointer<T>, ldb: Int,
                                                   beta: T, c: UnsafeMutablePointer<T>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        if k == 0 || alpha == 0 {
            scale(c, rows: m, columns: n, stride: ldc, by: beta)
            return
        }
        if m == 1 {
            // The row of C is op(B)ᵀ·(row of op(A)).
            if beta == 0 { c.update(repeating: 0, count: n) }
            let rows = transB ? n : k, columns = transB ? k : n
            T.gemv(transB ? CblasNoTrans : CblasTrans, Int32(rows), Int32(columns), alpha, b, Int32(ldb),
                   a, Int32(transA ? lda : 1), beta == 0 ? 1 : beta, c, 1)
            return
        }
        if n == 1 {
            // The column of C is op(A)·(column of op(B)).
            if beta == 0 { scale(c, rows: m, columns: 1, stride: ldc, by: 0) }
            let rows = transA ? k : m, columns = transA ? m : k
            T.gemv(transA ? CblasTrans : CblasNoTrans, Int32(rows), Int32(columns), alpha, a, Int32(lda),
                   b, Int32(transB ? 1 : ldb), beta == 0 ? 1 : beta, c, Int32(ldc))
            return
        }
        T.gemm(transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
               Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Multiplies a strided block by `factor`, writing zeros (not 0·NaN) when it is 0.
    private static func scale<T: BLASElement>(_ c: UnsafeMutablePointer<T>, rows: Int, columns: Int, stride: Int,
                                              by factor: T) {
        guard factor != 1 else { return }
        for row in 0..<rows {
            let line = c + row * stride
            if factor == 0 {
                line.update(repeating: 0, count: columns)
            } else {
                for j in 0..<columns { line[j] *= factor }
            }
        }
    }
}

/// An element type cblas multiplies, with its row-major gemm and gemv.
protocol BLASElement: BinaryFloatingPoint {
    static func gemm(_ transA: CBLAS_TRANSPOSE, _ transB: CBLAS_TRANSPOSE, _ m: Int32, _ n: Int32, _ k: Int32,
                     _ alpha: Self, _ a: UnsafePointer<Self>, _ lda: Int32, _ b: UnsafePointer<Self>, _ ldb: Int32,
                     _ beta: Self, _ c: UnsafeMutablePointer<Self>, _ ldc: Int32)
    static func gemv(_ trans: CBLAS_TRANSPOSE, _ m: Int32, _ n: Int32, _ alpha: Self, _ a: UnsafePointer<Self>,
                     _ lda: Int32, _ x: UnsafePointer<Self>, _ incX: Int32, _ beta: Self,
                     _ y: UnsafeMutablePointer<Self>, _ incY: Int32)
}

extension Float: BLASElement {
    static func gemm(_ transA: CBLAS_TRANSPOSE, _ transB: CBLAS_TRANSPOSE, _ m: Int32, _ n: Int32, _ k: Int32,
                     _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int32, _ b: UnsafePointer<Float>, _ ldb: Int32,
                     _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int32) {
        cblas_sgemm(CblasRowMajor, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    static func gemv(_ trans: CBLAS_TRANSPOSE, _ m: Int32, _ n: Int32, _ alpha: Float, _ a: UnsafePointer<Float>,
                     _ lda: Int32, _ x: UnsafePointer<Float>, _ incX: Int32, _ beta: Float,
                     _ y: UnsafeMutablePointer<Float>, _ incY: Int32) {
        cblas_sgemv(CblasRowMajor, trans, m, n, alpha, a, lda, x, incX, beta, y, incY)
    }
}

extension Double: BLASElement {
    static func gemm(_ transA: CBLAS_TRANSPOSE, _ transB: CBLAS_TRANSPOSE, _ m: Int32, _ n: Int32, _ k: Int32,
                     _ alpha: Double, _ a: UnsafePointer<Double>, _ lda: Int32, _ b: UnsafePointer<Double>,
                     _ ldb: Int32, _ beta: Double, _ c: UnsafeMutablePointer<Double>, _ ldc: Int32) {
        cblas_dgemm(CblasRowMajor, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    static func gemv(_ trans: CBLAS_TRANSPOSE, _ m: Int32, _ n: Int32, _ alpha: Double, _ a: UnsafePointer<Double>,
                     _ lda: Int32, _ x: UnsafePointer<Double>, _ incX: Int32, _ beta: Double,
                     _ y: UnsafeMutablePointer<Double>, _ incY: Int32) {
        cblas_dgemv(CblasRowMajor, trans, m, n, alpha, a, lda, x, incX, beta, y, incY)
    }
}

/// Whether the runtime splits one matrix product across `threads` threads,
/// for the planner's latency features.
package func productSplitsAcrossThreads(m: Int, n: Int, k: Int, threads: Int) -> Bool {
    BLAS.splits(m: m, n: n, k: k, threads: threads)
}
