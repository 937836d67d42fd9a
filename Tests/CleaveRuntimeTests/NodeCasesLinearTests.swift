import CleaveIR
import CleaveRuntime
import Foundation
import XCTest

/// ONNX's own node test cases for the linear-algebra and window ops, run
/// through a Session. The data is not in the repository (a few MB): generate it
/// with `tools/node_cases.py --out DIR --ops …` and set CLEAVE_NODE_CASES=DIR;
/// without it the test is skipped.
final class NodeCasesLinearTests: XCTestCase {
    /// Cases cleave refuses on purpose, with the phrase its error must contain.
    static let refused = [
        "test_batchnorm_example_training_mode": "training_mode",
        "test_batchnorm_epsilon_training_mode": "training_mode",
        "test_maxpool_2d_uint8": "only float32",
    ]

    func testNodeCases() throws {
        guard let directory = ProcessInfo.processInfo.environment["CLEAVE_NODE_CASES"] else {
            throw XCTSkip("set CLEAVE_NODE_CASES to the output of tools/node_cases.py")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        var passed = 0, failed: [String] = []
        for name in names {
            let folder = directory + "/" + name
            guard FileManager.default.fileExists(atPath: folder + "/case.json") else { continue }
            do {
                try runCase(folder)
                if let phrase = Self.refused[name] {
                    failed.append("\(name): expected a refusal mentioning '\(phrase)'")
                } else {
                    passed += 1
                }
            } catch let error as CleaveError {
                if let phrase = Self.refused[name], error.message.contains(phrase) {
                    passed += 1
                } else {
                    failed.append("\(name): \(error.message)")
                }
            }
        }
        print("node cases: \(passed) passed, \(failed.count) failed")
        for line in failed { XCTFail(line) }
    }

    /// Throws CleaveError for a refusal or a mismatch.
    private func runCase(_ folder: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/case.json"))
        guard let spec = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let inputNames = spec["inputs"] as? [String], let outputNames = spec["outputs"] as? [String]
        else { throw CleaveError.badInput("\(folder)/case.json is malformed") }
        let graph = try ONNXImporter.load(path: folder + "/model.onnx")
        var feeds: [String: Tensor] = [:]
        for (i, name) in inputNames.enumerated() { feeds[name] = try Npy.read(path: "\(folder)/inputs/\(i).npy") }
        for threads in [1, 2] {
            let outputs = try Session(graph: graph, options: SessionOptions(threads: threads)).run(feeds)
            for (i, name) in outputNames.enumerated() {
                let expected = try Npy.read(path: "\(folder)/outputs/\(i).npy")
                guard let actual = outputs[name] else { throw CleaveError.badInput("output \(name) missing") }
                if let problem = mismatch(actual, expected) {
                    throw CleaveError.badInput("output \(name) (threads \(threads)): \(problem)")
                }
            }
        }
    }

    /// nil when |actual − expected| ≤ 1e-4 + 1e-3·|expected| everywhere.
    private func mismatch(_ actual: Tensor, _ expected: Tensor) -> String? {
        guard actual.shape == expected.shape else { return "shape \(actual.shape), expected \(expected.shape)" }
        let a = actual.dtype == .float ? actual.floats : actual.integerValues?.map(Float.init) ?? []
        let e = expected.dtype == .float ? expected.floats : expected.integerValues?.map(Float.init) ?? []
        guard a.count == e.count else { return "dtype \(actual.dtype.name), expected \(expected.dtype.name)" }
        for i in a.indices where !(abs(a[i] - e[i]) <= 1e-4 + 1e-3 * abs(e[i])) {
            return "element \(i) is \(a[i]), expected \(e[i])"
        }
        return nil
    }
}
