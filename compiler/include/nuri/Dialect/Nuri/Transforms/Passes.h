//===- Passes.h - Graph passes of the nuri dialect --------------*- C++ -*-===//

#ifndef NURI_DIALECT_NURI_TRANSFORMS_PASSES_H
#define NURI_DIALECT_NURI_TRANSFORMS_PASSES_H

#include "nuri/Dialect/Nuri/IR/NuriDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace nuri {

#define GEN_PASS_DECL
#include "nuri/Dialect/Nuri/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "nuri/Dialect/Nuri/Transforms/Passes.h.inc"

/// What `nuri import` runs unless told `--no-fuse`: cleanup, then pattern
/// recognition into the fused ops, then cleanup again.
void buildDefaultGraphPipeline(mlir::OpPassManager &pm);

/// Registers the passes and the named pipeline `nuri-default-pipeline`.
void registerAllNuriPasses();

} // namespace nuri

#endif // NURI_DIALECT_NURI_TRANSFORMS_PASSES_H
