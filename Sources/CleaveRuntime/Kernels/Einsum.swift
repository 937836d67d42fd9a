import CleaveIR

/// Einsum, opset 12, on float32 and float64: `EinsumEquation`'s NumPy forms
/// (batched matrix products such as `bhid,bhjd->bhij`, `...ij,...jk->...ik`,
/// transposes, diagonals, sums over one operand, chains of operands).
///
/// Each operand first takes its diagonals and sums out the labels that no
/// other operand and not the output use. Operands are then multiplied left
/// to right, each pair as one batched matrix product through `BLAS.gemm`
/// (labels in both sides and needed later are the batch, those needed no
/// more the inner dim): an operand already laid out as [batch, rows, inner]
/// or [batch, inner, rows] is passed as it is (transposed or not), any other
/// is copied into that order first (one strided copy; broadcast dims read
/// with stride 0). The result is permuted to the output's order.
///
/// The equation's syntax is checked when the kernel is built, its fit with
/// the operands' ranks and dims on every run; both are refused with the fault
/// named. Complexity: O(batch·m·n·k) per product, plus one pass per copy.
final class EinsumKernel: Kernel {
    private let setup: KernelSetup
    private let equation: String

    init(_ setup: KernelSetup) throws {
        self.setup = setup
        guard let equation = setup.node.string("equation") else { throw setup.error("attribute 'equation' is required") }
        do {
            _ = try EinsumEquation.terms(equation, operands: setup.node.inputs.count)
        } catch let failure as CleaveError {
            throw setup.error(failure.message)
        }
        self.equation = equation
    }

    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        let operands = try (0..<setup.node.inputs.count).map { try setup.required(inputs, $0, "Inputs") }
        guard let dtype = operands.first?.dtype else { throw setup.error("needs at least one input") }
        for (i, operand) in operands.enumerated() where operand.dtype != dtype {
            throw setup.error("input \(i) is \(operand.dtype.name) but input 0 is \(dtype.name); they must match")
        }
        let plan: EinsumEquation
        do {
            plan = try EinsumEquation(equation, shapes: operands.map(\.shape.dims))
        } catch let failure as CleaveError {
            throw setup.error(failure.message)
        }
        let shape = try setup.shape(plan.outputShape, "output shape")
        switch dtype {
        case .float: return [try evaluate(Float.self, operands, plan, context).reshaped(shape)]
        case .double: return [try evaluate(Double.self, operands, plan, context).reshaped(shape)]
        default: throw setup.error("inputs are \(dtype.name); supported: float32, float64")
        }
    }

    /// A strided view of a tensor with one label per dim.
    private struct Labelled {
        var tensor: Tensor
        var labels: [Int]
        var dims: [Int]
        var strides: [Int]
    }

    private func evaluate<T: BLASElement & ReductionReal>(
        _: T.Type, _ operands: [Tensor], _ plan: EinsumEquation, _ context: KernelContext
    ) throws -> Tensor {
        var prepared: [Labelled] = []
        for (i, tensor) in operands.enumerated() {
            let diagonal = Self.diagonal(Labelled(tensor: tensor, labels: plan.operands[i], dims: tensor.shape.dims,
                                                  strides: tensor.shape.strides))
            prepared.append(try sumOut(T.self, diagonal, keeping: plan.reducedLabels(of: i), plan, context))
        }
        var result = prepared[0]
        for index in 1..<Swift.max(1, prepared.count) {
            let contraction = plan.contraction(result.labels, prepared[index].labels, index: index)
            result = try multiply(T.self, result, prepared[index], contraction, plan, context)
        }
        return try materialize(T.self, result, order: plan.output, plan, context).tensor
    }

    /// The view with each repeated label taken once, along the diagonal:
    /// its stride is the sum of the repeats' strides.
    private static func diagonal(_ x: Labelled) -> Labelled {
        var result = Labelled(tensor: x.tensor, labels: [], dims: [], strides: [])
        for (label, (dim, stride)) in zip(x.labels, zip(x.dims, x.strides)) {
            if let p = result.labels.firstIndex(of: label) {
                result.strides[p] += stride
            } else {
                result.labels.append(label)
                result.dims.append(dim)
                result.strides.append(stride)
            }
        }
        return result
    }

    /// The strided read of `x` in the label `order`, at every label's full
    /// size: a dim of 1 (or a missing label) is broadcast with stride 0.
    private func view(_ x: Labelled, _ order: [Int], _ plan: EinsumEquation) -> StridedView {
        let strides = order.map { label -> Int in
            guard let p = x.labels.firstIndex(of: label), x.dims[p] != 1 else { return 0 }
            return x.strides[p]
        }
        return StridedView(dims: order.map { plan.sizes[$0] ?? 1 }, strides: strides, offset: 0)
    }

    /// Whether `view` reads its tensor's elements in order, one after another.
    private static func isContiguous(_ view: StridedView, of tensor: Tensor) -> Bool {
        guard view.count == tensor.elementCount else { return false }
        let simple = view.simplified()
        return view.count <= 1 || (simple.dims.count == 1 && simple.strides[0] == 1 && simple.offset == 0)
    }

    /// `x` as a contiguous tensor in the label `order`: itself when it
    /// already is, else one strided copy.
    private func materialize<T: BLASElement>(_: T.Type, _ x: Labelled, order: [Int], _ plan: EinsumEquation,
                                             _ context: KernelContext) throws -> Labelled {
        let read = view(x, order, plan)
        let dims = read.dims
        if Self.isContiguous(read, of: x.tensor) {
            return Labelled(tensor: x.tensor, labels: order, dims: dims, strides: Shape(dims).strides)
        }
        let copy = Tensor.uninitialized(x.tensor.dtype, try setup.shape(dims, "intermediate"))
        if let source = x.tensor.rawBytes, let target = copy.mutableRawBytes {
            read.copy(from: source, to: target, elementSize: MemoryLayout<T>.size, context)
        }
        return Labelled(tensor: copy, labels: order, dims: dims, strides: Shape(dims).strides)
    }

    /// `x` summed over every label not in `keeping` (which keeps their order).
    private func sumOut<T: BLASElement & ReductionReal>(_: T.Type, _ x: Labelled, keeping: [Int], _ plan: EinsumEquation,
                                                        _ context: KernelContext) throws -> Labelled {
        let summed = x.labels.filter { !keeping.contains($0) }
        guard !summed.isEmpty else { return x }
        let arranged = try materialize(T.self, x, order: keeping + summed, plan, context)
        let dims = keeping.map { plan.sizes[$0] ?? 1 }
        let length = summed.reduce(1) { $0 * (plan.sizes[$1] ?? 1) }
        let sums = Tensor(zeros: x.tensor.dtype, try setup.shape(dims, "intermediate"))
        if length > 0, let source = arranged.tensor.rawBytes?.assumingMemoryBound(to: T.self),
           let target = sums.mutableRawBytes?.assumingMemoryBound(to: T.self) {
            let reducer = T.sumReducer
            context.parallelFor(sums.elementCount, itemWork: length) { range in
                for i in range { target[i] = reducer.fold(source + i * length, length) }
            }
        }
        return withExtendedLifetime(arranged) {
            Labelled(tensor: sums, labels: keeping, dims: dims, strides: Shape(dims).strides)
        }
    }

    /// One batched product C[batch][m×n] = A[batch][m×k]·B[batch][k×n].
    private func multiply<T: BLASElement & ReductionReal>(
        _: T.Type, _ a: Labelled, _ b: Labelled, _ c: EinsumEquation.Contraction, _ plan: EinsumEquation,
        _ context: KernelContext
    ) throws -> Labelled {
        func size(_ labels: [Int]) -> Int { labels.reduce(1) { $0 * (plan.sizes[$1] ?? 1) } }
        let batch = size(c.batch), m = size(c.left), n = size(c.right), k = size(c.contracted)
        guard BLAS.fits(m, n, k) else {
            throw setup.error("a product of \(m)×\(k) by \(k)×\(n) exceeds the 32-bit sizes BLAS takes")
        }
        let dims = c.result.map { plan.sizes[$0] ?? 1 }
        let product = Tensor(zeros: a.tensor.dtype, try setup.shape(dims, "intermediate"))
        // Each side as it lies when it can be read as a (transposed) matrix stack, else copied.
        let (left, transA) = try operand(T.self, a, plain: c.batch + c.left + c.contracted,
                                         transposed: c.batch + c.contracted + c.left, plan, context)
        let (right, transB) = try operand(T.self, b, plain: c.batch + c.contracted + c.right,
                                          transposed: c.batch + c.right + c.contracted, plan, context)
        guard k > 0, m * n > 0, let pa = left.rawBytes?.assumingMemoryBound(to: T.self),
              let pb = right.rawBytes?.assumingMemoryBound(to: T.self),
              let pc = product.mutableRawBytes?.assumingMemoryBound(to: T.self) else {
            return Labelled(tensor: product, labels: c.result, dims: dims, strides: Shape(dims).strides)  // zeros
        }
        for index in 0..<batch {
            BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1,
                      a: pa + index * m * k, lda: transA ? m : k, b: pb + index * k * n, ldb: transB ? k : n,
                      beta: 0, c: pc + index * m * n, ldc: n, context)
        }
        return withExtendedLifetime((left, right)) {
            Labelled(tensor: product, labels: c.result, dims: dims, strides: Shape(dims).strides)
        }
    }

    /// `x`'s elements in the `plain` label order, or in the `transposed` one
    /// if they already lie so (no copy), and which of the two it is.
    private func operand<T: BLASElement>(_: T.Type, _ x: Labelled, plain: [Int], transposed: [Int],
                                         _ plan: EinsumEquation, _ context: KernelContext) throws -> (Tensor, Bool) {
        if !Self.isContiguous(view(x, plain, plan), of: x.tensor), Self.isContiguous(view(x, transposed, plan), of: x.tensor) {
            return (x.tensor, true)
        }
        return (try materialize(T.self, x, order: plain, plan, context).tensor, false)
    }
}
