/// Non-negative least squares on relative error: the fit behind every op
/// kind's latency model.
///
/// Latencies of one kind span four orders of magnitude (a 1 µs ReLU, a 100 ms
/// convolution), so the fit minimises Σ ((x·c − y) / y)², the squared
/// *relative* error, which weighs every configuration alike. Coefficients are
/// constrained to be ≥ 0 because each one is a cost per unit of a quantity
/// (ms per MAC, ms per byte); an unconstrained fit happily trades a negative
/// per-byte cost against a larger per-MAC one and then predicts negative times
/// outside the sweep. With at most ten features the exact constrained optimum
/// is found by solving the unconstrained problem on every subset of features
/// and keeping the best subset whose solution is non-negative (the optimum of
/// NNLS is the unconstrained optimum on its set of positive coefficients;
/// Lawson & Hanson, *Solving Least Squares Problems*, 1974, ch. 23).
struct LinearFit {
    var coefficients: [Double]
    /// Coefficient of determination of the predictions, in linear space.
    var r2: Double
    /// Mean absolute percentage error as a fraction (0.05 = 5%).
    var mape: Double

    /// Fits `y ≈ x·c` with `c ≥ 0`.
    /// - Parameters:
    ///   - rows: feature vectors, all of the same length.
    ///   - targets: measured values, > 0.
    ///   - scales: what each residual is relative to (default: its target).
    /// - Returns: nil if there are no rows.
    static func fit(rows: [[Double]], targets: [Double], scales: [Double]? = nil) -> LinearFit? {
        guard let width = rows.first?.count, width > 0, rows.count == targets.count else { return nil }
        // Weighted rows: each divided by its scale, so the residual is relative.
        let weights = (scales ?? targets).map { 1 / Swift.max($0, 1e-9) }
        let weighted = zip(rows, weights).map { row, w in row.map { $0 * w } }
        // Scale columns to unit maximum so the normal equations are well conditioned.
        var scale = [Double](repeating: 1, count: width)
        for j in 0..<width {
            let m = weighted.reduce(0) { Swift.max($0, abs($1[j])) }
            scale[j] = m > 0 ? m : 1
        }
        let a = weighted.map { row in (0..<width).map { row[$0] / scale[$0] } }
        let b = zip(targets, weights).map { $0 * $1 }

        var best: (coefficients: [Double], residual: Double)?
        for mask in 1..<(1 << width) {
            let columns = (0..<width).filter { mask & (1 << $0) != 0 }
            guard let solution = solve(a, b, columns: columns), solution.allSatisfy({ $0 >= 0 }) else { continue }
            var full = [Double](repeating: 0, count: width)
            for (k, j) in columns.enumerated() { full[j] = solution[k] }
            let residual = zip(a, b).reduce(0.0) { sum, pair in
                let r = zip(pair.0, full).reduce(0) { $0 + $1.0 * $1.1 } - pair.1
                return sum + r * r
            }
            if let current = best, residual >= current.residual - 1e-15 { continue }
            best = (full, residual)
        }
        let coefficients = (best?.coefficients ?? [Double](repeating: 0, count: width)).enumerated().map { $1 / scale[$0] }
        return LinearFit(coefficients: coefficients, rows: rows, targets: targets)
    }

    init(coefficients: [Double], rows: [[Double]], targets: [Double]) {
        self.coefficients = coefficients
        let predictions = rows.map { row in zip(row, coefficients).reduce(0) { $0 + $1.0 * $1.1 } }
        (r2, mape) = LinearFit.quality(predictions: predictions, targets: targets)
    }

    /// R² (linear space) and MAPE (fraction) of `predictions` against `targets`.
    static func quality(predictions: [Double], targets: [Double]) -> (r2: Double, mape: Double) {
        let mean = targets.reduce(0, +) / Double(Swift.max(1, targets.count))
        let total = targets.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        let residual = zip(predictions, targets).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        let r2 = total > 0 ? 1 - residual / total : (residual == 0 ? 1 : 0)
        let mape = zip(predictions, targets).reduce(0) { $0 + abs($1.0 - $1.1) / Swift.max($1.1, 1e-12) }
            / Double(Swift.max(1, targets.count))
        return (r2, mape)
    }

    /// Least-squares solution of `a[:, columns] · x = b` through the normal
    /// equations (Gaussian elimination with partial pivoting); nil if singular.
    private static func solve(_ a: [[Double]], _ b: [Double], columns: [Int]) -> [Double]? {
        let n = columns.count
        var m = [[Double]](repeating: [Double](repeating: 0, count: n + 1), count: n)
        for (row, target) in zip(a, b) {
            for (i, ci) in columns.enumerated() {
                for (j, cj) in columns.enumerated() { m[i][j] += row[ci] * row[cj] }
                m[i][n] += row[ci] * target
            }
        }
        for col in 0..<n {
            var pivot = col
            for r in col..<n where abs(m[r][col]) > abs(m[pivot][col]) { pivot = r }
            guard abs(m[pivot][col]) > 1e-12 else { return nil }
            m.swapAt(col, pivot)
            for r in 0..<n where r != col {
                let factor = m[r][col] / m[col][col]
                if factor == 0 { continue }
                for c in col...n { m[r][c] -= factor * m[col][c] }
            }
        }
        return (0..<n).map { m[$0][n] / m[$0][$0] }
    }
}
