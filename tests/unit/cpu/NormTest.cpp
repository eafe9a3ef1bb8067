//===- NormTest.cpp - softmax, layer/RMS norm, reductions, rope -----------===//

#include "KernelTestUtil.h"

namespace nuri::cpu::test {
namespace {

const DType kFloatTypes[] = {DType::F32, DType::F16, DType::BF16};

double tol(DType t) {
  return t == DType::F32 ? 1e-5 : t == DType::F16 ? 2e-3 : 1.6e-2;
}

TEST(Softmax, InnerAndOuterAxisAndLog) {
  for (DType t : kFloatTypes) {
    Tensor x = randomTensor(t, {3, 4, 5}, -4, 4, 81);
    for (int64_t axis : {-1, 1}) {
      for (bool lg : {false, true}) {
        Tensor o(t, {3, 4, 5});
        std::map<std::string, graph::AttrValue> attrs = {{"axis", axis}};
        if (lg)
          attrs["log"] = int64_t(1);
        ASSERT_EQ(run(makeOp("softmax", attrs), {&x}, {&o}), "");
        std::vector<double> want(60);
        int64_t n = axis == -1 ? 5 : 4, stride = axis == -1 ? 1 : 5;
        for (int64_t i = 0; i < 60; ++i) {
          int64_t pos = (i / stride) % n, base = i - pos * stride;
          double mx = -INFINITY, sum = 0;
          for (int64_t j = 0; j < n; ++j)
            mx = std::max(mx, x.get(base + j * stride));
          for (int64_t j = 0; j < n; ++j)
            sum += std::exp(x.get(base + j * stride) - mx);
          double v = x.get(i) - mx;
          want[i] = roundTo(t, lg ? v - std::log(sum) : std::exp(v) / sum);
        }
        expectNear(o, want, tol(t), 1e-6, "softmax");
      }
    }
  }
}

TEST(Softmax, MaskedEntriesVanish) {
  Tensor x = fromValues(DType::F32, {4}, {1, -INFINITY, 2, -1e30});
  Tensor o(DType::F32, {4});
  ASSERT_EQ(run(makeOp("softmax", {{"axis", int64_t(0)}}), {&x}, {&o}), "");
  double e1 = std::exp(-1.0);
  expectNear(o, {e1 / (1 + e1), 0, 1 / (1 + e1), 0}, 1e-6, 0, "masked");
}

TEST(LayerNorm, BiasedVarianceScaleBias) {
  for (DType t : kFloatTypes) {
    Tensor x = randomTensor(t, {2, 3, 8}, -3, 3, 82);
    Tensor g = randomTensor(t, {8}, 0.5, 1.5, 83),
           b = randomTensor(t, {8}, -1, 1, 84);
    for (bool withBias : {true, false}) {
      Tensor o(t, {2, 3, 8});
      ASSERT_EQ(
          run(makeOp("layer_norm", {{"axis", int64_t(2)}, {"epsilon", 1e-5}}),
              {&x, &g, withBias ? &b : nullptr}, {&o}),
          "");
      std::vector<double> want;
      for (int64_t r = 0; r < 6; ++r) {
        double mean = 0, var = 0;
        for (int64_t i = 0; i < 8; ++i)
          mean += x.get(r * 8 + i) / 8;
        for (int64_t i = 0; i < 8; ++i)
          var += std::pow(x.get(r * 8 + i) - mean, 2) / 8;
        for (int64_t i = 0; i < 8; ++i)
          want.push_back(roundTo(t, (x.get(r * 8 + i) - mean) /
                                            std::sqrt(var + 1e-5) * g.get(i) +
                                        (withBias ? b.get(i) : 0)));
      }
      expectNear(o, want, tol(t), 1e-5, "layer_norm");
    }
  }
}

TEST(LayerNorm, OverTwoTrailingDims) {
  Tensor x = randomTensor(DType::F32, {2, 3, 4}, -3, 3, 85);
  Tensor g = randomTensor(DType::F32, {4}, 0.5, 1.5, 86);
  Tensor o(DType::F32, {2, 3, 4});
  ASSERT_EQ(run(makeOp("layer_norm", {{"axis", int64_t(1)}, {"epsilon", 1e-3}}),
                {&x, &g, nullptr}, {&o}),
            "");
  std::vector<double> want;
  for (int64_t r = 0; r < 2; ++r) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < 12; ++i)
      mean += x.get(r * 12 + i) / 12;
    for (int64_t i = 0; i < 12; ++i)
      var += std::pow(x.get(r * 12 + i) - mean, 2) / 12;
    for (int64_t i = 0; i < 12; ++i)
      want.push_back((x.get(r * 12 + i) - mean) / std::sqrt(var + 1e-3) *
                     g.get(i % 4));
  }
  expectNear(o, want, 1e-5, 1e-5, "layer_norm 2 dims");
}

TEST(RmsNorm, MatchesFormula) {
  for (DType t : kFloatTypes) {
    Tensor x = randomTensor(t, {3, 16}, -3, 3, 87),
           g = randomTensor(t, {16}, 0.5, 1.5, 88);
    Tensor o(t, {3, 16});
    ASSERT_EQ(
        run(makeOp("rms_norm", {{"axis", int64_t(-1)}, {"epsilon", 1e-6}}),
            {&x, &g}, {&o}),
        "");
    std::vector<double> want;
    for (int64_t r = 0; r < 3; ++r) {
      double ms = 0;
      for (int64_t i = 0; i < 16; ++i)
        ms += std::pow(x.get(r * 16 + i), 2) / 16;
      for (int64_t i = 0; i < 16; ++i)
        want.push_back(
            roundTo(t, x.get(r * 16 + i) / std::sqrt(ms + 1e-6) * g.get(i)));
    }
    expectNear(o, want, tol(t), 1e-5, "rms_norm");
  }
}

TEST(Rope, RotateHalfWithBroadcastTables) {
  for (DType t : kFloatTypes) {
    Tensor x = randomTensor(t, {1, 2, 3, 8}, -2, 2, 89);
    Tensor c = randomTensor(t, {1, 1, 3, 8}, -1, 1, 90),
           s = randomTensor(t, {3, 8}, -1, 1, 91);
    Tensor o(t, {1, 2, 3, 8});
    ASSERT_EQ(run(makeOp("rope"), {&x, &c, &s}, {&o}), "");
    std::vector<double> want;
    for (int64_t i = 0; i < 48; ++i) {
      int64_t j = i % 8, row = i / 8, pos = row % 3;
      double rot = j < 4 ? -x.get(row * 8 + j + 4) : x.get(row * 8 + j - 4);
      want.push_back(
          roundTo(t, x.get(i) * c.get(pos * 8 + j) + rot * s.get(pos * 8 + j)));
    }
    expectNear(o, want, tol(t), 1e-5, "rope");
  }
}

struct ReduceCase {
  std::string op;
  std::vector<int64_t> axes;
  bool keep;
};

class ReduceTest
    : public ::testing::TestWithParam<std::tuple<ReduceCase, DType>> {};

TEST_P(ReduceTest, MatchesLoop) {
  auto [c, t] = GetParam();
  std::vector<int64_t> shape = {3, 4, 5};
  bool isInt = !graph::isFloat(t);
  Tensor x = randomTensor(t, shape, c.op == "reduce_prod" ? 1 : -5,
                          c.op == "reduce_prod" ? 2 : 5, 92);
  std::vector<bool> red(3, false);
  for (int64_t a : c.axes)
    red[(a + 3) % 3] = true;
  std::vector<int64_t> os;
  for (int d = 0; d < 3; ++d) {
    if (!red[d])
      os.push_back(shape[d]);
    else if (c.keep)
      os.push_back(1);
  }
  Tensor o(t, os);
  std::map<std::string, graph::AttrValue> attrs = {{"axes", c.axes}};
  if (c.keep)
    attrs["keep_dims"] = int64_t(1);
  ASSERT_EQ(run(makeOp(c.op, attrs), {&x}, {&o}), "");
  // Accumulate every input element into the output slot it maps to.
  std::vector<double> acc(o.size(), c.op == "reduce_prod"  ? 1
                                    : c.op == "reduce_max" ? -INFINITY
                                    : c.op == "reduce_min" ? INFINITY
                                                           : 0);
  std::vector<int64_t> count(o.size(), 0);
  for (int64_t i = 0; i < x.size(); ++i) {
    int64_t c0 = i / 20, c1 = (i / 5) % 4, c2 = i % 5, coord[3] = {c0, c1, c2};
    int64_t oi = 0;
    for (int d = 0; d < 3; ++d)
      if (!red[d])
        oi = oi * shape[d] + coord[d];
    double v = x.get(i);
    if (c.op == "reduce_sum" || c.op == "reduce_mean")
      acc[oi] += v;
    if (c.op == "reduce_prod")
      acc[oi] *= v;
    if (c.op == "reduce_max")
      acc[oi] = std::max(acc[oi], v);
    if (c.op == "reduce_min")
      acc[oi] = std::min(acc[oi], v);
    ++count[oi];
  }
  for (size_t i = 0; i < acc.size(); ++i) {
    if (c.op == "reduce_mean")
      acc[i] = isInt ? std::trunc(acc[i] / count[i]) : acc[i] / count[i];
    acc[i] = isInt ? acc[i] : roundTo(t, acc[i]);
  }
  expectNear(o, acc, isInt ? 0 : tol(t), isInt ? 0 : 1e-5, c.op);
}

INSTANTIATE_TEST_SUITE_P(
    OpsAxes, ReduceTest,
    ::testing::Combine(
        ::testing::Values(ReduceCase{"reduce_sum", {2}, true},
                          ReduceCase{"reduce_sum", {0, 2}, false},
                          ReduceCase{"reduce_mean", {1}, false},
                          ReduceCase{"reduce_mean", {0, 1, 2}, true},
                          ReduceCase{"reduce_max", {0}, true},
                          ReduceCase{"reduce_min", {-1, 0}, false},
                          ReduceCase{"reduce_prod", {1}, true},
                          ReduceCase{"reduce_sum", {}, false}),
        ::testing::Values(DType::F32, DType::BF16, DType::F64, DType::I64,
                          DType::I32)));

TEST(Reduce, ErrorsNameTheOp) {
  Tensor x(DType::F32, {2, 3}), o(DType::F32, {2});
  std::string e = run(makeOp("reduce_sum", {{"axes", std::vector<int64_t>{5}}}),
                      {&x}, {&o});
  EXPECT_NE(e.find("reduce_sum"), std::string::npos) << e;
  Tensor b(DType::Bool, {2, 3}), ob(DType::Bool, {2});
  e = run(makeOp("reduce_max", {{"axes", std::vector<int64_t>{1}}}), {&b},
          {&ob});
  EXPECT_NE(e.find("bool"), std::string::npos) << e;
}

} // namespace
} // namespace nuri::cpu::test
