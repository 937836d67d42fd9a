import CleaveBundle
import CleaveIR
import CleaveRuntime
@testable import CleaveServe
import Foundation
import XCTest

/// The pieces under the server: datatype names, Triton's configuration and
/// the model repository export. (Zlib and Quantization live in CleaveRuntime
/// and are tested there.)
final class ProtocolTests: XCTestCase {
    // MARK: names and configuration

    func testDatatypeNamesFollowKServeAndTriton() {
        XCTAssertEqual(DType.float.kserveName, "FP32")
        XCTAssertEqual(DType.bool.kserveName, "BOOL")
        XCTAssertEqual(DType.float16.tritonName, "TYPE_FP16")
        XCTAssertEqual(DType(kserveName: "INT64"), .int64)
        XCTAssertNil(DType(kserveName: "BYTES"))
        XCTAssertNil(DType.string.kserveName)
    }

    func testModelNamesComeFromTheSourceFile() throws {
        let manifest = try LoadedBundle(path: try PairFixture.get().cloudPath).manifest
        XCTAssertEqual(ServedModel.defaultName(for: manifest), "model")
        var renamed = manifest
        renamed.sourceName = "squeeze net v1.1.onnx"
        XCTAssertEqual(ServedModel.defaultName(for: renamed), "squeeze_net_v1.1")
        renamed.sourceName = ".onnx"
        XCTAssertEqual(ServedModel.defaultName(for: renamed), "_onnx")
    }

    func testTritonConfigTextNamesEveryTensorWithTypeAndDims() throws {
        let cloud = try LoadedBundle(path: try PairFixture.get().cloudPath)
        let config = try TritonModelConfig(name: "model", manifest: cloud.manifest)
        let text = config.text
        XCTAssertTrue(text.contains("name: \"model\"\n"), text)
        XCTAssertTrue(text.contains("platform: \"onnxruntime_onnx\"\n"), text)
        XCTAssertTrue(text.contains("max_batch_size: 0\n"), text)
        for spec in cloud.manifest.inputs + cloud.manifest.outputs {
            XCTAssertTrue(text.contains("name: \"\(spec.name)\"\n    data_type: TYPE_FP32\n    dims: [ \(spec.shape.dims.map(String.init).joined(separator: ", ")) ]"), spec.name)
        }
        XCTAssertEqual(config.quoted("a\"b\\c\né"), #""a\"b\\c\012\303\251""#)
    }

    func testExportWritesTheRepositoryLayoutAndRefusesToClobber() throws {
        let fixture = try PairFixture.get()
        let repository = NSTemporaryDirectory() + "cleave-triton-\(getpid())-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: repository) }
        let cloud = try LoadedBundle(path: fixture.cloudPath)
        let (folder, _) = try TritonExport.write(cloud, to: repository)
        XCTAssertEqual(folder, repository + "/model")
        let files = FileManager.default.subpaths(atPath: folder)?.sorted() ?? []
        XCTAssertEqual(files, ["1", "1/model.onnx", "1/model.onnx/model.onnx", "1/model.onnx/weights.bin", "config.pbtxt"])
        for name in ["model.onnx", "weights.bin"] {
            XCTAssertEqual(try SHA256Digest.hex(ofFile: folder + "/1/model.onnx/" + name), cloud.manifest.files.first { $0.path == name }?.sha256)
        }
        // The copied model still loads: its external data resolves beside it.
        let graph = try ONNXImporter.load(path: folder + "/1/model.onnx/model.onnx")
        let outputs = try Session(graph: graph, options: SessionOptions(threads: 1)).run(try fixture.boundary())
        XCTAssertEqual(outputs["output"]?.shape, [1, 10])

        XCTAssertThrowsError(try TritonExport.write(cloud, to: repository)) { error in
            XCTAssertEqual((error as? CleaveError)?.kind, .io)
        }
        XCTAssertNoThrow(try TritonExport.write(cloud, to: repository, force: true))
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: repository)) ?? [], ["model"])
    }
}
