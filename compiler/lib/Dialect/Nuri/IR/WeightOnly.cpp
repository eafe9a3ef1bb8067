//===- WeightOnly.cpp - Weight-only quantized weights the NPU expands -----===//

#include "nuri/Dialect/Nuri/IR/WeightOnly.h"

#include "nuri/Dialect/Nuri/IR/NuriOps.h"

using namespace mlir;

namespace nuri {

bool isConstantOrCast(Value v) {
  if (auto c = v ? v.getDefiningOp<CastOp>() : CastOp()) {
    v = c.getInput();
  }
  return v && v.getDefiningOp<ConstantOp>();
}

namespace {
/// The values are the constant's own; the scales may be a cast of one
/// (nuri-convert-dtype rounds every float constant to the compute dtype
/// and widens it back for the ops that keep fp32, as on the CPU device).
bool isConstant(Value v) { return v && v.getDefiningOp<ConstantOp>(); }
} // namespace

std::optional<ExpandableWeight> expandableWeight(Operation *op) {
  auto out = op ? dyn_cast<RankedTensorType>(op->getResult(0).getType())
                : RankedTensorType();
  if (!out || out.getRank() != 2 || !out.getElementType().isF32()) {
    return std::nullopt;
  }
  ExpandableWeight w;
  w.op = op;
  w.K = out.getDimSize(0);
  w.N = out.getDimSize(1);
  if (auto d = dyn_cast<DequantizeOp>(op)) {
    auto st = cast<RankedTensorType>(d.getScale().getType());
    if (d.getZeroPoint() || d.getAxis() != 1 || !isConstant(d.getInput()) ||
        !isConstantOrCast(d.getScale()) ||
        !cast<RankedTensorType>(d.getInput().getType())
             .getElementType()
             .isSignlessInteger(8) ||
        st.getRank() != 1 || st.getDimSize(0) != w.N ||
        !st.getElementType().isF32()) {
      return std::nullopt;
    }
    w.bits = 8;
    w.group = w.K;
    return w;
  }
  if (auto d = dyn_cast<DequantizeBlockedOp>(op)) {
    if (d.getBits() != 4 || d.getZeroPoints() || !isConstant(d.getPacked()) ||
        !isConstantOrCast(d.getScales()) || w.N % 2 != 0 ||
        !cast<RankedTensorType>(d.getScales().getType())
             .getElementType()
             .isF32()) {
      return std::nullopt;
    }
    w.bits = 4;
    w.group = int64_t(d.getBlockSize());
    return w;
  }
  return std::nullopt;
}

std::optional<ExpandableWeight> expandableWeightOf(Value w) {
  if (auto c = w.getDefiningOp<CastOp>()) {
    w = c.getInput();
  }
  return expandableWeight(w.getDefiningOp());
}

} // namespace nuri
