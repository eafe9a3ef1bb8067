//===- Elementwise.cpp - Broadcasting binary, unary, cast, quantize -------===//
//
// Floats of 16 bits and fp8 are staged through fp32 (DESIGN.md: compute in
// fp32, round to nearest even once on store); f32 and f64 compute in their
// own type; integer ops wrap like C++ unsigned arithmetic, never trap.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"

#include "Vector.h"
#include "nuri/isa/Numerics.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <type_traits>

namespace nuri::cpu::detail {
namespace {

const std::vector<std::string> kArith = {"add", "sub", "mul", "div",
                                         "pow", "max", "min", "mod"};
const std::vector<std::string> kLogic = {"and", "or", "xor"};
const std::vector<std::string> kUnaryAny = {"neg", "abs", "sign", "relu"};
const std::vector<std::string> kUnaryFloat = {
    "exp", "log", "sqrt", "rsqrt", "reciprocal", "tanh", "erf", "sigmoid",
    "sin", "cos", "ceil", "floor", "round",      "silu", "gelu"};

bool contains(const std::vector<std::string> &v, const std::string &s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

/// Calls fn(outIndex, aOffset, bOffset, cOffset) for every output element,
/// parallel over rows of the innermost dimension.
template <typename Fn>
void forEachBroadcast(const std::vector<int64_t> &outShape,
                      const std::vector<std::vector<int64_t>> &strides,
                      const Fn &fn) {
  int64_t n = graph::elementCount(outShape);
  if (n == 0) {
    return;
  }
  size_t k = strides.size();
  bool flat = true;
  std::vector<int64_t> contiguous = contiguousStrides(outShape);
  for (const auto &s : strides) {
    for (size_t d = 0; d < outShape.size(); ++d) {
      if (outShape[d] != 1 && s[d] != contiguous[d]) {
        flat = false;
      }
    }
  }
  if (flat) {
    parallelRange(n, kParallelGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        fn(i, i, i, i);
      }
    });
    return;
  }
  int64_t inner = outShape.empty() ? 1 : outShape.back();
  int64_t rows = n / inner;
  int64_t grain = std::max<int64_t>(1, kParallelGrain / inner);
  parallelRange(rows, grain, [&](int64_t rb, int64_t re) {
    int64_t off[3] = {0, 0, 0};
    int64_t step[3] = {0, 0, 0};
    for (size_t j = 0; j < k; ++j) {
      step[j] = strides[j].empty() ? 0 : strides[j].back();
    }
    for (int64_t r = rb; r < re; ++r) {
      for (size_t j = 0; j < k; ++j) {
        off[j] = offsetOf(r * inner, outShape, strides[j]);
      }
      int64_t base = r * inner;
      for (int64_t i = 0; i < inner; ++i) {
        fn(base + i, off[0] + i * step[0], off[1] + i * step[1],
           off[2] + i * step[2]);
      }
    }
  });
}

template <typename T> T intPow(T base, T exp) {
  if constexpr (std::is_signed_v<T>) {
    if (exp < 0) {
      // Only 1 and -1 have integer reciprocals.
      if (base == 1) {
        return 1;
      }
      if (base == -1) {
        return (exp % 2) ? T(-1) : T(1);
      }
      return 0;
    }
  }
  using U = std::make_unsigned_t<T>;
  U result = 1, b = static_cast<U>(base);
  auto e = static_cast<U>(exp);
  while (e) {
    if (e & 1) {
      result = static_cast<U>(result * b);
    }
    b = static_cast<U>(b * b);
    e >>= 1;
  }
  return static_cast<T>(result);
}

template <typename T> T arith(int opcode, T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    switch (opcode) {
    case 0:
      return a + b;
    case 1:
      return a - b;
    case 2:
      return a * b;
    case 3:
      return a / b;
    case 4:
      return std::pow(a, b);
    case 5:
      return (a != a || a > b) ? a : b; // NaN propagates, as numpy
    case 6:
      return (a != a || a < b) ? a : b;
    default: {
      T r = std::fmod(a, b);
      if (r != 0 && ((r < 0) != (b < 0))) {
        r += b;
      }
      return r;
    }
    }
  } else {
    using U = std::make_unsigned_t<T>;
    switch (opcode) {
    case 0:
      return static_cast<T>(U(a) + U(b));
    case 1:
      return static_cast<T>(U(a) - U(b));
    case 2:
      return static_cast<T>(U(a) * U(b));
    case 3:
      if (b == 0) {
        return 0; // Defined instead of a SIGFPE.
      }
      if constexpr (std::is_signed_v<T>) {
        if (b == -1) {
          return static_cast<T>(U(0) - U(a)); // INT_MIN / -1 wraps
        }
      }
      return a / b;
    case 4:
      return intPow(a, b);
    case 5:
      return std::max(a, b);
    case 6:
      return std::min(a, b);
    default: {
      if (b == 0) {
        return 0;
      }
      if constexpr (std::is_signed_v<T>) {
        if (b == -1) {
          return 0;
        }
        T r = a % b;
        if (r != 0 && ((r < 0) != (b < 0))) {
          r += b;
        }
        return r;
      } else {
        return a % b;
      }
    }
    }
  }
}

template <typename T, typename Fn>
void binaryTyped(const TensorView &a, const TensorView &b,
                 const TensorView &out, const Fn &fn) {
  const T *pa = a.as<const T>();
  const T *pb = b.as<const T>();
  auto *po = static_cast<decltype(fn(T{}, T{})) *>(out.data);
  forEachBroadcast(out.shape,
                   {broadcastStrides(a.shape, out.shape),
                    broadcastStrides(b.shape, out.shape)},
                   [&](int64_t i, int64_t ia, int64_t ib, int64_t) {
                     po[i] = fn(pa[ia], pb[ib]);
                   });
}

/// Arithmetic on staged fp32 copies for 16-bit and 8-bit floats.
template <typename Fn>
void binaryHalf(const TensorView &a, const TensorView &b, const TensorView &out,
                const Fn &fn) {
  F32Buffer fa = toF32(a), fb = toF32(b);
  TensorView va{DType::F32, a.shape, const_cast<float *>(fa.ptr)};
  TensorView vb{DType::F32, b.shape, const_cast<float *>(fb.ptr)};
  if constexpr (std::is_same_v<decltype(fn(0.0f, 0.0f)), float>) {
    F32Out o(out);
    TensorView vo{DType::F32, out.shape, o.ptr};
    binaryTyped<float>(va, vb, vo, fn);
    o.finish();
  } else {
    binaryTyped<float>(va, vb, out, fn);
  }
}

std::string runArith(const graph::Op &op, const Inputs &in,
                     const Outputs &out) {
  int opcode = static_cast<int>(
      std::find(kArith.begin(), kArith.end(), op.kind) - kArith.begin());
  const TensorView &a = in[0], &b = in[1], &o = out[0];
  if (a.dtype != b.dtype || o.dtype != a.dtype) {
    return unsupported(op, in, out);
  }
  if (isHalfLike(a.dtype)) {
    binaryHalf(a, b, o, [opcode](float x, float y) {
      return arith<float>(opcode, x, y);
    });
    return "";
  }
  bool ok = dispatchNumeric(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    // The switch on opcode is hoisted by specializing the common ops, so
    // add/sub/mul/div vectorize.
    switch (opcode) {
    case 0:
      binaryTyped<T>(a, b, o, [](T x, T y) { return arith<T>(0, x, y); });
      break;
    case 1:
      binaryTyped<T>(a, b, o, [](T x, T y) { return arith<T>(1, x, y); });
      break;
    case 2:
      binaryTyped<T>(a, b, o, [](T x, T y) { return arith<T>(2, x, y); });
      break;
    case 3:
      binaryTyped<T>(a, b, o, [](T x, T y) { return arith<T>(3, x, y); });
      break;
    default:
      binaryTyped<T>(a, b, o,
                     [opcode](T x, T y) { return arith<T>(opcode, x, y); });
    }
  });
  return ok ? "" : unsupported(op, in, out);
}

std::string runLogic(const graph::Op &op, const Inputs &in,
                     const Outputs &out) {
  if (in[0].dtype != DType::Bool || in[1].dtype != DType::Bool ||
      out[0].dtype != DType::Bool) {
    return unsupported(op, in, out);
  }
  char k = op.kind[0];
  binaryTyped<uint8_t>(in[0], in[1], out[0], [k](uint8_t x, uint8_t y) {
    bool p = x != 0, q = y != 0;
    return static_cast<uint8_t>(k == 'a'   ? (p && q)
                                : k == 'o' ? (p || q)
                                           : (p != q));
  });
  return "";
}

std::string runCompare(const graph::Op &op, const Inputs &in,
                       const Outputs &out) {
  const TensorView &a = in[0], &b = in[1];
  if (a.dtype != b.dtype || out[0].dtype != DType::Bool) {
    return unsupported(op, in, out);
  }
  std::string p = op.getString("predicate", "");
  int pred = p == "eq"   ? 0
             : p == "ne" ? 1
             : p == "lt" ? 2
             : p == "le" ? 3
             : p == "gt" ? 4
             : p == "ge" ? 5
                         : -1;
  if (pred < 0) {
    return fail(op, "unknown predicate '" + p + "'");
  }
  auto cmp = [pred](auto x, auto y) -> uint8_t {
    switch (pred) {
    case 0:
      return x == y;
    case 1:
      return x != y;
    case 2:
      return x < y;
    case 3:
      return x <= y;
    case 4:
      return x > y;
    default:
      return x >= y;
    }
  };
  if (isHalfLike(a.dtype)) {
    binaryHalf(a, b, out[0], cmp);
    return "";
  }
  if (a.dtype == DType::Bool) {
    binaryTyped<uint8_t>(a, b, out[0], [&](uint8_t x, uint8_t y) {
      return cmp(x != 0, y != 0);
    });
    return "";
  }
  bool ok = dispatchNumeric(a.dtype, [&](auto tag) {
    using T = decltype(tag);
    binaryTyped<T>(a, b, out[0], cmp);
  });
  return ok ? "" : unsupported(op, in, out);
}

std::string runWhere(const graph::Op &op, const Inputs &in,
                     const Outputs &out) {
  const TensorView &c = in[0], &t = in[1], &f = in[2], &o = out[0];
  if (c.dtype != DType::Bool || t.dtype != f.dtype || o.dtype != t.dtype) {
    return unsupported(op, in, out);
  }
  const uint8_t *pc = c.as<const uint8_t>();
  bool ok = dispatchBySize(graph::dtypeSize(o.dtype), [&](auto tag) {
    using T = decltype(tag);
    const T *pt = t.as<const T>(), *pf = f.as<const T>();
    T *po = o.as<T>();
    forEachBroadcast(o.shape,
                     {broadcastStrides(c.shape, o.shape),
                      broadcastStrides(t.shape, o.shape),
                      broadcastStrides(f.shape, o.shape)},
                     [&](int64_t i, int64_t ic, int64_t it, int64_t jf) {
                       po[i] = pc[ic] ? pt[it] : pf[jf];
                     });
  });
  return ok ? "" : unsupported(op, in, out);
}

// --- Unary -----------------------------------------------------------------

template <typename T> T unaryAny(int which, T x) {
  switch (which) {
  case 0:
    if constexpr (std::is_unsigned_v<T>) {
      return static_cast<T>(T(0) - x);
    } else if constexpr (std::is_integral_v<T>) {
      using U = std::make_unsigned_t<T>;
      return static_cast<T>(U(0) - U(x));
    } else {
      return -x;
    }
  case 1:
    if constexpr (std::is_unsigned_v<T>) {
      return x;
    } else if constexpr (std::is_integral_v<T>) {
      using U = std::make_unsigned_t<T>;
      return x < 0 ? static_cast<T>(U(0) - U(x)) : x;
    } else {
      return std::fabs(x);
    }
  case 2:
    if (x != x) {
      return x;
    }
    return static_cast<T>((x > T(0)) - (x < T(0)));
  default:
    return (x > T(0) || x != x) ? x : T(0);
  }
}

template <typename T> T unaryFloat(int which, T x) {
  switch (which) {
  case 0:
    return std::exp(x);
  case 1:
    return std::log(x);
  case 2:
    return std::sqrt(x);
  case 3:
    return T(1) / std::sqrt(x);
  case 4:
    return T(1) / x;
  case 5:
    return std::tanh(x);
  case 6:
    return std::erf(x);
  case 7:
    return T(1) / (T(1) + std::exp(-x));
  case 8:
    return std::sin(x);
  case 9:
    return std::cos(x);
  case 10:
    return std::ceil(x);
  case 11:
    return std::floor(x);
  case 12:
    return std::nearbyint(x); // default rounding mode: half to even
  default:
    return x / (T(1) + std::exp(-x));
  }
}

template <typename T, typename Fn>
void unaryTyped(const TensorView &in, const TensorView &out, const Fn &fn) {
  const T *pi = in.as<const T>();
  T *po = out.as<T>();
  parallelRange(in.elements(), kParallelGrain / 4, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      po[i] = fn(pi[i]);
    }
  });
}

/// Runs a float function in T for f32/f64 and staged fp32 for the others.
template <typename FnF, typename FnD>
std::string floatUnary(const graph::Op &op, const Inputs &in,
                       const Outputs &out, const FnF &fnF, const FnD &fnD) {
  const TensorView &x = in[0], &o = out[0];
  if (x.dtype != o.dtype || !graph::isFloat(x.dtype)) {
    return unsupported(op, in, out);
  }
  if (x.dtype == DType::F64) {
    unaryTyped<double>(x, o, fnD);
    return "";
  }
  F32Buffer fx = toF32(x);
  F32Out fo(o);
  TensorView vx{DType::F32, x.shape, const_cast<float *>(fx.ptr)};
  TensorView vo{DType::F32, o.shape, fo.ptr};
  unaryTyped<float>(vx, vo, fnF);
  fo.finish();
  return "";
}

/// GELU, sigmoid and SiLU in fp32 through the vectorized row kernels (f64
/// keeps libm): these run on every FFN activation of a transformer.
std::string vectorActivation(const graph::Op &op, const Inputs &in,
                             const Outputs &out, Activation kind) {
  const TensorView &x = in[0], &o = out[0];
  F32Buffer fx = toF32(x);
  F32Out fo(o);
  parallelRange(x.elements(), kParallelGrain / 4, [&](int64_t b, int64_t e) {
    activationRow(fx.ptr + b, fo.ptr + b, e - b, kind);
  });
  fo.finish();
  return "";
}

std::string runUnary(const graph::Op &op, const Inputs &in,
                     const Outputs &out) {
  const std::string &k = op.kind;
  bool vectorFloat = in[0].dtype == out[0].dtype &&
                     (in[0].dtype == DType::F32 || isHalfLike(in[0].dtype));
  if (vectorFloat && (k == "sigmoid" || k == "silu")) {
    return vectorActivation(
        op, in, out, k == "silu" ? Activation::Silu : Activation::Sigmoid);
  }
  if (k == "not") {
    if (in[0].dtype != DType::Bool || out[0].dtype != DType::Bool) {
      return unsupported(op, in, out);
    }
    unaryTyped<uint8_t>(in[0], out[0],
                        [](uint8_t v) { return uint8_t(v == 0); });
    return "";
  }
  auto itAny = std::find(kUnaryAny.begin(), kUnaryAny.end(), k);
  if (itAny != kUnaryAny.end()) {
    int which = static_cast<int>(itAny - kUnaryAny.begin());
    if (in[0].dtype != out[0].dtype) {
      return unsupported(op, in, out);
    }
    if (isHalfLike(in[0].dtype)) {
      return floatUnary(
          op, in, out, [which](float v) { return unaryAny<float>(which, v); },
          [which](double v) { return unaryAny<double>(which, v); });
    }
    bool ok = dispatchNumeric(in[0].dtype, [&](auto tag) {
      using T = decltype(tag);
      unaryTyped<T>(in[0], out[0],
                    [which](T v) { return unaryAny<T>(which, v); });
    });
    return ok ? "" : unsupported(op, in, out);
  }
  if (k == "gelu") {
    std::string approx = op.getString("approximate", "none");
    if (vectorFloat && (approx == "tanh" || approx == "none")) {
      return vectorActivation(op, in, out,
                              approx == "tanh" ? Activation::GeluTanh
                                               : Activation::GeluErf);
    }
    if (approx == "tanh") {
      auto f = [](auto x) {
        using T = decltype(x);
        const T c = T(0.7978845608028654); // sqrt(2 / pi)
        return T(0.5) * x *
               (T(1) + std::tanh(c * (x + T(0.044715) * x * x * x)));
      };
      return floatUnary(op, in, out, f, f);
    }
    if (approx != "none") {
      return fail(op, "unknown approximation '" + approx + "'");
    }
    auto f = [](auto x) {
      using T = decltype(x);
      return T(0.5) * x * (T(1) + std::erf(x * T(0.7071067811865476)));
    };
    return floatUnary(op, in, out, f, f);
  }
  int which =
      static_cast<int>(std::find(kUnaryFloat.begin(), kUnaryFloat.end(), k) -
                       kUnaryFloat.begin());
  switch (which) {
#define NURI_UNARY_CASE(N)                                                     \
  case N:                                                                      \
    return floatUnary(                                                         \
        op, in, out, [&](float v) { return unaryFloat<float>(N, v); },         \
        [&](double v) { return unaryFloat<double>(N, v); });
    NURI_UNARY_CASE(0)
    NURI_UNARY_CASE(1)
    NURI_UNARY_CASE(2)
    NURI_UNARY_CASE(3)
    NURI_UNARY_CASE(4)
    NURI_UNARY_CASE(5)
    NURI_UNARY_CASE(6)
    NURI_UNARY_CASE(7)
    NURI_UNARY_CASE(8)
    NURI_UNARY_CASE(9)
    NURI_UNARY_CASE(10)
    NURI_UNARY_CASE(11)
    NURI_UNARY_CASE(12)
    NURI_UNARY_CASE(13)
#undef NURI_UNARY_CASE
  default:
    return fail(op, "unknown unary op");
  }
}

std::string runClip(const graph::Op &op, const Inputs &in, const Outputs &out) {
  bool hasLo = op.has("min"), hasHi = op.has("max");
  double lo = op.getFloat("min", 0), hi = op.getFloat("max", 0);
  if (in[0].dtype != out[0].dtype) {
    return unsupported(op, in, out);
  }
  auto clamp = [&](auto x) {
    using T = decltype(x);
    if (hasLo && x < static_cast<T>(lo)) {
      x = static_cast<T>(lo);
    }
    if (hasHi && x > static_cast<T>(hi)) {
      x = static_cast<T>(hi);
    }
    return x;
  };
  if (isHalfLike(in[0].dtype)) {
    return floatUnary(op, in, out, clamp, clamp);
  }
  bool ok = dispatchNumeric(in[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    // Integer bounds saturate into T so that e.g. clip(u8, min=-1) keeps 0.
    T tlo = std::numeric_limits<T>::lowest(),
      thi = std::numeric_limits<T>::max();
    if (hasLo && lo > static_cast<double>(tlo)) {
      tlo = static_cast<T>(lo);
    }
    if (hasHi && hi < static_cast<double>(thi)) {
      thi = static_cast<T>(hi);
    }
    if constexpr (std::is_floating_point_v<T>) {
      unaryTyped<T>(in[0], out[0], clamp);
    } else {
      unaryTyped<T>(in[0], out[0],
                    [&](T x) { return x < tlo ? tlo : (x > thi ? thi : x); });
    }
  });
  return ok ? "" : unsupported(op, in, out);
}

// --- Cast --------------------------------------------------------------------

template <typename D, typename S> D convertValue(S v) {
  if constexpr (std::is_floating_point_v<S> && std::is_integral_v<D>) {
    // Truncate toward zero; NaN and out-of-range saturate instead of UB.
    if (v != v) {
      return 0;
    }
    double t = std::trunc(static_cast<double>(v));
    if (t <= static_cast<double>(std::numeric_limits<D>::lowest())) {
      return std::numeric_limits<D>::lowest();
    }
    if (t >= static_cast<double>(std::numeric_limits<D>::max())) {
      return std::numeric_limits<D>::max();
    }
    return static_cast<D>(t);
  } else {
    return static_cast<D>(v);
  }
}

std::string runCast(const graph::Op &op, const Inputs &in, const Outputs &out) {
  const TensorView &x = in[0], &o = out[0];
  int64_t n = x.elements();
  // Sources: fp16/bf16/fp8 are staged to fp32; bool reads as u8.
  F32Buffer staged;
  TensorView src = x;
  if (isHalfLike(x.dtype)) {
    staged = toF32(x);
    src = TensorView{DType::F32, x.shape, const_cast<float *>(staged.ptr)};
  } else if (x.dtype == DType::Bool) {
    src.dtype = DType::U8;
  }
  if (o.dtype == DType::Bool) {
    uint8_t *po = o.as<uint8_t>();
    bool ok = dispatchNumeric(src.dtype, [&](auto tag) {
      using S = decltype(tag);
      const S *ps = src.as<const S>();
      parallelRange(n, kParallelGrain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          po[i] = ps[i] != S(0);
        }
      });
    });
    return ok ? "" : unsupported(op, in, out);
  }
  std::vector<float> stagedOut;
  TensorView dst = o;
  if (isHalfLike(o.dtype)) {
    stagedOut.resize(n);
    dst = TensorView{DType::F32, o.shape, stagedOut.data()};
  }
  bool ok = true;
  bool srcOk = dispatchNumeric(src.dtype, [&](auto stag) {
    using S = decltype(stag);
    const S *ps = src.as<const S>();
    ok = dispatchNumeric(dst.dtype, [&](auto dtag) {
      using D = decltype(dtag);
      D *pd = dst.as<D>();
      parallelRange(n, kParallelGrain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
          pd[i] = convertValue<D>(ps[i]);
        }
      });
    });
  });
  if (!srcOk || !ok) {
    return unsupported(op, in, out);
  }
  if (isHalfLike(o.dtype)) {
    storeF32(o.dtype, stagedOut.data(), o.data, n);
  }
  return "";
}

// --- Quantize / dequantize ---------------------------------------------------

struct QuantParams {
  F32Buffer scale;
  const TensorView *zp = nullptr;
  int64_t axis = -1; // -1: per tensor
  int64_t inner = 1, channels = 1;
};

std::string quantParams(const graph::Op &op, const Inputs &in, QuantParams &q) {
  const TensorView &x = in[0], &s = in[1];
  if (!graph::isFloat(s.dtype)) {
    return fail(op, "scale must be a float tensor");
  }
  q.scale = toF32(s);
  if (in.size() > 2 && in[2].data) {
    q.zp = &in[2];
    if (q.zp->elements() != s.elements()) {
      return fail(op, "zero point and scale differ in size");
    }
  }
  if (s.elements() != 1) {
    int64_t rank = static_cast<int64_t>(x.shape.size());
    q.axis = normAxis(op.getInt("axis", 1), rank);
    if (q.axis < 0 || x.shape[q.axis] != s.elements()) {
      return fail(op, "per-axis scale of " + std::to_string(s.elements()) +
                          " values does not match axis " +
                          std::to_string(op.getInt("axis", 1)) + " of " +
                          shapeString(x.shape));
    }
    q.channels = x.shape[q.axis];
    for (int64_t d = q.axis + 1; d < rank; ++d) {
      q.inner *= x.shape[d];
    }
  }
  return "";
}

std::string runQuantize(const graph::Op &op, const Inputs &in,
                        const Outputs &out) {
  QuantParams q;
  if (std::string e = quantParams(op, in, q); !e.empty()) {
    return e;
  }
  const TensorView &o = out[0];
  if (!graph::isFloat(in[0].dtype) || (q.zp && q.zp->dtype != o.dtype)) {
    return unsupported(op, in, out);
  }
  F32Buffer x = toF32(in[0]);
  int64_t n = in[0].elements();
  auto channel = [&](int64_t i) {
    return q.axis < 0 ? 0 : (i / q.inner) % q.channels;
  };
  if (o.dtype == DType::F8E4M3) {
    // fp8: the quotient rounded to e4m3, saturating (ONNX's saturate=1).
    if (q.zp) {
      return fail(op, "fp8 quantization takes no zero point");
    }
    uint8_t *po = o.as<uint8_t>();
    parallelRange(n, kParallelGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        po[i] = isa::f32ToE4M3(x.ptr[i] / q.scale.ptr[channel(i)]);
      }
    });
    return "";
  }
  auto zpOf = [&](int64_t c) -> double {
    return q.zp ? static_cast<double>(readIndex(*q.zp, c)) : 0.0;
  };
  auto quant = [&](auto tag) {
    using T = decltype(tag);
    T *po = o.as<T>();
    parallelRange(n, kParallelGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        int64_t c = channel(i);
        float v = x.ptr[i] / q.scale.ptr[c];
        double r = std::nearbyint(static_cast<double>(v)) + zpOf(c);
        if (r != r) {
          r = 0;
        }
        r = std::min<double>(
            std::max<double>(r, std::numeric_limits<T>::lowest()),
            std::numeric_limits<T>::max());
        po[i] = static_cast<T>(r);
      }
    });
  };
  switch (o.dtype) {
  case DType::I8:
    quant(int8_t{});
    break;
  case DType::U8:
    quant(uint8_t{});
    break;
  case DType::I16:
    quant(int16_t{});
    break;
  case DType::U16:
    quant(uint16_t{});
    break;
  case DType::I32:
    quant(int32_t{});
    break;
  default:
    return unsupported(op, in, out);
  }
  return "";
}

std::string runDequantize(const graph::Op &op, const Inputs &in,
                          const Outputs &out) {
  QuantParams q;
  if (std::string e = quantParams(op, in, q); !e.empty()) {
    return e;
  }
  const TensorView &x = in[0];
  bool fp8 = x.dtype == DType::F8E4M3;
  if ((!fp8 && !isIntegerIndex(x.dtype)) || !graph::isFloat(out[0].dtype) ||
      (q.zp && (fp8 || q.zp->dtype != x.dtype))) {
    return unsupported(op, in, out);
  }
  int64_t n = x.elements();
  F32Out o(out[0]);
  if (fp8) {
    const uint8_t *px = x.as<const uint8_t>();
    parallelRange(n, kParallelGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        int64_t c = q.axis < 0 ? 0 : (i / q.inner) % q.channels;
        o.ptr[i] = isa::e4m3ToF32(px[i]) * q.scale.ptr[c];
      }
    });
    o.finish();
    return "";
  }
  parallelRange(n, kParallelGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      int64_t c = q.axis < 0 ? 0 : (i / q.inner) % q.channels;
      int64_t zp = q.zp ? readIndex(*q.zp, c) : 0;
      o.ptr[i] = static_cast<float>(readIndex(x, i) - zp) * q.scale.ptr[c];
    }
  });
  o.finish();
  return "";
}

} // namespace

bool isElementwise(const std::string &k) {
  return contains(kArith, k) || contains(kLogic, k) || contains(kUnaryAny, k) ||
         contains(kUnaryFloat, k) || k == "not" || k == "compare" ||
         k == "where" || k == "clip" || k == "cast" || k == "quantize" ||
         k == "dequantize";
}

std::string runElementwise(const graph::Op &op, const Inputs &in,
                           const Outputs &out) {
  const std::string &k = op.kind;
  size_t arity = contains(kArith, k) || contains(kLogic, k) || k == "compare"
                     ? 2
                 : k == "where"                         ? 3
                 : k == "quantize" || k == "dequantize" ? 2
                                                        : 1;
  if (in.size() < arity || out.size() != 1) {
    return fail(op,
                "expected " + std::to_string(arity) + " inputs and 1 output");
  }
  for (size_t i = 0; i < arity; ++i) {
    if (!in[i].data && in[i].elements() != 0) {
      return fail(op, "input " + std::to_string(i) + " has no buffer");
    }
  }
  // Broadcasting ops check the shapes they were given: the graph declared
  // them, but a kernel never trusts a shape it indexes with.
  if (arity >= 2 && k != "quantize" && k != "dequantize") {
    for (size_t i = 0; i < arity; ++i) {
      if (!broadcastable(in[i].shape, out[0].shape)) {
        return fail(op, "operand " + shapeString(in[i].shape) +
                            " does not broadcast to " +
                            shapeString(out[0].shape));
      }
    }
  } else if (in[0].elements() != out[0].elements()) {
    return fail(op, "input " + shapeString(in[0].shape) + " and output " +
                        shapeString(out[0].shape) + " differ in size");
  }
  if (contains(kArith, k)) {
    return runArith(op, in, out);
  }
  if (contains(kLogic, k)) {
    return runLogic(op, in, out);
  }
  if (k == "compare") {
    return runCompare(op, in, out);
  }
  if (k == "where") {
    return runWhere(op, in, out);
  }
  if (k == "clip") {
    return runClip(op, in, out);
  }
  if (k == "cast") {
    return runCast(op, in, out);
  }
  if (k == "quantize") {
    return runQuantize(op, in, out);
  }
  if (k == "dequantize") {
    return runDequantize(op, in, out);
  }
  return runUnary(op, in, out);
}

} // namespace nuri::cpu::detail
