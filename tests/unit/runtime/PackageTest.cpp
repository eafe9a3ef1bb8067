//===- PackageTest.cpp - The .nuri format: round trips and hostile bytes --===//

#include "TestPackages.h"

#include "nuri/package/Package.h"

#include <gtest/gtest.h>

using namespace nuri;
using namespace nuri::package;

namespace {

TEST(Package, CpuRoundTrip) {
  test::CpuModel m;
  std::vector<uint8_t> file = m.build("unit-test");
  Result<Package> p = readPackage(file.data(), file.size());
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->producer, "unit-test");
  EXPECT_EQ(p->targetName, "cpu");
  EXPECT_FALSE(p->hasNpuPartitions());
  ASSERT_EQ(p->inputs.size(), 1u);
  EXPECT_EQ(p->values[p->inputs[0]].name, "x");
  ASSERT_EQ(p->outputs.size(), 2u);
  EXPECT_EQ(p->values[p->outputs[0]].name, "h");
  EXPECT_EQ(p->values[p->outputs[1]].name, "y");
  ASSERT_EQ(p->partitions.size(), 1u);
  const graph::Graph &g = p->partitions[0].graph;
  EXPECT_EQ(g.ops.size(), 3u);
  EXPECT_EQ(g.tensors[4].dataOffset, 64);
  EXPECT_EQ(g.ops[1].location, "mul_node");
  // Weights are aligned for in-place use and hold what was written.
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p->weights) % kAlignment,
            reinterpret_cast<uintptr_t>(file.data()) % kAlignment);
  ASSERT_EQ(p->weightBytes, m.weights.size());
  EXPECT_EQ(0, std::memcmp(p->weights, m.weights.data(), m.weights.size()));
}

TEST(Package, GraphAttributesRoundTrip) {
  graph::Graph g;
  g.tensors = {test::tensor("a", graph::DType::F32, {4}),
               test::tensor("b", graph::DType::F32, {4})};
  graph::Op o = test::op("gelu", {0}, {1});
  o.attrs["approximate"] = std::string("tanh");
  o.attrs["axis"] = int64_t(-1);
  o.attrs["epsilon"] = 1e-5;
  o.attrs["perm"] = std::vector<int64_t>{1, 0, 2};
  o.attrs["scales"] = std::vector<double>{0.5, 2.0};
  g.ops = {o};
  g.inputs = {0};
  g.outputs = {1};
  std::vector<uint8_t> bytes = encodeGraph(g);
  Result<graph::Graph> back = decodeGraph(bytes.data(), bytes.size());
  ASSERT_TRUE(back) << back.error();
  const graph::Op &r = back->ops[0];
  EXPECT_EQ(r.getString("approximate", ""), "tanh");
  EXPECT_EQ(r.getInt("axis", 0), -1);
  EXPECT_DOUBLE_EQ(r.getFloat("epsilon", 0), 1e-5);
  EXPECT_EQ(r.getInts("perm"), (std::vector<int64_t>{1, 0, 2}));
  EXPECT_EQ(r.getFloats("scales"), (std::vector<double>{0.5, 2.0}));
  EXPECT_EQ(encodeGraph(*back), bytes);
}

TEST(Package, NpuPartitionRoundTrip) {
  std::vector<uint8_t> file = test::buildSoftmaxPackage(/*mixed=*/true);
  Result<Package> p = readPackage(file.data(), file.size());
  ASSERT_TRUE(p) << p.error();
  EXPECT_TRUE(p->hasNpuPartitions());
  EXPECT_EQ(p->targetName, "atom");
  ASSERT_EQ(p->partitions.size(), 3u);
  EXPECT_EQ(p->partitions[1].kind, PartitionKind::Npu);
  EXPECT_EQ(p->partitions[1].outputAddresses, (std::vector<uint64_t>{0x40000}));
  EXPECT_GT(p->partitions[1].program.numInstructions(), 5u);
  ASSERT_EQ(p->inputs.size(), 1u);
  EXPECT_EQ(p->values[p->inputs[0]].name, "x");
  ASSERT_EQ(p->outputs.size(), 1u);
  EXPECT_EQ(p->values[p->outputs[0]].name, "probs");
  std::string text = describePackage(*p, file.data(), file.size());
  EXPECT_NE(text.find("transfer cpu -> npu: 'x_bf16'"), std::string::npos)
      << text;
  EXPECT_NE(text.find("transfer npu -> cpu: 'p_bf16'"), std::string::npos)
      << text;
  EXPECT_NE(text.find("npu_program"), std::string::npos) << text;
}

TEST(Package, NpuConstantsAppendToTheWeights) {
  Result<isa::Program> prog =
      isa::assembleFile(NURI_SOURCE_DIR "/examples/programs/softmax.nasm");
  test::CpuModel m;
  PackageBuilder b;
  b.setTarget("atom",
              test::readText(NURI_SOURCE_DIR "/backends/configs/atom.yaml"));
  b.setWeights(std::vector<uint8_t>(100, 1));
  std::vector<uint8_t> table(10, 7);
  uint64_t offset = b.appendWeights(table.data(), table.size());
  EXPECT_EQ(offset, 128u);
  ValueDesc v{"x", graph::DType::BF16, {128, 512}, {}};
  ValueDesc o{"y", graph::DType::BF16, {128, 512}, {}};
  b.addNpuPartition(*prog, {{v, 0}}, {{o, 0x40000}},
                    {{offset, table.size(), 0x80000}});
  Result<std::vector<uint8_t>> file = b.build();
  ASSERT_TRUE(file) << file.error();
  Result<Package> p = readPackage(file->data(), file->size());
  ASSERT_TRUE(p) << p.error();
  ASSERT_EQ(p->weightBytes, 138u);
  EXPECT_EQ(p->weights[128], 7);
  ASSERT_EQ(p->partitions[0].weightLoads.size(), 1u);
  EXPECT_EQ(p->partitions[0].weightLoads[0].address, 0x80000u);
}

TEST(Package, QuantizationAndExplicitIO) {
  test::CpuModel m;
  PackageBuilder b;
  b.setWeights(m.weights);
  b.addCpuPartition(m.graph);
  b.setIO({"x"}, {"y"});
  b.setQuantization("x", QuantParams{{0.5}, {3}, -1});
  Result<std::vector<uint8_t>> file = b.build();
  ASSERT_TRUE(file) << file.error();
  Result<Package> p = readPackage(file->data(), file->size());
  ASSERT_TRUE(p) << p.error();
  ASSERT_EQ(p->outputs.size(), 1u);
  EXPECT_EQ(p->values[p->outputs[0]].name, "y");
  const QuantParams &q = p->values[p->inputs[0]].quant;
  EXPECT_EQ(q.scales, (std::vector<double>{0.5}));
  EXPECT_EQ(q.zeroPoints, (std::vector<int64_t>{3}));
}

TEST(Package, BuilderRefusesInvalidPackages) {
  test::CpuModel m;
  {
    PackageBuilder b; // constant outside the (missing) weights
    b.addCpuPartition(m.graph);
    Result<std::vector<uint8_t>> r = b.build();
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("outside the weight section"), std::string::npos)
        << r.error();
  }
  {
    PackageBuilder b;
    b.setWeights(m.weights);
    b.addCpuPartition(m.graph);
    b.setIO({"nope"}, {"y"});
    Result<std::vector<uint8_t>> r = b.build();
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("'nope'"), std::string::npos) << r.error();
  }
  {
    PackageBuilder b; // NPU partition without a target
    Result<isa::Program> prog =
        isa::assembleFile(NURI_SOURCE_DIR "/examples/programs/softmax.nasm");
    ValueDesc v{"x", graph::DType::BF16, {128, 512}, {}};
    ValueDesc o{"y", graph::DType::BF16, {128, 512}, {}};
    b.addNpuPartition(*prog, {{v, 0}}, {{o, 0x40000}}, {});
    Result<std::vector<uint8_t>> r = b.build();
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("needs a target section"), std::string::npos)
        << r.error();
  }
  {
    PackageBuilder b; // the same name with two shapes
    b.setWeights(m.weights);
    b.addCpuPartition(m.graph);
    graph::Graph g2 = m.graph;
    g2.tensors[0].name = "y"; // reads y as [2,3]
    g2.tensors[2].name = "h2";
    g2.tensors[5].name = "y2";
    b.addCpuPartition(g2);
    Result<std::vector<uint8_t>> r = b.build();
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("tensor 'y'"), std::string::npos) << r.error();
  }
}

TEST(Package, StateBuffersRoundTrip) {
  std::vector<uint8_t> file = test::buildAccumulatePackage(true, true);
  Result<Package> p = readPackage(file.data(), file.size());
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->versionMinor, 1);
  ASSERT_EQ(p->states.size(), 1u);
  const StateBuffer &st = p->states[0];
  EXPECT_EQ(st.name, "acc");
  EXPECT_EQ(st.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(p->values[st.input].name, "acc");
  EXPECT_EQ(p->values[st.output].name, "acc_next");
  EXPECT_TRUE(st.inPlace);
  EXPECT_EQ(st.initOffset, 64);
  // The state's values are neither model inputs nor outputs.
  ASSERT_EQ(p->inputs.size(), 1u);
  EXPECT_EQ(p->values[p->inputs[0]].name, "x");
  ASSERT_EQ(p->outputs.size(), 1u);
  EXPECT_EQ(p->values[p->outputs[0]].name, "y");
  std::string text = describePackage(*p, file.data(), file.size());
  EXPECT_NE(text.find("states:\n  acc: [2,3] f32 initialized, 'acc' -> "
                      "'acc_next' in place"),
            std::string::npos)
      << text;
  // A package without states has no state section, as 1.0 wrote it.
  std::vector<uint8_t> plain = test::CpuModel().build();
  Result<Package> q = readPackage(plain.data(), plain.size());
  ASSERT_TRUE(q);
  EXPECT_TRUE(q->states.empty());
}

TEST(Package, StateBuffersAreValidated) {
  test::CpuModel m;
  auto build = [&](PackageBuilder::StateSpec spec, bool explicitIo = false) {
    PackageBuilder b;
    b.setWeights(m.weights);
    b.addCpuPartition(m.graph, "main");
    if (explicitIo) {
      b.setIO({"x"}, {"y"});
    }
    b.addState(std::move(spec));
    return b.build();
  };
  using graph::DType;
  {
    auto r = build({"s", DType::F32, {2, 4}, "q", "y"});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("state 's': no partition reads or writes 'q'"),
              std::string::npos)
        << r.error();
  }
  {
    // "h" is written by the partition, so it cannot be the state's input.
    auto r = build({"s", DType::F32, {2, 4}, "h", "y"}, true);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("model input or output"), std::string::npos)
        << r.error();
  }
  {
    auto r = build({"s", DType::F32, {4, 2}, "x", "h"});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("state 's' is [4,2] f32 but its value 'x' is "
                             "[2,3] f32"),
              std::string::npos)
        << r.error();
  }
  {
    auto r = build({"s", DType::F32, {2, 4}, "h", "y", false, 1 << 20});
    ASSERT_FALSE(r);
  }
}

TEST(Package, Crc32cKnownValue) {
  // The check value of CRC-32C (RFC 3720).
  const char *digits = "123456789";
  EXPECT_EQ(crc32c(reinterpret_cast<const uint8_t *>(digits), 9), 0xE3069283u);
}

// Every single-byte change and every truncation is an error, never a crash.
void walkFlipsAndTruncations(const std::vector<uint8_t> &file) {
  ASSERT_TRUE(readPackage(file.data(), file.size()));
  size_t flipsAccepted = 0;
  for (size_t i = 0; i < file.size(); ++i) {
    std::vector<uint8_t> bad = file;
    bad[i] ^= 0xFF;
    Result<Package> r = readPackage(bad.data(), bad.size());
    flipsAccepted += r.ok();
    if (!r) {
      EXPECT_FALSE(r.error().empty());
    }
  }
  // Checksums cover every byte, so no flip goes unnoticed.
  EXPECT_EQ(flipsAccepted, 0u);
  for (size_t n = 0; n < file.size(); ++n) {
    std::vector<uint8_t> cut(file.begin(), file.begin() + n);
    Result<Package> r = readPackage(cut.data(), cut.size());
    EXPECT_FALSE(r) << "truncated to " << n << " bytes";
  }
}

TEST(PackageHostile, EveryByteFlippedAndEveryTruncationCpu) {
  walkFlipsAndTruncations(test::CpuModel().build());
}

TEST(PackageHostile, EveryByteFlippedAndEveryTruncationMixed) {
  walkFlipsAndTruncations(test::buildSoftmaxPackage(true));
}

// With the checksums recomputed after each change, the structural checks
// alone must catch what matters: each mutation either reads as a valid
// package or is a clean error; values of several widths are tried.
void walkResealed(const std::vector<uint8_t> &file) {
  const uint8_t patterns[] = {0xFF, 0x80, 0x01, 0x7F};
  size_t rejected = 0, total = 0;
  for (size_t i = 0; i < file.size(); ++i) {
    for (uint8_t x : patterns) {
      std::vector<uint8_t> bad = file;
      bad[i] ^= x;
      test::reseal(bad);
      Result<Package> r = readPackage(bad.data(), bad.size());
      ++total;
      if (!r) {
        ++rejected;
        EXPECT_FALSE(r.error().empty());
      } else {
        // What is accepted is consistent: ids in range, bindings typed.
        for (const Partition &p : r->partitions) {
          for (int32_t id : p.inputs) {
            ASSERT_LT(size_t(id), r->values.size());
          }
        }
      }
    }
  }
  // Most changes hit structure (sizes, ids, enums); some only hit names
  // or weights, which are legal.
  EXPECT_GT(rejected, total / 4);
}

TEST(PackageHostile, EveryByteFlippedAndEveryTruncationState) {
  walkFlipsAndTruncations(test::buildAccumulatePackage(true));
}

TEST(PackageHostile, ResealedMutationsState) {
  walkResealed(test::buildAccumulatePackage(false, true));
}

TEST(PackageHostile, EveryByteFlippedAndEveryTruncationFamily) {
  walkFlipsAndTruncations(test::FamilyModel().build());
}

TEST(PackageHostile, ResealedMutationsFamily) {
  walkResealed(test::FamilyModel().build());
}

TEST(PackageHostile, ResealedMutationsCpu) {
  walkResealed(test::CpuModel().build());
}

TEST(PackageHostile, ResealedMutationsMixed) {
  walkResealed(test::buildSoftmaxPackage(true));
}

TEST(PackageHostile, ClearMessages) {
  std::vector<uint8_t> file = test::CpuModel().build();
  {
    std::vector<uint8_t> bad = file;
    bad[0] = 'X';
    Result<Package> r = readPackage(bad.data(), bad.size());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("bad magic"), std::string::npos);
  }
  {
    std::vector<uint8_t> bad(file.begin(), file.end() - 1);
    Result<Package> r = readPackage(bad.data(), bad.size());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("truncated"), std::string::npos) << r.error();
  }
  {
    std::vector<uint8_t> bad = file;
    bad[8] = 9; // major version
    test::reseal(bad);
    Result<Package> r = readPackage(bad.data(), bad.size());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("version 9.1 is not supported"), std::string::npos)
        << r.error();
  }
  {
    std::vector<uint8_t> bad = file;
    bad.back() ^= 1; // a weight byte
    Result<Package> r = readPackage(bad.data(), bad.size());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("checksum mismatch"), std::string::npos)
        << r.error();
  }
  EXPECT_FALSE(readPackage(nullptr, 0));
}

TEST(PackageFile, OpenMissingAndMapped) {
  Result<std::shared_ptr<const PackageFile>> missing =
      PackageFile::open("/nonexistent/model.nuri");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("/nonexistent/model.nuri"), std::string::npos);
  std::vector<uint8_t> bytes = test::CpuModel().build();
  std::string path = ::testing::TempDir() + "/roundtrip.nuri";
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
  }
  Result<std::shared_ptr<const PackageFile>> f = PackageFile::open(path);
  ASSERT_TRUE(f) << f.error();
  EXPECT_EQ((*f)->package().fileBytes, bytes.size());
  Result<std::string> text = describePackageFile(path);
  ASSERT_TRUE(text) << text.error();
  EXPECT_NE(text->find("x: [2,3] f32"), std::string::npos) << *text;
  EXPECT_NE(text->find("matmulx1"), std::string::npos) << *text;
}

} // namespace

namespace {

TEST(PackageBuilder, WriteStreamsTheSameBytesAsBuild) {
  test::CpuModel m;
  PackageBuilder b;
  b.setWeights(m.weights);
  b.addCpuPartition(m.graph, "main");
  std::string path = ::testing::TempDir() + "/written.nuri";
  Result<bool> ok = b.write(path);
  ASSERT_TRUE(ok) << ok.error();
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> onDisk((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
  EXPECT_EQ(onDisk, b.build().value());

  // An invalid package is an error naming the file, and no file is left.
  PackageBuilder bad;
  bad.addCpuPartition(m.graph); // constants without weights
  std::string badPath = ::testing::TempDir() + "/invalid.nuri";
  Result<bool> r = bad.write(badPath);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("outside the weight section"), std::string::npos)
      << r.error();
  EXPECT_FALSE(std::ifstream(badPath).good());
  EXPECT_FALSE(b.write("/nonexistent-dir/x.nuri"));
}

} // namespace
