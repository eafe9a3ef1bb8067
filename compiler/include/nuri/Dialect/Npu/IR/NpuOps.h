//===- NpuOps.h - Operations of the npu dialect -----------------*- C++ -*-===//

#ifndef NURI_DIALECT_NPU_IR_NPUOPS_H
#define NURI_DIALECT_NPU_IR_NPUOPS_H

#include "nuri/Dialect/Npu/IR/NpuDialect.h"
#include "nuri/isa/Isa.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/RegionKindInterface.h"
#include "mlir/IR/SymbolTable.h"

#define GET_OP_CLASSES
#include "nuri/Dialect/Npu/IR/NpuOps.h.inc"

namespace nuri::npu {

/// The ISA instruction an npu instruction op stands for: every field read
/// from the attribute of the same name, range- and enum-checked. Emits a
/// diagnostic at `op` and fails when a field is missing or out of range.
mlir::FailureOr<isa::Instruction> toInstruction(mlir::Operation *op);

/// The op name (without the `npu.` prefix) of an ISA opcode, or "".
llvm::StringRef opNameOf(isa::Opcode opcode);

} // namespace nuri::npu

#endif // NURI_DIALECT_NPU_IR_NPUOPS_H
