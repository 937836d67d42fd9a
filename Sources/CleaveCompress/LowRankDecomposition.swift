import CleaveIR

/// Replaces a layer K → N by two, K → r then r → N, creating a narrow
/// "bottleneck" tensor of r channels — cheaper to compute, and a cheap place
/// to cut the model:
///
/// - Conv k×k C→N (group 1) becomes `<name>/lowrank_a`, Conv k×k C→r with the
///   original strides, pads, dilations and auto_pad, then `<name>/lowrank_b`,
///   Conv 1×1 r→N carrying the bias;
/// - Gemm becomes Gemm(A, r×K, transB=1, alpha) then Gemm(·, N×r, C, transB=1, beta);
/// - MatMul by a constant K×N becomes MatMul by K×r then by r×N.
///
/// The bottleneck tensor is `<name>/lowrank_a_output_0` (`<name>` is the node
/// name, or its first output when unnamed), and `lowrank_b` writes the
/// original output tensor, so nothing downstream changes. A layer is left
/// alone when its rank would not reduce MACs: r·(N + K) must be below N·K.
enum LowRankDecomposition {
    struct Result {
        var reports: [LayerReport] = []
        var bottlenecks: [String] = []
        var skipped: [SkippedLayer] = []
    }

    /// A layer that can be decomposed.
    private struct Candidate {
        enum Kind { case conv, gemm, matMul }
        let index: Int
        let kind: Kind
        /// Output channels and inner size of the N×K weight matrix.
        let n: Int
        let k: Int
        let weight: Tensor
        /// The weight tensor holds Wᵀ (K×N): Gemm with transB = 0, MatMul.
        let transposed: Bool
        /// The layer's bias per output channel, if it has one that is the same for every sample.
        let bias: [Float]?
        /// False for a Gemm whose C differs between rows (then only the data-free method applies).
        let dataDriven: Bool
    }

    static func apply(_ editor: inout GraphEditor, rule: RankRule, selection: LayerSelection,
                      calibration: [[String: Tensor]], analysis: Analysis, threads: Int?) throws -> Result {
        var result = Result()
        var candidates: [Candidate] = []
        for (index, node) in editor.graph.nodes.enumerated() where selection.selects(node) {
            switch candidate(index, node, editor, analysis) {
            case .success(let c?): candidates.append(c)
            case .success(nil): break
            case .failure(let reason): result.skipped.append(SkippedLayer(node: LayerSelection.name(of: node), reason: reason.message))
            }
        }

        var statistics: [Int: ResponseStatistics] = [:]
        if !calibration.isEmpty {
            let driven = candidates.filter(\.dataDriven)
            for c in driven { statistics[c.index] = ResponseStatistics(channels: c.n) }
            let outputs = driven.map { editor.graph.nodes[$0.index].outputs[0] }
            try Activations.forEach(graph: editor.graph, recording: outputs, inputs: calibration, threads: threads) { _, values in
                for (c, name) in zip(driven, outputs) {
                    guard let y = values[name] else { continue }
                    try statistics[c.index]?.add(y, channelsFirst: c.kind == .conv, layer: name)
                }
            }
        }

        var replacements: [Int: [Node]] = [:]
        for c in candidates {
            let node = editor.graph.nodes[c.index]
            let name = LayerSelection.name(of: node)
            let macsPerPosition = c.n * c.k
            let threshold = Double(macsPerPosition) / Double(c.n + c.k)
            var refused: Int?
            let accept: (Int) -> Bool = { r in
                if r * (c.n + c.k) < macsPerPosition { return true }
                refused = r
                return false
            }
            let factors = try withWeightMatrix(c) { w -> LowRankFactors? in
                if let stats = statistics[c.index], stats.count > 0 {
                    return try LowRankFactors.fromResponses(w, n: c.n, k: c.k, statistics: stats,
                                                            bias: c.kind == .matMul ? nil : (c.bias ?? [Float](repeating: 0, count: c.n)),
                                                            rule: rule, accept: accept)
                }
                return try LowRankFactors.fromWeights(w, n: c.n, k: c.k, rule: rule, accept: accept)
            }
            guard let factors else {
                let r = refused ?? 0
                result.skipped.append(SkippedLayer(node: name, reason: "rank \(r) would not reduce MACs (\(c.n)×\(c.k) needs r < \(Int(threshold.rounded(.up))))"))
                continue
            }
            let (nodes, bottleneck) = rewrite(c, node, factors, &editor)
            replacements[c.index] = nodes
            let output = node.outputs[0]
            let elements = analysis.types[output]?.shape.elementCount ?? 0
            let positions = elements / Swift.max(c.n, 1)
            result.bottlenecks.append(bottleneck)
            result.reports.append(LayerReport(
                node: name, kind: .lowRank, method: factors.method, rank: factors.rank, channels: c.n,
                macsBefore: analysis.costs[c.index].macs,
                macsAfter: positions * factors.rank * c.k + positions * c.n * factors.rank,
                outputElementsBefore: elements, outputElementsAfter: positions * factors.rank,
                bottleneck: bottleneck, probe: output))
        }
        var nodes: [Node] = []
        for (index, node) in editor.graph.nodes.enumerated() {
            nodes += replacements[index] ?? [node]
        }
        editor.graph.nodes = nodes
        return result
    }

    // MARK: candidates

    private struct Refusal: Error { let message: String }

    /// The candidate for `node`; nil for ops that are not linear layers; a
    /// refusal (reported as skipped) for linear layers that cannot be decomposed.
    private static func candidate(_ index: Int, _ node: Node, _ editor: GraphEditor,
                                  _ analysis: Analysis) -> Swift.Result<Candidate?, Refusal> {
        switch node.op {
        case .conv?:
            guard (node.int("group") ?? 1) == 1 else { return .failure(Refusal(message: "grouped convolution")) }
            guard let w = editor.floatConstant(node.input(1)), w.shape.rank >= 3, w.shape[0] > 0 else {
                return .failure(Refusal(message: "weights are not a float32 constant"))
            }
            var bias: [Float]?
            if let b = node.input(2) {
                guard let t = editor.floatConstant(b), t.elementCount == w.shape[0] else {
                    return .failure(Refusal(message: "bias is not a float32 constant"))
                }
                bias = t.floats
            }
            guard node.input(0).map({ editor.constants[$0] == nil }) ?? false else { return .success(nil) }
            return .success(Candidate(index: index, kind: .conv, n: w.shape[0], k: w.elementCount / w.shape[0],
                                      weight: w, transposed: false, bias: bias, dataDriven: true))
        case .gemm?:
            guard let b = editor.floatConstant(node.input(1)), b.shape.rank == 2,
                  node.input(0).map({ editor.constants[$0] == nil }) ?? false
            else { return .failure(Refusal(message: "B is not a float32 constant matrix")) }
            let transB = (node.int("transB") ?? 0) != 0
            let n = transB ? b.shape[0] : b.shape[1], k = transB ? b.shape[1] : b.shape[0]
            var bias: [Float]?
            var rowwise = false
            if let cName = node.input(2) {
                guard let c = editor.floatConstant(cName), c.shape.rank <= 2 else {
                    return .failure(Refusal(message: "C is not a float32 constant"))
                }
                let beta = node.float("beta") ?? 1
                let columns = c.shape.dims.last ?? 1
                if c.shape.rank == 2 && c.shape[0] != 1 {
                    rowwise = true
                } else if columns == n || columns == 1 {
                    let values = c.floats
                    bias = (0..<n).map { beta * values[columns == 1 ? 0 : $0] }
                }
            }
            guard n > 0, k > 0 else { return .success(nil) }
            return .success(Candidate(index: index, kind: .gemm, n: n, k: k, weight: b, transposed: !transB,
                                      bias: bias, dataDriven: !rowwise))
        case .matMul?:
            guard let b = editor.floatConstant(node.input(1)), b.shape.rank == 2,
                  node.input(0).map({ editor.constants[$0] == nil }) ?? false
            else { return .failure(Refusal(message: "the second operand is not a float32 constant matrix")) }
            guard b.shape[0] > 0, b.shape[1] > 0 else { return .success(nil) }
            return .success(Candidate(index: index, kind: .matMul, n: b.shape[1], k: b.shape[0], weight: b,
                                      transposed: true, bias: nil, dataDriven: true))
        default:
            return .success(nil)
        }
    }

    /// Calls `body` with W as a row-major N×K matrix: the tensor's own bytes,
    /// or a transposed copy when the tensor holds Wᵀ.
    private static func withWeightMatrix<T>(_ c: Candidate, _ body: (UnsafePointer<Float>) throws -> T) throws -> T {
        try c.weight.withUnsafeBufferPointer(as: Float.self) { w in
            guard c.transposed else {
                guard let base = w.baseAddress else { throw CleaveError.badInput("empty weight matrix") }
                return try body(base)
            }
            let t = LowRankFactors.transpose(Array(w), rows: c.k, columns: c.n)
            return try t.withUnsafeBufferPointer { p in
                guard let base = p.baseAddress else { throw CleaveError.badInput("empty weight matrix") }
                return try body(base)
            }
        }
    }

    // MARK: rewrite

    /// The two nodes that replace `node`, and the bottleneck tensor's name.
    private static func rewrite(_ c: Candidate, _ node: Node, _ factors: LowRankFactors,
                                _ editor: inout GraphEditor) -> ([Node], String) {
        let base = LayerSelection.name(of: node)
        let r = factors.rank
        let bottleneck = editor.freshName(base + "/lowrank_a_output_0")
        let nameA = editor.freshName(base + "/lowrank_a"), nameB = editor.freshName(base + "/lowrank_b")
        let input = node.inputs[0]
        switch c.kind {
        case .conv:
            let spatial = Array(c.weight.shape.dims.dropFirst(2))
            let wa = editor.addWeight(nameA + ".weight", Tensor(Shape([r] + Array(c.weight.shape.dims.dropFirst())), floats: factors.first))
            let wb = editor.addWeight(nameB + ".weight", Tensor(Shape([c.n, r] + spatial.map { _ in 1 }), floats: factors.second))
            var biasInput: [String] = []
            if let bias = factors.bias {
                biasInput = [editor.addWeight(nameB + ".bias", Tensor([c.n], floats: bias))]
            } else if let b = node.input(2) {
                biasInput = [b]
            }
            let a = Node(name: nameA, opType: "Conv", inputs: [input, wa], outputs: [bottleneck],
                         attributes: node.attributes.filter { $0.name != "group" })
            let b = Node(name: nameB, opType: "Conv", inputs: [bottleneck, wb] + biasInput, outputs: node.outputs,
                         attributes: [Attribute(name: "kernel_shape", value: .ints(spatial.map { _ in 1 }))])
            return ([a, b], bottleneck)
        case .gemm:
            let wa = editor.addWeight(nameA + ".weight", Tensor([r, c.k], floats: factors.first))
            let wb = editor.addWeight(nameB + ".weight", Tensor([c.n, r], floats: factors.second))
            var attributesA = [Attribute(name: "transB", value: .int(1))]
            if let transA = node.int("transA") { attributesA.append(Attribute(name: "transA", value: .int(transA))) }
            if let alpha = node.float("alpha") { attributesA.append(Attribute(name: "alpha", value: .float(alpha))) }
            var inputsB = [bottleneck, wb]
            var attributesB = [Attribute(name: "transB", value: .int(1))]
            if let bias = factors.bias {
                inputsB.append(editor.addWeight(nameB + ".bias", Tensor([c.n], floats: bias)))
            } else if let cInput = node.input(2) {
                inputsB.append(cInput)
                if let beta = node.float("beta") { attributesB.append(Attribute(name: "beta", value: .float(beta))) }
            }
            var inputsA = [input, wa]
            if editor.graph.opsetVersion < 11 {
                // C is optional only from opset 11: give each Gemm a zero one before that.
                inputsA.append(editor.addWeight(nameA + ".bias", Tensor(zeros: .float, [r])))
                if inputsB.count == 2 { inputsB.append(editor.addWeight(nameB + ".bias", Tensor(zeros: .float, [c.n]))) }
            }
            let a = Node(name: nameA, opType: "Gemm", inputs: inputsA, outputs: [bottleneck], attributes: attributesA)
            let b = Node(name: nameB, opType: "Gemm", inputs: inputsB, outputs: node.outputs, attributes: attributesB)
            return ([a, b], bottleneck)
        case .matMul:
            let wa = editor.addWeight(nameA + ".weight",
                                      Tensor([c.k, r], floats: LowRankFactors.transpose(factors.first, rows: r, columns: c.k)))
            let wb = editor.addWeight(nameB + ".weight",
                                      Tensor([r, c.n], floats: LowRankFactors.transpose(factors.second, rows: c.n, columns: r)))
            let a = Node(name: nameA, opType: "MatMul", inputs: [input, wa], outputs: [bottleneck])
            let b = Node(name: nameB, opType: "MatMul", inputs: [bottleneck, wb], outputs: node.outputs)
            return ([a, b], bottleneck)
        }
    }
}
