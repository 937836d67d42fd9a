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
        if step != 1, [1, 2, 4, 8].contains(elementSize),
           let k = view.strides.dropLast().firstIndex(of: 1), view.dims[k] >= 4, length >= 4 {
            switch elementSize {
            case 1: view.transposeTiles(UInt8.self, k, source, target, context)
            case 2: view.transposeTiles(UInt16.self, k, source, target, context)
            case 4: view.transposeTiles(UInt32.self, k, source, target, context)
            default: view.transposeTiles(UInt64.self, k, source, target, context)
            }
            return
        }
        let rows = total / length
        context.parallelFor(rows, itemWork: length) { range in
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

extension StridedView {
    /// Side of the square tiles `transposeTiles` moves: 16 × 16 elements of
    /// up to 8 bytes keep both the rows read and the rows written in L1.
    static let tile = 16

    /// The copy when the source is contiguous along output dim `k` but not
    /// along the innermost output dim (NCHW ↔ NHWC and other transposes):
    /// a row-by-row copy would read one element per cache line, so the
    /// (k, innermost) plane is copied in square tiles instead.
    func transposeTiles<T: FixedWidthInteger>(
        _ type: T.Type, _ k: Int, _ source: UnsafeRawPointer, _ target: UnsafeMutableRawPointer, _ context: KernelContext
    ) {
        let n = dims.count
        let rows = dims[k], columns = dims[n - 1], columnStride = strides[n - 1]
        var outputStrides = [Int](repeating: 1, count: n)
        for d in stride(from: n - 2, through: 0, by: -1) { outputStrides[d] = outputStrides[d + 1] * dims[d + 1] }
        let rowStride = outputStrides[k]
        // Every other dim indexes an independent plane.
        let planeDims = (0..<(n - 1)).filter { $0 != k }
        let planes = planeDims.reduce(1) { $0 * dims[$1] }
        let tile = Self.tile
        let rowTiles = (rows + tile - 1) / tile
        let from = source.assumingMemoryBound(to: T.self)
        let to = target.assumingMemoryBound(to: T.self)
        context.parallelFor(planes * rowTiles, itemWork: tile * columns) { items in
            for item in items {
                var rest = item / rowTiles
                var sourceBase = offset, targetBase = 0
                for d in planeDims.reversed() {
                    let index = rest % dims[d]
                    rest /= dims[d]
                    sourceBase += index * strides[d]
                    targetBase += index * outputStrides[d]
                }
                let r0 = (item % rowTiles) * tile, r1 = Swift.min(r0 + tile, rows)
                var c0 = 0
                while c0 < columns {
                    let c1 = Swift.min(c0 + tile, columns)
                    for r in r0..<r1 {
                        let read = from + sourceBase + r
                        let write = to + targetBase + r * rowStride
                        for c in c0..<c1 { write[c] = read[c * columnStride] }
                    }
                    c0 = c1
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
