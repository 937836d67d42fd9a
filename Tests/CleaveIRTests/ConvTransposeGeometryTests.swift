import CleaveIR
import XCTest

/// ConvTranspose geometry against what ONNX Runtime 1.31 computes (checked by
/// brute force on random inputs: the offset of its output within the unpadded
/// full result). Input 3×3, kernel 3×3, stride 2: the full output is 7×7.
final class ConvTransposeGeometryTests: XCTestCase {
    private func geometry(_ attributes: [String: AttributeValue]) throws -> WindowGeometry {
        var all = attributes
        all["strides"] = .ints([2, 2])
        let node = Node(name: "t", opType: "ConvTranspose", inputs: ["X", "W"], outputs: ["Y"],
                        attributes: all.map { Attribute(name: $0.key, value: $0.value) })
        return try WindowGeometry(convTranspose: node, input: [3, 3], kernel: [3, 3])
    }

    private func autoPad(_ value: String) -> AttributeValue { .string(Array(value.utf8)) }

    func testRequestedSmallerSizePadsPerSpec() throws {
        // total padding 1: NOTSET and SAME_LOWER put it first, SAME_UPPER last.
        let notSet = try geometry(["output_shape": .ints([6, 6])])
        XCTAssertEqual(notSet.output, [6, 6])
        XCTAssertEqual(notSet.padsBegin, [1, 1])
        XCTAssertEqual(notSet.padsEnd, [0, 0])
        let upper = try geometry(["output_shape": .ints([6, 6]), "auto_pad": autoPad("SAME_UPPER")])
        XCTAssertEqual(upper.padsBegin, [0, 0])
        XCTAssertEqual(upper.padsEnd, [1, 1])
    }

    func testRequestedLargerSizeExtendsTheEnd() throws {
        // ONNX's test_convtranspose_output_shape case: no padding at the start, zeros (bias) at the end.
        for pad in ["NOTSET", "SAME_UPPER", "SAME_LOWER"] {
            let g = try geometry(["output_shape": .ints([1, 1, 8, 9]), "auto_pad": autoPad(pad)])
            XCTAssertEqual(g.output, [8, 9], pad)
            XCTAssertEqual(g.padsBegin, [0, 0], pad)
            XCTAssertEqual(g.padsEnd, [-1, -2], pad)
        }
    }

    func testSameWithoutOutputShape() throws {
        let upper = try geometry(["auto_pad": autoPad("SAME_UPPER"), "output_padding": .ints([1, 1])])
        XCTAssertEqual(upper.output, [6, 6])
        XCTAssertEqual(upper.padsBegin, [1, 1])
        let lower = try geometry(["auto_pad": autoPad("SAME_LOWER")])
        XCTAssertEqual(lower.output, [6, 6])
        XCTAssertEqual(lower.padsBegin, [1, 1])
        XCTAssertEqual(lower.padsEnd, [0, 0])
    }
}
