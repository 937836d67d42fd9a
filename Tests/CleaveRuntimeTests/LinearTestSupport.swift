import CleaveIR
import CleaveRuntime
import XCTest

/// A deterministic generator so randomized tests repeat exactly.
typealias SeededRandom = SplitMix64

extension SplitMix64 {
    init(_ seed: UInt64) { self.init(seed: seed) }

    /// Uniform in `range`.
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }

    mutating func bool() -> Bool { next() & 1 == 1 }

    /// Uniform in [-1, 1).
    mutating func float() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }

    mutating func tensor(_ dims: [Int]) -> Tensor {
        let shape = Shape(dims)
        return Tensor(shape, floats: (0..<shape.elementCount).map { _ in float() })
    }
}

/// Runs one node in a one-node graph through a Session.
/// - Parameters:
///   - inputs: runtime inputs by name, in the node's input order ("" skips an optional input).
///   - constants: inputs given as initializers instead (so kernels may pre-pack them).
func runNode(_ op: String, inputs: [(String, Tensor?)], constants: Set<String> = [],
             attributes: [String: AttributeValue] = [:], outputs: Int = 1, opset: Int = 17,
             threads: Int = 1) throws -> [Tensor] {
    let outputNames = (0..<outputs).map { "y\($0)" }
    let node = Node(name: "n", opType: op, inputs: inputs.map { $0.1 == nil ? "" : $0.0 }, outputs: outputNames,
                    attributes: attributes.sorted { $0.key < $1.key }.map { Attribute(name: $0.key, value: $0.value) })
    var declared: [ValueInfo] = [], initializers: [Initializer] = [], feeds: [String: Tensor] = [:]
    for (name, tensor) in inputs {
        guard let tensor else { continue }
        if constants.contains(name) {
            initializers.append(Initializer(name: name, tensor: tensor))
        } else {
            declared.append(ValueInfo(name: name, dtype: tensor.dtype, dims: tensor.shape.dims.map { .fixed($0) }))
            feeds[name] = tensor
        }
    }
    let graph = Graph(model: ModelInfo(irVersion: 8, opsets: [OperatorSet(domain: "", version: opset)]), name: "g",
                      inputs: declared, outputs: outputNames.map { ValueInfo(name: $0, dtype: nil, dims: nil) },
                      initializers: initializers, nodes: [node])
    let results = try Session(graph: graph, options: SessionOptions(threads: threads)).run(feeds)
    return try outputNames.map {
        guard let tensor = results[$0] else { throw CleaveError.badInput("output \($0) missing") }
        return tensor
    }
}

/// Asserts that running the node throws `CleaveError.badInput` whose message contains `phrase`.
func assertRefused(_ phrase: String, file: StaticString = #filePath, line: UInt = #line,
                   _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected an error mentioning '\(phrase)'", file: file, line: line)
    } catch let error as CleaveError {
        XCTAssertEqual(error.kind, .badInput, file: file, line: line)
        XCTAssertTrue(error.message.contains(phrase), "'\(error.message)' does not mention '\(phrase)'",
                      file: file, line: line)
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
}

extension AttributeValue {
    static func text(_ value: String) -> AttributeValue { .string(Array(value.utf8)) }
}
