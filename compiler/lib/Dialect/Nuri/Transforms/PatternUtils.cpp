//===- PatternUtils.cpp - Matching helpers for the fusion passes ----------===//

#include "PatternUtils.h"

#include "nuri/Dialect/Nuri/IR/ConstantData.h"

#include "mlir/IR/Matchers.h"

#include <cmath>

using namespace mlir;

namespace nuri {

ElementsAttr getConstantElements(Value value) {
  Attribute attr;
  if (!value || !matchPattern(value, m_Constant(&attr))) {
    return {};
  }
  return dyn_cast<ElementsAttr>(attr);
}

std::optional<double> getScalarConstant(Value value) {
  ElementsAttr elements = getConstantElements(value);
  if (!elements) {
    return std::nullopt;
  }
  // Reading a splat or a one-element tensor is cheap; a full weight is not
  // read here even when all its elements happen to agree.
  auto dense = dyn_cast<DenseElementsAttr>(elements);
  if (elements.getNumElements() != 1 && !(dense && dense.isSplat())) {
    return std::nullopt;
  }
  if (dense && dense.isSplat()) {
    Type type = dense.getElementType();
    if (isa<FloatType>(type)) {
      return dense.getSplatValue<APFloat>().convertToDouble();
    }
    if (type.isInteger(1)) {
      return dense.getSplatValue<bool>() ? 1.0 : 0.0;
    }
    if (isa<IntegerType>(type)) {
      return static_cast<double>(dense.getSplatValue<APInt>().getSExtValue());
    }
    return std::nullopt;
  }
  FailureOr<std::vector<double>> values = readAsDouble(elements);
  if (failed(values) || values->size() != 1) {
    return std::nullopt;
  }
  return (*values)[0];
}

bool isNear(double actual, double expected, double relTol) {
  if (std::isinf(expected)) {
    return actual == expected;
  }
  return std::fabs(actual - expected) <=
         relTol * std::max(std::fabs(expected), 1e-6);
}

bool isScalarNear(Value value, double expected, double relTol) {
  std::optional<double> actual = getScalarConstant(value);
  return actual && isNear(*actual, expected, relTol);
}

bool matchTrailingMean(Value value, Value &input, int64_t &axis) {
  auto mean = value.getDefiningOp<ReduceMeanOp>();
  if (!mean || !mean.getKeepDims() || mean.getAxes().empty()) {
    return false;
  }
  int64_t rank = mean.getInput().getType().getRank();
  ArrayRef<int64_t> axes = mean.getAxes();
  int64_t first = rank - static_cast<int64_t>(axes.size());
  for (auto [i, a] : llvm::enumerate(axes)) {
    if (a != first + static_cast<int64_t>(i)) {
      return false;
    }
  }
  input = mean.getInput();
  axis = first;
  return true;
}

Value matchSquare(Value value) {
  if (auto mul = value.getDefiningOp<MulOp>()) {
    return mul.getLhs() == mul.getRhs() ? mul.getLhs() : Value();
  }
  if (auto pow = value.getDefiningOp<PowOp>()) {
    return isScalarNear(pow.getRhs(), 2.0, 1e-6) ? pow.getLhs() : Value();
  }
  return {};
}

// `v + eps` with a scalar constant epsilon, either order.
static std::optional<VarianceTerm> matchPlusEpsilon(Value value) {
  std::optional<VarianceTerm> term;
  matchCommuted<AddOp>(value, [&](Value v, Value e) {
    std::optional<double> eps = getScalarConstant(e);
    if (!eps || *eps < 0 || v.getType() != value.getType()) {
      return false;
    }
    term = VarianceTerm{v, *eps};
    return true;
  });
  return term;
}

std::optional<VarianceTerm> matchStdDev(Value value) {
  auto sqrt = value.getDefiningOp<SqrtOp>();
  return sqrt ? matchPlusEpsilon(sqrt.getInput()) : std::nullopt;
}

std::optional<VarianceTerm> matchInvStdDev(Value value) {
  if (auto rsqrt = value.getDefiningOp<RsqrtOp>()) {
    return matchPlusEpsilon(rsqrt.getInput());
  }
  if (auto reciprocal = value.getDefiningOp<ReciprocalOp>()) {
    return matchStdDev(reciprocal.getInput());
  }
  if (auto div = value.getDefiningOp<DivOp>()) {
    if (isScalarNear(div.getLhs(), 1.0, 1e-6) &&
        div.getType() == div.getRhs().getType()) {
      return matchStdDev(div.getRhs());
    }
  }
  return std::nullopt;
}

std::optional<Normalization> matchNormalization(Value value) {
  if (auto div = value.getDefiningOp<DivOp>()) {
    if (auto term = matchStdDev(div.getRhs())) {
      return Normalization{div.getLhs(), *term};
    }
    return std::nullopt;
  }
  std::optional<Normalization> result;
  matchCommuted<MulOp>(value, [&](Value n, Value inv) {
    if (auto term = matchInvStdDev(inv)) {
      result = Normalization{n, *term};
    }
    return result.has_value();
  });
  return result;
}

bool isNormParam(Type paramType, RankedTensorType inputType, int64_t axis) {
  auto param = dyn_cast<RankedTensorType>(paramType);
  if (!param || param.getElementType() != inputType.getElementType()) {
    return false;
  }
  ArrayRef<int64_t> normalized = inputType.getShape().drop_front(axis);
  FailureOr<SmallVector<int64_t>> shape =
      nuri::detail::broadcastShapes(normalized, param.getShape());
  return succeeded(shape) && ArrayRef<int64_t>(*shape) == normalized;
}

Value createSplat(OpBuilder &builder, Location loc, RankedTensorType type,
                  double value) {
  Attribute element;
  Type elementType = type.getElementType();
  if (auto floatType = dyn_cast<FloatType>(elementType)) {
    element = builder.getFloatAttr(floatType, value);
  } else {
    element = builder.getIntegerAttr(elementType, static_cast<int64_t>(value));
  }
  return builder.create<ConstantOp>(
      loc, type, cast<ElementsAttr>(DenseElementsAttr::get(type, element)));
}

} // namespace nuri
