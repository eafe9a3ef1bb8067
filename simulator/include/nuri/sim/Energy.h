//===- Energy.h - Energy of a simulated run ---------------------*- C++ -*-===//
//
// Charges the `energy:` figures of a chip config to what a timing run did
// (a Report): MACs, scratchpad and accumulator traffic, vector lane-cycles,
// DRAM and NoC bytes, and leakage over the run's time. The model and its
// sources are in docs/dse.md.
//
// The charging happens after the run, from the Report's counters, rather
// than per instruction inside the engines: the simulator's internals are
// being refactored, and per-component charging can move into the engines
// once they own their statistics. Until then the SRAM and accumulator
// traffic are estimated from the MACs and the array shape (docs/dse.md).
//
//===----------------------------------------------------------------------===//

#ifndef NURI_SIM_ENERGY_H
#define NURI_SIM_ENERGY_H

#include "nuri/sim/Simulator.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace nuri::sim {

struct EnergyReport {
  /// False when the config has no `energy:` section (nothing is charged).
  bool modeled = false;
  double seconds = 0;
  /// Joules by component, in a fixed order: matrix, sram, accumulator,
  /// vector, dram, noc, static.
  std::vector<std::pair<std::string, double>> joules;

  double totalJoules() const;
  double averagePowerW() const {
    return seconds > 0 ? totalJoules() / seconds : 0;
  }
  /// Adds another run's energy and time (the partitions of one model).
  void add(const EnergyReport &other);
  /// {"energy_j": {"total": ..., "matrix": ...}, "average_power_w":
  /// {"total": ..., ...}} without the outer braces' owner; null fields when
  /// not modeled.
  std::string toJsonFields() const;
  std::string toText() const;
};

/// The energy of `report` on `target`. `dtype` is the matrix input type the
/// program used; without it, the dtype whose peak MACs/cycle matches the
/// report's MACs per MAC-cycle is taken.
EnergyReport estimateEnergy(const Report &report, const target::Target &target,
                            std::optional<isa::Dtype> dtype = std::nullopt);

/// Power (W) of a GEMM-bound steady state for `dtype`: the array at its
/// peak MAC rate with its operand and accumulator traffic, DRAM at full
/// bandwidth, leakage (the vector unit and NoC idle). What a TDP bounds;
/// the components use EnergyReport's order with seconds = 1.
EnergyReport peakPower(const target::Target &target, isa::Dtype dtype);

/// The config's JSON (target::targetToJson) with the design-space figures
/// of its `area:` and `energy:` sections: "area_mm2", "area_breakdown_mm2"
/// and "peak_power_w" per dtype (null without the section). What
/// `nuri target show --json` prints and nuri.target(...).to_dict() reads.
std::string targetJsonWithAreaAndPower(const target::Target &target);

} // namespace nuri::sim

#endif // NURI_SIM_ENERGY_H
