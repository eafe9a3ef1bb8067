//===- FoldWeightDequantize.cpp - Quantized weights made float constants --===//
//
// nuri-fold-weight-dequantize (Passes.td). The arithmetic is the CPU
// kernels' (runtime/lib/cpu/Elementwise.cpp runDequantize, Quantized.cpp
// runDequantizeBlocked), so a folded weight equals what a cpu session
// computes at prepare, bit for bit.
//
//===----------------------------------------------------------------------===//

#include "nuri/Dialect/Nuri/IR/ConstantData.h"
#include "nuri/Dialect/Nuri/IR/NuriOps.h"
#include "nuri/Dialect/Nuri/Transforms/Passes.h"
#include "nuri/isa/Numerics.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cstring>

namespace nuri {
#define GEN_PASS_DEF_NURIFOLDWEIGHTDEQUANTIZE
#include "nuri/Dialect/Nuri/Transforms/Passes.h.inc"
} // namespace nuri

using namespace mlir;

namespace {

ElementsAttr constantOf(Value v) {
  auto c = v ? v.getDefiningOp<nuri::ConstantOp>() : nuri::ConstantOp();
  return c ? c.getValue() : ElementsAttr();
}

/// The values of an integer or fp8 e4m3 constant, as the kernels read them.
FailureOr<std::vector<float>> quantValues(ElementsAttr attr) {
  Type element = attr.getShapedType().getElementType();
  if (element.isFloat8E4M3FN()) {
    FailureOr<std::vector<char>> raw = nuri::readRawBytes(attr);
    if (failed(raw)) {
      return failure();
    }
    std::vector<float> out(raw->size());
    for (size_t i = 0; i < raw->size(); ++i) {
      out[i] = ::nuri::isa::e4m3ToF32(static_cast<uint8_t>((*raw)[i]));
    }
    return out;
  }
  FailureOr<std::vector<int64_t>> ints = nuri::readAsInt(attr);
  if (failed(ints)) {
    return failure();
  }
  return std::vector<float>(ints->begin(), ints->end());
}

FailureOr<std::vector<float>> floats(ElementsAttr attr) {
  FailureOr<std::vector<double>> d = nuri::readAsDouble(attr);
  if (failed(d)) {
    return failure();
  }
  // The scales are float tensors: through double and back is exact.
  return std::vector<float>(d->begin(), d->end());
}

ElementsAttr f32Constant(ShapedType type, const std::vector<float> &values) {
  llvm::ArrayRef<char> raw(reinterpret_cast<const char *>(values.data()),
                           values.size() * sizeof(float));
  return nuri::makeFromRawBytes(type.clone(Float32Type::get(type.getContext())),
                                raw, "dequantized");
}

/// dequantize: f32(q - zp) * scale[channel].
FailureOr<ElementsAttr> fold(nuri::DequantizeOp op) {
  ElementsAttr q = constantOf(op.getInput()), s = constantOf(op.getScale());
  ElementsAttr z = constantOf(op.getZeroPoint());
  if (!q || !s || (op.getZeroPoint() && !z)) {
    return failure();
  }
  FailureOr<std::vector<float>> qv = quantValues(q), sv = floats(s);
  FailureOr<std::vector<float>> zv =
      z ? quantValues(z) : FailureOr<std::vector<float>>(std::vector<float>());
  if (failed(qv) || failed(sv) || failed(zv)) {
    return failure();
  }
  ArrayRef<int64_t> shape = q.getShapedType().getShape();
  int64_t inner = 1, channels = 1;
  if (sv->size() != 1) {
    int64_t rank = static_cast<int64_t>(shape.size());
    int64_t axis = op.getAxis() < 0 ? op.getAxis() + rank : op.getAxis();
    channels = shape[axis];
    for (int64_t d = axis + 1; d < rank; ++d) {
      inner *= shape[d];
    }
  }
  std::vector<float> out(qv->size());
  for (size_t i = 0; i < out.size(); ++i) {
    size_t c = sv->size() == 1 ? 0 : (i / inner) % channels;
    float zero = zv->empty() ? 0.0f : (*zv)[zv->size() == 1 ? 0 : c];
    // Integers: the difference is exact in fp32 (|q - zp| < 2^24).
    out[i] = ((*qv)[i] - zero) * (*sv)[c];
  }
  return f32Constant(op.getType(), out);
}

/// dequantize_blocked: (q[n, k] - zp[n, k / block]) * scale[n, k / block]
/// into [K, N].
FailureOr<ElementsAttr> fold(nuri::DequantizeBlockedOp op) {
  ElementsAttr packed = constantOf(op.getPacked());
  ElementsAttr s = constantOf(op.getScales());
  ElementsAttr z = constantOf(op.getZeroPoints());
  if (!packed || !s || (op.getZeroPoints() && !z)) {
    return failure();
  }
  FailureOr<std::vector<char>> bytes = nuri::readRawBytes(packed);
  FailureOr<std::vector<float>> sv = floats(s);
  FailureOr<std::vector<char>> zb =
      z ? nuri::readRawBytes(z)
        : FailureOr<std::vector<char>>(std::vector<char>());
  if (failed(bytes) || failed(sv) || failed(zb)) {
    return failure();
  }
  int64_t bits = op.getBits(), block = op.getBlockSize();
  ArrayRef<int64_t> shape = packed.getShapedType().getShape();
  int64_t n = shape[0], blocks = shape[1];
  int64_t k = op.getType().getDimSize(0);
  int64_t zpBytes = (blocks * bits + 7) / 8;
  auto value = [bits](const char *data, int64_t i) -> int {
    auto *u = reinterpret_cast<const uint8_t *>(data);
    return bits == 8 ? u[i] : (u[i / 2] >> (i % 2 ? 4 : 0)) & 15;
  };
  std::vector<float> out(size_t(k * n));
  for (int64_t c = 0; c < n; ++c) {
    for (int64_t b = 0; b < blocks; ++b) {
      const char *blob = bytes->data() + (c * blocks + b) * (block * bits / 8);
      int zero = z ? value(zb->data() + c * zpBytes, b) : 1 << (bits - 1);
      float scale = (*sv)[c * blocks + b];
      for (int64_t i = 0; i < std::min(block, k - b * block); ++i) {
        out[(b * block + i) * n + c] =
            static_cast<float>(value(blob, i) - zero) * scale;
      }
    }
  }
  return f32Constant(op.getType(), out);
}

struct FoldWeightDequantizePass
    : nuri::impl::NuriFoldWeightDequantizeBase<FoldWeightDequantizePass> {
  void runOnOperation() override {
    std::vector<Operation *> ops;
    getOperation()->walk([&](Operation *op) {
      if (isa<nuri::DequantizeOp, nuri::DequantizeBlockedOp>(op)) {
        ops.push_back(op);
      }
    });
    for (Operation *op : ops) {
      // Only an f32 result: the dtype conversion comes after this pass.
      auto type = cast<ShapedType>(op->getResult(0).getType());
      if (!type.getElementType().isF32()) {
        continue;
      }
      FailureOr<ElementsAttr> folded =
          llvm::TypeSwitch<Operation *, FailureOr<ElementsAttr>>(op)
              .Case<nuri::DequantizeOp, nuri::DequantizeBlockedOp>(
                  [](auto o) { return fold(o); })
              .Default([](Operation *) { return failure(); });
      if (failed(folded)) {
        continue; // not all constant: the dequantize stays an op
      }
      OpBuilder b(op);
      Value constant =
          b.create<nuri::ConstantOp>(op->getLoc(), *folded).getResult();
      llvm::SetVector<Operation *> inputs;
      for (Value v : op->getOperands()) {
        if (Operation *def = v.getDefiningOp()) {
          inputs.insert(def);
        }
      }
      op->getResult(0).replaceAllUsesWith(constant);
      op->erase();
      for (Operation *def : inputs) {
        if (def->use_empty()) {
          def->erase();
        }
      }
    }
  }
};

} // namespace
