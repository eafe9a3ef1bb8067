//===- NuriOps.cpp - Operations of the nuri dialect -----------------------===//
//
// Shape inference, verifiers and folders. Inference functions take an
// optional location: the verifier passes one (so a wrong op gets a precise
// diagnostic), speculative callers may not.
//
//===----------------------------------------------------------------------===//

#include "nuri/Dialect/Nuri/IR/NuriOps.h"
#include "nuri/Dialect/Nuri/IR/ConstantData.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cstring>
#include <functional>

#include <cmath>
#include <numeric>

using namespace mlir;
using namespace nuri;
using namespace nuri::detail;

//===----------------------------------------------------------------------===//
// Shape inference
//===----------------------------------------------------------------------===//

namespace {
// Formats a shape the way MLIR prints it, for diagnostics.
std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s;
  for (int64_t d : shape) {
    s += (s.empty() ? "" : "x") + std::to_string(d);
  }
  return "[" + s + "]";
}

// Formats a list of integers (axes, permutations) for diagnostics.
std::string listString(ArrayRef<int64_t> values) {
  std::string s;
  for (int64_t v : values) {
    s += (s.empty() ? "" : ", ") + std::to_string(v);
  }
  return "[" + s + "]";
}

RankedTensorType ranked(Type type) { return dyn_cast<RankedTensorType>(type); }

bool validAxis(int64_t axis, int64_t rank) { return axis >= 0 && axis < rank; }

// Collects a diagnostic and, when there is a location to report it at,
// emits it as the result turns into failure().
class OptionalDiag {
public:
  explicit OptionalDiag(Loc loc) : loc(loc) {}
  template <typename T> OptionalDiag &operator<<(const T &value) {
    llvm::raw_string_ostream(message) << value;
    return *this;
  }
  operator LogicalResult() const {
    if (loc) {
      mlir::emitError(*loc) << message;
    }
    return failure();
  }

private:
  Loc loc;
  std::string message;
};

OptionalDiag fail(Loc loc, StringRef start) {
  OptionalDiag diag(loc);
  diag << start;
  return diag;
}
} // namespace

FailureOr<SmallVector<int64_t>>
nuri::detail::broadcastShapes(ArrayRef<int64_t> a, ArrayRef<int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  SmallVector<int64_t> result(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      return failure();
    }
    result[i] = da == 1 ? db : da;
  }
  return result;
}

LogicalResult nuri::detail::inferConstant(Loc loc, Attribute value,
                                          Types &inferred) {
  auto typed = dyn_cast_or_null<TypedAttr>(value);
  if (!typed) {
    return fail(loc, "expects a typed elements attribute");
  }
  inferred.push_back(typed.getType());
  return success();
}

LogicalResult nuri::detail::inferBroadcast(Loc loc, ValueRange operands,
                                           bool boolResult, Types &inferred) {
  auto first = ranked(operands[0].getType());
  SmallVector<int64_t> shape(first.getShape());
  for (Value operand : operands.drop_front()) {
    auto type = ranked(operand.getType());
    if (!boolResult && type.getElementType() != first.getElementType()) {
      return fail(loc, "expects operands of one element type, got ")
             << first.getElementType() << " and " << type.getElementType();
    }
    if (boolResult && type.getElementType() != first.getElementType()) {
      return fail(loc, "compares operands of different element "
                       "types ")
             << first.getElementType() << " and " << type.getElementType();
    }
    FailureOr<SmallVector<int64_t>> broadcast =
        broadcastShapes(shape, type.getShape());
    if (failed(broadcast)) {
      return fail(loc, "operand shapes ")
             << shapeString(shape) << " and " << shapeString(type.getShape())
             << " do not broadcast";
    }
    shape = *broadcast;
  }
  Type elementType = boolResult ? IntegerType::get(first.getContext(), 1)
                                : first.getElementType();
  inferred.push_back(RankedTensorType::get(shape, elementType));
  return success();
}

LogicalResult nuri::detail::inferWhere(Loc loc, Value condition, Value onTrue,
                                       Value onFalse, Types &inferred) {
  auto t = ranked(onTrue.getType()), f = ranked(onFalse.getType());
  if (t.getElementType() != f.getElementType()) {
    return fail(loc, "expects both branches of one element type, "
                     "got ")
           << t.getElementType() << " and " << f.getElementType();
  }
  FailureOr<SmallVector<int64_t>> shape =
      broadcastShapes(ranked(condition.getType()).getShape(), t.getShape());
  if (succeeded(shape)) {
    shape = broadcastShapes(*shape, f.getShape());
  }
  if (failed(shape)) {
    return fail(loc, "condition ")
           << shapeString(ranked(condition.getType()).getShape())
           << " and branches " << shapeString(t.getShape()) << ", "
           << shapeString(f.getShape()) << " do not broadcast";
  }
  inferred.push_back(RankedTensorType::get(*shape, t.getElementType()));
  return success();
}

LogicalResult nuri::detail::inferMatmul(Loc loc, Type lhsType, Type rhsType,
                                        bool transposeLhs, bool transposeRhs,
                                        Types &inferred) {
  auto lhs = ranked(lhsType), rhs = ranked(rhsType);
  if (lhs.getRank() < 2 || rhs.getRank() < 2) {
    return fail(loc, "expects operands of rank >= 2, got ")
           << lhs.getRank() << " and " << rhs.getRank();
  }
  if (lhs.getElementType() != rhs.getElementType()) {
    return fail(loc, "expects operands of one element type, got ")
           << lhs.getElementType() << " and " << rhs.getElementType();
  }
  ArrayRef<int64_t> a = lhs.getShape(), b = rhs.getShape();
  int64_t m = a[a.size() - (transposeLhs ? 1 : 2)];
  int64_t ka = a[a.size() - (transposeLhs ? 2 : 1)];
  int64_t kb = b[b.size() - (transposeRhs ? 1 : 2)];
  int64_t n = b[b.size() - (transposeRhs ? 2 : 1)];
  if (ka != kb) {
    return fail(loc, "contracting dimensions differ: ") << ka << " vs " << kb;
  }
  FailureOr<SmallVector<int64_t>> batch =
      broadcastShapes(a.drop_back(2), b.drop_back(2));
  if (failed(batch)) {
    return fail(loc, "batch dimensions ")
           << shapeString(a.drop_back(2)) << " and "
           << shapeString(b.drop_back(2)) << " do not broadcast";
  }
  batch->push_back(m);
  batch->push_back(n);
  inferred.push_back(RankedTensorType::get(*batch, lhs.getElementType()));
  return success();
}

LogicalResult nuri::detail::inferLinear(Loc loc, Type inputType,
                                        Type weightType, Value bias,
                                        Types &inferred) {
  auto input = ranked(inputType), weight = ranked(weightType);
  if (weight.getRank() != 2) {
    return fail(loc, "expects a 2-D [in, out] weight, got rank ")
           << weight.getRank();
  }
  if (input.getRank() < 1 || input.getShape().back() != weight.getDimSize(0)) {
    return fail(loc, "input features ")
           << (input.getRank() ? input.getShape().back() : 0)
           << " do not match weight rows " << weight.getDimSize(0);
  }
  if (input.getElementType() != weight.getElementType()) {
    return fail(loc, "expects input and weight of one element "
                     "type, got ")
           << input.getElementType() << " and " << weight.getElementType();
  }
  if (bias) {
    auto biasType = ranked(bias.getType());
    if (biasType.getElementType() != input.getElementType()) {
      return fail(loc, "expects a bias of element type ")
             << input.getElementType() << ", got " << biasType.getElementType();
    }
    if (biasType.getRank() != 1 ||
        biasType.getDimSize(0) != weight.getDimSize(1)) {
      return fail(loc, "expects a bias of shape [")
             << weight.getDimSize(1) << "], got "
             << shapeString(biasType.getShape());
    }
  }
  SmallVector<int64_t> shape(input.getShape());
  shape.back() = weight.getDimSize(1);
  inferred.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

LogicalResult nuri::detail::inferConv(Loc loc, Type inputType, Type weightType,
                                      Value bias, ArrayRef<int64_t> strides,
                                      ArrayRef<int64_t> pads,
                                      ArrayRef<int64_t> dilations,
                                      IntegerAttr groupAttr, Types &inferred) {
  auto input = ranked(inputType), weight = ranked(weightType);
  int64_t rank = input.getRank();
  int64_t spatial = rank - 2;
  if (rank != 3 && rank != 4) {
    return fail(loc, "supports 1-D and 2-D convolution (input "
                     "rank 3 or 4), got rank ")
           << rank;
  }
  if (weight.getRank() != rank) {
    return fail(loc, "expects a weight of rank ")
           << rank << ", got " << weight.getRank();
  }
  if (static_cast<int64_t>(strides.size()) != spatial ||
      static_cast<int64_t>(dilations.size()) != spatial ||
      static_cast<int64_t>(pads.size()) != 2 * spatial) {
    return fail(loc, "expects ")
           << spatial << " strides, " << spatial << " dilations and "
           << 2 * spatial << " pads, got " << strides.size() << ", "
           << dilations.size() << " and " << pads.size();
  }
  int64_t group = groupAttr ? groupAttr.getInt() : 1;
  int64_t channels = input.getDimSize(1), filters = weight.getDimSize(0);
  if (group < 1 || channels % group || filters % group ||
      weight.getDimSize(1) * group != channels) {
    return fail(loc, "input channels ")
           << channels << " do not match weight channels "
           << weight.getDimSize(1) << " x group " << group;
  }
  if (bias && (ranked(bias.getType()).getRank() != 1 ||
               ranked(bias.getType()).getDimSize(0) != filters)) {
    return fail(loc, "expects a bias of shape [")
           << filters << "], got "
           << shapeString(ranked(bias.getType()).getShape());
  }
  SmallVector<int64_t> shape = {input.getDimSize(0), filters};
  for (int64_t i = 0; i < spatial; ++i) {
    int64_t kernel = (weight.getDimSize(2 + i) - 1) * dilations[i] + 1;
    int64_t padded = input.getDimSize(2 + i) + pads[i] + pads[i + spatial];
    if (strides[i] < 1 || dilations[i] < 1 || padded < kernel) {
      return fail(loc, "spatial dimension ")
             << i << " is too small for the kernel, or stride/dilation < 1";
    }
    shape.push_back((padded - kernel) / strides[i] + 1);
  }
  inferred.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

LogicalResult nuri::detail::inferSameWithAxis(Loc loc, Type inputType,
                                              IntegerAttr axis,
                                              Types &inferred) {
  auto input = ranked(inputType);
  if (!validAxis(axis.getInt(), input.getRank())) {
    return fail(loc, "axis ")
           << axis.getInt() << " is out of range for rank " << input.getRank();
  }
  inferred.push_back(input);
  return success();
}

LogicalResult nuri::detail::inferNorm(Loc loc, Type inputType, Type scaleType,
                                      Value bias, IntegerAttr axisAttr,
                                      Types &inferred) {
  auto input = ranked(inputType);
  int64_t axis = axisAttr.getInt();
  if (!validAxis(axis, input.getRank())) {
    return fail(loc, "axis ")
           << axis << " is out of range for rank " << input.getRank();
  }
  ArrayRef<int64_t> normalized = input.getShape().drop_front(axis);
  for (Type paramType : {scaleType, bias ? bias.getType() : Type()}) {
    if (!paramType) {
      continue;
    }
    auto param = ranked(paramType);
    if (param.getElementType() != input.getElementType()) {
      return fail(loc, "expects parameters of element type ")
             << input.getElementType() << ", got " << param.getElementType();
    }
    FailureOr<SmallVector<int64_t>> shape =
        broadcastShapes(normalized, param.getShape());
    if (failed(shape) || ArrayRef<int64_t>(*shape) != normalized) {
      return fail(loc, "parameter of shape ")
             << shapeString(param.getShape())
             << " does not broadcast to the normalized shape "
             << shapeString(normalized);
    }
  }
  inferred.push_back(input);
  return success();
}

LogicalResult nuri::detail::inferReduce(Loc loc, Type inputType,
                                        ArrayRef<int64_t> axes, bool keepDims,
                                        Types &inferred) {
  auto input = ranked(inputType);
  SmallVector<int64_t> shape;
  for (size_t i = 0; i < axes.size(); ++i) {
    if (!validAxis(axes[i], input.getRank()) || (i && axes[i] <= axes[i - 1])) {
      return fail(loc, "expects sorted, distinct axes in [0, ")
             << input.getRank() << "), got " << listString(axes);
    }
  }
  for (int64_t d = 0; d < input.getRank(); ++d) {
    if (!llvm::is_contained(axes, d)) {
      shape.push_back(input.getDimSize(d));
    } else if (keepDims) {
      shape.push_back(1);
    }
  }
  inferred.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

LogicalResult nuri::detail::inferTranspose(Loc loc, Type inputType,
                                           ArrayRef<int64_t> permutation,
                                           Types &inferred) {
  auto input = ranked(inputType);
  SmallVector<bool> seen(input.getRank(), false);
  if (static_cast<int64_t>(permutation.size()) != input.getRank()) {
    return fail(loc, "permutation of size ")
           << permutation.size() << " does not match rank " << input.getRank();
  }
  SmallVector<int64_t> shape;
  for (int64_t p : permutation) {
    if (!validAxis(p, input.getRank()) || seen[p]) {
      return fail(loc, "expects a permutation of [0, ")
             << input.getRank() << "), got " << listString(permutation);
    }
    seen[p] = true;
    shape.push_back(input.getDimSize(p));
  }
  inferred.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

LogicalResult nuri::detail::inferConcat(Loc loc, ValueRange inputs,
                                        IntegerAttr axisAttr, Types &inferred) {
  if (inputs.empty()) {
    return fail(loc, "expects at least one input");
  }
  auto first = ranked(inputs[0].getType());
  int64_t axis = axisAttr.getInt();
  if (!validAxis(axis, first.getRank())) {
    return fail(loc, "axis ")
           << axis << " is out of range for rank " << first.getRank();
  }
  SmallVector<int64_t> shape(first.getShape());
  shape[axis] = 0;
  for (Value input : inputs) {
    auto type = ranked(input.getType());
    if (type.getRank() != first.getRank() ||
        type.getElementType() != first.getElementType()) {
      return fail(loc, "expects inputs of one rank and element type, got ")
             << first << " and " << type;
    }
    for (int64_t d = 0; d < type.getRank(); ++d) {
      if (d != axis && type.getDimSize(d) != first.getDimSize(d)) {
        return fail(loc, "input shapes ")
               << shapeString(first.getShape()) << " and "
               << shapeString(type.getShape()) << " differ off axis " << axis;
      }
    }
    shape[axis] += type.getDimSize(axis);
  }
  inferred.push_back(RankedTensorType::get(shape, first.getElementType()));
  return success();
}

LogicalResult nuri::detail::inferSlice(Loc loc, Type inputType,
                                       ArrayRef<int64_t> starts,
                                       ArrayRef<int64_t> limits,
                                       ArrayRef<int64_t> steps,
                                       Types &inferred) {
  auto input = ranked(inputType);
  int64_t rank = input.getRank();
  if (static_cast<int64_t>(starts.size()) != rank ||
      static_cast<int64_t>(limits.size()) != rank ||
      static_cast<int64_t>(steps.size()) != rank) {
    return fail(loc, "expects one start, limit and step per dimension (")
           << rank << "), got " << starts.size() << ", " << limits.size()
           << " and " << steps.size();
  }
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d) {
    int64_t size = input.getDimSize(d);
    if (steps[d] == 0) {
      return fail(loc, "step of dimension ") << d << " is zero";
    }
    bool forward = steps[d] > 0;
    bool startOk = forward ? (starts[d] >= 0 && starts[d] <= size)
                           : (starts[d] >= -1 && starts[d] < size);
    bool limitOk = forward ? (limits[d] >= 0 && limits[d] <= size)
                           : (limits[d] >= -1 && limits[d] < size);
    if (!startOk || !limitOk) {
      return fail(loc, "start ")
             << starts[d] << " or limit " << limits[d] << " of dimension " << d
             << " is out of range for size " << size;
    }
    int64_t span = forward ? limits[d] - starts[d] : starts[d] - limits[d];
    int64_t step = forward ? steps[d] : -steps[d];
    shape.push_back(span <= 0 ? 0 : (span + step - 1) / step);
  }
  inferred.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

LogicalResult nuri::detail::inferSplit(Loc loc, Type inputType,
                                       IntegerAttr axisAttr,
                                       ArrayRef<int64_t> sizes,
                                       Types &inferred) {
  auto input = ranked(inputType);
  int64_t axis = axisAttr.getInt();
  if (!validAxis(axis, input.getRank())) {
    return fail(loc, "axis ")
           << axis << " is out of range for rank " << input.getRank();
  }
  int64_t total = 0;
  for (int64_t size : sizes) {
    if (size < 0) {
      return fail(loc, "split sizes must not be negative");
    }
    total += size;
  }
  if (total != input.getDimSize(axis)) {
    return fail(loc, "split sizes add up to ")
           << total << ", dimension " << axis << " has "
           << input.getDimSize(axis);
  }
  for (int64_t size : sizes) {
    SmallVector<int64_t> shape(input.getShape());
    shape[axis] = size;
    inferred.push_back(RankedTensorType::get(shape, input.getElementType()));
  }
  return success();
}

LogicalResult nuri::detail::inferGather(Loc loc, Type inputType,
                                        Type indicesType, IntegerAttr axisAttr,
                                        Types &inferred) {
  auto input = ranked(inputType), indices = ranked(indicesType);
  int64_t axis = axisAttr.getInt();
  if (!validAxis(axis, input.getRank())) {
    return fail(loc, "axis ")
           << axis << " is out of range for rank " << input.getRank();
  }
  SmallVector<int64_t> shape(input.getShape().take_front(axis));
  llvm::append_range(shape, indices.getShape());
  llvm::append_range(shape, input.getShape().drop_front(axis + 1));
  inferred.push_back(RankedTensorType::get(shape, input.getElementType()));
  return success();
}

LogicalResult nuri::detail::inferRope(Loc loc, Type inputType, Type cosType,
                                      Type sinType, Types &inferred) {
  auto input = ranked(inputType);
  if (input.getRank() < 1 || input.getShape().back() % 2) {
    return fail(loc, "expects an even last dimension, got ")
           << shapeString(input.getShape());
  }
  for (Type table : {cosType, sinType}) {
    if (ranked(table).getElementType() != input.getElementType()) {
      return fail(loc, "expects tables of element type ")
             << input.getElementType() << ", got "
             << ranked(table).getElementType();
    }
    FailureOr<SmallVector<int64_t>> shape =
        broadcastShapes(input.getShape(), ranked(table).getShape());
    if (failed(shape) || ArrayRef<int64_t>(*shape) != input.getShape()) {
      return fail(loc, "table of shape ")
             << shapeString(ranked(table).getShape())
             << " does not broadcast to the input "
             << shapeString(input.getShape());
    }
  }
  inferred.push_back(input);
  return success();
}

LogicalResult nuri::detail::inferAttention(Loc loc, Type queryType,
                                           Type keyType, Type valueType,
                                           Value mask, Types &inferred) {
  auto q = ranked(queryType), k = ranked(keyType), v = ranked(valueType);
  if (q.getRank() != 4 || k.getRank() != 4 || v.getRank() != 4) {
    return fail(loc, "expects rank-4 [batch, heads, seq, dim] query, key and "
                     "value, got ")
           << shapeString(q.getShape()) << ", " << shapeString(k.getShape())
           << " and " << shapeString(v.getShape());
  }
  int64_t batch = q.getDimSize(0), heads = q.getDimSize(1);
  int64_t kvHeads = k.getDimSize(1), seq = q.getDimSize(2);
  int64_t kvSeq = k.getDimSize(2);
  if (k.getDimSize(0) != batch || v.getDimSize(0) != batch) {
    return fail(loc, "batch sizes of query, key and value differ: ")
           << batch << ", " << k.getDimSize(0) << ", " << v.getDimSize(0);
  }
  if (k.getElementType() != q.getElementType() ||
      v.getElementType() != q.getElementType()) {
    return fail(loc, "expects query, key and value of one element type, got ")
           << q.getElementType() << ", " << k.getElementType() << " and "
           << v.getElementType();
  }
  if (v.getDimSize(1) != kvHeads || v.getDimSize(2) != kvSeq) {
    return fail(loc, "key ")
           << shapeString(k.getShape()) << " and value "
           << shapeString(v.getShape()) << " disagree on heads or length";
  }
  if (kvHeads < 1 || heads % kvHeads) {
    return fail(loc, "query heads ")
           << heads << " are not a multiple of key/value heads " << kvHeads;
  }
  if (q.getDimSize(3) != k.getDimSize(3)) {
    return fail(loc, "query and key head sizes differ: ")
           << q.getDimSize(3) << " vs " << k.getDimSize(3);
  }
  if (mask) {
    SmallVector<int64_t> scores = {batch, heads, seq, kvSeq};
    auto maskShape = ranked(mask.getType()).getShape();
    Type maskElement = ranked(mask.getType()).getElementType();
    if (maskElement != q.getElementType() && !maskElement.isInteger(1)) {
      return fail(loc, "expects an i1 mask or one of the query's element "
                       "type, got ")
             << maskElement;
    }
    FailureOr<SmallVector<int64_t>> shape = broadcastShapes(scores, maskShape);
    if (failed(shape) || ArrayRef<int64_t>(*shape) != ArrayRef(scores)) {
      return fail(loc, "mask of shape ")
             << shapeString(maskShape) << " does not broadcast to the scores "
             << shapeString(scores);
    }
  }
  inferred.push_back(RankedTensorType::get({batch, heads, seq, v.getDimSize(3)},
                                           q.getElementType()));
  return success();
}

// Slots and positions: one run-time index per batch row.
static LogicalResult checkBatchIndices(Loc loc, StringRef what, Type type,
                                       int64_t batch) {
  auto t = ranked(type);
  if (t.getRank() != 1 || t.getDimSize(0) != batch) {
    return fail(loc, "expects ")
           << what << " of shape [" << batch << "] (one per batch row), got "
           << shapeString(t.getShape());
  }
  return success();
}

LogicalResult nuri::detail::inferCacheWrite(Loc loc, Type cacheType,
                                            Type updateType, Type slots,
                                            Type positions, Types &inferred) {
  auto cache = ranked(cacheType), update = ranked(updateType);
  if (cache.getRank() != 4 || update.getRank() != 4) {
    return fail(loc, "expects a rank-4 [slots, heads, max_seq, dim] cache and "
                     "a rank-4 [batch, heads, tokens, dim] update, got ")
           << shapeString(cache.getShape()) << " and "
           << shapeString(update.getShape());
  }
  if (cache.getElementType() != update.getElementType()) {
    return fail(loc, "expects cache and update of one element type, got ")
           << cache.getElementType() << " and " << update.getElementType();
  }
  if (cache.getDimSize(1) != update.getDimSize(1) ||
      cache.getDimSize(3) != update.getDimSize(3) ||
      update.getDimSize(2) > cache.getDimSize(2)) {
    return fail(loc, "update ")
           << shapeString(update.getShape()) << " does not fit the cache "
           << shapeString(cache.getShape())
           << " (heads and dim must agree, tokens at most max_seq)";
  }
  int64_t batch = update.getDimSize(0);
  if (failed(checkBatchIndices(loc, "slots", slots, batch)) ||
      failed(checkBatchIndices(loc, "positions", positions, batch))) {
    return failure();
  }
  inferred.push_back(cache);
  return success();
}

LogicalResult nuri::detail::inferCacheAttention(Loc loc, Type queryType,
                                                Type keyCacheType,
                                                Type valueCacheType, Type slots,
                                                Value mask, int64_t context,
                                                Types &inferred) {
  auto q = ranked(queryType), k = ranked(keyCacheType),
       v = ranked(valueCacheType);
  if (q.getRank() != 4 || k.getRank() != 4 || v.getRank() != 4) {
    return fail(loc, "expects a rank-4 query and rank-4 [slots, heads, "
                     "max_seq, dim] caches, got ")
           << shapeString(q.getShape()) << ", " << shapeString(k.getShape())
           << " and " << shapeString(v.getShape());
  }
  if (k.getShape().take_front(3) != v.getShape().take_front(3)) {
    return fail(loc, "key cache ")
           << shapeString(k.getShape()) << " and value cache "
           << shapeString(v.getShape())
           << " disagree on slots, heads or length";
  }
  if (context < 1 || context > k.getDimSize(2)) {
    return fail(loc, "context ")
           << context << " is outside the cache's length 1.."
           << k.getDimSize(2);
  }
  int64_t batch = q.getDimSize(0);
  if (failed(checkBatchIndices(loc, "slots", slots, batch))) {
    return failure();
  }
  // The prefix every batch row reads, as plain attention sees it.
  auto prefix = [&](RankedTensorType c) {
    return RankedTensorType::get(
        {batch, c.getDimSize(1), context, c.getDimSize(3)}, c.getElementType());
  };
  return inferAttention(loc, q, prefix(k), prefix(v), mask, inferred);
}

//===----------------------------------------------------------------------===//
// Verifiers
//===----------------------------------------------------------------------===//

// Ops that only move or repeat elements keep their element type.
static LogicalResult verifyKeepsElementType(Operation *op, ShapedType in,
                                            ShapedType out) {
  if (in.getElementType() != out.getElementType()) {
    return op->emitOpError("changes the element type from ")
           << in.getElementType() << " to " << out.getElementType();
  }
  return success();
}

LogicalResult ReshapeOp::verify() {
  auto in = getInput().getType(), out = getOutput().getType();
  if (failed(verifyKeepsElementType(*this, in, out))) {
    return failure();
  }
  if (in.getNumElements() != out.getNumElements()) {
    return emitOpError("changes the element count from ")
           << in.getNumElements() << " to " << out.getNumElements();
  }
  return success();
}

LogicalResult BroadcastToOp::verify() {
  auto in = getInput().getType(), out = getOutput().getType();
  if (failed(verifyKeepsElementType(*this, in, out))) {
    return failure();
  }
  FailureOr<SmallVector<int64_t>> shape =
      broadcastShapes(in.getShape(), out.getShape());
  if (failed(shape) || ArrayRef<int64_t>(*shape) != out.getShape()) {
    return emitOpError("cannot broadcast ")
           << shapeString(in.getShape()) << " to "
           << shapeString(out.getShape());
  }
  return success();
}

LogicalResult CastOp::verify() {
  if (getInput().getType().getShape() != getOutput().getType().getShape()) {
    return emitOpError("changes the shape from ")
           << shapeString(getInput().getType().getShape()) << " to "
           << shapeString(getOutput().getType().getShape());
  }
  return success();
}

// Quantization parameters: a scalar (per tensor) or a 1-D vector as long as
// the quantized axis (per channel); a zero point matches the scale's shape.
static LogicalResult verifyQuantParams(Operation *op, RankedTensorType data,
                                       Value scale, Value zeroPoint,
                                       int64_t axis) {
  auto scaleType = cast<RankedTensorType>(scale.getType());
  if (scaleType.getNumElements() != 1 || scaleType.getRank() > 1) {
    if (scaleType.getRank() != 1) {
      return op->emitOpError("expects a scalar or 1-D scale, got rank ")
             << scaleType.getRank();
    }
    if (!validAxis(axis, data.getRank()) ||
        data.getDimSize(axis) != scaleType.getDimSize(0)) {
      return op->emitOpError("per-channel scale of size ")
             << scaleType.getDimSize(0) << " does not match axis " << axis
             << " of " << shapeString(data.getShape());
    }
  }
  if (zeroPoint && cast<RankedTensorType>(zeroPoint.getType()).getShape() !=
                       scaleType.getShape()) {
    return op->emitOpError("zero point shape ")
           << shapeString(
                  cast<RankedTensorType>(zeroPoint.getType()).getShape())
           << " differs from the scale's " << shapeString(scaleType.getShape());
  }
  return success();
}

// Quantize and dequantize differ only in which side is the integer one;
// `role` names it in the diagnostic.
static LogicalResult verifyAffineQuant(Operation *op, RankedTensorType input,
                                       RankedTensorType output, Value scale,
                                       Value zeroPoint, int64_t axis,
                                       RankedTensorType quantized,
                                       StringRef role) {
  if (input.getShape() != output.getShape()) {
    return op->emitOpError("changes the shape from ")
           << shapeString(input.getShape()) << " to "
           << shapeString(output.getShape());
  }
  if (zeroPoint && isa<FloatType>(quantized.getElementType())) {
    return op->emitOpError("takes no zero point for the float type ")
           << quantized.getElementType();
  }
  if (zeroPoint &&
      cast<RankedTensorType>(zeroPoint.getType()).getElementType() !=
          quantized.getElementType()) {
    return op->emitOpError("zero point type ")
           << cast<RankedTensorType>(zeroPoint.getType()).getElementType()
           << " differs from the " << role << "'s "
           << quantized.getElementType();
  }
  return verifyQuantParams(op, input, scale, zeroPoint, axis);
}

LogicalResult QuantizeOp::verify() {
  return verifyAffineQuant(*this, getInput().getType(), getOutput().getType(),
                           getScale(), getZeroPoint(), getAxis(),
                           getOutput().getType(), "result");
}

LogicalResult DequantizeOp::verify() {
  return verifyAffineQuant(*this, getInput().getType(), getOutput().getType(),
                           getScale(), getZeroPoint(), getAxis(),
                           getInput().getType(), "input");
}

LogicalResult DequantizeBlockedOp::verify() {
  int64_t bits = getBits(), block = getBlockSize();
  if (bits != 4 && bits != 8) {
    return emitOpError("has ") << bits << " bits per value (expected 4 or 8)";
  }
  if (block < 16 || (block & (block - 1))) {
    return emitOpError("has block_size ")
           << block << " (expected a power of two, at least 16)";
  }
  auto packed = getPacked().getType();
  if (!packed.getElementType().isUnsignedInteger(8) || packed.getRank() != 3 ||
      packed.getDimSize(2) != block * bits / 8) {
    return emitOpError("expects packed values ui8 [N, blocks, ")
           << block * bits / 8 << "], got " << packed;
  }
  int64_t n = packed.getDimSize(0), blocks = packed.getDimSize(1);
  auto scales = getScales().getType();
  if (scales.getShape() != ArrayRef<int64_t>{n, blocks}) {
    return emitOpError("expects scales [") << n << ", " << blocks << "], got "
                                           << shapeString(scales.getShape());
  }
  if (Value zp = getZeroPoints()) {
    auto type = cast<RankedTensorType>(zp.getType());
    int64_t bytes = (blocks * bits + 7) / 8;
    if (!type.getElementType().isUnsignedInteger(8) ||
        type.getShape() != ArrayRef<int64_t>{n, bytes}) {
      return emitOpError("expects zero points ui8 [")
             << n << ", " << bytes << "], got " << type;
    }
  }
  auto out = getOutput().getType();
  int64_t k = out.getRank() == 2 ? out.getDimSize(0) : -1;
  if (out.getRank() != 2 || out.getDimSize(1) != n ||
      k <= (blocks - 1) * block || k > blocks * block) {
    return emitOpError("result ")
           << shapeString(out.getShape()) << " is not [K, " << n
           << "] with K in (" << (blocks - 1) * block << ", " << blocks * block
           << "]";
  }
  return success();
}

static bool isQuant8(Type type) {
  auto integer = dyn_cast<IntegerType>(type);
  return integer && integer.getWidth() == 8;
}

LogicalResult DynamicQuantizeOp::verify() {
  if (getInput().getType().getShape() != getOutput().getType().getShape()) {
    return emitOpError("changes the shape from ")
           << shapeString(getInput().getType().getShape()) << " to "
           << shapeString(getOutput().getType().getShape());
  }
  // ONNX defines DynamicQuantizeLinear for uint8 only.
  for (Type type : {getOutput().getType().getElementType(),
                    getZeroPoint().getType().getElementType()}) {
    if (!type.isUnsignedInteger(8)) {
      return emitOpError("quantizes to ui8 only, got ") << type;
    }
  }
  if (getScale().getType().getNumElements() != 1 ||
      getZeroPoint().getType().getNumElements() != 1) {
    return emitOpError("expects a scalar scale and zero point, got ")
           << shapeString(getScale().getType().getShape()) << " and "
           << shapeString(getZeroPoint().getType().getShape());
  }
  return success();
}

// A quantization parameter of a matmul: a scalar (one value) or one value per
// channel of `dimName` (size `channels`) of `owner`'s shape.
static LogicalResult verifyMatmulParam(Operation *op, Value param,
                                       StringRef what, int64_t channels,
                                       StringRef dimName,
                                       RankedTensorType owner) {
  auto type = cast<RankedTensorType>(param.getType());
  if (type.getNumElements() == 1 && type.getRank() <= 1) {
    return success();
  }
  if (type.getRank() != 1 || type.getDimSize(0) != channels) {
    return op->emitOpError()
           << what << " of shape " << shapeString(type.getShape())
           << " is neither a scalar nor one value per " << dimName << " ("
           << channels << " in " << shapeString(owner.getShape()) << ")";
  }
  return success();
}

LogicalResult QuantizedMatmulOp::verify() {
  RankedTensorType lhs = getLhs().getType(), rhs = getRhs().getType();
  const bool fp8 = isa<Float8E4M3FNType>(lhs.getElementType());
  for (auto [name, type] :
       {std::pair<StringRef, RankedTensorType>{"lhs", lhs}, {"rhs", rhs}}) {
    Type e = type.getElementType();
    if (fp8 ? !isa<Float8E4M3FNType>(e) : !isQuant8(e)) {
      return emitOpError("expects ")
             << (fp8 ? "an f8E4M3FN " : "an 8-bit integer ") << name << ", got "
             << e;
    }
  }
  if (fp8 && (!getLhsScale() || getOutputScale())) {
    return emitOpError("of f8E4M3FN operands has the float read-out only "
                       "(scales, no requantize)");
  }
  SmallVector<Type> inferred;
  if (failed(detail::inferMatmul(
          getLoc(), lhs,
          RankedTensorType::get(rhs.getShape(), lhs.getElementType()), false,
          false, inferred))) {
    return failure();
  }
  auto expected = cast<RankedTensorType>(inferred[0]);
  RankedTensorType result = getOutput().getType();
  if (result.getShape() != expected.getShape()) {
    return emitOpError("result shape ")
           << shapeString(result.getShape()) << " differs from the product's "
           << shapeString(expected.getShape());
  }
  if (getLhsZeroPoint().getType().getElementType() != lhs.getElementType() ||
      getRhsZeroPoint().getType().getElementType() != rhs.getElementType()) {
    return emitOpError("zero point types ")
           << getLhsZeroPoint().getType().getElementType() << " and "
           << getRhsZeroPoint().getType().getElementType()
           << " differ from the operands' " << lhs.getElementType() << " and "
           << rhs.getElementType();
  }
  int64_t m = lhs.getDimSize(lhs.getRank() - 2);
  int64_t n = rhs.getDimSize(rhs.getRank() - 1);
  if (failed(verifyMatmulParam(*this, getLhsZeroPoint(), "lhs zero point", m,
                               "row", lhs)) ||
      failed(verifyMatmulParam(*this, getRhsZeroPoint(), "rhs zero point", n,
                               "output column", rhs))) {
    return failure();
  }
  if (!getLhsScale()) {
    if (getOutputScale()) {
      return emitOpError("requantizes without operand scales");
    }
    if (!result.getElementType().isSignlessInteger(32)) {
      return emitOpError("without scales yields the i32 accumulators, got ")
             << result.getElementType();
    }
    return success();
  }
  if (failed(verifyMatmulParam(*this, getLhsScale(), "lhs scale", m, "row",
                               lhs)) ||
      failed(verifyMatmulParam(*this, getRhsScale(), "rhs scale", n,
                               "output column", rhs))) {
    return failure();
  }
  if (!getOutputScale()) {
    if (!isa<FloatType>(result.getElementType())) {
      return emitOpError("with scales yields floats, got ")
             << result.getElementType();
    }
    return success();
  }
  if (getOutputScale().getType().getNumElements() != 1 ||
      getOutputZeroPoint().getType().getNumElements() != 1) {
    return emitOpError("expects a scalar output scale and zero point");
  }
  if (!isQuant8(result.getElementType()) ||
      getOutputZeroPoint().getType().getElementType() !=
          result.getElementType()) {
    return emitOpError("requantizes to an 8-bit result of its zero point's "
                       "type, got ")
           << result.getElementType() << " and "
           << getOutputZeroPoint().getType().getElementType();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Folders
//===----------------------------------------------------------------------===//

namespace {
ElementsAttr asElements(Attribute attr) {
  return dyn_cast_or_null<ElementsAttr>(attr);
}

bool isSplatOf(Attribute attr, double value) {
  auto dense = dyn_cast_or_null<DenseElementsAttr>(attr);
  if (!dense || !dense.isSplat()) {
    return false;
  }
  FailureOr<std::vector<double>> values =
      readAsDouble(cast<ElementsAttr>(dense));
  return succeeded(values) && !values->empty() && (*values)[0] == value;
}

// Evaluates an elementwise op on constants, in double for floats and in
// int64 for integers, broadcasting operands to `resultType`.
template <typename FloatFn, typename IntFn>
OpFoldResult foldElementwise(ArrayRef<Attribute> operands,
                             RankedTensorType resultType, FloatFn floatFn,
                             IntFn intFn) {
  SmallVector<ElementsAttr> elements;
  for (Attribute attr : operands) {
    ElementsAttr e = asElements(attr);
    if (!e) {
      return {};
    }
    elements.push_back(e);
  }
  if (resultType.getNumElements() > kMaxFoldElements) {
    return {};
  }
  Type operandElementType = elements[0].getShapedType().getElementType();
  bool isFloat = isa<FloatType>(operandElementType);
  SmallVector<std::vector<int64_t>> maps;
  for (ElementsAttr e : elements) {
    maps.push_back(
        broadcastIndexMap(e.getShapedType().getShape(), resultType.getShape()));
  }
  int64_t count = resultType.getNumElements();
  if (isFloat) {
    SmallVector<std::vector<double>> values;
    for (ElementsAttr e : elements) {
      auto v = readAsDouble(e);
      if (failed(v)) {
        return {};
      }
      values.push_back(std::move(*v));
    }
    std::vector<double> out(count);
    for (int64_t i = 0; i < count; ++i) {
      double a = values[0][maps[0][i]];
      double b = values.size() > 1 ? values[1][maps[1][i]] : 0.0;
      out[i] = floatFn(a, b);
    }
    return makeFromDouble(resultType, out);
  }
  SmallVector<std::vector<int64_t>> values;
  for (ElementsAttr e : elements) {
    auto v = readAsInt(e);
    if (failed(v)) {
      return {};
    }
    values.push_back(std::move(*v));
  }
  std::vector<int64_t> out(count);
  for (int64_t i = 0; i < count; ++i) {
    int64_t a = values[0][maps[0][i]];
    int64_t b = values.size() > 1 ? values[1][maps[1][i]] : 0;
    std::optional<int64_t> r = intFn(a, b);
    if (!r) {
      return {};
    }
    out[i] = *r;
  }
  return makeFromInt(resultType, out);
}

using OptInt = std::optional<int64_t>;
} // namespace

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

OpFoldResult AddOp::fold(FoldAdaptor adaptor) {
  if (getRhs().getType() == getType() && isSplatOf(adaptor.getLhs(), 0.0)) {
    return getRhs();
  }
  if (getLhs().getType() == getType() && isSplatOf(adaptor.getRhs(), 0.0)) {
    return getLhs();
  }
  return foldElementwise(
      adaptor.getOperands(), getType(),
      [](double a, double b) { return a + b; },
      [](int64_t a, int64_t b) -> OptInt { return a + b; });
}

OpFoldResult SubOp::fold(FoldAdaptor adaptor) {
  if (getLhs().getType() == getType() && isSplatOf(adaptor.getRhs(), 0.0)) {
    return getLhs();
  }
  return foldElementwise(
      adaptor.getOperands(), getType(),
      [](double a, double b) { return a - b; },
      [](int64_t a, int64_t b) -> OptInt { return a - b; });
}

OpFoldResult MulOp::fold(FoldAdaptor adaptor) {
  if (getRhs().getType() == getType() && isSplatOf(adaptor.getLhs(), 1.0)) {
    return getRhs();
  }
  if (getLhs().getType() == getType() && isSplatOf(adaptor.getRhs(), 1.0)) {
    return getLhs();
  }
  return foldElementwise(
      adaptor.getOperands(), getType(),
      [](double a, double b) { return a * b; },
      [](int64_t a, int64_t b) -> OptInt { return a * b; });
}

OpFoldResult DivOp::fold(FoldAdaptor adaptor) {
  if (getLhs().getType() == getType() && isSplatOf(adaptor.getRhs(), 1.0)) {
    return getLhs();
  }
  return foldElementwise(
      adaptor.getOperands(), getType(),
      [](double a, double b) { return a / b; },
      [](int64_t a, int64_t b) -> OptInt {
        if (b == 0) {
          return std::nullopt; // Leave the division for run time to report.
        }
        return a / b;
      });
}

OpFoldResult PowOp::fold(FoldAdaptor adaptor) {
  if (getLhs().getType() == getType() && isSplatOf(adaptor.getRhs(), 1.0)) {
    return getLhs();
  }
  return foldElementwise(
      adaptor.getOperands(), getType(),
      [](double a, double b) { return std::pow(a, b); },
      [](int64_t a, int64_t b) -> OptInt {
        if (b < 0) {
          return std::nullopt;
        }
        int64_t r = 1;
        for (int64_t i = 0; i < b; ++i) {
          r *= a;
        }
        return r;
      });
}

OpFoldResult MaxOp::fold(FoldAdaptor adaptor) {
  return foldElementwise(
      adaptor.getOperands(), getType(),
      [](double a, double b) { return std::isnan(a) || a > b ? a : b; },
      [](int64_t a, int64_t b) -> OptInt { return std::max(a, b); });
}

OpFoldResult MinOp::fold(FoldAdaptor adaptor) {
  return foldElementwise(
      adaptor.getOperands(), getType(),
      [](double a, double b) { return std::isnan(a) || a < b ? a : b; },
      [](int64_t a, int64_t b) -> OptInt { return std::min(a, b); });
}

OpFoldResult ModOp::fold(FoldAdaptor adaptor) {
  return foldElementwise(
      adaptor.getOperands(), getType(),
      [](double a, double b) { return std::fmod(a, b); },
      [](int64_t a, int64_t b) -> OptInt {
        if (b == 0) {
          return std::nullopt;
        }
        int64_t r = a % b;
        return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
      });
}

OpFoldResult AndOp::fold(FoldAdaptor adaptor) {
  return foldElementwise(
      adaptor.getOperands(), getType(),
      [](double a, double b) { return double(a != 0 && b != 0); },
      [](int64_t a, int64_t b) -> OptInt { return a && b; });
}

OpFoldResult OrOp::fold(FoldAdaptor adaptor) {
  return foldElementwise(
      adaptor.getOperands(), getType(),
      [](double a, double b) { return double(a != 0 || b != 0); },
      [](int64_t a, int64_t b) -> OptInt { return a || b; });
}

OpFoldResult XorOp::fold(FoldAdaptor adaptor) {
  return foldElementwise(
      adaptor.getOperands(), getType(),
      [](double a, double b) { return double((a != 0) != (b != 0)); },
      [](int64_t a, int64_t b) -> OptInt { return (a != 0) != (b != 0); });
}

OpFoldResult CompareOp::fold(FoldAdaptor adaptor) {
  ComparePredicate predicate = getPredicate();
  auto compare = [predicate](auto a, auto b) -> bool {
    switch (predicate) {
    case ComparePredicate::EQ:
      return a == b;
    case ComparePredicate::NE:
      return a != b;
    case ComparePredicate::LT:
      return a < b;
    case ComparePredicate::LE:
      return a <= b;
    case ComparePredicate::GT:
      return a > b;
    case ComparePredicate::GE:
      return a >= b;
    }
    return false;
  };
  return foldElementwise(
      {adaptor.getLhs(), adaptor.getRhs()}, getType(),
      [&](double a, double b) { return double(compare(a, b)); },
      [&](int64_t a, int64_t b) -> OptInt { return compare(a, b); });
}

OpFoldResult WhereOp::fold(FoldAdaptor adaptor) {
  if (getOnTrue() == getOnFalse() && getOnTrue().getType() == getType()) {
    return getOnTrue();
  }
  auto condition = dyn_cast_or_null<DenseElementsAttr>(adaptor.getCondition());
  if (condition && condition.isSplat()) {
    Value chosen = condition.getSplatValue<bool>() ? getOnTrue() : getOnFalse();
    if (chosen.getType() == getType()) {
      return chosen;
    }
  }
  ElementsAttr c = asElements(adaptor.getCondition()),
               t = asElements(adaptor.getOnTrue()),
               f = asElements(adaptor.getOnFalse());
  if (!c || !t || !f || getType().getNumElements() > kMaxFoldElements) {
    return {};
  }
  auto cv = readAsInt(c);
  ArrayRef<int64_t> shape = getType().getShape();
  std::vector<int64_t> cm = broadcastIndexMap(c.getShapedType().getShape(),
                                              shape),
                       tm = broadcastIndexMap(t.getShapedType().getShape(),
                                              shape),
                       fm = broadcastIndexMap(f.getShapedType().getShape(),
                                              shape);
  if (failed(cv)) {
    return {};
  }
  if (isa<FloatType>(getType().getElementType())) {
    auto tv = readAsDouble(t), fv = readAsDouble(f);
    if (failed(tv) || failed(fv)) {
      return {};
    }
    std::vector<double> out(getType().getNumElements());
    for (size_t i = 0; i < out.size(); ++i) {
      out[i] = (*cv)[cm[i]] ? (*tv)[tm[i]] : (*fv)[fm[i]];
    }
    return makeFromDouble(getType(), out);
  }
  auto tv = readAsInt(t), fv = readAsInt(f);
  if (failed(tv) || failed(fv)) {
    return {};
  }
  std::vector<int64_t> out(getType().getNumElements());
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = (*cv)[cm[i]] ? (*tv)[tm[i]] : (*fv)[fm[i]];
  }
  return makeFromInt(getType(), out);
}

// Moves elements of a constant: output element i reads input element
// `sourceIndex(i)`. Works on raw bytes so weights of any float type move
// without conversion.
template <typename IndexFn>
static OpFoldResult foldDataMovement(ElementsAttr input,
                                     RankedTensorType resultType,
                                     IndexFn sourceIndex, StringRef nameHint) {
  if (!input) {
    return {};
  }
  Type elementType = resultType.getElementType();
  int64_t count = resultType.getNumElements();
  if (elementType.isInteger(1)) {
    auto values = readAsInt(input);
    if (failed(values)) {
      return {};
    }
    std::vector<int64_t> out(count);
    for (int64_t i = 0; i < count; ++i) {
      out[i] = (*values)[sourceIndex(i)];
    }
    return makeFromInt(resultType, out);
  }
  FailureOr<std::vector<char>> bytes = readRawBytes(input);
  if (failed(bytes)) {
    return {};
  }
  int64_t width = elementType.getIntOrFloatBitWidth() / 8;
  std::vector<char> out(count * width);
  for (int64_t i = 0; i < count; ++i) {
    std::memcpy(out.data() + i * width, bytes->data() + sourceIndex(i) * width,
                width);
  }
  return makeFromRawBytes(resultType, out, nameHint);
}

OpFoldResult TransposeOp::fold(FoldAdaptor adaptor) {
  ArrayRef<int64_t> perm = getPermutation();
  bool identity = llvm::all_of(llvm::enumerate(perm), [](auto it) {
    return static_cast<int64_t>(it.index()) == it.value();
  });
  if (identity) {
    return getInput();
  }
  ArrayRef<int64_t> inShape = getInput().getType().getShape();
  ArrayRef<int64_t> outShape = getType().getShape();
  SmallVector<int64_t> inStrides = rowMajorStrides(inShape);
  int64_t rank = outShape.size();
  return foldDataMovement(
      asElements(adaptor.getInput()), getType(),
      [&](int64_t flat) {
        int64_t source = 0;
        for (int64_t d = rank - 1; d >= 0; --d) {
          int64_t index = flat % outShape[d];
          flat /= outShape[d];
          source += index * inStrides[perm[d]];
        }
        return source;
      },
      "transposed");
}

namespace {
// transpose(transpose(x, p1), p2) is one transpose.
struct ComposeTransposes : OpRewritePattern<TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TransposeOp op,
                                PatternRewriter &rewriter) const override {
    auto inner = op.getInput().getDefiningOp<TransposeOp>();
    if (!inner) {
      return failure();
    }
    SmallVector<int64_t> composed;
    for (int64_t p : op.getPermutation()) {
      composed.push_back(inner.getPermutation()[p]);
    }
    rewriter.replaceOpWithNewOp<TransposeOp>(op, op.getType(), inner.getInput(),
                                             composed);
    return success();
  }
};

// reshape(reshape(x)) is one reshape.
struct ComposeReshapes : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    auto inner = op.getInput().getDefiningOp<ReshapeOp>();
    if (!inner) {
      return failure();
    }
    rewriter.replaceOpWithNewOp<ReshapeOp>(op, op.getType(), inner.getInput());
    return success();
  }
};
} // namespace

void TransposeOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                              MLIRContext *context) {
  results.add<ComposeTransposes>(context);
}

void ReshapeOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                            MLIRContext *context) {
  results.add<ComposeReshapes>(context);
}

OpFoldResult ReshapeOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType()) {
    return getInput();
  }
  ElementsAttr input = asElements(adaptor.getInput());
  if (!input) {
    return {};
  }
  if (auto dense = dyn_cast<DenseElementsAttr>(input)) {
    return dense.reshape(getType());
  }
  return foldDataMovement(
      input, getType(), [](int64_t i) { return i; }, "reshaped");
}

OpFoldResult BroadcastToOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType()) {
    return getInput();
  }
  ElementsAttr input = asElements(adaptor.getInput());
  if (!input || getType().getNumElements() > kMaxFoldElements) {
    return {};
  }
  if (auto dense = dyn_cast<DenseElementsAttr>(input);
      dense && dense.isSplat()) {
    return DenseElementsAttr::get(getType(), dense.getSplatValue<Attribute>());
  }
  std::vector<int64_t> map =
      broadcastIndexMap(getInput().getType().getShape(), getType().getShape());
  return foldDataMovement(
      input, getType(), [&](int64_t i) { return map[i]; }, "broadcast");
}

OpFoldResult ConcatOp::fold(FoldAdaptor adaptor) {
  if (getInputs().size() == 1 && getInputs()[0].getType() == getType()) {
    return getInputs()[0];
  }
  SmallVector<ElementsAttr> inputs;
  for (Attribute attr : adaptor.getInputs()) {
    if (!asElements(attr)) {
      return {};
    }
    inputs.push_back(asElements(attr));
  }
  if (getType().getNumElements() > kMaxFoldElements) {
    return {};
  }
  // Reads every input as int64 or double and writes the joined tensor.
  int64_t axis = getAxis();
  ArrayRef<int64_t> shape = getType().getShape();
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) {
    outer *= shape[d];
  }
  auto join = [&](auto read, auto make, auto zero) -> OpFoldResult {
    using T = decltype(zero);
    std::vector<T> out;
    out.reserve(getType().getNumElements());
    SmallVector<std::vector<T>> values;
    SmallVector<int64_t> chunk;
    for (ElementsAttr input : inputs) {
      auto v = read(input);
      if (failed(v)) {
        return {};
      }
      values.push_back(std::move(*v));
      chunk.push_back(outer ? input.getNumElements() / outer : 0);
    }
    for (int64_t o = 0; o < outer; ++o) {
      for (size_t i = 0; i < values.size(); ++i) {
        auto begin = values[i].begin() + o * chunk[i];
        out.insert(out.end(), begin, begin + chunk[i]);
      }
    }
    return make(getType(), out);
  };
  if (isa<FloatType>(getType().getElementType())) {
    return join(readAsDouble, makeFromDouble, 0.0);
  }
  return join(readAsInt, makeFromInt, int64_t(0));
}

OpFoldResult SliceOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType()) {
    bool identity = true;
    for (auto [start, step] : llvm::zip(getStarts(), getSteps())) {
      identity &= start == 0 && step == 1;
    }
    if (identity) {
      return getInput();
    }
  }
  ElementsAttr input = asElements(adaptor.getInput());
  if (!input || getType().getNumElements() > kMaxFoldElements) {
    return {};
  }
  ArrayRef<int64_t> outShape = getType().getShape();
  SmallVector<int64_t> inStrides =
      rowMajorStrides(getInput().getType().getShape());
  ArrayRef<int64_t> starts = getStarts(), steps = getSteps();
  int64_t rank = outShape.size();
  return foldDataMovement(
      input, getType(),
      [&](int64_t flat) {
        int64_t source = 0;
        for (int64_t d = rank - 1; d >= 0; --d) {
          int64_t index = flat % outShape[d];
          flat /= outShape[d];
          source += (starts[d] + index * steps[d]) * inStrides[d];
        }
        return source;
      },
      "slice");
}

OpFoldResult GatherOp::fold(FoldAdaptor adaptor) {
  ElementsAttr input = asElements(adaptor.getInput());
  ElementsAttr indicesAttr = asElements(adaptor.getIndices());
  if (!input || !indicesAttr || getType().getNumElements() > kMaxFoldElements) {
    return {};
  }
  auto indices = readAsInt(indicesAttr);
  if (failed(indices)) {
    return {};
  }
  ArrayRef<int64_t> inShape = getInput().getType().getShape();
  int64_t axis = getAxis();
  int64_t axisSize = inShape[axis];
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < static_cast<int64_t>(inShape.size()); ++d) {
    inner *= inShape[d];
  }
  int64_t count = indices->size();
  for (int64_t &index : *indices) {
    if (index < -axisSize || index >= axisSize) {
      return {}; // Out of range: left for the verifier of the run to report.
    }
    index = index < 0 ? index + axisSize : index;
  }
  // Output element (outer, i, inner) reads input (outer, indices[i], inner).
  return foldDataMovement(
      input, getType(),
      [&](int64_t flat) {
        int64_t in = flat % inner;
        int64_t i = (flat / inner) % count;
        int64_t outer = flat / inner / count;
        return (outer * axisSize + (*indices)[i]) * inner + in;
      },
      "gathered");
}

OpFoldResult CastOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType()) {
    return getInput();
  }
  ElementsAttr input = asElements(adaptor.getInput());
  if (!input) {
    return {};
  }
  Type from = getInput().getType().getElementType();
  Type to = getType().getElementType();
  if (isa<IntegerType>(from) && isa<IntegerType>(to)) {
    auto values = readAsInt(input);
    if (failed(values)) {
      return {};
    }
    return makeFromInt(getType(), *values);
  }
  if (!isFoldableElementType(from) || !isFoldableElementType(to)) {
    return {};
  }
  auto values = readAsDouble(input);
  if (failed(values)) {
    return {};
  }
  return makeFromDouble(getType(), *values);
}

OpFoldResult nuri::detail::foldUnary(Operation *op, Attribute input) {
  auto type = cast<RankedTensorType>(op->getResult(0).getType());
  std::function<double(double)> fn =
      llvm::TypeSwitch<Operation *, std::function<double(double)>>(op)
          .Case([](NegOp) { return [](double x) { return -x; }; })
          .Case([](AbsOp) { return [](double x) { return std::fabs(x); }; })
          .Case([](SignOp) {
            return [](double x) { return double((x > 0) - (x < 0)); };
          })
          .Case([](ReluOp) { return [](double x) { return x > 0 ? x : 0.0; }; })
          .Case([](ExpOp) { return [](double x) { return std::exp(x); }; })
          .Case([](LogOp) { return [](double x) { return std::log(x); }; })
          .Case([](SqrtOp) { return [](double x) { return std::sqrt(x); }; })
          .Case([](RsqrtOp) {
            return [](double x) { return 1.0 / std::sqrt(x); };
          })
          .Case([](ReciprocalOp) { return [](double x) { return 1.0 / x; }; })
          .Case([](TanhOp) { return [](double x) { return std::tanh(x); }; })
          .Case([](ErfOp) { return [](double x) { return std::erf(x); }; })
          .Case([](SigmoidOp) {
            return [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
          })
          .Case([](SinOp) { return [](double x) { return std::sin(x); }; })
          .Case([](CosOp) { return [](double x) { return std::cos(x); }; })
          .Case([](CeilOp) { return [](double x) { return std::ceil(x); }; })
          .Case([](FloorOp) { return [](double x) { return std::floor(x); }; })
          .Case([](RoundOp) {
            return [](double x) { return std::nearbyint(x); };
          })
          .Case([](SiluOp) {
            return [](double x) { return x / (1.0 + std::exp(-x)); };
          })
          .Case([](NotOp) { return [](double x) { return double(x == 0); }; })
          .Default([](Operation *) { return nullptr; });
  if (!fn) {
    return {};
  }
  // Integers go through double: exact for the shape arithmetic this folds.
  ElementsAttr elements = dyn_cast_or_null<ElementsAttr>(input);
  if (!elements || type.getNumElements() > kMaxFoldElements) {
    return {};
  }
  auto values = readAsDouble(elements);
  if (failed(values)) {
    return {};
  }
  for (double &v : *values) {
    v = fn(v);
  }
  return makeFromDouble(type, *values);
}

#define GET_OP_CLASSES
#include "nuri/Dialect/Nuri/IR/NuriOps.cpp.inc"

OpFoldResult nuri::detail::foldReduce(Operation *op, Attribute input,
                                      ArrayRef<int64_t> axes) {
  auto type = cast<RankedTensorType>(op->getResult(0).getType());
  auto inType = cast<RankedTensorType>(op->getOperand(0).getType());
  if (axes.empty() && type == inType) {
    return op->getOperand(0);
  }
  ElementsAttr elements = dyn_cast_or_null<ElementsAttr>(input);
  if (!elements || inType.getNumElements() > kMaxFoldElements) {
    return {};
  }
  auto values = readAsDouble(elements);
  if (failed(values)) {
    return {};
  }
  // Each input element lands in the output element that drops the reduced
  // coordinates.
  ArrayRef<int64_t> shape = inType.getShape();
  SmallVector<int64_t> keptStrides(shape.size(), 0);
  int64_t stride = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    if (!llvm::is_contained(axes, d)) {
      keptStrides[d] = stride;
      stride *= shape[d];
    }
  }
  bool isMax = isa<ReduceMaxOp>(op), isMin = isa<ReduceMinOp>(op);
  bool isProd = isa<ReduceProdOp>(op), isMean = isa<ReduceMeanOp>(op);
  double init = isMax ? -INFINITY : isMin ? INFINITY : isProd ? 1.0 : 0.0;
  std::vector<double> out(type.getNumElements(), init);
  SmallVector<int64_t> index(shape.size(), 0);
  for (double v : *values) {
    int64_t target = 0;
    for (size_t d = 0; d < shape.size(); ++d) {
      target += index[d] * keptStrides[d];
    }
    double &acc = out[target];
    acc = isMax    ? std::max(acc, v)
          : isMin  ? std::min(acc, v)
          : isProd ? acc * v
                   : acc + v;
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      if (++index[d] < shape[d]) {
        break;
      }
      index[d] = 0;
    }
  }
  if (isMean) {
    double count = static_cast<double>(inType.getNumElements()) /
                   std::max<int64_t>(1, type.getNumElements());
    for (double &v : out) {
      v /= count;
    }
  }
  return makeFromDouble(type, out);
}
