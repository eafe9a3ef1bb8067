//===- main.cpp - The nuri command-line tool ------------------------------===//
//
// `nuri <subcommand> ...`: the user-facing CLI. Subcommands register
// themselves (see Command.h).
//
//===----------------------------------------------------------------------===//

#include "Command.h"

#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <vector>

using namespace nuri::cli;

namespace {
struct Registered {
  llvm::cl::SubCommand *subcommand;
  CommandMain main;
};

std::vector<Registered> &registry() {
  static std::vector<Registered> commands;
  return commands;
}
} // namespace

CommandRegistration::CommandRegistration(llvm::cl::SubCommand &subcommand,
                                         CommandMain main) {
  registry().push_back({&subcommand, main});
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  llvm::cl::HideUnrelatedOptions({});
  if (!llvm::cl::ParseCommandLineOptions(
          argc, argv,
          "nuri: compile transformer models for NPUs, simulate and run them\n\n"
          "  nuri <subcommand> --help   describes one subcommand\n")) {
    return 2;
  }
  for (const Registered &command : registry()) {
    if (*command.subcommand) {
      return command.main();
    }
  }
  llvm::errs() << "nuri: no subcommand given; subcommands:\n";
  for (const Registered &command : registry()) {
    llvm::errs() << "  " << command.subcommand->getName() << "  "
                 << command.subcommand->getDescription() << "\n";
  }
  return 2;
}
