import CleaveIR

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// BatchNormalization, opsets 7–15: `y = scale·(x − mean)/√(var + ε) + B`,
/// folded to `y = a·x + b` per channel (per element of `[C, spatial…]` for
/// opset 7–8's `spatial = 0`). The fold happens once at build time when the
/// statistics are constants.
///
/// With `training_mode = 1` (opset 14+) the batch's own mean and (population)
/// variance normalise it, and the optional outputs are the running statistics
/// `input·momentum + batch·(1 − momentum)`. Older opsets' training outputs
/// (chosen there by the number of outputs) are not produced: only Y.
final class BatchNormalizationKernel: Kernel {
    private let setup: KernelSetup
    private let epsilon: Float
    private let momentum: Float
    /// Opset 7–8: false means one statistic per (channel, spatial position).
    private let spatial: Bool
    private let training: Bool
    /// `(a, b)` when all four statistics were constants (and not training).
    private let folded: (scale: [Float], shift: [Float])?

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        epsilon = setup.node.float("epsilon") ?? 1e-5
        momentum = setup.node.float("momentum") ?? 0.9
        spatial = setup.opset >= 9 || (setup.node.int("spatial") ?? 1) != 0
        training = setup.opset >= 14 && (setup.node.int("training_mode") ?? 0) != 0
        let statistics = (1...4).map { setup.constantInput($0) }
        if !training, statistics.allSatisfy({ $0?.dtype == .float }) {
            folded = try BatchNormalizationKernel.fold(statistics.compactMap { $0 }, epsilon: epsilon, setup)
        } else {
            folded = nil
        }
    }

    /// Per-unit `a = scale/√(var + ε)` and `b = B − mean·a`.
    private static func fold(_ statistics: [Tensor], epsilon: Float, _ setup: KernelSetup) throws
        -> (scale: [Float], shift: [Float]) {
        let count = statistics[0].elementCount
        let names = ["scale", "B", "mean", "var"]
        for (tensor, name) in zip(statistics, names) where tensor.elementCount != count {
            throw setup.error("\(name) has shape \(tensor.shape), expected \(count) values like scale")
        }
        let scale = statistics[0].floats, shift = statistics[1].floats
        let mean = statistics[2].floats, variance = statistics[3].floats
        var a = [Float](repeating: 0, count: count), b = [Float](repeating: 0, count: count)
        for i in 0..<count {
            a[i] = scale[i] / (variance[i] + epsilon).squareRoot()
            b[i] = shift[i] - mean[i] * a[i]
        }
        return (a, b)
    }

    /// Mean and population variance of each channel over batch and positions, summed in Double.
    private static func batchStatistics(_ x: Tensor, _ context: KernelContext) -> (mean: [Float], variance: [Float]) {
        let batch = x.shape[0], channels = x.shape[1], plane = x.elementCount / Swift.max(1, batch * channels)
        var mean = [Float](repeating: 0, count: channels), variance = [Float](repeating: 0, count: channels)
        let count = Double(batch * plane)
        x.withUnsafeBufferPointer(as: Float.self) { xb in
            mean.withUnsafeMutableBufferPointer { mb in
                variance.withUnsafeMutableBufferPointer { vb in
                    guard let xp = xb.baseAddress, count > 0 else { return }
                    context.parallelFor(channels, itemWork: batch * plane) { range in
                        for c in range {
                            var sum = 0.0
                            for n in 0..<batch {
                                let source = xp + (n * channels + c) * plane
                                for i in 0..<plane { sum += Double(source[i]) }
                            }
                            let average = sum / count
                            var squares = 0.0
                            for n in 0..<batch {
                                let source = xp + (n * channels + c) * plane
                                for i in 0..<plane { squares += (Double(source[i]) - average) * (Double(source[i]) - average) }
                            }
                            mb[c] = Float(average)
                            vb[c] = Float(squares / count)
                        }
                    }
                }
            }
        }
        return (mean, variance)
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let x = try setup.float32Input(inputs, 0, "X")
        guard x.shape.rank >= 2 else { throw setup.error("input X has shape \(x.shape), expected [N, C, …]") }
        let (a, b): ([Float], [Float])
        var running: [Tensor] = []
        if let folded {
            (a, b) = folded
        } else {
            var statistics = try zip(1...4, ["scale", "B", "mean", "var"]).map { try setup.float32Input(inputs, $0, $1) }
            if training {
                guard statistics.allSatisfy({ $0.elementCount == x.shape[1] }) else {
                    throw setup.error("scale, B, mean and var must have \(x.shape[1]) values for X \(x.shape)")
                }
                let current = BatchNormalizationKernel.batchStatistics(x, context)
                let keep = momentum
                for (given, now) in [(statistics[2].floats, current.mean), (statistics[3].floats, current.variance)] {
                    running.append(Tensor(statistics[2].shape, floats: zip(given, now).map { $0 * keep + $1 * (1 - keep) }))
                }
                statistics[2] = Tensor(statistics[2].shape, floats: current.mean)
                statistics[3] = Tensor(statistics[3].shape, floats: current.variance)
            }
            (a, b) = try BatchNormalizationKernel.fold(statistics, epsilon: epsilon, setup)
        }
        let batch = x.shape[0], channels = x.shape[1]
        let plane = x.shape.dims[2...].reduce(1, *)
        // One statistic per channel, or (spatial = 0) one per channel and position.
        let perPosition = !spatial && a.count == channels * plane && plane > 1
        guard a.count == channels || perPosition else {
            let expected = spatial ? "[\(channels)]" : "[\(channels)] or \(Array(x.shape.dims[1...]))"
            throw setup.error("statistics have \(a.count) values, expected \(expected) for X \(x.shape)")
        }
        let y = Tensor.uninitialized(.float, x.shape)
        x.withUnsafeBufferPointer(as: Float.self) { xb in
            y.withUnsafeMutableBufferPointer(as: Float.self) { yb in
                a.withUnsafeBufferPointer { ab in
                    b.withUnsafeBufferPointer { bb in
                        guard let xp = xb.baseAddress, let yp = yb.baseAddress,
                              let ap = ab.baseAddress, let bp = bb.baseAddress else { return }
                        context.parallelFor(batch * channels, itemWork: plane) { range in
                            for index in range {
                                let c = index % channels
                                let source = xp + index * plane, destination = yp + index * plane
                                if perPosition {
                                    let scales = ap + c * plane, shifts = bp + c * plane
                                    for i in 0..<plane { destination[i] = source[i] * scales[i] + shifts[i] }
                                } else {
                                    let scale = ap[c], shift = bp[c]
                                    for i in 0..<plane { destination[i] = source[i] * scale + shift }
                                }
                            }
                        }
                    }
                }
            }
        }
        return [y] + running.prefix(Swift.max(0, setup.node.outputs.count - 1))
    }
}

/// InstanceNormalization, opsets 6–22: each (sample, channel) plane is
/// normalised by its own mean and (population) variance, then scaled and
/// shifted per channel. Sums are taken in Double so long planes lose nothing.
final class InstanceNormalizationKernel: Kernel {
    private let setup: KernelSetup
    private let epsilon: Double

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        epsilon = Double(setup.node.float("epsilon") ?? 1e-5)
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let x = try setup.float32Input(inputs, 0, "input")
        let scale = try setup.float32Input(inputs, 1, "scale")
        let shift = try setup.float32Input(inputs, 2, "B")
        guard x.shape.rank >= 3 else {
            throw setup.error("input has shape \(x.shape), expected [N, C, spatial…] with at least one spatial dim")
        }
        let batch = x.shape[0], channels = x.shape[1]
        guard scale.elementCount == channels, shift.elementCount == channels else {
            throw setup.error("scale \(scale.shape) and B \(shift.shape) must have \(channels) values for input \(x.shape)")
        }
        let plane = x.shape.dims[2...].reduce(1, *)
        let y = Tensor.uninitialized(.float, x.shape)
        x.withUnsafeBufferPointer(as: Float.self) { xb in
            y.withUnsafeMutableBufferPointer(as: Float.self) { yb in
                scale.withUnsafeBufferPointer(as: Float.self) { sb in
                    shift.withUnsafeBufferPointer(as: Float.self) { bb in
                        guard let xp = xb.baseAddress, let yp = yb.baseAddress,
                              let sp = sb.baseAddress, let bp = bb.baseAddress else { return }
                        context.parallelFor(batch * channels, itemWork: plane) { range in
                            for index in range {
                                let c = index % channels
                                let source = xp + index * plane, destination = yp + index * plane
                                let (mean, inverse) = meanAndInverseDeviation(source, plane, epsilon: epsilon)
                                let a = Float(Double(sp[c]) * inverse)
                                let b = Float(Double(bp[c]) - mean * Double(sp[c]) * inverse)
                                for i in 0..<plane { destination[i] = source[i] * a + b }
                            }
                        }
                    }
                }
            }
        }
        return [y]
    }
}

/// The mean of `count` floats and 1/√(population variance + epsilon), summed
/// in Double in two passes (Instance- and LayerNormalization alike).
@inline(__always)
private func meanAndInverseDeviation(_ x: UnsafePointer<Float>, _ count: Int, epsilon: Double) -> (mean: Double, inverse: Double) {
    var sum = 0.0
    for i in 0..<count { sum += Double(x[i]) }
    let mean = sum / Double(count)
    var squares = 0.0
    for i in 0..<count {
        let d = Double(x[i]) - mean
        squares += d * d
    }
    return (mean, 1 / (squares / Double(count) + epsilon).squareRoot())
}

/// LayerNormalization, opset 17: each row of the trailing dims from `axis`
/// (default −1) is normalised by its own mean and (population) variance,
/// `Y = (X − Mean)·InvStdDev·Scale + B`, with Scale and the optional B
/// broadcast one way to those dims. The optional outputs Mean and InvStdDev
/// have X's dims before `axis` and 1 after.
///
/// The statistics are summed in Double (as InstanceNormalization's) and
/// stored as float32: `stash_type` 1, the only one ONNX Runtime runs; any
/// other is refused when the kernel is built.
/// Complexity: three passes over each row, rows split across threads.
final class LayerNormalizationKernel: Kernel {
    private let setup: KernelSetup
    private let axisAttribute: Int
    private let epsilon: Double

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        axisAttribute = setup.node.int("axis") ?? -1
        epsilon = Double(setup.node.float("epsilon") ?? 1e-5)
        let stash = setup.node.int("stash_type") ?? 1
        guard stash == Int(DType.float.rawValue) else {
            throw setup.error("stash_type \(stash) is not supported (only 1, float32 statistics)")
        }
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let x = try setup.float32Input(inputs, 0, "X")
        let rank = x.shape.rank
        let axis = try setup.axis(axisAttribute, rank: rank)
        let normalized = Array(x.shape.dims[axis...])
        let scale = try broadcastToRow(try setup.float32Input(inputs, 1, "Scale"), normalized, "Scale", context)
        let shift = try setup.optionalFloat32Input(inputs, 2, "B").map { try broadcastToRow($0, normalized, "B", context) }
        let length = normalized.reduce(1, *)
        let rows = x.shape.dims[..<axis].reduce(1, *)
        let statisticsShape = Shape(Array(x.shape.dims[..<axis]) + [Int](repeating: 1, count: rank - axis))
        let y = Tensor.uninitialized(.float, x.shape)
        let mean = Tensor(statisticsShape, floats: [Float](repeating: .nan, count: rows))
        let inverseDeviation = Tensor(statisticsShape, floats: [Float](repeating: .nan, count: rows))
        let outputs = Array([y, mean, inverseDeviation].prefix(Swift.max(1, setup.node.outputs.count)))
        // An empty row has no mean: its statistics stay NaN.
        guard length > 0, let xp = x.rawBytes?.assumingMemoryBound(to: Float.self),
              let yp = y.mutableRawBytes?.assumingMemoryBound(to: Float.self),
              let mp = mean.mutableRawBytes?.assumingMemoryBound(to: Float.self),
              let ip = inverseDeviation.mutableRawBytes?.assumingMemoryBound(to: Float.self),
              let sp = scale.rawBytes?.assumingMemoryBound(to: Float.self) else { return outputs }
        let bp = shift?.rawBytes?.assumingMemoryBound(to: Float.self)
        let epsilon = self.epsilon
        context.parallelFor(rows, itemWork: 3 * length) { range in
            for row in range {
                let source = xp + row * length, destination = yp + row * length
                let (average, inverse) = meanAndInverseDeviation(source, length, epsilon: epsilon)
                let m = Float(average), r = Float(inverse)
                mp[row] = m
                ip[row] = r
                if let bp {
                    for i in 0..<length { destination[i] = (source[i] - m) * r * sp[i] + bp[i] }
                } else {
                    for i in 0..<length { destination[i] = (source[i] - m) * r * sp[i] }
                }
            }
        }
        return withExtendedLifetime((x, scale, shift)) { outputs }
    }

    /// `tensor` broadcast one way to `dims` (right-aligned; each of its dims 1
    /// or equal), as a contiguous float32 tensor of `dims`' element count.
    private func broadcastToRow(_ tensor: Tensor, _ dims: [Int], _ what: String, _ context: KernelContext) throws -> Tensor {
        let own = tensor.shape.dims
        let offset = dims.count - own.count
        guard offset >= 0, own.indices.allSatisfy({ own[$0] == 1 || own[$0] == dims[$0 + offset] }) else {
            throw setup.error("\(what) \(tensor.shape) does not broadcast to the normalized shape \(Shape(dims))")
        }
        if own.reduce(1, *) == dims.reduce(1, *) { return tensor }
        let ownStrides = tensor.shape.strides
        let strides = dims.indices.map { axis -> Int in
            let i = axis - offset
            return i < 0 || own[i] == 1 ? 0 : ownStrides[i]
        }
        let row = Tensor.uninitialized(.float, Shape(dims))
        if let source = tensor.rawBytes, let target = row.mutableRawBytes {
            StridedView(dims: dims, strides: strides, offset: 0).copy(from: source, to: target, elementSize: 4, context)
        }
        return row
    }
}

/// LRN (local response normalisation across channels), opsets 1–13:
/// `y = x / (bias + alpha/size · Σ x²)^beta`, the sum over channels
/// `c − ⌊(size−1)/2⌋ … c + ⌈(size−1)/2⌉` clipped to the valid range.
final class LRNKernel: Kernel {
    private let setup: KernelSetup
    private let alpha, beta, bias: Float
    private let size: Int

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        alpha = setup.node.float("alpha") ?? 1e-4
        beta = setup.node.float("beta") ?? 0.75
        bias = setup.node.float("bias") ?? 1
        guard let size = setup.node.int("size"), size >= 1 else {
            throw setup.error("attribute size is required and must be positive")
        }
        self.size = size
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let x = try setup.float32Input(inputs, 0, "X")
        guard x.shape.rank >= 2 else { throw setup.error("input X has shape \(x.shape), expected [N, C, …]") }
        let batch = x.shape[0], channels = x.shape[1]
        let plane = x.shape.dims[2...].reduce(1, *)
        let below = (size - 1) / 2, above = size - 1 - below
        let ratio = alpha / Float(size), bias = self.bias, beta = self.beta
        let y = Tensor.uninitialized(.float, x.shape)
        x.withUnsafeBufferPointer(as: Float.self) { xb in
            y.withUnsafeMutableBufferPointer(as: Float.self) { yb in
                guard let xp = xb.baseAddress, let yp = yb.baseAddress else { return }
                context.parallelFor(batch * channels, itemWork: plane * size) { range in
                    for index in range {
                        let n = index / channels, c = index % channels
                        let destination = yp + index * plane
                        // The output plane first holds the sum of squares, then the result.
                        destination.update(repeating: 0, count: plane)
                        for neighbour in Swift.max(0, c - below)...Swift.min(channels - 1, c + above) {
                            let source = xp + (n * channels + neighbour) * plane
                            for i in 0..<plane { destination[i] += source[i] * source[i] }
                        }
                        let source = xp + index * plane
                        if beta == 0.75 {
                            // v^0.75 = √v·√√v: two square roots instead of a pow per element.
                            for i in 0..<plane {
                                let root = (bias + ratio * destination[i]).squareRoot()
                                destination[i] = source[i] / (root * root.squareRoot())
                            }
                        } else {
                            for i in 0..<plane { destination[i] = source[i] / powf(bias + ratio * destination[i], beta) }
                        }
                    }
                }
            }
        }
        return [y]
    }
}
