import CleaveIR
import CleaveRuntime
import Foundation
import XCTest

/// The repository root (tests read fixtures/ from it).
let repositoryRoot: String = {
    var path = #filePath
    for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
    return path
}()

let fixturesDirectory = repositoryRoot + "/fixtures"

func fixtureModel(_ name: String) throws -> Graph {
    try ONNXImporter.load(path: "\(fixturesDirectory)/\(name)/model.onnx")
}

func fixtureArray(_ name: String, _ file: String) throws -> Tensor {
    try Npy.read(path: "\(fixturesDirectory)/\(name)/\(file)")
}

/// ‖a − b‖ / ‖b‖.
func relativeL2(_ a: Tensor, _ b: Tensor) -> Double {
    let x = a.floats, y = b.floats
    var difference = 0.0, reference = 0.0
    for i in 0..<min(x.count, y.count) {
        difference += Double(x[i] - y[i]) * Double(x[i] - y[i])
        reference += Double(y[i]) * Double(y[i])
    }
    return (difference / max(reference, 1e-30)).squareRoot()
}

/// Runs `graph` on one feed and returns its outputs.
func run(_ graph: Graph, _ feed: [String: Tensor]) throws -> [String: Tensor] {
    try Session(graph: graph, options: SessionOptions(threads: 2)).run(feed)
}

/// A fresh empty directory under the system's temporary folder.
func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "cleave-compress-\(getpid())-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
