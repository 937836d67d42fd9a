import CleaveIR
import Foundation
import XCTest

/// `cleave cut` killed with SIGKILL at any moment leaves either no bundle or
/// complete ones that verify (schemas/BUNDLE.md: atomic writes).
final class CrashSafetyTests: XCTestCase {
    func testKilledCutLeavesNoBundleOrACompleteOne() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let model = directory + "/wide.onnx"
        try writeWideModel(to: model, layers: 4, width: 1536)  // 4 × 9 MB of weights

        // Time one uninterrupted cut to spread the kill points over it.
        let start = Date()
        XCTAssertEqual(try cleave("cut", model, "--at", "h1", "-o", directory + "/reference").status, 0)
        let duration = Date().timeIntervalSince(start)

        var complete = 0, absent = 0
        for attempt in 0..<12 {
            let out = "\(directory)/out\(attempt)"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: cleaveBinary)
            process.arguments = ["cut", model, "--at", "h1", "-o", out]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Kill points from 0 to twice the uninterrupted time, so some land
            // before the rename and, unless the machine slows down, some after.
            usleep(UInt32(duration * 1e6 * 2 * Double(attempt) / 11))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if FileManager.default.fileExists(atPath: out) {
                let result = try cleave("verify", out + "/edge", out + "/cloud")
                XCTAssertEqual(result.status, 0, "attempt \(attempt): a partial bundle was left: \(result.stdout)")
                complete += 1
            } else {
                absent += 1
            }
        }
        // Both outcomes are fine; a run with no kill before the rename would
        // not test anything. (Completion itself is shown by the reference run.)
        XCTAssertGreaterThan(absent, 0, "no kill landed before the rename")
        print("crash safety: \(absent) kills left no bundle, \(complete) left complete ones")
    }

    /// A chain of Gemm layers (input x → h0 → h1 → … → y) with real weights.
    func writeWideModel(to path: String, layers: Int, width: Int) throws {
        var nodes: [Node] = []
        var initializers: [Initializer] = []
        var previous = "x"
        for layer in 0..<layers {
            let values = (0..<(width * width)).map { Float(($0 * 7 + layer) % 13) / 1000 }
            initializers.append(Initializer(name: "w\(layer)", tensor: Tensor([width, width], floats: values)))
            let output = layer == layers - 1 ? "y" : "h\(layer)"
            nodes.append(Node(name: "fc\(layer)", opType: "Gemm", inputs: [previous, "w\(layer)"], outputs: [output]))
            previous = output
        }
        var graph = Graph(model: ModelInfo(irVersion: 8, opsets: [OperatorSet(domain: "", version: 13)]), name: "wide",
                          inputs: [ValueInfo(name: "x", dtype: .float, dims: [.fixed(1), .fixed(width)])],
                          outputs: [ValueInfo(name: "y", dtype: .float, dims: [.fixed(1), .fixed(width)])],
                          initializers: initializers, nodes: nodes)
        try graph.validate()
        try ONNXExporter.write(graph, to: path)
    }
}
