//===- KernelCacheTest.cpp - Weights packed once per op instance ----------===//

#include "KernelTestUtil.h"

#include <thread>

namespace nuri::cpu::test {
namespace {

std::vector<TensorView> views(const std::vector<const Tensor *> &ts,
                              bool constantLast) {
  std::vector<TensorView> v;
  for (const Tensor *t : ts) {
    v.push_back(t ? t->view() : TensorView{});
  }
  if (constantLast) {
    v.back().constant = true;
  }
  return v;
}

/// Same micro-kernel and K blocking: bit for bit the uncached result, except
/// that uncached products with M <= 4 stream B in another summation order.
void expectSame(const Tensor &cached, const Tensor &plain, int64_t m) {
  if (m > 4) {
    EXPECT_EQ(cached.bytes, plain.bytes) << "m " << m;
    return;
  }
  std::vector<double> want;
  for (int64_t i = 0; i < plain.size(); ++i)
    want.push_back(plain.get(i));
  expectNear(cached, want, cached.dtype == DType::F32 ? 1e-5 : 8e-3, 1e-5,
             "m " + std::to_string(m));
}

TEST(KernelCache, ShortRowsEqualTheSameRowsOfALongerProduct) {
  // A packed weight at M = 1..5 (decode steps) takes thin micro-kernels;
  // each row must be the bit-exact row of the M = 13 product.
  Tensor w = randomTensor(DType::F32, {700, 90}, -1, 1, 61);
  Tensor xs = randomTensor(DType::F32, {13, 700}, -1, 1, 62);
  Tensor all(DType::F32, {13, 90});
  KernelCache cache;
  ASSERT_EQ(
      runKernel(makeOp("linear"), views({&xs, &w}, true), {all.view()}, &cache),
      "");
  for (int64_t m = 1; m <= 5; ++m) {
    Tensor x(DType::F32, {m, 700}), y(DType::F32, {m, 90});
    std::copy(xs.bytes.begin(), xs.bytes.begin() + x.bytes.size(),
              x.bytes.begin());
    ASSERT_EQ(
        runKernel(makeOp("linear"), views({&x, &w}, true), {y.view()}, &cache),
        "");
    EXPECT_TRUE(std::equal(y.bytes.begin(), y.bytes.end(), all.bytes.begin()))
        << "m " << m;
  }
}

TEST(KernelCache, PackPoolSharesOneWeightAmongCaches) {
  auto pool = makePackPool();
  Tensor w = randomTensor(DType::F32, {64, 48}, -1, 1, 71);
  Tensor x = randomTensor(DType::F32, {2, 64}, -1, 1, 72);
  Tensor a(DType::F32, {2, 48}), b(DType::F32, {2, 48});
  KernelCache first(pool), second(pool);
  ASSERT_EQ(
      runKernel(makeOp("linear"), views({&x, &w}, true), {a.view()}, &first),
      "");
  // Constants never change; here the bytes do, so that a second cache that
  // packed for itself would see it: one that took the first's packing
  // from the pool still computes with the old weight.
  for (int64_t i = 0; i < w.size(); ++i)
    w.set(i, -w.get(i));
  ASSERT_EQ(
      runKernel(makeOp("linear"), views({&x, &w}, true), {b.view()}, &second),
      "");
  EXPECT_EQ(a.bytes, b.bytes);
  KernelCache alone;
  ASSERT_EQ(
      runKernel(makeOp("linear"), views({&x, &w}, true), {b.view()}, &alone),
      "");
  EXPECT_NE(a.bytes, b.bytes);
}

TEST(KernelCache, LinearReusesPackedWeightsAndNoticesAnother) {
  for (DType t : {DType::F32, DType::BF16}) {
    for (int64_t m : {1, 3, 37, 200}) {
      Tensor x = randomTensor(t, {m, 300}, -1, 1, 51);
      Tensor w = randomTensor(t, {300, 70}, -1, 1, 52);
      Tensor w2 = randomTensor(t, {300, 70}, -1, 1, 53);
      Tensor plain(t, {m, 70}), cached(t, {m, 70});
      ASSERT_EQ(run(makeOp("linear"), {&x, &w}, {&plain}), "");
      KernelCache cache;
      for (int rep = 0; rep < 2; ++rep) {
        ASSERT_EQ(runKernel(makeOp("linear"), views({&x, &w}, true),
                            {cached.view()}, &cache),
                  "");
        expectSame(cached, plain, m);
      }
      // Another weight with the same cache: recomputed, never stale.
      ASSERT_EQ(run(makeOp("linear"), {&x, &w2}, {&plain}), "");
      ASSERT_EQ(runKernel(makeOp("linear"), views({&x, &w2}, true),
                          {cached.view()}, &cache),
                "");
      expectSame(cached, plain, m);
    }
  }
}

TEST(KernelCache, NonConstantWeightsAreReadEveryRun) {
  Tensor x = randomTensor(DType::F32, {8, 16}, -1, 1, 54);
  Tensor w = randomTensor(DType::F32, {16, 40}, -1, 1, 55);
  Tensor a(DType::F32, {8, 40}), b(DType::F32, {8, 40});
  KernelCache cache;
  ASSERT_EQ(
      runKernel(makeOp("linear"), views({&x, &w}, false), {a.view()}, &cache),
      "");
  w.as<float>()[0] += 1.0f; // same pointer, new contents
  ASSERT_EQ(
      runKernel(makeOp("linear"), views({&x, &w}, false), {b.view()}, &cache),
      "");
  EXPECT_NE(a.bytes, b.bytes);
  Tensor fresh(DType::F32, {8, 40});
  ASSERT_EQ(run(makeOp("linear"), {&x, &w}, {&fresh}), "");
  EXPECT_EQ(b.bytes, fresh.bytes);
}

TEST(KernelCache, MatmulWithConstantTransposedRhsAcrossBatches) {
  Tensor l = randomTensor(DType::F32, {3, 45, 64}, -1, 1, 56);
  Tensor r = randomTensor(DType::F32, {50, 64}, -1, 1, 57);
  Tensor plain(DType::F32, {3, 45, 50}), cached(DType::F32, {3, 45, 50});
  graph::Op op = makeOp("matmul", {{"transpose_rhs", int64_t(1)}});
  ASSERT_EQ(run(op, {&l, &r}, {&plain}), "");
  KernelCache cache;
  ASSERT_EQ(runKernel(op, views({&l, &r}, true), {cached.view()}, &cache), "");
  EXPECT_EQ(cached.bytes, plain.bytes);
}

TEST(KernelCache, SharedByConcurrentRuns) {
  Tensor x = randomTensor(DType::F32, {64, 256}, -1, 1, 58);
  Tensor w = randomTensor(DType::F32, {256, 512}, -1, 1, 59);
  Tensor want(DType::F32, {64, 512});
  ASSERT_EQ(run(makeOp("linear"), {&x, &w}, {&want}), "");
  KernelCache cache;
  std::vector<Tensor> outs(8, Tensor(DType::F32, {64, 512}));
  std::vector<std::string> errors(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 5 && errors[t].empty(); ++rep) {
        errors[t] = runKernel(makeOp("linear"), views({&x, &w}, true),
                              {outs[t].view()}, &cache);
      }
    });
  }
  for (std::thread &th : threads)
    th.join();
  for (int t = 0; t < 8; ++t) {
    EXPECT_EQ(errors[t], "");
    EXPECT_EQ(outs[t].bytes, want.bytes) << "thread " << t;
  }
}

} // namespace
} // namespace nuri::cpu::test
