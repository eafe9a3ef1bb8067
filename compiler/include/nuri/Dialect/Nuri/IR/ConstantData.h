//===- ConstantData.h - Reading and making constant tensors -----*- C++ -*-===//
//
// One place that knows how constant tensors are stored (dense, splat,
// dense_resource blobs) so that folders, the importer and the passes read and
// write them the same way.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NURI_IR_CONSTANTDATA_H
#define NURI_DIALECT_NURI_IR_CONSTANTDATA_H

#include "mlir/IR/BuiltinAttributeInterfaces.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Support/LogicalResult.h"
#include "llvm/ADT/SmallVector.h"

#include <vector>

namespace nuri {

/// Folders evaluate element by element; past this many elements they leave
/// the op alone, so a fold never turns into a slow copy of a weight tensor.
/// Data movement of whole weights (transposes) is done on raw bytes instead.
constexpr int64_t kMaxFoldElements = 1 << 20;

/// Payloads larger than this become `dense_resource` blobs.
constexpr int64_t kResourceThresholdBytes = 4096;

/// The elements of a constant as doubles (integers and booleans converted).
mlir::FailureOr<std::vector<double>> readAsDouble(mlir::ElementsAttr attr);

/// The elements of a constant of integer or boolean type as int64 (unsigned
/// types zero-extended).
mlir::FailureOr<std::vector<int64_t>> readAsInt(mlir::ElementsAttr attr);

/// The elements' bytes in row-major order, one element every
/// `bitwidth / 8` bytes (splats expanded). Fails for `i1` and sub-byte types.
mlir::FailureOr<std::vector<char>> readRawBytes(mlir::ElementsAttr attr);

/// A constant of `type` holding `values`, converted to its element type
/// (floats round to nearest even, float-to-integer truncates toward zero).
mlir::ElementsAttr makeFromDouble(mlir::ShapedType type,
                                  llvm::ArrayRef<double> values);
mlir::ElementsAttr makeFromInt(mlir::ShapedType type,
                               llvm::ArrayRef<int64_t> values);

/// A constant of `type` from row-major bytes; large payloads become a
/// `dense_resource` blob whose name starts with `nameHint`.
mlir::ElementsAttr makeFromRawBytes(mlir::ShapedType type,
                                    llvm::ArrayRef<char> bytes,
                                    llvm::StringRef nameHint);

/// Whether an element type can be evaluated by the folders.
bool isFoldableElementType(mlir::Type type);

/// Row-major strides of a shape, in elements.
llvm::SmallVector<int64_t> rowMajorStrides(llvm::ArrayRef<int64_t> shape);

/// For every element of `resultShape`, the index of the element of
/// `operandShape` that numpy broadcasting reads.
std::vector<int64_t> broadcastIndexMap(llvm::ArrayRef<int64_t> operandShape,
                                       llvm::ArrayRef<int64_t> resultShape);

} // namespace nuri

#endif // NURI_DIALECT_NURI_IR_CONSTANTDATA_H
