import CleaveIR

/// Resize (opsets 10–19) and Upsample (7–9).
///
/// Interpolation is separable, so the input is resampled one axis at a time
/// ([outer, in, inner] → [outer, out, inner]), each output position along
/// the axis being a weighted sum of a few source positions ("taps"):
/// nearest takes 1, linear 2, cubic 4, and antialiased downsampling widens
/// the linear or cubic kernel by 1/scale. Coordinates are computed as ONNX
/// Runtime computes them; taps and antialias weights follow the ONNX
/// reference implementation (onnx/reference/ops/op_resize.py). Where the two
/// disagree (align_corners when scale · size is not a whole number: the
/// reference divides by that fraction, Runtime by the integral output size)
/// cleave follows Runtime.
///
/// - Resize 11+: inputs roi, scales, sizes (one of scales/sizes non-empty);
///   attributes mode (nearest | linear | cubic), coordinate_transformation_mode
///   (half_pixel, half_pixel_symmetric, pytorch_half_pixel, align_corners,
///   asymmetric, tf_half_pixel_for_nn, tf_crop_and_resize), nearest_mode,
///   cubic_coeff_a, exclude_outside, extrapolation_value; from 18 antialias,
///   axes and keep_aspect_ratio_policy.
/// - Resize 10 and Upsample: asymmetric coordinates; nearest takes the floor
///   when upsampling and the ceiling when downsampling, as ONNX Runtime does.
///
/// Linear and cubic work on float32; nearest moves elements of any dtype.
final class ResizeKernel: Kernel {
    private enum Mode: String { case nearest, linear, cubic }

    private let setup: KernelSetup
    private let mode: Mode
    /// Upsample, or Resize before opset 11.
    private let legacy: Bool
    private let coordinates: String
    private let nearestMode: String
    private let cubicA: Double
    private let excludeOutside: Bool
    private let extrapolation: Float
    private let antialias: Bool
    private let axesAttribute: [Int]?
    private let aspectPolicy: String

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        let node = setup.node
        legacy = node.op == .upsample || setup.opset < 11
        var modeName = (node.string("mode") ?? "nearest").lowercased()
        if modeName == "bilinear" || modeName == "trilinear" { modeName = "linear" }
        guard let mode = Mode(rawValue: modeName), !(legacy && mode == .cubic) else {
            throw setup.error("mode '\(modeName)' is not supported (nearest, linear\(legacy ? "" : ", cubic"))")
        }
        self.mode = mode
        coordinates = legacy ? "asymmetric" : node.string("coordinate_transformation_mode") ?? "half_pixel"
        let knownCoordinates = ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                                "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"]
        guard knownCoordinates.contains(coordinates) else {
            throw setup.error("coordinate_transformation_mode '\(coordinates)' is not one of \(knownCoordinates.joined(separator: ", "))")
        }
        nearestMode = legacy ? "legacy" : node.string("nearest_mode") ?? "round_prefer_floor"
        guard ["legacy", "round_prefer_floor", "round_prefer_ceil", "floor", "ceil"].contains(nearestMode) else {
            throw setup.error("nearest_mode '\(nearestMode)' is not one of round_prefer_floor, round_prefer_ceil, floor, ceil")
        }
        cubicA = Double(node.float("cubic_coeff_a") ?? -0.75)
        excludeOutside = (node.int("exclude_outside") ?? 0) != 0
        extrapolation = node.float("extrapolation_value") ?? 0
        antialias = (node.int("antialias") ?? 0) != 0 && mode != .nearest
        axesAttribute = node.ints("axes")
        aspectPolicy = node.string("keep_aspect_ratio_policy") ?? "stretch"
        guard ["stretch", "not_larger", "not_smaller"].contains(aspectPolicy) else {
            throw setup.error("keep_aspect_ratio_policy '\(aspectPolicy)' is not one of stretch, not_larger, not_smaller")
        }
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let x = try setup.required(inputs, 0, "X")
        let size = try setup.elementSize(x)
        if mode != .nearest { try setup.requireFloat(x, "X (\(mode.rawValue) mode)") }
        let plans = try axisPlans(x.shape, inputs)
        var dims = x.shape.dims
        for plan in plans { dims[plan.axis] = plan.output }
        // Checked before any per-axis table is built: no table is larger than the output.
        if Shape(dims).elementCount == 0 { return [Tensor(zeros: x.dtype, Shape(dims))] }
        if mode == .nearest { return [try nearest(x, plans, elementSize: size, context)] }
        // Shrinking axes first (most first) keeps the intermediate tensors small;
        // among growing axes the innermost goes first, because its pass, a
        // gather per element, is the costly one and should see the fewest.
        let ordered = plans.sorted { a, b in
            let ra = Double(a.output) / Double(a.input), rb = Double(b.output) / Double(b.input)
            if (ra < 1) != (rb < 1) { return ra < 1 }
            return ra < 1 ? ra < rb : a.axis > b.axis
        }
        var current = x
        for plan in ordered {
            current = try resample(current, plan, context)
        }
        return [current]
    }

    // MARK: Sizes and coordinates

    /// How one axis is resampled. Scales, rois and coordinates are float32
    /// and computed in the same order as ONNX Runtime, so ties in nearest
    /// rounding fall the same way.
    private struct AxisPlan {
        var axis: Int
        var input: Int
        var output: Int
        /// The scale as given, or output/input when sizes were given.
        var scale: Float
        var roiStart: Float = 0
        var roiEnd: Float = 1
    }

    private func axisPlans(_ shape: Shape, _ inputs: [Tensor?]) throws -> [AxisPlan] {
        let rank = shape.rank
        func present(_ index: Int) -> Tensor? {
            setup.optional(inputs, index).flatMap { $0.elementCount > 0 ? $0 : nil }
        }
        var scales: [Float]?
        var sizes: [Int]?
        var roi: [Float]?
        if setup.op == .upsample && setup.opset < 9 {
            guard let attribute = setup.node.floats("scales") else { throw setup.error("attribute 'scales' is missing") }
            scales = attribute
        } else if legacy {
            scales = try present(1).map { try floats($0, "scales") }
        } else {
            roi = try present(1).map { try floats($0, "roi") }
            scales = try present(2).map { try floats($0, "scales") }
            if scales == nil { sizes = try present(3).map { try setup.integers($0, "sizes") } }
        }
        let axes = try setup.axes(axesAttribute ?? Array(0..<rank), rank: rank)
        guard let count = scales?.count ?? sizes?.count else { throw setup.error("needs scales or sizes") }
        guard count == axes.count else {
            throw setup.error("\(scales == nil ? "sizes" : "scales") has \(count) values, expected \(axes.count)")
        }
        if let roi, coordinates == "tf_crop_and_resize", roi.count != 2 * axes.count {
            throw setup.error("roi has \(roi.count) values, expected \(2 * axes.count)")
        }
        var plans: [AxisPlan] = []
        for (i, axis) in axes.enumerated() {
            let input = shape[axis]
            var plan = AxisPlan(axis: axis, input: input, output: input, scale: 1)
            if let roi, coordinates == "tf_crop_and_resize" {
                plan.roiStart = roi[i]
                plan.roiEnd = roi[axes.count + i]
            }
            if let scales {
                let scale = scales[i]
                guard scale > 0, scale.isFinite else { throw setup.error("scale \(scale) for axis \(axis) must be positive") }
                if setup.op == .upsample && scale < 1 {
                    throw setup.error("Upsample scale \(scale) for axis \(axis) must be at least 1")
                }
                plan.scale = scale
                plan.output = try dim(scale * Float(input), axis)
            } else if let sizes {
                guard sizes[i] >= 0 else { throw setup.error("size \(sizes[i]) for axis \(axis) is negative") }
                guard input > 0 || sizes[i] == 0 else { throw setup.error("cannot resize the empty axis \(axis) to \(sizes[i])") }
                plan.output = sizes[i]
                plan.scale = input > 0 ? Float(sizes[i]) / Float(input) : 1
            }
            plans.append(plan)
        }
        if sizes != nil && aspectPolicy != "stretch" && !plans.isEmpty {
            let ratios = plans.map(\.scale)
            let scale = (aspectPolicy == "not_larger" ? ratios.min() : ratios.max()) ?? 1
            for i in plans.indices {
                plans[i].scale = scale
                plans[i].output = try dim((scale * Float(plans[i].input)).rounded(), plans[i].axis)
            }
        }
        let dims = (0..<rank).map { axis in plans.first(where: { $0.axis == axis })?.output ?? shape[axis] }
        _ = try setup.shape(dims, "output shape")
        // An axis that keeps its size at scale 1 (and, cropping, the whole roi) is left alone.
        return plans.filter { plan in
            !(plan.scale == 1 && plan.output == plan.input && plan.roiStart == 0 && plan.roiEnd == 1)
        }
    }

    /// An output dim from a float size, truncated as ONNX Runtime does.
    private func dim(_ value: Float, _ axis: Int) throws -> Int {
        guard value.isFinite, value < Float(maximumRuntimeElements) else {
            throw setup.error("output dim \(value) of axis \(axis) is too large")
        }
        return Int(value)
    }

    private func floats(_ tensor: Tensor, _ what: String) throws -> [Float] {
        switch tensor.dtype {
        case .float: return tensor.floats
        case .double: return tensor.elements(as: Double.self).map(Float.init)
        case .float16: return tensor.elements(as: Float16.self).map(Float.init)
        default: throw setup.error("\(what) must be float32, got \(tensor.dtype.name)")
        }
    }

    /// The source coordinate of output position `y`, or nil where
    /// tf_crop_and_resize falls outside the input (the extrapolation value).
    private func sourceCoordinate(_ y: Int, _ plan: AxisPlan) -> Float? {
        let x = Float(y), input = Float(plan.input), output = Float(plan.output), scale = plan.scale
        switch coordinates {
        case "half_pixel":
            return (x + 0.5) / scale - 0.5
        case "half_pixel_symmetric":
            let adjustment = output / (scale * input)
            let offset = input / 2 * (1 - adjustment)
            return offset + (x + 0.5) / scale - 0.5
        case "pytorch_half_pixel":
            return plan.output > 1 ? (x + 0.5) / scale - 0.5 : 0
        case "align_corners":
            return plan.output == 1 ? 0 : x * (input - 1) / (output - 1)
        case "tf_half_pixel_for_nn":
            return (x + 0.5) / scale
        case "tf_crop_and_resize":
            let start = plan.roiStart, end = plan.roiEnd
            let original = plan.output > 1
                ? start * (input - 1) + (x * (end - start) * (input - 1)) / (output - 1)
                : Float(0.5 * Double(start + end) * Double(input - 1))
            return original < 0 || original > input - 1 ? nil : original
        default:  // asymmetric
            return x / scale
        }
    }

    // MARK: Taps

    /// For each output position: `count` source indices and weights, or the extrapolation value.
    private struct Taps {
        var count: Int
        var indices: [Int]
        var weights: [Float]
        var extrapolated: [Bool]
    }

    private func taps(_ plan: AxisPlan) -> Taps {
        let last = plan.input - 1
        if mode == .nearest {
            var taps = Taps(count: 1, indices: [], weights: [], extrapolated: [])
            for y in 0..<plan.output {
                guard let x = sourceCoordinate(y, plan) else {
                    taps.indices.append(0)
                    taps.extrapolated.append(true)
                    continue
                }
                taps.indices.append(Swift.min(Swift.max(nearest(x, plan), 0), last))
                taps.extrapolated.append(false)
            }
            taps.weights = [Float](repeating: 1, count: plan.output)
            return taps
        }
        let radius: Double = mode == .linear ? 1 : 2
        let kernelScale = antialias ? Swift.min(Double(plan.scale), 1) : 1
        let start = Int((-radius / kernelScale).rounded(.down)) + 1
        let count = 2 - 2 * start
        var taps = Taps(count: count, indices: [], weights: [], extrapolated: [])
        var weights = [Double](repeating: 0, count: count)
        for y in 0..<plan.output {
            guard let x = sourceCoordinate(y, plan) else {
                taps.indices += [Int](repeating: 0, count: count)
                taps.weights += [Float](repeating: 0, count: count)
                taps.extrapolated.append(true)
                continue
            }
            // The reference puts an integral coordinate at ratio 1 of the
            // interval to its left; the window is [base + start, base + start + count).
            var base = Double(x).rounded(.down)
            if base == Double(x) { base -= 1 }
            let ratio = Double(x) - base
            for k in 0..<count {
                let t = Double(start + k)
                weights[k] = kernel((t - ratio) * kernelScale)
                let index = Int(base) + start + k
                if excludeOutside && (index < 0 || index > last) { weights[k] = 0 }
            }
            let total = weights.reduce(0, +)
            for k in 0..<count {
                taps.indices.append(Swift.min(Swift.max(Int(base) + start + k, 0), last))
                taps.weights.append(Float(total != 0 ? weights[k] / total : weights[k]))
            }
            taps.extrapolated.append(false)
        }
        return taps
    }

    /// The linear (triangle) or cubic convolution kernel at distance `t`.
    private func kernel(_ t: Double) -> Double {
        let a = abs(t)
        if mode == .linear { return Swift.max(0, 1 - a) }
        let A = cubicA
        if a <= 1 { return ((A + 2) * a - (A + 3)) * a * a + 1 }
        if a < 2 { return ((A * a - 5 * A) * a + 8 * A) * a - 4 * A }
        return 0
    }

    /// ONNX Runtime's rounding of a nearest-mode coordinate; "legacy" (Resize-10,
    /// Upsample) takes the ceiling when downsampling and the floor otherwise.
    private func nearest(_ x: Float, _ plan: AxisPlan) -> Int {
        let floor = x.rounded(.down)
        let chosen: Float
        switch nearestMode {
        case "round_prefer_ceil": chosen = x.rounded(.toNearestOrAwayFromZero)
        case "floor": chosen = floor
        case "ceil": chosen = x.rounded(.up)
        case "legacy": chosen = plan.scale < 1 ? x.rounded(.up) : x.rounded(.towardZero)
        default: chosen = x - floor == 0.5 ? floor : x.rounded(.toNearestOrAwayFromZero)
        }
        // Coordinates are at most a few times the dims; the clamp only keeps the conversion total.
        return Int(Swift.min(Swift.max(chosen, -1e9), 1e9))
    }

    // MARK: Resampling

    /// Nearest mode on every axis at once: each output element copies the
    /// source element its per-axis index maps select (or the extrapolation
    /// value), a row of the innermost dim at a time.
    private func nearest(_ x: Tensor, _ plans: [AxisPlan], elementSize: Int, _ context: KernelContext) throws -> Tensor {
        var dims = x.shape.dims
        var maps = dims.map { Array(0..<$0) }
        for plan in plans {
            let taps = taps(plan)
            maps[plan.axis] = (0..<plan.output).map { taps.extrapolated[$0] ? -1 : taps.indices[$0] }
            dims[plan.axis] = plan.output
        }
        let output = Tensor.uninitialized(x.dtype, Shape(dims))
        guard output.elementCount > 0, let source = x.rawBytes, let target = output.mutableRawBytes else { return output }
        let fill = try Conversion.convert(Tensor([], floats: [extrapolation]), to: x.dtype, setup)
        guard !dims.isEmpty, let fillBytes = fill.rawBytes else {
            target.copyMemory(from: source, byteCount: elementSize)
            return output
        }
        switch elementSize {
        case 1: gatherRows(UInt8.self, source, x.shape, maps, fillBytes, target, context)
        case 2: gatherRows(UInt16.self, source, x.shape, maps, fillBytes, target, context)
        case 4: gatherRows(UInt32.self, source, x.shape, maps, fillBytes, target, context)
        case 8: gatherRows(UInt64.self, source, x.shape, maps, fillBytes, target, context)
        default: throw setup.error("nearest mode does not support \(x.dtype.name)")
        }
        return withExtendedLifetime(fill) { output }
    }

    private func gatherRows<T: FixedWidthInteger>(
        _ type: T.Type, _ source: UnsafeRawPointer, _ shape: Shape, _ maps: [[Int]], _ fillBytes: UnsafeRawPointer,
        _ target: UnsafeMutableRawPointer, _ context: KernelContext
    ) {
        let rank = shape.rank, strides = shape.strides
        let outerDims = maps.dropLast().map(\.count)
        let innerMap = maps[rank - 1], rowLength = innerMap.count
        let identity = innerMap == Array(0..<shape[rank - 1])
        let from = source.assumingMemoryBound(to: T.self), to = target.assumingMemoryBound(to: T.self)
        let fill = fillBytes.loadUnaligned(as: T.self)
        let rows = outerDims.reduce(1, *)
        innerMap.withUnsafeBufferPointer { mapBuffer in
            guard let map = mapBuffer.baseAddress else { return }
            context.parallelFor(rows, itemWork: rowLength) { range in
                var previous: (offset: Int, row: UnsafeMutablePointer<T>)?
                for row in range {
                    var rest = row, offset = 0
                    for d in (0..<(rank - 1)).reversed() {
                        let s = maps[d][rest % outerDims[d]]
                        rest /= outerDims[d]
                        offset = s < 0 || offset < 0 ? -1 : offset + s * strides[d]
                    }
                    let out = to + row * rowLength
                    if offset < 0 {
                        for j in 0..<rowLength { out[j] = fill }
                    } else if let previous, previous.offset == offset {
                        // Upsampling repeats source rows: copy the row already made.
                        out.update(from: previous.row, count: rowLength)
                    } else if identity {
                        out.update(from: from + offset, count: rowLength)
                    } else {
                        let base = from + offset
                        for j in 0..<rowLength {
                            let m = map[j]
                            out[j] = m < 0 ? fill : base[m]
                        }
                    }
                    previous = offset < 0 ? nil : (offset, out)
                }
            }
        }
    }

    /// One axis of linear or cubic resampling: [outer, input, inner] → [outer, output, inner].
    private func resample(_ x: Tensor, _ plan: AxisPlan, _ context: KernelContext) throws -> Tensor {
        var dims = x.shape.dims
        dims[plan.axis] = plan.output
        let output = Tensor.uninitialized(x.dtype, Shape(dims))
        guard output.elementCount > 0, let source = x.rawBytes, let target = output.mutableRawBytes else { return output }
        let taps = taps(plan)
        let outer = dims[..<plan.axis].reduce(1, *)
        let inner = dims[(plan.axis + 1)...].reduce(1, *)
        let items = outer * plan.output
        let src = source.assumingMemoryBound(to: Float.self)
        let dst = target.assumingMemoryBound(to: Float.self)
        let n = taps.count, extrapolation = self.extrapolation
        context.parallelFor(items, itemWork: inner * taps.count) { range in
            taps.indices.withUnsafeBufferPointer { indexBuffer in
                taps.weights.withUnsafeBufferPointer { weightBuffer in
                    guard let indices = indexBuffer.baseAddress, let weights = weightBuffer.baseAddress else { return }
                    for item in range {
                        let o = item / plan.output, y = item % plan.output
                        let out = dst + item * inner
                        if taps.extrapolated[y] {
                            for i in 0..<inner { out[i] = extrapolation }
                            continue
                        }
                        let block = src + o * plan.input * inner
                        let w = weights + y * n, index = indices + y * n
                        if inner == 1 {
                            if n == 2 {
                                out[0] = w[0] * block[index[0]] + w[1] * block[index[1]]
                                continue
                            }
                            var sum: Float = 0
                            for k in 0..<n { sum += w[k] * block[index[k]] }
                            out[0] = sum
                            continue
                        }
                        let first = block + index[0] * inner, w0 = w[0]
                        for i in 0..<inner { out[i] = w0 * first[i] }
                        for k in 1..<n {
                            let row = block + index[k] * inner, wk = w[k]
                            for i in 0..<inner { out[i] += wk * row[i] }
                        }
                    }
                }
            }
        }
        return output
    }
}
