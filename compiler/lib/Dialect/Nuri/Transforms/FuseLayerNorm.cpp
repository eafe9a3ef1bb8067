//===- FuseLayerNorm.cpp - Decomposed LayerNorm into nuri.layer_norm ------===//

#include "PatternUtils.h"

#include "nuri/Dialect/Nuri/Transforms/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace nuri {
#define GEN_PASS_DEF_NURIFUSELAYERNORM
#include "nuri/Dialect/Nuri/Transforms/Passes.h.inc"
} // namespace nuri

using namespace mlir;
using namespace nuri;

namespace {

// Whether `value` is `x - mean` for the trailing mean `mean` of `x`, which is
// `x - reduce_mean(x)` over [axis, rank).
bool isCentered(Value value, Value x, Value mean) {
  auto sub = value.getDefiningOp<SubOp>();
  if (!sub || sub.getLhs() != x) {
    return false;
  }
  if (sub.getRhs() == mean) {
    return true;
  }
  // Old exporters recompute the mean (CSE has not run in a lit test), so
  // compare the reductions rather than the values.
  auto a = sub.getRhs().getDefiningOp<ReduceMeanOp>();
  auto b = mean.getDefiningOp<ReduceMeanOp>();
  return a && b && a.getInput() == b.getInput() && a.getAxes() == b.getAxes() &&
         a.getKeepDims() == b.getKeepDims();
}

// The variance `mean((x - mean(x))^2)` of `x` over [axis, rank), where
// `mean` is the value of mean(x).
bool isVarianceOf(Value variance, Value x, Value mean, int64_t axis) {
  Value squared;
  int64_t varianceAxis;
  if (!matchTrailingMean(variance, squared, varianceAxis) ||
      varianceAxis != axis) {
    return false;
  }
  Value base = matchSquare(squared);
  return base && isCentered(base, x, mean);
}

Value unitScale(PatternRewriter &rewriter, Location loc, RankedTensorType type,
                int64_t axis) {
  auto scaleType = RankedTensorType::get(type.getShape().drop_front(axis),
                                         type.getElementType());
  return createSplat(rewriter, loc, scaleType, 1.0);
}

// (x - mean(x)) / sqrt(var + eps), or * rsqrt(...): the normalization with a
// unit scale. The affine parameters are absorbed by the patterns below.
template <typename OpTy>
struct FuseCenteredNormalization : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    std::optional<Normalization> norm = matchNormalization(op.getResult());
    if (!norm) {
      return failure();
    }
    auto sub = norm->numerator.template getDefiningOp<SubOp>();
    Value x, meanOfX = sub ? sub.getRhs() : Value();
    int64_t axis;
    if (!sub || !matchTrailingMean(meanOfX, x, axis) || sub.getLhs() != x ||
        !isVarianceOf(norm->term.variance, x, meanOfX, axis) ||
        x.getType() != op.getType()) {
      return failure();
    }
    auto type = cast<RankedTensorType>(x.getType());
    rewriter.replaceOpWithNewOp<LayerNormOp>(
        op, type, x, unitScale(rewriter, op.getLoc(), type, axis), Value(),
        rewriter.getI64IntegerAttr(axis),
        rewriter.getF32FloatAttr(norm->term.epsilon));
    return success();
  }
};

// Whether `value` is a splat constant of 1: a scale nobody has set yet.
bool isUnitScale(Value value) { return isScalarNear(value, 1.0, 0.0); }

// layer_norm(x, 1) * gamma -> layer_norm(x, gamma).
struct AbsorbScale : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    LayerNormOp norm;
    Value gamma;
    bool found = matchCommuted<MulOp>(op.getResult(), [&](Value n, Value g) {
      norm = n.getDefiningOp<LayerNormOp>();
      gamma = g;
      return norm && n.hasOneUse() && !norm.getBias() &&
             isUnitScale(norm.getScale()) && op.getType() == norm.getType() &&
             isNormParam(g.getType(), norm.getType(), norm.getAxis());
    });
    if (!found) {
      return failure();
    }
    rewriter.replaceOpWithNewOp<LayerNormOp>(
        op, norm.getType(), norm.getInput(), gamma, Value(), norm.getAxisAttr(),
        norm.getEpsilonAttr());
    return success();
  }
};

// layer_norm(x, gamma) + beta -> layer_norm(x, gamma, beta).
struct AbsorbBias : OpRewritePattern<AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AddOp op,
                                PatternRewriter &rewriter) const override {
    LayerNormOp norm;
    Value beta;
    bool found = matchCommuted<AddOp>(op.getResult(), [&](Value n, Value b) {
      norm = n.getDefiningOp<LayerNormOp>();
      beta = b;
      return norm && n.hasOneUse() && !norm.getBias() &&
             op.getType() == norm.getType() &&
             isNormParam(b.getType(), norm.getType(), norm.getAxis());
    });
    if (!found) {
      return failure();
    }
    rewriter.replaceOpWithNewOp<LayerNormOp>(
        op, norm.getType(), norm.getInput(), norm.getScale(), beta,
        norm.getAxisAttr(), norm.getEpsilonAttr());
    return success();
  }
};

// TensorFlow's batchnorm-style LayerNorm (keras2onnx):
//   g = gamma * rsqrt(var + eps)            (or just rsqrt(...))
//   y = x * g + (beta - mean * g)
struct FuseFoldedAffineLayerNorm : OpRewritePattern<AddOp> {
  using OpRewritePattern::OpRewritePattern;

  struct Match {
    Value x, gamma, beta;
    int64_t axis;
    double epsilon;
  };

  // Reads `g` as gamma * rsqrt(var + eps) for the variance of `x`.
  static bool matchGain(Value g, Value x, Value mean, int64_t axis, Match &m) {
    auto accept = [&](std::optional<VarianceTerm> term, Value gamma) {
      if (!term || !isVarianceOf(term->variance, x, mean, axis)) {
        return false;
      }
      m.gamma = gamma;
      m.epsilon = term->epsilon;
      return true;
    };
    if (accept(matchInvStdDev(g), Value())) {
      return true;
    }
    return matchCommuted<MulOp>(g, [&](Value inv, Value gamma) {
      return accept(matchInvStdDev(inv), gamma);
    });
  }

  static std::optional<Match> matchForm(AddOp op) {
    Match m;
    bool found =
        matchCommuted<AddOp>(op.getResult(), [&](Value scaled, Value shift) {
          auto sub = shift.getDefiningOp<SubOp>();
          if (!sub) {
            return false;
          }
          m.beta = sub.getLhs();
          // mean * g, and x * g with the same g.
          return matchCommuted<MulOp>(sub.getRhs(), [&](Value mean, Value g) {
            if (!matchTrailingMean(mean, m.x, m.axis)) {
              return false;
            }
            return matchCommuted<MulOp>(scaled, [&](Value x, Value g2) {
              return x == m.x && g2 == g && matchGain(g, m.x, mean, m.axis, m);
            });
          });
        });
    if (!found || m.x.getType() != op.getType()) {
      return std::nullopt;
    }
    auto type = cast<RankedTensorType>(m.x.getType());
    if ((m.gamma && !isNormParam(m.gamma.getType(), type, m.axis)) ||
        !isNormParam(m.beta.getType(), type, m.axis)) {
      return std::nullopt;
    }
    return m;
  }

  LogicalResult matchAndRewrite(AddOp op,
                                PatternRewriter &rewriter) const override {
    std::optional<Match> m = matchForm(op);
    if (!m) {
      return failure();
    }
    auto type = cast<RankedTensorType>(m->x.getType());
    Value gamma =
        m->gamma ? m->gamma : unitScale(rewriter, op.getLoc(), type, m->axis);
    rewriter.replaceOpWithNewOp<LayerNormOp>(
        op, type, m->x, gamma, m->beta, rewriter.getI64IntegerAttr(m->axis),
        rewriter.getF32FloatAttr(m->epsilon));
    return success();
  }
};

struct FuseLayerNormPass
    : nuri::impl::NuriFuseLayerNormBase<FuseLayerNormPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    // The folded-affine form must win over the generic one where both could
    // start (it has no standalone normalization to match anyway).
    patterns.add<FuseFoldedAffineLayerNorm>(&getContext(), /*benefit=*/2);
    patterns.add<FuseCenteredNormalization<DivOp>,
                 FuseCenteredNormalization<MulOp>, AbsorbScale, AbsorbBias>(
        &getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(),
                                            std::move(patterns)))) {
      getOperation()->emitError("layer norm fusion did not converge");
      signalPassFailure();
    }
  }
};

} // namespace
