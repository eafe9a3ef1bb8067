//===- FuseAttention.cpp - Scaled dot-product attention -------------------===//
//
// Runs in two rounds. The first moves scalar multiplies (the 1/sqrt(d)
// scale, wherever the exporter put it) off the query and key paths onto the
// score matmul's result, so that the second round finds every scale on the
// path from the score matmul to the softmax:
//
//   matmul(softmax(mask(scale * matmul(q, k^T))), v)  ->  nuri.attention
//
//===----------------------------------------------------------------------===//

#include "PatternUtils.h"

#include "nuri/Dialect/Nuri/IR/ConstantData.h"
#include "nuri/Dialect/Nuri/Transforms/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace nuri {
#define GEN_PASS_DEF_NURIFUSEATTENTION
#include "nuri/Dialect/Nuri/Transforms/Passes.h.inc"
} // namespace nuri

using namespace mlir;
using namespace nuri;

namespace {

// Masks write "minus infinity" as -inf, -1e4, -1e9 or float's lowest; all
// are far enough below any score that exp() underflows to zero.
constexpr double kMaskedBelow = -1e3;

bool isLargeNegative(Value value) {
  std::optional<double> c = getScalarConstant(value);
  return c && *c <= kMaskedBelow;
}

// A matmul of two computed values: the score or the context product of
// attention, never a layer with weights.
bool isActivationMatmul(Operation *op) {
  auto matmul = dyn_cast_or_null<MatmulOp>(op);
  return matmul && !getConstantElements(matmul.getLhs()) &&
         !getConstantElements(matmul.getRhs());
}

// `x * c` or `x / c` for a scalar constant c that does not broadcast x:
// sets x and the factor.
bool matchScalarScale(Value value, Value &x, double &factor) {
  if (auto div = value.getDefiningOp<DivOp>()) {
    std::optional<double> c = getScalarConstant(div.getRhs());
    if (!c || *c == 0 || div.getLhs().getType() != div.getType()) {
      return false;
    }
    x = div.getLhs();
    factor = 1.0 / *c;
    return true;
  }
  return matchCommuted<MulOp>(value, [&](Value a, Value c) {
    std::optional<double> s = getScalarConstant(c);
    if (!s || a.getType() != value.getType()) {
      return false;
    }
    x = a;
    factor = *s;
    return true;
  });
}

Value createScalarMul(PatternRewriter &rewriter, Location loc, Value x,
                      double factor) {
  auto type = cast<RankedTensorType>(x.getType());
  Value c = createSplat(
      rewriter, loc, RankedTensorType::get({}, type.getElementType()), factor);
  return rewriter.create<MulOp>(loc, type, x, c);
}

// Whether `value` flows, through reshapes and transposes used once, into a
// score/context matmul.
bool feedsActivationMatmul(Value value, int depth = 6) {
  if (!value.hasOneUse() || depth == 0) {
    return false;
  }
  Operation *user = *value.getUsers().begin();
  if (isa<ReshapeOp, TransposeOp>(user)) {
    return feedsActivationMatmul(user->getResult(0), depth - 1);
  }
  return isActivationMatmul(user);
}

//===----------------------------------------------------------------------===//
// Round 1: move scalar scales onto the score matmul
//===----------------------------------------------------------------------===//

// reshape/transpose(x * c) -> reshape/transpose(x) * c, toward the matmul.
template <typename OpTy>
struct SinkScaleThroughMovement : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    Value x;
    double factor;
    if (!op.getInput().hasOneUse() ||
        !matchScalarScale(op.getInput(), x, factor) ||
        !feedsActivationMatmul(op.getResult())) {
      return failure();
    }
    Operation *moved = rewriter.clone(*op);
    moved->setOperand(0, x);
    rewriter.replaceOp(op, createScalarMul(rewriter, op.getLoc(),
                                           moved->getResult(0), factor));
    return success();
  }
};

// matmul(a * c, b) -> matmul(a, b) * c, for either operand.
struct HoistScaleFromMatmul : OpRewritePattern<MatmulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MatmulOp op,
                                PatternRewriter &rewriter) const override {
    if (!isActivationMatmul(op)) {
      return failure();
    }
    for (unsigned i = 0; i < 2; ++i) {
      Value operand = op->getOperand(i), x;
      double factor;
      if (!operand.hasOneUse() || !matchScalarScale(operand, x, factor)) {
        continue;
      }
      Operation *product = rewriter.clone(*op);
      product->setOperand(i, x);
      rewriter.replaceOp(op, createScalarMul(rewriter, op.getLoc(),
                                             product->getResult(0), factor));
      return success();
    }
    return failure();
  }
};

//===----------------------------------------------------------------------===//
// Round 2: the attention pattern
//===----------------------------------------------------------------------===//

enum class MaskKind {
  Additive,  // float, added to the scores
  Keep,      // i1, true where attending
  Drop,      // i1, true where masked
  KeepFloat, // float 0/1, 1 where attending (Megatron)
};

// Whether `value` leads back to a score matmul through the ops that may sit
// between it and the softmax.
bool reachesScoreMatmul(Value value, int depth = 8) {
  Operation *op = value.getDefiningOp();
  if (!op || depth == 0) {
    return false;
  }
  if (isActivationMatmul(op)) {
    return true;
  }
  if (!isa<ReshapeOp, MulOp, DivOp, AddOp, SubOp, WhereOp>(op)) {
    return false;
  }
  return llvm::any_of(op->getOperands(), [&](Value operand) {
    return reachesScoreMatmul(operand, depth - 1);
  });
}

// One mask on the way from the score matmul to the softmax.
struct MaskTerm {
  Value value;
  MaskKind kind;
  RankedTensorType stage; // the scores' type where the mask applies
  double fill = 0;        // what a where writes over masked scores
};

struct Scores {
  MatmulOp product;
  double scale = 1.0;
  SmallVector<MaskTerm, 2> masks; // outermost (nearest the softmax) first
};

// Walks from the softmax input back to the score matmul.
std::optional<Scores> matchScores(Value value, bool binaryFloatMasks) {
  Scores s;
  auto setMask = [&](Value mask, MaskKind kind, Value stage, double fill = 0) {
    if (s.masks.size() == 2) {
      return false; // More than a causal and a padding mask: leave it.
    }
    s.masks.push_back(
        {mask, kind, cast<RankedTensorType>(stage.getType()), fill});
    return true;
  };
  for (int steps = 0; steps < 16; ++steps) {
    Operation *op = value.getDefiningOp();
    if (!op || !value.hasOneUse()) {
      return std::nullopt;
    }
    if (isActivationMatmul(op)) {
      s.product = cast<MatmulOp>(op);
      return s;
    }
    Value next, x;
    double factor;
    if (auto reshape = dyn_cast<ReshapeOp>(op)) {
      // Only the leading (batch, head) dimensions may be regrouped.
      auto in = reshape.getInput().getType(), out = reshape.getType();
      if (in.getRank() < 2 || out.getRank() < 2 ||
          in.getShape().take_back(2) != out.getShape().take_back(2)) {
        return std::nullopt;
      }
      next = reshape.getInput();
    } else if (matchScalarScale(value, x, factor)) {
      s.scale *= factor;
      next = x;
    } else if (auto add = dyn_cast<AddOp>(op)) {
      bool lhs = reachesScoreMatmul(add.getLhs());
      bool rhs = reachesScoreMatmul(add.getRhs());
      if (lhs == rhs) {
        return std::nullopt;
      }
      next = lhs ? add.getLhs() : add.getRhs();
      if (next.getType() != value.getType() ||
          !setMask(lhs ? add.getRhs() : add.getLhs(), MaskKind::Additive,
                   value)) {
        return std::nullopt;
      }
    } else if (auto where = dyn_cast<WhereOp>(op)) {
      bool keep = isLargeNegative(where.getOnFalse());
      if (!keep && !isLargeNegative(where.getOnTrue())) {
        return std::nullopt;
      }
      next = keep ? where.getOnTrue() : where.getOnFalse();
      double fill =
          *getScalarConstant(keep ? where.getOnFalse() : where.getOnTrue());
      if (next.getType() != value.getType() ||
          !setMask(where.getCondition(), keep ? MaskKind::Keep : MaskKind::Drop,
                   value, fill)) {
        return std::nullopt;
      }
    } else if (auto sub = dyn_cast<SubOp>(op); sub && binaryFloatMasks) {
      // scores * m - c * (1 - m), c large: keeps the scores where m is 1.
      Value mask;
      bool found = matchCommuted<MulOp>(sub.getLhs(), [&](Value a, Value m) {
        next = a;
        mask = m;
        return reachesScoreMatmul(a) && a.getType() == value.getType();
      });
      found = found && sub.getLhs().hasOneUse() &&
              matchCommuted<MulOp>(sub.getRhs(), [&](Value inverted, Value c) {
                auto one = inverted.getDefiningOp<SubOp>();
                std::optional<double> penalty = getScalarConstant(c);
                return one && isScalarNear(one.getLhs(), 1.0, 0.0) &&
                       one.getRhs() == mask && penalty &&
                       *penalty >= -kMaskedBelow;
              });
      if (!found || !setMask(mask, MaskKind::KeepFloat, value)) {
        return std::nullopt;
      }
    } else {
      return std::nullopt;
    }
    value = next;
  }
  return std::nullopt;
}

enum class MaskClass { AllKeep, Causal, Other };

// What a constant mask does to scores of `[..., sq, skv]`: nothing, exactly
// causal masking (key j hidden from query i when j > i + skv - sq), or
// something else.
MaskClass classifyConstantMask(Value mask, MaskKind kind, int64_t sq,
                               int64_t skv) {
  ElementsAttr attr = getConstantElements(mask);
  if (!attr) {
    return MaskClass::Other;
  }
  auto type = cast<RankedTensorType>(mask.getType());
  int64_t rank = type.getRank();
  int64_t mk = rank >= 1 ? type.getDimSize(rank - 1) : 1;
  int64_t mq = rank >= 2 ? type.getDimSize(rank - 2) : 1;
  int64_t slices = type.getNumElements() / std::max<int64_t>(mq * mk, 1);
  if (slices * sq * skv > (int64_t(1) << 24)) {
    return MaskClass::Other;
  }
  FailureOr<std::vector<double>> values = readAsDouble(attr);
  if (failed(values)) {
    return MaskClass::Other;
  }
  bool allKeep = true, causal = true;
  for (int64_t s = 0; s < slices; ++s) {
    for (int64_t i = 0; i < sq; ++i) {
      for (int64_t j = 0; j < skv; ++j) {
        double v =
            (*values)[s * mq * mk + (mq == 1 ? 0 : i) * mk + (mk == 1 ? 0 : j)];
        bool keep = false;
        switch (kind) {
        case MaskKind::Additive:
          if (v != 0 && v > kMaskedBelow) {
            return MaskClass::Other; // A bias, not a mask.
          }
          keep = v == 0;
          break;
        case MaskKind::Keep:
          keep = v != 0;
          break;
        case MaskKind::Drop:
          keep = v == 0;
          break;
        case MaskKind::KeepFloat:
          if (v != 0 && v != 1) {
            return MaskClass::Other;
          }
          keep = v == 1;
          break;
        }
        allKeep &= keep;
        causal &= keep == (j <= i + skv - sq);
      }
    }
  }
  // With fewer keys than queries the first rows would be fully masked, where
  // a mask of finite values and the causal flag's -inf disagree.
  causal &= skv >= sq;
  return allKeep ? MaskClass::AllKeep
                 : (causal ? MaskClass::Causal : MaskClass::Other);
}

SmallVector<int64_t> swapLastTwo(int64_t rank) {
  SmallVector<int64_t> perm = llvm::to_vector(llvm::seq<int64_t>(0, rank));
  std::swap(perm[rank - 1], perm[rank - 2]);
  return perm;
}

// A value and a permutation still to apply to it (empty: none).
struct Permuted {
  Value value;
  SmallVector<int64_t> perm;

  RankedTensorType type() const {
    auto t = cast<RankedTensorType>(value.getType());
    if (perm.empty()) {
      return t;
    }
    SmallVector<int64_t> shape;
    for (int64_t p : perm) {
      shape.push_back(t.getDimSize(p));
    }
    return RankedTensorType::get(shape, t.getElementType());
  }

  Value materialize(PatternRewriter &rewriter, Location loc) const {
    if (perm.empty()) {
      return value;
    }
    return rewriter.create<TransposeOp>(loc, type(), value, perm);
  }
};

// `value` with its last two dimensions swapped, looking through (and
// composing with) a transpose that produced it.
Permuted swapped(Value value) {
  int64_t rank = cast<RankedTensorType>(value.getType()).getRank();
  SmallVector<int64_t> swap = swapLastTwo(rank);
  auto transpose = value.getDefiningOp<TransposeOp>();
  if (!transpose) {
    return {value, swap};
  }
  SmallVector<int64_t> composed;
  for (int64_t p : swap) {
    composed.push_back(transpose.getPermutation()[p]);
  }
  if (llvm::equal(composed, llvm::seq<int64_t>(0, rank))) {
    return {transpose.getInput(), {}};
  }
  return {transpose.getInput(), composed};
}

// For a 3-D `[b * h, s, d]` operand reshaped from a 4-D `[b, h, s, d]` value,
// that value.
Value fourDimSource(const Permuted &operand) {
  auto reshape = operand.perm.empty() ? operand.value.getDefiningOp<ReshapeOp>()
                                      : ReshapeOp();
  if (!reshape) {
    return {};
  }
  auto in = reshape.getInput().getType(), out = reshape.getType();
  if (in.getRank() != 4 || out.getRank() != 3 ||
      in.getDimSize(0) * in.getDimSize(1) != out.getDimSize(0) ||
      in.getShape().take_back(2) != out.getShape().take_back(2)) {
    return {};
  }
  return reshape.getInput();
}

// For key/value heads repeated for grouped-query attention,
//   [b, hkv, s, d] -> [b, hkv, 1, s, d] -> broadcast [b, hkv, n, s, d]
//   -> reshape [b, hkv * n, s, d],
// the broadcast's input (still [b, hkv, 1, s, d]).
Value repeatSource(Value value) {
  auto merge = value.getDefiningOp<ReshapeOp>();
  auto broadcast =
      merge ? merge.getInput().getDefiningOp<BroadcastToOp>() : BroadcastToOp();
  if (!broadcast) {
    return {};
  }
  auto out = merge.getType(), wide = broadcast.getType();
  auto in = broadcast.getInput().getType();
  if (out.getRank() != 4 || wide.getRank() != 5 || in.getRank() != 5 ||
      in.getDimSize(2) != 1 || in.getDimSize(0) != out.getDimSize(0) ||
      in.getDimSize(1) * wide.getDimSize(2) != out.getDimSize(1) ||
      wide.getShape().take_back(2) != out.getShape().take_back(2) ||
      in.getShape().take_back(2) != out.getShape().take_back(2) ||
      in.getDimSize(0) != wide.getDimSize(0) ||
      in.getDimSize(1) != wide.getDimSize(1)) {
    return {};
  }
  return broadcast.getInput();
}

// The un-repeated [b, hkv, s, d] form of a repeatSource.
Value dropRepeatAxis(PatternRewriter &rewriter, Location loc, Value source) {
  if (auto unsqueeze = source.getDefiningOp<ReshapeOp>();
      unsqueeze && unsqueeze.getInput().getType().getRank() == 4) {
    return unsqueeze.getInput();
  }
  auto type = cast<RankedTensorType>(source.getType());
  auto squeezed =
      RankedTensorType::get({type.getDimSize(0), type.getDimSize(1),
                             type.getDimSize(3), type.getDimSize(4)},
                            type.getElementType());
  return rewriter.create<ReshapeOp>(loc, squeezed, source);
}

struct FuseScaledDotProduct : OpRewritePattern<MatmulOp> {
  FuseScaledDotProduct(MLIRContext *context, bool binaryFloatMasks,
                       bool splitCausalMask)
      : OpRewritePattern(context), binaryFloatMasks(binaryFloatMasks),
        splitCausalMask(splitCausalMask) {}

  LogicalResult matchAndRewrite(MatmulOp op,
                                PatternRewriter &rewriter) const override {
    // context = probs x v.
    auto softmax = op.getLhs().getDefiningOp<SoftmaxOp>();
    if (op.getTransposeLhs() || !softmax || softmax.getLog() ||
        !op.getLhs().hasOneUse() ||
        static_cast<int64_t>(softmax.getAxis()) !=
            softmax.getType().getRank() - 1) {
      return failure();
    }
    std::optional<Scores> scores =
        matchScores(softmax.getInput(), binaryFloatMasks);
    if (!scores || scores->product.getTransposeLhs()) {
      return failure();
    }
    MatmulOp product = scores->product;
    int64_t rank = product.getType().getRank();
    Permuted query{product.getLhs(), {}};
    Permuted key = product.getTransposeRhs() ? Permuted{product.getRhs(), {}}
                                             : swapped(product.getRhs());
    Permuted value =
        op.getTransposeRhs() ? swapped(op.getRhs()) : Permuted{op.getRhs(), {}};
    if ((rank != 3 && rank != 4) || op.getType().getRank() != rank ||
        query.type().getRank() != rank || key.type().getRank() != rank ||
        value.type().getRank() != rank ||
        query.type().getShape().drop_back(2) !=
            key.type().getShape().drop_back(2) ||
        query.type().getShape().drop_back(2) !=
            value.type().getShape().drop_back(2)) {
      return failure();
    }

    // 4-D operands: those of the ops, or for bmm-style 3-D attention the
    // values the exporter merged batch and heads from.
    Value q4, k4, v4;
    bool reshapeAll = false;
    if (rank == 3) {
      q4 = fourDimSource(query);
      k4 = fourDimSource(key);
      v4 = fourDimSource(value);
      reshapeAll =
          !q4 || !k4 || !v4 ||
          cast<RankedTensorType>(q4.getType()).getShape().take_front(2) !=
              cast<RankedTensorType>(k4.getType()).getShape().take_front(2) ||
          cast<RankedTensorType>(q4.getType()).getShape().take_front(2) !=
              cast<RankedTensorType>(v4.getType()).getShape().take_front(2);
    }
    auto shape4 = [&](RankedTensorType t) -> RankedTensorType {
      if (rank == 4) {
        return t;
      }
      if (!reshapeAll) {
        auto lead = cast<RankedTensorType>(q4.getType()).getShape();
        return RankedTensorType::get(
            {lead[0], lead[1], t.getDimSize(1), t.getDimSize(2)},
            t.getElementType());
      }
      return RankedTensorType::get(
          {1, t.getDimSize(0), t.getDimSize(1), t.getDimSize(2)},
          t.getElementType());
    };
    RankedTensorType qType = shape4(query.type()), kType = shape4(key.type()),
                     vType = shape4(value.type());
    RankedTensorType outType = shape4(op.getType());
    // Grouped-query heads: feed the key/value before their repetition.
    Value kSource =
        rank == 4 && key.perm.empty() ? repeatSource(key.value) : Value();
    Value vSource =
        rank == 4 && value.perm.empty() ? repeatSource(value.value) : Value();
    bool unrepeat = kSource && vSource &&
                    cast<RankedTensorType>(kSource.getType()).getDimSize(1) ==
                        cast<RankedTensorType>(vSource.getType()).getDimSize(1);
    if (unrepeat) {
      auto un = [](Value source) {
        auto t = cast<RankedTensorType>(source.getType());
        return RankedTensorType::get({t.getDimSize(0), t.getDimSize(1),
                                      t.getDimSize(3), t.getDimSize(4)},
                                     t.getElementType());
      };
      kType = un(kSource);
      vType = un(vSource);
    }
    SmallVector<Type> inferred;
    if (failed(nuri::detail::inferAttention(std::nullopt, qType, kType, vType,
                                            Value(), inferred)) ||
        inferred[0] != outType) {
      return failure();
    }

    // The masks: constant ones that hide nothing vanish, a constant causal
    // one becomes the flag, and two that remain are summed into one.
    int64_t sq = qType.getDimSize(2), skv = kType.getDimSize(2);
    bool causal = false;
    SmallVector<MaskTerm, 2> terms;
    int causalTerm = -1;
    for (const MaskTerm &term : scores->masks) {
      MaskClass cls = classifyConstantMask(term.value, term.kind, sq, skv);
      if (cls == MaskClass::Causal) {
        causalTerm = terms.size();
      }
      if (cls != MaskClass::AllKeep) {
        terms.push_back(term);
      }
    }
    if (causalTerm >= 0 && (terms.size() == 1 || splitCausalMask)) {
      causal = true;
      terms.erase(terms.begin() + causalTerm);
    }
    if (splitCausalMask && !causal && terms.size() == 1 &&
        terms[0].kind == MaskKind::Additive) {
      // Hugging Face's causal constant + padding mask, already summed.
      if (auto add = terms[0].value.getDefiningOp<AddOp>()) {
        for (int i = 0; i < 2 && !causal; ++i) {
          if (classifyConstantMask(add->getOperand(i), MaskKind::Additive, sq,
                                   skv) == MaskClass::Causal) {
            causal = true;
            terms[0].value = add->getOperand(1 - i);
          }
        }
      }
    }
    RankedTensorType maskType;
    MaskKind kind = MaskKind::Additive;
    RankedTensorType stage;
    if (terms.size() == 1) {
      maskType = cast<RankedTensorType>(terms[0].value.getType());
      kind = terms[0].kind;
      stage = terms[0].stage;
    } else if (terms.size() == 2) {
      // Summed as one additive mask; that needs both on the same scores.
      stage = terms[0].stage;
      SmallVector<int64_t> shape;
      for (const MaskTerm &term : terms) {
        auto termShape =
            cast<RankedTensorType>(term.value.getType()).getShape();
        FailureOr<SmallVector<int64_t>> joined =
            nuri::detail::broadcastShapes(shape, termShape);
        if (term.kind == MaskKind::KeepFloat || term.stage != stage ||
            failed(joined)) {
          return failure();
        }
        shape = *joined;
      }
      maskType = RankedTensorType::get(shape, stage.getElementType());
    }
    SmallVector<int64_t> scoreShape = {qType.getDimSize(0), qType.getDimSize(1),
                                       sq, skv};
    bool maskAsIs = false, maskNeedsRegroup = false;
    if (maskType) {
      ArrayRef<int64_t> lead = maskType.getShape().drop_back(
          std::min<int64_t>(2, maskType.getRank()));
      bool leadIsOne = llvm::all_of(lead, [](int64_t d) { return d == 1; });
      maskAsIs = stage.getShape() == ArrayRef<int64_t>(scoreShape) ||
                 (leadIsOne && maskType.getRank() <= 4);
      maskNeedsRegroup = !maskAsIs;
      if (maskNeedsRegroup &&
          stage.getNumElements() !=
              RankedTensorType::get(scoreShape, stage.getElementType())
                  .getNumElements()) {
        return failure();
      }
    }

    // Rewrite.
    Location loc = op.getLoc();
    auto to4 = [&](const Permuted &operand, Value source,
                   RankedTensorType type) -> Value {
      if (rank == 4) {
        return operand.materialize(rewriter, loc);
      }
      if (!reshapeAll) {
        return source;
      }
      return rewriter.create<ReshapeOp>(loc, type,
                                        operand.materialize(rewriter, loc));
    };
    Value q = to4(query, q4, qType);
    Value k =
        unrepeat ? dropRepeatAxis(rewriter, loc, kSource) : to4(key, k4, kType);
    Value v = unrepeat ? dropRepeatAxis(rewriter, loc, vSource)
                       : to4(value, v4, vType);
    Value mask;
    if (terms.size() == 1) {
      mask = terms[0].value;
    } else if (terms.size() == 2) {
      // Innermost first: scores + p, where(c, scores, fill), ... as additive
      // terms of a mask that starts at zero.
      Type element = stage.getElementType();
      auto scalar = [&](double v) {
        return createSplat(rewriter, loc, RankedTensorType::get({}, element),
                           v);
      };
      mask = scalar(0.0);
      for (const MaskTerm &term : llvm::reverse(terms)) {
        SmallVector<Type> type;
        if (term.kind == MaskKind::Additive) {
          (void)nuri::detail::inferBroadcast(loc, {mask, term.value},
                                             /*boolResult=*/false, type);
          mask = rewriter.create<AddOp>(loc, type[0], mask, term.value);
          continue;
        }
        Value fill = scalar(term.fill);
        Value onTrue = term.kind == MaskKind::Keep ? mask : fill;
        Value onFalse = term.kind == MaskKind::Keep ? fill : mask;
        (void)nuri::detail::inferWhere(loc, term.value, onTrue, onFalse, type);
        mask =
            rewriter.create<WhereOp>(loc, type[0], term.value, onTrue, onFalse);
      }
    }
    if (mask && maskNeedsRegroup) {
      auto maskType = cast<RankedTensorType>(mask.getType());
      auto wide =
          RankedTensorType::get(stage.getShape(), maskType.getElementType());
      if (maskType != wide) {
        mask = rewriter.create<BroadcastToOp>(loc, wide, mask);
      }
      mask = rewriter.create<ReshapeOp>(
          loc, RankedTensorType::get(scoreShape, maskType.getElementType()),
          mask);
    }
    if (mask && kind == MaskKind::Drop) {
      mask = rewriter.create<NotOp>(loc, mask.getType(), mask);
    } else if (mask && kind == MaskKind::KeepFloat) {
      auto maskType = cast<RankedTensorType>(mask.getType());
      Value zero = createSplat(
          rewriter, loc, RankedTensorType::get({}, maskType.getElementType()),
          0.0);
      mask = rewriter.create<CompareOp>(
          loc, RankedTensorType::get(maskType.getShape(), rewriter.getI1Type()),
          ComparePredicateAttr::get(getContext(), ComparePredicate::NE), mask,
          zero);
    }
    auto attention = rewriter.create<AttentionOp>(
        loc, outType, q, k, v, mask,
        rewriter.getF32FloatAttr(static_cast<float>(scores->scale)),
        causal ? rewriter.getUnitAttr() : UnitAttr());
    Value result = attention.getResult();
    if (result.getType() != op.getType()) {
      result = rewriter.create<ReshapeOp>(loc, op.getType(), result);
    }
    rewriter.replaceOp(op, result);
    return success();
  }

  bool binaryFloatMasks;
  bool splitCausalMask;
};

struct FuseAttentionPass
    : nuri::impl::NuriFuseAttentionBase<FuseAttentionPass> {
  using NuriFuseAttentionBase::NuriFuseAttentionBase;

  void runOnOperation() override {
    MLIRContext *context = &getContext();
    RewritePatternSet scales(context);
    scales.add<SinkScaleThroughMovement<ReshapeOp>,
               SinkScaleThroughMovement<TransposeOp>, HoistScaleFromMatmul>(
        context);
    RewritePatternSet attention(context);
    attention.add<FuseScaledDotProduct>(context, binaryFloatMasks,
                                        splitCausalMask);
    // Transposes created for the key compose with the head split's.
    TransposeOp::getCanonicalizationPatterns(attention, context);
    if (failed(
            applyPatternsAndFoldGreedily(getOperation(), std::move(scales))) ||
        failed(applyPatternsAndFoldGreedily(getOperation(),
                                            std::move(attention)))) {
      getOperation()->emitError("attention fusion did not converge");
      signalPassFailure();
    }
  }
};

} // namespace
