//===- Zoo.cpp - The catalogue, weight generation and writing -------------===//

#include "nuri/Zoo/Zoo.h"

#include "Families.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>

using namespace nuri::zoo;

namespace {
struct Entry {
  ModelInfo info;
  std::function<void(Model &, int layers, bool withPast)> build;
};

const std::vector<Entry> &entries() {
  static const std::vector<Entry> all = [] {
    std::vector<Entry> list;
    // Every family registers the same way: a config whose layer count the
    // caller may override, and the function that builds it. Decoders also
    // take the with-past switch.
    auto add = [&](const char *name, const char *description, auto config,
                   auto build) {
      list.push_back({{name, description, int(config.layers)},
                      [config, build](Model &model, int layers, bool) {
                        auto c = config;
                        c.layers = layers;
                        build(model, c);
                      }});
    };
    auto addDecoder = [&](const char *name, const char *description,
                          auto config, auto build) {
      list.push_back({{name, description, int(config.layers), true},
                      [config, build](Model &model, int layers, bool past) {
                        auto c = config;
                        c.layers = layers;
                        c.withPast = past;
                        build(model, c);
                      }});
    };
    // bert-tiny is google/bert_uncased_L-2_H-128_A-2 with the vocabulary cut
    // from 30522 to 4096 entries: it is the bundled demo model and has to
    // stay under 5 MB.
    add("bert-tiny", "BERT L2 H128 A2 I512, vocab 4096 (demo model, < 5 MB)",
        BertConfig{2, 128, 2, 512, 4096, 512}, buildBert);
    add("bert-base", "bert-base-uncased: L12 H768 A12 I3072, vocab 30522",
        BertConfig{12, 768, 12, 3072, 30522, 512}, buildBert);
    addDecoder("gpt2-tiny", "GPT-2 L2 H128 A2, vocab 4096, 512 positions",
               Gpt2Config{2, 128, 2, 4096, 512}, buildGpt2);
    addDecoder("gpt2-small",
               "gpt2 (124M): L12 H768 A12, vocab 50257, n_ctx 1024",
               Gpt2Config{12, 768, 12, 50257, 1024}, buildGpt2);
    addDecoder("llama-tiny",
               "LLaMA L2 H128 A4 KV2 (grouped-query) I344, vocab 4096",
               LlamaConfig{2, 128, 4, 2, 344, 4096, 512}, buildLlama);
    addDecoder("llama-7b-1layer",
               "one LLaMA-7B decoder layer: H4096 A32 I11008, vocab 32000 "
               "(1.9 GB, external data)",
               LlamaConfig{1, 4096, 32, 32, 11008, 32000, 2048}, buildLlama);
    // Llama-2-7b-hf and Meta-Llama-3-8B config.json: 27 GB and 32 GB of
    // fp32 weights, meant to be written with --shapes-only.
    addDecoder("llama-7b",
               "Llama-2-7B: L32 H4096 A32 I11008, vocab 32000, 4096 positions "
               "(27 GB; use --shapes-only)",
               LlamaConfig{32, 4096, 32, 32, 11008, 32000, 4096, 1e-5f},
               buildLlama);
    addDecoder(
        "llama3-8b",
        "Llama-3-8B: L32 H4096 A32 KV8 (grouped-query) I14336, vocab "
        "128256, rope theta 500000 (32 GB; use --shapes-only)",
        LlamaConfig{32, 4096, 32, 8, 14336, 128256, 8192, 1e-5f, 500000.0f},
        buildLlama);
    add("vit-tiny",
        "ViT-Ti/16 (DeiT-tiny shapes): L12 H192 A3, 224x224, 1000 classes",
        VitConfig{12, 192, 3, 768, 224, 16, 1000}, buildVit);
    add("whisper-tiny-encoder",
        "whisper-tiny encoder: L4 H384 A6, 80 mels x 3000 frames",
        WhisperEncoderConfig{4, 384, 6, 1536, 80, 3000}, buildWhisperEncoder);
    return list;
  }();
  return all;
}

/// SplitMix64: tiny, fast, and its output is the same on every platform,
/// which is the property the zoo needs (library RNGs and distributions are
/// not specified bit-for-bit across standard libraries).
uint64_t splitMix(uint64_t &state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// Seeds each tensor from its name, so a weight's values do not depend on
/// how many weights were generated before it.
uint64_t nameSeed(const std::string &name, uint64_t seed) {
  uint64_t hash = 0xCBF29CE484222325ull;
  for (unsigned char c : name) {
    hash = (hash ^ c) * 0x100000001B3ull;
  }
  return hash ^ (seed * 0x9E3779B97F4A7C15ull);
}

uint64_t elementCount(const onnx::TensorProto &tensor) {
  uint64_t count = 1;
  for (int64_t d : tensor.dims()) {
    count *= uint64_t(d);
  }
  return count;
}

std::string rawBytes(const std::vector<float> &values) {
  std::string raw(values.size() * sizeof(float), '\0');
  std::memcpy(raw.data(), values.data(), raw.size());
  return raw;
}

std::string ioError(const std::string &what, const std::string &path) {
  std::string message = "cannot " + what + " '" + path + "'";
  if (errno != 0) {
    message += ": " + std::string(std::strerror(errno));
  }
  return message;
}

std::string baseName(const std::string &path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}
} // namespace

const std::vector<ModelInfo> &nuri::zoo::catalogue() {
  static const std::vector<ModelInfo> infos = [] {
    std::vector<ModelInfo> list;
    for (const Entry &entry : entries()) {
      list.push_back(entry.info);
    }
    return list;
  }();
  return infos;
}

uint64_t Model::parameterCount() const {
  uint64_t count = 0;
  for (const WeightSpec &spec : weights) {
    if (spec.isParameter) {
      count += elementCount(proto.graph().initializer(spec.initializer));
    }
  }
  return count;
}

uint64_t Model::initializerBytes() const {
  uint64_t bytes = 0;
  for (const onnx::TensorProto &tensor : proto.graph().initializer()) {
    // Random weights are fp32 and have no bytes until materialized.
    bytes += tensor.raw_data().empty() ? elementCount(tensor) * sizeof(float)
                                       : tensor.raw_data().size();
  }
  return bytes;
}

std::vector<float> Model::generate(size_t index) const {
  const WeightSpec &spec = weights.at(index);
  const onnx::TensorProto &tensor = proto.graph().initializer(spec.initializer);
  if (spec.kind == WeightSpec::Kind::TransposeOf) {
    const onnx::TensorProto &src =
        proto.graph().initializer(weights.at(spec.source).initializer);
    std::vector<float> source = generate(size_t(spec.source));
    size_t rows = size_t(src.dims(0)), cols = size_t(src.dims(1));
    std::vector<float> values(source.size());
    for (size_t r = 0; r < rows; ++r) {
      for (size_t c = 0; c < cols; ++c) {
        values[c * rows + r] = source[r * cols + c];
      }
    }
    return values;
  }
  if (spec.kind == WeightSpec::Kind::Computed) {
    return spec.compute();
  }
  std::vector<float> values(elementCount(tensor));
  uint64_t state = nameSeed(tensor.name(), seed);
  for (float &value : values) {
    // 24 random bits map exactly onto floats in [-1, 1).
    float unit = float(splitMix(state) >> 40) * (1.0f / 8388608.0f) - 1.0f;
    value = spec.center + spec.bound * unit;
  }
  return values;
}

void Model::materialize() {
  for (size_t i = 0; i < weights.size(); ++i) {
    onnx::TensorProto *tensor =
        proto.mutable_graph()->mutable_initializer(weights[i].initializer);
    if (tensor->raw_data().empty()) {
      tensor->set_raw_data(rawBytes(generate(i)));
    }
  }
}

std::unique_ptr<Model> nuri::zoo::buildModel(const std::string &name,
                                             const BuildOptions &options,
                                             std::string &error) {
  for (const Entry &entry : entries()) {
    if (entry.info.name != name) {
      continue;
    }
    if (options.layers < 0) {
      error =
          "layer count must be positive, got " + std::to_string(options.layers);
      return nullptr;
    }
    if (options.withPast && !entry.info.hasPast) {
      error = "'" + name +
              "' is not a decoder: the with-past layout (KV cache inputs and "
              "outputs) applies to the gpt2-* and llama-* models";
      return nullptr;
    }
    auto model = std::make_unique<Model>();
    model->seed = options.seed;
    entry.build(*model,
                options.layers ? options.layers : entry.info.defaultLayers,
                options.withPast);
    return model;
  }
  error = "unknown zoo model '" + name + "' (nuri zoo --list shows them)";
  return nullptr;
}

bool nuri::zoo::writeModel(Model &model, const std::string &path,
                           const WriteOptions &options, std::string &error) {
  bool external = options.externalData || options.shapesOnly ||
                  model.initializerBytes() > options.externalThreshold;
  onnx::GraphProto *graph = model.proto.mutable_graph();
  if (!external) {
    model.materialize();
  } else {
    // One data file beside the model, as onnx.save_model(...,
    // all_tensors_to_one_file=True) writes it. Tensors start on 4 KiB
    // boundaries so that a loader can mmap them; tensors under 1 KiB stay
    // inline, as onnx's size_threshold does.
    std::string dataPath = path + ".data";
    std::string location = baseName(dataPath);
    std::ofstream data;
    errno = 0;
    if (options.shapesOnly) {
      // A data file left from an earlier write would hold weights of some
      // other graph; without it, loading the weights fails naming the file.
      if (std::remove(dataPath.c_str()) != 0 && errno != ENOENT) {
        error = ioError("remove stale external data file", dataPath);
        return false;
      }
    } else {
      data.open(dataPath, std::ios::binary | std::ios::trunc);
      if (!data) {
        error = ioError("create external data file", dataPath);
        return false;
      }
    }
    std::vector<int> specOf(graph->initializer_size(), -1);
    for (size_t i = 0; i < model.weights.size(); ++i) {
      specOf[model.weights[i].initializer] = int(i);
    }
    uint64_t offset = 0;
    for (int i = 0; i < graph->initializer_size(); ++i) {
      onnx::TensorProto *tensor = graph->mutable_initializer(i);
      // Generated weights are written straight from the float buffer: a
      // copy into a string would double the peak (0.5 GB for 7B's embedding).
      std::vector<float> values;
      const char *bytes = tensor->raw_data().data();
      size_t size = tensor->raw_data().size();
      if (specOf[i] >= 0) {
        // Generated weights are fp32; their size is known without them.
        size = elementCount(*tensor) * sizeof(float);
        if (!options.shapesOnly || size < 1024) {
          values = model.generate(size_t(specOf[i]));
          bytes = reinterpret_cast<const char *>(values.data());
        }
      }
      if (size < 1024) {
        if (specOf[i] >= 0) {
          tensor->set_raw_data(bytes, size);
        }
        continue;
      }
      uint64_t aligned = (offset + 4095) & ~uint64_t(4095);
      if (!options.shapesOnly) {
        data.write(std::string(aligned - offset, '\0').data(),
                   std::streamsize(aligned - offset));
        data.write(bytes, std::streamsize(size));
        if (!data) {
          error = ioError("write external data file", dataPath);
          return false;
        }
      }
      tensor->clear_raw_data();
      tensor->set_data_location(onnx::TensorProto::EXTERNAL);
      auto addEntry = [&](const std::string &key, const std::string &value) {
        onnx::StringStringEntryProto *entry = tensor->add_external_data();
        entry->set_key(key);
        entry->set_value(value);
      };
      addEntry("location", location);
      addEntry("offset", std::to_string(aligned));
      addEntry("length", std::to_string(size));
      offset = aligned + size;
    }
    if (!options.shapesOnly) {
      data.close();
      if (!data) {
        error = ioError("write external data file", dataPath);
        return false;
      }
    }
  }
  errno = 0;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    error = ioError("create", path);
    return false;
  }
  if (!model.proto.SerializeToOstream(&out)) {
    error = ioError("write", path);
    return false;
  }
  out.close();
  if (!out) {
    error = ioError("write", path);
    return false;
  }
  return true;
}

std::map<std::string, std::vector<int64_t>>
nuri::zoo::inputShapes(const std::string &name, int64_t batch,
                       int64_t sequence) {
  auto startsWith = [&](const char *prefix) {
    return name.rfind(prefix, 0) == 0;
  };
  std::vector<const char *> tokenInputs;
  if (startsWith("bert")) {
    tokenInputs = {"input_ids", "attention_mask", "token_type_ids"};
  } else if (startsWith("gpt2")) {
    tokenInputs = {"input_ids", "attention_mask"};
  } else if (startsWith("llama")) {
    tokenInputs = {"input_ids", "attention_mask", "position_ids"};
  } else if (startsWith("vit")) {
    return {{"pixel_values", {batch, 3, 224, 224}}};
  } else if (startsWith("whisper")) {
    return {{"input_features", {batch, 80, 3000}}};
  }
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const char *input : tokenInputs) {
    shapes[input] = {batch, sequence};
  }
  return shapes;
}
