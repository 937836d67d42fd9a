import CleaveIR
import XCTest

/// Symbolic dims, analysis-time folding, ops cleave does not know, and the cost model.
final class AnalysisTests: XCTestCase {
    // MARK: Symbolic dims

    func testLeadingSymbolicDimDefaultsToOneAndNamesAreShared() throws {
        var b = GraphBuilder(opset: 13)
        b.input("x", dims: [.symbolic("N"), .fixed(3), .symbolic("L")])
        b.input("y", dims: [.unknown, .symbolic("L")])
        b.node("Relu", ["x"], ["rx"])
        b.node("Relu", ["y"], ["ry"])
        let a = try b.analyse(["rx", "ry"], inputShapes: ["x": [2, 3, 7]])
        XCTAssertEqual(a.types["rx"]?.shape, [2, 3, 7])
        XCTAssertEqual(a.types["ry"]?.shape, [1, 7], "L comes from x; the unknown leading dim is 1")
    }

    func testSymbolicNonBatchDimWithoutInputShapeNamesTheDim() throws {
        var b = GraphBuilder(opset: 13)
        b.input("x", dims: [.symbolic("N"), .fixed(3), .symbolic("H"), .symbolic("W")])
        b.node("Relu", ["x"], ["y"])
        assertThrows(["'x'", "'H'", "axis 2", "--input-shape x=1,3,H,W"], kind: .usage) { _ = try b.analyse(["y"]) }
        let a = try b.analyse(["y"], inputShapes: ["x": [1, 3, 24, 32]])
        XCTAssertEqual(a.types["y"]?.shape, [1, 3, 24, 32])
    }

    func testInputShapesAreValidated() throws {
        var b = GraphBuilder(opset: 13)
        b.input("x", dims: [.symbolic("N"), .fixed(3), .symbolic("H")])
        b.weight("w", [3])
        b.node("Add", ["x", "w"], ["y"])
        assertThrows(["--input-shape", "no input 'z'", "'x'"], kind: .usage) { _ = try b.analyse(["y"], inputShapes: ["z": [1]]) }
        assertThrows(["'w' is an initializer"], kind: .usage) { _ = try b.analyse(["y"], inputShapes: ["w": [3]]) }
        assertThrows(["rank 2", "rank 3"], kind: .usage) { _ = try b.analyse(["y"], inputShapes: ["x": [1, 3]]) }
        assertThrows(["dim 1 is 4", "fixes it to 3"], kind: .usage) { _ = try b.analyse(["y"], inputShapes: ["x": [1, 4, 5]]) }
    }

    // MARK: Folding shape computations

    /// tf2onnx's flatten: Shape → Gather → Unsqueeze → Concat([N, -1]) → Reshape.
    func testTF2ONNXFlattenFoldsToAConcreteShape() throws {
        var b = GraphBuilder(opset: 13)
        b.input("x", dims: [.symbolic("unk__12"), .fixed(8), .fixed(8), .fixed(4)])
        b.initializer("zero", Tensor(.int64, [], [Int64(0)]))
        b.int64s("axes", [0])
        b.int64s("minus1", [-1])
        b.node("Shape", ["x"], ["shape"])
        b.node("Gather", ["shape", "zero"], ["n"], ["axis": .int(0)])
        b.node("Unsqueeze", ["n", "axes"], ["n1"])
        b.node("Concat", ["n1", "minus1"], ["target"], ["axis": .int(0)])
        b.node("Reshape", ["x", "target"], ["flat"])
        let a = try b.analyse(["flat"], inputShapes: ["x": [3, 8, 8, 4]])
        XCTAssertEqual(a.constants["n"]?.int64s, [3])
        XCTAssertEqual(a.constants["n"]?.shape, [])
        XCTAssertEqual(a.constants["target"]?.int64s, [3, -1])
        XCTAssertEqual(a.types["flat"]?.shape, [3, 256])
    }

    /// PyTorch's view(x.size(0), -1) and size arithmetic: Shape → Slice,
    /// Gather → Mul/Div → Unsqueeze → Concat, with Constant nodes.
    func testPyTorchShapeArithmeticFolds() throws {
        var b = GraphBuilder(opset: 13)
        b.input("x", dims: [.symbolic("batch"), .fixed(6), .fixed(4), .fixed(10)])
        func constant(_ name: String, _ values: [Int64], _ shape: Shape) {
            b.node("Constant", [], [name], ["value": .tensor(Tensor(.int64, shape, values))])
        }
        constant("c0", [0], [1])
        constant("c1", [1], [1])
        constant("two", [2], [])
        constant("idx2", [2], [])
        constant("idx3", [3], [])
        constant("ax0", [0], [1])
        constant("m1", [-1], [1])
        b.node("Shape", ["x"], ["s"])
        b.node("Slice", ["s", "c0", "c1"], ["batch"])
        b.node("Gather", ["s", "idx2"], ["h"])
        b.node("Gather", ["s", "idx3"], ["w"])
        b.node("Mul", ["h", "w"], ["hw"])
        b.node("Div", ["hw", "two"], ["half"])
        b.node("Unsqueeze", ["half", "ax0"], ["half1"])
        b.node("Concat", ["batch", "c0", "half1", "m1"], ["target"], ["axis": .int(0)])
        b.node("Reshape", ["x", "target"], ["y"])
        let a = try b.analyse(["y"])
        XCTAssertEqual(a.constants["half"]?.int64s, [20])
        XCTAssertEqual(a.constants["target"]?.int64s, [1, 0, 20, -1], "0 stays 0 in the value; Reshape copies dim 1")
        XCTAssertEqual(a.types["y"]?.shape, [1, 6, 20, 2])
    }

    /// Older PyTorch Upsample exports: sizes from Shape → Slice → Cast(float)
    /// → Mul → Cast(int64) → Concat, then Resize with sizes.
    func testResizeSizesFromFloatArithmeticFold() throws {
        var b = GraphBuilder(opset: 13)
        b.input("x", [1, 3, 5, 7])
        b.int64s("start", [2])
        b.int64s("end", [4])
        b.floats("factor", [1.5])
        b.int64s("nc", [1, 3])
        b.node("Shape", ["x"], ["s"])
        b.node("Slice", ["s", "start", "end"], ["hw"])
        b.node("Cast", ["hw"], ["hwf"], ["to": .int(Int(DType.float.rawValue))])
        b.node("Mul", ["hwf", "factor"], ["scaled"])
        b.node("Cast", ["scaled"], ["hwi"], ["to": .int(Int(DType.int64.rawValue))])
        b.node("Concat", ["nc", "hwi"], ["sizes"], ["axis": .int(0)])
        b.node("Resize", ["x", "", "", "sizes"], ["y"], ["mode": .text("linear")])
        b.node("ConstantOfShape", ["hwi"], ["ones"], ["value": .tensor(Tensor([1], floats: [1]))])
        b.int64s("nc11", [1, 3, 1, 1])
        b.node("Expand", ["ones", "nc11"], ["wide"])
        let a = try b.analyse(["y", "wide"])
        XCTAssertEqual(a.constants["scaled"]?.floats, [7.5, 10.5])
        XCTAssertEqual(a.constants["sizes"]?.int64s, [1, 3, 7, 10], "float to int64 truncates")
        XCTAssertEqual(a.types["y"]?.shape, [1, 3, 7, 10])
        XCTAssertEqual(a.types["wide"]?.shape, [1, 3, 7, 10])
        XCTAssertEqual(a.constants["wide"]?.floats, Array(repeating: 1, count: 210))
    }

    func testShapeFromARuntimeValueIsAnError() throws {
        var b = GraphBuilder(opset: 13)
        b.input("x", [2, 6])
        b.input("target", [2], .int64)
        b.node("Reshape", ["x", "target"], ["y"], name: "/view/Reshape")
        assertThrows(["/view/Reshape", "'target'", "run time"], kind: .badInput) { _ = try b.analyse(["y"]) }
    }

    func testLargeConstantsAreSharedOrLeftUnfolded() throws {
        var b = GraphBuilder(opset: 13)
        b.weight("big", [512, 256])
        b.int64s("shape", [256, 512])
        b.node("Reshape", ["big", "shape"], ["view"])
        b.node("Cast", ["big"], ["copy"], ["to": .int(Int(DType.double.rawValue))])
        let a = try b.analyse(["view", "copy"])
        let view = try XCTUnwrap(a.constants["view"])
        XCTAssertEqual(view.shape, [256, 512])
        XCTAssertEqual(view.storage.bytes.baseAddress, a.constants["big"]?.storage.bytes.baseAddress, "a view, not a copy")
        XCTAssertNil(a.constants["copy"], "131072 elements exceed the folding limit")
        XCTAssertEqual(a.types["copy"], TensorType(.double, [512, 256]))
    }

    // MARK: Ops cleave does not know

    func testUnknownOpUsesDeclaredTypesOrNamesTheNode() throws {
        var b = GraphBuilder(opset: 13)
        b.input("x", dims: [.symbolic("N"), .fixed(4)])
        b.node("CustomThing", ["x"], ["y"], name: "custom1", domain: "com.example")
        b.node("Relu", ["y"], ["z"])
        b.valueInfo = [ValueInfo(name: "y", dtype: .float, dims: [.symbolic("N"), .fixed(8)])]
        let a = try b.analyse(["z"])
        XCTAssertEqual(a.types["z"], TensorType(.float, [1, 8]))
        XCTAssertEqual(a.costs[0].macs, 0)
        XCTAssertEqual(a.costs[0].bytesRead, 16)
        XCTAssertEqual(a.costs[0].bytesWritten, 32)

        b.valueInfo = [ValueInfo(name: "y", dtype: .float, dims: [.symbolic("N"), .symbolic("K")])]
        assertThrows(["custom1", "com.example.CustomThing", "'y'"], kind: .badInput) { _ = try b.analyse(["z"]) }
    }

    // MARK: Cost model

    func testConvAndConvTransposeMACsFollowTheFormula() throws {
        var b = GraphBuilder(opset: 13)
        b.input("x", [2, 8, 16, 16])
        b.weight("w", [12, 4, 3, 3])
        b.weight("bias", [12])
        b.node("Conv", ["x", "w", "bias"], ["y"], ["group": .int(2), "pads": .ints([1, 1, 1, 1]), "strides": .ints([2, 2])])
        b.weight("wt", [12, 5, 2, 2])
        b.node("ConvTranspose", ["y", "wt"], ["z"], ["group": .int(3), "strides": .ints([2, 2])])
        let a = try b.analyse(["z"])
        XCTAssertEqual(a.types["y"]?.shape, [2, 12, 8, 8])
        // N·Cout·Hout·Wout·(Cin/group)·kH·kW
        XCTAssertEqual(a.costs[0].macs, 2 * 12 * 8 * 8 * (8 / 2) * 3 * 3)
        XCTAssertEqual(a.costs[0].params, 12 * 4 * 3 * 3 + 12)
        XCTAssertEqual(a.costs[0].bytesRead, 4 * (2 * 8 * 16 * 16 + 12 * 4 * 3 * 3 + 12))
        XCTAssertEqual(a.costs[0].bytesWritten, 4 * 2 * 12 * 8 * 8)
        // N·Cin·Hin·Win·(Cout/group)·kH·kW, Cout/group = weight dim 1
        XCTAssertEqual(a.types["z"]?.shape, [2, 15, 16, 16])
        XCTAssertEqual(a.costs[1].macs, 2 * 12 * 8 * 8 * 5 * 2 * 2)
    }

    func testGemmMatMulPoolAndElementwiseMACs() throws {
        var b = GraphBuilder(opset: 13)
        b.input("a", [6, 5])
        b.weight("b", [7, 5])
        b.weight("c", [7])
        b.node("Gemm", ["a", "b", "c"], ["g"], ["transB": .int(1)])
        b.input("l", [3, 4, 5])
        b.weight("r", [5, 2])
        b.node("MatMul", ["l", "r"], ["m"])
        b.input("x", [1, 2, 8, 8])
        b.node("MaxPool", ["x"], ["p"], ["kernel_shape": .ints([3, 3]), "strides": .ints([1, 1])])
        b.node("Relu", ["x"], ["relu"])
        b.node("Softmax", ["x"], ["sm"])
        b.node("Sum", ["x", "x", "x"], ["sum"])
        b.node("Reshape", ["x", "shape"], ["flat"])
        b.int64s("shape", [1, -1])
        let a = try b.analyse(["g", "m", "p", "relu", "sm", "sum", "flat"])
        XCTAssertEqual(a.costs[0].macs, 6 * 7 * 5)       // M·N·K
        XCTAssertEqual(a.costs[1].macs, 3 * 4 * 2 * 5)   // batch·M·N·K
        XCTAssertEqual(a.costs[2].macs, 2 * 6 * 6 * 9)   // output elements × window
        XCTAssertEqual(a.costs[3].macs, 128)
        XCTAssertEqual(a.costs[4].macs, 3 * 128)
        XCTAssertEqual(a.costs[5].macs, 2 * 128)
        XCTAssertEqual(a.costs[6].macs, 0)
        XCTAssertEqual(a.totals.macs, a.costs.map(\.macs).reduce(0, +))
        XCTAssertEqual(a.totals.bytesRead, a.costs.map(\.bytesRead).reduce(0, +))
    }

    /// totals.params counts every initializer and Constant tensor once; a
    /// constant belongs to the first node that reads it.
    func testParamsCountEveryConstantOnce() throws {
        var b = GraphBuilder(opset: 13)
        b.input("x", [1, 3, 4, 4])
        b.node("Constant", [], ["w"], name: "weights", ["value": .tensor(Tensor(zeros: .float, [2, 3, 1, 1]))])
        b.node("Conv", ["x", "w"], ["y"])
        b.weight("shared", [2, 1, 1])
        b.node("Add", ["y", "shared"], ["y1"])
        b.node("Mul", ["y1", "shared"], ["y2"])
        b.weight("unused", [10])
        b.node("Constant", [], ["k"], name: "lonely", ["value_ints": .ints([1, 2, 3])])
        let a = try b.analyse(["y2", "k"])
        XCTAssertEqual(a.costs.map(\.params), [0, 6, 2, 0, 3])
        XCTAssertEqual(a.totals.params, 6 + 2 + 10 + 3)
        XCTAssertEqual(a.costs[0].bytesWritten, 24, "a Constant writes its value")
    }
}

/// Values from a model file can be anything: absurd ones must give a
/// `CleaveError.badInput` naming the node, never an arithmetic trap.
final class AbsurdValueTests: XCTestCase {
    let huge = Int(Int64.max)

    func analyse(_ op: String, _ inputs: [String], _ attributes: [String: AttributeValue] = [:],
                 setUp: (inout GraphBuilder) -> Void = { _ in }) throws {
        var b = GraphBuilder(opset: 13)
        b.input("x", [1, 2, 8, 8])
        b.weight("w", [2, 2, 3, 3])
        setUp(&b)
        b.node(op, inputs, ["y"], name: "absurd", attributes)
        _ = try b.analyse(["y"])
    }

    func testWindowAttributes() {
        assertThrows(["absurd"], kind: .badInput) { try self.analyse("Conv", ["x", "w"], ["dilations": .ints([self.huge, 1])]) }
        assertThrows(["absurd"], kind: .badInput) { try self.analyse("Conv", ["x", "w"], ["pads": .ints([self.huge, 0, self.huge, 0])]) }
        assertThrows(["absurd"], kind: .badInput) { try self.analyse("Conv", ["x", "w"], ["group": .int(self.huge)]) }
        assertThrows(["absurd"], kind: .badInput) {
            try self.analyse("ConvTranspose", ["x", "w"], ["strides": .ints([self.huge, 1])])
        }
        assertThrows(["absurd"], kind: .badInput) {
            try self.analyse("ConvTranspose", ["x", "w"], ["output_shape": .ints([4])])
        }
    }

    /// ceil_mode's last-window check multiplies by the stride; with a huge
    /// stride and pad it must still give the one window that starts inside.
    func testCeilModeWithHugeStride() throws {
        var b = GraphBuilder(opset: 13)
        b.input("x", [1, 2, 8, 8])
        b.node("MaxPool", ["x"], ["y"], ["kernel_shape": .ints([2, 2]), "ceil_mode": .int(1), "strides": .ints([huge, 1]),
                                          "pads": .ints([0, 0, huge - 10, 0])])
        XCTAssertEqual(try b.analyse(["y"]).types["y"]?.shape, [1, 2, 1, 7])
    }

    func testShapeInputs() {
        assertThrows(["absurd", "pads"], kind: .badInput) {
            try self.analyse("Pad", ["x", "p"]) { $0.int64s("p", [0, 0, self.huge, 0, 0, 0, self.huge, 0]) }
        }
        assertThrows(["absurd"], kind: .badInput) {
            try self.analyse("Reshape", ["x", "s"]) { $0.int64s("s", [self.huge, self.huge, -1]) }
        }
        assertThrows(["absurd"], kind: .badInput) {
            try self.analyse("ConstantOfShape", ["s"]) { $0.int64s("s", [self.huge, 4]) }
        }
        assertThrows(["absurd"], kind: .badInput) {
            try self.analyse("Expand", ["x", "s"]) { $0.int64s("s", [1 << 40, 1 << 40, 1, 1]) }
        }
        assertThrows(["absurd"], kind: .badInput) {
            try self.analyse("Split", ["x", "s"]) { $0.int64s("s", [self.huge, 2 - self.huge]) }
        }
        assertThrows(["absurd"], kind: .badInput) {
            try self.analyse("Resize", ["x", "", "s"]) { $0.floats("s", [1, 1, .nan, 1e30]) }
        }
        assertThrows(["absurd"], kind: .badInput) {
            try self.analyse("Concat", ["x", "x"], ["axis": .int(self.huge)])
        }
    }

    func testSliceWithExtremeStepsFoldsCorrectly() throws {
        var b = GraphBuilder(opset: 13)
        b.int64s("data", [10, 11, 12, 13, 14])
        b.int64s("starts", [-1])
        b.int64s("ends", [Int(Int64.min)])
        b.int64s("steps", [Int(Int64.min)])
        b.int64s("axes", [0])
        b.node("Slice", ["data", "starts", "ends", "axes", "steps"], ["y"])
        b.int64s("s2", [1])
        b.int64s("e2", [huge])
        b.int64s("st2", [huge])
        b.node("Slice", ["data", "s2", "e2", "axes", "st2"], ["z"])
        let a = try b.analyse(["y", "z"])
        XCTAssertEqual(a.constants["y"]?.int64s, [14])
        XCTAssertEqual(a.constants["z"]?.int64s, [11])
    }
}

extension AbsurdValueTests {
    func testOuterProductsBeyondTheElementLimit() {
        var b = GraphBuilder(opset: 13)
        b.input("a", [1 << 40, 1])
        b.input("c", [1, 1 << 40])
        b.node("Add", ["a", "c"], ["y"], name: "outer")
        assertThrows(["outer", "too many elements"], kind: .badInput) { _ = try b.analyse(["y"]) }
        b.nodes = []
        b.node("Gemm", ["a", "c"], ["y"], name: "gemm")
        assertThrows(["gemm", "too many elements"], kind: .badInput) { _ = try b.analyse(["y"]) }
    }
}
