import CleaveCompress
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
func execute(_ graph: Graph, _ feed: [String: Tensor]) throws -> [String: Tensor] {
    try Session(graph: graph, options: SessionOptions(threads: 2)).run(feed)
}

/// A fresh empty directory under the system's temporary folder.
func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "cleave-compress-\(getpid())-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Builds small graphs by hand: inputs, float32 weights, nodes.
struct GraphBuilder {
    var opset = 17
    var inputs: [ValueInfo] = []
    var initializers: [Initializer] = []
    var nodes: [Node] = []
    var random = TestRandom(seed: 7)

    mutating func input(_ name: String, _ shape: [Int]) {
        inputs.append(ValueInfo(name: name, dtype: .float, dims: shape.map { .fixed($0) }))
    }

    mutating func weight(_ name: String, _ shape: [Int], _ values: [Float]? = nil, scale: Float = 0.3) {
        let count = shape.reduce(1, *)
        let data = values ?? (0..<count).map { _ in random.normal() * scale }
        initializers.append(Initializer(name: name, tensor: Tensor(Shape(shape), floats: data)))
    }

    mutating func node(_ op: String, _ inputs: [String], _ outputs: [String], name: String = "", _ attributes: [String: AttributeValue] = [:]) {
        nodes.append(Node(name: name, opType: op, inputs: inputs, outputs: outputs,
                          attributes: attributes.sorted { $0.key < $1.key }.map { Attribute(name: $0.key, value: $0.value) }))
    }

    func graph(outputs: [String]) throws -> Graph {
        var g = Graph(model: ModelInfo(irVersion: 8, opsets: [OperatorSet(domain: "", version: opset)]), name: "test",
                      inputs: inputs, outputs: outputs.map { ValueInfo(name: $0, dtype: .float, dims: nil) },
                      initializers: initializers, nodes: nodes)
        try g.validate()
        return g
    }
}

/// Deterministic test data (xorshift + Box–Muller).
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed | 1 }
    mutating func uniform() -> Float {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return Float(state >> 40) / Float(1 << 24) + 1e-7
    }
    mutating func normal() -> Float {
        (-2 * Float.log(uniform())).squareRoot() * Float.cos(2 * .pi * uniform())
    }
    mutating func tensor(_ shape: [Int]) -> Tensor {
        Tensor(Shape(shape), floats: (0..<shape.reduce(1, *)).map { _ in normal() })
    }
}

extension Float {
    static func log(_ x: Float) -> Float { Foundation.log(x) }
    static func cos(_ x: Float) -> Float { Foundation.cos(x) }
}

/// The test split of the digits fixture and the top-1 accuracy of a graph on it.
enum Digits {
    static let images: Tensor = (try? fixtureArray("digits", "test_images.npy")) ?? Tensor(zeros: .float, [0, 1, 8, 8])
    static let labels: [Int64] = ((try? fixtureArray("digits", "test_labels.npy"))?.int64s) ?? []
    static let calibration: [[String: Tensor]] = {
        guard let array = try? fixtureArray("digits", "calibration.npy"), let graph = try? fixtureModel("digits") else { return [] }
        return (try? Calibration.inputSets(["image": array], for: graph)) ?? []
    }()

    /// The logits on the test images and their top-1 accuracy (one run).
    static func evaluate(_ graph: Graph) throws -> (logits: Tensor, accuracy: Double) {
        let logits = try XCTUnwrap(try execute(graph, ["image": images])["logits"])
        let scores = logits.floats
        var correct = 0
        for (row, label) in labels.enumerated() {
            let slice = scores[(row * 10)..<(row * 10 + 10)]
            if let best = slice.indices.max(by: { slice[$0] < slice[$1] }), best - row * 10 == Int(label) { correct += 1 }
        }
        return (logits, Double(correct) / Double(max(labels.count, 1)))
    }

    /// The uncompressed model's logits and accuracy, computed once.
    static let original: (logits: Tensor, accuracy: Double)? = {
        guard let graph = try? fixtureModel("digits") else { return nil }
        return try? evaluate(graph)
    }()

    static func reference() throws -> (logits: Tensor, accuracy: Double) {
        try XCTUnwrap(original, "digits fixture")
    }
}
