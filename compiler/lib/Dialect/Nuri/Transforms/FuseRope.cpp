//===- FuseRope.cpp - Rotate-half rotary embedding into nuri.rope ---------===//

#include "PatternUtils.h"

#include "nuri/Dialect/Nuri/Transforms/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace nuri {
#define GEN_PASS_DEF_NURIFUSEROPE
#include "nuri/Dialect/Nuri/Transforms/Passes.h.inc"
} // namespace nuri

using namespace mlir;
using namespace nuri;

namespace {

// The source of `value` if it is `source[..., begin:end]`: a unit-step slice
// of the last axis that keeps every other dimension whole.
Value matchLastAxisSlice(Value value, int64_t begin, int64_t end) {
  if (auto slice = value.getDefiningOp<SliceOp>()) {
    ArrayRef<int64_t> shape = slice.getInput().getType().getShape();
    int64_t last = static_cast<int64_t>(shape.size()) - 1;
    for (int64_t d = 0; d <= last; ++d) {
      int64_t start = d == last ? begin : 0, limit = d == last ? end : shape[d];
      if (slice.getStarts()[d] != start || slice.getLimits()[d] != limit ||
          slice.getSteps()[d] != 1) {
        return {};
      }
    }
    return slice.getInput();
  }
  // The same halves as results of one split.
  auto result = dyn_cast<OpResult>(value);
  auto split = result ? dyn_cast<SplitOp>(result.getOwner()) : SplitOp();
  if (!split) {
    return {};
  }
  int64_t last = split.getInput().getType().getRank() - 1;
  ArrayRef<int64_t> sizes = split.getSizes();
  int64_t offset = 0;
  for (unsigned i = 0; i < result.getResultNumber(); ++i) {
    offset += sizes[i];
  }
  if (static_cast<int64_t>(split.getAxis()) != last || offset != begin ||
      offset + sizes[result.getResultNumber()] != end) {
    return {};
  }
  return split.getInput();
}

// The input of rotate_half(x) = concat(-x[..., D/2:], x[..., :D/2]).
Value matchRotateHalf(Value value) {
  auto concat = value.getDefiningOp<ConcatOp>();
  if (!concat || concat.getInputs().size() != 2) {
    return {};
  }
  auto type = concat.getType();
  int64_t last = type.getRank() - 1, d = type.getDimSize(last);
  auto neg = concat.getInputs()[0].getDefiningOp<NegOp>();
  if (static_cast<int64_t>(concat.getAxis()) != last || d % 2 || !neg) {
    return {};
  }
  Value x = matchLastAxisSlice(neg.getInput(), d / 2, d);
  if (!x || x.getType() != type ||
      matchLastAxisSlice(concat.getInputs()[1], 0, d / 2) != x) {
    return {};
  }
  return x;
}

// Whether a cos/sin table broadcasts to the input without growing it.
bool broadcastsTo(Value table, RankedTensorType type) {
  auto tableType = cast<RankedTensorType>(table.getType());
  FailureOr<SmallVector<int64_t>> shape =
      nuri::detail::broadcastShapes(type.getShape(), tableType.getShape());
  return tableType.getElementType() == type.getElementType() &&
         succeeded(shape) && ArrayRef<int64_t>(*shape) == type.getShape();
}

// x * cos + rotate_half(x) * sin.
struct FuseRotateHalf : OpRewritePattern<AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AddOp op,
                                PatternRewriter &rewriter) const override {
    Value x, cos, sin;
    bool found = matchCommuted<AddOp>(op.getResult(), [&](Value a, Value b) {
      // b = rotate_half(x) * sin fixes x; then a = x * cos.
      return matchCommuted<MulOp>(b, [&](Value rotated, Value s) {
        x = matchRotateHalf(rotated);
        sin = s;
        return x && matchCommuted<MulOp>(a, [&](Value input, Value c) {
                 cos = c;
                 return input == x;
               });
      });
    });
    auto type = x ? cast<RankedTensorType>(x.getType()) : nullptr;
    if (!found || op.getType() != type || !broadcastsTo(cos, type) ||
        !broadcastsTo(sin, type)) {
      return failure();
    }
    rewriter.replaceOpWithNewOp<RopeOp>(op, type, x, cos, sin);
    return success();
  }
};

struct FuseRopePass : nuri::impl::NuriFuseRopeBase<FuseRopePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseRotateHalf>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(),
                                            std::move(patterns)))) {
      getOperation()->emitError("rope fusion did not converge");
      signalPassFailure();
    }
  }
};

} // namespace
