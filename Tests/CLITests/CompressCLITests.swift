import Foundation
import XCTest

/// `cleave compress` as users and scripts run it: exit codes, the report, `--json` keys.
final class CompressCLITests: XCTestCase {
    func testCompressWritesAModelAndReportsFidelity() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let output = directory + "/small.onnx"
        let result = try cleave("compress", "\(fixturesDirectory)/digits/model.onnx", "-o", output, "--rank-ratio", "0.25",
                                "--layers", "conv2|conv3|fc1", "--calibration", "image=\(fixturesDirectory)/digits/calibration.npy", "--json")
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(Set(report.keys), ["input", "output", "model", "weights", "layers", "bottlenecks", "skipped"])
        XCTAssertFalse(result.stdout.contains("\"model\": \"/"), "one 'model' key only")
        let model = try XCTUnwrap(report["model"] as? [String: Any])
        XCTAssertEqual(Set(model.keys), ["macs_before", "macs_after", "macs_reduction", "params_before", "params_after",
                                         "weight_bytes_before", "weight_bytes_after", "top1_agreement", "relative_l2",
                                         "samples", "evaluated_on"])
        XCTAssertEqual(model["evaluated_on"] as? String, "calibration")
        XCTAssertEqual(model["samples"] as? Int, 256)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(model["macs_reduction"] as? Double), 2)
        let layers = try XCTUnwrap(report["layers"] as? [[String: Any]])
        XCTAssertEqual(layers.count, 3)
        XCTAssertEqual(Set(layers[0].keys), ["node", "kind", "method", "rank", "channels", "kept_channels", "macs_before",
                                             "macs_after", "output_elements_before", "output_elements_after",
                                             "relative_error", "bottleneck"])
        XCTAssertEqual(report["bottlenecks"] as? [String], layers.compactMap { $0["bottleneck"] as? String })
        XCTAssertTrue(FileManager.default.fileExists(atPath: output))
        // The output is an ordinary model cleave reads and runs.
        let ran = try cleave("run", output, "--input", "image=\(fixturesDirectory)/digits/inputs/image.npy")
        XCTAssertEqual(ran.status, 0, ran.stderr)

        let text = try cleave("compress", "\(fixturesDirectory)/pytorch_style/model.onnx", "-o", directory + "/p.onnx", "--prune-ratio", "0.5")
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("pruned (l1)"), text.stdout)
        XCTAssertTrue(text.stdout.contains("on a synthetic input (no calibration data)"), text.stdout)
    }

    func testArgumentErrorsExit64AndBadFilesExit65Or74() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let model = "\(fixturesDirectory)/digits/model.onnx", out = directory + "/out.onnx"
        for arguments in [["--rank-energy", "0.9", "--rank-ratio", "0.5"], ["--rank-ratio", "0"], ["--rank-ratio", "1.5"],
                          ["--prune-ratio", "1"], ["--layers", "conv("], ["--weights", "int4"], ["--calibration", "image"],
                          ["--calibration", "picture=\(fixturesDirectory)/digits/calibration.npy"],
                          ["--calibration", "image=\(fixturesDirectory)/pytorch_style/inputs/input.npy"]] {
            let result = try cleave(["compress", model, "-o", out] + arguments)
            XCTAssertEqual(result.status, 64, "\(arguments): \(result.stderr)")
        }
        XCTAssertEqual(try cleave("compress", "\(fixturesDirectory)/bad/truncated.onnx", "-o", out).status, 65)
        XCTAssertEqual(try cleave("compress", "/nonexistent/model.onnx", "-o", out).status, 74)
        XCTAssertEqual(try cleave("compress", model, "-o", "/nonexistent/dir/out.onnx").status, 74)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [], "nothing written on failure")
    }

    func testHelpTeachesTheCommand() throws {
        let result = try cleave("compress", "--help")
        XCTAssertEqual(result.status, 0)
        for fragment in ["--rank-energy", "--rank-ratio", "--calibration", "--prune-ratio", "--weights", "lowrank_a_output_0", "Example"] {
            XCTAssertTrue(result.stdout.contains(fragment), fragment)
        }
    }
}
