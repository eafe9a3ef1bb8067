//===- Linalg.cpp - matmul, linear, conv and attention --------------------===//
//
// Float products run on the packed fp32 GEMM (fp16/bf16 staged to fp32 and
// rounded once on store, DESIGN.md). int8/uint8/int32 operands widen to
// int32 and accumulate in int32 with wrap-around, as the NPU's int32
// accumulators do. f64 and i64 use a plain loop in their own type.
//
//===----------------------------------------------------------------------===//

#include "GemmInternal.h"
#include "Internal.h"
#include "Vector.h"

#include "nuri/cpu/Gemm.h"

#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace nuri::cpu::detail {
namespace {

bool isIntGemmInput(DType t) {
  return t == DType::I8 || t == DType::U8 || t == DType::I32;
}

/// Widens a (possibly transposed) [rows, cols] matrix to row-major int32.
void widen(const TensorView &t, int64_t offset, int64_t rows, int64_t cols,
           bool transposed, int32_t *dst) {
  auto typed = [&](auto tag) {
    using T = decltype(tag);
    const T *src = t.as<const T>() + offset;
    parallelRange(rows, std::max<int64_t>(1, kParallelGrain / (cols + 1)),
                  [&](int64_t rb, int64_t re) {
                    for (int64_t r = rb; r < re; ++r) {
                      for (int64_t c = 0; c < cols; ++c) {
                        dst[r * cols + c] = static_cast<int32_t>(
                            transposed ? src[c * rows + r] : src[r * cols + c]);
                      }
                    }
                  });
  };
  switch (t.dtype) {
  case DType::I8:
    typed(int8_t{});
    break;
  case DType::U8:
    typed(uint8_t{});
    break;
  default:
    typed(int32_t{});
    break;
  }
}

/// 8-bit operands widen straight to fp32 for the exact sliced fp32 GEMM.
bool is8Bit(DType t) { return t == DType::I8 || t == DType::U8; }
int64_t maxMagnitude(DType t) { return t == DType::U8 ? 255 : 128; }

void widenF(const TensorView &t, int64_t offset, int64_t rows, int64_t cols,
            bool transposed, float *dst) {
  auto typed = [&](auto tag) {
    using T = decltype(tag);
    const T *src = t.as<const T>() + offset;
    parallelRange(rows, std::max<int64_t>(1, kParallelGrain / (cols + 1)),
                  [&](int64_t rb, int64_t re) {
                    for (int64_t r = rb; r < re; ++r) {
                      for (int64_t c = 0; c < cols; ++c) {
                        dst[r * cols + c] = static_cast<float>(
                            transposed ? src[c * rows + r] : src[r * cols + c]);
                      }
                    }
                  });
  };
  t.dtype == DType::U8 ? typed(uint8_t{}) : typed(int8_t{});
}

template <typename T>
void naiveGemm(int64_t m, int64_t n, int64_t k, const T *a, bool ta, const T *b,
               bool tb, T *c) {
  tbb::parallel_for(int64_t(0), m, [&](int64_t i) {
    for (int64_t j = 0; j < n; ++j) {
      T acc = 0;
      for (int64_t p = 0; p < k; ++p) {
        T x = ta ? a[p * m + i] : a[i * k + p];
        T y = tb ? b[j * k + p] : b[p * n + j];
        if constexpr (std::is_integral_v<T>) {
          acc = static_cast<T>(static_cast<uint64_t>(acc) +
                               static_cast<uint64_t>(x) *
                                   static_cast<uint64_t>(y));
        } else {
          acc += x * y;
        }
      }
      c[i * n + j] = acc;
    }
  });
}

/// A constant float weight (k x n, or n x k when transposed) packed for the
/// GEMM: from the cache when it was packed before, else packed now and kept.
/// Null without a cache or for inputs that are not constants.
std::shared_ptr<const PackedMatrix> cachedPack(KernelCache *cache,
                                               const TensorView &w, int64_t k,
                                               int64_t n, bool transposed) {
  if (!cache || !cache->impl || !w.constant || !w.data ||
      !(w.dtype == DType::F32 || isHalfLike(w.dtype))) {
    return nullptr;
  }
  KernelCache::Impl &c = *cache->impl;
  std::lock_guard<std::mutex> lock(c.mutex);
  if (c.packed && c.key == w.data && c.dtype == w.dtype && c.k == k &&
      c.n == n && c.transposed == transposed) {
    return c.packed;
  }
  std::shared_ptr<const PackedMatrix> packed;
  PackPool::Key key{w.data, w.dtype, k, n, transposed};
  if (c.pool) {
    std::lock_guard<std::mutex> poolLock(c.pool->mutex);
    auto it = c.pool->packs.find(key);
    if (it != c.pool->packs.end()) {
      packed = it->second;
    }
  }
  if (!packed) {
    // Isolated: while this thread waits for the packing tasks it must not
    // pick up another run's task that would take this same lock.
    tbb::this_task_arena::isolate([&] {
      F32Buffer f = toF32(w);
      MatrixRef b{f.ptr, transposed ? 1 : n, transposed ? k : 1};
      packed = std::make_shared<const PackedMatrix>(
          packMatrixB(k, n, b, w.dtype == DType::BF16));
    });
    if (c.pool) {
      std::lock_guard<std::mutex> poolLock(c.pool->mutex);
      packed = c.pool->packs.emplace(key, packed).first->second;
    }
  }
  c.key = w.data;
  c.dtype = w.dtype;
  c.k = k;
  c.n = n;
  c.transposed = transposed;
  c.packed = packed;
  return packed;
}

std::string runMatmul(const graph::Op &op, const Inputs &in, const Outputs &out,
                      KernelCache *cache) {
  const TensorView &l = in[0], &r = in[1], &o = out[0];
  bool tl = op.getInt("transpose_lhs", 0) != 0;
  bool tr = op.getInt("transpose_rhs", 0) != 0;
  if (l.shape.size() < 2 || r.shape.size() < 2 || o.shape.size() < 2) {
    return fail(op, "operands need rank >= 2");
  }
  size_t lr = l.shape.size(), rr = r.shape.size(), orank = o.shape.size();
  int64_t m = tl ? l.shape[lr - 1] : l.shape[lr - 2];
  int64_t k = tl ? l.shape[lr - 2] : l.shape[lr - 1];
  int64_t k2 = tr ? r.shape[rr - 1] : r.shape[rr - 2];
  int64_t n = tr ? r.shape[rr - 2] : r.shape[rr - 1];
  std::vector<int64_t> lb(l.shape.begin(), l.shape.end() - 2),
      rb(r.shape.begin(), r.shape.end() - 2),
      ob(o.shape.begin(), o.shape.end() - 2);
  if (k != k2 || o.shape[orank - 2] != m || o.shape[orank - 1] != n ||
      !broadcastable(lb, ob) || !broadcastable(rb, ob)) {
    return fail(op, "shapes " + shapeString(l.shape) + " x " +
                        shapeString(r.shape) + " -> " + shapeString(o.shape) +
                        " do not form a matrix product");
  }
  std::vector<int64_t> ls = broadcastStrides(lb, ob),
                       rs = broadcastStrides(rb, ob);
  int64_t batch = graph::elementCount(ob);
  auto lOff = [&](int64_t bi) { return offsetOf(bi, ob, ls) * m * k; };
  auto rOff = [&](int64_t bi) { return offsetOf(bi, ob, rs) * k * n; };

  if (isIntGemmInput(l.dtype) && isIntGemmInput(r.dtype) &&
      o.dtype == DType::I32) {
    if (is8Bit(l.dtype) && is8Bit(r.dtype)) {
      std::vector<float> a(m * k), bm(k * n);
      int64_t maxProduct = maxMagnitude(l.dtype) * maxMagnitude(r.dtype);
      for (int64_t bi = 0; bi < batch; ++bi) {
        widenF(l, lOff(bi), m, k, tl, a.data());
        widenF(r, rOff(bi), k, n, tr, bm.data());
        igemmExactF32(m, n, k, a.data(), bm.data(), maxProduct,
                      o.as<int32_t>() + bi * m * n, false);
      }
      return "";
    }
    std::vector<int32_t> a(m * k), bm(k * n);
    for (int64_t bi = 0; bi < batch; ++bi) {
      widen(l, lOff(bi), m, k, tl, a.data());
      widen(r, rOff(bi), k, n, tr, bm.data());
      igemm(m, n, k, a.data(), bm.data(), o.as<int32_t>() + bi * m * n, false);
    }
    return "";
  }
  // Narrow floats (f16, bf16, fp8) may also produce a wider float result
  // (bf16 x bf16 -> f32 is the NPU's accumulate-and-keep form).
  bool narrowFloat = l.dtype == r.dtype && (isHalfLike(l.dtype)) &&
                     (o.dtype == DType::F32 || isHalfLike(o.dtype));
  if (l.dtype != r.dtype || (o.dtype != l.dtype && !narrowFloat)) {
    return unsupported(op, in, out);
  }
  if (l.dtype == DType::F64 || l.dtype == DType::I64) {
    auto run = [&](auto tag) {
      using T = decltype(tag);
      for (int64_t bi = 0; bi < batch; ++bi) {
        naiveGemm<T>(m, n, k, l.as<const T>() + lOff(bi), tl,
                     r.as<const T>() + rOff(bi), tr, o.as<T>() + bi * m * n);
      }
    };
    l.dtype == DType::F64 ? run(double{}) : run(int64_t{});
    return "";
  }
  if (l.dtype != DType::F32 && !isHalfLike(l.dtype)) {
    return unsupported(op, in, out);
  }
  // A constant 2-D rhs (a weight shared by every batch) is packed once.
  std::shared_ptr<const PackedMatrix> packed =
      rr == 2 ? cachedPack(cache, r, k, n, tr) : nullptr;
  F32Buffer fa = toF32(l), fb;
  if (!packed) {
    fb = toF32(r);
  }
  F32Out fo(o);
  auto one = [&](int64_t bi, bool parallel) {
    MatrixRef a{fa.ptr + lOff(bi), tl ? 1 : k, tl ? m : 1};
    if (packed) {
      sgemmPrepacked(m, n, k, a, MatrixRef{}, *packed, fo.ptr + bi * m * n, n,
                     false, parallel);
      return;
    }
    MatrixRef b{fb.ptr + rOff(bi), tr ? 1 : n, tr ? k : 1};
    sgemm(m, n, k, a, b, fo.ptr + bi * m * n, n, false, parallel);
  };
  // Many small products (attention scores): one task per matrix.
  if (batch > 1 && 2.0 * m * n * k < 3e7) {
    tbb::parallel_for(int64_t(0), batch, [&](int64_t bi) { one(bi, false); });
  } else {
    for (int64_t bi = 0; bi < batch; ++bi) {
      one(bi, true);
    }
  }
  fo.finish();
  return "";
}

std::string runLinear(const graph::Op &op, const Inputs &in, const Outputs &out,
                      KernelCache *cache) {
  const TensorView &x = in[0], &w = in[1], &o = out[0];
  const TensorView *bias = in.size() > 2 && in[2].data ? &in[2] : nullptr;
  if (w.shape.size() != 2 || x.shape.empty()) {
    return fail(op, "weight must be [in, out], input rank >= 1");
  }
  int64_t k = w.shape[0], n = w.shape[1];
  std::vector<int64_t> expect = x.shape;
  expect.back() = n;
  if (x.shape.back() != k || o.shape != expect ||
      (bias && bias->elements() != n)) {
    return fail(op, "shapes " + shapeString(x.shape) + " x " +
                        shapeString(w.shape) + " -> " + shapeString(o.shape) +
                        " do not form a dense layer");
  }
  int64_t m = k ? x.elements() / k
                : graph::elementCount(expect) / std::max<int64_t>(n, 1);
  if (isIntGemmInput(x.dtype) && isIntGemmInput(w.dtype) &&
      o.dtype == DType::I32) {
    if (bias && !isIntegerIndex(bias->dtype)) {
      return unsupported(op, in, out);
    }
    int32_t *c = o.as<int32_t>();
    for (int64_t i = 0; bias && i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        c[i * n + j] = static_cast<int32_t>(readIndex(*bias, j));
      }
    }
    if (is8Bit(x.dtype) && is8Bit(w.dtype)) {
      std::vector<float> a(m * k), b(k * n);
      widenF(x, 0, m, k, false, a.data());
      widenF(w, 0, k, n, false, b.data());
      igemmExactF32(m, n, k, a.data(), b.data(),
                    maxMagnitude(x.dtype) * maxMagnitude(w.dtype), c,
                    bias != nullptr);
      return "";
    }
    std::vector<int32_t> a(m * k), b(k * n);
    widen(x, 0, m, k, false, a.data());
    widen(w, 0, k, n, false, b.data());
    igemm(m, n, k, a.data(), b.data(), c, bias != nullptr);
    return "";
  }
  bool outOk =
      o.dtype == x.dtype ||
      (isHalfLike(x.dtype) && (o.dtype == DType::F32 || isHalfLike(o.dtype)));
  bool floatOk = (x.dtype == DType::F32 || isHalfLike(x.dtype)) &&
                 w.dtype == x.dtype && outOk &&
                 (!bias || graph::isFloat(bias->dtype));
  if (!floatOk) {
    return unsupported(op, in, out);
  }
  std::shared_ptr<const PackedMatrix> packed =
      cachedPack(cache, w, k, n, false);
  F32Buffer fx = toF32(x), fw;
  if (!packed) {
    fw = toF32(w);
  }
  F32Out fo(o);
  if (bias) {
    F32Buffer fbias = toF32(*bias);
    for (int64_t i = 0; i < m; ++i) {
      std::copy(fbias.ptr, fbias.ptr + n, fo.ptr + i * n);
    }
  }
  if (packed) {
    sgemmPrepacked(m, n, k, MatrixRef{fx.ptr, k, 1}, MatrixRef{}, *packed,
                   fo.ptr, n, bias != nullptr, true);
  } else {
    sgemm(m, n, k, MatrixRef{fx.ptr, k, 1}, MatrixRef{fw.ptr, n, 1}, fo.ptr, n,
          bias != nullptr, true);
  }
  fo.finish();
  return "";
}

std::string runConv(const graph::Op &op, const Inputs &in, const Outputs &out) {
  const TensorView &x = in[0], &w = in[1], &o = out[0];
  const TensorView *bias = in.size() > 2 && in[2].data ? &in[2] : nullptr;
  size_t rank = x.shape.size();
  if ((rank != 3 && rank != 4) || w.shape.size() != rank ||
      o.shape.size() != rank) {
    return fail(op, "conv needs NCW or NCHW input and matching weight");
  }
  if (!(x.dtype == DType::F32 || isHalfLike(x.dtype)) || w.dtype != x.dtype ||
      o.dtype != x.dtype || (bias && bias->dtype != x.dtype)) {
    return unsupported(op, in, out);
  }
  size_t sp = rank - 2;
  std::vector<int64_t> strides = op.getInts("strides"),
                       pads = op.getInts("pads"), dil = op.getInts("dilations");
  if (strides.empty()) {
    strides.assign(sp, 1);
  }
  if (pads.empty()) {
    pads.assign(2 * sp, 0);
  }
  if (dil.empty()) {
    dil.assign(sp, 1);
  }
  int64_t group = op.getInt("group", 1);
  if (strides.size() != sp || pads.size() != 2 * sp || dil.size() != sp ||
      group <= 0) {
    return fail(op, "strides/pads/dilations/group do not fit the rank");
  }
  // 1-D is 2-D with a height of 1.
  int64_t nb = x.shape[0], c = x.shape[1];
  int64_t ih = sp == 2 ? x.shape[2] : 1, iw = x.shape.back();
  int64_t f = w.shape[0], cg = w.shape[1];
  int64_t kh = sp == 2 ? w.shape[2] : 1, kw = w.shape.back();
  int64_t sh = sp == 2 ? strides[0] : 1, sw = strides.back();
  int64_t dh = sp == 2 ? dil[0] : 1, dw = dil.back();
  int64_t pt = sp == 2 ? pads[0] : 0, pl = sp == 2 ? pads[1] : pads[0];
  int64_t pb = sp == 2 ? pads[2] : 0, pr = sp == 2 ? pads[3] : pads[1];
  int64_t oh = (ih + pt + pb - dh * (kh - 1) - 1) / sh + 1;
  int64_t ow = (iw + pl + pr - dw * (kw - 1) - 1) / sw + 1;
  std::vector<int64_t> expect = {nb, f};
  if (sp == 2) {
    expect.push_back(oh);
  }
  expect.push_back(ow);
  if (c % group || f % group || cg != c / group || o.shape != expect ||
      (bias && bias->elements() != f) || sh <= 0 || sw <= 0 || dh <= 0 ||
      dw <= 0) {
    return fail(op, "input " + shapeString(x.shape) + ", weight " +
                        shapeString(w.shape) + " and output " +
                        shapeString(o.shape) + " do not match");
  }
  F32Buffer fx = toF32(x), fw = toF32(w);
  F32Buffer fbias;
  if (bias) {
    fbias = toF32(*bias);
  }
  F32Out fo(o);
  int64_t rows = cg * kh * kw, cols = oh * ow, fg = f / group;
  bool direct = kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 &&
                pl == 0 && pb == 0 && pr == 0;
  std::vector<float> col(direct ? 0 : rows * cols);
  for (int64_t b = 0; b < nb; ++b) {
    for (int64_t g = 0; g < group; ++g) {
      const float *src = fx.ptr + (b * c + g * cg) * ih * iw;
      if (!direct) {
        parallelRange(rows, 1, [&](int64_t rb, int64_t re) {
          for (int64_t r = rb; r < re; ++r) {
            int64_t ci = r / (kh * kw), ky = (r / kw) % kh, kx = r % kw;
            float *dst = col.data() + r * cols;
            for (int64_t y = 0; y < oh; ++y) {
              int64_t iy = y * sh - pt + ky * dh;
              for (int64_t xo = 0; xo < ow; ++xo) {
                int64_t ix = xo * sw - pl + kx * dw;
                dst[y * ow + xo] = (iy < 0 || iy >= ih || ix < 0 || ix >= iw)
                                       ? 0.0f
                                       : src[(ci * ih + iy) * iw + ix];
              }
            }
          }
        });
      }
      float *dst = fo.ptr + (b * f + g * fg) * cols;
      if (bias) {
        for (int64_t fi = 0; fi < fg; ++fi) {
          std::fill(dst + fi * cols, dst + (fi + 1) * cols,
                    fbias.ptr[g * fg + fi]);
        }
      }
      sgemm(fg, cols, rows, MatrixRef{fw.ptr + g * fg * rows, rows, 1},
            MatrixRef{direct ? src : col.data(), cols, 1}, dst, cols,
            bias != nullptr, true);
    }
  }
  fo.finish();
  return "";
}

// --- Attention ---------------------------------------------------------------

/// Reused per-thread float buffers (uninitialized, grown on demand).
class AttentionScratch {
public:
  float *get(int slot, int64_t floats) {
    Slot &b = slots_[slot];
    if (floats > b.capacity) {
      b.data.reset(new float[static_cast<size_t>(floats)]);
      b.capacity = floats;
    }
    return b.data.get();
  }

private:
  struct Slot {
    std::unique_ptr<float[]> data;
    int64_t capacity = 0;
  };
  Slot slots_[5];
};

constexpr int64_t kQueryBlock = 64;
constexpr int64_t kKeyBlock = 256;

/// Where batch row b's keys and values for kv head h start: row
/// `(slot(b) * Hkv + h) * rowsPerHead` of K and V viewed as [rows, D]. Plain
/// attention has slot(b) = b and rowsPerHead = Skv; attention over a KV
/// cache reads the first Skv of max_seq rows of the row's cache slot.
struct KvRows {
  const int64_t *slots = nullptr; ///< null: slot(b) = b
  int64_t rowsPerHead = 0;
  int64_t first(int64_t b, int64_t hkv, int64_t h) const {
    return ((slots ? slots[b] : b) * hkv + h) * rowsPerHead;
  }
};

std::string attentionCore(const graph::Op &op, const TensorView &q,
                          const TensorView &k, const TensorView &v,
                          const TensorView *mask, const TensorView &o,
                          int64_t skv, const KvRows &rows);

std::string runAttention(const graph::Op &op, const Inputs &in,
                         const Outputs &out) {
  if (in.size() < 3 || (!in[2].data && in[2].elements() != 0)) {
    return fail(op, "needs query, key and value");
  }
  const TensorView &q = in[0], &k = in[1], &v = in[2], &o = out[0];
  const TensorView *mask = in.size() > 3 && in[3].data ? &in[3] : nullptr;
  if (q.shape.size() != 4 || k.shape.size() != 4 || v.shape.size() != 4) {
    return fail(op, "query, key and value must be [B, H, S, D]");
  }
  int64_t bn = q.shape[0], hq = q.shape[1], sq = q.shape[2], d = q.shape[3];
  int64_t hkv = k.shape[1], skv = k.shape[2], dv = v.shape[3];
  std::vector<int64_t> scoreShape = {bn, hq, sq, skv};
  if (k.shape[0] != bn || v.shape[0] != bn || k.shape[3] != d ||
      v.shape[1] != hkv || v.shape[2] != skv || hkv <= 0 || hq % hkv != 0 ||
      o.shape != std::vector<int64_t>{bn, hq, sq, dv} ||
      (mask && !broadcastable(mask->shape, scoreShape))) {
    return fail(op, "query " + shapeString(q.shape) + ", key " +
                        shapeString(k.shape) + ", value " +
                        shapeString(v.shape) +
                        (mask ? ", mask " + shapeString(mask->shape) : "") +
                        " -> " + shapeString(o.shape) + " do not match");
  }
  return attentionCore(op, q, k, v, mask, o, skv, KvRows{nullptr, skv});
}

std::string runCacheAttention(const graph::Op &op, const Inputs &in,
                              const Outputs &out) {
  if (in.size() < 4 || !in[2].data || !in[3].data) {
    return fail(op, "needs query, key cache, value cache and slots");
  }
  const TensorView &q = in[0], &k = in[1], &v = in[2], &s = in[3], &o = out[0];
  const TensorView *mask = in.size() > 4 && in[4].data ? &in[4] : nullptr;
  if (q.shape.size() != 4 || k.shape.size() != 4 || v.shape.size() != 4) {
    return fail(op, "query and caches must be rank 4");
  }
  int64_t bn = q.shape[0], hq = q.shape[1], sq = q.shape[2], d = q.shape[3];
  int64_t slots = k.shape[0], hkv = k.shape[1], maxSeq = k.shape[2];
  int64_t dv = v.shape[3];
  int64_t context = op.getInt("context_length", 0);
  std::vector<int64_t> scoreShape = {bn, hq, sq, context};
  if (v.shape[0] != slots || v.shape[1] != hkv || v.shape[2] != maxSeq ||
      k.shape[3] != d || hkv <= 0 || hq % hkv != 0 || context < 1 ||
      context > maxSeq || s.shape != std::vector<int64_t>{bn} ||
      o.shape != std::vector<int64_t>{bn, hq, sq, dv} ||
      (mask && !broadcastable(mask->shape, scoreShape))) {
    return fail(op, "query " + shapeString(q.shape) + ", key cache " +
                        shapeString(k.shape) + ", value cache " +
                        shapeString(v.shape) + ", slots " +
                        shapeString(s.shape) + ", context " +
                        std::to_string(context) +
                        (mask ? ", mask " + shapeString(mask->shape) : "") +
                        " -> " + shapeString(o.shape) + " do not match");
  }
  std::vector<int64_t> slotIds;
  std::string bad = readSlots(op, s, slots, slotIds);
  if (!bad.empty()) {
    return bad;
  }
  return attentionCore(op, q, k, v, mask, o, context,
                       KvRows{slotIds.data(), maxSeq});
}

/// scores[j] = dot(q, k[j]) for a head's keys [skv, d] in place.
__attribute__((target_clones("avx512f", "avx2", "default"))) void
dotRows(const float *q, const float *k, int64_t skv, int64_t d, float *scores) {
  for (int64_t j = 0; j < skv; ++j) {
    const float *kj = k + j * d;
    float s = 0.0f;
    for (int64_t c = 0; c < d; ++c) {
      s += q[c] * kj[c];
    }
    scores[j] = s;
  }
}

/// out += sum_j p[j] * v[j] over a head's values [skv, dv].
__attribute__((target_clones("avx512f", "avx2", "default"))) void
weightedRows(const float *p, const float *v, int64_t skv, int64_t dv,
             float *out) {
  for (int64_t j = 0; j < skv; ++j) {
    const float *vj = v + j * dv;
    float pj = p[j];
    for (int64_t c = 0; c < dv; ++c) {
      out[c] += pj * vj[c];
    }
  }
}

std::string attentionCore(const graph::Op &op, const TensorView &q,
                          const TensorView &k, const TensorView &v,
                          const TensorView *mask, const TensorView &o,
                          int64_t skv, const KvRows &rows) {
  int64_t bn = q.shape[0], hq = q.shape[1], sq = q.shape[2], d = q.shape[3];
  int64_t hkv = k.shape[1], dv = v.shape[3];
  std::vector<int64_t> scoreShape = {bn, hq, sq, skv};
  bool floats = graph::isFloat(q.dtype) && k.dtype == q.dtype &&
                v.dtype == q.dtype && o.dtype == q.dtype;
  bool maskOk =
      !mask || mask->dtype == DType::Bool || graph::isFloat(mask->dtype);
  if (!floats || !maskOk) {
    return unsupported(op, Inputs{q, k, v}, Outputs{o});
  }
  float scale =
      static_cast<float>(op.getFloat("scale", 1.0 / std::sqrt(double(d))));
  bool causal = op.getInt("causal", 0) != 0;
  F32Buffer fq = toF32(q), fk, fv, fm;
  // An fp32 cache is read in place. A narrow one (a chip's bf16 cache on
  // the CPU) is widened only where this call reads it, the context prefix
  // of each sequence's slot, into [batch, kv heads, skv] rows: widening the
  // whole [slots, heads, max_seq] buffer cost a decode step more than the
  // attention itself.
  // A decode step (sq == 1) widens each head's rows in its own task instead.
  KvRows used = rows;
  bool narrow = k.dtype != DType::F32;
  if (!narrow) {
    fk = toF32(k);
    fv = toF32(v);
  } else if (sq != 1) {
    fk.storage.resize(size_t(bn * hkv * skv * d));
    fv.storage.resize(size_t(bn * hkv * skv * dv));
    size_t width = graph::dtypeSize(k.dtype);
    tbb::parallel_for(int64_t(0), bn * hkv, [&](int64_t head) {
      int64_t row = rows.first(head / hkv, hkv, head % hkv);
      loadF32(k.dtype, static_cast<const char *>(k.data) + row * d * width,
              fk.storage.data() + head * skv * d, skv * d);
      loadF32(v.dtype, static_cast<const char *>(v.data) + row * dv * width,
              fv.storage.data() + head * skv * dv, skv * dv);
    });
    fk.ptr = fk.storage.data();
    fv.ptr = fv.storage.data();
    used = KvRows{nullptr, skv};
  }
  const uint8_t *boolMask = nullptr;
  if (mask) {
    if (mask->dtype == DType::Bool) {
      boolMask = mask->as<const uint8_t>();
    } else {
      fm = toF32(*mask);
    }
  }
  std::vector<int64_t> ms = mask ? broadcastStrides(mask->shape, scoreShape)
                                 : std::vector<int64_t>(4, 0);
  F32Out fo(o);
  int64_t group = hq / hkv;
  int64_t qBlocks = (sq + kQueryBlock - 1) / kQueryBlock;
  int64_t kBlocks = (skv + kKeyBlock - 1) / kKeyBlock;
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  // A float mask row that is contiguous along keys is added with one vector
  // pass; a broadcast or bool mask goes element by element.
  bool rowMask = mask && !boolMask && ms[3] == 1;
  // Scales query row i's scores for keys [j0, j0 + bc), adds its mask and
  // hides what causality hides.
  auto maskRow = [&](float *row, int64_t bc, int64_t b, int64_t h, int64_t i,
                     int64_t j0) {
    int64_t mbase = b * ms[0] + h * ms[1] + i * ms[2];
    if (rowMask) {
      scaleAddRow(row, bc, scale, fm.ptr + mbase + j0);
    } else {
      scaleAddRow(row, bc, scale, nullptr);
      if (mask) {
        for (int64_t j = 0; j < bc; ++j) {
          int64_t mo = mbase + (j0 + j) * ms[3];
          if (boolMask) {
            row[j] = boolMask[mo] ? row[j] : kNegInf;
          } else {
            row[j] += fm.ptr[mo];
          }
        }
      }
    }
    if (causal) {
      // Keys past i + skv - sq are hidden.
      int64_t visible = std::clamp<int64_t>(i + skv - sq + 1 - j0, 0, bc);
      std::fill(row + visible, row + bc, kNegInf);
    }
  };

  if (sq == 1) {
    // A decode step: one query per head reads each key and value once, so
    // the scores, softmax and weighted sum run straight over the context
    // (widened into this thread's scratch when the cache is narrow), with
    // no packing and no query blocks. One task per kv head serves its
    // group of query heads.
    tbb::parallel_for(int64_t(0), bn * hkv, [&](int64_t head) {
      int64_t b = head / hkv, hk = head % hkv;
      thread_local AttentionScratch decodeScratch;
      const float *kp, *vp;
      int64_t first = used.first(b, hkv, hk);
      if (narrow) {
        size_t width = graph::dtypeSize(k.dtype);
        float *kw = decodeScratch.get(1, skv * d);
        float *vw = decodeScratch.get(2, skv * dv);
        loadF32(k.dtype, static_cast<const char *>(k.data) + first * d * width,
                kw, skv * d);
        loadF32(v.dtype, static_cast<const char *>(v.data) + first * dv * width,
                vw, skv * dv);
        kp = kw;
        vp = vw;
      } else {
        kp = fk.ptr + first * d;
        vp = fv.ptr + first * dv;
      }
      float *row = decodeScratch.get(0, skv);
      for (int64_t h = hk * group; h < (hk + 1) * group; ++h) {
        dotRows(fq.ptr + (b * hq + h) * d, kp, skv, d, row);
        maskRow(row, skv, b, h, 0, 0);
        float *out = fo.ptr + (b * hq + h) * dv;
        std::fill(out, out + dv, 0.0f);
        float m = rowMax(row, skv);
        float sum = m == kNegInf ? 0.0f : expShiftSum(row, skv, m);
        if (sum == 0.0f) {
          // No key visible: 0 / 0, as the naive formula gives.
          std::fill(out, out + dv, std::numeric_limits<float>::quiet_NaN());
          continue;
        }
        weightedRows(row, vp, skv, dv, out);
        float inv = 1.0f / sum;
        for (int64_t c = 0; c < dv; ++c) {
          out[c] *= inv;
        }
      }
    });
    fo.finish();
    return "";
  }

  // Keys (as K^T blocks) and values are packed once per kv head and key
  // block, then shared by every query block and every query head of the
  // group. Head dims above one GEMM K block take the unpacked path.
  bool packed = d <= kMaxPackedK;
  int64_t kbFloats = packed ? packedBSize(d, kKeyBlock) : 0;
  int64_t vbFloats = packed ? packedBSize(kKeyBlock, dv) : 0;
  // Packed keys and values live in this thread's reused scratch (packing
  // writes every float that is read, padding included), so no call pays
  // for fresh zeroed pages: at seq 128 that allocation cost more than the
  // attention itself.
  thread_local AttentionScratch kvScratch;
  float *kPack =
      packed ? kvScratch.get(0, bn * hkv * kBlocks * kbFloats) : nullptr;
  float *vPack =
      packed ? kvScratch.get(1, bn * hkv * kBlocks * vbFloats) : nullptr;
  if (packed) {
    tbb::parallel_for(int64_t(0), bn * hkv * kBlocks, [&](int64_t t) {
      int64_t head = t / kBlocks, j0 = (t % kBlocks) * kKeyBlock;
      int64_t bc = std::min(kKeyBlock, skv - j0);
      int64_t row = used.first(head / hkv, hkv, head % hkv) + j0;
      const float *kp = fk.ptr + row * d;
      const float *vp = fv.ptr + row * dv;
      packB(MatrixRef{kp, 1, d}, d, bc, kPack + t * kbFloats);
      packB(MatrixRef{vp, dv, 1}, bc, dv, vPack + t * vbFloats);
    });
  }

  tbb::parallel_for(int64_t(0), bn * hq * qBlocks, [&](int64_t t) {
    int64_t b = t / (hq * qBlocks), h = (t / qBlocks) % hq;
    int64_t i0 = (t % qBlocks) * kQueryBlock;
    int64_t br = std::min(kQueryBlock, sq - i0);
    int64_t hk = h / group, kvHead = b * hkv + hk;
    const float *qp = fq.ptr + ((b * hq + h) * sq + i0) * d;
    const float *kp = fk.ptr + used.first(b, hkv, hk) * d;
    const float *vp = fv.ptr + used.first(b, hkv, hk) * dv;
    float *op_ = fo.ptr + ((b * hq + h) * sq + i0) * dv;
    // Per-thread reused scratch: this body spawns no tasks, so a thread
    // never re-enters it while the buffers are in use.
    thread_local AttentionScratch taskScratch;
    float *sBuf = taskScratch.get(0, br * kKeyBlock);
    float *accBuf = taskScratch.get(1, br * dv);
    float *mx = taskScratch.get(2, 2 * br), *sum = mx + br;
    std::fill(accBuf, accBuf + br * dv, 0.0f);
    std::fill(mx, mx + br, kNegInf);
    std::fill(sum, sum + br, 0.0f);
    float *qPack = nullptr, *pPack = nullptr;
    if (packed) {
      qPack = taskScratch.get(3, packedASize(br, d));
      pPack = taskScratch.get(4, packedASize(br, kKeyBlock));
      packA(MatrixRef{qp, d, 1}, br, d, qPack);
    }
    // Causal: the last key any row of this block may see.
    int64_t jLimit = causal ? std::min(skv, i0 + br + skv - sq) : skv;
    for (int64_t j0 = 0; j0 < jLimit; j0 += kKeyBlock) {
      int64_t bc = std::min(kKeyBlock, jLimit - j0);
      int64_t kb = kvHead * kBlocks + j0 / kKeyBlock;
      int64_t packedKeys = std::min(kKeyBlock, skv - j0);
      if (packed) {
        // The packed block holds min(kKeyBlock, skv - j0) keys; a causal
        // limit only drops trailing ones, which the narrower n ignores.
        gemmPacked(br, bc, d, qPack, kPack + kb * kbFloats, d, sBuf, bc, false);
      } else {
        sgemm(br, bc, d, MatrixRef{qp, d, 1}, MatrixRef{kp + j0 * d, 1, d},
              sBuf, bc, false, false);
      }
      for (int64_t r = 0; r < br; ++r) {
        int64_t i = i0 + r;
        float *row = sBuf + r * bc;
        maskRow(row, bc, b, h, i, j0);
        float m = std::max(mx[r], rowMax(row, bc));
        if (m == kNegInf) {
          std::fill(row, row + bc, 0.0f); // nothing visible yet
          continue;
        }
        float alpha = mx[r] == kNegInf ? 0.0f : std::exp(mx[r] - m);
        sum[r] = sum[r] * alpha + expShiftSum(row, bc, m);
        mx[r] = m;
        if (alpha != 1.0f) {
          scaleAddRow(accBuf + r * dv, dv, alpha, nullptr);
        }
      }
      if (packed) {
        packA(MatrixRef{sBuf, bc, 1}, br, bc, pPack);
        gemmPacked(br, dv, bc, pPack, vPack + kb * vbFloats, packedKeys, accBuf,
                   dv, true);
      } else {
        sgemm(br, dv, bc, MatrixRef{sBuf, bc, 1},
              MatrixRef{vp + j0 * dv, dv, 1}, accBuf, dv, true, false);
      }
    }
    for (int64_t r = 0; r < br; ++r) {
      // A row that sees no key is 0 / 0, as the naive formula gives.
      float inv = 1.0f / sum[r];
      for (int64_t c = 0; c < dv; ++c) {
        op_[r * dv + c] = sum[r] == 0.0f
                              ? std::numeric_limits<float>::quiet_NaN()
                              : accBuf[r * dv + c] * inv;
      }
    }
  });
  fo.finish();
  return "";
}

} // namespace

void prepareLinalgOp(const graph::Op &op, const Inputs &in,
                     KernelCache *cache) {
  if (op.kind == "linear" && in.size() >= 2 && in[1].shape.size() == 2) {
    cachedPack(cache, in[1], in[1].shape[0], in[1].shape[1], false);
  }
}

bool isLinalgOp(const std::string &k) {
  return k == "matmul" || k == "linear" || k == "conv" || k == "attention" ||
         k == "cache_attention";
}

std::string runLinalgOp(const graph::Op &op, const Inputs &in,
                        const Outputs &out, KernelCache *cache) {
  if (in.size() < 2 || out.size() != 1 || !in[0].data || !in[1].data) {
    return fail(op, "wrong number of inputs or outputs");
  }
  if (op.kind == "matmul") {
    return runMatmul(op, in, out, cache);
  }
  if (op.kind == "linear") {
    return runLinear(op, in, out, cache);
  }
  if (op.kind == "conv") {
    return runConv(op, in, out);
  }
  if (op.kind == "cache_attention") {
    return runCacheAttention(op, in, out);
  }
  return runAttention(op, in, out);
}

} // namespace nuri::cpu::detail
