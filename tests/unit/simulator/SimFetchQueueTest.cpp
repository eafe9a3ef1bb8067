//===- SimFetchQueueTest.cpp - The second DMA queue (fetch) ---------------===//
//
// The fetch queue exists so that a long weight stream for the next kernel
// does not hold back the current kernel's own transfers and signals. These
// tests pin that down on `tiny` (DRAM 16 B/cycle, latency 50, 4 transfers
// in flight per DMA queue): the expected cycles come from the config and
// docs/simulator.md's link model, not from the simulator.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

#include <cmath>

using namespace nuri;
using namespace nuri::isa;
using nuri::sim::Report;
using nuri::sim::Simulator;

namespace {

constexpr uint64_t kBig = 64 * 1024; // the weight stream on fetch
constexpr uint64_t kSmall = 1024;    // the kernel's own load on dma

uint64_t stall(const Report &r, unsigned core, Engine e, const char *why) {
  const auto &st = r.cores[core].engines[unsigned(e)].stalls;
  auto it = st.find(why);
  return it == st.end() ? 0 : it->second;
}

/// dma: a small load then a signal to the vector queue, which waits for it.
/// `bigOn` carries a 64 KiB load issued at cycle 0 (before the small one when
/// it is the dma queue itself).
Program smallSignalBehindBigLoad(Engine bigOn) {
  ProgramBuilder pb;
  auto big = pb.queue(0, bigOn);
  big.load({0x100000, 1024}, {0x10000, 1024}, kBig / 1024, 1024);
  auto dma = pb.queue(0, Engine::Dma);
  dma.load({0x200000, kSmall}, {0x0, kSmall}, 1, kSmall).signal(0);
  pb.queue(0, Engine::Vector).wait(0).nop(1);
  return pb.finish();
}

Report runTiming(const Program &p, bool trace = false,
                 std::string *traceJson = nullptr) {
  sim::SimOptions o;
  o.functional = false;
  o.trace = trace;
  Simulator sim(test::loadTarget("tiny"), o);
  Result<Report> r = sim.run(p);
  if (!r) {
    throw Error(r.error());
  }
  if (traceJson) {
    *traceJson = sim.traceJson();
  }
  return *r;
}

TEST(SimFetch, SignalOnDmaIsNotDelayedByTheFetchQueuesLongTransfer) {
  target::Target t = test::loadTarget("tiny");
  double capacity = t.dram.bytesPerSecond / t.clockHz; // 16 B/cycle
  uint64_t lat = t.dram.latencyCycles;

  // Both transfers join the DRAM link at `lat` and share it equally until
  // the small one drains; the vector queue waits exactly that long.
  Report sep = runTiming(smallSignalBehindBigLoad(Engine::Fetch));
  uint64_t expectSmall =
      lat + uint64_t(std::ceil(double(kSmall) / (capacity / 2)));
  EXPECT_EQ(stall(sep, 0, Engine::Vector, "wait_dma"), expectSmall);
  // The big load then finishes alone: the link carried 64 KiB + 1 KiB.
  uint64_t expectBig =
      lat + uint64_t(std::ceil(double(kBig + kSmall) / capacity));
  EXPECT_NEAR(double(sep.cores[0].engines[unsigned(Engine::Fetch)].doneCycle),
              double(expectBig), 2.0);
  EXPECT_EQ(sep.cores[0].engines[unsigned(Engine::Fetch)].instructions, 2u);

  // On one in-order queue the same signal waits for the big load too.
  Report one = runTiming(smallSignalBehindBigLoad(Engine::Dma));
  EXPECT_GE(stall(one, 0, Engine::Vector, "wait_dma"),
            kBig / uint64_t(capacity));
  EXPECT_GT(stall(one, 0, Engine::Vector, "wait_dma"), 10 * expectSmall);
}

TEST(SimFetch, EachDmaQueueHasItsOwnTransferSlots) {
  target::Target t = test::loadTarget("tiny");
  ASSERT_EQ(t.dma.outstanding, 4u);
  ProgramBuilder pb;
  auto fetch = pb.queue(0, Engine::Fetch);
  for (unsigned i = 0; i < 5; ++i) { // one more than the slots
    fetch.load({0x100000 + i * 0x4000, 0}, {0x10000 + i * 0x4000, 0}, 1,
               0x4000);
  }
  auto dma = pb.queue(0, Engine::Dma);
  for (unsigned i = 0; i < 4; ++i) { // exactly the slots
    dma.load({0x200000 + i * 256, 0}, {0x100 * i, 0}, 1, 256);
  }
  Report r = runTiming(pb.finish());
  EXPECT_GT(stall(r, 0, Engine::Fetch, "dma_queue_full"), 0u);
  // Shared slots would have made dma wait behind fetch's four transfers.
  EXPECT_EQ(stall(r, 0, Engine::Dma, "dma_queue_full"), 0u);
  EXPECT_GT(r.busyFraction(0, Engine::Fetch), r.busyFraction(0, Engine::Dma));
  EXPECT_GT(r.busyFraction(0, Engine::Fetch), 0.9);
}

TEST(SimFetch, FetchedDataIsCorrectAndWaitsOnItAreAttributedToFetch) {
  target::Target t = test::loadTarget("tiny");
  Simulator sim(t);
  constexpr unsigned kRows = 64, kCols = 64; // 16 KiB of f32 "weights"
  std::vector<float> w(kRows * kCols), b(kCols);
  for (size_t i = 0; i < w.size(); ++i) {
    w[i] = float(int(i * 7 % 101) - 50) * 0.25f;
  }
  for (size_t i = 0; i < b.size(); ++i) {
    b[i] = float(i) - 3.5f;
  }
  sim.writeDram(0x100000, w.data(), w.size() * 4);
  sim.writeDram(0x200000, b.data(), b.size() * 4);

  ProgramBuilder pb;
  // fetch: the weights, in four pieces, then one signal after all of them.
  auto fetch = pb.queue(0, Engine::Fetch);
  for (unsigned q = 0; q < 4; ++q) {
    uint64_t off = q * (kRows / 4) * kCols * 4;
    fetch.load({0x100000 + off, kCols * 4}, {0x8000 + off, kCols * 4},
               kRows / 4, kCols * 4);
  }
  fetch.signal(1);
  // dma: the bias (one row) while the weights stream, then the result out.
  auto dma = pb.queue(0, Engine::Dma);
  dma.load({0x200000, 0}, {0x0, 0}, 1, kCols * 4).signal(0);
  // vec: out = w + b (row broadcast), once both have landed.
  pb.queue(0, Engine::Vector)
      .wait(0)
      .wait(1)
      .binary(BinOp::Add, Bcast::Row, {0x20000, kCols * 4}, {0x8000, kCols * 4},
              {0x0, 0}, kRows, kCols, Dtype::F32, Dtype::F32)
      .signal(2);
  dma.wait(2).store({0x20000, kCols * 4}, {0x300000, kCols * 4}, kRows,
                    kCols * 4);
  Result<Report> r = sim.run(pb.finish());
  ASSERT_TRUE(r) << r.error();

  std::vector<float> got(kRows * kCols);
  sim.readDram(0x300000, got.data(), got.size() * 4);
  for (unsigned i = 0; i < kRows; ++i) {
    for (unsigned j = 0; j < kCols; ++j) {
      ASSERT_EQ(got[i * kCols + j], w[i * kCols + j] + b[j]) << i << "," << j;
    }
  }
  // The bias lands long before the weights, so the vector queue's second
  // wait is the long one and the fetch queue released it.
  EXPECT_GT(stall(*r, 0, Engine::Vector, "wait_fetch"), 500u);
  EXPECT_GT(stall(*r, 0, Engine::Vector, "wait_dma"), 0u);
  EXPECT_GT(stall(*r, 0, Engine::Vector, "wait_fetch"),
            stall(*r, 0, Engine::Vector, "wait_dma"));
  EXPECT_EQ(r->stalls.at("wait_fetch"),
            stall(*r, 0, Engine::Vector, "wait_fetch"));
  EXPECT_EQ(r->cores[0].dmaBytes, 2 * kRows * kCols * 4 + kCols * 4);
}

TEST(SimFetch, BarrierDrainsTheFetchQueueBeforeReleasing) {
  target::Target t = test::loadTarget("tiny");
  Simulator sim(t);
  std::vector<uint8_t> w(kBig);
  for (size_t i = 0; i < w.size(); ++i) {
    w[i] = uint8_t(i * 31 + 7);
  }
  sim.writeDram(0x100000, w.data(), w.size());
  ProgramBuilder pb;
  pb.queue(0, Engine::Fetch)
      .load({0x100000, 1024}, {0x10000, 1024}, kBig / 1024, 1024)
      .barrier(0, 2);
  // No semaphore: the barrier alone orders the copy-out after the load (the
  // race detector would object otherwise).
  pb.queue(0, Engine::Dma)
      .barrier(0, 2)
      .store({0x10000, 1024}, {0x300000, 1024}, kBig / 1024, 1024);
  Result<Report> r = sim.run(pb.finish());
  ASSERT_TRUE(r) << r.error();
  std::vector<uint8_t> got(kBig);
  sim.readDram(0x300000, got.data(), got.size());
  EXPECT_EQ(got, w);
  ASSERT_EQ(r->barrierReleases.size(), 1u);
  EXPECT_GE(r->barrierReleases[0], kBig / 16);
  EXPECT_GE(stall(*r, 0, Engine::Fetch, "drain"), kBig / 16);
  EXPECT_GE(stall(*r, 0, Engine::Dma, "barrier"), kBig / 16);
}

TEST(SimFetch, RacesWithTheFetchQueueAreReported) {
  auto runError = [](const std::string &text) {
    Simulator sim(test::loadTarget("tiny"));
    Result<Report> r = sim.run(test::assembleOrDie(text));
    EXPECT_FALSE(r) << text;
    return r ? std::string() : r.error();
  };
  // The vector engine reads what the fetch queue is still writing.
  std::string e = runError(R"(
    .stream core=0 engine=fetch
      dma.copy src_space=dram, dst_space=sram, src=0x1000, dst=0x0, bytes=4096, rows=1, planes=1
      end
    .stream core=0 engine=vec
      nop cycles=10
      vec.unary unop=copy, dst=0x8000, ldd=64, src=0x40, lds=64, rows=1, cols=16, dtype=f32, stype=f32
      end)");
  for (const char *part : {"core 0 engine vec pc 1", "race: reads SRAM",
                           "core 0 engine fetch pc 0", "still writes"}) {
    EXPECT_NE(e.find(part), std::string::npos) << part << " in: " << e;
  }
  // The two DMA queues of a core do not order each other either.
  e = runError(R"(
    .stream core=0 engine=dma
      nop cycles=4
      dma.copy src_space=dram, dst_space=sram, src=0x9000, dst=0x800, bytes=64, rows=1, planes=1
      end
    .stream core=0 engine=fetch
      dma.copy src_space=dram, dst_space=sram, src=0x1000, dst=0x0, bytes=4096, rows=1, planes=1
      end)");
  for (const char *part : {"core 0 engine dma pc 1", "race: writes SRAM",
                           "core 0 engine fetch pc 0"}) {
    EXPECT_NE(e.find(part), std::string::npos) << part << " in: " << e;
  }
}

TEST(SimFetch, ReportAndTraceShowTheFetchQueueOnlyWhereItRan) {
  std::string trace;
  Report r = runTiming(smallSignalBehindBigLoad(Engine::Fetch), true, &trace);
  std::string text = r.toText();
  EXPECT_NE(text.find("   0  fetch"), std::string::npos) << text;
  EXPECT_NE(text.find("   0  dma"), std::string::npos) << text;
  std::string json = r.toJson();
  EXPECT_NE(json.find("\"fetch\": {\"busy_cycles\": "), std::string::npos)
      << json;
  for (const char *k : {"\"name\": \"fetch issue\"", "\"name\": \"fetch.0\"",
                        "\"name\": \"dma issue\"", "\"name\": \"dma.0\""}) {
    EXPECT_NE(trace.find(k), std::string::npos) << k;
  }
  // The transfer slice sits on fetch.0's track, not on dma.0's.
  target::Target t = test::loadTarget("tiny");
  unsigned fetchSlotTid = 10 + t.dma.outstanding;
  std::string slice = "\"tid\": " + std::to_string(fetchSlotTid) +
                      ", \"name\": \"dram->sram " + std::to_string(kBig) + "B";
  EXPECT_NE(trace.find(slice), std::string::npos) << slice << " in " << trace;

  // Core 1 ran only a fetch queue; core 0 none, so no fetch row for it.
  ProgramBuilder pb;
  pb.queue(0, Engine::Vector).nop(3);
  pb.queue(1, Engine::Fetch).load({0x0, 0}, {0x0, 0}, 1, 64);
  text = runTiming(pb.finish()).toText();
  EXPECT_EQ(text.find("   0  fetch"), std::string::npos) << text;
  EXPECT_NE(text.find("   1  fetch"), std::string::npos) << text;

  // A program without a fetch stream reports and traces as before.
  ProgramBuilder old;
  old.queue(0, Engine::Dma).load({0x0, 0}, {0x0, 0}, 1, 64);
  old.queue(0, Engine::Vector).nop(3);
  Report ro = runTiming(old.finish(), true, &trace);
  EXPECT_EQ(ro.toText().find("fetch"), std::string::npos) << ro.toText();
  EXPECT_EQ(trace.find("fetch"), std::string::npos);
}

} // namespace
