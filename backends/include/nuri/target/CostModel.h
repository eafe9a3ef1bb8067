//===- CostModel.h - Cycle formulas shared by compiler and simulator -*- C++
//-*-===//
//
// The timing formulas of docs/simulator.md as plain functions of a Target,
// so the compiler's tiling and scheduling decisions (issue 5) and the
// simulator's timing come from one place and can never disagree. The
// simulator adds what only a run knows: contention, stalls, hazards.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_TARGET_COSTMODEL_H
#define NURI_TARGET_COSTMODEL_H

#include "nuri/isa/Isa.h"
#include "nuri/target/Target.h"

#include <array>
#include <optional>
#include <utility>

namespace nuri::target {

/// Slowdown (>= 1) of a stream that reads `stridedRows` rows in parallel,
/// `stride` bytes apart, `rowBytesPerCycle` bytes from each, plus
/// `otherBytesPerCycle` of unit-stride traffic, from the banked SRAM.
double sramBankFactor(const Target &t, uint64_t stride, uint64_t stridedRows,
                      double rowBytesPerCycle, double otherBytesPerCycle);

struct MatmulCost {
  uint64_t idealCycles = 0; ///< streaming without bank conflicts
  uint64_t occupancy = 0;   ///< cycles the array is busy (issue interval)
  uint64_t fillDrain = 0;   ///< added to occupancy for the completion time
  uint64_t latency() const { return occupancy + fillDrain; }
};

/// One `mat.mm` of m x n x k. `lda`/`ldb` are the operand row strides in
/// bytes (for the bank model); `coldPipeline`: nothing streamed right before
/// (weight stationary exposes its first weight load then).
MatmulCost matmulCost(const Target &t, uint64_t m, uint64_t n, uint64_t k,
                      isa::Dtype a, isa::Dtype b, uint64_t lda, uint64_t ldb,
                      bool coldPipeline = true);

enum class VectorKind { Elementwise, Reduce, Transpose };

struct VectorCost {
  uint64_t idealCycles = 0;
  uint64_t occupancy = 0;
  uint64_t depth = 0; ///< pipeline depth, added for the completion time
  uint64_t latency() const { return occupancy + depth; }
};

/// A vector op over rows x cols elements; `passes` per element (1, or
/// vector.transcendental_passes); `bytesPerElement` summed over all
/// operands (for the bank model).
VectorCost vectorCost(const Target &t, VectorKind kind, uint64_t rows,
                      uint64_t cols, unsigned passes, unsigned bytesPerElement);

/// One vector instruction as the vector engine's timing sees it, shared by
/// the simulator (which times it) and the compiler's estimates (which
/// predict it): its kind and extent, fp32 passes per element, bytes per
/// element moved, the SRAM byte ranges [lo, hi) it reads (an op waits for
/// the op before it when one overlaps that op's write) and the one it
/// writes.
struct VectorOp {
  VectorKind kind = VectorKind::Elementwise;
  uint64_t rows = 0, cols = 0;
  unsigned passes = 1, bytesPerElement = 0;
  std::array<std::pair<uint64_t, uint64_t>, 3> reads{};
  std::pair<uint64_t, uint64_t> write{0, 0};
  VectorCost cost(const Target &t) const {
    return vectorCost(t, kind, rows, cols, passes, bytesPerElement);
  }
};

/// `in` as a VectorOp; nullopt when it is not a vector instruction. No
/// checks: the simulator validates the operands itself.
std::optional<VectorOp> describeVectorOp(const Target &t,
                                         const isa::Instruction &in);

/// Cycles of one uncontended transfer of `bytes` (DRAM or on-chip), from
/// issue to completion.
uint64_t dmaCycles(const Target &t, uint64_t bytes, bool viaDram);

} // namespace nuri::target

#endif // NURI_TARGET_COSTMODEL_H
