//===- Vector.cpp - Vectorized exp, max and softmax rows ------------------===//
//
// Cephes-style exp: n = round(x log2 e), r = x - n ln 2 in two parts, a
// degree-6 polynomial for e^r, then scale by 2^n. Inputs below -87.3
// (where e^x is subnormal) give exactly 0, so masked scores vanish.
//
//===----------------------------------------------------------------------===//

#include "Vector.h"

#include "nuri/isa/Numerics.h"

// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own
// _mm512_undefined_* placeholders.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
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

// erf(z) = z * P(z^2) on [0, 1] and erfc(z) = exp(-z^2) * R(2 / (2 + z))
// on [1, 9.5]: least-squares Chebyshev fits (made for this file with
// numpy), 2.5e-7 worst relative error evaluated in fp32.
constexpr float kErfP[] = {1.128379225730896f,    -0.3761262893676758f,
                           0.11283634603023529f,  -0.0268560703843832f,
                           0.005192957818508148f, -0.0008053751080296934f,
                           8.00687339506112e-05f};
constexpr float kErfcR[] = {
    1.2182075579403318e-06f, 0.282056599855423f,    0.2826201319694519f,
    0.24267548322677612f,    0.1971151977777481f,   0.016036273911595345f,
    0.13522376120090485f,    -0.21625164151191711f, -0.01593916118144989f,
    0.12304007261991501f,    -0.04669151082634926f};
constexpr float kSqrtHalf = 0.70710678118654752f;
constexpr float kGeluTanhC = 0.7978845608028654f; // sqrt(2 / pi)

/// Phi(x), the standard normal CDF, accurate in relative terms in both
/// tails (so gelu(x) = x Phi(x) is too): the far tail comes from erfc.
float phiScalar(float x) {
  float z = std::fabs(x) * kSqrtHalf;
  if (z < 1.0f) {
    float w = z * z, p = kErfP[6];
    for (int i = 5; i >= 0; --i) {
      p = p * w + kErfP[i];
    }
    float e = z * p;
    return x >= 0 ? 0.5f + 0.5f * e : 0.5f - 0.5f * e;
  }
  float t = 2.0f / (2.0f + z), r = kErfcR[10];
  for (int i = 9; i >= 0; --i) {
    r = r * t + kErfcR[i];
  }
  float z2 = z * z, lo = std::fma(z, z, -z2);
  float c = expScalar(-z2) * (1.0f - lo) * r;
  return x >= 0 ? 1.0f - 0.5f * c : 0.5f * c;
}

__attribute__((target("avx512f"))) __m512 phi512(__m512 x) {
  __m512 z = _mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(kSqrtHalf));
  __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  __mmask16 small = _mm512_cmp_ps_mask(z, _mm512_set1_ps(1.0f), _CMP_LT_OQ);
  __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
  __m512 z2 = _mm512_mul_ps(z, z);
  // Small |x|: 0.5 +- 0.5 erf(z).
  __m512 p = _mm512_set1_ps(kErfP[6]);
  for (int i = 5; i >= 0; --i) {
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(kErfP[i]));
  }
  __m512 e = _mm512_mul_ps(_mm512_mul_ps(z, p), half);
  __m512 phiSmall = _mm512_mask_sub_ps(_mm512_add_ps(half, e), neg, half, e);
  // Large |x|: 0.5 erfc(z) or 1 - 0.5 erfc(z); exp(-z^2) corrected for the
  // rounding of z^2 so the far tail keeps its relative accuracy.
  __m512 t = _mm512_div_ps(_mm512_set1_ps(2.0f),
                           _mm512_add_ps(_mm512_set1_ps(2.0f), z));
  __m512 r = _mm512_set1_ps(kErfcR[10]);
  for (int i = 9; i >= 0; --i) {
    r = _mm512_fmadd_ps(r, t, _mm512_set1_ps(kErfcR[i]));
  }
  __m512 lo = _mm512_fmsub_ps(z, z, z2);
  __m512 c = _mm512_mul_ps(exp512(_mm512_sub_ps(_mm512_setzero_ps(), z2)),
                           _mm512_fnmadd_ps(lo, one, one));
  c = _mm512_mul_ps(_mm512_mul_ps(c, r), half);
  __m512 phiLarge = _mm512_mask_mov_ps(_mm512_sub_ps(one, c), neg, c);
  return _mm512_mask_mov_ps(phiLarge, small, phiSmall);
}

/// x / (1 + exp(-k x')) with x' = x (sigmoid family) or the tanh-GELU
/// argument; 0.5 x (1 + tanh(y)) == x / (1 + exp(-2y)).
__attribute__((target("avx512f"))) void activation512(const float *x, float *y,
                                                      int64_t n, int kind) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? __mmask16(0xffff)
                              : static_cast<__mmask16>((1u << (n - i)) - 1);
    __m512 v = _mm512_maskz_loadu_ps(m, x + i), r;
    switch (kind) {
    case 0: // gelu erf
      r = _mm512_mul_ps(v, phi512(v));
      break;
    case 1: { // gelu tanh
      __m512 v3 = _mm512_mul_ps(_mm512_mul_ps(v, v), v);
      __m512 u = _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), v3, v);
      u = _mm512_mul_ps(u, _mm512_set1_ps(-2.0f * kGeluTanhC));
      r = _mm512_div_ps(v, _mm512_add_ps(one, exp512(u)));
      break;
    }
    case 2: // sigmoid
      r = _mm512_div_ps(
          one,
          _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), v))));
      break;
    default: // silu
      r = _mm512_div_ps(
          v, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), v))));
      break;
    }
    _mm512_mask_storeu_ps(y + i, m, r);
  }
}

float activationScalar(float v, int kind) {
  switch (kind) {
  case 0:
    return v * phiScalar(v);
  case 1: {
    float u = -2.0f * kGeluTanhC * (v + 0.044715f * v * v * v);
    return v / (1.0f + std::exp(u));
  }
  case 2:
    return 1.0f / (1.0f + std::exp(-v));
  default:
    return v / (1.0f + std::exp(-v));
  }
}

__attribute__((target("avx512f"))) float rowMax512(const float *x, int64_t n,
                                                   bool &nan) {
  __m512 m = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __mmask16 bad = 0;
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 k = n - i >= 16 ? __mmask16(0xffff)
                              : static_cast<__mmask16>((1u << (n - i)) - 1);
    __m512 v = _mm512_mask_loadu_ps(m, k, x + i);
    bad |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    m = _mm512_max_ps(m, v);
  }
  nan = bad != 0;
  return _mm512_reduce_max_ps(m);
}

__attribute__((target("avx512f"))) float rowSum512(const float *x, int64_t n,
                                                   float shift, bool square) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  __m512 s = _mm512_set1_ps(shift);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 v0 = _mm512_sub_ps(_mm512_loadu_ps(x + i), s);
    __m512 v1 = _mm512_sub_ps(_mm512_loadu_ps(x + i + 16), s);
    a0 = square ? _mm512_fmadd_ps(v0, v0, a0) : _mm512_add_ps(a0, v0);
    a1 = square ? _mm512_fmadd_ps(v1, v1, a1) : _mm512_add_ps(a1, v1);
  }
  for (; i < n; i += 16) {
    __mmask16 k = n - i >= 16 ? __mmask16(0xffff)
                              : static_cast<__mmask16>((1u << (n - i)) - 1);
    __m512 v = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, x + i), s);
    a0 = square ? _mm512_fmadd_ps(v, v, a0) : _mm512_add_ps(a0, v);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

__attribute__((target("avx512f"))) void
normRow512(const float *x, float *y, int64_t n, float mean, float inv,
           const float *scale, const float *shift) {
  __m512 mv = _mm512_set1_ps(mean), iv = _mm512_set1_ps(inv);
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 k = n - i >= 16 ? __mmask16(0xffff)
                              : static_cast<__mmask16>((1u << (n - i)) - 1);
    __m512 v =
        _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), mv), iv);
    v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(k, scale + i));
    if (shift) {
      v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, shift + i));
    }
    _mm512_mask_storeu_ps(y + i, k, v);
  }
}

__attribute__((target("avx512f"))) void
scaleAdd512(float *x, int64_t n, float scale, const float *add) {
  __m512 sv = _mm512_set1_ps(scale);
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 k = n - i >= 16 ? __mmask16(0xffff)
                              : static_cast<__mmask16>((1u << (n - i)) - 1);
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), sv);
    if (add) {
      v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, add + i));
    }
    _mm512_mask_storeu_ps(x + i, k, v);
  }
}

// fp16/bf16 <-> fp32 rows. The hardware conversions (F16C, AVX-512) are
// IEEE round-to-nearest-even like nuri::isa's, so finite values and
// infinities match bit for bit; NaN lanes are redone by the isa functions
// so that payloads match too (the simulator is checked bit for bit).

__attribute__((target("avx512f,avx512bw,avx512vl"))) void
f16ToF32Row512(const uint16_t *src, float *dst, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 k = n - i >= 16 ? __mmask16(0xffff)
                              : static_cast<__mmask16>((1u << (n - i)) - 1);
    __m256i h = _mm256_maskz_loadu_epi16(k, src + i);
    _mm512_mask_storeu_ps(dst + i, k, _mm512_cvtph_ps(h));
  }
  for (int64_t i = 0; i < n; ++i) {
    if ((src[i] & 0x7c00) == 0x7c00 && (src[i] & 0x3ff) != 0) {
      dst[i] = isa::f16ToF32(src[i]);
    }
  }
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) void
f32ToF16Row512(const float *src, uint16_t *dst, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 k = n - i >= 16 ? __mmask16(0xffff)
                              : static_cast<__mmask16>((1u << (n - i)) - 1);
    __m512 v = _mm512_maskz_loadu_ps(k, src + i);
    __m256i h =
        _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_mask_storeu_epi16(dst + i, k, h);
    if (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & k) {
      for (int64_t j = i; j < std::min(n, i + 16); ++j) {
        if (src[j] != src[j]) {
          dst[j] = isa::f32ToF16(src[j]);
        }
      }
    }
  }
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) void
bf16ToF32Row512(const uint16_t *src, float *dst, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 k = n - i >= 16 ? __mmask16(0xffff)
                              : static_cast<__mmask16>((1u << (n - i)) - 1);
    __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, src + i));
    _mm512_mask_storeu_ps(dst + i, k,
                          _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
  }
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) void
f32ToBf16Row512(const float *src, uint16_t *dst, int64_t n) {
  const __m512i absMask = _mm512_set1_epi32(0x7fffffff);
  const __m512i inf = _mm512_set1_epi32(0x7f800000);
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 k = n - i >= 16 ? __mmask16(0xffff)
                              : static_cast<__mmask16>((1u << (n - i)) - 1);
    __m512i u = _mm512_maskz_loadu_epi32(k, src + i);
    // Same arithmetic as isa::f32ToBf16: add 0x7fff plus the kept LSB.
    __m512i lsb =
        _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(
        _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))),
        16);
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, absMask), inf);
    r = _mm512_mask_mov_epi32(
        r, nan,
        _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40)));
    _mm256_mask_storeu_epi16(dst + i, k, _mm512_cvtepi32_epi16(r));
  }
}

using Level = IsaLevel;
Level level() { return isaLevel(); }

} // namespace

IsaLevel isaLevel() {
  static const IsaLevel l = [] {
    __builtin_cpu_init();
    IsaLevel hw = IsaLevel::Scalar;
    if (__builtin_cpu_supports("avx512f")) {
      hw = IsaLevel::Avx512;
    } else if (__builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma")) {
      hw = IsaLevel::Avx2;
    }
    const char *cap = std::getenv("NURI_CPU_ISA");
    std::string c = cap ? cap : "";
    IsaLevel limit = c == "scalar" ? IsaLevel::Scalar
                     : c == "avx2" ? IsaLevel::Avx2
                                   : IsaLevel::Avx512;
    return std::min(hw, limit);
  }();
  return l;
}

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

bool canConvertRow(graph::DType from, graph::DType to) {
  static const bool bw = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && isaLevel() == IsaLevel::Avx512;
  }();
  using graph::DType;
  bool half = from == DType::F16 || from == DType::BF16 || to == DType::F16 ||
              to == DType::BF16;
  bool f32 = from == DType::F32 || to == DType::F32;
  return level() == Level::Avx512 && bw && half && f32 && from != to;
}

bool convertRow(graph::DType from, const void *src, graph::DType to, void *dst,
                int64_t n) {
  if (!canConvertRow(from, to)) {
    return false;
  }
  using graph::DType;
  if (from == DType::F16 && to == DType::F32) {
    f16ToF32Row512(static_cast<const uint16_t *>(src),
                   static_cast<float *>(dst), n);
  } else if (from == DType::BF16 && to == DType::F32) {
    bf16ToF32Row512(static_cast<const uint16_t *>(src),
                    static_cast<float *>(dst), n);
  } else if (from == DType::F32 && to == DType::F16) {
    f32ToF16Row512(static_cast<const float *>(src),
                   static_cast<uint16_t *>(dst), n);
  } else if (from == DType::F32 && to == DType::BF16) {
    f32ToBf16Row512(static_cast<const float *>(src),
                    static_cast<uint16_t *>(dst), n);
  } else {
    return false;
  }
  return true;
}

void activationRow(const float *x, float *y, int64_t n, Activation kind) {
  int k = static_cast<int>(kind);
  if (level() == Level::Avx512) {
    activation512(x, y, n, k);
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    y[i] = activationScalar(x[i], k);
  }
}

float rowMax(const float *x, int64_t n, bool *hasNaN) {
  bool nan = false;
  float m = -std::numeric_limits<float>::infinity();
  if (level() == Level::Avx512) {
    m = rowMax512(x, n, nan);
  } else {
    for (int64_t i = 0; i < n; ++i) {
      float v = x[i];
      nan |= v != v;
      m = v > m ? v : m;
    }
  }
  if (hasNaN) {
    *hasNaN = nan;
  }
  return m;
}

float rowSum(const float *x, int64_t n, float shift, bool square) {
  if (level() == Level::Avx512) {
    return rowSum512(x, n, shift, square);
  }
  // Eight partial sums: no loop-carried add latency, and vectorizable.
  float acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) {
      float v = x[i + j] - shift;
      acc[j] += square ? v * v : v;
    }
  }
  for (; i < n; ++i) {
    float v = x[i] - shift;
    acc[0] += square ? v * v : v;
  }
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) +
         ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

void normRow(const float *x, float *y, int64_t n, float mean, float inv,
             const float *scale, const float *shift) {
  if (level() == Level::Avx512) {
    normRow512(x, y, n, mean, inv, scale, shift);
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    float v = (x[i] - mean) * inv * scale[i];
    y[i] = shift ? v + shift[i] : v;
  }
}

void scaleAddRow(float *x, int64_t n, float scale, const float *add) {
  if (level() == Level::Avx512) {
    scaleAdd512(x, n, scale, add);
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    x[i] = x[i] * scale + (add ? add[i] : 0.0f);
  }
}

void softmaxRow(float *x, int64_t n, bool logOut) {
  if (n == 0) {
    return;
  }
  bool nan = false;
  float m = rowMax(x, n, &nan);
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
