import CleaveCompress
import CleaveIR
import CleaveRuntime
import XCTest

final class PruningTests: XCTestCase {
    /// The tiny ResNet's residual Add ties the stem's channels to the block's
    /// second conv: both lose the same channels, and every shape stays consistent.
    func testResidualAddPrunesBothBranchesAlike() throws {
        let graph = try fixtureModel("pytorch_style")
        let (pruned, report) = try Compressor.compress(graph, options: CompressionOptions(pruneRatio: 0.5))
        let analysis = try Analysis(graph: pruned)  // throws if any shape no longer fits
        let producers = pruned.producers
        var residuals = 0
        for node in pruned.nodes where node.opType == "Add" {
            let shapes = node.inputs.compactMap { analysis.types[$0]?.shape }
            XCTAssertEqual(shapes.count, 2)
            XCTAssertEqual(shapes.first, shapes.last, "\(node.name): both branches keep the same channels")
            residuals += 1
            // Every Conv feeding the residual stream was pruned by the same amount.
            let convs = node.inputs.compactMap { producers[$0] }.map { pruned.nodes[$0] }
            XCTAssertFalse(convs.isEmpty)
        }
        XCTAssertGreaterThan(residuals, 0)
        let prunedLayers = report.layers.filter { $0.kind == .pruned }
        XCTAssertGreaterThanOrEqual(prunedLayers.count, 3)
        for layer in prunedLayers {
            let channels = try XCTUnwrap(layer.channels)
            XCTAssertEqual(layer.keptChannels, channels - Int((0.5 * Double(channels)).rounded()), layer.node)
            XCTAssertLessThan(layer.macsAfter, layer.macsBefore, layer.node)
            XCTAssertLessThan(layer.outputElementsAfter, layer.outputElementsBefore, layer.node)
        }
        XCTAssertLessThan(report.model.macsAfter, report.model.macsBefore / 2)
        let input = try fixtureArray("pytorch_style", "inputs/input.npy")
        XCTAssertEqual(try XCTUnwrap(try execute(pruned, ["input": input])["output"]).shape, [1, 10])
    }

    /// Refitting the layers that lost inputs on calibration data recovers most
    /// of what dropping channels cost.
    func testLeastSquaresRefitRecoversAccuracyOnDigits() throws {
        let graph = try fixtureModel("digits")
        let (sliced, slicedReport) = try Compressor.compress(graph, options: CompressionOptions(pruneRatio: 0.5))
        let (refit, refitReport) = try Compressor.compress(graph, options: CompressionOptions(calibration: Digits.calibration, pruneRatio: 0.5))
        XCTAssertEqual(slicedReport.model.macsAfter, refitReport.model.macsAfter)
        XCTAssertGreaterThan(Double(refitReport.model.macsBefore) / Double(refitReport.model.macsAfter), 3)
        XCTAssertEqual(refitReport.layers.map(\.method), ["l1", "l1+least_squares", "l1+least_squares", "least_squares"])
        let (reference, baseline) = try Digits.reference()
        let slicedError = relativeL2(try Digits.evaluate(sliced).logits, reference)
        let (refitLogits, refitAccuracy) = try Digits.evaluate(refit)
        XCTAssertLessThan(relativeL2(refitLogits, reference), slicedError / 3)
        XCTAssertGreaterThanOrEqual(refitAccuracy, baseline - 0.01)
    }

    /// A Flatten into a Gemm loses the matching blocks of features; the model keeps running.
    func testFlattenIntoGemmLosesTheMatchingFeatures() throws {
        var b = GraphBuilder()
        b.input("x", [1, 3, 4, 4])
        b.weight("W", [6, 3, 3, 3], (0..<162).map { Float($0 % 7) - 3 })
        b.weight("bias", [6])
        b.weight("fc", [5, 96])
        b.node("Conv", ["x", "W", "bias"], ["c"], name: "conv", ["pads": .ints([1, 1, 1, 1])])
        b.node("Relu", ["c"], ["r"], name: "relu")
        b.node("Flatten", ["r"], ["f"], name: "flatten")
        b.node("Gemm", ["f", "fc"], ["y"], name: "gemm", ["transB": .int(1)])
        let (pruned, report) = try Compressor.compress(try b.graph(outputs: ["y"]), options: CompressionOptions(pruneRatio: 1.0 / 3))
        XCTAssertEqual(report.layers.map(\.kind), [.pruned, .prunedInputs])
        XCTAssertEqual(report.layers.first?.keptChannels, 4)
        XCTAssertEqual(pruned.constants[pruned.nodes[3].inputs[1]]?.shape, [5, 64])
        let x = b.random.tensor([1, 3, 4, 4])
        XCTAssertEqual(try XCTUnwrap(try execute(pruned, ["x": x])["y"]).shape, [1, 5])
        // Dropped channels' contributions are gone, kept ones untouched: the kept conv outputs are identical.
        let kept = try XCTUnwrap(report.layers.first?.relativeError)
        XCTAssertLessThan(kept, 1e-6)
    }

    /// Channels that reach LRN (which mixes channels) or a grouped conv cannot
    /// be pruned; the report says why and the model is unchanged.
    func testBlockedGroupsAreReportedAndLeftAlone() throws {
        let graph = try fixtureModel("caffe2_style")
        let (pruned, report) = try Compressor.compress(graph, options: CompressionOptions(pruneRatio: 0.5))
        XCTAssertEqual(report.model.macsAfter, report.model.macsBefore)
        XCTAssertEqual(pruned.nodes.count, graph.nodes.count)
        XCTAssertTrue(report.skipped.contains { $0.reason.contains("LRN") }, "\(report.skipped)")
    }
}

final class WeightStorageTests: XCTestCase {
    func testHalfAndInt8WeightsShrinkTheFileAndKeepAccuracy() throws {
        let graph = try fixtureModel("digits")
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var sizes: [WeightStorage: Int] = [:]
        var errors: [WeightStorage: Double] = [:]
        let (reference, baseline) = try Digits.reference()
        for storage in WeightStorage.allCases {
            let (compressed, report) = try Compressor.compress(graph, options: CompressionOptions(weights: storage))
            let path = "\(directory)/\(storage.rawValue).onnx"
            try ONNXExporter.write(compressed, to: path)
            sizes[storage] = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
            let reloaded = try ONNXImporter.load(path: path)
            let (logits, accuracy) = try Digits.evaluate(reloaded)
            errors[storage] = relativeL2(logits, reference)
            XCTAssertGreaterThanOrEqual(accuracy, baseline - 0.005, storage.rawValue)
            XCTAssertEqual(report.weights, storage)
        }
        let fp32 = Double(try XCTUnwrap(sizes[.fp32]))
        XCTAssertLessThan(Double(try XCTUnwrap(sizes[.fp16])), 0.52 * fp32)
        XCTAssertLessThan(Double(try XCTUnwrap(sizes[.int8])), 0.27 * fp32)
        XCTAssertEqual(try XCTUnwrap(errors[.fp32]), 0, accuracy: 1e-7)
        XCTAssertLessThan(try XCTUnwrap(errors[.fp16]), 1e-3)
        XCTAssertLessThan(try XCTUnwrap(errors[.int8]), 2e-2)
    }

    func testInt8UsesPerChannelDequantizeLinearFromOpset13AndCastMulBefore() throws {
        let (modern, _) = try Compressor.compress(try fixtureModel("digits"), options: CompressionOptions(weights: .int8))
        let dequantizers = modern.nodes.filter { $0.opType == "DequantizeLinear" }
        XCTAssertEqual(dequantizers.count, 5)
        let constants = modern.constants
        for node in dequantizers {
            XCTAssertEqual(constants[node.inputs[0]]?.dtype, .int8)
            XCTAssertEqual(constants[node.inputs[1]]?.shape.rank, 1, "one scale per output channel")
            XCTAssertNotNil(node.int("axis"))
        }
        let legacy = try fixtureModel("caffe2_style")  // opset 9
        let (old, _) = try Compressor.compress(legacy, options: CompressionOptions(weights: .int8))
        XCTAssertFalse(old.nodes.contains { $0.opType == "DequantizeLinear" })
        XCTAssertTrue(old.nodes.contains { $0.opType == "Cast" } && old.nodes.contains { $0.opType == "Mul" })
        let input = try fixtureArray("caffe2_style", "inputs/data_0.npy")
        let expected = try fixtureArray("caffe2_style", "outputs/prob_1.npy")
        XCTAssertLessThan(relativeL2(try XCTUnwrap(try execute(old, ["data_0": input])["prob_1"]), expected), 2e-2)
    }
}

final class BoundaryQuantizerTests: XCTestCase {
    /// Cutting the digits model after conv2 with the int8 codec: the edge half
    /// sends uint8 (a quarter of the bytes), the cloud half dequantizes, and
    /// the whole stays accurate.
    func testInt8BoundaryRoundTripAndCut() throws {
        let graph = try fixtureModel("digits")
        let boundary = "/conv2/Relu_output_0"
        let (coded, crossing) = try BoundaryQuantizer.quantize(graph, crossing: [boundary], calibration: Digits.calibration,
                                                           inputShapes: [:])
        XCTAssertEqual(crossing, [boundary + ".int8"])
        XCTAssertEqual(coded.nodes.filter { $0.opType == "QuantizeLinear" }.count, 1)
        XCTAssertEqual(coded.nodes.filter { $0.opType == "DequantizeLinear" }.count, 1)
        XCTAssertFalse(coded.nodes.contains { $0.opType != "DequantizeLinear" && $0.opType != "QuantizeLinear" && $0.inputs.contains(boundary) },
                       "readers of the boundary read the dequantized tensor")

        let (reference, baseline) = try Digits.reference()
        let (codedLogits, codedAccuracy) = try Digits.evaluate(coded)
        XCTAssertLessThan(relativeL2(codedLogits, reference), 2e-2)
        XCTAssertGreaterThanOrEqual(codedAccuracy, baseline - 0.005)

        let analysis = try Analysis(graph: coded)
        let partition = try Partition(graph: coded, cutAt: crossing)
        XCTAssertEqual(partition.boundary, crossing)
        let edge = try partition.half(.edge, of: coded, types: analysis.types)
        let cloud = try partition.half(.cloud, of: coded, types: analysis.types)
        XCTAssertEqual(edge.outputs.map(\.dtype), [.uint8])
        XCTAssertTrue(edge.nodes.contains { $0.opType == "QuantizeLinear" })
        XCTAssertTrue(cloud.nodes.contains { $0.opType == "DequantizeLinear" })
        let original = try Analysis(graph: graph)
        XCTAssertEqual(analysis.types[crossing[0]]?.byteCount, (original.types[boundary]?.byteCount ?? 0) / 4)

        // Edge then cloud gives the coded model's output.
        let image = try fixtureArray("digits", "inputs/image.npy")
        let wire = try XCTUnwrap(try execute(edge, ["image": image])[crossing[0]])
        let composed = try XCTUnwrap(try execute(cloud, [crossing[0]: wire])["logits"])
        let whole = try XCTUnwrap(try execute(coded, ["image": image])["logits"])
        XCTAssertEqual(composed.floats, whole.floats)
    }

    /// The inserted scale and zero point are what `cleave run --remote` would
    /// send for the boundary's values over all calibration sets together.
    func testParametersAreTheWireQuantizationOfTheWholeCalibrationRange() throws {
        let graph = try fixtureModel("digits")
        let boundary = "/conv1/Conv_output_0"  // before the ReLU: negative values move the zero point
        let sets = Array(Digits.calibration.prefix(2))
        XCTAssertEqual(sets.count, 2)
        let (coded, _) = try BoundaryQuantizer.quantize(graph, crossing: [boundary], calibration: sets, inputShapes: [:])
        var probe = graph
        probe.outputs.append(ValueInfo(name: boundary, dtype: nil, dims: nil))
        var values: [Float] = []
        for set in sets { values += try XCTUnwrap(try execute(probe, set)[boundary]).floats }
        let expected = try values.withUnsafeBufferPointer { try Quantization(covering: $0, name: boundary) }
        XCTAssertGreaterThan(expected.zeroPoint, 0)
        XCTAssertLessThan(expected.zeroPoint, 255)
        XCTAssertEqual(coded.constants[boundary + ".int8.scale"]?.floats, [expected.scale])
        XCTAssertEqual(coded.constants[boundary + ".int8.zero_point"]?.elements(as: UInt8.self), [UInt8(expected.zeroPoint)])

        // A NaN that reaches the boundary has no 8-bit range: refused, naming the tensor.
        var poisoned = sets[0]
        let image = try XCTUnwrap(poisoned["image"])
        poisoned["image"] = Tensor(image.shape, floats: [Float.nan] + image.floats.dropFirst())
        XCTAssertThrowsError(try BoundaryQuantizer.quantize(graph, crossing: [boundary], calibration: [poisoned], inputShapes: [:])) { error in
            XCTAssertEqual((error as? CleaveError)?.kind, .badInput)
            XCTAssertTrue((error as? CleaveError)?.message.contains("'\(boundary)' holds nan") == true, "\(error)")
        }
    }

    func testRejectsWeightsAndOldOpsets() throws {
        let graph = try fixtureModel("digits")
        XCTAssertThrowsError(try BoundaryQuantizer.quantize(graph, crossing: ["conv1.weight"], calibration: [], inputShapes: [:])) { error in
            XCTAssertEqual((error as? CleaveError)?.kind, .badInput)
        }
        XCTAssertThrowsError(try BoundaryQuantizer.quantize(try fixtureModel("caffe2_style"), crossing: ["conv1_2"], calibration: [], inputShapes: [:])) { error in
            XCTAssertEqual((error as? CleaveError)?.kind, .usage)
        }
    }
}

final class CalibrationTests: XCTestCase {
    func testSplitsSamplesIntoBatches() throws {
        let digits = try fixtureModel("digits")  // batch dim symbolic: sets of up to 64
        let array = try fixtureArray("digits", "calibration.npy")
        let sets = try Calibration.inputSets(["image": array], for: digits)
        XCTAssertEqual(sets.map { $0["image"]?.shape[0] }, [64, 64, 64, 64])
        XCTAssertEqual(sets[1]["image"]?.floats.prefix(3), array.floats[(64 * 64)..<(64 * 64 + 3)])
        // One sample without its batch axis.
        let one = Tensor([1, 8, 8], floats: [Float](repeating: 0.5, count: 64))
        XCTAssertEqual(try Calibration.inputSets(["image": one], for: digits).map { $0["image"]?.shape }, [[1, 1, 8, 8]])

        let fixed = try fixtureModel("caffe2_style")  // data_0 is [1, 3, 32, 32]
        let three = Tensor(zeros: .float, [3, 3, 32, 32])
        XCTAssertEqual(try Calibration.inputSets(["data_0": three], for: fixed).count, 3)
    }

    func testRejectsDataThatDoesNotFit() {
        let digits = try? fixtureModel("digits")
        guard let digits else { return XCTFail("digits fixture") }
        for arrays: [String: Tensor] in [["image": Tensor(zeros: .float, [4, 3, 8, 8])],
                                         ["picture": Tensor(zeros: .float, [4, 1, 8, 8])],
                                         ["image": Tensor(zeros: .double, [4, 1, 8, 8])]] {
            XCTAssertThrowsError(try Calibration.inputSets(arrays, for: digits)) { error in
                XCTAssertEqual((error as? CleaveError)?.kind, .usage)
            }
        }
    }
}
