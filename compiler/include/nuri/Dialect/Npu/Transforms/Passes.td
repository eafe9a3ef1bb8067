//===- Passes.td - Passes of the NPU lowering --------------*- tablegen -*-===//
//
// The NPU lowering as passes nuri-opt can run: the partition lowering
// (nuri -> npu, compiler/lib/Conversion/NpuCodegen.cpp and NpuKernels.cpp)
// and checks on the npu dialect.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NPU_TRANSFORMS_PASSES_TD
#define NURI_DIALECT_NPU_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertNuriToNpu : Pass<"convert-nuri-to-npu", "mlir::ModuleOp"> {
  let summary = "lower NPU partitions of nuri ops to npu programs";
  let description = [{
    Every `func.func` marked `nuri.partition = "npu"` (every function when
    none is marked) is lowered by `npu::compileNpuPartition` for `target`:
    DRAM and shared-SRAM planning with liveness, epilogue fusion (bias,
    activation, residual add, cast into the accumulator read-out), tiling to
    the array and the SRAM with the cost model, multi-buffered DMA, the
    split over cores and the semaphores between engines. The result is an
    `npu.program` named `<function>_npu` placed after the function. Ops the
    NPU cannot run are errors naming the reason `claimsOp` gives.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"tiny\"",
           "chip config name (backends/configs/NAME.yaml) or a .yaml path">,
  ];
  let dependentDialects = ["::nuri::npu::NpuDialect"];
}

def NpuVerifySync : Pass<"npu-verify-sync", "::nuri::npu::ProgramOp"> {
  let summary = "check that semaphores and barriers of a program balance";
  let description = [{
    For every core and semaphore, the counts signaled to it must equal the
    counts waited for (a surplus is a stale token the next partition would
    consume; a deficit deadlocks), and every barrier index must be reached a
    multiple of its participant count. Every `npu.barrier` is one arrival,
    whichever queue runs it (`dma`, `fetch`, `mat`, `vec`): a core whose
    `fetch` stream joins a barrier adds a participant. Errors name the core,
    the semaphore or barrier and both totals.
  }];
  let dependentDialects = ["::nuri::npu::NpuDialect"];
}

#endif // NURI_DIALECT_NPU_TRANSFORMS_PASSES_TD
