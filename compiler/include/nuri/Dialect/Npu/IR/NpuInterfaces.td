//===- NpuInterfaces.td - Interfaces of the npu dialect ----*- tablegen -*-===//
//
// The questions the NPU lowering asks of every op it turns into a kernel.
// One implementation per kernel file (compiler/lib/Dialect/Npu/Kernels/);
// the lowering and the partitioner never switch on op kinds for them.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NPU_IR_NPUINTERFACES_TD
#define NURI_DIALECT_NPU_IR_NPUINTERFACES_TD

include "mlir/IR/OpBase.td"

def Npu_KernelOpInterface : OpInterface<"NpuKernelOpInterface"> {
  let cppNamespace = "::nuri::npu";
  let description = [{
    An op the NPU runs as one kernel on every core: a tensor-level `npu` op
    (`npu.gemm`) or a graph op the lowering takes 1:1, to which a kernel file
    attaches this interface as an external model (registered by
    `npu::registerNpuKernels`). The lowering asks, in order:

    1. `getNpuIllegalReason`: can the NPU of this target run it? The reason
       when not ends up in `nuri compile --report` (through `claimsOp`).
    2. `planNpuKernel`: choose tiles and the split over cores once the
       memory plan placed the operands, and record them as attributes on the
       op (`npu-plan-kernels`), so a lit test can pin them.
    3. `getNpuKernelCost`: the per-core SRAM footprint and the cycles the
       cost model predicts for the planned kernel.
    4. `emitNpuKernel`: append the kernel's per-engine streams to the
       program being built.

    Steps 2-4 see the partition through a `KernelContext` (the target, the
    buffer every value lives in, the program emitter).
  }];
  let methods = [
    InterfaceMethod<[{
        Why the NPU of `target` cannot run this op (operand types, shapes,
        broadcasts); empty when it can.
      }], "std::string", "getNpuIllegalReason",
      (ins "const ::nuri::target::Target &":$target)>,
    InterfaceMethod<[{
        Chooses the kernel's tiling and core split for the operands' places
        in the memory plan and records them as attributes on the op. An op
        already carrying its plan keeps it (after checking that it fits).
        Kernels whose schedule follows from their shape alone plan nothing.
      }], "::mlir::LogicalResult", "planNpuKernel",
      (ins "::nuri::npu::KernelContext &":$context), [{}],
      [{ return ::mlir::success(); }]>,
    InterfaceMethod<[{
        The per-core SRAM bytes and the cycles the cost model predicts for
        the kernel as planned (what `nuri compile --report` bills the op).
      }], "::mlir::FailureOr<::nuri::npu::KernelCost>", "getNpuKernelCost",
      (ins "::nuri::npu::KernelContext &":$context)>,
    InterfaceMethod<[{
        Emits the kernel: its DMA, matrix and vector streams on every core,
        ending with the chip-wide barrier every kernel ends with. Fails
        after a diagnostic at the op.
      }], "::mlir::LogicalResult", "emitNpuKernel",
      (ins "::nuri::npu::KernelContext &":$context)>,
  ];
}

#endif // NURI_DIALECT_NPU_IR_NPUINTERFACES_TD
