//===- RunCommand.cpp - nuri run ------------------------------------------===//
//
// nuri run PKG.nuri [--device cpu|sim|auto] [--input NAME=FILE.npy ...]
//          [--state NAME=FILE.npy ...] [--output-dir DIR] [--json] [--trace
//          OUT.json] [--repeat N]
//          [--profile] [--timing-only]
//
// Runs a package through the public runtime API (the same library apps
// link), so the CLI exercises exactly what users get. Inputs without a file
// get deterministic values; outputs are written as NAME.npy. --repeat runs
// the same inputs N times in one session and reports each run's counters
// (the first run of a session uploads the weights, later ones do not).
//
//===----------------------------------------------------------------------===//

#include "Command.h"

#include "nuri/isa/Numerics.h"
#include "nuri/npy/Npy.h"
#include "nuri/runtime.hpp"
#include "nuri/sim/Energy.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <sys/stat.h>

namespace {

namespace cl = llvm::cl;

cl::SubCommand runCmd("run", "Run a compiled package (.nuri) on a device");
cl::opt<std::string> runPackage(cl::Positional, cl::desc("<PKG.nuri>"),
                                cl::Required, cl::sub(runCmd));
cl::opt<std::string> runDevice("device", cl::desc("cpu, sim or auto"),
                               cl::init("auto"), cl::sub(runCmd));
cl::list<std::string>
    runInputs("input",
              cl::desc("feed input NAME from a .npy file (repeatable); "
                       "inputs without one get deterministic values"),
              cl::value_desc("NAME=FILE.npy"), cl::sub(runCmd));
cl::list<std::string> runStates(
    "state",
    cl::desc("set state buffer NAME (a generation package's KV cache, e.g. "
             "past_key_values.0.key) from a .npy file of its shape and dtype "
             "(f32 rounds to a bf16/fp16 state) before the first run "
             "(repeatable)"),
    cl::value_desc("NAME=FILE.npy"), cl::sub(runCmd));
cl::opt<std::string> runOutputDir(
    "output-dir",
    cl::desc("write each output as NAME.npy, and each state buffer after the "
             "last run as state.NAME.npy"),
    cl::value_desc("DIR"), cl::sub(runCmd));
cl::opt<bool> runJson("json", cl::desc("print one JSON object"),
                      cl::sub(runCmd));
cl::opt<std::string>
    runTrace("trace",
             cl::desc("write a Chrome/Perfetto trace of the (last) run: the "
                      "partitions in order on a 'run' track, the simulator's "
                      "engine tracks inside each NPU partition"),
             cl::value_desc("OUT.json"), cl::sub(runCmd));
cl::opt<unsigned> runRepeat("repeat",
                            cl::desc("run N times in one session and report "
                                     "each run's counters"),
                            cl::value_desc("N"), cl::init(1), cl::sub(runCmd));
cl::opt<std::string>
    runProgram("program",
               cl::desc("run one program of a generation package (nuri "
                        "compile --generate), e.g. decode.b1.c64, to time or "
                        "profile it; its kv_slots default to the row index "
                        "and kv_positions to 0"),
               cl::value_desc("NAME"), cl::init(""), cl::sub(runCmd));
cl::opt<bool> runTimingOnly(
    "timing-only",
    cl::desc("on the sim device: simulate timing without data (what a "
             "package from `nuri compile --timing-only` needs); the outputs "
             "are not computed"),
    cl::sub(runCmd));
cl::opt<bool> runProfile("profile",
                         cl::desc("time every CPU op; print the wall time per "
                                  "op kind"),
                         cl::sub(runCmd));

/// The trace of a whole run from the traces the session recorded (no
/// second simulation). CPU partitions take their measured wall time, NPU
/// partitions their simulated time with the simulator's events shifted to
/// where the partition starts. Returns an error message, empty on success.
std::string writeRunTrace(const std::vector<nuri::PartitionStats> &stats,
                          const std::string &out) {
  llvm::json::Array events;
  events.push_back(
      llvm::json::Object{{"ph", "M"},
                         {"pid", 1000},
                         {"name", "process_name"},
                         {"args", llvm::json::Object{{"name", "run"}}}});
  double cursor = 0; // microseconds
  int64_t flowBase = 0;
  bool named = false;
  for (size_t i = 0; i < stats.size(); ++i) {
    const nuri::PartitionStats &part = stats[i];
    bool npu = part.device != "cpu";
    double dur = part.wallSeconds() * 1e6;
    if (npu && !part.traceJson.empty()) {
      dur = part.counters.get("device_seconds") * 1e6;
      llvm::Expected<llvm::json::Value> parsed =
          llvm::json::parse(part.traceJson);
      if (!parsed) {
        return "partition '" + part.name +
               "': unreadable trace: " + llvm::toString(parsed.takeError());
      }
      int64_t maxFlow = -1;
      llvm::json::Object *root = parsed->getAsObject();
      if (auto *inner = root ? root->getArray("traceEvents") : nullptr) {
        for (llvm::json::Value &v : *inner) {
          llvm::json::Object *e = v.getAsObject();
          if (!e) {
            continue;
          }
          bool meta = e->getString("ph") == llvm::StringRef("M");
          if (meta && named) {
            continue; // the cores' track names once
          }
          if (std::optional<double> ts = e->getNumber("ts")) {
            (*e)["ts"] = *ts + cursor;
          }
          if (std::optional<int64_t> id = e->getInteger("id")) {
            maxFlow = std::max(maxFlow, *id);
            (*e)["id"] = *id + flowBase;
          }
          events.push_back(std::move(v));
        }
      }
      flowBase += maxFlow + 1;
      named = true;
    }
    events.push_back(llvm::json::Object{
        {"ph", "X"},
        {"pid", 1000},
        {"tid", npu ? 1 : 0},
        {"name",
         (part.name.empty() ? "partition " + std::to_string(i) : part.name) +
             (npu ? " (npu, simulated)" : " (cpu, wall time)")},
        {"ts", cursor},
        {"dur", dur},
        {"args", llvm::json::Object{
                     {"partition", int64_t(i)},
                     {"sim_cycles", int64_t(part.counters.get("cycles"))},
                     {"wall_seconds", part.wallSeconds()}}}});
    cursor += dur;
  }
  std::error_code ec;
  llvm::raw_fd_ostream os(out, ec);
  if (ec) {
    return out + ": " + ec.message();
  }
  os << llvm::json::Value(llvm::json::Object{
      {"displayTimeUnit", "ns"}, {"traceEvents", std::move(events)}});
  os.close();
  return os.has_error() ? out + ": cannot write" : "";
}

llvm::json::Object countersJson(const nuri::Counters &counters) {
  llvm::json::Object obj;
  for (const auto &[name, value] : counters.items) {
    // Counts print as integers; times and ratios as doubles.
    if (value == std::floor(value) && std::fabs(value) < 9e15 &&
        name.find("seconds") == std::string::npos &&
        name.find("utilization") == std::string::npos) {
      obj[name] = int64_t(value);
    } else {
      obj[name] = value;
    }
  }
  return obj;
}

/// The run's energy from the sim device's `energy_j.<component>` counters
/// (summed over the NPU partitions) over its simulated time: what `nuri sim`
/// reports for one program (docs/simulator.md).
nuri::sim::EnergyReport energyOf(const nuri::Counters &counters) {
  nuri::sim::EnergyReport e;
  e.seconds = counters.get("device_seconds");
  for (const auto &[name, value] : counters.items) {
    if (name.rfind("energy_j.", 0) == 0) {
      e.modeled = true;
      e.joules.emplace_back(name.substr(strlen("energy_j.")), value);
    }
  }
  return e;
}

/// `energy_j` and `average_power_w`, each with `total` and one entry per
/// component, as in `nuri sim --json`; null without an `energy:` section.
void addEnergyJson(llvm::json::Object &sim, const nuri::Counters &counters) {
  nuri::sim::EnergyReport e = energyOf(counters);
  if (!e.modeled) {
    sim["energy_j"] = nullptr;
    sim["average_power_w"] = nullptr;
    return;
  }
  llvm::json::Object energy{{"total", e.totalJoules()}};
  llvm::json::Object power{{"total", e.averagePowerW()}};
  for (const auto &[component, joules] : e.joules) {
    energy[component] = joules;
    power[component] = e.seconds > 0 ? joules / e.seconds : 0.0;
  }
  sim["energy_j"] = std::move(energy);
  sim["average_power_w"] = std::move(power);
}

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    s += (i ? "," : "") + std::to_string(shape[i]);
  }
  return s + "]";
}

/// Deterministic values (a fixed LCG seeded by the input's position):
/// floats in [-1, 1), integers 0 or 1 (1 for inputs named like a mask, so
/// no attention row is fully masked), bools alternating. 0 and 1 are in
/// range for every index input (token ids, token types, positions).
std::vector<uint8_t> deterministicInput(const nuri::TensorInfo &info,
                                        size_t position) {
  std::vector<uint8_t> bytes(info.byteSize);
  uint64_t state = 0x9E3779B97F4A7C15ull * (position + 1);
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return uint32_t(state >> 33);
  };
  size_t n = static_cast<size_t>(info.elements());
  bool isMask = info.name.find("mask") != std::string::npos;
  for (size_t i = 0; i < n; ++i) {
    float f = float(next() % 2048) / 1024.0f - 1.0f;
    int64_t k = isMask ? 1 : int64_t(next() % 2);
    // A generation program's cache indices: distinct slots, from position 0.
    if (info.name == "kv_slots") {
      k = int64_t(i);
    } else if (info.name == "kv_positions") {
      k = 0;
    }
    switch (info.dtype) {
    case NURI_DTYPE_F32:
      std::memcpy(bytes.data() + 4 * i, &f, 4);
      break;
    case NURI_DTYPE_F64: {
      double d = f;
      std::memcpy(bytes.data() + 8 * i, &d, 8);
      break;
    }
    case NURI_DTYPE_F16:
    case NURI_DTYPE_BF16: {
      uint16_t h = info.dtype == NURI_DTYPE_BF16 ? nuri::isa::f32ToBf16(f)
                                                 : nuri::isa::f32ToF16(f);
      std::memcpy(bytes.data() + 2 * i, &h, 2);
      break;
    }
    case NURI_DTYPE_BOOL:
      bytes[i] = uint8_t(i % 2);
      break;
    default: {
      size_t w = nuri_dtype_size(info.dtype);
      std::memcpy(bytes.data() + w * i, &k, w); // little endian
      break;
    }
    }
  }
  return bytes;
}

/// numpy has no bf16/fp8: `nuri run` writes them as u16/u8, and reads them
/// back as the type the tensor wants.
nuri_dtype npyDtypeFor(nuri_dtype wanted, nuri_dtype read) {
  if ((wanted == NURI_DTYPE_BF16 && read == NURI_DTYPE_U16) ||
      ((wanted == NURI_DTYPE_F8E4M3 || wanted == NURI_DTYPE_F8E5M2) &&
       read == NURI_DTYPE_U8)) {
    return wanted;
  }
  return read;
}

std::string fileNameFor(const std::string &name) {
  std::string s = name;
  for (char &c : s) {
    if (c == '/' || c == '\\' || c == ':' || c == ' ') {
      c = '_';
    }
  }
  return s.empty() ? "output" : s;
}

/// min / max / mean of a float output for the summary.
bool floatSummary(const nuri::OutputView &out, double &lo, double &hi,
                  double &mean) {
  if (out.info.dtype != NURI_DTYPE_F32 || out.info.elements() == 0) {
    return false;
  }
  const float *p = out.as<float>();
  lo = hi = p[0];
  double sum = 0;
  for (int64_t i = 0; i < out.info.elements(); ++i) {
    lo = std::min(lo, double(p[i]));
    hi = std::max(hi, double(p[i]));
    sum += p[i];
  }
  mean = sum / double(out.info.elements());
  return true;
}

int runRun() {
  auto fail = [](const std::string &message) {
    llvm::errs() << "nuri run: " << message << "\n";
    return 1;
  };
  try {
    nuri::Model model = nuri::Model::loadFile(runPackage);
    nuri::SessionOptions options;
    options.trace = !runTrace.empty();
    options.profile = runProfile;
    options.timingOnly = runTimingOnly;
    if (runTimingOnly && (!runOutputDir.empty() || !runStates.empty())) {
      return fail("--output-dir and --state move data, which a --timing-only "
                  "run does not compute");
    }
    nuri::Session session(model, runDevice, options);
    std::vector<nuri::TensorInfo> inputs = model.inputs();
    std::vector<nuri::TensorInfo> outputs = model.outputs();
    std::vector<nuri::ProgramInfo> programs = model.programs();
    if (!programs.empty() || !runProgram.empty()) {
      std::string names;
      const nuri::ProgramInfo *chosen = nullptr;
      for (const nuri::ProgramInfo &p : programs) {
        names += (names.empty() ? "" : ", ") + p.name;
        chosen = p.name == runProgram ? &p : chosen;
      }
      if (programs.empty()) {
        return fail("--program: " + runPackage.getValue() +
                    " is not a generation package");
      }
      if (!chosen) {
        return fail(runPackage.getValue() +
                    " is a generation package: run one of its programs with "
                    "--program NAME (" +
                    names + "), or generate tokens with nuri generate");
      }
      inputs = chosen->inputs;
      outputs = chosen->outputs;
    }
    nuri::Run run =
        runProgram.empty() ? session.newRun() : session.newRun(runProgram);

    // NAME=FILE.npy pairs of --input or --state.
    auto namedFiles = [](const cl::list<std::string> &specs, const char *flag,
                         std::map<std::string, std::string> &out) {
      for (const std::string &spec : specs) {
        size_t eq = spec.find('=');
        if (eq == std::string::npos || eq == 0) {
          return std::string(flag) + " expects NAME=FILE.npy, got '" + spec +
                 "'";
        }
        out[spec.substr(0, eq)] = spec.substr(eq + 1);
      }
      return std::string();
    };
    std::map<std::string, std::string> files, stateFiles;
    for (std::string problem : {namedFiles(runInputs, "--input", files),
                                namedFiles(runStates, "--state", stateFiles)}) {
      if (!problem.empty()) {
        return fail(problem);
      }
    }
    std::vector<nuri::TensorInfo> states = model.states();
    for (const auto &[name, file] : stateFiles) {
      auto state = std::find_if(
          states.begin(), states.end(),
          [&](const nuri::TensorInfo &t) { return t.name == name; });
      if (state == states.end()) {
        std::string names;
        for (const nuri::TensorInfo &t : states) {
          names += (names.empty() ? "" : ", ") + t.name;
        }
        return fail("--state " + name + ": the package has no state '" + name +
                    "' (states: " + (names.empty() ? "none" : names) + ")");
      }
      nuri::Result<nuri::npy::Array> a = nuri::npy::readFile(file);
      if (!a) {
        return fail("--state " + name + ": " + a.error());
      }
      nuri_dtype dtype =
          npyDtypeFor(state->dtype, static_cast<nuri_dtype>(a->dtype));
      // A chip's cache is bf16 (or fp16), which numpy cannot write: f32
      // values round to it, to nearest even.
      bool half =
          state->dtype == NURI_DTYPE_BF16 || state->dtype == NURI_DTYPE_F16;
      if (half && dtype == NURI_DTYPE_F32 && a->shape == state->shape) {
        std::vector<uint8_t> narrow(a->data.size() / 2);
        for (size_t i = 0; i < narrow.size() / 2; ++i) {
          float f;
          std::memcpy(&f, a->data.data() + 4 * i, 4);
          uint16_t h = state->dtype == NURI_DTYPE_BF16 ? nuri::isa::f32ToBf16(f)
                                                       : nuri::isa::f32ToF16(f);
          std::memcpy(narrow.data() + 2 * i, &h, 2);
        }
        a->data = std::move(narrow);
        dtype = state->dtype;
      }
      if (dtype != state->dtype || a->shape != state->shape) {
        return fail("--state " + name + ": " + file + " is " +
                    nuri_dtype_name(dtype) + " " + shapeText(a->shape) +
                    "; the state is " + nuri_dtype_name(state->dtype) + " " +
                    shapeText(state->shape));
      }
      session.writeState(name, a->data.data(), a->data.size());
    }
    for (const auto &[name, file] : files) {
      bool known = false;
      for (const nuri::TensorInfo &i : inputs) {
        known |= i.name == name;
      }
      if (!known) {
        std::string names;
        for (const nuri::TensorInfo &i : inputs) {
          names += (names.empty() ? "" : ", ") + i.name;
        }
        return fail("--input " + name + ": the package has no input '" + name +
                    "' (inputs: " + names + ")");
      }
    }
    // Keeps the bound input bytes alive through the run (zero copy).
    std::vector<std::vector<uint8_t>> storage;
    for (size_t k = 0; k < inputs.size(); ++k) {
      const nuri::TensorInfo &info = inputs[k];
      auto it = files.find(info.name);
      if (it == files.end()) {
        storage.push_back(deterministicInput(info, k));
        run.bindInput(info.name, {info.dtype, info.shape, storage.back().data(),
                                  info.byteSize});
        continue;
      }
      nuri::Result<nuri::npy::Array> a = nuri::npy::readFile(it->second);
      if (!a) {
        return fail("input '" + info.name + "': " + a.error());
      }
      nuri_dtype dtype =
          npyDtypeFor(info.dtype, static_cast<nuri_dtype>(a->dtype));
      storage.push_back(std::move(a->data));
      run.bindInput(info.name, {dtype, a->shape, storage.back().data(),
                                storage.back().size()});
    }
    if (runRepeat < 1) {
      return fail("--repeat must be at least 1");
    }
    // Every run's counters; the outputs are those of the last run (every
    // run computes the same ones unless the package keeps state).
    llvm::json::Array runsJson;
    std::vector<nuri::Counters> runCounters;
    for (unsigned r = 0; r < runRepeat; ++r) {
      run.execute();
      nuri::Counters counters = run.counters();
      llvm::json::Array parts;
      for (const nuri::PartitionStats &p : run.partitionStats()) {
        parts.push_back(
            llvm::json::Object{{"name", p.name},
                               {"device", p.device},
                               {"counters", countersJson(p.counters)}});
      }
      runsJson.push_back(
          llvm::json::Object{{"run", int64_t(r)},
                             {"counters", countersJson(counters)},
                             {"partitions", std::move(parts)}});
      runCounters.push_back(std::move(counters));
    }
    const nuri::Counters &stats = runCounters.back();

    if (!runOutputDir.empty()) {
      ::mkdir(runOutputDir.c_str(), 0777); // an existing dir is fine
    }
    llvm::json::Array outputsJson;
    std::string summary;
    for (const nuri::TensorInfo &o :
         runTimingOnly ? std::vector<nuri::TensorInfo>() : outputs) {
      nuri::OutputView out = run.output(o.name);
      std::string path;
      if (!runOutputDir.empty()) {
        path = runOutputDir + "/" + fileNameFor(o.name) + ".npy";
        nuri::Result<bool> w =
            nuri::npy::writeFile(path, static_cast<nuri::graph::DType>(o.dtype),
                                 o.shape, out.data, o.byteSize);
        if (!w) {
          return fail(w.error());
        }
      }
      llvm::json::Object obj{{"name", o.name},
                             {"shape", llvm::json::Array(o.shape)},
                             {"dtype", nuri_dtype_name(o.dtype)}};
      if (!path.empty()) {
        obj["file"] = path;
      }
      double lo, hi, mean;
      summary += "  " + o.name + ": " + shapeText(o.shape) + " " +
                 nuri_dtype_name(o.dtype);
      if (floatSummary(out, lo, hi, mean)) {
        obj["min"] = lo;
        obj["max"] = hi;
        obj["mean"] = mean;
        summary +=
            llvm::formatv("  min {0:g} max {1:g} mean {2:g}", lo, hi, mean)
                .str();
      }
      if (!path.empty()) {
        summary += "  -> " + path;
      }
      summary += "\n";
      outputsJson.push_back(std::move(obj));
    }
    if (!runOutputDir.empty()) {
      for (const nuri::TensorInfo &t : states) {
        std::vector<uint8_t> bytes(t.byteSize);
        session.readState(t.name, bytes.data(), bytes.size());
        std::string path =
            runOutputDir + "/state." + fileNameFor(t.name) + ".npy";
        nuri::Result<bool> w =
            nuri::npy::writeFile(path, static_cast<nuri::graph::DType>(t.dtype),
                                 t.shape, bytes.data(), bytes.size());
        if (!w) {
          return fail(w.error());
        }
      }
    }
    std::vector<nuri::PartitionStats> partitions = run.partitionStats();
    llvm::json::Array partsJson;
    for (const nuri::PartitionStats &p : partitions) {
      partsJson.push_back(llvm::json::Object{
          {"name", p.name},
          {"device", p.device},
          {"wall_seconds", p.wallSeconds()},
          {"sim_cycles", int64_t(p.counters.get("cycles"))}});
    }
    bool sim = session.device() == "sim";
    if (!runTrace.empty()) {
      std::string problem = writeRunTrace(partitions, runTrace);
      if (!problem.empty()) {
        return fail("--trace: " + problem);
      }
    }
    // Per op kind over the CPU partitions of the last run, largest first.
    std::vector<std::pair<double, std::string>> opTimes;
    if (runProfile) {
      nuri::Counters byKind;
      for (const nuri::PartitionStats &p : partitions) {
        for (const auto &[name, value] : p.counters.items) {
          if (name.rfind("op_seconds.", 0) == 0) {
            bool found = false;
            for (auto &item : byKind.items) {
              if (item.first == name) {
                item.second += value;
                found = true;
              }
            }
            if (!found) {
              byKind.items.emplace_back(name, value);
            }
          }
        }
      }
      for (const auto &[name, value] : byKind.items) {
        opTimes.emplace_back(value, name.substr(strlen("op_seconds.")));
      }
      std::sort(opTimes.rbegin(), opTimes.rend());
    }
    if (runJson) {
      llvm::json::Object root{{"package", std::string(runPackage)},
                              {"device", session.device()},
                              {"target", model.target()},
                              {"outputs", std::move(outputsJson)},
                              {"wall_seconds", stats.get("wall_seconds")},
                              {"partitions", std::move(partsJson)},
                              {"runs", std::move(runsJson)}};
      if (runTimingOnly) {
        root["timing_only"] = true; // "outputs" is empty: never computed
      }
      if (sim) {
        root["sim"] = llvm::json::Object{
            {"cycles", int64_t(stats.get("cycles"))},
            {"seconds", stats.get("device_seconds")},
            {"mac_utilization", stats.get("mac_utilization")},
            {"dram_bytes", int64_t(stats.get("dram_bytes"))},
            {"npu_partitions", int64_t(stats.get("npu_partitions_run"))}};
        addEnergyJson(*root.getObject("sim"), stats);
      }
      if (runProfile) {
        llvm::json::Object ops;
        for (const auto &[seconds, kind] : opTimes) {
          ops[kind] = seconds;
        }
        root["op_seconds"] = std::move(ops);
      }
      llvm::outs() << llvm::formatv("{0:2}", llvm::json::Value(std::move(root)))
                   << "\n";
      return 0;
    }
    llvm::outs() << "package " << runPackage << " (target " << model.target()
                 << ") on device " << session.device() << ": "
                 << int64_t(stats.get("partitions_run")) << " partitions, "
                 << llvm::formatv("{0:f3}", stats.get("wall_seconds") * 1e3)
                 << " ms\n";
    if (runRepeat > 1) {
      for (size_t r = 0; r < runCounters.size(); ++r) {
        llvm::outs() << llvm::formatv(
            "  run {0}: {1:f3} ms, {2} weight bytes written to the device\n", r,
            runCounters[r].get("wall_seconds") * 1e3,
            int64_t(runCounters[r].get("device_weight_bytes_written")));
      }
    }
    if (sim) {
      llvm::outs() << llvm::formatv(
          "sim: {0} cycles, {1:f3} us, mac utilization {2:f4}, {3} DRAM "
          "bytes ({4} NPU partitions)\n",
          int64_t(stats.get("cycles")), stats.get("device_seconds") * 1e6,
          stats.get("mac_utilization"), int64_t(stats.get("dram_bytes")),
          int64_t(stats.get("npu_partitions_run")));
      llvm::outs() << energyOf(stats).toText();
    }
    if (sim) {
      for (const nuri::PartitionStats &p : partitions) {
        int64_t cycles = int64_t(p.counters.get("cycles"));
        llvm::outs() << llvm::formatv("  partition {0,-10} {1,-4} {2,10} "
                                      "cycles  {3:f3} ms wall\n",
                                      p.name, p.device == "cpu" ? "cpu" : "npu",
                                      cycles, p.wallSeconds() * 1e3);
      }
    }
    if (runProfile) {
      double total = 0;
      for (const auto &[seconds, kind] : opTimes) {
        total += seconds;
      }
      llvm::outs() << "cpu ops by wall time:\n";
      for (const auto &[seconds, kind] : opTimes) {
        llvm::outs() << llvm::formatv("  {0,-28} {1,10:f3} ms {2,6:f1}%\n",
                                      kind, seconds * 1e3,
                                      total > 0 ? 100 * seconds / total : 0.0);
      }
    }
    if (runTimingOnly) {
      llvm::outs() << "outputs: not computed (--timing-only)\n";
      return 0;
    }
    llvm::outs() << "outputs:\n" << summary;
    return 0;
  } catch (const nuri::Exception &e) {
    return fail(e.what());
  }
}

nuri::cli::CommandRegistration runReg(runCmd, runRun);

} // namespace
