//===- GemmTest.cpp - GEMM, matmul, linear and conv against triple loops --===//

#include "KernelTestUtil.h"

#include "nuri/cpu/Gemm.h"

namespace nuri::cpu::test {
namespace {

// --- sgemm on odd sizes, both transposes, accumulate
// --------------------------

struct GemmCase {
  int64_t m, n, k;
  bool ta, tb, acc;
};

class SgemmTest : public ::testing::TestWithParam<GemmCase> {};

TEST_P(SgemmTest, MatchesTripleLoop) {
  GemmCase p = GetParam();
  std::mt19937 rng(static_cast<unsigned>(p.m * 131 + p.n * 7 + p.k));
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> a(p.m * p.k), b(p.k * p.n), c(p.m * p.n);
  for (float &v : a)
    v = dist(rng);
  for (float &v : b)
    v = dist(rng);
  for (float &v : c)
    v = dist(rng);
  std::vector<double> want(p.m * p.n);
  for (int64_t i = 0; i < p.m; ++i) {
    for (int64_t j = 0; j < p.n; ++j) {
      double s = p.acc ? c[i * p.n + j] : 0.0;
      for (int64_t q = 0; q < p.k; ++q) {
        double x = p.ta ? a[q * p.m + i] : a[i * p.k + q];
        double y = p.tb ? b[j * p.k + q] : b[q * p.n + j];
        s += x * y;
      }
      want[i * p.n + j] = s;
    }
  }
  MatrixRef ar{a.data(), p.ta ? 1 : p.k, p.ta ? p.m : 1};
  MatrixRef br{b.data(), p.tb ? 1 : p.n, p.tb ? p.k : 1};
  sgemm(p.m, p.n, p.k, ar, br, c.data(), p.n, p.acc);
  for (int64_t i = 0; i < p.m * p.n; ++i) {
    ASSERT_NEAR(c[i], want[i], 1e-4 * (1 + std::sqrt(double(p.k))))
        << "element " << i << " of " << p.m << "x" << p.n << "x" << p.k;
  }
}

INSTANTIATE_TEST_SUITE_P(
    OddSizes, SgemmTest,
    ::testing::Values(GemmCase{1, 1, 1, false, false, false},
                      GemmCase{7, 7, 7, false, false, false},
                      GemmCase{63, 129, 7, false, false, false},
                      GemmCase{129, 63, 300, false, false, false},
                      GemmCase{1, 129, 63, true, false, false},
                      GemmCase{129, 1, 63, false, true, false},
                      GemmCase{63, 63, 129, true, true, true},
                      GemmCase{200, 300, 600, false, true, false},
                      GemmCase{128, 768, 64, false, false, true},
                      GemmCase{5, 33, 513, true, false, true},
                      // Decode-step shapes (M <= 4) take the streaming path.
                      GemmCase{3, 1000, 77, false, false, true},
                      GemmCase{4, 600, 300, true, false, false},
                      GemmCase{1, 3072, 768, false, false, false}));

// A bf16 weight's panels kept as bf16 (half the bytes a decode step reads)
// give the fp32 panels' results bit for bit, on the thin GEMV kernels, the
// full tiles, several K blocks, ragged N, and a long prefill (several M
// blocks, widened once); with bias accumulation.
TEST(Sgemm, Bf16PanelsEqualFp32PanelsBitForBit) {
  const int64_t k = 300, n = 70;
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> b(k * n);
  for (float &v : b) {
    v = isa::bf16ToF32(isa::f32ToBf16(dist(rng)));
  }
  PackedMatrix wide = packMatrixB(k, n, MatrixRef{b.data(), n, 1});
  PackedMatrix narrow = packMatrixB(k, n, MatrixRef{b.data(), n, 1}, true);
  EXPECT_EQ(!narrow.bf16.empty(), std::string(gemmKernelName()) == "avx2");
  EXPECT_EQ(narrow.data.empty(), !narrow.bf16.empty());
  for (int64_t m : {1, 2, 3, 4, 6, 7, 40, 200}) {
    for (bool acc : {false, true}) {
      std::vector<float> a(m * k), c0(m * n), c1;
      for (float &v : a) {
        v = dist(rng);
      }
      for (float &v : c0) {
        v = dist(rng);
      }
      c1 = c0;
      sgemmPrepacked(m, n, k, MatrixRef{a.data(), k, 1}, MatrixRef{}, wide,
                     c0.data(), n, acc);
      sgemmPrepacked(m, n, k, MatrixRef{a.data(), k, 1}, MatrixRef{}, narrow,
                     c1.data(), n, acc);
      ASSERT_EQ(0, std::memcmp(c0.data(), c1.data(), c0.size() * 4))
          << "m " << m << (acc ? " accumulating" : "");
      double worst = 0;
      for (int64_t i = 0; !acc && i < m; ++i) {
        for (int64_t j = 0; j < n; ++j) {
          double s = 0;
          for (int64_t q = 0; q < k; ++q) {
            s += double(a[i * k + q]) * b[q * n + j];
          }
          worst = std::max(worst, std::abs(c1[i * n + j] - s));
        }
      }
      EXPECT_LT(worst, 1e-3) << "m " << m;
    }
  }
}

TEST(Sgemm, KZeroClearsOrKeeps) {
  std::vector<float> c = {1, 2, 3, 4};
  sgemm(2, 2, 0, MatrixRef{nullptr, 0, 1}, MatrixRef{nullptr, 0, 1}, c.data(),
        2, true);
  EXPECT_EQ(c[3], 4.0f);
  sgemm(2, 2, 0, MatrixRef{nullptr, 0, 1}, MatrixRef{nullptr, 0, 1}, c.data(),
        2, false);
  EXPECT_EQ(c[3], 0.0f);
}

// --- matmul op
// ----------------------------------------------------------------

/// Reference batched product with numpy batch broadcasting.
std::vector<double> refMatmul(const Tensor &l, const Tensor &r, bool tl,
                              bool tr, const std::vector<int64_t> &outShape) {
  size_t lr = l.shape.size(), rr = r.shape.size(), orr = outShape.size();
  int64_t m = outShape[orr - 2], n = outShape[orr - 1];
  int64_t k = tl ? l.shape[lr - 2] : l.shape[lr - 1];
  int64_t batch = 1;
  for (size_t d = 0; d + 2 < orr; ++d)
    batch *= outShape[d];
  std::vector<double> out;
  for (int64_t b = 0; b < batch; ++b) {
    // Decompose b into output batch coordinates, then map to each operand.
    std::vector<int64_t> coord(orr - 2);
    int64_t rem = b;
    for (int64_t d = int64_t(orr) - 3; d >= 0; --d) {
      coord[d] = rem % outShape[d];
      rem /= outShape[d];
    }
    auto base = [&](const Tensor &t) {
      size_t tb = t.shape.size() - 2, lead = (orr - 2) - tb;
      int64_t idx = 0;
      for (size_t d = 0; d < tb; ++d) {
        int64_t c = t.shape[d] == 1 ? 0 : coord[lead + d];
        idx = idx * t.shape[d] + c;
      }
      return idx * t.shape[t.shape.size() - 2] * t.shape.back();
    };
    int64_t lb = base(l), rb = base(r);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t q = 0; q < k; ++q) {
          double x = l.get(lb + (tl ? q * m + i : i * k + q));
          double y = r.get(rb + (tr ? j * k + q : q * n + j));
          s += x * y;
        }
        out.push_back(s);
      }
    }
  }
  (void)lr;
  (void)rr;
  return out;
}

struct MatmulCase {
  std::vector<int64_t> l, r, o;
  bool tl, tr;
};

class MatmulTest
    : public ::testing::TestWithParam<std::tuple<MatmulCase, DType>> {};

TEST_P(MatmulTest, MatchesReference) {
  auto [c, t] = GetParam();
  Tensor l = randomTensor(t, c.l, -2, 2, 1), r = randomTensor(t, c.r, -2, 2, 2);
  Tensor o(t, c.o);
  std::map<std::string, graph::AttrValue> attrs;
  if (c.tl)
    attrs["transpose_lhs"] = int64_t(1);
  if (c.tr)
    attrs["transpose_rhs"] = int64_t(1);
  ASSERT_EQ(run(makeOp("matmul", attrs), {&l, &r}, {&o}), "");
  std::vector<double> want = refMatmul(l, r, c.tl, c.tr, c.o);
  // 16-bit outputs: the fp32 sum rounded once, so within one output ulp.
  double rtol = t == DType::F32 ? 1e-5 : t == DType::F16 ? 1e-3 : 8e-3;
  for (double &w : want)
    w = roundTo(t, w);
  expectNear(o, want, rtol, 1e-4, "matmul");
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, MatmulTest,
    ::testing::Combine(
        ::testing::Values(
            MatmulCase{{7, 5}, {5, 9}, {7, 9}, false, false},
            MatmulCase{{5, 7}, {5, 9}, {7, 9}, true, false},
            MatmulCase{{7, 5}, {9, 5}, {7, 9}, false, true},
            MatmulCase{
                {2, 3, 33, 17}, {2, 3, 33, 17}, {2, 3, 33, 33}, false, true},
            MatmulCase{{4, 1, 6, 8}, {3, 8, 5}, {4, 3, 6, 5}, false, false},
            MatmulCase{{129, 63}, {2, 63, 65}, {2, 129, 65}, false, false},
            MatmulCase{
                {1, 63, 129}, {1, 1, 65, 63}, {1, 1, 129, 65}, true, true}),
        ::testing::Values(DType::F32, DType::F16, DType::BF16)));

TEST(Matmul, Int8AccumulatesInInt32) {
  Tensor l = randomTensor(DType::I8, {3, 37, 300}, -128, 127, 3);
  Tensor r = randomTensor(DType::I8, {300, 19}, -128, 127, 4);
  Tensor o(DType::I32, {3, 37, 19});
  ASSERT_EQ(run(makeOp("matmul"), {&l, &r}, {&o}), "");
  std::vector<double> want = refMatmul(l, r, false, false, o.shape);
  for (int64_t i = 0; i < o.size(); ++i) {
    ASSERT_EQ(o.as<int32_t>()[i], static_cast<int32_t>(want[i])) << i;
  }
}

TEST(Matmul, Uint8ProductsSpanSeveralExactSlices) {
  // u8 x u8 products reach 65025, so the exact fp32 slices are 258 deep and
  // K = 600 takes three of them.
  Tensor l = randomTensor(DType::U8, {2, 9, 600}, 0, 255, 34);
  Tensor r = randomTensor(DType::U8, {600, 13}, 0, 255, 35);
  Tensor o(DType::I32, {2, 9, 13});
  ASSERT_EQ(run(makeOp("matmul"), {&l, &r}, {&o}), "");
  std::vector<double> want = refMatmul(l, r, false, false, o.shape);
  for (int64_t i = 0; i < o.size(); ++i) {
    ASSERT_EQ(o.as<int32_t>()[i], static_cast<int32_t>(want[i])) << i;
  }
}

TEST(Matmul, Int8Transposed) {
  Tensor l = randomTensor(DType::I8, {9, 4}, -128, 127, 5);
  Tensor r = randomTensor(DType::I8, {6, 9}, -128, 127, 6);
  Tensor o(DType::I32, {4, 6});
  ASSERT_EQ(run(makeOp("matmul", {{"transpose_lhs", int64_t(1)},
                                  {"transpose_rhs", int64_t(1)}}),
                {&l, &r}, {&o}),
            "");
  std::vector<double> want = refMatmul(l, r, true, true, o.shape);
  for (int64_t i = 0; i < o.size(); ++i) {
    ASSERT_EQ(o.get(i), want[i]) << i;
  }
}

TEST(Igemm, ExactAcrossSlicesAndWrapsLikeInt32) {
  // u8 x i8 magnitudes: several exact fp32 K slices (1500 > 2^24 / 32640).
  std::mt19937 rng(9);
  auto fill = [&](std::vector<int32_t> &v, int lo, int hi) {
    std::uniform_int_distribution<int> d(lo, hi);
    for (int32_t &x : v)
      x = d(rng);
  };
  int64_t m = 5, n = 7, k = 1500;
  std::vector<int32_t> a(m * k), b(k * n), c(m * n);
  fill(a, 0, 255);
  fill(b, -128, 127);
  igemm(m, n, k, a.data(), b.data(), c.data(), false);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int64_t s = 0;
      for (int64_t p = 0; p < k; ++p)
        s += int64_t(a[i * k + p]) * b[p * n + j];
      ASSERT_EQ(c[i * n + j], static_cast<int32_t>(s));
    }
  // Wide int32 values overflow: the result wraps modulo 2^32.
  std::vector<int32_t> wa(m * 3), wb(3 * n), wc(m * n, 5);
  fill(wa, -2000000000, 2000000000);
  fill(wb, -2000000000, 2000000000);
  igemm(m, n, 3, wa.data(), wb.data(), wc.data(), true);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      uint32_t s = 5;
      for (int64_t p = 0; p < 3; ++p)
        s += static_cast<uint32_t>(wa[i * 3 + p]) *
             static_cast<uint32_t>(wb[p * n + j]);
      ASSERT_EQ(static_cast<uint32_t>(wc[i * n + j]), s);
    }
}

TEST(Matmul, F64AndI64) {
  for (DType t : {DType::F64, DType::I64}) {
    Tensor l = randomTensor(t, {2, 5, 3}, -9, 9, 7);
    Tensor r = randomTensor(t, {3, 4}, -9, 9, 8);
    Tensor o(t, {2, 5, 4});
    ASSERT_EQ(run(makeOp("matmul"), {&l, &r}, {&o}), "");
    expectNear(o, refMatmul(l, r, false, false, o.shape), 1e-12, 0,
               graph::dtypeName(t));
  }
}

TEST(Matmul, NarrowFloatsMayWidenTheResult) {
  // bf16 x bf16 -> f32: the fp32 sum is kept, not rounded to bf16.
  Tensor l = randomTensor(DType::BF16, {9, 40}, -1, 1, 31);
  Tensor r = randomTensor(DType::BF16, {40, 11}, -1, 1, 32);
  Tensor o(DType::F32, {9, 11});
  ASSERT_EQ(run(makeOp("matmul"), {&l, &r}, {&o}), "");
  expectNear(o, refMatmul(l, r, false, false, o.shape), 1e-5, 1e-6,
             "bf16 -> f32");
  Tensor b = randomTensor(DType::F32, {11}, -1, 1, 33);
  ASSERT_EQ(run(makeOp("linear"), {&l, &r, &b}, {&o}), "");
  std::vector<double> want = refMatmul(l, r, false, false, o.shape);
  for (size_t i = 0; i < want.size(); ++i)
    want[i] += b.get(i % 11);
  expectNear(o, want, 1e-5, 1e-6, "linear bf16 -> f32");
}

TEST(Matmul, Errors) {
  Tensor l(DType::F32, {2, 3}), r(DType::F32, {4, 5}), o(DType::F32, {2, 5});
  std::string e = run(makeOp("matmul"), {&l, &r}, {&o});
  EXPECT_NE(e.find("matmul"), std::string::npos) << e;
  Tensor li(DType::I16, {2, 3}), ri(DType::I16, {3, 2}), oi(DType::I16, {2, 2});
  e = run(makeOp("matmul"), {&li, &ri}, {&oi});
  EXPECT_NE(e.find("unsupported"), std::string::npos) << e;
  EXPECT_NE(e.find("i16"), std::string::npos) << e;
}

// --- linear
// -------------------------------------------------------------------

class LinearTest : public ::testing::TestWithParam<DType> {};

TEST_P(LinearTest, WithAndWithoutBias) {
  DType t = GetParam();
  Tensor x = randomTensor(t, {2, 13, 70}, -1, 1, 9);
  Tensor w = randomTensor(t, {70, 45}, -1, 1, 10);
  Tensor b = randomTensor(t, {45}, -1, 1, 11);
  for (bool withBias : {false, true}) {
    Tensor o(t, {2, 13, 45});
    ASSERT_EQ(run(makeOp("linear"), {&x, &w, withBias ? &b : nullptr}, {&o}),
              "");
    std::vector<double> want;
    for (int64_t i = 0; i < 26; ++i) {
      for (int64_t j = 0; j < 45; ++j) {
        double s = withBias ? b.get(j) : 0;
        for (int64_t q = 0; q < 70; ++q)
          s += x.get(i * 70 + q) * w.get(q * 45 + j);
        want.push_back(roundTo(t, s));
      }
    }
    expectNear(o, want, t == DType::F32 ? 1e-5 : 8e-3, 1e-4, "linear");
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, LinearTest,
                         ::testing::Values(DType::F32, DType::F16,
                                           DType::BF16));

TEST(Linear, Int8WithInt32Bias) {
  Tensor x = randomTensor(DType::I8, {5, 40}, -128, 127, 12);
  Tensor w = randomTensor(DType::I8, {40, 7}, -128, 127, 13);
  Tensor b = randomTensor(DType::I32, {7}, -100000, 100000, 14);
  Tensor o(DType::I32, {5, 7});
  ASSERT_EQ(run(makeOp("linear"), {&x, &w, &b}, {&o}), "");
  for (int64_t i = 0; i < 5; ++i) {
    for (int64_t j = 0; j < 7; ++j) {
      int64_t s = b.as<int32_t>()[j];
      for (int64_t q = 0; q < 40; ++q)
        s += int64_t(x.as<int8_t>()[i * 40 + q]) * w.as<int8_t>()[q * 7 + j];
      ASSERT_EQ(o.as<int32_t>()[i * 7 + j], s);
    }
  }
}

// --- conv
// ---------------------------------------------------------------------

struct ConvCase {
  std::vector<int64_t> x, w, strides, pads, dil;
  int64_t group;
};

class ConvTest : public ::testing::TestWithParam<std::tuple<ConvCase, DType>> {
};

TEST_P(ConvTest, MatchesDirectLoop) {
  auto [c, t] = GetParam();
  bool twoD = c.x.size() == 4;
  Tensor x = randomTensor(t, c.x, -1, 1, 15),
         w = randomTensor(t, c.w, -1, 1, 16);
  int64_t f = c.w[0];
  Tensor b = randomTensor(t, {f}, -1, 1, 17);
  int64_t n = c.x[0], ch = c.x[1], ih = twoD ? c.x[2] : 1, iw = c.x.back();
  int64_t kh = twoD ? c.w[2] : 1, kw = c.w.back(), cg = c.w[1];
  int64_t sh = twoD ? c.strides[0] : 1, sw = c.strides.back();
  int64_t dh = twoD ? c.dil[0] : 1, dw = c.dil.back();
  int64_t pt = twoD ? c.pads[0] : 0, pl = twoD ? c.pads[1] : c.pads[0];
  int64_t pb = twoD ? c.pads[2] : 0, pr = twoD ? c.pads[3] : c.pads[1];
  int64_t oh = (ih + pt + pb - dh * (kh - 1) - 1) / sh + 1;
  int64_t ow = (iw + pl + pr - dw * (kw - 1) - 1) / sw + 1;
  std::vector<int64_t> os = {n, f};
  if (twoD)
    os.push_back(oh);
  os.push_back(ow);
  Tensor o(t, os);
  ASSERT_EQ(run(makeOp("conv", {{"strides", c.strides},
                                {"pads", c.pads},
                                {"dilations", c.dil},
                                {"group", c.group}}),
                {&x, &w, &b}, {&o}),
            "");
  std::vector<double> want;
  int64_t fg = f / c.group;
  for (int64_t bi = 0; bi < n; ++bi)
    for (int64_t fi = 0; fi < f; ++fi)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t xo = 0; xo < ow; ++xo) {
          double s = b.get(fi);
          int64_t g = fi / fg;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t ky = 0; ky < kh; ++ky)
              for (int64_t kx = 0; kx < kw; ++kx) {
                int64_t iy = y * sh - pt + ky * dh, ix = xo * sw - pl + kx * dw;
                if (iy < 0 || iy >= ih || ix < 0 || ix >= iw)
                  continue;
                s += x.get(((bi * ch + g * cg + ci) * ih + iy) * iw + ix) *
                     w.get(((fi * cg + ci) * kh + ky) * kw + kx);
              }
          want.push_back(roundTo(t, s));
        }
  expectNear(o, want, t == DType::F32 ? 1e-5 : 8e-3, 1e-4, "conv");
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ConvTest,
    ::testing::Combine(
        ::testing::Values(
            ConvCase{
                {1, 3, 16, 16}, {8, 3, 4, 4}, {4, 4}, {0, 0, 0, 0}, {1, 1}, 1},
            ConvCase{
                {2, 4, 9, 7}, {6, 2, 3, 3}, {2, 1}, {1, 0, 2, 1}, {1, 2}, 2},
            ConvCase{
                {1, 5, 6, 6}, {3, 5, 1, 1}, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1},
            ConvCase{{2, 4, 20}, {4, 1, 3}, {2}, {1, 1}, {1}, 4},
            ConvCase{{1, 2, 11}, {5, 2, 4}, {1}, {0, 2}, {2}, 1}),
        ::testing::Values(DType::F32, DType::BF16)));

} // namespace
} // namespace nuri::cpu::test
