import CleaveIR

/// Folds inference-mode BatchNormalization into the Conv, ConvTranspose or
/// Gemm that feeds it:
///
///     s = γ / √(var + ε)      W′ = W · s (per output channel)      b′ = (b − mean) · s + β
///
/// exact up to float rounding (computed in double, rounded once). The producer
/// then writes the BatchNormalization's output tensor, so everything
/// downstream, and the tensor names a report or cut refers to, are unchanged.
///
/// A BatchNormalization is left alone when its input has other readers or is
/// a graph output, when it runs in training mode or with `spatial = 0`, or
/// when the producer's weights are not float32 constants.
enum BatchNormFolding {
    static func apply(_ editor: inout GraphEditor, analysis: Analysis) throws -> [LayerReport] {
        var reports: [LayerReport] = []
        let producers = editor.graph.producers
        let consumers = editor.consumers
        var removed = Set<Int>()
        for (index, bn) in editor.graph.nodes.enumerated() where bn.op == .batchNormalization {
            guard bn.outputs.count == 1 || bn.outputs.dropFirst().allSatisfy(\.isEmpty),
                  (bn.int("training_mode") ?? 0) == 0, (bn.int("spatial") ?? 1) != 0,
                  let x = bn.input(0), let p = producers[x], !removed.contains(p),
                  consumers[x] == [index], !editor.isGraphOutput(x),
                  let gamma = editor.floatConstant(bn.input(1)), let beta = editor.floatConstant(bn.input(2)),
                  let mean = editor.floatConstant(bn.input(3)), let variance = editor.floatConstant(bn.input(4))
            else { continue }
            let producer = editor.graph.nodes[p]
            let channels = gamma.elementCount
            guard [beta, mean, variance].allSatisfy({ $0.elementCount == channels }) else { continue }
            let epsilon = Double(bn.float("epsilon") ?? 1e-5)
            let g = gamma.floats, bt = beta.floats, mu = mean.floats, v = variance.floats
            let scale = (0..<channels).map { Double(g[$0]) / (Double(v[$0]) + epsilon).squareRoot() }
            let shift = (0..<channels).map { Double(bt[$0]) - Double(mu[$0]) * scale[$0] }

            let folded: Node?
            switch producer.op {
            case .conv?, .convTranspose?:
                folded = foldConv(producer, scale: scale, shift: shift, &editor)
            case .gemm?:
                folded = foldGemm(producer, scale: scale, shift: shift, analysis: analysis, &editor)
            default:
                folded = nil
            }
            guard var node = folded, let output = bn.outputs.first else { continue }
            node.outputs[0] = output
            editor.graph.nodes[p] = node
            removed.insert(index)
            let macs = analysis.costs[p].macs
            let elements = analysis.types[output]?.shape.elementCount ?? 0
            reports.append(LayerReport(
                node: LayerSelection.name(of: bn), kind: .batchNormFolded, method: "fold",
                channels: channels, macsBefore: macs + analysis.costs[index].macs, macsAfter: macs,
                outputElementsBefore: elements, outputElementsAfter: elements, probe: output))
        }
        editor.graph.nodes = editor.graph.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
        return reports
    }

    /// Conv W [N, C/g, k…] scales per row; ConvTranspose W [C, N/g, k…]
    /// scales output channel g·(N/g)+j at [c, j] for c in group g.
    private static func foldConv(_ node: Node, scale: [Double], shift: [Double], _ editor: inout GraphEditor) -> Node? {
        guard let weight = editor.floatConstant(node.input(1)), weight.shape.rank >= 3 else { return nil }
        let bias = node.input(2).map { editor.floatConstant($0) }
        if case .some(nil) = bias { return nil }  // a bias that is not a float constant
        let channels = scale.count
        let group = node.int("group") ?? 1
        let isTranspose = node.op == .convTranspose
        let outputChannels = isTranspose ? weight.shape[1] * group : weight.shape[0]
        guard outputChannels == channels, group >= 1, weight.shape[0] % group == 0 else { return nil }
        let inner = weight.shape.dims.dropFirst(2).reduce(1, *)
        let newWeight = weight.withUnsafeBufferPointer(as: Float.self) { w in
            Tensor.floats(weight.shape) { out in
                if isTranspose {
                    let perGroupIn = weight.shape[0] / group, perGroupOut = weight.shape[1]
                    for c in 0..<weight.shape[0] {
                        for j in 0..<perGroupOut {
                            let s = scale[(c / perGroupIn) * perGroupOut + j]
                            let base = (c * perGroupOut + j) * inner
                            for i in base..<(base + inner) { out[i] = Float(Double(w[i]) * s) }
                        }
                    }
                } else {
                    let row = weight.elementCount / channels
                    for o in 0..<channels {
                        for i in (o * row)..<((o + 1) * row) { out[i] = Float(Double(w[i]) * scale[o]) }
                    }
                }
            }
        }
        let oldBias = bias??.floats
        let newBias = Tensor([channels], floats: (0..<channels).map { o in
            Float(Double(oldBias?[o] ?? 0) * scale[o] + shift[o])
        })
        var folded = node
        let base = LayerSelection.name(of: node)
        folded.inputs = [node.inputs[0], editor.addWeight(base + ".weight_folded", newWeight),
                         editor.addWeight(base + ".bias_folded", newBias)]
        return folded
    }

    /// Gemm `alpha·op(A)·op(B) + beta·C` with BN over the N columns:
    /// B′ = alpha·B·s along N, C′ = (beta·C − mean)·s + β, then alpha = beta = 1.
    private static func foldGemm(_ node: Node, scale: [Double], shift: [Double], analysis: Analysis,
                                 _ editor: inout GraphEditor) -> Node? {
        guard let b = editor.floatConstant(node.input(1)), b.shape.rank == 2,
              let output = node.outputs.first, let outputType = analysis.types[output], outputType.shape.rank == 2
        else { return nil }
        let transB = (node.int("transB") ?? 0) != 0
        let n = scale.count
        let rows = outputType.shape[0]
        guard outputType.shape[1] == n, (transB ? b.shape[0] : b.shape[1]) == n else { return nil }
        let alpha = Double(node.float("alpha") ?? 1), beta = Double(node.float("beta") ?? 1)
        var cRows = 1, cColumns = 1
        var cValues: [Float] = [0]
        if let cName = node.input(2) {
            guard let c = editor.floatConstant(cName), c.shape.rank <= 2 else { return nil }
            cColumns = c.shape.dims.last ?? 1
            cRows = c.shape.rank == 2 ? c.shape[0] : 1
            guard cColumns == 1 || cColumns == n, cRows == 1 || cRows == rows else { return nil }
            cValues = c.floats
        }
        let newB = b.withUnsafeBufferPointer(as: Float.self) { w in
            Tensor.floats(b.shape) { out in
                for i in 0..<b.shape[0] {
                    for j in 0..<b.shape[1] {
                        out[i * b.shape[1] + j] = Float(alpha * Double(w[i * b.shape[1] + j]) * scale[transB ? i : j])
                    }
                }
            }
        }
        let outRows = cRows == 1 ? 1 : rows
        let newC = Tensor.floats(outRows == 1 ? [n] : [outRows, n]) { out in
            for r in 0..<outRows {
                for j in 0..<n {
                    let c = Double(cValues[(cRows == 1 ? 0 : r) * cColumns + (cColumns == 1 ? 0 : j)])
                    out[r * n + j] = Float(beta * c * scale[j] + shift[j])
                }
            }
        }
        var folded = node
        let base = LayerSelection.name(of: node)
        folded.inputs = [node.inputs[0], editor.addWeight(base + ".weight_folded", newB),
                         editor.addWeight(base + ".bias_folded", newC)]
        folded.attributes.removeAll { $0.name == "alpha" || $0.name == "beta" }
        return folded
    }
}
