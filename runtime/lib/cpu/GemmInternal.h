//===- GemmInternal.h - Packed-operand GEMM pieces for fused kernels -*- C++
//-*-===//
//
// Attention multiplies the same packed keys and values by many query
// blocks; these entry points let it pack each operand once and run the
// micro-kernels on packed panels directly. Valid for k <= kMaxPackedK (one
// K block), which covers head dims and key blocks.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_CPU_GEMMINTERNAL_H
#define NURI_CPU_GEMMINTERNAL_H

#include "nuri/cpu/Gemm.h"

#include <cstdint>

namespace nuri::cpu::detail {

constexpr int64_t kMaxPackedK = 256;

/// Floats needed to pack an m x k A / a k x n B (panels padded to MR/NR).
int64_t packedASize(int64_t m, int64_t k);
int64_t packedBSize(int64_t k, int64_t n);
void packA(MatrixRef a, int64_t m, int64_t k, float *dst);
void packB(MatrixRef b, int64_t k, int64_t n, float *dst);
/// C (+)= A x B from packed operands, on the calling thread. B was packed
/// with bK >= k rows; only its first k rows are used (a causal limit cuts a
/// packed block of values short).
void gemmPacked(int64_t m, int64_t n, int64_t k, const float *ap,
                const float *bp, int64_t bK, float *c, int64_t ldc,
                bool accumulate);

/// C (+)= A x B for integer-valued fp32 operands whose products are at most
/// maxProduct in magnitude: runs the fp32 GEMM over K slices short enough
/// that every partial sum is an exact fp32 integer (< 2^24) and adds the
/// slices in wrapping int32. A is m x k and B k x n, row-major.
void igemmExactF32(int64_t m, int64_t n, int64_t k, const float *a,
                   const float *b, int64_t maxProduct, int32_t *c,
                   bool accumulate);

} // namespace nuri::cpu::detail

#endif // NURI_CPU_GEMMINTERNAL_H
