import CleaveIR
import Foundation
import XCTest

/// Every fixture analysed as `cleave inspect` would (with its
/// `input_shape_args`): graph outputs must have the shapes ONNX Runtime
/// produced, and every intermediate value the type ONNX's own shape inference
/// gives it (Data/fixture_shapes.json, from tools/expected_shapes.py).
final class FixtureShapeTests: XCTestCase {
    struct Fixture: Decodable {
        struct Value: Decodable {
            var name: String
            var dtype: String
            var shape: [Int]
        }
        var name: String
        var outputs: [Value]
        var input_shape_args: [String]
    }

    struct Expected: Decodable {
        struct Value: Decodable {
            var dtype: Int32
            var shape: [Int]
        }
        var values: [String: Value]
    }

    /// `x=1,3,24,24` → ["x": [1, 3, 24, 24]], as the CLI's --input-shape.
    func inputShapes(_ arguments: [String]) throws -> [String: Shape] {
        var shapes: [String: Shape] = [:]
        for argument in arguments {
            let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
            let dims = try XCTUnwrap(parts.last?.split(separator: ",").map { Int($0) })
            shapes[parts[0]] = Shape(dims.compactMap { $0 })
        }
        return shapes
    }

    func analyse(_ name: String) throws -> (Fixture, Analysis) {
        let directory = "\(fixturesDirectory)/\(name)"
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/fixture.json")))
        let graph = try ONNXImporter.load(path: directory + "/model.onnx")
        return (fixture, try Analysis(graph: graph, inputShapes: inputShapes(fixture.input_shape_args)))
    }

    func testOutputShapesMatchONNXRuntime() throws {
        let names = modelFixtures
        XCTAssertGreaterThanOrEqual(names.count, 6)
        for name in names {
            let (fixture, analysis) = try analyse(name)
            for output in fixture.outputs {
                let type = analysis.types[output.name]
                XCTAssertEqual(type?.shape.dims, output.shape, "\(name): output \(output.name)")
                XCTAssertEqual(type?.dtype.name, output.dtype, "\(name): output \(output.name)")
            }
            for node in analysis.graph.nodes {
                for output in node.outputs where !output.isEmpty {
                    XCTAssertNotNil(analysis.types[output], "\(name): \(output) has no type")
                }
            }
            // `cleave inspect --json`: params = element count of all initializers and Constant-node tensors.
            let constants = analysis.graph.constants.values.reduce(0) { $0 + $1.elementCount }
            XCTAssertEqual(analysis.totals.params, constants, name)
            XCTAssertEqual(analysis.costs.count, analysis.graph.nodes.count)
        }
    }

    func testEveryValueMatchesONNXShapeInference() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: testDataDirectory + "/fixture_shapes.json"))
        let expected = try JSONDecoder().decode([String: Expected].self, from: data)
        XCTAssertEqual(Set(expected.keys), Set(modelFixtures), "regenerate with tools/expected_shapes.py")
        var compared = 0
        for (name, entry) in expected.sorted(by: { $0.key < $1.key }) {
            let (_, analysis) = try analyse(name)
            for (value, type) in entry.values {
                compared += 1
                XCTAssertEqual(analysis.types[value]?.shape.dims, type.shape, "\(name): \(value)")
                XCTAssertEqual(analysis.types[value]?.dtype.rawValue, type.dtype, "\(name): \(value)")
            }
        }
        XCTAssertGreaterThan(compared, 100)
    }

    /// tf2onnx flattens with Shape → Gather → Unsqueeze → Concat([N, -1]) →
    /// Reshape; folding must give the Reshape a concrete shape.
    func testTF2ONNXReshapeGetsConcreteShapeByFolding() throws {
        let (_, analysis) = try analyse("tf2onnx_style")
        let reshapes = analysis.graph.nodes.filter { $0.opType == "Reshape" }
        XCTAssertFalse(reshapes.isEmpty)
        for reshape in reshapes {
            let shapeInput = try XCTUnwrap(reshape.input(1))
            XCTAssertNotNil(analysis.graph.nodes.first { $0.outputs.contains(shapeInput) && $0.opType == "Concat" },
                            "the target comes from a Concat, not an initializer")
            XCTAssertEqual(analysis.constants[shapeInput]?.int64s, [1, -1])
            // MaxPool gives 1×8×8×4 (NHWC); ONNX's own shape inference leaves this one unknown.
            XCTAssertEqual(analysis.types[reshape.outputs[0]]?.shape, [1, 256])
        }
    }
}
