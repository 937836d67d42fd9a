import CleaveIR
import CleaveRuntime

/// Runs a graph on input sets and hands back chosen intermediate tensors:
/// how the data-driven passes see a layer's inputs and responses, and how
/// fidelity is measured.
enum Activations {
    /// Runs `graph` on every input set with `tensors` added as graph outputs,
    /// calling `body` with the set's index and all outputs (the graph's own and `tensors`).
    ///
    /// One set's tensors are alive at a time, so memory is one inference's
    /// activations, not the whole calibration set's.
    static func forEach(graph: Graph, recording tensors: [String], inputs: [[String: Tensor]], threads: Int?,
                        _ body: (Int, [String: Tensor]) throws -> Void) throws {
        var probed = graph
        let existing = Set(graph.outputs.map(\.name))
        for name in tensors where !existing.contains(name) {
            probed.outputs.append(ValueInfo(name: name, dtype: nil, dims: nil))
        }
        let session = try Session(graph: probed, options: SessionOptions(threads: threads))
        for (index, feed) in inputs.enumerated() {
            try body(index, try session.run(feed))
        }
    }

    /// The inputs fidelity is measured on: the calibration sets, or when there
    /// are none one deterministic synthetic set (standard normal floats, zero
    /// integers) of the analysed input shapes.
    static func evaluationInputs(_ calibration: [[String: Tensor]], graph: Graph, analysis: Analysis) -> [[String: Tensor]] {
        guard calibration.isEmpty else { return calibration }
        var random = SeededRandom(seed: 0x636C_6561_7665)  // "cleave"
        var feed: [String: Tensor] = [:]
        for input in graph.runtimeInputs {
            guard let type = analysis.types[input.name] else { continue }
            if type.dtype == .float {
                feed[input.name] = Tensor.floats(type.shape) { random.fillNormal($0) }
            } else {
                feed[input.name] = Tensor(zeros: type.dtype, type.shape)
            }
        }
        return [feed]
    }
}
