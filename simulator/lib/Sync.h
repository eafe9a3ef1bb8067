//===- Sync.h - Semaphores and barriers -------------------------*- C++ -*-===//
//
// The only ordering between queues (docs/simulator.md, "Queues and
// synchronization"): per-core counting semaphores and chip-wide barriers.
// The queues decide when they wait or arrive; this unit keeps the counts and
// the waiters and releases them.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_SIM_LIB_SYNC_H
#define NURI_SIM_LIB_SYNC_H

#include "nuri/isa/Isa.h"
#include "nuri/sim/Time.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace nuri::sim::detail {

class EngineQueue;
class TraceWriter;

struct Semaphore {
  int64_t value = 0;
  /// Who signalled last: a queue that blocks is charged to that engine
  /// until a signal tells otherwise.
  isa::Engine lastSignaller = isa::Engine::Dma;
  std::vector<EngineQueue *> waiters;
};

struct BarrierState {
  uint64_t expected = 0, arrived = 0;
  std::vector<EngineQueue *> waiting;
};

class SyncUnit {
public:
  explicit SyncUnit(TraceWriter &trace) : trace_(trace) {}
  void reset(unsigned cores, unsigned semaphoresPerCore, unsigned barriers);

  Semaphore &semaphore(unsigned core, unsigned s) { return sems_[core][s]; }
  const Semaphore &semaphore(unsigned core, unsigned s) const {
    return sems_[core][s];
  }
  BarrierState &barrier(unsigned b) { return barriers_[b]; }
  const BarrierState &barrier(unsigned b) const { return barriers_[b]; }

  /// Adds `count` to semaphore `s` of `core` at `now` and releases its
  /// waiters; `flow` (0 = none) draws the arrow to them in the trace.
  void signal(const EngineQueue &from, unsigned core, unsigned s,
              unsigned count, uint64_t flow, Cycles now);
  /// `q` arrives at barrier `b` at `now`. Returns true if it was the last
  /// participant (the others are released), false if `q` must wait.
  bool arrive(EngineQueue &q, unsigned b, Cycles now);

  /// The cycle of every barrier release, in order (Report::barrierReleases).
  const std::vector<uint64_t> &releases() const { return releases_; }

  /// Called after each release, once the waiters are unblocked (their
  /// barrier stall is counted by then); empty: nothing is called.
  std::function<void()> onRelease;

private:
  TraceWriter &trace_;
  std::vector<std::vector<Semaphore>> sems_;
  std::vector<BarrierState> barriers_;
  std::vector<uint64_t> releases_;
};

} // namespace nuri::sim::detail

#endif // NURI_SIM_LIB_SYNC_H
