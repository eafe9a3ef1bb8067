//===- NpuKernels.cpp - Tiled, scheduled kernels for the NPU --------------===//

#include "NpuKernels.h"

#include "nuri/target/CostModel.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace nuri::npu {

using namespace isa;

unsigned elemBytes(Dtype d) { return dtypeBytes(d); }

namespace {

uint64_t ceilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
uint64_t roundUp(uint64_t a, uint64_t b) { return ceilDiv(a, b) * b; }

/// Bump allocation of one core's scratchpad for one kernel; every core uses
/// the same map. Rows are 64-byte aligned (the widest bank).
class SramPlan {
public:
  explicit SramPlan(uint64_t size) : size_(size) {}
  /// Returns false when the request does not fit.
  bool tryAlloc(uint64_t bytes, uint64_t &at) {
    uint64_t a = (top_ + 63) & ~uint64_t(63);
    if (a + bytes > size_) {
      return false;
    }
    top_ = a + bytes;
    at = a;
    return true;
  }
  uint64_t alloc(uint64_t bytes, const char *what) {
    uint64_t at = 0;
    if (!tryAlloc(bytes, at)) {
      throw Error(fmt::format("{} needs {} B of SRAM at offset {}, the core "
                              "has {} B",
                              what, bytes, top_, size_));
    }
    return at;
  }
  uint64_t used() const { return top_; }
  uint64_t size() const { return size_; }
  /// Keeps everything allocated from now on below `end`.
  void limit(uint64_t end) { size_ = std::min(size_, end); }

private:
  uint64_t size_;
  uint64_t top_ = 0;
};

DmaDesc copy2d(Space ss, uint64_t src, uint64_t srcLd, Space ds, uint64_t dst,
               uint64_t dstLd, uint64_t rows, uint64_t bytes) {
  DmaDesc d;
  d.srcSpace = ss;
  d.dstSpace = ds;
  d.src = src;
  d.dst = dst;
  d.srcStride = srcLd;
  d.dstStride = dstLd;
  d.rows = rows;
  d.bytes = bytes;
  return d;
}

/// A tensor address handed in by the partition plan: DRAM, or the chip's
/// shared SRAM when tagged with kSharedTag.
Space spaceOf(uint64_t addr) {
  return (addr & kSharedTag) ? Space::Shared : Space::Dram;
}
uint64_t untag(uint64_t addr) { return addr & ~kSharedTag; }
/// `bytes` of the tensor at `addr` if they cross the DRAM link, else 0.
double dramBytes(uint64_t addr, uint64_t bytes) {
  return spaceOf(addr) == Space::Dram ? double(bytes) : 0.0;
}

DmaDesc load(uint64_t dram, uint64_t dramLd, uint64_t sram, uint64_t sramLd,
             uint64_t rows, uint64_t bytes) {
  return copy2d(spaceOf(dram), untag(dram), dramLd, Space::Sram, sram, sramLd,
                rows, bytes);
}

DmaDesc store(uint64_t sram, uint64_t sramLd, uint64_t dram, uint64_t dramLd,
              uint64_t rows, uint64_t bytes) {
  return copy2d(Space::Sram, sram, sramLd, spaceOf(dram), untag(dram), dramLd,
                rows, bytes);
}

/// A producer/consumer ring of `depth` buffers between two queues, with a
/// counting semaphore each way. Uses are numbered 0..total-1 in the order
/// both sides see them; frees that nobody waits for are never signaled, so
/// every semaphore is back at zero when the kernel ends.
///
/// A ring can be filled by one core for several (a multicast): the producer
/// then waits for `consumers` frees per buffer, and each consumer signals
/// the free to `producer`'s core.
struct Ring {
  unsigned full, free, depth;
  uint64_t total;
  unsigned consumers = 1;
  int producer = -1; ///< core of the producing queue; -1: the consumer's own
  void produce(StreamBuilder &s, uint64_t use) const {
    if (use >= depth) {
      s.wait(free, consumers);
    }
  }
  void produced(StreamBuilder &s) const { s.signal(full); }
  void consume(StreamBuilder &s) const { s.wait(full); }
  void consumed(StreamBuilder &s, uint64_t use) const {
    if (use + depth < total) {
      s.signal(free, producer < 0 ? s.core() : unsigned(producer));
    }
  }
};

/// Loads `bytes` of a vector (bias, gamma, ...) that may exceed one DMA
/// row's 24-bit length.
void loadVector(StreamBuilder &dma, uint64_t dram, uint64_t sram,
                uint64_t bytes) {
  const uint64_t kMaxRow = (1u << 23);
  for (uint64_t off = 0; off < bytes; off += kMaxRow) {
    dma.dma(
        load(dram + off, 0, sram + off, 0, 1, std::min(kMaxRow, bytes - off)));
  }
}

} // namespace

KernelEmitter::KernelEmitter(const target::Target &t)
    : t_(t), previousMatStart_(t.cores, 0), currentMatStart_(t.cores, 0),
      fetchFull_(t.semaphoresPerCore - 1), fetchFree_(t.semaphoresPerCore - 2),
      kernelStarted_(t.semaphoresPerCore - 3) {
  // compileNpuPartition refuses smaller targets with a diagnostic.
  assert(t.semaphoresPerCore >= kMinSemaphoresPerCore);
}

void KernelEmitter::barrierAll(const Footprint &used) {
  unsigned id = phase_++ % t_.barriers;
  for (unsigned p = 0; p < t_.cores; ++p) {
    for (Engine e : {Engine::Dma, Engine::Matrix, Engine::Vector}) {
      q(p, e).barrier(id, t_.cores * 3);
    }
  }
  previous_ = used;
  previousMatStart_ = currentMatStart_;
  for (unsigned p = 0; p < t_.cores; ++p) {
    currentMatStart_[p] = q(p, Engine::Matrix).pc();
  }
}

std::pair<uint64_t, uint64_t> KernelEmitter::placeBesidePrevious(
    uint64_t used,
    const std::vector<std::pair<uint64_t, uint64_t>> &reads) const {
  if (phase_ == 0) {
    return {0, 0};
  }
  for (auto [lo, hi] : reads) {
    if (hi > previous_.writeLo && lo < previous_.writeHi) {
      return {0, 0};
    }
  }
  // The previous kernel's SRAM is [0, low) and [highLo, highHi).
  uint64_t lo = std::max(previous_.low, used);
  std::pair<uint64_t, uint64_t> gaps[2] = {
      {std::max(lo, previous_.highHi), t_.sram.bytesPerCore},
      {lo, previous_.highLo}};
  std::pair<uint64_t, uint64_t> best{0, 0};
  for (auto [from, to] : gaps) {
    if (to > from && to - from > best.second) {
      best = {to, to - from};
    }
  }
  return best;
}

uint64_t KernelEmitter::dramIdleBeside(double dramBytes) const {
  return uint64_t(
      std::max(0.0, double(estimate_) - dramBytes / t_.dramBytesPerCycle()));
}

void KernelEmitter::releaseFetch(bool previous) {
  for (unsigned p = 0; p < t_.cores; ++p) {
    q(p, Engine::Fetch).wait(kernelStarted_);
    if (!previous) {
      q(p, Engine::Matrix).signal(kernelStarted_);
      continue;
    }
    // The signal goes first in that kernel's matrix stream. The kernels use
    // no `repeat`, so no pc after the splice is referenced.
    ProgramBuilder scratch;
    scratch.queue(p, Engine::Matrix).signal(kernelStarted_);
    Instruction sig = scratch.program().streams.front().insts.front();
    for (Stream &st : pb_.program().streams) {
      if (st.core == p && st.engine == Engine::Matrix) {
        st.insts.insert(st.insts.begin() + previousMatStart_[p], sig);
      }
    }
    ++currentMatStart_[p];
  }
}

Program KernelEmitter::finish() { return pb_.finish(); }

//===----------------------------------------------------------------------===//
// GEMM
//===----------------------------------------------------------------------===//

namespace {

struct GemmPlan {
  uint64_t mS = 1, nS = 1; // row and column slices of every batch
  uint64_t mr = 0, nc = 0; // rows and columns of a slice
  uint64_t mb = 0, nt = 0, kc = 0;
  unsigned nA = 1, nW = 2, nO = 2, nAcc = 2;
  uint64_t ldaS = 0; // SRAM row stride of A
  /// The nS cores of a row slice are neighbours (nS divides the core
  /// count); the first of them multicasts the A block to all, so A crosses
  /// its link once instead of once per column slice.
  bool mcastA = false;
  /// Every core keeps its whole weight slice (K x nc) in SRAM and loads it
  /// once, instead of once per row block.
  bool residentW = false;
  uint64_t estimate = std::numeric_limits<uint64_t>::max();
};

/// SRAM row pitch for `bytes` of A so the array's parallel row reads spread
/// over the banks (a pitch that is a multiple of banks x width puts every
/// row in one bank).
uint64_t padPitch(const target::Target &t, uint64_t bytes, uint64_t rows,
                  Dtype in) {
  uint64_t w = t.sram.bankWidthBytes;
  uint64_t base = roundUp(bytes, 64);
  double pack = t.packing(in);
  uint64_t best = base;
  double bestF = 1e30;
  for (unsigned i = 0; i <= 4; ++i) {
    uint64_t pitch = base + i * w;
    double f = target::sramBankFactor(t, pitch,
                                      std::min<uint64_t>(rows, t.matrix.rows),
                                      pack * dtypeBytes(in), 0);
    if (f < bestF - 1e-9) {
      bestF = f;
      best = pitch;
    }
  }
  return best;
}

GemmPlan planGemm(const target::Target &t, const GemmDesc &g) {
  const uint64_t P = t.cores, R = t.matrix.rows, C = t.matrix.cols;
  const unsigned ei = dtypeBytes(g.in), eo = dtypeBytes(g.out);
  const uint64_t accEntries = t.matrix.accBytes / 4;
  const uint64_t S = t.sram.bytesPerCore;
  const double dramPerCycle = t.dramBytesPerCycle();
  const uint64_t pitch = padPitch(t, g.K * ei, R, g.in);
  const double lat = double(t.dram.latencyCycles);
  GemmPlan best;
  // Work split: mS x nS slices per batch, balancing compute against the
  // DRAM traffic of re-reading A (once per column slice, unless multicast)
  // and B (once per row block, unless resident).
  for (uint64_t nS = 1; nS <= P; ++nS) {
    for (uint64_t mS = 1; mS * nS <= P; ++mS) {
      GemmPlan p;
      p.nc = roundUp(ceilDiv(g.N, nS), std::min<uint64_t>(C, g.N));
      p.nS = ceilDiv(g.N, p.nc);
      p.mr = ceilDiv(g.M, mS);
      if (p.mr > R) {
        p.mr = roundUp(p.mr, R);
      }
      p.mS = ceilDiv(g.M, p.mr);
      if (p.nS != nS || p.mS != mS) {
        continue;
      }
      // Slices go to cores round-robin, so with nS dividing the core count
      // each core always gets the same column slice and the cores of a row
      // slice are neighbours.
      const bool grouped = P % nS == 0;
      p.mcastA = grouped && nS > 1;
      const uint64_t slices = g.batch * mS * nS;
      const uint64_t perCore = ceilDiv(slices, P);
      const uint64_t coresUsed = std::min<uint64_t>(P, slices);
      std::vector<uint64_t> nts = {std::min<uint64_t>(p.nc, 512)};
      // Narrower than two array widths the weight rows are too short for
      // the DMA to stream efficiently.
      for (uint64_t x = 2 * C; x < nts[0]; x *= 2) {
        nts.push_back(x);
      }
      std::vector<uint64_t> kcs;
      for (uint64_t k : {512, 256, 128}) {
        k = std::min<uint64_t>(k, g.K);
        if (kcs.empty() || kcs.back() != k) {
          kcs.push_back(k);
        }
      }
      for (uint64_t nt : nts) {
        const uint64_t tilesN = ceilDiv(p.nc, nt);
        for (uint64_t kc : kcs) {
          const uint64_t chunks = ceilDiv(g.K, kc);
          // nW == 0: the weight slice stays resident.
          for (unsigned nA : {2u, 1u}) {
            for (unsigned nW : {0u, 4u, 2u}) {
              if (nW == 0 && (!grouped || g.bBatch != 0)) {
                continue;
              }
              uint64_t wBytes =
                  nW ? nW * roundUp(kc * nt * ei, 64)
                     : tilesN * chunks * roundUp(kc * nt * ei, 64);
              uint64_t fixed = wBytes + 2 * roundUp(p.nc * 6, 64) + 64 * 16;
              uint64_t perRow =
                  nA * pitch + 2 * nt * eo + (g.hasResidual ? 2 * nt * eo : 0);
              if (fixed >= S) {
                continue;
              }
              uint64_t mb =
                  std::min({p.mr, accEntries / (2 * nt), (S - fixed) / perRow});
              if (mb > R) {
                mb = mb / R * R;
              }
              if (mb == 0) {
                continue;
              }
              const uint64_t blocks = ceilDiv(p.mr, mb);
              const uint64_t coreBlocks = perCore * blocks;
              if (nW == 0 && coreBlocks < 2) {
                continue; // nothing to reuse; streaming overlaps better
              }
              target::MatmulCost mc = target::matmulCost(
                  t, mb, nt, kc, g.in, g.in, pitch, nt * ei, false);
              double steps = double(coreBlocks * tilesN * chunks);
              double compute = steps * double(mc.occupancy);
              // Each operand's traffic goes over the link of its space:
              // DRAM, or the NoC for the shared SRAM.
              double aBytes =
                  double(g.batch) * (p.mcastA ? 1 : nS) * g.M * g.K * ei;
              double bBytes =
                  nW ? double(g.batch) * mS * blocks * g.K * g.N * ei
                     : double(coresUsed) * g.K * p.nc * ei;
              double cBytes = double(g.batch) * g.M * g.N * eo;
              double dram = 0, noc = 0;
              ((g.a & kSharedTag) ? noc : dram) += aBytes;
              ((g.b & kSharedTag) ? noc : dram) += bBytes;
              ((g.c & kSharedTag) ? noc : dram) += cBytes;
              double dma = std::max(dram / dramPerCycle,
                                    noc / std::max(1.0, t.noc.bytesPerCycle));
              // A core's share of a link: one transfer's cap, or the link
              // split among the cores streaming over it.
              auto shareOf = [&](bool shared, double streams) {
                double link =
                    shared ? std::max(1.0, t.noc.bytesPerCycle) : dramPerCycle;
                return std::min(double(t.dma.bytesPerCycle),
                                link / std::max(1.0, streams));
              };
              const double used = double(coresUsed);
              const double aShare =
                  shareOf(g.a & kSharedTag, p.mcastA ? used / nS : used);
              const double wShare = shareOf(g.b & kSharedTag, used);
              // Pipeline fill and drain: nothing overlaps the first
              // chunk's loads or the last chunk's multiply and read-out.
              double fill = lat +
                            std::max(double(mb * kc * ei) / aShare,
                                     double(kc * nt * ei) / wShare) +
                            double(mc.occupancy) +
                            double(mb * ceilDiv(nt, t.vector.lanes));
              // The two queues of the busiest core: the fetch queue streams
              // the weights, the dma queue A (a multicasting leader
              // carries its group's); each keeps `outstanding` transfers in
              // flight, each paying the link latency.
              auto queueCycles = [&](double descs, double bytes, double share) {
                return std::max(
                    bytes / share,
                    (lat * descs + bytes / double(t.dma.bytesPerCycle)) /
                        double(std::max(1u, t.dma.outstanding)));
              };
              double wLoads = double((nW ? coreBlocks : 1) * tilesN * chunks);
              double aLoads = double(coreBlocks * chunks);
              double dmaCore = std::max(
                  queueCycles(wLoads, wLoads * double(kc * nt * ei), wShare),
                  queueCycles(aLoads,
                              double(coreBlocks) * double(mb * g.K * ei),
                              aShare));
              double overhead = fill + (wLoads + aLoads) * t.dma.issueCycles +
                                double(coreBlocks) * (nA == 1 ? lat : 0.0) +
                                double(t.dram.latencyCycles + R + C);
              uint64_t est =
                  uint64_t(std::max({compute, dma, dmaCore}) + overhead);
              if (est < p.estimate) {
                p.estimate = est;
                p.mb = mb;
                p.nt = nt;
                p.kc = kc;
                p.nA = nA;
                p.nW = nW;
                p.residentW = nW == 0;
                p.ldaS = pitch;
              }
            }
          }
        }
      }
      if (p.mb && p.estimate < best.estimate) {
        best = p;
      }
    }
  }
  if (!best.mb) {
    throw Error(fmt::format(
        "sram of {} B per core cannot hold one gemm tile: an A row of {} B "
        "(K = {}) plus the smallest weight and output buffers",
        S, g.K * ei, g.K));
  }
  return best;
}

} // namespace

void KernelEmitter::gemm(const GemmDesc &g) {
  if (!t_.supports(g.in)) {
    throw Error(fmt::format("target {} has no {} matrix path", t_.name,
                            dtypeName(g.in)));
  }
  GemmPlan pl = planGemm(t_, g);
  if (const char *force = std::getenv("NURI_NPU_FORCE_GEMM")) {
    // Diagnostics only: "mS,nS,mb,nt,kc" replaces the planner's choice.
    unsigned long long v[5];
    if (std::sscanf(force, "%llu,%llu,%llu,%llu,%llu", &v[0], &v[1], &v[2],
                    &v[3], &v[4]) == 5) {
      pl.mS = v[0];
      pl.nS = v[1];
      pl.mr = roundUp(ceilDiv(g.M, pl.mS), 1);
      pl.nc = ceilDiv(g.N, pl.nS);
      pl.mb = v[2];
      pl.nt = v[3];
      pl.kc = v[4];
      pl.mcastA = t_.cores % pl.nS == 0 && pl.nS > 1;
      pl.residentW = false;
      pl.nW = 4;
    }
  }
  estimate_ = pl.estimate;
  if (std::getenv("NURI_NPU_DEBUG")) {
    std::fprintf(stderr,
                 "gemm %llux%llux%llu x%llu: mS %llu nS %llu mb %llu nt %llu "
                 "kc %llu nA %u nW %u est %llu%s%s%s\n",
                 (unsigned long long)g.M, (unsigned long long)g.K,
                 (unsigned long long)g.N, (unsigned long long)g.batch,
                 (unsigned long long)pl.mS, (unsigned long long)pl.nS,
                 (unsigned long long)pl.mb, (unsigned long long)pl.nt,
                 (unsigned long long)pl.kc, pl.nA, pl.nW,
                 (unsigned long long)pl.estimate,
                 (g.a & kSharedTag) ? " (A shared)" : "",
                 pl.mcastA ? " (A multicast)" : "",
                 pl.residentW ? " (W resident)" : "");
  }
  const unsigned P = t_.cores;
  const unsigned ei = dtypeBytes(g.in), eo = dtypeBytes(g.out);
  const unsigned eb = dtypeBytes(g.biasType);

  struct Tile {
    uint64_t n0, nt;
  };
  struct Block {
    uint64_t b, m0, rows;
    std::vector<Tile> tiles;
  };
  std::vector<std::vector<Block>> work(P);
  uint64_t u = 0;
  for (uint64_t b = 0; b < g.batch; ++b) {
    for (uint64_t ms = 0; ms < pl.mS; ++ms) {
      for (uint64_t ns = 0; ns < pl.nS; ++ns, ++u) {
        uint64_t m0 = ms * pl.mr, m1 = std::min(g.M, m0 + pl.mr);
        uint64_t n0 = ns * pl.nc, n1 = std::min(g.N, n0 + pl.nc);
        for (uint64_t r = m0; r < m1; r += pl.mb) {
          Block blk{b, r, std::min(pl.mb, m1 - r), {}};
          for (uint64_t n = n0; n < n1; n += pl.nt) {
            blk.tiles.push_back({n, std::min(pl.nt, n1 - n)});
          }
          work[u % P].push_back(blk);
        }
      }
    }
  }

  SramPlan sram(t_.sram.bytesPerCore);
  // Bias: the block's column range, two slots alternating with the blocks
  // (a slot is reloaded two blocks later, after every tile of the block
  // that read it has been stored).
  uint64_t biasF[2] = {0, 0}, biasStage[2] = {0, 0};
  if (g.hasBias) {
    for (int i = 0; i < 2; ++i) {
      biasF[i] = sram.alloc(pl.nc * 4, "gemm bias");
      biasStage[i] = g.biasType == Dtype::F32
                         ? biasF[i]
                         : sram.alloc(pl.nc * eb, "gemm bias staging");
    }
  }
  uint64_t abuf[2], obuf[2], rbuf[2];
  for (unsigned i = 0; i < pl.nA; ++i) {
    abuf[i] = sram.alloc(pl.mb * pl.ldaS, "gemm A block");
  }
  const uint64_t chunks = ceilDiv(g.K, pl.kc);
  const uint64_t wSlot = roundUp(pl.kc * pl.nt * ei, 64);
  for (unsigned i = 0; i < pl.nO; ++i) {
    obuf[i] = sram.alloc(pl.mb * pl.nt * eo, "gemm output tile");
    rbuf[i] =
        g.hasResidual ? sram.alloc(pl.mb * pl.nt * eo, "gemm residual") : 0;
  }
  // Weight slots: a ring, or for a resident slice one per (tile, K
  // chunk), filled by the fetch queue, which never joins a barrier. When
  // the previous kernel leaves a place in SRAM alone and does not write the
  // weights, the slots go there and the fetch queue starts as soon as that
  // kernel does: the weights stream while it computes, and a chain of
  // memory-bound kernels keeps DRAM busy. The ring then grows into the free
  // place, by as many slots as that kernel leaves DRAM idle for: more would
  // take DRAM bandwidth from it (at batch 1 a transformer sits at the
  // ridge point, so the weights must stream while this kernel computes).
  const uint64_t residentSlots = ceilDiv(pl.nc, pl.nt) * chunks;
  const uint64_t budgetSlots =
      uint64_t(double(previous_.dramIdle) * t_.dramBytesPerCycle() / double(P) /
               double(wSlot));
  uint64_t wSlots = pl.residentW ? residentSlots : pl.nW;
  uint64_t wbase = 0;
  bool early = false;
  {
    auto [end, room] = placeBesidePrevious(
        sram.used(),
        {{g.b, g.b + (g.batch - 1) * g.bBatch + (g.K - 1) * g.ldb + g.N * ei}});
    if (room >= wSlots * wSlot) {
      if (!pl.residentW) {
        wSlots = std::max<uint64_t>(
            wSlots, std::min<uint64_t>(budgetSlots, room / wSlot));
      }
      wbase = (end - wSlots * wSlot) & ~uint64_t(63);
      early = true;
    }
  }
  const uint64_t wTotal = wSlots * wSlot;
  if (!early) {
    wbase = sram.alloc(wTotal, "gemm weight buffers");
  }
  auto wbuf = [&](uint64_t slot) { return wbase + slot * wSlot; };
  releaseFetch(early);
  uint64_t accBase[2] = {0, pl.mb * pl.nt};

  enum : unsigned {
    kAFull,
    kAFree,
    kAccFull,
    kAccFree,
    kOutFull,
    kOutFree,
    kBias,
    kResFull,
    kResFree,
    kAChain
  };
  for (unsigned p = 0; p < P; ++p) {
    const std::vector<Block> &blocks = work[p];
    uint64_t T = 0;
    for (const Block &b : blocks) {
      T += b.tiles.size();
    }
    if (T == 0) {
      continue;
    }
    // Weight loads: every (tile, chunk), or the first block's only when
    // the slice stays resident (every block has the same tiles).
    const uint64_t G =
        pl.residentW ? blocks.front().tiles.size() * chunks : T * chunks;
    // A: this core's own loads, or the group leader's multicasts (every
    // member has the same blocks, so they consume in lockstep).
    const unsigned leader = pl.mcastA ? p - p % unsigned(pl.nS) : p;
    const bool leads = leader == p;
    const unsigned members = pl.mcastA ? unsigned(pl.nS) : 1;
    Ring ringA{kAFull, kAFree, pl.nA, blocks.size(), members, int(leader)};
    // A resident slice has a slot per load, but the fetch queue still runs
    // at most a window ahead of the array: racing through the whole slice
    // would take the DRAM from the A loads the array needs as urgently.
    Ring ringW{fetchFull_, fetchFree_,
               pl.residentW ? unsigned(std::min<uint64_t>(
                                  G, std::max<uint64_t>(8, budgetSlots)))
                            : unsigned(wSlots),
               G};
    Ring ringAcc{kAccFull, kAccFree, pl.nAcc, T};
    Ring ringOut{kOutFull, kOutFree, pl.nO, T};
    Ring ringRes{kResFull, kResFree, pl.nO, T};
    StreamBuilder dma = q(p, Engine::Dma), mat = q(p, Engine::Matrix),
                  vec = q(p, Engine::Vector), fetch = q(p, Engine::Fetch);

    // DMA: bias once, then per block its A rows, per tile its weight chunks
    // (running up to nW chunks ahead of the array), the previous tile's
    // store after the next tile's loads so stores never delay prefetch.
    auto blockCols = [](const Block &b) {
      return std::make_pair(b.tiles.front().n0,
                            b.tiles.back().n0 + b.tiles.back().nt);
    };
    struct Pending {
      const Block *blk;
      Tile tile;
      uint64_t index;
    };
    std::vector<Pending> pending;
    auto storeTile = [&](const Pending &pt) {
      ringOut.consume(dma);
      uint64_t dst =
          g.c + pt.blk->b * g.cBatch + pt.blk->m0 * g.ldc + pt.tile.n0 * eo;
      dma.dma(store(obuf[pt.index % pl.nO], pt.tile.nt * eo, dst, g.ldc,
                    pt.blk->rows, pt.tile.nt * eo));
      ringOut.consumed(dma, pt.index);
    };
    uint64_t gw = 0, ti = 0;
    for (uint64_t bi = 0; bi < blocks.size(); ++bi) {
      const Block &blk = blocks[bi];
      // A arrives in K chunks, so the array starts after the first chunk
      // instead of after the whole block; the bias and residual, needed only
      // at the read-out, follow it (a signal waits for everything before it
      // on its queue).
      if (leads) {
        ringA.produce(dma, bi);
      }
      bool firstTile = true;
      for (const Tile &tile : blk.tiles) {
        const bool loadW = !pl.residentW || bi == 0;
        for (uint64_t c = 0; c < chunks; ++c) {
          uint64_t k0 = c * pl.kc, kcc = std::min(pl.kc, g.K - k0);
          if (firstTile && leads) {
            // The kernel's first block: at most two A chunks in flight.
            // Chunks issued together share the link and all land late,
            // while the array needs the first one first (a chunk multiplies
            // for longer than it loads). Later blocks load while the array
            // works on the one before, where holding up the queue would
            // delay the stores instead.
            const bool chain = bi == 0 && chunks > 2;
            if (chain && c >= 2) {
              dma.wait(kAChain);
            }
            DmaDesc a =
                load(g.a + blk.b * g.aBatch + blk.m0 * g.lda + k0 * ei, g.lda,
                     abuf[bi % pl.nA] + k0 * ei, pl.ldaS, blk.rows, kcc * ei);
            if (pl.mcastA) {
              dma.dmaMcast(a,
                           uint32_t(((uint64_t(1) << members) - 1) << leader));
              for (unsigned m = leader; m < leader + members; ++m) {
                dma.signal(kAFull, m);
              }
            } else {
              dma.dma(a);
              dma.signal(kAFull);
            }
            if (chain) {
              dma.signal(kAChain);
              if (c + 1 == chunks) {
                dma.wait(kAChain, unsigned(std::min<uint64_t>(2, chunks)));
              }
            }
          }
          if (loadW) {
            DmaDesc w =
                load(g.b + blk.b * g.bBatch + k0 * g.ldb + tile.n0 * ei, g.ldb,
                     wbuf(gw % wSlots), tile.nt * ei, kcc, tile.nt * ei);
            ringW.produce(fetch, gw);
            fetch.dma(w);
            ringW.produced(fetch);
            ++gw;
          }
        }
        if (firstTile && g.hasBias) {
          auto [c0, c1] = blockCols(blk);
          loadVector(dma, g.bias + c0 * eb, biasStage[bi % 2], (c1 - c0) * eb);
          dma.signal(kBias);
        }
        if (g.hasResidual) {
          ringRes.produce(dma, ti);
          dma.dma(load(g.residual + blk.b * g.residualBatch + blk.m0 * g.ldc +
                           tile.n0 * eo,
                       g.ldc, rbuf[ti % pl.nO], tile.nt * eo, blk.rows,
                       tile.nt * eo));
          ringRes.produced(dma);
        }
        for (const Pending &pt : pending) {
          storeTile(pt);
        }
        pending = {{&blk, tile, ti}};
        ++ti;
        firstTile = false;
      }
    }
    for (const Pending &pt : pending) {
      storeTile(pt);
    }

    // Matrix: one accumulator tile per (block, tile), K in chunks.
    gw = 0;
    ti = 0;
    for (uint64_t bi = 0; bi < blocks.size(); ++bi) {
      const Block &blk = blocks[bi];
      const bool loadW = !pl.residentW || bi == 0;
      for (size_t tj = 0; tj < blk.tiles.size(); ++tj) {
        const Tile &tile = blk.tiles[tj];
        ringAcc.produce(mat, ti);
        for (uint64_t c = 0; c < chunks; ++c) {
          uint64_t k0 = c * pl.kc, kcc = std::min(pl.kc, g.K - k0);
          if (tj == 0) {
            ringA.consume(mat);
          }
          uint64_t slot = pl.residentW ? tj * chunks + c : gw % wSlots;
          if (loadW) {
            ringW.consume(mat);
          }
          mat.mm(accBase[ti % pl.nAcc], {abuf[bi % pl.nA] + k0 * ei, pl.ldaS},
                 {wbuf(slot), tile.nt * ei}, blk.rows, tile.nt, kcc, g.in, g.in,
                 c > 0);
          if (loadW) {
            ringW.consumed(mat, gw);
            ++gw;
          }
        }
        ringAcc.produced(mat);
        ++ti;
      }
      ringA.consumed(mat, bi);
    }

    // Vector: the read-out epilogue (bias, activation, cast), then the
    // residual add in the output dtype.
    ti = 0;
    for (uint64_t bi = 0; bi < blocks.size(); ++bi) {
      const Block &blk = blocks[bi];
      auto [c0, c1] = blockCols(blk);
      if (g.hasBias) {
        vec.wait(kBias);
        if (g.biasType != Dtype::F32) {
          for (uint64_t off = 0; off < c1 - c0; off += 32768) {
            uint64_t n = std::min<uint64_t>(32768, c1 - c0 - off);
            vec.unary(UnOp::Copy, {biasF[bi % 2] + off * 4, n * 4},
                      {biasStage[bi % 2] + off * eb, n * eb}, 1, n, Dtype::F32,
                      g.biasType);
          }
        }
      }
      for (const Tile &tile : blk.tiles) {
        ringAcc.consume(vec);
        ringOut.produce(vec, ti);
        Epilogue e;
        e.out = g.out;
        e.act = g.act;
        e.useBias = g.hasBias;
        e.bias = biasF[bi % 2] + (tile.n0 - c0) * 4;
        TileRef out{obuf[ti % pl.nO], tile.nt * eo};
        vec.accRead(out, accBase[ti % pl.nAcc], blk.rows, tile.nt, e);
        ringAcc.consumed(vec, ti);
        if (g.hasResidual) {
          ringRes.consume(vec);
          vec.binary(BinOp::Add, Bcast::None, out, out,
                     {rbuf[ti % pl.nO], tile.nt * eo}, blk.rows, tile.nt, g.out,
                     g.out);
          ringRes.consumed(vec, ti);
        }
        ringOut.produced(vec);
        ++ti;
      }
    }
  }
  Footprint used;
  used.low = sram.used();
  used.highLo = early ? wbase : 0;
  used.highHi = early ? wbase + wTotal : 0;
  used.writeLo = g.c;
  used.writeHi = g.c + (g.batch - 1) * g.cBatch + (g.M - 1) * g.ldc + g.N * eo;
  // The fetch queue reaches the next kernel's weights after this one's last
  // load: what is left is the last tile's multiply, read-out and store.
  used.dramIdle = target::matmulCost(t_, pl.mb, pl.nt, pl.kc, g.in, g.in,
                                     pl.ldaS, pl.nt * ei)
                      .latency() +
                  pl.mb * ceilDiv(pl.nt, t_.vector.lanes) +
                  t_.dram.latencyCycles;
  barrierAll(used);
}

//===----------------------------------------------------------------------===//
// Row-wise kernels (elementwise, normalizations, softmax)
//===----------------------------------------------------------------------===//

void KernelEmitter::rowwise(const RowwiseDesc &r) {
  const unsigned P = t_.cores;
  if (r.cols == 0 || r.rows == 0) {
    barrierAll();
    return;
  }
  if (r.cols > 65535) {
    throw Error(fmt::format("rows of {} elements exceed the vector engine's "
                            "65535 columns",
                            r.cols));
  }
  const unsigned eo = dtypeBytes(r.outType);
  SramPlan sram(t_.sram.bytesPerCore);
  // Row and scalar operands (gamma, beta, ...): loaded once per core. When
  // none is written by the previous kernel and that kernel leaves room in
  // SRAM, the fetch queue loads them while it runs; otherwise the first
  // chunk would wait a DRAM round trip for them.
  // rowF32: the operand's f32 copy, kNoCopy when the body reads it as is
  // (0 is a valid SRAM address).
  const uint64_t kNoCopy = ~uint64_t(0);
  std::vector<uint64_t> fixedAddr(r.ins.size(), 0),
      rowF32(r.ins.size(), kNoCopy);
  auto fixedBytes = [&](const RowOperand &o) {
    return o.kind == RowOperand::Row      ? r.cols * dtypeBytes(o.dtype)
           : o.kind == RowOperand::Scalar ? dtypeBytes(o.dtype)
                                          : 0;
  };
  uint64_t fixedTotal = 0, earlyLo = 0;
  std::vector<std::pair<uint64_t, uint64_t>> reads;
  for (const RowOperand &o : r.ins) {
    if (uint64_t b = fixedBytes(o)) {
      // Scalars are broadcast to a row in place.
      fixedTotal += roundUp(r.cols * dtypeBytes(o.dtype), 64);
      reads.push_back({o.addr, o.addr + b});
    }
  }
  auto [earlyEnd, earlyRoom] = placeBesidePrevious(0, reads);
  // Only where it leaves this kernel most of the scratchpad below it.
  const bool early = fixedTotal > 0 && earlyRoom >= fixedTotal &&
                     earlyEnd - fixedTotal >= t_.sram.bytesPerCore / 2;
  if (early) {
    earlyLo = earlyEnd - fixedTotal;
    sram.limit(earlyLo);
  }
  uint64_t earlyNext = earlyLo;
  for (size_t i = 0; i < r.ins.size(); ++i) {
    const RowOperand &o = r.ins[i];
    if (!fixedBytes(o)) {
      continue;
    }
    uint64_t bytes = r.cols * dtypeBytes(o.dtype);
    if (early) {
      fixedAddr[i] = earlyNext;
      earlyNext += roundUp(bytes, 64);
    } else {
      fixedAddr[i] = sram.alloc(
          bytes, o.kind == RowOperand::Row ? "row operand" : "scalar operand");
    }
    if (o.kind == RowOperand::Row && r.rowsAsF32) {
      rowF32[i] = sram.alloc(r.cols * 4, "row operand f32");
    }
  }
  if (early) {
    releaseFetch(true);
  }
  uint64_t perRow =
      r.cols * eo + r.f32Scratch * r.cols * 4 + r.vecScratch * 4 + 6 * 64;
  for (const RowOperand &o : r.ins) {
    if (o.kind == RowOperand::Full || o.kind == RowOperand::Periodic) {
      perRow += r.cols * dtypeBytes(o.dtype);
    } else if (o.kind == RowOperand::Column) {
      perRow += dtypeBytes(o.dtype);
    }
  }
  uint64_t rowsPerCore = ceilDiv(r.rows, P);
  uint64_t avail = sram.size() > sram.used() + 64 * 16
                       ? sram.size() - sram.used() - 64 * 16
                       : 0;
  uint64_t rb = std::min<uint64_t>({rowsPerCore, avail / (2 * perRow), 65535});
  // Chunks big enough to amortize DMA latency, small enough to pipeline.
  // About four chunks per core, so loads, vector work and stores of
  // neighbouring chunks overlap, but no chunk under ~8 KiB.
  uint64_t minRows =
      std::max<uint64_t>(1, ceilDiv(8192, std::max<uint64_t>(1, r.cols * eo)));
  uint64_t want = std::max(minRows, ceilDiv(rowsPerCore, 4));
  rb = std::min(rb, want);
  if (rb == 0) {
    throw Error(fmt::format("sram of {} B per core cannot hold one row of {} "
                            "elements with its scratch buffers",
                            t_.sram.bytesPerCore, r.cols));
  }
  struct Slot {
    std::vector<uint64_t> in;
    uint64_t out;
    std::vector<uint64_t> f32, vecs;
  } slots[2];
  for (Slot &s : slots) {
    for (size_t i = 0; i < r.ins.size(); ++i) {
      const RowOperand &o = r.ins[i];
      if (o.kind == RowOperand::Full || o.kind == RowOperand::Periodic) {
        s.in.push_back(sram.alloc(rb * r.cols * dtypeBytes(o.dtype), "input"));
      } else if (o.kind == RowOperand::Column) {
        s.in.push_back(sram.alloc(rb * dtypeBytes(o.dtype), "column input"));
      } else {
        s.in.push_back(rowF32[i] != kNoCopy ? rowF32[i] : fixedAddr[i]);
      }
    }
    s.out = sram.alloc(rb * r.cols * eo, "output");
    for (unsigned i = 0; i < r.f32Scratch; ++i) {
      s.f32.push_back(sram.alloc(rb * r.cols * 4, "f32 scratch"));
    }
    for (unsigned i = 0; i < r.vecScratch; ++i) {
      s.vecs.push_back(sram.alloc(rb * 4, "row scratch"));
    }
  }
  // Estimate: vector passes ~ (f32Scratch + 2) elementwise passes.
  {
    target::VectorCost vc =
        target::vectorCost(t_, target::VectorKind::Elementwise, rowsPerCore,
                           r.cols, t_.vector.transcendentalPasses, 8);
    uint64_t bytes = r.rows * r.cols * eo * (1 + r.ins.size());
    estimate_ =
        std::max<uint64_t>(vc.latency() * (2 + r.f32Scratch),
                           uint64_t(double(bytes) / t_.dramBytesPerCycle()));
  }

  enum : unsigned { kConst, kInFull, kInFree, kOutFull, kOutFree };
  for (unsigned p = 0; p < P; ++p) {
    uint64_t r0 = std::min<uint64_t>(r.rows, p * rowsPerCore);
    uint64_t r1 = std::min<uint64_t>(r.rows, r0 + rowsPerCore);
    StreamBuilder dma = q(p, Engine::Dma), vec = q(p, Engine::Vector);
    q(p, Engine::Matrix);
    if (r0 >= r1) {
      continue;
    }
    uint64_t n = ceilDiv(r1 - r0, rb);
    Ring in{kInFull, kInFree, 2, n}, out{kOutFull, kOutFree, 2, n};
    // The fixed operands' loads, and the semaphore the vector engine
    // waits on for them: the fetch queue's (it crosses kernels, so it
    // signals one no kernel uses) or this kernel's own.
    StreamBuilder fixedQ = early ? q(p, Engine::Fetch) : dma;
    const unsigned fixedSem = early ? fetchFull_ : unsigned(kConst);
    bool anyFixed = false;
    for (size_t i = 0; i < r.ins.size(); ++i) {
      if (uint64_t b = fixedBytes(r.ins[i])) {
        loadVector(fixedQ, r.ins[i].addr, fixedAddr[i], b);
        anyFixed = true;
      }
    }
    if (anyFixed) {
      fixedQ.signal(fixedSem);
    }
    auto storeChunk = [&](uint64_t ci) {
      uint64_t row = r0 + ci * rb, rows = std::min(rb, r1 - row);
      out.consume(dma);
      dma.dma(store(slots[ci % 2].out, r.cols * eo, r.out + row * r.cols * eo,
                    r.cols * eo, rows, r.cols * eo));
      out.consumed(dma, ci);
    };
    for (uint64_t ci = 0; ci < n; ++ci) {
      uint64_t row = r0 + ci * rb, rows = std::min(rb, r1 - row);
      in.produce(dma, ci);
      for (size_t i = 0; i < r.ins.size(); ++i) {
        const RowOperand &o = r.ins[i];
        unsigned e = dtypeBytes(o.dtype);
        if (o.kind == RowOperand::Full) {
          dma.dma(load(o.addr + row * r.cols * e, r.cols * e,
                       slots[ci % 2].in[i], r.cols * e, rows, r.cols * e));
        } else if (o.kind == RowOperand::Column) {
          dma.dma(
              load(o.addr + row * e, 0, slots[ci % 2].in[i], 0, 1, rows * e));
        } else if (o.kind == RowOperand::Periodic) {
          // One transfer per run of rows that is contiguous in the table.
          uint64_t rr = 0;
          while (rr < rows) {
            uint64_t g = row + rr;
            uint64_t src = (g / o.groupRows) * o.groupStride + g % o.period;
            uint64_t run = std::min(rows - rr, o.period - g % o.period);
            run = std::min(run, o.groupRows - g % o.groupRows);
            dma.dma(load(o.addr + src * r.cols * e, r.cols * e,
                         slots[ci % 2].in[i] + rr * r.cols * e, r.cols * e, run,
                         r.cols * e));
            rr += run;
          }
        }
      }
      in.produced(dma);
      if (ci > 0) {
        storeChunk(ci - 1);
      }
    }
    storeChunk(n - 1);

    if (anyFixed) {
      vec.wait(fixedSem);
      for (size_t i = 0; i < r.ins.size(); ++i) {
        const RowOperand &o = r.ins[i];
        if (o.kind == RowOperand::Scalar) {
          // One element -> a full row, so bodies treat it as a Row operand.
          vec.bcast(Bcast::Col, {fixedAddr[i], r.cols * dtypeBytes(o.dtype)},
                    fixedAddr[i], 1, r.cols, o.dtype, o.dtype);
        }
        if (rowF32[i] != kNoCopy) {
          vec.unary(UnOp::Copy, {rowF32[i], r.cols * 4},
                    {fixedAddr[i], r.cols * dtypeBytes(o.dtype)}, 1, r.cols,
                    Dtype::F32, o.dtype);
        }
      }
    }
    for (uint64_t ci = 0; ci < n; ++ci) {
      uint64_t row = r0 + ci * rb, rows = std::min(rb, r1 - row);
      in.consume(vec);
      out.produce(vec, ci);
      RowChunk ch;
      ch.rows = rows;
      ch.in = slots[ci % 2].in;
      ch.out = slots[ci % 2].out;
      ch.f32 = slots[ci % 2].f32;
      ch.vecs = slots[ci % 2].vecs;
      r.body(vec, ch);
      in.consumed(vec, ci);
      out.produced(vec);
    }
  }
  Footprint used;
  used.low = sram.used();
  used.highLo = early ? earlyLo : 0;
  used.highHi = early ? earlyLo + fixedTotal : 0;
  used.writeLo = r.out;
  used.writeHi = r.out + r.rows * r.cols * eo;
  {
    double dram = dramBytes(r.out, r.rows * r.cols * eo);
    for (const RowOperand &o : r.ins) {
      if (o.kind == RowOperand::Full || o.kind == RowOperand::Periodic) {
        dram += dramBytes(o.addr, r.rows * r.cols * dtypeBytes(o.dtype));
      }
    }
    used.dramIdle = dramIdleBeside(dram);
  }
  barrierAll(used);
}

//===----------------------------------------------------------------------===//
// Transposes that move the innermost dimension
//===----------------------------------------------------------------------===//

void KernelEmitter::transpose(const TransposeDesc &t) {
  const unsigned P = t_.cores, e = dtypeBytes(t.dtype);
  if (t.batch == 0 || t.rows == 0 || t.cols == 0) {
    barrierAll();
    return;
  }
  // Square-ish tiles up to 128 x 128, two of each (in, out) per core so
  // loads, transposes and stores of neighbouring tiles overlap.
  uint64_t tr = std::min<uint64_t>(t.rows, 128),
           tc = std::min<uint64_t>(t.cols, 128);
  while (4 * tr * tc * e + 64 * 8 > t_.sram.bytesPerCore &&
         (tr > 1 || tc > 1)) {
    if (tr >= tc) {
      tr = ceilDiv(tr, 2);
    } else {
      tc = ceilDiv(tc, 2);
    }
  }
  SramPlan sram(t_.sram.bytesPerCore);
  uint64_t inS[2], outS[2];
  for (int i = 0; i < 2; ++i) {
    inS[i] = sram.alloc(tr * tc * e, "transpose input tile");
    outS[i] = sram.alloc(tr * tc * e, "transpose output tile");
  }
  struct Tile {
    uint64_t b, r0, c0, rows, cols;
  };
  std::vector<std::vector<Tile>> work(P);
  uint64_t u = 0;
  for (uint64_t b = 0; b < t.batch; ++b) {
    for (uint64_t r0 = 0; r0 < t.rows; r0 += tr) {
      for (uint64_t c0 = 0; c0 < t.cols; c0 += tc, ++u) {
        work[u % P].push_back(
            {b, r0, c0, std::min(tr, t.rows - r0), std::min(tc, t.cols - c0)});
      }
    }
  }
  {
    target::VectorCost v =
        target::vectorCost(t_, target::VectorKind::Transpose, tr, tc, 1, 2 * e);
    double bytes = 2.0 * double(t.batch * t.rows * t.cols * e);
    bool viaDram = !(t.in & kSharedTag) || !(t.out & kSharedTag);
    double link =
        viaDram ? t_.dramBytesPerCycle() : std::max(1.0, t_.noc.bytesPerCycle);
    estimate_ = std::max<uint64_t>(work[0].size() * v.latency(),
                                   uint64_t(bytes / link)) +
                2 * t_.dram.latencyCycles;
  }
  enum : unsigned { kInFull, kInFree, kOutFull, kOutFree };
  const uint64_t matrix = t.rows * t.cols * e;
  for (unsigned p = 0; p < P; ++p) {
    StreamBuilder dma = q(p, Engine::Dma), vec = q(p, Engine::Vector);
    q(p, Engine::Matrix);
    const std::vector<Tile> &tiles = work[p];
    const uint64_t n = tiles.size();
    Ring in{kInFull, kInFree, 2, n}, out{kOutFull, kOutFree, 2, n};
    auto storeTile = [&](uint64_t i) {
      const Tile &x = tiles[i];
      out.consume(dma);
      // Column c of the input tile is row c0 + c of the output.
      dma.dma(store(outS[i % 2], x.rows * e,
                    t.out + x.b * matrix + (x.c0 * t.rows + x.r0) * e,
                    t.rows * e, x.cols, x.rows * e));
      out.consumed(dma, i);
    };
    for (uint64_t i = 0; i < n; ++i) {
      const Tile &x = tiles[i];
      in.produce(dma, i);
      dma.dma(load(t.in + x.b * matrix + (x.r0 * t.cols + x.c0) * e, t.cols * e,
                   inS[i % 2], x.cols * e, x.rows, x.cols * e));
      in.produced(dma);
      if (i > 0) {
        storeTile(i - 1);
      }
    }
    if (n > 0) {
      storeTile(n - 1);
    }
    for (uint64_t i = 0; i < n; ++i) {
      const Tile &x = tiles[i];
      in.consume(vec);
      out.produce(vec, i);
      vec.transpose({outS[i % 2], x.rows * e}, {inS[i % 2], x.cols * e}, x.rows,
                    x.cols, t.dtype);
      in.consumed(vec, i);
      out.produced(vec);
    }
  }
  Footprint used;
  used.low = sram.used();
  used.writeLo = t.out;
  used.writeHi = t.out + t.batch * matrix;
  barrierAll(used);
}

//===----------------------------------------------------------------------===//
// DRAM copies (reshape materialization, transposes that keep the last dim)
//===----------------------------------------------------------------------===//

void KernelEmitter::copies(const std::vector<DmaDesc> &all) {
  // Descriptors round-robin over the cores' DMA queues; long flat copies
  // are cut to the 24-bit row length.
  const uint64_t kMaxRow = 1u << 23;
  std::vector<DmaDesc> parts;
  uint64_t bytes = 0;
  for (const DmaDesc &d : all) {
    bytes += d.planes * d.rows * d.bytes;
    if (d.rows == 1 && d.planes == 1) {
      // One transfer is capped at dma.bytes_per_cycle: cut flat copies so
      // every core's DMA moves a share.
      uint64_t piece =
          std::min(kMaxRow, roundUp(ceilDiv(d.bytes, t_.cores), 256));
      for (uint64_t off = 0; off < d.bytes; off += piece) {
        DmaDesc c = d;
        c.src += off;
        c.dst += off;
        c.bytes = std::min(piece, d.bytes - off);
        parts.push_back(c);
      }
    } else if (d.planes >= t_.cores) {
      uint64_t per = ceilDiv(d.planes, t_.cores);
      for (uint64_t p0 = 0; p0 < d.planes; p0 += per) {
        DmaDesc c = d;
        c.src += p0 * d.srcPStride;
        c.dst += p0 * d.dstPStride;
        c.planes = std::min(per, d.planes - p0);
        parts.push_back(c);
      }
    } else {
      // Few planes: cut rows so every core moves a share.
      uint64_t per =
          ceilDiv(d.rows, std::max<uint64_t>(1, t_.cores / d.planes));
      for (uint64_t r0 = 0; r0 < d.rows; r0 += per) {
        DmaDesc c = d;
        c.src += r0 * d.srcStride;
        c.dst += r0 * d.dstStride;
        c.rows = std::min(per, d.rows - r0);
        parts.push_back(c);
      }
    }
  }
  // The rows and planes fields are 16 bits wide.
  const uint64_t kMaxDim = 65535;
  for (size_t i = 0; i < parts.size(); ++i) {
    DmaDesc d = parts[i]; // a copy: push_back may move parts
    if (d.planes > kMaxDim) {
      DmaDesc rest = d;
      rest.src += kMaxDim * d.srcPStride;
      rest.dst += kMaxDim * d.dstPStride;
      rest.planes -= kMaxDim;
      d.planes = kMaxDim;
      parts.push_back(rest);
    }
    if (d.rows > kMaxDim) {
      DmaDesc rest = d;
      rest.src += kMaxDim * d.srcStride;
      rest.dst += kMaxDim * d.dstStride;
      rest.rows -= kMaxDim;
      d.rows = kMaxDim;
      parts.push_back(rest);
    }
    parts[i] = d;
  }
  Footprint used;
  used.low = 0;
  used.writeLo = ~0ull;
  used.writeHi = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    DmaDesc &d = parts[i];
    used.writeLo = std::min(used.writeLo, d.dst);
    used.writeHi =
        std::max(used.writeHi, d.dst + (d.planes - 1) * d.dstPStride +
                                   (d.rows - 1) * d.dstStride + d.bytes);
    d.srcSpace = spaceOf(d.src);
    d.dstSpace = spaceOf(d.dst);
    d.src = untag(d.src);
    d.dst = untag(d.dst);
    q(unsigned(i % t_.cores), Engine::Dma).dma(d);
  }
  {
    // The parts stream from every core's queue at once: each link at its
    // rate or all queues' caps, whichever is lower.
    double dram = 0, noc = 0;
    for (const DmaDesc &d : parts) {
      double b = double(d.planes * d.rows * d.bytes);
      bool viaDram = d.srcSpace == Space::Dram || d.dstSpace == Space::Dram;
      (viaDram ? dram : noc) +=
          d.srcSpace == Space::Dram && d.dstSpace == Space::Dram ? 2 * b : b;
    }
    double caps = double(t_.cores) * double(t_.dma.bytesPerCycle);
    estimate_ = uint64_t(
        std::max(dram / std::min(caps, t_.dramBytesPerCycle()),
                 noc / std::min(caps, std::max(1.0, t_.noc.bytesPerCycle))) +
        double(dram > 0 ? t_.dram.latencyCycles : t_.noc.latencyCycles));
  }
  barrierAll(used);
}

//===----------------------------------------------------------------------===//
// Attention: flash-attention style, the scores stay in SRAM
//===----------------------------------------------------------------------===//

void KernelEmitter::attention(const AttentionDesc &a) {
  const unsigned P = t_.cores;
  const Dtype dt = a.dtype;
  const unsigned e = dtypeBytes(dt), em = dtypeBytes(a.maskType);
  if (!t_.supports(dt)) {
    throw Error(
        fmt::format("target {} has no {} matrix path", t_.name, dtypeName(dt)));
  }
  const uint64_t accEntries = t_.matrix.accBytes / 4;
  // Tiles: qb query rows, kb keys per block; both bounded by the
  // accumulator (S and PV tiles) and the SRAM.
  // Query blocks: as tall as the array allows, but cut further when that
  // balances the (batch, head, block) units over the cores better.
  uint64_t qb = std::min<uint64_t>(a.Sq, 128),
           kb = std::min<uint64_t>(a.Skv, 256);
  {
    uint64_t floor = std::min<uint64_t>(a.Sq, t_.matrix.rows);
    uint64_t best = ~uint64_t(0);
    for (uint64_t c = std::min<uint64_t>(a.Sq, 128); c >= floor && c >= 1;
         c = c / 2) {
      uint64_t units = a.B * a.Hq * ceilDiv(a.Sq, c);
      uint64_t rows = ceilDiv(units, P) * c;
      if (rows < best) {
        best = rows;
        qb = c;
      }
      if (c == 1) {
        break;
      }
    }
  }
  auto sramNeed = [&](uint64_t qb, uint64_t kb) {
    uint64_t need = 0;
    auto add = [&](uint64_t b) { need += roundUp(b, 64); };
    add(kb * 4); // scale vector
    for (int i = 0; i < 2; ++i) {
      add(qb * a.D * e);  // Q
      add(kb * a.D * e);  // K
      add(kb * a.Dv * e); // V
      if (a.hasMask) {
        add(qb * kb * em); // mask
      }
      add(qb * a.Dv * e); // out
    }
    add(a.D * kb * e);      // K^T
    add(qb * kb * 4);       // s
    add(qb * kb * 4);       // mask f32
    add(qb * kb * e);       // P
    add(qb * a.Dv * 4 * 2); // o, pv
    add(qb * 4 * 7);        // m, l, alpha, ...
    return need;
  };
  while ((qb * kb + qb * a.Dv > accEntries ||
          sramNeed(qb, kb) > t_.sram.bytesPerCore) &&
         (qb > 1 || kb > 1)) {
    if (kb >= qb && kb > 1) {
      kb = ceilDiv(kb, 2);
    } else {
      qb = ceilDiv(qb, 2);
    }
  }
  if (qb * kb + qb * a.Dv > accEntries ||
      sramNeed(qb, kb) > t_.sram.bytesPerCore) {
    throw Error(fmt::format("sram of {} B per core cannot hold one attention "
                            "tile (head dim {})",
                            t_.sram.bytesPerCore, a.D));
  }
  SramPlan sram(t_.sram.bytesPerCore);
  uint64_t scaleV = sram.alloc(kb * 4, "attention scale");
  uint64_t qS[2], kS[2], vS[2], mS[2], oS[2];
  for (int i = 0; i < 2; ++i) {
    qS[i] = sram.alloc(qb * a.D * e, "Q");
    kS[i] = sram.alloc(kb * a.D * e, "K");
    vS[i] = sram.alloc(kb * a.Dv * e, "V");
    mS[i] = a.hasMask ? sram.alloc(qb * kb * em, "mask") : 0;
    oS[i] = sram.alloc(qb * a.Dv * e, "attention out");
  }
  uint64_t kt = sram.alloc(a.D * kb * e, "K^T");
  uint64_t s = sram.alloc(qb * kb * 4, "scores");
  uint64_t mf = sram.alloc(qb * kb * 4, "mask f32");
  uint64_t pb = sram.alloc(qb * kb * e, "P");
  uint64_t o = sram.alloc(qb * a.Dv * 4, "o");
  uint64_t pv = sram.alloc(qb * a.Dv * 4, "pv");
  uint64_t mrow = sram.alloc(qb * 4, "m"), lrow = sram.alloc(qb * 4, "l"),
           alpha = sram.alloc(qb * 4, "alpha"), bmax = sram.alloc(qb * 4, "mb"),
           mnew = sram.alloc(qb * 4, "mnew"), bsum = sram.alloc(qb * 4, "ls"),
           rl = sram.alloc(qb * 4, "1/l");
  const uint64_t accS = 0, accPV = qb * kb;

  struct Unit {
    uint64_t b, h, i0, rows;
  };
  std::vector<std::vector<Unit>> work(P);
  uint64_t u = 0;
  for (uint64_t b = 0; b < a.B; ++b) {
    for (uint64_t h = 0; h < a.Hq; ++h) {
      for (uint64_t i0 = 0; i0 < a.Sq; i0 += qb, ++u) {
        work[u % P].push_back({b, h, i0, std::min(qb, a.Sq - i0)});
      }
    }
  }
  // Key blocks a query block needs: causal blocks past the diagonal are
  // skipped entirely.
  auto kvBlocks = [&](const Unit &un) {
    uint64_t end = a.Skv;
    if (a.causal) {
      end = std::min(a.Skv, un.i0 + un.rows + a.Skv - a.Sq);
    }
    return ceilDiv(std::max<uint64_t>(end, 1), kb);
  };
  {
    uint64_t blocks = 0;
    for (const Unit &un : work[0]) {
      blocks += kvBlocks(un);
    }
    target::MatmulCost m1 =
        target::matmulCost(t_, qb, kb, a.D, dt, dt, a.D * e, kb * e);
    target::MatmulCost m2 =
        target::matmulCost(t_, qb, a.Dv, kb, dt, dt, kb * e, a.Dv * e);
    target::VectorCost v =
        target::vectorCost(t_, target::VectorKind::Elementwise, qb, kb,
                           t_.vector.transcendentalPasses, 8);
    // Per key block the vector engine makes about 12 passes over the
    // qb x kb scores besides the exp (mask, max, sum, rescale, casts, the
    // transposed K and the read-outs), each paying its pipeline depth (the
    // ops of a block depend on each other); Q, K, V and O
    // cross their links once per (unit, block), the links shared by the
    // cores.
    target::VectorCost v1 =
        target::vectorCost(t_, target::VectorKind::Elementwise, qb, kb, 1, 8);
    uint64_t perBlock =
        std::max<uint64_t>(m1.latency() + m2.latency(),
                           v1.occupancy * 12 + v.occupancy +
                               16 * uint64_t(t_.vector.pipelineDepth));
    double io = 0, ioDram = 0;
    for (const std::vector<Unit> &units : work) {
      for (const Unit &un : units) {
        double bytes =
            double(un.rows * (a.D + a.Dv) * e) +
            double(kvBlocks(un) * kb * (a.D + a.Dv) * e) +
            (a.hasMask
                 ? double(un.rows * std::min(a.Skv, kb * kvBlocks(un)) * em)
                 : 0.0);
        ((a.k & kSharedTag) ? io : ioDram) += bytes;
      }
    }
    double link = std::max(io / std::max(1.0, t_.noc.bytesPerCycle),
                           ioDram / t_.dramBytesPerCycle());
    estimate_ = std::max<uint64_t>(blocks * perBlock, uint64_t(link)) +
                t_.dram.latencyCycles + perBlock;
  }
  enum : unsigned {
    kQFull,
    kQFree,
    kKvFull,
    kKvFree,
    kTReady,
    kSFull,
    kPReady,
    kPvFull,
    kOFull,
    kOFree
  };
  const uint64_t ldq = a.D * e, ldv = a.Dv * e;
  const bool maskRow = a.hasMask && a.maskStride[2] == 0;
  auto qAddr = [&](const Unit &un) {
    return a.q + un.b * a.qStride[0] + un.h * a.qStride[1] +
           un.i0 * a.qStride[2];
  };
  auto kvHead = [&](const Unit &un) { return un.h / (a.Hq / a.Hkv); };
  for (unsigned p = 0; p < P; ++p) {
    const std::vector<Unit> &units = work[p];
    StreamBuilder dma = q(p, Engine::Dma), mat = q(p, Engine::Matrix),
                  vec = q(p, Engine::Vector);
    if (units.empty()) {
      continue;
    }
    uint64_t G = 0;
    for (const Unit &un : units) {
      G += kvBlocks(un);
    }
    const uint64_t U = units.size();
    Ring ringQ{kQFull, kQFree, 2, U}, ringKv{kKvFull, kKvFree, 2, G},
        ringO{kOFull, kOFree, 2, U};

    // DMA.
    std::vector<uint64_t> pendingStores;
    auto storeUnit = [&](uint64_t ui) {
      const Unit &un = units[ui];
      ringO.consume(dma);
      dma.dma(store(oS[ui % 2], ldv,
                    a.o + un.b * a.oStride[0] + un.h * a.oStride[1] +
                        un.i0 * a.oStride[2],
                    a.oStride[2], un.rows, ldv));
      ringO.consumed(dma, ui);
    };
    uint64_t g = 0;
    for (uint64_t ui = 0; ui < U; ++ui) {
      const Unit &un = units[ui];
      ringQ.produce(dma, ui);
      dma.dma(load(qAddr(un), a.qStride[2], qS[ui % 2], ldq, un.rows, ldq));
      ringQ.produced(dma);
      uint64_t hk = kvHead(un);
      uint64_t nb = kvBlocks(un);
      for (uint64_t j = 0; j < nb; ++j, ++g) {
        uint64_t j0 = j * kb, kn = std::min(kb, a.Skv - j0);
        ringKv.produce(dma, g);
        dma.dma(load(a.k + un.b * a.kStride[0] + hk * a.kStride[1] +
                         j0 * a.kStride[2],
                     a.kStride[2], kS[g % 2], ldq, kn, ldq));
        dma.dma(load(a.v + un.b * a.vStride[0] + hk * a.vStride[1] +
                         j0 * a.vStride[2],
                     a.vStride[2], vS[g % 2], ldv, kn, ldv));
        if (a.hasMask) {
          uint64_t base =
              a.mask + (un.b * a.maskStride[0] + un.h * a.maskStride[1] +
                        un.i0 * a.maskStride[2] + j0 * a.maskStride[3]) *
                           em;
          // A mask shared by every query row ([B, 1, 1, Skv] padding
          // masks) is one row, added by row broadcast.
          dma.dma(load(base, a.maskStride[2] * em, mS[g % 2], kn * em,
                       maskRow ? 1 : un.rows, kn * em));
        }
        ringKv.produced(dma);
        if (j == 0) {
          for (uint64_t st : pendingStores) {
            storeUnit(st);
          }
          pendingStores.clear();
        }
      }
      pendingStores.push_back(ui);
    }
    for (uint64_t st : pendingStores) {
      storeUnit(st);
    }

    // Matrix: S_g = Q K_g^T, then PV_g = P_g V_g.
    g = 0;
    for (uint64_t ui = 0; ui < U; ++ui) {
      const Unit &un = units[ui];
      uint64_t nb = kvBlocks(un);
      ringQ.consume(mat);
      for (uint64_t j = 0; j < nb; ++j, ++g) {
        uint64_t kn = std::min(kb, a.Skv - j * kb);
        mat.wait(kTReady);
        mat.mm(accS, {qS[ui % 2], ldq}, {kt, kn * e}, un.rows, kn, a.D, dt, dt,
               false);
        if (j + 1 == nb) {
          ringQ.consumed(mat, ui);
        }
        mat.signal(kSFull);
        mat.wait(kPReady);
        mat.mm(accPV, {pb, kn * e}, {vS[g % 2], ldv}, un.rows, a.Dv, kn, dt, dt,
               false);
        mat.signal(kPvFull);
      }
    }

    // Vector: transpose K, online softmax, rescale and accumulate O.
    vec.fill({scaleV, kb * 4}, a.scale, 1, kb, Dtype::F32);
    struct Step {
      uint64_t ui, j, g, kn;
      bool first, last;
    };
    std::vector<Step> steps;
    g = 0;
    for (uint64_t ui = 0; ui < U; ++ui) {
      uint64_t nb = kvBlocks(units[ui]);
      for (uint64_t j = 0; j < nb; ++j, ++g) {
        steps.push_back(
            {ui, j, g, std::min(kb, a.Skv - j * kb), j == 0, j + 1 == nb});
      }
    }
    auto transposeK = [&](const Step &st) {
      ringKv.consume(vec);
      vec.transpose({kt, st.kn * e}, {kS[st.g % 2], ldq}, st.kn, a.D, dt);
      vec.signal(kTReady);
    };
    auto softmax = [&](const Step &st) {
      const Unit &un = units[st.ui];
      uint64_t rows = un.rows, kn = st.kn;
      TileRef sc{s, kn * 4};
      vec.wait(kSFull);
      Epilogue ep;
      ep.out = Dtype::F32;
      ep.useScale = true;
      ep.scale = scaleV;
      vec.accRead(sc, accS, rows, kn, ep);
      if (a.hasMask) {
        uint64_t mrows = maskRow ? 1 : rows;
        vec.unary(UnOp::Copy, {mf, kn * 4}, {mS[st.g % 2], kn * em}, mrows, kn,
                  Dtype::F32, a.maskType);
        vec.binary(BinOp::Add, maskRow ? Bcast::Row : Bcast::None, sc, sc,
                   {mf, maskRow ? 0 : kn * 4}, rows, kn, Dtype::F32,
                   Dtype::F32);
      }
      if (a.causal) {
        // Keys j > i + Skv - Sq get -1e30 (finite, so a fully hidden block
        // never makes NaN; its weight is rescaled to 0 by a later block).
        uint64_t j0 = st.j * kb;
        for (uint64_t r = 0; r < rows; ++r) {
          uint64_t i = un.i0 + r;
          uint64_t firstHidden = i + a.Skv - a.Sq + 1;
          if (firstHidden < j0 + kn) {
            uint64_t c0 = firstHidden > j0 ? firstHidden - j0 : 0;
            // Rows with the same cut share one fill instruction.
            uint64_t r1 = r + 1;
            vec.fill({s + r * kn * 4 + c0 * 4, kn * 4}, -1e30f, r1 - r, kn - c0,
                     Dtype::F32);
          }
        }
      }
      vec.reduce(RedOp::Max, bmax, sc, rows, kn, Dtype::F32, Dtype::F32);
      TileRef mr{mrow, 4}, mn{mnew, 4}, al{alpha, 4};
      if (st.first) {
        vec.unary(UnOp::Copy, mr, {bmax, 4}, rows, 1, Dtype::F32, Dtype::F32);
      } else {
        vec.binary(BinOp::Max, Bcast::None, mn, mr, {bmax, 4}, rows, 1,
                   Dtype::F32, Dtype::F32);
        vec.binary(BinOp::Sub, Bcast::None, al, mr, mn, rows, 1, Dtype::F32,
                   Dtype::F32);
        vec.unary(UnOp::Exp, al, al, rows, 1, Dtype::F32, Dtype::F32);
        vec.unary(UnOp::Copy, mr, mn, rows, 1, Dtype::F32, Dtype::F32);
      }
      vec.binary(BinOp::Sub, Bcast::Col, sc, sc, mr, rows, kn, Dtype::F32,
                 Dtype::F32);
      vec.unary(UnOp::Exp, sc, sc, rows, kn, Dtype::F32, Dtype::F32);
      vec.reduce(RedOp::Sum, bsum, sc, rows, kn, Dtype::F32, Dtype::F32);
      TileRef lr{lrow, 4};
      if (st.first) {
        vec.unary(UnOp::Copy, lr, {bsum, 4}, rows, 1, Dtype::F32, Dtype::F32);
      } else {
        vec.binary(BinOp::Mul, Bcast::None, lr, lr, al, rows, 1, Dtype::F32,
                   Dtype::F32);
        vec.binary(BinOp::Add, Bcast::None, lr, lr, {bsum, 4}, rows, 1,
                   Dtype::F32, Dtype::F32);
      }
      vec.unary(UnOp::Copy, {pb, kn * e}, sc, rows, kn, dt, Dtype::F32);
      vec.signal(kPReady);
    };
    auto update = [&](const Step &st) {
      const Unit &un = units[st.ui];
      uint64_t rows = un.rows;
      vec.wait(kPvFull);
      Epilogue ep;
      ep.out = Dtype::F32;
      TileRef ot{o, ldv * 4 / e};
      if (st.first) {
        vec.accRead(ot, accPV, rows, a.Dv, ep);
      } else {
        TileRef pt{pv, a.Dv * 4};
        vec.accRead(pt, accPV, rows, a.Dv, ep);
        vec.binary(BinOp::Mul, Bcast::Col, ot, ot, {alpha, 4}, rows, a.Dv,
                   Dtype::F32, Dtype::F32);
        vec.binary(BinOp::Add, Bcast::None, ot, ot, pt, rows, a.Dv, Dtype::F32,
                   Dtype::F32);
      }
      ringKv.consumed(vec, st.g);
      if (st.last) {
        ringO.produce(vec, st.ui);
        vec.unary(UnOp::Recip, {rl, 4}, {lrow, 4}, rows, 1, Dtype::F32,
                  Dtype::F32);
        vec.binary(BinOp::Mul, Bcast::Col, {oS[st.ui % 2], ldv}, ot, {rl, 4},
                   rows, a.Dv, dt, Dtype::F32);
        ringO.produced(vec);
      }
    };
    // T_0, SM_0, T_1, UPD_0, SM_1, T_2, UPD_1, ...: the array computes
    // PV_g and S_{g+1} while the vector engine transposes and rescales.
    transposeK(steps[0]);
    for (size_t i = 0; i < steps.size(); ++i) {
      softmax(steps[i]);
      if (i + 1 < steps.size()) {
        transposeK(steps[i + 1]);
      }
      update(steps[i]);
    }
  }
  Footprint used;
  used.low = sram.used();
  used.writeLo = a.o;
  used.writeHi = a.o + (a.B - 1) * a.oStride[0] + (a.Hq - 1) * a.oStride[1] +
                 (a.Sq - 1) * a.oStride[2] + a.Dv * dtypeBytes(a.dtype);
  used.dramIdle =
      dramIdleBeside(dramBytes(a.q, a.B * a.Hq * a.Sq * a.D * e) +
                     dramBytes(a.k, a.B * a.Hkv * a.Skv * a.D * e) +
                     dramBytes(a.v, a.B * a.Hkv * a.Skv * a.Dv * e) +
                     dramBytes(a.o, a.B * a.Hq * a.Sq * a.Dv * e));
  barrierAll(used);
}

} // namespace nuri::npu
