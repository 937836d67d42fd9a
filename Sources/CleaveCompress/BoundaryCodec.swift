import CleaveIR

/// The int8 boundary codec: tensors that cross from the edge to the cloud
/// travel as uint8, a quarter of their float32 size, and both halves stay
/// standard ONNX (QuantizeLinear on the edge, DequantizeLinear on the cloud).
public enum BoundaryCodec {
    /// Rewrites `graph` so that each tensor T in `crossing` crosses as uint8:
    ///
    ///     T → QuantizeLinear (`T/quantize`) → "T.int8" → DequantizeLinear (`T/dequantize`) → "T.dequantized"
    ///
    /// and every node that read T reads "T.dequantized" instead (a graph
    /// output T stays T). Scale and zero point are asymmetric over the range of
    /// T seen on `calibration` (run through `CleaveRuntime.Session`), widened
    /// to include 0 so that zeros (ReLU outputs, padding) survive exactly:
    /// scale = (max − min) / 255, zero point = round(−min / scale). With no
    /// calibration sets, one deterministic synthetic input is used instead.
    ///
    /// A `Partition` of the new graph whose edge is the closure of the ".int8"
    /// tensors puts each QuantizeLinear on the edge and each DequantizeLinear
    /// on the cloud; the scale and zero point initializers go to both halves.
    ///
    /// - Returns: the new graph and the tensors that now cross (the ".int8" names).
    /// - Throws: `CleaveError.badInput` for a name that is not a float32 tensor
    ///   of the graph; `CleaveError.usage` for models older than opset 10 (no QuantizeLinear).
    public static func quantize(_ graph: Graph, crossing: [String], calibration: [[String: Tensor]],
                                inputShapes: [String: Shape]) throws -> (graph: Graph, crossing: [String]) {
        guard graph.opsetVersion >= 10 else {
            throw CleaveError(.usage, "the int8 boundary codec needs opset 10 or later (QuantizeLinear); the model uses opset \(graph.opsetVersion)")
        }
        let analysis = try Analysis(graph: graph, inputShapes: inputShapes)
        let constants = graph.constants
        for name in crossing {
            guard let type = analysis.types[name], constants[name] == nil else {
                throw CleaveError.badInput("boundary tensor '\(name)' is not an activation of the model")
            }
            guard type.dtype == .float else {
                throw CleaveError.badInput("boundary tensor '\(name)' is \(type.dtype.name); the int8 codec takes float32")
            }
        }
        var low = [Float](repeating: 0, count: crossing.count)
        var high = [Float](repeating: 0, count: crossing.count)
        let inputs = Activations.evaluationInputs(calibration, graph: graph, analysis: analysis)
        try Activations.forEach(graph: graph, recording: crossing, inputs: inputs, threads: nil) { _, values in
            for (i, name) in crossing.enumerated() {
                guard let t = values[name] else { continue }
                t.withUnsafeBufferPointer(as: Float.self) { v in
                    for x in v where x.isFinite {
                        low[i] = Swift.min(low[i], x)
                        high[i] = Swift.max(high[i], x)
                    }
                }
            }
        }

        var editor = GraphEditor(graph)
        var renamed: [String: String] = [:]
        var quantizers: [String: [Node]] = [:]
        var encoded: [String] = []
        for (i, name) in crossing.enumerated() {
            let range = high[i] - low[i]
            let scale = range > 0 ? range / 255 : 1
            let zero = UInt8(Swift.min(Swift.max((-low[i] / scale).rounded(.toNearestOrEven), 0), 255))
            let scaleName = editor.addWeight(name + ".int8.scale", Tensor([], floats: [scale]))
            let zeroName = editor.addWeight(name + ".int8.zero_point", Tensor(.uint8, [], [zero]))
            let wire = editor.freshName(name + ".int8")
            let restored = editor.freshName(name + ".dequantized")
            quantizers[name] = [
                Node(name: editor.freshName(name + "/quantize"), opType: "QuantizeLinear",
                     inputs: [name, scaleName, zeroName], outputs: [wire]),
                Node(name: editor.freshName(name + "/dequantize"), opType: "DequantizeLinear",
                     inputs: [wire, scaleName, zeroName], outputs: [restored]),
            ]
            renamed[name] = restored
            encoded.append(wire)
        }
        var nodes: [Node] = []
        let producers = editor.graph.producers
        // Graph inputs that cross get their codec nodes first.
        for name in crossing where producers[name] == nil { nodes += quantizers[name] ?? [] }
        for node in editor.graph.nodes {
            var node = node
            node.inputs = node.inputs.map { renamed[$0] ?? $0 }
            nodes.append(node)
            for output in node.outputs { nodes += quantizers[output] ?? [] }
        }
        editor.graph.nodes = nodes
        return (try editor.finish(), encoded)
    }
}

extension BoundaryCodec {
    /// Makes the float32 activations that cross `partition` travel as uint8:
    /// rewrites the graph with `quantize` and cuts it again at the ".int8"
    /// tensors (and any other crossing tensors), so each QuantizeLinear runs on
    /// the edge and each DequantizeLinear on the cloud.
    /// - Returns: the rewritten graph, its partition, and the boundary tensors
    ///   that now travel quantised (unchanged inputs when nothing is float).
    public static func quantizeBoundary(of partition: Partition, in graph: Graph, calibration: [[String: Tensor]],
                                        inputShapes: [String: Shape]) throws -> (graph: Graph, partition: Partition, quantized: Set<String>) {
        guard !partition.cloudNodes.isEmpty else { return (graph, partition, []) }
        let analysis = try Analysis(graph: graph, inputShapes: inputShapes)
        let modelInputs = Set(graph.runtimeInputs.map(\.name))
        let floats = partition.boundary.filter { analysis.types[$0]?.dtype == .float && !modelInputs.contains($0) }
        guard !floats.isEmpty else { return (graph, partition, []) }
        let others = partition.boundary.filter { !floats.contains($0) }
        let (rewritten, crossing) = try quantize(graph, crossing: floats, calibration: calibration, inputShapes: inputShapes)
        return (rewritten, try Partition(graph: rewritten, cutAt: crossing + others), Set(crossing))
    }
}
