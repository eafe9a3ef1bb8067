//===- Simulator.cpp - Event-driven NPU simulator -------------------------===//
//
// Components: one Queue per (core, engine) that issues its stream in order,
// two shared bandwidth Links (DRAM, on-chip NoC) that split their bandwidth
// among the transfers in flight, semaphores and barriers. Time advances from
// event to event (an instruction's issue slot ending, an operation
// completing, a transfer's bytes draining); nothing ticks per cycle. The
// model is written down in docs/simulator.md.
//
//===----------------------------------------------------------------------===//

#include "nuri/sim/Simulator.h"

#include "Kernels.h"
#include "Memory.h"

#include "nuri/isa/Numerics.h"
#include "nuri/target/CostModel.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <numeric>
#include <queue>
#include <set>

namespace nuri::sim {

using namespace isa;
using detail::FlatMemory;
using detail::loadRow;
using detail::PagedMemory;
using detail::storeRow;

namespace {

enum class Reason : uint8_t {
  WaitDma,
  WaitMat,
  WaitVec,
  WaitFetch,
  Barrier,
  DmaQueueFull,
  AccHazard,
  VectorRaw,
  BankConflict,
  Drain,
  DramContention,
  NocContention,
  Count
};

const char *reasonName(Reason r) {
  static const char *names[] = {
      "wait_dma",   "wait_mat",        "wait_vec",
      "wait_fetch", "barrier",         "dma_queue_full",
      "acc_hazard", "vector_raw",      "sram_bank_conflict",
      "drain",      "dram_contention", "noc_contention"};
  static_assert(sizeof(names) / sizeof(names[0]) == unsigned(Reason::Count));
  return names[static_cast<unsigned>(r)];
}

Reason waitReason(Engine signaller) {
  switch (signaller) {
  case Engine::Dma:
    return Reason::WaitDma;
  case Engine::Matrix:
    return Reason::WaitMat;
  case Engine::Vector:
    return Reason::WaitVec;
  case Engine::Fetch:
    return Reason::WaitFetch;
  }
  return Reason::WaitDma;
}

enum class EvType : uint8_t { Wake, OpDone, DmaJoin, LinkCheck };

struct Event {
  uint64_t time;
  uint64_t seq;
  EvType type;
  uint32_t a;
  uint64_t b;
  bool operator>(const Event &o) const {
    return time != o.time ? time > o.time : seq > o.seq;
  }
};

struct TraceSlice {
  unsigned core;
  unsigned tid;
  std::string name;
  uint64_t start, dur;
  uint64_t flowOut = 0; ///< flow id starting here (0 = none)
  uint64_t flowIn = 0;  ///< flow id ending here
};

} // namespace

struct Simulator::Impl {
  // ---- configuration -----------------------------------------------------
  target::Target tgt;
  SimOptions opts;
  ClockDomain clock;

  // ---- memory (persistent across runs) -----------------------------------
  PagedMemory dram;
  FlatMemory shared;
  std::vector<FlatMemory> sram;
  std::vector<std::vector<uint32_t>> acc;   ///< raw bits per entry
  std::vector<std::vector<uint8_t>> accTag; ///< 0 unwritten, 1 i32, 2 f32

  // ---- per-run state ------------------------------------------------------
  struct PendingSignal {
    uint64_t seqBound; ///< fires when every op with seq < bound completed
    unsigned sem, core, count;
    uint64_t traceFlow;
  };
  struct AccUse {
    uint64_t lo, hi, done;
  };
  struct Queue {
    unsigned core = 0;
    Engine kind = Engine::Dma;
    unsigned index = 0;
    const Stream *stream = nullptr;
    size_t pc = 0;
    enum class St { Running, Blocked, Done } st = St::Done;
    Reason reason = Reason::Drain;
    uint64_t blockedSince = 0;
    uint64_t readyAt = 0;
    uint64_t nextSeq = 0;
    std::set<uint64_t> incomplete;
    std::deque<PendingSignal> pending;
    std::vector<std::pair<size_t, uint64_t>> loops; ///< (repeat pc, left)
    EngineStats *stats = nullptr;
    // matrix pipeline
    std::deque<AccUse> accInFlight;
    uint64_t lastAcc = ~0ull, lastM = 0, lastN = 0, streamEnd = 0;
    // vector pipeline: the previous op's destination and completion
    uint64_t lastDstLo = 0, lastDstHi = 0, lastDone = 0;
    // dma
    unsigned active = 0;
    uint64_t activeSince = 0;
    std::vector<uint64_t> slotBusy; ///< per trace slot: busy flag
  };
  struct Transfer {
    unsigned queue;
    uint64_t seq;
    double bytes;
    unsigned link; ///< 0 DRAM, 1 NoC
    uint64_t issue;
    uint64_t ideal;
    unsigned slot;
    size_t pc;
    bool done = false;
  };
  struct Link {
    double capacity = 0, perFlowCap = 0;
    struct Flow {
      double remaining;
      uint32_t transfer;
    };
    std::vector<Flow> flows;
    uint64_t lastUpdate = 0;
    uint64_t gen = 0;
    uint64_t busyCycles = 0;
    double rate() const {
      return flows.empty() ? 0.0
                           : std::min(perFlowCap, capacity / flows.size());
    }
  };
  struct Semaphore {
    int64_t value = 0;
    Engine lastSignaller = Engine::Dma;
    uint64_t lastFlow = 0;
    std::vector<unsigned> waiters;
  };
  struct BarrierState {
    uint64_t expected = 0, arrived = 0;
    std::vector<unsigned> waiting;
  };

  std::vector<Queue> queues;
  std::vector<Transfer> transfers;
  Link links[2];
  std::vector<std::vector<Semaphore>> sems;
  std::vector<BarrierState> barriers;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events;
  uint64_t evSeq = 0;
  uint64_t now = 0;
  uint64_t dynInstructions = 0;
  Report report;
  std::vector<TraceSlice> trace;
  uint64_t nextFlow = 1;
  uint64_t sharedPeak = 0;

  Impl(const target::Target &t, SimOptions o)
      : tgt(t), opts(o), clock(t.clockHz), dram(t.dram.bytes),
        shared(t.sram.sharedBytes) {
    dram.setBudget(o.maxHostDramBytes);
    sram.reserve(t.cores);
    for (unsigned c = 0; c < t.cores; ++c) {
      sram.emplace_back(t.sram.bytesPerCore);
    }
    acc.resize(t.cores);
    accTag.resize(t.cores);
  }

  uint64_t accEntries() const { return tgt.matrix.accBytes / 4; }
  void touchAcc(unsigned core) {
    if (acc[core].empty()) {
      acc[core].assign(accEntries(), 0);
      accTag[core].assign(accEntries(), 0);
    }
  }

  // ---- errors -------------------------------------------------------------
  [[noreturn]] void fail(const Queue &q, const std::string &why) const {
    std::string inst = q.stream && q.pc < q.stream->insts.size()
                           ? formatInstruction(q.stream->insts[q.pc])
                           : "<none>";
    throw Error(fmt::format("core {} engine {} pc {} `{}`: {}", q.core,
                            engineName(q.kind), q.pc, inst, why));
  }

  // ---- events ---------------------------------------------------------------
  void schedule(uint64_t t, EvType type, uint32_t a, uint64_t b = 0) {
    events.push(Event{t, evSeq++, type, a, b});
  }

  // ---- memory checks
  // ----------------------------------------------------------
  /// Checks a 3-D extent [addr, addr + last byte] against a space size.
  void checkRange(const Queue &q, const char *what, uint64_t size,
                  uint64_t addr, uint64_t rowBytes, uint64_t rows,
                  uint64_t stride, uint64_t planes = 1, uint64_t pstride = 0) {
    if (rowBytes == 0 || rows == 0 || planes == 0) {
      fail(q, fmt::format("{} is empty (bytes, rows and planes must be >= 1)",
                          what));
    }
    // 128-bit arithmetic: hostile strides must not wrap around.
    unsigned __int128 end =
        (unsigned __int128)addr + (unsigned __int128)(rows - 1) * stride +
        (unsigned __int128)(planes - 1) * pstride + rowBytes;
    if (end > size) {
      fail(q, fmt::format(
                  "{} [0x{:x}, 0x{:x}) out of bounds (size 0x{:x})", what, addr,
                  (uint64_t)std::min<unsigned __int128>(end, ~0ull), size));
    }
  }
  void checkAlign(const Queue &q, const char *what, uint64_t addr, uint64_t ld,
                  Dtype d) {
    unsigned eb = dtypeBytes(d);
    if (addr % eb || ld % eb) {
      fail(q, fmt::format("misaligned {}: address 0x{:x} / row stride {} not "
                          "a multiple of {} bytes ({})",
                          what, addr, ld, eb, dtypeName(d)));
    }
  }
  /// A 2-D SRAM tile of `rows` x `cols` elements of `d`.
  void checkTile(const Queue &q, const char *what, uint64_t addr, uint64_t ld,
                 uint64_t rows, uint64_t cols, Dtype d, bool write) {
    checkAlign(q, what, addr, ld, d);
    checkRange(q, what, tgt.sram.bytesPerCore, addr, cols * dtypeBytes(d), rows,
               ld);
    // issueVector race-checks the tiles noted here; without the note a
    // vector op's SRAM operands were invisible to the detector.
    if (collectTiles_) {
      tileNotes_.emplace_back(tile(addr, ld, rows, cols * dtypeBytes(d)),
                              write);
    }
    if (write) {
      uint64_t end = addr + (rows - 1) * ld + cols * dtypeBytes(d);
      auto &peak = report.cores[q.core].sramPeakBytes;
      peak = std::max(peak, end);
    }
  }

  uint8_t *sramPtr(unsigned core) { return sram[core].data(); }

  // ---- stats helpers
  // ------------------------------------------------------------
  void addStall(Queue &q, Reason r, uint64_t cycles) {
    if (cycles) {
      q.stats->stalls[reasonName(r)] += cycles;
    }
  }
  void slice(const Queue &q, unsigned tid, std::string name, uint64_t start,
             uint64_t dur, uint64_t flowOut = 0, uint64_t flowIn = 0) {
    if (opts.trace) {
      trace.push_back(TraceSlice{q.core, tid, std::move(name), start, dur,
                                 flowOut, flowIn});
    }
  }
  /// Trace tracks per core: sync 0, mat 1, vec 2, then an issue track per DMA
  /// queue (dma 3, fetch 4) and one track per transfer slot of each DMA
  /// queue, dma's slots first. A queue never holds more than dma.outstanding
  /// slots, so the fetch slots start right after dma's.
  static unsigned tidOf(Engine e) {
    switch (e) {
    case Engine::Matrix:
      return 1;
    case Engine::Vector:
      return 2;
    case Engine::Dma:
      return 3;
    case Engine::Fetch:
      return 4;
    }
    return 3;
  }
  unsigned slotTid(Engine e, unsigned slot) const {
    return kDmaTidBase + (e == Engine::Fetch ? tgt.dma.outstanding : 0) + slot;
  }
  static constexpr unsigned kSyncTid = 0;
  static constexpr unsigned kDmaTidBase = 10;

  void block(Queue &q, Reason r) {
    q.st = Queue::St::Blocked;
    q.reason = r;
    q.blockedSince = now;
  }
  void unblock(Queue &q, Reason r, uint64_t flowIn = 0) {
    if (q.st != Queue::St::Blocked) {
      return;
    }
    uint64_t stalled = now - q.blockedSince;
    addStall(q, r, stalled);
    if (stalled || flowIn) {
      slice(q, tidOf(q.kind), fmt::format("stall: {}", reasonName(r)),
            q.blockedSince, std::max<uint64_t>(stalled, 1), 0, flowIn);
    }
    q.st = Queue::St::Running;
    schedule(now, EvType::Wake, q.index);
  }

  // ---- race detection --------------------------------------------------
  // Effects apply at issue, so a program whose engines touch the same bytes
  // while both are in flight (one writing) would compute "right" here and
  // wrong on hardware. Every access is kept until its operation completes;
  // an overlapping access from another queue (or another DMA transfer) is a
  // race: the program lacks a semaphore or barrier.
  enum class Mem : uint8_t { Dram, Shared, Sram, Acc };
  struct Box {
    uint64_t addr = 0, bytes = 0, rows = 1, stride = 0, planes = 1, pstride = 0;
  };
  struct Access {
    Mem mem;
    unsigned core;
    Box box;
    bool write;
    unsigned queue;
    size_t pc;
    uint64_t end;     ///< completion cycle (DMA: removed explicitly)
    int64_t transfer; ///< DMA transfer index, else -1
  };
  std::vector<Access> inflight;
  /// SRAM tiles the current vector instruction touches (from checkTile).
  bool collectTiles_ = false;
  std::vector<std::pair<Box, bool>> tileNotes_;

  /// Does [x, x+w) intersect a row of the 2-D box (rows at base + r*stride)?
  static bool rowHits(uint64_t x, uint64_t w, const Box &b, uint64_t base) {
    if (b.rows == 1 || b.stride == 0) {
      return base < x + w && base + b.bytes > x;
    }
    // Rows r with base + r*s < x + w and base + r*s + bytes > x.
    __int128 lo = (__int128)x - (__int128)b.bytes - (__int128)base;
    __int128 hi = (__int128)x + (__int128)w - (__int128)base;
    __int128 s = b.stride;
    __int128 rmin = lo < 0 ? 0 : lo / s + 1;
    if (hi <= 0) {
      return false;
    }
    __int128 rmax = std::min<__int128>((hi - 1) / s, (__int128)b.rows - 1);
    return rmin <= rmax;
  }
  static uint64_t boxEnd(const Box &b) {
    return b.addr + (b.rows - 1) * b.stride + (b.planes - 1) * b.pstride +
           b.bytes;
  }
  static bool overlaps(Box a, Box b) {
    if (a.addr >= boxEnd(b) || b.addr >= boxEnd(a)) {
      return false;
    }
    if (a.rows * a.planes > b.rows * b.planes) {
      std::swap(a, b);
    }
    // Exact test, bounded: a pathological pair is skipped rather than
    // reported, so the detector never raises a false alarm.
    if (a.rows * a.planes * b.planes > (1u << 16)) {
      return false;
    }
    for (uint64_t p = 0; p < a.planes; ++p) {
      for (uint64_t r = 0; r < a.rows; ++r) {
        uint64_t x = a.addr + p * a.pstride + r * a.stride;
        for (uint64_t q = 0; q < b.planes; ++q) {
          if (rowHits(x, a.bytes, b, b.addr + q * b.pstride)) {
            return true;
          }
        }
      }
    }
    return false;
  }
  static const char *memName(Mem m) {
    switch (m) {
    case Mem::Dram:
      return "DRAM";
    case Mem::Shared:
      return "shared SRAM";
    case Mem::Sram:
      return "SRAM";
    case Mem::Acc:
      return "accumulator";
    }
    return "?";
  }
  /// Checks all accesses of one instruction, then records them.
  void checkRaces(const Queue &q, std::vector<Access> &accs) {
    if (!opts.detectRaces) {
      return;
    }
    inflight.erase(std::remove_if(inflight.begin(), inflight.end(),
                                  [&](const Access &e) {
                                    return e.transfer < 0 && e.end <= now;
                                  }),
                   inflight.end());
    for (const Access &a : accs) {
      for (const Access &e : inflight) {
        bool bothDma = e.transfer >= 0 && a.transfer >= 0;
        if (e.mem != a.mem || e.core != a.core || !(e.write || a.write) ||
            (e.queue == a.queue && !bothDma) || !overlaps(e.box, a.box)) {
          continue;
        }
        const Queue &other = queues[e.queue];
        fail(q, fmt::format(
                    "race: {} {} [0x{:x}, 0x{:x}) of core {} while core {} "
                    "engine {} pc {} `{}` still {} it; no semaphore or "
                    "barrier orders them",
                    a.write ? "writes" : "reads", memName(a.mem), a.box.addr,
                    boxEnd(a.box), a.core, other.core, engineName(other.kind),
                    e.pc, formatInstruction(other.stream->insts[e.pc]),
                    e.write ? "writes" : "reads"));
      }
    }
    inflight.insert(inflight.end(), accs.begin(), accs.end());
  }
  Access access(const Queue &q, Mem mem, unsigned core, Box box, bool write,
                uint64_t end, int64_t transfer = -1) const {
    return Access{mem, core, box, write, q.index, q.pc, end, transfer};
  }
  static Box tile(uint64_t addr, uint64_t ld, uint64_t rows,
                  uint64_t rowBytes) {
    Box b;
    b.addr = addr;
    b.stride = ld;
    b.rows = rows;
    b.bytes = rowBytes;
    return b;
  }

  // ---- completion bookkeeping
  // ------------------------------------------------------
  void fireSignal(const Queue &from, unsigned core, unsigned sem,
                  unsigned count, uint64_t flow) {
    Semaphore &s = sems[core][sem];
    s.value += count;
    s.lastSignaller = from.kind;
    s.lastFlow = flow;
    if (flow) {
      slice(from, kSyncTid, fmt::format("signal c{}.s{}", core, sem), now, 1,
            flow);
    }
    std::vector<unsigned> waiters;
    waiters.swap(s.waiters);
    for (unsigned w : waiters) {
      unblock(queues[w], waitReason(from.kind), flow);
    }
  }

  void opDone(Queue &q, uint64_t seq) {
    q.incomplete.erase(seq);
    uint64_t bound = q.incomplete.empty() ? q.nextSeq : *q.incomplete.begin();
    while (!q.pending.empty() && q.pending.front().seqBound <= bound) {
      PendingSignal p = q.pending.front();
      q.pending.pop_front();
      fireSignal(q, p.core, p.sem, p.count, p.traceFlow);
    }
    if (q.st == Queue::St::Blocked &&
        (q.reason == Reason::DmaQueueFull ||
         (q.reason == Reason::Drain && q.incomplete.empty()))) {
      unblock(q, q.reason);
    }
  }

  // ---- shared bandwidth links
  // -------------------------------------------------------
  void linkAdvance(Link &l) {
    if (now > l.lastUpdate) {
      double moved = double(now - l.lastUpdate) * l.rate();
      for (auto &f : l.flows) {
        f.remaining -= moved;
      }
      if (!l.flows.empty()) {
        l.busyCycles += now - l.lastUpdate;
      }
    }
    l.lastUpdate = now;
  }
  void linkReschedule(unsigned li) {
    Link &l = links[li];
    ++l.gen;
    if (l.flows.empty()) {
      return;
    }
    double minRem = l.flows[0].remaining;
    for (auto &f : l.flows) {
      minRem = std::min(minRem, f.remaining);
    }
    double dt = std::max(0.0, minRem) / l.rate();
    schedule(now + uint64_t(std::ceil(dt - 1e-9)), EvType::LinkCheck, li,
             l.gen);
  }
  void linkCheck(unsigned li, uint64_t gen) {
    Link &l = links[li];
    if (gen != l.gen) {
      return; // superseded by a later change of the flow set
    }
    linkAdvance(l);
    std::vector<uint32_t> finished;
    for (size_t i = 0; i < l.flows.size();) {
      if (l.flows[i].remaining <= 1e-6) {
        finished.push_back(l.flows[i].transfer);
        l.flows[i] = l.flows.back();
        l.flows.pop_back();
      } else {
        ++i;
      }
    }
    linkReschedule(li);
    for (uint32_t t : finished) {
      transferDone(t);
    }
  }
  void dmaJoin(uint32_t t) {
    Transfer &tr = transfers[t];
    Link &l = links[tr.link];
    linkAdvance(l);
    l.flows.push_back(Link::Flow{tr.bytes, t});
    linkReschedule(tr.link);
  }
  void transferDone(uint32_t t) {
    Transfer &tr = transfers[t];
    tr.done = true;
    inflight.erase(std::remove_if(inflight.begin(), inflight.end(),
                                  [&](const Access &e) {
                                    return e.transfer == int64_t(t);
                                  }),
                   inflight.end());
    Queue &q = queues[tr.queue];
    uint64_t took = now - tr.issue;
    if (took > tr.ideal) {
      addStall(q, tr.link == 0 ? Reason::DramContention : Reason::NocContention,
               took - tr.ideal);
    }
    if (--q.active == 0) {
      q.stats->busyCycles += now - q.activeSince;
    }
    q.slotBusy[tr.slot] = 0;
    if (opts.trace) {
      const Instruction &inst = q.stream->insts[tr.pc];
      std::string to = inst.opcode == Opcode::DmaMcast
                           ? fmt::format("mcast 0x{:x}", inst[Field::Cores])
                           : enumName(FieldKind::Space, inst[Field::DstSpace]);
      slice(q, slotTid(q.kind, tr.slot),
            fmt::format("{}->{} {}B pc{}",
                        enumName(FieldKind::Space, inst[Field::SrcSpace]), to,
                        uint64_t(tr.bytes), tr.pc),
            tr.issue, std::max<uint64_t>(1, took));
    }
    opDone(q, tr.seq);
  }

  // ---- instruction semantics
  // ------------------------------------------------------
  /// Bytes of a DMA operand in `space` as seen from `q`'s core.
  struct SpaceRef {
    uint64_t size;
    int kind; ///< 0 dram, 1 flat
    FlatMemory *flat;
    const char *name;
  };
  SpaceRef spaceRef(const Queue &q, Space s, uint64_t peer) {
    switch (s) {
    case Space::Dram:
      return {tgt.dram.bytes, 0, nullptr, "DRAM"};
    case Space::Sram:
      return {tgt.sram.bytesPerCore, 1, &sram[q.core], "SRAM"};
    case Space::Shared:
      if (tgt.sram.sharedBytes == 0) {
        fail(q, "target has no shared SRAM");
      }
      return {tgt.sram.sharedBytes, 1, &shared, "shared SRAM"};
    case Space::Peer:
      if (peer >= tgt.cores) {
        fail(q, fmt::format("peer core {} does not exist (target has {})", peer,
                            tgt.cores));
      }
      return {tgt.sram.bytesPerCore, 1, &sram[peer], "peer SRAM"};
    }
    fail(q, "bad space");
  }

  void issueDma(Queue &q, const Instruction &in) {
    Space ss = Space(in[Field::SrcSpace]), ds = Space(in[Field::DstSpace]);
    uint64_t bytes = in[Field::Bytes], rows = in[Field::Rows],
             planes = in[Field::Planes];
    SpaceRef src = spaceRef(q, ss, in[Field::Core]);
    SpaceRef dst = spaceRef(q, ds, in[Field::Core]);
    std::string sw = fmt::format("{} source", src.name);
    std::string dw = fmt::format("{} destination", dst.name);
    checkRange(q, sw.c_str(), src.size, in[Field::Src], bytes, rows,
               in[Field::SrcStride], planes, in[Field::SrcPStride]);
    checkRange(q, dw.c_str(), dst.size, in[Field::Dst], bytes, rows,
               in[Field::DstStride], planes, in[Field::DstPStride]);
    uint64_t dstEnd = in[Field::Dst] + (rows - 1) * in[Field::DstStride] +
                      (planes - 1) * in[Field::DstPStride] + bytes;
    if (ds == Space::Sram || (ds == Space::Peer && in[Field::Core] == q.core)) {
      report.cores[q.core].sramPeakBytes =
          std::max(report.cores[q.core].sramPeakBytes, dstEnd);
    } else if (ds == Space::Peer) {
      report.cores[in[Field::Core]].sramPeakBytes =
          std::max(report.cores[in[Field::Core]].sramPeakBytes, dstEnd);
    } else if (ds == Space::Shared) {
      sharedPeak = std::max(sharedPeak, dstEnd);
    }
    uint64_t total = bytes * rows * planes;
    {
      auto memOf = [&](Space sp) {
        switch (sp) {
        case Space::Dram:
          return std::pair<Mem, unsigned>{Mem::Dram, 0};
        case Space::Shared:
          return std::pair<Mem, unsigned>{Mem::Shared, 0};
        case Space::Sram:
          return std::pair<Mem, unsigned>{Mem::Sram, q.core};
        case Space::Peer:
          return std::pair<Mem, unsigned>{Mem::Sram, unsigned(in[Field::Core])};
        }
        return std::pair<Mem, unsigned>{Mem::Dram, 0};
      };
      auto box3 = [&](uint64_t addr, uint64_t stride, uint64_t pstride) {
        Box b;
        b.addr = addr;
        b.bytes = bytes;
        b.rows = rows;
        b.stride = stride;
        b.planes = planes;
        b.pstride = pstride;
        return b;
      };
      int64_t id = int64_t(transfers.size()); // the transfer created below
      auto [sm, sc] = memOf(ss);
      auto [dm, dc] = memOf(ds);
      std::vector<Access> accs = {
          access(
              q, sm, sc,
              box3(in[Field::Src], in[Field::SrcStride], in[Field::SrcPStride]),
              false, ~0ull, id),
          access(
              q, dm, dc,
              box3(in[Field::Dst], in[Field::DstStride], in[Field::DstPStride]),
              true, ~0ull, id)};
      checkRaces(q, accs);
    }
    if (opts.functional) {
      std::vector<uint8_t> buf(bytes);
      for (uint64_t p = 0; p < planes; ++p) {
        for (uint64_t r = 0; r < rows; ++r) {
          uint64_t sa = in[Field::Src] + p * in[Field::SrcPStride] +
                        r * in[Field::SrcStride];
          uint64_t da = in[Field::Dst] + p * in[Field::DstPStride] +
                        r * in[Field::DstStride];
          if (src.kind == 0) {
            dram.read(sa, buf.data(), bytes);
          } else {
            src.flat->read(sa, buf.data(), bytes);
          }
          if (dst.kind == 0) {
            try {
              dram.write(da, buf.data(), bytes);
            } catch (const Error &e) {
              fail(q, e.what());
            }
          } else {
            dst.flat->write(da, buf.data(), bytes);
          }
        }
      }
    }
    bool viaDram = ss == Space::Dram || ds == Space::Dram;
    double linkBytes = double(total);
    if (ss == Space::Dram && ds == Space::Dram) {
      linkBytes *= 2; // read and write both cross the DRAM interface
    }
    if (ss == Space::Dram) {
      report.dramBytesRead += total;
    }
    if (ds == Space::Dram) {
      report.dramBytesWritten += total;
    }
    if (!viaDram) {
      report.nocBytes += total;
    }
    report.cores[q.core].dmaBytes += total;
    startTransfer(q, viaDram ? 0 : 1, linkBytes);
  }

  /// The 3-D source or destination box of a DMA instruction.
  static Box dmaBox(const Instruction &in, bool source) {
    Box b;
    b.addr = in[source ? Field::Src : Field::Dst];
    b.bytes = in[Field::Bytes];
    b.rows = in[Field::Rows];
    b.stride = in[source ? Field::SrcStride : Field::DstStride];
    b.planes = in[Field::Planes];
    b.pstride = in[source ? Field::SrcPStride : Field::DstPStride];
    return b;
  }

  /// dma.mcast: the source is read once and its bytes cross the source's
  /// link once; the fan-out to the destination scratchpads is free (the
  /// model of docs/simulator.md, "Multicast").
  void issueDmaMcast(Queue &q, const Instruction &in) {
    Space ss = Space(in[Field::SrcSpace]);
    if (ss == Space::Peer) {
      fail(q, "dma.mcast cannot read a peer's SRAM (src_space must be dram, "
              "sram or shared)");
    }
    uint64_t mask = in[Field::Cores];
    if (mask == 0) {
      fail(q, "cores=0: the multicast names no destination core");
    }
    if (tgt.cores < 64 && (mask >> tgt.cores) != 0) {
      unsigned bad = 0;
      while (bad < tgt.cores || !((mask >> bad) & 1)) {
        ++bad;
      }
      fail(q, fmt::format("cores=0x{:x} names core {}, which does not exist "
                          "(target {} has {} cores)",
                          mask, bad, tgt.name, tgt.cores));
    }
    std::vector<unsigned> dsts;
    for (unsigned c = 0; c < tgt.cores; ++c) {
      if ((mask >> c) & 1) {
        dsts.push_back(c);
      }
    }
    Box sb = dmaBox(in, true), db = dmaBox(in, false);
    SpaceRef src = spaceRef(q, ss, 0);
    std::string sw = fmt::format("{} source", src.name);
    checkRange(q, sw.c_str(), src.size, sb.addr, sb.bytes, sb.rows, sb.stride,
               sb.planes, sb.pstride);
    for (unsigned c : dsts) {
      std::string dw = fmt::format("SRAM destination of core {}", c);
      checkRange(q, dw.c_str(), tgt.sram.bytesPerCore, db.addr, db.bytes,
                 db.rows, db.stride, db.planes, db.pstride);
    }
    uint64_t dstEnd = boxEnd(db);
    for (unsigned c : dsts) {
      report.cores[c].sramPeakBytes =
          std::max(report.cores[c].sramPeakBytes, dstEnd);
    }
    {
      int64_t id = int64_t(transfers.size()); // the transfer created below
      Mem sm = ss == Space::Dram     ? Mem::Dram
               : ss == Space::Shared ? Mem::Shared
                                     : Mem::Sram;
      std::vector<Access> accs = {
          access(q, sm, sm == Mem::Sram ? q.core : 0, sb, false, ~0ull, id)};
      for (unsigned c : dsts) {
        accs.push_back(access(q, Mem::Sram, c, db, true, ~0ull, id));
      }
      checkRaces(q, accs);
    }
    if (opts.functional) {
      std::vector<uint8_t> buf(sb.bytes);
      for (uint64_t p = 0; p < sb.planes; ++p) {
        for (uint64_t r = 0; r < sb.rows; ++r) {
          uint64_t sa = sb.addr + p * sb.pstride + r * sb.stride;
          uint64_t da = db.addr + p * db.pstride + r * db.stride;
          if (src.kind == 0) {
            dram.read(sa, buf.data(), sb.bytes);
          } else {
            src.flat->read(sa, buf.data(), sb.bytes);
          }
          for (unsigned c : dsts) {
            sram[c].write(da, buf.data(), sb.bytes);
          }
        }
      }
    }
    uint64_t total = sb.bytes * sb.rows * sb.planes;
    if (ss == Space::Dram) {
      report.dramBytesRead += total;
    } else {
      report.nocBytes += total;
    }
    report.cores[q.core].dmaBytes += total;
    startTransfer(q, ss == Space::Dram ? 0 : 1, double(total));
  }

  /// Puts one transfer of `linkBytes` on link `li` (0 DRAM, 1 NoC): it joins
  /// the link after the link's latency and completes when its bytes drain.
  void startTransfer(Queue &q, unsigned li, double linkBytes) {
    uint64_t latency = li == 0 ? tgt.dram.latencyCycles : tgt.noc.latencyCycles;
    double peakRate = std::min(links[li].perFlowCap, links[li].capacity);
    Transfer tr;
    tr.queue = q.index;
    tr.seq = q.nextSeq++;
    tr.bytes = linkBytes;
    tr.link = li;
    tr.issue = now;
    tr.ideal = latency + uint64_t(std::ceil(linkBytes / peakRate - 1e-9));
    tr.pc = q.pc;
    tr.slot = 0;
    while (tr.slot < q.slotBusy.size() && q.slotBusy[tr.slot]) {
      ++tr.slot;
    }
    if (tr.slot == q.slotBusy.size()) {
      q.slotBusy.push_back(0);
    }
    q.slotBusy[tr.slot] = 1;
    q.incomplete.insert(tr.seq);
    if (q.active++ == 0) {
      q.activeSince = now;
    }
    transfers.push_back(tr);
    schedule(now + latency, EvType::DmaJoin, uint32_t(transfers.size() - 1));
  }

  void issueMatMul(Queue &q, const Instruction &in) {
    Dtype at = Dtype(in[Field::AType]), bt = Dtype(in[Field::BType]);
    uint64_t m = in[Field::M], n = in[Field::N], k = in[Field::K];
    bool accumulate = in[Field::Accumulate];
    bool intPath = at == Dtype::I8 && bt == Dtype::I8;
    bool floatPath = isFloatDtype(at) && isFloatDtype(bt) && at != Dtype::F32 &&
                     bt != Dtype::F32 && (at == bt || (isFp8(at) && isFp8(bt)));
    if (!intPath && !floatPath) {
      fail(q, fmt::format("dtype mismatch: atype {} with btype {} (allowed: "
                          "i8 x i8, equal bf16/f16, any fp8 pair)",
                          dtypeName(at), dtypeName(bt)));
    }
    for (Dtype d : {at, bt}) {
      if (!tgt.supports(d)) {
        fail(q, fmt::format("dtype {} is not supported by the matrix engine "
                            "of target {}",
                            dtypeName(d), tgt.name));
      }
    }
    if (m == 0 || n == 0 || k == 0) {
      fail(q, "empty tile (m, n and k must be >= 1)");
    }
    uint64_t accLo = in[Field::Acc], accHi = accLo + m * n;
    if (accHi > accEntries()) {
      fail(q, fmt::format("accumulator entries [{}, {}) out of bounds ({} "
                          "entries)",
                          accLo, accHi, accEntries()));
    }
    checkTile(q, "A", in[Field::A], in[Field::Lda], m, k, at, false);
    checkTile(q, "B", in[Field::B], in[Field::Ldb], k, n, bt, false);

    // Hazard: accumulating into entries another in-flight tile still writes
    // must wait for it, except the chained case (same tile, accumulate),
    // where partial sums never leave the array.
    while (!q.accInFlight.empty() && q.accInFlight.front().done <= now) {
      q.accInFlight.pop_front();
    }
    bool chained =
        accumulate && accLo == q.lastAcc && m == q.lastM && n == q.lastN;
    uint64_t hazard = 0;
    if (!chained) {
      for (const AccUse &u : q.accInFlight) {
        if (u.lo < accHi && accLo < u.hi) {
          hazard = std::max(hazard, u.done);
        }
      }
    }
    if (hazard > now) {
      addStall(q, Reason::AccHazard, hazard - now);
      slice(q, tidOf(q.kind), "stall: acc_hazard", now, hazard - now);
      q.readyAt = hazard;
      schedule(hazard, EvType::Wake, q.index);
      return; // re-issue the same pc when the hazard clears
    }

    // Timing (docs/simulator.md, "Matrix engine"; target/CostModel.h).
    const auto &mc = tgt.matrix;
    bool cold = q.streamEnd < now || q.streamEnd == 0;
    target::MatmulCost cost = target::matmulCost(
        tgt, m, n, k, at, bt, in[Field::Lda], in[Field::Ldb], cold);
    uint64_t ideal = cost.idealCycles, occupancy = cost.occupancy;
    uint64_t done = now + cost.latency();
    addStall(q, Reason::BankConflict, occupancy - ideal);
    {
      std::vector<Access> accs = {
          access(q, Mem::Sram, q.core,
                 tile(in[Field::A], in[Field::Lda], m, k * dtypeBytes(at)),
                 false, now + occupancy),
          access(q, Mem::Sram, q.core,
                 tile(in[Field::B], in[Field::Ldb], k, n * dtypeBytes(bt)),
                 false, now + occupancy),
          access(q, Mem::Acc, q.core,
                 tile(accLo * 4, 0, 1, (accHi - accLo) * 4), true, done)};
      checkRaces(q, accs);
    }

    if (opts.functional) {
      touchAcc(q.core);
      uint8_t *base = sramPtr(q.core);
      uint8_t want = intPath ? 1 : 2;
      auto &tags = accTag[q.core];
      if (accumulate) {
        for (uint64_t e = accLo; e < accHi; ++e) {
          if (tags[e] && tags[e] != want) {
            fail(q, fmt::format("dtype mismatch: accumulating {} into {} "
                                "accumulator entry {}",
                                want == 1 ? "i32" : "f32",
                                tags[e] == 1 ? "i32" : "f32", e));
          }
        }
      }
      uint32_t *accp = acc[q.core].data() + accLo;
      if (intPath) {
        detail::matmulInt8(base + in[Field::A], in[Field::Lda],
                           base + in[Field::B], in[Field::Ldb], m, n, k,
                           reinterpret_cast<int32_t *>(accp), accumulate);
      } else {
        detail::matmulFloat(base + in[Field::A], in[Field::Lda], at,
                            base + in[Field::B], in[Field::Ldb], bt, m, n, k,
                            reinterpret_cast<float *>(accp), accumulate);
      }
      std::fill(tags.begin() + accLo, tags.begin() + accHi, want);
    }

    CoreStats &cs = report.cores[q.core];
    cs.macs += m * n * k;
    // Mixed fp8 runs at the slower operand's rate (CostModel does the same).
    cs.macCycles +=
        double(m * n * k) /
        double(std::min(mc.macsPerCycle.at(at), mc.macsPerCycle.at(bt)));
    q.accInFlight.push_back(AccUse{accLo, accHi, done});
    q.lastAcc = accLo;
    q.lastM = m;
    q.lastN = n;
    q.streamEnd = now + occupancy;
    finishCompute(
        q, occupancy, done,
        fmt::format("mm {}x{}x{} {} pc{}", m, n, k, dtypeName(at), q.pc));
  }

  /// Common tail of matrix/vector instructions: occupy the queue, complete
  /// later.
  void finishCompute(Queue &q, uint64_t occupancy, uint64_t done,
                     std::string name) {
    uint64_t seq = q.nextSeq++;
    q.incomplete.insert(seq);
    schedule(done, EvType::OpDone, q.index, seq);
    q.stats->busyCycles += occupancy;
    slice(q, tidOf(q.kind), std::move(name), now,
          std::max<uint64_t>(1, occupancy));
    q.readyAt = now + occupancy;
    ++q.pc;
    schedule(q.readyAt, EvType::Wake, q.index);
  }

  /// Vector ops: read-after-write against the previous vector op only (the
  /// pipeline interlocks on it; older results are complete by then).
  bool
  vectorRaw(Queue &q,
            std::initializer_list<std::pair<uint64_t, uint64_t>> srcRanges) {
    if (q.lastDone <= now) {
      return false;
    }
    for (auto [lo, hi] : srcRanges) {
      if (lo < q.lastDstHi && q.lastDstLo < hi) {
        addStall(q, Reason::VectorRaw, q.lastDone - now);
        slice(q, tidOf(q.kind), "stall: vector_raw", now, q.lastDone - now);
        q.readyAt = q.lastDone;
        schedule(q.readyAt, EvType::Wake, q.index);
        return true;
      }
    }
    return false;
  }

  static std::pair<uint64_t, uint64_t>
  extent(uint64_t addr, uint64_t ld, uint64_t rows, uint64_t rowBytes) {
    return {addr, addr + (rows ? (rows - 1) * ld : 0) + rowBytes};
  }

  void issueVector(Queue &q, const Instruction &in) {
    const auto &vc = tgt.vector;
    Opcode op = in.opcode;
    Dtype dt = Dtype(in[Field::DType]);
    Dtype st = Dtype(in[Field::SType]);
    uint64_t rows = in[Field::Rows], cols = in[Field::Cols];
    unsigned passes = 1;
    uint64_t opBytes = 0; // bytes per element moved, for the bank model
    std::string name;
    std::pair<uint64_t, uint64_t> dstExt{0, 0}, s0{0, 0}, s1{0, 0};
    uint8_t *base = nullptr;

    if (op == Opcode::VecAccRead) {
      rows = in[Field::M];
      cols = in[Field::N];
    }
    tileNotes_.clear();
    collectTiles_ = true;
    if (rows == 0 || cols == 0) {
      fail(q, "empty tile (rows and cols must be >= 1)");
    }
    switch (op) {
    case Opcode::VecBinary: {
      Bcast bc = Bcast(in[Field::BcastF]);
      checkTile(q, "src", in[Field::Src], in[Field::Lds], rows, cols, st,
                false);
      uint64_t r1 = bc == Bcast::Row ? 1 : rows,
               c1 = bc == Bcast::Col ? 1 : cols;
      checkTile(q, "src1", in[Field::Src1], in[Field::Lds1], r1, c1, st, false);
      checkTile(q, "dst", in[Field::Dst], in[Field::Ldd], rows, cols, dt, true);
      s0 = extent(in[Field::Src], in[Field::Lds], rows, cols * dtypeBytes(st));
      s1 = extent(in[Field::Src1], in[Field::Lds1], r1, c1 * dtypeBytes(st));
      opBytes = 2 * dtypeBytes(st) + dtypeBytes(dt);
      name = fmt::format("{} pc{}",
                         enumName(FieldKind::BinOp, in[Field::BinOpF]), q.pc);
      break;
    }
    case Opcode::VecScalar:
    case Opcode::VecUnary:
      checkTile(q, "src", in[Field::Src], in[Field::Lds], rows, cols, st,
                false);
      checkTile(q, "dst", in[Field::Dst], in[Field::Ldd], rows, cols, dt, true);
      s0 = extent(in[Field::Src], in[Field::Lds], rows, cols * dtypeBytes(st));
      opBytes = dtypeBytes(st) + dtypeBytes(dt);
      if (op == Opcode::VecUnary &&
          isUnOpTranscendental(UnOp(in[Field::UnOpF]))) {
        passes = vc.transcendentalPasses;
      }
      name = fmt::format("{} pc{}",
                         op == Opcode::VecUnary
                             ? enumName(FieldKind::UnOp, in[Field::UnOpF])
                             : enumName(FieldKind::BinOp, in[Field::BinOpF]),
                         q.pc);
      break;
    case Opcode::VecReduce:
      checkTile(q, "src", in[Field::Src], in[Field::Lds], rows, cols, st,
                false);
      checkTile(q, "dst", in[Field::Dst], dtypeBytes(dt), rows, 1, dt, true);
      s0 = extent(in[Field::Src], in[Field::Lds], rows, cols * dtypeBytes(st));
      opBytes = dtypeBytes(st);
      name = fmt::format("reduce.{} pc{}",
                         enumName(FieldKind::RedOp, in[Field::RedOpF]), q.pc);
      break;
    case Opcode::VecBcast: {
      Bcast bc = Bcast(in[Field::BcastF]);
      if (bc == Bcast::None) {
        fail(q, "vec.bcast needs bcast=row or bcast=col");
      }
      uint64_t n = bc == Bcast::Row ? cols : rows;
      checkTile(q, "src", in[Field::Src], dtypeBytes(st), 1, n, st, false);
      checkTile(q, "dst", in[Field::Dst], in[Field::Ldd], rows, cols, dt, true);
      s0 = extent(in[Field::Src], 0, 1, n * dtypeBytes(st));
      opBytes = dtypeBytes(dt);
      name = fmt::format("bcast pc{}", q.pc);
      break;
    }
    case Opcode::VecTranspose:
      checkTile(q, "src", in[Field::Src], in[Field::Lds], rows, cols, dt,
                false);
      checkTile(q, "dst", in[Field::Dst], in[Field::Ldd], cols, rows, dt, true);
      s0 = extent(in[Field::Src], in[Field::Lds], rows, cols * dtypeBytes(dt));
      opBytes = 2 * dtypeBytes(dt);
      name = fmt::format("transpose pc{}", q.pc);
      break;
    case Opcode::VecFill:
      checkTile(q, "dst", in[Field::Dst], in[Field::Ldd], rows, cols, dt, true);
      opBytes = dtypeBytes(dt);
      name = fmt::format("fill pc{}", q.pc);
      break;
    case Opcode::VecAccRead: {
      uint64_t lo = in[Field::Acc], hi = lo + rows * cols;
      if (hi > accEntries()) {
        fail(q, fmt::format("accumulator entries [{}, {}) out of bounds ({} "
                            "entries)",
                            lo, hi, accEntries()));
      }
      checkTile(q, "dst", in[Field::Dst], in[Field::Ldd], rows, cols, dt, true);
      if (in[Field::UseScale]) {
        checkTile(q, "scale", in[Field::Scale], 4, 1, cols, Dtype::F32, false);
        s0 = extent(in[Field::Scale], 0, 1, cols * 4);
      }
      if (in[Field::UseBias]) {
        checkTile(q, "bias", in[Field::Bias], 4, 1, cols, Dtype::F32, false);
        s1 = extent(in[Field::Bias], 0, 1, cols * 4);
      }
      Act act = Act(in[Field::ActF]);
      if (act == Act::Gelu || act == Act::GeluTanh || act == Act::Silu ||
          act == Act::Tanh) {
        passes = vc.transcendentalPasses;
      }
      opBytes = 4 + dtypeBytes(dt);
      name = fmt::format("accrd {}x{} pc{}", rows, cols, q.pc);
      break;
    }
    default:
      fail(q, "not a vector instruction");
    }
    uint64_t dstRowBytes = cols * dtypeBytes(dt);
    if (op == Opcode::VecReduce) {
      dstExt = extent(in[Field::Dst], 0, 1, rows * dtypeBytes(dt));
    } else if (op == Opcode::VecTranspose) {
      dstExt =
          extent(in[Field::Dst], in[Field::Ldd], cols, rows * dtypeBytes(dt));
    } else {
      dstExt = extent(in[Field::Dst], in[Field::Ldd], rows, dstRowBytes);
    }
    collectTiles_ = false;
    if (vectorRaw(q, {s0, s1})) {
      return;
    }

    // Timing (docs/simulator.md, "Vector engine"; target/CostModel.h).
    target::VectorCost cost = target::vectorCost(
        tgt,
        op == Opcode::VecReduce      ? target::VectorKind::Reduce
        : op == Opcode::VecTranspose ? target::VectorKind::Transpose
                                     : target::VectorKind::Elementwise,
        rows, cols, passes, unsigned(opBytes));
    uint64_t ideal = cost.idealCycles, occupancy = cost.occupancy;
    addStall(q, Reason::BankConflict, occupancy - ideal);
    uint64_t done = now + cost.latency();
    {
      std::vector<Access> accs;
      for (auto &[box, write] : tileNotes_) {
        accs.push_back(access(q, Mem::Sram, q.core, box, write,
                              write ? done : now + occupancy));
      }
      if (op == Opcode::VecAccRead) {
        accs.push_back(access(q, Mem::Acc, q.core,
                              tile(in[Field::Acc] * 4, 0, 1, rows * cols * 4),
                              false, now + occupancy));
      }
      checkRaces(q, accs);
    }

    if (opts.functional) {
      base = sramPtr(q.core);
      executeVector(q, in, base, rows, cols);
    }
    q.lastDstLo = dstExt.first;
    q.lastDstHi = dstExt.second;
    q.lastDone = done;
    finishCompute(q, occupancy, done, std::move(name));
  }

  void executeVector(Queue &q, const Instruction &in, uint8_t *base,
                     uint64_t rows, uint64_t cols) {
    Dtype dt = Dtype(in[Field::DType]);
    Dtype st = Dtype(in[Field::SType]);
    std::vector<float> x(cols), y(cols), out(cols);
    uint8_t *dst = base + in[Field::Dst];
    uint64_t ldd = in[Field::Ldd];
    switch (in.opcode) {
    case Opcode::VecBinary: {
      BinOp bop = BinOp(in[Field::BinOpF]);
      Bcast bc = Bcast(in[Field::BcastF]);
      // Read all sources before writing, so in-place ops are well defined.
      std::vector<float> all(rows * cols);
      for (uint64_t r = 0; r < rows; ++r) {
        loadRow(st, base + in[Field::Src] + r * in[Field::Lds], cols, x.data());
        if (bc == Bcast::None) {
          loadRow(st, base + in[Field::Src1] + r * in[Field::Lds1], cols,
                  y.data());
        } else if (bc == Bcast::Row) {
          loadRow(st, base + in[Field::Src1], cols, y.data());
        } else {
          float v;
          loadRow(st, base + in[Field::Src1] + r * in[Field::Lds1], 1, &v);
          std::fill(y.begin(), y.end(), v);
        }
        for (uint64_t c = 0; c < cols; ++c) {
          all[r * cols + c] = detail::applyBinary(bop, x[c], y[c]);
        }
      }
      for (uint64_t r = 0; r < rows; ++r) {
        storeRow(dt, dst + r * ldd, cols, all.data() + r * cols);
      }
      return;
    }
    case Opcode::VecScalar:
    case Opcode::VecUnary: {
      std::vector<float> all(rows * cols);
      float imm = in.imm();
      for (uint64_t r = 0; r < rows; ++r) {
        loadRow(st, base + in[Field::Src] + r * in[Field::Lds], cols, x.data());
        for (uint64_t c = 0; c < cols; ++c) {
          all[r * cols + c] =
              in.opcode == Opcode::VecScalar
                  ? detail::applyBinary(BinOp(in[Field::BinOpF]), x[c], imm)
                  : detail::applyUnary(UnOp(in[Field::UnOpF]), x[c]);
        }
      }
      for (uint64_t r = 0; r < rows; ++r) {
        storeRow(dt, dst + r * ldd, cols, all.data() + r * cols);
      }
      return;
    }
    case Opcode::VecReduce: {
      std::vector<float> res(rows);
      bool isMax = RedOp(in[Field::RedOpF]) == RedOp::Max;
      for (uint64_t r = 0; r < rows; ++r) {
        loadRow(st, base + in[Field::Src] + r * in[Field::Lds], cols, x.data());
        float a = isMax ? x[0] : 0.0f;
        for (uint64_t c = isMax ? 1 : 0; c < cols; ++c) {
          a = isMax ? std::fmax(a, x[c]) : a + x[c];
        }
        res[r] = a;
      }
      storeRow(dt, dst, rows, res.data());
      return;
    }
    case Opcode::VecBcast: {
      Bcast bc = Bcast(in[Field::BcastF]);
      uint64_t n = bc == Bcast::Row ? cols : rows;
      std::vector<float> v(n);
      loadRow(st, base + in[Field::Src], n, v.data());
      for (uint64_t r = 0; r < rows; ++r) {
        for (uint64_t c = 0; c < cols; ++c) {
          out[c] = bc == Bcast::Row ? v[c] : v[r];
        }
        storeRow(dt, dst + r * ldd, cols, out.data());
      }
      return;
    }
    case Opcode::VecTranspose: {
      unsigned eb = dtypeBytes(dt);
      std::vector<uint8_t> tmp(rows * cols * eb);
      for (uint64_t r = 0; r < rows; ++r) {
        const uint8_t *srow = base + in[Field::Src] + r * in[Field::Lds];
        for (uint64_t c = 0; c < cols; ++c) {
          std::memcpy(&tmp[(c * rows + r) * eb], srow + c * eb, eb);
        }
      }
      for (uint64_t c = 0; c < cols; ++c) {
        std::memcpy(dst + c * ldd, &tmp[c * rows * eb], rows * eb);
      }
      return;
    }
    case Opcode::VecFill: {
      std::fill(out.begin(), out.end(), in.imm());
      for (uint64_t r = 0; r < rows; ++r) {
        storeRow(dt, dst + r * ldd, cols, out.data());
      }
      return;
    }
    case Opcode::VecAccRead: {
      touchAcc(q.core);
      uint64_t lo = in[Field::Acc];
      const auto &tags = accTag[q.core];
      uint8_t tag = tags[lo];
      for (uint64_t e = lo; e < lo + rows * cols; ++e) {
        if (tags[e] != tag) {
          fail(q, fmt::format("dtype mismatch: accumulator tile mixes {} and "
                              "{} entries",
                              tag == 1   ? "i32"
                              : tag == 2 ? "f32"
                                         : "unwritten",
                              tags[e] == 1   ? "i32"
                              : tags[e] == 2 ? "f32"
                                             : "unwritten"));
        }
      }
      bool isInt = tag == 1;
      bool useScale = in[Field::UseScale], useBias = in[Field::UseBias];
      Act act = Act(in[Field::ActF]);
      std::vector<float> scale(cols, 1.0f);
      std::vector<uint32_t> bias(cols, 0);
      if (useScale) {
        std::memcpy(scale.data(), base + in[Field::Scale], cols * 4);
      }
      if (useBias) {
        std::memcpy(bias.data(), base + in[Field::Bias], cols * 4);
      }
      const uint32_t *a = acc[q.core].data() + lo;
      bool exactInt = isInt && dt == Dtype::I32 && !useScale &&
                      (act == Act::None || act == Act::Relu);
      for (uint64_t r = 0; r < rows; ++r) {
        if (exactInt) {
          for (uint64_t c = 0; c < cols; ++c) {
            int32_t v = int32_t(a[r * cols + c] + bias[c]);
            if (act == Act::Relu && v < 0) {
              v = 0;
            }
            std::memcpy(dst + r * ldd + 4 * c, &v, 4);
          }
          continue;
        }
        for (uint64_t c = 0; c < cols; ++c) {
          float v;
          if (isInt) {
            v = float(int32_t(a[r * cols + c] + bias[c]));
          } else {
            v = bitsFloat(a[r * cols + c]);
            if (useBias) {
              v += bitsFloat(bias[c]);
            }
          }
          if (useScale) {
            v *= scale[c];
          }
          out[c] = detail::applyAct(act, v);
        }
        storeRow(dt, dst + r * ldd, cols, out.data());
      }
      return;
    }
    default:
      return;
    }
  }

  // ---- the issue loop
  // ----------------------------------------------------------
  void step(Queue &q) {
    while (q.st == Queue::St::Running && now >= q.readyAt) {
      const Instruction &in = q.stream->insts[q.pc];
      if (++dynInstructions > opts.maxInstructions) {
        fail(q, fmt::format("dynamic instruction budget of {} exceeded",
                            opts.maxInstructions));
      }
      switch (in.opcode) {
      case Opcode::End:
        if (!q.incomplete.empty()) {
          --dynInstructions;
          block(q, Reason::Drain);
          return;
        }
        ++q.stats->instructions;
        q.st = Queue::St::Done;
        q.stats->doneCycle = now;
        return;
      case Opcode::SemWait: {
        unsigned s = unsigned(in[Field::Sem]);
        if (s >= tgt.semaphoresPerCore) {
          fail(q, fmt::format("semaphore {} does not exist (target has {} per "
                              "core)",
                              s, tgt.semaphoresPerCore));
        }
        Semaphore &sem = sems[q.core][s];
        if (sem.value >= int64_t(in[Field::Count])) {
          sem.value -= int64_t(in[Field::Count]);
          ++q.stats->instructions;
          ++q.pc;
          continue;
        }
        --dynInstructions; // re-executed when woken
        sem.waiters.push_back(q.index);
        block(q, waitReason(sem.lastSignaller));
        return;
      }
      case Opcode::SemSignal: {
        unsigned s = unsigned(in[Field::Sem]), c = unsigned(in[Field::Core]);
        if (c >= tgt.cores) {
          fail(q, fmt::format("core {} does not exist (target has {})", c,
                              tgt.cores));
        }
        if (s >= tgt.semaphoresPerCore) {
          fail(q, fmt::format("semaphore {} does not exist (target has {} per "
                              "core)",
                              s, tgt.semaphoresPerCore));
        }
        uint64_t flow = opts.trace ? nextFlow++ : 0;
        ++q.stats->instructions;
        if (q.incomplete.empty()) {
          fireSignal(q, c, s, unsigned(in[Field::Count]), flow);
        } else {
          q.pending.push_back(
              PendingSignal{q.nextSeq, s, c, unsigned(in[Field::Count]), flow});
        }
        ++q.pc;
        continue;
      }
      case Opcode::Barrier: {
        if (!q.incomplete.empty()) {
          --dynInstructions;
          block(q, Reason::Drain);
          return;
        }
        unsigned b = unsigned(in[Field::Bar]);
        if (b >= tgt.barriers) {
          fail(q, fmt::format("barrier {} does not exist (target has {})", b,
                              tgt.barriers));
        }
        uint64_t count = in[Field::Count];
        if (count == 0) {
          fail(q, "barrier count must be >= 1");
        }
        BarrierState &bs = barriers[b];
        if (bs.arrived == 0) {
          bs.expected = count;
        } else if (bs.expected != count) {
          fail(q, fmt::format("barrier {} count {} disagrees with {} given by "
                              "an earlier arrival",
                              b, count, bs.expected));
        }
        ++q.stats->instructions;
        ++q.pc;
        if (++bs.arrived == bs.expected) {
          report.barrierReleases.push_back(now);
          std::vector<unsigned> waiting;
          waiting.swap(bs.waiting);
          bs.arrived = 0;
          for (unsigned w : waiting) {
            unblock(queues[w], Reason::Barrier);
          }
          continue;
        }
        bs.waiting.push_back(q.index);
        block(q, Reason::Barrier);
        return;
      }
      case Opcode::Repeat: {
        ++q.stats->instructions;
        if (!q.loops.empty() && q.loops.back().first == q.pc) {
          if (--q.loops.back().second == 0) {
            q.loops.pop_back();
            ++q.pc;
          } else {
            q.pc = in[Field::Body];
          }
          continue;
        }
        if (in[Field::Times] <= 1) {
          ++q.pc;
          continue;
        }
        if (q.loops.size() >= 8) {
          fail(q, "repeat nesting deeper than 8");
        }
        q.loops.emplace_back(q.pc, in[Field::Times] - 1);
        q.pc = in[Field::Body];
        continue;
      }
      case Opcode::Nop: {
        ++q.stats->instructions;
        q.readyAt = now + in[Field::Cycles];
        ++q.pc;
        schedule(q.readyAt, EvType::Wake, q.index);
        return;
      }
      case Opcode::DmaCopy:
      case Opcode::DmaMcast:
        if (q.active >= tgt.dma.outstanding) {
          --dynInstructions;
          block(q, Reason::DmaQueueFull);
          return;
        }
        ++q.stats->instructions;
        if (in.opcode == Opcode::DmaMcast) {
          issueDmaMcast(q, in);
        } else {
          issueDma(q, in);
        }
        q.readyAt = now + tgt.dma.issueCycles;
        ++q.pc;
        schedule(q.readyAt, EvType::Wake, q.index);
        return;
      case Opcode::MatMul: {
        size_t pc = q.pc;
        issueMatMul(q, in);
        if (q.pc == pc) {
          --dynInstructions; // hazard: retried later
        } else {
          ++q.stats->instructions;
        }
        return;
      }
      default: {
        size_t pc = q.pc;
        issueVector(q, in);
        if (q.pc == pc) {
          --dynInstructions;
        } else {
          ++q.stats->instructions;
        }
        return;
      }
      }
    }
  }

  std::string describeBlocked(const Queue &q) const {
    // A queue waiting at a barrier has already stepped past it.
    size_t pc =
        q.st == Queue::St::Blocked && q.reason == Reason::Barrier && q.pc > 0
            ? q.pc - 1
            : q.pc;
    std::string inst = formatInstruction(q.stream->insts[pc]);
    std::string why;
    const Instruction &in = q.stream->insts[pc];
    if (in.opcode == Opcode::SemWait) {
      const Semaphore &s = sems[q.core][in[Field::Sem]];
      why = fmt::format("waits for semaphore {} to reach {} (value {}), but "
                        "nothing left can signal it",
                        in[Field::Sem], in[Field::Count], s.value);
    } else if (in.opcode == Opcode::Barrier) {
      const BarrierState &b = barriers[in[Field::Bar]];
      why = fmt::format("waits at barrier {} ({} of {} arrived)",
                        in[Field::Bar], b.arrived, b.expected);
    } else {
      why = fmt::format("blocked ({})", reasonName(q.reason));
    }
    return fmt::format("core {} engine {} pc {} `{}`: {}", q.core,
                       engineName(q.kind), pc, inst, why);
  }

  Report run(const Program &program) {
    std::string err = verifyProgram(program);
    if (!err.empty()) {
      throw Error(err);
    }
    if (program.numCores() > tgt.cores) {
      throw Error(fmt::format("program uses {} cores but target {} has {}",
                              program.numCores(), tgt.name, tgt.cores));
    }
    // Reset per-run state.
    report = Report();
    report.target = tgt.name;
    report.clockHz = tgt.clockHz;
    report.cores.assign(tgt.cores, CoreStats());
    trace.clear();
    inflight.clear();
    transfers.clear();
    events = {};
    now = 0;
    evSeq = 0;
    dynInstructions = 0;
    sharedPeak = 0;
    nextFlow = 1;
    sems.assign(tgt.cores, std::vector<Semaphore>(tgt.semaphoresPerCore));
    barriers.assign(tgt.barriers, BarrierState());
    ClockDomain cd(tgt.clockHz);
    links[0] = Link();
    links[0].capacity = cd.bytesPerCycle(tgt.dram.bytesPerSecond);
    links[0].perFlowCap = tgt.dma.bytesPerCycle;
    links[1] = Link();
    links[1].capacity = tgt.noc.bytesPerCycle;
    links[1].perFlowCap = tgt.dma.bytesPerCycle;

    queues.assign(tgt.cores * kNumEngines, Queue());
    for (unsigned c = 0; c < tgt.cores; ++c) {
      for (unsigned e = 0; e < kNumEngines; ++e) {
        Queue &q = queues[c * kNumEngines + e];
        q.core = c;
        q.kind = Engine(e);
        q.index = c * kNumEngines + e;
        q.stats = &report.cores[c].engines[e];
      }
    }
    for (const Stream &s : program.streams) {
      Queue &q = queues[s.core * kNumEngines + unsigned(s.engine)];
      q.stream = &s;
      q.st = Queue::St::Running;
      schedule(0, EvType::Wake, q.index);
    }

    while (!events.empty()) {
      Event ev = events.top();
      events.pop();
      now = ev.time;
      switch (ev.type) {
      case EvType::Wake:
        step(queues[ev.a]);
        break;
      case EvType::OpDone:
        opDone(queues[ev.a], ev.b);
        break;
      case EvType::DmaJoin:
        dmaJoin(ev.a);
        break;
      case EvType::LinkCheck:
        linkCheck(ev.a, ev.b);
        break;
      }
    }

    std::vector<std::string> stuck;
    for (const Queue &q : queues) {
      if (q.stream && q.st != Queue::St::Done) {
        stuck.push_back(describeBlocked(q));
      }
    }
    if (!stuck.empty()) {
      std::string msg = fmt::format("deadlock at cycle {}: {} queue(s) can "
                                    "never proceed:",
                                    now, stuck.size());
      for (const std::string &s : stuck) {
        msg += "\n  " + s;
      }
      throw Error(msg);
    }

    // Gather the report.
    uint64_t end = 0;
    for (const Queue &q : queues) {
      end = std::max(end, q.stats->doneCycle);
    }
    report.cycles = Cycles(end);
    report.seconds = cd.toSeconds(report.cycles);
    report.instructions = dynInstructions;
    double macCycles = 0;
    for (const CoreStats &cs : report.cores) {
      report.macs += cs.macs;
      macCycles += cs.macCycles;
      for (const EngineStats &es : cs.engines) {
        for (auto &[r, c] : es.stalls) {
          report.stalls[r] += c;
        }
      }
    }
    report.macUtilization =
        end ? macCycles / (double(end) * double(tgt.cores)) : 0.0;
    report.dramBytesPerSecond =
        cd.bytesPerSecond(double(report.dramBytes()), report.cycles);
    report.dramUtilization =
        report.dramBytesPerSecond / tgt.dram.bytesPerSecond;
    report.dramBusyCycles = links[0].busyCycles;
    report.sharedSramPeakBytes = sharedPeak;
    return report;
  }

  std::string traceJson() const {
    std::string s = "{\"displayTimeUnit\": \"ns\", \"traceEvents\": [\n";
    bool first = true;
    auto add = [&](const std::string &e) {
      s += first ? "  " : ",\n  ";
      s += e;
      first = false;
    };
    // Name every track, even idle ones, so each core shows all its engines;
    // the fetch queue's tracks only when the program uses that queue
    // somewhere, so traces of programs without it stay as they were.
    std::vector<Engine> dmaQueues = {Engine::Dma};
    for (const Queue &q : queues) {
      if (q.kind == Engine::Fetch && q.stream) {
        dmaQueues.push_back(Engine::Fetch);
        break;
      }
    }
    for (unsigned c = 0; c < tgt.cores; ++c) {
      add(fmt::format("{{\"ph\": \"M\", \"pid\": {}, \"name\": "
                      "\"process_name\", \"args\": {{\"name\": \"core {}\"}}}}",
                      c, c));
      add(fmt::format("{{\"ph\": \"M\", \"pid\": {}, \"tid\": {}, \"name\": "
                      "\"thread_name\", \"args\": {{\"name\": \"sync\"}}}}",
                      c, kSyncTid));
      for (Engine e : {Engine::Matrix, Engine::Vector}) {
        add(fmt::format("{{\"ph\": \"M\", \"pid\": {}, \"tid\": {}, \"name\": "
                        "\"thread_name\", \"args\": {{\"name\": \"{}\"}}}}",
                        c, tidOf(e), engineName(e)));
      }
      for (Engine e : dmaQueues) {
        add(fmt::format("{{\"ph\": \"M\", \"pid\": {}, \"tid\": {}, \"name\": "
                        "\"thread_name\", \"args\": {{\"name\": \"{} "
                        "issue\"}}}}",
                        c, tidOf(e), engineName(e)));
        unsigned slots = 0;
        for (const Queue &q : queues) {
          if (q.core == c && q.kind == e) {
            slots = unsigned(q.slotBusy.size());
          }
        }
        for (unsigned i = 0; i < slots; ++i) {
          add(fmt::format("{{\"ph\": \"M\", \"pid\": {}, \"tid\": {}, "
                          "\"name\": \"thread_name\", \"args\": {{\"name\": "
                          "\"{}.{}\"}}}}",
                          c, slotTid(e, i), engineName(e), i));
        }
      }
    }
    for (const TraceSlice &t : trace) {
      double ts = clock.toMicroseconds(double(t.start));
      double dur = clock.toMicroseconds(double(t.dur));
      add(fmt::format("{{\"ph\": \"X\", \"pid\": {}, \"tid\": {}, \"name\": "
                      "\"{}\", \"ts\": {:.4f}, \"dur\": {:.4f}, \"args\": "
                      "{{\"start_cycle\": {}, \"cycles\": {}}}}}",
                      t.core, t.tid, t.name, ts, dur, t.start, t.dur));
      if (t.flowOut) {
        add(fmt::format("{{\"ph\": \"s\", \"pid\": {}, \"tid\": {}, \"name\": "
                        "\"sem\", \"cat\": \"sync\", \"id\": {}, \"ts\": "
                        "{:.4f}}}",
                        t.core, t.tid, t.flowOut, ts));
      }
      if (t.flowIn) {
        add(fmt::format("{{\"ph\": \"f\", \"bp\": \"e\", \"pid\": {}, \"tid\": "
                        "{}, \"name\": \"sem\", \"cat\": \"sync\", \"id\": {}, "
                        "\"ts\": {:.4f}}}",
                        t.core, t.tid, t.flowIn,
                        clock.toMicroseconds(double(t.start + t.dur) - 0.5)));
      }
    }
    s += "\n]}\n";
    return s;
  }
};

// ---- Report ----------------------------------------------------------------

double Report::busyFraction(unsigned core, Engine e) const {
  if (core >= cores.size() || cycles.count() == 0) {
    return 0;
  }
  return double(cores[core].engines[unsigned(e)].busyCycles) /
         double(cycles.count());
}

std::string Report::toText() const {
  std::string s;
  s += fmt::format("target            {}\n", target);
  s += fmt::format("cycles            {}\n", cycles.count());
  s += fmt::format("time              {:.3f} us at {:.3f} GHz\n",
                   seconds.value() * 1e6, clockHz / 1e9);
  s += fmt::format("instructions      {}\n", instructions);
  s += fmt::format("MACs              {} ({:.1f}% MAC utilization)\n", macs,
                   100 * macUtilization);
  s += fmt::format("DRAM              {} B read, {} B written, {:.2f} GB/s "
                   "achieved ({:.1f}% of peak, busy {} cycles)\n",
                   dramBytesRead, dramBytesWritten, dramBytesPerSecond / 1e9,
                   100 * dramUtilization, dramBusyCycles);
  if (nocBytes) {
    s += fmt::format("on-chip DMA       {} B\n", nocBytes);
  }
  s += "core  engine  busy%    instr  stalls (cycles)\n";
  for (size_t c = 0; c < cores.size(); ++c) {
    const CoreStats &cs = cores[c];
    bool any = false;
    for (const EngineStats &es : cs.engines) {
      any |= es.instructions > 0;
    }
    if (!any) {
      continue;
    }
    for (unsigned e = 0; e < kNumEngines; ++e) {
      const EngineStats &es = cs.engines[e];
      // The fetch queue is optional: an idle one would only add a row of
      // zeros to every core (and change the report of every program that
      // predates it).
      if (Engine(e) == Engine::Fetch && es.instructions == 0) {
        continue;
      }
      std::string st;
      for (auto &[r, v] : es.stalls) {
        st += fmt::format("{}={} ", r, v);
      }
      s += fmt::format(
          "{:>4}  {:<6} {:>5.1f}  {:>7}  {}\n", c, engineName(Engine(e)),
          100 * busyFraction(unsigned(c), Engine(e)), es.instructions, st);
    }
    s +=
        fmt::format("{:>4}  sram peak {} B, {} MACs ({:.1f}% of this core's "
                    "peak)\n",
                    c, cs.sramPeakBytes, cs.macs,
                    100 * (cycles.count() ? cs.macCycles / cycles.count() : 0));
  }
  if (sharedSramPeakBytes) {
    s += fmt::format("shared SRAM peak  {} B\n", sharedSramPeakBytes);
  }
  s += "stalls total     ";
  for (auto &[r, v] : stalls) {
    s += fmt::format(" {}={}", r, v);
  }
  s += "\n";
  return s;
}

std::string Report::toJson() const {
  std::string st;
  for (auto &[r, v] : stalls) {
    st += fmt::format("{}\"{}\": {}", st.empty() ? "" : ", ", r, v);
  }
  std::string cs;
  uint64_t sramPeak = 0;
  for (size_t c = 0; c < cores.size(); ++c) {
    sramPeak = std::max(sramPeak, cores[c].sramPeakBytes);
    std::string engines;
    for (unsigned e = 0; e < kNumEngines; ++e) {
      const EngineStats &es = cores[c].engines[e];
      std::string stalls;
      for (auto &[r, v] : es.stalls) {
        stalls += fmt::format("{}\"{}\": {}", stalls.empty() ? "" : ", ", r, v);
      }
      engines += fmt::format(
          "{}\"{}\": {{\"busy_cycles\": {}, \"busy\": {:.6f}, "
          "\"instructions\": {}, \"stalls\": {{{}}}}}",
          e ? ", " : "", engineName(Engine(e)), es.busyCycles,
          busyFraction(unsigned(c), Engine(e)), es.instructions, stalls);
    }
    cs += fmt::format(
        "{}{{\"core\": {}, \"macs\": {}, \"mac_utilization\": {:.6f}, "
        "\"sram_peak_bytes\": {}, \"dma_bytes\": {}, \"engines\": {{{}}}}}",
        c ? ", " : "", c, cores[c].macs,
        cycles.count() ? cores[c].macCycles / cycles.count() : 0.0,
        cores[c].sramPeakBytes, cores[c].dmaBytes, engines);
  }
  std::string releases;
  for (uint64_t c : barrierReleases) {
    releases += fmt::format("{}{}", releases.empty() ? "" : ", ", c);
  }
  return fmt::format(
      "{{\"target\": \"{}\", \"cycles\": {}, \"seconds\": {:.9g}, "
      "\"clock_hz\": {:.6g}, \"instructions\": {}, \"macs\": {}, "
      "\"mac_utilization\": {:.6f}, \"dram_bytes\": {}, "
      "\"dram_bytes_read\": {}, \"dram_bytes_written\": {}, "
      "\"dram_bytes_per_s\": {:.6g}, \"dram_utilization\": {:.6f}, "
      "\"dram_busy_cycles\": {}, \"noc_bytes\": {}, \"sram_peak_bytes\": {}, "
      "\"shared_sram_peak_bytes\": {}, \"barrier_releases\": [{}], "
      "\"stalls\": {{{}}}, \"cores\": [{}]}}",
      target, cycles.count(), seconds.value(), clockHz, instructions, macs,
      macUtilization, dramBytes(), dramBytesRead, dramBytesWritten,
      dramBytesPerSecond, dramUtilization, dramBusyCycles, nocBytes, sramPeak,
      sharedSramPeakBytes, releases, st, cs);
}

// ---- Simulator
// ---------------------------------------------------------------

Simulator::Simulator(const target::Target &target, SimOptions options)
    : impl_(std::make_unique<Impl>(target, options)) {}
Simulator::~Simulator() = default;

Result<Report> Simulator::run(const Program &program) {
  return catchErrors([&] { return impl_->run(program); });
}

namespace {
void checkHost(uint64_t addr, size_t n, uint64_t size, const char *what) {
  if (addr > size || n > size - addr) {
    throw Error(fmt::format("{} access [0x{:x}, +{}) out of bounds (size "
                            "0x{:x})",
                            what, addr, n, size));
  }
}
} // namespace

void Simulator::writeDram(uint64_t addr, const void *src, size_t bytes) {
  checkHost(addr, bytes, impl_->dram.size(), "DRAM");
  impl_->dram.write(addr, src, bytes);
}
void Simulator::readDram(uint64_t addr, void *dst, size_t bytes) const {
  checkHost(addr, bytes, impl_->dram.size(), "DRAM");
  impl_->dram.read(addr, dst, bytes);
}
void Simulator::writeSram(unsigned core, uint64_t addr, const void *src,
                          size_t bytes) {
  if (core >= impl_->sram.size()) {
    throw Error(fmt::format("core {} does not exist", core));
  }
  checkHost(addr, bytes, impl_->sram[core].size(), "SRAM");
  impl_->sram[core].write(addr, src, bytes);
}
void Simulator::readSram(unsigned core, uint64_t addr, void *dst,
                         size_t bytes) const {
  if (core >= impl_->sram.size()) {
    throw Error(fmt::format("core {} does not exist", core));
  }
  checkHost(addr, bytes, impl_->sram[core].size(), "SRAM");
  impl_->sram[core].read(addr, dst, bytes);
}
void Simulator::writeShared(uint64_t addr, const void *src, size_t bytes) {
  checkHost(addr, bytes, impl_->shared.size(), "shared SRAM");
  impl_->shared.write(addr, src, bytes);
}
void Simulator::readShared(uint64_t addr, void *dst, size_t bytes) const {
  checkHost(addr, bytes, impl_->shared.size(), "shared SRAM");
  impl_->shared.read(addr, dst, bytes);
}
void Simulator::readAcc(unsigned core, uint64_t entry, uint32_t *dst,
                        size_t count) const {
  if (core >= impl_->acc.size()) {
    throw Error(fmt::format("core {} does not exist", core));
  }
  checkHost(entry, count, impl_->accEntries(), "accumulator");
  const auto &a = impl_->acc[core];
  for (size_t i = 0; i < count; ++i) {
    dst[i] = a.empty() ? 0 : a[entry + i];
  }
}
std::string Simulator::traceJson() const { return impl_->traceJson(); }
const target::Target &Simulator::target() const { return impl_->tgt; }

} // namespace nuri::sim
