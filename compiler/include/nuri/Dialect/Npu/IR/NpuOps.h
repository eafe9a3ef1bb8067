//===- NpuOps.h - Operations of the npu dialect -----------------*- C++ -*-===//

#ifndef NURI_DIALECT_NPU_IR_NPUOPS_H
#define NURI_DIALECT_NPU_IR_NPUOPS_H

#include "nuri/Dialect/Npu/IR/NpuDialect.h"
#include "nuri/Dialect/Npu/IR/NpuKernelInterface.h"
#include "nuri/isa/Isa.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/RegionKindInterface.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_ATTRDEF_CLASSES
#include "nuri/Dialect/Npu/IR/NpuAttrs.h.inc"

#define GET_OP_CLASSES
#include "nuri/Dialect/Npu/IR/NpuOps.h.inc"

namespace nuri::npu {

// The discardable attributes the planning passes of the NPU lowering write
// (docs/npu-codegen.md, "Planning passes"); the dialect verifies them.
/// On a nuri op whose result is a view of its operand, not a buffer of its
/// own: one of the k*Layout values below (npu-select-layouts).
constexpr llvm::StringLiteral kLayoutAttr = "npu.layout";
/// reshape: the same bytes as its input.
constexpr llvm::StringLiteral kLayoutAlias = "alias";
/// [B,S,H,D] -> [B,H,S,D] transpose an attention reads through its strides.
constexpr llvm::StringLiteral kLayoutHeadSplit = "head_split";
/// [B,H,S,D] -> [B,S,H,D] transpose an attention writes through its strides.
constexpr llvm::StringLiteral kLayoutHeadMerge = "head_merge";
/// slice of the last dim: a column range of its input, rows at its pitch.
constexpr llvm::StringLiteral kLayoutColumns = "columns";
/// On an op: one #npu.buffer per result (npu-plan-memory).
constexpr llvm::StringLiteral kBuffersAttr = "npu.buffers";
/// On a partition argument or result: its DRAM binding.
constexpr llvm::StringLiteral kBufferAttr = "npu.buffer";
/// On a partition argument: the shared-SRAM copy kernels read instead.
constexpr llvm::StringLiteral kStagedAttr = "npu.staged";
/// On an npu kernel op: its tiling and core split (npu-plan-kernels), e.g.
/// #npu.gemm_plan.
constexpr llvm::StringLiteral kPlanAttr = "npu.plan";
/// On the partition: the DRAM bytes the plan uses.
constexpr llvm::StringLiteral kDramBytesAttr = "npu.dram_bytes";

/// A [0, 2, 1, 3] nuri.transpose: the head split or merge of [B, S, H, D]
/// an attention can fold (by op name: the npu dialect does not depend on
/// the nuri dialect).
bool isHeadSwapTranspose(mlir::Operation *op);
/// A unit-step nuri.slice that keeps every dimension but the last whole:
/// a column range of its input.
bool isColumnSlice(mlir::Operation *op);

/// The ISA instruction an npu instruction op stands for: every field read
/// from the attribute of the same name, range- and enum-checked. Emits a
/// diagnostic at `op` and fails when a field is missing or out of range.
mlir::FailureOr<isa::Instruction> toInstruction(mlir::Operation *op);

/// The op name (without the `npu.` prefix) of an ISA opcode, or "".
llvm::StringRef opNameOf(isa::Opcode opcode);

} // namespace nuri::npu

#endif // NURI_DIALECT_NPU_IR_NPUOPS_H
