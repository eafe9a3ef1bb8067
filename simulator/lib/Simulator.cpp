//===- Simulator.cpp - Wiring the components of one chip ------------------===//
//
// The simulator is a set of components (docs/simulator.md, "Components"):
// per core, one queue per engine kind (DmaEngine for dma and fetch,
// MatrixEngine, VectorEngine); per chip, the memories, a DRAM and a NoC link
// built by name from the config (MemoryLink.h), the sync unit, the race
// detector and the trace writer, all sharing one event queue keyed on
// cycles. This file builds them, runs the event loop, reports deadlocks and
// gathers each component's statistics into the Report.
//
//===----------------------------------------------------------------------===//

#include "nuri/sim/Simulator.h"

#include "DmaEngine.h"
#include "MatrixEngine.h"
#include "Memory.h"
#include "MemoryLink.h"
#include "SimContext.h"
#include "VectorEngine.h"

#include <fmt/format.h>

#include <algorithm>
#include <memory>

namespace nuri::sim {

using namespace isa;
using namespace detail;

namespace {

std::unique_ptr<EngineQueue> makeEngine(SimContext &ctx, unsigned core,
                                        Engine kind) {
  switch (kind) {
  case Engine::Dma:
  case Engine::Fetch:
    return std::make_unique<DmaEngine>(ctx, core, kind);
  case Engine::Matrix:
    return std::make_unique<MatrixEngine>(ctx, core);
  case Engine::Vector:
    return std::make_unique<VectorEngine>(ctx, core);
  }
  throw Error(fmt::format("no engine model for engine {}", unsigned(kind)));
}

/// Routes each typed event to the component that handles it.
struct Dispatch {
  void operator()(const WakeEvent &e) const { e.queue->step(); }
  void operator()(const OpDoneEvent &e) const { e.queue->opDone(e.seq); }
  void operator()(const LinkEvent &e) const { e.link->handle(e); }
};

} // namespace

struct Simulator::Impl {
  target::Target tgt;
  SimOptions opts;
  ClockDomain clock;
  /// Persistent across runs.
  ChipMemory mem;
  SimContext ctx;
  /// Index core * kNumEngines + engine.
  std::vector<std::unique_ptr<EngineQueue>> queues;
  std::vector<DmaEngine *> dmaQueues;
  std::unique_ptr<MemoryLink> dramLink, nocLink;

  Impl(const target::Target &t, SimOptions o)
      : tgt(t), opts(o), clock(t.clockHz), mem(tgt, o.maxHostDramBytes),
        ctx(tgt, opts, mem) {
    queues.reserve(size_t(tgt.cores) * kNumEngines);
    for (unsigned c = 0; c < tgt.cores; ++c) {
      for (unsigned e = 0; e < kNumEngines; ++e) {
        queues.push_back(makeEngine(ctx, c, Engine(e)));
        if (auto *d = dynamic_cast<DmaEngine *>(queues.back().get())) {
          dmaQueues.push_back(d);
        }
      }
    }
  }

  /// The link `name` ("dram" or "noc") of the config's model.
  std::unique_ptr<MemoryLink> makeLink(const char *name,
                                       const std::string &model,
                                       double bytesPerCycle,
                                       uint64_t latencyCycles) {
    LinkParams p;
    p.name = name;
    p.model = model;
    p.bytesPerCycle = bytesPerCycle;
    p.transferBytesPerCycle = tgt.dma.bytesPerCycle;
    p.latency = Cycles(latencyCycles);
    p.target = &tgt;
    return LinkRegistry::instance().make(p, ctx.events);
  }

  Report run(const Program &program) {
    std::string err = verifyProgram(program);
    if (!err.empty()) {
      throw Error(err);
    }
    if (program.numCores() > tgt.cores) {
      throw Error(fmt::format("program uses {} cores but target {} has {}",
                              program.numCores(), tgt.name, tgt.cores));
    }
    // Reset per-run state; memory contents persist.
    ctx.events.reset();
    ctx.races.reset();
    ctx.trace.reset();
    ctx.sync.reset(tgt.cores, tgt.semaphoresPerCore, tgt.barriers);
    ctx.dynInstructions = 0;
    ctx.nextFlow = 1;
    ctx.nextTransfer = 0;
    mem.resetStats();
    dramLink = makeLink("dram", tgt.dram.model,
                        clock.bytesPerCycle(tgt.dram.bytesPerSecond),
                        tgt.dram.latencyCycles);
    nocLink = makeLink("noc", tgt.noc.model, tgt.noc.bytesPerCycle,
                       tgt.noc.latencyCycles);
    ctx.dram = dramLink.get();
    ctx.noc = nocLink.get();
    for (auto &q : queues) {
      q->reset();
    }
    kernelStats.clear();
    ctx.sync.onRelease = nullptr;
    if (opts.kernelStats) {
      ctx.sync.onRelease = [this] { kernelStats.push_back(snapshot()); };
    }
    for (const Stream &s : program.streams) {
      if (s.engine == Engine::Fetch) {
        ctx.trace.noteFetchQueue();
      }
      queues[s.core * kNumEngines + unsigned(s.engine)]->start(s);
    }

    while (!ctx.events.empty()) {
      Event ev = ctx.events.pop();
      std::visit(Dispatch{}, ev.what);
    }

    std::vector<std::string> stuck;
    for (const auto &q : queues) {
      if (q->stream() && q->state() != EngineQueue::State::Done) {
        stuck.push_back(q->describeBlocked());
      }
    }
    if (!stuck.empty()) {
      std::string msg = fmt::format("deadlock at cycle {}: {} queue(s) can "
                                    "never proceed:",
                                    ctx.now().count(), stuck.size());
      for (const std::string &s : stuck) {
        msg += "\n  " + s;
      }
      throw Error(msg);
    }
    return gather();
  }

  /// SimOptions::kernelStats: the chip's counters so far (read only; the
  /// run's timing does not change).
  std::vector<Report::KernelCounters> kernelStats;
  Report::KernelCounters snapshot() const {
    Report::KernelCounters k;
    k.cycle = ctx.now().count();
    for (const auto &q : queues) {
      CoreStats cs;
      q->gather(cs);
      const EngineStats &es = cs.engines[unsigned(q->kind())];
      k.busyCycles[unsigned(q->kind())] += es.busyCycles;
      for (auto &[r, c] : es.stalls) {
        k.stalls[r] += c;
      }
    }
    for (const DmaEngine *d : dmaQueues) {
      k.dramBytes += d->dramBytesRead() + d->dramBytesWritten();
      k.nocBytes += d->nocBytes();
    }
    return k;
  }

  /// Each component's statistics, gathered into one report.
  Report gather() const {
    Report report;
    report.target = tgt.name;
    report.clockHz = tgt.clockHz;
    report.cores.assign(tgt.cores, CoreStats());
    Cycles end(0);
    for (const auto &q : queues) {
      q->gather(report.cores[q->core()]);
      end = std::max(end, q->doneCycle());
    }
    for (const DmaEngine *d : dmaQueues) {
      report.dramBytesRead += d->dramBytesRead();
      report.dramBytesWritten += d->dramBytesWritten();
      report.nocBytes += d->nocBytes();
    }
    for (unsigned c = 0; c < tgt.cores; ++c) {
      report.cores[c].sramPeakBytes = mem.sramPeak[c];
    }
    report.sharedSramPeakBytes = mem.sharedPeak;
    report.barrierReleases = ctx.sync.releases();
    report.kernelStats = kernelStats;
    report.cycles = end;
    report.seconds = clock.toSeconds(report.cycles);
    report.instructions = ctx.dynInstructions;
    double macCycles = 0;
    for (const CoreStats &cs : report.cores) {
      report.macs += cs.macs;
      macCycles += cs.macCycles;
      for (const EngineStats &es : cs.engines) {
        for (auto &[r, c] : es.stalls) {
          report.stalls[r] += c;
        }
      }
    }
    report.macUtilization =
        end.count() ? macCycles / (double(end.count()) * double(tgt.cores))
                    : 0.0;
    report.dramBytesPerSecond =
        clock.bytesPerSecond(double(report.dramBytes()), report.cycles);
    report.dramUtilization =
        report.dramBytesPerSecond / tgt.dram.bytesPerSecond;
    report.dramBusyCycles = dramLink->stats().busyCycles.count();
    return report;
  }

  std::string traceJson() const { return ctx.trace.json(clock); }

  uint64_t accEntries() const { return mem.accEntries; }
};

// ---- Simulator
// ---------------------------------------------------------------

Simulator::Simulator(const target::Target &target, SimOptions options)
    : impl_(std::make_unique<Impl>(target, options)) {}
Simulator::~Simulator() = default;

Result<Report> Simulator::run(const Program &program) {
  return catchErrors([&] { return impl_->run(program); });
}

namespace {
void checkHost(uint64_t addr, size_t n, uint64_t size, const char *what) {
  if (addr > size || n > size - addr) {
    throw Error(fmt::format("{} access [0x{:x}, +{}) out of bounds (size "
                            "0x{:x})",
                            what, addr, n, size));
  }
}
} // namespace

void Simulator::writeDram(uint64_t addr, const void *src, size_t bytes) {
  checkHost(addr, bytes, impl_->mem.dram.size(), "DRAM");
  impl_->mem.dram.write(addr, src, bytes);
}
void Simulator::readDram(uint64_t addr, void *dst, size_t bytes) const {
  checkHost(addr, bytes, impl_->mem.dram.size(), "DRAM");
  impl_->mem.dram.read(addr, dst, bytes);
}
void Simulator::writeSram(unsigned core, uint64_t addr, const void *src,
                          size_t bytes) {
  if (core >= impl_->mem.sram.size()) {
    throw Error(fmt::format("core {} does not exist", core));
  }
  checkHost(addr, bytes, impl_->mem.sram[core].size(), "SRAM");
  impl_->mem.sram[core].write(addr, src, bytes);
}
void Simulator::readSram(unsigned core, uint64_t addr, void *dst,
                         size_t bytes) const {
  if (core >= impl_->mem.sram.size()) {
    throw Error(fmt::format("core {} does not exist", core));
  }
  checkHost(addr, bytes, impl_->mem.sram[core].size(), "SRAM");
  impl_->mem.sram[core].read(addr, dst, bytes);
}
void Simulator::writeShared(uint64_t addr, const void *src, size_t bytes) {
  checkHost(addr, bytes, impl_->mem.shared.size(), "shared SRAM");
  impl_->mem.shared.write(addr, src, bytes);
}
void Simulator::readShared(uint64_t addr, void *dst, size_t bytes) const {
  checkHost(addr, bytes, impl_->mem.shared.size(), "shared SRAM");
  impl_->mem.shared.read(addr, dst, bytes);
}
void Simulator::readAcc(unsigned core, uint64_t entry, uint32_t *dst,
                        size_t count) const {
  if (core >= impl_->mem.acc.size()) {
    throw Error(fmt::format("core {} does not exist", core));
  }
  checkHost(entry, count, impl_->accEntries(), "accumulator");
  const auto &a = impl_->mem.acc[core];
  for (size_t i = 0; i < count; ++i) {
    dst[i] = a.empty() ? 0 : a[entry + i];
  }
}
std::string Simulator::traceJson() const { return impl_->traceJson(); }
const target::Target &Simulator::target() const { return impl_->tgt; }

} // namespace nuri::sim
