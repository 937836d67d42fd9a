import Foundation
import XCTest

/// `cleave split`, the main job: the compression searched under a fidelity
/// budget jointly with the cut, and bad input refused before anything is written.
final class SplitCLITests: XCTestCase {
    let model = "\(fixturesDirectory)/digits/model.onnx"
    let calibration = "image=\(fixturesDirectory)/digits/calibration.npy"

    func testCalibrationSearchesTheFastestPlanWithinTheBudget() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try cleave("split", model, "-o", directory + "/out", "--calibration", calibration,
                                "--bandwidth", "1Mbps", "--json", "--frontier-chart", directory + "/frontier.svg")
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let search = try XCTUnwrap(report["search"] as? [String: Any])
        XCTAssertEqual((search["budget"] as? [String: Any])?["max_accuracy_drop"] as? Double, 1, "the default budget")
        XCTAssertEqual(search["score"] as? String, "predicted_total_ms")
        XCTAssertEqual((search["failed"] as? [Any])?.count, 0, "every rung applies to digits")
        let frontier = try XCTUnwrap(search["frontier"] as? [[String: Any]])
        let chosen = try XCTUnwrap(frontier.first { $0["chosen"] as? Bool == true })
        let fastest = try XCTUnwrap(frontier.filter { $0["within_budget"] as? Bool == true }.compactMap { $0["score"] as? Double }.min())
        XCTAssertEqual(chosen["score"] as? Double, fastest)
        XCTAssertNotEqual(chosen["label"] as? String, "none", "digits compresses within one point")
        let plan = try XCTUnwrap(report["plan"] as? [String: Any])
        let best = try XCTUnwrap(plan["best"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(best["total_ms"] as? Double), fastest, accuracy: 1e-9)
        let compression = try XCTUnwrap(report["compression"] as? [String: Any])
        XCTAssertEqual((compression["model"] as? [String: Any])?["evaluated_on"] as? String, "held_out")
        // The manifest records the search next to the plan.
        let manifest = try String(contentsOfFile: directory + "/out/edge/manifest.json", encoding: .utf8)
        XCTAssertTrue(manifest.contains("\"frontier\""), "manifest records the frontier")
        let chart = try String(contentsOfFile: directory + "/frontier.svg", encoding: .utf8)
        XCTAssertEqual(chart.components(separatedBy: "<circle").count - 1, frontier.count + 1, "a dot per rung and a ring on the chosen one")
        for point in frontier { XCTAssertTrue(chart.contains(">\(try XCTUnwrap(point["label"] as? String))</text>")) }
    }

    func testABudgetNothingFitsSplitsUncompressedAndSaysSo() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try cleave("split", model, "-o", directory + "/out", "--calibration", calibration, "--max-relative-l2", "0")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("no compression fits the budget (relative L2 ≤ 0.0): splitting the model uncompressed"),
                      result.stdout)
    }

    func testBadBudgetsAndTooFewSamplesWriteNothing() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let out = directory + "/out"
        for arguments in [["--max-accuracy-drop", "101", "--calibration", calibration],
                          ["--max-accuracy-drop=-1", "--calibration", calibration],
                          ["--max-accuracy-drop", "1"],
                          ["--max-accuracy-drop", "1", "--rank-energy", "0.9", "--calibration", calibration],
                          ["--frontier-chart", directory + "/f.svg"]] {
            let result = try cleave(["split", model, "-o", out] + arguments)
            XCTAssertEqual(result.status, 64, "\(arguments): \(result.stderr)")
        }
        let oneSample = try cleave("split", model, "-o", out, "--calibration", "image=\(fixturesDirectory)/digits/inputs/image.npy")
        XCTAssertEqual(oneSample.status, 65, oneSample.stderr)
        XCTAssertTrue(oneSample.stderr.contains("image: 1 sample(s) are too few"), oneSample.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [], "nothing written on failure")
    }
}
