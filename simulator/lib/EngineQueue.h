//===- EngineQueue.h - One in-order instruction queue -----------*- C++ -*-===//
//
// What every engine queue of a core has in common (docs/simulator.md,
// "Queues and synchronization"): it issues its stream in order; an
// instruction occupies the queue for its occupancy and completes later;
// `sem.signal` fires once the queue's earlier work has completed; `barrier`
// and `end` drain the queue; `repeat` loops and `nop` are handled here too.
// The engine kinds (DmaEngine for the dma and fetch queues, MatrixEngine,
// VectorEngine) implement `issue` for their own instructions and own their
// state and statistics.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_SIM_LIB_ENGINEQUEUE_H
#define NURI_SIM_LIB_ENGINEQUEUE_H

#include "SimContext.h"
#include "Stall.h"

#include "nuri/isa/Program.h"

#include <algorithm>
#include <deque>
#include <string>
#include <utility>
#include <vector>

namespace nuri::sim::detail {

/// The operations of one queue that have not completed. Operations are
/// numbered in issue order and complete in any order (DMA transfers
/// overtake each other); what `sem.signal` needs is the oldest one still
/// open. A window of flags from that oldest operation answers in O(1)
/// without a tree node per operation.
class OpWindow {
public:
  void clear() {
    done_.clear();
    oldest_ = next_ = 0;
    open_ = 0;
  }
  /// Numbers a new operation.
  OpSeq open() {
    done_.push_back(false);
    ++open_;
    return next_++;
  }
  void close(OpSeq seq) {
    done_[seq - oldest_] = true;
    --open_;
    while (!done_.empty() && done_.front()) {
      done_.pop_front();
      ++oldest_;
    }
  }
  bool empty() const { return open_ == 0; }
  /// The oldest open operation, or the next number if none is open: every
  /// operation numbered below it has completed.
  OpSeq completedBelow() const { return oldest_; }
  /// The number the next operation will get.
  OpSeq next() const { return next_; }

private:
  std::deque<bool> done_; ///< from oldest_ on
  OpSeq oldest_ = 0, next_ = 0;
  size_t open_ = 0;
};

class EngineQueue {
public:
  enum class State : uint8_t { Running, Blocked, Done };

  EngineQueue(SimContext &ctx, unsigned core, isa::Engine kind)
      : ctx_(ctx), core_(core), kind_(kind) {}
  virtual ~EngineQueue() = default;
  EngineQueue(const EngineQueue &) = delete;
  EngineQueue &operator=(const EngineQueue &) = delete;

  /// Forgets the previous run: state and statistics.
  void reset();
  /// Runs `stream` from its first instruction, starting at cycle 0.
  void start(const isa::Stream &stream);
  /// Issues as far as the queue can now (a WakeEvent).
  void step();
  /// Operation `seq` completed (an OpDoneEvent, or a DMA transfer landing).
  void opDone(OpSeq seq);
  /// Resumes a blocked queue now, charging the blocked time to `r`;
  /// `flowIn` ends a trace flow arrow at the stall (0 = none).
  void unblock(Reason r, uint64_t flowIn = 0);

  unsigned core() const { return core_; }
  isa::Engine kind() const { return kind_; }
  const isa::Stream *stream() const { return stream_; }
  State state() const { return state_; }
  /// The cycle the queue retired its `end` (0 if it had no stream).
  Cycles doneCycle() const { return doneCycle_; }
  /// Why a queue that never retired is stuck (the deadlock report).
  std::string describeBlocked() const;
  /// Stops the run: "core C engine E pc P `inst`: why".
  [[noreturn]] void fail(const std::string &why) const;

  /// Adds this queue's statistics to its core's entry of the report.
  virtual void gather(CoreStats &cs) const;

protected:
  /// Issues `in` (an instruction of this engine kind) now. Returns true
  /// if it issued (the pc advanced and a wake-up is scheduled), false if
  /// the queue must retry the same pc later (a hazard, or blocked).
  virtual bool issue(const isa::Instruction &in) = 0;
  /// Clears the engine kind's own per-run state and statistics.
  virtual void resetEngine() = 0;

  Cycles now() const { return ctx_.now(); }
  void wakeAt(Cycles t) { ctx_.events.schedule(t, WakeEvent{this}); }
  void block(Reason r);
  void addStall(Reason r, uint64_t cycles) {
    if (cycles) {
      stalls_.add(r, cycles);
    }
  }
  /// Starts an operation that completes later (numbered for `sem.signal`).
  OpSeq beginOp() { return ops_.open(); }
  /// The common tail of a compute instruction: it occupies the queue for
  /// `occupancy` cycles and completes at `done`.
  template <typename NameFn>
  void occupy(uint64_t occupancy, Cycles done, NameFn &&name) {
    OpSeq seq = beginOp();
    ctx_.events.schedule(done, OpDoneEvent{this, seq});
    busyCycles_ += occupancy;
    slice(TraceWriter::queueTrack(kind_), name, now(),
          std::max<uint64_t>(1, occupancy));
    readyAt_ = now() + Cycles(occupancy);
    ++pc_;
    wakeAt(readyAt_);
  }
  /// The queue may not issue before `t` (a hazard): retries the same pc.
  template <typename NameFn>
  void stallUntil(Cycles t, Reason r, NameFn &&name) {
    uint64_t cycles = (t - now()).count();
    addStall(r, cycles);
    slice(TraceWriter::queueTrack(kind_), name, now(), cycles);
    readyAt_ = t;
    wakeAt(t);
  }
  template <typename NameFn>
  void slice(unsigned track, NameFn &&name, Cycles start, uint64_t dur,
             uint64_t flowOut = 0, uint64_t flowIn = 0) {
    ctx_.trace.slice(core_, track, name, start, dur, flowOut, flowIn);
  }

  // ---- operand checks (errors name this queue's instruction) ------------
  /// A 3-D extent [addr, addr + last byte] inside a space of `size` bytes.
  void checkRange(const char *what, uint64_t size, uint64_t addr,
                  uint64_t rowBytes, uint64_t rows, uint64_t stride,
                  uint64_t planes = 1, uint64_t pstride = 0) const;
  void checkAlign(const char *what, uint64_t addr, uint64_t ld,
                  isa::Dtype d) const;
  /// A 2-D SRAM tile of `rows` x `cols` elements of `d` of this core;
  /// a written tile raises the core's SRAM peak. Returns its box.
  Box checkTile(const char *what, uint64_t addr, uint64_t ld, uint64_t rows,
                uint64_t cols, isa::Dtype d, bool write);

  /// An access of the current instruction, for the race detector.
  Access access(Mem mem, unsigned core, Box box, bool write, Cycles end,
                int64_t transfer = kNoTransfer) const {
    return Access{mem, core, box, write, this, pc_, end, transfer};
  }

  SimContext &ctx_;
  const unsigned core_;
  const isa::Engine kind_;
  const isa::Stream *stream_ = nullptr;
  size_t pc_ = 0;
  State state_ = State::Done;
  Reason reason_ = Reason::Drain;
  Cycles blockedSince_;
  Cycles readyAt_;
  /// Accesses of the instruction being issued (reused, never shrunk).
  std::vector<Access> accesses_;

  // ---- statistics -----------------------------------------------------------
  uint64_t instructions_ = 0;
  uint64_t busyCycles_ = 0;
  StallCounters stalls_;
  Cycles doneCycle_;

private:
  struct PendingSignal {
    OpSeq seqBound; ///< fires when every op with seq < bound completed
    unsigned sem, core, count;
    uint64_t traceFlow;
  };

  OpWindow ops_;
  std::deque<PendingSignal> pending_;
  std::vector<std::pair<size_t, uint64_t>> loops_; ///< (repeat pc, left)
};

} // namespace nuri::sim::detail

#endif // NURI_SIM_LIB_ENGINEQUEUE_H
