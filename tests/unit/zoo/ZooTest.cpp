//===- ZooTest.cpp - Tests of nuri zoo ------------------------------------===//
//
// Every zoo model is valid ONNX (checker and strict shape inference), has the
// parameter count of the Hugging Face model it imitates, carries the
// exporter's idioms the importer has to handle, and is bit-for-bit
// reproducible. The large models are checked without generating their
// weights, except for one write with external data.
//
//===----------------------------------------------------------------------===//

#include "nuri/Zoo/Zoo.h"

#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

using namespace nuri::zoo;

namespace {

std::unique_ptr<Model> build(const std::string &name, int layers = 0) {
  std::string error;
  BuildOptions options;
  options.layers = layers;
  std::unique_ptr<Model> model = buildModel(name, options, error);
  EXPECT_NE(model, nullptr) << error;
  return model;
}

std::map<std::string, int> histogram(const onnx::ModelProto &model) {
  std::map<std::string, int> ops;
  for (const onnx::NodeProto &node : model.graph().node()) {
    ++ops[node.op_type()];
  }
  return ops;
}

bool hasNode(const onnx::ModelProto &model, const std::string &name) {
  for (const onnx::NodeProto &node : model.graph().node()) {
    if (node.name() == name) {
      return true;
    }
  }
  return false;
}

/// Strict shape inference catches what the checker does not: wrong input
/// counts, rank mismatches, type errors between nodes.
void inferShapesStrictly(onnx::ModelProto model) {
  onnx::ShapeInferenceOptions options(/*check_type=*/true, /*error_mode=*/1);
  onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(),
                                     options);
}

std::filesystem::path tempDir() {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("nuri-zoo-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

std::string readFile(const std::filesystem::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Expected counts, computed from the architectures (and matching what
// transformers reports for the full-size ones).
struct Expected {
  const char *name;
  uint64_t parameters;
};
const Expected kSmallModels[] = {
    {"bert-tiny", 1003392},
    {"gpt2-tiny", 986624},
    {"llama-tiny", 1411712},
    {"vit-tiny", 5717416},
    {"whisper-tiny-encoder", 8208384},
};

class SmallModel : public testing::TestWithParam<Expected> {};

TEST_P(SmallModel, IsValidOnnxWithExpectedParameters) {
  std::unique_ptr<Model> model = build(GetParam().name);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->parameterCount(), GetParam().parameters);
  model->materialize();
  EXPECT_NO_THROW(onnx::checker::check_model(model->proto));
  EXPECT_NO_THROW(inferShapesStrictly(model->proto));
}

TEST_P(SmallModel, IsDeterministic) {
  std::unique_ptr<Model> first = build(GetParam().name);
  std::unique_ptr<Model> second = build(GetParam().name);
  first->materialize();
  second->materialize();
  EXPECT_EQ(first->proto.SerializeAsString(),
            second->proto.SerializeAsString());

  std::string error;
  BuildOptions options;
  options.seed = 7;
  std::unique_ptr<Model> reseeded = buildModel(GetParam().name, options, error);
  reseeded->materialize();
  EXPECT_NE(first->proto.SerializeAsString(),
            reseeded->proto.SerializeAsString());
}

TEST_P(SmallModel, HasDynamicBatch) {
  std::unique_ptr<Model> model = build(GetParam().name);
  for (const onnx::ValueInfoProto &input : model->proto.graph().input()) {
    const onnx::TensorShapeProto &shape = input.type().tensor_type().shape();
    ASSERT_GE(shape.dim_size(), 1) << input.name();
    EXPECT_EQ(shape.dim(0).dim_param(), "batch") << input.name();
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, SmallModel, testing::ValuesIn(kSmallModels),
                         [](const testing::TestParamInfo<Expected> &info) {
                           std::string name = info.param.name;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(Zoo, CatalogueListsEveryModel) {
  std::set<std::string> names;
  for (const ModelInfo &info : catalogue()) {
    names.insert(info.name);
  }
  EXPECT_EQ(names, (std::set<std::string>{
                       "bert-tiny", "bert-base", "gpt2-tiny", "gpt2-small",
                       "llama-tiny", "llama-7b-1layer", "llama-7b", "llama3-8b",
                       "vit-tiny", "whisper-tiny-encoder"}));
}

TEST(Zoo, LargeModelsHaveHuggingFaceParameterCounts) {
  // Counting needs only the graph: no weight is generated here.
  EXPECT_EQ(build("bert-base")->parameterCount(), 109482240u);
  EXPECT_EQ(build("gpt2-small")->parameterCount(), 124439808u);
  std::unique_ptr<Model> llama = build("llama-7b-1layer");
  // embed 32000x4096, q/k/v/o 4x4096^2, MLP 3x4096x11008, 3 norms, lm_head.
  EXPECT_EQ(llama->parameterCount(), 464531456u);
  EXPECT_GT(llama->initializerBytes(), WriteOptions().externalThreshold);
  // Llama-2-7b-hf and Meta-Llama-3-8B as transformers counts them.
  EXPECT_EQ(build("llama-7b")->parameterCount(), 6738415616u);
  EXPECT_EQ(build("llama3-8b")->parameterCount(), 8030261248u);
}

std::unique_ptr<Model> buildWithPast(const std::string &name, int layers = 0) {
  std::string error;
  BuildOptions options;
  options.layers = layers;
  options.withPast = true;
  std::unique_ptr<Model> model = buildModel(name, options, error);
  EXPECT_NE(model, nullptr) << error;
  return model;
}

std::vector<std::string> dimsOf(const onnx::ValueInfoProto &value) {
  std::vector<std::string> dims;
  for (const auto &d : value.type().tensor_type().shape().dim()) {
    dims.push_back(d.has_dim_param() ? d.dim_param()
                                     : std::to_string(d.dim_value()));
  }
  return dims;
}

// optimum's decoder_with_past layout: what `nuri compile --generate` reads.
TEST(Zoo, DecodersWithPastHaveTheOptimumLayout) {
  struct Case {
    const char *name;
    int layers;
    const char *kvHeads, *headDim;
  };
  for (Case c :
       {Case{"gpt2-tiny", 2, "2", "64"}, Case{"llama-tiny", 2, "2", "32"}}) {
    std::unique_ptr<Model> model = buildWithPast(c.name);
    ASSERT_NE(model, nullptr);
    // The cache adds no parameters.
    EXPECT_EQ(model->parameterCount(), build(c.name)->parameterCount());
    model->materialize();
    EXPECT_NO_THROW(onnx::checker::check_model(model->proto)) << c.name;
    EXPECT_NO_THROW(inferShapesStrictly(model->proto)) << c.name;

    const onnx::GraphProto &graph = model->proto.graph();
    std::map<std::string, std::vector<std::string>> inputs, outputs;
    for (const auto &in : graph.input()) {
      inputs[in.name()] = dimsOf(in);
    }
    for (const auto &out : graph.output()) {
      outputs[out.name()] = dimsOf(out);
    }
    std::vector<std::string> tokens = {"batch", "sequence"};
    EXPECT_EQ(inputs["input_ids"], tokens) << c.name;
    EXPECT_EQ(inputs["position_ids"], tokens) << c.name;
    EXPECT_EQ(inputs["attention_mask"],
              (std::vector<std::string>{"batch", "total_sequence_length"}))
        << c.name;
    EXPECT_EQ(graph.output(0).name(), "logits");
    EXPECT_EQ(inputs.size(), 3u + 2 * c.layers) << c.name;
    EXPECT_EQ(outputs.size(), 1u + 2 * c.layers) << c.name;
    for (int l = 0; l < c.layers; ++l) {
      for (std::string kind : {"key", "value"}) {
        std::string past = "past_key_values." + std::to_string(l) + "." + kind;
        std::string present = "present." + std::to_string(l) + "." + kind;
        EXPECT_EQ(inputs[past],
                  (std::vector<std::string>{"batch", c.kvHeads,
                                            "past_sequence_length", c.headDim}))
            << past;
        EXPECT_EQ(outputs[present],
                  (std::vector<std::string>{
                      "batch", c.kvHeads, "total_sequence_length", c.headDim}))
            << present;
        // present = Concat(past, new) along the sequence axis.
        const onnx::NodeProto *producer = nullptr;
        for (const auto &node : graph.node()) {
          if (node.output(0) == present) {
            producer = &node;
          }
        }
        ASSERT_NE(producer, nullptr) << present;
        EXPECT_EQ(producer->op_type(), "Concat");
        EXPECT_EQ(producer->input(0), past);
        int64_t axis = producer->attribute(0).i();
        EXPECT_TRUE(axis == 2 || axis == -2) << present;
      }
    }
  }
}

TEST(Zoo, WithPastOnlyForDecoders) {
  std::string error;
  BuildOptions options;
  options.withPast = true;
  EXPECT_EQ(buildModel("bert-tiny", options, error), nullptr);
  EXPECT_NE(error.find("not a decoder"), std::string::npos) << error;
  EXPECT_NE(buildModel("llama3-8b", options, error), nullptr);
}

TEST(Zoo, FullSizeDecodersWithPastInferShapes) {
  // Graphs only: no weight is generated.
  for (const char *name : {"gpt2-small", "llama-7b", "llama3-8b"}) {
    std::unique_ptr<Model> model = buildWithPast(name, 2);
    EXPECT_NO_THROW(inferShapesStrictly(model->proto)) << name;
  }
}

TEST(Zoo, ShapesOnlyWritesTheGraphWithoutData) {
  std::filesystem::path dir = tempDir();
  std::filesystem::path path = dir / "llama3.onnx";
  // A stale data file of an earlier write must not pass for this graph's.
  std::ofstream(dir / "llama3.onnx.data") << "stale";
  std::unique_ptr<Model> model = buildWithPast("llama3-8b");
  WriteOptions options;
  options.shapesOnly = true;
  std::string error;
  ASSERT_TRUE(writeModel(*model, path.string(), options, error)) << error;
  EXPECT_FALSE(std::filesystem::exists(dir / "llama3.onnx.data"));
  EXPECT_LT(std::filesystem::file_size(path), 2u * 1000 * 1000);

  onnx::ModelProto loaded;
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(loaded.ParseFromIstream(&in));
  uint64_t end = 0, externalBytes = 0;
  for (const onnx::TensorProto &tensor : loaded.graph().initializer()) {
    uint64_t elements = 1;
    for (int64_t d : tensor.dims()) {
      elements *= uint64_t(d);
    }
    if (tensor.data_location() != onnx::TensorProto::EXTERNAL) {
      EXPECT_LT(tensor.raw_data().size(), 1024u) << tensor.name();
      EXPECT_FALSE(tensor.raw_data().empty()) << tensor.name();
      continue;
    }
    EXPECT_TRUE(tensor.raw_data().empty()) << tensor.name();
    std::map<std::string, std::string> entries;
    for (const auto &entry : tensor.external_data()) {
      entries[entry.key()] = entry.value();
    }
    EXPECT_EQ(entries["location"], "llama3.onnx.data");
    uint64_t offset = std::stoull(entries["offset"]);
    uint64_t length = std::stoull(entries["length"]);
    EXPECT_EQ(offset % 4096, 0u) << tensor.name();
    EXPECT_GE(offset, end) << tensor.name();
    EXPECT_EQ(length, elements * 4) << tensor.name(); // all fp32 here
    end = offset + length;
    externalBytes += length;
  }
  // Weights (8.03B parameters, the untied LM head among them) plus the
  // rotary tables, as the full write would lay them out.
  EXPECT_GT(externalBytes, 8030261248ull * 4);
  std::filesystem::remove_all(dir);
}

TEST(Zoo, LargeModelGraphsInferShapes) {
  for (const char *name : {"bert-base", "gpt2-small", "llama-7b-1layer"}) {
    std::unique_ptr<Model> model = build(name);
    EXPECT_NO_THROW(inferShapesStrictly(model->proto)) << name;
  }
}

TEST(Zoo, LargeModelsPassTheChecker) {
  // One layer keeps the weights small; the layer itself is the full-size one.
  for (const char *name : {"bert-base", "gpt2-small"}) {
    std::unique_ptr<Model> model = build(name, 1);
    model->materialize();
    EXPECT_NO_THROW(onnx::checker::check_model(model->proto)) << name;
  }
  // llama-7b-1layer is 1.86 GB even with one layer: check its graph with the
  // weights declared external. The checker wants the data file to exist but
  // does not read it, so an empty one will do.
  std::filesystem::path dir = tempDir();
  std::unique_ptr<Model> llama = build("llama-7b-1layer");
  for (onnx::TensorProto &tensor :
       *llama->proto.mutable_graph()->mutable_initializer()) {
    if (tensor.raw_data().empty()) {
      tensor.set_data_location(onnx::TensorProto::EXTERNAL);
      onnx::StringStringEntryProto *entry = tensor.add_external_data();
      entry->set_key("location");
      entry->set_value("weights.data");
    }
  }
  std::ofstream(dir / "weights.data").close();
  {
    std::ofstream out(dir / "llama.onnx", std::ios::binary);
    ASSERT_TRUE(llama->proto.SerializeToOstream(&out));
  }
  EXPECT_NO_THROW(onnx::checker::check_model((dir / "llama.onnx").string()));
  std::filesystem::remove_all(dir);
}

TEST(Zoo, LayersOptionChangesDepthOnly) {
  std::unique_ptr<Model> one = build("bert-base", 1);
  std::unique_ptr<Model> two = build("bert-base", 2);
  uint64_t perLayer = two->parameterCount() - one->parameterCount();
  EXPECT_EQ(perLayer, 7087872u);
  EXPECT_EQ(build("bert-base")->parameterCount(),
            one->parameterCount() + 11 * perLayer);
  std::string error;
  BuildOptions bad;
  bad.layers = -1;
  EXPECT_EQ(buildModel("bert-base", bad, error), nullptr);
  EXPECT_NE(error.find("-1"), std::string::npos);
}

TEST(Zoo, UnknownNameIsAnError) {
  std::string error;
  EXPECT_EQ(buildModel("bert-huge", BuildOptions(), error), nullptr);
  EXPECT_NE(error.find("bert-huge"), std::string::npos);
}

TEST(Zoo, BertLooksLikeTheTorchExport) {
  std::unique_ptr<Model> model = build("bert-tiny");
  std::map<std::string, int> ops = histogram(model->proto);
  // Per layer: 2 LayerNorms (2 ReduceMean each) + the embedding LayerNorm.
  EXPECT_EQ(ops["ReduceMean"], 2 * (2 * 2 + 1));
  EXPECT_EQ(ops["Erf"], 2);
  EXPECT_EQ(ops["Softmax"], 2);
  EXPECT_EQ(ops["MatMul"], 2 * (4 + 2 + 2));
  EXPECT_EQ(ops["Gemm"], 1);
  EXPECT_GT(ops["Shape"], 0);
  EXPECT_GT(ops["Unsqueeze"], 0);
  EXPECT_TRUE(
      hasNode(model->proto, "/encoder/layer.0/attention/self/query/MatMul"));
  EXPECT_TRUE(
      hasNode(model->proto, "/encoder/layer.1/output/LayerNorm/ReduceMean_1"));
  EXPECT_TRUE(hasNode(model->proto,
                      "/encoder/layer.0/intermediate/intermediate_act_fn/Erf"));
  std::vector<std::string> inputs;
  for (const onnx::ValueInfoProto &input : model->proto.graph().input()) {
    inputs.push_back(input.name());
    EXPECT_EQ(input.type().tensor_type().elem_type(), onnx::TensorProto::INT64);
    EXPECT_EQ(input.type().tensor_type().shape().dim(1).dim_param(),
              "sequence");
  }
  EXPECT_EQ(inputs, (std::vector<std::string>{"input_ids", "attention_mask",
                                              "token_type_ids"}));
}

TEST(Zoo, Gpt2LooksLikeTheTorchExport) {
  std::map<std::string, int> ops = histogram(build("gpt2-tiny")->proto);
  EXPECT_EQ(ops["Tanh"], 2);
  EXPECT_EQ(ops["Where"], 2); // causal mask per layer
  EXPECT_EQ(ops["Split"], 2); // fused c_attn
  EXPECT_EQ(ops["Gemm"], 8);  // Conv1D: c_attn, c_proj, c_fc, mlp.c_proj
  EXPECT_EQ(ops["Range"], 1); // position ids
  EXPECT_EQ(ops["Erf"], 0);
}

TEST(Zoo, LlamaLooksLikeTheTorchExport) {
  std::unique_ptr<Model> model = build("llama-tiny");
  std::map<std::string, int> ops = histogram(model->proto);
  EXPECT_EQ(ops["Neg"], 2 * 2);        // rotate_half of q and k
  EXPECT_EQ(ops["Sigmoid"], 2);        // SiLU
  EXPECT_EQ(ops["Expand"], 2 + 2 * 2); // masks + repeat_kv of k and v
  EXPECT_EQ(ops["ReduceMean"], 2 * 2 + 1);
  EXPECT_EQ(ops["Less"], 1);
  EXPECT_EQ(ops["LayerNormalization"], 0);
  // 7B has as many KV heads as heads: repeat_kv is the identity there.
  std::map<std::string, int> big = histogram(build("llama-7b-1layer")->proto);
  EXPECT_EQ(big["Expand"], 2);
}

TEST(Zoo, VitAndWhisperLookLikeTheTorchExport) {
  std::map<std::string, int> vit = histogram(build("vit-tiny")->proto);
  EXPECT_EQ(vit["Conv"], 1);
  EXPECT_EQ(vit["Erf"], 12);
  EXPECT_EQ(vit["Gemm"], 1);
  std::map<std::string, int> whisper =
      histogram(build("whisper-tiny-encoder")->proto);
  EXPECT_EQ(whisper["Conv"], 2);
  EXPECT_EQ(whisper["Erf"], 2 + 4);
  EXPECT_EQ(whisper["Softmax"], 4);
}

TEST(Zoo, WeightsAreStableAcrossReleases) {
  // The PRNG is ours, so these bytes must never change: benchmarks and
  // reference outputs are keyed to them.
  std::unique_ptr<Model> model = build("bert-tiny");
  const onnx::GraphProto &graph = model->proto.graph();
  for (size_t i = 0; i < model->weights.size(); ++i) {
    if (graph.initializer(model->weights[i].initializer).name() ==
        "encoder.layer.0.attention.self.query.bias") {
      std::vector<float> values = model->generate(i);
      ASSERT_EQ(values.size(), 128u);
      char text[64];
      std::snprintf(text, sizeof(text), "%.8g %.8g %.8g", values[0], values[1],
                    values[127]);
      EXPECT_STREQ(text, "0.0021386363 -0.061861709 -0.051179182");
      return;
    }
  }
  FAIL() << "no query bias in bert-tiny";
}

TEST(Zoo, WritesExternalDataBesideTheModel) {
  std::filesystem::path dir = tempDir();
  std::filesystem::path path = dir / "llama.onnx";
  std::unique_ptr<Model> model = build("llama-tiny");
  WriteOptions options;
  options.externalData = true;
  std::string error;
  ASSERT_TRUE(writeModel(*model, path.string(), options, error)) << error;
  ASSERT_TRUE(std::filesystem::exists(dir / "llama.onnx.data"));
  EXPECT_NO_THROW(onnx::checker::check_model(path.string()));

  // Resolving the references gives back exactly the inline weights.
  onnx::ModelProto loaded;
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(loaded.ParseFromIstream(&in));
  std::string data = readFile(dir / "llama.onnx.data");
  std::unique_ptr<Model> inlineModel = build("llama-tiny");
  inlineModel->materialize();
  int external = 0;
  for (int i = 0; i < loaded.graph().initializer_size(); ++i) {
    const onnx::TensorProto &tensor = loaded.graph().initializer(i);
    std::string bytes = tensor.raw_data();
    if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
      ++external;
      std::map<std::string, std::string> entries;
      for (const auto &entry : tensor.external_data()) {
        entries[entry.key()] = entry.value();
      }
      EXPECT_EQ(entries["location"], "llama.onnx.data");
      uint64_t offset = std::stoull(entries["offset"]);
      EXPECT_EQ(offset % 4096, 0u) << tensor.name();
      bytes = data.substr(offset, std::stoull(entries["length"]));
    }
    EXPECT_EQ(bytes, inlineModel->proto.graph().initializer(i).raw_data())
        << tensor.name();
  }
  EXPECT_GT(external, 10);
  std::filesystem::remove_all(dir);
}

TEST(Zoo, WriteErrorNamesThePath) {
  std::unique_ptr<Model> model = build("bert-tiny", 1);
  std::string error;
  EXPECT_FALSE(writeModel(*model, "/nonexistent-nuri-dir/model.onnx",
                          WriteOptions(), error));
  EXPECT_NE(error.find("/nonexistent-nuri-dir/model.onnx"), std::string::npos)
      << error;
  WriteOptions external;
  external.externalData = true;
  error.clear();
  std::unique_ptr<Model> again = build("bert-tiny", 1);
  EXPECT_FALSE(
      writeModel(*again, "/nonexistent-nuri-dir/model.onnx", external, error));
  EXPECT_NE(error.find("/nonexistent-nuri-dir/model.onnx.data"),
            std::string::npos)
      << error;
}

TEST(Zoo, WrittenFilesAreByteIdentical) {
  std::filesystem::path dir = tempDir();
  std::string error;
  for (const char *file : {"a.onnx", "b.onnx"}) {
    std::unique_ptr<Model> model = build("bert-tiny");
    ASSERT_TRUE(
        writeModel(*model, (dir / file).string(), WriteOptions(), error))
        << error;
  }
  std::string a = readFile(dir / "a.onnx");
  EXPECT_LT(a.size(), 5u * 1000 * 1000); // the bundled demo model's budget
  EXPECT_EQ(a, readFile(dir / "b.onnx"));
  std::filesystem::remove_all(dir);
}

} // namespace
