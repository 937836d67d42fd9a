import CleaveIR

extension KernelSetup {
    /// Input `index` as a float32 tensor.
    /// - Parameter role: the input's name in the ONNX spec ("X", "W", …), for messages.
    /// - Throws: `CleaveError.badInput` naming the node when it is missing or not float32.
    func float32Input(_ inputs: [Tensor?], _ index: Int, _ role: String) throws -> Tensor {
        guard index < inputs.count, let tensor = inputs[index] else {
            throw error("input \(index) (\(role)) is missing")
        }
        guard tensor.dtype == .float else {
            throw error("input \(index) (\(role)) is \(tensor.dtype.name), only float32 is supported")
        }
        return tensor
    }

    /// Optional input `index` as a float32 tensor, nil when omitted.
    func optionalFloat32Input(_ inputs: [Tensor?], _ index: Int, _ role: String) throws -> Tensor? {
        guard index < inputs.count, inputs[index] != nil else { return nil }
        return try float32Input(inputs, index, role)
    }
}
