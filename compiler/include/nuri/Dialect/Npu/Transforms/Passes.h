//===- Passes.h - Passes of the NPU lowering --------------------*- C++ -*-===//

#ifndef NURI_DIALECT_NPU_TRANSFORMS_PASSES_H
#define NURI_DIALECT_NPU_TRANSFORMS_PASSES_H

#include "nuri/Dialect/Npu/IR/NpuOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace nuri::npu {

#define GEN_PASS_DECL
#include "nuri/Dialect/Npu/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "nuri/Dialect/Npu/Transforms/Passes.h.inc"

} // namespace nuri::npu

#endif // NURI_DIALECT_NPU_TRANSFORMS_PASSES_H
