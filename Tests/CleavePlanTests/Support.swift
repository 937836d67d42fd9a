import CleaveIR
import Foundation
import XCTest

@testable import CleavePlan

/// The repository's fixtures/ folder.
let fixturesDirectory: String = {
    var path = #filePath
    for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
    return path + "/fixtures"
}()

/// The model fixtures: folders of fixtures/ that hold a fixture.json.
let modelFixtures: [String] = {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: fixturesDirectory)) ?? []
    return names.filter { FileManager.default.fileExists(atPath: "\(fixturesDirectory)/\($0)/fixture.json") }.sorted()
}()

/// The graph and analysis of a fixture, with the input shapes its fixture.json names.
func loadFixture(_ name: String) throws -> (Graph, Analysis) {
    let graph = try ONNXImporter.load(path: "\(fixturesDirectory)/\(name)/model.onnx")
    let spec = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: "\(fixturesDirectory)/\(name)/fixture.json"))))
    var shapes: [String: Shape] = [:]
    for argument in spec["input_shape_args"]?.arrayValue ?? [] {
        guard let text = argument.stringValue, let equals = text.lastIndex(of: "=") else { continue }
        shapes[String(text[..<equals])] = Shape(text[text.index(after: equals)...].split(separator: ",").compactMap { Int($0) })
    }
    return (graph, try Analysis(graph: graph, inputShapes: shapes))
}

/// A profile with made-up but plausible coefficients: every kind costs
/// 1 µs plus 10 ps per MAC and 50 ps per byte read or written where the
/// kind has those features, all times `scale`.
func syntheticProfile(name: String = "synthetic", threads: Int = 1, scale: Double = 1, overhead: Double = 0.002,
                      context: DeviceProfile.ContextModel = .none) -> DeviceProfile {
    var models: [OpKind: DeviceProfile.KindModel] = [:]
    for kind in OpKind.allCases {
        let coefficients = kind.features.map { feature -> Double in
            switch feature {
            case .constant: return 0.001 * scale
            case .macs: return 1e-8 * scale
            case .inputBytes, .outputBytes, .weightBytes: return 5e-8 * scale
            default: return 1e-9 * scale
            }
        }
        models[kind] = DeviceProfile.KindModel(features: kind.features, coefficients: coefficients, samples: 10, r2: 0.99, mape: 0.05)
    }
    return DeviceProfile(name: name, threads: threads,
                         machine: DeviceProfile.Machine(cpu: "test CPU", cores: 2, measuredAt: "2025-01-01T00:00:00Z"),
                         sweep: "full", runOverheadMilliseconds: overhead, cacheBytes: 32 << 20, models: models, context: context)
}

/// Asserts that `body` throws a `CleaveError` of `kind` whose message contains `fragment`.
func assertThrowsCleaveError<T>(_ kind: CleaveError.Kind, containing fragment: String,
                                file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> T) {
    do {
        _ = try body()
        XCTFail("expected an error containing '\(fragment)'", file: file, line: line)
    } catch let error as CleaveError {
        XCTAssertEqual(error.kind, kind, error.message, file: file, line: line)
        XCTAssertTrue(error.message.lowercased().contains(fragment.lowercased()),
                      "'\(error.message)' does not mention '\(fragment)'", file: file, line: line)
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
}

/// A fresh empty directory under the system's temporary folder.
func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "cleave-plan-tests-\(getpid())-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
