//===- QuantizeTest.cpp - Calibration statistics and their cache ----------===//

#include "nuri/Driver/Quantize.h"

#include "llvm/Support/Error.h"

#include <gtest/gtest.h>

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
