import CleaveCompress
import CleaveIR
import CleaveRuntime
import XCTest

/// BatchNormalization folding is exact up to float rounding: checked against
/// ONNX Runtime's output for the unfolded fixture, and against cleave's
/// runtime on unfolded hand-built graphs (which matches ONNX Runtime on every fixture).
final class BatchNormFoldingTests: XCTestCase {
    func testPyTorchStyleFoldsEveryBatchNormAndMatchesONNXRuntime() throws {
        let graph = try fixtureModel("pytorch_style")
        let batchNorms = graph.nodes.filter { $0.opType == "BatchNormalization" }.count
        XCTAssertGreaterThan(batchNorms, 0)
        let (folded, report) = try Compressor.compress(graph, options: CompressionOptions())
        XCTAssertEqual(folded.nodes.filter { $0.opType == "BatchNormalization" }.count, 0)
        XCTAssertEqual(report.layers.filter { $0.kind == .batchNormFolded }.count, batchNorms)
        let input = try fixtureArray("pytorch_style", "inputs/input.npy")
        let expected = try fixtureArray("pytorch_style", "outputs/output.npy")  // ONNX Runtime, unfolded
        let actual = try XCTUnwrap(try execute(folded, ["input": input])["output"])
        XCTAssertLessThan(relativeL2(actual, expected), 1e-6)
        // Folding removes the BatchNormalization MACs and nothing else.
        XCTAssertLessThan(report.model.macsAfter, report.model.macsBefore)
        for layer in report.layers {
            XCTAssertEqual(layer.outputElementsBefore, layer.outputElementsAfter)
            XCTAssertLessThan(try XCTUnwrap(layer.relativeError), 1e-6, layer.node)
        }
    }

    func testFoldsIntoGemmWithAlphaBetaAndC() throws {
        var b = GraphBuilder()
        b.input("x", [2, 5])
        b.weight("B", [5, 3])
        b.weight("C", [3])
        batchNormWeights(&b, channels: 3)
        b.node("Gemm", ["x", "B", "C"], ["g"], name: "gemm", ["alpha": .float(0.5), "beta": .float(2)])
        b.node("BatchNormalization", ["g", "s", "bias", "mean", "var"], ["y"], name: "bn", ["epsilon": .float(1e-3)])
        try assertFoldedMatches(try b.graph(outputs: ["y"]), feed: ["x": b.random.tensor([2, 5])], remaining: ["Gemm"])
    }

    func testFoldsIntoGroupedConvTranspose() throws {
        var b = GraphBuilder()
        b.input("x", [1, 4, 5, 5])
        b.weight("W", [4, 3, 3, 3])  // group 2: 4 inputs → 6 outputs
        batchNormWeights(&b, channels: 6)
        b.node("ConvTranspose", ["x", "W"], ["t"], name: "deconv", ["group": .int(2), "strides": .ints([2, 2])])
        b.node("BatchNormalization", ["t", "s", "bias", "mean", "var"], ["y"], name: "bn")
        try assertFoldedMatches(try b.graph(outputs: ["y"]), feed: ["x": b.random.tensor([1, 4, 5, 5])], remaining: ["ConvTranspose"])
    }

    func testLeavesABatchNormWhoseInputHasOtherReaders() throws {
        var b = GraphBuilder()
        b.input("x", [1, 2, 4, 4])
        b.weight("W", [3, 2, 3, 3])
        batchNormWeights(&b, channels: 3)
        b.node("Conv", ["x", "W"], ["c"], name: "conv", ["pads": .ints([1, 1, 1, 1])])
        b.node("BatchNormalization", ["c", "s", "bias", "mean", "var"], ["n"], name: "bn")
        b.node("Add", ["c", "n"], ["y"], name: "add")
        try assertFoldedMatches(try b.graph(outputs: ["y"]), feed: ["x": b.random.tensor([1, 2, 4, 4])],
                                remaining: ["Conv", "BatchNormalization", "Add"])
    }

    // MARK: helpers

    private func batchNormWeights(_ b: inout GraphBuilder, channels: Int) {
        b.weight("s", [channels], (0..<channels).map { 0.5 + Float($0) * 0.25 })
        b.weight("bias", [channels], (0..<channels).map { Float($0) * 0.1 - 0.2 })
        b.weight("mean", [channels], (0..<channels).map { Float($0) * 0.3 - 0.4 })
        b.weight("var", [channels], (0..<channels).map { 0.2 + Float($0) * 0.5 })
    }

    private func assertFoldedMatches(_ graph: Graph, feed: [String: Tensor], remaining: [String],
                                     file: StaticString = #filePath, line: UInt = #line) throws {
        let (folded, _) = try Compressor.compress(graph, options: CompressionOptions())
        XCTAssertEqual(folded.nodes.map(\.opType), remaining, file: file, line: line)
        let expected = try XCTUnwrap(try execute(graph, feed)["y"])
        let actual = try XCTUnwrap(try execute(folded, feed)["y"])
        XCTAssertLessThan(relativeL2(actual, expected), 1e-6, file: file, line: line)
    }
}
