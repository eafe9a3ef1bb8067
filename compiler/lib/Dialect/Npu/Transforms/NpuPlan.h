//===- NpuPlan.h - Decisions of the NPU planning passes ---------*- C++ -*-===//
//
// The vocabulary of the decisions npu-fuse-epilogues, npu-select-layouts and
// npu-plan-memory write into a partition's IR, and how the lowering reads
// them back: which values are constant expressions (laid out at compile
// time), which are views of another value's bytes, and the predicates two
// passes must agree on. Internal to NuriNpuCodegen.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DIALECT_NPU_TRANSFORMS_NPUPLAN_H
#define NURI_DIALECT_NPU_TRANSFORMS_NPUPLAN_H

#include "nuri/Dialect/Npu/IR/NpuOps.h"
#include "nuri/Dialect/Nuri/IR/NuriOps.h"
#include "nuri/target/Target.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <fmt/format.h>

#include <optional>
#include <string>
#include <vector>

namespace nuri::npu {

inline mlir::RankedTensorType tensorOf(mlir::Value v) {
  return llvm::dyn_cast<mlir::RankedTensorType>(v.getType());
}

inline std::string typeStr(mlir::Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << t;
  return s;
}

inline std::optional<isa::Dtype> isaType(mlir::Type t) {
  if (t.isBF16()) {
    return isa::Dtype::BF16;
  }
  if (t.isF16()) {
    return isa::Dtype::F16;
  }
  if (t.isF32()) {
    return isa::Dtype::F32;
  }
  return std::nullopt;
}

/// The dtype the NPU stores a tensor in: the float types, the int8
/// path's i8 operands and i32 read-out constants, and fp8's e4m3 operands.
inline std::optional<isa::Dtype> storageType(mlir::Type t) {
  if (t.isSignlessInteger(8)) {
    return isa::Dtype::I8;
  }
  if (llvm::isa<mlir::Float8E4M3FNType>(t)) {
    return isa::Dtype::E4M3;
  }
  if (t.isSignlessInteger(32)) {
    return isa::Dtype::I32;
  }
  return isaType(t);
}

/// The float dtype of a tensor value the vector engine handles, or why
/// not (`what` names the value).
inline std::string floatOperand(mlir::Value v, const char *what) {
  auto t = tensorOf(v);
  if (!t) {
    return fmt::format("{} is not a ranked tensor", what);
  }
  if (!isaType(t.getElementType())) {
    return fmt::format("{} has element type {} (the NPU path takes bf16, "
                       "f16, f32)",
                       what, typeStr(t.getElementType()));
  }
  return "";
}

/// Bytes of a tensor value, dense.
inline uint64_t bytesOf(mlir::Value v) {
  auto t = tensorOf(v);
  return uint64_t(t.getNumElements()) *
         std::max<unsigned>(1, t.getElementTypeBitWidth() / 8);
}

/// A value computed at compile time: a nuri.constant, or a reshape,
/// transpose, concat or cast of constant expressions (the layouts the
/// kernels read weights in: transposed, f32 bias, merged projections).
inline bool isConstantExpr(mlir::Value v) {
  mlir::Operation *op = v.getDefiningOp();
  if (!op) {
    return false;
  }
  if (llvm::isa<ConstantOp>(op)) {
    return true;
  }
  // A weight stored quantized is one too: the GEMM reads it compressed
  // (npu-fuse-epilogues), else its float values are computed when laid out.
  if (!llvm::isa<ReshapeOp, TransposeOp, ConcatOp, CastOp, DequantizeOp,
                 DequantizeBlockedOp>(op)) {
    return false;
  }
  return llvm::all_of(op->getOperands(), isConstantExpr);
}

/// The operands a kernel reads from memory: a gather's indices are
/// constants the lowering turns into copy addresses (claimsOp), not data.
inline mlir::OperandRange kernelOperands(mlir::Operation *op) {
  return llvm::isa<GatherOp>(op) ? op->getOperands().take_front(1)
                                 : op->getOperands();
}

/// The npu.layout npu-select-layouts gave the op defining `v`, or "".
inline llvm::StringRef layoutOf(mlir::Value v) {
  mlir::Operation *op = v.getDefiningOp();
  auto a = op ? op->getAttrOfType<mlir::StringAttr>(kLayoutAttr) : nullptr;
  return a ? a.getValue() : llvm::StringRef();
}

/// Whether `v` addresses its defining op's operand (alias, head split,
/// column slice). A head merge owns its buffer: the attention writes it.
inline bool isView(mlir::Value v) {
  llvm::StringRef l = layoutOf(v);
  return !l.empty() && l != kLayoutHeadMerge;
}

/// The value that owns the bytes `v` addresses.
inline mlir::Value bufferRoot(mlir::Value v) {
  while (isView(v)) {
    v = v.getDefiningOp()->getOperand(0);
  }
  return v;
}

/// A head split the attention reading it can take as DMA strides: a
/// [0, 2, 1, 3] transpose whose only user is that attention's query, key
/// or value. npu-fuse-epilogues merges projections only when they end in
/// one; npu-select-layouts marks it.
inline bool foldsIntoAttentionRead(TransposeOp t) {
  mlir::Value r = t.getOutput();
  if (!isHeadSwapTranspose(t) || !r.hasOneUse() || isConstantExpr(r)) {
    return false;
  }
  auto att = llvm::dyn_cast<AttentionOp>(*r.getUsers().begin());
  return att &&
         (att.getQuery() == r || att.getKey() == r || att.getValue() == r);
}

/// The head merge right after an attention, which it writes directly.
inline bool foldsIntoAttentionWrite(TransposeOp t) {
  auto att = t.getInput().getDefiningOp<AttentionOp>();
  return att && isHeadSwapTranspose(t) && att.getOutput().hasOneUse();
}

/// Why a nuri.linear or nuri.matmul has no npu.gemm form; empty when it
/// has one. Target-independent: the element type against the chip is the
/// lowering's check (claimsOp).
std::string gemmFormProblem(mlir::Operation *op);

/// The int8 and fp8 paths (NpuQuantized.cpp): why a nuri.quantize or
/// nuri.quantized_matmul has no npu.quantize / npu.quantized_gemm form;
/// empty when it has one. The target's i8 / e4m3 tiles are claimsOp's check.
std::string quantizeFormProblem(nuri::QuantizeOp q);
std::string quantizedMatmulFormProblem(QuantizedMatmulOp m);
/// Whether `q` quantizes per tensor to 8 bits with constant parameters
/// (what a GEMM needs of its activations' quantize, whatever its users).
bool quantizesPerTensor8(nuri::QuantizeOp q);
/// The tiles an 8-bit quantized element type runs on: i8 or e4m3.
isa::Dtype quantizedTileType(mlir::Type element);
/// A constant expression's values in row-major order, as doubles (casts
/// rounded to their type); failure for anything else. The lowering
/// materializes constant expressions with it (NpuCodegen.cpp).
mlir::FailureOr<std::vector<double>> evaluate(mlir::Value v);

} // namespace nuri::npu

#endif // NURI_DIALECT_NPU_TRANSFORMS_NPUPLAN_H
