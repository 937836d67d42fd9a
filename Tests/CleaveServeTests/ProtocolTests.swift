import CleaveBundle
import CleaveIR
import CleaveRuntime
@testable import CleaveServe
import Foundation
import XCTest

/// The pieces under the server: inflate limits, the int8 codec, datatype
/// names, Triton's configuration and the model repository export.
final class ProtocolTests: XCTestCase {
    // MARK: zlib

    func testInflateRoundTripsAndStopsAtTheLimit() throws {
        let data = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 * 7 / 5) }
        let compressed = data.withUnsafeBytes { Zlib.deflate($0) }
        XCTAssertEqual(try compressed.withUnsafeBytes { try Zlib.inflate($0, format: .zlib, limit: data.count) }, data)
        // One byte under the output's size is refused, and as a 413.
        XCTAssertThrowsError(try compressed.withUnsafeBytes { try Zlib.inflate($0, format: .zlib, limit: data.count - 1) }) { error in
            XCTAssertEqual((error as? ServeError)?.status, 413)
        }
        // A bare RFC 1951 stream sent as "deflate" (some clients do) is read too.
        let raw = Array(compressed.dropFirst(2).dropLast(4))
        XCTAssertEqual(try raw.withUnsafeBytes { try Zlib.inflate($0, format: .zlib, limit: data.count) }, data)
        // Empty input is a truncated stream, not an empty body.
        XCTAssertThrowsError(try [UInt8]().withUnsafeBytes { try Zlib.inflate($0, format: .gzip, limit: 10) }) { error in
            XCTAssertEqual((error as? ServeError)?.status, 400)
        }
    }

    func testAZipBombCostsNoMoreThanTheLimit() throws {
        // 64 MiB of zeros deflate to about 64 KB; the limit stops it at 1 MiB of output.
        let zeros = [UInt8](repeating: 0, count: 64 << 20)
        let stream = zeros.withUnsafeBytes { Zlib.deflate($0, level: 9) }
        XCTAssertLessThan(stream.count, 128 << 10)
        let start = Session.now()
        XCTAssertThrowsError(try stream.withUnsafeBytes { try Zlib.inflate($0, format: .zlib, limit: 1 << 20) }) { error in
            XCTAssertEqual((error as? ServeError)?.status, 413)
        }
        XCTAssertLessThan(Session.now() - start, 1.0)
    }

    // MARK: int8 codec

    func testQuantisationKeepsZeroExactAndErrsByAtMostOneStep() throws {
        let values: [Float] = [0, 0, 0.5, 3.25, 7.9, 0, 1e-4, 2.0]
        let q = try values.withUnsafeBufferPointer { try Quantization(covering: $0, name: "t") }
        XCTAssertEqual(q.zeroPoint, 0)
        XCTAssertEqual(q.scale, 7.9 / 255, accuracy: 1e-9)
        var codes = [UInt8](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { v in codes.withUnsafeMutableBufferPointer { q.quantize(v, into: $0) } }
        var restored = [Float](repeating: -1, count: values.count)
        codes.withUnsafeBytes { c in restored.withUnsafeMutableBufferPointer { q.dequantize(c, into: $0) } }
        for (x, y) in zip(values, restored) {
            XCTAssertLessThanOrEqual(abs(x - y), q.scale / 2 + 1e-6, "\(x)")
            if x == 0 { XCTAssertEqual(y, 0) }
        }
        // A negative range moves the zero point; constant zeros get scale 1.
        let signed = try [Float(-1), 1].withUnsafeBufferPointer { try Quantization(covering: $0, name: "t") }
        XCTAssertTrue((127...128).contains(signed.zeroPoint), "\(signed.zeroPoint)")
        XCTAssertEqual(try [Float](repeating: 0, count: 4).withUnsafeBufferPointer { try Quantization(covering: $0, name: "t") },
                       Quantization(scale: 1, zeroPoint: 0))
        XCTAssertThrowsError(try [Float.nan].withUnsafeBufferPointer { try Quantization(covering: $0, name: "t") })
    }

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
