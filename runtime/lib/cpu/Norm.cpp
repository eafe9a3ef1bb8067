//===- Norm.cpp - Softmax, layer/RMS norm, reductions, rope ---------------===//
//
// Row-wise float kernels compute in fp32 (f64 is staged through fp32 too:
// these are transformer ops and DESIGN.md fixes their math in fp32) and
// parallelize over independent rows. Reductions run in the input's own
// type so integer sums wrap and float sums accumulate in double.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"
#include "Vector.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

namespace nuri::cpu::detail {
namespace {

struct AxisSplit {
  int64_t outer = 1, n = 1, inner = 1;
};

AxisSplit splitAt(const std::vector<int64_t> &shape, int64_t axis) {
  AxisSplit s;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    (d < axis ? s.outer : d == axis ? s.n : s.inner) *= shape[d];
  }
  return s;
}

std::string checkFloatSame(const graph::Op &op, const Inputs &in,
                           const Outputs &out) {
  if (!graph::isFloat(in[0].dtype) || out[0].dtype != in[0].dtype) {
    return unsupported(op, in, out);
  }
  if (in[0].shape != out[0].shape) {
    return fail(op, "output shape " + shapeString(out[0].shape) +
                        " differs from input " + shapeString(in[0].shape));
  }
  return "";
}

std::string runSoftmax(const graph::Op &op, const Inputs &in,
                       const Outputs &out) {
  if (std::string e = checkFloatSame(op, in, out); !e.empty()) {
    return e;
  }
  int64_t rank = static_cast<int64_t>(in[0].shape.size());
  int64_t axis = normAxis(op.getInt("axis", -1), rank);
  if (axis < 0) {
    return fail(op, "axis out of range for rank " + std::to_string(rank));
  }
  bool logOut = op.getInt("log", 0) != 0;
  AxisSplit s = splitAt(in[0].shape, axis);
  F32Buffer x = toF32(in[0]);
  F32Out o(out[0]);
  int64_t rows = s.outer * s.inner;
  parallelRange(rows, std::max<int64_t>(1, kParallelGrain / (4 * s.n + 1)),
                [&](int64_t b, int64_t e) {
                  if (s.inner == 1) {
                    // Contiguous rows: work in place in the output.
                    for (int64_t r = b; r < e; ++r) {
                      std::copy(x.ptr + r * s.n, x.ptr + (r + 1) * s.n,
                                o.ptr + r * s.n);
                      softmaxRow(o.ptr + r * s.n, s.n, logOut);
                    }
                    return;
                  }
                  std::vector<float> row(s.n);
                  for (int64_t r = b; r < e; ++r) {
                    int64_t base = (r / s.inner) * s.n * s.inner + r % s.inner;
                    for (int64_t i = 0; i < s.n; ++i) {
                      row[i] = x.ptr[base + i * s.inner];
                    }
                    softmaxRow(row.data(), s.n, logOut);
                    for (int64_t i = 0; i < s.n; ++i) {
                      o.ptr[base + i * s.inner] = row[i];
                    }
                  }
                });
  o.finish();
  return "";
}

/// Layer norm (withMean) and RMS norm share the walk over rows.
std::string runNorm(const graph::Op &op, const Inputs &in, const Outputs &out,
                    bool layerNorm) {
  if (in.size() < 2 || !in[1].data) {
    return fail(op, "needs input and scale");
  }
  if (std::string e = checkFloatSame(op, in, out); !e.empty()) {
    return e;
  }
  const std::vector<int64_t> &shape = in[0].shape;
  int64_t rank = static_cast<int64_t>(shape.size());
  int64_t axis = normAxis(op.getInt("axis", -1), rank);
  if (axis < 0) {
    return fail(op, "axis out of range for rank " + std::to_string(rank));
  }
  std::vector<int64_t> normShape(shape.begin() + axis, shape.end());
  int64_t n = graph::elementCount(normShape);
  int64_t rows = n ? in[0].elements() / n : 0;
  const TensorView *bias =
      layerNorm && in.size() > 2 && in[2].data ? &in[2] : nullptr;
  for (const TensorView *p : {&in[1], bias}) {
    if (p &&
        (!graph::isFloat(p->dtype) || !broadcastable(p->shape, normShape))) {
      return fail(op, "scale/bias " + shapeString(p->shape) +
                          " does not broadcast to " + shapeString(normShape));
    }
  }
  // Scale and bias expanded once to the normalized shape.
  auto expand = [&](const TensorView *p) {
    std::vector<float> v;
    if (!p) {
      return v;
    }
    F32Buffer f = toF32(*p);
    std::vector<int64_t> st = broadcastStrides(p->shape, normShape);
    v.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      v[i] = f.ptr[offsetOf(i, normShape, st)];
    }
    return v;
  };
  std::vector<float> scale = expand(&in[1]), shift = expand(bias);
  float eps = static_cast<float>(op.getFloat("epsilon", 1e-5));
  F32Buffer x = toF32(in[0]);
  F32Out o(out[0]);
  parallelRange(rows, std::max<int64_t>(1, kParallelGrain / (n + 1)),
                [&](int64_t b, int64_t e) {
                  for (int64_t r = b; r < e; ++r) {
                    const float *xr = x.ptr + r * n;
                    float *orow = o.ptr + r * n;
                    // Two passes (mean, then squared deviations): the
                    // one-pass E[x^2] - E[x]^2 cancels badly.
                    float mean =
                        layerNorm ? rowSum(xr, n, 0.0f, false) / float(n) : 0;
                    float var = rowSum(xr, n, mean, true) / float(n);
                    float inv = 1.0f / std::sqrt(var + eps);
                    normRow(xr, orow, n, mean, inv, scale.data(),
                            shift.empty() ? nullptr : shift.data());
                  }
                });
  o.finish();
  return "";
}

std::string runRope(const graph::Op &op, const Inputs &in, const Outputs &out) {
  if (in.size() < 3 || !in[1].data || !in[2].data) {
    return fail(op, "needs input, cos and sin");
  }
  if (std::string e = checkFloatSame(op, in, out); !e.empty()) {
    return e;
  }
  const std::vector<int64_t> &shape = in[0].shape;
  if (shape.empty() || shape.back() % 2 != 0) {
    return fail(op,
                "last dimension of " + shapeString(shape) + " must be even");
  }
  for (int i = 1; i < 3; ++i) {
    if (!graph::isFloat(in[i].dtype) || !broadcastable(in[i].shape, shape)) {
      return fail(op, "cos/sin " + shapeString(in[i].shape) +
                          " does not broadcast to " + shapeString(shape));
    }
  }
  int64_t d = shape.back(), half = d / 2, rows = in[0].elements() / d;
  F32Buffer x = toF32(in[0]), c = toF32(in[1]), s = toF32(in[2]);
  std::vector<int64_t> cs = broadcastStrides(in[1].shape, shape),
                       ss = broadcastStrides(in[2].shape, shape);
  F32Out o(out[0]);
  parallelRange(rows, std::max<int64_t>(1, kParallelGrain / d),
                [&](int64_t b, int64_t e) {
                  for (int64_t r = b; r < e; ++r) {
                    const float *xr = x.ptr + r * d;
                    const float *cr = c.ptr + offsetOf(r * d, shape, cs);
                    const float *sr = s.ptr + offsetOf(r * d, shape, ss);
                    int64_t ci = cs.back(), si = ss.back();
                    float *orow = o.ptr + r * d;
                    for (int64_t j = 0; j < d; ++j) {
                      float rot = j < half ? -xr[j + half] : xr[j - half];
                      orow[j] = xr[j] * cr[j * ci] + rot * sr[j * si];
                    }
                  }
                });
  o.finish();
  return "";
}

// --- Reductions --------------------------------------------------------------

enum class Red { Sum, Mean, Max, Min, Prod };

template <typename T, typename Acc>
void reduceTyped(const T *in, T *out, const std::vector<int64_t> &keptShape,
                 const std::vector<int64_t> &keptStrides,
                 const std::vector<int64_t> &redShape,
                 const std::vector<int64_t> &redStrides, Red kind) {
  int64_t outN = graph::elementCount(keptShape);
  int64_t redN = graph::elementCount(redShape);
  // A contiguous innermost reduced dim runs as a plain loop.
  int64_t inner = redShape.empty() ? 1 : redShape.back();
  int64_t innerStride = redStrides.empty() ? 0 : redStrides.back();
  int64_t redRows = inner ? redN / inner : 0;
  parallelRange(
      outN, std::max<int64_t>(1, kParallelGrain / (redN + 1)),
      [&](int64_t b, int64_t e) {
        for (int64_t o = b; o < e; ++o) {
          const T *base = in + offsetOf(o, keptShape, keptStrides);
          Acc acc;
          switch (kind) {
          case Red::Max:
            acc = std::numeric_limits<T>::has_infinity
                      ? -static_cast<Acc>(std::numeric_limits<T>::infinity())
                      : static_cast<Acc>(std::numeric_limits<T>::lowest());
            break;
          case Red::Min:
            acc = std::numeric_limits<T>::has_infinity
                      ? static_cast<Acc>(std::numeric_limits<T>::infinity())
                      : static_cast<Acc>(std::numeric_limits<T>::max());
            break;
          case Red::Prod:
            acc = 1;
            break;
          default:
            acc = 0;
          }
          for (int64_t rr = 0; rr < redRows; ++rr) {
            const T *p = base + offsetOf(rr * inner, redShape, redStrides);
            for (int64_t i = 0; i < inner; ++i) {
              Acc v = static_cast<Acc>(p[i * innerStride]);
              switch (kind) {
              case Red::Sum:
              case Red::Mean:
                if constexpr (std::is_integral_v<Acc>) {
                  using U = std::make_unsigned_t<Acc>;
                  acc = static_cast<Acc>(U(acc) + U(v));
                } else {
                  acc += v;
                }
                break;
              case Red::Prod:
                if constexpr (std::is_integral_v<Acc>) {
                  using U = std::make_unsigned_t<Acc>;
                  acc = static_cast<Acc>(U(acc) * U(v));
                } else {
                  acc *= v;
                }
                break;
              case Red::Max:
                acc = (v > acc || v != v) ? v : acc;
                break;
              case Red::Min:
                acc = (v < acc || v != v) ? v : acc;
                break;
              }
            }
          }
          if (kind == Red::Mean) {
            if constexpr (std::is_integral_v<Acc>) {
              acc = redN ? acc / static_cast<Acc>(redN) : 0;
            } else {
              acc = acc / static_cast<Acc>(redN);
            }
          }
          out[o] = static_cast<T>(acc);
        }
      });
}

std::string runReduce(const graph::Op &op, const Inputs &in,
                      const Outputs &out) {
  const std::string &k = op.kind;
  Red kind = k == "reduce_sum"    ? Red::Sum
             : k == "reduce_mean" ? Red::Mean
             : k == "reduce_max"  ? Red::Max
             : k == "reduce_min"  ? Red::Min
                                  : Red::Prod;
  const std::vector<int64_t> &shape = in[0].shape;
  int64_t rank = static_cast<int64_t>(shape.size());
  std::vector<bool> reduced(rank, false);
  for (int64_t a : op.getInts("axes")) {
    int64_t n = normAxis(a, rank);
    if (n < 0) {
      return fail(op, "axis " + std::to_string(a) + " out of range for rank " +
                          std::to_string(rank));
    }
    reduced[n] = true;
  }
  bool keep = op.getInt("keep_dims", 0) != 0;
  std::vector<int64_t> own = contiguousStrides(shape);
  std::vector<int64_t> keptShape, keptStrides, redShape, redStrides, expect;
  for (int64_t d = 0; d < rank; ++d) {
    if (reduced[d]) {
      redShape.push_back(shape[d]);
      redStrides.push_back(own[d]);
      if (keep) {
        expect.push_back(1);
      }
    } else {
      keptShape.push_back(shape[d]);
      keptStrides.push_back(own[d]);
      expect.push_back(shape[d]);
    }
  }
  if (graph::elementCount(expect) != out[0].elements()) {
    return fail(op, "output " + shapeString(out[0].shape) + " should be " +
                        shapeString(expect));
  }
  if (in[0].dtype != out[0].dtype) {
    return unsupported(op, in, out);
  }
  if (isHalfLike(in[0].dtype)) {
    F32Buffer x = toF32(in[0]);
    F32Out o(out[0]);
    reduceTyped<float, double>(x.ptr, o.ptr, keptShape, keptStrides, redShape,
                               redStrides, kind);
    o.finish();
    return "";
  }
  bool ok = dispatchNumeric(in[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
    reduceTyped<T, Acc>(in[0].as<const T>(), out[0].as<T>(), keptShape,
                        keptStrides, redShape, redStrides, kind);
  });
  return ok ? "" : unsupported(op, in, out);
}

} // namespace

bool isNormOp(const std::string &k) {
  return k == "softmax" || k == "layer_norm" || k == "rms_norm" ||
         k == "rope" || k == "reduce_sum" || k == "reduce_mean" ||
         k == "reduce_max" || k == "reduce_min" || k == "reduce_prod";
}

std::string runNormOp(const graph::Op &op, const Inputs &in,
                      const Outputs &out) {
  if (in.empty() || out.size() != 1 || !in[0].data) {
    return fail(op, "wrong number of inputs or outputs");
  }
  const std::string &k = op.kind;
  if (k == "softmax") {
    return runSoftmax(op, in, out);
  }
  if (k == "layer_norm") {
    return runNorm(op, in, out, true);
  }
  if (k == "rms_norm") {
    return runNorm(op, in, out, false);
  }
  if (k == "rope") {
    return runRope(op, in, out);
  }
  return runReduce(op, in, out);
}

} // namespace nuri::cpu::detail
