//===- runtime.hpp - Header-only C++ wrapper of the runtime -----*- C++ -*-===//
//
// RAII owners over the C API (runtime.h); every nuri_status becomes a
// nuri::Exception in one place, check().
//
//   nuri::Model model = nuri::Model::loadFile("bert.nuri");
//   nuri::Session session(model, "cpu");
//   nuri::Run run = session.newRun();
//   run.bindInput("x", nuri::TensorRef::of(data, {1, 128}));
//   run.execute();
//   nuri::OutputView y = run.output("y");
//
// Thread safety follows the C types: Model and Session may be shared between
// threads, a Run is used by one thread at a time.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_RUNTIME_HPP
#define NURI_RUNTIME_HPP

#include "nuri/runtime.h"

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace nuri {

/// A failed call: the status code and message of the C API.
class Exception : public std::runtime_error {
public:
  Exception(nuri_status_code code, const std::string &message)
      : std::runtime_error(message), code_(code) {}
  nuri_status_code code() const { return code_; }

private:
  nuri_status_code code_;
};

/// The one place where statuses turn into exceptions.
inline void check(nuri_status status) {
  if (status) {
    nuri_status_code code = nuri_status_get_code(status);
    std::string message = nuri_status_message(status);
    nuri_status_release(status);
    throw Exception(code, message);
  }
}

template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> {
  static constexpr nuri_dtype value = NURI_DTYPE_F32;
};
template <> struct DTypeOf<double> {
  static constexpr nuri_dtype value = NURI_DTYPE_F64;
};
template <> struct DTypeOf<int8_t> {
  static constexpr nuri_dtype value = NURI_DTYPE_I8;
};
template <> struct DTypeOf<int32_t> {
  static constexpr nuri_dtype value = NURI_DTYPE_I32;
};
template <> struct DTypeOf<int64_t> {
  static constexpr nuri_dtype value = NURI_DTYPE_I64;
};
template <> struct DTypeOf<uint8_t> {
  static constexpr nuri_dtype value = NURI_DTYPE_U8;
};

/// Shape, dtype and name of a model input or output (copied).
struct TensorInfo {
  std::string name;
  nuri_dtype dtype = NURI_DTYPE_F32;
  std::vector<int64_t> shape;
  size_t byteSize = 0;
  std::vector<double> quantScales;
  std::vector<int64_t> quantZeroPoints;
  int32_t quantAxis = -1;

  static TensorInfo from(const nuri_tensor_info &i) {
    TensorInfo t;
    t.name = i.name;
    t.dtype = i.dtype;
    t.shape.assign(i.shape, i.shape + i.rank);
    t.byteSize = i.byte_size;
    if (i.quant_count) {
      t.quantScales.assign(i.quant_scales, i.quant_scales + i.quant_count);
      if (i.quant_zero_points) {
        t.quantZeroPoints.assign(i.quant_zero_points,
                                 i.quant_zero_points + i.quant_count);
      }
    }
    t.quantAxis = i.quant_axis;
    return t;
  }
  int64_t elements() const {
    int64_t n = 1;
    for (int64_t d : shape) {
      n *= d;
    }
    return n;
  }
};

/// Caller memory described for binding; not owned.
struct TensorRef {
  nuri_dtype dtype = NURI_DTYPE_F32;
  std::vector<int64_t> shape;
  void *data = nullptr;
  size_t byteSize = 0;

  template <typename T>
  static TensorRef of(T *data, std::vector<int64_t> shape) {
    size_t n = 1;
    for (int64_t d : shape) {
      n *= static_cast<size_t>(d);
    }
    return {DTypeOf<std::remove_const_t<T>>::value, std::move(shape),
            const_cast<std::remove_const_t<T> *>(data), n * sizeof(T)};
  }
};

/// An output of a completed run; `data` is borrowed from the Run (valid
/// until it executes again or is destroyed).
struct OutputView {
  TensorInfo info;
  const void *data = nullptr;
  template <typename T> const T *as() const {
    return static_cast<const T *>(data);
  }
};

/// One program of a family (see nuri_program_info), copied.
struct ProgramInfo {
  std::string name;
  nuri_program_kind kind = NURI_PROGRAM_PREFILL;
  uint32_t batch = 0, tokens = 0, context = 0;
  std::vector<TensorInfo> inputs, outputs;
};

/// The cache geometry of a family (see nuri_generation_info).
struct GenerationInfo {
  uint32_t slots = 0;
  uint32_t maxSeq = 0;
};

namespace detail {
struct ModelDeleter {
  void operator()(nuri_model *m) const { nuri_model_release(m); }
};
struct SessionDeleter {
  void operator()(nuri_session *s) const { nuri_session_release(s); }
};
struct RunDeleter {
  void operator()(nuri_run *r) const { nuri_run_release(r); }
};
} // namespace detail

class Model {
public:
  static Model loadFile(const std::string &path, bool verifyChecksums = true) {
    nuri_model_options options;
    nuri_model_options_initialize(&options);
    options.verify_checksums = verifyChecksums;
    nuri_model *m = nullptr;
    check(nuri_model_load_file(path.c_str(), &options, &m));
    return Model(m);
  }
  static Model loadMemory(const void *data, size_t size) {
    nuri_model *m = nullptr;
    check(nuri_model_load_memory(data, size, nullptr, &m));
    return Model(m);
  }

  std::vector<TensorInfo> inputs() const {
    std::vector<TensorInfo> out;
    for (size_t i = 0; i < nuri_model_input_count(get()); ++i) {
      nuri_tensor_info info;
      check(nuri_model_input_info(get(), i, &info));
      out.push_back(TensorInfo::from(info));
    }
    return out;
  }
  std::vector<TensorInfo> outputs() const {
    std::vector<TensorInfo> out;
    for (size_t i = 0; i < nuri_model_output_count(get()); ++i) {
      nuri_tensor_info info;
      check(nuri_model_output_info(get(), i, &info));
      out.push_back(TensorInfo::from(info));
    }
    return out;
  }
  /// The state buffers the package declares.
  std::vector<TensorInfo> states() const {
    std::vector<TensorInfo> out;
    for (size_t i = 0; i < nuri_model_state_count(get()); ++i) {
      nuri_tensor_info info;
      check(nuri_model_state_info(get(), i, &info));
      out.push_back(TensorInfo::from(info));
    }
    return out;
  }
  /// The programs of a family (prefill and decode buckets); empty for a
  /// plain package.
  std::vector<ProgramInfo> programs() const {
    std::vector<ProgramInfo> out;
    for (size_t p = 0; p < nuri_model_program_count(get()); ++p) {
      nuri_program_info info;
      check(nuri_model_program_info(get(), p, &info));
      ProgramInfo prog{info.name,    info.kind, info.batch, info.tokens,
                       info.context, {},        {}};
      for (size_t i = 0; i < info.input_count; ++i) {
        nuri_tensor_info t;
        check(nuri_model_program_input_info(get(), p, i, &t));
        prog.inputs.push_back(TensorInfo::from(t));
      }
      for (size_t i = 0; i < info.output_count; ++i) {
        nuri_tensor_info t;
        check(nuri_model_program_output_info(get(), p, i, &t));
        prog.outputs.push_back(TensorInfo::from(t));
      }
      out.push_back(std::move(prog));
    }
    return out;
  }
  bool isFamily() const { return nuri_model_program_count(get()) != 0; }
  /// Throws for a plain package.
  GenerationInfo generation() const {
    nuri_generation_info info;
    check(nuri_model_generation_info(get(), &info));
    return {info.slots, info.max_seq};
  }
  std::string target() const { return nuri_model_target(get()); }
  bool timingOnly() const { return nuri_model_timing_only(get()) != 0; }
  size_t partitions() const { return nuri_model_partition_count(get()); }
  size_t npuPartitions() const { return nuri_model_npu_partition_count(get()); }
  nuri_model *get() const { return handle_.get(); }

private:
  explicit Model(nuri_model *m) : handle_(m, detail::ModelDeleter()) {}
  std::shared_ptr<nuri_model> handle_;
};

class Run;

/// Session options beyond the device (see nuri_session_options).
struct SessionOptions {
  int threads = 0;
  bool trace = false;
  bool profile = false;
  bool timingOnly = false; ///< nuri_session_options::timing_only
};

class Session {
public:
  Session(const Model &model, const std::string &device = "auto",
          int threads = 0)
      : Session(model, device, SessionOptions{threads, false, false}) {}
  Session(const Model &model, const std::string &device,
          const SessionOptions &opts) {
    nuri_session_options options;
    nuri_session_options_initialize(&options);
    options.device = device.c_str();
    options.threads = opts.threads;
    options.trace = opts.trace;
    options.profile = opts.profile;
    options.timing_only = opts.timingOnly;
    nuri_session *s = nullptr;
    check(nuri_session_create(model.get(), &options, &s));
    handle_.reset(s, detail::SessionDeleter());
    states_ = model.states();
  }
  std::string device() const { return nuri_session_device(get()); }
  Run newRun() const;
  /// A run of one program of a family (see nuri_run_create_program).
  Run newRun(const std::string &program) const;

  /// State buffers (see nuri_session_read_state).
  void readState(const std::string &name, void *data, size_t bytes) const {
    check(nuri_session_read_state(get(), name.c_str(), data, bytes));
  }
  template <typename T>
  std::vector<T> readState(const std::string &name) const {
    std::vector<T> out(stateBytes(name) / sizeof(T));
    readState(name, out.data(), out.size() * sizeof(T));
    return out;
  }
  void writeState(const std::string &name, const void *data,
                  size_t bytes) const {
    check(nuri_session_write_state(get(), name.c_str(), data, bytes));
  }
  /// Restores the initial value of `name`, or of every state when empty.
  void resetState(const std::string &name = "") const {
    check(
        nuri_session_reset_state(get(), name.empty() ? nullptr : name.c_str()));
  }
  nuri_session *get() const { return handle_.get(); }

private:
  size_t stateBytes(const std::string &name) const {
    for (const TensorInfo &t : states_) {
      if (t.name == name) {
        return t.byteSize;
      }
    }
    return 0; // nuri_session_read_state names the unknown state
  }
  std::shared_ptr<nuri_session> handle_;
  std::vector<TensorInfo> states_;
};

/// Named counters (see nuri_counter), in the order the devices reported them.
struct Counters {
  std::vector<std::pair<std::string, double>> items;
  /// The value of `name`, or `fallback` when no device reported it.
  double get(const std::string &name, double fallback = 0) const {
    for (const auto &[n, v] : items) {
      if (n == name) {
        return v;
      }
    }
    return fallback;
  }
  bool has(const std::string &name) const {
    for (const auto &item : items) {
      if (item.first == name) {
        return true;
      }
    }
    return false;
  }
};

/// One partition of a completed execution.
struct PartitionStats {
  std::string name;
  std::string device;
  Counters counters;
  std::string traceJson; ///< empty unless the session traces
  double wallSeconds() const { return counters.get("wall_seconds"); }
};

/// One inference's bindings and results. Movable, not copyable.
class Run {
public:
  explicit Run(const Session &session) {
    nuri_run *r = nullptr;
    check(nuri_run_create(session.get(), &r));
    handle_.reset(r);
  }
  /// A run of program `program` of a family.
  Run(const Session &session, const std::string &program) {
    nuri_run *r = nullptr;
    check(nuri_run_create_program(session.get(), program.c_str(), &r));
    handle_.reset(r);
  }

  Run &bindInput(const std::string &name, const TensorRef &t) {
    check(nuri_run_bind_input(get(), name.c_str(), t.dtype, t.shape.data(),
                              t.shape.size(), t.data, t.byteSize));
    return *this;
  }
  Run &bindOutput(const std::string &name, const TensorRef &t) {
    check(nuri_run_bind_output(get(), name.c_str(), t.dtype, t.shape.data(),
                               t.shape.size(), t.data, t.byteSize));
    return *this;
  }
  void clearBindings() { nuri_run_clear_bindings(get()); }

  void execute() { check(nuri_run_execute(get())); }

  /// Completes on the session's arena; the future throws what execute()
  /// would have thrown. The Run must outlive the future's completion.
  std::future<void> executeAsync() {
    auto promise = std::make_unique<std::promise<void>>();
    std::future<void> future = promise->get_future();
    check(nuri_run_execute_async(get(), &Run::complete, promise.get()));
    promise.release(); // owned by the callback now
    return future;
  }
  /// Calls `done` (with nullptr on success, or the exception) on an arena
  /// thread when the run completes; `done` must not throw.
  void executeAsync(std::function<void(std::exception_ptr)> done) {
    auto fn = std::make_unique<std::function<void(std::exception_ptr)>>(
        std::move(done));
    check(nuri_run_execute_async(get(), &Run::callFunction, fn.get()));
    fn.release();
  }
  void wait() { nuri_run_wait(get()); }

  OutputView output(const std::string &name) const {
    nuri_tensor_info info;
    const void *data = nullptr;
    check(nuri_run_get_output(get(), name.c_str(), &info, &data));
    return {TensorInfo::from(info), data};
  }
  /// Run-level counters of the last completed execution.
  Counters counters() const {
    Counters out;
    for (size_t i = 0; i < nuri_run_counter_count(get()); ++i) {
      nuri_counter c;
      check(nuri_run_get_counter(get(), i, &c));
      out.items.emplace_back(c.name, c.value);
    }
    return out;
  }
  std::vector<PartitionStats> partitionStats() const {
    std::vector<PartitionStats> out;
    for (size_t p = 0; p < nuri_run_partition_count(get()); ++p) {
      nuri_partition_info info;
      check(nuri_run_get_partition_info(get(), p, &info));
      PartitionStats s{info.name, info.device, {}, info.trace_json};
      for (size_t i = 0; i < info.counter_count; ++i) {
        nuri_counter c;
        check(nuri_run_get_partition_counter(get(), p, i, &c));
        s.counters.items.emplace_back(c.name, c.value);
      }
      out.push_back(std::move(s));
    }
    return out;
  }
  nuri_run *get() const { return handle_.get(); }

private:
  static std::exception_ptr toException(nuri_status status) {
    try {
      check(status);
      return nullptr;
    } catch (...) {
      return std::current_exception();
    }
  }
  static void complete(void *user, nuri_run *, nuri_status status) {
    std::unique_ptr<std::promise<void>> promise(
        static_cast<std::promise<void> *>(user));
    if (std::exception_ptr e = toException(status)) {
      promise->set_exception(e);
    } else {
      promise->set_value();
    }
  }
  static void callFunction(void *user, nuri_run *, nuri_status status) {
    std::unique_ptr<std::function<void(std::exception_ptr)>> fn(
        static_cast<std::function<void(std::exception_ptr)> *>(user));
    (*fn)(toException(status));
  }
  std::unique_ptr<nuri_run, detail::RunDeleter> handle_;
};

inline Run Session::newRun() const { return Run(*this); }
inline Run Session::newRun(const std::string &program) const {
  return Run(*this, program);
}

/// Generation options (see nuri_generator_options).
struct GeneratorOptions {
  uint32_t maxNewTokens = 64;
  float temperature = 0; ///< 0: greedy
  uint32_t topK = 0;
  float topP = 1;
  float repetitionPenalty = 1;
  uint64_t seed = 0;
  std::vector<int64_t> stopTokens;
};

/// A request's state (see nuri_request_info).
struct RequestInfo {
  size_t promptLength = 0;
  std::vector<int64_t> tokens;
  nuri_stop_reason stopReason = NURI_STOP_NONE;
};

/// Token generation over a session of a generation package (see
/// nuri_generator_create): add requests, then step or run; tokens stream
/// through the callback. Used by one thread at a time.
class Generator {
public:
  /// (request id, token, finished)
  using TokenFn = std::function<void(uint64_t, int64_t, bool)>;

  Generator(const Session &session, const GeneratorOptions &opts = {}) {
    nuri_generator_options o;
    nuri_generator_options_initialize(&o);
    o.max_new_tokens = opts.maxNewTokens;
    o.temperature = opts.temperature;
    o.top_k = opts.topK;
    o.top_p = opts.topP;
    o.repetition_penalty = opts.repetitionPenalty;
    o.seed = opts.seed;
    o.stop_tokens = opts.stopTokens.data();
    o.stop_token_count = opts.stopTokens.size();
    nuri_generator *g = nullptr;
    check(nuri_generator_create(session.get(), &o, &g));
    handle_.reset(g);
  }
  uint64_t addRequest(const std::vector<int64_t> &prompt) {
    uint64_t id = 0;
    check(nuri_generator_add_request(get(), prompt.data(), prompt.size(), &id));
    return id;
  }
  /// One scheduling step; returns the requests still queued or generating.
  size_t step(const TokenFn &onToken = nullptr) {
    size_t pending = 0;
    check(nuri_generator_step(get(), onToken ? &call : nullptr,
                              const_cast<TokenFn *>(&onToken), &pending));
    return pending;
  }
  void run(const TokenFn &onToken = nullptr) {
    check(nuri_generator_run(get(), onToken ? &call : nullptr,
                             const_cast<TokenFn *>(&onToken)));
  }
  RequestInfo request(uint64_t id) const {
    nuri_request_info info;
    check(nuri_generator_request_info(get(), id, &info));
    return {info.prompt_length,
            std::vector<int64_t>(info.tokens, info.tokens + info.token_count),
            info.stop_reason};
  }
  /// Summed counters of a phase, "prefill" or "decode".
  double counter(const std::string &phase, const std::string &name) const {
    return nuri_generator_counter(get(), phase.c_str(), name.c_str());
  }
  nuri_generator *get() const { return handle_.get(); }

private:
  struct Deleter {
    void operator()(nuri_generator *g) const { nuri_generator_release(g); }
  };
  static void call(void *user, uint64_t id, int64_t token, int finished) {
    (*static_cast<TokenFn *>(user))(id, token, finished != 0);
  }
  std::unique_ptr<nuri_generator, Deleter> handle_;
};

} // namespace nuri

#endif // NURI_RUNTIME_HPP
