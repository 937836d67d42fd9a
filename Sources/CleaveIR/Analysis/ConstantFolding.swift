/// Analysis-time evaluation of the shape computations exporters emit
/// (tf2onnx's Shape→Gather→Unsqueeze→Concat→Reshape, PyTorch's
/// Shape→Slice→Concat, ConstantOfShape, Cast, int64 arithmetic), so that
/// Reshape, Expand, Slice, Resize, Pad and friends get concrete shapes.
///
/// Folding never fails analysis: a node that cannot be evaluated (an
/// unsupported dtype, a division by zero, too many elements) simply has no
/// known value, and only a consumer whose shape needs it reports an error.
extension NodeContext {
    /// The most elements a folded value that must be computed may have; ops that
    /// only reinterpret a known tensor (Identity, Reshape, …) share its bytes
    /// and have no limit. Keeps analysis from touching weight data.
    static let foldingLimit = 65_536

    /// The values of the node's outputs if they can be known before running.
    func foldedOutputs(_ outputs: [TensorType]) -> [Tensor]? {
        switch op {
        case .constant:
            return node.constantValue.map { [$0] }
        case .shape:
            guard let input = inputTypes.first ?? nil, let range = try? shapeRange(rank: input.shape.rank) else { return nil }
            return [Tensor(Shape([range.count]), int64s: input.shape.dims[range].map { Int64($0) })]
        case .size:
            guard let input = inputTypes.first ?? nil else { return nil }
            return [Tensor([], int64s: [Int64(input.shape.elementCount)])]
        case .range:
            guard let output = outputs.first, output.shape.elementCount <= NodeContext.foldingLimit,
                  let range = try? rangeOutput() else { return nil }
            return rangeValues(range.start, range.delta, output).map { [$0.tensor()] }
        case .identity:
            return inputValues.first.flatMap { $0 }.map { [$0] }
        case .reshape, .flatten, .squeeze, .unsqueeze:
            guard let value = inputValues.first ?? nil, let type = outputs.first else { return nil }
            return [value.reshaped(type.shape)]
        case .cast, .gather, .concat, .slice, .transpose, .expand, .constantOfShape, .add, .sub, .mul, .div, .neg,
             .abs, .sum, .max, .min, .equal, .less, .lessOrEqual, .greater, .greaterOrEqual, .not, .and, .or, .xor,
             .where, .tile, .reduceProd:
            guard outputs.allSatisfy({ $0.shape.elementCount <= NodeContext.foldingLimit }) else { return nil }
            var values: [FoldValue] = []
            for (i, name) in node.inputs.enumerated() where !name.isEmpty {
                guard let tensor = inputValues[i], tensor.elementCount <= NodeContext.foldingLimit,
                      let value = FoldValue(tensor) else { return nil }
                values.append(value)
            }
            guard let output = outputs.first, let result = evaluate(values, output) else { return nil }
            return [result.tensor()]
        case .conv, .convTranspose, .gemm, .matMul, .batchNormalization, .instanceNormalization, .lrn, .relu,
             .leakyRelu, .prelu, .elu, .clip, .sigmoid, .hardSigmoid, .hardSwish, .tanh, .erf, .softmax,
             .logSoftmax, .maxPool, .averagePool, .globalAveragePool, .globalMaxPool, .pow, .sqrt, .exp, .log,
             .mean, .reduceMean, .reduceSum, .reduceMax, .split, .pad, .resize, .upsample, .dropout,
             .quantizeLinear, .dequantizeLinear, .reciprocal, .lstm, .gru, .rnn,
             .layerNormalization, .gelu, .argMax, .argMin, .cumSum, .reduceMin, .reduceL1, .reduceL2,
             .reduceSumSquare, .reduceLogSumExp, .gatherElements,
             .scatterND, .topK, .einsum:
            return nil
        }
    }

    /// Computes the op on known inputs (present inputs only, in order).
    private func evaluate(_ inputs: [FoldValue], _ output: TensorType) -> FoldValue? {
        guard let first = inputs.first else { return nil }
        switch op {
        case .cast:
            return first.cast(to: output.dtype)
        case .gather:
            guard inputs.count == 2, let indices = inputs[1].integers,
                  let a = try? axis(node.int("axis") ?? 0, rank: first.shape.rank) else { return nil }
            let dim = first.shape[a]
            let inner = first.shape.dims[(a + 1)...].reduce(1, *)
            let outer = first.shape.dims[..<a].reduce(1, *)
            var flat: [Int] = []
            flat.reserveCapacity(output.shape.elementCount)
            for o in 0..<outer {
                for raw in indices {
                    let k = raw < 0 ? Int(raw) + dim : Int(raw)
                    guard k >= 0 && k < dim else { return nil }
                    let base = (o * dim + k) * inner
                    flat.append(contentsOf: base..<(base + inner))
                }
            }
            return first.gathering(flat, shape: output.shape)
        case .concat:
            return concatenate(inputs, output)
        case .slice:
            guard let axes = try? sliceAxes() else { return nil }
            let inStrides = first.shape.strides
            var strides = inStrides
            var base = 0
            for s in axes {
                // Wrapping: a huge step only occurs with count ≤ 1, where the stride is never followed.
                strides[s.axis] = inStrides[s.axis] &* s.step
                base += s.start * inStrides[s.axis]
            }
            return first.gathering(stridedIndices(output.shape, strides: strides, base: base), shape: output.shape)
        case .transpose:
            guard let perm = try? permutation(rank: first.shape.rank) else { return nil }
            let inStrides = first.shape.strides
            return first.gathering(stridedIndices(output.shape, strides: perm.map { inStrides[$0] }, base: 0), shape: output.shape)
        case .expand:
            return first.gathering(broadcastIndices(from: first.shape, to: output.shape), shape: output.shape)
        case .reduceProd:
            // Integers only: the flattened sizes of tf2onnx's Shape → Slice → ReduceProd → Concat → Reshape.
            guard let values = first.integers, let axes = try? reducedAxes(rank: first.shape.rank) else { return nil }
            let reduced = Set(axes)
            var strides = [Int](repeating: 0, count: first.shape.rank)
            var stride = 1
            for axis in (0..<first.shape.rank).reversed() where !reduced.contains(axis) {
                strides[axis] = stride
                stride *= first.shape[axis]
            }
            // Each input element multiplies into the output element its kept coordinates name.
            var products = [Int64](repeating: 1, count: output.shape.elementCount)
            for (i, target) in stridedIndices(first.shape, strides: strides, base: 0).enumerated() {
                products[target] = products[target] &* values[i]
            }
            return FoldValue(dtype: output.dtype, shape: output.shape, elements: .integers(products)).normalized()
        case .tile:
            guard let layout = try? tileLayout() else { return nil }
            return first.gathering(stridedIndices(Shape(layout.dims), strides: layout.strides, base: 0), shape: output.shape)
        case .constantOfShape:
            let fill: FoldValue
            if let attribute = try? constantOfShapeValue() {
                guard let value = FoldValue(attribute) else { return nil }
                fill = value
            } else {
                fill = FoldValue(dtype: .float, shape: [], elements: .reals([0]))
            }
            return fill.gathering(Array(repeating: 0, count: output.shape.elementCount), shape: output.shape)
        case .neg, .abs:
            switch first.elements {
            case .integers(let v):
                let mapped = op == .neg ? v.map { 0 &- $0 } : v.map { $0 < 0 ? 0 &- $0 : $0 }
                return FoldValue(dtype: first.dtype, shape: first.shape, elements: .integers(mapped)).normalized()
            case .reals(let v):
                return FoldValue(dtype: first.dtype, shape: first.shape, elements: .reals(op == .neg ? v.map { -$0 } : v.map { Swift.abs($0) }))
            }
        case .add, .sub, .mul, .div, .sum, .max, .min, .equal, .less, .lessOrEqual, .greater, .greaterOrEqual,
             .and, .or, .xor:
            var result = first
            for next in inputs.dropFirst() {
                guard let combined = combine(result, next, output.dtype) else { return nil }
                result = combined
            }
            return result
        case .not:
            guard let v = first.integers else { return nil }
            return FoldValue(dtype: .bool, shape: first.shape, elements: .integers(v.map { $0 == 0 ? 1 : 0 }))
        case .where:
            guard inputs.count == 3, let condition = first.integers else { return nil }
            let ic = broadcastIndices(from: first.shape, to: output.shape)
            let ix = broadcastIndices(from: inputs[1].shape, to: output.shape)
            let iy = broadcastIndices(from: inputs[2].shape, to: output.shape)
            switch (inputs[1].elements, inputs[2].elements) {
            case (.integers(let x), .integers(let y)):
                let picked = ic.indices.map { condition[ic[$0]] != 0 ? x[ix[$0]] : y[iy[$0]] }
                return FoldValue(dtype: output.dtype, shape: output.shape, elements: .integers(picked))
            case (.reals(let x), .reals(let y)):
                let picked = ic.indices.map { condition[ic[$0]] != 0 ? x[ix[$0]] : y[iy[$0]] }
                return FoldValue(dtype: output.dtype, shape: output.shape, elements: .reals(picked))
            default:
                return nil
            }
        case .conv, .convTranspose, .gemm, .matMul, .batchNormalization, .instanceNormalization, .lrn, .relu,
             .leakyRelu, .prelu, .elu, .clip, .sigmoid, .hardSigmoid, .hardSwish, .tanh, .erf, .softmax,
             .logSoftmax, .maxPool, .averagePool, .globalAveragePool, .globalMaxPool, .pow, .sqrt, .exp, .log,
             .mean, .reduceMean, .reduceSum, .reduceMax, .split, .pad, .resize, .upsample, .dropout,
             .quantizeLinear, .dequantizeLinear, .constant, .shape, .identity, .reshape, .flatten, .squeeze,
             .unsqueeze, .reciprocal, .range, .size, .lstm, .gru, .rnn,
             .layerNormalization, .gelu, .tile, .argMax, .argMin, .cumSum, .reduceMin, .reduceL1, .reduceL2,
             .reduceSumSquare, .reduceLogSumExp, .gatherElements,
             .scatterND, .topK, .einsum:
            return nil
        }
    }

    private func concatenate(_ inputs: [FoldValue], _ output: TensorType) -> FoldValue? {
        guard let first = inputs.first, let a = try? axis(node.int("axis") ?? 0, rank: first.shape.rank) else { return nil }
        let outer = first.shape.dims[..<a].reduce(1, *)
        switch first.elements {
        case .integers:
            var out: [Int64] = []
            for o in 0..<outer {
                for input in inputs {
                    guard let v = input.integers else { return nil }
                    let block = input.shape.dims[a...].reduce(1, *)
                    out.append(contentsOf: v[(o * block)..<((o + 1) * block)])
                }
            }
            return FoldValue(dtype: output.dtype, shape: output.shape, elements: .integers(out))
        case .reals:
            var out: [Double] = []
            for o in 0..<outer {
                for input in inputs {
                    guard let v = input.reals else { return nil }
                    let block = input.shape.dims[a...].reduce(1, *)
                    out.append(contentsOf: v[(o * block)..<((o + 1) * block)])
                }
            }
            return FoldValue(dtype: output.dtype, shape: output.shape, elements: .reals(out))
        }
    }

    /// One broadcasting binary step of Add, Sub, Mul, Div, Sum, Max or Min.
    private func combine(_ a: FoldValue, _ b: FoldValue, _ dtype: DType) -> FoldValue? {
        guard let shape = try? broadcast(a.shape, b.shape) else { return nil }
        let ia = broadcastIndices(from: a.shape, to: shape)
        let ib = broadcastIndices(from: b.shape, to: shape)
        switch (a.elements, b.elements) {
        case (.integers(let x), .integers(let y)):
            var out = [Int64](repeating: 0, count: ia.count)
            for i in out.indices {
                let (l, r) = (x[ia[i]], y[ib[i]])
                switch op {
                case .add, .sum: out[i] = l &+ r
                case .sub: out[i] = l &- r
                case .mul: out[i] = l &* r
                case .div:
                    // Integer Div truncates toward zero, as ONNX Runtime's does.
                    guard r != 0, !(l == Int64.min && r == -1) else { return nil }
                    out[i] = l / r
                case .max: out[i] = Swift.max(l, r)
                case .min: out[i] = Swift.min(l, r)
                case .and: out[i] = l != 0 && r != 0 ? 1 : 0
                case .or: out[i] = l != 0 || r != 0 ? 1 : 0
                case .xor: out[i] = (l != 0) != (r != 0) ? 1 : 0
                default:
                    guard let truth = compare(l, r) else { return nil }
                    out[i] = truth ? 1 : 0
                }
            }
            return FoldValue(dtype: dtype, shape: shape, elements: .integers(out)).normalized()
        case (.reals(let x), .reals(let y)) where dtype != .bool:
            var out = [Double](repeating: 0, count: ia.count)
            for i in out.indices {
                let (l, r) = (x[ia[i]], y[ib[i]])
                switch op {
                case .add, .sum: out[i] = l + r
                case .sub: out[i] = l - r
                case .mul: out[i] = l * r
                case .div: out[i] = l / r
                // NaN propagates, as in ONNX Runtime's Max/Min.
                case .max: out[i] = l.isNaN || r.isNaN ? .nan : Swift.max(l, r)
                case .min: out[i] = l.isNaN || r.isNaN ? .nan : Swift.min(l, r)
                default: return nil
                }
            }
            return FoldValue(dtype: dtype, shape: shape, elements: .reals(out)).normalized()
        case (.reals(let x), .reals(let y)) where dtype == .bool:
            var out = [Int64](repeating: 0, count: ia.count)
            for i in out.indices {
                guard let truth = compare(x[ia[i]], y[ib[i]]) else { return nil }
                out[i] = truth ? 1 : 0
            }
            return FoldValue(dtype: .bool, shape: shape, elements: .integers(out))
        default:
            return nil
        }
    }
}

extension NodeContext {
    /// Equal, Less, LessOrEqual, Greater or GreaterOrEqual of two elements; nil for other ops.
    private func compare<T: Comparable>(_ l: T, _ r: T) -> Bool? {
        switch op {
        case .equal: return l == r
        case .less: return l < r
        case .lessOrEqual: return l <= r
        case .greater: return l > r
        case .greaterOrEqual: return l >= r
        default: return nil
        }
    }

    /// Range's elements: start, then each one delta more, accumulated in the
    /// element type as ONNX Runtime does.
    func rangeValues(_ start: FoldValue, _ delta: FoldValue, _ output: TensorType) -> FoldValue? {
        let count = output.shape.elementCount
        switch (start.elements, delta.elements) {
        case (.integers(let s), .integers(let d)):
            var values: [Int64] = [], next = s[0]
            for _ in 0..<count { values.append(next); next = next &+ d[0] }
            return FoldValue(dtype: output.dtype, shape: output.shape, elements: .integers(values)).normalized()
        case (.reals(let s), .reals(let d)) where output.dtype == .float:
            var values: [Double] = [], next = Float(s[0])
            for _ in 0..<count { values.append(Double(next)); next += Float(d[0]) }
            return FoldValue(dtype: .float, shape: output.shape, elements: .reals(values))
        case (.reals(let s), .reals(let d)):
            var values: [Double] = [], next = s[0]
            for _ in 0..<count { values.append(next); next += d[0] }
            return FoldValue(dtype: output.dtype, shape: output.shape, elements: .reals(values))
        default:
            return nil
        }
    }
}

/// For each element of `output`, the flat index of the element of `input`
/// (broadcast to `output`) that it reads.
func broadcastIndices(from input: Shape, to output: Shape) -> [Int] {
    let offset = output.rank - input.rank
    let inStrides = input.strides
    var strides = [Int](repeating: 0, count: output.rank)
    for i in 0..<input.rank where input[i] != 1 { strides[i + offset] = inStrides[i] }
    return stridedIndices(output, strides: strides, base: 0)
}

/// The flat source index of every element of `shape` (row-major), walking
/// the source with per-axis `strides` from `base`.
func stridedIndices(_ shape: Shape, strides: [Int], base: Int) -> [Int] {
    let count = shape.elementCount
    var result: [Int] = []
    result.reserveCapacity(count)
    var counter = [Int](repeating: 0, count: shape.rank)
    var index = base
    for _ in 0..<count {
        result.append(index)
        var axis = shape.rank - 1
        while axis >= 0 {
            counter[axis] += 1
            index &+= strides[axis]
            if counter[axis] < shape[axis] { break }
            index &-= strides[axis] &* shape[axis]
            counter[axis] = 0
            axis -= 1
        }
    }
    return result
}
