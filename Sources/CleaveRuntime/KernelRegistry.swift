import CleaveIR

/// The table from ONNX op to kernel: one exhaustive switch, so a new `Op`
/// does not compile until it has a kernel.
enum KernelRegistry {
    static func make(_ op: Op, _ setup: KernelSetup) throws -> Kernel {
        switch op {
        // MARK: linear algebra and windows (Kernels/Convolution.swift, Kernels/MatrixProduct.swift, …)
        case .conv: return try ConvKernel(setup)
        case .convTranspose: return try ConvTransposeKernel(setup)
        case .gemm: return try GemmKernel(setup)
        case .matMul: return try MatMulKernel(setup)
        case .einsum: return try EinsumKernel(setup)
        case .batchNormalization: return try BatchNormalizationKernel(setup)
        case .instanceNormalization: return try InstanceNormalizationKernel(setup)
        case .layerNormalization: return try LayerNormalizationKernel(setup)
        case .lrn: return try LRNKernel(setup)
        case .maxPool, .averagePool: return try PoolKernel(setup)
        case .globalAveragePool, .globalMaxPool: return try GlobalPoolKernel(setup)
        // MARK: recurrent layers (Kernels/Recurrent.swift)
        case .lstm: return try RecurrentKernel(setup, cell: .lstm)
        case .gru: return try RecurrentKernel(setup, cell: .gru)
        case .rnn: return try RecurrentKernel(setup, cell: .rnn)
        // MARK: element-wise
        case .relu, .leakyRelu, .elu, .sigmoid, .hardSigmoid, .hardSwish, .tanh, .erf, .gelu,
             .sqrt, .exp, .log, .neg, .abs, .reciprocal:
            return try UnaryKernel(setup)
        case .clip: return try ClipKernel(setup)
        case .prelu: return try PReluKernel(setup)
        case .add, .sub, .mul, .div, .pow: return try BinaryKernel(setup)
        case .sum, .max, .min, .mean: return try VariadicKernel(setup)
        case .quantizeLinear: return try QuantizeLinearKernel(setup)
        case .dequantizeLinear: return try DequantizeLinearKernel(setup)
        case .cast: return try CastKernel(setup)
        case .equal, .less, .lessOrEqual, .greater, .greaterOrEqual: return try ComparisonKernel(setup)
        case .not, .and, .or, .xor: return try LogicalKernel(setup)
        case .where: return try WhereKernel(setup)
        // MARK: reductions
        case .softmax, .logSoftmax: return try SoftmaxKernel(setup)
        case .topK: return try TopKKernel(setup)
        case .reduceMean, .reduceSum, .reduceMax, .reduceMin, .reduceProd, .reduceL1, .reduceL2, .reduceSumSquare,
             .reduceLogSumExp:
            return try ReduceKernel(setup)
        case .argMax, .argMin: return try ArgExtremumKernel(setup)
        case .cumSum: return try CumSumKernel(setup)
        // MARK: data movement
        case .concat: return try ConcatKernel(setup)
        case .split: return try SplitKernel(setup)
        case .slice: return try SliceKernel(setup)
        case .gather: return try GatherKernel(setup)
        case .gatherElements: return try GatherElementsKernel(setup)
        case .scatterND: return try ScatterNDKernel(setup)
        case .reshape, .flatten, .squeeze, .unsqueeze: return try ReshapeKernel(setup)
        case .transpose: return try TransposeKernel(setup)
        case .expand: return try ExpandKernel(setup)
        case .tile: return try TileKernel(setup)
        case .pad: return try PadKernel(setup)
        case .resize, .upsample: return try ResizeKernel(setup)
        case .shape: return try ShapeKernel(setup)
        case .size: return try SizeKernel(setup)
        case .range: return try RangeKernel(setup)
        case .constant: return try ConstantKernel(setup)
        case .constantOfShape: return try ConstantOfShapeKernel(setup)
        case .identity, .dropout: return try IdentityKernel(setup)
        }
    }
}
