//===- ConstantData.cpp - Reading and making constant tensors ------------===//

#include "nuri/Dialect/Nuri/IR/ConstantData.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

#include <cmath>
#include <cstring>

using namespace mlir;

namespace nuri {

bool isFoldableElementType(Type type) {
  return isa<FloatType>(type) || isa<IntegerType>(type);
}

static std::optional<ArrayRef<char>> resourceBytes(ElementsAttr attr) {
  auto resource = dyn_cast<DenseResourceElementsAttr>(attr);
  if (!resource) {
    return std::nullopt;
  }
  AsmResourceBlob *blob = resource.getRawHandle().getBlob();
  if (!blob) {
    return std::nullopt;
  }
  return blob->getData();
}

static int64_t byteWidth(Type elementType) {
  return elementType.getIntOrFloatBitWidth() / 8;
}

FailureOr<std::vector<char>> readRawBytes(ElementsAttr attr) {
  Type elementType = attr.getShapedType().getElementType();
  if (!elementType.isIntOrFloat() || elementType.getIntOrFloatBitWidth() % 8) {
    return failure();
  }
  int64_t width = byteWidth(elementType);
  int64_t count = attr.getNumElements();
  if (auto bytes = resourceBytes(attr)) {
    if (static_cast<int64_t>(bytes->size()) != width * count) {
      return failure();
    }
    return std::vector<char>(bytes->begin(), bytes->end());
  }
  auto dense = dyn_cast<DenseElementsAttr>(attr);
  if (!dense) {
    return failure();
  }
  ArrayRef<char> raw = dense.getRawData();
  std::vector<char> out(width * count);
  if (dense.isSplat()) {
    for (int64_t i = 0; i < count; ++i) {
      std::memcpy(out.data() + i * width, raw.data(), width);
    }
  } else {
    std::memcpy(out.data(), raw.data(), out.size());
  }
  return out;
}

// Decodes one element of a little-endian payload.
static double decodeFloat(FloatType type, const char *p) {
  if (type.isF32()) {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }
  if (type.isF64()) {
    double v;
    std::memcpy(&v, p, 8);
    return v;
  }
  unsigned bits = type.getWidth();
  uint64_t word = 0;
  std::memcpy(&word, p, bits / 8);
  APFloat value(type.getFloatSemantics(), APInt(bits, word));
  bool lost;
  value.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &lost);
  return value.convertToDouble();
}

static int64_t decodeInt(IntegerType type, const char *p) {
  unsigned bits = type.getWidth();
  uint64_t word = 0;
  std::memcpy(&word, p, bits / 8);
  APInt value(bits, word);
  return type.isUnsigned() ? static_cast<int64_t>(value.getZExtValue())
                           : value.getSExtValue();
}

template <typename T>
static FailureOr<std::vector<T>> readElements(ElementsAttr attr) {
  Type elementType = attr.getShapedType().getElementType();
  int64_t count = attr.getNumElements();
  if (count > kMaxFoldElements || !isFoldableElementType(elementType)) {
    return failure();
  }
  std::vector<T> out;
  out.reserve(count);
  if (elementType.isInteger(1)) {
    auto dense = dyn_cast<DenseElementsAttr>(attr);
    if (!dense) {
      return failure();
    }
    for (bool b : dense.getValues<bool>()) {
      out.push_back(b ? 1 : 0);
    }
    return out;
  }
  FailureOr<std::vector<char>> bytes = readRawBytes(attr);
  if (failed(bytes)) {
    return failure();
  }
  int64_t width = byteWidth(elementType);
  for (int64_t i = 0; i < count; ++i) {
    const char *p = bytes->data() + i * width;
    if (auto floatType = dyn_cast<FloatType>(elementType)) {
      out.push_back(static_cast<T>(decodeFloat(floatType, p)));
    } else {
      out.push_back(
          static_cast<T>(decodeInt(cast<IntegerType>(elementType), p)));
    }
  }
  return out;
}

FailureOr<std::vector<double>> readAsDouble(ElementsAttr attr) {
  return readElements<double>(attr);
}

FailureOr<std::vector<int64_t>> readAsInt(ElementsAttr attr) {
  if (!isa<IntegerType>(attr.getShapedType().getElementType())) {
    return failure();
  }
  return readElements<int64_t>(attr);
}

static APInt toAPInt(IntegerType type, int64_t value) {
  return APInt(type.getWidth(), static_cast<uint64_t>(value),
               /*isSigned=*/!type.isUnsigned());
}

ElementsAttr makeFromInt(ShapedType type, ArrayRef<int64_t> values) {
  Type elementType = type.getElementType();
  if (auto floatType = dyn_cast<FloatType>(elementType)) {
    std::vector<double> asDouble(values.begin(), values.end());
    return makeFromDouble(type, asDouble);
  }
  auto intType = cast<IntegerType>(elementType);
  if (intType.getWidth() == 1) {
    SmallVector<bool> bools;
    for (int64_t v : values) {
      bools.push_back(v != 0);
    }
    return DenseElementsAttr::get(type, bools);
  }
  SmallVector<APInt> ints;
  ints.reserve(values.size());
  for (int64_t v : values) {
    ints.push_back(toAPInt(intType, v));
  }
  return DenseElementsAttr::get(type, ints);
}

ElementsAttr makeFromDouble(ShapedType type, ArrayRef<double> values) {
  Type elementType = type.getElementType();
  if (auto intType = dyn_cast<IntegerType>(elementType)) {
    std::vector<int64_t> ints;
    ints.reserve(values.size());
    for (double v : values) {
      ints.push_back(intType.getWidth() == 1
                         ? (v != 0.0)
                         : static_cast<int64_t>(std::trunc(v)));
    }
    return makeFromInt(type, ints);
  }
  auto floatType = cast<FloatType>(elementType);
  if (floatType.isF32()) {
    SmallVector<float> floats(values.begin(), values.end());
    return DenseElementsAttr::get(type, ArrayRef<float>(floats));
  }
  SmallVector<APFloat> floats;
  floats.reserve(values.size());
  for (double v : values) {
    APFloat value(v);
    bool lost;
    value.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven,
                  &lost);
    floats.push_back(value);
  }
  return DenseElementsAttr::get(type, floats);
}

ElementsAttr makeFromRawBytes(ShapedType type, ArrayRef<char> bytes,
                              StringRef nameHint) {
  if (static_cast<int64_t>(bytes.size()) <= kResourceThresholdBytes) {
    return DenseElementsAttr::getFromRawBuffer(type, bytes);
  }
  return DenseResourceElementsAttr::get(
      type, nameHint,
      HeapAsmResourceBlob::allocateAndCopyWithAlign(bytes, alignof(uint64_t)));
}

SmallVector<int64_t> rowMajorStrides(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i) {
    strides[i] = strides[i + 1] * shape[i + 1];
  }
  return strides;
}

std::vector<int64_t> broadcastIndexMap(ArrayRef<int64_t> operandShape,
                                       ArrayRef<int64_t> resultShape) {
  int64_t count = 1;
  for (int64_t d : resultShape) {
    count *= d;
  }
  size_t offset = resultShape.size() - operandShape.size();
  SmallVector<int64_t> operandStrides = rowMajorStrides(operandShape);
  std::vector<int64_t> map(count);
  SmallVector<int64_t> index(resultShape.size(), 0);
  for (int64_t flat = 0; flat < count; ++flat) {
    int64_t source = 0;
    for (size_t d = 0; d < operandShape.size(); ++d) {
      if (operandShape[d] != 1) {
        source += index[d + offset] * operandStrides[d];
      }
    }
    map[flat] = source;
    for (int64_t d = static_cast<int64_t>(resultShape.size()) - 1; d >= 0;
         --d) {
      if (++index[d] < resultShape[d]) {
        break;
      }
      index[d] = 0;
    }
  }
  return map;
}

} // namespace nuri
