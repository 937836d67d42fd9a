import CleaveIR
import Foundation
import XCTest

/// `cleave plan` and `cleave profile` as scripts use them: exit codes, key
/// lines and the documented JSON keys.
final class PlanCLITests: XCTestCase {
    func model(_ name: String) -> String { "\(fixturesDirectory)/\(name)/model.onnx" }

    func testPlanPrintsTheCandidatesAndMarksTheBest() throws {
        let result = try cleave("plan", model("pytorch_style"), "--bandwidth", "10Mbps", "--rtt", "20ms")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("link: 10 Mbps, RTT 20 ms; codec none"), result.stdout)
        for column in ["candidate", "boundary", "bytes", "edge ms", "transfer ms", "cloud ms", "total ms"] {
            XCTAssertTrue(result.stdout.contains(column), column)
        }
        XCTAssertTrue(result.stdout.contains("edge-only"))
        XCTAssertTrue(result.stdout.contains("cloud-only"))
        XCTAssertEqual(result.stdout.split(separator: "\n").filter { $0.hasPrefix("*") }.count, 1)
        XCTAssertTrue(result.stdout.contains("\nbest: "))
    }

    func testPlanJSONHasTheDocumentedKeys() throws {
        let result = try cleave("plan", model("tf2onnx_style"), "--bandwidth", "1.5Gbps", "--boundary-codec", "int8", "--json")
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try JSON.parse(result.stdout)
        XCTAssertEqual(json.objectValue?.map(\.0), ["model", "link", "codec", "edge", "cloud", "best", "candidates", "nodes"])
        XCTAssertEqual(json["link"]?["bits_per_second"]?.doubleValue, 1.5e9)
        XCTAssertEqual(json["link"]?["rtt_ms"]?.doubleValue, 20)
        XCTAssertEqual(json["codec"]?.stringValue, "int8")
        XCTAssertEqual(json["edge"]?["slowdown"]?.doubleValue, 8)
        XCTAssertEqual(json["cloud"]?["threads"]?.intValue, 2)
        let candidates = json["candidates"]?.arrayValue ?? []
        XCTAssertEqual(candidates.filter { $0["best"]?.boolValue == true }.count, 1)
        for candidate in candidates {
            XCTAssertEqual(candidate.objectValue?.map(\.0), ["label", "placement", "best", "edge_nodes", "cloud_nodes", "boundary",
                                                             "boundary_bytes", "edge_ms", "transfer_ms", "cloud_ms", "total_ms"])
            let parts = ["edge_ms", "transfer_ms", "cloud_ms"].compactMap { candidate[$0]?.doubleValue }.reduce(0, +)
            XCTAssertEqual(parts, candidate["total_ms"]?.doubleValue ?? -1, accuracy: 1e-9)
        }
        let graph = try ONNXImporter.load(path: model("tf2onnx_style"))
        let nodes = json["nodes"]?.arrayValue ?? []
        XCTAssertEqual(nodes.count, graph.nodes.count)
        XCTAssertEqual(nodes.first?.objectValue?.map(\.0), ["name", "op", "kind", "edge_ms", "cloud_ms"])
    }

    func testPlanMeasuresZlibSizesOnCalibrationDataAndWritesAChart() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let chart = directory + "/plan.svg"
        let result = try cleave("plan", model("pytorch_style"), "--bandwidth", "5Mbps", "--boundary-codec", "int8+zlib",
                                "--calibration", "input=\(fixturesDirectory)/pytorch_style/inputs/input.npy", "--chart", chart, "--json")
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try JSON.parse(result.stdout)
        let cloudOnly = json["candidates"]?.arrayValue?.first { $0["placement"]?.stringValue == "cloud-only" }
        // The real image deflates below its int8 size (3072 bytes, one per value).
        XCTAssertLessThan(cloudOnly?["boundary_bytes"]?.intValue ?? .max, 3072)
        let svg = try String(contentsOfFile: chart, encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<svg"))
        XCTAssertEqual(svg.components(separatedBy: "<g class=\"candidate").count - 1, json["candidates"]?.arrayValue?.count)
    }

    func testPlanNamesItsProfilesAndRefusesBadOnes() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let builtIn = try JSON.parse(try cleave("plan", model("paddle_style"), "--bandwidth", "10Mbps", "--json",
                                                "--input-shape", "x=1,3,24,24").stdout)
        // Without --edge/--cloud, the built-in profiles.
        let edgeName = builtIn["edge"]?["name"]?.stringValue ?? ""
        XCTAssertTrue(edgeName.hasSuffix("1 thread, 8x slower"), edgeName)
        let bad = directory + "/bad.json"
        try "{\"format\": \"something else\"}".write(toFile: bad, atomically: true, encoding: .utf8)
        let refused = try cleave("plan", model("pytorch_style"), "--bandwidth", "10Mbps", "--edge", bad)
        XCTAssertEqual(refused.status, 65)
        XCTAssertTrue(refused.stderr.contains("bad.json"), refused.stderr)
        XCTAssertEqual(refused.stderr.split(separator: "\n").count, 1)
        XCTAssertEqual(try cleave("plan", model("pytorch_style"), "--bandwidth", "10Mbps", "--cloud", directory + "/missing.json").status, 74)
    }

    func testPlanArgumentErrorsExit64() throws {
        for arguments in [
            ["plan", model("pytorch_style")],  // --bandwidth missing
            ["plan", model("pytorch_style"), "--bandwidth", "10"],
            ["plan", model("pytorch_style"), "--bandwidth", "10Mbps", "--rtt", "soon"],
            ["plan", model("pytorch_style"), "--bandwidth", "10Mbps", "--boundary-codec", "gzip"],
            ["plan", model("pytorch_style"), "--bandwidth", "10Mbps", "--calibration", "input.npy"],
            ["profile", "-o", "/tmp/never-written.json", "--slowdown", "0"],
            ["profile", "-o", "/tmp/never-written.json", "--threads", "0"],
        ] {
            let result = try cleave(arguments)
            XCTAssertEqual(result.status, 64, arguments.joined(separator: " ") + ": " + result.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/never-written.json"))
        let missing = try cleave("plan", "/nonexistent/model.onnx", "--bandwidth", "10Mbps")
        XCTAssertEqual(missing.status, 74)
        let garbage = try cleave("plan", "\(fixturesDirectory)/bad/random_bytes.onnx", "--bandwidth", "10Mbps")
        XCTAssertEqual(garbage.status, 65)
    }

    func testHelpTeachesProfileAndPlan() throws {
        let root = try cleave("--help")
        XCTAssertTrue(root.stdout.contains("profile"))
        XCTAssertTrue(root.stdout.contains("plan"))
        let plan = try cleave("plan", "--help")
        XCTAssertEqual(plan.status, 0)
        XCTAssertTrue(plan.stdout.contains("--bandwidth"))
        XCTAssertTrue(plan.stdout.contains("Example"))
        let profile = try cleave("profile", "--help")
        XCTAssertTrue(profile.stdout.contains("--quick"))
        XCTAssertTrue(profile.stdout.contains("--slowdown"))
    }
}
