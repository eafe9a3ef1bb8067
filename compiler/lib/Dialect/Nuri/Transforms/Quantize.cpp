//===- Quantize.cpp - Post-training quantization of linears ---------------===//
//
// nuri-smooth-quant and nuri-quantize, the compiler half of
// `nuri compile --quantize` (the driver calibrates; docs/quantization.md).
// Both read what calibration found from attributes on the linears, so a lit
// test states a calibration inline.
//
//===----------------------------------------------------------------------===//

#include "nuri/Dialect/Nuri/Transforms/Quantization.h"

#include "nuri/Dialect/Nuri/IR/ConstantData.h"
#include "nuri/Dialect/Nuri/Transforms/Passes.h"
#include "nuri/isa/Numerics.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringMap.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace nuri {
#define GEN_PASS_DEF_NURISMOOTHQUANT
#define GEN_PASS_DEF_NURIQUANTIZE
#include "nuri/Dialect/Nuri/Transforms/Passes.h.inc"
} // namespace nuri

using namespace mlir;
using namespace nuri;

namespace {

std::string nameOf(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc)) {
    return name.getName().str();
  }
  if (auto fused = dyn_cast<FusedLoc>(loc)) {
    for (Location inner : fused.getLocations()) {
      std::string name = nameOf(inner);
      if (!name.empty()) {
        return name;
      }
    }
  }
  if (auto callSite = dyn_cast<CallSiteLoc>(loc)) {
    return nameOf(callSite.getCallee());
  }
  return "";
}

// Whether `value` reaches a function result through shape ops only: the
// logits of a language model, whatever reshapes the exporter put after them.
bool reachesResult(Value value, int depth = 0) {
  if (depth > 8) {
    return false;
  }
  for (Operation *user : value.getUsers()) {
    if (llvm::isa<func::ReturnOp>(user)) {
      return true;
    }
    if (llvm::isa<ReshapeOp, TransposeOp, CastOp>(user) &&
        reachesResult(user->getResult(0), depth + 1)) {
      return true;
    }
  }
  return false;
}

FailureOr<std::vector<float>> readF32(Value value) {
  auto constant = value.getDefiningOp<ConstantOp>();
  if (!constant) {
    return failure();
  }
  FailureOr<std::vector<char>> raw = readRawBytes(constant.getValue());
  if (failed(raw) ||
      !constant.getValue().getShapedType().getElementType().isF32()) {
    return failure();
  }
  std::vector<float> out(raw->size() / 4);
  std::memcpy(out.data(), raw->data(), out.size() * 4);
  return out;
}

/// The value of a splat f32 constant: a shapes-only compile's weight
/// placeholder (OnnxImportOptions::weightPlaceholders), which the weight-only
/// schemes quantize into splats too, so a 7B model's quantized weights hold
/// no data either.
std::optional<float> splatF32(Value value) {
  auto constant = value.getDefiningOp<ConstantOp>();
  auto dense =
      constant ? dyn_cast<DenseElementsAttr>(constant.getValue()) : nullptr;
  if (!dense || !dense.isSplat() || !dense.getElementType().isF32()) {
    return std::nullopt;
  }
  return dense.getSplatValue<float>();
}

Value makeConstant(OpBuilder &builder, Location loc, ShapedType type,
                   const void *data, size_t bytes, StringRef nameHint) {
  llvm::ArrayRef<char> raw(static_cast<const char *>(data), bytes);
  return builder.create<ConstantOp>(loc, makeFromRawBytes(type, raw, nameHint));
}

Value makeF32(OpBuilder &builder, Location loc, ArrayRef<int64_t> shape,
              const std::vector<float> &values, StringRef nameHint) {
  auto type = RankedTensorType::get(shape, builder.getF32Type());
  return makeConstant(builder, loc, type, values.data(), values.size() * 4,
                      nameHint);
}

// Replacing a weight leaves the float original unused: erase it, so the
// package does not carry both.
void eraseIfDead(Value value) {
  if (auto constant = value.getDefiningOp<ConstantOp>()) {
    if (constant->use_empty()) {
      constant->erase();
    }
  }
}

std::optional<double> floatEntry(DictionaryAttr dict, StringRef name) {
  if (auto f = dict.getAs<FloatAttr>(name)) {
    return f.getValueAsDouble();
  }
  return std::nullopt;
}

// `channel_absmax` of a calibration attribute, checked against `k`.
FailureOr<std::vector<float>> channelAbsMax(LinearOp op, StringRef key,
                                            int64_t k) {
  auto cal = op->getAttrOfType<DictionaryAttr>(kCalibrationAttr);
  auto array = cal ? cal.getAs<DenseF32ArrayAttr>("channel_absmax")
                   : DenseF32ArrayAttr();
  if (!array) {
    return failure();
  }
  if (static_cast<int64_t>(array.size()) != k) {
    op.emitError("nuri.calibration of '")
        << key << "' has " << array.size()
        << " channel_absmax values for an input of " << k << " channels";
    return failure();
  }
  return std::vector<float>(array.asArrayRef().begin(),
                            array.asArrayRef().end());
}

//===----------------------------------------------------------------------===//
// nuri-smooth-quant
//===----------------------------------------------------------------------===//

struct SmoothQuantPass : nuri::impl::NuriSmoothQuantBase<SmoothQuantPass> {
  using NuriSmoothQuantBase::NuriSmoothQuantBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (!(alpha >= 0.0 && alpha <= 1.0)) {
      module.emitError("smoothquant alpha ") << alpha << " is outside [0, 1]";
      return signalPassFailure();
    }
    llvm::DenseMap<Operation *, QuantCandidate> candidates;
    for (QuantCandidate &c : collectQuantCandidates(module)) {
      candidates[c.op] = c;
    }
    SmallVector<LayerNormOp> norms;
    module.walk([&](LayerNormOp ln) { norms.push_back(ln); });
    for (LayerNormOp ln : norms) {
      if (failed(smooth(ln, candidates))) {
        return signalPassFailure();
      }
    }
  }

  LogicalResult smooth(LayerNormOp ln,
                       llvm::DenseMap<Operation *, QuantCandidate> &cands) {
    Value out = ln.getResult();
    auto type = cast<RankedTensorType>(out.getType());
    // Only a norm over the last axis has one scale per input channel of
    // the linears it feeds.
    if (out.use_empty() || int64_t(ln.getAxis()) != type.getRank() - 1) {
      return success();
    }
    int64_t k = type.getShape().back();
    SmallVector<LinearOp> users;
    for (OpOperand &use : out.getUses()) {
      auto linear = dyn_cast<LinearOp>(use.getOwner());
      auto it = linear ? cands.find(linear) : cands.end();
      if (!linear || use.getOperandNumber() != 0 || it == cands.end() ||
          it->second.head || linear->hasAttr(kQuantizeSkipAttr)) {
        return success();
      }
      users.push_back(linear);
    }
    FailureOr<std::vector<float>> gamma = readF32(ln.getScale());
    if (failed(gamma) || static_cast<int64_t>(gamma->size()) != k) {
      return success();
    }
    std::vector<float> beta;
    if (Value bias = ln.getBias()) {
      FailureOr<std::vector<float>> b = readF32(bias);
      if (failed(b) || static_cast<int64_t>(b->size()) != k) {
        return success();
      }
      beta = std::move(*b);
    }
    std::vector<float> amax(k, 0.0f), wmax(k, 0.0f);
    std::vector<std::vector<float>> weights;
    for (LinearOp linear : users) {
      FailureOr<std::vector<float>> a =
          channelAbsMax(linear, cands[linear].key, k);
      if (failed(a)) {
        // A diagnostic was emitted for a malformed attribute; a missing one
        // (no SmoothQuant statistics) leaves the group alone.
        if (linear->getAttrOfType<DictionaryAttr>(kCalibrationAttr) &&
            linear->getAttrOfType<DictionaryAttr>(kCalibrationAttr)
                .get("channel_absmax")) {
          return failure();
        }
        return success();
      }
      FailureOr<std::vector<float>> w = readF32(linear.getWeight());
      if (failed(w)) {
        return success();
      }
      int64_t n = static_cast<int64_t>(w->size()) / k;
      for (int64_t j = 0; j < k; ++j) {
        amax[j] = std::max(amax[j], (*a)[j]);
        for (int64_t c = 0; c < n; ++c) {
          wmax[j] = std::max(wmax[j], std::fabs((*w)[j * n + c]));
        }
      }
      weights.push_back(std::move(*w));
    }
    std::vector<float> s(k, 1.0f);
    for (int64_t j = 0; j < k; ++j) {
      // A channel that never fired, or a zero weight row, keeps s = 1.
      if (amax[j] <= 0.0f || wmax[j] <= 0.0f) {
        continue;
      }
      double v = std::pow(double(amax[j]), alpha) /
                 std::pow(double(wmax[j]), 1.0 - alpha);
      s[j] = static_cast<float>(std::clamp(v, 1e-5, 1e5));
    }
    OpBuilder builder(ln);
    Location loc = ln.getLoc();
    for (int64_t j = 0; j < k; ++j) {
      (*gamma)[j] /= s[j];
      if (!beta.empty()) {
        beta[j] /= s[j];
      }
    }
    auto paramShape = cast<ShapedType>(ln.getScale().getType()).getShape();
    Value oldGamma = ln.getScale();
    ln.getScaleMutable().assign(
        makeF32(builder, loc, paramShape, *gamma, "smoothquant.gamma"));
    eraseIfDead(oldGamma);
    if (!beta.empty()) {
      Value oldBeta = ln.getBias();
      auto biasShape = cast<ShapedType>(oldBeta.getType()).getShape();
      ln.getBiasMutable().assign(
          makeF32(builder, loc, biasShape, beta, "smoothquant.beta"));
      eraseIfDead(oldBeta);
    }
    for (auto [linear, w] : llvm::zip(users, weights)) {
      int64_t n = static_cast<int64_t>(w.size()) / k;
      for (int64_t j = 0; j < k; ++j) {
        for (int64_t c = 0; c < n; ++c) {
          w[j * n + c] *= s[j];
        }
      }
      OpBuilder wb(linear);
      Value oldWeight = linear.getWeight();
      linear.getWeightMutable().assign(
          makeF32(wb, linear.getLoc(), {k, n}, w, "smoothquant.weight"));
      eraseIfDead(oldWeight);
      // The input each linear now sees is x / s.
      auto cal = linear->getAttrOfType<DictionaryAttr>(kCalibrationAttr);
      NamedAttrList entries(cal);
      std::vector<float> scaled(k);
      for (int64_t j = 0; j < k; ++j) {
        scaled[j] = amax[j] / s[j];
      }
      entries.set("channel_absmax",
                  DenseF32ArrayAttr::get(linear.getContext(), scaled));
      linear->setAttr(kCalibrationAttr,
                      entries.getDictionary(linear.getContext()));
    }
    return success();
  }
};

//===----------------------------------------------------------------------===//
// nuri-quantize
//===----------------------------------------------------------------------===//

// Symmetric per-output-channel int8 of a [K, N] weight: scale[n] =
// max_k |W[k, n]| / 127, values round half to even into [-127, 127] (not
// -128, so the range is symmetric and negation is exact).
void quantizeWeight(const std::vector<float> &w, int64_t k, int64_t n,
                    std::vector<int8_t> &q, std::vector<float> &scale) {
  scale.assign(n, 0.0f);
  for (int64_t j = 0; j < k; ++j) {
    for (int64_t c = 0; c < n; ++c) {
      scale[c] = std::max(scale[c], std::fabs(w[j * n + c]));
    }
  }
  for (float &s : scale) {
    s = s > 0.0f ? s / 127.0f : 1.0f;
  }
  q.resize(w.size());
  for (int64_t j = 0; j < k; ++j) {
    for (int64_t c = 0; c < n; ++c) {
      float v = std::nearbyint(w[j * n + c] / scale[c]);
      q[j * n + c] = static_cast<int8_t>(std::clamp(v, -127.0f, 127.0f));
    }
  }
}

struct QuantizePass : nuri::impl::NuriQuantizeBase<QuantizePass> {
  using NuriQuantizeBase::NuriQuantizeBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (scheme != "int8" && scheme != "fp8" && scheme != "w8a16" &&
        scheme != "w4a16") {
      module.emitError("unknown quantization scheme '")
          << scheme << "' (expected int8, fp8, w8a16 or w4a16)";
      return signalPassFailure();
    }
    if (Operation *quantized = findQuantizedOp(module)) {
      quantized->emitError("the model is already quantized ('")
          << quantized->getName()
          << "' from a quantized ONNX node); --quantize takes a float model";
      return signalPassFailure();
    }
    for (QuantCandidate &c : collectQuantCandidates(module)) {
      if (c.op->hasAttr(kQuantizeSkipAttr)) {
        continue;
      }
      if (c.head && !quantizeHead) {
        c.op->setAttr(
            kQuantizeSkipAttr,
            StringAttr::get(&getContext(), "the model head stays float"));
        continue;
      }
      if (failed(scheme == "int8"    ? rewriteInt8(c)
                 : scheme == "fp8"   ? rewriteFp8(c)
                 : scheme == "w8a16" ? rewriteW8A16(c)
                                     : rewriteW4A16(c))) {
        return signalPassFailure();
      }
    }
  }

  /// A linear that stays float with its weight stored quantized: `weight`
  /// (the dequantized one) replaces the float constant, and the layer is
  /// named for the report.
  void markQuantized(QuantCandidate &c, Value weight) {
    Value oldWeight = c.op.getWeight();
    c.op.getWeightMutable().assign(weight);
    eraseIfDead(oldWeight);
    c.op->setAttr(kQuantKeyAttr, StringAttr::get(&getContext(), c.key));
    c.op->removeAttr(kCalibrationAttr);
  }

  /// The candidate's weight as per-output-channel symmetric int8 and its
  /// scales.
  LogicalResult quantizeWeightOf(QuantCandidate &c, std::vector<int8_t> &q,
                                 std::vector<float> &scale) {
    auto wType = cast<RankedTensorType>(c.op.getWeight().getType());
    FailureOr<std::vector<float>> w = readF32(c.op.getWeight());
    if (failed(w)) {
      return c.op.emitError("cannot read the weight of '") << c.key << "'";
    }
    quantizeWeight(*w, wType.getDimSize(0), wType.getDimSize(1), q, scale);
    return success();
  }

  LogicalResult rewriteW8A16(QuantCandidate &c) {
    LinearOp op = c.op;
    auto wType = cast<RankedTensorType>(op.getWeight().getType());
    int64_t k = wType.getDimSize(0), n = wType.getDimSize(1);
    OpBuilder b(op);
    Location loc = op.getLoc();
    auto i8 = IntegerType::get(&getContext(), 8);
    Value wq, ws;
    if (std::optional<float> v = splatF32(op.getWeight())) {
      // Every column is the one value: quantizeWeight's result for it.
      std::vector<int8_t> q1;
      std::vector<float> s1;
      quantizeWeight({*v}, 1, 1, q1, s1);
      wq = b.create<ConstantOp>(
          loc, DenseElementsAttr::get(RankedTensorType::get({k, n}, i8),
                                      APInt(8, uint8_t(q1[0]))));
      ws = b.create<ConstantOp>(
          loc, DenseElementsAttr::get(
                   RankedTensorType::get({n}, b.getF32Type()), s1[0]));
    } else {
      std::vector<int8_t> q;
      std::vector<float> scale;
      if (failed(quantizeWeightOf(c, q, scale))) {
        return failure();
      }
      wq = makeConstant(b, loc, RankedTensorType::get({k, n}, i8), q.data(),
                        q.size(), "w8.weight");
      ws = makeF32(b, loc, {n}, scale, "w8.scale");
    }
    // The weight stays int8 in the package; the CPU device dequantizes it
    // once, when a session is prepared.
    Value deq = b.create<DequantizeOp>(loc, wType, wq, ws, Value(),
                                       b.getI64IntegerAttr(1));
    markQuantized(c, deq);
    return success();
  }

  LogicalResult rewriteW4A16(QuantCandidate &c) {
    LinearOp op = c.op;
    auto wType = cast<RankedTensorType>(op.getWeight().getType());
    int64_t k = wType.getDimSize(0), n = wType.getDimSize(1);
    // Blocks of 128 (the group size of GPTQ/AWQ checkpoints and of
    // MatMulNBits exports), a shorter power of two for a short axis.
    int64_t block = 16;
    while (block < 128 && block < k) {
      block *= 2;
    }
    int64_t blocks = (k + block - 1) / block;
    auto u8 = IntegerType::get(&getContext(), 8, IntegerType::Unsigned);
    std::optional<float> splat = splatF32(op.getWeight());
    if (splat && k % block == 0) {
      // A placeholder (no padding): every block is the loop below's
      // block of one value, so the result is a splat too.
      float s = *splat != 0 ? *splat / -8.0f : 1.0f;
      auto q = static_cast<uint8_t>(
          std::clamp(std::nearbyint(*splat / s) + 8.0f, 0.0f, 15.0f));
      OpBuilder b(op);
      Location loc = op.getLoc();
      Value wq = b.create<ConstantOp>(
          loc, DenseElementsAttr::get(
                   RankedTensorType::get({n, blocks, block / 2}, u8),
                   APInt(8, uint8_t(q | q << 4))));
      Value ws = b.create<ConstantOp>(
          loc, DenseElementsAttr::get(
                   RankedTensorType::get({n, blocks}, b.getF32Type()), s));
      markQuantized(c, b.create<DequantizeBlockedOp>(
                           loc, wType, wq, ws, Value(), b.getI64IntegerAttr(4),
                           b.getI64IntegerAttr(block)));
      return success();
    }
    FailureOr<std::vector<float>> w = readF32(op.getWeight());
    if (failed(w)) {
      return op.emitError("cannot read the weight of '") << c.key << "'";
    }
    std::vector<uint8_t> packed(size_t(n * blocks * block / 2), 0);
    std::vector<float> scales(size_t(n * blocks));
    for (int64_t c = 0; c < n; ++c) {
      for (int64_t b = 0; b < blocks; ++b) {
        int64_t end = std::min(k, (b + 1) * block);
        // The value of largest magnitude maps to -8, the end of the 4-bit
        // range with the extra step (as ONNX Runtime's blockwise symmetric
        // quantizer): a step of |max| / 8 instead of / 7; values of the
        // other sign as large clip to 7, one step short.
        float extreme = 0;
        for (int64_t j = b * block; j < end; ++j) {
          float v = (*w)[j * n + c];
          extreme = std::fabs(v) > std::fabs(extreme) ? v : extreme;
        }
        float s = extreme != 0 ? extreme / -8.0f : 1.0f;
        scales[c * blocks + b] = s;
        for (int64_t j = b * block; j < end; ++j) {
          float v = std::nearbyint((*w)[j * n + c] / s) + 8.0f;
          auto q = static_cast<uint8_t>(std::clamp(v, 0.0f, 15.0f));
          int64_t i = j - b * block;
          packed[(c * blocks + b) * (block / 2) + i / 2] |=
              static_cast<uint8_t>(i % 2 ? q << 4 : q);
        }
        // Padding past K holds the zero point: it dequantizes to 0.
        for (int64_t i = end - b * block; i < block; ++i) {
          packed[(c * blocks + b) * (block / 2) + i / 2] |=
              static_cast<uint8_t>(i % 2 ? 8 << 4 : 8);
        }
      }
    }
    OpBuilder b(op);
    Location loc = op.getLoc();
    Value wq =
        makeConstant(b, loc, RankedTensorType::get({n, blocks, block / 2}, u8),
                     packed.data(), packed.size(), "w4.weight");
    Value ws = makeF32(b, loc, {n, blocks}, scales, "w4.scale");
    Value deq = b.create<DequantizeBlockedOp>(loc, wType, wq, ws, Value(),
                                              b.getI64IntegerAttr(4),
                                              b.getI64IntegerAttr(block));
    markQuantized(c, deq);
    return success();
  }

  /// The calibrated input range of a candidate, checked.
  FailureOr<std::pair<double, double>> calibratedRange(QuantCandidate &c) {
    LinearOp op = c.op;
    auto cal = op->getAttrOfType<DictionaryAttr>(kCalibrationAttr);
    if (!cal) {
      return op.emitError("no calibrated input range for '")
             << c.key
             << "'; calibrate the model (--calibration) or exclude the layer "
                "(--exclude)";
    }
    std::optional<double> lo = floatEntry(cal, "min"),
                          hi = floatEntry(cal, "max");
    if (!lo || !hi) {
      return op.emitError("nuri.calibration of '")
             << c.key << "' lacks a float 'min' and 'max'";
    }
    if (!std::isfinite(*lo) || !std::isfinite(*hi) || *lo > *hi) {
      return op.emitError("nuri.calibration of '")
             << c.key << "' has an invalid range [" << *lo << ", " << *hi
             << "]";
    }
    return std::make_pair(*lo, *hi);
  }

  /// fp8 (e4m3): the input quantized per tensor and the weight per output
  /// channel, each with the scale that maps its |max| to 448, e4m3's
  /// largest value; a quantized_matmul of the e4m3 operands with its float
  /// read-out, which a chip with fp8 tiles runs on them and the CPU
  /// emulates in the same order.
  LogicalResult rewriteFp8(QuantCandidate &c) {
    FailureOr<std::pair<double, double>> range = calibratedRange(c);
    if (failed(range)) {
      return failure();
    }
    LinearOp op = c.op;
    auto inType = cast<RankedTensorType>(op.getInput().getType());
    auto wType = cast<RankedTensorType>(op.getWeight().getType());
    int64_t k = wType.getDimSize(0), n = wType.getDimSize(1);
    FailureOr<std::vector<float>> w = readF32(op.getWeight());
    if (failed(w)) {
      return op.emitError("cannot read the weight of '") << c.key << "'";
    }
    constexpr float kE4M3Max = 448.0f;
    float amax = static_cast<float>(
        std::max(std::fabs(range->first), std::fabs(range->second)));
    float aScale = amax > 0 ? amax / kE4M3Max : 1.0f;
    std::vector<float> wScale(size_t(n), 0.0f);
    for (int64_t j = 0; j < k; ++j) {
      for (int64_t col = 0; col < n; ++col) {
        wScale[col] = std::max(wScale[col], std::fabs((*w)[j * n + col]));
      }
    }
    for (float &s : wScale) {
      s = s > 0 ? s / kE4M3Max : 1.0f;
    }
    std::vector<uint8_t> wq(w->size());
    for (int64_t j = 0; j < k; ++j) {
      for (int64_t col = 0; col < n; ++col) {
        wq[j * n + col] =
            ::nuri::isa::f32ToE4M3((*w)[j * n + col] / wScale[col]);
      }
    }
    OpBuilder b(op);
    Location loc = op.getLoc();
    Type f8 = b.getType<Float8E4M3FNType>();
    Value as = makeF32(b, loc, {}, {aScale}, "fp8.input_scale");
    Value xq = b.create<QuantizeOp>(loc, inType.clone(f8), op.getInput(), as,
                                    Value(), b.getI64IntegerAttr(1));
    Value wc = makeConstant(b, loc, wType.clone(f8), wq.data(), wq.size(),
                            "fp8.weight");
    Value ws = makeF32(b, loc, {n}, wScale, "fp8.weight_scale");
    const uint8_t zero = 0;
    Value zp = makeConstant(b, loc, RankedTensorType::get({}, f8), &zero, 1,
                            "fp8.zero_point");
    replaceWithProduct(c, b, xq, wc, zp, zp, as, ws);
    return success();
  }

  /// The linear -> the quantized product (+ its float bias).
  void replaceWithProduct(QuantCandidate &c, OpBuilder &b, Value xq, Value wq,
                          Value azp, Value wzp, Value as, Value ws) {
    LinearOp op = c.op;
    Location loc = op.getLoc();
    auto outType = cast<RankedTensorType>(op.getType());
    Value y = b.create<QuantizedMatmulOp>(loc, outType, xq, wq, azp, wzp, as,
                                          ws, Value(), Value());
    if (Value bias = op.getBias()) {
      y = b.create<AddOp>(loc, outType, y, bias);
    }
    y.getDefiningOp()->setAttr(kQuantKeyAttr, b.getStringAttr(c.key));
    Value oldWeight = op.getWeight();
    op.replaceAllUsesWith(y);
    op.erase();
    eraseIfDead(oldWeight);
  }

  LogicalResult rewriteInt8(QuantCandidate &c) {
    FailureOr<std::pair<double, double>> range = calibratedRange(c);
    if (failed(range)) {
      return failure();
    }
    LinearOp op = c.op;
    std::optional<double> lo = range->first, hi = range->second;
    // uint8 with a zero point over a range that holds 0 (so zero padding
    // and ReLU zeros are exact), as ONNX Runtime's static quantization.
    float rlo = static_cast<float>(std::min(*lo, 0.0)),
          rhi = static_cast<float>(std::max(*hi, 0.0));
    float aScale = (rhi - rlo) / 255.0f;
    if (!(aScale > 0.0f)) {
      aScale = 1.0f;
    }
    float zpf = std::clamp(std::nearbyint(-rlo / aScale), 0.0f, 255.0f);
    uint8_t aZp = static_cast<uint8_t>(zpf);

    auto inType = cast<RankedTensorType>(op.getInput().getType());
    auto wType = cast<RankedTensorType>(op.getWeight().getType());
    int64_t k = wType.getDimSize(0), n = wType.getDimSize(1);
    std::vector<int8_t> q;
    std::vector<float> wScale;
    if (failed(quantizeWeightOf(c, q, wScale))) {
      return failure();
    }

    OpBuilder b(op);
    Location loc = op.getLoc();
    MLIRContext *ctx = &getContext();
    auto u8 = IntegerType::get(ctx, 8, IntegerType::Unsigned);
    auto i8 = IntegerType::get(ctx, 8);
    Value wq = makeConstant(b, loc, RankedTensorType::get({k, n}, i8), q.data(),
                            q.size(), "int8.weight");
    Value ws = makeF32(b, loc, {n}, wScale, "int8.scale");
    Value as = makeF32(b, loc, {}, {aScale}, "int8.act_scale");
    auto zpType = RankedTensorType::get({}, u8);
    Value azp = b.create<ConstantOp>(loc, makeFromInt(zpType, {aZp}));
    Value wzp = b.create<ConstantOp>(
        loc, makeFromInt(RankedTensorType::get({}, i8), {0}));
    Value xq = b.create<QuantizeOp>(loc, inType.clone(u8), op.getInput(), as,
                                    azp, b.getI64IntegerAttr(1));
    replaceWithProduct(c, b, xq, wq, azp, wzp, as, ws);
    return success();
  }
};

} // namespace

std::vector<QuantCandidate> nuri::collectQuantCandidates(ModuleOp module) {
  std::vector<QuantCandidate> out;
  llvm::StringMap<int> seen;
  module.walk([&](LinearOp op) {
    auto in = dyn_cast<RankedTensorType>(op.getInput().getType());
    auto w = dyn_cast<RankedTensorType>(op.getWeight().getType());
    if (!in || !w || in.getRank() < 2 || !in.getElementType().isF32() ||
        !w.getElementType().isF32() || w.getRank() != 2 ||
        !op.getWeight().getDefiningOp<ConstantOp>()) {
      return;
    }
    std::string name = nameOf(op.getLoc());
    if (name.empty()) {
      name = "linear";
    }
    int repeat = seen[name]++;
    QuantCandidate c;
    c.op = op;
    c.key = repeat ? name + "#" + std::to_string(repeat) : name;
    c.head = reachesResult(op.getResult()) ||
             llvm::StringRef(name).contains("lm_head");
    out.push_back(std::move(c));
  });
  return out;
}

Operation *nuri::findQuantizedOp(ModuleOp module) {
  Operation *found = nullptr;
  module.walk([&](Operation *op) {
    if (llvm::isa<QuantizeOp, DequantizeOp, DequantizeBlockedOp,
                  DynamicQuantizeOp, QuantizedMatmulOp>(op)) {
      found = op;
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return found;
}
