import CleaveBundle
import CleaveIR
import CleaveRuntime
import Crypto
import Foundation
import XCTest

final class BundleTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "cleave-bundle-tests-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: composition

    /// For every fixture, cuts early, in the middle and late; edge then cloud
    /// equals the whole model within 1e-5 relative L2.
    func testCutsComposeExactlyForEveryFixture() throws {
        for name in modelFixtures {
            let fixture = try Fixture(name)
            let whole = try Session(graph: fixture.graph, options: SessionOptions(threads: 1)).run(fixture.inputs)
            let candidates = cutCandidates(fixture.graph)
            XCTAssertGreaterThanOrEqual(candidates.count, 3, name)
            let picks = [candidates[candidates.count / 6], candidates[candidates.count / 2], candidates[candidates.count * 5 / 6]]
            for (i, tensor) in picks.enumerated() {
                let out = "\(directory)/\(name)-\(i)"
                try cut(fixture, at: [tensor], to: out)
                let pair = try BundlePair(try LoadedBundle(path: out + "/edge"), try LoadedBundle(path: out + "/cloud"),
                                          options: SessionOptions(threads: 1))
                let composed = try pair.run(fixture.inputs)
                for output in fixture.graph.outputs {
                    let a = try XCTUnwrap(composed[output.name], "\(name) cut at \(tensor): \(output.name) missing")
                    let b = try XCTUnwrap(whole[output.name])
                    XCTAssertLessThanOrEqual(relativeL2(a, b), 1e-5, "\(name) cut at \(tensor): \(output.name)")
                }
            }
        }
    }

    func testResidualCutCarriesBothBranches() throws {
        let fixture = try Fixture("pytorch_style")
        let partition = try Partition(graph: fixture.graph, cutAt: ["/layer1/layer1.0/relu/Relu_output_0"])
        XCTAssertEqual(partition.boundary, ["/maxpool/MaxPool_output_0", "/layer1/layer1.0/relu/Relu_output_0"])
    }

    func testInvalidCutsAreRefusedNamingTheTensor() throws {
        let fixture = try Fixture("pytorch_style")
        XCTAssertThrowsError(try Partition(graph: fixture.graph, cutAt: ["no_such_tensor"])) { error in
            XCTAssertTrue("\(error)".contains("'no_such_tensor'"), "\(error)")
        }
        XCTAssertThrowsError(try Partition(graph: fixture.graph, cutAt: ["output"])) { error in
            XCTAssertTrue("\(error)".contains("nothing for the cloud"), "\(error)")
        }
        // Edge = only the second conv: its input comes from the cloud side.
        XCTAssertThrowsError(try Partition(graph: fixture.graph, edge: [7])) { error in
            XCTAssertTrue("\(error)".contains("not a valid cut") && "\(error)".contains("'/layer1/layer1.0/relu/Relu_output_0'"), "\(error)")
        }
    }

    // MARK: format

    func testBundlesFollowTheLayoutRules() throws {
        let fixture = try Fixture("paddle_style")
        let out = directory + "/paddle"
        try cut(fixture, at: [cutCandidates(fixture.graph)[3]], to: out)
        for side in ["edge", "cloud"] {
            let graph = try ONNXImporter.load(path: "\(out)/\(side)/model.onnx")
            // Constant-node weights became initializers in weights.bin.
            XCTAssertFalse(graph.nodes.contains { $0.opType == "Constant" }, side)
            for initializer in graph.initializers where WeightLayout.isExternal(byteCount: initializer.tensor.byteCount) {
                let reference = try XCTUnwrap(initializer.externalData, initializer.name)
                XCTAssertEqual(reference.location, "weights.bin")
                XCTAssertEqual(reference.offset % WeightLayout.alignment(forByteCount: reference.length), 0)
            }
            let metadata = Dictionary(graph.model.metadata.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            XCTAssertEqual(metadata["cleave.role"], side)
            XCTAssertEqual(metadata["cleave.format_version"], "1")
        }
        // The writer is canonical: cutting again gives the same bytes.
        try cut(fixture, at: [cutCandidates(fixture.graph)[3]], to: out + "-again")
        for file in ["edge/manifest.json", "edge/model.onnx", "edge/weights.bin", "cloud/manifest.json"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(out)/\(file)")),
                           try Data(contentsOf: URL(fileURLWithPath: "\(out)-again/\(file)")), file)
        }
    }

    /// Flipping any single bit-pattern (XOR 0x01) of any byte of a bundle's
    /// files is caught by verify.
    func testVerifyCatchesEveryAlteredByte() throws {
        let fixture = try Fixture("tf2onnx_style")
        let out = directory + "/tf"
        try cut(fixture, at: [cutCandidates(fixture.graph)[4]], to: out)
        var checked = 0
        for side in ["edge", "cloud"] {
            let folder = "\(out)/\(side)"
            XCTAssertTrue(BundleVerifier.verify(folder).isValid)
            for file in ["manifest.json", "model.onnx", "weights.bin"] {
                let path = "\(folder)/\(file)"
                let original = try Data(contentsOf: URL(fileURLWithPath: path))
                for index in original.indices {
                    var altered = original
                    altered[index] ^= 0x01
                    try altered.write(to: URL(fileURLWithPath: path))
                    let report = BundleVerifier.verify(folder)
                    XCTAssertFalse(report.isValid, "\(side)/\(file) byte \(index) altered but verify passed")
                    checked += 1
                }
                try original.write(to: URL(fileURLWithPath: path))
            }
            XCTAssertTrue(BundleVerifier.verify(folder).isValid)
        }
        XCTAssertGreaterThan(checked, 5000)
    }

    func testVerifyNamesStructuralProblems() throws {
        let fixture = try Fixture("pytorch_style")
        let out = directory + "/pt"
        try cut(fixture, at: ["/relu/Relu_output_0"], to: out)
        let edge = out + "/edge"
        // An unlisted file.
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: edge + "/extra.bin"))
        XCTAssertTrue(BundleVerifier.verify(edge).problems.contains { $0.contains("extra.bin") && $0.contains("§1.1") })
        try FileManager.default.removeItem(atPath: edge + "/extra.bin")
        // A symbolic link.
        try FileManager.default.createSymbolicLink(atPath: edge + "/link", withDestinationPath: "/etc/passwd")
        XCTAssertTrue(BundleVerifier.verify(edge).problems.contains { $0.contains("link") })
        try FileManager.default.removeItem(atPath: edge + "/link")
        // A pair of halves from different cuts.
        try cut(fixture, at: ["/maxpool/MaxPool_output_0"], to: out + "-other")
        let a = try XCTUnwrap(BundleVerifier.verify(edge).manifest)
        let b = try XCTUnwrap(BundleVerifier.verify(out + "-other/cloud").manifest)
        XCTAssertFalse(BundleVerifier.checkPair(a, b).isEmpty)
        let c = try XCTUnwrap(BundleVerifier.verify(out + "/cloud").manifest)
        XCTAssertEqual(BundleVerifier.checkPair(a, c), [])
    }

    func testSignedBundlesVerifyOnlyWithTheTrustedKey() throws {
        let fixture = try Fixture("pytorch_style")
        let key = Curve25519.Signing.PrivateKey()
        let other = Curve25519.Signing.PrivateKey()
        let signed = directory + "/signed"
        try cut(fixture, at: ["/relu/Relu_output_0"], to: signed, key: key)
        let report = BundleVerifier.verify(signed + "/edge", trustedKey: key.publicKey)
        XCTAssertTrue(report.isValid && report.signatureVerified, "\(report.problems)")
        XCTAssertFalse(BundleVerifier.verify(signed + "/edge", trustedKey: other.publicKey).isValid)
        let unsigned = directory + "/unsigned"
        try cut(fixture, at: ["/relu/Relu_output_0"], to: unsigned)
        XCTAssertTrue(BundleVerifier.verify(unsigned + "/edge").isValid)
        XCTAssertFalse(BundleVerifier.verify(unsigned + "/edge", trustedKey: key.publicKey).isValid)
    }

    func testAnExistingOutputIsNotClobberedWithoutForce() throws {
        let fixture = try Fixture("pytorch_style")
        let out = directory + "/existing"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        try Data([42]).write(to: URL(fileURLWithPath: out + "/keep"))
        XCTAssertThrowsError(try cut(fixture, at: ["/relu/Relu_output_0"], to: out))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out), ["keep"])
        try cut(fixture, at: ["/relu/Relu_output_0"], to: out, force: true)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).sorted(), ["cloud", "edge"])
        // No temporary folders are left beside it.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix(".") }, [])
    }

    // MARK: helpers

    struct Fixture {
        let path: String
        let graph: Graph
        let analysis: Analysis
        var inputs: [String: Tensor] = [:]

        init(_ name: String) throws {
            let folder = "\(fixturesDirectory)/\(name)"
            path = folder + "/model.onnx"
            graph = try ONNXImporter.load(path: path)
            let spec = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: folder + "/fixture.json"))))
            var shapes: [String: Shape] = [:]
            for input in spec["inputs"]?.arrayValue ?? [] {
                let name = input["name"]?.stringValue ?? ""
                let tensor = try Npy.read(path: folder + "/" + (input["file"]?.stringValue ?? ""))
                inputs[name] = tensor
                shapes[name] = tensor.shape
            }
            analysis = try Analysis(graph: graph, inputShapes: shapes)
        }
    }

    /// Float activations produced by non-Constant nodes, in order, that leave work for the cloud.
    func cutCandidates(_ graph: Graph) -> [String] {
        let outputs = Set(graph.outputs.map(\.name))
        return graph.nodes.dropLast().filter { $0.opType != "Constant" && $0.opType != "Shape" }
            .flatMap(\.outputs).filter { !$0.isEmpty && !outputs.contains($0) }
    }

    func cut(_ fixture: Fixture, at tensors: [String], to out: String, key: Curve25519.Signing.PrivateKey? = nil,
             force: Bool = false) throws {
        let partition = try Partition(graph: fixture.graph, cutAt: tensors)
        let request = BundleRequest(graph: fixture.graph, types: fixture.analysis.types, partition: partition, sourcePath: fixture.path)
        try BundleWriter.write(request, to: out, force: force, signingKey: key)
    }
}

let fixturesDirectory: String = {
    var path = #filePath
    for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
    return path + "/fixtures"
}()

let modelFixtures: [String] = {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: fixturesDirectory)) ?? []
    return names.filter { FileManager.default.fileExists(atPath: "\(fixturesDirectory)/\($0)/fixture.json") }.sorted()
}()

/// ‖a − b‖₂ / ‖b‖₂ over float32 tensors (exact match for other dtypes gives 0).
func relativeL2(_ a: Tensor, _ b: Tensor) -> Double {
    guard a.dtype == .float, b.dtype == .float else {
        return Array(a.storage.bytes) == Array(b.storage.bytes) ? 0 : 1
    }
    let x = a.floats, y = b.floats
    guard x.count == y.count else { return .infinity }
    var difference = 0.0, norm = 0.0
    for i in 0..<x.count {
        difference += Double(x[i] - y[i]) * Double(x[i] - y[i])
        norm += Double(y[i]) * Double(y[i])
    }
    return norm == 0 ? difference.squareRoot() : (difference / norm).squareRoot()
}
