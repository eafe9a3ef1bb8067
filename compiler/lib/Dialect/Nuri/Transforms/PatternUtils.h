//===- PatternUtils.h - Matching helpers for the fusion passes --*- C++ -*-===//
//
// What every pattern-recognition pass asks of the graph: is this value a
// scalar constant, near which number, is this op one of two commutative
// operand orders. Kept here so the passes agree on tolerances.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_LIB_DIALECT_NURI_TRANSFORMS_PATTERNUTILS_H
#define NURI_LIB_DIALECT_NURI_TRANSFORMS_PATTERNUTILS_H

#include "nuri/Dialect/Nuri/IR/NuriOps.h"

#include "mlir/IR/PatternMatch.h"

#include <optional>

namespace nuri {

/// The value of a constant that holds one element, or of a splat constant
/// (of any shape); nullopt for anything else.
std::optional<double> getScalarConstant(mlir::Value value);

/// Whether `value` is a scalar constant within `relTol` (relative) of
/// `expected`. Exporters write constants like sqrt(2) in float32, so an exact
/// comparison would miss them.
bool isScalarNear(mlir::Value value, double expected, double relTol = 1e-3);

/// Whether two doubles agree within `relTol`, relative to `expected` (and
/// to 1e-6 when `expected` is zero).
bool isNear(double actual, double expected, double relTol = 1e-3);

/// The constant elements of `value`, or null if it is not a constant.
mlir::ElementsAttr getConstantElements(mlir::Value value);

/// For a binary op `op` of type `OpTy`, calls `fn(lhs, rhs)` and, if that
/// fails, `fn(rhs, lhs)`: how patterns accept either operand order of a
/// commutative op.
template <typename OpTy, typename Fn>
bool matchCommuted(mlir::Value value, Fn fn) {
  auto op = value.getDefiningOp<OpTy>();
  if (!op) {
    return false;
  }
  return fn(op.getLhs(), op.getRhs()) || fn(op.getRhs(), op.getLhs());
}

/// If `value` is `reduce_mean(x)` over the trailing dimensions `[axis, rank)`
/// with `keep_dims`, sets `input` and `axis`.
bool matchTrailingMean(mlir::Value value, mlir::Value &input, int64_t &axis);

/// If `value` is `x * x` or `x ** 2`, returns `x`; otherwise null.
mlir::Value matchSquare(mlir::Value value);

/// `1 / sqrt(variance + epsilon)` or `sqrt(variance + epsilon)`, as read off
/// a normalization.
struct VarianceTerm {
  mlir::Value variance;
  double epsilon = 0;
};

/// `sqrt(v + eps)`.
std::optional<VarianceTerm> matchStdDev(mlir::Value value);

/// `rsqrt(v + eps)`, `reciprocal(sqrt(v + eps))` or `1 / sqrt(v + eps)`.
std::optional<VarianceTerm> matchInvStdDev(mlir::Value value);

/// `n / sqrt(v + eps)` or `n * (1 / sqrt(v + eps))` in any operand order:
/// the numerator and the variance term of a normalization.
struct Normalization {
  mlir::Value numerator;
  VarianceTerm term;
};
std::optional<Normalization> matchNormalization(mlir::Value value);

/// Whether a scale or bias of `paramType` can stand in the parameter slot of a
/// norm over `[axis, rank)` of `inputType` (it broadcasts to the normalized
/// shape without growing it).
bool isNormParam(mlir::Type paramType, mlir::RankedTensorType inputType,
                 int64_t axis);

/// A splat constant of `type` holding `value`.
mlir::Value createSplat(mlir::OpBuilder &builder, mlir::Location loc,
                        mlir::RankedTensorType type, double value);

} // namespace nuri

#endif // NURI_LIB_DIALECT_NURI_TRANSFORMS_PATTERNUTILS_H
