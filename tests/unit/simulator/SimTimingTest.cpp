//===- SimTimingTest.cpp - The timing model against its formulas ----------===//
//
// Each test derives the expected cycles from docs/simulator.md's formulas
// and the config values, not from the simulator.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

#include "nuri/target/CostModel.h"

#include <cmath>
#include <random>

using namespace nuri;
using namespace nuri::isa;
using nuri::sim::Report;
using nuri::sim::Simulator;

namespace {

Report runTiming(const target::Target &t, Program p, bool detectRaces = true) {
  sim::SimOptions o;
  o.functional = false;
  o.detectRaces = detectRaces;
  Simulator sim(t, o);
  Result<Report> r = sim.run(p);
  if (!r) {
    throw Error(r.error());
  }
  return *r;
}

TEST(SimTiming, OneMatrixTileMatchesTheFormula) {
  target::Target t = test::loadTarget("tiny");
  const uint64_t R = t.matrix.rows, C = t.matrix.cols;
  for (Dtype d : {Dtype::BF16, Dtype::I8, Dtype::E4M3}) {
    for (uint64_t k : {1ull, 8ull, 64ull, 333ull}) {
      ProgramBuilder pb;
      pb.queue(0, Engine::Matrix)
          .mm(0, {0, 1024}, {0x10000, 64}, R, C, k, d, d, false);
      Report r = runTiming(t, pb.finish());
      // Output stationary: ceil(k / packing) streaming + (R-1) skew in +
      // (C-1) drain.
      double pack = double(t.matrix.macsPerCycle.at(d)) / double(R * C);
      uint64_t want = uint64_t(std::ceil(double(k) / pack)) + R + C - 2;
      EXPECT_EQ(r.cycles.count(), want) << dtypeName(d) << " k=" << k;
      EXPECT_EQ(r.macs, R * C * k);
    }
  }
  // Folds: a 20x20 output on an 8x8 array is 3x3 folds streamed back to
  // back, one fill/drain.
  ProgramBuilder pb;
  pb.queue(0, Engine::Matrix)
      .mm(0, {0, 1024}, {0x10000, 64}, 20, 20, 50, Dtype::BF16, Dtype::BF16,
          false);
  EXPECT_EQ(runTiming(t, pb.finish()).cycles.count(), 9u * 50 + R + C - 2);

  // Weight stationary: k <= R rows of weights loaded (R cycles, exposed on a
  // cold pipeline), m rows streamed.
  target::Target ws = t;
  ws.matrix.dataflow = target::Dataflow::WeightStationary;
  ProgramBuilder pw;
  pw.queue(0, Engine::Matrix)
      .mm(0, {0, 1024}, {0x10000, 64}, 40, C, R, Dtype::BF16, Dtype::BF16,
          false);
  EXPECT_EQ(runTiming(ws, pw.finish()).cycles.count(),
            R + std::max<uint64_t>(40, R) + R + C - 2);
}

TEST(SimTiming, CostModelPredictsIsolatedInstructions) {
  // The compiler plans with target/CostModel.h; an instruction alone on an
  // idle chip must take exactly what it predicts, on every dataflow.
  std::mt19937 rng(3);
  for (const char *name : {"tiny", "atom", "x220", "rngd"}) {
    target::Target t = test::loadTarget(name);
    for (int i = 0; i < 40; ++i) {
      Dtype d = t.supports(Dtype::BF16) ? (i % 2 ? Dtype::BF16 : Dtype::I8)
                                        : (i % 2 ? Dtype::F16 : Dtype::I8);
      uint64_t m = 1 + rng() % 64, n = 1 + rng() % 64, k = 1 + rng() % 200;
      uint64_t lda = (k + rng() % 64) * dtypeBytes(d) * 2,
               ldb = (n + rng() % 64) * dtypeBytes(d) * 2;
      uint64_t b = (m * lda + 63) & ~uint64_t(63);
      ProgramBuilder pb;
      pb.queue(0, Engine::Matrix)
          .mm(0, {0, lda}, {b, ldb}, m, n, k, d, d, false);
      Report r = runTiming(t, pb.finish());
      target::MatmulCost c =
          target::matmulCost(t, m, n, k, d, d, lda, ldb, true);
      EXPECT_EQ(r.cycles.count(), c.latency()) << name << " " << i;
      ProgramBuilder pv;
      uint64_t rows = 1 + rng() % 50, cols = 1 + rng() % 700;
      pv.queue(0, Engine::Vector)
          .unary(UnOp::Exp, {0, cols * 4}, {0x20000, cols * 2}, rows, cols,
                 Dtype::F32, Dtype::BF16);
      target::VectorCost v =
          target::vectorCost(t, target::VectorKind::Elementwise, rows, cols,
                             t.vector.transcendentalPasses, 6);
      EXPECT_EQ(runTiming(t, pv.finish()).cycles.count(), v.latency())
          << name << " " << i;
    }
  }
}

TEST(SimTiming, BackToBackTilesHideFillAndDrain) {
  target::Target t = test::loadTarget("tiny");
  ProgramBuilder pb;
  auto mat = pb.queue(0, Engine::Matrix);
  for (int i = 0; i < 10; ++i) {
    mat.mm((i % 2) * 64, {0, 1024}, {0x10000, 64}, 8, 8, 100, Dtype::BF16,
           Dtype::BF16, false);
  }
  EXPECT_EQ(runTiming(t, pb.finish()).cycles.count(), 10u * 100 + 8 + 8 - 2);

  // Overwriting the tile the previous instruction is still draining waits
  // for it (an accumulator hazard).
  ProgramBuilder ph;
  auto m2 = ph.queue(0, Engine::Matrix);
  m2.mm(0, {0, 1024}, {0x10000, 64}, 8, 8, 100, Dtype::BF16, Dtype::BF16,
        false);
  m2.mm(0, {0, 1024}, {0x10000, 64}, 8, 4, 100, Dtype::BF16, Dtype::BF16,
        false);
  Report r = runTiming(t, ph.finish());
  EXPECT_EQ(r.cycles.count(), 2u * (100 + 14));
  EXPECT_EQ(r.stalls.at("acc_hazard"), 14u);
}

TEST(SimTiming, LongDmaStreamReachesConfiguredBandwidth) {
  target::Target t = test::loadTarget("tiny");
  ProgramBuilder pb;
  auto dma = pb.queue(0, Engine::Dma);
  size_t body = dma.pc();
  dma.load({0, 4096}, {0, 4096}, 1, 4096);
  dma.repeat(body, 512); // 2 MiB
  // Every repetition lands on the same SRAM bytes: a deliberate race, the
  // data does not matter here.
  Report r = runTiming(t, pb.finish(), /*detectRaces=*/false);
  double bw = t.dram.bytesPerSecond;
  EXPECT_EQ(r.dramBytesRead, 512u * 4096);
  EXPECT_NEAR(r.dramBytesPerSecond / bw, 1.0, 0.02)
      << r.dramBytesPerSecond << " vs " << bw;
  EXPECT_LE(r.dramBytesPerSecond, bw * 1.0000001);
}

TEST(SimTiming, TwoStreamsShareTheDramBandwidth) {
  target::Target t = test::loadTarget("tiny");
  auto stream = [&](ProgramBuilder &pb, unsigned core, uint64_t times) {
    auto dma = pb.queue(core, Engine::Dma);
    size_t body = dma.pc();
    dma.load({core * 0x100000ull, 4096}, {0, 4096}, 1, 4096);
    dma.repeat(body, unsigned(times));
  };
  ProgramBuilder one;
  stream(one, 0, 256);
  Report alone = runTiming(t, one.finish(), /*detectRaces=*/false);
  ProgramBuilder two;
  stream(two, 0, 256);
  stream(two, 1, 256);
  Report both = runTiming(t, two.finish(), /*detectRaces=*/false);
  // Twice the bytes over the same pipe: twice the time, same bandwidth, and
  // each stream is in flight for (almost) the whole run.
  EXPECT_NEAR(double(both.cycles.count()) / double(alone.cycles.count()), 2.0,
              0.03);
  EXPECT_NEAR(both.dramBytesPerSecond / t.dram.bytesPerSecond, 1.0, 0.02);
  for (unsigned c = 0; c < 2; ++c) {
    EXPECT_GT(both.busyFraction(c, Engine::Dma), 0.97) << c;
  }
  EXPECT_GT(both.stalls.at("dram_contention"), 0u);
}

TEST(SimTiming, SingleTransferPaysLatencyAndIssue) {
  target::Target t = test::loadTarget("tiny");
  ProgramBuilder pb;
  pb.queue(0, Engine::Dma).load({0, 4096}, {0, 4096}, 4, 1024);
  Report r = runTiming(t, pb.finish());
  double rate = std::min(t.dma.bytesPerCycle, t.dramBytesPerCycle());
  EXPECT_EQ(r.cycles.count(),
            t.dram.latencyCycles + uint64_t(std::ceil(4096 / rate)));
}

TEST(SimTiming, IndexedDmaHoldsItsQueueForTheIndexRoundTrip) {
  // Two short copies on one queue against the same two as dma.idx: plain,
  // both are in flight together and pay one latency; indexed, the queue is
  // held one DRAM latency for the first one's index words, so the second
  // starts after it and the pair pays two. The 4 index bytes of each ride
  // with its transfer.
  target::Target t = test::loadTarget("tiny");
  DmaDesc d;
  d.src = 0x10000;
  d.bytes = 64;
  DmaIndex ix;
  ix.index0 = 0x100; // zero: the offset is 0
  ix.scale0 = 1024;
  ProgramBuilder plain, indexed;
  auto p = plain.queue(0, Engine::Dma);
  auto q = indexed.queue(0, Engine::Dma);
  for (uint64_t i = 0; i < 2; ++i) {
    d.dst = i * 1024;
    p.dma(d);
    q.dmaIndexed(d, ix);
  }
  Report a = runTiming(t, plain.finish());
  Report b = runTiming(t, indexed.finish());
  uint64_t lat = t.dram.latencyCycles;
  EXPECT_LT(a.cycles.count(), 2 * lat);
  EXPECT_GE(b.cycles.count(), 2 * lat + t.dma.issueCycles);
  EXPECT_LE(b.cycles.count(), a.cycles.count() + lat + t.dma.issueCycles);
  EXPECT_EQ(b.dramBytesRead, a.dramBytesRead + 8);
}

TEST(SimTiming, MulticastCostsOneTransferNotOnePerCore) {
  // The output projection's A operand of the BERT layer: 128 x 768 bf16 in
  // the shared SRAM, needed by all 8 cores of atom.
  target::Target t = test::loadTarget("atom");
  const uint64_t bytes = 196608;
  DmaDesc d;
  d.srcSpace = Space::Shared;
  d.src = 0;
  d.dst = 0x10000;
  d.bytes = 1536;
  d.rows = bytes / 1536;
  d.srcStride = 1536;
  d.dstStride = 1536;

  ProgramBuilder one;
  one.queue(0, Engine::Dma).dma(d);
  Report copy = runTiming(t, one.finish());

  ProgramBuilder mc;
  mc.queue(0, Engine::Dma).dmaMcast(d, 0xff);
  Report mcast = runTiming(t, mc.finish());

  ProgramBuilder eight; // today's code: every core pulls its own copy
  for (unsigned c = 0; c < 8; ++c) {
    eight.queue(c, Engine::Dma).dma(d);
  }
  Report copies = runTiming(t, eight.finish());

  // One NoC transfer at one DMA's rate: latency + bytes / min(cap, NoC).
  double rate = std::min(t.dma.bytesPerCycle, t.noc.bytesPerCycle);
  uint64_t want = t.noc.latencyCycles + uint64_t(std::ceil(bytes / rate));
  EXPECT_EQ(copy.cycles.count(), want);
  EXPECT_EQ(mcast.cycles.count(), want);
  // Eight copies share the NoC: 8 x bytes at its full capacity.
  EXPECT_EQ(copies.cycles.count(),
            t.noc.latencyCycles +
                uint64_t(std::ceil(8 * bytes / t.noc.bytesPerCycle)));
  EXPECT_LT(double(mcast.cycles.count()), 0.55 * double(copies.cycles.count()));
  EXPECT_EQ(mcast.nocBytes, bytes);
  EXPECT_EQ(copies.nocBytes, 8 * bytes);
  EXPECT_EQ(mcast.cores[0].dmaBytes, bytes);

  // From DRAM, the bytes cross the DRAM link once, with DRAM's latency.
  d.srcSpace = Space::Dram;
  ProgramBuilder fromDram;
  fromDram.queue(5, Engine::Dma).dmaMcast(d, 0xff);
  Report dr = runTiming(t, fromDram.finish());
  double dramRate = std::min(t.dma.bytesPerCycle, t.dramBytesPerCycle());
  EXPECT_EQ(dr.cycles.count(),
            t.dram.latencyCycles + uint64_t(std::ceil(bytes / dramRate)));
  EXPECT_EQ(dr.dramBytesRead, bytes);
  EXPECT_EQ(dr.nocBytes, 0u);
}

TEST(SimTiming, SramBankConflictsSlowStridedOperands) {
  // Narrow banks so one bank cannot feed the 8 A rows alone: 8 rows x 2 B
  // per cycle = 16 B/cycle against 8 B per bank.
  target::Target t = test::loadTarget("tiny");
  t.sram.bankWidthBytes = 8;
  uint64_t w = t.sram.bankWidthBytes, banks = t.sram.banks;
  auto run = [&](uint64_t lda) {
    ProgramBuilder pb;
    pb.queue(0, Engine::Matrix)
        .mm(0, {0, lda}, {0x20000, 64}, 8, 8, 256, Dtype::BF16, Dtype::BF16,
            false);
    return runTiming(t, pb.finish());
  };
  Report good = run(64 * w + w); // consecutive rows in consecutive banks
  EXPECT_EQ(good.cycles.count(), 256u + 14);
  EXPECT_EQ(good.stalls.count("sram_bank_conflict"), 0u);
  Report bad = run(banks * w * 8); // every row starts in the same bank
  EXPECT_EQ(bad.cycles.count(), 2u * 256 + 14);
  EXPECT_EQ(bad.stalls.at("sram_bank_conflict"), 256u);
  Report half = run(banks * w * 8 + 2 * w); // rows alternate over 2 banks
  EXPECT_EQ(half.cycles.count(), 256u + 14);
}

TEST(SimTiming, VectorOpsTakeLanesAndPipelineDepth) {
  target::Target t = test::loadTarget("tiny");
  ProgramBuilder pb;
  pb.queue(0, Engine::Vector)
      .binary(BinOp::Add, Bcast::None, {0x0, 256}, {0x1000, 256}, {0x2000, 256},
              10, 20, Dtype::BF16, Dtype::BF16);
  Report r = runTiming(t, pb.finish());
  // 10 rows x ceil(20 / 8 lanes) + depth.
  EXPECT_EQ(r.cycles.count(), 10u * 3 + t.vector.pipelineDepth);
  ProgramBuilder pe;
  pe.queue(0, Engine::Vector)
      .unary(UnOp::Exp, {0x0, 256}, {0x1000, 256}, 10, 20, Dtype::F32,
             Dtype::F32);
  EXPECT_EQ(runTiming(t, pe.finish()).cycles.count(),
            10u * 3 * t.vector.transcendentalPasses + t.vector.pipelineDepth);
}

TEST(SimTiming, DoubleBufferedGemmOverlapsDmaAndCompute) {
  target::Target t = test::loadTarget("atom");
  Program p = *isa::assembleFile(std::string(NURI_SOURCE_DIR) +
                                 "/examples/programs/gemm_db.nasm");
  Report r = runTiming(t, p);
  double mat = r.busyFraction(0, Engine::Matrix);
  double dma = r.busyFraction(0, Engine::Dma);
  // Both engines busy most of the run: their busy time overlaps.
  EXPECT_GT(mat, 0.75);
  EXPECT_GT(dma, 0.75);
  EXPECT_GT(mat + dma, 1.5);
  // And the same program with one buffer (every load waits for the previous
  // chunk's matmul) is slower.
  std::string text = test::readFile(std::string(NURI_SOURCE_DIR) +
                                    "/examples/programs/gemm_db.nasm");
  Program serial;
  {
    ProgramBuilder pb;
    auto dmaq = pb.queue(0, Engine::Dma);
    auto matq = pb.queue(0, Engine::Matrix);
    for (int i = 0; i < 16; ++i) {
      if (i) {
        dmaq.wait(1);
      }
      dmaq.load({uint64_t(i) * 256, 4096}, {0, 256}, 128, 256);
      dmaq.load({0x100000 + uint64_t(i) * 128 * 256, 256}, {0x10000, 256}, 128,
                256);
      dmaq.signal(0);
      matq.wait(0).mm(0, {0, 256}, {0x10000, 256}, 128, 128, 128, Dtype::BF16,
                      Dtype::BF16, i > 0);
      if (i < 15) {
        matq.signal(1);
      }
    }
    serial = pb.finish();
  }
  Report rs = runTiming(t, serial);
  EXPECT_GT(double(rs.cycles.count()), 1.3 * double(r.cycles.count()))
      << rs.cycles.count() << " vs " << r.cycles.count();
}

/// 512x768x768 GEMM on one 128x128 core with the operands already in SRAM
/// (ideal memory): 24 output tiles, two accumulator buffers, the vector
/// engine reading each tile out while the next one computes.
Program credibilityGemm() {
  ProgramBuilder pb;
  auto mat = pb.queue(0, Engine::Matrix);
  auto vec = pb.queue(0, Engine::Vector);
  const uint64_t M = 512, N = 768, K = 768, T = 128;
  const uint64_t lda = K * 2, ldb = N * 2, B = M * lda, Cout = B + K * ldb;
  unsigned tile = 0;
  for (uint64_t i = 0; i < M / T; ++i) {
    for (uint64_t j = 0; j < N / T; ++j, ++tile) {
      unsigned a = tile % 2;
      if (tile >= 2) {
        mat.wait(2 + a);
      }
      mat.mm(a * T * T, {i * T * lda, lda}, {B + j * T * 2, ldb}, T, T, K,
             Dtype::BF16, Dtype::BF16, false);
      mat.signal(a);
      vec.wait(a);
      Epilogue e;
      vec.accRead({Cout + i * T * N * 2 + j * T * 2, N * 2}, a * T * T, T, T,
                  e);
      vec.signal(2 + a);
    }
  }
  return pb.finish();
}

TEST(SimTiming, CredibilityGemmLandsBetweenIdealAndFoldBounds) {
  target::Target t = test::loadTarget("rngd");
  ASSERT_EQ(t.matrix.rows, 128u);
  ASSERT_EQ(t.matrix.cols, 128u);
  Report r = runTiming(t, credibilityGemm());
  const uint64_t ideal = 512ull * 768 * 768 / (128 * 128); // 18,432
  const uint64_t fold = (512 / 128) * (768 / 128) * (768 + 128 + 128 - 2);
  EXPECT_EQ(ideal, 18432u);
  EXPECT_EQ(fold, 24528u);
  EXPECT_GT(r.cycles.count(), ideal);
  EXPECT_LT(r.cycles.count(), fold);
  // docs/simulator.md: 24 tiles streamed back to back (24 x 768), one
  // fill/drain exposed at the end (254), then the last tile's read-out
  // (128 rows x ceil(128/256 lanes) + pipeline depth 12).
  EXPECT_EQ(r.cycles.count(), 24u * 768 + 254 + 128 + 12);
  EXPECT_NEAR(r.macUtilization * t.cores, double(ideal) / r.cycles.count(),
              1e-9);
  // Per core too: core 0 did all the work.
  std::string j = r.toJson();
  std::string key = "\"mac_utilization\": ";
  size_t first = j.find(key), second = j.find(key, first + 1);
  ASSERT_NE(second, std::string::npos) << j;
  EXPECT_NEAR(std::stod(j.substr(second + key.size())),
              double(ideal) / r.cycles.count(), 1e-5);
}

TEST(SimTiming, BarrierReleasesAreReportedPerEpisode) {
  target::Target t = test::loadTarget("tiny");
  ProgramBuilder pb;
  // Every queue of both cores meets at barrier 0, then 1, then 0 again; core
  // 0's vector queue arrives last each time, after its nops.
  for (unsigned c = 0; c < 2; ++c) {
    for (Engine e : {Engine::Dma, Engine::Matrix, Engine::Vector}) {
      auto q = pb.queue(c, e);
      bool last = c == 0 && e == Engine::Vector;
      if (last) {
        q.nop(100);
      }
      q.barrier(0, 6);
      if (last) {
        q.nop(50);
      }
      q.barrier(1, 6);
      if (last) {
        q.nop(10);
      }
      q.barrier(0, 6);
      // A barrier of two queues is an episode too.
      if (c == 1 && e != Engine::Vector) {
        q.barrier(2, 2);
      }
    }
  }
  Program p = pb.finish();
  sim::SimOptions o;
  o.functional = false;
  Simulator sim(t, o);
  for (int run = 0; run < 2; ++run) { // per run, not accumulated
    Result<Report> r = sim.run(p);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->barrierReleases, (std::vector<uint64_t>{100, 150, 160, 160}));
    EXPECT_NE(r->toJson().find("\"barrier_releases\": [100, 150, 160, 160]"),
              std::string::npos)
        << r->toJson();
    EXPECT_EQ(r->toText().find("release"), std::string::npos) << r->toText();
  }
  ProgramBuilder none;
  none.queue(0, Engine::Vector).nop(5);
  Result<Report> r = sim.run(none.finish());
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->barrierReleases.empty());
  EXPECT_NE(r->toJson().find("\"barrier_releases\": []"), std::string::npos);
}

TEST(SimTiming, TraceHasTracksAndFlows) {
  target::Target t = test::loadTarget("atom");
  Program p = *isa::assembleFile(std::string(NURI_SOURCE_DIR) +
                                 "/examples/programs/gemm.nasm");
  sim::SimOptions o;
  o.trace = true;
  o.functional = false;
  Simulator sim(t, o);
  ASSERT_TRUE(sim.run(p));
  std::string j = sim.traceJson();
  for (const char *k : {"\"traceEvents\"", "\"ph\": \"X\"", "\"ph\": \"s\"",
                        "\"ph\": \"f\"", "\"thread_name\"", "\"name\": \"mat\"",
                        "\"name\": \"dma.0\"", "\"name\": \"core 7\""}) {
    EXPECT_NE(j.find(k), std::string::npos) << k;
  }
  EXPECT_EQ(std::count(j.begin(), j.end(), '{'),
            std::count(j.begin(), j.end(), '}'));
}

} // namespace
