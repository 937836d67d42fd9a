// TEMPORARY placeholders so the package builds while these kernels are written.
// Delete each class here when its real kernel lands; delete the file when empty.
import CleaveIR

final class UnaryKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class ClipKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class PReluKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class BinaryKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class VariadicKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class QuantizeLinearKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class DequantizeLinearKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class CastKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class SoftmaxKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class ReduceKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class ConcatKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class SplitKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class SliceKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class GatherKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class ReshapeKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class TransposeKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class ExpandKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class PadKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class ResizeKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class ShapeKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class ConstantKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class ConstantOfShapeKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class IdentityKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}
