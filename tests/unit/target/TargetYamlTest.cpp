//===- TargetYamlTest.cpp - targetToYaml reads back into the same target ==//

#include "nuri/target/Target.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

using namespace nuri;
using namespace nuri::target;

namespace {

// Every field but `path`, which names where a target came from, not what
// it is.
void expectSame(const Target &a, const Target &b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.clockHz, b.clockHz);
  EXPECT_EQ(a.cores, b.cores);
  EXPECT_EQ(a.semaphoresPerCore, b.semaphoresPerCore);
  EXPECT_EQ(a.barriers, b.barriers);
  EXPECT_EQ(a.matrix.rows, b.matrix.rows);
  EXPECT_EQ(a.matrix.cols, b.matrix.cols);
  EXPECT_EQ(a.matrix.dataflow, b.matrix.dataflow);
  EXPECT_EQ(a.matrix.macsPerCycle, b.matrix.macsPerCycle);
  EXPECT_EQ(a.matrix.accBytes, b.matrix.accBytes);
  EXPECT_EQ(a.vector.lanes, b.vector.lanes);
  EXPECT_EQ(a.vector.pipelineDepth, b.vector.pipelineDepth);
  EXPECT_EQ(a.vector.transcendentalPasses, b.vector.transcendentalPasses);
  EXPECT_EQ(a.sram.bytesPerCore, b.sram.bytesPerCore);
  EXPECT_EQ(a.sram.banks, b.sram.banks);
  EXPECT_EQ(a.sram.bankWidthBytes, b.sram.bankWidthBytes);
  EXPECT_EQ(a.sram.sharedBytes, b.sram.sharedBytes);
  EXPECT_EQ(a.dram.bytes, b.dram.bytes);
  EXPECT_EQ(a.dram.bytesPerSecond, b.dram.bytesPerSecond);
  EXPECT_EQ(a.dram.latencyCycles, b.dram.latencyCycles);
  EXPECT_EQ(a.dram.model, b.dram.model);
  EXPECT_EQ(a.dma.outstanding, b.dma.outstanding);
  EXPECT_EQ(a.dma.bytesPerCycle, b.dma.bytesPerCycle);
  EXPECT_EQ(a.dma.issueCycles, b.dma.issueCycles);
  EXPECT_EQ(a.noc.bytesPerCycle, b.noc.bytesPerCycle);
  EXPECT_EQ(a.noc.latencyCycles, b.noc.latencyCycles);
  EXPECT_EQ(a.noc.model, b.noc.model);
  EXPECT_EQ(a.energy.present, b.energy.present);
  EXPECT_EQ(a.energy.macPj, b.energy.macPj);
  EXPECT_EQ(a.energy.sramPjPerByte, b.energy.sramPjPerByte);
  EXPECT_EQ(a.energy.accPjPerByte, b.energy.accPjPerByte);
  EXPECT_EQ(a.energy.dramPjPerByte, b.energy.dramPjPerByte);
  EXPECT_EQ(a.energy.nocPjPerByte, b.energy.nocPjPerByte);
  EXPECT_EQ(a.energy.vectorPjPerLaneOp, b.energy.vectorPjPerLaneOp);
  EXPECT_EQ(a.energy.staticWPerMm2, b.energy.staticWPerMm2);
  EXPECT_EQ(a.energy.staticW, b.energy.staticW);
  EXPECT_EQ(a.area.present, b.area.present);
  EXPECT_EQ(a.area.macMm2, b.area.macMm2);
  EXPECT_EQ(a.area.sramMm2PerMiB, b.area.sramMm2PerMiB);
  EXPECT_EQ(a.area.coreMm2, b.area.coreMm2);
  EXPECT_EQ(a.area.vectorMm2PerLane, b.area.vectorMm2PerLane);
  EXPECT_EQ(a.area.dramChannelBytesPerS, b.area.dramChannelBytesPerS);
  EXPECT_EQ(a.area.dramPhyMm2PerChannel, b.area.dramPhyMm2PerChannel);
  EXPECT_EQ(a.area.fixedMm2, b.area.fixedMm2);
  EXPECT_EQ(a.area.utilization, b.area.utilization);
}

// The keys of a YAML mapping, nested ones as `section.key`.
void collectKeys(const YAML::Node &node, const std::string &prefix,
                 std::vector<std::string> &keys) {
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string key = prefix + it->first.as<std::string>();
    keys.push_back(key);
    if (it->second.IsMap()) {
      collectKeys(it->second, key + ".", keys);
    }
  }
}

class ShippedConfig : public ::testing::TestWithParam<std::string> {};

TEST_P(ShippedConfig, RoundTripsThroughYaml) {
  Result<Target> loaded = findTarget(GetParam());
  ASSERT_TRUE(loaded) << loaded.error();
  std::string yaml = targetToYaml(*loaded);
  Result<Target> again = loadTargetYaml(yaml, "serialized " + GetParam());
  ASSERT_TRUE(again) << again.error() << "\n" << yaml;
  expectSame(*loaded, *again);
  // A fixed point: serializing the read-back target gives the same text.
  EXPECT_EQ(targetToYaml(*again), yaml);
}

// A key the file sets but the serializer forgets would be lost in every
// package (the loader then takes its default, silently): every key of every
// shipped file must be written.
TEST_P(ShippedConfig, WritesEveryKeyTheFileSets) {
  Result<Target> loaded = findTarget(GetParam());
  ASSERT_TRUE(loaded) << loaded.error();
  std::vector<std::string> fileKeys, written;
  collectKeys(YAML::LoadFile(loaded->path), "", fileKeys);
  collectKeys(YAML::Load(targetToYaml(*loaded)), "", written);
  for (const std::string &key : fileKeys) {
    EXPECT_NE(std::find(written.begin(), written.end(), key), written.end())
        << GetParam() << ": " << key << " is not serialized";
  }
}

INSTANTIATE_TEST_SUITE_P(Target, ShippedConfig,
                         ::testing::ValuesIn(listTargets()),
                         [](const auto &info) { return info.param; });

TEST(TargetYaml, KeepsOverridesAndOddNumbers) {
  // What a sweep sets on the command line is part of the target, and values
  // no config file spells (fractions, large sizes) must survive exactly.
  Result<Target> t = findTarget(
      "tiny", {"dram.bytes_per_s=123456789.125", "noc.bytes_per_cycle=0.1",
               "clock_hz=1.37GHz", "dram.model=bank-level",
               "description=a: \"quoted\" # not a comment"});
  ASSERT_TRUE(t) << t.error();
  Result<Target> again = loadTargetYaml(targetToYaml(*t), "serialized");
  ASSERT_TRUE(again) << again.error();
  expectSame(*t, *again);
  EXPECT_EQ(again->dram.bytesPerSecond, 123456789.125);
  EXPECT_EQ(again->noc.bytesPerCycle, 0.1);
  // A link model the simulator is told to use must reach it from a package.
  EXPECT_EQ(again->dram.model, "bank-level");
  EXPECT_EQ(again->description, "a: \"quoted\" # not a comment");
}

} // namespace
