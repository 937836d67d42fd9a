import CleaveIR
import CleaveRuntime

/// Graph surgery for the int8 boundary codec of `cleave cut` and `split`:
/// tensors that cross from the edge to the cloud travel as uint8, a quarter of
/// their float32 size, and both halves stay standard ONNX (QuantizeLinear on
/// the edge, DequantizeLinear on the cloud). The parameters are the runtime's
/// `Quantization`, the same that `cleave run --remote` sends with.
public enum BoundaryQuantizer {
    /// Rewrites `graph` so that each tensor T in `crossing` crosses as uint8:
    ///
    ///     T → QuantizeLinear (`T/quantize`) → "T.int8" → DequantizeLinear (`T/dequantize`) → "T.dequantized"
    ///
    /// and every node that read T reads "T.dequantized" instead (a graph
    /// output T stays T). Scale and zero point are `Quantization(covering:)`
    /// of T's range over all of `calibration` (run through
    /// `CleaveRuntime.Session`): asymmetric, widened to include 0 so that zeros
    /// (ReLU outputs, padding) survive exactly. With no calibration sets, one
    /// deterministic synthetic input is used instead.
    ///
    /// A `Partition` of the new graph whose edge is the closure of the ".int8"
    /// tensors puts each QuantizeLinear on the edge and each DequantizeLinear
    /// on the cloud; the scale and zero point initializers go to both halves.
    ///
    /// - Returns: the new graph and the tensors that now cross (the ".int8" names).
    /// - Throws: `CleaveError.badInput` for a name that is not a float32 tensor
    ///   of the graph, or one that holds NaN or infinity on the calibration
    ///   data (no 8-bit range holds it); `CleaveError.usage` for models older
    ///   than opset 10 (no QuantizeLinear).
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
        var ranges = [ClosedRange<Float>](repeating: 0...0, count: crossing.count)
        let inputs = Activations.evaluationInputs(calibration, graph: graph, analysis: analysis)
        try Activations.forEach(graph: graph, recording: crossing, inputs: inputs, threads: nil) { _, values in
            for (i, name) in crossing.enumerated() {
                guard let t = values[name] else { continue }
                let range = try t.withUnsafeBufferPointer(as: Float.self) { try Quantization.range(of: $0, name: name) }
                ranges[i] = Swift.min(ranges[i].lowerBound, range.lowerBound)...Swift.max(ranges[i].upperBound, range.upperBound)
            }
        }

        var editor = GraphEditor(graph)
        var renamed: [String: String] = [:]
        var quantizers: [String: [Node]] = [:]
        var encoded: [String] = []
        for (i, name) in crossing.enumerated() {
            let q = Quantization(covering: ranges[i])
            let scaleName = editor.addWeight(name + ".int8.scale", Tensor([], floats: [q.scale]))
            let zeroName = editor.addWeight(name + ".int8.zero_point", Tensor(.uint8, [], [UInt8(clamping: q.zeroPoint)]))
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

extension BoundaryQuantizer {
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
