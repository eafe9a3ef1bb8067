//===- Quantized.cpp - int8 matrix products and dynamic quantization -----===//
//
// `quantized_matmul`: (A - a_zp) x (B - b_zp) in int32, then one of three
// read-outs (raw i32, fp32 dequantized, requantized int8/uint8), or of two
// fp8 e4m3 operands summed in fp32 with the float read-out; and
// `dynamic_quantize`, ONNX's DynamicQuantizeLinear; and `dequantize_blocked`,
// MatMulNBits' 4- and 8-bit blocked weights made float.
//
// The product widens both operands to int16 after subtracting the zero
// points (|a - a_zp| <= 255, so every value fits) and multiplies pairs of
// them: vpmaddwd on AVX2, vpdpwssd on AVX-VNNI / AVX512-VNNI, a scalar loop
// elsewhere. A pair sums two products of at most 255 * 255, far inside int32,
// and the accumulation wraps like ONNX's int32 arithmetic, so every path is
// bit for bit the same integer: the choice of ISA never changes a result.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"
#include "Vector.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace nuri::cpu::detail {
namespace {

constexpr int64_t kMr = 4;  // rows per micro-tile
constexpr int64_t kNr = 16; // columns per micro-tile: two 8-lane vectors

enum class Int8Isa { Scalar, Avx2, AvxVnni, Avx512Vnni };

// The widest int8 path: VNNI where the CPU has it, unless NURI_CPU_ISA caps
// the kernels to avx2 or scalar (the tests run every path that way).
Int8Isa int8Isa() {
  static const Int8Isa isa = [] {
    if (isaLevel() == IsaLevel::Scalar) {
      return Int8Isa::Scalar;
    }
    const char *cap = std::getenv("NURI_CPU_ISA");
    bool capped = cap && std::string(cap) == "avx2";
    __builtin_cpu_init();
    if (!capped && __builtin_cpu_supports("avx512vnni") &&
        __builtin_cpu_supports("avx512vl")) {
      return Int8Isa::Avx512Vnni;
    }
    if (!capped && __builtin_cpu_supports("avxvnni")) {
      return Int8Isa::AvxVnni;
    }
    return Int8Isa::Avx2;
  }();
  return isa;
}

// Packed operands. A: rows padded to kMr, each row K2 int32 words, a word
// holding the int16 pair (a[i][2p] - zp, a[i][2p+1] - zp). B: panels of kNr
// columns, per pair p kNr words holding (b[2p][j] - zp, b[2p+1][j] - zp).
// Padding is zero, so it adds nothing to any sum.
inline uint32_t pairWord(int32_t lo, int32_t hi) {
  return static_cast<uint16_t>(static_cast<int16_t>(lo)) |
         (static_cast<uint32_t>(static_cast<uint16_t>(static_cast<int16_t>(hi)))
          << 16);
}

struct Tile {
  int32_t c[kMr][kNr];
};

// The micro-kernels: acc[r][j] = sum_p lo(a[r][p]) * lo(b[p][j]) +
// hi(a[r][p]) * hi(b[p][j]).
void tileScalar(int64_t k2, const uint32_t *a, const uint32_t *b, Tile &t) {
  for (int64_t r = 0; r < kMr; ++r) {
    for (int64_t j = 0; j < kNr; ++j) {
      uint32_t acc = 0; // wraps like int32 without undefined behaviour
      for (int64_t p = 0; p < k2; ++p) {
        uint32_t aw = a[r * k2 + p], bw = b[p * kNr + j];
        int32_t s = int32_t(int16_t(aw & 0xFFFF)) * int16_t(bw & 0xFFFF) +
                    int32_t(int16_t(aw >> 16)) * int16_t(bw >> 16);
        acc += static_cast<uint32_t>(s);
      }
      t.c[r][j] = static_cast<int32_t>(acc);
    }
  }
}

#define NURI_INT8_TILE(NAME, TARGET, STEP)                                     \
  __attribute__((target(TARGET))) void NAME(int64_t k2, const uint32_t *a,     \
                                            const uint32_t *b, Tile &t) {      \
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00,     \
            c20 = c00, c21 = c00, c30 = c00, c31 = c00;                        \
    for (int64_t p = 0; p < k2; ++p) {                                         \
      __m256i b0 =                                                             \
          _mm256_loadu_si256(reinterpret_cast<const __m256i *>(b + p * kNr));  \
      __m256i b1 = _mm256_loadu_si256(                                         \
          reinterpret_cast<const __m256i *>(b + p * kNr + 8));                 \
      __m256i a0 = _mm256_set1_epi32(static_cast<int>(a[p]));                  \
      __m256i a1 = _mm256_set1_epi32(static_cast<int>(a[k2 + p]));             \
      __m256i a2 = _mm256_set1_epi32(static_cast<int>(a[2 * k2 + p]));         \
      __m256i a3 = _mm256_set1_epi32(static_cast<int>(a[3 * k2 + p]));         \
      c00 = STEP(c00, a0, b0);                                                 \
      c01 = STEP(c01, a0, b1);                                                 \
      c10 = STEP(c10, a1, b0);                                                 \
      c11 = STEP(c11, a1, b1);                                                 \
      c20 = STEP(c20, a2, b0);                                                 \
      c21 = STEP(c21, a2, b1);                                                 \
      c30 = STEP(c30, a3, b0);                                                 \
      c31 = STEP(c31, a3, b1);                                                 \
    }                                                                          \
    __m256i *o = reinterpret_cast<__m256i *>(&t.c[0][0]);                      \
    _mm256_storeu_si256(o + 0, c00);                                           \
    _mm256_storeu_si256(o + 1, c01);                                           \
    _mm256_storeu_si256(o + 2, c10);                                           \
    _mm256_storeu_si256(o + 3, c11);                                           \
    _mm256_storeu_si256(o + 4, c20);                                           \
    _mm256_storeu_si256(o + 5, c21);                                           \
    _mm256_storeu_si256(o + 6, c30);                                           \
    _mm256_storeu_si256(o + 7, c31);                                           \
  }

#define NURI_STEP_AVX2(c, a, b) _mm256_add_epi32(c, _mm256_madd_epi16(a, b))
#define NURI_STEP_AVXVNNI(c, a, b) _mm256_dpwssd_avx_epi32(c, a, b)
#define NURI_STEP_AVX512VNNI(c, a, b) _mm256_dpwssd_epi32(c, a, b)

NURI_INT8_TILE(tileAvx2, "avx2", NURI_STEP_AVX2)
NURI_INT8_TILE(tileAvxVnni, "avx2,avxvnni", NURI_STEP_AVXVNNI)
NURI_INT8_TILE(tileAvx512Vnni, "avx2,avx512vnni,avx512vl", NURI_STEP_AVX512VNNI)

using TileFn = void (*)(int64_t, const uint32_t *, const uint32_t *, Tile &);
TileFn tileKernel() {
  switch (int8Isa()) {
  case Int8Isa::Avx512Vnni:
    return tileAvx512Vnni;
  case Int8Isa::AvxVnni:
    return tileAvxVnni;
  case Int8Isa::Avx2:
    return tileAvx2;
  default:
    return tileScalar;
  }
}

// A zero point (or scale) read per row / per column or per tensor.
struct Param {
  const TensorView *t = nullptr;
  bool perChannel = false;
  int64_t index(int64_t i) const { return perChannel ? i : 0; }
};

// The zero points as int32, one per row / column (or one).
std::vector<int32_t> zeroPoints(const Param &zp) {
  std::vector<int32_t> z(zp.t->elements());
  for (size_t i = 0; i < z.size(); ++i) {
    z[i] = static_cast<int32_t>(readIndex(*zp.t, static_cast<int64_t>(i)));
  }
  return z;
}

template <typename T>
void packATyped(const T *a, int64_t m, int64_t k,
                const std::vector<int32_t> &zp, uint32_t *dst) {
  int64_t k2 = (k + 1) / 2;
  for (int64_t i = 0; i < m; ++i) {
    int32_t z = zp[zp.size() == 1 ? 0 : i];
    const T *row = a + i * k;
    for (int64_t p = 0; p < k / 2; ++p) {
      dst[i * k2 + p] = pairWord(row[2 * p] - z, row[2 * p + 1] - z);
    }
    if (k % 2) {
      dst[i * k2 + k2 - 1] = pairWord(row[k - 1] - z, 0);
    }
  }
}

template <typename T>
void packBTyped(const T *b, int64_t k, int64_t n,
                const std::vector<int32_t> &zp, uint32_t *dst) {
  int64_t k2 = (k + 1) / 2;
  for (int64_t p = 0; p < k2; ++p) {
    const T *lo = b + 2 * p * n;
    const T *hi = 2 * p + 1 < k ? lo + n : nullptr;
    for (int64_t j = 0; j < n; ++j) {
      int32_t z = zp[zp.size() == 1 ? 0 : j];
      dst[(j / kNr) * k2 * kNr + p * kNr + j % kNr] =
          pairWord(lo[j] - z, hi ? hi[j] - z : 0);
    }
  }
}

void packA(const TensorView &a, int64_t offset, int64_t m, int64_t k,
           const std::vector<int32_t> &zp, std::vector<uint32_t> &dst) {
  int64_t k2 = (k + 1) / 2, mPad = (m + kMr - 1) / kMr * kMr;
  dst.assign(mPad * k2, 0);
  if (a.dtype == DType::U8) {
    packATyped(a.as<uint8_t>() + offset, m, k, zp, dst.data());
  } else {
    packATyped(a.as<int8_t>() + offset, m, k, zp, dst.data());
  }
}

void packB(const TensorView &b, int64_t offset, int64_t k, int64_t n,
           const std::vector<int32_t> &zp, std::vector<uint32_t> &dst) {
  int64_t k2 = (k + 1) / 2, panels = (n + kNr - 1) / kNr;
  dst.assign(panels * k2 * kNr, 0);
  if (b.dtype == DType::U8) {
    packBTyped(b.as<uint8_t>() + offset, k, n, zp, dst.data());
  } else {
    packBTyped(b.as<int8_t>() + offset, k, n, zp, dst.data());
  }
}

// A constant 2-D weight with a constant zero point, packed once per op and
// kept in its KernelCache; null when it cannot be cached.
std::shared_ptr<const std::vector<uint32_t>>
cachedPackB(KernelCache *cache, const TensorView &b, const TensorView &zp,
            int64_t k, int64_t n, const std::vector<int32_t> &zps) {
  if (!cache || !cache->impl || !b.constant || !zp.constant ||
      b.shape.size() != 2) {
    return nullptr;
  }
  KernelCache::Impl &c = *cache->impl;
  std::lock_guard<std::mutex> lock(c.mutex);
  if (c.int8Packed && c.int8Key == b.data && c.int8ZeroKey == zp.data) {
    return c.int8Packed;
  }
  auto packed = std::make_shared<std::vector<uint32_t>>();
  packB(b, 0, k, n, zps, *packed);
  c.int8Key = b.data;
  c.int8ZeroKey = zp.data;
  c.int8Packed = packed;
  return packed;
}

enum class Readout { Int32, Float, Requantize };

struct Epilogue {
  Readout mode = Readout::Int32;
  std::vector<float> lhsScale, rhsScale; // one value or one per row/column
  float outScale = 1;
  double outZero = 0, lo = 0, hi = 0;

  // fp32, in the order ONNX's graphs compute it: the scale product first.
  float multiplier(int64_t i, int64_t j) const {
    float s = lhsScale[lhsScale.size() == 1 ? 0 : i] *
              rhsScale[rhsScale.size() == 1 ? 0 : j];
    return mode == Readout::Requantize ? s / outScale : s;
  }
};

void store(const Epilogue &e, const TensorView &o, int64_t index, int64_t i,
           int64_t j, int32_t acc) {
  switch (e.mode) {
  case Readout::Int32:
    o.as<int32_t>()[index] = acc;
    return;
  case Readout::Float:
    o.as<float>()[index] = static_cast<float>(acc) * e.multiplier(i, j);
    return;
  case Readout::Requantize: {
    // Round half to even, then the zero point, then saturate (QLinearMatMul).
    float scaled = static_cast<float>(acc) * e.multiplier(i, j);
    double v = std::nearbyint(static_cast<double>(scaled)) + e.outZero;
    v = v != v ? e.outZero : std::min(e.hi, std::max(e.lo, v));
    if (o.dtype == DType::U8) {
      o.as<uint8_t>()[index] = static_cast<uint8_t>(v);
    } else {
      o.as<int8_t>()[index] = static_cast<int8_t>(v);
    }
    return;
  }
  }
}

bool is8Bit(DType t) { return t == DType::I8 || t == DType::U8; }

// A per-tensor parameter or one per channel of `channels`; false if neither.
bool param(const TensorView &t, int64_t channels, Param &p) {
  p.t = &t;
  p.perChannel = t.elements() != 1;
  return t.data && (t.elements() == 1 || t.elements() == channels) &&
         t.shape.size() <= 1;
}

std::vector<float> floats(const TensorView &t) {
  F32Buffer b = toF32(t);
  return std::vector<float>(b.ptr, b.ptr + t.elements());
}

// fp8 operands: each product of two e4m3 values is exact in fp32 (4-bit
// significands), and each output sums them in ascending k, one fp32 add per
// step from +0, which is the NPU matrix engine's order (docs/isa.md), so
// the CPU and the sim device agree bit for bit. B is widened to f32 once
// per batch member; each row's sums then run as one vector of columns per k
// step (a fused multiply-add rounds exactly as the separate add would, the
// product being exact).
void fp8Product(const TensorView &a, const TensorView &b, const TensorView &o,
                const Epilogue &e, int64_t m, int64_t k, int64_t n,
                const std::vector<int64_t> &ob, const std::vector<int64_t> &as,
                const std::vector<int64_t> &bs) {
  static const std::array<float, 256> widen = [] {
    std::array<float, 256> t{};
    for (int v = 0; v < 256; ++v) {
      t[size_t(v)] = isa::e4m3ToF32(uint8_t(v));
    }
    return t;
  }();
  const uint8_t *pa = a.as<uint8_t>(), *pb = b.as<uint8_t>();
  std::vector<float> bf(size_t(b.elements()));
  parallelRange(b.elements(), 1 << 16, [&](int64_t lo, int64_t hi) {
    for (int64_t x = lo; x < hi; ++x) {
      bf[size_t(x)] = widen[pb[x]];
    }
  });
  int64_t batch = graph::elementCount(ob);
  constexpr int64_t kCols = 256;
  int64_t colBlocks = (n + kCols - 1) / kCols;
  int64_t grain = std::max<int64_t>(1, (1 << 16) / (kCols * (k + 1)));
  parallelRange(batch * m * colBlocks, grain, [&](int64_t lo, int64_t hi) {
    std::array<float, kCols> acc;
    for (int64_t x = lo; x < hi; ++x) {
      int64_t cb = x % colBlocks, i = (x / colBlocks) % m,
              bi = x / (colBlocks * m);
      int64_t j0 = cb * kCols, nc = std::min(kCols, n - j0);
      const uint8_t *arow = pa + offsetOf(bi, ob, as) * m * k + i * k;
      const float *bmat = bf.data() + offsetOf(bi, ob, bs) * k * n;
      std::fill(acc.begin(), acc.begin() + nc, 0.0f);
      for (int64_t p = 0; p < k; ++p) {
        const float av = widen[arow[p]];
        const float *brow = bmat + p * n + j0;
        for (int64_t c = 0; c < nc; ++c) {
          acc[size_t(c)] += av * brow[c];
        }
      }
      float *orow = o.as<float>() + (bi * m + i) * n + j0;
      for (int64_t c = 0; c < nc; ++c) {
        orow[c] = acc[size_t(c)] * e.multiplier(i, j0 + c);
      }
    }
  });
}

// e4m3's zeros: +0 and -0.
bool allFp8Zero(const TensorView &t) {
  const uint8_t *p = t.as<uint8_t>();
  return std::all_of(p, p + t.elements(),
                     [](uint8_t v) { return (v & 0x7F) == 0; });
}

std::string runQuantizedMatmul(const graph::Op &op, const Inputs &in,
                               const Outputs &out, KernelCache *cache) {
  if ((in.size() != 4 && in.size() != 6 && in.size() != 8) || out.size() != 1) {
    return fail(op, "expects 4, 6 or 8 inputs and 1 output, got " +
                        std::to_string(in.size()) + " inputs");
  }
  for (const TensorView &t : in) {
    if (!t.data && t.elements() != 0) {
      return fail(op, "an input has no buffer");
    }
  }
  const TensorView &a = in[0], &b = in[1], &o = out[0];
  const bool fp8 = a.dtype == DType::F8E4M3;
  if ((fp8 ? b.dtype != DType::F8E4M3 || in.size() != 6
           : !is8Bit(a.dtype) || !is8Bit(b.dtype)) ||
      in[2].dtype != a.dtype || in[3].dtype != b.dtype) {
    return unsupported(op, in, out);
  }
  if (fp8 && (!allFp8Zero(in[2]) || !allFp8Zero(in[3]))) {
    return fail(op, "fp8 operands take zero points of 0");
  }
  if (a.shape.size() < 2 || b.shape.size() < 2 || o.shape.size() < 2) {
    return fail(op, "operands must be matrices");
  }
  int64_t m = a.shape[a.shape.size() - 2], k = a.shape.back();
  int64_t n = b.shape.back();
  std::vector<int64_t> ab(a.shape.begin(), a.shape.end() - 2),
      bb(b.shape.begin(), b.shape.end() - 2),
      ob(o.shape.begin(), o.shape.end() - 2);
  if (b.shape[b.shape.size() - 2] != k || o.shape[o.shape.size() - 2] != m ||
      o.shape.back() != n || ab.size() > ob.size() || bb.size() > ob.size() ||
      !broadcastable(ab, ob) || !broadcastable(bb, ob)) {
    return fail(op, "shapes " + shapeString(a.shape) + " x " +
                        shapeString(b.shape) + " do not form " +
                        shapeString(o.shape));
  }
  Param azp, bzp;
  if (!param(in[2], m, azp) || !param(in[3], n, bzp)) {
    return fail(op, "zero points must be scalars or one per row (lhs) / "
                    "column (rhs)");
  }
  Epilogue e;
  if (in.size() == 4) {
    if (o.dtype != DType::I32) {
      return unsupported(op, in, out);
    }
  } else {
    Param as, bs;
    if (!graph::isFloat(in[4].dtype) || !graph::isFloat(in[5].dtype) ||
        !param(in[4], m, as) || !param(in[5], n, bs)) {
      return fail(op, "scales must be floats, scalars or one per row (lhs) / "
                      "column (rhs)");
    }
    e.lhsScale = floats(in[4]);
    e.rhsScale = floats(in[5]);
    e.mode = in.size() == 6 ? Readout::Float : Readout::Requantize;
    if (e.mode == Readout::Float && o.dtype != DType::F32) {
      return unsupported(op, in, out);
    }
    if (e.mode == Readout::Requantize) {
      if (!graph::isFloat(in[6].dtype) || in[6].elements() != 1 ||
          in[7].elements() != 1 || in[7].dtype != o.dtype || !is8Bit(o.dtype)) {
        return fail(op, "requantization needs a float scale and an 8-bit "
                        "zero point of the result's type, both scalars");
      }
      e.outScale = floats(in[6])[0];
      e.outZero = static_cast<double>(readIndex(in[7], 0));
      e.lo = o.dtype == DType::U8 ? 0 : -128;
      e.hi = o.dtype == DType::U8 ? 255 : 127;
    }
  }

  if (fp8) {
    fp8Product(a, b, o, e, m, k, n, ob, broadcastStrides(ab, ob),
               broadcastStrides(bb, ob));
    return "";
  }

  // Pack each distinct batch member of A and B once; a constant weight
  // only on the op's first run.
  int64_t aBatches = graph::elementCount(ab),
          bBatches = graph::elementCount(bb);
  std::vector<int32_t> azps = zeroPoints(azp), bzps = zeroPoints(bzp);
  std::vector<std::vector<uint32_t>> pa(aBatches), pbOwned;
  std::vector<const std::vector<uint32_t> *> pb(bBatches);
  std::shared_ptr<const std::vector<uint32_t>> cached =
      cachedPackB(cache, b, in[3], k, n, bzps);
  if (cached) {
    pb[0] = cached.get();
  } else {
    pbOwned.resize(bBatches);
    for (int64_t x = 0; x < bBatches; ++x) {
      pb[x] = &pbOwned[x];
    }
  }
  int64_t toPack = aBatches + (cached ? 0 : bBatches);
  parallelRange(toPack, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t x = lo; x < hi; ++x) {
      if (x < aBatches) {
        packA(a, x * m * k, m, k, azps, pa[x]);
      } else {
        packB(b, (x - aBatches) * k * n, k, n, bzps, pbOwned[x - aBatches]);
      }
    }
  });
  std::vector<int64_t> as = broadcastStrides(ab, ob),
                       bs = broadcastStrides(bb, ob);
  int64_t batch = graph::elementCount(ob), k2 = (k + 1) / 2;
  int64_t rowTiles = (m + kMr - 1) / kMr, colTiles = (n + kNr - 1) / kNr;
  int64_t tiles = batch * rowTiles * colTiles;
  int64_t grain = std::max<int64_t>(1, (1 << 16) / (kMr * kNr * (k2 + 1)));
  TileFn kernel = tileKernel();
  parallelRange(tiles, grain, [&](int64_t lo, int64_t hi) {
    Tile t;
    for (int64_t x = lo; x < hi; ++x) {
      // Row tiles vary fastest: consecutive tiles reuse one B panel from
      // cache while the (smaller) packed A streams past it.
      int64_t rt = x % rowTiles, ct = (x / rowTiles) % colTiles,
              bi = x / (colTiles * rowTiles);
      const uint32_t *ap = pa[offsetOf(bi, ob, as)].data() + rt * kMr * k2;
      const uint32_t *bp = pb[offsetOf(bi, ob, bs)]->data() + ct * k2 * kNr;
      kernel(k2, ap, bp, t);
      for (int64_t r = 0; r < kMr && rt * kMr + r < m; ++r) {
        int64_t i = rt * kMr + r;
        for (int64_t c = 0; c < kNr && ct * kNr + c < n; ++c) {
          int64_t j = ct * kNr + c;
          store(e, o, (bi * m + i) * n + j, i, j, t.c[r][c]);
        }
      }
    }
  });
  return "";
}

// ONNX DynamicQuantizeLinear, in fp32 as its definition computes it.
std::string runDynamicQuantize(const graph::Op &op, const Inputs &in,
                               const Outputs &out) {
  if (in.size() != 1 || out.size() != 3) {
    return fail(op, "expects 1 input and 3 outputs");
  }
  const TensorView &x = in[0];
  if (x.dtype != DType::F32 || out[0].dtype != DType::U8 ||
      out[1].dtype != DType::F32 || out[2].dtype != DType::U8) {
    return unsupported(op, in, out);
  }
  if (out[0].elements() != x.elements() || out[1].elements() != 1 ||
      out[2].elements() != 1 || !x.data || !out[0].data || !out[1].data ||
      !out[2].data) {
    return fail(op, "outputs must be y (like x), a scalar scale and zero "
                    "point");
  }
  const float *px = x.as<float>();
  int64_t count = x.elements();
  float lo = 0, hi = 0; // the range always includes zero
  for (int64_t i = 0; i < count; ++i) {
    lo = std::min(lo, px[i]);
    hi = std::max(hi, px[i]);
  }
  float scale = (hi - lo) / 255.0f;
  float zero = 0;
  if (scale != 0) {
    zero = std::nearbyint(std::min(255.0f, std::max(0.0f, 0.0f - lo / scale)));
  }
  out[1].as<float>()[0] = scale;
  out[2].as<uint8_t>()[0] = static_cast<uint8_t>(zero);
  uint8_t *py = out[0].as<uint8_t>();
  parallelRange(count, kParallelGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      // An all-zero input has scale 0: every value quantizes to the zero
      // point, as ONNX Runtime does.
      float v = scale == 0 ? 0 : std::nearbyint(px[i] / scale) + zero;
      py[i] = static_cast<uint8_t>(std::min(255.0f, std::max(0.0f, v)));
    }
  });
  return "";
}

// dequantize_blocked: MatMulNBits' weight layout made a float [K, N] weight
// (NuriOps.td). The session runs it once, when it is prepared, for a
// constant weight; the columns go in parallel, each written down its K rows.
std::string runDequantizeBlocked(const graph::Op &op, const Inputs &in,
                                 const Outputs &out) {
  int64_t bits = op.getInt("bits", 0), block = op.getInt("block_size", 0);
  if (in.size() < 2 || out.size() != 1) {
    return fail(op, "expects packed values, scales (, zero points) and one "
                    "output");
  }
  const TensorView &packed = in[0], &scales = in[1], &o = out[0];
  const TensorView *zp = in.size() > 2 && in[2].data ? &in[2] : nullptr;
  if ((bits != 4 && bits != 8) || block < 16 || (block & (block - 1))) {
    return fail(op, "has bits " + std::to_string(bits) + " and block_size " +
                        std::to_string(block) +
                        " (expected 4 or 8, and a power of two >= 16)");
  }
  if (packed.dtype != DType::U8 || packed.shape.size() != 3 ||
      packed.shape[2] != block * bits / 8 || !graph::isFloat(scales.dtype) ||
      !graph::isFloat(o.dtype) || o.shape.size() != 2) {
    return unsupported(op, in, out);
  }
  int64_t n = packed.shape[0], blocks = packed.shape[1], k = o.shape[0];
  int64_t zpBytes = (blocks * bits + 7) / 8;
  if (scales.elements() != n * blocks || o.shape[1] != n ||
      k > blocks * block || k <= (blocks - 1) * block ||
      (zp && (zp->dtype != DType::U8 || zp->elements() != n * zpBytes))) {
    return fail(op, "packed " + shapeString(packed.shape) + ", scales " +
                        shapeString(scales.shape) + " and result " +
                        shapeString(o.shape) + " do not agree");
  }
  F32Buffer s = toF32(scales);
  F32Out result(o);
  const uint8_t *q = packed.as<const uint8_t>();
  const uint8_t *z = zp ? zp->as<const uint8_t>() : nullptr;
  auto value = [bits](const uint8_t *bytes, int64_t i) -> int {
    return bits == 8 ? bytes[i] : (bytes[i / 2] >> (i % 2 ? 4 : 0)) & 15;
  };
  int defaultZp = 1 << (bits - 1);
  parallelRange(n, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c) {
      for (int64_t b = 0; b < blocks; ++b) {
        const uint8_t *blob = q + (c * blocks + b) * (block * bits / 8);
        int zero = z ? value(z + c * zpBytes, b) : defaultZp;
        float scale = s.ptr[c * blocks + b];
        int64_t end = std::min(k - b * block, block);
        for (int64_t i = 0; i < end; ++i) {
          result.ptr[(b * block + i) * n + c] =
              static_cast<float>(value(blob, i) - zero) * scale;
        }
      }
    }
  });
  result.finish();
  return "";
}

} // namespace

bool isQuantizedOp(const std::string &kind) {
  return kind == "quantized_matmul" || kind == "dynamic_quantize" ||
         kind == "dequantize_blocked";
}

std::string runQuantizedOp(const graph::Op &op, const Inputs &in,
                           const Outputs &out, KernelCache *cache) {
  if (op.kind == "quantized_matmul") {
    return runQuantizedMatmul(op, in, out, cache);
  }
  if (op.kind == "dequantize_blocked") {
    return runDequantizeBlocked(op, in, out);
  }
  return runDynamicQuantize(op, in, out);
}

const char *int8KernelName() {
  switch (int8Isa()) {
  case Int8Isa::Avx512Vnni:
    return "avx512-vnni";
  case Int8Isa::AvxVnni:
    return "avx-vnni";
  case Int8Isa::Avx2:
    return "avx2";
  default:
    return "scalar";
  }
}

} // namespace nuri::cpu::detail
