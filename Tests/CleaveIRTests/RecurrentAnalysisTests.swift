import CleaveIR
import XCTest

/// Output types, MACs and refusals of LSTM, GRU and RNN in analysis (ONNX's
/// own cases are in NodeConformanceTests).
final class RecurrentAnalysisTests: XCTestCase {
    /// Layout 0 and 1, omitted outputs, and the MACs formula of `Cost`:
    /// dirs·seq·batch·(G·H·(I + H + 1) + H).
    func testOutputTypesAndMACs() throws {
        var b = GraphBuilder(opset: 14)
        b.input("x", [7, 3, 5])      // [seq, batch, input]
        b.input("xb", [3, 7, 5])     // [batch, seq, input]
        b.weight("lw", [2, 4 * 6, 5])
        b.weight("lr", [2, 4 * 6, 6])
        b.node("LSTM", ["x", "lw", "lr"], ["y", "y_h", "y_c"], ["hidden_size": .int(6), "direction": .text("bidirectional")])
        b.weight("gw", [1, 3 * 6, 5])
        b.weight("gr", [1, 3 * 6, 6])
        b.node("GRU", ["xb", "gw", "gr"], ["", "g_h"], ["hidden_size": .int(6), "layout": .int(1)])
        b.weight("rw", [1, 6, 5])
        b.weight("rr", [1, 6, 6])
        b.node("RNN", ["xb", "rw", "rr"], ["r"], ["layout": .int(1)])  // hidden_size from R
        let a = try b.analyse(["y", "y_h", "y_c", "g_h", "r"])
        XCTAssertEqual(a.types["y"], TensorType(.float, [7, 2, 3, 6]))
        XCTAssertEqual(a.types["y_h"], TensorType(.float, [2, 3, 6]))
        XCTAssertEqual(a.types["y_c"], TensorType(.float, [2, 3, 6]))
        XCTAssertEqual(a.types["g_h"], TensorType(.float, [3, 1, 6]))
        XCTAssertEqual(a.types["r"], TensorType(.float, [3, 7, 1, 6]))
        XCTAssertEqual(a.costs[0].macs, 2 * 7 * 3 * (24 * (5 + 6 + 1) + 6))
        XCTAssertEqual(a.costs[1].macs, 7 * 3 * (18 * (5 + 6 + 1) + 6))
        XCTAssertEqual(a.costs[2].macs, 7 * 3 * (6 * (5 + 6 + 1) + 6))
        XCTAssertEqual(a.costs[0].params, 2 * 24 * 5 + 2 * 24 * 6)
        XCTAssertNil(a.constants["y"], "never folded")
    }

    func testShapesThatDoNotFitNameTheNode() {
        func analyse(_ inputs: [String], _ shapes: [String: [Int]], _ attributes: [String: AttributeValue]) throws {
            var b = GraphBuilder(opset: 14)
            b.input("x", [4, 2, 3])
            for (name, shape) in shapes.sorted(by: { $0.key < $1.key }) {
                if name == "lens" {
                    b.input(name, shape, .int32)
                } else {
                    b.weight(name, shape)
                }
            }
            b.node("LSTM", inputs, ["y"], name: "enc", attributes)
            _ = try b.analyse(["y"])
        }
        let h: [String: AttributeValue] = ["hidden_size": .int(2)]
        assertThrows(["node 'enc' (LSTM)", "W has shape [1, 6, 3], expected [1, 4·2 = 8, input_size]"]) {
            try analyse(["x", "w", "r"], ["w": [1, 6, 3], "r": [1, 8, 2]], h)
        }
        assertThrows(["W has shape [1, 8, 3], expected [2, 4·2 = 8, input_size] for direction bidirectional"]) {
            try analyse(["x", "w", "r"], ["w": [1, 8, 3], "r": [1, 8, 2]], ["hidden_size": .int(2), "direction": .text("bidirectional")])
        }
        assertThrows(["X has shape [4, 2, 3], expected [seq_length, batch_size, 5]"]) {
            try analyse(["x", "w", "r"], ["w": [1, 8, 5], "r": [1, 8, 2]], h)
        }
        assertThrows(["sequence_lens is int32[3], expected int32[2]"]) {
            try analyse(["x", "w", "r", "", "lens"], ["w": [1, 8, 3], "r": [1, 8, 2], "lens": [3]], h)
        }
        assertThrows(["initial_c has shape [1, 2, 3], expected [1, 2, 2] (layout 0)"]) {
            try analyse(["x", "w", "r", "", "", "", "c0"], ["w": [1, 8, 3], "r": [1, 8, 2], "c0": [1, 2, 3]], h)
        }
        assertThrows(["activation 'Gelu' is not one of"]) {
            try analyse(["x", "w", "r"], ["w": [1, 8, 3], "r": [1, 8, 2]],
                        ["hidden_size": .int(2), "activations": .strings(["Sigmoid", "Gelu", "Tanh"].map { Array($0.utf8) })])
        }
    }
}
