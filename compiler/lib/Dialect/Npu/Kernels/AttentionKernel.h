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
#include "NpuPlan.h"

namespace nuri::npu {

/// What every attention op describes alike: the shapes of the query, key
/// and value tensors (the key tensor's heads; `keys` positions attended
/// over), the element type, the scale and causality.
inline AttentionDesc describeShape(mlir::RankedTensorType q,
                                   mlir::RankedTensorType k,
                                   mlir::RankedTensorType v, uint64_t keys,
                                   float scale, bool causal) {
  AttentionDesc a;
  a.B = q.getDimSize(0);
  a.Hq = q.getDimSize(1);
  a.Sq = q.getDimSize(2);
  a.D = q.getDimSize(3);
  a.Hkv = k.getDimSize(1);
  a.Skv = keys;
  a.Dv = v.getDimSize(3);
  a.dtype = *isaType(q.getElementType());
  a.scale = scale;
  a.causal = causal;
  return a;
}

/// Sets `a`'s mask from the attention's optional mask operand: its address,
/// element type and strides of a right-aligned broadcast to
/// [B, Hq, Sq, keys] (size-1 dims stride 0).
inline mlir::LogicalResult describeMask(
    mlir::Value mask, AttentionDesc &a,
    llvm::function_ref<mlir::FailureOr<uint64_t>(mlir::Value)> addressOf) {
  if (!mask) {
    return mlir::success();
  }
  auto mt = llvm::cast<mlir::RankedTensorType>(mask.getType());
  mlir::FailureOr<uint64_t> address = addressOf(mask);
  if (mlir::failed(address)) {
    return mlir::failure();
  }
  a.hasMask = true;
  a.mask = *address;
  a.maskType = *isaType(mt.getElementType());
  int64_t lead = 4 - mt.getRank(), stride = 1;
  for (int64_t i = 3; i >= 0; --i) {
    int64_t mi = i - lead;
    a.maskStride[i] = (mi < 0 || mt.getDimSize(mi) == 1) ? 0 : stride;
    if (mi >= 0) {
      stride *= mt.getDimSize(mi);
    }
  }
  return mlir::success();
}

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
