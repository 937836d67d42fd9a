import AsyncHTTPClient
import CleaveBundle
import CleaveIR
import CleaveRuntime
import CleaveServe
import Foundation
import Logging
import XCTest

/// A version-2 pair of pytorch_style with four cuts (cloud-only, after the stem,
/// inside the residual block — the default —, edge-only), each with plan figures
/// that make the split cuts the best at moderate bandwidths. Written once per process.
final class AdaptivePairFixture: @unchecked Sendable {
    static let shared: Result<AdaptivePairFixture, any Error> = Result { try AdaptivePairFixture() }
    static func get() throws -> AdaptivePairFixture { try shared.get() }

    let folder: String
    let inputs: [String: Tensor]
    let whole: [String: Tensor]
    var edgePath: String { folder + "/edge" }
    var cloudPath: String { folder + "/cloud" }

    private init() throws {
        let source = fixturesDirectory + "/pytorch_style/model.onnx"
        let graph = try ONNXImporter.load(path: source)
        let input = try Npy.read(path: fixturesDirectory + "/pytorch_style/inputs/input.npy")
        inputs = ["input": input]
        whole = try Session(graph: graph, options: SessionOptions(threads: 1)).run(inputs)
        folder = NSTemporaryDirectory() + "cleave-adaptive-tests-\(getpid())"
        try? FileManager.default.removeItem(atPath: folder)
        let analysis = try Analysis(graph: graph, inputShapes: ["input": input.shape])
        func plan(_ placement: String, bytes: Int, edge: Double, cloud: Double) -> JSON {
            .object([("placement", .string(placement)), ("boundary_bytes", .int(bytes)), ("edge_ms", .double(edge)), ("cloud_ms", .double(cloud))])
        }
        let cuts = [
            BundleCut(id: "c0", partition: try Partition(graph: graph, edge: []), plan: plan("cloud-only", bytes: 12288, edge: 0, cloud: 1)),
            BundleCut(id: "c1", partition: try Partition(graph: graph, cutAt: ["/relu/Relu_output_0"]), plan: plan("split", bytes: 65536, edge: 1, cloud: 1)),
            BundleCut(id: "c2", partition: try Partition(graph: graph, cutAt: [PairFixture.cutAt]), plan: plan("split", bytes: 32768, edge: 2, cloud: 1)),
            BundleCut(id: "c3", partition: try Partition(graph: graph, edge: Set(graph.nodes.indices)), plan: plan("edge-only", bytes: 0, edge: 4, cloud: 0)),
        ]
        try BundleWriter.write(try BundleRequest(graph: graph, types: analysis.types, cuts: cuts, defaultCut: "c2", sourcePath: source), to: folder)
    }
}

/// Every cut of the cloud bundle on a free loopback port.
struct AdaptiveServer {
    let server: RunningServer
    let models: [(name: String, model: ServedModel)]
    var base: String { "http://127.0.0.1:\(server.port)" }

    static func start(port: Int = 0) async throws -> AdaptiveServer {
        let models = try ServedModel.all(bundle: try LoadedBundle(path: try AdaptivePairFixture.get().cloudPath), workers: 1)
        var logger = Logger(label: "cleave.serve.tests")
        logger.logLevel = .critical
        let server = try await InferenceServer.start(models, configuration: ServeConfiguration(host: "127.0.0.1", port: port), logger: logger)
        return AdaptiveServer(server: server, models: models)
    }

    func stop() async {
        await server.stop()
        for (_, model) in models { model.shutdown() }
    }
}

final class AdaptiveTests: XCTestCase {
    func assertWhole(_ outputs: [String: Tensor], _ fixture: AdaptivePairFixture, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        for (name, expected) in fixture.whole {
            XCTAssertEqual(outputs[name].map { bytes(of: $0) }, bytes(of: expected), "\(what): \(name)", file: file, line: line)
        }
    }

    func testEveryCutIsServedUnderItsOwnName() async throws {
        let fixture = try AdaptivePairFixture.get()
        let server = try await AdaptiveServer.start()
        defer { Task { await server.stop() } }
        XCTAssertEqual(server.models.map(\.name), ["model", "model.c0", "model.c1", "model.c2"])
        let edge = try LoadedBundle(path: fixture.edgePath)
        for id in ["c0", "c1", "c2"] {
            let runner = try await RemoteRunner(edge: try edge.cut(id), url: server.base, codec: .none)
            XCTAssertEqual(runner.modelName, "model.\(id)")
            assertWhole(try await runner.run(fixture.inputs).outputs, fixture, "cut \(id)")
        }
        // The default name is the default cut; metadata says which cut a model is.
        let metadata = try await http("GET", server.base + "/v2/models/model")
        XCTAssertEqual(metadata.json?["parameters"]?["cut"]?.stringValue, "c2")
        XCTAssertEqual(metadata.json?["inputs"]?.arrayValue?.count, 2)
        // An unknown cut is a 404 that lists the cuts there are.
        let missing = try await http("GET", server.base + "/v2/models/model.c3")
        XCTAssertEqual(missing.status, 404)
        XCTAssertTrue(missing.error?.contains("'model.c0', 'model.c1', 'model.c2'") == true, missing.error ?? "")
        // A runner for one cut refuses a server model that is another cut.
        do {
            _ = try await RemoteRunner(edge: try edge.cut("c1"), url: server.base, modelName: "model.c2", codec: .none)
            XCTFail("cut c1's edge was accepted by cut c2's model")
        } catch let error as CleaveError {
            XCTAssertTrue(error.message.contains("takes inputs") || error.message.contains("cut c2"), error.message)
        }
    }

    func testTheRunnerFollowsTheLinkAndStaysCorrect() async throws {
        let fixture = try AdaptivePairFixture.get()
        let server = try await AdaptiveServer.start()
        defer { Task { await server.stop() } }
        let runner = try AdaptiveRunner(edge: try LoadedBundle(path: fixture.edgePath), url: server.base, codec: .none,
                                        prior: LinkEstimator(bitsPerSecond: 1e9, rttMilliseconds: 0), options: SessionOptions(threads: 1))
        // A fast link, then a slow one: the slow link must end up edge-only (its predicted 4 ms beats ≥ 40 ms of RTT).
        runner.schedule = try LinkSchedule(text: "0 1.5 1Gbps 0ms\n1.5 60 10Mbps 40ms\n", path: "schedule")
        var cuts: [String] = []
        let start = Date()
        while Date().timeIntervalSince(start) < 3.5 {
            let outcome = try await runner.run(fixture.inputs)
            assertWhole(outcome.outputs, fixture, "request \(cuts.count + 1) on \(outcome.cut)")
            XCTAssertFalse(outcome.reason.isEmpty)
            XCTAssertFalse(outcome.fellBack)
            cuts.append(outcome.cut)
        }
        XCTAssertNotEqual(cuts.first, "c3", "a fast link with no RTT should start remote: \(cuts)")
        XCTAssertEqual(cuts.last, "c3", "after two seconds at 40 ms RTT the runner should run edge-only: \(cuts)")
        XCTAssertGreaterThan(runner.estimate.rttMilliseconds, 15, "the RTT estimate should follow the schedule")
    }

    func testAServerThatDiesMidStreamCostsNoRequest() async throws {
        let fixture = try AdaptivePairFixture.get()
        var server = try await AdaptiveServer.start()
        let port = server.server.port
        let runner = try AdaptiveRunner(edge: try LoadedBundle(path: fixture.edgePath), url: server.base, codec: .none, timeoutSeconds: 2,
                                        prior: LinkEstimator(bitsPerSecond: 1e9, rttMilliseconds: 0), options: SessionOptions(threads: 1))
        runner.probeInterval = 0.2
        // An edge 30x slower than this machine: the remote cuts win while the server is up.
        runner.edgeSlowdown = 30
        // Once it has measured edge-only at the emulated edge's speed, the runner settles on a remote cut.
        var remoteInARow = 0
        for _ in 0..<12 where remoteInARow < 2 {
            let outcome = try await runner.run(fixture.inputs)
            remoteInARow = outcome.cut == "c3" ? 0 : remoteInARow + 1
            assertWhole(outcome.outputs, fixture, "before")
        }
        XCTAssertEqual(remoteInARow, 2, "the runner did not settle on a remote cut while the server was up")
        await server.stop()
        var fellBack = 0
        for i in 0..<5 {
            let outcome = try await runner.run(fixture.inputs)
            assertWhole(outcome.outputs, fixture, "server down, request \(i)")
            XCTAssertEqual(outcome.cut, "c3")
            if outcome.fellBack { fellBack += 1 }
        }
        XCTAssertEqual(fellBack, 1, "the request that found the server gone falls back; the next ones run edge-only by choice")
        // The server comes back on the same port: a probe notices, and requests go remote again.
        server = try await AdaptiveServer.start(port: port)
        defer { Task { await server.stop() } }
        var remoteAgain = false
        let start = Date()
        while Date().timeIntervalSince(start) < 10 && !remoteAgain {
            let outcome = try await runner.run(fixture.inputs)
            assertWhole(outcome.outputs, fixture, "after the restart")
            remoteAgain = outcome.cut != "c3"
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        XCTAssertTrue(remoteAgain, "the runner never went back to the server")
    }

    func testTritonGetsOneModelPerCutSharingOneWeightsFile() throws {
        let fixture = try AdaptivePairFixture.get()
        let repository = fixture.folder + "-triton"
        try? FileManager.default.removeItem(atPath: repository)
        defer { try? FileManager.default.removeItem(atPath: repository) }
        let cloud = try LoadedBundle(path: fixture.cloudPath)
        let written = try TritonExport.writeEveryCut(cloud, to: repository)
        XCTAssertEqual(written.map(\.config.name), ["model", "model.c0", "model.c1", "model.c2"])
        var inodes = Set<UInt64>()
        for (folder, config) in written {
            var info = stat()
            XCTAssertEqual(stat(folder + "/1/model.onnx/weights.bin", &info), 0)
            inodes.insert(UInt64(info.st_ino))
            // Each model is its cut's half, with the cut's inputs.
            let model = try ONNXImporter.load(path: folder + "/1/model.onnx/model.onnx")
            XCTAssertEqual(model.runtimeInputs.map(\.name), config.inputs.map(\.name))
        }
        XCTAssertEqual(inodes.count, 1, "every cut's weights.bin is the same file")
        XCTAssertEqual(written[1].config.inputs.map(\.name), ["input"], "cut c0 (cloud-only) takes the model input")
    }

    func testScheduleFilesAreChecked() throws {
        let schedule = try LinkSchedule(text: "# a comment\n0 20s 100Mbps 20ms\n\n20s 40 5Mbps 40ms # slow\n", path: "s")
        XCTAssertEqual(schedule.duration, 40)
        XCTAssertEqual(schedule.link(at: 25).bitsPerSecond, 5e6)
        XCTAssertEqual(schedule.link(at: 99).rttSeconds, 0.04, accuracy: 1e-12)
        let bad: [(String, String)] = [
            ("0 10 10Mbps 20ms\n12 20 10Mbps 20ms\n", "s:2: gap"),
            ("-1 10 10Mbps 20ms\n", "s:1: time '-1' is negative"),
            ("0 10 10Mbps 20ms\n10 5 10Mbps 20ms\n", "s:2: the phase ends"),
            ("0 10 10Mbps 20ms\n5 20 10Mbps 20ms\n", "s:2: this phase starts at 5, before"),
            ("0 10 0Mbps 20ms\n", "s:1: bandwidth '0Mbps'"),
            ("0 10 10Mbps\n", "s:1: expected FROM TO BANDWIDTH RTT"),
            ("# nothing\n", "s: no phases"),
        ]
        for (text, expected) in bad {
            XCTAssertThrowsError(try LinkSchedule(text: text, path: "s"), text) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error) should contain \(expected)")
                XCTAssertEqual((error as? CleaveError)?.kind, .badInput)
            }
        }
    }

    func testTheEstimatorFollowsAHundredfoldDrop() {
        var estimator = LinkEstimator(bitsPerSecond: 100e6, rttMilliseconds: 20)
        // 100 KB at 1 Mbps is 800 ms on the wire plus the 20 ms round trip.
        estimator.observeTransfer(bytes: 100_000, milliseconds: 820)
        XCTAssertEqual(estimator.bitsPerSecond, 1e6, accuracy: 1e4, "the first sample replaces the prior")
        // A hundredfold drop is followed within one request; noise (here 20 %) is smoothed.
        estimator.observeTransfer(bytes: 100_000, milliseconds: 20 + 8)
        XCTAssertEqual(estimator.bitsPerSecond, 1e6 * pow(100, 0.9), accuracy: 1e3)
        let before = estimator.bitsPerSecond
        estimator.observeTransfer(bytes: 100_000, milliseconds: 20 + 800 / before * 1e6 / 1.2)
        XCTAssertEqual(estimator.bitsPerSecond, before * pow(1.2, 0.5), accuracy: 1)
        estimator.observeRoundTrip(milliseconds: 60)
        XCTAssertEqual(estimator.rttMilliseconds, 40, accuracy: 1e-9)
    }
}
