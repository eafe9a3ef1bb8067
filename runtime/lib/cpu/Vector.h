//===- Vector.h - Vectorized row primitives of the CPU kernels --*- C++ -*-===//
//
// exp-heavy loops (softmax, attention) dominate a transformer's non-GEMM
// time; libm's scalar expf does not vectorize, so these run a polynomial
// exp with AVX-512 or AVX2 chosen at run time, scalar elsewhere.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_CPU_VECTOR_H
#define NURI_CPU_VECTOR_H

#include <cstdint>

namespace nuri::cpu::detail {

/// x[i] = exp(x[i] - shift); returns the sum of the new values. -inf inputs
/// give 0. Relative error below 2e-7.
float expShiftSum(float *x, int64_t n, float shift);
/// Maximum of x[0..n) (NaN-free input assumed; -inf for n == 0).
float rowMax(const float *x, int64_t n);
/// In-place softmax (or log-softmax) of one contiguous row.
void softmaxRow(float *x, int64_t n, bool logOut);

} // namespace nuri::cpu::detail

#endif // NURI_CPU_VECTOR_H
