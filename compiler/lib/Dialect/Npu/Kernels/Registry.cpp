//===- Registry.cpp - The NPU kernels, one line each ----------------------===//
//
// Every kernel file under this directory attaches NpuKernelOpInterface to
// the op it implements; adding a kernel is its file plus its line here
// (docs/adding-an-op.md).
//
//===----------------------------------------------------------------------===//

#include "KernelContext.h"

#include "nuri/Conversion/NpuCodegen.h"
#include "nuri/Dialect/Nuri/IR/NuriDialect.h"
#include "nuri/Dialect/Nuri/IR/NuriOps.h"

using namespace mlir;

namespace nuri::npu {

// Defined in the kernel files.
void registerAttentionKernel(DialectRegistry &registry);
void registerCacheAttentionKernel(DialectRegistry &registry);
void registerCacheWriteKernel(DialectRegistry &registry);
void registerCopyKernels(DialectRegistry &registry);
void registerGemmKernel(DialectRegistry &registry);
void registerQuantizeKernel(DialectRegistry &registry);
void registerQuantizedGemmKernel(DialectRegistry &registry);
void registerRowwiseKernels(DialectRegistry &registry);
void registerTransposeKernel(DialectRegistry &registry);

void registerNpuKernels(DialectRegistry &registry) {
  registry.insert<NuriDialect, NpuDialect>();
  registerAttentionKernel(registry);
  registerCacheAttentionKernel(registry);
  registerCacheWriteKernel(registry);
  registerCopyKernels(registry);
  registerGemmKernel(registry);
  registerQuantizeKernel(registry);
  registerQuantizedGemmKernel(registry);
  registerRowwiseKernels(registry);
  registerTransposeKernel(registry);
}

bool npuKernelsRegistered(MLIRContext *ctx) {
  // The first kernel stands for all: registerNpuKernels attaches them
  // together.
  std::optional<RegisteredOperationName> name =
      RegisteredOperationName::lookup(TransposeOp::getOperationName(), ctx);
  return name && name->hasInterface<NpuKernelOpInterface>();
}

} // namespace nuri::npu
