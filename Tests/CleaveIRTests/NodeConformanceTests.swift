import CleaveIR
import Foundation
import XCTest

/// ONNX's node conformance cases (tools/expected_shapes.py → Data/node_cases.json):
/// every case whose nodes cleave supports is rebuilt by hand, small inputs
/// become constants, and analysis must give each output the shape and dtype
/// of the reference output (and its values, where analysis folds it).
final class NodeConformanceTests: XCTestCase {
    struct Case: Decodable {
        var name: String
        var opset: Int
        var nodes: [CaseNode]
        var inputs: [CaseTensor]
        var outputs: [CaseTensor]
    }

    struct CaseNode: Decodable {
        var op: String
        var name: String
        var inputs: [String]
        var outputs: [String]
        var attributes: [String: CaseAttribute]
    }

    struct CaseAttribute: Decodable {
        var int: Int?
        var ints: [Int]?
        var float: Double?
        var floats: [Double]?
        var string: String?
        var tensor: CaseTensor?

        var value: AttributeValue? {
            if let int { return .int(int) }
            if let ints { return .ints(ints) }
            if let float { return .float(Float(float)) }
            if let floats { return .floats(floats.map { Float($0) }) }
            if let string { return .string(Array(string.utf8)) }
            if let tensor = tensor?.tensor { return .tensor(tensor) }
            return nil
        }
    }

    struct CaseTensor: Decodable {
        var name: String?
        var dtype: Int32
        var shape: [Int]
        var integers: [Int64]?
        var reals: [Double]?

        enum Keys: String, CodingKey { case name, dtype, shape, values }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            name = try c.decodeIfPresent(String.self, forKey: .name)
            dtype = try c.decode(Int32.self, forKey: .dtype)
            shape = try c.decode([Int].self, forKey: .shape)
            if dtype == DType.float.rawValue || dtype == DType.double.rawValue {
                reals = try c.decodeIfPresent([Double].self, forKey: .values)
            } else {
                integers = try c.decodeIfPresent([Int64].self, forKey: .values)
            }
        }

        var dtypeValue: DType? { DType(rawValue: dtype) }

        /// The tensor, when the case carries its values.
        var tensor: Tensor? {
            let s = Shape(shape)
            switch (dtypeValue, integers, reals) {
            case (.float?, _, let r?): return Tensor(.float, s, r.map { Float($0) })
            case (.double?, _, let r?): return Tensor(.double, s, r)
            case (.int64?, let v?, _): return Tensor(.int64, s, v)
            case (.int32?, let v?, _): return Tensor(.int32, s, v.map { Int32(truncatingIfNeeded: $0) })
            case (.int16?, let v?, _): return Tensor(.int16, s, v.map { Int16(truncatingIfNeeded: $0) })
            case (.int8?, let v?, _): return Tensor(.int8, s, v.map { Int8(truncatingIfNeeded: $0) })
            case (.uint8?, let v?, _): return Tensor(.uint8, s, v.map { UInt8(truncatingIfNeeded: $0) })
            case (.bool?, let v?, _): return Tensor(.bool, s, v.map { UInt8($0 == 0 ? 0 : 1) })
            default: return nil
            }
        }
    }

    func loadCases() throws -> [Case] {
        let data = try Data(contentsOf: URL(fileURLWithPath: testDataDirectory + "/node_cases.json"))
        return try JSONDecoder().decode([Case].self, from: data)
    }

    func graph(for c: Case) throws -> Graph {
        var inputs: [ValueInfo] = []
        var initializers: [Initializer] = []
        for input in c.inputs {
            let name = input.name ?? ""
            if let tensor = input.tensor {
                initializers.append(Initializer(name: name, tensor: tensor))
            } else {
                inputs.append(ValueInfo(name: name, dtype: input.dtypeValue, dims: input.shape.map { .fixed($0) }))
            }
        }
        let nodes = c.nodes.map { n in
            Node(name: n.name, opType: n.op, inputs: n.inputs, outputs: n.outputs,
                 attributes: n.attributes.keys.sorted().compactMap { key in
                     n.attributes[key]?.value.map { Attribute(name: key, value: $0) }
                 })
        }
        var graph = Graph(model: ModelInfo(irVersion: 8, opsets: [OperatorSet(domain: "", version: c.opset)]),
                          name: c.name, inputs: inputs,
                          outputs: c.outputs.map { ValueInfo(name: $0.name ?? "", dtype: $0.dtypeValue, dims: nil) },
                          initializers: initializers, nodes: nodes)
        try graph.validate()
        return graph
    }

    func testEveryCaseMatchesTheReferenceOutputs() throws {
        let cases = try loadCases()
        XCTAssertGreaterThan(cases.count, 400)
        var checkedValues = 0
        var failures: [String] = []
        for c in cases {
            do {
                let analysis = try Analysis(graph: graph(for: c))
                for expected in c.outputs {
                    let name = expected.name ?? ""
                    guard let type = analysis.types[name] else {
                        failures.append("\(c.name): no type for output '\(name)'")
                        continue
                    }
                    if type.shape.dims != expected.shape || type.dtype.rawValue != expected.dtype {
                        failures.append("\(c.name): '\(name)' is \(type), expected dtype \(expected.dtype) \(expected.shape)")
                    }
                    if let folded = analysis.constants[name], let reference = expected.tensor {
                        checkedValues += 1
                        if let problem = compare(folded, reference) { failures.append("\(c.name): '\(name)' folded \(problem)") }
                    }
                }
            } catch {
                failures.append("\(c.name): \(error)")
            }
        }
        XCTAssertEqual(failures, [], "\(failures.count) of \(cases.count) cases failed")
        XCTAssertGreaterThan(checkedValues, 50, "folded values compared")
    }

    /// nil if equal (floats within rtol 1e-5, atol 1e-6: folding computes in
    /// float32 exactly, so only decimal printing in the JSON differs).
    func compare(_ actual: Tensor, _ expected: Tensor) -> String? {
        guard actual.dtype == expected.dtype, actual.shape == expected.shape else {
            return "\(actual) vs \(expected)"
        }
        switch actual.dtype {
        case .float:
            for (a, e) in zip(actual.floats, expected.floats) where abs(a - e) > 1e-6 + 1e-5 * abs(e) {
                return "\(actual.floats) vs \(expected.floats)"
            }
        case .double:
            let a = actual.elements(as: Double.self), e = expected.elements(as: Double.self)
            if zip(a, e).contains(where: { abs($0 - $1) > 1e-12 + 1e-9 * abs($1) }) { return "\(a) vs \(e)" }
        default:
            let a = actual.storage.bytes.map { $0 }, e = expected.storage.bytes.map { $0 }
            if a != e { return "bytes \(a) vs \(e)" }
        }
        return nil
    }
}
