import CleaveIR
import CleaveRuntime
import Foundation
import XCTest

/// Per-op-type and per-node latency of whole models, for finding where a
/// kernel loses time next to ONNX Runtime (tools/bench/runtime_bench.py gives
/// the end-to-end ratios). Skipped unless CLEAVE_TIMING_MODELS names a folder
/// of <name>.onnx files with <name>/input_0.npy beside them
/// (tools/light_models.py writes that layout). Wall-clock per node, so run it
/// on a quiet machine, in release (other test targets use @testable, hence
/// -enable-testing; a separate scratch path keeps the debug build intact):
///
///     CLEAVE_TIMING_MODELS=.models/light CLEAVE_TIMING_NAMES=resnet50,squeezenet \
///         swift test -c release -Xswiftc -enable-testing --scratch-path .build-timing \
///         --filter ModelTimingTests
final class ModelTimingTests: XCTestCase {
    func testModelTimings() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let folder = environment["CLEAVE_TIMING_MODELS"] else {
            throw XCTSkip("set CLEAVE_TIMING_MODELS to a folder written by tools/light_models.py")
        }
        let names = (environment["CLEAVE_TIMING_NAMES"] ?? "vgg19,resnet50,alexnet,squeezenet").split(separator: ",")
        let threads = Int(environment["CLEAVE_TIMING_THREADS"] ?? "") ?? 1
        let repeats = Int(environment["CLEAVE_TIMING_REPEATS"] ?? "") ?? 5
        for name in names {
            let graph = try ONNXImporter.load(path: "\(folder)/\(name).onnx")
            let session = try Session(graph: graph, options: SessionOptions(threads: threads))
            guard let input = graph.runtimeInputs.first else { continue }
            let feeds = [input.name: try Npy.read(path: "\(folder)/\(name)/input_0.npy")]
            _ = try session.run(feeds)
            var runs: [[NodeTiming]] = []
            for _ in 0..<repeats {
                var timings: [NodeTiming] = []
                _ = try session.run(feeds, timings: &timings)
                runs.append(timings)
            }
            // Per node, the median over runs; per op, the sum of those.
            let nodes = runs[0].indices.map { i -> (String, String, Double) in
                let values = runs.map { $0[i].milliseconds }.sorted()
                return (runs[0][i].node, runs[0][i].op, values[values.count / 2])
            }
            var byOp: [String: (Double, Int)] = [:]
            for (_, op, ms) in nodes { byOp[op, default: (0, 0)] = (byOp[op, default: (0, 0)].0 + ms, byOp[op, default: (0, 0)].1 + 1) }
            let total = nodes.reduce(0) { $0 + $1.2 }
            print(String(format: "%@ @%d threads: %.1f ms (sum of per-node medians)", String(name), threads, total))
            for (op, value) in byOp.sorted(by: { $0.value.0 > $1.value.0 }) {
                print(String(format: "  %-20@ %8.2f ms  %3d nodes", op, value.0, value.1))
            }
            for (node, op, ms) in nodes.sorted(by: { $0.2 > $1.2 }).prefix(12) {
                print(String(format: "    %-40@ %-12@ %7.2f ms", node, op, ms))
            }
        }
    }
}
