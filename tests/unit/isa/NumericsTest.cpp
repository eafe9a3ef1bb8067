//===- NumericsTest.cpp - Number formats against brute-force references ---===//
//
// The reference rounds by searching the sorted list of every finite value a
// format can hold for the nearest one (ties to the even code), which shares
// nothing with the bit-twiddling implementation under test.
//
//===----------------------------------------------------------------------===//

#include "nuri/isa/Numerics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

using namespace nuri::isa;

namespace {

struct Format {
  const char *name;
  unsigned bits;
  float (*decode)(uint32_t);
  uint32_t (*encode)(float);
  bool overflowToInf;
};

float decBf16(uint32_t c) { return bf16ToF32(uint16_t(c)); }
uint32_t encBf16(float f) { return f32ToBf16(f); }
float decF16(uint32_t c) { return f16ToF32(uint16_t(c)); }
uint32_t encF16(float f) { return f32ToF16(f); }
float decE4(uint32_t c) { return e4m3ToF32(uint8_t(c)); }
uint32_t encE4(float f) { return f32ToE4M3(f); }
float decE5(uint32_t c) { return e5m2ToF32(uint8_t(c)); }
uint32_t encE5(float f) { return f32ToE5M2(f); }

const Format kFormats[] = {
    {"bf16", 16, decBf16, encBf16, true},
    {"f16", 16, decF16, encF16, true},
    {"e4m3", 8, decE4, encE4, false},
    {"e5m2", 8, decE5, encE5, false},
};

class Reference {
public:
  explicit Reference(const Format &f) : f_(f) {
    for (uint32_t c = 0; c < (1u << (f.bits - 1)); ++c) {
      double v = f.decode(c);
      if (std::isfinite(v)) {
        values_.emplace_back(v, c);
      }
    }
    std::sort(values_.begin(), values_.end());
  }
  /// Expected decoded value of rounding x.
  double round(float x) const {
    double a = std::fabs(double(x));
    double sign = std::signbit(x) ? -1 : 1;
    auto hi =
        std::lower_bound(values_.begin(), values_.end(), std::make_pair(a, 0u));
    double maxv = values_.back().first;
    if (hi == values_.end()) {
      // Above the largest finite value: IEEE formats round to inf once past
      // max + half an ulp; the fp8 formats saturate.
      auto prev = values_.end() - 2;
      double ulp = maxv - prev->first;
      if (f_.overflowToInf && a >= maxv + ulp / 2) {
        return sign * INFINITY;
      }
      return sign * maxv;
    }
    if (hi->first == a || hi == values_.begin()) {
      return sign * hi->first;
    }
    auto lo = hi - 1;
    double dlo = a - lo->first, dhi = hi->first - a;
    if (dlo < dhi) {
      return sign * lo->first;
    }
    if (dhi < dlo) {
      return sign * hi->first;
    }
    return sign * ((lo->second & 1) == 0 ? lo->first : hi->first);
  }

private:
  const Format &f_;
  std::vector<std::pair<double, uint32_t>> values_;
};

TEST(Numerics, RoundToNearestEvenMatchesBruteForce) {
  std::mt19937 rng(7);
  for (const Format &f : kFormats) {
    Reference ref(f);
    std::vector<float> samples;
    // Every decoded value, the midpoints between neighbours (ties), and
    // random floats across the whole exponent range.
    for (uint32_t c = 0; c < (1u << f.bits); ++c) {
      float v = f.decode(c), w = f.decode(c + 1 < (1u << f.bits) ? c + 1 : c);
      samples.push_back(v);
      if (std::isfinite(v) && std::isfinite(w)) {
        samples.push_back(float((double(v) + double(w)) / 2));
        samples.push_back(
            std::nextafter(float((double(v) + double(w)) / 2), 0.0f));
      }
    }
    for (int i = 0; i < 200000; ++i) {
      uint32_t bits = rng();
      float x;
      std::memcpy(&x, &bits, 4);
      samples.push_back(x);
    }
    for (float x : samples) {
      float got = f.decode(f.encode(x));
      if (std::isnan(x)) {
        EXPECT_TRUE(std::isnan(got)) << f.name;
        continue;
      }
      double want = ref.round(x);
      ASSERT_EQ(double(got), want)
          << f.name << " x=" << x << " bits=" << std::hex << floatBits(x);
      if (got == 0) {
        EXPECT_EQ(std::signbit(got), std::signbit(x)) << f.name << " " << x;
      }
    }
  }
}

TEST(Numerics, KnownEncodings) {
  EXPECT_EQ(f16ToF32(0x3c00), 1.0f);
  EXPECT_EQ(f16ToF32(0x7bff), 65504.0f);
  EXPECT_EQ(f16ToF32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(f16ToF32(0x7c00)));
  EXPECT_EQ(f32ToF16(65520.0f), 0x7c00); // rounds past max: inf
  EXPECT_EQ(e4m3ToF32(0x7e), 448.0f);
  EXPECT_TRUE(std::isnan(e4m3ToF32(0x7f)));
  EXPECT_EQ(f32ToE4M3(1e6f), 0x7e); // saturates
  EXPECT_EQ(e4m3ToF32(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(e5m2ToF32(0x7b), 57344.0f);
  EXPECT_TRUE(std::isinf(e5m2ToF32(0x7c)));
  EXPECT_EQ(f32ToE5M2(1e9f), 0x7b);          // saturates
  EXPECT_EQ(f32ToBf16(1.00390625f), 0x3f80); // tie -> even
  EXPECT_EQ(f32ToBf16(1.01171875f), 0x3f82); // tie -> even (up)
  EXPECT_EQ(bf16ToF32(0x3f80), 1.0f);
}

TEST(Numerics, IntegerConversionsRoundHalfEvenAndSaturate) {
  EXPECT_EQ(f32ToI8(2.5f), 2);
  EXPECT_EQ(f32ToI8(3.5f), 4);
  EXPECT_EQ(f32ToI8(-2.5f), -2);
  EXPECT_EQ(f32ToI8(127.4f), 127);
  EXPECT_EQ(f32ToI8(1000.0f), 127);
  EXPECT_EQ(f32ToI8(-1000.0f), -128);
  EXPECT_EQ(f32ToI8(NAN), 0);
  EXPECT_EQ(f32ToI32(3e9f), 2147483647);
  EXPECT_EQ(f32ToI32(-3e9f), int32_t(-2147483648LL));
  EXPECT_EQ(f32ToI32(-0.5f), 0);
  EXPECT_EQ(f32ToI32(1.5f), 2);
}

} // namespace
