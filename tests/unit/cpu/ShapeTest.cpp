//===- ShapeTest.cpp - transpose, reshape, broadcast, concat, slice, ... --===//

#include "KernelTestUtil.h"

namespace nuri::cpu::test {
namespace {

std::vector<int64_t> coords(int64_t i, const std::vector<int64_t> &shape) {
  std::vector<int64_t> c(shape.size());
  for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
    c[d] = i % shape[d];
    i /= shape[d];
  }
  return c;
}

int64_t linear(const std::vector<int64_t> &c,
               const std::vector<int64_t> &shape) {
  int64_t i = 0;
  for (size_t d = 0; d < shape.size(); ++d)
    i = i * shape[d] + c[d];
  return i;
}

const DType kDataTypes[] = {DType::F32, DType::F16,  DType::I64,
                            DType::I8,  DType::Bool, DType::F64};

TEST(Transpose, EveryDtype) {
  for (DType t : kDataTypes) {
    Tensor x = randomTensor(t, {2, 3, 4, 5}, 0, 9, 71);
    std::vector<int64_t> perm = {2, 0, 3, 1}, os = {4, 2, 5, 3};
    Tensor o(t, os);
    ASSERT_EQ(run(makeOp("transpose", {{"permutation", perm}}), {&x}, {&o}),
              "");
    std::vector<double> want(o.size());
    for (int64_t i = 0; i < o.size(); ++i) {
      std::vector<int64_t> oc = coords(i, os), ic(4);
      for (int d = 0; d < 4; ++d)
        ic[perm[d]] = oc[d];
      want[i] = x.get(linear(ic, x.shape));
    }
    expectNear(o, want, 0, 0, std::string("transpose ") + graph::dtypeName(t));
  }
  Tensor x(DType::F32, {2, 3}), o(DType::F32, {3, 2});
  EXPECT_NE(
      run(makeOp("transpose", {{"permutation", std::vector<int64_t>{0, 0}}}),
          {&x}, {&o}),
      "");
}

TEST(Reshape, CopiesRowMajor) {
  Tensor x = randomTensor(DType::I32, {2, 6}, 0, 50, 72), o(DType::I32, {3, 4});
  ASSERT_EQ(run(makeOp("reshape"), {&x}, {&o}), "");
  EXPECT_EQ(x.bytes, o.bytes);
  Tensor bad(DType::I32, {5});
  EXPECT_NE(run(makeOp("reshape"), {&x}, {&bad}), "");
}

TEST(BroadcastTo, Expands) {
  for (DType t : kDataTypes) {
    Tensor x = randomTensor(t, {3, 1}, 0, 9, 73);
    Tensor o(t, {2, 3, 4});
    ASSERT_EQ(run(makeOp("broadcast_to"), {&x}, {&o}), "");
    std::vector<double> want;
    for (int64_t i = 0; i < 24; ++i)
      want.push_back(x.get((i / 4) % 3));
    expectNear(o, want, 0, 0, "broadcast_to");
  }
}

TEST(Concat, ThreeInputsMiddleAxis) {
  for (DType t : kDataTypes) {
    Tensor a = randomTensor(t, {2, 1, 3}, 0, 9, 74),
           b = randomTensor(t, {2, 2, 3}, 0, 9, 75),
           c = randomTensor(t, {2, 0, 3}, 0, 9, 76);
    Tensor o(t, {2, 3, 3});
    ASSERT_EQ(
        run(makeOp("concat", {{"axis", int64_t(-2)}}), {&a, &c, &b}, {&o}), "");
    std::vector<double> want;
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j)
        for (int64_t k = 0; k < 3; ++k)
          want.push_back(j == 0 ? a.get(i * 3 + k)
                                : b.get((i * 2 + j - 1) * 3 + k));
    expectNear(o, want, 0, 0, "concat");
  }
}

TEST(Split, SizesAlongAxis) {
  Tensor x = randomTensor(DType::F32, {2, 7}, 0, 9, 77);
  Tensor a(DType::F32, {2, 3}), b(DType::F32, {2, 4});
  ASSERT_EQ(run(makeOp("split", {{"axis", int64_t(1)},
                                 {"sizes", std::vector<int64_t>{3, 4}}}),
                {&x}, {&a, &b}),
            "");
  std::vector<double> wa, wb;
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 7; ++j)
      (j < 3 ? wa : wb).push_back(x.get(i * 7 + j));
  expectNear(a, wa, 0, 0, "split a");
  expectNear(b, wb, 0, 0, "split b");
  Tensor c(DType::F32, {2, 3});
  EXPECT_NE(run(makeOp("split", {{"axis", int64_t(1)}}), {&x}, {&a, &c}), "");
}

TEST(Slice, StepsIncludingNegative) {
  for (DType t : {DType::F32, DType::I64, DType::Bool}) {
    Tensor x = randomTensor(t, {5, 6}, 0, 9, 78);
    // Rows 4, 2, 0 (limit -1 = past index 0); columns 1, 3.
    Tensor o(t, {3, 2});
    ASSERT_EQ(run(makeOp("slice", {{"starts", std::vector<int64_t>{4, 1}},
                                   {"limits", std::vector<int64_t>{-1, 5}},
                                   {"steps", std::vector<int64_t>{-2, 2}}}),
                  {&x}, {&o}),
              "");
    std::vector<double> want;
    for (int64_t r : {4, 2, 0})
      for (int64_t c : {1, 3})
        want.push_back(x.get(r * 6 + c));
    expectNear(o, want, 0, 0, "slice");
  }
  Tensor x(DType::F32, {4}), o(DType::F32, {3});
  EXPECT_NE(run(makeOp("slice", {{"starts", std::vector<int64_t>{2}},
                                 {"limits", std::vector<int64_t>{8}},
                                 {"steps", std::vector<int64_t>{1}}}),
                {&x}, {&o}),
            "");
}

TEST(Gather, NegativeIndicesAndErrors) {
  for (DType it : {DType::I64, DType::I32}) {
    Tensor table = randomTensor(DType::F32, {4, 3, 2}, -5, 5, 79);
    Tensor idx = fromValues(it, {2, 2}, {0, -1, 2, -3});
    Tensor o(DType::F32, {4, 2, 2, 2});
    ASSERT_EQ(
        run(makeOp("gather", {{"axis", int64_t(1)}}), {&table, &idx}, {&o}),
        "");
    std::vector<double> want;
    int64_t resolved[4] = {0, 2, 2, 0};
    for (int64_t a = 0; a < 4; ++a)
      for (int64_t j = 0; j < 4; ++j)
        for (int64_t c = 0; c < 2; ++c)
          want.push_back(table.get((a * 3 + resolved[j]) * 2 + c));
    expectNear(o, want, 0, 0, "gather axis 1");
    Tensor badIdx = fromValues(it, {2, 2}, {0, -1, 2, -4});
    std::string e =
        run(makeOp("gather", {{"axis", int64_t(1)}}), {&table, &badIdx}, {&o});
    EXPECT_NE(e.find("gather"), std::string::npos);
    EXPECT_NE(e.find("index -4 out of range"), std::string::npos) << e;
    // In range: embedding lookup on axis 0.
    Tensor ids = fromValues(it, {3}, {3, -1, 0});
    Tensor emb(DType::F32, {3, 3, 2});
    ASSERT_EQ(
        run(makeOp("gather", {{"axis", int64_t(0)}}), {&table, &ids}, {&emb}),
        "");
    std::vector<double> w2;
    for (int64_t r : {3, 3, 0})
      for (int64_t k = 0; k < 6; ++k)
        w2.push_back(table.get(r * 6 + k));
    expectNear(emb, w2, 0, 0, "gather axis 0");
  }
  Tensor table(DType::F32, {4}), fidx(DType::F32, {1}), o(DType::F32, {1});
  EXPECT_NE(run(makeOp("gather"), {&table, &fidx}, {&o}), "");
}

TEST(Kernels, ConstantIsNeverExecutedAndUnknownOpsFail) {
  Tensor o(DType::F32, {1});
  EXPECT_NE(run(makeOp("constant"), {}, {&o}), "");
  EXPECT_NE(run(makeOp("frobnicate"), {&o}, {&o}).find("frobnicate"),
            std::string::npos);
  EXPECT_FALSE(hasKernel(makeOp("frobnicate")));
  EXPECT_TRUE(hasKernel(makeOp("attention")));
}

} // namespace
} // namespace nuri::cpu::test
