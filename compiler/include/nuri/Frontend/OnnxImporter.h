//===- OnnxImporter.h - ONNX to the nuri dialect ----------------*- C++ -*-===//
//
// Reads an ONNX model (protobuf, external data, opsets 11 to 21) and builds a
// module holding one `func.func @main` of nuri ops with every shape static.
// Shape arithmetic is evaluated while importing, so what comes out is the
// model's dataflow and constants only.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_FRONTEND_ONNXIMPORTER_H
#define NURI_FRONTEND_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace nuri {

struct OnnxImportOptions {
  /// Shapes for graph inputs, by input name: pins dynamic dimensions (and
  /// must agree with static ones).
  std::map<std::string, std::vector<int64_t>> inputShapes;
  /// Keep nodes Nuri has no op for as `nuri.onnx_op` instead of failing.
  bool allowUnsupported = false;
  /// Graph inputs frozen to a value, by input name: serialized
  /// onnx.TensorProto bytes. Inputs that feed shapes (a Reshape target, Slice
  /// bounds, axes) must be known at compile time on a static-shape NPU; this
  /// is how a user supplies them.
  std::map<std::string, std::string> constantInputs;
  /// Timing-only compiles of models bigger than the host (`nuri zoo
  /// --shapes-only`, `nuri compile --timing-only`): tensors stored as
  /// external data are not read. Each becomes a splat of its own value
  /// (exact in bf16 and fp16, never 0 or 1), so the graph keeps its shapes,
  /// no fold or CSE merges two weights, and a 7B model costs no memory. The
  /// values are meaningless: only the timing of what compiles from them is.
  bool weightPlaceholders = false;
};

/// The names the importer gives things, shared with the tools that read its
/// output.
namespace onnx_attrs {
/// On `func.func @main` arguments and results: the ONNX tensor name.
constexpr llvm::StringLiteral kName = "nuri.name";
/// On the module: the source file, producer and default-domain opset.
constexpr llvm::StringLiteral kSource = "nuri.source";
constexpr llvm::StringLiteral kProducer = "nuri.producer";
constexpr llvm::StringLiteral kOpset = "nuri.opset";
} // namespace onnx_attrs

/// Imports the model at `path`. On failure, returns null after reporting
/// through the context's diagnostic handler: every error names the file and,
/// where there is one, the node (name, op type, domain, opset) and reason.
mlir::OwningOpRef<mlir::ModuleOp>
importOnnxFile(mlir::MLIRContext &context, llvm::StringRef path,
               const OnnxImportOptions &options = {});

/// Imports a model already in memory; `baseDir` resolves external data files
/// and `sourceName` names the model in diagnostics.
mlir::OwningOpRef<mlir::ModuleOp>
importOnnxBuffer(mlir::MLIRContext &context, llvm::StringRef bytes,
                 llvm::StringRef sourceName, llvm::StringRef baseDir,
                 const OnnxImportOptions &options = {});

/// Whether the importer maps (domain, op type) onto nuri ops; "" and
/// "ai.onnx" both name the default domain.
bool isSupportedOnnxOp(llvm::StringRef domain, llvm::StringRef opType);

/// Registers what imported modules use (the nuri and func dialects).
void registerOnnxImporterDialects(mlir::DialectRegistry &registry);

/// A graph input as the file declares it, before any pinning.
struct OnnxGraphInput {
  std::string name;
  int32_t elementType = 0; ///< onnx::TensorProto::DataType
  /// Per dimension: its size, or -1 when dynamic.
  std::vector<int64_t> dims;
  /// Per dimension: its dim_param ("batch_size"), empty when none.
  std::vector<std::string> dimParams;
};

/// The graph inputs of the model at `path` (initializers excluded), for
/// tools that choose shapes before importing (`nuri compile --generate`
/// pins each bucket's batch and lengths by the inputs' dim_params). On
/// failure, returns the reason naming the file.
llvm::Expected<std::vector<OnnxGraphInput>>
readOnnxGraphInputs(llvm::StringRef path);

/// The positions a decoder can address: the first dimension of the
/// smallest table (position embedding, rotary cos/sin) gathered on axis 0
/// by the graph input `position_ids` (through casts and reshapes), or 0
/// when the model has no such table (nothing to check against). A sweep's
/// generation scenario must fit it (docs/dse.md, "Decode workloads").
llvm::Expected<int64_t> readOnnxMaxPositions(llvm::StringRef path);

/// A boolean tensor of `dims` all `value`, serialized as an onnx.TensorProto
/// for OnnxImportOptions::constantInputs: how --generate binds a merged
/// decoder's `use_cache_branch` to its with-past branch.
std::string serializeOnnxBoolTensor(const std::vector<int64_t> &dims,
                                    bool value);

/// Parses `NAME=2x128` (or `NAME=` for a scalar) into `options`; returns an
/// error message, empty on success.
std::string parseInputShapeOption(llvm::StringRef text,
                                  OnnxImportOptions &options);

} // namespace nuri

#endif // NURI_FRONTEND_ONNXIMPORTER_H
