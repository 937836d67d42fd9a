import CleaveIR
import CleaveRuntime
import Foundation
import XCTest

/// Every committed fixture, run end to end, matches ONNX Runtime's reference outputs.
final class FixtureTests: XCTestCase {
    func testEveryFixtureMatchesONNXRuntime() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: fixturesDirectory).sorted()
            .filter { FileManager.default.fileExists(atPath: "\(fixturesDirectory)/\($0)/fixture.json") }
        XCTAssertGreaterThanOrEqual(names.count, 6)
        for name in names {
            let folder = "\(fixturesDirectory)/\(name)"
            let spec = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: folder + "/fixture.json"))))
            let graph = try ONNXImporter.load(path: folder + "/model.onnx")
            for threads in [1, 2] {
                let session = try Session(graph: graph, options: SessionOptions(threads: threads))
                var feeds: [String: Tensor] = [:]
                for input in spec["inputs"]?.arrayValue ?? [] {
                    let inputName = try XCTUnwrap(input["name"]?.stringValue)
                    feeds[inputName] = try Npy.read(path: folder + "/" + XCTUnwrap(input["file"]?.stringValue))
                }
                let outputs = try session.run(feeds)
                for output in spec["outputs"]?.arrayValue ?? [] {
                    let outputName = try XCTUnwrap(output["name"]?.stringValue)
                    let expected = try Npy.read(path: folder + "/" + XCTUnwrap(output["file"]?.stringValue))
                    let actual = try XCTUnwrap(outputs[outputName], "\(name): \(outputName) missing")
                    XCTAssertEqual(actual.dtype, expected.dtype, "\(name)/\(outputName)")
                    assertClose(actual, expected, rtol: 1e-3, atol: 1e-4, "\(name)/\(outputName) at \(threads) threads")
                }
            }
        }
    }
}
