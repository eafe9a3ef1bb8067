//===- AttentionTest.cpp - attention against the naive formula ------------===//

#include "KernelTestUtil.h"

#include <limits>

namespace nuri::cpu::test {
namespace {

/// softmax(scale * q k^T + mask) v per head, materializing the scores.
std::vector<double> naiveAttention(const Tensor &q, const Tensor &k,
                                   const Tensor &v, const Tensor *mask,
                                   double scale, bool causal) {
  int64_t b = q.shape[0], hq = q.shape[1], sq = q.shape[2], d = q.shape[3];
  int64_t hkv = k.shape[1], skv = k.shape[2], dv = v.shape[3];
  std::vector<double> out(b * hq * sq * dv);
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t h = 0; h < hq; ++h) {
      int64_t hk = h / (hq / hkv);
      for (int64_t i = 0; i < sq; ++i) {
        std::vector<double> s(skv);
        for (int64_t j = 0; j < skv; ++j) {
          double dot = 0;
          for (int64_t c = 0; c < d; ++c)
            dot += q.get(((bi * hq + h) * sq + i) * d + c) *
                   k.get(((bi * hkv + hk) * skv + j) * d + c);
          s[j] = dot * scale;
          if (mask) {
            // Right-aligned broadcast of the mask to [B, Hq, Sq, Skv].
            int64_t idx[4] = {bi, h, i, j}, off = 0;
            size_t lead = 4 - mask->shape.size();
            for (size_t dd = 0; dd < mask->shape.size(); ++dd) {
              int64_t ci = mask->shape[dd] == 1 ? 0 : idx[lead + dd];
              off = off * mask->shape[dd] + ci;
            }
            if (mask->dtype == DType::Bool) {
              if (!mask->get(off))
                s[j] = -INFINITY;
            } else {
              s[j] += mask->get(off);
            }
          }
          if (causal && j > i + skv - sq)
            s[j] = -INFINITY;
        }
        double mx = -INFINITY;
        for (double x : s)
          mx = std::max(mx, x);
        double sum = 0;
        for (double &x : s) {
          x = std::exp(x - mx);
          sum += x;
        }
        for (int64_t c = 0; c < dv; ++c) {
          double acc = 0;
          for (int64_t j = 0; j < skv; ++j)
            acc += s[j] / sum * v.get(((bi * hkv + hk) * skv + j) * dv + c);
          out[((bi * hq + h) * sq + i) * dv + c] = acc;
        }
      }
    }
  return out;
}

struct AttnCase {
  int64_t b, hq, hkv, sq, skv, d, dv;
  bool causal;
  int maskKind; // 0 none, 1 float [B,1,1,Skv], 2 bool [Sq,Skv], 3 float full
};

class AttentionTest
    : public ::testing::TestWithParam<std::tuple<AttnCase, DType>> {};

TEST_P(AttentionTest, MatchesNaiveFormula) {
  auto [c, t] = GetParam();
  Tensor q = randomTensor(t, {c.b, c.hq, c.sq, c.d}, -1, 1, 21);
  Tensor k = randomTensor(t, {c.b, c.hkv, c.skv, c.d}, -1, 1, 22);
  Tensor v = randomTensor(t, {c.b, c.hkv, c.skv, c.dv}, -1, 1, 23);
  Tensor mask;
  if (c.maskKind == 1) {
    mask = randomTensor(DType::F32, {c.b, 1, 1, c.skv}, -3, 0, 24);
    mask.set(0, -1e9); // a padded key
  } else if (c.maskKind == 2) {
    mask = Tensor(DType::Bool, {c.sq, c.skv});
    std::mt19937 rng(25);
    for (int64_t i = 0; i < mask.size(); ++i)
      mask.set(i, rng() % 4 != 0);
    for (int64_t i = 0; i < c.sq; ++i)
      mask.set(i * c.skv + c.skv - 1, 1);
  } else if (c.maskKind == 3) {
    mask = randomTensor(t, {c.b, c.hq, c.sq, c.skv}, -2, 2, 26);
  }
  const Tensor *mp = c.maskKind ? &mask : nullptr;
  double scale = 1.0 / std::sqrt(double(c.d));
  Tensor o(t, {c.b, c.hq, c.sq, c.dv});
  std::map<std::string, graph::AttrValue> attrs = {{"scale", scale}};
  if (c.causal)
    attrs["causal"] = int64_t(1);
  ASSERT_EQ(run(makeOp("attention", attrs), {&q, &k, &v, mp}, {&o}), "");
  std::vector<double> want =
      naiveAttention(q, k, v, mp, static_cast<float>(scale), c.causal);
  for (double &w : want)
    w = roundTo(t, w);
  expectNear(o, want, t == DType::F32 ? 1e-4 : 1e-2, 1e-5, "attention");
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionTest,
    ::testing::Combine(
        ::testing::Values(AttnCase{1, 2, 2, 5, 5, 8, 8, false, 0},
                          AttnCase{2, 4, 4, 70, 70, 16, 16, false, 1},
                          AttnCase{1, 8, 2, 33, 33, 32, 24, true, 0},
                          AttnCase{1, 4, 1, 7, 300, 64, 64, true, 2},
                          AttnCase{2, 2, 2, 130, 600, 16, 8, false, 3},
                          AttnCase{1, 3, 3, 1, 17, 8, 8, true, 1},
                          // Decode steps (one query: the direct path), GQA
                          // over a long context, and every mask form.
                          AttnCase{2, 8, 2, 1, 300, 64, 64, false, 2},
                          AttnCase{2, 4, 4, 1, 40, 16, 24, false, 3},
                          AttnCase{1, 2, 1, 65, 300, 8, 8, true, 2},
                          // Causal limits that cut a key block short while
                          // the value rows span several GEMM panels.
                          AttnCase{1, 2, 2, 300, 300, 16, 72, true, 0},
                          AttnCase{1, 2, 1, 100, 130, 64, 48, true, 1}),
        ::testing::Values(DType::F32, DType::F16, DType::BF16)));

TEST(Attention, RowWithoutVisibleKeyIsNaNAsTheFormula) {
  Tensor q = randomTensor(DType::F32, {1, 1, 2, 4}, -1, 1, 1);
  Tensor k = randomTensor(DType::F32, {1, 1, 3, 4}, -1, 1, 2);
  Tensor v = randomTensor(DType::F32, {1, 1, 3, 4}, -1, 1, 3);
  Tensor m = fromValues(DType::Bool, {2, 3}, {0, 0, 0, 1, 0, 1});
  Tensor o(DType::F32, {1, 1, 2, 4});
  ASSERT_EQ(run(makeOp("attention", {{"scale", 0.5}}), {&q, &k, &v, &m}, {&o}),
            "");
  EXPECT_TRUE(std::isnan(o.get(0)));
  expectNear(o, naiveAttention(q, k, v, &m, 0.5, false), 1e-5, 1e-6,
             "masked row");
}

TEST(Attention, DecodeQueryWithoutVisibleKeyIsNaNAsTheFormula) {
  Tensor q = randomTensor(DType::BF16, {1, 2, 1, 4}, -1, 1, 1);
  Tensor k = randomTensor(DType::BF16, {1, 1, 3, 4}, -1, 1, 2);
  Tensor v = randomTensor(DType::BF16, {1, 1, 3, 4}, -1, 1, 3);
  Tensor m = fromValues(DType::Bool, {1, 2, 1, 3}, {0, 0, 0, 1, 0, 1});
  Tensor o(DType::BF16, {1, 2, 1, 4});
  ASSERT_EQ(run(makeOp("attention", {{"scale", 0.5}}), {&q, &k, &v, &m}, {&o}),
            "");
  EXPECT_TRUE(std::isnan(o.get(0)));
  EXPECT_FALSE(std::isnan(o.get(4)));
  std::vector<double> want = naiveAttention(q, k, v, &m, 0.5, false);
  for (double &w : want)
    w = roundTo(DType::BF16, w);
  expectNear(o, want, 1e-2, 1e-5, "masked decode query");
}

TEST(Attention, Errors) {
  Tensor q(DType::F32, {1, 3, 4, 8}), k(DType::F32, {1, 2, 4, 8}),
      v(DType::F32, {1, 2, 4, 8}), o(DType::F32, {1, 3, 4, 8});
  std::string e =
      run(makeOp("attention", {{"scale", 1.0}}), {&q, &k, &v}, {&o});
  EXPECT_NE(e.find("attention"), std::string::npos) << e;
  Tensor qi(DType::I8, {1, 2, 4, 8}), ki(DType::I8, {1, 2, 4, 8}),
      vi(DType::I8, {1, 2, 4, 8}), oi(DType::I8, {1, 2, 4, 8});
  e = run(makeOp("attention", {{"scale", 1.0}}), {&qi, &ki, &vi}, {&oi});
  EXPECT_NE(e.find("unsupported"), std::string::npos) << e;
}

} // namespace
} // namespace nuri::cpu::test
