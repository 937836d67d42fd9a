import CleaveIR
@testable import CleaveRuntime
import XCTest

/// Comparisons, logical ops, Where, Range, Size and Reciprocal. ONNX's node
/// cases and tools/ort_cases.py check them against ONNX Runtime; these check
/// the forms models use that those cases leave out, and the errors.
final class LogicTests: XCTestCase {
    func bools(_ shape: Shape, _ values: [Bool]) -> Tensor { Tensor(.bool, shape, values.map { UInt8($0 ? 1 : 0) }) }
    func boolValues(_ t: Tensor) -> [Bool] { t.elements(as: UInt8.self).map { $0 != 0 } }

    func testComparisonsBroadcastIntoBool() throws {
        let a = floats([2, 3], [1, 2, 3, 4, .nan, 6])
        let b = floats([3], [2, 2, 2])
        XCTAssertEqual(boolValues(try runNode1("Equal", opset: 13, [a, b])), [false, true, false, false, false, false])
        XCTAssertEqual(boolValues(try runNode1("Less", opset: 13, [a, b])), [true, false, false, false, false, false])
        XCTAssertEqual(boolValues(try runNode1("Greater", opset: 13, [a, b])), [false, false, true, true, false, true])
        XCTAssertEqual(boolValues(try runNode1("LessOrEqual", opset: 16, [a, b])), [true, true, false, false, false, false])
        XCTAssertEqual(boolValues(try runNode1("GreaterOrEqual", opset: 16, [a, b])), [false, true, true, true, false, true])
        // magika's one-hot: int32 bytes against a row of class ids.
        let bytes = Tensor(.int32, [2, 1], [Int32(3), 0])
        let ids = Tensor(.int32, [4], [Int32(0), 1, 2, 3])
        XCTAssertEqual(boolValues(try runNode1("Equal", opset: 13, [bytes, ids])),
                       [false, false, false, true, true, false, false, false])
        assertBadInput("different dtypes") { _ = try runNode1("Equal", opset: 13, [a, ids]) }
    }

    func testLogicalOpsReadAnyNonZeroByteAsTrue() throws {
        let a = Tensor(.bool, [4], [UInt8(0), 1, 2, 255])
        let b = bools([1], [true])
        XCTAssertEqual(boolValues(try runNode1("And", opset: 7, [a, b])), [false, true, true, true])
        XCTAssertEqual(boolValues(try runNode1("Xor", opset: 7, [a, b])), [true, false, false, false])
        XCTAssertEqual(boolValues(try runNode1("Or", opset: 7, [a, bools([1], [false])])), [false, true, true, true])
        XCTAssertEqual(try runNode1("Not", opset: 1, [a]).elements(as: UInt8.self), [1, 0, 0, 0])
        assertBadInput("must be bool") { _ = try runNode1("And", opset: 7, [floats([1], [1]), b]) }
    }

    /// Where with all three operands broadcast, as attention masks use it, and with enough rows to split across threads.
    func testWhereBroadcastsAllThreeOperands() throws {
        let condition = bools([1, 1, 3, 1], [true, false, true])
        let x = iota([2, 1, 1, 4])
        let y = floats([1], [-1])
        let out = try runNode1("Where", opset: 16, [condition, x, y])
        XCTAssertEqual(out.shape, [2, 1, 3, 4])
        XCTAssertEqual(out.floats, [0, 1, 2, 3, -1, -1, -1, -1, 0, 1, 2, 3,
                                    4, 5, 6, 7, -1, -1, -1, -1, 4, 5, 6, 7])
        let rows = 512, width = 300
        let mask = Tensor(.bool, [rows, 1], (0..<rows).map { UInt8($0 % 3 == 0 ? 1 : 0) })
        let big = try runNode(
            "Where", opset: 16, [mask, iota([rows, width]), floats([], [7])], threads: 2)[0].floats
        for r in [0, 1, 255, 511] {
            for c in [0, width - 1] {
                XCTAssertEqual(big[r * width + c], r % 3 == 0 ? Float(r * width + c) : 7, "row \(r) column \(c)")
            }
        }
        let ints = try runNode1("Where", opset: 16, [bools([2], [false, true]), int64s([1, 2]), int64s([9])])
        XCTAssertEqual(ints.elements(as: Int64.self), [9, 2])
        assertBadInput("condition must be bool") { _ = try runNode1("Where", opset: 16, [x, x, y]) }
    }

    /// Float Range accumulates in float32 like ONNX Runtime, so 0.1 steps drift as its do.
    func testRangeMatchesOnnxRuntime() throws {
        let out = try runNode1("Range", opset: 11, [floatScalar(0), floatScalar(1), floatScalar(0.1)])
        var expected: [Float] = [0]
        for _ in 1..<10 { expected.append(expected[expected.count - 1] + 0.1) }
        XCTAssertEqual(out.floats, expected)
        XCTAssertEqual(try runNode1("Range", opset: 11, [int64Scalar(10), int64Scalar(1), int64Scalar(-3)]).elements(as: Int64.self),
                       [10, 7, 4])
        XCTAssertEqual(try runNode1("Range", opset: 11, [int64Scalar(5), int64Scalar(1), int64Scalar(2)]).shape, [0])
        assertBadInput("delta must be non-zero") {
            _ = try runNode1("Range", opset: 11, [int64Scalar(0), int64Scalar(4), int64Scalar(0)])
        }
        assertBadInput("must share a dtype") {
            _ = try runNode1("Range", opset: 11, [int64Scalar(0), floatScalar(4), int64Scalar(1)])
        }
    }

    func testSizeAndReciprocal() throws {
        XCTAssertEqual(try runNode1("Size", opset: 13, [iota([2, 3, 4])]).elements(as: Int64.self), [24])
        XCTAssertEqual(try runNode1("Reciprocal", opset: 13, [floats([3], [2, -4, 0])]).floats, [0.5, -0.25, .infinity])
    }

    /// YOLOv8's head: Range over a Shape-derived limit must fold, so that
    /// analysis (inspect, plan, compress) knows the grid's length.
    func testRangeOverAShapeFoldsAtAnalysis() throws {
        let nodes = [
            Node(name: "shape", opType: "Shape", inputs: ["x"], outputs: ["s"], attributes: []),
            Node(name: "width", opType: "Gather", inputs: ["s", "three"], outputs: ["w"], attributes: [attribute("axis", 0)]),
            Node(name: "float", opType: "Cast", inputs: ["w"], outputs: ["wf"], attributes: [attribute("to", 1)]),
            Node(name: "range", opType: "Range", inputs: ["zero", "wf", "one"], outputs: ["grid"], attributes: []),
            Node(name: "half", opType: "Add", inputs: ["grid", "half_value"], outputs: ["centres"], attributes: []),
            Node(name: "is_first", opType: "Equal", inputs: ["centres", "half_value"], outputs: ["first"], attributes: []),
        ]
        let graph = Graph(
            model: ModelInfo(irVersion: 8, opsets: [OperatorSet(domain: "", version: 17)]), name: "grid",
            inputs: [ValueInfo(name: "x", dtype: .float, dims: [.symbolic("batch"), .fixed(3), .unknown, .unknown])],
            outputs: [ValueInfo(name: "first", dtype: nil, dims: nil)],
            initializers: [
                Initializer(name: "three", tensor: int64Scalar(3)), Initializer(name: "zero", tensor: floatScalar(0)),
                Initializer(name: "one", tensor: floatScalar(1)), Initializer(name: "half_value", tensor: floatScalar(0.5)),
            ],
            nodes: nodes)
        let analysis = try Analysis(graph: graph, inputShapes: ["x": [1, 3, 8, 5]])
        XCTAssertEqual(analysis.types["grid"], TensorType(.float, [5]))
        XCTAssertEqual(analysis.constants["centres"]?.floats, [0.5, 1.5, 2.5, 3.5, 4.5])
        XCTAssertEqual(analysis.constants["first"]?.elements(as: UInt8.self), [1, 0, 0, 0, 0])

        var zeroStep = graph
        zeroStep.initializers[2] = Initializer(name: "one", tensor: floatScalar(0))
        XCTAssertThrowsError(try Analysis(graph: zeroStep, inputShapes: ["x": [1, 3, 8, 5]])) { error in
            XCTAssertTrue("\(error)".contains("'range' (Range): delta must be non-zero"), "\(error)")
        }
    }
}
