import CleaveIR
@testable import CleaveRuntime
import XCTest

/// The int8 boundary codec's two halves: per-tensor quantisation and bounded zlib.
final class BoundaryCodecTests: XCTestCase {
    // MARK: quantisation

    func testQuantisationKeepsZeroExactAndErrsByAtMostOneStep() throws {
        let values: [Float] = [0, 0, 0.5, 3.25, 7.9, 0, 1e-4, 2.0]
        let q = try values.withUnsafeBufferPointer { try Quantization(covering: $0, name: "t") }
        XCTAssertEqual(q.zeroPoint, 0)
        XCTAssertEqual(q.scale, 7.9 / 255, accuracy: 1e-9)
        let restored = try roundTrip(values)
        for (x, y) in zip(values, restored) {
            XCTAssertLessThanOrEqual(abs(x - y), q.scale / 2 + 1e-6, "\(x)")
            if x == 0 { XCTAssertEqual(y, 0) }
        }
        // A negative range moves the zero point; constant zeros get scale 1.
        let signed = try [Float(-1), 1].withUnsafeBufferPointer { try Quantization(covering: $0, name: "t") }
        XCTAssertTrue((127...128).contains(signed.zeroPoint), "\(signed.zeroPoint)")
        XCTAssertEqual(try [Float](repeating: 0, count: 4).withUnsafeBufferPointer { try Quantization(covering: $0, name: "t") },
                       Quantization(scale: 1, zeroPoint: 0))
    }

    func testSignedValuesStayWithinOneStepAndZeroStaysExact() throws {
        // Neither end of the range at zero: the zero point is rounded, which can
        // push an end up to one step off, never more.
        var random = SplitMix64(seed: 7)
        let values = (0..<4096).map { i -> Float in i % 5 == 0 ? 0 : Float(random.next() >> 40) / Float(1 << 24) * 7.3 - 2.1 }
        let q = try values.withUnsafeBufferPointer { try Quantization(covering: $0, name: "t") }
        XCTAssertEqual(q.scale, (values.max() ?? 0) / 255 - (values.min() ?? 0) / 255, accuracy: 1e-7)
        let restored = try roundTrip(values)
        for (x, y) in zip(values, restored) {
            XCTAssertLessThanOrEqual(abs(x - y), q.scale + 1e-6, "\(x)")
            if x == 0 { XCTAssertEqual(y, 0) }
        }
    }

    func testNonFiniteValuesAreRefusedNamingTheTensor() {
        for bad in [Float.nan, .infinity, -.infinity] {
            let error = thrown { try [1, bad, 2].withUnsafeBufferPointer { try Quantization(covering: $0, name: "/conv/Relu_output_0") } }
            XCTAssertEqual(error?.kind, .badInput)
            XCTAssertTrue(error?.message.contains("'/conv/Relu_output_0'") == true, error?.message ?? "no error")
        }
    }

    func testRangesOfBatchesMergeIntoTheParametersOfTheirUnion() throws {
        let first: [Float] = [0.5, 3, 1], second: [Float] = [-0.25, 2]
        let a = try first.withUnsafeBufferPointer { try Quantization.range(of: $0, name: "t") }
        let b = try second.withUnsafeBufferPointer { try Quantization.range(of: $0, name: "t") }
        XCTAssertEqual(a, 0...3, "widened to include 0")
        let merged = Quantization(covering: min(a.lowerBound, b.lowerBound)...max(a.upperBound, b.upperBound))
        XCTAssertEqual(merged, try (first + second).withUnsafeBufferPointer { try Quantization(covering: $0, name: "t") })
        XCTAssertEqual(merged.zeroPoint, 20)  // round(0.25 / (3.25 / 255)) = round(19.6)
    }

    func testTensorsQuantiseToUInt8CodesOfTheSameShape() throws {
        let tensor = Tensor([2, 3], floats: [0, 1, 2, 3, 4, 5.1])
        let (codes, q) = try Quantization.quantized(tensor, name: "t")
        XCTAssertEqual(codes.dtype, .uint8)
        XCTAssertEqual(codes.shape, tensor.shape)
        XCTAssertEqual(codes.elements(as: UInt8.self), [0, 50, 100, 150, 200, 255])
        let restored = q.dequantized(codes)
        XCTAssertEqual(restored.shape, tensor.shape)
        for (x, y) in zip(tensor.floats, restored.floats) { XCTAssertEqual(x, y, accuracy: q.scale / 2) }
    }

    // MARK: zlib

    func testInflateRoundTripsAndStopsAtTheLimit() throws {
        let data = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 * 7 / 5) }
        let compressed = try data.withUnsafeBytes { try Zlib.deflate($0, level: BoundaryCodec.deflateLevel) }
        XCTAssertLessThan(compressed.count, data.count / 10)
        XCTAssertEqual(try compressed.withUnsafeBytes { try Zlib.inflate($0, format: .zlib, limit: data.count) }, data)
        // One byte under the output's size is refused as too large.
        let error = thrown { try compressed.withUnsafeBytes { try Zlib.inflate($0, format: .zlib, limit: data.count - 1) } }
        XCTAssertEqual(error?.kind, .tooLarge)
        XCTAssertEqual(error?.message, "the deflate stream inflates to more than 299999 bytes")
        // A bare RFC 1951 stream sent as "deflate" (some clients do) is read too.
        let raw = Array(compressed.dropFirst(2).dropLast(4))
        XCTAssertEqual(try raw.withUnsafeBytes { try Zlib.inflate($0, format: .zlib, limit: data.count) }, data)
        // Empty input is a truncated stream, not empty data.
        let empty = thrown { try [UInt8]().withUnsafeBytes { try Zlib.inflate($0, format: .gzip, limit: 10, what: "the body") } }
        XCTAssertEqual(empty, .badInput("the body is truncated: its stream does not end"))
    }

    func testCorruptStreamsAreBadInput() throws {
        let data = [UInt8](repeating: 42, count: 1000)
        let compressed = try data.withUnsafeBytes { try Zlib.deflate($0, level: 6) }
        var flipped = compressed
        flipped[compressed.count - 1] ^= 0xFF  // the Adler-32 checksum no longer matches
        let cases: [(String, [UInt8], String)] = [
            ("garbage after a zlib header", [0x78, 0x9C] + [UInt8](repeating: 0xFF, count: 64), "not valid compressed data"),
            ("a wrong checksum", flipped, "not valid compressed data"),
            ("a cut-off stream", Array(compressed.dropLast(3)), "truncated"),
            ("bytes after the end", compressed + [0, 1, 2], "3 bytes after the end"),
        ]
        for (what, stream, fragment) in cases {
            let error = thrown { try stream.withUnsafeBytes { try Zlib.inflate($0, format: .zlib, limit: 1 << 20) } }
            XCTAssertEqual(error?.kind, .badInput, what)
            XCTAssertTrue(error?.message.contains(fragment) == true, "\(what): \(error?.message ?? "no error")")
        }
    }

    func testAZipBombCostsNoMoreThanTheLimit() throws {
        // 64 MiB of zeros deflate to about 64 KB; the limit stops it at 1 MiB of output.
        let zeros = [UInt8](repeating: 0, count: 64 << 20)
        let stream = try zeros.withUnsafeBytes { try Zlib.deflate($0, level: 9) }
        XCTAssertLessThan(stream.count, 128 << 10)
        let start = Session.now()
        XCTAssertEqual(thrown { try stream.withUnsafeBytes { try Zlib.inflate($0, format: .zlib, limit: 1 << 20) } }?.kind, .tooLarge)
        XCTAssertLessThan(Session.now() - start, 1.0)
    }

    // MARK: helpers

    /// `values` quantised and dequantised with the parameters for their range.
    private func roundTrip(_ values: [Float]) throws -> [Float] {
        let (codes, q) = try Quantization.quantized(Tensor([values.count], floats: values), name: "t")
        return q.dequantized(codes).floats
    }

    /// The `CleaveError` `body` throws; nil when it throws nothing (or something else).
    private func thrown<T>(_ body: () throws -> T) -> CleaveError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error as? CleaveError
        }
    }
}
