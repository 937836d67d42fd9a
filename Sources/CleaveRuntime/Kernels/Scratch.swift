/// A grow-only float buffer a kernel keeps between runs, so that a repeated
/// input shape never allocates (im2col columns, transposed-convolution columns).
///
/// Owned by one kernel instance; kernels run on one thread at a time.
final class FloatScratch {
    private var pointer: UnsafeMutablePointer<Float>
    private var capacity: Int

    init() {
        capacity = 16
        pointer = FloatScratch.allocate(capacity)
    }

    /// At least `count` floats, 64-byte aligned; contents are unspecified.
    /// The pointer stays valid until the next call with a larger count.
    func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            pointer.deallocate()
            pointer = FloatScratch.allocate(count)
            capacity = count
        }
        return pointer
    }

    private static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: count)
    }

    deinit { pointer.deallocate() }
}
