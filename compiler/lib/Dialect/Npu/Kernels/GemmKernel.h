//===- GemmKernel.h - What the GEMM kernels share on the MLIR side -*- C++
//-*-===//
//
// npu.gemm (Gemm.cpp) and npu.quantized_gemm (QuantizedGemm.cpp) run the
// same GEMM core and record the same #npu.gemm_plan; these convert and
// check it.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NPU_KERNELS_GEMMKERNEL_H
#define NURI_DIALECT_NPU_KERNELS_GEMMKERNEL_H

#include "GemmCore.h"

#include "nuri/Dialect/Npu/IR/NpuOps.h"

#include <string>

namespace nuri::npu {

GemmPlanAttr gemmPlanToAttr(mlir::MLIRContext *ctx, const GemmPlan &p);
GemmPlan gemmPlanFromAttr(GemmPlanAttr a);
/// Why `p` cannot run `g` on `t` (beyond what the attribute verifier checks
/// alone); empty when it can.
std::string gemmPlanProblem(const target::Target &t, const GemmDesc &g,
                            const GemmPlan &p);

} // namespace nuri::npu

#endif // NURI_DIALECT_NPU_KERNELS_GEMMKERNEL_H
