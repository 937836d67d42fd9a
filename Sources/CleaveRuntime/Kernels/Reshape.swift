import CleaveIR

/// Reshape, Flatten, Squeeze and Unsqueeze: a new shape over the same bytes,
/// never a copy.
///
/// - Reshape: `shape` input; 0 keeps the input's dim (a literal 0 with
///   `allowzero` = 1, opset 14), one −1 is inferred.
/// - Flatten: 2-D [prod(dims[..<axis]), prod(dims[axis...])], `axis` default 1.
/// - Squeeze/Unsqueeze: `axes` attribute before opset 13, input from 13;
///   Squeeze without (or with empty) axes drops every dim of size 1;
///   Unsqueeze's axes index the output.
final class ReshapeKernel: Kernel {
    private let setup: KernelSetup
    private let op: Op

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        op = setup.op
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let data = try setup.required(inputs, 0, "data")
        let dims: [Int]
        switch op {
        case .reshape: dims = try reshape(data, try setup.required(inputs, 1, "shape"))
        case .flatten: dims = try flatten(data)
        case .squeeze: dims = try squeeze(data, try axes(inputs))
        case .unsqueeze:
            guard let axes = try axes(inputs) else { throw setup.error("axes are required") }
            dims = try unsqueeze(data, axes)
        default: throw setup.error("is not a reshaping op")
        }
        return [data.reshaped(Shape(dims))]
    }

    private func axes(_ inputs: [Tensor?]) throws -> [Int]? {
        if setup.opset < 13 { return setup.node.ints("axes") }
        return try setup.optional(inputs, 1).map { try setup.integers($0, "axes") }
    }

    private func reshape(_ data: Tensor, _ shapeTensor: Tensor) throws -> [Int] {
        let allowZero = (setup.node.int("allowzero") ?? 0) != 0
        var dims = try setup.integers(shapeTensor, "shape")
        var inferred: Int?
        for (i, d) in dims.enumerated() {
            switch d {
            case 0 where !allowZero:
                guard i < data.shape.rank else {
                    throw setup.error("shape \(dims) copies dim \(i) with 0, but the input \(data.shape) has rank \(data.shape.rank)")
                }
                dims[i] = data.shape[i]
            case -1:
                guard inferred == nil else { throw setup.error("shape \(dims) has more than one -1") }
                inferred = i
            case ..<0:
                throw setup.error("shape \(dims) has the invalid dim \(d)")
            default:
                break
            }
        }
        let known = dims.enumerated().filter { $0.offset != inferred }.map(\.element)
        guard let product = Shape.checkedElementCount(known) else { throw setup.error("shape \(dims) is too large") }
        if let inferred {
            guard product > 0, data.elementCount % product == 0 else {
                throw setup.error("cannot infer the -1 in \(dims) for \(data.elementCount) elements")
            }
            dims[inferred] = data.elementCount / product
        } else {
            guard product == data.elementCount else {
                throw setup.error("shape \(dims) holds \(product) elements, the input \(data.shape) has \(data.elementCount)")
            }
        }
        return dims
    }

    private func flatten(_ data: Tensor) throws -> [Int] {
        let rank = data.shape.rank
        var axis = setup.node.int("axis") ?? 1
        guard axis >= -rank, axis <= rank else { throw setup.error("axis \(axis) is out of range for rank \(rank)") }
        if axis < 0 { axis += rank }
        return [data.shape.dims[..<axis].reduce(1, *), data.shape.dims[axis...].reduce(1, *)]
    }

    private func squeeze(_ data: Tensor, _ axes: [Int]?) throws -> [Int] {
        // An empty axes input means "not given", as ONNX Runtime reads it.
        guard let axes, !axes.isEmpty else { return data.shape.dims.filter { $0 != 1 } }
        let dropped = Set(try setup.axes(axes, rank: data.shape.rank))
        for axis in dropped where data.shape[axis] != 1 {
            throw setup.error("cannot squeeze axis \(axis) of \(data.shape): its size is not 1")
        }
        return data.shape.dims.enumerated().filter { !dropped.contains($0.offset) }.map(\.element)
    }

    private func unsqueeze(_ data: Tensor, _ axes: [Int]) throws -> [Int] {
        let rank = data.shape.rank + axes.count
        let inserted = Set(try setup.axes(axes, rank: rank))
        var source = data.shape.dims.makeIterator()
        return (0..<rank).map { inserted.contains($0) ? 1 : source.next() ?? 1 }
    }
}
