import CleaveCompress
import CleaveIR
import CleaveRuntime
import XCTest

final class LowRankTests: XCTestCase {
    /// W = U·V of rank 3, so the energy rule finds r = 3 and the two new
    /// layers reproduce the original exactly (up to float rounding).
    func testConvBecomesABottleneckPairThatKeepsGeometry() throws {
        var b = GraphBuilder()
        b.input("x", [1, 8, 9, 9])
        b.weight("W", [16, 8, 3, 3], lowRank(rows: 16, columns: 72, rank: 3, &b.random))
        b.weight("bias", [16])
        b.node("Conv", ["x", "W", "bias"], ["y"], name: "conv",
               ["strides": .ints([2, 2]), "pads": .ints([1, 0, 1, 0]), "dilations": .ints([1, 2])])
        let graph = try b.graph(outputs: ["y"])
        let (compressed, report) = try Compressor.compress(graph, options: CompressionOptions(rankEnergy: 0.99999))

        XCTAssertEqual(compressed.nodes.map(\.name), ["conv/lowrank_a", "conv/lowrank_b"])
        let (a, second) = (compressed.nodes[0], compressed.nodes[1])
        XCTAssertEqual(a.outputs, ["conv/lowrank_a_output_0"])
        XCTAssertEqual(second.outputs, ["y"])
        XCTAssertEqual(a.ints("strides"), [2, 2])
        XCTAssertEqual(a.ints("pads"), [1, 0, 1, 0])
        XCTAssertEqual(a.ints("dilations"), [1, 2])
        XCTAssertEqual(second.ints("kernel_shape"), [1, 1])
        let constants = compressed.constants
        XCTAssertEqual(constants[a.inputs[1]]?.shape, [3, 8, 3, 3])
        XCTAssertEqual(constants[second.inputs[1]]?.shape, [16, 3, 1, 1])
        XCTAssertEqual(second.inputs[2], "bias", "the second layer carries the bias")
        XCTAssertEqual(compressed.model.metadata.first { $0.key == Compressor.bottleneckMetadataKey }?.value,
                       "conv/lowrank_a_output_0")
        XCTAssertEqual(report.bottlenecks, ["conv/lowrank_a_output_0"])

        let layer = try XCTUnwrap(report.layers.first)
        XCTAssertEqual(layer.kind, .lowRank)
        XCTAssertEqual(layer.rank, 3)
        XCTAssertEqual(layer.method, "svd")
        // Output 5×3 positions: 15·16·72 MACs before, 15·(3·72 + 16·3) after.
        XCTAssertEqual(layer.macsBefore, 15 * 16 * 72)
        XCTAssertEqual(layer.macsAfter, 15 * (3 * 72 + 16 * 3))
        XCTAssertEqual(layer.outputElementsBefore, 15 * 16)
        XCTAssertEqual(layer.outputElementsAfter, 15 * 3)
        XCTAssertEqual(report.model.macsAfter, layer.macsAfter)
        XCTAssertLessThan(try XCTUnwrap(layer.relativeError), 1e-5)

        let x = b.random.tensor([1, 8, 9, 9])
        let expected = try XCTUnwrap(try execute(graph, ["x": x])["y"])
        XCTAssertLessThan(relativeL2(try XCTUnwrap(try execute(compressed, ["x": x])["y"]), expected), 1e-5)
    }

    func testRankRatioIsTheCeilingOfRTimesTheSmallerSide() throws {
        var b = GraphBuilder()
        b.input("x", [1, 16, 6, 6])
        b.weight("W", [32, 16, 3, 3])     // min(32, 144) = 32 → ⌈0.3·32⌉ = 10
        b.weight("B", [40, 200])          // Gemm transB: N = 40, K = 200 → ⌈0.3·40⌉ = 12
        b.node("Conv", ["x", "W"], ["c"], name: "conv", ["pads": .ints([1, 1, 1, 1])])
        b.node("Flatten", ["c"], ["f"], name: "flatten")
        b.node("Slice", ["f", "starts", "ends", "axes"], ["s"], name: "slice")
        b.initializers += [Initializer(name: "starts", tensor: Tensor([1], int64s: [0])),
                           Initializer(name: "ends", tensor: Tensor([1], int64s: [200])),
                           Initializer(name: "axes", tensor: Tensor([1], int64s: [1]))]
        b.node("Gemm", ["s", "B"], ["y"], name: "fc", ["transB": .int(1)])
        let (_, report) = try Compressor.compress(try b.graph(outputs: ["y"]), options: CompressionOptions(rankRatio: 0.3))
        XCTAssertEqual(report.layers.map(\.rank), [10, 12])
        XCTAssertEqual(report.layers.map(\.node), ["conv", "fc"])
    }

    /// Full rank would cost more than the original: such layers are skipped, never decomposed.
    func testNeverDecomposesAtARankThatDoesNotReduceMACs() throws {
        var b = GraphBuilder()
        b.input("x", [1, 8, 5, 5])
        b.weight("W", [8, 8, 1, 1])  // 8×8: r < 64/16 = 4 needed
        b.node("Conv", ["x", "W"], ["y"], name: "pointwise")
        let graph = try b.graph(outputs: ["y"])
        for ratio in [0.5, 1.0] {
            let (compressed, report) = try Compressor.compress(graph, options: CompressionOptions(rankRatio: ratio))
            XCTAssertEqual(compressed.nodes.map(\.opType), ["Conv"])
            XCTAssertTrue(report.layers.isEmpty)
            XCTAssertEqual(report.model.macsAfter, report.model.macsBefore)
            XCTAssertEqual(report.skipped.first?.node, "pointwise")
            XCTAssertTrue(report.skipped.first?.reason.contains("would not reduce MACs") ?? false)
        }
        let (_, smaller) = try Compressor.compress(graph, options: CompressionOptions(rankRatio: 0.375))  // r = 3
        XCTAssertEqual(smaller.layers.first?.rank, 3)
        XCTAssertLessThan(smaller.model.macsAfter, smaller.model.macsBefore)
    }

    func testGemmAndMatMulOfLowRankWeightsAreReproduced() throws {
        var b = GraphBuilder()
        b.input("x", [4, 30])
        b.weight("B", [30, 20], lowRank(rows: 30, columns: 20, rank: 2, &b.random))  // transB = 0: B is K×N
        b.weight("C", [20])
        b.weight("M", [20, 25], lowRank(rows: 20, columns: 25, rank: 4, &b.random))
        b.node("Gemm", ["x", "B", "C"], ["g"], name: "gemm", ["alpha": .float(0.5), "beta": .float(3)])
        b.node("MatMul", ["g", "M"], ["y"], name: "matmul")
        let graph = try b.graph(outputs: ["y"])
        let (compressed, report) = try Compressor.compress(graph, options: CompressionOptions(rankEnergy: 0.999999))
        XCTAssertEqual(report.layers.map(\.rank), [2, 4])
        XCTAssertEqual(compressed.nodes.map(\.opType), ["Gemm", "Gemm", "MatMul", "MatMul"])
        let x = b.random.tensor([4, 30])
        let expected = try XCTUnwrap(try execute(graph, ["x": x])["y"])
        XCTAssertLessThan(relativeL2(try XCTUnwrap(try execute(compressed, ["x": x])["y"]), expected), 1e-5)
    }

    /// Above 1536 the ratio rule uses randomized SVD; on a matrix of rank 5 it is exact.
    func testRandomizedSVDRecoversALowRankMatrix() throws {
        var b = GraphBuilder()
        b.input("x", [2, 1600])
        b.weight("M", [1600, 1600], lowRank(rows: 1600, columns: 1600, rank: 5, &b.random))
        b.node("MatMul", ["x", "M"], ["y"], name: "big")
        let graph = try b.graph(outputs: ["y"])
        let (compressed, report) = try Compressor.compress(graph, options: CompressionOptions(rankRatio: 0.005))
        XCTAssertEqual(report.layers.first?.method, "randomized_svd")
        XCTAssertEqual(report.layers.first?.rank, 8)
        let x = b.random.tensor([2, 1600])
        let expected = try XCTUnwrap(try execute(graph, ["x": x])["y"])
        XCTAssertLessThan(relativeL2(try XCTUnwrap(try execute(compressed, ["x": x])["y"]), expected), 1e-4)
    }

    /// On the trained digits model at equal ranks, fitting the responses to
    /// calibration data keeps far more accuracy than truncating the weights;
    /// and at ≥ 2× fewer MACs it loses at most one point of test accuracy (README, Results).
    func testDataDrivenBeatsDataFreeAtEqualRankOnDigits() throws {
        let graph = try fixtureModel("digits")
        let (reference, baseline) = try Digits.reference()
        XCTAssertEqual(baseline, 446.0 / 450.0, accuracy: 1e-9, "fixture.json records 99.11%")
        var options = CompressionOptions(rankRatio: 0.25, layers: "conv2|conv3|fc1")
        let (free, freeReport) = try Compressor.compress(graph, options: options)
        options.calibration = Digits.calibration
        XCTAssertEqual(options.calibration.count, 4, "256 calibration images in sets of 64")
        let (driven, drivenReport) = try Compressor.compress(graph, options: options)

        XCTAssertEqual(freeReport.layers.map(\.rank), drivenReport.layers.map(\.rank))
        XCTAssertEqual(drivenReport.layers.map(\.method), ["response_pca", "response_pca", "response_pca"])
        XCTAssertEqual(freeReport.model.macsAfter, drivenReport.model.macsAfter)
        let reduction = Double(drivenReport.model.macsBefore) / Double(drivenReport.model.macsAfter)
        XCTAssertGreaterThanOrEqual(reduction, 2)

        let (freeLogits, freeAccuracy) = try Digits.evaluate(free)
        let (drivenLogits, drivenAccuracy) = try Digits.evaluate(driven)
        XCTAssertGreaterThan(drivenAccuracy, freeAccuracy + 0.02)
        XCTAssertGreaterThanOrEqual(drivenAccuracy, baseline - 0.01)
        XCTAssertLessThan(relativeL2(drivenLogits, reference), 0.5 * relativeL2(freeLogits, reference))
        for (f, d) in zip(freeReport.layers, drivenReport.layers) {
            XCTAssertLessThan(try XCTUnwrap(d.relativeError), try XCTUnwrap(f.relativeError), d.node)
        }
        XCTAssertEqual(drivenReport.model.evaluatedOn, "calibration")
        XCTAssertEqual(drivenReport.model.samples, 256)
        XCTAssertGreaterThan(try XCTUnwrap(drivenReport.model.top1Agreement), 0.97)
    }

    // MARK: helpers

    /// A rows×columns matrix of rank `rank` (product of two Gaussian factors).
    private func lowRank(rows: Int, columns: Int, rank: Int, _ random: inout TestRandom) -> [Float] {
        let u = (0..<(rows * rank)).map { _ in random.normal() }
        let v = (0..<(rank * columns)).map { _ in random.normal() }
        var w = [Float](repeating: 0, count: rows * columns)
        for i in 0..<rows { for k in 0..<rank { for j in 0..<columns { w[i * columns + j] += u[i * rank + k] * v[k * columns + j] * 0.1 } } }
        return w
    }
}
