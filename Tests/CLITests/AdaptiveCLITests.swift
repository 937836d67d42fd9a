import Foundation
import XCTest

/// `plan --adaptive`, `split --adaptive` and `run --adaptive`'s refusals, through the binary.
final class AdaptiveCLITests: XCTestCase {
    let model = "\(fixturesDirectory)/pytorch_style/model.onnx"
    /// Up to 10 Gbps with no round trip, even this tiny ResNet is best cloud-only at the top and edge-only at the bottom.
    let range = ["--adaptive", "--bandwidth-range", "1Mbps-10Gbps", "--rtt", "0", "--no-compress"]

    func testPlanListsTheCutsOverTheRange() throws {
        let result = try cleave(["plan", model, "--json"] + range.filter { $0 != "--no-compress" })
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let cuts = try XCTUnwrap(report["cuts"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(cuts.count, 2)
        XCTAssertEqual(cuts.first?["placement"] as? String, "cloud-only")
        XCTAssertEqual(cuts.last?["placement"] as? String, "edge-only")
        // The intervals of the optimal cuts tile the range.
        let intervals = cuts.compactMap { $0["interval"] as? [String: Double] }.sorted { $0["lower_bps"]! < $1["lower_bps"]! }
        XCTAssertEqual(intervals.first?["lower_bps"] ?? 0, 1e6, accuracy: 1)
        XCTAssertEqual(intervals.last?["upper_bps"] ?? 0, 1e10, accuracy: 1)
        for (a, b) in zip(intervals, intervals.dropFirst()) { XCTAssertEqual(a["upper_bps"]!, b["lower_bps"]!, accuracy: 1e-6 * b["lower_bps"]!) }
    }

    func testSplitWritesOnePairThatServesEveryCut() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try cleave(["split", model, "-o", directory + "/out", "--chart", directory + "/adaptive.svg"] + range)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("verified: both bundles are intact and form a pair at every cut"), result.stdout)
        let verify = try cleave("verify", directory + "/out/edge", directory + "/out/cloud", "--json")
        XCTAssertEqual(verify.status, 0, verify.stdout)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(verify.stdout.utf8)) as? [String: Any])
        let bundles = try XCTUnwrap(report["bundles"] as? [[String: Any]])
        XCTAssertEqual(bundles.first?["version"] as? Int, 2)
        XCTAssertGreaterThanOrEqual((bundles.first?["cuts"] as? [String])?.count ?? 0, 2)
        XCTAssertTrue(try String(contentsOfFile: directory + "/adaptive.svg", encoding: .utf8).contains("<g class=\"envelope\">"))
        // Each cut runs as a local pair and gives the whole model's output.
        let input = "input=\(fixturesDirectory)/pytorch_style/inputs/input.npy"
        for cut in (bundles.first?["cuts"] as? [String] ?? []) {
            let run = try cleave("run", directory + "/out/edge", directory + "/out/cloud", "--cut", cut, "--input", input)
            // Edge-only has no cloud half: the edge bundle runs it alone.
            if run.status != 0 {
                XCTAssertTrue(run.stderr.contains("nothing to run"), run.stderr)
                let alone = try cleave("run", directory + "/out/edge", "--cut", cut, "--input", input)
                XCTAssertEqual(alone.status, 0, alone.stderr)
            }
        }
    }

    func testBadAdaptiveInputIsRefused() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for arguments in [["--adaptive", "--bandwidth-range", "5Mbps-1Mbps"], ["--adaptive", "--bandwidth-range", "fast"],
                          ["--max-cuts", "3"], ["--adaptive", "--max-cuts", "0"]] {
            let result = try cleave(["split", model, "-o", directory + "/out"] + arguments)
            XCTAssertEqual(result.status, 64, "\(arguments): \(result.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/out"))
        }
        // A schedule with a gap is bad input, named by line, before anything runs or is written.
        XCTAssertEqual(try cleave(["split", model, "-o", directory + "/out"] + range).status, 0)
        try "0 10 10Mbps 20ms\n12 20 1Mbps 20ms\n".write(toFile: directory + "/schedule", atomically: true, encoding: .utf8)
        let input = "input=\(fixturesDirectory)/pytorch_style/inputs/input.npy"
        let run = try cleave("run", directory + "/out/edge", "--remote", "http://127.0.0.1:9", "--adaptive",
                             "--link-schedule", directory + "/schedule", "--input", input, "--output-dir", directory + "/outputs")
        XCTAssertEqual(run.status, 65, run.stderr)
        XCTAssertTrue(run.stderr.contains("schedule:2: gap"), run.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/outputs"))
        // --adaptive on a single-cut bundle says what it needs.
        XCTAssertEqual(try cleave("cut", model, "--at", "/relu/Relu_output_0", "-o", directory + "/single").status, 0)
        let single = try cleave("run", directory + "/single/edge", "--remote", "http://127.0.0.1:9", "--adaptive", "--input", input)
        XCTAssertEqual(single.status, 65, single.stderr)
        XCTAssertTrue(single.stderr.contains("split --adaptive"), single.stderr)
    }
}
