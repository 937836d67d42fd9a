import CleaveBundle
import CleaveIR
import CleaveRuntime
@testable import CleaveServe
import Foundation
import XCTest

/// What `cleave run --remote` needs of servers other than its own: the wire
/// format negotiated from `GET /v2`, JSON tensors, servers without a pair id,
/// metadata with -1 dims. (Real KServe and MLServer servers, and broken fake
/// ones, run in tools/interop_servers.py.)
final class RemoteWireTests: XCTestCase {
    func testTheWireFormatFollowsTheExtensionsTheServerLists() {
        func format(_ status: Int, _ body: String) -> WireFormat { RemoteRunner.wireFormat(status: status, serverMetadata: Array(body.utf8)) }
        XCTAssertEqual(format(200, #"{"name":"cleave","extensions":["binary_tensor_data"]}"#), .binary)
        XCTAssertEqual(format(200, #"{"name":"triton","extensions":["classification","binary_tensor_data","statistics"]}"#), .binary)
        XCTAssertEqual(format(200, #"{"name":"kserve","version":"0.21.0","extensions":["model_repository_extension"]}"#), .json)
        XCTAssertEqual(format(200, #"{"name":"mlserver","version":"1.7.1","extensions":[]}"#), .json)
        XCTAssertEqual(format(200, #"{"name":"odd"}"#), .json)
        XCTAssertEqual(format(200, "not json"), .json)
        XCTAssertEqual(format(404, #"{"extensions":["binary_tensor_data"]}"#), .json)
    }

    /// `cleave serve` reads JSON too: forced to JSON, the run sends no binary
    /// section and still equals the local pair bit for bit (floats are written
    /// in the shortest form that reads back to the same float32).
    func testJSONTensorDataEqualsTheLocalPairBitForBit() async throws {
        let fixture = try PairFixture.get()
        let server = try await TestServer.start(bundle: fixture.cloudPath)
        let local = try BundlePair(try LoadedBundle(path: fixture.edgePath), try LoadedBundle(path: fixture.cloudPath)).run(fixture.inputs)
        let edge = try LoadedBundle(path: fixture.edgePath)

        let negotiated = try await RemoteRunner(edge: edge, url: server.base, codec: .none)
        XCTAssertEqual(negotiated.wire, .binary)
        XCTAssertEqual(negotiated.serverPairID, edge.manifest.pairID)

        let json = try await RemoteRunner(edge: edge, url: server.base, codec: .none, wire: .json)
        XCTAssertEqual(json.wire, .json)
        let (body, headerLength) = try json.encodeRequest(try fixture.boundary())
        XCTAssertNil(headerLength)
        let header = try JSON.parse(body)
        XCTAssertNil(header["parameters"])
        XCTAssertEqual(header["id"]?.stringValue?.hasPrefix("cleave-"), true)
        XCTAssertEqual(header["inputs"]?.arrayValue?.count, 2)
        XCTAssertEqual(header["inputs"]?.arrayValue?.first?["data"]?.arrayValue?.count, 8 * 16 * 16)

        let (outputs, breakdown) = try await json.run(fixture.inputs)
        XCTAssertEqual(bytes(of: try XCTUnwrap(outputs["output"])), bytes(of: try XCTUnwrap(local["output"])))
        let binary = try await negotiated.run(fixture.inputs).breakdown
        XCTAssertGreaterThan(breakdown.requestBytes, 2 * binary.requestBytes)  // ~20 bytes of text per float
        await server.stop()
    }

    func testMetadataWithUnknownDimsOrWithoutAPairIDIsAccepted() throws {
        let fixture = try PairFixture.get()
        let edge = try LoadedBundle(path: fixture.edgePath)
        func metadata(_ inputs: [(String, String, [Int])], pair: String? = nil) -> JSON {
            .object([("name", .string("model")),
                     ("inputs", .array(inputs.map { .object([("name", .string($0.0)), ("datatype", .string($0.1)), ("shape", .array($0.2.map { .int($0) }))]) })),
                     ("outputs", .array([]))] + (pair.map { [("parameters", .object([("pair_id", .string($0))]))] } ?? []))
        }
        let names = edge.manifest.boundary.map(\.tensor.name)
        XCTAssertEqual(names.count, 2)
        // The boundary, in the other order, with a dynamic batch dim: accepted.
        XCTAssertNoThrow(try RemoteRunner.check(metadata([(names[1], "FP32", [-1, 8, 16, 16]), (names[0], "FP32", [1, 8, 16, 16])]),
                                                against: edge, at: "http://x"))
        let refusals: [(JSON, String)] = [
            (metadata([(names[0], "FP32", [1, 8, 16, 16]), (names[1], "FP32", [1, 8, 16, 15])]), "takes inputs"),
            (metadata([(names[0], "FP32", [1, 8, 16, 16]), (names[1], "FP64", [1, 8, 16, 16])]), "takes inputs"),
            (metadata([(names[0], "FP32", [1, 8, 16, 16]), (names[0], "FP32", [1, 8, 16, 16])]), "takes inputs"),
            (metadata([(names[0], "FP32", [1, 8, 16, 16])]), "takes inputs"),
            (metadata([(names[0], "FP32", [1, 8, 16, 16]), (names[1], "FP32", [1, 8, 16, 16])], pair: "0123456789abcdef"), "serves pair 0123456789ab"),
        ]
        for (json, fragment) in refusals {
            XCTAssertThrowsError(try RemoteRunner.check(json, against: edge, at: "http://x/v2/models/model")) { error in
                let error = error as? CleaveError
                XCTAssertEqual(error?.kind, .badInput)
                XCTAssertEqual(error?.message.hasPrefix("http://x/v2/models/model "), true, error?.message ?? "")
                XCTAssertEqual(error?.message.contains(fragment), true, error?.message ?? "")
            }
        }
    }

    /// A response is checked against the model's metadata before any output is accepted.
    func testResponsesThatBreakTheMetadataAreBadInputNamingTheServer() async throws {
        let fixture = try PairFixture.get()
        let server = try await TestServer.start(bundle: fixture.cloudPath)
        let runner = try await RemoteRunner(edge: try LoadedBundle(path: fixture.edgePath), url: server.base, codec: .none)
        let ten = Array(repeating: "0.5", count: 10).joined(separator: ",")
        let cases: [(String, String?, String)] = [
            (#"{"outputs":[{"name":"output","datatype":"FP64","shape":[1,10],"data":[\#(ten)]}]}"#, nil, "is FP64 but the model's metadata declares FP32"),
            (#"{"outputs":[{"name":"output","datatype":"FP32","shape":[10],"data":[\#(ten)]}]}"#, nil, "has shape [10] but the model's metadata declares [1, 10]"),
            (#"{"outputs":[{"name":"other","datatype":"FP32","shape":[1,10],"data":[\#(ten)]}]}"#, nil, "output 'output' is missing"),
            (#"{"outputs":[{"name":"output","datatype":"FP32","shape":[1,10],"parameters":{"binary_data_size":40}}]}"#, "", "truncated"),
            (#"{"model_name":"model"}"#, nil, "no 'outputs' array"),
            (#"{"outputs":[{"name":"#, nil, "invalid JSON"),
        ]
        for (text, binary, fragment) in cases {
            var body = Array(text.utf8)
            var field: String?
            if binary != nil {
                field = String(body.count)
                body += [UInt8](repeating: 0, count: 12)
            }
            XCTAssertThrowsError(try body.withUnsafeBytes { try runner.decodeResponse($0, headerLength: field) }) { error in
                let error = error as? CleaveError
                XCTAssertEqual(error?.kind, .badInput, text)
                XCTAssertEqual(error?.message.hasPrefix(server.base + ": malformed inference response: "), true, error?.message ?? "")
                XCTAssertEqual(error?.message.contains(fragment), true, error?.message ?? "")
            }
        }
        // `"parameters": null` (pydantic's way of saying none) is no parameters.
        let ok = Array(#"{"id":"1","parameters":null,"outputs":[{"name":"output","datatype":"FP32","shape":[1,10],"parameters":null,"data":[\#(ten)]}]}"#.utf8)
        let (outputs, _) = try ok.withUnsafeBytes { try runner.decodeResponse($0, headerLength: nil) }
        XCTAssertEqual(try XCTUnwrap(outputs["output"]).floats, Array(repeating: 0.5, count: 10))
        await server.stop()
    }
}
