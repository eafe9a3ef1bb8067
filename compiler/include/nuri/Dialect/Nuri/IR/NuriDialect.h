//===- NuriDialect.h - The nuri graph dialect -------------------*- C++ -*-===//

#ifndef NURI_DIALECT_NURI_IR_NURIDIALECT_H
#define NURI_DIALECT_NURI_IR_NURIDIALECT_H

#include "mlir/IR/Dialect.h"

#include "nuri/Dialect/Nuri/IR/NuriDialect.h.inc"

#endif // NURI_DIALECT_NURI_IR_NURIDIALECT_H
