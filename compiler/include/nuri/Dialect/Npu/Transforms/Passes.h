//===- Passes.h - Passes of the NPU lowering --------------------*- C++ -*-===//

#ifndef NURI_DIALECT_NPU_TRANSFORMS_PASSES_H
#define NURI_DIALECT_NPU_TRANSFORMS_PASSES_H

#include "nuri/Dialect/Npu/IR/NpuOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace nuri::npu {

#define GEN_PASS_DECL
#include "nuri/Dialect/Npu/Transforms/Passes.h.inc"

/// The planning passes in order, on func.func partitions: what
/// compileNpuPartition runs before the lowering reads their decisions. They
/// plan for the enclosing module's #nuri.target (lookupTarget).
void buildNpuPlanningPipeline(mlir::OpPassManager &pm);

#define GEN_PASS_REGISTRATION
#include "nuri/Dialect/Npu/Transforms/Passes.h.inc"

} // namespace nuri::npu

#endif // NURI_DIALECT_NPU_TRANSFORMS_PASSES_H
