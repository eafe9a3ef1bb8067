//===- Devices.cpp - The cpu and sim devices and their registry -----------===//

#include "Device.h"

#include "nuri/cpu/Kernels.h"
#include "nuri/sim/Energy.h"
#include "nuri/sim/Simulator.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

namespace nuri::rt {

using package::Package;
using package::Partition;
using package::PartitionKind;

namespace {

constexpr uint64_t kAlign = 64;
uint64_t alignUp(uint64_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

/// NURI_PROFILE=1: accumulate wall time per op kind over all CPU runs and
/// print a table (kind, calls, total ms, share) to stderr at exit.
struct OpProfile {
  bool enabled = false;
  std::mutex mutex;
  std::map<std::string, std::pair<uint64_t, double>> byKind;
  OpProfile() {
    const char *env = std::getenv("NURI_PROFILE");
    enabled = env && *env && std::strcmp(env, "0") != 0;
  }
  ~OpProfile() {
    if (!enabled || byKind.empty()) {
      return;
    }
    double total = 0;
    std::vector<std::pair<double, std::string>> rows;
    for (const auto &[kind, v] : byKind) {
      total += v.second;
      rows.emplace_back(v.second, kind);
    }
    std::sort(rows.rbegin(), rows.rend());
    std::fprintf(stderr, "%-28s %8s %12s %7s\n", "op kind", "calls", "total ms",
                 "share");
    for (const auto &[sec, kind] : rows) {
      std::fprintf(stderr, "%-28s %8llu %12.2f %6.1f%%\n", kind.c_str(),
                   static_cast<unsigned long long>(byKind[kind].first),
                   sec * 1e3, 100.0 * sec / total);
    }
    std::fprintf(stderr, "%-28s %8s %12.2f\n", "total", "", total * 1e3);
  }
  void add(const std::string &kind, double seconds) {
    std::lock_guard<std::mutex> lock(mutex);
    auto &v = byKind[kind];
    ++v.first;
    v.second += seconds;
  }
};

OpProfile &opProfile() {
  static OpProfile profile;
  return profile;
}

/// Liveness-based placement of one CPU partition's computed tensors.
CpuPlan planCpuPartition(const Partition &part,
                         const std::shared_ptr<cpu::PackPool> &pool) {
  const graph::Graph &g = part.graph;
  CpuPlan plan;
  plan.scratchOffset.assign(g.tensors.size(), -1);
  // Tensors bound to partition outputs live in the value's buffer instead
  // (the first binding of each tensor; later ones are copies).
  std::vector<bool> boundOut(g.tensors.size(), false);
  for (int32_t t : g.outputs) {
    boundOut[t] = true;
  }
  struct Live {
    int32_t tensor;
    size_t first, last;
    uint64_t bytes;
  };
  std::vector<Live> lives;
  std::vector<int64_t> index(g.tensors.size(), -1);
  for (size_t i = 0; i < g.ops.size(); ++i) {
    for (int32_t t : g.ops[i].outputs) {
      if (!boundOut[t] && index[t] < 0) {
        index[t] = static_cast<int64_t>(lives.size());
        lives.push_back(
            {t, i, i, alignUp(static_cast<uint64_t>(g.tensors[t].byteSize()))});
      }
    }
    for (int32_t t : g.ops[i].inputs) {
      if (t >= 0 && index[t] >= 0) {
        lives[index[t]].last = i;
      }
    }
  }
  std::vector<size_t> order(lives.size());
  for (size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return lives[a].bytes > lives[b].bytes;
  });
  struct Placed {
    uint64_t offset, bytes;
    size_t first, last;
  };
  std::vector<Placed> placed;
  for (size_t i : order) {
    const Live &l = lives[i];
    // Ranges taken by tensors alive at the same time, by offset.
    std::vector<std::pair<uint64_t, uint64_t>> busy;
    for (const Placed &p : placed) {
      if (p.first <= l.last && l.first <= p.last) {
        busy.emplace_back(p.offset, p.offset + p.bytes);
      }
    }
    std::sort(busy.begin(), busy.end());
    uint64_t offset = 0;
    for (const auto &[begin, end] : busy) {
      if (offset + l.bytes <= begin) {
        break;
      }
      offset = std::max(offset, end);
    }
    placed.push_back({offset, l.bytes, l.first, l.last});
    plan.scratchOffset[l.tensor] = static_cast<int64_t>(offset);
    plan.scratchBytes = std::max(plan.scratchBytes, offset + l.bytes);
  }
  for (size_t k = 0; k < part.graph.ops.size(); ++k) {
    plan.kernelCaches.push_back(std::make_unique<cpu::KernelCache>(pool));
  }
  return plan;
}

} // namespace

Result<std::shared_ptr<const LoadedModel>>
prepareModel(std::shared_ptr<const package::PackageFile> file,
             const package::Package &program,
             std::shared_ptr<cpu::PackPool> packs) {
  using R = Result<std::shared_ptr<const LoadedModel>>;
  auto model = std::make_shared<LoadedModel>();
  model->file = std::move(file);
  model->program = &program;
  const Package &pkg = model->pkg();
  std::vector<bool> outside(pkg.values.size(), false);
  for (int32_t id : pkg.outputs) {
    outside[id] = true;
  }
  for (int32_t id : pkg.inputs) {
    outside[id] = true;
  }
  // State values are the session's state storage (in-place outputs too).
  for (const package::StateBuffer &st : pkg.states) {
    outside[st.input] = true;
    outside[st.output] = outside[st.output] || st.inPlace;
  }
  model->valueOffset.assign(pkg.values.size(), -1);
  for (size_t v = 0; v < pkg.values.size(); ++v) {
    if (!outside[v]) {
      model->valueOffset[v] = static_cast<int64_t>(model->valueBytes);
      model->valueBytes +=
          alignUp(static_cast<uint64_t>(pkg.values[v].byteSize()));
    }
  }
  for (const Partition &p : pkg.partitions) {
    model->cpuPlans.push_back(
        p.kind == PartitionKind::Cpu ? planCpuPartition(p, packs) : CpuPlan{});
    model->scratchBytes =
        std::max(model->scratchBytes, model->cpuPlans.back().scratchBytes);
  }
  return R(std::shared_ptr<const LoadedModel>(std::move(model)));
}

void Counters::add(const std::string &name, double value) {
  for (auto &[n, v] : items) {
    if (n == name) {
      v += value;
      return;
    }
  }
  items.emplace_back(name, value);
}

double Counters::get(const std::string &name) const {
  for (const auto &[n, v] : items) {
    if (n == name) {
      return v;
    }
  }
  return 0;
}

namespace {

std::string partitionName(const Package &pkg, size_t index) {
  const Partition &part = pkg.partitions[index];
  return "partition " + std::to_string(index) +
         (part.name.empty() ? "" : " ('" + part.name + "')");
}

/// Runs CPU partitions op by op. Prepare resolves every op's kernel once;
/// a run only binds buffers and calls them.
class CpuDevice final : public Device {
public:
  const char *name() const override { return "cpu"; }
  bool runs(PartitionKind kind) const override {
    return kind == PartitionKind::Cpu;
  }
  std::string check(const LoadedModel &model) const override {
    const Package &pkg = model.pkg();
    for (size_t i = 0; i < pkg.partitions.size(); ++i) {
      if (pkg.partitions[i].kind == PartitionKind::Npu) {
        return "partition " + std::to_string(i) + " ('" +
               pkg.partitions[i].name +
               "') is an NPU program, which the cpu device cannot run; use "
               "the sim device or compile with --target cpu";
      }
    }
    return "";
  }
  Result<bool> prepare(const LoadedModel &model,
                       const SessionConfig &config) override {
    model_ = &model;
    config_ = config;
    const Package &pkg = model.pkg();
    kernels_.assign(pkg.partitions.size(), {});
    folded_.assign(pkg.partitions.size(), {});
    constants_.assign(pkg.partitions.size(), {});
    foldedOps_.assign(pkg.partitions.size(), {});
    for (size_t p = 0; p < pkg.partitions.size(); ++p) {
      if (pkg.partitions[p].kind != PartitionKind::Cpu) {
        continue;
      }
      // A missing kernel stays null: the run reports it with the op, as a
      // package may carry ops this build has no kernel for (and never run).
      const graph::Graph &g = pkg.partitions[p].graph;
      foldedOps_[p].assign(g.ops.size(), false);
      // The package's weights, read in place (kernels only read inputs);
      // folded values join as prepare computes them.
      std::vector<void *> &constant = constants_[p];
      constant.assign(g.tensors.size(), nullptr);
      for (size_t t = 0; t < g.tensors.size(); ++t) {
        if (g.tensors[t].isConstant()) {
          constant[t] =
              const_cast<uint8_t *>(pkg.weights + g.tensors[t].dataOffset);
        }
      }
      for (size_t k = 0; k < g.ops.size(); ++k) {
        kernels_[p].push_back(cpu::resolveKernel(g.ops[k]));
        // Weights packed now, as ONNX Runtime prepacks at session creation:
        // not in the first request's latency (shared with the other
        // programs of a family through the model's pack pool).
        std::vector<cpu::TensorView> constants;
        bool allConstant = !g.ops[k].inputs.empty();
        for (int32_t t : g.ops[k].inputs) {
          cpu::TensorView v;
          if (t >= 0 && constant[t]) {
            v.dtype = g.tensors[t].dtype;
            v.shape = g.tensors[t].shape;
            v.data = constant[t];
            v.constant = true;
          } else if (t >= 0) {
            allConstant = false;
          }
          constants.push_back(std::move(v));
        }
        cpu::prepareKernel(g.ops[k], constants,
                           model.cpuPlans[p].kernelCaches[k].get());
        // A weight stored quantized and dequantized for a float product
        // (w8a16, w4a16) is dequantized once, here, as ONNX Runtime folds
        // DequantizeLinear of an initializer: the product then packs it as
        // any constant weight instead of dequantizing and packing it again
        // on every run. The package keeps the int8 bytes; the session holds
        // the float weight.
        if (allConstant &&
            (g.ops[k].kind == "dequantize" ||
             g.ops[k].kind == "dequantize_blocked") &&
            g.ops[k].outputs.size() == 1) {
          int32_t out = g.ops[k].outputs[0];
          std::vector<uint8_t> bytes(
              static_cast<size_t>(g.tensors[out].byteSize()));
          std::vector<cpu::TensorView> outs = {
              {g.tensors[out].dtype, g.tensors[out].shape, bytes.data()}};
          cpu::KernelCache *cache = model.cpuPlans[p].kernelCaches[k].get();
          std::string error =
              kernels_[p][k] ? kernels_[p][k](g.ops[k], constants, outs, cache)
                             : cpu::runKernel(g.ops[k], constants, outs, cache);
          if (error.empty()) {
            folded_[p].push_back(std::move(bytes));
            constant[out] = folded_[p].back().data();
            foldedOps_[p][k] = true;
          }
        }
      }
    }
    return true;
  }
  Result<PartitionResult> run(size_t partition,
                              const RunBuffers &buffers) override;

private:
  const LoadedModel *model_ = nullptr;
  SessionConfig config_;
  std::vector<std::vector<cpu::KernelFn>> kernels_; ///< per partition, op
  /// Per partition: values computed at prepare from constants only (see
  /// prepare), each tensor's constant bytes (null if it is not one), and
  /// the ops that computed folded values, which runs skip.
  std::vector<std::vector<std::vector<uint8_t>>> folded_;
  std::vector<std::vector<void *>> constants_;
  std::vector<std::vector<bool>> foldedOps_;
};

Result<PartitionResult> CpuDevice::run(size_t index,
                                       const RunBuffers &buffers) {
  auto start = std::chrono::steady_clock::now();
  const LoadedModel &model = *model_;
  const Package &pkg = model.pkg();
  const Partition &part = pkg.partitions[index];
  const graph::Graph &g = part.graph;
  const CpuPlan &plan = model.cpuPlans[index];
  const std::vector<cpu::KernelFn> &kernels = kernels_[index];

  std::vector<void *> data(g.tensors.size(), nullptr);
  const std::vector<void *> &constant = constants_[index];
  for (size_t t = 0; t < g.tensors.size(); ++t) {
    if (constant[t]) {
      data[t] = constant[t];
    } else if (plan.scratchOffset[t] >= 0) {
      data[t] = buffers.scratch + plan.scratchOffset[t];
    }
  }
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    data[g.inputs[i]] = buffers.values[part.inputs[i]];
  }
  // Outputs computed by an op are written in place into the value's buffer
  // (the user's own memory when bound: zero copy).
  std::vector<bool> assigned(g.tensors.size(), false);
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    int32_t t = g.outputs[i];
    if (!data[t] && !assigned[t]) {
      data[t] = buffers.values[part.outputs[i]];
      assigned[t] = true;
    }
  }
  std::vector<cpu::TensorView> ins, outs;
  OpProfile &profile = opProfile();
  bool timeOps = profile.enabled || config_.profile;
  PartitionResult result;
  result.device = name();
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const graph::Op &op = g.ops[i];
    if (foldedOps_[index][i]) {
      continue;
    }
    ins.clear();
    outs.clear();
    for (int32_t t : op.inputs) {
      cpu::TensorView v;
      if (t >= 0) {
        v.dtype = g.tensors[t].dtype;
        v.shape = g.tensors[t].shape;
        v.data = data[t];
        v.constant = constant[t] != nullptr;
      }
      ins.push_back(std::move(v));
    }
    for (int32_t t : op.outputs) {
      outs.push_back({g.tensors[t].dtype, g.tensors[t].shape, data[t]});
    }
    std::string error;
    auto opStart = timeOps ? std::chrono::steady_clock::now()
                           : std::chrono::steady_clock::time_point();
    try {
      cpu::KernelCache *cache = plan.kernelCaches[i].get();
      error = kernels[i] ? kernels[i](op, ins, outs, cache)
                         : cpu::runKernel(op, ins, outs, cache);
      if (timeOps) {
        // Products are split by their weight shape (K x N), the GEMMs
        // that dominate transformer runs.
        std::string key = op.kind;
        if ((op.kind == "matmul" || op.kind == "linear") && ins.size() > 1 &&
            ins[1].shape.size() >= 2) {
          const std::vector<int64_t> &w = ins[1].shape;
          key += " " + std::to_string(w[w.size() - 2]) + "x" +
                 std::to_string(w.back()) + (ins[1].constant ? " w" : "");
        }
        double seconds = secondsSince(opStart);
        if (profile.enabled) {
          profile.add(key, seconds);
        }
        if (config_.profile) {
          result.counters.add("op_seconds." + key, seconds);
        }
      }
    } catch (const std::bad_alloc &) {
      error = "out of host memory";
    } catch (const std::exception &e) {
      error = e.what();
    }
    if (!error.empty()) {
      return Result<PartitionResult>::failure(
          partitionName(pkg, index) + ": op " + std::to_string(i) + " (" +
          op.kind + (op.location.empty() ? "" : ", '" + op.location + "'") +
          "): " + error);
    }
  }
  // Graph outputs that no op wrote into the value (inputs, constants,
  // repeated outputs) are copied.
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    void *dst = buffers.values[part.outputs[i]];
    const void *src = data[g.outputs[i]];
    if (dst != src) {
      std::memcpy(dst, src,
                  static_cast<size_t>(g.tensors[g.outputs[i]].byteSize()));
    }
  }
  // Wall time first, as the sim device reports it.
  result.counters.items.insert(
      result.counters.items.begin(),
      std::make_pair(std::string("wall_seconds"), secondsSince(start)));
  return result;
}

/// Runs NPU partitions on the simulator. The device memory of a partition
/// is a Simulator whose DRAM keeps the partition's weights from the first
/// run on; every run writes the inputs and reads the outputs, which the
/// program rewrites anyway, and programs never write their weights.
///
/// One DRAM per partition: each NPU partition was compiled with its own
/// address space, so two partitions may place different tensors at the
/// same address; giving each its own simulator keeps both weight sets
/// resident without relocation. (DRAM pages are allocated on first write,
/// so a partition's simulator holds only what it touches.)
///
/// State buffers (the KV cache) are device-resident: the session's state
/// storage is this device's memory, shared by every program of a family,
/// and never crosses the host-device boundary on a run (it is not counted
/// in host_to_device_bytes or device_to_host_bytes). Because each partition
/// has its own simulated DRAM, a partition that reads or writes a state has
/// its bytes copied between that storage and its DRAM at the address its
/// compile gave them: an artifact of simulating one DRAM per partition,
/// counted apart as device_state_copy_bytes, which a real device (one DRAM,
/// the state at one address) does not do. A CPU partition that touches a
/// state does cross the boundary; the session counts that (Runtime.cpp).
///
/// Concurrency: a partition keeps a pool of simulators. A run takes an
/// idle one (or builds another, loading the weights, when all are busy) and
/// gives it back afterwards, so concurrent runs never share a simulator and
/// sequential runs reuse one: the pool grows to the peak number of runs of
/// that partition in flight at once.
class SimDevice final : public Device {
public:
  const char *name() const override { return "sim"; }
  bool runs(PartitionKind kind) const override {
    return kind == PartitionKind::Npu;
  }
  std::string check(const LoadedModel &model) const override {
    if (model.pkg().hasNpuPartitions() && !model.target()) {
      return "the package has NPU partitions but no target config";
    }
    return "";
  }
  Result<bool> prepare(const LoadedModel &model,
                       const SessionConfig &config) override {
    model_ = &model;
    options_.trace = config.trace;
    options_.functional = !config.timingOnly;
    pools_.clear();
    for (size_t p = 0; p < model.pkg().partitions.size(); ++p) {
      pools_.push_back(std::make_unique<Pool>());
    }
    isState_.assign(model.pkg().values.size(), false);
    for (const package::StateBuffer &st : model.pkg().states) {
      isState_[st.input] = true;
      isState_[st.output] = true;
    }
    return true;
  }
  Result<PartitionResult> run(size_t partition,
                              const RunBuffers &buffers) override {
    return catchErrors([&] { return runNpu(partition, buffers); });
  }

private:
  struct Pool {
    std::mutex mutex;
    std::vector<std::unique_ptr<sim::Simulator>> idle;
  };

  PartitionResult runNpu(size_t index, const RunBuffers &buffers);

  const LoadedModel *model_ = nullptr;
  /// Per value: bound to a state buffer (the session's, device-resident).
  std::vector<bool> isState_;
  sim::SimOptions options_;
  std::vector<std::unique_ptr<Pool>> pools_; ///< per partition
};

PartitionResult SimDevice::runNpu(size_t index, const RunBuffers &buffers) {
  auto start = std::chrono::steady_clock::now();
  const Package &pkg = model_->pkg();
  const Partition &part = pkg.partitions[index];
  std::string where = partitionName(pkg, index);
  Pool &pool = *pools_[index];
  std::unique_ptr<sim::Simulator> sim;
  {
    std::lock_guard<std::mutex> lock(pool.mutex);
    if (!pool.idle.empty()) {
      sim = std::move(pool.idle.back());
      pool.idle.pop_back();
    }
  }
  uint64_t weightBytes = 0, toDevice = 0, toHost = 0, stateBytes = 0;
  double uploadSeconds = 0;
  try {
    if (!sim) {
      auto uploadStart = std::chrono::steady_clock::now();
      sim = std::make_unique<sim::Simulator>(*model_->target(), options_);
      // Timing only: no data, and a timing-only package has no weights.
      for (const package::WeightLoad &w : part.weightLoads) {
        if (options_.functional) {
          sim->writeDram(w.address, pkg.weights + w.weightOffset, w.bytes);
          weightBytes += w.bytes;
        }
      }
      uploadSeconds = secondsSince(uploadStart);
    }
    for (size_t i = 0; i < part.inputs.size(); ++i) {
      size_t bytes = static_cast<size_t>(pkg.values[part.inputs[i]].byteSize());
      // Timing only still writes the inputs (ids, cache slots: what dma.idx
      // reads decides its addresses), not the states (a 7B cache is GBs).
      if (!options_.functional && isState_[part.inputs[i]]) {
        continue;
      }
      sim->writeDram(part.inputAddresses[i], buffers.values[part.inputs[i]],
                     bytes);
      (isState_[part.inputs[i]] ? stateBytes : toDevice) += bytes;
    }
  } catch (const Error &e) {
    throw Error(where + ": copying to device memory: " + e.what());
  }
  Result<sim::Report> report = sim->run(part.program);
  if (!report) {
    // The simulator stopped part-way; it is not given back to the pool.
    throw Error(where + ": " + report.error());
  }
  try {
    for (size_t i = 0; i < part.outputs.size(); ++i) {
      size_t bytes =
          static_cast<size_t>(pkg.values[part.outputs[i]].byteSize());
      if (!options_.functional && isState_[part.outputs[i]]) {
        continue;
      }
      sim->readDram(part.outputAddresses[i], buffers.values[part.outputs[i]],
                    bytes);
      (isState_[part.outputs[i]] ? stateBytes : toHost) += bytes;
    }
  } catch (const Error &e) {
    throw Error(where + ": copying from device memory: " + e.what());
  }
  PartitionResult result;
  result.device = name();
  if (options_.trace) {
    result.traceJson = sim->traceJson();
  }
  {
    std::lock_guard<std::mutex> lock(pool.mutex);
    pool.idle.push_back(std::move(sim));
  }
  Counters &c = result.counters;
  c.add("wall_seconds", secondsSince(start));
  c.add("cycles", double(report->cycles.count()));
  c.add("device_seconds", report->seconds.value());
  c.add("mac_utilization", report->macUtilization);
  c.add("dram_bytes", double(report->dramBytes()));
  c.add("device_weight_bytes_written", double(weightBytes));
  c.add("device_prepare_seconds", uploadSeconds);
  c.add("host_to_device_bytes", double(toDevice));
  c.add("device_to_host_bytes", double(toHost));
  c.add("device_state_copy_bytes", double(stateBytes));
  // Joules by component from the simulator's energy model (docs/dse.md),
  // as `nuri sim` reports them; summed over partitions like the rest.
  sim::EnergyReport energy = sim::estimateEnergy(*report, *model_->target());
  if (energy.modeled) {
    for (const auto &[component, joules] : energy.joules) {
      c.add("energy_j." + component, joules);
    }
  }
  return result;
}

struct Registry {
  std::mutex mutex;
  std::map<std::string, DeviceFactory> factories;
  Registry() {
    factories["cpu"] = [] { return std::make_unique<CpuDevice>(); };
    factories["sim"] = [] { return std::make_unique<SimDevice>(); };
  }
};

Registry &registry() {
  static Registry r;
  return r;
}

} // namespace

void registerDevice(const std::string &name, DeviceFactory factory) {
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.factories[name] = std::move(factory);
}

std::vector<std::string> deviceNames() {
  Registry &r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> names = {"auto"};
  for (const auto &[name, factory] : r.factories) {
    names.push_back(name);
  }
  return names;
}

Result<std::unique_ptr<Device>> createDevice(const std::string &requested,
                                             const LoadedModel &model) {
  using R = Result<std::unique_ptr<Device>>;
  std::string name = requested;
  if (name == "auto") {
    name = model.file->package().hasNpuPartitions() ? "sim" : "cpu";
  }
  DeviceFactory factory;
  {
    Registry &r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    auto it = r.factories.find(name);
    if (it != r.factories.end()) {
      factory = it->second;
    }
  }
  if (!factory) {
    std::string known;
    for (const std::string &n : deviceNames()) {
      known += (known.empty() ? "" : ", ") + n;
    }
    return R::failure("unknown device '" + requested + "' (known: " + known +
                      ")");
  }
  return R(factory());
}

} // namespace nuri::rt
