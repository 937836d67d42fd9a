/// The operators cleave supports, with raw values equal to ONNX's op_type.
///
/// Facts about an op live in `Op.traits` and the per-op switches (shape
/// inference, cost, kernels); switches over `Op` have no `default:` so the
/// compiler points at every place a new op must be handled.
public enum Op: String, CaseIterable, Sendable {
    case conv = "Conv"
    case convTranspose = "ConvTranspose"
    case gemm = "Gemm"
    case matMul = "MatMul"
    case einsum = "Einsum"
    case batchNormalization = "BatchNormalization"
    case instanceNormalization = "InstanceNormalization"
    case lrn = "LRN"
    case layerNormalization = "LayerNormalization"
    case relu = "Relu"
    case leakyRelu = "LeakyRelu"
    case prelu = "PRelu"
    case elu = "Elu"
    case clip = "Clip"
    case sigmoid = "Sigmoid"
    case hardSigmoid = "HardSigmoid"
    case hardSwish = "HardSwish"
    case tanh = "Tanh"
    case erf = "Erf"
    case gelu = "Gelu"
    case softmax = "Softmax"
    case logSoftmax = "LogSoftmax"
    case topK = "TopK"
    case maxPool = "MaxPool"
    case averagePool = "AveragePool"
    case globalAveragePool = "GlobalAveragePool"
    case globalMaxPool = "GlobalMaxPool"
    case add = "Add"
    case sub = "Sub"
    case mul = "Mul"
    case div = "Div"
    case pow = "Pow"
    case sqrt = "Sqrt"
    case exp = "Exp"
    case log = "Log"
    case neg = "Neg"
    case abs = "Abs"
    case reciprocal = "Reciprocal"
    case sum = "Sum"
    case max = "Max"
    case min = "Min"
    case mean = "Mean"
    case reduceMean = "ReduceMean"
    case reduceSum = "ReduceSum"
    case reduceMax = "ReduceMax"
    case equal = "Equal"
    case less = "Less"
    case lessOrEqual = "LessOrEqual"
    case greater = "Greater"
    case greaterOrEqual = "GreaterOrEqual"
    case not = "Not"
    case and = "And"
    case or = "Or"
    case xor = "Xor"
    case `where` = "Where"
    case reduceMin = "ReduceMin"
    case reduceProd = "ReduceProd"
    case reduceL1 = "ReduceL1"
    case reduceL2 = "ReduceL2"
    case reduceSumSquare = "ReduceSumSquare"
    case reduceLogSumExp = "ReduceLogSumExp"
    case argMax = "ArgMax"
    case argMin = "ArgMin"
    case cumSum = "CumSum"
    case concat = "Concat"
    case split = "Split"
    case slice = "Slice"
    case gather = "Gather"
    case gatherElements = "GatherElements"
    case scatterND = "ScatterND"
    case reshape = "Reshape"
    case flatten = "Flatten"
    case transpose = "Transpose"
    case squeeze = "Squeeze"
    case unsqueeze = "Unsqueeze"
    case expand = "Expand"
    case tile = "Tile"
    case pad = "Pad"
    case resize = "Resize"
    case upsample = "Upsample"
    case shape = "Shape"
    case cast = "Cast"
    case constant = "Constant"
    case constantOfShape = "ConstantOfShape"
    case range = "Range"
    case size = "Size"
    case identity = "Identity"
    case dropout = "Dropout"
    case quantizeLinear = "QuantizeLinear"
    case dequantizeLinear = "DequantizeLinear"
    case lstm = "LSTM"
    case gru = "GRU"
    case rnn = "RNN"
}

/// What passes need to know about an op without special-casing it.
public struct OpTraits: Sendable {
    /// Applies a function to each element independently (with broadcasting for
    /// several inputs): output shape = broadcast of inputs.
    public var elementwise: Bool
    /// Only moves or reinterprets data; costs no arithmetic.
    public var dataMovement: Bool
    /// Input positions that carry learned weights (Conv W and B, Gemm B and C, …).
    public var weightInputs: [Int]
}

extension Op {
    public var traits: OpTraits {
        switch self {
        case .conv, .convTranspose:
            return OpTraits(elementwise: false, dataMovement: false, weightInputs: [1, 2])
        case .gemm:
            return OpTraits(elementwise: false, dataMovement: false, weightInputs: [1, 2])
        case .matMul:
            return OpTraits(elementwise: false, dataMovement: false, weightInputs: [1])
        case .batchNormalization:
            return OpTraits(elementwise: false, dataMovement: false, weightInputs: [1, 2, 3, 4])
        case .instanceNormalization, .layerNormalization:
            return OpTraits(elementwise: false, dataMovement: false, weightInputs: [1, 2])
        case .lstm:
            // W, R, B and the peepholes P; sequence_lens and the initial states are not learned.
            return OpTraits(elementwise: false, dataMovement: false, weightInputs: [1, 2, 3, 7])
        case .gru, .rnn:
            return OpTraits(elementwise: false, dataMovement: false, weightInputs: [1, 2, 3])
        case .prelu:
            return OpTraits(elementwise: true, dataMovement: false, weightInputs: [1])
        case .relu, .leakyRelu, .elu, .clip, .sigmoid, .hardSigmoid, .hardSwish, .tanh, .erf,
             .add, .sub, .mul, .div, .pow, .sqrt, .exp, .log, .neg, .abs, .reciprocal, .sum, .max, .min, .mean,
             .equal, .less, .lessOrEqual, .greater, .greaterOrEqual, .not, .and, .or, .xor, .where,
             .quantizeLinear, .dequantizeLinear, .gelu:
            return OpTraits(elementwise: true, dataMovement: false, weightInputs: [])
        case .lrn, .softmax, .logSoftmax, .maxPool, .averagePool, .globalAveragePool, .globalMaxPool,
             .reduceMean, .reduceSum, .reduceMax, .resize, .upsample, .range, .argMax, .argMin, .cumSum, .topK,
             .einsum, .reduceMin, .reduceProd, .reduceL1, .reduceL2, .reduceSumSquare, .reduceLogSumExp:
            return OpTraits(elementwise: false, dataMovement: false, weightInputs: [])
        case .concat, .split, .slice, .gather, .reshape, .flatten, .transpose, .squeeze, .unsqueeze,
             .expand, .pad, .shape, .size, .cast, .constant, .constantOfShape, .identity, .dropout, .tile,
             .gatherElements, .scatterND:
            return OpTraits(elementwise: false, dataMovement: true, weightInputs: [])
        }
    }
}
