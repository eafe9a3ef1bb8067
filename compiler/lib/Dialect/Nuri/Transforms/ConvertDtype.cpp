//===- ConvertDtype.cpp - Float tensors and weights to the compute dtype --===//
//
// The NPU computes bf16 (or fp16) x bf16 -> fp32 accumulate; the CPU device
// runs the same converted graph, so both see identical weights and identical
// rounding points between ops. Weights round once, here, to nearest even.
//
//===----------------------------------------------------------------------===//

#include "nuri/Dialect/Nuri/IR/ConstantData.h"
#include "nuri/Dialect/Nuri/IR/NuriOps.h"
#include "nuri/Dialect/Nuri/Transforms/Passes.h"
#include "nuri/isa/Numerics.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"

#include <algorithm>
#include <cmath>

namespace nuri {
#define GEN_PASS_DEF_NURICONVERTDTYPE
#include "nuri/Dialect/Nuri/Transforms/Passes.h.inc"
} // namespace nuri

using namespace mlir;
using namespace nuri;

namespace {

bool isConvertible(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor && llvm::isa<FloatType>(tensor.getElementType()) &&
         (tensor.getElementType().isF16() || tensor.getElementType().isBF16() ||
          tensor.getElementType().isF32() || tensor.getElementType().isF64());
}

Type withElement(Type type, Type element) {
  return cast<RankedTensorType>(type).clone(element);
}

// Ops whose kernels or numerics want their original precision: opaque ONNX
// ops (their kernels may know fp32 only) and quantization (scales in bf16
// would move every quantized value).
bool keepsPrecision(Operation *op) {
  if (llvm::isa<OnnxOp, QuantizeOp, DequantizeOp, DequantizeBlockedOp,
                DynamicQuantizeOp, QuantizedMatmulOp>(op)) {
    return true;
  }
  // The bias add of a quantized linear (nuri-quantize's): the int8
  // read-out adds the bias in fp32 and rounds once, on the NPU
  // (vec.accrd) as on the CPU (docs/quantization.md).
  if (auto add = llvm::dyn_cast<AddOp>(op)) {
    return llvm::any_of(add->getOperands(), [](Value v) {
      // (Already behind the cast this pass put after the product.)
      if (auto c = v.getDefiningOp<CastOp>()) {
        v = c.getInput();
      }
      return v.getDefiningOp<QuantizedMatmulOp>() != nullptr;
    });
  }
  return false;
}

// The payload of a float constant in `element`, rounded to nearest even.
FailureOr<ElementsAttr> convertPayload(ElementsAttr value, Type element,
                                       StringRef nameHint) {
  auto from = value.getShapedType();
  auto type = cast<ShapedType>(from.clone(element));
  Type src = from.getElementType();
  // Finite values saturate to the largest finite value instead of rounding
  // to infinity: masks written as -FLT_MAX must stay finite, or a row that
  // is masked twice (causal and padding) or entirely becomes -inf - -inf.
  double largest = element.isBF16()  ? 3.3895313892515355e38
                   : element.isF16() ? 65504.0
                                     : 3.4028234663852886e38;
  auto saturate = [largest](double v) {
    return std::isfinite(v) ? std::clamp(v, -largest, largest) : v;
  };
  // A splat stays a splat of any size (weight placeholders of a
  // timing-only compile are splats of billions of elements).
  if (auto dense = dyn_cast<DenseElementsAttr>(value);
      dense && dense.isSplat() && llvm::isa<FloatType>(src)) {
    double v = saturate(dense.getSplatValue<APFloat>().convertToDouble());
    auto one = cast<DenseElementsAttr>(
        makeFromDouble(RankedTensorType::get({1}, element), {v}));
    return ElementsAttr(
        DenseElementsAttr::get(type, one.getSplatValue<Attribute>()));
  }
  if (value.isSplat() || from.getNumElements() <= 16) {
    FailureOr<std::vector<double>> values = readAsDouble(value);
    if (failed(values)) {
      return failure();
    }
    for (double &v : *values) {
      v = saturate(v);
    }
    return makeFromDouble(type, *values);
  }
  // Weights: byte to byte, without a detour through doubles.
  FailureOr<std::vector<char>> raw = readRawBytes(value);
  if (failed(raw)) {
    return failure();
  }
  size_t n = static_cast<size_t>(from.getNumElements());
  auto loadRaw = [&](size_t i) -> double {
    const char *p = raw->data();
    if (src.isF32()) {
      float f;
      std::memcpy(&f, p + 4 * i, 4);
      return f;
    }
    if (src.isF64()) {
      double d;
      std::memcpy(&d, p + 8 * i, 8);
      return d;
    }
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    return src.isBF16() ? nuri::isa::bf16ToF32(h) : nuri::isa::f16ToF32(h);
  };
  auto load = [&](size_t i) -> float {
    return static_cast<float>(saturate(loadRaw(i)));
  };
  std::vector<char> bytes;
  if (element.isF32()) {
    bytes.resize(4 * n);
    for (size_t i = 0; i < n; ++i) {
      float f = load(i);
      std::memcpy(bytes.data() + 4 * i, &f, 4);
    }
  } else {
    bytes.resize(2 * n);
    bool bf16 = element.isBF16();
    for (size_t i = 0; i < n; ++i) {
      uint16_t h =
          bf16 ? nuri::isa::f32ToBf16(load(i)) : nuri::isa::f32ToF16(load(i));
      std::memcpy(bytes.data() + 2 * i, &h, 2);
    }
  }
  return makeFromRawBytes(type, bytes, nameHint);
}

struct ConvertDtypePass
    : public nuri::impl::NuriConvertDtypeBase<ConvertDtypePass> {
  using NuriConvertDtypeBase::NuriConvertDtypeBase;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal()) {
      return;
    }
    MLIRContext *ctx = &getContext();
    Type element;
    if (dtype == "bf16") {
      element = BFloat16Type::get(ctx);
    } else if (dtype == "fp16") {
      element = Float16Type::get(ctx);
    } else if (dtype == "fp32") {
      element = Float32Type::get(ctx);
    } else {
      func.emitError("unknown compute dtype '")
          << dtype << "' (expected bf16, fp16 or fp32)";
      return signalPassFailure();
    }
    auto target = [&](Type type) {
      return isConvertible(type) ? withElement(type, element) : type;
    };
    auto needsCast = [&](Value v, Type want) { return v.getType() != want; };

    Block &body = func.getBody().front();
    OpBuilder builder(ctx);

    // Float arguments: cast on entry; the model keeps its interface. State
    // buffers (nuri-kv-cache's caches) are not interface but storage the
    // programs keep on the device: they take the compute dtype, so a decode
    // step does not widen and narrow its whole cache, and the cache holds
    // half the bytes. The values are the same: a cache only ever holds
    // values computed in the compute dtype.
    auto isState = [&](DictionaryAttr attrs) {
      return attrs && attrs.get(kStateAttrName);
    };
    builder.setInsertionPointToStart(&body);
    for (BlockArgument arg : body.getArguments()) {
      Type want = target(arg.getType());
      if (want == arg.getType()) {
        continue;
      }
      if (isState(func.getArgAttrDict(arg.getArgNumber()))) {
        arg.setType(want);
        continue;
      }
      auto cast = builder.create<CastOp>(arg.getLoc(), want, arg);
      // An argument returned as it is stays the model's input, uncast.
      arg.replaceUsesWithIf(cast.getResult(), [&](OpOperand &use) {
        return use.getOwner() != cast &&
               !llvm::isa<func::ReturnOp>(use.getOwner());
      });
    }

    // Ops in order, so every operand already has its final type.
    SmallVector<Operation *> ops;
    SmallVector<CastOp> deadCasts; // widened again past by the int8 read-out
    for (Operation &op : body) {
      ops.push_back(&op);
    }
    for (Operation *op : ops) {
      if (llvm::isa<func::ReturnOp>(op)) {
        builder.setInsertionPoint(op);
        for (OpOperand &use : op->getOpOperands()) {
          unsigned i = use.getOperandNumber();
          Type want = func.getResultTypes()[i];
          if (isState(func.getResultAttrDict(i))) {
            want = target(want);
          }
          if (needsCast(use.get(), want)) {
            use.set(builder.create<CastOp>(op->getLoc(), want, use.get()));
          }
        }
        continue;
      }
      if (auto constant = dyn_cast<ConstantOp>(op)) {
        Type want = target(constant.getType());
        if (want == constant.getType()) {
          continue;
        }
        std::string hint = "cvt";
        if (auto name = dyn_cast<NameLoc>(op->getLoc())) {
          hint = name.getName().str();
        }
        FailureOr<ElementsAttr> payload = convertPayload(
            constant.getValue(), cast<ShapedType>(want).getElementType(), hint);
        if (failed(payload)) {
          op->emitOpError("has a float payload that cannot be converted to ")
              << dtype;
          return signalPassFailure();
        }
        constant.setValueAttr(*payload);
        constant.getResult().setType(cast<RankedTensorType>(want));
        continue;
      }
      if (keepsPrecision(op)) {
        // Operands back to the precision the op was written for, results
        // forward to the compute dtype for the converted ops that read them.
        builder.setInsertionPoint(op);
        for (OpOperand &use : op->getOpOperands()) {
          Value v = use.get();
          if (!isConvertible(v.getType()) ||
              cast<ShapedType>(v.getType()).getElementType() != element) {
            continue;
          }
          // The original type: a cast's input, else fp32.
          Type original = withElement(v.getType(), builder.getF32Type());
          if (auto prior = v.getDefiningOp<CastOp>()) {
            if (isConvertible(prior.getInput().getType())) {
              original = prior.getInput().getType();
            }
            // The quantized read-out's bias add reads the product itself,
            // not its rounding to the compute dtype.
            if (prior.getInput().getDefiningOp<QuantizedMatmulOp>()) {
              use.set(prior.getInput());
              if (prior->use_empty()) {
                deadCasts.push_back(prior);
              }
              continue;
            }
          }
          if (original != v.getType()) {
            use.set(builder.create<CastOp>(op->getLoc(), original, v));
          }
        }
        builder.setInsertionPointAfter(op);
        for (Value result : op->getResults()) {
          Type want = target(result.getType());
          if (want == result.getType() || result.use_empty()) {
            continue;
          }
          auto cast = builder.create<CastOp>(op->getLoc(), want, result);
          result.replaceAllUsesExcept(cast.getResult(), cast);
        }
        continue;
      }
      for (Value result : op->getResults()) {
        result.setType(target(result.getType()));
      }
    }
    for (CastOp c : deadCasts) {
      if (c->use_empty()) {
        llvm::erase(ops, c.getOperation());
        c.erase();
      }
    }
    // A converted cast whose input and output now agree is gone.
    for (Operation *op : ops) {
      auto cast = dyn_cast<CastOp>(op);
      if (cast && cast.getInput().getType() == cast.getType()) {
        cast.getResult().replaceAllUsesWith(cast.getInput());
        cast.erase();
      }
    }
    func.setType(FunctionType::get(ctx, body.getArgumentTypes(),
                                   body.getTerminator()->getOperandTypes()));
  }
};

} // namespace
