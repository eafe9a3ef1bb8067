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

} // namespace nuri::target

#endif // NURI_TARGET_TARGET_H
