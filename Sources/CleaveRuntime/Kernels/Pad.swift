import CleaveIR

/// Pad in modes constant, reflect, edge and wrap, on any dtype.
///
/// Before opset 11 `pads` and the constant `value` are attributes; from 11
/// they are inputs (`pads`, optional `constant_value`), and from 18 an
/// optional `axes` input says which axes `pads` covers. Negative pads crop.
///
/// Every output dim gets a map from output index to source index (−1 for
/// the constant); rows of the innermost dim then copy through that map.
final class PadKernel: Kernel {
    private let setup: KernelSetup
    private let mode: String

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        mode = setup.node.string("mode") ?? "constant"
        guard ["constant", "reflect", "edge", "wrap"].contains(mode) else {
            throw setup.error("mode '\(mode)' is not one of constant, reflect, edge, wrap")
        }
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let data = try setup.required(inputs, 0, "data")
        let size = try setup.elementSize(data)
        let rank = data.shape.rank
        var pads: [Int]
        var axes = Array(0..<rank)
        var constant = Tensor(zeros: data.dtype, [])
        if setup.opset < 11 {
            guard let attribute = setup.node.ints("pads") else { throw setup.error("attribute 'pads' is missing") }
            pads = attribute
            if let value = setup.node.float("value"), value != 0 {
                constant = try Conversion.convert(Tensor([], floats: [value]), to: data.dtype, setup)
            }
        } else {
            pads = try setup.integers(try setup.required(inputs, 1, "pads"), "pads")
            if let given = setup.optional(inputs, 2), given.elementCount > 0 {
                guard given.elementCount == 1 else { throw setup.error("constant_value must hold one value, got shape \(given.shape)") }
                constant = try Conversion.convert(given.reshaped([]), to: data.dtype, setup)
            }
            if let given = setup.optional(inputs, 3) {
                axes = try setup.axes(try setup.integers(given, "axes"), rank: rank)
            }
        }
        guard pads.count == 2 * axes.count else {
            throw setup.error("pads has \(pads.count) values, expected \(2 * axes.count) (begin and end for each of \(axes.count) axes)")
        }
        var begin = [Int](repeating: 0, count: rank), end = [Int](repeating: 0, count: rank)
        for (i, axis) in axes.enumerated() {
            begin[axis] = pads[i]
            end[axis] = pads[axes.count + i]
        }
        var outputDims: [Int] = []
        for axis in 0..<rank {
            let d = data.shape[axis]
            let (grown, overflow1) = d.addingReportingOverflow(begin[axis])
            let (out, overflow2) = grown.addingReportingOverflow(end[axis])
            guard !overflow1, !overflow2, out >= 0 else {
                throw setup.error("pads \(begin[axis]), \(end[axis]) do not fit dim \(d) of axis \(axis)")
            }
            if mode != "constant" && d == 0 && out > 0 {
                throw setup.error("mode \(mode) cannot pad the empty axis \(axis)")
            }
            outputDims.append(out)
        }
        let output = Tensor.uninitialized(data.dtype, try setup.shape(outputDims, "output shape"))
        let maps = (0..<rank).map { axis in
            (0..<outputDims[axis]).map { source(for: $0 - begin[axis], length: data.shape[axis]) }
        }
        guard output.elementCount > 0, let target = output.mutableRawBytes else { return [output] }
        let fill = constant.rawBytes ?? UnsafeRawPointer(target)
        guard rank > 0, let base = data.rawBytes else {
            target.copyMemory(from: data.rawBytes ?? fill, byteCount: size)
            return [output]
        }
        let strides = data.shape.strides
        let rowLength = outputDims[rank - 1], innerMap = maps[rank - 1]
        // The part of a row that is a straight run of the source row: one copy.
        let innerBegin = begin[rank - 1]
        let low = Swift.max(0, Swift.min(rowLength, innerBegin))
        let interior = low..<Swift.max(low, Swift.min(rowLength, innerBegin + data.shape[rank - 1]))
        let rows = output.elementCount / rowLength
        context.parallelFor(rows, itemWork: rowLength) { range in
            for row in range {
                var rest = row, offset = 0, inside = true
                for axis in (0..<(rank - 1)).reversed() {
                    let index = rest % outputDims[axis]
                    rest /= outputDims[axis]
                    let s = maps[axis][index]
                    if s < 0 { inside = false }
                    offset += s * strides[axis]
                }
                let destination = target + row * rowLength * size
                if !inside {
                    fillElements(destination, count: rowLength, with: fill, elementSize: size)
                    continue
                }
                for edge in [0..<interior.lowerBound, interior.upperBound..<rowLength] {
                    for j in edge {
                        let s = innerMap[j]
                        (destination + j * size).copyMemory(from: s < 0 ? fill : base + (offset + s) * size, byteCount: size)
                    }
                }
                if !interior.isEmpty {
                    (destination + interior.lowerBound * size).copyMemory(
                        from: base + (offset + interior.lowerBound - innerBegin) * size, byteCount: interior.count * size)
                }
            }
        }
        return [withExtendedLifetime(constant) { output }]
    }

    /// The source index of position `index` (relative to the data's start) on
    /// an axis of `length`, or −1 for the constant.
    private func source(for index: Int, length: Int) -> Int {
        if index >= 0 && index < length { return index }
        switch mode {
        case "edge":
            return index < 0 ? 0 : length - 1
        case "reflect":
            guard length > 1 else { return 0 }
            let period = 2 * (length - 1)
            let m = ((index % period) + period) % period
            return m < length ? m : period - m
        case "wrap":
            return ((index % length) + length) % length
        default:
            return -1
        }
    }
}
