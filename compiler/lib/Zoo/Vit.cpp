//===- Vit.cpp - ViTForImageClassification as torch.onnx.export writes it -===//
//
// Follows transformers' ViTForImageClassification (4.2x) at opset 14: a Conv
// patch embedding flattened with a Shape/Slice/Concat Reshape, the class
// token expanded to the batch and concatenated in front, learned positions
// added, pre-LN layers with decomposed LayerNorm and Erf GELU, and a Gemm
// classifier on the class token.
//
//===----------------------------------------------------------------------===//

#include "Families.h"
#include "GraphBuilder.h"

#include <cmath>

using namespace nuri::zoo;

namespace {
using Type = onnx::TensorProto;

std::string selfAttention(GraphBuilder &b, const VitConfig &c,
                          const std::string &prefix, const std::string &x) {
  GraphBuilder::Scope scope(b, "attention");
  int64_t headDim = c.hidden / c.heads;
  std::string query =
      b.linear(x, "query", prefix + ".query", c.hidden, c.hidden);
  std::string key = b.linear(x, "key", prefix + ".key", c.hidden, c.hidden);
  key = b.splitHeads(key, key, c.heads, headDim);
  std::string value =
      b.linear(x, "value", prefix + ".value", c.hidden, c.hidden);
  value = b.splitHeads(value, value, c.heads, headDim);
  query = b.splitHeads(query, query, c.heads, headDim);
  std::string keyT =
      b.node("Transpose", {key}, {attrInts("perm", {0, 1, 3, 2})});
  std::string scores = b.node("MatMul", {query, keyT});
  scores = b.node("Div", {scores, b.constFloat(std::sqrt(float(headDim)))});
  std::string probs = b.node("Softmax", {scores}, {attrInt("axis", -1)});
  std::string context = b.node("MatMul", {probs, value});
  return b.mergeHeads(context, c.hidden);
}
} // namespace

void nuri::zoo::buildVit(Model &model, const VitConfig &c) {
  GraphBuilder b(model, "torch_jit");
  b.input("pixel_values", Type::FLOAT,
          {std::string("batch"), c.channels, c.image, c.image});
  int64_t patches = (c.image / c.patch) * (c.image / c.patch);

  std::string hidden;
  {
    GraphBuilder::Scope vit(b, "vit");
    {
      GraphBuilder::Scope embeddings(b, "embeddings");
      std::string patchEmbeds;
      {
        GraphBuilder::Scope pe(b, "patch_embeddings");
        GraphBuilder::Scope proj(b, "projection");
        float bound = 1.0f / std::sqrt(float(c.channels * c.patch * c.patch));
        std::string prefix = "vit.embeddings.patch_embeddings.projection";
        patchEmbeds =
            b.node("Conv",
                   {"pixel_values",
                    b.param(prefix + ".weight",
                            {c.hidden, c.channels, c.patch, c.patch}, bound),
                    b.param(prefix + ".bias", {c.hidden}, bound)},
                   {attrInts("dilations", {1, 1}), attrInt("group", 1),
                    attrInts("kernel_shape", {c.patch, c.patch}),
                    attrInts("pads", {0, 0, 0, 0}),
                    attrInts("strides", {c.patch, c.patch})});
      }
      {
        GraphBuilder::Scope pe(b, "patch_embeddings");
        // .flatten(2): Reshape to shape[:2] + [-1].
        std::string shape = b.node("Shape", {patchEmbeds});
        std::string head =
            b.node("Slice", {shape, b.constInts({0}), b.constInts({2}),
                             b.constInts({0})});
        patchEmbeds = b.node(
            "Reshape", {patchEmbeds, b.concat({head, b.constInts({-1})})});
        patchEmbeds =
            b.node("Transpose", {patchEmbeds}, {attrInts("perm", {0, 2, 1})});
      }
      std::string batch = b.dim(patchEmbeds, 0);
      std::string cls = b.param("vit.embeddings.cls_token", {1, 1, c.hidden},
                                kEmbeddingBound);
      cls = b.expand(
          cls, {b.unsqueeze0(batch), b.constInts({-1}), b.constInts({-1})});
      hidden = b.concat({cls, patchEmbeds}, 1);
      hidden =
          b.node("Add", {hidden,
                         b.param("vit.embeddings.position_embeddings",
                                 {1, patches + 1, c.hidden}, kEmbeddingBound)});
    }
    GraphBuilder::Scope encoder(b, "encoder");
    for (int64_t l = 0; l < c.layers; ++l) {
      std::string layer = "layer." + std::to_string(l);
      std::string prefix = "vit.encoder." + layer;
      GraphBuilder::Scope layerScope(b, layer);
      std::string normed =
          b.layerNorm(hidden, "layernorm_before", prefix + ".layernorm_before",
                      c.hidden, c.eps);
      std::string attention;
      {
        GraphBuilder::Scope s(b, "attention");
        attention =
            selfAttention(b, c, prefix + ".attention.attention", normed);
        GraphBuilder::Scope o(b, "output");
        attention =
            b.linear(attention, "dense", prefix + ".attention.output.dense",
                     c.hidden, c.hidden);
      }
      hidden = b.node("Add", {attention, hidden});
      normed = b.layerNorm(hidden, "layernorm_after",
                           prefix + ".layernorm_after", c.hidden, c.eps);
      std::string ff;
      {
        GraphBuilder::Scope s(b, "intermediate");
        ff = b.linear(normed, "dense", prefix + ".intermediate.dense", c.hidden,
                      c.intermediate);
        GraphBuilder::Scope act(b, "intermediate_act_fn");
        ff = b.geluErf(ff);
      }
      GraphBuilder::Scope o(b, "output");
      ff = b.linear(ff, "dense", prefix + ".output.dense", c.intermediate,
                    c.hidden);
      hidden = b.node("Add", {ff, hidden});
    }
  }
  {
    GraphBuilder::Scope vit(b, "vit");
    hidden = b.layerNorm(hidden, "layernorm", "vit.layernorm", c.hidden, c.eps);
  }
  std::string first =
      b.node("Gather", {hidden, b.constInt(0)}, {attrInt("axis", 1)});
  std::string logits =
      b.gemm(first, "classifier", "classifier", c.hidden, c.classes);
  b.rename(logits, "logits");
  b.output("logits", Type::FLOAT, {std::string("batch"), c.classes});
}
