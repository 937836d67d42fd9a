import CleaveBundle
import CleaveIR
import CleaveRuntime
import CleaveServe
import CZlib
import XCTest

/// The server in-process on a free loopback port, spoken to over real HTTP
/// with hand-built request bodies (tools/interop_triton.py does the same
/// with NVIDIA's own client).
final class ServerTests: XCTestCase {
    var fixture: PairFixture!
    var server: TestServer!
    var infer: String { server.base + "/v2/models/model/infer" }

    override func setUp() async throws {
        fixture = try PairFixture.get()
        server = try await TestServer.start(bundle: fixture.cloudPath)
    }

    override func tearDown() async throws {
        await server.stop()
    }

    // MARK: metadata

    func testHealthMetadataAndConfigDescribeTheCloudHalf() async throws {
        let cloud = try LoadedBundle(path: fixture.cloudPath)
        let live = try await http("GET", server.base + "/v2/health/live")
        XCTAssertEqual(live.status, 200)
        XCTAssertEqual(live.json?["live"], .bool(true))
        let ready = try await http("GET", server.base + "/v2/health/ready")
        XCTAssertEqual(ready.json?["ready"], .bool(true))
        let serverMetadata = try await http("GET", server.base + "/v2")
        XCTAssertEqual(serverMetadata.json?["name"], .string("cleave"))

        for path in ["/v2/models/model", "/v2/models/model/versions/1"] {
            let response = try await http("GET", server.base + path)
            let metadata = try XCTUnwrap(response.json, path)
            XCTAssertEqual(metadata["name"], .string("model"))
            XCTAssertEqual(metadata["versions"], .array([.string("1")]))
            XCTAssertEqual(metadata["parameters"]?["pair_id"]?.stringValue, cloud.manifest.pairID)
            let inputs = try XCTUnwrap(metadata["inputs"]?.arrayValue)
            XCTAssertEqual(inputs.map { $0["name"]?.stringValue ?? "" }, cloud.manifest.inputs.map(\.name))
            XCTAssertEqual(inputs.map { $0["datatype"] }, cloud.manifest.inputs.map { _ in .string("FP32") })
            XCTAssertEqual(inputs.map { $0["shape"] }, cloud.manifest.inputs.map { .array($0.shape.dims.map { .int($0) }) })
            XCTAssertEqual(metadata["outputs"]?.arrayValue?.first?["shape"], .array([.int(1), .int(10)]))
        }
        let modelReady = try await http("GET", server.base + "/v2/models/model/ready")
        XCTAssertEqual(modelReady.status, 200)
        XCTAssertEqual(modelReady.json?["ready"], .bool(true))

        let configResponse = try await http("GET", server.base + "/v2/models/model/config")
        let config = try XCTUnwrap(configResponse.json)
        XCTAssertEqual(config["max_batch_size"], .int(0))
        XCTAssertEqual(config["backend"], .string("onnxruntime"))
        XCTAssertEqual(config["input"]?.arrayValue?.first?["data_type"], .string("TYPE_FP32"))
        XCTAssertEqual(config["output"]?.arrayValue?.first?["dims"], .array([.int(1), .int(10)]))

        let otherVersion = try await http("GET", server.base + "/v2/models/model/versions/2")
        XCTAssertEqual(otherVersion.status, 404)
        XCTAssertTrue(otherVersion.error?.contains("version '2'") == true, "\(String(describing: otherVersion.error))")
    }

    // MARK: inference

    func testBinaryInferenceEqualsALocalRunBitForBit() async throws {
        let boundary = try fixture.boundary()
        let expected = try LoadedBundle(path: fixture.cloudPath).session(options: SessionOptions(threads: 1)).run(boundary)
        let names = boundary.keys.sorted()
        let entries = names.map { name -> String in
            let t = boundary[name]!
            return #"{"name":"\#(name)","datatype":"FP32","shape":\#(t.shape.dims),"parameters":{"binary_data_size":\#(t.byteCount)}}"#
        }
        let header = Array(#"{"id":"r1","inputs":[\#(entries.joined(separator: ","))],"outputs":[{"name":"output","parameters":{"binary_data":true}}]}"#.utf8)
        let body = header + names.flatMap { bytes(of: boundary[$0]!) }

        let response = try await http("POST", infer, body: body, headers: [("Inference-Header-Content-Length", String(header.count))])
        XCTAssertEqual(response.status, 200, response.error ?? "")
        let length = try XCTUnwrap(response.header("Inference-Header-Content-Length").flatMap { Int($0) })
        let json = try JSON.parse(Array(response.body[0..<length]))
        XCTAssertEqual(json["id"], .string("r1"))
        XCTAssertEqual(json["model_name"], .string("model"))
        let output = try XCTUnwrap(json["outputs"]?.arrayValue?.first)
        XCTAssertEqual(output["datatype"], .string("FP32"))
        XCTAssertEqual(output["parameters"]?["binary_data_size"], .int(40))
        XCTAssertEqual(Array(response.body[length...]), bytes(of: expected["output"]!))
    }

    func testJSONInferenceAcceptsFlatAndNestedDataAndReturnsExactFloats() async throws {
        let boundary = try fixture.boundary()
        let expected = try LoadedBundle(path: fixture.cloudPath).session(options: SessionOptions(threads: 1)).run(boundary)
        for nested in [false, true] {
            let entries = boundary.keys.sorted().map { name -> String in
                let t = boundary[name]!
                // Doubles print the float32 value exactly, so the server reads back the same bits.
                var data = "[" + t.floats.map { "\(Double($0))" }.joined(separator: ",") + "]"
                if nested {
                    let rows = t.shape.dims.last ?? 1
                    data = "[" + stride(from: 0, to: t.elementCount, by: rows).map { start in
                        "[" + t.floats[start..<(start + rows)].map { "\(Double($0))" }.joined(separator: ",") + "]"
                    }.joined(separator: ",") + "]"
                }
                return #"{"name":"\#(name)","datatype":"FP32","shape":\#(t.shape.dims),"data":\#(data)}"#
            }
            let response = try await http("POST", infer, body: Array(#"{"inputs":[\#(entries.joined(separator: ","))]}"#.utf8))
            XCTAssertEqual(response.status, 200, response.error ?? "")
            XCTAssertNil(response.header("Inference-Header-Content-Length"))
            let output = try XCTUnwrap(response.json?["outputs"]?.arrayValue?.first)
            let values = try XCTUnwrap(output["data"]?.arrayValue).map { Float($0.doubleValue ?? .nan) }
            XCTAssertEqual(values, expected["output"]!.floats, "nested: \(nested)")
        }
    }

    func testDeflateAndGzipBodiesAreInflated() async throws {
        let boundary = try fixture.boundary()
        let expected = try LoadedBundle(path: fixture.cloudPath).session(options: SessionOptions(threads: 1)).run(boundary)
        let (body, length) = binaryRequest(boundary)
        for (encoding, windowBits) in [("deflate", Int32(15)), ("gzip", Int32(31))] {
            let compressed = compress(body, windowBits: windowBits)
            XCTAssertLessThan(compressed.count, body.count)
            let response = try await http("POST", infer, body: compressed,
                                          headers: [("Inference-Header-Content-Length", String(length)), ("Content-Encoding", encoding)])
            XCTAssertEqual(response.status, 200, "\(encoding): \(response.error ?? "")")
            let header = try XCTUnwrap(response.header("Inference-Header-Content-Length").flatMap { Int($0) })
            XCTAssertEqual(Array(response.body[header...]), bytes(of: expected["output"]!), encoding)
        }
    }

    func testManyConcurrentRequestsAllSucceedWithTheSameOutput() async throws {
        let boundary = try fixture.boundary()
        let expected = bytes(of: try LoadedBundle(path: fixture.cloudPath).session(options: SessionOptions(threads: 1)).run(boundary)["output"]!)
        let (body, length) = binaryRequest(boundary)
        let url = infer
        let outputs = try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for _ in 0..<32 {
                group.addTask {
                    let r = try await http("POST", url, body: body, headers: [("Inference-Header-Content-Length", String(length))])
                    let header = Int(r.header("Inference-Header-Content-Length") ?? "") ?? r.body.count
                    return r.status == 200 ? Array(r.body[header...]) : []
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(outputs.count, 32)
        XCTAssertTrue(outputs.allSatisfy { $0 == expected })
    }

    // MARK: robustness

    /// Each kind of bad request gets its 4xx and a JSON {"error": …} that says
    /// what was wrong, and the server keeps answering.
    func testMalformedRequestsGet4xxWithAJSONErrorAndTheServerStaysUp() async throws {
        let boundary = try fixture.boundary()
        let (body, length) = binaryRequest(boundary)
        let lengthHeader = ("Inference-Header-Content-Length", String(length))
        let names = boundary.keys.sorted()
        let first = names[0], shape = boundary[first]!.shape.dims, count = boundary[first]!.elementCount
        func jsonBody(_ entries: String) -> [UInt8] { Array(#"{"inputs":[\#(entries)]}"#.utf8) }
        func zeros(_ name: String, datatype: String = "FP32", shape: [Int], values: Int) -> String {
            #"{"name":"\#(name)","datatype":"\#(datatype)","shape":\#(shape),"data":[\#(Array(repeating: "0", count: values).joined(separator: ","))]}"#
        }
        let both = names.map { zeros($0, shape: boundary[$0]!.shape.dims, values: boundary[$0]!.elementCount) }
        let bomb = compress([UInt8](repeating: 0, count: 8 << 20), windowBits: 15)
        XCTAssertLessThan(bomb.count, 64 << 10)

        let cases: [(what: String, url: String, body: [UInt8], headers: [(String, String)], status: Int, says: String)] = [
            ("malformed JSON", infer, Array(#"{"inputs": [{"name": "#.utf8), [], 400, "invalid JSON"),
            ("a JSON array", infer, Array("[1,2]".utf8), [], 400, "object"),
            ("unknown model", server.base + "/v2/models/nope/infer", jsonBody(both.joined(separator: ",")), [], 404, "unknown model 'nope'"),
            ("unknown endpoint", server.base + "/v2/nothing", [], [], 404, "no endpoint"),
            ("unknown input", infer, jsonBody(zeros("nope", shape: shape, values: count)), [], 400, "'nope' is not an input"),
            ("missing input", infer, jsonBody(both[0]), [], 400, "is missing"),
            ("wrong dtype", infer, jsonBody(zeros(first, datatype: "FP64", shape: shape, values: count) + "," + both[1]), [], 400, "datatype FP64"),
            ("unknown dtype", infer, jsonBody(zeros(first, datatype: "BYTES", shape: shape, values: count)), [], 400, "not supported"),
            ("wrong shape", infer, jsonBody(zeros(first, shape: [count], values: count) + "," + both[1]), [], 400, "does not match the model's"),
            ("wrong element count", infer, jsonBody(zeros(first, shape: shape, values: count - 1) + "," + both[1]), [], 400, "elements"),
            ("a string element", infer, jsonBody(#"{"name":"\#(first)","datatype":"FP32","shape":\#(shape),"data":["x"\#(String(repeating: ",0", count: count - 1))]}"#), [], 400, "element 0"),
            ("truncated binary payload", infer, Array(body.dropLast(100)), [lengthHeader], 400, "truncated"),
            ("binary size that does not fit the shape", infer,
             Array(#"{"inputs":[{"name":"\#(first)","datatype":"FP32","shape":\#(shape),"parameters":{"binary_data_size":12}}]}"#.utf8) + [UInt8](repeating: 0, count: 12),
             [("Inference-Header-Content-Length", String(Array(#"{"inputs":[{"name":"\#(first)","datatype":"FP32","shape":\#(shape),"parameters":{"binary_data_size":12}}]}"#.utf8).count))], 400, "needs \(count * 4)"),
            ("header length past the body", infer, body, [("Inference-Header-Content-Length", String(body.count + 1))], 400, "only"),
            ("header length not a number", infer, body, [("Inference-Header-Content-Length", "ten")], 400, "not a non-negative integer"),
            ("extra binary bytes", infer, body + [1, 2, 3], [lengthHeader], 400, "no input claims"),
            ("bad compressed stream", infer, [0x78, 0x9C] + Array(repeating: 0xFF, count: 64), [("Content-Encoding", "deflate")], 400, "not valid compressed data"),
            ("truncated compressed stream", infer, Array(compress(body, windowBits: 15).dropLast(20)), [lengthHeader, ("Content-Encoding", "deflate")], 400, "truncated"),
            ("zip bomb", infer, bomb, [("Content-Encoding", "deflate")], 413, "inflates to more than"),
            ("unsupported encoding", infer, body, [lengthHeader, ("Content-Encoding", "br")], 415, "'br'"),
            ("body over --max-body", infer, [UInt8](repeating: 0x20, count: 2 << 20), [], 413, "limit is 1048576"),
        ]
        for c in cases {
            let response = try await http(c.url.hasSuffix("/infer") ? "POST" : "GET", c.url, body: c.body, headers: c.headers)
            XCTAssertEqual(response.status, c.status, "\(c.what): \(response.error ?? String(decoding: response.body, as: UTF8.self))")
            XCTAssertEqual(response.header("Content-Type"), "application/json", c.what)
            let message = try XCTUnwrap(response.error, "\(c.what): no JSON error body")
            XCTAssertTrue(message.contains(c.says), "\(c.what): '\(message)' does not say '\(c.says)'")
            let live = try await http("GET", server.base + "/v2/health/live")
            XCTAssertEqual(live.status, 200, "the server is down after \(c.what)")
        }
        // Without a Content-Length the limit applies while the body streams in.
        let chunked = try await http("POST", infer, body: [UInt8](repeating: 0x20, count: 2 << 20), chunked: true)
        XCTAssertEqual(chunked.status, 413)
        XCTAssertTrue(chunked.error?.contains("larger than 1048576") == true, chunked.error ?? "")
        // And it still infers.
        let response = try await http("POST", infer, body: body, headers: [lengthHeader])
        XCTAssertEqual(response.status, 200)
    }

    func testQuantisedInputsAreDequantisedWithTheirParameters() async throws {
        let boundary = try fixture.boundary()
        let names = boundary.keys.sorted()
        var entries: [String] = []
        var section: [UInt8] = []
        var dequantised: [String: Tensor] = [:]
        for name in names {
            let t = boundary[name]!
            let q = try t.withUnsafeBufferPointer(as: Float.self) { try Quantization(covering: $0, name: name) }
            var codes = [UInt8](repeating: 0, count: t.elementCount)
            t.withUnsafeBufferPointer(as: Float.self) { values in codes.withUnsafeMutableBufferPointer { q.quantize(values, into: $0) } }
            dequantised[name] = Tensor(t.shape, floats: codes.map { Float(Int($0) - q.zeroPoint) * q.scale })
            entries.append(#"{"name":"\#(name)","datatype":"UINT8","shape":\#(t.shape.dims),"parameters":{"binary_data_size":\#(codes.count),"scale":\#(Double(q.scale)),"zero_point":\#(q.zeroPoint)}}"#)
            section += codes
        }
        let header = Array(#"{"inputs":[\#(entries.joined(separator: ","))],"parameters":{"binary_data_output":true}}"#.utf8)
        let response = try await http("POST", infer, body: header + section, headers: [("Inference-Header-Content-Length", String(header.count))])
        XCTAssertEqual(response.status, 200, response.error ?? "")
        let length = Int(response.header("Inference-Header-Content-Length") ?? "") ?? 0
        let expected = try LoadedBundle(path: fixture.cloudPath).session(options: SessionOptions(threads: 1)).run(dequantised)
        XCTAssertEqual(Array(response.body[length...]), bytes(of: expected["output"]!))

        // UINT8 without the parameters is a dtype mismatch; a zero scale is refused.
        let plain = String(decoding: header, as: UTF8.self).replacingOccurrences(of: #","scale""#, with: #","s""#)
        let mismatch = try await http("POST", infer, body: Array(plain.utf8) + section, headers: [("Inference-Header-Content-Length", String(plain.utf8.count))])
        XCTAssertEqual(mismatch.status, 400)
        XCTAssertTrue(mismatch.error?.contains("scale") == true, mismatch.error ?? "")
    }

    // MARK: helpers

    /// Every boundary tensor in binary, sorted by name.
    func binaryRequest(_ boundary: [String: Tensor]) -> (body: [UInt8], headerLength: Int) {
        let names = boundary.keys.sorted()
        let entries = names.map { name in
            #"{"name":"\#(name)","datatype":"FP32","shape":\#(boundary[name]!.shape.dims),"parameters":{"binary_data_size":\#(boundary[name]!.byteCount)}}"#
        }
        let header = Array(#"{"inputs":[\#(entries.joined(separator: ","))],"parameters":{"binary_data_output":true}}"#.utf8)
        return (header + names.flatMap { bytes(of: boundary[$0]!) }, header.count)
    }

    /// zlib (windowBits 15) or gzip (31) with zlib itself, independent of the server's code.
    func compress(_ input: [UInt8], windowBits: Int32) -> [UInt8] {
        var stream = z_stream()
        deflateInit2_(&stream, 6, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))) + 64)
        var input = input
        input.withUnsafeMutableBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                stream.next_in = source.baseAddress
                stream.avail_in = UInt32(source.count)
                stream.next_out = destination.baseAddress
                stream.avail_out = UInt32(destination.count)
                _ = deflate(&stream, Z_FINISH)
            }
        }
        return Array(output[0..<Int(stream.total_out)])
    }
}
