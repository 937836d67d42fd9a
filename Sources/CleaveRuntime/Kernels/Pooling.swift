import CleaveIR

/// MaxPool (opsets 1–22) and AveragePool (opsets 7–22), float32 (MaxPool
/// also int8, uint8 and float16, AveragePool float16: widened to float32
/// exactly and narrowed back), any number of spatial dims: pads or auto_pad,
/// strides, dilations, ceil_mode,
/// count_include_pad, and MaxPool's optional Indices output (flat indices
/// into the input, row-major or, with `storage_order = 1`, column-major within
/// each spatial plane).
///
/// Padding never wins a max. An average divides by the taps inside the input,
/// or with `count_include_pad` by the taps inside input and pads — never by
/// the taps of a ceil_mode window that hang past the end padding. Negative
/// end pads (SAME with a window smaller than the stride) crop the input of an
/// average but not of a max, as in ONNX Runtime.
final class PoolKernel: Kernel {
    private let setup: KernelSetup
    private let isMax: Bool
    private let kernelShape: [Int]
    private let ceilMode: Bool
    private let countIncludePad: Bool
    private let columnMajorIndices: Bool
    private let wantsIndices: Bool
    private var cached: (input: Shape, geometry: WindowGeometry)?

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        isMax = setup.op == .maxPool
        guard let kernelShape = setup.node.ints("kernel_shape"), !kernelShape.isEmpty else {
            throw setup.error("attribute kernel_shape is required")
        }
        self.kernelShape = kernelShape
        ceilMode = (setup.node.int("ceil_mode") ?? 0) != 0
        countIncludePad = (setup.node.int("count_include_pad") ?? 0) != 0
        columnMajorIndices = (setup.node.int("storage_order") ?? 0) != 0
        wantsIndices = isMax && setup.node.outputs.count > 1 && !setup.node.outputs[1].isEmpty
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        guard let given = inputs.first ?? nil else { throw setup.error("input 0 (X) is missing") }
        let x: Tensor
        switch given.dtype {
        case .float: x = given
        case .float16: x = try Conversion.convert(given, to: .float, setup)
        case .int8 where isMax, .uint8 where isMax: x = try Conversion.convert(given, to: .float, setup)
        default:
            throw setup.error("input 0 (X) is \(given.dtype.name); supported: float32, float16\(isMax ? ", int8, uint8" : "")")
        }
        guard x.shape.rank == kernelShape.count + 2 else {
            throw setup.error("input X has shape \(x.shape), expected [N, C] and \(kernelShape.count) spatial dims for kernel_shape \(kernelShape)")
        }
        let spatial = Array(x.shape.dims[2...])
        let geometry: WindowGeometry
        if let cached, cached.input == x.shape {
            geometry = cached.geometry
        } else {
            geometry = try WindowGeometry(node: setup.node, input: spatial, kernel: kernelShape, ceilMode: ceilMode)
            cached = (x.shape, geometry)
        }
        let outputShape = Shape(Array(x.shape.dims[..<2]) + geometry.output)
        let y = Tensor.uninitialized(.float, outputShape)
        let indices = wantsIndices ? Tensor.uninitialized(.int64, outputShape) : nil
        let planes = x.shape[0] * x.shape[1]
        let window = Window2D(geometry, input: spatial)
        x.withUnsafeBufferPointer(as: Float.self) { xb in
            y.withUnsafeMutableBufferPointer(as: Float.self) { yb in
                guard let xp = xb.baseAddress, let yp = yb.baseAddress else { return }
                let ip = indices?.storage.mutableBytes?.baseAddress?.assumingMemoryBound(to: Int64.self)
                if let window {
                    pool2D(window, planes: planes, xp, yp, ip, context)
                } else {
                    poolND(geometry, input: spatial, planes: planes, xp, yp, ip, context)
                }
            }
        }
        let result = given.dtype == .float ? y : try Conversion.convert(y, to: given.dtype, setup)
        return indices.map { [result, $0] } ?? [result]
    }

    /// - Complexity: O(planes · OH · OW · kh · kw).
    private func pool2D(_ p: Window2D, planes: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                        _ indices: UnsafeMutablePointer<Int64>?, _ context: KernelContext) {
        let inPlane = p.height * p.width, outPlane = p.outHeight * p.outWidth
        let isMax = self.isMax, countIncludePad = self.countIncludePad, columnMajor = columnMajorIndices
        // Negative end pads crop an average's input; a max ignores them (both as ONNX Runtime).
        let height = p.height + (isMax ? 0 : Swift.min(0, p.padBottom))
        let width = p.width + (isMax ? 0 : Swift.min(0, p.padRight))
        // Which taps of each output column's window are inside: the same for every row and plane.
        var spans = [Int](repeating: 0, count: 3 * p.outWidth)
        for ow in 0..<p.outWidth {
            let left = ow * p.strideWidth - p.padLeft
            let inside = Window2D.validTaps(start: left, dilation: p.dilationWidth, taps: p.kernelWidth, size: width)
            let padded = Window2D.validTaps(start: left + p.padLeft, dilation: p.dilationWidth, taps: p.kernelWidth,
                                            size: p.width + p.padLeft + p.padRight)
            spans[3 * ow] = inside.first
            spans[3 * ow + 1] = inside.end
            spans[3 * ow + 2] = countIncludePad ? padded.end - padded.first : inside.end - inside.first
        }
        // Output columns whose whole window lies inside the (possibly cropped) input.
        let extent = (p.kernelWidth - 1) * p.dilationWidth + 1
        let interior = width >= extent
            ? Window2D.validOutputs(offset: -p.padLeft, stride: p.strideWidth, count: p.outWidth, size: width - extent + 1)
            : (first: 0, end: 0)
        let borders = interior.end > interior.first ? [0..<interior.first, interior.end..<p.outWidth] : [0..<p.outWidth]
        spans.withUnsafeBufferPointer { table in
            context.parallelFor(planes, itemWork: outPlane * p.kernelHeight * p.kernelWidth) { range in
                // Separable windows: first combine the window's rows into one line (contiguous,
                // vectorisable), then each output reads its taps from that line.
                withUnsafeTemporaryAllocation(of: Float.self, capacity: Swift.max(1, 2 * p.width)) { buffer in
                    guard let line = buffer.baseAddress else { return }
                    for plane in range {
                        let input = x + plane * inPlane, output = y + plane * outPlane
                        for oh in 0..<p.outHeight {
                            let top = oh * p.strideHeight - p.padTop
                            let rows = Window2D.validTaps(start: top, dilation: p.dilationHeight,
                                                          taps: p.kernelHeight, size: height)
                            let row = output + oh * p.outWidth
                            if isMax, indices != nil {
                                PoolKernel.maxWithIndices(p, input, rows: rows, top: top, table, row,
                                                          indices.map { $0 + plane * outPlane + oh * p.outWidth },
                                                          planeOffset: plane * inPlane, columnMajor: columnMajor)
                                continue
                            }
                            var combined = rows.first
                            if rows.end - rows.first >= 2 {
                                // The first two rows go straight into the line (no copy first).
                                let a = input + (top + rows.first * p.dilationHeight) * p.width
                                let b = a + p.dilationHeight * p.width
                                if isMax {
                                    for w in 0..<p.width { line[w] = Swift.max(a[w], b[w]) }
                                } else {
                                    for w in 0..<p.width { line[w] = a[w] + b[w] }
                                }
                                combined += 2
                            } else if rows.first < rows.end {
                                line.update(from: input + (top + rows.first * p.dilationHeight) * p.width, count: p.width)
                                combined += 1
                            } else {
                                line.update(repeating: isMax ? -Float.greatestFiniteMagnitude : 0, count: p.width)
                            }
                            for i in combined..<Swift.max(combined, rows.end) {
                                let next = input + (top + i * p.dilationHeight) * p.width
                                if isMax {
                                    for w in 0..<p.width { line[w] = Swift.max(line[w], next[w]) }
                                } else {
                                    for w in 0..<p.width { line[w] += next[w] }
                                }
                            }
                            var rowCount = rows.end - rows.first
                            if countIncludePad {
                                let padded = Window2D.validTaps(start: top + p.padTop, dilation: p.dilationHeight,
                                                                taps: p.kernelHeight,
                                                                size: p.height + p.padTop + p.padBottom)
                                rowCount = padded.end - padded.first
                            }
                            let dilation = p.dilationWidth
                            // Interior columns (whole window inside): slide the kw taps over the
                            // combined line in contiguous passes, then pick every stride-th value.
                            if interior.end > interior.first {
                                let slid = line + p.width
                                let reach = width - (p.kernelWidth - 1) * dilation
                                if p.kernelWidth >= 2 {
                                    let next = line + dilation
                                    if isMax {
                                        for w in 0..<reach { slid[w] = Swift.max(line[w], next[w]) }
                                    } else {
                                        for w in 0..<reach { slid[w] = line[w] + next[w] }
                                    }
                                } else {
                                    slid.update(from: line, count: reach)
                                }
                                for j in 2..<Swift.max(2, p.kernelWidth) {
                                    let shifted = line + j * dilation
                                    if isMax {
                                        for w in 0..<reach { slid[w] = Swift.max(slid[w], shifted[w]) }
                                    } else {
                                        for w in 0..<reach { slid[w] += shifted[w] }
                                    }
                                }
                                let picks = slid + (interior.first * p.strideWidth - p.padLeft)
                                let target = row + interior.first, stride = p.strideWidth
                                if isMax {
                                    for t in 0..<(interior.end - interior.first) { target[t] = picks[t &* stride] }
                                } else {
                                    let count = rowCount * p.kernelWidth
                                    let scale = count > 0 ? 1 / Float(count) : 0
                                    for t in 0..<(interior.end - interior.first) { target[t] = picks[t &* stride] * scale }
                                }
                            }
                            // Border columns, whose windows are clipped: tap by tap.
                            for columns in borders {
                                for ow in columns {
                                    let first = table[3 &* ow], count = table[3 &* ow &+ 1] &- first
                                    let taps = count > 0 ? line + (ow * p.strideWidth - p.padLeft + first * dilation) : line
                                    if isMax {
                                        var best = -Float.greatestFiniteMagnitude
                                        for t in 0..<count { best = Swift.max(best, taps[t &* dilation]) }
                                        row[ow] = best
                                    } else {
                                        var sum: Float = 0
                                        for t in 0..<count { sum += taps[t &* dilation] }
                                        let count = rowCount * table[3 &* ow &+ 2]
                                        row[ow] = count > 0 ? sum / Float(count) : 0
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// One output row of a max pool that also reports where each maximum was
    /// (the first one, scanning rows then columns).
    private static func maxWithIndices(_ p: Window2D, _ input: UnsafePointer<Float>, rows: (first: Int, end: Int),
                                       top: Int, _ table: UnsafeBufferPointer<Int>, _ row: UnsafeMutablePointer<Float>,
                                       _ indices: UnsafeMutablePointer<Int64>?, planeOffset: Int, columnMajor: Bool) {
        for ow in 0..<p.outWidth {
            let left = ow * p.strideWidth - p.padLeft
            var best = -Float.greatestFiniteMagnitude, bestAt = -1
            for i in rows.first..<rows.end {
                let base = (top + i * p.dilationHeight) * p.width + left
                for j in table[3 * ow]..<table[3 * ow + 1] {
                    let at = base + j * p.dilationWidth
                    if input[at] > best || bestAt < 0 {
                        best = input[at]
                        bestAt = at
                    }
                }
            }
            row[ow] = best
            let found = Swift.max(0, bestAt)
            let flat = columnMajor ? found / p.width + found % p.width * p.height : found
            indices?[ow] = Int64(planeOffset + flat)
        }
    }

    /// Any number of spatial dims; windows walked with coordinate odometers.
    /// - Complexity: O(planes · output positions · kernel volume · rank).
    private func poolND(_ g: WindowGeometry, input dims: [Int], planes: Int, _ x: UnsafePointer<Float>,
                        _ y: UnsafeMutablePointer<Float>, _ indices: UnsafeMutablePointer<Int64>?,
                        _ context: KernelContext) {
        let rank = dims.count
        let inPlane = dims.reduce(1, *), outPlane = g.output.reduce(1, *)
        let rowStrides = Shape(dims).strides
        var columnStrides = [Int](repeating: 1, count: rank)
        for d in 1..<Swift.max(1, rank) { columnStrides[d] = columnStrides[d - 1] * dims[d - 1] }
        let isMax = self.isMax, countIncludePad = self.countIncludePad
        let indexStrides = columnMajorIndices ? columnStrides : rowStrides
        context.parallelFor(planes, itemWork: outPlane * g.kernel.reduce(1, *)) { range in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: 5 * rank) { state in
                // state: output coordinate | window start | first tap | end tap | current tap, rank each.
                for plane in range {
                    let input = x + plane * inPlane
                    for d in 0..<rank { state[d] = 0 }
                    for position in 0..<outPlane {
                        var taps = 1, padded = 1
                        for d in 0..<rank {
                            let start = state[d] * g.strides[d] - g.padsBegin[d]
                            let valid = Window2D.validTaps(start: start, dilation: g.dilations[d], taps: g.kernel[d],
                                                           size: dims[d] + (isMax ? 0 : Swift.min(0, g.padsEnd[d])))
                            let inside = Window2D.validTaps(start: start + g.padsBegin[d], dilation: g.dilations[d],
                                                            taps: g.kernel[d],
                                                            size: dims[d] + g.padsBegin[d] + g.padsEnd[d])
                            state[rank + d] = start
                            state[2 * rank + d] = valid.first
                            state[3 * rank + d] = valid.end
                            state[4 * rank + d] = valid.first
                            taps *= valid.end - valid.first
                            padded *= inside.end - inside.first
                        }
                        var best = -Float.greatestFiniteMagnitude, bestIndex = 0, sum: Float = 0
                        var found = false
                        for _ in 0..<taps {
                            var at = 0, index = 0
                            for d in 0..<rank {
                                let coordinate = state[rank + d] + state[4 * rank + d] * g.dilations[d]
                                at += coordinate * rowStrides[d]
                                index += coordinate * indexStrides[d]
                            }
                            let value = input[at]
                            sum += value
                            if value > best || !found {
                                best = value
                                bestIndex = index
                                found = true
                            }
                            var d = rank - 1
                            while d >= 0 {
                                state[4 * rank + d] += 1
                                if state[4 * rank + d] < state[3 * rank + d] { break }
                                state[4 * rank + d] = state[2 * rank + d]
                                d -= 1
                            }
                        }
                        let out = plane * outPlane + position
                        if isMax {
                            y[out] = best
                            indices?[out] = Int64(plane * inPlane + bestIndex)
                        } else {
                            let count = countIncludePad ? padded : taps
                            y[out] = count > 0 ? sum / Float(count) : 0
                        }
                        var d = rank - 1
                        while d >= 0 {
                            state[d] += 1
                            if state[d] < g.output[d] { break }
                            state[d] = 0
                            d -= 1
                        }
                    }
                }
            }
        }
    }
}

/// GlobalAveragePool and GlobalMaxPool, opsets 1–22: one value per
/// (sample, channel) plane; the output keeps the spatial dims as 1s.
final class GlobalPoolKernel: Kernel {
    private let setup: KernelSetup
    private let isMax: Bool

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        isMax = setup.op == .globalMaxPool
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let x = try setup.float32Input(inputs, 0, "X")
        guard x.shape.rank >= 2 else { throw setup.error("input X has shape \(x.shape), expected [N, C, …]") }
        let planes = x.shape[0] * x.shape[1]
        let plane = x.shape.dims[2...].reduce(1, *)
        guard plane > 0 || planes == 0 else { throw setup.error("input X \(x.shape) has empty spatial dims") }
        let y = Tensor.uninitialized(.float, Shape(Array(x.shape.dims[..<2]) + [Int](repeating: 1, count: x.shape.rank - 2)))
        let isMax = self.isMax
        x.withUnsafeBufferPointer(as: Float.self) { xb in
            y.withUnsafeMutableBufferPointer(as: Float.self) { yb in
                guard let xp = xb.baseAddress, let yp = yb.baseAddress else { return }
                context.parallelFor(planes, itemWork: plane) { range in
                    for index in range {
                        let source = xp + index * plane
                        if isMax {
                            var best = source[0]
                            for i in 1..<Swift.max(1, plane) where source[i] > best { best = source[i] }
                            yp[index] = best
                        } else {
                            var sum: Float = 0
                            for i in 0..<plane { sum += source[i] }
                            yp[index] = sum / Float(plane)
                        }
                    }
                }
            }
        }
        return [y]
    }
}
