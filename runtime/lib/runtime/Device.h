//===- Device.h - Devices behind one interface ------------------*- C++ -*-===//
//
// A device executes partitions of a loaded model (IREE's HAL in miniature):
// the CPU device runs CPU partitions op by op with the kernels, the sim
// device runs NPU partitions on the simulator and delegates CPU partitions.
// A real driver would be a third implementation registered by name.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_RUNTIME_DEVICE_H
#define NURI_RUNTIME_DEVICE_H

#include "nuri/cpu/Kernels.h"
#include "nuri/isa/Result.h"
#include "nuri/package/Package.h"
#include "nuri/target/Target.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nuri::rt {

/// Where a CPU partition keeps the tensors it computes that are not bound
/// to a model-level value: offsets in one scratch block, reused between
/// tensors whose lifetimes do not overlap (greedy by size, first fit).
struct CpuPlan {
  std::vector<int64_t> scratchOffset; ///< per tensor; -1: not in scratch
  uint64_t scratchBytes = 0;
  /// Per op: what kernels derive from the weights (packed GEMM panels,
  /// converted fp16/bf16 weights), made on the first run and shared by all
  /// runs of the model. Kernel caches synchronize internally.
  std::vector<std::unique_ptr<cpu::KernelCache>> kernelCaches;
};

/// A validated package plus what every run needs precomputed. Immutable
/// after construction, so runs share it without locks.
struct LoadedModel {
  std::shared_ptr<const package::PackageFile> file;
  std::vector<CpuPlan> cpuPlans; ///< per partition (empty for NPU ones)
  /// Values that cross partitions and are not model outputs: offsets in
  /// the per-run block, before the scratch region.
  std::vector<int64_t> valueOffset; ///< per value; -1: not in the block
  uint64_t valueBytes = 0;
  uint64_t scratchBytes = 0; ///< max over partitions
  std::optional<target::Target> target;

  const package::Package &pkg() const { return file->package(); }
  uint64_t blockBytes() const { return valueBytes + scratchBytes; }
  /// Host memory one run allocates: the block and the model outputs.
  uint64_t runBytes() const {
    uint64_t bytes = blockBytes();
    for (int32_t id : pkg().outputs) {
      bytes += static_cast<uint64_t>(pkg().values[id].byteSize());
    }
    return bytes;
  }
};

/// Builds the plans; fails on a target config that does not load.
Result<std::shared_ptr<const LoadedModel>>
prepareModel(std::shared_ptr<const package::PackageFile> file);

struct PartitionStats {
  double wallSeconds = 0;
  bool npu = false;
  uint64_t cycles = 0;
  double simSeconds = 0;
  double macUtilization = 0;
  uint64_t dramBytes = 0;
};

/// The buffers of one run: `values[id]` for every model-level value, and a
/// scratch block of model.scratchBytes.
struct RunBuffers {
  std::vector<void *> values;
  uint8_t *scratch = nullptr;
};

class Device {
public:
  virtual ~Device() = default;
  virtual const char *name() const = 0;
  /// Empty when the device can run every partition of `model`, else why not.
  virtual std::string check(const LoadedModel &model) const = 0;
  /// Runs one partition. Thread-safe: concurrent calls use distinct
  /// RunBuffers. The error names the partition and the op or instruction.
  virtual Result<PartitionStats> run(const LoadedModel &model, size_t partition,
                                     const RunBuffers &buffers) = 0;
};

using DeviceFactory = std::function<std::unique_ptr<Device>()>;
/// Adds a device to the registry (replacing one of the same name).
void registerDevice(const std::string &name, DeviceFactory factory);
/// Registered names, "auto" included.
std::vector<std::string> deviceNames();
/// Creates `name`; "auto" is sim for models with NPU partitions, otherwise
/// cpu. Fails for unknown names, naming the known ones.
Result<std::unique_ptr<Device>> createDevice(const std::string &name,
                                             const LoadedModel &model);

/// Runs a CPU partition with the CPU kernels (used by both devices).
Result<PartitionStats> runCpuPartition(const LoadedModel &model,
                                       size_t partition,
                                       const RunBuffers &buffers);

} // namespace nuri::rt

#endif // NURI_RUNTIME_DEVICE_H
