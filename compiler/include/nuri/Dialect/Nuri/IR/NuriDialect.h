//===- NuriDialect.h - The nuri graph dialect -------------------*- C++ -*-===//

#ifndef NURI_DIALECT_NURI_IR_NURIDIALECT_H
#define NURI_DIALECT_NURI_IR_NURIDIALECT_H

#include "mlir/IR/Dialect.h"

#include <memory>

namespace nuri {
/// A state buffer (nuri-kv-cache's caches) on a function argument, the
/// buffer a run reads, and on a result, the buffer it leaves: the state's
/// name. The package writer makes each pair one state of the package.
inline constexpr llvm::StringLiteral kStateAttrName = "nuri.state";
} // namespace nuri

namespace nuri::detail {
/// Chip configs parsed from #nuri.target attributes (NuriTarget.cpp).
class TargetCache;
} // namespace nuri::detail

#include "nuri/Dialect/Nuri/IR/NuriDialect.h.inc"

#endif // NURI_DIALECT_NURI_IR_NURIDIALECT_H
