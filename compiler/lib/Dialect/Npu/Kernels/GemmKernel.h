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
#include "KernelContext.h"

#include "nuri/Dialect/Npu/IR/NpuOps.h"

#include <cassert>
#include <string>

namespace nuri::npu {

GemmPlanAttr gemmPlanToAttr(mlir::MLIRContext *ctx, const GemmPlan &p);
GemmPlan gemmPlanFromAttr(GemmPlanAttr a);
/// Why `p` cannot run `g` on `t` (beyond what the attribute verifier checks
/// alone); empty when it can.
std::string gemmPlanProblem(const target::Target &t, const GemmDesc &g,
                            const GemmPlan &p);

/// The read-out both GEMM ops describe alike: the optional bias (of
/// `biasType`) and residual, the activation and the output's address.
inline mlir::LogicalResult describeReadOut(
    GemmDesc &g, mlir::Value bias, isa::Dtype biasType, mlir::Value residual,
    llvm::StringRef act, mlir::Value output,
    llvm::function_ref<mlir::FailureOr<uint64_t>(mlir::Value)> addressOf) {
  if (bias) {
    mlir::FailureOr<uint64_t> ba = addressOf(bias);
    if (mlir::failed(ba)) {
      return mlir::failure();
    }
    g.hasBias = true;
    g.bias = *ba;
    g.biasType = biasType;
  }
  if (residual) {
    mlir::FailureOr<uint64_t> ra = addressOf(residual);
    if (mlir::failed(ra)) {
      return mlir::failure();
    }
    g.hasResidual = true;
    g.residual = *ra;
  }
  uint64_t code = 0;
  isa::parseEnum(isa::FieldKind::Act, act.str(), code);
  g.act = isa::Act(code);
  mlir::FailureOr<uint64_t> c = addressOf(output);
  if (mlir::failed(c)) {
    return mlir::failure();
  }
  g.c = *c;
  return mlir::success();
}

/// The kernel interface of an op that runs the GEMM core. Planning, cost
/// and emission differ only in how `Derived::describe(OpTy, addressOf)`
/// reads the op into a GemmDesc; `Derived` also says which targets can run
/// it (getNpuIllegalReason).
template <typename Derived, typename OpTy>
struct GemmKernelModel : NpuKernelOpInterface::ExternalModel<Derived, OpTy> {
  mlir::LogicalResult planNpuKernel(mlir::Operation *op,
                                    KernelContext &ctx) const {
    mlir::FailureOr<GemmDesc> g =
        Derived::describe(llvm::cast<OpTy>(op),
                          [&](mlir::Value v) { return ctx.plannedAddress(v); });
    if (mlir::failed(g)) {
      return mlir::failure();
    }
    if (auto pinned = op->getAttrOfType<GemmPlanAttr>(kPlanAttr)) {
      std::string why =
          gemmPlanProblem(ctx.target(), *g, gemmPlanFromAttr(pinned));
      if (!why.empty()) {
        return op->emitOpError("has a plan the target cannot run: ") << why;
      }
      return mlir::success();
    }
    Result<GemmPlan> plan = planGemm(ctx.target(), *g);
    if (!plan) {
      return op->emitOpError("cannot be lowered to the NPU: ") << plan.error();
    }
    op->setAttr(kPlanAttr, gemmPlanToAttr(op->getContext(), *plan));
    return mlir::success();
  }

  mlir::FailureOr<KernelCost> getNpuKernelCost(mlir::Operation *op,
                                               KernelContext &ctx) const {
    auto attr = op->getAttrOfType<GemmPlanAttr>(kPlanAttr);
    if (!attr) {
      return op->emitOpError("has no plan (npu-plan-kernels)");
    }
    mlir::FailureOr<GemmDesc> g =
        Derived::describe(llvm::cast<OpTy>(op),
                          [&](mlir::Value v) { return ctx.plannedAddress(v); });
    if (mlir::failed(g)) {
      return mlir::failure();
    }
    GemmPlan plan = gemmPlanFromAttr(attr);
    return KernelCost{gemmSramBytes(*g, plan), plan.estimate};
  }

  mlir::LogicalResult emitNpuKernel(mlir::Operation *op,
                                    KernelContext &ctx) const {
    KernelEmitter *emitter = ctx.emitter();
    assert(emitter && "emitNpuKernel outside the lowering");
    auto attr = op->getAttrOfType<GemmPlanAttr>(kPlanAttr);
    if (!attr) {
      return op->emitOpError("has no plan (npu-plan-kernels)");
    }
    mlir::FailureOr<GemmDesc> g = Derived::describe(
        llvm::cast<OpTy>(op), [&](mlir::Value v) { return ctx.addressOf(v); });
    if (mlir::failed(g)) {
      return mlir::failure();
    }
    Result<bool> emitted = emitGemm(*emitter, *g, gemmPlanFromAttr(attr));
    if (!emitted) {
      return op->emitOpError("cannot be lowered to the NPU: ")
             << emitted.error();
    }
    return mlir::success();
  }
};

} // namespace nuri::npu

#endif // NURI_DIALECT_NPU_KERNELS_GEMMKERNEL_H
