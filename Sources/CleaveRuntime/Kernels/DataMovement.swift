import CleaveIR

/// Ops that only move elements. All work on any dtype with a fixed element
/// size, copying whole elements by size, never looking at values.

// MARK: - Concat

/// Concat along `axis` (negative counts from the end).
final class ConcatKernel: Kernel {
    private let setup: KernelSetup
    private let axisAttribute: Int

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        guard let axis = setup.node.int("axis") else { throw setup.error("attribute 'axis' is missing") }
        axisAttribute = axis
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let parts = inputs.compactMap { $0 }
        guard let first = parts.first else { throw setup.error("needs at least one input") }
        let size = try setup.elementSize(first)
        let rank = first.shape.rank
        let axis = try setup.axis(axisAttribute, rank: rank)
        var dims = first.shape.dims
        dims[axis] = 0
        for (i, part) in parts.enumerated() {
            guard part.dtype == first.dtype, part.shape.rank == rank,
                  (0..<rank).allSatisfy({ $0 == axis || part.shape[$0] == first.shape[$0] }) else {
                throw setup.error("input \(i) is \(part.type), which cannot be joined to \(first.type) along axis \(axis)")
            }
            dims[axis] += part.shape[axis]
        }
        let output = Tensor.uninitialized(first.dtype, try setup.shape(dims, "output shape"))
        guard let target = output.mutableRawBytes else { return [output] }
        let outer = dims[..<axis].reduce(1, *)
        let inner = dims[(axis + 1)...].reduce(1, *) * size
        let rowBytes = dims[axis] * inner
        var offset = 0
        for part in parts {
            let chunk = part.shape[axis] * inner
            if chunk > 0, let source = part.rawBytes {
                for o in 0..<outer {
                    (target + o * rowBytes + offset).copyMemory(from: source + o * chunk, byteCount: chunk)
                }
            }
            offset += chunk
        }
        return [output]
    }
}

// MARK: - Split

/// Split along `axis` (default 0). The sizes come from the `split`
/// attribute before opset 13, the optional `split` input from 13; without
/// them the dim is cut into equal parts, one per output — from opset 18
/// `num_outputs` parts of ceil(dim / n), the last one smaller.
final class SplitKernel: Kernel {
    private let setup: KernelSetup
    private let axisAttribute: Int

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        axisAttribute = setup.node.int("axis") ?? 0
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let input = try setup.required(inputs, 0, "input")
        let size = try setup.elementSize(input)
        let axis = try setup.axis(axisAttribute, rank: input.shape.rank)
        let length = input.shape[axis]
        let outputs = setup.node.outputs.count
        var sizes: [Int]
        if setup.opset < 13, let attribute = setup.node.ints("split") {
            sizes = attribute
        } else if setup.opset >= 13, let given = setup.optional(inputs, 1) {
            sizes = try setup.integers(given, "split")
        } else if let parts = setup.node.int("num_outputs") {
            guard parts > 0 else { throw setup.error("num_outputs must be positive, got \(parts)") }
            let chunk = (length + parts - 1) / parts
            sizes = (0..<parts).map { Swift.max(0, Swift.min(chunk, length - $0 * chunk)) }
        } else {
            guard outputs > 0, length % outputs == 0 else {
                throw setup.error("dim \(length) of axis \(axis) does not split into \(outputs) equal parts")
            }
            sizes = [Int](repeating: length / outputs, count: outputs)
        }
        guard sizes.allSatisfy({ $0 >= 0 && $0 <= length }), sizes.reduce(0, +) == length else {
            throw setup.error("split sizes \(sizes) do not add up to dim \(length) of axis \(axis)")
        }
        guard sizes.count == outputs else {
            throw setup.error("split gives \(sizes.count) parts, the node has \(outputs) outputs")
        }
        let outer = input.shape.dims[..<axis].reduce(1, *)
        let inner = input.shape.dims[(axis + 1)...].reduce(1, *) * size
        var results: [Tensor] = []
        var offset = 0
        for part in sizes {
            var dims = input.shape.dims
            dims[axis] = part
            let output = Tensor.uninitialized(input.dtype, Shape(dims))
            let chunk = part * inner
            if chunk > 0, let source = input.rawBytes, let target = output.mutableRawBytes {
                for o in 0..<outer {
                    (target + o * chunk).copyMemory(from: source + o * length * inner + offset, byteCount: chunk)
                }
            }
            offset += chunk
            results.append(output)
        }
        return results
    }
}

// MARK: - Slice

/// Slice: starts/ends (and axes) as attributes before opset 10, as inputs
/// with optional axes and steps from 10. Negative starts/ends count from
/// the end; they are clamped to the dim as ONNX specifies (to [0, d] for
/// positive steps, [−1, d−1] for negative), so INT_MAX-style ends work.
final class SliceKernel: Kernel {
    private let setup: KernelSetup

    init(_ setup: KernelSetup) throws { self.setup = setup }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let data = try setup.required(inputs, 0, "data")
        let size = try setup.elementSize(data)
        let rank = data.shape.rank
        var starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?
        if setup.opset < 10 {
            guard let s = setup.node.ints("starts"), let e = setup.node.ints("ends") else {
                throw setup.error("attributes 'starts' and 'ends' are required")
            }
            starts = s
            ends = e
            axes = setup.node.ints("axes")
            steps = nil
        } else {
            starts = try setup.integers(try setup.required(inputs, 1, "starts"), "starts")
            ends = try setup.integers(try setup.required(inputs, 2, "ends"), "ends")
            axes = try setup.optional(inputs, 3).map { try setup.integers($0, "axes") }
            steps = try setup.optional(inputs, 4).map { try setup.integers($0, "steps") }
        }
        let axisList = try setup.axes(axes ?? Array(0..<starts.count), rank: rank)
        let stepList = steps ?? [Int](repeating: 1, count: starts.count)
        guard ends.count == starts.count, axisList.count == starts.count, stepList.count == starts.count else {
            throw setup.error("starts, ends, axes and steps must have the same length (\(starts.count), \(ends.count), \(axisList.count), \(stepList.count))")
        }
        let strides = data.shape.strides
        var view = StridedView(dims: data.shape.dims, strides: strides, offset: 0)
        for (i, axis) in axisList.enumerated() {
            let d = data.shape[axis], step = stepList[i]
            guard step != 0 else { throw setup.error("steps must not be 0") }
            var start = starts[i], end = ends[i]
            if start < 0 { start += d }
            if end < 0 { end += d }
            // Spans are at most d + 1, so only the step can be huge: divide by its magnitude.
            let span: Int
            if step > 0 {
                start = Swift.min(Swift.max(start, 0), d)
                end = Swift.min(Swift.max(end, 0), d)
                span = end - start
            } else {
                start = Swift.min(Swift.max(start, 0), d - 1)
                end = Swift.min(Swift.max(end, -1), d - 1)
                span = start - end
            }
            let count = span > 0 ? 1 + Int(UInt(span - 1) / step.magnitude) : 0
            view.dims[axis] = count
            // With two or more elements |step| < d, so the product cannot overflow.
            view.strides[axis] = count > 1 ? strides[axis] * step : 0
            if count > 0 { view.offset += start * strides[axis] }
        }
        let output = Tensor.uninitialized(data.dtype, Shape(view.dims))
        if let source = data.rawBytes, let target = output.mutableRawBytes {
            view.copy(from: source, to: target, elementSize: size, context)
        }
        return [output]
    }
}

// MARK: - Gather

/// Gather along `axis` (default 0) with int64 or int32 indices of any shape;
/// negative indices count from the end.
final class GatherKernel: Kernel {
    private let setup: KernelSetup
    private let axisAttribute: Int

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        axisAttribute = setup.node.int("axis") ?? 0
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let data = try setup.required(inputs, 0, "data")
        let indexTensor = try setup.required(inputs, 1, "indices")
        let size = try setup.elementSize(data)
        let axis = try setup.axis(axisAttribute, rank: data.shape.rank)
        let length = data.shape[axis]
        let indices = try setup.integers(indexTensor, "indices").map { try setup.index($0, dim: length, axis: axis) }
        let dims = Array(data.shape.dims[..<axis]) + indexTensor.shape.dims + Array(data.shape.dims[(axis + 1)...])
        let output = Tensor.uninitialized(data.dtype, Shape(dims))
        guard let source = data.rawBytes, let target = output.mutableRawBytes else { return [output] }
        let outer = data.shape.dims[..<axis].reduce(1, *)
        let inner = data.shape.dims[(axis + 1)...].reduce(1, *) * size
        guard inner > 0 else { return [output] }
        var position = target
        for o in 0..<outer {
            let block = source + o * length * inner
            for index in indices {
                position.copyMemory(from: block + index * inner, byteCount: inner)
                position += inner
            }
        }
        return [output]
    }
}

// MARK: - GatherElements

/// GatherElements, opsets 11–13: `out[c] = data[c with c[axis] = indices[c]]`
/// for every coordinate c of `indices`, which has data's rank and no larger
/// dim except on `axis` (default 0); int64 or int32 indices, negative ones
/// counting from the end. Any element type.
/// Complexity: one pass over the indices.
final class GatherElementsKernel: Kernel {
    private let setup: KernelSetup
    private let axisAttribute: Int

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        axisAttribute = setup.node.int("axis") ?? 0
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let data = try setup.required(inputs, 0, "data")
        let indexTensor = try setup.required(inputs, 1, "indices")
        let size = try setup.elementSize(data)
        let rank = data.shape.rank
        let axis = try setup.axis(axisAttribute, rank: rank)
        let shape = indexTensor.shape
        guard shape.rank == rank, (0..<rank).allSatisfy({ $0 == axis || shape[$0] <= data.shape[$0] }) else {
            throw setup.error("indices \(shape) must have the rank of data \(data.shape) and no larger dim except on axis \(axis)")
        }
        let length = data.shape[axis]
        let indices = try setup.integers(indexTensor, "indices").map { try setup.index($0, dim: length, axis: axis) }
        let output = Tensor.uninitialized(data.dtype, shape)
        guard let source = data.rawBytes, let target = output.mutableRawBytes else { return [output] }
        // The data offset of every output element, its axis coordinate replaced by its index.
        let strides = data.shape.strides
        var offsets = [Int](repeating: 0, count: indices.count)
        var counter = [Int](repeating: 0, count: rank)
        var base = 0
        for j in indices.indices {
            offsets[j] = base + indices[j] * strides[axis]
            var d = rank - 1
            while d >= 0 {
                counter[d] += 1
                if d != axis { base += strides[d] }
                if counter[d] < shape[d] { break }
                if d != axis { base -= shape[d] * strides[d] }
                counter[d] = 0
                d -= 1
            }
        }
        copyElements(source, offsets, target, size)
        return [output]
    }
}

// MARK: - ScatterND

/// ScatterND, opsets 11–18: a copy of `data` in which each index tuple of
/// `indices` (its last dim k ≤ data's rank; int64 or int32, negative
/// counting from the end) names a slice `data[i0, …, ik−1, :, …]` that the
/// matching slice of `updates` (shape `indices[:-1] + data[k:]`) replaces,
/// or with `reduction` add, mul (opset 16), max or min (opset 18) combines
/// with. Updates apply in order, so with "none" a repeated index keeps the
/// last. Any element type for "none"; float32, float64, int64 and int32
/// (integers wrap) for the reductions.
/// Complexity: a copy of data, then one pass over updates.
final class ScatterNDKernel: Kernel {
    private enum Reduction: String {
        case none, add, mul, max, min
    }

    private let setup: KernelSetup
    private let reduction: Reduction

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        let name = setup.node.string("reduction") ?? "none"
        guard let reduction = Reduction(rawValue: name) else {
            throw setup.error("reduction '\(name)' is not one of 'none', 'add', 'mul', 'max', 'min'")
        }
        self.reduction = reduction
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let data = try setup.required(inputs, 0, "data")
        let indexTensor = try setup.required(inputs, 1, "indices")
        let updates = try setup.required(inputs, 2, "updates")
        let size = try setup.elementSize(data)
        guard let k = indexTensor.shape.dims.last, k <= data.shape.rank else {
            throw setup.error("indices \(indexTensor.shape) must have rank ≥ 1 and a last dim of at most data's rank \(data.shape.rank)")
        }
        let expected = Shape(Array(indexTensor.shape.dims.dropLast()) + Array(data.shape.dims[k...]))
        guard updates.shape == expected, updates.dtype == data.dtype else {
            throw setup.error("updates \(updates.type) must be \(data.dtype.name)\(expected) for data \(data.shape) and indices \(indexTensor.shape)")
        }
        let raw = try setup.integers(indexTensor, "indices")
        let slice = data.shape.dims[k...].reduce(1, *)
        let strides = data.shape.strides
        let tuples = indexTensor.shape.dims.dropLast().reduce(1, *)
        var offsets = [Int](repeating: 0, count: tuples)
        for t in 0..<tuples {
            for axis in 0..<k {
                offsets[t] += try setup.index(raw[t * k + axis], dim: data.shape[axis], axis: axis) * strides[axis]
            }
        }
        let output = Tensor.uninitialized(data.dtype, data.shape)
        guard let target = output.mutableRawBytes else { return [output] }
        if let source = data.rawBytes { target.copyMemory(from: source, byteCount: data.byteCount) }
        guard slice > 0, let from = updates.rawBytes else { return [output] }
        switch (reduction, data.dtype) {
        case (.none, _):
            for (t, offset) in offsets.enumerated() {
                (target + offset * size).copyMemory(from: from + t * slice * size, byteCount: slice * size)
            }
        case (.add, .float): combine(PlusFunction<Float>(), from, target, offsets, slice)
        case (.add, .double): combine(PlusFunction<Double>(), from, target, offsets, slice)
        case (.add, .int64): combine(WrappingPlusFunction<Int64>(), from, target, offsets, slice)
        case (.add, .int32): combine(WrappingPlusFunction<Int32>(), from, target, offsets, slice)
        case (.mul, .float): combine(TimesFunction<Float>(), from, target, offsets, slice)
        case (.mul, .double): combine(TimesFunction<Double>(), from, target, offsets, slice)
        case (.mul, .int64): combine(WrappingTimesFunction<Int64>(), from, target, offsets, slice)
        case (.mul, .int32): combine(WrappingTimesFunction<Int32>(), from, target, offsets, slice)
        case (.max, .float): combine(MaximumFunction<Float>(), from, target, offsets, slice)
        case (.max, .double): combine(MaximumFunction<Double>(), from, target, offsets, slice)
        case (.max, .int64): combine(MaximumFunction<Int64>(), from, target, offsets, slice)
        case (.max, .int32): combine(MaximumFunction<Int32>(), from, target, offsets, slice)
        case (.min, .float): combine(MinimumFunction<Float>(), from, target, offsets, slice)
        case (.min, .double): combine(MinimumFunction<Double>(), from, target, offsets, slice)
        case (.min, .int64): combine(MinimumFunction<Int64>(), from, target, offsets, slice)
        case (.min, .int32): combine(MinimumFunction<Int32>(), from, target, offsets, slice)
        default:
            throw setup.error("reduction '\(reduction.rawValue)' does not take \(data.dtype.name) (float32, float64, int64, int32)")
        }
        return [output]
    }

    /// `target[offset + j] = f(target[offset + j], updates[t·slice + j])` for each tuple t, in order.
    private func combine<F: BinaryFunction>(_ f: F, _ updates: UnsafeRawPointer, _ target: UnsafeMutableRawPointer,
                                            _ offsets: [Int], _ slice: Int) where F.Output == F.Element {
        let from = updates.assumingMemoryBound(to: F.Element.self)
        let to = target.assumingMemoryBound(to: F.Element.self)
        for (t, offset) in offsets.enumerated() {
            let row = from + t * slice, out = to + offset
            for j in 0..<slice { out[j] = f(out[j], row[j]) }
        }
    }
}

/// `target[j] = source[offsets[j]]` for elements of `size` bytes.
func copyElements(_ source: UnsafeRawPointer, _ offsets: [Int], _ target: UnsafeMutableRawPointer, _ size: Int) {
    func typed<T: FixedWidthInteger>(_: T.Type) {
        let from = source.assumingMemoryBound(to: T.self), to = target.assumingMemoryBound(to: T.self)
        for (j, offset) in offsets.enumerated() { to[j] = from[offset] }
    }
    switch size {
    case 1: typed(UInt8.self)
    case 2: typed(UInt16.self)
    case 4: typed(UInt32.self)
    case 8: typed(UInt64.self)
    default:
        for (j, offset) in offsets.enumerated() {
            (target + j * size).copyMemory(from: source + offset * size, byteCount: size)
        }
    }
}

// MARK: - Transpose

/// Transpose by `perm` (default: dims reversed).
final class TransposeKernel: Kernel {
    private let setup: KernelSetup

    init(_ setup: KernelSetup) throws { self.setup = setup }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let data = try setup.required(inputs, 0, "data")
        let size = try setup.elementSize(data)
        let rank = data.shape.rank
        let perm = setup.node.ints("perm") ?? Array((0..<rank).reversed())
        guard perm.sorted() == Array(0..<rank) else {
            throw setup.error("perm \(perm) is not a permutation of the \(rank) dims of \(data.shape)")
        }
        let strides = data.shape.strides
        let view = StridedView(dims: perm.map { data.shape[$0] }, strides: perm.map { strides[$0] }, offset: 0)
        let output = Tensor.uninitialized(data.dtype, Shape(view.dims))
        if let source = data.rawBytes, let target = output.mutableRawBytes {
            view.copy(from: source, to: target, elementSize: size, context)
        }
        return [output]
    }
}

// MARK: - Expand

/// Expand: broadcast the input to `shape` (itself broadcast with the input's
/// shape, so a 1 in `shape` keeps the input's dim).
final class ExpandKernel: Kernel {
    private let setup: KernelSetup

    init(_ setup: KernelSetup) throws { self.setup = setup }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let data = try setup.required(inputs, 0, "input")
        let size = try setup.elementSize(data)
        let requested = try setup.integers(try setup.required(inputs, 1, "shape"), "shape")
        let target = try setup.shape(requested, "shape")
        let shape: Shape
        do {
            shape = try broadcast(data.shape, target)
        } catch let failure as CleaveError {
            throw setup.error(failure.message)
        }
        _ = try setup.shape(shape.dims, "output shape")
        let rank = shape.rank
        let own = data.shape.strides
        let strides = (0..<rank).map { axis -> Int in
            let i = axis - (rank - data.shape.rank)
            return i < 0 || data.shape[i] == 1 ? 0 : own[i]
        }
        let output = Tensor.uninitialized(data.dtype, shape)
        if let source = data.rawBytes, let destination = output.mutableRawBytes {
            StridedView(dims: shape.dims, strides: strides, offset: 0)
                .copy(from: source, to: destination, elementSize: size, context)
        }
        return [output]
    }
}

// MARK: - Tile

/// Tile, opsets 6–13: the input repeated `repeats[i]` times along axis i.
/// The output [r0·d0, r1·d1, …] is, in row-major order, [r0, d0, r1, d1, …]
/// reading the input with stride 0 along every repeat dim, so it is one
/// `StridedView` copy.
final class TileKernel: Kernel {
    private let setup: KernelSetup

    init(_ setup: KernelSetup) throws { self.setup = setup }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let data = try setup.required(inputs, 0, "input")
        let size = try setup.elementSize(data)
        let repeats = try setup.integers(try setup.required(inputs, 1, "repeats"), "repeats")
        let rank = data.shape.rank
        guard repeats.count == rank, repeats.allSatisfy({ $0 >= 0 }) else {
            throw setup.error("repeats \(repeats) must be \(rank) non-negative counts, one per dim of the input \(data.shape)")
        }
        let own = data.shape.strides
        var output: [Int] = [], dims: [Int] = [], strides: [Int] = []
        for axis in 0..<rank {
            let (product, overflow) = data.shape[axis].multipliedReportingOverflow(by: repeats[axis])
            guard !overflow else { throw setup.error("repeats \(repeats) of \(data.shape) overflow") }
            output.append(product)
            dims += [repeats[axis], data.shape[axis]]
            strides += [0, own[axis]]
        }
        let result = Tensor.uninitialized(data.dtype, try setup.shape(output, "output shape"))
        if let source = data.rawBytes, let target = result.mutableRawBytes {
            StridedView(dims: dims, strides: strides, offset: 0).copy(from: source, to: target, elementSize: size, context)
        }
        return [result]
    }
}
