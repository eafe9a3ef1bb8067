//===- SimContext.h - What the components of one chip share -----*- C++ -*-===//
//
// The chip's shared services, handed to every engine: the config and
// options, the memories, the event queue (the clock), the memory links, the
// sync unit, the race detector and the trace. The Simulator owns it and
// wires the engines to it.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_SIM_LIB_SIMCONTEXT_H
#define NURI_SIM_LIB_SIMCONTEXT_H

#include "EventQueue.h"
#include "Memory.h"
#include "MemoryLink.h"
#include "RaceDetector.h"
#include "Sync.h"
#include "TraceWriter.h"

#include "nuri/sim/Simulator.h"

namespace nuri::sim::detail {

struct SimContext {
  SimContext(const target::Target &t, const SimOptions &o, ChipMemory &m)
      : tgt(t), opts(o), mem(m), races(o.detectRaces),
        trace(o.trace, t.cores, t.dma.outstanding), sync(trace) {}

  const target::Target &tgt;
  const SimOptions &opts;
  ChipMemory &mem;
  EventQueue events;
  RaceDetector races;
  TraceWriter trace;
  SyncUnit sync;
  /// The links of this run (built from the config's model names).
  MemoryLink *dram = nullptr;
  MemoryLink *noc = nullptr;

  /// Dynamic instructions of all queues (bounded by opts.maxInstructions).
  uint64_t dynInstructions = 0;
  /// Trace flow ids (signal -> released waiter), 0 meaning none.
  uint64_t nextFlow = 1;
  /// Ids of DMA transfers, unique within a run (the race detector's key).
  int64_t nextTransfer = 0;

  Cycles now() const { return events.now(); }
};

} // namespace nuri::sim::detail

#endif // NURI_SIM_LIB_SIMCONTEXT_H
