//===- NpuVerifySync.cpp - Semaphores and barriers balance ----------------===//

#include "nuri/Dialect/Npu/Transforms/Passes.h"

#include <map>

namespace nuri::npu {
#define GEN_PASS_DEF_NPUVERIFYSYNC
#include "nuri/Dialect/Npu/Transforms/Passes.h.inc"
} // namespace nuri::npu

using namespace mlir;

namespace nuri::npu {
namespace {

struct NpuVerifySyncPass : impl::NpuVerifySyncBase<NpuVerifySyncPass> {
  void runOnOperation() override {
    ProgramOp program = getOperation();
    // (core, sem) -> signaled, waited.
    std::map<std::pair<int64_t, int64_t>, std::pair<int64_t, int64_t>> sems;
    // bar -> arrivals, and the count every arrival names.
    std::map<int64_t, std::pair<int64_t, int64_t>> bars;
    bool ok = true;
    program.walk([&](Operation *op) {
      auto stream = op->getParentOfType<StreamOp>();
      if (auto s = dyn_cast<SemSignalOp>(op)) {
        sems[{s.getCore(), s.getSem()}].first += s.getCount();
      } else if (auto w = dyn_cast<SemWaitOp>(op)) {
        sems[{stream.getCore(), w.getSem()}].second += w.getCount();
      } else if (auto b = dyn_cast<BarrierOp>(op)) {
        // One arrival per op, whatever its queue: the count a program names
        // already includes e.g. the fetch queues that take part, and queues
        // that skip the barrier must not be assumed to arrive.
        auto &[arrivals, count] = bars[b.getBar()];
        if (arrivals && static_cast<uint64_t>(count) != b.getCount()) {
          b.emitOpError("names ")
              << b.getCount() << " participants at barrier " << b.getBar()
              << ", an earlier arrival named " << count;
          ok = false;
        }
        ++arrivals;
        count = b.getCount();
      }
    });
    for (const auto &[key, v] : sems) {
      if (v.first != v.second) {
        program.emitError("semaphore ")
            << key.second << " of core " << key.first << " is signaled "
            << v.first << " times but waited for " << v.second << " times";
        ok = false;
      }
    }
    for (const auto &[bar, v] : bars) {
      if (v.second > 0 && v.first % v.second != 0) {
        program.emitError("barrier ")
            << bar << " has " << v.first << " arrivals, not a multiple of its "
            << v.second << " participants";
        ok = false;
      }
    }
    if (!ok) {
      signalPassFailure();
    }
  }
};

} // namespace
} // namespace nuri::npu
