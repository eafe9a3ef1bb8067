//===- Gpt2.cpp - GPT2LMHeadModel as torch.onnx.export writes it ----------===//
//
// Follows transformers' GPT2LMHeadModel (4.2x): positions from an in-graph
// Range (or, with past, the position_ids input optimum feeds), the padding mask
// (1 - mask) * -10000, pre-LN blocks whose Conv1D projections are
// Reshape/Gemm/Reshape (torch.addmm on a flattened input), the fused c_attn
// split in three, the causal mask sliced out of the registered `attn.bias` tril
// buffer and applied with Where, tanh GELU, and the LM head tied to the token
// embedding (a transposed copy, as constant folding leaves it). With past
// (optimum's decoder_with_past), each layer concatenates
// past_key_values.N.key/value with the new keys and values along the sequence
// axis, returns the results as present.N.key/value and attends over them; the
// causal slice of `attn.bias` then starts at the past length, so a zero-length
// past is a prefill.
//
//===----------------------------------------------------------------------===//

#include "Families.h"
#include "GraphBuilder.h"

#include <cmath>
#include <limits>

using namespace nuri::zoo;

namespace {
using Type = onnx::TensorProto;

/// transformers.pytorch_utils.Conv1D: x.view(-1, in) @ W[in, out] + b, then
/// viewed back to x.size()[:-1] + (out,).
std::string conv1d(GraphBuilder &b, const std::string &x,
                   const std::string &scope, const std::string &prefix,
                   int64_t in, int64_t out) {
  GraphBuilder::Scope s(b, scope);
  std::string d0 = b.dim(x, 0);
  std::string d1 = b.dim(x, 1);
  std::string flat =
      b.node("Reshape",
             {x, b.shapeOf({b.constInts({-1}), b.unsqueeze0(b.dim(x, 2))})});
  // GPT-2 initializes Conv1D weights with N(0, 0.02).
  std::string weight = b.param(prefix + ".weight", {in, out}, kEmbeddingBound);
  std::string bias = b.param(prefix + ".bias", {out}, kEmbeddingBound);
  std::string y = b.node("Gemm", {flat, weight, bias},
                         {attrFloat("alpha", 1.0f), attrFloat("beta", 1.0f)});
  return b.node("Reshape", {y, b.shapeOf({b.unsqueeze0(d0), b.unsqueeze0(d1),
                                          b.constInts({out})})});
}

std::string attention(GraphBuilder &b, const Gpt2Config &c, int64_t layer,
                      const std::string &prefix, const std::string &x,
                      const std::string &mask) {
  GraphBuilder::Scope scope(b, "attn");
  int64_t headDim = c.hidden / c.heads;
  std::string qkv =
      conv1d(b, x, "c_attn", prefix + ".c_attn", c.hidden, 3 * c.hidden);
  std::vector<std::string> parts =
      b.nodeN("Split", {qkv, b.constInts({c.hidden, c.hidden, c.hidden})}, 3,
              {attrInt("axis", 2)});
  std::string query = b.splitHeads(parts[0], parts[0], c.heads, headDim);
  std::string key = b.splitHeads(parts[1], parts[1], c.heads, headDim);
  std::string value = b.splitHeads(parts[2], parts[2], c.heads, headDim);
  if (c.withPast) {
    // key = torch.cat((past_key, key), dim=-2); present = (key, value)
    std::string index = std::to_string(layer);
    key = b.concat({"past_key_values." + index + ".key", key}, -2);
    value = b.concat({"past_key_values." + index + ".value", value}, -2);
    b.rename(key, "present." + index + ".key");
    b.rename(value, "present." + index + ".value");
    key = "present." + index + ".key";
    value = "present." + index + ".value";
  }

  std::string keyT =
      b.node("Transpose", {key}, {attrInts("perm", {0, 1, 3, 2})});
  std::string scores = b.node("MatMul", {query, keyT});
  scores = b.node("Div", {scores, b.constFloat(std::sqrt(float(headDim)))});

  // causal_mask = self.bias[:, :, key_len - query_len : key_len, :key_len]
  std::vector<uint8_t> tril(size_t(c.positions * c.positions), 0);
  for (int64_t i = 0; i < c.positions; ++i) {
    for (int64_t j = 0; j <= i; ++j) {
      tril[size_t(i * c.positions + j)] = 1;
    }
  }
  std::string bias =
      b.buffer(prefix + ".bias", {1, 1, c.positions, c.positions}, Type::BOOL,
               rawData(tril));
  std::string queryLen = b.dim(query, 2);
  std::string keyLen = b.dim(key, 2);
  std::string start = b.node("Sub", {keyLen, queryLen});
  std::string causal =
      b.node("Slice", {bias, b.unsqueeze0(start), b.unsqueeze0(keyLen),
                       b.constInts({2}), b.constInts({1})});
  causal = b.node("Slice", {causal, b.constInts({0}), b.unsqueeze0(keyLen),
                            b.constInts({3}), b.constInts({1})});
  scores =
      b.node("Where", {causal, scores,
                       b.constFloat(std::numeric_limits<float>::lowest())});
  scores = b.node("Add", {scores, mask});
  std::string probs = b.node("Softmax", {scores}, {attrInt("axis", -1)});
  std::string context = b.node("MatMul", {probs, value});
  context = b.mergeHeads(context, c.hidden);
  return conv1d(b, context, "c_proj", prefix + ".c_proj", c.hidden, c.hidden);
}
} // namespace

void nuri::zoo::buildGpt2(Model &model, const Gpt2Config &c) {
  GraphBuilder b(model, "torch_jit");
  std::vector<Dim> tokens = {std::string("batch"), std::string("sequence")};
  int64_t headDim = c.hidden / c.heads;
  b.input("input_ids", Type::INT64, tokens);
  if (c.withPast) {
    b.input("attention_mask", Type::INT64,
            {std::string("batch"), std::string(kTotalLength)});
    b.input("position_ids", Type::INT64, tokens);
    for (int64_t l = 0; l < c.layers; ++l) {
      for (const char *kind : {"key", "value"}) {
        b.input(
            "past_key_values." + std::to_string(l) + "." + kind, Type::FLOAT,
            {std::string("batch"), c.heads, std::string(kPastLength), headDim});
      }
    }
  } else {
    b.input("attention_mask", Type::INT64, tokens);
  }

  std::string hidden, mask, batch0, seq;
  {
    GraphBuilder::Scope scope(b, "transformer");
    // input_ids.view(-1, input_shape[-1])
    batch0 = b.dim("input_ids", 0);
    seq = b.dim("input_ids", 1);
    std::string ids =
        b.node("Reshape", {"input_ids",
                           b.shapeOf({b.constInts({-1}), b.unsqueeze0(seq)})});
    std::string batch = b.dim(ids, 0);
    std::string positions;
    if (c.withPast) {
      // position_ids.view(-1, seq), as given by the caller.
      positions = b.node(
          "Reshape",
          {"position_ids", b.shapeOf({b.constInts({-1}), b.unsqueeze0(seq)})});
    } else {
      // position_ids = arange(0, seq).unsqueeze(0).view(-1, seq)
      positions = b.node("Range", {b.constInt(0), seq, b.constInt(1)});
      positions = b.node("Unsqueeze", {positions, b.constInts({0})});
      positions = b.node(
          "Reshape",
          {positions, b.shapeOf({b.constInts({-1}), b.unsqueeze0(seq)})});
    }
    // attention_mask.view(batch, -1)[:, None, None, :], then additive.
    mask = b.node("Reshape",
                  {"attention_mask",
                   b.shapeOf({b.unsqueeze0(batch), b.constInts({-1})})});
    mask = b.node("Unsqueeze", {mask, b.constInts({1})});
    mask = b.node("Unsqueeze", {mask, b.constInts({2})});
    mask = b.node("Cast", {mask}, {attrInt("to", Type::FLOAT)});
    mask = b.node("Sub", {b.constFloat(1.0f), mask});
    mask = b.node("Mul", {mask, b.constFloat(-10000.0f)});

    std::string words, wpe;
    {
      GraphBuilder::Scope s(b, "wte");
      words = b.node("Gather", {b.param("transformer.wte.weight",
                                        {c.vocab, c.hidden}, kEmbeddingBound),
                                ids});
    }
    {
      GraphBuilder::Scope s(b, "wpe");
      wpe = b.node("Gather", {b.param("transformer.wpe.weight",
                                      {c.positions, c.hidden}, kEmbeddingBound),
                              positions});
    }
    hidden = b.node("Add", {words, wpe});

    for (int64_t l = 0; l < c.layers; ++l) {
      std::string block = "h." + std::to_string(l);
      std::string prefix = "transformer." + block;
      GraphBuilder::Scope blockScope(b, block);
      std::string residual = hidden;
      std::string normed =
          b.layerNorm(hidden, "ln_1", prefix + ".ln_1", c.hidden, c.eps);
      std::string attn = attention(b, c, l, prefix + ".attn", normed, mask);
      hidden = b.node("Add", {attn, residual});
      residual = hidden;
      normed = b.layerNorm(hidden, "ln_2", prefix + ".ln_2", c.hidden, c.eps);
      std::string ff;
      {
        GraphBuilder::Scope mlp(b, "mlp");
        ff = conv1d(b, normed, "c_fc", prefix + ".mlp.c_fc", c.hidden,
                    4 * c.hidden);
        {
          GraphBuilder::Scope act(b, "act");
          ff = b.geluTanh(ff);
        }
        ff = conv1d(b, ff, "c_proj", prefix + ".mlp.c_proj", 4 * c.hidden,
                    c.hidden);
      }
      hidden = b.node("Add", {residual, ff});
    }
    hidden = b.layerNorm(hidden, "ln_f", "transformer.ln_f", c.hidden, c.eps);
    // hidden_states.view(input_shape + (hidden_states.size(-1),))
    hidden = b.node("Reshape",
                    {hidden, b.shapeOf({b.unsqueeze0(batch0), b.unsqueeze0(seq),
                                        b.unsqueeze0(b.dim(hidden, 2))})});
  }
  {
    GraphBuilder::Scope scope(b, "lm_head");
    std::string logits =
        b.node("MatMul", {hidden, b.transposedCopy("transformer.wte.weight")});
    b.rename(logits, "logits");
  }
  b.output("logits", Type::FLOAT,
           {std::string("batch"), std::string("sequence"), c.vocab});
  if (c.withPast) {
    for (int64_t l = 0; l < c.layers; ++l) {
      for (const char *kind : {"key", "value"}) {
        b.output("present." + std::to_string(l) + "." + kind, Type::FLOAT,
                 {std::string("batch"), c.heads, std::string(kTotalLength),
                  headDim});
      }
    }
  }
}
