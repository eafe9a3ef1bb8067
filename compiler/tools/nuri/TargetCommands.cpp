//===- TargetCommands.cpp - nuri targets / nuri target show ---------------===//

#include "Command.h"

#include "nuri/sim/Energy.h"
#include "nuri/target/Target.h"

#include <fmt/format.h>

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

namespace {

namespace cl = llvm::cl;

cl::SubCommand targetsCmd("targets",
                          "List the chip configs on the search path");

int runTargets() {
  for (const std::string &name : nuri::target::listTargets()) {
    nuri::Result<nuri::target::Target> t = nuri::target::findTarget(name);
    if (t) {
      llvm::outs() << llvm::format("%-8s", name.c_str()) << "  "
                   << t->description << "\n";
    } else {
      llvm::outs() << llvm::format("%-8s", name.c_str())
                   << "  (invalid: " << t.error() << ")\n";
    }
  }
  return 0;
}
nuri::cli::CommandRegistration targetsReg(targetsCmd, runTargets);

cl::SubCommand targetCmd("target",
                         "Chip config: `nuri target show NAME [--json]`");
cl::list<std::string> targetArgs(cl::Positional, cl::desc("show NAME"),
                                 cl::OneOrMore, cl::sub(targetCmd));
cl::opt<bool> targetJson("json", cl::desc("print one JSON object"),
                         cl::sub(targetCmd));
cl::opt<std::string>
    targetConfig("config", cl::desc("read this YAML file instead of NAME"),
                 cl::value_desc("FILE.yaml"), cl::sub(targetCmd));

cl::list<std::string> targetSet("set",
                                cl::desc("override a config value "
                                         "(section.key=value, repeatable)"),
                                cl::sub(targetCmd));

std::string areaAndPowerText(const nuri::target::Target &t) {
  std::string s;
  if (t.area.present) {
    nuri::target::AreaBreakdown a = nuri::target::areaOf(t);
    s += fmt::format("  area               {:.1f} mm^2 (array {:.1f}, sram "
                     "{:.1f}, vector {:.1f}, cores {:.1f}, dram phy {:.1f}, "
                     "fixed {:.1f}; utilization {:.2f})\n",
                     a.total, a.matrix, a.sram, a.vector, a.cores, a.dramPhy,
                     a.fixed, t.area.utilization);
  }
  if (t.energy.present) {
    for (auto &[d, macs] : t.matrix.macsPerCycle) {
      s += fmt::format(
          "  peak power {:<5}   {:.1f} W (array and DRAM at peak)\n",
          nuri::isa::dtypeName(d), nuri::sim::peakPower(t, d).totalJoules());
    }
  }
  return s;
}

int runTarget() {
  if (targetArgs.empty() || targetArgs[0] != "show" ||
      (targetArgs.size() != 2 &&
       !(targetArgs.size() == 1 && !targetConfig.empty()))) {
    llvm::errs()
        << "usage: nuri target show NAME [--json] [--config FILE.yaml]\n";
    return 2;
  }
  nuri::Result<nuri::target::Target> t =
      targetConfig.empty()
          ? nuri::target::findTarget(targetArgs[1], targetSet)
          : nuri::target::loadTargetFile(targetConfig, targetSet);
  if (!t) {
    llvm::errs() << "nuri target: " << t.error() << "\n";
    return 1;
  }
  llvm::outs() << (targetJson
                       ? nuri::sim::targetJsonWithAreaAndPower(*t) + "\n"
                       : nuri::target::targetToText(*t) + areaAndPowerText(*t));
  return 0;
}
nuri::cli::CommandRegistration targetReg(targetCmd, runTarget);

} // namespace
