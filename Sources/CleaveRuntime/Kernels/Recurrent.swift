import CleaveIR

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// LSTM, GRU and RNN, opsets 7–22, float32 and float64 (attributes and weight
/// rules: `RecurrentLayer`).
///
/// Per direction, the input projection of every time step is one matrix
/// product, X·Wᵀ + Wb (+ Rb), over the [seq·batch, input] rows of X in
/// whichever layout they come; each step then multiplies the state by R
/// (H_{t-1}·Rᵀ, a matrix-vector product at batch 1) and applies the gates
/// (ONNX's equations):
///
/// - LSTM: i = f(Xᵢ + Hᵢ + Pᵢ⊙C_{t-1}), f = f(X_f + H_f + P_f⊙C_{t-1}) (1 − i
///   with `input_forget`), c = g(X_c + H_c), C_t = f⊙C_{t-1} + i⊙c,
///   o = f(X_o + H_o + P_o⊙C_t), H_t = o⊙h(C_t);
/// - GRU: z = f(X_z + H_z), r = f(X_r + H_r), h = g(X_h + (r⊙H_{t-1})·R_hᵀ + Rb_h)
///   or, with `linear_before_reset`, g(X_h + r⊙(H_{t-1}·R_hᵀ + Rb_h)), then
///   H_t = (1 − z)⊙h + z⊙H_{t-1};
/// - RNN: H_t = f(X_t·Wᵀ + H_{t-1}·Rᵀ + Wb + Rb).
///
/// `clip` bounds each gate's input before its activation, not C_t before h,
/// as ONNX Runtime does. A sequence of length L (`sequence_lens`) runs L
/// steps — the reverse direction from its step L−1 back to 0 — and its
/// outputs past L are 0; Y_h and Y_c hold the state after its last step,
/// and are 0 for L = 0 (ONNX Runtime's LSTM and GRU; the spec is silent).
///
/// Weights given as constants are checked when the kernel is built; every
/// shape is checked again against X at each run, which costs a few compares.
/// - Complexity: O(dirs·seq·batch·gates·hidden·(input + hidden)).
final class RecurrentKernel: Kernel {
    private let setup: KernelSetup
    private let layer: RecurrentLayer

    init(_ setup: KernelSetup, cell: RecurrentLayer.Cell) throws {
        self.setup = setup
        layer = try RecurrentLayer(setup.node, cell: cell, fail: setup.error)
        try checkConstants()
    }

    /// The checks that need only the inputs known at build time: weight
    /// shapes and dtypes, and the direction and hidden dims of constant
    /// initial states (their batch dim waits for X).
    private func checkConstants() throws {
        let names = ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"]
        let floats = [1, 2, 3, 5, 6, 7].filter { layer.cell == .lstm || $0 < 6 }
        let known = floats.compactMap { i in setup.constantInput(i).map { (names[i], $0) } }
        if let (name, first) = known.first {
            guard first.dtype == .float || first.dtype == .double else {
                throw setup.error("\(name) is \(first.dtype.name); supported: float32, float64")
            }
            for (other, tensor) in known where tensor.dtype != first.dtype {
                throw setup.error("\(other) is \(tensor.dtype.name) but \(name) is \(first.dtype.name); they must match")
            }
        }
        guard let w = setup.constantInput(1), let r = setup.constantInput(2) else { return }
        let sizes = try layer.checkWeights(w: w.shape, r: r.shape, b: setup.constantInput(3)?.shape,
                                           p: layer.cell == .lstm ? setup.constantInput(7)?.shape : nil,
                                           fail: setup.error)
        for (i, what) in [(5, "initial_h"), (6, "initial_c")] where i == 5 || layer.cell == .lstm {
            guard let state = setup.constantInput(i)?.shape else { continue }
            let directionAxis = layer.layout == 0 ? 0 : 1
            guard state.rank == 3, state[directionAxis] == layer.directions, state[2] == sizes.hidden else {
                let expected = layer.layout == 0 ? "[\(layer.directions), batch_size, \(sizes.hidden)]"
                    : "[batch_size, \(layer.directions), \(sizes.hidden)]"
                throw setup.error("\(what) has shape \(state), expected \(expected) (layout \(layer.layout))")
            }
        }
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let x = try setup.required(inputs, 0, "X")
        guard x.dtype == .float || x.dtype == .double else {
            throw setup.error("X is \(x.dtype.name); supported: float32, float64")
        }
        let lstm = layer.cell == .lstm
        let w = try floatInput(inputs, 1, "W", like: x)
        let r = try floatInput(inputs, 2, "R", like: x)
        let b = try optionalFloatInput(inputs, 3, "B", like: x)
        let h0 = try optionalFloatInput(inputs, 5, "initial_h", like: x)
        let c0 = lstm ? try optionalFloatInput(inputs, 6, "initial_c", like: x) : nil
        let p = lstm ? try optionalFloatInput(inputs, 7, "P", like: x) : nil
        let sizes = try layer.checkWeights(w: w.shape, r: r.shape, b: b?.shape, p: p?.shape, fail: setup.error)
        let (sequence, batch) = try layer.sequenceAndBatch(x.shape, input: sizes.input, fail: setup.error)
        let state = layer.stateShape(batch: batch, hidden: sizes.hidden)
        for (tensor, what) in [(h0, "initial_h"), (c0, "initial_c")] {
            if let tensor, tensor.shape != state {
                throw setup.error("\(what) has shape \(tensor.shape), expected \(state) (layout \(layer.layout))")
            }
        }
        var lengths = [Int](repeating: sequence, count: batch)
        if let given = setup.optional(inputs, 4) {
            let values = try setup.integers(given, "sequence_lens")
            guard values.count == batch, given.shape.rank == 1 else {
                throw setup.error("sequence_lens has shape \(given.shape), expected [\(batch)] (one length per batch entry)")
            }
            if let bad = values.first(where: { $0 < 0 || $0 > sequence }) {
                throw setup.error("sequence_lens holds \(bad), outside 0...\(sequence) (seq_length)")
            }
            lengths = values
        }
        let rows = layer.cell.gates * sizes.hidden
        let (steps, overflow) = sequence.multipliedReportingOverflow(by: batch)
        guard !overflow, BLAS.fits(steps, rows, sizes.input, sizes.hidden) else {
            throw setup.error("X \(x.shape) and W \(w.shape) exceed the 32-bit sizes BLAS takes")
        }
        // The scratch memory: the projection of every step, and one step's gates.
        _ = try setup.shape([steps, rows], "the input projection")
        _ = try setup.shape([batch, rows], "the gates of one step")
        let plan = Plan(sequence: sequence, batch: batch, input: sizes.input, hidden: sizes.hidden,
                        gates: layer.cell.gates, lengths: lengths,
                        output: try setup.shape(layer.outputShape(sequence: sequence, batch: batch, hidden: sizes.hidden).dims, "output Y"),
                        state: try setup.shape(state.dims, "output Y_h"))
        let outputs = setup.node.outputs.prefix(layer.outputCount).map { !$0.isEmpty }
        let operands = Operands(x: x, w: w, r: r, b: b, h0: h0, c0: c0, p: p)
        switch x.dtype {
        case .double: return compute(Double.self, plan, operands, outputs, context)
        default: return compute(Float.self, plan, operands, outputs, context)
        }
    }

    private func floatInput(_ inputs: [Tensor?], _ index: Int, _ what: String, like x: Tensor) throws -> Tensor {
        let tensor = try setup.required(inputs, index, what)
        guard tensor.dtype == x.dtype else {
            throw setup.error("\(what) is \(tensor.dtype.name) but X is \(x.dtype.name); they must match")
        }
        return tensor
    }

    private func optionalFloatInput(_ inputs: [Tensor?], _ index: Int, _ what: String, like x: Tensor) throws -> Tensor? {
        guard setup.optional(inputs, index) != nil else { return nil }
        return try floatInput(inputs, index, what, like: x)
    }

    // MARK: Plan

    private struct Operands {
        var x, w, r: Tensor
        var b, h0, c0, p: Tensor?
    }

    /// Sizes of one run, and where each (time, batch) row lives in X, Y and the states.
    private struct Plan {
        var sequence, batch, input, hidden, gates: Int
        var lengths: [Int]
        var output, state: Shape

        var rows: Int { gates * hidden }
    }

    /// Row of X (and of the projection) holding time `t` of batch entry `n`.
    private func inputRow(_ p: Plan, _ t: Int, _ n: Int) -> Int {
        layer.layout == 0 ? t * p.batch + n : n * p.sequence + t
    }

    /// Offset of Y's hidden vector for time `t`, direction `d`, batch entry `n`.
    private func outputOffset(_ p: Plan, _ t: Int, _ d: Int, _ n: Int) -> Int {
        let dirs = layer.directions
        return (layer.layout == 0 ? (t * dirs + d) * p.batch + n : (n * p.sequence + t) * dirs + d) * p.hidden
    }

    /// Offset of a state's (Y_h, Y_c, initial_h, initial_c) hidden vector for direction `d`, batch entry `n`.
    private func stateOffset(_ p: Plan, _ d: Int, _ n: Int) -> Int {
        (layer.layout == 0 ? d * p.batch + n : n * layer.directions + d) * p.hidden
    }

    // MARK: Computation

    /// Runs every direction and returns the outputs the node names (an
    /// omitted one is an empty placeholder that nothing reads).
    private func compute<T: RecurrentElement>(_: T.Type, _ p: Plan, _ operands: Operands, _ wanted: [Bool],
                                              _ context: KernelContext) -> [Tensor] {
        let dtype = operands.x.dtype
        func output(_ index: Int, _ shape: Shape) -> Tensor? {
            guard index < wanted.count, wanted[index] else { return nil }
            return Tensor(zeros: dtype, shape)
        }
        // Zero-filled: positions past a sequence's length, and states of empty sequences, stay 0.
        let y = output(0, p.output), yh = output(1, p.state), yc = layer.cell == .lstm ? output(2, p.state) : nil

        let h = UnsafeMutablePointer<T>.allocate(capacity: Swift.max(1, p.batch * p.hidden))
        let c = UnsafeMutablePointer<T>.allocate(capacity: Swift.max(1, p.batch * p.hidden))
        let projection = UnsafeMutablePointer<T>.allocate(capacity: Swift.max(1, p.sequence * p.batch * p.rows))
        let gates = UnsafeMutablePointer<T>.allocate(capacity: Swift.max(1, p.batch * p.rows))
        let reset = UnsafeMutablePointer<T>.allocate(capacity: Swift.max(1, p.batch * p.hidden))
        // GRU multiplies every row of r⊙H_{t-1}, also those past their sequence: keep them defined.
        reset.initialize(repeating: 0, count: Swift.max(1, p.batch * p.hidden))
        defer {
            for buffer in [h, c, projection, gates, reset] { buffer.deallocate() }
        }
        let pointers = Pointers<T>(operands)
        let yp = y?.mutableRawBytes?.assumingMemoryBound(to: T.self)
        let yhp = yh?.mutableRawBytes?.assumingMemoryBound(to: T.self)
        let ycp = yc?.mutableRawBytes?.assumingMemoryBound(to: T.self)
        let reverse = layer.direction == .reverse

        let buffers = Buffers(h: h, c: c, projection: projection, gates: gates, reset: reset)
        for d in 0..<layer.directions {
            let bias = project(p, pointers, direction: d, into: projection, context)
            initialState(p, pointers.h0, direction: d, into: h)
            initialState(p, pointers.c0, direction: d, into: c)
            let backward = reverse || d == 1
            let longest = p.lengths.max() ?? 0
            for step in 0..<longest {
                self.step(p, pointers, bias, buffers, direction: d, step: step, backward: backward, context)
                if let yp {
                    for n in 0..<p.batch where step < p.lengths[n] {
                        let t = backward ? p.lengths[n] - 1 - step : step
                        (yp + outputOffset(p, t, d, n)).update(from: h + n * p.hidden, count: p.hidden)
                    }
                }
            }
            for n in 0..<p.batch where p.lengths[n] > 0 {
                yhp.map { ($0 + stateOffset(p, d, n)).update(from: h + n * p.hidden, count: p.hidden) }
                ycp.map { ($0 + stateOffset(p, d, n)).update(from: c + n * p.hidden, count: p.hidden) }
            }
        }
        let placeholder = Tensor(zeros: dtype, [0])
        return [y, yh, yc].prefix(wanted.count).map { $0 ?? placeholder }
    }

    /// Raw element pointers of the operands (nil where omitted or empty).
    private struct Pointers<T> {
        var x, w, r, b, h0, c0, p: UnsafePointer<T>?

        init(_ o: Operands) {
            func pointer(_ tensor: Tensor?) -> UnsafePointer<T>? {
                tensor?.rawBytes?.assumingMemoryBound(to: T.self)
            }
            x = pointer(o.x); w = pointer(o.w); r = pointer(o.r); b = pointer(o.b)
            h0 = pointer(o.h0); c0 = pointer(o.c0); p = pointer(o.p)
        }
    }

    /// Scratch memory of one run.
    private struct Buffers<T> {
        /// [batch, hidden]: H and (LSTM) C, updated in place step by step.
        var h, c: UnsafeMutablePointer<T>
        /// [seq·batch, gates·hidden]: X·Wᵀ + bias, rows in X's order.
        var projection: UnsafeMutablePointer<T>
        /// [batch, gates·hidden]: H_{t-1}·Rᵀ, then the gates.
        var gates: UnsafeMutablePointer<T>
        /// [batch, hidden]: GRU's r⊙H_{t-1}.
        var reset: UnsafeMutablePointer<T>
    }

    /// The biases of one direction: `input` is added to the projection (Wb + Rb
    /// for every gate but a linear-before-reset GRU's h, which gets Wb_h);
    /// `recurrent` is that GRU's Rb_h, added to H_{t-1}·R_hᵀ before r multiplies it.
    private struct Bias<T> {
        var input: [T]?
        var recurrent: [T]?
    }

    /// Fills `projection` with X·W_dᵀ + bias for every row of X.
    private func project<T: RecurrentElement>(_ p: Plan, _ o: Pointers<T>, direction d: Int,
                                              into projection: UnsafeMutablePointer<T>,
                                              _ context: KernelContext) -> Bias<T> {
        let rows = p.rows, count = p.sequence * p.batch
        var bias = Bias<T>()
        if let b = o.b {
            let wb = b + d * 2 * rows, rb = wb + rows
            var input = (0..<rows).map { wb[$0] + rb[$0] }
            if layer.linearBeforeReset {
                let h = 2 * p.hidden
                for j in 0..<p.hidden { input[h + j] = wb[h + j] }
                bias.recurrent = (0..<p.hidden).map { rb[h + $0] }
            }
            bias.input = input
            input.withUnsafeBufferPointer { values in
                guard let source = values.baseAddress else { return }
                for row in 0..<count { (projection + row * rows).update(from: source, count: rows) }
            }
        }
        guard count > 0, rows > 0 else { return bias }
        guard let x = o.x, let w = o.w, p.input > 0 else {
            // No input features: the projection is the bias alone.
            if bias.input == nil { projection.update(repeating: 0, count: count * rows) }
            return bias
        }
        BLAS.gemm(transA: false, transB: true, m: count, n: rows, k: p.input, alpha: 1,
                  a: x, lda: p.input, b: w + d * rows * p.input, ldb: p.input,
                  beta: bias.input == nil ? 0 : 1, c: projection, ldc: rows, context)
        return bias
    }

    /// Copies direction `d` of an initial state into `state` ([batch, hidden]), or zeros it.
    private func initialState<T: RecurrentElement>(_ p: Plan, _ source: UnsafePointer<T>?, direction d: Int,
                                 into state: UnsafeMutablePointer<T>) {
        guard let source else {
            state.update(repeating: 0, count: p.batch * p.hidden)
            return
        }
        for n in 0..<p.batch {
            (state + n * p.hidden).update(from: source + stateOffset(p, d, n), count: p.hidden)
        }
    }

    /// One time step of direction `d` for every batch entry still inside its sequence.
    private func step<T: RecurrentElement>(_ p: Plan, _ o: Pointers<T>, _ bias: Bias<T>, _ s: Buffers<T>,
                                           direction d: Int, step: Int, backward: Bool,
                                           _ context: KernelContext) {
        let rows = p.rows, hidden = p.hidden
        guard let r = o.r.map({ $0 + d * rows * hidden }) else { return }  // hidden = 0: nothing to compute
        let activations = layer.activations[d]
        let clip = layer.clip.map { T(Float($0)) }
        // GRU without linear_before_reset needs r before R_h: the first product stops at z and r.
        let gruTwoProducts = layer.cell == .gru && !layer.linearBeforeReset
        BLAS.gemm(transA: false, transB: true, m: p.batch, n: gruTwoProducts ? 2 * hidden : rows, k: hidden,
                  alpha: 1, a: s.h, lda: hidden, b: r, ldb: hidden, beta: 0, c: s.gates, ldc: rows, context)
        /// The gate row of batch entry `n`, with its projection added; nil past its sequence.
        func preactivations(_ n: Int, columns: Range<Int>) -> UnsafeMutablePointer<T>? {
            guard step < p.lengths[n] else { return nil }
            let t = backward ? p.lengths[n] - 1 - step : step
            let g = s.gates + n * rows, x = s.projection + inputRow(p, t, n) * rows
            for j in columns { g[j] += x[j] }
            return g
        }
        let work = rows * 16
        switch layer.cell {
        case .rnn:
            context.parallelFor(p.batch, itemWork: work) { batch in
                for n in batch {
                    guard let g = preactivations(n, columns: 0..<rows) else { continue }
                    activations[0].apply(g, hidden, clip: clip)
                    (s.h + n * hidden).update(from: g, count: hidden)
                }
            }
        case .lstm:
            let peepholes = o.p.map { $0 + d * 3 * hidden }
            let inputForget = layer.inputForget
            context.parallelFor(p.batch, itemWork: work) { batch in
                for n in batch {
                    guard let g = preactivations(n, columns: 0..<rows) else { continue }
                    let h = s.h + n * hidden, c = s.c + n * hidden
                    let i = g, out = g + hidden, f = g + 2 * hidden, cell = g + 3 * hidden
                    if let peepholes {
                        for j in 0..<hidden {
                            i[j] += peepholes[j] * c[j]
                            f[j] += peepholes[2 * hidden + j] * c[j]
                        }
                    }
                    activations[0].apply(i, hidden, clip: clip)
                    if inputForget {
                        for j in 0..<hidden { f[j] = 1 - i[j] }
                    } else {
                        activations[0].apply(f, hidden, clip: clip)
                    }
                    activations[1].apply(cell, hidden, clip: clip)
                    for j in 0..<hidden { c[j] = f[j] * c[j] + i[j] * cell[j] }
                    if let peepholes {
                        for j in 0..<hidden { out[j] += peepholes[hidden + j] * c[j] }
                    }
                    activations[0].apply(out, hidden, clip: clip)
                    // h(C_t) into the spent cell-gate slot, unclipped (as ONNX Runtime).
                    cell.update(from: c, count: hidden)
                    activations[2].apply(cell, hidden, clip: nil)
                    for j in 0..<hidden { h[j] = out[j] * cell[j] }
                }
            }
        case .gru:
            let linear = layer.linearBeforeReset
            let recurrentBias = bias.recurrent
            context.parallelFor(p.batch, itemWork: work) { batch in
                for n in batch {
                    guard let g = preactivations(n, columns: 0..<(2 * hidden)) else { continue }
                    let z = g, reset = g + hidden, candidate = g + 2 * hidden, h = s.h + n * hidden
                    activations[0].apply(z, hidden, clip: clip)
                    activations[0].apply(reset, hidden, clip: clip)
                    if linear {
                        // candidate holds H_{t-1}·R_hᵀ: add Rb_h, then r multiplies it.
                        if let recurrentBias {
                            for j in 0..<hidden { candidate[j] += recurrentBias[j] }
                        }
                        for j in 0..<hidden { candidate[j] *= reset[j] }
                    } else {
                        let rh = s.reset + n * hidden
                        for j in 0..<hidden { rh[j] = reset[j] * h[j] }
                    }
                }
            }
            if !linear {
                // (r⊙H_{t-1})·R_hᵀ for all rows at once; rows past their sequence hold stale values no one reads.
                BLAS.gemm(transA: false, transB: true, m: p.batch, n: hidden, k: hidden, alpha: 1,
                          a: s.reset, lda: hidden, b: r + 2 * hidden * hidden, ldb: hidden,
                          beta: 0, c: s.gates + 2 * hidden, ldc: rows, context)
            }
            context.parallelFor(p.batch, itemWork: work) { batch in
                for n in batch where step < p.lengths[n] {
                    let t = backward ? p.lengths[n] - 1 - step : step
                    let g = s.gates + n * rows, x = s.projection + inputRow(p, t, n) * rows
                    let z = g, candidate = g + 2 * hidden, h = s.h + n * hidden
                    for j in 0..<hidden { candidate[j] += x[2 * hidden + j] }
                    activations[1].apply(candidate, hidden, clip: clip)
                    for j in 0..<hidden { h[j] = (1 - z[j]) * candidate[j] + z[j] * h[j] }
                }
            }
        }
    }
}

// MARK: - Activations

/// float32 and float64, with the functions the recurrent activations need
/// (`exponential` from `ReductionReal`). float32 uses `FastMath` (vectorised,
/// within a few ulp), float64 libm.
protocol RecurrentElement: BLASElement, ReductionReal {
    static func hyperbolicTangent(_ x: Self) -> Self
    /// log(1 + x).
    static func logOnePlus(_ x: Self) -> Self
}

extension Float: RecurrentElement {
    @inline(__always) static func hyperbolicTangent(_ x: Float) -> Float { FastMath.tanh(x) }
    @inline(__always) static func logOnePlus(_ x: Float) -> Float { log1pf(x) }
}

extension Double: RecurrentElement {
    @inline(__always) static func hyperbolicTangent(_ x: Double) -> Double { tanh(x) }
    @inline(__always) static func logOnePlus(_ x: Double) -> Double { log1p(x) }
}

extension RecurrentLayer.Activation {
    /// Applies the function in place to `count` elements, each first bounded
    /// to ±`clip` when given. One loop per function, so each vectorises.
    func apply<T: RecurrentElement>(_ x: UnsafeMutablePointer<T>, _ count: Int, clip: T?) {
        if let clip {
            for j in 0..<count { x[j] = Swift.min(Swift.max(x[j], -clip), clip) }
        }
        let alpha = T(self.alpha), beta = T(self.beta)
        switch kind {
        case .relu:
            for j in 0..<count { x[j] = x[j] > 0 ? x[j] : 0 }
        case .tanh:
            for j in 0..<count { x[j] = T.hyperbolicTangent(x[j]) }
        case .sigmoid:
            for j in 0..<count { x[j] = 1 / (1 + T.exponential(-x[j])) }
        case .affine:
            for j in 0..<count { x[j] = alpha * x[j] + beta }
        case .leakyRelu:
            for j in 0..<count { x[j] = x[j] >= 0 ? x[j] : alpha * x[j] }
        case .thresholdedRelu:
            for j in 0..<count { x[j] = x[j] >= alpha ? x[j] : 0 }
        case .scaledTanh:
            for j in 0..<count { x[j] = alpha * T.hyperbolicTangent(beta * x[j]) }
        case .hardSigmoid:
            for j in 0..<count { x[j] = Swift.min(Swift.max(alpha * x[j] + beta, 0), 1) }
        case .elu:
            for j in 0..<count { x[j] = x[j] >= 0 ? x[j] : alpha * (T.exponential(x[j]) - 1) }
        case .softsign:
            for j in 0..<count { x[j] = x[j] / (1 + Swift.abs(x[j])) }
        case .softplus:
            // log(1 + eˣ) = max(x, 0) + log(1 + e^−|x|), which neither overflows nor loses small values.
            for j in 0..<count { x[j] = Swift.max(x[j], 0) + T.logOnePlus(T.exponential(-Swift.abs(x[j]))) }
        }
    }
}
