//===- NpuProgram.h - isa::Program <-> the npu dialect ----------*- C++ -*-===//
//
// The npu dialect is the compiler's printable, verifiable form of a program
// (`nuri compile --emit mlir`, `--dump-ir-after-all`, lit tests); emission to
// the binary goes through isa::ProgramBuilder. Both directions are
// mechanical: one op per instruction, one attribute per field.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_CONVERSION_NPUPROGRAM_H
#define NURI_CONVERSION_NPUPROGRAM_H

#include "nuri/Conversion/NpuCodegen.h"
#include "nuri/Dialect/Npu/IR/NpuOps.h"

#include "mlir/IR/Builders.h"

namespace nuri::npu {

/// Builds `npu.program @name` at the builder's insertion point.
ProgramOp importProgram(mlir::OpBuilder &builder, mlir::Location loc,
                        llvm::StringRef name, const CompiledPartition &part,
                        llvm::StringRef targetName);

/// The program an npu.program stands for (with `end` appended to every
/// stream), verified; fails after a diagnostic at the offending op.
mlir::FailureOr<isa::Program> emitProgram(ProgramOp program);

} // namespace nuri::npu

#endif // NURI_CONVERSION_NPUPROGRAM_H
