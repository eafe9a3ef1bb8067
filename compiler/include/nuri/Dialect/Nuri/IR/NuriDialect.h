//===- NuriDialect.h - The nuri graph dialect -------------------*- C++ -*-===//

#ifndef NURI_DIALECT_NURI_IR_NURIDIALECT_H
#define NURI_DIALECT_NURI_IR_NURIDIALECT_H

#include "mlir/IR/Dialect.h"

#include <memory>

namespace nuri::detail {
/// Chip configs parsed from #nuri.target attributes (NuriTarget.cpp).
class TargetCache;
} // namespace nuri::detail

#include "nuri/Dialect/Nuri/IR/NuriDialect.h.inc"

#endif // NURI_DIALECT_NURI_IR_NURIDIALECT_H
