//===- Numerics.cpp - Conversions between the NPU's number formats --------===//

#include "nuri/isa/Numerics.h"

#include <array>
#include <cmath>
#include <limits>

namespace nuri::isa {

namespace {

/// A binary floating-point format with `expBits` exponent bits, `manBits`
/// fraction bits and the IEEE bias. `ieeeSpecials`: the top exponent encodes
/// inf/NaN (fp16, e5m2); otherwise (e4m3 FN) only S.1111.111 is NaN.
struct MiniFormat {
  int expBits;
  int manBits;
  bool ieeeSpecials;
  bool saturate;
  int bias() const { return (1 << (expBits - 1)) - 1; }
  int minExp() const { return 1 - bias(); }
  double maxFinite() const {
    int maxExp = ieeeSpecials ? (1 << expBits) - 2 - bias()
                              : (1 << expBits) - 1 - bias();
    // e4m3: the all-ones mantissa at the top exponent is NaN, so the largest
    // mantissa is one less.
    double maxMan = ieeeSpecials ? 2.0 - std::ldexp(1.0, -manBits)
                                 : 2.0 - std::ldexp(2.0, -manBits);
    return std::ldexp(maxMan, maxExp);
  }
  uint32_t nanCode() const {
    return ieeeSpecials
               ? ((((1u << expBits) - 1) << manBits) | (1u << (manBits - 1)))
               : ((1u << (expBits + manBits)) - 1);
  }
  uint32_t infCode() const { return ((1u << expBits) - 1) << manBits; }
};

uint32_t encodeMini(const MiniFormat &fm, float f) {
  uint32_t signBit = 1u << (fm.expBits + fm.manBits);
  if (std::isnan(f)) {
    return fm.nanCode();
  }
  uint32_t sign = std::signbit(f) ? signBit : 0;
  double a = std::fabs(static_cast<double>(f));
  if (a == 0) {
    return sign;
  }
  int e;
  std::frexp(a, &e); // a = m * 2^e with m in [0.5, 1)
  int exp = e - 1;
  if (exp < fm.minExp()) {
    exp = fm.minExp();
  }
  double quantum = std::ldexp(1.0, exp - fm.manBits);
  // a / quantum is exact in double; nearbyint rounds ties to even.
  double q = std::nearbyint(a / quantum);
  double v = q * quantum;
  if (std::isinf(a) || v > fm.maxFinite()) {
    if (fm.saturate || !fm.ieeeSpecials) {
      v = fm.maxFinite();
    } else {
      return sign | fm.infCode();
    }
  }
  if (v == 0) {
    return sign;
  }
  if (v < std::ldexp(1.0, fm.minExp())) {
    return sign |
           static_cast<uint32_t>(v / std::ldexp(1.0, fm.minExp() - fm.manBits));
  }
  std::frexp(v, &e);
  int ve = e - 1;
  uint32_t man = static_cast<uint32_t>(v / std::ldexp(1.0, ve - fm.manBits)) -
                 (1u << fm.manBits);
  return sign | (uint32_t(ve + fm.bias()) << fm.manBits) | man;
}

float decodeMini(const MiniFormat &fm, uint32_t code) {
  uint32_t manMask = (1u << fm.manBits) - 1;
  uint32_t expMask = (1u << fm.expBits) - 1;
  bool neg = (code >> (fm.expBits + fm.manBits)) & 1;
  uint32_t ex = (code >> fm.manBits) & expMask;
  uint32_t man = code & manMask;
  double v;
  if (fm.ieeeSpecials && ex == expMask) {
    v = man ? std::numeric_limits<double>::quiet_NaN()
            : std::numeric_limits<double>::infinity();
  } else if (!fm.ieeeSpecials && ex == expMask && man == manMask) {
    v = std::numeric_limits<double>::quiet_NaN();
  } else if (ex == 0) {
    v = std::ldexp(double(man), fm.minExp() - fm.manBits);
  } else {
    v = std::ldexp(double(man | (1u << fm.manBits)),
                   int(ex) - fm.bias() - fm.manBits);
  }
  return static_cast<float>(neg ? -v : v);
}

constexpr MiniFormat kF16{5, 10, true, false};
constexpr MiniFormat kE4M3{4, 3, false, true};
constexpr MiniFormat kE5M2{5, 2, true, true};

template <const MiniFormat &Fm, size_t N> struct DecodeTable {
  std::array<float, N> v;
  DecodeTable() {
    for (size_t i = 0; i < N; ++i) {
      v[i] = decodeMini(Fm, static_cast<uint32_t>(i));
    }
  }
};

} // namespace

uint16_t f32ToF16(float f) {
  return static_cast<uint16_t>(encodeMini(kF16, f));
}
float f16ToF32(uint16_t h) {
  static const DecodeTable<kF16, 65536> table;
  return table.v[h];
}
uint8_t f32ToE4M3(float f) {
  return static_cast<uint8_t>(encodeMini(kE4M3, f));
}
float e4m3ToF32(uint8_t v) {
  static const DecodeTable<kE4M3, 256> table;
  return table.v[v];
}
uint8_t f32ToE5M2(float f) {
  return static_cast<uint8_t>(encodeMini(kE5M2, f));
}
float e5m2ToF32(uint8_t v) {
  static const DecodeTable<kE5M2, 256> table;
  return table.v[v];
}

int8_t f32ToI8(float f) {
  if (std::isnan(f)) {
    return 0;
  }
  float r = std::nearbyint(f);
  if (r > 127.0f) {
    return 127;
  }
  if (r < -128.0f) {
    return -128;
  }
  return static_cast<int8_t>(r);
}

int32_t f32ToI32(float f) {
  if (std::isnan(f)) {
    return 0;
  }
  double r = std::nearbyint(static_cast<double>(f));
  if (r >= 2147483647.0) {
    return std::numeric_limits<int32_t>::max();
  }
  if (r <= -2147483648.0) {
    return std::numeric_limits<int32_t>::min();
  }
  return static_cast<int32_t>(r);
}

float loadAsF32(Dtype dtype, const uint8_t *base, size_t i) {
  switch (dtype) {
  case Dtype::I8:
    return static_cast<float>(static_cast<int8_t>(base[i]));
  case Dtype::I32: {
    int32_t v;
    std::memcpy(&v, base + 4 * i, 4);
    return static_cast<float>(v);
  }
  case Dtype::F32: {
    float v;
    std::memcpy(&v, base + 4 * i, 4);
    return v;
  }
  case Dtype::BF16: {
    uint16_t h;
    std::memcpy(&h, base + 2 * i, 2);
    return bf16ToF32(h);
  }
  case Dtype::F16: {
    uint16_t h;
    std::memcpy(&h, base + 2 * i, 2);
    return f16ToF32(h);
  }
  case Dtype::E4M3:
    return e4m3ToF32(base[i]);
  case Dtype::E5M2:
    return e5m2ToF32(base[i]);
  }
  return 0;
}

void storeFromF32(Dtype dtype, uint8_t *base, size_t i, float v) {
  switch (dtype) {
  case Dtype::I8:
    base[i] = static_cast<uint8_t>(f32ToI8(v));
    return;
  case Dtype::I32: {
    int32_t x = f32ToI32(v);
    std::memcpy(base + 4 * i, &x, 4);
    return;
  }
  case Dtype::F32:
    std::memcpy(base + 4 * i, &v, 4);
    return;
  case Dtype::BF16: {
    uint16_t h = f32ToBf16(v);
    std::memcpy(base + 2 * i, &h, 2);
    return;
  }
  case Dtype::F16: {
    uint16_t h = f32ToF16(v);
    std::memcpy(base + 2 * i, &h, 2);
    return;
  }
  case Dtype::E4M3:
    base[i] = f32ToE4M3(v);
    return;
  case Dtype::E5M2:
    base[i] = f32ToE5M2(v);
    return;
  }
}

} // namespace nuri::isa
