import CleaveIR

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Softmax and LogSoftmax

/// Softmax and LogSoftmax over float32.
///
/// Before opset 13 the input is seen as 2-D, [prod(dims[..<axis]),
/// prod(dims[axis...])] with `axis` defaulting to 1, and each row is
/// normalised; from opset 13 only the single dim `axis` (default −1) is.
/// The maximum is subtracted first, so large logits do not overflow.
final class SoftmaxKernel: Kernel {
    private let setup: KernelSetup
    private let logarithmic: Bool

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        logarithmic = setup.op == .logSoftmax
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let x = try setup.required(inputs, 0, "input")
        try setup.requireFloat(x)
        let dims = x.shape.dims
        guard !dims.isEmpty else { throw setup.error("input must have rank ≥ 1, got a scalar") }
        let coerced = setup.opset < 13
        let axis = try setup.axis(setup.node.int("axis") ?? (coerced ? 1 : -1), rank: dims.count)
        let outer = dims[..<axis].reduce(1, *)
        let length = coerced ? dims[axis...].reduce(1, *) : dims[axis]
        let inner = coerced ? 1 : dims[(axis + 1)...].reduce(1, *)
        let output = Tensor.uninitialized(.float, x.shape)
        guard x.elementCount > 0, let source = x.rawBytes, let target = output.mutableRawBytes else { return [output] }
        let px = source.assumingMemoryBound(to: Float.self)
        let py = target.assumingMemoryBound(to: Float.self)
        let logarithmic = self.logarithmic
        if inner == 1 {
            context.parallelFor(outer, itemWork: length) { rows in
                for row in rows {
                    Self.normalise(px + row * length, py + row * length, length, logarithmic)
                }
            }
        } else {
            // Columns of one outer block are handled together, `tile` at a time, so every
            // step is a contiguous loop over the tile.
            let tile = Swift.min(inner, 1024)
            let tiles = (inner + tile - 1) / tile
            context.parallelFor(outer * tiles, itemWork: length * tile) { items in
                var scratch = [Float](repeating: 0, count: 2 * tile)
                scratch.withUnsafeMutableBufferPointer { buffer in
                    guard let base = buffer.baseAddress else { return }
                    for item in items {
                        let o = item / tiles, start = (item % tiles) * tile
                        let width = Swift.min(tile, inner - start)
                        let offset = o * length * inner + start
                        Self.normaliseColumns(px + offset, py + offset, length, inner, width,
                                              maxima: base, sums: base + tile, logarithmic)
                    }
                }
            }
        }
        return [output]
    }

    /// One contiguous row of `n` logits; each step is its own loop so the
    /// exp loop vectorises.
    @inline(__always)
    private static func normalise(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ logarithmic: Bool) {
        let maximum = FastMath.maximum(x, n)
        for j in 0..<n { y[j] = FastMath.exp(x[j] - maximum) }
        let sum = FastMath.sum(UnsafePointer(y), n)
        if logarithmic {
            let shift = maximum + logf(sum)
            for j in 0..<n { y[j] = x[j] - shift }
        } else {
            let scale = 1 / sum
            for j in 0..<n { y[j] *= scale }
        }
    }

    /// `width` columns of `n` logits each, `stride` apart.
    @inline(__always)
    private static func normaliseColumns(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ stride: Int, _ width: Int,
        maxima: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Float>, _ logarithmic: Bool
    ) {
        for i in 0..<width {
            maxima[i] = x[i]
            sums[i] = 0
        }
        for k in 1..<Swift.max(n, 1) {
            let row = x + k * stride
            for i in 0..<width { maxima[i] = row[i] > maxima[i] ? row[i] : maxima[i] }
        }
        for k in 0..<n {
            let row = x + k * stride, out = y + k * stride
            for i in 0..<width {
                let e = FastMath.exp(row[i] - maxima[i])
                out[i] = e
                sums[i] += e
            }
        }
        if logarithmic {
            for i in 0..<width { maxima[i] += logf(sums[i]) }
            for k in 0..<n {
                let row = x + k * stride, out = y + k * stride
                for i in 0..<width { out[i] = row[i] - maxima[i] }
            }
        } else {
            for i in 0..<width { sums[i] = 1 / sums[i] }
            for k in 0..<n {
                let out = y + k * stride
                for i in 0..<width { out[i] *= sums[i] }
            }
        }
    }
}

// MARK: - ReduceSum, ReduceMean, ReduceMax

/// A way of combining elements, with the value an empty reduction yields.
protocol Reducer {
    associatedtype Element
    var identity: Element { get }
    func combine(_ a: Element, _ b: Element) -> Element
    /// All `n` contiguous elements combined; a reducer may use SIMD here.
    func fold(_ x: UnsafePointer<Element>, _ n: Int) -> Element
}

extension Reducer {
    /// Blocks of 4096, each with four independent accumulators: a short
    /// dependency chain for any element type.
    @inline(__always)
    func fold(_ x: UnsafePointer<Element>, _ n: Int) -> Element {
        var total = identity
        var start = 0
        while start < n {
            let end = Swift.min(start + 4096, n)
            var a0 = identity, a1 = identity, a2 = identity, a3 = identity
            var j = start
            while j + 4 <= end {
                a0 = combine(a0, x[j])
                a1 = combine(a1, x[j + 1])
                a2 = combine(a2, x[j + 2])
                a3 = combine(a3, x[j + 3])
                j += 4
            }
            while j < end {
                a0 = combine(a0, x[j])
                j += 1
            }
            total = combine(total, combine(combine(a0, a1), combine(a2, a3)))
            start = end
        }
        return total
    }
}

struct FloatSumReducer: Reducer {
    var identity: Float { 0 }
    @inline(__always) func combine(_ a: Float, _ b: Float) -> Float { a + b }
    @inline(__always) func fold(_ x: UnsafePointer<Float>, _ n: Int) -> Float { FastMath.sum(x, n) }
}

struct FloatMaximumReducer: Reducer {
    var identity: Float { -.infinity }
    @inline(__always) func combine(_ a: Float, _ b: Float) -> Float { a < b ? b : a }
    @inline(__always) func fold(_ x: UnsafePointer<Float>, _ n: Int) -> Float { FastMath.maximum(x, n) }
}

struct IntegerSumReducer<T: FixedWidthInteger>: Reducer {
    var identity: T { 0 }
    @inline(__always) func combine(_ a: T, _ b: T) -> T { a &+ b }
}

struct MaximumReducer<T: Comparable>: Reducer {
    let identity: T
    @inline(__always) func combine(_ a: T, _ b: T) -> T { a < b ? b : a }
}

/// ReduceSum (float32, int64, int32), ReduceMean (float32), ReduceMax and
/// ReduceMin (float32, int64, int32, int8, uint8, bool), ReduceProd (float32,
/// int64, int32), ReduceL1 and ReduceSumSquare (float32, float64, int64,
/// int32), ReduceL2 and ReduceLogSumExp (float32, float64).
///
/// Axes come from the `axes` attribute before opset 13 (ReduceSum) or 18
/// (the others), else from the optional second input; no axes means all
/// axes, or with `noop_with_empty_axes` none: Sum, Mean, Max, Min and Prod
/// then return the input, L1, L2, SumSquare and LogSumExp their element
/// function of it (|x|, |x|, x², x), as ONNX's reference does. Reducing an
/// empty set gives 0 (sum, L1, L2, sum of squares), NaN (mean), 1
/// (product), −inf (log-sum-exp) or the type's lowest (max) or highest
/// (min) value, ±inf for floats. Integers wrap on overflow.
///
/// L1, L2 and SumSquare map each element first and then sum; LogSumExp is
/// log Σ exp(x − m) + m with m the maximum of each reduced set (0 where it
/// is ±inf), so large inputs do not overflow.
///
/// Complexity: one pass over the input per group of adjacent reduced dims
/// (dims of size 1 are ignored, adjacent reduced dims are merged), so the
/// common cases — trailing dims (global pooling) or one middle dim — are one pass.
final class ReduceKernel: Kernel {
    private let setup: KernelSetup
    private let op: Op
    private let keepDims: Bool
    private let noopWithEmptyAxes: Bool
    private let attributeAxes: [Int]?
    private let axesFromInput: Bool

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        op = setup.op
        keepDims = (setup.node.int("keepdims") ?? 1) != 0
        noopWithEmptyAxes = (setup.node.int("noop_with_empty_axes") ?? 0) != 0
        axesFromInput = setup.opset >= (op == .reduceSum ? 13 : 18)
        attributeAxes = axesFromInput ? nil : setup.node.ints("axes")
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let data = try setup.required(inputs, 0, "data")
        var axes = attributeAxes ?? []
        if axesFromInput, let given = setup.optional(inputs, 1) {
            axes = try setup.integers(given, "axes")
        }
        if axes.isEmpty {
            // L1, L2, SumSquare and LogSumExp still map each element when nothing is reduced.
            let identity: Set<Op> = [.reduceSum, .reduceMean, .reduceMax, .reduceMin, .reduceProd]
            if noopWithEmptyAxes && identity.contains(op) { return [data] }
            if !noopWithEmptyAxes { axes = Array(0..<data.shape.rank) }
        }
        let reduced = Set(try setup.axes(axes, rank: data.shape.rank))
        let outputDims = data.shape.dims.enumerated().compactMap { axis, d -> Int? in
            reduced.contains(axis) ? (keepDims ? 1 : nil) : d
        }
        let outputShape = Shape(outputDims)
        let keptShape = Shape(data.shape.dims.enumerated().map { reduced.contains($0.offset) ? 1 : $0.element })
        switch (op, data.dtype) {
        case (.reduceSum, .float), (.reduceMean, .float):
            var result = reduce(FloatSumReducer(), data, reduced, outputShape, context)
            if op == .reduceMean {
                let count = reduced.map { data.shape[$0] }.reduce(1, *)
                result = mapElements(ScaleFunction(factor: 1 / Float(count)), result, context)
            }
            return [result]
        case (.reduceSum, .int64): return [reduce(IntegerSumReducer<Int64>(), data, reduced, outputShape, context)]
        case (.reduceSum, .int32): return [reduce(IntegerSumReducer<Int32>(), data, reduced, outputShape, context)]
        case (.reduceMax, .float):
            return [reduce(FloatMaximumReducer(), data, reduced, outputShape, context)]
        case (.reduceMax, .int64): return [reduce(MaximumReducer<Int64>(identity: .min), data, reduced, outputShape, context)]
        case (.reduceMax, .int32): return [reduce(MaximumReducer<Int32>(identity: .min), data, reduced, outputShape, context)]
        case (.reduceMax, .int8): return [reduce(MaximumReducer<Int8>(identity: .min), data, reduced, outputShape, context)]
        case (.reduceMax, .uint8), (.reduceMax, .bool):
            // Bools are bytes 0/1, so their maximum is logical or.
            return [reduce(MaximumReducer<UInt8>(identity: 0), data, reduced, outputShape, context)]
        case (.reduceMin, .float):
            return [reduce(MinimumReducer<Float>(identity: .infinity), data, reduced, outputShape, context)]
        case (.reduceMin, .int64): return [reduce(MinimumReducer<Int64>(identity: .max), data, reduced, outputShape, context)]
        case (.reduceMin, .int32): return [reduce(MinimumReducer<Int32>(identity: .max), data, reduced, outputShape, context)]
        case (.reduceMin, .int8): return [reduce(MinimumReducer<Int8>(identity: .max), data, reduced, outputShape, context)]
        case (.reduceMin, .uint8): return [reduce(MinimumReducer<UInt8>(identity: .max), data, reduced, outputShape, context)]
        case (.reduceMin, .bool):
            // The minimum of bytes 0/1 is logical and; of nothing, true.
            return [reduce(MinimumReducer<UInt8>(identity: 1), data, reduced, outputShape, context)]
        case (.reduceProd, .float): return [reduce(ProductReducer<Float>(), data, reduced, outputShape, context)]
        case (.reduceProd, .int64): return [reduce(IntegerProductReducer<Int64>(), data, reduced, outputShape, context)]
        case (.reduceProd, .int32): return [reduce(IntegerProductReducer<Int32>(), data, reduced, outputShape, context)]
        case (.reduceL1, .float), (.reduceL2, .float), (.reduceSumSquare, .float), (.reduceLogSumExp, .float):
            return [try realReduction(Float.self, data, reduced, keptShape, outputShape, context)]
        case (.reduceL1, .double), (.reduceL2, .double), (.reduceSumSquare, .double), (.reduceLogSumExp, .double):
            return [try realReduction(Double.self, data, reduced, keptShape, outputShape, context)]
        case (.reduceL1, .int64):
            let magnitudes = mapElements(WrappingAbsFunction<Int64>(), data, context)
            return [reduce(IntegerSumReducer<Int64>(), magnitudes, reduced, outputShape, context)]
        case (.reduceL1, .int32):
            let magnitudes = mapElements(WrappingAbsFunction<Int32>(), data, context)
            return [reduce(IntegerSumReducer<Int32>(), magnitudes, reduced, outputShape, context)]
        case (.reduceSumSquare, .int64):
            let squares = mapElements(WrappingSquareFunction<Int64>(), data, context)
            return [reduce(IntegerSumReducer<Int64>(), squares, reduced, outputShape, context)]
        case (.reduceSumSquare, .int32):
            let squares = mapElements(WrappingSquareFunction<Int32>(), data, context)
            return [reduce(IntegerSumReducer<Int32>(), squares, reduced, outputShape, context)]
        default:
            throw setup.error("dtype \(data.dtype.name) is not supported by \(setup.node.opType)")
        }
    }

    /// ReduceL1, ReduceL2, ReduceSumSquare or ReduceLogSumExp of a float32 or
    /// float64 tensor; `kept` is the output shape with the reduced dims as 1.
    private func realReduction<T: ReductionReal>(
        _: T.Type, _ data: Tensor, _ axes: Set<Int>, _ kept: Shape, _ shape: Shape, _ context: KernelContext
    ) throws -> Tensor {
        switch op {
        case .reduceL1:
            return reduce(T.sumReducer, mapElements(MagnitudeFunction<T>(), data, context), axes, shape, context)
        case .reduceSumSquare:
            return reduce(T.sumReducer, mapElements(SquaredFunction<T>(), data, context), axes, shape, context)
        case .reduceL2:
            let squares = reduce(T.sumReducer, mapElements(SquaredFunction<T>(), data, context), axes, shape, context)
            return mapElements(SquareRootFunction<T>(), squares, context)
        default:
            let maxima = reduce(MaximumReducer<T>(identity: -.infinity), data, axes, kept, context)
            let shifts = mapElements(FiniteOrZeroFunction<T>(), maxima, context)
            let shifted = broadcastBinary(MinusFunction<T>(), data, shifts, plan: try BroadcastPlan(data.shape, kept),
                                          as: data.dtype, context)
            let sums = reduce(T.sumReducer, mapElements(ExponentialFunction<T>(), shifted, context), axes, kept, context)
            let result = broadcastBinary(LogPlusFunction<T>(), sums, shifts, plan: try BroadcastPlan(kept, kept),
                                         as: data.dtype, context)
            return result.reshaped(shape)
        }
    }

    /// Reduces `data` over `axes` into a tensor of `shape`, one pass per
    /// group of adjacent reduced dims, innermost group first.
    private func reduce<R: Reducer>(
        _ reducer: R, _ data: Tensor, _ axes: Set<Int>, _ shape: Shape, _ context: KernelContext
    ) -> Tensor {
        let output = Tensor.uninitialized(data.dtype, shape)
        guard let target = output.mutableRawBytes else { return output }
        let result = target.assumingMemoryBound(to: R.Element.self)
        guard data.elementCount > 0, let source = data.rawBytes else {
            for i in 0..<shape.elementCount { result[i] = reducer.identity }
            return output
        }
        // Merged groups of (size, reduced), size-1 dims dropped.
        var groups: [(size: Int, reduced: Bool)] = []
        for (axis, d) in data.shape.dims.enumerated() where d != 1 {
            let isReduced = axes.contains(axis)
            if let last = groups.last, last.reduced == isReduced {
                groups[groups.count - 1].size *= d
            } else {
                groups.append((d, isReduced))
            }
        }
        var current = source.assumingMemoryBound(to: R.Element.self)
        var intermediate: Tensor?  // keeps `current` alive between passes
        var remaining = groups
        while let index = remaining.lastIndex(where: { $0.reduced }) {
            let outer = remaining[..<index].reduce(1) { $0 * $1.size }
            let inner = remaining[(index + 1)...].reduce(1) { $0 * $1.size }
            let length = remaining[index].size
            remaining.remove(at: index)
            if !remaining.contains(where: { $0.reduced }) {
                Self.pass(reducer, current, result, outer, length, inner, context)
                break
            }
            let next = Tensor.uninitialized(data.dtype, [outer * inner])
            guard let bytes = next.mutableRawBytes else { break }
            let pointer = bytes.assumingMemoryBound(to: R.Element.self)
            Self.pass(reducer, current, pointer, outer, length, inner, context)
            current = UnsafePointer(pointer)
            intermediate = next
        }
        if !groups.contains(where: { $0.reduced }) {
            // Only size-1 dims were reduced: the data is the result.
            for i in 0..<shape.elementCount { result[i] = current[i] }
        }
        return withExtendedLifetime(intermediate) { output }
    }

    /// [outer, length, inner] → [outer, inner].
    private static func pass<R: Reducer>(
        _ reducer: R, _ source: UnsafePointer<R.Element>, _ target: UnsafeMutablePointer<R.Element>,
        _ outer: Int, _ length: Int, _ inner: Int, _ context: KernelContext
    ) {
        if inner == 1 {
            context.parallelFor(outer, itemWork: length) { rows in
                for o in rows { target[o] = reducer.fold(source + o * length, length) }
            }
            return
        }
        let tile = Swift.min(inner, 4096)
        let tiles = (inner + tile - 1) / tile
        context.parallelFor(outer * tiles, itemWork: length * tile) { items in
            for item in items {
                let o = item / tiles, start = (item % tiles) * tile
                let width = Swift.min(tile, inner - start)
                let out = target + o * inner + start
                let first = source + o * length * inner + start
                for i in 0..<width { out[i] = first[i] }
                for k in 1..<Swift.max(length, 1) {
                    let row = first + k * inner
                    for i in 0..<width { out[i] = reducer.combine(out[i], row[i]) }
                }
            }
        }
    }
}

// MARK: - ArgMax, ArgMin

/// ArgMax and ArgMin, opsets 7–13: the int64 index along `axis` (default 0)
/// of the largest (smallest) element — the first one, or with
/// `select_last_index = 1` (opset 12) the last one, of equal elements;
/// `keepdims` (default 1) keeps the axis as a 1. float32, float64, int64,
/// int32, int8 and uint8 (bool as uint8).
///
/// Elements compare with `<`, so a NaN is chosen only where it comes first.
/// An empty axis has no extremum and is refused.
/// Complexity: one pass over the input; for an inner axis, rows of the
/// trailing dims are compared whole, so every step is a contiguous loop.
final class ArgExtremumKernel: Kernel {
    private let setup: KernelSetup
    private let largest: Bool
    private let axisAttribute: Int
    private let keepDims: Bool
    private let selectLast: Bool

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        largest = setup.op == .argMax
        axisAttribute = setup.node.int("axis") ?? 0
        keepDims = (setup.node.int("keepdims") ?? 1) != 0
        selectLast = (setup.node.int("select_last_index") ?? 0) != 0
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let data = try setup.required(inputs, 0, "data")
        let axis = try setup.axis(axisAttribute, rank: data.shape.rank)
        let dims = data.shape.dims
        let length = dims[axis]
        var outputDims = dims
        if keepDims { outputDims[axis] = 1 } else { outputDims.remove(at: axis) }
        let output = Tensor.uninitialized(.int64, Shape(outputDims))
        guard output.elementCount > 0 else { return [output] }
        guard length > 0 else {
            throw setup.error("axis \(axis) of \(data.shape) is empty: it has no \(largest ? "largest" : "smallest") element")
        }
        let outer = dims[..<axis].reduce(1, *), inner = dims[(axis + 1)...].reduce(1, *)
        switch data.dtype {
        case .float: search(Float.self, data, output, outer, length, inner, context)
        case .double: search(Double.self, data, output, outer, length, inner, context)
        case .int64: search(Int64.self, data, output, outer, length, inner, context)
        case .int32: search(Int32.self, data, output, outer, length, inner, context)
        case .int8: search(Int8.self, data, output, outer, length, inner, context)
        case .uint8, .bool: search(UInt8.self, data, output, outer, length, inner, context)
        default: throw setup.error("dtype \(data.dtype.name) is not supported by \(setup.node.opType)")
        }
        return [output]
    }

    /// [outer, length, inner] → indices [outer, inner].
    private func search<T: Comparable>(_: T.Type, _ data: Tensor, _ output: Tensor,
                                       _ outer: Int, _ length: Int, _ inner: Int, _ context: KernelContext) {
        guard let source = data.rawBytes?.assumingMemoryBound(to: T.self),
              let target = output.mutableRawBytes?.assumingMemoryBound(to: Int64.self) else { return }
        // `better(v, best)`: v replaces the current choice.
        let largest = self.largest, last = selectLast
        @inline(__always) func better(_ v: T, _ best: T) -> Bool {
            largest ? (last ? v >= best : v > best) : (last ? v <= best : v < best)
        }
        context.parallelFor(outer, itemWork: length * inner) { range in
            var best = [T](repeating: source[0], count: inner)
            best.withUnsafeMutableBufferPointer { values in
                for o in range {
                    let block = source + o * length * inner, indices = target + o * inner
                    for i in 0..<inner {
                        values[i] = block[i]
                        indices[i] = 0
                    }
                    for k in 1..<Swift.max(length, 1) {
                        let row = block + k * inner
                        for i in 0..<inner where better(row[i], values[i]) {
                            values[i] = row[i]
                            indices[i] = Int64(k)
                        }
                    }
                }
            }
        }
    }
}

// MARK: - CumSum

/// Sums in the element type, wrapping for integers (`IntegerSumReducer`) and
/// in order for floats, as a running sum does.
struct FloatingSumReducer<T: FloatingPoint>: Reducer {
    var identity: T { 0 }
    @inline(__always) func combine(_ a: T, _ b: T) -> T { a + b }
}

/// CumSum, opsets 11–14: running sums along the axis given as input 1 (a
/// scalar or one-element int64/int32 tensor, negative counting from the
/// end); `exclusive = 1` leaves each element out of its own sum (the first
/// is 0), `reverse = 1` sums from the end. float32, float64, int64, int32
/// (integers wrap on overflow).
///
/// Complexity: one pass; for an inner axis, whole rows of the trailing dims
/// are added at a time, so each step is a contiguous loop.
final class CumSumKernel: Kernel {
    private let setup: KernelSetup
    private let exclusive: Bool
    private let reverse: Bool

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        exclusive = (setup.node.int("exclusive") ?? 0) != 0
        reverse = (setup.node.int("reverse") ?? 0) != 0
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let x = try setup.required(inputs, 0, "x")
        let axisTensor = try setup.required(inputs, 1, "axis")
        let given = try setup.integers(axisTensor, "axis")
        guard given.count == 1, axisTensor.shape.rank <= 1 else {
            throw setup.error("axis must hold one integer, got shape \(axisTensor.shape)")
        }
        let axis = try setup.axis(given[0], rank: x.shape.rank)
        let dims = x.shape.dims
        let outer = dims[..<axis].reduce(1, *), length = dims[axis], inner = dims[(axis + 1)...].reduce(1, *)
        let output = Tensor.uninitialized(x.dtype, x.shape)
        switch x.dtype {
        case .float: scan(FloatingSumReducer<Float>(), x, output, outer, length, inner, context)
        case .double: scan(FloatingSumReducer<Double>(), x, output, outer, length, inner, context)
        case .int64: scan(IntegerSumReducer<Int64>(), x, output, outer, length, inner, context)
        case .int32: scan(IntegerSumReducer<Int32>(), x, output, outer, length, inner, context)
        default: throw setup.error("dtype \(x.dtype.name) is not supported by CumSum (float32, float64, int64, int32)")
        }
        return [output]
    }

    /// [outer, length, inner]: running `reducer` sums along the middle dim.
    private func scan<R: Reducer>(_ reducer: R, _ x: Tensor, _ output: Tensor,
                                  _ outer: Int, _ length: Int, _ inner: Int, _ context: KernelContext) {
        guard x.elementCount > 0, let source = x.rawBytes?.assumingMemoryBound(to: R.Element.self),
              let target = output.mutableRawBytes?.assumingMemoryBound(to: R.Element.self) else { return }
        let exclusive = self.exclusive, reverse = self.reverse
        context.parallelFor(outer, itemWork: length * inner) { range in
            var sums = [R.Element](repeating: reducer.identity, count: inner)
            sums.withUnsafeMutableBufferPointer { running in
                for o in range {
                    for i in 0..<inner { running[i] = reducer.identity }
                    for step in 0..<length {
                        let k = reverse ? length - 1 - step : step
                        let offset = (o * length + k) * inner
                        let row = source + offset, out = target + offset
                        if exclusive {
                            for i in 0..<inner {
                                out[i] = running[i]
                                running[i] = reducer.combine(running[i], row[i])
                            }
                        } else {
                            for i in 0..<inner {
                                running[i] = reducer.combine(running[i], row[i])
                                out[i] = running[i]
                            }
                        }
                    }
                }
            }
        }
    }
}

struct MinimumReducer<T: Comparable>: Reducer {
    let identity: T
    @inline(__always) func combine(_ a: T, _ b: T) -> T { b < a ? b : a }
}

struct ProductReducer<T: FloatingPoint>: Reducer {
    var identity: T { 1 }
    @inline(__always) func combine(_ a: T, _ b: T) -> T { a * b }
}

struct IntegerProductReducer<T: FixedWidthInteger>: Reducer {
    var identity: T { 1 }
    @inline(__always) func combine(_ a: T, _ b: T) -> T { a &* b }
}

/// float32 and float64 with the sum and the exp and log that ReduceL1, L2,
/// SumSquare and LogSumExp need: float32 sums through `FastMath.sum` and
/// exponentiates through `FastMath.exp`, float64 through libm.
protocol ReductionReal: BinaryFloatingPoint {
    associatedtype Sum: Reducer where Sum.Element == Self
    static var sumReducer: Sum { get }
    static func exponential(_ x: Self) -> Self
    static func logarithm(_ x: Self) -> Self
}

extension Float: ReductionReal {
    static var sumReducer: FloatSumReducer { FloatSumReducer() }
    @inline(__always) static func exponential(_ x: Float) -> Float { FastMath.exp(x) }
    @inline(__always) static func logarithm(_ x: Float) -> Float { logf(x) }
}

extension Double: ReductionReal {
    static var sumReducer: FloatingSumReducer<Double> { FloatingSumReducer() }
    @inline(__always) static func exponential(_ x: Double) -> Double { exp(x) }
    @inline(__always) static func logarithm(_ x: Double) -> Double { log(x) }
}

struct MagnitudeFunction<T: FloatingPoint>: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: T) -> T { Swift.abs(x) }
}

struct SquaredFunction<T: FloatingPoint>: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: T) -> T { x * x }
}

struct WrappingSquareFunction<T: FixedWidthInteger>: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: T) -> T { x &* x }
}

struct SquareRootFunction<T: FloatingPoint>: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: T) -> T { x.squareRoot() }
}

struct ExponentialFunction<T: ReductionReal>: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: T) -> T { T.exponential(x) }
}

/// The shift LogSumExp subtracts: the maximum, or 0 where it is ±inf (an
/// empty set, or infinite inputs, where subtracting would give NaN).
struct FiniteOrZeroFunction<T: FloatingPoint>: UnaryFunction {
    @inline(__always) func callAsFunction(_ x: T) -> T { x.isFinite ? x : 0 }
}

/// log(sum) + shift.
struct LogPlusFunction<T: ReductionReal>: BinaryFunction {
    @inline(__always) func callAsFunction(_ sum: T, _ shift: T) -> T { T.logarithm(sum) + shift }
}

struct ScaleFunction: UnaryFunction {
    let factor: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x * factor }
}
