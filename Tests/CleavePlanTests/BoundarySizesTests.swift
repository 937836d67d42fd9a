import CleaveIR
import CleaveRuntime
import XCTest

@testable import CleavePlan

/// The planner's boundary bytes are those `cleave run --remote` sends: the
/// codes of the runtime's `Quantization`, deflated by its `Zlib`.
final class BoundarySizesTests: XCTestCase {
    func testInt8SendsOneBytePerFloatAndEverythingElseRaw() throws {
        let tensor = Tensor([10, 100], floats: (0..<1000).map { Float(sin(Double($0) * 0.37)) * 3 })
        XCTAssertEqual(BoundarySizes.predicted(tensor.type, codec: .none), 4000)
        XCTAssertEqual(BoundarySizes.predicted(tensor.type, codec: .int8), 1000)
        XCTAssertNil(BoundarySizes.predicted(tensor.type, codec: .int8Zlib))
        XCTAssertEqual(try BoundarySizes.measured(tensor, name: "t", codec: .none), 4000)
        XCTAssertEqual(try BoundarySizes.measured(tensor, name: "t", codec: .int8), 1000)
        let indices = Tensor([3], int64s: [1, 2, 3])
        XCTAssertEqual(BoundarySizes.predicted(indices.type, codec: .int8), 24)
        XCTAssertEqual(try BoundarySizes.measured(indices, name: "i", codec: .int8), 24)
    }

    func testInt8ZlibCountsTheDeflatedCodes() throws {
        // After a ReLU half the values are 0: deflate removes most of them.
        let relu = Tensor([4096], floats: (0..<4096).map { $0 % 2 == 0 ? 0 : Float($0 % 7) })
        let bytes = try BoundarySizes.measured(relu, name: "relu", codec: .int8Zlib)
        XCTAssertLessThan(bytes, 4096 / 4)
        let codes = try Quantization.quantized(relu, name: "relu").codes
        let deflated = try codes.elements(as: UInt8.self).withUnsafeBytes { try Zlib.deflate($0, level: BoundaryCodec.deflateLevel) }
        XCTAssertEqual(bytes, deflated.count)
        XCTAssertLessThan(try BoundarySizes.measured(Tensor([4096], floats: [Float](repeating: 1.5, count: 4096)), name: "c", codec: .int8Zlib), 64)
        // The whole body is deflated on the wire, integers too.
        let indices = Tensor([64], int64s: [Int64](repeating: 7, count: 64))
        XCTAssertLessThan(try BoundarySizes.measured(indices, name: "i", codec: .int8Zlib), 64 * 8 / 4)
    }

    func testNonFiniteTensorsCannotCrossQuantised() {
        let tensor = Tensor([3], floats: [1, .nan, 2])
        XCTAssertEqual(try BoundarySizes.measured(tensor, name: "t", codec: .none), 12)
        for codec in [BoundaryCodec.int8, .int8Zlib] {
            assertThrowsCleaveError(.badInput, containing: "'t' holds nan") { try BoundarySizes.measured(tensor, name: "t", codec: codec) }
        }
    }

    func testMeasuredSizesCoverEveryActivationOfAFixture() throws {
        let (graph, analysis) = try loadFixture("pytorch_style")
        let input = try Npy.read(path: "\(fixturesDirectory)/pytorch_style/inputs/input.npy")
        let sizes = try BoundarySizes.measure(graph: graph, analysis: analysis, inputs: ["input": input], codec: .int8Zlib)
        for node in graph.nodes {
            for output in node.outputs {
                guard let bytes = sizes[output], let type = analysis.types[output] else { return XCTFail("no size for \(output)") }
                // Incompressible codes grow by a few bytes of framing at most.
                XCTAssertLessThanOrEqual(bytes, type.shape.elementCount + 64, output)
            }
        }
        XCTAssertEqual(sizes["input"], try BoundarySizes.measured(input, name: "input", codec: .int8Zlib))
        // The ReLU outputs compress better than the raw input image.
        let relu = Double(sizes["/relu/Relu_output_0"] ?? 0) / Double(analysis.types["/relu/Relu_output_0"]?.shape.elementCount ?? 1)
        let image = Double(sizes["input"] ?? 0) / 3072
        XCTAssertLessThan(relu, image)
    }
}
