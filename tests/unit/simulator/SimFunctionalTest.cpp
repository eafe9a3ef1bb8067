//===- SimFunctionalTest.cpp - Every instruction vs a scalar reference ----===//
//
// Each test writes random operands into a core's SRAM, runs one instruction
// on the `tiny` chip, and compares every output bit with a naive scalar
// reference written here (element by element, in the order DESIGN.md fixes).
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

#include "nuri/isa/Numerics.h"

#include <fmt/format.h>

#include <cmath>
#include <random>

using namespace nuri;
using namespace nuri::isa;
using nuri::sim::Simulator;

namespace {

const Dtype kAllTypes[] = {Dtype::I8,  Dtype::I32,  Dtype::F32, Dtype::BF16,
                           Dtype::F16, Dtype::E4M3, Dtype::E5M2};

struct Harness {
  target::Target t = test::loadTarget("tiny");
  std::unique_ptr<Simulator> sim = std::make_unique<Simulator>(t);
  std::mt19937 rng{1234};

  /// Random elements of `d` in a range every op handles (no NaN/inf).
  std::vector<uint8_t> randomTile(Dtype d, size_t n, float lo = -4,
                                  float hi = 4) {
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<uint8_t> out(n * dtypeBytes(d));
    for (size_t i = 0; i < n; ++i) {
      float v = dist(rng);
      if (d == Dtype::I8 || d == Dtype::I32) {
        v = std::round(v * 30);
      }
      storeFromF32(d, out.data(), i, v);
    }
    return out;
  }
  void put(uint64_t addr, const std::vector<uint8_t> &b) {
    sim->writeSram(0, addr, b.data(), b.size());
  }
  std::vector<uint8_t> get(uint64_t addr, size_t n) {
    std::vector<uint8_t> b(n);
    sim->readSram(0, addr, b.data(), n);
    return b;
  }
  sim::Report run(ProgramBuilder &pb) {
    Program p = pb.finish();
    Result<sim::Report> r = sim->run(p);
    if (!r) {
      throw Error(r.error());
    }
    return *r;
  }
};

/// Bitwise equality of element i, treating all NaNs as equal.
void expectSame(Dtype d, const std::vector<uint8_t> &got,
                const std::vector<uint8_t> &want, size_t n,
                const std::string &what) {
  for (size_t i = 0; i < n; ++i) {
    float g = loadAsF32(d, got.data(), i), w = loadAsF32(d, want.data(), i);
    if (std::isnan(g) && std::isnan(w)) {
      continue;
    }
    bool same =
        std::memcmp(got.data() + i * dtypeBytes(d),
                    want.data() + i * dtypeBytes(d), dtypeBytes(d)) == 0;
    ASSERT_TRUE(same) << what << " " << dtypeName(d) << " element " << i
                      << ": got " << g << " want " << w;
  }
}

float refBinary(BinOp op, float x, float y) {
  switch (op) {
  case BinOp::Add:
    return x + y;
  case BinOp::Sub:
    return x - y;
  case BinOp::Mul:
    return x * y;
  case BinOp::Div:
    return x / y;
  case BinOp::Max:
    return std::isnan(x) ? y : std::isnan(y) ? x : (x > y ? x : y);
  case BinOp::Min:
    return std::isnan(x) ? y : std::isnan(y) ? x : (x < y ? x : y);
  }
  return 0;
}

float refUnary(UnOp op, float x) {
  switch (op) {
  case UnOp::Copy:
    return x;
  case UnOp::Neg:
    return -x;
  case UnOp::Abs:
    return x < 0 ? -x : x;
  case UnOp::Relu:
    return x > 0 ? x : 0.0f;
  case UnOp::Exp:
    return std::exp(x);
  case UnOp::Rsqrt:
    return 1.0f / std::sqrt(x);
  case UnOp::Sqrt:
    return std::sqrt(x);
  case UnOp::Recip:
    return 1.0f / x;
  case UnOp::Tanh:
    return std::tanh(x);
  case UnOp::Erf:
    return std::erf(x);
  // The exact fp32 formulas docs/isa.md specifies.
  case UnOp::Gelu:
    return 0.5f * x * (1.0f + std::erf(x * 0.70710678f));
  case UnOp::GeluTanh:
    return x / (1.0f + std::exp(-2.0f * (0.7978845608028654f *
                                         (x + 0.044715f * x * x * x))));
  case UnOp::Silu:
    return x * (1.0f / (1.0f + std::exp(-x)));
  case UnOp::Sigmoid:
    return 1.0f / (1.0f + std::exp(-x));
  }
  return 0;
}

TEST(SimFunctional, MatMulEveryDtypeAccumulateAndOverwrite) {
  struct Pair {
    Dtype a, b;
  } pairs[] = {{Dtype::I8, Dtype::I8},     {Dtype::BF16, Dtype::BF16},
               {Dtype::F16, Dtype::F16},   {Dtype::E4M3, Dtype::E4M3},
               {Dtype::E5M2, Dtype::E5M2}, {Dtype::E4M3, Dtype::E5M2}};
  for (Pair pr : pairs) {
    Harness h;
    const uint64_t m = 11, n = 13, k = 37; // not multiples of the 8x8 array
    uint64_t lda = (k + 3) * dtypeBytes(pr.a), ldb = (n + 5) * dtypeBytes(pr.b);
    auto a1 = h.randomTile(pr.a, m * (lda / dtypeBytes(pr.a)));
    auto b1 = h.randomTile(pr.b, k * (ldb / dtypeBytes(pr.b)));
    auto a2 = h.randomTile(pr.a, m * (lda / dtypeBytes(pr.a)));
    auto b2 = h.randomTile(pr.b, k * (ldb / dtypeBytes(pr.b)));
    h.put(0x0, a1);
    h.put(0x4000, b1);
    h.put(0x8000, a2);
    h.put(0xc000, b2);
    ProgramBuilder pb;
    pb.queue(0, Engine::Matrix)
        .mm(16, {0x0, lda}, {0x4000, ldb}, m, n, k, pr.a, pr.b, false)
        .mm(16, {0x8000, lda}, {0xc000, ldb}, m, n, k, pr.a, pr.b, true);
    h.run(pb);
    std::vector<uint32_t> acc(m * n);
    h.sim->readAcc(0, 16, acc.data(), acc.size());
    bool isInt = pr.a == Dtype::I8;
    for (uint64_t i = 0; i < m; ++i) {
      for (uint64_t j = 0; j < n; ++j) {
        if (isInt) {
          int64_t s = 0;
          for (uint64_t p = 0; p < k; ++p) {
            s += int64_t(int8_t(a1[i * lda + p])) * int8_t(b1[p * ldb + j]);
          }
          for (uint64_t p = 0; p < k; ++p) {
            s += int64_t(int8_t(a2[i * lda + p])) * int8_t(b2[p * ldb + j]);
          }
          ASSERT_EQ(int32_t(acc[i * n + j]), int32_t(uint32_t(s)));
        } else {
          float s = 0.0f;
          for (auto [a, b] : {std::pair{&a1, &b1}, std::pair{&a2, &b2}}) {
            for (uint64_t p = 0; p < k; ++p) {
              float x = loadAsF32(pr.a, a->data() + i * lda, p);
              float y = loadAsF32(pr.b, b->data() + p * ldb, j);
              // The product of two <=11-bit significands is exact in fp32;
              // each sum is one fp32 add (round to nearest even).
              double prod = double(x) * double(y);
              ASSERT_EQ(double(float(prod)), prod);
              s = s + float(prod);
            }
          }
          ASSERT_EQ(floatBits(s), acc[i * n + j])
              << dtypeName(pr.a) << "x" << dtypeName(pr.b) << " (" << i << ","
              << j << ")";
        }
      }
    }
  }
}

TEST(SimFunctional, AccReadEpilogueEveryOutputType) {
  for (bool intAcc : {true, false}) {
    for (Dtype out : kAllTypes) {
      for (Act act : {Act::None, Act::Relu, Act::Gelu, Act::Silu, Act::Tanh,
                      Act::GeluTanh}) {
        Harness h;
        const uint64_t m = 5, n = 9, k = 8;
        Dtype in = intAcc ? Dtype::I8 : Dtype::BF16;
        auto a = h.randomTile(in, m * k), b = h.randomTile(in, k * n);
        h.put(0x0, a);
        h.put(0x1000, b);
        std::vector<uint8_t> scale(n * 4), bias(n * 4);
        std::uniform_real_distribution<float> d(0.001f, 0.05f);
        for (uint64_t j = 0; j < n; ++j) {
          storeFromF32(Dtype::F32, scale.data(), j, d(h.rng));
          if (intAcc) {
            storeFromF32(Dtype::I32, bias.data(), j, float(int(j * 37) - 150));
          } else {
            storeFromF32(Dtype::F32, bias.data(), j, d(h.rng) * 100 - 2);
          }
        }
        h.put(0x2000, scale);
        h.put(0x2100, bias);
        bool useScale = out != Dtype::I32 || act != Act::None;
        // The int8 read-out's float bias after the scale (ISA 1.2).
        bool useObias = intAcc && useScale;
        std::vector<uint8_t> obias(n * 4);
        for (uint64_t j = 0; j < n; ++j) {
          storeFromF32(Dtype::F32, obias.data(), j, d(h.rng) * 40 - 1);
        }
        h.put(0x2200, obias);
        ProgramBuilder pb;
        pb.queue(0, Engine::Matrix)
            .mm(0, {0x0, k * dtypeBytes(in)}, {0x1000, n * dtypeBytes(in)}, m,
                n, k, in, in, false)
            .signal(0);
        Epilogue e;
        e.out = out;
        e.act = act;
        e.useScale = useScale;
        e.scale = 0x2000;
        e.useBias = true;
        e.bias = 0x2100;
        e.useObias = useObias;
        e.obias = 0x2200;
        uint64_t ldd = n * dtypeBytes(out) + 4;
        pb.queue(0, Engine::Vector).wait(0).accRead({0x3000, ldd}, 0, m, n, e);
        h.run(pb);
        std::vector<uint32_t> acc(m * n);
        h.sim->readAcc(0, 0, acc.data(), acc.size());
        std::vector<uint8_t> want(m * ldd), got = h.get(0x3000, m * ldd);
        for (uint64_t i = 0; i < m; ++i) {
          for (uint64_t j = 0; j < n; ++j) {
            float v;
            uint32_t bj;
            std::memcpy(&bj, bias.data() + 4 * j, 4);
            if (intAcc) {
              int32_t x = int32_t(acc[i * n + j] + bj);
              if (!useScale && out == Dtype::I32) {
                std::memcpy(want.data() + i * ldd + 4 * j, &x, 4);
                continue;
              }
              v = float(x);
            } else {
              v = bitsFloat(acc[i * n + j]) + bitsFloat(bj);
            }
            if (useScale) {
              v *= loadAsF32(Dtype::F32, scale.data(), j);
            }
            if (useObias) {
              v += loadAsF32(Dtype::F32, obias.data(), j);
            }
            switch (act) {
            case Act::None:
              break;
            case Act::Relu:
              v = v > 0 ? v : 0.0f;
              break;
            case Act::Gelu:
              v = refUnary(UnOp::Gelu, v);
              break;
            case Act::Silu:
              v = refUnary(UnOp::Silu, v);
              break;
            case Act::Tanh:
              v = std::tanh(v);
              break;
            case Act::GeluTanh:
              v = refUnary(UnOp::GeluTanh, v);
              break;
            }
            storeFromF32(out, want.data() + i * ldd, j, v);
          }
          expectSame(out,
                     std::vector<uint8_t>(got.begin() + i * ldd, got.end()),
                     std::vector<uint8_t>(want.begin() + i * ldd, want.end()),
                     n, "accrd");
        }
      }
    }
  }
}

TEST(SimFunctional, BinaryEveryOpBroadcastAndDtype) {
  for (Dtype st : kAllTypes) {
    for (Dtype dt : {st, Dtype::F32}) {
      for (unsigned op = 0; op < enumCount(FieldKind::BinOp); ++op) {
        for (Bcast bc : {Bcast::None, Bcast::Row, Bcast::Col}) {
          Harness h;
          const uint64_t rows = 6, cols = 19;
          unsigned es = dtypeBytes(st), ed = dtypeBytes(dt);
          uint64_t lds = cols * es + 8, lds1 = bc == Bcast::Col ? es : lds;
          auto x = h.randomTile(st, rows * lds / es);
          auto y = h.randomTile(st, rows * lds / es, 0.5f, 3.0f);
          h.put(0x0, x);
          h.put(0x2000, y);
          ProgramBuilder pb;
          pb.queue(0, Engine::Vector)
              .binary(BinOp(op), bc, {0x4000, cols * ed}, {0x0, lds},
                      {0x2000, lds1}, rows, cols, dt, st);
          h.run(pb);
          std::vector<uint8_t> want(rows * cols * ed);
          for (uint64_t r = 0; r < rows; ++r) {
            for (uint64_t c = 0; c < cols; ++c) {
              float a = loadAsF32(st, x.data() + r * lds, c);
              float b = bc == Bcast::None ? loadAsF32(st, y.data() + r * lds, c)
                        : bc == Bcast::Row
                            ? loadAsF32(st, y.data(), c)
                            : loadAsF32(st, y.data() + r * lds1, 0);
              storeFromF32(dt, want.data(), r * cols + c,
                           refBinary(BinOp(op), a, b));
            }
          }
          expectSame(dt, h.get(0x4000, want.size()), want, rows * cols,
                     std::string("binary ") + enumName(FieldKind::BinOp, op));
        }
      }
    }
  }
}

TEST(SimFunctional, UnaryAndScalarEveryOpAndDtype) {
  for (Dtype st : kAllTypes) {
    for (Dtype dt : {st, Dtype::F32, Dtype::BF16}) {
      for (unsigned op = 0; op < enumCount(FieldKind::UnOp); ++op) {
        Harness h;
        const uint64_t rows = 3, cols = 21;
        unsigned es = dtypeBytes(st), ed = dtypeBytes(dt);
        auto x = h.randomTile(st, rows * cols);
        h.put(0x100, x);
        ProgramBuilder pb;
        pb.queue(0, Engine::Vector)
            .unary(UnOp(op), {0x1000, cols * ed}, {0x100, cols * es}, rows,
                   cols, dt, st)
            .scalar(BinOp(op % 6), {0x2000, cols * ed}, {0x100, cols * es},
                    0.75f, rows, cols, dt, st);
        h.run(pb);
        std::vector<uint8_t> want(rows * cols * ed), want2(rows * cols * ed);
        for (uint64_t i = 0; i < rows * cols; ++i) {
          float v = loadAsF32(st, x.data(), i);
          storeFromF32(dt, want.data(), i, refUnary(UnOp(op), v));
          storeFromF32(dt, want2.data(), i, refBinary(BinOp(op % 6), v, 0.75f));
        }
        expectSame(dt, h.get(0x1000, want.size()), want, rows * cols,
                   std::string("unary ") + enumName(FieldKind::UnOp, op));
        expectSame(dt, h.get(0x2000, want2.size()), want2, rows * cols,
                   "scalar");
      }
    }
  }
}

TEST(SimFunctional, ReduceBcastTransposeFill) {
  for (Dtype st : kAllTypes) {
    Harness h;
    const uint64_t rows = 7, cols = 29;
    unsigned es = dtypeBytes(st);
    auto x = h.randomTile(st, rows * cols);
    h.put(0x0, x);
    ProgramBuilder pb;
    pb.queue(0, Engine::Vector)
        .reduce(RedOp::Sum, 0x1000, {0x0, cols * es}, rows, cols, Dtype::F32,
                st)
        .reduce(RedOp::Max, 0x1100, {0x0, cols * es}, rows, cols, st, st)
        .bcast(Bcast::Col, {0x2000, cols * 4}, 0x1000, rows, cols, Dtype::F32,
               Dtype::F32)
        .bcast(Bcast::Row, {0x3000, cols * es}, 0x0, rows, cols, st, st)
        .transpose({0x4000, rows * es}, {0x0, cols * es}, rows, cols, st)
        .fill({0x5000, cols * es}, -1.75f, rows, cols, st);
    h.run(pb);
    std::vector<uint8_t> sum(rows * 4), mx(rows * es), bc(rows * cols * 4),
        br(rows * cols * es), tr(rows * cols * es), fl(rows * cols * es);
    for (uint64_t r = 0; r < rows; ++r) {
      float s = 0, m = loadAsF32(st, x.data(), r * cols);
      for (uint64_t c = 0; c < cols; ++c) {
        float v = loadAsF32(st, x.data(), r * cols + c);
        s = s + v;
        m = v > m ? v : m;
        std::memcpy(&tr[(c * rows + r) * es], &x[(r * cols + c) * es], es);
        std::memcpy(&br[(r * cols + c) * es], &x[c * es], es);
        storeFromF32(st, fl.data(), r * cols + c, -1.75f);
      }
      storeFromF32(Dtype::F32, sum.data(), r, s);
      storeFromF32(st, mx.data(), r, m);
      for (uint64_t c = 0; c < cols; ++c) {
        storeFromF32(Dtype::F32, bc.data(), r * cols + c, s);
      }
    }
    expectSame(Dtype::F32, h.get(0x1000, sum.size()), sum, rows, "reduce sum");
    expectSame(st, h.get(0x1100, mx.size()), mx, rows, "reduce max");
    expectSame(Dtype::F32, h.get(0x2000, bc.size()), bc, rows * cols,
               "bcast col");
    expectSame(st, h.get(0x3000, br.size()), br, rows * cols, "bcast row");
    expectSame(st, h.get(0x4000, tr.size()), tr, rows * cols, "transpose");
    expectSame(st, h.get(0x5000, fl.size()), fl, rows * cols, "fill");
  }
}

TEST(SimFunctional, DmaStridedCopiesBetweenAllSpaces) {
  Harness h;
  std::vector<uint8_t> src(4096);
  for (size_t i = 0; i < src.size(); ++i) {
    src[i] = uint8_t(i * 7 + 3);
  }
  h.sim->writeDram(0x10000, src.data(), src.size());
  ProgramBuilder pb;
  DmaDesc d; // 3-D: 2 planes x 3 rows x 5 bytes
  d.srcSpace = Space::Dram;
  d.dstSpace = Space::Sram;
  d.src = 0x10000;
  d.dst = 0x100;
  d.bytes = 5;
  d.rows = 3;
  d.planes = 2;
  d.srcStride = 64;
  d.srcPStride = 1024;
  d.dstStride = 8;
  d.dstPStride = 32;
  auto dma = pb.queue(0, Engine::Dma);
  dma.dma(d).signal(0, 0);
  DmaDesc peer; // core 0 SRAM -> core 1 SRAM, then core 1 -> shared -> DRAM
  peer.srcSpace = Space::Sram;
  peer.dstSpace = Space::Peer;
  peer.peerCore = 1;
  peer.src = 0x100;
  peer.dst = 0x200;
  peer.bytes = 64;
  dma.wait(0).dma(peer).signal(0, 1);
  DmaDesc toShared = peer;
  toShared.dstSpace = Space::Shared;
  toShared.dst = 0x40;
  DmaDesc out;
  out.srcSpace = Space::Shared;
  out.dstSpace = Space::Dram;
  out.src = 0x40;
  out.dst = 0x20000;
  out.bytes = 64;
  auto dma1 = pb.queue(1, Engine::Dma);
  toShared.srcSpace = Space::Sram;
  toShared.src = 0x200;
  dma1.wait(0).dma(toShared).signal(1).wait(1).dma(out);
  sim::Report r = h.run(pb);
  std::vector<uint8_t> want(64, 0);
  for (unsigned p = 0; p < 2; ++p) {
    for (unsigned row = 0; row < 3; ++row) {
      for (unsigned b = 0; b < 5; ++b) {
        want[p * 32 + row * 8 + b] = src[p * 1024 + row * 64 + b];
      }
    }
  }
  std::vector<uint8_t> got(64);
  h.sim->readDram(0x20000, got.data(), 64);
  EXPECT_EQ(got, want);
  EXPECT_EQ(r.dramBytesRead, 30u);
  EXPECT_EQ(r.dramBytesWritten, 64u);
  EXPECT_EQ(r.nocBytes, 128u);
}

// A dma.dq of `rows` rows of `cols` packed `bits`-bit values at `src`
// (row pitch `pitch`) into SRAM 0x400 as `out`, with scales at `scale`.
DmaDesc dequantizingLoad(uint64_t src, uint64_t pitch, uint64_t rows,
                         uint64_t cols, uint64_t dstStride, unsigned bits,
                         Dtype out, uint64_t scale, uint64_t scaleStride,
                         uint64_t group) {
  DmaDesc d;
  d.src = src;
  d.srcStride = pitch;
  d.dst = 0x400;
  d.dstStride = dstStride;
  d.rows = rows;
  d.bytes = cols * 2;
  d.expand.bits = bits;
  d.expand.out = out;
  d.expand.scale = scale;
  d.expand.scaleStride = scaleStride;
  d.expand.group = group;
  return d;
}

TEST(SimFunctional, DequantizingLoadExpandsPackedValuesWithTheirScales) {
  // dma.dq: a 6 x 8 tile of int8 (one scale row) and of int4 (groups of 2
  // rows, a scale row each) expanded into bf16 and f16; the reference is
  // written here, value by value: bf16/f16(float(q) * scale[row / group]).
  Harness h;
  const uint64_t rows = 6, cols = 8, src = 0x2000, qs = 0x3000;
  std::vector<int8_t> q(rows * cols);
  std::vector<float> scales(3 * cols);
  for (size_t i = 0; i < q.size(); ++i) {
    q[i] = int8_t(int(h.rng() % 256) - 128);
  }
  for (float &s : scales) {
    s = std::ldexp(float(1 + h.rng() % 1000), -9) * (h.rng() % 2 ? 1 : -1);
  }
  h.sim->writeDram(qs, scales.data(), scales.size() * 4);
  for (unsigned bits : {8u, 4u}) {
    for (Dtype out : {Dtype::BF16, Dtype::F16}) {
      const uint64_t group = bits == 8 ? rows : 2, pitch = 40;
      std::vector<uint8_t> packed(rows * pitch, 0);
      std::vector<int> value(rows * cols);
      for (uint64_t r = 0; r < rows; ++r) {
        for (uint64_t c = 0; c < cols; ++c) {
          int v = bits == 8 ? q[r * cols + c] : q[r * cols + c] >> 4;
          value[r * cols + c] = v;
          if (bits == 8) {
            packed[r * pitch + c] = uint8_t(v);
          } else {
            packed[r * pitch + c / 2] |= uint8_t((v & 15) << (4 * (c % 2)));
          }
        }
      }
      h.sim->writeDram(src, packed.data(), packed.size());
      ProgramBuilder pb;
      DmaDesc d = dequantizingLoad(src, pitch, rows, cols, cols * 2 + 16, bits,
                                   out, qs, cols * 4, group);
      pb.queue(0, Engine::Dma).dma(d);
      sim::Report r = h.run(pb);
      const uint64_t scaleRows = (rows + group - 1) / group;
      EXPECT_EQ(r.dramBytesRead, rows * cols * bits / 8 + scaleRows * cols * 4)
          << "the compressed bytes and the scale rows, not the expanded ones";
      for (uint64_t row = 0; row < rows; ++row) {
        std::vector<uint8_t> want(cols * 2);
        for (uint64_t c = 0; c < cols; ++c) {
          storeFromF32(out, want.data(), c,
                       float(value[row * cols + c]) *
                           scales[(row / group) * cols + c]);
        }
        expectSame(
            out, h.get(d.dst + row * d.dstStride, cols * 2), want, cols,
            fmt::format("qbits {} {} row {}", bits, dtypeName(out), row));
      }
    }
  }
}

TEST(SimFunctional, DequantizingLoadSharesScalesAlongColumns) {
  // dma.dq's qcgroup (ISA 1.4): a [N, K] int4 weight (MatMulNBits' layout)
  // with a scale per row and group of 4 columns, loaded as 3 rows of 12
  // columns starting at group 1; reference value by value.
  Harness h;
  const uint64_t rows = 3, cols = 12, cg = 4, src = 0x2000, qs = 0x3000;
  const uint64_t pitch = 16, sPitch = 5 * 4; // 5 groups a stored row
  std::vector<float> scales(rows * 5);
  for (float &s : scales) {
    s = std::ldexp(float(1 + h.rng() % 1000), -9) * (h.rng() % 2 ? 1 : -1);
  }
  std::vector<uint8_t> packed(rows * pitch, 0);
  std::vector<int> value(rows * cols);
  for (uint64_t r = 0; r < rows; ++r) {
    for (uint64_t c = 0; c < cols; ++c) {
      int v = int(h.rng() % 16) - 8;
      value[r * cols + c] = v;
      packed[r * pitch + c / 2] |= uint8_t((v & 15) << (4 * (c % 2)));
    }
  }
  h.sim->writeDram(qs, scales.data(), scales.size() * 4);
  h.sim->writeDram(src, packed.data(), packed.size());
  ProgramBuilder pb;
  // The scales from the row's second group.
  DmaDesc d = dequantizingLoad(src, pitch, rows, cols, cols * 2, 4, Dtype::BF16,
                               qs + 4, sPitch, 1);
  d.expand.colGroup = cg;
  pb.queue(0, Engine::Dma).dma(d);
  sim::Report r = h.run(pb);
  EXPECT_EQ(r.dramBytesRead, rows * cols / 2 + rows * (cols / cg) * 4)
      << "a scale per row and group of columns";
  EXPECT_EQ(r.dramBytesRead, dmaSourceBytes(d));
  for (uint64_t row = 0; row < rows; ++row) {
    std::vector<uint8_t> want(cols * 2);
    for (uint64_t c = 0; c < cols; ++c) {
      storeFromF32(Dtype::BF16, want.data(), c,
                   float(value[row * cols + c]) * scales[row * 5 + 1 + c / cg]);
    }
    expectSame(Dtype::BF16, h.get(d.dst + row * d.dstStride, cols * 2), want,
               cols, fmt::format("row {}", row));
  }
}

TEST(SimFunctional, IndexedDmaMovesItsAddressByRunTimeValues) {
  // A KV-cache write: cache [slots=4, heads=2, seq=8, dim=16 B]; the new
  // rows of two sequences land at (slot, position) pairs the host wrote
  // into DRAM, so one program serves every step.
  Harness h;
  const uint64_t cache = 0x40000, slotBytes = 2 * 8 * 16, idx = 0x1000;
  std::vector<uint8_t> rows(2 * 2 * 16);
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i] = uint8_t(i + 1);
  }
  h.put(0x100, rows);
  auto program = [&] {
    ProgramBuilder pb;
    auto dma = pb.queue(0, Engine::Dma);
    for (unsigned b = 0; b < 2; ++b) {
      DmaDesc d;
      d.srcSpace = Space::Sram;
      d.dstSpace = Space::Dram;
      d.src = 0x100 + b * 32;
      d.dst = cache;
      d.bytes = 16;
      d.planes = 2; // heads
      d.srcPStride = 16;
      d.dstPStride = 8 * 16;
      DmaIndex ix;
      ix.offsetDst = true;
      ix.index0 = idx + 4 * b; // slot of row b
      ix.scale0 = slotBytes;
      ix.index1 = idx + 8 + 4 * b; // position of row b
      ix.scale1 = 16;
      dma.dmaIndexed(d, ix);
    }
    return pb;
  };
  for (auto [s0, s1, p0, p1] : {std::array<int32_t, 4>{2, 0, 5, 3},
                                std::array<int32_t, 4>{1, 3, 6, 0}}) {
    int32_t ids[4] = {s0, s1, p0, p1};
    h.sim->writeDram(idx, ids, sizeof(ids));
    ProgramBuilder pb = program();
    sim::Report r = h.run(pb);
    EXPECT_EQ(r.dramBytesRead, 4u * 4); // the index words
    EXPECT_EQ(r.dramBytesWritten, 2u * 2 * 16);
    for (unsigned b = 0; b < 2; ++b) {
      for (unsigned head = 0; head < 2; ++head) {
        std::vector<uint8_t> got(16);
        h.sim->readDram(cache + ids[b] * slotBytes + head * 128 +
                            ids[2 + b] * 16,
                        got.data(), 16);
        std::vector<uint8_t> want(rows.begin() + b * 32 + head * 16,
                                  rows.begin() + b * 32 + head * 16 + 16);
        EXPECT_EQ(got, want) << "row " << b << " head " << head;
      }
    }
  }
  // The source side moves too: the last step put row 0 (head 0) at slot 1,
  // position 6; read it back through the same two indices.
  ProgramBuilder pb;
  DmaDesc d;
  d.srcSpace = Space::Dram;
  d.dstSpace = Space::Sram;
  d.src = cache;
  d.dst = 0x800;
  d.bytes = 16;
  DmaIndex ix;
  ix.index0 = idx;
  ix.scale0 = slotBytes;
  ix.index1 = idx + 8;
  ix.scale1 = 16;
  pb.queue(0, Engine::Dma).dmaIndexed(d, ix);
  h.run(pb);
  EXPECT_EQ(h.get(0x800, 16),
            std::vector<uint8_t>(rows.begin(), rows.begin() + 16));
}

TEST(SimFunctional, MulticastLandsInEveryMaskedCoreAndNoOther) {
  target::Target t = test::loadTarget("atom");
  Simulator sim(t);
  std::vector<uint8_t> src(4096);
  for (size_t i = 0; i < src.size(); ++i) {
    src[i] = uint8_t(i * 13 + 5);
  }
  sim.writeShared(0x1000, src.data(), src.size());
  // 3-D: 2 planes x 3 rows x 20 bytes, strided differently on each side.
  DmaDesc d;
  d.srcSpace = Space::Shared;
  d.src = 0x1000;
  d.dst = 0x200;
  d.bytes = 20;
  d.rows = 3;
  d.planes = 2;
  d.srcStride = 100;
  d.srcPStride = 1000;
  d.dstStride = 32;
  d.dstPStride = 128;
  const uint32_t mask = 0b10110101; // cores 0, 2, 4, 5, 7
  ProgramBuilder pb;
  // The signal must fire only after every destination has the data: core
  // 7's vector engine copies it (a race error if it came early).
  pb.queue(3, Engine::Dma).dmaMcast(d, mask).signal(0, 7);
  pb.queue(7, Engine::Vector)
      .wait(0)
      .unary(UnOp::Copy, {0x1000, 32}, {0x200, 32}, 3, 20, Dtype::I8,
             Dtype::I8);
  Result<sim::Report> r = sim.run(pb.finish());
  ASSERT_TRUE(r) << r.error();

  std::vector<uint8_t> want(256, 0);
  for (unsigned p = 0; p < 2; ++p) {
    for (unsigned row = 0; row < 3; ++row) {
      for (unsigned b = 0; b < 20; ++b) {
        want[p * 128 + row * 32 + b] = src[p * 1000 + row * 100 + b];
      }
    }
  }
  for (unsigned c = 0; c < t.cores; ++c) {
    std::vector<uint8_t> got(256);
    sim.readSram(c, 0x200, got.data(), got.size());
    if ((mask >> c) & 1) {
      EXPECT_EQ(got, want) << "core " << c;
      uint64_t end =
          c == 7 ? 0x1000u + 2 * 32 + 20 : 0x200u + 128 + 2 * 32 + 20;
      EXPECT_EQ(r->cores[c].sramPeakBytes, end) << c;
    } else {
      EXPECT_EQ(got, std::vector<uint8_t>(256, 0)) << "core " << c;
    }
  }
  std::vector<uint8_t> copied(20), first(src.begin(), src.begin() + 20);
  sim.readSram(7, 0x1000, copied.data(), copied.size());
  EXPECT_EQ(copied, first);
  // The source is read once: 120 bytes on the NoC, charged to the issuer.
  EXPECT_EQ(r->nocBytes, 120u);
  EXPECT_EQ(r->cores[3].dmaBytes, 120u);
  EXPECT_EQ(r->cores[0].dmaBytes, 0u);
  EXPECT_EQ(r->dramBytesRead, 0u);
}

TEST(SimFunctional, MulticastFromDramAndFromOwnSram) {
  Harness h;
  std::vector<uint8_t> src(256);
  for (size_t i = 0; i < src.size(); ++i) {
    src[i] = uint8_t(255 - i);
  }
  h.sim->writeDram(0x8000, src.data(), src.size());
  DmaDesc fromDram;
  fromDram.srcSpace = Space::Dram;
  fromDram.src = 0x8000;
  fromDram.dst = 0x400;
  fromDram.bytes = 256;
  // Core 1 then forwards its copy from its own SRAM to both cores.
  DmaDesc fromSram;
  fromSram.srcSpace = Space::Sram;
  fromSram.src = 0x400;
  fromSram.dst = 0x800;
  fromSram.bytes = 128;
  ProgramBuilder pb;
  pb.queue(0, Engine::Dma).dmaMcast(fromDram, 0b11).signal(0, 1);
  pb.queue(1, Engine::Dma).wait(0).dmaMcast(fromSram, 0b11);
  sim::Report r = h.run(pb);
  for (unsigned c = 0; c < 2; ++c) {
    std::vector<uint8_t> got(256), half(128);
    h.sim->readSram(c, 0x400, got.data(), got.size());
    EXPECT_EQ(got, src) << c;
    h.sim->readSram(c, 0x800, half.data(), half.size());
    EXPECT_EQ(half, std::vector<uint8_t>(src.begin(), src.begin() + 128)) << c;
  }
  EXPECT_EQ(r.dramBytesRead, 256u);
  EXPECT_EQ(r.nocBytes, 128u);
  EXPECT_EQ(r.cores[0].dmaBytes, 256u);
  EXPECT_EQ(r.cores[1].dmaBytes, 128u);
}

TEST(SimFunctional, MulticastFromAPeersSram) {
  // Core 0 multicasts what core 1 keeps in its SRAM (src_space peer, core
  // 1) to both cores: the way a chip without shared SRAM hands an
  // intermediate one core holds to the cores that split a GEMM's columns.
  Harness h;
  std::vector<uint8_t> src(192);
  for (size_t i = 0; i < src.size(); ++i) {
    src[i] = uint8_t(3 * i + 1);
  }
  h.sim->writeSram(1, 0x1000, src.data(), src.size());
  DmaDesc fromPeer;
  fromPeer.srcSpace = Space::Peer;
  fromPeer.peerCore = 1;
  fromPeer.src = 0x1000;
  fromPeer.dst = 0x200;
  fromPeer.bytes = 64;
  fromPeer.rows = 3;
  fromPeer.srcStride = fromPeer.dstStride = 64;
  ProgramBuilder pb;
  pb.queue(0, Engine::Dma).dmaMcast(fromPeer, 0b11);
  sim::Report r = h.run(pb);
  for (unsigned c = 0; c < 2; ++c) {
    std::vector<uint8_t> got(src.size());
    h.sim->readSram(c, 0x200, got.data(), got.size());
    EXPECT_EQ(got, src) << c;
  }
  // One read of the source, over the NoC.
  EXPECT_EQ(r.dramBytesRead, 0u);
  EXPECT_EQ(r.nocBytes, 192u);
  EXPECT_EQ(r.cores[0].dmaBytes, 192u);
}

TEST(SimFunctional, MulticastGemmExampleMatchesAScalarReference) {
  // examples/programs/gemm_mcast.nasm: A[64x256] multicast to two cores,
  // each computing 64 columns of C = A * B.
  Harness h;
  const size_t M = 64, N = 128, K = 256;
  std::vector<uint8_t> a = h.randomTile(Dtype::BF16, M * K),
                       b = h.randomTile(Dtype::BF16, K * N);
  h.sim->writeDram(0x0, a.data(), a.size());
  h.sim->writeDram(0x10000, b.data(), b.size());
  Result<Program> p = assembleFile(std::string(NURI_SOURCE_DIR) +
                                   "/examples/programs/gemm_mcast.nasm");
  ASSERT_TRUE(p) << p.error();
  Result<sim::Report> r = h.sim->run(*p);
  ASSERT_TRUE(r) << r.error();
  std::vector<uint8_t> got(M * N * 2), want(M * N * 2);
  h.sim->readDram(0x20000, got.data(), got.size());
  for (size_t i = 0; i < M; ++i) {
    for (size_t j = 0; j < N; ++j) {
      float acc = 0.0f; // ascending k, one fp32 add per step
      for (size_t k = 0; k < K; ++k) {
        acc += loadAsF32(Dtype::BF16, a.data(), i * K + k) *
               loadAsF32(Dtype::BF16, b.data(), k * N + j);
      }
      storeFromF32(Dtype::BF16, want.data(), i * N + j, acc);
    }
  }
  expectSame(Dtype::BF16, got, want, M * N, "C");
  // A crossed the DRAM link once, not once per core.
  EXPECT_EQ(r->dramBytesRead, M * K * 2 + K * N * 2);
}

TEST(SimFunctional, SemaphoresAndBarriersOrderEnginesAcrossCores) {
  Harness h;
  ProgramBuilder pb;
  // Core 0's vector engine writes; only after the barrier does core 1's DMA
  // pull the data from core 0's SRAM, then signals core 0, whose DMA
  // copies it back out to DRAM.
  pb.queue(0, Engine::Vector)
      .nop(500)
      .fill({0x100, 16}, 1.5f, 2, 4, Dtype::F32)
      .barrier(3, 2);
  DmaDesc pull;
  pull.srcSpace = Space::Peer;
  pull.peerCore = 0;
  pull.src = 0x100;
  pull.dstSpace = Space::Sram;
  pull.dst = 0x40;
  pull.bytes = 32;
  pb.queue(1, Engine::Dma).barrier(3, 2).dma(pull).signal(5, 0);
  pb.queue(0, Engine::Dma).wait(5).dma([] {
    DmaDesc d;
    d.srcSpace = Space::Peer;
    d.peerCore = 1;
    d.src = 0x40;
    d.dstSpace = Space::Dram;
    d.dst = 0x1000;
    d.bytes = 32;
    return d;
  }());
  sim::Report r = h.run(pb);
  float got[8];
  h.sim->readDram(0x1000, got, 32);
  for (float v : got) {
    EXPECT_EQ(v, 1.5f);
  }
  // The pull could not start before the fill completed (nop 500 + fill).
  EXPECT_GT(r.cycles.count(), 500u);
  EXPECT_GE(r.cores[1].engines[0].stalls.at("barrier"), 500u);
  EXPECT_GT(r.cores[0].engines[0].stalls.at("wait_dma"), 0u);
}

TEST(SimFunctional, RepeatRunsTheBodyTimesTimes) {
  Harness h;
  ProgramBuilder pb;
  auto v = pb.queue(0, Engine::Vector);
  v.fill({0x0, 4}, 0.0f, 1, 1, Dtype::F32);
  size_t body = v.pc();
  v.scalar(BinOp::Add, {0x0, 4}, {0x0, 4}, 1.0f, 1, 1, Dtype::F32, Dtype::F32);
  size_t inner = v.pc();
  v.scalar(BinOp::Add, {0x0, 4}, {0x0, 4}, 10.0f, 1, 1, Dtype::F32, Dtype::F32);
  v.repeat(inner, 3);
  v.repeat(body, 5);
  h.run(pb);
  float got;
  h.sim->readSram(0, 0, &got, 4);
  EXPECT_EQ(got, 5 * (1 + 3 * 10.0f));
}

} // namespace
