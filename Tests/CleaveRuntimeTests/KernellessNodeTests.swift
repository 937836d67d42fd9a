import CleaveIR
import CleaveRuntime
import XCTest

/// Nodes a session runs without a kernel (`Fusion`) still give their values.
final class KernellessNodeTests: XCTestCase {
    /// A Constant's value is stored with the weights when the session is
    /// built: it feeds its readers, can be a graph output, and is not timed.
    func testConstantNodesAreResolvedOnce() throws {
        let model = ModelInfo(irVersion: 8, opsets: [OperatorSet(domain: "", version: 13)])
        let offset = Tensor([3], floats: [1, -2, 0.5])
        let graph = Graph(model: model, name: "g",
                          inputs: [ValueInfo(name: "x", dtype: .float, dims: [.fixed(3)])],
                          outputs: [ValueInfo(name: "y", dtype: nil, dims: nil), ValueInfo(name: "c", dtype: nil, dims: nil)],
                          initializers: [],
                          nodes: [Node(name: "k", opType: "Constant", inputs: [], outputs: ["c"],
                                       attributes: [Attribute(name: "value", value: .tensor(offset))]),
                                  Node(name: "add", opType: "Add", inputs: ["x", "c"], outputs: ["y"])])
        XCTAssertEqual(Fusion.kernelless(in: graph), [0])
        let session = try Session(graph: graph, options: SessionOptions(threads: 1))
        for _ in 0..<2 {
            var timings: [NodeTiming] = []
            let outputs = try session.run(["x": Tensor([3], floats: [10, 20, 30])], timings: &timings)
            XCTAssertEqual(try XCTUnwrap(outputs["y"]).floats, [11, 18, 30.5])
            XCTAssertEqual(try XCTUnwrap(outputs["c"]).floats, offset.floats)
            XCTAssertEqual(timings.map(\.node), ["add"])
        }
    }

    /// A Constant whose value cleave cannot read still fails when the session
    /// is built, naming the node, as before.
    func testUnreadableConstantIsRefused() {
        let model = ModelInfo(irVersion: 8, opsets: [OperatorSet(domain: "", version: 13)])
        let graph = Graph(model: model, name: "g", inputs: [],
                          outputs: [ValueInfo(name: "c", dtype: nil, dims: nil)], initializers: [],
                          nodes: [Node(name: "k", opType: "Constant", inputs: [], outputs: ["c"],
                                       attributes: [Attribute(name: "sparse_value", value: .opaque([1, 2]))])])
        XCTAssertEqual(Fusion.kernelless(in: graph), [])
        XCTAssertThrowsError(try Session(graph: graph)) { error in
            XCTAssertTrue("\(error)".contains("node 'k' (Constant)"), "\(error)")
        }
    }
}
