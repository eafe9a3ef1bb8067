//===- QuantizedTest.cpp - quantized_matmul and dynamic_quantize ----------===//
//
// The int8 product against a scalar int64 reference, on every shape class
// the tiles meet (remainder rows, columns, odd K, broadcast batches) and
// every signedness; ctest runs this suite again with NURI_CPU_ISA=avx2 and
// =scalar, so the VNNI (where the CPU has it), AVX2 and scalar paths are
// each held to the same integers.
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"

#include <cstdint>

namespace nuri::cpu::detail {
const char *int8KernelName();
} // namespace nuri::cpu::detail

namespace nuri::cpu::test {
namespace {

struct Case {
  std::vector<int64_t> a, b, o;
  DType at, bt;
  bool perChannel;
};

double lowOf(DType t) { return t == DType::U8 ? 0 : -128; }
double highOf(DType t) { return t == DType::U8 ? 255 : 127; }

// acc[bi, i, j] with wrapping int32, batch broadcasting like numpy.
std::vector<int32_t> reference(const Tensor &a, const Tensor &b,
                               const Tensor &azp, const Tensor &bzp,
                               const std::vector<int64_t> &o) {
  int64_t m = o[o.size() - 2], n = o.back(), k = a.shape.back();
  int64_t batch = graph::elementCount(o) / (m * n);
  int64_t aBatch = a.size() / (m * k), bBatch = b.size() / (k * n);
  std::vector<int32_t> r(batch * m * n);
  for (int64_t bi = 0; bi < batch; ++bi) {
    // The tests broadcast only whole operands (batch 1 against batch B).
    int64_t ao = (aBatch == 1 ? 0 : bi) * m * k,
            bo = (bBatch == 1 ? 0 : bi) * k * n;
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        int64_t acc = 0;
        double za = azp.get(azp.size() == 1 ? 0 : i),
               zb = bzp.get(bzp.size() == 1 ? 0 : j);
        for (int64_t p = 0; p < k; ++p) {
          acc += static_cast<int64_t>(a.get(ao + i * k + p) - za) *
                 static_cast<int64_t>(b.get(bo + p * n + j) - zb);
        }
        r[(bi * m + i) * n + j] = static_cast<int32_t>(
            static_cast<uint32_t>(static_cast<uint64_t>(acc)));
      }
    }
  }
  return r;
}

std::vector<Case> cases() {
  std::vector<Case> cs;
  unsigned variant = 0;
  for (auto [m, k, n] : std::vector<std::array<int64_t, 3>>{{1, 1, 1},
                                                            {3, 7, 5},
                                                            {4, 16, 16},
                                                            {5, 33, 17},
                                                            {9, 64, 40},
                                                            {17, 129, 33}}) {
    for (DType at : {DType::U8, DType::I8}) {
      for (DType bt : {DType::I8, DType::U8}) {
        bool perChannel = (variant++ % 2) != 0;
        cs.push_back({{m, k}, {k, n}, {m, n}, at, bt, perChannel});
      }
    }
  }
  // Batched: a batch of activations against one weight, and the reverse.
  cs.push_back(
      {{2, 3, 5, 24}, {24, 9}, {2, 3, 5, 9}, DType::U8, DType::I8, true});
  cs.push_back(
      {{1, 6, 10}, {3, 10, 18}, {3, 6, 18}, DType::I8, DType::U8, false});
  return cs;
}

TEST(Quantized, MatmulInt32MatchesScalarReference) {
  RecordProperty("int8_kernel", detail::int8KernelName());
  unsigned seed = 1;
  for (const Case &c : cases()) {
    int64_t m = c.a[c.a.size() - 2], n = c.b.back();
    Tensor a = randomTensor(c.at, c.a, lowOf(c.at), highOf(c.at), seed++);
    Tensor b = randomTensor(c.bt, c.b, lowOf(c.bt), highOf(c.bt), seed++);
    Tensor azp = randomTensor(c.at, {c.perChannel ? m : 1}, lowOf(c.at),
                              highOf(c.at), seed++);
    Tensor bzp = randomTensor(c.bt, {c.perChannel ? n : 1}, lowOf(c.bt),
                              highOf(c.bt), seed++);
    Tensor o(DType::I32, c.o);
    ASSERT_EQ(run(makeOp("quantized_matmul"), {&a, &b, &azp, &bzp}, {&o}), "");
    std::vector<int32_t> want = reference(a, b, azp, bzp, c.o);
    int64_t differ = 0;
    for (int64_t i = 0; i < o.size(); ++i) {
      differ += o.as<int32_t>()[i] != want[i];
    }
    EXPECT_EQ(differ, 0) << "shape " << c.a[c.a.size() - 2] << "x" << c.a.back()
                         << "x" << n << " with " << detail::int8KernelName();
  }
}

// The widest differences the operands allow (255 * 255 per product) over a
// long K: pairs and sums stay exact.
TEST(Quantized, MatmulExtremesOverLongK) {
  int64_t m = 5, k = 4099, n = 19;
  Tensor a(DType::U8, {m, k}), b(DType::I8, {k, n});
  for (int64_t i = 0; i < a.size(); ++i) {
    a.set(i, 0);
  }
  for (int64_t i = 0; i < b.size(); ++i) {
    b.set(i, i % 3 == 0 ? 127 : -128);
  }
  Tensor azp = fromValues(DType::U8, {}, {255});
  Tensor bzp = fromValues(DType::I8, {}, {-128});
  Tensor o(DType::I32, {m, n});
  ASSERT_EQ(run(makeOp("quantized_matmul"), {&a, &b, &azp, &bzp}, {&o}), "");
  std::vector<int32_t> want = reference(a, b, azp, bzp, {m, n});
  for (int64_t i = 0; i < o.size(); ++i) {
    ASSERT_EQ(o.as<int32_t>()[i], want[i]) << "element " << i;
  }
}

// The float read-out is f32(acc) * (lhs_scale * rhs_scale[n]), the scale
// product first: exactly what Cast + Mul + Mul compute.
TEST(Quantized, FloatReadoutIsTheGraphsArithmetic) {
  int64_t m = 6, k = 45, n = 21;
  Tensor a = randomTensor(DType::U8, {2, m, k}, 0, 255, 7);
  Tensor b = randomTensor(DType::I8, {k, n}, -128, 127, 8);
  Tensor azp = fromValues(DType::U8, {}, {131});
  Tensor bzp = randomTensor(DType::I8, {n}, -5, 5, 9);
  Tensor as = fromValues(DType::F32, {}, {0.0123f});
  Tensor bs = randomTensor(DType::F32, {n}, 0.001, 0.02, 10);
  Tensor o(DType::F32, {2, m, n});
  ASSERT_EQ(
      run(makeOp("quantized_matmul"), {&a, &b, &azp, &bzp, &as, &bs}, {&o}),
      "");
  std::vector<int32_t> acc = reference(a, b, azp, bzp, {2, m, n});
  for (int64_t i = 0; i < o.size(); ++i) {
    float s = as.as<float>()[0] * bs.as<float>()[i % n];
    ASSERT_EQ(o.as<float>()[i], static_cast<float>(acc[i]) * s)
        << "element " << i;
  }
}

// fp8: e4m3 x e4m3, each output the fp32 sum in ascending k from +0 (the
// NPU's matrix engine's order) times sa * sb[n]; batches broadcast, and a
// row wider than one column block (256) checks the blocks' seams.
TEST(Quantized, Fp8SumsInAscendingKWithTheFloatReadout) {
  int64_t m = 5, k = 77, n = 300;
  Tensor a = randomTensor(DType::F8E4M3, {2, m, k}, -448, 448, 21);
  Tensor b = randomTensor(DType::F8E4M3, {k, n}, -3, 3, 22);
  Tensor z = fromValues(DType::F8E4M3, {}, {0});
  Tensor as = fromValues(DType::F32, {}, {0.0071f});
  Tensor bs = randomTensor(DType::F32, {n}, 0.001, 0.02, 23);
  Tensor o(DType::F32, {2, m, n});
  ASSERT_EQ(run(makeOp("quantized_matmul"), {&a, &b, &z, &z, &as, &bs}, {&o}),
            "");
  bool inexact = false;
  for (int64_t bi = 0; bi < 2; ++bi) {
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        float acc = 0.0f;
        double exact = 0;
        for (int64_t p = 0; p < k; ++p) {
          float prod = static_cast<float>(a.get((bi * m + i) * k + p)) *
                       static_cast<float>(b.get(p * n + j));
          acc += prod;
          exact += prod;
        }
        inexact |= static_cast<double>(acc) != exact;
        float want = acc * (as.as<float>()[0] * bs.as<float>()[j]);
        ASSERT_EQ(o.as<float>()[(bi * m + i) * n + j], want)
            << "element " << bi << "," << i << "," << j;
      }
    }
  }
  EXPECT_TRUE(inexact) << "the sums should round, so the order matters";
  // fp8 has no zero point: a nonzero one is refused, not ignored.
  Tensor one = fromValues(DType::F8E4M3, {}, {1});
  std::string e =
      run(makeOp("quantized_matmul"), {&a, &b, &one, &z, &as, &bs}, {&o});
  EXPECT_NE(e.find("fp8 operands take zero points of 0"), std::string::npos)
      << e;
}

// QLinearMatMul: round half to even of f32(acc) * (sa * sb / sy), plus the
// zero point, saturated.
TEST(Quantized, RequantizeRoundsHalfToEvenAndSaturates) {
  int64_t m = 7, k = 30, n = 18;
  for (DType ot : {DType::U8, DType::I8}) {
    Tensor a = randomTensor(DType::I8, {m, k}, -128, 127, 11);
    Tensor b = randomTensor(DType::U8, {k, n}, 0, 255, 12);
    Tensor azp = fromValues(DType::I8, {}, {-3});
    Tensor bzp = fromValues(DType::U8, {}, {128});
    Tensor as = fromValues(DType::F32, {}, {0.02f});
    Tensor bs = fromValues(DType::F32, {}, {0.01f});
    Tensor ys = fromValues(DType::F32, {}, {0.05f});
    Tensor yz = fromValues(ot, {}, {ot == DType::U8 ? 100.0 : -7.0});
    Tensor o(ot, {m, n});
    ASSERT_EQ(run(makeOp("quantized_matmul"),
                  {&a, &b, &azp, &bzp, &as, &bs, &ys, &yz}, {&o}),
              "");
    std::vector<int32_t> acc = reference(a, b, azp, bzp, {m, n});
    float mult = 0.02f * 0.01f / 0.05f;
    int saturated = 0;
    for (int64_t i = 0; i < o.size(); ++i) {
      double v = std::nearbyint(static_cast<double>(acc[i] * mult)) + yz.get(0);
      double want = std::min(highOf(ot), std::max(lowOf(ot), v));
      saturated += want != v;
      ASSERT_EQ(o.get(i), want) << "element " << i;
    }
    EXPECT_GT(saturated, 0) << "the data should reach saturation";
  }
}

TEST(Quantized, MatmulRefusesMismatchedParameters) {
  Tensor a(DType::U8, {2, 8}), b(DType::I8, {8, 4});
  Tensor azp = fromValues(DType::U8, {}, {0});
  Tensor bzp(DType::I8, {3}); // neither one nor 4 values
  Tensor o(DType::I32, {2, 4});
  std::string e = run(makeOp("quantized_matmul"), {&a, &b, &azp, &bzp}, {&o});
  EXPECT_NE(e.find("zero points must be scalars or one per row"),
            std::string::npos)
      << e;
  Tensor wrongType(DType::U8, {}); // b is i8
  e = run(makeOp("quantized_matmul"), {&a, &b, &azp, &wrongType}, {&o});
  EXPECT_NE(e.find("unsupported dtype"), std::string::npos) << e;
  Tensor i16(DType::I16, {2, 8}), i16zp(DType::I16, {});
  e = run(makeOp("quantized_matmul"), {&i16, &b, &i16zp, &bzp}, {&o});
  EXPECT_NE(e.find("unsupported dtype"), std::string::npos) << e;
}

// A constant weight and zero point are packed once into the op's cache;
// a run with another weight repacks instead of reading a stale panel.
TEST(Quantized, MatmulCachesTheConstantWeightAndNoticesAnother) {
  int64_t m = 9, k = 50, n = 20;
  Tensor a = randomTensor(DType::U8, {m, k}, 0, 255, 31);
  Tensor azp = fromValues(DType::U8, {}, {120});
  Tensor w1 = randomTensor(DType::I8, {k, n}, -128, 127, 32);
  Tensor w2 = randomTensor(DType::I8, {k, n}, -128, 127, 33);
  Tensor wzp = randomTensor(DType::I8, {n}, -3, 3, 34);
  KernelCache cache;
  for (const Tensor *w : {&w1, &w1, &w2, &w1}) {
    std::vector<TensorView> in = {a.view(), w->view(), azp.view(), wzp.view()};
    in[1].constant = in[3].constant = true;
    Tensor o(DType::I32, {m, n});
    ASSERT_EQ(runKernel(makeOp("quantized_matmul"), in, {o.view()}, &cache),
              "");
    std::vector<int32_t> want = reference(a, *w, azp, wzp, {m, n});
    for (int64_t i = 0; i < o.size(); ++i) {
      ASSERT_EQ(o.as<int32_t>()[i], want[i]) << "element " << i;
    }
  }
}

// ONNX's definition, written out: the range includes 0, scale (hi-lo)/255,
// zero point round(saturate(-lo/scale)), y = saturate(round(x/scale) + zp).
void expectDynamicQuantize(const Tensor &x) {
  Tensor y(DType::U8, x.shape), s(DType::F32, {}), z(DType::U8, {});
  ASSERT_EQ(run(makeOp("dynamic_quantize"), {&x}, {&y, &s, &z}), "");
  float lo = 0, hi = 0;
  for (int64_t i = 0; i < x.size(); ++i) {
    lo = std::min(lo, x.as<float>()[i]);
    hi = std::max(hi, x.as<float>()[i]);
  }
  float scale = (hi - lo) / 255.0f;
  float zp =
      scale == 0 ? 0 : std::nearbyint(std::clamp(-lo / scale, 0.0f, 255.0f));
  EXPECT_EQ(s.as<float>()[0], scale);
  EXPECT_EQ(z.as<uint8_t>()[0], static_cast<uint8_t>(zp));
  for (int64_t i = 0; i < x.size(); ++i) {
    float v = scale == 0 ? 0 : std::nearbyint(x.as<float>()[i] / scale) + zp;
    ASSERT_EQ(y.as<uint8_t>()[i],
              static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f)))
        << "element " << i;
  }
}

TEST(Quantized, DynamicQuantizeFollowsOnnx) {
  expectDynamicQuantize(randomTensor(DType::F32, {3, 70000}, -2.5, 4.0, 21));
  expectDynamicQuantize(randomTensor(DType::F32, {64}, 0.5, 3.0, 22));
  expectDynamicQuantize(randomTensor(DType::F32, {64}, -3.0, -0.5, 23));
  expectDynamicQuantize(Tensor(DType::F32, {8})); // all zero: scale 0
  // Ties: x / scale lands on .5 and rounds to even.
  expectDynamicQuantize(
      fromValues(DType::F32, {4}, {0.0, 2.5, 255.0 / 2.0, 255.0}));
}

} // namespace
} // namespace nuri::cpu::test
