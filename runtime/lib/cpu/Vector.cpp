//===- Vector.cpp - Vectorized exp, max and softmax rows ------------------===//
//
// Cephes-style exp: n = round(x log2 e), r = x - n ln 2 in two parts, a
// degree-6 polynomial for e^r, then scale by 2^n. Inputs below -87.3
// (where e^x is subnormal) give exactly 0, so masked scores vanish.
//
//===----------------------------------------------------------------------===//

#include "Vector.h"

// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own
// _mm512_undefined_* placeholders.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace nuri::cpu::detail {
namespace {

constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f,
                kP2 = 8.3334519073e-3f, kP3 = 4.1665795894e-2f,
                kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;
constexpr float kLow = -87.3f, kHigh = 88.7f;

float expScalar(float x) {
  if (x < kLow) {
    return 0.0f;
  }
  return std::exp(x);
}

__attribute__((target("avx512f"))) __m512 exp512(__m512 x) {
  __mmask16 tiny = _mm512_cmp_ps_mask(x, _mm512_set1_ps(kLow), _CMP_LT_OQ);
  x = _mm512_min_ps(x, _mm512_set1_ps(kHigh));
  x = _mm512_max_ps(x, _mm512_set1_ps(kLow));
  __m512 n =
      _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)),
                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kP0);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP1));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP2));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP3));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP4));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP5));
  __m512 r2 = _mm512_mul_ps(r, r);
  p = _mm512_fmadd_ps(p, r2, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  p = _mm512_scalef_ps(p, n);
  return _mm512_mask_mov_ps(p, tiny, _mm512_setzero_ps());
}

__attribute__((target("avx2,fma"))) __m256 exp256(__m256 x) {
  __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(kLow), _CMP_LT_OQ);
  x = _mm256_min_ps(x, _mm256_set1_ps(88.3f));
  x = _mm256_max_ps(x, _mm256_set1_ps(kLow));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kP0);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP1));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP2));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP3));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP4));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP5));
  __m256 r2 = _mm256_mul_ps(r, r);
  p = _mm256_fmadd_ps(p, r2, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  __m256i e = _mm256_slli_epi32(
      _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  p = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  return _mm256_andnot_ps(tiny, p);
}

__attribute__((target("avx512f"))) float expShiftSum512(float *x, int64_t n,
                                                        float shift) {
  __m512 s = _mm512_set1_ps(shift), acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), s));
    _mm512_storeu_ps(x + i, v);
    acc = _mm512_add_ps(acc, v);
  }
  if (i < n) {
    __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    __m512 v = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), s));
    v = _mm512_maskz_mov_ps(m, v);
    _mm512_mask_storeu_ps(x + i, m, v);
    acc = _mm512_add_ps(acc, v);
  }
  return _mm512_reduce_add_ps(acc);
}

__attribute__((target("avx2,fma"))) float expShiftSum256(float *x, int64_t n,
                                                         float shift) {
  __m256 s = _mm256_set1_ps(shift), acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
    _mm256_storeu_ps(x + i, v);
    acc = _mm256_add_ps(acc, v);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  float sum = 0;
  for (float l : lanes) {
    sum += l;
  }
  for (; i < n; ++i) {
    x[i] = expScalar(x[i] - shift);
    sum += x[i];
  }
  return sum;
}

enum class Level { Scalar, Avx2, Avx512 };

Level level() {
  static const Level l = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
      return Level::Avx512;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
      return Level::Avx2;
    }
    return Level::Scalar;
  }();
  return l;
}

} // namespace

float expShiftSum(float *x, int64_t n, float shift) {
  switch (level()) {
  case Level::Avx512:
    return expShiftSum512(x, n, shift);
  case Level::Avx2:
    return expShiftSum256(x, n, shift);
  default: {
    float sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      x[i] = expScalar(x[i] - shift);
      sum += x[i];
    }
    return sum;
  }
  }
}

float rowMax(const float *x, int64_t n) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) {
    m = std::max(m, x[i]);
  }
  return m;
}

void softmaxRow(float *x, int64_t n, bool logOut) {
  if (n == 0) {
    return;
  }
  float m = -std::numeric_limits<float>::infinity();
  bool nan = false;
  for (int64_t i = 0; i < n; ++i) {
    nan |= x[i] != x[i];
    m = std::max(m, x[i]);
  }
  if (nan || m == std::numeric_limits<float>::infinity() ||
      m == -std::numeric_limits<float>::infinity()) {
    // The naive formula's answer: NaN (inf - inf, 0 / 0, NaN input).
    std::fill(x, x + n, std::numeric_limits<float>::quiet_NaN());
    return;
  }
  if (logOut) {
    std::vector<float> tmp(x, x + n);
    float sum = expShiftSum(tmp.data(), n, m);
    float lse = m + std::log(sum);
    for (int64_t i = 0; i < n; ++i) {
      x[i] -= lse;
    }
    return;
  }
  float sum = expShiftSum(x, n, m);
  float inv = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) {
    x[i] *= inv;
  }
}

} // namespace nuri::cpu::detail
