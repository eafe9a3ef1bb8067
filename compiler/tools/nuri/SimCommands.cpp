//===- SimCommands.cpp - nuri sim -----------------------------------------===//
//
// `nuri sim PROG.bin|PROG.nasm|PKG.nuri --target NAME`: runs a program on the
// simulator and prints the report. Packages arrive with the runtime issue;
// their per-core streams will feed the same Simulator::run.
//
//===----------------------------------------------------------------------===//

#include "Command.h"

#include "nuri/Dse/Compare.h"
#include "nuri/isa/Assembler.h"
#include "nuri/sim/Energy.h"
#include "nuri/sim/Simulator.h"

#include "llvm/Support/raw_ostream.h"

#include <cstring>
#include <fstream>
#include <random>

namespace {

namespace cl = llvm::cl;

cl::SubCommand simCmd("sim", "Simulate a program on a chip config");
cl::opt<std::string> simInput(cl::Positional,
                              cl::desc("<PROG.bin | PROG.nasm | PKG.nuri | "
                                       "REPORT.json>"),
                              cl::Required, cl::sub(simCmd));
cl::opt<std::string> simTarget("target", cl::desc("chip config name"),
                               cl::init("atom"), cl::sub(simCmd));
cl::opt<std::string>
    simConfig("config", cl::desc("chip config file (overrides --target)"),
              cl::value_desc("FILE.yaml"), cl::sub(simCmd));
cl::list<std::string>
    simSet("set",
           cl::desc("override a config value, e.g. --set dram.bytes_per_s=1TB "
                    "(repeatable; for design-space sweeps)"),
           cl::value_desc("section.key=value"), cl::sub(simCmd));
cl::opt<bool> simJson("json", cl::desc("print the report as one JSON object"),
                      cl::sub(simCmd));
cl::opt<std::string> simTrace("trace",
                              cl::desc("write a Chrome/Perfetto trace"),
                              cl::value_desc("OUT.json"), cl::sub(simCmd));
cl::opt<bool> simTimingOnly("timing-only",
                            cl::desc("skip the data (fast sweeps)"),
                            cl::sub(simCmd));
cl::opt<unsigned> simFill(
    "fill-dram",
    cl::desc("fill this many MiB of DRAM from address 0 with random bf16 "
             "values in [-1, 1) before running (0 = zeros)"),
    cl::init(0), cl::sub(simCmd));
cl::opt<std::string> simCompare(
    "compare",
    cl::desc("print this run against a baseline report saved with --json: "
             "totals and per-kernel cycles side by side (the input may be a "
             "saved report too)"),
    cl::value_desc("BASE.json"), cl::sub(simCmd));

std::string readText(const std::string &path, bool &ok) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  ok = bool(in) || in.eof();
  return text;
}

/// `--compare`: `current` (a report's JSON) against the saved baseline.
int printComparison(const std::string &current, const std::string &name) {
  bool ok = false;
  std::string base = readText(simCompare, ok);
  if (!ok) {
    llvm::errs() << "nuri sim: --compare: " << simCompare << ": cannot read\n";
    return 1;
  }
  nuri::Result<std::string> out =
      nuri::dse::compareSimReports(base, simCompare, current, name, simJson);
  if (!out) {
    llvm::errs() << "nuri sim: --compare: " << out.error() << "\n";
    return 1;
  }
  llvm::outs() << *out;
  return 0;
}

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int runSim() {
  nuri::Result<nuri::target::Target> t =
      simConfig.empty() ? nuri::target::findTarget(simTarget, simSet)
                        : nuri::target::loadTargetFile(simConfig, simSet);
  if (!t) {
    llvm::errs() << "nuri sim: " << t.error() << "\n";
    return 1;
  }
  if (endsWith(simInput, ".json")) {
    // A saved report: nothing to simulate, only to compare.
    if (simCompare.empty()) {
      llvm::errs() << "nuri sim: " << simInput
                   << ": a saved report is only read with --compare "
                      "BASE.json\n";
      return 1;
    }
    bool ok = false;
    std::string current = readText(simInput, ok);
    if (!ok) {
      llvm::errs() << "nuri sim: " << simInput << ": cannot read\n";
      return 1;
    }
    return printComparison(current, simInput);
  }
  if (endsWith(simInput, ".nuri")) {
    llvm::errs() << "nuri sim: " << simInput
                 << ": packages (.nuri) are not supported yet; pass the "
                    "program .bin\n";
    return 1;
  }
  nuri::Result<nuri::isa::Program> p =
      endsWith(simInput, ".nasm") ? nuri::isa::assembleFile(simInput)
                                  : nuri::isa::readProgramFile(simInput);
  if (!p) {
    llvm::errs() << "nuri sim: " << p.error() << "\n";
    return 1;
  }
  nuri::sim::SimOptions opts;
  opts.functional = !simTimingOnly;
  opts.trace = !simTrace.empty();
  nuri::sim::Simulator sim(*t, opts);
  if (simFill && opts.functional) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<uint16_t> data(size_t(simFill) << 19);
    for (uint16_t &v : data) {
      float f = dist(rng);
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      v = uint16_t(bits >> 16);
    }
    try {
      sim.writeDram(0, data.data(), data.size() * 2);
    } catch (const nuri::Error &e) {
      llvm::errs() << "nuri sim: --fill-dram: " << e.what() << "\n";
      return 1;
    }
  }
  nuri::Result<nuri::sim::Report> r = sim.run(*p);
  if (!r) {
    llvm::errs() << "nuri sim: " << simInput << ": " << r.error() << "\n";
    return 1;
  }
  if (opts.trace) {
    std::ofstream out(simTrace);
    out << sim.traceJson();
    if (!out) {
      llvm::errs() << "nuri sim: " << simTrace << ": cannot write\n";
      return 1;
    }
  }
  // Energy by component from the run's counters (docs/dse.md); null when
  // the config has no `energy:` section.
  nuri::sim::EnergyReport energy = nuri::sim::estimateEnergy(*r, *t);
  if (!simCompare.empty()) {
    std::string json = r->toJson();
    json.pop_back();
    return printComparison(json + ", " + energy.toJsonFields() + "}",
                           simInput + " on " + r->target);
  }
  if (simJson) {
    std::string json = r->toJson();
    json.pop_back(); // the closing brace; the energy fields go inside it
    llvm::outs() << json << ", " << energy.toJsonFields() << "}\n";
  } else {
    llvm::outs() << r->toText() << energy.toText();
  }
  return 0;
}
nuri::cli::CommandRegistration simReg(simCmd, runSim);

} // namespace
