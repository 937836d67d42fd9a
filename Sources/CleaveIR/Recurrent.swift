/// The attributes of LSTM, GRU and RNN (opsets 7–22) and the rules their
/// weights follow, parsed in one place for shape inference, the cost model
/// and the kernel so that they cannot disagree.
///
/// Weight layout (ONNX): W is [num_directions, gates·hidden, input_size], R is
/// [num_directions, gates·hidden, hidden], B is [num_directions, 2·gates·hidden]
/// (Wb then Rb), P (LSTM) is [num_directions, 3·hidden]. Gates are stacked in
/// the order i, o, f, c (LSTM), z, r, h (GRU); peepholes in the order i, o, f.
package struct RecurrentLayer: Sendable, Equatable {
    package enum Cell: Sendable, Equatable {
        case lstm, gru, rnn

        /// Gates stacked in W and R.
        package var gates: Int {
            switch self {
            case .lstm: return 4
            case .gru: return 3
            case .rnn: return 1
            }
        }

        /// Activation functions per direction: f, g, h (LSTM); f, g (GRU); f (RNN).
        var defaultActivations: [Activation.Kind] {
            switch self {
            case .lstm: return [.sigmoid, .tanh, .tanh]
            case .gru: return [.sigmoid, .tanh]
            case .rnn: return [.tanh]
            }
        }
    }

    package enum Direction: String, Sendable {
        case forward, reverse, bidirectional
    }

    /// One of the activation functions the recurrent ops list, with its
    /// parameters resolved.
    package struct Activation: Sendable, Equatable {
        package enum Kind: String, CaseIterable, Sendable {
            case relu = "Relu", tanh = "Tanh", sigmoid = "Sigmoid", affine = "Affine", leakyRelu = "LeakyRelu"
            case thresholdedRelu = "ThresholdedRelu", scaledTanh = "ScaledTanh", hardSigmoid = "HardSigmoid"
            case elu = "Elu", softsign = "Softsign", softplus = "Softplus"

            /// The defaults of the ONNX operator of the same name, as the spec
            /// says (nil: the function takes no such parameter). Affine and
            /// ScaledTanh were experimental ops with alpha 1, beta 0 and
            /// alpha 1, beta 1. ONNX Runtime's recurrent kernels take 0 where
            /// a default is not one of LeakyRelu's, HardSigmoid's or Elu's.
            var defaults: (alpha: Float?, beta: Float?) {
                switch self {
                case .relu, .tanh, .sigmoid, .softsign, .softplus: return (nil, nil)
                case .affine: return (1, 0)
                case .leakyRelu: return (0.01, nil)
                case .thresholdedRelu: return (1, nil)
                case .scaledTanh: return (1, 1)
                case .hardSigmoid: return (0.2, 0.5)
                case .elu: return (1, nil)
                }
            }
        }

        package var kind: Kind
        /// 0 when the function takes no alpha (or beta).
        package var alpha: Float
        package var beta: Float

        package init(_ kind: Kind, alpha: Float = 0, beta: Float = 0) {
            self.kind = kind
            self.alpha = alpha
            self.beta = beta
        }
    }

    package let cell: Cell
    package let direction: Direction
    /// The `hidden_size` attribute; nil when absent (R's last dim then gives it).
    package let declaredHiddenSize: Int?
    /// 0: X is [seq, batch, input], Y [seq, dirs, batch, hidden], states
    /// [dirs, batch, hidden]; 1 (opset 14+): X is [batch, seq, input], Y
    /// [batch, seq, dirs, hidden], states [batch, dirs, hidden].
    package let layout: Int
    /// Per direction, the cell's functions in the spec's order (f, g, h).
    package let activations: [[Activation]]
    /// Bound applied to every gate's input before its activation; nil: none.
    package let clip: Float?
    /// LSTM: the forget gate is 1 − the input gate.
    package let inputForget: Bool
    /// GRU: R_h multiplies H_{t-1} before the reset gate is applied.
    package let linearBeforeReset: Bool

    package var directions: Int { direction == .bidirectional ? 2 : 1 }

    /// Parses and checks the node's attributes.
    /// - Parameter fail: makes the error for a message, naming the node.
    /// - Throws: what `fail` makes, for an unknown direction, activation or
    ///   layout, a wrong number of activations, or a non-positive hidden_size or clip.
    package init(_ node: Node, cell: Cell, fail: (String) -> CleaveError) throws {
        self.cell = cell
        let name = node.string("direction") ?? "forward"
        guard let direction = Direction(rawValue: name) else {
            throw fail("direction '\(name)' is not forward, reverse or bidirectional")
        }
        self.direction = direction
        if let hidden = node.int("hidden_size") {
            guard hidden > 0 else { throw fail("hidden_size must be positive, got \(hidden)") }
            declaredHiddenSize = hidden
        } else {
            declaredHiddenSize = nil
        }
        layout = node.int("layout") ?? 0
        guard layout == 0 || layout == 1 else { throw fail("layout must be 0 or 1, got \(layout)") }
        if let bound = node.float("clip") {
            guard bound > 0 else { throw fail("clip must be positive, got \(bound)") }
            clip = bound
        } else {
            clip = nil
        }
        inputForget = cell == .lstm && (node.int("input_forget") ?? 0) != 0
        linearBeforeReset = cell == .gru && (node.int("linear_before_reset") ?? 0) != 0

        let directions = direction == .bidirectional ? 2 : 1
        let perDirection = cell.defaultActivations.count
        var names: [String]
        if case .strings(let values)? = node.attribute("activations") {
            names = values.map { String(decoding: $0, as: UTF8.self) }
        } else {
            names = []
        }
        // RNN's schema default lists two functions (Tanh, Tanh); one direction uses the first.
        if cell == .rnn, directions == 1, names.count == 2 { names.removeLast() }
        var alphas = (node.floats("activation_alpha") ?? [])[...]
        var betas = (node.floats("activation_beta") ?? [])[...]
        var kinds: [Activation.Kind] = []
        if names.isEmpty {
            for _ in 0..<directions { kinds += cell.defaultActivations }
        } else {
            guard names.count == perDirection * directions else {
                throw fail("activations lists \(names.count) functions, expected \(perDirection * directions) (\(perDirection) per direction)")
            }
            for name in names {
                // Matched regardless of case, as ONNX Runtime matches them.
                guard let kind = Activation.Kind.allCases.first(where: { $0.rawValue.lowercased() == name.lowercased() }) else {
                    throw fail("activation '\(name)' is not one of \(Activation.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                kinds.append(kind)
            }
        }
        // activation_alpha and activation_beta are consumed in order by the
        // functions that take the parameter; the rest get the defaults.
        let resolved = kinds.map { kind -> Activation in
            let defaults = kind.defaults
            var activation = Activation(kind)
            if let alpha = defaults.alpha { activation.alpha = alphas.popFirst() ?? alpha }
            if let beta = defaults.beta { activation.beta = betas.popFirst() ?? beta }
            return activation
        }
        activations = (0..<directions).map { Array(resolved[($0 * perDirection)..<(($0 + 1) * perDirection)]) }
    }

    /// Sizes that W, R, B and P agree on.
    package struct Sizes: Sendable, Equatable {
        package var input: Int
        package var hidden: Int
    }

    /// Checks the weight shapes against each other, the direction and
    /// hidden_size: W [dirs, gates·hidden, input], R [dirs, gates·hidden,
    /// hidden], B [dirs, 2·gates·hidden], P [dirs, 3·hidden].
    /// - Throws: what `fail` makes, naming the first input that disagrees.
    package func checkWeights(w: Shape, r: Shape, b: Shape?, p: Shape?, fail: (String) -> CleaveError) throws -> Sizes {
        let dirs = directions, gates = cell.gates
        guard r.rank == 3 else { throw fail("R has shape \(r), expected rank 3 [\(dirs), \(gates)·hidden_size, hidden_size]") }
        let hidden = declaredHiddenSize ?? r[2]
        let (rows, overflow) = hidden.multipliedReportingOverflow(by: gates)
        guard !overflow else { throw fail("hidden_size \(hidden) is too large") }
        let stacked = gates == 1 ? "\(rows)" : "\(gates)·\(hidden) = \(rows)"
        guard w.rank == 3, w[0] == dirs, w[1] == rows else {
            throw fail("W has shape \(w), expected [\(dirs), \(stacked), input_size] for direction \(direction.rawValue) and hidden_size \(hidden)")
        }
        guard r == Shape([dirs, rows, hidden]) else {
            throw fail("R has shape \(r), expected [\(dirs), \(stacked), \(hidden)] for direction \(direction.rawValue) and hidden_size \(hidden)")
        }
        if let b, b != Shape([dirs, 2 * rows]) {
            throw fail("B has shape \(b), expected [\(dirs), \(2 * rows)] (Wb and Rb for \(gates) gate\(gates == 1 ? "" : "s") of \(hidden))")
        }
        if let p, p != Shape([dirs, 3 * hidden]) {
            throw fail("P has shape \(p), expected [\(dirs), \(3 * hidden)] (peepholes i, o, f of \(hidden))")
        }
        return Sizes(input: w[2], hidden: hidden)
    }

    /// Sequence length and batch size of input X for this layout.
    /// - Throws: what `fail` makes unless X has rank 3 and `input` features.
    package func sequenceAndBatch(_ x: Shape, input: Int, fail: (String) -> CleaveError) throws -> (sequence: Int, batch: Int) {
        let expected = layout == 0 ? "[seq_length, batch_size, \(input)]" : "[batch_size, seq_length, \(input)]"
        guard x.rank == 3, x[2] == input else { throw fail("X has shape \(x), expected \(expected) (layout \(layout))") }
        return layout == 0 ? (x[0], x[1]) : (x[1], x[0])
    }

    /// Shape of Y for this layout.
    package func outputShape(sequence: Int, batch: Int, hidden: Int) -> Shape {
        layout == 0 ? Shape([sequence, directions, batch, hidden]) : Shape([batch, sequence, directions, hidden])
    }

    /// Shape of Y_h, Y_c, initial_h and initial_c for this layout.
    package func stateShape(batch: Int, hidden: Int) -> Shape {
        layout == 0 ? Shape([directions, batch, hidden]) : Shape([batch, directions, hidden])
    }

    /// Outputs the op defines: Y, Y_h and (LSTM) Y_c.
    package var outputCount: Int { cell == .lstm ? 3 : 2 }
}
