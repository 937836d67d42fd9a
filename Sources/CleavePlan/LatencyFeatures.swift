import CleaveIR

/// The families of kernels whose latency a device profile models separately:
/// ops in one kind run the same code path, so one linear model over shape
/// features predicts them all. Raw values are the keys of `schemas/profile.schema.json`.
public enum OpKind: String, CaseIterable, Sendable {
    /// Conv through im2col + sgemm (any kernel other than the two below).
    case conv
    /// 1×1 Conv, stride 1, no padding: one sgemm per group, no column matrix.
    case convPointwise = "conv_pointwise"
    /// Conv with one input channel per group: a direct loop.
    case convDepthwise = "conv_depthwise"
    case convTranspose = "conv_transpose"
    /// Gemm and MatMul.
    case gemm
    case maxPool = "max_pool"
    case averagePool = "average_pool"
    /// Global pools and reductions: one pass over the input.
    case reduce
    /// BatchNormalization and InstanceNormalization.
    case normalization
    case lrn
    case softmax
    /// Cheap element-wise maps: Relu, LeakyRelu, PRelu, Clip, HardSigmoid,
    /// HardSwish, Neg, Abs, Quantize/DequantizeLinear.
    case activation
    /// Element-wise maps through libm: Sigmoid, Tanh, Elu, Erf, Exp, Log, Sqrt.
    case transcendental
    /// Two or more operands with broadcasting: Add, Sub, Mul, Div, Pow, Sum, Max, Min, Mean.
    case binary
    /// Ops that copy bytes: Concat, Split, Slice, Pad, Gather, Expand, Cast, ConstantOfShape.
    case copy
    case transpose
    case resize
    /// Ops that only relabel bytes or make tiny tensors: Reshape, Flatten,
    /// Squeeze, Unsqueeze, Identity, Dropout, Shape, Constant.
    case reshape

    /// The features this kind's model is linear in.
    public var features: [Feature] {
        switch self {
        case .conv: return [.constant, .macs, .inputBytes, .outputBytes, .weightBytes, .columnBytes]
        case .convPointwise, .gemm: return [.constant, .macs, .inputBytes, .outputBytes, .weightBytes]
        case .convDepthwise, .convTranspose, .maxPool, .averagePool, .lrn, .resize:
            return [.constant, .macs, .inputBytes, .outputBytes]
        case .reduce, .normalization, .softmax, .activation, .transcendental, .copy, .transpose:
            return [.constant, .inputBytes, .outputBytes]
        case .binary: return [.constant, .inputBytes, .outputBytes, .runs]
        case .reshape: return [.constant]
        }
    }

    /// The kind of node `index` of `analysis.graph`; nil for ops cleave does not run.
    public static func of(_ index: Int, in analysis: Analysis) -> OpKind? {
        let node = analysis.graph.nodes[index]
        guard let op = node.op else { return nil }
        switch op {
        case .conv:
            // The same order of tests as the Conv kernel's choice of method.
            guard let geometry = ConvShape(index, in: analysis) else { return .conv }
            if geometry.isPointwise { return .convPointwise }
            if geometry.groupInputChannels == 1 && geometry.group > 1 && geometry.spatialRank == 2 { return .convDepthwise }
            return .conv
        case .convTranspose: return .convTranspose
        case .gemm, .matMul: return .gemm
        case .maxPool: return .maxPool
        case .averagePool: return .averagePool
        case .globalAveragePool, .globalMaxPool, .reduceMean, .reduceSum, .reduceMax: return .reduce
        case .batchNormalization, .instanceNormalization: return .normalization
        case .lrn: return .lrn
        case .softmax, .logSoftmax: return .softmax
        case .relu, .leakyRelu, .prelu, .clip, .hardSigmoid, .hardSwish, .neg, .abs, .quantizeLinear, .dequantizeLinear:
            return .activation
        case .sigmoid, .tanh, .elu, .erf, .exp, .log, .sqrt: return .transcendental
        case .add, .sub, .mul, .div, .pow, .sum, .max, .min, .mean: return .binary
        case .concat, .split, .slice, .pad, .gather, .expand, .cast, .constantOfShape: return .copy
        case .transpose: return .transpose
        case .resize, .upsample: return .resize
        case .reshape, .flatten, .squeeze, .unsqueeze, .identity, .dropout, .shape, .constant: return .reshape
        }
    }
}

/// A quantity of a node that its latency is modelled as linear in.
public enum Feature: String, CaseIterable, Sendable {
    /// 1: per-node overhead (dispatch, output allocation, thread wake-up).
    case constant = "const"
    /// Multiply-accumulates, as `Cost.macs` counts them.
    case macs
    /// Bytes of the inputs that are activations (computed at run time).
    case inputBytes = "input_bytes"
    /// Bytes of the outputs.
    case outputBytes = "output_bytes"
    /// Bytes of the inputs that are constants (weights, biases).
    case weightBytes = "weight_bytes"
    /// Bytes of Conv's im2col column matrix: (C/group)·kH·kW × output positions × 4.
    case columnBytes = "column_bytes"
    /// Contiguous runs a broadcasting op walks: output elements ÷ the length
    /// of the innermost stretch over which no operand changes broadcast pattern.
    case runs
}

/// Values of `features` for node `index` of `analysis.graph`.
func featureValues(_ index: Int, features: [Feature], in analysis: Analysis) -> [Double] {
    let node = analysis.graph.nodes[index]
    let cost = analysis.costs[index]
    var inputBytes = 0, weightBytes = 0
    for name in node.inputs where !name.isEmpty {
        let bytes = analysis.types[name]?.byteCount ?? 0
        if analysis.constants[name] != nil { weightBytes += bytes } else { inputBytes += bytes }
    }
    return features.map { feature in
        switch feature {
        case .constant: return 1
        case .macs: return Double(cost.macs)
        case .inputBytes: return Double(inputBytes)
        case .outputBytes: return Double(cost.bytesWritten)
        case .weightBytes: return Double(weightBytes)
        case .columnBytes:
            guard let conv = ConvShape(index, in: analysis) else { return 0 }
            return Double(conv.columnBytes)
        case .runs: return Double(broadcastRuns(index, in: analysis))
        }
    }
}

/// The shape facts of a Conv node that decide its method and its column matrix.
struct ConvShape {
    var group: Int
    var groupInputChannels: Int
    var isPointwise: Bool
    var spatialRank: Int
    var columnBytes: Int

    init?(_ index: Int, in analysis: Analysis) {
        let node = analysis.graph.nodes[index]
        guard let x = node.input(0).flatMap({ analysis.types[$0] }), let w = node.input(1).flatMap({ analysis.types[$0] }),
              let y = node.outputs.first.flatMap({ analysis.types[$0] }),
              x.shape.rank >= 3, w.shape.rank == x.shape.rank, y.shape.rank == x.shape.rank else { return nil }
        group = Swift.max(1, node.int("group") ?? 1)
        groupInputChannels = w.shape[1]
        let kernel = Array(w.shape.dims.dropFirst(2))
        let strides = node.ints("strides") ?? []
        let pads = node.ints("pads") ?? []
        // A 1×1 kernel at stride 1 needs no padding under any auto_pad, and dilation does not apply to it.
        isPointwise = kernel.allSatisfy { $0 == 1 } && strides.allSatisfy { $0 == 1 } && pads.allSatisfy { $0 == 0 }
        spatialRank = kernel.count
        let positions = y.shape.dims.dropFirst(2).reduce(1, *)
        columnBytes = groupInputChannels * kernel.reduce(1, *) * positions * y.shape[0] * group * 4
    }
}

/// Runs of a broadcasting node: output elements ÷ the innermost stretch of
/// output dims along which every operand is either fully present or fully
/// broadcast (the loop the kernel vectorises).
func broadcastRuns(_ index: Int, in analysis: Analysis) -> Int {
    let node = analysis.graph.nodes[index]
    guard let output = node.outputs.first.flatMap({ analysis.types[$0] }) else { return 0 }
    let dims = output.shape.dims
    let operands = node.inputs.filter { !$0.isEmpty }.compactMap { analysis.types[$0]?.shape.dims }
    // present[axis] per operand: true where the operand has that dim (not broadcast).
    func present(_ operand: [Int], _ axis: Int) -> Bool {
        let i = axis - (dims.count - operand.count)
        return i >= 0 && operand[i] != 1
    }
    var run = 1
    var pattern: [Bool]?
    for axis in dims.indices.reversed() where dims[axis] != 1 {
        let current = operands.map { present($0, axis) }
        if let pattern, pattern != current { break }
        pattern = current
        run *= dims[axis]
    }
    return run == 0 ? 0 : output.shape.elementCount / run
}
