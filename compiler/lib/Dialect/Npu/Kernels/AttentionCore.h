//===- AttentionCore.h - The flash-attention kernel -------------*- C++ -*-===//
//
// The MLIR-free core of the attention kernel (Attention.cpp is its MLIR
// side): planAttention chooses the query and key blocks for the
// accumulator and the SRAM and estimates the cycles; emitAttention writes
// the streams.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NPU_KERNELS_ATTENTIONCORE_H
#define NURI_DIALECT_NPU_KERNELS_ATTENTIONCORE_H

#include "NpuKernels.h"

namespace nuri::npu {

/// Scaled dot-product attention on dense [B, H, S, D] tensors; a float
/// mask (any broadcast, given by its element strides over [B, H, Sq, Skv])
/// is added to the scores; causal hides j > i + Skv - Sq.
struct AttentionDesc {
  uint64_t B = 1, Hq = 1, Hkv = 1, Sq = 0, Skv = 0, D = 0, Dv = 0;
  uint64_t q = 0, k = 0, v = 0, o = 0;
  isa::Dtype dtype = isa::Dtype::BF16;
  float scale = 1.0f;
  bool causal = false;
  bool hasMask = false;
  uint64_t mask = 0;
  isa::Dtype maskType = isa::Dtype::BF16;
  uint64_t maskStride[4] = {0, 0, 0, 0}; ///< elements
  /// Byte strides of batch, head and sequence position (the head dim is
  /// contiguous): [B, H, S, D] dense by default, or the [B, S, H*D] layout
  /// of a projection when the head split is folded into the DMA.
  uint64_t qStride[3] = {0, 0, 0}, kStride[3] = {0, 0, 0},
           vStride[3] = {0, 0, 0}, oStride[3] = {0, 0, 0};
  /// Attention over a KV cache (CacheAttention.cpp): when slotBytes is
  /// nonzero, batch row b reads its keys and values at k + slot * kStride[0]
  /// (v alike) instead of b * kStride[0], `slot` being the little-endian
  /// i32 at DRAM address slots + b * slotBytes, which each K/V load reads
  /// as it issues (dma.idx): one program serves whatever slots the host
  /// gives a step.
  uint64_t slots = 0, slotBytes = 0;
};

/// The tiles of one attention: `queryBlock` query rows per unit (a unit
/// is one (batch, head, query block), dealt round-robin to the cores), key
/// blocks of `keyBlock` keys.
struct AttentionPlan {
  uint64_t queryBlock = 0, keyBlock = 0;
  /// Both products on the vector engine (row by row) instead of the array:
  /// chosen by the cost model when the tiles are so small that the array's
  /// fill and drain and the transposed K cost more than the rows
  /// (single-digit heads and sequences on a 128x128 array).
  bool vectorProducts = false;
  uint64_t sramBytesPerCore = 0;
  uint64_t estimate = 0;
};

/// The largest blocks that fit the accumulator and the SRAM, cut so the
/// units balance over the cores; fails when not even one row fits.
Result<AttentionPlan> planAttention(const target::Target &t,
                                    const AttentionDesc &a);

/// Emits the planned attention as one kernel.
Result<bool> emitAttention(KernelEmitter &emitter, const AttentionDesc &a,
                           const AttentionPlan &plan);

/// Plans and emits; the reason it cannot, or "" (what the attention kernels'
/// emitNpuKernel share).
std::string lowerAttention(const target::Target &t, KernelEmitter &emitter,
                           const AttentionDesc &a);

} // namespace nuri::npu

#endif // NURI_DIALECT_NPU_KERNELS_ATTENTIONCORE_H
