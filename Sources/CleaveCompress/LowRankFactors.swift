import CleaveIR

/// How the rank of a decomposed layer is chosen.
enum RankRule {
    /// r = ⌈R·min(N, K)⌉.
    case ratio(Double)
    /// The smallest r whose leading eigenvalues hold this fraction of their sum.
    case energy(Double)

    /// The rank for a layer of inner size `limit` = min(N, K), given the
    /// eigenvalues (descending) when the rule needs them.
    func rank(limit: Int, eigenvalues: [Double]?) -> Int {
        switch self {
        case .ratio(let r):
            return Swift.min(limit, Swift.max(1, Int((r * Double(limit)).rounded(.up))))
        case .energy(let e):
            let values = (eigenvalues ?? []).prefix(limit).map { Swift.max($0, 0) }
            let total = values.reduce(0, +)
            guard total > 0 else { return 1 }
            var kept = 0.0
            for (i, v) in values.enumerated() {
                kept += v
                // A hair of slack so E = 1 is not defeated by rounding in the last digits.
                if kept >= e * total * (1 - 1e-12) { return i + 1 }
            }
            return values.count
        }
    }
}

/// A rank-r factorisation W ≈ second·first of a layer's N×K weight matrix.
struct LowRankFactors {
    /// r×K: the new layer K → r.
    var first: [Float]
    /// N×r: the new layer r → N.
    var second: [Float]
    /// N: the bias the second layer adds instead of the original one (data-driven only).
    var bias: [Float]?
    var rank: Int
    /// "svd", "randomized_svd" or "response_pca".
    var method: String

    /// Above this inner size, a rank fixed by ratio is found by randomized SVD
    /// (Halko, Martinsson and Tropp, "Finding structure with randomness",
    /// SIAM Review 2011) instead of an exact eigendecomposition, whose O(m³)
    /// cost dominates for large fully connected layers (VGG's 4096-wide ones).
    static let exactLimit = 1536
    /// Randomized SVD's oversampling: columns sketched beyond the rank.
    static let oversampling = 10
    /// Matrices up to this size × sketch width get one power iteration, which
    /// sharpens the subspace when singular values decay slowly, for two more
    /// passes over W; larger ones (VGG's fully connected layers) get none.
    static let powerIterationBudget = 2_000_000_000
    /// Non-zeros per row of the sparse sketching matrix.
    static let sketchDensity = 8

    // MARK: from the weights

    /// The best rank-r approximation of W (n×k, row-major) in the Frobenius
    /// norm, or nil when the rule's rank would not reduce MACs (`accept` says no).
    ///
    /// W·Wᵀ (or Wᵀ·W, whichever is smaller) is eigendecomposed: its
    /// eigenvectors are W's left (right) singular vectors and its eigenvalues
    /// the squared singular values. With U the top r left vectors (n×r),
    /// first = Uᵀ·W and second = U; with V the top r right vectors (k×r),
    /// first = Vᵀ and second = W·V. Either way second·first is the SVD
    /// truncation, found without dividing by singular values that may be 0.
    static func fromWeights(_ w: UnsafePointer<Float>, n: Int, k: Int, rule: RankRule,
                            accept: (Int) -> Bool) throws -> LowRankFactors? {
        let limit = Swift.min(n, k)
        if case .ratio = rule, limit > exactLimit {
            let r = rule.rank(limit: limit, eigenvalues: nil)
            guard accept(r) else { return nil }
            return try randomized(w, n: n, k: k, rank: r)
        }
        if n <= k {
            var gram = [Double](repeating: 0, count: n * n)
            LinearAlgebra.accumulateGram(w, n: n, k: k, ld: k, into: &gram)
            let (values, vectors) = try LinearAlgebra.symmetricEigen(gram, n: n)
            let r = rule.rank(limit: limit, eigenvalues: values)
            guard accept(r) else { return nil }
            let pt = vectors.prefix(r * n).map { Float($0) }  // r×n
            let first = product(m: r, n: k, k: n, pt, w)
            return LowRankFactors(first: first, second: transpose(pt, rows: r, columns: n), bias: nil, rank: r, method: "svd")
        }
        var gram = [Double](repeating: 0, count: k * k)
        LinearAlgebra.accumulateGram(w, n: k, k: n, transposed: true, ld: k, into: &gram)
        let (values, vectors) = try LinearAlgebra.symmetricEigen(gram, n: k)
        let r = rule.rank(limit: limit, eigenvalues: values)
        guard accept(r) else { return nil }
        let vt = vectors.prefix(r * k).map { Float($0) }  // r×k
        let second = product(transB: true, m: n, n: r, k: k, w, vt)
        return LowRankFactors(first: vt, second: second, bias: nil, rank: r, method: "svd")
    }

    /// Randomized SVD at a fixed rank: sketch the range of W (or of Wᵀ when W
    /// is tall), orthonormalise, and take the exact truncation of W projected
    /// on that small subspace.
    ///
    /// The sketch multiplies by a seeded sparse sign matrix (8 entries ±1 per
    /// row; Tropp, Yurtsever, Udell and Cevher, SIAM J. Sci. Comput. 2019),
    /// which finds the range about as well as a Gaussian one at a fraction of
    /// the cost: it touches each weight 8 times instead of r + 10 times, so
    /// the only dense products left are the projection of W and the factors.
    private static func randomized(_ w: UnsafePointer<Float>, n: Int, k: Int, rank r: Int) throws -> LowRankFactors {
        let limit = Swift.min(n, k)
        let l = Swift.min(limit, r + oversampling)
        let power = n * k * l <= powerIterationBudget
        var random = SeededRandom(seed: UInt64(n) &* 0x1_0000_0001 &+ UInt64(k))
        if n <= k {
            // Range of W (n-dimensional).
            var q = try LinearAlgebra.orthonormalColumns(sketch(w, n: n, k: k, width: l, ofTranspose: false, &random),
                                                         rows: n, columns: l)
            if power {
                let z = try LinearAlgebra.orthonormalColumns(product(transA: true, m: k, n: l, k: n, w, q), rows: k, columns: l)
                q = try LinearAlgebra.orthonormalColumns(product(m: n, n: l, k: k, w, z), rows: n, columns: l)
            }
            let b = product(transA: true, m: l, n: k, k: n, q, w)  // l×k = Qᵀ·W
            var gram = [Double](repeating: 0, count: l * l)
            LinearAlgebra.accumulateGram(b, n: l, k: k, ld: k, into: &gram)
            let (_, vectors) = try LinearAlgebra.symmetricEigen(gram, n: l)
            let ut = vectors.prefix(r * l).map { Float($0) }  // r×l
            let pt = product(transB: true, m: r, n: n, k: l, ut, q)  // r×n = Uᵀ·Qᵀ
            let first = product(m: r, n: k, k: l, ut, b)
            return LowRankFactors(first: first, second: transpose(pt, rows: r, columns: n), bias: nil, rank: r,
                                  method: "randomized_svd")
        }
        // Row space of W (k-dimensional).
        var q = try LinearAlgebra.orthonormalColumns(sketch(w, n: n, k: k, width: l, ofTranspose: true, &random),
                                                     rows: k, columns: l)
        if power {
            let z = try LinearAlgebra.orthonormalColumns(product(m: n, n: l, k: k, w, q), rows: n, columns: l)
            q = try LinearAlgebra.orthonormalColumns(product(transA: true, m: k, n: l, k: n, w, z), rows: k, columns: l)
        }
        let wq = product(m: n, n: l, k: k, w, q)  // n×l
        var gram = [Double](repeating: 0, count: l * l)
        LinearAlgebra.accumulateGram(wq, n: l, k: n, transposed: true, ld: l, into: &gram)
        let (_, vectors) = try LinearAlgebra.symmetricEigen(gram, n: l)
        let ut = vectors.prefix(r * l).map { Float($0) }  // r×l
        let vt = product(transB: true, m: r, n: k, k: l, ut, q)  // r×k
        let second = product(transB: true, m: n, n: r, k: l, wq, ut)  // n×r
        return LowRankFactors(first: vt, second: second, bias: nil, rank: r, method: "randomized_svd")
    }

    /// W·Ω (n×width) or Wᵀ·Ω (k×width) for a sparse sign matrix Ω with
    /// `sketchDensity` entries ±1 in each row, at random columns.
    private static func sketch(_ w: UnsafePointer<Float>, n: Int, k: Int, width l: Int, ofTranspose: Bool,
                               _ random: inout SeededRandom) -> [Float] {
        let rows = ofTranspose ? n : k  // rows of Ω
        let density = Swift.min(sketchDensity, l)
        var columns = [Int](repeating: 0, count: rows * density)
        var signs = [Float](repeating: 0, count: rows * density)
        for i in 0..<(rows * density) {
            let bits = random.next()
            columns[i] = Int(bits % UInt64(l))
            signs[i] = bits & (1 << 63) == 0 ? 1 : -1
        }
        if ofTranspose {
            // (Wᵀ·Ω)ᵀ = Ωᵀ·W: row t gains ±(row i of W) for each entry (i, t).
            var yt = [Float](repeating: 0, count: l * k)
            yt.withUnsafeMutableBufferPointer { out in
                for i in 0..<n {
                    let row = w + i * k
                    for z in 0..<density {
                        let target = out.baseAddress.map { $0 + columns[i * density + z] * k }
                        let sign = signs[i * density + z]
                        guard let target else { continue }
                        for j in 0..<k { target[j] += sign * row[j] }
                    }
                }
            }
            return transpose(yt, rows: l, columns: k)
        }
        var y = [Float](repeating: 0, count: n * l)
        y.withUnsafeMutableBufferPointer { out in
            guard let base = out.baseAddress else { return }
            for i in 0..<n {
                let row = w + i * k, target = base + i * l
                for j in 0..<k {
                    let v = row[j]
                    for z in 0..<density { target[columns[j * density + z]] += signs[j * density + z] * v }
                }
            }
        }
        return y
    }

    // MARK: from calibration responses

    /// The rank-r layer whose outputs best match the original's on the
    /// calibration data (Zhang, Zou, He and Sun, "Accelerating Very Deep
    /// Convolutional Networks for Classification and Detection", TPAMI 2016,
    /// linear response reconstruction).
    ///
    /// With P the top r principal directions of the responses z = W·x:
    /// first = Pᵀ·W, second = P, and the second layer's bias
    /// b′ = b + (I − P·Pᵀ)·z̄ puts back the mean of what the projection drops.
    /// Without a bias to carry it (MatMul) the directions come from the
    /// uncentred second moment instead, which needs no mean correction.
    ///
    /// - Parameter bias: the layer's bias per output channel (nil for MatMul).
    static func fromResponses(_ w: UnsafePointer<Float>, n: Int, k: Int, statistics: ResponseStatistics,
                              bias: [Float]?, rule: RankRule, accept: (Int) -> Bool) throws -> LowRankFactors? {
        let centered = bias != nil
        let (values, vectors) = try LinearAlgebra.symmetricEigen(statistics.covariance(centered: centered), n: n)
        let r = rule.rank(limit: Swift.min(n, k), eigenvalues: values)
        guard accept(r) else { return nil }
        let pt = vectors.prefix(r * n).map { Float($0) }  // r×n
        let first = product(m: r, n: k, k: n, pt, w)
        var newBias: [Float]?
        if let bias {
            // b′ = ȳ − P·Pᵀ·(ȳ − b), with ȳ the mean output (bias included).
            let mean = statistics.mean
            let z = (0..<n).map { mean[$0] - Double(bias[$0]) }
            var coefficients = [Double](repeating: 0, count: r)
            for i in 0..<r { for j in 0..<n { coefficients[i] += Double(pt[i * n + j]) * z[j] } }
            newBias = (0..<n).map { j in
                var projected = 0.0
                for i in 0..<r { projected += Double(pt[i * n + j]) * coefficients[i] }
                return Float(mean[j] - projected)
            }
        }
        return LowRankFactors(first: first, second: transpose(pt, rows: r, columns: n), bias: newBias, rank: r,
                              method: "response_pca")
    }

    // MARK: helpers

    /// op(A)·op(B) as a new row-major m×n array (arrays pass as pointers).
    static func product(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        c.withUnsafeMutableBufferPointer { out in
            guard let base = out.baseAddress else { return }
            LinearAlgebra.gemm(transA: transA, transB: transB, m: m, n: n, k: k, a, b, base)
        }
        return c
    }

    static func transpose(_ a: [Float], rows: Int, columns: Int) -> [Float] {
        var t = [Float](repeating: 0, count: rows * columns)
        for i in 0..<rows { for j in 0..<columns { t[j * rows + i] = a[i * columns + j] } }
        return t
    }
}
