//===- FuseLinear.cpp - Matmuls by constant weights into nuri.linear ------===//

#include "PatternUtils.h"

#include "nuri/Dialect/Nuri/Transforms/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace nuri {
#define GEN_PASS_DEF_NURIFUSELINEAR
#include "nuri/Dialect/Nuri/Transforms/Passes.h.inc"
} // namespace nuri

using namespace mlir;
using namespace nuri;

namespace {

// matmul(x, W) with a constant 2-D W -> linear(x, W). A transposed weight is
// transposed once at compile time (the transpose folds into a constant).
struct MatmulToLinear : OpRewritePattern<MatmulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MatmulOp op,
                                PatternRewriter &rewriter) const override {
    Value weight = op.getRhs();
    auto type = cast<RankedTensorType>(weight.getType());
    if (op.getTransposeLhs() || type.getRank() != 2 ||
        !getConstantElements(weight)) {
      return failure();
    }
    if (op.getTransposeRhs()) {
      auto transposed = RankedTensorType::get(
          {type.getDimSize(1), type.getDimSize(0)}, type.getElementType());
      weight = rewriter.create<TransposeOp>(op.getLoc(), transposed, weight,
                                            ArrayRef<int64_t>{1, 0});
    }
    rewriter.replaceOpWithNewOp<LinearOp>(op, op.getType(), op.getLhs(), weight,
                                          Value());
    return success();
  }
};

// The bias `b` as a 1-D [n] constant if it only varies along the last axis,
// else null.
Value biasVector(PatternRewriter &rewriter, Value bias, int64_t n) {
  auto type = cast<RankedTensorType>(bias.getType());
  if (!getConstantElements(bias) || type.getRank() < 1 ||
      type.getShape().back() != n ||
      llvm::any_of(type.getShape().drop_back(),
                   [](int64_t d) { return d != 1; })) {
    return {};
  }
  if (type.getRank() == 1) {
    return bias;
  }
  return rewriter.create<ReshapeOp>(
      bias.getLoc(), RankedTensorType::get({n}, type.getElementType()), bias);
}

// linear(x, W) + b -> linear(x, W, b), also across a reshape that keeps the
// last axis (Tensordot's reshape back to [batch, seq, n] before BiasAdd).
struct AbsorbBias : OpRewritePattern<AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AddOp op,
                                PatternRewriter &rewriter) const override {
    LinearOp linear;
    ReshapeOp reshape;
    Value bias;
    bool found = matchCommuted<AddOp>(op.getResult(), [&](Value y, Value b) {
      reshape = y.getDefiningOp<ReshapeOp>();
      Value source = reshape ? reshape.getInput() : y;
      linear = source.getDefiningOp<LinearOp>();
      bias = b;
      return linear && !linear.getBias() && source.hasOneUse() &&
             (!reshape || y.hasOneUse()) && y.getType() == op.getType() &&
             op.getType().getShape().back() ==
                 linear.getType().getShape().back();
    });
    if (!found) {
      return failure();
    }
    Value vector =
        biasVector(rewriter, bias, linear.getType().getShape().back());
    if (!vector) {
      return failure();
    }
    Value fused = rewriter.create<LinearOp>(linear.getLoc(), linear.getType(),
                                            linear.getInput(),
                                            linear.getWeight(), vector);
    if (reshape) {
      fused = rewriter.create<ReshapeOp>(op.getLoc(), op.getType(), fused);
    }
    rewriter.replaceOp(op, fused);
    return success();
  }
};

// linear(reshape(x)) where the reshape keeps the last axis ->
// reshape(linear(x)): the reshape that flattened [batch, seq, k] to
// [batch * seq, k] moves behind the linear op, where it cancels against the
// reshape back.
struct HoistInputReshape : OpRewritePattern<LinearOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rewriter) const override {
    auto reshape = op.getInput().getDefiningOp<ReshapeOp>();
    if (!reshape) {
      return failure();
    }
    auto source = reshape.getInput().getType();
    if (source.getRank() < 1 ||
        source.getShape().back() != reshape.getType().getShape().back()) {
      return failure();
    }
    SmallVector<int64_t> shape(source.getShape());
    shape.back() = op.getType().getShape().back();
    Value linear = rewriter.create<LinearOp>(
        op.getLoc(),
        RankedTensorType::get(shape, op.getType().getElementType()),
        reshape.getInput(), op.getWeight(), op.getBias());
    rewriter.replaceOpWithNewOp<ReshapeOp>(op, op.getType(), linear);
    return success();
  }
};

struct FuseLinearPass : nuri::impl::NuriFuseLinearBase<FuseLinearPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<MatmulToLinear, AbsorbBias, HoistInputReshape>(&getContext());
    // Lets the hoisted reshapes meet and cancel inside this pass.
    ReshapeOp::getCanonicalizationPatterns(patterns, &getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(),
                                            std::move(patterns)))) {
      getOperation()->emitError("linear fusion did not converge");
      signalPassFailure();
    }
  }
};

} // namespace
