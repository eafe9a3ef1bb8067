//===- Graph.h - Nuri's serializable op graph -------------------*- C++ -*-===//
//
// The form in which a graph of `nuri` ops travels in a package and runs on
// the CPU: tensors with static shapes, ops named after the dialect's
// mnemonics ("matmul", "layer_norm", ...) with their attributes. The compiler
// fills it from MLIR; the runtime executes it. No LLVM or MLIR here.
//
// Conventions shared by the emitter, the package format and the kernels:
// - `Op::kind` is the nuri op mnemonic without the dialect prefix;
//   `nuri.onnx_op` is "onnx_op" with attribute "op_type" (and "domain",
//   "opset") plus the ONNX node's attributes under their own names.
// - Attributes keep the dialect's names. Unit attributes (transpose_rhs,
//   keep_dims, causal, log) are present as Int 1 or absent. Enum attributes
//   are strings: gelu "approximate" is "none" or "tanh"; compare "predicate"
//   is "eq", "ne", "lt", "le", "gt" or "ge". Dense i64 arrays are Ints.
//   Float attributes (epsilon, scale, min, max) are Float.
// - Optional operands that are absent are -1 in `Op::inputs`, so operand
//   positions match the op's ODS definition.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_GRAPH_GRAPH_H
#define NURI_GRAPH_GRAPH_H

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace nuri::graph {

/// Element types. The numbering is part of the package format: append only.
enum class DType : uint8_t {
  F32 = 0,
  F16 = 1,
  BF16 = 2,
  F64 = 3,
  I8 = 4,
  I16 = 5,
  I32 = 6,
  I64 = 7,
  U8 = 8,
  U16 = 9,
  U32 = 10,
  U64 = 11,
  Bool = 12, // One byte per element, 0 or 1.
  F8E4M3 = 13,
  F8E5M2 = 14,
};

/// Bytes per element.
size_t dtypeSize(DType type);
/// "f32", "bf16", "i64", "bool", ...
const char *dtypeName(DType type);
/// The inverse of dtypeName; nullopt for an unknown name.
std::optional<DType> parseDType(const std::string &name);
bool isFloat(DType type);

/// Number of elements of a shape (1 for a scalar).
int64_t elementCount(const std::vector<int64_t> &shape);

struct TensorDesc {
  std::string name; // ONNX name for graph inputs/outputs; may be empty.
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  /// Constants: where the bytes are in the package's weight section;
  /// -1 for tensors computed at run time.
  int64_t dataOffset = -1;

  bool isConstant() const { return dataOffset >= 0; }
  int64_t byteSize() const {
    return elementCount(shape) * static_cast<int64_t>(dtypeSize(dtype));
  }
};

/// An attribute value: Int, Float, String, Ints or Floats.
using AttrValue = std::variant<int64_t, double, std::string,
                               std::vector<int64_t>, std::vector<double>>;

struct Op {
  std::string kind;
  std::vector<int32_t> inputs;  // Tensor ids; -1 for an absent optional.
  std::vector<int32_t> outputs; // Tensor ids.
  std::map<std::string, AttrValue> attrs;
  /// Where it came from (the ONNX node name), for error messages.
  std::string location;

  bool has(const std::string &name) const { return attrs.count(name) != 0; }
  int64_t getInt(const std::string &name, int64_t otherwise) const;
  double getFloat(const std::string &name, double otherwise) const;
  std::string getString(const std::string &name,
                        const std::string &otherwise) const;
  std::vector<int64_t> getInts(const std::string &name) const;
  std::vector<double> getFloats(const std::string &name) const;
};

/// One function: tensors, ops in execution order, and which tensors are the
/// inputs and outputs. Constant data lives outside, in the weight blob.
struct Graph {
  std::vector<TensorDesc> tensors;
  std::vector<Op> ops;
  std::vector<int32_t> inputs;
  std::vector<int32_t> outputs;

  /// Checks ids, arity and that every op reads only tensors that are
  /// inputs, constants or written earlier; a message naming the op and
  /// the problem, or empty when the graph is well formed.
  std::string validate(int64_t weightBytes) const;
};

} // namespace nuri::graph

#endif // NURI_GRAPH_GRAPH_H
