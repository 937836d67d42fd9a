import CleaveIR

/// Conv, float32 NCHW, any number of spatial dims, opsets 1–22 (the op's
/// attributes have not changed in meaning since opset 1).
///
/// Three methods, chosen once per input shape:
/// - pointwise (1×1 kernel, stride 1, no padding): the input already is the
///   column matrix, so each group is one sgemm;
/// - depthwise (one input channel per group): a direct loop, since a GEMM
///   whose inner dimension is the kernel area would be all overhead;
/// - otherwise im2col + sgemm (Chellapilla, Puri, Simard, "High Performance
///   Convolutional Neural Networks for Document Processing", 2006), building
///   the column matrix one tile of output rows at a time so it stays in cache
///   and small (`Im2colTiling`).
final class ConvKernel: Kernel {
    private let setup: KernelSetup
    private let group: Int
    private var cached: ConvPlan?

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        group = setup.node.int("group") ?? 1
        guard group >= 1 else { throw setup.error("group must be positive, got \(group)") }
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let x = try setup.float32Input(inputs, 0, "X")
        let w = try setup.float32Input(inputs, 1, "W")
        let bias = try setup.optionalFloat32Input(inputs, 2, "B")
        let plan: ConvPlan
        if let cached, cached.inputShape == x.shape, cached.weightShape == w.shape {
            plan = cached
        } else {
            plan = try ConvPlan(setup, group: group, input: x.shape, weight: w.shape)
            cached = plan
        }
        if let bias, bias.elementCount != plan.outputChannels {
            throw setup.error("bias B has shape \(bias.shape), expected [\(plan.outputChannels)]")
        }
        let y = Tensor.uninitialized(.float, plan.outputShape)
        guard y.elementCount > 0 else { return [y] }
        x.withUnsafeBufferPointer(as: Float.self) { xb in
            w.withUnsafeBufferPointer(as: Float.self) { wb in
                y.withUnsafeMutableBufferPointer(as: Float.self) { yb in
                    guard let yp = yb.baseAddress else { return }
                    let biasValues = bias?.storage.bytes.baseAddress?.assumingMemoryBound(to: Float.self)
                    guard let xp = xb.baseAddress, let wp = wb.baseAddress else {
                        // No input channels: the sum is empty and only the bias remains.
                        ConvKernel.fillBias(yp, biasValues, batch: plan.batch, channels: plan.outputChannels,
                                            plane: plan.outputPlane)
                        if setup.fusedRelu { ConvKernel.relu(yp, count: yb.count) }
                        return
                    }
                    execute(plan, xp, wp, biasValues, yp, context)
                }
            }
        }
        return [y]
    }

    private func execute(_ plan: ConvPlan, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                         _ bias: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>,
                         _ context: KernelContext) {
        switch plan.method {
        case .depthwise(let window):
            ConvKernel.depthwise(plan, window, x, w, bias, y, relu: setup.fusedRelu, context)
        case .pointwise:
            // With a bias the product adds onto it (beta 1); without, sgemm overwrites (beta 0).
            if bias != nil {
                ConvKernel.fillBias(y, bias, batch: plan.batch, channels: plan.outputChannels, plane: plan.outputPlane)
            }
            for n in 0..<plan.batch {
                for g in 0..<group {
                    let output = y + (n * plan.outputChannels + g * plan.groupOutputChannels) * plan.outputPlane
                    BLAS.gemm(transA: false, transB: false, m: plan.groupOutputChannels, n: plan.outputPlane,
                              k: plan.groupInputChannels, alpha: 1,
                              a: w + g * plan.groupOutputChannels * plan.columnRows, lda: plan.columnRows,
                              b: x + (n * plan.inputChannels + g * plan.groupInputChannels) * plan.inputPlane,
                              ldb: plan.inputPlane, beta: bias == nil ? 0 : 1,
                              c: output, ldc: plan.outputPlane, context)
                    if setup.fusedRelu { ConvKernel.relu(output, count: plan.groupOutputChannels * plan.outputPlane) }
                }
            }
        case .im2col(let window):
            let tiling = plan.tiling(threads: context.threads)
            // A split Conv gives each thread whole tiles: the thread that writes
            // a column matrix multiplies it, so no core reads what another just
            // wrote (on this kind of machine that costs more than building it).
            // Unsplit, a tile's column builder and product may still use the threads.
            let inner = tiling.splits ? KernelContext(threads: 1) : context
            let tiles = plan.batch * group * tiling.perPlane
            // Taken from the heap per call rather than kept: between Convs the
            // same memory holds activations, so a session never keeps a
            // column matrix beside its live tensors. One per thread.
            let columnFloats = plan.columnRows * tiling.width
            let grain = tiling.splits ? 1 : tiles
            let columns = UnsafeMutablePointer<Float>.allocate(capacity: columnFloats * context.chunks(tiles, grain: grain))
            defer { columns.deallocate() }
            context.parallelChunks(tiles, grain: grain) { chunk, range in
                let column = columns + columnFloats * chunk
                for tile in range {
                    let plane = tile / tiling.perPlane, n = plane / group, g = plane % group
                    let start = tile % tiling.perPlane * tiling.width
                    let end = Swift.min(plan.outputPlane, start + tiling.width)
                    let input = x + (n * plan.inputChannels + g * plan.groupInputChannels) * plan.inputPlane
                    let output = y + (n * plan.outputChannels + g * plan.groupOutputChannels) * plan.outputPlane
                    if let window {
                        Im2col.rows(input, channels: plan.groupInputChannels, window,
                                    outputRows: (start / window.outWidth)..<(end / window.outWidth),
                                    into: column, inner)
                    } else {
                        Im2col.positions(input, channels: plan.groupInputChannels, plan.geometry,
                                         inputDims: plan.inputSpatial, positions: start..<end,
                                         into: column, inner)
                    }
                    tileProduct(plan, g: g, columns: start..<end, column, w, bias, output, inner)
                }
            }
        }
    }

    /// Output rows of group `g` for a tile of positions: bias, then W_g · column.
    private func tileProduct(_ plan: ConvPlan, g: Int, columns: Range<Int>, _ column: UnsafePointer<Float>,
                             _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                             _ output: UnsafeMutablePointer<Float>, _ context: KernelContext) {
        if let bias {
            for m in 0..<plan.groupOutputChannels {
                (output + m * plan.outputPlane + columns.lowerBound)
                    .update(repeating: bias[g * plan.groupOutputChannels + m], count: columns.count)
            }
        }
        BLAS.gemm(transA: false, transB: false, m: plan.groupOutputChannels, n: columns.count, k: plan.columnRows,
                  alpha: 1, a: w + g * plan.groupOutputChannels * plan.columnRows, lda: plan.columnRows,
                  b: column, ldb: columns.count, beta: bias == nil ? 0 : 1,
                  c: output + columns.lowerBound, ldc: plan.outputPlane, context)
        if setup.fusedRelu {
            for m in 0..<plan.groupOutputChannels {
                ConvKernel.relu(output + m * plan.outputPlane + columns.lowerBound, count: columns.count)
            }
        }
    }

    /// The Relu kernel's function, in place.
    static func relu(_ values: UnsafeMutablePointer<Float>, count: Int) {
        let relu = ReluFunction()
        for i in 0..<count { values[i] = relu(values[i]) }
    }

    /// Sets every output plane to its channel's bias (or zero).
    static func fillBias(_ y: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>?,
                         batch: Int, channels: Int, plane: Int) {
        for n in 0..<batch {
            for m in 0..<channels {
                (y + (n * channels + m) * plane).update(repeating: bias?[m] ?? 0, count: plane)
            }
        }
    }

    /// One input plane per output channel. Each plane is first copied into a
    /// zero-bordered buffer, so every tap of every window is inside and the
    /// loops need no bounds logic; a 3×3 kernel is then applied in one pass
    /// per output row, others tap by tap.
    /// - Complexity: O(N·M·OH·OW·kh·kw).
    private static func depthwise(_ plan: ConvPlan, _ p: Window2D, _ x: UnsafePointer<Float>,
                                  _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                                  _ y: UnsafeMutablePointer<Float>, relu: Bool, _ context: KernelContext) {
        let channels = plan.outputChannels, perGroup = plan.groupOutputChannels
        let inPlane = p.height * p.width, outPlane = p.outHeight * p.outWidth, taps = p.kernelHeight * p.kernelWidth
        let paddedWidth = p.width + p.padLeft + p.padRight
        let paddedHeight = p.height + p.padTop + p.padBottom
        let (sh, sw, dh, dw) = (p.strideHeight, p.strideWidth, p.dilationHeight, p.dilationWidth)
        context.parallelFor(plan.batch * channels, itemWork: outPlane * taps) { planes in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: Swift.max(1, paddedHeight * paddedWidth)) { buffer in
                guard let padded = buffer.baseAddress else { return }
                // The border stays zero; only the interior is rewritten per plane.
                padded.update(repeating: 0, count: paddedHeight * paddedWidth)
                var loaded = -1
                for index in planes {
                    let n = index / channels, m = index % channels
                    let source = n * plan.inputChannels + m / perGroup
                    if source != loaded {
                        let input = x + source * inPlane
                        for row in 0..<p.height {
                            (padded + ((row + p.padTop) * paddedWidth + p.padLeft))
                                .update(from: input + row * p.width, count: p.width)
                        }
                        loaded = source
                    }
                    let output = y + index * outPlane
                    let kernel = w + m * taps
                    let b = bias?[m] ?? 0
                    if p.kernelHeight == 3 && p.kernelWidth == 3 {
                        let (k0, k1, k2, k3, k4) = (kernel[0], kernel[1], kernel[2], kernel[3], kernel[4])
                        let (k5, k6, k7, k8) = (kernel[5], kernel[6], kernel[7], kernel[8])
                        for oh in 0..<p.outHeight {
                            let r0 = padded + oh * sh * paddedWidth
                            let r1 = r0 + dh * paddedWidth, r2 = r1 + dh * paddedWidth
                            let row = output + oh * p.outWidth
                            for t in 0..<p.outWidth {
                                let a = t &* sw, c = a &+ dw, e = c &+ dw
                                var sum = b + k0 * r0[a] + k1 * r0[c] + k2 * r0[e]
                                sum += k3 * r1[a] + k4 * r1[c] + k5 * r1[e]
                                sum += k6 * r2[a] + k7 * r2[c] + k8 * r2[e]
                                row[t] = sum
                            }
                        }
                    } else {
                        output.update(repeating: b, count: outPlane)
                        for oh in 0..<p.outHeight {
                            let row = output + oh * p.outWidth
                            for i in 0..<p.kernelHeight {
                                let line = padded + (oh * sh + i * dh) * paddedWidth
                                for j in 0..<p.kernelWidth {
                                    let weight = kernel[i * p.kernelWidth + j], from = line + j * dw
                                    for t in 0..<p.outWidth { row[t] += weight * from[t &* sw] }
                                }
                            }
                        }
                    }
                    if relu { ConvKernel.relu(output, count: outPlane) }
                }
            }
        }
    }
}

/// Everything about a Conv that depends only on the input and weight shapes.
struct ConvPlan {
    enum Method {
        case pointwise
        case depthwise(Window2D)
        /// `nil` window: more than two spatial dims, the generic column builder.
        case im2col(Window2D?)
    }

    /// Floats of im2col column matrix per tile: 2 MiB, about what one core's
    /// L2 holds (1–2 MiB on current x86), so the sgemm that reads the tile
    /// finds it in cache. Also the most memory a Conv takes beside its input
    /// and output.
    static let columnBudget = 1 << 19

    /// Output positions per band for a column matrix of `rows` rows.
    static func bandWidth(rows: Int) -> Int {
        Swift.max(1, columnBudget / Swift.max(1, rows))
    }

    var inputShape: Shape
    var weightShape: Shape
    var geometry: WindowGeometry
    var outputShape: Shape
    var method: Method
    var batch, group, inputChannels, outputChannels: Int
    var groupInputChannels, groupOutputChannels: Int
    var inputSpatial: [Int]
    var inputPlane, outputPlane: Int
    /// Rows of the column matrix: input channels per group × kernel area.
    var columnRows: Int
    /// Output positions that im2col tiles keep together: the output width for
    /// 1-D and 2-D (the row builder's unit), 1 for more spatial dims.
    var tileRowLength = 1

    init(_ setup: KernelSetup, group: Int, input: Shape, weight: Shape) throws {
        guard input.rank >= 3 else {
            throw setup.error("input X has shape \(input), expected [N, C, spatial…] with at least one spatial dim")
        }
        guard weight.rank == input.rank else {
            throw setup.error("weight W has shape \(weight), expected rank \(input.rank) like X \(input)")
        }
        inputShape = input
        weightShape = weight
        batch = input[0]
        self.group = group
        inputChannels = input[1]
        outputChannels = weight[0]
        groupInputChannels = weight[1]
        guard groupInputChannels * group == inputChannels, outputChannels % group == 0 else {
            throw setup.error("W \(weight) with group \(group) does not fit X \(input): expected W[1]·group = C and W[0] divisible by group")
        }
        groupOutputChannels = outputChannels / group
        let kernel = Array(weight.dims[2...])
        if let declared = setup.node.ints("kernel_shape"), declared != kernel {
            throw setup.error("kernel_shape \(declared) disagrees with weight W \(weight)")
        }
        inputSpatial = Array(input.dims[2...])
        geometry = try WindowGeometry(node: setup.node, input: inputSpatial, kernel: kernel)
        outputShape = Shape([batch, outputChannels] + geometry.output)
        inputPlane = inputSpatial.reduce(1, *)
        outputPlane = geometry.output.reduce(1, *)
        columnRows = groupInputChannels * kernel.reduce(1, *)
        guard BLAS.fits(columnRows, outputPlane, inputPlane, outputChannels) else {
            throw setup.error("X \(input) with W \(weight) exceeds the 32-bit sizes BLAS takes")
        }
        let window = Window2D(geometry, input: inputSpatial)
        let unpadded = geometry.padsBegin.allSatisfy { $0 == 0 } && geometry.padsEnd.allSatisfy { $0 == 0 }
        if kernel.allSatisfy({ $0 == 1 }) && geometry.strides.allSatisfy({ $0 == 1 }) && unpadded {
            method = .pointwise
        } else if let window, groupInputChannels == 1, group > 1 {
            method = .depthwise(window)
        } else {
            method = .im2col(window)
            if let window { tileRowLength = window.outWidth }
        }
    }

    /// How the im2col method cuts this Conv's work on `threads` threads.
    func tiling(threads: Int) -> Im2colTiling {
        Im2colTiling(positions: outputPlane, rowLength: tileRowLength, columnRows: columnRows,
                     groupOutputChannels: groupOutputChannels, planes: batch * group, threads: threads)
    }
}

/// How an im2col Conv cuts its output positions into tiles, each built into
/// one column matrix and multiplied by one sgemm; the planner's cost
/// features use the same rule.
///
/// A plane (batch element × group) is cut into the fewest tiles of equal
/// rows that keep the column matrix within `ConvPlan.columnBudget`. A Conv
/// with enough work (products or column entries) for several threads is cut
/// further, until every thread gets the same number of whole tiles of its own.
package struct Im2colTiling: Equatable, Sendable {
    /// Output positions per tile (whole output rows for 2-D); the last tile of a plane may be shorter.
    package var width: Int
    /// Tiles per plane.
    package var perPlane: Int
    /// Whether the tiles are spread over the threads (each then built and multiplied on one thread).
    package var splits: Bool

    /// - Parameters:
    ///   - positions: output positions per plane.
    ///   - rowLength: positions a tile keeps together (the output width for 2-D, else 1).
    ///   - columnRows: rows of the column matrix, input channels per group × kernel area.
    ///   - planes: batch × group.
    package init(positions: Int, rowLength: Int, columnRows: Int, groupOutputChannels: Int, planes: Int, threads: Int) {
        let rowLength = Swift.max(1, rowLength)
        let rows = Swift.max(1, positions / rowLength)
        let columnEntries = planes * positions * columnRows
        let macs = columnEntries * groupOutputChannels
        // Every thread of a split Conv reads all of a group's weights. When there
        // are more output channels than positions and the weights outgrow a
        // thread's share of the budget, a band split over the output channels
        // (BLAS.gemm's rule) reads less.
        let weightsShared = groupOutputChannels <= positions || groupOutputChannels * columnRows <= ConvPlan.columnBudget / threads
        splits = threads > 1 && (planes > 1 || rows > 1) && weightsShared
            && (macs >= 2 * BLAS.minimumThreadMACs || columnEntries >= 2 * KernelContext.minimumThreadWork)
        // Split, the threads' tiles share the budget, as the cores share the
        // cache a band of columns was sized for.
        let bandRows = Swift.max(1, ConvPlan.bandWidth(rows: columnRows * (splits ? threads : 1)) / rowLength)
        var parts = (rows + bandRows - 1) / bandRows
        // Split, every thread gets the same number of tiles: parallelFor hands
        // each a contiguous run of them, and one more tile is a slower thread.
        while splits && (planes * parts) % threads != 0 { parts += 1 }
        let tileRows = (rows + parts - 1) / parts
        width = tileRows * rowLength
        perPlane = (rows + tileRows - 1) / tileRows
    }
}

/// Column-matrix builders: row `(c·kernelArea + tap)` holds, for each output
/// position, the input value under that tap (zero in the padding).
enum Im2col {
    /// 2-D columns for output rows `outputRows`, parallel over input channels.
    /// - Complexity: O(channels · kernel area · rows · outWidth).
    static func rows(_ x: UnsafePointer<Float>, channels: Int, _ p: Window2D, outputRows: Range<Int>,
                     into column: UnsafeMutablePointer<Float>, _ context: KernelContext) {
        let width = outputRows.count * p.outWidth
        let inPlane = p.height * p.width
        context.parallelFor(channels, itemWork: p.kernelHeight * p.kernelWidth * width) { range in
            for c in range {
                let plane = x + c * inPlane
                for i in 0..<p.kernelHeight {
                    for j in 0..<p.kernelWidth {
                        var destination = column + ((c * p.kernelHeight + i) * p.kernelWidth + j) * width
                        let offset = j * p.dilationWidth - p.padLeft
                        let span = Window2D.validOutputs(offset: offset, stride: p.strideWidth,
                                                         count: p.outWidth, size: p.width)
                        for oh in outputRows {
                            let ih = oh * p.strideHeight - p.padTop + i * p.dilationHeight
                            if ih < 0 || ih >= p.height {
                                destination.update(repeating: 0, count: p.outWidth)
                            } else {
                                let source = plane + (ih * p.width + offset + span.first * p.strideWidth)
                                let count = span.end - span.first, stride = p.strideWidth
                                destination.update(repeating: 0, count: span.first)
                                if stride == 1 {
                                    (destination + span.first).update(from: source, count: count)
                                } else {
                                    let target = destination + span.first
                                    for t in 0..<count { target[t] = source[t &* stride] }
                                }
                                (destination + span.end).update(repeating: 0, count: p.outWidth - span.end)
                            }
                            destination += p.outWidth
                        }
                    }
                }
            }
        }
    }

    /// N-D columns for flat output positions `positions`, parallel over input channels.
    /// - Complexity: O(channels · kernel area · positions · rank).
    static func positions(_ x: UnsafePointer<Float>, channels: Int, _ g: WindowGeometry, inputDims: [Int],
                          positions: Range<Int>, into column: UnsafeMutablePointer<Float>,
                          _ context: KernelContext) {
        let rank = inputDims.count
        let taps = g.kernel.reduce(1, *)
        let inPlane = inputDims.reduce(1, *)
        let inStrides = Shape(inputDims).strides
        let outStrides = Shape(g.output).strides
        let tapStrides = Shape(g.kernel).strides
        let width = positions.count
        context.parallelFor(channels, itemWork: taps * width) { range in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * rank) { offsets in
                for c in range {
                    let plane = x + c * inPlane
                    for tap in 0..<taps {
                        // offsets[d]: where tap `tap` of the window at output 0 sits; offsets[rank + d]: output coordinate.
                        for d in 0..<rank {
                            offsets[d] = (tap / tapStrides[d]) % g.kernel[d] * g.dilations[d] - g.padsBegin[d]
                            offsets[rank + d] = (positions.lowerBound / outStrides[d]) % g.output[d]
                        }
                        let destination = column + (c * taps + tap) * width
                        for position in 0..<width {
                            var index = 0
                            var inside = true
                            for d in 0..<rank {
                                let coordinate = offsets[rank + d] * g.strides[d] + offsets[d]
                                if coordinate < 0 || coordinate >= inputDims[d] { inside = false }
                                index += coordinate * inStrides[d]
                            }
                            destination[position] = inside ? plane[index] : 0
                            var d = rank - 1
                            while d >= 0 {
                                offsets[rank + d] += 1
                                if offsets[rank + d] < g.output[d] { break }
                                offsets[rank + d] = 0
                                d -= 1
                            }
                        }
                    }
                }
            }
        }
    }
}
