import CleaveIR

/// Turns calibration arrays (one per model input, samples stacked on axis 0,
/// as `--calibration NAME=FILE.npy` gives them) into input sets a `Session` runs.
public enum Calibration {
    /// Rows per set when an input's batch dim is free; bigger sets run faster
    /// but hold more activations at once.
    public static let maximumBatch = 64

    /// Splits `arrays` along axis 0 into input sets for `graph`.
    ///
    /// Each array holds samples shaped like the input, either with the batch
    /// axis (`[S, C, H, W]` for an input `[batch, C, H, W]`) or, for a single
    /// sample, without it (`[C, H, W]`). When the model fixes the batch size B,
    /// sets have B rows (S must be a multiple of B); when the batch dim is
    /// symbolic, sets have up to `maximumBatch` rows. Sets share the arrays'
    /// memory (no copy).
    /// - Throws: `CleaveError.usage` naming the input when an array does not fit it,
    ///   an input is missing, or the arrays disagree on the number of samples.
    public static func inputSets(_ arrays: [String: Tensor], for graph: Graph,
                                 inputShapes: [String: Shape] = [:]) throws -> [[String: Tensor]] {
        guard !arrays.isEmpty else { return [] }
        let inputs = graph.runtimeInputs
        let names = Set(inputs.map(\.name))
        if let stray = arrays.keys.sorted().first(where: { !names.contains($0) }) {
            throw CleaveError(.usage, "--calibration \(stray): the model has no input '\(stray)' (its inputs: \(inputs.map { "'\($0.name)'" }.joined(separator: ", ")))")
        }
        let analysis = try Analysis(graph: graph, inputShapes: inputShapes)
        var samples: Int?
        var batch = maximumBatch
        var stacked: [String: Tensor] = [:]
        for input in inputs {
            guard let array = arrays[input.name] else {
                throw CleaveError(.usage, "--calibration: no data for input '\(input.name)' (give --calibration \(input.name)=FILE.npy)")
            }
            guard let type = analysis.types[input.name] else { continue }
            guard array.dtype == type.dtype else {
                throw CleaveError(.usage, "--calibration \(input.name): the data is \(array.dtype.name), the input is \(type.dtype.name)")
            }
            let sample = Array(type.shape.dims.dropFirst())
            var rows: Int
            if array.shape.rank == type.shape.rank, Array(array.shape.dims.dropFirst()) == sample {
                rows = array.shape[0]
                stacked[input.name] = array
            } else if array.shape.dims == sample {
                rows = 1
                stacked[input.name] = array.reshaped(Shape([1] + sample))
            } else {
                throw CleaveError(.usage, "--calibration \(input.name): data of shape \(array.shape) does not hold samples of shape \(Shape(sample)) (input \(type.shape))")
            }
            if let fixed = input.dims?.first?.value {
                guard fixed > 0, rows % fixed == 0 else {
                    throw CleaveError(.usage, "--calibration \(input.name): \(rows) samples do not fill batches of \(fixed)")
                }
                batch = Swift.min(batch, fixed)
            }
            if let samples, samples != rows {
                throw CleaveError(.usage, "--calibration: inputs disagree on the number of samples (\(samples) and \(rows) for '\(input.name)')")
            }
            samples = rows
        }
        let total = samples ?? 0
        var sets: [[String: Tensor]] = []
        var start = 0
        while start < total {
            let count = Swift.min(batch, total - start)
            var set: [String: Tensor] = [:]
            for (name, array) in stacked {
                let row = array.byteCount / Swift.max(array.shape[0], 1)
                let storage = TensorStorage(slicing: array.storage, range: (start * row)..<((start + count) * row))
                set[name] = Tensor(dtype: array.dtype, shape: Shape([count] + array.shape.dims.dropFirst()), storage: storage)
            }
            sets.append(set)
            start += count
        }
        return sets
    }
}
