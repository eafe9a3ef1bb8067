//===- TargetCommands.cpp - nuri targets / nuri target show ---------------===//

#include "Command.h"

#include "nuri/target/Target.h"

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
  llvm::outs() << (targetJson ? nuri::target::targetToJson(*t) + "\n"
                              : nuri::target::targetToText(*t));
  return 0;
}
nuri::cli::CommandRegistration targetReg(targetCmd, runTarget);

} // namespace
