//===- CliSupport.h - Shared pieces of the nuri subcommands -----*- C++ -*-===//

#ifndef NURI_TOOLS_NURI_CLISUPPORT_H
#define NURI_TOOLS_NURI_CLISUPPORT_H

#include "mlir/IR/MLIRContext.h"
#include "nuri/Frontend/OnnxImporter.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <string>

namespace nuri::cli {

/// Prints diagnostics as `FILE: node 'NAME': error: MESSAGE`, the form users
/// see from every nuri subcommand, and counts errors.
class DiagnosticPrinter {
public:
  explicit DiagnosticPrinter(mlir::MLIRContext &context);
  ~DiagnosticPrinter();
  int errorCount() const { return errors; }

private:
  mlir::MLIRContext &context;
  uint64_t handlerId;
  int errors = 0;
};

/// Fills the import options shared by `nuri import`, `compile` and
/// `inspect` from `--input-shape NAME=DIMS` and `--bind-input NAME=FILE.pb`
/// values; prints an error and returns false on a malformed one.
bool parseImportOptions(llvm::ArrayRef<std::string> inputShapes,
                        llvm::ArrayRef<std::string> bindInputs,
                        nuri::OnnxImportOptions &options);

/// Writes `text` to `path` ("-" is stdout); prints an error and returns
/// false on failure.
bool writeOutput(llvm::StringRef path, llvm::StringRef text);

} // namespace nuri::cli

#endif // NURI_TOOLS_NURI_CLISUPPORT_H
