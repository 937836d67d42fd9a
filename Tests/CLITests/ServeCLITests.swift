import CleaveIR
import Foundation
import XCTest

/// `serve`, `export-triton` and `run --remote` as users call them: argument
/// checks, refusing a bundle that does not verify, and what export writes.
/// (The HTTP side runs end to end in tools/interop_triton.py and tools/soak.py.)
final class ServeCLITests: XCTestCase {
    func testHelpTeachesTheServingCommands() throws {
        let root = try cleave("--help")
        for command in ["serve", "export-triton", "export-kserve"] { XCTAssertTrue(root.stdout.contains(command), command) }
        let serve = try cleave("serve", "--help")
        XCTAssertTrue(serve.stdout.contains("--max-body") && serve.stdout.contains("SIGTERM"), serve.stdout)
        let run = try cleave("run", "--help")
        XCTAssertTrue(run.stdout.contains("--remote") && run.stdout.contains("--link-bandwidth"), run.stdout)
    }

    func testBadArgumentsExit64() throws {
        let model = "\(fixturesDirectory)/pytorch_style/model.onnx"
        XCTAssertEqual(try cleave("serve", "somewhere", "--port", "70000").status, 64)
        XCTAssertEqual(try cleave("serve", "somewhere", "--max-body", "lots").status, 64)
        XCTAssertEqual(try cleave("serve", "somewhere", "--name", "a/b").status, 64)
        XCTAssertEqual(try cleave("run", model, "--boundary-codec", "int8").status, 64)  // needs --remote
        XCTAssertEqual(try cleave("run", model, "--remote", "127.0.0.1:8000").status, 64)  // not a URL
        XCTAssertEqual(try cleave("run", model, "--remote", "http://127.0.0.1:1", "--link-bandwidth", "fast").status, 64)
        XCTAssertEqual(try cleave("run", "edge", "cloud", "--remote", "http://127.0.0.1:1").status, 64)
        XCTAssertEqual(try cleave("run", model, "--strict-pair").status, 64)  // needs --remote
        XCTAssertEqual(try cleave("run", model, "--remote-wire", "json").status, 64)  // needs --remote
        XCTAssertEqual(try cleave("run", model, "--remote", "http://127.0.0.1:1", "--remote-wire", "xml").status, 64)
        XCTAssertEqual(try cleave("export-triton", "somewhere").status, 64)  // -o missing
        XCTAssertEqual(try cleave("export-kserve", "somewhere").status, 64)  // -o missing
        XCTAssertEqual(try cleave("export-kserve", "somewhere", "-o", "x", "--storage-uri", "bucket/path").status, 64)
        XCTAssertEqual(try cleave("export-kserve", "somewhere", "-o", "x", "--name", ".hidden").status, 64)
    }

    func testServeRefusesABundleThatDoesNotVerify() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pair = directory + "/pair"
        XCTAssertEqual(try cleave("cut", "\(fixturesDirectory)/pytorch_style/model.onnx", "--at", "/relu/Relu_output_0", "-o", pair).status, 0)
        let weights = pair + "/cloud/weights.bin"
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: weights)))
        bytes[0] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: weights))
        let results = [try cleave("serve", pair + "/cloud", "--port", "0"), try cleave("export-triton", pair + "/cloud", "-o", directory + "/repo")]
        for result in results {
            XCTAssertEqual(result.status, 65, result.stderr)
            XCTAssertTrue(result.stderr.contains("does not verify") && result.stderr.contains("weights.bin"), result.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/repo/model"))
    }

    func testExportTritonWritesTheRepositoryAndRefusesToClobber() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pair = directory + "/pair", repository = directory + "/repo"
        XCTAssertEqual(try cleave("cut", "\(fixturesDirectory)/pytorch_style/model.onnx", "--at", "/relu/Relu_output_0", "-o", pair).status, 0)
        let result = try cleave("export-triton", pair + "/cloud", "-o", repository, "--name", "resnet_tail")
        XCTAssertEqual(result.status, 0, result.stderr)
        let config = try String(contentsOfFile: repository + "/resnet_tail/config.pbtxt", encoding: .utf8)
        XCTAssertTrue(config.contains("name: \"resnet_tail\"") && config.contains("max_batch_size: 0") && config.contains("dims: [ 1, 10 ]"), config)
        for file in ["model.onnx", "weights.bin"] {
            XCTAssertEqual(FileManager.default.contents(atPath: repository + "/resnet_tail/1/model.onnx/" + file),
                           FileManager.default.contents(atPath: pair + "/cloud/" + file), file)
        }
        let again = try cleave("export-triton", pair + "/cloud", "-o", repository, "--name", "resnet_tail")
        XCTAssertEqual(again.status, 74)
        XCTAssertTrue(again.stderr.contains("--force"), again.stderr)
        XCTAssertEqual(try cleave("export-triton", pair + "/cloud", "-o", repository, "--name", "resnet_tail", "--force").status, 0)
    }

    /// The InferenceService's values and its validity under KServe's CRD
    /// schema (tools/kserve/, also checked with jsonschema in
    /// tools/interop_servers.py), the repository export-triton would write,
    /// and refusals: an edge bundle, an existing DIR without --force.
    func testExportKServeWritesTheRepositoryAndAnInferenceServiceForTriton() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pair = directory + "/pair", out = directory + "/kserve"
        XCTAssertEqual(try cleave("cut", "\(fixturesDirectory)/pytorch_style/model.onnx", "--at", "/relu/Relu_output_0", "-o", pair).status, 0)
        let result = try cleave("export-kserve", pair + "/cloud", "-o", out, "--storage-uri", "gs://bucket/cleave", "--name", "Resnet_Tail.v2")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("kubectl apply -f \(out)/inferenceservice.json"), result.stdout)

        let service = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: out + "/inferenceservice.json"))))
        XCTAssertEqual(service["apiVersion"]?.stringValue, "serving.kserve.io/v1beta1")
        XCTAssertEqual(service["kind"]?.stringValue, "InferenceService")
        XCTAssertEqual(service["metadata"]?["name"]?.stringValue, "resnet-tail-v2")
        XCTAssertEqual(service["metadata"]?["annotations"]?["cleave/model"]?.stringValue, "Resnet_Tail.v2")
        let pairID = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: pair + "/cloud/manifest.json"))))["pair_id"]?.stringValue
        XCTAssertEqual(service["metadata"]?["annotations"]?["cleave/pair-id"]?.stringValue, pairID)
        let schemaPath = fixturesDirectory + "/../tools/kserve/inferenceservice-v1beta1.schema.json"
        let schema = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: schemaPath))))
        XCTAssertEqual(schemaViolations(service, schema), [])
        // The check can fail: a bad quantity, an unknown field, a name Kubernetes refuses.
        let broken = try JSON.parse(try String(contentsOfFile: out + "/inferenceservice.json", encoding: .utf8)
            .replacingOccurrences(of: "\"2Gi\"", with: "\"lots\"").replacingOccurrences(of: "\"protocolVersion\"", with: "\"protocol\"")
            .replacingOccurrences(of: "\"resnet-tail-v2\"", with: "\"Resnet_Tail\""))
        XCTAssertEqual(schemaViolations(broken, schema).count, 4, schemaViolations(broken, schema).joined(separator: "; "))
        let model = try XCTUnwrap(service["spec"]?["predictor"]?["model"])
        XCTAssertEqual(model["modelFormat"]?["name"]?.stringValue, "onnx")
        XCTAssertEqual(model["runtime"]?.stringValue, "kserve-tritonserver")
        XCTAssertEqual(model["protocolVersion"]?.stringValue, "v2")
        XCTAssertEqual(model["storageUri"]?.stringValue, "gs://bucket/cleave")
        for kind in ["requests", "limits"] {
            XCTAssertEqual(model["resources"]?[kind]?["cpu"]?.stringValue, "1", kind)
            XCTAssertEqual(model["resources"]?[kind]?["memory"]?.stringValue, "2Gi", kind)  // a small model: the runtime's default
        }

        let config = try String(contentsOfFile: out + "/repository/Resnet_Tail.v2/config.pbtxt", encoding: .utf8)
        XCTAssertTrue(config.contains("name: \"Resnet_Tail.v2\"") && config.contains("platform: \"onnxruntime_onnx\""), config)
        for file in ["model.onnx", "weights.bin"] {
            XCTAssertEqual(FileManager.default.contents(atPath: out + "/repository/Resnet_Tail.v2/1/model.onnx/" + file),
                           FileManager.default.contents(atPath: pair + "/cloud/" + file), file)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).sorted(), ["kserve", "pair"])  // no temporaries left

        let again = try cleave("export-kserve", pair + "/cloud", "-o", out)
        XCTAssertEqual(again.status, 74)
        XCTAssertTrue(again.stderr.contains("--force"), again.stderr)
        let forced = try cleave("export-kserve", pair + "/cloud", "-o", out, "--force", "--json")
        XCTAssertEqual(forced.status, 0, forced.stderr)
        let report = try JSON.parse(forced.stdout)
        XCTAssertEqual(report["service"]?.stringValue, "model")
        XCTAssertEqual(report["storage_uri"], .null)
        let unset = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: out + "/inferenceservice.json"))))
        XCTAssertNil(unset["spec"]?["predictor"]?["model"]?["storageUri"])

        let edge = try cleave("export-kserve", pair + "/edge", "-o", directory + "/edge-out")
        XCTAssertEqual(edge.status, 65)
        XCTAssertTrue(edge.stderr.contains("is an edge bundle"), edge.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/edge-out"))
    }
}
