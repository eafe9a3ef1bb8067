//===- Energy.cpp - Energy of a simulated run -----------------------------===//

#include "nuri/sim/Energy.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace nuri::sim {

namespace {

using isa::Dtype;
constexpr double kPico = 1e-12;

/// Work counted in the units the `energy:` figures price.
struct Activity {
  double macs = 0;
  double sramBytes = 0;
  double accBytes = 0;
  double vectorLaneOps = 0;
  double dramBytes = 0;
  double nocBytes = 0;
};

/// Scratchpad bytes the array reads for `macs` MACs of `d`: a systolic array
/// of R x C PEs reuses each input row across C columns and each weight
/// column across R rows, so per MAC it reads (1/R + 1/C) elements.
double operandBytes(const target::Target &t, Dtype d, double macs) {
  return macs * isa::dtypeBytes(d) *
         (1.0 / t.matrix.rows + 1.0 / t.matrix.cols);
}

/// Accumulator bytes for `macs` MACs: one fp32 read and one write of a
/// partial sum every `rows` k-steps (a K chunk the depth of the array).
double accumulatorBytes(const target::Target &t, double macs) {
  return macs * 8.0 / t.matrix.rows;
}

EnergyReport charge(const target::Target &t, Dtype d, const Activity &a,
                    double seconds) {
  const target::EnergyConfig &e = t.energy;
  EnergyReport r;
  r.modeled = e.present;
  r.seconds = seconds;
  if (!e.present) {
    return r;
  }
  auto mac = e.macPj.find(d);
  double macPj = mac == e.macPj.end() ? 0 : mac->second;
  double area = target::areaOf(t).total;
  r.joules = {
      {"matrix", a.macs * macPj * kPico},
      {"sram", a.sramBytes * e.sramPjPerByte * kPico},
      {"accumulator", a.accBytes * e.accPjPerByte * kPico},
      {"vector", a.vectorLaneOps * e.vectorPjPerLaneOp * kPico},
      {"dram", a.dramBytes * e.dramPjPerByte * kPico},
      {"noc", a.nocBytes * e.nocPjPerByte * kPico},
      {"static", (e.staticWPerMm2 * area + e.staticW) * seconds},
  };
  return r;
}

/// The dtype whose peak MACs per cycle best explains macs / macCycles.
Dtype inferDtype(const Report &r, const target::Target &t) {
  double macCycles = 0;
  for (const CoreStats &c : r.cores) {
    macCycles += c.macCycles;
  }
  Dtype best = t.matrix.macsPerCycle.empty()
                   ? Dtype::BF16
                   : t.matrix.macsPerCycle.begin()->first;
  if (macCycles <= 0) {
    return best;
  }
  double rate = double(r.macs) / macCycles;
  double bestErr = std::numeric_limits<double>::infinity();
  for (auto &[d, m] : t.matrix.macsPerCycle) {
    // Prefer bf16 among equal rates: it is what the compiler emits.
    double err =
        std::fabs(std::log(double(m) / rate)) - (d == Dtype::BF16 ? 1e-9 : 0);
    if (err < bestErr) {
      bestErr = err;
      best = d;
    }
  }
  return best;
}

} // namespace

double EnergyReport::totalJoules() const {
  double s = 0;
  for (auto &[name, j] : joules) {
    s += j;
  }
  return s;
}

void EnergyReport::add(const EnergyReport &other) {
  if (joules.empty()) {
    joules = other.joules;
  } else {
    for (size_t i = 0; i < joules.size() && i < other.joules.size(); ++i) {
      joules[i].second += other.joules[i].second;
    }
  }
  modeled = modeled || other.modeled;
  seconds += other.seconds;
}

std::string EnergyReport::toJsonFields() const {
  if (!modeled) {
    return "\"energy_j\": null, \"average_power_w\": null";
  }
  std::string energy = fmt::format("\"total\": {:.6g}", totalJoules());
  std::string power = fmt::format("\"total\": {:.6g}", averagePowerW());
  for (auto &[name, j] : joules) {
    energy += fmt::format(", \"{}\": {:.6g}", name, j);
    power +=
        fmt::format(", \"{}\": {:.6g}", name, seconds > 0 ? j / seconds : 0.0);
  }
  return fmt::format("\"energy_j\": {{{}}}, \"average_power_w\": {{{}}}",
                     energy, power);
}

std::string EnergyReport::toText() const {
  if (!modeled) {
    return "energy: not modeled (the config has no `energy:` section)\n";
  }
  std::string s = fmt::format("energy: {:.4g} J, average {:.4g} W\n",
                              totalJoules(), averagePowerW());
  double total = totalJoules();
  for (auto &[name, j] : joules) {
    s += fmt::format("  {:<12} {:>10.4g} J {:>9.4g} W {:5.1f}%\n", name, j,
                     seconds > 0 ? j / seconds : 0.0,
                     total > 0 ? 100.0 * j / total : 0.0);
  }
  return s;
}

EnergyReport estimateEnergy(const Report &report, const target::Target &t,
                            std::optional<Dtype> dtype) {
  Dtype d = dtype ? *dtype : inferDtype(report, t);
  Activity a;
  a.macs = double(report.macs);
  double dmaBytes = 0, vectorBusy = 0;
  for (const CoreStats &c : report.cores) {
    dmaBytes += double(c.dmaBytes);
    vectorBusy += double(c.engines[unsigned(isa::Engine::Vector)].busyCycles);
  }
  // Every DMA byte lands in or leaves a scratchpad; the array reads its
  // operands from it; each busy vector lane reads and writes 4 bytes.
  a.vectorLaneOps = vectorBusy * t.vector.lanes;
  a.sramBytes = dmaBytes + operandBytes(t, d, a.macs) + a.vectorLaneOps * 8.0;
  a.accBytes = accumulatorBytes(t, a.macs);
  a.dramBytes = double(report.dramBytes());
  a.nocBytes = double(report.nocBytes);
  return charge(t, d, a, report.seconds.value());
}

EnergyReport peakPower(const target::Target &t, Dtype d) {
  // A GEMM-bound steady state: the array at its peak rate with its operand
  // and accumulator traffic, DRAM streaming at full bandwidth into the
  // scratchpads, leakage. The vector unit and the NoC work between GEMMs
  // (softmax, normalization, reductions) and are not charged at peak too.
  Activity a;
  auto it = t.matrix.macsPerCycle.find(d);
  double macsPerCycle = it == t.matrix.macsPerCycle.end() ? 0 : it->second;
  a.macs = macsPerCycle * t.cores * t.clockHz;
  a.dramBytes = t.dram.bytesPerSecond;
  a.sramBytes = operandBytes(t, d, a.macs) + a.dramBytes;
  a.accBytes = accumulatorBytes(t, a.macs);
  return charge(t, d, a, 1.0);
}

std::string targetJsonWithAreaAndPower(const target::Target &t) {
  std::string json = target::targetToJson(t);
  json.pop_back(); // the closing brace; the fields below go inside it
  target::AreaBreakdown area = target::areaOf(t);
  std::string power;
  for (auto &[d, macs] : t.matrix.macsPerCycle) {
    power += fmt::format("{}\"{}\": {:.6g}", power.empty() ? "" : ", ",
                         isa::dtypeName(d), peakPower(t, d).totalJoules());
  }
  json +=
      t.area.present
          ? fmt::format(", \"area_mm2\": {:.6g}, \"area_breakdown_mm2\": {}",
                        area.total, area.toJson())
          : std::string(", \"area_mm2\": null");
  json += t.energy.present ? fmt::format(", \"peak_power_w\": {{{}}}}}", power)
                           : std::string(", \"peak_power_w\": null}");
  return json;
}

} // namespace nuri::sim
