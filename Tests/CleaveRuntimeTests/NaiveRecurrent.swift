import CleaveIR
import Foundation

/// ONNX's LSTM, GRU and RNN equations written out one sequence, one step and
/// one hidden unit at a time, with the default activations (f = Sigmoid,
/// g = h = Tanh; RNN: Tanh) and layout 0; sums in Double. The oracle for the
/// BLAS-backed `RecurrentKernel` in the default test run (ONNX Runtime's own
/// outputs are checked by tools/ort_cases.py through NodeCaseTests).
extension Naive {
    struct Recurrent {
        enum Cell { case lstm, gru, rnn }
        var cell: Cell
        var direction = "forward"
        var clip: Double?
        var inputForget = false
        var linearBeforeReset = false

        var gates: Int {
            switch cell {
            case .lstm: return 4
            case .gru: return 3
            case .rnn: return 1
            }
        }

        /// Y [seq, dirs, batch, hidden], Y_h and Y_c [dirs, batch, hidden].
        func run(x: Tensor, w: Tensor, r: Tensor, b: Tensor?, lengths: [Int]?, h0: Tensor?, c0: Tensor?,
                 p: Tensor?) -> (y: Tensor, yh: Tensor, yc: Tensor) {
            let (seq, batch, input) = (x.shape[0], x.shape[1], x.shape[2])
            let dirs = w.shape[0], hidden = r.shape[2]
            let xv = x.floats.map(Double.init), wv = w.floats.map(Double.init), rv = r.floats.map(Double.init)
            let bv = b?.floats.map(Double.init), pv = p?.floats.map(Double.init)
            let h0v = h0?.floats.map(Double.init), c0v = c0?.floats.map(Double.init)
            var y = [Float](repeating: 0, count: seq * dirs * batch * hidden)
            var yh = [Float](repeating: 0, count: dirs * batch * hidden), yc = yh
            let rowsPerDirection = gates * hidden

            func sigmoid(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }
            func bounded(_ v: Double) -> Double { clip.map { Swift.min(Swift.max(v, -$0), $0) } ?? v }
            /// W row `row` of direction d times x_t, plus R row `row` times `state`, plus biases.
            func linear(_ d: Int, _ row: Int, _ t: Int, _ n: Int, _ state: [Double], recurrent: Bool = true,
                        recurrentBias: Bool = true) -> Double {
                var sum = 0.0
                for k in 0..<input { sum += wv[(d * rowsPerDirection + row) * input + k] * xv[(t * batch + n) * input + k] }
                if recurrent {
                    for k in 0..<hidden { sum += rv[(d * rowsPerDirection + row) * hidden + k] * state[k] }
                }
                if let bv {
                    sum += bv[d * 2 * rowsPerDirection + row]
                    if recurrentBias { sum += bv[d * 2 * rowsPerDirection + rowsPerDirection + row] }
                }
                return sum
            }
            func recurrentOnly(_ d: Int, _ row: Int, _ state: [Double]) -> Double {
                var sum = 0.0
                for k in 0..<hidden { sum += rv[(d * rowsPerDirection + row) * hidden + k] * state[k] }
                return sum
            }

            for d in 0..<dirs {
                let backward = direction == "reverse" || d == 1
                for n in 0..<batch {
                    let length = lengths?[n] ?? seq
                    var h = (0..<hidden).map { h0v?[(d * batch + n) * hidden + $0] ?? 0 }
                    var c = (0..<hidden).map { c0v?[(d * batch + n) * hidden + $0] ?? 0 }
                    for s in 0..<length {
                        let t = backward ? length - 1 - s : s
                        var next = h
                        switch cell {
                        case .rnn:
                            for j in 0..<hidden { next[j] = Foundation.tanh(bounded(linear(d, j, t, n, h))) }
                        case .lstm:
                            let peep = { (gate: Int, j: Int) in pv?[d * 3 * hidden + gate * hidden + j] ?? 0 }
                            var newC = c
                            for j in 0..<hidden {
                                let i = sigmoid(bounded(linear(d, j, t, n, h) + peep(0, j) * c[j]))
                                let f = inputForget ? 1 - i
                                    : sigmoid(bounded(linear(d, 2 * hidden + j, t, n, h) + peep(2, j) * c[j]))
                                let g = Foundation.tanh(bounded(linear(d, 3 * hidden + j, t, n, h)))
                                newC[j] = f * c[j] + i * g
                                let o = sigmoid(bounded(linear(d, hidden + j, t, n, h) + peep(1, j) * newC[j]))
                                next[j] = o * Foundation.tanh(newC[j])
                            }
                            c = newC
                        case .gru:
                            let z = (0..<hidden).map { sigmoid(bounded(linear(d, $0, t, n, h))) }
                            let rg = (0..<hidden).map { sigmoid(bounded(linear(d, hidden + $0, t, n, h))) }
                            for j in 0..<hidden {
                                let row = 2 * hidden + j
                                let candidate: Double
                                if linearBeforeReset {
                                    let rb = bv?[d * 2 * rowsPerDirection + rowsPerDirection + row] ?? 0
                                    candidate = linear(d, row, t, n, h, recurrent: false, recurrentBias: false)
                                        + rg[j] * (recurrentOnly(d, row, h) + rb)
                                } else {
                                    let reset = (0..<hidden).map { rg[$0] * h[$0] }
                                    candidate = linear(d, row, t, n, reset)
                                }
                                let hNew = Foundation.tanh(bounded(candidate))
                                next[j] = (1 - z[j]) * hNew + z[j] * h[j]
                            }
                        }
                        h = next
                        for j in 0..<hidden { y[((t * dirs + d) * batch + n) * hidden + j] = Float(h[j]) }
                    }
                    if length > 0 {
                        for j in 0..<hidden {
                            yh[(d * batch + n) * hidden + j] = Float(h[j])
                            yc[(d * batch + n) * hidden + j] = Float(c[j])
                        }
                    }
                }
            }
            return (Tensor([seq, dirs, batch, hidden], floats: y), Tensor([dirs, batch, hidden], floats: yh),
                    Tensor([dirs, batch, hidden], floats: yc))
        }
    }
}
