//===- QuantizeTest.cpp - Calibration statistics and their cache ----------===//

#include "nuri/Driver/Quantize.h"

#include "llvm/Support/Error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>

using namespace nuri::driver;

namespace {

std::string tempPath(const std::string &name) {
  return (std::filesystem::temp_directory_path() /
          ("nuri-quantize-test-" + std::to_string(getpid()) + "-" + name))
      .string();
}

// The histogram grows its range by doubling as larger values arrive; the
// counts survive every merge and the quantiles stay within a bin of the
// exact ones.
TEST(Histogram, GrowsWithoutLosingCounts) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Histogram h;
  std::vector<float> all;
  for (int batch = 0; batch < 8; ++batch) {
    // Each batch is wider than the last: the range doubles several times.
    std::vector<float> x(4096);
    for (float &v : x) {
      v = normal(rng) * float(1 << batch) * 0.01f;
    }
    float amax = 0;
    for (float v : x) {
      amax = std::max(amax, std::fabs(v));
    }
    h.add(x.data(), x.size(), amax);
    all.insert(all.end(), x.begin(), x.end());
  }
  EXPECT_EQ(h.total(), all.size());
  float amax = 0;
  for (float v : all) {
    amax = std::max(amax, std::fabs(v));
  }
  EXPECT_GE(h.range, amax);
  EXPECT_LT(h.range, 2 * amax + 1e-6);
  std::sort(all.begin(), all.end());
  double width = 2 * h.range / Histogram::kBins;
  // Within a bin of the samples around the quantile's rank (in the sparse
  // tails neighbouring samples lie several bins apart).
  for (double q : {0.001, 0.01, 0.5, 0.99, 0.999}) {
    size_t rank = size_t(q * all.size());
    double lo = all[rank >= 2 ? rank - 2 : 0] - width;
    double hi = all[std::min(all.size() - 1, rank + 1)] + width;
    double got = h.quantile(q);
    EXPECT_GE(got, lo) << "quantile " << q;
    EXPECT_LE(got, hi) << "quantile " << q;
  }
}

LayerStats statsOf(const std::vector<float> &x) {
  LayerStats s;
  s.min = *std::min_element(x.begin(), x.end());
  s.max = *std::max_element(x.begin(), x.end());
  s.seen = true;
  s.histogram.add(x.data(), x.size(), float(std::max(-s.min, s.max)));
  return s;
}

// A bulk of unit normals with a few outliers at 40: minmax spends most of
// the 256 levels on the outliers; entropy clips them but keeps the bulk
// (beyond 3 sigma); percentile 99.99 keeps the tail of 4 sigma. (mse keeps
// them: 4 errors of 30 squared outweigh the finer step for the bulk.)
TEST(ActivationRange, EntropyClipsRareOutliers) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(1 << 16);
  for (float &v : x) {
    v = normal(rng);
  }
  for (int i = 0; i < 4; ++i) {
    x[i * 1000] = 40.0f;
  }
  LayerStats s = statsOf(x);
  auto [lo, hi] = chooseActivationRange(s, "minmax", 99.99);
  EXPECT_EQ(lo, s.min);
  EXPECT_EQ(hi, 40.0);
  auto [el, eh] = chooseActivationRange(s, "entropy", 99.99);
  EXPECT_LT(eh, 20.0);
  EXPECT_GT(eh, 3.0);
  EXPECT_LT(el, -3.0);
  EXPECT_GE(el, s.min);
  auto [pl, ph] = chooseActivationRange(s, "percentile", 99.99);
  EXPECT_GT(ph, 3.0);
  EXPECT_LT(ph, 40.0);
  EXPECT_LT(pl, -3.0);
  EXPECT_EQ(chooseActivationRange(s, "mse", 99.99).second, 40.0);
}

// A long (Laplace) tail: mse clips it where the squared clipping error of
// the tail stops paying for the finer step, well inside the observed range
// and well outside the bulk.
TEST(ActivationRange, MseClipsALongTail) {
  std::mt19937 rng(13);
  std::exponential_distribution<float> exp(1.0f);
  std::bernoulli_distribution sign(0.5);
  std::vector<float> x(1 << 16);
  for (float &v : x) {
    v = sign(rng) ? exp(rng) : -exp(rng);
  }
  LayerStats s = statsOf(x);
  auto [lo, hi] = chooseActivationRange(s, "mse", 99.99);
  EXPECT_LT(hi, 0.9 * s.max);
  EXPECT_GT(hi, 3.0);
  EXPECT_GT(lo, 0.9 * s.min);
  EXPECT_LT(lo, -3.0);
}

// Uniform values have no tail to clip: mse keeps (nearly) the whole range.
TEST(ActivationRange, MseKeepsAUniformRange) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> x(1 << 16);
  for (float &v : x) {
    v = uniform(rng);
  }
  LayerStats s = statsOf(x);
  auto [lo, hi] = chooseActivationRange(s, "mse", 99.99);
  EXPECT_GT(hi, 0.95 * s.max);
  EXPECT_LT(lo, 0.95 * s.min);
}

// Values that are never negative (after a ReLU) keep 0 as the low end for
// every method, and the range always holds 0.
TEST(ActivationRange, NonNegativeValuesStartAtZero) {
  std::mt19937 rng(5);
  std::exponential_distribution<float> exp(1.0f);
  std::vector<float> x(1 << 15);
  for (float &v : x) {
    v = 0.5f + exp(rng);
  }
  LayerStats s = statsOf(x);
  for (const char *method : {"minmax", "percentile", "entropy", "mse"}) {
    auto [lo, hi] = chooseActivationRange(s, method, 99.9);
    EXPECT_EQ(lo, 0.0) << method;
    EXPECT_GT(hi, 2.0) << method;
    EXPECT_LE(hi, s.max) << method;
  }
}

TEST(CalibrationCache, RoundTrips) {
  CalibrationTable table;
  table.sets = 3;
  table.smoothAlpha = 0.5;
  LayerStats s;
  s.min = -1.5;
  s.max = 2.25;
  s.seen = true;
  s.channelAbsMax = {0.5f, 2.25f, 1.0f};
  std::vector<float> x = {-1.5f, 0.0f, 2.25f};
  s.histogram.add(x.data(), x.size(), 2.25f);
  table.layers["/h.0/attn/c_attn/MatMul"] = s;
  std::string path = tempPath("roundtrip.json");
  ASSERT_FALSE(bool(writeCalibrationCache(path, table, "model.onnx")));
  llvm::Expected<CalibrationTable> back = readCalibrationCache(path);
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(back->sets, 3);
  ASSERT_TRUE(back->smoothAlpha.has_value());
  EXPECT_EQ(*back->smoothAlpha, 0.5);
  const LayerStats &r = back->layers.at("/h.0/attn/c_attn/MatMul");
  EXPECT_EQ(r.min, -1.5);
  EXPECT_EQ(r.max, 2.25);
  EXPECT_EQ(r.channelAbsMax, s.channelAbsMax);
  EXPECT_EQ(r.histogram.counts, s.histogram.counts);
  EXPECT_EQ(r.histogram.range, s.histogram.range);
  std::filesystem::remove(path);
}

// Every way a cache can be broken is an error naming the file and the fault.
TEST(CalibrationCache, CorruptFilesAreErrors) {
  struct Case {
    std::string text, needle;
  };
  std::vector<Case> cases = {
      {"{\"format\": \"nuri-calibration\", \"layers\": {", "Expected"},
      {"[1, 2]", "not a nuri calibration cache"},
      {"{\"format\": \"nuri-calibration\", \"version\": 2, \"layers\": {}}",
       "unsupported version"},
      {"{\"format\": \"nuri-calibration\", \"version\": 1}", "no \"layers\""},
      {"{\"format\": \"nuri-calibration\", \"version\": 1, \"layers\": "
       "{\"a\": {\"min\": 0, \"max\": 1}}}",
       "layer 'a' has no \"channel_absmax\""},
      {"{\"format\": \"nuri-calibration\", \"version\": 1, \"layers\": "
       "{\"a\": {\"min\": 0, \"max\": 1, \"channel_absmax\": [1], "
       "\"histogram\": {\"range\": 1, \"counts\": [1, 2]}}}}",
       "layer 'a' has no histogram of 2048 counts"},
  };
  std::string path = tempPath("corrupt.json");
  for (const Case &c : cases) {
    std::ofstream(path) << c.text;
    llvm::Expected<CalibrationTable> table = readCalibrationCache(path);
    ASSERT_FALSE(bool(table)) << c.text;
    std::string message = llvm::toString(table.takeError());
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(c.needle), std::string::npos) << message;
  }
  std::filesystem::remove(path);
  llvm::Expected<CalibrationTable> missing = readCalibrationCache(path);
  ASSERT_FALSE(bool(missing));
  EXPECT_NE(llvm::toString(missing.takeError()).find(path), std::string::npos);
}

} // namespace
