import CleaveIR
import CleaveRuntime

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
    /// Gemm, MatMul and Einsum of several operands through sgemm (both
    /// sides have several rows/columns); LSTM, GRU and RNN at a batch of
    /// several sequences.
    case gemm
    /// Gemm, MatMul and Einsum with one row or one column: a matrix-vector
    /// product (sgemv), bound by reading the weights — a fully connected layer
    /// at batch 1; LSTM, GRU and RNN at batch 1, whose per-step products
    /// H·Rᵀ are matrix-vector ones.
    case gemv
    case maxPool = "max_pool"
    case averagePool = "average_pool"
    /// GlobalAveragePool: a sum per channel.
    case globalAveragePool = "global_average_pool"
    /// GlobalMaxPool, the Reduce ops, ArgMax and ArgMin: one pass over the input.
    case reduce
    /// BatchNormalization: one multiply-add per element.
    case normalization
    /// InstanceNormalization and LayerNormalization: mean and variance per
    /// channel (per row of the normalized dims), then a scale.
    case instanceNorm = "instance_norm"
    case lrn
    /// Softmax, LogSoftmax, and TopK (a sort of each slice along an axis):
    /// several passes over every row.
    case softmax
    /// Cheap element-wise maps: Relu, LeakyRelu, Clip, HardSigmoid,
    /// HardSwish, Neg, Abs, Pow with an exponent it maps without powf (x², √x),
    /// and CumSum (one addition per element, output as large as the input).
    case activation
    /// QuantizeLinear and DequantizeLinear: a conversion between float and
    /// integer per element, per tensor or per channel.
    case quantize
    /// Element-wise maps through libm: Sigmoid, Tanh, Elu, Erf, Gelu, Exp,
    /// Log, Sqrt, and any other float Pow.
    case transcendental
    /// Two or more operands with broadcasting: Add, Sub, Mul, Div, Sum, Max,
    /// Min, Mean, PRelu, and Pow of integers.
    case binary
    /// Ops that copy bytes: Concat, Split, Slice, Gather, GatherElements, ScatterND, Expand,
    /// Tile, Cast, ConstantOfShape.
    case copy
    case pad
    case transpose
    case resize
    /// Ops that only relabel bytes or make tiny tensors: Reshape, Flatten,
    /// Squeeze, Unsqueeze, Identity, Dropout, Shape, Constant.
    case reshape

    /// Kinds whose time goes to arithmetic on data in cache (sgemm packs its
    /// operands into cache-sized blocks), so a cold model slows them little;
    /// every other kind streams its operands and feels the cold (`cold_memory_ms`).
    public var isComputeBound: Bool {
        switch self {
        case .conv, .convPointwise, .convTranspose, .gemm: return true
        default: return false
        }
    }

    /// The features this kind's model is linear in: its own, and
    /// `serial_bytes` for the kinds whose loops the runtime splits by their
    /// size (the products have `serial_macs` instead; copies never split).
    public var features: [Feature] {
        switch self {
        case .conv, .convPointwise, .gemm, .gemv, .copy, .reshape: return ownFeatures
        default: return ownFeatures + [.serialBytes]
        }
    }

    private var ownFeatures: [Feature] {
        switch self {
        case .conv:
            return [.constant, .macs, .serialMacs, .inputBytes, .outputBytes, .weightBytes, .coldWeightBytes,
                    .spilledColumnBytes, .columnSegments, .packedBytes]
        case .convPointwise, .gemm, .gemv: return [.constant, .macs, .serialMacs, .inputBytes, .outputBytes, .weightBytes, .coldWeightBytes]
        case .convDepthwise: return [.constant, .macs, .inputBytes, .outputBytes, .rows, .stridedMacs, .genericMacs, .genericTapRows]
        case .maxPool, .averagePool: return [.constant, .macs, .inputBytes, .outputBytes, .rows]
        case .convTranspose, .lrn, .resize: return [.constant, .macs, .inputBytes, .outputBytes]
        case .globalAveragePool, .reduce, .normalization, .instanceNorm, .softmax, .activation, .quantize, .transcendental, .copy, .pad:
            return [.constant, .inputBytes, .outputBytes]
        case .binary, .transpose: return [.constant, .inputBytes, .outputBytes, .runs]
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
        case .gemm, .matMul, .lstm, .gru, .rnn:
            return MatrixShape(index, in: analysis)?.isVector == true ? .gemv : .gemm
        case .einsum:
            if let product = MatrixShape(index, in: analysis) { return product.isVector ? .gemv : .gemm }
            // One operand: a permuting copy, or a sum when the output is smaller.
            let sizes = [node.input(0), node.outputs.first].map { $0.flatMap { analysis.types[$0]?.shape.elementCount } }
            return sizes[0] == sizes[1] ? .transpose : .reduce
        case .maxPool: return .maxPool
        case .averagePool: return .averagePool
        case .globalAveragePool: return .globalAveragePool
        case .globalMaxPool, .reduceMean, .reduceSum, .reduceMax, .argMax, .argMin, .reduceMin, .reduceProd, .reduceL1,
             .reduceL2, .reduceSumSquare, .reduceLogSumExp:
            return .reduce
        case .batchNormalization: return .normalization
        case .instanceNormalization, .layerNormalization: return .instanceNorm
        case .lrn: return .lrn
        case .softmax, .logSoftmax, .topK: return .softmax
        case .relu, .leakyRelu, .clip, .hardSigmoid, .hardSwish, .neg, .abs, .reciprocal, .not, .cumSum: return .activation
        case .quantizeLinear, .dequantizeLinear: return .quantize
        case .sigmoid, .tanh, .elu, .erf, .gelu, .exp, .log, .sqrt: return .transcendental
        case .pow: return powerKind(node, in: analysis)
        case .add, .sub, .mul, .div, .prelu, .sum, .max, .min, .mean, .equal, .less, .lessOrEqual, .greater,
             .greaterOrEqual, .and, .or, .xor, .where:
            return .binary
        case .concat, .split, .slice, .gather, .gatherElements, .scatterND, .expand, .tile, .cast, .constantOfShape,
             .range:
            return .copy
        case .pad: return .pad
        case .transpose: return .transpose
        case .resize, .upsample: return .resize
        case .reshape, .flatten, .squeeze, .unsqueeze, .identity, .dropout, .shape, .size, .constant: return .reshape
        }
    }

    /// Pow takes one of the kernel's three loops: a float base with a known
    /// exponent it special-cases is a cheap map, any other float Pow calls
    /// powf per element, and an integer base multiplies.
    private static func powerKind(_ node: Node, in analysis: Analysis) -> OpKind {
        guard let base = node.inputs.first, analysis.types[base]?.dtype == .float else { return .binary }
        guard node.inputs.count > 1, let exponent = analysis.constants[node.inputs[1]], exponent.elementCount == 1 else {
            return .transcendental
        }
        let value: Float? = switch exponent.dtype {
        case .float: exponent.floats.first
        case .double: exponent.elements(as: Double.self).first.map(Float.init)
        default: exponent.integerValues?.first.map(Float.init)
        }
        return value.map(powerWithoutPowf) == true ? .activation : .transcendental
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
    /// `weight_bytes` in a cold context (`PredictionContext`) or when the
    /// weights alone exceed half the cache, else 0: the weights then come from
    /// DRAM on every run.
    case coldWeightBytes = "cold_weight_bytes"
    /// The node's predicted milliseconds by its kind model in a cold context
    /// when its kind is bound by memory rather than arithmetic
    /// (`OpKind.isComputeBound`), else 0: a node of a model too big for the
    /// cache finds its input partly evicted and writes its output to memory
    /// that was, so a streaming node runs a fraction slower than alone.
    case coldMemoryMilliseconds = "cold_memory_ms"
    /// The node's predicted milliseconds by its kind model when the runtime
    /// splits its work across threads in a model that is not cold, else 0:
    /// such a node reads what other cores' splits wrote and waits for the
    /// slower thread, which a one-node profile does not see. Context model only.
    case warmSplitMilliseconds = "warm_split_ms"
    /// `macs` when the device has more than one thread but the runtime runs
    /// the node's matrix products on one, each being too small to split
    /// (`productSplitsAcrossThreads`), else 0: such a node runs at the
    /// one-thread speed that a fit over mostly split products would not give it.
    case serialMacs = "serial_macs"
    /// Activation input plus output bytes when the device has more than one
    /// thread but the runtime runs the node's loop on one, being too small
    /// to split (`splitsAcrossThreads`), else 0: such a node streams its bytes
    /// at the one-thread rate that a fit over mostly split loops would not
    /// give it.
    case serialBytes = "serial_bytes"
    /// At more than one thread in a model that stays in the cache, bytes of
    /// the node's activation inputs written by a node whose work the runtime
    /// splits across threads (`splitsAcrossThreads`), × (threads − 1) / threads:
    /// the share other cores wrote, which this node reads out of their
    /// caches. (A one-node profile's input is written once and then cached on
    /// every core; in a cold model it comes from memory whoever wrote it, a
    /// cost `cold_memory_ms` has.) 0 for reshape-like ops, which relabel
    /// their input without reading it. Context model only.
    case sharedInputBytes = "shared_input_bytes"
    /// Bytes of Conv's im2col column matrix: (C/group)·kH·kW × output positions × 4.
    /// (Profiles before `spilled_column_bytes` used it.)
    case columnBytes = "column_bytes"
    /// `column_bytes` when one tile of the column matrix — what one sgemm
    /// call multiplies (`Im2colTiling`) — is larger than the L2 cache, else 0:
    /// im2col then writes it out to the last-level cache and sgemm reads it
    /// back from there, while a smaller tile stays in L2 between the two.
    case spilledColumnBytes = "spilled_column_bytes"
    /// Row segments a 2-D im2col writes, (C/group)·kH·kW × output rows × N ×
    /// group (0 for other Convs): each is a copy of one input row plus the
    /// zeros of its padding, so a Conv of small planes pays per segment more
    /// than per byte.
    case columnSegments = "column_segments"
    /// Bytes of weights sgemm packs over all the calls of a Conv: the runtime
    /// builds an im2col column matrix in tiles of output rows that fit a 2 MiB
    /// budget, or one tile per thread (`Im2colTiling`), and sgemm packs the
    /// weights again for every tile, so a large Conv re-reads its weights once per tile.
    case packedBytes = "packed_bytes"
    /// MACs of a windowed op with a stride above 1, whose inputs are not
    /// contiguous (0 otherwise).
    case stridedMacs = "strided_macs"
    /// MACs of a depthwise Conv whose kernel is not 3×3: the runtime applies
    /// 3×3 kernels in one pass per output row and others tap by tap (0 otherwise).
    case genericMacs = "generic_macs"
    /// `rows` × kernel taps of a depthwise Conv whose kernel is not 3×3, else
    /// 0: the tap-by-tap path runs one loop over the output row per tap, which
    /// on a narrow plane costs more than its MACs.
    case genericTapRows = "generic_tap_rows"
    /// Output rows of a windowed op: N·C·(output height) for 2-D, the loop
    /// level whose set-up (clipping the window at the borders) a direct
    /// depthwise or pooling loop pays per row; with few columns it dominates.
    case rows
    /// Contiguous runs an op walks: for broadcasting ops, output elements ÷
    /// the length of the innermost stretch over which no operand changes
    /// broadcast pattern; for Transpose, elements ÷ the length of the trailing
    /// dims it leaves in place.
    case runs
}

/// What a node's latency depends on beyond the node itself: whether the
/// model's data stays in the last-level cache from one run to the next.
///
/// A model whose weights plus the most activations alive at once (the
/// session frees each tensor after its last reader, and the heap hands that
/// memory to the next) take more than half of the cache is *cold*: by the
/// time a node runs again its weights and the memory its output lands in were
/// evicted, so both stream from DRAM. Its inputs are warm either way — the
/// node before just wrote them. Half, because freed memory is reused out of
/// order and other processes share the cache.
public struct PredictionContext: Sendable, Equatable {
    public var cold: Bool
    /// The device's last-level cache.
    public var cacheBytes: Int
    /// One core's L2 cache (0 if unknown).
    public var l2CacheBytes: Int
    /// Nodes the runtime runs without a kernel of their own (`Fusion`): they cost nothing.
    public var kernelless: Set<Int>
    /// Threads the session runs with.
    public var threads: Int
    /// Tensors written by nodes whose work splits across the threads (see `Feature.sharedInputBytes`).
    public var splitOutputs: Set<String>

    public init(cold: Bool, cacheBytes: Int, l2CacheBytes: Int = 0, kernelless: Set<Int> = [], threads: Int = 1,
                splitOutputs: Set<String> = []) {
        self.cold = cold
        self.cacheBytes = cacheBytes
        self.l2CacheBytes = l2CacheBytes
        self.kernelless = kernelless
        self.threads = threads
        self.splitOutputs = splitOutputs
    }

    /// The context of every node of a model run with `threads` threads on a
    /// device whose last-level and L2 caches hold `cacheBytes` and `l2CacheBytes`.
    public init(analysis: Analysis, cacheBytes: Int, l2CacheBytes: Int = 0, threads: Int = 1) {
        let weights = analysis.graph.constants.values.reduce(0) { $0 + $1.byteCount }
        let cold = weights + PredictionContext.peakLiveBytes(analysis) > cacheBytes / 2
        self.init(cold: cold, cacheBytes: cacheBytes, l2CacheBytes: l2CacheBytes, kernelless: Fusion.kernelless(in: analysis.graph),
                  threads: threads, splitOutputs: cold ? [] : PredictionContext.splitOutputs(analysis, threads: threads))
    }

    /// Outputs of the nodes whose work the runtime splits across `threads`
    /// (none at one thread).
    static func splitOutputs(_ analysis: Analysis, threads: Int) -> Set<String> {
        guard threads > 1 else { return [] }
        var names: Set<String> = []
        for (index, node) in analysis.graph.nodes.enumerated() where splitsAcrossThreads(index, in: analysis, threads: threads) {
            names.formUnion(node.outputs.filter { !$0.isEmpty })
        }
        // A Relu fused into its Conv is written by the Conv's threads.
        for (conv, relu) in Fusion.convRelus(in: analysis.graph)
        where analysis.graph.nodes[conv].outputs.contains(where: names.contains) {
            names.formUnion(analysis.graph.nodes[relu].outputs)
        }
        return names
    }

    /// The most activation bytes alive at once when every tensor lives from
    /// its producer to its last reader, as in a session.
    static func peakLiveBytes(_ analysis: Analysis) -> Int {
        let graph = analysis.graph
        var lastReader: [String: Int] = [:]
        for (index, node) in graph.nodes.enumerated() {
            for name in node.inputs where !name.isEmpty { lastReader[name] = index }
        }
        let outputs = Set(graph.outputs.map(\.name))
        var alive: [String: Int] = [:]
        for input in graph.runtimeInputs { alive[input.name] = analysis.types[input.name]?.byteCount ?? 0 }
        var live = alive.values.reduce(0, +), peak = live
        for (index, node) in graph.nodes.enumerated() {
            for name in node.outputs where !name.isEmpty && analysis.constants[name] == nil {
                let bytes = analysis.types[name]?.byteCount ?? 0
                alive[name] = bytes
                live += bytes
            }
            peak = Swift.max(peak, live)
            for name in Set(node.inputs) where lastReader[name] == index && !outputs.contains(name) {
                live -= alive.removeValue(forKey: name) ?? 0
            }
        }
        return peak
    }
}

/// Values of `features` for node `index` of `analysis.graph`.
func featureValues(_ index: Int, features: [Feature], in analysis: Analysis, context: PredictionContext) -> [Double] {
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
        case .coldWeightBytes: return context.cold || weightBytes > context.cacheBytes / 2 ? Double(weightBytes) : 0
        case .coldMemoryMilliseconds, .warmSplitMilliseconds: return 0  // need the kind model: DeviceProfile.ContextModel.values
        case .serialBytes:
            guard context.threads > 1, !splitsAcrossThreads(index, in: analysis, threads: context.threads) else { return 0 }
            return Double(inputBytes + cost.bytesWritten)
        case .serialMacs:
            guard context.threads > 1, productShape(index, in: analysis, threads: context.threads) != nil else { return 0 }
            return splitsAcrossThreads(index, in: analysis, threads: context.threads) ? 0 : Double(cost.macs)
        case .sharedInputBytes:
            // Reshape-like ops relabel their input without reading it.
            guard OpKind.of(index, in: analysis) != .reshape else { return 0 }
            let shared = node.inputs.filter { context.splitOutputs.contains($0) }
                .reduce(0) { $0 + (analysis.types[$1]?.byteCount ?? 0) }
            return Double(shared) * Double(context.threads - 1) / Double(context.threads)
        case .columnBytes:
            guard let conv = ConvShape(index, in: analysis) else { return 0 }
            return Double(conv.columnBytes)
        case .spilledColumnBytes:
            guard let conv = ConvShape(index, in: analysis, threads: context.threads),
                  conv.tileColumnBytes > context.l2CacheBytes else { return 0 }
            return Double(conv.columnBytes)
        case .columnSegments:
            guard let conv = ConvShape(index, in: analysis) else { return 0 }
            return Double(conv.columnSegments)
        case .packedBytes:
            guard let conv = ConvShape(index, in: analysis, threads: context.threads) else { return 0 }
            return Double(conv.calls / conv.group * weightBytes)
        case .stridedMacs:
            return (node.ints("strides") ?? []).contains { $0 > 1 } ? Double(cost.macs) : 0
        case .genericMacs:
            return depthwiseTaps(node, in: analysis) == nil ? 0 : Double(cost.macs)
        case .genericTapRows:
            return Double(depthwiseTaps(node, in: analysis) ?? 0) * outputRows(node, in: analysis)
        case .rows:
            return outputRows(node, in: analysis)
        case .runs:
            return Double(node.op == .transpose ? transposeRuns(index, in: analysis) : broadcastRuns(index, in: analysis))
        }
    }
}

/// Kernel taps of a depthwise Conv that the runtime applies tap by tap (a
/// kernel other than 3×3), nil otherwise.
private func depthwiseTaps(_ node: Node, in analysis: Analysis) -> Int? {
    guard let w = node.input(1).flatMap({ analysis.types[$0] }), w.shape.rank == 4,
          !(w.shape[2] == 3 && w.shape[3] == 3) else { return nil }
    return w.shape[2] * w.shape[3]
}

/// Output rows of a windowed op, N·C·(output height) for 2-D: all output dims but the last.
private func outputRows(_ node: Node, in analysis: Analysis) -> Double {
    guard let output = node.outputs.first.flatMap({ analysis.types[$0] }), output.shape.rank >= 3 else { return 0 }
    return Double(output.shape.dims.dropLast().reduce(1, *))
}

/// The shape facts of a Conv node that decide its method and its column matrix.
struct ConvShape {
    var group: Int
    var groupInputChannels: Int
    var isPointwise: Bool
    var spatialRank: Int
    var columnBytes: Int
    /// Input-row copies of a 2-D im2col (0 for other ranks and for pointwise Convs).
    var columnSegments: Int
    /// How the runtime cuts an im2col Conv at the thread count it was built for (nil for a pointwise Conv).
    var tiling: Im2colTiling?
    /// Separate sgemm calls: per group, batch element and im2col tile.
    var calls: Int
    /// Bytes of the largest tile's column matrix, what one sgemm call reads
    /// (0 for a pointwise Conv, which has none).
    var tileColumnBytes: Int

    init?(_ index: Int, in analysis: Analysis, threads: Int = 1) {
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
        let columnRows = groupInputChannels * kernel.reduce(1, *)
        columnBytes = columnRows * positions * y.shape[0] * group * 4
        columnSegments = spatialRank == 2 && !isPointwise ? columnRows * y.shape[2] * y.shape[0] * group : 0
        if isPointwise {
            tiling = nil
            calls = y.shape[0] * group
            tileColumnBytes = 0
        } else {
            // Tiles keep whole output rows for 1-D and 2-D, as the Conv kernel builds them.
            let tiling = Im2colTiling(positions: positions, rowLength: spatialRank <= 2 ? y.shape[y.shape.rank - 1] : 1,
                                      columnRows: columnRows, groupOutputChannels: y.shape[1] / group,
                                      planes: y.shape[0] * group, threads: threads)
            self.tiling = tiling
            calls = tiling.perPlane * y.shape[0] * group
            tileColumnBytes = columnRows * Swift.min(positions, tiling.width) * 4
        }
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

/// One matrix product C[m×n] (inner dim k) as the runtime issues it for a
/// Gemm, MatMul or Einsum node: MatMul stacks the A matrices into one
/// product when B has no batch dims, and otherwise multiplies matrix by
/// matrix; Einsum's first product (of its first two operands) stands for
/// its node (nil for an Einsum of one operand, which multiplies nothing).
/// For LSTM, GRU and RNN it is the product repeated every step, H_{t-1}·Rᵀ
/// ([batch × gates·hidden], inner dim hidden), which outnumbers the one
/// input projection per direction.
struct MatrixShape {
    var m: Int, n: Int, k: Int

    /// One row of A or one column of B per product: the runtime calls sgemv.
    var isVector: Bool { m == 1 || n == 1 }

    init?(_ index: Int, in analysis: Analysis) {
        let node = analysis.graph.nodes[index]
        if node.op == .lstm || node.op == .gru || node.op == .rnn {
            guard let x = node.input(0).flatMap({ analysis.types[$0] }), x.shape.rank == 3,
                  let r = node.input(2).flatMap({ analysis.types[$0] }), r.shape.rank == 3 else { return nil }
            m = (node.int("layout") ?? 0) == 1 ? x.shape[0] : x.shape[1]
            n = r.shape[1]
            k = r.shape[2]
            return
        }
        if node.op == .einsum {
            let shapes = node.inputs.compactMap { analysis.types[$0]?.shape.dims }
            guard let text = node.string("equation"), shapes.count == node.inputs.count,
                  let product = (try? EinsumEquation(text, shapes: shapes))?.firstProduct else { return nil }
            (m, n, k) = (product.m, product.n, product.k)
            return
        }
        guard let y = node.outputs.first.flatMap({ analysis.types[$0] }),
              let b = node.input(1).flatMap({ analysis.types[$0] }) else { return nil }
        if node.op == .gemm {
            guard y.shape.rank == 2 else { return nil }
            m = y.shape[0]
            n = y.shape[1]
        } else {
            n = b.shape.rank == 1 ? 1 : b.shape.dims[b.shape.rank - 1]
            if b.shape.rank <= 2 {
                m = n == 0 ? 0 : y.shape.elementCount / n
            } else {
                guard let a = node.input(0).flatMap({ analysis.types[$0] }) else { return nil }
                m = a.shape.rank == 1 ? 1 : a.shape.dims[a.shape.rank - 2]
            }
        }
        let products = m * n == 0 ? 0 : y.shape.elementCount / (m * n)
        k = products == 0 ? 0 : analysis.costs[index].macs / products / (m * n)
    }
}

/// One sgemm call of a Conv (per group, batch element and im2col tile) or of
/// a Gemm/MatMul, as the runtime issues it at `threads` threads: C[m×n] with inner dim k.
func productShape(_ index: Int, in analysis: Analysis, threads: Int) -> (m: Int, n: Int, k: Int)? {
    let node = analysis.graph.nodes[index]
    guard node.op == .conv else { return MatrixShape(index, in: analysis).map { ($0.m, $0.n, $0.k) } }
    guard let y = node.outputs.first.flatMap({ analysis.types[$0] }), y.shape.rank >= 3,
          let conv = ConvShape(index, in: analysis, threads: threads), conv.calls > 0 else { return nil }
    let m = y.shape[1] / conv.group
    let n = conv.tiling.map { Swift.min($0.width, y.shape.dims.dropFirst(2).reduce(1, *)) }
        ?? y.shape.dims.dropFirst(2).reduce(1, *)
    return (m, n, m * n == 0 ? 0 : analysis.costs[index].macs / conv.calls / (m * n))
}

/// Whether the runtime spreads node `index`'s work over `threads` threads:
/// an im2col Conv by its tiling, and its tiles' or any other Conv, Gemm or
/// MatMul's matrix products by their own rule; the parallel loop of any
/// other kind by its total work, which the output's elements (times the
/// window, for a pooling or depthwise Conv: its MACs) stand for. Copies
/// (Concat and Split copy inline) and reshapes do no parallel work.
func splitsAcrossThreads(_ index: Int, in analysis: Analysis, threads: Int) -> Bool {
    guard threads > 1, let kind = OpKind.of(index, in: analysis) else { return false }
    switch kind {
    case .conv, .convPointwise, .gemm, .gemv:
        if kind == .conv, ConvShape(index, in: analysis, threads: threads)?.tiling?.splits == true { return true }
        guard let product = productShape(index, in: analysis, threads: threads) else { return false }
        return productSplitsAcrossThreads(m: product.m, n: product.n, k: product.k, threads: threads)
    case .copy, .reshape:
        return false
    default:
        let node = analysis.graph.nodes[index]
        let elements = node.outputs.first.flatMap { analysis.types[$0] }?.shape.elementCount ?? 0
        return loopSplitsAcrossThreads(work: Swift.max(elements, analysis.costs[index].macs), threads: threads)
    }
}

/// Runs of a Transpose: elements ÷ the product of the trailing input dims
/// that keep their place (each such stretch is one contiguous copy).
func transposeRuns(_ index: Int, in analysis: Analysis) -> Int {
    let node = analysis.graph.nodes[index]
    guard let input = node.input(0).flatMap({ analysis.types[$0] }) else { return 0 }
    let rank = input.shape.rank
    let perm = node.ints("perm") ?? Array((0..<rank).reversed())
    var run = 1
    var axis = rank - 1
    while axis >= 0, axis < perm.count, perm[axis] == axis {
        run *= input.shape[axis]
        axis -= 1
    }
    return run == 0 ? 0 : input.shape.elementCount / run
}
