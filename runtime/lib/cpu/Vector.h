//===- Vector.h - Vectorized row primitives of the CPU kernels --*- C++ -*-===//
//
// exp-heavy loops (softmax, attention) dominate a transformer's non-GEMM
// time; libm's scalar expf does not vectorize, so these run a polynomial
// exp with AVX-512 or AVX2 chosen at run time, scalar elsewhere.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_CPU_VECTOR_H
#define NURI_CPU_VECTOR_H

#include "nuri/graph/Graph.h"

#include <cstdint>

namespace nuri::cpu::detail {

/// The widest vector ISA the kernels may use: what the CPU supports,
/// lowered by NURI_CPU_ISA=avx2|scalar (read once) so that tests run the
/// portable paths on machines that have AVX-512.
enum class IsaLevel { Scalar = 0, Avx2 = 1, Avx512 = 2 };
IsaLevel isaLevel();

/// x[i] = exp(x[i] - shift); returns the sum of the new values. -inf inputs
/// give 0. Relative error below 2e-7.
float expShiftSum(float *x, int64_t n, float shift);
/// Maximum of x[0..n) (-inf for n == 0); *hasNaN says whether any was NaN.
float rowMax(const float *x, int64_t n, bool *hasNaN = nullptr);
/// sum(x - shift) or sum((x - shift)^2), with independent partial sums.
float rowSum(const float *x, int64_t n, float shift, bool square);
/// y = (x - mean) * inv * scale (+ shift when non-null).
void normRow(const float *x, float *y, int64_t n, float mean, float inv,
             const float *scale, const float *shift);

/// x = x * scale (+ add[i] when add is non-null); attention's score step.
void scaleAddRow(float *x, int64_t n, float scale, const float *add);

/// Converts n values between f32 and f16/bf16 with the vector units, bit
/// for bit what nuri::isa's scalar conversions give; false when this
/// machine or dtype pair has no vector path (the caller loops instead).
bool convertRow(graph::DType from, const void *src, graph::DType to, void *dst,
                int64_t n);
bool canConvertRow(graph::DType from, graph::DType to);

enum class Activation { GeluErf = 0, GeluTanh = 1, Sigmoid = 2, Silu = 3 };
/// y = activation(x) over a row (x == y allowed). GELU-erf goes through the
/// normal CDF from erf/erfc fits, accurate to ~1e-6 relative; the others
/// through the vector exp.
void activationRow(const float *x, float *y, int64_t n, Activation kind);
/// In-place softmax (or log-softmax) of one contiguous row.
void softmaxRow(float *x, int64_t n, bool logOut);

} // namespace nuri::cpu::detail

#endif // NURI_CPU_VECTOR_H
