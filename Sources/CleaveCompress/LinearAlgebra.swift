import CleaveIR
import COpenBLAS

/// The one place CleaveCompress calls BLAS and LAPACK.
///
/// Matrices are row-major arrays. LAPACK is column-major, so each wrapper says
/// how it maps: a symmetric matrix is its own transpose, and a row-major m×n
/// array is the column-major n×m transpose.
enum LinearAlgebra {
    /// `C = op(A)·op(B) + beta·C` for row-major float matrices; `C` is m×n.
    static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                     _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                     beta: Float = 0, _ c: UnsafeMutablePointer<Float>) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            if beta == 0 { c.update(repeating: 0, count: m * n) }
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), 1, a, Int32(transA ? m : k), b, Int32(transB ? k : n),
                    beta, c, Int32(n))
    }

    /// Adds the Gram matrix of `x` into the double accumulator `into` (n×n, both triangles):
    /// `X·Xᵀ` for X row-major n×k (variables in rows), or with `transposed`
    /// `Xᵀ·X` for X row-major k×n (samples in rows); rows are `ld` apart.
    ///
    /// The product is formed in float by ssyrk (one BLAS-3 call) and only the
    /// sum across calls is kept in double, so many batches add up without
    /// losing the small eigenvalues to rounding.
    static func accumulateGram(_ x: UnsafePointer<Float>, n: Int, k: Int, transposed: Bool = false, ld: Int,
                               into: inout [Double]) {
        guard n > 0, k > 0 else { return }
        var product = [Float](repeating: 0, count: n * n)
        product.withUnsafeMutableBufferPointer { p in
            guard let base = p.baseAddress else { return }
            cblas_ssyrk(CblasRowMajor, CblasUpper, transposed ? CblasTrans : CblasNoTrans, Int32(n), Int32(k), 1,
                        x, Int32(ld), 0, base, Int32(n))
        }
        into.withUnsafeMutableBufferPointer { sum in
            for i in 0..<n {
                sum[i * n + i] += Double(product[i * n + i])
                for j in (i + 1)..<Swift.max(i + 1, n) {
                    let v = Double(product[i * n + j])
                    sum[i * n + j] += v
                    sum[j * n + i] += v
                }
            }
        }
    }

    /// Eigenvalues and eigenvectors of a symmetric n×n matrix, largest first.
    ///
    /// - Returns: `values` descending and `vectors` row-major n×n with
    ///   eigenvector i in row i (LAPACK's column-major columns are our rows).
    /// - Throws: `CleaveError.badInput` if LAPACK does not converge (NaN or Inf in the input).
    static func symmetricEigen(_ matrix: [Double], n: Int) throws -> (values: [Double], vectors: [Double]) {
        guard n > 0 else { return ([], []) }
        guard matrix.allSatisfy(\.isFinite) else {
            throw CleaveError.badInput("cannot decompose: the weights or activations contain NaN or infinity")
        }
        var a = matrix
        var w = [Double](repeating: 0, count: n)
        var info: Int32 = 0
        var size = Int32(n), lda = Int32(n)
        var workQuery = 0.0
        var iworkQuery: Int32 = 0
        var lwork: Int32 = -1, liwork: Int32 = -1
        dsyevd_("V", "U", &size, &a, &lda, &w, &workQuery, &lwork, &iworkQuery, &liwork, &info, 1, 1)
        lwork = Int32(workQuery.rounded(.up))
        liwork = iworkQuery
        var work = [Double](repeating: 0, count: Int(max(1, lwork)))
        var iwork = [Int32](repeating: 0, count: Int(max(1, liwork)))
        dsyevd_("V", "U", &size, &a, &lda, &w, &work, &lwork, &iwork, &liwork, &info, 1, 1)
        guard info == 0 else { throw CleaveError.badInput("cannot decompose: the eigensolver failed (LAPACK dsyevd info \(info))") }
        // Ascending from LAPACK; reverse to largest first.
        var values = [Double](repeating: 0, count: n)
        var vectors = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            let source = n - 1 - i
            values[i] = w[source]
            for j in 0..<n { vectors[i * n + j] = a[source * n + j] }
        }
        return (values, vectors)
    }

    /// An orthonormal basis of the column space of `y` (row-major rows×columns,
    /// rows ≥ columns), as a row-major rows×columns matrix (Householder QR).
    static func orthonormalColumns(_ y: [Float], rows: Int, columns: Int) throws -> [Float] {
        // Column-major copy for LAPACK.
        var a = [Float](repeating: 0, count: rows * columns)
        for i in 0..<rows { for j in 0..<columns { a[j * rows + i] = y[i * columns + j] } }
        var m = Int32(rows), n = Int32(columns), k = Int32(columns), lda = Int32(rows), info: Int32 = 0
        var tau = [Float](repeating: 0, count: columns)
        var query: Float = 0
        var lwork: Int32 = -1
        sgeqrf_(&m, &n, &a, &lda, &tau, &query, &lwork, &info)
        lwork = Int32(query.rounded(.up))
        var work = [Float](repeating: 0, count: Int(max(1, lwork)))
        sgeqrf_(&m, &n, &a, &lda, &tau, &work, &lwork, &info)
        guard info == 0 else { throw CleaveError.badInput("cannot decompose: QR failed (LAPACK sgeqrf info \(info))") }
        lwork = -1
        sorgqr_(&m, &n, &k, &a, &lda, &tau, &query, &lwork, &info)
        lwork = Int32(query.rounded(.up))
        work = [Float](repeating: 0, count: Int(max(1, lwork)))
        sorgqr_(&m, &n, &k, &a, &lda, &tau, &work, &lwork, &info)
        guard info == 0 else { throw CleaveError.badInput("cannot decompose: QR failed (LAPACK sorgqr info \(info))") }
        var q = [Float](repeating: 0, count: rows * columns)
        for i in 0..<rows { for j in 0..<columns { q[i * columns + j] = a[j * rows + i] } }
        return q
    }

    /// Solves `X·G = R` for X (row-major p×n), G symmetric positive
    /// semi-definite n×n, R row-major p×n: the normal equations of a least-squares fit.
    ///
    /// A ridge of 1e-6 × the mean diagonal keeps G invertible when features
    /// are collinear or dead (ReLU channels that never fire), at a bias far
    /// below float precision of the fit. When there are fewer samples than
    /// features, rounding can still leave G indefinite; the ridge then grows
    /// a hundredfold at a time, up to 1e-2, before giving up.
    static func solveNormalEquations(gram: [Double], n: Int, rhs: [Double], count p: Int) throws -> [Double] {
        guard n > 0, p > 0 else { return [] }
        let trace = (0..<n).reduce(0.0) { $0 + gram[$1 * n + $1] }
        var info: Int32 = 0
        for relativeRidge in [1e-6, 1e-4, 1e-2] {
            var g = gram
            let ridge = Swift.max(relativeRidge * trace / Double(n), 1e-12)
            for i in 0..<n { g[i * n + i] += ridge }
            // Column-major n×p B is row-major p×n R: each right-hand side is one row of R.
            var b = rhs
            var size = Int32(n), count = Int32(p), lda = Int32(n), ldb = Int32(n)
            dposv_("U", &size, &count, &g, &lda, &b, &ldb, &info, 1)
            if info == 0 { return b }
        }
        throw CleaveError.badInput("cannot refit: the normal equations are singular (LAPACK dposv info \(info))")
    }
}
