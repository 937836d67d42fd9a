import CleaveIR
import CleaveRuntime
import XCTest

@testable import CleavePlan

final class CodecTests: XCTestCase {
    func testInt8RoundTripsWithinHalfAStep() throws {
        let values = (0..<1000).map { Float(sin(Double($0) * 0.37)) * 3 }
        let tensor = Tensor([10, 100], floats: values)
        for codec in [BoundaryCodecKind.int8, .int8zlib] {
            let bytes = BoundaryCodec.encode(tensor, codec: codec)
            let decoded = try BoundaryCodec.decode(bytes, type: tensor.type, codec: codec)
            let scale = ((values.max() ?? 0) - (values.min() ?? 0)) / 255
            for (a, b) in zip(decoded.floats, values) { XCTAssertLessThanOrEqual(abs(a - b), scale / 2 + 1e-6, codec.rawValue) }
        }
        XCTAssertEqual(BoundaryCodec.encode(tensor, codec: .int8).count, 1000 + BoundaryCodec.headerBytes)
        XCTAssertEqual(BoundaryCodec.predictedBytes(tensor.type, codec: .int8), 1000 + BoundaryCodec.headerBytes)
        XCTAssertEqual(BoundaryCodec.encode(tensor, codec: .none).count, 4000)
        XCTAssertNil(BoundaryCodec.predictedBytes(tensor.type, codec: .int8zlib))
    }

    func testZlibShrinksRegularActivationsAndLeavesIntegersRaw() throws {
        // After a ReLU half the values are 0: deflate removes most of them.
        let relu = Tensor([4096], floats: (0..<4096).map { $0 % 2 == 0 ? 0 : Float($0 % 7) })
        XCTAssertLessThan(BoundaryCodec.encode(relu, codec: .int8zlib).count, 4096 / 4)
        let constant = Tensor([4096], floats: [Float](repeating: 1.5, count: 4096))
        let bytes = BoundaryCodec.encode(constant, codec: .int8zlib)
        XCTAssertLessThan(bytes.count, 64)
        XCTAssertEqual(try BoundaryCodec.decode(bytes, type: constant.type, codec: .int8zlib).floats, constant.floats)
        let indices = Tensor([3], int64s: [1, 2, 3])
        XCTAssertEqual(BoundaryCodec.encode(indices, codec: .int8zlib).count, 24)
    }

    func testCorruptBytesAreBadInput() {
        let type = TensorType(.float, [16])
        assertThrowsCleaveError(.badInput, containing: "header") { try BoundaryCodec.decode([1, 2], type: type, codec: .int8) }
        assertThrowsCleaveError(.badInput, containing: "zlib") {
            try BoundaryCodec.decode([UInt8](repeating: 0, count: 8) + [1, 2, 3], type: type, codec: .int8zlib)
        }
        assertThrowsCleaveError(.badInput, containing: "expected 16") {
            try BoundaryCodec.decode([UInt8](repeating: 0, count: 12), type: type, codec: .int8)
        }
    }

    func testMeasuredSizesCoverEveryActivationOfAFixture() throws {
        let (graph, analysis) = try loadFixture("pytorch_style")
        let input = try Npy.read(path: "\(fixturesDirectory)/pytorch_style/inputs/input.npy")
        let sizes = try BoundarySizes.measure(graph: graph, analysis: analysis, inputs: ["input": input], codec: .int8zlib)
        for node in graph.nodes {
            for output in node.outputs {
                guard let bytes = sizes[output], let type = analysis.types[output] else { return XCTFail("no size for \(output)") }
                XCTAssertLessThanOrEqual(bytes, type.shape.elementCount + BoundaryCodec.headerBytes + 64, output)
            }
        }
        XCTAssertNotNil(sizes["input"])
        // The ReLU outputs compress better than the raw input image.
        let relu = Double(sizes["/relu/Relu_output_0"] ?? 0) / Double(analysis.types["/relu/Relu_output_0"]?.shape.elementCount ?? 1)
        let image = Double(sizes["input"] ?? 0) / 3072
        XCTAssertLessThan(relu, image)
    }
}
