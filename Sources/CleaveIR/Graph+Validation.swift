extension Graph {
    /// Checks the rules every graph obeys and puts the nodes in topological order.
    ///
    /// - every value is defined exactly once (graph input, initializer or node output;
    ///   an IR 3 model may list an initializer among its inputs);
    /// - every node input and graph output is defined;
    /// - there is no cycle.
    /// - Throws: `CleaveError.badInput` naming the node or tensor at fault.
    public mutating func validate() throws {
        var definedBy: [String: String] = [:]  // value → what defines it, for messages
        for input in inputs {
            guard !input.name.isEmpty else { throw CleaveError.badInput("a graph input has no name") }
            guard definedBy[input.name] == nil else { throw CleaveError.badInput("duplicate graph input '\(input.name)'") }
            definedBy[input.name] = "graph input"
        }
        let declaredInputs = Set(inputs.map(\.name))
        var initializerNames = Set<String>()
        for initializer in initializers {
            guard initializerNames.insert(initializer.name).inserted else {
                throw CleaveError.badInput("duplicate initializer '\(initializer.name)'")
            }
            if !declaredInputs.contains(initializer.name) { definedBy[initializer.name] = "initializer" }
        }
        for (index, node) in nodes.enumerated() {
            for output in node.outputs where !output.isEmpty {
                if let previous = definedBy[output] {
                    throw CleaveError.badInput("duplicate definition: tensor '\(output)' is written by node \(label(index)) and by \(previous)")
                }
                definedBy[output] = "node \(label(index))"
            }
        }

        // Kahn's algorithm over node indices; also catches undefined inputs.
        var producer: [String: Int] = [:]
        for (index, node) in nodes.enumerated() {
            for output in node.outputs where !output.isEmpty { producer[output] = index }
        }
        var pending = [Int](repeating: 0, count: nodes.count)
        var consumers = [[Int]](repeating: [], count: nodes.count)
        for (index, node) in nodes.enumerated() {
            for input in node.inputs where !input.isEmpty {
                guard definedBy[input] != nil else {
                    throw CleaveError.badInput("node \(label(index)) reads undefined tensor '\(input)'")
                }
                if let p = producer[input] {
                    pending[index] += 1
                    consumers[p].append(index)
                }
            }
        }
        var ready = (0..<nodes.count).filter { pending[$0] == 0 }.reversed() as [Int]
        var order: [Int] = []
        order.reserveCapacity(nodes.count)
        // Pop the lowest index first so a file already in order keeps its order.
        ready.sort(by: >)
        while let next = ready.popLast() {
            order.append(next)
            var released: [Int] = []
            for consumer in consumers[next] {
                pending[consumer] -= 1
                if pending[consumer] == 0 { released.append(consumer) }
            }
            if !released.isEmpty {
                ready.append(contentsOf: released)
                ready.sort(by: >)
            }
        }
        if order.count < nodes.count {
            let stuck = (0..<nodes.count).first { pending[$0] > 0 } ?? 0
            throw CleaveError.badInput("the graph has a cycle through node \(label(stuck))")
        }
        if order != Array(0..<nodes.count) { nodes = order.map { nodes[$0] } }

        for output in outputs {
            guard definedBy[output.name] != nil else {
                throw CleaveError.badInput("graph output '\(output.name)' is undefined: no node, input or initializer produces it")
            }
        }
    }

    /// How messages name node `index`: its name, or its position and op if unnamed.
    public func label(_ index: Int) -> String {
        let node = nodes[index]
        return node.name.isEmpty ? "#\(index) (\(node.opType))" : "'\(node.name)'"
    }
}
