//===- NpuPlanKernels.cpp - Every kernel's tiling as attributes -----------===//

#include "KernelContext.h"
#include "NpuPlan.h"

#include "nuri/Dialect/Npu/Transforms/Passes.h"
#include "nuri/Dialect/Nuri/IR/NuriTarget.h"

namespace nuri::npu {
#define GEN_PASS_DEF_NPUPLANKERNELS
#include "nuri/Dialect/Npu/Transforms/Passes.h.inc"
} // namespace nuri::npu

using namespace mlir;

namespace nuri::npu {
namespace {

struct NpuPlanKernelsPass : impl::NpuPlanKernelsBase<NpuPlanKernelsPass> {
  using NpuPlanKernelsBase::NpuPlanKernelsBase;

  LogicalResult initialize(MLIRContext *ctx) override {
    return target_.load(ctx, target);
  }

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    const target::Target *t = target_.resolve(func);
    if (!t) {
      return signalPassFailure();
    }
    KernelContext ctx(func, *t);
    // Views and constant expressions are not kernels (the lowering skips
    // them too).
    WalkResult r = func.walk([&](NpuKernelOpInterface kernel) {
      Operation *op = kernel;
      if (op->getNumResults() > 0 && (isConstantExpr(op->getResult(0)) ||
                                      !layoutOf(op->getResult(0)).empty())) {
        return WalkResult::advance();
      }
      // A plan is only asked of a kernel the target runs.
      if (std::string why = kernel.getNpuIllegalReason(*t); !why.empty()) {
        op->emitOpError("cannot be lowered to the NPU: ") << why;
        return WalkResult::interrupt();
      }
      return failed(kernel.planNpuKernel(ctx)) ? WalkResult::interrupt()
                                               : WalkResult::advance();
    });
    if (r.wasInterrupted()) {
      signalPassFailure();
    }
  }

  /// The target the option names, when it names one.
  TargetOption target_;
};

} // namespace
} // namespace nuri::npu
