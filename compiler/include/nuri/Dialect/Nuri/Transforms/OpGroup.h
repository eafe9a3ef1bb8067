//===- OpGroup.h - The boundary of a group of ops ---------------*- C++ -*-===//
//
// Outlining NPU partitions and packaging CPU segments both turn a group of
// ops of one block into a function of its own; this is what crosses the
// group's edge.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NURI_TRANSFORMS_OPGROUP_H
#define NURI_DIALECT_NURI_TRANSFORMS_OPGROUP_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Operation.h"
#include "llvm/ADT/SetVector.h"

namespace nuri {

struct GroupBoundary {
  /// Values the group reads from outside (block arguments, other ops'
  /// results), in first-use order; `nuri.constant`s are not among them.
  llvm::SetVector<mlir::Value> inputs;
  /// Constants the group reads: cloned into the new function.
  llvm::SetVector<mlir::Operation *> constants;
  /// The group's results something outside it reads.
  llvm::SmallVector<mlir::Value> outputs;
  /// The function type: inputs -> outputs.
  mlir::FunctionType type(mlir::MLIRContext *ctx) const;
};

/// The boundary of `ops`; `inputs` starts from `leadingInputs` (a model's
/// arguments that must stay in the interface even when nothing reads them).
GroupBoundary groupBoundary(llvm::ArrayRef<mlir::Operation *> ops,
                            llvm::ArrayRef<mlir::Value> leadingInputs = {});

/// Fills the empty `func`, whose type is `boundary.type(...)`, with the
/// group: an entry block whose arguments stand for `boundary.inputs`, clones
/// of `boundary.constants` and of `ops`, and a return of `boundary.outputs`
/// at `returnLoc`. Returns the mapping from the originals (values and ops) to
/// their clones, for callers that adjust the clones.
mlir::IRMapping cloneGroupInto(mlir::OpBuilder &b, mlir::func::FuncOp func,
                               const GroupBoundary &boundary,
                               llvm::ArrayRef<mlir::Operation *> ops,
                               mlir::Location returnLoc);

} // namespace nuri

#endif // NURI_DIALECT_NURI_TRANSFORMS_OPGROUP_H
