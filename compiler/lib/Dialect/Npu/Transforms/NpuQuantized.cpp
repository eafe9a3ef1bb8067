//===- NpuQuantized.cpp - Which quantized graph ops the NPU runs ----------===//
//
// The int8 path's form rules, shared by what the NPU claims (claimsOp) and
// npu-fuse-epilogues, which rewrites the claimed ops into npu.quantize and
// npu.quantized_gemm: so the partitioner never hands the lowering a
// quantized op it cannot form.
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

/// A constant expression of one value (a per-tensor parameter).
bool scalarConstant(Value v) {
  return v && isConstantExpr(v) && tensorOf(v).getNumElements() == 1;
}

} // namespace

bool quantizesPerTensor8(nuri::QuantizeOp q) {
  auto ot = tensorOf(q.getOutput());
  return isInt8(ot.getElementType(), true) && scalarConstant(q.getScale()) &&
         (!q.getZeroPoint() || scalarConstant(q.getZeroPoint()));
}

namespace {
std::string ownFormProblem(QuantizedMatmulOp m);
} // namespace

std::string quantizeFormProblem(nuri::QuantizeOp q) {
  auto ot = tensorOf(q.getOutput());
  if (!isInt8(ot.getElementType(), true)) {
    return fmt::format("quantizes to {} (the NPU path takes int8 and uint8)",
                       typeStr(ot.getElementType()));
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
      // The NPU stores the quantized values in its own int8 form, which
      // only its int8 GEMM reads.
      return "its result feeds an op other than an int8 GEMM the NPU runs";
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
  if (wt.getRank() != 2 || !isConstantExpr(m.getRhs()) ||
      !isInt8(wt.getElementType(), false)) {
    return "the NPU's int8 GEMM takes a constant 2-D int8 weight";
  }
  if (!isInt8(tensorOf(m.getLhs()).getElementType(), true)) {
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
