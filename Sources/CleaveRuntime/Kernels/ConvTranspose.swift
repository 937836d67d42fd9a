import CleaveIR

/// ConvTranspose, float32 NCHW, any number of spatial dims, opsets 1–22
/// (output_shape, output_padding, group, dilations, auto_pad).
///
/// The adjoint of im2col convolution: per group, `column = W_gᵀ · X_g` gives
/// each input position's contribution to every kernel tap, and col2im adds
/// those contributions into the output. Built a band of input rows at a time
/// so the column matrix stays small; a 1×1, stride-1, unpadded kernel skips
/// col2im and writes the product straight into the output.
final class ConvTransposeKernel: Kernel {
    private let setup: KernelSetup
    private let group: Int
    private var cached: Plan?

    private struct Plan {
        var inputShape: Shape
        var weightShape: Shape
        var geometry: WindowGeometry
        var window: Window2D?
        var direct: Bool
        var outputShape: Shape
        var batch, inputChannels, outputChannels: Int
        var groupInputChannels, groupOutputChannels: Int
        var outputSpatial: [Int]
        var inputPlane, outputPlane, taps: Int
        /// Input positions per band (whole input rows for 2-D).
        var band: Int
    }

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        group = setup.node.int("group") ?? 1
        guard group >= 1 else { throw setup.error("group must be positive, got \(group)") }
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let x = try setup.float32Input(inputs, 0, "X")
        let w = try setup.float32Input(inputs, 1, "W")
        let bias = try setup.optionalFloat32Input(inputs, 2, "B")
        let plan: Plan
        if let cached, cached.inputShape == x.shape, cached.weightShape == w.shape {
            plan = cached
        } else {
            plan = try makePlan(x.shape, w.shape)
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
                    ConvKernel.fillBias(yp, biasValues, batch: plan.batch, channels: plan.outputChannels,
                                        plane: plan.outputPlane)
                    // An empty input or weight contributes nothing beyond the bias.
                    guard let xp = xb.baseAddress, let wp = wb.baseAddress else { return }
                    execute(plan, xp, wp, yp, context)
                }
            }
        }
        return [y]
    }

    private func makePlan(_ input: Shape, _ weight: Shape) throws -> Plan {
        guard input.rank >= 3 else {
            throw setup.error("input X has shape \(input), expected [N, C, spatial…] with at least one spatial dim")
        }
        guard weight.rank == input.rank, weight[0] == input[1], input[1] % group == 0 else {
            throw setup.error("weight W has shape \(weight), expected [C=\(input[1]), M/group, kernel…] of rank \(input.rank)")
        }
        let kernel = Array(weight.dims[2...])
        if let declared = setup.node.ints("kernel_shape"), declared != kernel {
            throw setup.error("kernel_shape \(declared) disagrees with weight W \(weight)")
        }
        let inputSpatial = Array(input.dims[2...])
        let geometry = try WindowGeometry(convTranspose: setup.node, input: inputSpatial, kernel: kernel)
        let groupOutput = weight[1]
        let outputChannels = groupOutput * group
        let inputPlane = inputSpatial.reduce(1, *)
        let taps = kernel.reduce(1, *)
        let outputPlane = geometry.output.reduce(1, *)
        guard BLAS.fits(groupOutput * taps, inputPlane, input[1], outputPlane) else {
            throw setup.error("X \(input) with W \(weight) exceeds the 32-bit sizes BLAS takes")
        }
        let unpadded = geometry.padsBegin.allSatisfy { $0 == 0 } && geometry.padsEnd.allSatisfy { $0 == 0 }
        let direct = taps == 1 && geometry.strides.allSatisfy { $0 == 1 } && unpadded && geometry.output == inputSpatial
        let window = Window2D(geometry, input: geometry.output, output: inputSpatial)
        let wanted = ConvPlan.bandWidth(rows: groupOutput * taps)
        var band = Swift.min(inputPlane, wanted)
        if window != nil, let width = inputSpatial.last {
            band = Swift.max(1, Swift.min(inputPlane / Swift.max(1, width), wanted / Swift.max(1, width))) * width
        }
        return Plan(inputShape: input, weightShape: weight, geometry: geometry, window: window, direct: direct,
                    outputShape: Shape([input[0], outputChannels] + geometry.output),
                    batch: input[0], inputChannels: input[1], outputChannels: outputChannels,
                    groupInputChannels: input[1] / group, groupOutputChannels: groupOutput,
                    outputSpatial: geometry.output, inputPlane: inputPlane, outputPlane: outputPlane, taps: taps,
                    band: band)
    }

    private func execute(_ plan: Plan, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                         _ y: UnsafeMutablePointer<Float>, _ context: KernelContext) {
        let columnRows = plan.groupOutputChannels * plan.taps
        // From the heap per call, like Conv's column matrix.
        let column = plan.direct ? nil : UnsafeMutablePointer<Float>.allocate(capacity: columnRows * plan.band)
        defer { column?.deallocate() }
        for n in 0..<plan.batch {
            for g in 0..<group {
                let input = x + (n * plan.inputChannels + g * plan.groupInputChannels) * plan.inputPlane
                let weights = w + g * plan.groupInputChannels * columnRows
                let output = y + (n * plan.outputChannels + g * plan.groupOutputChannels) * plan.outputPlane
                guard let column else {
                    BLAS.gemm(transA: true, transB: false, m: columnRows, n: plan.inputPlane,
                              k: plan.groupInputChannels, alpha: 1, a: weights, lda: columnRows,
                              b: input, ldb: plan.inputPlane, beta: 1, c: output, ldc: plan.outputPlane, context)
                    continue
                }
                var start = 0
                while start < plan.inputPlane {
                    let end = Swift.min(plan.inputPlane, start + plan.band)
                    BLAS.gemm(transA: true, transB: false, m: columnRows, n: end - start,
                              k: plan.groupInputChannels, alpha: 1, a: weights, lda: columnRows,
                              b: input + start, ldb: plan.inputPlane, beta: 0, c: column, ldc: end - start, context)
                    if let window = plan.window {
                        let width = plan.inputShape.dims.last ?? 1
                        Col2im.rows(column, channels: plan.groupOutputChannels, window,
                                    inputRows: (start / width)..<(end / width), into: output, context)
                    } else {
                        Col2im.positions(column, channels: plan.groupOutputChannels, plan.geometry,
                                         inputDims: Array(plan.inputShape.dims[2...]), outputDims: plan.outputSpatial,
                                         positions: start..<end, into: output, context)
                    }
                    start = end
                }
            }
        }
    }
}

/// Adds column-matrix rows back into output planes: the adjoint of `Im2col`.
/// Each output channel is written by one thread, so the accumulation is race-free.
enum Col2im {
    /// 2-D: `p` is the window seen from the output (its `height`/`width` are the
    /// output's, `outHeight`/`outWidth` the input's).
    /// - Complexity: O(channels · kernel area · rows · inWidth).
    static func rows(_ column: UnsafePointer<Float>, channels: Int, _ p: Window2D, inputRows: Range<Int>,
                     into y: UnsafeMutablePointer<Float>, _ context: KernelContext) {
        let width = inputRows.count * p.outWidth
        let outPlane = p.height * p.width
        context.parallelFor(channels, itemWork: p.kernelHeight * p.kernelWidth * width) { range in
            for m in range {
                let plane = y + m * outPlane
                for i in 0..<p.kernelHeight {
                    for j in 0..<p.kernelWidth {
                        var source = column + ((m * p.kernelHeight + i) * p.kernelWidth + j) * width
                        let offset = j * p.dilationWidth - p.padLeft
                        let span = Window2D.validOutputs(offset: offset, stride: p.strideWidth,
                                                         count: p.outWidth, size: p.width)
                        for ih in inputRows {
                            let oh = ih * p.strideHeight - p.padTop + i * p.dilationHeight
                            if oh >= 0 && oh < p.height {
                                let target = plane + (oh * p.width + offset + span.first * p.strideWidth)
                                let from = source + span.first, stride = p.strideWidth
                                for t in 0..<(span.end - span.first) { target[t &* stride] += from[t] }
                            }
                            source += p.outWidth
                        }
                    }
                }
            }
        }
    }

    /// N-D, for flat input positions `positions`.
    /// - Complexity: O(channels · kernel area · positions · rank).
    static func positions(_ column: UnsafePointer<Float>, channels: Int, _ g: WindowGeometry, inputDims: [Int],
                          outputDims: [Int], positions: Range<Int>, into y: UnsafeMutablePointer<Float>,
                          _ context: KernelContext) {
        let rank = inputDims.count
        let taps = g.kernel.reduce(1, *)
        let outPlane = outputDims.reduce(1, *)
        let outStrides = Shape(outputDims).strides
        let inStrides = Shape(inputDims).strides
        let tapStrides = Shape(g.kernel).strides
        let width = positions.count
        context.parallelFor(channels, itemWork: taps * width) { range in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * rank) { offsets in
                for m in range {
                    let plane = y + m * outPlane
                    for tap in 0..<taps {
                        for d in 0..<rank {
                            offsets[d] = (tap / tapStrides[d]) % g.kernel[d] * g.dilations[d] - g.padsBegin[d]
                            offsets[rank + d] = (positions.lowerBound / inStrides[d]) % inputDims[d]
                        }
                        let source = column + (m * taps + tap) * width
                        for position in 0..<width {
                            var index = 0
                            var inside = true
                            for d in 0..<rank {
                                let coordinate = offsets[rank + d] * g.strides[d] + offsets[d]
                                if coordinate < 0 || coordinate >= outputDims[d] { inside = false }
                                index += coordinate * outStrides[d]
                            }
                            if inside { plane[index] += source[position] }
                            var d = rank - 1
                            while d >= 0 {
                                offsets[rank + d] += 1
                                if offsets[rank + d] < inputDims[d] { break }
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
