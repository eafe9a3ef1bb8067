//===- NpuKernels.cpp - Tiled, scheduled kernels for the NPU --------------===//

#include "NpuKernels.h"

#include "KernelSupport.h"

#include "nuri/target/CostModel.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

namespace nuri::npu {

using namespace isa;
using namespace kernel;

unsigned elemBytes(Dtype d) { return dtypeBytes(d); }

uint64_t weightStreamBytes(const target::Target &t) {
  // The ring is worth its SRAM where it lets the weights of the next
  // kernels stream through the latency-bound ones (attention, norms) at the
  // DRAM's rate: the bytes one core's share of the DRAM delivers in a few
  // dozen round trips. Where that is more than a quarter of the SRAM the
  // kernels' own tiles would shrink for it, and each GEMM streams its own
  // weights as before.
  constexpr double kStreamLatencies = 32;
  const double perCore = t.dramBytesPerCycle() / std::max(1u, t.cores);
  const uint64_t ring = roundUp(
      uint64_t(perCore * kStreamLatencies * double(t.dram.latencyCycles)),
      uint64_t(64) << 10);
  // The largest weight chunk planGemm makes (512 x 512 bf16) four times,
  // so a ring never holds fewer than four chunks in flight.
  const uint64_t minRing = 4 * 512 * 512 * 2;
  if (ring < minRing || 4 * ring > t.sram.bytesPerCore) {
    return 0;
  }
  return ring;
}

uint64_t peerPoolBytes(const target::Target &t) {
  // Only where there is no shared SRAM to keep intermediates in. A quarter
  // of the SRAM (8 MB of rngd's 32 MB) holds a batch-8 BERT-base layer's
  // largest intermediate (6 MB) and leaves the kernels' tiles their room.
  // Not where a quarter is too small to hold a useful intermediate (under
  // 64 KiB): there the kernels' own tiles need every byte.
  const uint64_t quarter = (t.sram.bytesPerCore / 4) & ~uint64_t(255);
  if (t.sram.sharedBytes != 0 || t.cores > 256 || quarter < (64u << 10)) {
    return 0;
  }
  return quarter;
}

uint64_t peerPoolBase(const target::Target &t) {
  return t.sram.bytesPerCore - weightStreamBytes(t) - peerPoolBytes(t);
}

uint64_t peerAddress(const target::Target &t, uint64_t offset) {
  const uint64_t pool = peerPoolBytes(t);
  assert(pool != 0 && offset / pool < t.cores);
  return kPeerTag | ((offset / pool) << kPeerCoreShift) |
         (peerPoolBase(t) + offset % pool);
}

uint64_t kernelSramBytes(const target::Target &t) { return peerPoolBase(t); }

KernelEmitter::KernelEmitter(const target::Target &t)
    : t_(t), previousMatStart_(t.cores, 0), currentMatStart_(t.cores, 0),
      fetchFull_(t.semaphoresPerCore - 1), fetchFree_(t.semaphoresPerCore - 2),
      kernelStarted_(t.semaphoresPerCore - 3),
      streamBytes_(weightStreamBytes(t)), streamHead_(t.cores, 0),
      streamInFlight_(t.cores, 0), fetchChain_(t.semaphoresPerCore - 4),
      streamLive_(t.cores) {
  // compileNpuPartition refuses smaller targets with a diagnostic.
  assert(t.semaphoresPerCore >= kMinSemaphoresPerCore);
  streamBase_ = t.sram.bytesPerCore - streamBytes_;
}

uint64_t KernelEmitter::placeStreamChunk(unsigned core, uint64_t bytes,
                                         unsigned &frees) {
  assert(fitsWeightStream(bytes));
  bytes = roundUp(bytes, 64);
  uint64_t &head = streamHead_[core];
  std::deque<std::pair<uint64_t, uint64_t>> &live = streamLive_[core];
  // A chunk never wraps: it goes at the head, or at the ring's start when
  // it does not fit before the end.
  uint64_t at = head + bytes <= streamBytes_ ? head : 0;
  auto overlaps = [&](const std::pair<uint64_t, uint64_t> &c) {
    return c.first < at + bytes && at < c.first + c.second;
  };
  // The matrix queues free the chunks in the order they were placed, so
  // the fetch queue waits for the oldest until none overlaps the new one.
  frees = 0;
  while (std::any_of(live.begin(), live.end(), overlaps)) {
    live.pop_front();
    ++frees;
  }
  live.push_back({at, bytes});
  head = at + bytes;
  return streamBase_ + at;
}

void KernelEmitter::issueStreamLoad(unsigned core, const DmaDesc &load,
                                    unsigned frees, bool weightBound) {
  StreamBuilder fetch = q(core, Engine::Fetch);
  const double perCore = t_.dramBytesPerCycle() / std::max(1u, t_.cores);
  // What crosses the DRAM link: fewer bytes than land in SRAM for a
  // compressed weight (dma.dq).
  const double bytes = std::max<double>(1.0, double(dmaSourceBytes(load)));
  // Enough loads in flight to cover one DRAM latency at the core's share
  // of the bandwidth. A weight-bound GEMM (a decode step's GEMV) covers
  // several round trips plus the chunk's own transfer: the link shares its
  // bandwidth among the transfers in flight, so a core's chunks finish
  // together and the next ones all start with a latency. With one latency
  // covered (rngd: 64-88 KiB chunks against 75 KB, two in flight) llama-7b's
  // decode projections streamed at 60-68% of the DRAM's rate; four round
  // trips reach 90% (six: 91%). Elsewhere the deeper stream takes
  // bandwidth from the kernel running beside it (bert-base b1 on rngd:
  // 331 -> 347 us), so it stays at one.
  const double roundTrips = weightBound ? 4.0 : 1.0;
  const unsigned depth = unsigned(std::clamp<double>(
      std::ceil(roundTrips * double(t_.dram.latencyCycles) * perCore / bytes) +
          (weightBound ? 1 : 0),
      2, std::max(2u, t_.dma.outstanding)));
  while (streamInFlight_[core] >= depth) {
    fetch.wait(fetchChain_);
    --streamInFlight_[core];
  }
  if (frees) {
    fetch.wait(fetchFree_, frees);
  }
  fetch.dma(load);
  fetch.signal(fetchFull_);
  fetch.signal(fetchChain_);
  ++streamInFlight_[core];
}

void KernelEmitter::drainWeightStream(unsigned core) {
  if (streamInFlight_[core]) {
    q(core, Engine::Fetch).wait(fetchChain_, streamInFlight_[core]);
    streamInFlight_[core] = 0;
  }
  std::deque<std::pair<uint64_t, uint64_t>> &live = streamLive_[core];
  if (!live.empty()) {
    q(core, Engine::Fetch).wait(fetchFree_, unsigned(live.size()));
    live.clear();
  }
}

bool KernelEmitter::writtenBefore(uint64_t lo, uint64_t hi) const {
  return std::any_of(writes_.begin(), writes_.end(), [&](const auto &w) {
    return lo < w.second && w.first < hi;
  });
}

void KernelEmitter::barrierAll(const Footprint &used) {
  writes_.push_back({used.writeLo, used.writeHi});
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
      {std::max(lo, previous_.highHi), kernelSramBytes(t_)},
      {lo, previous_.highLo}};
  std::pair<uint64_t, uint64_t> best{0, 0};
  for (auto [from, to] : gaps) {
    if (to > from && to - from > best.second) {
      best = {to, to - from};
    }
  }
  return best;
}

uint64_t KernelEmitter::dramIdleBeside(double dramBytes,
                                       uint64_t estimate) const {
  return uint64_t(
      std::max(0.0, double(estimate) - dramBytes / t_.dramBytesPerCycle()));
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

Program KernelEmitter::finish() {
  // Every free the matrix queues signaled is waited for: the semaphores
  // end at zero, as npu-verify-sync checks.
  for (unsigned p = 0; p < t_.cores; ++p) {
    drainWeightStream(p);
  }
  return pb_.finish();
}

//===----------------------------------------------------------------------===//
// DRAM copies (reshape materialization, transposes that keep the last dim)
//===----------------------------------------------------------------------===//

CopyPlan planCopies(const target::Target &t, const std::vector<DmaDesc> &all) {
  CopyPlan plan;
  // Descriptors round-robin over the cores' DMA queues; long flat copies
  // are cut to the 24-bit row length.
  const uint64_t kMaxRow = 1u << 23;
  std::vector<DmaDesc> &parts = plan.parts;
  uint64_t bytes = 0;
  for (const DmaDesc &d : all) {
    bytes += d.planes * d.rows * d.bytes;
    if (d.rows == 1 && d.planes == 1) {
      // One transfer is capped at dma.bytes_per_cycle: cut flat copies so
      // every core's DMA moves a share.
      uint64_t piece =
          std::min(kMaxRow, roundUp(ceilDiv(d.bytes, t.cores), 256));
      for (uint64_t off = 0; off < d.bytes; off += piece) {
        DmaDesc c = d;
        c.src += off;
        c.dst += off;
        c.bytes = std::min(piece, d.bytes - off);
        parts.push_back(c);
      }
    } else if (d.planes >= t.cores) {
      uint64_t per = ceilDiv(d.planes, t.cores);
      for (uint64_t p0 = 0; p0 < d.planes; p0 += per) {
        DmaDesc c = d;
        c.src += p0 * d.srcPStride;
        c.dst += p0 * d.dstPStride;
        c.planes = std::min(per, d.planes - p0);
        parts.push_back(c);
      }
    } else {
      // Few planes: cut rows so every core moves a share.
      uint64_t per = ceilDiv(d.rows, std::max<uint64_t>(1, t.cores / d.planes));
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
  KernelFootprint &used = plan.used;
  used.low = 0;
  used.writeLo = ~0ull;
  used.writeHi = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    DmaDesc &d = parts[i];
    used.writeLo = std::min(used.writeLo, d.dst);
    used.writeHi =
        std::max(used.writeHi, d.dst + (d.planes - 1) * d.dstPStride +
                                   (d.rows - 1) * d.dstStride + d.bytes);
    // A copy between the pools of two cores reads the source as its own
    // SRAM (one descriptor names one peer), so the source's core issues it.
    int issuer = -1;
    d = resolveTagged(d, issuer);
    plan.cores.push_back(issuer >= 0 ? unsigned(issuer)
                                     : unsigned(i % t.cores));
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
    double caps = double(t.cores) * double(t.dma.bytesPerCycle);
    plan.estimate = uint64_t(
        std::max(dram / std::min(caps, t.dramBytesPerCycle()),
                 noc / std::min(caps, std::max(1.0, t.noc.bytesPerCycle))) +
        double(dram > 0 ? t.dram.latencyCycles : t.noc.latencyCycles));
  }
  return plan;
}

void KernelEmitter::copies(const std::vector<DmaDesc> &all) {
  CopyPlan plan = planCopies(t_, all);
  for (size_t i = 0; i < plan.parts.size(); ++i) {
    q(plan.cores[i], Engine::Dma).dma(plan.parts[i]);
  }
  estimate_ = plan.estimate;
  barrierAll(plan.used);
}

} // namespace nuri::npu
