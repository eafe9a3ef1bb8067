//===- Bert.cpp - BertModel as torch.onnx.export writes it ----------------===//
//
// Follows transformers' BertModel (4.2x): embeddings with a sliced
// position_ids buffer, the extended attention mask (1 - mask) * -10000, a
// post-LN encoder whose attention splits heads with Shape-driven Reshapes,
// and the pooler (Gather of token 0, Gemm, Tanh).
//
//===----------------------------------------------------------------------===//

#include "Families.h"
#include "GraphBuilder.h"

#include <cmath>
#include <limits>

using namespace nuri::zoo;

namespace {
using Type = onnx::TensorProto;

std::string selfAttention(GraphBuilder &b, const BertConfig &c,
                          const std::string &prefix, const std::string &x,
                          const std::string &mask) {
  GraphBuilder::Scope scope(b, "self");
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
  scores = b.node("Add", {scores, mask});
  std::string probs = b.node("Softmax", {scores}, {attrInt("axis", -1)});
  std::string context = b.node("MatMul", {probs, value});
  return b.mergeHeads(context, c.hidden);
}

/// BertSelfOutput / BertOutput: dense, residual add, LayerNorm.
std::string denseAddNorm(GraphBuilder &b, const BertConfig &c,
                         const std::string &prefix, const std::string &x,
                         const std::string &residual, int64_t in) {
  std::string dense = b.linear(x, "dense", prefix + ".dense", in, c.hidden);
  std::string sum = b.node("Add", {dense, residual});
  return b.layerNorm(sum, "LayerNorm", prefix + ".LayerNorm", c.hidden, c.eps);
}
} // namespace

void nuri::zoo::buildBert(Model &model, const BertConfig &c) {
  GraphBuilder b(model, "torch_jit");
  std::vector<Dim> tokens = {std::string("batch"), std::string("sequence")};
  b.input("input_ids", Type::INT64, tokens);
  b.input("attention_mask", Type::INT64, tokens);
  b.input("token_type_ids", Type::INT64, tokens);

  // get_extended_attention_mask: mask[:, None, None, :], cast, then the
  // additive form that makes padded keys vanish after Softmax.
  std::string mask = b.node("Unsqueeze", {"attention_mask", b.constInts({1})});
  mask = b.node("Unsqueeze", {mask, b.constInts({2})});
  mask = b.node("Cast", {mask}, {attrInt("to", Type::FLOAT)});
  mask = b.node("Sub", {b.constFloat(1.0f), mask});
  mask = b.node("Mul", {mask, b.constFloat(-10000.0f)});
  std::string seq = b.dim("input_ids", 1);

  std::string hidden;
  {
    GraphBuilder::Scope scope(b, "embeddings");
    std::vector<int64_t> positions(size_t(c.maxPositions));
    for (int64_t i = 0; i < c.maxPositions; ++i) {
      positions[size_t(i)] = i;
    }
    std::string positionIds =
        b.buffer("embeddings.position_ids", {1, c.maxPositions}, Type::INT64,
                 rawData(positions));
    positionIds =
        b.node("Slice", {positionIds, b.constInts({0}), b.unsqueeze0(seq),
                         b.constInts({1}), b.constInts({1})});
    std::string words;
    {
      GraphBuilder::Scope s(b, "word_embeddings");
      words = b.node("Gather", {b.param("embeddings.word_embeddings.weight",
                                        {c.vocab, c.hidden}, kEmbeddingBound),
                                "input_ids"});
    }
    std::string types;
    {
      GraphBuilder::Scope s(b, "token_type_embeddings");
      types =
          b.node("Gather", {b.param("embeddings.token_type_embeddings.weight",
                                    {c.typeVocab, c.hidden}, kEmbeddingBound),
                            "token_type_ids"});
    }
    hidden = b.node("Add", {words, types});
    std::string positionEmbeds;
    {
      GraphBuilder::Scope s(b, "position_embeddings");
      positionEmbeds = b.node(
          "Gather", {b.param("embeddings.position_embeddings.weight",
                             {c.maxPositions, c.hidden}, kEmbeddingBound),
                     positionIds});
    }
    hidden = b.node("Add", {hidden, positionEmbeds});
    hidden = b.layerNorm(hidden, "LayerNorm", "embeddings.LayerNorm", c.hidden,
                         c.eps);
  }

  {
    GraphBuilder::Scope encoder(b, "encoder");
    for (int64_t l = 0; l < c.layers; ++l) {
      std::string layer = "layer." + std::to_string(l);
      std::string prefix = "encoder." + layer;
      GraphBuilder::Scope layerScope(b, layer);
      std::string attention;
      {
        GraphBuilder::Scope s(b, "attention");
        std::string context =
            selfAttention(b, c, prefix + ".attention.self", hidden, mask);
        GraphBuilder::Scope o(b, "output");
        attention = denseAddNorm(b, c, prefix + ".attention.output", context,
                                 hidden, c.hidden);
      }
      std::string intermediate;
      {
        GraphBuilder::Scope s(b, "intermediate");
        intermediate =
            b.linear(attention, "dense", prefix + ".intermediate.dense",
                     c.hidden, c.intermediate);
        GraphBuilder::Scope act(b, "intermediate_act_fn");
        intermediate = b.geluErf(intermediate);
      }
      GraphBuilder::Scope o(b, "output");
      hidden = denseAddNorm(b, c, prefix + ".output", intermediate, attention,
                            c.intermediate);
    }
  }
  b.rename(hidden, "last_hidden_state");
  hidden = "last_hidden_state";

  std::string pooled;
  {
    GraphBuilder::Scope scope(b, "pooler");
    std::string first =
        b.node("Gather", {hidden, b.constInt(0)}, {attrInt("axis", 1)});
    pooled = b.gemm(first, "dense", "pooler.dense", c.hidden, c.hidden);
    GraphBuilder::Scope act(b, "activation");
    pooled = b.node("Tanh", {pooled});
  }
  b.rename(pooled, "pooler_output");
  b.output("last_hidden_state", Type::FLOAT,
           {std::string("batch"), std::string("sequence"), c.hidden});
  b.output("pooler_output", Type::FLOAT, {std::string("batch"), c.hidden});
}
