//===- ImporterImpl.h - Internals of the ONNX importer ----------*- C++ -*-===//
//
// Shared by the importer's translation units: the graph walk
// (OnnxImporter.cpp) and the per-op converters (OnnxOps.cpp,
// MicrosoftOps.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef NURI_LIB_FRONTEND_IMPORTERIMPL_H
#define NURI_LIB_FRONTEND_IMPORTERIMPL_H

#include "nuri/Dialect/Nuri/IR/NuriOps.h"
#include "nuri/Frontend/OnnxImporter.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"

#include <onnx/onnx_pb.h>

#include <optional>
#include <string>
#include <vector>

namespace nuri::onnx_import {

class Importer;

/// One ONNX node being converted: its operands, attributes and where to
/// report errors.
struct NodeContext {
  const onnx::NodeProto &node;
  llvm::SmallVector<mlir::Value> inputs; // Null where an input is omitted.
  mlir::Location loc;
  int64_t opset;
  Importer &importer;

  mlir::Value input(size_t i) const {
    return i < inputs.size() ? inputs[i] : mlir::Value();
  }
  const onnx::AttributeProto *attr(llvm::StringRef name) const;
  int64_t intAttr(llvm::StringRef name, int64_t otherwise) const;
  float floatAttr(llvm::StringRef name, float otherwise) const;
  std::string stringAttr(llvm::StringRef name, llvm::StringRef otherwise) const;
  std::optional<std::vector<int64_t>> intsAttr(llvm::StringRef name) const;

  /// An error at this node: "node 'NAME' (OP_TYPE): ..." with the location.
  mlir::InFlightDiagnostic error() const;
};

/// What a converter returns: the node's outputs, or failure.
using Results = mlir::FailureOr<llvm::SmallVector<mlir::Value>>;

/// The single output of a one-output node.
inline Results one(mlir::FailureOr<mlir::Value> value) {
  if (mlir::failed(value)) {
    return mlir::failure();
  }
  return llvm::SmallVector<mlir::Value>{*value};
}

/// Converts one node; returns the node's outputs in order (null for outputs
/// it does not produce) or failure after reporting an error.
using Converter =
    mlir::FailureOr<llvm::SmallVector<mlir::Value>> (*)(NodeContext &);

/// The converters of a domain, by op type.
const llvm::StringMap<Converter> &defaultDomainConverters();
const llvm::StringMap<Converter> &microsoftDomainConverters();

class Importer {
public:
  Importer(mlir::MLIRContext &context, llvm::StringRef sourceName,
           llvm::StringRef baseDir, const OnnxImportOptions &options);

  mlir::OwningOpRef<mlir::ModuleOp> importModel(onnx::ModelProto &model);

  mlir::MLIRContext &context;
  mlir::OpBuilder builder;

  /// Creates `OpTy` at `n`, infers its result types unless given, verifies
  /// and folds it: the result may be a constant or an existing value. On
  /// failure the op's diagnostic has been reported at the node.
  template <typename OpTy>
  mlir::FailureOr<llvm::SmallVector<mlir::Value>>
  createAll(NodeContext &n, mlir::ValueRange operands,
            llvm::ArrayRef<mlir::NamedAttribute> attrs = {},
            mlir::TypeRange resultTypes = {}) {
    mlir::OperationState state(n.loc, OpTy::getOperationName());
    state.addOperands(operands);
    state.addAttributes(attrs);
    if (resultTypes.empty()) {
      llvm::SmallVector<mlir::Type> inferred;
      if (mlir::failed(inferTypes<OpTy>(state, inferred))) {
        return mlir::failure();
      }
      state.addTypes(inferred);
    } else {
      state.addTypes(resultTypes);
    }
    return finish(state);
  }

  template <typename OpTy>
  mlir::FailureOr<mlir::Value>
  create(NodeContext &n, mlir::ValueRange operands,
         llvm::ArrayRef<mlir::NamedAttribute> attrs = {},
         mlir::TypeRange resultTypes = {}) {
    auto results = createAll<OpTy>(n, operands, attrs, resultTypes);
    if (mlir::failed(results)) {
      return mlir::failure();
    }
    return (*results)[0];
  }

  /// A constant holding `attr`.
  mlir::Value constant(mlir::ElementsAttr attr);
  mlir::Value constantInts(llvm::ArrayRef<int64_t> values,
                           llvm::ArrayRef<int64_t> shape, mlir::Type type);
  mlir::Value scalar(double value, mlir::Type elementType);

  /// Converts an ONNX tensor (inline, raw or external data) to an attribute;
  /// large payloads become dense_resource blobs without a second copy.
  mlir::FailureOr<mlir::ElementsAttr> tensorAttr(onnx::TensorProto &tensor,
                                                 mlir::Location loc);
  /// A stand-in for an external tensor that is not read
  /// (OnnxImportOptions::weightPlaceholders).
  mlir::ElementsAttr placeholderAttr(mlir::RankedTensorType type);
  mlir::FailureOr<mlir::Type> elementType(int32_t onnxType, mlir::Location loc);
  /// tensorAttr as a constant value, remembering 4-bit tensors it widened.
  mlir::FailureOr<mlir::Value> tensorConstant(onnx::TensorProto &tensor,
                                              mlir::Location loc);
  /// Whether `value` is a 4-bit (int4/uint4) tensor widened to 8 bits.
  bool isWidened4Bit(mlir::Value value) const {
    return widened4Bit.contains(value);
  }
  /// The same without a diagnostic: null for types Nuri does not hold.
  mlir::Type elementTypeOrNull(int32_t onnxType);

  /// Imports a subgraph's nodes inline (If branches); its outputs.
  mlir::FailureOr<llvm::SmallVector<mlir::Value>>
  importSubgraph(const onnx::GraphProto &graph);

  mlir::Location nodeLoc(const onnx::NodeProto &node);

private:
  template <typename OpTy>
  mlir::LogicalResult inferTypes(mlir::OperationState &state,
                                 llvm::SmallVectorImpl<mlir::Type> &types) {
    if constexpr (OpTy::template hasTrait<
                      mlir::InferTypeOpInterface::Trait>()) {
      return OpTy::inferReturnTypes(&context, state.location, state.operands,
                                    state.attributes.getDictionary(&context),
                                    state.getRawProperties(), state.regions,
                                    types);
    } else {
      return mlir::emitError(state.location)
             << state.name << " needs explicit result types";
    }
  }
  mlir::FailureOr<llvm::SmallVector<mlir::Value>>
  finish(mlir::OperationState &state);

  mlir::LogicalResult
  importNodes(llvm::ArrayRef<const onnx::NodeProto *> nodes);
  mlir::LogicalResult importNode(const onnx::NodeProto &node);
  /// Result types of a node kept as nuri.onnx_op.
  mlir::FailureOr<llvm::SmallVector<mlir::Type>>
  inferOpaqueTypes(NodeContext &n);
  /// The ONNX element type code of an MLIR element type.
  std::optional<int32_t> onnxTypeOf(mlir::Type type);
  mlir::FailureOr<llvm::SmallVector<const onnx::NodeProto *>>
  sortNodes(const onnx::GraphProto &graph);

  std::string sourceName;
  std::string baseDir;
  const OnnxImportOptions &options;
  /// How many external tensors became placeholders
  /// (OnnxImportOptions::weightPlaceholders): each gets its own value.
  unsigned placeholders = 0;
  llvm::StringMap<mlir::Value> values;
  llvm::StringMap<int64_t> opsets;
  llvm::StringMap<mlir::Type> valueInfoTypes;
  llvm::DenseSet<mlir::Value> widened4Bit;
};

/// No tensor may hold more elements than this (2^40): far beyond any model,
/// and small enough that byte counts never overflow.
constexpr int64_t kMaxTensorElements = int64_t(1) << 40;

/// The element count of a shape, or nullopt if a dimension is negative or
/// the count exceeds kMaxTensorElements.
std::optional<int64_t> checkedElementCount(llvm::ArrayRef<int64_t> shape);

/// Normalizes a possibly negative ONNX axis; failure if out of range.
mlir::FailureOr<int64_t> normalizeAxis(NodeContext &n, int64_t axis,
                                       int64_t rank);
/// The integer contents of a constant value, if it is one.
std::optional<std::vector<int64_t>> constantInts(mlir::Value value);
std::optional<std::vector<double>> constantFloats(mlir::Value value);
llvm::ArrayRef<int64_t> shapeOf(mlir::Value value);
mlir::RankedTensorType tensorType(mlir::Value value);

} // namespace nuri::onnx_import

#endif // NURI_LIB_FRONTEND_IMPORTERIMPL_H
