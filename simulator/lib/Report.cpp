//===- Report.cpp - The statistics of one run, as text and JSON -----------===//

#include "nuri/sim/Simulator.h"

#include <fmt/format.h>

#include <algorithm>

namespace nuri::sim {

using isa::Engine;
using isa::engineName;
using isa::kNumEngines;

double Report::busyFraction(unsigned core, Engine e) const {
  if (core >= cores.size() || cycles.count() == 0) {
    return 0;
  }
  return double(cores[core].engines[unsigned(e)].busyCycles) /
         double(cycles.count());
}

std::string Report::toText() const {
  std::string s;
  s += fmt::format("target            {}\n", target);
  s += fmt::format("cycles            {}\n", cycles.count());
  s += fmt::format("time              {:.3f} us at {:.3f} GHz\n",
                   seconds.value() * 1e6, clockHz / 1e9);
  s += fmt::format("instructions      {}\n", instructions);
  s += fmt::format("MACs              {} ({:.1f}% MAC utilization)\n", macs,
                   100 * macUtilization);
  s += fmt::format("DRAM              {} B read, {} B written, {:.2f} GB/s "
                   "achieved ({:.1f}% of peak, busy {} cycles)\n",
                   dramBytesRead, dramBytesWritten, dramBytesPerSecond / 1e9,
                   100 * dramUtilization, dramBusyCycles);
  if (nocBytes) {
    s += fmt::format("on-chip DMA       {} B\n", nocBytes);
  }
  s += "core  engine  busy%    instr  stalls (cycles)\n";
  for (size_t c = 0; c < cores.size(); ++c) {
    const CoreStats &cs = cores[c];
    bool any = false;
    for (const EngineStats &es : cs.engines) {
      any |= es.instructions > 0;
    }
    if (!any) {
      continue;
    }
    for (unsigned e = 0; e < kNumEngines; ++e) {
      const EngineStats &es = cs.engines[e];
      // The fetch queue is optional: an idle one would only add a row of
      // zeros to every core (and change the report of every program that
      // predates it).
      if (Engine(e) == Engine::Fetch && es.instructions == 0) {
        continue;
      }
      std::string st;
      for (auto &[r, v] : es.stalls) {
        st += fmt::format("{}={} ", r, v);
      }
      s += fmt::format(
          "{:>4}  {:<6} {:>5.1f}  {:>7}  {}\n", c, engineName(Engine(e)),
          100 * busyFraction(unsigned(c), Engine(e)), es.instructions, st);
    }
    s +=
        fmt::format("{:>4}  sram peak {} B, {} MACs ({:.1f}% of this core's "
                    "peak)\n",
                    c, cs.sramPeakBytes, cs.macs,
                    100 * (cycles.count() ? cs.macCycles / cycles.count() : 0));
  }
  if (sharedSramPeakBytes) {
    s += fmt::format("shared SRAM peak  {} B\n", sharedSramPeakBytes);
  }
  s += "stalls total     ";
  for (auto &[r, v] : stalls) {
    s += fmt::format(" {}={}", r, v);
  }
  s += "\n";
  return s;
}

std::string Report::toJson() const {
  std::string st;
  for (auto &[r, v] : stalls) {
    st += fmt::format("{}\"{}\": {}", st.empty() ? "" : ", ", r, v);
  }
  std::string cs;
  uint64_t sramPeak = 0;
  for (size_t c = 0; c < cores.size(); ++c) {
    sramPeak = std::max(sramPeak, cores[c].sramPeakBytes);
    std::string engines;
    for (unsigned e = 0; e < kNumEngines; ++e) {
      const EngineStats &es = cores[c].engines[e];
      std::string stalls;
      for (auto &[r, v] : es.stalls) {
        stalls += fmt::format("{}\"{}\": {}", stalls.empty() ? "" : ", ", r, v);
      }
      engines += fmt::format(
          "{}\"{}\": {{\"busy_cycles\": {}, \"busy\": {:.6f}, "
          "\"instructions\": {}, \"stalls\": {{{}}}}}",
          e ? ", " : "", engineName(Engine(e)), es.busyCycles,
          busyFraction(unsigned(c), Engine(e)), es.instructions, stalls);
    }
    cs += fmt::format(
        "{}{{\"core\": {}, \"macs\": {}, \"mac_utilization\": {:.6f}, "
        "\"sram_peak_bytes\": {}, \"dma_bytes\": {}, \"engines\": {{{}}}}}",
        c ? ", " : "", c, cores[c].macs,
        cycles.count() ? cores[c].macCycles / cycles.count() : 0.0,
        cores[c].sramPeakBytes, cores[c].dmaBytes, engines);
  }
  std::string releases;
  for (uint64_t c : barrierReleases) {
    releases += fmt::format("{}{}", releases.empty() ? "" : ", ", c);
  }
  return fmt::format(
      "{{\"target\": \"{}\", \"cycles\": {}, \"seconds\": {:.9g}, "
      "\"clock_hz\": {:.6g}, \"instructions\": {}, \"macs\": {}, "
      "\"mac_utilization\": {:.6f}, \"dram_bytes\": {}, "
      "\"dram_bytes_read\": {}, \"dram_bytes_written\": {}, "
      "\"dram_bytes_per_s\": {:.6g}, \"dram_utilization\": {:.6f}, "
      "\"dram_busy_cycles\": {}, \"noc_bytes\": {}, \"sram_peak_bytes\": {}, "
      "\"shared_sram_peak_bytes\": {}, \"barrier_releases\": [{}], "
      "\"stalls\": {{{}}}, \"cores\": [{}]}}",
      target, cycles.count(), seconds.value(), clockHz, instructions, macs,
      macUtilization, dramBytes(), dramBytesRead, dramBytesWritten,
      dramBytesPerSecond, dramUtilization, dramBusyCycles, nocBytes, sramPeak,
      sharedSramPeakBytes, releases, st, cs);
}

} // namespace nuri::sim
