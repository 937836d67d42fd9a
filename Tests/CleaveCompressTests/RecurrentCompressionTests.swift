import CleaveCompress
import CleaveIR
import CleaveRuntime
import XCTest

/// Recurrent weights are never pruned, decomposed or stored in fewer bits:
/// W, R and B of an LSTM leave every pass byte for byte, while the MatMul
/// after it is compressed as usual.
final class RecurrentCompressionTests: XCTestCase {
    func testLSTMWeightsAreLeftAlone() throws {
        var b = GraphBuilder()
        b.input("x", [4, 1, 8])
        b.weight("lstm.w", [1, 64, 8])
        b.weight("lstm.r", [1, 64, 16])
        b.weight("lstm.b", [1, 128])
        b.node("LSTM", ["x", "lstm.w", "lstm.r", "lstm.b"], ["y", "y_h"], name: "lstm", ["hidden_size": .int(16)])
        b.initializers.append(Initializer(name: "shape", tensor: Tensor([2], int64s: [4, 16])))
        b.node("Reshape", ["y", "shape"], ["features"])
        b.weight("head.w", [16, 12])
        b.node("MatMul", ["features", "head.w"], ["out"], name: "head")
        let graph = try b.graph(outputs: ["out", "y_h"])

        for options in [CompressionOptions(rankRatio: 0.5, pruneRatio: 0.5), CompressionOptions(weights: .int8),
                        CompressionOptions(weights: .fp16)] {
            let (compressed, report) = try Compressor.compress(graph, options: options)
            let lstm = try XCTUnwrap(compressed.nodes.first { $0.opType == "LSTM" })
            XCTAssertEqual(lstm.inputs, ["x", "lstm.w", "lstm.r", "lstm.b"])
            let before = graph.constants, after = compressed.constants
            for name in ["lstm.w", "lstm.r", "lstm.b"] {
                let original = try XCTUnwrap(before[name]), kept = try XCTUnwrap(after[name], name)
                XCTAssertEqual(kept.dtype, .float, name)
                XCTAssertEqual(kept.shape, original.shape, name)
                XCTAssertEqual(kept.floats, original.floats, name)
            }
            XCTAssertFalse(report.layers.contains { $0.node == "lstm" }, "\(report.layers.map(\.node))")
            XCTAssertNotEqual(compressed.nodes.count, graph.nodes.count, "the MatMul is compressed")
        }
    }
}
