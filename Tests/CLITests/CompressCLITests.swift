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
                                         "weight_bytes_before", "weight_bytes_after", "top1_agreement", "top1_agreement_lower_95", "relative_l2",
                                         "samples", "evaluated_on"])
        // A quarter of the 256 calibration images is held back from the fit and scores it.
        XCTAssertEqual(model["evaluated_on"] as? String, "held_out")
        XCTAssertEqual(model["samples"] as? Int, 64)
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
                          ["--calibration", "image=\(fixturesDirectory)/pytorch_style/inputs/input.npy"],
                          ["--max-accuracy-drop=-1"], ["--max-accuracy-drop", "101"], ["--max-relative-l2=-0.5"],
                          ["--max-accuracy-drop", "1", "--rank-ratio", "0.5"], ["--max-accuracy-drop", "1"]] {
            let result = try cleave(["compress", model, "-o", out] + arguments)
            XCTAssertEqual(result.status, 64, "\(arguments): \(result.stderr)")
        }
        XCTAssertEqual(try cleave("compress", "\(fixturesDirectory)/bad/truncated.onnx", "-o", out).status, 65)
        let oneSample = try cleave("compress", model, "-o", out, "--max-accuracy-drop", "1",
                                   "--calibration", "image=\(fixturesDirectory)/digits/inputs/image.npy")
        XCTAssertEqual(oneSample.status, 65, oneSample.stderr)
        XCTAssertTrue(oneSample.stderr.contains("--calibration image: 1 sample(s) are too few to both fit and measure fidelity"), oneSample.stderr)
        XCTAssertEqual(try cleave("compress", "/nonexistent/model.onnx", "-o", out).status, 74)
        XCTAssertEqual(try cleave("compress", model, "-o", "/nonexistent/dir/out.onnx").status, 74)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [], "nothing written on failure")
    }

    /// `--max-accuracy-drop` tries the ladder of strengths and keeps the
    /// smallest model inside the budget, scored on the held-back samples.
    func testBudgetKeepsTheSmallestModelWithinIt() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try cleave("compress", "\(fixturesDirectory)/digits/model.onnx", "-o", directory + "/small.onnx",
                                "--max-accuracy-drop", "2", "--calibration", "image=\(fixturesDirectory)/digits/calibration.npy", "--json")
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let search = try XCTUnwrap(report["search"] as? [String: Any])
        let frontier = try XCTUnwrap(search["frontier"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(frontier.count, 8)
        XCTAssertEqual(frontier.first?["label"] as? String, "none")
        let chosen = try XCTUnwrap(frontier.first { $0["chosen"] as? Bool == true })
        XCTAssertEqual(chosen["label"] as? String, search["chosen"] as? String)
        let inside = frontier.filter { $0["within_budget"] as? Bool == true }
        for point in frontier {
            let agreement = try XCTUnwrap(point["top1_agreement"] as? Double)
            XCTAssertEqual(point["within_budget"] as? Bool, point["label"] as? String == "none" || (1 - agreement) * 100 <= 2 + 1e-9,
                           "\(point)")
        }
        let smallest = try XCTUnwrap(inside.compactMap { $0["macs"] as? Int }.min())
        XCTAssertEqual(chosen["macs"] as? Int, smallest)
        let model = try XCTUnwrap(report["model"] as? [String: Any])
        XCTAssertEqual(model["macs_after"] as? Int, smallest)
        XCTAssertLessThan(smallest * 2, try XCTUnwrap(model["macs_before"] as? Int), "the budget allows at least 2× fewer MACs on digits")
        XCTAssertEqual(model["evaluated_on"] as? String, "held_out")
    }

    func testHelpTeachesTheCommand() throws {
        let result = try cleave("compress", "--help")
        XCTAssertEqual(result.status, 0)
        for fragment in ["--rank-energy", "--rank-ratio", "--calibration", "--prune-ratio", "--weights", "lowrank_a_output_0",
                         "--max-accuracy-drop", "--max-relative-l2", "Example"] {
            XCTAssertTrue(result.stdout.contains(fragment), fragment)
        }
    }
}
