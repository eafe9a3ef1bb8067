//===- RowwiseKernel.h - What the row-wise kernels share --------*- C++ -*-===//
//
// The element-wise, norm, softmax and rope kernels (Rowwise.cpp) and
// npu.quantize (Quantize.cpp) run the same row-wise core (RowwiseCore.h);
// they differ only in how they describe their op. Internal to
// NuriNpuCodegen.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NPU_KERNELS_ROWWISEKERNEL_H
#define NURI_DIALECT_NPU_KERNELS_ROWWISEKERNEL_H

#include "KernelContext.h"
#include "NpuPlan.h"
#include "RowwiseCore.h"

#include <cassert>

namespace nuri::npu {

/// The cost and emission of an op that runs the row-wise core, from
/// `Derived::describe(OpTy, addressOf)`; `Derived` says which targets can
/// run it (getNpuIllegalReason).
template <typename Derived, typename OpTy>
struct RowwiseKernelModel : NpuKernelOpInterface::ExternalModel<Derived, OpTy> {
  mlir::FailureOr<KernelCost> getNpuKernelCost(mlir::Operation *op,
                                               KernelContext &ctx) const {
    mlir::FailureOr<RowwiseDesc> r =
        Derived::describe(llvm::cast<OpTy>(op),
                          [&](mlir::Value v) { return ctx.plannedAddress(v); });
    if (mlir::failed(r)) {
      return mlir::failure();
    }
    if (r->rows == 0 || r->cols == 0) {
      return KernelCost{0, 0};
    }
    // The footprint when the row operands get their own place (the
    // emitter may put them beside the previous kernel instead).
    Result<RowwiseLayout> layout = placeRowwise(ctx.target(), *r, {0, 0});
    if (!layout) {
      return op->emitOpError("cannot be lowered to the NPU: ")
             << layout.error();
    }
    return KernelCost{layout->sramBytesPerCore,
                      estimateRowwise(ctx.target(), *r)};
  }

  mlir::LogicalResult emitNpuKernel(mlir::Operation *op,
                                    KernelContext &ctx) const {
    KernelEmitter *emitter = ctx.emitter();
    assert(emitter && "emitNpuKernel outside the lowering");
    mlir::FailureOr<RowwiseDesc> r = Derived::describe(
        llvm::cast<OpTy>(op), [&](mlir::Value v) { return ctx.addressOf(v); });
    if (mlir::failed(r)) {
      return mlir::failure();
    }
    Result<bool> emitted = emitRowwise(*emitter, *r);
    if (!emitted) {
      return op->emitOpError("cannot be lowered to the NPU: ")
             << emitted.error();
    }
    return mlir::success();
  }
};

} // namespace nuri::npu

#endif // NURI_DIALECT_NPU_KERNELS_ROWWISEKERNEL_H
