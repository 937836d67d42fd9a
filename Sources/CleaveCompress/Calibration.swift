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
        guard let samples = try stackedSamples(arrays, for: graph, inputShapes: inputShapes) else { return [] }
        return samples.sets(units: Array(0..<samples.units))
    }

    /// `inputSets` split into sets to fit on and sets held back to measure
    /// fidelity on, so a report never scores a fit on the data it was fitted to.
    /// Every fourth batch unit (a unit is the model's fixed batch, else one
    /// sample) is held back, or the last one when there are fewer than four;
    /// the interleaving keeps both parts alike when the samples are sorted (by class, say).
    /// - Throws: as `inputSets`, and `CleaveError.badInput` when there are
    ///   fewer than two units, too few to both fit and evaluate.
    public static func fitAndHeldOutSets(_ arrays: [String: Tensor], for graph: Graph,
                                         inputShapes: [String: Shape] = [:]) throws -> (fit: [[String: Tensor]], heldOut: [[String: Tensor]]) {
        guard let samples = try stackedSamples(arrays, for: graph, inputShapes: inputShapes) else { return ([], []) }
        guard samples.units >= 2 else {
            let names = samples.stacked.keys.sorted().joined(separator: ", ")
            throw CleaveError.badInput("--calibration \(names): \(samples.total) sample(s) are too few to both fit and measure fidelity on held-back samples (need at least \(2 * samples.unit))")
        }
        let held = samples.units < 4 ? [samples.units - 1] : Array(stride(from: 3, to: samples.units, by: 4))
        let fit = (0..<samples.units).filter { !held.contains($0) }
        return (samples.sets(units: fit), samples.sets(units: held))
    }

    /// The calibration arrays checked against the model's inputs, each with the batch axis.
    private struct StackedSamples {
        var stacked: [String: Tensor]
        /// Samples per array.
        var total: Int
        /// Samples that must stay together: the model's fixed batch, else 1.
        var unit: Int
        /// Samples per set.
        var batch: Int
        var units: Int { total / unit }

        /// Sets of up to `batch` samples holding the given units in order;
        /// contiguous units share the arrays' memory, others are copied.
        func sets(units chosen: [Int]) -> [[String: Tensor]] {
            var sets: [[String: Tensor]] = []
            let perSet = Swift.max(1, batch / unit)
            var start = 0
            while start < chosen.count {
                let group = Array(chosen[start..<Swift.min(start + perSet, chosen.count)])
                var set: [String: Tensor] = [:]
                for (name, array) in stacked { set[name] = rows(of: array, units: group) }
                sets.append(set)
                start += perSet
            }
            return sets
        }

        private func rows(of array: Tensor, units group: [Int]) -> Tensor {
            let rowBytes = array.byteCount / Swift.max(array.shape[0], 1)
            let unitBytes = rowBytes * unit
            let shape = Shape([group.count * unit] + array.shape.dims.dropFirst())
            if let first = group.first, group == Array(first..<(first + group.count)) {
                let range = (first * unitBytes)..<((first + group.count) * unitBytes)
                return Tensor(dtype: array.dtype, shape: shape, storage: TensorStorage(slicing: array.storage, range: range))
            }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(group.count * unitBytes)
            let source = array.storage.bytes
            for u in group { bytes.append(contentsOf: source[(u * unitBytes)..<((u + 1) * unitBytes)]) }
            return Tensor(dtype: array.dtype, shape: shape, storage: bytes.withUnsafeBytes { TensorStorage(copying: $0) })
        }
    }

    private static func stackedSamples(_ arrays: [String: Tensor], for graph: Graph,
                                       inputShapes: [String: Shape]) throws -> StackedSamples? {
        guard !arrays.isEmpty else { return nil }
        let inputs = graph.runtimeInputs
        let names = Set(inputs.map(\.name))
        if let stray = arrays.keys.sorted().first(where: { !names.contains($0) }) {
            throw CleaveError(.usage, "--calibration \(stray): the model has no input '\(stray)' (its inputs: \(inputs.map { "'\($0.name)'" }.joined(separator: ", ")))")
        }
        let analysis = try Analysis(graph: graph, inputShapes: inputShapes)
        var samples: Int?
        var batch = maximumBatch
        var unit = 1
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
                unit = fixed
            }
            if let samples, samples != rows {
                throw CleaveError(.usage, "--calibration: inputs disagree on the number of samples (\(samples) and \(rows) for '\(input.name)')")
            }
            samples = rows
        }
        return StackedSamples(stacked: stacked, total: samples ?? 0, unit: unit, batch: batch)
    }
}
