//===- PackageWriter.h - Writing the package of `nuri compile` --*- C++ -*-===//
//
// One of the driver's three jobs (with NpuPartition.h and CompileReport.h):
// the partitioned module to a package. `@main` is a sequence of CPU ops and
// calls of outlined NPU partitions; the package gets one partition per call
// and one CPU partition per run of CPU ops between calls, in that order. The
// partitions exchange tensors by name, so every value that crosses a
// boundary gets one unique name used on both sides. Each NPU call is
// compiled (NpuPartition.h) and handed to the report (CompileReport.h) as
// it is written.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_LIB_DRIVER_PACKAGEWRITER_H
#define NURI_LIB_DRIVER_PACKAGEWRITER_H

#include "CompileReport.h"

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <string>
#include <vector>

namespace nuri::driver {

/// Writes the package of `module` (partitioned and outlined, or one CPU
/// graph when nothing was outlined) for `target` (null for `--target cpu`),
/// adding every partition to `report`. With Emit::Asm, `asmText` gets each
/// NPU program. With Emit::Programs, `programs` gets each NPU program
/// instead and no package is built (the result is empty). Fails after a
/// diagnostic.
mlir::FailureOr<std::vector<uint8_t>>
writePackage(mlir::ModuleOp module, const CompileOptions &options,
             const target::Target *target, ReportBuilder &report,
             std::string &asmText, std::vector<isa::Program> &programs);

} // namespace nuri::driver

#endif // NURI_LIB_DRIVER_PACKAGEWRITER_H
