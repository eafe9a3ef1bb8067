//===- Command.h - Subcommands of the nuri CLI ------------------*- C++ -*-===//
//
// Each subcommand lives in its own file, declares an llvm::cl::SubCommand with
// its options scoped to it, and registers its entry point here, so that adding
// a subcommand never touches main.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_TOOLS_NURI_COMMAND_H
#define NURI_TOOLS_NURI_COMMAND_H

#include "llvm/Support/CommandLine.h"

namespace nuri::cli {

/// The entry point of a subcommand, run after the command line was parsed.
/// Returns the process exit code.
using CommandMain = int (*)();

/// Registers a subcommand at static-initialization time.
struct CommandRegistration {
  CommandRegistration(llvm::cl::SubCommand &subcommand, CommandMain main);
};

} // namespace nuri::cli

#endif // NURI_TOOLS_NURI_COMMAND_H
