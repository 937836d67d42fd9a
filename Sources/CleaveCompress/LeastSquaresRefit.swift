import CleaveIR

/// Refits the weights of layers that lost input channels: on calibration
/// data, the weights W′ over the remaining inputs that best reproduce the
/// layer's original response z = y − bias,
///
///     W′ = argmin Σ‖z − W′·x_S‖²  =  (Σ z·x_Sᵀ)(Σ x_S·x_Sᵀ)⁻¹,
///
/// with x_S the kept inputs (for a Conv, the im2col columns of the kept
/// channels). Activations come from the unpruned graph, so each layer is fit
/// independently of the others.
enum LeastSquaresRefit {
    struct Layer {
        /// Index of a Conv (group 1, 2-D) or of a Gemm/MatMul reading a flattened tensor.
        var node: Int
        /// Kept input channels.
        var inputKept: [Int]
        /// For Gemm/MatMul: features per channel of the flattened input.
        var block: Int?
        /// Kept output channels, when the layer's own filters are pruned too.
        var outputKept: [Int]?
    }

    /// Accumulated normal equations of one layer.
    private struct Equations {
        var features: Int
        var outputs: Int
        var gram: [Double]
        var rhs: [Double]
    }

    /// New weight tensors by node index, in the node's own layout (Conv
    /// [N′, C′, kH, kW]; Gemm B as transB says, scaled by 1/alpha; MatMul [F′, N]).
    /// Layers whose shape is not handled (3-D convolutions, dilated pooling…) are left out and only sliced.
    static func fit(_ layers: [Layer], graph: Graph, constants: [String: Tensor], analysis: Analysis,
                    calibration: [[String: Tensor]], threads: Int?) throws -> [Int: Tensor] {
        var plans: [(Layer, Plan)] = []
        for layer in layers {
            if let plan = try Plan(layer, graph.nodes[layer.node], constants: constants, analysis: analysis) {
                plans.append((layer, plan))
            }
        }
        guard !plans.isEmpty else { return [:] }
        var equations = plans.map { _, plan in
            Equations(features: plan.features, outputs: plan.outputs.count,
                      gram: [Double](repeating: 0, count: plan.features * plan.features),
                      rhs: [Double](repeating: 0, count: plan.features * plan.outputs.count))
        }
        var recorded: [String] = []
        for (_, plan) in plans { recorded += [plan.input, plan.output] }
        try Activations.forEach(graph: graph, recording: recorded, inputs: calibration, threads: threads) { _, values in
            for (i, (_, plan)) in plans.enumerated() {
                guard let x = values[plan.input], let y = values[plan.output] else { continue }
                try plan.accumulate(x: x, y: y, into: &equations[i])
            }
        }
        var result: [Int: Tensor] = [:]
        for (i, (layer, plan)) in plans.enumerated() {
            let e = equations[i]
            let solution = try LinearAlgebra.solveNormalEquations(gram: e.gram, n: e.features, rhs: e.rhs, count: e.outputs)
            result[layer.node] = plan.tensor(from: solution)
        }
        return result
    }

    /// How one layer's samples are formed.
    private struct Plan {
        enum Kind {
            case conv(geometry: WindowGeometry, kernel: [Int])
            case linear(transB: Bool, alpha: Float, isGemm: Bool)
        }
        let kind: Kind
        let input: String
        let output: String
        let inputKept: [Int]
        let block: Int
        let outputs: [Int]
        let features: Int
        /// Per output channel of the original layer, the bias part of y (subtracted to get z).
        let bias: [Float]
        /// Gemm's C when it differs per row: [rows × N].
        let rowBias: (rows: Int, values: [Float])?
        let totalOutputs: Int

        init?(_ layer: Layer, _ node: Node, constants: [String: Tensor], analysis: Analysis) throws {
            guard let x = node.input(0), let y = node.outputs.first, let xType = analysis.types[x],
                  let w = node.input(1).flatMap({ constants[$0] }) else { return nil }
            input = x
            output = y
            inputKept = layer.inputKept
            var rowBias: (Int, [Float])?
            switch node.op {
            case .conv?:
                guard w.shape.rank == 4, xType.shape.rank == 4, (node.int("group") ?? 1) == 1 else { return nil }
                let kernel = Array(w.shape.dims.suffix(2))
                kind = .conv(geometry: try WindowGeometry(node: node, input: Array(xType.shape.dims.suffix(2)), kernel: kernel),
                             kernel: kernel)
                block = kernel[0] * kernel[1]
                totalOutputs = w.shape[0]
                bias = node.input(2).flatMap { constants[$0]?.floats } ?? [Float](repeating: 0, count: totalOutputs)
            case .gemm?, .matMul?:
                guard w.shape.rank == 2, let blockSize = layer.block else { return nil }
                let isGemm = node.op == .gemm
                let transB = isGemm && (node.int("transB") ?? 0) != 0
                kind = .linear(transB: transB, alpha: isGemm ? (node.float("alpha") ?? 1) : 1, isGemm: isGemm)
                block = blockSize
                totalOutputs = transB ? w.shape[0] : w.shape[1]
                var columnBias = [Float](repeating: 0, count: transB ? w.shape[0] : w.shape[1])
                if isGemm, let c = node.input(2).flatMap({ constants[$0] }) {
                    let beta = node.float("beta") ?? 1
                    let values = c.floats.map { $0 * beta }
                    let columns = c.shape.dims.last ?? 1
                    if c.shape.rank == 2 && c.shape[0] > 1 {
                        let n = w.shape[transB ? 0 : 1]
                        rowBias = (c.shape[0], (0..<(c.shape[0] * n)).map { values[($0 / n) * columns + (columns == 1 ? 0 : $0 % n)] })
                    } else {
                        columnBias = (0..<columnBias.count).map { values[columns == 1 ? 0 : $0] }
                    }
                }
                bias = columnBias
            default:
                return nil
            }
            self.rowBias = rowBias
            outputs = layer.outputKept ?? Array(0..<totalOutputs)
            features = inputKept.count * block
        }

        func accumulate(x: Tensor, y: Tensor, into e: inout Equations) throws {
            guard x.dtype == .float, y.dtype == .float else { throw CleaveError.badInput("'\(input)': refit needs float32 activations") }
            switch kind {
            case .conv(let geometry, let kernel):
                try accumulateConv(x: x, y: y, geometry: geometry, kernel: kernel, into: &e)
            case .linear:
                try accumulateLinear(x: x, y: y, into: &e)
            }
        }

        /// Samples are output pixels; features the kept channels' im2col rows.
        private func accumulateConv(x: Tensor, y: Tensor, geometry: WindowGeometry, kernel: [Int], into e: inout Equations) throws {
            let (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
            let (oh, ow) = (geometry.output[0], geometry.output[1])
            guard y.shape.dims == [batch, totalOutputs, oh, ow] else {
                throw CleaveError.badInput("'\(output)': refit expected [\(batch), \(totalOutputs), \(oh), \(ow)], got \(y.shape)")
            }
            let positions = oh * ow
            var columns = [Float](repeating: 0, count: features * positions)
            var targets = [Float](repeating: 0, count: outputs.count * positions)
            x.withUnsafeBufferPointer(as: Float.self) { xs in
                y.withUnsafeBufferPointer(as: Float.self) { ys in
                    for b in 0..<batch {
                        for (ci, c) in inputKept.enumerated() {
                            let plane = (b * channels + c) * height * width
                            for ky in 0..<kernel[0] {
                                for kx in 0..<kernel[1] {
                                    let row = (ci * kernel[0] + ky) * kernel[1] + kx
                                    for oy in 0..<oh {
                                        let iy = oy * geometry.strides[0] - geometry.padsBegin[0] + ky * geometry.dilations[0]
                                        for ox in 0..<ow {
                                            let ix = ox * geometry.strides[1] - geometry.padsBegin[1] + kx * geometry.dilations[1]
                                            let inside = iy >= 0 && iy < height && ix >= 0 && ix < width
                                            columns[row * positions + oy * ow + ox] = inside ? xs[plane + iy * width + ix] : 0
                                        }
                                    }
                                }
                            }
                        }
                        for (oi, o) in outputs.enumerated() {
                            let source = (b * totalOutputs + o) * positions
                            for p in 0..<positions { targets[oi * positions + p] = ys[source + p] - bias[o] }
                        }
                        add(columns: columns, targets: targets, samples: positions, samplesInRows: false, into: &e)
                    }
                }
            }
        }

        /// Samples are rows of the flattened input; features the kept channels' blocks.
        private func accumulateLinear(x: Tensor, y: Tensor, into e: inout Equations) throws {
            guard x.shape.rank == 2, y.shape.rank == 2, y.shape[1] == totalOutputs, x.shape[0] == y.shape[0] else {
                throw CleaveError.badInput("'\(output)': refit expected a [rows, \(totalOutputs)] output, got \(y.shape)")
            }
            let rows = x.shape[0], width = x.shape[1]
            var columns = [Float](repeating: 0, count: rows * features)
            var targets = [Float](repeating: 0, count: rows * outputs.count)
            x.withUnsafeBufferPointer(as: Float.self) { xs in
                y.withUnsafeBufferPointer(as: Float.self) { ys in
                    for r in 0..<rows {
                        var f = 0
                        for c in inputKept {
                            for j in 0..<block {
                                columns[r * features + f] = xs[r * width + c * block + j]
                                f += 1
                            }
                        }
                        for (oi, o) in outputs.enumerated() {
                            let b = rowBias.map { $0.values[(r % $0.rows) * totalOutputs + o] } ?? bias[o]
                            targets[r * outputs.count + oi] = ys[r * totalOutputs + o] - b
                        }
                    }
                }
            }
            add(columns: columns, targets: targets, samples: rows, samplesInRows: true, into: &e)
        }

        /// Adds one batch: features F (columns) and targets N′, either as
        /// F×S and N′×S (samples along rows of memory) or S×F and S×N′.
        private func add(columns: [Float], targets: [Float], samples: Int, samplesInRows: Bool, into e: inout Equations) {
            LinearAlgebra.accumulateGram(columns, n: features, k: samples, transposed: samplesInRows,
                                         ld: samplesInRows ? features : samples, into: &e.gram)
            // rhs (N′×F) += Z·Xᵀ
            let product = samplesInRows
                ? LowRankFactors.product(transA: true, m: outputs.count, n: features, k: samples, targets, columns)
                : LowRankFactors.product(transB: true, m: outputs.count, n: features, k: samples, targets, columns)
            for i in 0..<product.count { e.rhs[i] += Double(product[i]) }
        }

        /// The solved N′×F weights in the layer's layout.
        func tensor(from solution: [Double]) -> Tensor {
            let n = outputs.count
            switch kind {
            case .conv(_, let kernel):
                return Tensor(Shape([n, inputKept.count] + kernel), floats: solution.map { Float($0) })
            case .linear(let transB, let alpha, let isGemm):
                let scale = Double(alpha == 0 ? 1 : alpha)
                if isGemm && transB { return Tensor([n, features], floats: solution.map { Float($0 / scale) }) }
                var t = [Float](repeating: 0, count: n * features)
                for i in 0..<n { for f in 0..<features { t[f * n + i] = Float(solution[i * features + f] / scale) } }
                return Tensor([features, n], floats: t)
            }
        }
    }
}
