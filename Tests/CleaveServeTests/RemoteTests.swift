import CleaveBundle
import CleaveIR
import CleaveRuntime
import CleaveServe
import Foundation
import XCTest

/// `cleave run EDGE --remote`: the edge half here, the cloud half on the server.
final class RemoteTests: XCTestCase {
    var fixture: PairFixture!
    var server: TestServer!

    override func setUp() async throws {
        fixture = try PairFixture.get()
        server = try await TestServer.start(bundle: fixture.cloudPath)
    }

    override func tearDown() async throws {
        await server.stop()
    }

    func testCodecNoneEqualsTheLocalPairRunBitForBit() async throws {
        // The local pair at its default (all cores), as `cleave run EDGE CLOUD` runs it.
        let local = try BundlePair(try LoadedBundle(path: fixture.edgePath), try LoadedBundle(path: fixture.cloudPath)).run(fixture.inputs)
        let runner = try await RemoteRunner(edge: try LoadedBundle(path: fixture.edgePath), url: server.base + "/", codec: .none)
        XCTAssertEqual(runner.modelName, "model")
        XCTAssertEqual(runner.outputNames, ["output"])
        let (outputs, breakdown) = try await runner.run(fixture.inputs)
        XCTAssertEqual(bytes(of: try XCTUnwrap(outputs["output"])), bytes(of: try XCTUnwrap(local["output"])))

        let boundaryBytes = try fixture.boundary().values.reduce(0) { $0 + $1.byteCount }
        XCTAssertGreaterThan(breakdown.requestBytes, boundaryBytes)
        XCTAssertLessThan(breakdown.requestBytes, boundaryBytes + 1024)  // plus the JSON header
        XCTAssertGreaterThan(breakdown.responseBytes, 40)
        XCTAssertGreaterThan(breakdown.cloudMilliseconds, 0)
        XCTAssertGreaterThanOrEqual(breakdown.totalMilliseconds,
                                    breakdown.edgeMilliseconds + breakdown.encodeMilliseconds + breakdown.cloudMilliseconds)
    }

    /// int8 sends a quarter of the FP32 bytes and is approximate: the error
    /// against the exact run is measured and bounded; int8+zlib sends fewer
    /// bytes still and computes exactly what int8 does.
    func testInt8CodecsAreApproximateAndSendFewerBytes() async throws {
        let edge = try LoadedBundle(path: fixture.edgePath)
        var results: [BoundaryCodec: ([String: Tensor], RemoteBreakdown)] = [:]
        for codec in BoundaryCodec.allCases {
            results[codec] = try await RemoteRunner(edge: edge, url: server.base, codec: codec).run(fixture.inputs)
        }
        let exact = try XCTUnwrap(results[.none]?.0["output"])
        let int8 = try XCTUnwrap(results[.int8]?.0["output"])
        let zlib = try XCTUnwrap(results[.int8Zlib]?.0["output"])
        let error = relativeL2(int8, exact)
        print("int8 boundary codec: relative L2 error of the output \(error), max abs error \(maxAbsoluteError(int8, exact))")
        // Each boundary element is off by at most half a step, 1/510 of its
        // tensor's range; through this small network that stays well under 0.5%.
        XCTAssertGreaterThan(error, 0)
        XCTAssertLessThan(error, 0.005)
        XCTAssertEqual(bytes(of: zlib), bytes(of: int8))

        let noneBytes = try XCTUnwrap(results[.none]?.1.requestBytes)
        let int8Bytes = try XCTUnwrap(results[.int8]?.1.requestBytes)
        let zlibBytes = try XCTUnwrap(results[.int8Zlib]?.1.requestBytes)
        print("request bytes: none \(noneBytes), int8 \(int8Bytes), int8+zlib \(zlibBytes)")
        XCTAssertLessThan(int8Bytes, noneBytes / 3)
        XCTAssertLessThan(zlibBytes, int8Bytes)
    }

    func testLinkEmulationAddsTheRTTAndTheSerialisationTime() async throws {
        let link = LinkEmulation(bitsPerSecond: 2e6, rttSeconds: 0.03)
        let runner = try await RemoteRunner(edge: try LoadedBundle(path: fixture.edgePath), url: server.base, codec: .none, link: link)
        let (_, breakdown) = try await runner.run(fixture.inputs)
        let emulated = (0.03 + Double(breakdown.wireBytes) * 8 / 2e6) * 1000
        XCTAssertGreaterThanOrEqual(breakdown.transferMilliseconds, emulated)
        XCTAssertLessThan(breakdown.transferMilliseconds, emulated + 1000)
        XCTAssertGreaterThanOrEqual(breakdown.totalMilliseconds, emulated)
        XCTAssertEqual(try LinkEmulation.parseBandwidth("10Mbps"), 1e7)
        XCTAssertEqual(try LinkEmulation.parseBandwidth("1.5Gbps"), 1.5e9)
        XCTAssertEqual(try LinkEmulation.parseDuration("20ms"), 0.02, accuracy: 1e-12)
        XCTAssertThrowsError(try LinkEmulation.parseBandwidth("10MB/s"))
    }

    func testAnEdgeBundleOfAnotherPairOrACloudBundleIsRefused() async throws {
        let other = NSTemporaryDirectory() + "cleave-serve-other-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: other) }
        let source = fixturesDirectory + "/pytorch_style/model.onnx"
        let analysis = try Analysis(graph: fixture.graph, inputShapes: ["input": fixture.inputs["input"]!.shape])
        let partition = try Partition(graph: fixture.graph, cutAt: ["/maxpool/MaxPool_output_0"])
        try BundleWriter.write(BundleRequest(graph: fixture.graph, types: analysis.types, partition: partition, sourcePath: source), to: other, force: true)
        do {
            _ = try await RemoteRunner(edge: try LoadedBundle(path: other + "/edge"), url: server.base, codec: .none)
            XCTFail("a runner for another pair was accepted")
        } catch let error as CleaveError {
            XCTAssertEqual(error.kind, .badInput)
            XCTAssertTrue(error.message.contains("serves pair"), error.message)
        }
        do {
            _ = try await RemoteRunner(edge: try LoadedBundle(path: fixture.cloudPath), url: server.base, codec: .none)
            XCTFail("a cloud bundle was accepted as the edge half")
        } catch let error as CleaveError {
            XCTAssertTrue(error.message.contains("is a cloud bundle"), error.message)
        }
        do {
            _ = try await RemoteRunner(edge: try LoadedBundle(path: fixture.edgePath), url: server.base, modelName: "nope", codec: .none)
            XCTFail("an unknown model was accepted")
        } catch let error as CleaveError {
            XCTAssertEqual(error.kind, .badInput)
            XCTAssertTrue(error.message.contains("HTTP 404"), error.message)
        }
    }
}

func relativeL2(_ a: Tensor, _ b: Tensor) -> Double {
    var difference = 0.0, norm = 0.0
    for (x, y) in zip(a.floats, b.floats) {
        difference += Double(x - y) * Double(x - y)
        norm += Double(y) * Double(y)
    }
    return (difference / max(norm, 1e-30)).squareRoot()
}

func maxAbsoluteError(_ a: Tensor, _ b: Tensor) -> Float {
    zip(a.floats, b.floats).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
