import CleaveIR

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A strided view of a source tensor: Transpose (permuted strides), Slice
/// (an offset and scaled, possibly negative strides) and Expand (zero
/// strides) are each one `StridedView` copied into a contiguous output.
struct StridedView {
    /// Output dims.
    var dims: [Int]
    /// Source strides in elements, one per output dim (0 repeats, negative walks back).
    var strides: [Int]
    /// Source element of output element 0.
    var offset: Int

    var count: Int { dims.reduce(1, *) }

    /// Drops size-1 dims and merges neighbours that are contiguous in the
    /// source, so the inner loop is as long as possible.
    func simplified() -> StridedView {
        var dims: [Int] = [], strides: [Int] = []
        for (d, s) in zip(self.dims, self.strides) where d != 1 {
            if let last = dims.indices.last, strides[last] == s * d {
                dims[last] *= d
                strides[last] = s
            } else {
                dims.append(d)
                strides.append(s)
            }
        }
        if dims.isEmpty {
            dims = [1]
            strides = [1]
        }
        return StridedView(dims: dims, strides: strides, offset: offset)
    }

    /// Copies the view of `source` (elements of `elementSize` bytes) into the
    /// contiguous `target`, row by row along the innermost dim: a row with
    /// source stride 1 is one memcpy, stride 0 a fill, anything else a
    /// gather loop over whole elements. Rows are split across threads.
    func copy(from source: UnsafeRawPointer, to target: UnsafeMutableRawPointer, elementSize: Int, _ context: KernelContext) {
        let view = simplified()
        let total = view.count
        guard total > 0 else { return }
        let n = view.dims.count
        let length = view.dims[n - 1], step = view.strides[n - 1]
        let rows = total / length
        context.parallelFor(rows, grain: Swift.max(1, elementwiseGrain / length)) { range in
            var counters = [Int](repeating: 0, count: n)
            var rest = range.lowerBound
            var offset = view.offset
            for d in (0..<(n - 1)).reversed() {
                counters[d] = rest % view.dims[d]
                rest /= view.dims[d]
                offset += counters[d] * view.strides[d]
            }
            for row in range {
                copyRow(source, offset, step, target + row * length * elementSize, length, elementSize)
                var d = n - 2
                while d >= 0 {
                    counters[d] += 1
                    offset += view.strides[d]
                    if counters[d] < view.dims[d] { break }
                    offset -= view.dims[d] * view.strides[d]
                    counters[d] = 0
                    d -= 1
                }
            }
        }
    }
}

/// Copies `count` elements starting at element `start` of `source`, `step` apart, to `target`.
@inline(__always)
func copyRow(_ source: UnsafeRawPointer, _ start: Int, _ step: Int, _ target: UnsafeMutableRawPointer,
             _ count: Int, _ elementSize: Int) {
    if step == 1 {
        target.copyMemory(from: source + start * elementSize, byteCount: count * elementSize)
        return
    }
    switch elementSize {
    case 1: gatherRow(UInt8.self, source, start, step, target, count)
    case 2: gatherRow(UInt16.self, source, start, step, target, count)
    case 4: gatherRow(UInt32.self, source, start, step, target, count)
    case 8: gatherRow(UInt64.self, source, start, step, target, count)
    default:
        for i in 0..<count {
            (target + i * elementSize).copyMemory(from: source + (start + i * step) * elementSize, byteCount: elementSize)
        }
    }
}

@inline(__always)
private func gatherRow<T: FixedWidthInteger>(_ type: T.Type, _ source: UnsafeRawPointer, _ start: Int, _ step: Int,
                                             _ target: UnsafeMutableRawPointer, _ count: Int) {
    let from = source.assumingMemoryBound(to: T.self) + start
    let to = target.assumingMemoryBound(to: T.self)
    if step == 0 {
        let value = from[0]
        for i in 0..<count { to[i] = value }
    } else {
        for i in 0..<count { to[i] = from[i * step] }
    }
}

/// Fills `count` elements of `target` with the `elementSize` bytes at `value`.
func fillElements(_ target: UnsafeMutableRawPointer, count: Int, with value: UnsafeRawPointer, elementSize: Int) {
    switch elementSize {
    case 1: fillRow(UInt8.self, target, count, value)
    case 2: fillRow(UInt16.self, target, count, value)
    case 4: fillRow(UInt32.self, target, count, value)
    case 8: fillRow(UInt64.self, target, count, value)
    default:
        for i in 0..<count { (target + i * elementSize).copyMemory(from: value, byteCount: elementSize) }
    }
}

@inline(__always)
private func fillRow<T: FixedWidthInteger>(_ type: T.Type, _ target: UnsafeMutableRawPointer, _ count: Int, _ value: UnsafeRawPointer) {
    let v = value.loadUnaligned(as: T.self)
    let to = target.assumingMemoryBound(to: T.self)
    for i in 0..<count { to[i] = v }
}
