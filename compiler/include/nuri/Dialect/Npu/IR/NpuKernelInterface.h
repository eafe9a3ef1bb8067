//===- NpuKernelInterface.h - The questions every NPU kernel answers -*- C++
//-*-===//
//
// NpuKernelOpInterface (NpuInterfaces.td) and the vocabulary of its
// methods. The context a kernel sees (KernelContext) belongs to the lowering
// (compiler/lib/Dialect/Npu/Kernels/KernelContext.h); the dialect only names
// it.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NPU_IR_NPUKERNELINTERFACE_H
#define NURI_DIALECT_NPU_IR_NPUKERNELINTERFACE_H

#include "mlir/IR/OpDefinition.h"

#include <cstdint>
#include <string>

namespace nuri::target {
struct Target;
} // namespace nuri::target

namespace nuri::npu {

class KernelContext;

/// What a planned kernel costs: the SRAM it takes on every core and the
/// cycles the cost model predicts for it.
struct KernelCost {
  uint64_t sramBytesPerCore = 0;
  uint64_t cycles = 0;
};

} // namespace nuri::npu

#include "nuri/Dialect/Npu/IR/NpuInterfaces.h.inc"

#endif // NURI_DIALECT_NPU_IR_NPUKERNELINTERFACE_H
