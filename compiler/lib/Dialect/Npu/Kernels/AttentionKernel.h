//===- AttentionKernel.h - What the attention kernels share -----*- C++ -*-===//
//
// nuri.attention (Attention.cpp) and nuri.cache_attention (CacheAttention.cpp)
// lower onto one core (AttentionCore.h); they differ only in how they
// describe their op. Internal to NuriNpuCodegen.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NPU_KERNELS_ATTENTIONKERNEL_H
#define NURI_DIALECT_NPU_KERNELS_ATTENTIONKERNEL_H

#include "AttentionCore.h"
#include "KernelContext.h"

namespace nuri::npu {

/// Describes the op with the addresses `addressOf` gives.
using DescribeAttention = llvm::function_ref<mlir::FailureOr<AttentionDesc>(
    llvm::function_ref<mlir::FailureOr<uint64_t>(mlir::Value)> addressOf)>;

/// getNpuKernelCost of an attention kernel: its plan at planned addresses.
inline mlir::FailureOr<KernelCost>
attentionKernelCost(mlir::Operation *op, KernelContext &ctx,
                    DescribeAttention describe) {
  mlir::FailureOr<AttentionDesc> a =
      describe([&](mlir::Value v) { return ctx.plannedAddress(v); });
  if (mlir::failed(a)) {
    return mlir::failure();
  }
  Result<AttentionPlan> plan = planAttention(ctx.target(), *a);
  if (!plan) {
    return op->emitOpError("cannot be lowered to the NPU: ") << plan.error();
  }
  return KernelCost{plan->sramBytesPerCore, plan->estimate};
}

/// emitNpuKernel of an attention kernel.
inline mlir::LogicalResult emitAttentionKernel(mlir::Operation *op,
                                               KernelContext &ctx,
                                               DescribeAttention describe) {
  KernelEmitter *emitter = ctx.emitter();
  assert(emitter && "emitNpuKernel outside the lowering");
  mlir::FailureOr<AttentionDesc> a =
      describe([&](mlir::Value v) { return ctx.addressOf(v); });
  if (mlir::failed(a)) {
    return mlir::failure();
  }
  std::string why = lowerAttention(ctx.target(), *emitter, *a);
  if (!why.empty()) {
    return op->emitOpError("cannot be lowered to the NPU: ") << why;
  }
  return mlir::success();
}

} // namespace nuri::npu

#endif // NURI_DIALECT_NPU_KERNELS_ATTENTIONKERNEL_H
