//===- Runtime.cpp - The C API: models, sessions, runs --------------------===//
//
// Every entry point catches everything: a C caller never sees an exception,
// only a nuri_status.
//
//===----------------------------------------------------------------------===//

#include "nuri/runtime.h"

#include "Device.h"

#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include <unistd.h>

// oneTBB is not instrumented for ThreadSanitizer, so the hand-off of an
// async run to an arena thread is invisible to it; these annotations state
// the happens-before edge that TBB provides.
#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_acquire(void *addr);
extern "C" void __tsan_release(void *addr);
#define NURI_TSAN_ACQUIRE(p) __tsan_acquire(p)
#define NURI_TSAN_RELEASE(p) __tsan_release(p)
#else
#define NURI_TSAN_ACQUIRE(p) ((void)(p))
#define NURI_TSAN_RELEASE(p) ((void)(p))
#endif

using namespace nuri;
using package::Package;
using package::ValueDesc;

struct nuri_status_t {
  nuri_status_code code;
  std::string message;
};

namespace {

nuri_status makeStatus(nuri_status_code code, std::string message) {
  return new (std::nothrow) nuri_status_t{code, std::move(message)};
}

/// Runs `fn` (returning nuri_status) and turns exceptions into statuses.
template <typename Fn> nuri_status guard(Fn &&fn) {
  try {
    return fn();
  } catch (const std::bad_alloc &) {
    return makeStatus(NURI_OUT_OF_MEMORY, "out of host memory");
  } catch (const std::exception &e) {
    return makeStatus(NURI_INTERNAL, e.what());
  } catch (...) {
    return makeStatus(NURI_INTERNAL, "unknown exception");
  }
}

std::string typeString(graph::DType dtype, const int64_t *shape, size_t rank) {
  std::string s = "[";
  for (size_t i = 0; i < rank; ++i) {
    s += (i ? "," : "") + std::to_string(shape[i]);
  }
  return s + "] " + graph::dtypeName(dtype);
}

std::string typeString(const ValueDesc &v) {
  return typeString(v.dtype, v.shape.data(), v.shape.size());
}

struct FreeDeleter {
  void operator()(uint8_t *p) const { std::free(p); }
};
using AlignedBytes = std::unique_ptr<uint8_t[], FreeDeleter>;

AlignedBytes allocateAligned(uint64_t bytes) {
  uint64_t rounded = std::max<uint64_t>(64, (bytes + 63) / 64 * 64);
  void *p = std::aligned_alloc(64, rounded);
  if (!p) {
    throw std::bad_alloc();
  }
  return AlignedBytes(static_cast<uint8_t *>(p));
}

nuri_tensor_info infoOf(const ValueDesc &v) {
  nuri_tensor_info info{};
  info.name = v.name.c_str();
  info.dtype = static_cast<nuri_dtype>(v.dtype);
  info.rank = v.shape.size();
  info.shape = v.shape.data();
  info.byte_size = static_cast<size_t>(v.byteSize());
  info.quant_count = v.quant.scales.size();
  info.quant_scales = v.quant.scales.empty() ? nullptr : v.quant.scales.data();
  info.quant_zero_points =
      v.quant.zeroPoints.empty() ? nullptr : v.quant.zeroPoints.data();
  info.quant_axis = v.quant.axis;
  return info;
}

std::string describeInputs(const Package &p) {
  std::string s;
  for (int32_t id : p.inputs) {
    s += (s.empty() ? "" : ", ") + p.values[id].name + " " +
         typeString(p.values[id]);
  }
  return s.empty() ? "none" : s;
}

std::string describeOutputs(const Package &p) {
  std::string s;
  for (int32_t id : p.outputs) {
    s += (s.empty() ? "" : ", ") + p.values[id].name;
  }
  return s.empty() ? "none" : s;
}

/// A loaded package: one LoadedModel per program (a plain package is one
/// unnamed program).
struct ModelImpl {
  rt::LiveObject live;
  std::shared_ptr<const package::PackageFile> file;
  std::vector<std::shared_ptr<const rt::LoadedModel>> programs;
  /// Per program, per session state k (of states()): the index of that
  /// state among the program's own states (they match by name).
  std::vector<std::vector<size_t>> stateIndex;

  /// The whole package (for a family: the family, with no I/O of its own).
  const Package &pkg() const { return file->package(); }
  const Package &program(size_t i) const { return programs[i]->pkg(); }
  /// The state buffers a session keeps (a family's are shared by all its
  /// programs).
  const std::vector<package::StateBuffer> &states() const {
    return pkg().sessionStates();
  }
  std::string programNames() const {
    std::string s;
    for (const package::ProgramDesc &p : pkg().programs) {
      s += (s.empty() ? "" : ", ") + p.name;
    }
    return s.empty() ? "none" : s;
  }
};

/// A state buffer's storage in the session (see package::StateBuffer).
struct StateSlot {
  const package::StateBuffer *desc = nullptr;
  AlignedBytes bytes;
  size_t size = 0;
  void reset(const Package &pkg) {
    if (desc->initOffset >= 0) {
      std::memcpy(bytes.get(), pkg.weights + desc->initOffset, size);
    } else {
      std::memset(bytes.get(), 0, size);
    }
  }
};

/// The devices of one program of a session, prepared for it at creation.
struct ProgramDevices {
  std::unique_ptr<rt::Device> device; ///< the requested one
  std::unique_ptr<rt::Device> cpu;    ///< CPU partitions when device isn't
  std::vector<rt::Device *> route;    ///< per partition
  std::vector<AlignedBytes> pool;     ///< free per-run blocks (poolMutex)
};

struct SessionImpl {
  rt::LiveObject live;
  std::shared_ptr<ModelImpl> model;
  std::vector<ProgramDevices> programs; ///< per program of the model
  rt::SessionConfig config;
  tbb::task_arena arena;
  std::mutex inflightMutex;
  std::condition_variable idle;
  size_t inflight = 0; ///< async runs queued or executing
  std::mutex poolMutex;
  /// State buffers, and the lock that orders the runs of a model that has
  /// them: each run reads what the previous one left, so they take turns.
  /// A family's programs share one set.
  std::vector<StateSlot> states;
  std::mutex stateMutex;

  explicit SessionImpl(int threads)
      : arena(threads > 0 ? threads : tbb::task_arena::automatic) {}
  ~SessionImpl() { waitIdle(); }

  void waitIdle() {
    std::unique_lock<std::mutex> lock(inflightMutex);
    idle.wait(lock, [&] { return inflight == 0; });
  }

  AlignedBytes acquireBlock(size_t program) {
    {
      std::lock_guard<std::mutex> lock(poolMutex);
      std::vector<AlignedBytes> &pool = programs[program].pool;
      if (!pool.empty()) {
        AlignedBytes b = std::move(pool.back());
        pool.pop_back();
        return b;
      }
    }
    return allocateAligned(model->programs[program]->blockBytes());
  }
  void releaseBlock(size_t program, AlignedBytes block) {
    std::lock_guard<std::mutex> lock(poolMutex);
    programs[program].pool.push_back(std::move(block));
  }

  StateSlot *findState(const char *name) {
    for (StateSlot &s : states) {
      if (name && s.desc->name == name) {
        return &s;
      }
    }
    return nullptr;
  }
  std::string describeStates() const {
    std::string s;
    for (const StateSlot &st : states) {
      s += (s.empty() ? "" : ", ") + st.desc->name;
    }
    return s.empty() ? "none" : s;
  }
};

/// One partition's figures of a completed execution.
struct PartitionRecord {
  std::string name;
  std::string device;
  rt::Counters counters;
  std::string trace;
};

/// Run-level counters from the partitions': sums, except the cycle-weighted
/// MAC utilization and the wall time, which is the whole execution's.
rt::Counters summarize(const std::vector<PartitionRecord> &parts,
                       double wallSeconds) {
  rt::Counters total;
  total.add("wall_seconds", wallSeconds);
  total.add("partitions_run", double(parts.size()));
  double npu = 0, weighted = 0, cycles = 0;
  for (const PartitionRecord &p : parts) {
    npu += p.device != "cpu";
    cycles += p.counters.get("cycles");
    weighted += p.counters.get("mac_utilization") * p.counters.get("cycles");
  }
  total.add("npu_partitions_run", npu);
  for (const PartitionRecord &p : parts) {
    for (const auto &[name, value] : p.counters.items) {
      if (name != "wall_seconds" && name != "mac_utilization") {
        total.add(name, value);
      }
    }
  }
  if (npu > 0) {
    total.add("mac_utilization", cycles > 0 ? weighted / cycles : 0.0);
  }
  return total;
}

} // namespace

std::atomic<size_t> nuri::rt::liveObjects{0};

nuri_status nuri::rt::makeRuntimeStatus(nuri_status_code code,
                                        std::string message) {
  return makeStatus(code, std::move(message));
}

struct nuri_model_t {
  std::shared_ptr<ModelImpl> impl;
};

struct nuri_session_t {
  std::shared_ptr<SessionImpl> impl;
  nuri_model_t model; ///< handed out by nuri_session_model
};

struct nuri_run_t {
  nuri::rt::LiveObject live;
  std::shared_ptr<SessionImpl> session;
  size_t program = 0; ///< which program of the model this run executes
  // Per model input / output, by position in the model's lists.
  std::vector<const void *> inputs;
  std::vector<void *> boundOutputs;
  std::vector<AlignedBytes> ownedOutputs;
  std::vector<const void *> results; ///< last completed execution
  std::vector<PartitionRecord> partitions;
  rt::Counters counters;
  bool hasResults = false;

  std::mutex mutex;
  std::condition_variable done;
  bool running = false;

  /// The program this run executes (the package itself unless a family).
  const Package &pkg() const { return session->model->program(program); }

  void clearResults() {
    hasResults = false;
    partitions.clear();
    counters = rt::Counters();
  }

  /// The errors a caller can fix before anything runs.
  nuri_status checkBindings() const {
    const Package &p = pkg();
    for (size_t i = 0; i < p.inputs.size(); ++i) {
      if (!inputs[i]) {
        const ValueDesc &v = p.values[p.inputs[i]];
        return makeStatus(NURI_INVALID_ARGUMENT, "missing input '" + v.name +
                                                     "' (expected " +
                                                     typeString(v) + ")");
      }
    }
    return nullptr;
  }

  /// Adds the state bytes CPU partition `part` of a session whose device is
  /// not the CPU reads (device to host) and writes (host to device).
  static void countStateCrossings(const Package &p,
                                  const package::Partition &part,
                                  rt::Counters &counters) {
    // The first CPU partition lists every model input (the model's
    // interface) whether or not its ops read it: only what an op reads
    // crosses.
    const graph::Graph &g = part.graph;
    auto read = [&](int32_t value) {
      for (size_t i = 0; i < part.inputs.size() && i < g.inputs.size(); ++i) {
        if (part.inputs[i] != value) {
          continue;
        }
        for (const graph::Op &op : g.ops) {
          if (std::count(op.inputs.begin(), op.inputs.end(), g.inputs[i])) {
            return true;
          }
        }
      }
      return false;
    };
    for (const package::StateBuffer &st : p.states) {
      double bytes = double(st.byteSize());
      if (read(st.input) || read(st.output)) {
        counters.add("device_to_host_bytes", bytes);
      }
      if (std::count(part.outputs.begin(), part.outputs.end(), st.output)) {
        counters.add("host_to_device_bytes", bytes);
      }
    }
  }

  nuri_status execute() {
    auto start = std::chrono::steady_clock::now();
    clearResults();
    const Package &p = pkg();
    const rt::LoadedModel &model = *session->model->programs[program];
    const ProgramDevices &devices = session->programs[program];
    const std::vector<size_t> &stateIndex = session->model->stateIndex[program];
    rt::RunBuffers buffers;
    buffers.values.assign(p.values.size(), nullptr);
    for (size_t i = 0; i < p.inputs.size(); ++i) {
      // Kernels and the simulator only read inputs.
      buffers.values[p.inputs[i]] = const_cast<void *>(inputs[i]);
    }
    ownedOutputs.resize(p.outputs.size());
    std::vector<void *> outputPtrs(p.outputs.size());
    for (size_t i = 0; i < p.outputs.size(); ++i) {
      void *dst = boundOutputs[i];
      if (!dst) {
        if (!ownedOutputs[i]) {
          ownedOutputs[i] = allocateAligned(
              static_cast<uint64_t>(p.values[p.outputs[i]].byteSize()));
        }
        dst = ownedOutputs[i].get();
      }
      outputPtrs[i] = dst;
      if (!buffers.values[p.outputs[i]]) {
        buffers.values[p.outputs[i]] = dst;
      }
    }
    AlignedBytes block = session->acquireBlock(program);
    for (size_t v = 0; v < p.values.size(); ++v) {
      if (model.valueOffset[v] >= 0) {
        buffers.values[v] = block.get() + model.valueOffset[v];
      }
    }
    buffers.scratch = block.get() + model.valueBytes;
    std::unique_lock<std::mutex> stateLock(session->stateMutex,
                                           std::defer_lock);
    if (!session->states.empty()) {
      stateLock.lock();
      // The session's state k is this program's state stateIndex[k].
      for (size_t k = 0; k < session->states.size(); ++k) {
        const package::StateBuffer &st = p.states[stateIndex[k]];
        buffers.values[st.input] = session->states[k].bytes.get();
        if (st.inPlace) {
          buffers.values[st.output] = session->states[k].bytes.get();
        }
      }
    }
    nuri_status status = nullptr;
    for (size_t i = 0; i < p.partitions.size(); ++i) {
      Result<rt::PartitionResult> r = devices.route[i]->run(i, buffers);
      if (!r) {
        status = makeStatus(NURI_EXECUTION_ERROR, r.error());
        break;
      }
      // States live on the session's device (the sim device keeps them in
      // its memory): a partition that falls back to the CPU reads and
      // writes them across the boundary.
      if (devices.route[i] != devices.device.get()) {
        countStateCrossings(p, p.partitions[i], r->counters);
      }
      partitions.push_back({p.partitions[i].name, std::move(r->device),
                            std::move(r->counters), std::move(r->traceJson)});
    }
    if (!status) {
      // Copied states take the value the run computed.
      for (size_t k = 0; k < session->states.size(); ++k) {
        const package::StateBuffer &st = p.states[stateIndex[k]];
        StateSlot &slot = session->states[k];
        if (!st.inPlace) {
          std::memcpy(slot.bytes.get(), buffers.values[st.output], slot.size);
        }
      }
    }
    if (stateLock.owns_lock()) {
      stateLock.unlock();
    }
    session->releaseBlock(program, std::move(block));
    if (status) {
      partitions.clear();
      return status;
    }
    // A model output that is also a model input passes straight through.
    for (size_t i = 0; i < p.outputs.size(); ++i) {
      const void *src = buffers.values[p.outputs[i]];
      if (src != outputPtrs[i]) {
        std::memcpy(outputPtrs[i], src,
                    static_cast<size_t>(p.values[p.outputs[i]].byteSize()));
      }
    }
    results.assign(outputPtrs.begin(), outputPtrs.end());
    counters = summarize(
        partitions,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count());
    hasResults = true;
    return nullptr;
  }
};

//===----------------------------------------------------------------------===//
// Version, status, dtypes, devices
//===----------------------------------------------------------------------===//

extern "C" {

int nuri_version(void) { return NURI_RUNTIME_VERSION; }

size_t nuri_live_object_count(void) { return nuri::rt::liveObjects.load(); }

const char *nuri_version_string(void) {
#define NURI_STR2(x) #x
#define NURI_STR(x) NURI_STR2(x)
  return NURI_STR(NURI_RUNTIME_VERSION_MAJOR) "." NURI_STR(
      NURI_RUNTIME_VERSION_MINOR) "." NURI_STR(NURI_RUNTIME_VERSION_PATCH);
}

nuri_status_code nuri_status_get_code(nuri_status status) {
  return status ? status->code : NURI_OK;
}

const char *nuri_status_message(nuri_status status) {
  return status ? status->message.c_str() : "";
}

const char *nuri_status_code_name(nuri_status_code code) {
  switch (code) {
  case NURI_OK:
    return "NURI_OK";
  case NURI_INVALID_ARGUMENT:
    return "NURI_INVALID_ARGUMENT";
  case NURI_NOT_FOUND:
    return "NURI_NOT_FOUND";
  case NURI_INVALID_PACKAGE:
    return "NURI_INVALID_PACKAGE";
  case NURI_IO_ERROR:
    return "NURI_IO_ERROR";
  case NURI_UNSUPPORTED:
    return "NURI_UNSUPPORTED";
  case NURI_EXECUTION_ERROR:
    return "NURI_EXECUTION_ERROR";
  case NURI_OUT_OF_MEMORY:
    return "NURI_OUT_OF_MEMORY";
  case NURI_INTERNAL:
    return "NURI_INTERNAL";
  case NURI_BUSY:
    return "NURI_BUSY";
  }
  return "NURI_UNKNOWN";
}

void nuri_status_release(nuri_status status) { delete status; }

const char *nuri_dtype_name(nuri_dtype dtype) {
  return graph::dtypeName(static_cast<graph::DType>(dtype));
}

size_t nuri_dtype_size(nuri_dtype dtype) {
  return graph::dtypeSize(static_cast<graph::DType>(dtype));
}

size_t nuri_device_count(void) { return rt::deviceNames().size(); }

const char *nuri_device_name(size_t index) {
  // Names are interned so the pointer stays valid (static storage).
  static std::mutex mutex;
  static std::vector<std::unique_ptr<std::string>> interned;
  std::vector<std::string> names = rt::deviceNames();
  if (index >= names.size()) {
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(mutex);
  for (const auto &s : interned) {
    if (*s == names[index]) {
      return s->c_str();
    }
  }
  interned.push_back(std::make_unique<std::string>(names[index]));
  return interned.back()->c_str();
}

//===----------------------------------------------------------------------===//
// Models
//===----------------------------------------------------------------------===//

void nuri_model_options_initialize(nuri_model_options *options) {
  if (options) {
    options->verify_checksums = 1;
    options->max_run_bytes = 0;
  }
}

} // extern "C"

namespace {

nuri_status finishLoad(Result<std::shared_ptr<const package::PackageFile>> file,
                       const nuri_model_options *options,
                       nuri_model **out_model) {
  if (!file) {
    return makeStatus(NURI_INVALID_PACKAGE, file.error());
  }
  auto impl = std::make_shared<ModelImpl>();
  impl->file = std::move(*file);
  const Package &whole = impl->pkg();
  // A plain package is one unnamed program.
  std::vector<const Package *> programs;
  if (whole.isFamily()) {
    for (const package::ProgramDesc &p : whole.programs) {
      programs.push_back(p.package.get());
    }
  } else {
    programs.push_back(&whole);
  }
  uint64_t limit = options ? options->max_run_bytes : 0;
  if (limit == 0) {
    limit =
        uint64_t(sysconf(_SC_PHYS_PAGES)) * uint64_t(sysconf(_SC_PAGESIZE)) / 2;
  }
  const std::vector<package::StateBuffer> &states = whole.sessionStates();
  std::shared_ptr<cpu::PackPool> packs =
      whole.isFamily() ? cpu::makePackPool() : nullptr;
  for (size_t i = 0; i < programs.size(); ++i) {
    std::string where =
        whole.isFamily() ? "program '" + whole.programs[i].name + "': " : "";
    Result<std::shared_ptr<const rt::LoadedModel>> loaded =
        rt::prepareModel(impl->file, *programs[i], packs);
    if (!loaded) {
      return makeStatus(NURI_INVALID_PACKAGE, where + loaded.error());
    }
    uint64_t need = (*loaded)->runBytes();
    if (need > limit) {
      return makeStatus(NURI_INVALID_PACKAGE,
                        impl->file->origin() + ": " + where + "a run needs " +
                            std::to_string(need) +
                            " bytes of host memory, more than the limit of " +
                            std::to_string(limit) +
                            " (nuri_model_options.max_run_bytes)");
    }
    impl->programs.push_back(std::move(*loaded));
    // The reader checked that every program declares the same states.
    std::vector<size_t> index;
    for (const package::StateBuffer &st : states) {
      const std::vector<package::StateBuffer> &own = programs[i]->states;
      size_t k = 0;
      while (k < own.size() && own[k].name != st.name) {
        ++k;
      }
      if (k == own.size()) {
        return makeStatus(NURI_INTERNAL, where + "no state '" + st.name + "'");
      }
      index.push_back(k);
    }
    impl->stateIndex.push_back(std::move(index));
  }
  *out_model = new nuri_model_t{std::move(impl)};
  return nullptr;
}

package::ReadOptions readOptions(const nuri_model_options *options) {
  package::ReadOptions o;
  o.verifyChecksums = !options || options->verify_checksums != 0;
  return o;
}

} // namespace

extern "C" {

nuri_status nuri_model_load_file(const char *path,
                                 const nuri_model_options *options,
                                 nuri_model **out_model) {
  return guard([&]() -> nuri_status {
    if (!path || !out_model) {
      return makeStatus(NURI_INVALID_ARGUMENT,
                        "nuri_model_load_file: path and out_model must not "
                        "be NULL");
    }
    if (access(path, R_OK) != 0) {
      return makeStatus(NURI_IO_ERROR, std::string(path) + ": cannot open: " +
                                           std::strerror(errno));
    }
    return finishLoad(package::PackageFile::open(path, readOptions(options)),
                      options, out_model);
  });
}

nuri_status nuri_model_load_memory(const void *data, size_t size,
                                   const nuri_model_options *options,
                                   nuri_model **out_model) {
  return guard([&]() -> nuri_status {
    if ((!data && size) || !out_model) {
      return makeStatus(NURI_INVALID_ARGUMENT,
                        "nuri_model_load_memory: data and out_model must "
                        "not be NULL");
    }
    return finishLoad(
        package::PackageFile::fromMemory(data, size, readOptions(options)),
        options, out_model);
  });
}

void nuri_model_release(nuri_model *model) { delete model; }

size_t nuri_model_input_count(const nuri_model *model) {
  return model ? model->impl->pkg().inputs.size() : 0;
}

size_t nuri_model_output_count(const nuri_model *model) {
  return model ? model->impl->pkg().outputs.size() : 0;
}

static nuri_status ioInfo(const nuri_model *model, size_t index, bool input,
                          nuri_tensor_info *out_info) {
  if (!model || !out_info) {
    return makeStatus(NURI_INVALID_ARGUMENT,
                      "model and out_info must not be NULL");
  }
  const Package &p = model->impl->pkg();
  const std::vector<int32_t> &ids = input ? p.inputs : p.outputs;
  if (index >= ids.size()) {
    return makeStatus(NURI_INVALID_ARGUMENT,
                      std::string(input ? "input" : "output") + " index " +
                          std::to_string(index) + " is out of range (" +
                          std::to_string(ids.size()) + ")");
  }
  *out_info = infoOf(p.values[ids[index]]);
  return nullptr;
}

nuri_status nuri_model_input_info(const nuri_model *model, size_t index,
                                  nuri_tensor_info *out_info) {
  return guard([&] { return ioInfo(model, index, true, out_info); });
}

nuri_status nuri_model_output_info(const nuri_model *model, size_t index,
                                   nuri_tensor_info *out_info) {
  return guard([&] { return ioInfo(model, index, false, out_info); });
}

size_t nuri_model_partition_count(const nuri_model *model) {
  return model ? model->impl->pkg().partitions.size() : 0;
}

size_t nuri_model_npu_partition_count(const nuri_model *model) {
  if (!model) {
    return 0;
  }
  size_t n = 0;
  for (const auto &p : model->impl->pkg().partitions) {
    n += p.kind == package::PartitionKind::Npu;
  }
  return n;
}

const char *nuri_model_target(const nuri_model *model) {
  return model ? model->impl->pkg().targetName.c_str() : "";
}

int32_t nuri_model_timing_only(const nuri_model *model) {
  return model && model->impl->pkg().timingOnly ? 1 : 0;
}

//===----------------------------------------------------------------------===//
// Program families
//===----------------------------------------------------------------------===//

size_t nuri_model_program_count(const nuri_model *model) {
  return model ? model->impl->pkg().programs.size() : 0;
}

} // extern "C"

namespace {

/// Program `index` of `model`, or a status.
nuri_status programAt(const nuri_model *model, size_t index,
                      const package::ProgramDesc **out) {
  if (!model) {
    return makeStatus(NURI_INVALID_ARGUMENT, "model must not be NULL");
  }
  const Package &p = model->impl->pkg();
  if (index >= p.programs.size()) {
    return makeStatus(NURI_INVALID_ARGUMENT,
                      "program index " + std::to_string(index) +
                          " is out of range (" +
                          std::to_string(p.programs.size()) + " programs)");
  }
  *out = &p.programs[index];
  return nullptr;
}

nuri_status programIoInfo(const nuri_model *model, size_t program, size_t index,
                          bool input, nuri_tensor_info *out_info) {
  const package::ProgramDesc *prog = nullptr;
  if (nuri_status s = programAt(model, program, &prog)) {
    return s;
  }
  if (!out_info) {
    return makeStatus(NURI_INVALID_ARGUMENT, "out_info must not be NULL");
  }
  const Package &p = *prog->package;
  const std::vector<int32_t> &ids = input ? p.inputs : p.outputs;
  if (index >= ids.size()) {
    return makeStatus(NURI_INVALID_ARGUMENT,
                      "program '" + prog->name +
                          "': " + (input ? "input" : "output") + " index " +
                          std::to_string(index) + " is out of range (" +
                          std::to_string(ids.size()) + ")");
  }
  *out_info = infoOf(p.values[ids[index]]);
  return nullptr;
}

} // namespace

extern "C" {

nuri_status nuri_model_program_info(const nuri_model *model, size_t index,
                                    nuri_program_info *out_info) {
  return guard([&]() -> nuri_status {
    const package::ProgramDesc *prog = nullptr;
    if (nuri_status s = programAt(model, index, &prog)) {
      return s;
    }
    if (!out_info) {
      return makeStatus(NURI_INVALID_ARGUMENT, "out_info must not be NULL");
    }
    nuri_program_info info{};
    info.name = prog->name.c_str();
    info.kind = static_cast<nuri_program_kind>(prog->kind);
    info.batch = prog->batch;
    info.tokens = prog->tokens;
    info.context = prog->context;
    info.input_count = prog->package->inputs.size();
    info.output_count = prog->package->outputs.size();
    *out_info = info;
    return nullptr;
  });
}

nuri_status nuri_model_program_input_info(const nuri_model *model,
                                          size_t program, size_t index,
                                          nuri_tensor_info *out_info) {
  return guard(
      [&] { return programIoInfo(model, program, index, true, out_info); });
}

nuri_status nuri_model_program_output_info(const nuri_model *model,
                                           size_t program, size_t index,
                                           nuri_tensor_info *out_info) {
  return guard(
      [&] { return programIoInfo(model, program, index, false, out_info); });
}

nuri_status nuri_model_generation_info(const nuri_model *model,
                                       nuri_generation_info *out_info) {
  return guard([&]() -> nuri_status {
    if (!model || !out_info) {
      return makeStatus(NURI_INVALID_ARGUMENT,
                        "model and out_info must not be NULL");
    }
    const Package &p = model->impl->pkg();
    if (!p.isFamily()) {
      return makeStatus(NURI_INVALID_ARGUMENT,
                        "the model is not a program family (compiled "
                        "without --generate): it has no generation info");
    }
    out_info->slots = p.generation.slots;
    out_info->max_seq = p.generation.maxSeq;
    return nullptr;
  });
}

//===----------------------------------------------------------------------===//
// Sessions
//===----------------------------------------------------------------------===//

void nuri_session_options_initialize(nuri_session_options *options) {
  if (options) {
    options->device = "auto";
    options->threads = 0;
    options->trace = 0;
    options->profile = 0;
    options->timing_only = 0;
  }
}

nuri_status nuri_session_create(nuri_model *model,
                                const nuri_session_options *options,
                                nuri_session **out_session) {
  return guard([&]() -> nuri_status {
    if (!model || !out_session) {
      return makeStatus(NURI_INVALID_ARGUMENT,
                        "nuri_session_create: model and out_session must "
                        "not be NULL");
    }
    nuri_session_options defaults;
    nuri_session_options_initialize(&defaults);
    if (!options) {
      options = &defaults;
    }
    std::string name = options->device ? options->device : "auto";
    if (options->threads < 0) {
      return makeStatus(NURI_INVALID_ARGUMENT,
                        "session option threads must be >= 0, got " +
                            std::to_string(options->threads));
    }
    auto impl = std::make_shared<SessionImpl>(options->threads);
    impl->model = model->impl;
    impl->config.trace = options->trace != 0;
    impl->config.profile = options->profile != 0;
    impl->config.timingOnly = options->timing_only != 0;
    const ModelImpl &m = *model->impl;
    // A timing-only package has no NPU weights: only a device that
    // simulates without data can run it, and only when asked to.
    if (m.pkg().timingOnly && !impl->config.timingOnly) {
      return makeStatus(
          NURI_UNSUPPORTED,
          "the package is timing-only (compiled with --timing-only: no "
          "weights); run it on the sim device with the session option "
          "timing_only (nuri run/generate --device sim --timing-only)");
    }
    // Every program gets its own devices, prepared once here; "auto"
    // resolves from the whole family, so all programs get the same device.
    for (size_t i = 0; i < m.programs.size(); ++i) {
      const rt::LoadedModel &loaded = *m.programs[i];
      std::string where = m.pkg().isFamily()
                              ? "program '" + m.pkg().programs[i].name + "': "
                              : "";
      ProgramDevices devices;
      Result<std::unique_ptr<rt::Device>> device =
          rt::createDevice(name, loaded);
      if (!device) {
        return makeStatus(NURI_NOT_FOUND, device.error());
      }
      if (impl->config.timingOnly && std::string((*device)->name()) != "sim") {
        return makeStatus(
            NURI_UNSUPPORTED,
            "device '" + std::string((*device)->name()) +
                "' cannot run timing-only: the sim device simulates timing "
                "without data" +
                (m.pkg().timingOnly ? " (and this timing-only package has no "
                                      "weights for the cpu device to run)"
                                    : ""));
      }
      std::string why = (*device)->check(loaded);
      if (!why.empty()) {
        return makeStatus(NURI_UNSUPPORTED, where + "device '" +
                                                std::string((*device)->name()) +
                                                "': " + why);
      }
      devices.device = std::move(*device);
      // Each partition goes to the device that runs its kind: CPU
      // partitions of a model on "sim" run on a cpu device of the session.
      for (const package::Partition &part : loaded.pkg().partitions) {
        rt::Device *target = devices.device.get();
        if (!target->runs(part.kind)) {
          if (!devices.cpu) {
            Result<std::unique_ptr<rt::Device>> cpu =
                rt::createDevice("cpu", loaded);
            if (!cpu) {
              return makeStatus(NURI_NOT_FOUND, cpu.error());
            }
            devices.cpu = std::move(*cpu);
          }
          target = devices.cpu.get();
          if (!target->runs(part.kind)) {
            return makeStatus(
                NURI_UNSUPPORTED,
                where + "device '" + std::string(devices.device->name()) +
                    "' cannot run " + package::partitionKindName(part.kind) +
                    " partition '" + part.name + "'");
          }
        }
        devices.route.push_back(target);
      }
      for (rt::Device *d : {devices.device.get(), devices.cpu.get()}) {
        if (!d) {
          continue;
        }
        Result<bool> prepared = d->prepare(loaded, impl->config);
        if (!prepared) {
          return makeStatus(NURI_EXECUTION_ERROR,
                            where + "device '" + std::string(d->name()) +
                                "': preparing the model: " + prepared.error());
        }
      }
      impl->programs.push_back(std::move(devices));
    }
    // One set of state buffers, shared by the runs of every program.
    for (const package::StateBuffer &st : m.states()) {
      StateSlot slot;
      slot.desc = &st;
      slot.size = static_cast<size_t>(st.byteSize());
      slot.bytes = allocateAligned(slot.size);
      // Timing only: the contents mean nothing, and a 7B model's cache
      // (GBs) stays untouched host memory.
      if (!impl->config.timingOnly) {
        slot.reset(m.pkg());
      }
      impl->states.push_back(std::move(slot));
    }
    *out_session =
        new nuri_session_t{std::move(impl), nuri_model_t{model->impl}};
    return nullptr;
  });
}

void nuri_session_release(nuri_session *session) {
  if (!session) {
    return;
  }
  session->impl->waitIdle();
  delete session;
}

const nuri_model *nuri_session_model(const nuri_session *session) {
  return session ? &session->model : nullptr;
}

const char *nuri_session_device(const nuri_session *session) {
  return session ? session->impl->programs.front().device->name() : "";
}

//===----------------------------------------------------------------------===//
// Runs
//===----------------------------------------------------------------------===//

} // extern "C"

namespace {

nuri_run *newRun(nuri_session *session, size_t program) {
  auto run = std::make_unique<nuri_run_t>();
  run->session = session->impl;
  run->program = program;
  run->inputs.assign(run->pkg().inputs.size(), nullptr);
  run->boundOutputs.assign(run->pkg().outputs.size(), nullptr);
  return run.release();
}

} // namespace

extern "C" {

nuri_status nuri_run_create(nuri_session *session, nuri_run **out_run) {
  return guard([&]() -> nuri_status {
    if (!session || !out_run) {
      return makeStatus(NURI_INVALID_ARGUMENT,
                        "nuri_run_create: session and out_run must not be "
                        "NULL");
    }
    const ModelImpl &m = *session->impl->model;
    if (m.pkg().isFamily()) {
      return makeStatus(NURI_INVALID_ARGUMENT,
                        "nuri_run_create: the model is a program family; "
                        "create a run of one of its programs with "
                        "nuri_run_create_program: " +
                            m.programNames());
    }
    *out_run = newRun(session, 0);
    return nullptr;
  });
}

nuri_status nuri_run_create_program(nuri_session *session, const char *program,
                                    nuri_run **out_run) {
  return guard([&]() -> nuri_status {
    if (!session || !program || !out_run) {
      return makeStatus(NURI_INVALID_ARGUMENT,
                        "nuri_run_create_program: session, program and "
                        "out_run must not be NULL");
    }
    const ModelImpl &m = *session->impl->model;
    if (!m.pkg().isFamily()) {
      return makeStatus(NURI_INVALID_ARGUMENT,
                        std::string("nuri_run_create_program: the model has "
                                    "no programs (it is not a program "
                                    "family); use nuri_run_create"));
    }
    for (size_t i = 0; i < m.pkg().programs.size(); ++i) {
      if (m.pkg().programs[i].name == program) {
        *out_run = newRun(session, i);
        return nullptr;
      }
    }
    return makeStatus(NURI_NOT_FOUND,
                      std::string("unknown program '") + program +
                          "'; the model's programs are: " + m.programNames());
  });
}

void nuri_run_wait(nuri_run *run) {
  if (!run) {
    return;
  }
  std::unique_lock<std::mutex> lock(run->mutex);
  run->done.wait(lock, [&] { return !run->running; });
}

void nuri_run_release(nuri_run *run) {
  nuri_run_wait(run);
  delete run;
}

} // extern "C"

namespace {

bool isRunning(nuri_run *run) {
  std::lock_guard<std::mutex> lock(run->mutex);
  return run->running;
}

nuri_status busy(const char *what) {
  return makeStatus(NURI_BUSY,
                    std::string(what) + ": the run is executing; wait for it");
}

/// Finds `name` among `ids`; on failure a status listing the known names.
nuri_status findIo(const Package &p, const char *name, bool input,
                   size_t *out_index) {
  const std::vector<int32_t> &ids = input ? p.inputs : p.outputs;
  if (!name) {
    return makeStatus(NURI_INVALID_ARGUMENT, "the name must not be NULL");
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    if (p.values[ids[i]].name == name) {
      *out_index = i;
      return nullptr;
    }
  }
  return makeStatus(NURI_NOT_FOUND,
                    std::string("unknown ") + (input ? "input" : "output") +
                        " '" + name + "'; the model's " +
                        (input ? "inputs are: " + describeInputs(p)
                               : "outputs are: " + describeOutputs(p)));
}

nuri_status checkTensor(const ValueDesc &v, const char *role, nuri_dtype dtype,
                        const int64_t *shape, size_t rank, const void *data,
                        size_t byte_size) {
  if (rank && !shape) {
    return makeStatus(NURI_INVALID_ARGUMENT, std::string(role) + " '" + v.name +
                                                 "': shape is NULL with rank " +
                                                 std::to_string(rank));
  }
  bool same = static_cast<graph::DType>(dtype) == v.dtype &&
              rank == v.shape.size() &&
              std::equal(v.shape.begin(), v.shape.end(), shape);
  if (!same) {
    std::string given =
        graph::dtypeSize(static_cast<graph::DType>(dtype))
            ? typeString(static_cast<graph::DType>(dtype), shape, rank)
            : typeString(graph::DType::F32, shape, rank) + " (unknown dtype " +
                  std::to_string(int(dtype)) + ")";
    if (graph::dtypeSize(static_cast<graph::DType>(dtype)) == 0) {
      std::string s = "[";
      for (size_t i = 0; i < rank; ++i) {
        s += (i ? "," : "") + std::to_string(shape[i]);
      }
      given = s + "] with unknown dtype " + std::to_string(int(dtype));
    }
    return makeStatus(NURI_INVALID_ARGUMENT,
                      std::string(role) + " '" + v.name + "': expected " +
                          typeString(v) + ", given " + given);
  }
  if (byte_size != static_cast<size_t>(v.byteSize())) {
    return makeStatus(NURI_INVALID_ARGUMENT,
                      std::string(role) + " '" + v.name + "': byte_size " +
                          std::to_string(byte_size) + " does not match " +
                          typeString(v) + " (" + std::to_string(v.byteSize()) +
                          " bytes)");
  }
  if (!data && byte_size) {
    return makeStatus(NURI_INVALID_ARGUMENT,
                      std::string(role) + " '" + v.name + "': data is NULL");
  }
  return nullptr;
}

} // namespace

extern "C" {

nuri_status nuri_run_bind_input(nuri_run *run, const char *name,
                                nuri_dtype dtype, const int64_t *shape,
                                size_t rank, const void *data,
                                size_t byte_size) {
  return guard([&]() -> nuri_status {
    if (!run) {
      return makeStatus(NURI_INVALID_ARGUMENT, "run must not be NULL");
    }
    if (isRunning(run)) {
      return busy("nuri_run_bind_input");
    }
    size_t index = 0;
    if (nuri_status s = findIo(run->pkg(), name, true, &index)) {
      return s;
    }
    const Package &p = run->pkg();
    if (nuri_status s = checkTensor(p.values[p.inputs[index]], "input", dtype,
                                    shape, rank, data, byte_size)) {
      return s;
    }
    // An empty tensor still needs a non-null address for the bookkeeping.
    static const uint64_t empty = 0;
    run->inputs[index] = data ? data : &empty;
    return nullptr;
  });
}

nuri_status nuri_run_bind_output(nuri_run *run, const char *name,
                                 nuri_dtype dtype, const int64_t *shape,
                                 size_t rank, void *data, size_t byte_size) {
  return guard([&]() -> nuri_status {
    if (!run) {
      return makeStatus(NURI_INVALID_ARGUMENT, "run must not be NULL");
    }
    if (isRunning(run)) {
      return busy("nuri_run_bind_output");
    }
    size_t index = 0;
    if (nuri_status s = findIo(run->pkg(), name, false, &index)) {
      return s;
    }
    const Package &p = run->pkg();
    if (nuri_status s = checkTensor(p.values[p.outputs[index]], "output", dtype,
                                    shape, rank, data, byte_size)) {
      return s;
    }
    run->boundOutputs[index] = byte_size ? data : nullptr;
    return nullptr;
  });
}

void nuri_run_clear_bindings(nuri_run *run) {
  if (!run || isRunning(run)) {
    return;
  }
  std::fill(run->inputs.begin(), run->inputs.end(), nullptr);
  std::fill(run->boundOutputs.begin(), run->boundOutputs.end(), nullptr);
  run->clearResults();
}

nuri_status nuri_run_execute(nuri_run *run) {
  return guard([&]() -> nuri_status {
    if (!run) {
      return makeStatus(NURI_INVALID_ARGUMENT, "run must not be NULL");
    }
    {
      std::lock_guard<std::mutex> lock(run->mutex);
      if (run->running) {
        return busy("nuri_run_execute");
      }
      run->running = true;
    }
    nuri_status status = run->checkBindings();
    if (!status) {
      // On the calling thread; the kernels' parallel loops join oneTBB's
      // default arena. (Entering the session arena from many threads would
      // hand runs to its workers when its slots are full.)
      status = guard([&] { return run->execute(); });
    }
    std::lock_guard<std::mutex> lock(run->mutex);
    run->running = false;
    run->done.notify_all();
    return status;
  });
}

nuri_status nuri_run_execute_async(nuri_run *run, nuri_run_callback callback,
                                   void *user_data) {
  return guard([&]() -> nuri_status {
    if (!run) {
      return makeStatus(NURI_INVALID_ARGUMENT, "run must not be NULL");
    }
    {
      std::lock_guard<std::mutex> lock(run->mutex);
      if (run->running) {
        return busy("nuri_run_execute_async");
      }
      if (nuri_status s = run->checkBindings()) {
        return s;
      }
      run->running = true;
    }
    SessionImpl &session = *run->session;
    {
      std::lock_guard<std::mutex> lock(session.inflightMutex);
      ++session.inflight;
    }
    NURI_TSAN_RELEASE(run);
    // enqueue, not spawn: it runs even when no thread waits in the arena.
    session.arena.enqueue([run, callback, user_data, &session] {
      NURI_TSAN_ACQUIRE(run);
      nuri_status status = guard([&] { return run->execute(); });
      {
        // Complete before the callback, so that it (or a future it
        // fulfils) can read the outputs or execute again.
        std::lock_guard<std::mutex> lock(run->mutex);
        run->running = false;
        run->done.notify_all();
      }
      if (callback) {
        callback(user_data, run, status);
      } else {
        nuri_status_release(status);
      }
      // Last touch of the session: its release waits for this.
      std::lock_guard<std::mutex> lock(session.inflightMutex);
      --session.inflight;
      session.idle.notify_all();
    });
    return nullptr;
  });
}

nuri_status nuri_run_get_output(nuri_run *run, const char *name,
                                nuri_tensor_info *out_info,
                                const void **out_data) {
  return guard([&]() -> nuri_status {
    if (!run || !out_info || !out_data) {
      return makeStatus(NURI_INVALID_ARGUMENT,
                        "run, out_info and out_data must not be NULL");
    }
    if (isRunning(run)) {
      return busy("nuri_run_get_output");
    }
    size_t index = 0;
    if (nuri_status s = findIo(run->pkg(), name, false, &index)) {
      return s;
    }
    if (!run->hasResults) {
      return makeStatus(NURI_INVALID_ARGUMENT,
                        std::string("output '") + name +
                            "': the run has not completed an execution");
    }
    const Package &p = run->pkg();
    *out_info = infoOf(p.values[p.outputs[index]]);
    *out_data = run->results[index];
    return nullptr;
  });
}

} // extern "C"

namespace {

nuri_status checkCompleted(const nuri_run *run, const char *what) {
  if (!run) {
    return makeStatus(NURI_INVALID_ARGUMENT, "run must not be NULL");
  }
  if (isRunning(const_cast<nuri_run *>(run))) {
    return busy(what);
  }
  if (!run->hasResults) {
    return makeStatus(NURI_INVALID_ARGUMENT,
                      std::string(what) +
                          ": the run has not completed an execution");
  }
  return nullptr;
}

nuri_status counterAt(const rt::Counters &counters, size_t index,
                      nuri_counter *out_counter) {
  if (!out_counter) {
    return makeStatus(NURI_INVALID_ARGUMENT, "out_counter must not be NULL");
  }
  if (index >= counters.items.size()) {
    return makeStatus(NURI_INVALID_ARGUMENT,
                      "counter index " + std::to_string(index) +
                          " is out of range (" +
                          std::to_string(counters.items.size()) + ")");
  }
  out_counter->name = counters.items[index].first.c_str();
  out_counter->value = counters.items[index].second;
  return nullptr;
}

nuri_status partitionAt(const nuri_run *run, size_t index, const char *what,
                        const PartitionRecord **out) {
  if (nuri_status s = checkCompleted(run, what)) {
    return s;
  }
  if (index >= run->partitions.size()) {
    return makeStatus(NURI_INVALID_ARGUMENT,
                      std::string(what) + ": partition index " +
                          std::to_string(index) + " is out of range (" +
                          std::to_string(run->partitions.size()) +
                          " partitions ran)");
  }
  *out = &run->partitions[index];
  return nullptr;
}

} // namespace

extern "C" {

size_t nuri_run_counter_count(const nuri_run *run) {
  if (!run || isRunning(const_cast<nuri_run *>(run)) || !run->hasResults) {
    return 0;
  }
  return run->counters.items.size();
}

nuri_status nuri_run_get_counter(const nuri_run *run, size_t index,
                                 nuri_counter *out_counter) {
  return guard([&]() -> nuri_status {
    if (nuri_status s = checkCompleted(run, "nuri_run_get_counter")) {
      return s;
    }
    return counterAt(run->counters, index, out_counter);
  });
}

nuri_status nuri_run_find_counter(const nuri_run *run, const char *name,
                                  double *out_value) {
  return guard([&]() -> nuri_status {
    if (nuri_status s = checkCompleted(run, "nuri_run_find_counter")) {
      return s;
    }
    if (!name || !out_value) {
      return makeStatus(NURI_INVALID_ARGUMENT,
                        "name and out_value must not be NULL");
    }
    for (const auto &[n, v] : run->counters.items) {
      if (n == name) {
        *out_value = v;
        return nullptr;
      }
    }
    return makeStatus(NURI_NOT_FOUND,
                      std::string("no counter '") + name + "' in this run");
  });
}

size_t nuri_run_partition_count(const nuri_run *run) {
  if (!run || isRunning(const_cast<nuri_run *>(run)) || !run->hasResults) {
    return 0;
  }
  return run->partitions.size();
}

nuri_status nuri_run_get_partition_info(const nuri_run *run, size_t index,
                                        nuri_partition_info *out_info) {
  return guard([&]() -> nuri_status {
    const PartitionRecord *p = nullptr;
    if (nuri_status s =
            partitionAt(run, index, "nuri_run_get_partition_info", &p)) {
      return s;
    }
    if (!out_info) {
      return makeStatus(NURI_INVALID_ARGUMENT, "out_info must not be NULL");
    }
    out_info->name = p->name.c_str();
    out_info->device = p->device.c_str();
    out_info->counter_count = p->counters.items.size();
    out_info->trace_json = p->trace.c_str();
    return nullptr;
  });
}

nuri_status nuri_run_get_partition_counter(const nuri_run *run,
                                           size_t partition, size_t index,
                                           nuri_counter *out_counter) {
  return guard([&]() -> nuri_status {
    const PartitionRecord *p = nullptr;
    if (nuri_status s =
            partitionAt(run, partition, "nuri_run_get_partition_counter", &p)) {
      return s;
    }
    return counterAt(p->counters, index, out_counter);
  });
}

//===----------------------------------------------------------------------===//
// State buffers
//===----------------------------------------------------------------------===//

size_t nuri_model_state_count(const nuri_model *model) {
  return model ? model->impl->states().size() : 0;
}

nuri_status nuri_model_state_info(const nuri_model *model, size_t index,
                                  nuri_tensor_info *out_info) {
  return guard([&]() -> nuri_status {
    if (!model || !out_info) {
      return makeStatus(NURI_INVALID_ARGUMENT,
                        "model and out_info must not be NULL");
    }
    const std::vector<package::StateBuffer> &states = model->impl->states();
    if (index >= states.size()) {
      return makeStatus(NURI_INVALID_ARGUMENT,
                        "state index " + std::to_string(index) +
                            " is out of range (" +
                            std::to_string(states.size()) + ")");
    }
    const package::StateBuffer &st = states[index];
    nuri_tensor_info info{};
    info.name = st.name.c_str();
    info.dtype = static_cast<nuri_dtype>(st.dtype);
    info.rank = st.shape.size();
    info.shape = st.shape.data();
    info.byte_size = static_cast<size_t>(st.byteSize());
    info.quant_axis = -1;
    *out_info = info;
    return nullptr;
  });
}

} // extern "C"

namespace {

/// The state `name` of `session` with `byte_size` checked against it.
nuri_status findState(nuri_session *session, const char *name, size_t bytes,
                      bool checkBytes, StateSlot **out) {
  if (!session) {
    return makeStatus(NURI_INVALID_ARGUMENT, "session must not be NULL");
  }
  StateSlot *st = session->impl->findState(name);
  if (!st) {
    return makeStatus(
        NURI_NOT_FOUND,
        std::string("unknown state '") + (name ? name : "") +
            "'; the model's states are: " + session->impl->describeStates());
  }
  if (checkBytes && bytes != st->size) {
    return makeStatus(NURI_INVALID_ARGUMENT,
                      "state '" + st->desc->name + "': byte_size " +
                          std::to_string(bytes) + " does not match " +
                          typeString(st->desc->dtype, st->desc->shape.data(),
                                     st->desc->shape.size()) +
                          " (" + std::to_string(st->size) + " bytes)");
  }
  *out = st;
  return nullptr;
}

/// Reading and writing a state check the same arguments and take the same
/// lock; only the direction of `copy(slot)` differs.
template <typename Copy>
nuri_status copyState(nuri_session *session, const char *name, const void *data,
                      size_t byte_size, Copy copy) {
  StateSlot *st = nullptr;
  if (nuri_status s = findState(session, name, byte_size, true, &st)) {
    return s;
  }
  if (!data && byte_size) {
    return makeStatus(NURI_INVALID_ARGUMENT, "data must not be NULL");
  }
  std::lock_guard<std::mutex> lock(session->impl->stateMutex);
  copy(*st);
  return nullptr;
}

} // namespace

extern "C" {

nuri_status nuri_session_read_state(nuri_session *session, const char *name,
                                    void *data, size_t byte_size) {
  return guard([&]() -> nuri_status {
    return copyState(session, name, data, byte_size, [&](StateSlot &st) {
      std::memcpy(data, st.bytes.get(), st.size);
    });
  });
}

nuri_status nuri_session_write_state(nuri_session *session, const char *name,
                                     const void *data, size_t byte_size) {
  return guard([&]() -> nuri_status {
    return copyState(session, name, data, byte_size, [&](StateSlot &st) {
      std::memcpy(st.bytes.get(), data, st.size);
    });
  });
}

nuri_status nuri_session_reset_state(nuri_session *session, const char *name) {
  return guard([&]() -> nuri_status {
    if (!session) {
      return makeStatus(NURI_INVALID_ARGUMENT, "session must not be NULL");
    }
    SessionImpl &impl = *session->impl;
    if (!name) {
      std::lock_guard<std::mutex> lock(impl.stateMutex);
      for (StateSlot &st : impl.states) {
        st.reset(impl.model->pkg());
      }
      return nullptr;
    }
    StateSlot *st = nullptr;
    if (nuri_status s = findState(session, name, 0, false, &st)) {
      return s;
    }
    std::lock_guard<std::mutex> lock(impl.stateMutex);
    st->reset(impl.model->pkg());
    return nullptr;
  });
}

} // extern "C"
