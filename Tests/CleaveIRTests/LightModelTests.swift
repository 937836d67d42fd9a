import CleaveIR
import Foundation
import XCTest

/// The nine full-size model-zoo architectures from tools/light_models.py
/// (hundreds of MB, so not in the repository): each must analyse, and its
/// output shape must be the one ONNX Runtime produced. Skipped unless the
/// models exist in `$CLEAVE_LIGHT_MODELS` or `.models/light`.
final class LightModelTests: XCTestCase {
    static let names = ["alexnet", "vgg19", "resnet50", "squeezenet", "densenet121", "inception_v1", "inception_v2",
                        "shufflenet", "zfnet512"]

    var modelsDirectory: String {
        ProcessInfo.processInfo.environment["CLEAVE_LIGHT_MODELS"] ?? repositoryRoot + "/.models/light"
    }

    /// The shape in a .npy header (`'shape': (1, 1000)`).
    func npyShape(_ path: String) throws -> [Int] {
        let handle = try XCTUnwrap(FileHandle(forReadingAtPath: path))
        defer { try? handle.close() }
        let header = String(decoding: handle.readData(ofLength: 256), as: UTF8.self)
        let start = try XCTUnwrap(header.range(of: "'shape': ("))
        let end = try XCTUnwrap(header[start.upperBound...].firstIndex(of: ")"))
        return header[start.upperBound..<end].split(separator: ",").compactMap {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
    }

    func testLightModelsAnalyseWithONNXRuntimeOutputShapes() throws {
        let present = Self.names.filter { FileManager.default.fileExists(atPath: "\(modelsDirectory)/\($0).onnx") }
        try XCTSkipIf(present.isEmpty, "no models in \(modelsDirectory); run tools/light_models.py")
        for name in present {
            let started = Date()
            let graph = try ONNXImporter.load(path: "\(modelsDirectory)/\(name).onnx")
            let analysis = try Analysis(graph: graph)
            let seconds = Date().timeIntervalSince(started)
            let output = try XCTUnwrap(graph.outputs.first?.name)
            let expected = try npyShape("\(modelsDirectory)/\(name)/ort_output_0.npy")
            XCTAssertEqual(analysis.types[output]?.shape.dims, expected, name)
            let weights = graph.initializers.reduce(0) { $0 + $1.tensor.elementCount }
            XCTAssertEqual(analysis.totals.params, weights, "\(name): every weight counted once")
            print(String(format: "light model %@: %d nodes, %.3f GMACs, %d params, import+analysis %.3f s",
                         name, graph.nodes.count, Double(analysis.totals.macs) / 1e9, analysis.totals.params, seconds))
        }
    }
}
