#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes behind a tensor: either memory cleave allocated (and may write),
/// or a read-only span of a mapped file that the storage keeps alive.
public final class TensorStorage: @unchecked Sendable {
    public let bytes: UnsafeRawBufferPointer
    private let owner: Owner

    private enum Owner {
        case allocated(UnsafeMutableRawPointer)
        case mapped(MappedFile)
        case storage(TensorStorage)
        case empty
    }

    /// Zero-filled memory of `byteCount` bytes, 64-byte aligned for SIMD and BLAS.
    public init(zeroedByteCount byteCount: Int) {
        guard byteCount > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            owner = .empty
            return
        }
        let (block, start) = TensorStorage.allocate(byteCount)
        start.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
        bytes = UnsafeRawBufferPointer(start: start, count: byteCount)
        owner = .allocated(block)
    }

    /// Uninitialised memory; the caller writes every byte before reading.
    public init(uninitializedByteCount byteCount: Int) {
        guard byteCount > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            owner = .empty
            return
        }
        let (block, start) = TensorStorage.allocate(byteCount)
        bytes = UnsafeRawBufferPointer(start: start, count: byteCount)
        owner = .allocated(block)
    }

    /// A copy of `source`.
    public convenience init(copying source: UnsafeRawBufferPointer) {
        self.init(uninitializedByteCount: source.count)
        if let destination = mutableBytes?.baseAddress, let from = source.baseAddress {
            destination.copyMemory(from: from, byteCount: source.count)
        }
    }

    /// `range` of a mapped file, without copying.
    public init(file: MappedFile, range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= file.count)
        bytes = UnsafeRawBufferPointer(rebasing: file.bytes[range])
        owner = .mapped(file)
    }

    /// A byte range of another storage, sharing its memory.
    public init(slicing storage: TensorStorage, range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= storage.bytes.count)
        bytes = UnsafeRawBufferPointer(rebasing: storage.bytes[range])
        owner = .storage(storage)
    }

    /// Writable access; nil for file-backed storage, which is read-only.
    public var mutableBytes: UnsafeMutableRawBufferPointer? {
        switch owner {
        case .allocated, .empty: return UnsafeMutableRawBufferPointer(mutating: bytes)
        case .mapped: return nil
        case .storage(let parent): return parent.mutableBytes == nil ? nil : UnsafeMutableRawBufferPointer(mutating: bytes)
        }
    }

    /// True when the bytes live in a mapped file rather than in allocated memory.
    public var isFileBacked: Bool {
        switch owner {
        case .mapped: return true
        case .storage(let parent): return parent.isFileBacked
        case .allocated, .empty: return false
        }
    }

    /// A malloc block with room for `byteCount` bytes from a 64-byte boundary.
    ///
    /// Not `allocate(alignment: 64)`: glibc's memalign splits a bigger block
    /// and frees the trimmed ends, so a freed tensor is too small for the next
    /// aligned request of the same size; a session running the same shapes
    /// over and over then grows its heap without bound (ResNet-50: 54 MB of
    /// heap for 6 MB of live tensors). Equal plain requests reuse freed blocks.
    private static func allocate(_ byteCount: Int) -> (block: UnsafeMutableRawPointer, start: UnsafeMutableRawPointer) {
        guard let block = malloc(byteCount + 63) else { fatalError("out of memory allocating \(byteCount) bytes") }
        let address = (UInt(bitPattern: block) + 63) & ~UInt(63)
        return (block, UnsafeMutableRawPointer(bitPattern: address) ?? block)
    }

    deinit {
        if case .allocated(let block) = owner { free(block) }
    }
}

/// A dense, row-major tensor. Cheap to copy: the bytes are shared.
public struct Tensor: @unchecked Sendable, CustomStringConvertible {
    public let dtype: DType
    public let shape: Shape
    public let storage: TensorStorage

    /// Wraps `storage`, whose size must be exactly `shape.elementCount × dtype.byteSize`.
    public init(dtype: DType, shape: Shape, storage: TensorStorage) {
        precondition(storage.bytes.count == Tensor.byteCount(dtype: dtype, shape: shape),
                     "tensor storage of \(storage.bytes.count) bytes does not fit \(dtype.name)\(shape)")
        self.dtype = dtype
        self.shape = shape
        self.storage = storage
    }

    /// A zero-filled tensor.
    public init(zeros dtype: DType, _ shape: Shape) {
        self.init(dtype: dtype, shape: shape,
                  storage: TensorStorage(zeroedByteCount: Tensor.byteCount(dtype: dtype, shape: shape)))
    }

    /// A tensor whose every byte the caller writes through `body` before it is read.
    public static func uninitialized(_ dtype: DType, _ shape: Shape) -> Tensor {
        Tensor(dtype: dtype, shape: shape,
               storage: TensorStorage(uninitializedByteCount: byteCount(dtype: dtype, shape: shape)))
    }

    /// A tensor holding a copy of `values`, whose Swift type must match `dtype`.
    public init<Element: BitwiseCopyable>(_ dtype: DType, _ shape: Shape, _ values: [Element]) {
        precondition(MemoryLayout<Element>.stride == dtype.byteSize, "\(Element.self) does not match \(dtype.name)")
        precondition(values.count == shape.elementCount, "\(values.count) values do not fill \(shape)")
        let storage = values.withUnsafeBytes { TensorStorage(copying: $0) }
        self.init(dtype: dtype, shape: shape, storage: storage)
    }

    /// A float32 tensor holding a copy of `values`.
    public init(_ shape: Shape, floats values: [Float]) { self.init(.float, shape, values) }

    /// An int64 tensor holding a copy of `values`.
    public init(_ shape: Shape, int64s values: [Int64]) { self.init(.int64, shape, values) }

    /// Bytes a tensor of this type occupies (0 for element types of no fixed size).
    public static func byteCount(dtype: DType, shape: Shape) -> Int {
        (dtype.byteSize ?? 0) * shape.elementCount
    }

    public var type: TensorType { TensorType(dtype, shape) }
    public var elementCount: Int { shape.elementCount }
    public var byteCount: Int { storage.bytes.count }

    /// Reads the elements as `Element` (which must match `dtype`).
    public func withUnsafeBufferPointer<Element, Result>(
        as: Element.Type, _ body: (UnsafeBufferPointer<Element>) throws -> Result
    ) rethrows -> Result {
        precondition(MemoryLayout<Element>.stride == dtype.byteSize, "\(Element.self) does not match \(dtype.name)")
        let typed = storage.bytes.baseAddress.map {
            UnsafeBufferPointer(start: $0.assumingMemoryBound(to: Element.self), count: elementCount)
        } ?? UnsafeBufferPointer(start: nil, count: 0)
        return try body(typed)
    }

    /// Writes the elements as `Element`; only for tensors cleave allocated.
    public func withUnsafeMutableBufferPointer<Element, Result>(
        as: Element.Type, _ body: (UnsafeMutableBufferPointer<Element>) throws -> Result
    ) rethrows -> Result {
        precondition(MemoryLayout<Element>.stride == dtype.byteSize, "\(Element.self) does not match \(dtype.name)")
        guard let mutable = storage.mutableBytes else { preconditionFailure("tensor storage is read-only (file-backed)") }
        let typed = mutable.baseAddress.map {
            UnsafeMutableBufferPointer(start: $0.assumingMemoryBound(to: Element.self), count: elementCount)
        } ?? UnsafeMutableBufferPointer(start: nil, count: 0)
        return try body(typed)
    }

    /// A copy of the elements as `Element` (tests and small shape tensors).
    public func elements<Element>(as type: Element.Type) -> [Element] {
        withUnsafeBufferPointer(as: type) { Array($0) }
    }

    public var floats: [Float] { elements(as: Float.self) }
    public var int64s: [Int64] { elements(as: Int64.self) }

    /// The same bytes with another shape of equal element count.
    public func reshaped(_ newShape: Shape) -> Tensor {
        Tensor(dtype: dtype, shape: newShape, storage: storage)
    }

    /// Integer values of an int64 or int32 tensor (shape tensors, axes, pads), as Int.
    public var integerValues: [Int]? {
        switch dtype {
        case .int64: return int64s.map { Int($0) }
        case .int32: return elements(as: Int32.self).map { Int($0) }
        default: return nil
        }
    }

    public var description: String { "Tensor(\(dtype.name)\(shape))" }
}
