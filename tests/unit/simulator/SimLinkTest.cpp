//===- SimLinkTest.cpp - Memory-link models chosen by name ----------------===//
//
// The DMA engines talk to DRAM and the NoC through the MemoryLink interface;
// the config's `dram.model` / `noc.model` choose a registered model. These
// tests register a second model the way a bank-level DRAM model would be
// added, and check that the engines use it without knowing it.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

#include "MemoryLink.h"

using namespace nuri;
using namespace nuri::isa;
using namespace nuri::sim;

namespace {

/// Every transfer takes exactly kCycles, whatever its size or company.
class FixedLatencyLink final : public detail::MemoryLink {
public:
  static constexpr uint64_t kCycles = 1000;
  using MemoryLink::MemoryLink;
  void submit(const detail::LinkTransfer &t) override {
    ++stats_.transfers;
    stats_.bytes += t.bytes;
    pending_.push_back(t);
    schedule(now() + Cycles(kCycles), 0, pending_.size() - 1);
  }
  Cycles uncontendedCycles(double) const override { return Cycles(kCycles); }
  void handle(const detail::LinkEvent &e) override {
    stats_.busyCycles += Cycles(kCycles);
    const detail::LinkTransfer &t = pending_[e.arg];
    t.client->transferDone(t.tag);
  }

private:
  std::vector<detail::LinkTransfer> pending_;
};

void registerFixedLatency() {
  detail::LinkRegistry &r = detail::LinkRegistry::instance();
  if (!r.find("test-fixed-latency")) {
    r.add({"test-fixed-latency", "every transfer takes 1000 cycles",
           [](const detail::LinkParams &p,
              detail::EventQueue &ev) -> std::unique_ptr<detail::MemoryLink> {
             return std::make_unique<FixedLatencyLink>(p, ev);
           }});
  }
}

Program oneLoad() {
  ProgramBuilder pb;
  // 4 rows of 1 KiB, contiguous in DRAM and SRAM.
  pb.queue(0, Engine::Dma).load({0, 1024}, {0, 1024}, 4, 1024);
  return pb.finish();
}

TEST(SimLink, ConfigsDefaultToTheSharedBandwidthModel) {
  target::Target t = test::loadTarget("tiny");
  EXPECT_EQ(t.dram.model, "shared-bandwidth");
  EXPECT_EQ(t.noc.model, "shared-bandwidth");
  EXPECT_NE(detail::LinkRegistry::instance().find("shared-bandwidth"), nullptr);
}

TEST(SimLink, UnknownModelIsAnErrorNamingTheKey) {
  target::Target t = test::loadTarget("tiny");
  t.noc.model = "bogus";
  Simulator sim(t);
  Result<Report> r = sim.run(oneLoad());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("tiny: noc.model: unknown memory-link model "
                           "`bogus` (known: shared-bandwidth"),
            std::string::npos)
      << r.error();
}

TEST(SimLink, ARegisteredModelIsChosenByNameAndTheEnginesUseIt) {
  registerFixedLatency();
  Result<target::Target> t =
      target::findTarget("tiny", {"dram.model=test-fixed-latency"});
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->dram.model, "test-fixed-latency");

  std::vector<uint8_t> in(4096);
  for (size_t i = 0; i < in.size(); ++i) {
    in[i] = uint8_t(i * 7);
  }
  Simulator sim(*t);
  sim.writeDram(0, in.data(), in.size());
  Result<Report> r = sim.run(oneLoad());
  ASSERT_TRUE(r) << r.error();
  // The transfer took the model's time, not latency + bytes / bandwidth
  // (50 + 4096 / 16 = 306 with the shared-bandwidth model).
  EXPECT_EQ(r->cycles.count(), FixedLatencyLink::kCycles);
  EXPECT_EQ(r->dramBusyCycles, FixedLatencyLink::kCycles);
  EXPECT_EQ(r->dramBytesRead, 4096u);
  // The DMA engine still moved the data.
  std::vector<uint8_t> out(4096);
  sim.readSram(0, 0, out.data(), out.size());
  EXPECT_EQ(out, in);

  // A second run of the same simulator builds its links afresh.
  Result<Report> again = sim.run(oneLoad());
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ(again->cycles.count(), FixedLatencyLink::kCycles);
}

TEST(SimLink, RegisteringANameTwiceIsAnError) {
  registerFixedLatency();
  detail::LinkRegistry &r = detail::LinkRegistry::instance();
  EXPECT_THROW(r.add({"test-fixed-latency", "again", nullptr}), Error);
}

} // namespace
