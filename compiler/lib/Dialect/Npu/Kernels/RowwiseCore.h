//===- RowwiseCore.h - The row-wise vector kernel ---------------*- C++ -*-===//
//
// The MLIR-free core of the row-wise kernels (elementwise, normalizations,
// softmax, rope; Rowwise.cpp is their MLIR side): the op's vector body,
// run on chunks of rows every core loads, computes and stores through
// double buffers.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NPU_KERNELS_ROWWISECORE_H
#define NURI_DIALECT_NPU_KERNELS_ROWWISECORE_H

#include "NpuKernels.h"

namespace nuri::npu {

/// An operand of a row-wise kernel over a [rows x cols] view.
struct RowOperand {
  /// Periodic: a [rows x cols] operand whose row for output row r is
  /// (r / groupRows) * groupStride + r % period (cos/sin tables of rope
  /// shared by the heads).
  enum Kind { Full, Row, Scalar, Column, Periodic };
  Kind kind = Full;
  uint64_t addr = 0;
  isa::Dtype dtype = isa::Dtype::BF16;
  uint64_t period = 1, groupRows = 1, groupStride = 0;
};

/// SRAM addresses of one chunk of `rows` rows handed to a row-wise body.
/// `in[i]` is the chunk of Full/Column inputs in their own dtype (row stride
/// cols x size, 1 element for Column); Row operands are converted to f32
/// once (`in[i]` then points at one row of f32), Scalar operands too.
struct RowChunk {
  uint64_t rows = 0;
  std::vector<uint64_t> in;
  uint64_t out = 0;
  std::vector<uint64_t> f32;  ///< scratch: rows x cols f32 each
  std::vector<uint64_t> vecs; ///< scratch: rows f32 each
};

struct RowwiseDesc {
  uint64_t rows = 0, cols = 0;
  std::vector<RowOperand> ins;
  uint64_t out = 0;
  isa::Dtype outType = isa::Dtype::BF16;
  unsigned f32Scratch = 0; ///< rows x cols f32 buffers the body needs
  unsigned vecScratch = 0; ///< rows-long f32 vectors the body needs
  /// Row operands reach the body as f32 rows (converted once per core), so
  /// it can combine them with f32 tiles in one vector op.
  bool rowsAsF32 = false;
  std::function<void(isa::StreamBuilder &vec, const RowChunk &)> body;
};

/// Where the row-wise kernel puts its buffers on every core: the row and
/// scalar operands once (beside the previous kernel when `early`), then two
/// slots of `rowsPerChunk` rows each.
struct RowwiseLayout {
  std::vector<uint64_t> fixedAddr, rowF32;
  uint64_t fixedTotal = 0, earlyLo = 0;
  bool early = false;
  /// The fixed operands ride the weight stream (placed per core in its
  /// ring by emitRowwise); fixedAddr is then not in this layout's SRAM.
  bool streamed = false;
  uint64_t rowsPerChunk = 0;
  struct Slot {
    std::vector<uint64_t> in;
    uint64_t out = 0;
    std::vector<uint64_t> f32, vecs;
  } slots[2];
  uint64_t sramBytesPerCore = 0;
};

/// The tagged ranges of the operands loaded once per core.
std::vector<std::pair<uint64_t, uint64_t>>
rowwiseFixedReads(const RowwiseDesc &r);

/// The buffers for `r`, with `beside` the room the previous kernel leaves
/// (KernelEmitter::placeBesidePrevious; {0, 0}: none), or why one row does
/// not fit.
/// `streamed`: the fixed operands go in the weight stream's ring instead.
Result<RowwiseLayout> placeRowwise(const target::Target &t,
                                   const RowwiseDesc &r,
                                   std::pair<uint64_t, uint64_t> beside,
                                   bool streamed = false);

/// The cycles the cost model predicts for `r`.
uint64_t estimateRowwise(const target::Target &t, const RowwiseDesc &r);

/// Emits `r` as one kernel.
Result<bool> emitRowwise(KernelEmitter &emitter, const RowwiseDesc &r);

} // namespace nuri::npu

#endif // NURI_DIALECT_NPU_KERNELS_ROWWISECORE_H
