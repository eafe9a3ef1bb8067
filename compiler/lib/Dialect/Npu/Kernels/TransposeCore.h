//===- TransposeCore.h - The vector-engine transpose kernel -----*- C++ -*-===//
//
// The MLIR-free core of the transpose kernel (Transpose.cpp is its MLIR
// side): a batch of 2-D transposes tiled through SRAM, each tile
// transposed by the vector engine, loads, transposes and stores of
// neighbouring tiles overlapped through double buffers.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NPU_KERNELS_TRANSPOSECORE_H
#define NURI_DIALECT_NPU_KERNELS_TRANSPOSECORE_H

#include "NpuKernels.h"

namespace nuri::npu {

/// out[b] = in[b]^T for b < batch: dense row-major [rows x cols] matrices
/// in, [cols x rows] out (a transpose that moves the innermost dimension,
/// once its dims are grouped into batch, rows and cols). Addresses are
/// tagged (kSharedTag for the shared SRAM).
struct TransposeDesc {
  uint64_t batch = 1, rows = 0, cols = 0;
  uint64_t in = 0, out = 0;
  isa::Dtype dtype = isa::Dtype::BF16;
};

/// The tiles of one transpose: `tileRows` x `tileCols` input tiles dealt
/// round-robin to the cores, two input and two output tiles per core.
struct TransposePlan {
  uint64_t tileRows = 0, tileCols = 0;
  uint64_t sramBytesPerCore = 0;
  uint64_t estimate = 0;
};

/// Square-ish tiles up to 128 x 128 that fit four to a core's SRAM.
/// Fails when not even 1 x 1 tiles fit.
Result<TransposePlan> planTranspose(const target::Target &t,
                                    const TransposeDesc &d);

/// Emits the planned transpose as one kernel.
void emitTranspose(KernelEmitter &emitter, const TransposeDesc &d,
                   const TransposePlan &plan);

} // namespace nuri::npu

#endif // NURI_DIALECT_NPU_KERNELS_TRANSPOSECORE_H
