//===- NpuPartition.h - Compiling one NPU partition -------------*- C++ -*-===//
//
// One of the driver's three jobs (with CompileReport.h and PackageWriter.h):
// an outlined `@npu_N` of the partitioned module to its program, through the
// NPU lowering (nuri/Conversion/NpuCodegen.h), with the driver's options.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_LIB_DRIVER_NPUPARTITION_H
#define NURI_LIB_DRIVER_NPUPARTITION_H

#include "nuri/Conversion/NpuCodegen.h"
#include "nuri/Driver/Compile.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <string>

namespace nuri::driver {

/// Lowers `callee` (an outlined NPU partition) for `target`. Fails after a
/// diagnostic at the op that cannot be lowered.
mlir::FailureOr<npu::CompiledPartition>
compileNpuPartition(mlir::func::FuncOp callee, const target::Target &target,
                    const CompileOptions &options);

/// The program of partition `name` as `--emit asm` writes it: a header line
/// naming the partition and target, then the disassembly.
std::string npuPartitionAsm(llvm::StringRef name, const target::Target &target,
                            const isa::Program &program);

} // namespace nuri::driver

#endif // NURI_LIB_DRIVER_NPUPARTITION_H
