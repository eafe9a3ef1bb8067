//===- Families.h - The model families of the zoo ---------------*- C++ -*-===//
//
// One builder per Hugging Face architecture, each in its own file. A config
// holds the numbers of config.json that change the graph.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_LIB_ZOO_FAMILIES_H
#define NURI_LIB_ZOO_FAMILIES_H

#include "nuri/Zoo/Zoo.h"

#include <cstdint>

namespace nuri::zoo {

/// BertModel (embeddings, post-LN encoder, pooler).
struct BertConfig {
  int64_t layers, hidden, heads, intermediate, vocab, maxPositions;
  int64_t typeVocab = 2;
  float eps = 1e-12f;
};
void buildBert(Model &model, const BertConfig &config);

/// GPT2LMHeadModel (pre-LN blocks, Conv1D projections, tied LM head).
struct Gpt2Config {
  int64_t layers, hidden, heads, vocab, positions;
  float eps = 1e-5f;
  /// optimum's decoder_with_past layout (BuildOptions::withPast).
  bool withPast = false;
};
void buildGpt2(Model &model, const Gpt2Config &config);

/// LlamaForCausalLM (RMSNorm, RoPE, SwiGLU, GQA), with or without KV cache.
struct LlamaConfig {
  int64_t layers, hidden, heads, kvHeads, intermediate, vocab, maxPositions;
  float eps = 1e-6f;
  float ropeTheta = 10000.0f;
  /// optimum's decoder_with_past layout (BuildOptions::withPast).
  bool withPast = false;
};
void buildLlama(Model &model, const LlamaConfig &config);

/// ViTForImageClassification (Conv patch embedding, CLS token, pre-LN).
struct VitConfig {
  int64_t layers, hidden, heads, intermediate, image, patch, classes;
  int64_t channels = 3;
  float eps = 1e-12f;
};
void buildVit(Model &model, const VitConfig &config);

/// WhisperEncoder (two Conv1d + GELU stem, learned positions, pre-LN).
struct WhisperEncoderConfig {
  int64_t layers, hidden, heads, ffn, mels, frames;
  float eps = 1e-5f;
};
void buildWhisperEncoder(Model &model, const WhisperEncoderConfig &config);

/// The dim_params of decoder_with_past graphs.
inline constexpr const char *kPastLength = "past_sequence_length";
inline constexpr const char *kTotalLength = "total_sequence_length";

} // namespace nuri::zoo

#endif // NURI_LIB_ZOO_FAMILIES_H
