import CleaveIR

/// Which scale (and zero point) each element of a quantised tensor uses:
/// one for the tensor, one per index along `axis`, or (opset 21 blocked
/// quantisation) one per `blockSize` run along `axis`.
struct QuantizationLayout {
    /// The tensor viewed as [outer, axisLength, inner] around `axis`.
    let outer: Int
    let axisLength: Int
    let inner: Int
    private enum Kind { case perTensor, perAxis, blocked(Int, Int) }
    private let kind: Kind

    /// - Throws: `CleaveError.badInput` when the scale shape fits none of the three forms.
    init(data: Shape, scale: Shape, setup: KernelSetup) throws {
        let blockSize = setup.node.int("block_size") ?? 0
        if scale.elementCount == 1 && scale.rank <= 1 && blockSize == 0 {
            outer = 1
            axisLength = 1
            inner = data.elementCount
            kind = .perTensor
            return
        }
        let axis = try setup.axis(setup.node.int("axis") ?? 1, rank: data.rank)
        outer = data.dims[..<axis].reduce(1, *)
        axisLength = data[axis]
        inner = data.dims[(axis + 1)...].reduce(1, *)
        if blockSize > 0 {
            var expected = data.dims
            expected[axis] = (data[axis] + blockSize - 1) / blockSize
            guard scale.dims == expected else {
                throw setup.error("blocked scale must have shape \(Shape(expected)) for block_size \(blockSize), got \(scale)")
            }
            kind = .blocked(blockSize, expected[axis])
        } else {
            guard scale.rank == 1, scale[0] == data[axis] else {
                throw setup.error("scale must be one value or one per index of axis \(axis) (\(data[axis])), got shape \(scale)")
            }
            kind = .perAxis
        }
    }

    /// Calls `body(scaleIndex, elementRange)` for every run of elements sharing one scale.
    func forEachRun(_ body: (Int, Range<Int>) -> Void) {
        switch kind {
        case .perTensor:
            body(0, 0..<inner)
        case .perAxis:
            for o in 0..<outer {
                for a in 0..<axisLength {
                    let start = (o * axisLength + a) * inner
                    body(a, start..<(start + inner))
                }
            }
        case .blocked(let blockSize, let blocks):
            for o in 0..<outer {
                for a in 0..<axisLength {
                    let start = (o * axisLength + a) * inner
                    let scaleBase = (o * blocks + a / blockSize) * inner
                    for i in 0..<inner { body(scaleBase + i, (start + i)..<(start + i + 1)) }
                }
            }
        }
    }
}

/// QuantizeLinear: y = saturate(round_half_even(x / scale) + zero_point) into
/// uint8 (default) or int8; per-tensor, per-axis (`axis`) or blocked scales;
/// float32 x and scale.
final class QuantizeLinearKernel: Kernel {
    private let setup: KernelSetup

    init(_ setup: KernelSetup) throws { self.setup = setup }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let x = try setup.required(inputs, 0, "x")
        let scale = try setup.required(inputs, 1, "y_scale")
        let zeroPoint = setup.optional(inputs, 2)
        try setup.requireFloat(x, "x")
        try setup.requireFloat(scale, "y_scale")
        let layout = try QuantizationLayout(data: x.shape, scale: scale.shape, setup: setup)
        var dtype = DType.uint8
        if let zeroPoint {
            dtype = zeroPoint.dtype
            guard zeroPoint.shape == scale.shape || zeroPoint.elementCount == scale.elementCount else {
                throw setup.error("y_zero_point shape \(zeroPoint.shape) does not match y_scale shape \(scale.shape)")
            }
        } else if let requested = setup.node.int("output_dtype"), requested != 0 {
            guard let d = Int32(exactly: requested).flatMap(DType.init(rawValue:)) else {
                throw setup.error("output_dtype \(requested) is not an ONNX data type")
            }
            dtype = d
        }
        switch dtype {
        case .uint8: return [quantize(UInt8.self, x, scale, zeroPoint, layout)]
        case .int8: return [quantize(Int8.self, x, scale, zeroPoint, layout)]
        default: throw setup.error("quantising to \(dtype.name) is not supported (uint8, int8)")
        }
    }

    private func quantize<T: FixedWidthInteger>(
        _ type: T.Type, _ x: Tensor, _ scale: Tensor, _ zeroPoint: Tensor?, _ layout: QuantizationLayout
    ) -> Tensor {
        let dtype: DType = T.self == UInt8.self ? .uint8 : .int8
        let output = Tensor.uninitialized(dtype, x.shape)
        let zeros = zeroPoint?.elements(as: T.self)
        let scales = scale.floats
        let low = Float(T.min), high = Float(T.max)
        x.withUnsafeBufferPointer(as: Float.self) { input in
            output.withUnsafeMutableBufferPointer(as: T.self) { result in
                layout.forEachRun { s, range in
                    let divisor = scales[s]
                    let zero = Float(zeros?[s] ?? 0)
                    for i in range {
                        let v = (input[i] / divisor).rounded(.toNearestOrEven) + zero
                        // Written so NaN lands on `low` instead of reaching a trapping conversion.
                        let clamped = v > low ? (v < high ? v : high) : low
                        // Through Int32, one instruction: the generic Float → T conversion
                        // takes a bit-by-bit path that cost 15 ns an element.
                        result[i] = T(truncatingIfNeeded: Int32(clamped))
                    }
                }
            }
        }
        return output
    }
}

/// DequantizeLinear: y = (x − zero_point) · scale, x uint8, int8 or int32,
/// float32 scale; per-tensor, per-axis (`axis`) or blocked scales.
final class DequantizeLinearKernel: Kernel {
    private let setup: KernelSetup

    init(_ setup: KernelSetup) throws { self.setup = setup }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let x = try setup.required(inputs, 0, "x")
        let scale = try setup.required(inputs, 1, "x_scale")
        let zeroPoint = setup.optional(inputs, 2)
        try setup.requireFloat(scale, "x_scale")
        if let zeroPoint {
            guard zeroPoint.dtype == x.dtype else {
                throw setup.error("x_zero_point is \(zeroPoint.dtype.name), x is \(x.dtype.name)")
            }
            guard zeroPoint.elementCount == scale.elementCount else {
                throw setup.error("x_zero_point shape \(zeroPoint.shape) does not match x_scale shape \(scale.shape)")
            }
        }
        let layout = try QuantizationLayout(data: x.shape, scale: scale.shape, setup: setup)
        switch x.dtype {
        case .uint8: return [dequantize(UInt8.self, x, scale, zeroPoint, layout)]
        case .int8: return [dequantize(Int8.self, x, scale, zeroPoint, layout)]
        case .int32: return [dequantize(Int32.self, x, scale, zeroPoint, layout)]
        default: throw setup.error("x must be uint8, int8 or int32, got \(x.dtype.name)")
        }
    }

    private func dequantize<T: FixedWidthInteger>(
        _ type: T.Type, _ x: Tensor, _ scale: Tensor, _ zeroPoint: Tensor?, _ layout: QuantizationLayout
    ) -> Tensor {
        let output = Tensor.uninitialized(.float, x.shape)
        let zeros = zeroPoint?.elements(as: T.self)
        let scales = scale.floats
        x.withUnsafeBufferPointer(as: T.self) { input in
            output.withUnsafeMutableBufferPointer(as: Float.self) { result in
                layout.forEachRun { s, range in
                    let factor = scales[s]
                    let zero = Int64(zeros?[s] ?? 0)
                    for i in range { result[i] = Float(Int64(input[i]) - zero) * factor }
                }
            }
        }
        return output
    }
}
