import CleaveIR
import CleaveRuntime
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// ONNX's own node test cases, extracted by tools/node_cases.py into the
/// folder named by CLEAVE_NODE_CASES, run through ONNXImporter and Session.
///
/// Floats must match within rtol 1e-3 / atol 1e-4 (NaN and ±inf exactly),
/// everything else exactly. Cases that reach a kernel another branch is
/// still writing ("kernel not written yet") count as pending, cases matching
/// tools/node_case_exclusions.txt as excluded; neither fails the test.
final class NodeCaseTests: XCTestCase {
    static let repositoryRoot: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
        return path
    }()

    func testNodeCases() throws {
        guard let folder = ProcessInfo.processInfo.environment["CLEAVE_NODE_CASES"], !folder.isEmpty else {
            throw XCTSkip("set CLEAVE_NODE_CASES to the folder written by tools/node_cases.py")
        }
        let indexData = try Data(contentsOf: URL(fileURLWithPath: folder + "/index.json"))
        guard let index = try JSONSerialization.jsonObject(with: indexData) as? [String: Any],
              let cases = index["cases"] as? [[String: Any]] else {
            return XCTFail("\(folder)/index.json has no 'cases' list")
        }
        let rules = try Self.exclusionRules()
        var passed: [String] = [], failed: [(String, String)] = [], pending: [String] = [], excluded: [String] = []
        for entry in cases {
            guard let name = entry["name"] as? String else { continue }
            if entry["excluded"] != nil || rules.contains(where: { fnmatch($0.pattern, name, 0) == 0 }) {
                excluded.append(name)
                continue
            }
            if let why = entry["unwritable"] as? String {
                failed.append((name, "not extracted: \(why)"))
                continue
            }
            do {
                try Self.run(entry, in: folder + "/" + name)
                passed.append(name)
            } catch let error as CleaveError where error.message.contains("kernel not written yet") {
                pending.append(name)
            } catch {
                failed.append((name, "\(error)"))
            }
        }
        print("node cases: \(passed.count) passed, \(failed.count) failed, \(pending.count) pending, \(excluded.count) excluded")
        for (name, why) in failed { print("  FAILED \(name): \(why)") }
        if !pending.isEmpty { print("  pending (kernels on another branch): \(pending.joined(separator: " "))") }
        XCTAssertEqual(failed.count, 0, "failing node cases: \(failed.map(\.0).joined(separator: ", "))")
    }

    /// Patterns and reasons from tools/node_case_exclusions.txt.
    static func exclusionRules() throws -> [(pattern: String, reason: String)] {
        let text = try String(contentsOfFile: repositoryRoot + "/tools/node_case_exclusions.txt", encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { return nil }
            let parts = trimmed.split(separator: "#", maxSplits: 1)
            return (String(parts[0]).trimmingCharacters(in: .whitespaces),
                    parts.count > 1 ? String(parts[1]).trimmingCharacters(in: .whitespaces) : "")
        }
    }

    struct Mismatch: Error, CustomStringConvertible {
        var description: String
    }

    static func run(_ entry: [String: Any], in folder: String) throws {
        let graph = try ONNXImporter.load(path: folder + "/model.onnx")
        let session = try Session(graph: graph, options: SessionOptions(threads: 2))
        var feeds: [String: Tensor] = [:]
        for input in entry["inputs"] as? [[String: String]] ?? [] {
            guard let name = input["name"], let file = input["file"] else { continue }
            feeds[name] = try Npy.read(path: folder + "/" + file)
        }
        let results = try session.run(feeds)
        for output in entry["outputs"] as? [[String: String]] ?? [] {
            guard let name = output["name"], let file = output["file"] else { continue }
            let expected = try Npy.read(path: folder + "/" + file)
            guard let actual = results[name] else { throw Mismatch(description: "output '\(name)' missing") }
            if let problem = compare(actual, expected) { throw Mismatch(description: "output '\(name)': \(problem)") }
        }
    }

    /// nil when `actual` matches `expected`, else what differs.
    static func compare(_ actual: Tensor, _ expected: Tensor) -> String? {
        guard actual.dtype == expected.dtype else { return "dtype \(actual.dtype.name), expected \(expected.dtype.name)" }
        guard actual.shape == expected.shape else { return "shape \(actual.shape), expected \(expected.shape)" }
        if let a = doubles(actual), let e = doubles(expected) {
            for i in a.indices {
                let ok = e[i].isNaN ? a[i].isNaN
                    : e[i].isInfinite ? a[i] == e[i]
                    : abs(a[i] - e[i]) <= 1e-4 + 1e-3 * abs(e[i])
                if !ok { return "element \(i) is \(a[i]), expected \(e[i])" }
            }
            return nil
        }
        let a = [UInt8](actual.storage.bytes), e = [UInt8](expected.storage.bytes)
        let equal = actual.dtype == .bool ? zip(a, e).allSatisfy { ($0 != 0) == ($1 != 0) } : a == e
        if !equal, let i = zip(a, e).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            return "differs at byte \(i)"
        }
        return nil
    }

    static func doubles(_ t: Tensor) -> [Double]? {
        switch t.dtype {
        case .float: return t.floats.map(Double.init)
        case .double: return t.elements(as: Double.self)
        case .float16: return t.elements(as: Float16.self).map(Double.init)
        default: return nil
        }
    }
}
