import CleaveIR

/// Constant: the value of its `value`, `value_float(s)` or `value_int(s)`
/// attribute, resolved once.
final class ConstantKernel: Kernel {
    private let value: Tensor

    init(_ setup: KernelSetup) throws {
        guard let value = setup.node.constantValue else {
            throw setup.error("has no value cleave can read (sparse_value and string values are not supported)")
        }
        self.value = value
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] { [value] }
}

/// ConstantOfShape: a tensor of the given shape filled with the one element
/// of the `value` attribute (default float32 0).
final class ConstantOfShapeKernel: Kernel {
    private let setup: KernelSetup
    private let value: Tensor

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        let value = setup.node.tensor("value") ?? Tensor([], floats: [0])
        guard value.elementCount == 1 else {
            throw setup.error("attribute 'value' must hold one element, got shape \(value.shape)")
        }
        _ = try setup.elementSize(value, "attribute 'value'")
        self.value = value
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let dims = try setup.integers(try setup.required(inputs, 0, "input"), "shape")
        let output = Tensor.uninitialized(value.dtype, try setup.shape(dims, "shape"))
        if let target = output.mutableRawBytes, let source = value.rawBytes {
            fillElements(target, count: output.elementCount, with: source, elementSize: value.dtype.byteSize ?? 1)
        }
        return [output]
    }
}

/// Shape: the input's dims as int64, from opset 15 only dims start..<end
/// (negative counting from the end, both clamped to the rank).
final class ShapeKernel: Kernel {
    private let setup: KernelSetup

    init(_ setup: KernelSetup) throws { self.setup = setup }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let data = try setup.required(inputs, 0, "data")
        let rank = data.shape.rank
        func clamped(_ index: Int) -> Int {
            Swift.min(Swift.max(index < 0 ? index + rank : index, 0), rank)
        }
        let start = clamped(setup.node.int("start") ?? 0)
        let end = clamped(setup.node.int("end") ?? rank)
        let dims = start < end ? Array(data.shape.dims[start..<end]) : []
        return [Tensor([dims.count], int64s: dims.map { Int64($0) })]
    }
}

/// Size: the element count of the input, an int64 scalar.
final class SizeKernel: Kernel {
    private let setup: KernelSetup

    init(_ setup: KernelSetup) throws { self.setup = setup }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let data = try setup.required(inputs, 0, "data")
        return [Tensor([], int64s: [Int64(data.elementCount)])]
    }
}

/// Range(start, limit, delta): start, start + delta, … up to (not including)
/// limit, each element one delta more than the last, accumulated in the
/// element type as ONNX Runtime does (float32, float64, int64, int32, int16).
final class RangeKernel: Kernel {
    private let setup: KernelSetup

    init(_ setup: KernelSetup) throws { self.setup = setup }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let scalars = try ["start", "limit", "delta"].enumerated().map { i, what in
            let t = try setup.required(inputs, i, what)
            guard t.elementCount == 1 else { throw setup.error("\(what) must be a scalar, got shape \(t.shape)") }
            return t
        }
        let dtype = scalars[0].dtype
        guard scalars.allSatisfy({ $0.dtype == dtype }) else {
            throw setup.error("start, limit and delta must share a dtype, got \(scalars.map(\.dtype.name))")
        }
        switch dtype {
        case .float: return [try sequence(scalars, Float.self, difference: { Double($1 - $0) }, real: { Double($0) }, next: +)]
        case .double: return [try sequence(scalars, Double.self, difference: { $1 - $0 }, real: { $0 }, next: +)]
        case .int64: return [try sequence(scalars, Int64.self, difference: { Double($1) - Double($0) }, real: { Double($0) }, next: &+)]
        case .int32: return [try sequence(scalars, Int32.self, difference: { Double($1) - Double($0) }, real: { Double($0) }, next: &+)]
        case .int16: return [try sequence(scalars, Int16.self, difference: { Double($1) - Double($0) }, real: { Double($0) }, next: &+)]
        default: throw setup.error("dtype \(dtype.name) is not supported (float32, float64, int64, int32, int16)")
        }
    }

    /// - Parameters:
    ///   - difference: limit − start, computed in the element type as ONNX Runtime does, then widened.
    ///   - next: one step (wrapping for integers: ONNX Runtime's integer Range does not trap).
    private func sequence<T: BitwiseCopyable>(
        _ scalars: [Tensor], _ type: T.Type, difference: (T, T) -> Double, real: (T) -> Double, next: (T, T) -> T
    ) throws -> Tensor {
        let start = scalars[0].elements(as: T.self)[0]
        let limit = scalars[1].elements(as: T.self)[0]
        let delta = scalars[2].elements(as: T.self)[0]
        guard let count = rangeCount(difference: difference(start, limit), delta: real(delta)) else {
            throw setup.error("delta must be non-zero and the range finite")
        }
        let shape = try setup.shape([count], "output shape")
        var values = [T](repeating: start, count: count)
        for i in values.indices.dropFirst() { values[i] = next(values[i - 1], delta) }
        return Tensor(scalars[0].dtype, shape, values)
    }
}

/// Identity, and Dropout at inference: the input itself, not a copy.
///
/// Dropout's optional mask follows ONNX Runtime: from opset 12 it is all
/// true (every element kept, as the spec says for inference); before 12
/// Runtime runs Dropout as an identity with a zero-filled mask (bool from
/// opset 10, the input's type before), and cleave matches that. From opset
/// 12 `training_mode` may be fed as true: with a ratio of 0 that is still the
/// identity; with a positive ratio the output would be random, which cleave refuses.
final class IdentityKernel: Kernel {
    private let setup: KernelSetup
    private let wantsMask: Bool

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        wantsMask = setup.op == .dropout && setup.node.outputs.count > 1 && !setup.node.outputs[1].isEmpty
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let data = try setup.required(inputs, 0, "input")
        guard setup.op == .dropout else { return [data] }
        if setup.opset >= 12, let training = setup.optional(inputs, 2), (training.firstElementAsDouble ?? 0) != 0 {
            let ratio = try setup.optional(inputs, 1).map { try setup.scalarFloat($0, "ratio") } ?? 0.5
            guard ratio == 0 else {
                throw setup.error("training_mode is true with ratio \(ratio): random dropout is not supported (cleave runs inference)")
            }
        }
        guard wantsMask else { return [data] }
        let mask: Tensor
        if setup.opset >= 12 {
            mask = Tensor(.bool, data.shape, [Bool](repeating: true, count: data.elementCount))
        } else {
            mask = Tensor(zeros: setup.opset >= 10 ? .bool : data.dtype, data.shape)
        }
        return [data, mask]
    }
}
