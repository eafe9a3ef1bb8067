//===- FuseRmsNorm.cpp - Decomposed RMSNorm into nuri.rms_norm ------------===//

#include "PatternUtils.h"

#include "nuri/Dialect/Nuri/Transforms/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace nuri {
#define GEN_PASS_DEF_NURIFUSERMSNORM
#include "nuri/Dialect/Nuri/Transforms/Passes.h.inc"
} // namespace nuri

using namespace mlir;
using namespace nuri;

namespace {

// x * rsqrt(mean(x^2) + eps), or x / sqrt(...): an RMSNorm with a unit
// scale; the weight is absorbed below.
template <typename OpTy> struct FuseRmsNormalization : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    std::optional<Normalization> norm = matchNormalization(op.getResult());
    if (!norm) {
      return failure();
    }
    Value x = norm->numerator, squared;
    int64_t axis;
    if (!matchTrailingMean(norm->term.variance, squared, axis) ||
        matchSquare(squared) != x || x.getType() != op.getType()) {
      return failure();
    }
    auto type = cast<RankedTensorType>(x.getType());
    auto scaleType = RankedTensorType::get(type.getShape().drop_front(axis),
                                           type.getElementType());
    rewriter.replaceOpWithNewOp<RmsNormOp>(
        op, type, x, createSplat(rewriter, op.getLoc(), scaleType, 1.0),
        rewriter.getI64IntegerAttr(axis),
        rewriter.getF32FloatAttr(norm->term.epsilon));
    return success();
  }
};

// rms_norm(x, 1) * weight -> rms_norm(x, weight).
struct AbsorbWeight : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    RmsNormOp norm;
    Value weight;
    bool found = matchCommuted<MulOp>(op.getResult(), [&](Value n, Value w) {
      norm = n.getDefiningOp<RmsNormOp>();
      weight = w;
      return norm && n.hasOneUse() && isScalarNear(norm.getScale(), 1.0, 0.0) &&
             op.getType() == norm.getType() &&
             isNormParam(w.getType(), norm.getType(), norm.getAxis());
    });
    if (!found) {
      return failure();
    }
    rewriter.replaceOpWithNewOp<RmsNormOp>(op, norm.getType(), norm.getInput(),
                                           weight, norm.getAxisAttr(),
                                           norm.getEpsilonAttr());
    return success();
  }
};

struct FuseRmsNormPass : nuri::impl::NuriFuseRmsNormBase<FuseRmsNormPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseRmsNormalization<DivOp>, FuseRmsNormalization<MulOp>,
                 AbsorbWeight>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(),
                                            std::move(patterns)))) {
      getOperation()->emitError("rms norm fusion did not converge");
      signalPassFailure();
    }
  }
};

} // namespace
