/// What one node costs; used by inspect, compress and plan alike.
///
/// Multiply-accumulates (`macs`) by op, where "elements" means elements of
/// the (first) output unless said otherwise:
///
/// | op | MACs |
/// | --- | --- |
/// | Conv | N·Cout·Hout·Wout·(Cin/group)·kH·kW (any number of spatial dims; bias not counted) |
/// | ConvTranspose | N·Cin·Hin·Win·(Cout/group)·kH·kW |
/// | Gemm | M·N·K (alpha, beta and C not counted) |
/// | MatMul | batch·M·N·K (batch = the broadcast leading dims) |
/// | LSTM, GRU, RNN | dirs·seq·batch·(G·H·(I + H + 1) + H): per step and direction the input projection X_t·Wᵀ (G·H·I), the recurrent one H_{t-1}·Rᵀ (G·H·H), one per gate element (bias, activation) and one per hidden element (the state update); G = 4 (LSTM), 3 (GRU), 1 (RNN), H = hidden_size, I = input_size; peepholes not counted |
/// | Einsum | the product of all labels' sizes (the naive sum: batch·M·N·K for a product of two operands, as MatMul) |
/// | BatchNormalization, InstanceNormalization, LayerNormalization | 1 per element |
/// | Relu, LeakyRelu, PRelu, Elu, Clip, Sigmoid, HardSigmoid, HardSwish, Tanh, Erf, Gelu | 1 per element |
/// | Add, Sub, Mul, Div, Pow, Sqrt, Exp, Log, Neg, Abs, Reciprocal | 1 per element |
/// | Equal, Less, LessOrEqual, Greater, GreaterOrEqual, Not, And, Or, Xor, Where, Range | 1 per element |
/// | Sum, Max, Min, Mean | 1 per element per input after the first (at least 1) |
/// | QuantizeLinear, DequantizeLinear | 1 per element |
/// | CumSum | 1 per element (one addition each) |
/// | ScatterND | 0 with reduction none (data movement), else 1 per element of updates |
/// | LRN | elements × size (the window across channels) |
/// | Softmax, LogSoftmax | 3 per element (exponential, sum, scale) |
/// | TopK | input elements × ⌈log₂ n⌉, n the axis length (the kernel sorts each slice; 1 pass for k = 1) |
/// | MaxPool, AveragePool | elements × window size (kernel_shape product) |
/// | GlobalAveragePool, GlobalMaxPool, ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSumExp, ArgMax, ArgMin | 1 per input element |
/// | Resize, Upsample | nearest: 0; linear: 2^k per element; cubic: 4^k per element, k = number of resized axes |
/// | Concat, Split, Slice, Gather, GatherElements, Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Expand, Tile, Pad, Shape, Size, Cast, Constant, ConstantOfShape, Identity, Dropout | 0 (data movement) |
/// | ops cleave does not know | 0 |
///
/// `params` counts elements of constant tensors (initializers and Constant
/// node values). Each constant is counted once, by the first node in
/// topological order that reads it — so a Conv whose weights come from a
/// Constant node carries them, and the Constant node carries none; a Constant
/// whose value no node reads carries its own. `bytesRead` is the bytes of all
/// the node's inputs (weights included), `bytesWritten` of all its outputs.
///
/// Sums saturate at `Int.max` rather than trap on absurd sizes.
public struct Cost: Hashable, Sendable {
    /// Multiply-accumulates (see the table above).
    public var macs: Int
    /// Elements of constant tensors this node owns.
    public var params: Int
    public var bytesRead: Int
    public var bytesWritten: Int

    public init(macs: Int = 0, params: Int = 0, bytesRead: Int = 0, bytesWritten: Int = 0) {
        self.macs = macs
        self.params = params
        self.bytesRead = bytesRead
        self.bytesWritten = bytesWritten
    }

    public static let zero = Cost()

    public static func + (a: Cost, b: Cost) -> Cost {
        Cost(macs: saturatingSum(a.macs, b.macs), params: saturatingSum(a.params, b.params),
             bytesRead: saturatingSum(a.bytesRead, b.bytesRead), bytesWritten: saturatingSum(a.bytesWritten, b.bytesWritten))
    }

    public static func += (a: inout Cost, b: Cost) { a = a + b }
}

func saturatingSum(_ a: Int, _ b: Int) -> Int {
    let (sum, overflow) = a.addingReportingOverflow(b)
    return overflow ? Int.max : sum
}

func saturatingProduct(_ values: Int...) -> Int { saturatingProduct(values) }

func saturatingProduct(_ values: [Int]) -> Int {
    var result = 1
    for v in values {
        let (product, overflow) = result.multipliedReportingOverflow(by: v)
        if overflow { return Int.max }
        result = product
    }
    return result
}

extension NodeContext {
    /// Multiply-accumulates of this node given its inferred output types
    /// (the table on `Cost`).
    func macs(_ outputs: [TensorType]) -> Int {
        let elements = outputs.first?.shape.elementCount ?? 0
        let inputElements = inputTypes.first??.shape.elementCount ?? 0
        func dims(_ i: Int) -> [Int] { (i < inputTypes.count ? inputTypes[i]?.shape.dims : nil) ?? [] }
        switch op {
        case .conv:
            let w = dims(1)
            return saturatingProduct(elements, w.dropFirst().reduce(1, *))
        case .convTranspose:
            let w = dims(1)
            return saturatingProduct(inputElements, w.dropFirst().reduce(1, *))
        case .gemm:
            let a = dims(0)
            let k = (node.int("transA") ?? 0) != 0 ? a.first : a.last
            return saturatingProduct(elements, k ?? 0)
        case .matMul:
            return saturatingProduct(elements, dims(0).last ?? 0)
        case .lstm, .gru, .rnn:
            // X is [seq, batch, I] or [batch, seq, I], W is [dirs, G·H, I], R is [dirs, G·H, H].
            let x = dims(0), w = dims(1), r = dims(2)
            guard x.count == 3, w.count == 3, r.count == 3 else { return 0 }
            let rows = w[1], hidden = r[2], input = w[2]
            let perStep = saturatingSum(saturatingProduct(rows, saturatingSum(saturatingSum(input, hidden), 1)), hidden)
            return saturatingProduct(x[0], x[1], w[0], perStep)
        case .einsum:
            return (try? einsumEquation())?.naiveMACs ?? 0
        case .batchNormalization, .instanceNormalization, .relu, .leakyRelu, .prelu, .elu, .clip, .sigmoid,
             .hardSigmoid, .hardSwish, .tanh, .erf, .add, .sub, .mul, .div, .pow, .sqrt, .exp, .log, .neg, .abs,
             .reciprocal, .quantizeLinear, .dequantizeLinear, .equal, .less, .lessOrEqual, .greater, .greaterOrEqual,
             .not, .and, .or, .xor, .where, .range, .layerNormalization, .gelu, .cumSum:
            return elements
        case .sum, .max, .min, .mean:
            let operands = node.inputs.filter { !$0.isEmpty }.count
            return saturatingProduct(elements, Swift.max(1, operands - 1))
        case .lrn:
            return saturatingProduct(elements, node.int("size") ?? 1)
        case .softmax, .logSoftmax:
            return saturatingProduct(elements, 3)
        case .topK:
            let x = dims(0)
            guard !x.isEmpty, let a = try? axis(node.int("axis") ?? -1, rank: x.count) else { return 0 }
            let k = outputs.first?.shape.dims[a] ?? 0
            let passes = k <= 1 ? 1 : Swift.max(1, Int.bitWidth - (x[a] - 1).leadingZeroBitCount)
            return saturatingProduct(inputElements, passes)
        case .maxPool, .averagePool:
            return saturatingProduct([elements] + (node.ints("kernel_shape") ?? []))
        case .globalAveragePool, .globalMaxPool, .reduceMean, .reduceSum, .reduceMax, .argMax, .argMin, .reduceMin,
             .reduceProd, .reduceL1, .reduceL2, .reduceSumSquare, .reduceLogSumExp:
            return inputElements
        case .scatterND:
            guard (node.string("reduction") ?? "none") != "none" else { return 0 }
            return saturatingProduct(dims(2))
        case .resize, .upsample:
            let mode = node.string("mode") ?? "nearest"
            guard mode != "nearest" else { return 0 }
            let resized = zip(dims(0), outputs.first?.shape.dims ?? []).filter { $0 != $1 }.count
            let taps = mode == "cubic" ? 4 : 2
            return saturatingProduct(elements, (0..<resized).reduce(1) { acc, _ in saturatingProduct(acc, taps) })
        case .concat, .split, .slice, .gather, .reshape, .flatten, .transpose, .squeeze, .unsqueeze, .expand, .pad,
             .shape, .size, .cast, .constant, .constantOfShape, .identity, .dropout, .tile, .gatherElements:
            return 0
        }
    }
}
