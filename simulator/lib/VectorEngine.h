//===- VectorEngine.h - The SIMD lanes of one core --------------*- C++ -*-===//
//
// Elementwise ops, reductions, broadcasts, transposes, fills and the
// accumulator read-out (docs/simulator.md, "Vector engine"): operand checks,
// the read-after-write interlock on the previous op, timing from the cost
// model, and the functional effect through Kernels.h.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_SIM_LIB_VECTORENGINE_H
#define NURI_SIM_LIB_VECTORENGINE_H

#include "EngineQueue.h"

namespace nuri::sim::detail {

class VectorEngine final : public EngineQueue {
public:
  VectorEngine(SimContext &ctx, unsigned core)
      : EngineQueue(ctx, core, isa::Engine::Vector) {}

private:
  bool issue(const isa::Instruction &in) override;
  void resetEngine() override;

  /// checkTile, also noting the tile for the race detector.
  void tile(const char *what, uint64_t addr, uint64_t ld, uint64_t rows,
            uint64_t cols, isa::Dtype d, bool write);
  /// True (and a retry is scheduled) if a source overlaps the previous
  /// op's destination while that op is still writing it.
  bool readAfterWrite(std::pair<uint64_t, uint64_t> s0,
                      std::pair<uint64_t, uint64_t> s1);

  /// SRAM tiles of the current instruction (box, written).
  std::vector<std::pair<Box, bool>> tiles_;
  /// The previous op's destination byte range and completion.
  uint64_t lastDstLo_ = 0, lastDstHi_ = 0;
  Cycles lastDone_;
};

} // namespace nuri::sim::detail

#endif // NURI_SIM_LIB_VECTORENGINE_H
