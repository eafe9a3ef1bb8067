//===- EngineQueue.cpp - One in-order instruction queue -------------------===//

#include "EngineQueue.h"

#include <fmt/format.h>

#include <algorithm>

namespace nuri::sim::detail {

using namespace isa;

void EngineQueue::reset() {
  stream_ = nullptr;
  pc_ = 0;
  state_ = State::Done;
  reason_ = Reason::Drain;
  blockedSince_ = Cycles(0);
  readyAt_ = Cycles(0);
  ops_.clear();
  pending_.clear();
  loops_.clear();
  instructions_ = 0;
  busyCycles_ = 0;
  stalls_ = StallCounters();
  doneCycle_ = Cycles(0);
  resetEngine();
}

void EngineQueue::start(const Stream &stream) {
  stream_ = &stream;
  state_ = State::Running;
  wakeAt(Cycles(0));
}

void EngineQueue::fail(const std::string &why) const {
  std::string inst = stream_ && pc_ < stream_->insts.size()
                         ? formatInstruction(stream_->insts[pc_])
                         : "<none>";
  throw Error(fmt::format("core {} engine {} pc {} `{}`: {}", core_,
                          engineName(kind_), pc_, inst, why));
}

void EngineQueue::block(Reason r) {
  state_ = State::Blocked;
  reason_ = r;
  blockedSince_ = now();
}

void EngineQueue::unblock(Reason r, uint64_t flowIn) {
  if (state_ != State::Blocked) {
    return;
  }
  uint64_t stalled = (now() - blockedSince_).count();
  addStall(r, stalled);
  if (stalled || flowIn) {
    slice(
        TraceWriter::queueTrack(kind_),
        [&] { return fmt::format("stall: {}", reasonName(r)); }, blockedSince_,
        std::max<uint64_t>(stalled, 1), 0, flowIn);
  }
  state_ = State::Running;
  wakeAt(now());
}

void EngineQueue::opDone(OpSeq seq) {
  ops_.close(seq);
  OpSeq bound = ops_.completedBelow();
  while (!pending_.empty() && pending_.front().seqBound <= bound) {
    PendingSignal p = pending_.front();
    pending_.pop_front();
    ctx_.sync.signal(*this, p.core, p.sem, p.count, p.traceFlow, now());
  }
  if (state_ == State::Blocked &&
      (reason_ == Reason::DmaQueueFull ||
       (reason_ == Reason::Drain && ops_.empty()))) {
    unblock(reason_);
  }
}

void EngineQueue::step() {
  const target::Target &tgt = ctx_.tgt;
  while (state_ == State::Running && now() >= readyAt_) {
    const Instruction &in = stream_->insts[pc_];
    if (++ctx_.dynInstructions > ctx_.opts.maxInstructions) {
      fail(fmt::format("dynamic instruction budget of {} exceeded",
                       ctx_.opts.maxInstructions));
    }
    switch (in.opcode) {
    case Opcode::End:
      if (!ops_.empty()) {
        --ctx_.dynInstructions;
        block(Reason::Drain);
        return;
      }
      ++instructions_;
      state_ = State::Done;
      doneCycle_ = now();
      return;
    case Opcode::SemWait: {
      unsigned s = unsigned(in[Field::Sem]);
      if (s >= tgt.semaphoresPerCore) {
        fail(fmt::format("semaphore {} does not exist (target has {} per "
                         "core)",
                         s, tgt.semaphoresPerCore));
      }
      Semaphore &sem = ctx_.sync.semaphore(core_, s);
      if (sem.value >= int64_t(in[Field::Count])) {
        sem.value -= int64_t(in[Field::Count]);
        ++instructions_;
        ++pc_;
        continue;
      }
      --ctx_.dynInstructions; // re-executed when woken
      sem.waiters.push_back(this);
      block(waitReason(sem.lastSignaller));
      return;
    }
    case Opcode::SemSignal: {
      unsigned s = unsigned(in[Field::Sem]), c = unsigned(in[Field::Core]);
      if (c >= tgt.cores) {
        fail(fmt::format("core {} does not exist (target has {})", c,
                         tgt.cores));
      }
      if (s >= tgt.semaphoresPerCore) {
        fail(fmt::format("semaphore {} does not exist (target has {} per "
                         "core)",
                         s, tgt.semaphoresPerCore));
      }
      uint64_t flow = ctx_.opts.trace ? ctx_.nextFlow++ : 0;
      ++instructions_;
      if (ops_.empty()) {
        ctx_.sync.signal(*this, c, s, unsigned(in[Field::Count]), flow, now());
      } else {
        pending_.push_back(
            PendingSignal{ops_.next(), s, c, unsigned(in[Field::Count]), flow});
      }
      ++pc_;
      continue;
    }
    case Opcode::Barrier: {
      if (!ops_.empty()) {
        --ctx_.dynInstructions;
        block(Reason::Drain);
        return;
      }
      unsigned b = unsigned(in[Field::Bar]);
      if (b >= tgt.barriers) {
        fail(fmt::format("barrier {} does not exist (target has {})", b,
                         tgt.barriers));
      }
      uint64_t count = in[Field::Count];
      if (count == 0) {
        fail("barrier count must be >= 1");
      }
      BarrierState &bs = ctx_.sync.barrier(b);
      if (bs.arrived == 0) {
        bs.expected = count;
      } else if (bs.expected != count) {
        fail(fmt::format("barrier {} count {} disagrees with {} given by "
                         "an earlier arrival",
                         b, count, bs.expected));
      }
      ++instructions_;
      ++pc_;
      if (ctx_.sync.arrive(*this, b, now())) {
        continue;
      }
      block(Reason::Barrier);
      return;
    }
    case Opcode::Repeat: {
      ++instructions_;
      if (!loops_.empty() && loops_.back().first == pc_) {
        if (--loops_.back().second == 0) {
          loops_.pop_back();
          ++pc_;
        } else {
          pc_ = in[Field::Body];
        }
        continue;
      }
      if (in[Field::Times] <= 1) {
        ++pc_;
        continue;
      }
      if (loops_.size() >= 8) {
        fail("repeat nesting deeper than 8");
      }
      loops_.emplace_back(pc_, in[Field::Times] - 1);
      pc_ = in[Field::Body];
      continue;
    }
    case Opcode::Nop:
      ++instructions_;
      readyAt_ = now() + Cycles(in[Field::Cycles]);
      ++pc_;
      wakeAt(readyAt_);
      return;
    default:
      // The engine kind's own instructions (verifyProgram guarantees the
      // opcode is legal on this queue).
      if (issue(in)) {
        ++instructions_;
      } else {
        --ctx_.dynInstructions; // retried later
      }
      return;
    }
  }
}

std::string EngineQueue::describeBlocked() const {
  // A queue waiting at a barrier has already stepped past it.
  size_t pc = state_ == State::Blocked && reason_ == Reason::Barrier && pc_ > 0
                  ? pc_ - 1
                  : pc_;
  const Instruction &in = stream_->insts[pc];
  std::string why;
  if (in.opcode == Opcode::SemWait) {
    const Semaphore &s = ctx_.sync.semaphore(core_, unsigned(in[Field::Sem]));
    why = fmt::format("waits for semaphore {} to reach {} (value {}), but "
                      "nothing left can signal it",
                      in[Field::Sem], in[Field::Count], s.value);
  } else if (in.opcode == Opcode::Barrier) {
    const BarrierState &b = ctx_.sync.barrier(unsigned(in[Field::Bar]));
    why = fmt::format("waits at barrier {} ({} of {} arrived)", in[Field::Bar],
                      b.arrived, b.expected);
  } else {
    why = fmt::format("blocked ({})", reasonName(reason_));
  }
  return fmt::format("core {} engine {} pc {} `{}`: {}", core_,
                     engineName(kind_), pc, formatInstruction(in), why);
}

void EngineQueue::gather(CoreStats &cs) const {
  EngineStats &es = cs.engines[unsigned(kind_)];
  es.instructions = instructions_;
  es.busyCycles = busyCycles_;
  stalls_.addTo(es.stalls);
  es.doneCycle = doneCycle_.count();
}

// ---- operand checks ---------------------------------------------------------

void EngineQueue::checkRange(const char *what, uint64_t size, uint64_t addr,
                             uint64_t rowBytes, uint64_t rows, uint64_t stride,
                             uint64_t planes, uint64_t pstride) const {
  if (rowBytes == 0 || rows == 0 || planes == 0) {
    fail(
        fmt::format("{} is empty (bytes, rows and planes must be >= 1)", what));
  }
  // 128-bit arithmetic: hostile strides must not wrap around.
  unsigned __int128 end = (unsigned __int128)addr +
                          (unsigned __int128)(rows - 1) * stride +
                          (unsigned __int128)(planes - 1) * pstride + rowBytes;
  if (end > size) {
    fail(fmt::format("{} [0x{:x}, 0x{:x}) out of bounds (size 0x{:x})", what,
                     addr, (uint64_t)std::min<unsigned __int128>(end, ~0ull),
                     size));
  }
}

void EngineQueue::checkAlign(const char *what, uint64_t addr, uint64_t ld,
                             Dtype d) const {
  unsigned eb = dtypeBytes(d);
  if (addr % eb || ld % eb) {
    fail(fmt::format("misaligned {}: address 0x{:x} / row stride {} not "
                     "a multiple of {} bytes ({})",
                     what, addr, ld, eb, dtypeName(d)));
  }
}

Box EngineQueue::checkTile(const char *what, uint64_t addr, uint64_t ld,
                           uint64_t rows, uint64_t cols, Dtype d, bool write) {
  checkAlign(what, addr, ld, d);
  uint64_t rowBytes = cols * dtypeBytes(d);
  checkRange(what, ctx_.tgt.sram.bytesPerCore, addr, rowBytes, rows, ld);
  if (write) {
    ctx_.mem.noteSramWrite(core_, addr + (rows - 1) * ld + rowBytes);
  }
  return Box::tile(addr, ld, rows, rowBytes);
}

} // namespace nuri::sim::detail
