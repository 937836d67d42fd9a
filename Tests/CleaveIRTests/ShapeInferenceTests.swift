import CleaveIR
import XCTest

/// Hand-built graphs for each op's attribute and input forms across opsets,
/// with shapes worked out by hand from the ONNX operator specs.
final class ShapeInferenceTests: XCTestCase {
    func shape(_ analysis: Analysis, _ name: String) -> [Int]? { analysis.types[name]?.shape.dims }

    // MARK: Convolution and linear algebra

    func testConvPadsStridesDilationsGroups() throws {
        var b = GraphBuilder(opset: 13)
        b.input("x", [2, 8, 17, 20])
        b.weight("w", [12, 4, 3, 5])
        b.weight("bias", [12])
        b.node("Conv", ["x", "w", "bias"], ["y"], ["group": .int(2), "strides": .ints([2, 3]),
                                                   "pads": .ints([1, 2, 0, 1]), "dilations": .ints([2, 1])])
        b.node("Conv", ["x", "w"], ["same"], ["group": .int(2), "strides": .ints([2, 3]), "auto_pad": .text("SAME_UPPER")])
        let a = try b.analyse(["y", "same"])
        // H: (17 + 1 + 0 - 5) / 2 + 1 = 7; W: (20 + 2 + 1 - 5) / 3 + 1 = 7
        XCTAssertEqual(shape(a, "y"), [2, 12, 7, 7])
        XCTAssertEqual(shape(a, "same"), [2, 12, 9, 7])  // ceil(17/2), ceil(20/3)
    }

    func testConv1DAndChannelMismatch() throws {
        var b = GraphBuilder(opset: 11)
        b.input("x", [1, 3, 10])
        b.weight("w", [5, 3, 4])
        b.node("Conv", ["x", "w"], ["y"], ["kernel_shape": .ints([4])])
        XCTAssertEqual(shape(try b.analyse(["y"]), "y"), [1, 5, 7])

        var bad = GraphBuilder(opset: 11)
        bad.input("x", [1, 4, 10])
        bad.weight("w", [5, 3, 4])
        bad.node("Conv", ["x", "w"], ["y"], name: "conv7")
        assertThrows(["conv7", "input channels"]) { _ = try bad.analyse(["y"]) }
    }

    func testConvTransposeOutputPaddingAndOutputShape() throws {
        var b = GraphBuilder(opset: 11)
        b.input("x", [1, 4, 5, 6])
        b.weight("w", [4, 3, 3, 3])  // Cin=4, Cout/group=3
        b.node("ConvTranspose", ["x", "w"], ["a"], ["strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1]),
                                                     "output_padding": .ints([1, 0])])
        b.node("ConvTranspose", ["x", "w"], ["b"], ["strides": .ints([2, 2]), "output_shape": .ints([10, 13])])
        b.node("ConvTranspose", ["x", "w"], ["c"], ["group": .int(2), "strides": .ints([3, 1])])
        b.node("ConvTranspose", ["x", "w"], ["d"], ["strides": .ints([2, 2]), "auto_pad": .text("SAME_UPPER")])
        let a = try b.analyse(["a", "b", "c", "d"])
        // 2·(5-1) + 1 + 3 - 2 = 10; 2·(6-1) + 0 + 3 - 2 = 11
        XCTAssertEqual(shape(a, "a"), [1, 3, 10, 11])
        XCTAssertEqual(shape(a, "b"), [1, 3, 10, 13])
        // group 2: Cout = 3·2; 3·(5-1) + 3 = 15; 1·(6-1) + 3 = 8
        XCTAssertEqual(shape(a, "c"), [1, 6, 15, 8])
        XCTAssertEqual(shape(a, "d"), [1, 3, 10, 12])
    }

    func testGemmTransposes() throws {
        var b = GraphBuilder(opset: 13)
        b.input("a", [7, 3])
        b.weight("b", [5, 7])
        b.weight("c", [5])
        b.node("Gemm", ["a", "b", "c"], ["y"], ["transA": .int(1), "transB": .int(1)])
        b.input("p", [2, 4])
        b.weight("q", [4, 6])
        b.node("Gemm", ["p", "q"], ["z"])
        let a = try b.analyse(["y", "z"])
        XCTAssertEqual(shape(a, "y"), [3, 5])
        XCTAssertEqual(shape(a, "z"), [2, 6])
    }

    func testMatMulBatchedAndOneDimensionalPromotion() throws {
        var ok = GraphBuilder(opset: 13)
        ok.input("v", [3])
        ok.input("m", [3, 4])
        ok.input("k", [2, 5, 3])
        ok.input("u", [7, 1, 2, 3])
        ok.input("w", [5, 3, 6])
        ok.input("l", [4])
        ok.node("MatMul", ["v", "m"], ["vm"])
        ok.node("MatMul", ["k", "m"], ["km"])
        ok.node("MatMul", ["u", "w"], ["uw"])
        ok.node("MatMul", ["m", "l"], ["ml"])
        ok.node("MatMul", ["v", "v"], ["dot"])
        let a = try ok.analyse(["vm", "km", "uw", "ml", "dot"])
        XCTAssertEqual(shape(a, "vm"), [4])
        XCTAssertEqual(shape(a, "km"), [2, 5, 4])
        XCTAssertEqual(shape(a, "uw"), [7, 5, 2, 6])
        XCTAssertEqual(shape(a, "ml"), [3])
        XCTAssertEqual(shape(a, "dot"), [])

        var mismatch = GraphBuilder(opset: 13)
        mismatch.input("t", [2, 5, 4])
        mismatch.input("m", [3, 4])
        mismatch.node("MatMul", ["t", "m"], ["y"], name: "mm")
        assertThrows(["mm", "inner dim"]) { _ = try mismatch.analyse(["y"]) }
    }

    func testEinsumShapesAndCost() throws {
        var b = GraphBuilder(opset: 12)
        b.input("q", [2, 3, 5, 8])
        b.input("k", [2, 3, 7, 8])
        b.input("x", [2, 1, 4, 5])
        b.input("w", [3, 5, 6])
        b.node("Einsum", ["q", "k"], ["scores"], ["equation": .text("bhid, bhjd -> bhij")])
        b.node("Einsum", ["x", "w"], ["y"], ["equation": .text("...ij,...jk->...ik")])
        b.node("Einsum", ["k", "q"], ["implicit"], ["equation": .text("bhjd,bhid")])
        b.node("Einsum", ["q"], ["sum"], ["equation": .text("bhid->")])
        let a = try b.analyse(["scores", "y", "implicit", "sum"])
        XCTAssertEqual(shape(a, "scores"), [2, 3, 5, 7])
        XCTAssertEqual(shape(a, "y"), [2, 3, 4, 6])
        XCTAssertEqual(shape(a, "implicit"), [5, 7])  // i, j: the letters occurring once, sorted (b, h, d are summed)
        XCTAssertEqual(shape(a, "sum"), [])
        XCTAssertEqual(a.costs[0].macs, 2 * 3 * 5 * 7 * 8)

        var bad = GraphBuilder(opset: 12)
        bad.input("a", [2, 3])
        bad.input("b", [4, 5])
        bad.node("Einsum", ["a", "b"], ["y"], name: "ein", ["equation": .text("ij,jk->ik")])
        assertThrows(["ein", "label 'j' is 3 in one place and 4 in input 1"]) { _ = try bad.analyse(["y"]) }
        var rank = GraphBuilder(opset: 12)
        rank.input("a", [2, 3, 4])
        rank.node("Einsum", ["a"], ["y"], name: "ein2", ["equation": .text("ij->ji")])
        assertThrows(["ein2", "term 0 has 2 labels but input 0 has rank 3"]) { _ = try rank.analyse(["y"]) }
    }

    // MARK: Normalization, activations, pooling

    func testBatchNormalizationOutputsAcrossOpsets() throws {
        for (opset, outputs) in [(9, ["y", "mean", "var", "saved_mean", "saved_var"]), (15, ["y", "running_mean", "running_var"])] {
            var b = GraphBuilder(opset: opset)
            b.input("x", [2, 6, 4, 4])
            for name in ["s", "bias", "m", "v"] { b.weight(name, [6]) }
            b.node("BatchNormalization", ["x", "s", "bias", "m", "v"], outputs,
                   opset == 15 ? ["training_mode": .int(1)] : [:])
            let a = try b.analyse(outputs)
            XCTAssertEqual(shape(a, "y"), [2, 6, 4, 4])
            for name in outputs.dropFirst() { XCTAssertEqual(shape(a, name), [6], "opset \(opset) \(name)") }
        }
    }

    func testLayerNormalizationStatisticsShapes() throws {
        var b = GraphBuilder(opset: 17)
        b.input("x", [2, 5, 8])
        b.weight("s", [8])
        b.weight("s2", [1, 8])
        b.weight("bias", [5, 8])
        b.node("LayerNormalization", ["x", "s"], ["y", "mean", "inv"])
        b.node("LayerNormalization", ["x", "s2", "bias"], ["y1", "mean1"], ["axis": .int(1)])
        let a = try b.analyse(["y", "mean", "inv", "y1", "mean1"])
        XCTAssertEqual(shape(a, "y"), [2, 5, 8])
        XCTAssertEqual(shape(a, "mean"), [2, 5, 1])
        XCTAssertEqual(shape(a, "inv"), [2, 5, 1])
        XCTAssertEqual(shape(a, "mean1"), [2, 1, 1])
        XCTAssertEqual(a.types["mean"]?.dtype, .float)

        var bad = GraphBuilder(opset: 17)
        bad.input("x", [2, 5, 8])
        bad.weight("s", [5])
        bad.node("LayerNormalization", ["x", "s"], ["y"], name: "ln3")
        assertThrows(["ln3", "Scale [5] does not broadcast to the normalized shape [8]"]) { _ = try bad.analyse(["y"]) }
    }

    func testClipBoundsAsAttributesAndInputs() throws {
        var b = GraphBuilder(opset: 11)
        b.input("x", [2, 3])
        b.floats("lo", [0], shape: [])
        b.node("Clip", ["x", "lo"], ["a"])
        b.node("Clip", ["x", "", "lo"], ["b"])
        b.node("Clip", ["x"], ["c"])
        let a = try b.analyse(["a", "b", "c"])
        for name in ["a", "b", "c"] { XCTAssertEqual(a.types[name], TensorType(.float, [2, 3])) }

        var old = GraphBuilder(opset: 6 + 1)
        old.input("x", [4])
        old.node("Clip", ["x"], ["y"], ["min": .float(-1), "max": .float(1)])
        XCTAssertEqual(shape(try old.analyse(["y"]), "y"), [4])
    }

    func testSoftmaxAxisRules() throws {
        var b = GraphBuilder(opset: 11)
        b.input("x", [2, 3, 4])
        b.node("Softmax", ["x"], ["y"])  // axis 1 by default before opset 13
        b.node("LogSoftmax", ["x"], ["z"], ["axis": .int(-1)])
        let a = try b.analyse(["y", "z"])
        XCTAssertEqual(shape(a, "y"), [2, 3, 4])
        XCTAssertEqual(shape(a, "z"), [2, 3, 4])

        var bad = GraphBuilder(opset: 13)
        bad.input("x", [2, 3])
        bad.node("Softmax", ["x"], ["y"], name: "sm", ["axis": .int(2)])
        assertThrows(["sm", "axis 2"]) { _ = try bad.analyse(["y"]) }
    }

    /// TopK's k: attribute before opset 10, a constant input from 10, at most the axis's length.
    func testTopKNeedsAKnownK() throws {
        var b = GraphBuilder(opset: 11)
        b.input("x", [2, 10, 3])
        b.int64s("k", [4])
        b.node("TopK", ["x", "k"], ["v", "i"], ["axis": .int(1)])
        let a = try b.analyse(["v", "i"])
        XCTAssertEqual(shape(a, "v"), [2, 4, 3])
        XCTAssertEqual(a.types["i"], TensorType(.int64, [2, 4, 3]))

        var v9 = GraphBuilder(opset: 9)
        v9.input("x", [2, 10])
        v9.node("TopK", ["x"], ["v", "i"], ["k": .int(10)])
        XCTAssertEqual(shape(try v9.analyse(["v", "i"]), "i"), [2, 10])

        var large = GraphBuilder(opset: 11)
        large.input("x", [2, 10])
        large.int64s("k", [11])
        large.node("TopK", ["x", "k"], ["v", "i"], name: "top")
        assertThrows(["top", "k 11 is out of range for the axis's 10 elements"]) { _ = try large.analyse(["v", "i"]) }

        var computed = GraphBuilder(opset: 11)
        computed.input("x", [2, 10])
        computed.input("k", [1], .int64)
        computed.node("TopK", ["x", "k"], ["v", "i"], name: "top2")
        assertThrows(["top2", "K input 'k' is computed at run time"]) { _ = try computed.analyse(["v", "i"]) }
    }

    func testMaxPoolIndicesCeilModeAndAveragePool() throws {
        var b = GraphBuilder(opset: 12)
        b.input("x", [1, 2, 7, 7])
        b.node("MaxPool", ["x"], ["p", "i"], ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2]), "ceil_mode": .int(1)])
        b.node("MaxPool", ["x"], ["q"], ["kernel_shape": .ints([3, 3]), "dilations": .ints([2, 2])])
        b.node("AveragePool", ["x"], ["r"], ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1]), "strides": .ints([2, 2])])
        b.node("GlobalMaxPool", ["x"], ["g"])
        let a = try b.analyse(["p", "i", "q", "r", "g"])
        XCTAssertEqual(shape(a, "p"), [1, 2, 4, 4])
        XCTAssertEqual(a.types["i"], TensorType(.int64, [1, 2, 4, 4]))
        XCTAssertEqual(shape(a, "q"), [1, 2, 3, 3])
        XCTAssertEqual(shape(a, "r"), [1, 2, 4, 4])
        XCTAssertEqual(shape(a, "g"), [1, 2, 1, 1])
    }

    func testDropoutMaskType() throws {
        var old = GraphBuilder(opset: 7)
        old.input("x", [3, 4])
        old.node("Dropout", ["x"], ["y", "mask"], ["ratio": .float(0.5)])
        XCTAssertEqual(try old.analyse(["mask"]).types["mask"], TensorType(.float, [3, 4]))

        var new = GraphBuilder(opset: 13)
        new.input("x", [3, 4])
        new.floats("ratio", [0.2], shape: [])
        new.node("Dropout", ["x", "ratio"], ["y", "mask"])
        let a = try new.analyse(["y", "mask"])
        XCTAssertEqual(a.types["y"], TensorType(.float, [3, 4]))
        XCTAssertEqual(a.types["mask"], TensorType(.bool, [3, 4]))
    }

    // MARK: Reductions

    func testReduceAxesAsAttributeAndInput() throws {
        var b = GraphBuilder(opset: 13)
        b.input("x", [2, 3, 4])
        b.int64s("axes", [-1, 0])
        b.int64s("none", [])
        b.node("ReduceSum", ["x", "axes"], ["sum"], ["keepdims": .int(0)])
        b.node("ReduceSum", ["x", "none"], ["noop"], ["noop_with_empty_axes": .int(1)])
        b.node("ReduceSum", ["x"], ["all"])
        b.node("ReduceMean", ["x"], ["mean"], ["axes": .ints([1])])  // attribute form until opset 18
        let a = try b.analyse(["sum", "noop", "all", "mean"])
        XCTAssertEqual(shape(a, "sum"), [3])
        XCTAssertEqual(shape(a, "noop"), [2, 3, 4])
        XCTAssertEqual(shape(a, "all"), [1, 1, 1])
        XCTAssertEqual(shape(a, "mean"), [2, 1, 4])

        var v18 = GraphBuilder(opset: 18)
        v18.input("x", [2, 3, 4])
        v18.int64s("axes", [1])
        v18.node("ReduceMax", ["x", "axes"], ["max"], ["keepdims": .int(0)])
        v18.node("ReduceMean", ["x"], ["all"], ["keepdims": .int(0)])
        let b18 = try v18.analyse(["max", "all"])
        XCTAssertEqual(shape(b18, "max"), [2, 4])
        XCTAssertEqual(shape(b18, "all"), [])
    }

    /// tf2onnx flattens with Shape → Slice → ReduceProd → Concat → Reshape:
    /// the product folds, so the Reshape gets a concrete shape.
    func testReduceProdOfAShapeFolds() throws {
        var b = GraphBuilder(opset: 13)
        b.input("x", [2, 3, 4, 5])
        b.int64s("start", [1])
        b.int64s("end", [4])
        b.int64s("batch", [-1])
        b.node("Shape", ["x"], ["shape"])
        b.node("Slice", ["shape", "start", "end"], ["inner"])
        b.node("ReduceProd", ["inner"], ["size"], ["keepdims": .int(1)])
        b.node("Concat", ["batch", "size"], ["target"], ["axis": .int(0)])
        b.node("Reshape", ["x", "target"], ["y"])
        b.node("ReduceMin", ["x"], ["min"], ["axes": .ints([0, -1]), "keepdims": .int(0)])
        b.node("ReduceLogSumExp", ["x"], ["lse"])
        let a = try b.analyse(["y", "min", "lse"])
        XCTAssertEqual(a.constants["size"]?.int64s, [60])
        XCTAssertEqual(shape(a, "y"), [2, 60])
        XCTAssertEqual(shape(a, "min"), [3, 4])
        XCTAssertEqual(shape(a, "lse"), [1, 1, 1, 1])

        var v18 = GraphBuilder(opset: 18)
        v18.int64s("v", [2, 3, 4, 5], shape: [2, 2])
        v18.int64s("axes", [1])
        v18.node("ReduceProd", ["v", "axes"], ["rows"], ["keepdims": .int(0)])
        XCTAssertEqual(try v18.analyse(["rows"]).constants["rows"]?.int64s, [6, 20])
    }

    func testArgMaxArgMinKeepDimsAndInt64Output() throws {
        var b = GraphBuilder(opset: 13)
        b.input("x", [2, 3, 4])
        b.node("ArgMax", ["x"], ["kept"], ["axis": .int(-1)])
        b.node("ArgMin", ["x"], ["dropped"], ["axis": .int(1), "keepdims": .int(0)])
        b.node("ArgMax", ["x"], ["first"])
        let a = try b.analyse(["kept", "dropped", "first"])
        XCTAssertEqual(shape(a, "kept"), [2, 3, 1])
        XCTAssertEqual(shape(a, "dropped"), [2, 4])
        XCTAssertEqual(shape(a, "first"), [1, 3, 4])
        XCTAssertEqual(a.types["dropped"]?.dtype, .int64)

        var bad = GraphBuilder(opset: 13)
        bad.input("x", [2, 3])
        bad.node("ArgMin", ["x"], ["y"], name: "am", ["axis": .int(-3)])
        assertThrows(["am", "axis -3 is out of range for rank 2"]) { _ = try bad.analyse(["y"]) }
    }

    /// CumSum keeps its input's type; a constant axis is checked, a computed one is left to the kernel.
    func testCumSumAxisCheckedWhenKnown() throws {
        var b = GraphBuilder(opset: 14)
        b.input("x", [2, 3], .int32)
        b.input("computed", [], .int64)
        b.initializer("axis", Tensor(.int64, [], [Int64(-1)]))
        b.node("CumSum", ["x", "axis"], ["y"])
        b.node("CumSum", ["x", "computed"], ["z"])
        let a = try b.analyse(["y", "z"])
        XCTAssertEqual(a.types["y"], TensorType(.int32, [2, 3]))
        XCTAssertEqual(a.types["z"], TensorType(.int32, [2, 3]))

        var bad = GraphBuilder(opset: 14)
        bad.input("x", [2, 3])
        bad.initializer("axis", Tensor(.int64, [], [Int64(2)]))
        bad.node("CumSum", ["x", "axis"], ["y"], name: "cs")
        assertThrows(["cs", "axis 2 is out of range for rank 2"]) { _ = try bad.analyse(["y"]) }
    }

    // MARK: Data movement

    func testSplitForms() throws {
        var v11 = GraphBuilder(opset: 11)
        v11.input("x", [6, 10])
        v11.node("Split", ["x"], ["a", "b"], ["axis": .int(1), "split": .ints([3, 7])])
        v11.node("Split", ["x"], ["c", "d", "e"])
        let a = try v11.analyse(["a", "b", "c", "e"])
        XCTAssertEqual(shape(a, "a"), [6, 3])
        XCTAssertEqual(shape(a, "b"), [6, 7])
        XCTAssertEqual(shape(a, "c"), [2, 10])
        XCTAssertEqual(shape(a, "e"), [2, 10])

        var v13 = GraphBuilder(opset: 13)
        v13.input("x", [6, 10])
        v13.int64s("split", [1, 5])
        v13.node("Split", ["x", "split"], ["a", "b"])
        let b = try v13.analyse(["a", "b"])
        XCTAssertEqual(shape(b, "a"), [1, 10])
        XCTAssertEqual(shape(b, "b"), [5, 10])

        var v18 = GraphBuilder(opset: 18)
        v18.input("x", [6, 10])
        v18.node("Split", ["x"], ["a", "b", "c"], ["axis": .int(-1), "num_outputs": .int(3)])
        let c = try v18.analyse(["a", "b", "c"])
        XCTAssertEqual([shape(c, "a"), shape(c, "b"), shape(c, "c")], [[6, 4], [6, 4], [6, 2]])

        var uneven = GraphBuilder(opset: 13)
        uneven.input("x", [7])
        uneven.node("Split", ["x"], ["a", "b"], name: "sp")
        assertThrows(["sp", "does not split evenly"]) { _ = try uneven.analyse(["a"]) }
    }

    func testSliceAttributesBeforeOpset10AndInputsAfter() throws {
        var v9 = GraphBuilder(opset: 9)
        v9.input("x", [10, 20, 30])
        v9.node("Slice", ["x"], ["y"], ["starts": .ints([1, -5]), "ends": .ints([1000, -1]), "axes": .ints([0, 2])])
        XCTAssertEqual(shape(try v9.analyse(["y"]), "y"), [9, 20, 4])

        var v13 = GraphBuilder(opset: 13)
        v13.input("x", [10, 20, 30])
        v13.int64s("starts", [-1, 2])
        v13.int64s("ends", [Int(Int64.min), Int(Int64.max)])
        v13.int64s("axes", [1, -1])
        v13.int64s("steps", [-3, 5])
        v13.node("Slice", ["x", "starts", "ends", "axes", "steps"], ["y"])
        v13.int64s("s0", [5])
        v13.int64s("e0", [2])
        v13.node("Slice", ["x", "s0", "e0"], ["empty"])
        let a = try v13.analyse(["y", "empty"])
        // axis 1: 19, 16, …, 1 → 7; axis 2: 2, 7, …, 27 → 6
        XCTAssertEqual(shape(a, "y"), [10, 7, 6])
        XCTAssertEqual(shape(a, "empty"), [0, 20, 30])
    }

    func testReshapeZeroMinusOneAndAllowZero() throws {
        var b = GraphBuilder(opset: 14)
        b.input("x", [2, 3, 4])
        b.int64s("s1", [0, -1])
        b.int64s("s2", [-1, 0, 2])
        b.int64s("s3", [0, 24])
        b.node("Reshape", ["x", "s1"], ["a"])
        b.node("Reshape", ["x", "s2"], ["b"])
        b.input("e", [0, 4])
        b.int64s("s4", [0, 4])
        b.node("Reshape", ["e", "s4"], ["c"], ["allowzero": .int(1)])
        let a = try b.analyse(["a", "b", "c"])
        XCTAssertEqual(shape(a, "a"), [2, 12])
        XCTAssertEqual(shape(a, "b"), [4, 3, 2])
        XCTAssertEqual(shape(a, "c"), [0, 4])

        var bad = GraphBuilder(opset: 14)
        bad.input("x", [2, 3, 4])
        bad.int64s("s", [5, -1])
        bad.node("Reshape", ["x", "s"], ["y"], name: "rs")
        assertThrows(["rs", "cannot reshape"]) { _ = try bad.analyse(["y"]) }
    }

    func testFlattenTransposeGatherExpand() throws {
        var b = GraphBuilder(opset: 13)
        b.input("x", [2, 3, 4, 5])
        b.node("Flatten", ["x"], ["f1"])
        b.node("Flatten", ["x"], ["f0"], ["axis": .int(0)])
        b.node("Flatten", ["x"], ["fn"], ["axis": .int(-1)])
        b.node("Transpose", ["x"], ["t"], ["perm": .ints([0, 2, 3, 1])])
        b.node("Transpose", ["x"], ["tr"])
        b.int64s("idx", [1, -1, 0, 2, 2, 1], shape: [2, 3])
        b.initializer("scalar", Tensor(.int64, [], [Int64(-2)]))
        b.node("Gather", ["x", "idx"], ["g"], ["axis": .int(-2)])
        b.node("Gather", ["x", "scalar"], ["gs"])
        b.input("v", [3, 1])
        b.int64s("shape", [2, 1, 6])
        b.node("Expand", ["v", "shape"], ["e"])
        let a = try b.analyse(["f1", "f0", "fn", "t", "tr", "g", "gs", "e"])
        XCTAssertEqual(shape(a, "f1"), [2, 60])
        XCTAssertEqual(shape(a, "f0"), [1, 120])
        XCTAssertEqual(shape(a, "fn"), [24, 5])
        XCTAssertEqual(shape(a, "t"), [2, 4, 5, 3])
        XCTAssertEqual(shape(a, "tr"), [5, 4, 3, 2])
        XCTAssertEqual(shape(a, "g"), [2, 3, 2, 3, 5])
        XCTAssertEqual(shape(a, "gs"), [3, 4, 5])
        XCTAssertEqual(shape(a, "e"), [2, 3, 6])
    }

    func testGatherElementsTakesTheShapeOfItsIndices() throws {
        var b = GraphBuilder(opset: 13)
        b.input("x", [4, 5], .int64)
        b.input("i", [2, 7], .int32)
        b.node("GatherElements", ["x", "i"], ["y"], ["axis": .int(1)])
        XCTAssertEqual(try b.analyse(["y"]).types["y"], TensorType(.int64, [2, 7]))

        var bad = GraphBuilder(opset: 13)
        bad.input("x", [4, 5])
        bad.input("i", [2, 6], .int64)
        bad.node("GatherElements", ["x", "i"], ["y"], name: "ge", ["axis": .int(0)])
        assertThrows(["ge", "indices [2, 6] must have the rank of data [4, 5] and no larger dim except on axis 0"]) {
            _ = try bad.analyse(["y"])
        }
        var floatIndices = GraphBuilder(opset: 13)
        floatIndices.input("x", [4, 5])
        floatIndices.input("i", [2, 5])
        floatIndices.node("GatherElements", ["x", "i"], ["y"], name: "ge2")
        assertThrows(["ge2", "indices must be int64 or int32, got float32"]) { _ = try floatIndices.analyse(["y"]) }
    }

    func testScatterNDChecksTheUpdatesShape() throws {
        var b = GraphBuilder(opset: 16)
        b.input("x", [4, 5, 6])
        b.input("i", [2, 3, 2], .int64)
        b.input("u", [2, 3, 6])
        b.node("ScatterND", ["x", "i", "u"], ["y"], ["reduction": .text("add")])
        XCTAssertEqual(shape(try b.analyse(["y"]), "y"), [4, 5, 6])

        var bad = GraphBuilder(opset: 16)
        bad.input("x", [4, 5, 6])
        bad.input("i", [2, 1], .int64)
        bad.input("u", [2, 6])
        bad.node("ScatterND", ["x", "i", "u"], ["y"], name: "sc")
        assertThrows(["sc", "updates float32[2, 6] must be float32[2, 5, 6]"]) { _ = try bad.analyse(["y"]) }
    }

    /// Tile's repeats must be known; a constant Tile of int64s folds.
    func testTileShapeNeedsRepeatsAndFolds() throws {
        var b = GraphBuilder(opset: 13)
        b.input("x", [2, 3, 4])
        b.int64s("r", [1, 2, 3])
        b.int64s("v", [5, 7])
        b.int64s("r1", [3])
        b.node("Tile", ["x", "r"], ["y"])
        b.node("Tile", ["v", "r1"], ["vv"])
        let a = try b.analyse(["y", "vv"])
        XCTAssertEqual(shape(a, "y"), [2, 6, 12])
        XCTAssertEqual(a.constants["vv"]?.int64s, [5, 7, 5, 7, 5, 7])

        var computed = GraphBuilder(opset: 13)
        computed.input("x", [2, 3])
        computed.input("r", [2], .int64)
        computed.node("Tile", ["x", "r"], ["y"], name: "tile1")
        assertThrows(["tile1", "repeats input 'r' is computed at run time"]) { _ = try computed.analyse(["y"]) }

        var bad = GraphBuilder(opset: 13)
        bad.input("x", [2, 3])
        bad.int64s("r", [2, 2, 2])
        bad.node("Tile", ["x", "r"], ["y"], name: "tile2")
        assertThrows(["tile2", "repeats [2, 2, 2] must be 2 non-negative counts"]) { _ = try bad.analyse(["y"]) }
    }

    func testSqueezeUnsqueezeAttributeAndInputForms() throws {
        var v11 = GraphBuilder(opset: 11)
        v11.input("x", [1, 3, 1, 5])
        v11.node("Squeeze", ["x"], ["all"])
        v11.node("Squeeze", ["x"], ["one"], ["axes": .ints([-2])])
        v11.node("Unsqueeze", ["x"], ["u"], ["axes": .ints([0, -1])])
        let a = try v11.analyse(["all", "one", "u"])
        XCTAssertEqual(shape(a, "all"), [3, 5])
        XCTAssertEqual(shape(a, "one"), [1, 3, 5])
        XCTAssertEqual(shape(a, "u"), [1, 1, 3, 1, 5, 1])

        var v13 = GraphBuilder(opset: 13)
        v13.input("x", [1, 3, 1, 5])
        v13.int64s("axes", [0])
        v13.int64s("uaxes", [1, 3])
        v13.node("Squeeze", ["x", "axes"], ["s"])
        v13.node("Unsqueeze", ["x", "uaxes"], ["u"])
        v13.int64s("axis1", [1])
        v13.node("Squeeze", ["x", "axis1"], ["bad"], name: "sq")
        assertThrows(["sq", "axis 1"]) { _ = try v13.analyse(["bad"]) }
        v13.nodes.removeLast()
        let b = try v13.analyse(["s", "u"])
        XCTAssertEqual(shape(b, "s"), [3, 1, 5])
        XCTAssertEqual(shape(b, "u"), [1, 1, 3, 1, 1, 5])
    }

    func testPadAttributeInputAndAxesForms() throws {
        var v2 = GraphBuilder(opset: 7)
        v2.input("x", [1, 3, 4, 4])
        v2.node("Pad", ["x"], ["y"], ["pads": .ints([0, 0, 1, 2, 0, 0, 3, 4]), "mode": .text("reflect")])
        XCTAssertEqual(shape(try v2.analyse(["y"]), "y"), [1, 3, 8, 10])

        var v11 = GraphBuilder(opset: 11)
        v11.input("x", [1, 3, 4, 4])
        v11.int64s("pads", [0, 0, -1, 1, 0, 0, -1, 1])
        v11.floats("value", [0], shape: [])
        v11.node("Pad", ["x", "pads", "value"], ["y"])
        XCTAssertEqual(shape(try v11.analyse(["y"]), "y"), [1, 3, 2, 6])

        var v18 = GraphBuilder(opset: 18)
        v18.input("x", [1, 3, 4, 4])
        v18.int64s("pads", [2, 1, 0, 3])
        v18.int64s("axes", [-1, 1])
        v18.node("Pad", ["x", "pads", "", "axes"], ["y"])
        XCTAssertEqual(shape(try v18.analyse(["y"]), "y"), [1, 7, 4, 6])
    }

    func testResizeAcrossOpsets() throws {
        var v10 = GraphBuilder(opset: 10)
        v10.input("x", [1, 2, 5, 7])
        v10.floats("scales", [1, 1, 2, 0.5])
        v10.node("Resize", ["x", "scales"], ["y"])
        XCTAssertEqual(shape(try v10.analyse(["y"]), "y"), [1, 2, 10, 3])

        var v11 = GraphBuilder(opset: 11)
        v11.input("x", [1, 2, 5, 7])
        v11.floats("roi", [])
        v11.floats("scales", [1, 1, 1.5, 1.5])
        v11.floats("noScales", [])
        v11.int64s("sizes", [1, 2, 9, 4])
        v11.node("Resize", ["x", "roi", "scales"], ["a"])
        v11.node("Resize", ["x", "roi", "noScales", "sizes"], ["b"])
        let a = try v11.analyse(["a", "b"])
        XCTAssertEqual(shape(a, "a"), [1, 2, 7, 10])
        XCTAssertEqual(shape(a, "b"), [1, 2, 9, 4])

        var v13 = GraphBuilder(opset: 13)
        v13.input("x", [1, 2, 5, 7])
        v13.int64s("sizes", [1, 2, 3, 3])
        v13.node("Resize", ["x", "", "", "sizes"], ["y"])
        XCTAssertEqual(shape(try v13.analyse(["y"]), "y"), [1, 2, 3, 3])

        var v18 = GraphBuilder(opset: 18)
        v18.input("x", [1, 2, 20, 40])
        v18.int64s("sizes", [10, 10])
        v18.node("Resize", ["x", "", "", "sizes"], ["larger"], ["axes": .ints([2, 3]), "keep_aspect_ratio_policy": .text("not_larger")])
        v18.node("Resize", ["x", "", "", "sizes"], ["smaller"], ["axes": .ints([2, 3]), "keep_aspect_ratio_policy": .text("not_smaller")])
        v18.floats("scales", [3])
        v18.node("Resize", ["x", "", "scales"], ["one"], ["axes": .ints([-1])])
        let c = try v18.analyse(["larger", "smaller", "one"])
        XCTAssertEqual(shape(c, "larger"), [1, 2, 5, 10])
        XCTAssertEqual(shape(c, "smaller"), [1, 2, 10, 20])
        XCTAssertEqual(shape(c, "one"), [1, 2, 20, 120])

        var both = GraphBuilder(opset: 13)
        both.input("x", [1, 2, 5, 7])
        both.floats("scales", [1, 1, 2, 2])
        both.int64s("sizes", [1, 2, 3, 3])
        both.node("Resize", ["x", "", "scales", "sizes"], ["y"], name: "rz")
        assertThrows(["rz", "not both"]) { _ = try both.analyse(["y"]) }
    }

    func testUpsampleAttributeAndInputForms() throws {
        var v7 = GraphBuilder(opset: 7)
        v7.input("x", [1, 3, 4, 5])
        v7.node("Upsample", ["x"], ["y"], ["scales": .floats([1, 1, 2, 3]), "mode": .text("nearest")])
        XCTAssertEqual(shape(try v7.analyse(["y"]), "y"), [1, 3, 8, 15])

        var v9 = GraphBuilder(opset: 9)
        v9.input("x", [1, 3, 4, 5])
        v9.floats("scales", [1, 1, 1.5, 2])
        v9.node("Upsample", ["x", "scales"], ["y"], ["mode": .text("linear")])
        XCTAssertEqual(shape(try v9.analyse(["y"]), "y"), [1, 3, 6, 10])
    }

    func testShapeStartEndCastConstantOfShapeConcat() throws {
        var b = GraphBuilder(opset: 15)
        b.input("x", [2, 3, 4, 5])
        b.node("Shape", ["x"], ["all"])
        b.node("Shape", ["x"], ["mid"], ["start": .int(1), "end": .int(-1)])
        b.node("Shape", ["x"], ["none"], ["start": .int(3), "end": .int(1)])
        b.node("Cast", ["x"], ["h"], ["to": .int(Int(DType.float16.rawValue))])
        b.node("ConstantOfShape", ["mid"], ["c"], ["value": .tensor(Tensor(.int32, [1], [Int32(7)]))])
        b.node("ConstantOfShape", ["mid"], ["z"])
        b.input("w", [2, 1, 4, 5])
        b.node("Concat", ["x", "w", "x"], ["cat"], ["axis": .int(-3)])
        let a = try b.analyse(["all", "mid", "none", "h", "c", "z", "cat"])
        XCTAssertEqual(a.types["all"], TensorType(.int64, [4]))
        XCTAssertEqual(a.constants["mid"]?.int64s, [3, 4])
        XCTAssertEqual(shape(a, "none"), [0])
        XCTAssertEqual(a.types["h"], TensorType(.float16, [2, 3, 4, 5]))
        XCTAssertEqual(a.types["c"], TensorType(.int32, [3, 4]))
        XCTAssertEqual(a.types["z"], TensorType(.float, [3, 4]))
        XCTAssertEqual(a.constants["c"]?.elements(as: Int32.self), Array(repeating: 7, count: 12))
        XCTAssertEqual(shape(a, "cat"), [2, 7, 4, 5])
    }

    func testQuantizeAndDequantizeTypes() throws {
        var b = GraphBuilder(opset: 13)
        b.input("x", [1, 3, 2, 2])
        b.floats("scale", [0.1], shape: [])
        b.floats("axisScale", [0.1, 0.2, 0.3])
        b.initializer("zp8", Tensor(.int8, [3], [Int8(0), 1, 2]))
        b.node("QuantizeLinear", ["x", "scale"], ["u"])
        b.node("QuantizeLinear", ["x", "axisScale", "zp8"], ["q"], ["axis": .int(1)])
        b.node("DequantizeLinear", ["q", "axisScale", "zp8"], ["d"])
        let a = try b.analyse(["u", "q", "d"])
        XCTAssertEqual(a.types["u"], TensorType(.uint8, [1, 3, 2, 2]))
        XCTAssertEqual(a.types["q"], TensorType(.int8, [1, 3, 2, 2]))
        XCTAssertEqual(a.types["d"], TensorType(.float, [1, 3, 2, 2]))

        var bad = GraphBuilder(opset: 13)
        bad.input("x", [1, 4, 2, 2])
        bad.floats("axisScale", [0.1, 0.2, 0.3])
        bad.node("QuantizeLinear", ["x", "axisScale"], ["q"], name: "quant")
        assertThrows(["quant", "per-axis scale"]) { _ = try bad.analyse(["q"]) }
    }

    func testElementwiseBroadcastAndVariadic() throws {
        var b = GraphBuilder(opset: 13)
        b.input("a", [4, 1, 3])
        b.input("c", [5, 1])
        b.input("d", [3])
        b.node("Add", ["a", "c"], ["sum"])
        b.node("Max", ["a", "c", "d"], ["max"])
        b.node("PRelu", ["a", "d"], ["p"])
        b.node("Pow", ["a", "d"], ["pow"])
        let a = try b.analyse(["sum", "max", "p", "pow"])
        XCTAssertEqual(shape(a, "sum"), [4, 5, 3])
        XCTAssertEqual(shape(a, "max"), [4, 5, 3])
        XCTAssertEqual(shape(a, "p"), [4, 1, 3])

        var bad = GraphBuilder(opset: 13)
        bad.input("a", [4, 2])
        bad.input("b", [3])
        bad.node("Mul", ["a", "b"], ["y"], name: "mul9")
        assertThrows(["mul9", "cannot be broadcast"]) { _ = try bad.analyse(["y"]) }
    }
}
