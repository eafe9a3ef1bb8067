//===- KvCacheTest.cpp - cache_write and cache_attention ------------------===//
//
// cache_attention must equal plain attention over each row's cache prefix
// gathered into a dense tensor; cache_write must touch only the new rows.
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"

namespace nuri::cpu::test {
namespace {

/// cache[slots[b], :, 0:context, :] for every batch row, dense.
Tensor gatherPrefix(const Tensor &cache, const std::vector<int64_t> &slots,
                    int64_t context) {
  int64_t h = cache.shape[1], m = cache.shape[2], d = cache.shape[3];
  int64_t b = static_cast<int64_t>(slots.size());
  Tensor out(cache.dtype, {b, h, context, d});
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t hi = 0; hi < h; ++hi)
      for (int64_t j = 0; j < context; ++j)
        for (int64_t c = 0; c < d; ++c)
          out.set(((bi * h + hi) * context + j) * d + c,
                  cache.get(((slots[bi] * h + hi) * m + j) * d + c));
  return out;
}

struct CacheCase {
  int64_t batch, hq, hkv, sq, context, slots, maxSeq, d;
  bool causal;
};

class CacheAttentionTest
    : public ::testing::TestWithParam<std::tuple<CacheCase, DType>> {};

TEST_P(CacheAttentionTest, EqualsAttentionOverTheGatheredPrefix) {
  auto [c, t] = GetParam();
  Tensor q = randomTensor(t, {c.batch, c.hq, c.sq, c.d}, -1, 1, 31);
  Tensor kc = randomTensor(t, {c.slots, c.hkv, c.maxSeq, c.d}, -1, 1, 32);
  Tensor vc = randomTensor(t, {c.slots, c.hkv, c.maxSeq, c.d}, -1, 1, 33);
  // Rows own slots in reverse order, so a kernel that reads slot b for
  // row b fails.
  std::vector<int64_t> slotIds;
  for (int64_t b = 0; b < c.batch; ++b)
    slotIds.push_back(c.slots - 1 - b);
  Tensor slots(DType::I64, {c.batch});
  for (int64_t b = 0; b < c.batch; ++b)
    slots.set(b, double(slotIds[b]));
  // Each row hides a different tail of the context.
  Tensor mask(t, {c.batch, 1, 1, c.context});
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t j = 0; j < c.context; ++j)
      mask.set(b * c.context + j, j <= c.context - 1 - b ? 0.0 : -1e9);
  double scale = 1.0 / std::sqrt(double(c.d));
  std::map<std::string, graph::AttrValue> attrs = {
      {"scale", scale}, {"context_length", c.context}};
  if (c.causal)
    attrs["causal"] = int64_t(1);
  Tensor got(t, {c.batch, c.hq, c.sq, c.d});
  ASSERT_EQ(run(makeOp("cache_attention", attrs), {&q, &kc, &vc, &slots, &mask},
                {&got}),
            "");
  Tensor k = gatherPrefix(kc, slotIds, c.context);
  Tensor v = gatherPrefix(vc, slotIds, c.context);
  attrs.erase("context_length");
  Tensor want(t, {c.batch, c.hq, c.sq, c.d});
  ASSERT_EQ(run(makeOp("attention", attrs), {&q, &k, &v, &mask}, {&want}), "");
  std::vector<double> w(want.size());
  for (int64_t i = 0; i < want.size(); ++i)
    w[i] = want.get(i);
  expectNear(got, w, 0, 0, "cache_attention"); // the same core, bit for bit
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, CacheAttentionTest,
    ::testing::Combine(
        ::testing::Values(CacheCase{1, 4, 4, 1, 11, 4, 64, 32, false},
                          CacheCase{3, 8, 2, 1, 300, 4, 512, 16, false},
                          CacheCase{2, 4, 4, 5, 40, 2, 40, 8, true}),
        ::testing::Values(DType::F32, DType::BF16)));

TEST(CacheWrite, WritesOnlyTheNewRowsInPlace) {
  Tensor cache = randomTensor(DType::F32, {3, 2, 8, 4}, -1, 1, 41);
  Tensor before = cache;
  Tensor update = randomTensor(DType::F32, {2, 2, 3, 4}, -1, 1, 42);
  Tensor slots = fromValues(DType::I64, {2}, {2, 0});
  Tensor pos = fromValues(DType::I64, {2}, {5, 1});
  // In place: the output is the cache's own storage.
  ASSERT_EQ(
      run(makeOp("cache_write"), {&cache, &update, &slots, &pos}, {&cache}),
      "");
  for (int64_t s = 0; s < 3; ++s)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t p = 0; p < 8; ++p)
        for (int64_t c = 0; c < 4; ++c) {
          int64_t i = ((s * 2 + h) * 8 + p) * 4 + c;
          double want = before.get(i);
          for (int64_t b = 0; b < 2; ++b) {
            int64_t slot = b == 0 ? 2 : 0, at = b == 0 ? 5 : 1;
            if (s == slot && p >= at && p < at + 3)
              want = update.get(((b * 2 + h) * 3 + (p - at)) * 4 + c);
          }
          ASSERT_EQ(cache.get(i), want) << "slot " << s << " pos " << p;
        }
  // Into another buffer: the rest is the input cache's.
  Tensor copy(DType::F32, {3, 2, 8, 4});
  ASSERT_EQ(
      run(makeOp("cache_write"), {&before, &update, &slots, &pos}, {&copy}),
      "");
  EXPECT_EQ(copy.bytes, cache.bytes);
}

TEST(CacheWrite, RefusesWritesOutsideTheCache) {
  Tensor cache(DType::F32, {2, 1, 4, 2}), update(DType::F32, {2, 1, 2, 2});
  Tensor pos = fromValues(DType::I64, {2}, {0, 0});
  Tensor badSlot = fromValues(DType::I64, {2}, {0, 2});
  EXPECT_NE(
      run(makeOp("cache_write"), {&cache, &update, &badSlot, &pos}, {&cache})
          .find("slot[1] = 2 is outside 0..1"),
      std::string::npos);
  Tensor twice = fromValues(DType::I64, {2}, {1, 1});
  EXPECT_NE(
      run(makeOp("cache_write"), {&cache, &update, &twice, &pos}, {&cache})
          .find("slot 1 is written by batch rows 0 and 1"),
      std::string::npos);
  Tensor slots = fromValues(DType::I64, {2}, {0, 1});
  Tensor late = fromValues(DType::I64, {2}, {0, 3});
  EXPECT_NE(
      run(makeOp("cache_write"), {&cache, &update, &slots, &late}, {&cache})
          .find("position[1] = 3 is outside 0..2"),
      std::string::npos);
}

TEST(CacheAttention, RefusesASlotOutsideTheCache) {
  Tensor q(DType::F32, {1, 1, 1, 2}), kc(DType::F32, {2, 1, 4, 2}),
      o(DType::F32, {1, 1, 1, 2});
  Tensor slots = fromValues(DType::I64, {1}, {5});
  EXPECT_NE(run(makeOp("cache_attention",
                       {{"scale", 1.0}, {"context_length", int64_t(3)}}),
                {&q, &kc, &kc, &slots}, {&o})
                .find("slot[0] = 5 is outside 0..1"),
            std::string::npos);
}

} // namespace
} // namespace nuri::cpu::test
