//===- SharedBandwidthLink.cpp - A processor-sharing link -----------------===//

#include "SharedBandwidthLink.h"

#include <algorithm>
#include <cmath>

namespace nuri::sim::detail {

double SharedBandwidthLink::rate() const {
  return flows_.empty() ? 0.0
                        : std::min(params_.transferBytesPerCycle,
                                   params_.bytesPerCycle / flows_.size());
}

void SharedBandwidthLink::submit(const LinkTransfer &t) {
  ++stats_.transfers;
  stats_.bytes += t.bytes;
  uint32_t id;
  if (free_.empty()) {
    id = uint32_t(joining_.size());
    joining_.push_back(t);
  } else {
    id = free_.back();
    free_.pop_back();
    joining_[id] = t;
  }
  schedule(now() + params_.latency, Join, id);
}

Cycles SharedBandwidthLink::uncontendedCycles(double bytes) const {
  double peak = std::min(params_.transferBytesPerCycle, params_.bytesPerCycle);
  return params_.latency + Cycles(uint64_t(std::ceil(bytes / peak - 1e-9)));
}

void SharedBandwidthLink::handle(const LinkEvent &e) {
  if (e.kind == Join) {
    join(e.arg);
  } else {
    drain(e.arg);
  }
}

void SharedBandwidthLink::join(uint64_t id) {
  const LinkTransfer &t = joining_[id];
  advance();
  flows_.push_back(Flow{t.bytes, t.client, t.tag});
  free_.push_back(uint32_t(id));
  reschedule();
}

void SharedBandwidthLink::advance() {
  Cycles t = now();
  if (t > lastUpdate_) {
    double moved = double((t - lastUpdate_).count()) * rate();
    for (Flow &f : flows_) {
      f.remaining -= moved;
    }
    if (!flows_.empty()) {
      stats_.busyCycles += t - lastUpdate_;
    }
  }
  lastUpdate_ = t;
}

void SharedBandwidthLink::reschedule() {
  ++generation_;
  if (flows_.empty()) {
    return;
  }
  double minRem = flows_[0].remaining;
  for (const Flow &f : flows_) {
    minRem = std::min(minRem, f.remaining);
  }
  double dt = std::max(0.0, minRem) / rate();
  schedule(now() + Cycles(uint64_t(std::ceil(dt - 1e-9))), Drain, generation_);
}

void SharedBandwidthLink::drain(uint64_t generation) {
  if (generation != generation_) {
    return; // superseded by a later change of the flow set
  }
  advance();
  std::vector<Flow> finished;
  for (size_t i = 0; i < flows_.size();) {
    if (flows_[i].remaining <= 1e-6) {
      finished.push_back(flows_[i]);
      flows_[i] = flows_.back();
      flows_.pop_back();
    } else {
      ++i;
    }
  }
  reschedule();
  for (const Flow &f : finished) {
    f.client->transferDone(f.tag);
  }
}

namespace {
std::unique_ptr<MemoryLink> makeSharedBandwidth(const LinkParams &params,
                                                EventQueue &events) {
  return std::make_unique<SharedBandwidthLink>(params, events);
}
} // namespace

LinkModel sharedBandwidthLinkModel() {
  return LinkModel{"shared-bandwidth",
                   "capacity split equally among the transfers in flight, "
                   "each capped at dma.bytes_per_cycle, after a fixed latency",
                   &makeSharedBandwidth};
}

} // namespace nuri::sim::detail
