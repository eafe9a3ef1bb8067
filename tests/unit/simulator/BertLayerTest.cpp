//===- BertLayerTest.cpp - The BERT-layer example end to end --------------===//

#include "TestUtil.h"

#include "BertLayer.h"

#include "nuri/isa/Numerics.h"

#include <cmath>
#include <cstdio>
#include <random>

using namespace nuri;
using namespace nuri::isa;

namespace {

TEST(BertLayer, CheckedInProgramMatchesTheGenerator) {
  target::Target t = test::loadTarget("atom");
  Program gen = examples::buildBertLayer(t, {});
  Result<Program> file = assembleFile(std::string(NURI_SOURCE_DIR) +
                                      "/examples/programs/bert_layer.nasm");
  ASSERT_TRUE(file) << file.error();
  EXPECT_EQ(*encodeProgram(gen), *encodeProgram(*file))
      << "regenerate with: nuri-gen-bert atom -o "
         "examples/programs/bert_layer.nasm";
}

TEST(BertLayer, RunsOnEveryBigTargetWithinTheRoofline) {
  for (const char *name : {"atom", "rngd", "x330"}) {
    target::Target t = test::loadTarget(name);
    examples::BertLayout lay;
    Program p = examples::buildBertLayer(t, {}, &lay);
    sim::SimOptions o;
    o.functional = false;
    sim::Simulator sim(t, o);
    Result<sim::Report> r = sim.run(p);
    ASSERT_TRUE(r) << name << ": " << r.error();
    double computeBound =
        lay.flops / t.peakOpsPerSecond(Dtype::BF16) * t.clockHz;
    double memoryBound = lay.minDramBytes / t.dramBytesPerCycle();
    double bound = std::max(computeBound, memoryBound);
    EXPECT_GE(double(r->cycles.count()), bound) << name;
    // Attention and LayerNorm phases do not shrink with the array, so the
    // biggest chip sits furthest from its bound; 6x flags a broken schedule.
    EXPECT_LT(double(r->cycles.count()), 6 * bound) << name;
    std::printf("%s: %llu cycles, roofline %.0f (compute %.0f, memory %.0f), "
                "MAC utilization %.3f\n",
                name, (unsigned long long)r->cycles.count(), bound,
                computeBound, memoryBound, r->macUtilization);
    EXPECT_EQ(double(r->macs) * 2, lay.flops) << name;
    EXPECT_GE(double(r->dramBytes()), lay.minDramBytes * 0.99) << name;
  }
}

TEST(BertLayer, FunctionalOutputIsLayerNormalized) {
  // With gamma = 1 and beta = 0 every output row of LayerNorm has mean 0 and
  // variance 1: a whole-layer check that does not need a reference model.
  target::Target t = test::loadTarget("atom");
  examples::BertLayout lay;
  Program p = examples::buildBertLayer(t, {}, &lay);
  sim::Simulator sim(t);
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 0.05f);
  auto fillBf16 = [&](uint64_t addr, size_t n, float scale, float bias) {
    std::vector<uint16_t> v(n);
    for (auto &x : v) {
      x = f32ToBf16(bias + scale * nd(rng));
    }
    sim.writeDram(addr, v.data(), n * 2);
  };
  auto fillF32 = [&](uint64_t addr, size_t n) {
    std::vector<float> v(n);
    for (auto &x : v) {
      x = nd(rng);
    }
    sim.writeDram(addr, v.data(), n * 4);
  };
  const size_t S = 128, H = 768, F = 3072;
  fillBf16(lay.x, S * H, 20.0f, 0.0f);
  fillBf16(lay.wqkv, H * 3 * H, 1.0f, 0.0f);
  fillBf16(lay.wo, H * H, 1.0f, 0.0f);
  fillBf16(lay.w1, H * F, 1.0f, 0.0f);
  fillBf16(lay.w2, F * H, 1.0f, 0.0f);
  fillF32(lay.bqkv, 3 * H);
  fillF32(lay.bo, H);
  fillF32(lay.b1, F);
  fillF32(lay.b2, H);
  for (uint64_t g : {lay.ln1g, lay.ln2g}) {
    fillBf16(g, H, 0.0f, 1.0f);
  }
  for (uint64_t b : {lay.ln1b, lay.ln2b}) {
    fillBf16(b, H, 0.0f, 0.0f);
  }
  Result<sim::Report> r = sim.run(p);
  ASSERT_TRUE(r) << r.error();
  std::vector<uint16_t> y(S * H);
  sim.readDram(lay.y, y.data(), y.size() * 2);
  for (size_t row = 0; row < S; ++row) {
    double sum = 0, sq = 0;
    for (size_t c = 0; c < H; ++c) {
      float v = bf16ToF32(y[row * H + c]);
      ASSERT_TRUE(std::isfinite(v)) << row << "," << c;
      sum += v;
      sq += double(v) * v;
    }
    double mean = sum / H, var = sq / H - mean * mean;
    EXPECT_NEAR(mean, 0.0, 0.02) << "row " << row;
    EXPECT_NEAR(var, 1.0, 0.03) << "row " << row;
  }
  // The output is not trivially the same row everywhere.
  EXPECT_NE(std::vector<uint16_t>(y.begin(), y.begin() + H),
            std::vector<uint16_t>(y.begin() + H, y.begin() + 2 * H));
}

} // namespace
