//===- Onnx.cpp - Kernels for ONNX ops that Nuri keeps opaque -------------===//
//
// `nuri import --allow-unsupported` keeps ONNX nodes it has no op for as
// `onnx_op` with "op_type" and the node's attributes under their ONNX names.
// These kernels follow the ONNX operator specification (opset 18 forms,
// plus the attribute forms of older opsets where an input moved). They are
// off the hot path of a transformer, so most compute element by element in
// double through readValue/writeValue and favour clarity over speed.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"

#include "nuri/cpu/Gemm.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <numeric>

namespace nuri::cpu::detail {
namespace {

double readValue(const TensorView &t, int64_t i) {
  switch (t.dtype) {
  case DType::F32:
    return t.as<const float>()[i];
  case DType::F64:
    return t.as<const double>()[i];
  case DType::F16:
    return isa::f16ToF32(t.as<const uint16_t>()[i]);
  case DType::BF16:
    return isa::bf16ToF32(t.as<const uint16_t>()[i]);
  case DType::F8E4M3:
    return isa::e4m3ToF32(t.as<const uint8_t>()[i]);
  case DType::F8E5M2:
    return isa::e5m2ToF32(t.as<const uint8_t>()[i]);
  default:
    return static_cast<double>(readIndex(t, i));
  }
}

/// Stores v: floats round to nearest even (through fp32 for the narrow
/// ones), integers truncate and saturate, bool is v != 0.
void writeValue(const TensorView &t, int64_t i, double v) {
  auto sat = [&](auto tag) {
    using T = decltype(tag);
    if (v != v) {
      return T(0);
    }
    double x = std::trunc(v);
    x = std::max<double>(x,
                         static_cast<double>(std::numeric_limits<T>::lowest()));
    x = std::min<double>(x, static_cast<double>(std::numeric_limits<T>::max()));
    return static_cast<T>(x);
  };
  switch (t.dtype) {
  case DType::F32:
    t.as<float>()[i] = static_cast<float>(v);
    break;
  case DType::F64:
    t.as<double>()[i] = v;
    break;
  case DType::F16:
    t.as<uint16_t>()[i] = isa::f32ToF16(static_cast<float>(v));
    break;
  case DType::BF16:
    t.as<uint16_t>()[i] = isa::f32ToBf16(static_cast<float>(v));
    break;
  case DType::F8E4M3:
    t.as<uint8_t>()[i] = isa::f32ToE4M3(static_cast<float>(v));
    break;
  case DType::F8E5M2:
    t.as<uint8_t>()[i] = isa::f32ToE5M2(static_cast<float>(v));
    break;
  case DType::Bool:
    t.as<uint8_t>()[i] = v != 0;
    break;
  case DType::I8:
    t.as<int8_t>()[i] = sat(int8_t{});
    break;
  case DType::I16:
    t.as<int16_t>()[i] = sat(int16_t{});
    break;
  case DType::I32:
    t.as<int32_t>()[i] = sat(int32_t{});
    break;
  case DType::I64:
    t.as<int64_t>()[i] = sat(int64_t{});
    break;
  case DType::U8:
    t.as<uint8_t>()[i] = sat(uint8_t{});
    break;
  case DType::U16:
    t.as<uint16_t>()[i] = sat(uint16_t{});
    break;
  case DType::U32:
    t.as<uint32_t>()[i] = sat(uint32_t{});
    break;
  case DType::U64:
    t.as<uint64_t>()[i] = sat(uint64_t{});
    break;
  default:
    break;
  }
}

bool isNumeric(DType t) { return graph::dtypeSize(t) != 0 && t != DType::Bool; }

/// Elementwise float function y = fn(x) in double.
std::string mapFloat(const graph::Op &op, const Inputs &in, const Outputs &out,
                     const std::function<double(double)> &fn) {
  if (!graph::isFloat(in[0].dtype) || out[0].dtype != in[0].dtype ||
      out[0].elements() != in[0].elements()) {
    return unsupported(op, in, out);
  }
  parallelRange(in[0].elements(), kParallelGrain / 8,
                [&](int64_t b, int64_t e) {
                  for (int64_t i = b; i < e; ++i) {
                    writeValue(out[0], i, fn(readValue(in[0], i)));
                  }
                });
  return "";
}

/// Coordinates of a row-major linear index.
void unravel(int64_t i, const std::vector<int64_t> &shape, int64_t *coord) {
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    coord[d] = shape[d] ? i % shape[d] : 0;
    i = shape[d] ? i / shape[d] : 0;
  }
}

int64_t ravel(const int64_t *coord, const std::vector<int64_t> &shape) {
  int64_t i = 0;
  for (size_t d = 0; d < shape.size(); ++d) {
    i = i * shape[d] + coord[d];
  }
  return i;
}

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

// --- Activations
// ---------------------------------------------------------------

std::string activation(const graph::Op &op, const std::string &t,
                       const Inputs &in, const Outputs &out) {
  double alpha, beta;
  if (t == "LeakyRelu") {
    alpha = op.getFloat("alpha", 0.01);
    return mapFloat(op, in, out,
                    [=](double x) { return x < 0 ? alpha * x : x; });
  }
  if (t == "Elu") {
    alpha = op.getFloat("alpha", 1.0);
    return mapFloat(op, in, out, [=](double x) {
      return x < 0 ? alpha * std::expm1(x) : x;
    });
  }
  if (t == "Selu") {
    alpha = op.getFloat("alpha", 1.67326319217681884765625);
    beta = op.getFloat("gamma", 1.05070102214813232421875);
    return mapFloat(op, in, out, [=](double x) {
      return x <= 0 ? beta * alpha * std::expm1(x) : beta * x;
    });
  }
  if (t == "Celu") {
    alpha = op.getFloat("alpha", 1.0);
    return mapFloat(op, in, out, [=](double x) {
      return std::max(0.0, x) + std::min(0.0, alpha * std::expm1(x / alpha));
    });
  }
  if (t == "HardSigmoid") {
    alpha = op.getFloat("alpha", 0.2);
    beta = op.getFloat("beta", 0.5);
    return mapFloat(op, in, out, [=](double x) {
      return std::max(0.0, std::min(1.0, alpha * x + beta));
    });
  }
  if (t == "HardSwish") {
    return mapFloat(op, in, out, [](double x) {
      return x * std::max(0.0, std::min(1.0, x / 6 + 0.5));
    });
  }
  if (t == "Softplus") {
    return mapFloat(op, in, out,
                    [](double x) { return std::log1p(std::exp(x)); });
  }
  if (t == "Softsign") {
    return mapFloat(op, in, out,
                    [](double x) { return x / (1 + std::fabs(x)); });
  }
  if (t == "Sinh") {
    return mapFloat(op, in, out, [](double x) { return std::sinh(x); });
  }
  if (t == "Cosh") {
    return mapFloat(op, in, out, [](double x) { return std::cosh(x); });
  }
  if (t == "Tan") {
    return mapFloat(op, in, out, [](double x) { return std::tan(x); });
  }
  if (t == "Asin") {
    return mapFloat(op, in, out, [](double x) { return std::asin(x); });
  }
  if (t == "Acos") {
    return mapFloat(op, in, out, [](double x) { return std::acos(x); });
  }
  if (t == "Atan") {
    return mapFloat(op, in, out, [](double x) { return std::atan(x); });
  }
  if (t == "Mish") {
    return mapFloat(op, in, out, [](double x) {
      return x * std::tanh(std::log1p(std::exp(x)));
    });
  }
  if (t == "ThresholdedRelu") {
    alpha = op.getFloat("alpha", 1.0);
    return mapFloat(op, in, out, [=](double x) { return x > alpha ? x : 0.0; });
  }
  return fail(op, "no activation '" + t + "'");
}

std::string runIsNanInf(const graph::Op &op, bool nan, const Inputs &in,
                        const Outputs &out) {
  if (!graph::isFloat(in[0].dtype) || out[0].dtype != DType::Bool) {
    return unsupported(op, in, out);
  }
  if (out[0].elements() != in[0].elements()) {
    return fail(op, "output size differs from the input");
  }
  bool neg = op.getInt("detect_negative", 1) != 0;
  bool pos = op.getInt("detect_positive", 1) != 0;
  uint8_t *o = out[0].as<uint8_t>();
  for (int64_t i = 0; i < in[0].elements(); ++i) {
    double v = readValue(in[0], i);
    o[i] = nan ? std::isnan(v)
               : (std::isinf(v) && ((v > 0 && pos) || (v < 0 && neg)));
  }
  return "";
}

std::string runPRelu(const graph::Op &op, const Inputs &in,
                     const Outputs &out) {
  const TensorView &x = in[0], &s = in[1], &o = out[0];
  if (!broadcastable(s.shape, o.shape) || x.shape != o.shape ||
      !isNumeric(x.dtype) || s.dtype != x.dtype || o.dtype != x.dtype) {
    return unsupported(op, in, out);
  }
  std::vector<int64_t> st = broadcastStrides(s.shape, o.shape);
  for (int64_t i = 0; i < o.elements(); ++i) {
    double v = readValue(x, i);
    writeValue(o, i, v < 0 ? v * readValue(s, offsetOf(i, o.shape, st)) : v);
  }
  return "";
}

// --- Index ops
// -------------------------------------------------------------------

std::string runArgExtreme(const graph::Op &op, bool isMax, const Inputs &in,
                          const Outputs &out) {
  const TensorView &x = in[0];
  int64_t rank = static_cast<int64_t>(x.shape.size());
  int64_t axis = normAxis(op.getInt("axis", 0), rank);
  if (axis < 0 || out[0].dtype != DType::I64 || !isNumeric(x.dtype)) {
    return axis < 0 ? fail(op, "axis out of range") : unsupported(op, in, out);
  }
  bool last = op.getInt("select_last_index", 0) != 0;
  AxisSplit s = splitAt(x.shape, axis);
  if (out[0].elements() != s.outer * s.inner || s.n == 0) {
    return fail(op, "output shape does not match the reduced input");
  }
  int64_t *o = out[0].as<int64_t>();
  for (int64_t a = 0; a < s.outer; ++a) {
    for (int64_t c = 0; c < s.inner; ++c) {
      int64_t best = 0;
      double bv = readValue(x, a * s.n * s.inner + c);
      for (int64_t j = 1; j < s.n; ++j) {
        double v = readValue(x, (a * s.n + j) * s.inner + c);
        bool better =
            isMax ? (last ? v >= bv : v > bv) : (last ? v <= bv : v < bv);
        if (better) {
          best = j;
          bv = v;
        }
      }
      o[a * s.inner + c] = best;
    }
  }
  return "";
}

std::string runTopK(const graph::Op &op, const Inputs &in, const Outputs &out) {
  if (in.size() < 2 || !in[1].data || out.size() != 2) {
    return fail(op, "needs X and K, gives values and indices");
  }
  const TensorView &x = in[0];
  int64_t rank = static_cast<int64_t>(x.shape.size());
  int64_t axis = normAxis(op.getInt("axis", -1), rank);
  std::vector<int64_t> kv = readInts(in[1]);
  if (axis < 0 || kv.size() != 1) {
    return fail(op, "bad axis or K");
  }
  int64_t k = kv[0];
  bool largest = op.getInt("largest", 1) != 0;
  AxisSplit s = splitAt(x.shape, axis);
  if (k < 0 || k > s.n || out[0].elements() != s.outer * k * s.inner ||
      out[1].elements() != s.outer * k * s.inner ||
      out[1].dtype != DType::I64 || out[0].dtype != x.dtype ||
      !isNumeric(x.dtype)) {
    return fail(op, "K " + std::to_string(k) + " or outputs do not fit " +
                        shapeString(x.shape));
  }
  std::vector<int64_t> order(s.n);
  for (int64_t a = 0; a < s.outer; ++a) {
    for (int64_t c = 0; c < s.inner; ++c) {
      auto at = [&](int64_t j) {
        return readValue(x, (a * s.n + j) * s.inner + c);
      };
      std::iota(order.begin(), order.end(), 0);
      // Ties keep the lower index first, as ONNX requires.
      std::stable_sort(order.begin(), order.end(), [&](int64_t p, int64_t q) {
        return largest ? at(p) > at(q) : at(p) < at(q);
      });
      for (int64_t j = 0; j < k; ++j) {
        int64_t o = (a * k + j) * s.inner + c;
        writeValue(out[0], o, at(order[j]));
        out[1].as<int64_t>()[o] = order[j];
      }
    }
  }
  return "";
}

std::string runCumSum(const graph::Op &op, const Inputs &in,
                      const Outputs &out) {
  if (in.size() < 2 || !in[1].data) {
    return fail(op, "needs x and axis");
  }
  const TensorView &x = in[0], &o = out[0];
  int64_t rank = static_cast<int64_t>(x.shape.size());
  std::vector<int64_t> av = readInts(in[1]);
  int64_t axis = av.size() == 1 ? normAxis(av[0], rank) : -1;
  if (axis < 0 || o.dtype != x.dtype || !isNumeric(x.dtype) ||
      o.shape != x.shape) {
    return axis < 0 ? fail(op, "axis out of range") : unsupported(op, in, out);
  }
  bool exclusive = op.getInt("exclusive", 0) != 0;
  bool reverse = op.getInt("reverse", 0) != 0;
  AxisSplit s = splitAt(x.shape, axis);
  bool isInt = !graph::isFloat(x.dtype);
  for (int64_t a = 0; a < s.outer; ++a) {
    for (int64_t c = 0; c < s.inner; ++c) {
      double acc = 0;
      int64_t iacc = 0;
      for (int64_t jj = 0; jj < s.n; ++jj) {
        int64_t j = reverse ? s.n - 1 - jj : jj;
        int64_t idx = (a * s.n + j) * s.inner + c;
        double v = readValue(x, idx);
        int64_t iv = isInt ? readIndex(x, idx) : 0;
        if (!exclusive) {
          acc += v;
          iacc += iv;
        }
        if (isInt) {
          writeValue(o, idx, static_cast<double>(iacc));
          if (x.dtype == DType::I64) {
            o.as<int64_t>()[idx] = iacc; // exact beyond 2^53
          }
        } else {
          writeValue(o, idx, acc);
        }
        if (exclusive) {
          acc += v;
          iacc += iv;
        }
      }
    }
  }
  return "";
}

std::string runPad(const graph::Op &op, const Inputs &in, const Outputs &out) {
  const TensorView &x = in[0], &o = out[0];
  int64_t rank = static_cast<int64_t>(x.shape.size());
  std::vector<int64_t> pads =
      in.size() > 1 && in[1].data ? readInts(in[1]) : op.getInts("pads");
  std::vector<int64_t> axes =
      in.size() > 3 && in[3].data ? readInts(in[3]) : std::vector<int64_t>{};
  if (axes.empty()) {
    for (int64_t d = 0; d < rank; ++d) {
      axes.push_back(d);
    }
  }
  if (pads.size() != 2 * axes.size()) {
    return fail(op, "pads must hold a begin and an end per axis");
  }
  std::vector<int64_t> begin(rank, 0), end(rank, 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t a = normAxis(axes[i], rank);
    if (a < 0) {
      return fail(op, "axis out of range");
    }
    begin[a] = pads[i];
    end[a] = pads[i + axes.size()];
  }
  std::string mode = op.getString("mode", "constant");
  std::vector<int64_t> expect(rank);
  for (int64_t d = 0; d < rank; ++d) {
    expect[d] = x.shape[d] + begin[d] + end[d];
    if (mode != "constant" && x.shape[d] == 0 && expect[d] > 0) {
      return fail(op, "cannot " + mode + "-pad an empty dimension");
    }
  }
  if (expect != o.shape || o.dtype != x.dtype) {
    return fail(op, "output " + shapeString(o.shape) + " should be " +
                        shapeString(expect));
  }
  if (mode != "constant" && mode != "reflect" && mode != "edge" &&
      mode != "wrap") {
    return fail(op, "unknown mode '" + mode + "'");
  }
  size_t esize = graph::dtypeSize(x.dtype);
  std::vector<uint8_t> fill(esize, 0);
  if (in.size() > 2 && in[2].data && in[2].elements() > 0) {
    if (in[2].dtype != x.dtype) {
      return unsupported(op, in, out);
    }
    std::memcpy(fill.data(), in[2].data, esize);
  } else if (op.has("value")) {
    TensorView f{x.dtype, {1}, fill.data()};
    writeValue(f, 0, op.getFloat("value", 0));
  }
  std::vector<int64_t> oc(rank), ic(rank);
  const auto *src = static_cast<const uint8_t *>(x.data);
  auto *dst = static_cast<uint8_t *>(o.data);
  for (int64_t i = 0; i < o.elements(); ++i) {
    unravel(i, o.shape, oc.data());
    bool inside = true;
    for (int64_t d = 0; d < rank; ++d) {
      int64_t n = x.shape[d], c = oc[d] - begin[d];
      if (c < 0 || c >= n) {
        if (mode == "constant") {
          inside = false;
          break;
        }
        if (mode == "edge") {
          c = c < 0 ? 0 : n - 1;
        } else if (mode == "wrap") {
          c = ((c % n) + n) % n;
        } else if (n == 1) {
          c = 0;
        } else {
          int64_t period = 2 * (n - 1);
          c = ((c % period) + period) % period;
          c = c >= n ? period - c : c;
        }
      }
      ic[d] = c;
    }
    std::memcpy(dst + i * esize,
                inside ? src + ravel(ic.data(), x.shape) * esize : fill.data(),
                esize);
  }
  return "";
}

std::string runGatherElements(const graph::Op &op, const Inputs &in,
                              const Outputs &out) {
  const TensorView &x = in[0], &idx = in[1], &o = out[0];
  int64_t rank = static_cast<int64_t>(x.shape.size());
  int64_t axis = normAxis(op.getInt("axis", 0), rank);
  if (axis < 0 || !isIntegerIndex(idx.dtype) || idx.shape != o.shape ||
      static_cast<int64_t>(idx.shape.size()) != rank || o.dtype != x.dtype) {
    return fail(op, "indices must be integers of the output's shape and rank");
  }
  size_t es = graph::dtypeSize(x.dtype);
  std::vector<int64_t> c(rank);
  for (int64_t i = 0; i < o.elements(); ++i) {
    unravel(i, idx.shape, c.data());
    int64_t v = readIndex(idx, i), n = x.shape[axis];
    int64_t r = v < 0 ? v + n : v;
    if (r < 0 || r >= n) {
      return fail(op, "index " + std::to_string(v) + " out of range for size " +
                          std::to_string(n));
    }
    c[axis] = r;
    for (int64_t d = 0; d < rank; ++d) {
      if (c[d] >= x.shape[d]) {
        return fail(op, "indices shape exceeds the data shape");
      }
    }
    std::memcpy(static_cast<uint8_t *>(o.data) + i * es,
                static_cast<const uint8_t *>(x.data) +
                    ravel(c.data(), x.shape) * es,
                es);
  }
  return "";
}

std::string runScatterElements(const graph::Op &op, const Inputs &in,
                               const Outputs &out) {
  if (in.size() < 3 || !in[2].data) {
    return fail(op, "needs data, indices and updates");
  }
  const TensorView &x = in[0], &idx = in[1], &upd = in[2], &o = out[0];
  int64_t rank = static_cast<int64_t>(x.shape.size());
  int64_t axis = normAxis(op.getInt("axis", 0), rank);
  std::string red = op.getString("reduction", "none");
  if (axis < 0 || !isIntegerIndex(idx.dtype) || idx.shape != upd.shape ||
      static_cast<int64_t>(idx.shape.size()) != rank || o.shape != x.shape ||
      o.dtype != x.dtype || upd.dtype != x.dtype) {
    return fail(op, "data, indices, updates and output do not match");
  }
  std::memcpy(o.data, x.data, x.bytes());
  size_t es = graph::dtypeSize(x.dtype);
  std::vector<int64_t> c(rank);
  for (int64_t i = 0; i < idx.elements(); ++i) {
    unravel(i, idx.shape, c.data());
    int64_t v = readIndex(idx, i), n = x.shape[axis];
    int64_t r = v < 0 ? v + n : v;
    if (r < 0 || r >= n) {
      return fail(op, "index " + std::to_string(v) + " out of range for size " +
                          std::to_string(n));
    }
    c[axis] = r;
    for (int64_t d = 0; d < rank; ++d) {
      if (c[d] >= x.shape[d]) {
        return fail(op, "indices shape exceeds the data shape");
      }
    }
    int64_t dst = ravel(c.data(), x.shape);
    if (red == "none") {
      std::memcpy(static_cast<uint8_t *>(o.data) + dst * es,
                  static_cast<const uint8_t *>(upd.data) + i * es, es);
      continue;
    }
    double a = readValue(o, dst), b = readValue(upd, i);
    double r2 = red == "add"   ? a + b
                : red == "mul" ? a * b
                : red == "max" ? std::max(a, b)
                               : std::min(a, b);
    writeValue(o, dst, r2);
  }
  return "";
}

std::string runGatherND(const graph::Op &op, const Inputs &in,
                        const Outputs &out) {
  const TensorView &x = in[0], &idx = in[1], &o = out[0];
  int64_t b = op.getInt("batch_dims", 0);
  int64_t r = static_cast<int64_t>(x.shape.size());
  int64_t q = static_cast<int64_t>(idx.shape.size());
  if (!isIntegerIndex(idx.dtype) || q < 1 || b < 0 || b >= std::min(r, q)) {
    return fail(op, "bad indices or batch_dims");
  }
  int64_t last = idx.shape.back();
  if (last > r - b) {
    return fail(op, "index tuples longer than the data rank");
  }
  for (int64_t d = 0; d < b; ++d) {
    if (idx.shape[d] != x.shape[d]) {
      return fail(op, "batch dimensions of data and indices differ");
    }
  }
  int64_t batch = 1, slice = 1;
  for (int64_t d = 0; d < b; ++d) {
    batch *= x.shape[d];
  }
  for (int64_t d = b + last; d < r; ++d) {
    slice *= x.shape[d];
  }
  int64_t tuples = idx.elements() / std::max<int64_t>(last, 1);
  int64_t perBatch = batch ? tuples / batch : 0;
  if (o.elements() != tuples * slice || o.dtype != x.dtype) {
    return fail(op, "output shape does not match");
  }
  int64_t dataPerBatch = 1;
  for (int64_t d = b; d < r; ++d) {
    dataPerBatch *= x.shape[d];
  }
  size_t es = graph::dtypeSize(x.dtype);
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t bi = perBatch ? t / perBatch : 0;
    int64_t off = 0;
    for (int64_t j = 0; j < last; ++j) {
      int64_t n = x.shape[b + j], v = readIndex(idx, t * last + j);
      int64_t rr = v < 0 ? v + n : v;
      if (rr < 0 || rr >= n) {
        return fail(op, "index " + std::to_string(v) +
                            " out of range for size " + std::to_string(n));
      }
      off = off * n + rr;
    }
    std::memcpy(static_cast<uint8_t *>(o.data) + t * slice * es,
                static_cast<const uint8_t *>(x.data) +
                    (bi * dataPerBatch + off * slice) * es,
                slice * es);
  }
  return "";
}

std::string runOneHot(const graph::Op &op, const Inputs &in,
                      const Outputs &out) {
  if (in.size() < 3 || !in[1].data || !in[2].data || in[2].elements() != 2) {
    return fail(op, "needs indices, depth and values [off, on]");
  }
  const TensorView &idx = in[0], &o = out[0];
  int64_t depth = static_cast<int64_t>(readValue(in[1], 0));
  int64_t rank = static_cast<int64_t>(idx.shape.size()) + 1;
  int64_t axis = normAxis(op.getInt("axis", -1), rank);
  if (axis < 0 || depth < 0 || in[2].dtype != o.dtype) {
    return fail(op, "bad axis, depth or values");
  }
  std::vector<int64_t> expect = idx.shape;
  expect.insert(expect.begin() + axis, depth);
  if (expect != o.shape) {
    return fail(op, "output " + shapeString(o.shape) + " should be " +
                        shapeString(expect));
  }
  AxisSplit s = splitAt(o.shape, axis);
  size_t es = graph::dtypeSize(o.dtype);
  const auto *vals = static_cast<const uint8_t *>(in[2].data);
  auto *dst = static_cast<uint8_t *>(o.data);
  for (int64_t i = 0; i < o.elements(); ++i) {
    std::memcpy(dst + i * es, vals, es);
  }
  for (int64_t a = 0; a < s.outer; ++a) {
    for (int64_t c = 0; c < s.inner; ++c) {
      int64_t v = static_cast<int64_t>(readValue(idx, a * s.inner + c));
      if (v < 0) {
        v += depth;
      }
      if (v >= 0 && v < depth) {
        std::memcpy(dst + ((a * depth + v) * s.inner + c) * es, vals + es, es);
      }
    }
  }
  return "";
}

// --- Normalizations
// ----------------------------------------------------------------

std::string runChannelNorm(const graph::Op &op, bool instance, const Inputs &in,
                           const Outputs &out) {
  size_t need = instance ? 3 : 5;
  if (in.size() < need || out.empty()) {
    return fail(op, "missing inputs");
  }
  for (size_t i = 0; i < need; ++i) {
    if (!in[i].data || !graph::isFloat(in[i].dtype)) {
      return unsupported(op, in, out);
    }
  }
  const TensorView &x = in[0], &o = out[0];
  if (x.shape.size() < 2 || o.shape != x.shape || o.dtype != x.dtype) {
    return fail(op, "input must be [N, C, ...]");
  }
  int64_t n = x.shape[0], c = x.shape[1],
          sp = x.elements() / std::max<int64_t>(n * c, 1);
  for (size_t i = 1; i < need; ++i) {
    if (in[i].elements() != c) {
      return fail(op, "per-channel inputs need C values");
    }
  }
  double eps = op.getFloat("epsilon", 1e-5);
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t ch = 0; ch < c; ++ch) {
      int64_t base = (b * c + ch) * sp;
      double mean, var;
      if (instance) {
        mean = 0;
        for (int64_t i = 0; i < sp; ++i) {
          mean += readValue(x, base + i);
        }
        mean /= sp;
        var = 0;
        for (int64_t i = 0; i < sp; ++i) {
          double d = readValue(x, base + i) - mean;
          var += d * d;
        }
        var /= sp;
      } else {
        mean = readValue(in[3], ch);
        var = readValue(in[4], ch);
      }
      double scale = readValue(in[1], ch) / std::sqrt(var + eps);
      double shift = readValue(in[2], ch);
      for (int64_t i = 0; i < sp; ++i) {
        writeValue(o, base + i,
                   (readValue(x, base + i) - mean) * scale + shift);
      }
    }
  }
  return "";
}

std::string runLrn(const graph::Op &op, const Inputs &in, const Outputs &out) {
  const TensorView &x = in[0], &o = out[0];
  if (!graph::isFloat(x.dtype) || x.shape.size() < 2 || o.shape != x.shape ||
      o.dtype != x.dtype) {
    return unsupported(op, in, out);
  }
  double alpha = op.getFloat("alpha", 1e-4), beta = op.getFloat("beta", 0.75),
         bias = op.getFloat("bias", 1.0);
  int64_t size = op.getInt("size", 1);
  int64_t n = x.shape[0], c = x.shape[1],
          sp = x.elements() / std::max<int64_t>(n * c, 1);
  int64_t lo = (size - 1) / 2, hi = size - 1 - lo;
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t i = 0; i < sp; ++i) {
        double sq = 0;
        for (int64_t k = std::max<int64_t>(0, ch - lo);
             k <= std::min(c - 1, ch + hi); ++k) {
          double v = readValue(x, (b * c + k) * sp + i);
          sq += v * v;
        }
        int64_t idx = (b * c + ch) * sp + i;
        writeValue(o, idx,
                   readValue(x, idx) /
                       std::pow(bias + alpha / size * sq, beta));
      }
    }
  }
  return "";
}

std::string runReduceOnnx(const graph::Op &op, const std::string &t,
                          const Inputs &in, const Outputs &out) {
  const TensorView &x = in[0], &o = out[0];
  int64_t rank = static_cast<int64_t>(x.shape.size());
  std::vector<int64_t> axes =
      in.size() > 1 && in[1].data ? readInts(in[1]) : op.getInts("axes");
  // keepdims only changes the output's shape, which the graph declares;
  // the element count is checked below.
  bool noop = op.getInt("noop_with_empty_axes", 0) != 0;
  if (!isNumeric(x.dtype) || o.dtype != x.dtype) {
    return unsupported(op, in, out);
  }
  std::vector<bool> red(rank, axes.empty() && !noop);
  for (int64_t a : axes) {
    int64_t n = normAxis(a, rank);
    if (n < 0) {
      return fail(op, "axis " + std::to_string(a) + " out of range");
    }
    red[n] = true;
  }
  std::vector<int64_t> keptShape;
  for (int64_t d = 0; d < rank; ++d) {
    if (!red[d]) {
      keptShape.push_back(x.shape[d]);
    }
  }
  if (o.elements() != graph::elementCount(keptShape)) {
    return fail(op, "output size does not match the reduction");
  }
  std::vector<double> acc(o.elements(), 0.0), mx(o.elements(), -INFINITY);
  std::vector<int64_t> c(rank);
  auto slot = [&](int64_t i) {
    unravel(i, x.shape, c.data());
    int64_t s = 0;
    for (int64_t d = 0; d < rank; ++d) {
      if (!red[d]) {
        s = s * x.shape[d] + c[d];
      }
    }
    return s;
  };
  if (t == "ReduceLogSumExp") {
    for (int64_t i = 0; i < x.elements(); ++i) {
      int64_t s = slot(i);
      mx[s] = std::max(mx[s], readValue(x, i));
    }
  }
  for (int64_t i = 0; i < x.elements(); ++i) {
    int64_t s = slot(i);
    double v = readValue(x, i);
    if (t == "ReduceL2" || t == "ReduceSumSquare") {
      acc[s] += v * v;
    } else if (t == "ReduceLogSum" || t == "ReduceL1") {
      acc[s] += t == "ReduceL1" ? std::fabs(v) : v;
    } else {
      acc[s] += std::exp(v - mx[s]);
    }
  }
  for (int64_t s = 0; s < o.elements(); ++s) {
    double r = acc[s];
    if (t == "ReduceL2") {
      r = std::sqrt(r);
    } else if (t == "ReduceLogSum") {
      r = std::log(r);
    } else if (t == "ReduceLogSumExp") {
      r = std::isinf(mx[s]) ? mx[s] : std::log(r) + mx[s];
    }
    writeValue(o, s, r);
  }
  return "";
}

// --- Einsum
// ----------------------------------------------------------------------

std::string runEinsum(const graph::Op &op, const Inputs &in,
                      const Outputs &out) {
  std::string eq = op.getString("equation", "");
  eq.erase(std::remove(eq.begin(), eq.end(), ' '), eq.end());
  size_t arrow = eq.find("->");
  std::string lhs = eq.substr(0, arrow);
  std::vector<std::string> terms;
  for (size_t p = 0;;) {
    size_t comma = lhs.find(',', p);
    terms.push_back(lhs.substr(p, comma == std::string::npos ? std::string::npos
                                                             : comma - p));
    if (comma == std::string::npos) {
      break;
    }
    p = comma + 1;
  }
  if (terms.size() != in.size()) {
    return fail(op, "equation '" + eq + "' names " +
                        std::to_string(terms.size()) + " operands, got " +
                        std::to_string(in.size()));
  }
  // Ellipsis dims become letters '0'.. so every dim is one label.
  int64_t ellRank = 0;
  for (size_t i = 0; i < terms.size(); ++i) {
    size_t e = terms[i].find("...");
    if (e != std::string::npos) {
      int64_t named = static_cast<int64_t>(terms[i].size()) - 3;
      ellRank =
          std::max(ellRank, static_cast<int64_t>(in[i].shape.size()) - named);
    }
  }
  auto expandEll = [&](const std::string &term, int64_t rank) {
    size_t e = term.find("...");
    if (e == std::string::npos) {
      return term;
    }
    int64_t k = rank - (static_cast<int64_t>(term.size()) - 3);
    std::string ell;
    for (int64_t j = ellRank - k; j < ellRank; ++j) {
      ell += static_cast<char>('0' + j);
    }
    return term.substr(0, e) + ell + term.substr(e + 3);
  };
  std::map<char, int64_t> size;
  std::vector<std::string> labels;
  for (size_t i = 0; i < terms.size(); ++i) {
    std::string l =
        expandEll(terms[i], static_cast<int64_t>(in[i].shape.size()));
    if (l.size() != in[i].shape.size()) {
      return fail(op, "term '" + terms[i] +
                          "' does not match rank of operand " +
                          std::to_string(i));
    }
    for (size_t d = 0; d < l.size(); ++d) {
      int64_t n = in[i].shape[d];
      auto it = size.find(l[d]);
      if (it != size.end() && it->second != n && it->second != 1 && n != 1) {
        return fail(op, std::string("label '") + l[d] + "' has two sizes");
      }
      size[l[d]] = it == size.end() ? n : std::max(it->second, n);
    }
    labels.push_back(l);
  }
  std::string outLabels;
  if (arrow != std::string::npos) {
    std::string rhs = eq.substr(arrow + 2);
    size_t e = rhs.find("...");
    if (e != std::string::npos) {
      std::string ell;
      for (int64_t j = 0; j < ellRank; ++j) {
        ell += static_cast<char>('0' + j);
      }
      rhs = rhs.substr(0, e) + ell + rhs.substr(e + 3);
    }
    outLabels = rhs;
  } else {
    // Implicit form: ellipsis dims, then labels seen once, alphabetically.
    std::map<char, int> count;
    for (const std::string &l : labels) {
      for (char ch : l) {
        ++count[ch];
      }
    }
    for (auto &[ch, n] : count) {
      if (ch >= '0' && ch <= '9') {
        outLabels += ch;
      }
    }
    for (auto &[ch, n] : count) {
      if (n == 1 && !(ch >= '0' && ch <= '9')) {
        outLabels += ch;
      }
    }
  }
  std::vector<int64_t> outShape;
  for (char ch : outLabels) {
    if (!size.count(ch)) {
      return fail(op, std::string("output label '") + ch +
                          "' is not an input label");
    }
    outShape.push_back(size[ch]);
  }
  const TensorView &o = out[0];
  if (graph::elementCount(outShape) != o.elements()) {
    return fail(op, "output shape does not match '" + eq + "'");
  }
  std::string sumLabels;
  for (auto &[ch, n] : size) {
    if (outLabels.find(ch) == std::string::npos) {
      sumLabels += ch;
    }
  }
  std::string all = outLabels + sumLabels;
  std::vector<int64_t> allShape;
  for (char ch : all) {
    allShape.push_back(size[ch]);
  }
  // For each operand: its stride per label of `all` (0 when absent or size 1).
  std::vector<std::vector<int64_t>> strides(
      in.size(), std::vector<int64_t>(all.size(), 0));
  for (size_t i = 0; i < in.size(); ++i) {
    std::vector<int64_t> own = contiguousStrides(in[i].shape);
    for (size_t d = 0; d < labels[i].size(); ++d) {
      if (in[i].shape[d] != 1) {
        strides[i][all.find(labels[i][d])] += own[d];
      }
    }
  }
  int64_t outN = o.elements(), sumN = 1;
  for (size_t d = outLabels.size(); d < all.size(); ++d) {
    sumN *= allShape[d];
  }
  std::vector<int64_t> c(all.size());
  for (int64_t oi = 0; oi < outN; ++oi) {
    double acc = 0;
    for (int64_t si = 0; si < sumN; ++si) {
      unravel(oi * sumN + si, allShape, c.data());
      double prod = 1;
      for (size_t i = 0; i < in.size(); ++i) {
        int64_t off = 0;
        for (size_t d = 0; d < all.size(); ++d) {
          off += c[d] * strides[i][d];
        }
        prod *= readValue(in[i], off);
      }
      acc += prod;
    }
    writeValue(o, oi, acc);
  }
  return "";
}

// --- Integer and quantized products
// ---------------------------------------------

/// Batched (A - a_zp) x (B - b_zp) in int32 with numpy batch broadcasting;
/// A's zero point may be per row (M values), B's per column (N values).
std::string integerProduct(const graph::Op &op, const TensorView &a,
                           const TensorView *azp, const TensorView &b,
                           const TensorView *bzp,
                           const std::vector<int64_t> &outShape,
                           std::vector<int32_t> &result) {
  if (a.shape.size() < 2 || b.shape.size() < 2 || outShape.size() < 2 ||
      !isIntegerIndex(a.dtype) || !isIntegerIndex(b.dtype)) {
    return fail(op, "operands must be integer matrices");
  }
  int64_t m = a.shape[a.shape.size() - 2], k = a.shape.back();
  int64_t n = b.shape.back();
  std::vector<int64_t> ab(a.shape.begin(), a.shape.end() - 2),
      bb(b.shape.begin(), b.shape.end() - 2),
      ob(outShape.begin(), outShape.end() - 2);
  if (b.shape[b.shape.size() - 2] != k || outShape[outShape.size() - 2] != m ||
      outShape.back() != n || !broadcastable(ab, ob) ||
      !broadcastable(bb, ob) ||
      (azp && azp->elements() != 1 && azp->elements() != m) ||
      (bzp && bzp->elements() != 1 && bzp->elements() != n)) {
    return fail(op, "shapes " + shapeString(a.shape) + " x " +
                        shapeString(b.shape) + " do not form a product");
  }
  std::vector<int64_t> as = broadcastStrides(ab, ob),
                       bs = broadcastStrides(bb, ob);
  int64_t batch = graph::elementCount(ob);
  result.assign(batch * m * n, 0);
  std::vector<int32_t> wa(m * k), wb(k * n);
  for (int64_t bi = 0; bi < batch; ++bi) {
    int64_t ao = offsetOf(bi, ob, as) * m * k,
            bo = offsetOf(bi, ob, bs) * k * n;
    for (int64_t i = 0; i < m; ++i) {
      int64_t z = azp ? readIndex(*azp, azp->elements() == 1 ? 0 : i) : 0;
      for (int64_t p = 0; p < k; ++p) {
        wa[i * k + p] = static_cast<int32_t>(readIndex(a, ao + i * k + p) - z);
      }
    }
    for (int64_t p = 0; p < k; ++p) {
      for (int64_t j = 0; j < n; ++j) {
        int64_t z = bzp ? readIndex(*bzp, bzp->elements() == 1 ? 0 : j) : 0;
        wb[p * n + j] = static_cast<int32_t>(readIndex(b, bo + p * n + j) - z);
      }
    }
    igemm(m, n, k, wa.data(), wb.data(), result.data() + bi * m * n, false);
  }
  return "";
}

const TensorView *optional(const Inputs &in, size_t i) {
  return in.size() > i && in[i].data ? &in[i] : nullptr;
}

std::string runMatMulInteger(const graph::Op &op, const Inputs &in,
                             const Outputs &out) {
  if (out[0].dtype != DType::I32) {
    return unsupported(op, in, out);
  }
  std::vector<int32_t> r;
  if (std::string e = integerProduct(op, in[0], optional(in, 2), in[1],
                                     optional(in, 3), out[0].shape, r);
      !e.empty()) {
    return e;
  }
  std::memcpy(out[0].data, r.data(), r.size() * sizeof(int32_t));
  return "";
}

std::string runQLinearMatMul(const graph::Op &op, const Inputs &in,
                             const Outputs &out) {
  if (in.size() < 8) {
    return fail(op, "needs a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp");
  }
  for (size_t i : {1, 4, 6}) {
    if (!in[i].data || in[i].elements() != 1 || !graph::isFloat(in[i].dtype)) {
      return fail(op, "only per-tensor scales are supported");
    }
  }
  const TensorView &o = out[0];
  if (o.dtype != DType::U8 && o.dtype != DType::I8) {
    return unsupported(op, in, out);
  }
  std::vector<int32_t> r;
  if (std::string e = integerProduct(op, in[0], optional(in, 2), in[3],
                                     optional(in, 5), o.shape, r);
      !e.empty()) {
    return e;
  }
  // The ONNX reference rescales in fp32: acc * (a_scale * b_scale / y_scale).
  float mult = static_cast<float>(readValue(in[1], 0)) *
               static_cast<float>(readValue(in[4], 0)) /
               static_cast<float>(readValue(in[6], 0));
  double yzp = optional(in, 7) ? static_cast<double>(readIndex(in[7], 0)) : 0.0;
  double lo = o.dtype == DType::U8 ? 0 : -128,
         hi = o.dtype == DType::U8 ? 255 : 127;
  for (size_t i = 0; i < r.size(); ++i) {
    double v =
        std::nearbyint(static_cast<double>(static_cast<float>(r[i]) * mult)) +
        yzp;
    writeValue(o, static_cast<int64_t>(i), std::min(hi, std::max(lo, v)));
  }
  return "";
}

std::string runDynamicQuantize(const graph::Op &op, const Inputs &in,
                               const Outputs &out) {
  if (out.size() != 3 || !graph::isFloat(in[0].dtype) ||
      out[0].dtype != DType::U8 || out[2].dtype != DType::U8) {
    return unsupported(op, in, out);
  }
  const TensorView &x = in[0];
  if (out[0].elements() != x.elements() || out[1].elements() != 1 ||
      out[2].elements() != 1 || !graph::isFloat(out[1].dtype)) {
    return fail(op,
                "outputs must be y (like x), a scalar scale and zero point");
  }
  float lo = 0, hi = 0;
  for (int64_t i = 0; i < x.elements(); ++i) {
    float v = static_cast<float>(readValue(x, i));
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  float scale = (hi - lo) / 255.0f;
  float zpf =
      scale == 0
          ? 0
          : std::nearbyint(std::min(255.0f, std::max(0.0f, -lo / scale)));
  writeValue(out[1], 0, scale);
  out[2].as<uint8_t>()[0] = static_cast<uint8_t>(zpf);
  for (int64_t i = 0; i < x.elements(); ++i) {
    float v = scale == 0
                  ? 0
                  : std::nearbyint(static_cast<float>(readValue(x, i)) / scale);
    out[0].as<uint8_t>()[i] =
        static_cast<uint8_t>(std::min(255.0f, std::max(0.0f, v + zpf)));
  }
  return "";
}

using OnnxKernel = std::string (*)(const graph::Op &, const std::string &,
                                   const Inputs &, const Outputs &);

const std::map<std::string, OnnxKernel> &table() {
  static const std::map<std::string, OnnxKernel> t = [] {
    std::map<std::string, OnnxKernel> m;
    for (const char *a :
         {"LeakyRelu", "Elu", "Selu", "Celu", "HardSigmoid", "HardSwish",
          "Softplus", "Softsign", "Sinh", "Cosh", "Tan", "Asin", "Acos", "Atan",
          "Mish", "ThresholdedRelu"}) {
      m[a] = activation;
    }
    m["IsNaN"] = [](const graph::Op &op, const std::string &, const Inputs &in,
                    const Outputs &out) {
      return runIsNanInf(op, true, in, out);
    };
    m["IsInf"] = [](const graph::Op &op, const std::string &, const Inputs &in,
                    const Outputs &out) {
      return runIsNanInf(op, false, in, out);
    };
    m["PRelu"] = [](const graph::Op &op, const std::string &, const Inputs &in,
                    const Outputs &out) { return runPRelu(op, in, out); };
    m["ArgMax"] = [](const graph::Op &op, const std::string &, const Inputs &in,
                     const Outputs &out) {
      return runArgExtreme(op, true, in, out);
    };
    m["ArgMin"] = [](const graph::Op &op, const std::string &, const Inputs &in,
                     const Outputs &out) {
      return runArgExtreme(op, false, in, out);
    };
    m["TopK"] = [](const graph::Op &op, const std::string &, const Inputs &in,
                   const Outputs &out) { return runTopK(op, in, out); };
    m["CumSum"] = [](const graph::Op &op, const std::string &, const Inputs &in,
                     const Outputs &out) { return runCumSum(op, in, out); };
    m["Pad"] = [](const graph::Op &op, const std::string &, const Inputs &in,
                  const Outputs &out) { return runPad(op, in, out); };
    m["Einsum"] = [](const graph::Op &op, const std::string &, const Inputs &in,
                     const Outputs &out) { return runEinsum(op, in, out); };
    m["GatherElements"] = [](const graph::Op &op, const std::string &,
                             const Inputs &in, const Outputs &out) {
      return runGatherElements(op, in, out);
    };
    m["GatherND"] = [](const graph::Op &op, const std::string &,
                       const Inputs &in,
                       const Outputs &out) { return runGatherND(op, in, out); };
    m["ScatterElements"] = [](const graph::Op &op, const std::string &,
                              const Inputs &in, const Outputs &out) {
      return runScatterElements(op, in, out);
    };
    m["OneHot"] = [](const graph::Op &op, const std::string &, const Inputs &in,
                     const Outputs &out) { return runOneHot(op, in, out); };
    m["InstanceNormalization"] = [](const graph::Op &op, const std::string &,
                                    const Inputs &in, const Outputs &out) {
      return runChannelNorm(op, true, in, out);
    };
    m["BatchNormalization"] = [](const graph::Op &op, const std::string &,
                                 const Inputs &in, const Outputs &out) {
      return runChannelNorm(op, false, in, out);
    };
    m["LRN"] = [](const graph::Op &op, const std::string &, const Inputs &in,
                  const Outputs &out) { return runLrn(op, in, out); };
    for (const char *r : {"ReduceL1", "ReduceL2", "ReduceLogSum",
                          "ReduceLogSumExp", "ReduceSumSquare"}) {
      m[r] = runReduceOnnx;
    }
    m["MatMulInteger"] = [](const graph::Op &op, const std::string &,
                            const Inputs &in, const Outputs &out) {
      return runMatMulInteger(op, in, out);
    };
    m["QLinearMatMul"] = [](const graph::Op &op, const std::string &,
                            const Inputs &in, const Outputs &out) {
      return runQLinearMatMul(op, in, out);
    };
    m["DynamicQuantizeLinear"] = [](const graph::Op &op, const std::string &,
                                    const Inputs &in, const Outputs &out) {
      return runDynamicQuantize(op, in, out);
    };
    return m;
  }();
  return t;
}

/// Inputs that must be present (non-null) and the number of outputs.
struct Arity {
  size_t inputs, outputs;
};
Arity arityOf(const std::string &t) {
  static const std::map<std::string, Arity> kArity = {
      {"PRelu", {2, 1}},
      {"TopK", {2, 2}},
      {"CumSum", {2, 1}},
      {"GatherElements", {2, 1}},
      {"GatherND", {2, 1}},
      {"ScatterElements", {3, 1}},
      {"OneHot", {3, 1}},
      {"InstanceNormalization", {3, 1}},
      {"BatchNormalization", {5, 1}},
      {"MatMulInteger", {2, 1}},
      {"QLinearMatMul", {8, 1}},
      {"DynamicQuantizeLinear", {1, 3}}};
  auto it = kArity.find(t);
  return it == kArity.end() ? Arity{1, 1} : it->second;
}

} // namespace

bool hasOnnxKernel(const std::string &opType) {
  return table().count(opType) != 0;
}

std::string runOnnxOp(const graph::Op &op, const Inputs &in,
                      const Outputs &out) {
  std::string type = op.getString("op_type", "");
  std::string domain = op.getString("domain", "");
  auto it = table().find(type);
  if (it == table().end() || (!domain.empty() && domain != "ai.onnx")) {
    return fail(op, "no CPU kernel for ONNX op '" +
                        (domain.empty() ? "" : domain + "::") + type + "'");
  }
  Arity arity = arityOf(type);
  // Einsum takes any number of operands, all of them required.
  size_t required = type == "Einsum" ? in.size() : arity.inputs;
  // QLinearMatMul's zero points (inputs 2, 5, 7) may be absent.
  auto optionalInput = [&](size_t i) {
    return type == "QLinearMatMul" && (i == 2 || i == 5 || i == 7);
  };
  if (in.size() < required || in.empty() || out.size() < arity.outputs) {
    return fail(op, "needs " + std::to_string(required) + " inputs and " +
                        std::to_string(arity.outputs) + " outputs");
  }
  for (size_t i = 0; i < required; ++i) {
    if (!in[i].data && in[i].elements() != 0 && !optionalInput(i)) {
      return fail(op, "input " + std::to_string(i) + " is missing");
    }
  }
  for (const TensorView &t : out) {
    if (!t.data && t.elements() != 0) {
      return fail(op, "output has no buffer");
    }
  }
  return it->second(op, type, in, out);
}

} // namespace nuri::cpu::detail
