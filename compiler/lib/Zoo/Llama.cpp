//===- Llama.cpp - LlamaForCausalLM as torch.onnx.export writes it --------===//
//
// Follows transformers' LlamaForCausalLM (4.31): the combined causal +
// padding mask of _prepare_decoder_attention_mask (ConstantOfShape
// finfo.min, Range/Less/Where, Expand, 1 - mask, Where),
// RMSNorm computed in fp32 with Div(1, Sqrt), rotary embeddings from cached
// cos/sin tables sliced to the sequence and gathered by position_ids with
// rotate_half as Slice/Neg/Concat, grouped-query repeat_kv as
// Unsqueeze/Expand/Reshape, and the SwiGLU MLP.
//
// With past (optimum's decoder_with_past): the rotary tables are sliced to
// past + new length, the rotated keys and the values are concatenated after
// past_key_values.N.key/value (kv heads, before repeat_kv) and returned as
// present.N.key/value, and the causal mask gets zero columns for the past.
// The graph is traced as with a prompt longer than one token, so the causal
// mask is kept (transformers drops it when tracing a single new token) and a
// zero-length past serves the prefill.
//
//===----------------------------------------------------------------------===//

#include "Families.h"
#include "GraphBuilder.h"

#include <cmath>
#include <limits>

using namespace nuri::zoo;

namespace {
using Type = onnx::TensorProto;
constexpr float kFloatMin = std::numeric_limits<float>::lowest();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

/// LlamaRMSNorm: weight * (x * 1/sqrt(mean(x^2) + eps)).
std::string rmsNorm(GraphBuilder &b, const std::string &x,
                    const std::string &scope, const std::string &prefix,
                    int64_t hidden, float eps) {
  GraphBuilder::Scope s(b, scope);
  std::string weight = b.param(prefix + ".weight", {hidden}, 0.1f, 1.0f);
  std::string x32 = b.node("Cast", {x}, {attrInt("to", Type::FLOAT)});
  std::string squared = b.node("Pow", {x32, b.constFloat(2.0f)});
  std::string variance =
      b.node("ReduceMean", {squared},
             {attrInts("axes", {-1}), attrInt("keepdims", 1)});
  std::string shifted = b.node("Add", {variance, b.constFloat(eps)});
  std::string rms = b.node("Sqrt", {shifted});
  std::string inverse = b.node("Div", {b.constFloat(1.0f), rms});
  std::string normalized = b.node("Mul", {x32, inverse});
  normalized = b.node("Cast", {normalized}, {attrInt("to", Type::FLOAT)});
  return b.node("Mul", {weight, normalized});
}

/// x.size(-1) as torch exports it for a negative index: Shape, Slice the last
/// element, Squeeze it to a scalar.
std::string lastDim(GraphBuilder &b, const std::string &x) {
  std::string shape = b.node("Shape", {x});
  std::string last =
      b.node("Slice", {shape, b.constInts({-1}), b.constInts({kInt64Max}),
                       b.constInts({0})});
  return b.node("Squeeze", {last, b.constInts({0})});
}

/// rotate_half(x) = cat(-x[..., d/2:], x[..., :d/2]), with d/2 computed from
/// the shape at run time.
std::string rotateHalf(GraphBuilder &b, const std::string &x) {
  std::string half = b.node("Div", {b.dim(x, 3), b.constInt(2)});
  half = b.node("Cast", {half}, {attrInt("to", Type::INT64)});
  std::string first = b.node("Slice", {x, b.constInts({0}), b.unsqueeze0(half),
                                       b.constInts({3}), b.constInts({1})});
  std::string second =
      b.node("Slice", {x, b.unsqueeze0(half), b.constInts({kInt64Max}),
                       b.constInts({3}), b.constInts({1})});
  std::string negated = b.node("Neg", {second});
  return b.concat({negated, first}, -1);
}

/// repeat_kv: [b, kv, s, d] -> [b, kv * rep, s, d] through a 5-D Expand.
std::string repeatKv(GraphBuilder &b, const std::string &x, int64_t rep) {
  if (rep == 1) {
    return x;
  }
  std::string batch = b.dim(x, 0);
  std::string kvHeads = b.dim(x, 1);
  std::string seq = b.dim(x, 2);
  std::string headDim = b.dim(x, 3);
  std::string wide = b.node("Unsqueeze", {x, b.constInts({2})});
  wide = b.expand(wide, {b.unsqueeze0(batch), b.unsqueeze0(kvHeads),
                         b.constInts({rep}), b.unsqueeze0(seq),
                         b.unsqueeze0(headDim)});
  std::string heads = b.node("Mul", {kvHeads, b.constInt(rep)});
  return b.node("Reshape",
                {wide, b.shapeOf({b.unsqueeze0(batch), b.unsqueeze0(heads),
                                  b.unsqueeze0(seq), b.unsqueeze0(headDim)})});
}

/// q.view(bsz, q_len, heads, d).transpose(1, 2)
std::string splitHeads(GraphBuilder &b, const std::string &x,
                       const std::string &batch, const std::string &seq,
                       int64_t heads, int64_t headDim) {
  std::string shape = b.shapeOf({b.unsqueeze0(batch), b.unsqueeze0(seq),
                                 b.constInts({heads}), b.constInts({headDim})});
  std::string split = b.node("Reshape", {x, shape});
  return b.node("Transpose", {split}, {attrInts("perm", {0, 2, 1, 3})});
}

std::string rotaryTable(GraphBuilder &b, const LlamaConfig &c,
                        const std::string &name, bool sine) {
  int64_t headDim = c.hidden / c.heads;
  int64_t positions = c.maxPositions;
  float theta = c.ropeTheta;
  // Computed when written: at 8B shapes the 64 tables are 256 MB.
  return b.computedBuffer(name, {1, 1, positions, headDim}, [=] {
    std::vector<float> table(size_t(positions * headDim));
    for (int64_t p = 0; p < positions; ++p) {
      for (int64_t i = 0; i < headDim; ++i) {
        // emb = cat(freqs, freqs): both halves use the same frequencies.
        int64_t pair = i % (headDim / 2);
        double invFreq =
            1.0 / std::pow(double(theta), double(2 * pair) / headDim);
        double angle = double(p) * float(invFreq);
        table[size_t(p * headDim + i)] =
            float(sine ? std::sin(angle) : std::cos(angle));
      }
    }
    return table;
  });
}

std::string selfAttention(GraphBuilder &b, const LlamaConfig &c, int64_t layer,
                          const std::string &prefix, const std::string &x,
                          const std::string &mask) {
  GraphBuilder::Scope scope(b, "self_attn");
  int64_t headDim = c.hidden / c.heads;
  std::string batch = b.dim(x, 0);
  std::string seq = b.dim(x, 1);
  std::string query =
      b.linear(x, "q_proj", prefix + ".q_proj", c.hidden, c.hidden, false);
  query = splitHeads(b, query, batch, seq, c.heads, headDim);
  std::string key = b.linear(x, "k_proj", prefix + ".k_proj", c.hidden,
                             c.kvHeads * headDim, false);
  key = splitHeads(b, key, batch, seq, c.kvHeads, headDim);
  std::string value = b.linear(x, "v_proj", prefix + ".v_proj", c.hidden,
                               c.kvHeads * headDim, false);
  value = splitHeads(b, value, batch, seq, c.kvHeads, headDim);

  // cos, sin = rotary_emb(value_states, seq_len=kv_seq_len), where
  // kv_seq_len = key_states.shape[-2] (+ past_key_value[0].shape[-2])
  std::string kvSeq = b.dim(key, 2);
  std::string index = std::to_string(layer);
  std::string pastKey = "past_key_values." + index + ".key";
  std::string pastValue = "past_key_values." + index + ".value";
  if (c.withPast) {
    kvSeq = b.node("Add", {kvSeq, b.dim(pastKey, 2)});
  }
  std::string cos, sin;
  {
    GraphBuilder::Scope rotary(b, "rotary_emb");
    auto sliced = [&](const std::string &table) {
      std::string s =
          b.node("Slice", {table, b.constInts({0}), b.unsqueeze0(kvSeq),
                           b.constInts({2}), b.constInts({1})});
      return b.node("Cast", {s}, {attrInt("to", Type::FLOAT)});
    };
    cos = sliced(rotaryTable(b, c, prefix + ".rotary_emb.cos_cached", false));
    sin = sliced(rotaryTable(b, c, prefix + ".rotary_emb.sin_cached", true));
  }
  // cos.squeeze(1).squeeze(0)[position_ids].unsqueeze(1)
  auto gathered = [&](const std::string &table) {
    std::string t = b.node("Squeeze", {table, b.constInts({1})});
    t = b.node("Squeeze", {t, b.constInts({0})});
    t = b.node("Gather", {t, "position_ids"}, {attrInt("axis", 0)});
    return b.node("Unsqueeze", {t, b.constInts({1})});
  };
  cos = gathered(cos);
  sin = gathered(sin);
  auto rope = [&](const std::string &t) {
    std::string rotated = b.node("Mul", {rotateHalf(b, t), sin});
    return b.node("Add", {b.node("Mul", {t, cos}), rotated});
  };
  query = rope(query);
  key = rope(key);
  if (c.withPast) {
    // key_states = torch.cat([past_key_value[0], key_states], dim=2), and
    // likewise the values; past_key_value = (key_states, value_states).
    key = b.concat({pastKey, key}, 2);
    value = b.concat({pastValue, value}, 2);
    b.rename(key, "present." + index + ".key");
    b.rename(value, "present." + index + ".value");
    key = "present." + index + ".key";
    value = "present." + index + ".value";
  }

  key = repeatKv(b, key, c.heads / c.kvHeads);
  value = repeatKv(b, value, c.heads / c.kvHeads);

  std::string keyT =
      b.node("Transpose", {key}, {attrInts("perm", {0, 1, 3, 2})});
  std::string scores = b.node("MatMul", {query, keyT});
  scores = b.node("Div", {scores, b.constFloat(std::sqrt(float(headDim)))});
  scores = b.node("Add", {scores, mask});
  std::string probs = b.node("Softmax", {scores}, {attrInt("axis", -1)});
  probs = b.node("Cast", {probs}, {attrInt("to", Type::FLOAT)});
  std::string context = b.node("MatMul", {probs, value});
  context = b.node("Transpose", {context}, {attrInts("perm", {0, 2, 1, 3})});
  context = b.node("Reshape",
                   {context, b.shapeOf({b.unsqueeze0(batch), b.unsqueeze0(seq),
                                        b.constInts({c.hidden})})});
  return b.linear(context, "o_proj", prefix + ".o_proj", c.hidden, c.hidden,
                  false);
}

std::string mlp(GraphBuilder &b, const LlamaConfig &c,
                const std::string &prefix, const std::string &x) {
  GraphBuilder::Scope scope(b, "mlp");
  std::string gate = b.linear(x, "gate_proj", prefix + ".gate_proj", c.hidden,
                              c.intermediate, false);
  {
    GraphBuilder::Scope act(b, "act_fn");
    gate = b.node("Mul", {gate, b.node("Sigmoid", {gate})});
  }
  std::string up = b.linear(x, "up_proj", prefix + ".up_proj", c.hidden,
                            c.intermediate, false);
  std::string product = b.node("Mul", {gate, up});
  return b.linear(product, "down_proj", prefix + ".down_proj", c.intermediate,
                  c.hidden, false);
}

/// _prepare_decoder_attention_mask: causal [s, s] mask of 0 / finfo.min
/// expanded to [b, 1, s, s], plus the inverted padding mask.
std::string decoderMask(GraphBuilder &b, const std::string &batch,
                        const std::string &seq, const std::string &past) {
  std::vector<onnx::AttributeProto> minValue;
  {
    onnx::AttributeProto value;
    value.set_name("value");
    value.set_type(onnx::AttributeProto::TENSOR);
    value.mutable_t()->set_data_type(Type::FLOAT);
    value.mutable_t()->add_dims(1);
    value.mutable_t()->set_raw_data(rawData(std::vector<float>{kFloatMin}));
    minValue.push_back(value);
  }
  std::string full =
      b.node("ConstantOfShape",
             {b.shapeOf({b.unsqueeze0(seq), b.unsqueeze0(seq)})}, minValue);
  std::string size =
      b.node("Cast", {lastDim(b, full)}, {attrInt("to", Type::INT64)});
  std::string cond = b.node("Range", {b.constInt(0), size, b.constInt(1)});
  std::string next = b.node("Add", {cond, b.constInt(1)});
  next = b.node("Reshape", {next, b.shapeOf({b.unsqueeze0(lastDim(b, full)),
                                             b.constInts({1})})});
  std::string lower = b.node("Less", {cond, next});
  lower = b.node("Cast", {lower}, {attrInt("to", Type::BOOL)});
  std::string causal = b.node("Where", {lower, b.constFloat(0.0f), full});
  causal = b.node("Cast", {causal}, {attrInt("to", Type::FLOAT)});
  std::string total = seq;
  if (!past.empty()) {
    // mask = torch.cat([torch.zeros(tgt_len, past_key_values_length), mask],
    // dim=-1): every new token sees the whole past.
    std::vector<onnx::AttributeProto> zeroValue = minValue;
    zeroValue[0].mutable_t()->set_raw_data(rawData(std::vector<float>{0.0f}));
    std::string zeros =
        b.node("ConstantOfShape",
               {b.shapeOf({b.unsqueeze0(seq), b.unsqueeze0(past)})}, zeroValue);
    causal = b.concat({zeros, causal}, -1);
    total = b.node("Add", {seq, past});
  }
  causal = b.node("Unsqueeze", {causal, b.constInts({0})});
  causal = b.node("Unsqueeze", {causal, b.constInts({1})});
  causal = b.expand(causal, {b.unsqueeze0(batch), b.constInts({1}),
                             b.unsqueeze0(seq), b.unsqueeze0(total)});

  // _expand_mask(attention_mask, tgt_len=seq)
  std::string maskBatch = b.dim("attention_mask", 0);
  std::string maskLen = b.dim("attention_mask", 1);
  std::string padding =
      b.node("Unsqueeze", {"attention_mask", b.constInts({1})});
  padding = b.node("Unsqueeze", {padding, b.constInts({2})});
  padding = b.expand(padding, {b.unsqueeze0(maskBatch), b.constInts({1}),
                               b.unsqueeze0(seq), b.unsqueeze0(maskLen)});
  padding = b.node("Cast", {padding}, {attrInt("to", Type::FLOAT)});
  std::string inverted = b.node("Sub", {b.constFloat(1.0f), padding});
  std::string masked = b.node("Cast", {inverted}, {attrInt("to", Type::BOOL)});
  padding = b.node("Where", {masked, b.constFloat(kFloatMin), inverted});
  return b.node("Add", {causal, padding});
}
} // namespace

void nuri::zoo::buildLlama(Model &model, const LlamaConfig &c) {
  GraphBuilder b(model, "torch_jit");
  std::vector<Dim> tokens = {std::string("batch"), std::string("sequence")};
  int64_t headDim = c.hidden / c.heads;
  b.input("input_ids", Type::INT64, tokens);
  b.input("attention_mask", Type::INT64,
          c.withPast ? std::vector<Dim>{std::string("batch"),
                                        std::string(kTotalLength)}
                     : tokens);
  b.input("position_ids", Type::INT64, tokens);
  if (c.withPast) {
    for (int64_t l = 0; l < c.layers; ++l) {
      for (const char *kind : {"key", "value"}) {
        b.input("past_key_values." + std::to_string(l) + "." + kind,
                Type::FLOAT,
                {std::string("batch"), c.kvHeads, std::string(kPastLength),
                 headDim});
      }
    }
  }

  std::string hidden;
  {
    GraphBuilder::Scope scope(b, "model");
    std::string batch = b.dim("input_ids", 0);
    std::string seq = b.dim("input_ids", 1);
    {
      GraphBuilder::Scope s(b, "embed_tokens");
      hidden = b.node("Gather", {b.param("model.embed_tokens.weight",
                                         {c.vocab, c.hidden}, kEmbeddingBound),
                                 "input_ids"});
    }
    // past_key_values_length = past_key_values[0][0].shape[2]
    std::string past =
        c.withPast ? b.dim("past_key_values.0.key", 2) : std::string();
    std::string mask = decoderMask(b, batch, seq, past);
    for (int64_t l = 0; l < c.layers; ++l) {
      std::string layer = "layers." + std::to_string(l);
      std::string prefix = "model." + layer;
      GraphBuilder::Scope layerScope(b, layer);
      std::string residual = hidden;
      std::string normed =
          rmsNorm(b, hidden, "input_layernorm", prefix + ".input_layernorm",
                  c.hidden, c.eps);
      std::string attn =
          selfAttention(b, c, l, prefix + ".self_attn", normed, mask);
      hidden = b.node("Add", {residual, attn});
      residual = hidden;
      normed = rmsNorm(b, hidden, "post_attention_layernorm",
                       prefix + ".post_attention_layernorm", c.hidden, c.eps);
      hidden = b.node("Add", {residual, mlp(b, c, prefix + ".mlp", normed)});
    }
    hidden = rmsNorm(b, hidden, "norm", "model.norm", c.hidden, c.eps);
  }
  std::string logits =
      b.linear(hidden, "lm_head", "lm_head", c.hidden, c.vocab, false);
  b.rename(logits, "logits");
  b.output("logits", Type::FLOAT,
           {std::string("batch"), std::string("sequence"), c.vocab});
  if (c.withPast) {
    for (int64_t l = 0; l < c.layers; ++l) {
      for (const char *kind : {"key", "value"}) {
        b.output("present." + std::to_string(l) + "." + kind, Type::FLOAT,
                 {std::string("batch"), c.kvHeads, std::string(kTotalLength),
                  headDim});
      }
    }
  }
}
