import CleaveIR
import CleaveRuntime
import XCTest

/// Concat, Split, Slice, Gather, GatherElements, ScatterND, Transpose, Expand, Tile, Pad, the reshaping ops
/// and the constant-producing ops, in each opset's attribute/input form.
final class DataMovementTests: XCTestCase {
    let grid = iota([2, 3])  // [[0, 1, 2], [3, 4, 5]]

    func testConcatAlongAnyAxis() throws {
        let a = iota([2, 2]), b = floats([2, 1], [9, 8])
        XCTAssertEqual(try runNode1("Concat", opset: 11, [a, b], [attribute("axis", -1)]).floats, [0, 1, 9, 2, 3, 8])
        let rows = try runNode1("Concat", opset: 7, [a, floats([1, 2], [7, 7]), floats([0, 2], [])], [attribute("axis", 0)])
        XCTAssertEqual(rows.shape, [3, 2])
        XCTAssertEqual(rows.floats, [0, 1, 2, 3, 7, 7])
        XCTAssertEqual(try runNode1("Concat", opset: 13, [int64s([1, 2]), int64s([3])], [attribute("axis", 0)]).int64s, [1, 2, 3])
        assertBadInput("cannot be joined") { _ = try runNode1("Concat", opset: 13, [a, iota([3, 3])], [attribute("axis", 1)]) }
    }

    func testSplitForms() throws {
        let input = iota([2, 6])
        let attributeForm = try runNode("Split", opset: 11, [input], [attribute("axis", 1), attribute("split", [1, 2, 3])], outputs: 3)
        XCTAssertEqual(attributeForm.map(\.shape), [[2, 1], [2, 2], [2, 3]])
        XCTAssertEqual(attributeForm[1].floats, [1, 2, 7, 8])
        let inputForm = try runNode("Split", opset: 13, [input, int64s([4, 2])], [attribute("axis", -1)], outputs: 2)
        XCTAssertEqual(inputForm[1].floats, [4, 5, 10, 11])
        let equal = try runNode("Split", opset: 13, [input], [attribute("axis", 1)], outputs: 3)
        XCTAssertEqual(equal[2].floats, [4, 5, 10, 11])
        let uneven = try runNode("Split", opset: 18, [iota([5])], [attribute("num_outputs", 3)], outputs: 3)
        XCTAssertEqual(uneven.map(\.floats), [[0, 1], [2, 3], [4]])
        assertBadInput("do not add up") {
            _ = try runNode("Split", opset: 13, [input, int64s([4, 1])], [attribute("axis", 1)], outputs: 2)
        }
        assertBadInput("equal parts") { _ = try runNode("Split", opset: 13, [input], [attribute("axis", 1)], outputs: 4) }
    }

    func testSliceForms() throws {
        let input = iota([3, 4])
        let old = try runNode1("Slice", opset: 9, [input], [attribute("starts", [1, 0]), attribute("ends", [3, 2]), attribute("axes", [0, 1])])
        XCTAssertEqual(old.shape, [2, 2])
        XCTAssertEqual(old.floats, [4, 5, 8, 9])
        let noAxes = try runNode1("Slice", opset: 9, [input], [attribute("starts", [0, -3]), attribute("ends", [1, 1000])])
        XCTAssertEqual(noAxes.floats, [1, 2, 3])
        let reversed = try runNode1("Slice", opset: 13, [input, int64s([-1, 3]), int64s([Int(Int64.min), 0]), int64s([0, 1]), int64s([-2, -2])])
        XCTAssertEqual(reversed.shape, [2, 2])
        XCTAssertEqual(reversed.floats, [11, 9, 3, 1])
        let clamped = try runNode1("Slice", opset: 13, [input, int64s([-100]), int64s([Int(Int64.max)]), int64s([-1]), int64s([3])])
        XCTAssertEqual(clamped.floats, [0, 3, 4, 7, 8, 11])
        XCTAssertEqual(try runNode1("Slice", opset: 10, [input, int64s([3]), int64s([1]), int64s([1])]).shape, [3, 0])
        assertBadInput("steps must not be 0") {
            _ = try runNode1("Slice", opset: 13, [input, int64s([0]), int64s([1]), int64s([0]), int64s([0])])
        }
    }

    /// Extreme values from a file end in a result or a badInput, never a trap.
    func testExtremeArgumentsDoNotTrap() throws {
        let input = iota([3, 4])
        let big = Int(Int64.max), small = Int(Int64.min)
        XCTAssertEqual(try runNode1("Slice", opset: 13, [input, int64s([0]), int64s([big]), int64s([1]), int64s([big])]).floats, [0, 4, 8])
        XCTAssertEqual(try runNode1("Slice", opset: 13, [input, int64s([-1]), int64s([small]), int64s([1]), int64s([small])]).floats, [3, 7, 11])
        assertBadInput("do not fit dim") { _ = try runNode1("Pad", opset: 13, [input, int64s([0, big, 0, big])]) }
        assertBadInput("more than cleave allocates") { _ = try runNode1("Pad", opset: 13, [input, int64s([0, 1 << 40, 0, 0])]) }
        assertBadInput("do not add up") {
            _ = try runNode("Split", opset: 13, [input, int64s([big, big])], [attribute("axis", 1)], outputs: 2)
        }
        assertBadInput("more than cleave allocates") { _ = try runNode1("Expand", opset: 13, [input, int64s([1 << 40, 1, 1])]) }
        let empty = try runNode1("Resize", opset: 13, [iota([1, 1, 2, 2]), nil, nil, int64s([1, 0, 1 << 40, 4])])
        XCTAssertEqual(empty.shape, [1, 0, 1 << 40, 4])
        assertBadInput("too large") { _ = try runNode1("Resize", opset: 13, [iota([1, 1, 2, 2]), nil, floats([4], [1, 1, 1e30, 1])]) }
    }

    func testGatherOnAnyAxisWithNegativeIndices() throws {
        XCTAssertEqual(try runNode1("Gather", opset: 13, [grid, int64s([-1, 0])], [attribute("axis", 1)]).floats, [2, 0, 5, 3])
        let matrix = try runNode1("Gather", opset: 13, [grid, Tensor(.int32, [2, 2], [Int32(1), 0, 1, 1])])
        XCTAssertEqual(matrix.shape, [2, 2, 3])
        XCTAssertEqual(matrix.floats, [3, 4, 5, 0, 1, 2, 3, 4, 5, 3, 4, 5])
        let scalar = try runNode1("Gather", opset: 13, [grid, int64Scalar(1)], [attribute("axis", 1)])
        XCTAssertEqual(scalar.shape, [2])
        XCTAssertEqual(scalar.floats, [1, 4])
        XCTAssertEqual(try runNode1("Gather", opset: 13, [int64s([10, 20, 30]), int64s([2, -3])]).int64s, [30, 10])
        assertBadInput("index 3 is out of range") { _ = try runNode1("Gather", opset: 13, [grid, int64s([3])], [attribute("axis", 1)]) }
    }

    func testTranspose() throws {
        let reversed = try runNode1("Transpose", opset: 7, [grid])
        XCTAssertEqual(reversed.shape, [3, 2])
        XCTAssertEqual(reversed.floats, [0, 3, 1, 4, 2, 5])
        let nchw = iota([1, 2, 2, 3])
        let nhwc = try runNode1("Transpose", opset: 13, [nchw], [attribute("perm", [0, 2, 3, 1])])
        XCTAssertEqual(nhwc.shape, [1, 2, 3, 2])
        XCTAssertEqual(nhwc.floats, [0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11])
        let bytes = Tensor(.uint8, [2, 3], [UInt8(1), 2, 3, 4, 5, 6])
        XCTAssertEqual(try runNode1("Transpose", opset: 13, [bytes], [attribute("perm", [1, 0])]).elements(as: UInt8.self), [1, 4, 2, 5, 3, 6])
        assertBadInput("not a permutation") { _ = try runNode1("Transpose", opset: 13, [grid], [attribute("perm", [0, 0])]) }
    }

    /// Every permutation of two odd-sized shapes against a naive reference:
    /// covers the tiled path (tiles cut at the edges) and the row path, for
    /// 1-, 2-, 4- and 8-byte elements.
    func testTransposeMatchesNaiveReference() throws {
        for dims in [[3, 17, 19], [2, 5, 33, 6]] {
            let shape = Shape(dims)
            let values = (0..<shape.elementCount).map { Int64($0) }
            for perm in permutations(Array(0..<dims.count)) {
                let outShape = Shape(perm.map { dims[$0] })
                let inStrides = shape.strides, outStrides = outShape.strides
                var expected = [Int64](repeating: 0, count: values.count)
                for flat in 0..<values.count {
                    var rest = flat, source = 0
                    for axis in 0..<dims.count {
                        let index = rest / outStrides[axis]
                        rest %= outStrides[axis]
                        source += index * inStrides[perm[axis]]
                    }
                    expected[flat] = values[source]
                }
                let wide = try runNode1("Transpose", opset: 13, [Tensor(shape, int64s: values)], [attribute("perm", perm)])
                XCTAssertEqual(wide.int64s, expected, "\(dims) \(perm)")
                let bytes = Tensor(.uint8, shape, values.map { UInt8(truncatingIfNeeded: $0) })
                let narrow = try runNode1("Transpose", opset: 13, [bytes], [attribute("perm", perm)])
                XCTAssertEqual(narrow.elements(as: UInt8.self), expected.map { UInt8(truncatingIfNeeded: $0) }, "\(dims) \(perm) uint8")
                let halves = Tensor(.float16, shape, values.map { Float16(Float($0 % 2048)) })
                let half = try runNode1("Transpose", opset: 13, [halves], [attribute("perm", perm)])
                XCTAssertEqual(half.elements(as: Float16.self), expected.map { Float16(Float($0 % 2048)) }, "\(dims) \(perm) float16")
                let singles = try runNode1("Transpose", opset: 13, [Tensor(shape, floats: values.map(Float.init))], [attribute("perm", perm)])
                XCTAssertEqual(singles.floats, expected.map(Float.init), "\(dims) \(perm) float32")
            }
        }
    }

    func testExpandBroadcastsBothWays() throws {
        let column = floats([3, 1], [1, 2, 3])
        let expanded = try runNode1("Expand", opset: 8, [column, int64s([2, 1, 2])])
        XCTAssertEqual(expanded.shape, [2, 3, 2])
        XCTAssertEqual(expanded.floats, [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3])
        // A 1 in the shape keeps the input's dim.
        XCTAssertEqual(try runNode1("Expand", opset: 13, [grid, int64s([1, 1])]).shape, [2, 3])
        assertBadInput("cannot be broadcast") { _ = try runNode1("Expand", opset: 13, [grid, int64s([4])]) }
    }

    /// GatherElements against its definition on every axis, with negative
    /// indices and index dims smaller than data's off the axis.
    func testGatherElementsMatchesDefinition() throws {
        let dims = [3, 4, 5]
        let data = Tensor(Shape(dims), int64s: (0..<60).map { Int64($0 * 3) })
        for axis in -3..<3 {
            let a = axis < 0 ? axis + 3 : axis
            var indexDims = [2, 3, 4]
            indexDims[a] = 6  // longer than data's dim: allowed on the axis
            let count = indexDims.reduce(1, *)
            let raw = (0..<count).map { ($0 * 7) % (2 * dims[a]) - dims[a] }  // −d…d−1
            let indexStrides = Shape(indexDims).strides, dataStrides = Shape(dims).strides
            let expected = (0..<count).map { flat -> Int64 in
                var offset = 0
                for d in 0..<3 {
                    let c = d == a ? (raw[flat] + dims[a]) % dims[a] : flat / indexStrides[d] % indexDims[d]
                    offset += c * dataStrides[d]
                }
                return data.int64s[offset]
            }
            let y = try runNode1("GatherElements", opset: 13, [data, int64s(raw, shape: Shape(indexDims))], [attribute("axis", axis)])
            XCTAssertEqual(y.shape, Shape(indexDims))
            XCTAssertEqual(y.int64s, expected, "axis \(axis)")
            let narrow = Tensor(.int32, Shape(indexDims), raw.map { Int32($0) })
            let bytes = Tensor(.uint8, Shape(dims), (0..<60).map { UInt8($0) })
            XCTAssertEqual(try runNode1("GatherElements", opset: 11, [bytes, narrow], [attribute("axis", axis)]).elements(as: UInt8.self),
                           expected.map { UInt8($0 / 3) }, "uint8 axis \(axis)")
        }
        assertBadInput("index 3 is out of range for dim 3 of axis 0") {
            _ = try runNode1("GatherElements", opset: 13, [iota([3, 2]), int64s([3, 0], shape: [1, 2])])
        }
        assertBadInput("indices [2, 3] must have the rank of data [3, 2] and no larger dim except on axis 0") {
            _ = try runNode1("GatherElements", opset: 13, [iota([3, 2]), int64s([0, 0, 0, 0, 0, 0], shape: [2, 3])])
        }
        assertBadInput("must have the rank of data") { _ = try runNode1("GatherElements", opset: 13, [iota([3, 2]), int64s([0])]) }
    }

    /// ScatterND against applying the updates one index tuple at a time, for
    /// slices of every depth and each reduction, with repeated indices.
    func testScatterNDMatchesSequentialUpdates() throws {
        let dims = [4, 3, 2]
        let data = (0..<24).map { Int64($0 - 5) }
        for k in 1...3 {
            let tuples = 5
            // Tuple 3 repeats tuple 0, through negative indices.
            var raw: [Int] = []
            for t in 0..<tuples { for axis in 0..<k { raw.append((t * 5 + axis * 3) % dims[axis]) } }
            for axis in 0..<k { raw[3 * k + axis] = raw[axis] - dims[axis] }
            let slice = dims[k...].reduce(1, *)
            let updates = (0..<(tuples * slice)).map { Int64($0 % 7 - 2) }
            let strides = Shape(dims).strides
            for (reduction, f) in [("none", { (_: Int64, u: Int64) in u }), ("add", { $0 + $1 }), ("mul", { $0 * $1 }),
                                   ("max", { Swift.max($0, $1) }), ("min", { Swift.min($0, $1) })] {
                var expected = data
                for t in 0..<tuples {
                    var offset = 0
                    for axis in 0..<k { offset += (raw[t * k + axis] + dims[axis]) % dims[axis] * strides[axis] }
                    for j in 0..<slice { expected[offset + j] = f(expected[offset + j], updates[t * slice + j]) }
                }
                let indices = int64s(raw, shape: [tuples, k])
                let updateTensor = Tensor(Shape([tuples] + Array(dims[k...])), int64s: updates)
                let y = try runNode1("ScatterND", opset: 18, [Tensor(Shape(dims), int64s: data), indices, updateTensor],
                                     [attribute("reduction", reduction)])
                XCTAssertEqual(y.int64s, expected, "k \(k) \(reduction)")
                let f32 = try runNode1("ScatterND", opset: 18, [Tensor(Shape(dims), floats: data.map { Float($0) }), indices,
                                                                 Tensor(updateTensor.shape, floats: updates.map { Float($0) })],
                                       [attribute("reduction", reduction)])
                XCTAssertEqual(f32.floats, expected.map { Float($0) }, "float k \(k) \(reduction)")
            }
        }
        let x = iota([2, 2])
        assertBadInput("reduction 'sum' is not one of") {
            _ = try runNode1("ScatterND", opset: 16, [x, int64s([0], shape: [1, 1]), iota([1, 2])], [attribute("reduction", "sum")])
        }
        assertBadInput("updates float32[2] must be float32[1, 2]") {
            _ = try runNode1("ScatterND", opset: 13, [x, int64s([0], shape: [1, 1]), iota([2])])
        }
        assertBadInput("index 2 is out of range for dim 2 of axis 0") {
            _ = try runNode1("ScatterND", opset: 13, [x, int64s([2], shape: [1, 1]), iota([1, 2])])
        }
        assertBadInput("a last dim of at most data's rank 2") {
            _ = try runNode1("ScatterND", opset: 13, [x, int64s([0, 0, 0], shape: [1, 3]), floatScalar(1)])
        }
        assertBadInput("reduction 'add' does not take uint8") {
            let bytes = Tensor(.uint8, [2], [UInt8(1), 2])
            _ = try runNode1("ScatterND", opset: 16, [bytes, int64s([0], shape: [1, 1]), Tensor(.uint8, [1], [UInt8(3)])],
                             [attribute("reduction", "add")])
        }
    }

    /// Tile against the definition out[i] = in[i mod d] per axis, for several
    /// element sizes, size-1 dims (fill runs), zero repeats and a scalar.
    func testTileMatchesDefinition() throws {
        for (dims, repeats) in [([2, 3], [2, 3]), ([3, 1], [1, 6]), ([5, 1, 2], [2, 4, 1]), ([2, 3], [0, 2]), ([4], [1])] {
            let count = dims.reduce(1, *)
            let input = Tensor(Shape(dims), int64s: (0..<count).map { Int64($0 * 7 - 3) })
            let output = Shape(zip(dims, repeats).map { $0 * $1 })
            let expected = (0..<output.elementCount).map { flat -> Int64 in
                var rest = flat, source = 0, stride = 1
                for axis in (0..<dims.count).reversed() {
                    source += (rest % output[axis]) % dims[axis] * stride
                    rest /= output[axis]
                    stride *= dims[axis]
                }
                return input.int64s[source]
            }
            let tiled = try runNode1("Tile", opset: 13, [input, int64s(repeats)])
            XCTAssertEqual(tiled.shape, output, "\(dims) × \(repeats)")
            XCTAssertEqual(tiled.int64s, expected, "\(dims) × \(repeats) int64")
            let bytes = try runNode1("Tile", opset: 6, [Tensor(.uint8, Shape(dims), (0..<count).map { UInt8($0) }), int64s(repeats)])
            XCTAssertEqual(bytes.elements(as: UInt8.self), expected.map { UInt8(($0 + 3) / 7) }, "\(dims) × \(repeats) uint8")
        }
        let scalar = try runNode1("Tile", opset: 13, [floatScalar(2.5), Tensor([0], int64s: [])])
        XCTAssertEqual(scalar.shape, [])
        XCTAssertEqual(scalar.floats, [2.5])
        assertBadInput("repeats [2] must be 2 non-negative counts, one per dim of the input [2, 3]") {
            _ = try runNode1("Tile", opset: 13, [grid, int64s([2])])
        }
        assertBadInput("repeats [1, -1] must be 2 non-negative counts") { _ = try runNode1("Tile", opset: 13, [grid, int64s([1, -1])]) }
        assertBadInput("repeats must be int64 or int32") { _ = try runNode1("Tile", opset: 13, [grid, floats([2], [1, 1])]) }
    }

    func testPadForms() throws {
        let input = floats([2, 2], [1, 2, 3, 4])
        let old = try runNode1("Pad", opset: 7, [input], [attribute("pads", [0, 1, 1, 0]), attribute("value", Float(9))])
        XCTAssertEqual(old.shape, [3, 3])
        XCTAssertEqual(old.floats, [9, 1, 2, 9, 3, 4, 9, 9, 9])
        let row = floats([1, 3], [1, 2, 3])
        let pads = int64s([0, 2, 0, 2])
        XCTAssertEqual(try runNode1("Pad", opset: 11, [row, pads], [attribute("mode", "reflect")]).floats, [3, 2, 1, 2, 3, 2, 1])
        XCTAssertEqual(try runNode1("Pad", opset: 11, [row, pads], [attribute("mode", "edge")]).floats, [1, 1, 1, 2, 3, 3, 3])
        XCTAssertEqual(try runNode1("Pad", opset: 19, [row, pads], [attribute("mode", "wrap")]).floats, [2, 3, 1, 2, 3, 1, 2])
        XCTAssertEqual(try runNode1("Pad", opset: 11, [row, pads, floatScalar(-1)]).floats, [-1, -1, 1, 2, 3, -1, -1])
        let cropped = try runNode1("Pad", opset: 11, [iota([3, 3]), int64s([-1, 1, 0, -1])])
        XCTAssertEqual(cropped.shape, [2, 3])
        XCTAssertEqual(cropped.floats, [0, 3, 4, 0, 6, 7])
        let axes = try runNode1("Pad", opset: 18, [input, int64s([1, 0]), floatScalar(5), int64s([-1])])
        XCTAssertEqual(axes.floats, [5, 1, 2, 5, 3, 4])
        XCTAssertEqual(try runNode1("Pad", opset: 13, [int64s([1, 2]), int64s([1, 1]), int64Scalar(7)]).int64s, [7, 1, 2, 7])
        assertBadInput("pads has 2 values, expected 4") { _ = try runNode1("Pad", opset: 11, [input, int64s([1, 1])]) }
    }

    /// Reshape-family ops return the input's storage under a new shape.
    func testReshapesDoNotCopy() throws {
        let input = iota([2, 3, 4])
        let checks: [(String, Int, [Tensor?], [Attribute], Shape)] = [
            ("Reshape", 7, [input, int64s([0, -1])], [], [2, 12]),
            ("Reshape", 14, [input, int64s([4, 0, 2])], [], [4, 3, 2]),
            ("Flatten", 9, [input], [attribute("axis", 0)], [1, 24]),
            ("Flatten", 11, [input], [attribute("axis", -1)], [6, 4]),
            ("Flatten", 13, [input], [], [2, 12]),
            ("Unsqueeze", 11, [input], [attribute("axes", [0, 4])], [1, 2, 3, 4, 1]),
            ("Unsqueeze", 13, [input, int64s([-1, 1])], [], [2, 1, 3, 4, 1]),
            ("Identity", 13, [input], [], [2, 3, 4]),
        ]
        for (op, opset, inputs, attributes, shape) in checks {
            let output = try runNode1(op, opset: opset, inputs, attributes)
            XCTAssertEqual(output.shape, shape, op)
            XCTAssertTrue(output.storage === input.storage, "\(op) copied its input")
        }
        let ones = iota([1, 3, 1, 2])
        XCTAssertEqual(try runNode1("Squeeze", opset: 11, [ones], [attribute("axes", [0, -2])]).shape, [3, 2])
        XCTAssertEqual(try runNode1("Squeeze", opset: 11, [ones]).shape, [3, 2])
        XCTAssertEqual(try runNode1("Squeeze", opset: 13, [ones, int64s([2])]).shape, [1, 3, 2])
        XCTAssertEqual(try runNode1("Squeeze", opset: 13, [ones, int64s([])]).shape, [3, 2])
        XCTAssertTrue(try runNode1("Squeeze", opset: 13, [ones]).storage === ones.storage)
        let empty = Tensor(zeros: .float, [0, 3])
        XCTAssertEqual(try runNode1("Reshape", opset: 14, [empty, int64s([3, 0])], [attribute("allowzero", 1)]).shape, [3, 0])
        assertBadInput("holds 10 elements") { _ = try runNode1("Reshape", opset: 13, [input, int64s([2, 5])]) }
        assertBadInput("more than one -1") { _ = try runNode1("Reshape", opset: 13, [input, int64s([-1, -1])]) }
        assertBadInput("cannot squeeze axis 1") { _ = try runNode1("Squeeze", opset: 13, [ones, int64s([1])]) }
    }

    func testShapeConstantsAndDropout() throws {
        let input = iota([2, 3, 4, 5])
        XCTAssertEqual(try runNode1("Shape", opset: 13, [input]).int64s, [2, 3, 4, 5])
        XCTAssertEqual(try runNode1("Shape", opset: 15, [input], [attribute("start", 1), attribute("end", -1)]).int64s, [3, 4])
        XCTAssertEqual(try runNode1("Shape", opset: 15, [input], [attribute("start", -10), attribute("end", 10)]).int64s, [2, 3, 4, 5])
        XCTAssertEqual(try runNode1("Shape", opset: 15, [input], [attribute("start", 3), attribute("end", 1)]).shape, [0])
        let zeros = try runNode1("ConstantOfShape", opset: 9, [int64s([2, 2])])
        XCTAssertEqual(zeros.dtype, .float)
        XCTAssertEqual(zeros.floats, [0, 0, 0, 0])
        let sevens = try runNode1("ConstantOfShape", opset: 9, [int64s([3])], [attribute("value", Tensor([1], int64s: [7]))])
        XCTAssertEqual(sevens.int64s, [7, 7, 7])
        XCTAssertEqual(try runNode1("ConstantOfShape", opset: 9, [int64s([])]).shape, [])
        assertBadInput("negative dim") { _ = try runNode1("ConstantOfShape", opset: 9, [int64s([-1])]) }
        let constant = try runNode1("Constant", opset: 13, [], [Attribute(name: "value_floats", value: .floats([1, 2]))])
        XCTAssertEqual(constant.floats, [1, 2])
        let small = iota([2])
        let opset7 = try runNode("Dropout", opset: 7, [small], [attribute("ratio", Float(0.3))], outputs: 2)
        XCTAssertTrue(opset7[0].storage === small.storage)
        XCTAssertEqual(opset7[1].floats, [0, 0])  // ONNX Runtime's mask before opset 12
        let opset12 = try runNode("Dropout", opset: 12, [small, floatScalar(0.2)], outputs: 2)
        XCTAssertEqual(opset12[1].elements(as: Bool.self), [true, true])
        let training = Tensor(.bool, [], [true])
        XCTAssertEqual(try runNode1("Dropout", opset: 13, [small, floatScalar(0), training]).floats, [0, 1])
        assertBadInput("random dropout is not supported") {
            _ = try runNode1("Dropout", opset: 13, [small, floatScalar(0.5), training])
        }
    }
}

/// All orderings of `items`.
func permutations(_ items: [Int]) -> [[Int]] {
    guard items.count > 1 else { return [items] }
    return items.indices.flatMap { i -> [[Int]] in
        var rest = items
        let first = rest.remove(at: i)
        return permutations(rest).map { [first] + $0 }
    }
}
