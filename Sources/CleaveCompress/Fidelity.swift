import CleaveIR
import CleaveRuntime

/// What compression costs in accuracy, measured by running the input model
/// and the compressed one side by side on the same inputs.
struct Fidelity {
    /// Per report, ‖y′ − y‖ / ‖y‖ of its probe tensor (nil when not comparable).
    var layerErrors: [Double?]
    /// Fraction of rows whose argmax over the last axis of the first output agrees.
    var top1Agreement: Double?
    /// ‖y′ − y‖ / ‖y‖ over all graph outputs and inputs.
    var relativeL2: Double?
    /// Rows of the first output compared (samples).
    var samples: Int

    static func measure(original: Graph, compressed: Graph, reports: [LayerReport], inputs: [[String: Tensor]],
                        threads: Int?) throws -> Fidelity {
        let probes = Array(Set(reports.map(\.probe))).sorted()
        let options = SessionOptions(threads: threads)
        let before = try Session(graph: probed(original, probes), options: options)
        let after = try Session(graph: probed(compressed, probes), options: options)
        var layerSums = [(difference: Double, reference: Double)](repeating: (0, 0), count: reports.count)
        var outputSums = (difference: 0.0, reference: 0.0)
        var agree = 0, rows = 0
        var top1Possible = true
        let first = original.outputs.first?.name
        for feed in inputs {
            let reference = try before.run(feed)
            let result = try after.run(feed)
            for (i, report) in reports.enumerated() {
                guard let r = reference[report.probe], let c = result[report.probe],
                      let sums = compare(r, c, channels: report.probeChannels) else { continue }
                layerSums[i].difference += sums.difference
                layerSums[i].reference += sums.reference
            }
            for output in original.outputs {
                guard let r = reference[output.name], let c = result[output.name],
                      let sums = compare(r, c, channels: nil) else { continue }
                outputSums.difference += sums.difference
                outputSums.reference += sums.reference
            }
            if let first, let r = reference[first], let c = result[first],
               let counts = top1(r, c) {
                agree += counts.agree
                rows += counts.rows
            } else {
                top1Possible = false
            }
        }
        func ratio(_ sums: (difference: Double, reference: Double)) -> Double? {
            sums.reference > 0 ? (sums.difference / sums.reference).squareRoot() : nil
        }
        return Fidelity(layerErrors: layerSums.map(ratio),
                        top1Agreement: top1Possible && rows > 0 ? Double(agree) / Double(rows) : nil,
                        relativeL2: ratio(outputSums), samples: rows)
    }

    private static func probed(_ graph: Graph, _ probes: [String]) -> Graph {
        var graph = graph
        let outputs = Set(graph.outputs.map(\.name))
        var defined = Set<String>()
        for node in graph.nodes { for output in node.outputs { defined.insert(output) } }
        for name in probes where defined.contains(name) && !outputs.contains(name) {
            graph.outputs.append(ValueInfo(name: name, dtype: nil, dims: nil))
        }
        return graph
    }

    /// Σ(c − r)² and Σr² — of r's channels `channels` (axis 1) when given.
    private static func compare(_ r: Tensor, _ c: Tensor, channels: [Int]?) -> (difference: Double, reference: Double)? {
        guard r.dtype == .float, c.dtype == .float else { return nil }
        let reference: Tensor
        if let channels {
            guard r.shape.rank >= 2, channels.allSatisfy({ $0 < r.shape[1] }) else { return nil }
            reference = ChannelPruning.sliced(r, axis: 1, keep: channels)
        } else {
            reference = r
        }
        guard reference.shape == c.shape else { return nil }
        return reference.withUnsafeBufferPointer(as: Float.self) { a in
            c.withUnsafeBufferPointer(as: Float.self) { b in
                var difference = 0.0, sum = 0.0
                for i in 0..<a.count {
                    let d = Double(b[i]) - Double(a[i])
                    difference += d * d
                    sum += Double(a[i]) * Double(a[i])
                }
                return (difference, sum)
            }
        }
    }

    /// Rows (over the last axis) whose argmax agrees; nil unless both are float with ≥ 2 classes.
    private static func top1(_ r: Tensor, _ c: Tensor) -> (agree: Int, rows: Int)? {
        guard r.dtype == .float, c.dtype == .float, r.shape == c.shape, let classes = r.shape.dims.last, classes >= 2 else {
            return nil
        }
        let rows = r.elementCount / classes
        return r.withUnsafeBufferPointer(as: Float.self) { a in
            c.withUnsafeBufferPointer(as: Float.self) { b in
                var agree = 0
                for row in 0..<rows where argmax(a, row * classes, classes) == argmax(b, row * classes, classes) { agree += 1 }
                return (agree, rows)
            }
        }
    }

    private static func argmax(_ v: UnsafeBufferPointer<Float>, _ start: Int, _ count: Int) -> Int {
        var best = 0
        for i in 1..<count where v[start + i] > v[start + best] { best = i }
        return best
    }
}
