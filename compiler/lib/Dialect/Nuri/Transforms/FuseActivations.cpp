//===- FuseActivations.cpp - Decomposed GELU and SiLU ---------------------===//
//
// GELU is written in many arrangements of the same product
// `0.5 * x * (1 + f(x))`; rather than enumerating them, the root product is
// flattened into its factors and the argument of erf/tanh is read as a
// polynomial in `x`.
//
//===----------------------------------------------------------------------===//

#include "PatternUtils.h"

#include "nuri/Dialect/Nuri/Transforms/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace nuri {
#define GEN_PASS_DEF_NURIFUSEACTIVATIONS
#include "nuri/Dialect/Nuri/Transforms/Passes.h.inc"
} // namespace nuri

using namespace mlir;
using namespace nuri;

namespace {

// Coefficients of a polynomial in x, lowest degree first.
using Poly = SmallVector<double, 5>;
constexpr size_t kMaxDegree = 4;

Poly addPoly(const Poly &a, const Poly &b, double sign) {
  Poly r(std::max(a.size(), b.size()), 0.0);
  for (size_t i = 0; i < a.size(); ++i) {
    r[i] += a[i];
  }
  for (size_t i = 0; i < b.size(); ++i) {
    r[i] += sign * b[i];
  }
  return r;
}

std::optional<Poly> mulPoly(const Poly &a, const Poly &b) {
  if (a.size() + b.size() - 1 > kMaxDegree + 1) {
    return std::nullopt;
  }
  Poly r(a.size() + b.size() - 1, 0.0);
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = 0; j < b.size(); ++j) {
      r[i + j] += a[i] * b[j];
    }
  }
  return r;
}

// `value` as a polynomial in `x` with scalar-constant coefficients, through
// add, sub, mul, neg, div by a constant and pow by a small integer.
std::optional<Poly> polyOf(Value value, Value x, int depth = 8) {
  if (value == x) {
    return Poly{0.0, 1.0};
  }
  if (std::optional<double> c = getScalarConstant(value)) {
    return Poly{*c};
  }
  Operation *op = value.getDefiningOp();
  if (!op || depth == 0) {
    return std::nullopt;
  }
  auto both = [&](Value a, Value b) -> std::optional<std::pair<Poly, Poly>> {
    std::optional<Poly> pa = polyOf(a, x, depth - 1);
    std::optional<Poly> pb = pa ? polyOf(b, x, depth - 1) : std::nullopt;
    if (!pb) {
      return std::nullopt;
    }
    return std::make_pair(*pa, *pb);
  };
  if (auto add = dyn_cast<AddOp>(op)) {
    auto p = both(add.getLhs(), add.getRhs());
    return p ? std::optional<Poly>(addPoly(p->first, p->second, 1.0))
             : std::nullopt;
  }
  if (auto sub = dyn_cast<SubOp>(op)) {
    auto p = both(sub.getLhs(), sub.getRhs());
    return p ? std::optional<Poly>(addPoly(p->first, p->second, -1.0))
             : std::nullopt;
  }
  if (auto mul = dyn_cast<MulOp>(op)) {
    auto p = both(mul.getLhs(), mul.getRhs());
    return p ? mulPoly(p->first, p->second) : std::nullopt;
  }
  if (auto neg = dyn_cast<NegOp>(op)) {
    std::optional<Poly> p = polyOf(neg.getInput(), x, depth - 1);
    if (p) {
      for (double &c : *p) {
        c = -c;
      }
    }
    return p;
  }
  if (auto div = dyn_cast<DivOp>(op)) {
    std::optional<double> c = getScalarConstant(div.getRhs());
    std::optional<Poly> p =
        c && *c != 0 ? polyOf(div.getLhs(), x, depth - 1) : std::nullopt;
    if (p) {
      for (double &v : *p) {
        v /= *c;
      }
    }
    return p;
  }
  if (auto pow = dyn_cast<PowOp>(op)) {
    std::optional<double> n = getScalarConstant(pow.getRhs());
    if (!n || *n < 1 || *n > kMaxDegree || std::floor(*n) != *n) {
      return std::nullopt;
    }
    std::optional<Poly> base = polyOf(pow.getLhs(), x, depth - 1);
    std::optional<Poly> r = base;
    for (int i = 1; r && i < static_cast<int>(*n); ++i) {
      r = mulPoly(*r, *base);
    }
    return r;
  }
  return std::nullopt;
}

// Whether `p` is `coefficients` (missing ones are zero) within tolerance.
bool polyIs(const Poly &p, ArrayRef<double> coefficients) {
  for (size_t i = 0; i < std::max(p.size(), coefficients.size()); ++i) {
    double actual = i < p.size() ? p[i] : 0.0;
    double expected = i < coefficients.size() ? coefficients[i] : 0.0;
    if (!isNear(actual, expected)) {
      return false;
    }
  }
  return true;
}

// The factors of a product tree rooted at `root`: constant factors are
// multiplied into `constant`, the rest are returned. Inner products and
// divisions by constants are opened only when nothing else uses them.
void collectFactors(Value value, bool isRoot, SmallVectorImpl<Value> &factors,
                    double &constant, int depth = 4) {
  Operation *op = value.getDefiningOp();
  bool open = op && depth > 0 && (isRoot || value.hasOneUse());
  if (auto c = getScalarConstant(value)) {
    constant *= *c;
    return;
  }
  if (auto mul = dyn_cast_or_null<MulOp>(op); mul && open) {
    collectFactors(mul.getLhs(), false, factors, constant, depth - 1);
    collectFactors(mul.getRhs(), false, factors, constant, depth - 1);
    return;
  }
  if (auto div = dyn_cast_or_null<DivOp>(op); div && open) {
    std::optional<double> c = getScalarConstant(div.getRhs());
    if (c && *c != 0) {
      constant /= *c;
      collectFactors(div.getLhs(), false, factors, constant, depth - 1);
      return;
    }
  }
  factors.push_back(value);
}

// 1 + f(u) with f = erf or tanh: sets `f` and its argument.
bool matchOnePlus(Value value, Operation *&f, Value &argument) {
  return matchCommuted<AddOp>(value, [&](Value a, Value one) {
    if (!isScalarNear(one, 1.0, 1e-6) || a.getType() != value.getType()) {
      return false;
    }
    f = a.getDefiningOp();
    if (auto erf = dyn_cast_or_null<ErfOp>(f)) {
      argument = erf.getInput();
      return true;
    }
    if (auto tanh = dyn_cast_or_null<TanhOp>(f)) {
      argument = tanh.getInput();
      return true;
    }
    return false;
  });
}

// 0.5 * x * (1 + erf(x / sqrt(2))) and 0.5 * x * (1 + tanh(sqrt(2 / pi) *
// (x + 0.044715 * x^3))), in any arrangement.
struct FuseGelu : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    SmallVector<Value> factors;
    double constant = 1.0;
    collectFactors(op.getResult(), /*isRoot=*/true, factors, constant);
    if (factors.size() != 2 || !isNear(constant, 0.5)) {
      return failure();
    }
    for (int i = 0; i < 2; ++i) {
      Value x = factors[i], onePlus = factors[1 - i], argument;
      Operation *f = nullptr;
      if (x.getType() != op.getType() || !matchOnePlus(onePlus, f, argument)) {
        continue;
      }
      std::optional<Poly> p = polyOf(argument, x);
      if (!p) {
        continue;
      }
      std::optional<GeluApproximation> approximation;
      if (isa<ErfOp>(f) && polyIs(*p, {0.0, M_SQRT1_2})) {
        approximation = GeluApproximation::None;
      }
      double k = std::sqrt(2.0 / M_PI);
      if (isa<TanhOp>(f) && polyIs(*p, {0.0, k, 0.0, k * 0.044715})) {
        approximation = GeluApproximation::Tanh;
      }
      if (!approximation) {
        continue;
      }
      rewriter.replaceOpWithNewOp<GeluOp>(
          op, op.getType(), x,
          GeluApproximationAttr::get(getContext(), *approximation));
      return success();
    }
    return failure();
  }
};

// x * sigmoid(x).
struct FuseSilu : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    Value x;
    bool found = matchCommuted<MulOp>(op.getResult(), [&](Value a, Value s) {
      auto sigmoid = s.getDefiningOp<SigmoidOp>();
      x = a;
      return sigmoid && sigmoid.getInput() == a && a.getType() == op.getType();
    });
    if (!found) {
      return failure();
    }
    rewriter.replaceOpWithNewOp<SiluOp>(op, op.getType(), x);
    return success();
  }
};

// x / (1 + exp(-x)): SiLU with the sigmoid written out.
struct FuseSiluDivision : OpRewritePattern<DivOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(DivOp op,
                                PatternRewriter &rewriter) const override {
    Value x = op.getLhs();
    bool found = matchCommuted<AddOp>(op.getRhs(), [&](Value one, Value e) {
      auto exp = e.getDefiningOp<ExpOp>();
      auto neg = exp ? exp.getInput().getDefiningOp<NegOp>() : NegOp();
      return isScalarNear(one, 1.0, 1e-6) && neg && neg.getInput() == x;
    });
    if (!found || x.getType() != op.getType()) {
      return failure();
    }
    rewriter.replaceOpWithNewOp<SiluOp>(op, op.getType(), x);
    return success();
  }
};

struct FuseActivationsPass
    : nuri::impl::NuriFuseActivationsBase<FuseActivationsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseGelu, FuseSilu, FuseSiluDivision>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(),
                                            std::move(patterns)))) {
      getOperation()->emitError("activation fusion did not converge");
      signalPassFailure();
    }
  }
};

} // namespace
