//===- OnnxOpsTest.cpp - Kernels of the opaque ONNX ops -------------------===//
//
// Expected values are worked out by hand from the ONNX operator spec (or
// computed by a direct formula in the test); the ONNX node tests exercise
// the same kernels end to end through the conformance suite.
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"

namespace nuri::cpu::test {
namespace {

graph::Op onnx(const std::string &type,
               std::map<std::string, graph::AttrValue> attrs = {}) {
  attrs["op_type"] = type;
  return makeOp("onnx_op", std::move(attrs));
}

TEST(OnnxOps, HasKernelListsTheImplementedOps) {
  for (const char *t : {"ArgMax",
                        "TopK",
                        "CumSum",
                        "Pad",
                        "Einsum",
                        "GatherElements",
                        "GatherND",
                        "ScatterElements",
                        "OneHot",
                        "LeakyRelu",
                        "Elu",
                        "Selu",
                        "Celu",
                        "HardSigmoid",
                        "HardSwish",
                        "PRelu",
                        "Softplus",
                        "Softsign",
                        "Sinh",
                        "Cosh",
                        "IsNaN",
                        "IsInf",
                        "InstanceNormalization",
                        "BatchNormalization",
                        "LRN",
                        "ReduceL2",
                        "ReduceLogSum",
                        "ReduceLogSumExp",
                        "ReduceSumSquare",
                        "MatMulInteger",
                        "QLinearMatMul",
                        "DynamicQuantizeLinear"}) {
    EXPECT_TRUE(hasKernel(onnx(t))) << t;
  }
  EXPECT_FALSE(hasKernel(onnx("NonZero")));
  Tensor x(DType::F32, {2}), o(DType::F32, {2});
  std::string e = run(onnx("NonZero"), {&x}, {&o});
  EXPECT_NE(e.find("NonZero"), std::string::npos) << e;
}

TEST(OnnxOps, Activations) {
  std::vector<double> xs = {-2, -0.5, 0, 0.5, 3};
  struct Case {
    const char *type;
    std::map<std::string, graph::AttrValue> attrs;
    double (*f)(double);
  };
  std::vector<Case> cases = {
      {"LeakyRelu",
       {{"alpha", 0.1}},
       [](double x) { return x < 0 ? 0.1 * x : x; }},
      {"Elu",
       {{"alpha", 2.0}},
       [](double x) { return x < 0 ? 2 * (std::exp(x) - 1) : x; }},
      {"Selu",
       {},
       [](double x) {
         return x <= 0 ? 1.0507009873554805 * 1.6732632423543772 *
                             (std::exp(x) - 1)
                       : 1.0507009873554805 * x;
       }},
      {"Celu",
       {{"alpha", 2.0}},
       [](double x) {
         return std::max(0.0, x) + std::min(0.0, 2 * (std::exp(x / 2) - 1));
       }},
      {"HardSigmoid",
       {},
       [](double x) { return std::clamp(0.2 * x + 0.5, 0.0, 1.0); }},
      {"HardSwish",
       {},
       [](double x) { return x * std::clamp(x / 6 + 0.5, 0.0, 1.0); }},
      {"Softplus", {}, [](double x) { return std::log(1 + std::exp(x)); }},
      {"Softsign", {}, [](double x) { return x / (1 + std::fabs(x)); }},
      {"Sinh", {}, [](double x) { return std::sinh(x); }},
      {"Cosh", {}, [](double x) { return std::cosh(x); }},
  };
  for (DType t : {DType::F32, DType::F16, DType::F64}) {
    Tensor x = fromValues(t, {5}, xs);
    for (const Case &c : cases) {
      Tensor o(t, {5});
      ASSERT_EQ(run(onnx(c.type, c.attrs), {&x}, {&o}), "") << c.type;
      std::vector<double> want;
      for (int64_t i = 0; i < 5; ++i)
        want.push_back(roundTo(t, c.f(x.get(i))));
      expectNear(o, want, t == DType::F16 ? 1e-3 : 1e-6, 1e-7, c.type);
    }
  }
}

TEST(OnnxOps, IsNaNIsInfPRelu) {
  Tensor x = fromValues(DType::F32, {4}, {1, NAN, INFINITY, -INFINITY});
  Tensor b(DType::Bool, {4});
  ASSERT_EQ(run(onnx("IsNaN"), {&x}, {&b}), "");
  expectNear(b, {0, 1, 0, 0}, 0, 0, "isnan");
  ASSERT_EQ(run(onnx("IsInf", {{"detect_positive", int64_t(0)}}), {&x}, {&b}),
            "");
  expectNear(b, {0, 0, 0, 1}, 0, 0, "isinf negative");
  Tensor p = fromValues(DType::F32, {2, 2}, {-1, 2, -3, 4});
  Tensor s = fromValues(DType::F32, {2}, {0.5, 0.25});
  Tensor o(DType::F32, {2, 2});
  ASSERT_EQ(run(onnx("PRelu"), {&p, &s}, {&o}), "");
  expectNear(o, {-0.5, 2, -1.5, 4}, 0, 0, "prelu");
}

TEST(OnnxOps, ArgMaxKeepdimsAndLastIndex) {
  Tensor x = fromValues(DType::F32, {2, 3}, {1, 5, 5, 7, 2, 7});
  Tensor o(DType::I64, {2, 1});
  ASSERT_EQ(run(onnx("ArgMax", {{"axis", int64_t(1)}}), {&x}, {&o}), "");
  expectNear(o, {1, 0}, 0, 0, "first");
  ASSERT_EQ(run(onnx("ArgMax", {{"axis", int64_t(-1)},
                                {"select_last_index", int64_t(1)}}),
                {&x}, {&o}),
            "");
  expectNear(o, {2, 2}, 0, 0, "last");
  Tensor o0(DType::I64, {3});
  ASSERT_EQ(
      run(onnx("ArgMax", {{"axis", int64_t(0)}, {"keepdims", int64_t(0)}}),
          {&x}, {&o0}),
      "");
  expectNear(o0, {1, 0, 1}, 0, 0, "axis 0");
}

TEST(OnnxOps, TopKLargestAndSmallest) {
  Tensor x = fromValues(DType::F32, {2, 4}, {3, 1, 4, 1, 5, 9, 2, 6});
  Tensor k = fromValues(DType::I64, {1}, {2});
  Tensor v(DType::F32, {2, 2}), i(DType::I64, {2, 2});
  ASSERT_EQ(run(onnx("TopK", {{"axis", int64_t(1)}}), {&x, &k}, {&v, &i}), "");
  expectNear(v, {4, 3, 9, 6}, 0, 0, "values");
  expectNear(i, {2, 0, 1, 3}, 0, 0, "indices");
  ASSERT_EQ(run(onnx("TopK", {{"largest", int64_t(0)}}), {&x, &k}, {&v, &i}),
            "");
  expectNear(v, {1, 1, 2, 5}, 0, 0, "smallest values");
  expectNear(i, {1, 3, 2, 0}, 0, 0, "ties keep the lower index first");
  Tensor big = fromValues(DType::I64, {1}, {5});
  EXPECT_NE(run(onnx("TopK"), {&x, &big}, {&v, &i}), "");
}

TEST(OnnxOps, CumSumExclusiveReverse) {
  Tensor x = fromValues(DType::F32, {4}, {1, 2, 3, 4});
  Tensor axis = fromValues(DType::I32, {}, {0});
  Tensor o(DType::F32, {4});
  ASSERT_EQ(run(onnx("CumSum"), {&x, &axis}, {&o}), "");
  expectNear(o, {1, 3, 6, 10}, 0, 0, "plain");
  ASSERT_EQ(
      run(onnx("CumSum", {{"exclusive", int64_t(1)}, {"reverse", int64_t(1)}}),
          {&x, &axis}, {&o}),
      "");
  expectNear(o, {9, 7, 4, 0}, 0, 0, "exclusive reverse");
  Tensor xi = fromValues(DType::I64, {2, 2}, {1, 2, 3, 4});
  Tensor ax1 = fromValues(DType::I64, {}, {-1});
  Tensor oi(DType::I64, {2, 2});
  ASSERT_EQ(run(onnx("CumSum"), {&xi, &ax1}, {&oi}), "");
  expectNear(oi, {1, 3, 3, 7}, 0, 0, "int axis -1");
}

TEST(OnnxOps, PadModes) {
  Tensor x = fromValues(DType::F32, {2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor pads = fromValues(DType::I64, {4}, {0, 2, 1, 1});
  Tensor cv = fromValues(DType::F32, {}, {9});
  Tensor o(DType::F32, {3, 6});
  ASSERT_EQ(run(onnx("Pad"), {&x, &pads, &cv}, {&o}), "");
  expectNear(o, {9, 9, 1, 2, 3, 9, 9, 9, 4, 5, 6, 9, 9, 9, 9, 9, 9, 9}, 0, 0,
             "constant");
  ASSERT_EQ(
      run(onnx("Pad", {{"mode", std::string("edge")}}), {&x, &pads}, {&o}), "");
  expectNear(o, {1, 1, 1, 2, 3, 3, 4, 4, 4, 5, 6, 6, 4, 4, 4, 5, 6, 6}, 0, 0,
             "edge");
  ASSERT_EQ(
      run(onnx("Pad", {{"mode", std::string("reflect")}}), {&x, &pads}, {&o}),
      "");
  expectNear(o, {3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5, 3, 2, 1, 2, 3, 2}, 0, 0,
             "reflect");
}

TEST(OnnxOps, EinsumEquations) {
  Tensor a = randomTensor(DType::F32, {2, 3, 4}, -1, 1, 1),
         b = randomTensor(DType::F32, {2, 4, 5}, -1, 1, 2);
  Tensor o(DType::F32, {2, 3, 5});
  ASSERT_EQ(run(onnx("Einsum", {{"equation", std::string("bij, bjk -> bik")}}),
                {&a, &b}, {&o}),
            "");
  std::vector<double> want;
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t k = 0; k < 5; ++k) {
        double s = 0;
        for (int64_t j = 0; j < 4; ++j)
          s += a.get((n * 3 + i) * 4 + j) * b.get((n * 4 + j) * 5 + k);
        want.push_back(s);
      }
  expectNear(o, want, 1e-5, 1e-6, "batch matmul");
  Tensor m = randomTensor(DType::F32, {2, 3, 3}, -1, 1, 3),
         d(DType::F32, {2, 3});
  ASSERT_EQ(run(onnx("Einsum", {{"equation", std::string("...ii->...i")}}),
                {&m}, {&d}),
            "");
  want.clear();
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t i = 0; i < 3; ++i)
      want.push_back(m.get((n * 3 + i) * 3 + i));
  expectNear(d, want, 0, 0, "batch diagonal");
  Tensor t(DType::F32, {3, 2, 2});
  Tensor m2 = randomTensor(DType::F32, {2, 3}, -1, 1, 4),
         tr(DType::F32, {3, 2});
  ASSERT_EQ(
      run(onnx("Einsum", {{"equation", std::string("ij->ji")}}), {&m2}, {&tr}),
      "");
  expectNear(tr,
             {m2.get(0), m2.get(3), m2.get(1), m2.get(4), m2.get(2), m2.get(5)},
             0, 0, "transpose");
  Tensor v = fromValues(DType::F32, {3}, {1, 2, 3}), dot(DType::F32, {});
  ASSERT_EQ(
      run(onnx("Einsum", {{"equation", std::string("i,i")}}), {&v, &v}, {&dot}),
      "");
  expectNear(dot, {14}, 0, 0, "inner product");
  (void)t;
}

TEST(OnnxOps, GatherElementsScatterElementsGatherND) {
  Tensor x = fromValues(DType::F32, {2, 2}, {1, 2, 3, 4});
  Tensor idx = fromValues(DType::I64, {2, 2}, {0, 0, 1, -2});
  Tensor o(DType::F32, {2, 2});
  ASSERT_EQ(
      run(onnx("GatherElements", {{"axis", int64_t(1)}}), {&x, &idx}, {&o}),
      "");
  expectNear(o, {1, 1, 4, 3}, 0, 0, "gather elements");
  Tensor bad = fromValues(DType::I64, {2, 2}, {0, 0, 2, 0});
  std::string e =
      run(onnx("GatherElements", {{"axis", int64_t(1)}}), {&x, &bad}, {&o});
  EXPECT_NE(e.find("out of range"), std::string::npos) << e;

  Tensor data(DType::F32, {1, 5});
  Tensor si = fromValues(DType::I64, {1, 3}, {1, 3, 1});
  Tensor su = fromValues(DType::F32, {1, 3}, {1.5, 2.5, 3.5});
  Tensor so(DType::F32, {1, 5});
  ASSERT_EQ(run(onnx("ScatterElements",
                     {{"axis", int64_t(1)}, {"reduction", std::string("add")}}),
                {&data, &si, &su}, {&so}),
            "");
  expectNear(so, {0, 5, 0, 2.5, 0}, 0, 0, "scatter add with duplicates");

  Tensor nd = fromValues(DType::I32, {2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  Tensor ndi = fromValues(DType::I64, {2, 1}, {1, 0});
  Tensor ndo(DType::I32, {2, 2});
  ASSERT_EQ(
      run(onnx("GatherND", {{"batch_dims", int64_t(1)}}), {&nd, &ndi}, {&ndo}),
      "");
  expectNear(ndo, {2, 3, 4, 5}, 0, 0, "gather nd batch_dims 1");
}

TEST(OnnxOps, OneHotNegativeIndicesAndAxis) {
  Tensor idx = fromValues(DType::I64, {3}, {0, -1, 5});
  Tensor depth = fromValues(DType::F32, {}, {3});
  Tensor vals = fromValues(DType::F32, {2}, {0, 7});
  Tensor o(DType::F32, {3, 3});
  ASSERT_EQ(
      run(onnx("OneHot", {{"axis", int64_t(0)}}), {&idx, &depth, &vals}, {&o}),
      "");
  // Axis 0: o[d][i] = 7 where idx[i] == d; 5 is out of range (all off).
  expectNear(o, {7, 0, 0, 0, 0, 0, 0, 7, 0}, 0, 0, "one hot axis 0");
}

TEST(OnnxOps, InstanceBatchNormAndLrn) {
  Tensor x = fromValues(DType::F32, {1, 2, 2}, {1, 3, 2, 6});
  Tensor sc = fromValues(DType::F32, {2}, {1, 2}),
         bias = fromValues(DType::F32, {2}, {0, 1});
  Tensor o(DType::F32, {1, 2, 2});
  ASSERT_EQ(run(onnx("InstanceNormalization", {{"epsilon", 0.0}}),
                {&x, &sc, &bias}, {&o}),
            "");
  expectNear(o, {-1, 1, -1, 3}, 1e-6, 1e-6, "instance norm");
  Tensor mean = fromValues(DType::F32, {2}, {1, 2}),
         var = fromValues(DType::F32, {2}, {4, 1});
  ASSERT_EQ(run(onnx("BatchNormalization", {{"epsilon", 0.0}}),
                {&x, &sc, &bias, &mean, &var}, {&o}),
            "");
  expectNear(o, {0, 1, 1, 9}, 1e-6, 1e-6, "batch norm");
  Tensor l = fromValues(DType::F32, {1, 3, 1}, {1, 2, 3}),
         lo(DType::F32, {1, 3, 1});
  ASSERT_EQ(run(onnx("LRN", {{"size", int64_t(3)},
                             {"alpha", 3.0},
                             {"beta", 1.0},
                             {"bias", 1.0}}),
                {&l}, {&lo}),
            "");
  // size 3 window: channel 0 sees {1, 2}, 1 sees {1, 2, 3}, 2 sees {2, 3}.
  expectNear(lo, {1 / (1 + 5.0), 2 / (1 + 14.0), 3 / (1 + 13.0)}, 1e-6, 0,
             "lrn");
}

TEST(OnnxOps, ReductionsWithAxesInputOrAttribute) {
  Tensor x = fromValues(DType::F32, {2, 2}, {1, 2, 3, 4});
  Tensor axes = fromValues(DType::I64, {1}, {1});
  Tensor o(DType::F32, {2, 1});
  ASSERT_EQ(run(onnx("ReduceL2"), {&x, &axes}, {&o}), "");
  expectNear(o, {std::sqrt(5.0), 5}, 1e-6, 0, "l2");
  ASSERT_EQ(run(onnx("ReduceSumSquare", {{"axes", std::vector<int64_t>{1}}}),
                {&x}, {&o}),
            "");
  expectNear(o, {5, 25}, 0, 0, "sum square (attribute axes)");
  ASSERT_EQ(run(onnx("ReduceLogSum"), {&x, &axes}, {&o}), "");
  expectNear(o, {std::log(3.0), std::log(7.0)}, 1e-6, 0, "log sum");
  ASSERT_EQ(run(onnx("ReduceLogSumExp"), {&x, &axes}, {&o}), "");
  expectNear(o,
             {std::log(std::exp(1.0) + std::exp(2.0)),
              std::log(std::exp(3.0) + std::exp(4.0))},
             1e-6, 0, "log sum exp");
  Tensor all(DType::F32, {1, 1});
  ASSERT_EQ(run(onnx("ReduceSumSquare"), {&x}, {&all}), "");
  expectNear(all, {30}, 0, 0, "empty axes reduce all");
}

TEST(OnnxOps, IntegerAndQuantizedProducts) {
  Tensor a = fromValues(DType::U8, {2, 3}, {11, 7, 3, 10, 6, 2});
  Tensor b = fromValues(DType::U8, {3, 2}, {1, 4, 2, 5, 3, 6});
  Tensor azp = fromValues(DType::U8, {}, {12});
  Tensor bzp = fromValues(DType::U8, {}, {0});
  Tensor o(DType::I32, {2, 2});
  ASSERT_EQ(run(onnx("MatMulInteger"), {&a, &b, &azp, &bzp}, {&o}), "");
  // (a - 12) = [[-1,-5,-9],[-2,-6,-10]]
  expectNear(o, {-1 - 10 - 27, -4 - 25 - 54, -2 - 12 - 30, -8 - 30 - 60}, 0, 0,
             "matmulinteger");

  Tensor as = fromValues(DType::F32, {}, {0.5}),
         bs = fromValues(DType::F32, {}, {0.25});
  Tensor ys = fromValues(DType::F32, {}, {0.125}),
         yzp = fromValues(DType::U8, {}, {100});
  Tensor bzp2 = fromValues(DType::U8, {}, {2});
  Tensor q(DType::U8, {2, 2});
  ASSERT_EQ(run(onnx("QLinearMatMul"),
                {&a, &as, &azp, &b, &bs, &bzp2, &ys, &yzp}, {&q}),
            "");
  // (a-12)(b-2) then * 0.5*0.25/0.125 = 1, + 100, saturated to [0, 255].
  std::vector<double> want;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      double s = 0;
      for (int p = 0; p < 3; ++p)
        s += (a.get(i * 3 + p) - 12) * (b.get(p * 2 + j) - 2);
      want.push_back(std::clamp(s + 100, 0.0, 255.0));
    }
  expectNear(q, want, 0, 0, "qlinearmatmul");

  Tensor x = fromValues(DType::F32, {4}, {0, 2, -3, -2.5});
  Tensor y(DType::U8, {4}), scale(DType::F32, {}), zp(DType::U8, {});
  ASSERT_EQ(run(onnx("DynamicQuantizeLinear"), {&x}, {&y, &scale, &zp}), "");
  float s = 5.0f / 255.0f;
  EXPECT_FLOAT_EQ(static_cast<float>(scale.get(0)), s);
  double z = std::nearbyint(3.0f / s);
  EXPECT_EQ(zp.get(0), z);
  expectNear(
      y, {z, std::nearbyint(2.0f / s) + z, 0, std::nearbyint(-2.5f / s) + z}, 0,
      0, "dql");
}

} // namespace
} // namespace nuri::cpu::test
