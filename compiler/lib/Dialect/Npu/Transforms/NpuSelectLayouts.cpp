//===- NpuSelectLayouts.cpp - Which ops are strided views, not copies -----===//
//
// Marks with `npu.layout` the reshapes, transposes and slices that move no
// data because the kernels around them address their operand directly.
// An attribute on the op rather than a tensor encoding: the nuri ops infer
// their result types without encodings and compare them with the declared
// ones (InferTypeOpAdaptor, SameOperandsAndResultType), so an encoding on a
// value would make every op reading or writing it fail to verify.
//
//===----------------------------------------------------------------------===//

#include "NpuPlan.h"

#include "nuri/Dialect/Npu/Transforms/Passes.h"

namespace nuri::npu {
#define GEN_PASS_DEF_NPUSELECTLAYOUTS
#include "nuri/Dialect/Npu/Transforms/Passes.h.inc"
} // namespace nuri::npu

using namespace mlir;

namespace nuri::npu {
namespace {

/// A unit-step slice of the last dimension whose only reader is a reshape
/// into a head split: the attention reads the columns at the source's row
/// pitch (the Q, K and V of a merged projection).
bool isColumnView(SliceOp s) {
  if (!isColumnSlice(s)) {
    return false;
  }
  // The source must be dense rows: a buffer or an alias of one.
  StringRef src = layoutOf(s.getInput());
  if ((!src.empty() && src != kLayoutAlias && src != kLayoutHeadMerge) ||
      isConstantExpr(s.getInput()) || !s.getOutput().hasOneUse()) {
    return false;
  }
  auto r = dyn_cast<ReshapeOp>(*s.getOutput().getUsers().begin());
  if (!r || !r.getOutput().hasOneUse()) {
    return false;
  }
  auto t = dyn_cast<TransposeOp>(*r.getOutput().getUsers().begin());
  return t && foldsIntoAttentionRead(t);
}

struct NpuSelectLayoutsPass : impl::NpuSelectLayoutsBase<NpuSelectLayoutsPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    // In order, so a slice sees the layout of its source.
    getOperation().walk([&](Operation *op) {
      op->removeAttr(kLayoutAttr);
      StringRef layout;
      if (llvm::isa<ReshapeOp>(op)) {
        layout = kLayoutAlias; // dense row-major: the same bytes
      } else if (auto t = dyn_cast<TransposeOp>(op)) {
        // Reading through strides first: a transpose between two
        // attentions is read by the second, the first writes it dense.
        if (foldsIntoAttentionRead(t)) {
          layout = kLayoutHeadSplit;
        } else if (foldsIntoAttentionWrite(t)) {
          layout = kLayoutHeadMerge;
        }
      } else if (auto s = dyn_cast<SliceOp>(op); s && isColumnView(s)) {
        layout = kLayoutColumns;
      }
      if (!layout.empty()) {
        op->setAttr(kLayoutAttr, StringAttr::get(ctx, layout));
      }
    });
  }
};

} // namespace
} // namespace nuri::npu
