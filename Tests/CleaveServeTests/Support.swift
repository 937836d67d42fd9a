import AsyncHTTPClient
import CleaveBundle
import CleaveIR
import CleaveRuntime
import CleaveServe
import Foundation
import Logging
import XCTest

let fixturesDirectory: String = {
    var path = #filePath
    for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
    return path + "/fixtures"
}()

/// pytorch_style (a tiny ResNet) cut inside its residual block, so the
/// boundary has two tensors: the block's input (the skip) and its first ReLU.
/// Written once per test process; every test reads it.
final class PairFixture: @unchecked Sendable {
    static let shared: Result<PairFixture, any Error> = Result { try PairFixture() }

    let folder: String
    let graph: Graph
    let inputs: [String: Tensor]
    var edgePath: String { folder + "/edge" }
    var cloudPath: String { folder + "/cloud" }
    static let cutAt = "/layer1/layer1.0/relu/Relu_output_0"

    private init() throws {
        let source = fixturesDirectory + "/pytorch_style/model.onnx"
        graph = try ONNXImporter.load(path: source)
        let input = try Npy.read(path: fixturesDirectory + "/pytorch_style/inputs/input.npy")
        inputs = ["input": input]
        folder = NSTemporaryDirectory() + "cleave-serve-tests-\(getpid())"
        try? FileManager.default.removeItem(atPath: folder)
        let analysis = try Analysis(graph: graph, inputShapes: ["input": input.shape])
        let partition = try Partition(graph: graph, cutAt: [PairFixture.cutAt])
        try BundleWriter.write(BundleRequest(graph: graph, types: analysis.types, partition: partition, sourcePath: source), to: folder)
    }

    static func get() throws -> PairFixture { try shared.get() }

    /// The cloud half's inputs as a local edge run computes them.
    func boundary() throws -> [String: Tensor] {
        let edge = try LoadedBundle(path: edgePath)
        let outputs = try edge.session(options: SessionOptions(threads: 1)).run(inputs)
        var boundary: [String: Tensor] = [:]
        for spec in edge.manifest.boundary { boundary[spec.tensor.name] = outputs[spec.tensor.name] }
        return boundary
    }
}

/// A server on a free loopback port for one test.
struct TestServer {
    let server: RunningServer
    let model: ServedModel
    var base: String { "http://127.0.0.1:\(server.port)" }

    static func start(bundle: String, maxBody: Int = 1 << 20, workers: Int = 2) async throws -> TestServer {
        let model = try ServedModel(bundle: try LoadedBundle(path: bundle), workers: workers)
        var logger = Logger(label: "cleave.serve.tests")
        logger.logLevel = .critical
        let server = try await InferenceServer.start(model, configuration: ServeConfiguration(host: "127.0.0.1", port: 0, maxBodyBytes: maxBody),
                                                     logger: logger)
        return TestServer(server: server, model: model)
    }

    func stop() async {
        await server.stop()
        model.shutdown()
    }
}

struct HTTPResult {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    var json: JSON? { try? JSON.parse(body) }
    /// The `error` of a JSON error body.
    var error: String? { json?["error"]?.stringValue }
}

/// One HTTP request to the test server; `chunked` sends the body without a
/// Content-Length (Transfer-Encoding: chunked).
func http(_ method: String, _ url: String, body: [UInt8]? = nil, headers: [(String, String)] = [],
          chunked: Bool = false) async throws -> HTTPResult {
    var request = HTTPClientRequest(url: url)
    request.method = .init(rawValue: method)
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    if let body { request.body = chunked ? .bytes(AnySequence(body), length: .unknown) : .bytes(body) }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
    let buffer = try await response.body.collect(upTo: 64 << 20)
    return HTTPResult(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
                      body: Array(buffer.readableBytesView))
}

/// The bytes of a float32 tensor.
func bytes(of tensor: Tensor) -> [UInt8] { Array(tensor.storage.bytes) }
