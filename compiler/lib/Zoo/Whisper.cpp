//===- Whisper.cpp - WhisperEncoder as torch.onnx.export writes it --------===//
//
// Follows transformers' WhisperEncoder (4.2x), the encoder_model.onnx that
// optimum exports: two Conv1d + Erf GELU stem (the second with stride 2),
// permute, learned positions added, pre-LN layers whose BART-style attention
// scales q by Mul, runs bmm on [batch * heads, seq, head_dim] and has no
// k_proj bias.
//
//===----------------------------------------------------------------------===//

#include "Families.h"
#include "GraphBuilder.h"

#include <cmath>

using namespace nuri::zoo;

namespace {
using Type = onnx::TensorProto;

std::string conv1d(GraphBuilder &b, const std::string &x,
                   const std::string &name, int64_t in, int64_t out,
                   int64_t stride) {
  GraphBuilder::Scope s(b, name);
  float bound = 1.0f / std::sqrt(float(in * 3));
  return b.node("Conv",
                {x, b.param(name + ".weight", {out, in, 3}, bound),
                 b.param(name + ".bias", {out}, bound)},
                {attrInts("dilations", {1}), attrInt("group", 1),
                 attrInts("kernel_shape", {3}), attrInts("pads", {1, 1}),
                 attrInts("strides", {stride})});
}

std::string selfAttention(GraphBuilder &b, const WhisperEncoderConfig &c,
                          const std::string &prefix, const std::string &x) {
  GraphBuilder::Scope scope(b, "self_attn");
  int64_t headDim = c.hidden / c.heads;
  std::string batch = b.dim(x, 0);
  std::string tgtLen = b.dim(x, 1);
  std::string query =
      b.linear(x, "q_proj", prefix + ".q_proj", c.hidden, c.hidden);
  query =
      b.node("Mul", {query, b.constFloat(1.0f / std::sqrt(float(headDim)))});

  // _shape(t, -1, bsz) = t.view(bsz, -1, heads, d).transpose(1, 2)
  auto shape = [&](const std::string &t, const std::string &seqPart) {
    std::string split = b.node(
        "Reshape",
        {t, b.shapeOf({b.unsqueeze0(batch), seqPart, b.constInts({c.heads}),
                       b.constInts({headDim})})});
    return b.node("Transpose", {split}, {attrInts("perm", {0, 2, 1, 3})});
  };
  std::string key =
      b.linear(x, "k_proj", prefix + ".k_proj", c.hidden, c.hidden, false);
  key = shape(key, b.constInts({-1}));
  std::string value =
      b.linear(x, "v_proj", prefix + ".v_proj", c.hidden, c.hidden);
  value = shape(value, b.constInts({-1}));

  // proj_shape = (bsz * heads, -1, d)
  auto projShape = [&]() {
    std::string rows = b.node("Mul", {batch, b.constInt(c.heads)});
    return b.shapeOf(
        {b.unsqueeze0(rows), b.constInts({-1}), b.constInts({headDim})});
  };
  query = shape(query, b.unsqueeze0(tgtLen));
  query = b.node("Reshape", {query, projShape()});
  key = b.node("Reshape", {key, projShape()});
  value = b.node("Reshape", {value, projShape()});

  std::string keyT = b.node("Transpose", {key}, {attrInts("perm", {0, 2, 1})});
  std::string scores = b.node("MatMul", {query, keyT});
  std::string probs = b.node("Softmax", {scores}, {attrInt("axis", -1)});
  std::string context = b.node("MatMul", {probs, value});
  context = b.node(
      "Reshape",
      {context, b.shapeOf({b.unsqueeze0(batch), b.constInts({c.heads}),
                           b.unsqueeze0(tgtLen), b.constInts({headDim})})});
  context = b.node("Transpose", {context}, {attrInts("perm", {0, 2, 1, 3})});
  context = b.node(
      "Reshape", {context, b.shapeOf({b.unsqueeze0(batch), b.unsqueeze0(tgtLen),
                                      b.constInts({c.hidden})})});
  return b.linear(context, "out_proj", prefix + ".out_proj", c.hidden,
                  c.hidden);
}
} // namespace

void nuri::zoo::buildWhisperEncoder(Model &model,
                                    const WhisperEncoderConfig &c) {
  GraphBuilder b(model, "torch_jit");
  b.input("input_features", Type::FLOAT,
          {std::string("batch"), c.mels, c.frames});
  int64_t positions = (c.frames + 1) / 2;

  std::string hidden =
      conv1d(b, "input_features", "conv1", c.mels, c.hidden, 1);
  hidden = b.geluErf(hidden);
  hidden = conv1d(b, hidden, "conv2", c.hidden, c.hidden, 2);
  hidden = b.geluErf(hidden);
  hidden = b.node("Transpose", {hidden}, {attrInts("perm", {0, 2, 1})});
  hidden =
      b.node("Add", {hidden, b.param("embed_positions.weight",
                                     {positions, c.hidden}, kEmbeddingBound)});
  for (int64_t l = 0; l < c.layers; ++l) {
    std::string layer = "layers." + std::to_string(l);
    GraphBuilder::Scope layerScope(b, layer);
    std::string residual = hidden;
    std::string normed =
        b.layerNorm(hidden, "self_attn_layer_norm",
                    layer + ".self_attn_layer_norm", c.hidden, c.eps);
    hidden = b.node(
        "Add", {residual, selfAttention(b, c, layer + ".self_attn", normed)});
    residual = hidden;
    normed = b.layerNorm(hidden, "final_layer_norm",
                         layer + ".final_layer_norm", c.hidden, c.eps);
    std::string ff = b.linear(normed, "fc1", layer + ".fc1", c.hidden, c.ffn);
    {
      GraphBuilder::Scope act(b, "activation_fn");
      ff = b.geluErf(ff);
    }
    ff = b.linear(ff, "fc2", layer + ".fc2", c.ffn, c.hidden);
    hidden = b.node("Add", {residual, ff});
  }
  hidden = b.layerNorm(hidden, "layer_norm", "layer_norm", c.hidden, c.eps);
  b.rename(hidden, "last_hidden_state");
  b.output("last_hidden_state", Type::FLOAT,
           {std::string("batch"), positions, c.hidden});
}
