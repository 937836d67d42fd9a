import CleaveIR

/// Where each initializer's bytes go in weights.bin (schemas/BUNDLE.md §3.3):
/// in initializer order, 4096-byte aligned from 64 KiB up so the file can be
/// memory-mapped page by page, 64-byte aligned below, zero padding, no tail.
public enum WeightLayout {
    /// Tensors smaller than this stay embedded in model.onnx (§3.2).
    public static let embeddedBelow = 1024
    public static let pageAlignment = 4096
    public static let smallAlignment = 64
    public static let pageAlignedFrom = 64 * 1024

    public static func alignment(forByteCount count: Int) -> Int {
        count >= pageAlignedFrom ? pageAlignment : smallAlignment
    }

    /// Whether a tensor of `count` bytes goes to weights.bin (§3.2).
    public static func isExternal(byteCount count: Int) -> Bool { count >= embeddedBelow }

    /// The offset of each of `byteCounts` and the total file size.
    public static func offsets(for byteCounts: [Int]) -> (offsets: [Int], size: Int) {
        var offsets: [Int] = []
        var end = 0
        for count in byteCounts {
            let offset = align(end, to: alignment(forByteCount: count))
            offsets.append(offset)
            end = offset + count
        }
        return (offsets, end)
    }

    public static func align(_ value: Int, to alignment: Int) -> Int {
        (value + alignment - 1) / alignment * alignment
    }
}
