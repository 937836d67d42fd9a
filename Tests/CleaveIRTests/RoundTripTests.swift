import CleaveIR
import Foundation
import XCTest

final class RoundTripTests: XCTestCase {
    /// Export then import gives the same graph: nodes, attributes, types and weight bytes.
    func testEveryFixtureRoundTrips() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for name in modelFixtures {
            let original = try ONNXImporter.load(path: "\(fixturesDirectory)/\(name)/model.onnx")
            let path = "\(directory)/\(name).onnx"
            try ONNXExporter.write(original, to: path)
            let copy = try ONNXImporter.load(path: path)
            assertSameGraph(original, copy, name)

            // Writing the copy again gives the same bytes: the writer is canonical.
            let again = "\(directory)/\(name)-again.onnx"
            try ONNXExporter.write(copy, to: again)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)),
                           try Data(contentsOf: URL(fileURLWithPath: again)), name)
        }
    }

    func testExternalWeightsAreReferencedNotEmbedded() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let graph = try ONNXImporter.load(path: "\(fixturesDirectory)/pytorch_style/model.onnx")
        // Lay the weights out back to back in weights.bin, then point the model at them.
        var offsets: [String: Int] = [:]
        var blob: [UInt8] = []
        for initializer in graph.initializers {
            offsets[initializer.name] = blob.count
            blob += Array(initializer.tensor.storage.bytes)
        }
        try Data(blob).write(to: URL(fileURLWithPath: directory + "/weights.bin"))
        try ONNXExporter.write(graph, to: directory + "/model.onnx", weights: .external(location: "weights.bin", offsets: offsets))
        try ONNXExporter.write(graph, to: directory + "/embedded.onnx")
        func size(_ name: String) throws -> Int {
            try XCTUnwrap(FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.size] as? Int)
        }
        XCTAssertLessThan(try size("model.onnx"), try size("embedded.onnx") - blob.count / 2, "weights were embedded")
        let reloaded = try ONNXImporter.load(path: directory + "/model.onnx")
        assertSameGraph(graph, reloaded, "external")
    }

    func testFailedWriteLeavesNothingBehind() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let graph = try ONNXImporter.load(path: "\(fixturesDirectory)/pytorch_style/model.onnx")
        // The destination's folder does not exist: the write fails with an I/O error.
        XCTAssertThrowsError(try ONNXExporter.write(graph, to: directory + "/missing/model.onnx")) { error in
            XCTAssertEqual((error as? CleaveError)?.kind, .io)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [])
    }

    func assertSameGraph(_ a: Graph, _ b: Graph, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.model.irVersion, b.model.irVersion, name, file: file, line: line)
        XCTAssertEqual(a.model.opsets, b.model.opsets, name, file: file, line: line)
        XCTAssertEqual(a.model.producerName, b.model.producerName, name, file: file, line: line)
        XCTAssertEqual(a.inputs, b.inputs, name, file: file, line: line)
        XCTAssertEqual(a.outputs, b.outputs, name, file: file, line: line)
        XCTAssertEqual(a.nodes.count, b.nodes.count, name, file: file, line: line)
        for (x, y) in zip(a.nodes, b.nodes) {
            XCTAssertEqual(x.name, y.name, file: file, line: line)
            XCTAssertEqual(x.opType, y.opType, file: file, line: line)
            XCTAssertEqual(x.inputs, y.inputs, file: file, line: line)
            XCTAssertEqual(x.outputs, y.outputs, file: file, line: line)
            XCTAssertEqual(x.attributes.map(\.name), y.attributes.map(\.name), file: file, line: line)
        }
        XCTAssertEqual(a.initializers.map(\.name), b.initializers.map(\.name), name, file: file, line: line)
        for (x, y) in zip(a.initializers, b.initializers) {
            XCTAssertEqual(x.tensor.type, y.tensor.type, x.name, file: file, line: line)
            XCTAssertEqual(Array(x.tensor.storage.bytes), Array(y.tensor.storage.bytes), x.name, file: file, line: line)
        }
    }
}
