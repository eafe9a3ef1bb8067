//===- NpuQuantized.cpp - Which quantized graph ops the NPU runs ----------===//
//
// The int8 and fp8 paths' form rules, shared by what the NPU claims
// (claimsOp) and npu-fuse-epilogues, which rewrites the claimed ops into
// npu.quantize and npu.quantized_gemm: so the partitioner never hands the
// lowering a quantized op it cannot form.
//
//===----------------------------------------------------------------------===//

#include "NpuPlan.h"

#include "nuri/Dialect/Nuri/IR/ConstantData.h"

using namespace mlir;

namespace nuri::npu {

namespace {

bool isInt8(Type t, bool allowUnsigned) {
  auto i = dyn_cast<IntegerType>(t);
  return i && i.getWidth() == 8 &&
         (i.isSignless() || (allowUnsigned && i.isUnsigned()));
}

bool isFp8(Type t) { return llvm::isa<Float8E4M3FNType>(t); }

/// A constant expression of one value (a per-tensor parameter).
bool scalarConstant(Value v) {
  return v && isConstantExpr(v) && tensorOf(v).getNumElements() == 1;
}

} // namespace

bool quantizesPerTensor8(nuri::QuantizeOp q) {
  auto ot = tensorOf(q.getOutput());
  return (isInt8(ot.getElementType(), true) || isFp8(ot.getElementType())) &&
         scalarConstant(q.getScale()) &&
         (!q.getZeroPoint() || scalarConstant(q.getZeroPoint()));
}

isa::Dtype quantizedTileType(Type element) {
  return isFp8(element) ? isa::Dtype::E4M3 : isa::Dtype::I8;
}

namespace {
std::string ownFormProblem(QuantizedMatmulOp m);
} // namespace

std::string quantizeFormProblem(nuri::QuantizeOp q) {
  auto ot = tensorOf(q.getOutput());
  if (!isInt8(ot.getElementType(), true) && !isFp8(ot.getElementType())) {
    return fmt::format("quantizes to {} (the NPU path takes int8, uint8 and "
                       "f8E4M3FN)",
                       typeStr(ot.getElementType()));
  }
  if (isFp8(ot.getElementType()) && q.getZeroPoint()) {
    FailureOr<std::vector<double>> z = evaluate(q.getZeroPoint());
    if (failed(z) || (*z)[0] != 0) {
      return "the NPU quantizes to fp8 with a zero point of 0";
    }
  }
  if (!scalarConstant(q.getScale()) ||
      (q.getZeroPoint() && !scalarConstant(q.getZeroPoint()))) {
    return "the NPU quantizes per tensor with a constant scale and zero "
           "point";
  }
  if (q.getOutput().use_empty()) {
    return "its result is not used";
  }
  for (Operation *user : q.getOutput().getUsers()) {
    auto m = dyn_cast<QuantizedMatmulOp>(user);
    if (!m || m.getLhs() != q.getOutput() || !ownFormProblem(m).empty()) {
      // The NPU stores the quantized values in its own 8-bit form, which
      // only its quantized GEMM reads.
      return "its result feeds an op other than an 8-bit GEMM the NPU runs";
    }
  }
  return "";
}

namespace {

/// The product's own form, whatever else reads its activations.
std::string ownFormProblem(QuantizedMatmulOp m) {
  auto ot = tensorOf(m.getOutput());
  if (!ot.getElementType().isF32() || !m.getLhsScale() || m.getOutputScale()) {
    return "the NPU's int8 GEMM has the float read-out only (not raw i32 or "
           "requantized int8)";
  }
  auto q = m.getLhs().getDefiningOp<nuri::QuantizeOp>();
  if (!q || !quantizesPerTensor8(q)) {
    return "its activations are not quantized per tensor in the graph "
           "(nuri.quantize)";
  }
  auto wt = tensorOf(m.getRhs());
  const bool fp8 = isFp8(wt.getElementType());
  if (wt.getRank() != 2 || !isConstantExpr(m.getRhs()) ||
      !(fp8 || isInt8(wt.getElementType(), false))) {
    return "the NPU's 8-bit GEMM takes a constant 2-D int8 or f8E4M3FN "
           "weight";
  }
  Type at = tensorOf(m.getLhs()).getElementType();
  if (fp8 ? !isFp8(at) : !isInt8(at, true)) {
    return "its activations are not 8-bit";
  }
  FailureOr<std::vector<double>> wzp = evaluate(m.getRhsZeroPoint());
  if (failed(wzp) || llvm::any_of(*wzp, [](double z) { return z != 0; })) {
    return "the NPU's int8 GEMM takes symmetric weights (zero point 0)";
  }
  if (!scalarConstant(m.getLhsZeroPoint()) ||
      !scalarConstant(m.getLhsScale()) || !isConstantExpr(m.getRhsScale())) {
    return "the NPU's int8 GEMM takes constant per-tensor activation and "
           "per-tensor or per-column weight scales";
  }
  return "";
}

} // namespace

std::string quantizedMatmulFormProblem(QuantizedMatmulOp m) {
  if (std::string why = ownFormProblem(m); !why.empty()) {
    return why;
  }
  // Its quantize must run on the NPU too: the NPU's int8 form of the
  // activations never crosses to the CPU, nor the CPU's to the NPU.
  auto q = m.getLhs().getDefiningOp<nuri::QuantizeOp>();
  if (std::string why = quantizeFormProblem(q); !why.empty()) {
    return "its activations' quantize stays on the CPU (" + why + ")";
  }
  return "";
}

} // namespace nuri::npu
