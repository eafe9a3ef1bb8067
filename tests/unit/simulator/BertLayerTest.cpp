//===- BertLayerTest.cpp - The BERT-layer example end to end --------------===//

#include "TestUtil.h"

#include "BertLayer.h"

#include "nuri/isa/Numerics.h"

#include <cmath>
#include <cstdio>
#include <random>

using namespace nuri;
using namespace nuri::isa;

namespace {

TEST(BertLayer, CheckedInProgramMatchesTheGenerator) {
  target::Target t = test::loadTarget("atom");
  Program gen = examples::buildBertLayer(t, {});
  Result<Program> file = assembleFile(std::string(NURI_SOURCE_DIR) +
                                      "/examples/programs/bert_layer.nasm");
  ASSERT_TRUE(file) << file.error();
  EXPECT_EQ(*encodeProgram(gen), *encodeProgram(*file))
      << "regenerate with: nuri-gen-bert atom -o "
         "examples/programs/bert_layer.nasm";
}

TEST(BertLayer, RunsOnEveryBigTargetWithinTheRoofline) {
  for (const char *name : {"atom", "rngd", "x330"}) {
    target::Target t = test::loadTarget(name);
    examples::BertLayout lay;
    Program p = examples::buildBertLayer(t, {}, &lay);
    sim::SimOptions o;
    o.functional = false;
    sim::Simulator sim(t, o);
    Result<sim::Report> r = sim.run(p);
    ASSERT_TRUE(r) << name << ": " << r.error();
    double computeBound =
        lay.flops / t.peakOpsPerSecond(Dtype::BF16) * t.clockHz;
    double memoryBound = lay.minDramBytes / t.dramBytesPerCycle();
    double bound = std::max(computeBound, memoryBound);
    EXPECT_GE(double(r->cycles.count()), bound) << name;
    // Attention and LayerNorm phases do not shrink with the array, so the
    // biggest chip sits furthest from its bound; 6x flags a broken schedule.
    EXPECT_LT(double(r->cycles.count()), 6 * bound) << name;
    std::printf("%s: %llu cycles, roofline %.0f (compute %.0f, memory %.0f), "
                "MAC utilization %.3f\n",
                name, (unsigned long long)r->cycles.count(), bound,
                computeBound, memoryBound, r->macUtilization);
    EXPECT_EQ(double(r->macs) * 2, lay.flops) << name;
    EXPECT_GE(double(r->dramBytes()), lay.minDramBytes * 0.99) << name;
  }
}

TEST(BertLayer, FunctionalOutputIsLayerNormalized) {
  // With gamma = 1 and beta = 0 every output row of LayerNorm has mean 0 and
  // variance 1: a whole-layer check that does not need a reference model.
  target::Target t = test::loadTarget("atom");
  examples::BertLayout lay;
  Program p = examples::buildBertLayer(t, {}, &lay);
  sim::Simulator sim(t);
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 0.05f);
  auto fillBf16 = [&](uint64_t addr, size_t n, float scale, float bias) {
    std::vector<uint16_t> v(n);
    for (auto &x : v) {
      x = f32ToBf16(bias + scale * nd(rng));
    }
    sim.writeDram(addr, v.data(), n * 2);
  };
  auto fillF32 = [&](uint64_t addr, size_t n) {
    std::vector<float> v(n);
    for (auto &x : v) {
      x = nd(rng);
    }
    sim.writeDram(addr, v.data(), n * 4);
  };
  const size_t S = 128, H = 768, F = 3072;
  fillBf16(lay.x, S * H, 20.0f, 0.0f);
  fillBf16(lay.wqkv, H * 3 * H, 1.0f, 0.0f);
  fillBf16(lay.wo, H * H, 1.0f, 0.0f);
  fillBf16(lay.w1, H * F, 1.0f, 0.0f);
  fillBf16(lay.w2, F * H, 1.0f, 0.0f);
  fillF32(lay.bqkv, 3 * H);
  fillF32(lay.bo, H);
  fillF32(lay.b1, F);
  fillF32(lay.b2, H);
  for (uint64_t g : {lay.ln1g, lay.ln2g}) {
    fillBf16(g, H, 0.0f, 1.0f);
  }
  for (uint64_t b : {lay.ln1b, lay.ln2b}) {
    fillBf16(b, H, 0.0f, 0.0f);
  }
  Result<sim::Report> r = sim.run(p);
  ASSERT_TRUE(r) << r.error();
  std::vector<uint16_t> y(S * H);
  sim.readDram(lay.y, y.data(), y.size() * 2);
  for (size_t row = 0; row < S; ++row) {
    double sum = 0, sq = 0;
    for (size_t c = 0; c < H; ++c) {
      float v = bf16ToF32(y[row * H + c]);
      ASSERT_TRUE(std::isfinite(v)) << row << "," << c;
      sum += v;
      sq += double(v) * v;
    }
    double mean = sum / H, var = sq / H - mean * mean;
    EXPECT_NEAR(mean, 0.0, 0.02) << "row " << row;
    EXPECT_NEAR(var, 1.0, 0.03) << "row " << row;
  }
  // The output is not trivially the same row everywhere.
  EXPECT_NE(std::vector<uint16_t>(y.begin(), y.begin() + H),
            std::vector<uint16_t>(y.begin() + H, y.begin() + 2 * H));
}

} // namespace

namespace {

/// A scalar model of the layer that rounds exactly where the program does:
/// every matmul sums in fp32 in ascending k, epilogues add the f32 bias and
/// round to bf16, softmax and LayerNorm run in fp32.
class BertReference {
public:
  BertReference(unsigned S, unsigned H, unsigned NH, unsigned F)
      : S(S), H(H), NH(NH), DH(H / NH), F(F) {}

  using Mat = std::vector<float>; // row-major, values already rounded

  static float bf(float v) { return roundTo(Dtype::BF16, v); }

  Mat linear(const Mat &a, unsigned K, const Mat &w, unsigned N,
             const std::vector<float> &b, bool gelu) const {
    Mat out(size_t(S) * N);
    for (unsigned i = 0; i < S; ++i) {
      for (unsigned n = 0; n < N; ++n) {
        float acc = 0.0f;
        for (unsigned k = 0; k < K; ++k) {
          acc = acc + a[size_t(i) * K + k] * w[size_t(k) * N + n];
        }
        float v = acc + b[n];
        if (gelu) {
          v = 0.5f * v * (1.0f + std::erf(v * 0.70710678f));
        }
        out[size_t(i) * N + n] = bf(v);
      }
    }
    return out;
  }

  Mat layerNorm(const Mat &a, const Mat &r, const std::vector<float> &g,
                const std::vector<float> &b) const {
    Mat out(size_t(S) * H);
    float invH = 1.0f / float(H);
    for (unsigned i = 0; i < S; ++i) {
      std::vector<float> t(H);
      float mu = 0.0f;
      for (unsigned c = 0; c < H; ++c) {
        t[c] = a[size_t(i) * H + c] + r[size_t(i) * H + c];
        mu = mu + t[c];
      }
      mu = mu * invH;
      float var = 0.0f;
      for (unsigned c = 0; c < H; ++c) {
        t[c] = t[c] - mu;
        var = var + t[c] * t[c];
      }
      var = var * invH;
      var = var + 1e-12f;
      float rstd = 1.0f / std::sqrt(var);
      for (unsigned c = 0; c < H; ++c) {
        out[size_t(i) * H + c] = bf((t[c] * rstd) * g[c] + b[c]);
      }
    }
    return out;
  }

  Mat attention(const Mat &qkv) const {
    Mat ctx(size_t(S) * H);
    unsigned ld = 3 * H;
    for (unsigned h = 0; h < NH; ++h) {
      for (unsigned i = 0; i < S; ++i) {
        std::vector<float> s(S);
        for (unsigned j = 0; j < S; ++j) {
          float acc = 0.0f;
          for (unsigned d = 0; d < DH; ++d) {
            acc = acc + qkv[size_t(i) * ld + h * DH + d] *
                            qkv[size_t(j) * ld + H + h * DH + d];
          }
          s[j] = acc * (1.0f / std::sqrt(float(DH)));
        }
        float m = s[0];
        for (unsigned j = 1; j < S; ++j) {
          m = std::fmax(m, s[j]);
        }
        float sum = 0.0f;
        for (unsigned j = 0; j < S; ++j) {
          s[j] = std::exp(s[j] - m);
          sum = sum + s[j];
        }
        float rcp = 1.0f / sum;
        std::vector<float> p(S);
        for (unsigned j = 0; j < S; ++j) {
          p[j] = bf(s[j] * rcp);
        }
        for (unsigned d = 0; d < DH; ++d) {
          float acc = 0.0f;
          for (unsigned j = 0; j < S; ++j) {
            acc = acc + p[j] * qkv[size_t(j) * ld + 2 * H + h * DH + d];
          }
          ctx[size_t(i) * H + h * DH + d] = bf(acc);
        }
      }
    }
    return ctx;
  }

  unsigned S, H, NH, DH, F;
};

TEST(BertLayer, SmallLayerMatchesAScalarModelBitForBit) {
  // A BERT-shaped layer small enough for a naive reference, split over all
  // 8 cores of atom like the full one.
  examples::BertConfig cfg;
  cfg.seq = 32;
  cfg.hidden = 128;
  cfg.heads = 2;
  cfg.ffn = 512;
  const unsigned S = cfg.seq, H = cfg.hidden, F = cfg.ffn;
  target::Target t = test::loadTarget("atom");
  examples::BertLayout lay;
  Program p = examples::buildBertLayer(t, cfg, &lay);
  sim::Simulator sim(t);
  std::mt19937 rng(11);
  auto bfTensor = [&](uint64_t addr, size_t n, float sd, float mean) {
    std::normal_distribution<float> nd(mean, sd);
    std::vector<float> v(n);
    std::vector<uint16_t> raw(n);
    for (size_t i = 0; i < n; ++i) {
      raw[i] = f32ToBf16(nd(rng));
      v[i] = bf16ToF32(raw[i]);
    }
    sim.writeDram(addr, raw.data(), n * 2);
    return v;
  };
  auto f32Tensor = [&](uint64_t addr, size_t n) {
    std::normal_distribution<float> nd(0.0f, 0.1f);
    std::vector<float> v(n);
    for (float &x : v) {
      x = nd(rng);
    }
    sim.writeDram(addr, v.data(), n * 4);
    return v;
  };
  auto x = bfTensor(lay.x, S * H, 1.0f, 0.0f);
  auto wqkv = bfTensor(lay.wqkv, H * 3 * H, 0.1f, 0.0f);
  auto wo = bfTensor(lay.wo, H * H, 0.1f, 0.0f);
  auto w1 = bfTensor(lay.w1, H * F, 0.1f, 0.0f);
  auto w2 = bfTensor(lay.w2, F * H, 0.05f, 0.0f);
  auto bqkv = f32Tensor(lay.bqkv, 3 * H);
  auto bo = f32Tensor(lay.bo, H);
  auto b1 = f32Tensor(lay.b1, F);
  auto b2 = f32Tensor(lay.b2, H);
  auto g1 = bfTensor(lay.ln1g, H, 0.1f, 1.0f);
  auto be1 = bfTensor(lay.ln1b, H, 0.1f, 0.0f);
  auto g2 = bfTensor(lay.ln2g, H, 0.1f, 1.0f);
  auto be2 = bfTensor(lay.ln2b, H, 0.1f, 0.0f);
  Result<sim::Report> r = sim.run(p);
  ASSERT_TRUE(r) << r.error();

  BertReference ref(S, H, cfg.heads, F);
  auto qkv = ref.linear(x, H, wqkv, 3 * H, bqkv, false);
  auto ctx = ref.attention(qkv);
  auto ao = ref.linear(ctx, H, wo, H, bo, false);
  auto l1 = ref.layerNorm(ao, x, g1, be1);
  auto h1 = ref.linear(l1, H, w1, F, b1, true);
  auto f2 = ref.linear(h1, F, w2, H, b2, false);
  auto y = ref.layerNorm(f2, l1, g2, be2);

  std::vector<uint16_t> got(S * H);
  sim.readDram(lay.y, got.data(), got.size() * 2);
  size_t mismatches = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    mismatches += bf16ToF32(got[i]) != y[i];
  }
  EXPECT_EQ(mismatches, 0u) << "of " << got.size() << " outputs";
  double maxDiff = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    maxDiff = std::max(maxDiff, std::fabs(double(bf16ToF32(got[i])) - y[i]));
  }
  EXPECT_LT(maxDiff, 0.05);
}

} // namespace
