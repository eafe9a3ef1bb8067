//===- SharedBandwidthLink.h - A processor-sharing link ---------*- C++ -*-===//
//
// The model `shared-bandwidth` (docs/simulator.md, "DMA, DRAM and the NoC"):
// a transfer joins the link `latency` cycles after submission; the link's
// capacity is split equally among the transfers on it, each capped at the
// per-transfer rate. Every time a transfer joins or leaves, the bytes left of
// all transfers are advanced and the next completion is rescheduled, so
// contention is exact for this fluid model.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_SIM_LIB_SHAREDBANDWIDTHLINK_H
#define NURI_SIM_LIB_SHAREDBANDWIDTHLINK_H

#include "MemoryLink.h"

namespace nuri::sim::detail {

class SharedBandwidthLink final : public MemoryLink {
public:
  SharedBandwidthLink(const LinkParams &params, EventQueue &events)
      : MemoryLink(params, events) {}

  void submit(const LinkTransfer &t) override;
  Cycles uncontendedCycles(double bytes) const override;
  void handle(const LinkEvent &e) override;

private:
  enum EventKind : uint32_t { Join, Drain };
  struct Flow {
    double remaining;
    LinkClient *client;
    uint32_t tag;
  };

  double rate() const;
  void join(uint64_t id);
  void advance();
  void reschedule();
  void drain(uint64_t generation);

  /// Submitted transfers waiting out the latency, reused through free_.
  std::vector<LinkTransfer> joining_;
  std::vector<uint32_t> free_;
  std::vector<Flow> flows_;
  Cycles lastUpdate_;
  /// Bumped whenever the flow set changes; a drain event scheduled for an
  /// older generation is stale.
  uint64_t generation_ = 0;
};

LinkModel sharedBandwidthLinkModel();

} // namespace nuri::sim::detail

#endif // NURI_SIM_LIB_SHAREDBANDWIDTHLINK_H
