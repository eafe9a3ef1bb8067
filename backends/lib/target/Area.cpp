//===- Area.cpp - Die area of a chip config -------------------------------===//
//
// Adds up the `area:` figures of a config (docs/dse.md, "Area model"): the
// MAC array, every byte of SRAM, the vector lanes, a fixed block per core,
// the DRAM PHYs the bandwidth needs and the rest of the die, divided by the
// placement utilization.
//
//===----------------------------------------------------------------------===//

#include "nuri/target/Target.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace nuri::target {

AreaBreakdown areaOf(const Target &t) {
  AreaBreakdown a;
  const AreaConfig &c = t.area;
  if (!c.present) {
    return a;
  }
  // A multi-precision PE is as large as its most expensive dtype's MACs;
  // narrower dtypes pack into the same multipliers.
  for (auto &[d, macs] : t.matrix.macsPerCycle) {
    auto it = c.macMm2.find(d);
    if (it != c.macMm2.end()) {
      a.matrix = std::max(a.matrix, double(macs) * it->second * t.cores);
    }
  }
  const double mib = 1048576.0;
  double sramBytes =
      double(t.sramBytesTotal()) + double(t.matrix.accBytes) * t.cores;
  a.sram = sramBytes / mib * c.sramMm2PerMiB;
  a.vector = double(t.vector.lanes) * t.cores * c.vectorMm2PerLane;
  a.cores = c.coreMm2 * t.cores;
  // Whole channels: a PHY cannot be bought by the fraction.
  double channels =
      std::ceil(t.dram.bytesPerSecond / c.dramChannelBytesPerS - 1e-9);
  a.dramPhy = channels * c.dramPhyMm2PerChannel;
  a.fixed = c.fixedMm2;
  a.total = (a.matrix + a.sram + a.vector + a.cores + a.dramPhy + a.fixed) /
            c.utilization;
  return a;
}

std::string AreaBreakdown::toJson() const {
  return fmt::format("{{\"total\": {:.6g}, \"matrix\": {:.6g}, \"sram\": "
                     "{:.6g}, \"vector\": {:.6g}, \"cores\": {:.6g}, "
                     "\"dram_phy\": {:.6g}, \"fixed\": {:.6g}}}",
                     total, matrix, sram, vector, cores, dramPhy, fixed);
}

} // namespace nuri::target
