/// Protocol-buffer wire format primitives, for the pre-pass that runs before
/// protobuf-c (see `PayloadStripper`). Every read is bounds-checked: the input
/// is an untrusted file.
struct WireReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset: Int
    let end: Int

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>) {
        self.bytes = bytes
        self.offset = range.lowerBound
        self.end = range.upperBound
    }

    var isAtEnd: Bool { offset >= end }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < end else { throw WireError.truncated }
            let byte = bytes[offset]
            offset += 1
            if shift == 63 && byte > 1 { throw WireError.malformed("varint overflows 64 bits") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            guard shift <= 63 else { throw WireError.malformed("varint longer than 10 bytes") }
        }
    }

    /// The next field's number and wire type.
    mutating func tag() throws -> (field: UInt32, wireType: UInt8) {
        let key = try varint()
        let field = key >> 3
        guard field > 0, field <= 0x1FFF_FFFF else { throw WireError.malformed("field number \(field) out of range") }
        return (UInt32(field), UInt8(key & 7))
    }

    /// Skips the value of a field of `wireType`; returns the range of its
    /// payload (for length-delimited fields, the bytes after the length).
    mutating func value(wireType: UInt8) throws -> Range<Int> {
        switch wireType {
        case 0:
            let start = offset
            _ = try varint()
            return start..<offset
        case 1: return try advance(by: 8)
        case 5: return try advance(by: 4)
        case 2:
            let length = try varint()
            guard length <= UInt64(end - offset) else { throw WireError.truncated }
            return try advance(by: Int(length))
        default:
            throw WireError.malformed("unsupported wire type \(wireType)")
        }
    }

    private mutating func advance(by count: Int) throws -> Range<Int> {
        guard count <= end - offset else { throw WireError.truncated }
        let range = offset..<(offset + count)
        offset += count
        return range
    }
}

enum WireError: Error {
    case truncated
    case malformed(String)
}

extension Array where Element == UInt8 {
    mutating func appendVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        append(UInt8(v))
    }

    mutating func appendTag(field: UInt32, wireType: UInt8) {
        appendVarint(UInt64(field) << 3 | UInt64(wireType))
    }
}
