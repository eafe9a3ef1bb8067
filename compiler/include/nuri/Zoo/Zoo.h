//===- Zoo.h - ONNX models of standard transformer shapes -------*- C++ -*-===//
//
// `nuri zoo` writes ONNX models of well-known transformer shapes (BERT, GPT-2,
// LLaMA, ViT, Whisper) with deterministic random weights. The graphs are laid
// out the way torch.onnx.export (PyTorch 1.13, opset 14, dynamic batch and
// sequence axes) lays out the Hugging Face models: decomposed LayerNorm and
// GELU, Shape/Gather/Unsqueeze/Concat chains around every Reshape, masks built
// in-graph. Benchmarks, the demo and the importer's tests use them, so they
// must look like what model engineers actually bring.
//
// This library does not depend on LLVM or MLIR; it only needs the ONNX
// protobuf classes.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_ZOO_ZOO_H
#define NURI_ZOO_ZOO_H

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace nuri::zoo {

/// One entry of the zoo's catalogue.
struct ModelInfo {
  std::string name;
  std::string description;
  /// Layers at the default configuration.
  int defaultLayers;
  /// A decoder that can be written with its KV cache (BuildOptions::withPast).
  bool hasPast = false;
};

/// The catalogue, in the order `nuri zoo --list` prints it.
const std::vector<ModelInfo> &catalogue();

/// Static shapes for a zoo model's inputs at a batch size and sequence
/// length (token models) or the model's fixed image/audio size: what
/// benchmarks pass as `--input-shape`. Empty for an unknown name.
std::map<std::string, std::vector<int64_t>>
inputShapes(const std::string &name, int64_t batch, int64_t sequence);

/// Knobs that change a model without changing its layout.
struct BuildOptions {
  /// Number of transformer layers; 0 keeps the model's default.
  int layers = 0;
  /// Mixed into every weight's seed; the same seed gives the same bytes.
  uint64_t seed = 0;
  /// Write a decoder in optimum's decoder_with_past layout: extra inputs
  /// past_key_values.N.key/value [batch, kv_heads, past_sequence_length,
  /// head_dim], attention_mask over total_sequence_length, position_ids, and
  /// outputs present.N.key/value = Concat(past, new, axis 2) after logits.
  /// Only for models whose ModelInfo::hasPast is set.
  bool withPast = false;
};

/// How a random weight is drawn. Kept symbolic until the model is written so
/// that a 2 GB model costs no memory (and no time) until its bytes are needed.
struct WeightSpec {
  enum class Kind {
    /// center + bound * U(-1, 1), like torch's default Linear/Conv init.
    Uniform,
    /// The transpose of another (2-D, Uniform) weight, which is what
    /// torch's constant folding leaves for a tied LM head.
    TransposeOf,
    /// A registered fp32 buffer with fixed contents (rotary tables), computed
    /// only when written: LLaMA-3-8B's 64 tables would cost 256 MB and
    /// seconds of sin/cos just to list the catalogue.
    Computed,
  };
  /// Index into graph().initializer().
  int initializer = 0;
  Kind kind = Kind::Uniform;
  float center = 0.0f;
  float bound = 0.0f;
  /// For TransposeOf: index into Model::weights.
  int source = -1;
  /// False for derived copies (tied weights), which are not parameters.
  bool isParameter = true;
  /// For Computed: the values, in row-major order.
  std::function<std::vector<float>()> compute;
};

/// A zoo model: the ONNX graph plus the recipe of its random weights.
class Model {
public:
  onnx::ModelProto proto;
  std::vector<WeightSpec> weights;
  uint64_t seed = 0;

  /// Trainable parameters as Hugging Face counts them (tied weights once,
  /// registered buffers such as position ids or rotary tables not at all).
  uint64_t parameterCount() const;
  /// Bytes of all initializers once materialized (tied copies included).
  uint64_t initializerBytes() const;
  /// Generates the values of weight `index` (into `weights`) as fp32.
  std::vector<float> generate(size_t index) const;
  /// Fills raw_data of every random initializer, so that `proto` is a
  /// complete in-memory model (tests, small models).
  void materialize();
};

/// Builds the named model. Returns null and sets `error` for an unknown name
/// or a bad option.
std::unique_ptr<Model> buildModel(const std::string &name,
                                  const BuildOptions &options,
                                  std::string &error);

struct WriteOptions {
  /// Store weights in `<path>.data` beside the model even when small.
  bool externalData = false;
  /// Above this many initializer bytes the weights go to an external data
  /// file anyway: protobuf cannot serialize messages over 2 GB.
  uint64_t externalThreshold = 1800ull * 1000 * 1000;
  /// Write only the graph: every initializer of 1 KiB or more becomes an
  /// external reference into `<path>.data` (offsets and lengths as if it were
  /// written) but neither the data file nor the weights are produced, so a
  /// 7B model costs a few hundred KB and no time. Loading such a model's
  /// weights fails naming the missing file; it is for tools that need only
  /// shapes (timing-only compiles, design sweeps).
  bool shapesOnly = false;
};

/// Writes `model` to `path`, generating its weights on the way (the proto is
/// modified: weights either become raw_data or external references). Returns
/// false and sets `error` (naming the path) when a file cannot be written.
bool writeModel(Model &model, const std::string &path,
                const WriteOptions &options, std::string &error);

} // namespace nuri::zoo

#endif // NURI_ZOO_ZOO_H
