import CleaveIR

/// First and second moments of a layer's responses over calibration data:
/// each output position (a pixel of a Conv output, a row of a Gemm output) is
/// one sample of an N-vector.
struct ResponseStatistics {
    let channels: Int
    /// Σ y·yᵀ, N×N.
    private(set) var secondMoment: [Double]
    /// Σ y, N.
    private(set) var sum: [Double]
    private(set) var count = 0

    init(channels: Int) {
        self.channels = channels
        secondMoment = [Double](repeating: 0, count: channels * channels)
        sum = [Double](repeating: 0, count: channels)
    }

    /// Adds the samples of `y`: channels on axis 1 (Conv, [B, N, spatial…])
    /// or on the last axis (Gemm, MatMul, [… , N]).
    /// - Throws: `CleaveError.badInput` if `y` is not float32 with N channels there.
    mutating func add(_ y: Tensor, channelsFirst: Bool, layer: String) throws {
        let n = channels
        let axis = channelsFirst ? 1 : y.shape.rank - 1
        guard y.dtype == .float, axis >= 0, axis < y.shape.rank, y.shape[axis] == n else {
            throw CleaveError.badInput("layer '\(layer)': calibration output \(y.type) does not have \(n) channels on axis \(axis)")
        }
        let total = y.elementCount
        guard total > 0 else { return }
        y.withUnsafeBufferPointer(as: Float.self) { values in
            guard let base = values.baseAddress else { return }
            if channelsFirst {
                let plane = y.shape.dims.dropFirst(2).reduce(1, *)
                let batch = y.shape[0]
                for b in 0..<batch {
                    let image = base + b * n * plane
                    LinearAlgebra.accumulateGram(image, n: n, k: plane, ld: plane, into: &secondMoment)
                    for c in 0..<n {
                        var s = 0.0
                        for p in 0..<plane { s += Double(image[c * plane + p]) }
                        sum[c] += s
                    }
                }
                count += batch * plane
            } else {
                let rows = total / n
                LinearAlgebra.accumulateGram(base, n: n, k: rows, transposed: true, ld: n, into: &secondMoment)
                for r in 0..<rows { for c in 0..<n { sum[c] += Double(base[r * n + c]) } }
                count += rows
            }
        }
    }

    var mean: [Double] { sum.map { $0 / Double(Swift.max(count, 1)) } }

    /// E[(y − ȳ)(y − ȳ)ᵀ] when `centered`, else E[y·yᵀ].
    func covariance(centered: Bool) -> [Double] {
        let n = channels
        let scale = 1 / Double(Swift.max(count, 1))
        let m = mean
        var result = secondMoment.map { $0 * scale }
        if centered {
            for i in 0..<n { for j in 0..<n { result[i * n + j] -= m[i] * m[j] } }
        }
        return result
    }
}
