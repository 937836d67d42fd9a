@testable import CleaveIR
import Foundation
import XCTest

final class ImportTests: XCTestCase {
    func testEveryFixtureImports() throws {
        XCTAssertGreaterThanOrEqual(modelFixtures.count, 6, "fixtures/ is missing models")
        for name in modelFixtures {
            let graph = try ONNXImporter.load(path: "\(fixturesDirectory)/\(name)/model.onnx")
            XCTAssertFalse(graph.nodes.isEmpty, name)
            XCTAssertFalse(graph.outputs.isEmpty, name)
        }
    }

    func testInitializersStayInTheMappedFile() throws {
        let graph = try ONNXImporter.load(path: "\(fixturesDirectory)/pytorch_style/model.onnx")
        XCTAssertFalse(graph.initializers.isEmpty)
        for initializer in graph.initializers {
            XCTAssertTrue(initializer.tensor.storage.isFileBacked, "\(initializer.name) was copied")
        }
    }

    func testExternalDataIsMappedFromItsFile() throws {
        let graph = try ONNXImporter.load(path: "\(fixturesDirectory)/external_data/model.onnx")
        let reference = try ONNXImporter.load(path: "\(fixturesDirectory)/pytorch_style/model.onnx")
        XCTAssertEqual(graph.initializers.count, reference.initializers.count)
        for (a, b) in zip(graph.initializers, reference.initializers) {
            XCTAssertEqual(a.name, b.name)
            XCTAssertTrue(a.tensor.storage.isFileBacked)
            XCTAssertEqual(Array(a.tensor.storage.bytes), Array(b.tensor.storage.bytes), a.name)
        }
    }

    func testExporterStylesAreUnderstood() throws {
        // IR 3: initializers are listed as inputs, but only data_0 must be fed.
        let caffe2 = try ONNXImporter.load(path: "\(fixturesDirectory)/caffe2_style/model.onnx")
        XCTAssertEqual(caffe2.model.irVersion, 3)
        XCTAssertEqual(caffe2.runtimeInputs.map(\.name), ["data_0"])
        XCTAssertGreaterThan(caffe2.inputs.count, 1)

        // PaddlePaddle keeps weights in Constant nodes: they count as constants.
        let paddle = try ONNXImporter.load(path: "\(fixturesDirectory)/paddle_style/model.onnx")
        XCTAssertTrue(paddle.initializers.isEmpty)
        let constantNodes = paddle.nodes.filter { $0.opType == "Constant" }
        XCTAssertFalse(constantNodes.isEmpty)
        XCTAssertEqual(paddle.constants.count, constantNodes.count)
        // paddle2onnx writes -1 or "?" for a dynamic dim: each reads as its own unknown, resolved from --input-shape.
        XCTAssertEqual(paddle.runtimeInputs.first?.dims, [.unknown, .fixed(3), .unknown, .unknown])
        XCTAssertEqual(paddle.outputs.first?.dims, [.unknown, .fixed(10)])
        assertThrowsCleaveError(.usage, containing: "input 'x' has an unknown dim at axis 2; give --input-shape x=1,3,?,?") {
            _ = try Analysis(graph: paddle)
        }
        let resolved = try Analysis(graph: paddle, inputShapes: ["x": [1, 3, 48, 192]])
        XCTAssertEqual(resolved.types["save_infer_model/scale_0.tmp_1"]?.shape, [1, 10])

        // tf2onnx: NHWC input with a symbolic batch dim.
        let tf = try ONNXImporter.load(path: "\(fixturesDirectory)/tf2onnx_style/model.onnx")
        XCTAssertEqual(tf.runtimeInputs.first?.name, "input_1:0")
        XCTAssertEqual(tf.runtimeInputs.first?.dims?.last, .fixed(3))
        XCTAssertEqual(tf.opsetVersion, 13)
    }

    func testMalformedModelsAreRefusedWithTheirProblemNamed() throws {
        let casesPath = "\(fixturesDirectory)/bad/cases.json"
        let cases = try XCTUnwrap(try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: casesPath)))).arrayValue)
        XCTAssertGreaterThanOrEqual(cases.count, 14)
        for entry in cases {
            let file = try XCTUnwrap(entry["file"]?.stringValue)
            let expected = try XCTUnwrap(entry["expect"]?.stringValue)
            assertThrowsCleaveError(.badInput, containing: expected) {
                try ONNXImporter.load(path: "\(fixturesDirectory)/bad/\(file)")
            }
        }
    }

    func testRandomPrefixesNeverTrap() throws {
        // Every prefix of a real model is either a valid model or a clean error.
        let source = try Data(contentsOf: URL(fileURLWithPath: "\(fixturesDirectory)/tf2onnx_style/model.onnx"))
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/prefix.onnx"
        var rejected = 0
        for length in stride(from: 0, to: source.count, by: max(1, source.count / 200)) {
            try source.prefix(length).write(to: URL(fileURLWithPath: path))
            do { _ = try ONNXImporter.load(path: path) } catch let error as CleaveError {
                XCTAssertEqual(error.kind, .badInput)
                rejected += 1
            }
        }
        XCTAssertGreaterThan(rejected, 150)
    }
}
