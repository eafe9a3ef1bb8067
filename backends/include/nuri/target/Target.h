//===- Target.h - Chip configurations ---------------------------*- C++ -*-===//
//
// One description of a chip drives both the compiler's tiling/cost model and
// the simulator (DESIGN.md, "The NPU model"). Configs live in
// backends/configs/NAME.yaml; loadTarget* validates every field and names the
// offending one in its error.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_TARGET_TARGET_H
#define NURI_TARGET_TARGET_H

#include "nuri/isa/Isa.h"

#include <map>
#include <string>
#include <vector>

namespace nuri::target {

enum class Dataflow { OutputStationary, WeightStationary };

struct MatrixConfig {
  unsigned rows = 0; ///< PE rows (R)
  unsigned cols = 0; ///< PE columns (C)
  Dataflow dataflow = Dataflow::OutputStationary;
  /// MACs per cycle per core for each supported input dtype; a multiple of
  /// rows*cols (a PE packs that many MACs of narrow types per cycle) or a
  /// divisor (a slow type takes several cycles per k-step).
  std::map<isa::Dtype, uint64_t> macsPerCycle;
  uint64_t accBytes = 0; ///< accumulator buffer per core (4-byte entries)
};

struct VectorConfig {
  unsigned lanes = 0;                ///< fp32 elements per cycle
  unsigned pipelineDepth = 0;        ///< cycles from issue to first result
  unsigned transcendentalPasses = 1; ///< passes per element for exp/tanh/...
};

struct SramConfig {
  uint64_t bytesPerCore = 0;
  unsigned banks = 1;
  unsigned bankWidthBytes = 1; ///< bytes one bank delivers per cycle
  uint64_t sharedBytes = 0;    ///< chip-wide shared SRAM (0 = none)
};

/// The memory-link model a link of the simulator uses when none is named
/// (`dram.model`, `noc.model`; docs/simulator.md lists the models).
inline constexpr const char *kDefaultLinkModel = "shared-bandwidth";

struct DramConfig {
  uint64_t bytes = 0;
  double bytesPerSecond = 0;
  uint64_t latencyCycles = 0;
  std::string model = kDefaultLinkModel; ///< simulator link model
};

struct DmaConfig {
  unsigned outstanding = 1; ///< transfers in flight per core
  double bytesPerCycle = 0; ///< cap of one transfer
  unsigned issueCycles = 1; ///< queue occupancy per descriptor
};

struct NocConfig {
  double bytesPerCycle = 0; ///< shared on-chip bandwidth (SRAM<->SRAM)
  uint64_t latencyCycles = 0;
  std::string model = kDefaultLinkModel; ///< simulator link model
};

/// Energy figures (`energy:` section, optional): what a unit of work costs.
/// The simulator's Energy.h charges them to a Report; docs/dse.md gives the
/// sources and the scaling to the chip's node.
struct EnergyConfig {
  bool present = false;
  std::map<isa::Dtype, double> macPj; ///< one multiply-accumulate, per dtype
  double sramPjPerByte = 0;           ///< scratchpad read or write
  double accPjPerByte = 0;            ///< accumulator buffer read or write
  double dramPjPerByte = 0;           ///< DRAM device + PHY, per byte moved
  double nocPjPerByte = 0;            ///< on-chip network, per byte moved
  double vectorPjPerLaneOp = 0; ///< one fp32 lane-cycle of the vector unit
  double staticWPerMm2 = 0;     ///< leakage, per mm^2 of die
  /// Always-on power the model does not simulate: host interface, control
  /// processors, clock distribution, PLLs.
  double staticW = 0;
};

/// Area figures (`area:` section, optional); areaOf() adds them up.
struct AreaConfig {
  bool present = false;
  /// One MAC unit for each dtype; the array is sized by the dtype whose
  /// units take the most area (narrower dtypes reuse it by packing).
  std::map<isa::Dtype, double> macMm2;
  double sramMm2PerMiB = 0;        ///< scratchpad, accumulator, shared SRAM
  double coreMm2 = 0;              ///< per core: control, DMA, sync
  double vectorMm2PerLane = 0;     ///< per fp32 lane
  double dramChannelBytesPerS = 0; ///< bandwidth one channel/PHY provides
  double dramPhyMm2PerChannel = 0;
  double fixedMm2 = 0;    ///< host interface, PLLs, misc
  double utilization = 1; ///< placed cell area / die area
};

struct Target {
  std::string name;
  std::string description;
  std::string path; ///< the file it came from ("" if from text)
  double clockHz = 0;
  unsigned cores = 0;
  unsigned semaphoresPerCore = 32;
  unsigned barriers = 16;
  MatrixConfig matrix;
  VectorConfig vector;
  SramConfig sram;
  DramConfig dram;
  DmaConfig dma;
  NocConfig noc;
  EnergyConfig energy;
  AreaConfig area;

  /// All on-chip SRAM: per-core scratchpads plus the shared SRAM.
  uint64_t sramBytesTotal() const {
    return sram.bytesPerCore * cores + sram.sharedBytes;
  }
  double dramBytesPerCycle() const { return dram.bytesPerSecond / clockHz; }
  bool supports(isa::Dtype d) const { return matrix.macsPerCycle.count(d); }
  /// ops/s (2 x MACs) for the whole chip; 0 if unsupported.
  double peakOpsPerSecond(isa::Dtype d) const;
  /// k-steps a PE does per cycle for `d` (macsPerCycle / (R*C)); 0 if the
  /// dtype is unsupported.
  double packing(isa::Dtype d) const;
};

/// `section.key=value` settings applied on top of a config file before it
/// is validated, for design-space sweeps (`nuri sim --set
/// dram.bytes_per_s=1TB`).
using Overrides = std::vector<std::string>;

/// Parses and validates YAML text; `origin` names it in errors.
Result<Target> loadTargetYaml(const std::string &text,
                              const std::string &origin,
                              const Overrides &overrides = {});
Result<Target> loadTargetFile(const std::string &path,
                              const Overrides &overrides = {});
/// Finds NAME.yaml on the config search path.
Result<Target> findTarget(const std::string &name,
                          const Overrides &overrides = {});

/// $NURI_CONFIG_PATH (colon-separated), then <dir of the executable>/../
/// share/nuri/configs (a relocated install), then the configured install
/// dir, then the source tree's backends/configs.
std::vector<std::string> configSearchPath();
/// Names of all configs on the search path (first one wins), sorted.
std::vector<std::string> listTargets();

/// One JSON object: the config and derived figures (cores, clock_hz,
/// sram_bytes, dram_bytes_per_s, peak_ops_per_s{dtype: ...}, ...).
std::string targetToJson(const Target &t);
std::string targetToText(const Target &t);

/// The config as YAML that loadTargetYaml reads back into an equal Target
/// (every field written, numbers exact, no comments). Packages embed this,
/// not the file the target came from: it is what the compiler used,
/// overrides included.
std::string targetToYaml(const Target &t);

/// Die area by block (mm^2); all zero without an `area:` section.
struct AreaBreakdown {
  double matrix = 0, sram = 0, vector = 0, cores = 0, dramPhy = 0, fixed = 0;
  double total = 0; ///< the blocks divided by AreaConfig::utilization
  /// {"total": ..., "matrix": ..., ...}
  std::string toJson() const;
};
AreaBreakdown areaOf(const Target &t);

/// A config number as the loader reads it: `4MiB`, `1.5TB`, `1 GHz`, `2e-3`,
/// `1_000`. Fails with a message naming the text.
Result<double> parseQuantity(const std::string &text);

/// The config text with `overrides` applied (the same `a.b=value` rules as
/// loadTargetYaml), re-emitted as YAML: what a design-space sweep writes for
/// one point. The result is not validated; load it to validate.
Result<std::string> applyOverridesToYaml(const std::string &text,
                                         const std::string &origin,
                                         const Overrides &overrides);

} // namespace nuri::target

#endif // NURI_TARGET_TARGET_H
