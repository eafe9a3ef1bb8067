//===- NpuCodegen.h - NPU partitions to ISA programs ------------*- C++ -*-===//
//
// The contract between the graph-level NPU flow (partitioning, outlining,
// packaging: compiler/lib/Transforms/Partition*, `nuri compile`) and the
// lowering pipeline that turns one NPU partition into per-core instruction
// streams (compiler/lib/Conversion/NpuCodegen*, the passes in
// compiler/lib/Dialect/Npu/Transforms, the kernels behind
// NpuKernelOpInterface in compiler/lib/Dialect/Npu/Kernels). See
// docs/npu-codegen.md.
//
// Status (library NuriNpuCodegen): linear/matmul (bias, gelu/relu/silu and
// residual-add epilogues; Q/K/V projections of one input merged), elementwise
// binary (row/column/scalar/repeated-rows broadcast) and unary ops, gelu,
// cast, layer_norm, rms_norm, softmax (last axis), rope, attention (flash
// style, causal, float mask, GQA, head split/merge folded into its DMA),
// reshape, split/concat/slice and last-dim-preserving transposes. claimsOp
// says why for everything else (gather, int8, bool masks, ...).
// Contract details the packager relies on:
//  - inputs/outputs are dense row-major at their `address`; every output has
//    its own buffer (values aliasing an input or constant are copied);
//  - `constants` must be written to DRAM before the run (WeightLoad);
//  - the program uses every core of `target` and ends with all queues idle;
//  - `nuri/Conversion/NpuProgram.h` turns a CompiledPartition into its
//    `npu.program` (for `--emit mlir`) and back.
// The planning (epilogue fusion, layouts, memory plan, kernel tiling) is a
// pipeline of passes (nuri/Dialect/Npu/Transforms/Passes.h) run on a copy
// of the partition; the caller's function is left as it is. Every program
// passes npu-verify-sync before it is serialized.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_CONVERSION_NPUCODEGEN_H
#define NURI_CONVERSION_NPUCODEGEN_H

#include "nuri/graph/Graph.h"
#include "nuri/isa/Program.h"
#include "nuri/target/Target.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"

#include <cstdint>
#include <string>
#include <vector>

namespace nuri::npu {

/// A partition input or output: the graph tensor (by its name in the
/// package, the function argument's / result's `nuri.name`) and where the
/// program expects it in simulated DRAM, dense row-major.
struct DramTensor {
  std::string name;
  graph::DType dtype = graph::DType::BF16;
  std::vector<int64_t> shape;
  uint64_t address = 0;
};

/// Constant data the program expects in DRAM before it starts.
struct DramConstant {
  uint64_t address = 0;
  uint64_t size = 0; ///< bytes, also when `bytes` is left empty
  /// Already in the layout the program reads; empty when the lowering was
  /// asked for the program only (CodegenOptions::constantBytes).
  std::vector<char> bytes;
};

/// Cycles the cost model predicts for one source op of the partition (the
/// `nuri` op's location names it), for `nuri compile --report`.
struct LayerEstimate {
  std::string location;
  std::string kind;
  uint64_t predictedCycles = 0;
  /// The op's kernels are [firstKernel, firstKernel + kernelCount) in
  /// program order. Ops fused into another op's kernel, views (reshapes,
  /// folded transposes) and compile-time constants have no estimate.
  /// Every kernel ends with one chip-wide barrier, so the simulator's
  /// barrier releases time each op without instrumenting the program.
  unsigned firstKernel = 0, kernelCount = 0;
};

struct CompiledPartition {
  isa::Program program;
  std::vector<DramTensor> inputs;
  std::vector<DramTensor> outputs;
  std::vector<DramConstant> constants;
  std::vector<LayerEstimate> estimates;
};

struct CodegenOptions {
  /// Print the IR after every lowering pass (`--dump-ir-after-all`): the
  /// planned partition after each planning pass, then its `npu.program`,
  /// go to stderr.
  bool dumpIrAfterAll = false;
  /// Compute the bytes of each constant in the layout the program reads
  /// (DramConstant::bytes). Without them the program, its constants'
  /// addresses and sizes, and the estimates are the same: design-space
  /// sweeps and timing-only tools skip what is most of a compile's time on
  /// a large model (re-laying out every weight through doubles).
  bool constantBytes = true;
};

/// Attaches the NPU kernels (NpuKernelOpInterface implementations,
/// compiler/lib/Dialect/Npu/Kernels/) to the ops they lower. Every context
/// that partitions or compiles for the NPU registers them before loading
/// its dialects (driver::registerDialects does); without them claimsOp
/// claims nothing and compileNpuPartition refuses.
void registerNpuKernels(mlir::DialectRegistry &registry);

/// Whether the NPU of `target` executes `op` (with its operand and result
/// types); when not, `reason` says why, for `nuri compile --report`.
bool claimsOp(mlir::Operation *op, const target::Target &target,
              std::string &reason);

/// Registers the NPU code generation as the TargetBackend of every chip
/// config (nuri/Dialect/Nuri/IR/TargetBackend.h), so nuri-partition asks
/// claimsOp through the registry. Idempotent; tools call it at start-up.
void registerNpuTargetBackend();

/// Bytes at the top of every core's SRAM that hold the program's weight
/// stream (the fetch queue loads the GEMMs' weight chunks into one ring in
/// the order they are multiplied, ahead across kernels); 0 when the target's
/// SRAM cannot spare it and each GEMM streams its own weights.
uint64_t weightStreamBytes(const target::Target &t);
/// Bytes of every core's SRAM kept for intermediates on a chip without
/// shared SRAM (0 elsewhere): each kernel's output stays in one core's pool,
/// which every core reaches over the NoC as its peer, instead of a DRAM
/// round trip to the next kernel.
uint64_t peerPoolBytes(const target::Target &t);
/// The per-core SRAM the kernels plan their own buffers in: all of it less
/// the weight stream's ring and the peer pool.
uint64_t kernelSramBytes(const target::Target &t);

/// Lowers one outlined NPU partition (a func.func of nuri ops whose
/// arguments and results carry `nuri.name`) through the lowering pipeline
/// to a program for `target`. Fails after a diagnostic at the op that
/// cannot be lowered (shape that does not tile, SRAM too small for one
/// tile, weights beyond DRAM).
mlir::FailureOr<CompiledPartition>
compileNpuPartition(mlir::func::FuncOp partition, const target::Target &target,
                    const CodegenOptions &options = {});

} // namespace nuri::npu

#endif // NURI_CONVERSION_NPUCODEGEN_H
