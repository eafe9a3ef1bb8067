//===- NpuDialect.h - The npu hardware dialect ------------------*- C++ -*-===//

#ifndef NURI_DIALECT_NPU_IR_NPUDIALECT_H
#define NURI_DIALECT_NPU_IR_NPUDIALECT_H

#include "mlir/IR/Dialect.h"

#include "nuri/Dialect/Npu/IR/NpuDialect.h.inc"

#endif // NURI_DIALECT_NPU_IR_NPUDIALECT_H
