//===- DmaEngine.h - A DMA queue of one core --------------------*- C++ -*-===//
//
// `dma.copy`, `dma.idx`, `dma.dq` and `dma.mcast` (docs/simulator.md, "DMA,
// DRAM and the NoC"): range checks, the copy itself (applied at issue), and the
// transfer handed to the DRAM or NoC link, which reports back when its last
// byte landed. At most `dma.outstanding` transfers are in flight per queue.
// Both DMA queues of a core (`dma` and `fetch`) are instances of this class:
// they run the same instructions and differ only in their ordering.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_SIM_LIB_DMAENGINE_H
#define NURI_SIM_LIB_DMAENGINE_H

#include "EngineQueue.h"

namespace nuri::sim::detail {

class DmaEngine final : public EngineQueue, public LinkClient {
public:
  DmaEngine(SimContext &ctx, unsigned core, isa::Engine kind)
      : EngineQueue(ctx, core, kind) {}
  void gather(CoreStats &cs) const override;
  void transferDone(uint32_t slot) override;

  // ---- statistics (the report sums them over queues) -----------------------
  uint64_t dramBytesRead() const { return dramRead_; }
  uint64_t dramBytesWritten() const { return dramWritten_; }
  uint64_t nocBytes() const { return nocBytes_; }

private:
  bool issue(const isa::Instruction &in) override;
  void resetEngine() override;

  /// A DMA operand's memory as seen from this core.
  struct SpaceRef {
    uint64_t size;
    FlatMemory *flat; ///< nullptr: DRAM
    const char *name;
  };
  SpaceRef spaceRef(isa::Space s, uint64_t peer) const;
  /// `indexReads`: the DRAM words a dma.idx read for its offset (race
  /// checked and counted with the transfer).
  void issueCopy(const isa::Instruction &in,
                 const std::vector<Box> &indexReads = {});
  /// dma.idx: reads the indices, moves src or dst, then issues the copy.
  void issueIndexed(const isa::Instruction &in);
  void issueMulticast(const isa::Instruction &in);
  /// dma.dq: expands packed values with their scales into SRAM.
  void issueExpand(const isa::Instruction &in);
  /// Copies `bytes` from `src` to `dst` (functional).
  void read(const SpaceRef &src, uint64_t addr, uint8_t *dst, uint64_t n);
  /// Reads box `sb` of `src` one row at a time and hands each row to
  /// `writeRow(addr, data)`, `addr` being the matching row of box `db`
  /// (functional). Copy and multicast differ only in where a row lands.
  template <typename WriteRow>
  void copyRows(const SpaceRef &src, const Box &sb, const Box &db,
                WriteRow writeRow);
  /// Hands `linkBytes` to the DRAM (`viaDram`) or NoC link.
  void startTransfer(bool viaDram, double linkBytes, int64_t id);

  struct Transfer {
    OpSeq seq;
    int64_t id; ///< race-detector key
    double bytes;
    bool viaDram;
    Cycles issue;
    Cycles ideal;
    size_t pc;
  };
  /// Trace slots: one per transfer in flight, reused.
  std::vector<bool> slotBusy_;
  std::vector<Transfer> slots_;
  unsigned active_ = 0;
  Cycles activeSince_;
  std::vector<uint8_t> buf_;

  // ---- statistics
  // ------------------------------------------------------------
  uint64_t bytes_ = 0;
  uint64_t dramRead_ = 0, dramWritten_ = 0, nocBytes_ = 0;
};

} // namespace nuri::sim::detail

#endif // NURI_SIM_LIB_DMAENGINE_H
