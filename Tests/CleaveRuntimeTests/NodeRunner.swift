import CleaveIR
import CleaveRuntime
import XCTest

/// Runs one node through a `Session`, the way a model would run it.
/// - Parameters:
///   - inputs: one tensor per node input; nil marks an omitted optional input.
///   - outputs: how many outputs the node declares.
func runNode(_ opType: String, opset: Int, _ inputs: [Tensor?], _ attributes: [Attribute] = [],
             outputs: Int = 1, threads: Int = 1) throws -> [Tensor] {
    var inputNames: [String] = []
    var graphInputs: [ValueInfo] = []
    for (i, tensor) in inputs.enumerated() {
        guard let tensor else {
            inputNames.append("")
            continue
        }
        inputNames.append("in\(i)")
        graphInputs.append(ValueInfo(name: "in\(i)", dtype: tensor.dtype, dims: nil))
    }
    let outputNames = (0..<outputs).map { "out\($0)" }
    let node = Node(name: "n", opType: opType, inputs: inputNames, outputs: outputNames, attributes: attributes)
    let graph = Graph(model: ModelInfo(irVersion: 8, opsets: [OperatorSet(domain: "", version: opset)]),
                      name: "single-node", inputs: graphInputs,
                      outputs: outputNames.map { ValueInfo(name: $0, dtype: nil, dims: nil) },
                      initializers: [], nodes: [node])
    let session = try Session(graph: graph, options: SessionOptions(threads: threads))
    var feeds: [String: Tensor] = [:]
    for (i, tensor) in inputs.enumerated() { if let tensor { feeds["in\(i)"] = tensor } }
    let results = try session.run(feeds)
    return try outputNames.map { name in
        try XCTUnwrap(results[name], "output \(name) missing")
    }
}

/// The first output of `runNode`.
func runNode1(_ opType: String, opset: Int, _ inputs: [Tensor?], _ attributes: [Attribute] = []) throws -> Tensor {
    try runNode(opType, opset: opset, inputs, attributes)[0]
}

func attribute(_ name: String, _ value: Int) -> Attribute { Attribute(name: name, value: .int(value)) }
func attribute(_ name: String, _ value: Float) -> Attribute { Attribute(name: name, value: .float(value)) }
func attribute(_ name: String, _ value: [Int]) -> Attribute { Attribute(name: name, value: .ints(value)) }
func attribute(_ name: String, _ value: [Float]) -> Attribute { Attribute(name: name, value: .floats(value)) }
func attribute(_ name: String, _ value: String) -> Attribute { Attribute(name: name, value: .string(Array(value.utf8))) }
func attribute(_ name: String, _ value: Tensor) -> Attribute { Attribute(name: name, value: .tensor(value)) }

/// A float32 tensor.
func floats(_ shape: Shape, _ values: [Float]) -> Tensor { Tensor(shape, floats: values) }

/// A float32 tensor holding 0, 1, 2, … in row-major order.
func iota(_ shape: Shape) -> Tensor { Tensor(shape, floats: (0..<shape.elementCount).map(Float.init)) }

/// An int64 tensor.
func int64s(_ values: [Int], shape: Shape? = nil) -> Tensor {
    Tensor(shape ?? [values.count], int64s: values.map { Int64($0) })
}

/// An int64 scalar.
func int64Scalar(_ value: Int) -> Tensor { Tensor([], int64s: [Int64(value)]) }

/// A float32 scalar.
func floatScalar(_ value: Float) -> Tensor { Tensor([], floats: [value]) }

/// Asserts that `body` throws a `CleaveError.badInput` whose message contains `fragment`.
func assertBadInput(_ fragment: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected an error containing '\(fragment)'", file: file, line: line)
    } catch let error as CleaveError {
        XCTAssertEqual(error.kind, .badInput, file: file, line: line)
        XCTAssertTrue(error.message.contains(fragment), "message: \(error.message)", file: file, line: line)
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
}
