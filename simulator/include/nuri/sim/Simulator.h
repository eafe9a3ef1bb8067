//===- Simulator.h - The Nuri NPU simulator ---------------------*- C++ -*-===//
//
// Runs a Program (per-core, per-engine instruction streams) on a chip
// described by a target::Target: functionally (bit-exact to DESIGN.md's
// numerics) and in time (event-driven, cycle-approximate; the model is
// written down in docs/simulator.md).
//
//   Simulator sim(target, {});
//   sim.writeDram(0, bytes.data(), bytes.size());   // inputs
//   Result<Report> r = sim.run(program);            // errors name
//   core/engine/pc sim.readDram(out, result.data(), result.size());
//
// A package (.nuri) feeds the same entry point: its per-core streams form the
// Program, its weights are written with writeDram before run().
//
//===----------------------------------------------------------------------===//

#ifndef NURI_SIM_SIMULATOR_H
#define NURI_SIM_SIMULATOR_H

#include "nuri/isa/Program.h"
#include "nuri/sim/Time.h"
#include "nuri/target/Target.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace nuri::sim {

struct SimOptions {
  /// false: timing only; memory contents are not modeled (bounds, alignment
  /// and dtype rules are still checked).
  bool functional = true;
  /// Stop with an error when two queues (or two DMA transfers) touch the
  /// same bytes while both are in flight and one writes: the program lacks
  /// a semaphore, and its results would depend on timing.
  bool detectRaces = true;
  /// Record a Chrome/Perfetto trace (see Simulator::traceJson).
  bool trace = false;
  /// Record the run's cumulative counters at every barrier release
  /// (Report::kernelStats), so each kernel's share can be told apart.
  bool kernelStats = false;
  /// Dynamic instruction budget; `repeat` loops can not run forever.
  uint64_t maxInstructions = 2'000'000'000ull;
  /// Host memory the functional DRAM image may take (it is allocated in
  /// 64 KiB pages on first write); a program writing more stops with an
  /// error instead of exhausting the host.
  uint64_t maxHostDramBytes = 8ull << 30;
};

/// What one engine queue of one core did.
struct EngineStats {
  uint64_t instructions = 0;
  uint64_t busyCycles = 0; ///< cycles occupied (DMA: >= 1 transfer in flight)
  std::map<std::string, uint64_t> stalls; ///< reason -> cycles
  uint64_t doneCycle = 0;
};

struct CoreStats {
  EngineStats engines[isa::kNumEngines];
  uint64_t macs = 0;          ///< useful multiply-accumulates
  double macCycles = 0;       ///< macs / peak MACs per cycle, summed per dtype
  uint64_t sramPeakBytes = 0; ///< highest SRAM byte written + 1
  uint64_t dmaBytes = 0;
};

struct Report {
  std::string target;
  Cycles cycles;
  Seconds seconds;
  double clockHz = 0;
  uint64_t instructions = 0; ///< dynamic, all queues
  uint64_t macs = 0;
  double macUtilization = 0; ///< useful MAC-cycles / (cycles x cores)
  uint64_t dramBytesRead = 0;
  uint64_t dramBytesWritten = 0;
  double dramBytesPerSecond = 0; ///< achieved, over the whole run
  double dramUtilization = 0;    ///< achieved / configured
  uint64_t dramBusyCycles = 0;   ///< cycles with >= 1 DRAM transfer active
  uint64_t nocBytes = 0;
  uint64_t sharedSramPeakBytes = 0;
  std::vector<CoreStats> cores;
  std::map<std::string, uint64_t> stalls; ///< summed over queues
  /// Cycle at which each chip-wide barrier episode released (its last
  /// participant arrived), in release order, one entry per episode of any
  /// barrier index. A compiler that ends every kernel with a barrier reads
  /// kernel i's span as barrierReleases[i] - barrierReleases[i - 1].
  std::vector<uint64_t> barrierReleases;
  /// With SimOptions::kernelStats, one per barrier release: the counters
  /// of the whole chip from the start of the run to that release. Kernel
  /// i's own are entry i minus entry i - 1. Work is counted where each
  /// component counts it (a stall when it ends, DMA busy time as transfers
  /// start and finish), so work in flight across a release lands on the
  /// kernel where it is counted.
  struct KernelCounters {
    uint64_t cycle = 0;
    uint64_t busyCycles[isa::kNumEngines] = {}; ///< summed over cores
    std::map<std::string, uint64_t> stalls;     ///< summed over queues
    uint64_t dramBytes = 0, nocBytes = 0;
  };
  std::vector<KernelCounters> kernelStats;

  uint64_t dramBytes() const { return dramBytesRead + dramBytesWritten; }
  /// busy cycles / total cycles of one queue.
  double busyFraction(unsigned core, isa::Engine e) const;
  std::string toText() const;
  std::string toJson() const;
};

class Simulator {
public:
  Simulator(const target::Target &target, SimOptions options = {});
  ~Simulator();
  Simulator(const Simulator &) = delete;
  Simulator &operator=(const Simulator &) = delete;

  /// Executes `program` to completion. Fails (never crashes or hangs) on an
  /// invalid program; the message names core, engine, pc, instruction and
  /// reason. Memory keeps its contents across runs.
  Result<Report> run(const isa::Program &program);

  // Host access to simulated memory (functional mode). Out-of-range
  // accesses throw nuri::Error.
  void writeDram(uint64_t addr, const void *src, size_t bytes);
  void readDram(uint64_t addr, void *dst, size_t bytes) const;
  void writeSram(unsigned core, uint64_t addr, const void *src, size_t bytes);
  void readSram(unsigned core, uint64_t addr, void *dst, size_t bytes) const;
  void writeShared(uint64_t addr, const void *src, size_t bytes);
  void readShared(uint64_t addr, void *dst, size_t bytes) const;
  /// Raw 32-bit accumulator entries (i32 or f32 bits).
  void readAcc(unsigned core, uint64_t entry, uint32_t *dst,
               size_t count) const;

  /// The trace of the last run as Chrome/Perfetto JSON (empty unless
  /// options.trace).
  std::string traceJson() const;

  const target::Target &target() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace nuri::sim

#endif // NURI_SIM_SIMULATOR_H
