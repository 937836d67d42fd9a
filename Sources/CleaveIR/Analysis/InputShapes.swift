/// Concrete types for a graph's runtime inputs, from their declared dims and
/// the shapes the caller fixed (`--input-shape NAME=D,D,...`).
struct InputShapes {
    /// The resolved type of every runtime input.
    var types: [String: TensorType] = [:]
    /// The size each symbolic dim name was given, so declared types elsewhere
    /// (outputs, value_info) that use the same names can be resolved too.
    var bindings: [String: Int] = [:]

    /// Resolves every runtime input.
    ///
    /// Precedence per dim: the caller's shape; a fixed declared dim; the size
    /// already bound to the same symbolic name; 1 for a leading symbolic or
    /// unknown dim (the batch).
    /// - Throws: `CleaveError.usage` when `fixed` names no runtime input, has
    ///   the wrong rank or contradicts a fixed dim, and when a non-leading
    ///   symbolic dim is left unresolved (the message names the input, the dim
    ///   and the option to give); `CleaveError.badInput` when an input declares
    ///   no element type.
    init(graph: Graph, fixed: [String: Shape]) throws {
        let runtime = graph.runtimeInputs
        let runtimeNames = Set(runtime.map(\.name))
        let initializerNames = Set(graph.initializers.map(\.name))
        for name in fixed.keys.sorted() where !runtimeNames.contains(name) {
            if initializerNames.contains(name) {
                throw CleaveError(.usage, "--input-shape \(name): '\(name)' is an initializer, not a runtime input")
            }
            let known = runtime.map { "'\($0.name)'" }.joined(separator: ", ")
            throw CleaveError(.usage, "--input-shape \(name): the model has no input '\(name)' (its inputs: \(known))")
        }

        // Caller-fixed inputs first, so the names they bind reach the others.
        var pending: [ValueInfo] = []
        for input in runtime {
            guard let shape = fixed[input.name] else {
                pending.append(input)
                continue
            }
            if let dims = input.dims {
                guard dims.count == shape.rank else {
                    throw CleaveError(.usage, "--input-shape \(input.name)=\(Self.argument(shape.dims.map(String.init))): rank \(shape.rank), but the model declares \(input.name) with rank \(dims.count) \(Self.argument(dims.map(\.description)))")
                }
                for (axis, dim) in dims.enumerated() {
                    switch dim {
                    case .fixed(let value) where value != shape[axis]:
                        throw CleaveError(.usage, "--input-shape \(input.name): dim \(axis) is \(shape[axis]), but the model fixes it to \(value)")
                    case .symbolic(let name):
                        if let bound = bindings[name], bound != shape[axis] {
                            throw CleaveError(.usage, "--input-shape \(input.name): dim \(axis) ('\(name)') is \(shape[axis]), but another input gives '\(name)' = \(bound)")
                        }
                        bindings[name] = shape[axis]
                    default:
                        break
                    }
                }
            }
            guard shape.dims.allSatisfy({ $0 >= 0 }), let count = Shape.checkedElementCount(shape.dims), count <= Shape.elementLimit else {
                throw CleaveError(.usage, "--input-shape \(input.name): \(shape) is not a valid shape")
            }
            types[input.name] = TensorType(try Self.dtype(of: input), shape)
        }

        for input in pending {
            guard let declared = input.dims else {
                throw CleaveError(.usage, "input '\(input.name)' has no declared shape; give --input-shape \(input.name)=D,D,...")
            }
            var dims: [Int] = []
            for (axis, dim) in declared.enumerated() {
                switch dim {
                case .fixed(let value):
                    guard value >= 0 else { throw CleaveError.badInput("input '\(input.name)' declares negative dim \(value) at axis \(axis)") }
                    dims.append(value)
                case .symbolic(let name) where bindings[name] != nil:
                    dims.append(bindings[name] ?? 1)
                case .symbolic, .unknown:
                    guard axis == 0 else {
                        let what = dim == .unknown ? "an unknown dim" : "symbolic dim '\(dim)'"
                        let example = declared.enumerated().map { $0.offset == 0 && $0.element.value == nil ? "1" : $0.element.description }
                        throw CleaveError(.usage, "input '\(input.name)' has \(what) at axis \(axis); give --input-shape \(input.name)=\(Self.argument(example)) with numbers for every dim")
                    }
                    dims.append(1)
                    if case .symbolic(let name) = dim { bindings[name] = 1 }
                }
            }
            guard let count = Shape.checkedElementCount(dims), count <= Shape.elementLimit else {
                throw CleaveError.badInput("input '\(input.name)' declares dims \(dims) with too many elements")
            }
            types[input.name] = TensorType(try Self.dtype(of: input), Shape(dims))
        }
    }

    /// The declared dims with symbolic names replaced by their bound sizes;
    /// nil unless every dim is then known.
    func resolve(_ info: ValueInfo) -> TensorType? {
        guard let dtype = info.dtype, let declared = info.dims else { return nil }
        var dims: [Int] = []
        for dim in declared {
            switch dim {
            case .fixed(let v) where v >= 0: dims.append(v)
            case .symbolic(let name) where bindings[name] != nil: dims.append(bindings[name] ?? 0)
            default: return nil
            }
        }
        guard let count = Shape.checkedElementCount(dims), count <= Shape.elementLimit else { return nil }
        return TensorType(dtype, Shape(dims))
    }

    private static func dtype(of input: ValueInfo) throws -> DType {
        guard let dtype = input.dtype else { throw CleaveError.badInput("input '\(input.name)' declares no tensor element type") }
        return dtype
    }

    /// `1,3,H,W`
    private static func argument(_ parts: [String]) -> String { parts.joined(separator: ",") }
}
