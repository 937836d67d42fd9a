import CleaveIR

/// Channel pruning: each prunable group (see `ChannelGroups`) keeps the
/// channels whose filters have the largest L1 norm (Li, Kadav, Durdanovic,
/// Samet and Graf, "Pruning Filters for Efficient ConvNets", ICLR 2017) —
/// summed over the group's Convs, each normalised by its mean, so a residual
/// stream is judged by all the layers that write it. Every node reading or
/// preserving the channels is sliced to match. With calibration data, each
/// layer that lost input channels is then refit by least squares to
/// reproduce its original output from the channels that remain (the
/// reconstruction step of ThiNet, Luo, Wu and Lin, ICCV 2017).
enum ChannelPruning {
    struct Result {
        var reports: [LayerReport] = []
        var skipped: [SkippedLayer] = []
    }

    /// What happens to one node.
    private struct NodeEdit {
        var outputKept: [Int]?
        var inputKept: [Int]?
        var depthwise = false
        var constants: [(position: Int, axis: Int, kept: [Int])] = []
        var flattened: (block: Int, kept: [Int], reshape: Int?)?
    }

    static func apply(_ editor: inout GraphEditor, ratio: Double, selection: LayerSelection,
                      calibration: [[String: Tensor]], analysis: Analysis, inputShapes: [String: Shape],
                      threads: Int?) throws -> Result {
        var result = Result()
        let graph = editor.graph
        let groups = ChannelGroups(graph: graph, analysis: analysis, constants: editor.constants)
        var edits: [Int: NodeEdit] = [:]
        var producerOf: [Int: (channels: Int, kept: [Int])] = [:]

        for group in groups.groups where !group.producers.isEmpty {
            let names = group.producers.map { LayerSelection.name(of: graph.nodes[$0]) }
            let selected = group.producers.filter { selection.selects(graph.nodes[$0]) }
            guard !selected.isEmpty else { continue }
            if let reason = group.blocked {
                for name in names { result.skipped.append(SkippedLayer(node: name, reason: "not pruned: \(reason)")) }
                continue
            }
            guard selected.count == group.producers.count else {
                let others = group.producers.filter { !selection.selects(graph.nodes[$0]) }.map { "'\(LayerSelection.name(of: graph.nodes[$0]))'" }
                for index in selected {
                    result.skipped.append(SkippedLayer(node: LayerSelection.name(of: graph.nodes[index]),
                                                       reason: "not pruned: shares its channels with \(others.joined(separator: ", ")), which --layers does not select"))
                }
                continue
            }
            let c = group.channels
            let keep = Swift.max(1, c - Int((ratio * Double(c)).rounded()))
            guard keep < c else { continue }
            let kept = try keptChannels(group, keep: keep, editor)
            for slice in group.slices {
                switch slice {
                case .producer(let node):
                    edits[node, default: NodeEdit()].outputKept = kept
                    producerOf[node] = (c, kept)
                case .convInput(let node):
                    edits[node, default: NodeEdit()].inputKept = kept
                case .depthwise(let node):
                    edits[node, default: NodeEdit()].outputKept = kept
                    edits[node, default: NodeEdit()].depthwise = true
                case .constants(let node, let inputs):
                    edits[node, default: NodeEdit()].constants += inputs.map { ($0.position, $0.axis, kept) }
                case .flattened(let node, let block, let reshape):
                    edits[node, default: NodeEdit()].flattened = (block, kept, reshape)
                }
            }
            for tensor in group.tensors { editor.changedShape(tensor) }
        }
        guard !edits.isEmpty else { return result }

        // Refit the layers that lost inputs, on the unpruned graph's activations.
        let refitNodes = edits.filter { $0.value.inputKept != nil || $0.value.flattened != nil }.map(\.key).sorted()
        var refits: [Int: Tensor] = [:]
        if !calibration.isEmpty {
            refits = try LeastSquaresRefit.fit(refitNodes.map { index in
                let edit = edits[index] ?? NodeEdit()
                return LeastSquaresRefit.Layer(node: index, inputKept: edit.inputKept ?? edit.flattened?.kept ?? [],
                                               block: edit.flattened?.block, outputKept: edit.outputKept)
            }, graph: graph, constants: editor.constants, analysis: analysis, calibration: calibration, threads: threads)
        }

        for (index, edit) in edits.sorted(by: { $0.key < $1.key }) {
            editor.graph.nodes[index] = try slice(graph.nodes[index], edit, refit: refits[index], &editor)
            if let flattened = edit.flattened, let reshape = flattened.reshape {
                editor.graph.nodes[reshape] = try reshapeToFeatures(graph.nodes[reshape], features: flattened.block * flattened.kept.count, &editor)
            }
        }

        let after = try Analysis(graph: editor.graph, inputShapes: inputShapes)
        for index in edits.keys.sorted() {
            let node = graph.nodes[index]
            guard let output = node.outputs.first else { continue }
            let edit = edits[index] ?? NodeEdit()
            let elementsBefore = analysis.types[output]?.shape.elementCount ?? 0
            let elementsAfter = after.types[output]?.shape.elementCount ?? 0
            let losesInputs = edit.inputKept != nil || edit.flattened != nil
            let refit = refits[index] != nil
            if let (channels, kept) = producerOf[index] {
                result.reports.append(LayerReport(
                    node: LayerSelection.name(of: node), kind: .pruned, method: refit ? "l1+least_squares" : "l1",
                    channels: channels, keptChannels: kept.count,
                    macsBefore: analysis.costs[index].macs, macsAfter: after.costs[index].macs,
                    outputElementsBefore: elementsBefore, outputElementsAfter: elementsAfter,
                    probe: output, probeChannels: kept))
            } else if losesInputs {
                result.reports.append(LayerReport(
                    node: LayerSelection.name(of: node), kind: .prunedInputs, method: refit ? "least_squares" : "slice",
                    macsBefore: analysis.costs[index].macs, macsAfter: after.costs[index].macs,
                    outputElementsBefore: elementsBefore, outputElementsAfter: elementsAfter, probe: output))
            }
        }
        return result
    }

    /// The `keep` channels with the largest summed, per-Conv-normalised L1 filter norms, ascending.
    private static func keptChannels(_ group: ChannelGroups.Group, keep: Int, _ editor: GraphEditor) throws -> [Int] {
        var score = [Double](repeating: 0, count: group.channels)
        for index in group.producers {
            let node = editor.graph.nodes[index]
            guard let w = editor.floatConstant(node.input(1)), w.shape.rank >= 1, w.shape[0] == group.channels else {
                throw CleaveError.badInput("node \(editor.graph.label(index)): weights do not have \(group.channels) filters")
            }
            let row = w.elementCount / group.channels
            let norms = w.withUnsafeBufferPointer(as: Float.self) { values in
                (0..<group.channels).map { c in (0..<row).reduce(0.0) { $0 + Double(Swift.abs(values[c * row + $1])) } }
            }
            let mean = norms.reduce(0, +) / Double(group.channels)
            for c in 0..<group.channels { score[c] += mean > 0 ? norms[c] / mean : 0 }
        }
        let order = (0..<group.channels).sorted { score[$0] != score[$1] ? score[$0] > score[$1] : $0 < $1 }
        return Array(order.prefix(keep)).sorted()
    }

    // MARK: slicing

    private static func slice(_ node: Node, _ edit: NodeEdit, refit: Tensor?, _ editor: inout GraphEditor) throws -> Node {
        var node = node
        let base = LayerSelection.name(of: node)
        func replace(_ position: Int, _ suffix: String, _ transform: (Tensor) -> Tensor) throws {
            guard let name = node.input(position), let value = editor.constants[name] else {
                throw CleaveError.badInput("node '\(base)': input \(position) is not a constant")
            }
            guard value.dtype == .float else { throw CleaveError.badInput("node '\(base)': input \(position) is \(value.dtype.name), not float32") }
            node.inputs[position] = editor.addWeight(base + suffix, transform(value))
        }
        if let (block, kept, _) = edit.flattened {
            let transB = node.op == .gemm && (node.int("transB") ?? 0) != 0
            let features = kept.flatMap { c in (c * block)..<((c + 1) * block) }
            if let refit {
                node.inputs[1] = editor.addWeight(base + ".weight_pruned", refit)
            } else {
                try replace(1, ".weight_pruned") { sliced($0, axis: transB ? 1 : 0, keep: features) }
            }
        }
        if node.op == .conv {
            if let refit {
                node.inputs[1] = editor.addWeight(base + ".weight_pruned", refit)
            } else if edit.outputKept != nil || edit.inputKept != nil {
                try replace(1, ".weight_pruned") { w in
                    var w = w
                    if let out = edit.outputKept { w = sliced(w, axis: 0, keep: out) }
                    if let input = edit.inputKept { w = sliced(w, axis: 1, keep: input) }
                    return w
                }
            }
            if let out = edit.outputKept, node.input(2) != nil {
                try replace(2, ".bias_pruned") { sliced($0, axis: 0, keep: out) }
            }
            if edit.depthwise, let out = edit.outputKept {
                node.attributes.removeAll { $0.name == "group" }
                node.attributes.append(Attribute(name: "group", value: .int(out.count)))
            }
        }
        for (position, axis, kept) in edit.constants {
            try replace(position, ".channels_pruned") { sliced($0, axis: axis, keep: kept) }
        }
        return node
    }

    /// A Reshape to [batch, features] whose shape constant named the old feature count.
    private static func reshapeToFeatures(_ node: Node, features: Int, _ editor: inout GraphEditor) throws -> Node {
        guard let name = node.input(1), let shape = editor.constants[name]?.integerValues, shape.count == 2 else {
            throw CleaveError.badInput("node \(LayerSelection.name(of: node)): Reshape has no constant 2-D shape")
        }
        var node = node
        // The batch entry stays as written (a size, 0 = copy, or -1); the features follow the kept channels.
        let newShape = shape[0] == -1 ? [-1, Int64(features)] : [Int64(shape[0]), -1]
        node.inputs[1] = editor.addWeight(LayerSelection.name(of: node) + ".shape_pruned", Tensor([2], int64s: newShape))
        return node
    }

    /// `tensor` with only the indices `keep` along `axis`.
    static func sliced(_ tensor: Tensor, axis: Int, keep: [Int]) -> Tensor {
        let dims = tensor.shape.dims
        let outer = dims[..<axis].reduce(1, *), length = dims[axis], inner = dims[(axis + 1)...].reduce(1, *)
        var newDims = dims
        newDims[axis] = keep.count
        return tensor.withUnsafeBufferPointer(as: Float.self) { source in
            Tensor.floats(Shape(newDims)) { out in
                var o = 0
                for i in 0..<outer {
                    for k in keep {
                        let start = (i * length + k) * inner
                        for j in 0..<inner { out[o + j] = source[start + j] }
                        o += inner
                    }
                }
            }
        }
    }
}
