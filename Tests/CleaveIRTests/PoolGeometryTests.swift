import CleaveIR
import XCTest

/// Pooling's auto_pad SAME as ONNX Runtime 1.31 computes it (checked against
/// its outputs on random inputs): pads sized with the undilated kernel, output
/// from the dilated window over them, pads divided with C's truncation.
final class PoolGeometryTests: XCTestCase {
    private func pool(_ op: String, input: [Int], kernel: [Int], strides: [Int], dilations: [Int], autoPad: String,
                      ceil: Bool = false) throws -> WindowGeometry {
        let node = Node(name: "p", opType: op, inputs: ["X"], outputs: ["Y"], attributes: [
            Attribute(name: "strides", value: .ints(strides)), Attribute(name: "dilations", value: .ints(dilations)),
            Attribute(name: "auto_pad", value: .string(Array(autoPad.utf8))),
        ])
        return try WindowGeometry(node: node, input: input, kernel: kernel, ceilMode: ceil)
    }

    func testUndilatedSameMatchesTheSpec() throws {
        let g = try pool("MaxPool", input: [7, 8], kernel: [3, 2], strides: [2, 3], dilations: [1, 1], autoPad: "SAME_UPPER")
        XCTAssertEqual(g.output, [4, 3])
        XCTAssertEqual(g.padsBegin, [1, 0])
        XCTAssertEqual(g.padsEnd, [1, 0])
    }

    func testDilatedSameShrinksTheOutput() throws {
        // W: in 4, k 2, d 2, stride 1 → pads 1 (from k), window extent 3 → output 3, not 4.
        let g = try pool("MaxPool", input: [3, 4], kernel: [3, 2], strides: [1, 1], dilations: [1, 2], autoPad: "SAME_LOWER")
        XCTAssertEqual(g.output, [3, 3])
        XCTAssertEqual(g.padsBegin, [1, 1])
        XCTAssertEqual(g.padsEnd, [1, 0])
    }

    func testWindowSmallerThanStrideNeedsNegativePads() throws {
        // TF's 1×1 stride-2 subsampling: in 4 → needed −1; output still ceil(4 / 2) = 2.
        let g = try pool("MaxPool", input: [4], kernel: [1], strides: [2], dilations: [1], autoPad: "SAME_UPPER")
        XCTAssertEqual(g.output, [2])
        XCTAssertEqual(g.padsBegin, [0])
        XCTAssertEqual(g.padsEnd, [-1])
    }

    func testConvSameUsesTheDilatedKernel() throws {
        let node = Node(name: "c", opType: "Conv", inputs: ["X", "W"], outputs: ["Y"], attributes: [
            Attribute(name: "dilations", value: .ints([2])), Attribute(name: "auto_pad", value: .string(Array("SAME_UPPER".utf8))),
        ])
        let g = try WindowGeometry(node: node, input: [4], kernel: [2])
        XCTAssertEqual(g.output, [4])
        XCTAssertEqual(g.padsBegin, [1])
        XCTAssertEqual(g.padsEnd, [1])
    }

    func testConvTransposeSameNeverPadsNegatively() throws {
        // in 5, stride 3, kernel 1: full size 13 < 5 × 3, so the output is 13.
        let node = Node(name: "t", opType: "ConvTranspose", inputs: ["X", "W"], outputs: ["Y"], attributes: [
            Attribute(name: "strides", value: .ints([3])), Attribute(name: "auto_pad", value: .string(Array("SAME_UPPER".utf8))),
        ])
        let g = try WindowGeometry(convTranspose: node, input: [5], kernel: [1])
        XCTAssertEqual(g.output, [13])
        XCTAssertEqual(g.padsBegin, [0])
        XCTAssertEqual(g.padsEnd, [0])
    }
}
