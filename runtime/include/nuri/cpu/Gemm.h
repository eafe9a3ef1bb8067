//===- Gemm.h - The CPU device's matrix-multiply engine ---------*- C++ -*-===//
//
// C[m, n] (+)= sum_k A[m, k] * B[k, n] for arbitrarily strided A and B (so
// transposes cost nothing: packing reads either layout), row-major C. The
// fp32 path packs A and B into cache blocks and runs an AVX-512 (8x32) or
// AVX2+FMA (6x16) micro-kernel picked at run time, scalar elsewhere; large
// products split over M/N blocks with oneTBB. Exposed for the benchmark and
// for kernels that chain products (attention, conv).
//
//===----------------------------------------------------------------------===//

#ifndef NURI_CPU_GEMM_H
#define NURI_CPU_GEMM_H

#include <cstdint>
#include <vector>

namespace nuri::cpu {

struct MatrixRef {
  const float *data = nullptr;
  int64_t rowStride = 0; // elements between A[i, k] and A[i + 1, k]
  int64_t colStride = 1; // elements between A[i, k] and A[i, k + 1]
};

/// C = A * B (accumulate: C += A * B). `parallel` lets the product split
/// across the caller's TBB arena; kernels already running one task per
/// head pass false.
void sgemm(int64_t m, int64_t n, int64_t k, MatrixRef a, MatrixRef b, float *c,
           int64_t ldc, bool accumulate, bool parallel = true);

/// B packed once in the micro-kernel's panel layout, for products that
/// reuse the same B (a model's weights) across many calls.
struct PackedMatrix {
  int64_t k = 0, n = 0;
  const char *kernel = ""; // the micro-kernel whose layout this is
  std::vector<float> data;
  /// The same panels as bf16 instead of `data`: a decode step's linear is
  /// bound by the weight bytes it reads, and a bf16 weight needs only
  /// half of fp32's. The micro-kernel widens each value exactly (a shift),
  /// so results equal the fp32 panels' bit for bit.
  std::vector<uint16_t> bf16;
};
/// `bValuesAreBf16`: every value of B is a bf16 value (a bf16 weight staged
/// to fp32), so the panels may be kept as bf16 where the micro-kernel reads
/// them (avx2; other kernels keep fp32 panels).
PackedMatrix packMatrixB(int64_t k, int64_t n, MatrixRef b,
                         bool bValuesAreBf16 = false);
/// sgemm with B taken from `packed`. `b` is used only when `packed` does
/// not fit (another shape or micro-kernel); it may be null otherwise.
void sgemmPrepacked(int64_t m, int64_t n, int64_t k, MatrixRef a, MatrixRef b,
                    const PackedMatrix &packed, float *c, int64_t ldc,
                    bool accumulate, bool parallel = true);

/// Integer product with int32 accumulation that wraps on overflow:
/// C[m, n] (+)= sum_k A[m, k] * B[k, n], A and B already widened to int32
/// (zero points subtracted), both row-major.
void igemm(int64_t m, int64_t n, int64_t k, const int32_t *a, const int32_t *b,
           int32_t *c, bool accumulate);

/// "avx512", "avx2" or "scalar": the micro-kernel this machine runs.
const char *gemmKernelName();

} // namespace nuri::cpu

#endif // NURI_CPU_GEMM_H
