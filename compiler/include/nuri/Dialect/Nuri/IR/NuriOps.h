//===- NuriOps.h - Operations of the nuri dialect ---------------*- C++ -*-===//

#ifndef NURI_DIALECT_NURI_IR_NURIOPS_H
#define NURI_DIALECT_NURI_IR_NURIOPS_H

#include "nuri/Dialect/Nuri/IR/NuriDialect.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "nuri/Dialect/Nuri/IR/NuriEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "nuri/Dialect/Nuri/IR/NuriAttrs.h.inc"

namespace nuri::detail {
// Shape inference shared by several ops. Each returns failure, after
// emitting a diagnostic at `loc` when one is given, if the operands or
// attributes admit no result.
using Loc = std::optional<mlir::Location>;
using Types = llvm::SmallVectorImpl<mlir::Type>;

mlir::LogicalResult inferConstant(Loc loc, mlir::Attribute value,
                                  Types &inferred);
mlir::LogicalResult inferBroadcast(Loc loc, mlir::ValueRange operands,
                                   bool boolResult, Types &inferred);
mlir::LogicalResult inferWhere(Loc loc, mlir::Value condition,
                               mlir::Value onTrue, mlir::Value onFalse,
                               Types &inferred);
mlir::LogicalResult inferMatmul(Loc loc, mlir::Type lhs, mlir::Type rhs,
                                bool transposeLhs, bool transposeRhs,
                                Types &inferred);
mlir::LogicalResult inferLinear(Loc loc, mlir::Type input, mlir::Type weight,
                                mlir::Value bias, Types &inferred);
mlir::LogicalResult inferConv(Loc loc, mlir::Type input, mlir::Type weight,
                              mlir::Value bias, llvm::ArrayRef<int64_t> strides,
                              llvm::ArrayRef<int64_t> pads,
                              llvm::ArrayRef<int64_t> dilations,
                              mlir::IntegerAttr group, Types &inferred);
mlir::LogicalResult inferSameWithAxis(Loc loc, mlir::Type input,
                                      mlir::IntegerAttr axis, Types &inferred);
mlir::LogicalResult inferNorm(Loc loc, mlir::Type input, mlir::Type scale,
                              mlir::Value bias, mlir::IntegerAttr axis,
                              Types &inferred);
mlir::LogicalResult inferReduce(Loc loc, mlir::Type input,
                                llvm::ArrayRef<int64_t> axes, bool keepDims,
                                Types &inferred);
mlir::LogicalResult inferTranspose(Loc loc, mlir::Type input,
                                   llvm::ArrayRef<int64_t> permutation,
                                   Types &inferred);
mlir::LogicalResult inferConcat(Loc loc, mlir::ValueRange inputs,
                                mlir::IntegerAttr axis, Types &inferred);
mlir::LogicalResult inferSlice(Loc loc, mlir::Type input,
                               llvm::ArrayRef<int64_t> starts,
                               llvm::ArrayRef<int64_t> limits,
                               llvm::ArrayRef<int64_t> steps, Types &inferred);
mlir::LogicalResult inferSplit(Loc loc, mlir::Type input,
                               mlir::IntegerAttr axis,
                               llvm::ArrayRef<int64_t> sizes, Types &inferred);
mlir::LogicalResult inferGather(Loc loc, mlir::Type input, mlir::Type indices,
                                mlir::IntegerAttr axis, Types &inferred);
mlir::LogicalResult inferRope(Loc loc, mlir::Type input, mlir::Type cos,
                              mlir::Type sin, Types &inferred);
mlir::LogicalResult inferAttention(Loc loc, mlir::Type query, mlir::Type key,
                                   mlir::Type value, mlir::Value mask,
                                   Types &inferred);
mlir::LogicalResult inferCacheWrite(Loc loc, mlir::Type cache,
                                    mlir::Type update, mlir::Type slots,
                                    mlir::Type positions, Types &inferred);
mlir::LogicalResult inferCacheAttention(Loc loc, mlir::Type query,
                                        mlir::Type keyCache,
                                        mlir::Type valueCache, mlir::Type slots,
                                        mlir::Value mask, int64_t context,
                                        Types &inferred);

/// Evaluates an elementwise unary op on a constant operand.
mlir::OpFoldResult foldUnary(mlir::Operation *op, mlir::Attribute input);

/// Evaluates a reduction of a constant operand.
mlir::OpFoldResult foldReduce(mlir::Operation *op, mlir::Attribute input,
                              llvm::ArrayRef<int64_t> axes);

/// The numpy broadcast of two shapes, or failure if they do not broadcast.
mlir::FailureOr<llvm::SmallVector<int64_t>>
broadcastShapes(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b);
} // namespace nuri::detail

#define GET_OP_CLASSES
#include "nuri/Dialect/Nuri/IR/NuriOps.h.inc"

#endif // NURI_DIALECT_NURI_IR_NURIOPS_H
