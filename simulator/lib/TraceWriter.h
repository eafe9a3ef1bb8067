//===- TraceWriter.h - Chrome/Perfetto trace of a run -----------*- C++ -*-===//
//
// Components record slices on their tracks while they simulate (only when
// SimOptions::trace asks for it); the writer turns them into the Chrome
// trace-event JSON that ui.perfetto.dev opens (docs/simulator.md, "The
// trace"). Names are built lazily: an untraced run formats no strings.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_SIM_LIB_TRACEWRITER_H
#define NURI_SIM_LIB_TRACEWRITER_H

#include "nuri/isa/Isa.h"
#include "nuri/sim/Time.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nuri::sim::detail {

class TraceWriter {
public:
  TraceWriter(bool enabled, unsigned cores, unsigned dmaOutstanding)
      : enabled_(enabled), cores_(cores), dmaOutstanding_(dmaOutstanding) {}
  bool enabled() const { return enabled_; }

  /// Forgets the previous run.
  void reset();

  /// Track ids per core: sync 0, mat 1, vec 2, then an issue track per DMA
  /// queue (dma 3, fetch 4) and one track per transfer slot of each DMA
  /// queue, dma's slots first. A queue never holds more than
  /// dma.outstanding slots, so the fetch slots start right after dma's.
  static constexpr unsigned kSyncTrack = 0;
  static unsigned queueTrack(isa::Engine e);
  unsigned slotTrack(isa::Engine e, unsigned slot) const;

  /// A slice; `name` is a callable returning the name, called only when
  /// tracing. `flowOut`/`flowIn` start or end a flow arrow (0 = none).
  template <typename NameFn>
  void slice(unsigned core, unsigned track, NameFn &&name, Cycles start,
             uint64_t dur, uint64_t flowOut = 0, uint64_t flowIn = 0) {
    if (enabled_) {
      slices_.push_back(Slice{core, track, std::string(name()), start.count(),
                              dur, flowOut, flowIn});
    }
  }
  /// DMA queue `e` of `core` uses transfer slot `slot` (so the slot's track
  /// is named even if it never completes a transfer).
  void noteSlot(unsigned core, isa::Engine e, unsigned slot);
  /// The program has a fetch stream: its tracks are named on every core.
  void noteFetchQueue() { fetchUsed_ = true; }

  /// The trace as Chrome/Perfetto JSON, timestamps in microseconds of the
  /// chip clock.
  std::string json(const ClockDomain &clock) const;

private:
  struct Slice {
    unsigned core;
    unsigned track;
    std::string name;
    uint64_t start, dur;
    uint64_t flowOut; ///< flow id starting here (0 = none)
    uint64_t flowIn;  ///< flow id ending here
  };
  static constexpr unsigned kDmaSlotBase = 10;

  bool enabled_;
  unsigned cores_;
  unsigned dmaOutstanding_;
  bool fetchUsed_ = false;
  /// Slots used per core and DMA queue: [core][0 dma, 1 fetch].
  std::vector<std::pair<unsigned, unsigned>> slots_;
  std::vector<Slice> slices_;
};

} // namespace nuri::sim::detail

#endif // NURI_SIM_LIB_TRACEWRITER_H
