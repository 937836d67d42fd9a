import CleaveIR
@testable import CleaveRuntime
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Element-wise, broadcasting, cast, quantisation, softmax and reduction
/// kernels. Expected values are NumPy's (float64, rounded) or ONNX Runtime's.
final class ElementwiseTests: XCTestCase {
    let x = floats([5], [-2, -0.5, 0, 0.5, 2])

    // MARK: FastMath

    /// FastMath.exp against Glibc's double exp over the whole clamped range:
    /// within 3 ulp, i.e. relative error below 3.6e-7.
    func testFastExpIsWithinThreeUlps() {
        var worst = 0.0
        var v: Float = -87
        while v < 88 {
            let exact = Glibc.exp(Double(v))
            worst = Swift.max(worst, abs(Double(FastMath.exp(v)) - exact) / exact)
            v += 0.00731
        }
        XCTAssertLessThan(worst, 3.6e-7)
    }

    /// Sigmoid and tanh stay within 1e-6 absolute of libm (double) and keep
    /// relative accuracy near 0, where tanh(x) ≈ x.
    func testSigmoidAndTanhAgainstLibm() {
        var v: Float = -40
        while v < 40 {
            XCTAssertEqual(Double(FastMath.sigmoid(v)), 1 / (1 + Glibc.exp(-Double(v))), accuracy: 1e-6, "sigmoid(\(v))")
            XCTAssertEqual(Double(FastMath.tanh(v)), Glibc.tanh(Double(v)), accuracy: 1e-6, "tanh(\(v))")
            v += 0.0173
        }
        for small: Float in [1e-6, -3e-4, 0.01, 0.1, -0.124, 0.126] {
            XCTAssertEqual(Double(FastMath.tanh(small)), Glibc.tanh(Double(small)), accuracy: abs(Double(small)) * 1e-5)
        }
        XCTAssertEqual(FastMath.sigmoid(-100), 0, accuracy: 1e-30)
        XCTAssertEqual(FastMath.sigmoid(100), 1)
    }

    /// FastMath.erf against Glibc's double erf: within 5e-7 relative (or
    /// 1e-12 absolute where erf is tiny) from −6 to 6.
    func testErfAgainstLibm() {
        var worst = 0.0
        var v: Float = -6
        while v < 6 {
            let exact = Glibc.erf(Double(v))
            worst = Swift.max(worst, abs(Double(FastMath.erf(v)) - exact) / Swift.max(abs(exact), 1e-6))
            v += 0.000_913
        }
        XCTAssertLessThan(worst, 5e-7)
        XCTAssertEqual(FastMath.erf(1e-20), 1.128379e-20, accuracy: 1e-26)
        XCTAssertEqual(FastMath.erf(30), 1)
        XCTAssertEqual(FastMath.erf(-30), -1)
    }

    // MARK: Activations

    func testActivationsGiveNumPyValues() throws {
        let cases: [(String, [Attribute], [Float])] = [
            ("Relu", [], [0, 0, 0, 0.5, 2]),
            ("LeakyRelu", [attribute("alpha", Float(0.1))], [-0.2, -0.05, 0, 0.5, 2]),
            ("LeakyRelu", [], [-0.02, -0.005, 0, 0.5, 2]),
            ("Elu", [], [-0.8646647, -0.3934693, 0, 0.5, 2]),
            ("Elu", [attribute("alpha", Float(2))], [-1.7293294, -0.7869387, 0, 0.5, 2]),
            ("Sigmoid", [], [0.1192029, 0.3775407, 0.5, 0.6224593, 0.8807971]),
            ("HardSigmoid", [], [0.1, 0.4, 0.5, 0.6, 0.9]),
            ("HardSigmoid", [attribute("alpha", Float(0.5)), attribute("beta", Float(0.25))], [0, 0, 0.25, 0.5, 1]),
            ("HardSwish", [], [-0.3333333, -0.2083333, 0, 0.2916667, 1.6666667]),
            ("Tanh", [], [-0.9640276, -0.4621172, 0, 0.4621172, 0.9640276]),
            ("Erf", [], [-0.9953223, -0.5204999, 0, 0.5204999, 0.9953223]),
            ("Exp", [], [0.1353353, 0.6065307, 1, 1.6487213, 7.3890561]),
            ("Neg", [], [2, 0.5, 0, -0.5, -2]),
            ("Abs", [], [2, 0.5, 0, 0.5, 2]),
        ]
        for (op, attributes, expected) in cases {
            assertClose(try runNode1(op, opset: 14, [x], attributes), floats([5], expected), op)
        }
        let gelu: [(String, [Float])] = [("none", [-0.0455003, -0.1542688, 0, 0.3457312, 1.9544997]),
                                         ("tanh", [-0.0454023, -0.154286, 0, 0.345714, 1.9545977])]
        for (approximate, expected) in gelu {
            let y = try runNode1("Gelu", opset: 20, [x], [attribute("approximate", approximate)])
            assertClose(y, floats([5], expected), rtol: 1e-5, atol: 1e-6, "Gelu \(approximate)")
        }
        assertClose(try runNode1("Gelu", opset: 20, [x]), floats([5], gelu[0].1), rtol: 1e-5, atol: 1e-6, "Gelu default")
        assertBadInput("approximate 'fast' is not one of 'none', 'tanh'") {
            _ = try runNode1("Gelu", opset: 20, [x], [attribute("approximate", "fast")])
        }
        let positive = floats([3], [0.25, 1, 4])
        assertClose(try runNode1("Sqrt", opset: 13, [positive]), floats([3], [0.5, 1, 2]), "Sqrt")
        assertClose(try runNode1("Log", opset: 13, [positive]), floats([3], [-1.3862944, 0, 1.3862944]), "Log")
    }

    func testIntegerUnaryOps() throws {
        let values = Tensor([4], int64s: [-5, 0, 7, Int64.min])
        XCTAssertEqual(try runNode1("Neg", opset: 13, [values]).int64s, [5, 0, -7, Int64.min])
        XCTAssertEqual(try runNode1("Abs", opset: 13, [values]).int64s, [5, 0, 7, Int64.min])
        XCTAssertEqual(try runNode1("Relu", opset: 14, [Tensor(.int32, [3], [Int32(-2), 0, 3])]).elements(as: Int32.self), [0, 0, 3])
        assertBadInput("must be float32") { _ = try runNode1("Sigmoid", opset: 13, [Tensor([2], int64s: [1, 2])]) }
    }

    /// Large inputs are split across threads; the result must not depend on that.
    func testLargeInputsSplitAcrossThreads() throws {
        let count = 300_000
        let input = Tensor([count], floats: (0..<count).map { Float($0 % 1000) / 100 - 5 })
        let one = try runNode("Sigmoid", opset: 13, [input], threads: 1)[0]
        let four = try runNode("Sigmoid", opset: 13, [input], threads: 4)[0]
        XCTAssertEqual(one.floats, four.floats)
        let sum = try runNode("Add", opset: 14, [input, floats([1], [1])], threads: 4)[0].floats
        XCTAssertEqual(sum[count - 1], input.floats[count - 1] + 1)
    }

    // MARK: Clip

    func testClipAttributeAndInputForms() throws {
        let values = floats([5], [-3, -1, 0, 1, 3])
        let attributes = [attribute("min", Float(-1.5)), attribute("max", Float(0.5))]
        XCTAssertEqual(try runNode1("Clip", opset: 7, [values], attributes).floats, [-1.5, -1, 0, 0.5, 0.5])
        XCTAssertEqual(try runNode1("Clip", opset: 7, [values]).floats, [-3, -1, 0, 1, 3])
        XCTAssertEqual(try runNode1("Clip", opset: 11, [values, floatScalar(-1.5), floatScalar(0.5)]).floats, [-1.5, -1, 0, 0.5, 0.5])
        XCTAssertEqual(try runNode1("Clip", opset: 11, [values, nil, floatScalar(0.5)]).floats, [-3, -1, 0, 0.5, 0.5])
        XCTAssertEqual(try runNode1("Clip", opset: 11, [values, floatScalar(-1.5)]).floats, [-1.5, -1, 0, 1, 3])
        // min > max: everything becomes max (ONNX spec).
        XCTAssertEqual(try runNode1("Clip", opset: 13, [values, floatScalar(2), floatScalar(1)]).floats, [1, 1, 1, 1, 1])
        let bytes = Tensor(.int8, [4], [Int8(-100), -5, 7, 120])
        let low = Tensor(.int8, [], [Int8(-6)]), high = Tensor(.int8, [], [Int8(8)])
        XCTAssertEqual(try runNode1("Clip", opset: 13, [bytes, low, high]).elements(as: Int8.self), [-6, -5, 7, 8])
        assertBadInput("min must be one float32 value") {
            _ = try runNode1("Clip", opset: 13, [values, floats([2], [0, 1])])
        }
    }

    // MARK: Binary and variadic

    /// Broadcasting against a naive reference over several shape pairs,
    /// covering same-shape, scalar, per-channel, row and outer-product layouts.
    func testBroadcastingMatchesNaiveReference() throws {
        let pairs: [(Shape, Shape)] = [
            ([2, 3, 4], [2, 3, 4]), ([2, 3, 4], []), ([], [2, 3]), ([2, 3, 4, 5], [1, 3, 1, 1]),
            ([2, 3, 1], [1, 4]), ([3, 1, 5], [3, 4, 1]), ([2, 1, 4, 1], [2, 3, 1, 5]), ([4], [3, 1]),
        ]
        for (sa, sb) in pairs {
            let a = Tensor(sa, floats: (0..<sa.elementCount).map { Float($0) * 0.5 - 3 })
            let b = Tensor(sb, floats: (0..<sb.elementCount).map { Float($0) + 1 })
            let shape = try broadcast(sa, sb)
            for (op, f) in [("Add", { (p: Float, q: Float) in p + q }), ("Sub", { $0 - $1 }), ("Mul", { $0 * $1 }),
                            ("Div", { $0 / $1 })] as [(String, (Float, Float) -> Float)] {
                let expected = Tensor(shape, floats: naiveBroadcast(a, b, shape, f))
                assertClose(try runNode1(op, opset: 14, [a, b]), expected, "\(op) \(sa) \(sb)")
            }
        }
        assertBadInput("cannot be broadcast") { _ = try runNode1("Add", opset: 14, [iota([2, 3]), iota([2])]) }
        assertBadInput("different dtypes") { _ = try runNode1("Add", opset: 14, [iota([2]), Tensor([2], int64s: [1, 2])]) }
    }

    /// Integer arithmetic truncates toward zero like C and ONNX Runtime and never traps.
    func testIntegerArithmetic() throws {
        let a = Tensor([5], int64s: [-7, 7, -7, 7, 9]), b = Tensor([5], int64s: [2, 2, -2, -2, 0])
        XCTAssertEqual(try runNode1("Div", opset: 14, [a, b]).int64s, [-3, 3, 3, -3, 0])
        XCTAssertEqual(try runNode1("Add", opset: 14, [a, Tensor([], int64s: [10])]).int64s, [3, 17, 3, 17, 19])
        XCTAssertEqual(try runNode1("Sub", opset: 14, [Tensor([1], int64s: [Int64.min]), Tensor([1], int64s: [1])]).int64s, [Int64.max])
        let i32 = Tensor(.int32, [3], [Int32(-7), 7, 3])
        XCTAssertEqual(try runNode1("Mul", opset: 14, [i32, Tensor(.int32, [], [Int32(3)])]).elements(as: Int32.self), [-21, 21, 9])
    }

    func testPowForms() throws {
        let base = floats([3], [2, -3, 0.5])
        XCTAssertEqual(try runNode1("Pow", opset: 12, [base, int64s([3])]).floats, [8, -27, 0.125])
        XCTAssertEqual(try runNode1("Pow", opset: 12, [base, floatScalar(2)]).floats, [4, 9, 0.25])
        assertClose(try runNode1("Pow", opset: 12, [floats([2], [4, 2]), floatScalar(0.5)]), floats([2], [2, 1.4142135]))
        assertClose(try runNode1("Pow", opset: 7, [floats([2], [4, 8]), floats([2], [-0.5, 1.0 / 3])]), floats([2], [0.5, 2]))
        let ints = Tensor(.int32, [4], [Int32(2), -3, 4, 2])
        XCTAssertEqual(try runNode1("Pow", opset: 15, [ints, Tensor(.int32, [4], [Int32(3), 3, 0, -1])]).elements(as: Int32.self), [8, -27, 1, 0])
        XCTAssertEqual(try runNode1("Pow", opset: 15, [Tensor([2], int64s: [3, 4]), floats([1], [2])]).int64s, [9, 16])
    }

    func testVariadicOpsFoldWithBroadcasting() throws {
        let a = floats([3], [1, 2, 3]), b = floats([2, 1], [10, 20]), c = floats([], [100])
        XCTAssertEqual(try runNode1("Sum", opset: 8, [a, b, c]).floats, [111, 112, 113, 121, 122, 123])
        assertClose(try runNode1("Mean", opset: 8, [a, b, c]), floats([2, 3], [37, 37.333333, 37.666667, 40.333333, 40.666667, 41]))
        XCTAssertEqual(try runNode1("Max", opset: 8, [a, floats([2, 1], [2, 0])]).floats, [2, 2, 3, 1, 2, 3])
        XCTAssertEqual(try runNode1("Min", opset: 13, [Tensor([3], int64s: [1, 5, -3]), Tensor([], int64s: [2])]).int64s, [1, 2, -3])
        let single = try runNode1("Sum", opset: 13, [a])
        XCTAssertEqual(single.floats, [1, 2, 3])
        XCTAssertEqual(try runNode1("Max", opset: 13, [Tensor(.float16, [2], [Float16(1.5), -2]), Tensor(.float16, [1], [Float16(0)])])
            .elements(as: Float16.self), [1.5, 0])
    }

    func testPReluPerChannelSlope() throws {
        let input = floats([1, 2, 2, 1], [-1, 2, -3, 4])
        let slope = floats([2, 1, 1], [0.5, 0.25])
        XCTAssertEqual(try runNode1("PRelu", opset: 9, [input, slope]).floats, [-0.5, 2, -0.75, 4])
        // Opset 6 applied a 1-D slope along dim 1.
        XCTAssertEqual(try runNode1("PRelu", opset: 6, [input, floats([2], [0.5, 0.25])]).floats, [-0.5, 2, -0.75, 4])
        assertBadInput("cannot be broadcast") { _ = try runNode1("PRelu", opset: 9, [iota([1, 2, 2, 3]), floats([2], [0.5, 0.25])]) }
    }

    // MARK: Cast

    func testCastConversions() throws {
        let mixed = floats([6], [-2.7, -0.4, 0, 2.5, 100.9, .nan])
        XCTAssertEqual(try runNode1("Cast", opset: 13, [mixed], [attribute("to", 6)]).elements(as: Int32.self), [-2, 0, 0, 2, 100, 0])
        XCTAssertEqual(try runNode1("Cast", opset: 13, [mixed], [attribute("to", 7)]).int64s, [-2, 0, 0, 2, 100, 0])
        XCTAssertEqual(try runNode1("Cast", opset: 13, [mixed], [attribute("to", 9)]).elements(as: UInt8.self), [1, 1, 0, 1, 1, 1])
        // Out of range for uint8: wraps after truncation, as NumPy's astype does.
        XCTAssertEqual(try runNode1("Cast", opset: 13, [floats([3], [300.7, -1.5, 255])], [attribute("to", 2)]).elements(as: UInt8.self),
                       [44, 255, 255])
        let half = try runNode1("Cast", opset: 13, [floats([2], [0.1, 65504])], [attribute("to", 10)])
        XCTAssertEqual(half.elements(as: Float16.self), [0.099975586, 65504])
        XCTAssertEqual(try runNode1("Cast", opset: 13, [half], [attribute("to", 11)]).elements(as: Double.self), [0.0999755859375, 65504])
        let flags = Tensor(.bool, [3], [true, false, true])
        XCTAssertEqual(try runNode1("Cast", opset: 13, [flags], [attribute("to", 1)]).floats, [1, 0, 1])
        XCTAssertEqual(try runNode1("Cast", opset: 13, [Tensor([2], int64s: [-5, 123_456_789])], [attribute("to", 1)]).floats, [-5, 123_456_792])
        XCTAssertEqual(try runNode1("Cast", opset: 13, [Tensor([2], int64s: [300, -1])], [attribute("to", 3)]).elements(as: Int8.self), [44, -1])
        assertBadInput("not an ONNX data type") { _ = try runNode1("Cast", opset: 13, [mixed], [attribute("to", 99)]) }
        assertBadInput("cannot cast float32 to bfloat16") { _ = try runNode1("Cast", opset: 13, [mixed], [attribute("to", 16)]) }
    }

    // MARK: Quantisation

    func testQuantizeRoundsHalfToEvenAndSaturates() throws {
        let input = floats([6], [0, 0.25, 0.75, 1.25, -100, 200])
        let quantized = try runNode1("QuantizeLinear", opset: 10, [input, floatScalar(0.5), Tensor(.uint8, [], [UInt8(10)])])
        XCTAssertEqual(quantized.dtype, .uint8)
        XCTAssertEqual(quantized.elements(as: UInt8.self), [10, 10, 12, 12, 0, 255])
        XCTAssertEqual(try runNode1("QuantizeLinear", opset: 10, [input, floatScalar(0.5)]).elements(as: UInt8.self), [0, 0, 2, 2, 0, 255])
        let signed = try runNode1("QuantizeLinear", opset: 13, [input, floatScalar(1), Tensor(.int8, [], [Int8(0)])])
        XCTAssertEqual(signed.elements(as: Int8.self), [0, 0, 1, 1, -100, 127])
    }

    func testQuantizeAndDequantizePerAxis() throws {
        let input = floats([2, 3], [1, 1, 1, -2, -2, -2])
        let scales = floats([3], [0.5, 1, 2])
        let zeros = Tensor(.int8, [3], [Int8(0), 5, -5])
        let q = try runNode1("QuantizeLinear", opset: 13, [input, scales, zeros], [attribute("axis", 1)])
        // 1 / 2 = 0.5 rounds to even (0), then the zero point −5 is added.
        XCTAssertEqual(q.elements(as: Int8.self), [2, 6, -5, -4, 3, -6])
        let back = try runNode1("DequantizeLinear", opset: 13, [q, scales, zeros], [attribute("axis", 1)])
        XCTAssertEqual(back.floats, [1, 1, 0, -2, -2, -2])
        let wide = try runNode1("DequantizeLinear", opset: 10, [Tensor(.int32, [2], [Int32(-1000), 5000]), floatScalar(0.01)])
        assertClose(wide, floats([2], [-10, 50]))
        assertBadInput("one per index of axis 1") {
            _ = try runNode1("QuantizeLinear", opset: 13, [input, floats([2], [1, 1])], [attribute("axis", 1)])
        }
    }

    // MARK: Softmax

    /// Before opset 13 the input is coerced to 2-D at `axis`; from 13 only that axis is normalised.
    func testSoftmaxAxisSemanticsChangeAtOpset13() throws {
        let input = iota([2, 3, 4])
        let old = try runNode1("Softmax", opset: 11, [input], [attribute("axis", 1)])
        assertClose(floats([4], Array(old.floats[0..<4])), floats([4], [1.0557553e-05, 2.8698405e-05, 7.801035e-05, 2.1205413e-04]),
                    rtol: 1e-4, atol: 1e-9, "opset 11")
        XCTAssertEqual(old.floats[0..<12].reduce(0, +), 1, accuracy: 1e-5)
        let new = try runNode1("Softmax", opset: 13, [input], [attribute("axis", 1)])
        assertClose(floats([3], [new.floats[0], new.floats[4], new.floats[8]]), floats([3], [3.2932044e-4, 0.017980287, 0.98169039]),
                    rtol: 1e-4, atol: 1e-9, "opset 13")
        let defaultAxis = try runNode1("Softmax", opset: 13, [input])
        XCTAssertEqual(defaultAxis.floats[0..<4].reduce(0, +), 1, accuracy: 1e-6)
        let log = try runNode1("LogSoftmax", opset: 13, [floats([1, 3], [1000, 1001, 1002])])
        assertClose(log, floats([1, 3], [-2.4076059, -1.4076059, -0.4076059]))
    }

    // MARK: Reductions

    func testReduceAxesFormsAndKeepDims() throws {
        let input = iota([2, 3, 4])
        let summed = try runNode1("ReduceSum", opset: 11, [input], [attribute("axes", [1]), attribute("keepdims", 0)])
        XCTAssertEqual(summed.shape, [2, 4])
        XCTAssertEqual(summed.floats, [12, 15, 18, 21, 48, 51, 54, 57])
        XCTAssertEqual(try runNode1("ReduceSum", opset: 13, [input, int64s([1])], [attribute("keepdims", 0)]).floats, summed.floats)
        let mean = try runNode1("ReduceMean", opset: 13, [input], [attribute("axes", [0, 2])])
        XCTAssertEqual(mean.shape, [1, 3, 1])
        XCTAssertEqual(mean.floats, [7.5, 11.5, 15.5])
        XCTAssertEqual(try runNode1("ReduceMean", opset: 18, [input, int64s([0, -1])]).floats, [7.5, 11.5, 15.5])
        XCTAssertEqual(try runNode1("ReduceMax", opset: 18, [input, int64s([1, 2])], [attribute("keepdims", 0)]).floats, [11, 23])
        let all = try runNode1("ReduceMax", opset: 13, [input])
        XCTAssertEqual(all.shape, [1, 1, 1])
        XCTAssertEqual(all.floats, [23])
        let empty = Tensor([0], int64s: [])
        let noop = try runNode1("ReduceSum", opset: 13, [input, empty], [attribute("noop_with_empty_axes", 1)])
        XCTAssertEqual(noop.shape, input.shape)
        XCTAssertEqual(try runNode1("ReduceSum", opset: 13, [input, empty], [attribute("keepdims", 0)]).floats, [276])
        let ints = Tensor([2, 3], int64s: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(try runNode1("ReduceSum", opset: 13, [ints, int64s([0])]).int64s, [5, 7, 9])
        let nothing = Tensor(zeros: .float, [2, 0, 3])
        XCTAssertEqual(try runNode1("ReduceSum", opset: 13, [nothing, int64s([1])]).floats, [0, 0, 0, 0, 0, 0])
        XCTAssertEqual(try runNode1("ReduceMax", opset: 18, [nothing, int64s([1])]).floats.first, -.infinity)
        assertBadInput("out of range") { _ = try runNode1("ReduceSum", opset: 13, [input, int64s([3])]) }
    }

    /// ArgMax and ArgMin against a scan per position, on data with many ties,
    /// for every axis, both tie rules and keepdims.
    func testArgMaxArgMinMatchNaiveScan() throws {
        let dims = [3, 4, 5]
        let values = (0..<60).map { Int32(($0 * 37) % 7) - 3 }  // −3…3, each repeated
        let input = Tensor(.int32, Shape(dims), values)
        for op in ["ArgMax", "ArgMin"] {
            for axis in -3..<3 {
                for last in [0, 1] {
                    let a = axis < 0 ? axis + 3 : axis
                    let outer = dims[..<a].reduce(1, *), length = dims[a], inner = dims[(a + 1)...].reduce(1, *)
                    var expected: [Int64] = []
                    for o in 0..<outer {
                        for i in 0..<inner {
                            let column = (0..<length).map { values[(o * length + $0) * inner + i] }
                            let target = op == "ArgMax" ? column.max() : column.min()
                            let index = last == 1 ? column.lastIndex(of: target ?? 0) : column.firstIndex(of: target ?? 0)
                            expected.append(Int64(index ?? -1))
                        }
                    }
                    let y = try runNode1(op, opset: 13, [input], [attribute("axis", axis), attribute("select_last_index", last)])
                    var keptDims = dims
                    keptDims[a] = 1
                    XCTAssertEqual(y.shape, Shape(keptDims))
                    XCTAssertEqual(y.int64s, expected, "\(op) axis \(axis) last \(last)")
                    let floatY = try runNode1(op, opset: 13, [Tensor(Shape(dims), floats: values.map(Float.init))],
                                              [attribute("axis", axis), attribute("select_last_index", last), attribute("keepdims", 0)])
                    XCTAssertEqual(floatY.shape, Shape(dims.enumerated().filter { $0.offset != a }.map(\.element)))
                    XCTAssertEqual(floatY.int64s, expected, "\(op) float axis \(axis) last \(last)")
                }
            }
        }
        XCTAssertEqual(try runNode1("ArgMax", opset: 11, [Tensor(.double, [4], [1.0, 9, 9, -2])]).int64s, [1])
        assertBadInput("axis 1 of [2, 0] is empty") { _ = try runNode1("ArgMin", opset: 13, [Tensor(zeros: .float, [2, 0])], [attribute("axis", 1)]) }
        assertBadInput("axis 2 is out of range") { _ = try runNode1("ArgMax", opset: 13, [iota([2, 3])], [attribute("axis", 2)]) }
        assertBadInput("dtype float16 is not supported") { _ = try runNode1("ArgMax", opset: 13, [Tensor(zeros: .float16, [2])]) }
    }

    /// CumSum against running sums per position for every axis and every
    /// combination of exclusive and reverse.
    func testCumSumMatchesRunningSums() throws {
        let dims = [2, 3, 4]
        let values = (0..<24).map { Int64($0 * 5 % 11) - 4 }
        let input = Tensor(Shape(dims), int64s: values)
        for axis in -3..<3 {
            let a = axis < 0 ? axis + 3 : axis
            let strides = Shape(dims).strides
            for exclusive in [0, 1] {
                for reverse in [0, 1] {
                    let expected = (0..<24).map { flat -> Int64 in
                        let k = flat / strides[a] % dims[a], base = flat - k * strides[a]
                        let range = reverse == 1 ? (k + exclusive)..<dims[a] : 0..<(k + 1 - exclusive)
                        return range.reduce(Int64(0)) { $0 + values[base + $1 * strides[a]] }
                    }
                    let attributes = [attribute("exclusive", exclusive), attribute("reverse", reverse)]
                    let y = try runNode1("CumSum", opset: 14, [input, int64Scalar(axis)], attributes)
                    XCTAssertEqual(y.int64s, expected, "axis \(axis) exclusive \(exclusive) reverse \(reverse)")
                    let f = try runNode1("CumSum", opset: 11, [Tensor(Shape(dims), floats: values.map { Float($0) }),
                                                               Tensor(.int32, [1], [Int32(axis)])], attributes)
                    XCTAssertEqual(f.floats, expected.map { Float($0) }, "float axis \(axis)")
                }
            }
        }
        let wrapped = try runNode1("CumSum", opset: 14, [Tensor(.int32, [2], [Int32.max, 1]), int64Scalar(0)])
        XCTAssertEqual(wrapped.elements(as: Int32.self), [Int32.max, Int32.min])
        assertBadInput("axis must hold one integer") { _ = try runNode1("CumSum", opset: 14, [input, int64s([0, 1])]) }
        assertBadInput("axis 3 is out of range") { _ = try runNode1("CumSum", opset: 14, [input, int64Scalar(3)]) }
        assertBadInput("axis must be int64 or int32") { _ = try runNode1("CumSum", opset: 14, [input, floatScalar(0)]) }
        assertBadInput("dtype uint8 is not supported by CumSum") {
            _ = try runNode1("CumSum", opset: 14, [Tensor(.uint8, [2], [UInt8(1), 2]), int64Scalar(0)])
        }
    }

    /// ReduceMin, Prod, L1, L2, SumSquare and LogSumExp against a naive
    /// reduction in Double, over several axis sets in both opset forms.
    func testReduceFamilyMatchesNaiveReduction() throws {
        var random = SeededRandom(41)
        let dims = [2, 3, 4, 5]
        let x = random.tensor(dims)
        let values = x.floats.map { Double($0) * 2 }
        let doubled = Tensor(Shape(dims), floats: values.map { Float($0) })
        let functions: [(String, ([Double]) -> Double)] = [
            ("ReduceMin", { $0.min() ?? .infinity }),
            ("ReduceProd", { $0.reduce(1, *) }),
            ("ReduceL1", { $0.map(abs).reduce(0, +) }),
            ("ReduceL2", { $0.map { $0 * $0 }.reduce(0, +).squareRoot() }),
            ("ReduceSumSquare", { $0.map { $0 * $0 }.reduce(0, +) }),
            ("ReduceLogSumExp", { Glibc.log($0.map { Glibc.exp($0) }.reduce(0, +)) }),
        ]
        for axes in [[1], [0, 2], [-1], [1, 2, 3], [0, 1, 2, 3]] {
            let reduced = Set(axes.map { $0 < 0 ? $0 + dims.count : $0 })
            let outputDims = dims.enumerated().map { reduced.contains($0.offset) ? 1 : $0.element }
            let strides = Shape(dims).strides
            var groups = [[Double]](repeating: [], count: outputDims.reduce(1, *))
            for flat in values.indices {
                var target = 0
                for axis in dims.indices where !reduced.contains(axis) {
                    target = target * dims[axis] + flat / strides[axis] % dims[axis]
                }
                groups[target].append(values[flat])
            }
            for (op, f) in functions {
                let expected = Tensor(Shape(outputDims), floats: groups.map { Float(f($0)) })
                assertClose(try runNode1(op, opset: 18, [doubled, int64s(axes)]), expected, "\(op) \(axes) opset 18")
                assertClose(try runNode1(op, opset: 13, [doubled], [attribute("axes", axes)]), expected, "\(op) \(axes) opset 13")
                guard op != "ReduceMin" && op != "ReduceProd" else { continue }  // float32 and integers only
                let wide = try runNode1(op, opset: 18, [Tensor(.double, Shape(dims), values), int64s(axes)], [attribute("keepdims", 0)])
                XCTAssertEqual(wide.dtype, .double)
                let droppedDims = dims.enumerated().filter { !reduced.contains($0.offset) }.map(\.element)
                assertClose(wide, expected.reshaped(Shape(droppedDims)), "\(op) \(axes) float64")
            }
        }
    }

    func testReduceFamilyEdgeCases() throws {
        // LogSumExp subtracts the maximum: exp(1000) alone would overflow.
        let large = floats([2, 2], [1000, 1000, -1000, 0])
        assertClose(try runNode1("ReduceLogSumExp", opset: 13, [large], [attribute("axes", [1])]),
                    floats([2, 1], [1000.6931472, 0]), "large LogSumExp")
        // Empty reduced sets: each op's identity.
        let nothing = Tensor(zeros: .float, [2, 0])
        let identities: [(String, Float)] = [("ReduceMin", .infinity), ("ReduceProd", 1), ("ReduceL1", 0), ("ReduceL2", 0),
                                             ("ReduceSumSquare", 0), ("ReduceLogSumExp", -.infinity)]
        for (op, identity) in identities {
            XCTAssertEqual(try runNode1(op, opset: 18, [nothing, int64s([1])]).floats, [identity, identity], op)
        }
        // noop_with_empty_axes: the element function of the input.
        let x = floats([3], [-2, 0.5, 3])
        let empty = Tensor([0], int64s: [])
        let noop = [attribute("noop_with_empty_axes", 1)]
        XCTAssertEqual(try runNode1("ReduceL2", opset: 18, [x, empty], noop).floats, [2, 0.5, 3])
        XCTAssertEqual(try runNode1("ReduceSumSquare", opset: 18, [x, empty], noop).floats, [4, 0.25, 9])
        XCTAssertEqual(try runNode1("ReduceProd", opset: 18, [x, empty], noop).floats, [-2, 0.5, 3])
        assertClose(try runNode1("ReduceLogSumExp", opset: 18, [x, empty], noop), x, "noop LogSumExp")
        // Integer and bool forms.
        let ints = Tensor([2, 3], int64s: [3, -4, 5, -1, 2, 7])
        XCTAssertEqual(try runNode1("ReduceProd", opset: 18, [ints, int64s([1])]).int64s, [-60, -14])
        XCTAssertEqual(try runNode1("ReduceMin", opset: 18, [ints, int64s([0])]).int64s, [-1, -4, 5])
        XCTAssertEqual(try runNode1("ReduceL1", opset: 18, [ints]).int64s, [22])
        XCTAssertEqual(try runNode1("ReduceSumSquare", opset: 13, [Tensor(.int32, [2], [Int32(3), -4])]).elements(as: Int32.self), [25])
        let mask = Tensor(.bool, [2, 2], [UInt8(1), 0, 1, 1])
        XCTAssertEqual(try runNode1("ReduceMin", opset: 20, [mask, int64s([1])]).elements(as: UInt8.self), [0, 1])
        assertBadInput("dtype int64 is not supported by ReduceL2") { _ = try runNode1("ReduceL2", opset: 18, [ints]) }
        assertBadInput("dtype float64 is not supported by ReduceProd") {
            _ = try runNode1("ReduceProd", opset: 18, [Tensor(.double, [1], [2.0])])
        }
        assertBadInput("repeats axis") { _ = try runNode1("ReduceMin", opset: 18, [ints, int64s([1, -1])]) }
    }

    /// TopK against a stable sort of each slice (ties: lower index first),
    /// on every axis, both directions and several k, values and indices.
    func testTopKMatchesStableSort() throws {
        let dims = [3, 4, 6]
        let values = (0..<72).map { Int32(($0 * 29) % 11) - 5 }
        for axis in -3..<3 {
            let a = axis < 0 ? axis + 3 : axis
            let n = dims[a], strides = Shape(dims).strides
            for largest in [1, 0] {
                for k in Set([0, 1, 2, n]) {
                    var outDims = dims
                    outDims[a] = k
                    var expectedValues = [Int32](repeating: 0, count: outDims.reduce(1, *))
                    var expectedIndices = [Int64](repeating: 0, count: expectedValues.count)
                    let outStrides = Shape(outDims).strides
                    for flat in 0..<72 where flat / strides[a] % n == 0 {
                        let slice = (0..<n).map { (index: $0, value: values[flat + $0 * strides[a]]) }
                        // Swift's sort is not stable: order by value, then index.
                        let sorted = slice.sorted { x, y in
                            x.value != y.value ? (largest == 1 ? x.value > y.value : x.value < y.value) : x.index < y.index
                        }
                        var outFlat = 0, rest = flat
                        for d in 0..<3 {
                            outFlat += (rest / strides[d]) * outStrides[d]
                            rest %= strides[d]
                        }
                        for j in 0..<k {
                            expectedValues[outFlat + j * outStrides[a]] = sorted[j].value
                            expectedIndices[outFlat + j * outStrides[a]] = Int64(sorted[j].index)
                        }
                    }
                    let attributes = [attribute("axis", axis), attribute("largest", largest)]
                    let y = try runNode("TopK", opset: 11, [Tensor(.int32, Shape(dims), values), int64s([k])], attributes, outputs: 2)
                    XCTAssertEqual(y[0].shape, Shape(outDims))
                    XCTAssertEqual(y[0].elements(as: Int32.self), expectedValues, "axis \(axis) largest \(largest) k \(k)")
                    XCTAssertEqual(y[1].int64s, expectedIndices, "indices axis \(axis) largest \(largest) k \(k)")
                    let f = try runNode("TopK", opset: 11, [Tensor(Shape(dims), floats: values.map { Float($0) }), int64s([k])],
                                        attributes + [attribute("sorted", 0)], outputs: 2)
                    XCTAssertEqual(f[1].int64s, expectedIndices, "float sorted=0 axis \(axis) largest \(largest) k \(k)")
                }
            }
        }
        // Opset 1–9: k is an attribute and the largest are taken.
        let old = try runNode("TopK", opset: 9, [floats([5], [3, 9, 1, 9, 4])], [attribute("k", 3)], outputs: 2)
        XCTAssertEqual(old[0].floats, [9, 9, 4])
        XCTAssertEqual(old[1].int64s, [1, 3, 4])
        // NaN counts as the largest value.
        let nan = try runNode("TopK", opset: 11, [floats([4], [1, .nan, 3, 2]), int64s([2])], outputs: 2)
        XCTAssertEqual(nan[1].int64s, [1, 2])
        let x = floats([2, 3], [1, 2, 3, 4, 5, 6])
        assertBadInput("k 4 is out of range for axis 1 of [2, 3] (3 elements)") {
            _ = try runNode("TopK", opset: 11, [x, int64s([4])], outputs: 2)
        }
        assertBadInput("k -1 is out of range") { _ = try runNode("TopK", opset: 11, [x, int64s([-1])], outputs: 2) }
        assertBadInput("K must hold one integer") { _ = try runNode("TopK", opset: 11, [x, int64s([1, 2])], outputs: 2) }
        assertBadInput("attribute 'k' is required before opset 10") { _ = try runNode("TopK", opset: 9, [x], outputs: 2) }
        assertBadInput("dtype float16 is not supported by TopK") {
            _ = try runNode("TopK", opset: 11, [Tensor(zeros: .float16, [3]), int64s([1])], outputs: 2)
        }
    }

    /// A long row sums block by block: a single running float sum would be off by 0.3 %.
    func testReduceMeanOfLongRowIsAccurate() throws {
        let count = 1 << 20
        let input = Tensor([1, count], floats: [Float](repeating: 0.1, count: count))
        let mean = try runNode1("ReduceMean", opset: 13, [input], [attribute("axes", [1])]).floats[0]
        XCTAssertEqual(mean, 0.1, accuracy: 1e-4)
    }
}

/// `f` over the broadcast of `a` and `b`, one element at a time.
func naiveBroadcast(_ a: Tensor, _ b: Tensor, _ shape: Shape, _ f: (Float, Float) -> Float) -> [Float] {
    let av = a.floats, bv = b.floats
    func index(_ flat: Int, _ s: Shape) -> Int {
        var rest = flat, result = 0, stride = 1
        for axis in (0..<shape.rank).reversed() {
            let coordinate = rest % shape[axis]
            rest /= shape[axis]
            let own = axis - (shape.rank - s.rank)
            if own >= 0 && s[own] != 1 { result += coordinate * stride }
            if own >= 0 { stride *= s[own] }
        }
        return result
    }
    return (0..<shape.elementCount).map { f(av[index($0, a.shape)], bv[index($0, b.shape)]) }
}
