//===- nuri-opt.cpp - Pass driver for the nuri dialects -------------------===//
//
// mlir-opt with Nuri's dialects and passes registered, for lit tests and for
// anyone bisecting a pipeline.
//
//===----------------------------------------------------------------------===//

#include "nuri/Conversion/NpuCodegen.h"
#include "nuri/Dialect/Npu/Transforms/Passes.h"
#include "nuri/Dialect/Nuri/IR/NuriDialect.h"
#include "nuri/Dialect/Nuri/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::registerTransformsPasses();
  nuri::registerAllNuriPasses();
  nuri::npu::registerNpuPasses();
  // nuri-partition asks the NPU code generation through the registry.
  nuri::npu::registerNpuTargetBackend();
  mlir::DialectRegistry registry;
  nuri::npu::registerNpuKernels(registry);
  registry.insert<nuri::NuriDialect, nuri::npu::NpuDialect,
                  mlir::func::FuncDialect>();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "Nuri optimizer driver\n", registry));
}
