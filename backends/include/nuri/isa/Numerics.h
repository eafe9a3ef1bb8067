//===- Numerics.h - The number formats of the Nuri NPU ----------*- C++ -*-===//
//
// DESIGN.md fixes the numerics: int8 x int8 -> int32, bf16/fp16/fp8 inputs
// with fp32 accumulation, round to nearest even. These conversions are the
// only ones the simulator uses, so the CPU runtime can reproduce it exactly.
//
// - fp32 -> bf16/fp16: round to nearest even; overflow gives +-inf, NaN stays
//   NaN (quiet).
// - fp32 -> fp8 e4m3 (OCP "FN": no infinities, max 448) and e5m2 (max 57344):
//   round to nearest even, saturating to +-max finite; NaN -> NaN.
// - fp32 -> int8: round to nearest even, saturate to [-128, 127]; NaN -> 0.
// - fp32 -> int32: round to nearest even, saturate; NaN -> 0.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_ISA_NUMERICS_H
#define NURI_ISA_NUMERICS_H

#include "nuri/isa/Isa.h"

#include <cstdint>
#include <cstring>

namespace nuri::isa {

inline uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t f32ToBf16(float f) {
  uint32_t u = floatBits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) {
    return static_cast<uint16_t>((u >> 16) | 0x40); // quiet NaN
  }
  uint32_t lsb = (u >> 16) & 1;
  u += 0x7fffu + lsb;
  return static_cast<uint16_t>(u >> 16);
}
inline float bf16ToF32(uint16_t h) { return bitsFloat(uint32_t(h) << 16); }

uint16_t f32ToF16(float f);
float f16ToF32(uint16_t h);
uint8_t f32ToE4M3(float f);
float e4m3ToF32(uint8_t v);
uint8_t f32ToE5M2(float f);
float e5m2ToF32(uint8_t v);
int8_t f32ToI8(float f);
int32_t f32ToI32(float f);

/// Reads element `i` of a `dtype` array as fp32 (i32 converts with RNE).
float loadAsF32(Dtype dtype, const uint8_t *base, size_t i);
/// Writes fp32 `v` as element `i` of a `dtype` array with the rules above.
void storeFromF32(Dtype dtype, uint8_t *base, size_t i, float v);

/// Round an fp32 value through `dtype` and back (what a store+load does).
inline float roundTo(Dtype dtype, float v) {
  uint8_t buf[4];
  storeFromF32(dtype, buf, 0, v);
  return loadAsF32(dtype, buf, 0);
}

} // namespace nuri::isa

#endif // NURI_ISA_NUMERICS_H
