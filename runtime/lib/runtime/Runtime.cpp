//===- Runtime.cpp - The C API: models, sessions, runs --------------------===//
//
// Every entry point catches everything: a C caller never sees an exception,
// only a nuri_status.
//
//===----------------------------------------------------------------------===//

#include "nuri/runtime.h"

#include "Device.h"

#include <oneapi/tbb/task_arena.h>

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

struct ModelImpl {
  std::shared_ptr<const rt::LoadedModel> loaded;
  const Package &pkg() const { return loaded->pkg(); }
  std::string describeInputs() const {
    std::string s;
    for (int32_t id : pkg().inputs) {
      s += (s.empty() ? "" : ", ") + pkg().values[id].name + " " +
           typeString(pkg().values[id]);
    }
    return s.empty() ? "none" : s;
  }
  std::string describeOutputs() const {
    std::string s;
    for (int32_t id : pkg().outputs) {
      s += (s.empty() ? "" : ", ") + pkg().values[id].name;
    }
    return s.empty() ? "none" : s;
  }
};

struct SessionImpl {
  std::shared_ptr<ModelImpl> model;
  std::unique_ptr<rt::Device> device;
  tbb::task_arena arena;
  std::mutex inflightMutex;
  std::condition_variable idle;
  size_t inflight = 0; ///< async runs queued or executing
  std::mutex poolMutex;
  std::vector<AlignedBytes> pool; ///< free per-run blocks

  explicit SessionImpl(int threads)
      : arena(threads > 0 ? threads : tbb::task_arena::automatic) {}
  ~SessionImpl() { waitIdle(); }

  void waitIdle() {
    std::unique_lock<std::mutex> lock(inflightMutex);
    idle.wait(lock, [&] { return inflight == 0; });
  }

  AlignedBytes acquireBlock() {
    {
      std::lock_guard<std::mutex> lock(poolMutex);
      if (!pool.empty()) {
        AlignedBytes b = std::move(pool.back());
        pool.pop_back();
        return b;
      }
    }
    return allocateAligned(model->loaded->blockBytes());
  }
  void releaseBlock(AlignedBytes block) {
    std::lock_guard<std::mutex> lock(poolMutex);
    pool.push_back(std::move(block));
  }
};

} // namespace

struct nuri_model_t {
  std::shared_ptr<ModelImpl> impl;
};

struct nuri_session_t {
  std::shared_ptr<SessionImpl> impl;
};

struct nuri_run_t {
  std::shared_ptr<SessionImpl> session;
  // Per model input / output, by position in the model's lists.
  std::vector<const void *> inputs;
  std::vector<void *> boundOutputs;
  std::vector<AlignedBytes> ownedOutputs;
  std::vector<const void *> results; ///< last completed execution
  std::vector<rt::PartitionStats> partitionStats;
  nuri_run_stats stats{};
  bool hasResults = false;

  std::mutex mutex;
  std::condition_variable done;
  bool running = false;

  const Package &pkg() const { return session->model->pkg(); }

  void clearResults() {
    hasResults = false;
    partitionStats.clear();
    stats = nuri_run_stats{};
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

  nuri_status execute() {
    auto start = std::chrono::steady_clock::now();
    clearResults();
    const Package &p = pkg();
    const rt::LoadedModel &model = *session->model->loaded;
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
    AlignedBytes block = session->acquireBlock();
    for (size_t v = 0; v < p.values.size(); ++v) {
      if (model.valueOffset[v] >= 0) {
        buffers.values[v] = block.get() + model.valueOffset[v];
      }
    }
    buffers.scratch = block.get() + model.valueBytes;
    nuri_status status = nullptr;
    double weightedUtil = 0;
    for (size_t i = 0; i < p.partitions.size(); ++i) {
      Result<rt::PartitionStats> s = session->device->run(model, i, buffers);
      if (!s) {
        status = makeStatus(NURI_EXECUTION_ERROR, s.error());
        break;
      }
      partitionStats.push_back(*s);
      if (s->npu) {
        ++stats.npu_partitions_run;
        stats.sim_cycles += s->cycles;
        stats.sim_seconds += s->simSeconds;
        stats.sim_dram_bytes += s->dramBytes;
        weightedUtil += s->macUtilization * double(s->cycles);
      }
    }
    session->releaseBlock(std::move(block));
    if (status) {
      partitionStats.clear();
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
    stats.partitions_run = partitionStats.size();
    stats.sim_mac_utilization =
        stats.sim_cycles ? weightedUtil / double(stats.sim_cycles) : 0.0;
    stats.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    hasResults = true;
    return nullptr;
  }
};

//===----------------------------------------------------------------------===//
// Version, status, dtypes, devices
//===----------------------------------------------------------------------===//

extern "C" {

int nuri_version(void) { return NURI_RUNTIME_VERSION; }

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
  Result<std::shared_ptr<const rt::LoadedModel>> loaded =
      rt::prepareModel(std::move(*file));
  if (!loaded) {
    return makeStatus(NURI_INVALID_PACKAGE, loaded.error());
  }
  uint64_t limit = options ? options->max_run_bytes : 0;
  if (limit == 0) {
    limit =
        uint64_t(sysconf(_SC_PHYS_PAGES)) * uint64_t(sysconf(_SC_PAGESIZE)) / 2;
  }
  uint64_t need = (*loaded)->runBytes();
  if (need > limit) {
    return makeStatus(
        NURI_INVALID_PACKAGE,
        (*loaded)->file->origin() + ": a run needs " + std::to_string(need) +
            " bytes of host memory, more than the limit of " +
            std::to_string(limit) + " (nuri_model_options.max_run_bytes)");
  }
  auto impl = std::make_shared<ModelImpl>();
  impl->loaded = std::move(*loaded);
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

//===----------------------------------------------------------------------===//
// Sessions
//===----------------------------------------------------------------------===//

void nuri_session_options_initialize(nuri_session_options *options) {
  if (options) {
    options->device = "auto";
    options->threads = 0;
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
    const rt::LoadedModel &loaded = *model->impl->loaded;
    Result<std::unique_ptr<rt::Device>> device = rt::createDevice(name, loaded);
    if (!device) {
      return makeStatus(NURI_NOT_FOUND, device.error());
    }
    std::string why = (*device)->check(loaded);
    if (!why.empty()) {
      return makeStatus(NURI_UNSUPPORTED, "device '" +
                                              std::string((*device)->name()) +
                                              "': " + why);
    }
    auto impl = std::make_shared<SessionImpl>(options->threads);
    impl->model = model->impl;
    impl->device = std::move(*device);
    *out_session = new nuri_session_t{std::move(impl)};
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

const char *nuri_session_device(const nuri_session *session) {
  return session ? session->impl->device->name() : "";
}

//===----------------------------------------------------------------------===//
// Runs
//===----------------------------------------------------------------------===//

nuri_status nuri_run_create(nuri_session *session, nuri_run **out_run) {
  return guard([&]() -> nuri_status {
    if (!session || !out_run) {
      return makeStatus(NURI_INVALID_ARGUMENT,
                        "nuri_run_create: session and out_run must not be "
                        "NULL");
    }
    auto run = std::make_unique<nuri_run_t>();
    run->session = session->impl;
    run->inputs.assign(run->pkg().inputs.size(), nullptr);
    run->boundOutputs.assign(run->pkg().outputs.size(), nullptr);
    *out_run = run.release();
    return nullptr;
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
nuri_status findIo(const ModelImpl &model, const char *name, bool input,
                   size_t *out_index) {
  const Package &p = model.pkg();
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
                        (input ? "inputs are: " + model.describeInputs()
                               : "outputs are: " + model.describeOutputs()));
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
    if (nuri_status s = findIo(*run->session->model, name, true, &index)) {
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
    if (nuri_status s = findIo(*run->session->model, name, false, &index)) {
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
    if (nuri_status s = findIo(*run->session->model, name, false, &index)) {
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

nuri_status nuri_run_get_stats(const nuri_run *run, nuri_run_stats *out_stats) {
  return guard([&]() -> nuri_status {
    if (!run || !out_stats) {
      return makeStatus(NURI_INVALID_ARGUMENT,
                        "run and out_stats must not be NULL");
    }
    if (isRunning(const_cast<nuri_run *>(run))) {
      return busy("nuri_run_get_stats");
    }
    *out_stats = run->stats;
    return nullptr;
  });
}

nuri_status nuri_run_get_partition_stats(const nuri_run *run, size_t index,
                                         nuri_partition_stats *out_stats) {
  return guard([&]() -> nuri_status {
    if (!run || !out_stats) {
      return makeStatus(NURI_INVALID_ARGUMENT,
                        "run and out_stats must not be NULL");
    }
    if (isRunning(const_cast<nuri_run *>(run))) {
      return busy("nuri_run_get_partition_stats");
    }
    if (index >= run->partitionStats.size()) {
      return makeStatus(
          NURI_INVALID_ARGUMENT,
          "partition index " + std::to_string(index) + " is out of range (" +
              std::to_string(run->partitionStats.size()) + " partitions ran)");
    }
    const rt::PartitionStats &s = run->partitionStats[index];
    out_stats->name = run->pkg().partitions[index].name.c_str();
    out_stats->device = s.npu ? "sim" : "cpu";
    out_stats->wall_seconds = s.wallSeconds;
    out_stats->sim_cycles = s.cycles;
    out_stats->sim_seconds = s.simSeconds;
    out_stats->sim_mac_utilization = s.macUtilization;
    out_stats->sim_dram_bytes = s.dramBytes;
    return nullptr;
  });
}

} // extern "C"
