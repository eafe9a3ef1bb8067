//===- FuseQuantizedMatmul.cpp - Quantized matmul patterns into one op ----===//

#include "PatternUtils.h"

#include "nuri/Dialect/Nuri/IR/ConstantData.h"
#include "nuri/Dialect/Nuri/Transforms/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace nuri {
#define GEN_PASS_DEF_NURIFUSEQUANTIZEDMATMUL
#include "nuri/Dialect/Nuri/Transforms/Passes.h.inc"
} // namespace nuri

using namespace mlir;
using namespace nuri;

namespace {

int64_t elementsOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getNumElements();
}
int64_t rankOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getRank();
}
bool isF32Tensor(Value v) {
  return cast<RankedTensorType>(v.getType()).getElementType().isF32();
}
bool is8Bit(Value v) {
  auto integer = dyn_cast<IntegerType>(
      cast<RankedTensorType>(v.getType()).getElementType());
  return integer && integer.getWidth() == 8;
}
bool isFp8(Value v) {
  return isa<Float8E4M3FNType>(
      cast<RankedTensorType>(v.getType()).getElementType());
}
// A per-tensor parameter: one value, rank 0 or 1.
bool isPerTensor(Value v) { return elementsOf(v) == 1 && rankOf(v) <= 1; }
// One value per output column, or per tensor.
bool isPerColumn(Value v, int64_t n) {
  return isPerTensor(v) ||
         (rankOf(v) == 1 &&
          cast<RankedTensorType>(v.getType()).getDimSize(0) == n);
}

Value zeroOf(PatternRewriter &rewriter, Location loc, Value operand) {
  auto type = RankedTensorType::get(
      {}, cast<RankedTensorType>(operand.getType()).getElementType());
  return rewriter.create<ConstantOp>(loc, makeFromInt(type, {0}));
}

// transpose(dequantize(W)) -> dequantize(transpose(W)) with the channel
// axis carried through the permutation. torch.onnx.export writes a Linear on
// a 3-D activation as MatMul(x, Transpose(DequantizeLinear(W))); swapped,
// the dequantize feeds the matmul and the QDQ fold below applies (the
// transpose of the constant weight then folds away).
struct TransposeBeforeDequantize : OpRewritePattern<TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TransposeOp op,
                                PatternRewriter &rewriter) const override {
    auto dequantize = op.getInput().getDefiningOp<DequantizeOp>();
    if (!dequantize || !dequantize->hasOneUse()) {
      return rewriter.notifyMatchFailure(op, "not a dequantize's only use");
    }
    ArrayRef<int64_t> perm = op.getPermutation();
    auto inputType = cast<RankedTensorType>(dequantize.getInput().getType());
    SmallVector<int64_t> shape;
    int64_t axis = dequantize.getAxis() < 0
                       ? dequantize.getAxis() + inputType.getRank()
                       : dequantize.getAxis();
    int64_t newAxis = axis;
    for (auto [i, from] : llvm::enumerate(perm)) {
      shape.push_back(inputType.getDimSize(from));
      newAxis = from == axis ? int64_t(i) : newAxis;
    }
    Location loc = op.getLoc();
    Value transposed = rewriter.create<TransposeOp>(
        loc, RankedTensorType::get(shape, inputType.getElementType()),
        dequantize.getInput(), perm);
    rewriter.replaceOpWithNewOp<DequantizeOp>(
        op, op.getType(), transposed, dequantize.getScale(),
        dequantize.getZeroPoint(), rewriter.getI64IntegerAttr(newAxis));
    return success();
  }
};

// matmul(dequantize(a), dequantize(W)) -> quantized_matmul(a, W) with the
// scales in the read-out. Exact in real arithmetic: the scales factor out of
// the sum when `a`'s are per tensor and `W`'s per output column. Both
// operands 8-bit integers, or both e4m3 (opset 19's float8 Q/DQ, whose zero
// points the importer requires to be 0).
struct FoldQdqMatmul : OpRewritePattern<MatmulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MatmulOp op,
                                PatternRewriter &rewriter) const override {
    auto lhs = op.getLhs().getDefiningOp<DequantizeOp>();
    auto rhs = op.getRhs().getDefiningOp<DequantizeOp>();
    if (!lhs || !rhs || op.getTransposeLhs() || !isF32Tensor(op.getResult()) ||
        !((is8Bit(lhs.getInput()) && is8Bit(rhs.getInput())) ||
          (isFp8(lhs.getInput()) && isFp8(rhs.getInput()))) ||
        !isF32Tensor(lhs.getScale()) || !isF32Tensor(rhs.getScale()) ||
        !isPerTensor(lhs.getScale()) || rankOf(rhs.getInput()) != 2) {
      return rewriter.notifyMatchFailure(op, "not a QDQ matmul");
    }
    bool transposed = op.getTransposeRhs();
    int64_t columnAxis = transposed ? 0 : 1;
    auto weightType = cast<RankedTensorType>(rhs.getInput().getType());
    int64_t n = weightType.getDimSize(columnAxis);
    if (!isPerTensor(rhs.getScale()) &&
        static_cast<int64_t>(rhs.getAxis()) != columnAxis) {
      return rewriter.notifyMatchFailure(
          op, "weight quantized along the contracting axis");
    }
    Location loc = op.getLoc();
    Value weight = rhs.getInput();
    if (transposed) {
      weight = rewriter.create<TransposeOp>(
          loc,
          RankedTensorType::get({weightType.getDimSize(1), n},
                                weightType.getElementType()),
          weight, ArrayRef<int64_t>{1, 0});
    }
    Value lhsZero = lhs.getZeroPoint() ? lhs.getZeroPoint()
                                       : zeroOf(rewriter, loc, lhs.getInput());
    Value rhsZero =
        rhs.getZeroPoint() ? rhs.getZeroPoint() : zeroOf(rewriter, loc, weight);
    rewriter.replaceOpWithNewOp<QuantizedMatmulOp>(
        op, op.getType(), lhs.getInput(), weight, lhsZero, rhsZero,
        lhs.getScale(), rhs.getScale(), Value(), Value());
    return success();
  }
};

// ONNX Runtime's dynamic quantization of a MatMul:
//   acc = MatMulInteger(a_q, W_q, a_zp, W_zp)        (quantized_matmul, i32)
//   y = Mul(Cast(acc, f32), Mul(a_scale, W_scale))
// -> quantized_matmul(a_q, W_q, a_zp, W_zp) scales(a_scale, W_scale).
struct FoldDynamicMatmul : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    QuantizedMatmulOp product;
    Value scale;
    bool found = matchCommuted<MulOp>(op.getResult(), [&](Value x, Value s) {
      auto cast = x.getDefiningOp<CastOp>();
      product = cast ? cast.getInput().getDefiningOp<QuantizedMatmulOp>()
                     : QuantizedMatmulOp();
      scale = s;
      return product && !product.getLhsScale() && isF32Tensor(x);
    });
    if (!found ||
        op.getType() != RankedTensorType::get(product.getType().getShape(),
                                              op.getType().getElementType()) ||
        !isF32Tensor(scale)) {
      return rewriter.notifyMatchFailure(op, "not a scaled integer matmul");
    }
    int64_t n = product.getType().getShape().back();
    Value lhsScale, rhsScale;
    // The scale product as the exporter wrote it; fp32 multiplication
    // commutes, so which factor is the activation's matters only for the
    // per-column one.
    matchCommuted<MulOp>(scale, [&](Value a, Value b) {
      if (isPerTensor(a) && isPerColumn(b, n)) {
        lhsScale = a;
        rhsScale = b;
        return true;
      }
      return false;
    });
    Location loc = op.getLoc();
    if (!lhsScale) {
      // One pre-multiplied scale: times 1.0 leaves it bit for bit.
      if (!isPerColumn(scale, n)) {
        return rewriter.notifyMatchFailure(op, "scale is not per column");
      }
      lhsScale = rewriter.create<ConstantOp>(
          loc, makeFromDouble(RankedTensorType::get({}, rewriter.getF32Type()),
                              {1.0}));
      rhsScale = scale;
    }
    rewriter.replaceOpWithNewOp<QuantizedMatmulOp>(
        op, op.getType(), product.getLhs(), product.getRhs(),
        product.getLhsZeroPoint(), product.getRhsZeroPoint(), lhsScale,
        rhsScale, Value(), Value());
    return success();
  }
};

struct FuseQuantizedMatmulPass
    : nuri::impl::NuriFuseQuantizedMatmulBase<FuseQuantizedMatmulPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<TransposeBeforeDequantize, FoldQdqMatmul, FoldDynamicMatmul>(
        &getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(),
                                            std::move(patterns)))) {
      getOperation()->emitError("quantized matmul fusion did not converge");
      signalPassFailure();
    }
  }
};

} // namespace
