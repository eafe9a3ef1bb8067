//===- Passes.td - Passes of the NPU lowering --------------*- tablegen -*-===//
//
// The NPU lowering as passes nuri-opt can run: the planning passes
// (compiler/lib/Dialect/Npu/Transforms), whose decisions are attributes and
// npu ops in the partition's IR, the partition lowering that reads them
// (nuri -> npu programs, compiler/lib/Conversion/NpuCodegen.cpp asking each
// op's kernel in compiler/lib/Dialect/Npu/Kernels) and checks on the npu
// dialect (npu-verify-sync, also in compiler/lib/Dialect/Npu/Transforms).
// npu::compileNpuPartition runs them in this order, npu-verify-sync last.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NPU_TRANSFORMS_PASSES_TD
#define NURI_DIALECT_NPU_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def NpuFuseEpilogues : Pass<"npu-fuse-epilogues", "mlir::func::FuncOp"> {
  let summary = "form npu.gemm kernels: epilogues and merged projections";
  let description = [{
    Every `nuri.linear`, and every `nuri.matmul` the NPU runs (lhs not
    transposed; a transposed rhs only when constant), becomes an `npu.gemm`.
    Into the GEMM's accumulator read-out go: the bias (a constant bias as a
    `nuri.cast` to f32, evaluated at compile time), the activation that is
    the result's only user (`nuri.gelu`, exact or tanh, `nuri.relu`,
    `nuri.silu`), then a `nuri.add` of a same-typed tensor that is the only
    user of that (the residual, when it is computed before the GEMM). A
    transposed constant rhs becomes a `nuri.transpose` of the constant
    (laid out transposed at compile time). Linears of one input with
    constant weights whose results only reach attentions through a reshape
    and a head-split transpose (Q, K, V) merge into one GEMM over the
    concatenated weights (`nuri.concat` of the constants); each projection
    is then a `nuri.slice` of its columns. The int8 path: each
    `nuri.quantized_matmul` the partitioner claimed becomes an
    `npu.quantized_gemm` (its bias add, cast, relu and residual add in the
    read-out; the zero-point correction and scale product as constants),
    its activations' `nuri.quantize` an `npu.quantize` (one per input and
    scale, absorbing an activation only it reads).

    A weight-only quantized weight the GEMM reads compressed (w8a16,
    w4a16) is stored `[K, N]`, or `[N, K]` (`b_transposed`, the transposed
    GEMV) where the target's cost model runs the GEMM faster that way: a
    decode step's few rows on an array whose streaming side is wider than
    its stationary one. Without a target the layout is `[K, N]`.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"\"",
           "chip config name (backends/configs/NAME.yaml) or a .yaml path; "
           "empty: the module's nuri.target (none: no transposed GEMV)">,
  ];
  let dependentDialects = ["::nuri::npu::NpuDialect"];
}

def NpuSelectLayouts : Pass<"npu-select-layouts", "mlir::func::FuncOp"> {
  let summary = "mark the ops whose results are strided views, not copies";
  let description = [{
    Sets `npu.layout` on the ops that move no data, because their readers
    or writers address their operand directly: every `nuri.reshape` of a
    computed tensor (`"alias"`, same bytes), a `[0, 2, 1, 3]` transpose
    that is the only reader of its input and feeds an attention's query,
    key or value (`"head_split"`: the attention's DMA reads the
    `[B, S, H, D]` layout), the `[0, 2, 1, 3]` transpose that is the only
    user of an attention's result (`"head_merge"`: the attention writes the
    merged layout), and a unit-step slice of the last dimension whose
    readers are reshapes into head splits (`"columns"`: the column range of
    a merged projection, rows at the wide buffer's pitch). Constant
    expressions are never views: they are laid out at compile time.
  }];
  let dependentDialects = ["::nuri::npu::NpuDialect"];
}

def NpuPlanMemory : Pass<"npu-plan-memory", "mlir::func::FuncOp"> {
  let summary = "place every tensor of a partition in DRAM or the shared SRAM";
  let description = [{
    Walks the partition in order, as the kernels will run, and records
    where each tensor lives as `#npu.buffer<space, offset>`: partition
    inputs in DRAM first (`npu.buffer` on the arguments); an input a
    weight-dominated GEMM reads as A staged once into the shared SRAM
    (`npu.staged`); constants and constant expressions (transposed
    weights, f32 biases, concatenated projections) in DRAM when a kernel
    first reads them (`npu.buffers` on the op computing them, refused
    before anything is materialized when they exceed DRAM); every computed
    tensor in the shared SRAM when it fits beside the live ones (first
    fit; a buffer is free after the last op reading it or a view of it),
    else in DRAM (`npu.buffers`); partition outputs in DRAM, a fresh
    buffer when the value is shared, an input, a constant or another
    output (`npu.buffer` on the results). The partition gets
    `npu.dram_bytes`; more than the target's DRAM is an error.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"\"",
           "chip config name (backends/configs/NAME.yaml) or a .yaml path; "
           "empty: the module's nuri.target">,
  ];
  let dependentDialects = ["::nuri::npu::NpuDialect"];
}

def NpuPlanKernels : Pass<"npu-plan-kernels", "mlir::func::FuncOp"> {
  let summary = "choose every kernel's tiling and core split";
  let description = [{
    Asks every op implementing `NpuKernelOpInterface` for its plan, once
    `npu-plan-memory` has placed the operands (whether A streams from DRAM
    or the shared SRAM changes the best GEMM tiling), and records it on the
    op: an `npu.gemm` gets `npu.plan = #npu.gemm_plan<...>`, the tiling with
    the lowest estimate of the cost model. A plan already on the op is kept
    after checking that the target can run it (it covers the output, its
    buffers fit the SRAM and the accumulator), so a test pins a tiling by
    writing it into the input. Kernels whose schedule follows from their
    shape plan nothing.

    ```mlir
    %y = npu.gemm %x, %w {npu.buffers = [#npu.buffer<"shared", 0>]} : (tensor<8x16xbf16>, tensor<16x32xbf16>) -> tensor<8x32xbf16>
    // becomes
    %y = npu.gemm %x, %w {npu.buffers = [#npu.buffer<"shared", 0>], npu.plan = #npu.gemm_plan<row_slices = 1, col_slices = 2, ...>} : ...
    ```
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"\"",
           "chip config name (backends/configs/NAME.yaml) or a .yaml path; "
           "empty: the module's nuri.target">,
  ];
  let dependentDialects = ["::nuri::npu::NpuDialect"];
}

def ConvertNuriToNpu : Pass<"convert-nuri-to-npu", "mlir::ModuleOp"> {
  let summary = "lower NPU partitions of nuri ops to npu programs";
  let description = [{
    Every `func.func` marked `nuri.partition = "npu"` (every function when
    none is marked) is lowered by `npu::compileNpuPartition` for `target`:
    on a copy of the function, `npu-fuse-epilogues`, `npu-select-layouts`,
    `npu-plan-memory` and `npu-plan-kernels` make the decisions, then each op (an `npu.gemm`,
    a nuri op) goes to the kernel emitter at the buffers the plan gave it:
    tiling to the array and the SRAM with the cost model, multi-buffered
    DMA, the split over cores and the semaphores between engines. The
    result is an `npu.program` named `<function>_npu` placed after the
    function. Ops the NPU cannot run are errors naming the reason
    `claimsOp` gives.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"\"",
           "chip config name (backends/configs/NAME.yaml) or a .yaml path; "
           "empty: the module's nuri.target">,
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
