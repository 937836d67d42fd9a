/// An Einsum `equation` (opset 12) parsed and resolved against its operands'
/// shapes: one label per dim of every operand and of the output, and the
/// size of every label. Shared by shape inference and the runtime kernel.
///
/// The forms are NumPy's: terms of letters (a–z, A–Z) separated by commas,
/// at most one `...` per term standing for the dims the letters leave over,
/// spaces ignored, and `->` with the output term, or without it the output
/// of the ellipsis dims followed by the letters that occur once, in ASCII
/// order. A label repeated within a term takes the diagonal. Ellipsis dims
/// align to the right across operands; every label's dims must agree or be
/// 1 (broadcast), as in NumPy.
package struct EinsumEquation: Sendable {
    /// Labels are ASCII codes for letters and `ellipsisBase + j` for the
    /// j-th of the broadcast ellipsis dims.
    package static let ellipsisBase = 256

    /// The labels of each operand's dims, in order (repeats for diagonals).
    package var operands: [[Int]]
    /// The labels of the output's dims, each once.
    package var output: [Int]
    /// Every label's size: the largest among the dims it names (others are 1).
    package var sizes: [Int: Int]

    package var outputShape: [Int] { output.map { sizes[$0] ?? 1 } }

    /// Multiply-adds of the naive sum: one per combination of all labels'
    /// values (for two operands, batch·M·N·K as MatMul counts them), saturating.
    package var naiveMACs: Int {
        var product = 1
        for size in sizes.values {
            let (next, overflow) = product.multipliedReportingOverflow(by: size)
            if overflow { return Int.max }
            product = next
        }
        return product
    }

    /// One term: its letters and where `...` stands, if it does.
    package struct Term: Sendable {
        package var letters: [Int]
        /// The index in `letters` before which the ellipsis dims go.
        package var ellipsis: Int?
    }

    /// Parses the syntax only (no shapes), so a kernel can refuse a malformed
    /// equation when it is built.
    /// - Throws: `CleaveError.badInput` (without a node name) describing the fault.
    package static func terms(_ equation: String, operands: Int) throws -> (inputs: [Term], output: Term?) {
        let text = equation.filter { !$0.isWhitespace }
        let sides = text.split(separator: "-", omittingEmptySubsequences: false)
        guard sides.count <= 2 else { throw CleaveError.badInput("equation '\(equation)' has more than one '->'") }
        guard sides.count == 1 || sides[1].hasPrefix(">") else {
            throw CleaveError.badInput("equation '\(equation)' has a '-' that is not part of '->'")
        }
        let inputs = try sides[0].split(separator: ",", omittingEmptySubsequences: false).map { try term(String($0), equation) }
        guard inputs.count == operands else {
            throw CleaveError.badInput("equation '\(equation)' has \(inputs.count) input terms, the node has \(operands) inputs")
        }
        return (inputs, try sides.count == 2 ? term(String(sides[1].dropFirst()), equation) : nil)
    }

    private static func term(_ text: String, _ equation: String) throws -> Term {
        var letters: [Int] = []
        var ellipsis: Int?
        var rest = Substring(text)
        while let c = rest.first {
            if c == "." {
                guard rest.hasPrefix("..."), ellipsis == nil else {
                    throw CleaveError.badInput("equation '\(equation)': term '\(text)' has a '.' that is not one '...'")
                }
                ellipsis = letters.count
                rest = rest.dropFirst(3)
                continue
            }
            guard let ascii = c.asciiValue, c.isLetter else {
                throw CleaveError.badInput("equation '\(equation)' has '\(c)', which is not a letter, ',', '...' or '->'")
            }
            letters.append(Int(ascii))
            rest = rest.dropFirst()
        }
        return Term(letters: letters, ellipsis: ellipsis)
    }

    /// Parses `equation` and resolves it against the operands' shapes.
    /// - Throws: `CleaveError.badInput` (without a node name) when the
    ///   equation does not parse or disagrees with the operands' ranks or dims.
    package init(_ equation: String, shapes: [[Int]]) throws {
        let (inputs, explicit) = try Self.terms(equation, operands: shapes.count)
        // Ellipsis dims per operand, and the most of any.
        var ellipsisDims: [Int] = []
        for (i, (term, shape)) in zip(inputs, shapes).enumerated() {
            let extra = shape.count - term.letters.count
            guard extra >= 0, extra == 0 || term.ellipsis != nil else {
                throw CleaveError.badInput("equation '\(equation)': term \(i) has \(term.letters.count) labels but input \(i) has rank \(shape.count)")
            }
            ellipsisDims.append(extra)
        }
        let broadcastRank = ellipsisDims.max() ?? 0
        var sizes: [Int: Int] = [:]
        var operands: [[Int]] = []
        for (i, (term, shape)) in zip(inputs, shapes).enumerated() {
            var labels = term.letters
            if let at = term.ellipsis {
                let count = ellipsisDims[i]
                labels.insert(contentsOf: (0..<count).map { Self.ellipsisBase + broadcastRank - count + $0 }, at: at)
            }
            for (label, dim) in zip(labels, shape) {
                guard dim >= 0 else { throw CleaveError.badInput("input \(i) has a negative dim \(dim)") }
                switch sizes[label] {
                case nil, 1?: sizes[label] = dim
                case let known? where known != dim && dim != 1:
                    throw CleaveError.badInput("equation '\(equation)': \(Self.describe(label)) is \(known) in one place and \(dim) in input \(i)")
                default: break
                }
            }
            operands.append(labels)
        }
        let ellipsisLabels = (0..<broadcastRank).map { Self.ellipsisBase + $0 }
        var output: [Int]
        if let explicit {
            output = explicit.letters
            if let at = explicit.ellipsis {
                output.insert(contentsOf: ellipsisLabels, at: at)
            } else if broadcastRank > 0 {
                throw CleaveError.badInput("equation '\(equation)': inputs have '...' dims but the output has no '...'")
            }
            var seen = Set<Int>()
            for label in explicit.letters {
                guard seen.insert(label).inserted else {
                    throw CleaveError.badInput("equation '\(equation)': the output names \(Self.describe(label)) twice")
                }
                guard sizes[label] != nil else {
                    throw CleaveError.badInput("equation '\(equation)': output \(Self.describe(label)) is in no input")
                }
            }
        } else {
            var counts: [Int: Int] = [:]
            for labels in operands { for label in labels where label < Self.ellipsisBase { counts[label, default: 0] += 1 } }
            output = ellipsisLabels + counts.filter { $0.value == 1 }.map(\.key).sorted()
        }
        self.operands = operands
        self.output = output
        self.sizes = sizes
    }

    static func describe(_ label: Int) -> String {
        label >= ellipsisBase ? "'...' dim \(label - ellipsisBase)" : "label '\(Character(UnicodeScalar(UInt8(label))))'"
    }
}

// MARK: Contraction plan

extension EinsumEquation {
    /// How two operands' labels meet in one (batched) matrix product:
    /// `batch` in both and still needed, `contracted` in both and needed no
    /// more, `left` and `right` in one side only. Labels of either side that
    /// are needed neither by the other side nor later are summed out first.
    package struct Contraction: Sendable {
        package var batch: [Int]
        package var left: [Int]
        package var contracted: [Int]
        package var right: [Int]
        /// The product's labels: batch, then left, then right.
        package var result: [Int] { batch + left + right }
    }

    /// Labels the output or the operands after `index` still use.
    package func needed(after index: Int) -> Set<Int> {
        var labels = Set(output)
        for later in operands.dropFirst(index + 1) { labels.formUnion(later) }
        return labels
    }

    /// The product of `a` (the running result) and `b` (operand `index`),
    /// each side already without labels that only it uses and nothing later needs.
    package func contraction(_ a: [Int], _ b: [Int], index: Int) -> Contraction {
        let later = needed(after: index)
        let inB = Set(b), inA = Set(a)
        return Contraction(batch: a.filter { inB.contains($0) && later.contains($0) },
                           left: a.filter { !inB.contains($0) },
                           contracted: a.filter { inB.contains($0) && !later.contains($0) },
                           right: b.filter { !inA.contains($0) })
    }

    /// Operand `index`'s distinct labels (a repeated one taken once, for its
    /// diagonal), without those that no other operand, nor the output, uses:
    /// what is left after the runtime sums those out.
    package func reducedLabels(of index: Int) -> [Int] {
        var others = Set(output)
        for (j, labels) in operands.enumerated() where j != index { others.formUnion(labels) }
        var seen = Set<Int>()
        return operands[index].filter { others.contains($0) && seen.insert($0).inserted }
    }

    /// The sizes (batch, m, n, k) of the first product the runtime runs for
    /// two or more operands: operand 0 times operand 1. Nil for one operand.
    package var firstProduct: (batch: Int, m: Int, n: Int, k: Int)? {
        guard operands.count >= 2 else { return nil }
        let c = contraction(reducedLabels(of: 0), reducedLabels(of: 1), index: 1)
        func size(_ labels: [Int]) -> Int { labels.reduce(1) { $0 * (sizes[$1] ?? 1) } }
        return (size(c.batch), size(c.left), size(c.right), size(c.contracted))
    }
}
