//===- TestPackages.h - Small packages the runtime tests share --*- C++ -*-===//

#ifndef NURI_TESTS_UNIT_RUNTIME_TESTPACKAGES_H
#define NURI_TESTS_UNIT_RUNTIME_TESTPACKAGES_H

#include "nuri/isa/Assembler.h"
#include "nuri/isa/Numerics.h"
#include "nuri/package/Package.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace nuri::test {

inline std::string readText(const std::string &path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline graph::TensorDesc tensor(const std::string &name, graph::DType dtype,
                                std::vector<int64_t> shape,
                                int64_t offset = -1) {
  graph::TensorDesc t;
  t.name = name;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.dataOffset = offset;
  return t;
}

inline graph::Op op(const std::string &kind, std::vector<int32_t> inputs,
                    std::vector<int32_t> outputs) {
  graph::Op o;
  o.kind = kind;
  o.inputs = std::move(inputs);
  o.outputs = std::move(outputs);
  o.location = kind + "_node";
  return o;
}

/// x[2,3] f32 -> h = matmul(x, W[3,4]); y = add(mul(h, h), B[2,4]).
/// Outputs "h" and "y"; the weights W then B.
struct CpuModel {
  std::vector<float> w, b;
  graph::Graph graph;
  std::vector<uint8_t> weights;

  CpuModel() {
    for (int i = 0; i < 12; ++i) {
      w.push_back(0.25f * float(i) - 1.0f);
    }
    for (int i = 0; i < 8; ++i) {
      b.push_back(0.5f * float(i));
    }
    weights.resize(64 + b.size() * 4);
    std::memcpy(weights.data(), w.data(), w.size() * 4);
    std::memcpy(weights.data() + 64, b.data(), b.size() * 4);
    using graph::DType;
    graph.tensors = {
        tensor("x", DType::F32, {2, 3}),     tensor("W", DType::F32, {3, 4}, 0),
        tensor("h", DType::F32, {2, 4}),     tensor("hh", DType::F32, {2, 4}),
        tensor("B", DType::F32, {2, 4}, 64), tensor("y", DType::F32, {2, 4})};
    graph.ops = {op("matmul", {0, 1}, {2}), op("mul", {2, 2}, {3}),
                 op("add", {3, 4}, {5})};
    graph.inputs = {0};
    graph.outputs = {2, 5};
  }

  /// The expected outputs for input x.
  void reference(const float *x, float *h, float *y) const {
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 4; ++j) {
        float acc = 0;
        for (int k = 0; k < 3; ++k) {
          acc += x[i * 3 + k] * w[k * 4 + j];
        }
        h[i * 4 + j] = acc;
        y[i * 4 + j] = acc * acc + b[i * 4 + j];
      }
    }
  }

  std::vector<uint8_t> build(const std::string &producer = "test") const {
    package::PackageBuilder builder;
    builder.setProducer(producer);
    builder.setWeights(weights);
    builder.addCpuPartition(graph, "main");
    return builder.build().value();
  }
};

/// Row softmax of a [128,512] bf16 tensor on the simulator
/// (examples/programs/softmax.nasm on the atom config). With `mixed`, CPU
/// partitions cast an f32 input "x" to bf16 before and the result back to
/// f32 "probs" after; otherwise the input "x_bf16" and output "p_bf16" are
/// bf16.
///
/// With `weightBytes`, the NPU partition also loads that many bytes of
/// weights into DRAM at 0x100000, where the program never looks: a package
/// whose device upload the tests can count.
///
/// With `programImage`, the package is a program image of a family with no
/// weights (setExternalWeights of an empty blob; not with `weightBytes`).
inline std::vector<uint8_t> buildSoftmaxPackage(bool mixed,
                                                size_t weightBytes = 0,
                                                bool programImage = false) {
  using graph::DType;
  Result<isa::Program> program =
      isa::assembleFile(NURI_SOURCE_DIR "/examples/programs/softmax.nasm");
  package::PackageBuilder builder;
  builder.setProducer("test");
  if (programImage) {
    builder.setExternalWeights(nullptr, 0);
  }
  builder.setTarget("atom",
                    readText(NURI_SOURCE_DIR "/backends/configs/atom.yaml"));
  std::vector<int64_t> shape = {128, 512};
  if (mixed) {
    graph::Graph in;
    in.tensors = {tensor("x", DType::F32, shape),
                  tensor("x_bf16", DType::BF16, shape)};
    in.ops = {op("cast", {0}, {1})};
    in.inputs = {0};
    in.outputs = {1};
    builder.addCpuPartition(in, "to_bf16");
  }
  package::ValueDesc xin{"x_bf16", DType::BF16, shape, {}};
  package::ValueDesc pout{"p_bf16", DType::BF16, shape, {}};
  std::vector<package::WeightLoad> loads;
  if (weightBytes) {
    std::vector<uint8_t> w(weightBytes);
    for (size_t i = 0; i < w.size(); ++i) {
      w[i] = uint8_t(i * 31);
    }
    loads.push_back(
        {builder.appendWeights(w.data(), w.size()), w.size(), 0x100000});
  }
  builder.addNpuPartition(program.value(), {{xin, 0x0}}, {{pout, 0x40000}},
                          loads, "softmax");
  if (mixed) {
    graph::Graph out;
    out.tensors = {tensor("p_bf16", DType::BF16, shape),
                   tensor("probs", DType::F32, shape)};
    out.ops = {op("cast", {0}, {1})};
    out.inputs = {0};
    out.outputs = {1};
    builder.addCpuPartition(out, "to_f32");
  }
  return builder.build().value();
}

/// A CPU partition that accumulates its input into a state buffer:
/// acc_next = acc + x (x [2,3] f32), y = 2 * acc_next. The state "acc"
/// binds "acc" (run start) and "acc_next" (run end), in place or copied;
/// `init` gives it an initial value from the weights instead of zeros.
inline std::vector<uint8_t> buildAccumulatePackage(bool inPlace,
                                                   bool init = false) {
  using graph::DType;
  graph::Graph g;
  g.tensors = {
      tensor("x", DType::F32, {2, 3}), tensor("acc", DType::F32, {2, 3}),
      tensor("acc_next", DType::F32, {2, 3}), tensor("two", DType::F32, {1}, 0),
      tensor("y", DType::F32, {2, 3})};
  g.ops = {op("add", {1, 0}, {2}), op("mul", {2, 3}, {4})};
  g.inputs = {0, 1};
  g.outputs = {2, 4};
  std::vector<uint8_t> weights(128, 0);
  float two = 2.0f;
  std::memcpy(weights.data(), &two, 4);
  for (int i = 0; i < 6; ++i) {
    float v = float(i + 1) * 100.0f; // the initial value, when asked for
    std::memcpy(weights.data() + 64 + 4 * i, &v, 4);
  }
  package::PackageBuilder builder;
  builder.setProducer("test");
  builder.setWeights(weights);
  builder.addCpuPartition(g, "accumulate");
  builder.addState(
      {"acc", DType::F32, {2, 3}, "acc", "acc_next", inPlace, init ? 64 : -1});
  return builder.build().value();
}

/// A program family of two CPU programs that share the constant W [3,3]
/// f32 (the family's whole weights: offset 0) and the state "acc" [2,3] f32
/// (zeros at start):
///   "prefill" (prefill, batch 1, tokens 2, context 2): input x [2,3];
///       acc += x.W (in place), output y = acc.W
///   "decode" (decode, batch 1, tokens 1, context 4): input t [2,3];
///       acc += t (copied: its values are "cache_in" -> "cache_out"),
///       output logits = acc.W
/// Generation: 2 slots, max_seq 8. Each piece can be replaced to build the
/// bad families the tests want.
struct FamilyModel {
  std::vector<float> w;
  std::vector<uint8_t> weights;

  FamilyModel() {
    for (int i = 0; i < 9; ++i) {
      w.push_back(float(i % 4) - 1.0f); // small integers: exact sums
    }
    weights.resize(w.size() * 4);
    std::memcpy(weights.data(), w.data(), weights.size());
  }

  using StateSpec = package::PackageBuilder::StateSpec;
  using ProgramSpec = package::PackageBuilder::ProgramSpec;

  static StateSpec accState(const std::string &in, const std::string &out,
                            bool inPlace, std::vector<int64_t> shape = {2, 3},
                            int64_t initOffset = -1) {
    return {"acc", graph::DType::F32, std::move(shape), in,
            out,   inPlace,           initOffset};
  }

  /// `input` (times W with `multiplyInput`) is added to the state value
  /// `in` into `out`; the output `result` is out.W.
  static graph::Graph
  accumulateGraph(const std::string &input, const std::string &in,
                  const std::string &out, const std::string &result,
                  bool multiplyInput, std::vector<int64_t> shape = {2, 3}) {
    using graph::DType;
    graph::Graph g;
    g.tensors = {
        tensor(input, DType::F32, shape), tensor(in, DType::F32, shape),
        tensor("W", DType::F32, {3, 3}, 0), tensor(out, DType::F32, shape),
        tensor(result, DType::F32, shape)};
    int32_t addend = 0;
    if (multiplyInput) {
      g.tensors.push_back(tensor("h", DType::F32, shape));
      addend = 5;
      g.ops.push_back(op("matmul", {0, 2}, {addend}));
    }
    g.ops.push_back(op("add", {1, addend}, {3}));
    g.ops.push_back(op("matmul", {3, 2}, {4}));
    g.inputs = {0, 1};
    g.outputs = {3, 4};
    return g;
  }

  /// A program image over this family's weights (or, with `ownWeights`, a
  /// plain package carrying a copy of them, which a family refuses).
  std::vector<uint8_t> image(graph::Graph g, StateSpec state,
                             bool ownWeights = false) const {
    package::PackageBuilder b;
    b.setProducer("test");
    if (ownWeights) {
      b.setWeights(weights);
    } else {
      b.setExternalWeights(weights.data(), weights.size());
    }
    b.addCpuPartition(std::move(g), "main");
    b.addState(std::move(state));
    return b.build().value();
  }

  ProgramSpec prefill() const {
    return {"prefill",
            package::ProgramKind::Prefill,
            1,
            2,
            2,
            image(accumulateGraph("x", "acc", "acc_next", "y", true),
                  accState("acc", "acc_next", true))};
  }
  ProgramSpec decode() const {
    return {
        "decode",
        package::ProgramKind::Decode,
        1,
        1,
        4,
        image(accumulateGraph("t", "cache_in", "cache_out", "logits", false),
              accState("cache_in", "cache_out", false))};
  }

  Result<std::vector<uint8_t>> build(std::vector<ProgramSpec> programs,
                                     package::GenerationInfo generation = {
                                         2, 8}) const {
    package::PackageBuilder b;
    b.setProducer("test");
    b.setWeights(weights);
    for (ProgramSpec &p : programs) {
      b.addProgram(std::move(p));
    }
    b.setGeneration(generation);
    return b.build();
  }
  std::vector<uint8_t> build() const {
    return build({prefill(), decode()}).value();
  }

  /// a [2,3] . W
  std::vector<float> timesW(const std::vector<float> &a) const {
    std::vector<float> out(6, 0.0f);
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 3; ++j) {
        for (int k = 0; k < 3; ++k) {
          out[i * 3 + j] += a[i * 3 + k] * w[k * 3 + j];
        }
      }
    }
    return out;
  }
};

/// fp32 softmax of each row of x (rows x cols).
inline std::vector<float> softmaxRows(const std::vector<float> &x, int rows,
                                      int cols) {
  std::vector<float> y(x.size());
  for (int r = 0; r < rows; ++r) {
    float m = -INFINITY;
    for (int c = 0; c < cols; ++c) {
      m = std::max(m, x[r * cols + c]);
    }
    double s = 0;
    for (int c = 0; c < cols; ++c) {
      s += std::exp(double(x[r * cols + c] - m));
    }
    for (int c = 0; c < cols; ++c) {
      y[r * cols + c] = float(std::exp(double(x[r * cols + c] - m)) / s);
    }
  }
  return y;
}

/// Recomputes every checksum of a package image, so that a mutation
/// reaches the structural checks behind them.
inline void reseal(std::vector<uint8_t> &file) {
  if (file.size() < package::kHeaderBytes) {
    return;
  }
  uint32_t count;
  std::memcpy(&count, file.data() + 32, 4);
  uint64_t tableBytes = uint64_t(count) * package::kSectionEntryBytes;
  if (count == 0 || tableBytes > file.size() - package::kHeaderBytes) {
    return;
  }
  for (uint32_t i = 0; i < count; ++i) {
    uint8_t *e =
        file.data() + package::kHeaderBytes + i * package::kSectionEntryBytes;
    uint64_t offset, size;
    std::memcpy(&offset, e + 8, 8);
    std::memcpy(&size, e + 16, 8);
    if (offset <= file.size() && size <= file.size() - offset) {
      uint32_t crc = package::crc32c(file.data() + offset, size);
      std::memcpy(e + 24, &crc, 4);
    }
  }
  uint32_t tableCrc =
      package::crc32c(file.data() + package::kHeaderBytes, tableBytes);
  std::memcpy(file.data() + 36, &tableCrc, 4);
  std::memset(file.data() + 40, 0, 8);
  uint32_t fileCrc = package::crc32c(file.data(), file.size());
  std::memcpy(file.data() + 40, &fileCrc, 4);
  uint32_t headerCrc = package::crc32c(file.data(), 44);
  std::memcpy(file.data() + 44, &headerCrc, 4);
}

} // namespace nuri::test

#endif // NURI_TESTS_UNIT_RUNTIME_TESTPACKAGES_H
