//===- MicrosoftOps.cpp - Converters for com.microsoft fused ops ----------===//
//
// ONNX Runtime's transformer optimizer rewrites published models into its
// own fused ops. They map onto the same fused nuri ops as the decomposed
// exports, so everything after import sees one form.
//
//===----------------------------------------------------------------------===//

#include "ImporterImpl.h"

#include <cmath>

using namespace mlir;
using namespace nuri;
using namespace nuri::onnx_import;

namespace {

FailureOr<Value> addIfPresent(NodeContext &n, Value x, Value bias) {
  if (!bias) {
    return x;
  }
  return n.importer.create<AddOp>(n, {x, bias});
}

FailureOr<Value> gelu(NodeContext &n, Value x, GeluApproximation kind) {
  auto attr = GeluApproximationAttr::get(&n.importer.context, kind);
  return n.importer.create<GeluOp>(
      n, {x}, {n.importer.builder.getNamedAttr("approximate", attr)});
}

Results convertFastGelu(NodeContext &n) {
  FailureOr<Value> x = addIfPresent(n, n.input(0), n.input(1));
  if (failed(x)) {
    return failure();
  }
  return one(gelu(n, *x, GeluApproximation::Tanh));
}

Results convertBiasGelu(NodeContext &n) {
  FailureOr<Value> x = addIfPresent(n, n.input(0), n.input(1));
  if (failed(x)) {
    return failure();
  }
  return one(gelu(n, *x, GeluApproximation::None));
}

FailureOr<Value> layerNorm(NodeContext &n, Value x, Value gamma, Value beta,
                           bool rms) {
  OpBuilder &b = n.importer.builder;
  int64_t rank = shapeOf(x).size();
  int64_t axis = n.intAttr("axis", -1);
  axis = axis < 0 ? axis + rank : axis;
  SmallVector<NamedAttribute> attrs = {
      b.getNamedAttr("axis", b.getI64IntegerAttr(axis)),
      b.getNamedAttr("epsilon",
                     b.getF32FloatAttr(n.floatAttr("epsilon", 1e-5f)))};
  if (rms) {
    return n.importer.create<RmsNormOp>(n, {x, gamma}, attrs);
  }
  SmallVector<Value> operands = {x, gamma};
  if (beta) {
    operands.push_back(beta);
  }
  return n.importer.create<LayerNormOp>(n, operands, attrs);
}

// SkipLayerNormalization(input, skip, gamma, beta?, bias?) ->
// (output, mean, inv_std_var, input_skip_bias_sum)
Results skipNorm(NodeContext &n, bool rms) {
  FailureOr<Value> sum = n.importer.create<AddOp>(n, {n.input(0), n.input(1)});
  if (failed(sum)) {
    return failure();
  }
  Value bias = rms ? n.input(3) : n.input(4);
  sum = addIfPresent(n, *sum, bias);
  if (failed(sum)) {
    return failure();
  }
  FailureOr<Value> out =
      layerNorm(n, *sum, n.input(2), rms ? Value() : n.input(3), rms);
  if (failed(out)) {
    return failure();
  }
  return SmallVector<Value>{*out, Value(), Value(), *sum};
}

Results convertSkipLayerNorm(NodeContext &n) { return skipNorm(n, false); }
Results convertSkipSimplifiedLayerNorm(NodeContext &n) {
  return skipNorm(n, true);
}
Results convertSimplifiedLayerNorm(NodeContext &n) {
  return one(layerNorm(n, n.input(0), n.input(1), Value(), true));
}

// EmbedLayerNormalization(input_ids, segment_ids, word_embedding,
// position_embedding, segment_embedding, gamma, beta, mask, position_ids) ->
// (output, mask_index, embedding_sum)
Results convertEmbedLayerNorm(NodeContext &n) {
  Importer &im = n.importer;
  OpBuilder &b = im.builder;
  Value ids = n.input(0);
  if (!ids || !n.input(2) || !n.input(3) || !n.input(5)) {
    return n.error() << "expects input_ids, word and position embeddings and "
                        "gamma";
  }
  ArrayRef<int64_t> idShape = shapeOf(ids);
  if (idShape.size() != 2) {
    return n.error() << "expects 2-D input_ids [batch, sequence]";
  }
  auto axis0 = b.getNamedAttr("axis", b.getI64IntegerAttr(0));
  FailureOr<Value> sum = im.create<GatherOp>(n, {n.input(2), ids}, {axis0});
  if (failed(sum)) {
    return failure();
  }
  Value positions = n.input(8);
  if (!positions) {
    std::vector<int64_t> range;
    for (int64_t i = 0; i < idShape[1]; ++i) {
      range.push_back(i);
    }
    positions = im.constantInts(range, {1, idShape[1]}, b.getI64Type());
  }
  FailureOr<Value> pos =
      im.create<GatherOp>(n, {n.input(3), positions}, {axis0});
  if (failed(pos)) {
    return failure();
  }
  sum = im.create<AddOp>(n, {*sum, *pos});
  if (succeeded(sum) && n.input(1) && n.input(4)) {
    FailureOr<Value> seg =
        im.create<GatherOp>(n, {n.input(4), n.input(1)}, {axis0});
    sum = failed(seg) ? seg : im.create<AddOp>(n, {*sum, *seg});
  }
  if (failed(sum)) {
    return failure();
  }
  FailureOr<Value> out = layerNorm(n, *sum, n.input(5), n.input(6), false);
  if (failed(out)) {
    return failure();
  }
  // mask_index: the number of kept tokens per batch row, as ORT computes it.
  Value maskIndex;
  if (Value mask = n.input(7)) {
    FailureOr<Value> count = im.create<ReduceSumOp>(
        n, {mask}, {b.getNamedAttr("axes", b.getDenseI64ArrayAttr({1}))});
    if (failed(count)) {
      return failure();
    }
    auto type = RankedTensorType::get({idShape[0]}, b.getI32Type());
    FailureOr<Value> cast = im.create<CastOp>(n, {*count}, {}, {type});
    if (failed(cast)) {
      return failure();
    }
    maskIndex = *cast;
  } else {
    maskIndex = im.constantInts(std::vector<int64_t>(idShape[0], 0),
                                {idShape[0]}, b.getI32Type());
  }
  return SmallVector<Value>{*out, maskIndex, *sum};
}

// Attention(input, weights, bias, mask_index, past, ...) -> (output, present)
// with a packed QKV projection and past/present as [2, B, N, S, D].
Results convertAttention(NodeContext &n) {
  Importer &im = n.importer;
  OpBuilder &b = im.builder;
  Value input = n.input(0), weights = n.input(1);
  if (!input || !weights) {
    return n.error() << "expects input and weights";
  }
  if (n.attr("qkv_hidden_sizes") || n.input(5) || n.input(6)) {
    return n.error() << "qkv_hidden_sizes, relative position bias and "
                        "past_sequence_length are not supported";
  }
  ArrayRef<int64_t> inShape = shapeOf(input);
  if (inShape.size() != 3) {
    return n.error() << "expects a 3-D input [batch, sequence, hidden]";
  }
  int64_t heads = n.intAttr("num_heads", 0);
  int64_t batch = inShape[0], seq = inShape[1];
  int64_t hidden = shapeOf(weights).back() / 3;
  if (heads <= 0 || hidden % heads) {
    return n.error() << "num_heads " << heads << " does not divide hidden size "
                     << hidden;
  }
  int64_t headDim = hidden / heads;
  SmallVector<Value> linearOperands = {input, weights};
  if (n.input(2)) {
    linearOperands.push_back(n.input(2));
  }
  FailureOr<Value> qkv = im.create<LinearOp>(n, linearOperands);
  if (failed(qkv)) {
    return failure();
  }
  auto parts = im.createAll<SplitOp>(
      n, {*qkv},
      {b.getNamedAttr("axis", b.getI64IntegerAttr(2)),
       b.getNamedAttr("sizes",
                      b.getDenseI64ArrayAttr({hidden, hidden, hidden}))});
  if (failed(parts)) {
    return failure();
  }
  Type elementType = tensorType(input).getElementType();
  auto perm =
      b.getNamedAttr("permutation", b.getDenseI64ArrayAttr({0, 2, 1, 3}));
  SmallVector<Value> qkvHeads;
  for (Value part : *parts) {
    auto split =
        RankedTensorType::get({batch, seq, heads, headDim}, elementType);
    FailureOr<Value> r = im.create<ReshapeOp>(n, {part}, {}, {split});
    FailureOr<Value> t =
        failed(r) ? r : im.create<TransposeOp>(n, {*r}, {perm});
    if (failed(t)) {
      return failure();
    }
    qkvHeads.push_back(*t);
  }
  Value q = qkvHeads[0], k = qkvHeads[1], v = qkvHeads[2];
  if (Value past = n.input(4)) {
    ArrayRef<int64_t> p = shapeOf(past);
    if (p.size() != 5 || p[0] != 2 || p[1] != batch || p[2] != heads ||
        p[4] != headDim) {
      return n.error() << "past must be [2, batch, heads, past, head_size]";
    }
    auto sliceOf = [&](int64_t which) -> FailureOr<Value> {
      FailureOr<Value> s = im.create<SliceOp>(
          n, {past},
          {b.getNamedAttr("starts",
                          b.getDenseI64ArrayAttr({which, 0, 0, 0, 0})),
           b.getNamedAttr("limits", b.getDenseI64ArrayAttr(
                                        {which + 1, p[1], p[2], p[3], p[4]})),
           b.getNamedAttr("steps", b.getDenseI64ArrayAttr({1, 1, 1, 1, 1}))});
      if (failed(s)) {
        return failure();
      }
      auto type = RankedTensorType::get({p[1], p[2], p[3], p[4]}, elementType);
      return im.create<ReshapeOp>(n, {*s}, {}, {type});
    };
    auto axis2 = b.getNamedAttr("axis", b.getI64IntegerAttr(2));
    FailureOr<Value> pastK = sliceOf(0), pastV = sliceOf(1);
    if (failed(pastK) || failed(pastV)) {
      return failure();
    }
    FailureOr<Value> fullK = im.create<ConcatOp>(n, {*pastK, k}, {axis2});
    FailureOr<Value> fullV = im.create<ConcatOp>(n, {*pastV, v}, {axis2});
    if (failed(fullK) || failed(fullV)) {
      return failure();
    }
    k = *fullK;
    v = *fullV;
  }
  int64_t total = shapeOf(k)[2];
  SmallVector<NamedAttribute> attrs = {b.getNamedAttr(
      "scale", b.getF32FloatAttr(n.floatAttr(
                   "scale", 1.0f / std::sqrt(static_cast<float>(headDim)))))};
  if (n.intAttr("unidirectional", 0)) {
    attrs.push_back(b.getNamedAttr("causal", b.getUnitAttr()));
  }
  SmallVector<Value> operands = {q, k, v};
  if (Value mask = n.input(3)) {
    // A raw [batch, total] 0/1 mask; masked positions get mask_filter_value.
    if (shapeOf(mask) != ArrayRef<int64_t>({batch, total})) {
      return n.error() << "only a 2-D [batch, total_sequence] mask_index is "
                          "supported";
    }
    FailureOr<Value> m = im.create<CastOp>(
        n, {mask}, {}, {RankedTensorType::get({batch, total}, elementType)});
    if (failed(m)) {
      return failure();
    }
    FailureOr<Value> inverted =
        im.create<SubOp>(n, {im.scalar(1.0, elementType), *m});
    if (failed(inverted)) {
      return failure();
    }
    double filter = n.floatAttr("mask_filter_value", -10000.0f);
    FailureOr<Value> additive =
        im.create<MulOp>(n, {*inverted, im.scalar(filter, elementType)});
    if (failed(additive)) {
      return failure();
    }
    auto type = RankedTensorType::get({batch, 1, 1, total}, elementType);
    FailureOr<Value> shaped = im.create<ReshapeOp>(n, {*additive}, {}, {type});
    if (failed(shaped)) {
      return failure();
    }
    operands.push_back(*shaped);
  }
  FailureOr<Value> attended = im.create<AttentionOp>(n, operands, attrs);
  FailureOr<Value> merged =
      failed(attended) ? attended
                       : im.create<TransposeOp>(n, {*attended}, {perm});
  if (failed(merged)) {
    return failure();
  }
  auto outType = RankedTensorType::get({batch, seq, hidden}, elementType);
  FailureOr<Value> output = im.create<ReshapeOp>(n, {*merged}, {}, {outType});
  if (failed(output)) {
    return failure();
  }
  SmallVector<Value> results = {*output};
  if (n.node.output_size() > 1 && !n.node.output(1).empty()) {
    SmallVector<int64_t> one5 = {1, batch, heads, total, headDim};
    auto type = RankedTensorType::get(one5, elementType);
    FailureOr<Value> k5 = im.create<ReshapeOp>(n, {k}, {}, {type});
    FailureOr<Value> v5 = im.create<ReshapeOp>(n, {v}, {}, {type});
    if (failed(k5) || failed(v5)) {
      return failure();
    }
    FailureOr<Value> present = im.create<ConcatOp>(
        n, {*k5, *v5}, {b.getNamedAttr("axis", b.getI64IntegerAttr(0))});
    if (failed(present)) {
      return failure();
    }
    results.push_back(*present);
  }
  return results;
}
} // namespace

// MatMulNBits(A, B, scales, zero_points?, g_idx?, bias?): onnxruntime-genai's
// int4 weights (and 8-bit ones) become nuri.dequantize_blocked, which keeps
// the layout, feeding a float linear.
Results convertMatMulNBits(NodeContext &n) {
  Importer &im = n.importer;
  OpBuilder &b = im.builder;
  Value a = n.input(0), packed = n.input(1), scales = n.input(2);
  if (!a || !packed || !scales) {
    return n.error() << "expects A, B and scales";
  }
  int64_t k = n.intAttr("K", 0), cols = n.intAttr("N", 0);
  int64_t bits = n.intAttr("bits", 4), block = n.intAttr("block_size", 0);
  if (n.input(4)) {
    return n.error() << "g_idx (act-order) is not supported";
  }
  if (bits != 4 && bits != 8) {
    return n.error() << "bits " << bits << " is not supported (4 or 8)";
  }
  if (block < 16 || (block & (block - 1))) {
    return n.error() << "block_size " << block
                     << " is not a power of two of at least 16";
  }
  int64_t blocks = k > 0 ? (k + block - 1) / block : 0;
  if (k <= 0 || cols <= 0 ||
      shapeOf(packed) != ArrayRef<int64_t>{cols, blocks, block * bits / 8} ||
      !tensorType(packed).getElementType().isUnsignedInteger(8)) {
    return n.error() << "B must be uint8 [N, ceil(K / block_size), "
                        "block_size * bits / 8] = ["
                     << cols << ", " << blocks << ", " << block * bits / 8
                     << "] for K " << k << " and N " << cols << ", got "
                     << tensorType(packed);
  }
  if (shapeOf(a).empty() || shapeOf(a).back() != k) {
    return n.error() << "A's last dimension must be K = " << k;
  }
  if (tensorType(scales).getNumElements() != cols * blocks) {
    return n.error() << "scales must hold N * ceil(K / block_size) = "
                     << cols * blocks << " values";
  }
  auto reshaped = [&](Value v, ArrayRef<int64_t> shape) {
    auto type = RankedTensorType::get(shape, tensorType(v).getElementType());
    return im.create<ReshapeOp>(n, {v}, {}, {type});
  };
  FailureOr<Value> s = reshaped(scales, {cols, blocks});
  if (failed(s)) {
    return failure();
  }
  SmallVector<Value> operands = {packed, *s};
  if (Value zp = n.input(3)) {
    int64_t bytes = (blocks * bits + 7) / 8;
    if (!tensorType(zp).getElementType().isUnsignedInteger(8) ||
        tensorType(zp).getNumElements() != cols * bytes) {
      return n.error() << "zero_points must be uint8 packed like B, "
                       << cols * bytes
                       << " bytes (float zero points are not supported)";
    }
    FailureOr<Value> z = reshaped(zp, {cols, bytes});
    if (failed(z)) {
      return failure();
    }
    operands.push_back(*z);
  }
  auto weightType =
      RankedTensorType::get({k, cols}, tensorType(a).getElementType());
  FailureOr<Value> weight = im.create<DequantizeBlockedOp>(
      n, operands,
      {b.getNamedAttr("bits", b.getI64IntegerAttr(bits)),
       b.getNamedAttr("block_size", b.getI64IntegerAttr(block))},
      {weightType});
  if (failed(weight)) {
    return failure();
  }
  SmallVector<Value> linearOperands = {a, *weight};
  if (Value bias = n.input(5)) {
    linearOperands.push_back(bias);
  }
  return one(im.create<LinearOp>(n, linearOperands));
}

const llvm::StringMap<Converter> &onnx_import::microsoftDomainConverters() {
  static const llvm::StringMap<Converter> table = {
      {"Attention", convertAttention},
      {"BiasGelu", convertBiasGelu},
      {"EmbedLayerNormalization", convertEmbedLayerNorm},
      {"FastGelu", convertFastGelu},
      {"Gelu", convertBiasGelu},
      {"MatMulNBits", convertMatMulNBits},
      {"SimplifiedLayerNormalization", convertSimplifiedLayerNorm},
      {"SkipLayerNormalization", convertSkipLayerNorm},
      {"SkipSimplifiedLayerNormalization", convertSkipSimplifiedLayerNorm},
  };
  return table;
}
