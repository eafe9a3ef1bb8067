//===- DriverBench.h - What the compile-flow benchmarks share ---*- C++ -*-===//
//
// nuri-bench-compile and nuri-bench-npu both write zoo models once into a
// directory they share and run the driver's compile flow in a fresh MLIR
// context per model.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_BENCHMARKS_COMMON_DRIVERBENCH_H
#define NURI_BENCHMARKS_COMMON_DRIVERBENCH_H

#include "nuri/Driver/Compile.h"
#include "nuri/Zoo/Zoo.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

namespace nuri::bench {

/// Writes zoo model `name` to `path` unless it is already there; false
/// after printing why (prefixed with `tool`) when it cannot.
inline bool ensureZooModel(const char *tool, const std::string &name,
                           const std::string &path) {
  if (std::filesystem::exists(path)) {
    return true;
  }
  std::string error;
  std::unique_ptr<zoo::Model> model = zoo::buildModel(name, {}, error);
  if (!model || !zoo::writeModel(*model, path, {}, error)) {
    std::fprintf(stderr, "%s: %s\n", tool, error.c_str());
    return false;
  }
  return true;
}

/// A single-threaded context with the driver's dialects whose diagnostics
/// go to stderr (the benchmark's own lines stay on stdout).
struct DriverContext {
  static mlir::DialectRegistry registry() {
    mlir::DialectRegistry r;
    driver::registerDialects(r);
    return r;
  }
  mlir::MLIRContext context{registry(), mlir::MLIRContext::Threading::DISABLED};
  mlir::ScopedDiagnosticHandler handler{&context, [](mlir::Diagnostic &d) {
                                          std::fprintf(stderr, "%s\n",
                                                       d.str().c_str());
                                          return mlir::success();
                                        }};
};

} // namespace nuri::bench

#endif // NURI_BENCHMARKS_COMMON_DRIVERBENCH_H
