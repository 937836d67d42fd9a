import CleaveIR
import CleaveRuntime
import Foundation
import XCTest

/// LSTM, GRU and RNN against `Naive.Recurrent` (the spec's equations, one
/// unit at a time), the activation functions against their formulas, and the
/// errors for weights and attributes that do not fit.
///
/// Tolerances: rtol 1e-3 / atol 1e-4, as for every float32 kernel here; the
/// kernel's sigmoid and tanh are within a few ulp (`FastMath`) and its sums
/// are float32 BLAS products of at most 64 terms.
final class RecurrentTests: XCTestCase {
    private struct Configuration {
        var cell: Naive.Recurrent
        var seq, batch, input, hidden: Int
        var layout = 0
        var bias = true, initial = false, peepholes = false
        var lengths: [Int]?
        var constantWeights = false

        var op: String {
            switch cell.cell {
            case .lstm: return "LSTM"
            case .gru: return "GRU"
            case .rnn: return "RNN"
            }
        }
    }

    /// Random sizes and options over every cell, direction and layout, at one and two threads.
    func testRandomCasesMatchTheNaiveEquations() throws {
        var random = SeededRandom(20_251_203)
        var checked = 0
        for cell in [Naive.Recurrent.Cell.lstm, .gru, .rnn] {
            for direction in ["forward", "reverse", "bidirectional"] {
                for trial in 0..<6 {
                    var recurrent = Naive.Recurrent(cell: cell, direction: direction)
                    recurrent.clip = trial % 3 == 2 ? 0.6 : nil
                    recurrent.inputForget = cell == .lstm && trial == 4
                    recurrent.linearBeforeReset = cell == .gru && trial % 2 == 1
                    var c = Configuration(cell: recurrent, seq: random.int(1...5), batch: random.int(1...3),
                                          input: random.int(1...4), hidden: random.int(1...5))
                    c.layout = trial % 2
                    c.bias = trial != 3
                    c.initial = trial >= 2
                    c.peepholes = cell == .lstm && trial >= 3
                    c.constantWeights = trial % 3 == 0
                    if trial >= 1 {
                        c.lengths = (0..<c.batch).map { _ in random.int(1...c.seq) }
                        if trial == 5 { c.lengths?[0] = 0 }
                    }
                    try check(c, &random, threads: 1 + trial % 2)
                    checked += 1
                }
            }
        }
        XCTAssertEqual(checked, 54)
    }

    /// Sizes where the products are split across threads.
    func testLargeLayerAtTwoThreads() throws {
        var random = SeededRandom(7)
        for cell in [Naive.Recurrent.Cell.lstm, .gru] {
            var c = Configuration(cell: Naive.Recurrent(cell: cell, direction: "bidirectional", linearBeforeReset: cell == .gru),
                                  seq: 12, batch: 5, input: 48, hidden: 40)
            c.initial = true
            c.lengths = [12, 7, 1, 12, 9]
            try check(c, &random, threads: 2)
        }
    }

    private func check(_ c: Configuration, _ random: inout SeededRandom, threads: Int) throws {
        let dirs = c.cell.direction == "bidirectional" ? 2 : 1, rows = c.cell.gates * c.hidden
        func values(_ dims: [Int], scale: Float = 1) -> Tensor {
            let shape = Shape(dims)
            return Tensor(shape, floats: (0..<shape.elementCount).map { _ in random.float() * scale })
        }
        let x = values([c.seq, c.batch, c.input], scale: 2)
        let w = values([dirs, rows, c.input]), r = values([dirs, rows, c.hidden])
        let b = c.bias ? values([dirs, 2 * rows]) : nil
        let h0 = c.initial ? values([dirs, c.batch, c.hidden]) : nil
        let c0 = c.initial && c.cell.cell == .lstm ? values([dirs, c.batch, c.hidden]) : nil
        let p = c.peepholes ? values([dirs, 3 * c.hidden]) : nil
        let expected = c.cell.run(x: x, w: w, r: r, b: b, lengths: c.lengths, h0: h0, c0: c0, p: p)

        // Layout 1 swaps batch and sequence in X and Y, batch and direction in the states.
        let layout1 = c.layout == 1
        var inputs: [(String, Tensor?)] = [
            ("x", layout1 ? transposed(x, [1, 0, 2]) : x), ("w", w), ("r", r), ("b", b),
            ("lens", c.lengths.map { Tensor(.int32, [c.batch], $0.map { Int32($0) }) }),
            ("h0", h0.map { layout1 ? transposed($0, [1, 0, 2]) : $0 }),
        ]
        if c.cell.cell == .lstm { inputs += [("c0", c0.map { layout1 ? transposed($0, [1, 0, 2]) : $0 }), ("p", p)] }
        var attributes: [String: AttributeValue] = ["hidden_size": .int(c.hidden), "direction": .text(c.cell.direction)]
        if layout1 { attributes["layout"] = .int(1) }
        if let clip = c.cell.clip { attributes["clip"] = .float(Float(clip)) }
        if c.cell.inputForget { attributes["input_forget"] = .int(1) }
        if c.cell.linearBeforeReset { attributes["linear_before_reset"] = .int(1) }
        let outputs = c.cell.cell == .lstm ? 3 : 2
        let got = try runNode(c.op, inputs: inputs, constants: c.constantWeights ? ["w", "r", "b", "p"] : [],
                              attributes: attributes, outputs: outputs, opset: 14, threads: threads)
        let what = "\(c.op) \(c.cell.direction) seq \(c.seq) batch \(c.batch) input \(c.input) hidden \(c.hidden) layout \(c.layout) lengths \(c.lengths ?? [])"
        assertClose(got[0], layout1 ? transposed(expected.y, [2, 0, 1, 3]) : expected.y, "\(what): Y")
        assertClose(got[1], layout1 ? transposed(expected.yh, [1, 0, 2]) : expected.yh, "\(what): Y_h")
        if outputs == 3 { assertClose(got[2], layout1 ? transposed(expected.yc, [1, 0, 2]) : expected.yc, "\(what): Y_c") }
    }

    /// `tensor` with its axes permuted (`perm[i]` is the input axis of output axis i).
    private func transposed(_ tensor: Tensor, _ perm: [Int]) -> Tensor {
        let dims = tensor.shape.dims, strides = tensor.shape.strides
        let outDims = perm.map { dims[$0] }
        let values = tensor.floats
        let result = (0..<values.count).map { index -> Float in
            let at = Naive.coordinates(index, outDims)
            return values[zip(at, perm).reduce(0) { $0 + $1.0 * strides[$1.1] }]
        }
        return Tensor(Shape(outDims), floats: result)
    }

    /// Each activation the spec lists, through an RNN whose step is f(x)
    /// (W = 1, R = 0), with the defaults of the ONNX operators of the same
    /// name — also where ONNX Runtime's recurrent kernels take 0 (Affine,
    /// ThresholdedRelu, ScaledTanh) — and with alpha and beta given.
    func testActivationFunctions() throws {
        let xs: [Float] = [-3, -1.2, -0.4, 0, 0.3, 0.8, 1, 1.5, 4]
        func sigmoid(_ v: Float) -> Float { 1 / (1 + Foundation.exp(-v)) }
        let cases: [(String, [Float], [Float], (Float) -> Float)] = [
            ("Relu", [], [], { Swift.max($0, 0) }),
            ("Tanh", [], [], { Foundation.tanh($0) }),
            ("Sigmoid", [], [], sigmoid),
            ("Affine", [], [], { $0 }),
            ("Affine", [0.5], [-0.25], { 0.5 * $0 - 0.25 }),
            ("LeakyRelu", [], [], { $0 >= 0 ? $0 : 0.01 * $0 }),
            ("LeakyRelu", [0.3], [], { $0 >= 0 ? $0 : 0.3 * $0 }),
            ("ThresholdedRelu", [], [], { $0 >= 1 ? $0 : 0 }),
            ("ThresholdedRelu", [0.5], [], { $0 >= 0.5 ? $0 : 0 }),
            ("ScaledTanh", [], [], { Foundation.tanh($0) }),
            ("ScaledTanh", [2], [0.5], { 2 * Foundation.tanh(0.5 * $0) }),
            ("HardSigmoid", [], [], { Swift.min(Swift.max(0.2 * $0 + 0.5, 0), 1) }),
            ("HardSigmoid", [0.4], [0.3], { Swift.min(Swift.max(0.4 * $0 + 0.3, 0), 1) }),
            ("Elu", [], [], { $0 >= 0 ? $0 : Foundation.exp($0) - 1 }),
            ("Elu", [0.5], [], { $0 >= 0 ? $0 : 0.5 * (Foundation.exp($0) - 1) }),
            ("Softsign", [], [], { $0 / (1 + Swift.abs($0)) }),
            ("Softplus", [], [], { Foundation.log(1 + Foundation.exp($0)) }),
            ("softplus", [], [], { Foundation.log(1 + Foundation.exp($0)) }),  // names match regardless of case
        ]
        let x = Tensor([xs.count, 1, 1], floats: xs)
        for (name, alpha, beta, f) in cases {
            var attributes: [String: AttributeValue] = ["hidden_size": .int(1), "activations": .strings([Array(name.utf8)])]
            if !alpha.isEmpty { attributes["activation_alpha"] = .floats(alpha) }
            if !beta.isEmpty { attributes["activation_beta"] = .floats(beta) }
            let y = try runNode("RNN", inputs: [("x", x), ("w", Tensor([1, 1, 1], floats: [1])), ("r", Tensor([1, 1, 1], floats: [0]))],
                                attributes: attributes, opset: 14)[0]
            assertClose(y, Tensor([xs.count, 1, 1, 1], floats: xs.map(f)), "\(name) alpha \(alpha) beta \(beta)")
        }
    }

    /// alpha and beta are taken in order by the functions that have them:
    /// here g (LeakyRelu) takes 0.25, h (HardSigmoid) 0.5 and the beta 0.1.
    func testActivationParametersAreConsumedInOrder() throws {
        let attributes: [String: AttributeValue] = [
            "hidden_size": .int(1),
            "activations": .strings(["Sigmoid", "LeakyRelu", "HardSigmoid"].map { Array($0.utf8) }),
            "activation_alpha": .floats([0.25, 0.5]), "activation_beta": .floats([0.1]),
        ]
        // W feeds x into every gate; R = 0, so one step: i = o = f = σ(x), c = g(x), C = i·c, H = o·h(C).
        let x: Float = -2
        let got = try runNode("LSTM", inputs: [("x", Tensor([1, 1, 1], floats: [x])), ("w", Tensor([1, 4, 1], floats: [1, 1, 1, 1])),
                                               ("r", Tensor([1, 4, 1], floats: [0, 0, 0, 0]))],
                              attributes: attributes, outputs: 3, opset: 14)
        let s = 1 / (1 + Foundation.exp(-x)), cell = s * (0.25 * x)
        XCTAssertEqual(got[2].floats[0], cell, accuracy: 1e-5)
        XCTAssertEqual(got[1].floats[0], s * Swift.min(Swift.max(0.5 * cell + 0.1, 0), 1), accuracy: 1e-5)
    }

    /// float64 runs the same equations; its result agrees with float32's.
    func testFloat64() throws {
        var random = SeededRandom(11)
        func wide(_ t: Tensor) -> Tensor { Tensor(.double, t.shape, t.floats.map(Double.init)) }
        let attributes: [String: AttributeValue] = ["hidden_size": .int(3), "direction": .text("bidirectional")]
        for (op, gates) in [("LSTM", 4), ("GRU", 3), ("RNN", 1)] {
            let x = random.tensor([4, 2, 3]), w = random.tensor([2, 3 * gates, 3]), r = random.tensor([2, 3 * gates, 3])
            let b = random.tensor([2, 6 * gates])
            let single = try runNode(op, inputs: [("x", x), ("w", w), ("r", r), ("b", b)], attributes: attributes,
                                     outputs: 2, opset: 14)
            let double = try runNode(op, inputs: [("x", wide(x)), ("w", wide(w)), ("r", wide(r)), ("b", wide(b))],
                                     attributes: attributes, outputs: 2, opset: 14)
            XCTAssertEqual(double[0].dtype, .double)
            assertClose(double[0], single[0], "\(op) float64 Y")
            assertClose(double[1], single[1], "\(op) float64 Y_h")
        }
    }

    /// Only the outputs the node names are computed; Y may be omitted.
    func testOmittedOutputs() throws {
        var random = SeededRandom(3)
        let x = random.tensor([3, 2, 2]), w = random.tensor([1, 8, 2]), r = random.tensor([1, 8, 2])
        let node = Node(name: "lstm", opType: "LSTM", inputs: ["x", "w", "r"], outputs: ["", "", "c"],
                        attributes: [Attribute(name: "hidden_size", value: .int(2))])
        let graph = Graph(model: ModelInfo(irVersion: 8, opsets: [OperatorSet(domain: "", version: 14)]), name: "g",
                          inputs: [ValueInfo(name: "x", dtype: .float, dims: [.fixed(3), .fixed(2), .fixed(2)])],
                          outputs: [ValueInfo(name: "c", dtype: nil, dims: nil)],
                          initializers: [Initializer(name: "w", tensor: w), Initializer(name: "r", tensor: r)], nodes: [node])
        let c = try XCTUnwrap(try Session(graph: graph, options: SessionOptions(threads: 1)).run(["x": x])["c"])
        let expected = Naive.Recurrent(cell: .lstm).run(x: x, w: w, r: r, b: nil, lengths: nil, h0: nil, c0: nil, p: nil)
        assertClose(c, expected.yc, "Y_c alone")
    }

    // MARK: Refusals

    /// An LSTM whose constant W disagrees with hidden_size fails when the
    /// session is built, in one line that names the node and the shapes.
    func testMismatchedWeightsFailWhenTheSessionIsBuilt() {
        let graph = lstmGraph(w: Tensor(zeros: .float, [1, 12, 3]), r: Tensor(zeros: .float, [1, 16, 4]))
        XCTAssertThrowsError(try Session(graph: graph)) { error in
            guard let error = error as? CleaveError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.kind, .badInput)
            XCTAssertEqual(error.message, "node 'encoder/lstm' (LSTM): W has shape [1, 12, 3], expected [1, 4·4 = 16, input_size] for direction forward and hidden_size 4")
        }
    }

    func testOtherConstantsThatDoNotFitFailWhenTheSessionIsBuilt() {
        let w = Tensor(zeros: .float, [1, 16, 3]), r = Tensor(zeros: .float, [1, 16, 4])
        let cases: [(Graph, String)] = [
            (lstmGraph(w: w, r: Tensor(zeros: .float, [1, 16, 5])), "R has shape [1, 16, 5], expected [1, 4·4 = 16, 4]"),
            (lstmGraph(w: w, r: r, b: Tensor(zeros: .float, [1, 16])), "B has shape [1, 16], expected [1, 32]"),
            (lstmGraph(w: w, r: r, p: Tensor(zeros: .float, [1, 8])), "P has shape [1, 8], expected [1, 12]"),
            (lstmGraph(w: w, r: r, h0: Tensor(zeros: .float, [1, 2, 3])), "initial_h has shape [1, 2, 3], expected [1, batch_size, 4]"),
            (lstmGraph(w: Tensor(zeros: .double, [1, 16, 3]), r: r), "R is float32 but W is float64"),
            (lstmGraph(w: Tensor(zeros: .float16, [1, 16, 3]), r: r), "W is float16; supported: float32, float64"),
            (lstmGraph(w: w, r: r, attributes: ["direction": .text("backward")]), "direction 'backward' is not forward, reverse or bidirectional"),
            (lstmGraph(w: w, r: r, attributes: ["activations": .strings([Array("Sigmoid".utf8)])]),
             "activations lists 1 functions, expected 3 (3 per direction)"),
            (lstmGraph(w: w, r: r, attributes: ["activations": .strings(["Sigmoid", "Tanh", "Swish"].map { Array($0.utf8) })]),
             "activation 'Swish' is not one of"),
            (lstmGraph(w: w, r: r, attributes: ["clip": .float(0)]), "clip must be positive, got 0.0"),
            (lstmGraph(w: w, r: r, attributes: ["layout": .int(2)]), "layout must be 0 or 1, got 2"),
        ]
        for (graph, phrase) in cases {
            XCTAssertThrowsError(try Session(graph: graph), phrase) { error in
                let message = (error as? CleaveError)?.message ?? "\(error)"
                XCTAssertTrue(message.hasPrefix("node 'encoder/lstm' (LSTM): "), message)
                XCTAssertTrue(message.contains(phrase), "'\(message)' does not mention '\(phrase)'")
                XCTAssertFalse(message.contains("\n"), message)
            }
        }
    }

    /// Weights and lengths that arrive at run time are checked then.
    func testRunTimeInputsThatDoNotFitAreRefused() {
        var random = SeededRandom(5)
        let x = random.tensor([3, 2, 2]), w = random.tensor([1, 6, 2]), r = random.tensor([1, 6, 2])
        let attributes: [String: AttributeValue] = ["hidden_size": .int(2)]
        assertRefused("W has shape [1, 6, 2], expected [1, 4·2 = 8, input_size]") {
            _ = try runNode("LSTM", inputs: [("x", x), ("w", w), ("r", r)], attributes: attributes, opset: 14)
        }
        assertRefused("X has shape [3, 2, 2], expected [seq_length, batch_size, 3]") {
            _ = try runNode("GRU", inputs: [("x", x), ("w", random.tensor([1, 6, 3])), ("r", r)], attributes: attributes, opset: 14)
        }
        assertRefused("sequence_lens holds 4, outside 0...3 (seq_length)") {
            _ = try runNode("GRU", inputs: [("x", x), ("w", w), ("r", r), ("b", nil), ("lens", Tensor(.int32, [2], [Int32(1), 4]))],
                            attributes: attributes, opset: 14)
        }
        assertRefused("sequence_lens has shape [3], expected [2]") {
            _ = try runNode("GRU", inputs: [("x", x), ("w", w), ("r", r), ("b", nil), ("lens", Tensor(.int32, [3], [Int32(1), 1, 1]))],
                            attributes: attributes, opset: 14)
        }
        assertRefused("initial_h has shape [1, 3, 2], expected [1, 2, 2]") {
            _ = try runNode("GRU", inputs: [("x", x), ("w", w), ("r", r), ("b", nil), ("lens", nil), ("h0", random.tensor([1, 3, 2]))],
                            attributes: attributes, opset: 14)
        }
    }

    /// A one-LSTM graph with constant weights (named like an exporter's node).
    private func lstmGraph(w: Tensor, r: Tensor, b: Tensor? = nil, p: Tensor? = nil, h0: Tensor? = nil,
                           attributes: [String: AttributeValue] = [:]) -> Graph {
        var initializers = [Initializer(name: "w", tensor: w), Initializer(name: "r", tensor: r)]
        var inputs = ["x", "w", "r", "", "", "", "", ""]
        for (position, name, tensor) in [(3, "b", b), (5, "h0", h0), (7, "p", p)] {
            guard let tensor else { continue }
            initializers.append(Initializer(name: name, tensor: tensor))
            inputs[position] = name
        }
        while inputs.last == "" { inputs.removeLast() }
        var all = attributes
        all["hidden_size"] = all["hidden_size"] ?? .int(4)
        let node = Node(name: "encoder/lstm", opType: "LSTM", inputs: inputs, outputs: ["y"],
                        attributes: all.sorted { $0.key < $1.key }.map { Attribute(name: $0.key, value: $0.value) })
        return Graph(model: ModelInfo(irVersion: 8, opsets: [OperatorSet(domain: "", version: 14)]), name: "g",
                     inputs: [ValueInfo(name: "x", dtype: .float, dims: nil)],
                     outputs: [ValueInfo(name: "y", dtype: nil, dims: nil)], initializers: initializers, nodes: [node])
    }
}
