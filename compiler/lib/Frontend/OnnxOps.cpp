//===- OnnxOps.cpp - Converters for the default ONNX domain ---------------===//
//
// One function per ONNX op type. Each reads its node's operands and
// attributes, honours the differences between opsets 11 to 21 (attributes
// that became inputs, changed defaults) and builds nuri ops through
// Importer::create, which infers, verifies and folds them.
//
//===----------------------------------------------------------------------===//

#include "ImporterImpl.h"

#include "nuri/Dialect/Nuri/IR/ConstantData.h"

#include "llvm/ADT/STLExtras.h"

#include <cmath>
#include <numeric>

using namespace mlir;
using namespace nuri;
using namespace nuri::onnx_import;

namespace {

Builder &b(NodeContext &n) { return n.importer.builder; }

NamedAttribute named(NodeContext &n, StringRef name, Attribute value) {
  return b(n).getNamedAttr(name, value);
}

NamedAttribute i64Attr(NodeContext &n, StringRef name, int64_t value) {
  return named(n, name, b(n).getI64IntegerAttr(value));
}

NamedAttribute arrayAttr(NodeContext &n, StringRef name,
                         ArrayRef<int64_t> values) {
  return named(n, name, b(n).getDenseI64ArrayAttr(values));
}

LogicalResult requireInputs(NodeContext &n, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (!n.input(i)) {
      return n.error() << "expects at least " << count << " inputs, input " << i
                       << " is missing";
    }
  }
  return success();
}

// The value of an input that must be a constant by import time (shapes,
// axes, bounds): after shape folding anything else means a dimension was
// left dynamic.
FailureOr<std::vector<int64_t>> requireConstInts(NodeContext &n, size_t index,
                                                 StringRef what) {
  std::optional<std::vector<int64_t>> values = constantInts(n.input(index));
  if (!values) {
    return n.error() << "the " << what
                     << " must be a constant once input shapes are pinned; it "
                        "depends on run-time data";
  }
  return std::move(*values);
}

Value reshapeValue(NodeContext &n, Value value, ArrayRef<int64_t> shape,
                   bool &ok) {
  auto type = RankedTensorType::get(shape, tensorType(value).getElementType());
  auto result = n.importer.create<ReshapeOp>(n, {value}, {}, {type});
  ok &= succeeded(result);
  return succeeded(result) ? *result : value;
}

FailureOr<Value> reshape(NodeContext &n, Value value, ArrayRef<int64_t> shape) {
  auto type = RankedTensorType::get(shape, tensorType(value).getElementType());
  return n.importer.create<ReshapeOp>(n, {value}, {}, {type});
}

FailureOr<Value> castTo(NodeContext &n, Value value, Type elementType) {
  if (tensorType(value).getElementType() == elementType) {
    return value;
  }
  auto type = RankedTensorType::get(shapeOf(value), elementType);
  return n.importer.create<CastOp>(n, {value}, {}, {type});
}

int64_t product(ArrayRef<int64_t> values) {
  return std::accumulate(values.begin(), values.end(), int64_t(1),
                         std::multiplies<int64_t>());
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

template <typename OpTy> Results binary(NodeContext &n) {
  if (failed(requireInputs(n, 2))) {
    return failure();
  }
  return one(n.importer.create<OpTy>(n, {n.input(0), n.input(1)}));
}

Results convertPow(NodeContext &n) {
  if (failed(requireInputs(n, 2))) {
    return failure();
  }
  // ONNX lets the exponent have its own type; nuri.pow wants one.
  FailureOr<Value> exponent =
      castTo(n, n.input(1), tensorType(n.input(0)).getElementType());
  if (failed(exponent)) {
    return failure();
  }
  return one(n.importer.create<PowOp>(n, {n.input(0), *exponent}));
}

template <typename OpTy> Results variadic(NodeContext &n) {
  if (failed(requireInputs(n, 1))) {
    return failure();
  }
  Value acc = n.input(0);
  for (size_t i = 1; i < n.inputs.size(); ++i) {
    FailureOr<Value> next = n.importer.create<OpTy>(n, {acc, n.input(i)});
    if (failed(next)) {
      return failure();
    }
    acc = *next;
  }
  return SmallVector<Value>{acc};
}

Results convertMean(NodeContext &n) {
  Results sum = variadic<AddOp>(n);
  if (failed(sum)) {
    return failure();
  }
  Value count = n.importer.scalar(static_cast<double>(n.inputs.size()),
                                  tensorType((*sum)[0]).getElementType());
  return one(n.importer.create<DivOp>(n, {(*sum)[0], count}));
}

template <typename OpTy> Results unary(NodeContext &n) {
  if (failed(requireInputs(n, 1))) {
    return failure();
  }
  return one(n.importer.create<OpTy>(n, {n.input(0)}));
}

template <ComparePredicate P> Results compare(NodeContext &n) {
  if (failed(requireInputs(n, 2))) {
    return failure();
  }
  auto predicate = ComparePredicateAttr::get(&n.importer.context, P);
  return one(n.importer.create<CompareOp>(n, {n.input(0), n.input(1)},
                                          {named(n, "predicate", predicate)}));
}

Results convertGelu(NodeContext &n) {
  if (failed(requireInputs(n, 1))) {
    return failure();
  }
  std::string approximate = n.stringAttr("approximate", "none");
  if (approximate != "none" && approximate != "tanh") {
    return n.error() << "unknown approximate '" << approximate << "'";
  }
  auto attr = GeluApproximationAttr::get(
      &n.importer.context, approximate == "tanh" ? GeluApproximation::Tanh
                                                 : GeluApproximation::None);
  return one(n.importer.create<GeluOp>(n, {n.input(0)},
                                       {named(n, "approximate", attr)}));
}

Results convertClip(NodeContext &n) {
  if (failed(requireInputs(n, 1))) {
    return failure();
  }
  SmallVector<NamedAttribute> attrs;
  auto bound = [&](StringRef name, size_t index) -> LogicalResult {
    if (n.opset < 11) {
      if (const onnx::AttributeProto *a = n.attr(name)) {
        attrs.push_back(named(n, name, b(n).getF64FloatAttr(a->f())));
      }
      return success();
    }
    if (!n.input(index)) {
      return success();
    }
    std::optional<std::vector<double>> value = constantFloats(n.input(index));
    if (!value || value->size() != 1) {
      return n.error() << "the " << name << " bound must be a scalar constant";
    }
    attrs.push_back(named(n, name, b(n).getF64FloatAttr((*value)[0])));
    return success();
  };
  if (failed(bound("min", 1)) || failed(bound("max", 2))) {
    return failure();
  }
  return one(n.importer.create<ClipOp>(n, {n.input(0)}, attrs));
}

//===----------------------------------------------------------------------===//
// Constants and shape machinery
//===----------------------------------------------------------------------===//

Results convertConstant(NodeContext &n) {
  Importer &im = n.importer;
  for (const onnx::AttributeProto &a : n.node.attribute()) {
    if (a.name() == "value") {
      onnx::TensorProto copy = a.t();
      FailureOr<Value> value = im.tensorConstant(copy, n.loc);
      if (failed(value)) {
        return failure();
      }
      return SmallVector<Value>{*value};
    }
    if (a.name() == "value_float") {
      return SmallVector<Value>{im.scalar(a.f(), b(n).getF32Type())};
    }
    if (a.name() == "value_int") {
      return SmallVector<Value>{im.scalar(a.i(), b(n).getI64Type())};
    }
    if (a.name() == "value_floats") {
      std::vector<double> values(a.floats().begin(), a.floats().end());
      auto type =
          RankedTensorType::get({(int64_t)values.size()}, b(n).getF32Type());
      return SmallVector<Value>{im.constant(makeFromDouble(type, values))};
    }
    if (a.name() == "value_ints") {
      std::vector<int64_t> values(a.ints().begin(), a.ints().end());
      return SmallVector<Value>{
          im.constantInts(values, {(int64_t)values.size()}, b(n).getI64Type())};
    }
  }
  return n.error() << "has no supported value attribute (sparse and string "
                      "constants are not supported)";
}

Results convertShape(NodeContext &n) {
  if (failed(requireInputs(n, 1))) {
    return failure();
  }
  ArrayRef<int64_t> shape = shapeOf(n.input(0));
  int64_t rank = shape.size();
  int64_t start = n.intAttr("start", 0), end = n.intAttr("end", rank);
  start = std::clamp(start < 0 ? start + rank : start, int64_t(0), rank);
  end = std::clamp(end < 0 ? end + rank : end, int64_t(0), rank);
  std::vector<int64_t> dims(shape.begin() + start,
                            shape.begin() + std::max(start, end));
  return SmallVector<Value>{
      n.importer.constantInts(dims, {(int64_t)dims.size()}, b(n).getI64Type())};
}

Results convertSize(NodeContext &n) {
  if (failed(requireInputs(n, 1))) {
    return failure();
  }
  return SmallVector<Value>{n.importer.constantInts(
      {product(shapeOf(n.input(0)))}, {}, b(n).getI64Type())};
}

Results convertIdentity(NodeContext &n) {
  if (failed(requireInputs(n, 1))) {
    return failure();
  }
  return SmallVector<Value>{n.input(0)};
}

Results convertDropout(NodeContext &n) {
  // Inference: the identity. The mask output, if used, is all true.
  if (failed(requireInputs(n, 1))) {
    return failure();
  }
  SmallVector<Value> out = {n.input(0)};
  if (n.node.output_size() > 1 && !n.node.output(1).empty()) {
    auto type = RankedTensorType::get(shapeOf(n.input(0)), b(n).getI1Type());
    out.push_back(n.importer.constant(DenseElementsAttr::get(type, true)));
  }
  return out;
}

Results convertCast(NodeContext &n) {
  if (failed(requireInputs(n, 1))) {
    return failure();
  }
  FailureOr<Type> to = n.importer.elementType(n.intAttr("to", 0), n.loc);
  if (failed(to)) {
    return failure();
  }
  return one(castTo(n, n.input(0), *to));
}

Results convertCastLike(NodeContext &n) {
  if (failed(requireInputs(n, 2))) {
    return failure();
  }
  return one(castTo(n, n.input(0), tensorType(n.input(1)).getElementType()));
}

Results convertReshape(NodeContext &n) {
  if (failed(requireInputs(n, 2))) {
    return failure();
  }
  FailureOr<std::vector<int64_t>> target =
      requireConstInts(n, 1, "target shape");
  if (failed(target)) {
    return failure();
  }
  ArrayRef<int64_t> in = shapeOf(n.input(0));
  bool allowZero = n.intAttr("allowzero", 0) != 0;
  SmallVector<int64_t> shape;
  int64_t inferIndex = -1, known = 1;
  for (auto [i, d] : llvm::enumerate(*target)) {
    if (d == 0 && !allowZero) {
      if (i >= in.size()) {
        return n.error() << "target dimension " << i
                         << " is 0 (copy) but the input has rank " << in.size();
      }
      d = in[i];
    }
    if (d == -1) {
      if (inferIndex >= 0) {
        return n.error() << "the target shape has more than one -1";
      }
      inferIndex = i;
      shape.push_back(1);
      continue;
    }
    if (d < 0) {
      return n.error() << "invalid target dimension " << d;
    }
    shape.push_back(d);
    known *= d;
  }
  int64_t total = product(in);
  if (inferIndex >= 0) {
    if (known == 0 || total % known) {
      return n.error() << "cannot reshape " << total << " elements with a -1 "
                       << "dimension and " << known << " known";
    }
    shape[inferIndex] = total / known;
  }
  if (product(shape) != total) {
    return n.error() << "cannot reshape " << total << " elements to "
                     << product(shape);
  }
  return one(reshape(n, n.input(0), shape));
}

FailureOr<std::vector<int64_t>> axesOf(NodeContext &n, int attrUntilOpset,
                                       size_t inputIndex) {
  if (n.opset < attrUntilOpset) {
    return n.intsAttr("axes").value_or(std::vector<int64_t>{});
  }
  if (!n.input(inputIndex)) {
    return std::vector<int64_t>{};
  }
  return requireConstInts(n, inputIndex, "axes");
}

Results convertUnsqueeze(NodeContext &n) {
  if (failed(requireInputs(n, 1))) {
    return failure();
  }
  FailureOr<std::vector<int64_t>> axes = axesOf(n, 13, 1);
  if (failed(axes)) {
    return failure();
  }
  ArrayRef<int64_t> in = shapeOf(n.input(0));
  int64_t rank = in.size() + axes->size();
  SmallVector<bool> inserted(rank, false);
  for (int64_t axis : *axes) {
    FailureOr<int64_t> a = normalizeAxis(n, axis, rank);
    if (failed(a)) {
      return failure();
    }
    if (inserted[*a]) {
      return n.error() << "axis " << axis << " appears twice";
    }
    inserted[*a] = true;
  }
  SmallVector<int64_t> shape;
  size_t next = 0;
  for (int64_t d = 0; d < rank; ++d) {
    shape.push_back(inserted[d] ? 1 : in[next++]);
  }
  return one(reshape(n, n.input(0), shape));
}

Results convertSqueeze(NodeContext &n) {
  if (failed(requireInputs(n, 1))) {
    return failure();
  }
  FailureOr<std::vector<int64_t>> axes = axesOf(n, 13, 1);
  if (failed(axes)) {
    return failure();
  }
  ArrayRef<int64_t> in = shapeOf(n.input(0));
  SmallVector<bool> removed(in.size(), false);
  for (int64_t axis : *axes) {
    FailureOr<int64_t> a = normalizeAxis(n, axis, in.size());
    if (failed(a)) {
      return failure();
    }
    if (in[*a] != 1) {
      return n.error() << "cannot squeeze dimension " << axis << " of size "
                       << in[*a];
    }
    removed[*a] = true;
  }
  SmallVector<int64_t> shape;
  for (auto [d, size] : llvm::enumerate(in)) {
    bool drop = axes->empty() ? size == 1 : removed[d];
    if (!drop) {
      shape.push_back(size);
    }
  }
  return one(reshape(n, n.input(0), shape));
}

Results convertFlatten(NodeContext &n) {
  if (failed(requireInputs(n, 1))) {
    return failure();
  }
  ArrayRef<int64_t> in = shapeOf(n.input(0));
  int64_t axis = n.intAttr("axis", 1);
  if (axis < 0) {
    axis += in.size();
  }
  if (axis < 0 || axis > static_cast<int64_t>(in.size())) {
    return n.error() << "axis " << n.intAttr("axis", 1) << " is out of range";
  }
  return one(
      reshape(n, n.input(0),
              {product(in.take_front(axis)), product(in.drop_front(axis))}));
}

Results convertConcat(NodeContext &n) {
  if (failed(requireInputs(n, 1))) {
    return failure();
  }
  FailureOr<int64_t> axis =
      normalizeAxis(n, n.intAttr("axis", 0), shapeOf(n.input(0)).size());
  if (failed(axis)) {
    return failure();
  }
  SmallVector<Value> inputs;
  for (Value v : n.inputs) {
    if (v) {
      inputs.push_back(v);
    }
  }
  return one(
      n.importer.create<ConcatOp>(n, inputs, {i64Attr(n, "axis", *axis)}));
}

Results convertGather(NodeContext &n) {
  if (failed(requireInputs(n, 2))) {
    return failure();
  }
  ArrayRef<int64_t> shape = shapeOf(n.input(0));
  FailureOr<int64_t> axis =
      normalizeAxis(n, n.intAttr("axis", 0), shape.size());
  if (failed(axis)) {
    return failure();
  }
  Value indices = n.input(1);
  // Constant indices are checked and made non-negative here, so a bad index
  // in the model is an import error rather than a wrong result.
  if (auto values = constantInts(indices)) {
    for (int64_t &v : *values) {
      if (v < -shape[*axis] || v >= shape[*axis]) {
        return n.error() << "index " << v << " is out of range for dimension "
                         << *axis << " of size " << shape[*axis];
      }
      v = v < 0 ? v + shape[*axis] : v;
    }
    indices = n.importer.constantInts(*values, shapeOf(indices),
                                      tensorType(indices).getElementType());
  }
  return one(n.importer.create<GatherOp>(n, {n.input(0), indices},
                                         {i64Attr(n, "axis", *axis)}));
}

Results convertConstantOfShape(NodeContext &n) {
  if (failed(requireInputs(n, 1))) {
    return failure();
  }
  FailureOr<std::vector<int64_t>> shape = requireConstInts(n, 0, "shape");
  if (failed(shape)) {
    return failure();
  }
  Type elementType = b(n).getF32Type();
  double value = 0.0;
  if (const onnx::AttributeProto *a = n.attr("value")) {
    onnx::TensorProto copy = a->t();
    FailureOr<ElementsAttr> attr = n.importer.tensorAttr(copy, n.loc);
    if (failed(attr)) {
      return failure();
    }
    elementType = attr->getShapedType().getElementType();
    auto values = readAsDouble(*attr);
    if (failed(values) || values->size() != 1) {
      return n.error() << "value must hold one element";
    }
    value = (*values)[0];
  }
  if (!checkedElementCount(*shape)) {
    return n.error() << "the requested shape is negative or impossibly large";
  }
  auto type = RankedTensorType::get(*shape, elementType);
  Attribute element = isa<FloatType>(elementType)
                          ? Attribute(b(n).getFloatAttr(elementType, value))
                          : Attribute(b(n).getIntegerAttr(
                                elementType, static_cast<int64_t>(value)));
  return SmallVector<Value>{
      n.importer.constant(DenseElementsAttr::get(type, element))};
}

Results convertRange(NodeContext &n) {
  if (failed(requireInputs(n, 3))) {
    return failure();
  }
  auto start = constantFloats(n.input(0)), limit = constantFloats(n.input(1)),
       delta = constantFloats(n.input(2));
  if (!start || !limit || !delta || start->size() != 1 || limit->size() != 1 ||
      delta->size() != 1) {
    return n.error() << "start, limit and delta must be scalar constants once "
                        "input shapes are pinned";
  }
  double s = (*start)[0], l = (*limit)[0], d = (*delta)[0];
  if (d == 0) {
    return n.error() << "delta is zero";
  }
  double span = std::ceil((l - s) / d);
  if (!(span <= static_cast<double>(kMaxFoldElements))) {
    return n.error() << "the range from " << s << " to " << l << " by " << d
                     << " is too long to materialize";
  }
  int64_t count = std::max<int64_t>(0, static_cast<int64_t>(span));
  std::vector<double> values;
  for (int64_t i = 0; i < count; ++i) {
    values.push_back(s + i * d);
  }
  auto type =
      RankedTensorType::get({count}, tensorType(n.input(0)).getElementType());
  return SmallVector<Value>{n.importer.constant(makeFromDouble(type, values))};
}

Results convertExpand(NodeContext &n) {
  if (failed(requireInputs(n, 2))) {
    return failure();
  }
  FailureOr<std::vector<int64_t>> target = requireConstInts(n, 1, "shape");
  if (failed(target)) {
    return failure();
  }
  FailureOr<SmallVector<int64_t>> shape =
      nuri::detail::broadcastShapes(shapeOf(n.input(0)), *target);
  if (failed(shape)) {
    return n.error() << "the input does not broadcast to the requested shape";
  }
  auto type =
      RankedTensorType::get(*shape, tensorType(n.input(0)).getElementType());
  return one(n.importer.create<BroadcastToOp>(n, {n.input(0)}, {}, {type}));
}

Results convertTile(NodeContext &n) {
  if (failed(requireInputs(n, 2))) {
    return failure();
  }
  FailureOr<std::vector<int64_t>> repeats = requireConstInts(n, 1, "repeats");
  if (failed(repeats)) {
    return failure();
  }
  ArrayRef<int64_t> in = shapeOf(n.input(0));
  if (repeats->size() != in.size()) {
    return n.error() << "expects " << in.size() << " repeats, got "
                     << repeats->size();
  }
  // [d0, d1] -> [1, d0, 1, d1] -> broadcast [r0, d0, r1, d1] -> [r0*d0, r1*d1]
  SmallVector<int64_t> spread, broadcast, result;
  for (auto [d, r] : llvm::zip(in, *repeats)) {
    spread.append({1, d});
    broadcast.append({r, d});
    result.push_back(r * d);
  }
  FailureOr<Value> x = reshape(n, n.input(0), spread);
  if (failed(x)) {
    return failure();
  }
  auto type =
      RankedTensorType::get(broadcast, tensorType(n.input(0)).getElementType());
  FailureOr<Value> wide = n.importer.create<BroadcastToOp>(n, {*x}, {}, {type});
  if (failed(wide)) {
    return failure();
  }
  return one(reshape(n, *wide, result));
}

Results convertSlice(NodeContext &n) {
  if (failed(requireInputs(n, 1))) {
    return failure();
  }
  ArrayRef<int64_t> shape = shapeOf(n.input(0));
  int64_t rank = shape.size();
  std::vector<int64_t> starts, ends, axes, steps;
  if (n.opset < 10) {
    starts = n.intsAttr("starts").value_or(std::vector<int64_t>{});
    ends = n.intsAttr("ends").value_or(std::vector<int64_t>{});
    axes = n.intsAttr("axes").value_or(std::vector<int64_t>{});
  } else {
    if (failed(requireInputs(n, 3))) {
      return failure();
    }
    auto s = requireConstInts(n, 1, "starts"),
         e = requireConstInts(n, 2, "ends");
    if (failed(s) || failed(e)) {
      return failure();
    }
    starts = *s;
    ends = *e;
    if (n.input(3)) {
      auto a = requireConstInts(n, 3, "axes");
      if (failed(a)) {
        return failure();
      }
      axes = *a;
    }
    if (n.input(4)) {
      auto st = requireConstInts(n, 4, "steps");
      if (failed(st)) {
        return failure();
      }
      steps = *st;
    }
  }
  if (axes.empty()) {
    for (size_t i = 0; i < starts.size(); ++i) {
      axes.push_back(i);
    }
  }
  if (steps.empty()) {
    steps.assign(starts.size(), 1);
  }
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size()) {
    return n.error() << "starts, ends, axes and steps differ in length";
  }
  SmallVector<int64_t> outStarts(rank, 0), limits(shape), outSteps(rank, 1);
  SmallVector<bool> seen(rank, false);
  for (size_t i = 0; i < starts.size(); ++i) {
    FailureOr<int64_t> axis = normalizeAxis(n, axes[i], rank);
    if (failed(axis)) {
      return failure();
    }
    if (seen[*axis]) {
      return n.error() << "axis " << axes[i] << " is sliced twice";
    }
    seen[*axis] = true;
    int64_t dim = shape[*axis], step = steps[i];
    if (step == 0) {
      return n.error() << "step of axis " << axes[i] << " is zero";
    }
    // ONNX clamping rules; exporters write INT64_MAX/MIN for "to the end".
    auto wrap = [dim](int64_t v) {
      return v < 0 ? (v < -dim ? -dim - 1 : v) + dim : v;
    };
    int64_t start = wrap(starts[i]), end = wrap(ends[i]);
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
    } else {
      start = std::clamp<int64_t>(start, -1, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
    }
    outStarts[*axis] = start;
    limits[*axis] = end;
    outSteps[*axis] = step;
  }
  return one(n.importer.create<SliceOp>(n, {n.input(0)},
                                        {arrayAttr(n, "starts", outStarts),
                                         arrayAttr(n, "limits", limits),
                                         arrayAttr(n, "steps", outSteps)}));
}

Results convertSplit(NodeContext &n) {
  if (failed(requireInputs(n, 1))) {
    return failure();
  }
  ArrayRef<int64_t> shape = shapeOf(n.input(0));
  FailureOr<int64_t> axis =
      normalizeAxis(n, n.intAttr("axis", 0), shape.size());
  if (failed(axis)) {
    return failure();
  }
  std::vector<int64_t> sizes;
  if (n.opset < 13) {
    sizes = n.intsAttr("split").value_or(std::vector<int64_t>{});
  } else if (n.input(1)) {
    auto s = requireConstInts(n, 1, "split sizes");
    if (failed(s)) {
      return failure();
    }
    sizes = *s;
  }
  if (sizes.empty()) {
    int64_t parts = n.opset >= 18 && n.attr("num_outputs")
                        ? n.intAttr("num_outputs", 1)
                        : n.node.output_size();
    if (parts < 1) {
      return n.error() << "cannot split into " << parts << " parts";
    }
    int64_t dim = shape[*axis];
    int64_t chunk = (dim + parts - 1) / parts;
    if (n.opset < 18 && dim % parts) {
      return n.error() << "dimension " << *axis << " of size " << dim
                       << " does not split evenly into " << parts;
    }
    for (int64_t i = 0; i < parts; ++i) {
      sizes.push_back(std::max<int64_t>(0, std::min(chunk, dim - i * chunk)));
    }
  }
  return n.importer.createAll<SplitOp>(
      n, {n.input(0)},
      {i64Attr(n, "axis", *axis), arrayAttr(n, "sizes", sizes)});
}

Results convertTranspose(NodeContext &n) {
  if (failed(requireInputs(n, 1))) {
    return failure();
  }
  int64_t rank = shapeOf(n.input(0)).size();
  std::vector<int64_t> perm =
      n.intsAttr("perm").value_or(std::vector<int64_t>{});
  if (perm.empty()) {
    for (int64_t i = rank - 1; i >= 0; --i) {
      perm.push_back(i);
    }
  }
  return one(n.importer.create<TransposeOp>(
      n, {n.input(0)}, {arrayAttr(n, "permutation", perm)}));
}

Results convertWhere(NodeContext &n) {
  if (failed(requireInputs(n, 3))) {
    return failure();
  }
  return one(
      n.importer.create<WhereOp>(n, {n.input(0), n.input(1), n.input(2)}));
}

Results convertTrilu(NodeContext &n) {
  if (failed(requireInputs(n, 1))) {
    return failure();
  }
  ArrayRef<int64_t> shape = shapeOf(n.input(0));
  if (shape.size() < 2) {
    return n.error() << "expects rank >= 2";
  }
  int64_t k = 0;
  if (n.input(1)) {
    auto kv = requireConstInts(n, 1, "diagonal offset k");
    if (failed(kv)) {
      return failure();
    }
    k = (*kv)[0];
  }
  bool upper = n.intAttr("upper", 1) != 0;
  int64_t rows = shape[shape.size() - 2], cols = shape.back();
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      keep.push_back(upper ? j - i >= k : j - i <= k);
    }
  }
  Value mask = n.importer.constantInts(keep, {rows, cols}, b(n).getI1Type());
  Value zero = n.importer.scalar(0, tensorType(n.input(0)).getElementType());
  return one(n.importer.create<WhereOp>(n, {mask, n.input(0), zero}));
}

Results convertEyeLike(NodeContext &n) {
  if (failed(requireInputs(n, 1))) {
    return failure();
  }
  ArrayRef<int64_t> shape = shapeOf(n.input(0));
  if (shape.size() != 2) {
    return n.error() << "expects a 2-D input";
  }
  Type elementType = tensorType(n.input(0)).getElementType();
  if (const onnx::AttributeProto *dtype = n.attr("dtype")) {
    FailureOr<Type> t = n.importer.elementType(dtype->i(), n.loc);
    if (failed(t)) {
      return failure();
    }
    elementType = *t;
  }
  int64_t k = n.intAttr("k", 0);
  std::vector<int64_t> values;
  for (int64_t i = 0; i < shape[0]; ++i) {
    for (int64_t j = 0; j < shape[1]; ++j) {
      values.push_back(j - i == k);
    }
  }
  return SmallVector<Value>{
      n.importer.constantInts(values, shape, elementType)};
}

Results convertIf(NodeContext &n) {
  if (failed(requireInputs(n, 1))) {
    return failure();
  }
  // Exporters emit If for checks that are static once shapes are pinned;
  // the taken branch is inlined.
  std::optional<std::vector<int64_t>> condition = constantInts(n.input(0));
  if (!condition || condition->size() != 1) {
    return n.error() << "the condition must be a constant once input shapes "
                        "are pinned (data-dependent control flow is not "
                        "supported)";
  }
  const onnx::AttributeProto *branch =
      n.attr((*condition)[0] ? "then_branch" : "else_branch");
  if (!branch || !branch->has_g()) {
    return n.error() << "has no branch graph";
  }
  return n.importer.importSubgraph(branch->g());
}

//===----------------------------------------------------------------------===//
// Linear algebra and normalization
//===----------------------------------------------------------------------===//

Results convertMatMul(NodeContext &n) {
  if (failed(requireInputs(n, 2))) {
    return failure();
  }
  Value lhs = n.input(0), rhs = n.input(1);
  // numpy semantics for 1-D operands: promote, multiply, drop the dim.
  bool lhsVector = shapeOf(lhs).size() == 1,
       rhsVector = shapeOf(rhs).size() == 1;
  bool ok = true;
  if (lhsVector) {
    lhs = reshapeValue(n, lhs, {1, shapeOf(lhs)[0]}, ok);
  }
  if (rhsVector) {
    rhs = reshapeValue(n, rhs, {shapeOf(rhs)[0], 1}, ok);
  }
  if (!ok) {
    return failure();
  }
  FailureOr<Value> product = n.importer.create<MatmulOp>(n, {lhs, rhs});
  if (failed(product) || (!lhsVector && !rhsVector)) {
    return one(product);
  }
  SmallVector<int64_t> shape(shapeOf(*product));
  if (rhsVector) {
    shape.pop_back();
  }
  if (lhsVector) {
    shape.erase(shape.end() - (rhsVector ? 1 : 2));
  }
  return one(reshape(n, *product, shape));
}

Results convertGemm(NodeContext &n) {
  if (failed(requireInputs(n, 2))) {
    return failure();
  }
  SmallVector<NamedAttribute> attrs;
  if (n.intAttr("transA", 0)) {
    attrs.push_back(named(n, "transpose_lhs", b(n).getUnitAttr()));
  }
  if (n.intAttr("transB", 0)) {
    attrs.push_back(named(n, "transpose_rhs", b(n).getUnitAttr()));
  }
  FailureOr<Value> y =
      n.importer.create<MatmulOp>(n, {n.input(0), n.input(1)}, attrs);
  if (failed(y)) {
    return failure();
  }
  Type elementType = tensorType(*y).getElementType();
  float alpha = n.floatAttr("alpha", 1.0f), beta = n.floatAttr("beta", 1.0f);
  if (alpha != 1.0f) {
    y = n.importer.create<MulOp>(n,
                                 {*y, n.importer.scalar(alpha, elementType)});
    if (failed(y)) {
      return failure();
    }
  }
  if (Value c = n.input(2); c && beta != 0.0f) {
    if (beta != 1.0f) {
      FailureOr<Value> scaled = n.importer.create<MulOp>(
          n, {c, n.importer.scalar(beta, elementType)});
      if (failed(scaled)) {
        return failure();
      }
      c = *scaled;
    }
    y = n.importer.create<AddOp>(n, {*y, c});
  }
  return one(y);
}

Results convertConv(NodeContext &n) {
  if (failed(requireInputs(n, 2))) {
    return failure();
  }
  ArrayRef<int64_t> in = shapeOf(n.input(0)), w = shapeOf(n.input(1));
  int64_t spatial = static_cast<int64_t>(in.size()) - 2;
  if (spatial < 1 || w.size() != in.size()) {
    return n.error() << "expects input and weight of the same rank >= 3";
  }
  std::vector<int64_t> strides =
      n.intsAttr("strides").value_or(std::vector<int64_t>(spatial, 1));
  std::vector<int64_t> dilations =
      n.intsAttr("dilations").value_or(std::vector<int64_t>(spatial, 1));
  std::vector<int64_t> pads =
      n.intsAttr("pads").value_or(std::vector<int64_t>(2 * spatial, 0));
  if (static_cast<int64_t>(strides.size()) != spatial ||
      static_cast<int64_t>(dilations.size()) != spatial ||
      static_cast<int64_t>(pads.size()) != 2 * spatial) {
    return n.error() << "strides, dilations or pads do not match " << spatial
                     << " spatial dimensions";
  }
  std::string autoPad = n.stringAttr("auto_pad", "NOTSET");
  if (autoPad == "VALID") {
    pads.assign(2 * spatial, 0);
  } else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    for (int64_t i = 0; i < spatial; ++i) {
      int64_t out = (in[2 + i] + strides[i] - 1) / strides[i];
      int64_t kernel = (w[2 + i] - 1) * dilations[i] + 1;
      int64_t total =
          std::max<int64_t>(0, (out - 1) * strides[i] + kernel - in[2 + i]);
      int64_t small = total / 2, large = total - small;
      pads[i] = autoPad == "SAME_UPPER" ? small : large;
      pads[i + spatial] = autoPad == "SAME_UPPER" ? large : small;
    }
  } else if (autoPad != "NOTSET") {
    return n.error() << "unknown auto_pad '" << autoPad << "'";
  }
  SmallVector<Value> operands = {n.input(0), n.input(1)};
  if (n.input(2)) {
    operands.push_back(n.input(2));
  }
  return one(n.importer.create<ConvOp>(
      n, operands,
      {arrayAttr(n, "strides", strides), arrayAttr(n, "pads", pads),
       arrayAttr(n, "dilations", dilations),
       i64Attr(n, "group", n.intAttr("group", 1))}));
}

Results convertSoftmax(NodeContext &n) {
  if (failed(requireInputs(n, 1))) {
    return failure();
  }
  bool isLog = n.node.op_type() == "LogSoftmax";
  ArrayRef<int64_t> shape = shapeOf(n.input(0));
  int64_t rank = shape.size();
  FailureOr<int64_t> axis =
      normalizeAxis(n, n.intAttr("axis", n.opset < 13 ? 1 : -1), rank);
  if (failed(axis)) {
    return failure();
  }
  SmallVector<NamedAttribute> attrs;
  if (isLog) {
    attrs.push_back(named(n, "log", b(n).getUnitAttr()));
  }
  // Before opset 13, softmax normalizes over all dims from `axis` on.
  if (n.opset < 13 && *axis != rank - 1) {
    FailureOr<Value> flat = reshape(
        n, n.input(0),
        {product(shape.take_front(*axis)), product(shape.drop_front(*axis))});
    if (failed(flat)) {
      return failure();
    }
    attrs.push_back(i64Attr(n, "axis", 1));
    FailureOr<Value> y = n.importer.create<SoftmaxOp>(n, {*flat}, attrs);
    if (failed(y)) {
      return failure();
    }
    return one(reshape(n, *y, shape));
  }
  attrs.push_back(i64Attr(n, "axis", *axis));
  return one(n.importer.create<SoftmaxOp>(n, {n.input(0)}, attrs));
}

Results convertLayerNormalization(NodeContext &n) {
  if (failed(requireInputs(n, 2))) {
    return failure();
  }
  FailureOr<int64_t> axis =
      normalizeAxis(n, n.intAttr("axis", -1), shapeOf(n.input(0)).size());
  if (failed(axis)) {
    return failure();
  }
  SmallVector<Value> operands = {n.input(0), n.input(1)};
  if (n.input(2)) {
    operands.push_back(n.input(2));
  }
  float epsilon = n.floatAttr("epsilon", 1e-5f);
  FailureOr<Value> y = n.importer.create<LayerNormOp>(
      n, operands,
      {i64Attr(n, "axis", *axis),
       named(n, "epsilon", b(n).getF32FloatAttr(epsilon))});
  if (failed(y) || n.node.output_size() < 2) {
    return one(y);
  }
  // Training outputs: the mean and 1/stddev over the normalized dims, kept
  // as separate reductions (inference graphs rarely read them).
  Value x = n.input(0);
  SmallVector<int64_t> axes;
  for (int64_t d = *axis; d < static_cast<int64_t>(shapeOf(x).size()); ++d) {
    axes.push_back(d);
  }
  SmallVector<NamedAttribute> reduceAttrs = {
      arrayAttr(n, "axes", axes), named(n, "keep_dims", b(n).getUnitAttr())};
  FailureOr<Value> mean = n.importer.create<ReduceMeanOp>(n, {x}, reduceAttrs);
  if (failed(mean)) {
    return failure();
  }
  FailureOr<Value> centered = n.importer.create<SubOp>(n, {x, *mean});
  FailureOr<Value> squared =
      failed(centered) ? centered
                       : n.importer.create<MulOp>(n, {*centered, *centered});
  FailureOr<Value> variance =
      failed(squared)
          ? squared
          : n.importer.create<ReduceMeanOp>(n, {*squared}, reduceAttrs);
  Type elementType = tensorType(x).getElementType();
  FailureOr<Value> shifted =
      failed(variance)
          ? variance
          : n.importer.create<AddOp>(
                n, {*variance, n.importer.scalar(epsilon, elementType)});
  FailureOr<Value> invStd =
      failed(shifted) ? shifted : n.importer.create<RsqrtOp>(n, {*shifted});
  if (failed(invStd)) {
    return failure();
  }
  return SmallVector<Value>{*y, *mean, *invStd};
}

template <typename OpTy> Results reduce(NodeContext &n) {
  if (failed(requireInputs(n, 1))) {
    return failure();
  }
  // Axes moved from attribute to input at opset 13 (ReduceSum) and 18
  // (the others).
  int inputFrom = std::is_same_v<OpTy, ReduceSumOp> ? 13 : 18;
  FailureOr<std::vector<int64_t>> axes = axesOf(n, inputFrom, 1);
  if (failed(axes)) {
    return failure();
  }
  int64_t rank = shapeOf(n.input(0)).size();
  bool keepDims = n.intAttr("keepdims", 1) != 0;
  if (axes->empty()) {
    if (n.intAttr("noop_with_empty_axes", 0)) {
      return SmallVector<Value>{n.input(0)};
    }
    for (int64_t d = 0; d < rank; ++d) {
      axes->push_back(d);
    }
  }
  for (int64_t &axis : *axes) {
    FailureOr<int64_t> a = normalizeAxis(n, axis, rank);
    if (failed(a)) {
      return failure();
    }
    axis = *a;
  }
  llvm::sort(*axes);
  axes->erase(std::unique(axes->begin(), axes->end()), axes->end());
  SmallVector<NamedAttribute> attrs = {arrayAttr(n, "axes", *axes)};
  if (keepDims) {
    attrs.push_back(named(n, "keep_dims", b(n).getUnitAttr()));
  }
  return one(n.importer.create<OpTy>(n, {n.input(0)}, attrs));
}

// The types Nuri quantizes to: int8 and uint8 (int4/uint4 initializers
// arrive widened to them), float8 e4m3fn (opset 19), plus int32 where ONNX
// dequantizes a bias. The other float8 formats and int16 are refused by name
// rather than by a type-constraint message.
bool isQuantType(Type type, bool allowI32) {
  if (isa<Float8E4M3FNType>(type)) {
    return true;
  }
  auto integer = dyn_cast<IntegerType>(type);
  return integer && !integer.isSigned() &&
         (integer.getWidth() == 8 ||
          (allowI32 && integer.getWidth() == 32 && integer.isSignless()));
}

LogicalResult requireQuantType(NodeContext &n, Value value, StringRef what,
                               bool allowI32) {
  Type type = tensorType(value).getElementType();
  if (isQuantType(type, allowI32)) {
    return success();
  }
  return n.error() << what << " has quantized type " << type
                   << ", which is not supported (int8, uint8, int4, uint4, "
                   << "float8e4m3fn" << (allowI32 ? ", int32" : "") << ")";
}

// ONNX's zero point must have its quantized operand's type; say so at the
// node instead of leaving it to the op's verifier.
LogicalResult requireZeroPointType(NodeContext &n, Value zeroPoint,
                                   Type expected, StringRef what) {
  Type type = tensorType(zeroPoint).getElementType();
  if (type == expected) {
    return success();
  }
  return n.error() << what << " zero point has type " << type
                   << ", its operand " << expected;
}

// A blocked DequantizeLinear (opset 21's block_size): a constant 2-D weight
// whose scales (and zero points) change every `block` values along `axis`.
// It becomes nuri.dequantize_blocked, the layout of MatMulNBits and of
// --quantize w4a16 (blocks along K of a [K, N] result), transposed back when
// the blocks run along axis 1. The values are stored in 4 bits when they and
// the zero points fit (int4/uint4 weights, widened on import), else in 8.
Results convertBlockedDequantize(NodeContext &n, int64_t block) {
  Importer &im = n.importer;
  OpBuilder &b = im.builder;
  Value x = n.input(0), scale = n.input(1), zp = n.input(2);
  ArrayRef<int64_t> shape = shapeOf(x);
  std::optional<std::vector<int64_t>> q = constantInts(x);
  if (shape.size() != 2 || !q) {
    return n.error() << "blocked dequantization (block_size " << block
                     << ") is supported for a constant 2-D input (a weight), "
                        "got "
                     << (q ? "" : "a non-constant ") << tensorType(x);
  }
  FailureOr<int64_t> axisOr = normalizeAxis(n, n.intAttr("axis", 1), 2);
  if (failed(axisOr)) {
    return failure();
  }
  int64_t axis = *axisOr, k = shape[axis], cols = shape[1 - axis];
  if (block < 16 || (block & (block - 1))) {
    return n.error() << "block_size " << block
                     << " is not supported (a power of two of at least 16)";
  }
  int64_t blocks = (k + block - 1) / block;
  SmallVector<int64_t> scaleShape(shape);
  scaleShape[axis] = blocks;
  std::optional<std::vector<double>> scales = constantFloats(scale);
  if (shapeOf(scale) != ArrayRef<int64_t>(scaleShape) || !scales ||
      !tensorType(scale).getElementType().isF32()) {
    return n.error() << "the scale must be a constant float32 tensor of "
                        "shape ["
                     << scaleShape[0] << ", " << scaleShape[1]
                     << "] (the input's, with ceil(" << k << " / " << block
                     << ") along axis " << axis << "), got "
                     << tensorType(scale);
  }
  Type qType = tensorType(x).getElementType();
  if (!isa<IntegerType>(qType) || !isQuantType(qType, false)) {
    return n.error() << "blocked dequantization of " << qType
                     << " is not supported (int8, uint8, int4, uint4)";
  }
  std::optional<std::vector<int64_t>> zeros;
  if (zp) {
    zeros = constantInts(zp);
    if (failed(requireZeroPointType(n, zp, qType, "the")) || !zeros ||
        shapeOf(zp) != ArrayRef<int64_t>(scaleShape)) {
      return zeros ? failure()
                   : (n.error() << "the zero point must be a constant of the "
                                   "scale's shape");
    }
  }
  // dequantize_blocked stores unsigned values; a signed value v is v + 2^(bits
  // - 1), its zero point likewise, and an absent signed zero point is that
  // offset, which is the op's default.
  bool isSigned = !qType.isUnsignedInteger();
  auto fits4 = [&](const std::vector<int64_t> &v) {
    return llvm::all_of(v, [&](int64_t e) {
      return isSigned ? (e >= -8 && e <= 7) : (e >= 0 && e <= 15);
    });
  };
  int64_t bits = fits4(*q) && (!zeros || fits4(*zeros)) ? 4 : 8;
  int64_t offset = isSigned ? int64_t(1) << (bits - 1) : 0;
  auto at = [&](const auto &v, int64_t col, int64_t kk, int64_t width) {
    return axis == 0 ? v[size_t(kk * cols + col)] : v[size_t(col * width + kk)];
  };
  auto pack = [&](std::vector<uint8_t> &out, size_t index, int64_t value) {
    if (bits == 8) {
      out[index] = uint8_t(value);
    } else {
      out[index / 2] |= uint8_t((value & 0xF) << (4 * (index % 2)));
    }
  };
  int64_t rowBytes = block * bits / 8;
  std::vector<uint8_t> packed(size_t(cols * blocks * rowBytes), 0);
  std::vector<double> blockScales(size_t(cols * blocks));
  int64_t zpBytes = (blocks * bits + 7) / 8;
  std::vector<uint8_t> packedZeros(size_t(cols * zpBytes), 0);
  for (int64_t c = 0; c < cols; ++c) {
    for (int64_t kk = 0; kk < blocks * block; ++kk) {
      // Padding past K dequantizes to zero: it takes the zero point.
      int64_t zero = zeros ? at(*zeros, c, kk / block, blocks) : 0;
      int64_t v = kk < k ? at(*q, c, kk, k) : zero;
      pack(packed, size_t(c * blocks * block + kk), v + offset);
    }
    for (int64_t blk = 0; blk < blocks; ++blk) {
      blockScales[size_t(c * blocks + blk)] = at(*scales, c, blk, blocks);
      int64_t zero = zeros ? at(*zeros, c, blk, blocks) : 0;
      pack(packedZeros, size_t(c * zpBytes * 8 / bits + blk), zero + offset);
    }
  }
  auto u8 = IntegerType::get(&im.context, 8, IntegerType::Unsigned);
  auto bytesAttr = [&](ArrayRef<int64_t> dims,
                       const std::vector<uint8_t> &data) {
    return im.constant(DenseElementsAttr::getFromRawBuffer(
        RankedTensorType::get(dims, u8),
        ArrayRef<char>(reinterpret_cast<const char *>(data.data()),
                       data.size())));
  };
  SmallVector<Value> operands = {
      bytesAttr({cols, blocks, rowBytes}, packed),
      im.constant(makeFromDouble(
          RankedTensorType::get({cols, blocks}, b.getF32Type()), blockScales))};
  // An unsigned weight without zero points has zero, not the op's default.
  if (zeros || !isSigned) {
    operands.push_back(bytesAttr({cols, zpBytes}, packedZeros));
  }
  FailureOr<Value> weight = im.create<DequantizeBlockedOp>(
      n, operands,
      {b.getNamedAttr("bits", b.getI64IntegerAttr(bits)),
       b.getNamedAttr("block_size", b.getI64IntegerAttr(block))},
      {RankedTensorType::get({k, cols}, b.getF32Type())});
  if (failed(weight) || axis == 0) {
    return failed(weight) ? Results(failure()) : one(weight);
  }
  return one(im.create<TransposeOp>(
      n, {*weight},
      {b.getNamedAttr("permutation", b.getDenseI64ArrayAttr({1, 0}))},
      {RankedTensorType::get({cols, k}, b.getF32Type())}));
}

// float8e4m3fn's zero point is +0 by definition; Nuri's ops take none, so
// a given one must be a constant zero.
LogicalResult dropFloat8ZeroPoint(NodeContext &n,
                                  SmallVector<Value> &operands) {
  if (operands.size() < 3) {
    return success();
  }
  std::optional<std::vector<double>> zero = constantFloats(operands[2]);
  if (!zero || llvm::any_of(*zero, [](double v) { return v != 0.0; })) {
    return n.error() << "a float8e4m3fn zero point must be a constant 0";
  }
  operands.pop_back();
  return success();
}

// QuantizeLinear(x, scale, zero_point?) and DequantizeLinear(x, scale,
// zero_point?): same operands and axis; the result type differs.
template <typename OpTy> Results convertAffineQuant(NodeContext &n) {
  constexpr bool isQuantize = std::is_same_v<OpTy, QuantizeOp>;
  if (failed(requireInputs(n, 2))) {
    return failure();
  }
  if (int64_t block = n.intAttr("block_size", 0); block != 0) {
    if constexpr (!isQuantize) {
      return convertBlockedDequantize(n, block);
    }
    return n.error() << "blocked quantization (block_size " << block
                     << ") is not supported";
  }
  SmallVector<Value> operands = {n.input(0), n.input(1)};
  if (n.input(2)) {
    operands.push_back(n.input(2));
  }
  int64_t rank = shapeOf(n.input(0)).size();
  int64_t axis = n.intAttr("axis", 1);
  axis = axis < 0 ? axis + rank : axis;
  Type elementType;
  if constexpr (isQuantize) {
    // The zero point's type picks the integer type; ONNX's default is u8
    // unless opset 21's output_dtype names another.
    if (n.input(2)) {
      elementType = tensorType(n.input(2)).getElementType();
    } else if (int64_t dtype = n.intAttr("output_dtype", 0); dtype != 0) {
      elementType = n.importer.elementTypeOrNull(static_cast<int32_t>(dtype));
      if (!elementType) {
        return n.error() << "output_dtype " << dtype
                         << " is not supported (int8, uint8, float8e4m3fn)";
      }
    } else {
      elementType =
          IntegerType::get(&n.importer.context, 8, IntegerType::Unsigned);
    }
    // A 4-bit zero point arrives widened to 8 bits, but quantizing to 4 bits
    // saturates at [-8, 7]: refused rather than computed in 8.
    if (n.input(2) && n.importer.isWidened4Bit(n.input(2))) {
      return n.error() << "quantizing to int4/uint4 is not supported (only "
                          "dequantizing 4-bit weights)";
    }
    if (!isQuantType(elementType, false)) {
      return n.error() << "quantized type " << elementType
                       << " is not supported (int8, uint8, float8e4m3fn)";
    }
    if (isa<Float8E4M3FNType>(elementType) && n.intAttr("saturate", 1) == 0) {
      return n.error() << "saturate=0 is not supported (float8e4m3fn "
                          "quantization saturates to +-448)";
    }
  } else {
    if (failed(requireQuantType(n, n.input(0), "the input", true)) ||
        (n.input(2) &&
         failed(requireZeroPointType(
             n, n.input(2), tensorType(n.input(0)).getElementType(), "the")))) {
      return failure();
    }
    elementType = tensorType(n.input(1)).getElementType();
  }
  Type quantized =
      isQuantize ? elementType : tensorType(n.input(0)).getElementType();
  if (isa<Float8E4M3FNType>(quantized) &&
      failed(dropFloat8ZeroPoint(n, operands))) {
    return failure();
  }
  auto type = RankedTensorType::get(shapeOf(n.input(0)), elementType);
  return one(
      n.importer.create<OpTy>(n, operands, {i64Attr(n, "axis", axis)}, {type}));
}

// The zero point of quantized operand `i`, or a zero of its type when ONNX
// leaves it out (the op takes it explicitly).
FailureOr<Value> zeroPointOf(NodeContext &n, size_t zpIndex, Value operand,
                             StringRef what) {
  Type type = tensorType(operand).getElementType();
  if (Value zp = n.input(zpIndex)) {
    if (failed(requireZeroPointType(n, zp, type, what))) {
      return failure();
    }
    return zp;
  }
  return n.importer.constantInts({0}, {}, type);
}

LogicalResult requireMatrices(NodeContext &n, Value a, Value b) {
  if (shapeOf(a).size() < 2 || shapeOf(b).size() < 2) {
    return n.error() << "operands of rank " << shapeOf(a).size() << " and "
                     << shapeOf(b).size()
                     << " are not supported (both need rank >= 2)";
  }
  return success();
}

SmallVector<NamedAttribute> segments(NodeContext &n, ArrayRef<int32_t> sizes) {
  return {named(n, "operandSegmentSizes",
                DenseI32ArrayAttr::get(&n.importer.context, sizes))};
}

// MatMulInteger(A, B, a_zero_point?, b_zero_point?) -> int32.
Results convertMatMulInteger(NodeContext &n) {
  if (failed(requireInputs(n, 2)) ||
      failed(requireQuantType(n, n.input(0), "A", false)) ||
      failed(requireQuantType(n, n.input(1), "B", false)) ||
      failed(requireMatrices(n, n.input(0), n.input(1)))) {
    return failure();
  }
  FailureOr<Value> azp = zeroPointOf(n, 2, n.input(0), "A's");
  FailureOr<Value> bzp = zeroPointOf(n, 3, n.input(1), "B's");
  if (failed(azp) || failed(bzp)) {
    return failure();
  }
  SmallVector<Type> inferred;
  if (failed(nuri::detail::inferMatmul(
          n.loc, tensorType(n.input(0)),
          RankedTensorType::get(shapeOf(n.input(1)),
                                tensorType(n.input(0)).getElementType()),
          false, false, inferred))) {
    return failure();
  }
  auto type =
      RankedTensorType::get(cast<RankedTensorType>(inferred[0]).getShape(),
                            IntegerType::get(&n.importer.context, 32));
  return one(n.importer.create<QuantizedMatmulOp>(
      n, {n.input(0), n.input(1), *azp, *bzp},
      segments(n, {1, 1, 1, 1, 0, 0, 0, 0}), {type}));
}

// QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp).
Results convertQLinearMatMul(NodeContext &n) {
  for (size_t i : {0, 1, 3, 4, 6}) {
    if (!n.input(i)) {
      return n.error() << "input " << i << " is missing";
    }
  }
  Value a = n.input(0), b = n.input(3);
  if (failed(requireQuantType(n, a, "a", false)) ||
      failed(requireQuantType(n, b, "b", false)) ||
      failed(requireMatrices(n, a, b))) {
    return failure();
  }
  FailureOr<Value> azp = zeroPointOf(n, 2, a, "a's");
  FailureOr<Value> bzp = zeroPointOf(n, 5, b, "b's");
  if (failed(azp) || failed(bzp)) {
    return failure();
  }
  // The output type is y_zero_point's; uint8 when it is absent.
  Type yType = n.input(7) ? tensorType(n.input(7)).getElementType()
                          : Type(IntegerType::get(&n.importer.context, 8,
                                                  IntegerType::Unsigned));
  if (!isQuantType(yType, false)) {
    return n.error() << "y has quantized type " << yType
                     << ", which is not supported (int8, uint8)";
  }
  Value yzp = n.input(7) ? n.input(7) : n.importer.constantInts({0}, {}, yType);
  SmallVector<Type> inferred;
  if (failed(nuri::detail::inferMatmul(
          n.loc, tensorType(a),
          RankedTensorType::get(shapeOf(b), tensorType(a).getElementType()),
          false, false, inferred))) {
    return failure();
  }
  auto type = RankedTensorType::get(
      cast<RankedTensorType>(inferred[0]).getShape(), yType);
  return one(n.importer.create<QuantizedMatmulOp>(
      n, {a, b, *azp, *bzp, n.input(1), n.input(4), n.input(6), yzp},
      segments(n, {1, 1, 1, 1, 1, 1, 1, 1}), {type}));
}

// DynamicQuantizeLinear(x) -> y (uint8), y_scale, y_zero_point.
Results convertDynamicQuantizeLinear(NodeContext &n) {
  if (failed(requireInputs(n, 1))) {
    return failure();
  }
  MLIRContext *ctx = &n.importer.context;
  Type u8 = IntegerType::get(ctx, 8, IntegerType::Unsigned);
  Type f32 = Float32Type::get(ctx);
  if (tensorType(n.input(0)).getElementType() != f32) {
    return n.error() << "expects a f32 input, got "
                     << tensorType(n.input(0)).getElementType();
  }
  return n.importer.createAll<DynamicQuantizeOp>(
      n, {n.input(0)}, {},
      {RankedTensorType::get(shapeOf(n.input(0)), u8),
       RankedTensorType::get({}, f32), RankedTensorType::get({}, u8)});
}
} // namespace

const llvm::StringMap<Converter> &onnx_import::defaultDomainConverters() {
  static const llvm::StringMap<Converter> table = {
      {"Abs", unary<AbsOp>},
      {"Add", binary<AddOp>},
      {"And", binary<AndOp>},
      {"Cast", convertCast},
      {"CastLike", convertCastLike},
      {"Ceil", unary<CeilOp>},
      {"Clip", convertClip},
      {"Concat", convertConcat},
      {"Constant", convertConstant},
      {"ConstantOfShape", convertConstantOfShape},
      {"Conv", convertConv},
      {"Cos", unary<CosOp>},
      {"DequantizeLinear", convertAffineQuant<DequantizeOp>},
      {"Div", binary<DivOp>},
      {"Dropout", convertDropout},
      {"DynamicQuantizeLinear", convertDynamicQuantizeLinear},
      {"Equal", compare<ComparePredicate::EQ>},
      {"Erf", unary<ErfOp>},
      {"Exp", unary<ExpOp>},
      {"Expand", convertExpand},
      {"EyeLike", convertEyeLike},
      {"Flatten", convertFlatten},
      {"Floor", unary<FloorOp>},
      {"Gather", convertGather},
      {"Gelu", convertGelu},
      {"Gemm", convertGemm},
      {"Greater", compare<ComparePredicate::GT>},
      {"GreaterOrEqual", compare<ComparePredicate::GE>},
      {"Identity", convertIdentity},
      {"If", convertIf},
      {"LayerNormalization", convertLayerNormalization},
      {"Less", compare<ComparePredicate::LT>},
      {"LessOrEqual", compare<ComparePredicate::LE>},
      {"Log", unary<LogOp>},
      {"LogSoftmax", convertSoftmax},
      {"MatMul", convertMatMul},
      {"MatMulInteger", convertMatMulInteger},
      {"Max", variadic<MaxOp>},
      {"Mean", convertMean},
      {"Min", variadic<MinOp>},
      {"Mod", binary<ModOp>},
      {"Mul", binary<MulOp>},
      {"Neg", unary<NegOp>},
      {"Not", unary<NotOp>},
      {"Or", binary<OrOp>},
      {"Pow", convertPow},
      {"QLinearMatMul", convertQLinearMatMul},
      {"QuantizeLinear", convertAffineQuant<QuantizeOp>},
      {"Range", convertRange},
      {"Reciprocal", unary<ReciprocalOp>},
      {"ReduceMax", reduce<ReduceMaxOp>},
      {"ReduceMean", reduce<ReduceMeanOp>},
      {"ReduceMin", reduce<ReduceMinOp>},
      {"ReduceProd", reduce<ReduceProdOp>},
      {"ReduceSum", reduce<ReduceSumOp>},
      {"Relu", unary<ReluOp>},
      {"Reshape", convertReshape},
      {"Round", unary<RoundOp>},
      {"Shape", convertShape},
      {"Sigmoid", unary<SigmoidOp>},
      {"Sign", unary<SignOp>},
      {"Sin", unary<SinOp>},
      {"Size", convertSize},
      {"Slice", convertSlice},
      {"Softmax", convertSoftmax},
      {"Split", convertSplit},
      {"Sqrt", unary<SqrtOp>},
      {"Squeeze", convertSqueeze},
      {"Sub", binary<SubOp>},
      {"Sum", variadic<AddOp>},
      {"Tanh", unary<TanhOp>},
      {"Tile", convertTile},
      {"Transpose", convertTranspose},
      {"Trilu", convertTrilu},
      {"Unsqueeze", convertUnsqueeze},
      {"Where", convertWhere},
      {"Xor", binary<XorOp>},
  };
  return table;
}
