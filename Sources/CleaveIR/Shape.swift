/// A concrete tensor shape: every dim is a known, non-negative size.
/// A scalar has rank 0 and one element.
public struct Shape: Hashable, Sendable, RandomAccessCollection, ExpressibleByArrayLiteral, CustomStringConvertible {
    public var dims: [Int]

    public init(_ dims: [Int]) { self.dims = dims }
    public init(arrayLiteral dims: Int...) { self.dims = dims }

    public var startIndex: Int { dims.startIndex }
    public var endIndex: Int { dims.endIndex }
    public subscript(position: Int) -> Int {
        get { dims[position] }
        set { dims[position] = newValue }
    }

    public var rank: Int { dims.count }

    /// The number of elements. Shapes built by cleave are checked on creation
    /// (see `checkedElementCount`), so this cannot overflow.
    public var elementCount: Int { dims.reduce(1, *) }

    /// The element count of dims that came from a file: nil if a dim is
    /// negative or the product overflows.
    public static func checkedElementCount(_ dims: [Int]) -> Int? {
        var count = 1
        for d in dims {
            guard d >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            count = product
        }
        return count
    }

    /// Row-major strides in elements.
    public var strides: [Int] {
        var strides = [Int](repeating: 1, count: dims.count)
        var step = 1
        for axis in dims.indices.reversed() {
            strides[axis] = step
            step *= dims[axis]
        }
        return strides
    }

    /// `[1, 3, 224, 224]`
    public var description: String { "[" + dims.map(String.init).joined(separator: ", ") + "]" }
}

/// One dim of a declared (graph input/output or value_info) shape.
public enum Dim: Hashable, Sendable, CustomStringConvertible {
    case fixed(Int)
    /// A named symbolic dim (`dim_param`), e.g. "batch_size".
    case symbolic(String)
    /// Neither a value nor a name was given.
    case unknown

    public var value: Int? {
        if case .fixed(let v) = self { return v }
        return nil
    }

    public var description: String {
        switch self {
        case .fixed(let v): return String(v)
        case .symbolic(let name): return name
        case .unknown: return "?"
        }
    }
}

/// The declared type of a value: graph inputs/outputs and value_info entries.
public struct ValueInfo: Hashable, Sendable {
    public var name: String
    /// nil when the declaration has no tensor type (or a non-tensor type).
    public var dtype: DType?
    /// nil when the rank is unknown.
    public var dims: [Dim]?
    public var docString: String

    public init(name: String, dtype: DType?, dims: [Dim]?, docString: String = "") {
        self.name = name
        self.dtype = dtype
        self.dims = dims
        self.docString = docString
    }

    /// The shape if every dim is fixed.
    public var shape: Shape? {
        guard let dims else { return nil }
        var values: [Int] = []
        for d in dims {
            guard let v = d.value else { return nil }
            values.append(v)
        }
        return Shape(values)
    }
}

/// The type of a value once analysis resolved it.
public struct TensorType: Hashable, Sendable, CustomStringConvertible {
    public var dtype: DType
    public var shape: Shape
    public init(_ dtype: DType, _ shape: Shape) {
        self.dtype = dtype
        self.shape = shape
    }
    /// Bytes of one tensor of this type (0 for types without a fixed element size).
    public var byteCount: Int { (dtype.byteSize ?? 0) * shape.elementCount }
    public var description: String { "\(dtype.name)\(shape)" }
}
