import CleaveIR

/// Resize (opsets 10–19) and Upsample (7–9).
///
/// Interpolation is separable, so the input is resampled one axis at a time
/// ([outer, in, inner] → [outer, out, inner]), each output position along
/// the axis being a weighted sum of a few source positions ("taps"):
/// nearest takes 1, linear 2, cubic 4, and antialiased downsampling widens
/// the linear or cubic kernel by 1/scale. Coordinates follow the ONNX
/// reference implementation (onnx/reference/ops/op_resize.py).
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
        var current = x
        // Shrinking axes first keeps the intermediate tensors small.
        for plan in plans.sorted(by: { Double($0.output) / Double($0.input) < Double($1.output) / Double($1.input) }) {
            current = try resample(current, plan, elementSize: size, context)
        }
        return [current]
    }

    // MARK: Sizes and coordinates

    /// How one axis is resampled.
    private struct AxisPlan {
        var axis: Int
        var input: Int
        var output: Int
        /// The scale as given, or output/input when sizes were given.
        var scale: Double
        /// scale · input, which the reference's coordinate formulas use.
        var outputWidth: Double
        var roiStart: Double = 0
        var roiEnd: Double = 1
    }

    private func axisPlans(_ shape: Shape, _ inputs: [Tensor?]) throws -> [AxisPlan] {
        let rank = shape.rank
        func present(_ index: Int) -> Tensor? {
            setup.optional(inputs, index).flatMap { $0.elementCount > 0 ? $0 : nil }
        }
        var scales: [Double]?
        var sizes: [Int]?
        var roi: [Double]?
        if setup.node.op == .upsample && setup.opset < 9 {
            guard let attribute = setup.node.floats("scales") else { throw setup.error("attribute 'scales' is missing") }
            scales = attribute.map(Double.init)
        } else if legacy {
            scales = try present(1).map { try doubles($0, "scales") }
        } else {
            roi = try present(1).map { try doubles($0, "roi") }
            scales = try present(2).map { try doubles($0, "scales") }
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
            var plan = AxisPlan(axis: axis, input: input, output: input, scale: 1, outputWidth: Double(input))
            if let roi, coordinates == "tf_crop_and_resize" {
                plan.roiStart = roi[i]
                plan.roiEnd = roi[axes.count + i]
            }
            if let scales {
                let scale = scales[i]
                guard scale > 0, scale.isFinite else { throw setup.error("scale \(scale) for axis \(axis) must be positive") }
                if legacy && setup.node.op == .upsample && scale < 1 {
                    throw setup.error("Upsample scale \(scale) for axis \(axis) must be at least 1")
                }
                let crop = coordinates == "tf_crop_and_resize" ? plan.roiEnd - plan.roiStart : 1
                plan.scale = scale
                plan.outputWidth = scale * Double(input) * crop
                plan.output = Int((plan.outputWidth).rounded(.down))
            } else if let sizes {
                guard sizes[i] >= 0 else { throw setup.error("size \(sizes[i]) for axis \(axis) is negative") }
                guard input > 0 || sizes[i] == 0 else { throw setup.error("cannot resize the empty axis \(axis) to \(sizes[i])") }
                plan.output = sizes[i]
                plan.scale = input > 0 ? Double(sizes[i]) / Double(input) : 1
                plan.outputWidth = Double(sizes[i])
            }
            plans.append(plan)
        }
        if sizes != nil && aspectPolicy != "stretch" && !plans.isEmpty {
            let ratios = plans.map(\.scale)
            let scale = (aspectPolicy == "not_larger" ? ratios.min() : ratios.max()) ?? 1
            for i in plans.indices {
                plans[i].scale = scale
                plans[i].outputWidth = scale * Double(plans[i].input)
                plans[i].output = Int(plans[i].outputWidth + 0.5)
            }
        }
        let dims = (0..<rank).map { axis in plans.first(where: { $0.axis == axis })?.output ?? shape[axis] }
        _ = try setup.shape(dims, "output shape")
        // An axis that keeps its size at scale 1 (and, cropping, the whole roi) is left alone.
        return plans.filter { plan in
            !(abs(plan.scale - 1) < 1e-9 && plan.output == plan.input && abs(plan.roiStart) < 1e-9 && abs(plan.roiEnd - 1) < 1e-9)
        }
    }

    private func doubles(_ tensor: Tensor, _ what: String) throws -> [Double] {
        switch tensor.dtype {
        case .float: return tensor.floats.map(Double.init)
        case .double: return tensor.elements(as: Double.self)
        case .float16: return tensor.elements(as: Float16.self).map(Double.init)
        default: throw setup.error("\(what) must be float32, got \(tensor.dtype.name)")
        }
    }

    /// The source coordinate of output position `y`, or nil where
    /// tf_crop_and_resize falls outside the input (the extrapolation value).
    private func sourceCoordinate(_ y: Int, _ plan: AxisPlan) -> Double? {
        let x = Double(y), input = Double(plan.input), scale = plan.scale, width = plan.outputWidth
        switch coordinates {
        case "half_pixel":
            return (x + 0.5) / scale - 0.5
        case "half_pixel_symmetric":
            let adjustment = Double(plan.output) / width
            let offset = input / 2 * (1 - adjustment)
            return offset + (x + 0.5) / scale - 0.5
        case "pytorch_half_pixel":
            return plan.output > 1 ? (x + 0.5) / scale - 0.5 : 0
        case "align_corners":
            return width == 1 ? 0 : x * (input - 1) / (width - 1)
        case "tf_half_pixel_for_nn":
            return (x + 0.5) / scale
        case "tf_crop_and_resize":
            let span = plan.roiEnd - plan.roiStart
            var original = width == 1 ? span * (input - 1) / 2 : x * span * (input - 1) / (width - 1)
            original += plan.roiStart * (input - 1)
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
        let kernelScale = antialias ? Swift.min(plan.scale, 1) : 1
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
            var base = x.rounded(.down)
            if base == x { base -= 1 }
            let ratio = x - base
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

    private func nearest(_ x: Double, _ plan: AxisPlan) -> Int {
        let floor = x.rounded(.down)
        if floor == x { return Int(x) }
        switch nearestMode {
        case "round_prefer_ceil": return Int(x - floor < 0.5 ? floor : floor + 1)
        case "floor": return Int(floor)
        case "ceil": return Int(floor + 1)
        case "legacy": return Int(plan.scale < 1 ? floor + 1 : floor)
        default: return Int(x - floor <= 0.5 ? floor : floor + 1)
        }
    }

    // MARK: Resampling

    /// One axis: [outer, input, inner] → [outer, output, inner].
    private func resample(_ x: Tensor, _ plan: AxisPlan, elementSize: Int, _ context: KernelContext) throws -> Tensor {
        var dims = x.shape.dims
        dims[plan.axis] = plan.output
        let output = Tensor.uninitialized(x.dtype, Shape(dims))
        guard output.elementCount > 0, let source = x.rawBytes, let target = output.mutableRawBytes else { return output }
        let taps = taps(plan)
        let outer = dims[..<plan.axis].reduce(1, *)
        let inner = dims[(plan.axis + 1)...].reduce(1, *)
        let items = outer * plan.output
        let grain = Swift.max(1, elementwiseGrain / (inner * taps.count))
        if mode == .nearest {
            let fill = try Conversion.convert(Tensor([], floats: [extrapolation]), to: x.dtype, setup)
            guard let fillBytes = fill.rawBytes else { return output }
            let rowBytes = inner * elementSize
            context.parallelFor(items, grain: grain) { range in
                for item in range {
                    let o = item / plan.output, y = item % plan.output
                    let destination = target + item * rowBytes
                    if taps.extrapolated[y] {
                        fillElements(destination, count: inner, with: fillBytes, elementSize: elementSize)
                    } else {
                        destination.copyMemory(from: source + (o * plan.input + taps.indices[y]) * rowBytes, byteCount: rowBytes)
                    }
                }
            }
            return withExtendedLifetime(fill) { output }
        }
        let src = source.assumingMemoryBound(to: Float.self)
        let dst = target.assumingMemoryBound(to: Float.self)
        let n = taps.count, extrapolation = self.extrapolation
        context.parallelFor(items, grain: grain) { range in
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
