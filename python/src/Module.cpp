//===- Module.cpp - The nuri._nuri extension module -----------------------===//
//
// pybind11 bindings of the runtime's C++ wrapper (nuri/runtime.hpp) and of
// the compiler driver library (nuri::driver, nuri::dse, nuri::target): the
// same code `nuri compile`, `run`, `generate` and `sweep` call, never the
// CLI itself. nuri/__init__.py builds the public API over these; the
// classes here are what it hands out (docs/python.md).
//
// Outputs reach numpy without a copy: each Session::run leases a nuri::Run
// from the session's pool, and every output array's base is one Buffer
// owning that lease. The Run goes back to the pool when the last array of
// the call dies, so a loop that drops its outputs reuses one Run.
//
//===----------------------------------------------------------------------===//

#include "nuri/Driver/Compile.h"
#include "nuri/Driver/Generate.h"
#include "nuri/Dse/Sweep.h"
#include "nuri/runtime.hpp"
#include "nuri/sim/Energy.h"
#include "nuri/target/Target.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/raw_ostream.h"

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fmt/format.h>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace py = pybind11;

namespace {

/// The Python-side error type, nuri.Error (a RuntimeError). Set at import.
PyObject *errorType = nullptr;

/// A failure outside the runtime (a compile, a sweep, a bad argument the
/// binding itself checks), raised as nuri.Error with `code`.
struct Failure : std::runtime_error {
  Failure(std::string code, const std::string &message)
      : std::runtime_error(message), code(std::move(code)) {}
  std::string code;
};

void raise(const char *code, const char *message) {
  py::object error =
      py::reinterpret_borrow<py::object>(errorType)(py::str(message));
  error.attr("code") = py::str(code);
  PyErr_SetObject(errorType, error.ptr());
}

//===----------------------------------------------------------------------===//
// dtypes: numpy has no bf16 or fp8, so they travel as uint16 / uint8 bit
// patterns (the same convention `nuri run` uses for .npy files).
//===----------------------------------------------------------------------===//

py::dtype numpyDtype(nuri_dtype d) {
  switch (d) {
  case NURI_DTYPE_F32:
    return py::dtype::of<float>();
  case NURI_DTYPE_F16:
    return py::dtype("float16");
  case NURI_DTYPE_BF16:
  case NURI_DTYPE_U16:
    return py::dtype::of<uint16_t>();
  case NURI_DTYPE_F64:
    return py::dtype::of<double>();
  case NURI_DTYPE_I8:
    return py::dtype::of<int8_t>();
  case NURI_DTYPE_I16:
    return py::dtype::of<int16_t>();
  case NURI_DTYPE_I32:
    return py::dtype::of<int32_t>();
  case NURI_DTYPE_I64:
    return py::dtype::of<int64_t>();
  case NURI_DTYPE_U8:
  case NURI_DTYPE_F8E4M3:
  case NURI_DTYPE_F8E5M2:
    return py::dtype::of<uint8_t>();
  case NURI_DTYPE_U32:
    return py::dtype::of<uint32_t>();
  case NURI_DTYPE_U64:
    return py::dtype::of<uint64_t>();
  case NURI_DTYPE_BOOL:
    return py::dtype::of<bool>();
  }
  return py::dtype::of<uint8_t>();
}

/// The Nuri dtype of a numpy array bound where `wanted` is expected; false
/// for a numpy type Nuri has no equivalent of. A uint16 array binds to a
/// bf16 tensor and a uint8 array to an fp8 one (their bit patterns).
bool nuriDtype(const py::dtype &dt, nuri_dtype wanted, nuri_dtype &out) {
  char kind = dt.kind();
  size_t size = dt.itemsize();
  if (kind == 'f') {
    out = size == 4   ? NURI_DTYPE_F32
          : size == 8 ? NURI_DTYPE_F64
          : size == 2 ? NURI_DTYPE_F16
                      : out;
    return size == 2 || size == 4 || size == 8;
  }
  if (kind == 'b') {
    out = NURI_DTYPE_BOOL;
    return true;
  }
  if (kind == 'i') {
    switch (size) {
    case 1:
      out = NURI_DTYPE_I8;
      return true;
    case 2:
      out = NURI_DTYPE_I16;
      return true;
    case 4:
      out = NURI_DTYPE_I32;
      return true;
    case 8:
      out = NURI_DTYPE_I64;
      return true;
    }
    return false;
  }
  if (kind == 'u') {
    switch (size) {
    case 1:
      out = (wanted == NURI_DTYPE_F8E4M3 || wanted == NURI_DTYPE_F8E5M2)
                ? wanted
                : NURI_DTYPE_U8;
      return true;
    case 2:
      out = wanted == NURI_DTYPE_BF16 ? NURI_DTYPE_BF16 : NURI_DTYPE_U16;
      return true;
    case 4:
      out = NURI_DTYPE_U32;
      return true;
    case 8:
      out = NURI_DTYPE_U64;
      return true;
    }
  }
  return false;
}

py::dict tensorInfoDict(const nuri::TensorInfo &t) {
  py::dict d;
  d["name"] = t.name;
  d["dtype"] = nuri_dtype_name(t.dtype);
  d["shape"] = py::tuple(py::cast(t.shape));
  d["numpy_dtype"] = numpyDtype(t.dtype);
  if (!t.quantScales.empty()) {
    d["scales"] = t.quantScales;
    d["zero_points"] = t.quantZeroPoints;
    d["axis"] = t.quantAxis;
  }
  return d;
}

py::list tensorInfoList(const std::vector<nuri::TensorInfo> &ts) {
  py::list out;
  for (const nuri::TensorInfo &t : ts) {
    out.append(tensorInfoDict(t));
  }
  return out;
}

/// Counters print as in `nuri run --json`: counts as ints, the rest floats.
py::dict countersDict(const nuri::Counters &counters) {
  py::dict d;
  for (const auto &[name, value] : counters.items) {
    if (value == std::floor(value) && std::fabs(value) < 9e15 &&
        name.find("seconds") == std::string::npos &&
        name.find("utilization") == std::string::npos) {
      d[py::str(name)] = int64_t(value);
    } else {
      d[py::str(name)] = value;
    }
  }
  return d;
}

/// energy_j / average_power_w by component from the sim device's
/// `energy_j.<component>` counters, as `nuri run --json` reports them.
void addEnergy(py::dict &sim, const nuri::Counters &counters) {
  nuri::sim::EnergyReport e;
  e.seconds = counters.get("device_seconds");
  for (const auto &[name, value] : counters.items) {
    if (name.rfind("energy_j.", 0) == 0) {
      e.modeled = true;
      e.joules.emplace_back(name.substr(std::strlen("energy_j.")), value);
    }
  }
  if (!e.modeled) {
    sim["energy_j"] = py::none();
    sim["average_power_w"] = py::none();
    return;
  }
  py::dict energy, power;
  energy["total"] = e.totalJoules();
  power["total"] = e.averagePowerW();
  for (const auto &[component, joules] : e.joules) {
    energy[py::str(component)] = joules;
    power[py::str(component)] = e.seconds > 0 ? joules / e.seconds : 0.0;
  }
  sim["energy_j"] = energy;
  sim["average_power_w"] = power;
}

//===----------------------------------------------------------------------===//
// Package: compiled bytes with their report, or a file on disk.
//===----------------------------------------------------------------------===//

py::dict reportDict(const nuri::driver::Report &r, const std::string &text) {
  py::dict d;
  d["target"] = r.target;
  d["dtype"] = r.dtype;
  d["npu_ops"] = r.npuOps;
  d["cpu_ops"] = r.cpuOps;
  d["npu_macs"] = r.npuMacs;
  d["cpu_macs"] = r.cpuMacs;
  d["seconds"] = r.seconds;
  py::list parts;
  for (const nuri::driver::PartitionInfo &p : r.partitions) {
    py::dict q;
    q["name"] = p.name;
    q["device"] = p.npu ? "npu" : "cpu";
    q["ops"] = p.ops;
    q["inputs"] = p.inputs;
    q["outputs"] = p.outputs;
    q["predicted_cycles"] = p.predictedCycles;
    q["simulated_cycles"] = p.simulatedCycles;
    q["mac_utilization"] = p.macUtilization;
    q["flops"] = p.flops;
    q["weight_bytes"] = p.weightBytes;
    q["io_bytes"] = p.ioBytes;
    parts.append(q);
  }
  d["partitions"] = parts;
  py::list fallbacks;
  for (const nuri::driver::Fallback &f : r.fallbacks) {
    py::dict q;
    q["op"] = f.op;
    q["reason"] = f.reason;
    q["count"] = f.count;
    q["example"] = f.example;
    fallbacks.append(q);
  }
  d["fallbacks"] = fallbacks;
  py::list layers;
  for (const nuri::driver::LayerInfo &l : r.layers) {
    py::dict q;
    q["name"] = l.name;
    q["ops"] = l.ops;
    q["predicted_cycles"] = l.predictedCycles;
    q["simulated_cycles"] = l.simulatedCycles;
    q["flops"] = l.flops;
    q["weight_bytes"] = l.weightBytes;
    layers.append(q);
  }
  d["layers"] = layers;
  py::list ops;
  for (const nuri::driver::OpEstimate &o : r.opEstimates) {
    py::dict q;
    q["partition"] = o.partition;
    q["location"] = o.location;
    q["kind"] = o.kind;
    q["layer"] = o.layer;
    q["predicted_cycles"] = o.predictedCycles;
    q["simulated_cycles"] = o.simulatedCycles;
    ops.append(q);
  }
  d["ops"] = ops;
  d["quantization"] = r.quantization;
  d["text"] = text;
  return d;
}

class Package {
public:
  static std::shared_ptr<Package> fromBytes(std::vector<uint8_t> bytes,
                                            py::object report) {
    auto p = std::make_shared<Package>();
    p->bytes_ = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
    p->report_ = std::move(report);
    p->model_ = nuri::Model::loadMemory(p->bytes_->data(), p->bytes_->size());
    return p;
  }
  static std::shared_ptr<Package> fromFile(const std::string &path) {
    auto p = std::make_shared<Package>();
    p->path_ = path;
    p->report_ = py::none();
    p->model_ = nuri::Model::loadFile(path);
    return p;
  }

  void save(const std::string &path) const {
    std::vector<uint8_t> data = bytes();
    FILE *f = std::fopen(path.c_str(), "wb");
    if (!f) {
      throw Failure("NURI_IO_ERROR",
                    path + ": cannot write: " + std::strerror(errno));
    }
    size_t n = std::fwrite(data.data(), 1, data.size(), f);
    bool ok = n == data.size() && std::fclose(f) == 0;
    if (!ok) {
      throw Failure("NURI_IO_ERROR", path + ": cannot write");
    }
  }
  std::vector<uint8_t> bytes() const {
    if (bytes_) {
      return *bytes_;
    }
    FILE *f = std::fopen(path_.c_str(), "rb");
    if (!f) {
      throw Failure("NURI_IO_ERROR",
                    path_ + ": cannot read: " + std::strerror(errno));
    }
    std::vector<uint8_t> out;
    uint8_t buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
      out.insert(out.end(), buf, buf + n);
    }
    std::fclose(f);
    return out;
  }

  const nuri::Model &model() const { return *model_; }
  py::object report() const { return report_; }
  std::string path() const { return path_; }

private:
  std::shared_ptr<std::vector<uint8_t>> bytes_;
  std::string path_;
  py::object report_;
  std::optional<nuri::Model> model_;
};

//===----------------------------------------------------------------------===//
// Session, its pool of runs, and the buffers that own leased runs.
//===----------------------------------------------------------------------===//

/// Runs alive in every session's pool or lease (the leak test reads it).
std::atomic<int64_t> liveRuns{0};

class SessionState;

/// A Run taken from a session's pool; back into the pool when destroyed.
struct RunLease {
  std::shared_ptr<SessionState> owner;
  std::string program;
  std::unique_ptr<nuri::Run> run;
  ~RunLease();
};

/// What a session.run() call's output arrays keep alive (their numpy
/// base): the run whose buffers they view.
struct Buffer {
  std::unique_ptr<RunLease> lease;
  std::vector<std::string> names() const;
};

/// Serializes the generators of one session (they would share its cache)
/// without a mutex held across Python calls: a flag and the thread that set
/// it, so a thread that re-enters (generate() inside a generate_stream
/// loop) gets an error instead of a deadlock.
struct GenerationGate {
  std::mutex mu;
  std::condition_variable cv;
  bool busy = false;
  std::thread::id owner;

  void acquire() {
    bool reentrant = false;
    {
      // Waits without the GIL, and lets go of `mu` before taking the GIL
      // back (`lock` dies first): a thread holding the GIL never waits for
      // `mu` held by one waiting for the GIL.
      py::gil_scoped_release release;
      std::unique_lock<std::mutex> lock(mu);
      if (busy && owner == std::this_thread::get_id()) {
        reentrant = true;
      } else {
        cv.wait(lock, [&] { return !busy; });
        busy = true;
        owner = std::this_thread::get_id();
      }
    }
    if (reentrant) {
      throw Failure("NURI_BUSY",
                    "this session is already generating on this thread (an "
                    "unfinished generate_stream): exhaust or close() it "
                    "first");
    }
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mu);
      busy = false;
    }
    cv.notify_all();
  }
};

class SessionState : public std::enable_shared_from_this<SessionState> {
public:
  SessionState(std::shared_ptr<Package> package, const std::string &device,
               const nuri::SessionOptions &options)
      : package(std::move(package)),
        session(this->package->model(), device, options) {
    const nuri::Model &model = this->package->model();
    addIo("", model.inputs(), model.outputs());
    for (const nuri::ProgramInfo &p : model.programs()) {
      addIo(p.name, p.inputs, p.outputs);
    }
  }
  ~SessionState() {
    for (auto &[program, runs] : pool) {
      liveRuns -= int64_t(runs.size());
    }
  }

  std::unique_ptr<RunLease> lease(const std::string &program) {
    auto l = std::make_unique<RunLease>();
    l->owner = shared_from_this();
    l->program = program;
    {
      std::lock_guard<std::mutex> lock(mu);
      std::vector<std::unique_ptr<nuri::Run>> &free = pool[program];
      if (!free.empty()) {
        l->run = std::move(free.back());
        free.pop_back();
      }
    }
    if (!l->run) {
      // Throws (e.g. a family without a program name) before counting.
      l->run = std::make_unique<nuri::Run>(
          program.empty() ? session.newRun() : session.newRun(program));
      ++liveRuns;
    }
    return l;
  }
  void giveBack(std::string program, std::unique_ptr<nuri::Run> run) {
    std::lock_guard<std::mutex> lock(mu);
    pool[program].push_back(std::move(run));
  }
  size_t pooled() {
    std::lock_guard<std::mutex> lock(mu);
    size_t n = 0;
    for (auto &[program, runs] : pool) {
      n += runs.size();
    }
    return n;
  }
  /// A program's inputs and outputs, with the Python objects each run
  /// hands out made once (output names and dtypes).
  struct Io {
    std::vector<nuri::TensorInfo> inputs, outputs;
    std::vector<py::object> outputNames;
    std::vector<py::dtype> outputDtypes;
  };
  const Io *io(const std::string &program) const {
    auto it = ios.find(program);
    return it == ios.end() ? nullptr : &it->second;
  }

  std::shared_ptr<Package> package;
  nuri::Session session;
  GenerationGate gate;
  std::atomic<int> executing{0}; ///< runs between bind and completion

private:
  std::mutex mu;
  std::map<std::string, std::vector<std::unique_ptr<nuri::Run>>> pool;
  std::map<std::string, Io> ios;

  void addIo(const std::string &program, std::vector<nuri::TensorInfo> inputs,
             std::vector<nuri::TensorInfo> outputs) {
    Io io{std::move(inputs), std::move(outputs), {}, {}};
    for (const nuri::TensorInfo &t : io.outputs) {
      io.outputNames.push_back(py::str(t.name));
      io.outputDtypes.push_back(numpyDtype(t.dtype));
    }
    ios[program] = std::move(io);
  }
};

std::vector<std::string> Buffer::names() const {
  std::vector<std::string> out;
  if (const SessionState::Io *io =
          lease ? lease->owner->io(lease->program) : nullptr) {
    for (const nuri::TensorInfo &t : io->outputs) {
      out.push_back(t.name);
    }
  }
  return out;
}

RunLease::~RunLease() {
  if (run && owner) {
    owner->giveBack(program, std::move(run));
  }
}

py::dict statsDict(const nuri::Run &run, const std::string &device) {
  nuri::Counters counters = run.counters();
  py::dict stats;
  stats["device"] = device;
  stats["wall_seconds"] = counters.get("wall_seconds");
  stats["counters"] = countersDict(counters);
  py::list parts;
  for (const nuri::PartitionStats &p : run.partitionStats()) {
    py::dict q;
    q["name"] = p.name;
    q["device"] = p.device;
    q["counters"] = countersDict(p.counters);
    if (!p.traceJson.empty()) {
      q["trace_json"] = p.traceJson;
    }
    parts.append(q);
  }
  stats["partitions"] = parts;
  if (device == "sim") {
    py::dict sim;
    sim["cycles"] = int64_t(counters.get("cycles"));
    sim["seconds"] = counters.get("device_seconds");
    sim["mac_utilization"] = counters.get("mac_utilization");
    sim["dram_bytes"] = int64_t(counters.get("dram_bytes"));
    sim["npu_partitions"] = int64_t(counters.get("npu_partitions_run"));
    addEnergy(sim, counters);
    stats["sim"] = sim;
  }
  return stats;
}

/// A numpy array viewing `data` (C order) whose base is `base`: numpy's
/// C API directly, since this is most of a tiny model's per-run cost.
py::object viewArray(const py::dtype &dtype, size_t rank, const int64_t *shape,
                     const void *data, const py::object &base) {
  static_assert(sizeof(Py_intptr_t) == sizeof(int64_t), "shape as intptr");
  auto &api = py::detail::npy_api::get();
  PyObject *a = api.PyArray_NewFromDescr_(
      api.PyArray_Type_, dtype.inc_ref().ptr(), int(rank),
      reinterpret_cast<const Py_intptr_t *>(shape), nullptr,
      const_cast<void *>(data), py::detail::npy_api::NPY_ARRAY_WRITEABLE_,
      nullptr);
  if (!a) {
    throw py::error_already_set();
  }
  if (api.PyArray_SetBaseObject_(a, base.inc_ref().ptr()) < 0) {
    Py_DECREF(a);
    throw py::error_already_set();
  }
  return py::reinterpret_steal<py::object>(a);
}

/// session.run: binds each input in place (a copy only for an array that
/// is not C-contiguous in native byte order, or not an array), executes
/// with the GIL released, and returns the outputs as arrays viewing the
/// run's buffers.
py::object runSession(const std::shared_ptr<SessionState> &s, py::handle inputs,
                      const std::string &program, bool wantStats) {
  py::dict feeds = PyDict_Check(inputs.ptr())
                       ? py::reinterpret_borrow<py::dict>(inputs)
                       : py::dict(py::reinterpret_borrow<py::object>(inputs));
  const SessionState::Io *io = s->io(program);
  std::unique_ptr<RunLease> lease = s->lease(program);
  nuri::Run &run = *lease->run;
  // A pooled run keeps the last call's bindings: harmless when this call
  // binds every input again, but an input it leaves out must be reported
  // missing, not read from an array that may be gone.
  if (io && size_t(PyDict_Size(feeds.ptr())) < io->inputs.size()) {
    run.clearBindings();
  }
  auto &api = py::detail::npy_api::get();
  // Converted inputs stay alive until the run completes.
  std::vector<py::object> keep;
  PyObject *key, *value;
  Py_ssize_t pos = 0;
  while (PyDict_Next(feeds.ptr(), &pos, &key, &value)) {
    const char *name = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : nullptr;
    if (!name) {
      PyErr_Clear();
      throw Failure("NURI_INVALID_ARGUMENT",
                    "input names must be strings, got " +
                        py::repr(key).cast<std::string>());
    }
    const nuri::TensorInfo *info = nullptr;
    for (size_t k = 0; io && k < io->inputs.size() && !info; ++k) {
      info = io->inputs[k].name == name ? &io->inputs[k] : nullptr;
    }
    nuri_dtype wanted = info ? info->dtype : NURI_DTYPE_F32;
    PyObject *a = value;
    auto usable = [&](PyObject *o) {
      if (!api.PyArray_Check_(o)) {
        return false;
      }
      const auto *proxy = py::detail::array_proxy(o);
      const auto *descr = py::detail::array_descriptor_proxy(proxy->descr);
      return (proxy->flags & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_) &&
             descr->byteorder != '>';
    };
    if (!usable(a)) {
      py::object numpy = py::module_::import("numpy");
      py::object target =
          api.PyArray_Check_(a)
              ? py::object(py::reinterpret_borrow<py::array>(a).dtype().attr(
                    "newbyteorder")("="))
              : (info ? py::object(numpyDtype(wanted)) : py::none());
      keep.push_back(numpy.attr("ascontiguousarray")(
          py::reinterpret_borrow<py::object>(a), target));
      a = keep.back().ptr();
    }
    const auto *proxy = py::detail::array_proxy(a);
    py::dtype dt = py::reinterpret_borrow<py::dtype>(proxy->descr);
    nuri_dtype dtype = wanted;
    if (!nuriDtype(dt, wanted, dtype)) {
      throw Failure("NURI_INVALID_ARGUMENT",
                    std::string("input '") + name + "': numpy dtype " +
                        py::str(dt).cast<std::string>() +
                        " has no Nuri dtype (the input is " +
                        nuri_dtype_name(wanted) + ")");
    }
    size_t bytes = size_t(dt.itemsize());
    for (int d = 0; d < proxy->nd; ++d) {
      bytes *= size_t(proxy->dimensions[d]);
    }
    nuri::check(nuri_run_bind_input(
        run.get(), name, dtype,
        reinterpret_cast<const int64_t *>(proxy->dimensions), size_t(proxy->nd),
        proxy->data, bytes));
  }
  // Counted while the GIL is held, so another Python thread that sees a
  // nonzero count saw this thread release the GIL mid-run (the test of it).
  ++s->executing;
  struct Done {
    std::atomic<int> &n;
    ~Done() { --n; }
  } done{s->executing};
  {
    py::gil_scoped_release release;
    run.execute();
  }
  auto buffer = std::make_shared<Buffer>();
  py::object base = py::cast(buffer);
  py::dict outputs;
  if (io) {
    for (size_t k = 0; k < io->outputs.size(); ++k) {
      nuri_tensor_info info;
      const void *data = nullptr;
      nuri::check(nuri_run_get_output(run.get(), io->outputs[k].name.c_str(),
                                      &info, &data));
      PyDict_SetItem(
          outputs.ptr(), io->outputNames[k].ptr(),
          viewArray(io->outputDtypes[k], info.rank, info.shape, data, base)
              .ptr());
    }
  }
  py::object stats =
      wantStats ? py::object(statsDict(run, s->session.device())) : py::none();
  buffer->lease = std::move(lease);
  if (wantStats) {
    return py::make_tuple(outputs, stats);
  }
  return std::move(outputs);
}

//===----------------------------------------------------------------------===//
// Generation
//===----------------------------------------------------------------------===//

nuri::GeneratorOptions generatorOptions(uint32_t maxNewTokens,
                                        float temperature, uint32_t topK,
                                        float topP, float penalty,
                                        uint64_t seed,
                                        std::vector<int64_t> stopTokens) {
  nuri::GeneratorOptions o;
  o.maxNewTokens = maxNewTokens;
  o.temperature = temperature;
  o.topK = topK;
  o.topP = topP;
  o.repetitionPenalty = penalty;
  o.seed = seed;
  o.stopTokens = std::move(stopTokens);
  return o;
}

const char *stopName(nuri_stop_reason r) {
  return r == NURI_STOP_TOKEN    ? "stop"
         : r == NURI_STOP_LENGTH ? "length"
                                 : "none";
}

py::dict generationStats(const nuri::Generator &g, const std::string &device,
                         double wall, size_t generated, size_t requests) {
  py::dict out;
  out["device"] = device;
  out["wall_seconds"] = wall;
  out["tokens"] = generated;
  out["tokens_per_s"] = wall > 0 ? double(generated) / wall : 0.0;
  for (const char *phase : {"prefill", "decode"}) {
    py::dict o;
    for (const char *c :
         {"runs", "steps", "tokens", "wall_seconds", "cycles", "device_seconds",
          "host_to_device_bytes", "device_to_host_bytes", "dram_bytes",
          "device_weight_bytes_written", "partitions_run",
          "npu_partitions_run"}) {
      o[c] = g.counter(phase, c);
    }
    out[phase] = o;
  }
  if (device == "sim") {
    // The figures `nuri generate --json` reports on the simulator.
    double prefillS = g.counter("prefill", "device_seconds");
    double decodeS = g.counter("decode", "device_seconds");
    double steps = g.counter("decode", "steps");
    double decoded = g.counter("decode", "tokens");
    py::dict sim;
    sim["ttft_s"] = requests ? prefillS / double(requests) : 0.0;
    sim["tpot_s"] = steps > 0 ? decodeS / steps : 0.0;
    sim["tokens_per_s"] = (prefillS + decodeS) > 0
                              ? double(generated) / (prefillS + decodeS)
                              : 0.0;
    sim["dram_bytes_per_token"] =
        decoded > 0 ? g.counter("decode", "dram_bytes") / decoded : 0.0;
    out["sim"] = sim;
  }
  return out;
}

py::object generate(const std::shared_ptr<SessionState> &s,
                    const std::vector<std::vector<int64_t>> &prompts,
                    const nuri::GeneratorOptions &options, bool wantStats) {
  s->gate.acquire();
  struct Release {
    GenerationGate &gate;
    ~Release() { gate.release(); }
  } release{s->gate};
  nuri::Generator g(s->session, options);
  std::vector<uint64_t> ids;
  for (const std::vector<int64_t> &p : prompts) {
    ids.push_back(g.addRequest(p));
  }
  auto start = std::chrono::steady_clock::now();
  {
    py::gil_scoped_release unlock;
    g.run();
  }
  double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  py::list tokens;
  py::list reasons;
  size_t generated = 0;
  for (uint64_t id : ids) {
    nuri::RequestInfo info = g.request(id);
    generated += info.tokens.size();
    tokens.append(py::cast(info.tokens));
    reasons.append(stopName(info.stopReason));
  }
  if (!wantStats) {
    return std::move(tokens);
  }
  py::dict stats =
      generationStats(g, s->session.device(), wall, generated, ids.size());
  stats["stop_reasons"] = reasons;
  return py::make_tuple(tokens, stats);
}

/// session.generate_stream: one scheduling step per refill; yields
/// (prompt index, token, finished) in the order the tokens are generated.
class GenerationStream {
public:
  GenerationStream(std::shared_ptr<SessionState> s,
                   const std::vector<std::vector<int64_t>> &prompts,
                   const nuri::GeneratorOptions &options)
      : s_(std::move(s)) {
    s_->gate.acquire();
    holding_ = true;
    try {
      g_ = std::make_unique<nuri::Generator>(s_->session, options);
      for (size_t i = 0; i < prompts.size(); ++i) {
        index_[g_->addRequest(prompts[i])] = i;
      }
    } catch (...) {
      close();
      throw;
    }
  }
  ~GenerationStream() { close(); }

  py::tuple next() {
    while (queue_.empty() && g_ && !done_) {
      size_t pending = 0;
      try {
        py::gil_scoped_release release;
        pending = g_->step([this](uint64_t id, int64_t token, bool finished) {
          queue_.push_back({index_[id], token, finished});
        });
      } catch (...) {
        close();
        throw;
      }
      done_ = pending == 0;
    }
    if (queue_.empty()) {
      close();
      throw py::stop_iteration();
    }
    Token t = queue_.front();
    queue_.pop_front();
    return py::make_tuple(t.index, t.token, t.finished);
  }
  void close() {
    if (holding_) {
      holding_ = false;
      g_.reset();
      s_->gate.release();
    }
  }

private:
  struct Token {
    size_t index;
    int64_t token;
    bool finished;
  };
  std::shared_ptr<SessionState> s_;
  std::unique_ptr<nuri::Generator> g_;
  std::map<uint64_t, size_t> index_;
  std::deque<Token> queue_;
  bool done_ = false, holding_ = false;
};

//===----------------------------------------------------------------------===//
// Compile
//===----------------------------------------------------------------------===//

/// "file", "file:line:col" or "file: node 'name'", as the CLI prints them.
std::string describe(mlir::Location loc) {
  if (auto name = mlir::dyn_cast<mlir::NameLoc>(loc)) {
    std::string inner = describe(name.getChildLoc());
    return (inner.empty() ? "" : inner + ": ") + "node '" +
           name.getName().str() + "'";
  }
  if (auto file = mlir::dyn_cast<mlir::FileLineColLoc>(loc)) {
    std::string s = file.getFilename().str();
    if (file.getLine()) {
      s += ":" + std::to_string(file.getLine()) + ":" +
           std::to_string(file.getColumn());
    }
    return s;
  }
  if (auto fused = mlir::dyn_cast<mlir::FusedLoc>(loc)) {
    return fused.getLocations().empty() ? ""
                                        : describe(fused.getLocations()[0]);
  }
  if (auto callSite = mlir::dyn_cast<mlir::CallSiteLoc>(loc)) {
    return describe(callSite.getCallee());
  }
  return "";
}

struct CompileArgs {
  std::string path;
  std::string target = "cpu", dtype;
  std::map<std::string, std::vector<int64_t>> inputShapes;
  std::map<std::string, std::string> bindInputs; ///< TensorProto bytes
  bool simulate = false;
  std::optional<nuri::driver::QuantizeOptions> quantize;
  std::optional<nuri::driver::GenerateOptions> generate;
  std::string producer;
};

/// Compiles with the GIL released; diagnostics (the CLI's wording) become
/// the message of the nuri.Error raised on failure.
std::shared_ptr<Package> compile(const CompileArgs &args) {
  std::string messages;
  mlir::FailureOr<nuri::driver::CompileResult> result;
  {
    py::gil_scoped_release release;
    nuri::driver::CompileOptions options;
    options.target = args.target;
    options.dtype = args.dtype;
    options.simulate = args.simulate;
    options.producer = args.producer;
    options.quantize = args.quantize;
    nuri::OnnxImportOptions importOptions;
    importOptions.inputShapes = args.inputShapes;
    importOptions.constantInputs = args.bindInputs;
    mlir::DialectRegistry registry;
    nuri::driver::registerDialects(registry);
    mlir::MLIRContext context(registry);
    context.disableMultithreading();
    context.printOpOnDiagnostic(false);
    context.getDiagEngine().registerHandler([&](mlir::Diagnostic &d) {
      if (d.getSeverity() != mlir::DiagnosticSeverity::Error) {
        return mlir::success();
      }
      std::string where = describe(d.getLocation());
      llvm::raw_string_ostream os(messages);
      if (!messages.empty()) {
        os << "\n";
      }
      os << (where.empty() ? "" : where + ": ") << "error: " << d;
      for (mlir::Diagnostic &note : d.getNotes()) {
        os << "\n  note: " << note;
      }
      return mlir::success();
    });
    if (args.generate) {
      result = nuri::driver::compileGenerationFamily(
          context, args.path, importOptions, options, *args.generate);
    } else {
      result = nuri::driver::compileOnnxFile(context, args.path, importOptions,
                                             options);
    }
  }
  if (mlir::failed(result)) {
    throw Failure("NURI_COMPILE_ERROR",
                  messages.empty() ? args.path + ": compile failed" : messages);
  }
  py::dict report = reportDict(
      result->report, args.generate ? result->text : result->report.text());
  return Package::fromBytes(std::move(result->package), report);
}

//===----------------------------------------------------------------------===//
// Targets and sweeps
//===----------------------------------------------------------------------===//

nuri::target::Target findTarget(const std::string &name,
                                const std::vector<std::string> &overrides) {
  bool file = name.size() > 5 && name.substr(name.size() - 5) == ".yaml";
  nuri::Result<nuri::target::Target> t =
      file ? nuri::target::loadTargetFile(name, overrides)
           : nuri::target::findTarget(name, overrides);
  if (!t) {
    throw Failure("NURI_NOT_FOUND", t.error());
  }
  return *t;
}

py::object valueObject(const nuri::dse::Value &v) {
  if (const double *d = std::get_if<double>(&v)) {
    return py::float_(*d);
  }
  if (const std::string *s = std::get_if<std::string>(&v)) {
    return py::str(*s);
  }
  return py::none();
}

py::dict sweep(const std::string &specPath, const std::string &outDir,
               unsigned jobs, bool progress) {
  nuri::Result<nuri::dse::Spec> spec = nuri::dse::loadSpec(specPath);
  if (!spec) {
    throw Failure("NURI_INVALID_ARGUMENT", spec.error());
  }
  nuri::dse::SweepOptions options;
  options.outDir = outDir;
  options.jobs = jobs;
  options.progress = progress;
  std::optional<nuri::Result<nuri::dse::SweepSummary>> summary;
  {
    py::gil_scoped_release release;
    summary.emplace(nuri::dse::runSweep(*spec, options));
  }
  if (!*summary) {
    throw Failure("NURI_EXECUTION_ERROR", summary->error());
  }
  const nuri::dse::SweepSummary &s = **summary;
  std::set<uint64_t> pareto;
  for (const nuri::dse::Row &r : s.pareto) {
    pareto.insert(r.index);
  }
  py::list rows;
  for (const nuri::dse::Row &r : s.rows) {
    py::dict d;
    for (const auto &[column, value] : r.values) {
      d[py::str(column)] = valueObject(value);
    }
    d["point"] = r.index; // an int, not the column's double
    d["status"] = r.status;
    d["pareto"] = pareto.count(r.index) != 0;
    rows.append(d);
  }
  py::dict out;
  out["name"] = spec->name;
  out["rows"] = rows;
  out["points"] = s.points;
  out["evaluated"] = s.evaluated;
  out["resumed"] = s.resumed;
  out["compiled"] = s.compiled;
  out["seconds"] = s.seconds;
  return out;
}

/// The C++ wrapper's own loop over the same work session.run does (bind
/// every input, execute, read every output), timed in the same process:
/// the baseline of benchmarks/python.
double cppRunSeconds(const std::shared_ptr<SessionState> &s,
                     const py::dict &inputs, int iterations) {
  const auto *io = s->io("");
  if (!io) {
    throw Failure("NURI_INVALID_ARGUMENT", "not a plain package");
  }
  std::vector<std::pair<std::string, py::array>> bound;
  for (const auto &[key, value] : inputs) {
    bound.emplace_back(py::cast<std::string>(key),
                       py::array::ensure(value, py::array::c_style));
  }
  std::vector<std::pair<std::string, nuri::TensorRef>> refs;
  for (auto &[name, a] : bound) {
    nuri_dtype dtype = NURI_DTYPE_F32;
    for (const nuri::TensorInfo &t : io->inputs) {
      dtype = t.name == name ? t.dtype : dtype;
    }
    nuriDtype(a.dtype(), dtype, dtype);
    refs.push_back(
        {name,
         {dtype, std::vector<int64_t>(a.shape(), a.shape() + a.ndim()),
          const_cast<void *>(a.data()), size_t(a.nbytes())}});
  }
  py::gil_scoped_release release;
  nuri::Run run = s->session.newRun();
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) {
    for (const auto &[name, ref] : refs) {
      run.bindInput(name, ref);
    }
    run.execute();
    for (const nuri::TensorInfo &t : io->outputs) {
      // Each output read as session.run reads it (a call into the runtime,
      // which the compiler cannot drop).
      (void)run.output(t.name);
    }
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return seconds;
}

} // namespace

PYBIND11_MODULE(_nuri, m) {
  m.doc() = "Nuri's native bindings; use the `nuri` package (docs/python.md).";

  static py::exception<Failure> error(m, "Error", PyExc_RuntimeError);
  errorType = error.ptr();
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) {
        std::rethrow_exception(p);
      }
    } catch (const nuri::Exception &e) {
      raise(nuri_status_code_name(e.code()), e.what());
    } catch (const Failure &e) {
      raise(e.code.c_str(), e.what());
    }
  });

  m.def("version", [] { return std::string(nuri_version_string()); });
  m.def("devices", [] {
    std::vector<std::string> out;
    for (size_t i = 0; i < nuri_device_count(); ++i) {
      out.push_back(nuri_device_name(i));
    }
    return out;
  });
  m.def("_live_runs", [] { return liveRuns.load(); });
  m.def("_live_objects", [] { return nuri_live_object_count(); });

  py::class_<Package, std::shared_ptr<Package>>(
      m, "Package",
      "A compiled .nuri package, made by nuri.compile or nuri.load. `report` "
      "is the compile report as a dict (None for a loaded file); `inputs`, "
      "`outputs` and `states` describe its tensors; `programs` lists a "
      "generation package's prefill and decode programs; `save(path)` "
      "writes it, `to_bytes()` returns its bytes.")
      .def(
          "save",
          [](const Package &p, py::object path) {
            p.save(py::str(py::module_::import("os").attr("fspath")(path)));
          },
          py::arg("path"), "Write the package (a .nuri file) to `path`.")
      .def("to_bytes",
           [](const Package &p) {
             std::vector<uint8_t> b = p.bytes();
             return py::bytes(reinterpret_cast<const char *>(b.data()),
                              b.size());
           })
      .def_property_readonly("report", &Package::report)
      .def_property_readonly("path", &Package::path)
      .def_property_readonly(
          "target", [](const Package &p) { return p.model().target(); })
      .def_property_readonly(
          "inputs",
          [](const Package &p) { return tensorInfoList(p.model().inputs()); })
      .def_property_readonly(
          "outputs",
          [](const Package &p) { return tensorInfoList(p.model().outputs()); })
      .def_property_readonly(
          "states",
          [](const Package &p) { return tensorInfoList(p.model().states()); })
      .def_property_readonly(
          "partitions", [](const Package &p) { return p.model().partitions(); })
      .def_property_readonly(
          "npu_partitions",
          [](const Package &p) { return p.model().npuPartitions(); })
      .def_property_readonly(
          "programs",
          [](const Package &p) {
            py::list out;
            for (const nuri::ProgramInfo &q : p.model().programs()) {
              py::dict d;
              d["name"] = q.name;
              d["kind"] = q.kind == NURI_PROGRAM_PREFILL ? "prefill" : "decode";
              d["batch"] = q.batch;
              d["tokens"] = q.tokens;
              d["context"] = q.context;
              d["inputs"] = tensorInfoList(q.inputs);
              d["outputs"] = tensorInfoList(q.outputs);
              out.append(d);
            }
            return out;
          })
      .def_property_readonly("is_generation", [](const Package &p) {
        return p.model().isFamily();
      });
  m.def("_load", &Package::fromFile, py::arg("path"));
  m.def("_load_bytes", [](py::bytes data) {
    std::string s = data;
    return Package::fromBytes(std::vector<uint8_t>(s.begin(), s.end()),
                              py::none());
  });

  py::class_<Buffer, std::shared_ptr<Buffer>>(
      m, "Buffer",
      "The memory of one session.run() call's outputs, owned by Nuri; the "
      "base of every output array of the call. The run's buffers are reused "
      "once every array viewing them is gone.")
      .def_property_readonly("names", &Buffer::names,
                             "The outputs whose arrays view this buffer.")
      .def("__repr__", [](const Buffer &b) {
        return "<nuri.Buffer of " + std::to_string(b.names().size()) +
               " output(s)>";
      });

  py::class_<SessionState, std::shared_ptr<SessionState>>(m, "_Session")
      .def(py::init([](std::shared_ptr<Package> package,
                       const std::string &device, int threads, bool trace,
                       bool profile) {
             nuri::SessionOptions o;
             o.threads = threads;
             o.trace = trace;
             o.profile = profile;
             return std::make_shared<SessionState>(std::move(package), device,
                                                   o);
           }),
           py::arg("package"), py::arg("device"), py::arg("threads"),
           py::arg("trace"), py::arg("profile"))
      .def_property_readonly(
          "device", [](const SessionState &s) { return s.session.device(); })
      .def_readonly("package", &SessionState::package)
      .def(
          "run",
          [](const std::shared_ptr<SessionState> &s, py::handle inputs,
             std::optional<std::string> program, bool stats) {
            return runSession(s, inputs, program ? *program : "", stats);
          },
          py::arg("inputs"), py::kw_only(), py::arg("program") = py::none(),
          py::arg("stats") = false,
          "run(inputs, *, program=None, stats=False)\n\n"
          "Runs the package on {input name: array}; returns {output name: "
          "array}.\n\n"
          "Inputs are read in place when C-contiguous in native byte order "
          "and the input's dtype (bf16 as uint16, fp8 as uint8); other "
          "layouts and array-likes are copied first. A wrong name, shape or "
          "dtype raises nuri.Error with the runtime's message. Outputs view "
          "Nuri's buffers without a copy: each array's `base` is a "
          "nuri.Buffer. The GIL is released while the run executes. With "
          "stats=True returns (outputs, stats): counters, per-partition "
          "counters and, on \"sim\", cycles, energy and DRAM traffic. "
          "`program` names one program of a generation package.")
      .def("_generate",
           [](const std::shared_ptr<SessionState> &s,
              const std::vector<std::vector<int64_t>> &prompts, uint32_t maxNew,
              float temperature, uint32_t topK, float topP, float penalty,
              uint64_t seed, std::vector<int64_t> stop, bool stats) {
             return generate(s, prompts,
                             generatorOptions(maxNew, temperature, topK, topP,
                                              penalty, seed, std::move(stop)),
                             stats);
           })
      .def("_generate_stream",
           [](const std::shared_ptr<SessionState> &s,
              const std::vector<std::vector<int64_t>> &prompts, uint32_t maxNew,
              float temperature, uint32_t topK, float topP, float penalty,
              uint64_t seed, std::vector<int64_t> stop) {
             return std::make_unique<GenerationStream>(
                 s, prompts,
                 generatorOptions(maxNew, temperature, topK, topP, penalty,
                                  seed, std::move(stop)));
           })
      .def("_read_state",
           [](const SessionState &s, const std::string &name) {
             for (const nuri::TensorInfo &t : s.package->model().states()) {
               if (t.name == name) {
                 std::vector<py::ssize_t> shape(t.shape.begin(), t.shape.end());
                 py::array a(numpyDtype(t.dtype), shape);
                 s.session.readState(name, a.mutable_data(), t.byteSize);
                 return a;
               }
             }
             s.session.readState(name, nullptr, 0); // names the states
             return py::array();
           })
      .def("_write_state",
           [](const SessionState &s, const std::string &name,
              const py::array &a) {
             py::array c = py::array::ensure(a, py::array::c_style);
             s.session.writeState(name, c.data(), size_t(c.nbytes()));
           })
      .def("_reset_state",
           [](const SessionState &s, const std::string &name) {
             s.session.resetState(name);
           })
      .def("_pooled_runs", &SessionState::pooled)
      .def("_executing",
           [](const SessionState &s) { return s.executing.load(); })
      .def("_cpp_run_seconds", &cppRunSeconds);

  py::class_<GenerationStream>(m, "GenerationStream")
      .def("__iter__", [](py::object self) -> py::object { return self; })
      .def("__next__", &GenerationStream::next)
      .def("close", &GenerationStream::close,
           "Stop generating and let other generators use the session.");

  m.def(
      "_compile",
      [](const std::string &path, const std::string &target,
         const std::string &dtype,
         const std::map<std::string, std::vector<int64_t>> &inputShapes,
         const std::map<std::string, py::bytes> &bindInputs, bool simulate,
         const std::string &producer, py::object quantize,
         py::object generate) {
        CompileArgs a;
        a.path = path;
        a.target = target;
        a.dtype = dtype;
        a.inputShapes = inputShapes;
        for (const auto &[name, bytes] : bindInputs) {
          a.bindInputs[name] = std::string(bytes);
        }
        a.simulate = simulate;
        a.producer = producer;
        if (!quantize.is_none()) {
          py::dict q = quantize;
          nuri::driver::QuantizeOptions o;
          o.scheme = q["scheme"].cast<std::string>();
          o.calibration = q["calibration"].cast<std::string>();
          o.method = q["method"].cast<std::string>();
          o.percentile = q["percentile"].cast<double>();
          if (!q["smoothquant"].is_none()) {
            o.smoothQuantAlpha = q["smoothquant"].cast<double>();
          }
          o.exclude = q["exclude"].cast<std::vector<std::string>>();
          o.cachePath = q["cache"].cast<std::string>();
          o.quantizeHead = q["quantize_head"].cast<bool>();
          o.accuracyReport = q["accuracy_report"].cast<bool>();
          // Unset keeps the driver's default (on newer drivers an optional:
          // automatic fallback only when asked for).
          if (!q["min_sqnr"].is_none()) {
            o.minSqnr = q["min_sqnr"].cast<double>();
          }
          a.quantize = o;
        }
        if (!generate.is_none()) {
          py::dict g = generate;
          nuri::driver::GenerateOptions o;
          o.maxSeq = g["max_seq"].cast<int64_t>();
          o.prefillBuckets = g["prefill_buckets"].cast<std::vector<int64_t>>();
          std::vector<int64_t> batch =
              g["decode_batch"].cast<std::vector<int64_t>>();
          if (!batch.empty()) {
            o.decodeBatch = batch;
          }
          o.contextBuckets = g["context_buckets"].cast<std::vector<int64_t>>();
          a.generate = o;
        }
        return compile(a);
      },
      py::arg("path"), py::arg("target"), py::arg("dtype"),
      py::arg("input_shapes"), py::arg("bind_inputs"), py::arg("simulate"),
      py::arg("producer"), py::arg("quantize"), py::arg("generate"));

  m.def("_targets", [] {
    py::list out;
    for (const std::string &name : nuri::target::listTargets()) {
      nuri::Result<nuri::target::Target> t = nuri::target::findTarget(name);
      out.append(py::make_tuple(name, t ? t->description
                                        : "(invalid: " + t.error() + ")"));
    }
    return out;
  });
  m.def("_target_json",
        [](const std::string &name, const std::vector<std::string> &overrides) {
          nuri::target::Target t = findTarget(name, overrides);
          return py::make_tuple(t.name, t.description,
                                nuri::sim::targetJsonWithAreaAndPower(t),
                                nuri::target::targetToText(t));
        });
  m.def("_sweep", &sweep, py::arg("spec"), py::arg("out_dir"), py::arg("jobs"),
        py::arg("progress"));
}
