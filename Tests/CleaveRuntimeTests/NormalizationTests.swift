import CleaveIR
import CleaveRuntime
import XCTest

/// BatchNormalization, InstanceNormalization, LayerNormalization and LRN
/// against their formulas evaluated in Double. rtol 1e-3 / atol 1e-4; the
/// float32 kernels differ from the Double formulas by a few ulps.
final class NormalizationTests: XCTestCase {
    private func batchNorm(_ x: Tensor, _ stats: [Tensor], epsilon: Double, perPosition: Bool) -> Tensor {
        let values = x.floats, channels = x.shape[1], plane = x.elementCount / (x.shape[0] * channels)
        let s = stats.map { $0.floats }
        let y = values.indices.map { i -> Float in
            let unit = perPosition ? i % (channels * plane) : (i / plane) % channels
            let normalized = (Double(values[i]) - Double(s[2][unit])) / (Double(s[3][unit]) + epsilon).squareRoot()
            return Float(Double(s[0][unit]) * normalized + Double(s[1][unit]))
        }
        return Tensor(x.shape, floats: y)
    }

    private func statistics(_ random: inout SeededRandom, _ dims: [Int]) -> [Tensor] {
        let variance = random.tensor(dims)
        return [random.tensor(dims), random.tensor(dims), random.tensor(dims),
                Tensor(variance.shape, floats: variance.floats.map { abs($0) + 0.1 })]
    }

    func testBatchNormalization() throws {
        var random = SeededRandom(31)
        for (trial, dims) in [[2, 3, 4, 5], [1, 4], [2, 3, 7], [1, 2, 2, 3, 2]].enumerated() {
            let x = random.tensor(dims)
            let stats = statistics(&random, [dims[1]])
            let epsilon: Float = trial == 0 ? 1e-5 : 0.01
            let names = ["scale", "B", "mean", "var"]
            let y = try runNode("BatchNormalization", inputs: [("X", x)] + zip(names, stats).map { ($0, $1) },
                                constants: trial % 2 == 0 ? Set(names) : [],
                                attributes: ["epsilon": .float(epsilon)], opset: [9, 15, 14, 7][trial], threads: 2)
            assertClose(y[0], batchNorm(x, stats, epsilon: Double(epsilon), perPosition: false), "BN \(dims)")
        }
    }

    /// Opset 7's `spatial = 0`: one statistic per channel and position.
    func testBatchNormalizationPerPosition() throws {
        var random = SeededRandom(32)
        let x = random.tensor([2, 3, 2, 2])
        let stats = statistics(&random, [3, 2, 2])
        let names = ["scale", "B", "mean", "var"]
        for constants in [Set(names), []] {
            let y = try runNode("BatchNormalization", inputs: [("X", x)] + zip(names, stats).map { ($0, $1) },
                                constants: constants, attributes: ["spatial": .int(0)], opset: 7)
            assertClose(y[0], batchNorm(x, stats, epsilon: 1e-5, perPosition: true), "spatial 0")
        }
    }

    /// Training mode: the batch's own statistics, and running ones blended with momentum.
    func testBatchNormalizationTrainingMode() throws {
        var random = SeededRandom(36)
        let x = random.tensor([2, 3, 2, 3])
        let stats = statistics(&random, [3])
        let names = ["scale", "B", "mean", "var"]
        let y = try runNode("BatchNormalization", inputs: [("X", x)] + zip(names, stats).map { ($0, $1) },
                            attributes: ["training_mode": .int(1), "momentum": .float(0.8), "epsilon": .float(0.01)],
                            outputs: 3, opset: 15)
        let values = x.floats, plane = 6
        var mean = [Float](), variance = [Float]()
        for c in 0..<3 {
            let channel = (0..<2).flatMap { n in (0..<plane).map { Double(values[(n * 3 + c) * plane + $0]) } }
            let m = channel.reduce(0, +) / Double(channel.count)
            mean.append(Float(m))
            variance.append(Float(channel.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(channel.count)))
        }
        let batchStats = [stats[0], stats[1], Tensor([3], floats: mean), Tensor([3], floats: variance)]
        assertClose(y[0], batchNorm(x, batchStats, epsilon: 0.01, perPosition: false), "Y")
        assertClose(y[1], Tensor([3], floats: zip(stats[2].floats, mean).map { $0 * 0.8 + $1 * 0.2 }), "running mean")
        assertClose(y[2], Tensor([3], floats: zip(stats[3].floats, variance).map { $0 * 0.8 + $1 * 0.2 }), "running var")
    }

    func testBatchNormalizationRefusals() {
        var random = SeededRandom(33)
        let x = random.tensor([1, 3, 2, 2])
        let names = ["scale", "B", "mean", "var"]
        assertRefused("statistics") {
            _ = try runNode("BatchNormalization", inputs: [("X", x)] + zip(names, statistics(&random, [4])).map { ($0, $1) })
        }
    }

    func testInstanceNormalization() throws {
        var random = SeededRandom(34)
        for dims in [[2, 3, 4, 5], [1, 2, 9], [1, 1, 2, 2, 3]] {
            let x = random.tensor(dims)
            let scale = random.tensor([dims[1]]), shift = random.tensor([dims[1]])
            let y = try runNode("InstanceNormalization", inputs: [("input", x), ("scale", scale), ("B", shift)],
                                attributes: ["epsilon": .float(0.01)], threads: 2)
            let values = x.floats, plane = x.elementCount / (dims[0] * dims[1])
            var expected = [Float](repeating: 0, count: values.count)
            for p in 0..<(dims[0] * dims[1]) {
                let slice = values[(p * plane)..<((p + 1) * plane)].map(Double.init)
                let mean = slice.reduce(0, +) / Double(plane)
                let variance = slice.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(plane)
                for i in 0..<plane {
                    let c = p % dims[1]
                    let normalized = (slice[i] - mean) / (variance + 0.01).squareRoot()
                    expected[p * plane + i] = Float(Double(scale.floats[c]) * normalized + Double(shift.floats[c]))
                }
            }
            assertClose(y[0], Tensor(x.shape, floats: expected), "IN \(dims)")
        }
    }

    /// Rows of the dims from `axis` against the formula in Double, with Scale
    /// and B broadcast from fewer dims, and the Mean and InvStdDev outputs.
    func testLayerNormalization() throws {
        var random = SeededRandom(37)
        for (dims, axis, scaleDims, withBias) in [([2, 3, 8], -1, [8], true), ([2, 3, 4, 5], 2, [1, 5], false),
                                                  ([3, 70], 0, [70], true), ([2, 3, 4], 1, [4], true)] {
            let x = random.tensor(dims)
            let scale = random.tensor(scaleDims), shift = random.tensor(scaleDims)
            let inputs: [(String, Tensor?)] = [("X", x), ("Scale", scale), ("B", withBias ? shift : nil)]
            let y = try runNode("LayerNormalization", inputs: inputs,
                                attributes: ["axis": .int(axis), "epsilon": .float(0.01)], outputs: 3, threads: 2)
            let a = axis < 0 ? axis + dims.count : axis
            let length = dims[a...].reduce(1, *), rows = x.elementCount / length
            let values = x.floats
            var expected = [Float](), means = [Float](), inverses = [Float]()
            for r in 0..<rows {
                let row = values[(r * length)..<((r + 1) * length)].map(Double.init)
                let mean = row.reduce(0, +) / Double(length)
                let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(length)
                let inverse = 1 / (variance + 0.01).squareRoot()
                means.append(Float(mean))
                inverses.append(Float(inverse))
                for i in 0..<length {
                    // Scale and B repeat every scaleDims.last elements (their leading dims are 1).
                    let j = i % scale.elementCount
                    let b = withBias ? Double(shift.floats[j]) : 0
                    expected.append(Float((row[i] - mean) * inverse * Double(scale.floats[j]) + b))
                }
            }
            let statistics = Shape(Array(dims[..<a]) + [Int](repeating: 1, count: dims.count - a))
            assertClose(y[0], Tensor(x.shape, floats: expected), "LN Y \(dims) axis \(axis)")
            assertClose(y[1], Tensor(statistics, floats: means), "LN Mean \(dims) axis \(axis)")
            assertClose(y[2], Tensor(statistics, floats: inverses), "LN InvStdDev \(dims) axis \(axis)")
        }
    }

    func testLayerNormalizationRefusals() {
        var random = SeededRandom(38)
        let x = random.tensor([2, 3, 4])
        assertRefused("stash_type 11") {
            _ = try runNode("LayerNormalization", inputs: [("X", x), ("Scale", random.tensor([4]))],
                            attributes: ["stash_type": .int(11)])
        }
        assertRefused("Scale [3] does not broadcast to the normalized shape [4]") {
            _ = try runNode("LayerNormalization", inputs: [("X", x), ("Scale", random.tensor([3]))])
        }
        assertRefused("axis 3 is out of range") {
            _ = try runNode("LayerNormalization", inputs: [("X", x), ("Scale", random.tensor([4]))], attributes: ["axis": .int(3)])
        }
        assertRefused("only float32") {
            _ = try runNode("LayerNormalization", inputs: [("X", Tensor(.double, [2], [1.0, 2.0])), ("Scale", random.tensor([2]))])
        }
    }

    func testLRN() throws {
        var random = SeededRandom(35)
        for (size, beta, dims) in [(5, Float(0.75), [2, 7, 3, 3]), (2, Float(0.6), [1, 4, 5]), (3, Float(1), [1, 2, 2, 2])] {
            let x = random.tensor(dims)
            let alpha: Float = 0.3, bias: Float = 1.5
            let y = try runNode("LRN", inputs: [("X", x)],
                                attributes: ["size": .int(size), "alpha": .float(alpha), "beta": .float(beta),
                                             "bias": .float(bias)], threads: 2)
            let values = x.floats, channels = dims[1], plane = x.elementCount / (dims[0] * channels)
            let expected = values.indices.map { i -> Float in
                let c = (i / plane) % channels, base = i - c * plane
                let low = Swift.max(0, c - (size - 1) / 2), high = Swift.min(channels - 1, c + (size - 1) - (size - 1) / 2)
                let sum = (low...high).map { Double(values[base + $0 * plane]) * Double(values[base + $0 * plane]) }.reduce(0, +)
                return Float(Double(values[i]) / pow(Double(bias) + Double(alpha) / Double(size) * sum, Double(beta)))
            }
            assertClose(y[0], Tensor(x.shape, floats: expected), "LRN size \(size) β \(beta)")
        }
        assertRefused("size") { _ = try runNode("LRN", inputs: [("X", random.tensor([1, 2, 2]))]) }
    }
}
