import CZlib
import CleaveIR

/// zlib and gzip streams: the `int8+zlib` boundary codec, and the
/// `deflate`/`gzip` request bodies `cleave serve` accepts.
///
/// Inflating is bounded: a stream that would inflate past `limit` is refused
/// as soon as the output crosses it, so a small "zip bomb" never costs more
/// than `limit` bytes of memory.
public enum Zlib {
    /// The stream formats of RFC 9110's content codings.
    public enum Format: Sendable {
        /// `deflate`: a zlib stream (RFC 1950). Some clients send a bare RFC 1951
        /// stream under this name, which is accepted too.
        case zlib
        /// `gzip` (RFC 1952).
        case gzip

        /// The content coding's name.
        public var name: String { self == .gzip ? "gzip" : "deflate" }
    }

    /// Output grows in steps of this size, so memory follows the real output.
    static let chunk = 64 * 1024

    /// Decompresses `input`.
    /// - Parameters:
    ///   - limit: the largest output accepted, in bytes.
    ///   - what: names the input in error messages (default: "the deflate
    ///     stream" or "the gzip stream").
    /// - Throws: `CleaveError` of kind `.tooLarge` when the output would exceed
    ///   `limit`; `.badInput` for a corrupt or truncated stream or data after
    ///   its end; `.io` when zlib cannot get the memory it needs.
    public static func inflate(_ input: UnsafeRawBufferPointer, format: Format, limit: Int, what: String? = nil) throws -> [UInt8] {
        let what = what ?? "the \(format.name) stream"
        let limit = Swift.max(0, limit)
        var windowBits: Int32 = format == .gzip ? 15 + 16 : 15
        if format == .zlib, !looksLikeZlibHeader(input) { windowBits = -15 }

        var stream = z_stream()
        guard inflateInit2_(&stream, windowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw CleaveError.io("cannot start the \(format.name) decoder")
        }
        defer { inflateEnd(&stream) }

        var output: [UInt8] = []
        var fed = 0
        while true {
            // zlib takes at most 4 GiB of input per call: feed a larger input in pieces.
            if stream.avail_in == 0, fed < input.count, let base = input.baseAddress {
                let piece = Swift.min(input.count - fed, Int(UInt32.max))
                stream.next_in = UnsafeMutablePointer(mutating: (base + fed).assumingMemoryBound(to: UInt8.self))
                stream.avail_in = UInt32(piece)
                fed += piece
            }
            // Room for one more chunk, but never past the limit plus one byte:
            // producing that byte is how an oversized stream is detected.
            let left = limit - output.count
            let room = left < chunk ? left + 1 : chunk
            let start = output.count
            output.append(contentsOf: repeatElement(0, count: room))
            let status = output.withUnsafeMutableBufferPointer { buffer -> Int32 in
                stream.next_out = buffer.baseAddress.map { $0 + start }
                stream.avail_out = UInt32(room)
                return CZlib.inflate(&stream, Z_NO_FLUSH)
            }
            output.removeLast(Int(stream.avail_out))
            if output.count > limit {
                throw CleaveError.tooLarge("\(what) inflates to more than \(limit) bytes")
            }
            switch status {
            case Z_OK:
                continue
            case Z_STREAM_END:
                let trailing = input.count - Int(stream.total_in)
                guard trailing == 0 else { throw CleaveError.badInput("\(what) has \(trailing) bytes after the end of its stream") }
                return output
            case Z_BUF_ERROR:
                // No progress with room to write: the input ran out before the stream ended.
                throw CleaveError.badInput("\(what) is truncated: its stream does not end")
            case Z_MEM_ERROR:
                throw CleaveError.io("out of memory while inflating \(what)")
            default:
                let reason = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                throw CleaveError.badInput("\(what) is not valid compressed data: \(reason)")
            }
        }
    }

    /// A zlib stream (RFC 1950) of `input`: what `Content-Encoding: deflate` carries.
    /// - Parameter level: 1 (fastest) to 9 (smallest); `BoundaryCodec.deflateLevel` for boundary tensors.
    /// - Throws: `CleaveError.io` when zlib cannot get the memory it needs or
    ///   refuses the level.
    public static func deflate(_ input: UnsafeRawBufferPointer, level: Int32) throws -> [UInt8] {
        var stream = z_stream()
        let started = deflateInit_(&stream, level, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard started == Z_OK else { throw CleaveError.io("cannot start the deflate encoder at level \(level) (zlib status \(started))") }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))))
        var offset = 0
        var status: Int32 = Z_OK
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
        while status == Z_OK {
            // zlib takes at most 4 GiB of input per call; Z_FINISH only with the last piece.
            let remaining = input.count - offset
            stream.avail_in = UInt32(clamping: remaining)
            let last = remaining <= Int(UInt32.max)
            let produced = Int(stream.total_out)
            status = output.withUnsafeMutableBufferPointer { buffer -> Int32 in
                stream.next_out = buffer.baseAddress.map { $0 + produced }
                stream.avail_out = UInt32(clamping: buffer.count - produced)
                return CZlib.deflate(&stream, last ? Z_FINISH : Z_NO_FLUSH)
            }
            offset = Int(stream.total_in)
        }
        // deflateBound leaves room for the whole stream, so anything but its end is zlib failing.
        guard status == Z_STREAM_END else { throw CleaveError.io("deflate failed (zlib status \(status))") }
        output.removeLast(output.count - Int(stream.total_out))
        return output
    }

    /// True when the first two bytes are a valid zlib header (RFC 1950 §2.2:
    /// method 8, and the 16-bit header is a multiple of 31).
    static func looksLikeZlibHeader(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 2 else { return true }  // let zlib report the truncation
        let cmf = Int(bytes[0]), flg = Int(bytes[1])
        return cmf & 0x0F == 8 && (cmf << 8 | flg) % 31 == 0
    }
}
