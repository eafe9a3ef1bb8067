//===- ElementwiseTest.cpp - Binary, unary, compare, where, cast, quant ---===//

#include "KernelTestUtil.h"

#include <limits>

namespace nuri::cpu::test {
namespace {

/// Numpy broadcasting by hand: the input index of output element i.
int64_t bcastIndex(int64_t i, const std::vector<int64_t> &in,
                   const std::vector<int64_t> &out) {
  std::vector<int64_t> coord(out.size());
  for (int64_t d = int64_t(out.size()) - 1; d >= 0; --d) {
    coord[d] = i % out[d];
    i /= out[d];
  }
  int64_t idx = 0;
  size_t lead = out.size() - in.size();
  for (size_t d = 0; d < in.size(); ++d) {
    idx = idx * in[d] + (in[d] == 1 ? 0 : coord[lead + d]);
  }
  return idx;
}

/// Wraps an exact integer result into dtype t's range, as two's complement.
double wrapInt(DType t, double v) {
  int64_t x = static_cast<int64_t>(v);
  switch (t) {
  case DType::I8:
    return static_cast<int8_t>(x);
  case DType::U8:
    return static_cast<uint8_t>(x);
  case DType::I16:
    return static_cast<int16_t>(x);
  case DType::I32:
    return static_cast<int32_t>(x);
  default:
    return static_cast<double>(x);
  }
}

double refBinary(const std::string &op, double a, double b, bool isInt) {
  if (op == "add")
    return a + b;
  if (op == "sub")
    return a - b;
  if (op == "mul")
    return a * b;
  if (op == "div")
    return isInt ? std::trunc(a / b) : a / b;
  if (op == "pow")
    return std::pow(a, b);
  if (op == "max")
    return std::max(a, b);
  if (op == "min")
    return std::min(a, b);
  // mod: the sign of the divisor, as Python.
  return a - std::floor(a / b) * b;
}

class BinaryTest
    : public ::testing::TestWithParam<std::tuple<std::string, DType>> {};

TEST_P(BinaryTest, BroadcastsLikeNumpy) {
  auto [opName, t] = GetParam();
  bool isInt = !graph::isFloat(t);
  bool isUnsigned = t == DType::U8;
  std::vector<int64_t> sa = {3, 1, 5}, sb = {4, 1}, so = {3, 4, 5};
  double lo = isUnsigned ? 0 : -20, hi = 20;
  Tensor a = randomTensor(t, sa, lo, hi, 31),
         b = randomTensor(t, sb, lo, hi, 32);
  for (int64_t i = 0; i < b.size(); ++i) {
    if (opName == "div" || opName == "mod") {
      if (b.get(i) == 0)
        b.set(i, 3);
    }
    if (opName == "pow") {
      b.set(i, isInt ? double(i % 4) : (i % 5) * 0.5 - 1);
    }
  }
  if (opName == "pow" && !isInt) {
    for (int64_t i = 0; i < a.size(); ++i)
      a.set(i, std::fabs(a.get(i)) + 0.5);
  }
  Tensor o(t, so);
  ASSERT_EQ(run(makeOp(opName), {&a, &b}, {&o}), "");
  std::vector<double> want;
  for (int64_t i = 0; i < o.size(); ++i) {
    double x = a.get(bcastIndex(i, sa, so)), y = b.get(bcastIndex(i, sb, so));
    double r = refBinary(opName, x, y, isInt);
    want.push_back(isInt ? wrapInt(t, r) : roundTo(t, r));
  }
  double rtol = t == DType::BF16 ? 8e-3 : t == DType::F16 ? 1e-3 : 1e-6;
  expectNear(o, want, isInt ? 0 : rtol, isInt ? 0 : 1e-6,
             opName + " " + graph::dtypeName(t));
}

INSTANTIATE_TEST_SUITE_P(
    AllOpsAndDtypes, BinaryTest,
    ::testing::Combine(::testing::Values("add", "sub", "mul", "div", "pow",
                                         "max", "min", "mod"),
                       ::testing::Values(DType::F32, DType::F16, DType::BF16,
                                         DType::F64, DType::I8, DType::I32,
                                         DType::I64, DType::U8)));

TEST(Binary, IntegerDivisionByZeroAndOverflowAreDefined) {
  Tensor a = fromValues(DType::I32, {3}, {7, -2147483648.0, -7});
  Tensor b = fromValues(DType::I32, {3}, {0, -1, 2});
  Tensor o(DType::I32, {3});
  ASSERT_EQ(run(makeOp("div"), {&a, &b}, {&o}), "");
  EXPECT_EQ(o.as<int32_t>()[0], 0);
  EXPECT_EQ(o.as<int32_t>()[1], std::numeric_limits<int32_t>::min());
  EXPECT_EQ(o.as<int32_t>()[2], -3); // truncates
  ASSERT_EQ(run(makeOp("mod"), {&a, &b}, {&o}), "");
  EXPECT_EQ(o.as<int32_t>()[2], 1); // Python: -7 % 2 == 1
}

TEST(Binary, FloatModFollowsDivisorSign) {
  Tensor a = fromValues(DType::F32, {4}, {5.5, -5.5, 5.5, -5.5});
  Tensor b = fromValues(DType::F32, {4}, {2, 2, -2, -2});
  Tensor o(DType::F32, {4});
  ASSERT_EQ(run(makeOp("mod"), {&a, &b}, {&o}), "");
  expectNear(o, {1.5, 0.5, -0.5, -1.5}, 0, 0, "mod");
}

TEST(Binary, Errors) {
  Tensor a(DType::F32, {2, 3}), b(DType::I32, {3}), o(DType::F32, {2, 3});
  std::string e = run(makeOp("add"), {&a, &b}, {&o});
  EXPECT_NE(e.find("add"), std::string::npos) << e;
  EXPECT_NE(e.find("f32, i32"), std::string::npos) << e;
  Tensor c(DType::F32, {4});
  e = run(makeOp("mul"), {&a, &c}, {&o});
  EXPECT_NE(e.find("broadcast"), std::string::npos) << e;
  Tensor s(DType::Bool, {3}), so(DType::Bool, {3});
  e = run(makeOp("add"), {&s, &s}, {&so});
  EXPECT_NE(e.find("bool"), std::string::npos) << e;
}

TEST(Logic, AndOrXorNot) {
  Tensor a = fromValues(DType::Bool, {2, 2}, {0, 0, 1, 1});
  Tensor b = fromValues(DType::Bool, {2}, {0, 1});
  Tensor o(DType::Bool, {2, 2});
  ASSERT_EQ(run(makeOp("and"), {&a, &b}, {&o}), "");
  expectNear(o, {0, 0, 0, 1}, 0, 0, "and");
  ASSERT_EQ(run(makeOp("or"), {&a, &b}, {&o}), "");
  expectNear(o, {0, 1, 1, 1}, 0, 0, "or");
  ASSERT_EQ(run(makeOp("xor"), {&a, &b}, {&o}), "");
  expectNear(o, {0, 1, 1, 0}, 0, 0, "xor");
  ASSERT_EQ(run(makeOp("not"), {&a}, {&o}), "");
  expectNear(o, {1, 1, 0, 0}, 0, 0, "not");
  Tensor f(DType::F32, {2, 2});
  EXPECT_NE(run(makeOp("and"), {&f, &f}, {&o}), "");
}

TEST(Compare, EveryPredicateAndDtype) {
  const char *preds[] = {"eq", "ne", "lt", "le", "gt", "ge"};
  for (DType t : {DType::F32, DType::F16, DType::I64, DType::I32, DType::U8,
                  DType::Bool}) {
    double lo = t == DType::Bool ? 0 : 0, hi = t == DType::Bool ? 1 : 3;
    Tensor a = randomTensor(t, {4, 3}, lo, hi, 41);
    Tensor b = randomTensor(t, {3}, lo, hi, 42);
    for (int p = 0; p < 6; ++p) {
      Tensor o(DType::Bool, {4, 3});
      ASSERT_EQ(run(makeOp("compare", {{"predicate", std::string(preds[p])}}),
                    {&a, &b}, {&o}),
                "");
      std::vector<double> want;
      for (int64_t i = 0; i < 12; ++i) {
        double x = a.get(i), y = b.get(i % 3);
        bool r = p == 0   ? x == y
                 : p == 1 ? x != y
                 : p == 2 ? x < y
                 : p == 3 ? x <= y
                 : p == 4 ? x > y
                          : x >= y;
        want.push_back(r);
      }
      expectNear(o, want, 0, 0,
                 std::string(preds[p]) + " " + graph::dtypeName(t));
    }
  }
  Tensor a(DType::F32, {2}), o(DType::Bool, {2});
  EXPECT_NE(run(makeOp("compare", {{"predicate", std::string("xx")}}), {&a, &a},
                {&o}),
            "");
}

TEST(Where, BroadcastsAllThree) {
  for (DType t : {DType::F32, DType::I64, DType::F16, DType::Bool}) {
    Tensor c = fromValues(DType::Bool, {2, 1}, {1, 0});
    Tensor x = randomTensor(t, {3}, 0, 5, 43),
           y = randomTensor(t, {2, 3}, 0, 5, 44);
    Tensor o(t, {2, 3});
    ASSERT_EQ(run(makeOp("where"), {&c, &x, &y}, {&o}), "");
    std::vector<double> want;
    for (int64_t i = 0; i < 6; ++i) {
      want.push_back(i < 3 ? x.get(i % 3) : y.get(i));
    }
    expectNear(o, want, 0, 0, "where");
  }
}

// --- Unary
// --------------------------------------------------------------------

double refUnary(const std::string &op, double x) {
  if (op == "neg")
    return -x;
  if (op == "abs")
    return std::fabs(x);
  if (op == "sign")
    return x > 0 ? 1 : x < 0 ? -1 : 0;
  if (op == "relu")
    return x > 0 ? x : 0;
  if (op == "exp")
    return std::exp(x);
  if (op == "log")
    return std::log(x);
  if (op == "sqrt")
    return std::sqrt(x);
  if (op == "rsqrt")
    return 1 / std::sqrt(x);
  if (op == "reciprocal")
    return 1 / x;
  if (op == "tanh")
    return std::tanh(x);
  if (op == "erf")
    return std::erf(x);
  if (op == "sigmoid")
    return 1 / (1 + std::exp(-x));
  if (op == "sin")
    return std::sin(x);
  if (op == "cos")
    return std::cos(x);
  if (op == "ceil")
    return std::ceil(x);
  if (op == "floor")
    return std::floor(x);
  if (op == "round")
    return std::nearbyint(x);
  if (op == "silu")
    return x / (1 + std::exp(-x));
  return NAN;
}

class UnaryTest
    : public ::testing::TestWithParam<std::tuple<std::string, DType>> {};

TEST_P(UnaryTest, MatchesLibm) {
  auto [opName, t] = GetParam();
  bool positive = opName == "log" || opName == "sqrt" || opName == "rsqrt";
  Tensor x = randomTensor(t, {5, 7}, positive ? 0.1 : -3, 3, 51);
  if (opName == "round") {
    x.set(0, 2.5);
    x.set(1, -0.5);
    x.set(2, 3.5);
  }
  Tensor o(t, {5, 7});
  ASSERT_EQ(run(makeOp(opName), {&x}, {&o}), "");
  std::vector<double> want;
  for (int64_t i = 0; i < x.size(); ++i) {
    want.push_back(roundTo(t, refUnary(opName, x.get(i))));
  }
  double rtol = t == DType::BF16 ? 8e-3 : t == DType::F16 ? 1e-3 : 2e-6;
  expectNear(o, want, rtol, 1e-6, opName + " " + graph::dtypeName(t));
}

INSTANTIATE_TEST_SUITE_P(
    FloatOps, UnaryTest,
    ::testing::Combine(
        ::testing::Values("neg", "abs", "sign", "relu", "exp", "log", "sqrt",
                          "rsqrt", "reciprocal", "tanh", "erf", "sigmoid",
                          "sin", "cos", "ceil", "floor", "round", "silu"),
        ::testing::Values(DType::F32, DType::F16, DType::BF16, DType::F64)));

TEST(Unary, IntegerNegAbsSignRelu) {
  for (DType t : {DType::I8, DType::I32, DType::I64}) {
    Tensor x = fromValues(t, {4}, {-5, 0, 7, -1});
    Tensor o(t, {4});
    for (const char *op : {"neg", "abs", "sign", "relu"}) {
      ASSERT_EQ(run(makeOp(op), {&x}, {&o}), "");
      std::vector<double> want;
      for (int64_t i = 0; i < 4; ++i)
        want.push_back(refUnary(op, x.get(i)));
      expectNear(o, want, 0, 0, op);
    }
  }
  Tensor xi(DType::I32, {2}), oi(DType::I32, {2});
  std::string e = run(makeOp("exp"), {&xi}, {&oi});
  EXPECT_NE(e.find("exp"), std::string::npos) << e;
  EXPECT_NE(e.find("i32"), std::string::npos) << e;
}

TEST(Unary, GeluBothApproximations) {
  for (DType t : {DType::F32, DType::BF16}) {
    Tensor x = randomTensor(t, {64}, -4, 4, 52);
    for (std::string approx : {"none", "tanh"}) {
      Tensor o(t, {64});
      ASSERT_EQ(run(makeOp("gelu", {{"approximate", approx}}), {&x}, {&o}), "");
      std::vector<double> want;
      for (int64_t i = 0; i < 64; ++i) {
        double v = x.get(i);
        double g = approx == "none"
                       ? 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)))
                       : 0.5 * v *
                             (1 + std::tanh(std::sqrt(2 / M_PI) *
                                            (v + 0.044715 * v * v * v)));
        want.push_back(roundTo(t, g));
      }
      expectNear(o, want, t == DType::F32 ? 2e-6 : 8e-3, 1e-6,
                 "gelu " + approx);
    }
  }
}

TEST(Unary, GeluAndSiluKeepRelativeAccuracyInTheTails) {
  // The vectorized GELU goes through the normal CDF; its negative tail
  // (x * Phi(x) down to 1e-18) must stay accurate in relative terms.
  Tensor x(DType::F32, {2001});
  for (int64_t i = 0; i < x.size(); ++i)
    x.set(i, -9.0 + 18.0 * i / 2000.0);
  for (std::string approx : {"none", "tanh"}) {
    Tensor o(DType::F32, {2001});
    ASSERT_EQ(run(makeOp("gelu", {{"approximate", approx}}), {&x}, {&o}), "");
    std::vector<double> want;
    for (int64_t i = 0; i < x.size(); ++i) {
      double v = x.get(i);
      want.push_back(approx == "none"
                         ? 0.5 * v * std::erfc(-v / std::sqrt(2.0))
                         : v / (1 + std::exp(-2 * std::sqrt(2 / M_PI) *
                                             (v + 0.044715 * v * v * v))));
    }
    // fp32 rounding of the exponent (up to ~60) alone costs ~1e-5 here.
    expectNear(o, want, 2e-5, 0, "gelu " + approx + " tails");
  }
  Tensor o(DType::F32, {2001});
  ASSERT_EQ(run(makeOp("silu"), {&x}, {&o}), "");
  std::vector<double> want;
  for (int64_t i = 0; i < x.size(); ++i)
    want.push_back(x.get(i) / (1 + std::exp(-x.get(i))));
  expectNear(o, want, 2e-5, 0, "silu tails");
}

TEST(Clip, EitherBoundMayBeAbsent) {
  Tensor x = fromValues(DType::F32, {5}, {-3, -1, 0, 2, 9});
  Tensor o(DType::F32, {5});
  ASSERT_EQ(run(makeOp("clip", {{"min", -1.5}, {"max", 6.0}}), {&x}, {&o}), "");
  expectNear(o, {-1.5, -1, 0, 2, 6}, 0, 0, "both");
  ASSERT_EQ(run(makeOp("clip", {{"min", 0.0}}), {&x}, {&o}), "");
  expectNear(o, {0, 0, 0, 2, 9}, 0, 0, "min");
  ASSERT_EQ(run(makeOp("clip", {{"max", 1.0}}), {&x}, {&o}), "");
  expectNear(o, {-3, -1, 0, 1, 1}, 0, 0, "max");
  Tensor xi = fromValues(DType::I64, {3}, {-9, 4, 100});
  Tensor oi(DType::I64, {3});
  ASSERT_EQ(run(makeOp("clip", {{"min", -2.0}, {"max", 50.0}}), {&xi}, {&oi}),
            "");
  expectNear(oi, {-2, 4, 50}, 0, 0, "i64");
  Tensor xb = fromValues(DType::BF16, {2}, {-3, 3});
  Tensor ob(DType::BF16, {2});
  ASSERT_EQ(run(makeOp("clip", {{"min", -1.0}}), {&xb}, {&ob}), "");
  expectNear(ob, {-1, 3}, 0, 0, "bf16");
}

// --- Cast
// ---------------------------------------------------------------------

TEST(Cast, FloatToIntTruncatesToBoolIsNonZero) {
  Tensor x = fromValues(DType::F32, {6}, {-2.7, 2.7, 0, -0.5, NAN, 1e20});
  Tensor i(DType::I32, {6}), b(DType::Bool, {6});
  ASSERT_EQ(run(makeOp("cast"), {&x}, {&i}), "");
  EXPECT_EQ(i.as<int32_t>()[0], -2);
  EXPECT_EQ(i.as<int32_t>()[1], 2);
  EXPECT_EQ(i.as<int32_t>()[3], 0);
  ASSERT_EQ(run(makeOp("cast"), {&x}, {&b}), "");
  expectNear(b, {1, 1, 0, 1, 1, 1}, 0, 0, "to bool");
}

TEST(Cast, FloatsRoundToNearestEven) {
  // 1 + 2^-11 is halfway between two f16 values: ties go to even (1.0).
  double tie = 1.0 + std::ldexp(1.0, -11),
         above = 1.0 + 3 * std::ldexp(1.0, -12);
  Tensor x = fromValues(DType::F32, {3}, {tie, above, 70000});
  Tensor h(DType::F16, {3}), bf(DType::BF16, {3});
  ASSERT_EQ(run(makeOp("cast"), {&x}, {&h}), "");
  EXPECT_EQ(h.get(0), 1.0);
  EXPECT_EQ(h.get(1), 1.0 + std::ldexp(1.0, -10));
  EXPECT_TRUE(std::isinf(h.get(2)));
  ASSERT_EQ(run(makeOp("cast"), {&x}, {&bf}), "");
  EXPECT_EQ(bf.as<uint16_t>()[2], isa::f32ToBf16(70000.0f));
  Tensor back(DType::F32, {3});
  ASSERT_EQ(run(makeOp("cast"), {&bf}, {&back}), "");
  EXPECT_EQ(back.get(2), isa::bf16ToF32(isa::f32ToBf16(70000.0f)));
}

TEST(Cast, HalfConversionsMatchTheIsaBitForBit) {
  // Every f16 and bf16 bit pattern (NaN payloads included) to f32.
  for (DType t : {DType::F16, DType::BF16}) {
    Tensor h(t, {65536});
    for (int64_t i = 0; i < 65536; ++i)
      h.as<uint16_t>()[i] = uint16_t(i);
    Tensor f(DType::F32, {65536});
    ASSERT_EQ(run(makeOp("cast"), {&h}, {&f}), "");
    for (int64_t i = 0; i < 65536; ++i) {
      float want = t == DType::F16 ? isa::f16ToF32(uint16_t(i))
                                   : isa::bf16ToF32(uint16_t(i));
      ASSERT_EQ(isa::floatBits(f.as<float>()[i]), isa::floatBits(want))
          << graph::dtypeName(t) << " pattern " << i;
    }
  }
  // f32 to f16/bf16: random bit patterns (all classes) and rounding ties.
  std::mt19937 rng(7);
  Tensor f(DType::F32, {1 << 20});
  for (int64_t i = 0; i < f.size(); ++i) {
    uint32_t u = static_cast<uint32_t>(rng());
    if (i % 4 == 1)
      u = (u & 0xffffe000u) | 0x1000u; // f16 ties
    if (i % 4 == 2)
      u = (u & 0xffff0000u) | 0x8000u; // bf16 ties
    f.as<float>()[i] = isa::bitsFloat(u);
  }
  for (DType t : {DType::F16, DType::BF16}) {
    Tensor h(t, {1 << 20});
    ASSERT_EQ(run(makeOp("cast"), {&f}, {&h}), "");
    for (int64_t i = 0; i < f.size(); ++i) {
      float v = f.as<float>()[i];
      uint16_t want = t == DType::F16 ? isa::f32ToF16(v) : isa::f32ToBf16(v);
      ASSERT_EQ(h.as<uint16_t>()[i], want)
          << graph::dtypeName(t) << " from 0x" << std::hex << isa::floatBits(v);
    }
  }
}

TEST(Cast, IntegersWrapAndWiden) {
  Tensor x = fromValues(DType::I32, {3}, {300, -1, 7});
  Tensor i8(DType::I8, {3}), u8(DType::U8, {3}), f(DType::F32, {3}),
      i64(DType::I64, {3});
  ASSERT_EQ(run(makeOp("cast"), {&x}, {&i8}), "");
  expectNear(i8, {44, -1, 7}, 0, 0, "i8");
  ASSERT_EQ(run(makeOp("cast"), {&x}, {&u8}), "");
  expectNear(u8, {44, 255, 7}, 0, 0, "u8");
  ASSERT_EQ(run(makeOp("cast"), {&x}, {&f}), "");
  expectNear(f, {300, -1, 7}, 0, 0, "f32");
  ASSERT_EQ(run(makeOp("cast"), {&x}, {&i64}), "");
  expectNear(i64, {300, -1, 7}, 0, 0, "i64");
  Tensor bl = fromValues(DType::Bool, {2}, {1, 0});
  Tensor bf(DType::F16, {2});
  ASSERT_EQ(run(makeOp("cast"), {&bl}, {&bf}), "");
  expectNear(bf, {1, 0}, 0, 0, "bool->f16");
}

// --- Quantize / dequantize
// ------------------------------------------------------

TEST(Quantize, PerTensorRoundsHalfEvenAndSaturates) {
  Tensor x = fromValues(DType::F32, {6}, {0.25, 0.75, -0.25, 100, -100, 0.5});
  Tensor s = fromValues(DType::F32, {}, {0.5});
  Tensor zp = fromValues(DType::I8, {}, {1});
  Tensor q(DType::I8, {6});
  ASSERT_EQ(run(makeOp("quantize"), {&x, &s, &zp}, {&q}), "");
  // x / s = 0.5, 1.5, -0.5, 200, -200, 1 -> RNE 0, 2, -0, ... + 1
  expectNear(q, {1, 3, 1, 127, -128, 2}, 0, 0, "i8");
  Tensor u(DType::U8, {6});
  Tensor zpu = fromValues(DType::U8, {}, {128});
  ASSERT_EQ(run(makeOp("quantize"), {&x, &s, &zpu}, {&u}), "");
  expectNear(u, {128, 130, 128, 255, 0, 129}, 0, 0, "u8");
  Tensor noZp(DType::I8, {6});
  ASSERT_EQ(run(makeOp("quantize"), {&x, &s, nullptr}, {&noZp}), "");
  expectNear(noZp, {0, 2, 0, 127, -128, 1}, 0, 0, "no zero point");
}

TEST(Quantize, PerAxisRoundTrip) {
  Tensor x = randomTensor(DType::F32, {3, 4, 2}, -2, 2, 61);
  Tensor s = fromValues(DType::F32, {4}, {0.01, 0.02, 0.05, 0.1});
  Tensor zp = fromValues(DType::I8, {4}, {0, 3, -2, 5});
  Tensor q(DType::I8, {3, 4, 2});
  ASSERT_EQ(
      run(makeOp("quantize", {{"axis", int64_t(1)}}), {&x, &s, &zp}, {&q}), "");
  std::vector<double> want, back;
  for (int64_t i = 0; i < x.size(); ++i) {
    int64_t c = (i / 2) % 4;
    double v =
        std::nearbyint(double(float(x.get(i)) / float(s.get(c)))) + zp.get(c);
    v = std::min(127.0, std::max(-128.0, v));
    want.push_back(v);
    back.push_back((v - zp.get(c)) * float(s.get(c)));
  }
  expectNear(q, want, 0, 0, "quantize");
  for (DType t : {DType::F32, DType::BF16}) {
    Tensor d(t, {3, 4, 2});
    ASSERT_EQ(
        run(makeOp("dequantize", {{"axis", int64_t(-2)}}), {&q, &s, &zp}, {&d}),
        "");
    std::vector<double> wantT;
    for (double v : back)
      wantT.push_back(roundTo(t, v));
    expectNear(d, wantT, 1e-6, 1e-7, "dequantize");
  }
  Tensor bad = fromValues(DType::F32, {3}, {1, 2, 3});
  std::string e = run(makeOp("quantize", {{"axis", int64_t(1)}}),
                      {&x, &bad, nullptr}, {&q});
  EXPECT_NE(e.find("quantize"), std::string::npos) << e;
}

} // namespace
} // namespace nuri::cpu::test
