//===- Sync.cpp - Semaphores and barriers ---------------------------------===//

#include "Sync.h"

#include "EngineQueue.h"
#include "TraceWriter.h"

#include <fmt/format.h>

namespace nuri::sim::detail {

void SyncUnit::reset(unsigned cores, unsigned semaphoresPerCore,
                     unsigned barriers) {
  sems_.assign(cores, std::vector<Semaphore>(semaphoresPerCore));
  barriers_.assign(barriers, BarrierState());
  releases_.clear();
}

void SyncUnit::signal(const EngineQueue &from, unsigned core, unsigned s,
                      unsigned count, uint64_t flow, Cycles now) {
  Semaphore &sem = sems_[core][s];
  sem.value += count;
  sem.lastSignaller = from.kind();
  if (flow) {
    trace_.slice(
        from.core(), TraceWriter::kSyncTrack,
        [&] { return fmt::format("signal c{}.s{}", core, s); }, now, 1, flow);
  }
  std::vector<EngineQueue *> waiters;
  waiters.swap(sem.waiters);
  for (EngineQueue *w : waiters) {
    w->unblock(waitReason(from.kind()), flow);
  }
}

bool SyncUnit::arrive(EngineQueue &q, unsigned b, Cycles now) {
  BarrierState &bs = barriers_[b];
  if (++bs.arrived == bs.expected) {
    releases_.push_back(now.count());
    std::vector<EngineQueue *> waiting;
    waiting.swap(bs.waiting);
    bs.arrived = 0;
    for (EngineQueue *w : waiting) {
      w->unblock(Reason::Barrier);
    }
    if (onRelease) {
      onRelease();
    }
    return true;
  }
  bs.waiting.push_back(&q);
  return false;
}

} // namespace nuri::sim::detail
