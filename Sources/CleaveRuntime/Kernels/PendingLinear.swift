// TEMPORARY placeholders so the package builds while these kernels are written.
// Delete each class here when its real kernel lands; delete the file when empty.
import CleaveIR

final class ConvKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class ConvTransposeKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class GemmKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class MatMulKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class BatchNormalizationKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class InstanceNormalizationKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class LRNKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class PoolKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}

final class GlobalPoolKernel: Kernel {
    let setup: KernelSetup
    init(_ setup: KernelSetup) throws { self.setup = setup }
    func run(_ inputs: [Tensor?], _ context: KernelContext) throws -> [Tensor] {
        throw setup.error("kernel not written yet")
    }
}
