//===- Device.h - Devices behind one interface ------------------*- C++ -*-===//
//
// A device executes partitions of a loaded model (IREE's HAL in miniature,
// hal/device.h and hal/executable_cache.h): a session creates its devices,
// each prepares the model once (the CPU device resolves its kernels, the sim
// device keeps simulators whose DRAM holds the weights) and then runs the
// partitions routed to it, any number of times, from any number of threads.
// The cpu device runs CPU partitions op by op with the kernels, the sim
// device runs NPU partitions on the simulator. A real driver would be a
// third implementation registered by name.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_RUNTIME_DEVICE_H
#define NURI_RUNTIME_DEVICE_H

#include "nuri/cpu/Kernels.h"
#include "nuri/isa/Result.h"
#include "nuri/package/Package.h"
#include "nuri/runtime.h"
#include "nuri/target/Target.h"

#include <atomic>
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
  /// runs and sessions of the model. Kernel caches synchronize internally.
  std::vector<std::unique_ptr<cpu::KernelCache>> kernelCaches;
};

/// One program of a validated package plus what every run needs
/// precomputed: the package itself, or one program of a family (whose
/// weights are the family's). Immutable after construction, so runs share
/// it without locks.
struct LoadedModel {
  /// Keeps the bytes `program` and its weights borrow alive.
  std::shared_ptr<const package::PackageFile> file;
  /// file->package(), or a program of that family.
  const package::Package *program = nullptr;
  std::vector<CpuPlan> cpuPlans; ///< per partition (empty for NPU ones)
  /// Values that cross partitions and are not model outputs: offsets in
  /// the per-run block, before the scratch region. State-bound values live
  /// in the session's state storage instead (-1 here).
  std::vector<int64_t> valueOffset; ///< per value; -1: not in the block
  uint64_t valueBytes = 0;
  uint64_t scratchBytes = 0; ///< max over partitions

  const package::Package &pkg() const { return *program; }
  /// The target the reader parsed (null for CPU-only packages).
  const target::Target *target() const { return pkg().target.get(); }
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

/// Builds the plans of `program`: file->package() or one of its programs.
/// The programs of one family share `packs`, so a weight every program
/// reads is packed for the CPU's GEMM once.
Result<std::shared_ptr<const LoadedModel>>
prepareModel(std::shared_ptr<const package::PackageFile> file,
             const package::Package &program,
             std::shared_ptr<cpu::PackPool> packs = nullptr);

/// Named figures of one partition's execution. Names are generic (a real
/// driver reports the same ones): see docs/runtime.md for the list.
struct Counters {
  std::vector<std::pair<std::string, double>> items;
  void add(const std::string &name, double value);
  double get(const std::string &name) const; ///< 0 when absent
};

/// What a device reports for one partition of one run.
struct PartitionResult {
  std::string device; ///< the name of the device that ran it
  Counters counters;
  std::string traceJson; ///< Chrome trace (sim with the trace option)
};

/// The buffers of one run: `values[id]` for every model-level value, and a
/// scratch block of model.scratchBytes.
struct RunBuffers {
  std::vector<void *> values;
  uint8_t *scratch = nullptr;
};

/// Session options a device sees.
struct SessionConfig {
  bool trace = false;   ///< keep a Chrome trace of every NPU partition run
  bool profile = false; ///< per-op-kind wall-time counters on the CPU
  /// Simulate timing only: no weights loaded, no data (see
  /// nuri_session_options::timing_only).
  bool timingOnly = false;
};

/// One device of one session (a factory makes a new one per session, so
/// what it prepares is the session's). Its state is device-resident: it
/// survives across runs and is shared by concurrent runs.
class Device {
public:
  virtual ~Device() = default;
  virtual const char *name() const = 0;
  /// Whether partitions of this kind run here; the session sends the others
  /// to the cpu device.
  virtual bool runs(package::PartitionKind kind) const = 0;
  /// Empty when the device can run `model`'s partitions of the kinds it
  /// runs, else why not.
  virtual std::string check(const LoadedModel &model) const = 0;
  /// Once per session, before any run; `model` outlives the device. Fails
  /// with a message naming what could not be prepared.
  virtual Result<bool> prepare(const LoadedModel &model,
                               const SessionConfig &config) = 0;
  /// Runs one partition. Thread-safe: concurrent calls use distinct
  /// RunBuffers. The error names the partition and the op or instruction.
  virtual Result<PartitionResult> run(size_t partition,
                                      const RunBuffers &buffers) = 0;
};

using DeviceFactory = std::function<std::unique_ptr<Device>()>;
/// Adds a device to the registry (replacing one of the same name).
void registerDevice(const std::string &name, DeviceFactory factory);
/// Registered names, "auto" included.
std::vector<std::string> deviceNames();
/// Creates `name`; "auto" is sim for models with NPU partitions (in a
/// family: in any program, so every program gets the same device), otherwise
/// cpu. Fails for unknown names, naming the known ones.
Result<std::unique_ptr<Device>> createDevice(const std::string &name,
                                             const LoadedModel &model);

/// A C API status (Runtime.cpp owns its layout), for the runtime's other
/// C entry points (Generator.cpp).
nuri_status makeRuntimeStatus(nuri_status_code code, std::string message);

/// Models, sessions, runs and generators alive (nuri_live_object_count): a
/// member of each counts its object in and out, for leak checks of
/// bindings that hand out many handles (the Python package's tests).
extern std::atomic<size_t> liveObjects;
struct LiveObject {
  LiveObject() { ++liveObjects; }
  LiveObject(const LiveObject &) { ++liveObjects; }
  LiveObject &operator=(const LiveObject &) = default;
  ~LiveObject() { --liveObjects; }
};

} // namespace nuri::rt

#endif // NURI_RUNTIME_DEVICE_H
