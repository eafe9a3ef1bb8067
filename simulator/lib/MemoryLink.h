//===- MemoryLink.h - The interface of DRAM and NoC models ------*- C++ -*-===//
//
// A memory link carries DMA transfers between memories: the chip has one for
// DRAM and one for on-chip traffic (the NoC: shared SRAM, core to core). The
// DMA engines only submit transfers and hear back when a transfer's last
// byte arrived; how long that takes is the link model's business. Models are
// registered by name and chosen by the config (`dram.model`, `noc.model`), so
// a bank-level DRAM model is one new file plus one registration line
// (LinkRegistry's constructor), and no engine changes. The pattern is
// Ramulator2's: an interface header, implementations registered by name,
// the config naming which one to build.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_SIM_LIB_MEMORYLINK_H
#define NURI_SIM_LIB_MEMORYLINK_H

#include "EventQueue.h"

#include "nuri/target/Target.h"

#include <memory>
#include <string>
#include <vector>

namespace nuri::sim::detail {

/// Who a link tells when a transfer completed (the DMA engine that issued
/// it).
class LinkClient {
public:
  virtual ~LinkClient() = default;
  /// The last byte of the transfer submitted with `tag` arrived.
  virtual void transferDone(uint32_t tag) = 0;
};

/// One transfer handed to a link.
struct LinkTransfer {
  LinkClient *client = nullptr;
  uint32_t tag = 0;
  /// Bytes crossing the link (a DRAM-to-DRAM copy crosses the DRAM
  /// interface twice, read and write, and submits both).
  double bytes = 0;
};

/// What the config says about one link, in cycles of the chip clock.
struct LinkParams {
  std::string name;         ///< "dram" or "noc" (for messages)
  std::string model;        ///< registered model name
  double bytesPerCycle = 0; ///< the link's capacity
  double transferBytesPerCycle =
      0;          ///< one transfer's cap (dma.bytes_per_cycle)
  Cycles latency; ///< from submission to the first byte
  const target::Target *target = nullptr; ///< for model-specific keys
};

/// Statistics every link keeps (gathered into the Report).
struct LinkStats {
  uint64_t transfers = 0;
  double bytes = 0;
  Cycles busyCycles; ///< cycles with at least one transfer moving bytes
};

class MemoryLink {
public:
  MemoryLink(const LinkParams &params, EventQueue &events)
      : params_(params), events_(events) {}
  virtual ~MemoryLink() = default;
  MemoryLink(const MemoryLink &) = delete;
  MemoryLink &operator=(const MemoryLink &) = delete;

  /// Accepts a transfer now; calls `t.client->transferDone(t.tag)` from a
  /// later event when it completes.
  virtual void submit(const LinkTransfer &t) = 0;
  /// Cycles a transfer of `bytes` takes with the link to itself, latency
  /// included: time beyond it is reported as contention.
  virtual Cycles uncontendedCycles(double bytes) const = 0;
  /// Handles one of the events this link scheduled.
  virtual void handle(const LinkEvent &e) = 0;

  const LinkParams &params() const { return params_; }
  const LinkStats &stats() const { return stats_; }

protected:
  Cycles now() const { return events_.now(); }
  void schedule(Cycles when, uint32_t kind, uint64_t arg) {
    events_.schedule(when, LinkEvent{this, kind, arg});
  }

  LinkParams params_;
  EventQueue &events_;
  LinkStats stats_;
};

using LinkFactory = std::unique_ptr<MemoryLink> (*)(const LinkParams &,
                                                    EventQueue &);

struct LinkModel {
  std::string name;
  std::string description;
  LinkFactory make;
};

/// The link models by name. Built-in models are registered in the
/// constructor (explicitly: self-registering statics in a static library
/// are dropped by the linker when nothing else references their file).
class LinkRegistry {
public:
  static LinkRegistry &instance();
  /// Adds a model; a name registered twice is an error. Not thread-safe:
  /// register before simulators are created.
  void add(LinkModel model);
  const LinkModel *find(const std::string &name) const;
  const std::vector<LinkModel> &models() const { return models_; }
  /// Builds the model `params.model`; throws nuri::Error naming the config
  /// key and the known models if there is none by that name.
  std::unique_ptr<MemoryLink> make(const LinkParams &params,
                                   EventQueue &events) const;

private:
  LinkRegistry();
  std::vector<LinkModel> models_;
};

} // namespace nuri::sim::detail

#endif // NURI_SIM_LIB_MEMORYLINK_H
