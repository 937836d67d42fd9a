/// Shape and dtype inference: one exhaustive switch over `Op`.
///
/// Attribute and input forms follow the ONNX operator versions of opsets
/// 7–21 (and later where the form did not change): where a parameter moved
/// from an attribute to an input, whichever the node carries is used; where
/// the meaning of an input changed (Resize 10 → 11), the opset decides.
extension NodeContext {
    /// The type of every output the op defines, in order; a node may list
    /// fewer (trailing optional outputs omitted), never more.
    /// - Throws: `CleaveError.badInput` naming the node when inputs or
    ///   attributes do not fit the op, or a shape depends on a value known
    ///   only at run time.
    func inferOutputTypes() throws -> [TensorType] {
        let types: [TensorType]
        switch op {
        case .conv: types = [try convOutput()]
        case .convTranspose: types = [try convTransposeOutput()]
        case .gemm: types = [try gemmOutput()]
        case .matMul: types = [try matMulOutput()]
        case .einsum: types = [try einsumOutput()]
        case .batchNormalization: types = try batchNormalizationOutputs()
        case .instanceNormalization:
            let x = try type(0)
            try checkChannelVector(1, "scale", of: x)
            try checkChannelVector(2, "B", of: x)
            types = [x]
        case .layerNormalization: types = try layerNormalizationOutputs()
        case .lrn:
            let x = try type(0)
            guard let size = node.int("size"), size > 0 else { throw fail("attribute 'size' must be a positive integer") }
            guard x.shape.rank >= 3 else { throw fail("input \(x.shape) must have rank 3 or more") }
            types = [x]
        case .relu, .leakyRelu, .elu, .sigmoid, .hardSigmoid, .hardSwish, .tanh, .erf, .sqrt, .exp, .log, .neg,
             .abs, .reciprocal, .clip, .gelu:
            types = [try type(0)]
        case .prelu:
            let x = try type(0)
            let slope = try shape(1)
            guard try broadcastShapes(x.shape, slope) == x.shape else {
                throw fail("slope \(slope) does not broadcast to input \(x.shape)")
            }
            types = [x]
        case .softmax, .logSoftmax:
            let x = try type(0)
            // Before opset 13 the input is coerced to 2-D at `axis` (default 1); from 13 on `axis` (default -1) is the reduced one.
            let fallback = opset < 13 ? 1 : -1
            _ = try axis(node.int("axis") ?? fallback, rank: x.shape.rank, inclusive: opset < 13)
            types = [x]
        case .topK:
            let x = try type(0)
            var dims = x.shape.dims
            let a = try axis(node.int("axis") ?? -1, rank: x.shape.rank)
            dims[a] = try topKCount(dim: dims[a])
            types = [TensorType(x.dtype, Shape(dims)), TensorType(.int64, Shape(dims))]
        case .maxPool:
            let y = try poolOutput()
            types = [y, TensorType(.int64, y.shape)]
        case .averagePool: types = [try poolOutput()]
        case .globalAveragePool, .globalMaxPool:
            let x = try type(0)
            guard x.shape.rank >= 3 else { throw fail("input \(x.shape) must be N×C×spatial") }
            types = [TensorType(x.dtype, Shape(Array(x.shape.dims[0..<2]) + Array(repeating: 1, count: x.shape.rank - 2)))]
        case .add, .sub, .mul, .div, .pow:
            let a = try type(0)
            types = [TensorType(a.dtype, try broadcastShapes(a.shape, try shape(1)))]
        case .sum, .max, .min, .mean:
            let first = try type(0)
            var shape = first.shape
            for i in 1..<Swift.max(1, node.inputs.count) { shape = try broadcastShapes(shape, try self.shape(i)) }
            types = [TensorType(first.dtype, shape)]
        case .reduceMean, .reduceSum, .reduceMax, .reduceMin, .reduceProd, .reduceL1, .reduceL2, .reduceSumSquare,
             .reduceLogSumExp:
            types = [try reduceOutput()]
        case .argMax, .argMin:
            let x = try type(0)
            let a = try axis(node.int("axis") ?? 0, rank: x.shape.rank)
            var dims = x.shape.dims
            if (node.int("keepdims") ?? 1) != 0 { dims[a] = 1 } else { dims.remove(at: a) }
            types = [TensorType(.int64, Shape(dims))]
        case .cumSum:
            let x = try type(0)
            guard has(1) else { throw fail("input 1 (axis) is required") }
            // The axis may be computed at run time: only the kernel can check it then.
            if inputValues[1] != nil, let given = try integers(1, "axis") {
                guard given.count == 1, try shape(1).rank <= 1 else { throw fail("axis \(given) must be one integer") }
                _ = try axis(given[0], rank: x.shape.rank)
            }
            types = [x]
        case .equal, .less, .lessOrEqual, .greater, .greaterOrEqual:
            let a = try type(0), b = try type(1)
            guard a.dtype == b.dtype else { throw fail("operands have different dtypes (\(a.dtype.name) and \(b.dtype.name))") }
            types = [TensorType(.bool, try broadcastShapes(a.shape, b.shape))]
        case .and, .or, .xor:
            let a = try boolType(0), b = try boolType(1)
            types = [TensorType(.bool, try broadcastShapes(a.shape, b.shape))]
        case .not: types = [try boolType(0)]
        case .where:
            let condition = try boolType(0)
            let x = try type(1), y = try type(2)
            guard x.dtype == y.dtype else { throw fail("X and Y have different dtypes (\(x.dtype.name) and \(y.dtype.name))") }
            types = [TensorType(x.dtype, try broadcastShapes(try broadcastShapes(condition.shape, x.shape), y.shape))]
        case .concat: types = [try concatOutput()]
        case .split: types = try splitOutputs()
        case .slice:
            let x = try type(0)
            var dims = x.shape.dims
            for s in try sliceAxes() { dims[s.axis] = s.count }
            types = [TensorType(x.dtype, Shape(dims))]
        case .gather:
            let data = try type(0)
            let indices = try shape(1)
            let a = try axis(node.int("axis") ?? 0, rank: data.shape.rank)
            let dims = Array(data.shape.dims[..<a]) + indices.dims + Array(data.shape.dims[(a + 1)...])
            types = [TensorType(data.dtype, try checkedShape(dims))]
        case .gatherElements:
            let data = try type(0)
            let indices = try type(1)
            let a = try axis(node.int("axis") ?? 0, rank: data.shape.rank)
            try checkIndexType(indices, "indices")
            guard indices.shape.rank == data.shape.rank,
                  (0..<data.shape.rank).allSatisfy({ $0 == a || indices.shape[$0] <= data.shape[$0] }) else {
                throw fail("indices \(indices.shape) must have the rank of data \(data.shape) and no larger dim except on axis \(a)")
            }
            types = [TensorType(data.dtype, indices.shape)]
        case .scatterND:
            let data = try type(0)
            let indices = try type(1)
            let updates = try type(2)
            try checkIndexType(indices, "indices")
            guard let k = indices.shape.dims.last, k <= data.shape.rank else {
                throw fail("indices \(indices.shape) must have rank ≥ 1 and a last dim of at most data's rank \(data.shape.rank)")
            }
            let expected = Shape(Array(indices.shape.dims.dropLast()) + Array(data.shape.dims[k...]))
            guard updates.shape == expected, updates.dtype == data.dtype else {
                throw fail("updates \(updates) must be \(data.dtype.name)\(expected) for data \(data.shape) and indices \(indices.shape)")
            }
            types = [data]
        case .reshape: types = [TensorType(try type(0).dtype, try reshapeOutput())]
        case .flatten:
            let x = try type(0)
            let a = try axis(node.int("axis") ?? 1, rank: x.shape.rank, inclusive: true)
            let outer = x.shape.dims[..<a].reduce(1, *)
            let inner = x.shape.dims[a...].reduce(1, *)
            types = [TensorType(x.dtype, Shape([outer, inner]))]
        case .transpose:
            let x = try type(0)
            let perm = try permutation(rank: x.shape.rank)
            types = [TensorType(x.dtype, Shape(perm.map { x.shape[$0] }))]
        case .squeeze: types = [try squeezeOutput()]
        case .unsqueeze: types = [try unsqueezeOutput()]
        case .expand:
            let x = try type(0)
            guard let target = try integers(1, "shape") else { throw fail("input 1 (shape) is required") }
            types = [TensorType(x.dtype, try checkedShape(try broadcastShapes(x.shape, try checkedShape(target)).dims))]
        case .tile: types = [TensorType(try type(0).dtype, try checkedShape(try tileLayout().output))]
        case .pad: types = [try padOutput()]
        case .resize: types = [try resizeOutput()]
        case .upsample: types = [try upsampleOutput()]
        case .shape:
            let range = try shapeRange(rank: try shape(0).rank)
            types = [TensorType(.int64, Shape([range.count]))]
        case .cast:
            let x = try type(0)
            guard let code = node.int("to") else { throw fail("attribute 'to' is required") }
            types = [TensorType(try dtype(code, "to"), x.shape)]
        case .constant:
            guard let value = node.constantValue else {
                throw fail("has no tensor, float or int value (sparse_value and string values are not supported)")
            }
            types = [value.type]
        case .range: types = [try rangeOutput().type]
        case .size:
            _ = try type(0)
            types = [TensorType(.int64, [])]
        case .constantOfShape:
            guard let dims = try integers(0, "shape") else { throw fail("input 0 (shape) is required") }
            guard try shape(0).rank == 1 else { throw fail("input 0 (shape) must be 1-D, got \(try shape(0))") }
            let dtype = try constantOfShapeValue()?.dtype ?? .float
            types = [TensorType(dtype, try checkedShape(dims))]
        case .identity:
            types = [try type(0)]
        case .dropout:
            let x = try type(0)
            // The mask became bool in opset 10; before that it had the input's type.
            types = [x, TensorType(opset >= 10 ? .bool : x.dtype, x.shape)]
        case .quantizeLinear: types = [try quantizeOutput()]
        case .dequantizeLinear:
            let x = try type(0)
            let scale = try type(1)
            try checkQuantizationParameters(x.shape, scale: scale.shape)
            let requested = node.int("output_dtype") ?? 0
            types = [TensorType(requested != 0 ? try dtype(requested, "output_dtype") : scale.dtype, x.shape)]
        case .lstm: types = try recurrentOutputs(.lstm)
        case .gru: types = try recurrentOutputs(.gru)
        case .rnn: types = try recurrentOutputs(.rnn)
        }
        guard node.outputs.count <= types.count else {
            throw fail("has \(node.outputs.count) outputs, \(op.rawValue) defines at most \(types.count)")
        }
        return types
    }

    // MARK: Helpers shared by several ops

    /// `broadcast(a, b)` with the node named in the error and the result's size checked.
    func broadcastShapes(_ a: Shape, _ b: Shape) throws -> Shape {
        do {
            return try checkedShape(broadcast(a, b).dims)
        } catch let error as CleaveError {
            throw fail(error.message)
        }
    }

    func dtype(_ code: Int, _ what: String) throws -> DType {
        guard let raw = Int32(exactly: code), let dtype = DType(rawValue: raw) else {
            throw fail("attribute '\(what)' = \(code) is not a known data type")
        }
        return dtype
    }

    /// Checks that optional input `i` is a 1-D vector of x's channel count.
    func checkChannelVector(_ i: Int, _ what: String, of x: TensorType) throws {
        guard has(i) else { return }
        guard x.shape.rank >= 2 else { throw fail("input \(x.shape) has no channel axis") }
        let s = try shape(i)
        guard s == Shape([x.shape[1]]) else {
            throw fail("\(what) has shape \(s), expected [\(x.shape[1])] (one per channel)")
        }
    }

    /// Throws unless an index input is int64 or int32.
    func checkIndexType(_ type: TensorType, _ what: String) throws {
        guard type.dtype == .int64 || type.dtype == .int32 else {
            throw fail("\(what) must be int64 or int32, got \(type.dtype.name)")
        }
    }

    /// TopK's k: the `k` attribute before opset 10, input 1 (one value) from
    /// 10, which must be known at analysis time; at most the axis's `dim`.
    func topKCount(dim: Int) throws -> Int {
        let k: Int
        if opset < 10 {
            guard let attribute = node.int("k") else { throw fail("attribute 'k' is required") }
            k = attribute
        } else {
            guard let values = try integers(1, "K") else { throw fail("input 1 (K) is required") }
            guard values.count == 1, try shape(1).rank <= 1 else { throw fail("K \(values) must be one integer") }
            k = values[0]
        }
        guard k >= 0, k <= dim else { throw fail("k \(k) is out of range for the axis's \(dim) elements") }
        return k
    }

    /// The elements of a Transpose `perm`, checked to be a permutation.
    func permutation(rank: Int) throws -> [Int] {
        guard let perm = node.ints("perm") else { return Array((0..<rank).reversed()) }
        guard perm.count == rank, Set(perm) == Set(0..<rank) else {
            throw fail("perm \(perm) is not a permutation of 0..<\(rank)")
        }
        return perm
    }

    /// The axes a Reduce*, Squeeze or Unsqueeze node names: the `axes`
    /// attribute in older opsets, input 1 in newer ones; nil if neither is given.
    func axesAttributeOrInput() throws -> [Int]? {
        if let axes = node.ints("axes") { return axes }
        return try integers(1, "axes")
    }

    /// Shape's `start`/`end` (opset 15), clamped to the rank as the spec says.
    func shapeRange(rank: Int) throws -> Range<Int> {
        func clamp(_ v: Int) -> Int { Swift.min(Swift.max(v < 0 ? v + rank : v, 0), rank) }
        let start = clamp(node.int("start") ?? 0)
        let end = clamp(node.int("end") ?? rank)
        return start..<Swift.max(start, end)
    }

    /// ConstantOfShape's `value` attribute: a one-element tensor, or nil for the default float 0.
    func constantOfShapeValue() throws -> Tensor? {
        guard let value = node.tensor("value") else { return nil }
        guard value.elementCount == 1 else { throw fail("attribute 'value' must hold one element, has \(value.elementCount)") }
        return value
    }

    /// The type of required input `i`, which must be bool (logical ops, Where's condition).
    func boolType(_ i: Int) throws -> TensorType {
        let t = try type(i)
        guard t.dtype == .bool else { throw fail("input \(i) must be bool, got \(t.dtype.name)") }
        return t
    }

    /// A float scale times a dim, floored, as ONNX Runtime sizes Resize and Upsample outputs.
    func scaledDim(_ dim: Int, _ scale: Double, _ what: String) throws -> Int {
        let product = (Float(dim) * Float(scale)).rounded(.down)
        guard product.isFinite, product >= 0, product < 9.0e15 else {
            throw fail("\(what) \(scale) gives an invalid output dim for input dim \(dim)")
        }
        return Int(product)
    }
}

// MARK: Linear algebra

extension NodeContext {
    func convOutput() throws -> TensorType {
        let x = try type(0)
        let w = try shape(1)
        guard x.shape.rank >= 3 else { throw fail("input \(x.shape) must be N×C×spatial") }
        guard w.rank == x.shape.rank else { throw fail("weight \(w) must have the input's rank \(x.shape.rank)") }
        let group = node.int("group") ?? 1
        guard group > 0, w[0] % group == 0 else { throw fail("group \(group) does not divide \(w[0]) output channels") }
        guard x.shape[1] % group == 0, w[1] == x.shape[1] / group else {
            throw fail("weight \(w) with group \(group) does not fit input \(x.shape): expected \(x.shape[1]) input channels = weight dim 1 × group")
        }
        let kernel = Array(w.dims[2...])
        if let declared = node.ints("kernel_shape"), declared != kernel {
            throw fail("kernel_shape \(declared) does not match weight \(w)")
        }
        if has(2) {
            let b = try shape(2)
            guard b == Shape([w[0]]) else { throw fail("bias has shape \(b), expected [\(w[0])]") }
        }
        let geometry = try WindowGeometry(node: node, input: Array(x.shape.dims[2...]), kernel: kernel)
        return TensorType(x.dtype, try checkedShape([x.shape[0], w[0]] + geometry.output))
    }

    func convTransposeOutput() throws -> TensorType {
        let x = try type(0)
        let w = try shape(1)
        guard x.shape.rank >= 3 else { throw fail("input \(x.shape) must be N×C×spatial") }
        guard w.rank == x.shape.rank else { throw fail("weight \(w) must have the input's rank \(x.shape.rank)") }
        let group = node.int("group") ?? 1
        guard group > 0, x.shape[1] % group == 0 else { throw fail("group \(group) does not divide \(x.shape[1]) input channels") }
        guard w[0] == x.shape[1] else {
            throw fail("weight \(w) expects \(w[0]) input channels, input \(x.shape) has \(x.shape[1])")
        }
        let kernel = Array(w.dims[2...])
        if let declared = node.ints("kernel_shape"), declared != kernel {
            throw fail("kernel_shape \(declared) does not match weight \(w)")
        }
        let (channels, overflow) = w[1].multipliedReportingOverflow(by: group)
        guard !overflow else { throw fail("group \(group) is too large") }
        if has(2) {
            let b = try shape(2)
            guard b == Shape([channels]) else { throw fail("bias has shape \(b), expected [\(channels)]") }
        }
        let spatial = x.shape.rank - 2
        if let requested = node.ints("output_shape"), requested.count != spatial && requested.count != spatial + 2 {
            throw fail("output_shape \(requested) must list \(spatial) spatial dims")
        }
        let geometry = try WindowGeometry(convTranspose: node, input: Array(x.shape.dims[2...]), kernel: kernel)
        return TensorType(x.dtype, try checkedShape([x.shape[0], channels] + geometry.output))
    }

    func gemmOutput() throws -> TensorType {
        let a = try type(0)
        let b = try shape(1)
        guard a.shape.rank == 2, b.rank == 2 else { throw fail("A \(a.shape) and B \(b) must be 2-D") }
        let transA = (node.int("transA") ?? 0) != 0
        let transB = (node.int("transB") ?? 0) != 0
        let (m, k) = transA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let (kb, n) = transB ? (b[1], b[0]) : (b[0], b[1])
        guard k == kb else {
            throw fail("A \(a.shape)\(transA ? "ᵀ" : "") and B \(b)\(transB ? "ᵀ" : "") disagree on the inner dim (\(k) vs \(kb))")
        }
        let y = try checkedShape([m, n])
        if has(2) {
            let c = try shape(2)
            guard try broadcastShapes(y, c) == y else { throw fail("C \(c) does not broadcast to \(y)") }
        }
        return TensorType(a.dtype, y)
    }

    /// NumPy matmul: 1-D operands are promoted (a row for A, a column for B)
    /// and the promoted dim dropped again; leading dims broadcast.
    func matMulOutput() throws -> TensorType {
        let a = try type(0)
        let b = try shape(1)
        guard a.shape.rank >= 1, b.rank >= 1 else { throw fail("operands \(a.shape) and \(b) must not be scalars") }
        let a2 = a.shape.rank == 1 ? Shape([1, a.shape[0]]) : a.shape
        let b2 = b.rank == 1 ? Shape([b[0], 1]) : b
        let (m, k) = (a2[a2.rank - 2], a2[a2.rank - 1])
        let (kb, n) = (b2[b2.rank - 2], b2[b2.rank - 1])
        guard k == kb else { throw fail("operands \(a.shape) and \(b) disagree on the inner dim (\(k) vs \(kb))") }
        let batch = try broadcastShapes(Shape(Array(a2.dims.dropLast(2))), Shape(Array(b2.dims.dropLast(2))))
        var dims = batch.dims
        if a.shape.rank > 1 { dims.append(m) }
        if b.rank > 1 { dims.append(n) }
        return TensorType(a.dtype, try checkedShape(dims))
    }

    /// Einsum (opset 12): the output of `EinsumEquation`; all operands of one dtype.
    func einsumOutput() throws -> TensorType {
        let equation = try einsumEquation()
        return TensorType(try type(0).dtype, try checkedShape(equation.outputShape))
    }

    /// The node's equation resolved against its operands' shapes.
    func einsumEquation() throws -> EinsumEquation {
        guard let text = node.string("equation") else { throw fail("attribute 'equation' is required") }
        let first = try type(0)
        var shapes: [[Int]] = []
        for i in node.inputs.indices {
            let t = try type(i)
            guard t.dtype == first.dtype else { throw fail("input \(i) is \(t.dtype.name) but input 0 is \(first.dtype.name)") }
            shapes.append(t.shape.dims)
        }
        do {
            return try EinsumEquation(text, shapes: shapes)
        } catch let error as CleaveError {
            throw fail(error.message)
        }
    }

    /// Y, then the statistics outputs: running mean/var (training mode, opset
    /// 14+) or mean, var, saved mean, saved var (opsets 7–9), all one per channel.
    func batchNormalizationOutputs() throws -> [TensorType] {
        let x = try type(0)
        for (i, what) in ["scale", "B", "mean", "var"].enumerated() {
            guard has(i + 1) else { throw fail("input \(i + 1) (\(what)) is required") }
            try checkChannelVector(i + 1, what, of: x)
        }
        let statistics = TensorType(try type(3).dtype, Shape([x.shape[1]]))
        return [x] + Array(repeating: statistics, count: 4)
    }
}

// MARK: Recurrent layers

extension NodeContext {
    /// Y, Y_h and (LSTM) Y_c of LSTM, GRU or RNN, after checking X, the
    /// weights, sequence_lens and the initial states against each other
    /// (`RecurrentLayer` holds the rules).
    func recurrentOutputs(_ cell: RecurrentLayer.Cell) throws -> [TensorType] {
        let layer = try RecurrentLayer(node, cell: cell, fail: fail)
        let x = try type(0)
        let sizes = try layer.checkWeights(w: try shape(1), r: try shape(2), b: has(3) ? try shape(3) : nil,
                                           p: cell == .lstm && has(7) ? try shape(7) : nil, fail: fail)
        let (sequence, batch) = try layer.sequenceAndBatch(x.shape, input: sizes.input, fail: fail)
        if has(4) {
            let lengths = try type(4)
            guard lengths.dtype == .int32 || lengths.dtype == .int64, lengths.shape == Shape([batch]) else {
                throw fail("sequence_lens is \(lengths), expected int32[\(batch)]")
            }
        }
        let state = layer.stateShape(batch: batch, hidden: sizes.hidden)
        for (i, what) in [(5, "initial_h"), (6, "initial_c")] where has(i) && (i == 5 || cell == .lstm) {
            let s = try shape(i)
            guard s == state else { throw fail("\(what) has shape \(s), expected \(state) (layout \(layer.layout))") }
        }
        let y = TensorType(x.dtype, try checkedShape(layer.outputShape(sequence: sequence, batch: batch, hidden: sizes.hidden).dims))
        let h = TensorType(x.dtype, try checkedShape(state.dims))
        return cell == .lstm ? [y, h, h] : [y, h]
    }
}

// MARK: Normalization

extension NodeContext {
    /// Y like X, then Mean and InvStdDev (opset 17): X's dims before `axis`
    /// and 1 from it on, of the `stash_type`. Scale and B broadcast one way
    /// to the normalized shape, X's dims from `axis` on.
    func layerNormalizationOutputs() throws -> [TensorType] {
        let x = try type(0)
        let a = try axis(node.int("axis") ?? -1, rank: x.shape.rank)
        let normalized = Shape(Array(x.shape.dims[a...]))
        for (i, what) in [(1, "Scale"), (2, "B")] where i == 1 || has(i) {
            let s = try shape(i)
            guard (try? broadcast(normalized, s)) == normalized else {
                throw fail("\(what) \(s) does not broadcast to the normalized shape \(normalized) (X \(x.shape), axis \(a))")
            }
        }
        let stash = try dtype(node.int("stash_type") ?? 1, "stash_type")
        let statistics = TensorType(stash, Shape(Array(x.shape.dims[..<a]) + Array(repeating: 1, count: x.shape.rank - a)))
        return [x, statistics, statistics]
    }
}

// MARK: Windows and reductions

extension NodeContext {
    func poolOutput() throws -> TensorType {
        let x = try type(0)
        guard x.shape.rank >= 3 else { throw fail("input \(x.shape) must be N×C×spatial") }
        guard let kernel = node.ints("kernel_shape") else { throw fail("attribute 'kernel_shape' is required") }
        let ceilMode = (node.int("ceil_mode") ?? 0) != 0
        let geometry = try WindowGeometry(node: node, input: Array(x.shape.dims[2...]), kernel: kernel, ceilMode: ceilMode)
        return TensorType(x.dtype, try checkedShape(Array(x.shape.dims[0..<2]) + geometry.output))
    }

    /// The axes a reduction reduces, sorted; empty when `noop_with_empty_axes`
    /// turns the node into an identity.
    func reducedAxes(rank: Int) throws -> [Int] {
        let axes = try axesAttributeOrInput() ?? []
        if axes.isEmpty {
            return (node.int("noop_with_empty_axes") ?? 0) != 0 ? [] : Array(0..<rank)
        }
        return try self.axes(axes, rank: rank).sorted()
    }

    func reduceOutput() throws -> TensorType {
        let x = try type(0)
        let reduced = Set(try reducedAxes(rank: x.shape.rank))
        let keep = (node.int("keepdims") ?? 1) != 0
        var dims: [Int] = []
        for (axis, d) in x.shape.dims.enumerated() {
            if !reduced.contains(axis) { dims.append(d) } else if keep { dims.append(1) }
        }
        return TensorType(x.dtype, Shape(dims))
    }
}

// MARK: Data movement

extension NodeContext {
    func concatOutput() throws -> TensorType {
        let first = try type(0)
        guard let requested = node.int("axis") else { throw fail("attribute 'axis' is required") }
        let a = try axis(requested, rank: first.shape.rank)
        var dims = first.shape.dims
        for i in 1..<Swift.max(1, node.inputs.count) {
            let s = try shape(i)
            guard s.rank == first.shape.rank,
                  s.dims.enumerated().allSatisfy({ $0.offset == a || $0.element == first.shape[$0.offset] })
            else { throw fail("input \(i) \(s) does not match input 0 \(first.shape) except on axis \(a)") }
            let (sum, overflow) = dims[a].addingReportingOverflow(s[a])
            guard !overflow else { throw fail("concatenated dim \(a) overflows") }
            dims[a] = sum
        }
        return TensorType(first.dtype, try checkedShape(dims))
    }

    /// The sizes of Split's pieces along `axis`, from the `split` attribute
    /// (before opset 13) or input, from `num_outputs` (opset 18: the last piece
    /// may be smaller), or equal pieces, one per output.
    func splitSizes(dim: Int) throws -> [Int] {
        let outputs = node.outputs.count
        var sizes: [Int]
        if let given = try node.ints("split") ?? integers(1, "split") {
            sizes = given
        } else if let n = node.int("num_outputs") {
            guard n > 0, n == outputs else { throw fail("num_outputs \(n) does not match the node's \(outputs) outputs") }
            let chunk = (dim + n - 1) / n
            sizes = Array(repeating: chunk, count: n - 1) + [dim - chunk * (n - 1)]
        } else {
            guard outputs > 0, dim % outputs == 0 else { throw fail("dim \(dim) does not split evenly into \(outputs) outputs") }
            sizes = Array(repeating: dim / outputs, count: outputs)
        }
        guard sizes.count == outputs, sizes.allSatisfy({ $0 >= 0 && $0 <= dim }), sizes.reduce(0, { $0 &+ $1 }) == dim else {
            throw fail("split sizes \(sizes) must be \(outputs) non-negative sizes adding up to \(dim)")
        }
        return sizes
    }

    func splitOutputs() throws -> [TensorType] {
        let x = try type(0)
        let a = try axis(node.int("axis") ?? 0, rank: x.shape.rank)
        return try splitSizes(dim: x.shape[a]).map { size in
            var dims = x.shape.dims
            dims[a] = size
            return TensorType(x.dtype, Shape(dims))
        }
    }

    /// One sliced axis: elements `start, start+step, …`, `count` of them.
    struct SliceAxis {
        var axis: Int
        var start: Int
        var step: Int
        var count: Int
    }

    /// Slice's parameters, from attributes (before opset 10) or inputs,
    /// clamped as the spec says.
    func sliceAxes() throws -> [SliceAxis] {
        let x = try shape(0)
        let starts: [Int], ends: [Int], requestedAxes: [Int]?, steps: [Int]?
        if let s = node.ints("starts") {
            guard let e = node.ints("ends") else { throw fail("attribute 'ends' is required") }
            (starts, ends, requestedAxes, steps) = (s, e, node.ints("axes"), nil)
        } else {
            guard let s = try integers(1, "starts"), let e = try integers(2, "ends") else {
                throw fail("inputs 1 (starts) and 2 (ends) are required")
            }
            (starts, ends, requestedAxes, steps) = (s, e, try integers(3, "axes"), try integers(4, "steps"))
        }
        let axes = try self.axes(requestedAxes ?? Array(0..<starts.count), rank: x.rank)
        let stepValues = steps ?? Array(repeating: 1, count: starts.count)
        guard ends.count == starts.count, axes.count == starts.count, stepValues.count == starts.count else {
            throw fail("starts \(starts), ends \(ends), axes and steps must have the same length")
        }
        var result: [SliceAxis] = []
        for i in starts.indices {
            let (dim, step) = (x[axes[i]], stepValues[i])
            guard step != 0 else { throw fail("steps must not be 0") }
            var start = starts[i] < 0 ? starts[i] + dim : starts[i]
            var end = ends[i] < 0 ? ends[i] + dim : ends[i]
            let count: Int
            if step > 0 {
                start = Swift.min(Swift.max(start, 0), dim)
                end = Swift.min(Swift.max(end, 0), dim)
                count = end > start ? (end - start - 1) / step + 1 : 0
            } else {
                start = Swift.min(Swift.max(start, 0), dim - 1)
                end = Swift.min(Swift.max(end, -1), dim - 1)
                let stride = step == Int.min ? Int.max : -step
                count = start > end && dim > 0 ? (start - end - 1) / stride + 1 : 0
            }
            result.append(SliceAxis(axis: axes[i], start: start, step: step, count: count))
        }
        return result
    }

    /// Reshape's target: 0 copies the input dim (unless `allowzero`), one -1 is inferred.
    func reshapeOutput() throws -> Shape {
        let x = try shape(0)
        guard let target = try node.ints("shape") ?? integers(1, "shape") else { throw fail("input 1 (shape) is required") }
        let allowZero = (node.int("allowzero") ?? 0) != 0
        var dims: [Int] = []
        var inferred: Int?
        for (i, d) in target.enumerated() {
            switch d {
            case -1:
                guard inferred == nil else { throw fail("shape \(target) has more than one -1") }
                inferred = i
                dims.append(1)
            case 0 where !allowZero:
                guard i < x.rank else { throw fail("shape \(target) copies dim \(i) (0) but the input \(x) has rank \(x.rank)") }
                dims.append(x[i])
            case ..<(-1):
                throw fail("shape \(target) has invalid dim \(d)")
            default:
                dims.append(d)
            }
        }
        guard let known = Shape.checkedElementCount(dims) else { throw fail("shape \(target) has too many elements") }
        if let i = inferred {
            guard known > 0, x.elementCount % known == 0 else {
                throw fail("cannot reshape \(x) (\(x.elementCount) elements) to \(target)")
            }
            dims[i] = x.elementCount / known
        } else if known != x.elementCount {
            throw fail("cannot reshape \(x) (\(x.elementCount) elements) to \(target) (\(known) elements)")
        }
        return Shape(dims)
    }

    func squeezeOutput() throws -> TensorType {
        let x = try type(0)
        guard let requested = try axesAttributeOrInput() else {
            return TensorType(x.dtype, Shape(x.shape.dims.filter { $0 != 1 }))
        }
        let axes = Set(try self.axes(requested, rank: x.shape.rank))
        for a in axes where x.shape[a] != 1 {
            throw fail("cannot squeeze axis \(a) of \(x.shape): its size is not 1")
        }
        return TensorType(x.dtype, Shape(x.shape.dims.enumerated().filter { !axes.contains($0.offset) }.map(\.element)))
    }

    func unsqueezeOutput() throws -> TensorType {
        let x = try type(0)
        guard let requested = try axesAttributeOrInput() else { throw fail("axes are required") }
        let rank = x.shape.rank + requested.count
        let axes = Set(try self.axes(requested, rank: rank))
        var source = x.shape.dims.makeIterator()
        let dims = (0..<rank).map { axes.contains($0) ? 1 : (source.next() ?? 1) }
        return TensorType(x.dtype, Shape(dims))
    }

    /// Tile's output dims, and the same output seen as [r0, d0, r1, d1, …]
    /// with the input's strides (0 along every repeat dim): the one strided
    /// read that produces it, used by folding.
    func tileLayout() throws -> (output: [Int], dims: [Int], strides: [Int]) {
        let x = try shape(0)
        guard let repeats = try integers(1, "repeats") else { throw fail("input 1 (repeats) is required") }
        guard repeats.count == x.rank, repeats.allSatisfy({ $0 >= 0 }) else {
            throw fail("repeats \(repeats) must be \(x.rank) non-negative counts, one per dim of the input \(x)")
        }
        var output: [Int] = [], dims: [Int] = [], strides: [Int] = []
        let own = x.strides
        for axis in 0..<x.rank {
            let (product, overflow) = x[axis].multipliedReportingOverflow(by: repeats[axis])
            guard !overflow else { throw fail("repeats \(repeats) of \(x) overflow") }
            output.append(product)
            dims += [repeats[axis], x[axis]]
            strides += [0, own[axis]]
        }
        return (output, dims, strides)
    }

    /// Pad's pads (attribute before opset 11, input after) per axis, as (begin, end).
    func padAmounts(rank: Int) throws -> [(axis: Int, begin: Int, end: Int)] {
        guard let pads = try node.ints("pads") ?? integers(1, "pads") else { throw fail("pads are required") }
        let axes = try integers(3, "axes").map { try self.axes($0, rank: rank) } ?? Array(0..<rank)
        guard pads.count == 2 * axes.count else {
            throw fail("pads \(pads) must have \(2 * axes.count) values (begin and end for each of \(axes.count) axes)")
        }
        return axes.enumerated().map { (axis: $0.element, begin: pads[$0.offset], end: pads[$0.offset + axes.count]) }
    }

    func padOutput() throws -> TensorType {
        let x = try type(0)
        var dims = x.shape.dims
        for pad in try padAmounts(rank: x.shape.rank) {
            let (grown, overflowBegin) = dims[pad.axis].addingReportingOverflow(pad.begin)
            let (padded, overflowEnd) = grown.addingReportingOverflow(pad.end)
            guard !overflowBegin && !overflowEnd else { throw fail("pads \(pad.begin), \(pad.end) on axis \(pad.axis) overflow") }
            dims[pad.axis] = padded
        }
        return TensorType(x.dtype, try checkedShape(dims))
    }

    /// Resize 10 takes (X, scales); 11 and later take (X, roi, scales, sizes),
    /// where an empty tensor counts as omitted; 18 adds `axes` and
    /// `keep_aspect_ratio_policy`.
    func resizeOutput() throws -> TensorType {
        let x = try type(0)
        let rank = x.shape.rank
        let axes = try node.ints("axes").map { try self.axes($0, rank: rank) } ?? Array(0..<rank)
        var scales = try reals(opset <= 10 ? 1 : 2, "scales")
        var sizes = opset <= 10 ? nil : try integers(3, "sizes")
        if scales?.isEmpty == true { scales = nil }
        if sizes?.isEmpty == true { sizes = nil }
        var dims = x.shape.dims
        switch (scales, sizes) {
        case (let scales?, nil):
            guard scales.count == axes.count else { throw fail("scales \(scales) must have \(axes.count) values") }
            for (i, a) in axes.enumerated() { dims[a] = try scaledDim(x.shape[a], scales[i], "scale") }
        case (nil, let sizes?):
            guard sizes.count == axes.count else { throw fail("sizes \(sizes) must have \(axes.count) values") }
            let policy = node.string("keep_aspect_ratio_policy") ?? "stretch"
            switch policy {
            case "stretch":
                for (i, a) in axes.enumerated() { dims[a] = sizes[i] }
            case "not_larger", "not_smaller":
                // One scale for all resized axes, the largest (not_smaller) or smallest (not_larger) ratio.
                let ratios = axes.enumerated().map { Double(sizes[$0.offset]) / Double(Swift.max(1, x.shape[$0.element])) }
                guard let scale = policy == "not_larger" ? ratios.min() : ratios.max() else { break }
                for a in axes {
                    let size = (scale * Double(x.shape[a])).rounded()
                    guard size.isFinite, size >= 0, size < 9.0e15 else { throw fail("sizes \(sizes) give an invalid output dim") }
                    dims[a] = Int(size)
                }
            default:
                throw fail("unknown keep_aspect_ratio_policy '\(policy)'")
            }
        case (nil, nil):
            throw fail("needs scales or sizes")
        case (.some, .some):
            throw fail("give scales or sizes, not both")
        }
        return TensorType(x.dtype, try checkedShape(dims))
    }

    /// Upsample (opsets 7–9): `scales` attribute in 7, input 1 in 9.
    func upsampleOutput() throws -> TensorType {
        let x = try type(0)
        let scales: [Double]
        if let attribute = node.floats("scales") {
            scales = attribute.map { Double($0) }
        } else {
            guard let input = try reals(1, "scales") else { throw fail("scales are required") }
            scales = input
        }
        guard scales.count == x.shape.rank else { throw fail("scales \(scales) must have \(x.shape.rank) values") }
        return TensorType(x.dtype, try checkedShape(try x.shape.dims.indices.map { try scaledDim(x.shape[$0], scales[$0], "scale") }))
    }
}

// MARK: Quantization

extension NodeContext {
    /// Scale and zero point are a scalar (per tensor), a vector along `axis`
    /// (per axis), or, from opset 21, a tensor of x's rank (blocked).
    func checkQuantizationParameters(_ x: Shape, scale: Shape) throws {
        if (node.int("block_size") ?? 0) > 0 {
            guard scale.rank == x.rank else { throw fail("blocked scale \(scale) must have the input's rank \(x.rank)") }
            return
        }
        if scale.elementCount == 1 && scale.rank <= 1 { return }
        guard scale.rank == 1 else { throw fail("scale \(scale) must be a scalar or 1-D") }
        let a = try axis(node.int("axis") ?? 1, rank: x.rank)
        guard scale[0] == x[a] else { throw fail("per-axis scale \(scale) does not match input dim \(x[a]) on axis \(a)") }
    }

    func quantizeOutput() throws -> TensorType {
        let x = try type(0)
        try checkQuantizationParameters(x.shape, scale: try shape(1))
        let requested = node.int("output_dtype") ?? 0
        let dtype: DType
        if requested != 0 {
            dtype = try self.dtype(requested, "output_dtype")
        } else if has(2) {
            dtype = try type(2).dtype
        } else {
            dtype = .uint8
        }
        return TensorType(dtype, x.shape)
    }
}

// MARK: Sequences

extension NodeContext {
    /// Range's start, limit and delta, which must be known before running
    /// (the output's length depends on them), and its output type.
    func rangeOutput() throws -> (start: FoldValue, delta: FoldValue, type: TensorType) {
        let dtype = try type(0).dtype
        var scalars: [FoldValue] = []
        for (i, what) in ["start", "limit", "delta"].enumerated() {
            guard try type(i).dtype == dtype else { throw fail("\(what) is \(try type(i).dtype.name), start is \(dtype.name)") }
            guard let tensor = try value(i, what), tensor.elementCount == 1, let scalar = FoldValue(tensor) else {
                throw fail("\(what) must be a scalar of float, double or a signed integer type")
            }
            scalars.append(scalar)
        }
        let count: Int?
        switch (scalars[0].elements, scalars[1].elements, scalars[2].elements) {
        case (.integers(let start), .integers(let limit), .integers(let delta)):
            count = rangeCount(difference: Double(limit[0]) - Double(start[0]), delta: Double(delta[0]))
        case (.reals(let start), .reals(let limit), .reals(let delta)):
            // float32 subtracts in float32, as ONNX Runtime does, before the division in double.
            let difference = dtype == .float ? Double(Float(limit[0]) - Float(start[0])) : limit[0] - start[0]
            count = rangeCount(difference: difference, delta: delta[0])
        default:
            count = nil
        }
        guard let count else { throw fail("delta must be non-zero and the range finite") }
        return (scalars[0], scalars[2], TensorType(dtype, try checkedShape([count])))
    }
}

/// Range's length as ONNX Runtime computes it: ⌈difference / delta⌉, at
/// least 0 (`difference` = limit − start in the element type); nil when
/// delta is 0 or the length is not a finite count.
package func rangeCount(difference: Double, delta: Double) -> Int? {
    guard delta != 0 else { return nil }
    let count = (difference / delta).rounded(.up)
    guard count.isFinite else { return nil }
    if count <= 0 { return 0 }
    return count < 9.0e15 ? Int(count) : nil
}
