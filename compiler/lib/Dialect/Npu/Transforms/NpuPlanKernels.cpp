//===- NpuPlanKernels.cpp - Every kernel's tiling as attributes -----------===//

#include "KernelContext.h"
#include "NpuPlan.h"

#include "nuri/Dialect/Npu/Transforms/Passes.h"

namespace nuri::npu {
#define GEN_PASS_DEF_NPUPLANKERNELS
#include "nuri/Dialect/Npu/Transforms/Passes.h.inc"
} // namespace nuri::npu

using namespace mlir;

namespace nuri::npu {
namespace {

struct NpuPlanKernelsPass : impl::NpuPlanKernelsBase<NpuPlanKernelsPass> {
  using NpuPlanKernelsBase::NpuPlanKernelsBase;
  explicit NpuPlanKernelsPass(const target::Target &t) : given_(t) {}

  LogicalResult initialize(MLIRContext *ctx) override {
    if (given_) {
      return success();
    }
    Result<target::Target> t = loadTargetOption(target);
    if (!t) {
      return emitError(UnknownLoc::get(ctx), "cannot load target '")
             << target << "': " << t.error();
    }
    given_ = std::move(*t);
    return success();
  }

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    KernelContext ctx(func, *given_);
    // Views and constant expressions are not kernels (the lowering skips
    // them too).
    WalkResult r = func.walk([&](NpuKernelOpInterface kernel) {
      Operation *op = kernel;
      if (op->getNumResults() > 0 && (isConstantExpr(op->getResult(0)) ||
                                      !layoutOf(op->getResult(0)).empty())) {
        return WalkResult::advance();
      }
      // A plan is only asked of a kernel the target runs.
      if (std::string why = kernel.getNpuIllegalReason(*given_); !why.empty()) {
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

  std::optional<target::Target> given_;
};

} // namespace

std::unique_ptr<Pass> createNpuPlanKernels(const target::Target &t) {
  return std::make_unique<NpuPlanKernelsPass>(t);
}

} // namespace nuri::npu
