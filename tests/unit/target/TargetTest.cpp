//===- TargetTest.cpp - Chip configs load, derive and reject nonsense -----===//

#include "TestFiles.h"

#include <gtest/gtest.h>

using namespace nuri;
using namespace nuri::target;
using isa::Dtype;

namespace {

TEST(Target, AllConfigsLoadAndAreListed) {
  std::vector<std::string> names = listTargets();
  for (const char *n : {"atom", "rngd", "x220", "x330", "tiny"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
    Result<Target> t = findTarget(n);
    ASSERT_TRUE(t) << t.error();
    EXPECT_EQ(t->name, n);
  }
}

TEST(Target, PublishedFiguresAreReproduced) {
  Target atom = test::loadTarget("atom");
  EXPECT_EQ(atom.cores, 8u);
  // 32 TFLOPS fp16/bf16 and 128 TOPS int8 published; within 3%.
  EXPECT_NEAR(atom.peakOpsPerSecond(Dtype::BF16) / 32e12, 1.0, 0.03);
  EXPECT_NEAR(atom.peakOpsPerSecond(Dtype::I8) / 128e12, 1.0, 0.03);
  EXPECT_EQ(atom.sramBytesTotal(), 8ull * 4 * 1048576 + 32ull * 1048576);
  EXPECT_EQ(atom.dram.bytesPerSecond, 256e9);
  EXPECT_EQ(atom.peakOpsPerSecond(Dtype::E4M3), 0.0);

  Target rngd = test::loadTarget("rngd");
  EXPECT_NEAR(rngd.peakOpsPerSecond(Dtype::BF16) / 256e12, 1.0, 0.03);
  EXPECT_EQ(rngd.peakOpsPerSecond(Dtype::E4M3),
            2 * rngd.peakOpsPerSecond(Dtype::BF16));
  EXPECT_EQ(rngd.peakOpsPerSecond(Dtype::I8),
            2 * rngd.peakOpsPerSecond(Dtype::BF16));
  EXPECT_EQ(rngd.sramBytesTotal(), 256ull * 1048576);
  EXPECT_EQ(rngd.dram.bytesPerSecond, 1.5e12);
  EXPECT_EQ(rngd.clockHz, 1e9);

  Target x220 = test::loadTarget("x220");
  EXPECT_EQ(x220.sramBytesTotal(), 11ull * 1048576);
  // The guess must cover the ~55.5 TOPS that MLPerf ResNet-50 delivered.
  EXPECT_GT(x220.peakOpsPerSecond(Dtype::I8), 55.5e12);

  Target x330 = test::loadTarget("x330");
  EXPECT_TRUE(x330.supports(Dtype::E4M3));
  EXPECT_TRUE(x330.supports(Dtype::BF16));
}

TEST(Target, JsonHasTheDocumentedKeys) {
  std::string j = targetToJson(test::loadTarget("atom"));
  for (const char *k :
       {"\"cores\": 8", "\"clock_hz\"", "\"sram_bytes\": 67108864",
        "\"dram_bytes_per_s\": 2.56e+11", "\"peak_ops_per_s\"", "\"bf16\"",
        "\"i8\""}) {
    EXPECT_NE(j.find(k), std::string::npos) << k << " in " << j;
  }
}

std::string tinyText() {
  return test::readFile(std::string(NURI_SOURCE_DIR) +
                        "/backends/configs/tiny.yaml");
}

std::string replaced(std::string s, const std::string &from,
                     const std::string &to) {
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) {
    s.replace(at, from.size(), to);
  }
  return s;
}

TEST(Target, OverridesEditTheConfigBeforeValidation) {
  std::string base = tinyText();
  Result<Target> t =
      loadTargetYaml(base, "tiny.yaml",
                     {"dram.bytes_per_s=32GB", "matrix.rows=16", "cores=4"});
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->dram.bytesPerSecond, 32e9);
  EXPECT_EQ(t->matrix.rows, 16u);
  EXPECT_EQ(t->cores, 4u);
  Result<Target> bad = loadTargetYaml(base, "tiny.yaml", {"matrix.rows=0"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("matrix.rows"), std::string::npos) << bad.error();
  bad = loadTargetYaml(base, "tiny.yaml", {"matrix.rowz=8"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("matrix.rowz: unknown key"), std::string::npos);
  bad = loadTargetYaml(base, "tiny.yaml", {"nosuch.x=1"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("no section `nosuch`"), std::string::npos);
  bad = loadTargetYaml(base, "tiny.yaml", {"cores"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("expected section.key=value"), std::string::npos);
}

TEST(Target, ImpossibleConfigsNameTheField) {
  std::string base = tinyText();
  ASSERT_TRUE(loadTargetYaml(base, "tiny.yaml"));
  struct Case {
    std::string text;
    const char *needle;
  } cases[] = {
      {replaced(base, "cores: 2", "cores: 0"), "tiny.yaml: cores: must be in"},
      {replaced(base, "cores: 2", ""), "cores: missing"},
      {replaced(base, "  rows: 8\n", "  rows: -8\n"), "matrix.rows"},
      {replaced(base, "  lanes: 8", "  lanes: 8\n  lanez: 9"),
       "vector.lanez: unknown key"},
      {replaced(base, "dataflow: output_stationary", "dataflow: sideways"),
       "matrix.dataflow"},
      {replaced(base, "    bf16: 64", "    bf16: 65"),
       "matrix.macs_per_cycle.bf16"},
      {replaced(base, "    bf16: 64", "    f32: 64"),
       "matrix.macs_per_cycle.f32"},
      {replaced(base, "bank_width_bytes: 16", "bank_width_bytes: 12"),
       "sram.bank_width_bytes"},
      {replaced(base, "bytes_per_s: 16GB", "bytes_per_s: 0"),
       "dram.bytes_per_s"},
      {replaced(base, "bytes_per_s: 16GB", "bytes_per_s: 16 furlongs"),
       "unknown unit"},
      {replaced(base, "clock_hz: 1.0 GHz", "clock_hz: 3"), "clock_hz"},
      {replaced(base, "acc_bytes: 16KiB", "acc_bytes: 1023"),
       "matrix.acc_bytes"},
      {"name: [unclosed", "tiny.yaml:"},
      {"- a list", "top level"},
  };
  for (const Case &c : cases) {
    Result<Target> t = loadTargetYaml(c.text, "tiny.yaml");
    ASSERT_FALSE(t) << c.needle;
    EXPECT_NE(t.error().find(c.needle), std::string::npos)
        << "got: " << t.error() << "\nwanted: " << c.needle;
  }
  Result<Target> missing = findTarget("no-such-chip");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("known: "), std::string::npos);
}

TEST(Target, LinkModelsDefaultAndCanBeNamed) {
  std::string base = tinyText();
  Result<Target> t = loadTargetYaml(base, "tiny.yaml");
  ASSERT_TRUE(t) << t.error();
  // Configs written before the key existed get today's model.
  EXPECT_EQ(t->dram.model, kDefaultLinkModel);
  EXPECT_EQ(t->noc.model, kDefaultLinkModel);
  t = loadTargetYaml(replaced(base, "  latency_cycles: 50",
                              "  latency_cycles: 50\n  model: banked"),
                     "tiny.yaml", {"noc.model=mesh"});
  ASSERT_TRUE(t) << t.error();
  // The target does not know the simulator's models; the simulator rejects
  // a name it has no model for when it builds the link.
  EXPECT_EQ(t->dram.model, "banked");
  EXPECT_EQ(t->noc.model, "mesh");
  Result<Target> bad = loadTargetYaml(base, "tiny.yaml", {"dram.model="});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("dram.model: must name a memory-link model"),
            std::string::npos)
      << bad.error();
}

} // namespace
