//===- MatrixEngine.h - The systolic MAC array of one core ------*- C++ -*-===//
//
// `mat.mm`: checks, the accumulator hazard, timing from the cost model
// (docs/simulator.md, "Matrix engine"; target/CostModel.h), and the
// functional product through Kernels.h. Owns the array's pipeline state and
// the core's MAC statistics.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_SIM_LIB_MATRIXENGINE_H
#define NURI_SIM_LIB_MATRIXENGINE_H

#include "EngineQueue.h"

namespace nuri::sim::detail {

class MatrixEngine final : public EngineQueue {
public:
  MatrixEngine(SimContext &ctx, unsigned core)
      : EngineQueue(ctx, core, isa::Engine::Matrix) {}
  void gather(CoreStats &cs) const override;

private:
  bool issue(const isa::Instruction &in) override;
  void resetEngine() override;

  /// Accumulator entries [lo, hi) an issued tile writes until `done`.
  struct AccUse {
    uint64_t lo, hi;
    Cycles done;
  };
  std::deque<AccUse> accInFlight_;
  /// The previous tile (a chained accumulate into it never waits).
  uint64_t lastAcc_ = ~0ull, lastM_ = 0, lastN_ = 0;
  /// When the array finishes streaming the previous tile (0: never ran).
  Cycles streamEnd_;

  // ---- statistics
  // ------------------------------------------------------------
  uint64_t macs_ = 0;
  double macCycles_ = 0;
};

} // namespace nuri::sim::detail

#endif // NURI_SIM_LIB_MATRIXENGINE_H
